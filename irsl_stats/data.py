"""Validated, indexed response data.

:class:`ResponseData` is the single entry point from pandas to the estimators and the C++ kernel.
It checks the input once, with errors that name the column and show the offending rows, and stores
the observations in the layout of ``docs/kernel_interface.md``:

- one observation per observed (model, question) cell, **sorted by model, then question**;
- ``model`` / ``item`` int32 codes into ``model_labels`` / ``item_labels``;
- ``y`` float64 (the response; the successes ``k`` for count families), ``trials`` float64 (``n``),
  ``weights`` float64 (optional);
- ``model_ptr`` int64[M + 1] CSR offsets: the observations of model ``m`` are
  ``slice(model_ptr[m], model_ptr[m + 1])``.

This module is pure pandas/numpy; it never imports the compiled kernel.

Label order
-----------
``model_labels`` and ``item_labels`` are **sorted** (``pd.factorize(sort=True)``) when built from a
plain long column, falling back to the order of first appearance when the labels cannot be sorted
(mixed types). A pandas Categorical column keeps its category order, explicit ``models=`` /
``questions=`` lists keep their order, and :meth:`ResponseData.from_matrix` keeps the order of the
matrix rows and columns.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Dict, Hashable, Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from ._checks import is_clip_eps
from .families import Family, get_family

__all__ = ["ResponseData", "MissingColumnError", "BOUNDARY_POLICIES"]

#: Valid values of the ``boundary=`` argument (beta family only).
BOUNDARY_POLICIES: Tuple[str, ...] = ("error", "squeeze", "clip")

_MAX_SHOW = 5


class MissingColumnError(KeyError, ValueError):
    """A column named in the call is not in the DataFrame.

    Subclasses both :class:`KeyError` (it is a failed lookup) and :class:`ValueError` (it is bad
    input); unlike a plain ``KeyError`` its message prints without quotes.
    """

    def __str__(self) -> str:  # KeyError.__str__ would repr() the message
        return str(self.args[0]) if self.args else ""


# --------------------------------------------------------------------------------------------------
# error helpers (only run on the error path; cost O(rows shown))
# --------------------------------------------------------------------------------------------------


def wide_matrix_values(wide: pd.DataFrame) -> Tuple[pd.Index, pd.Index, np.ndarray]:
    """Labels and float values of a models x questions matrix (NaN = not asked), checked.

    Parameters
    ----------
    wide : DataFrame, shape (M, N)
        Index = model labels, columns = question labels.

    Returns
    -------
    (Index, Index, ndarray of shape (M, N))

    Raises
    ------
    ValueError
        For an empty matrix, missing or duplicated labels, columns that are not numbers (named;
        object columns holding numbers are accepted; dates, time spans and complex numbers are
        not numbers here), or a model or question with no response.
    """
    if wide.shape[0] == 0 or wide.shape[1] == 0:
        raise ValueError(f"empty input: the matrix has shape {wide.shape}")
    idx, cols = pd.Index(wide.index), pd.Index(wide.columns)
    for labels, what in ((idx, "model (row index)"), (cols, "question (columns)")):
        if labels.hasnans:
            raise ValueError(f"matrix {what} has missing (NaN) labels")
        if labels.has_duplicates:
            raise ValueError(
                f"matrix {what} has duplicated labels, which would duplicate (model, question) "
                f"pairs: {_fmt_labels(labels[labels.duplicated()].unique())}"
            )
    # the float cast below turns dates and time spans into counts of their time unit and complex
    # numbers into their real part, silently; only non-numeric dtypes are looked at (cheap per column)
    dtypes = list(wide.dtypes)
    suspects = [j for j, dt in enumerate(dtypes) if getattr(dt, "kind", "O") not in "biuf"]
    objects = [j for j in suspects if dtypes[j] == object]
    # the values of the object columns in one block: a column at a time (iloc) is ~100x slower
    block = wide.iloc[:, objects].to_numpy(dtype=object) if objects else None
    values_of = {j: block[:, k] for k, j in enumerate(objects)} if block is not None else {}
    odd = [(cols[j], what) for j in suspects for what in [_not_a_number(dtypes[j], values_of.get(j))]
           if what is not None]
    if odd:
        shown = ", ".join(f"{name!r} ({what})" for name, what in odd[:10])
        more = f", ... ({len(odd)} in total)" if len(odd) > 10 else ""
        raise ValueError(
            f"matrix values must be numeric; question column(s) hold dates, time spans or complex "
            f"numbers, which would be read as counts of a time unit or as real parts: {shown}{more}; "
            f"convert them to the responses first"
        )
    try:
        values = wide.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        # column by column: an object column can convert alone but not within the whole frame
        # (e.g. numbers with a NaT), and the error must name the columns that do not convert
        parts, bad_cols = [], []
        for j, name in enumerate(cols):
            try:
                parts.append(wide.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan))
            except (TypeError, ValueError):
                bad_cols.append(name)
        if bad_cols:
            raise ValueError(
                f"matrix values must be numeric; question column(s) not numeric: {_fmt_labels(bad_cols)}"
            ) from None
        values = np.column_stack(parts)
    reject_empty_rows_and_columns(~np.isnan(values), idx, cols)
    return idx, cols, values


# values that numpy casts to float without complaint although they are not numbers: datetimes
# (to counts since the epoch), time spans (to counts of their unit), complex (to the real part)
_NOT_NUMBER_KINDS = {"M": "dates", "m": "time spans", "c": "complex numbers"}
_NOT_NUMBER_INFERRED = {"datetime64": "M", "datetime": "M", "date": "M", "time": "M",
                        "timedelta64": "m", "timedelta": "m", "complex": "c"}
_NOT_NUMBER_TYPES = ((datetime.date, datetime.time, np.datetime64), "M"), \
    ((datetime.timedelta, np.timedelta64), "m"), ((complex, np.complexfloating), "c")


def _not_a_number(dtype: Any, values: Any) -> Optional[str]:
    """What a matrix column holds when it is dates, time spans or complex numbers (else None).

    Looks at the dtype (of the categories, for a Categorical) and, for ``object`` columns (or
    categories), at the values: ``values`` are those of the column when its dtype is ``object``.
    """
    if isinstance(dtype, pd.CategoricalDtype):
        values = dtype.categories
        dtype = values.dtype
    kind = getattr(dtype, "kind", "O")
    if kind in _NOT_NUMBER_KINDS:
        return f"{_NOT_NUMBER_KINDS[kind]}, dtype {dtype}"
    if dtype != object:
        return None
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in _NOT_NUMBER_INFERRED:
        return f"{_NOT_NUMBER_KINDS[_NOT_NUMBER_INFERRED[inferred]]}, dtype object"
    if inferred.startswith("mixed"):  # e.g. numbers and a few dates: look at each value
        for x in np.asarray(values, dtype=object):
            if x is pd.NaT:  # pandas' missing date: read as NaN (np.datetime64("NaT") is not)
                continue
            for types, k in _NOT_NUMBER_TYPES:
                if isinstance(x, types):
                    return f"{_NOT_NUMBER_KINDS[k]} among the values, e.g. {x!r}"
    return None


def benchmark_per_question(benchmark, cols: pd.Index) -> np.ndarray:
    """The benchmark of each question column from a mapping (dict or Series question -> benchmark).

    Raises
    ------
    ValueError
        If the mapping lists a question twice or lacks some (naming them).
    """
    bmap = benchmark if isinstance(benchmark, pd.Series) else pd.Series(dict(benchmark))
    if bmap.index.has_duplicates:
        raise ValueError(
            f"benchmark mapping lists questions more than once: "
            f"{_fmt_labels(bmap.index[bmap.index.duplicated()].unique())}"
        )
    per_q = bmap.reindex(cols)
    missing = per_q.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"benchmark mapping: {int(missing.sum())} question(s) have no benchmark: "
            f"{_fmt_labels(cols[missing])}"
        )
    return per_q.to_numpy()


def reject_empty_rows_and_columns(observed: np.ndarray, rows: pd.Index, columns: pd.Index) -> None:
    """Raise when a row (model) or column (question) of a wide matrix has no response.

    An all-NaN row or column would vanish from the long table without a trace: the model or
    question is then silently absent from every fit.

    Parameters
    ----------
    observed : ndarray of bool, shape (M, N)
        Which cells hold a response.
    rows, columns : pandas.Index
        Model and question labels.
    """
    for axis, labels, what in ((1, rows, "model (row)"), (0, columns, "question (column)")):
        empty = ~observed.any(axis=axis)
        if empty.any():
            raise ValueError(
                f"matrix: {int(empty.sum())} {what}(s) have no responses (all NaN): "
                f"{_fmt_labels(labels[empty])}; drop them from the matrix first "
                f"(e.g. wide.dropna(how='all'{', axis=1' if axis == 0 else ''}))"
            )


def _fmt_labels(labels: Iterable[Any], limit: int = 10) -> str:
    labels = list(labels)
    text = ", ".join(repr(x) for x in labels[:limit])
    if len(labels) > limit:
        text += f", ... ({len(labels)} in total)"
    return text


def _show_rows(frame: pd.DataFrame, positions: np.ndarray, columns: Sequence[Hashable]) -> str:
    """Up to five rows of ``frame`` (by position) restricted to ``columns``, as text."""
    pos = np.asarray(positions, dtype=np.intp)[:_MAX_SHOW]
    cols = [c for c in dict.fromkeys(columns) if c is not None and c in frame.columns]
    sub = frame.iloc[pos]
    if cols:
        sub = sub.loc[:, cols]
    return sub.to_string()


def _raise_rows(
    column: Hashable,
    problem: str,
    frame: pd.DataFrame,
    bad: np.ndarray,
    columns: Sequence[Hashable],
    hint: str = "",
    subject: Optional[str] = None,
) -> None:
    """Raise a ValueError naming ``column`` and showing up to five offending rows.

    ``bad`` is a boolean mask over the rows of ``frame`` or an array of row positions.
    ``subject`` replaces the leading ``column <column>`` (e.g. a rate computed from two columns).
    """
    bad = np.asarray(bad)
    positions = np.flatnonzero(bad) if bad.dtype == bool else bad
    n_bad = len(positions)
    shown = min(n_bad, _MAX_SHOW)
    if subject is None:
        subject = f"column {column!r}"
    msg = (
        f"{subject}: {n_bad} of {len(frame)} rows {problem} "
        f"(showing {shown}; the index is the row label of the input):\n"
        f"{_show_rows(frame, positions, columns)}"
    )
    if hint:
        msg += "\n" + hint
    raise ValueError(msg)


def _get_column(frame: pd.DataFrame, name: Hashable) -> pd.Series:
    col = frame[name]
    if isinstance(col, pd.DataFrame):
        raise ValueError(f"column {name!r} appears {col.shape[1]} times in the data; names must be unique")
    return col


def _to_float(col: pd.Series, name: Hashable, frame: pd.DataFrame, shown: Sequence[Hashable]) -> np.ndarray:
    """Column as a float64 array (no copy for float64 columns); NaN for missing values."""
    if col.dtype == np.float64:
        return col.to_numpy()
    try:
        return np.ascontiguousarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError):
        coerced = pd.to_numeric(col.astype(object), errors="coerce")
        bad = (coerced.isna() & col.notna()).to_numpy()
        if not bad.any():  # pragma: no cover - defensive
            bad = np.ones(len(col), dtype=bool)
        _raise_rows(name, f"are not numeric (dtype {col.dtype})", frame, bad, shown)
    raise AssertionError("unreachable")  # pragma: no cover


def _as_label_list(labels: Any, what: str) -> list:
    if isinstance(labels, (str, bytes)) or not np.iterable(labels):
        raise TypeError(f"{what}= must be a list-like of labels, got {type(labels).__name__}")
    return list(labels)


def _type_twins(labels: pd.Index) -> list:
    """Pairs of distinct labels that print alike (``15`` and ``"15"``, ``15.0`` and ``"15"``).

    Only an object Index can hold them: a typed Index (int, float, str) has one type. A float
    that is a whole number is also compared as an int, since ``15.0`` and ``"15"`` are the same
    id written by two pipelines. Equal labels of different types (``1``, ``1.0``, ``True``) are
    already one label (they hash alike), so they are not twins.
    """
    if labels.dtype != object:
        return []
    seen: Dict[str, Any] = {}
    twins = []
    for lab in labels:
        keys = [str(lab)]
        if isinstance(lab, (float, np.floating)) and np.isfinite(lab) and float(lab).is_integer():
            keys.append(str(int(lab)))
        hit = next((seen[k] for k in keys if k in seen), None)
        if hit is not None:
            twins.append((hit, lab))
        for k in keys:
            seen.setdefault(k, lab)
    return twins


def _reject_type_twins(labels: pd.Index, name: Hashable, role: str, declared_arg: str = "") -> None:
    """Raise a ValueError naming column ``name`` when two of its ``role`` labels differ only in type.

    Such labels (``15`` in some rows, ``"15"`` in others: ids from two sources) would silently
    become two models, questions or benchmarks; ``bank.score`` gives the same hint for labels
    that differ from the bank's only in type.
    """
    twins = _type_twins(labels)
    if not twins:
        return

    def show(x: Any) -> str:
        x = x.item() if isinstance(x, np.generic) else x
        return f"{x!r} ({type(x).__name__})"
    pairs = ", ".join(f"{show(a)} and {show(b)}" for a, b in twins[:_MAX_SHOW])
    more = f", ... ({len(twins)} pairs in total)" if len(twins) > _MAX_SHOW else ""
    source = f" (listed in {declared_arg}=)" if declared_arg else ""
    if any(isinstance(x, (float, np.floating)) for pair in twins for x in pair):
        # .astype(str) would write 15.0 as "15.0", which no longer matches "15": cast to int
        cast = (f"df[{name!r}] = pd.to_numeric(df[{name!r}]).astype(int) (.astype(str) would write "
                f"a float id 15.0 as '15.0')")
    else:
        cast = (f"df[{name!r}] = df[{name!r}].astype(str) (or .astype(int) when every label is a "
                f"whole number)")
    raise ValueError(
        f"column {name!r}: {len(twins)} pair(s) of {role} labels{source} differ only in type, so "
        f"each pair would be fitted as two different {role}s: {pairs}{more}. Make the labels one "
        f"type first, e.g. {cast}" + (f", and the same for {declared_arg}=" if declared_arg else "")
    )


def _encode_labels(
    col: pd.Series,
    name: Hashable,
    role: str,
    frame: pd.DataFrame,
    shown: Sequence[Hashable],
    declared: Optional[Iterable[Hashable]] = None,
    declared_arg: str = "",
) -> Tuple[np.ndarray, pd.Index]:
    """Integer codes int32[n] (all >= 0) and the label Index of a label column.

    Raises for NaN labels, labels that differ only in type (``15`` and ``"15"``), labels outside an
    explicit set, and declared labels without responses.
    """
    na = col.isna().to_numpy()
    if na.any():
        _raise_rows(name, f"have a missing (NaN) {role} label", frame, na, shown)
    is_cat = isinstance(col.dtype, pd.CategoricalDtype)
    if declared is not None:
        labels = pd.Index(_as_label_list(declared, declared_arg))
        if labels.hasnans:
            raise ValueError(f"{declared_arg}= contains a missing (NaN) label")
        if labels.has_duplicates:
            dups = labels[labels.duplicated()].unique()
            raise ValueError(f"{declared_arg}= contains duplicated labels: {_fmt_labels(dups)}")
        codes = labels.get_indexer(col.astype(object) if is_cat else col)
        unknown = codes < 0
        if unknown.any():
            _raise_rows(name, f"have a {role} label that is not in {declared_arg}=", frame, unknown, shown)
    elif is_cat:
        labels = col.cat.categories
        codes = col.cat.codes.to_numpy()
    else:
        try:
            codes, labels = pd.factorize(col, sort=True)
        except TypeError:  # labels that cannot be ordered: keep the order of first appearance
            codes, labels = pd.factorize(col, sort=False)
        labels = pd.Index(labels)
    # before the check for empty labels: a twin listed in models=/questions= without responses
    # is better explained by the twin than by "no responses"
    _reject_type_twins(labels, name, role, declared_arg if declared is not None else "")
    counts = np.bincount(codes, minlength=len(labels))
    empty = counts == 0
    if empty.any():
        source = f"{declared_arg}=" if declared is not None else f"the categories of column {name!r}"
        raise ValueError(
            f"column {name!r}: {int(empty.sum())} {role} label(s) listed in {source} have no "
            f"responses: {_fmt_labels(labels[empty])}. Remove them (e.g. "
            f"series.cat.remove_unused_categories()) or add their responses."
        )
    labels = labels.rename(name)
    return np.ascontiguousarray(codes, dtype=np.int32), labels


def _drop_unused_categories(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """A shallow copy whose categorical label columns keep only the categories in use (a subset
    of a calibration table usually has unused ones)."""
    fix = [c for c in dict.fromkeys(columns)
           if c is not None and c in frame.columns and isinstance(frame[c], pd.Series)
           and isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not fix:
        return frame
    frame = frame.copy(deep=False)
    for c in fix:
        frame[c] = frame[c].cat.remove_unused_categories()
    return frame


def _check_squeeze_n(value, none_means: str) -> Optional[float]:
    """``squeeze_n`` as a float (finite, >= 1) or None; a ValueError naming it otherwise
    (``none_means`` says what None stands for)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = np.nan
    if isinstance(value, (bool, np.bool_)) or not (np.isfinite(v) and v >= 1.0):
        raise ValueError(f"squeeze_n must be a finite number >= 1 (the n of the squeeze (y*(n-1) + 0.5)/n), "
                         f"or {none_means}; got {value!r}")
    return v


