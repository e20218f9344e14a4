"""Input validation of the item bank, pass@k, metrics and test-time helpers: mismatched labels,
bad interval arguments, missing group values, out-of-range counts and budgets."""

import math
import os
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats import testtime as tt
from irsl_stats.metrics import decision_accuracy, mean_absolute_error, rank_correlation
from irsl_stats.passk import pass_at_k


@pytest.fixture(scope="module")
def bank():
    items = pd.DataFrame({"a": [1.0, 1.5, 0.8, 1.2], "d": [-1.0, 0.0, 1.0, 0.5],
                          "a_se": 0.1, "d_se": 0.2, "benchmark": ["x", "x", "y", "y"]},
                         index=list("abcd"))
    return irsl.ItemBank(items, family="bernoulli")


# ----------------------------------------------------------------- 1. Series alignment of se
def test_expected_score_aligns_se_to_theta_by_label(bank):
    theta = pd.Series([-1.0, 2.0], index=["m1", "m2"])
    se = pd.Series([0.0, 0.5], index=["m2", "m1"])  # m2 has se 0, m1 has se 0.5
    out = bank.expected_score(theta, se=se)
    # a zero standard error gives a degenerate interval: that must be m2's, not m1's
    assert out.loc["m2", "lower"] == pytest.approx(out.loc["m2", "score"])
    assert out.loc["m2", "upper"] == pytest.approx(out.loc["m2", "score"])
    assert out.loc["m1", "lower"] < out.loc["m1", "score"] < out.loc["m1", "upper"]
    ref = bank.expected_score(theta, se=se.reindex(theta.index).to_numpy())
    pd.testing.assert_frame_equal(out, ref)


def test_forecast_pass_at_k_aligns_se_to_theta_by_label(bank):
    theta = pd.Series([-1.0, 2.0], index=["m1", "m2"])
    se = pd.Series([0.0, 0.5], index=["m2", "m1"])
    out = bank.forecast_pass_at_k(theta, [1, 4], se=se).set_index(["model", "k"])
    m2 = out.xs("m2", level="model")
    np.testing.assert_allclose(m2["lower"], m2["pass_at_k"])
    np.testing.assert_allclose(m2["upper"], m2["pass_at_k"])
    m1 = out.xs("m1", level="model")
    assert np.all(m1["lower"] < m1["pass_at_k"]) and np.all(m1["pass_at_k"] < m1["upper"])


@pytest.mark.parametrize("method", ["expected_score", "forecast_pass_at_k"])
def test_se_series_missing_theta_labels_is_an_error(bank, method):
    theta = pd.Series([0.0, 1.0, 2.0], index=["m1", "m2", "m3"])
    se = pd.Series([0.1, 0.2, 0.3], index=["m1", "m2", "zz"])
    call = getattr(bank, method)
    args = (theta,) if method == "expected_score" else (theta, [1, 2])
    with pytest.raises(ValueError, match=r"`se`.*\['m3'\]"):
        call(*args, se=se)


@pytest.mark.parametrize("method", ["expected_score", "forecast_pass_at_k"])
def test_se_of_length_one_is_not_broadcast_over_several_abilities(bank, method):
    # a length-1 array is neither a scalar nor one se per model: pairing it with every model
    # by broadcasting hid a wrong-length argument
    call = getattr(bank, method)
    args = ([0.0, 1.0],) if method == "expected_score" else ([0.0, 1.0], [1, 2])
    with pytest.raises(ValueError, match=r"`se` must be a scalar or have the shape of `theta` \(2,\); got shape \(1,\)"):
        call(*args, se=np.array([0.1]))
    one = ([0.5],) if method == "expected_score" else ([0.5], [1, 2])
    assert len(call(*one, se=np.array([0.1]))) == (1 if method == "expected_score" else 2)


