"""Tests of the data layer: families registry and ResponseData validation/indexing."""

import re

import numpy as np
import pandas as pd
import pytest

from irsl_stats.data import MissingColumnError, ResponseData
from irsl_stats.families import FAMILIES, FAMILY_NAMES, Family, family_from_code, get_family


# --------------------------------------------------------------------------------------------------
# fixtures / helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def long_df():
    """3 models x 3 questions, 8 observed cells, shuffled, non-default index labels."""
    df = pd.DataFrame(
        {
            "model": ["m2", "m1", "m3", "m1", "m2", "m3", "m1", "m3"],
            "question": ["q1", "q3", "q2", "q1", "q3", "q1", "q2", "q3"],
            "y": [0.2, 0.7, 0.4, 0.5, 0.6, 0.3, 0.9, 0.8],
            "bench": ["A", "B", "A", "A", "B", "A", "A", "B"],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )
    return df


@pytest.fixture
def counts_df():
    return pd.DataFrame(
        {
            "model": ["b", "a", "b", "a", "c"],
            "question": ["x", "x", "y", "y", "x"],
            "k": [3, 0, 10, 5, 7],
            "n": [10, 10, 10, 5, 8],
        }
    )


def _sorted_long(frame, by):
    return frame.sort_values(by).reset_index(drop=True)


def _check_invariants(d):
    """Layout promised by docs/kernel_interface.md."""
    assert d.model.dtype == np.int32 and d.item.dtype == np.int32
    assert d.y.dtype == np.float64 and d.model_ptr.dtype == np.int64
    for arr in (d.model, d.item, d.y, d.model_ptr):
        assert arr.flags.c_contiguous
    assert d.model.shape == d.item.shape == d.y.shape == (d.nobs,)
    assert d.model_ptr.shape == (d.n_models + 1,)
    assert d.model_ptr[0] == 0 and d.model_ptr[-1] == d.nobs
    for m in range(d.n_models):
        block = slice(d.model_ptr[m], d.model_ptr[m + 1])
        assert np.all(d.model[block] == m)
        assert np.all(np.diff(d.item[block]) > 0)  # sorted by question, no duplicates
    assert np.all(np.diff(d.model) >= 0)
    assert len(d.row_index) == d.nobs
    assert np.all(np.bincount(d.model, minlength=d.n_models) > 0)
    assert np.all(np.bincount(d.item, minlength=d.n_items) > 0)


# --------------------------------------------------------------------------------------------------
# families
# --------------------------------------------------------------------------------------------------


def test_family_codes_and_flags():
    assert [FAMILIES[n].code for n in ("beta", "bernoulli", "binomial", "beta_binomial")] == [0, 1, 2, 3]
    assert FAMILY_NAMES == ("beta", "bernoulli", "binomial", "beta_binomial")
    assert {n for n, f in FAMILIES.items() if f.has_precision} == {"beta", "beta_binomial"}
    assert {n for n, f in FAMILIES.items() if f.uses_counts} == {"binomial", "beta_binomial"}
    for f in FAMILIES.values():
        assert isinstance(f.support, str) and f.support
        assert family_from_code(f.code) is f


def test_get_family_lookup_and_errors():
    assert get_family("beta").code == 0
    assert get_family("Beta-Binomial").name == "beta_binomial"
    fam = get_family("binomial")
    assert get_family(fam) is fam
    assert isinstance(fam, Family)
    with pytest.raises(AttributeError):
        fam.code = 5  # frozen
    with pytest.raises(ValueError, match="valid families are 'beta', 'bernoulli', 'binomial', 'beta_binomial'"):
        get_family("poisson")
    with pytest.raises(ValueError, match="valid families"):
        get_family(3)
    with pytest.raises(ValueError, match="0=beta"):
        family_from_code(7)


# --------------------------------------------------------------------------------------------------
# from_long: indexing
# --------------------------------------------------------------------------------------------------


def test_from_long_sorted_layout(long_df):
    d = ResponseData.from_long(long_df)
    _check_invariants(d)
    assert list(d.model_labels) == ["m1", "m2", "m3"]
    assert list(d.item_labels) == ["q1", "q2", "q3"]
    assert d.model_labels.name == "model" and d.item_labels.name == "question"
    assert (d.n_models, d.n_items, d.nobs, len(d)) == (3, 3, 8, 8)
    np.testing.assert_array_equal(d.model_ptr, [0, 3, 5, 8])
    np.testing.assert_array_equal(d.model, [0, 0, 0, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(d.item, [0, 1, 2, 0, 2, 0, 1, 2])
    np.testing.assert_array_equal(d.y, [0.5, 0.9, 0.7, 0.2, 0.6, 0.3, 0.4, 0.8])
    # row_index maps each sorted observation back to its input row
    np.testing.assert_array_equal(d.row_index, [13, 16, 11, 10, 14, 15, 12, 17])
    np.testing.assert_array_equal(long_df.loc[d.row_index, "y"].to_numpy(), d.y)
    assert d.trials is None and d.weights is None and d.successes is None
    assert d.family.name == "beta" and d.boundary == "error" and d.n_boundary_adjusted == 0
    assert d.benchmarks is None and d.item_benchmark is None
    assert d.density == pytest.approx(8 / 9)


def test_from_long_presorted_input_keeps_index(long_df):
    df = long_df.sort_values(["model", "question"])
    d = ResponseData.from_long(df)
    np.testing.assert_array_equal(d.row_index, df.index)
    np.testing.assert_array_equal(d.y, df["y"].to_numpy())


def test_random_large_key_matches_pandas_sort():
    # M * N > 2**16 exercises the multi-digit radix path
    rng = np.random.default_rng(1)
    M, N, n = 400, 500, 4000
    key = rng.choice(M * N, n, replace=False)
    df = pd.DataFrame({"model": key // N, "question": key % N, "y": rng.uniform(0.05, 0.95, n)})
    df.index = rng.permutation(n) + 1000
    d = ResponseData.from_long(df)
    _check_invariants(d)
    ref = df.sort_values(["model", "question"], kind="stable")
    np.testing.assert_array_equal(d.row_index, ref.index)
    np.testing.assert_array_equal(d.y, ref["y"].to_numpy())
    np.testing.assert_array_equal(d.model_labels[d.model], ref["model"].to_numpy())
    np.testing.assert_array_equal(d.item_labels[d.item], ref["question"].to_numpy())


def test_categorical_keeps_category_order(long_df):
    df = long_df.copy()
    df["model"] = pd.Categorical(df["model"], categories=["m3", "m1", "m2"])
    d = ResponseData.from_long(df)
    _check_invariants(d)
    assert list(d.model_labels) == ["m3", "m1", "m2"]
    np.testing.assert_array_equal(d.model_ptr, [0, 3, 6, 8])


def test_categorical_unused_categories_error(long_df):
    df = long_df.copy()
    df["question"] = pd.Categorical(df["question"], categories=["q0", "q1", "q2", "q3", "q9"])
    with pytest.raises(ValueError, match=r"column 'question': 2 question label\(s\).*no responses: 'q0', 'q9'"):
        ResponseData.from_long(df)
    df = long_df.copy()
    df["model"] = pd.Categorical(df["model"], categories=["m1", "m2", "m3", "m4"])
    with pytest.raises(ValueError, match="column 'model'.*no responses: 'm4'"):
        ResponseData.from_long(df)


def test_explicit_label_sets(long_df):
    d = ResponseData.from_long(long_df, models=["m3", "m2", "m1"], questions=["q3", "q2", "q1"])
    _check_invariants(d)
    assert list(d.model_labels) == ["m3", "m2", "m1"]
    assert list(d.item_labels) == ["q3", "q2", "q1"]
    with pytest.raises(ValueError, match=r"models= have no responses: 'm9'"):
        ResponseData.from_long(long_df, models=["m1", "m2", "m3", "m9"])
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(long_df, questions=["q1", "q2"])
    msg = str(exc.value)
    assert "column 'question': 3 of 8 rows have a question label that is not in questions=" in msg
    assert "q3" in msg and "11" in msg
    with pytest.raises(ValueError, match="duplicated labels"):
        ResponseData.from_long(long_df, models=["m1", "m1", "m2", "m3"])
    with pytest.raises(TypeError, match="list-like"):
        ResponseData.from_long(long_df, models="m1")


def test_unsortable_labels_fall_back_to_first_appearance():
    df = pd.DataFrame({"model": ["x", 1, "x", 1], "question": ["a", "a", "b", "b"], "y": [0.1, 0.2, 0.3, 0.4]})
    d = ResponseData.from_long(df)
    _check_invariants(d)
    assert set(d.model_labels) == {"x", 1}
    np.testing.assert_array_equal(df.loc[d.row_index, "y"].to_numpy(), d.y)


# --------------------------------------------------------------------------------------------------
# from_long: errors
# --------------------------------------------------------------------------------------------------


def test_missing_columns_listed(long_df):
    with pytest.raises(KeyError) as exc:
        ResponseData.from_long(long_df, response="score", benchmark="suite")
    assert isinstance(exc.value, MissingColumnError) and isinstance(exc.value, ValueError)
    msg = str(exc.value)
    assert "'score' (response=)" in msg and "'suite' (benchmark=)" in msg
    assert "available columns: 'model', 'question', 'y', 'bench'" in msg
    assert not msg.startswith('"')  # readable, not repr-quoted
    with pytest.raises(MissingColumnError, match="'lm' .model=."):
        ResponseData.from_long(long_df, model="lm")
    with pytest.raises(MissingColumnError, match="'w' .weights=."):
        ResponseData.from_long(long_df, weights="w")


def test_empty_and_bad_input(long_df):
    with pytest.raises(ValueError, match="empty input"):
        ResponseData.from_long(long_df.iloc[:0])
    with pytest.raises(TypeError, match="DataFrame"):
        ResponseData.from_long(long_df.to_dict())
    with pytest.raises(ValueError, match="same column"):
        ResponseData.from_long(long_df, question="model")
    with pytest.raises(ValueError, match="boundary must be one of"):
        ResponseData.from_long(long_df, boundary="shrink")
    with pytest.raises(ValueError, match="eps"):
        ResponseData.from_long(long_df, boundary="clip", eps=0.7)
    with pytest.raises(ValueError, match="unknown family"):
        ResponseData.from_long(long_df, family="gaussian")


def test_duplicated_pairs(long_df):
    df = pd.concat([long_df, long_df.iloc[[0, 3]].set_axis([20, 21])])
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df)
    msg = str(exc.value)
    assert "columns 'model', 'question': 2 (model, question) pair(s) appear more than once (4 rows" in msg
    for label in ("10", "13", "20", "21"):
        assert re.search(rf"^{label}\s", msg, flags=re.M)
    assert "Aggregate" in msg


def test_duplicated_pairs_shows_at_most_five_rows():
    df = pd.DataFrame({"model": ["a"] * 8, "question": ["q"] * 8, "y": np.linspace(0.1, 0.8, 8)})
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df)
    msg = str(exc.value)
    assert "1 (model, question) pair(s)" in msg and "(8 rows; showing 5;" in msg
    table = msg.split("input):\n")[1].split("\nAggregate")[0].splitlines()
    assert len(table) == 6  # header + 5 rows


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_response(long_df, bad):
    df = long_df.copy()
    df.loc[[12, 15], "y"] = bad
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df)
    msg = str(exc.value)
    assert msg.startswith("column 'y': 2 of 8 rows have NaN or infinite responses")
    assert re.search(r"^12\s+m3\s+q2", msg, flags=re.M) and re.search(r"^15\s+m3\s+q1", msg, flags=re.M)


def test_nan_labels(long_df):
    df = long_df.copy()
    df.loc[14, "model"] = None
    with pytest.raises(ValueError, match=r"column 'model': 1 of 8 rows have a missing \(NaN\) model label(.|\n)*14"):
        ResponseData.from_long(df)
    df = long_df.copy()
    df.loc[[10, 11], "question"] = np.nan
    with pytest.raises(ValueError, match=r"column 'question': 2 of 8 rows have a missing \(NaN\) question label"):
        ResponseData.from_long(df)


def test_beta_outside_unit_interval(long_df):
    df = long_df.copy()
    df.loc[11, "y"] = 1.5
    df.loc[17, "y"] = -0.1
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df, boundary="clip")  # the policy never fixes values outside [0, 1]
    msg = str(exc.value)
    assert "column 'y': 2 of 8 rows are outside [0, 1]" in msg
    assert "1.5" in msg and "-0.1" in msg


def test_non_numeric_response(long_df):
    df = long_df.copy()
    df["y"] = df["y"].astype(object)
    df.loc[12, "y"] = "high"
    with pytest.raises(ValueError, match=r"column 'y': 1 of 8 rows are not numeric(.|\n)*high"):
        ResponseData.from_long(df)


def test_bernoulli(long_df):
    df = long_df.copy()
    df["y"] = df["y"] > 0.5  # bool is fine
    d = ResponseData.from_long(df, family="bernoulli")
    _check_invariants(d)
    assert d.family.code == 1
    np.testing.assert_array_equal(d.y, [0, 1, 1, 0, 1, 0, 0, 1])
    df["y"] = df["y"].astype(float)
    df.loc[[10, 11, 12], "y"] = [0.5, 2.0, -1.0]
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df, family="bernoulli")
    msg = str(exc.value)
    assert "column 'y': 3 of 8 rows are outside the support of family 'bernoulli' (y in {0, 1})" in msg


