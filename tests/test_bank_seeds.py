"""Tests of the item bank's seeded draws and its ``seed`` arguments.

``expected_score(item_uncertainty=True)`` drew each Monte Carlo replicate's abilities from the
stream of the question parameters, so a model's interval depended on which other models were in
the call and in which order; ``select`` and ``expected_score`` passed ``seed`` to numpy, whose
errors do not name the argument.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.bank import ItemBank

N_DRAWS = 300


@pytest.fixture(scope="module")
def bank() -> ItemBank:
    sim = irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, seed=1)
    return irsl.calibrate(sim.responses, benchmark="benchmark", n_threads=1)


def interval(bank: ItemBank, theta, se, **kw) -> pd.DataFrame:
    return bank.expected_score(theta, se=se, item_uncertainty=True, n_draws=N_DRAWS, seed=0, **kw)


# ------------------------------------------------------------------ a model's own stream
def test_interval_does_not_depend_on_the_other_models_or_their_order(bank):
    # was: model "m3" had another interval alone, in the batch and in the reversed batch
    rng = np.random.default_rng(5)
    labels = [f"m{i}" for i in range(12)]
    theta = pd.Series(rng.normal(size=12), index=labels)
    se = pd.Series(rng.uniform(0.1, 0.4, size=12), index=labels)
    full = interval(bank, theta, se)
    alone = interval(bank, theta[["m3"]], se[["m3"]])
    reverse = interval(bank, theta.iloc[::-1], se.iloc[::-1])
    some = interval(bank, theta.iloc[[7, 3, 0]], se.iloc[[7, 3, 0]], benchmark=None)
    pd.testing.assert_frame_equal(alone, full.loc[["m3"]], check_exact=True)
    pd.testing.assert_frame_equal(reverse.loc[labels], full, check_exact=True)
    pd.testing.assert_frame_equal(some, full.loc[["m7", "m3", "m0"]], check_exact=True)
    # the ability draws matter (a shared draw for all models would also be order-free)
    assert np.all(full["upper"] - full["lower"] > 0)
    pd.testing.assert_frame_equal(interval(bank, theta, se), full, check_exact=True)  # seeded


def test_array_theta_is_keyed_by_position(bank):
    # was: appending models to an array changed the draws of the first ones
    theta, se = np.array([-0.5, 0.3, 1.1, 0.0, 2.0]), np.array([0.2, 0.3, 0.1, 0.25, 0.3])
    first = interval(bank, theta[:2], se[:2])
    more = interval(bank, theta, se)
    pd.testing.assert_frame_equal(first, more.iloc[:2], check_exact=True)
    # the position is the label of a default RangeIndex: a Series with one draws alike
    as_series = interval(bank, pd.Series(theta), pd.Series(se))
    np.testing.assert_array_equal(as_series.to_numpy(), more.to_numpy())


def test_equal_labels_of_different_types_are_one_model(bank):
    # 3 and 3.0 name one model for pandas; the key follows (numpy ints included)
    theta, se = np.array([0.4, -0.2]), np.array([0.3, 0.2])
    ints = interval(bank, pd.Series(theta, index=np.array([3, 9], dtype=np.int64)), se)
    floats = interval(bank, pd.Series(theta, index=[3.0, 9.0]), se)
    mixed = interval(bank, pd.Series(theta[[1]], index=[9]), se[[1]])
    np.testing.assert_array_equal(ints.to_numpy(), floats.to_numpy())
    np.testing.assert_array_equal(ints.to_numpy()[[1]], mixed.to_numpy())


# ------------------------------------------------------------------ seed arguments
BAD_SEEDS = [-1, 1.5, "x"]


@pytest.mark.parametrize("seed", BAD_SEEDS)
@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_select_names_a_bad_seed(bank, seed, strategy):
    # was: "expected non-negative integer" (-1) or numpy's TypeError from SeedSequence (1.5, "x")
    with pytest.raises(ValueError, match=r"`seed` must be a non-negative integer or None, got"):
        bank.select(3, strategy=strategy, seed=seed)


@pytest.mark.parametrize("seed", BAD_SEEDS)
@pytest.mark.parametrize("item_uncertainty", [True, False])
def test_expected_score_names_a_bad_seed(bank, seed, item_uncertainty):
    # was: numpy's errors with item_uncertainty=True; silently ignored without it
    with pytest.raises(ValueError, match=r"`seed` must be a non-negative integer or None, got"):
        bank.expected_score([0.0, 1.0], se=[0.1, 0.2], item_uncertainty=item_uncertainty, seed=seed)


@pytest.mark.parametrize("seed", [True, False, np.bool_(True)])
def test_a_bool_is_not_a_seed(seed):
    with pytest.raises(ValueError, match="`seed` must be a non-negative integer"):
        irsl.simulate.irt(n_models=5, n_questions=5, seed=seed)
