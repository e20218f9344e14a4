"""Audit fixes in the results classes and the pass@k helpers: budgets beyond int64, the reason
given for a missing joint covariance, the labels and inputs of predict, what predict's
``mean_se`` is, and small pass@k / test-time inconsistencies."""

import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats import testtime as tt
from irsl_stats.passk import beta_pass_at_k_grid, pass_at_k, pass_at_k_grid


def _quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=30, seed=1, benchmarks=2)


@pytest.fixture(scope="module")
def res(sim):
    return _quiet_fit("ability ~ log(compute)", data=sim.responses, models=sim.models, benchmark="benchmark")


@pytest.fixture(scope="module")
def md(sim):
    return _quiet_fit("ability ~ log(compute)", data=sim.responses, models=sim.models, benchmark="benchmark",
                      ability="per_benchmark")


# ----------------------------------------------------------------------------- 4: budgets >= 2**63
def test_forecast_pass_at_k_rejects_budgets_that_do_not_fit_int64(res):
    # was: k = -9223372036854775808 in the table, without an error
    with pytest.raises(ValueError, match=r"budgets k must be < 2\*\*63.*1e\+19"):
        res.forecast_pass_at_k([1, 1e19])
    with pytest.raises(ValueError, match=r"< 2\*\*63"):
        res.forecast_pass_at_k([2.0**63], models=pd.DataFrame({"compute": [1e22]}))
    out = res.forecast_pass_at_k([1, 10])  # ordinary budgets: unchanged, integer k
    assert out["k"].dtype == np.int64 and sorted(set(out["k"])) == [1, 10]


def test_crossbench_forecast_rejects_budgets_that_do_not_fit_int64(sim, res, md):
    using = sim.responses[sim.responses["benchmark"] == "bench0"]
    # was: "`k` must be finite and > 0" (1e19 wrapped to a negative int64 first)
    for fit in (res, md):
        with pytest.raises(ValueError, match=r"budgets k must be < 2\*\*63.*1e\+19"):
            fit.forecast("bench1", using=using, ks=[5, 1e19])
    out = md.forecast("bench1", using=using.head(60), ks=[1, 5])
    assert out["k"].dtype == np.int64


# ----------------------------------------------------------------------------- 9: joint_cov_params reason
def test_joint_cov_params_says_mml_never_forms_it():
    s = irsl.simulate.irt(n_models=30, n_questions=20, seed=2)
    fit = _quiet_fit("ability ~ log(compute)", data=s.responses, models=s.models)
    with pytest.raises(ValueError, match=r"fitted by MML.*never forms.*method='jml'") as e:
        fit.joint_cov_params()
    assert "too many parameters" not in str(e.value)


def test_joint_cov_params_says_full_cov_false():
    s = irsl.simulate.irt(n_models=30, n_questions=20, seed=2)
    fit = _quiet_fit("ability ~ log(compute)", data=s.responses, models=s.models, method="jml", full_cov=False)
    with pytest.raises(ValueError, match=r"full_cov=False.*full_cov=True or 'auto'") as e:
        fit.joint_cov_params()
    assert "too many parameters" not in str(e.value)
    both = _quiet_fit("ability ~ log(compute)", data=s.responses, models=s.models, method="jml", full_cov="auto")
    assert both.joint_cov_params().shape[0] == 30 + 3 * 20  # abilities; a, d, log_phi per question


def test_joint_cov_params_says_auto_skipped_a_large_fit(monkeypatch):
    # the size limit of full_cov="auto", lowered so that a small fit is "large"
    monkeypatch.setattr("irsl_stats.inference.DENSE_LIMIT", 50)
    monkeypatch.setattr("irsl_stats.estimate.DENSE_LIMIT", 50)
    s = irsl.simulate.irt(n_models=30, n_questions=20, seed=2)
    fit = _quiet_fit("ability ~ log(compute)", data=s.responses, models=s.models, method="jml")
    with pytest.raises(ValueError, match=r"its 90 abilities and question parameters exceed DENSE_LIMIT = 50.*"
                                         r"full_cov=True if memory allows"):
        fit.joint_cov_params()