# --------------------------------------------------------------------------------------------------
# boundary policies (beta)
# --------------------------------------------------------------------------------------------------


def test_boundary_error_message():
    n = 12
    y = np.full(n, 0.5)
    y[[0, 2, 3, 5, 7, 8, 11]] = [0, 1, 1, 0, 1, 0, 1]
    df = pd.DataFrame({"model": np.arange(n) // 3, "question": np.arange(n) % 3, "y": y},
                      index=[f"r{i}" for i in range(n)])
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df)
    msg = str(exc.value)
    assert msg.startswith("column 'y': 7 of 12 rows are exactly 0 or 1")
    assert "(showing 5;" in msg
    shown = re.findall(r"^r\d+", msg, flags=re.M)
    assert shown == ["r0", "r2", "r3", "r5", "r7"]
    assert "boundary='squeeze'" in msg and "boundary='clip'" in msg and "beta_binomial" in msg


def test_boundary_squeeze_uses_number_of_observations(long_df):
    df = long_df.copy()
    df.loc[[10, 16], "y"] = [0.0, 1.0]
    d = ResponseData.from_long(df, boundary="squeeze")
    n = 8
    expected = (df["y"].to_numpy() * (n - 1) + 0.5) / n
    np.testing.assert_allclose(d.y, expected[np.searchsorted(df.index, d.row_index)], rtol=0, atol=1e-15)
    assert d.n_boundary_adjusted == 2
    assert np.all((d.y > 0) & (d.y < 1))
    assert d.boundary == "squeeze"
    assert d.boundary_adjusted is not None and d.boundary_adjusted.sum() == 2
    np.testing.assert_array_equal(np.sort(d.row_index[d.boundary_adjusted]), [10, 16])
    assert "n_boundary_adjusted=2" in repr(d)
    assert "2 at 0 or 1 moved inside" in d.describe()


