"""Test-time surface fixes: the posterior-predictive forecast of questions that are (numerically)
always solved, bounded memory of dense pass@k grids, budgets checked against the held-out models
only, budget inputs refused by passk's checkers with the argument's name, and the documented type
of ``k``."""

import tracemalloc
import warnings

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import irsl_stats as irsl
from irsl_stats import passk
from irsl_stats import testtime as tt


def _exact_pass(a, b, k):
    """``1 - B(a, b + k) / B(a, b)`` with 50 digits."""
    with mp.workdps(50):
        a, b, k = mp.mpf(a), mp.mpf(b), mp.mpf(k)
        log_fail = mp.loggamma(b + k) + mp.loggamma(a + b) - mp.loggamma(b) - mp.loggamma(a + b + k)
        return float(-mp.expm1(log_fail))


# ----------------------------------------------------------------------------- 1. conditional
@pytest.fixture(scope="module")
def solved_bank():
    """q_easy is at the difficulty bound (expit(d) rounds to 1): every calibration model solved it."""
    items = pd.DataFrame({"a": 1.0, "d": [40.0, 0.3, -1.0], "phi": [10.5, 4.0, 25.0]},
                         index=["q_easy", "q_mid", "q_hard"])
    return irsl.ItemBank(items, family="beta_binomial", irt="1pl")


def test_conditional_forecast_when_an_always_solved_question_is_solved_again(solved_bank):
    # the new model solves q_easy 10 times of 10: the posterior Beta(mu phi + 10, (1-mu) phi) has
    # beta ~ 1e-15 and its mean rounds to exactly 1; beta_pass_at_k_grid(mean, a+b) refused it
    counts = pd.DataFrame({"model": "new", "question": ["q_easy", "q_mid", "q_hard"],
                           "successes": [10, 4, 1], "trials": 10})
    ks = np.array([1, 2, 5, 10, 100, 1000, 12345.5])
    out = tt.forecast_from_counts(solved_bank, counts, ks, forecasts=("beta_conditional", "beta"),
                                  n_threads=1)
    cond = out[out["forecast"] == "beta_conditional"]
    theta = float(cond["theta"].iloc[0])
    it = solved_bank.items
    eta = it["a"].to_numpy() * theta + it["d"].to_numpy()
    phi = it["phi"].to_numpy()
    a_post = expit(eta) * phi + counts["successes"].to_numpy()
    b_post = expit(-eta) * phi + (counts["trials"] - counts["successes"]).to_numpy()
    want = [np.mean([_exact_pass(a, b, k) for a, b in zip(a_post, b_post)]) for k in ks]
    np.testing.assert_allclose(cond["pass_at_k"].to_numpy(), want, rtol=0, atol=1e-14)
    assert np.isfinite(out["pass_at_k"]).all()


def test_beta_shape_grid_matches_mpmath_for_any_positive_shapes():
    alpha = np.array([10.0 + 64.0, 3.0, 1e-6, 2e-9, 5e-12, 7.5, 1e5])
    beta = np.array([2.0**-53 * 64.0, 1e-15, 2.0, 3e-9, 1e-300, 40.0, 3.0])  # beta far below alpha too
    ks = np.array([1, 3, 100, 257, 5000.5, 1e7])
    got = passk._beta_shape_pass_at_k_grid(alpha, beta, ks)
    want = np.array([[_exact_pass(a, b, k) for k in ks] for a, b in zip(alpha, beta)])
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-15)
    with pytest.raises(ValueError, match=r"`beta` must be finite and > 0; violated at positions \[1\]"):
        passk._beta_shape_pass_at_k_grid([1.0, 2.0], [1.0, 0.0], [1])


def test_leave_one_model_out_docstring_example_runs():
    # one simulation seed in 8 crashed with "`mu` must lie strictly between 0 and 1" (this one,
    # the docstring's): a question the calibration models always solve, solved n of n by lm4
    sim = irsl.simulate.test_time(n_models=5, n_questions=20, n_samples=300, seed=0)
    study = tt.leave_one_model_out(sim.responses, budgets=[10], seeds=[0], n_threads=1)
    assert set(study.errors["forecast"]) == set(tt.FORECASTS)
    assert np.isfinite(study.errors["mae"]).all()
    assert len(study.summary()) == 1


def test_conditional_error_names_the_model_and_question(solved_bank):
    c, n = np.array([10.0, 4.0]), np.array([10.0, 10.0])
    with pytest.raises(ValueError, match=r"model 'new'.*questions \['q_easy', 'q_mid'\]"):
        tt._conditional(solved_bank, "new", ["q_easy", "q_mid"], c, n, np.nan, np.arange(1.0, 4.0))


