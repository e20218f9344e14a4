"""The README's Python examples run as written (they are the first code a user copies)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list:
    """The ```python fenced blocks of README.md, in order."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_readme_has_python_examples():
    assert README.exists(), "README.md is missing"
    assert python_blocks(), "README.md has no ```python example to check"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks()) if README.exists() else 0))
def test_readme_python_example_runs(index):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "readme_example"}
    try:
        exec(compile(python_blocks()[index], f"README.md python block {index}", "exec"), namespace)
    finally:
        plt.close("all")