def test_boundary_clip(long_df):
    df = long_df.copy()
    df.loc[[10, 11, 12], "y"] = [0.0, 1.0, 1e-9]
    d = ResponseData.from_long(df, boundary="clip", eps=1e-4)
    by_row = pd.Series(d.y, index=d.row_index)
    assert by_row[10] == 1e-4 and by_row[11] == 1 - 1e-4 and by_row[12] == 1e-4
    assert by_row[13] == 0.5  # untouched
    assert d.n_boundary_adjusted == 3
    assert "3 values changed" in d.describe()
    clean = ResponseData.from_long(long_df, boundary="clip")
    assert clean.n_boundary_adjusted == 0 and clean.boundary_adjusted is None
    np.testing.assert_array_equal(np.sort(clean.y), np.sort(long_df["y"].to_numpy()))


def test_boundary_ignored_for_other_families(counts_df):
    d = ResponseData.from_long(counts_df, successes="k", trials="n", family="binomial", boundary="squeeze")
    assert d.n_boundary_adjusted == 0
    np.testing.assert_array_equal(np.sort(d.y), np.sort(counts_df["k"].to_numpy(float)))


# --------------------------------------------------------------------------------------------------
# counts
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["binomial", "beta_binomial"])
def test_count_families(counts_df, family):
    d = ResponseData.from_long(counts_df, successes="k", trials="n", family=family)
    _check_invariants(d)
    assert d.family.uses_counts
    assert list(d.model_labels) == ["a", "b", "c"]
    np.testing.assert_array_equal(d.y, [0, 5, 3, 10, 7])
    np.testing.assert_array_equal(d.trials, [10, 5, 10, 10, 8])
    assert d.trials.dtype == np.float64 and d.trials.flags.c_contiguous
    assert d.successes is d.y
    np.testing.assert_allclose(d.observed_rate(), [0, 1, 0.3, 1, 7 / 8])


