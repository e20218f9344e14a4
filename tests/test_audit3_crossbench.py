"""Regression tests for the cross-benchmark forecasts: the bernoulli pass@k prediction interval
(it was the pass@1 interval for every k) and ``forecast(..., response=...)`` on fits made from
counts (the fit's successes / trials silently overrode the user's response column)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

import irsl_stats as irsl
from irsl_stats.crossbench import MultidimBank

KS = [1, 10, 100]


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _bernoulli_bank(n_using: int = 400, n_target: int = 40, seed: int = 0) -> MultidimBank:
    """A D = 1 bernoulli bank: benchmark "U" (to score the ability from) and target "T"."""
    rng = np.random.default_rng(seed)
    n = n_using + n_target
    q = pd.Index([f"q{j:03d}" for j in range(n)])
    return MultidimBank(
        A=rng.uniform(0.5, 2.0, n)[:, None], d=rng.normal(-3.0, 1.5, n), log_phi=np.zeros(n),
        family="bernoulli", questions=q,
        item_benchmark=pd.Series(["U"] * n_using + ["T"] * n_target, index=q, dtype=object),
        dim_names=["ability"], population_mean=np.zeros(1), population_cov=np.eye(1))


def _observed_pass_at_k(mu: np.ndarray, k: int, n_rep: int, rng) -> np.ndarray:
    """Brute force: per replicate, k attempts at every question, passed if any succeeds; the mean."""
    return (rng.binomial(k, mu, size=(n_rep, len(mu))) > 0).mean(axis=1)


# --------------------------------------------------------------- (3) bernoulli pass@k prediction
def test_bernoulli_prediction_draws_match_brute_force_observed_pass_at_k():
    # at a known ability the prediction draws are the observed pass@k mean over the target
    # questions: k Bernoulli(mu_j) attempts per question. The old draws were 0/1 answers with
    # 1 - (1 - answer)^k = answer: pass@1 for every k (mean 0.13 where pass@10 is 0.58)
    bank = _bernoulli_bank()
    t = bank._mask("T")
    a_t, d_t, lp_t = bank.A[t], bank.d[t], bank.log_phi[t]
    theta, n_rep = 0.3, 20000
    mu = special.expit(a_t[:, 0] * theta + d_t)
    draws = bank._score_at(np.full((n_rep, 1), theta), a_t, d_t, lp_t, np.array(KS),
                           rng=np.random.default_rng(1))
    brute_rng = np.random.default_rng(2)
    for c, k in enumerate(KS):
        brute = _observed_pass_at_k(mu, k, n_rep, brute_rng)
        assert draws[:, c].mean() == pytest.approx(brute.mean(), abs=0.004), k
        assert draws[:, c].std() == pytest.approx(brute.std(), rel=0.05), k
        # quantiles of a mean over 40 questions: steps of 1/40
        for q in (0.025, 0.975):
            assert abs(np.quantile(draws[:, c], q) - np.quantile(brute, q)) <= 1 / 40 + 1e-9, (k, q)
    # nested attempt sets: a draw's pass@k never falls as k grows
    assert np.all(np.diff(draws, axis=1) >= 0)


def test_bernoulli_prediction_interval_width_matches_monte_carlo_of_the_forecast():
    # end to end: a model answers the "U" questions; its "T" pass@k prediction interval is the
    # spread of the observed pass@k mean when the ability is drawn from its posterior
    bank = _bernoulli_bank()
    rng = np.random.default_rng(3)
    u = bank._mask("U")
    mu_u = special.expit(bank.A[u, 0] * 0.3 + bank.d[u])
    using = pd.DataFrame({"model": "m", "question": bank.questions[u],
                          "y": (rng.random(u.sum()) < mu_u).astype(float)})
    pred = _quiet(bank.forecast, "T", using, ks=KS, interval="prediction", n_draws=4000, seed=4)
    conf = _quiet(bank.forecast, "T", using, ks=KS, interval="confidence", n_draws=4000, seed=4)
    # the old interval was [lower, upper] of pass@1 for every k and excluded pass@10 and pass@100
    assert ((pred["lower"] <= pred["pass_at_k"]) & (pred["pass_at_k"] <= pred["upper"])).all()
    assert pred["lower"].is_monotonic_increasing and pred["upper"].is_monotonic_increasing
    # answer noise on top of the ability's: wider than the confidence interval (up to a step)
    assert (pred["upper"] - pred["lower"] >= conf["upper"] - conf["lower"] - 1 / 40).all()
    post = _quiet(bank.score, using)
    thetas = rng.normal(post["theta_ability"].iloc[0], post["se_ability"].iloc[0], 20000)
    t = bank._mask("T")
    mu_t = special.expit(np.outer(thetas, bank.A[t, 0]) + bank.d[t])
    for k, row in zip(KS, pred.itertuples()):
        brute = (rng.random(mu_t.shape) < -np.expm1(k * np.log1p(-mu_t))).mean(axis=1)
        lo, hi = np.quantile(brute, [0.025, 0.975])
        assert abs(row.lower - lo) <= 1 / 40 + 1e-9 and abs(row.upper - hi) <= 1 / 40 + 1e-9, k
        assert row.pass_at_k == pytest.approx(brute.mean(), abs=0.01), k


def test_bernoulli_prediction_interval_of_a_fit_contains_its_forecast():
    # the audit's reproducer: the interval was [0.175, 0.500] for k = 1, 10, 100 while the
    # point forecasts were 0.337, 0.758, 0.952
    sim = irsl.simulate.irt(n_models=60, n_questions=80, benchmarks=2, family="bernoulli", seed=2)
    r = sim.responses
    res = _quiet(irsl.fit, "ability ~ log(compute)", data=r, models=sim.models, benchmark="benchmark",
                 family="bernoulli", n_threads=1)
    u = r[(r.benchmark == "bench0") & (r.model == "m00")]
    pred = _quiet(res.forecast, "bench1", using=u, ks=KS, interval="prediction")
    assert ((pred["lower"] <= pred["pass_at_k"]) & (pred["pass_at_k"] <= pred["upper"])).all()
    assert pred["upper"].nunique() == 3 and pred["median"].is_monotonic_increasing
    # without ks (the pass rate) the draws are the 0/1 answers, as before
    rate = _quiet(res.forecast, "bench1", using=u, interval="prediction")
    assert rate["lower"].iloc[0] == pytest.approx(pred["lower"].iloc[0])
    assert rate["upper"].iloc[0] == pytest.approx(pred["upper"].iloc[0])


# --------------------------------------------------------------- (4) response= on a counts fit
@pytest.fixture(scope="module")
def counts_fit():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, benchmarks=2, family="binomial", n_trials=20, seed=1)
    r = sim.responses
    res = _quiet(irsl.fit, "ability ~ log(compute)", data=r, models=sim.models, successes="successes",
                 trials="trials", family="beta", boundary="squeeze", benchmark="benchmark", n_threads=1)
    u = r[(r.benchmark == "bench0") & (r.model == "m00")].copy()
    u["rate"] = 0.5
    return res, u


def test_forecast_uses_the_users_response_column_on_a_counts_fit(counts_fit):
    res, u = counts_fit
    got = _quiet(res.forecast, "bench1", using=u, response="rate", boundary="squeeze")
    rates = u.drop(columns=["successes", "trials"]).rename(columns={"rate": "y"})
    want = _quiet(res.forecast, "bench1", using=rates, response="y", successes=None, trials=None)
    counts = _quiet(res.forecast, "bench1", using=u, boundary="squeeze")
    # was 0.540, the counts' forecast, for response="rate" (rates of 0.5 give 0.427)
    assert got["score"].iloc[0] == pytest.approx(want["score"].iloc[0], abs=1e-12)
    assert abs(got["score"].iloc[0] - counts["score"].iloc[0]) > 0.05
    # a table with only the rate column: was "column(s) 'successes' (successes=), 'trials'
    # (trials=) not found", columns the user never named
    only = _quiet(res.forecast, "bench1", using=u[["model", "question", "rate"]], response="rate")
    assert only["score"].iloc[0] == pytest.approx(want["score"].iloc[0], abs=1e-12)


def test_forecast_errors_name_the_columns_the_user_passed(counts_fit):
    res, u = counts_fit
    with pytest.raises(KeyError, match=r"'rates' \(response=\)"):
        _quiet(res.forecast, "bench1", using=u, response="rates")
    with pytest.raises(ValueError, match=r"not both; got response='rate', successes='successes', "
                                         r"trials=None"):
        _quiet(res.forecast, "bench1", using=u, response="rate", successes="successes")
    # the bank itself silently read the counts and dropped response="rate"
    with pytest.raises(ValueError, match=r"not both; got response='rate', successes='successes', "
                                         r"trials='trials'"):
        _quiet(MultidimBank.from_item_bank(res.item_bank()).forecast, "bench1", u, response="rate", successes="successes",
               trials="trials")
    with pytest.raises(ValueError, match=r"counts need both .* got successes=None, trials='trials'"):
        _quiet(MultidimBank.from_item_bank(res.item_bank()).forecast, "bench1", u, trials="trials")


def test_forecast_counts_of_the_user_replace_the_fits_response_column():
    # vice versa: a fit from a rate column forecasts from the user's counts without asking for
    # the fit's rate column
    sim = irsl.simulate.irt(n_models=40, n_questions=60, benchmarks=2, family="binomial", n_trials=20, seed=1)
    r = sim.responses.copy()
    r["rate"] = ((r["successes"] + 0.5) / (r["trials"] + 1)).astype(float)
    res = _quiet(irsl.fit, "ability ~ log(compute)", data=r.drop(columns=["successes", "trials"]),
                 models=sim.models, response="rate", family="beta", benchmark="benchmark", n_threads=1)
    u = r[(r.benchmark == "bench0") & (r.model == "m00")]
    got = _quiet(res.forecast, "bench1", using=u.drop(columns=["rate"]), successes="successes",
                 trials="trials", boundary="squeeze")
    want = _quiet(MultidimBank.from_item_bank(res.item_bank()).forecast, "bench1", u, successes="successes", trials="trials",
                  boundary="squeeze")
    assert got["score"].iloc[0] == pytest.approx(want["score"].iloc[0], abs=1e-12)
