"""Evaluation metrics for forecasts: decision accuracy, absolute error, rank correlation.

All functions accept numpy arrays, lists or pandas Series. When *both* inputs are Series
they are aligned on their index (which must hold the same labels, each once); otherwise
they are compared by position and must have the same length. NaN and infinite values are
errors, never silently dropped (an infinite score has no order against another infinite
score: ``inf - inf`` is NaN). The scores must be numbers: integers are compared as integers
(through float64, ``2**53`` and ``2**53 + 1`` would tie), and strings (``"1"``), booleans and
other non-numeric values are a ValueError naming the argument.
"""

from __future__ import annotations

import numbers
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["decision_accuracy", "mean_absolute_error", "rank_correlation"]

#: pairs compared per block in :func:`decision_accuracy` (bounds memory at ~8 bytes each)
_BLOCK_CELLS = 4_000_000


def _describe(labels: list[object], limit: int = 10) -> str:
    shown = ", ".join(repr(x) for x in labels[:limit])
    more = f", ... ({len(labels)} in all)" if len(labels) > limit else ""
    return shown + more


def _raw_values(values: object) -> np.ndarray:
    """``values`` as a numpy array in its own dtype; pandas' nullable numbers in their numpy
    dtype, as floats with NaN where they are missing (reported as NaN by the caller)."""
    if isinstance(values, (pd.Series, pd.Index)) and isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        np_dtype = getattr(values.dtype, "numpy_dtype", None)
        if np_dtype is not None and np_dtype.kind in "iuf":
            if values.isna().any():
                return values.to_numpy(dtype=float, na_value=np.nan)
            return values.to_numpy(dtype=np_dtype)
    return np.asarray(values)


def _numeric(arr: np.ndarray, name: str) -> np.ndarray:
    """The scores ``arr`` (1-D) as int64, uint64 or float64, or an object array of Python ints
    beyond 64 bits; a ValueError naming ``name`` when they are not numbers.

    Integers keep their dtype: a cast to float64 rounds integers above 2**53 (2**53 and
    2**53 + 1 both became 9007199254740992.0, so their order was lost).
    """
    kind = arr.dtype.kind
    if kind in "iu":
        return arr
    if kind == "f":
        return arr.astype(np.float64, copy=False)
    if kind == "O":
        # only real numbers (missing values as NaN): strings such as "1" were silently parsed
        bad = [v for v in arr if not (v is None or v is pd.NA or
                                      (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))))]
        if not bad:
            if all(isinstance(v, (int, np.integer)) for v in arr):
                # Python ints beyond 64 bits stay Python ints (exact comparisons and differences)
                try:
                    return arr.astype(np.int64)
                except OverflowError:
                    return arr
            return np.array([np.nan if v is None or v is pd.NA else float(v) for v in arr], dtype=np.float64)
        shown = bad[0]
    else:
        shown = None
    what = ("booleans" if kind == "b" else "strings" if kind in "US" else
            f"values such as {shown!r}" if shown is not None else f"values of dtype {arr.dtype}")
    hint = " (use .astype(int) if True/False are the scores)" if kind == "b" else (
        " (convert them with pd.to_numeric first)" if kind in "USO" else "")
    raise ValueError(f"`{name}` must hold numeric scores, got {what}{hint}")


