"""Labels of mixed types: ids that differ only in type are rejected, mixed ids that differ are kept.

Ids from two sources (question 15 as an int in some rows, ``"15"`` as text in others) used to
become two questions without a word; ``transfer_study`` crashed sorting int and str model ids
that ``irsl.fit`` accepts.
"""

import re

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.data import ResponseData


def _long(models, questions, benchmarks=None, seed=0):
    """A full long table of ``models`` x ``questions`` with beta responses (object label columns)."""
    rng = np.random.default_rng(seed)
    m = [a for a in models for _ in questions]
    q = [b for _ in models for b in questions]
    df = pd.DataFrame({"model": pd.Series(m, dtype=object), "question": pd.Series(q, dtype=object),
                       "y": rng.uniform(0.05, 0.95, len(m))})
    if benchmarks is not None:
        df["benchmark"] = pd.Series([benchmarks[b] for b in q], dtype=object)
    return df


def test_question_ids_that_differ_only_in_type_are_an_error_naming_the_column():
    # the audit's reproducer: questions 15..29 written as text by the pipeline of half the models
    sim = irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, seed=0)
    R = sim.responses.copy()
    R["question"] = R["question"].astype(str).str[1:].astype(int).astype(object)
    rows = R["model"].isin([f"m{i:02d}" for i in range(20)]) & (R["question"] >= 15)
    R.loc[rows, "question"] = R.loc[rows, "question"].astype(str)
    with pytest.raises(ValueError) as err:
        irsl.fit("ability ~ log(compute) + family", data=R, models=sim.models, benchmark="benchmark")
    msg = str(err.value)
    assert "column 'question'" in msg and "15 pair(s)" in msg and "differ only in type" in msg
    assert "15 (int) and '15' (str)" in msg
    assert ".astype(str)" in msg
    # the fix the message names works: 30 questions
    R["question"] = R["question"].astype(int)
    res = irsl.fit("ability ~ log(compute) + family", data=R, models=sim.models, benchmark="benchmark")
    assert len(res.items) == 30


@pytest.mark.parametrize("role", ["model", "question"])
def test_only_labels_that_print_alike_are_rejected(role):
    # mixed types that do not collide when printed stay separate labels (order of first appearance)
    ok = _long([1, "a", 2], ["q1", "q2"]) if role == "model" else _long(["m1", "m2"], [1, "a", 2.5])
    rd = ResponseData.from_long(ok)
    labels = rd.model_labels if role == "model" else rd.item_labels
    assert len(labels) == 3
    # equal values of different types (2 and 2.0 hash alike) stay one label, as before
    last = 2 if role == "model" else 2.5
    merged = ok.copy()
    rows = merged.index[merged[role].map(lambda x: x == last)]
    merged.loc[rows, role] = 2
    merged.loc[rows[0], role] = 2.0
    assert {type(x) for x in merged[role]} >= {int, float}
    rd = ResponseData.from_long(merged)
    assert len(rd.model_labels if role == "model" else rd.item_labels) == 3
    # ... but 7 and "7" print alike and would become two labels
    bad = _long([7, "7", "x"], ["q1", "q2"]) if role == "model" else _long(["m1", "m2"], [7, "7", "x"])
    with pytest.raises(ValueError, match=re.escape(f"column '{role}': 1 pair(s) of {role} labels differ only "
                                                   f"in type")) as err:
        ResponseData.from_long(bad)
    assert "7 (int) and '7' (str)" in str(err.value)


def test_whole_float_and_its_text_are_twins():
    # 15.0 (a float column read with NaN somewhere) and "15" are the same id from two pipelines
    df = _long(["m1", "m2"], [15.0, "15", "q"])
    with pytest.raises(ValueError, match=re.escape("15.0 (float) and '15' (str)")) as err:
        ResponseData.from_long(df)
    # .astype(str) would make "15.0" and "15": the hint casts to int instead
    assert "pd.to_numeric(df['question']).astype(int)" in str(err.value)
    # numpy scalars are shown as Python values, with their type
    df = _long(["m1", "m2"], [np.int64(3), "3"])
    with pytest.raises(ValueError, match=re.escape("3 (int) and '3' (str)")):
        ResponseData.from_long(df)


def test_declared_labels_categories_and_matrices_with_twins_are_rejected():
    df = _long(["m1", "m2"], [1, "1", "z"])
    with pytest.raises(ValueError, match=re.escape("question labels (listed in questions=) differ only in type")):
        ResponseData.from_long(df, questions=[1, "1", "z"])
    cat = df.assign(question=df["question"].astype("category"))
    with pytest.raises(ValueError, match="column 'question': 1 pair"):
        ResponseData.from_long(cat)
    wide = pd.DataFrame([[0.2, 0.4], [0.6, 0.8]], index=[5, "5"], columns=["a", "b"])
    with pytest.raises(ValueError, match=re.escape("column 'model': 1 pair(s) of model labels")):
        ResponseData.from_matrix(wide)


def test_benchmark_labels_that_differ_only_in_type_are_an_error():
    df = _long(["m1", "m2"], ["q1", "q2", "q3"], benchmarks={"q1": 1, "q2": "1", "q3": 2})
    with pytest.raises(ValueError, match=re.escape("column 'benchmark': 1 pair(s) of benchmark labels")):
        ResponseData.from_long(df, benchmark="benchmark")


def test_transfer_study_accepts_int_and_str_model_ids():
    cb = irsl.simulate.correlated_benchmarks(n_models=30, questions=15, seed=0)
    R = cb.responses.copy()

    def mixed(ids):
        return [int(s[1:]) if int(s[1:]) % 2 else s for s in ids]

    ref = irsl.crossval.transfer_study(R, "bench1", "bench2", response="y", family="beta", folds=3)
    R["model"] = mixed(R["model"].astype(str))  # odd models get numeric ids (irsl.fit accepts it)
    got = irsl.crossval.transfer_study(R, "bench1", "bench2", response="y", family="beta", folds=3)
    # the rows are in model order here, so the first appearance order is the sorted order of the
    # string ids: the same folds, the same fits
    assert got["model"].tolist() == mixed(ref["model"].astype(str))
    assert {type(m) for m in got["model"]} == {int, str}
    for col in ["fold", "truth", "irsl_mean", "on_source"]:
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, atol=1e-12)
    # the interval's draws are keyed by the label: identical for the models that kept theirs
    same = got["model"].map(lambda m: isinstance(m, str)).to_numpy()
    for col in ["irsl", "irsl_lower", "irsl_upper"]:
        np.testing.assert_allclose(got.loc[same, col].to_numpy(), ref.loc[same, col].to_numpy(), rtol=1e-9)
