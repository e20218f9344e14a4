"""Multidimensional abilities: per-benchmark and exploratory fits, forecasts across benchmarks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.crossbench import MultidimBank
from irsl_stats.multidim import product_grid
from irsl_stats.multidim_results import MultidimResults


def _sub(frame: pd.DataFrame, mask) -> pd.DataFrame:
    """Rows of a simulated table, without the categories no row uses (the data layer rejects
    declared labels without responses)."""
    out = frame[mask].copy()
    for c in ("model", "question", "benchmark"):
        out[c] = out[c].cat.remove_unused_categories()
    return out


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit("ability ~ 1", data=data, benchmark="benchmark", **kw)


@pytest.fixture(scope="module")
def sim3():
    return irsl.simulate.correlated_benchmarks(n_models=160, questions=30, seed=3)


@pytest.fixture(scope="module")
def per_benchmark(sim3):
    return _fit(sim3.responses, ability="per_benchmark")


def test_product_grid_integrates_normal_moments():
    z, logw = product_grid(5, 2)
    w = np.exp(logw)
    assert z.shape == (25, 2)
    assert np.isclose(w.sum(), 1.0)
    assert np.allclose(w @ z, 0.0, atol=1e-14)
    assert np.allclose((z * w[:, None]).T @ z, np.eye(2), atol=1e-12)
    assert np.isclose(w @ (z[:, 0] ** 4), 3.0)


def test_per_benchmark_recovers_correlations(per_benchmark, sim3):
    res = per_benchmark
    assert isinstance(res, MultidimResults)
    assert res.converged
    mat, table = res.ability_correlation(alpha=0.05)
    assert mat.shape == (3, 3)
    assert np.allclose(np.diag(mat), 1.0) and np.allclose(mat, mat.T)
    truth = sim3.theta.corr()  # the correlation realised in this sample
    for row in table.itertuples():
        t = truth.loc[row.benchmark_1, row.benchmark_2]
        assert abs(row.corr - t) < 3 * row.se + 0.02, (row, t)
        assert row.lower < row.corr < row.upper
    # the strongly related pair is estimated as such, the weakly related one is not
    assert mat.loc["bench1", "bench2"] > 0.85
    assert mat.loc["bench1", "bench3"] < 0.4


def test_per_benchmark_loadings_follow_the_pattern(per_benchmark, sim3):
    items = per_benchmark.items.loc[sim3.items.index]
    for b in ("bench1", "bench2", "bench3"):
        on = items["benchmark"] == b
        others = [f"a_{o}" for o in ("bench1", "bench2", "bench3") if o != b]
        assert (items.loc[on, others].to_numpy() == 0.0).all()  # exactly zero, not nearly
        assert np.corrcoef(items.loc[on, f"a_{b}"], sim3.items.loc[on, "a"])[0, 1] > 0.9
        assert items.loc[on, f"a_{b}_se"].notna().all()
        assert items.loc[on, [f"{o}_se" for o in others]].isna().all().all()
    assert np.corrcoef(items["d"], sim3.items["d"])[0, 1] > 0.97
    ab = per_benchmark.abilities
    assert np.corrcoef(ab["theta_bench3"], sim3.theta["bench3"])[0, 1] > 0.95


def test_summary_states_identification_and_correlations(per_benchmark):
    text = per_benchmark.summary().as_text()
    assert "Identification: one ability per benchmark" in text
    assert "Ability correlation between benchmarks" in text
    assert "atanh corr(bench1, bench2)" in text


def test_forecast_uses_correlation(per_benchmark, sim3):
    new = irsl.simulate.correlated_benchmarks(n_models=40, questions=30, seed=11)
    # same questions, new models: rebuild responses against the calibrated item parameters
    resp = _responses_for(sim3, new.theta, seed=5)
    truth = _true_scores(sim3, new.theta)
    using = resp[resp["benchmark"] == "bench1"]
    fc2 = per_benchmark.forecast("bench2", using=using)
    fc3 = per_benchmark.forecast("bench3", using=using)
    assert list(fc2.columns) == ["score", "se", "median", "lower", "upper", "n_using"]
    assert ((fc2["lower"] <= fc2["median"]) & (fc2["median"] <= fc2["upper"])).all()
    assert (fc2["n_using"] == 30).all()
    err2 = np.abs(fc2["score"] - truth["bench2"].loc[fc2.index]).mean()
    err3 = np.abs(fc3["score"] - truth["bench3"].loc[fc3.index]).mean()
    assert err2 < 0.5 * err3  # the related benchmark is forecast, the unrelated one is not
    width2 = (fc2["upper"] - fc2["lower"]).mean()
    width3 = (fc3["upper"] - fc3["lower"]).mean()
    assert width3 > 2 * width2
    cover = ((truth["bench2"].loc[fc2.index] >= fc2["lower"]) & (truth["bench2"].loc[fc2.index] <= fc2["upper"])).mean()
    assert cover >= 0.8
    # reproducible (seeded draws) and ordered as the scores
    again = per_benchmark.forecast("bench2", using=using)
    pd.testing.assert_frame_equal(fc2, again)
    assert (fc2["lower"] <= fc2["score"]).all() and (fc2["score"] <= fc2["upper"]).all()


def test_forecast_default_uses_own_responses(per_benchmark, sim3):
    resp = sim3.responses
    explicit = per_benchmark.forecast("bench3", using=resp[resp["benchmark"] != "bench3"])
    default = per_benchmark.forecast("bench3")
    pd.testing.assert_frame_equal(explicit, default)


def test_forecast_target_questions_and_errors(per_benchmark, sim3):
    resp = sim3.responses
    using = resp[(resp["benchmark"] == "bench1") & (resp["model"].isin(["m0000", "m0001"]))]
    qs = sim3.items.index[sim3.items["benchmark"] == "bench2"][:5]
    sub = per_benchmark.forecast("bench2", using=using, target_questions=qs)
    bank = per_benchmark.item_bank()
    direct = bank.forecast("bench2", using, target_questions=qs)
    pd.testing.assert_frame_equal(sub, direct)
    with pytest.raises(ValueError, match="not in the target"):
        per_benchmark.forecast("bench2", using=using, target_questions=sim3.items.index[:3])
    with pytest.raises(ValueError, match="unknown benchmark"):
        per_benchmark.forecast("nope", using=using)
    bad = using.assign(question=using["question"].astype(str) + "x")
    with pytest.raises(ValueError, match="not in the item bank"):
        per_benchmark.forecast("bench2", using=bad)
    with pytest.raises(ValueError, match="alpha"):
        per_benchmark.forecast("bench2", using=using, alpha=1.5)


@pytest.fixture(scope="module")
def counts_fit():
    sim = irsl.simulate.correlated_benchmarks(n_models=80, questions=25, family="beta_binomial",
                                              n_trials=20, seed=2, corr=[[1, 0.9], [0.9, 1]])
    res = _fit(sim.responses, family="beta_binomial", successes="successes", trials="trials",
               ability="per_benchmark")
    return sim, res


def test_forecast_pass_at_k_with_counts(counts_fit):
    sim, res = counts_fit
    resp = sim.responses
    using = resp[(resp["benchmark"] == "bench1") & resp["model"].isin(["m0000", "m0001", "m0002"])]
    tidy = res.forecast("bench2", using=using, ks=[1, 10, 100])
    assert list(tidy.columns) == ["model", "k", "pass_at_k", "se", "median", "lower", "upper"]
    assert len(tidy) == 9
    for _, g in tidy.groupby("model"):
        assert np.all(np.diff(g["pass_at_k"]) > 0)  # pass@k grows with k
        assert ((g["lower"] >= 0) & (g["upper"] <= 1)).all()
    # pass@1 equals the mean pass rate forecast
    rate = res.forecast("bench2", using=using)
    p1 = tidy[tidy["k"] == 1].set_index("model")["pass_at_k"]
    assert np.allclose(p1.loc[rate.index].to_numpy(), rate["score"].to_numpy(), rtol=1e-10)


def test_shared_ability_forecast_and_correlation(sim3):
    res = _fit(sim3.responses)
    assert isinstance(res, irsl.IRSLResults)
    corr = res.ability_correlation()
    assert (corr.to_numpy() == 1.0).all()
    fc = res.forecast("bench2")
    assert fc.shape[0] == 160 and fc["score"].between(0, 1).all()
    bank = MultidimBank.from_item_bank(res.item_bank())
    assert bank.dims == 1


def test_exploratory_d1_matches_unidimensional_mml(sim3):
    resp = _sub(sim3.responses, sim3.responses["benchmark"] == "bench1")
    uni = _fit(resp, tol=1e-8)
    from irsl_stats.api import build_precision, kernel_data, response_data
    from irsl_stats.formula import parse_latent_formula
    from irsl_stats.multidim import LoadingPattern, fit_multidim

    rd = response_data(resp, model="model", question="question", response="y", successes=None,
                       trials=None, benchmark="benchmark", family="beta", boundary="error", weights=None)
    design = parse_latent_formula("ability ~ 1", resp, None, "model", rd.model_labels)
    prec = build_precision("item", "beta", rd.n_items, None, "auto")
    est = fit_multidim(kernel_data(rd), design, prec, "2pl", LoadingPattern.exploratory(rd.n_items, 1),
                       n_quad=7, tol=1e-8)
    assert abs(est.llf - uni.llf) < 1e-3 * abs(uni.llf) + 0.05
    assert np.corrcoef(est.A[:, 0], uni.items["a"])[0, 1] > 0.999


def test_exploratory_two_dims_and_auto(sim3):
    resp = _sub(sim3.responses, sim3.responses["benchmark"].isin(["bench1", "bench3"]))
    res = _fit(resp, dims="auto", max_dims=2)
    assert res.dims == 2  # two nearly unrelated benchmarks need two dimensions
    assert list(res.dims_table["dims"]) == [1, 2]
    assert res.dims_table["bic"].iloc[1] < res.dims_table["bic"].iloc[0]
    assert "Choice of the dimension (by BIC)" in res.summary().as_text()
    assert "varimax" in res.identification
    # varimax puts each benchmark on its own dimension
    load = res.items.groupby("benchmark", observed=True)[["a_dim1", "a_dim2"]].mean()
    assert set(load.abs().idxmax(axis=1)) == {"a_dim1", "a_dim2"}
    corr = res.ability_correlation()
    assert abs(corr.loc["bench1", "bench3"]) < 0.5
    with pytest.raises(ValueError, match="per_benchmark"):
        res.ability_correlation(alpha=0.05)


def test_one_and_multidimensional_bic_share_a_convention():
    # one ability by the one-dimensional MML fit and D = 1 of dims="auto" are the same model: the
    # same llf (to EM tolerance), parameters and BIC penalty (log of the number of models), so a
    # user comparing res.bic across dims compares like with like
    sim = irsl.simulate.irt(n_models=60, n_questions=40, seed=0)
    one = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, method="mml", reml=False,
                   n_threads=1)
    auto = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, dims="auto", max_dims=2,
                    n_threads=1)
    row = auto.dims_table.iloc[0]
    assert one.aic + 2 * one.llf == pytest.approx(2 * row["n_params"])
    assert one.bic == pytest.approx(-2 * one.llf + np.log(60) * row["n_params"], rel=1e-12)
    assert one.bic == pytest.approx(row["bic"], abs=0.2)


def test_thread_count_does_not_change_the_fit(sim3):
    resp = _sub(sim3.responses, sim3.responses["benchmark"].isin(["bench1", "bench2"]))
    r1 = _fit(resp, ability="per_benchmark", n_threads=1)
    r2 = _fit(resp, ability="per_benchmark", n_threads=2)
    assert r1.llf == r2.llf
    assert np.array_equal(r1.params.to_numpy(), r2.params.to_numpy())


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(ability="per_benchmark", dims=2), "dims applies"),
        (dict(dims=0), "dims must be"),
        (dict(dims="two"), "dims must be"),
        (dict(dims=2, method="jml"), "method='mml'"),
        (dict(ability="everything"), "ability must be"),
        (dict(dims=2, identification="regression"), "population identification"),
        (dict(dims=2, irt="1pl"), "exploratory"),
    ],
)
def test_bad_options(sim3, kw, match):
    with pytest.raises(ValueError, match=match):
        irsl.fit("ability ~ 1", data=sim3.responses, benchmark="benchmark", **kw)


def test_per_benchmark_needs_benchmarks(sim3):
    with pytest.raises(ValueError, match="needs benchmark="):
        irsl.fit("ability ~ 1", data=sim3.responses, ability="per_benchmark")
    one = _sub(sim3.responses, sim3.responses["benchmark"] == "bench1")
    with pytest.raises(ValueError, match="at least 2 benchmarks"):
        irsl.fit("ability ~ 1", data=one, benchmark="benchmark", ability="per_benchmark")


def test_latent_regression_per_benchmark():
    """Covariates shift every benchmark's ability; B gets standard errors."""
    sim = irsl.simulate.correlated_benchmarks(n_models=150, questions=25, seed=4, corr=[[1, 0.5], [0.5, 1]])
    x = pd.Series(np.asarray(sim.theta.mean(axis=1)) + np.random.default_rng(0).normal(0, 0.5, 150),
                  index=sim.theta.index, name="x")
    models = x.to_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ x", data=sim.responses, models=models, benchmark="benchmark",
                       ability="per_benchmark")
    for b in ("bench1", "bench2"):
        name = f"{b}: x"
        assert res.params[name] > 0 and res.pvalues[name] < 1e-4
        assert np.isfinite(res.bse[name])
    # determined by the slopes through var(x'b) + sd^2 = 1: the SE the identification implies
    # (delta method), which the one-dimensional fit reports for sigma too
    for b in ("bench1", "bench2"):
        sd = np.sqrt(res.Sigma.loc[b, b])
        slope = res.params[f"{b}: x"]
        var_xb = slope**2 * models["x"].var(ddof=0)
        assert sd == pytest.approx(np.sqrt(1 - var_xb), rel=1e-6)
        # d log sd = -(var(x) slope / sd^2) d slope, the only free direction behind it
        implied = models["x"].var(ddof=0) * abs(slope) / sd**2 * res.bse[f"{b}: x"]
        assert res.bse[f"log sd({b})"] == pytest.approx(implied, rel=1e-3)


