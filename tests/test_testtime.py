"""Test-time scaling studies (simulated, fast): observed curves, forecasts from counts, the
leave-one-model-out study, the sample-budget trade-off and the power law of coverage."""

import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats import testtime as tt
from irsl_stats.passk import beta_pass_at_k, pass_at_k


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.test_time(n_models=5, n_questions=30, n_samples=1000, irt="1pl", seed=0)


@pytest.fixture(scope="module")
def bank(sim):
    calib = sim.responses[sim.responses["model"] != "lm0"].copy()
    calib["model"] = calib["model"].cat.remove_unused_categories()
    # the simulation has questions no calibration model ever solves; the fit warns about them
    # (tested where fits are tested), which is not what these tests are about
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no model ever answers correctly", category=irsl.IRSLWarning)
        return irsl.calibrate(calib, successes="successes", trials="trials", family="beta_binomial",
                              irt="1pl", n_threads=1)


@pytest.fixture(scope="module")
def budget_table(sim):
    return tt.sample_budget_study(sim.responses, budgets=(5, 50, 500), seeds=(0, 1, 2), n_threads=1,
                                  forecasts=("empirical", "plugin", "beta", "beta_conditional"))


# ----------------------------------------------------------------------------- exports
def test_exported_from_the_package():
    assert irsl.power_law_fit is tt.power_law_fit
    assert irsl.sample_budget_study is tt.sample_budget_study
    assert irsl.testtime is tt


# ----------------------------------------------------------------------------- observed curves
def test_observed_pass_at_k_is_the_mean_unbiased_estimator():
    counts = pd.DataFrame({"model": ["a", "a", "a", "b", "b", "b"], "question": [1, 2, 3, 1, 2, 3],
                           "successes": [0, 3, 20, 1, 1, 0], "trials": [20, 20, 20, 20, 25, 20]})
    out = tt.observed_pass_at_k(counts, [1, 5, 20])
    assert list(out.columns) == ["model", "k", "pass_at_k"] and len(out) == 6
    for m, g in counts.groupby("model"):
        want = pass_at_k(g["trials"].to_numpy()[:, None], g["successes"].to_numpy()[:, None],
                         np.array([1, 5, 20])[None, :]).mean(axis=0)
        np.testing.assert_allclose(out[out["model"] == m]["pass_at_k"], want, rtol=1e-13)
    default = tt.observed_pass_at_k(counts)
    assert default["k"].max() == 20  # 1..min n
    with pytest.raises(ValueError, match="ks"):
        tt.observed_pass_at_k(counts, [21])
    with pytest.raises(ValueError, match="successes"):
        tt.observed_pass_at_k(counts, successes="n_correct")


# ----------------------------------------------------------------------------- forecasts
def test_forecast_from_counts_matches_its_definitions(sim, bank):
    held = sim.responses[sim.responses["model"] == "lm0"].copy()
    held["model"] = held["model"].cat.remove_unused_categories()
    few = irsl.simulate.subsample_counts(held, 20, seed=3)
    ks = np.arange(1, 301)
    out = tt.forecast_from_counts(bank, few, ks)
    assert set(out["forecast"]) == set(tt.FORECASTS) and len(out) == 5 * len(ks)
    assert list(out.columns) == ["model", "forecast", "k", "pass_at_k", "theta", "se"]
    curve = {f: g["pass_at_k"].to_numpy() for f, g in out.groupby("forecast")}
    rate = few["successes"].to_numpy() / 20.0
    np.testing.assert_allclose(curve["empirical"], (1 - (1 - rate[:, None]) ** ks).mean(axis=0), atol=1e-12)
    theta = bank.score(few, successes="successes", trials="trials", method="ml")["theta"].iloc[0]
    assert out.loc[out["forecast"] == "beta", "theta"].iloc[0] == pytest.approx(theta)
    it = bank.items.loc[few["question"].to_numpy()]
    mu = 1 / (1 + np.exp(-(it["a"].to_numpy() * theta + it["d"].to_numpy())))
    want_beta = beta_pass_at_k(mu[:, None], it["phi"].to_numpy()[:, None], ks[None, :]).mean(axis=0)
    np.testing.assert_allclose(curve["beta"], want_beta, rtol=1e-10)
    np.testing.assert_allclose(curve["plugin"], (1 - (1 - mu[:, None]) ** ks).mean(axis=0), rtol=1e-10)
    assert curve["beta"][0] == pytest.approx(curve["plugin"][0], rel=1e-10)  # k = 1: E[p] = mu
    # the Beta expectation averaged over N(theta, se^2) stays close to (and is smoother than) the point curve
    assert np.max(np.abs(curve["beta_posterior"] - curve["beta"])) < 0.05
    # posterior predictive given the 20 samples: Beta(alpha + c, beta + n - c)
    c = few["successes"].to_numpy()
    phi = it["phi"].to_numpy()
    a_post, b_post = mu * phi + c, (1 - mu) * phi + 20 - c
    want_cond = beta_pass_at_k((a_post / (a_post + b_post))[:, None], (a_post + b_post)[:, None],
                               ks[None, :]).mean(axis=0)
    np.testing.assert_allclose(curve["beta_conditional"], want_cond, rtol=1e-10)
    assert curve["beta_conditional"][0] != pytest.approx(curve["beta"][0], rel=1e-3)
    with pytest.raises(ValueError, match="forecasts"):
        tt.forecast_from_counts(bank, few, ks, forecasts=("beta", "magic"))


