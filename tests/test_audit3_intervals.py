"""Audit 3: intervals of the parameters the identification derives from the slopes.

Under ``identification="population"`` the ``sigma`` of a 2PL fit with covariates is
``sqrt(1 - var(x' beta))``, the per-benchmark ``log sd`` of a multidimensional 2PL fit with
covariates ``0.5 log(1 - var(x' B_k))`` and an exploratory ``Sigma = I - cov(XB)``: their
delta-method standard error is proportional to the slopes, so ``params -+ q bse`` collapsed onto
the estimate when the law explains little (sigma's 95% interval covered 0.82 / 0.79 for MML / JML
and could exceed 1). ``conf_int`` now gives the image of the slopes' Wald ellipsoid.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import irsl_stats as irsl
from irsl_stats.derived_interval import image_range, quadratic_form_range, trust_region_min

Z = stats.norm.ppf(0.975)


def _fit(*args, **kw):
    # the intervals here are checked at the normal radius Z (their geometry, not the reference
    # distribution; fit's default use_t=True would use t(df_resid) quantiles)
    kw.setdefault("use_t", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(*args, **kw)


def _weak_sim(seed=301):
    return irsl.simulate.irt(n_models=100, n_questions=60, family="bernoulli", family_effects=(0.0,),
                             beta=(0.0, 0.03), sigma=0.5, seed=seed)


@pytest.fixture(scope="module")
def weak():
    sim = _weak_sim()
    return sim, {m: _fit("ability ~ log(compute)", data=sim.responses, models=sim.models, family="bernoulli",
                         method=m, n_threads=1) for m in ("mml", "jml")}


@pytest.fixture(scope="module")
def strong():
    sim = irsl.simulate.irt(n_models=60, n_questions=40, family="bernoulli", family_effects=(0.0,),
                            beta=(0.0, 0.3), sigma=0.5, seed=1)
    return _fit("ability ~ log(compute)", data=sim.responses, models=sim.models, family="bernoulli",
                n_threads=1)


def _grid_range(b_hat, cov, s, q, n_r=400, n_t=2000):
    """Brute force: b' S b over a polar grid of the ellipsoid (1 or 2 dimensions)."""
    vals, vecs = np.linalg.eigh(cov)
    basis = vecs * np.sqrt(np.maximum(vals, 0))
    if len(b_hat) == 1:
        z = np.linspace(-q, q, 200001)[:, None]
    else:
        r = np.sqrt(np.linspace(0, 1, n_r)) * q
        t = np.linspace(0, 2 * np.pi, n_t, endpoint=False)
        z = np.column_stack([(r[:, None] * np.cos(t)).ravel(), (r[:, None] * np.sin(t)).ravel()])
    b = b_hat + z @ basis.T
    form = np.einsum("ij,jk,ik->i", b, s, b)
    return form.min(), form.max()


# ----------------------------------------------------------------------------- exact solver
@pytest.mark.parametrize("b_hat, cov, s", [
    (np.array([0.4]), np.array([[0.09]]), np.array([[2.0]])),            # slope 0 inside the interval
    (np.array([1.5]), np.array([[0.04]]), np.array([[0.3]])),            # far from 0
    (np.array([0.1, -0.2]), np.array([[0.04, 0.01], [0.01, 0.09]]),     # 0 inside the ellipse
     np.array([[1.0, 0.3], [0.3, 0.5]])),
    (np.array([0.8, 0.5]), np.array([[0.01, -0.004], [-0.004, 0.02]]),  # far from 0
     np.array([[1.0, 0.3], [0.3, 0.5]])),
    (np.array([0.3, 0.3]), np.array([[0.02, 0.0], [0.0, 0.02]]),        # singular S (a null direction)
     np.array([[1.0, -1.0], [-1.0, 1.0]])),
])
def test_quadratic_form_range_matches_brute_force_grid(b_hat, cov, s):
    lo, hi = quadratic_form_range(b_hat, cov, s, Z)
    g_lo, g_hi = _grid_range(b_hat, cov, s, Z)
    assert lo <= g_lo + 1e-10 and hi >= g_hi - 1e-10  # the exact range contains every grid point
    assert lo == pytest.approx(g_lo, abs=2e-5 * max(1.0, g_hi))
    assert hi == pytest.approx(g_hi, rel=1e-5)


