"""The vignettes run end to end (issue #7): each is executed as a script, as a user would run it
(``python vignettes/X.py --out DIR``), must exit 0 and write its figures.

``EXPECTED`` maps a vignette to the PNG files it must write; ``None`` means "at least one PNG"
(for a vignette whose figure names are not pinned here yet).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"

#: vignette file -> figures it must write (None: at least one PNG)
EXPECTED: Dict[str, Optional[Tuple[str, ...]]] = {
    "pretraining_scaling.py": (
        "pretraining_items.png",
        "pretraining_scaling.png",
        "pretraining_decision_accuracy.png",
    ),
    "quickstart.py": (),
    "test_time_scaling.py": None,  # figure names pinned by the test-time engineer
    "cross_benchmark.py": ("cross_benchmark_correlation.png", "cross_benchmark_forecast.png"),
}


def run_vignette(name: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)  # the installed package, as a user runs it
    return subprocess.run(
        [sys.executable, str(VIGNETTES / name), "--out", str(out)],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vignette_runs_and_writes_figures(name, tmp_path):
    if not (VIGNETTES / name).exists():
        pytest.skip(f"vignettes/{name} does not exist yet")
    out = tmp_path / "figures"
    proc = run_vignette(name, out)
    assert proc.returncode == 0, f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    assert proc.stdout.strip(), f"{name} printed nothing"
    written = sorted(p.name for p in out.glob("*.png")) if out.exists() else []
    expected = EXPECTED[name]
    if expected is None:
        assert written, f"{name} wrote no PNG figure to --out"
    else:
        missing = sorted(set(expected) - set(written))
        assert not missing, f"{name} did not write {missing} (wrote {written})"
    for png in written:
        data = (out / png).read_bytes()
        assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG image"


def test_every_vignette_is_listed():
    """A new vignette must be added to EXPECTED (so its figures are checked)."""
    present = {p.name for p in VIGNETTES.glob("*.py")}
    unlisted = sorted(present - set(EXPECTED))
    assert not unlisted, f"add {unlisted} to EXPECTED in tests/test_vignettes.py"