def test_beta_from_counts_squeeze_uses_trials(counts_df):
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(counts_df, successes="k", trials="n", family="beta")
    msg = str(exc.value)
    assert "columns 'k' and 'n': 3 of 5 rows have a rate k/n exactly 0 or 1" in msg and "beta_binomial" in msg
    d = ResponseData.from_long(counts_df, successes="k", trials="n", family="beta", boundary="squeeze")
    k = np.array([0, 5, 3, 10, 7.0])
    n = np.array([10, 5, 10, 10, 8.0])
    np.testing.assert_allclose(d.y, (k / n * (n - 1) + 0.5) / n, rtol=1e-15)
    np.testing.assert_array_equal(d.trials, n)
    np.testing.assert_array_equal(d.successes, k)
    assert d.n_boundary_adjusted == 3


def test_beta_from_counts_without_boundary_values():
    df = pd.DataFrame({"model": ["a", "a"], "question": ["x", "y"], "k": [1, 2], "n": [4, 5]})
    d = ResponseData.from_long(df, successes="k", trials="n")
    np.testing.assert_allclose(d.y, [0.25, 0.4])
    np.testing.assert_allclose(d.observed_rate(), [0.25, 0.4])


def test_count_errors(counts_df):
    kw = dict(successes="k", trials="n", family="binomial")
    df = counts_df.copy()
    df.loc[[1, 3], "k"] = [11, 6]
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df, **kw)
    msg = str(exc.value)
    assert "column 'k': 2 of 5 rows have more successes than trials (k > n, column 'n')" in msg
    assert re.search(r"^1\s+a\s+x\s+11\s+10", msg, flags=re.M)

    df = counts_df.astype({"k": float})
    df.loc[2, "k"] = 2.5
    with pytest.raises(ValueError, match=r"column 'k': 1 of 5 rows have non-integer counts(.|\n)*2\.5"):
        ResponseData.from_long(df, **kw)

    df = counts_df.astype({"n": float})
    df.loc[0, "n"] = np.nan
    with pytest.raises(ValueError, match=r"column 'n': 1 of 5 rows have NaN or infinite counts"):
        ResponseData.from_long(df, **kw)

    df = counts_df.copy()
    df.loc[1, "k"] = -1
    with pytest.raises(ValueError, match=r"column 'k': 1 of 5 rows have negative successes"):
        ResponseData.from_long(df, **kw)

    df = counts_df.copy()
    df.loc[[1, 4], ["k", "n"]] = 0
    with pytest.raises(ValueError, match=r"column 'n': 2 of 5 rows have fewer than 1 trial"):
        ResponseData.from_long(df, **kw)