def test_forecast_from_counts_uses_only_the_questions_answered(sim, bank):
    held = sim.responses[sim.responses["model"] == "lm0"].copy()
    held["model"] = held["model"].cat.remove_unused_categories()
    few = irsl.simulate.subsample_counts(held, 20, seed=3)
    part = few[few["question"].isin(list(bank.questions[:10]))]
    out = tt.forecast_from_counts(bank, part, [1, 100], forecasts=("beta",))
    theta = out["theta"].iloc[0]
    sub = bank.items.loc[list(bank.questions[:10])]
    mu = 1 / (1 + np.exp(-(sub["a"].to_numpy() * theta + sub["d"].to_numpy())))
    want = beta_pass_at_k(mu[:, None], sub["phi"].to_numpy()[:, None], np.array([1.0, 100.0])).mean(axis=0)
    np.testing.assert_allclose(out["pass_at_k"], want, rtol=1e-10)


# ----------------------------------------------------------------------------- studies
def test_sample_budget_error_falls_with_budget(budget_table):
    wide = budget_table.pivot(index="forecast", columns="budget", values="mae")
    assert list(wide.columns) == [5, 50, 500]
    # the forecasts that use each question's own samples improve with the budget
    for kind in ("beta_conditional", "empirical"):
        e = wide.loc[kind].to_numpy()
        assert e[0] > e[1] > e[2], (kind, e)
    # the marginal forecasts use the samples only through the ability: their error levels off at the
    # spread of the questions' realised p around the model (it does not fall much with the budget)
    assert abs(wide.loc["beta", 500] - wide.loc["beta", 50]) < 0.5 * wide.loc["beta", 50]
    # from few samples the Beta forecasts beat the empirical plug-in, and always the model plug-in
    assert wide.loc["beta", 5] < 0.5 * wide.loc["empirical", 5]
    assert wide.loc["beta_conditional", 5] < 0.5 * wide.loc["empirical", 5]
    assert (wide.loc["beta"] < 0.6 * wide.loc["plugin"]).all()
    assert wide.loc["beta_conditional", 500] < 0.5 * wide.loc["beta", 500]
    assert (budget_table["n"] == 5 * 3).all()  # 5 held-out models x 3 seeds


