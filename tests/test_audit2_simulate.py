"""Second audit of :mod:`irsl_stats.simulate` and the studies of :mod:`irsl_stats.evaluation`.

Arguments that were silently misread (a negative ``block``, an unknown ``irt``, misspelt
``benchmark_offsets`` keys) or repeated (``sizes``, ``seeds``, ``strategies``, ``ratios``) must
be refused by name; every check runs before any expensive work.
"""

from __future__ import annotations

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats import evaluation as ev
from irsl_stats import simulate

SIM = dict(n_recipes=5, sizes=(4e6, 1e7, 6e7, 3e8, 1e9), benchmarks=("arc_easy", "boolq"),
           questions_per_benchmark=20, n_checkpoints=1)
RUN = dict(ks=(5,), strategies=("random",), n_threads=1)


@pytest.fixture(scope="module")
def sim():
    return simulate.irt(n_models=10, n_questions=6, benchmarks=2, seed=0)


# ========================================================================= expected_scores
@pytest.mark.parametrize("block", [-1, 0, 2.5, True, "3", None])
def test_expected_scores_refuses_a_block_that_is_not_a_positive_integer(sim, block):
    # block=-1 returned np.empty's uninitialised memory (the loop over range(0, n, -1) is empty)
    with pytest.raises(ValueError, match=r"`block` must be an integer >= 1"):
        sim.expected_scores(block=block)


@pytest.mark.parametrize("block", [1, 3, np.int64(4), 10**6])
def test_expected_scores_is_the_same_for_every_valid_block(sim, block):
    mu = sim.mu()
    bench = sim.items["benchmark"].astype(str).to_numpy()
    got = sim.expected_scores(block=block)
    np.testing.assert_allclose(got["all"].to_numpy(), mu.mean(axis=1), rtol=1e-12)
    for b in np.unique(bench):
        np.testing.assert_allclose(got[b].to_numpy(), mu[:, bench == b].mean(axis=1), rtol=1e-12)


# =================================================================== population_scale_truth
@pytest.mark.parametrize("irt", ["2PL", "1PL", "nonsense", "", None])
def test_population_scale_truth_refuses_an_unknown_irt(sim, irt):
    # any string other than "2pl" silently gave the 1PL truth
    with pytest.raises(ValueError, match=r"`irt` must be '1pl' or '2pl'"):
        sim.population_scale_truth(irt)


def test_population_scale_truth_1pl_and_2pl_differ_by_the_2pl_scale(sim):
    one, two = sim.population_scale_truth("1pl"), sim.population_scale_truth("2pl")
    scale = one["sigma"] / two["sigma"]
    assert scale > 0 and np.isfinite(scale)  # 2PL divides by sqrt(var(x'beta) + sigma^2)
    np.testing.assert_allclose(two.drop("Intercept").to_numpy(), one.drop("Intercept").to_numpy() / scale)


# ======================================================================= benchmark_offsets
def test_test_time_refuses_benchmark_offsets_keys_that_are_not_benchmarks():
    # "AIME24" matched nothing and was ignored silently (and all offsets fell to 0)
    with pytest.raises(ValueError, match=r"not benchmarks of this simulation: \['AIME24'\]; "
                                         r"the benchmarks are \['aime24', 'aime25', 'mmlu_pro'"):
        simulate.test_time(n_models=3, n_questions=8, n_samples=10, benchmark_offsets={"AIME24": -3.5})
    with pytest.raises(ValueError, match=r"\['x'\]; the benchmarks are \['a', 'b'\]"):
        simulate.test_time(n_models=3, n_questions=8, n_samples=10, benchmarks=["a", "b"],
                           benchmark_offsets={"a": 1.0, "x": 2.0})


@pytest.mark.parametrize("bad,match", [
    ([("aime24", 1.0)], "must be a dict"),
    ({"aime24": np.nan}, r"`benchmark_offsets\['aime24'\]` must be a finite number"),
    ({"aime24": "hard"}, r"`benchmark_offsets\['aime24'\]` must be a finite number"),
])
def test_test_time_refuses_malformed_benchmark_offsets(bad, match):
    with pytest.raises(ValueError, match=match):
        simulate.test_time(n_models=3, n_questions=8, n_samples=10, benchmark_offsets=bad)