def test_count_argument_errors(counts_df, long_df):
    with pytest.raises(ValueError, match="pass successes= and trials="):
        ResponseData.from_long(long_df, family="binomial")
    with pytest.raises(ValueError, match="both successes= and trials="):
        ResponseData.from_long(counts_df, successes="k", family="binomial")
    with pytest.raises(ValueError, match="either response= or successes="):
        ResponseData.from_long(counts_df, response="k", successes="k", trials="n", family="binomial")
    with pytest.raises(ValueError, match="'bernoulli' takes a 0/1 response"):
        ResponseData.from_long(counts_df, successes="k", trials="n", family="bernoulli")
    with pytest.raises(ValueError, match="give response="):
        ResponseData.from_long(long_df, response=None)


# --------------------------------------------------------------------------------------------------
# weights and benchmarks
# --------------------------------------------------------------------------------------------------


def test_weights(long_df):
    df = long_df.assign(w=np.arange(1.0, 9.0))
    d = ResponseData.from_long(df, weights="w")
    np.testing.assert_array_equal(d.weights, df.loc[d.row_index, "w"].to_numpy())
    assert d.weights.flags.c_contiguous and "weighted" in repr(d)
    df.loc[[11, 14], "w"] = [-1.0, np.nan]
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df, weights="w")
    msg = str(exc.value)
    assert "column 'w': 2 of 8 rows have negative, NaN or infinite weights" in msg
    assert re.search(r"^11\s", msg, flags=re.M) and re.search(r"^14\s", msg, flags=re.M)