def test_trust_region_hard_case_and_interior():
    # hard case: g orthogonal to the eigenvector of the smallest (negative) eigenvalue
    value, z = trust_region_min(np.diag([-1.0, 2.0]), np.array([0.0, 0.5]), 1.0)
    assert np.linalg.norm(z) == pytest.approx(1.0)
    # the minimum over the unit circle of -z1^2 + 2 z2^2 + z2: at z2 = -1/6
    assert value == pytest.approx(-(1 - 1 / 36) + 2 / 36 - 1 / 6)
    # interior Newton point
    value, z = trust_region_min(np.eye(2), np.array([0.1, 0.0]), 1.0)
    assert z == pytest.approx([-0.1, 0.0]) and value == pytest.approx(-0.01)


def test_numerical_image_range_matches_exact_solution():
    b_hat = np.array([0.8, 0.5])
    cov = np.array([[0.01, -0.004], [-0.004, 0.02]])
    s = np.array([[1.0, 0.3], [0.3, 0.5]])
    exact = quadratic_form_range(b_hat, cov, s, Z)
    numeric = image_range(lambda b: float(b @ s @ b), b_hat, cov, Z)
    assert numeric == pytest.approx(exact, rel=1e-7)


def test_nan_covariance_gives_nan():
    assert np.isnan(quadratic_form_range(np.array([0.3]), np.array([[np.nan]]), np.eye(1), Z)).all()
    assert np.isnan(image_range(lambda b: b[0], np.array([0.3]), np.array([[np.nan]]), Z)).all()


# ----------------------------------------------------------------------------- one dimension
@pytest.mark.parametrize("method", ["mml", "jml"])
def test_sigma_interval_contains_one_when_the_slope_interval_contains_zero(weak, method):
    sim, fits = weak
    res = fits[method]
    truth = sim.population_scale_truth()
    ci = res.conf_int(0.05)
    s_lo, s_hi = ci.loc["log(compute)"]
    assert s_lo < 0 < s_hi
    lo, hi = ci.loc["sigma"]
    # the ellipsoid contains slope 0, where sigma = 1: the interval reaches 1 and never beyond
    assert hi == pytest.approx(1.0, abs=1e-12)
    assert lo < res.params["sigma"] < hi
    if method == "mml":
        # the audit's case: params -+ q bse was [0.9835, 1.0123] against the truth 0.9806
        assert lo <= truth["sigma"] <= hi
        assert lo == pytest.approx(0.9590, abs=2e-4)
    # the image of the slope's interval through sigma = sqrt(1 - b^2 var(x))
    v = np.var(np.log(sim.models["compute"]))
    assert lo == pytest.approx(np.sqrt(1 - max(s_lo**2, s_hi**2) * v), rel=1e-9)
    # bse is still the delta method, and the other intervals are params -+ q bse
    assert res.bse["sigma"] == pytest.approx(np.sqrt(res.cov_params().loc["sigma", "sigma"]))
    coefs = ["Intercept", "log(compute)"]
    assert np.allclose(ci.loc[coefs, 0], res.params[coefs] - Z * res.bse[coefs], rtol=1e-12)
    assert np.allclose(ci.loc[coefs, 1], res.params[coefs] + Z * res.bse[coefs], rtol=1e-12)


def test_sigma_interval_is_the_delta_interval_when_the_slope_is_far_from_zero(strong):
    # shrink the covariance 1e4-fold: the slope is ~500 standard errors from 0, where the image
    # of the ellipsoid agrees with the delta-method interval to first order
    res = copy.copy(strong)
    res._cov = strong._cov * 1e-4
    sigma, se = res.params["sigma"], res.bse["sigma"]
    lo, hi = res.conf_int(0.05).loc["sigma"]
    assert res.params["log(compute)"] / res.bse["log(compute)"] > 100
    assert lo == pytest.approx(sigma - Z * se, rel=1e-3)
    assert hi == pytest.approx(sigma + Z * se, rel=1e-3)
    # and the half-widths to ~1e-2 of themselves (second-order terms)
    assert (sigma - lo) == pytest.approx(Z * se, rel=2e-2)
    assert (hi - sigma) == pytest.approx(Z * se, rel=2e-2)
    # at the fit's own covariance: the image of the slope's interval through sqrt(1 - b^2 var(x))
    lo0, hi0 = strong.conf_int(0.05).loc["sigma"]
    s_lo, s_hi = strong.conf_int(0.05).loc["log(compute)"]
    v = np.var(strong.design.matrix[:, 1])
    assert 0 < s_lo < s_hi
    assert lo0 == pytest.approx(np.sqrt(1 - s_hi**2 * v), rel=1e-9)
    assert hi0 == pytest.approx(np.sqrt(1 - s_lo**2 * v), rel=1e-9)


