"""compare_lr_test says what differs between two fits that are not of the same responses."""

import warnings

import pytest

import irsl_stats as irsl


def _fit(formula, data, models):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(formula, data=data, models=models, n_threads=1)


def test_changed_response_is_located():
    sim = irsl.simulate.irt(n_models=30, n_questions=20, seed=4)
    changed = sim.responses.copy()
    changed.loc[5, "y"] = 0.5
    full = _fit("ability ~ log(compute) + family", sim.responses, sim.models)
    small = _fit("ability ~ log(compute)", changed, sim.models)
    # before: "600 responses of 30 models x 20 questions (beta) vs 600 of 30 x 20 (beta)" only
    with pytest.raises(ValueError, match=r"not of the same responses.*the responses differ, first at response row"):
        full.compare_lr_test(small)


def test_different_questions_are_named_as_such():
    sim = irsl.simulate.irt(n_models=30, n_questions=20, seed=4)
    fewer = sim.responses[sim.responses["question"] != sim.responses["question"].iloc[0]]
    full = _fit("ability ~ log(compute) + family", sim.responses, sim.models)
    small = _fit("ability ~ log(compute)", fewer, sim.models)
    with pytest.raises(ValueError, match=r"the questions differ"):
        full.compare_lr_test(small)