def _responses_for(sim, theta: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    it = sim.items
    eta = theta[it["benchmark"].to_numpy()].to_numpy() * it["a"].to_numpy() + it["d"].to_numpy()
    mu = 1 / (1 + np.exp(-eta))
    y = np.clip(rng.beta(mu * it["phi"].to_numpy(), (1 - mu) * it["phi"].to_numpy()), 1e-6, 1 - 1e-6)
    m, n = y.shape
    return pd.DataFrame({
        "model": np.repeat([f"new{i}" for i in range(m)], n),
        "question": np.tile(it.index.to_numpy(), m),
        "benchmark": np.tile(it["benchmark"].to_numpy(), m),
        "y": y.ravel(),
    })


def _true_scores(sim, theta: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for b in sim.corr.index:
        it = sim.items[sim.items["benchmark"] == b]
        out[b] = (1 / (1 + np.exp(-(np.outer(theta[b], it["a"]) + it["d"].to_numpy())))).mean(axis=1)
    return pd.DataFrame(out, index=[f"new{i}" for i in range(len(theta))])


def test_calibrate_with_dims_returns_a_multidimensional_bank(sim3):
    resp = _sub(sim3.responses, sim3.responses["benchmark"].isin(["bench1", "bench2"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        bank = irsl.calibrate(resp, benchmark="benchmark", ability="per_benchmark")
    assert isinstance(bank, MultidimBank) and bank.dims == 2
    scored = bank.score(_sub(resp, resp["model"].isin(["m0000", "m0001"])))
    assert list(scored.columns) == ["theta_bench1", "theta_bench2", "se_bench1", "se_bench2", "n"]
    assert (scored["n"] == 60).all() and (scored[["se_bench1", "se_bench2"]] > 0).all().all()
    s = bank.expected_score(scored[["theta_bench1", "theta_bench2"]].to_numpy(), "bench1")
    assert s.shape == (2,) and ((s > 0) & (s < 1)).all()
    with pytest.raises(ValueError, match="expected shape"):
        bank.expected_score(np.zeros((2, 3)))


@pytest.mark.slow
def test_correlation_interval_coverage():
    """The 95% interval of the ability correlation covers the population value (simulation)."""
    rho, hits, z = 0.6, [], []
    for seed in range(30):
        sim = irsl.simulate.correlated_benchmarks(n_models=120, questions=20, seed=100 + seed,
                                                  corr=[[1, rho], [rho, 1]])
        res = _fit(sim.responses, ability="per_benchmark", n_threads=1)
        _, pairs = res.ability_correlation(alpha=0.05)
        row = pairs.iloc[0]
        r = float(row["corr"])
        hits.append(row["lower"] <= rho <= row["upper"])
        z.append((np.arctanh(r) - np.arctanh(rho)) / (row["se"] / (1 - r**2)))
    assert np.mean(hits) >= 0.8, np.mean(hits)
    assert abs(np.mean(z)) < 0.6 and 0.6 < np.std(z) < 1.5, (np.mean(z), np.std(z))


def test_prediction_interval_covers_observed_scores(per_benchmark, sim3):
    new = irsl.simulate.correlated_benchmarks(n_models=60, questions=30, seed=21)
    resp = _responses_for(sim3, new.theta, seed=8)
    observed = resp[resp["benchmark"] == "bench2"].groupby("model")["y"].mean()
    using = resp[resp["benchmark"] == "bench1"]
    conf = per_benchmark.forecast("bench2", using=using)
    pred = per_benchmark.forecast("bench2", using=using, interval="prediction")
    assert (pred["upper"] - pred["lower"]).mean() > (conf["upper"] - conf["lower"]).mean()
    obs = observed.loc[pred.index]
    cover = ((obs >= pred["lower"]) & (obs <= pred["upper"])).mean()
    assert cover >= 0.85, cover
    assert np.allclose(pred["score"], conf["score"])  # the point forecast of the expectation is shared
    with pytest.raises(ValueError, match="interval must be"):
        per_benchmark.forecast("bench2", using=using, interval="both")


def test_prediction_pass_at_k_and_bernoulli(counts_fit):
    sim, res = counts_fit
    resp = sim.responses
    using = resp[(resp["benchmark"] == "bench1") & resp["model"].isin(["m0000", "m0001"])]
    conf = res.forecast("bench2", using=using, ks=[1, 5, 50])
    pred = res.forecast("bench2", using=using, ks=[1, 5, 50], interval="prediction")
    for _, g in pred.groupby("model"):
        assert np.all(np.diff(g["median"]) >= 0) and ((g["lower"] >= 0) & (g["upper"] <= 1)).all()
    # draws of the success probabilities around their means: the same expectation, wider intervals
    assert np.allclose(pred["pass_at_k"], conf["pass_at_k"])
    assert (pred["upper"] - pred["lower"]).mean() > (conf["upper"] - conf["lower"]).mean()

    bern = irsl.simulate.correlated_benchmarks(n_models=150, questions=25, family="bernoulli", seed=7,
                                               corr=[[1, 0.9], [0.9, 1]])
    rb = _fit(bern.responses, family="bernoulli", ability="per_benchmark")
    use_b = bern.responses[(bern.responses["benchmark"] == "bench1") & bern.responses["model"].isin(["m0000"])]
    fb = rb.forecast("bench2", using=use_b, interval="prediction")
    # an observed score of 25 Bernoulli answers is a multiple of 1/25
    assert np.isclose((fb["median"] * 25) % 1, 0).all() or np.isclose((fb["median"] * 25) % 1, 1).all()


def test_non_convergence_is_reported(sim3):
    resp = _sub(sim3.responses, sim3.responses["benchmark"].isin(["bench1", "bench2"]))
    with pytest.warns(irsl.IRSLWarning, match="did not converge"):
        res = irsl.fit("ability ~ 1", data=resp, benchmark="benchmark", ability="per_benchmark", max_iter=2)
    assert not res.converged
    assert any("did not converge" in w for w in res.warnings)
    assert "did not converge" in res.summary().as_text()


def test_multidimensional_bank_round_trips_through_json(per_benchmark, sim3, tmp_path):
    bank = per_benchmark.item_bank()
    path = tmp_path / "bank.json"
    bank.A[0, 0] = np.nan  # a NaN loading is no bank: save refuses it, naming the question
    with pytest.raises(ValueError, match=r"A \(loadings\) must be finite.*'bench1/q0000'"):
        bank.save(path)
    bank.A[0, 0] = per_benchmark.item_bank().A[0, 0]
    bank.save(path)
    back = MultidimBank.load(path)
    np.testing.assert_array_equal(back.A, bank.A)
    np.testing.assert_array_equal(back.d, bank.d)
    np.testing.assert_array_equal(back.population_cov, bank.population_cov)
    assert list(back.questions) == list(bank.questions) and back.dim_names == bank.dim_names
    assert list(back.item_benchmark) == list(bank.item_benchmark)
    good = per_benchmark.item_bank()
    good.save(path)
    using = _sub(sim3.responses, (sim3.responses["benchmark"] == "bench1") & sim3.responses["model"].isin(["m0001"]))
    pd.testing.assert_frame_equal(MultidimBank.load(path).forecast("bench2", using), good.forecast("bench2", using))
    text = path.read_text()
    with pytest.raises(irsl.ItemBankFormatError, match="corrupted"):
        MultidimBank.from_json(text.replace('"d": [', '"d": [1.5, ', 1))
    with pytest.raises(irsl.ItemBankFormatError, match="schema"):
        irsl.ItemBank.from_json(text)
    with pytest.raises(irsl.ItemBankFormatError, match="not valid JSON"):
        MultidimBank.from_json(text[: len(text) // 2])
