"""Input handling of the ``irsl_stats.io`` loaders (audit defects 2, 3, 4, 7 and 10).

- ``read_counts`` reads label columns of a file as written (no type or NA guessing);
- it names the rows of a DataFrame by their own index and the rows of a file by their true line;
- with ``benchmark=`` it accepts question ids repeated across benchmarks (GSM8K + MATH);
- ``to_long`` applies the checks of ``ResponseData.from_matrix``.

All inputs are small files in ``tmp_path``; the real-data test skips (with a reason) when the shared
data folder beside the project is absent.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from irsl_stats.data import ResponseData
from irsl_stats.io import read_counts, to_long

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HEADER = "model,problem,n_samples,n_correct\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# defect 2: label columns are read as written
# --------------------------------------------------------------------------------------------------


def test_read_counts_keeps_leading_zeros_in_labels(tmp_path):
    f = write(tmp_path / "c.csv", HEADER + "m,0001,10,1\nm,0002,10,3\n")
    df = read_counts(f)
    assert df["question"].tolist() == ["0001", "0002"]
    # joins a string-keyed question table
    items = pd.DataFrame({"question": ["0001", "0002"], "level": [1, 2]})
    assert df.merge(items, on="question")["level"].tolist() == [1, 2]


def test_read_counts_007_and_7_are_different_questions(tmp_path):
    f = write(tmp_path / "c.csv", HEADER + "m,007,10,1\nm,7,10,3\n")
    df = read_counts(f)
    assert df["question"].tolist() == ["007", "7"]
    assert ResponseData.from_long(df, successes="successes", trials="trials", family="binomial").n_items == 2


def test_read_counts_na_like_labels_are_labels_but_empty_is_missing(tmp_path):
    f = write(tmp_path / "c.tsv", "model\tproblem\tbench\tn_samples\tn_correct\n"
                                  "NA\tNone\tnan\t10\t1\nnull\tNA\tN/A\t10\t2\n")
    df = read_counts(f, benchmark="bench")
    assert df["model"].tolist() == ["NA", "null"]
    assert df["question"].tolist() == ["None", "NA"]
    assert df["benchmark"].tolist() == ["nan", "N/A"]
    # an empty field is still a missing label
    g = write(tmp_path / "g.csv", HEADER + "a,1,10,1\na,,10,1\n")
    with pytest.raises(ValueError, match=r"column 'problem': 1 of 2 rows have a missing question label"):
        read_counts(g)


def test_read_counts_count_columns_still_parse_and_nan_counts_are_caught(tmp_path):
    f = write(tmp_path / "c.csv", "model,problem,level,score,n_samples,n_correct\n"
                                  "a,1,L1,0.5,10,1\na,2,,NA,10,2\n")
    df = read_counts(f)
    assert df["successes"].dtype == np.int64 and df["trials"].tolist() == [10, 10]
    # other columns are parsed as before (NA guessing included)
    assert df["score"].dtype == np.float64 and np.isnan(df["score"].iat[1]) and df["level"].isna().iat[1]
    for bad in ("NA", "", "nan"):
        g = write(tmp_path / "g.csv", HEADER + f"a,1,10,1\na,2,10,{bad}\n")
        with pytest.raises(ValueError, match=r"column 'n_correct': 1 of 2 rows are missing or not numeric"):
            read_counts(g)


def test_read_counts_labels_as_written_in_compressed_and_sniffed_files(tmp_path):
    gz = tmp_path / "c.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write(HEADER + "m,0001,10,1\nm,1,10,3\n")
    assert read_counts(gz)["question"].tolist() == ["0001", "1"]
    txt = write(tmp_path / "c.txt", "model;problem;n_samples;n_correct\nNA;007;10;1\nNA;7;10;2\n")
    df = read_counts(txt)
    assert df["model"].tolist() == ["NA", "NA"] and df["question"].tolist() == ["007", "7"]


# --------------------------------------------------------------------------------------------------
# defect 3: a DataFrame's rows are named by its own index
# --------------------------------------------------------------------------------------------------


def test_read_counts_dataframe_error_shows_the_input_index():
    raw = pd.DataFrame({"model": ["a", "a", "b"], "problem": [1, 2, 1], "n_samples": [10, 10, 10],
                        "n_correct": [1, 2, 11]}, index=[100, 101, 102])
    with pytest.raises(ValueError, match="the index is the row label of the input") as info:
        read_counts(raw)
    last = str(info.value).splitlines()[-1].split()
    assert last[0] == "102" and last[1:] == ["b", "1", "11", "10"]
    # the output still has a fresh RangeIndex
    ok = read_counts(raw.iloc[:2])
    assert list(ok.index) == [0, 1] and ok["successes"].tolist() == [1, 2]


# --------------------------------------------------------------------------------------------------
# defect 4: question ids per benchmark
# --------------------------------------------------------------------------------------------------


def test_read_counts_ids_shared_by_benchmarks_get_benchmark_prefixed_labels():
    raw = pd.DataFrame({"model": ["a", "a", "a", "b"], "problem": [1, 2, 1, 1],
                        "bench": ["gsm8k", "gsm8k", "math", "math"],
                        "n_samples": [10] * 4, "n_correct": [1, 2, 3, 4]})
    df = read_counts(raw, benchmark="bench")
    assert df["question"].tolist() == ["gsm8k/1", "gsm8k/2", "math/1", "math/1"]
    assert df["benchmark"].tolist() == ["gsm8k", "gsm8k", "math", "math"]
    # the original ids are kept, with their dtype, beside the new labels
    assert df["question_id"].tolist() == [1, 2, 1, 1] and df["question_id"].dtype == np.int64
    assert list(df.columns) == ["model", "question", "successes", "trials", "benchmark", "question_id"]
    data = ResponseData.from_long(df, successes="successes", trials="trials", benchmark="benchmark",
                                  family="binomial")
    assert data.n_items == 3
    # ids that do not collide are kept as they are
    kept = read_counts(raw.assign(problem=[1, 2, 3, 3]), benchmark="bench")
    assert kept["question"].tolist() == [1, 2, 3, 3]
    assert "question_id" not in kept.columns
    # an input column named question_id clashes only when the ids are relabelled
    with pytest.raises(ValueError, match=r"\['question_id'\] would clash"):
        read_counts(raw.assign(question_id=0), benchmark="bench")
    assert read_counts(raw.assign(problem=[1, 2, 3, 3], question_id=0), benchmark="bench")["question_id"].eq(0).all()
    # labels that would still collide (the id 1 and the id "1" in one benchmark) are an error
    mixed = raw.assign(problem=pd.Series([1, 2, 1, "1"], dtype=object))
    with pytest.raises(ValueError, match=r"labels f\"\{benchmark\}/\{question\}\" .* not unique(.|\n)*'math' +1 +'math/1'"
                                         r"(.|\n)*'math' +'1' +'math/1'"):
        read_counts(mixed, benchmark="bench")
    # a real repeat is still an error, naming the three columns
    dup = raw.assign(model=["a", "a", "a", "a"])
    with pytest.raises(ValueError, match=r"column 'problem': 2 of 4 rows repeat a \(model, benchmark, question\) "
                                         r"triple \(columns 'model', 'bench', 'problem'\)"):
        read_counts(dup, benchmark="bench")


@pytest.mark.realdata
def test_read_counts_real_gsm8k_plus_math_with_benchmark_column():
    g_path = SHARED_DATA / "monkeys" / "pythia_gsm8k_counts.csv"
    m_path = SHARED_DATA / "monkeys" / "pythia_math_counts.csv"
    if not (g_path.is_file() and m_path.is_file()):
        pytest.skip(f"real data not available: {g_path.parent} (the shared data folder is beside the project in CI)")
    g = pd.read_csv(g_path).assign(benchmark="gsm8k")
    mm = pd.read_csv(m_path).drop(columns="level").assign(benchmark="math")
    df = read_counts(pd.concat([g, mm], ignore_index=True), benchmark="benchmark")
    assert len(df) == len(g) + len(mm)
    assert df["question"].str.startswith(("gsm8k/", "math/")).all()
    per_q = df.groupby("question")["benchmark"].nunique()
    assert (per_q == 1).all()
    data = ResponseData.from_long(df, successes="successes", trials="trials", benchmark="benchmark",
                                  family="binomial")
    assert data.nobs == len(df)


# --------------------------------------------------------------------------------------------------
# defect 7: true line numbers (or no claim of a line number)
# --------------------------------------------------------------------------------------------------


def test_read_counts_line_numbers_count_blank_lines_and_multiline_fields(tmp_path):
    f = write(tmp_path / "c.csv", HEADER + "a,1,10,1\n\na,2,10,2\nb,1,10,11\n")
    with pytest.raises(ValueError, match="line = line of the file") as info:
        read_counts(f)
    assert str(info.value).splitlines()[-1].split()[0] == "5"
    g = write(tmp_path / "g.csv", HEADER + '"model\nwith newline",1,10,1\n   \nb,1,10,11\n')
    with pytest.raises(ValueError, match="line = line of the file") as info:
        read_counts(g)
    assert str(info.value).splitlines()[-1].split()[0] == "5"


def test_read_counts_line_numbers_in_gzip_file(tmp_path):
    gz = tmp_path / "c.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write(HEADER + "\na,1,10,1\n\nb,1,10,11\n")
    with pytest.raises(ValueError, match="line = line of the file") as info:
        read_counts(gz)
    assert str(info.value).splitlines()[-1].split()[0] == "5"


def test_read_counts_without_verified_lines_names_data_rows(tmp_path):
    """A sniffed delimiter: rows are named by their position after the header, not a line."""
    f = write(tmp_path / "c.txt", "model;problem;n_samples;n_correct\na;1;10;1\n\nb;1;10;11\n")
    with pytest.raises(ValueError, match=r"data row = the row's position among the non-blank rows after the "
                                         r"header") as info:
        read_counts(f)
    msg = str(info.value)
    assert "line =" not in msg and "line of the file" not in msg and msg.splitlines()[-1].split()[0] == "2"


# --------------------------------------------------------------------------------------------------
# defect 10: to_long checks as ResponseData.from_matrix
# --------------------------------------------------------------------------------------------------


def test_to_long_benchmark_mapping_with_a_repeated_question_names_it():
    wide = pd.DataFrame([[0.2, 0.5]], index=["m"], columns=["q1", "q2"])
    bench = pd.Series(["x", "y", "y"], index=["q1", "q2", "q2"])
    with pytest.raises(ValueError, match=r"benchmark mapping lists questions more than once: 'q2'"):
        to_long(wide, benchmark=bench)
    with pytest.raises(ValueError, match=r"benchmark mapping lists questions more than once: 'q2'"):
        ResponseData.from_matrix(wide, benchmark=bench)


@pytest.mark.parametrize("wide", [pd.DataFrame(), pd.DataFrame(index=["m1", "m2"]),
                                  pd.DataFrame(columns=["q1", "q2"], dtype=float)])
def test_to_long_empty_matrix_is_an_error(wide):
    with pytest.raises(ValueError, match=r"empty input: the matrix has shape"):
        to_long(wide)
    with pytest.raises(ValueError, match=r"empty input: the matrix has shape"):
        ResponseData.from_matrix(wide)


def test_to_long_accepts_object_columns_holding_numbers_and_names_text_columns():
    wide = pd.DataFrame({"q1": np.array([0.2, 0.4], dtype=object), "q2": [0.5, np.nan]}, index=["m1", "m2"])
    assert wide["q1"].dtype == object
    long = to_long(wide)
    assert long.to_dict("list") == {"model": ["m1", "m1", "m2"], "question": ["q1", "q2", "q1"],
                                    "y": [0.2, 0.5, 0.4]}
    assert ResponseData.from_matrix(wide).nobs == 3
    bad = wide.assign(q3=np.array(["a", 0.1], dtype=object), q4=np.array([0.3, None], dtype=object))
    with pytest.raises(ValueError, match=r"not numeric: 'q3'$"):
        to_long(bad)