def test_leave_one_model_out_study_and_summary(sim):
    study = tt.leave_one_model_out(sim.responses, budgets=[20], seeds=[0], ks=range(1, 201), keep_curves=True,
                                   models=["lm0", "lm1"], forecasts=("plugin", "beta"), n_threads=1)
    err = study.errors
    assert set(err["model"]) == {"lm0", "lm1"} and len(err) == 2 * 2
    assert list(err.columns) == ["family", "irt", "budget", "seed", "model", "forecast", "mae", "theta", "se"]
    # the MAE is the error of the kept curve against the kept truth
    c = study.curves
    one = c[(c["model"] == "lm1") & (c["forecast"] == "beta")]["pass_at_k"].to_numpy()
    truth = study.truth[study.truth["model"] == "lm1"]["pass_at_k"].to_numpy()
    mae = err[(err["model"] == "lm1") & (err["forecast"] == "beta")]["mae"].iloc[0]
    assert mae == pytest.approx(np.abs(one - truth).mean(), rel=1e-12)
    # the truth is the unbiased curve from all samples of the held-out model
    held = sim.responses[sim.responses["model"] == "lm1"]
    np.testing.assert_allclose(
        truth, pass_at_k(held["trials"].to_numpy()[:, None], held["successes"].to_numpy()[:, None],
                         np.arange(1, 201)[None, :]).mean(axis=0), rtol=1e-12)
    table = study.summary(target_mae=1.0, min_ratio=0.0)
    assert table["pass"].all() and table["n"].iloc[0] == 2
    assert not study.summary(target_mae=0.0)["pass"].any()
    assert table["ratio"].iloc[0] == pytest.approx(table["plugin"].iloc[0] / table["beta"].iloc[0])


