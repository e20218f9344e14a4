"""Audit 2: constants of a multidimensional identification, and weighted fits in the summary."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=60, n_questions=20, benchmarks=2, seed=0)


def _fit(sim, formula, **kw):
    with warnings.catch_warnings():
        # e.g. the boundary (singular) correlation warning of these small fits: not under test
        warnings.simplefilter("ignore")
        return irsl.fit(formula, data=sim.responses, models=sim.models, benchmark="benchmark", **kw)


def _param_rows(res):
    """The text of the summary's parameter table."""
    return res.summary().tables[1].as_text()


def _check_constants(res, expected):
    assert res.fixed_params == expected
    fixed = list(expected)
    # the constants themselves (all 0 here), not their rounding (-6.6e-24 before)
    assert (res.params[fixed] == 0.0).all()
    assert (res.bse[fixed] == 0.0).all()
    assert res.tvalues[fixed].isna().all() and res.pvalues[fixed].isna().all()
    ci = res.conf_int()
    assert (ci.loc[fixed, 0] == res.params[fixed]).all() and (ci.loc[fixed, 1] == res.params[fixed]).all()
    cov = res.cov_params()
    assert (cov.loc[fixed].to_numpy() == 0).all()
    free = [n for n in res.params.index if n not in fixed]
    # a free parameter keeps its standard error (finite and positive here)
    assert np.all(np.isfinite(res.bse[free])) and np.all(res.bse[free] > 0)
    table = _param_rows(res)
    for name in fixed:
        row = next(line for line in table.splitlines() if line.startswith(name + " "))
        assert "(fixed)" in row and "nan" not in row
    text = str(res.summary())
    assert "Fixed by the identification (constants, not estimates" in text


def test_exploratory_intercept_only_reports_constants(sim):
    res = _fit(sim, "ability ~ 1", dims=2)
    _check_constants(res, ["dim1: Intercept", "dim2: Intercept", "log sd(dim1)", "log sd(dim2)",
                           "atanh corr(dim1, dim2)"])
    assert "nan" not in _param_rows(res)


def test_per_benchmark_2pl_intercept_only_reports_constants(sim):
    res = _fit(sim, "ability ~ 1", ability="per_benchmark")
    _check_constants(res, ["bench0: Intercept", "bench1: Intercept", "log sd(bench0)", "log sd(bench1)"])


def test_per_benchmark_1pl_intercept_only_reports_constants(sim):
    res = _fit(sim, "ability ~ 1", ability="per_benchmark", irt="1pl")
    _check_constants(res, ["bench0: Intercept", "bench1: Intercept"])


@pytest.mark.parametrize("kw", [dict(ability="per_benchmark"), dict(ability="per_benchmark", irt="1pl")])
def test_per_benchmark_with_covariates_has_no_constants(sim, kw):
    res = _fit(sim, "ability ~ log(compute)", **kw)
    assert res.fixed_params == []
    assert np.all(np.isfinite(res.bse)) and np.all(res.bse > 0)
    assert "Fixed by the identification" not in str(res.summary())


def test_exploratory_with_covariates_and_norm_prior_holds_sigma_at_identity(sim):
    res = _fit(sim, "ability ~ log(compute)", dims=2, discrimination_prior=1.0)
    _check_constants(res, ["log sd(dim1)", "log sd(dim2)", "atanh corr(dim1, dim2)"])


