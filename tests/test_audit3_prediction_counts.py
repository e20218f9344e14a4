"""Regression tests for the count families' "prediction" forecast intervals: they left out the
binomial noise of an observed pass rate (c successes out of n trials), so the binomial interval
was the confidence interval and both count intervals covered observed pass rates too rarely."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

import irsl_stats as irsl
from irsl_stats.crossbench import MultidimBank

KS = [1, 3, 8]


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _count_bank(family: str, n_using: int = 300, n_target: int = 30, seed: int = 0, trials=None) -> MultidimBank:
    """A D = 1 count bank: benchmark "U" (to score the ability from) and target "T"."""
    rng = np.random.default_rng(seed)
    n = n_using + n_target
    q = pd.Index([f"q{j:03d}" for j in range(n)])
    log_phi = np.log(rng.uniform(2.0, 20.0, n)) if family == "beta_binomial" else np.zeros(n)
    return MultidimBank(
        A=rng.uniform(0.5, 2.0, n)[:, None], d=rng.normal(-0.5, 1.2, n), log_phi=log_phi,
        family=family, questions=q,
        item_benchmark=pd.Series(["U"] * n_using + ["T"] * n_target, index=q, dtype=object),
        dim_names=["ability"], population_mean=np.zeros(1), population_cov=np.eye(1),
        **({} if trials is None else {"trials": trials}))


def _brute_observed(bank: MultidimBank, theta: float, n_t: np.ndarray, n_rep: int, rng, ks=None):
    """Brute force at a known ability, question by question: p_j (Beta for beta-binomial), then
    c_j ~ Binomial(n_j, p_j); the mean of c_j / n_j, or of the unbiased pass@k (for k > n_j the
    question's 1 - (1 - p_j)^k)."""
    t = bank._mask("T")
    mu = special.expit(bank.A[t, 0] * theta + bank.d[t])
    p = np.broadcast_to(mu, (n_rep, len(mu)))
    if bank.family == "beta_binomial":
        phi = np.exp(bank.log_phi[t])
        p = rng.beta(mu * phi, (1 - mu) * phi, size=(n_rep, len(mu)))
    c = rng.binomial(np.broadcast_to(n_t.astype(int), p.shape), p)
    if ks is None:
        return (c / n_t).mean(axis=1)
    out = []
    for k in ks:
        vals = np.empty(p.shape)
        for j in range(p.shape[1]):  # one question at a time, through the public estimator
            if n_t[j] >= k:
                vals[:, j] = irsl.pass_at_k(int(n_t[j]), c[:, j], k)
            else:
                vals[:, j] = 1 - (1 - p[:, j]) ** k
        out.append(vals.mean(axis=1))
    return np.column_stack(out)


# ------------------------------------------------------------------ draws against brute force
@pytest.mark.parametrize("family", ["binomial", "beta_binomial"])
def test_count_prediction_draws_match_brute_force_observed_pass_rate(family):
    # at a known ability the draws are the observed mean pass rate: the old binomial draws were
    # the expectation itself (SD 0), the old beta-binomial ones the mean of p_j (too narrow)
    bank = _count_bank(family)
    t = bank._mask("T")
    rng_t = np.random.default_rng(5)
    n_t = rng_t.integers(1, 6, t.sum()).astype(float)
    theta, n_rep = 0.4, 20000
    draws = bank._score_at(np.full((n_rep, 1), theta), bank.A[t], bank.d[t], bank.log_phi[t], None,
                           rng=np.random.default_rng(1), n_t=n_t)
    brute = _brute_observed(bank, theta, n_t, n_rep, np.random.default_rng(2))
    assert draws.mean() == pytest.approx(brute.mean(), abs=0.003)
    assert draws.std() == pytest.approx(brute.std(), rel=0.04)
    # the exact variance of a mean of independent c_j / n_j
    mu = special.expit(bank.A[t, 0] * theta + bank.d[t])
    infl = 1.0 if family == "binomial" else 1 + (n_t - 1) / (np.exp(bank.log_phi[t]) + 1)
    sd = np.sqrt(np.sum(mu * (1 - mu) * infl / n_t)) / t.sum()
    assert draws.std() == pytest.approx(sd, rel=0.04)
    for q in (0.025, 0.5, 0.975):
        assert abs(np.quantile(draws, q) - np.quantile(brute, q)) <= 0.01, q


@pytest.mark.parametrize("family", ["binomial", "beta_binomial"])
def test_count_prediction_pass_at_k_draws_match_brute_force(family):
    # with ks: the unbiased pass@k of c ~ Binomial(n, p) successes (k > n: p's spread only)
    bank = _count_bank(family)
    t = bank._mask("T")
    n_t = np.where(np.arange(t.sum()) % 3 == 0, 4.0, 10.0)  # k = 8 > 4 on a third of them
    theta, n_rep = -0.2, 20000
    draws = bank._score_at(np.full((n_rep, 1), theta), bank.A[t], bank.d[t], bank.log_phi[t],
                           np.array(KS), rng=np.random.default_rng(3), n_t=n_t)
    brute = _brute_observed(bank, theta, n_t, n_rep, np.random.default_rng(4), ks=KS)
    for c, k in enumerate(KS):
        assert draws[:, c].mean() == pytest.approx(brute[:, c].mean(), abs=0.003), k
        assert draws[:, c].std() == pytest.approx(brute[:, c].std(), rel=0.05), k
        # the expectation of the unbiased estimator is the model's pass@k
        assert draws[:, c].mean() == pytest.approx(
            bank._score_at(np.array([[theta]]), bank.A[t], bank.d[t], bank.log_phi[t], np.array([k]))[0, 0],
            abs=0.003), k
    # one c per question for every k: a draw's pass@k never falls as k grows
    assert np.all(np.diff(draws, axis=1) >= -1e-12)


def test_prediction_draws_of_beta_and_bernoulli_are_unchanged():
    # the other families draw the same random numbers as before (existing results stay)
    for family in ("beta", "bernoulli"):
        bank = _count_bank("binomial")
        bank.family = family
        t = bank._mask("T")
        thetas = np.linspace(-1, 1, 50)[:, None]
        got = bank._score_at(thetas, bank.A[t], bank.d[t], bank.log_phi[t], None, rng=np.random.default_rng(7))
        rng = np.random.default_rng(7)
        mu = special.expit(thetas @ bank.A[t].T + bank.d[t])
        if family == "bernoulli":
            want = (rng.random(mu.shape) < mu).mean(axis=1)
        else:
            phi = np.exp(bank.log_phi[t])
            want = rng.beta(mu * phi, (1 - mu) * phi).mean(axis=1)
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ forecast: trials and errors
def _using(bank: MultidimBank, theta: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = bank._mask("U")
    mu = special.expit(bank.A[u, 0] * theta + bank.d[u])
    return pd.DataFrame({"model": "m", "question": bank.questions[u], "k": rng.binomial(5, mu), "n": 5})


def test_binomial_prediction_interval_is_wider_than_the_confidence_interval_and_matches_monte_carlo():
    bank = _count_bank("binomial")
    using = _using(bank, 0.3, seed=8)
    kw = dict(successes="k", trials="n", n_draws=4000, seed=4)
    conf = bank.forecast("T", using, interval="confidence", **kw)
    pred = bank.forecast("T", using, interval="prediction", target_trials=2, **kw)
    # was identical to the confidence interval
    assert (pred["upper"] - pred["lower"]).iloc[0] > 2 * (conf["upper"] - conf["lower"]).iloc[0]
    assert pred["score"].iloc[0] == pytest.approx(conf["score"].iloc[0])
    post = bank.score(using, successes="k", trials="n")
    rng = np.random.default_rng(9)
    thetas = rng.normal(post["theta_ability"].iloc[0], post["se_ability"].iloc[0], 20000)
    t = bank._mask("T")
    mu = special.expit(np.outer(thetas, bank.A[t, 0]) + bank.d[t])
    brute = (rng.binomial(2, mu) / 2).mean(axis=1)
    lo, hi = np.quantile(brute, [0.025, 0.975])
    # quantiles of a mean of 30 halves: steps of 1/60
    assert abs(pred["lower"].iloc[0] - lo) <= 1 / 60 + 1e-9 and abs(pred["upper"].iloc[0] - hi) <= 1 / 60 + 1e-9


def test_target_trials_default_forms_and_errors():
    n = 330
    trials = np.full(n, 3.0)
    bank = _count_bank("beta_binomial", trials=trials)
    using = _using(bank, 0.0, seed=1)
    kw = dict(successes="k", trials="n", interval="prediction")
    tq = bank.questions[bank._mask("T")]
    base = bank.forecast("T", using, **kw)
    # the bank's trials are the default; an int, an array and a Series give the same draws
    for given in (3, np.full(len(tq), 3), pd.Series(3, index=tq[::-1])):
        pd.testing.assert_frame_equal(bank.forecast("T", using, target_trials=given, **kw), base)
    # an array follows target_questions' order
    sub = list(tq[[5, 1, 9]])
    a = bank.forecast("T", using, target_questions=sub, target_trials=[1, 7, 2], **kw)
    b = bank.forecast("T", using, target_questions=sub, target_trials=pd.Series([1, 7, 2], index=sub), **kw)
    pd.testing.assert_frame_equal(a, b)
    # more trials: a narrower interval (less count noise)
    many = bank.forecast("T", using, target_trials=200, **kw)
    assert (many["upper"] - many["lower"]).iloc[0] < (base["upper"] - base["lower"]).iloc[0]
    # the confidence interval does not depend on the trials
    nob = _count_bank("beta_binomial")
    pd.testing.assert_frame_equal(nob.forecast("T", using, successes="k", trials="n"),
                                  bank.forecast("T", using, successes="k", trials="n"))
    with pytest.raises(ValueError, match="records no trials: pass target_trials="):
        nob.forecast("T", using, **kw)
    with pytest.raises(ValueError, match="does not depend on trials"):
        bank.forecast("T", using, successes="k", trials="n", target_trials=3)
    with pytest.raises(ValueError, match="q300"):
        bank.forecast("T", using, target_trials=pd.Series(3, index=tq[1:]), **kw)
    with pytest.raises(ValueError, match=r"whole numbers >= 1.*q301"):
        bank.forecast("T", using, target_trials=np.r_[3, 2.5, np.full(len(tq) - 2, 3)], **kw)
    with pytest.raises(ValueError, match="one value per target question"):
        bank.forecast("T", using, target_trials=[3, 3], **kw)
    partly = _count_bank("beta_binomial", trials=np.where(np.arange(n) == 310, np.nan, 3.0))
    with pytest.raises(ValueError, match="unknown.*q310"):
        partly.forecast("T", using, **kw)
    beta = _count_bank("binomial")
    beta.family = "beta"
    with pytest.raises(ValueError, match="family 'beta' has no trials"):
        beta.forecast("T", using.assign(y=0.5), interval="prediction", target_trials=3)
    with pytest.raises(ValueError, match="whole numbers >= 1"):
        _count_bank("binomial", trials=np.zeros(n))


def test_bank_trials_survive_json_and_come_from_an_item_bank():
    bank = _count_bank("binomial", trials=np.where(np.arange(330) == 3, np.nan, 4.0))
    back = MultidimBank.from_json(bank.to_json())
    np.testing.assert_array_equal(back.trials, bank.trials)
    assert MultidimBank.from_json(_count_bank("binomial").to_json()).trials is None
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=10, family="binomial", n_trials=3, seed=1)
    res = _quiet(irsl.fit, "ability ~ 1", sim.responses, benchmark="benchmark", family="binomial",
                 successes="successes", trials="trials", response=None, n_threads=1)
    ib = irsl.ItemBank.from_results(res, trials=3)
    np.testing.assert_array_equal(MultidimBank.from_item_bank(ib).trials, np.full(len(ib.items), 3.0))


# ------------------------------------------------------------------ coverage of observed pass rates
def test_binomial_prediction_interval_covers_observed_pass_rates_at_two_trials():
    # the audit's reproducer, smaller: the binomial interval was the confidence interval and
    # covered the observed mean of 2-trial pass rates 0.882 of the time (now about 0.95)
    hits, wide = [], []
    for rep in range(2):
        sim = irsl.simulate.correlated_benchmarks(n_models=500, questions=20, corr=[[1, .8], [.8, 1]],
                                                  family="binomial", n_trials=2, seed=100 + rep)
        r = sim.responses
        kw = dict(successes="successes", trials="trials", response=None)
        train = sim.theta.index[:300]
        res = _quiet(irsl.fit, "ability ~ 1", r[r.model.isin(train)], benchmark="benchmark",
                     ability="per_benchmark", family="binomial", irt="2pl", n_threads=1, **kw)
        test = r[~r.model.isin(train)].assign(model=lambda t: t.model.astype(str))
        using, tgt = test[test.benchmark == "bench1"], test[test.benchmark == "bench2"]
        # through the fit: the bank's trials default to the fit's data (2 per question)
        pi = _quiet(res.forecast, "bench2", using, interval="prediction", **kw)
        ci = _quiet(res.forecast, "bench2", using, interval="confidence", **kw)
        obs = (tgt.successes / tgt.trials).groupby(tgt.model).mean().loc[pi.index]
        hits.append(((pi.lower <= obs) & (obs <= pi.upper)).to_numpy())
        wide.append(((pi.upper - pi.lower) > (ci.upper - ci.lower)).to_numpy())
        if rep == 0:
            direct = res.item_bank().forecast("bench2", using, interval="prediction", target_trials=2, **kw)
            pd.testing.assert_frame_equal(direct, pi)
    cover = np.concatenate(hits).mean()  # 400 models: SE 0.011
    assert 0.92 <= cover <= 0.985, cover
    assert np.concatenate(wide).all()


def test_transfer_study_uses_each_models_own_target_trials():
    # models with 1 trial per target question get a wider interval than models with 30
    # (the old interval did not depend on the held-out model's trials at all)
    sim = irsl.simulate.correlated_benchmarks(n_models=120, questions=15, corr=[[1, .8], [.8, 1]],
                                              family="binomial", n_trials=30, seed=3)
    r = sim.responses.copy()
    r["model"] = r["model"].astype(str)
    few = r["model"].isin(sorted(r["model"].unique())[::2]) & (r["benchmark"] == "bench2")
    # one of the 30 attempts: a Bernoulli draw with the same success probability
    r.loc[few, "successes"] = np.random.default_rng(0).binomial(1, r.loc[few, "successes"] / 30)
    r.loc[few, "trials"] = 1
    tab = _quiet(irsl.crossval.transfer_study, r, "bench1", "bench2", successes="successes", trials="trials",
                 family="binomial", folds=2, n_threads=1)
    width = (tab["irsl_upper"] - tab["irsl_lower"]).groupby(tab["model"].isin(r.loc[few, "model"])).median()
    assert width[True] > 1.2 * width[False], width


def test_banks_of_count_fits_record_each_questions_median_trials():
    # res.item_bank() recorded no trials (only calibrate did), so a count-family prediction
    # interval from the fit's bank had no n for the observed pass rate
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=8, seed=2, family="binomial", n_trials=4)
    data = sim.responses.copy()
    first = data.index[data["question"] == data["question"].iloc[0]]
    data.loc[first[:2], "trials"] = 6   # median of 6, 6, 4, ... is 4: a minority does not move it
    data.loc[first[:2], "successes"] = np.minimum(data.loc[first[:2], "successes"], 6)
    kw = dict(data=data, successes="successes", trials="trials", family="binomial", n_threads=1)
    rd = irsl.ResponseData.from_long(data, successes="successes", trials="trials", benchmark="benchmark",
                                     family="binomial")
    med = rd.median_trials()
    assert med.index.equals(rd.item_labels) and (med == 4.0).all()
    one = _quiet(irsl.fit, "ability ~ 1", **kw)
    pd.testing.assert_series_equal(one.item_bank().items["trials"], med.rename("trials"), check_names=False)
    multi = _quiet(irsl.fit, "ability ~ 1", benchmark="benchmark", ability="per_benchmark", **kw)
    bank = multi.item_bank()
    np.testing.assert_array_equal(bank.trials, med.to_numpy())
    target, source = bank.benchmarks[1], bank.benchmarks[0]
    using = data[data["benchmark"] == source]
    pi = _quiet(bank.forecast, target, using, successes="successes", trials="trials", interval="prediction")
    ci = _quiet(bank.forecast, target, using, successes="successes", trials="trials")
    assert ((pi["upper"] - pi["lower"]) > (ci["upper"] - ci["lower"])).all()