def test_sigma_interval_alpha_and_nan_covariance(strong):
    ci05, ci01 = strong.conf_int(0.05), strong.conf_int(0.01)
    assert ci01.loc["sigma", 0] < ci05.loc["sigma", 0] < strong.params["sigma"]
    assert strong.params["sigma"] < ci05.loc["sigma", 1] < ci01.loc["sigma", 1] <= 1.0
    res = copy.copy(strong)
    res._cov = strong._cov * np.nan
    assert res.conf_int().isna().all().all()


def test_sigma_intervals_not_set_by_the_slopes_are_unchanged():
    sim = irsl.simulate.irt(n_models=40, n_questions=40, family="bernoulli", family_effects=(0.0,),
                            beta=(0.0, 0.3), sigma=0.5, seed=4)
    kw = dict(data=sim.responses, models=sim.models, family="bernoulli", n_threads=1)
    for res in (_fit("ability ~ log(compute)", irt="1pl", **kw),            # sigma free
                _fit("ability ~ log(compute)", identification="regression", **kw),  # sigma = 1
                _fit("ability ~ 1", **kw)):                                  # sigma = 1
        assert not res._sigma_from_slopes()
        assert res._derived_intervals(Z) == {}
        sigma, se = res.params["sigma"], res.bse["sigma"]
        lo, hi = res.conf_int().loc["sigma"]
        if se > 0:
            assert lo == pytest.approx(sigma * np.exp(-Z * se / sigma), rel=1e-12)
            assert hi == pytest.approx(sigma * np.exp(Z * se / sigma), rel=1e-12)
        else:
            assert lo == hi == sigma
        if se > 0:
            assert "The interval of sigma is exp(" in res.summary().as_text()


def test_summary_shows_the_image_interval_and_says_so(weak):
    res = weak[1]["mml"]
    text = res.summary().as_text()
    row = next(line for line in text.splitlines() if line.startswith("sigma "))
    lo, hi = (float(v) for v in row.split()[-2:])
    ci = res.conf_int()
    assert lo == pytest.approx(ci.loc["sigma", 0], abs=1e-3) and hi == pytest.approx(1.0, abs=1e-3)
    assert "Wald confidence ellipsoid" in text
    assert "The interval of sigma is exp(" not in text


# ----------------------------------------------------------------------------- multidimensional
@pytest.fixture(scope="module")
def per_benchmark():
    corr = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.3], [0.3, 0.3, 1.0]])
    g = 0.6
    B = g * corr[:, 0]
    S = corr - g**2 * np.outer(corr[:, 0], corr[:, 0])
    seed = 5020
    sim = irsl.simulate.correlated_benchmarks(n_models=100, questions=30, corr=corr, family="bernoulli", seed=seed)
    x = g * sim.theta.to_numpy()[:, 0] + np.sqrt(1 - g**2) * np.random.default_rng(seed).standard_normal(100)
    models = pd.DataFrame({"model": sim.theta.index, "x": x})
    res = _fit("ability ~ x", data=sim.responses, models=models, benchmark="benchmark",
               ability="per_benchmark", family="bernoulli", n_threads=1)
    scale = np.sqrt(np.var(B[2] * x) + S[2, 2])
    return res, 0.5 * np.log(S[2, 2]) - np.log(scale), models, sim


def test_per_benchmark_log_sd_interval_contains_zero_when_the_slope_interval_does(per_benchmark):
    res, truth, _, _ = per_benchmark
    ci = res.conf_int(0.05)
    s_lo, s_hi = ci.loc["bench3: x"]
    assert s_lo < 0 < s_hi
    lo, hi = ci.loc["log sd(bench3)"]
    # the audit's case: params -+ q bse was [-0.0006, 0.0006] against the truth -0.0163
    assert hi == pytest.approx(0.0, abs=1e-12)
    assert lo <= truth <= hi
    v = np.var(res.design.matrix[:, 1])
    assert lo == pytest.approx(0.5 * np.log(1 - max(s_lo**2, s_hi**2) * v), rel=1e-9)
    # coefficients and correlations keep params -+ q bse
    ordinary = [n for n in res.params.index if not n.startswith("log sd")]
    assert np.allclose(ci.loc[ordinary, 0], res.params[ordinary] - Z * res.bse[ordinary], rtol=1e-12)
    assert np.allclose(ci.loc[ordinary, 1], res.params[ordinary] + Z * res.bse[ordinary], rtol=1e-12)
    assert set(res._slope_derived()) == {"log sd(bench1)", "log sd(bench2)", "log sd(bench3)"}
    text = res.summary().as_text()
    assert "Wald confidence ellipsoid" in text
    row = next(line for line in text.splitlines() if line.startswith("log sd(bench3)"))
    assert float(row.split()[-2]) == pytest.approx(lo, abs=1e-3)