def _paired(predicted: object, actual: object, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Validate and align two 1-D inputs; return numeric arrays of equal length.

    Integer scores stay integers (int64, uint64, or Python ints beyond 64 bits in an object
    array) and floats float64; anything else (strings, booleans, dates) is a ValueError naming
    the argument.
    """
    p_name, a_name = names
    if isinstance(predicted, pd.Series) and isinstance(actual, pd.Series):
        for s, nm in ((predicted, p_name), (actual, a_name)):
            if not s.index.is_unique:
                dup = s.index[s.index.duplicated()].unique().tolist()
                raise ValueError(f"`{nm}` has duplicated index labels: {_describe(dup)}")
        only_p = predicted.index.difference(actual.index, sort=False).tolist()
        only_a = actual.index.difference(predicted.index, sort=False).tolist()
        if only_p or only_a:
            parts = []
            if only_p:
                parts.append(f"labels only in `{p_name}`: {_describe(only_p)}")
            if only_a:
                parts.append(f"labels only in `{a_name}`: {_describe(only_a)}")
            raise ValueError("index labels do not match; " + "; ".join(parts))
        predicted = predicted.reindex(actual.index)
        labels: pd.Index | None = actual.index
    else:
        labels = None
    p = _raw_values(predicted)
    a = _raw_values(actual)
    for arr, nm in ((p, p_name), (a, a_name)):
        if arr.ndim != 1:
            raise ValueError(f"`{nm}` must be one-dimensional, got shape {arr.shape}")
    if p.shape != a.shape:
        raise ValueError(f"`{p_name}` and `{a_name}` differ in length: {p.size} vs {a.size}")
    p, a = _numeric(p, p_name), _numeric(a, a_name)
    kind = "labels" if labels is not None else "positions"
    # inf is rejected like NaN: two infinite values compare as inf - inf = NaN, which would
    # silently count as a disagreement (decision accuracy) or give a NaN error (MAE)
    for arr, nm in ((p, p_name), (a, a_name)):
        if arr.dtype.kind != "f":
            continue  # integers have neither
        for what, is_bad in (("NaN", np.isnan), ("inf", np.isinf)):
            bad = np.flatnonzero(is_bad(arr))
            if bad.size:
                where = labels[bad].tolist() if labels is not None else bad.tolist()
                raise ValueError(f"`{nm}` contains {what} at {kind} {_describe(where)}; scores must be finite")
    return p, a


def _sign_of_difference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``sign(x - y)`` (broadcast) without computing ``x - y``."""
    return (x > y).astype(np.int8) - (x < y).astype(np.int8)


def decision_accuracy(
    predicted: object,
    actual: object,
    *,
    ties: Literal["half", "wrong"] = "half",
) -> float:
    """Share of pairs whose predicted order matches the actual order.

    The DataDecide definition of decision accuracy: over all pairs ``i < j`` of
    candidates (e.g. data recipes), the share for which ``sign(predicted_i - predicted_j)``
    equals ``sign(actual_i - actual_j)``.

    Parameters
    ----------
    predicted : array_like or pandas.Series, shape (n,)
        Predicted scores (higher = better; only the order matters).
    actual : array_like or pandas.Series, shape (n,)
        True scores. When both inputs are Series they are aligned on the index.
    ties : {"half", "wrong"}, default "half"
        How a pair tied in ``predicted`` but not in ``actual`` counts: ``"half"`` scores it
        1/2 (a coin flip would decide it, the convention of Kendall's tau-b style
        concordance), ``"wrong"`` scores it 0.

    Returns
    -------
    float
        Decision accuracy in ``[0, 1]``.

    Raises
    ------
    ValueError
        On non-numeric scores (strings, booleans; naming the argument), NaN or infinite
        values (naming the positions or labels), unequal lengths, Series whose labels do not
        match (naming them), fewer than two candidates, or when every pair is tied in
        ``actual`` (there is no decision to get right).

    Notes
    -----
    Pairs tied in ``actual`` are excluded from numerator and denominator. The pairwise
    comparison is vectorised in row blocks, so memory stays bounded (about 4e6 pairs per
    block) for any ``n``; time is O(n^2).

    Examples
    --------
    >>> from irsl_stats.metrics import decision_accuracy
    >>> decision_accuracy([1.0, 2.0, 3.0], [10.0, 30.0, 20.0])  # 2 of 3 pairs agree
    0.6666666666666666
    >>> decision_accuracy([1.0, 1.0, 3.0], [1.0, 2.0, 3.0])  # one predicted tie: 2.5 / 3
    0.8333333333333334
    >>> decision_accuracy([1.0, 1.0, 3.0], [1.0, 2.0, 3.0], ties="wrong")
    0.6666666666666666
    """
    if ties not in ("half", "wrong"):
        raise ValueError(f"`ties` must be 'half' or 'wrong', got {ties!r}")
    p, a = _paired(predicted, actual, ("predicted", "actual"))
    n = p.size
    if n < 2:
        raise ValueError(f"decision accuracy needs at least two candidates, got {n}")
    tie_credit = 0.5 if ties == "half" else 0.0
    block = max(1, _BLOCK_CELLS // n)
    agree = 0
    pred_tied = 0
    decided = 0
    for start in range(0, n - 1, block):
        stop = min(start + block, n - 1)
        rows = np.arange(start, stop)
        # upper triangle only: pairs (i, j) with j > i
        upper = np.arange(n)[None, :] > rows[:, None]
        # signs by comparison, not by subtraction: the difference of two large finite scores
        # of opposite sign (e.g. 1e308 and -1e308) overflows with a RuntimeWarning
        sa = _sign_of_difference(a[rows, None], a[None, :])
        sp = _sign_of_difference(p[rows, None], p[None, :])
        counted = upper & (sa != 0)
        decided += int(np.count_nonzero(counted))
        agree += int(np.count_nonzero(counted & (sp == sa)))
        pred_tied += int(np.count_nonzero(counted & (sp == 0)))
    if decided == 0:
        raise ValueError("every pair is tied in `actual`; decision accuracy is undefined")
    return (agree + tie_credit * pred_tied) / decided


def mean_absolute_error(pred: object, truth: object) -> float:
    """Mean absolute error ``mean |pred - truth|``.

    Parameters
    ----------
    pred : array_like or pandas.Series, shape (n,)
        Predictions.
    truth : array_like or pandas.Series, shape (n,)
        Targets; aligned on the index when both inputs are Series.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On non-numeric values, NaN or infinite values, unequal lengths, mismatched Series
        labels or empty input.

    Examples
    --------
    >>> from irsl_stats.metrics import mean_absolute_error
    >>> mean_absolute_error([0.5, 1.0], [0.25, 0.25])
    0.5
    """
    p, t = _paired(pred, truth, ("pred", "truth"))
    if p.size == 0:
        raise ValueError("mean absolute error of empty inputs is undefined")
    if p.dtype.kind in "iuO" and t.dtype.kind in "iuO":
        # integers: exact differences in Python ints, one correctly rounded division (int64
        # differences can overflow, float64 ones round above 2**53)
        return int(np.abs(p.astype(object) - t.astype(object)).sum()) / p.size
    return float(np.mean(np.abs(p.astype(np.float64) - t.astype(np.float64))))


def rank_correlation(predicted: object, actual: object) -> float:
    """Spearman rank correlation between predictions and targets (``scipy.stats.spearmanr``).

    Parameters
    ----------
    predicted : array_like or pandas.Series, shape (n,)
    actual : array_like or pandas.Series, shape (n,)
        Aligned on the index when both are Series.

    Returns
    -------
    float
        Spearman's rho in ``[-1, 1]`` (ties get average ranks).

    Raises
    ------
    ValueError
        On non-numeric values, NaN or infinite values, mismatched inputs, fewer than two
        values, or a constant input (the correlation is undefined).

    Examples
    --------
    >>> from irsl_stats.metrics import rank_correlation
    >>> round(rank_correlation([1, 2, 3, 4], [10, 20, 40, 30]), 6)
    0.8
    """
    p, a = _paired(predicted, actual, ("predicted", "actual"))
    if p.size < 2:
        raise ValueError(f"rank correlation needs at least two values, got {p.size}")
    for arr, nm in ((p, "predicted"), (a, "actual")):
        if np.all(arr == arr[0]):
            raise ValueError(f"`{nm}` is constant; rank correlation is undefined")
    # Python ints beyond 64 bits (object arrays), which scipy cannot rank, by their exact order
    p, a = (np.unique(x, return_inverse=True)[1] if x.dtype == object else x for x in (p, a))
    return float(stats.spearmanr(p, a).statistic)
