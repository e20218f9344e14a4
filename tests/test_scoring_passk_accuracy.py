"""Accuracy of EAP scoring with very sharp questions, and of the Beta pass@k at tiny precision.

EAP: a model that answers every very sharp question (a >= 6) right has a posterior with a step
far from the Gauss–Hermite centre (mode and Laplace scale); the single adaptive rule was off by
1e-4 to 3e-2 in theta and SD. References are the posterior mean and SD by dense adaptive
integration (``scipy.integrate.quad``, log-posterior shifted by its maximum), with log-densities
from ``scipy.stats`` (independent of the kernel).

pass@k: ``beta_pass_at_k`` at ``phi`` near the smallest double returned 0 instead of ``mu``,
NaN-producing warnings, or overflow warnings; references are 80-digit ``mpmath`` and the exact
``phi -> 0`` limit ``mu``.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import irsl_stats as irsl
from irsl_stats import _kernel, scoring
from irsl_stats.data import ResponseData
from irsl_stats.passk import beta_pass_at_k, beta_pass_at_k_grid

# ------------------------------------------------------------------------------------ EAP


def _log_lik(t, family, a, d, y, phi=None, n=None):
    eta = a * t + d
    lp, lq = special.log_expit(eta), special.log_expit(-eta)
    if family == "bernoulli":
        return float(np.sum(np.where(y > 0, lp, lq)))
    if family == "binomial":
        return float(np.sum(stats.binom.logpmf(y, n, special.expit(eta))))
    # 1 - mu as expit(-eta): it does not round to 0 where mu rounds to 1
    alpha, beta = special.expit(eta) * phi, special.expit(-eta) * phi
    if family == "beta":
        return float(np.sum(stats.beta.logpdf(y, alpha, beta)))
    return float(np.sum(stats.betabinom.logpmf(y, n, alpha, beta)))


def _exact_posterior(family, a, d, y, phi=None, n=None, mean=0.0, sd=1.0):
    """Posterior mean and SD by adaptive quadrature, split at every question's step."""
    def logpost(t):
        return _log_lik(t, family, a, d, y, phi, n) - 0.5 * ((t - mean) / sd) ** 2

    grid = np.linspace(mean - 12 * sd, mean + 12 * sd, 24001)
    vals = np.array([logpost(t) for t in grid])
    top = int(np.argmax(vals))
    centre, peak = grid[top], vals[top]
    keep = vals > peak - 80  # the posterior is negligible (< e^-80) elsewhere
    lo, hi = grid[keep][0] - 0.01, grid[keep][-1] + 0.01
    breaks = sorted({float(b) for b in (-d / a) if lo < b < hi} | {float(centre)})

    def moment(p):
        total = 0.0
        edges = [lo, *breaks, hi]
        for x0, x1 in zip(edges[:-1], edges[1:]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                total += integrate.quad(lambda t: (t - centre) ** p * np.exp(logpost(t) - peak), x0, x1,
                                        epsabs=1e-15, epsrel=1e-12, limit=200)[0]
        return total

    z0, z1, z2 = moment(0), moment(1), moment(2)
    m1 = z1 / z0
    return centre + m1, np.sqrt(z2 / z0 - m1 * m1)


def _score(family, a, d, y, phi=None, n=None, population=(0.0, 1.0), **kw):
    q = [f"q{j}" for j in range(len(a))]
    items = pd.DataFrame({"a": a, "d": d}, index=q)
    if phi is not None:
        items["phi"] = phi
    bank = irsl.ItemBank(items, family=family, population=population)
    frame = pd.DataFrame({"model": "m", "question": q})
    if family in ("binomial", "beta_binomial"):
        frame["k"], frame["n"] = y, n
        est = bank.score(frame, method="eap", successes="k", trials="n", n_threads=1, **kw)
    else:
        frame["y"] = y
        est = bank.score(frame, method="eap", n_threads=1, **kw)
    return float(est["theta"].iloc[0]), float(est["se"].iloc[0])


def _sharp(a0, n_questions, lo=-1.5, hi=1.5):
    b = np.linspace(lo, hi, n_questions)
    a = np.full(n_questions, float(a0))
    return a, -a * b


@pytest.mark.parametrize("a0", [6.0, 10.0, 20.0])
@pytest.mark.parametrize("n_questions", [1, 5, 20])
@pytest.mark.parametrize("pattern", ["all right", "all wrong"])
def test_eap_matches_the_exact_posterior_with_very_sharp_bernoulli_questions(a0, n_questions, pattern):
    # was off by 5e-5 (a = 6) to 3.7e-2 (a = 20) in theta and SD
    a, d = _sharp(a0, n_questions)
    y = np.ones(n_questions) if pattern == "all right" else np.zeros(n_questions)
    theta, se = _score("bernoulli", a, d, y)
    ref_theta, ref_sd = _exact_posterior("bernoulli", a, d, y)
    assert theta == pytest.approx(ref_theta, abs=1e-6)
    assert se == pytest.approx(ref_sd, abs=1e-6)


@pytest.mark.parametrize("population", [(0.0, 1.0), (0.7, 0.6), (-1.0, 2.5)])
@pytest.mark.parametrize("n_quad", [11, 21, 61])
def test_eap_with_sharp_questions_is_exact_for_other_priors_and_rules(population, n_quad):
    # a lopsided pattern (one wrong answer at the top) on a = 8 questions, under other priors
    a, d = _sharp(8.0, 7, -1.0, 2.0)
    y = np.array([1, 1, 1, 1, 1, 1, 0.0])
    theta, se = _score("bernoulli", a, d, y, population=population, n_quad=n_quad)
    ref_theta, ref_sd = _exact_posterior("bernoulli", a, d, y, mean=population[0], sd=population[1])
    assert theta == pytest.approx(ref_theta, abs=1e-6)
    assert se == pytest.approx(ref_sd, abs=1e-6)


@pytest.mark.parametrize("family", ["binomial", "beta_binomial", "beta"])
@pytest.mark.parametrize("a0", [6.0, 15.0])
def test_eap_matches_the_exact_posterior_with_sharp_questions_in_every_family(family, a0):
    a, d = _sharp(a0, 4)
    n = np.array([5, 5, 10, 3])
    phi = np.array([5.0, 20.0, 50.0, 8.0]) if family != "binomial" else None
    if family == "beta":
        y, n = np.array([0.97, 0.99, 0.95, 0.9]), None
    else:
        y = n.astype(float)  # every trial a success
    theta, se = _score(family, a, d, y, phi=phi, n=n)
    ref_theta, ref_sd = _exact_posterior(family, a, d, y, phi=phi, n=n)
    assert theta == pytest.approx(ref_theta, abs=1e-6)
    assert se == pytest.approx(ref_sd, abs=1e-6)


def _single_pass(kd, a, d, log_phi, mean, sd, n_quad=21):
    """The documented single adaptive Gauss–Hermite pass (the EAP before the re-centred check)."""
    mode, info, _, _, _ = scoring._mode(kd, a, d, log_phi, mean, sd, True, 1, tol=1e-3)
    scale = 1.0 / np.sqrt(np.maximum(info + 1.0 / sd**2, 1.0 / sd**2))
    z, w = scoring.gauss_hermite(n_quad)
    return scoring._gh_moments(kd, a, d, log_phi, mean, sd, mode, scale, z, w, 1)


def test_ordinary_models_keep_the_single_pass_result_and_cost():
    # 300 models x 50 questions of ordinary discrimination: one grid pass, same numbers as before
    sim = irsl.simulate.irt(n_models=300, n_questions=50, seed=3)
    rng = np.random.default_rng(0)
    items = pd.DataFrame({"a": rng.uniform(0.8, 2.6, 50), "d": rng.normal(0, 1.5, 50),
                          "phi": rng.uniform(5, 40, 50)}, index=sim.responses["question"].unique())
    bank = irsl.ItemBank(items, family="beta")
    rd = ResponseData.from_long(sim.responses, model="model", question="question", response="y",
                                          family="beta")
    kd = bank._kernel_data(rd, 1)
    a, d, lp = items["a"].to_numpy(), items["d"].to_numpy(), bank._log_phi()
    mean, sd = np.zeros(kd.n_models), np.ones(kd.n_models)
    calls = []
    real = _kernel.loglik_grid

    def counting(data, *args, **kw):
        calls.append(data.n_models)
        return real(data, *args, **kw)

    scoring._kernel.loglik_grid = counting
    try:
        est = scoring.estimate_abilities(kd, a, d, lp, mean, sd, method="eap", n_threads=1)
    finally:
        scoring._kernel.loglik_grid = real
    assert calls == [kd.n_models]
    theta, post_sd = _single_pass(kd, a, d, lp, mean, sd)
    np.testing.assert_array_equal(est.theta, theta)
    np.testing.assert_array_equal(est.se, post_sd)


def test_only_the_sharp_models_are_integrated_again():
    # one sharp all-right model among ordinary ones: the others keep their single-pass numbers
    a = np.array([1.0, 1.3, 0.9, 12.0, 12.0])
    d = np.array([0.2, -0.5, 0.4, 12.0, -6.0])
    model = np.array([0, 0, 0, 1, 1, 2, 2, 2], np.int32)
    item = np.array([0, 1, 2, 3, 4, 0, 1, 2], np.int32)
    y = np.array([1, 0, 1, 1, 1, 0, 0, 1.0])
    kd = _kernel.KernelData(model, item, y, n_models=3, n_items=5, family="bernoulli",
                            model_ptr=np.array([0, 3, 5, 8]), n_threads=1)
    mean, sd = np.zeros(3), np.ones(3)
    est = scoring.estimate_abilities(kd, a, d, None, mean, sd, method="eap", n_threads=1)
    theta, post_sd = _single_pass(kd, a, d, None, mean, sd)
    np.testing.assert_array_equal(est.theta[[0, 2]], theta[[0, 2]])
    np.testing.assert_array_equal(est.se[[0, 2]], post_sd[[0, 2]])
    ref_theta, ref_sd = _exact_posterior("bernoulli", a[3:], d[3:], y[3:5])
    assert est.theta[1] == pytest.approx(ref_theta, abs=1e-6)
    assert est.se[1] == pytest.approx(ref_sd, abs=1e-6)
    assert abs(theta[1] - ref_theta) > 1e-4  # the single pass was wrong here


# ---------------------------------------------------------------------------------- pass@k

mp.mp.dps = 80
MUS = [1e-300, 1e-12, 1e-9, 0.001, 0.3, 0.5, 0.7, 0.999, 1 - 1e-9, 1 - 2.0**-53]
KS = [1, 10, 1e6]


def _mp_pass_at_k(mu, phi, k):
    # alpha = mu phi can be 1e-600: enough digits that lgamma(beta) - lgamma(alpha + beta) keeps it
    with mp.workdps(700):
        mu, phi = mp.mpf(mu), mp.mpf(phi)
        a, b = mu * phi, (1 - mu) * phi
        return float(-mp.expm1(mp.loggamma(b + k) - mp.loggamma(a + b + k) - mp.loggamma(b)
                               + mp.loggamma(a + b)))


@pytest.mark.parametrize("phi", [5e-324, 1e-320, 1e-310, 2.2250738585072014e-308])
def test_beta_pass_at_k_at_subnormal_precision_is_the_bernoulli_limit(phi):
    # was 0 (alpha rounded to 0), NaN/overflow warnings (divide by zero), or 0.299901 for mu 0.3
    ks = [1, 10, 1e6, 2.5, 1e9]
    for mu in MUS:
        got = beta_pass_at_k(mu, phi, ks)
        assert np.all(np.isfinite(got)) and np.all((got >= 0) & (got <= 1))
        np.testing.assert_allclose(got, mu, rtol=2e-16, atol=0)
    grid = beta_pass_at_k_grid(MUS, phi, ks)
    np.testing.assert_allclose(grid, np.broadcast_to(np.array(MUS)[:, None], grid.shape), rtol=2e-16, atol=0)


@pytest.mark.parametrize("phi", [1e-300, 1e-200, 1e-20, 1e-12])
def test_beta_pass_at_k_at_tiny_precision_matches_mpmath(phi):
    ks = KS + [2.5, 300, 1e9]
    for mu in MUS:
        ref = np.array([_mp_pass_at_k(mu, phi, k) for k in ks])
        for got in (beta_pass_at_k(mu, phi, ks), beta_pass_at_k_grid([mu], phi, ks)[0]):
            np.testing.assert_allclose(got, ref, rtol=4e-16, atol=0)


def test_beta_pass_at_k_is_continuous_across_the_tiny_precision_branch():
    # the expansion up to phi = 1e-8 and the general forms above it agree with mpmath on both
    # sides (the expansion to a few ulps; the general forms to their documented 6e-15 absolute)
    ks = [1, 10, 1e6]
    for phi, rtol, atol in ((1e-10, 4e-16, 0), (1e-8, 4e-16, 0), (1.01e-8, 0, 6e-15), (1e-6, 0, 6e-15)):
        for mu in (1e-9, 0.3, 0.999):
            ref = np.array([_mp_pass_at_k(mu, phi, k) for k in ks])
            np.testing.assert_allclose(beta_pass_at_k(mu, phi, ks), ref, rtol=rtol, atol=atol)


def test_forecast_pass_at_k_of_a_bank_with_tiny_precision():
    # the bank reaches beta_pass_at_k_grid with its questions' phi: 1e-300 gives the mean of mu
    items = pd.DataFrame({"a": [1.0, 2.0], "d": [0.0, -1.0], "phi": [1e-300, 1e-300]}, index=["q1", "q2"])
    bank = irsl.ItemBank(items, family="beta")
    out = bank.forecast_pass_at_k(0.5, [1, 10, 1000000])
    mu = special.expit(np.array([0.5, 0.0]))
    np.testing.assert_allclose(out["pass_at_k"].to_numpy(dtype=float), mu.mean(), rtol=1e-15)