def test_weights_all_zero_is_an_error(long_df):
    """All-zero weights used to "fit" an empty likelihood (llf ~ 1e-15)."""
    with pytest.raises(ValueError, match=r"column 'w': all 8 weights are 0"):
        ResponseData.from_long(long_df.assign(w=0.0), weights="w")


def test_weights_zero_for_a_model_or_question_is_an_error(long_df):
    """A zero-weight model used to get an ability from no information (SEs ~ 1000)."""
    df = long_df.assign(w=1.0)
    df.loc[df["model"] == "m2", "w"] = 0.0
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df, weights="w")
    msg = str(exc.value)
    assert "column 'w'" in msg and "1 model(s) whose weights are all 0 ('m2')" in msg
    assert re.search(r"^10\s", msg, flags=re.M) and re.search(r"^14\s", msg, flags=re.M)
    assert "Drop the rows" in msg
    df = long_df.assign(w=1.0)
    df.loc[df["question"] == "q2", "w"] = 0.0
    with pytest.raises(ValueError, match=r"1 question\(s\) whose weights are all 0 \('q2'\)"):
        ResponseData.from_long(df, weights="w")
    # some zero weights within a model and a question are fine
    df = long_df.assign(w=1.0)
    df.loc[11, "w"] = 0.0
    assert ResponseData.from_long(df, weights="w").weights.min() == 0.0


def test_boundary_error_all_binary_suggests_bernoulli():
    df = pd.DataFrame({"model": np.repeat(["a", "b"], 3), "question": np.tile(["x", "y", "z"], 2),
                       "y": [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]})
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df)
    hint = str(exc.value).splitlines()[-1]
    assert hint.startswith("Every response is 0 or 1: these are binary outcomes, use family='bernoulli'")
    assert hint.index("bernoulli") < hint.index("squeeze")
    # with some values inside (0, 1) the boundary options stay first
    df.loc[0, "y"] = 0.5
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df)
    assert str(exc.value).splitlines()[-1].startswith("Options: boundary='squeeze'")


def test_benchmark(long_df):
    d = ResponseData.from_long(long_df, benchmark="bench")
    assert list(d.benchmarks) == ["A", "B"]
    np.testing.assert_array_equal(d.item_benchmark_codes, [0, 0, 1])
    ib = d.item_benchmark
    assert list(ib.index) == ["q1", "q2", "q3"] and list(ib) == ["A", "A", "B"] and ib.name == "bench"
    assert "benchmarks: 2 ('A', 'B')" in d.describe()


def test_benchmark_varies_within_question(long_df):
    df = long_df.copy()
    df.loc[15, "bench"] = "B"  # q1 now in A and B
    with pytest.raises(ValueError) as exc:
        ResponseData.from_long(df, benchmark="bench")
    msg = str(exc.value)
    assert "column 'bench': 3 of 8 rows belong to 1 question(s) whose benchmark varies ('q1')" in msg
    assert re.search(r"^15\s+q1\s+B", msg, flags=re.M)
    df.loc[15, "bench"] = None
    with pytest.raises(ValueError, match=r"column 'bench': 1 of 8 rows have a missing \(NaN\) benchmark"):
        ResponseData.from_long(df, benchmark="bench")


