"""Item banks: calibrated questions for measuring new models on few questions.

An :class:`ItemBank` holds, per question, the calibrated discrimination ``a``, intercept ``d``,
difficulty ``b = -d/a``, precision ``phi`` and their standard errors, the question's benchmark,
plus the response family, the IRT model, the identification of the ability scale and the fitted
latent regression (the prior for new models). Build one with :meth:`IRSLResults.item_bank
<irsl_stats.results.IRSLResults.item_bank>` or :func:`calibrate`; then

* :meth:`ItemBank.score` measures models never seen in calibration (ML, MAP or EAP);
* :meth:`ItemBank.expected_score` forecasts their score on the full benchmark;
* :meth:`ItemBank.select`, :meth:`ItemBank.information` and :meth:`ItemBank.adaptive` choose which
  questions to ask;
* :meth:`ItemBank.save` / :meth:`ItemBank.load` store it.

File format (version 1)
-----------------------
UTF-8 JSON, one object::

    {"schema": "irsl_stats.ItemBank", "version": 1, "sha256": "<hex>", "payload": {...}}

``sha256`` is the SHA-256 of the canonical serialisation of ``payload``
(``json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
allow_nan=False)``), so a file that was altered but still parses is rejected. Floats are written
with Python's shortest round-trip representation (exact); NaN and infinities, which JSON lacks, are
the strings ``"nan"``, ``"inf"`` and ``"-inf"``. Labels (question ids, benchmarks, model ids) keep
their type — ``str``, ``int``, ``bool`` or ``float`` — and the pandas dtype of their index/column is
recorded (``{"dtype", "values"}``; categorical labels add ``"categories"`` and ``"ordered"``, so
unused categories and their order survive). The payload holds:

``family, irt, identification, precision, created_by``
    Strings (``created_by`` is the irsl_stats version that wrote the file).
``questions``
    ``{"name": index name, "labels": <labels>}``.
``items``
    ``{"a": [...], "a_se": ..., "d", "d_se", "b", "b_se", "phi", "phi_se", "log_phi": floats,
    "n": ints, "trials": floats (optional), "a_d_cov": floats (optional), "benchmark": <labels>
    (optional), "extra": <table> (optional)}``; ``extra`` holds the items' other columns, encoded
    as the prior's covariate table below. Readers of files without the optional keys (written
    before they existed) are unaffected.
``population``
    ``{"mean": float, "sd": float}``: the fitted latent distribution of the calibration models on
    the bank's ability scale (``mean_i x_i'beta``, ``sqrt(var_i x_i'beta + sigma^2)``).
``prior``
    ``null`` or ``{"formula", "column_names", "beta", "sigma", "cov", "covariates", "matrix"}``:
    the latent regression on the bank's scale, the calibration models' covariate table
    (``{"index": <labels>, "columns": [...]}``, one entry per column with its kind and dtype) and
    their design matrix. On load the formula is re-evaluated on the stored covariates, which
    rebuilds the formulaic ``ModelSpec`` (``center()`` means, spline knots, factor levels); the
    result must reproduce the stored design matrix.
``squeeze_n`` (optional)
    ``null`` or a float: the ``n`` with which the calibration squeezed beta responses
    (:attr:`ItemBank.squeeze_n`). A file without it (written before it existed) loads with
    ``None``.

A file that is not JSON (e.g. truncated), has another ``schema``, a newer ``version``, a wrong
checksum or a malformed payload raises :class:`ItemBankFormatError` (a ``ValueError``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
from scipy import special, stats

from ._checks import is_integer
from . import _kernel
from .data import (BOUNDARY_POLICIES, ResponseData, _apply_boundary, _check_squeeze_n,
                   _drop_unused_categories, _fmt_labels, _show_rows)
from .families import get_family
from .formula import LatentDesign, parse_latent_formula
from .results import IRSLResults, IRSLWarning, check_alpha
from .scoring import METHODS, estimate_abilities
from .selection import information_order, item_information, stratified_pick
from .simulate import _entropy

__all__ = ["ItemBank", "ItemBankFormatError", "LatentPrior", "AdaptiveResult", "calibrate",
           "SCHEMA", "FORMAT_VERSION"]

SCHEMA = "irsl_stats.ItemBank"
FORMAT_VERSION = 1
_FLOAT_COLUMNS = ("a", "a_se", "d", "d_se", "b", "b_se", "phi", "phi_se", "log_phi")
_STRATEGIES = ("random", "stratified", "information")
_SE_COLUMNS = ("a_se", "d_se", "b_se", "phi_se")
# numeric columns of the items table the bank reads (validated, stored as float64)
_NUMERIC_COLUMNS = ("a", "a_se", "a_d_cov", "d", "d_se", "b", "b_se", "phi", "phi_se", "log_phi", "n", "trials")
_KNOWN_COLUMNS = ("benchmark",) + _NUMERIC_COLUMNS
#: Standard error (in logits) of a question's logit ``a theta + d``, at the ability where it is
#: smallest, above which ``item_uncertainty=True`` holds the question at its estimate. The
#: information about a logistic question's logit is about its expected number of successes (or
#: failures) in the calibration, so an SE above 10 means fewer than 0.01 of them at the estimate:
#: the data bound the question from one side only and its estimate stops wherever the likelihood
#: flattens (1e5 and more on real data; identified questions stay below ~1.5 even with 20 models)
_UNIDENTIFIED_LOGIT_SE = 10.0


def _float_column(items: pd.DataFrame, col) -> np.ndarray:
    """Column ``col`` of ``items`` as a float64 copy, missing values (NaN, None, pd.NA) as NaN.

    Raises
    ------
    ValueError
        If some values are not numbers, naming the column and those questions.
    """
    s = items[col]
    try:
        return s.to_numpy(dtype=float, na_value=np.nan, copy=True)
    except (TypeError, ValueError):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            numeric = pd.to_numeric(pd.Series(np.asarray(s, dtype=object), index=items.index), errors="coerce")
        except (TypeError, ValueError):
            numeric = pd.Series(np.nan, index=items.index)
    bad = (numeric.isna() & s.notna()).to_numpy()
    raise ValueError(f"column {col!r} of items must be numeric; it is not for the questions "
                     f"{_fmt_labels(items.index[bad], limit=5)} (values {_fmt_labels(s[bad], limit=5)})")


class ItemBankFormatError(ValueError):
    """An item-bank file or text cannot be read.

    Raised by :meth:`ItemBank.load` and :meth:`ItemBank.from_json` for input that is not JSON
    (truncated?), has another schema, a newer format version, a checksum mismatch (corrupted) or a
    malformed payload; the message says which. A subclass of ``ValueError``.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> irsl.ItemBank.from_json('{"schema": "my_format", "version": 1}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    irsl_stats.bank.ItemBankFormatError: the item-bank text is not an irsl_stats item bank (...)
    >>> issubclass(irsl.ItemBankFormatError, ValueError)
    True
    """


# ================================================================================ serialisation
_NONFINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def _enc_float(v: float):
    v = float(v)
    if np.isfinite(v):
        return v
    return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")


def _enc_floats(arr) -> list:
    arr = np.asarray(arr, dtype=float)
    if arr.ndim == 0:
        return _enc_float(arr)
    if arr.ndim > 1:
        return [_enc_floats(row) for row in arr]
    if np.isfinite(arr).all():
        return arr.tolist()
    return [_enc_float(v) for v in arr]


def _dec_float(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ItemBankFormatError(f"malformed payload: expected a number, got {v!r}")
    if isinstance(v, str):
        if v not in _NONFINITE:
            raise ItemBankFormatError(f"malformed payload: expected a number, got {v!r}")
        return _NONFINITE[v]
    return float(v)


def _dec_floats(values, ndim: int = 1) -> np.ndarray:
    if ndim == 0:
        return np.float64(_dec_float(values))
    if not isinstance(values, list):
        raise ItemBankFormatError(f"malformed payload: expected a list of numbers, got {type(values).__name__}")
    if ndim == 1:
        return np.array([_dec_float(v) for v in values], dtype=float)
    rows = [_dec_floats(r, ndim - 1) for r in values]
    return np.array(rows, dtype=float) if rows else np.zeros((0,) * ndim)


def _enc_label(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (float, np.floating)) and np.isfinite(v):
        return float(v)
    raise TypeError(
        f"cannot store the label {v!r} ({type(v).__name__}) in an item-bank file: labels must be "
        "str, int, bool or finite float"
    )


def _enc_labels(values) -> dict:
    dtype = values.dtype if hasattr(values, "dtype") else np.asarray(values).dtype
    out = {"dtype": str(dtype), "values": [_enc_label(v) for v in values]}
    if isinstance(dtype, pd.CategoricalDtype):
        # the dtype string "category" alone would rebuild the categories from the values:
        # unused categories, their order and the ordered flag would be lost
        out["categories"] = _enc_labels(dtype.categories)
        out["ordered"] = bool(dtype.ordered)
    return out


def _dec_labels(obj) -> pd.Index:
    values = obj["values"]
    if not isinstance(values, list) or any(
        not isinstance(v, (str, int, float, bool)) for v in values
    ):
        raise ItemBankFormatError("malformed payload: labels must be a list of str/int/float/bool")
    if "categories" in obj:
        cats = _dec_labels(obj["categories"])
        out = pd.CategoricalIndex(values, categories=cats, ordered=bool(obj.get("ordered", False)))
        if (out.codes < 0).any():
            raise ItemBankFormatError("malformed payload: categorical labels outside their categories")
        return out
    try:
        return pd.Index(values, dtype=obj["dtype"])
    except (TypeError, ValueError):
        return pd.Index(values)


def _enc_frame(frame: pd.DataFrame) -> dict:
    columns = []
    for name in frame.columns:
        col = frame[name]
        entry: Dict[str, Any] = {"name": _enc_label(name), "dtype": str(col.dtype)}
        if isinstance(col.dtype, pd.CategoricalDtype):
            entry.update(kind="category", categories=_enc_labels(col.cat.categories),
                         codes=col.cat.codes.astype(int).tolist(), ordered=bool(col.cat.ordered))
        elif col.dtype.kind == "f":
            entry.update(kind="float", values=_enc_floats(col.to_numpy()))
        elif col.dtype.kind in "iu":
            entry.update(kind="int", values=[int(v) for v in col.to_numpy()])
        elif col.dtype.kind == "b":
            entry.update(kind="bool", values=[bool(v) for v in col.to_numpy()])
        elif col.dtype.kind in "OUT" or pd.api.types.is_string_dtype(col.dtype):
            entry.update(kind="labels", values=_enc_labels(col)["values"])
        else:
            raise TypeError(
                f"cannot store the covariate {name!r} of dtype {col.dtype} in an item-bank file"
            )
        columns.append(entry)
    return {"index": _enc_labels(frame.index), "index_name": _enc_name(frame.index.name),
            "columns": columns}


def _labels_of_column(frame: pd.DataFrame, col) -> dict:
    """``_enc_labels`` of a column of the items, with an error naming the column and questions."""
    try:
        return _enc_labels(frame[col])
    except TypeError as e:
        bad = [q for q, v in zip(frame.index, frame[col]) if not _storable(v)]
        raise TypeError(f"cannot save column {col!r} of the bank's items: {e}; questions "
                        f"{_fmt_labels(bad, limit=5)} (fill in or drop those values)") from None


def _enc_extra(items: pd.DataFrame, extra: List) -> dict:
    """The items' other columns (``extra``) as :func:`_enc_frame` encodes a table; a column it
    cannot store (a missing value in a nullable or label column, a datetime) is an error naming
    it."""
    try:
        return _enc_frame(items[extra].reset_index(drop=True))
    except (TypeError, ValueError) as exc:
        whole = exc
    # the table cannot be stored: find the column, to name it (only on this error path)
    for c in extra:
        try:
            _enc_frame(items[[c]].reset_index(drop=True))
        except (TypeError, ValueError) as e:
            bad = items.index[items[c].isna().to_numpy()]
            where = f"; missing for the questions {_fmt_labels(bad, limit=5)}" if len(bad) else ""
            raise TypeError(f"cannot save column {c!r} of the bank's items (dtype {items[c].dtype}): "
                            f"{e}{where}. Fill in or drop the column before saving") from None
    raise whole


def _storable(v) -> bool:
    try:
        _enc_label(v)
    except TypeError:
        return False
    return True


def _enc_name(name):
    return None if name is None else _enc_label(name)


def _dec_frame(obj) -> pd.DataFrame:
    index = _dec_labels(obj["index"])
    index.name = obj["index_name"]
    data = {}
    for entry in obj["columns"]:
        kind = entry["kind"]
        if kind == "category":
            cats = _dec_labels(entry["categories"])
            data[entry["name"]] = pd.Categorical.from_codes(entry["codes"], cats, ordered=entry["ordered"])
        elif kind == "float":
            data[entry["name"]] = pd.array(_dec_floats(entry["values"]), dtype=entry["dtype"])
        elif kind in ("int", "bool"):
            data[entry["name"]] = pd.array(np.asarray(entry["values"]), dtype=entry["dtype"])
        elif kind == "labels":
            data[entry["name"]] = pd.array(entry["values"], dtype=entry["dtype"])
        else:
            raise ItemBankFormatError(f"malformed payload: unknown column kind {kind!r}")
    frame = pd.DataFrame(data, index=index)
    return frame


def _canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _seal(payload: dict, schema: str, version: int) -> str:
    """The JSON envelope ``{"schema", "version", "sha256", "payload"}`` of a payload."""
    digest = hashlib.sha256(_canonical(payload).encode("ascii")).hexdigest()
    doc = {"schema": schema, "version": version, "sha256": digest, "payload": payload}
    return json.dumps(doc, ensure_ascii=True, allow_nan=False)


def _unseal(text: str, source: str, schema: str, version_max: int) -> dict:
    """The payload of an envelope written by :func:`_seal`, after checking that it is JSON, has
    ``schema``, a version this code reads and an intact checksum (``ItemBankFormatError``
    otherwise, naming ``source``)."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ItemBankFormatError(
            f"{source} is not valid JSON ({e}); the file may be truncated or corrupted"
        ) from None
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ItemBankFormatError(f"{source} is not an irsl_stats item bank (schema {found!r}, expected {schema!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ItemBankFormatError(f"{source} has an invalid format version {version!r}")
    if version > version_max:
        raise ItemBankFormatError(
            f"{source} was written in item-bank format version {version}, newer than this "
            f"irsl_stats reads (version {version_max}); upgrade irsl_stats"
        )
    payload = doc.get("payload")
    digest = doc.get("sha256")
    if not isinstance(payload, dict) or not isinstance(digest, str):
        raise ItemBankFormatError(f"{source} has no payload or checksum")
    try:
        actual = hashlib.sha256(_canonical(payload).encode("ascii")).hexdigest()
    except (ValueError, TypeError) as e:
        raise ItemBankFormatError(f"{source} has a malformed payload: {e}") from None
    if actual != digest:
        raise ItemBankFormatError(
            f"{source} is corrupted: the checksum of its payload does not match the stored "
            f"sha256 ({actual[:12]}... != {digest[:12]}...)"
        )
    return payload


def _write_atomically(path, text: str) -> None:
    """Write to a temporary name and rename: an interrupted save never leaves a truncated file."""
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    try:
        try:
            fh = open(tmp, "w", encoding="utf-8")
        except FileNotFoundError:
            # the temporary name is an implementation detail: report the directory the user gave
            folder = os.path.dirname(os.path.abspath(os.fspath(path)))
            raise FileNotFoundError(
                errno.ENOENT, f"cannot save to {os.fspath(path)!r}: the directory {folder!r} does not exist",
                os.fspath(path)) from None
        with fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _theta_se(theta, se, allow_nan_se: bool = False):
    """``theta`` and ``se`` as float arrays of one shape, ``se`` validated (or None).

    When both are Series, ``se`` is aligned to ``theta``'s index by label: matching them by
    position would silently pair a model with another model's standard error. With
    ``allow_nan_se`` a NaN ``se`` (not available) passes through; infinite or negative ones
    are still errors.
    """
    th = np.asarray(theta, float)
    if th.ndim > 1:
        # a (K, 1) or (K, L) array would be flattened into K * L abilities without a word
        raise ValueError(f"`theta` must be a scalar or 1-D (one ability per model); got shape {th.shape}")
    th = np.atleast_1d(th)
    bad = np.flatnonzero(~np.isfinite(th))
    if bad.size:
        # a NaN ability would come back as a NaN score without a word
        where = (list(theta.index[bad][:5]) if isinstance(theta, pd.Series) else bad[:5].tolist())
        raise ValueError(f"`theta` must be finite; offending entries (labels or positions): {where}, "
                         f"values {th[bad][:5].tolist()}")
    if se is None:
        return th, None
    if isinstance(theta, pd.Series) and isinstance(se, pd.Series):
        if not se.index.is_unique:
            dup = se.index[se.index.duplicated()].unique().tolist()
            raise ValueError(f"`se` has duplicated index labels {dup[:5]}; cannot align it to `theta`")
        missing = theta.index.difference(se.index, sort=False).tolist()
        if missing:
            more = f" ({len(missing)} in all)" if len(missing) > 5 else ""
            raise ValueError(f"`se` has no standard error for the `theta` labels {missing[:5]}{more}; "
                             f"se is aligned to theta by index label")
        se = se.reindex(theta.index)
    s = np.asarray(se, float)
    # a scalar applies to every model; anything else pairs with theta one to one (a length-1
    # array broadcast over several abilities would pair one model's se with all of them)
    if s.ndim and s.shape != th.shape:
        raise ValueError(f"`se` must be a scalar or have the shape of `theta` {th.shape}; "
                         f"got shape {np.shape(se)}")
    s = np.broadcast_to(s, th.shape)
    bad = np.flatnonzero((np.isinf(s) if allow_nan_se else ~np.isfinite(s)) | (s < 0))
    if bad.size:
        where = (list(theta.index[bad][:5]) if isinstance(theta, pd.Series) else bad[:5].tolist())
        rule = "finite and >= 0 (or NaN: not available)" if allow_nan_se else "finite and >= 0"
        raise ValueError(f"`se` must be {rule}; offending entries (labels or positions of "
                         f"theta): {where}, values {s[bad][:5].tolist()}")
    return th, s


def _set_aside_missing_se(s, labels, what: str, column: str):
    """``(se with NaN set to 0, mask of the NaN entries or None)``, warning once with their labels.

    A joint ML fit leaves the standard error of an ability with a singular information NaN: the
    caller forecasts the point there and leaves the interval undefined (NaN ``lower``/``upper``).
    """
    if s is None or not np.isnan(s).any():
        return s, None
    missing = np.isnan(s)
    names = list(np.asarray(labels)[missing])
    warnings.warn(
        f"{len(names)} model(s) have no standard error of their ability (se is NaN), so their "
        f"{what} has no interval: lower and upper are NaN and {column} is the point forecast at "
        f"theta: {_fmt_labels(names)}. The standard error is not available when, e.g., a joint ML "
        f"fit's information about the ability is singular; pass finite se (e.g. from bank.score or "
        f"a method='mml' fit) for intervals",
        IRSLWarning, stacklevel=3,
    )
    return np.where(missing, 0.0, s), missing


def read_bank_text(path) -> str:
    """The text of a bank file, or an :class:`ItemBankFormatError` when it is not UTF-8 text.

    Read as bytes and decoded here: opened as text, a binary file raised a bare
    ``UnicodeDecodeError`` that did not say the file is no bank. Shared by
    :meth:`ItemBank.load` and :meth:`MultidimBank.load <irsl_stats.crossbench.MultidimBank.load>`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ItemBankFormatError(f"{os.fspath(path)!r} is not UTF-8 text; not an item-bank file") from None


def _drawn_curves(t_r: np.ndarray, a_r: np.ndarray, d_r: np.ndarray, lp_r: Optional[np.ndarray],
                  ks: np.ndarray) -> np.ndarray:
    """Expected pass@k curves (R, K) of one model over R joint draws: abilities ``t_r`` (R,),
    questions ``a_r, d_r`` and ``log phi`` ``lp_r`` (R, N; None: binomial plug-in).

    Draws are evaluated in blocks of whole draws holding at most ``passk._MEAN_BLOCK_CELLS``
    cells: one grid call per block instead of one per draw (400 draws of 50 questions and 4
    budgets took 0.2 s per model draw by draw), with bounded memory on a dense grid of budgets.
    """
    from .passk import _MEAN_BLOCK_CELLS, beta_pass_at_k_grid

    n_draws, n_q = a_r.shape
    out = np.empty((n_draws, ks.size))
    step = max(1, int(_MEAN_BLOCK_CELLS // max(1, n_q * ks.size)))
    for lo in range(0, n_draws, step):
        hi = min(n_draws, lo + step)
        mu = np.clip(special.expit(a_r[lo:hi] * t_r[lo:hi, None] + d_r[lo:hi]), 1e-300, 1.0 - 2.0**-53)
        phi = np.inf if lp_r is None else np.exp(lp_r[lo:hi])
        grid = beta_pass_at_k_grid(mu.ravel(), np.broadcast_to(phi, mu.shape).ravel(), ks)
        out[lo:hi] = grid.reshape(hi - lo, n_q, ks.size).mean(axis=1)
    return out


#: p-value below which a point estimate outside its drawn interval is not Monte Carlo noise
_OUTSIDE_P = 1e-3


def _contain_point(point: np.ndarray, sims: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                   alpha: float, axis: int):
    """Drawn interval ``[lower, upper]`` widened to contain ``point``, and where that was not noise.

    ``sims`` are the draws (along ``axis``) whose ``alpha/2, 1-alpha/2`` quantiles gave
    ``lower`` and ``upper``. Returns ``(lower, upper, off)``: ``off`` (bool, ``point``'s
    shape) marks points outside the quantiles beyond Monte Carlo error. A point below
    ``lower`` with ``m`` of the ``R`` draws at or below it is off when
    ``P(Binomial(R, alpha/2) <= m) < _OUTSIDE_P`` (likewise above ``upper``): a point the
    draws put at their ``alpha/2`` quantile or inside would rarely show so few. Then the draws
    are not centred on the estimate (a normal approximation that does not fit), which the
    caller reports; with few draws (``n_draws=1``) an outside point is noise and only widens.
    """
    n = sims.shape[axis]
    p_pt = np.expand_dims(point, axis)
    below = (sims <= p_pt).sum(axis=axis)
    above = (sims >= p_pt).sum(axis=axis)
    off = (((point < lower) & (stats.binom.cdf(below, n, alpha / 2) < _OUTSIDE_P))
           | ((point > upper) & (stats.binom.cdf(above, n, alpha / 2) < _OUTSIDE_P)))
    return np.minimum(lower, point), np.maximum(upper, point), off


def _warn_point_outside(names: Sequence, alpha: float, where: str) -> None:
    """Warn that the drawn intervals of the models ``names`` did not contain their point estimates."""
    warnings.warn(
        f"the point estimate lies outside the {1 - alpha:.0%} interval of the item_uncertainty draws "
        f"for {len(names)} model(s){where}: {_fmt_labels(names, limit=10)}. The draws of the "
        "question parameters are not centred on their estimates (their normal approximation does "
        "not fit: look for questions with a large a_se, d_se or phi_se in bank.items); the "
        "interval was extended to the point estimate. Recalibrate on more models, or drop those "
        "questions (bank.subset), for an interval that rests on the draws",
        IRSLWarning, stacklevel=3,
    )


def _ability_normals(labels, entropy, n_draws: int) -> np.ndarray:
    """Standard normals (K, n_draws) for the ability draws of the models ``labels``, one stream per
    model keyed by its label: drawn from one shared stream, a model's draws (and so its interval)
    would depend on its position in the call and on the other models."""
    return np.stack([
        np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(1, _label_stream_key(v))))
        .standard_normal(n_draws)
        for v in labels
    ]).reshape(len(labels), n_draws)


def _label_stream_key(label) -> int:
    """A 128-bit key of a model label, the same in every call, process and platform.

    It keys the model's own random stream (:meth:`ItemBank.expected_score`), so the key must
    not depend on Python's salted ``hash``: the label is written as canonical JSON and hashed
    with SHA-256. Labels that compare equal get one key (the int 5, ``np.int64(5)`` and the
    float 5.0 all name one model, as pandas looks one up by the other); a label of another
    type (e.g. a timestamp) is keyed by its type and ``str``.
    """

    def canon(v):
        if isinstance(v, (bool, np.bool_)):
            return ["bool", bool(v)]
        if isinstance(v, (int, np.integer)):
            return ["int", int(v)]
        if isinstance(v, (float, np.floating)):
            f = float(v)
            # float.hex is exact (repr could change between versions); NaN and inf have no int
            return ["int", int(f)] if f.is_integer() else ["float", f.hex()]
        if isinstance(v, str):
            return ["str", v]
        if isinstance(v, tuple):
            return ["tuple", [canon(x) for x in v]]
        return [f"{type(v).__module__}.{type(v).__qualname__}", str(v)]

    text = json.dumps(canon(label), ensure_ascii=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode("ascii")).digest()[:16], "little")


# ================================================================================ prior
@dataclass
class LatentPrior:
    """The calibration fit's latent regression ``theta = x'beta + sigma u`` on the bank's scale.

    Attributes
    ----------
    formula : str
    column_names : list of str, length P
    beta : ndarray, shape (P,)
    sigma : float
    cov : ndarray, shape (P + 1, P + 1)
        Covariance of (beta, sigma) (zero rows for coefficients the identification fixes).
    covariates : DataFrame
        The calibration models' covariates (index = model labels).
    design : LatentDesign
        Its ``transform`` applies the formula (with the calibration transforms and levels) to
        new models.
    """

    formula: str
    column_names: List[str]
    beta: np.ndarray
    sigma: float
    cov: np.ndarray
    covariates: pd.DataFrame
    design: LatentDesign

    def mean(self, models: pd.DataFrame) -> np.ndarray:
        """Prior mean ``x'beta`` of new models, shape (K,) for a table of K models."""
        return self.design.transform(models) @ self.beta


def _rebuild_design(formula: str, covariates: pd.DataFrame, column_names, matrix) -> LatentDesign:
    model_col = covariates.index.name if covariates.index.name is not None else "__model__"
    if model_col in covariates.columns:
        model_col = "__model__"
    try:
        design = parse_latent_formula(formula, None, covariates if len(covariates.columns) else None,
                                      model_col, covariates.index)
    except ValueError as e:
        raise ItemBankFormatError(f"cannot rebuild the latent regression {formula!r}: {e}") from e
    if list(design.column_names) != list(column_names) or design.matrix.shape != matrix.shape or not np.allclose(
        design.matrix, matrix, rtol=1e-12, atol=0.0
    ):
        raise ItemBankFormatError(
            f"re-evaluating {formula!r} on the stored covariates does not reproduce the stored design "
            f"(columns {list(design.column_names)} vs {list(column_names)}); the formula library may "
            "have changed"
        )
    return design


# ================================================================================ adaptive result
@dataclass
class AdaptiveResult:
    """Outcome of :meth:`ItemBank.adaptive`.

    Attributes
    ----------
    questions : Index
        The questions asked, in order.
    responses : ndarray
        The answers used (successes for count families; beta responses after the
        ``boundary=`` policy).
    theta, se : float
        Final ability estimate and its standard error.
    history : DataFrame
        One row per step: ``question``, ``information`` (at the estimate before asking; for
        count banks at the trials of the answer),
        ``response``, ``theta``, ``se`` (after the answer).
    """

    questions: pd.Index
    responses: np.ndarray
    theta: float
    se: float
    history: pd.DataFrame = field(repr=False)


# ================================================================================ the bank
def _check_calibration_record(converged, calibration_warnings) -> tuple:
    """``(converged, calibration_warnings)`` of a bank as a bool or None and a tuple of str, or a
    TypeError naming the argument (:class:`ItemBank` and
    :class:`~irsl_stats.crossbench.MultidimBank` alike)."""
    if converged is not None and not isinstance(converged, (bool, np.bool_)):
        raise TypeError(f"converged must be True, False or None (unknown); got {converged!r}")
    # a str is a sequence of str too: one warning passed bare would be kept letter by letter
    bad = isinstance(calibration_warnings, str)
    if not bad:
        try:
            # a tuple first: a generator would be used up by the check and stored empty
            calibration_warnings = tuple(calibration_warnings)
        except TypeError:
            bad = True
    if bad or not all(isinstance(w, str) for w in calibration_warnings):
        raise TypeError("calibration_warnings must be a sequence of str (the calibration fit's warnings); "
                        f"got {calibration_warnings!r}")
    return (None if converged is None else bool(converged)), calibration_warnings


def _calibration_record(payload: dict) -> tuple:
    """``(converged, warnings)`` of a bank file's payload; a ValueError for a malformed record (the
    readers report it as a malformed payload). Files written before the record existed lack it:
    unknown, no warnings. The warnings are returned as stored, so that the constructor refuses a
    str instead of keeping it letter by letter."""
    cal = payload.get("calibration")
    cal = {} if cal is None else cal
    if not isinstance(cal, dict):
        raise ValueError(f"calibration must be an object with converged and warnings; got {cal!r}")
    converged = cal.get("converged")
    if converged is not None and not isinstance(converged, bool):
        raise ValueError(f"calibration.converged is {converged!r}, not true, false or null")
    return converged, cal.get("warnings", ())


def _warn_unconverged_calibration(bank, stacklevel: int) -> None:
    """Warn that a loaded bank's calibration did not converge, quoting the fit's own warning."""
    if bank.converged is not False:
        return
    said = [w for w in bank.calibration_warnings if "converge" in w]
    why = f": {said[0]}" if said else ""
    # the fit's own warning knows the remedy (more iterations, or a question that separates the
    # models); without it the generic one
    how = "as that warning says" if said else "(e.g. with a larger max_iter)"
    warnings.warn(
        f"this item bank comes from a calibration that did not converge{why}. Its question "
        f"parameters may be off the maximum: recalibrate {how} before relying on its scores "
        "and forecasts",
        IRSLWarning, stacklevel=stacklevel,
    )


class ItemBank:
    """Calibrated questions with their uncertainty, and the prior for new models.

    Parameters
    ----------
    items : DataFrame, one row per question (the index holds the question labels)
        Columns ``a`` and ``d`` (required; ``a`` may be left out of a 1PL bank, and ``d`` may
        be replaced by the difficulties ``b``, with ``d = -a b``), ``a_se, a_d_cov, d_se, b,
        b_se, phi, phi_se, log_phi, n, trials, benchmark`` (optional; filled with NaN /
        derived values). Numeric columns may hold pandas nullable dtypes (missing as NaN).
        Other columns (e.g. a topic for ``select(by=...)``) are kept, after the known ones,
        and saved with the bank. Checked, with errors naming the column and the questions:
        at least one question, unique non-missing labels; ``a`` and ``d`` finite; a 1PL bank's
        ``a`` all 1 (and ``a_se`` 0 or NaN); ``b``, when given with ``d``, equal to ``-d/a``;
        for beta families ``phi`` finite and > 0, ``log_phi`` finite, and ``phi =
        exp(log_phi)`` when both are given; standard errors >= 0 (or NaN); ``n`` whole
        numbers >= 0; ``trials`` whole numbers >= 1 (or NaN: unknown, 1 trial).
    family : {"beta", "bernoulli", "binomial", "beta_binomial"}
    irt : {"2pl", "1pl"}
    identification : str
        The convention of the ability scale (``"population"`` or ``"regression"``).
    precision : str
        Description of the precision model of the calibration.
    population : (float, float)
        Mean and standard deviation of the calibration population's ability; the prior of new
        models scored without covariates.
    prior : LatentPrior, optional
        The latent regression; with covariates of new models it gives their prior mean.
    squeeze_n : float, optional
        The ``n`` with which the calibration squeezed beta responses without trials
        (``boundary="squeeze"``: ``(y (n - 1) + 0.5) / n``, ``n`` = the number of rows of the
        calibration table, :attr:`ResponseData.squeeze_n <irsl_stats.ResponseData.squeeze_n>`);
        a finite number >= 1, or None when unknown (a bank built by hand).
    converged : bool, optional
        Whether the calibration's fit converged (None when unknown: a bank built by hand).
        A bank of a fit that did not converge says so in its ``repr`` and warns when loaded.
    calibration_warnings : sequence of str
        The warnings of the calibration's fit (:attr:`IRSLResults.warnings`), kept with the
        bank and saved with it, so that a loaded bank still tells what its fit reported.

    Attributes
    ----------
    items : DataFrame
        Columns ``[benchmark], a, a_se, [a_d_cov], d, d_se, b, b_se, phi, phi_se, log_phi, n,
        [trials]``, then any other columns of the input. ``a_d_cov`` (2PL: the covariance of
        ``a`` and ``d``, as in :attr:`IRSLResults.items`) is used by
        ``expected_score(item_uncertainty=True)``. For 1PL ``a = 1`` and ``a_se = 0``; for
        families without a precision ``phi``, ``phi_se`` and ``log_phi`` are NaN.
    squeeze_n : float or None
        As the parameter; set by :meth:`from_results` / :func:`calibrate` from the fit's data,
        kept by :meth:`subset` and saved with the bank. :meth:`score` and :meth:`adaptive`
        squeeze with it, so that new responses are squeezed exactly as the calibration's were.
    converged : bool or None
        As the parameter; set by :meth:`from_results`, kept by :meth:`subset`, saved.
    calibration_warnings : tuple of str
        As the parameter; set by :meth:`from_results`, kept by :meth:`subset`, saved.

    Examples
    --------
    Calibrate on simulated responses, then measure models on 5 questions per benchmark:

    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, seed=1)
    >>> bank = irsl.calibrate(sim.responses, benchmark="benchmark")
    >>> bank
    <ItemBank beta 2PL: 30 questions, 2 benchmarks, identification='population', prior 'ability ~ 1'>
    >>> asked = bank.select(5)  # 5 per benchmark, spread over the difficulty quantiles
    >>> few = sim.responses[sim.responses["question"].isin(asked)]
    >>> scores = bank.score(few)
    >>> scores.columns.tolist(), scores.shape, int(scores["n"].max())
    (['theta', 'se', 'n'], (40, 3), 10)
    >>> bank.expected_score(scores["theta"]).shape  # forecast of the full benchmark score
    (40,)

    A bank can also be built directly from question parameters:

    >>> import pandas as pd
    >>> items = pd.DataFrame({"a": [1.0, 1.5], "d": [0.5, -1.0], "phi": [10.0, 20.0]},
    ...                      index=["q1", "q2"])
    >>> irsl.ItemBank(items, family="beta")
    <ItemBank beta 2PL: 2 questions, identification='population'>
    """

    def __init__(
        self,
        items: pd.DataFrame,
        *,
        family: str,
        irt: str = "2pl",
        identification: str = "population",
        precision: str = "",
        population=(0.0, 1.0),
        prior: Optional[LatentPrior] = None,
        squeeze_n: Optional[float] = None,
        converged: Optional[bool] = None,
        calibration_warnings: Sequence[str] = (),
    ):
        self.family = get_family(family).name
        if irt not in ("1pl", "2pl"):
            raise ValueError(f"irt must be '1pl' or '2pl'; got {irt!r}")
        self.irt = irt
        self.identification = str(identification)
        self.precision = str(precision)
        try:
            mean, sd = (float(v) for v in population)
        except (TypeError, ValueError):
            raise ValueError(f"population must be a pair (mean, sd) of numbers; got {population!r}") from None
        if not (np.isfinite(mean) and np.isfinite(sd) and sd > 0):
            raise ValueError(f"population must be a finite mean and a positive sd; got {population!r}")
        self.population = (mean, sd)
        if prior is not None and not isinstance(prior, LatentPrior):
            raise TypeError(f"prior must be a LatentPrior (e.g. another bank's .prior) or None; got "
                            f"{type(prior).__name__}")
        self.prior = prior
        self.squeeze_n = _check_squeeze_n(squeeze_n, "None when unknown (the calibration's n)")
        self.converged, self.calibration_warnings = _check_calibration_record(converged, calibration_warnings)
        self.items = self._canonical_items(items)

    def _canonical_items(self, items: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(items, pd.DataFrame):
            raise TypeError(f"items must be a DataFrame (one row per question); got {type(items).__name__}")
        if len(items) == 0:
            raise ValueError(f"items has no rows (columns {list(items.columns)}): a bank needs at least "
                             "one question")
        if items.columns.has_duplicates:
            raise ValueError(f"items has duplicated columns "
                             f"{_fmt_labels(items.columns[items.columns.duplicated()].unique())}")
        missing_labels = np.flatnonzero(pd.isna(items.index.to_numpy()))
        if missing_labels.size:
            # a missing label can be neither scored (responses name their question) nor saved
            raise ValueError(f"items has missing question labels (NaN/None in its index) at rows "
                             f"{missing_labels[:10].tolist()}; every question needs a label")
        if items.index.has_duplicates:
            raise ValueError(f"duplicated question labels: {list(items.index[items.index.duplicated()][:10])}")
        labels = items.index
        n = len(items)
        fam = get_family(self.family)
        given = {c: _float_column(items, c) for c in _NUMERIC_COLUMNS if c in items.columns}

        def fail(col: str, bad: np.ndarray, what: str) -> None:
            if bad.any():
                raise ValueError(f"column {col!r} of items {what} for the questions "
                                 f"{_fmt_labels(labels[bad], limit=5)} (values {given[col][bad][:5].tolist()})")

        out = pd.DataFrame(index=labels.copy())
        if "benchmark" in items.columns:
            out["benchmark"] = items["benchmark"].to_numpy(copy=True)
            out["benchmark"] = out["benchmark"].astype(items["benchmark"].dtype)
        nan = np.full(n, np.nan)
        # ---- discrimination: a 1PL bank fixes every a at 1; another value would silently make it 2PL
        if "a" in given:
            a = given["a"]
            fail("a", ~np.isfinite(a), "is not finite")
            if self.irt == "1pl":
                fail("a", a != 1.0, "is not 1 (a 1PL bank fixes every discrimination at 1; pass "
                     "irt='2pl' to use them)")
        elif self.irt == "1pl":
            a = np.ones(n)
        else:
            raise ValueError("items needs an 'a' column (the discriminations) for a 2PL bank")
        if "a_se" in given:
            a_se = given["a_se"]
            if self.irt == "1pl":
                fail("a_se", np.isfinite(a_se) & (a_se != 0.0), "is not 0 (a 1PL bank fixes a = 1 exactly)")
                a_se = np.zeros(n)
        else:
            a_se = np.zeros(n) if self.irt == "1pl" else nan.copy()
        # ---- intercept, or the difficulty b of the (a, b) parameterisation: d = -a b
        if "d" in given:
            d = given["d"]
            fail("d", ~np.isfinite(d), "is not finite")
        elif "b" in given:
            fail("b", ~np.isfinite(given["b"]), "is not finite (d = -a b needs every b)")
            d = -a * given["b"]
        else:
            raise ValueError("items needs a 'd' column (the intercepts), or a 'b' column (the "
                             "difficulties, d = -a b)")
        with np.errstate(divide="ignore", invalid="ignore"):
            b = -d / a  # a = 0: an uninformative question, b = +-inf (NaN when d = 0 too)
        if "b" in given:
            # select(strategy="stratified") ranks by b while scoring uses (a, d): they must agree
            same = np.isclose(given["b"], b, rtol=1e-6, atol=1e-9) | (np.isnan(b) & np.isnan(given["b"]))
            fail("b", ~same, "is not the difficulty -d/a of its 'a' and 'd' (drop the column to derive it)")
            b = given["b"]
        out["a"] = a
        out["a_se"] = a_se
        if self.irt == "2pl" and "a_d_cov" in given:
            out["a_d_cov"] = given["a_d_cov"]
        out["d"] = d
        out["d_se"] = given.get("d_se", nan.copy())
        out["b"] = b
        out["b_se"] = given.get("b_se", nan.copy())
        # ---- precision
        if fam.has_precision:
            if "phi" in given:
                phi = given["phi"]
                fail("phi", ~(np.isfinite(phi) & (phi > 0)), "is not a finite positive precision")
            if "log_phi" in given:
                lp = given["log_phi"]
                fail("log_phi", ~np.isfinite(lp), "is not finite")
                with np.errstate(over="ignore"):
                    phi_lp = np.exp(lp)
                fail("log_phi", ~np.isfinite(phi_lp), "is too large (exp(log_phi) overflows)")
                if "phi" in given:
                    # scoring uses log_phi and pass@k forecasts use phi: they must agree
                    fail("phi", ~np.isclose(phi, phi_lp, rtol=1e-6, atol=0.0),
                         "is not exp(log_phi) (give one of the two columns)")
                else:
                    phi = phi_lp
            elif "phi" in given:
                lp = np.log(phi)
            else:
                raise ValueError(f"items needs 'phi' or 'log_phi' for family {self.family!r}")
            out["phi"] = phi
            out["phi_se"] = given.get("phi_se", nan.copy())
            out["log_phi"] = lp
        else:
            out["phi"] = nan.copy()
            out["phi_se"] = nan.copy()
            out["log_phi"] = nan.copy()
        for col in _SE_COLUMNS:
            if col in given:
                fail(col, given[col] < 0, "is negative (a standard error is >= 0; NaN when unknown)")
        # ---- counts: whole numbers (a fractional n would be truncated, NaN cast to garbage)
        if "n" in given:
            v = given["n"]
            fail("n", ~(np.isfinite(v) & (v >= 0) & (v == np.floor(v))),
                 "is not a whole number >= 0 (the calibration responses per question; drop the column "
                 "if unknown)")
            out["n"] = v.astype(np.int64)
        else:
            out["n"] = np.zeros(n, np.int64)
        if "trials" in given:
            v = given["trials"]
            # the beta-binomial information sums over k = 0..n: n must be whole; NaN means unknown (1)
            fail("trials", ~(np.isnan(v) | (np.isfinite(v) & (v >= 1) & (v == np.floor(v)))),
                 "is not a whole number >= 1 of trials (NaN when unknown)")
            out["trials"] = v
        # ---- other columns (e.g. a topic for select(by=...)) are kept as they are
        for col in items.columns:
            if col not in _KNOWN_COLUMNS:
                out[col] = items[col].array.copy()
        return out

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_results(cls, res, trials=None) -> "ItemBank":
        """Bank of the questions of a fit (see :meth:`IRSLResults.item_bank`).

        Parameters
        ----------
        res : IRSLResults
        trials : float or Series indexed by question, optional
            Typical number of trials per question (count families), used by
            :meth:`information`. Whole numbers >= 1 (NaN: unknown); a Series must have every
            question of the fit. Default: each question's median in the fit's data
            (:meth:`ResponseData.median_trials <irsl_stats.ResponseData.median_trials>`).

        Returns
        -------
        ItemBank
            The fit's questions with its family, IRT model, identification and latent
            regression (the prior for new models), with the standard errors of the question
            parameters given the ability scale (those of :attr:`IRSLResults.items` add the
            scale's own uncertainty, which cancels for abilities scored on this bank);
            :attr:`population` is the fitted latent
            distribution of the calibration models; :attr:`squeeze_n` is the ``n`` of the
            squeeze of the fit's data (None when the fit does not carry its data).
        """
        fi = res.fit_info
        items = res.items.copy()
        # the fit's items carry the uncertainty of the ability scale; abilities scored on this
        # bank share that scale, so the bank's standard errors are those given the scale
        given_scale = getattr(res, "_items_given_scale", None)
        if given_scale is not None:
            items[given_scale.columns] = given_scale
        if fi.irt == "1pl":
            items["a"] = 1.0
            items["a_se"] = 0.0
        if get_family(fi.family).has_precision:
            items["log_phi"] = np.log(items["phi"].to_numpy(float))
        rd = getattr(res, "_response_data", None)
        if trials is None and rd is not None and get_family(fi.family).uses_counts:
            trials = rd.median_trials()
        if trials is not None:
            if isinstance(trials, pd.Series):
                # labels the Series lacks would silently become NaN (information at 1 trial)
                missing = items.index.difference(trials.index, sort=False)
                if len(missing):
                    raise ValueError(f"`trials` has no value for the questions {_fmt_labels(missing)}; a "
                                     f"Series of trials is aligned to the fit's questions by label")
                items["trials"] = trials.reindex(items.index).to_numpy(float)
            else:
                items["trials"] = float(trials)
        lr = res.latent_regression
        design: LatentDesign = lr["design"]
        fitted = design.matrix @ np.asarray(lr["beta"], float)
        sigma = float(lr["sigma"])
        population = (float(fitted.mean()), float(np.sqrt(fitted.var() + sigma**2)))
        prior = LatentPrior(
            formula=lr["formula"], column_names=list(lr["column_names"]),
            beta=np.asarray(lr["beta"], float).copy(), sigma=sigma,
            cov=np.asarray(lr["cov"], float).copy(), covariates=lr["covariates"].copy(), design=design,
        )
        # the fit's data squeezed (or would have squeezed) with this n: scoring must do the same
        squeeze_n = getattr(rd, "squeeze_n", None)
        return cls(items, family=fi.family, irt=fi.irt, identification=fi.identification,
                   precision=fi.precision, population=population, prior=prior, squeeze_n=squeeze_n,
                   converged=fi.converged, calibration_warnings=list(res.warnings))

    # ------------------------------------------------------------------ basic surface
    @property
    def questions(self) -> pd.Index:
        """Question labels, shape (N,)."""
        return self.items.index

    @property
    def benchmarks(self) -> Optional[pd.Index]:
        """Benchmark names (order of first appearance), or None."""
        if "benchmark" not in self.items.columns:
            return None
        return pd.Index(pd.unique(self.items["benchmark"]))

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        nb = "" if self.benchmarks is None else f", {len(self.benchmarks)} benchmarks"
        pr = "" if self.prior is None else f", prior {self.prior.formula!r}"
        nc = ", calibration NOT converged" if self.converged is False else ""
        return (f"<ItemBank {self.family} {self.irt.upper()}: {len(self)} questions{nb}, "
                f"identification={self.identification!r}{pr}{nc}>")

    def plot_items(self, **kw):
        """Item characteristic or information curves of the bank's questions.

        Parameters
        ----------
        **kw
            Passed on to :func:`irsl_stats.plots.plot_items` (``questions``, ``what``,
            ``theta``, ``max_items``, ``ax``, ``benchmark``); see there.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> fig = bank.plot_items(what="information", max_items=10)  # doctest: +SKIP
        """
        from .plots import plot_items

        return plot_items(self, **kw)

    def _log_phi(self) -> Optional[np.ndarray]:
        if not get_family(self.family).has_precision:
            return None
        return self.items["log_phi"].to_numpy()

    def _trials(self) -> Optional[np.ndarray]:
        if "trials" not in self.items.columns:
            return None
        t = self.items["trials"].to_numpy(float)
        return np.where(np.isfinite(t) & (t >= 1), t, 1.0)

    def _mask(self, benchmark) -> np.ndarray:
        if benchmark is None:
            return np.ones(len(self), bool)
        if "benchmark" not in self.items.columns:
            raise ValueError("the bank has no benchmark labels; pass benchmark=None")
        mask = (self.items["benchmark"] == benchmark).to_numpy()
        if not mask.any():
            raise ValueError(f"unknown benchmark {benchmark!r}; known: {list(self.benchmarks)}")
        return mask

    def _positions(self, questions) -> np.ndarray:
        if not pd.api.types.is_list_like(questions):
            # one label: list("q12") would be the questions "q", "1", "2"
            questions = [questions]
        questions = list(questions)
        idx = self.items.index.get_indexer(pd.Index(questions, dtype=object))
        if (idx < 0).any():
            unknown = [q for q, i in zip(questions, idx) if i < 0]
            raise ValueError(_unknown_message(unknown, self.items.index))
        return idx

    # ------------------------------------------------------------------ save / load
    def _payload(self) -> dict:
        from . import __version__

        it = self.items
        items: Dict[str, Any] = {c: _enc_floats(it[c].to_numpy()) for c in _FLOAT_COLUMNS}
        items["n"] = [int(v) for v in it["n"].to_numpy()]
        if "trials" in it.columns:
            items["trials"] = _enc_floats(it["trials"].to_numpy())
        if "a_d_cov" in it.columns:
            items["a_d_cov"] = _enc_floats(it["a_d_cov"].to_numpy())
        if "benchmark" in it.columns:
            items["benchmark"] = _labels_of_column(it, "benchmark")
        extra = [c for c in it.columns if c not in _KNOWN_COLUMNS]
        if extra:
            items["extra"] = _enc_extra(it, extra)
        prior = None
        if self.prior is not None:
            p = self.prior
            prior = {
                "formula": p.formula, "column_names": list(p.column_names),
                "beta": _enc_floats(p.beta), "sigma": _enc_float(p.sigma), "cov": _enc_floats(p.cov),
                "covariates": _enc_frame(p.covariates), "matrix": _enc_floats(p.design.matrix),
            }
        return {
            "family": self.family, "irt": self.irt, "identification": self.identification,
            "precision": self.precision, "created_by": f"irsl_stats {__version__}",
            "questions": {"name": _enc_name(it.index.name), "labels": _enc_labels(it.index)},
            "items": items,
            "population": {"mean": _enc_float(self.population[0]), "sd": _enc_float(self.population[1])},
            "prior": prior,
            "squeeze_n": None if self.squeeze_n is None else _enc_float(self.squeeze_n),
            "calibration": {"converged": self.converged, "warnings": list(self.calibration_warnings)},
        }

    def to_json(self) -> str:
        """The bank as the JSON text :meth:`save` writes (see the module docstring).

        Returns
        -------
        str
            ASCII JSON: ``{"schema", "version", "sha256", "payload"}``; :meth:`from_json`
            reads it back.
        """
        return _seal(self._payload(), SCHEMA, FORMAT_VERSION)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the bank to ``path`` (JSON, format version 1; see the module docstring).

        The file is written to a temporary name and renamed, so an interrupted save never
        leaves a truncated bank under ``path``.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file (overwritten if it exists); read it back with :meth:`load`.

        Raises
        ------
        FileNotFoundError
            If the directory of ``path`` does not exist (the message names it).
        """
        _write_atomically(path, self.to_json())

    @classmethod
    def from_json(cls, text: str, source: str = "the item-bank text") -> "ItemBank":
        """Parse the JSON text written by :meth:`to_json` (errors as in :meth:`load`).

        Parameters
        ----------
        text : str
            The JSON text.
        source : str
            How error messages name the text (:meth:`load` passes the file name).

        Returns
        -------
        ItemBank

        Raises
        ------
        ItemBankFormatError
            (a ValueError) for text that is not JSON, another schema, a newer format version, a
            checksum mismatch or a malformed payload; the message says which.
        """
        bank = cls._parse(text, source)
        _warn_unconverged_calibration(bank, stacklevel=3)
        return bank

    @classmethod
    def _parse(cls, text: str, source: str) -> "ItemBank":
        payload = _unseal(text, source, SCHEMA, FORMAT_VERSION)
        try:
            return cls._from_payload(payload)
        except ItemBankFormatError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ItemBankFormatError(f"{source} has a malformed payload: {type(e).__name__}: {e}") from e

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "ItemBank":
        """Read a bank written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file (UTF-8 JSON).

        Returns
        -------
        ItemBank
            Equal to the saved bank: the same items, population and latent regression (its
            formula re-evaluated on the stored covariates).

        Raises
        ------
        ItemBankFormatError
            (a ValueError) for a truncated or corrupted file, another schema, a newer format
            version or a malformed payload; the message says which.

        Examples
        --------
        >>> bank.save("bank.json")                   # doctest: +SKIP
        >>> bank = irsl.ItemBank.load("bank.json")   # doctest: +SKIP
        """
        bank = cls._parse(read_bank_text(path), repr(os.fspath(path)))
        _warn_unconverged_calibration(bank, stacklevel=3)
        return bank

    @classmethod
    def _from_payload(cls, p: dict) -> "ItemBank":
        index = _dec_labels(p["questions"]["labels"])
        index.name = p["questions"]["name"]
        it = p["items"]
        n = len(index)
        items = pd.DataFrame(index=index)
        if "benchmark" in it:
            bench = _dec_labels(it["benchmark"])
            if len(bench) != n:
                raise ItemBankFormatError("malformed payload: column 'benchmark' has the wrong length")
            items["benchmark"] = pd.Series(bench.to_numpy(), index=index, dtype=bench.dtype)
        for c in _FLOAT_COLUMNS:
            items[c] = _dec_floats(it[c])
        items["n"] = np.asarray(it["n"], dtype=np.int64)
        if "trials" in it:
            items["trials"] = _dec_floats(it["trials"])
        if "a_d_cov" in it:
            items["a_d_cov"] = _dec_floats(it["a_d_cov"])
        if "extra" in it:
            extra = _dec_frame(it["extra"])
            if len(extra) != n:
                raise ItemBankFormatError("malformed payload: the extra item columns have the wrong length")
            for c in extra.columns:
                items[c] = extra[c].array
        for c in items.columns:
            if len(items[c]) != n:
                raise ItemBankFormatError(f"malformed payload: column {c!r} has the wrong length")
        prior = None
        if p["prior"] is not None:
            q = p["prior"]
            covariates = _dec_frame(q["covariates"])
            matrix = _dec_floats(q["matrix"], 2)
            design = _rebuild_design(q["formula"], covariates, q["column_names"], matrix)
            prior = LatentPrior(
                formula=q["formula"], column_names=list(q["column_names"]), beta=_dec_floats(q["beta"]),
                sigma=float(_dec_float(q["sigma"])), cov=_dec_floats(q["cov"], 2),
                covariates=covariates, design=design,
            )
        pop = p["population"]
        # files written before squeeze_n was recorded lack it: unknown (scoring falls back)
        sq = p.get("squeeze_n")
        converged, said = _calibration_record(p)
        return cls(items, family=p["family"], irt=p["irt"], identification=p["identification"],
                   precision=p["precision"], population=(_dec_float(pop["mean"]), _dec_float(pop["sd"])),
                   prior=prior, squeeze_n=None if sq is None else _dec_float(sq), converged=converged,
                   calibration_warnings=said)

    # ------------------------------------------------------------------ prior
    def prior_moments(self, models: Optional[pd.DataFrame], labels, model: str = "model"):
        """Prior mean and sd of ability for the models ``labels`` (arrays of length K).

        With ``models`` (one row per model, keyed by the ``model`` column or the index) the
        latent regression gives ``N(x'beta, sigma^2)``; without, every model gets the
        calibration population ``N(mean, sd^2)`` of :attr:`population`.

        Parameters
        ----------
        models : DataFrame or None
            Covariates of the models, one row per model, keyed by the ``model`` column or the
            index; needs the bank's latent regression (:attr:`prior`).
        labels : sequence, length K
            The models whose prior is wanted (all must be in ``models``).
        model : str
            Column of ``models`` holding the model labels (else the index is used).

        Returns
        -------
        mean, sd : ndarray, shape (K,)
            Prior mean and standard deviation of each model's ability, in the order of
            ``labels``.

        Raises
        ------
        ValueError
            If ``models`` is given but the bank has no latent regression, the table has
            duplicated models, or a model of ``labels`` is missing from it.
        """
        k = len(labels)
        if models is None:
            return np.full(k, self.population[0]), np.full(k, self.population[1])
        if self.prior is None:
            raise ValueError("the bank has no latent regression; score without models=")
        table = models.set_index(model) if model in models.columns else models
        if table.index.has_duplicates:
            raise ValueError(f"the models table has duplicated {model!r} values: {list(table.index[table.index.duplicated()][:5])}")
        missing = pd.Index(labels).difference(table.index)
        if len(missing):
            raise ValueError(f"{len(missing)} scored model(s) are not in the models table: {list(missing[:10])}")
        mean = self.prior.mean(table.reindex(pd.Index(labels)))
        return np.asarray(mean, float), np.full(k, self.prior.sigma)

    # ------------------------------------------------------------------ scoring
    def _kernel_data(self, rd: ResponseData, n_threads) -> "_kernel.KernelData":
        return bank_kernel_data(self.items.index, self.family, rd, n_threads)

    def score(
        self,
        responses: pd.DataFrame,
        method: str = "eap",
        *,
        model: str = "model",
        question: str = "question",
        response: Optional[str] = "y",
        successes: Optional[str] = None,
        trials: Optional[str] = None,
        models: Optional[pd.DataFrame] = None,
        boundary: str = "error",
        n_quad: int = 21,
        n_threads: Optional[int] = None,
    ) -> pd.DataFrame:
        """Abilities of (new) models from their responses to bank questions.

        Parameters
        ----------
        responses : DataFrame
            Long table, one row per (model, question); column names as in :func:`irsl_stats.fit`
            (counts: ``successes=``, ``trials=``).
        model, question : str
            Columns of ``responses`` holding the model and question labels.
        response : str or None
            Column of the response (beta and Bernoulli banks); ignored when ``successes`` or
            ``trials`` is given.
        successes, trials : str, optional
            Columns of the counts (binomial and beta-binomial banks).
        method : {"eap", "map", "ml", "wle"}
            ``"eap"``: posterior mean, ``se`` = posterior SD (adaptive Gauss–Hermite with
            ``n_quad`` nodes; models with questions too sharp for the node spacing are checked
            with a re-centred rule and, if it disagrees, integrated on a dense grid: see
            :mod:`irsl_stats.scoring`). ``"map"``: posterior mode, ``se = 1/sqrt(information + 1/sd^2)``.
            ``"ml"``: maximum likelihood, ``se = 1/sqrt(information)``; a model whose responses
            are all extreme has no finite ML estimate: it is set to the prior mean
            ``+- 8`` prior SDs, with an :class:`~irsl_stats.results.IRSLWarning`.
            ``"wle"``: Warm's weighted likelihood estimate, the maximum of
            ``l(theta) + 0.5 log I(theta)`` with ``I`` the expected Fisher information of the
            model's responses (:meth:`information`); ``se = 1/sqrt(I(theta))``. No prior; it
            is finite when every response is extreme, and for bernoulli and binomial banks
            (canonical link: Firth's bias-reduced ML) it removes the first-order bias of ML
            (large for a model with few successes); for beta and beta-binomial banks it does
            not in general (see :mod:`irsl_stats.scoring`).
            EAP shrinks toward the prior mean, so its intervals under-cover the strongest (and
            weakest) models of the population: simulated 95% intervals of
            :meth:`expected_score` on EAP abilities covered the top 10% of models 0.875 of the
            time on 10 questions (score bias -0.086) and 0.90 on 50, against 0.965 and 0.955
            with WLE (2PL Bernoulli bank of 200 questions calibrated on 300 models). Use
            ``method="wle"`` for models stronger than the calibration set.
        models : DataFrame, optional
            Covariates of the scored models (keyed by ``model``, column or index): the prior is
            the bank's latent regression ``N(x'beta, sigma^2)``. Without it the prior is the
            calibration population ``N(mean, sd^2)`` (:attr:`population`: mean 0 and sd 1 under
            ``identification="population"``). The uncertainty of ``beta`` is not propagated.
        boundary : {"error", "squeeze", "clip"}
            Beta responses at 0 or 1, as in :func:`irsl_stats.fit`. ``"squeeze"`` maps every
            response ``y`` to ``(y (n - 1) + 0.5) / n`` with the calibration's ``n``
            (:attr:`squeeze_n`, the number of rows of the calibration table; the trials of
            counts), so the responses are transformed exactly as the calibration's were and a
            model's score does not depend on which other models are scored with it. A bank
            without :attr:`squeeze_n` (built by hand) uses the number of rows of
            ``responses``: a model's score then depends on the other models in the table.
        n_quad : int
            Gauss–Hermite nodes per model for ``method="eap"``: an integer from 2 to
            :data:`irsl_stats.scoring.MAX_QUAD` (checked for every method; a ValueError
            otherwise).
        n_threads : int or None
            Kernel threads (None: OpenMP default, -1: all cores).

        Returns
        -------
        DataFrame indexed by model
            ``theta``, ``se`` and ``n`` (responses used), on the bank's ability scale.

        Raises
        ------
        ValueError
            If a question is not in the bank (the message lists them).
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        if successes is not None or trials is not None:
            response = None
        responses = _drop_unused_categories(responses, (model, question))
        # squeeze with the calibration's n: with the table's row count, m00 scored alone got
        # -1.175 and within 100 models -1.251 (the other models' rows changed its responses), and
        # neither transformed the responses as the calibration (6000 rows) did
        rd = ResponseData.from_long(
            responses, model=model, question=question, response=response, successes=successes,
            trials=trials, family=self.family, boundary=boundary, squeeze_n=self.squeeze_n,
            family_fixed_by="the item bank",
        )
        kd = self._kernel_data(rd, n_threads)
        mean, sd = self.prior_moments(models, rd.model_labels, model)
        est = estimate_abilities(kd, self.items["a"].to_numpy(), self.items["d"].to_numpy(), self._log_phi(),
                                 mean, sd, method=method, n_quad=n_quad, n_threads=n_threads,
                                 labels=rd.model_labels)
        out = pd.DataFrame({"theta": est.theta, "se": est.se, "n": np.diff(rd.model_ptr)},
                           index=rd.model_labels)
        out.index.name = model
        return out

    # ------------------------------------------------------------------ forecasting
    def _ad_cov(self, mask) -> np.ndarray:
        """Covariance of (a_j, d_j): the ``a_d_cov`` column when the bank has it (from a fit);
        otherwise recovered from the standard errors of a, d and b (the delta method that
        produced ``b_se`` used it), 0 where that is not identifiable."""
        it = self.items
        if "a_d_cov" in it.columns:
            return np.nan_to_num(it["a_d_cov"].to_numpy(float)[mask])
        a, d = it["a"].to_numpy()[mask], it["d"].to_numpy()[mask]
        va, vd, vb = (np.nan_to_num(it[c].to_numpy()[mask] ** 2) for c in ("a_se", "d_se", "b_se"))
        ga, gd = d / a**2, -1.0 / a
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = (vb - ga**2 * va - gd**2 * vd) / (2 * ga * gd)
            lim = np.sqrt(va * vd)
            ok = np.isfinite(cov) & (np.abs(ga) * np.sqrt(va) > 1e-3 * np.abs(gd) * np.sqrt(vd))
        return np.where(ok, np.clip(cov, -lim, lim), 0.0)

    def _item_draws(self, mask, n_draws: int, rng: np.random.Generator, with_phi: bool):
        """Draws of the questions ``mask`` from their normal approximation (independent across
        questions): ``(a, d)`` jointly (``a_se``, ``d_se``, :meth:`_ad_cov`), and, with
        ``with_phi``, ``log phi`` with SD ``phi_se / phi``; arrays of shape (n_draws, N), and
        None for ``log phi`` without ``with_phi``. Missing standard errors count as 0.

        Questions the calibration did not identify (the SE of their logit ``a theta + d`` is
        above :data:`_UNIDENTIFIED_LOGIT_SE` at every ability: see :meth:`expected_score`) are
        held at their estimates (``a``, ``d`` and ``log phi``), with one
        :class:`~irsl_stats.results.IRSLWarning` naming them. The random stream is the same
        either way, so the other questions' draws do not depend on which ones are held.
        """
        a, d = self.items["a"].to_numpy()[mask], self.items["d"].to_numpy()[mask]
        a_se = np.nan_to_num(self.items["a_se"].to_numpy()[mask])
        d_se = np.nan_to_num(self.items["d_se"].to_numpy()[mask])
        cov_ad = self._ad_cov(mask)
        # (a, d) = mean + L z with L the Cholesky factor of [[va, c], [c, vd]]
        l21 = np.where(a_se > 0, cov_ad / np.where(a_se > 0, a_se, 1.0), 0.0)
        l22 = np.sqrt(np.maximum(d_se**2 - l21**2, 0.0))
        # l22 = sqrt(vd - c^2 / va) is the SE of the logit a theta + d at the ability where it is
        # smallest. A question no calibration model solved (or every one did) has no finite
        # estimate: the fit stops where the likelihood is flat, with d ~ -40 and d_se ~ 1e5, and
        # N(d, d_se^2) then put expit(a theta + d) at 0 or 1 half the time (real GSM8K bank: every
        # model's score interval excluded its own point estimate). Such questions are held at
        # their estimates, which is where the point forecast puts them too
        held = l22 > _UNIDENTIFIED_LOGIT_SE
        if held.any():
            labels = self.items.index[mask][held]
            warnings.warn(
                f"{int(held.sum())} question(s) are not identified by the calibration: the standard "
                f"error of their logit a*theta + d exceeds {_UNIDENTIFIED_LOGIT_SE:g} at every ability "
                f"(up to {float(l22[held].max()):.3g}), as for a question that no calibration model "
                f"solved or that every one did: {_fmt_labels(labels, limit=10)}. Their normal "
                "approximation is meaningless, so item_uncertainty=True holds them at their "
                "estimates and the interval leaves out their uncertainty; recalibrate with models "
                "that answer them both ways, or drop them (bank.subset) if the forecast need not "
                "include them",
                IRSLWarning, stacklevel=3,
            )
            a_se, l21, l22 = (np.where(held, 0.0, v) for v in (a_se, l21, l22))
        a_r = np.empty((n_draws, len(a)))
        d_r = np.empty_like(a_r)
        lp_r = np.empty_like(a_r) if with_phi else None
        if with_phi:
            log_phi = self.items["log_phi"].to_numpy()[mask]
            lp_se = np.nan_to_num(self.items["phi_se"].to_numpy(float)[mask] / np.exp(log_phi))
            # a held question's precision is no better identified than its logit (phi_se of a
            # never-solved question is its shrinkage prior's), and with mu ~ 1e-17 it moves nothing
            lp_se = np.where(held, 0.0, lp_se)
        for r in range(n_draws):  # draw by draw: the stream of expected_score's draws
            z1 = rng.standard_normal(len(a))
            z2 = rng.standard_normal(len(a))
            a_r[r] = a + a_se * z1
            d_r[r] = d + l21 * z1 + l22 * z2
        if with_phi:
            lp_r[:] = log_phi + lp_se * rng.standard_normal((n_draws, len(a)))
        return a_r, d_r, lp_r

    def expected_score(
        self,
        theta,
        benchmark=None,
        se=None,
        alpha: float = 0.05,
        item_uncertainty: bool = False,
        n_draws: int = 1000,
        seed: Optional[int] = 0,
    ):
        """Expected full-benchmark score of models with abilities ``theta``.

        The score is the mean over the benchmark's questions of ``logistic(a_j theta + d_j)``
        (the expected response; per trial for count families).

        Parameters
        ----------
        theta : array_like or Series, shape (K,)
            Abilities on the bank's scale (e.g. ``bank.score(...)["theta"]``).
        benchmark : label, optional
            Restrict to the questions of one benchmark (default: all questions).
        se : float, array_like or Series, shape (K,), optional
            Standard errors of ``theta`` (finite, >= 0): adds a ``1 - alpha`` interval, the
            ability interval ``theta +- z se`` mapped through the score (increasing in ability
            when every ``a_j > 0``; otherwise the interval is approximate and a warning says
            so). A NaN ``se`` (not available) gives NaN bounds for that model, with a warning. When ``theta`` and ``se`` are both Series, ``se`` is aligned to ``theta`` by
            index label; otherwise they are matched by position.
        alpha : float
            ``1 - alpha`` intervals, ``0 < alpha < 1``.
        item_uncertainty : bool
            Also propagate the question parameters' uncertainty: the interval is then the
            ``alpha/2, 1-alpha/2`` quantiles of the score over ``n_draws`` joint draws of
            ``theta ~ N(theta, se^2)`` and ``(a_j, d_j)`` from their normal approximation
            (independent across questions; seeded by ``seed``). The question parameters are
            drawn once, shared by all models; each model's ability draws come from a stream of
            its own keyed by the model, so a model's interval does not depend on which other
            models are in the call or on their order. The key is the index label when
            ``theta`` is a Series (equal labels draw alike; e.g. ``5`` and ``5.0`` are one
            label) and the position otherwise (i.e. the label of a default ``RangeIndex``).
            Questions the calibration did not identify are not drawn but held at their
            estimates, with an :class:`~irsl_stats.results.IRSLWarning` naming them: those
            whose logit ``a theta + d`` has a standard error above 10 at every ability
            (``sqrt(d_se^2 - a_d_cov^2 / a_se^2)``, ``d_se`` under 1PL; for counts, about
            fewer than 0.01 expected successes, or failures, in the calibration), as for a
            question no calibration model solved (or every one did), whose fit stops where the
            likelihood flattens (``d ~ -40``, ``d_se ~ 1e5``); drawn from ``N(d, d_se^2)``
            they put every model's interval away from its own score. The interval always
            contains ``score``; where the draws put it outside their quantiles beyond Monte
            Carlo error (fewer draws on its far side than a binomial test at level 1e-3
            allows), the interval is extended to it and an ``IRSLWarning`` names the models.
        n_draws : int
            Monte Carlo draws for ``item_uncertainty=True`` (>= 1).
        seed : int or None, default 0
            Seed of those draws (a non-negative integer; the same seed gives the same output).
            ``None`` draws fresh entropy from the operating system (not reproducible).

        Returns
        -------
        ndarray, shape (K,)
            Without ``se`` and ``item_uncertainty``: the scores (as
            :meth:`IRSLResults.expected_score`).
        DataFrame, K rows
            Otherwise: ``score``, ``lower``, ``upper``.

        Raises
        ------
        ValueError
            If ``theta`` is not finite (naming the entries) or has more than one dimension; if
            ``se`` is negative or infinite, or (both Series) lacks some of ``theta``'s labels;
            if ``alpha`` is not in (0, 1) or ``n_draws`` is not an integer >= 1; if ``seed`` is
            not a non-negative integer or None.
        """
        index = theta.index if isinstance(theta, pd.Series) else None
        th, s = _theta_se(theta, se, allow_nan_se=True)
        s, no_se = _set_aside_missing_se(
            s, index if index is not None else pd.RangeIndex(len(th)), "score", "score")
        alpha = check_alpha(alpha)
        if not is_integer(n_draws, 1):
            raise ValueError(f"`n_draws` must be an integer >= 1; got {n_draws!r}")
        entropy = _entropy(seed)  # validates `seed`, naming it (numpy's message does not)
        mask = self._mask(benchmark)
        a, d = self.items["a"].to_numpy()[mask], self.items["d"].to_numpy()[mask]
        score = special.expit(np.outer(th, a) + d).mean(axis=1)
        if se is None and not item_uncertainty:
            return score
        if s is None:
            s = np.zeros_like(th)
        z = stats.norm.ppf(1 - alpha / 2)
        if not item_uncertainty:
            if np.any(a < 0):
                warnings.warn("some discriminations are negative: the score is not monotone in ability "
                              "and the interval is approximate", IRSLWarning, stacklevel=2)
            lo = special.expit(np.outer(th - z * s, a) + d).mean(axis=1)
            hi = special.expit(np.outer(th + z * s, a) + d).mean(axis=1)
            # with a negative a the score can peak inside the ability interval: its image still
            # contains the score at theta (as forecast_pass_at_k's interval does)
            lower = np.minimum(np.minimum(lo, hi), score)
            upper = np.maximum(np.maximum(lo, hi), score)
        else:
            # The item draws come from one stream and each model's ability draws from a stream of
            # its own, keyed by its label: drawn from one shared stream, a model's draws (and so
            # its interval) would depend on its position in the call and on the other models.
            item_rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(0,)))
            z_theta = _ability_normals(index if index is not None else pd.RangeIndex(len(th)), entropy, n_draws)
            a_r, d_r, _ = self._item_draws(mask, n_draws, item_rng, with_phi=False)
            sims = np.empty((len(th), n_draws))
            for r in range(n_draws):
                t_r = th + s * z_theta[:, r]
                sims[:, r] = special.expit(np.outer(t_r, a_r[r]) + d_r[r]).mean(axis=1)
            lower = np.quantile(sims, alpha / 2, axis=1)
            upper = np.quantile(sims, 1 - alpha / 2, axis=1)
            # the interval always contains the point (as forecast_pass_at_k's); a point the draws
            # put outside beyond Monte Carlo error says the draws do not fit, and is reported
            lower, upper, off = _contain_point(score, sims, lower, upper, alpha, axis=1)
            if no_se is not None:
                off &= ~no_se
            if off.any():
                labels = (index if index is not None else pd.RangeIndex(len(th)))[off]
                _warn_point_outside(labels.tolist(), alpha, "")
        if no_se is not None:
            lower[no_se] = np.nan
            upper[no_se] = np.nan
        return pd.DataFrame({"score": score, "lower": lower, "upper": upper}, index=index)

    def forecast_pass_at_k(self, theta, ks, benchmark=None, se=None, alpha: float = 0.05,
                           plugin: bool = False, integrate: bool = False,
                           n_quad: int = 11, item_uncertainty: bool = False, n_draws: int = 1000,
                           seed: Optional[int] = 0) -> pd.DataFrame:
        """Expected pass@k over the benchmark's questions at abilities ``theta``.

        For beta and beta-binomial banks the Beta expectation ``1 - B(mu phi, (1-mu) phi + k) /
        B(mu phi, (1-mu) phi)`` per question (:func:`irsl_stats.beta_pass_at_k`); for the
        Bernoulli and binomial families the plug-in ``1 - (1-mu)^k``. The whole grid of budgets
        is evaluated at once (:func:`irsl_stats.passk.beta_pass_at_k_grid`): every ``k = 1..10,000``
        for 128 questions takes a fraction of a second per model. The mean over questions is
        accumulated over blocks of questions, so memory stays bounded (~100 MB) on any grid.

        Parameters
        ----------
        theta : array_like or Series, shape (M,)
        ks : array_like, shape (K,)
            Budgets ``0 < k < 2**63``, numbers (not necessarily integers: the Beta expectation is
            defined for any ``k > 0``; booleans and strings are refused); the ``k`` column holds
            them as 64-bit integers when they are all whole numbers.
        benchmark : label, optional
        se : float, array_like or Series, shape (M,), optional
            Standard errors of ``theta`` (>= 0): adds ``lower``/``upper``, pass@k at
            ``theta -+ z se`` (pass@k increases with ability when every ``a_j > 0``). When
            ``theta`` and ``se`` are both Series, ``se`` is aligned to ``theta`` by index label;
            otherwise they are matched by position. A NaN ``se`` (not available, e.g. a joint
            ML ability whose information is singular) gives that model the point forecast at
            ``theta`` with NaN ``lower``/``upper``, and an
            :class:`~irsl_stats.results.IRSLWarning` naming those models.
        alpha : float
            ``1 - alpha`` intervals, ``0 < alpha < 1``.
        plugin : bool
            Use the plug-in ``1 - (1-mu)^k`` for every family (what the published reference code
            does), for comparison with the Beta expectation.
        integrate : bool
            Average the curve over the ability's uncertainty ``N(theta, se^2)`` (Gauss–Hermite,
            ``n_quad`` nodes) instead of evaluating it at ``theta``: the posterior-mean forecast
            when ``theta, se`` are a posterior mean and SD (``bank.score(method="eap")``).
            Requires ``se``.
        n_quad : int
            Quadrature nodes for ``integrate=True``.
        item_uncertainty : bool
            Also propagate the questions' uncertainty (see Notes): ``lower``/``upper`` are then
            the ``alpha/2, 1-alpha/2`` quantiles of the curve over ``n_draws`` joint draws of
            ``theta ~ N(theta, se^2)`` and the questions' ``(a_j, d_j)`` and ``log phi_j`` from
            their normal approximation (independent across questions), seeded by ``seed``, as
            in :meth:`expected_score`: the question draws are shared by all models, each
            model's ability draws come from a stream keyed by its label; questions the
            calibration did not identify are held at their estimates, and the interval
            contains ``pass_at_k``, with warnings, as there. The cost is
            ``n_draws`` curves per model: use a sparse grid of budgets.
        n_draws : int
            Monte Carlo draws for ``item_uncertainty=True`` (>= 1).
        seed : int or None, default 0
            Seed of those draws (a non-negative integer); ``None``: fresh entropy.

        Returns
        -------
        DataFrame, M * K rows
            Tidy, budgets outermost: ``model`` (the index of ``theta`` or its position), ``k``
            (integers when every budget is a whole number, else floats), ``pass_at_k`` and, with
            ``se`` or ``item_uncertainty``, ``lower`` and ``upper``.

        Raises
        ------
        ValueError
            If ``integrate=True`` without ``se``; if ``theta`` is not finite or has more than
            one dimension; if ``se`` is negative or infinite, or (both Series) lacks some of
            ``theta``'s labels; if a budget is ``>= 2**63``, not finite, not positive or not a
            number (the message names ``ks``); if ``alpha`` is not in (0, 1); if ``n_quad`` is
            not an integer >= 1.

        Notes
        -----
        The interval is for the *expected* pass@k (the curve a model with ability ``theta``
        follows under the bank). By default it carries the ability's uncertainty only: the
        questions are taken as known. That holds at small k, where the scored ability pins the
        curve, and not at large k, which rests on the hardest questions' difficulties and
        precisions (simulated coverage of the 95% interval, 2PL beta-binomial banks, 50
        questions, 50 samples each, ``benchmarks/bank_coverage.py --what passk``: 0.94 at
        k = 1 to 0.80 at k = 1000 with 150 calibration models, 0.93 to 0.56 with 50, 0.87 to
        0.45 with 20; with the true questions 0.94 at every k). ``item_uncertainty=True``
        draws the questions too: 0.93-0.98 with 150 calibration models, 0.93-0.94 with 50,
        0.87-0.94 with 20. A single model's *realized* pass@k over a finite set of
        questions scatters around the expected one, more so as k grows: the interval is not a
        prediction interval for it.
        """
        from .mml import gauss_hermite
        from .passk import _as_float_array, _budget_column, _check_budgets_int64, _row_mean, beta_pass_at_k_grid

        labels = theta.index if isinstance(theta, pd.Series) else pd.RangeIndex(np.size(theta))
        th, s = _theta_se(theta, se, allow_nan_se=True)
        alpha = check_alpha(alpha)
        # passk's checker: np.asarray(ks, float) turned [True] into k = 1 and ["10"] into k = 10,
        # and "could not convert string to float" named no argument
        ks = np.atleast_1d(_as_float_array(ks, "ks"))
        # the integer k column would wrap budgets >= 2**63 to -9223372036854775808 without a word
        _check_budgets_int64(ks, "ks")
        s, no_se = _set_aside_missing_se(s, labels, "pass@k", "pass_at_k")
        if integrate and s is None:
            raise ValueError("integrate=True averages over N(theta, se^2): pass `se`")
        if not is_integer(n_quad, 1):
            raise ValueError(f"n_quad must be an integer >= 1 (Gauss-Hermite nodes for integrate=True); "
                             f"got {n_quad!r}")
        if not is_integer(n_draws, 1):
            raise ValueError(f"`n_draws` must be an integer >= 1; got {n_draws!r}")
        entropy = _entropy(seed)  # validates `seed`, naming it
        mask = self._mask(benchmark)
        a, d = self.items["a"].to_numpy()[mask], self.items["d"].to_numpy()[mask]
        beta_family = get_family(self.family).has_precision and not plugin
        phi = self.items["phi"].to_numpy()[mask] if beta_family else np.inf

        def curve(t, a=a, d=d, phi=phi):
            # expit underflows to exactly 0 (or rounds to 1) for very hard (easy) questions;
            # pass@k is continuous there, so keep mu inside the open interval
            mu = np.clip(special.expit(a * t + d), 1e-300, 1.0 - 2.0**-53)
            phi_q = np.broadcast_to(phi, mu.shape)
            # averaged a block of questions at a time: the whole questions x budgets table of a
            # dense grid (128 questions, k = 1..1e6) took 3 GB
            return _row_mean(lambda rows: beta_pass_at_k_grid(mu[rows], phi_q[rows], ks), mu.size, ks.size)

        if item_uncertainty:
            item_rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(0,)))
            a_r, d_r, lp_r = self._item_draws(mask, n_draws, item_rng, with_phi=beta_family)
            z_theta = _ability_normals(labels, entropy, n_draws)

        z = stats.norm.ppf(1 - alpha / 2)
        nodes, weights = gauss_hermite(n_quad) if integrate else (np.zeros(1), np.ones(1))
        point = np.empty((len(th), len(ks)))
        lower = np.empty_like(point)
        upper = np.empty_like(point)
        off = np.zeros(point.shape, bool)
        for i, t in enumerate(th):
            si = 0.0 if s is None else s[i]
            point[i] = sum(w * curve(t + si * zz) for zz, w in zip(nodes, weights))
            if item_uncertainty:
                sims = _drawn_curves(t + si * z_theta[i], a_r, d_r, lp_r, ks)
                lower[i] = np.quantile(sims, alpha / 2, axis=0)
                upper[i] = np.quantile(sims, 1 - alpha / 2, axis=0)
                # as in expected_score: widened to the point below, reported when not noise
                lower[i], upper[i], off[i] = _contain_point(point[i], sims, lower[i], upper[i], alpha, axis=0)
            elif s is not None:
                lo, hi = curve(t - z * si), curve(t + z * si)
                lower[i], upper[i] = np.minimum(lo, hi), np.maximum(lo, hi)
        # budgets are counts of samples: whole numbers come back as integers, as in
        # IRSLResults.forecast_pass_at_k (a float k column would not merge with integer budgets)
        k_out = _budget_column(ks)
        frame = {"model": np.tile(np.asarray(labels), len(ks)), "k": np.repeat(k_out, len(th)),
                 "pass_at_k": point.T.ravel()}
        if no_se is not None:
            lower[no_se] = np.nan
            upper[no_se] = np.nan
            off[no_se] = False
        if off.any():
            rows = off.any(axis=1)
            budgets = ", ".join(str(k) for k in np.asarray(k_out)[off.any(axis=0)].tolist()[:10])
            _warn_point_outside(labels[rows].tolist(), alpha, f" (at k = {budgets})")
        if s is not None or item_uncertainty:
            frame.update(lower=np.minimum(lower, point).T.ravel(), upper=np.maximum(upper, point).T.ravel())
        return pd.DataFrame(frame)

    # ------------------------------------------------------------------ information and selection
    def information(self, theta, questions=None, trials=None):
        """Fisher information of each question about ability at ``theta``.

        The family's own expected information (see :mod:`irsl_stats.selection`).

        Parameters
        ----------
        theta : float or array_like, shape (K,)
            Abilities on the bank's scale.
        questions : label or list-like, length N, optional
            Subset of questions (default: all, N = ``len(bank)``); a single label (e.g. a
            string) is one question.
        trials : int, array_like of shape (N,) or Series, optional
            Trials (samples) per question, for count banks (binomial, beta-binomial) only:
            whole numbers >= 1, a scalar for every question, an array in the order of
            ``questions`` or a Series indexed by question label (aligned by label). Default: the
            bank's ``trials`` column if it has one, else 1. The information of a count grows
            with its trials, and not in the same way for every question, so the ranking of the
            questions depends on it: pass the number of samples the tested model will draw.

        Returns
        -------
        Series or DataFrame
            For a scalar ``theta`` a Series of length N indexed by question; otherwise a
            DataFrame of shape (K, N), one row per ability (indexed as ``theta`` when it is a
            Series, else 0..K-1) and one column per question.

        Raises
        ------
        ValueError
            If ``theta`` is not finite or has more than one dimension; if a question is not in
            the bank; if ``trials`` is given for a bank that is not a
            count bank, is not a whole number >= 1 (naming the questions), has the wrong
            length, or (a Series) lacks some of the questions (naming them).
        """
        pos = np.arange(len(self)) if questions is None else self._positions(questions)
        tr = None if trials is None else self._trials_arg(trials, pos)
        _theta_se(theta, None)  # finite, at most 1-D: NaN would rank questions arbitrarily
        info = self._information_at(theta, pos, tr)
        labels = self.items.index[pos]
        if np.ndim(theta) == 0:
            return pd.Series(info[0], index=labels, name="information")
        return pd.DataFrame(info, columns=labels, index=theta.index if isinstance(theta, pd.Series) else None)

    def _information_at(self, theta, pos: np.ndarray, trials: Optional[np.ndarray]) -> np.ndarray:
        """Information (K, len(pos)) of the questions ``pos``; ``trials`` (validated, aligned with
        ``pos``) or None for the bank's own trials."""
        it = self.items
        phi = it["phi"].to_numpy()[pos] if get_family(self.family).has_precision else None
        if trials is None:
            tr = self._trials()
            trials = None if tr is None else tr[pos]
        return item_information(self.family, theta, it["a"].to_numpy()[pos], it["d"].to_numpy()[pos], phi, trials)

    def _trials_arg(self, trials, pos: np.ndarray) -> np.ndarray:
        """A user's ``trials=`` for the questions ``pos``, validated, as floats aligned with ``pos``.

        A scalar applies to every question, an array is in the order of ``pos``, a Series or
        mapping is aligned by question label. Only count banks use trials; they must be whole
        numbers >= 1 (the beta-binomial information sums over ``k = 0..n``).
        """
        fam = get_family(self.family)
        if not fam.uses_counts:
            raise ValueError(f"trials= is the number of samples per question of a count bank "
                             f"(family 'binomial' or 'beta_binomial'); this bank's family is "
                             f"{self.family!r}, whose information does not depend on trials")
        labels = self.items.index[pos]
        if isinstance(trials, Mapping):
            trials = pd.Series(trials, dtype=object)
        if isinstance(trials, pd.Series):
            if not trials.index.is_unique:
                raise ValueError(f"`trials` has duplicated question labels "
                                 f"{_fmt_labels(trials.index[trials.index.duplicated()].unique())}")
            missing = labels.difference(trials.index, sort=False)
            if len(missing):
                raise ValueError(f"`trials` has no value for the questions {_fmt_labels(missing)}; a Series "
                                 f"of trials is aligned to the questions by label")
            trials = trials.reindex(labels).to_numpy()
        if isinstance(trials, (str, bytes)):
            raise ValueError(f"`trials` must be a number of trials (or one per question); got {trials!r}")
        try:
            tr = np.asarray(trials, float)
        except (TypeError, ValueError):
            raise ValueError(f"`trials` must be a number of trials (or one per question); got {trials!r}") from None
        try:
            tr = np.broadcast_to(tr, pos.shape)
        except ValueError:
            raise ValueError(f"`trials` must be a scalar or have one value per question ({pos.size}); "
                             f"got shape {tr.shape}") from None
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(tr) | (tr < 1) | (tr != np.floor(tr))
        if bad.any():
            raise ValueError(f"`trials` must be whole numbers >= 1 (samples per question); offending "
                             f"questions {_fmt_labels(labels[bad], limit=5)} with values "
                             f"{tr[bad][:5].tolist()}")
        return tr

    def _grouping(self, by):
        """``(positions, values)`` of the groups in order of first appearance; ``values`` is
        None when there is a single group (``by`` None, or the default ``"benchmark"`` on a bank
        without benchmark labels)."""
        if by is None or (by == "benchmark" and "benchmark" not in self.items.columns):
            return [np.arange(len(self))], None
        if by not in self.items.columns:
            raise ValueError(f"by={by!r} is not a column of the bank's items ({list(self.items.columns)})")
        codes, uniques = pd.factorize(self.items[by])
        # factorize codes missing values as -1: those questions would silently belong to no group
        missing = np.flatnonzero(codes < 0)
        if missing.size:
            more = f" ({missing.size} in all)" if missing.size > 5 else ""
            raise ValueError(f"column {by!r} of the bank's items is missing (NaN/None) for questions "
                             f"{list(self.items.index[missing[:5]])}{more}; fill it in or pass by=None")
        return [np.flatnonzero(codes == g) for g in range(len(uniques))], list(uniques)

    def _groups(self, by) -> List[np.ndarray]:
        return self._grouping(by)[0]

    def subset(self, questions) -> "ItemBank":
        """The bank restricted to ``questions``, on the same scale.

        Same family, IRT model, identification, precision model, population and covariate
        prior; the questions keep their parameters and every column of :attr:`items`.

        Parameters
        ----------
        questions : label or sequence of labels
            Questions of the bank, each once (e.g. the result of :meth:`select`); the new bank
            keeps this order.

        Returns
        -------
        ItemBank

        Raises
        ------
        ValueError
            If a question is not in the bank (naming it, with a hint when only the label type
            differs), a question is repeated, or ``questions`` is empty.

        Examples
        --------
        >>> import irsl_stats as irsl
        >>> sim = irsl.simulate.irt(n_models=30, n_questions=40, seed=0)
        >>> bank = irsl.calibrate(sim.responses, models=sim.models)    # doctest: +SKIP
        >>> short = bank.subset(bank.select(10, by=None))               # doctest: +SKIP
        """
        pos = self._positions(questions)
        if pos.size == 0:
            raise ValueError("`questions` is empty: a bank needs at least one question")
        repeated = pd.Index(self.items.index[pos])
        if repeated.has_duplicates:
            dup = repeated[repeated.duplicated()].unique()
            raise ValueError(f"`questions` repeats {_fmt_labels(dup, limit=5)}: each question can be in a bank once")
        return ItemBank(self.items.iloc[pos], family=self.family, irt=self.irt,
                        identification=self.identification, precision=self.precision,
                        population=self.population, prior=self.prior, squeeze_n=self.squeeze_n,
                        converged=self.converged, calibration_warnings=self.calibration_warnings)

    def select(
        self, n: int, strategy: str = "stratified", by: Optional[str] = "benchmark", seed: Optional[int] = 0, theta=0.0,
        trials=None,
    ) -> pd.Index:
        """Choose ``n`` questions per group (per benchmark by default).

        Parameters
        ----------
        n : int
            Questions per group; a group with fewer questions contributes all of them.
        strategy : {"stratified", "random", "information"}
            ``"random"``: a uniform sample. ``"stratified"``: the group's questions are sorted by
            difficulty ``b`` and cut into ``n`` strata of equal width in rank; one is drawn from
            each by systematic sampling (one random start), so the picks cover the difficulty
            quantiles and every question is picked with probability ``n / N``.
            ``"information"``: the ``n`` with the largest Fisher information (family-specific,
            :meth:`information`) at ability ``theta``.
        by : str or None
            Column of :attr:`items` defining the groups (``None``: the whole bank; any column
            of the table the bank was built from, e.g. a topic); every question must have a
            value there.
        seed : int or None, default 0
            Seed of the random draws (``"random"``, ``"stratified"``): a non-negative integer,
            or ``None`` for fresh entropy from the operating system (not reproducible).
        theta : float or dict
            Target ability for ``"information"`` (finite; a dict maps every group value to its
            own target).
        trials : int, array_like of shape (len(bank),) or Series, optional
            For ``"information"`` on a count bank (binomial, beta-binomial): the trials
            (samples) per question at which the information is computed, as in
            :meth:`information` (a scalar, an array in bank order, or a Series indexed by
            question). Default: the bank's ``trials`` column, i.e. the calibration's typical
            number of samples. The ranking depends on it, so pass the number of samples the
            tested model will draw. Not used by the other strategies (but still validated).

        Returns
        -------
        Index of question labels, grouped (groups in order of first appearance); within a group
        in bank order (random), by difficulty (stratified) or by decreasing information.

        Raises
        ------
        ValueError
            If ``strategy`` or ``n`` is invalid; if ``by`` is not a column or is missing for
            some questions (naming them); for ``"information"``, if a target ability is not
            one finite number (e.g. an array; naming ``theta``) or a ``theta`` dict lacks some
            groups (naming them); if ``trials`` is given
            for a bank that is not a count bank or is invalid (see :meth:`information`); if
            ``seed`` is not a non-negative integer or None.
        """
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {_STRATEGIES}; got {strategy!r}")
        if not is_integer(n, 1):
            raise ValueError(f"n must be a positive integer; got {n!r}")
        tr = None if trials is None else self._trials_arg(trials, np.arange(len(self)))
        # _entropy names `seed` in its error (numpy's says only "expected non-negative integer");
        # an int seed keeps its stream: default_rng(s) seeds from SeedSequence(s) too
        rng = np.random.default_rng(_entropy(seed))
        b = self.items["b"].to_numpy()
        groups, values = self._grouping(by)
        targets = [theta] * len(groups)
        if strategy == "information":
            if isinstance(theta, Mapping):
                if values is None:
                    raise ValueError("a `theta` dict maps groups to targets, but there are no groups "
                                     f"(by={by!r}); pass a single float")
                absent = [v for v in values if v not in theta]
                if absent:
                    raise ValueError(f"`theta` has no target ability for the {by!r} groups {absent}")
                targets = [theta[v] for v in values]
            if isinstance(theta, Mapping):
                targets = [_target_ability(t, f"`theta[{v!r}]`") for v, t in zip(values, targets)]
            else:
                targets = [_target_ability(theta, "`theta`")] * len(groups)
        picks = []
        for pos, target in zip(groups, targets):
            if strategy == "information":
                info = self._information_at(float(target), pos, None if tr is None else tr[pos])[0]
                picks.append(pos[information_order(info)[:n]])
            elif len(pos) <= n:
                picks.append(pos[np.argsort(b[pos], kind="stable")] if strategy == "stratified" else pos)
            elif strategy == "random":
                picks.append(np.sort(rng.choice(pos, size=n, replace=False)))
            else:
                chosen = pos[stratified_pick(b[pos], n, rng)]
                picks.append(chosen[np.argsort(b[chosen], kind="stable")])
        return self.items.index[np.concatenate(picks)]

    # ------------------------------------------------------------------ adaptive testing
    def adaptive(
        self,
        answer: Union[Callable[[Any], Any], pd.DataFrame],
        budget: int = 50,
        by: Optional[str] = None,
        start_theta: Optional[float] = None,
        method: str = "eap",
        *,
        models: Optional[pd.DataFrame] = None,
        model: str = "model",
        question: str = "question",
        response: Optional[str] = "y",
        successes: Optional[str] = None,
        trials=None,
        boundary: str = "error",
        n_quad: int = 21,
        n_threads: Optional[int] = 1,
    ) -> AdaptiveResult:
        """Computerised adaptive testing of one model.

        Each step asks the not-yet-asked question with the largest Fisher information at the
        current ability estimate, then re-estimates the ability from all answers so far.

        Parameters
        ----------
        answer : callable or DataFrame
            ``answer(question_label)`` returns the response (for count families ``(k, n)`` or
            ``k``, with ``n`` the ``trials`` argument, else the bank's ``trials`` or 1); each
            response is checked as it arrives (an invalid one is an error naming the question).
            Or a DataFrame of one model's available responses, one row per question (columns
            ``question`` and ``response``, or ``successes`` and ``trials``): only those
            questions are candidates. The table is checked up front, as :meth:`score` checks
            its input: a repeated question, several models in the ``model`` column, an empty
            table, an unknown question or a response outside the family's support is an error
            naming the questions and rows.
        budget : int
            Questions to ask (per group when ``by`` is given; groups are visited in turn).
        by : str or None
            E.g. ``"benchmark"``: ask ``budget`` questions of each benchmark (a question with a
            missing value in that column is an error, not silently left out).
        start_theta : float, optional
            Ability used to pick the first question (finite; default: the prior mean).
        method : {"eap", "map", "ml", "wle"}
            Estimator after each answer (ML warnings about extreme responses are only raised for
            the final estimate).
        models : DataFrame, optional
            The model's covariates (keyed by the ``model`` column or the index): prior from the
            latent regression (else the calibration population). One row, or a table with a
            row for the model an ``answer`` table names.
        model : str
            Column of an ``answer`` table holding the model label (optional there; when present
            it must hold a single model).
        question : str
            Column of an ``answer`` table holding the question labels.
        response : str or None
            Column of an ``answer`` table holding the response (beta and Bernoulli banks).
        successes : str, optional
            Column of an ``answer`` table holding the successes (count banks; with ``trials``).
        trials : str, int, array_like or Series, optional
            With an ``answer`` table: the column holding the trials (count banks; with
            ``successes``); candidate questions are ranked by their information at the trials
            the table gives them. With a callable ``answer`` on a count bank: the trials
            (samples) each answer will carry, at which candidates are ranked and which an answer
            given as ``k`` alone gets -- a scalar, an array in bank order or a Series indexed by
            question, as in :meth:`information`. Default: the bank's ``trials`` column (the
            calibration's typical number of samples), else 1.
        boundary : {"error", "squeeze", "clip"}
            Beta responses at 0 or 1, as in :meth:`score` (and :func:`irsl_stats.fit`):
            ``"error"`` raises, naming the question; ``"clip"`` clips to ``[1e-6, 1 - 1e-6]``;
            ``"squeeze"`` maps every response ``y`` to ``(y (n - 1) + 0.5) / n``, with ``n`` the
            calibration's (:attr:`squeeze_n`, as :meth:`score`) or the trials of a table of
            counts; a bank without :attr:`squeeze_n` uses the number of responses given (an
            ``answer`` table: its rows; a callable: the number of questions the test asks).
            Ignored by the other families.
        n_quad : int
            Gauss–Hermite nodes for ``method="eap"``: an integer from 2 to
            :data:`irsl_stats.scoring.MAX_QUAD`.
        n_threads : int or None
            Kernel threads (default 1; None: OpenMP default, -1: all cores).

        Returns
        -------
        AdaptiveResult
            The questions asked, the answers, the final estimate and the step-by-step history.

        Raises
        ------
        ValueError
            For an invalid ``method``, ``budget``, ``start_theta``, ``boundary`` or ``trials``; for an ``answer``
            table that is empty, lacks a column, holds several models or repeats a question, has
            questions that are not in the bank or responses outside the family's support
            (naming them); for a callable's response that is invalid (naming the question);
            for a ``models`` table with several rows none of which (or more than one of which)
            is the tested model.
        TypeError
            If ``answer`` is neither callable nor a DataFrame.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        if not is_integer(budget, 1):
            raise ValueError(f"budget must be a positive integer; got {budget!r}")
        if start_theta is not None and not np.isfinite(_as_float(start_theta, "start_theta")):
            # NaN information at a NaN ability: the first question would be picked in bank order
            raise ValueError(f"start_theta must be a finite ability (or None: the prior mean); got {start_theta!r}")
        if boundary not in BOUNDARY_POLICIES:
            raise ValueError(f"boundary must be one of {_fmt_labels(BOUNDARY_POLICIES)}; got {boundary!r}")
        counts = get_family(self.family).uses_counts
        table_y: Optional[np.ndarray] = None
        table_n: Optional[np.ndarray] = None
        # trials at which candidate questions are ranked (count banks; None: the bank's own)
        rank_n: Optional[np.ndarray] = None
        if isinstance(answer, pd.DataFrame):
            table_y, table_n = self._answer_table(answer, model, question, response, successes, trials, boundary)
            available = np.isfinite(table_y)
            if counts:
                rank_n = table_n
        elif callable(answer):
            available = np.ones(len(self), bool)
            if trials is not None:
                if isinstance(trials, str):
                    raise ValueError(f"with a callable answer, trials= is the number of samples each answer "
                                     f"carries (a number, or one per question), not a column name; got {trials!r}")
                rank_n = self._trials_arg(trials, np.arange(len(self)))
        else:
            raise TypeError("answer must be a callable question -> response or a DataFrame")
        default_n = rank_n if rank_n is not None else self._trials()
        if models is not None:
            keys = models.index if model not in models.columns else pd.Index(models[model])
            if len(models) != 1:
                # the row of the tested model, when the answer table names it
                label = None
                if isinstance(answer, pd.DataFrame) and model in answer.columns and len(answer):
                    label = answer[model].iloc[0]
                if label is None or int((keys == label).sum()) != 1:
                    raise ValueError(
                        f"models= has {len(models)} rows; adaptive testing scores one model: pass the "
                        f"tested model's row" + (f" (no single row for {label!r} in {model!r})"
                                                 if label is not None else "")
                    )
                models, keys = models[np.asarray(keys == label)], keys[keys == label]
            mean, sd = self.prior_moments(models, keys, model)
            mean0, sd0 = float(mean[0]), float(sd[0])
        else:
            mean0, sd0 = self.population
        groups = [g[available[g]] for g in self._groups(by)]
        remaining = [min(budget, len(g)) for g in groups]
        n_planned = sum(remaining)
        if n_planned == 0:  # unreachable with a validated table; a guard against silent prior returns
            raise ValueError("no candidate questions: none of the answered questions is in the bank")
        theta = mean0 if start_theta is None else float(start_theta)
        se = sd0
        asked: List[int] = []
        ys: List[float] = []
        ns: List[float] = []
        history = []
        asked_mask = np.zeros(len(self), bool)
        g = 0
        while sum(remaining) > 0:
            while remaining[g % len(groups)] == 0:
                g += 1
            gi = g % len(groups)
            cand = groups[gi][~asked_mask[groups[gi]]]
            info = self._information_at(theta, cand, None if rank_n is None else rank_n[cand])[0]
            best = int(cand[int(np.argmax(info))])
            label = self.items.index[best]
            if table_y is not None:
                k_ = float(table_y[best])
                n_ = float(table_n[best]) if counts else np.nan
            else:
                n_default = float(default_n[best]) if default_n is not None else 1.0
                k_, n_ = self._answer_reply(label, answer(label), n_default, boundary, n_planned)
            asked.append(best)
            ys.append(k_)
            ns.append(n_)
            asked_mask[best] = True
            remaining[gi] -= 1
            g += 1
            final = sum(remaining) == 0
            theta, se = self._estimate_one(asked, ys, ns, mean0, sd0, method, n_quad, n_threads, final)
            history.append({"question": label, "information": float(info.max()), "response": k_,
                            "theta": theta, "se": se})
        hist = pd.DataFrame(history)
        hist.index.name = "step"
        return AdaptiveResult(questions=self.items.index[asked], responses=np.asarray(ys), theta=theta,
                              se=se, history=hist)

    def _answer_table(self, answer: pd.DataFrame, model, question, response, successes, trials, boundary):
        """One model's answer table for :meth:`adaptive`, validated as :meth:`score` validates
        its input: ``(y, n)``, arrays over the bank's questions (NaN where not answered) of the
        responses after the boundary policy (successes for count banks) and their trials."""
        if successes is not None or trials is not None:
            response = None
        if len(answer) == 0:
            raise ValueError(f"the answer table has no rows (columns {list(answer.columns)}): adaptive "
                             f"testing needs the model's answers to at least one bank question")
        shown = [model, question, response, successes, trials]
        if model in answer.columns:
            found = pd.unique(answer[model].to_numpy())
            if len(found) > 1:
                raise ValueError(
                    f"adaptive testing takes one model's answers, but column {model!r} of the answer table "
                    f"holds {len(found)} models ({_fmt_labels(found)}); pass one model's rows, e.g. "
                    f"answer[answer[{model!r}] == {found[0]!r}]"
                )
        if question in answer.columns and isinstance(answer[question], pd.Series):
            qcol = answer[question]
            dup = (qcol.duplicated(keep=False) & qcol.notna()).to_numpy()
            if dup.any():
                labels = pd.unique(qcol[dup].to_numpy())
                rows = np.flatnonzero(dup)
                raise ValueError(
                    f"column {question!r}: {len(labels)} question(s) appear more than once in the answer "
                    f"table ({_fmt_labels(labels)}; {rows.size} rows; showing {min(5, rows.size)}; the "
                    f"index is the row label of the input):\n{_show_rows(answer, rows, shown)}\n"
                    f"Adaptive testing takes one answer per question: aggregate repeated evaluations "
                    f"first (e.g. mean rate, or summed successes/trials)."
                )
        frame = _drop_unused_categories(answer, (model, question))
        if model not in frame.columns:
            frame = frame.copy(deep=False)
            frame[model] = "answer"
        rd = ResponseData.from_long(
            frame, model=model, question=question, response=response, successes=successes,
            trials=trials, family=self.family, boundary=boundary, squeeze_n=self.squeeze_n,
            family_fixed_by="the item bank",
        )
        rows = self._positions(list(rd.item_labels))[rd.item]
        y = np.full(len(self), np.nan)
        n = np.full(len(self), np.nan)
        y[rows] = rd.y
        if rd.trials is not None:
            n[rows] = rd.trials
        return y, n

    def _answer_reply(self, label, got, n_default: float, boundary: str, n_planned: int):
        """A callable's answer to question ``label``, validated like a one-row answer table:
        ``(y, n)`` with ``y`` after the boundary policy (squeeze with the bank's
        :attr:`squeeze_n`, else with ``n_planned`` responses)."""
        fam = get_family(self.family)
        if fam.uses_counts and isinstance(got, (tuple, list, np.ndarray)) and np.size(got) == 2:
            values = {"successes": np.ravel(np.asarray(got, object))[0],
                      "trials": np.ravel(np.asarray(got, object))[1]}
        else:
            flat = np.ravel(np.asarray(got, object))
            if flat.size != 1:
                what = "a response k or a pair (k, n)" if fam.uses_counts else "one response"
                raise ValueError(f"answer({label!r}) returned {got!r}; expected {what}")
            values = ({"successes": flat[0], "trials": n_default} if fam.uses_counts else {"y": flat[0]})
        frame = pd.DataFrame({"question": [label], **{c: [v] for c, v in values.items()}})
        frame.insert(0, "model", "answer")
        columns = dict(successes="successes", trials="trials") if fam.uses_counts else dict(response="y")
        try:
            # the support checks of a table (clip accepts 0 and 1: the boundary policy follows,
            # since squeeze needs the number of responses, which a single row does not know)
            rd = ResponseData.from_long(frame, family=fam, boundary="clip", **columns)
        except ValueError as err:
            raise ValueError(f"answer({label!r}) returned {got!r}, not a valid response to question "
                             f"{label!r}: {err}") from None
        if fam.uses_counts:
            return float(rd.y[0]), float(rd.trials[0])
        if fam.name != "beta" or boundary == "clip":
            return float(rd.y[0]), np.nan
        raw = np.array([float(values["y"])])
        if boundary == "error" and raw[0] in (0.0, 1.0):
            raise ValueError(f"answer({label!r}) returned {got!r}: the response to question {label!r} is "
                             f"exactly {raw[0]:g}, outside the open interval (0, 1) of family 'beta'. Options: "
                             f"boundary='clip' (to [eps, 1-eps], eps={rd.eps:g}) or boundary='squeeze' "
                             f"(Smithson & Verkuilen 2006: (y*(n-1) + 0.5)/n, n = "
                             + ("the calibration's number of responses)" if self.squeeze_n is not None
                                else "the questions asked)"))
        # squeeze with the calibration's n, as score() does; a bank without it: the number of
        # responses the test collects, as score() of them would use
        n_sq = self.squeeze_n if self.squeeze_n is not None else float(n_planned)
        y = raw if boundary == "error" else _apply_boundary(
            raw, np.array([n_sq]), "squeeze", rd.eps, frame, "y", ["question", "y"], False)[0]
        return float(y[0]), np.nan

    def _estimate_one(self, pos, ys, ns, mean, sd, method, n_quad, n_threads, final):
        m = len(pos)
        counts = get_family(self.family).uses_counts
        kd = _kernel.KernelData(
            np.zeros(m, np.int32), np.asarray(pos, np.int32), np.asarray(ys, float), n_models=1,
            n_items=len(self), family=self.family, trials=np.asarray(ns, float) if counts else None,
            model_ptr=np.array([0, m], np.int64), n_threads=n_threads,
        )
        with warnings.catch_warnings():
            if not final:
                warnings.simplefilter("ignore", IRSLWarning)
            est = estimate_abilities(kd, self.items["a"].to_numpy(), self.items["d"].to_numpy(), self._log_phi(),
                                     np.array([mean]), np.array([sd]), method=method, n_quad=n_quad,
                                     n_threads=n_threads, labels=["model"])
        return float(est.theta[0]), float(est.se[0])


def _as_float(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None


def _target_ability(value, what: str) -> float:
    """The target ability ``value`` of ``select(strategy="information")`` as a finite float, or a
    ValueError naming it as ``what``."""
    # float() of an array raised a bare TypeError ("only 0-dimensional arrays can be converted"),
    # naming no argument, and turned a length-1 array or the string "1" into a target silently
    if isinstance(value, (str, bytes, bool, np.bool_)) or np.ndim(value) != 0:
        shape = f" (shape {np.shape(value)})" if np.ndim(value) else ""
        raise ValueError(f"{what} must be one finite ability (a number; a dict maps each group to its "
                         f"own) for strategy='information'; got {value!r}{shape}")
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a finite ability (a number) for strategy='information'; "
                         f"got {value!r}") from None
    # NaN information ranks arbitrarily: a NaN target would silently give bank order
    if not np.isfinite(t):
        raise ValueError(f"{what} must be a finite ability for strategy='information'; got {value!r}")
    return t


def bank_kernel_data(questions: pd.Index, family: str, rd: ResponseData, n_threads) -> "_kernel.KernelData":
    """Kernel data of responses to bank questions, question indices into the bank's order
    (``questions``, length N); unknown questions are an error that lists them."""
    pos = questions.get_indexer(rd.item_labels)
    if (pos < 0).any():
        raise ValueError(_unknown_message(list(rd.item_labels[pos < 0]), questions))
    return _kernel.KernelData(
        rd.model, pos[rd.item], rd.y, n_models=rd.n_models, n_items=len(questions),
        family=family, trials=rd.trials if rd.family.uses_counts else None,
        weight=rd.weights, model_ptr=rd.model_ptr, n_threads=n_threads,
    )


def _unknown_message(unknown: Sequence, known: Optional[pd.Index] = None) -> str:
    """Error text for questions that are not in the bank; with the bank's labels ``known``, a
    hint when the labels only differ in type (``1`` vs ``"1"``), which print alike."""
    unknown = [q.item() if isinstance(q, np.generic) else q for q in unknown]
    shown = ", ".join(repr(q) for q in unknown[:20])
    more = f", ... ({len(unknown)} in total)" if len(unknown) > 20 else ""
    text = (f"{len(unknown)} question(s) are not in the item bank: {shown}{more}. Score only "
            "calibrated questions (bank.questions), or recalibrate including them")
    if known is not None and len(known):
        as_text = {str(q): q for q in known}
        twins = [(q, as_text[str(q)]) for q in unknown if str(q) in as_text]
        if twins:
            q, k = twins[0]
            text += (f". The bank has labels that differ only in type: {k!r} ({type(k).__name__}) "
                     f"vs {q!r} ({type(q).__name__}) for {len(twins)} of them; convert the question "
                     f"labels (e.g. .astype({type(k).__name__}))")
    return text


# ================================================================================ calibrate
def calibrate(
    responses: pd.DataFrame,
    *,
    model: str = "model",
    question: str = "question",
    response: Optional[str] = "y",
    successes: Optional[str] = None,
    trials: Optional[str] = None,
    benchmark: Optional[str] = None,
    family: str = "beta",
    irt: str = "2pl",
    precision="item",
    method: str = "mml",
    boundary: str = "error",
    n_threads: Optional[int] = None,
    **fit_kwargs,
) -> ItemBank:
    """Calibrate questions: ``irsl.fit("ability ~ 1", ...)`` and its :meth:`item_bank`.

    Column names and options are those of :func:`irsl_stats.fit` (``**fit_kwargs`` are passed
    on, e.g. ``identification=``, ``n_quad=``). For count families the bank records the median
    number of trials per question, rounded half up to a whole number (used by
    :meth:`ItemBank.information`).

    Parameters
    ----------
    responses : DataFrame or ResponseData
        Long responses of the calibration models: one row per (model, question); or a
        :class:`~irsl_stats.ResponseData` (its trials give the per-question median for count
        families; the column arguments are then not used).
    model, question : str
        Columns holding the model and question labels.
    response : str or None
        Column of the response (beta and Bernoulli families).
    successes, trials : str, optional
        Columns of the counts (binomial and beta-binomial families).
    benchmark : str, optional
        Column of the questions' benchmarks; the bank keeps it (``ItemBank.select(by=...)``,
        per-benchmark forecasts).
    family : {"beta", "bernoulli", "binomial", "beta_binomial"}
    irt : {"2pl", "1pl"}
    precision : {"item", "common"} or "~ <formula>" or float
        Precision model of the beta families, as in :func:`irsl_stats.fit`.
    method : {"mml", "jml"}
        Estimator, as in :func:`irsl_stats.fit`.
    boundary : {"error", "squeeze", "clip"}
        Beta responses exactly 0 or 1, as in :func:`irsl_stats.fit`. The bank records the ``n``
        of the squeeze (the number of rows of ``responses``, :attr:`ItemBank.squeeze_n`), with
        which :meth:`ItemBank.score` squeezes new responses.
    n_threads : int or None
        Kernel threads (None: OpenMP default, -1: all cores).
    **fit_kwargs
        Further options of :func:`irsl_stats.fit`.

    Returns
    -------
    ItemBank
        For one shared ability; a :class:`~irsl_stats.crossbench.MultidimBank` with
        ``dims != 1`` or ``ability="per_benchmark"`` (passed on to :func:`irsl_stats.fit`).

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, seed=1)
    >>> bank = irsl.calibrate(sim.responses, benchmark="benchmark")
    >>> len(bank), bank.benchmarks.tolist()
    (30, ['bench0', 'bench1'])
    >>> bank.items[["a", "d", "b", "phi"]].shape
    (30, 4)

    Count families take the columns of successes and trials:

    >>> sim = irsl.simulate.irt(n_models=40, n_questions=30, family="binomial", seed=1)
    >>> bank = irsl.calibrate(sim.responses, family="binomial", successes="successes",
    ...                       trials="trials")
    >>> bank.family, float(bank.items["trials"].median())
    ('binomial', 20.0)
    """
    from .api import fit

    res = fit(
        "ability ~ 1", data=responses, model=model, question=question, response=response,
        successes=successes, trials=trials, benchmark=benchmark, family=family, irt=irt,
        precision=precision, method=method, boundary=boundary, n_threads=n_threads, **fit_kwargs,
    )
    if not isinstance(res, IRSLResults):  # dims != 1 or ability="per_benchmark"
        return res.item_bank()
    return ItemBank.from_results(res)  # count families: each question's median trials in the data