# ----------------------------------------------------------------------------- 11: predict labels
def test_predict_keeps_the_index_of_the_new_models(sim, res):
    # as statsmodels: predict(newdata) aligns with newdata's rows (its index), so the forecasts
    # can be joined back to the table passed in; predict() is labelled by the fit's models
    M = sim.models
    own, new = res.predict(), res.predict(M.set_index("model"))
    pd.testing.assert_frame_equal(new, own, check_names=False)
    assert list(res.predict(M.tail(3), what="score", benchmark="bench0").index) == [37, 38, 39]
    by_recipe = res.predict(M.tail(2).set_axis(["r1", "r2"]))
    assert list(by_recipe.index) == ["r1", "r2"]
    np.testing.assert_array_equal(by_recipe["mean"].to_numpy(), own["mean"].to_numpy()[-2:])
    # forecast_pass_at_k's tidy ``model`` column names models by their model column
    assert res.forecast_pass_at_k([1], models=M.tail(2))["model"].tolist() == ["m38", "m39"]
    assert res.forecast_pass_at_k([1], models=M.drop(columns="model").tail(2))["model"].tolist() == [38, 39]


def test_multidim_predict_keeps_the_index_of_the_new_models(sim, md):
    M = sim.models
    p = md.predict(M.tail(1))
    # was: named "model" although it held the row number 39
    assert p.index.name is None and p.index.tolist() == [39, 39]
    assert list(p["dimension"]) == md.dim_names
    own = md.predict()
    assert own.index.name == "model" and own.index[0] == "m00"
    pd.testing.assert_frame_equal(md.predict(M.set_index("model")), own)


def test_multidim_predict_score_on_a_benchmark(sim, md):
    M = sim.models.tail(3)
    # was: TypeError (unexpected keyword argument 'what'), although the README documents it
    out = md.predict(M, what="score", benchmark="bench1")
    assert list(out.columns) == ["score", "ci_lower", "ci_upper", "pi_lower", "pi_upper"]
    assert list(out.index) == [37, 38, 39]
    ab = md.predict(M)
    ab = ab[ab["dimension"] == "bench1"]
    items = md.items[md.items["benchmark"] == "bench1"]
    a, d = items["a_bench1"].to_numpy(), items["d"].to_numpy()

    def score(t):
        return (1 / (1 + np.exp(-(np.outer(t, a) + d)))).mean(axis=1)

    for col, ab_col in [("score", "mean"), ("ci_lower", "mean_ci_lower"), ("ci_upper", "mean_ci_upper"),
                        ("pi_lower", "obs_ci_lower"), ("pi_upper", "obs_ci_upper")]:
        np.testing.assert_allclose(out[col].to_numpy(), score(ab[ab_col].to_numpy()), rtol=1e-12)
    assert np.all(out["pi_lower"] < out["ci_lower"]) and np.all(out["ci_upper"] < out["pi_upper"])
    with pytest.raises(ValueError, match=r"load on 2 dimensions.*pass benchmark="):
        md.predict(M, what="score")
    with pytest.raises(ValueError, match=r"unknown benchmark"):
        md.predict(M, what="score", benchmark="nope")
    with pytest.raises(ValueError, match=r"what must be 'ability' or 'score'"):
        md.predict(M, what="scores")


def test_multidim_predict_score_is_refused_for_an_exploratory_fit():
    s = irsl.simulate.irt(n_models=40, n_questions=12, seed=3)
    fit = _quiet_fit("ability ~ 1", data=s.responses, dims=2, max_iter=50)
    with pytest.raises(ValueError, match=r"load on 2 dimensions.*expected_score"):
        fit.predict(s.models.head(2), what="score")


# ----------------------------------------------------------------------------- 12: what mean_se is
@pytest.mark.parametrize("formula", ["ability ~ 1", "ability ~ log(compute)"])
def test_predict_mean_se_is_from_forecast_cov_params(sim, formula):
    fit = _quiet_fit(formula, data=sim.responses, models=sim.models)
    C = fit.forecast_cov_params()
    assert list(C.index) == list(C.columns) == list(fit.design.column_names)
    new = sim.models.tail(5)
    x = fit.design.transform(new)
    pred = fit.predict(new)
    np.testing.assert_allclose(pred["mean_se"].to_numpy(), np.sqrt(np.einsum("ij,jk,ik->i", x, C.to_numpy(), x)),
                               rtol=1e-12)
    # ... and not from cov_params(): the identification pins the population, not the forecast
    V = fit.cov_params().loc[C.index, C.columns].to_numpy()
    naive = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", x, V, x), 0.0))
    assert np.all(np.abs(pred["mean_se"].to_numpy() - naive) > 1e-3)
    if formula == "ability ~ 1":
        assert fit.fixed_params == ["Intercept", "sigma"]
        assert pred["mean_se"].iloc[0] == pytest.approx(1 / np.sqrt(40), rel=0.02)
    assert "forecast_cov_params()" in fit.predict.__doc__


