"""Tests of ``irsl.fit`` and :class:`IRSLResults` (issue: fit — formulas, options, JML/MML,
identification, results surface, warnings, verbose output and input errors).

Simulations are small (40–80 models x 60–150 questions) and fits are shared through
module-scoped fixtures; count families (binomial) are used wherever the response family does not
matter because their fits take milliseconds.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from statsmodels.iolib.summary import Summary

import irsl_stats as irsl
from irsl_stats import IRSLWarning

#: one kernel thread: with other processes on a 2-core machine, OpenMP threads oversubscribe the
#: cores and a fit slows down many-fold; thread-count independence is tested once below
fit = partial(irsl.fit, n_threads=1)

COUNTS = dict(successes="successes", trials="trials")
FORMULA = "ability ~ log(compute) + family"


# ----------------------------------------------------------------------------- helpers
def quiet_fit(*args, **kwargs):
    """Fit where the data are well behaved: any IRSLWarning fails the test (filterwarnings=error)."""
    return fit(*args, **kwargs)


def fit_binomial(sim, formula=FORMULA, models="sim", **kwargs):
    kw = dict(family="binomial", **COUNTS)
    kw.update(kwargs)
    return fit(formula, data=sim.responses, models=sim.models if isinstance(models, str) else models, **kw)


def mu_matrix(res):
    """Fitted mean of every (model, question) cell implied by ``abilities.theta`` and ``items``."""
    theta = res.abilities["theta"].to_numpy()
    a = res.items["a"].to_numpy() if "a" in res.items else np.ones(len(res.items))
    d = res.items["d"].to_numpy()
    return special.expit(np.outer(theta, a) + d)


def new_models():
    return pd.DataFrame(
        {"compute": [1e21, 1e22, 1e23, 1e24, 1e21, 1e24], "family": ["fam0"] * 4 + ["fam1", "fam2"]},
        index=[f"new{i}" for i in range(6)],
    )


def assert_nan_se_warned(res):
    """Requirement 9: a standard error is NaN only together with a warning."""
    ses = [res.bse.to_numpy(), res.abilities["se"].to_numpy()]
    ses += [res.items[c].to_numpy() for c in res.items.columns if c.endswith("_se")]
    if any(np.isnan(s).any() for s in ses):
        assert res.warnings, "NaN standard error without a warning"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sim_beta():
    return irsl.simulate.irt(n_models=60, n_questions=80, benchmarks=2, seed=1)


@pytest.fixture(scope="module")
def beta_fits(sim_beta):
    """2PL Beta fits: JML and MML under both identifications (identification does not change the
    estimation, only the reported scale)."""
    out = {}
    for method in ("jml", "mml"):
        for ident in ("population", "regression"):
            out[method, ident] = quiet_fit(
                FORMULA, data=sim_beta.responses, models=sim_beta.models, benchmark="benchmark",
                method=method, identification=ident,
            )
    return out


@pytest.fixture(scope="module")
def res(beta_fits):
    return beta_fits["jml", "population"]


@pytest.fixture(scope="module")
def sim_binom():
    return irsl.simulate.irt(n_models=60, n_questions=100, family="binomial", n_trials=10, seed=11)


@pytest.fixture(scope="module")
def sim_binom_1pl():
    return irsl.simulate.irt(n_models=60, n_questions=100, family="binomial", irt="1pl", n_trials=10, seed=12)


@pytest.fixture(scope="module")
def ident_fits(sim_binom, sim_binom_1pl):
    out = {}
    for irt_ in ("1pl", "2pl"):
        sim = sim_binom if irt_ == "2pl" else sim_binom_1pl
        for method in ("jml", "mml"):
            for ident in ("population", "regression"):
                out[irt_, method, ident] = fit_binomial(sim, irt=irt_, method=method, identification=ident)
    return out


# ============================================================================ 1. formulas
def test_intercept_only_formula(sim_binom):
    r = fit_binomial(sim_binom, "ability ~ 1", models=None)
    assert list(r.params.index) == ["Intercept", "sigma"]
    assert r.df_model == 0
    assert r.design.matrix.shape == (60, 1)
    # population identification: the fitted mean of the calibration models is 0
    assert r.params["Intercept"] == pytest.approx(0.0, abs=1e-8)
    p = r.predict(new_models())
    assert np.allclose(p["mean"], 0.0, atol=1e-8)


def test_formula_column_names_and_interactions(sim_binom):
    r = fit_binomial(sim_binom, "ability ~ log(compute) * C(family)")
    names = list(r.params.index)
    assert names[:2] == ["Intercept", "log(compute)"]
    assert "C(family)[T.fam1]" in names and "C(family)[T.fam2]" in names
    assert any(":" in n and "log(compute)" in n and "fam1" in n for n in names)
    assert r.df_model == 5
    assert names[-1] == "sigma"


def test_center_is_a_reparametrisation_and_kept_for_predict(sim_binom):
    raw = fit_binomial(sim_binom, "ability ~ log(compute)")
    cen = fit_binomial(sim_binom, "ability ~ center(log(compute))")
    assert cen.params["center(log(compute))"] == pytest.approx(raw.params["log(compute)"], rel=1e-6)
    assert cen.sigma == pytest.approx(raw.sigma, rel=1e-6)
    # the stored ModelSpec keeps the centring of the calibration models: predicting a subset (or a
    # single model) must not re-centre on the new data
    models = sim_binom.models.set_index("model")
    full = cen.predict(models)
    for sub in (models.iloc[:5], models.iloc[[7]]):
        part = cen.predict(sub)
        assert np.allclose(part["mean"], full.loc[sub.index, "mean"], atol=1e-10)
    assert np.allclose(full["mean"], raw.predict(models)["mean"], atol=1e-6)


def test_spline_formula_predict_uses_stored_knots(sim_binom):
    r = fit_binomial(sim_binom, "ability ~ bs(log(compute), df=3)")
    assert len(r.params) == 3 + 1 + 1  # intercept, 3 spline columns, sigma
    models = sim_binom.models.set_index("model")
    full = r.predict(models)
    part = r.predict(models.iloc[3:6])
    assert np.allclose(part["mean"], full.loc[models.index[3:6], "mean"], atol=1e-10)
    assert np.allclose(full["mean"], r.abilities["fitted"].reindex(models.index), atol=1e-8)


def test_models_table_keyed_by_column_or_index(sim_binom):
    by_col = fit_binomial(sim_binom)
    by_index = fit_binomial(sim_binom, models=sim_binom.models.set_index("model"))
    shuffled = fit_binomial(sim_binom, models=sim_binom.models.sample(frac=1.0, random_state=0))
    for other in (by_index, shuffled):
        pd.testing.assert_series_equal(other.params, by_col.params, rtol=1e-10, atol=1e-12)


def test_covariates_from_data_columns(sim_binom):
    ref = fit_binomial(sim_binom)
    merged = sim_binom.responses.merge(sim_binom.models[["model", "compute", "family"]], on="model")
    r = fit(FORMULA, data=merged, family="binomial", **COUNTS)
    pd.testing.assert_series_equal(r.params, ref.params, rtol=1e-8, atol=1e-10)


def test_covariate_varying_within_model_is_an_error(sim_binom):
    merged = sim_binom.responses.merge(sim_binom.models[["model", "compute", "family"]], on="model")
    merged["model"] = merged["model"].astype(str)
    row = merged.index[merged["model"] == "m03"][2]
    merged.loc[row, "compute"] = merged.loc[row, "compute"] * 2
    with pytest.raises(ValueError, match=r"(?s)'compute'.*m03"):
        fit(FORMULA, data=merged, family="binomial", **COUNTS)


def test_missing_covariates_list_the_models(sim_binom):
    models = sim_binom.models.copy()
    models["model"] = models["model"].astype(str)
    dropped = models[~models["model"].isin(["m04", "m17"])]
    with pytest.raises(ValueError, match=r"(?s)m04.*m17|m17.*m04"):
        fit_binomial(sim_binom, models=dropped)
    nan = models.copy()
    nan.loc[nan["model"] == "m09", "compute"] = np.nan
    with pytest.raises(ValueError, match="m09"):
        fit_binomial(sim_binom, models=nan)


def test_predict_unseen_factor_level_is_an_error(res):
    bad = pd.DataFrame({"compute": [1e22], "family": ["fam_unknown"]})
    with pytest.raises(ValueError, match="level"):
        res.predict(bad)
    with pytest.raises(ValueError):
        res.predict(bad, what="score")


def test_predict_missing_covariate_is_an_error(res):
    with pytest.raises(ValueError):
        res.predict(pd.DataFrame({"compute": [1e22, 1e23]}))


# ============================================================================ 2. options
@pytest.fixture(scope="module")
def precision_fits():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, benchmarks=2, precision="common", seed=5)
    out = {"sim": sim}
    for p in ("common", "item", "~ benchmark", 10):
        out[p] = quiet_fit("ability ~ log(compute)", data=sim.responses, models=sim.models,
                           precision=p, benchmark="benchmark", full_cov=False)
    return out


def test_precision_common(precision_fits):
    r = precision_fits["common"]
    assert "log_phi" in r.params.index
    phi = r.items["phi"].to_numpy()
    assert np.allclose(phi, phi[0])
    assert phi[0] == pytest.approx(np.exp(r.params["log_phi"]))
    # simulated phi = 15 for every question: recovered within 4 standard errors
    assert abs(r.params["log_phi"] - np.log(15.0)) < 4 * r.bse["log_phi"]
    assert "common" in r.summary().as_text()


def test_precision_item(precision_fits):
    r = precision_fits["item"]
    assert not any(n.startswith("log_phi") for n in r.params.index)
    assert {"phi", "phi_se"} <= set(r.items.columns)
    assert r.items["phi"].nunique() > 1
    assert np.all(r.items["phi_se"] > 0)


def test_precision_formula(precision_fits):
    r = precision_fits["~ benchmark"]
    names = [n for n in r.params.index if n.startswith("log_phi")]
    assert names == ["log_phi:Intercept", "log_phi:benchmark[T.bench1]"]
    b = r.items["benchmark"].astype(str)
    phi = r.items["phi"]
    assert phi[b == "bench0"].nunique() == 1 and phi[b == "bench1"].nunique() == 1
    ratio = np.log(phi[b == "bench1"].iloc[0] / phi[b == "bench0"].iloc[0])
    assert ratio == pytest.approx(r.params["log_phi:benchmark[T.bench1]"], rel=1e-8)
    # simulated with a common phi: the benchmark effect is ~0
    assert abs(r.tvalues["log_phi:benchmark[T.bench1]"]) < 4


def test_precision_fixed(precision_fits):
    r = precision_fits[10]
    assert np.allclose(r.items["phi"], 10.0)
    assert not any(n.startswith("log_phi") for n in r.params.index)
    assert "fixed" in r.summary().as_text()
    # fixing phi at a wrong value can only lower the likelihood
    assert r.llf < precision_fits["common"].llf


@pytest.mark.parametrize("bad", [0, -1.0, np.inf, "per_question", "benchmark"])
def test_precision_bad_values(sim_beta, bad):
    with pytest.raises(ValueError, match="precision"):
        fit(FORMULA, data=sim_beta.responses, models=sim_beta.models, precision=bad)


@pytest.fixture(scope="module")
def bern_sim():
    return irsl.simulate.irt(n_models=80, n_questions=100, family="bernoulli", d_sd=0.8, seed=3)


@pytest.mark.parametrize("family", ["bernoulli", "binomial", "beta_binomial"])
def test_count_and_binary_families(family, bern_sim):
    if family == "bernoulli":
        sim = bern_sim
        kw = dict(response="y")
    else:
        sim = irsl.simulate.irt(n_models=50, n_questions=80, family=family, n_trials=10, seed=2)
        assert {"successes", "trials"} <= set(sim.responses.columns)
        kw = COUNTS
    r = quiet_fit(FORMULA, data=sim.responses, models=sim.models, family=family, **kw)
    assert r.converged
    assert r.fit_info.family == family
    assert r.nobs == len(sim.responses)
    has_phi = family == "beta_binomial"
    assert ("phi" in r.items.columns) == has_phi
    # abilities recover the simulated ones up to the affine identification map
    truth = sim.models.set_index("model")["theta"].reindex(r.abilities.index)
    assert np.corrcoef(truth, r.abilities["theta"])[0, 1] > 0.9
    assert_nan_se_warned(r)


def test_beta_and_beta_binomial_on_the_same_data():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, family="beta_binomial", n_trials=20, seed=8)
    df = sim.responses.copy()
    df["rate"] = (df["successes"] + 0.5) / (df["trials"] + 1.0)
    rb = quiet_fit("ability ~ log(compute)", data=df, models=sim.models, family="beta", response="rate",
                   precision="common", full_cov=False)
    rbb = quiet_fit("ability ~ log(compute)", data=df, models=sim.models, family="beta_binomial", **COUNTS,
                    precision="common", full_cov=False)
    assert np.corrcoef(rb.abilities["theta"], rbb.abilities["theta"])[0, 1] > 0.98
    assert np.sign(rb.params["log(compute)"]) == np.sign(rbb.params["log(compute)"]) == 1


def test_integer_weights_equal_duplicated_questions(sim_binom):
    """Weight 2 on a question's rows == the question appearing twice (as a copy with its own label):
    abilities, scaling law and their standard errors are unchanged."""
    df = sim_binom.responses.copy()
    df["question"] = df["question"].astype(str)
    dup_q = ["q01", "q05", "q42"]
    df["w"] = np.where(df["question"].isin(dup_q), 2.0, 1.0)
    copy = df[df["question"].isin(dup_q)].copy()
    copy["question"] = copy["question"] + "_copy"
    duplicated = pd.concat([df, copy], ignore_index=True)
    kw = dict(family="binomial", **COUNTS)
    rw = fit(FORMULA, data=df, models=sim_binom.models, weights="w", tol=1e-10, **kw)
    rd = fit(FORMULA, data=duplicated, models=sim_binom.models, tol=1e-10, **kw)
    pd.testing.assert_series_equal(rw.params, rd.params, rtol=1e-5, atol=1e-7)
    pd.testing.assert_series_equal(rw.bse, rd.bse, rtol=1e-4, atol=1e-7)
    th_w, th_d = rw.abilities.sort_index(), rd.abilities.sort_index()
    assert np.allclose(th_w["theta"], th_d["theta"], atol=1e-6)
    assert np.allclose(th_w["se"], th_d["se"], rtol=1e-4)
    for q in dup_q:
        assert rw.items.loc[q, "a"] == pytest.approx(rd.items.loc[q, "a"], abs=1e-5)
        assert rw.items.loc[q, "d"] == pytest.approx(rd.items.loc[q, "d"], abs=1e-5)
        assert rd.items.loc[q, "a"] == pytest.approx(rd.items.loc[q + "_copy", "a"], abs=1e-5)


def test_zero_weights_equal_dropping_rows(sim_binom):
    df = sim_binom.responses.copy()
    rng = np.random.default_rng(0)
    drop = rng.random(len(df)) < 0.1
    df["w"] = np.where(drop, 0.0, 1.0)
    kw = dict(family="binomial", **COUNTS, tol=1e-10)
    rw = fit(FORMULA, data=df, models=sim_binom.models, weights="w", **kw)
    rd = fit(FORMULA, data=df[~drop], models=sim_binom.models, **kw)
    pd.testing.assert_series_equal(rw.params, rd.params, rtol=1e-6, atol=1e-8)
    pd.testing.assert_series_equal(rw.bse, rd.bse, rtol=1e-5, atol=1e-8)
    assert np.allclose(rw.items["a"], rd.items.loc[rw.items.index, "a"], atol=1e-6)
    assert rw.llf == pytest.approx(rd.llf, rel=1e-8)


def test_weights_change_the_fit(sim_binom):
    """Non-trivial weights are actually used (guards against a silently ignored argument)."""
    df = sim_binom.responses.copy()
    df["w"] = np.where(df["question"].astype(str).isin([f"q{i}" for i in range(30)]), 3.0, 1.0)
    rw = fit(FORMULA, data=df, models=sim_binom.models, weights="w", family="binomial", **COUNTS)
    r1 = fit_binomial(sim_binom)
    assert not np.allclose(rw.params.to_numpy(), r1.params.to_numpy(), rtol=1e-6)


# ============================================================================ 3. JML and MML
def test_jml_and_mml_converge_and_count_passes(beta_fits, ident_fits):
    for r in list(beta_fits.values()) + list(ident_fits.values()):
        assert r.converged
        assert r.n_iter > 0
        assert r.fit_info.n_passes > 0 and r.n_kernel_passes == r.fit_info.n_passes
        assert not r.warnings


def test_jml_and_mml_agree_beta(beta_fits):
    j, m = beta_fits["jml", "population"], beta_fits["mml", "population"]
    assert list(j.params.index) == list(m.params.index)
    assert np.all(np.abs(j.params - m.params) < 0.1 * j.bse + 1e-6)
    assert np.allclose(j.bse, m.bse, rtol=0.1)
    assert np.allclose(j.items["a"], m.items["a"], atol=0.05)
    assert np.allclose(j.items["d"], m.items["d"], atol=0.05)
    assert np.allclose(j.abilities["theta"], m.abilities["theta"], atol=0.05)
    assert "MML (n_quad=7)" in m.summary().as_text()


def test_jml_and_mml_agree_many_questions():
    sim = irsl.simulate.irt(n_models=40, n_questions=150, family="binomial", n_trials=20, seed=21)
    j = fit_binomial(sim, method="jml")
    m = fit_binomial(sim, method="mml", n_quad=9)
    assert j.converged and m.converged
    assert np.all(np.abs(j.params - m.params) < 0.1 * j.bse + 1e-6)
    assert np.allclose(j.items["a"], m.items["a"], atol=0.03)
    assert np.allclose(j.items["d"], m.items["d"], atol=0.03)
    assert m.fit_info.n_quad == 9 and j.fit_info.n_quad is None


def test_mml_n_quad_insensitive(sim_binom):
    r5 = fit_binomial(sim_binom, method="mml", n_quad=5)
    r11 = fit_binomial(sim_binom, method="mml", n_quad=11)
    assert np.all(np.abs(r5.params - r11.params) < 0.05 * r11.bse + 1e-6)
    assert r5.llf == pytest.approx(r11.llf, rel=1e-4)


def test_1pl_recovers_the_simulated_scaling_law(ident_fits, sim_binom_1pl):
    """1PL fixes the scale (a_j = 1): slopes are on the generating scale. Compared with the oracle —
    OLS of the simulated (true) abilities on the same design — and with the generating slope."""
    import statsmodels.api as sm

    m = sim_binom_1pl.models
    x = pd.get_dummies(m["family"], prefix="fam", drop_first=True, dtype=float)
    x.insert(0, "log(compute)", np.log(m["compute"].astype(float)))
    oracle = sm.OLS(m["theta"].to_numpy(), sm.add_constant(x.to_numpy())).fit()
    names = ["log(compute)", "family[T.fam1]", "family[T.fam2]"]
    for method in ("jml", "mml"):
        r = ident_fits["1pl", method, "population"]
        assert "a" not in r.items.columns
        for k, name in enumerate(names):
            assert abs(r.params[name] - oracle.params[k + 1]) < 2 * r.bse[name], (method, name)
            assert r.bse[name] >= 0.8 * oracle.bse[k + 1]  # measurement error adds uncertainty
        assert abs(r.params["log(compute)"] - sim_binom_1pl.truth["beta"]["log_compute"]) < 4 * r.bse["log(compute)"]
        assert abs(r.sigma - sim_binom_1pl.truth["sigma"]) < 4 * r.bse["sigma"]


def test_2pl_regression_convention_recovers_slope_in_sigma_units(ident_fits, sim_binom):
    truth = sim_binom.truth
    for method in ("jml", "mml"):
        r = ident_fits["2pl", method, "regression"]
        target = truth["beta"]["log_compute"] / truth["sigma"]
        assert abs(r.params["log(compute)"] - target) < 4 * r.bse["log(compute)"]


# ============================================================================ 5. identification
def _ident_pairs(beta_fits, ident_fits):
    for (method,), pair in (((m,), (beta_fits[m, "population"], beta_fits[m, "regression"]))
                            for m in ("jml", "mml")):
        yield "beta-2pl-" + method, "2pl", pair
    for irt_ in ("1pl", "2pl"):
        for method in ("jml", "mml"):
            yield f"binomial-{irt_}-{method}", irt_, (ident_fits[irt_, method, "population"],
                                                      ident_fits[irt_, method, "regression"])


def test_response_scale_invariant_to_identification(beta_fits, ident_fits):
    nm = new_models()
    for label, irt_, (pop, reg) in _ident_pairs(beta_fits, ident_fits):
        # fitted mu of every cell
        assert np.allclose(mu_matrix(pop), mu_matrix(reg), atol=1e-6), label
        # expected scores at each model's own ability
        assert np.allclose(pop.expected_score(pop.abilities["theta"]),
                           reg.expected_score(reg.abilities["theta"]), atol=1e-6), label
        # forecasts on the response scale
        sp = pop.predict(nm, what="score")
        sr = reg.predict(nm, what="score")
        assert np.allclose(sp["score"], sr["score"], atol=1e-6), label
        for bench in (("bench0", "bench1") if label.startswith("beta") else ()):
            assert np.allclose(pop.predict(nm, what="score", benchmark=bench)["score"],
                               reg.predict(nm, what="score", benchmark=bench)["score"], atol=1e-6)
        # the ability scales differ by an affine map (not identical, except possibly for 1PL's scale)
        t_p, t_r = pop.abilities["theta"], reg.abilities["theta"]
        slope, icpt = np.polyfit(t_p, t_r, 1)
        assert np.allclose(t_r, slope * t_p + icpt, atol=1e-6), label
        if irt_ == "1pl":
            assert slope == pytest.approx(1.0, abs=1e-8), label
        if irt_ == "1pl":
            # only the location differs: slopes, their SEs and sigma are identical
            for name in ("log(compute)", "family[T.fam1]", "sigma"):
                assert pop.params[name] == pytest.approx(reg.params[name], rel=1e-8), label
                assert pop.bse[name] == pytest.approx(reg.bse[name], rel=1e-6), label
        else:
            # the slopes differ by the common scale factor of the abilities
            ratio = reg.params["log(compute)"] / pop.params["log(compute)"]
            assert ratio == pytest.approx(slope, rel=1e-6), label
            assert reg.params["family[T.fam1]"] / pop.params["family[T.fam1]"] == pytest.approx(slope, rel=1e-6)


def test_score_intervals_invariant_to_identification(beta_fits):
    nm = new_models()
    pop, reg = beta_fits["jml", "population"], beta_fits["jml", "regression"]
    sp = pop.predict(nm, what="score")
    sr = reg.predict(nm, what="score")
    cols = ["ci_lower", "ci_upper", "pi_lower", "pi_upper"]
    assert np.allclose(sp[cols].to_numpy(), sr[cols].to_numpy(), atol=1e-3)


def test_population_convention(beta_fits, ident_fits):
    for label, irt_, (pop, _) in _ident_pairs(beta_fits, ident_fits):
        fitted = pop.abilities["fitted"].to_numpy()
        assert fitted.mean() == pytest.approx(0.0, abs=1e-8), label
        if irt_ == "2pl":
            assert fitted.var() + pop.sigma**2 == pytest.approx(1.0, abs=1e-8), label
        assert "Intercept" in pop.params.index and "sigma" in pop.params.index
        assert pop.params["sigma"] == pytest.approx(pop.sigma)
        assert "mean of x'beta = 0" in pop.summary().as_text()


def test_regression_convention(beta_fits, ident_fits):
    for label, irt_, (_, reg) in _ident_pairs(beta_fits, ident_fits):
        assert reg.params["Intercept"] == 0.0 and "Intercept" in reg.fixed_params, label
        assert ("sigma" in reg.fixed_params) == (irt_ == "2pl"), label
        if irt_ == "2pl":
            assert reg.sigma == pytest.approx(1.0, abs=1e-10), label
        # the intercept is fixed at 0: fitted values are the covariate part of x'beta only
        x = reg.design.matrix
        coef = reg.params.reindex(reg.design.column_names).fillna(0.0).to_numpy()
        assert np.allclose(reg.abilities["fitted"], x @ coef, atol=1e-8), label
        assert reg.cov_params().shape == (len(reg.params),) * 2
        assert "intercept = 0" in reg.summary().as_text()


def test_regression_identification_needs_intercept(sim_binom):
    with pytest.raises(ValueError, match="Intercept"):
        fit_binomial(sim_binom, "ability ~ 0 + family", identification="regression")


def test_unknown_identification(sim_binom):
    with pytest.raises(ValueError, match="identification"):
        fit_binomial(sim_binom, identification="standardised")


# ============================================================================ 6. results object
def test_params_and_statsmodels_surface(res, sim_beta):
    p = res.params
    assert isinstance(p, pd.Series)
    assert list(p.index) == ["Intercept", "log(compute)", "family[T.fam1]", "family[T.fam2]", "sigma"]
    cov = res.cov_params()
    assert list(cov.index) == list(p.index) == list(cov.columns)
    assert np.allclose(cov.to_numpy(), cov.to_numpy().T)
    assert np.linalg.eigvalsh(cov.to_numpy()).min() > -1e-8 * np.abs(cov.to_numpy()).max()
    assert np.allclose(res.bse, np.sqrt(np.diag(cov)))
    assert list(res.bse.index) == list(p.index)
    assert np.allclose(res.tvalues, p / res.bse)
    # fit's default use_t=True: Student's t with df_resid = models - coefficients
    assert res.use_t and res.df_resid == 60 - 4
    assert np.allclose(res.pvalues, 2 * stats.t.sf(np.abs(res.tvalues), res.df_resid))
    assert ((res.pvalues >= 0) & (res.pvalues <= 1)).all()
    ci = res.conf_int(0.05)
    assert list(ci.columns) == [0, 1] and list(ci.index) == list(p.index)
    coefs = [n for n in p.index if n != "sigma"]
    assert np.allclose((ci[1] - ci[0])[coefs], 2 * stats.t.ppf(0.975, res.df_resid) * res.bse[coefs])
    # sigma = sqrt(1 - var(x'beta)) is set by the slopes (population identification, 2PL): its
    # interval is the image of the slopes' Wald ellipsoid (tests/test_audit3_intervals.py)
    assert 0 <= ci.loc["sigma", 0] < p["sigma"] < ci.loc["sigma", 1] <= 1
    assert ((ci[0] < p) & (p < ci[1])).all()
    ci99 = res.conf_int(0.01)
    assert ((ci99[0] < ci[0]) & (ci[1] < ci99[1])).all()
    # params/cov_params are copies
    copy = res.params
    copy.iloc[0] = 1e9
    assert res.params.iloc[0] != 1e9
    # scaling law recovered (2PL population scale: compare the sign and significance)
    assert p["log(compute)"] > 0 and res.pvalues["log(compute)"] < 1e-6
    assert res.sigma > 0


def test_information_criteria(res, sim_beta):
    assert np.isfinite(res.llf)
    assert res.nobs == len(sim_beta.responses)
    k2 = res.aic + 2 * res.llf
    k = k2 / 2
    assert k == pytest.approx(round(k)) and k > 60 + 80  # at least one parameter per model and question
    # the sample size of the marginal likelihood is the number of models (as mirt, and as the
    # multidimensional fits: the two can be compared)
    assert res.bic == pytest.approx(-2 * res.llf + np.log(res.fit_info.n_models) * k)
    assert res.df_model == 3
    assert res.converged is True or res.converged == True  # noqa: E712
    assert isinstance(res.n_iter, (int, np.integer)) and res.n_iter > 0


def test_items_table(beta_fits, ident_fits):
    r = beta_fits["jml", "population"]
    it = r.items
    assert len(it) == 80
    assert {"benchmark", "a", "a_se", "d", "d_se", "b", "b_se", "phi", "phi_se", "n"} <= set(it.columns)
    assert np.allclose(it["b"], -it["d"] / it["a"])
    for c in ("a_se", "d_se", "b_se", "phi_se"):
        assert np.all(np.isfinite(it[c])) and np.all(it[c] > 0), c
    assert (it["n"] == 60).all()
    assert (it["phi"] > 0).all()
    r1 = ident_fits["1pl", "jml", "population"]
    assert "a" not in r1.items.columns and "phi" not in r1.items.columns
    assert np.allclose(r1.items["b"], -r1.items["d"])


def test_abilities_table(res):
    ab = res.abilities
    assert list(ab.columns[:4]) == ["theta", "se", "fitted", "resid"]
    assert len(ab) == 60
    assert np.allclose(ab["resid"], ab["theta"] - ab["fitted"])
    assert np.all(np.isfinite(ab["se"])) and np.all(ab["se"] > 0)
    assert (ab["n"] == 80).all()
    # fitted = x'beta with the reported coefficients
    x = res.design.matrix
    beta = res.params[res.design.column_names].to_numpy()
    assert np.allclose(ab["fitted"], x @ beta, atol=1e-8)
    assert np.allclose(res.predict()["mean"], ab["fitted"])


def test_expected_score(res):
    theta = np.linspace(-2, 2, 7)
    s = res.expected_score(theta)
    manual = special.expit(np.outer(theta, res.items["a"]) + res.items["d"].to_numpy()).mean(axis=1)
    assert np.allclose(s, manual)
    assert np.all(np.diff(s) > 0)  # all discriminations positive
    bench = res.items["benchmark"].astype(str)
    s0, s1 = res.expected_score(theta, "bench0"), res.expected_score(theta, "bench1")
    w0 = (bench == "bench0").mean()
    assert np.allclose(s, w0 * s0 + (1 - w0) * s1)
    with pytest.raises(ValueError, match="benchmark"):
        res.expected_score(theta, "nope")


def test_predict_ability_intervals(res):
    nm = new_models()
    p = res.predict(nm, what="ability")
    assert list(p.index) == list(nm.index)
    assert (p["mean_ci_lower"] < p["mean"]).all() and (p["mean"] < p["mean_ci_upper"]).all()
    assert (p["obs_ci_lower"] < p["mean_ci_lower"]).all() and (p["mean_ci_upper"] < p["obs_ci_upper"]).all()
    assert (p["mean_se"] > 0).all()
    # monotone in compute within a family (positive slope)
    assert np.all(np.diff(p["mean"].iloc[:4]) > 0)
    # pi half-width^2 = q^2 (se^2 + sigma^2)
    q = stats.t.ppf(0.975, res.df_resid)
    half = (p["obs_ci_upper"] - p["obs_ci_lower"]) / 2
    assert np.allclose(half**2, q**2 * (p["mean_se"] ** 2 + res.sigma**2))
    p01 = res.predict(nm, what="ability", alpha=0.01)
    assert ((p01["mean_ci_upper"] - p01["mean_ci_lower"]) > (p["mean_ci_upper"] - p["mean_ci_lower"])).all()
    assert ((p01["obs_ci_upper"] - p01["obs_ci_lower"]) > (p["obs_ci_upper"] - p["obs_ci_lower"])).all()
    assert np.allclose(p01["mean"], p["mean"])


def test_predict_score_intervals(res):
    nm = new_models()
    for bench in (None, "bench0", "bench1"):
        s = res.predict(nm, what="score", benchmark=bench)
        a = res.predict(nm, what="ability")
        assert np.allclose(s["score"], res.expected_score(a["mean"], bench))
        assert ((s["score"] > 0) & (s["score"] < 1)).all()
        assert (s["pi_lower"] < s["ci_lower"]).all() and (s["ci_lower"] < s["score"]).all()
        assert (s["score"] < s["ci_upper"]).all() and (s["ci_upper"] < s["pi_upper"]).all()
        s10 = res.predict(nm, what="score", benchmark=bench, alpha=0.2)
        s01 = res.predict(nm, what="score", benchmark=bench, alpha=0.01)
        for lo, hi in (("ci_lower", "ci_upper"), ("pi_lower", "pi_upper")):
            w10, w05, w01 = (x[hi] - x[lo] for x in (s10, s, s01))
            assert ((w10 < w05) & (w05 < w01)).all()
    b0 = res.predict(nm, what="score", benchmark="bench0")["score"]
    b1 = res.predict(nm, what="score", benchmark="bench1")["score"]
    assert not np.allclose(b0, b1)
    with pytest.raises(ValueError, match="what"):
        res.predict(nm, what="loss")
    with pytest.raises(ValueError, match="benchmark"):
        res.predict(nm, what="score", benchmark="bench9")


def test_predict_own_models_equals_fitted(res, sim_beta):
    models = sim_beta.models.set_index("model")
    p = res.predict(models)
    assert np.allclose(p["mean"], res.abilities["fitted"].reindex(models.index), atol=1e-10)


def test_wald_test_single_and_joint(res):
    w = res.wald_test("family[T.fam1] = 0")
    t = res.params["family[T.fam1]"] / res.bse["family[T.fam1]"]
    assert float(np.squeeze(w.statistic)) == pytest.approx(t**2, rel=1e-8)
    assert float(np.squeeze(w.pvalue)) == pytest.approx(res.pvalues["family[T.fam1]"], rel=1e-6)
    joint = res.wald_test(["family[T.fam1] = 0", "family[T.fam2] = 0"], use_f=False)
    stat = float(np.squeeze(joint.statistic))
    assert stat >= max(res.tvalues["family[T.fam1]"] ** 2, res.tvalues["family[T.fam2]"] ** 2) - 1e-8
    # against a hand computation
    names = ["family[T.fam1]", "family[T.fam2]"]
    v = res.params[names].to_numpy()
    c = res.cov_params().loc[names, names].to_numpy()
    assert stat == pytest.approx(float(v @ np.linalg.solve(c, v)), rel=1e-8)
    # a difference of coefficients
    d = res.wald_test("family[T.fam1] = family[T.fam2]")
    cov = res.cov_params()
    diff = res.params["family[T.fam1]"] - res.params["family[T.fam2]"]
    var = cov.loc[names[0], names[0]] + cov.loc[names[1], names[1]] - 2 * cov.loc[names[0], names[1]]
    assert float(np.squeeze(d.statistic)) == pytest.approx(diff**2 / var, rel=1e-8)


def test_summary(res):
    s = res.summary()
    assert isinstance(s, Summary)
    text = s.as_text()
    for needle in ("ability ~ log(compute) + family", "beta", "2PL", "JML", "No. models", "60",
                   "No. questions", "80", "No. responses", "4,800", "Log-Likelihood", "AIC", "BIC",
                   "Converged", "log(compute)", "family[T.fam1]", "sigma", "std err", "P>|t|",
                   "Question parameters", "phi", "Identification:", "Precision:", "nonrobust"):
        assert needle in text, needle
    assert f"{res.params['log(compute)']:.4f}" in text
    assert "Warnings" not in text  # a clean fit
    html = s.as_html()
    latex = s.as_latex()
    assert isinstance(html, str) and "<table" in html and "log(compute)" in html
    assert isinstance(latex, str) and "tabular" in latex
    assert "IRSLResults" in repr(res)


@pytest.fixture(scope="module")
def cov_fits(sim_binom):
    # one slope: three family clusters identify the clustered meat (with the family dummies too,
    # 3 clusters < 5 parameters and the covariance is singular — and warned about)
    # 3 clusters for 3 parameters (Intercept, slope, sigma): the meat has rank 2, which is warned
    # about; the warning is checked in test_cluster_covariance_with_few_clusters_is_warned
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "only 3 clusters", IRSLWarning)
        return {c: fit_binomial(sim_binom, "ability ~ log(compute)", cov_type=c,
                                groups="family" if c == "cluster" else None)
                for c in ("nonrobust", "robust", "cluster")}


def test_cluster_covariance_with_few_clusters_is_warned(cov_fits):
    assert any("only 3 clusters for 3" in w for w in cov_fits["cluster"].warnings)
    assert not any("clusters" in w for w in cov_fits["robust"].warnings)


def test_cov_types(cov_fits):
    nr, rb, cl = cov_fits["nonrobust"], cov_fits["robust"], cov_fits["cluster"]
    for other in (rb, cl):
        pd.testing.assert_series_equal(other.params, nr.params)
        assert other.llf == nr.llf
    coefs = ["log(compute)", "sigma"]
    assert not np.allclose(rb.bse[coefs], nr.bse[coefs], rtol=1e-6)
    ratio = (rb.bse[coefs] / nr.bse[coefs]).to_numpy()
    assert np.all((ratio > 0.3) & (ratio < 3.0))
    assert np.all(np.isfinite(cl.bse[coefs])) and not np.allclose(cl.bse[coefs], rb.bse[coefs], rtol=1e-6)
    assert "robust" in rb.summary().as_text()
    assert "cluster" in cl.summary().as_text()


def test_cluster_groups_from_data_column(sim_binom):
    merged = sim_binom.responses.merge(sim_binom.models[["model", "compute", "family"]], on="model")
    merged["grp"] = merged["family"].astype(str)
    f = "ability ~ log(compute)"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "only 3 clusters", IRSLWarning)
        r = fit(f, data=merged, family="binomial", **COUNTS, cov_type="cluster", groups="grp")
        ref = fit_binomial(sim_binom, f, cov_type="cluster", groups="family")
    assert np.allclose(r.bse, ref.bse, rtol=1e-8)


# ============================================================================ 9. warnings
def test_non_convergence_warning(sim_binom):
    with pytest.warns(IRSLWarning, match="converge"):
        r = fit_binomial(sim_binom, max_iter=2)
    assert not r.converged
    assert r.n_iter <= 2
    assert any("converge" in w for w in r.warnings)
    text = r.summary().as_text()
    assert "Warnings" in text and "converge" in text
    assert "False" in text


def test_non_convergence_warning_mml(sim_binom):
    with pytest.warns(IRSLWarning, match="converge"):
        r = fit_binomial(sim_binom, method="mml", max_iter=2)
    assert not r.converged and any("converge" in w for w in r.warnings)


def test_negative_discrimination_warning(bern_sim):
    df = bern_sim.responses.copy()
    flip = df["question"].astype(str).isin(["q03", "q10", "q50"])
    df.loc[flip, "y"] = 1.0 - df.loc[flip, "y"]
    with pytest.warns(IRSLWarning, match="negative discrimination") as rec:
        r = fit(FORMULA, data=df, models=bern_sim.models, family="bernoulli")
    assert r.items.loc[["q03", "q10", "q50"], "a"].lt(0).all()
    assert (r.items.drop(["q03", "q10", "q50"])["a"] > 0).mean() > 0.95
    assert any("negative discrimination" in w for w in r.warnings)
    assert "negative discrimination" in r.summary().as_text()
    assert any(issubclass(w.category, IRSLWarning) for w in rec)
    with pytest.warns(IRSLWarning, match="monotone"):
        r.predict(new_models(), what="score")


def test_negative_discrimination_beta():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=4)
    df = sim.responses.copy()
    flip = df["question"].astype(str).isin(["q07", "q08"])
    df.loc[flip, "y"] = 1.0 - df.loc[flip, "y"]
    with pytest.warns(IRSLWarning, match="negative discrimination"):
        r = fit("ability ~ log(compute)", data=df, models=sim.models, precision="common", full_cov=False)
    assert (r.items.loc[["q07", "q08"], "a"] < 0).all()


def test_nan_standard_errors_come_with_warnings(beta_fits, ident_fits, precision_fits, cov_fits):
    fits = list(beta_fits.values()) + list(ident_fits.values()) + list(cov_fits.values())
    fits += [v for k, v in precision_fits.items() if k != "sim"]
    for r in fits:
        assert_nan_se_warned(r)
        assert np.all(np.isfinite(r.bse))  # these are clean fits


def test_one_model_per_factor_level_is_rejected():
    """One model per factor level: the latent regression would interpolate (sigma -> 0, no
    residual degrees of freedom) -- an error that counts models and parameters, not NaN."""
    sim = irsl.simulate.irt(n_models=12, n_questions=60, family="binomial", seed=5)
    models = sim.models.copy()
    models["lab"] = models["model"].astype(str)
    with pytest.raises(ValueError, match="12 model"):
        fit("ability ~ lab", data=sim.responses, models=models, family="binomial", method="jml", **COUNTS)


def test_extreme_model_gives_warning(bern_sim):
    """A model that answers every question correctly has no finite JML ability."""
    df = bern_sim.responses.copy()
    df.loc[df["model"].astype(str) == "m00", "y"] = 1.0
    with pytest.warns(IRSLWarning):
        r = fit(FORMULA, data=df, models=bern_sim.models, family="bernoulli", method="jml",
                max_iter=100)
    assert r.warnings
    assert_nan_se_warned(r)
    assert r.abilities.loc["m00", "theta"] == r.abilities["theta"].max()


# ============================================================================ 10. verbose
@pytest.mark.parametrize("method", ["jml", "mml"])
def test_verbose_prints_one_line_per_iteration(sim_binom, method, capsys):
    r = fit_binomial(sim_binom, method=method, verbose=True)
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    iter_lines = [ln for ln in lines if " iter " in ln]
    assert len(iter_lines) == r.n_iter
    # and one line for the phase that prints none of its own: MML's joint-ML start before the
    # iterations, JML's standard errors after them
    assert len(lines) == len(iter_lines) + 1
    quiet = fit_binomial(sim_binom, method=method)
    assert capsys.readouterr().out == ""
    pd.testing.assert_series_equal(quiet.params, r.params)


# ============================================================================ bad inputs
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(family="gaussian"), "family"),
        (dict(irt="3pl"), "irt"),
        (dict(method="em"), "method"),
        (dict(cov_type="HC3"), "cov_type"),
        (dict(cov_type="cluster"), "groups"),
    ],
)
def test_bad_options(sim_beta, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(FORMULA, data=sim_beta.responses, models=sim_beta.models, **kwargs)


@pytest.mark.parametrize(
    "formula, match",
    [
        ("log(compute) + family", "~"),
        ("y ~ log(compute)", "left-hand side"),
        ("score ~ log(compute)", "ability"),
        ("ability ~ log(flops)", "flops"),
        ("ability ~ log(compute) + I(2 * log(compute))", "rank"),
        ("ability ~ ", "right-hand side"),
    ],
)
def test_bad_formulas(sim_binom, formula, match):
    with pytest.raises(ValueError, match=match):
        fit_binomial(sim_binom, formula)


def test_cluster_groups_unknown_column(sim_binom):
    with pytest.raises(ValueError, match="nope"):
        fit_binomial(sim_binom, cov_type="cluster", groups="nope")


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        -1e20,
    ],
)
def test_log_of_non_positive_covariate(sim_binom, value):
    models = sim_binom.models.copy()
    models["model"] = models["model"].astype(str)
    models.loc[models["model"] == "m07", "compute"] = value
    # as a user runs it (numpy's RuntimeWarning not turned into an error): the message names the
    # design column and the model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=r"(?s)log\(compute\).*m07"):
            fit_binomial(sim_binom, models=models)
    # with warnings as errors it is still a ValueError naming the term
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"log\(compute\)"):
            fit_binomial(sim_binom, models=models)


def test_predict_non_positive_covariate(res):
    bad = pd.DataFrame({"compute": [1e22, -1.0], "family": ["fam0", "fam1"]}, index=["ok", "neg"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=r"log\(compute\)"):
            res.predict(bad)


def test_rank_deficient_factor_design(sim_binom):
    models = sim_binom.models.copy()
    models["fam_copy"] = models["family"]
    with pytest.raises(ValueError, match="rank"):
        fit_binomial(sim_binom, "ability ~ family + fam_copy", models=models)


def test_response_column_errors(sim_beta, sim_binom):
    with pytest.raises(ValueError):
        fit(FORMULA, data=sim_beta.responses, models=sim_beta.models, response="nope")
    with pytest.raises(ValueError):
        fit(FORMULA, data=sim_binom.responses, models=sim_binom.models, family="binomial",
                 successes="successes", trials="nope")
    with pytest.raises(TypeError):
        fit(FORMULA, data=sim_beta.responses.to_numpy(), models=sim_beta.models)


def test_results_do_not_depend_on_thread_count(sim_binom):
    one = fit_binomial(sim_binom, n_threads=1)
    two = fit_binomial(sim_binom, n_threads=2)
    pd.testing.assert_series_equal(one.params, two.params, rtol=1e-12, atol=1e-14)
    assert one.llf == pytest.approx(two.llf, rel=1e-12)
    assert one.n_iter == two.n_iter


def test_mml_bernoulli_converges():
    sim = irsl.simulate.irt(n_models=80, n_questions=100, family="bernoulli", d_sd=1.0, seed=4)
    jml = fit(FORMULA, data=sim.responses, models=sim.models, family="bernoulli")
    assert jml.converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        mml = fit(FORMULA, data=sim.responses, models=sim.models, family="bernoulli", method="mml",
                  max_iter=150)
    assert mml.converged, mml.warnings


def test_discrimination_at_the_bound_warning_names_the_remedy():
    """A question that splits the models perfectly (0 of 20 for the weaker half, 20 of 20 for the
    stronger) has no finite 2PL discrimination: the warning names it and the prior that holds it."""
    sim = irsl.simulate.irt(n_models=30, n_questions=20, family="binomial", seed=3)
    df = sim.responses.copy()
    total = df.groupby("model", observed=True)["successes"].sum()
    strong = total.index[total > total.median()]
    split = df["question"] == "q00"
    df.loc[split, "successes"] = np.where(df.loc[split, "model"].isin(strong), df.loc[split, "trials"], 0)
    kw = dict(data=df, successes="successes", trials="trials", family="binomial")
    with pytest.warns(IRSLWarning, match=r"bound \|a\| = 25.*discrimination_prior=1.0"):
        plain = fit("ability ~ 1", **kw)
    assert plain.items.loc["q00", "a"] > 20
    with pytest.warns(IRSLWarning, match=r"prior \(SD 1\) is too weak"):
        fit("ability ~ 1", discrimination_prior=1.0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IRSLWarning)
        held = fit("ability ~ 1", discrimination_prior=0.25, **kw)
    assert 1 < held.items.loc["q00", "a"] < 15 and held.items["a"].gt(0).all()


def test_jml_with_a_singular_joint_information_falls_back_to_conditional_standard_errors():
    """Counts almost never solved: the joint information is exactly singular; the fit says so and
    reports block-conditional SEs (NaN for the undetermined blocks) instead of raising."""
    sim = irsl.simulate.test_time(n_models=6, n_questions=30, benchmarks=("math",), n_samples=2000,
                                  difficulty_shift=-9, seed=1)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", IRSLWarning)
        r = fit("ability ~ 1", data=sim.responses, successes="successes", trials="trials",
                family="binomial", method="jml")
    shown = [str(w.message) for w in rec if issubclass(w.category, IRSLWarning)]
    assert any("joint information of abilities and questions is singular" in m for m in shown)
    assert any("block-conditional" in w for w in r.warnings)
    assert "joint observed information" not in r.summary().as_text()
