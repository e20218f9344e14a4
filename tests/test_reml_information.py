"""Standard errors of a REML-type sigma come from the objective EM maximised (llf + P log sigma),
not from the plain log-likelihood's curvature, which at the REML sigma is (3P - 2M)/sigma^2 for
well-measured abilities: too large, and NaN once P > 2M/3."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl

M = 40


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    sim = irsl.simulate.irt(n_models=M, n_questions=300, benchmarks=2, family="bernoulli", family_effects=(0.0,),
                            beta=(0.0, 0.3), sigma=0.5, seed=3)
    models = sim.models.copy()
    for k in range(25):
        models[f"z{k}"] = rng.normal(size=M)
    return sim, models


def _formula(p):
    return "ability ~ log(compute)" + "".join(f" + z{k}" for k in range(p - 2))


def _fit(sim, models, p, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(_formula(p), data=sim.responses, models=models, family="bernoulli", irt="1pl",
                        n_threads=1, **kw)


@pytest.mark.parametrize("p", [16, 27])
def test_mml_sigma_se_matches_reml_theory_and_jml(data, p):
    sim, models = data
    mml = _fit(sim, models, p)
    jml = _fit(sim, models, p, method="jml")
    s, se = mml.params["sigma"], mml.bse["sigma"]
    theory = s / np.sqrt(2 * (M - p))  # abilities measured by 300 questions: little else
    # before: 0.1118 / nan (the plain llf's curvature at the REML sigma)
    assert np.isfinite(se)
    # the REML sigma with measurement error (tests/test_mml_reml_sigma.py) is 0.315 at p = 27
    # (JML 0.313; the divisor M - P gave 0.390), where the measurement variances are 0.2 sigma^2:
    # the SE is then 1.22x the error-free theory (and within 0.2% of REML theory with them)
    assert theory < se < 1.3 * theory
    assert se / s == pytest.approx(jml.bse["sigma"] / jml.params["sigma"], rel=0.15)
    assert not any("not positive definite" in w for w in mml.warnings)


def test_ml_fit_keeps_the_likelihood_curvature(data):
    sim, models = data
    ml = _fit(sim, models, 16, reml=False)
    reml = _fit(sim, models, 16)
    # with reml=False EM maximises llf itself: sigma smaller (divisor M) and its own curvature
    assert ml.params["sigma"] < reml.params["sigma"]
    assert ml.bse["sigma"] == pytest.approx(ml.params["sigma"] / np.sqrt(2 * M), rel=0.2)


def test_per_benchmark_log_sd_se_is_finite_with_many_covariates(data):
    sim, models = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit(_formula(27), data=sim.responses, models=models, family="bernoulli", irt="1pl",
                       benchmark="benchmark", ability="per_benchmark", n_threads=1)
    se = res.bse[["log sd(bench0)", "log sd(bench1)"]].to_numpy()
    theory = 1 / np.sqrt(2 * (M - 27))
    # before: NaN (the plain marginal likelihood is not concave in Sigma at the REML Sigma)
    assert np.all(np.isfinite(se))
    assert np.all((theory < se) & (se < 1.3 * theory))
