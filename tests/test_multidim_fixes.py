"""Regression tests for fixes to the multidimensional fits, their results and the forecasting
studies (sign of per-benchmark dimensions, total vs residual correlations, crossval with D = 1
and categorical data, dims="auto" warnings and cap, forecasts of models without responses)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats import crossval
from irsl_stats.results import IRSLWarning


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


# --------------------------------------------------------------- 1. sign of per-benchmark dims
@pytest.fixture(scope="module")
def negative_corr():
    c = [[1, .9, -.3], [.9, 1, -.3], [-.3, -.3, 1]]
    sim = irsl.simulate.correlated_benchmarks(n_models=100, questions=[20, 20, 10], corr=c,
                                              benchmarks=["A", "B", "C"], seed=0)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        res = irsl.fit("ability ~ 1", data=sim.responses, benchmark="benchmark",
                       ability="per_benchmark", n_threads=1)
    return sim, res, [str(w.message) for w in got]


def test_per_benchmark_negative_correlation_keeps_positive_loadings(negative_corr):
    sim, res, issued = negative_corr
    loading_c = res.items.loc[res.items["benchmark"] == "C", "a_C"]
    assert loading_c.mean() > 0.5
    assert not any("negative loading" in m for m in res.warnings + issued)
    # the abilities keep the orientation of the truth
    assert np.corrcoef(res.abilities["theta_C"], sim.theta["C"])[0, 1] > 0.5


def test_per_benchmark_negative_correlation_outputs_agree(negative_corr):
    _, res, _ = negative_corr
    mat, tab = res.ability_correlation(alpha=0.05)
    row = tab[(tab.benchmark_1 == "A") & (tab.benchmark_2 == "C")].iloc[0]
    from_param = np.tanh(res.params["atanh corr(A, C)"])
    from_sigma = res.Sigma.loc["A", "C"] / np.sqrt(res.Sigma.loc["A", "A"] * res.Sigma.loc["C", "C"])
    for val in (row["corr"], from_param, from_sigma):
        assert val == pytest.approx(mat.loc["A", "C"], abs=1e-6)
    assert -0.55 < mat.loc["A", "C"] < -0.05  # truth -0.3
    assert row["lower"] < -0.3 < row["upper"]


def test_orient_is_an_exact_sign_change():
    from irsl_stats.multidim import MultiItems, _orient

    rng = np.random.default_rng(0)
    free = np.zeros((6, 2), bool)
    free[:3, 0] = free[3:, 1] = True
    A = np.where(free, 1.0, 0.0) * np.array([1.0, -1.0])
    items = MultiItems(A, rng.normal(size=6), np.zeros(6))
    B = np.array([[0.2, 0.4]])
    Sigma = np.array([[1.0, 0.3], [0.3, 1.0]])
    mode = rng.normal(size=(5, 2))
    it2, B2, S2, m2 = _orient(items, B, Sigma, mode, free)
    assert (it2.A[free] > 0).all()
    assert np.allclose(B2, [[0.2, -0.4]]) and np.allclose(S2, [[1, -0.3], [-0.3, 1]])
    # the linear predictors (and hence the likelihood) are unchanged
    assert np.allclose(m2 @ it2.A.T, mode @ A.T)
    # 1PL (no free loadings) stays as it is
    same = _orient(items, B, Sigma, mode, np.zeros_like(free))
    assert same[0] is items


# --------------------------------------------------------------- 2. total vs residual correlation
@pytest.fixture(scope="module")
def with_covariate():
    rng = np.random.default_rng(0)
    m = 150
    sim = irsl.simulate.correlated_benchmarks(n_models=m, questions=15, corr=[[1, .3], [.3, 1]],
                                              benchmarks=["A", "B"], seed=1)
    x = pd.Series(rng.normal(size=m), index=sim.theta.index)
    th = sim.theta.to_numpy() + 2 * x.to_numpy()[:, None]
    it = sim.items
    b = (it.benchmark == "B").to_numpy().astype(int)
    mu = 1 / (1 + np.exp(-(th[:, b] * it.a.to_numpy() + it.d.to_numpy())))
    r = sim.responses.assign(y=np.clip(rng.beta(mu * 20, (1 - mu) * 20), 1e-6, 1 - 1e-6).ravel())
    res = _quiet(irsl.fit, "ability ~ x", data=r, models=pd.DataFrame({"model": x.index, "x": x.values}),
                 benchmark="benchmark", ability="per_benchmark", n_threads=1)
    return res, np.corrcoef(th.T)[0, 1], sim.theta.corr().iloc[0, 1], th


def test_ability_correlation_matrix_and_table_agree_with_covariates(with_covariate):
    res, total_truth, resid_truth, _ = with_covariate
    mat, tab = res.ability_correlation(alpha=0.05)
    assert tab["corr"].iloc[0] == pytest.approx(mat.loc["A", "B"], abs=1e-12)
    assert tab["lower"].iloc[0] < total_truth < tab["upper"].iloc[0]
    assert 0 < tab["se"].iloc[0] < 0.1
    rmat, rtab = res.ability_correlation(alpha=0.05, residual=True)
    assert rtab["corr"].iloc[0] == pytest.approx(rmat.loc["A", "B"], abs=1e-12)
    assert rtab["corr"].iloc[0] == pytest.approx(np.tanh(res.params["atanh corr(A, B)"]), abs=1e-9)
    assert rtab["lower"].iloc[0] < resid_truth < rtab["upper"].iloc[0]
    assert mat.loc["A", "B"] > rmat.loc["A", "B"] + 0.3
    text = str(res.summary())
    assert "total, in the fitted population" in text and "Residual ability correlation" in text
    with pytest.raises(ValueError, match="residual"):
        res.ability_correlation(residual="yes")


def test_ability_correlation_total_equals_residual_without_covariates(negative_corr):
    _, res, _ = negative_corr
    mat, tab = res.ability_correlation(alpha=0.05)
    rmat, rtab = res.ability_correlation(alpha=0.05, residual=True)
    assert np.allclose(mat.to_numpy(), rmat.to_numpy(), atol=1e-10)
    assert np.allclose(tab[["corr", "lower", "upper"]].to_numpy(), rtab[["corr", "lower", "upper"]].to_numpy(),
                       atol=1e-5)
    assert "Residual ability correlation" not in str(res.summary())


# --------------------------------------------------------------- 3./4. crossval
def test_holdout_benchmark_study_with_one_dimension():
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=1, corr=np.eye(4) * .3 + .7, seed=0)
    wide = sim.responses.pivot(index="model", columns="benchmark", values="y")
    wide.columns = list(wide.columns)
    wide.index = list(wide.index)
    table = crossval.holdout_benchmark_study(wide, folds=3, dims=1, n_threads=1)
    assert len(table) == 60 * 4 and (table["dims"] == 1).all()
    assert table[["irsl", "irsl_lower", "irsl_upper"]].notna().all().all()
    assert (table["irsl_lower"] <= table["irsl"]).all() and (table["irsl"] <= table["irsl_upper"]).all()


def test_transfer_study_on_categorical_simulated_data():
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=10, corr=[[1, .8], [.8, 1]],
                                              family="beta_binomial", benchmarks=["GSM", "MATH"], seed=0)
    assert isinstance(sim.responses["model"].dtype, pd.CategoricalDtype)
    table = crossval.transfer_study(sim.responses, "GSM", "MATH", successes="successes", trials="trials",
                                    folds=3, n_threads=1)
    assert len(table) == 60 and table["irsl"].notna().all()
    mae = crossval.mae_table(table, ["irsl"]).iloc[0, 0]
    assert mae < 0.2


# --------------------------------------------------------------- 5. dims="auto"
def test_dims_auto_keeps_rejected_candidates_warnings_and_caps_dims():
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=[2, 2], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], seed=0)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        # 100 EM steps: D = 1 converges, D = 2 and 3 do not (warnings to record, not issue)
        res = irsl.fit("ability ~ 1", data=sim.responses, benchmark="benchmark", dims="auto", max_dims=4,
                       n_threads=1, max_iter=100)
    table = res.dims_table
    assert table["dims"].max() == 3  # 4 questions: at most 3 dimensions
    assert {"n_warnings", "warnings"} <= set(table.columns)
    chosen = table.loc[table["dims"] == res.dims].iloc[0]
    issued = [str(w.message) for w in got if issubclass(w.category, IRSLWarning)]
    assert len(issued) == chosen["n_warnings"]
    assert sorted(issued) == sorted(res.warnings)
    rejected = table[table["dims"] != res.dims]
    # the rejected candidates' warnings are recorded, not issued
    for text in rejected["warnings"]:
        for msg in filter(None, text.split(" | ")):
            assert msg not in issued
    assert rejected["n_warnings"].sum() > 0
    # nested models: the log-likelihood does not fall as D grows
    assert np.all(np.diff(table["llf"]) > -1e-3)


# --------------------------------------------------------------- 6. forecasts
@pytest.fixture(scope="module")
def only_b():
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=8, corr=[[1, .6], [.6, 1]],
                                              benchmarks=["A", "B"], seed=0)
    r = sim.responses
    drop = (r.benchmark == "A") & r.model.isin(sim.theta.index[:7])
    return r, _quiet(irsl.fit, "ability ~ 1", data=r[~drop], benchmark="benchmark",
                     ability="per_benchmark", n_threads=1)


def test_forecast_warns_about_models_without_using_responses(only_b):
    _, res = only_b
    with pytest.warns(IRSLWarning, match=r"7 of the 60 fitted models have no responses outside 'B'") as rec:
        fc = res.forecast("B")
    assert len(fc) == 53
    msg = str(rec[0].message)
    assert "'m0000'" in msg and "'m0004'" in msg and "'m0005'" not in msg and "..." in msg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(res.forecast("A")) == 60  # every model answered B: no warning


def test_forecast_without_benchmark_labels_says_to_refit(only_b):
    r, _ = only_b
    res = _quiet(irsl.fit, "ability ~ 1", data=r, n_threads=1)
    with pytest.raises(ValueError, match=r"refit with benchmark=<column>"):
        res.forecast("A", using=r)


# --------------------------------------------------------------- 7. predict
def test_predict_abilities_from_the_latent_regression(with_covariate):
    res, _, _, th = with_covariate
    pred = res.predict(alpha=0.05)
    assert list(pred.columns) == ["dimension", "mean", "mean_se", "mean_ci_lower", "mean_ci_upper",
                                  "obs_ci_lower", "obs_ci_upper"]
    assert len(pred) == 2 * 150 and set(pred["dimension"]) == {"A", "B"}
    # the true abilities (on the identified scale: mean 0, variance 1 over the models) lie in
    # the prediction intervals about 95% of the time
    z = (th - th.mean(axis=0)) / th.std(axis=0)
    for k, nm in enumerate(("A", "B")):
        p = pred[pred["dimension"] == nm]
        theta = z[:, k]
        inside = np.mean((p["obs_ci_lower"].to_numpy() < theta) & (theta < p["obs_ci_upper"].to_numpy()))
        assert 0.9 < inside <= 1.0
        assert (p["mean_se"] > 0).all()
    new = pd.DataFrame({"x": [0.0, 1.0]}, index=["new0", "new1"])
    out = res.predict(new)
    step = out.loc["new1", "mean"].to_numpy() - out.loc["new0", "mean"].to_numpy()
    assert np.allclose(step, [res.params["A: x"], res.params["B: x"]])
    sig = np.sqrt(np.diag(res.Sigma.to_numpy()))
    half = (out["obs_ci_upper"] - out["obs_ci_lower"]).to_numpy().reshape(2, 2) / 2
    assert np.all(half > 1.959 * sig)
    with pytest.raises(ValueError, match="alpha"):
        res.predict(alpha=1.5)
