"""Tests for irsl_stats.simulate: reproducibility, structure and the generating model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit

from irsl_stats import simulate
from irsl_stats.passk import pass_at_k


@pytest.mark.parametrize("family", ["beta", "bernoulli", "binomial", "beta_binomial"])
def test_irt_structure_and_seed(family: str) -> None:
    sim = simulate.irt(n_models=30, n_questions=50, family=family, benchmarks=["x", "y"], seed=4)
    again = simulate.irt(n_models=30, n_questions=50, family=family, benchmarks=["x", "y"], seed=4)
    other = simulate.irt(n_models=30, n_questions=50, family=family, benchmarks=["x", "y"], seed=5)
    pd.testing.assert_frame_equal(sim.responses, again.responses)
    pd.testing.assert_frame_equal(sim.models, again.models)
    assert not sim.models["theta"].equals(other.models["theta"])
    value_cols = ["y"] if family in ("beta", "bernoulli") else ["successes", "trials"]
    assert list(sim.responses.columns) == ["model", "question", "benchmark", *value_cols]
    assert len(sim.responses) == 30 * 50
    assert list(sim.models.columns) == ["model", "compute", "family", "theta"]
    assert list(sim.items.columns) == ["question", "benchmark", "a", "d", "b", "phi"]
    np.testing.assert_allclose(sim.items["b"], -sim.items["d"] / sim.items["a"])
    assert sim.items["benchmark"].value_counts().tolist() == [25, 25]
    assert sim.family == family
    if family == "beta":
        y = sim.responses["y"]
        assert y.between(0, 1, inclusive="neither").all()
    elif family == "bernoulli":
        assert set(np.unique(sim.responses["y"])) <= {0.0, 1.0}
        assert sim.items["phi"].isna().all()
    else:
        k, n = sim.responses["successes"], sim.responses["trials"]
        assert (k >= 0).all() and (k <= n).all() and (n == 20).all()


def test_irt_truth_latent_regression() -> None:
    sim = simulate.irt(n_models=400, n_questions=5, sigma=0.0, family_effects=(0.2, 0.7), seed=0)
    t = sim.truth
    lc = np.log(sim.models["compute"]) - t["log_compute_center"]
    fam = (sim.models["family"] == "fam1").to_numpy()
    theta = t["beta"]["Intercept"] + t["beta"]["log_compute"] * lc + t["beta"]["family[T.fam1]"] * fam
    np.testing.assert_allclose(sim.models["theta"], theta, atol=1e-12)
    unc = t["beta_uncentered"]
    np.testing.assert_allclose(
        sim.models["theta"],
        unc["Intercept"] + unc["log_compute"] * np.log(sim.models["compute"]) + unc["family[T.fam1]"] * fam,
        atol=1e-10,
    )
    assert abs(sim.models["theta"].mean()) < 1.0  # centred: O(1)
    assert "identification" in t and t["formula"]


def test_irt_1pl_common_missing_and_trials() -> None:
    nt = np.arange(1, 41)
    sim = simulate.irt(
        n_models=200, n_questions=40, irt="1pl", precision="common", missing=0.25,
        family="beta_binomial", n_trials=nt, seed=1,
    )
    assert (sim.items["a"] == 1.0).all() and sim.items["phi"].nunique() == 1
    share = 1 - len(sim.responses) / (200 * 40)
    assert share == pytest.approx(0.25, abs=0.02)
    q = sim.responses["question"].cat.codes.to_numpy()
    np.testing.assert_array_equal(sim.responses["trials"].to_numpy(), nt[q])
    with pytest.raises(ValueError, match="n_trials"):
        simulate.irt(n_models=2, n_questions=3, family="binomial", n_trials=np.ones(4, int))
    with pytest.raises(ValueError, match="family"):
        simulate.irt(family="gauss")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing"):
        simulate.irt(missing=1.0)


def test_beta_moments_match_model() -> None:
    # one model, one question replicated: y ~ Beta(mu phi, (1-mu) phi)
    sim = simulate.irt(n_models=4000, n_questions=3, sigma=0.0, beta=(0.3, 0.0),
                       family_effects=(0.0,), precision="common", phi_median=12.0, seed=2)
    mu = sim.mu()
    for j in range(3):
        yj = sim.responses["y"].to_numpy().reshape(4000, 3)[:, j]
        m = mu[0, j]
        var = m * (1 - m) / (1 + 12.0)
        assert yj.mean() == pytest.approx(m, abs=4 * np.sqrt(var / yj.size))
        assert yj.var() == pytest.approx(var, rel=0.1)


def test_item_recovery_sanity() -> None:
    sim = simulate.irt(n_models=300, n_questions=200, seed=3)
    mean_y = sim.responses.groupby("question", observed=True)["y"].mean()
    b = sim.items.set_index("question")["b"].reindex(mean_y.index)
    assert stats.spearmanr(mean_y, b).statistic < -0.9
    theta_hat = sim.responses.groupby("model", observed=True)["y"].mean()
    theta = sim.models.set_index("model")["theta"].reindex(theta_hat.index)
    assert stats.spearmanr(theta_hat, theta).statistic > 0.9
    scores = sim.expected_scores()
    assert list(scores.columns) == ["bench0", "all"]
    np.testing.assert_allclose(scores["all"], sim.mu().mean(axis=1))
    assert np.corrcoef(scores["all"], theta_hat.reindex(scores.index))[0, 1] > 0.99


@pytest.mark.parametrize("chunk_size", [1, 7, 50])
def test_chunks_concatenate_to_irt(chunk_size: int) -> None:
    kwargs = dict(family="beta_binomial", missing=0.1, benchmarks=3, seed=11)
    full = simulate.irt(n_models=23, n_questions=31, **kwargs)
    chunked = simulate.irt_chunks(n_models=23, n_questions=31, chunk_size=chunk_size, **kwargs)
    blocks = list(chunked)
    assert len(blocks) == len(chunked)
    pd.testing.assert_frame_equal(pd.concat(blocks, ignore_index=True), full.responses)
    pd.testing.assert_frame_equal(chunked.models, full.models)
    arrays = next(chunked.iter_arrays())
    assert arrays["model"].dtype == np.int32 and arrays["successes"].dtype == np.int64
    with pytest.raises(TypeError, match="unexpected"):
        simulate.irt_chunks(bogus=1)


def test_pretraining_structure() -> None:
    sim = simulate.pretraining(n_recipes=4, n_checkpoints=3, questions_per_benchmark=30, seed=0)
    m = sim.models
    assert len(m) == 4 * 14 * 3
    assert list(m.columns) == ["model", "recipe", "size", "params", "tokens", "flops",
                               "checkpoint", "is_final", "theta"]
    np.testing.assert_array_equal(m["flops"], 6 * m["params"] * m["tokens"])
    assert sorted(m["params"].unique()) == sorted(simulate.DATADECIDE_SIZES)
    final = m[m["is_final"]]
    tpp = final["tokens"] / final["params"]
    assert tpp.between(20, 100).all()
    assert (m["checkpoint"].max() == 3) and m["is_final"].sum() == 4 * 14
    assert m["model"].is_unique
    # ability = recipe effect + slope * centred log FLOPs + small noise
    t = sim.truth
    pred = t["recipe_effects"].reindex(m["recipe"]).to_numpy() + t["slope"] * (
        np.log(m["flops"]) - t["log_flops_center"]
    )
    resid = m["theta"] - pred
    assert resid.std() == pytest.approx(t["noise_sd"], rel=0.2)
    assert list(sim.items["benchmark"].cat.categories) == list(simulate.OLMES_BENCHMARKS)
    assert len(sim.responses) == len(m) * 300
    assert sim.responses["y"].between(0, 1, inclusive="neither").all()
    # more compute, higher expected score
    scores = sim.expected_scores()["all"]
    flops = m.set_index("model")["flops"].reindex(scores.index)
    assert stats.spearmanr(scores, flops).statistic > 0.9


def test_test_time_counts_and_truth() -> None:
    sim = simulate.test_time(n_models=5, n_questions=40, n_samples=300, seed=0)
    r = sim.responses
    assert list(r.columns) == ["model", "question", "benchmark", "successes", "trials", "p"]
    assert len(r) == 200 and (r["trials"] == 300).all()
    assert ((r["successes"] >= 0) & (r["successes"] <= r["trials"])).all()
    assert r["p"].between(0, 1).all()
    assert sim.family == "beta_binomial"
    ks = [1, 10, 100]
    truth = sim.pass_at_k_truth(ks)
    assert list(truth.columns) == ["model", "k", "pass_at_k"] and len(truth) == 15
    # realized truth vs the unbiased estimator from the counts (MC error only)
    est = r.assign(pk=pass_at_k(r["trials"].to_numpy(), r["successes"].to_numpy(), 10))
    est = est.groupby("model", observed=True)["pk"].mean()
    t10 = truth[truth["k"] == 10].set_index("model")["pass_at_k"]
    assert np.max(np.abs(est - t10.reindex(est.index))) < 0.05
    # expected truth uses the Beta expectation per cell
    exp = sim.pass_at_k_truth(ks, by=("model", "benchmark"), kind="expected")
    assert len(exp) == 5 * 4 * 3 and exp["pass_at_k"].between(0, 1).all()
    with pytest.raises(ValueError, match="realized"):
        simulate.irt(n_models=2, n_questions=2).pass_at_k_truth([1])


def test_test_time_hard_questions_and_per_cell_samples() -> None:
    sim = simulate.test_time(difficulty_shift=-3.0, n_samples=500, seed=0)
    assert sim.truth["zero_share"] >= 0.58
    n = np.tile(np.arange(100, 220), (12, 1))
    sim2 = simulate.test_time(n_samples=n, seed=0)
    np.testing.assert_array_equal(sim2.responses["trials"].to_numpy(), n.ravel())


def test_test_time_pass_at_k_truth_matches_direct() -> None:
    sim = simulate.test_time(n_models=2, n_questions=8, n_samples=10, seed=5)
    got = sim.pass_at_k_truth([3]).set_index("model")["pass_at_k"]
    p = sim.responses.set_index("model")["p"]
    want = (1 - (1 - p) ** 3).groupby(level=0, observed=True).mean()
    np.testing.assert_allclose(got.reindex(want.index), want, rtol=1e-12)
    mu = expit(np.outer(sim.models["theta"], sim.items["a"]) + sim.items["d"].to_numpy())
    np.testing.assert_allclose(sim.mu(), mu)


def test_subsample_counts() -> None:
    sim = simulate.test_time(n_models=3, n_questions=20, n_samples=200, seed=1)
    sub = simulate.subsample_counts(sim.responses, 50, seed=0)
    again = simulate.subsample_counts(sim.responses, 50, seed=0)
    pd.testing.assert_frame_equal(sub, again)
    assert (sub["trials"] == 50).all()
    assert (sub["successes"] <= sim.responses["successes"]).all()
    lower = np.maximum(0, sim.responses["successes"] - 150)
    assert (sub["successes"] >= lower).all()
    pd.testing.assert_series_equal(sub["p"], sim.responses["p"])
    # keeping all samples is the identity
    full = simulate.subsample_counts(sim.responses, 200, seed=0)
    pd.testing.assert_frame_equal(full, sim.responses)
    # hypergeometric mean: E[k'] = k * m / n
    big = pd.DataFrame({"successes": np.full(20000, 30), "trials": np.full(20000, 100)})
    draws = simulate.subsample_counts(big, 10, seed=2)["successes"]
    assert draws.mean() == pytest.approx(3.0, abs=0.05)
    with pytest.raises(ValueError, match="exceeds"):
        simulate.subsample_counts(sim.responses, 201)
    with pytest.raises(ValueError, match="column"):
        simulate.subsample_counts(sim.responses.drop(columns="trials"), 5)


@pytest.mark.slow
def test_irt_large_is_fast() -> None:
    import time

    start = time.perf_counter()
    sim = simulate.irt(n_models=2000, n_questions=10000, seed=0)
    elapsed = time.perf_counter() - start
    assert len(sim.responses) == 20_000_000
    assert elapsed < 20.0