# --------------------------------------------------------------------------------------------------
# from_matrix
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def wide():
    return pd.DataFrame(
        [[0.1, np.nan, 0.3], [np.nan, 0.5, 0.6], [0.7, 0.8, np.nan]],
        index=pd.Index(["zeta", "alpha", "mid"], name="lm"),
        columns=pd.Index(["q9", "q1", "q5"], name="item"),
    )


def test_from_matrix_drops_not_asked(wide):
    d = ResponseData.from_matrix(wide)
    _check_invariants(d)
    assert list(d.model_labels) == ["zeta", "alpha", "mid"]  # matrix order kept
    assert list(d.item_labels) == ["q9", "q1", "q5"]
    assert d.nobs == 6
    np.testing.assert_array_equal(d.y, [0.1, 0.3, 0.5, 0.6, 0.7, 0.8])
    np.testing.assert_array_equal(d.model_ptr, [0, 2, 4, 6])
    assert list(d.row_index) == [("zeta", "q9"), ("zeta", "q5"), ("alpha", "q1"), ("alpha", "q5"),
                                 ("mid", "q9"), ("mid", "q1")]
    back = d.to_long().pivot(index="lm", columns="item", values="y")
    pd.testing.assert_frame_equal(back.loc[wide.index, wide.columns], wide, check_names=False)


def test_from_matrix_benchmark(wide):
    d = ResponseData.from_matrix(wide, benchmark={"q9": "B", "q1": "A", "q5": "A"})
    assert list(d.benchmarks) == ["A", "B"]
    assert list(d.item_benchmark) == ["B", "A", "A"]
    assert "benchmark" in d.to_long().columns
    with pytest.raises(ValueError, match=r"1 question\(s\) have no benchmark: 'q5'"):
        ResponseData.from_matrix(wide, benchmark=pd.Series({"q9": "B", "q1": "A"}))


def test_from_matrix_errors(wide):
    w = wide.copy()
    w.loc["mid", :] = np.nan
    with pytest.raises(ValueError, match=r"1 model \(row\)\(s\) have no responses \(all NaN\): 'mid'"):
        ResponseData.from_matrix(w)
    w = wide.copy()
    w["q1"] = np.nan
    with pytest.raises(ValueError, match=r"1 question \(column\)\(s\) have no responses \(all NaN\): 'q1'"):
        ResponseData.from_matrix(w)
    w = wide.copy()
    w.loc["alpha", "q1"] = np.inf
    with pytest.raises(ValueError, match=r"1 cells are infinite(.|\n)*alpha\s+q1\s+inf"):
        ResponseData.from_matrix(w)
    w = wide.copy()
    w.index = ["a", "b", "a"]
    with pytest.raises(ValueError, match="duplicated labels.*'a'"):
        ResponseData.from_matrix(w)
    with pytest.raises(ValueError, match="empty input"):
        ResponseData.from_matrix(wide.iloc[:0])
    with pytest.raises(ValueError, match="from_long"):
        ResponseData.from_matrix(wide, family="binomial")
    w = wide.copy()
    w.loc["zeta", "q9"] = 0.0
    with pytest.raises(ValueError, match=r"1 of 6 rows are exactly 0 or 1(.|\n)*zeta\s+q9"):
        ResponseData.from_matrix(w)
    d = ResponseData.from_matrix(w, boundary="squeeze")
    assert d.n_boundary_adjusted == 1 and d.y[0] == pytest.approx(0.5 / 6)


def test_from_matrix_bernoulli_bool():
    w = pd.DataFrame({"q1": [True, None], "q2": [False, True]}, index=["m1", "m2"], dtype=object)
    d = ResponseData.from_matrix(w, family="bernoulli")
    np.testing.assert_array_equal(d.y, [1, 0, 1])
    assert d.nobs == 3


# --------------------------------------------------------------------------------------------------
# helpers: to_long, subset, counts, describe
# --------------------------------------------------------------------------------------------------


