"""Tests for irsl_stats.passk: exactness against rational and mpmath references."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, stats

from irsl_stats.passk import _log_fail_at_k, beta_pass_at_k, pass_at_k, plugin_pass_at_k


def _exact_pass(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


# --------------------------------------------------------------------------- pass_at_k
@pytest.mark.parametrize("direct_max", [0, 256])
def test_pass_at_k_exact_small_n(direct_max: int) -> None:
    # every (n, c, k) with n <= 60, both code paths (term-by-term sum and Stirling form)
    ns, cs, ks, want, fail = [], [], [], [], []
    for n in range(1, 61):
        for c in range(n + 1):
            for k in range(1, n + 1):
                ns.append(n)
                cs.append(c)
                ks.append(k)
                exact = _exact_pass(n, c, k)
                want.append(float(exact))
                fail.append(float(1 - exact))
    n_a, c_a, k_a = (np.array(v) for v in (ns, cs, ks))
    got = pass_at_k(n_a, c_a, k_a)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # forced path: the log ratio itself against exact fractions where n - c >= k
    live = n_a - c_a >= k_a
    logr = _log_fail_at_k(n_a[live], c_a[live], k_a[live], direct_max=direct_max)
    exact = np.array(fail)[live]
    pos = exact > 1e-300
    np.testing.assert_allclose(np.exp(logr[pos]), exact[pos], rtol=1e-12)


@pytest.mark.parametrize("n", [10**5, 10**6, 10**7])
def test_pass_at_k_large_n_against_mpmath(n: int) -> None:
    mp.mp.dps = 40
    cases = [
        (1, 1), (3, 10**3), (1000, 1), (50, 2560), (n // 100, 10), (n // 2, 5), (10, n // 2),
        (n // 1000, 300), (300, n // 1000), (2, n - 2), (n - 1000, 500),
    ]
    for c, k in cases:
        exact_log = mp.log(mp.binomial(n - c, k)) - mp.log(mp.binomial(n, k))
        for direct_max in (0, 256):
            got = _log_fail_at_k(np.array(n), np.array(c), np.array(k), direct_max=direct_max)
            # absolute error of the log = relative error of 1 - pass@k
            assert abs(float(got - exact_log)) < 1e-10, (n, c, k, direct_max)
        want = 1 - mp.exp(exact_log)
        assert abs(pass_at_k(n, c, k) - float(want)) < 1e-13


def test_pass_at_k_edges() -> None:
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c < k
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 5, 5) < 1.0
    assert pass_at_k(1, 1, 1) == 1.0
    assert pass_at_k(10**7, 10**7, 10**7) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3, abs=1e-15)
    assert isinstance(pass_at_k(10, 3, 2), float)
    assert not np.signbit(pass_at_k(5, 0, 1))
    # integral floats are accepted
    assert pass_at_k(10.0, 3.0, 1.0) == pytest.approx(0.3)


def test_pass_at_k_broadcasting() -> None:
    n = np.array([[100], [200]])
    c = np.array([0, 10, 50])
    k = 5
    got = pass_at_k(n, c, k)
    assert got.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert got[i, j] == pytest.approx(float(_exact_pass(int(n[i, 0]), int(c[j]), k)), abs=1e-14)
    curves = pass_at_k(2560, np.array([0, 1, 7])[:, None], np.arange(1, 2561)[None, :])
    assert curves.shape == (3, 2560)
    assert np.all(np.diff(curves[1:], axis=1) >= 0)
    assert curves[2, -1] == 1.0


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((10, 3, 0), "`k`"),
        ((10, 3, 11), "`k`"),
        ((10, -1, 1), "`c`"),
        ((10, 11, 1), "`c`"),
        ((0, 0, 1), "`n`"),
        ((10.5, 3, 1), "`n`"),
        ((10, 3.2, 1), "`c`"),
        ((10, np.nan, 1), "`c`"),
        ((10, 3, "a"), "`k`"),
        ((10, True, 1), "`c`"),
    ],
)
def test_pass_at_k_errors(args: tuple, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        pass_at_k(*args)


def test_pass_at_k_shape_error() -> None:
    with pytest.raises(ValueError, match="broadcast"):
        pass_at_k(np.array([10, 10]), np.array([1, 2, 3]), 1)


# ---------------------------------------------------------------------- beta_pass_at_k
def _mp_beta_pass(mu: float, phi: float, k: float) -> mp.mpf:
    a = mp.mpf(mu) * phi
    b = (1 - mp.mpf(mu)) * phi
    return 1 - mp.exp(mp.loggamma(b + k) - mp.loggamma(b) - mp.loggamma(a + b + k) + mp.loggamma(a + b))


@pytest.mark.parametrize(
    ("mu", "phi"), [(0.5, 10.0), (0.05, 2.0), (0.9, 0.5), (0.01, 1000.0), (0.3, 1e6), (1e-4, 3.0)]
)
def test_beta_pass_at_k_against_mpmath(mu: float, phi: float) -> None:
    mp.mp.dps = 40
    ks = np.array([1, 2, 7, 100, 256, 257, 1000, 2560, 10**5, 10**6, 10**9, 12.5])
    got = beta_pass_at_k(mu, phi, ks)
    for g, k in zip(got, ks):
        want = _mp_beta_pass(mu, phi, float(k))
        assert abs(g - float(want)) < 1e-13, (mu, phi, k)
        fail = 1 - want
        if fail > 1e-200:
            assert abs((1 - g) / float(fail) - 1) < 1e-9 or abs(g - float(want)) < 1e-15


@pytest.mark.parametrize(("mu", "phi", "k"), [(0.3, 5.0, 10), (0.6, 20.0, 3), (0.2, 4.0, 50)])
def test_beta_pass_at_k_against_quadrature(mu: float, phi: float, k: int) -> None:
    a, b = mu * phi, (1 - mu) * phi
    want, _ = integrate.quad(lambda p: (1 - (1 - p) ** k) * stats.beta.pdf(p, a, b), 0, 1, epsabs=1e-13)
    assert beta_pass_at_k(mu, phi, k) == pytest.approx(want, abs=1e-9)


def test_beta_pass_at_k_limits_and_shapes() -> None:
    mu = np.array([0.01, 0.2, 0.7])[:, None]
    ks = np.array([1, 10, 1000])[None, :]
    assert beta_pass_at_k(mu, 10.0, ks).shape == (3, 3)
    np.testing.assert_allclose(beta_pass_at_k(mu, 10.0, 1), mu, rtol=1e-14)
    # phi -> inf tends to the plug-in
    np.testing.assert_allclose(beta_pass_at_k(mu, 1e12, ks), plugin_pass_at_k(mu, ks), rtol=1e-8)
    np.testing.assert_array_equal(beta_pass_at_k(mu, np.inf, ks), plugin_pass_at_k(mu, ks))
    # the Beta expectation lies below the plug-in (Jensen) and rises with k
    beta_v = beta_pass_at_k(0.05, 1.0, np.arange(1, 3000))
    assert np.all(np.diff(beta_v) > 0)
    assert np.all(beta_v[1:] < plugin_pass_at_k(0.05, np.arange(2, 3000)))
    # power-law tail: log(1 - pass) vs log k has slope -alpha for large k
    k_big = np.array([1e6, 1e7])
    fail = 1 - beta_pass_at_k(0.05, 1.0, k_big)
    slope = np.diff(np.log(fail)) / np.diff(np.log(k_big))
    assert slope[0] == pytest.approx(-0.05, rel=1e-4)


@pytest.mark.parametrize(
    ("args", "name"),
    [((0.0, 1.0, 1), "`mu`"), ((1.0, 1.0, 1), "`mu`"), ((0.5, 0.0, 1), "`phi`"),
     ((0.5, 1.0, 0), "`k`"), ((np.nan, 1.0, 1), "`mu`"), ((0.5, 1.0, np.inf), "`k`")],
)
def test_beta_pass_at_k_errors(args: tuple, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        beta_pass_at_k(*args)


# -------------------------------------------------------------------- plugin_pass_at_k
def test_plugin_pass_at_k() -> None:
    assert plugin_pass_at_k(0.5, 2) == pytest.approx(0.75)
    assert plugin_pass_at_k(0.0, 10) == 0.0
    assert plugin_pass_at_k(1.0, 3) == 1.0
    assert plugin_pass_at_k(1e-12, 1) == pytest.approx(1e-12, rel=1e-12)
    assert plugin_pass_at_k(np.array([0.1, 0.2]), np.array([[1], [2]])).shape == (2, 2)
    with pytest.raises(ValueError, match="`mu`"):
        plugin_pass_at_k(1.5, 1)
    with pytest.raises(ValueError, match="`k`"):
        plugin_pass_at_k(0.5, -1)


def test_unbiased_estimator_mean_equals_plugin() -> None:
    # E[pass_at_k(n, C, k)] with C ~ Binomial(n, p) equals 1 - (1-p)^k exactly
    n, p = 40, 0.07
    c = np.arange(n + 1)
    weights = stats.binom.pmf(c, n, p)
    for k in (1, 5, 40):
        assert np.sum(weights * pass_at_k(n, c, k)) == pytest.approx(plugin_pass_at_k(p, k), abs=1e-12)


# ----------------------------------------------------------------------------- grids (questions x budgets)
def test_pass_at_k_grid_matches_the_elementwise_estimator():
    from irsl_stats.passk import pass_at_k_grid

    rng = np.random.default_rng(4)
    n = np.r_[np.full(30, 10_000), rng.integers(300, 2_000, 30)]
    c = np.r_[np.zeros(5, int), np.full(3, 10_000), rng.integers(0, 6, 7), rng.integers(0, 10_000, 15),
              rng.integers(0, 300, 30)]
    dense = np.arange(1, 301)
    np.testing.assert_allclose(pass_at_k_grid(n, c, dense), pass_at_k(n[:, None], c[:, None], dense[None, :]),
                               rtol=1e-12, atol=1e-15)
    sparse = np.array([1, 7, 250, 299])  # max k > 8 K: falls back to the elementwise estimator
    np.testing.assert_array_equal(pass_at_k_grid(n, c, sparse), pass_at_k(n[:, None], c[:, None], sparse[None, :]))
    big = pass_at_k_grid(np.full(4, 10_000), [0, 1, 9_000, 10_000], np.arange(1, 10_001))
    assert big.shape == (4, 10_000) and np.isfinite(big).all()
    assert (big[0] == 0).all() and (big[3] == 1).all() and big[2, 1_000:].min() == 1.0
    np.testing.assert_allclose(big[1], np.arange(1, 10_001) / 10_000, rtol=1e-12)  # one correct: k/n


def test_pass_at_k_grid_errors():
    from irsl_stats.passk import pass_at_k_grid

    with pytest.raises(ValueError, match="ks"):
        pass_at_k_grid([10], [1], [11])
    with pytest.raises(ValueError, match="`c`"):
        pass_at_k_grid([10], [11], [1])
    with pytest.raises(ValueError, match="same shape"):
        pass_at_k_grid([10, 10], [1], [1])
    with pytest.raises(ValueError, match="ks"):
        pass_at_k_grid([10], [1], [1.5])


def test_beta_pass_at_k_grid_matches_the_elementwise_expectation():
    from irsl_stats.passk import beta_pass_at_k_grid

    rng = np.random.default_rng(5)
    mu = np.r_[1e-12, 1e-6, rng.uniform(0.001, 0.999, 40), 1 - 1e-9]
    phi = np.exp(rng.normal(0, 3, mu.size))
    phi[:3] = [0.05, 1e4, 1e9]
    dense = np.arange(1, 3_001)
    grid = beta_pass_at_k_grid(mu, phi, dense)
    ref = beta_pass_at_k(mu[:, None], phi[:, None], dense[None, :])
    np.testing.assert_allclose(grid, ref, rtol=1e-10, atol=1e-15)
    # the failure probability 1 - pass@k too (the power-law tail), relative
    np.testing.assert_allclose(1 - grid[ref < 0.5], 1 - ref[ref < 0.5], rtol=1e-10)
    sparse = np.array([1, 2.5, 10, 300, 1e5, 1e6])  # sparse and non-integer: Stirling path
    np.testing.assert_allclose(beta_pass_at_k_grid(mu, phi, sparse),
                               beta_pass_at_k(mu[:, None], phi[:, None], sparse[None, :]), rtol=1e-12, atol=1e-15)
    # phi = inf is the plug-in; a scalar phi broadcasts
    np.testing.assert_allclose(beta_pass_at_k_grid(mu, np.inf, dense[:50]),
                               plugin_pass_at_k(mu[:, None], dense[None, :50]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(beta_pass_at_k_grid(mu, 2.0, [1, 10]),
                               beta_pass_at_k(mu[:, None], 2.0, np.array([1, 10])), rtol=1e-12)


def test_beta_pass_at_k_grid_blocks_and_errors(monkeypatch):
    from irsl_stats import passk

    mu = np.linspace(0.01, 0.9, 37)
    whole = passk.beta_pass_at_k_grid(mu, 3.0, np.arange(1, 501))
    monkeypatch.setattr(passk, "_GRID_BLOCK", 1_000)  # several row blocks
    np.testing.assert_array_equal(passk.beta_pass_at_k_grid(mu, 3.0, np.arange(1, 501)), whole)
    with pytest.raises(ValueError, match="mu"):
        passk.beta_pass_at_k_grid([0.0, 0.5], 1.0, [1])
    with pytest.raises(ValueError, match="phi"):
        passk.beta_pass_at_k_grid([0.5, 0.5], [1.0, 2.0, 3.0], [1])
    with pytest.raises(ValueError, match="ks"):
        passk.beta_pass_at_k_grid([0.5], 1.0, [0])
    with pytest.raises(ValueError, match="mu"):
        passk.beta_pass_at_k_grid([[0.5]], 1.0, [1])
