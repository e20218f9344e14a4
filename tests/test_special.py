"""Accuracy of the kernel's special functions (cpp/special.hpp) against SciPy and mpmath.

Requirement: lgamma, digamma and trigamma accurate to 1e-12 relative to SciPy for x in
[1e-8, 1e8]. Near the zeros of lgamma (x = 1, 2) SciPy's own ``gammaln`` has only ~1e-16
*absolute* accuracy (Cephes' lgam subtracts two O(1) terms), so there we require absolute error
<= 1e-14 against SciPy and 1e-13 relative against mpmath at 50 digits. Near the root of digamma
we compare relative to mpmath as well. ``*_fused`` are the shared-recurrence evaluations that the
family code uses.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special as sc

from irsl_stats import _core

DIGAMMA_ROOT = 1.4616321449683623


def grid() -> np.ndarray:
    log_grid = np.logspace(-8, 8, 3001)
    dense = np.linspace(0.05, 25.0, 4001)  # recurrence / window / asymptotic boundaries
    return np.unique(np.concatenate([log_grid, dense, [9.999999999, 10.0, 10.000000001]]))


def rel_err(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(x - ref) / np.abs(ref)


def near(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.abs(x - centre) <= width


@pytest.mark.parametrize("suffix", ["", "_fused"])
def test_lgamma_relative_accuracy(suffix: str) -> None:
    x = grid()
    x = x[~(near(x, 1.0, 0.3) | near(x, 2.0, 0.3))]
    got = _core.special("lgamma" + suffix, x)
    assert np.max(rel_err(got, sc.gammaln(x))) <= 1e-12


@pytest.mark.parametrize("suffix", ["", "_fused"])
def test_lgamma_near_zeros(suffix: str) -> None:
    offsets = np.concatenate([-np.logspace(-15, np.log10(0.3), 200), np.logspace(-15, np.log10(0.3), 200)])
    x = np.concatenate([1.0 + offsets, 2.0 + offsets, [1.0, 2.0]])
    got = _core.special("lgamma" + suffix, x)
    assert np.max(np.abs(got - sc.gammaln(x))) <= 1e-14
    assert got[-2] == 0.0 and got[-1] == 0.0


def test_lgamma_near_zeros_relative_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = np.concatenate([1.0 + np.array([-0.2, -0.05, -1e-3, -1e-9, 1e-12, 1e-6, 0.07, 0.2]),
                        2.0 + np.array([-0.2, -0.09, -1e-4, -1e-10, 1e-13, 1e-5, 0.1, 0.25])])
    ref = np.array([float(mpmath.loggamma(mpmath.mpf(v))) for v in x])
    for suffix in ("", "_fused"):
        assert np.max(rel_err(_core.special("lgamma" + suffix, x), ref)) <= 1e-13


@pytest.mark.parametrize("suffix", ["", "_fused"])
def test_digamma_relative_accuracy(suffix: str) -> None:
    x = grid()
    x = x[~near(x, DIGAMMA_ROOT, 0.2)]
    got = _core.special("digamma" + suffix, x)
    assert np.max(rel_err(got, sc.psi(x))) <= 1e-12


def test_digamma_near_root_relative_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    offsets = np.array([-0.2, -0.1, -0.099, -1e-3, -1e-8, -1e-14, 1e-15, 1e-11, 1e-6, 0.01, 0.1,
                        0.1001, 0.2])
    x = DIGAMMA_ROOT + offsets
    ref = np.array([float(mpmath.digamma(mpmath.mpf(v))) for v in x])
    for suffix in ("", "_fused"):
        got = _core.special("digamma" + suffix, x)
        assert np.max(rel_err(got, ref)) <= 1e-12
        # and against SciPy where SciPy itself is relatively accurate
        assert np.max(rel_err(got, sc.psi(x))[np.abs(offsets) > 1e-3]) <= 1e-12


@pytest.mark.parametrize("suffix", ["", "_fused"])
def test_trigamma_relative_accuracy(suffix: str) -> None:
    x = grid()
    got = _core.special("trigamma" + suffix, x)
    assert np.max(rel_err(got, sc.polygamma(1, x))) <= 1e-12


def test_log1pexp() -> None:
    x = np.concatenate([np.logspace(-10, 2.8, 500), [36.0, 37.0, 40.0, 700.0]])
    ref = np.logaddexp(0.0, x)
    assert np.max(rel_err(_core.special("log1pexp", x), ref)) <= 1e-15


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_special_rejects_non_positive(bad: float) -> None:
    with pytest.raises(ValueError, match=r"x\[1\]"):
        _core.special("lgamma", np.array([1.0, bad]))


def test_special_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="name"):
        _core.special("gamma", np.array([1.0]))
