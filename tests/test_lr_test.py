"""Maximum-likelihood fits (``reml=False``) and the likelihood-ratio test of nested scaling laws."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import irsl_stats as irsl
from irsl_stats.api import kernel_data
from irsl_stats.jml import ItemState
from irsl_stats.mml import _Posterior, gauss_hermite

FULL = "ability ~ log(compute) + family"
SMALL = "ability ~ log(compute)"


def _quiet_fit(formula, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(formula, n_threads=1, **kw)


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=60, seed=1)


def _marginal_loglik(res, responses, a_factor=1.0, sigma_factor=1.0, slope_shift=0.0):
    """Marginal log-likelihood at the reported estimates, with one of them moved: the
    discriminations by a common factor, sigma by a factor, or the log(compute) slope."""
    rd = irsl.ResponseData.from_long(responses, family="beta")
    kd = kernel_data(rd)
    items = res.items.loc[list(rd.item_labels)]
    a = items["a"].to_numpy() * a_factor
    d, log_phi = items["d"].to_numpy(), np.log(items["phi"].to_numpy())
    beta = res.params[res.design.column_names].to_numpy().copy()
    beta[res.design.column_names.index("log(compute)")] += slope_shift
    assert res.design.model_labels.equals(rd.model_labels)
    x = res.design.matrix
    mean = x @ beta
    sigma = res.sigma * sigma_factor
    z, w = gauss_hermite(21)
    posterior = _Posterior(kd, z, w, 1)
    state = ItemState(a, d, log_phi)
    mode = mean.copy()
    for _ in range(30):
        mode, curv = posterior.mode_step(mode, state, log_phi, mean, sigma, "observed")
    return posterior.evaluate(mode, curv, state, log_phi, mean, sigma)[2].sum()


def _best_along(f, steps):
    """Location of the maximum of a quadratic through f at the given steps."""
    curve = np.polyfit(steps, [f(s) for s in steps], 2)
    return -curve[1] / (2 * curve[0]), curve[0]


def test_ml_2pl_with_covariates_is_at_the_likelihood_maximum(sim):
    """``reml=False``: the reported estimates maximise the marginal likelihood along the
    discrimination scale, sigma and a slope. With the REML-type sigma (the default) a 2PL with
    covariates sat off the maximum in sigma and, through the renormalisation, in the
    discriminations' scale."""
    kw = dict(data=sim.responses, models=sim.models, irt="2pl", tol=1e-9, max_iter=5000)
    ml = _quiet_fit(FULL, reml=False, **kw)
    reml = _quiet_fit(FULL, **kw)
    assert ml.fit_info.sigma_reml is False and reml.fit_info.sigma_reml is True
    assert _marginal_loglik(ml, sim.responses) == pytest.approx(ml.llf, abs=1e-5)
    assert ml.llf > reml.llf + 1e-3  # the REML-type estimates are below the maximum
    steps = np.array([-0.06, -0.03, 0.0, 0.03, 0.06])
    best_a, curv_a = _best_along(lambda s: _marginal_loglik(ml, sim.responses, a_factor=1 + s), steps)
    best_s, curv_s = _best_along(lambda s: _marginal_loglik(ml, sim.responses, sigma_factor=1 + s), steps)
    best_b, curv_b = _best_along(lambda s: _marginal_loglik(ml, sim.responses, slope_shift=s * 0.05), steps)
    assert curv_a < 0 and curv_s < 0 and curv_b < 0
    assert abs(best_a) < 0.003 and abs(best_s) < 0.003 and abs(best_b) < 0.003
    # the REML-type sigma is larger than the maximum-likelihood one by about sqrt(M / (M - P))
    best_reml, _ = _best_along(lambda s: _marginal_loglik(reml, sim.responses, sigma_factor=1 + s), steps)
    assert best_reml < -0.01


