"""bank.forecast_pass_at_k(item_uncertainty=True): the questions' uncertainty widens the interval."""
import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.results import IRSLWarning

KS = [1, 10, 100, 1000]


@pytest.fixture(scope="module")
def bank():
    sim = irsl.simulate.irt(n_models=30, n_questions=20, family="beta_binomial", n_trials=30, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return irsl.calibrate(sim.responses, family="beta_binomial", successes="successes",
                              trials="trials", response=None, n_threads=1)


def test_item_draws_widen_the_interval_most_at_large_k(bank):
    theta = pd.Series([-0.5, 0.8], index=["x", "y"])
    se = pd.Series([0.1, 0.1], index=["x", "y"])
    known = bank.forecast_pass_at_k(theta, KS, se=se)
    drawn = bank.forecast_pass_at_k(theta, KS, se=se, item_uncertainty=True, n_draws=300)
    # the point forecast does not change
    np.testing.assert_array_equal(drawn["pass_at_k"], known["pass_at_k"])
    assert (drawn["lower"] <= drawn["pass_at_k"]).all() and (drawn["pass_at_k"] <= drawn["upper"]).all()
    width_known = (known["upper"] - known["lower"]).to_numpy().reshape(len(KS), 2)
    width_drawn = (drawn["upper"] - drawn["lower"]).to_numpy().reshape(len(KS), 2)
    assert (width_drawn[-1] > 1.5 * width_known[-1]).all()
    # without question errors the draws reduce to the ability's interval (up to Monte Carlo error)
    exact = bank.items.assign(a_se=0.0, d_se=0.0, phi_se=0.0, a_d_cov=0.0)
    sure = irsl.ItemBank(exact, family=bank.family)
    mc = sure.forecast_pass_at_k(theta, KS, se=se, item_uncertainty=True, n_draws=2000)
    ref = sure.forecast_pass_at_k(theta, KS, se=se)
    np.testing.assert_allclose(mc["lower"], ref["lower"], atol=0.01)
    np.testing.assert_allclose(mc["upper"], ref["upper"], atol=0.01)


def test_draws_are_seeded_and_keyed_by_model(bank):
    theta = pd.Series([-0.5, 0.8, 0.1], index=["x", "y", "z"])
    se = pd.Series([0.1, 0.2, 0.3], index=["x", "y", "z"])
    one = bank.forecast_pass_at_k(theta, [10, 100], se=se, item_uncertainty=True, n_draws=50, seed=3)
    again = bank.forecast_pass_at_k(theta, [10, 100], se=se, item_uncertainty=True, n_draws=50, seed=3)
    pd.testing.assert_frame_equal(one, again)
    # a model's interval does not depend on the other models in the call
    alone = bank.forecast_pass_at_k(theta[["y"]], [10, 100], se=se[["y"]], item_uncertainty=True,
                                    n_draws=50, seed=3)
    np.testing.assert_array_equal(alone["lower"], one.loc[one["model"] == "y", "lower"])
    other = bank.forecast_pass_at_k(theta, [10, 100], se=se, item_uncertainty=True, n_draws=50, seed=4)
    assert not np.array_equal(other["lower"], one["lower"])


def test_bad_draw_arguments_are_named(bank):
    with pytest.raises(ValueError, match="n_draws"):
        bank.forecast_pass_at_k([0.0], [1], item_uncertainty=True, n_draws=0)
    with pytest.raises(ValueError, match="seed"):
        bank.forecast_pass_at_k([0.0], [1], item_uncertainty=True, seed=-1)
