"""A Wald test uses only the covariance of the parameters its constraints involve."""
import warnings

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats.results import IRSLWarning


@pytest.fixture(scope="module")
def fit_with_nan_sigma():
    # 1PL bernoulli JML whose sigma is at its boundary: its variance is NaN, z's is finite
    sim = irsl.simulate.irt(n_models=30, n_questions=30, family="bernoulli", irt="1pl", seed=9033)
    models = sim.models.copy()
    models["z"] = np.random.default_rng(33).normal(size=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return irsl.fit("ability ~ log(compute) + family + z", data=sim.responses, models=models,
                        family="bernoulli", irt="1pl", method="jml", n_threads=1, reml=False)


def test_nan_variance_of_an_unconstrained_parameter_does_not_stop_the_test(fit_with_nan_sigma):
    res = fit_with_nan_sigma
    assert np.isnan(res.bse["sigma"]) and np.isfinite(res.bse["z"])
    out = res.wald_test("z = 0", use_f=False)
    # one constraint: the chi-squared statistic is the squared z statistic of the coefficient
    z = res.params["z"] / res.bse["z"]
    assert float(np.squeeze(out.statistic)) == pytest.approx(z**2, rel=1e-10)
    # a constraint that does involve sigma still says its covariance is not finite
    with pytest.raises(ValueError, match=r"\['sigma'\] is not finite"):
        res.wald_test("sigma = 0.5")
