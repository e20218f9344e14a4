"""Loaders in ``irsl_stats.io``: lm-evaluation-harness samples, count tables, wide matrices.

All inputs are small files written to ``tmp_path``; one ``realdata`` test reads the Pythia GSM8K
count table beside the project and skips (with a reason) when it is absent.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from irsl_stats.data import MissingColumnError, ResponseData
from irsl_stats.io import from_matrix, read_counts, read_lm_eval_samples, to_long

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STAMP = "2024-05-13T12-34-56.123456"

# 4-choice task with known log-likelihoods: softmax([-1, -2, -3, -0.5])[target]
LL4 = [-1.0, -2.0, -3.0, -0.5]


def softmax(v):
    e = [math.exp(x) for x in v]
    return [x / sum(e) for x in e]


def mc_record(doc_id, lls, target, conts=None, acc=None, nested=False, ctx="Question?"):
    conts = conts or [f" choice{i}" for i in range(len(lls))]
    rec = {
        "doc_id": doc_id,
        "doc": {"question": f"q{doc_id}", "choices": conts},
        "target": target,
        "arguments": [[ctx, c] for c in conts],
        "resps": [[[ll, False]] for ll in lls],
        "filtered_resps": [[ll, False] for ll in lls],
    }
    if nested:  # only the resps nesting level: [[ll, greedy]] per choice
        del rec["filtered_resps"]
    if acc is not None:
        rec["acc"] = acc
    return rec


def gen_record(doc_id, em, flt="none"):
    return {"doc_id": doc_id, "doc": {"question": f"g{doc_id}"}, "target": "42",
            "arguments": [["Q: ...", {"until": ["\n"]}]], "resps": [["The answer is 42"]],
            "filtered_resps": ["42" if em else "7"], "filter": flt, "exact_match": em}


def write_jsonl(path: Path, records, raw_lines=()):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run_dir(tmp_path):
    """2 models x 2 tasks: a 4-choice task (known logliks) and a generate_until task."""
    root = tmp_path / "out"
    for m, shift in (("org__model-a", 0.0), ("org__model-b", 1.0)):
        d = root / m
        recs = [
            mc_record(0, LL4, 3, acc=1.0),
            mc_record(1, [x + shift for x in LL4], 0),          # no acc: argmax(-0.5 idx 3) != 0
            mc_record(2, [-1.0, -1.0, -1.0, -1.0], "2", nested=True),  # target as string, resps only
        ]
        write_jsonl(d / f"samples_mmlu_abstract_algebra_{STAMP}.jsonl", recs)
        write_jsonl(d / f"samples_gsm8k_{STAMP}.jsonl", [gen_record(0, 1.0), gen_record(1, 0.0)])
    return root


# --------------------------------------------------------------------------------------------------
# read_lm_eval_samples
# --------------------------------------------------------------------------------------------------


def test_lm_eval_directory_two_models_two_tasks(run_dir):
    df = read_lm_eval_samples(run_dir)
    assert list(df.columns) == ["model", "benchmark", "question", "doc_id", "y", "acc", "n_choices"]
    assert len(df) == 2 * (3 + 2)
    assert sorted(df["model"].unique()) == ["org__model-a", "org__model-b"]
    assert sorted(df["benchmark"].unique()) == ["gsm8k", "mmlu_abstract_algebra"]
    a = df[df.model == "org__model-a"].set_index("question")
    # by hand: e^-0.5 / (e^-1 + e^-2 + e^-3 + e^-0.5) = 0.606531 / 1.159539 = 0.523082
    by_hand = math.exp(-0.5) / (math.exp(-1) + math.exp(-2) + math.exp(-3) + math.exp(-0.5))
    assert by_hand == pytest.approx(0.523082, abs=1e-6)
    assert a.loc["mmlu_abstract_algebra/0", "y"] == pytest.approx(by_hand, rel=1e-12)
    assert a.loc["mmlu_abstract_algebra/0", "acc"] == 1
    assert a.loc["mmlu_abstract_algebra/1", "y"] == pytest.approx(softmax(LL4)[0], rel=1e-12)
    assert a.loc["mmlu_abstract_algebra/1", "acc"] == 0            # argmax is choice 3, target 0
    assert a.loc["mmlu_abstract_algebra/2", "y"] == pytest.approx(0.25)  # resps nesting, "2" target
    assert (a.loc[a.benchmark == "mmlu_abstract_algebra", "n_choices"] == 4).all()
    # a shift of all logliks does not change the softmax
    b = df[df.model == "org__model-b"].set_index("question")
    assert b.loc["mmlu_abstract_algebra/1", "y"] == pytest.approx(softmax(LL4)[0], rel=1e-12)
    # generation records: y = exact_match (0/1), n_choices = 0
    g = a[a.benchmark == "gsm8k"]
    assert g["y"].tolist() == [1.0, 0.0] and g["acc"].tolist() == [1, 0]
    assert (g["n_choices"] == 0).all()
    assert df["y"].dtype == np.float64 and df["acc"].dtype == np.int64


def test_lm_eval_result_feeds_response_data(run_dir):
    df = read_lm_eval_samples(run_dir)
    mc = df[df.n_choices > 0]
    data = ResponseData.from_long(mc, benchmark="benchmark", boundary="clip")
    assert (data.n_models, data.n_items) == (2, 3)


def test_lm_eval_single_file_model_and_task_arguments(run_dir, tmp_path):
    f = next((run_dir / "org__model-a").glob("samples_mmlu*"))
    df = read_lm_eval_samples(f, model="pythia-70m", task="mmlu")
    assert df["model"].unique().tolist() == ["pythia-70m"]
    assert df["question"].tolist() == ["mmlu/0", "mmlu/1", "mmlu/2"]
    # the same file listed twice (directly and via its directory) is read once
    df2 = read_lm_eval_samples([f, f.parent], model="m")
    assert len(df2) == 5


def test_lm_eval_numerically_stable_softmax(tmp_path):
    # log-likelihoods far below exp()'s range: a naive softmax gives 0/0
    f = write_jsonl(tmp_path / "m" / f"samples_t_{STAMP}.jsonl",
                    [mc_record(0, [-2000.0, -2001.0, float("-inf")], 0)],)
    df = read_lm_eval_samples(f)
    assert df["y"].iat[0] == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-12)


def test_lm_eval_length_normalisation_and_modern_format(tmp_path):
    # recent harness versions: arguments as {"gen_args_i": {"arg_0": ctx, "arg_1": cont}},
    # logliks as strings; target given as the answer text
    conts = [" a", " bbbb"]
    lls = [-3.0, -4.0]
    rec = {"doc_id": "x7", "target": "bbbb", "filter": "none",
           "arguments": {f"gen_args_{i}": {"arg_0": "ctx", "arg_1": c} for i, c in enumerate(conts)},
           "filtered_resps": [[str(ll), "False"] for ll in lls], "acc": 0.0, "acc_norm": 1.0}
    f = write_jsonl(tmp_path / "m" / "samples_piqa_2025-01-02T03-04-05.000001.jsonl", [rec])
    none = read_lm_eval_samples(f)
    assert none["y"].iat[0] == pytest.approx(softmax(lls)[1])
    assert none["question"].iat[0] == "piqa/x7"
    length = read_lm_eval_samples(f, normalize="length")
    assert length["y"].iat[0] == pytest.approx(softmax([-3.0 / 2, -4.0 / 5])[1])
    assert length["acc"].iat[0] == 0       # acc is the record's, not the normalised argmax
    utf = dict(rec, arguments={"gen_args_0": {"arg_0": "c", "arg_1": " é"},
                               "gen_args_1": {"arg_0": "c", "arg_1": " bbbb"}})
    f2 = write_jsonl(tmp_path / "m2" / "samples_piqa.jsonl", [utf])
    by = read_lm_eval_samples(f2, normalize="bytes")
    assert by["y"].iat[0] == pytest.approx(softmax([-3.0 / 3, -4.0 / 5])[1])
    with pytest.raises(ValueError, match="normalize must be one of"):
        read_lm_eval_samples(f, normalize="tokens")


def test_lm_eval_gzip_and_filters(tmp_path):
    d = tmp_path / "run" / "m"
    d.mkdir(parents=True)
    recs = [gen_record(0, 1.0, "strict-match"), gen_record(0, 0.0, "flexible-extract"),
            gen_record(1, 0.0, "strict-match"), gen_record(1, 1.0, "flexible-extract")]
    with gzip.open(d / f"samples_gsm8k_{STAMP}.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r) for r in recs) + "\n")
    with pytest.raises(ValueError, match=r"2 lm-evaluation-harness filters.*filter="):
        read_lm_eval_samples(tmp_path / "run")
    df = read_lm_eval_samples(tmp_path / "run", filter=["missing", "flexible-extract"])
    assert df["y"].tolist() == [0.0, 1.0] and df["benchmark"].tolist() == ["gsm8k", "gsm8k"]


def test_lm_eval_malformed_line_names_file_and_line(tmp_path):
    f = write_jsonl(tmp_path / "m" / f"samples_arc_{STAMP}.jsonl", [mc_record(0, LL4, 1)],
                    raw_lines=['{"doc_id": 1, "target": 0, "filtered_resps": [[-1.0, false]'])
    with pytest.raises(ValueError, match=rf"samples_arc_{STAMP}\.jsonl: line 2: malformed JSON"):
        read_lm_eval_samples(f)


@pytest.mark.parametrize("broken, message", [
    ({"drop": "doc_id"}, r"line 2: record has no 'doc_id'"),
    ({"drop": "target"}, r"line 2 \(doc_id 1\): .*no 'target'"),
    ({"target": 7}, r"line 2 \(doc_id 1\): 'target' 7 is out of range for 4 choices"),
    ({"drop_resps": True, "exact_match": 0.5}, r"line 2 \(doc_id 1\): 'exact_match' must be 0 or 1"),
    ({"drop_resps": True}, r"line 2 \(doc_id 1\): record has neither per-choice log-likelihoods"),
])
def test_lm_eval_missing_or_bad_field_names_file_and_line(tmp_path, broken, message):
    bad = mc_record(1, LL4, 2)
    if "drop" in broken:
        del bad[broken["drop"]]
    if broken.get("drop_resps"):
        bad["filtered_resps"] = ["some text"]
        bad["resps"] = [["some text"]]
    for key in ("target", "exact_match"):
        if key in broken:
            bad[key] = broken[key]
    f = write_jsonl(tmp_path / "m" / f"samples_arc_{STAMP}.jsonl", [mc_record(0, LL4, 1), bad])
    with pytest.raises(ValueError, match=message) as info:
        read_lm_eval_samples(f)
    assert str(f) in str(info.value)


def test_lm_eval_duplicates_name_pairs_and_files(tmp_path):
    d = tmp_path / "m"
    write_jsonl(d / "samples_arc_2024-01-01T00-00-00.1.jsonl", [mc_record(0, LL4, 1)])
    write_jsonl(d / "samples_arc_2024-02-01T00-00-00.1.jsonl", [mc_record(0, LL4, 1)])
    with pytest.raises(ValueError, match=r"1 \(model, question\) pair.*\('m', 'arc/0'\).*2024-01-01.*2024-02-01"):
        read_lm_eval_samples(d)


def test_lm_eval_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_lm_eval_samples(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no lm-evaluation-harness samples"):
        read_lm_eval_samples(tmp_path / "empty")


def test_lm_eval_single_request_task(tmp_path):
    # LAMBADA-style: one loglikelihood request, acc = is_greedy
    rec = {"doc_id": 0, "target": " word", "arguments": [["ctx", " word"]],
           "resps": [[[-0.25, True]]], "filtered_resps": [[-0.25, True]], "perplexity": 1.28}
    f = write_jsonl(tmp_path / "m" / f"samples_lambada_openai_{STAMP}.jsonl", [rec])
    df = read_lm_eval_samples(f)
    assert df["y"].iat[0] == pytest.approx(math.exp(-0.25))
    assert (df["acc"].iat[0], df["n_choices"].iat[0]) == (1, 1)


# --------------------------------------------------------------------------------------------------
# read_counts
# --------------------------------------------------------------------------------------------------


def test_read_counts_csv_tsv_and_columns(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("model,problem,level,n_samples,n_correct\nA,1,L1,128,3\nA,2,L2,128,0\nB,1,L1,256,256\n")
    df = read_counts(csv)
    assert list(df.columns) == ["model", "question", "successes", "trials", "level"]
    assert df["successes"].tolist() == [3, 0, 256] and df["trials"].dtype == np.int64
    tsv = tmp_path / "c.tsv"
    tsv.write_text("m\tq\tk\tn\tbench\nA\tx\t1\t2\tgsm8k\n")
    df2 = read_counts(tsv, model="m", question="q", successes="k", trials="n", benchmark="bench")
    assert df2.to_dict("records") == [{"model": "A", "question": "x", "successes": 1, "trials": 2,
                                       "benchmark": "gsm8k"}]
    data = ResponseData.from_long(df, successes="successes", trials="trials", family="binomial")
    assert (data.n_models, data.n_items, data.nobs) == (2, 2, 3)


@pytest.mark.parametrize("rows, column, problem", [
    ("A,1,128,129\n", "n_correct", "k > trials n"),
    ("A,2,10,-1\n", "n_correct", "k < 0"),
    ("A,1,128,3\nA,2,0,0\n", "n_samples", "trials n < 1"),
    ("A,1,128,2.5\n", "n_correct", "not integers"),
    ("A,1,128,\n", "n_correct", "missing or not numeric"),
    ("A,1,12x,3\n", "n_samples", "missing or not numeric"),
    ("A,1,128,3\nA,1,64,3\n", "problem", "repeat a \\(model, question\\) pair"),
    (",1,128,3\n", "model", "missing model label"),
])
def test_read_counts_bad_rows_name_file_column_rows(tmp_path, rows, column, problem):
    f = tmp_path / "bad.csv"
    f.write_text("model,problem,n_samples,n_correct\nA,9,5,5\n" + rows)
    with pytest.raises(ValueError, match=rf"bad\.csv: column '{column}': \d+ of \d+ rows .*{problem}") as info:
        read_counts(f)
    assert "line" in str(info.value)


def test_read_counts_shows_at_most_five_rows_with_line_numbers(tmp_path):
    f = tmp_path / "many.csv"
    f.write_text("model,problem,n_samples,n_correct\n" + "".join(f"A,{i},1,2\n" for i in range(8)))
    with pytest.raises(ValueError, match=r"8 of 8 rows .*showing 5") as info:
        read_counts(f)
    lines = str(info.value).splitlines()
    assert lines[-1].split()[0] == "6" and "7" not in [ln.split()[0] for ln in lines[2:]]


def test_read_counts_dataframe_missing_column_and_parquet(tmp_path):
    raw = pd.DataFrame({"model": ["a"], "problem": [1], "n": [3], "k": [1]})
    with pytest.raises(MissingColumnError, match=r"input DataFrame: .*trials='n_samples'.*available"):
        read_counts(raw)
    out = read_counts(raw, successes="k", trials="n", benchmark_label="math")
    assert out["benchmark"].tolist() == ["math"]
    with pytest.raises(ValueError, match="not both"):
        read_counts(raw, successes="k", trials="n", benchmark="model", benchmark_label="x")
    clash = raw.assign(question=["dup"])
    with pytest.raises(ValueError, match="clash"):
        read_counts(clash, successes="k", trials="n")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        pq = tmp_path / "c.parquet"
        raw.to_parquet(pq)
        assert read_counts(pq, successes="k", trials="n")["trials"].tolist() == [3]


@pytest.mark.realdata
def test_read_counts_real_pythia_gsm8k():
    path = SHARED_DATA / "monkeys" / "pythia_gsm8k_counts.csv"
    if not path.is_file():
        pytest.skip(f"real data not available: {path} (the shared data folder is beside the project in CI)")
    df = read_counts(path, benchmark_label="gsm8k")
    assert len(df) == 10273
    assert df["model"].nunique() == 81 and df["question"].nunique() <= 130
    assert (df["trials"] >= 128).all() and (df["successes"] <= df["trials"]).all()
    assert 0.5 < (df["successes"] == 0).mean() < 0.65
    data = ResponseData.from_long(df, successes="successes", trials="trials", benchmark="benchmark",
                                  family="beta_binomial")
    assert data.nobs == 10273


# --------------------------------------------------------------------------------------------------
# wide matrices
# --------------------------------------------------------------------------------------------------


def test_to_long_and_from_matrix():
    wide = pd.DataFrame([[0.9, np.nan, 0.3], [0.2, 0.4, np.nan]], index=["m1", "m2"],
                        columns=["q1", "q2", "q3"])
    long = to_long(wide, benchmark={"q1": "arc", "q2": "arc", "q3": "boolq"})
    assert long.to_dict("list") == {"model": ["m1", "m1", "m2", "m2"], "question": ["q1", "q3", "q1", "q2"],
                                    "benchmark": ["arc", "boolq", "arc", "arc"], "y": [0.9, 0.3, 0.2, 0.4]}
    data = from_matrix(wide)
    ref = ResponseData.from_long(long)
    assert data.nobs == ref.nobs == 4
    np.testing.assert_array_equal(data.y, ref.y)
    with pytest.raises(ValueError, match="duplicated labels"):
        to_long(pd.DataFrame([[0.1, 0.2]], columns=["q", "q"]))
    with pytest.raises(ValueError, match="no benchmark"):
        to_long(wide, benchmark={"q1": "arc"})
    with pytest.raises(ValueError, match="not numeric"):
        to_long(wide.assign(q4=["a", "b"]))


def test_to_long_all_nan_row_or_column_is_an_error():
    """An all-NaN model used to vanish from the long table silently (from_matrix raises)."""
    wide = pd.DataFrame([[0.9, np.nan], [np.nan, np.nan], [0.2, 0.4]], index=["m1", "m2", "m3"],
                        columns=["q1", "q2"])
    with pytest.raises(ValueError, match=r"1 model \(row\)\(s\) have no responses .*'m2'"):
        to_long(wide)
    with pytest.raises(ValueError, match="no responses"):
        from_matrix(wide)
    wide = pd.DataFrame([[0.9, np.nan], [0.2, np.nan]], index=["m1", "m2"], columns=["q1", "q2"])
    with pytest.raises(ValueError, match=r"1 question \(column\)\(s\) have no responses .*'q2'"):
        to_long(wide)
