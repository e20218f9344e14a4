"""Score forecasts carry the error of the questions' common discrimination scale.

``predict(what="score")`` maps an ability interval through the estimated questions. Under 2PL the
discriminations share one scale, estimated from the M calibration models (it does not shrink with
more questions): a forecast ``theta`` from the population centre moves every ``eta = a theta + d``
by ``a theta`` times that scale's relative error. Without it the 95% ``ci`` covered 0.957 / 0.940 /
0.917 / 0.900 of the true scores in range / 10x / 100x / 1000x beyond the compute range (300
replicates, 40 models x 60 questions, MML; the auditor's ``e6b_cover.py``).

The reference here is simulation-free: the covariance of ``(beta, sigma)`` given the questions
(captured where the fit hands it to the identification) pushed through the population scale
``s = sqrt(var_i(x_i' beta) + sigma^2)`` by a complex-step derivative, independent of the code
under test.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import irsl_stats as irsl
import irsl_stats.estimate as estimate_module

NEW = pd.DataFrame({"compute": [3e21, 1e24, 1e26], "family": ["fam1"] * 3})
FORMULA = "ability ~ log(compute) + family"


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=60, compute_range=(1e20, 1e23), seed=1001)


def _fit(sim, monkeypatch, **kw):
    """Fit, capturing the internal (beta, sigma) and their covariance given the questions."""
    captured = {}
    original = estimate_module._loc_scale_cov

    def capture(ident, beta, sigma, reg_cov):
        captured.update(x=np.asarray(ident.x, float), beta=np.array(beta, float), sigma=float(sigma),
                        cov=np.array(reg_cov, float))
        return original(ident, beta, sigma, reg_cov)

    monkeypatch.setattr(estimate_module, "_loc_scale_cov", capture)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fit's own notes are not under test here
        res = irsl.fit(FORMULA, data=sim.responses, models=sim.models, n_threads=1, **kw)
    monkeypatch.undo()
    return res, captured


def _population_scale_rel_var(captured) -> float:
    """Var(s) / s^2 of s = sqrt(var(x beta) + sigma^2) by the complex-step delta method."""
    x, beta, sigma, cov = captured["x"], captured["beta"], captured["sigma"], captured["cov"]

    def scale(theta):
        fitted = x @ theta[:-1]
        centred = fitted - fitted.mean()
        return np.sqrt(np.mean(centred * centred) + theta[-1] * theta[-1])  # no abs: analytic

    point = np.r_[beta, sigma].astype(complex)
    h = 1e-30
    grad = np.empty(point.size)
    for i in range(point.size):
        step = point.copy()
        step[i] += 1j * h
        grad[i] = scale(step).imag / h
    s = scale(point).real
    return float(grad @ cov @ grad) / s**2


def _ability_half_width(res, bound, mean):
    """The ability half-width whose score is ``bound`` (the score increases in ability)."""
    t = optimize.brentq(lambda v: res.expected_score(v)[0] - bound, mean - 20.0, mean + 20.0,
                        xtol=1e-13, rtol=1e-14)
    return abs(t - mean)


def _check_score_intervals(res, captured, rtol):
    ability = res.predict(NEW, what="ability")
    score = res.predict(NEW, what="score")
    rel = _population_scale_rel_var(captured)
    assert 1e-4 < rel < 0.05  # a scale estimated from 40 models: a few percent
    mean = ability["mean"].to_numpy()
    se = ability["mean_se"].to_numpy()
    q = ((ability["mean_ci_upper"] - ability["mean"]) / ability["mean_se"]).to_numpy()
    obs_var = ((ability["obs_ci_upper"] - ability["mean"]) / q).to_numpy() ** 2 - se**2  # sigma^2
    # population scale: the reported mean is k theta_pop + m; theta_pop = 0 at the population
    # centre, where the added term vanishes. k = 1 and m = 0 under the default identification
    k, m = res._to_reported
    theta_rep = mean - m
    expected_ci = q * np.sqrt(se**2 + theta_rep**2 * rel)
    expected_pi = q * np.sqrt(se**2 + theta_rep**2 * rel + obs_var * (1.0 + rel))
    got_ci = [_ability_half_width(res, score["ci_upper"].iloc[i], mean[i]) for i in range(len(NEW))]
    got_ci_low = [_ability_half_width(res, score["ci_lower"].iloc[i], mean[i]) for i in range(len(NEW))]
    got_pi = [_ability_half_width(res, score["pi_upper"].iloc[i], mean[i]) for i in range(len(NEW))]
    np.testing.assert_allclose(got_ci, expected_ci, rtol=rtol)
    np.testing.assert_allclose(got_ci_low, expected_ci, rtol=rtol)
    np.testing.assert_allclose(got_pi, expected_pi, rtol=rtol)
    # the ability columns stay relative to the estimated questions (mean_se = sqrt(x' C x))
    x = res.design.transform(NEW)
    c = res.forecast_cov_params().to_numpy()
    np.testing.assert_allclose(se, np.sqrt(np.einsum("ij,jk,ik->i", x, c, x)), rtol=1e-12)
    return score, rel, theta_rep, se


@pytest.mark.parametrize("method", ["mml", "jml"])
def test_score_interval_adds_the_discrimination_scale_far_beyond_the_data(sim, monkeypatch, method):
    res, captured = _fit(sim, monkeypatch, method=method)
    _, rel, theta, se = _check_score_intervals(res, captured, rtol=1e-6)
    # the term grows with the distance from the population centre faster than the law's own
    # error: at 1000x beyond the top of the compute range the ability interval behind the score
    # interval is over 20% wider than the law's alone
    widening = np.sqrt(1.0 + theta**2 * rel / se**2)
    assert np.all(np.diff(widening) > 0)
    assert widening[-1] > 1.2
    # 1PL: a_j = 1 fix the scale, so its score intervals stay the ability intervals mapped
    one, _ = _fit(sim, monkeypatch, method=method, irt="1pl")
    ability = one.predict(NEW, what="ability")
    score = one.predict(NEW, what="score")
    np.testing.assert_allclose(score["ci_upper"], one.expected_score(ability["mean_ci_upper"]), rtol=1e-14)
    np.testing.assert_allclose(score["pi_lower"], one.expected_score(ability["obs_ci_lower"]), rtol=1e-14)


def test_regression_identification_gives_the_same_score_intervals(sim, monkeypatch):
    # the added scale is the population scale whatever the convention: the regression
    # convention's items carry Var(sigma)/sigma^2, to which the slopes' part is added
    pop, captured = _fit(sim, monkeypatch)
    reg, _ = _fit(sim, monkeypatch, identification="regression")
    score_pop, _, _, _ = _check_score_intervals(pop, captured, rtol=1e-6)
    score_reg = reg.predict(NEW, what="score")
    # equal up to the covariance of the coefficients with sigma given the questions (|corr| ~
    # 1e-3 under MML), which the regression convention's reported quantities do not carry
    np.testing.assert_allclose(score_reg.to_numpy(), score_pop.to_numpy(), rtol=2e-5)

