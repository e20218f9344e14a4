"""Audit of the inference layer: standard errors, Wald and likelihood-ratio tests, summary.

Every reference here is independent of irsl_stats: statsmodels OLS/WLS and closed forms.
"""

import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import statsmodels.api as sm

import irsl_stats as irsl
from irsl_stats.latent_regression import fit_latent_regression, sandwich
from irsl_stats.lrtest import _lr
from irsl_stats.results import IRSLWarning


@pytest.fixture(scope="module")
def sigma_zero_sim():
    # 1PL, no residual spread around the law, few questions per model: with the abilities'
    # own (diagonal) sampling variances and ML, sigma is estimated on its boundary 0
    return irsl.simulate.irt(n_models=20, n_questions=12, family="binomial", irt="1pl", seed=0,
                             sigma=0.0, n_trials=3, d_sd=0.5)


def _fit_sigma_zero(sim, **kw):
    with pytest.warns(IRSLWarning, match="estimated at 0"):
        return irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models,
                        family="binomial", successes="successes", trials="trials", response=None,
                        irt="1pl", method="jml", precision="common", full_cov=False, reml=False,
                        n_threads=1, **kw)


@pytest.mark.parametrize("identification", ["population", "regression"])
def test_sigma_on_its_boundary_keeps_the_coefficient_ses(sigma_zero_sim, identification):
    # before the fix a NaN variance of sigma spread through the identification's Jacobian
    # (NaN * 0 = NaN) and every coefficient's standard error came out NaN
    res = _fit_sigma_zero(sigma_zero_sim, identification=identification)
    assert res.params["sigma"] < 1e-4
    assert np.isnan(res.bse["sigma"]) and np.isnan(res.pvalues["sigma"])
    # sigma = 0: the law is a weighted regression with the abilities' sampling variances as
    # known error variances (statsmodels WLS with a fixed scale of 1)
    ab = res.abilities
    logc = np.log(sigma_zero_sim.models.set_index("model").loc[ab.index, "compute"].to_numpy())
    wls = sm.WLS(ab["theta"].to_numpy(), sm.add_constant(logc),
                 weights=1.0 / ab["se"].to_numpy() ** 2).fit(cov_type="fixed scale")
    np.testing.assert_allclose(res.params["log(compute)"], wls.params[1], rtol=1e-6)
    np.testing.assert_allclose(res.bse["log(compute)"], wls.bse[1], rtol=1e-6)
    text = res.summary().as_text()
    row = [line for line in text.splitlines() if line.startswith("log(compute)")][0]
    assert "nan" not in row


def test_robust_se_of_sigma_on_its_boundary_is_undefined(sigma_zero_sim):
    # the score of sigma vanishes at 0, so the sandwich gave sigma a spuriously tiny SE (~1e-6)
    res = _fit_sigma_zero(sigma_zero_sim, cov_type="robust")
    assert np.isnan(res.bse["sigma"])
    assert np.isfinite(res.bse["log(compute)"]) and res.bse["log(compute)"] > 0.01


def _design(m=40, seed=0):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(m), rng.normal(size=m), rng.normal(size=m)])
    t = x @ [0.2, 0.5, -0.3] + rng.normal(size=m) * (0.5 + 0.5 * np.abs(x[:, 1]))
    groups = rng.integers(0, 8, m)
    return x, t, groups


