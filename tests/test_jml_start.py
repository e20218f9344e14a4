"""Regression: the JML start (also the start of MML) must not produce NaN on sparse pass-rate data.

``irsl.calibrate(family="beta", irt="2pl", boundary="squeeze")`` on the Pythia MATH counts of six
models (rates ~1e-4, most cells 0 of 10,000) failed with ``ValueError: d must be finite`` in the
kernel: the automatic over-relaxation of :func:`irsl_stats.jml.fit_jml` estimated the contraction
rate ``rho`` as the larger of two successive step-size ratios but checked only one of them, so a
ratio above 1 (the step grew) gave ``omega = 2 / (1 + sqrt(1 - rho)) = NaN``, which turned every
parameter into NaN at the next step.
"""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats import jml


@pytest.fixture(scope="module")
def sparse_rates():
    # 6 models x 30 questions x 10,000 samples; 83% of the cells have 0 successes, the others a
    # median rate of 1.5e-3 -- the shape of the Pythia MATH counts
    sim = irsl.simulate.test_time(n_models=6, n_questions=30, benchmarks=("math",), n_samples=10_000,
                                  irt="2pl", difficulty_shift=-9, phi_median=50.0, seed=0)
    return sim.responses


def test_simulated_data_has_the_shape_of_the_failure(sparse_rates):
    r = sparse_rates
    rate = r["successes"] / r["trials"]
    assert (rate == 0).mean() > 0.75
    assert 1e-4 < np.median(rate[rate > 0]) < 1e-2


def test_beta_2pl_on_squeezed_rates_calibrates(sparse_rates):
    # MML starts from a loose JML fit: this is the call of the bug report
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)  # convergence diagnostics are not the point
        bank = irsl.calibrate(sparse_rates, successes="successes", trials="trials", family="beta",
                              irt="2pl", boundary="squeeze", n_threads=1)
    assert len(bank.items) == 30
    for col in ("a", "d", "phi"):
        assert np.isfinite(bank.items[col].to_numpy()).all(), col


def test_jml_fit_stays_finite(sparse_rates):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ 1", data=sparse_rates, successes="successes", trials="trials",
                       family="beta", irt="2pl", boundary="squeeze", method="jml", n_threads=1)
    assert np.isfinite(res.abilities["theta"].to_numpy()).all()
    assert np.isfinite(res.items["d"].to_numpy()).all() and np.isfinite(res.items["a"].to_numpy()).all()


@pytest.mark.parametrize("sizes", [
    [102029.5, 44602.0, 4.409, 3.587, 3.711, 3.722, 3.495],  # the step sizes of the Pythia failure
    [4.0, 3.0, 3.1, 2.95],  # last ratio < 1, the previous one > 1
    [1.0, 1.0, 1.05, 1.0],
])
def test_relaxation_ignores_growing_steps(sizes):
    for n in range(1, len(sizes) + 1):
        omega = jml._choose_relaxation(list(sizes[:n]))
        assert np.isfinite(omega) and 1.0 <= omega < 2.0


def test_relaxation_still_accelerates_a_steady_contraction():
    omega = jml._choose_relaxation([1.0, 0.8, 0.64, 0.512])
    assert omega == pytest.approx(1.0 + 0.9 * (2.0 / (1.0 + np.sqrt(0.2)) - 1.0))
