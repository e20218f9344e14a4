"""Errors of ItemBank.score / adaptive about beta responses at 0 or 1 offer what the bank accepts."""
import warnings

import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.results import IRSLWarning


@pytest.fixture(scope="module")
def bank():
    sim = irsl.simulate.irt(n_models=40, n_questions=12, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return irsl.calibrate(sim.responses, n_threads=1, method="jml")


def _message(fn) -> str:
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


def test_binary_responses_to_a_beta_bank(bank):
    q = list(bank.questions[:3])
    new = pd.DataFrame({"model": "new", "question": q, "y": [1.0, 0.0, 1.0]})
    msg = _message(lambda: bank.score(new))
    # score() has no family= (a TypeError when followed): only the boundary policies are offered
    assert "use family='bernoulli'" not in msg and "with successes=, trials=" not in msg
    assert "boundary='squeeze'" in msg and "boundary='clip'" in msg
    assert "the item bank's" in msg and "calibrate with that family" in msg
    # and the remedy it offers works
    assert bank.score(new, boundary="squeeze")["n"].iloc[0] == 3


def test_counts_at_the_boundary_to_a_beta_bank(bank):
    q = list(bank.questions[:2])
    new = pd.DataFrame({"model": "new", "question": q, "k": [3, 1], "n": [3, 4]})
    msg = _message(lambda: bank.score(new, successes="k", trials="n", response=None))
    assert "family='binomial' or 'beta_binomial', calibrate with that family" in msg
    assert "family='binomial' or 'beta_binomial' on the successes/trials" not in msg


def test_fit_keeps_its_family_advice():
    sim = irsl.simulate.irt(n_models=10, n_questions=4, seed=0)
    data = sim.responses.assign(y=(sim.responses["y"] > 0.5).astype(float))
    msg = _message(lambda: irsl.fit("ability ~ 1", data=data, n_threads=1))
    assert "use family='bernoulli'" in msg