def test_a_partial_benchmark_offsets_dict_keeps_the_other_defaults():
    # a given dict used to replace the defaults: {"aime24": 0} also set aime25 -4.0 -> 0
    base = simulate.test_time(n_models=3, n_questions=8, n_samples=10, seed=1)
    assert base.truth["benchmark_offsets"].to_dict() == {
        "aime24": -3.5, "aime25": -4.0, "mmlu_pro": 0.5, "global_mmlu_lite": 1.5}
    tt = simulate.test_time(n_models=3, n_questions=8, n_samples=10, seed=1,
                            benchmark_offsets={"aime24": 0.0})
    assert tt.truth["benchmark_offsets"].to_dict() == {
        "aime24": 0.0, "aime25": -4.0, "mmlu_pro": 0.5, "global_mmlu_lite": 1.5}
    # the offset moves the mean of d (same random draws): aime24 by +3.5, the others not at all
    shift = (tt.items["d"] - base.items["d"]).groupby(tt.items["benchmark"], observed=True).mean()
    np.testing.assert_allclose(shift.to_dict()["aime24"], 3.5)
    np.testing.assert_allclose(shift.drop("aime24").to_numpy(), 0.0, atol=1e-12)
    # names without a default still default to 0, and may be set
    other = simulate.test_time(n_models=3, n_questions=8, n_samples=10, benchmarks=["x", "aime25"],
                               benchmark_offsets={"x": 1.0})
    assert other.truth["benchmark_offsets"].to_dict() == {"x": 1.0, "aime25": -4.0}


# ============================================================================ repeated lists
@pytest.mark.parametrize("sizes,match", [
    ([1e6, 1e6], r"`sizes` must be distinct; repeated: \[1000000.0\]"),
    ([1e6, 2e6, 1e6, 2e6, 3e6], r"`sizes` must be distinct; repeated: \[1000000.0, 2000000.0\]"),
    ([1e6, 1.0000001e6], r"`sizes` must give distinct size labels.*'1M': \[1000000.0, 1000000.1\]"),
])
def test_pretraining_refuses_repeated_sizes(sizes, match):
    # failed inside pandas: "Categorical categories must be unique"
    with pytest.raises(ValueError, match=match):
        simulate.pretraining(n_recipes=2, sizes=sizes, questions_per_benchmark=5)


@pytest.mark.parametrize("call", [
    lambda: simulate.irt(n_models=3, n_questions=4, benchmarks=["a", "a"]),
    lambda: simulate.pretraining(n_recipes=2, sizes=[1e6, 2e6], benchmarks=["a", "a"], questions_per_benchmark=2),
    lambda: simulate.test_time(n_models=3, n_questions=4, n_samples=5, benchmarks=["a", "a"]),
    lambda: simulate.correlated_benchmarks(n_models=3, questions=2, benchmarks=["a", "a", "b"]),
])
def test_the_simulators_refuse_repeated_benchmark_names(call):
    with pytest.raises(ValueError, match=r"`benchmarks` must be a non-empty sequence of distinct names; "
                                         r"repeated: \['a'\]"):
        call()


# ============================================================================ studies: repeats
def test_subset_study_refuses_repeated_seeds_before_simulating(monkeypatch):
    # seeds=(0, 0) duplicated every row and reported mae_sd = 0.0 with n_seeds = 1
    def no_sim(*a, **k):
        raise AssertionError("simulated before checking the seeds")

    monkeypatch.setattr(irsl.simulate, "pretraining", no_sim)
    for seeds, dup in (((0, 0), r"\[0\]"), ([3, 1, 3, 1, 2], r"\[1, 3\]"), (np.array([5, 5]), r"\[5\]")):
        with pytest.raises(ValueError, match=r"`seeds` has duplicates " + dup + r": each would repeat identical draws"):
            ev.subset_study(seeds, simulation=SIM, n_calibration=2, **RUN)


@pytest.fixture(scope="module")
def sp():
    return irsl.simulate.pretraining(seed=0, **SIM)


@pytest.mark.parametrize("kwargs,match", [
    (dict(strategies=("random", "random")), r"strategies has duplicates \['random'\]"),
    (dict(strategies=["stratified", "random", "stratified"]), r"strategies has duplicates \['stratified'\]"),
    (dict(ratios=[0.1, 0.1]), r"ratios has duplicates \[0.1\]"),
    (dict(ratios=np.array([0.2, 0.1, 0.2])), r"ratios has duplicates \[0.2\]"),
])
def test_efficient_eval_refuses_repeated_strategies_and_ratios(sp, monkeypatch, kwargs, match):
    # a repeat gave identical result rows, which summarize() pooled as separate draws
    import irsl_stats.api as api

    def no_fit(*a, **k):
        raise AssertionError("calibrated before checking the options")

    monkeypatch.setattr(api, "fit", no_fit)
    cal = list(sp.models["recipe"].cat.categories[:2])
    with pytest.raises(ValueError, match=match):
        ev.efficient_eval(sp.responses, sp.models, cal, **{**RUN, **kwargs})
