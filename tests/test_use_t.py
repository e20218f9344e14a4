"""Student-t inference of the scaling law (``fit(use_t=True)``, the default) against normal theory."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import irsl_stats as irsl


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=14, n_questions=40, seed=3)


def _fit(sim, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models,
                        family="beta", method="jml", n_threads=1, **kw)


@pytest.fixture(scope="module")
def fits(sim):
    return _fit(sim), _fit(sim, use_t=False)


def test_t_quantiles_with_df_resid(fits):
    res, normal = fits
    assert res.use_t and not normal.use_t
    df = res.df_resid
    assert df == 14 - 4 and res._inference_df() == df
    slopes = ["log(compute)", "family[T.fam1]", "family[T.fam2]"]
    ci = res.conf_int(0.1).loc[slopes]
    half = (ci[1] - ci[0]) / 2 / res.bse[slopes]
    np.testing.assert_allclose(half, stats.t.ppf(0.95, df), rtol=1e-10)
    ci0 = normal.conf_int(0.1).loc[slopes]
    np.testing.assert_allclose((ci0[1] - ci0[0]) / 2 / normal.bse[slopes], stats.norm.ppf(0.95), rtol=1e-10)
    # same estimates and standard errors: only the reference distribution differs
    pd.testing.assert_series_equal(res.params, normal.params)
    pd.testing.assert_series_equal(res.bse, normal.bse)
    t = res.tvalues[slopes]
    np.testing.assert_allclose(res.pvalues[slopes], 2 * stats.t.sf(np.abs(t), df), rtol=1e-12)
    np.testing.assert_allclose(normal.pvalues[slopes], 2 * stats.norm.sf(np.abs(t)), rtol=1e-12)
    assert (res.pvalues[slopes] > normal.pvalues[slopes]).all()


def test_predict_intervals_use_t(sim, fits):
    res, normal = fits
    new = sim.models.head(3)
    for fit, q in ((res, stats.t.ppf(0.975, res.df_resid)), (normal, stats.norm.ppf(0.975))):
        p = fit.predict(new)
        np.testing.assert_allclose((p["mean_ci_upper"] - p["mean"]) / p["mean_se"], q, rtol=1e-10)
        obs_se = (p["obs_ci_upper"] - p["mean"]) / q
        assert np.all(obs_se > p["mean_se"])
    wide, narrow = res.predict(new, what="score"), normal.predict(new, what="score")
    assert np.all(wide["pi_lower"] < narrow["pi_lower"]) and np.all(wide["pi_upper"] > narrow["pi_upper"])


def test_summary_says_t_and_df(fits):
    res, normal = fits
    text = res.summary().as_text()
    assert "P>|t|" in text and f"Student's t with {res.df_resid} degrees of freedom" in text
    text0 = normal.summary().as_text()
    assert "P>|z|" in text0 and "Student's t" not in text0


def test_wald_test_defaults_to_f(fits):
    res, normal = fits
    c = "family[T.fam1] = 0, family[T.fam2] = 0"
    f = res.wald_test(c)
    assert f.distribution == "F" and f.df_denom == res.df_resid and f.df_num == 2
    chi = res.wald_test(c, use_f=False)
    assert chi.distribution == "chi2"
    np.testing.assert_allclose(float(np.squeeze(f.fvalue)) * 2, float(np.squeeze(chi.statistic)), rtol=1e-10)
    assert normal.wald_test(c).distribution == "chi2"
    assert float(f.pvalue) > float(chi.pvalue)


def test_cluster_uses_clusters_minus_one(sim):
    models = sim.models.copy()
    models["lab"] = np.arange(len(models)) % 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=models, family="beta",
                       method="jml", n_threads=1, cov_type="cluster", groups="lab")
    assert res._inference_df() == 4
    ci = res.conf_int().loc["log(compute)"]
    np.testing.assert_allclose((ci[1] - ci[0]) / 2 / res.bse["log(compute)"], stats.t.ppf(0.975, 4), rtol=1e-10)
    assert res.wald_test("log(compute) = 0").df_denom == 4
    assert "clusters minus one" in res.summary().as_text()


def test_use_t_must_be_bool(sim):
    with pytest.raises(ValueError, match="use_t must be True or False"):
        _fit(sim, use_t="yes")


def test_multidim_stays_normal():
    sim = irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, family="beta",
                       benchmark="benchmark", ability="per_benchmark", n_threads=1)
    assert not res.use_t
    assert "P>|z|" in res.summary().as_text()
