"""Audit of the simulators and pass@k helpers: extreme means, argument checks, clear errors.

Each test below failed before the fix it covers; the distribution checks compare the
simulators with the model their docstrings state (moments given the returned truth).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from irsl_stats import simulate
from irsl_stats.passk import beta_pass_at_k, pass_at_k, pass_at_k_grid, plugin_pass_at_k


# --------------------------------------------------------------------------------------
# Beta draws where expit(eta) rounds to exactly 1 (eta > ~37): numpy said "b <= 0"
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["beta", "beta_binomial"])
def test_irt_beta_draws_with_means_that_round_to_one(family):
    sim = simulate.irt(n_models=4, n_questions=6, family=family, d_mean=60.0, d_sd=0.1, seed=1)
    assert np.all(sim.mu() == 1.0)  # the case that crashed: (1 - mu) * phi == 0
    r = sim.responses
    if family == "beta":
        # a Beta(mu phi, (1-mu) phi) draw with 1 - mu ~ 1e-26 is 1, clipped to 1 - eps
        np.testing.assert_array_equal(r["y"].to_numpy(), 1.0 - 1e-9)
    else:
        np.testing.assert_array_equal(r["successes"].to_numpy(), r["trials"].to_numpy())


def test_test_time_easy_questions_and_expected_pass_at_k():
    sim = simulate.test_time(n_models=3, n_questions=8, n_samples=10, difficulty_shift=60.0, seed=1)
    r = sim.responses
    np.testing.assert_array_equal(r["successes"].to_numpy(), r["trials"].to_numpy())
    # beta_pass_at_k rejects mu == 1; the truth of a point mass at p = 1 is pass@k = 1
    truth = sim.pass_at_k_truth([1, 5], kind="expected")
    np.testing.assert_array_equal(truth["pass_at_k"].to_numpy(), 1.0)


def test_expected_pass_at_k_truth_unchanged_for_ordinary_cells():
    # the guard for mu in {0, 1} must leave the ordinary cells on beta_pass_at_k
    sim = simulate.test_time(n_models=2, n_questions=4, benchmarks=["x"], n_samples=20, seed=3)
    truth = sim.pass_at_k_truth([2.0], kind="expected")
    mu = sim.mu()
    want = beta_pass_at_k(mu, sim.items["phi"].to_numpy()[None, :], 2.0).mean(axis=1)
    np.testing.assert_allclose(truth["pass_at_k"].to_numpy(), want, rtol=1e-13)


# --------------------------------------------------------------------------------------
# the simulators draw from the stated model (moments given the returned truth)
# --------------------------------------------------------------------------------------
def test_beta_binomial_overdispersion_matches_the_truth():
    n = 30
    sim = simulate.irt(n_models=150, n_questions=100, family="beta_binomial", n_trials=n, seed=5)
    mu = sim.mu()
    phi = sim.items["phi"].to_numpy()
    k = sim.responses["successes"].to_numpy().reshape(mu.shape)
    z = (k - n * mu) / np.sqrt(n * mu * (1 - mu) * (1 + (n - 1) / (phi + 1)))
    assert abs(z.mean()) < 0.03
    assert abs(z.var() - 1.0) < 0.05  # binomial variance alone would give ~3.5 here


def test_correlated_benchmark_abilities_have_the_stated_correlation():
    corr = np.array([[1.0, 0.6], [0.6, 1.0]])
    sim = simulate.correlated_benchmarks(n_models=20_000, questions=2, corr=corr, seed=2)
    np.testing.assert_allclose(sim.theta.corr().to_numpy(), corr, atol=0.02)
    np.testing.assert_allclose(sim.theta.std().to_numpy(), 1.0, atol=0.02)


def test_subsample_counts_is_hypergeometric():
    df = pd.DataFrame({"successes": np.full(100_000, 30), "trials": np.full(100_000, 100)})
    sub = simulate.subsample_counts(df, 20, seed=1)["successes"].to_numpy()
    # hypergeometric(30, 70, 20): mean 6, variance 20 * 0.3 * 0.7 * 80 / 99
    assert abs(sub.mean() - 6.0) < 0.03
    assert abs(sub.var() / (20 * 0.3 * 0.7 * 80 / 99) - 1.0) < 0.03


# --------------------------------------------------------------------------------------
# argument checks that name the argument (before: silent NaN, garbage, or numpy's message)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"sigma": np.nan}, "`sigma`"),  # NaN abilities and responses, silently
        ({"eps": 0.6}, "`eps`"),  # empty clip window: every y was 0.4
        ({"eps": -1.0}, "`eps`"),
        ({"phi_median": 0.0}, "`phi_median`"),  # numpy: "a <= 0"
        ({"a_sdlog": -1.0}, "`a_sdlog`"),  # numpy: "scale < 0"
        ({"d_sd": -1.0}, "`d_sd`"),
        ({"n_models": 2.5}, "`n_models`"),  # numpy TypeError
        ({"n_questions": 0}, "`n_questions`"),
        ({"beta": (0.0, 1.0, 2.0)}, "`beta`"),  # third value silently ignored
        ({"family_effects": (0.0, np.nan)}, "`family_effects`"),
        ({"family": "binomial", "n_trials": True}, "`n_trials`"),  # became 1 trial
        ({"family": "binomial", "n_trials": "5"}, "`n_trials`"),  # numpy TypeError
    ],
)
def test_irt_rejects_invalid_settings_naming_them(kwargs, name):
    args = {"n_models": 3, "n_questions": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        simulate.irt(**args)
    with pytest.raises(ValueError, match=name):
        simulate.irt_chunks(**args)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"tokens_per_param": -5.0}, "`tokens_per_param`"),  # NaN log(flops), NaN everything
        ({"tokens_per_param": 0.0}, "`tokens_per_param`"),
        ({"n_recipes": 2.5}, "`n_recipes`"),
        ({"noise_sd": np.nan}, "`noise_sd`"),
        ({"slope": np.inf}, "`slope`"),
        ({"benchmark_sd": -1.0}, "`benchmark_sd`"),
    ],
)
def test_pretraining_rejects_invalid_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        simulate.pretraining(**{"n_recipes": 2, "questions_per_benchmark": 2, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"difficulty_shift": np.nan}, "`difficulty_shift`"),
        ({"phi_median": -2.0}, "`phi_median`"),
        ({"n_models": 1.5}, "`n_models`"),
        ({"sigma": np.inf}, "`sigma`"),
    ],
)
def test_test_time_rejects_invalid_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        simulate.test_time(**{"n_models": 2, "n_questions": 4, "n_samples": 5, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"phi": 0.0}, "`phi`"),  # numpy: "a <= 0"
        ({"family": "binomial", "n_trials": 2.5}, "`n_trials`"),  # truncated to 2, reported 2.5
        ({"family": "binomial", "n_trials": 0}, "`n_trials`"),  # cells of 0 trials
        ({"questions": 2.5}, "`questions`"),  # truncated to 2
        ({"questions": True}, "`questions`"),
        ({"n_models": 2.5}, "`n_models`"),
        ({"seed": -1}, "`seed`"),
    ],
)
def test_correlated_benchmarks_rejects_invalid_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        simulate.correlated_benchmarks(**{"n_models": 5, "questions": 3, **kwargs})


def test_subsample_counts_checks_seed_and_n_samples():
    df = pd.DataFrame({"successes": [3, 5], "trials": [10, 10]})
    with pytest.raises(ValueError, match="`seed`"):
        simulate.subsample_counts(df, 4, seed=-1)
    with pytest.raises(ValueError, match="`n_samples` must hold integers"):
        simulate.subsample_counts(df, "4")  # was parsed as the number 4
    for huge in (2**70, 1e30):
        # the int64 cast wrapped: a RuntimeWarning, then "must be >= 1, got [-9223...]"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match="`n_samples` exceeds `trials` in 2 rows"):
                simulate.subsample_counts(df, huge)


# --------------------------------------------------------------------------------------
# pass@k: booleans and strings are not numbers; errors name positions and values
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: beta_pass_at_k(0.5, 2.0, True), "`k`"),  # was k = 1
        (lambda: beta_pass_at_k("0.5", 2.0, 1), "`mu`"),  # was mu = 0.5
        (lambda: beta_pass_at_k(0.5, np.array([2.0, "x"], dtype=object), 1), "`phi`"),
        (lambda: plugin_pass_at_k(np.array([True, False]), 2), "`mu`"),
        (lambda: plugin_pass_at_k(0.5, "3"), "`k`"),
    ],
)
def test_float_arguments_reject_booleans_and_strings(call, name):
    with pytest.raises(ValueError, match=f"{name} must be numeric"):
        call()


def test_float_arguments_still_accept_numbers_in_any_container():
    mu = pd.Series([0.5, 0.2], dtype="Float64")
    np.testing.assert_allclose(beta_pass_at_k(mu, np.int64(2), 1), [0.5, 0.2], rtol=1e-14)
    np.testing.assert_allclose(beta_pass_at_k(np.array([0.5], dtype=object), 2, 1), [0.5], rtol=1e-14)


def test_pass_at_k_errors_name_positions_and_values():
    with pytest.raises(ValueError, match=r"`c` must be <= n; violated at positions \[1, 2\] \(values \[12, 6\]\)"):
        pass_at_k([10, 10, 5], [3, 12, 6], 2)
    with pytest.raises(ValueError, match=r"`k` must be <= n; violated at positions \[\(1, 0\)\]"):
        pass_at_k([[10], [3]], 1, 5)
    with pytest.raises(ValueError, match=r"`ks` must be <= n for every cell: max\(ks\) = 5 exceeds n at positions \[1\]"):
        pass_at_k_grid([10, 3], [1, 1], [1, 5])
    with pytest.raises(ValueError, match=r"`mu` contains NaN at positions \[1\]"):
        beta_pass_at_k([0.5, np.nan], 2.0, 1)


def test_pass_at_k_edges_against_closed_forms():
    # k = n: certain success unless c = 0; c = n: 1; n = 1e7, k = 1e6, c = 5: 1 - C(n-5,k)/C(n,k)
    assert pass_at_k(10**7, 1, 10**7) == 1.0 and pass_at_k(10**7, 0, 10**7) == 0.0
    assert pass_at_k(10**7, 10**7, 10**6) == 1.0
    n, k = 10**7, 10**6
    want = 1.0 - np.prod([(n - k - i) / (n - i) for i in range(5)])
    assert abs(pass_at_k(n, 5, k) - want) < 1e-15
    # mu -> 1 inside the open interval, phi = inf, phi tiny (Bernoulli(mu) limit: pass@k = mu)
    assert beta_pass_at_k(1 - 1e-16, 1.0, 1) == pytest.approx(1 - 1e-16, abs=1e-16)
    np.testing.assert_allclose(beta_pass_at_k(0.3, np.inf, [1, 10]), 1 - 0.7 ** np.array([1, 10]), rtol=1e-14)
    np.testing.assert_allclose(beta_pass_at_k(0.3, 1e-300, [1, 10, 1e6]), 0.3, rtol=1e-12)
    assert expit(40.0) == 1.0  # the rounding the simulators now handle