@pytest.mark.parametrize("reml", [True, False])
def test_latent_regression_covariances_follow_the_documented_conventions(reml):
    # abilities known exactly (v = 0): the latent regression is OLS
    x, t, groups = _design()
    m, p = x.shape
    f = fit_latent_regression(x, t, np.zeros(m), reml)
    ols = sm.OLS(t, x).fit()
    np.testing.assert_allclose(f.beta, ols.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(f.sigma**2, ols.ssr / (m - p if reml else m), rtol=1e-6)
    if reml:
        np.testing.assert_allclose(np.sqrt(np.diag(f.cov)[:p]), ols.bse, rtol=1e-6)
    # robust: HC0 times M/(M-1); cluster: statsmodels' CRV1 without its (M-1)/(M-P) factor
    rob = np.sqrt(np.diag(sandwich(f.hessian, f.scores))[:p])
    hc0 = ols.get_robustcov_results("HC0").bse
    np.testing.assert_allclose(rob, hc0 * np.sqrt(m / (m - 1)), rtol=1e-8)
    clu = np.sqrt(np.diag(sandwich(f.hessian, f.scores, groups))[:p])
    sm_clu = ols.get_robustcov_results("cluster", groups=groups).bse
    np.testing.assert_allclose(clu, sm_clu * np.sqrt((m - p) / (m - 1)), rtol=1e-8)


def test_lr_statistic_and_f_reference_match_ols():
    # with v = 0 the likelihood-ratio of nested latent regressions is OLS's, and the small-sample
    # p-value is the exact F test of the restriction
    x, t, _ = _design(m=30, seed=3)
    m = len(t)
    ml_full = fit_latent_regression(x, t, np.zeros(m), reml=False)
    ml_small = fit_latent_regression(x[:, :2], t, np.zeros(m), reml=False)

    def stub(f, p):
        # every model is in the regression: df_resid = m - p (as IRSLResults.df_resid)
        return SimpleNamespace(converged=True, df_resid=m - p,
                               design=SimpleNamespace(column_names=list(range(p)), matrix=x[:, :p]),
                               fit_info=SimpleNamespace(method="jml", latent_llf=f.loglik, n_models=m))

    ols_full, ols_small = sm.OLS(t, x).fit(), sm.OLS(t, x[:, :2]).fit()
    lr_ref, p_chi2, _ = ols_full.compare_lr_test(ols_small)
    f_ref, p_f, _ = ols_full.compare_f_test(ols_small)
    test = _lr(stub(ml_full, 3), stub(ml_small, 2), 1, small_sample=True)
    np.testing.assert_allclose(test.lr_stat, lr_ref, rtol=1e-8)
    np.testing.assert_allclose(test.p_value, p_f, rtol=1e-6)
    np.testing.assert_allclose(_lr(stub(ml_full, 3), stub(ml_small, 2), 1, False).p_value, p_chi2, rtol=1e-6)


@pytest.fixture(scope="module")
def family_fit():
    sim = irsl.simulate.irt(n_models=60, n_questions=150, family="bernoulli", irt="1pl", seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)  # one-sided questions in the simulation
        return irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models,
                        family="bernoulli", irt="1pl", method="jml", n_threads=1)


def test_wald_test_strings_match_the_closed_form(family_fit):
    res = family_fit
    b, v = res.params.to_numpy(), res.cov_params().to_numpy()
    names = list(res.params.index)
    i, j = names.index("family[T.fam1]"), names.index("family[T.fam2]")
    r2 = np.zeros((2, len(names)))
    r2[0, i] = r2[1, j] = 1.0
    joint = float(b @ r2.T @ np.linalg.solve(r2 @ v @ r2.T, r2 @ b))
    for c in (["family[T.fam1] = 0", "family[T.fam2] = 0"], "family[T.fam1], family[T.fam2]"):
        w = res.wald_test(c, use_f=False)
        np.testing.assert_allclose(float(np.squeeze(w.statistic)), joint, rtol=1e-9)
        assert int(w.df_denom) == 2
    diff = np.zeros(len(names))
    diff[i], diff[j] = 1.0, -1.0
    eq = float((diff @ b) ** 2 / (diff @ v @ diff))
    w = res.wald_test("family[T.fam1] = family[T.fam2]")
    np.testing.assert_allclose(float(np.squeeze(w.statistic)), eq, rtol=1e-9)
    with pytest.raises(ValueError, match="family\\[T.fam1\\]"):  # the message lists valid names
        res.wald_test("family[T.nope] = 0")


def _summary_numbers(res, alpha=0.05):
    """Parse the parameter rows and the header numbers of a summary."""
    text = res.summary(alpha).as_text()
    rows = {}
    for name in res.params.index:
        line = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
        assert len(line) == 1, name
        rows[name] = line[0][len(name):].split()
    head = {lab: float(re.search(re.escape(lab) + r"\s+(\S+)", text).group(1).replace(",", ""))
            for lab in ("Log-Likelihood:", "AIC:", "BIC:", "No. responses:", "No. models:")}
    return text, rows, head