def test_to_long_roundtrip(long_df):
    df = long_df.assign(w=np.linspace(0.5, 2, 8))
    d = ResponseData.from_long(df, benchmark="bench", weights="w")
    back = d.to_long()
    assert list(back.columns) == ["model", "question", "bench", "y", "w"]
    pd.testing.assert_frame_equal(back.sort_index(), df[list(back.columns)].sort_index(), check_dtype=False)


def test_to_long_roundtrip_counts(counts_df):
    for family in ("binomial", "beta_binomial"):
        back = ResponseData.from_long(counts_df, successes="k", trials="n", family=family).to_long()
        pd.testing.assert_frame_equal(back.sort_index(), counts_df.sort_index(), check_dtype=False)
    d = ResponseData.from_long(counts_df, successes="k", trials="n", family="beta", boundary="clip")
    back = d.to_long()
    pd.testing.assert_frame_equal(back.sort_index()[["model", "question", "k", "n"]], counts_df,
                                  check_dtype=False)
    assert np.all((back["y"] > 0) & (back["y"] < 1))


def test_per_model_item_counts(long_df):
    d = ResponseData.from_long(long_df)
    pm = d.per_model_counts()
    pd.testing.assert_series_equal(pm, long_df.groupby("model")["y"].size().rename("n"),
                                   check_dtype=False, check_index_type=False)
    pi = d.per_item_counts()
    assert pi.to_dict() == {"q1": 3, "q2": 2, "q3": 3}
    np.testing.assert_array_equal(np.diff(d.model_ptr), pm.to_numpy())
    np.testing.assert_array_equal(d.observed_rate(), d.y)
    assert d.observed_rate() is not d.y


def test_subset(long_df):
    df = long_df.copy()
    df.loc[16, "y"] = 1.0
    d = ResponseData.from_long(df, benchmark="bench", boundary="squeeze")
    assert d.n_boundary_adjusted == 1
    s = d.subset(models=["m3", "m2"])
    _check_invariants(s)
    assert list(s.model_labels) == ["m2", "m3"]  # original order kept
    assert list(s.item_labels) == ["q1", "q2", "q3"]
    assert s.nobs == 5 and s.n_boundary_adjusted == 0 and s.boundary_adjusted is None
    np.testing.assert_array_equal(s.row_index, [10, 14, 15, 12, 17])
    np.testing.assert_array_equal(s.y, d.y[d.model >= 1])

    s = d.subset(items=["q2"])  # m2 has no answer to q2 -> dropped; benchmark B disappears
    _check_invariants(s)
    assert list(s.model_labels) == ["m1", "m3"] and list(s.item_labels) == ["q2"]
    assert list(s.benchmarks) == ["A"] and list(s.item_benchmark) == ["A"]
    assert s.n_boundary_adjusted == 1
    assert s.to_long().loc[16, "model"] == "m1"

    both = d.subset(models=["m1"], items=["q1", "q3"])
    assert both.nobs == 2 and list(both.item_labels) == ["q1", "q3"]
    with pytest.raises(KeyError, match="labels not in the data: 'm7'"):
        d.subset(models=["m1", "m7"])
    with pytest.raises(ValueError, match="subset is empty"):
        d.subset(models=["m2"], items=["q2"])


def test_subset_counts(counts_df):
    d = ResponseData.from_long(counts_df, successes="k", trials="n", family="beta_binomial")
    s = d.subset(items=["x"])
    _check_invariants(s)
    np.testing.assert_array_equal(s.y, [0, 3, 7])
    np.testing.assert_array_equal(s.trials, [10, 10, 8])
    assert s.successes is s.y


def test_describe_and_repr(long_df):
    d = ResponseData.from_long(long_df, benchmark="bench")
    text = d.describe()
    assert "3 models x 3 questions, 8 observations (density 88.9%)" in text
    assert "family: beta" in text and "boundary: 'error'" in text
    r = repr(d)
    assert r.startswith("ResponseData(family='beta', models=3, questions=3, nobs=8")
    assert "benchmarks=2" in r and "n_boundary_adjusted=0" in r
    b = ResponseData.from_long(long_df.assign(y=long_df["y"] > 0.5), family="bernoulli")
    assert "boundary" not in b.describe() and "boundary" not in repr(b)