def test_exploratory_sigma_set_by_the_coefficients_has_their_standard_error(sim):
    # Sigma = I - cov(XB) is set by the coefficients, not a constant; its standard errors were NaN.
    # With one covariate of (biased) variance s2 and slopes b: Sigma = I - s2 b b', so
    # log sd_k = log(1 - s2 b_k^2) / 2 and corr = -s2 b_1 b_2 / (sd_1 sd_2); the delta method
    # through the slopes' covariance gives the reported covariance of these three parameters
    res = _fit(sim, "ability ~ log(compute)", dims=2)
    sig = ["log sd(dim1)", "log sd(dim2)", "atanh corr(dim1, dim2)"]
    slopes = ["dim1: log(compute)", "dim2: log(compute)"]
    assert res.fixed_params == []
    s2 = np.log(sim.models["compute"].to_numpy()).var()
    b = res.params[slopes].to_numpy()
    np.testing.assert_allclose(res.Sigma.to_numpy(), np.eye(2) - s2 * np.outer(b, b), atol=1e-6)

    def sigma_params(b):
        var = 1 - s2 * b**2
        corr = -s2 * b[0] * b[1] / np.sqrt(var[0] * var[1])
        return np.array([0.5 * np.log(var[0]), 0.5 * np.log(var[1]), np.arctanh(corr)])

    h = 1e-6
    jac = np.column_stack([(sigma_params(b + h * e) - sigma_params(b - h * e)) / (2 * h) for e in np.eye(2)])
    implied = jac @ res.cov_params().loc[slopes, slopes].to_numpy() @ jac.T
    np.testing.assert_allclose(res.cov_params().loc[sig, sig].to_numpy(), implied, rtol=1e-3, atol=1e-10)
    assert np.all(np.isfinite(res.bse[sig])) and np.all(res.bse[sig] > 0)
    text = str(res.summary())
    assert "Set by the identification from the coefficients" in text and "delta method" in text
    assert "Fixed by the identification" not in text


def test_one_exploratory_dimension_matches_the_one_dimensional_sigma_se():
    # D = 1 through the multidimensional code: its log sd is the one-dimensional fit's log sigma,
    # whose standard error benchmarks/coverage.py validates; one is the other's delta method
    class ForceMultidim(int):  # dims=1 routes to the one-dimensional fit; this reaches fit_multidim
        def __ne__(self, other):
            return True

        def __eq__(self, other):
            return False

        __hash__ = int.__hash__

    sim = irsl.simulate.irt(n_models=200, n_questions=60, seed=5)
    kw = dict(data=sim.responses, models=sim.models, method="mml", n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = irsl.fit("ability ~ log(compute)", **kw)
        multi = irsl.fit("ability ~ log(compute)", dims=ForceMultidim(1), **kw)
    assert isinstance(multi, irsl.MultidimResults)
    assert np.exp(multi.params["log sd(dim1)"]) == pytest.approx(one.params["sigma"], rel=1e-3)
    assert multi.bse["log sd(dim1)"] == pytest.approx(one.bse["sigma"] / one.params["sigma"], rel=0.02)
    assert multi.bse["dim1: log(compute)"] == pytest.approx(one.bse["log(compute)"], rel=0.02)


def test_weighted_fit_is_marked_in_the_summary():
    sim = irsl.simulate.irt(n_models=40, n_questions=15, seed=1)
    kw = dict(models=sim.models)
    plain = irsl.fit("ability ~ log(compute)", data=sim.responses, **kw)
    weighted = irsl.fit("ability ~ log(compute)", data=sim.responses.assign(w=2.0), weights="w", **kw)
    assert not np.allclose(plain.params, weighted.params)
    text = " ".join(str(weighted.summary()).split())
    assert "Weighted fit by column 'w'" in text
    assert f"weights in [2, 2], sum {2.0 * len(sim.responses):.6g}" in text
    assert "Weighted fit" not in str(plain.summary())


def test_weighted_multidimensional_fit_is_marked_in_the_summary(sim):
    w = np.where(np.arange(len(sim.responses)) % 2 == 0, 0.5, 1.5)
    res = _fit(sim, "ability ~ 1", ability="per_benchmark", irt="1pl")
    wres = irsl.fit("ability ~ 1", data=sim.responses.assign(wt=w), models=sim.models,
                    benchmark="benchmark", ability="per_benchmark", irt="1pl", weights="wt")
    text = " ".join(str(wres.summary()).split())
    assert "Weighted fit by column 'wt'" in text
    assert f"weights in [0.5, 1.5], sum {w.sum():.6g}" in text
    assert "Weighted fit" not in str(res.summary())
