"""MultidimResults against the README's ``res.`` API: the Wald test of constraints across
dimensions (shared with IRSLResults through :func:`irsl_stats.inference.wald_test`), the
attributes a D-dimensional fit does not have (an informative AttributeError instead of a bare
one), ``latent_regression`` / ``expected_score``, the summary's identification (sign of the
per-benchmark dimensions) and Sigma-estimator notes, and the one-line ``repr``."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import irsl_stats as irsl
from irsl_stats.results import IRSLWarning

SLOPE0, SLOPE1 = "bench1: x", "bench2: x"


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def sim():
    """Three correlated benchmarks (beta responses, 40 models x 10 questions each) and a covariate
    ``x`` that predicts the abilities."""
    c = irsl.simulate.correlated_benchmarks(n_models=40, questions=10, seed=0)
    theta = np.asarray(c.theta, float)
    labels = c.responses["model"].unique()
    x = theta[:, 0] + theta[:, 2] + np.random.default_rng(0).normal(0.0, 0.5, len(labels))
    return c.responses, pd.DataFrame({"model": labels, "x": x})


def _fit(sim, formula="ability ~ x", **kw):
    kw = {"benchmark": "benchmark", "ability": "per_benchmark", "n_threads": 1, **kw}
    return _quiet(irsl.fit, formula, data=sim[0], models=sim[1], **kw)


@pytest.fixture(scope="module")
def res(sim):
    out = _fit(sim)
    assert out.converged and not out.warnings
    return out


@pytest.fixture(scope="module")
def res_1pl(sim):
    return _fit(sim, "ability ~ 1", irt="1pl")


# ------------------------------------------------------------------ 1. wald_test
def test_wald_test_equal_slopes_is_the_hand_computed_chi_square(res):
    # "is the slope of x the same on both benchmarks": one constraint, normal theory
    out = res.wald_test(f"{SLOPE0} = {SLOPE1}")
    p, v = res.params, res.cov_params()
    diff = p[SLOPE0] - p[SLOPE1]
    var = v.loc[SLOPE0, SLOPE0] + v.loc[SLOPE1, SLOPE1] - 2 * v.loc[SLOPE0, SLOPE1]
    assert var > 0
    np.testing.assert_allclose(float(out.statistic), diff ** 2 / var, rtol=1e-10)
    assert out.distribution == "chi2" and int(out.df_denom) == 1
    np.testing.assert_allclose(float(out.pvalue), stats.chi2.sf(diff ** 2 / var, 1), rtol=1e-10)


def test_wald_test_joint_constraints_string_and_matrix_agree_with_the_quadratic_form(res):
    names = list(res.params.index)
    r = np.zeros((2, len(names)))
    r[0, names.index(SLOPE0)] = 1.0
    r[1, names.index(SLOPE1)] = 1.0
    by_matrix = res.wald_test((r, np.zeros(2)))
    by_text = res.wald_test([f"{SLOPE0} = 0", f"{SLOPE1} = 0"])
    d = r @ res.params.to_numpy()
    hand = float(d @ np.linalg.solve(r @ res.cov_params().to_numpy() @ r.T, d))
    for out in (by_matrix, by_text):
        np.testing.assert_allclose(float(out.statistic), hand, rtol=1e-8)
        assert int(out.df_denom) == 2
    # one parameter: the square of its z statistic (names with spaces, parentheses and commas)
    corr = [n for n in names if n.startswith("atanh corr")][0]
    np.testing.assert_allclose(float(res.wald_test(f"{corr} = 0").statistic), res.tvalues[corr] ** 2, rtol=1e-10)


def test_wald_test_on_a_determined_intercept_warns_and_says_why(res):
    # with covariates each dimension's intercept is set by its slope (mean 0): rank 1, not 2
    with pytest.warns(IRSLWarning, match=r"linearly dependent.*intercept and log sd are functions of its "
                                         r"slopes.*rank 1.*1 degree"):
        out = res.wald_test(["bench1: Intercept = 0", f"{SLOPE0} = 0"])
    assert int(out.df_denom) == 1


def test_wald_test_refuses_f_and_names_the_parameters(res, res_1pl):
    with pytest.raises(ValueError, match="normal theory.*chi-square"):
        res.wald_test(f"{SLOPE0} = 0", use_f=True)
    with pytest.raises(ValueError, match=re.escape(SLOPE0)):
        res.wald_test("slope = 0")
    # ability ~ 1: the means are constants of the identification, nothing to test
    with pytest.raises(ValueError, match="zero variance.*bench1: Intercept"):
        res_1pl.wald_test("bench1: Intercept = 0")


def test_shared_wald_function_matches_a_hand_computation():
    from irsl_stats.inference import wald_test

    p = pd.Series([0.8, 1.1, -0.2], index=["b0: x", "b1: x", "atanh corr(b0, b1)"])
    cov = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.0], [0.0, 0.0, 0.25]])
    out = wald_test(p, cov, "b0: x = b1: x")
    np.testing.assert_allclose(float(out.statistic), 0.3 ** 2 / (0.04 + 0.09 - 0.02), rtol=1e-12)
    f = wald_test(p, cov, ["b0: x = 0", "b1: x = 0"], use_f=True, df_denom=10)
    d = p.to_numpy()[:2]
    np.testing.assert_allclose(float(f.fvalue), d @ np.linalg.solve(cov[:2, :2], d) / 2, rtol=1e-12)
    assert f.df_denom == 10


# ------------------------------------------------------------------ 1. the rest of the API
@pytest.mark.parametrize("name, pointer", [
    ("sigma", "res.Sigma"),
    ("df_resid", "normal theory"),
    ("forecast_pass_at_k", r"res.forecast\(target, ks="),
    ("compare_lr_test", "res.wald_test"),
    ("plot_scaling", r"res.predict\(new_models\)"),
])
def test_one_ability_attributes_say_what_to_use_instead(res, name, pointer):
    with pytest.raises(AttributeError, match=pointer) as got:
        getattr(res, name)
    assert type(got.value).__name__ == "OneAbilityOnlyError" and got.value.name == name
    assert not hasattr(res, name)  # still an AttributeError: duck typing keeps working


def test_expected_score_is_the_banks(res):
    theta = np.array([[0.0, 0.0, 0.0], [1.0, -0.5, 0.3]])
    bank = res.item_bank()
    np.testing.assert_allclose(res.expected_score(theta, "bench2"), bank.expected_score(theta, "bench2"),
                               rtol=1e-14)
    np.testing.assert_allclose(res.expected_score(theta), bank.expected_score(theta), rtol=1e-14)


def test_latent_regression_is_the_law_predict_uses(res):
    law = res.latent_regression
    assert law["formula"] == res.design.formula and law["dim_names"] == ["bench1", "bench2", "bench3"]
    assert list(law["B"].index) == law["column_names"] == ["Intercept", "x"]
    pd.testing.assert_frame_equal(law["Sigma"], res.Sigma)
    pd.testing.assert_frame_equal(law["cov"], res.cov_params())
    np.testing.assert_allclose(law["B"].loc["x", "bench1"], res.params[SLOPE0], rtol=1e-14)
    new = pd.DataFrame({"x": [-1.0, 2.5]})
    pred = res.predict(new)
    x = law["design"].transform(new)
    np.testing.assert_allclose(pred["mean"].to_numpy(), (x @ law["B"].to_numpy()).ravel(), rtol=1e-12)


# ------------------------------------------------------------------ 2. summary notes
def test_per_benchmark_summary_states_the_sign_convention(res):
    text = res.summary().as_text().replace("\n    ", " ")
    assert "sign such that its loadings sum to a positive number" in text
    # and the fit follows it
    for b in ("bench1", "bench2", "bench3"):
        assert res.items.loc[res.items["benchmark"] == b, f"a_{b}"].sum() > 0


def test_summary_names_the_sigma_estimator(sim, res, res_1pl):
    flat = lambda r: r.summary().as_text().replace("\n    ", " ")  # noqa: E731
    # 1PL, and 2PL with covariates: REML, whose llf does not compare laws
    for r in (res, res_1pl):
        text = flat(r)
        assert "Sigma estimator: REML" in text
        assert "not comparable under REML: refit with reml=False" in text
    # 2PL without covariates: the identification sets the scale, the divisor is M
    two_pl = _fit(sim, "ability ~ 1")
    assert "Sigma estimator: maximum likelihood (Sigma divided by M)" in flat(two_pl)
    assert two_pl.sigma_reml is False


def test_summary_sigma_estimator_follows_the_recorded_reml(res):
    from irsl_stats.multidim_results import MultidimResults

    def rebuilt(reml):
        return _quiet(MultidimResults, res._est, rd=res._rd, design=res.design, pattern=res.pattern,
                      family=res.family, irt=res.irt, precision=res.precision, reml=reml)

    ml, reml = rebuilt(False), rebuilt(True)
    assert ml.sigma_reml is False and reml.sigma_reml is True
    assert "Sigma estimator: maximum likelihood" in ml.summary().as_text()
    text = reml.summary().as_text().replace("\n    ", " ")
    assert "Sigma estimator: REML (P = 2" in text and "with reml=False" not in text.split("Sigma estimator")[1][:200]


def test_a_reml_false_fit_is_never_reported_as_plain_reml(sim):
    text = _fit(sim, reml=False).summary().as_text().replace("\n    ", " ")
    note = text.split("Sigma estimator: ", 1)[1][:400]
    # irsl.fit records reml=, so the note is definite (no "with reml=True, the default" hedge)
    assert note.startswith("maximum likelihood"), note
    assert note.startswith("REML") is False
    assert "with reml=True, the default" not in _fit(sim).summary().as_text().replace("\n    ", " ")


def test_plot_scaling_of_a_multidimensional_fit_says_what_to_plot(res):
    pytest.importorskip("matplotlib")
    with pytest.raises(TypeError, match=r"one ability per model; .*res.predict"):
        irsl.plot_scaling(res, x="x")


# ------------------------------------------------------------------ 3. repr
def test_repr_is_one_line_like_irslresults(res, sim):
    text = repr(res)
    assert re.fullmatch(r"<MultidimResults beta 2PL per_benchmark D=3 MML: 40 models, 30 questions, "
                        r"1200 responses, llf=-?\d+(\.\d+)?>", text), text
    assert f"{res.nobs} responses" in text and f"llf={res.llf:.6g}" in text
    one = _quiet(irsl.fit, "ability ~ x", data=sim[0], models=sim[1], n_threads=1)
    # the same counts as the 1-D fit of the same responses, in the same words
    assert repr(one).split(":")[1].split(", llf=")[0] == text.split(":")[1].split(", llf=")[0]