# ----------------------------------------------------------------- 2. interval inputs
@pytest.mark.parametrize("method", ["expected_score", "forecast_pass_at_k"])
@pytest.mark.parametrize("se", [-0.5, np.inf, [0.1, -np.inf]])
def test_se_must_be_finite_and_nonnegative(bank, method, se):
    call = getattr(bank, method)
    args = ([0.0, 1.0],) if method == "expected_score" else ([0.0, 1.0], [1, 2])
    with pytest.raises(ValueError, match=r"`se` must be finite and >= 0"):
        call(*args, se=se)


@pytest.mark.parametrize("method", ["expected_score", "forecast_pass_at_k"])
def test_nan_se_gives_nan_bounds_for_that_model_only(bank, method):
    # a NaN se means "not available" (a joint ML fit with singular ability information): the
    # point forecast stays, that model's bounds are NaN, the others' are those of a finite se
    call = getattr(bank, method)
    args = ([0.0, 1.0],) if method == "expected_score" else ([0.0, 1.0], [1, 2])
    with pytest.warns(irsl.IRSLWarning, match=r"1 model\(s\) have no standard error.*\b1\b"):
        got = call(*args, se=[0.1, np.nan])
    ref = call(*args, se=[0.1, 0.2])
    if method == "expected_score":
        np.testing.assert_array_equal(got["score"], ref["score"])
        assert np.isnan(got["lower"].iloc[1]) and np.isnan(got["upper"].iloc[1])
        assert got.iloc[0].equals(ref.iloc[0])
    else:
        first, second = got["model"] == 0, got["model"] == 1
        assert got.loc[second, ["lower", "upper"]].isna().all().all()
        pd.testing.assert_frame_equal(got[first], ref[first])


@pytest.mark.parametrize("method", ["expected_score", "forecast_pass_at_k"])
@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, np.nan])
def test_alpha_must_be_in_the_open_unit_interval(bank, method, alpha):
    call = getattr(bank, method)
    args = ([0.0],) if method == "expected_score" else ([0.0], [1, 2])
    with pytest.raises(ValueError, match=r"`alpha`"):
        call(*args, se=0.3, alpha=alpha)


@pytest.mark.parametrize("n_draws", [0, -3, 2.5])
def test_expected_score_n_draws_must_be_a_positive_integer(bank, n_draws):
    with pytest.raises(ValueError, match=r"`n_draws`"):
        bank.expected_score([0.0], item_uncertainty=True, n_draws=n_draws)


def test_expected_score_valid_intervals_still_work(bank):
    out = bank.expected_score([0.0, 1.0], se=[0.2, 0.0], alpha=0.1)
    assert list(out.columns) == ["score", "lower", "upper"]
    assert out["lower"].iloc[1] == pytest.approx(out["score"].iloc[1])
    mc = bank.expected_score([0.0], se=0.2, item_uncertainty=True, n_draws=1)
    assert np.isfinite(mc.to_numpy()).all()


# ----------------------------------------------------------------- 3. select
def test_select_rejects_questions_without_a_group_value():
    b2 = irsl.ItemBank(pd.DataFrame({"a": 1.0, "d": [0.0, 1, 2, 3], "benchmark": ["x", "x", None, None]},
                                    index=list("abcd")), family="bernoulli")
    for strategy in ("random", "stratified", "information"):
        with pytest.raises(ValueError, match=r"'benchmark'.*\['c', 'd'\]"):
            b2.select(5, strategy=strategy)
    # the whole bank as one group is still fine
    assert sorted(b2.select(5, strategy="random", by=None)) == list("abcd")


def test_select_information_requires_a_finite_theta(bank):
    with pytest.raises(ValueError, match="`theta` must be a finite ability"):
        bank.select(1, strategy="information", theta=np.nan)
    with pytest.raises(ValueError, match=r"`theta\['y'\]` must be a finite ability"):
        bank.select(1, strategy="information", theta={"x": 0.0, "y": np.inf})


