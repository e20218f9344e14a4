"""The installed package reports its version and how its kernel was built."""

import re
from pathlib import Path

import irsl_stats as irsl

ROOT = Path(__file__).resolve().parents[1]


def test_version_matches_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)
    assert irsl.__version__ == declared


def test_build_info_reports_openmp_threads_and_compiler():
    info = irsl.build_info()
    assert set(info) >= {"openmp", "max_threads", "num_procs", "compiler", "build_type"}
    assert isinstance(info["openmp"], bool)
    assert info["max_threads"] >= 1 and info["num_procs"] >= 1
    if not info["openmp"]:
        assert info["max_threads"] == 1
    assert info["build_type"] == "Release"
    assert re.search(r"\d+\.\d+", info["compiler"])


def test_show_build_prints(capsys):
    text = irsl.show_build()
    assert "openmp" in capsys.readouterr().out
    assert irsl.__version__ in text