# ----------------------------------------------------------------------------- 14: dict and Series
def test_predict_accepts_a_dict_and_a_series(sim, res):
    M = sim.models
    # was: AttributeError 'Series' object has no attribute 'columns'
    one = res.predict(M.iloc[0])
    pd.testing.assert_frame_equal(one, res.predict(M.iloc[[0]]))
    assert list(one.index) == [0]  # a Series keeps its name (its row label)
    assert list(res.predict(M.set_index("model").iloc[3]).index) == ["m03"]
    # was: AttributeError 'dict' object has no attribute 'columns'
    frame = pd.DataFrame({"compute": [1e22, 1e23]})
    pd.testing.assert_frame_equal(res.predict({"compute": [1e22, 1e23]}), res.predict(frame))
    pd.testing.assert_frame_equal(res.predict({"compute": 1e22}), res.predict(frame.head(1)))
    pd.testing.assert_frame_equal(res.predict({"compute": [1e22, 1e23]}, what="score"),
                                  res.predict(frame, what="score"))
    out = res.forecast_pass_at_k([1, 2], models={"model": ["x", "y"], "compute": [1e22, 1e23]})
    assert out["model"].tolist() == ["x", "y", "x", "y"]
    with pytest.raises(TypeError, match=r"DataFrame.*dict.*Series.*ndarray"):
        res.predict(M[["compute"]].to_numpy())
    with pytest.raises(ValueError, match=r"scalars or lists of one length"):
        res.predict({"compute": [1e22, 1e23], "family": ["fam1"]})


def test_multidim_predict_accepts_a_dict_and_a_series(sim, md):
    M = sim.models
    pd.testing.assert_frame_equal(md.predict(M.iloc[5]), md.predict(M.iloc[[5]]))
    pd.testing.assert_frame_equal(md.predict({"compute": [1e22]}), md.predict(pd.DataFrame({"compute": [1e22]})))
    with pytest.raises(TypeError, match=r"DataFrame.*dict.*Series"):
        md.predict([[1e22]])


# ----------------------------------------------------------------------------- 17: pass@k helpers
def test_pass_at_k_grid_with_no_budgets_is_empty():
    # was: ValueError, while pass_at_k and beta_pass_at_k_grid return empty arrays
    out = pass_at_k_grid([10, 10], [0, 3], [])
    assert out.shape == (2, 0) and out.dtype == float
    assert beta_pass_at_k_grid([0.1, 0.2], 2.0, []).shape == (2, 0)
    assert pass_at_k([10, 10], [0, 3], np.empty((0, 1), dtype=int)).shape == (0, 2)
    with pytest.raises(ValueError, match="`c` must be in"):  # the cells are still checked
        pass_at_k_grid([10], [11], [])


def test_forecast_from_counts_reports_integer_budgets_as_int64():
    s = irsl.simulate.test_time(n_models=4, n_questions=15, n_samples=200, irt="1pl", seed=0)
    calib = s.responses[s.responses["model"] != "lm0"].copy()
    calib["model"] = calib["model"].cat.remove_unused_categories()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        bank = irsl.calibrate(calib, successes="successes", trials="trials", family="beta_binomial",
                              irt="1pl", n_threads=1)
    held = s.responses[s.responses["model"] == "lm0"].copy()
    held["model"] = held["model"].cat.remove_unused_categories()
    few = irsl.simulate.subsample_counts(held, 20, seed=1)
    out = tt.forecast_from_counts(bank, few, [1, 10, 100], forecasts=("empirical", "beta"))
    # was: float64, while observed_pass_at_k and the banks' forecasts give int64
    assert out["k"].dtype == np.int64 and out["k"].tolist() == [1, 10, 100] * 2
    assert tt.observed_pass_at_k(held, [1, 10])["k"].dtype == np.int64
    frac = tt.forecast_from_counts(bank, few, [1.5, 10], forecasts=("empirical",))
    assert frac["k"].dtype == np.float64  # fractional budgets stay as given


def test_multidim_predict_mean_se_is_relative_to_the_questions(sim, md):
    # was: from cov_params() (relative to the identified population): 0.035 where the
    # one-dimensional fit of the same benchmark gives 0.126
    M = sim.models.tail(3)
    R0 = sim.responses[sim.responses["benchmark"] == "bench0"]
    one = _quiet_fit("ability ~ log(compute)", data=R0, models=sim.models)
    p = md.predict(M)
    p0 = p[p["dimension"] == "bench0"]
    np.testing.assert_allclose(p0["mean_se"], one.predict(M)["mean_se"], rtol=0.05)
    x = md.design.transform(M)
    P = x.shape[1]
    C = md.forecast_cov_params().to_numpy()[:P, :P]
    np.testing.assert_allclose(p0["mean_se"], np.sqrt(np.einsum("ij,jk,ik->i", x, C, x)), rtol=1e-12)
    assert list(md.forecast_cov_params().index[:P]) == list(md.params.index[:P])
