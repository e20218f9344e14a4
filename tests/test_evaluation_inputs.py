"""Input checks and missing-data handling of the evaluation studies (audit items 4-7, 9-11):
:func:`irsl_stats.evaluation.efficient_eval`, :func:`~irsl_stats.evaluation.question_reduction`,
:meth:`~irsl_stats.evaluation.SubsetStudy.gain`, :func:`irsl_stats.crossval.transfer_study` and
:func:`irsl_stats.crossval.holdout_benchmark_study`. Every data set is tiny (a fit takes well
under a second on one thread).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats import crossval as cv
from irsl_stats import evaluation as ev

SIM = dict(n_recipes=6, sizes=(4e6, 1e7, 6e7, 3e8, 1e9), benchmarks=("arc_easy", "boolq", "piqa"),
           questions_per_benchmark=40)
RUN = dict(ks=(5,), strategies=("random",), n_threads=1)


@pytest.fixture(scope="module")
def sp():
    return irsl.simulate.pretraining(seed=0, **SIM)


@pytest.fixture(scope="module")
def sp_missing():
    return irsl.simulate.pretraining(seed=0, missing=0.3, **SIM)


def _cal(sim):
    return list(sim.models["recipe"].cat.categories[:3])


# ----------------------------------------------------------------------------- item 4
def test_efficient_eval_rejects_response_models_missing_from_the_models_table(sp):
    models = sp.models[sp.models["model"] != "recipe_03-60M-ckpt1"]
    with pytest.raises(ValueError, match=r"1 model\(s\).*not in the models table.*recipe_03-60M-ckpt1"):
        ev.efficient_eval(sp.responses, models, _cal(sp), **RUN)
    # many absent models: the count and the first few labels
    models = sp.models[sp.models["recipe"] != "recipe_05"]
    with pytest.raises(ValueError, match=r"10 model\(s\).*recipe_05-4M-ckpt1"):
        ev.efficient_eval(sp.responses, models, _cal(sp), **RUN)


def test_efficient_eval_rejects_duplicated_model_labels(sp):
    models = pd.concat([sp.models, sp.models.iloc[[35]]])
    label = sp.models["model"].iloc[35]
    with pytest.raises(ValueError, match=rf"duplicated.*{label}"):
        ev.efficient_eval(sp.responses, models, _cal(sp), **RUN)
    # also when the labels are the index of the models table
    with pytest.raises(ValueError, match=rf"duplicated.*{label}"):
        ev.efficient_eval(sp.responses, models.set_index("model"), _cal(sp), **RUN)


# ----------------------------------------------------------------------------- item 6
def test_efficient_eval_runs_with_missing_responses_and_counts_unavailable_cells(sp_missing):
    with pytest.warns(irsl.IRSLWarning, match=r"'naive'.*k=2.*\('recipe_"):
        out = ev.efficient_eval(sp_missing.responses, sp_missing.models, _cal(sp_missing), ks=(2,),
                                strategies=("random",), n_threads=1)
    assert "n_unavailable" in out.columns and list(out.columns) == ev.RESULT_COLUMNS
    score = out[out.estimand == "score"].set_index("method")
    # the naive 2-question mean has no answer for some cells; the shared ability always has one
    assert score.loc["naive", "n_unavailable"] > 0
    assert score.loc["irsl", "n_unavailable"] == 0
    assert np.isfinite(out["mae"]).all() and out["decision_accuracy"].between(0, 1).all()
    summ = ev.summarize(out, "score")
    assert summ.loc[("random", 2, "naive"), "n_unavailable"] == score.loc["naive", "n_unavailable"]


def test_efficient_eval_per_benchmark_abilities_with_missing_responses(sp_missing):
    with pytest.warns(irsl.IRSLWarning, match="'irsl'"):
        out = ev.efficient_eval(sp_missing.responses, sp_missing.models, _cal(sp_missing), ks=(2,),
                                strategies=("random",), ratios=[0.1], law=("recipe", "pooled"),
                                ability="per_benchmark", n_threads=1)
    score = out[out.estimand == "score"].set_index("method")
    assert score.loc["irsl", "n_unavailable"] > 0  # a benchmark answered by none of the 2
    assert np.isfinite(out["mae"]).all()
    fc = out[out.estimand == "forecast"]
    assert len(fc) and fc["n_unavailable"].between(0, fc["n_models"] * 3).all()


def test_mae_and_decision_accuracy_exclude_and_count_unavailable_cells():
    truth = pd.DataFrame({"b1": [0.1, 0.2, 0.3, 0.4], "b2": [0.4, 0.3, 0.2, 0.1]}, index=list("wxyz"))
    pred = truth + 0.1
    pred.loc["x", "b1"] = np.nan
    pred.loc["w", "b2"] = np.nan
    mae, n = ev._mae(pred, truth)
    assert n == 2 and mae == pytest.approx(0.1)
    # the rank of the 3 available candidates of each benchmark is exact
    assert ev._da(pred, truth) == pytest.approx(1.0)


def test_missing_true_scores_name_the_cells(sp):
    truth = sp.expected_scores()
    truth.index = sp.models["model"].astype(str).to_numpy()
    truth = truth.drop(index="recipe_04-10M-ckpt2")
    with pytest.raises(ValueError, match=r"3 held-out.*recipe_04-10M-ckpt2"):
        ev.efficient_eval(sp.responses, sp.models, _cal(sp), true_scores=truth, **RUN)


# ----------------------------------------------------------------------------- item 7
def test_nan_responses_are_rejected_up_front_wherever_they_are(sp):
    resp = sp.responses.copy()
    # a held-out model's answer to a question that the 5-question selection does not ask (with a
    # given bank the selection is known in advance)
    bank = ev.known_item_bank(sp.items, sp.models["theta"])
    qs = bank.select(5, strategy="random", by="benchmark", seed=0, theta=bank.population[0])
    row = resp.index[(resp["model"] == "recipe_04-4M-ckpt1") & ~resp["question"].isin(qs)][0]
    resp.loc[row, "y"] = np.nan
    with pytest.raises(ValueError, match=rf"NaN.*\n(.*\n)*{row}\b"):
        ev.efficient_eval(resp, sp.models, _cal(sp), bank=bank, **RUN)
    # the same message in the calibration data
    resp = sp.responses.copy()
    resp.loc[3, "y"] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite responses"):
        ev.efficient_eval(resp, sp.models, _cal(sp), **RUN)


# ----------------------------------------------------------------------------- item 10
def test_question_reduction_validates_by_and_k():
    items = pd.DataFrame({"benchmark": np.repeat(["b1", "b2"], [30, 20]), "a": 1.0, "d": 0.0, "phi": 10.0},
                         index=[f"q{i}" for i in range(50)])
    bank = irsl.ItemBank(items, family="beta")
    with pytest.raises(ValueError, match=r"by='Benchmark'.*benchmark"):
        ev.question_reduction(bank, [5], by="Benchmark")
    for k in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            ev.question_reduction(bank, [5, k])
    assert ev.question_reduction(bank, [5]).loc[5, "n_questions"] == 10
    assert ev.question_reduction(bank, [5], by=None).loc[5, "n_questions"] == 5


def test_subset_study_gain_names_the_available_k_and_methods():
    rows = [dict(seed=s, estimand="score", strategy="random", k=10, n_questions=30, ratio=np.nan, method=m,
                 mae=0.1 if m == "irsl" else 0.2, decision_accuracy=0.8, n_models=6)
            for s in (0, 1) for m in ("irsl", "naive")]
    study = ev.SubsetStudy(results=pd.DataFrame(rows), reduction=pd.DataFrame())
    assert study.gain(k=10)["mae_reduction"].tolist() == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError, match=r"k=50.*\[10\]"):
        study.gain(k=50)
    with pytest.raises(ValueError, match=r"'irsl_known'.*\['irsl', 'naive'\]"):
        study.gain(k=10, method="irsl_known")
    with pytest.raises(ValueError, match=r"'stratified'.*\['random'\]"):
        study.gain(k=10, strategy="stratified")


# ----------------------------------------------------------------------------- item 11
def test_stratified_selection_is_documented_as_equal_probability_for_any_k():
    doc = " ".join(ev.__doc__.split())
    assert "equal-probability only when" not in doc
    assert "exactly k / N for any k" in doc
    items = pd.DataFrame({"benchmark": "b", "a": 1.0, "d": np.linspace(-2, 2, 7), "phi": 10.0},
                         index=[f"q{i}" for i in range(7)])
    bank = irsl.ItemBank(items, family="beta")
    hits = pd.Series(0.0, index=items.index)
    for s in range(2000):
        hits[bank.select(3, strategy="stratified", seed=s)] += 1
    np.testing.assert_allclose(hits / 2000, 3 / 7, atol=0.04)


# ----------------------------------------------------------------------------- item 5
@pytest.fixture(scope="module")
def tt():
    return irsl.simulate.test_time(n_models=10, n_questions=40, benchmarks=("src", "tgt"), n_samples=50, seed=0)


def _transfer(tt, source="src", target="tgt", **kw):
    return cv.transfer_study(tt.responses, source, target, successes="successes", trials="trials",
                             folds=3, n_threads=1, **kw)


def test_transfer_study_checks_compute(tt):
    comp = tt.models.set_index("model")["compute"]
    with pytest.raises(ValueError, match=r"compute.*1 model.*'lm0'"):
        _transfer(tt, compute=comp.drop("lm0"))
    bad = comp.copy()
    bad.iloc[3] = np.nan
    bad.iloc[5] = -1.0
    with pytest.raises(ValueError, match=rf"compute.*finite and positive.*'{comp.index[3]}'.*'{comp.index[5]}'"):
        _transfer(tt, compute=bad)
    with pytest.raises(ValueError, match=r"compute.*duplicated.*'lm2'"):
        _transfer(tt, compute=pd.concat([comp, comp.iloc[[2]]]))


def test_transfer_study_checks_the_benchmarks(tt):
    for ability in ("shared", "per_benchmark"):
        with pytest.raises(ValueError, match=r"target='TGT'.*column 'benchmark'.*'src', 'tgt'"):
            _transfer(tt, target="TGT", ability=ability)
    with pytest.raises(ValueError, match=r"source='SRC'"):
        _transfer(tt, source="SRC")
    with pytest.raises(ValueError, match="differ"):
        _transfer(tt, target="src")


# ----------------------------------------------------------------------------- item 9
@pytest.fixture(scope="module")
def int_scores():
    rng = np.random.default_rng(0)
    th = rng.normal(size=24)
    sc = pd.DataFrame({b: 1 / (1 + np.exp(-(th * a + rng.normal(0, 0.3, 24))))
                       for b, a in [(0, 1.0), (1, 0.8), (2, 1.2)]})
    sc.index = np.arange(100, 124)
    return sc


def test_holdout_benchmark_study_keeps_the_label_types(int_scores):
    out = cv.holdout_benchmark_study(int_scores, folds=2, dims=1, n_threads=1)
    assert set(out["model"]) == set(int_scores.index)
    assert set(out["benchmark"]) == {0, 1, 2}
    assert all(isinstance(v, (int, np.integer)) for v in out["model"].tolist() + out["benchmark"].tolist())
    # the result joins back onto the input
    back = out.apply(lambda r: int_scores.loc[r["model"], r["benchmark"]], axis=1)
    np.testing.assert_allclose(back.to_numpy(), out["truth"].to_numpy())


def test_holdout_benchmark_study_needs_two_benchmarks(int_scores):
    with pytest.raises(ValueError, match=r"at least 2 benchmark columns.*\[0\]"):
        cv.holdout_benchmark_study(int_scores[[0]], folds=2, dims=1, n_threads=1)
    dup = int_scores.copy()
    dup.index = [100] * 2 + list(range(102, 124))
    with pytest.raises(ValueError, match=r"duplicated.*100"):
        cv.holdout_benchmark_study(dup, folds=2, dims=1, n_threads=1)
    clash = int_scores.copy()
    clash.columns = [0, "0", 2]
    with pytest.raises(ValueError, match="same text"):
        cv.holdout_benchmark_study(clash, folds=2, dims=1, n_threads=1)


def test_no_warning_without_missing_cells(sp):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ev.efficient_eval(sp.responses, sp.models, _cal(sp), **RUN)
    assert (out["n_unavailable"] == 0).all()
