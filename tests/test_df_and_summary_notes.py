"""Degrees of freedom of the scaling law and the summary notes that report them.

* JML gives weight 0 in the latent regression to the models whose ability has no finite standard
  error (all responses extreme): ``df_resid``, the t reference of the summary, the F reference of
  ``compare_lr_test`` and the BIC of ``anova`` count the models in the regression only.
* The note on sigma's interval names the reference its quantile comes from (t or normal).
* Constants fixed by the identification are exactly 0 (or 1), in ``params`` and in ``predict``.
* ``df_model`` is statsmodels': the rank of the design less 1 when it spans the constant.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import irsl_stats as irsl
from irsl_stats.identification import Identification

KW = dict(n_threads=1)


# ------------------------------------------------------------------ 1. JML models of weight 0
@pytest.fixture(scope="module")
def extreme():
    """10 models x 200 questions (bernoulli 1PL); the 3 largest answer every question right."""
    sim = irsl.simulate.irt(n_models=10, n_questions=200, family="bernoulli", irt="1pl", seed=8,
                            family_effects=(0.0,))
    r = sim.responses.copy()
    top = sim.models.sort_values("compute").model.iloc[-3:].tolist()
    r.loc[r.model.isin(top), "y"] = 1
    kw = dict(data=r, models=sim.models, family="bernoulli", irt="1pl", method="jml", **KW)
    fits = {}
    for formula in ("ability ~ log(compute)", "ability ~ 1"):
        with pytest.warns(irsl.IRSLWarning) as record:
            fits[formula] = irsl.fit(formula, **kw)
        assert any("get weight 0 in the latent regression" in str(w.message) for w in record)
    return sim, top, fits


def test_jml_df_resid_counts_the_models_in_the_latent_regression(extreme):
    sim, top, fits = extreme
    res = fits["ability ~ log(compute)"]
    assert res.fit_info.n_models == 10
    in_regression = res.abilities["se"].notna().to_numpy()
    assert in_regression.sum() == 7 and not in_regression[res.abilities.index.isin(top)].any()
    # as OLS of the abilities on the 7 models the regression uses
    kept = res.abilities[in_regression]
    compute = sim.models.set_index("model").loc[kept.index, "compute"]
    ols = sm.OLS(kept["theta"].to_numpy(), sm.add_constant(np.log(compute.to_numpy()))).fit()
    assert res.df_resid == ols.df_resid == 5
    assert res._inference_df() == 5
    q = stats.t.ppf(0.975, 5)
    ci = res.conf_int()
    assert ci.loc["log(compute)", 1] - ci.loc["log(compute)", 0] == pytest.approx(
        2 * q * res.bse["log(compute)"], rel=1e-12)
    assert res.pvalues["log(compute)"] == pytest.approx(
        2 * stats.t.sf(abs(res.tvalues["log(compute)"]), 5), rel=1e-12)


def test_jml_summary_names_the_degrees_of_freedom_and_the_models_left_out(extreme):
    res = extreme[2]["ability ~ log(compute)"]
    text = " ".join(res.summary().as_text().split())
    assert "Student's t with 5 degrees of freedom" in text
    assert "the 7 models in the latent regression" in text
    assert "the 3 without a finite ability standard error get weight 0" in text


def test_jml_lr_test_f_reference_and_bic_use_the_models_in_the_regression(extreme):
    fits = extreme[2]
    full, small = fits["ability ~ log(compute)"], fits["ability ~ 1"]
    with pytest.warns(irsl.IRSLWarning):  # the refits with reml=False repeat the fits' warnings
        test = full.compare_lr_test(small)
    m, dfd = 7, 5
    assert test.df_diff == 1
    assert test.p_value == pytest.approx(stats.f.sf(np.expm1(test.lr_stat / m) * dfd, 1, dfd), rel=1e-10)
    with pytest.warns(irsl.IRSLWarning):
        table = irsl.anova(small, full)
    for formula, k in (("ability ~ 1", 2), ("ability ~ log(compute)", 3)):
        row = table.loc[formula]
        assert row["bic"] == pytest.approx(-2 * row["llf"] + np.log(m) * k, rel=1e-12)


# ------------------------------------------------------------------ 2. the note on sigma's interval
@pytest.fixture(scope="module")
def sigma_free():
    sim = irsl.simulate.irt(n_models=20, n_questions=60, irt="1pl", seed=2)
    kw = dict(data=sim.responses, models=sim.models, irt="1pl", **KW)
    return {use_t: irsl.fit("ability ~ log(compute) + family", use_t=use_t, **kw)
            for use_t in (True, False)}


def _sigma_note(res, alpha=0.05):
    text = " ".join(res.summary(alpha=alpha).as_text().split())
    start = text.index("The interval of sigma is")
    return text[start:text.index(".", text.index("quantile", start)) + 1]


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_sigma_note_names_the_t_reference_the_interval_uses(sigma_free, alpha):
    res = sigma_free[True]
    df = res.df_resid
    note = _sigma_note(res, alpha)
    q = stats.t.ppf(1 - alpha / 2, df)
    assert f"quantile of Student's t with {df} degrees of freedom" in note
    assert f"q = {q:.4g}, the {1 - alpha / 2:.6g} quantile" in note
    assert "-+ z" not in note
    # the bounds the note describes are the printed ones
    s, se = res.params["sigma"], res.bse["sigma"]
    lo, hi = res.conf_int(alpha).loc["sigma"]
    assert (lo, hi) == pytest.approx((s * np.exp(-q * se / s), s * np.exp(q * se / s)), rel=1e-12)


def test_sigma_note_names_the_normal_reference_under_use_t_false(sigma_free):
    res = sigma_free[False]
    note = _sigma_note(res)
    assert "quantile of the standard normal" in note and "Student" not in note
    q = stats.norm.ppf(0.975)
    assert f"q = {q:.4g}" in note
    s, se = res.params["sigma"], res.bse["sigma"]
    assert res.conf_int().loc["sigma", 1] == pytest.approx(s * np.exp(q * se / s), rel=1e-12)


# ------------------------------------------------------------------ 3. constants are exact
@pytest.fixture(scope="module")
def null_data():
    sim = irsl.simulate.irt(n_models=30, n_questions=40, seed=4)
    return sim


@pytest.mark.parametrize("options", [dict(), dict(irt="1pl"), dict(method="jml"),
                                     dict(identification="regression")])
def test_intercept_fixed_by_the_identification_is_exactly_zero(null_data, options):
    res = irsl.fit("ability ~ 1", data=null_data.responses, models=null_data.models, **options, **KW)
    assert "Intercept" in res.fixed_params
    assert res.params["Intercept"] == 0.0
    if options.get("irt", "2pl") == "2pl":
        assert res.params["sigma"] == 1.0
    new = pd.DataFrame({"x": [1.0, 2.0]})
    assert (res.predict(new)["mean"].to_numpy() == 0.0).all()
    row = next(line for line in res.summary().tables[1].as_text().splitlines()
               if line.startswith("Intercept"))
    assert row.split()[1] == "0" and "(fixed)" in row


def test_population_transform_pins_the_intercept_exactly():
    # loc is the mean of the fitted values over the models, which differs from the intercept
    # by rounding for almost every value
    x = np.ones((30, 1))
    ident = Identification.build("population", "2pl", x, ["Intercept"])
    rng = np.random.default_rng(0)
    for b in rng.normal(size=50) * 10.0 ** rng.integers(-30, 5, size=50):
        beta_star, sigma_star, _, _ = ident.transform(np.array([b]), 0.7)
        assert beta_star[0] == 0.0 and sigma_star == 1.0
    # an intercept with a centred covariate: the intercept is pinned, the slope is not
    z = rng.normal(size=30) * 1e22
    z -= z.mean()
    x = np.column_stack([np.ones(30), z])
    ident = Identification.build("population", "1pl", x, ["Intercept", "z"])
    assert np.isnan(ident.fixed_values(2)).tolist() == [False, True, True]
    beta_star, sigma_star, _, _ = ident.transform(np.array([0.3, 2e-22]), 0.5)
    assert beta_star[0] == 0.0 and beta_star[1] == 2e-22 and sigma_star == 0.5
    # a covariate with a mean pins nothing
    x = np.column_stack([np.ones(30), z + 1e21])
    ident = Identification.build("population", "2pl", x, ["Intercept", "z"])
    assert np.isnan(ident.fixed_values(2)).all()


# ------------------------------------------------------------------ 4. df_model as statsmodels
@pytest.mark.parametrize("formula", ["ability ~ 0 + family + log(compute)", "ability ~ 0 + family"])
def test_df_model_matches_statsmodels(null_data, formula):
    import statsmodels.formula.api as smf

    models = null_data.models
    # a full set of factor levels implies the constant, as an intercept does
    with_intercept = formula.replace("0 + ", "")
    for f in (formula, with_intercept):
        res = irsl.fit(f, data=null_data.responses, models=models, **KW)
        ols = smf.ols("theta ~ " + f.split("~")[1].replace("log(", "np.log("), data=models).fit()
        assert res.df_model == ols.df_model
        # MML: every model is in the latent regression
        assert res.df_resid == ols.df_resid == res.fit_info.n_models - len(res.design.column_names)
