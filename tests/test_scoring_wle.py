"""Warm's weighted likelihood estimator (``method="wle"``) of ``ItemBank.score``."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.special import expit

import irsl_stats as irsl
from irsl_stats.results import IRSLWarning


def _bank_and_responses(family, theta, n_models, n_questions, trials=None, seed=0):
    """A 1PL bank (difficulties spread over [-2, 2]) and simulated responses of models at ``theta``."""
    rng = np.random.default_rng(seed)
    d = np.linspace(-2.0, 2.0, n_questions)
    qs = [f"q{j}" for j in range(n_questions)]
    bank = irsl.ItemBank(pd.DataFrame({"a": 1.0, "d": d}, index=qs), family=family, irt="1pl")
    theta = np.broadcast_to(np.asarray(theta, float), (n_models,))
    p = expit(theta[:, None] + d[None, :])
    models = [f"m{i}" for i in range(n_models)]
    frame = pd.DataFrame({"model": np.repeat(models, n_questions), "question": np.tile(qs, n_models)})
    if family == "bernoulli":
        y = (rng.random(p.shape) < p).astype(float)
        frame["y"] = y.ravel()
        kw = {}
    else:
        y = rng.binomial(trials, p).astype(float)
        frame["successes"] = y.ravel()
        frame["trials"] = float(trials)
        kw = {"successes": "successes", "trials": "trials"}
    return bank, frame, y, kw


def _score(bank, frame, method, **kw):
    """Scores in the order of the simulated models (ML: all-extreme patterns warn, expected here)."""
    with warnings.catch_warnings():
        if method == "ml":
            warnings.simplefilter("ignore", IRSLWarning)
        out = bank.score(frame, method=method, n_threads=1, **kw)
    return out.loc[pd.unique(frame["model"])]


@pytest.mark.parametrize("family,n_questions,trials", [("bernoulli", 15, None), ("binomial", 5, 3)])
@pytest.mark.parametrize("theta", [1.5, -1.5])
def test_wle_reduces_the_small_sample_bias_of_ml(family, n_questions, trials, theta):
    # 20000 simulated models at the same ability, each with few responses: ML is biased outwards
    # (away from the questions' difficulties), WLE removes most of it
    bank, frame, y, kw = _bank_and_responses(family, theta, 20000, n_questions, trials, seed=7)
    ml = _score(bank, frame, "ml", **kw)
    wle = _score(bank, frame, "wle", **kw)
    total = y.sum(axis=1)
    top = n_questions * (1 if trials is None else trials)
    finite_ml = (total > 0) & (total < top)  # ML has no finite estimate otherwise
    assert finite_ml.mean() > 0.98
    bias_ml = float(np.mean(ml["theta"].to_numpy()[finite_ml] - theta))
    bias_wle_sub = float(np.mean(wle["theta"].to_numpy()[finite_ml] - theta))
    bias_wle = float(np.mean(wle["theta"].to_numpy() - theta))  # every pattern: WLE is always finite
    mc_se = float(np.std(wle["theta"].to_numpy())) / np.sqrt(len(wle))  # ~0.005
    assert np.sign(bias_ml) == np.sign(theta) and abs(bias_ml) > 5 * mc_se
    assert abs(bias_wle) < 0.5 * abs(bias_ml)
    assert abs(bias_wle_sub) < 0.5 * abs(bias_ml)
    assert abs(bias_wle) < 3 * mc_se


def test_wle_solves_warms_estimating_equation_for_the_rasch_model():
    # Rasch: sum_j (y_j - p_j) + sum_j p_j q_j (1 - 2 p_j) / (2 sum_j p_j q_j) = 0
    bank, frame, y, kw = _bank_and_responses("bernoulli", 0.3, 40, 12, seed=3)
    wle = _score(bank, frame, "wle")
    d = bank.items["d"].to_numpy()

    def equation(t, yi):
        p = expit(t + d)
        return (yi - p).sum() + 0.5 * (p * (1 - p) * (1 - 2 * p)).sum() / (p * (1 - p)).sum()

    ref = np.array([brentq(equation, -30, 30, args=(yi,), xtol=1e-13) for yi in y])
    np.testing.assert_allclose(wle["theta"].to_numpy(), ref, atol=1e-7)
    info = bank.information(ref).to_numpy().sum(axis=1)
    np.testing.assert_allclose(wle["se"].to_numpy(), 1 / np.sqrt(info), rtol=1e-6)


@pytest.mark.parametrize("family", ["bernoulli", "binomial", "beta_binomial"])
def test_wle_is_finite_for_all_extreme_responses(family):
    qs = [f"q{j}" for j in range(8)]
    items = pd.DataFrame({"a": 1.0, "d": np.linspace(-1.5, 1.5, 8), "phi": 3.0}, index=qs)
    if family != "beta_binomial":
        items = items.drop(columns="phi")
    bank = irsl.ItemBank(items, family=family, irt="1pl")
    frame = pd.DataFrame({"model": np.repeat(["zeros", "ones"], 8), "question": qs * 2})
    if family == "bernoulli":
        frame["y"] = np.repeat([0.0, 1.0], 8)
        kw = {}
    else:
        frame["trials"] = 50.0
        frame["successes"] = np.repeat([0.0, 50.0], 8)
        kw = {"successes": "successes", "trials": "trials"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no finite estimate" warning for WLE
        wle = bank.score(frame, method="wle", n_threads=1, **kw)
    lo, hi = wle.loc["zeros"], wle.loc["ones"]
    assert np.isfinite(wle["theta"]).all() and np.isfinite(wle["se"]).all() and (wle["se"] > 0).all()
    # well inside the ML bounds (+-8 prior SDs), below / above every question's difficulty
    assert -8 < lo["theta"] < -1.5 and 1.5 < hi["theta"] < 8
    with pytest.warns(IRSLWarning, match="no finite ML estimate"):
        ml = bank.score(frame, method="ml", n_threads=1, **kw)
    assert ml.loc["zeros", "theta"] < lo["theta"] and ml.loc["ones", "theta"] > hi["theta"]


@pytest.mark.parametrize("family", ["binomial", "beta_binomial"])
def test_wle_equals_ml_asymptotically(family):
    rng = np.random.default_rng(11)
    n_q = 60
    qs = [f"q{j}" for j in range(n_q)]
    items = pd.DataFrame({"a": rng.uniform(0.6, 1.6, n_q), "d": rng.normal(0, 1, n_q),
                          "phi": rng.uniform(5, 30, n_q)}, index=qs)
    if family == "binomial":
        items = items.drop(columns="phi")
    bank = irsl.ItemBank(items, family=family, irt="2pl")
    theta = np.array([-1.0, 0.0, 0.8])
    p = expit(theta[:, None] * items["a"].to_numpy() + items["d"].to_numpy())
    frame = pd.DataFrame({"model": np.repeat(["a", "b", "c"], n_q), "question": qs * 3,
                          "trials": 2000.0})
    frame["successes"] = rng.binomial(2000, p).ravel().astype(float)
    kw = {"successes": "successes", "trials": "trials"}
    ml = bank.score(frame, method="ml", n_threads=1, **kw)
    wle = bank.score(frame, method="wle", n_threads=1, **kw)
    # the penalty shifts the estimate by O(1/n): a small fraction of the standard error
    diff = np.abs(wle["theta"] - ml["theta"]).to_numpy()
    assert (diff < 0.05 * ml["se"].to_numpy()).all()
    assert (diff > 0).all()  # but not the same estimator
    np.testing.assert_allclose(wle["se"].to_numpy(), ml["se"].to_numpy(), rtol=0.15)


def test_wle_in_the_methods_and_unknown_method_rejected():
    assert "wle" in irsl.bank.METHODS
    bank, frame, _, _ = _bank_and_responses("bernoulli", 0.0, 3, 5, seed=1)
    with pytest.raises(ValueError, match="method must be one of"):
        bank.score(frame, method="wl")
