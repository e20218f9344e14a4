"""Reporting of fits: the parameter count behind AIC/BIC, intervals of a spread at the boundary,
the multidimensional iteration count and the summary's notes on comparability."""

import copy
import warnings

import numpy as np
import pytest

import irsl_stats as irsl


def _fit(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(*args, **kw)


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=30, n_questions=25, seed=5)


@pytest.mark.parametrize("method, irt", [("mml", "2pl"), ("mml", "1pl"), ("jml", "2pl")])
def test_n_params_is_public_and_behind_aic_bic(sim, method, irt):
    res = _fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models, method=method,
               irt=irt, n_threads=1)
    n_items, m = res.items.shape[0], res.fit_info.n_models
    per_item = (2 if irt == "2pl" else 1) + 1  # (a,) d, log phi
    if method == "mml":
        # question parameters + 4 coefficients + sigma, less the identification's constraints
        # (2PL: mean and variance of the population; 1PL: its mean)
        expected = n_items * per_item + 4 + 1 - (2 if irt == "2pl" else 1)
    else:
        expected = n_items * per_item + m - (2 if irt == "2pl" else 1)
    assert res.n_params == expected
    assert res.aic == pytest.approx(-2 * res.llf + 2 * res.n_params, rel=1e-12)
    assert res.bic == pytest.approx(-2 * res.llf + np.log(m) * res.n_params, rel=1e-12)
    text = res.summary().as_text()
    assert f"Parameters: {res.n_params:>14,}".replace(" ", "") in text.replace(" ", "")
    assert "Benchmarks:" in text and "Benchmarks: 0" not in text.replace("  ", " ")


def test_spread_at_the_boundary_gets_a_truncated_interval(sim):
    res = _fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models, irt="1pl",
               n_threads=1)
    assert "sigma" in res._log_scale_params()
    tiny = copy.copy(res)
    tiny._params = res.params.copy()
    tiny._params["sigma"] = 3e-5  # against a standard error of ~0.05: at the boundary
    se = float(tiny.bse["sigma"])
    assert se / 3e-5 > 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the log-scale bound overflowed (RuntimeWarning, inf)
        ci = tiny.conf_int()
    q = float((res.conf_int().loc["log(compute)", 1] - res.params["log(compute)"]) / res.bse["log(compute)"])
    lo, hi = ci.loc["sigma"]
    assert lo == 0.0 and hi == pytest.approx(3e-5 + q * se, rel=1e-12)
    # an interior estimate keeps its log-scale interval
    lo, hi = res.conf_int().loc["sigma"]
    s, e = res.params["sigma"], res.bse["sigma"]
    assert lo == pytest.approx(s * np.exp(-q * e / s), rel=1e-12) and hi == pytest.approx(s * np.exp(q * e / s), rel=1e-12)


def test_multidim_results_report_their_iterations():
    sim = irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, seed=1)
    res = _fit("ability ~ log(compute)", data=sim.responses, models=sim.models, benchmark="benchmark",
               ability="per_benchmark", n_threads=1)
    assert isinstance(res.n_iter, int) and res.n_iter > 0
    assert f"Iterations: {res.n_iter}".replace(" ", "") in res.summary().as_text().replace(" ", "")


def test_boundary_policy_note_says_the_likelihood_depends_on_it():
    sim = irsl.simulate.irt(n_models=30, n_questions=20, seed=2)
    y = sim.responses.copy()
    y.loc[y.index[:5], "y"] = 0.0
    res = _fit("ability ~ log(compute)", data=y, models=sim.models, boundary="squeeze", n_threads=1)
    text = " ".join(res.summary().as_text().split())
    assert "depends on the policy" in text
    assert "same family" in irsl.IRSLResults.aic.__doc__ and "same family" in irsl.IRSLResults.bic.__doc__
