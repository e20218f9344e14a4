"""Tests of the efficient-evaluation study (issue #4, items 7-8): the baselines, the question
reduction, the shape of the result tables, and a small version of the acceptance study (IRSL
beats the naive k-question mean at measuring held-out models' full-benchmark scores).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import irsl_stats as irsl
from irsl_stats import evaluation as ev

SMALL_SIM = dict(n_recipes=10, questions_per_benchmark=60, sizes=(4e6, 1e7, 2e7, 6e7, 1.5e8, 3e8, 1e9))


# ----------------------------------------------------------------------------- baselines
def test_logit_linear_recovers_an_exact_logit_linear_curve():
    x = np.log(np.array([1e15, 3e15, 1e16, 4e16, 1e17]))
    target = np.log(1e19)
    score = special.expit(-9.0 + 0.25 * x)
    got = ev.logit_linear_extrapolate(x, score, target)
    assert got == pytest.approx(special.expit(-9.0 + 0.25 * target), rel=1e-10)


def test_logit_linear_per_group_with_group_targets():
    rng = np.random.default_rng(0)
    groups = np.repeat(["r2", "r0", "r1"], 4)  # sorted labels: r0, r1, r2
    x = rng.uniform(30, 40, groups.size)
    coef = {"r0": (-8.0, 0.2), "r1": (-12.0, 0.35), "r2": (-5.0, 0.1)}
    a = np.array([coef[g][0] for g in groups])
    b = np.array([coef[g][1] for g in groups])
    targets = pd.Series({"r0": 45.0, "r1": 44.0, "r2": 46.0})
    got = ev.logit_linear_extrapolate(x, special.expit(a + b * x), targets, groups=groups)
    assert list(got.index) == ["r0", "r1", "r2"]
    want = [special.expit(coef[g][0] + coef[g][1] * targets[g]) for g in got.index]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-10)
    # targets given as an array follow the sorted group order
    arr = ev.logit_linear_extrapolate(x, special.expit(a + b * x), targets.to_numpy(), groups=groups)
    np.testing.assert_allclose(arr.to_numpy(), want, rtol=1e-10)


def test_linear_extrapolate_weighted_and_common_slope():
    x = np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0])
    g = np.array([0, 0, 0, 1, 1, 1])
    y = np.where(g == 0, 1.0, 3.0) + 0.5 * x
    pooled = ev.linear_extrapolate(x, y, 4.0, groups=g, common_slope=True)
    np.testing.assert_allclose(pooled.to_numpy(), [3.0, 5.0])
    # weights: a zero-weight outlier does not move the line
    y2 = y.copy()
    y2[2] = 100.0
    w = np.ones(6)
    w[2] = 0.0
    x2 = x.copy()
    x2[2] = 1.5
    got = ev.linear_extrapolate(x2, y2, 4.0, groups=g, weights=w)
    np.testing.assert_allclose(got.to_numpy(), [3.0, 5.0])
    assert ev.linear_extrapolate([1.0, 2.0], [1.0, 3.0], 3.0) == pytest.approx(5.0)


def test_extrapolation_errors():
    with pytest.raises(ValueError, match="fewer than two distinct x"):
        ev.linear_extrapolate([1.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0], 4.0, groups=[0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ev.logit_linear_extrapolate([1.0, 2.0], [0.5, 1.5], 3.0)
    with pytest.raises(ValueError, match="no target"):
        ev.linear_extrapolate([1.0, 2.0, 1.0, 2.0], [0, 1, 0, 1], {"a": 3.0}, groups=["a", "a", "b", "b"])


# ----------------------------------------------------------------------------- reduction
def test_question_reduction_counts():
    items = pd.DataFrame({
        "benchmark": np.repeat(["b1", "b2", "b3"], [300, 300, 20]),
        "a": 1.0, "d": 0.0, "phi": 10.0,
    }, index=[f"q{i}" for i in range(620)])
    bank = irsl.ItemBank(items, family="beta")
    red = ev.question_reduction(bank, [10, 50])
    assert red.loc[50, "n_questions"] == 50 + 50 + 20  # a small benchmark gives all it has
    assert red.loc[10, "n_questions"] == 30
    assert red.loc[50, "n_total"] == 620
    assert red.loc[10, "factor"] == pytest.approx(620 / 30)
    assert red.loc[50, "share"] == pytest.approx(120 / 620)


def test_known_item_bank_matches_the_simulator():
    sim = irsl.simulate.pretraining(n_recipes=2, n_checkpoints=1, questions_per_benchmark=20, seed=1)
    bank = ev.known_item_bank(sim.items, sim.models["theta"])
    truth = sim.expected_scores()
    for b in ("arc_easy", "mmlu"):
        np.testing.assert_allclose(bank.expected_score(sim.models["theta"].to_numpy(), benchmark=b),
                                   truth[b].to_numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- the study
@pytest.fixture(scope="module")
def study():
    return ev.subset_study([0], n_calibration=4, simulation=SMALL_SIM, ks=(10, 20),
                          strategies=("random", "stratified"), n_threads=1)


def test_study_tables_have_the_documented_shape(study):
    res = study.results
    assert list(res.columns) == ev.RESULT_COLUMNS
    score = res[res.estimand == "score"]
    # 2 strategies x 2 k x {irsl, irsl_known, naive}
    assert len(score) == 12
    assert set(score.method) == {"irsl", "irsl_known", "naive"}
    assert score.ratio.isna().all()
    assert (score.n_models == 6 * 7 * 2).all()  # held-out recipes x sizes x checkpoints
    fc = res[res.estimand == "forecast"]
    assert set(fc.method) == {"irsl", "irsl_pooled", "irsl_known", "irsl_known_pooled", "naive_largest",
                              "logit_linear", "logit_linear_full"}
    assert (fc.n_models == 6).all()  # one target per held-out recipe
    ratios = np.sort(fc.ratio.unique())
    assert ratios.size == 6 - 2  # default: 6 smaller sizes, from the third-smallest on
    assert ((ratios > 0) & (ratios < 1)).all()
    assert res.mae.notna().all() and res.decision_accuracy.between(0, 1).all()
    # every held-out model answered 10 x 10 questions out of 600
    assert set(score.loc[score.k == 10, "n_questions"]) == {100}
    assert study.reduction.loc[20, "n_total"] == 600
    summ = study.summary("forecast")
    assert {"mae", "mae_sd", "decision_accuracy", "da_sd", "n_seeds"} <= set(summ.columns)


def test_irsl_beats_the_naive_mean_at_measuring_held_out_models(study):
    gain = study.gain(k=10, strategy="random")
    # acceptance (item 8) asks for >= 30% with 50 of 300 questions; 10 of 60 here
    assert (gain["mae_reduction"] >= 0.4).all(), gain
    # known question parameters do no better than a few percent over calibrated ones
    r = study.results
    s = r[(r.estimand == "score") & (r.method.isin(["irsl", "irsl_known"]))]
    m = s.groupby("method")["mae"].mean()
    assert m["irsl"] < 1.2 * m["irsl_known"]


def test_irsl_forecast_beats_the_traditional_extrapolation(study):
    r = study.results
    fc = r[(r.estimand == "forecast") & (r.strategy == "random")]
    mae = fc.groupby("method")["mae"].mean()
    assert mae["irsl"] < mae["logit_linear"]
    assert mae["irsl"] < mae["naive_largest"]


def test_efficient_eval_validates_its_inputs():
    sim = irsl.simulate.pretraining(n_recipes=3, n_checkpoints=1, questions_per_benchmark=10,
                                    sizes=(4e6, 1e7, 6e7, 1e9), seed=2)
    with pytest.raises(ValueError, match="not in the models table"):
        ev.efficient_eval(sim.responses, sim.models, ["nope"])
    with pytest.raises(ValueError, match="at least two held-out"):
        ev.efficient_eval(sim.responses, sim.models, ["recipe_00", "recipe_01"])
    with pytest.raises(ValueError, match="strategy"):
        ev.efficient_eval(sim.responses, sim.models, ["recipe_00"], strategies=("best",))
    with pytest.raises(ValueError, match="law"):
        ev.efficient_eval(sim.responses, sim.models, ["recipe_00"], law="global")


def test_efficient_eval_with_plain_columns_a_given_bank_and_true_scores():
    sim = irsl.simulate.pretraining(n_recipes=5, n_checkpoints=1, questions_per_benchmark=30,
                                    benchmarks=("arc_easy", "mmlu"), sizes=(4e6, 1e7, 2e7, 6e7, 1e9), seed=4)
    resp = sim.responses.astype({"model": str, "question": str, "benchmark": str})
    models = sim.models.astype({"recipe": str}).set_index("model")
    bank = ev.known_item_bank(sim.items, sim.models["theta"])
    out = ev.efficient_eval(resp, models, ["recipe_00", "recipe_01"], bank=bank, ks=(5,),
                            strategies=("information",), ratios=[0.05], law="pooled",
                            true_scores=sim.expected_scores(), n_threads=1)
    assert set(out.method) == {"irsl", "naive", "irsl_pooled", "naive_largest", "logit_linear",
                               "logit_linear_full"}
    assert set(out.n_questions) == {10}
    fc = out[out.estimand == "forecast"]
    assert (fc.ratio < 0.05 + 1e-12).all() and (fc.n_models == 3).all()
    # with the true question parameters and the expected score as truth, IRSL is nearly exact
    s = out[out.estimand == "score"].set_index("method")
    assert s.loc["irsl", "mae"] < 0.5 * s.loc["naive", "mae"]
    with pytest.raises(ValueError, match="fewer than two model sizes"):
        ev.efficient_eval(resp, models, ["recipe_00"], bank=bank, ks=(5,), ratios=[1e-9])


def test_per_benchmark_abilities_borrow_nothing_across_benchmarks(study):
    sim = irsl.simulate.pretraining(seed=0, **{**ev.DEFAULT_SIMULATION, **SMALL_SIM})
    names = np.asarray(sim.models["recipe"].cat.categories)
    cal = names[np.random.default_rng(0).permutation(names.size)[:4]]  # as subset_study([0])
    out = ev.efficient_eval(sim.responses, sim.models, cal, ks=(10,), strategies=("random",),
                            ratios=[0.01], law="recipe", ability="per_benchmark", n_threads=1)
    s = out[out.estimand == "score"].set_index("method")
    shared = study.results
    shared = shared[(shared.estimand == "score") & (shared.k == 10) & (shared.strategy == "random")]
    shared = shared.set_index("method")
    assert s.loc["naive", "mae"] == pytest.approx(shared.loc["naive", "mae"])  # same questions
    # one ability per benchmark still beats the naive mean, by less than the shared ability
    assert shared.loc["irsl", "mae"] < s.loc["irsl", "mae"] < 0.9 * s.loc["naive", "mae"]
    assert set(out.loc[out.estimand == "forecast", "method"]) == {"irsl", "naive_largest", "logit_linear",
                                                                  "logit_linear_full"}
    with pytest.raises(ValueError, match="ability"):
        ev.efficient_eval(sim.responses, sim.models, cal, ability="both")


def test_vectorised_expected_scores_match_the_bank():
    sim = irsl.simulate.pretraining(n_recipes=2, n_checkpoints=1, questions_per_benchmark=15, seed=5)
    bank = ev.known_item_bank(sim.items, sim.models["theta"])
    theta = pd.DataFrame({b: sim.models["theta"].to_numpy() + i * 0.1 for i, b in enumerate(["mmlu", "piqa"])})
    got = ev._expected_scores(bank, theta)
    for b in theta.columns:
        np.testing.assert_allclose(got[b].to_numpy(), bank.expected_score(theta[b].to_numpy(), benchmark=b),
                                   rtol=1e-13)