# ----------------------------------------------------------------------------- 2. memory
def test_bank_forecast_averages_a_block_of_questions_at_a_time(monkeypatch):
    rng = np.random.default_rng(0)
    n_q, n_k = 200, 20_000
    items = pd.DataFrame({"a": 1.0, "d": rng.normal(-2.0, 2.0, n_q), "phi": np.exp(rng.normal(1.0, 1.0, n_q))},
                         index=[f"q{i}" for i in range(n_q)])
    bank = irsl.ItemBank(items, family="beta_binomial", irt="1pl")
    ks = np.arange(1, n_k + 1)
    mu = np.clip(expit(items["d"].to_numpy() + 0.2), 1e-300, 1.0 - 2.0**-53)
    whole = passk.beta_pass_at_k_grid(mu, items["phi"].to_numpy(), ks).mean(axis=0)
    # blocks of 5 questions: the whole 200 x 20,000 table (32 MB, ~110 MB with the temporaries)
    # is never built
    monkeypatch.setattr(passk, "_MEAN_BLOCK_CELLS", 100_000)
    tracemalloc.start()
    try:
        out = bank.forecast_pass_at_k([0.2], ks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * n_q * n_k * 8
    np.testing.assert_allclose(out["pass_at_k"].to_numpy(), whole, rtol=0, atol=2e-15)


# ----------------------------------------------------------------------------- 3. budgets
@pytest.fixture(scope="module")
def mixed_counts():
    """Held-out candidates with 200 samples per cell, and a calibration-only model with 20."""
    sim = irsl.simulate.test_time(n_models=4, n_questions=12, n_samples=200, irt="1pl", seed=3)
    r = sim.responses.copy()
    r["model"] = r["model"].astype(str)
    few = irsl.simulate.subsample_counts(r[r["model"] == "lm3"], 20, seed=0)
    return pd.concat([r[r["model"] != "lm3"], few], ignore_index=True)


def test_budgets_and_default_ks_use_the_held_out_models_only(mixed_counts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        study = tt.leave_one_model_out(mixed_counts, budgets=(50,), seeds=(0,), models=["lm1"],
                                       forecasts=("beta",), n_threads=1)
        table = tt.sample_budget_study(mixed_counts, budgets=(30, 50), seeds=(0,), models=["lm1"],
                                       forecasts=("beta",), n_threads=1)
    assert study.ks.min() == 1 and study.ks.max() == 200  # not cut to lm3's 1..20
    assert np.isfinite(study.errors["mae"]).all()
    assert table["budget"].tolist() == [30, 50]
    # a held-out model with 20 samples per cell still limits the budgets, naming its cells
    with pytest.raises(ValueError, match=r"`budgets`: 50 samples.*\('lm3', 'q\d+'\): n = 20"):
        tt.leave_one_model_out(mixed_counts, budgets=(50,), seeds=(0,), models=["lm1", "lm3"],
                               forecasts=("beta",), n_threads=1)


# ----------------------------------------------------------------------------- 4. input checks
@pytest.fixture(scope="module")
def counts():
    return pd.DataFrame({"model": ["m1", "m1", "m2", "m2"], "question": ["q1", "q2", "q1", "q2"],
                         "successes": [1, 3, 0, 5], "trials": [10, 10, 10, 8]})


@pytest.mark.parametrize("ks", [[True], [1, True], ["10"], ["a"], np.array([1.0, True], dtype=object)])
def test_bank_forecast_refuses_booleans_and_strings_as_budgets(solved_bank, ks):
    with pytest.raises(ValueError, match=r"`ks` must be numeric"):
        solved_bank.forecast_pass_at_k([0.0], ks)


@pytest.mark.parametrize("ks", [[True], [1, True], ["10"]])
def test_forecast_from_counts_refuses_booleans_and_strings_as_budgets(solved_bank, ks):
    counts = pd.DataFrame({"model": "m", "question": ["q_mid", "q_hard"], "successes": [3, 0], "trials": 10})
    with pytest.raises(ValueError, match=r"`ks` must be numeric"):
        tt.forecast_from_counts(solved_bank, counts, ks, forecasts=("empirical",))


@pytest.mark.parametrize("ks", [[1, True], [True], ["5"], [[1, 2], [3]]])
def test_observed_pass_at_k_refuses_booleans_strings_and_ragged_budgets(counts, ks):
    with pytest.raises(ValueError, match=r"`ks` must be integer"):
        tt.observed_pass_at_k(counts, ks)


def test_observed_pass_at_k_names_the_cells_too_short_for_the_budget(counts):
    with pytest.raises(ValueError, match=r"`ks` goes up to 9 .*\('m2', 'q2'\): n = 8"):
        tt.observed_pass_at_k(counts, [1, 9])


def test_pass_at_k_names_a_ragged_argument():
    with pytest.raises(ValueError, match=r"`n` must be integer, in a rectangular array"):
        irsl.pass_at_k([[10, 20], [30]], 1, 1)
    with pytest.raises(ValueError, match=r"`c` must be integer, got booleans"):
        irsl.pass_at_k(10, [1, True], 1)


# ----------------------------------------------------------------------------- 5. results docs
def test_results_forecast_documents_and_refuses_budgets_like_the_bank():
    sim = irsl.simulate.irt(n_models=30, n_questions=20, seed=0)
    res = irsl.fit("ability ~ 1", sim.responses)
    doc = irsl.IRSLResults.forecast_pass_at_k.__doc__
    assert "array_like of int" not in doc and "``k`` (int)" not in doc
    assert "float64" in doc
    assert res.forecast_pass_at_k([1.5, 4])["k"].dtype == np.float64
    assert res.forecast_pass_at_k([1, 4])["k"].dtype == np.int64
    with pytest.raises(ValueError, match=r"`ks` must be numeric"):
        res.forecast_pass_at_k(["10"])


def test_cross_benchmark_forecast_refuses_boolean_and_ragged_budgets():
    import warnings as _w

    sim = irsl.simulate.correlated_benchmarks(n_models=40, questions=6, corr=[[1, .6], [.6, 1]],
                                              benchmarks=["A", "B"], seed=0)
    with _w.catch_warnings():
        _w.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ 1", data=sim.responses, benchmark="benchmark", ability="per_benchmark",
                       n_threads=1)
    first = sim.responses["model"].iloc[0]
    using = sim.responses[(sim.responses["benchmark"] == "A") & (sim.responses["model"] == first)]
    with pytest.raises(ValueError, match="`ks` must be integer, got booleans such as True"):
        res.forecast("B", using=using, ks=[1, True])
    with pytest.raises(ValueError, match="`ks` must be integer, in a rectangular array"):
        res.forecast("B", using=using, ks=[[1, 2], [3]])
    out = res.forecast("B", using=using, ks=[1, 5])
    assert sorted(out["k"].unique()) == [1, 5]