def test_in_sample_study_calibrates_on_every_model(sim):
    # the ceiling: the bank of all five models, the held-out one scored from all its samples
    ks = range(1, 101)
    study = tt.leave_one_model_out(sim.responses, budgets=[1000], seeds=[0], ks=ks, models=["lm3"],
                                   forecasts=("plugin", "beta"), in_sample=True, n_threads=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no model ever answers correctly", category=irsl.IRSLWarning)
        full_bank = irsl.calibrate(sim.responses, successes="successes", trials="trials", family="beta_binomial",
                                   irt="1pl", n_threads=1)
    held = sim.responses[sim.responses["model"] == "lm3"].copy()
    held["model"] = held["model"].cat.remove_unused_categories()
    fc = tt.forecast_from_counts(full_bank, held, ks, forecasts=("plugin", "beta"), n_threads=1)
    truth = tt.observed_pass_at_k(held, ks)["pass_at_k"].to_numpy()
    for kind in ("plugin", "beta"):
        want = np.abs(fc[fc["forecast"] == kind]["pass_at_k"].to_numpy() - truth).mean()
        got = study.errors.set_index("forecast").loc[kind, "mae"]
        assert got == pytest.approx(want, rel=1e-10)
    # and it is not the held-out study: there the bank never saw lm3
    out = tt.leave_one_model_out(sim.responses, budgets=[1000], seeds=[0], ks=ks, models=["lm3"],
                                 forecasts=("beta",), n_threads=1)
    assert out.errors["theta"].iloc[0] != pytest.approx(study.errors["theta"].iloc[0], rel=1e-6)


def test_study_beta_on_rates_runs_with_a_boundary_policy(sim):
    study = tt.leave_one_model_out(sim.responses, budgets=[20], seeds=[0], ks=range(1, 101), models=["lm2"],
                                   families=("beta",), forecasts=("beta",), boundary="squeeze", n_threads=1)
    assert study.errors["family"].tolist() == ["beta"] and np.isfinite(study.errors["mae"]).all()


def test_scoring_likelihood_of_the_counts(sim, bank):
    held = sim.responses[sim.responses["model"] == "lm0"].copy()
    held["model"] = held["model"].cat.remove_unused_categories()
    few = irsl.simulate.subsample_counts(held, 20, seed=3)
    kw = dict(successes="successes", trials="trials", method="ml")

    def theta(**k):
        return tt.forecast_from_counts(bank, few, [1, 10], forecasts=("beta",), **k)["theta"].iloc[0]

    # a beta-binomial bank: "auto" and "bank" are its own likelihood; "binomial" drops the precision
    assert theta() == pytest.approx(bank.score(few, **kw)["theta"].iloc[0])
    assert theta(likelihood="bank") == pytest.approx(theta())
    bin_bank = irsl.ItemBank(bank.items[["a", "d"]], family="binomial", irt="1pl")
    assert theta(likelihood="binomial") == pytest.approx(bin_bank.score(few, **kw)["theta"].iloc[0])
    assert theta(likelihood="binomial") != pytest.approx(theta(), abs=1e-6)
    # a beta bank on rates: "auto" scores the counts with the beta-binomial likelihood of its
    # (a, d, phi), not the squeezed rates c/n
    beta_bank = irsl.ItemBank(bank.items[["a", "d", "phi"]], family="beta", irt="1pl")
    t_auto = tt.forecast_from_counts(beta_bank, few, [1], forecasts=("beta",))["theta"].iloc[0]
    assert t_auto == pytest.approx(bank.score(few, **kw)["theta"].iloc[0], rel=1e-8)
    t_rates = tt.forecast_from_counts(beta_bank, few, [1], forecasts=("beta",), likelihood="bank")["theta"].iloc[0]
    want = beta_bank.score(few, boundary="squeeze", **kw)["theta"].iloc[0]
    assert t_rates == pytest.approx(want) and t_rates != pytest.approx(t_auto, abs=1e-6)
    with pytest.raises(ValueError, match="likelihood"):
        tt.forecast_from_counts(bank, few, [1], likelihood="poisson")
    with pytest.raises(ValueError, match="precisions"):
        tt.forecast_from_counts(bin_bank, few, [1], forecasts=("beta",), likelihood="beta_binomial")


def test_study_passes_the_precision_prior_and_likelihood(sim):
    common = dict(budgets=[20], seeds=[0], ks=range(1, 51), models=["lm2"], forecasts=("beta",), n_threads=1)
    base = tt.leave_one_model_out(sim.responses, **common)
    loose = tt.leave_one_model_out(sim.responses, precision_prior=None, **common)
    binom = tt.leave_one_model_out(sim.responses, likelihood="binomial", **common)
    assert np.isfinite(pd.concat([base.errors, loose.errors, binom.errors])["mae"]).all()
    assert binom.errors["theta"].iloc[0] != pytest.approx(base.errors["theta"].iloc[0], abs=1e-6)


def test_study_passes_the_scoring_method(sim, bank):
    common = dict(budgets=[20], seeds=[0], ks=range(1, 51), models=["lm0"], forecasts=("beta",), n_threads=1)
    ml = tt.leave_one_model_out(sim.responses, method="ml", **common)
    wle = tt.leave_one_model_out(sim.responses, method="wle", **common)
    assert wle.method == "wle" and np.isfinite(wle.errors["mae"]).all()
    few = irsl.simulate.subsample_counts(sim.responses[sim.responses["model"] == "lm0"], 20, seed=0)
    ref = bank.score(few, successes="successes", trials="trials", method="wle", n_threads=1)
    assert wle.errors["theta"].iloc[0] == pytest.approx(ref["theta"].loc["lm0"], abs=1e-6)
    assert wle.errors["theta"].iloc[0] != pytest.approx(ml.errors["theta"].iloc[0], abs=1e-6)


def test_study_argument_errors(sim):
    r = sim.responses
    with pytest.raises(ValueError, match="at least 3 models"):
        tt.leave_one_model_out(r[r["model"].isin(["lm0", "lm1"])].copy())
    with pytest.raises(ValueError, match="budgets"):
        tt.leave_one_model_out(r, budgets=[5000])
    with pytest.raises(ValueError, match="families"):
        tt.leave_one_model_out(r, families=("poisson",))
    with pytest.raises(ValueError, match="irts"):
        tt.leave_one_model_out(r, irts=("3pl",))
    with pytest.raises(ValueError, match="models"):
        tt.leave_one_model_out(r, models=["nope"])
    with pytest.raises(ValueError, match="leave_one_model_out"):
        tt.study_summary(pd.DataFrame({"mae": [0.1]}))


# ----------------------------------------------------------------------------- power law
def test_power_law_exact_recovery():
    ks = np.arange(1, 5001)
    curves = pd.concat([
        pd.DataFrame({"model": "a", "k": ks, "pass_at_k": np.exp(-1.7 * ks ** -0.45)}),
        pd.DataFrame({"model": "b", "k": ks, "pass_at_k": np.exp(-0.3 * ks ** -0.2)}),
    ])
    fit = tt.power_law_fit(curves).set_index("model")
    np.testing.assert_allclose(fit.loc[["a", "b"], "slope"], [-0.45, -0.2], atol=1e-12)
    np.testing.assert_allclose(np.exp(fit.loc[["a", "b"], "intercept"]), [1.7, 0.3], rtol=1e-12)
    np.testing.assert_allclose(fit[["slope_se", "intercept_se"]].to_numpy(), 0.0, atol=1e-10)
    assert (fit["r_squared"] > 1 - 1e-12).all()
    assert (fit["n_points"] <= 50).all() and (fit["n_points"] >= 40).all()  # thinned on log k
    assert (fit["k_min"] == 1).all() and (fit["k_max"] == 5000).all()
    ranged = tt.power_law_fit(curves, k_range=(10, 1000), n_points=None).set_index("model")
    assert (ranged["k_min"] == 10).all() and (ranged["k_max"] == 1000).all() and (ranged["n_points"] == 991).all()
    np.testing.assert_allclose(ranged["slope"], [-0.45, -0.2], atol=1e-12)


def test_power_law_standard_error_and_dropped_points():
    rng = np.random.default_rng(0)
    ks = np.geomspace(1, 1e4, 40)
    y = np.log(2.0) - 0.3 * np.log(ks) + rng.normal(0, 0.05, ks.size)
    curves = pd.DataFrame({"model": "m", "k": np.r_[ks, 2e4], "pass_at_k": np.r_[np.exp(-np.exp(y)), 1.0]})
    fit = tt.power_law_fit(curves, n_points=None).iloc[0]
    assert fit["n_dropped"] == 1 and fit["n_points"] == 40
    x = np.log(ks)
    beta, res, *_ = np.linalg.lstsq(np.c_[np.ones_like(x), x], y, rcond=None)
    se = np.sqrt(res[0] / (x.size - 2) / ((x - x.mean()) ** 2).sum())
    assert fit["slope"] == pytest.approx(beta[1], rel=1e-10) and fit["slope_se"] == pytest.approx(se, rel=1e-8)
    assert fit["slope_lower"] < -0.3 < fit["slope_upper"]
    with pytest.raises(ValueError, match="fewer than 3 usable points"):
        tt.power_law_fit(curves, k_range=(1.5, 2.2))
    with pytest.raises(ValueError, match="value"):
        tt.power_law_fit(curves, value="coverage")


def test_power_law_on_forecast_output(bank):
    ks = np.arange(1, 10_001)
    out = bank.forecast_pass_at_k(pd.Series([-1.0, 0.5], index=["weak", "strong"]), ks)
    fit = tt.power_law_fit(out, k_range=(10, 10_000)).set_index("model")
    # coverage grows: log(-log pass@k) falls with k; the Beta expectation is close to a power law
    assert (fit["slope"] < 0).all() and (fit["r_squared"] > 0.95).all()
    assert fit.loc["weak", "intercept"] > fit.loc["strong", "intercept"]


def test_study_passes_the_discrimination_prior_to_2pl_calibrations_only(sim):
    common = dict(budgets=[20], seeds=[0], ks=range(1, 51), models=["lm2"], forecasts=("beta",), n_threads=1)
    plain = tt.leave_one_model_out(sim.responses, irts=("2pl",), discrimination_prior=None, **common)
    tight = tt.leave_one_model_out(sim.responses, irts=("2pl",), discrimination_prior=0.05, **common)
    assert np.isfinite(pd.concat([plain.errors, tight.errors])["mae"]).all()
    assert tight.errors["theta"].iloc[0] != pytest.approx(plain.errors["theta"].iloc[0], abs=1e-4)
    # a near-rigid prior makes the 2PL calibration a 1PL with a common discrimination: the scored
    # ability is the 1PL one up to that common scale, and the forecast (scale-free) nearly the same
    one_pl = tt.leave_one_model_out(sim.responses, irts=("1pl",), discrimination_prior=0.05, **common)
    assert tight.errors["mae"].iloc[0] == pytest.approx(one_pl.errors["mae"].iloc[0], abs=0.002)
    assert tight.errors["mae"].iloc[0] != pytest.approx(plain.errors["mae"].iloc[0], abs=0.002)
