"""Tests for irsl_stats.metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import irsl_stats.metrics as metrics_mod
from irsl_stats.metrics import decision_accuracy, mean_absolute_error, rank_correlation


def _brute(pred: np.ndarray, act: np.ndarray, tie_credit: float) -> float:
    num = den = 0.0
    for i, j in itertools.combinations(range(len(pred)), 2):
        sa = np.sign(act[i] - act[j])
        if sa == 0:
            continue
        den += 1
        sp = np.sign(pred[i] - pred[j])
        num += 1.0 if sp == sa else (tie_credit if sp == 0 else 0.0)
    return num / den


def test_decision_accuracy_hand_computed() -> None:
    assert decision_accuracy([1, 2, 3], [1, 2, 3]) == 1.0
    assert decision_accuracy([3, 2, 1], [1, 2, 3]) == 0.0
    # pairs (0,1) ok, (0,2) ok, (1,2) wrong -> 2/3
    assert decision_accuracy([1, 2, 3], [10, 30, 20]) == pytest.approx(2 / 3)
    # only the order matters
    assert decision_accuracy(np.exp([1.0, 2.0, 3.0]), [0.1, 0.3, 0.2]) == pytest.approx(2 / 3)


def test_decision_accuracy_ties() -> None:
    # predicted tie on pair (0,1), actual strict: half credit or none
    assert decision_accuracy([1, 1, 3], [1, 2, 3]) == pytest.approx(2.5 / 3)
    assert decision_accuracy([1, 1, 3], [1, 2, 3], ties="wrong") == pytest.approx(2 / 3)
    # actual tie on pair (0,1): excluded whatever the prediction
    assert decision_accuracy([2, 1, 3], [1, 1, 3]) == 1.0
    assert decision_accuracy([1, 1, 3], [1, 1, 3], ties="wrong") == 1.0
    with pytest.raises(ValueError, match="tied"):
        decision_accuracy([1, 2, 3], [5, 5, 5])
    with pytest.raises(ValueError, match="ties"):
        decision_accuracy([1, 2], [1, 2], ties="skip")  # type: ignore[arg-type]


@pytest.mark.parametrize("ties", ["half", "wrong"])
def test_decision_accuracy_matches_brute_force_and_blocks(ties: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 8, 60).astype(float)  # many ties
    act = rng.integers(0, 10, 60).astype(float)
    want = _brute(pred, act, 0.5 if ties == "half" else 0.0)
    assert decision_accuracy(pred, act, ties=ties) == pytest.approx(want, abs=1e-15)
    monkeypatch.setattr(metrics_mod, "_BLOCK_CELLS", 70)  # one row per block
    assert decision_accuracy(pred, act, ties=ties) == pytest.approx(want, abs=1e-15)


def test_decision_accuracy_kendall_relation() -> None:
    # without ties: accuracy = (1 + tau) / 2
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=300), rng.normal(size=300)
    tau = stats.kendalltau(x, y).statistic
    assert decision_accuracy(x, y) == pytest.approx((1 + tau) / 2, abs=1e-12)


def test_decision_accuracy_series_alignment() -> None:
    actual = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    predicted = pd.Series([3.0, 1.0, 2.0], index=["c", "a", "b"])  # same order after aligning
    assert decision_accuracy(predicted, actual) == 1.0
    # Series vs array: by position
    assert decision_accuracy(predicted.to_numpy(), actual) == pytest.approx(0.0 + 1 / 3)
    bad = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "z"])
    with pytest.raises(ValueError, match=r"only in `predicted`: 'z'.*only in `actual`: 'c'"):
        decision_accuracy(bad, actual)
    dup = pd.Series([1.0, 2.0, 3.0], index=["a", "a", "b"])
    with pytest.raises(ValueError, match="duplicated"):
        decision_accuracy(dup, actual)


def test_decision_accuracy_errors() -> None:
    with pytest.raises(ValueError, match=r"`predicted` contains NaN at positions 1"):
        decision_accuracy([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])
    s = pd.Series([1.0, 2.0, np.nan], index=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"`actual` contains NaN at labels 'c'"):
        decision_accuracy(s.fillna(0.0), s)
    with pytest.raises(ValueError, match="length"):
        decision_accuracy([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="two"):
        decision_accuracy([1.0], [1.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        decision_accuracy(np.ones((2, 2)), np.ones((2, 2)))


def test_mean_absolute_error() -> None:
    assert mean_absolute_error([0.5, 1.0], [0.25, 0.25]) == pytest.approx(0.5)
    a = pd.Series([1.0, 2.0], index=["x", "y"])
    b = pd.Series([2.0, 1.0], index=["y", "x"])
    assert mean_absolute_error(a, b) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        mean_absolute_error([np.nan], [1.0])
    with pytest.raises(ValueError, match="empty"):
        mean_absolute_error([], [])


def test_rank_correlation() -> None:
    assert rank_correlation([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    x = np.array([3.0, 1.0, 2.0, 5.0])
    assert rank_correlation(x, x**3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="constant"):
        rank_correlation([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="two"):
        rank_correlation([1], [1])
