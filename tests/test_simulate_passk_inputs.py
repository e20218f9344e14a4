"""Input handling of the simulators and of pass@k (audit items 5, 6, 8, 9 and 12).

5. ``subsample_counts`` on nullable ``Int64`` counts (and missing counts);
6. ``pass_at_k`` on small Python integers held in an object array;
8. a benchmark name given as a string is one name, not its letters;
9. ``Simulation.pass_at_k_truth`` with repeated (and invalid) budgets;
12. the accuracy ``beta_pass_at_k`` documents, against high-precision reference values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from irsl_stats import simulate
from irsl_stats.passk import beta_pass_at_k, beta_pass_at_k_grid, pass_at_k


# ----------------------------------------------------------------- 5. subsample_counts dtypes
@pytest.mark.parametrize("dtype", ["Int64", "int32", "float64", "UInt32"])
def test_subsample_counts_keeps_the_count_dtype(dtype):
    base = pd.DataFrame({"successes": [3, 5, 0, 10], "trials": [10, 10, 10, 10]})
    want = simulate.subsample_counts(base, 4, seed=1)
    got = simulate.subsample_counts(base.astype(dtype), 4, seed=1)
    assert got["successes"].dtype == base.astype(dtype)["successes"].dtype
    assert got["trials"].dtype == base.astype(dtype)["trials"].dtype
    assert got["successes"].tolist() == want["successes"].tolist()
    assert got["trials"].tolist() == [4, 4, 4, 4]


def test_subsample_counts_nullable_int64_from_the_audit():
    df = pd.DataFrame({"successes": [3, 5], "trials": [10, 10]}).astype("Int64")
    out = simulate.subsample_counts(df, 4)
    assert str(out["successes"].dtype) == "Int64" and str(out["trials"].dtype) == "Int64"
    assert out["trials"].tolist() == [4, 4]
    assert ((out["successes"] >= 0) & (out["successes"] <= 4)).all()
    # the input is not modified
    assert df["trials"].tolist() == [10, 10]


@pytest.mark.parametrize("column", ["successes", "trials"])
def test_subsample_counts_missing_counts_name_the_rows(column):
    df = pd.DataFrame({"successes": [3, 5, 2], "trials": [10, 10, 10]},
                      index=["a", "b", "c"]).astype("Int64")
    df.loc["b", column] = pd.NA
    with pytest.raises(ValueError, match=rf"column '{column}'.*missing.*1 row.*'b'"):
        simulate.subsample_counts(df, 4)
    with pytest.raises(ValueError, match=rf"column '{column}'.*missing.*'b'"):
        simulate.subsample_counts(df.astype("float64"), 4)


def test_subsample_counts_invalid_counts_name_the_rows():
    df = pd.DataFrame({"successes": [3, -1, 2.5], "trials": [10, 10, 10]}, index=[7, 8, 9])
    with pytest.raises(ValueError, match=r"column 'successes'.*non-negative integers.*2 row.*8, 9"):
        simulate.subsample_counts(df, 4)
    with pytest.raises(ValueError, match=r"`n_samples` must hold integers"):
        simulate.subsample_counts(df.iloc[:1], 2.5)


# ----------------------------------------------------------------- 6. pass_at_k object arrays
def test_pass_at_k_accepts_python_ints_in_an_object_array():
    got = pass_at_k(pd.Series([10, 20], dtype=object), 3, 2)
    # 1 - C(7,2)/C(10,2) = 1 - 21/45 and 1 - C(17,2)/C(20,2) = 1 - 136/190
    np.testing.assert_allclose(got, [1 - 21 / 45, 1 - 136 / 190], rtol=0, atol=1e-15)
    got = pass_at_k(np.array([10, 2**53], dtype=object), np.array([3, 0], dtype=object), 2)
    np.testing.assert_allclose(got, [1 - 21 / 45, 0.0], rtol=0, atol=1e-15)
    # integral floats in an object array behave as they do in a float array
    assert pass_at_k(np.array([10.0], dtype=object), 3, 1)[0] == pytest.approx(0.3)


@pytest.mark.parametrize("value", [np.array([10, 2**53 + 1], dtype=object), np.array([2**70], dtype=object),
                                   np.array([-(2**60)], dtype=object)])
def test_pass_at_k_object_array_beyond_float64_is_too_large(value):
    with pytest.raises(ValueError, match=r"`n` is too large.*2\*\*53"):
        pass_at_k(value, 1, 1)


@pytest.mark.parametrize("value", [np.array(["10"], dtype=object), np.array([None], dtype=object),
                                   np.array([True], dtype=object), np.array([10.5], dtype=object),
                                   pd.array([10, None], dtype="Int64")])
def test_pass_at_k_object_array_non_integers_are_clear_errors(value):
    with pytest.raises(ValueError, match=r"`n` must"):
        pass_at_k(value, 1, 1)


# ----------------------------------------------------------------- 8. a benchmark name as a string
def test_irt_benchmark_name_string_is_one_name():
    sim = simulate.irt(n_models=5, n_questions=10, benchmarks="gsm8k")
    assert sim.items["benchmark"].cat.categories.tolist() == ["gsm8k"]
    # a name with a repeated letter used to fail with a "distinct names" error
    sim = simulate.irt(n_models=5, n_questions=10, benchmarks="mmlu")
    assert sim.responses["benchmark"].cat.categories.tolist() == ["mmlu"]
    chunks = simulate.irt_chunks(n_models=5, n_questions=10, benchmarks="mmlu")
    assert chunks.items["benchmark"].cat.categories.tolist() == ["mmlu"]
    # a count and a sequence of names still work
    assert simulate.irt(n_models=5, n_questions=10, benchmarks=2).items["benchmark"].nunique() == 2
    assert simulate.irt(n_models=5, n_questions=10, benchmarks=["x", "y"]).items[
        "benchmark"].cat.categories.tolist() == ["x", "y"]


def test_test_time_and_pretraining_benchmark_name_string_is_one_name():
    tt = simulate.test_time(n_models=2, n_questions=6, benchmarks="aime24", n_samples=10)
    assert tt.items["benchmark"].cat.categories.tolist() == ["aime24"]
    # the default offset of the named benchmark applies (AIME is hard)
    assert tt.truth["benchmark_offsets"].to_dict() == {"aime24": -3.5}
    pt = simulate.pretraining(n_recipes=2, sizes=[1e6, 1e7], n_checkpoints=1, benchmarks="mmlu",
                              questions_per_benchmark=5)
    assert pt.items["benchmark"].cat.categories.tolist() == ["mmlu"]
    cb = simulate.correlated_benchmarks(n_models=5, questions=4, corr=[[1.0]], benchmarks="gsm8k")
    assert cb.corr.index.tolist() == ["gsm8k"]


@pytest.mark.parametrize("bad", [3, [], ["a", "a"]])
def test_names_only_simulators_reject_a_count_or_bad_names(bad):
    with pytest.raises(ValueError, match=r"`benchmarks`"):
        simulate.test_time(n_models=2, n_questions=6, benchmarks=bad, n_samples=10)
    with pytest.raises(ValueError, match=r"`benchmarks`"):
        simulate.pretraining(n_recipes=2, sizes=[1e6, 1e7], n_checkpoints=1, benchmarks=bad,
                             questions_per_benchmark=5)


def test_benchmark_errors_name_the_values():
    with pytest.raises(ValueError, match=r"`benchmarks`.*distinct.*'a'"):
        simulate.irt(n_models=5, n_questions=10, benchmarks=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"`benchmarks`.*>= 1.*0"):
        simulate.irt(n_models=5, n_questions=10, benchmarks=0)


# ----------------------------------------------------------------- 9. pass_at_k_truth budgets
@pytest.fixture(scope="module")
def tt_sim():
    return simulate.test_time(n_models=2, n_questions=8, n_samples=50, seed=1)


@pytest.mark.parametrize("kind", ["realized", "expected"])
def test_pass_at_k_truth_repeated_budgets(tt_sim, kind):
    got = tt_sim.pass_at_k_truth([1, 1, 10], kind=kind)
    once = tt_sim.pass_at_k_truth([1, 10], kind=kind)
    # one row per group and requested budget, in the order given, as observed_pass_at_k
    assert list(got.columns) == ["model", "k", "pass_at_k"] and len(got) == 2 * 3
    assert got["k"].tolist() == [1.0, 1.0, 10.0, 1.0, 1.0, 10.0]
    pd.testing.assert_frame_equal(got.drop_duplicates(ignore_index=True), once)
    grouped = tt_sim.pass_at_k_truth([10, 1, 10], by=("model", "benchmark"), kind=kind)
    assert grouped["k"].tolist()[:3] == [10.0, 1.0, 10.0]


@pytest.mark.parametrize(("ks", "msg"), [
    ([0, 1], r"`ks`.*> 0.*0"),
    ([1, -2.5], r"`ks`.*> 0.*-2.5"),
    ([1, np.nan], r"`ks`.*finite.*nan"),
    ([np.inf], r"`ks`.*finite.*inf"),
    ([], r"`ks`.*non-empty"),
    ([[1, 2], [3, 4]], r"`ks`.*one-dimensional"),
    (["a"], r"`ks`.*numbers"),
    ([True, 2], r"`ks`.*numbers"),
])
def test_pass_at_k_truth_rejects_invalid_budgets(tt_sim, ks, msg):
    with pytest.raises(ValueError, match=msg):
        tt_sim.pass_at_k_truth(ks)


def test_pass_at_k_truth_accepts_a_scalar_and_fractional_budgets(tt_sim):
    assert tt_sim.pass_at_k_truth(5)["k"].tolist() == [5.0, 5.0]
    half = tt_sim.pass_at_k_truth([2.5])
    p = tt_sim.responses.set_index("model")["p"]
    want = (1 - (1 - p) ** 2.5).groupby(level=0, observed=True).mean()
    np.testing.assert_allclose(half.set_index("model")["pass_at_k"].reindex(want.index), want, rtol=1e-12)


# ----------------------------------------------------------------- 12. beta_pass_at_k accuracy
# (mu, phi, k, reference): 1 - exp(lgamma(b+k) - lgamma(b) - lgamma(a+b+k) + lgamma(a+b)) with
# a = mu*phi, b = (1-mu)*phi, computed once with mpmath at mp.dps = 50 from the exact binary values
# of mu, phi and k (mpmath.loggamma), rounded to 20 digits. Reference values, not outputs of this
# package. The first is the audit's case; the next two are the worst of a 3,000-point random grid
# (mu 1e-9..1, phi 1e-2..1e12, k 1..1e9) for the previous code (errors 1e-11 to 3e-11).
_HARD_CASES = [
    (2.199504385602609e-06, 481755094325.3726, 443834.0, 0.6232658276561179992),
    (7.9797029e-07, 911821445000.0, 1258063.56, 0.63355141419774126189),
    (1.24338041e-06, 886505281000.0, 1248912.78, 0.78836105715276538545),
    (1e-09, 1000000000000.0, 1000000000.0, 0.63193669589525461169),
    (0.001, 1000000000000.0, 700.0, 0.50358858644733210033),
    (3e-07, 1000000000000.0, 3300000.0, 0.62842275718750662876),
    (0.01, 1.0, 1000000000.0, 0.19191454518131914888),
    (0.5, 1000000000000.0, 2.5, 0.8232233047030316626),
    (0.002, 500000.0, 1000.0, 0.86466516788125674347),
]


@pytest.mark.parametrize(("mu", "phi", "k", "want"), _HARD_CASES)
def test_beta_pass_at_k_meets_its_documented_accuracy(mu, phi, k, want):
    # the docstring promises ~1e-14 absolute for k up to 1e9 and phi up to 1e12
    assert abs(beta_pass_at_k(mu, phi, k) - want) < 1e-14
    assert abs(beta_pass_at_k_grid([mu], phi, [k])[0, 0] - want) < 1e-14