def test_ml_sigma_is_the_reml_sigma_shrunk_by_the_degrees_of_freedom(sim):
    kw = dict(data=sim.responses, models=sim.models, irt="1pl")
    for method in ("mml", "jml"):
        ml = _quiet_fit(FULL, reml=False, method=method, **kw)
        reml = _quiet_fit(FULL, method=method, **kw)
        m, p = 40, 4
        assert ml.sigma < reml.sigma
        assert ml.sigma / reml.sigma == pytest.approx(np.sqrt((m - p) / m), abs=0.03), method
        # the coefficients hardly move
        np.testing.assert_allclose(ml.params["log(compute)"], reml.params["log(compute)"], rtol=0.02)
        assert "maximum likelihood" in str(ml.summary())
        assert "Sigma estimator: REML" in str(reml.summary())


@pytest.mark.parametrize("method", ["mml", "jml"])
@pytest.mark.parametrize("irt", ["1pl", "2pl"])
def test_lr_test_refits_reml_fits_by_maximum_likelihood(sim, method, irt):
    kw = dict(data=sim.responses, models=sim.models, method=method, irt=irt)
    full, small = _quiet_fit(FULL, **kw), _quiet_fit(SMALL, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        lr_stat, p_value, df_diff = full.compare_lr_test(small)
    full_ml, small_ml = _quiet_fit(FULL, reml=False, **kw), _quiet_fit(SMALL, reml=False, **kw)
    if method == "mml":
        by_hand = 2 * (full_ml.llf - small_ml.llf)
    else:  # the latent regressions of the ability estimates
        by_hand = 2 * (full_ml.fit_info.latent_llf - small_ml.fit_info.latent_llf)
    assert df_diff == 2
    assert lr_stat == pytest.approx(by_hand, rel=1e-6)
    m, p = 40, 4
    f_stat = np.expm1(by_hand / m) * (m - p) / 2
    assert p_value == pytest.approx(stats.f.sf(f_stat, 2, m - p), rel=1e-5)
    assert full_ml.compare_lr_test(small_ml) == (lr_stat, p_value, df_diff)
    chi2 = full_ml.compare_lr_test(small_ml, small_sample=False)
    assert chi2.p_value == pytest.approx(stats.chi2.sf(by_hand, 2), rel=1e-5)
    assert chi2.p_value < p_value  # the asymptotic reference is the more liberal
    # the family effects are real in this simulation; the Wald test agrees on the order of magnitude
    wald = full.wald_test([c + " = 0" for c in full.params.index if c.startswith("family")], use_f=False)
    assert lr_stat > 10 and 0.5 < lr_stat / float(wald.statistic) < 1.5


def test_lr_test_is_near_the_squared_wald_z_for_one_coefficient():
    sim = irsl.simulate.irt(n_models=60, n_questions=60, seed=3)
    models = sim.models.copy()
    models["z"] = np.random.default_rng(3).normal(size=len(models)) + 0.3 * np.log(models["compute"])
    kw = dict(data=sim.responses, models=models, irt="1pl", reml=False)
    full, small = _quiet_fit(FULL + " + z", **kw), _quiet_fit(FULL, **kw)
    lr = full.compare_lr_test(small)
    assert lr.df_diff == 1
    assert lr.lr_stat == pytest.approx(full.tvalues["z"] ** 2, rel=0.25, abs=0.3)


def test_lr_test_input_errors(sim):
    kw = dict(data=sim.responses, models=sim.models, reml=False, method="jml", irt="1pl")
    full, small = _quiet_fit(FULL, **kw), _quiet_fit(SMALL, **kw)
    # swapped: the "restricted" law has the larger design
    with pytest.raises(ValueError, match=r"not nested: column\(s\) \['family\[T.fam1\]', 'family\[T.fam2\]'\]"):
        small.compare_lr_test(full)
    with pytest.raises(ValueError, match="no restriction to test"):
        full.compare_lr_test(full)
    models = sim.models.copy()
    models["z"] = np.arange(len(models), dtype=float)
    other = _quiet_fit("ability ~ z", data=sim.responses, models=models, reml=False, method="jml", irt="1pl")
    with pytest.raises(ValueError, match=r"not nested: column\(s\) \['z'\]"):
        full.compare_lr_test(other)
    two_pl = _quiet_fit(SMALL, data=sim.responses, models=sim.models, reml=False, method="jml", irt="2pl")
    with pytest.raises(ValueError, match="irt='1pl' vs '2pl'"):
        full.compare_lr_test(two_pl)
    fewer = sim.responses[sim.responses["question"] != sim.responses["question"].iloc[0]].copy()
    fewer["question"] = fewer["question"].astype(str)
    subset = _quiet_fit(SMALL, data=fewer, models=sim.models, reml=False, method="jml", irt="1pl")
    with pytest.raises(ValueError, match="not of the same responses"):
        full.compare_lr_test(subset)
    changed = sim.responses.copy()
    changed.loc[changed.index[0], "y"] = 0.5
    moved = _quiet_fit(SMALL, data=changed, models=sim.models, reml=False, method="jml", irt="1pl")
    with pytest.raises(ValueError, match="not of the same responses"):
        full.compare_lr_test(moved)
    # the identification only relabels the scale: the test is the same
    regression = _quiet_fit(SMALL, data=sim.responses, models=sim.models, reml=False, method="jml",
                            irt="1pl", identification="regression")
    assert full.compare_lr_test(regression) == full.compare_lr_test(small)
    with pytest.raises(TypeError, match="IRSLResults"):
        full.compare_lr_test(pd.DataFrame())
    with pytest.raises(ValueError, match="reml must be True or False"):
        irsl.fit(SMALL, data=sim.responses, models=sim.models, reml="no")


def test_lr_test_warns_with_a_robust_covariance(sim):
    kw = dict(data=sim.responses, models=sim.models, reml=False, method="jml", irt="1pl", cov_type="robust")
    full, small = _quiet_fit(FULL, **kw), _quiet_fit(SMALL, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        full.compare_lr_test(small)
    assert any("wald_test" in str(w.message) for w in caught)


@pytest.mark.parametrize("method", ["mml", "jml"])
def test_anova_table_of_nested_laws(sim, method):
    kw = dict(data=sim.responses, models=sim.models, method=method, irt="1pl")
    fits = [_quiet_fit(f, **kw) for f in (FULL, "ability ~ 1", SMALL)]  # any order, REML-type
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        table = irsl.anova(*fits)
    assert table.index.tolist() == ["ability ~ 1", SMALL, FULL]
    assert table["n_coef"].tolist() == [1, 2, 4]
    assert np.isnan(table["lr_stat"].iloc[0]) and table["df_diff"].tolist()[1:] == [1, 2]
    ml = [_quiet_fit(f, reml=False, **kw) for f in ("ability ~ 1", SMALL, FULL)]
    for i in (1, 2):
        expected = ml[i].compare_lr_test(ml[i - 1])
        assert table["lr_stat"].iloc[i] == pytest.approx(expected.lr_stat, rel=1e-6)
        assert table["p_value"].iloc[i] == pytest.approx(expected.p_value, rel=1e-5)
    llf = [r.llf if method == "mml" else r.fit_info.latent_llf for r in ml]
    np.testing.assert_allclose(table["llf"], llf, rtol=1e-9)
    if method == "mml":
        np.testing.assert_allclose(table["aic"], [r.aic for r in ml], rtol=1e-9)
    else:  # the latent regression: P + 1 parameters, M observations
        k = np.array([2, 3, 5])
        np.testing.assert_allclose(table["aic"], -2 * np.array(llf) + 2 * k, rtol=1e-9)
        np.testing.assert_allclose(table["bic"], -2 * np.array(llf) + np.log(40) * k, rtol=1e-9)
    # compute and family matter in this simulation: both steps are significant, the criteria agree
    assert (table["p_value"].iloc[1:] < 0.01).all() and table["aic"].is_monotonic_decreasing


def test_anova_input_errors(sim):
    kw = dict(data=sim.responses, models=sim.models, reml=False, method="jml", irt="1pl")
    full = _quiet_fit(FULL, **kw)
    with pytest.raises(ValueError, match="at least two fits"):
        irsl.anova(full)
    models = sim.models.copy()
    models["z"] = np.arange(len(models), dtype=float)
    other = _quiet_fit("ability ~ z", data=sim.responses, models=models, reml=False, method="jml", irt="1pl")
    with pytest.raises(ValueError, match="not nested"):
        irsl.anova(other, full)


@pytest.mark.slow
def test_lr_test_size_under_the_null():
    """A covariate unrelated to ability: with the F reference the p-values of the likelihood-ratio
    test are uniform; the chi-squared reference rejects too often with 30 models. 80 replicates
    (MML 1PL, 30 models x 40 questions); ``benchmarks/coverage.py --what lr`` has 200 per variant
    (measured there, MML 1PL: size 0.055 with F, 0.095 with chi-squared)."""
    p_f, p_chi2 = [], []
    for seed in range(4000, 4080):
        sim = irsl.simulate.irt(n_models=30, n_questions=40, seed=seed)
        models = sim.models.copy()
        models["z"] = np.random.default_rng(seed).normal(size=len(models))
        kw = dict(data=sim.responses, models=models, irt="1pl", reml=False)
        full, small = _quiet_fit(FULL + " + z", **kw), _quiet_fit(FULL, **kw)
        p_f.append(full.compare_lr_test(small).p_value)
        p_chi2.append(full.compare_lr_test(small, small_sample=False).p_value)
    p_f, p_chi2 = np.array(p_f), np.array(p_chi2)
    # binomial SE of a 10% rate over 80 replicates: 0.034 (these seeds: F 0.0875 / 0.16 at 5% / 10%,
    # chi-squared 0.125 / 0.20; KS p-value 0.02 -- the 200 replicates of the benchmark give 0.23)
    assert stats.kstest(p_f, "uniform").pvalue > 0.005, np.sort(p_f)
    assert np.mean(p_f < 0.05) <= 0.12 and np.mean(p_f < 0.1) <= 0.2 and np.mean(p_f < 0.5) > 0.35
    assert np.all(p_chi2 <= p_f + 1e-12) and np.mean(p_chi2 < 0.1) > np.mean(p_f < 0.1)


def test_per_benchmark_abilities_take_reml_false():
    """``reml=False`` reaches the multidimensional fit: the residual covariance is divided by M,
    not M - P, so its variances shrink by about (M - P) / M and the log-likelihood rises."""
    sim = irsl.simulate.correlated_benchmarks(n_models=40, questions=20, seed=0)
    labels = sim.responses["model"].unique()
    models = pd.DataFrame({"model": labels, "z": np.random.default_rng(0).normal(size=len(labels))})
    kw = dict(data=sim.responses, models=models, benchmark="benchmark", ability="per_benchmark",
              irt="1pl", tol=1e-8)
    reml, ml = _quiet_fit("ability ~ z", **kw), _quiet_fit("ability ~ z", reml=False, **kw)
    ratio = np.diag(ml.Sigma.to_numpy()) / np.diag(reml.Sigma.to_numpy())
    np.testing.assert_allclose(ratio, 38 / 40, atol=0.02)
    assert ml.llf > reml.llf


def test_jml_laws_weighed_by_different_ability_covariances_are_not_compared(sim):
    # full_cov is not a measurement-model option, but it decides which sampling covariance the
    # latent regression weighs the abilities by; latent log-likelihoods under the joint and the
    # block-conditional covariance differ by more than the law does
    kw = dict(data=sim.responses, models=sim.models, reml=False, method="jml", irt="1pl")
    joint = _quiet_fit(FULL, full_cov=True, **kw)
    conditional = _quiet_fit(SMALL, full_cov=False, **kw)
    with pytest.raises(ValueError, match="different sampling covariances.*full_cov=False"):
        joint.compare_lr_test(conditional)
    with pytest.raises(ValueError, match="different sampling covariances"):
        irsl.anova(joint, conditional)
    # the same route on both sides is fine, whichever it is
    both = _quiet_fit(FULL, full_cov=False, **kw).compare_lr_test(conditional)
    assert both.df_diff == 2 and np.isfinite(both.lr_stat)
    assert joint.compare_lr_test(_quiet_fit(SMALL, full_cov=True, **kw)).df_diff == 2