@pytest.mark.parametrize("irt,method,formula,cov_type", [
    ("1pl", "jml", "ability ~ 1", "nonrobust"),
    ("2pl", "mml", "ability ~ log(compute) + family", "robust"),
    ("2pl", "jml", "ability ~ log(compute)", "cluster"),
])
def test_summary_shows_the_attributes(irt, method, formula, cov_type):
    sim = irsl.simulate.irt(n_models=40, n_questions=60, family="beta_binomial", irt=irt, seed=2,
                            n_trials=10)
    sim.models["lab"] = [f"lab{i % 8}" for i in range(len(sim.models))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        res = irsl.fit(formula, data=sim.responses, models=sim.models, family="beta_binomial",
                       successes="successes", trials="trials", response=None, irt=irt,
                       method=method, precision="common", cov_type=cov_type, n_threads=1,
                       groups="lab" if cov_type == "cluster" else None)
    alpha = 0.1
    text, rows, head = _summary_numbers(res, alpha)
    ci = res.conf_int(alpha)
    for name, tok in rows.items():
        if "(fixed)" in tok:
            assert name in res.fixed_params
            ref = [res.params[name]]
        else:
            ref = [res.params[name], res.bse[name], res.tvalues[name], res.pvalues[name],
                   ci.loc[name, 0], ci.loc[name, 1]]
            assert len(tok) == 6
        for shown, value in zip(tok, ref):
            assert float(shown) == pytest.approx(value, rel=2e-3, abs=1e-3), (name, tok, ref)
    assert head["Log-Likelihood:"] == pytest.approx(res.llf, rel=1e-7)
    assert head["AIC:"] == pytest.approx(-2 * res.llf + 2 * res._n_params, rel=1e-7)
    assert head["AIC:"] == pytest.approx(res.aic, rel=1e-7)
    assert head["BIC:"] == pytest.approx(res.bic, rel=1e-7)
    assert head["No. responses:"] == res.nobs == len(sim.responses)
    assert head["No. models:"] == 40
    assert "Sigma estimator: REML" in text and "Identification:" in text
    assert cov_type in text
    assert re.search(r"Converged:\s+(\S+)", text).group(1) == str(res.converged)
    assert "nan" not in text.lower()
    flat = " ".join(text.split())
    for w in res.warnings:
        assert " ".join(w.split())[:60] in flat


def test_anova_criteria_agree_with_the_fits_own_under_mml():
    sim = irsl.simulate.irt(n_models=40, n_questions=40, family="bernoulli", irt="1pl", seed=1)
    kw = dict(data=sim.responses, models=sim.models, family="bernoulli", irt="1pl", reml=False,
              n_threads=1)
    small, full = irsl.fit("ability ~ 1", **kw), irsl.fit("ability ~ log(compute)", **kw)
    table = irsl.anova(full, small)  # any order
    assert list(table.index) == ["ability ~ 1", "ability ~ log(compute)"]
    for r, (_, row) in zip((small, full), table.iterrows()):
        assert row["llf"] == pytest.approx(r.llf, rel=1e-12)
        assert row["aic"] == pytest.approx(r.aic, rel=1e-12)
        assert row["bic"] == pytest.approx(r.bic, rel=1e-12)
    # one more free coefficient, same question parameters
    assert full._n_params - small._n_params == 1
    assert table["df_diff"].iloc[1] == 1
    assert table["lr_stat"].iloc[1] == pytest.approx(2 * (full.llf - small.llf), rel=1e-12)


def test_anova_of_non_nested_laws_gives_an_anova_remedy():
    # the message used to tell anova users to swap `restricted`, an argument anova does not have
    sim = irsl.simulate.irt(n_models=30, n_questions=40, family="bernoulli", irt="1pl", seed=1)
    kw = dict(data=sim.responses, models=sim.models, family="bernoulli", irt="1pl", method="jml",
              reml=False, n_threads=1)
    compute, fam = irsl.fit("ability ~ log(compute)", **kw), irsl.fit("ability ~ family", **kw)
    with pytest.raises(ValueError, match="not nested") as info:
        irsl.anova(compute, fam)
    assert "as `restricted`" not in str(info.value) and "sequence of nested laws" in str(info.value)
    with pytest.raises(ValueError, match="give each law once"):
        irsl.anova(compute, compute)
    with pytest.raises(ValueError, match="as `restricted`"):  # the pairwise test keeps its hint
        fam.compare_lr_test(compute)
