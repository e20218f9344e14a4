"""``res.forecast_pass_at_k``: the Beta expectation of pass@k from a beta-binomial fit."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl


@pytest.fixture(scope="module")
def fitted():
    sim = irsl.simulate.test_time(n_models=6, n_questions=40, n_samples=200, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)  # very hard questions: d at its bound
        res = irsl.fit("ability ~ 1", data=sim.responses, successes="successes", trials="trials",
                       family="beta_binomial", n_threads=1)
    return sim, res


def test_tidy_frame_with_intervals(fitted):
    _, res = fitted
    out = res.forecast_pass_at_k([1, 10, 100])
    assert list(out.columns) == ["model", "k", "pass_at_k", "lower", "upper"]
    assert len(out) == 3 * len(res.abilities)
    assert (out["lower"] <= out["pass_at_k"]).all() and (out["pass_at_k"] <= out["upper"]).all()
    # pass@k grows with k for every model
    wide = out.pivot(index="model", columns="k", values="pass_at_k")
    assert (np.diff(wide.to_numpy(), axis=1) > 0).all()


def test_beta_expectation_beats_the_plugin(fitted):
    sim, res = fitted
    ks = [10, 100]
    truth = sim.pass_at_k_truth(ks).set_index(["model", "k"])["pass_at_k"]
    beta = res.forecast_pass_at_k(ks).set_index(["model", "k"])["pass_at_k"]
    plug = res.forecast_pass_at_k(ks, plugin=True).set_index(["model", "k"])["pass_at_k"]
    truth.index = truth.index.set_levels(truth.index.levels[0].astype(str), level=0)
    err_beta = np.abs(beta - truth.reindex(beta.index)).mean()
    err_plug = np.abs(plug - truth.reindex(plug.index)).mean()
    assert err_beta < 0.03
    assert err_plug > 3 * err_beta
    # k = 1: the two coincide (E[p] = mu)
    one = res.forecast_pass_at_k([1])
    assert np.allclose(one["pass_at_k"], res.forecast_pass_at_k([1], plugin=True)["pass_at_k"])