def _check_boundary_args(boundary: str, eps: float) -> None:
    if boundary not in BOUNDARY_POLICIES:
        raise ValueError(f"boundary must be one of {_fmt_labels(BOUNDARY_POLICIES)}, got {boundary!r}")
    if not is_clip_eps(eps):
        raise ValueError(f"eps must be a number in (0, 0.5), got {eps!r}")


def _plain_index(uniques: pd.Index) -> pd.Index:
    if isinstance(uniques, pd.CategoricalIndex):
        return pd.Index(uniques.categories.take(uniques.codes))
    return pd.Index(uniques)


# --------------------------------------------------------------------------------------------------
# ResponseData
# --------------------------------------------------------------------------------------------------


class ResponseData:
    """Validated responses of models to questions, indexed for the kernel.

    Build it with :meth:`from_long` or :meth:`from_matrix`; the constructor is low level (it takes
    already validated, sorted arrays, e.g. from :meth:`subset`).

    Attributes
    ----------
    model : ndarray of int32, shape (nobs,)
        Model code of each observation (index into ``model_labels``); non-decreasing.
    item : ndarray of int32, shape (nobs,)
        Question code of each observation (index into ``item_labels``); increasing within a model.
    y : ndarray of float64, shape (nobs,)
        Response (beta: in (0, 1) after the boundary policy; bernoulli: 0/1), or the successes ``k``
        for count families.
    trials : ndarray of float64, shape (nobs,), or None
        Number of trials ``n`` when known: always for count families; for ``beta`` built from
        counts it is the ``n`` used by the squeeze (informational, not part of the beta likelihood).
    successes : ndarray of float64, shape (nobs,), or None
        Successes ``k`` when the data were given as counts (the same array as ``y`` for count
        families; the raw counts behind the rate ``y = k / n`` for ``beta``).
    weights : ndarray of float64, shape (nobs,), or None
        Observation weights (``None`` = all ones).
    model_ptr : ndarray of int64, shape (n_models + 1,)
        CSR offsets: model ``m`` owns observations ``model_ptr[m]:model_ptr[m + 1]``.
    model_labels, item_labels : pandas.Index
        Labels of the models (length ``n_models``) and questions (length ``n_items``).
    benchmarks : pandas.Index or None
        Benchmark names (sorted, or category order).
    item_benchmark_codes : ndarray of int32, shape (n_items,), or None
        Benchmark code of each question (index into ``benchmarks``).
    item_benchmark : pandas.Series or None
        Benchmark name of each question, indexed by ``item_labels``.
    family : Family
        Response family.
    row_index : pandas.Index, shape (nobs,)
        Row label in the input of each (sorted) observation; for :meth:`from_matrix` a
        MultiIndex of (model, question).
    boundary : str
        Boundary policy used for beta responses (``"error"``, ``"squeeze"``, ``"clip"``).
    n_boundary_adjusted : int
        Number of responses the boundary policy moved: for ``"clip"`` the values changed by the
        clipping; for ``"squeeze"`` the values that were at 0 or 1 (the Smithson–Verkuilen
        transform itself is applied to every value).
    boundary_adjusted : ndarray of bool, shape (nobs,), or None
        Which observations were counted in ``n_boundary_adjusted`` (None when there are none).
    n_models, n_items, nobs : int
    eps : float
        Offset of the ``"clip"`` boundary policy: beta responses are clipped to ``[eps, 1 - eps]``.
    columns : dict
        Column names used for the roles ``model``, ``question``, ``response``, ``successes``,
        ``trials``, ``weights``, ``benchmark`` (``None`` when absent); used by :meth:`to_long`.
    squeeze_n : float or None
        The ``n`` of the ``"squeeze"`` boundary policy for responses without trials: the number
        of rows of the table :meth:`from_long` read (or its ``squeeze_n=``), recorded whatever
        the policy, so that a bank calibrated on these data squeezes the responses it scores
        the same way (:attr:`ItemBank.squeeze_n <irsl_stats.bank.ItemBank.squeeze_n>`). Kept
        by :meth:`subset` (the responses were squeezed with it); None when built from arrays.

    Examples
    --------
    >>> import pandas as pd
    >>> from irsl_stats import ResponseData
    >>> long = pd.DataFrame({"model": ["m1", "m1", "m2"], "question": ["q1", "q2", "q1"],
    ...                      "y": [0.2, 0.7, 0.9]})
    >>> rd = ResponseData.from_long(long)
    >>> rd.n_models, rd.n_items, rd.nobs
    (2, 2, 3)
    >>> rd.per_model_counts().tolist()
    [2, 1]
    """

    def __init__(
        self,
        model: np.ndarray,
        item: np.ndarray,
        y: np.ndarray,
        *,
        family: Union[str, Family],
        model_labels: pd.Index,
        item_labels: pd.Index,
        trials: Optional[np.ndarray] = None,
        successes: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None,
        benchmarks: Optional[pd.Index] = None,
        item_benchmark_codes: Optional[np.ndarray] = None,
        row_index: Optional[pd.Index] = None,
        boundary: str = "error",
        n_boundary_adjusted: int = 0,
        boundary_adjusted: Optional[np.ndarray] = None,
        eps: float = 1e-6,
        columns: Optional[Dict[str, Optional[Hashable]]] = None,
        squeeze_n: Optional[float] = None,
    ) -> None:
        self.family: Family = get_family(family)
        self.model = np.ascontiguousarray(model, dtype=np.int32)
        self.item = np.ascontiguousarray(item, dtype=np.int32)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        n = self.model.shape[0]
        self.trials = None if trials is None else np.ascontiguousarray(trials, dtype=np.float64)
        if successes is None:
            self.successes = None
        elif successes is y and self.family.uses_counts:
            self.successes = self.y
        else:
            self.successes = np.ascontiguousarray(successes, dtype=np.float64)
        self.weights = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        for name in ("item", "y", "trials", "successes", "weights"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)")
        if self.family.uses_counts and self.trials is None:
            raise ValueError(f"family {self.family.name!r} needs trials")
        self.model_labels = pd.Index(model_labels)
        self.item_labels = pd.Index(item_labels)
        self.benchmarks = None if benchmarks is None else pd.Index(benchmarks)
        self.item_benchmark_codes = (
            None if item_benchmark_codes is None else np.ascontiguousarray(item_benchmark_codes, dtype=np.int32)
        )
        if (self.benchmarks is None) != (self.item_benchmark_codes is None):
            raise ValueError("benchmarks and item_benchmark_codes must be given together")
        self.n_models = len(self.model_labels)
        self.n_items = len(self.item_labels)
        self.nobs = n
        if n and (self.model.min() < 0 or self.model.max() >= self.n_models):
            raise ValueError("model codes out of range")
        if n and (self.item.min() < 0 or self.item.max() >= self.n_items):
            raise ValueError("item codes out of range")
        if np.any(np.diff(self.model) < 0):
            raise ValueError("observations must be sorted by model")
        counts = np.bincount(self.model, minlength=self.n_models)
        self.model_ptr = np.zeros(self.n_models + 1, dtype=np.int64)
        np.cumsum(counts, out=self.model_ptr[1:])
        self.row_index = pd.RangeIndex(n) if row_index is None else row_index
        if len(self.row_index) != n:
            raise ValueError("row_index has the wrong length")
        self.boundary = boundary
        self.eps = float(eps)
        self.n_boundary_adjusted = int(n_boundary_adjusted)
        self.boundary_adjusted = boundary_adjusted
        self.squeeze_n = None if squeeze_n is None else float(squeeze_n)
        default_cols: Dict[str, Optional[Hashable]] = {
            "model": "model", "question": "question", "response": "y", "successes": None,
            "trials": None, "weights": None, "benchmark": None,
        }
        if columns:
            default_cols.update(columns)
        self.columns = default_cols

    # ----------------------------------------------------------------------------------------------
    # constructors
    # ----------------------------------------------------------------------------------------------

    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        model: Hashable = "model",
        question: Hashable = "question",
        response: Optional[Hashable] = "y",
        benchmark: Optional[Hashable] = None,
        family: Union[str, Family] = "beta",
        boundary: str = "error",
        successes: Optional[Hashable] = None,
        trials: Optional[Hashable] = None,
        weights: Optional[Hashable] = None,
        eps: float = 1e-6,
        *,
        models: Optional[Iterable[Hashable]] = None,
        questions: Optional[Iterable[Hashable]] = None,
        squeeze_n: Optional[float] = None,
        family_fixed_by: Optional[str] = None,
    ) -> "ResponseData":
        """Build from a long DataFrame, one row per observed (model, question) cell.

        Parameters
        ----------
        df : pandas.DataFrame, shape (nobs, ...)
            Responses in long format.
        model, question : hashable
            Names of the model and question label columns. A Categorical column keeps its category
            order; unused categories are an error (a model or question with no responses). Labels
            that differ only in type (``15`` in some rows, ``"15"`` in others) are an error too:
            they would be fitted as two models or questions.
        response : hashable or None
            Name of the response column (beta: a value in [0, 1]; bernoulli: 0/1 or bool). Ignored
            when ``successes``/``trials`` are given (then it must be left at its default or None).
        benchmark : hashable, optional
            Name of a column with the benchmark of each question; must be constant within a
            question.
        family : {"beta", "bernoulli", "binomial", "beta_binomial"} or Family
            Response family. Count families need ``successes`` and ``trials``; ``beta`` accepts
            them too and models the rate ``k / n``.
        boundary : {"error", "squeeze", "clip"}
            Policy for beta responses equal to 0 or 1. ``"error"`` raises; ``"squeeze"`` applies
            the Smithson & Verkuilen (2006) transform ``(y * (n - 1) + 0.5) / n`` to every value,
            with ``n`` the number of trials when known, else ``squeeze_n`` (default: the sample
            size, the number of rows of the table, Smithson & Verkuilen's rule, used by
            :func:`irsl_stats.fit` and :func:`irsl_stats.calibrate`); ``"clip"`` clips to
            ``[eps, 1 - eps]``. Ignored by the other families.
        successes, trials : hashable, optional
            Names of the columns with the successes ``k`` and trials ``n`` (integers,
            ``0 <= k <= n``, ``n >= 1``).
        weights : hashable, optional
            Name of a column of non-negative finite observation weights. Every model and every
            question needs a positive total weight (a zero-weight model or question would be
            estimated from no information): drop such rows instead.
        eps : float
            Clipping margin for ``boundary="clip"``.
        models, questions : list-like, optional
            Explicit label sets (and their order). Rows with other labels, and listed labels with
            no responses, are errors.
        squeeze_n : float, optional
            The ``n`` of ``boundary="squeeze"`` for responses without trials, a finite number
            >= 1 (default: the number of rows of ``df``). Scoring passes the calibration's
            (:attr:`ItemBank.squeeze_n <irsl_stats.bank.ItemBank.squeeze_n>`), so that new
            responses are squeezed exactly as the calibration's were, whatever other models the
            table holds. Recorded as the attribute :attr:`squeeze_n`.
        family_fixed_by : str, optional
            Who fixed ``family`` when the caller cannot change it (e.g. ``"the item bank"``): an
            error about beta responses at 0 or 1 then offers only the boundary policies, and says
            that another family needs another calibration, instead of suggesting ``family=``.

        Returns
        -------
        ResponseData

        Raises
        ------
        MissingColumnError
            (a KeyError and a ValueError) when a named column is absent; lists the available ones.
        ValueError
            For invalid input; the message names the column and shows up to 5 offending rows.
        """
        fam = get_family(family)
        _check_boundary_args(boundary, eps)
        squeeze_n = _check_squeeze_n(squeeze_n, "None for the number of rows")
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")

        counts_mode = successes is not None or trials is not None
        if counts_mode:
            if successes is None or trials is None:
                raise ValueError("counts need both successes= and trials= (column names)")
            if response is not None and response != "y":
                raise ValueError("give either response= or successes= and trials=, not both")
            if fam.name == "bernoulli":
                raise ValueError(
                    "family 'bernoulli' takes a 0/1 response=; for successes/trials use "
                    "family='binomial' or 'beta_binomial'"
                )
            response = None
        else:
            if response is None:
                raise ValueError("give response= (a column name) or successes= and trials=")
            if fam.uses_counts:
                raise ValueError(
                    f"family {fam.name!r} models counts: pass successes= and trials= (column names) "
                    f"instead of response="
                )

        roles = {
            "model": model, "question": question, "response": response, "successes": successes,
            "trials": trials, "weights": weights, "benchmark": benchmark,
        }
        used = {r: c for r, c in roles.items() if c is not None}
        if model == question:
            raise ValueError(f"model= and question= name the same column {model!r}")
        missing = [f"{c!r} ({r}=)" for r, c in used.items() if c not in df.columns]
        if missing:
            raise MissingColumnError(
                f"column(s) {', '.join(missing)} not found in the data; available columns: "
                f"{_fmt_labels(df.columns, limit=30)}"
            )
        nobs = len(df)
        if nobs == 0:
            raise ValueError("empty input: the DataFrame has no rows")
        shown = [model, question, benchmark, response, successes, trials, weights]

        # labels --------------------------------------------------------------------------------
        m_codes, m_labels = _encode_labels(
            _get_column(df, model), model, "model", df, shown, models, "models"
        )
        i_codes, i_labels = _encode_labels(
            _get_column(df, question), question, "question", df, shown, questions, "questions"
        )

        # responses -----------------------------------------------------------------------------
        tr: Optional[np.ndarray] = None
        k: Optional[np.ndarray] = None
        if counts_mode:
            k = _to_float(_get_column(df, successes), successes, df, shown)
            tr = _to_float(_get_column(df, trials), trials, df, shown)
            for arr, col in ((k, successes), (tr, trials)):
                bad = ~np.isfinite(arr)
                if bad.any():
                    _raise_rows(col, "have NaN or infinite counts", df, bad, shown)
                bad = arr != np.floor(arr)
                if bad.any():
                    _raise_rows(col, "have non-integer counts", df, bad, shown)
            bad = tr < 1
            if bad.any():
                _raise_rows(trials, "have fewer than 1 trial (need n >= 1)", df, bad, shown)
            bad = k < 0
            if bad.any():
                _raise_rows(successes, "have negative successes (need k >= 0)", df, bad, shown)
            bad = k > tr
            if bad.any():
                _raise_rows(
                    successes, f"have more successes than trials (k > n, column {trials!r})",
                    df, bad, shown,
                )
            y = k if fam.uses_counts else k / tr
        else:
            y = _to_float(_get_column(df, response), response, df, shown)
            bad = ~np.isfinite(y)
            if bad.any():
                _raise_rows(
                    response, "have NaN or infinite responses", df, bad, shown,
                    "Drop the rows of questions a model was not asked; NaN is not a response.",
                )
            if fam.name == "bernoulli":
                bad = (y != 0.0) & (y != 1.0)
                if bad.any():
                    _raise_rows(response, f"are outside the support of family 'bernoulli' ({fam.support})",
                                df, bad, shown)
            else:  # beta
                bad = (y < 0.0) | (y > 1.0)
                if bad.any():
                    _raise_rows(response, f"are outside [0, 1] (family 'beta' needs {fam.support})",
                                df, bad, shown)

        # weights -------------------------------------------------------------------------------
        w: Optional[np.ndarray] = None
        if weights is not None:
            w = _to_float(_get_column(df, weights), weights, df, shown)
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                _raise_rows(weights, "have negative, NaN or infinite weights", df, bad, shown)
            # A model or question whose weights are all 0 has no information but still gets a
            # parameter: JML/MML then estimate it from nothing (huge SEs that leak into the other
            # parameters); all-zero weights would "fit" an empty likelihood.
            if not (w > 0).any():
                raise ValueError(
                    f"column {weights!r}: all {nobs} weights are 0, so there is nothing to fit; "
                    f"give positive weights"
                )
            for codes, labels, role, col in ((m_codes, m_labels, "model", model),
                                             (i_codes, i_labels, "question", question)):
                total = np.bincount(codes, weights=w, minlength=len(labels))
                empty = np.flatnonzero(total <= 0)
                if empty.size:
                    rows = np.isin(codes, empty)
                    _raise_rows(
                        weights,
                        f"belong to {empty.size} {role}(s) whose weights are all 0 "
                        f"({_fmt_labels(labels[empty], limit=_MAX_SHOW)}), which would be estimated "
                        f"from no information",
                        df, rows, shown,
                        f"Drop the rows of these {role}s (df[~df[{col!r}].isin([...])], then "
                        f"remove unused categories if the column is categorical) or give them "
                        f"positive weights.",
                    )

        # benchmark -----------------------------------------------------------------------------
        b_labels: Optional[pd.Index] = None
        item_b: Optional[np.ndarray] = None
        if benchmark is not None:
            bcol = _get_column(df, benchmark)
            na = bcol.isna().to_numpy()
            if na.any():
                _raise_rows(benchmark, "have a missing (NaN) benchmark label", df, na, shown)
            try:
                b_codes, b_uniques = pd.factorize(bcol, sort=True)
            except TypeError:
                b_codes, b_uniques = pd.factorize(bcol, sort=False)
            b_labels = _plain_index(b_uniques).rename(benchmark)
            _reject_type_twins(b_labels, benchmark, "benchmark")
            item_b = np.empty(len(i_labels), dtype=np.int32)
            # any one observed benchmark per question (order of repeated assignment is irrelevant:
            # a question with two benchmarks mismatches for at least one of its rows)
            item_b[i_codes] = b_codes
            bad = b_codes != item_b[i_codes]
            if bad.any():
                bad_items = np.unique(i_codes[bad])
                rows = np.isin(i_codes, bad_items)
                _raise_rows(
                    benchmark,
                    f"belong to {len(bad_items)} question(s) whose benchmark varies "
                    f"({_fmt_labels(i_labels[bad_items], limit=5)})",
                    df, rows, [question, benchmark, model],
                    "Each question must belong to exactly one benchmark.",
                )

        # sort by (model, question) and find duplicated pairs ------------------------------------
        n_items_total = np.int64(len(i_labels))
        key = m_codes.astype(np.int64) * n_items_total + i_codes
        perm: Optional[np.ndarray] = None
        if nobs > 1 and np.any(key[1:] < key[:-1]):
            perm = _stable_argsort_key(key, int(len(m_labels)) * int(n_items_total) - 1)
            key = key[perm]
        dup = key[1:] == key[:-1]
        if dup.any():
            first = np.flatnonzero(dup)
            in_pair = np.zeros(nobs, dtype=bool)
            in_pair[first] = True
            in_pair[first + 1] = True
            sorted_pos = np.flatnonzero(in_pair)
            positions = sorted_pos if perm is None else perm[sorted_pos]
            n_pairs = len(np.unique(key[first]))
            raise ValueError(
                f"columns {model!r}, {question!r}: {n_pairs} (model, question) pair(s) appear more "
                f"than once ({int(in_pair.sum())} rows; showing {min(_MAX_SHOW, len(positions))}; "
                f"the index is the row label of the input):\n{_show_rows(df, positions, shown)}\n"
                f"Aggregate repeated evaluations first (e.g. mean rate, or summed successes/trials)."
            )
        if perm is not None:  # codes from the sorted key: sequential, cheaper than two gathers
            m_codes = (key // n_items_total).astype(np.int32)
            i_codes = (key - m_codes.astype(np.int64) * n_items_total).astype(np.int32)
        del key, dup

        # beta boundary policy (on the input order, so errors show input rows) -------------------
        n_adj = 0
        adj_mask: Optional[np.ndarray] = None
        # the n of the squeeze without trials, recorded whatever the policy: a bank calibrated
        # with "error" or "clip" and scored with "squeeze" still squeezes with the calibration's
        if squeeze_n is None:
            squeeze_n = float(nobs)
        if fam.name == "beta":
            y, adj_mask, n_adj = _apply_boundary(
                y, tr if tr is not None else squeeze_n, boundary, eps, df,
                response if response is not None else successes, shown, counts_mode, trials_column=trials,
                family_fixed_by=family_fixed_by,
            )

        # gather in sorted order ----------------------------------------------------------------
        def take(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
            if a is None:
                return None
            if perm is None:  # views of the caller's DataFrame are copied; our own arrays are not
                return a if a.flags.owndata else a.copy()
            return a[perm]

        y_s = take(y)
        k_s = y_s if (counts_mode and fam.uses_counts) else take(k)
        if perm is None:
            row_index = df.index
        elif isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1:
            row_index = pd.Index(perm, name=df.index.name)
        else:
            row_index = df.index.take(perm)
        columns = {
            "model": model, "question": question,
            "response": response if response is not None else ("y" if counts_mode and not fam.uses_counts else None),
            "successes": successes, "trials": trials, "weights": weights, "benchmark": benchmark,
        }
        if columns["response"] is not None and columns["response"] in (successes, trials, model, question, weights, benchmark):
            columns["response"] = "rate"
        return cls(
            m_codes, i_codes, y_s,
            family=fam, model_labels=m_labels, item_labels=i_labels,
            trials=take(tr), successes=k_s, weights=take(w),
            benchmarks=b_labels, item_benchmark_codes=item_b, row_index=row_index,
            boundary=boundary, n_boundary_adjusted=n_adj, boundary_adjusted=take(adj_mask),
            eps=eps, columns=columns, squeeze_n=squeeze_n,
        )

    @classmethod
    def from_matrix(
        cls,
        wide: pd.DataFrame,
        family: Union[str, Family] = "beta",
        boundary: str = "error",
        benchmark: Optional[Union[Mapping, pd.Series]] = None,
        eps: float = 1e-6,
        *,
        response: str = "y",
    ) -> "ResponseData":
        """Build from a wide models x questions matrix; NaN means "not asked".

        Parameters
        ----------
        wide : pandas.DataFrame, shape (n_models, n_items)
            Index = model labels, columns = question labels, values = responses (beta or
            bernoulli); NaN cells are dropped. Infinite values are errors. Label order is kept.
        family : {"beta", "bernoulli"} or Family
            Count families need successes and trials: use :meth:`from_long`.
        boundary : {"error", "squeeze", "clip"}
            Beta boundary policy, as in :meth:`from_long` (``n`` = number of observed cells).
        benchmark : mapping or pandas.Series, optional
            Benchmark of each question (question label -> benchmark name); every question needs one.
        eps : float
            Clipping margin for ``boundary="clip"``.
        response : str
            Name recorded for the response column: the column of ``to_long()``, and the column
            that a fit on this data looks for in the ``using=`` table of a forecast. The default
            ``"y"`` is the name :func:`irsl_stats.io.to_long` writes and the default
            ``response=`` of :func:`irsl_stats.fit` and :meth:`from_long`, so a fit on
            ``from_matrix(wide)`` forecasts from ``to_long(wide)`` as it is. (It was
            ``"response"`` before: pass ``response="response"`` to keep that name.)

        Returns
        -------
        ResponseData
            ``row_index`` is a MultiIndex of (model, question); ``to_long()`` has the columns
            ``wide.index.name`` (or ``"model"``), ``wide.columns.name`` (or ``"question"``) and
            ``response``. :func:`irsl_stats.io.to_long` names the first two ``"model"`` and
            ``"question"`` whatever the matrix calls them: for a matrix with other axis names,
            pass them to it (``to_long(wide, model=wide.index.name, ...)``).
        """
        fam = get_family(family)
        if fam.uses_counts:
            raise ValueError(
                f"from_matrix takes one response matrix; family {fam.name!r} needs successes and "
                f"trials: use ResponseData.from_long(..., successes=, trials=)"
            )
        if isinstance(wide, np.ndarray):
            wide = pd.DataFrame(wide)
        if not isinstance(wide, pd.DataFrame):
            raise TypeError(f"wide must be a pandas DataFrame, got {type(wide).__name__}")
        _check_boundary_args(boundary, eps)
        m_name = wide.index.name if wide.index.name is not None else "model"
        q_name = wide.columns.name if wide.columns.name is not None else "question"
        if m_name == q_name or response in (m_name, q_name):
            m_name, q_name = "model", "question"
        if response in (m_name, q_name):
            raise ValueError(f"response={response!r} is also the name of the model or question column "
                             f"({m_name!r}, {q_name!r}); choose another name")
        idx, cols, values = wide_matrix_values(wide)
        inf = np.isinf(values)
        if inf.any():
            r, c = np.nonzero(inf)
            cells = pd.DataFrame({m_name: idx.take(r[:_MAX_SHOW]), q_name: cols.take(c[:_MAX_SHOW]),
                                  response: values[r[:_MAX_SHOW], c[:_MAX_SHOW]]})
            raise ValueError(
                f"matrix: {len(r)} cells are infinite (NaN means 'not asked'; inf is invalid); "
                f"showing {min(len(r), _MAX_SHOW)}:\n{cells.to_string(index=False)}"
            )
        r, c = np.nonzero(~np.isnan(values))  # row-major: already sorted by model, then question
        long = pd.DataFrame(
            {
                m_name: pd.Categorical.from_codes(r, categories=idx),
                q_name: pd.Categorical.from_codes(c, categories=cols),
                response: values[r, c],
            },
            index=pd.MultiIndex.from_arrays([idx.take(r), cols.take(c)]),  # unnamed: no level/column clash
        )
        b_col: Optional[str] = None
        if benchmark is not None:
            bmap = benchmark if isinstance(benchmark, pd.Series) else pd.Series(dict(benchmark))
            b_col = bmap.name if bmap.name is not None and bmap.name not in (m_name, q_name, response) \
                else "benchmark"
            if b_col == response:
                raise ValueError(f"response={response!r} is also the name of the benchmark column; "
                                 f"choose another name")
            long[b_col] = benchmark_per_question(bmap, cols)[c]
        return cls.from_long(long, model=m_name, question=q_name, response=response, benchmark=b_col,
                             family=fam, boundary=boundary, eps=eps)

    # ----------------------------------------------------------------------------------------------
    # helpers
    # ----------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.nobs

    @property
    def carries_weight(self) -> np.ndarray:
        """Rows with a positive weight, the ones in the likelihood (bool, shape (nobs,))."""
        return np.ones(self.nobs, bool) if self.weights is None else np.asarray(self.weights) > 0

    def median_trials(self) -> Optional[pd.Series]:
        """Each question's median number of trials over its weighted rows, a whole number.

        What a bank records as a question's typical trials (the information of a count family
        and the trials of an observed pass rate need one ``n``). The median of an even number of
        counts can fall between two (10 and 11 -> 10.5): it is rounded half up.

        Returns
        -------
        Series or None
            Indexed by ``item_labels``, floats (NaN for a question without weighted rows); None
            when the responses have no trials.
        """
        if self.trials is None:
            return None
        used = self.carries_weight
        med = pd.Series(np.asarray(self.trials, float)[used]).groupby(np.asarray(self.item)[used]).median()
        out = np.full(self.n_items, np.nan)
        out[med.index.to_numpy(int)] = np.floor(med.to_numpy() + 0.5)
        return pd.Series(out, index=self.item_labels, name="trials")

    @property
    def density(self) -> float:
        """Share of the models x questions cells that are observed."""
        return self.nobs / float(self.n_models * self.n_items)

    @property
    def item_benchmark(self) -> Optional[pd.Series]:
        """Benchmark name of each question (indexed by ``item_labels``), or None."""
        if self.benchmarks is None or self.item_benchmark_codes is None:
            return None
        return pd.Series(self.benchmarks.take(self.item_benchmark_codes), index=self.item_labels,
                         name=self.columns.get("benchmark") or "benchmark")

    def observed_rate(self) -> np.ndarray:
        """Observed rate per observation, shape (nobs,): the response, or ``k / n`` for counts.

        In the sorted (kernel) order; for beta after the boundary policy.

        Returns
        -------
        ndarray of float64, shape (nobs,)
            A copy of ``y`` (beta, bernoulli) or ``y / trials`` (count families).
        """
        if self.family.uses_counts:
            assert self.trials is not None
            return self.y / self.trials
        return self.y.copy()

    def per_model_counts(self) -> pd.Series:
        """Number of observations per model, shape (n_models,), indexed by ``model_labels``.

        Returns
        -------
        Series of int, shape (n_models,)
            Named ``"n"``, indexed by ``model_labels``.
        """
        return pd.Series(np.diff(self.model_ptr), index=self.model_labels, name="n")

    def per_item_counts(self) -> pd.Series:
        """Number of observations per question, shape (n_items,), indexed by ``item_labels``.

        Returns
        -------
        Series of int64, shape (n_items,)
            Named ``"n"``, indexed by ``item_labels``.
        """
        return pd.Series(np.bincount(self.item, minlength=self.n_items).astype(np.int64),
                         index=self.item_labels, name="n")

    def to_long(self) -> pd.DataFrame:
        """Observations as a long DataFrame, shape (nobs, ...), indexed by ``row_index``.

        Columns (named as in the input): model, question, benchmark (if any), then the response
        (for beta after the boundary policy) or successes and trials (for data given as counts;
        beta built from counts also has the modelled rate), then weights (if any).

        Returns
        -------
        DataFrame, shape (nobs, n_columns)
            One row per observation in the sorted (kernel) order, indexed by ``row_index``.
        """
        cols = self.columns
        out: Dict[Hashable, Any] = {
            cols["model"]: self.model_labels.take(self.model),
            cols["question"]: self.item_labels.take(self.item),
        }
        if self.benchmarks is not None and self.item_benchmark_codes is not None:
            out[cols["benchmark"]] = self.benchmarks.take(self.item_benchmark_codes[self.item])
        if self.successes is not None:
            out[cols["successes"]] = self.successes
            out[cols["trials"]] = self.trials
            if not self.family.uses_counts:
                out[cols["response"]] = self.y
        elif self.family.uses_counts:  # built directly from arrays
            out[cols["successes"] or "successes"] = self.y
            out[cols["trials"] or "trials"] = self.trials
        else:
            out[cols["response"]] = self.y
        if self.weights is not None:
            out[cols["weights"]] = self.weights
        return pd.DataFrame({key: np.asarray(val) for key, val in out.items()}, index=self.row_index)

    def subset(
        self,
        models: Optional[Iterable[Hashable]] = None,
        items: Optional[Iterable[Hashable]] = None,
    ) -> "ResponseData":
        """Observations of some models and/or questions, re-indexed.

        Parameters
        ----------
        models, items : list-like of labels, optional
            Labels to keep (``None`` = all). Unknown labels raise KeyError. The original label
            order is kept (not the order of the argument).

        Returns
        -------
        ResponseData
            New codes ``0..M'-1`` and ``0..N'-1``; models or questions left without any response
            are dropped; benchmarks without questions are dropped.
        """
        keep_m = self._label_mask(self.model_labels, models, "models")
        keep_i = self._label_mask(self.item_labels, items, "items")
        mask = keep_m[self.model] & keep_i[self.item]
        if not mask.any():
            raise ValueError("subset is empty: no observation has both a selected model and a selected question")
        model = self.model[mask]
        item = self.item[mask]
        used_m = np.bincount(model, minlength=self.n_models) > 0
        used_i = np.bincount(item, minlength=self.n_items) > 0
        new_m = (np.cumsum(used_m) - 1).astype(np.int32)
        new_i = (np.cumsum(used_i) - 1).astype(np.int32)

        def pick(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
            return None if a is None else a[mask]

        benchmarks, item_b = self.benchmarks, self.item_benchmark_codes
        if benchmarks is not None and item_b is not None:
            kept = item_b[used_i]
            used_b = np.bincount(kept, minlength=len(benchmarks)) > 0
            item_b = ((np.cumsum(used_b) - 1)[kept]).astype(np.int32)
            benchmarks = benchmarks[used_b]
        y = self.y[mask]
        successes = y if (self.successes is self.y) else pick(self.successes)
        adj = pick(self.boundary_adjusted)
        n_adj = int(adj.sum()) if adj is not None else 0
        return type(self)(
            new_m[model], new_i[item], y,
            family=self.family, model_labels=self.model_labels[used_m], item_labels=self.item_labels[used_i],
            trials=pick(self.trials), successes=successes, weights=pick(self.weights),
            benchmarks=benchmarks, item_benchmark_codes=item_b, row_index=self.row_index[mask],
            boundary=self.boundary, n_boundary_adjusted=n_adj,
            boundary_adjusted=adj if n_adj else None, eps=self.eps, columns=dict(self.columns),
            squeeze_n=self.squeeze_n,
        )

    @staticmethod
    def _label_mask(labels: pd.Index, chosen: Optional[Iterable[Hashable]], what: str) -> np.ndarray:
        if chosen is None:
            return np.ones(len(labels), dtype=bool)
        chosen = pd.Index(_as_label_list(chosen, what))
        pos = labels.get_indexer_for(chosen)
        if (pos < 0).any():
            raise KeyError(f"{what}: labels not in the data: {_fmt_labels(chosen[pos < 0])}")
        mask = np.zeros(len(labels), dtype=bool)
        mask[pos] = True
        return mask

    def _boundary_text(self) -> str:
        if self.family.name != "beta":
            return "n/a"
        if self.boundary == "error":
            return "'error' (no values at 0 or 1)"
        if self.boundary == "squeeze":
            return (f"'squeeze' (Smithson & Verkuilen, applied to all values; "
                    f"{self.n_boundary_adjusted} at 0 or 1 moved inside)")
        return f"'clip' to [{self.eps:g}, {1 - self.eps:g}] ({self.n_boundary_adjusted} values changed)"

    def describe(self) -> str:
        """Short multi-line text summary of the data.

        Returns
        -------
        str
            Sizes, density, family, benchmarks, responses per model and per question, weights and
            (for beta) the boundary policy, one per line.
        """
        pm = np.diff(self.model_ptr)
        pi = np.bincount(self.item, minlength=self.n_items)
        if self.benchmarks is None:
            bench = "none"
        else:
            bench = f"{len(self.benchmarks)} ({_fmt_labels(self.benchmarks, limit=6)})"
        lines = [
            f"ResponseData: {self.n_models} models x {self.n_items} questions, "
            f"{self.nobs:,} observations (density {100 * self.density:.1f}%)",
            f"family: {self.family.name} ({self.family.support})",
            f"benchmarks: {bench}",
            f"responses per model: min {pm.min()}, median {np.median(pm):g}, max {pm.max()}",
            f"responses per question: min {pi.min()}, median {np.median(pi):g}, max {pi.max()}",
            f"weights: {'yes' if self.weights is not None else 'no'}",
        ]
        if self.family.name == "beta":
            lines.append(f"boundary: {self._boundary_text()}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        parts = [
            f"family={self.family.name!r}", f"models={self.n_models}", f"questions={self.n_items}",
            f"nobs={self.nobs}", f"density={self.density:.3f}",
        ]
        if self.benchmarks is not None:
            parts.append(f"benchmarks={len(self.benchmarks)}")
        if self.weights is not None:
            parts.append("weighted")
        if self.family.name == "beta":
            parts.append(f"boundary={self.boundary!r}")
            parts.append(f"n_boundary_adjusted={self.n_boundary_adjusted}")
        return f"ResponseData({', '.join(parts)})"


def _stable_argsort_key(key: np.ndarray, max_key: int) -> np.ndarray:
    """Stable argsort of non-negative int64 keys <= ``max_key``, shape (n,) -> intp (n,).

    LSD radix sort over 16-bit digits (numpy's stable sort of uint16 is a radix sort), about
    twice as fast as a merge sort of int64 keys for tens of millions of rows.
    """
    perm: Optional[np.ndarray] = None
    shift = 0
    while True:
        k = key if perm is None else key[perm]
        digit = ((k >> shift) & 0xFFFF).astype(np.uint16)
        p = np.argsort(digit, kind="stable")
        perm = p if perm is None else perm[p]
        shift += 16
        if (max_key >> shift) == 0:
            return perm


def _apply_boundary(
    y: np.ndarray,
    trials: Optional[Union[np.ndarray, float]],
    policy: str,
    eps: float,
    frame: pd.DataFrame,
    column: Hashable,
    shown: Sequence[Hashable],
    counts_mode: bool,
    trials_column: Optional[Hashable] = None,
    family_fixed_by: Optional[str] = None,
) -> Tuple[np.ndarray, Optional[np.ndarray], int]:
    """Apply the beta boundary policy to rates in [0, 1].

    ``trials`` is the ``n`` of the squeeze per row, or one ``n`` for every row (None: the number
    of rows); ``column`` names
    the response, or with counts (``counts_mode``) the successes and ``trials_column`` the
    trials of the rate ``successes / trials``. ``family_fixed_by`` (e.g. ``"the item bank"``):
    the caller cannot change the family, so the error offers the boundary policies only.

    Returns the adjusted responses (a new array unless nothing changes), the mask of the values
    counted as adjusted (None if none) and their number.
    """
    at_bound = (y <= 0.0) | (y >= 1.0)
    n_bound = int(at_bound.sum())
    if policy == "error":
        if n_bound:
            count_hint = (
                "family='binomial' or 'beta_binomial' on the successes/trials" if counts_mode
                else "a count family (family='binomial' or 'beta_binomial' with successes=, trials=) "
                "when the number of trials is known"
            )
            options = (
                "boundary='squeeze' (Smithson & Verkuilen 2006: (y*(n-1) + 0.5)/n), "
                f"boundary='clip' (to [eps, 1-eps], eps={eps:g}), or {count_hint}."
            )
            if family_fixed_by is not None:
                # family= is not an argument there (bank.score): offering it sent users to a
                # TypeError; another family means another calibration
                other = ("family='bernoulli'" if n_bound == len(y) and not counts_mode
                         else "family='binomial' or 'beta_binomial'")
                options = (
                    "boundary='squeeze' (Smithson & Verkuilen 2006: (y*(n-1) + 0.5)/n) or "
                    f"boundary='clip' (to [eps, 1-eps], eps={eps:g}); the family 'beta' is "
                    f"{family_fixed_by}'s: to model these responses with {other}, calibrate "
                    "with that family."
                )
            if family_fixed_by is not None:
                hint = "Options: " + options
            elif n_bound == len(y) and not counts_mode:
                # every response is 0/1: the data are binary, and squeezing or clipping them into a
                # beta model would be the wrong model, so the binary family comes first
                hint = ("Every response is 0 or 1: these are binary outcomes, use "
                        "family='bernoulli'. Otherwise: " + options)
            else:
                hint = "Options: " + options
            if counts_mode:
                # the successes themselves are counts (e.g. 20 of 20): it is their rate that is at
                # the boundary, and naming the successes column alone pointed at the wrong values
                _raise_rows(
                    column,
                    f"have a rate {column}/{trials_column} exactly 0 or 1 (successes 0, or successes "
                    f"equal to trials), outside the open interval (0, 1) of family 'beta'",
                    frame, at_bound, shown, hint,
                    subject=f"columns {column!r} and {trials_column!r}",
                )
            _raise_rows(
                column, "are exactly 0 or 1, outside the open interval (0, 1) of family 'beta'",
                frame, at_bound, shown, hint,
            )
        return y, None, 0
    if policy == "squeeze":
        n = trials if trials is not None else float(len(y))
        new = (y * (n - 1.0) + 0.5) / n
        mask, count = at_bound, n_bound
    else:  # clip
        new = np.clip(y, eps, 1.0 - eps)
        mask = new != y
        count = int(mask.sum())
    return new, (mask if count else None), count
