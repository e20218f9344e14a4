"""Audit 3: the REML search for sigma covers its optimum when few residual degrees of freedom remain;
the multidimensional EM stops at its optimum.

The search stopped at ten mean squared OLS residuals; the REML optimum is near RSS / (M - P), which
is beyond that when M - P < M / 10, so sigma and every coefficient SE came out too small, silently.
"""

import warnings

import numpy as np
import pytest
from scipy import optimize

import irsl_stats as irsl
from irsl_stats.latent_regression import fit_latent_regression


def test_reml_sigma_without_measurement_error_is_the_ols_scale():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(1)
    m, p = 30, 28
    x = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1))])
    t = x @ rng.normal(size=p) + rng.normal(size=m)
    fit = fit_latent_regression(x, t, np.zeros(m), reml=True)
    ols = sm.OLS(t, x).fit()
    assert fit.sigma == pytest.approx(np.sqrt(ols.scale), rel=1e-6)  # was 1.4291 vs 1.7503
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov))[:p], ols.bse, rtol=1e-5)


@pytest.mark.parametrize("full_cov", [False, "auto"])
def test_jml_sigma_is_the_reml_optimum_of_its_own_abilities(full_cov):
    # 24 models, ability ~ log(compute) + family with 21 families: P = 22
    sim = irsl.simulate.irt(n_models=24, n_questions=300, seed=3)
    models = sim.models.copy()
    models["family"] = [f"f{i}" for i in list(range(21)) + [0, 1, 2]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=models, method="jml",
                       irt="1pl", n_threads=1, full_cov=full_cov)
    x = np.asarray(res.design.matrix, float)
    theta, v = res.abilities["theta"].to_numpy(), res.abilities["se"].to_numpy() ** 2

    def neg_reml(log_s2):
        w = 1 / (np.exp(log_s2) + v)
        xtwx = (x.T * w) @ x
        b = np.linalg.solve(xtwx, (x.T * w) @ theta)
        r = theta - x @ b
        return 0.5 * (np.sum(np.log(1 / w) + r * r * w) + np.linalg.slogdet(xtwx)[1])

    opt = optimize.minimize_scalar(neg_reml, bounds=(-20, 5), method="bounded", options={"xatol": 1e-10})
    # full_cov="auto" regresses with the abilities' full sampling covariance (errors shared through
    # the questions), whose REML optimum is near but not at this one with the variances alone
    rel = 1e-4 if full_cov is False else 1e-3
    assert res.params["sigma"] == pytest.approx(np.exp(opt.x / 2), rel=rel)  # was 0.4042 vs 0.4411


@pytest.mark.slow
def test_per_benchmark_mml_stops_at_its_optimum():
    # the multidimensional EM stopped on an objective change of 0.01 tol relative (the
    # one-dimensional fit: 1e-4 tol): 0.015 log-likelihood units short of the optimum, the
    # parameters 0.018 SE away; now 0.002 and 0.002 SE
    sim = irsl.simulate.irt(n_models=80, n_questions=100, benchmarks=2, seed=3)
    kw = dict(data=sim.responses, models=sim.models, benchmark="benchmark", ability="per_benchmark", n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        default = irsl.fit("ability ~ log(compute)", **kw)
        optimum = irsl.fit("ability ~ log(compute)", tol=1e-10, max_iter=3000, **kw)
    assert default.converged and optimum.converged
    assert optimum.llf - default.llf < 0.005
    assert ((default.params - optimum.params) / optimum.bse).abs().max() < 0.006
