"""Item-bank draws of questions the calibration did not identify, points outside their drawn
intervals, ``select``'s ``theta`` check, and exact ordering of integer scores in the metrics.

``ItemBank._item_draws`` drew a question no calibration model ever solved (``d ~ -40``,
``d_se ~ 1e5``) from ``N(d, d_se^2)``: half of the draws made it always solved, so on a real
GSM8K bank every model's ``expected_score(item_uncertainty=True)`` interval excluded its own
score (score 2e-5, interval [0.0077, 0.0385]) and ``forecast_pass_at_k`` clamped its interval
to the point, ~1000x too wide. ``select(theta=array)`` raised a bare TypeError, and the metrics
cast scores to float: ``decision_accuracy([2**53, 2**53 + 1], [1, 2])`` was 0.5, and numeric
strings passed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from irsl_stats import metrics
from irsl_stats.bank import ItemBank
from irsl_stats.results import IRSLWarning

THETA = pd.Series([-1.0, 0.0, 1.5], index=["m1", "m2", "m3"])
SE = pd.Series(0.2, index=THETA.index)
N_IDENTIFIED = 10


def _items(never: dict, **extra) -> pd.DataFrame:
    """Ten identified 1PL questions and one, ``never``, that no calibration model solved."""
    d = np.linspace(-2.0, 2.0, N_IDENTIFIED)
    cols = {"d": np.r_[d, never["d"]], "d_se": np.r_[np.full(N_IDENTIFIED, 0.2), never["d_se"]]}
    for name, (value, never_value) in extra.items():
        cols[name] = np.r_[np.full(N_IDENTIFIED, value), never_value]
    return pd.DataFrame(cols, index=[f"q{i}" for i in range(N_IDENTIFIED)] + ["never"])


def _recorded(call):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = call()
    return out, [str(w.message) for w in got if issubclass(w.category, IRSLWarning)]


# ------------------------------------------------------------------ 1. unidentified questions
def test_expected_score_holds_a_never_solved_question_at_its_estimate():
    items = _items({"d": -39.6, "d_se": 3e5})
    bank = ItemBank(items, family="bernoulli", irt="1pl")
    with pytest.warns(IRSLWarning, match=r"1 question\(s\) are not identified.*'never'.*subset"):
        out = bank.expected_score(THETA, se=SE, item_uncertainty=True, n_draws=400, seed=2)
    # was: every interval excluded its score (the question drawn always-solved half the time)
    assert ((out["lower"] <= out["score"]) & (out["score"] <= out["upper"])).all()
    assert (out["upper"] - out["lower"] < 0.2).all()
    # held, not drawn: the same draws as a bank that gives the question no uncertainty at all
    sure = ItemBank(items.assign(d_se=np.r_[np.full(N_IDENTIFIED, 0.2), 0.0]), family="bernoulli", irt="1pl")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = sure.expected_score(THETA, se=SE, item_uncertainty=True, n_draws=400, seed=2)
    pd.testing.assert_frame_equal(out, ref, check_exact=True)


def test_a_steep_identified_question_is_still_drawn():
    # 2PL: a question whose d_se at theta = 0 is large (10.9) but whose logit is well determined
    # where it discriminates (SE 1.17 at its best ability, as question '1055' of the GSM8K
    # bank) is drawn; only the never-solved one is held
    l22, a_se, d_se = 1.17, 8.7, 10.9
    cov = -np.sqrt(d_se**2 - l22**2) * a_se
    items = pd.DataFrame({
        "a": np.r_[np.ones(N_IDENTIFIED), 8.7, 3.0], "a_se": np.r_[np.full(N_IDENTIFIED, 0.1), a_se, 3.0],
        "d": np.r_[np.linspace(-2, 2, N_IDENTIFIED), -19.4, -39.5],
        "d_se": np.r_[np.full(N_IDENTIFIED, 0.2), d_se, 5.4e5],
        "a_d_cov": np.r_[np.zeros(N_IDENTIFIED), cov, 0.0],
    }, index=[f"q{i}" for i in range(N_IDENTIFIED)] + ["steep", "never"])
    bank = ItemBank(items, family="bernoulli")
    out, said = _recorded(lambda: bank.expected_score(THETA, se=SE, item_uncertainty=True, n_draws=400))
    assert len(said) == 1 and "'never'" in said[0] and "steep" not in said[0]
    assert ((out["lower"] <= out["score"]) & (out["score"] <= out["upper"])).all()


def test_pass_at_k_interval_of_a_bank_with_a_never_solved_question():
    items = _items({"d": -39.6, "d_se": 3e5}, phi=(20.0, 1129.0), phi_se=(4.0, 2258.0))
    bank = ItemBank(items, family="beta_binomial", irt="1pl")
    ks = [1, 100]
    with pytest.warns(IRSLWarning, match=r"not identified.*'never'"):
        out = bank.forecast_pass_at_k(THETA, ks, se=SE, item_uncertainty=True, n_draws=300, seed=1)
    # was: [point, ~0.045] at k = 1 (the clamp hid draws that made the question solved)
    sure_items = items.assign(d_se=np.r_[np.full(N_IDENTIFIED, 0.2), 0.0],
                              phi_se=np.r_[np.full(N_IDENTIFIED, 4.0), 0.0])
    sure = ItemBank(sure_items, family="beta_binomial", irt="1pl")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = sure.forecast_pass_at_k(THETA, ks, se=SE, item_uncertainty=True, n_draws=300, seed=1)
    pd.testing.assert_frame_equal(out, ref, check_exact=True)


# ------------------------------------------------------------------ 1b. point vs drawn interval
def _off_centre_bank() -> ItemBank:
    # identified but poorly: N(-8, 5^2) makes each question solved ~5% of the time on average,
    # so the draws of the mean over 40 questions sit far above the score at the estimates
    items = pd.DataFrame({"d": np.full(40, -8.0), "d_se": 5.0}, index=[f"h{i}" for i in range(40)])
    return ItemBank(items, family="bernoulli", irt="1pl")


def test_expected_score_reports_a_point_outside_its_drawn_interval():
    bank = _off_centre_bank()
    with pytest.warns(IRSLWarning, match=r"point estimate lies outside the 95% interval.*2 model\(s\): 0, 1"):
        out = bank.expected_score([0.0, 1.0], se=[0.1, 0.1], item_uncertainty=True, n_draws=500)
    # the interval contains the point, as forecast_pass_at_k's does (was: [0.03, 0.14] around
    # a score of 0.0003)
    np.testing.assert_array_equal(out["lower"], out["score"])
    assert (out["upper"] > out["score"]).all()
    # one draw: outside by Monte Carlo noise alone, widened without a word
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = bank.expected_score([0.0], se=[0.1], item_uncertainty=True, n_draws=1)
    assert one["lower"].iloc[0] <= one["score"].iloc[0] <= one["upper"].iloc[0]


def test_pass_at_k_reports_a_point_outside_its_drawn_interval():
    # was: clamped to the point silently
    bank = _off_centre_bank()
    with pytest.warns(IRSLWarning, match=r"outside the 95% interval.*\(at k = 1, 10\): 0, 1"):
        out = bank.forecast_pass_at_k([0.0, 1.0], [1, 10], se=[0.1, 0.1], item_uncertainty=True, n_draws=500)
    assert ((out["lower"] <= out["pass_at_k"]) & (out["pass_at_k"] <= out["upper"])).all()


# ------------------------------------------------------------------ 2. select's theta
def test_select_information_names_an_array_theta():
    bank = ItemBank(pd.DataFrame({"d": np.linspace(-2, 2, 8)}, index=list("abcdefgh")),
                    family="bernoulli", irt="1pl")
    # was: TypeError "only 0-dimensional arrays can be converted to Python scalars"
    with pytest.raises(ValueError, match=r"`theta` must be one finite ability.*shape \(2,\)"):
        bank.select(5, strategy="information", by=None, theta=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"`theta` must be one finite ability"):
        bank.select(5, strategy="information", by=None, theta="1.0")
    assert len(bank.select(5, strategy="information", by=None, theta=np.float64(1.0))) == 5


# ------------------------------------------------------------------ 3. metrics
def test_integer_scores_are_ordered_exactly():
    big = 2**53
    # was 0.5: both became 9007199254740992.0
    assert metrics.decision_accuracy([big, big + 1], [1, 2]) == 1.0
    assert metrics.decision_accuracy(pd.Series([big + 1, big], index=["x", "y"]),
                                     pd.Series([1, 2], index=["y", "x"])) == 1.0
    assert metrics.rank_correlation([big, big + 1, big + 2], [1, 3, 2]) == pytest.approx(0.5)
    assert metrics.mean_absolute_error([big + 1, 3], [big, 1]) == 1.5
    # beyond 64 bits too (object arrays of Python ints)
    huge = np.array([2**70 + 1, 2**70, 5], dtype=object)
    assert metrics.decision_accuracy(huge, [3, 2, 1]) == 1.0
    assert metrics.rank_correlation(huge, [3, 2, 1]) == pytest.approx(1.0)
    # nullable integers without missing values are integers too
    assert metrics.decision_accuracy(pd.Series([big, big + 1], dtype="Int64"), [1, 2]) == 1.0


@pytest.mark.parametrize("bad, what", [
    (["1", "2", "3"], "strings"),
    (np.array(["1", "2", "3"], dtype=object), "values such as '1'"),
    ([True, False, True], "booleans"),
    (np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[D]"), "values of dtype datetime64"),
])
def test_non_numeric_scores_are_refused_naming_the_argument(bad, what):
    # was: "1", "2", "3" parsed as numbers, True/False as 1/0
    with pytest.raises(ValueError, match=rf"`predicted` must hold numeric scores, got {what}"):
        metrics.decision_accuracy(bad, [1, 2, 3])
    with pytest.raises(ValueError, match=rf"`truth` must hold numeric scores, got {what}"):
        metrics.mean_absolute_error([1.0, 2.0, 3.0], bad)
    with pytest.raises(ValueError, match=r"`actual` must hold numeric scores"):
        metrics.rank_correlation([1.0, 2.0, 3.0], bad)


# ------------------------------------------------------------------ 4. docs
def test_score_docstring_points_strong_models_to_wle():
    doc = " ".join(ItemBank.score.__doc__.split())
    assert "under-cover the strongest" in doc and 'Use ``method="wle"`` for models stronger' in doc