def test_per_benchmark_log_sd_is_the_delta_interval_far_from_zero(per_benchmark):
    res = copy.copy(per_benchmark[0])
    res._cov = per_benchmark[0]._cov * 1e-4
    ci = res.conf_int(0.05)
    for name in ("log sd(bench1)", "log sd(bench2)"):
        value, se = res.params[name], res.bse[name]
        assert ci.loc[name, 0] - value == pytest.approx(-Z * se, rel=2e-2)
        assert ci.loc[name, 1] - value == pytest.approx(Z * se, rel=2e-2)


def test_exploratory_sigma_intervals(per_benchmark):
    _, _, models, sim = per_benchmark
    res = _fit("ability ~ x", data=sim.responses, models=models, dims=2, family="bernoulli", n_threads=1)
    derived = res._slope_derived()
    assert set(derived) == set(res._determined_params()) == {"log sd(dim1)", "log sd(dim2)",
                                                              "atanh corr(dim1, dim2)"}
    ci = res.conf_int(0.05)
    for name in derived:
        assert ci.loc[name, 0] < res.params[name] < ci.loc[name, 1]
    # the correlation's interval by brute force over the joint ellipsoid of the two slopes
    x = res.design.matrix[:, 1]
    v = np.var(x)
    idx = [list(res.params.index).index(n) for n in ("dim1: x", "dim2: x")]
    b_hat = res.params.to_numpy()[idx]
    cov = res.cov_params().to_numpy()[np.ix_(idx, idx)]
    vals, vecs = np.linalg.eigh(cov)
    r = np.sqrt(np.linspace(0, 1, 300)) * Z
    t = np.linspace(0, 2 * np.pi, 1500, endpoint=False)
    z = np.column_stack([(r[:, None] * np.cos(t)).ravel(), (r[:, None] * np.sin(t)).ravel()])
    b = b_hat + z @ (vecs * np.sqrt(vals)).T
    rho = -b[:, 0] * b[:, 1] * v / np.sqrt((1 - b[:, 0] ** 2 * v) * (1 - b[:, 1] ** 2 * v))
    lo, hi = ci.loc["atanh corr(dim1, dim2)"]
    assert lo <= np.arctanh(rho.min()) + 1e-9 and hi >= np.arctanh(rho.max()) - 1e-9
    assert lo == pytest.approx(np.arctanh(rho.min()), abs=1e-4)
    assert hi == pytest.approx(np.arctanh(rho.max()), abs=1e-4)
    # far from the singular point: the delta-method interval to first order
    small = copy.copy(res)
    small._cov = res._cov * 1e-4
    ci_small = small.conf_int(0.05)
    for name in derived:
        value, se = small.params[name], small.bse[name]
        assert ci_small.loc[name, 0] - value == pytest.approx(-Z * se, rel=2e-2)
        assert ci_small.loc[name, 1] - value == pytest.approx(Z * se, rel=2e-2)


@pytest.mark.parametrize("method", ["mml", "jml"])
@pytest.mark.parametrize("seed", range(6))
def test_a_constant_of_the_identification_has_zero_variance_and_no_wald_test(method, seed):
    # under ability ~ 1 the intercept is 0 by convention; its covariance row was rounding
    # (bse 2.9e-17), which the correlation-scale rank of wald_test took for a live direction:
    # "Intercept = 0.5" gave a statistic of 1e32-1e78 and p = 0 in 4 of these 12 fits
    sim = irsl.simulate.irt(n_models=50, n_questions=30, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ 1", sim.responses, method=method, n_threads=1)
    assert res.fixed_params == ["Intercept", "sigma"]
    assert (res.bse[["Intercept", "sigma"]] == 0.0).all()
    assert (res.cov_params().loc[["Intercept", "sigma"]].to_numpy() == 0.0).all()
    with pytest.raises(ValueError, match="constraints have zero variance"):
        res.wald_test("Intercept = 0.5")