def test_select_information_theta_dict_missing_groups(bank):
    with pytest.raises(ValueError, match=r"no target ability for the 'benchmark' groups \['y'\]"):
        bank.select(1, strategy="information", theta={"x": 0.0})
    with pytest.raises(ValueError, match="no groups"):
        bank.select(1, strategy="information", theta={"x": 0.0}, by=None)
    picked = bank.select(1, strategy="information", theta={"x": 0.0, "y": 1.0})
    assert len(picked) == 2


# ----------------------------------------------------------------- 4. power_law_fit
def _curve(values, ks=None):
    ks = np.arange(1, len(values) + 1) if ks is None else ks
    return pd.DataFrame({"model": "m", "k": ks, "pass_at_k": values})


def test_power_law_fit_rejects_values_outside_the_unit_interval():
    vals = np.exp(-2.0 * np.arange(1, 11) ** -0.3)
    vals[3] = 1.2
    with pytest.raises(ValueError, match=r"'m'.*`pass_at_k` must be in \[0, 1\].*1\.2"):
        tt.power_law_fit(_curve(vals))
    vals[3] = -0.1
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        tt.power_law_fit(_curve(vals))


@pytest.mark.parametrize("bad_k", [0.0, -2.0, np.inf])
def test_power_law_fit_rejects_non_positive_or_infinite_k(bad_k):
    ks = np.arange(1, 11, dtype=float)
    ks[-1] = bad_k
    vals = np.linspace(0.2, 0.8, 10)
    with pytest.raises(ValueError, match=r"`k` must be finite and > 0"):
        tt.power_law_fit(_curve(vals, ks))


def test_power_law_fit_still_drops_exact_zero_and_one():
    ks = np.arange(1, 13)
    vals = np.exp(-2.0 * ks ** -0.3)
    vals[0], vals[-1] = 0.0, 1.0
    fit = tt.power_law_fit(_curve(vals, ks), n_points=None).iloc[0]
    assert fit["n_dropped"] == 2 and fit["n_points"] == 10
    assert fit["slope"] == pytest.approx(-0.3)


# ----------------------------------------------------------------- 5. decision accuracy with inf
def test_metrics_reject_infinite_values():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from inf - inf either
        with pytest.raises(ValueError, match=r"`predicted` contains inf at positions 0, 1"):
            decision_accuracy([np.inf, np.inf, 1.0], [1.0, 2.0, 3.0])
        with pytest.raises(ValueError, match=r"`actual` contains inf at labels 'b'"):
            decision_accuracy(pd.Series([1.0, 2.0], index=list("ab")),
                              pd.Series([1.0, -np.inf], index=list("ab")))
        with pytest.raises(ValueError, match=r"`truth` contains inf"):
            mean_absolute_error([1.0], [np.inf])
        with pytest.raises(ValueError, match=r"`predicted` contains inf"):
            rank_correlation([np.inf, 1.0, 2.0], [1.0, 2.0, 3.0])


# ----------------------------------------------------------------- 6. integer range of pass@k
@pytest.mark.parametrize("value", [np.uint64(2**63 + 5), np.int64(2**60), 2**70, np.array([5, 2**54])])
def test_pass_at_k_rejects_integers_beyond_float64(value):
    with pytest.raises(ValueError, match=r"`n` is too large"):
        pass_at_k(value, 1, 1)


def test_pass_at_k_accepts_unsigned_and_large_exact_integers():
    assert pass_at_k(np.uint64(10), np.uint64(3), np.uint64(1)) == pytest.approx(0.3)
    assert pass_at_k(2**53, 0, 1) == 0.0


# ----------------------------------------------------------------- 7. budgets and seeds
@pytest.fixture(scope="module")
def small_counts():
    return irsl.simulate.test_time(n_models=4, n_questions=8, n_samples=60, irt="1pl", seed=0).responses


