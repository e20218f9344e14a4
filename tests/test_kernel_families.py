"""Per-observation family derivatives of the C++ kernel (``_kernel.obs_derivatives``).

* finite differences: l_e and l_s against the log-density, l_ee / l_es against l_e and l_ss
  against l_s, with a 5-point central stencil (truncation O(h^4)) and a tolerance of
  rtol = 5e-6 plus the round-off bound of the stencil;
* extreme linear predictors (|eta| up to 30), tiny and huge precision (1e-2 .. 1e4), counts with
  k = 0 and k = n and n up to 1e7;
* the NumPy/SciPy reference (tests/_numpy_kernel.py) at 1e-10 relative;
* beta expected information = the expectation of the observed one (Gauss-Jacobi quadrature).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import _numpy_kernel as ref
from irsl_stats import _kernel

EPS = np.finfo(float).eps
ETAS = np.array([-30.0, -8.0, -1.3, 0.0, 0.4, 2.5, 12.0, 30.0])
PHIS = np.array([1e-2, 0.3, 1.0, 10.0, 300.0, 1e4])


def make_points(family: str) -> dict:
    """Cartesian grid of (eta, log_phi, response) cases for one family."""
    rng = np.random.default_rng(123)
    rows = []
    if family == "beta":
        ys = [1e-6, 0.03, 0.5, 0.81, 1 - 1e-6]
        for eta, phi, y in itertools.product(ETAS, PHIS, ys):
            rows.append((eta, np.log(phi), y, np.nan))
    elif family == "bernoulli":
        for eta, y in itertools.product(ETAS, [0.0, 1.0]):
            rows.append((eta, 0.0, y, np.nan))
    else:
        ns = [1.0, 2.0, 7.0, 50.0, 3000.0, 1e7]
        for eta, phi, n in itertools.product(ETAS, PHIS if family == "beta_binomial" else [1.0], ns):
            for k in sorted({0.0, n, np.floor(n * rng.uniform()), min(n, 1.0), max(0.0, n - 3)}):
                rows.append((eta, np.log(phi), k, n))
    arr = np.array(rows)
    out = {"eta": arr[:, 0], "log_phi": arr[:, 1], "y": arr[:, 2]}
    out["trials"] = arr[:, 3] if family in ("binomial", "beta_binomial") else None
    return out


def kernel_data(family: str, pts: dict) -> _kernel.KernelData:
    n = pts["y"].size
    return _kernel.KernelData(
        np.zeros(n, np.int32), np.zeros(n, np.int32), pts["y"], n_models=1, n_items=1,
        family=family, trials=pts["trials"],
    )


def derivs(data, eta, log_phi, information="observed"):
    return _kernel.obs_derivatives(data, eta, log_phi, information=information)


def stencil(f, x, h):
    """5-point central difference of f (returning a tuple of arrays) and its round-off bound."""
    vals = [f(x + c * h) for c in (-2.0, -1.0, 1.0, 2.0)]

    def combine(k):
        fm2, fm1, fp1, fp2 = (v[k] for v in vals)
        d = (fm2 - 8 * fm1 + 8 * fp1 - fp2) / (12 * h)
        scale = np.max(np.abs([fm2, fm1, fp1, fp2]), axis=0)
        return d, scale

    return combine


def check(fd_and_scale, analytic, magnitude, h, what):
    fd, scale = fd_and_scale
    # round-off of the stencil: ~18 eps * |f| / (12 h), with |f| the larger of the function
    # values and of the magnitude of the terms that cancel inside them
    atol = 200 * EPS * np.maximum(scale, magnitude) / h
    err = np.abs(fd - analytic)
    bad = err > 5e-6 * np.abs(analytic) + atol
    assert not bad.any(), f"{what}: {np.sum(bad)} failures, worst at {np.argmax(err - atol)}"


FAMILIES = ["beta", "bernoulli", "binomial", "beta_binomial"]


def term_magnitude(family, pts):
    """Size of the terms that cancel inside l (round-off scale of the log-density)."""
    phi = np.exp(pts["log_phi"])
    if family in ("binomial", "beta_binomial"):
        n = pts["trials"]
        return (n + phi) * np.log(n + phi + 2.0) + 30 * n
    if family == "beta":
        return (1 + phi) * (30.0 + np.abs(pts["log_phi"]))
    return 30.0 + np.abs(pts["eta"])


@pytest.mark.parametrize("family", FAMILIES)
def test_first_derivatives_finite_differences(family: str) -> None:
    pts = make_points(family)
    data = kernel_data(family, pts)
    eta, lp = pts["eta"], pts["log_phi"]
    l, le, ls, _, _, _ = derivs(data, eta, lp)
    mag = term_magnitude(family, pts)
    h = 1e-3
    check(stencil(lambda e: derivs(data, e, lp), eta, h)(0), le, mag, h, "l_e")
    if family in ("beta", "beta_binomial"):
        check(stencil(lambda s: derivs(data, eta, s), lp, h)(0), ls, mag, h, "l_s")
    else:
        assert np.all(ls == 0.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_second_derivatives_finite_differences(family: str) -> None:
    pts = make_points(family)
    data = kernel_data(family, pts)
    eta, lp = pts["eta"], pts["log_phi"]
    _, le, ls, lee, les, lss = derivs(data, eta, lp)
    h = 1e-3
    # the first derivatives are differences of digammas scaled by phi: round-off scale
    # ~ phi (1 + |log phi|) besides their own magnitude
    phi = np.exp(lp) if family in ("beta", "beta_binomial") else 0.0
    mag = 10 * (1.0 + np.abs(le) + np.abs(ls) + phi * (2.0 + np.abs(lp)))
    in_eta = stencil(lambda e: derivs(data, e, lp), eta, h)
    check(in_eta(1), lee, mag, h, "l_ee")
    if family in ("beta", "beta_binomial"):
        in_s = stencil(lambda s: derivs(data, eta, s), lp, h)
        check(in_s(1), les, mag, h, "l_es")
        check(in_s(2), lss, mag, h, "l_ss")
        check(in_eta(2), les, mag, h, "l_es (symmetry)")
    else:
        assert np.all(les == 0.0) and np.all(lss == 0.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_matches_numpy_reference(family: str) -> None:
    pts = make_points(family)
    # moderate region where SciPy's generic polygamma is itself accurate to ~1e-13
    keep = (np.abs(pts["eta"]) <= 12) & (pts["log_phi"] <= np.log(300.0))
    if pts["trials"] is not None:
        keep &= pts["trials"] <= 3000
    pts = {k: (None if v is None else v[keep]) for k, v in pts.items()}
    data = kernel_data(family, pts)
    got = derivs(data, pts["eta"], pts["log_phi"])
    want = ref.family_derivs(family, pts["y"], pts["eta"], pts["log_phi"], pts["trials"])
    names = ["l", "l_e", "l_s", "l_ee", "l_es", "l_ss"]
    # SciPy's log-density subtracts gammaln values of size ~ term_magnitude: allow that round-off
    atol_l = 1e-14 * term_magnitude(family, pts)
    for name, g, w in zip(names, got, want):
        atol = atol_l if name == "l" else 1e-12 * np.max(np.abs(w))
        assert np.all(np.abs(g - w) <= 1e-10 * np.abs(w) + atol), name


def test_counts_exact_at_boundaries() -> None:
    """k = 0 and k = n: the beta-binomial log-density equals its closed form exactly."""
    n = np.array([1.0, 5.0, 1e3, 1e7, 1e7])
    k = np.array([0.0, 5.0, 0.0, 1e7, 0.0])
    eta = np.array([0.3, -2.0, 1.0, 4.0, -30.0])
    lp = np.log(np.array([2.0, 0.5, 40.0, 1e4, 1e-2]))
    pts = {"y": k, "trials": n, "eta": eta, "log_phi": lp}
    data = kernel_data("beta_binomial", pts)
    l = derivs(data, eta, lp)[0]
    # closed forms: log B(k + a, n - k + b) - log B(a, b) with one argument of each pair equal
    from scipy.special import expit, gammaln

    phi = np.exp(lp)
    a, b = expit(eta) * phi, expit(-eta) * phi
    # k = 0: log Gamma(b + n) Gamma(phi) / (Gamma(b) Gamma(phi + n)) = sum_i log((b+i)/(phi+i))
    for t in range(len(n)):
        m = int(min(n[t], 2000))
        x = b[t] if k[t] == 0 else a[t]
        if n[t] <= 2000:
            want = np.sum(np.log((x + np.arange(m)) / (phi[t] + np.arange(m))))
            assert abs(l[t] - want) <= 1e-12 * max(1.0, abs(want))
        else:
            want = gammaln(x + n[t]) - gammaln(x) - gammaln(phi[t] + n[t]) + gammaln(phi[t])
            assert abs(l[t] - want) <= 1e-12 * max(1.0, abs(gammaln(phi[t] + n[t])))
    assert np.all(np.isfinite(derivs(data, eta, lp)))


def test_binomial_bernoulli_agree() -> None:
    eta = ETAS
    y = (np.arange(eta.size) % 2).astype(float)
    db = kernel_data("bernoulli", {"y": y, "trials": None})
    dn = kernel_data("binomial", {"y": y, "trials": np.ones_like(y)})
    for a, b in zip(derivs(db, eta, None), derivs(dn, eta, None)):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=0)


@pytest.mark.parametrize("eta,phi", [(0.0, 2.0), (1.5, 10.0), (-2.0, 40.0), (0.7, 0.3), (-0.4, 250.0)])
def test_beta_expected_information_is_expectation_of_observed(eta: float, phi: float) -> None:
    """E_y[observed derivatives] = expected ones (and E[score] = 0), y ~ Beta(mu phi, (1-mu) phi).

    The beta log-density is affine in (log y, log(1 - y)) for fixed parameters, hence so is every
    observed derivative: f(y) = c0 + c1 log y + c2 log(1 - y). We identify (c0, c1, c2) from three
    kernel evaluations and take the exact expectation with E log y = psi(a) - psi(phi),
    E log(1 - y) = psi(b) - psi(phi) (SciPy's digamma).
    """
    from scipy.special import psi

    mu = 1.0 / (1.0 + np.exp(-eta))
    a, b = mu * phi, (1 - mu) * phi
    ys = np.array([0.2, 0.5, 0.9, 0.35])
    data = kernel_data("beta", {"y": ys, "trials": None})
    n = ys.size
    obs = derivs(data, np.full(n, eta), np.full(n, np.log(phi)), "observed")
    exp = derivs(data, np.full(n, eta), np.full(n, np.log(phi)), "expected")
    design = np.column_stack([np.ones(n), np.log(ys), np.log1p(-ys)])
    e_design = np.array([1.0, psi(a) - psi(phi), psi(b) - psi(phi)])
    for k, name in [(1, "l_e"), (2, "l_s"), (3, "l_ee"), (4, "l_es"), (5, "l_ss")]:
        coef = np.linalg.solve(design[:3], obs[k][:3])
        np.testing.assert_allclose(design[3] @ coef, obs[k][3], rtol=1e-9, err_msg="affine")
        mean_obs = e_design @ coef
        scale = 1e-10 * (1.0 + np.max(np.abs(obs[k])))
        if k <= 2:  # scores have mean zero
            assert abs(mean_obs) <= scale, name
            continue
        assert np.all(exp[k] == exp[k][0])  # does not depend on y
        np.testing.assert_allclose(mean_obs, exp[k][0], rtol=1e-9, atol=scale, err_msg=name)


def test_expected_information_not_available_for_beta_binomial() -> None:
    pts = {"y": np.array([1.0]), "trials": np.array([3.0])}
    data = kernel_data("beta_binomial", pts)
    with pytest.raises(ValueError, match="expected"):
        derivs(data, np.zeros(1), np.zeros(1), "expected")


def test_expected_response() -> None:
    eta = np.array([-1.0, 0.0, 2.0])
    mu = 1 / (1 + np.exp(-eta))
    np.testing.assert_allclose(_kernel.expected_response("beta", eta), mu)
    np.testing.assert_allclose(_kernel.expected_response("binomial", eta, trials=[2, 3, 4]), mu * [2, 3, 4])
    with pytest.raises(ValueError, match="trials"):
        _kernel.expected_response("beta_binomial", eta)
