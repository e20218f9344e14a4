"""ItemBank.subset: a bank of some of the questions, on the same scale."""

import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl


@pytest.fixture(scope="module")
def bank_and_sim():
    sim = irsl.simulate.irt(n_models=30, n_questions=40, family="beta", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        bank = irsl.calibrate(sim.responses, models=sim.models, n_threads=1)
    return bank, sim


def test_subset_keeps_the_scale_and_scores_as_the_whole_bank(bank_and_sim):
    bank, sim = bank_and_sim
    chosen = bank.select(8, by=None, seed=3)
    short = bank.subset(chosen)
    assert list(short.questions) == list(chosen)
    assert (short.family, short.irt, short.identification, short.precision, short.population) == (
        bank.family, bank.irt, bank.identification, bank.precision, bank.population)
    pd.testing.assert_frame_equal(short.items, bank.items.loc[chosen])
    # the same responses scored against the subset or the whole bank: the same abilities
    answers = sim.responses[sim.responses["question"].isin(chosen)]
    np.testing.assert_allclose(short.score(answers, n_threads=1)["theta"],
                               bank.score(answers, n_threads=1)["theta"], rtol=0, atol=1e-12)


def test_subset_of_one_label_and_in_the_given_order(bank_and_sim):
    bank, _ = bank_and_sim
    one = bank.questions[5]
    assert list(bank.subset(one).questions) == [one]  # one label is not split into characters
    backwards = list(bank.questions[:4])[::-1]
    assert list(bank.subset(backwards).questions) == backwards


def test_subset_errors_name_the_questions(bank_and_sim):
    bank, _ = bank_and_sim
    q = bank.questions
    with pytest.raises(ValueError, match="not in the item bank"):
        bank.subset([q[0], "nope"])
    with pytest.raises(ValueError, match=rf"repeats .*{q[1]}"):
        bank.subset([q[1], q[2], q[1]])
    with pytest.raises(ValueError, match="empty"):
        bank.subset([])