@pytest.mark.parametrize("kwargs, match", [
    (dict(budgets=(5, 5)), r"`budgets` has duplicates \[5\]"),
    (dict(budgets=(5,), seeds=(0, 1, 0)), r"`seeds` has duplicates \[0\]"),
    (dict(budgets=(5.7,)), r"`budgets` must hold integers; got 5.7"),
    (dict(budgets=(5,), seeds=(0.5,)), r"`seeds` must hold integers"),
    (dict(budgets=(0,)), r"`budgets` must hold integers >= 1"),
    (dict(budgets=()), r"`budgets` must not be empty"),
])
def test_budgets_and_seeds_are_distinct_integers(small_counts, kwargs, match):
    for study in (tt.sample_budget_study, tt.leave_one_model_out):
        with pytest.raises(ValueError, match=match):
            study(small_counts, n_threads=1, **kwargs)


def test_integral_float_budgets_are_accepted(small_counts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        table = tt.sample_budget_study(small_counts, budgets=(5.0, np.int64(10)), seeds=(0,), n_threads=1,
                                       families=("binomial",), irts=("1pl",), forecasts=("plugin",))
    assert sorted(table["budget"].tolist()) == [5, 10]
    assert (table["n"] == 4).all()


# ----------------------------------------------------------------- 8. documented pass@k accuracy
def _exact_pass_at_k(n, c, k):
    if n - c < k:
        return Fraction(1)
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


@pytest.mark.parametrize("n, c, k", [
    (5_724_465, 2103, 1717),   # the auditor's case (error ~3e-13)
    (8_698_024, 2606, 2302),   # the worst case found in a search near n = 1e7 (~6e-13)
    (821_806, 529, 610),
    (10_000_000, 3000, 3000),
    (1_000_000, 200, 150),     # short-sum regime
])
def test_pass_at_k_meets_its_documented_accuracy(n, c, k):
    exact = _exact_pass_at_k(n, c, k)
    got = pass_at_k(n, c, k)
    assert abs(Fraction(got) - exact) < Fraction(1, 10**12)  # documented: 1e-12 absolute, n <= 1e7
    fail = 1 - exact
    assert abs(Fraction(1 - got) - fail) / fail < Fraction(1, 10**10)


def test_pass_at_k_docstring_states_the_measured_bound():
    assert "1e-15" not in pass_at_k.__doc__
    assert "``1e-12`` absolute" in pass_at_k.__doc__


# ----------------------------------------------------------------- 9. save into a missing folder
def test_save_into_a_missing_directory_names_it(bank, tmp_path):
    target = tmp_path / "nope" / "x.json"
    with pytest.raises(FileNotFoundError) as info:
        bank.save(target)
    msg = str(info.value)
    assert str(tmp_path / "nope") in msg
    assert ".tmp" not in msg
    assert not (tmp_path / "nope").exists()
    bank.save(tmp_path / "x.json")  # a present directory still works
    assert os.listdir(tmp_path) == ["x.json"]


# ----------------------------------------------------------------- 10. calibrate a ResponseData
def test_calibrate_a_response_data_records_the_trials():
    sim = irsl.simulate.irt(n_models=15, n_questions=20, family="binomial", seed=0)
    long = sim.responses.copy()
    # trials that differ by question (and a model with other trials), so that a mislabelled
    # median would show
    q = long["question"].astype(str).str[1:].astype(int).to_numpy()
    long["trials"] = 10 + q
    long.loc[long["model"] == "m00", "trials"] = 40
    long["successes"] = np.minimum(long["successes"], long["trials"])
    rd = irsl.ResponseData.from_long(long, successes="successes", trials="trials", family="binomial")
    from_frame = irsl.calibrate(long, family="binomial", successes="successes", trials="trials", n_threads=1)
    with_columns = irsl.calibrate(rd, family="binomial", successes="successes", trials="trials", n_threads=1)
    without = irsl.calibrate(rd, family="binomial", n_threads=1)
    expected = from_frame.items["trials"]
    assert expected.loc["q03"] == 13.0
    pd.testing.assert_series_equal(with_columns.items["trials"], expected)
    pd.testing.assert_series_equal(without.items["trials"], expected)
