"""Inputs and edge cases of the results object (irsl_stats/results.py, irsl_stats/summary.py).

Wald tests with rank-deficient or unparsable constraints, validation of ``alpha`` everywhere it is
accepted, the log-scale interval of ``sigma``, parameters fixed by the identification, and the
labels of ``forecast_pass_at_k`` for a models table.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import irsl_stats as irsl
from irsl_stats.results import IRSLWarning, check_alpha

FORMULA = "ability ~ log(compute) + family"


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=60, benchmarks=2, seed=0)


def _fit(sim, formula=FORMULA, **kw):
    return irsl.fit(formula, data=sim.responses, models=sim.models, n_threads=1, **kw)


@pytest.fixture(scope="module")
def res(sim):
    return _fit(sim)


@pytest.fixture(scope="module")
def res_const(sim):
    """``ability ~ 1`` under the default 2PL population identification: Intercept = 0 and
    sigma = 1 are constants of the identification."""
    return _fit(sim, "ability ~ 1")


# ============================================================================ 1. wald_test
def test_wald_test_duplicate_constraints_reduce_df_with_warning(res):
    single = res.wald_test("family[T.fam1] = 0", use_f=False)
    with pytest.warns(IRSLWarning, match="linearly dependent.*rank 1.*1 degree"):
        dup = res.wald_test(["family[T.fam1] = 0", "family[T.fam1] = 0"], use_f=False)
    assert int(dup.df_denom) == 1
    assert float(np.squeeze(dup.statistic)) == pytest.approx(float(np.squeeze(single.statistic)), rel=1e-8)
    assert float(np.squeeze(dup.pvalue)) == pytest.approx(float(np.squeeze(single.pvalue)), rel=1e-6)


def test_wald_test_on_parameters_determined_by_identification(res):
    # under "population" sigma (and the intercept) are functions of the slopes: cov_params() has
    # zero eigenvalues and the 4 constraints span only 3 directions
    with pytest.warns(IRSLWarning, match="fixed by the identification.*rank 3"):
        w = res.wald_test("log(compute)=0, family[T.fam1]=0, family[T.fam2]=0, sigma=0.5", use_f=False)
    assert int(w.df_denom) == 3
    assert np.isfinite(float(np.squeeze(w.statistic)))
    with pytest.warns(IRSLWarning):
        wf = res.wald_test("log(compute)=0, family[T.fam1]=0, family[T.fam2]=0, sigma=0.5", use_f=True)
    assert int(wf.df_num) == 3


def test_wald_test_full_rank_has_no_warning(res):
    # filterwarnings=error: any warning fails here
    w = res.wald_test(["family[T.fam1] = 0", "family[T.fam2] = 0"], use_f=False)
    assert int(w.df_denom) == 2


def test_wald_test_unknown_name_lists_valid_names(res):
    with pytest.raises(ValueError, match=re.escape("'log(compute)'")) as info:
        res.wald_test("family[T.nope] = 0")
    assert "constraints" in str(info.value) and "sigma" in str(info.value)


def test_wald_test_tuple_shape_checked(res):
    with pytest.raises(ValueError, match=r"R must have shape \(J, 5\)"):
        res.wald_test((np.ones((1, 3)), np.zeros(1)))
    # a well-formed tuple matches the string form
    r = np.zeros((1, 5))
    r[0, list(res.params.index).index("family[T.fam1]")] = 1.0
    a = res.wald_test((r, np.zeros(1)))
    b = res.wald_test("family[T.fam1] = 0")
    assert float(np.squeeze(a.statistic)) == pytest.approx(float(np.squeeze(b.statistic)))


def test_wald_test_only_fixed_parameters_raises(res_const):
    with pytest.raises(ValueError, match="fixed by the identification"):
        res_const.wald_test("sigma = 0.5")


# ============================================================================ 2. alpha
BAD_ALPHAS = [1.5, 1.0, 0.0, -0.1, float("nan"), True, "0.05x", None]


@pytest.mark.parametrize("alpha", BAD_ALPHAS, ids=repr)
@pytest.mark.parametrize("method", ["conf_int", "summary", "predict", "predict_score", "forecast_pass_at_k"])
def test_alpha_outside_unit_interval_raises(res, method, alpha):
    call = {
        "conf_int": lambda: res.conf_int(alpha),
        "summary": lambda: res.summary(alpha=alpha),
        "predict": lambda: res.predict(alpha=alpha),
        "predict_score": lambda: res.predict(what="score", alpha=alpha),
        "forecast_pass_at_k": lambda: res.forecast_pass_at_k([1, 10], alpha=alpha),
    }[method]
    with pytest.raises(ValueError, match=r"`alpha` must be .*\(0, 1\)"):
        call()


def test_check_alpha_accepts_valid_levels(res):
    assert check_alpha(0.05) == 0.05
    assert check_alpha(np.float32(0.1)) == pytest.approx(0.1)
    ci = res.conf_int(0.1)
    assert (ci[0] < ci[1]).all()
    assert "[0.05" in res.summary(alpha=0.1).as_text()


# ============================================================================ 3. sigma interval
@pytest.fixture(scope="module")
def res_small_sigma():
    # 1PL: sigma is a free parameter (under 2PL with covariates the identification sets it from the
    # slopes and its interval is the image of their ellipsoid: tests/test_audit3_intervals.py)
    s = irsl.simulate.irt(n_models=40, n_questions=60, seed=3, sigma=0.0)
    return irsl.fit(FORMULA, data=s.responses, models=s.models, method="jml", irt="1pl", n_threads=1)


def test_sigma_interval_is_positive_log_scale(res_small_sigma):
    r = res_small_sigma
    sigma, se = r.params["sigma"], r.bse["sigma"]
    assert sigma - 1.96 * se < 0  # the symmetric Wald interval would cross zero
    lo, hi = r.conf_int().loc["sigma"]
    z = stats.t.ppf(0.975, r.df_resid)  # fit's default use_t=True
    assert lo > 0
    assert lo == pytest.approx(sigma * np.exp(-z * se / sigma), rel=1e-12)
    assert hi == pytest.approx(sigma * np.exp(z * se / sigma), rel=1e-12)
    # bse is unchanged (still the Wald standard error of sigma)
    assert se == pytest.approx(np.sqrt(r.cov_params().loc["sigma", "sigma"]))


def test_summary_prints_the_log_scale_sigma_interval(res_small_sigma):
    r = res_small_sigma
    text = r.summary().as_text()
    row = next(line for line in text.splitlines() if line.startswith("sigma "))
    lo, hi = (float(v) for v in row.split()[-2:])
    assert lo > 0
    assert lo == pytest.approx(r.conf_int().loc["sigma", 0], abs=1e-3)
    assert hi == pytest.approx(r.conf_int().loc["sigma", 1], abs=1e-3)
    assert "log scale" in text


# ============================================================================ 4. fixed parameters
def test_fixed_parameters_have_nan_tests(res_const):
    r = res_const
    assert r.fixed_params == ["Intercept", "sigma"]
    assert r.tvalues.isna().all() and r.pvalues.isna().all()
    assert list(r.tvalues.index) == list(r.params.index)
    assert (r.bse == 0).all()  # bse stays 0: the value is exact
    assert r.params["sigma"] == pytest.approx(1.0)


def test_summary_marks_fixed_parameters(res_const):
    text = res_const.summary().as_text()
    for name in ("Intercept", "sigma"):
        row = next(line for line in text.splitlines() if line.startswith(name + " "))
        assert "(fixed)" in row
        assert "inf" not in row and "nan" not in row and "0.000" not in row.split("(fixed)")[1]
    assert "Fixed by the identification" in text
    assert re.search(r"Intercept,\s+sigma", text)


def test_fixed_detection_only_for_constants(sim, res):
    # with covariates the intercept and sigma are determined by the slopes but still vary
    assert res.fixed_params == []
    assert res.tvalues.notna().all()
    # 1PL: the scale is fixed by a_j = 1, sigma is estimated; the intercept of ability ~ 1 is 0
    r1 = _fit(sim, "ability ~ 1", irt="1pl")
    assert r1.fixed_params == ["Intercept"]
    assert np.isfinite(r1.tvalues["sigma"]) and np.isnan(r1.tvalues["Intercept"])
    # a centred covariate: the population convention pins the intercept at 0 (SE ~1e-13 from
    # the numerical Jacobian of the identification)
    rc = _fit(sim, "ability ~ center(log(compute))")
    assert rc.fixed_params == ["Intercept"]
    assert "(fixed)" in rc.summary().as_text()
    # the regression convention reports its fixed parameters as constants
    rr = _fit(sim, identification="regression")
    assert rr.fixed_params == ["Intercept", "sigma"]
    assert rr.tvalues.drop(rr.fixed_params).notna().all()


# ============================================================================ 5. pass@k labels
@pytest.fixture(scope="module")
def res_passk():
    sim2 = irsl.simulate.irt(n_models=30, n_questions=20, seed=0)
    return sim2, irsl.fit("ability ~ log(compute)", data=sim2.responses, models=sim2.models, n_threads=1)


def test_forecast_pass_at_k_labels_from_models_column(res_passk):
    sim2, r = res_passk
    out = r.forecast_pass_at_k([1, 10], models=sim2.models.iloc[:3])
    assert out["model"].tolist() == ["m00", "m01", "m02"] * 2
    assert out["k"].tolist() == [1, 1, 1, 10, 10, 10]
    assert pd.api.types.is_integer_dtype(out["k"])
    # the same forecast from a table indexed by the labels
    by_index = r.forecast_pass_at_k([1, 10], models=sim2.models.iloc[:3].set_index("model"))
    assert by_index["model"].tolist() == out["model"].tolist()
    assert np.allclose(by_index["pass_at_k"], out["pass_at_k"])
    # fitted models (no models table): labels and integer k as well
    own = r.forecast_pass_at_k([1])
    assert own["model"].tolist()[:3] == ["m00", "m01", "m02"]
    assert pd.api.types.is_integer_dtype(own["k"])


def test_forecast_pass_at_k_without_label_column_uses_index(res_passk):
    sim2, r = res_passk
    models = sim2.models.iloc[:2].drop(columns="model")
    models.index = ["x", "y"]
    out = r.forecast_pass_at_k([1], models=models)
    assert out["model"].tolist() == ["x", "y"]

