"""Loaders: evaluation outputs on disk -> the long format of :class:`~irsl_stats.ResponseData`.

Three public formats are read:

- :func:`read_lm_eval_samples` -- the per-sample JSONL files that lm-evaluation-harness writes with
  ``--log_samples`` (``<output_dir>/<model_name_sanitized>/samples_<task>_<timestamp>.jsonl``):
  one row per (model, question) with the probability of the correct choice and the accuracy.
- :func:`read_counts` -- sample-count tables (repeated sampling, test-time scaling): one row per
  (model, question) with ``successes`` out of ``trials``.
- :func:`to_long` / :func:`from_matrix` -- wide models x questions matrices with NaN = not asked.

Every loader returns a plain pandas DataFrame (or, for :func:`from_matrix`, a
:class:`~irsl_stats.ResponseData`), so the result can be filtered, joined to a model table and
passed to :func:`irsl_stats.fit` with the default column names ``model``, ``question``, ``y``
(or ``successes=``/``trials=``) and ``benchmark``.

This module is pure Python/pandas/numpy; it never imports the compiled kernel.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, Hashable, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from .data import MissingColumnError, ResponseData, benchmark_per_question, wide_matrix_values

__all__ = ["read_lm_eval_samples", "read_counts", "to_long", "from_matrix", "LM_EVAL_NORMALIZATIONS"]

PathLike = Union[str, "os.PathLike[str]"]

#: Valid values of ``normalize=`` in :func:`read_lm_eval_samples`.
LM_EVAL_NORMALIZATIONS: Tuple[str, ...] = ("none", "length", "bytes")

_MAX_SHOW = 5

# lm-evaluation-harness names the file samples_<task>_<datetime.now().isoformat() with ':' -> '-'>.jsonl
_SAMPLES_NAME = re.compile(
    r"^samples_(?P<task>.+?)_(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:[.\d]*)?)$"
)

# metrics that, for records without per-choice log-likelihoods, give the 0/1 correctness
_GENERATION_METRICS: Tuple[str, ...] = ("exact_match", "acc")


# --------------------------------------------------------------------------------------------------
# lm-evaluation-harness --log_samples
# --------------------------------------------------------------------------------------------------


class _RecordError(ValueError):
    """Problem with one record; re-raised with the file name and line number."""


def _samples_files(paths: Union[PathLike, Iterable[PathLike]]) -> List[Path]:
    """Expand files / directories (recursively, ``samples_*.jsonl[.gz]``) into a sorted file list."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        items: List[Any] = [paths]
    else:
        items = list(paths)
        if not items:
            raise ValueError("paths is empty: give a samples_*.jsonl file, a directory, or a list of them")
    files: List[Path] = []
    for item in items:
        p = Path(os.fsdecode(item))
        if p.is_dir():
            found = sorted(set(p.rglob("samples_*.jsonl")) | set(p.rglob("samples_*.jsonl.gz")))
            if not found:
                raise ValueError(f"no lm-evaluation-harness samples_*.jsonl files under directory {str(p)!r}")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such file or directory: {str(p)!r}")
    seen: Dict[Path, None] = {}
    for f in files:  # the same file reached twice (e.g. a directory and a file in it) is read once
        seen.setdefault(f.resolve(), None)
    return list(seen)


def _task_from_filename(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    m = _SAMPLES_NAME.match(name)
    if m:
        return m.group("task")
    return name[len("samples_"):] if name.startswith("samples_") and len(name) > 8 else name


def _iter_json_lines(path: Path) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """(line number, record) for each non-blank line; malformed JSON raises naming file and line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{path}: line {lineno}: expected a JSON object, got {type(rec).__name__}")
            yield lineno, rec


def _as_float(value: Any) -> Optional[float]:
    """A log-likelihood as float (numbers or numeric strings, as some harness versions write them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _choice_loglik(entry: Any) -> Optional[Tuple[float, Optional[bool]]]:
    """(loglik, is_greedy) of one choice from ``[ll, greedy]`` or ``[[ll, greedy]]``; None if not one."""
    node = entry
    # resps nests one level deeper than filtered_resps: [[ll, greedy]] vs [ll, greedy]
    while isinstance(node, list) and len(node) == 1 and isinstance(node[0], list):
        node = node[0]
    if isinstance(node, list) and len(node) == 2:
        ll = _as_float(node[0])
        if ll is None:
            return None
        g = node[1]
        greedy = g if isinstance(g, bool) else ({"True": True, "False": False}.get(g) if isinstance(g, str) else None)
        return ll, greedy
    return None


def _logliks(rec: Dict[str, Any]) -> Optional[Tuple[np.ndarray, List[Optional[bool]]]]:
    """Per-choice log-likelihoods from ``filtered_resps`` (preferred) or ``resps``; None if absent."""
    for key in ("filtered_resps", "resps"):
        resps = rec.get(key)
        if not isinstance(resps, list) or not resps:
            continue
        parsed = [_choice_loglik(e) for e in resps]
        if all(p is not None for p in parsed):
            lls = np.array([p[0] for p in parsed], dtype=np.float64)  # type: ignore[index]
            return lls, [p[1] for p in parsed]  # type: ignore[index]
        if key == "filtered_resps":
            # filtered_resps holds something else (a generation record's text): resps then holds the
            # raw generations, which can look like [loglik, is_greedy] pairs (e.g. [["12", "True"]])
            return None
    return None


# fields of a harness record that are not per-question metrics
_RECORD_FIELDS = frozenset({
    "doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "task",
    "doc_hash", "prompt_hash", "target_hash",
})


def _metric_fields(rec: Dict[str, Any]) -> List[str]:
    """The record's metric names: its ``metrics`` list (recent harness versions), else its other fields."""
    listed = rec.get("metrics")
    if isinstance(listed, list) and all(isinstance(m, str) for m in listed):
        return list(listed)
    return [str(k) for k in rec if k not in _RECORD_FIELDS]


def _continuations(rec: Dict[str, Any], n: int) -> Optional[List[str]]:
    """Continuation string of each choice from ``arguments`` (list of [context, continuation] pairs,
    or the ``{"gen_args_0": {"arg_0": context, "arg_1": continuation}, ...}`` form); None if absent."""
    args = rec.get("arguments")
    if isinstance(args, Mapping):
        try:
            keys = sorted(args, key=lambda k: int(str(k).rsplit("_", 1)[-1]))
        except ValueError:
            keys = list(args)
        items = []
        for k in keys:
            a = args[k]
            items.append(a.get("arg_1") if isinstance(a, Mapping) else None)
    elif isinstance(args, list):
        items = [a[1] if isinstance(a, list) and len(a) >= 2 else None for a in args]
    else:
        return None
    if len(items) != n or not all(isinstance(c, str) for c in items):
        return None
    return items  # type: ignore[return-value]


def _target_index(target: Any, conts: Optional[List[str]], n: int) -> int:
    if isinstance(target, list) and len(target) == 1:
        target = target[0]
    if isinstance(target, bool):
        raise _RecordError(f"'target' is a boolean ({target!r}), not the index of the correct choice")
    if isinstance(target, (int, np.integer)) or (isinstance(target, float) and float(target).is_integer()):
        idx = int(target)
    elif isinstance(target, str) and target.strip().lstrip("-").isdigit():
        idx = int(target.strip())
    elif isinstance(target, str):
        if conts is None:
            raise _RecordError(
                f"'target' {target!r} is text and the record has no 'arguments' continuations to match it"
            )
        hits = [i for i, c in enumerate(conts) if c.strip() == target.strip()]
        if len(hits) != 1:
            raise _RecordError(
                f"'target' {target!r} matches {len(hits)} of the {n} choice continuations (need exactly one)"
            )
        idx = hits[0]
    else:
        raise _RecordError(f"'target' {target!r} is not the index of the correct choice")
    if not 0 <= idx < n:
        raise _RecordError(f"'target' {idx} is out of range for {n} choices")
    return idx


def _zero_one(value: Any, name: str) -> int:
    if isinstance(value, bool):
        return int(value)
    v = _as_float(value)
    if v is None or v not in (0.0, 1.0):
        raise _RecordError(f"{name!r} must be 0 or 1 (or a boolean), got {value!r}")
    return int(v)


def _parse_record(
    rec: Dict[str, Any], normalize: str, metric: Optional[str]
) -> Tuple[float, int, int]:
    """(y, acc, n_choices) of one record; raises _RecordError naming the problem."""
    found = _logliks(rec)
    if found is None:
        # no per-choice log-likelihoods: a generation record scored by a 0/1 metric
        names = (metric,) if metric is not None else _GENERATION_METRICS
        for name in names:
            if name in rec:
                v = _zero_one(rec[name], name)
                return float(v), v, 0
        fields = _metric_fields(rec)
        wanted = (f"the metric={metric!r} field" if metric is not None else
                  f"a supported 0/1 metric (supported: {', '.join(repr(m) for m in names)})")
        raise _RecordError(
            "record has neither per-choice log-likelihoods ('filtered_resps'/'resps' as [loglik, is_greedy] "
            f"per choice) nor {wanted}; the record's metric fields: {fields!r}; pass metric= to name "
            f"its 0/1 metric"
        )
    lls, greedy = found
    n = len(lls)
    if np.isnan(lls).any() or np.isposinf(lls).any():
        raise _RecordError(f"log-likelihoods must be finite or -inf, got {lls.tolist()}")
    if n == 1 and lls[0] > 0:
        # y = exp(loglik) is the probability of the target continuation: a positive log-likelihood
        # (P > 1) is not a log-probability (a softmax over several choices is shift-invariant, so
        # multiple-choice scores are not checked)
        raise _RecordError(
            f"single-choice log-likelihood {float(lls[0])!r} is > 0: a log-probability is <= 0 "
            f"(its exp, the target's probability, would be > 1)"
        )
    if not np.isfinite(lls).any():
        raise _RecordError("all log-likelihoods are -inf")
    scores = lls
    if normalize != "none":
        conts = _continuations(rec, n)
        if conts is None:
            raise _RecordError(
                f"normalize={normalize!r} needs the continuation of each choice in 'arguments' "
                f"({n} [context, continuation] pairs)"
            )
        lengths = np.array([len(c) if normalize == "length" else len(c.encode("utf-8")) for c in conts],
                           dtype=np.float64)
        if (lengths == 0).any():
            raise _RecordError(f"normalize={normalize!r}: a choice has an empty continuation")
        scores = lls / lengths
    if n == 1:
        # a single loglikelihood request (e.g. LAMBADA): the probability of the target continuation
        y = float(np.exp(scores[0]))
        if "acc" in rec:
            acc = _zero_one(rec["acc"], "acc")
        elif greedy[0] is not None:
            acc = int(greedy[0])
        else:
            raise _RecordError("single-choice record without 'acc' or an is_greedy flag")
        return y, acc, 1
    if "target" not in rec:
        raise _RecordError("record has per-choice log-likelihoods but no 'target' field")
    conts_t = _continuations(rec, n)
    t = _target_index(rec["target"], conts_t, n)
    finite = scores[np.isfinite(scores)]
    top = finite.max()
    lse = top + math.log(float(np.exp(finite - top).sum()))  # stable log-sum-exp
    y = float(np.exp(scores[t] - lse)) if np.isfinite(scores[t]) else 0.0
    if "acc" in rec:
        acc = _zero_one(rec["acc"], "acc")
    else:
        acc = int(int(np.argmax(lls)) == t)
    return y, acc, n


def _choose_filters(
    records: List[Tuple[int, Dict[str, Any]]],
    prefer: Optional[Sequence[str]],
    path: Path,
) -> Optional[str]:
    names = list(dict.fromkeys(r.get("filter") for _, r in records if isinstance(r.get("filter"), str)))
    if len(names) <= 1:
        return None  # keep every record
    for name in prefer or ():
        if name in names:
            return name
    hint = f" none of filter={list(prefer)!r} is among them;" if prefer else ""
    raise ValueError(
        f"{path}: the records come from {len(names)} lm-evaluation-harness filters "
        f"{names!r};{hint} choose one with filter= (a name, or a list of names in order of preference)"
    )


def read_lm_eval_samples(
    paths: Union[PathLike, Iterable[PathLike]],
    model: Optional[str] = None,
    task: Optional[str] = None,
    normalize: str = "none",
    filter: Optional[Union[str, Sequence[str]]] = None,  # noqa: A002 - the harness's own name
    metric: Optional[str] = None,
) -> pd.DataFrame:
    """Read lm-evaluation-harness ``--log_samples`` JSONL files into a long response table.

    The harness writes one file per task, ``samples_<task>_<timestamp>.jsonl``, usually under
    ``<output_dir>/<model_name_sanitized>/``. Each line is one question (``doc_id``) with the
    per-choice log-likelihoods (``filtered_resps``/``resps``: ``[loglik, is_greedy]`` per choice),
    the index of the correct choice (``target``), the requests (``arguments``: ``[context,
    continuation]`` per choice, or the ``{"gen_args_i": {"arg_0": ..., "arg_1": ...}}`` form of
    recent versions) and the per-question metrics (``acc``, ``acc_norm``, ``exact_match``...).

    Parameters
    ----------
    paths : path, or list-like of paths
        A samples file (``.jsonl`` or ``.jsonl.gz``), a directory (searched recursively for
        ``samples_*.jsonl`` and ``samples_*.jsonl.gz``), or a list of these.
    model : str, optional
        Model name for every row. Default: the name of each file's parent directory (the harness's
        sanitized model name, e.g. ``EleutherAI__pythia-160m``), so a directory holding several
        model folders yields several models.
    task : str, optional
        Benchmark name for every row. Default: the record's ``task`` field if it is a string, else
        the task in the file name (``samples_<task>_<timestamp>.jsonl``).
    normalize : {"none", "length", "bytes"}
        Scores whose softmax over the choices gives ``y``: ``"none"`` -- the log-likelihoods
        (the probability of the correct choice renormalised over the choices); ``"length"`` -- each
        log-likelihood divided by the length of its continuation in characters (the harness's
        ``acc_norm`` scores); ``"bytes"`` -- divided by the length in UTF-8 bytes. The normalised
        variants need the continuations in ``arguments``. They are a heuristic (a softmax of
        per-character log-likelihoods is not a probability of the answer) and are offered to match
        ``acc_norm`` rankings.
    filter : str or list of str, optional
        For files whose records come from several harness filters (e.g. ``gsm8k``: ``strict-match``
        and ``flexible-extract``, one record per question each): the filter to keep, or names in
        order of preference. Files with a single filter keep all records. Required when a file has
        several filters.
    metric : str, optional
        For records without per-choice log-likelihoods (``generate_until`` tasks), the 0/1 metric
        to use as the response. Default: ``exact_match``, else ``acc``.

    Returns
    -------
    pandas.DataFrame
        One row per (model, question), in file then line order, with columns

        - ``model`` (str), ``benchmark`` (str: the task), ``question`` (str: ``f"{task}/{doc_id}"``),
          ``doc_id`` (as in the file);
        - ``y`` (float): the probability of the correct choice, ``softmax(scores)[target]`` with the
          scores of ``normalize=``, computed with a stable log-sum-exp. For a single
          loglikelihood request (``n_choices == 1``, e.g. LAMBADA) it is ``exp(score)``, the
          probability of the target continuation. For records without per-choice log-likelihoods
          (generation tasks, ``n_choices == 0``) it is the record's 0/1 ``metric`` -- a Bernoulli
          response, not a probability; fit those with ``family="bernoulli"`` or a boundary policy.
          Probabilities can round to exactly 0 or 1; use ``boundary="squeeze"``/``"clip"`` in
          the fit;
        - ``acc`` (int, 0/1): the record's ``acc`` if present, else whether the highest raw
          log-likelihood is the target (single requests: the ``is_greedy`` flag; generation
          records: the metric);
        - ``n_choices`` (int): number of choices (1 for a single request, 0 for generation records).

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    ValueError
        Malformed JSON, a record missing a required field (``doc_id``; ``target`` for
        multiple-choice records; a 0/1 metric for generation records, whose ``filtered_resps`` hold
        text), or a single-choice log-likelihood above 0 -- the message names the file and the line
        number; several filters in a file without ``filter=``; a (model, question)
        pair read twice (e.g. two runs of a task in one directory) -- the message names the pairs
        and the files.

    Examples
    --------
    >>> import json, math, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "EleutherAI__pythia-160m"
    >>> d.mkdir()
    >>> rec = {"doc_id": 0, "target": 1, "arguments": [["Q:", " a"], ["Q:", " b"]],
    ...        "filtered_resps": [[math.log(0.2), False], [math.log(0.6), True]], "acc": 1.0}
    >>> _ = (d / "samples_arc_easy_2024-01-01T00-00-00.000001.jsonl").write_text(json.dumps(rec) + "\\n")
    >>> df = read_lm_eval_samples(d.parent)
    >>> df[["model", "benchmark", "question", "y", "acc", "n_choices"]].round(3).to_dict("records")
    [{'model': 'EleutherAI__pythia-160m', 'benchmark': 'arc_easy', 'question': 'arc_easy/0', 'y': 0.75, 'acc': 1, 'n_choices': 2}]
    """
    if normalize not in LM_EVAL_NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {LM_EVAL_NORMALIZATIONS!r}, got {normalize!r}")
    if model is not None and not isinstance(model, str):
        raise TypeError(f"model= must be a string (one model name for every file), got {type(model).__name__}")
    if task is not None and not isinstance(task, str):
        raise TypeError(f"task= must be a string, got {type(task).__name__}")
    prefer: Optional[List[str]] = [filter] if isinstance(filter, str) else (list(filter) if filter else None)

    rows: Dict[str, list] = {k: [] for k in ("model", "benchmark", "question", "doc_id", "y", "acc", "n_choices")}
    origin: List[str] = []
    for path in _samples_files(paths):
        records = list(_iter_json_lines(path))
        keep_filter = _choose_filters(records, prefer, path)
        file_task = task if task is not None else _task_from_filename(path)
        model_name = model if model is not None else path.parent.name
        for lineno, rec in records:
            if keep_filter is not None and rec.get("filter") != keep_filter:
                continue
            where = f"{path}: line {lineno}"
            if "doc_id" not in rec:
                raise ValueError(f"{where}: record has no 'doc_id' field (fields: {sorted(rec)[:12]})")
            doc_id = rec["doc_id"]
            if isinstance(doc_id, (dict, list)) or doc_id is None:
                raise ValueError(f"{where}: 'doc_id' must be a number or a string, got {doc_id!r}")
            try:
                y, acc, n_choices = _parse_record(rec, normalize, metric)
            except _RecordError as exc:
                raise ValueError(f"{where} (doc_id {doc_id!r}): {exc}") from None
            bench = task if task is not None else (rec["task"] if isinstance(rec.get("task"), str) else file_task)
            rows["model"].append(model_name)
            rows["benchmark"].append(bench)
            rows["question"].append(f"{bench}/{doc_id}")
            rows["doc_id"].append(doc_id)
            rows["y"].append(y)
            rows["acc"].append(acc)
            rows["n_choices"].append(n_choices)
            origin.append(where)

    out = pd.DataFrame({
        "model": pd.Series(rows["model"], dtype=object),
        "benchmark": pd.Series(rows["benchmark"], dtype=object),
        "question": pd.Series(rows["question"], dtype=object),
        "doc_id": pd.Series(rows["doc_id"], dtype=object),
        "y": np.asarray(rows["y"], dtype=np.float64),
        "acc": np.asarray(rows["acc"], dtype=np.int64),
        "n_choices": np.asarray(rows["n_choices"], dtype=np.int64),
    })
    if out.empty:
        raise ValueError("the samples files contain no records")
    dup = out.duplicated(["model", "question"], keep=False).to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        pairs = list(dict.fromkeys(zip(out["model"].to_numpy()[pos], out["question"].to_numpy()[pos])))
        shown = "; ".join(
            f"({m!r}, {q!r}) at " + ", ".join(origin[i] for i in pos
                                               if out["model"].iat[i] == m and out["question"].iat[i] == q)
            for m, q in pairs[:_MAX_SHOW]
        )
        raise ValueError(
            f"{len(pairs)} (model, question) pair(s) are read more than once (showing "
            f"{min(len(pairs), _MAX_SHOW)}): {shown}. Two runs of the same task for one model? Pass "
            f"only one of the files (or model= different names per run)."
        )
    return out


# --------------------------------------------------------------------------------------------------
# sample-count tables
# --------------------------------------------------------------------------------------------------


_COMPRESSIONS: Tuple[str, ...] = (".gz", ".bz2", ".xz", ".zip", ".zst")

# decompressing openers for counting the lines of a file (others: no line numbers)
_TEXT_OPENERS: Dict[Optional[str], Any] = {None: open, ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _split_compression(path: Path) -> Tuple[str, Optional[str]]:
    """(lower-case file name without the compression suffix, the suffix or None)."""
    name = path.name.lower()
    for comp in _COMPRESSIONS:
        if name.endswith(comp):
            return name[: -len(comp)], comp
    return name, None


def _is_parquet(path: Path) -> bool:
    return _split_compression(path)[0].endswith((".parquet", ".pq"))


def _text_sep(path: Path, sep: Optional[str]) -> Optional[str]:
    """The delimiter of a text table: ``sep``, else implied by the extension, else None (sniffed)."""
    if sep is not None:
        return sep
    name = _split_compression(path)[0]
    if name.endswith((".tsv", ".tab")):
        return "\t"
    if name.endswith(".csv"):
        return ","
    return None


def _read_table(path: Path, sep: Optional[str], labels: Sequence[Hashable]) -> pd.DataFrame:
    """Read a count table; the columns named in ``labels`` are read as text, exactly as written.

    The other columns are parsed by pandas as usual (numbers, NA values). In the label columns only
    an empty field is missing: ``0001`` stays ``"0001"`` and ``NA``/``None``/``nan`` are labels.
    """
    if _is_parquet(path):
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise ImportError(
                f"{path}: reading parquet needs pyarrow or fastparquet ({exc}); install one, or "
                f"save the table as CSV/TSV"
            ) from None
    sep = _text_sep(path, sep)
    # unknown extension: let the python engine sniff the delimiter
    opts: Dict[str, Any] = {"sep": None, "engine": "python"} if sep is None else {"sep": sep}
    frame = pd.read_csv(path, **opts)
    # pandas guesses types and NA values per column; read the label columns again as plain text
    # (a second pass over the file: per-column NA rules are not possible in one read)
    pos = [i for i, c in enumerate(frame.columns) if any(c == lab for lab in labels)]
    if pos:
        text = pd.read_csv(path, usecols=pos, dtype=str, keep_default_na=False, na_values=[""], **opts)
        if text.shape != (len(frame), len(pos)):
            raise ValueError(
                f"{path}: could not read the label columns "
                f"{', '.join(repr(frame.columns[i]) for i in pos)} as text: got {text.shape[0]} rows "
                f"of {text.shape[1]} columns for a table of {len(frame)} rows"
            )
        for j, i in enumerate(pos):
            frame.isetitem(i, text.iloc[:, j])
    return frame


def _file_lines(path: Path, sep: Optional[str], frame: pd.DataFrame) -> Optional[np.ndarray]:
    """Line of the file on which each data row of ``frame`` starts, or None if not established.

    Counts physical lines with the csv module (quoted fields may span lines; blank lines, which
    pandas skips, are skipped). Returns None -- so no line number is claimed -- for a sniffed or
    multi-character delimiter, an unsupported compression, a header that differs from the columns
    pandas read, or a number of records that differs from the number of rows.
    """
    comp = _split_compression(path)[1]
    if sep is None or len(sep) != 1 or comp not in _TEXT_OPENERS:
        return None
    starts: List[int] = []
    header: Optional[List[str]] = None
    try:
        with _TEXT_OPENERS[comp](path, "rt", encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=sep)
            prev = 0
            for rec in reader:
                start, prev = prev + 1, reader.line_num
                if not rec or (len(rec) == 1 and not rec[0].strip()):
                    continue  # a blank line
                if header is None:
                    header = rec
                else:
                    starts.append(start)
    except (OSError, UnicodeDecodeError, csv.Error, EOFError, lzma.LZMAError):
        return None
    if header is None or header != [str(c) for c in frame.columns] or len(starts) != len(frame):
        return None
    return np.asarray(starts, dtype=np.int64)


class _FileRows:
    """Where the rows of a count table read from a text file are (for error messages)."""

    def __init__(self, path: Path, sep: Optional[str]) -> None:
        self.path, self.sep = path, _text_sep(path, sep)


def _bad_rows(source: str, column: Hashable, problem: str, frame: pd.DataFrame, bad: np.ndarray,
              columns: Sequence[Hashable], rows: Optional[_FileRows]) -> None:
    """Raise a ValueError naming ``column`` and showing up to five offending rows.

    ``rows`` is None when the rows are named by the index of ``frame`` (a DataFrame input, or a
    parquet file), else the text file they come from: they are then named by their line in the
    file when it can be established, and otherwise by their position among the data rows.
    """
    pos = np.flatnonzero(bad)
    shown = frame.iloc[pos[:_MAX_SHOW]].loc[:, [c for c in dict.fromkeys(columns) if c in frame.columns]]
    if rows is None:
        where = "the index is the row label of the input"
    else:
        lines = _file_lines(rows.path, rows.sep, frame)
        if lines is not None:
            shown = shown.set_axis(pd.Index(lines[pos[:_MAX_SHOW]], name="line"), axis=0)
            where = "line = line of the file"
        else:
            shown = shown.set_axis(pd.Index(pos[:_MAX_SHOW] + 1, name="data row"), axis=0)
            where = "data row = the row's position among the non-blank rows after the header, from 1"
    raise ValueError(
        f"{source}: column {column!r}: {len(pos)} of {len(frame)} rows {problem} "
        f"(showing {min(len(pos), _MAX_SHOW)}; {where}):\n{shown.to_string()}"
    )


def _question_per_benchmark(bench: pd.Series, quest: pd.Series, source: str, b_col: Hashable,
                            q_col: Hashable) -> pd.Series:
    """Question labels unique across benchmarks: ``quest`` itself when no id appears under two
    benchmarks, else ``f"{benchmark}/{question}"`` for every row (as :func:`read_lm_eval_samples`)."""
    pairs = pd.DataFrame({"b": bench.astype(object).to_numpy(), "q": quest.astype(object).to_numpy()})
    distinct = pairs.drop_duplicates()
    if not distinct["q"].duplicated().any():
        return quest
    named = distinct.assign(label=[f"{b}/{q}" for b, q in zip(distinct["b"], distinct["q"])])
    clash = named["label"].duplicated(keep=False).to_numpy()
    if clash.any():  # e.g. a benchmark name with a "/", or ids 1 and "1" in one benchmark
        shown = named.loc[clash].head(_MAX_SHOW)  # repr: tells the id 1 from the id "1"
        shown = pd.DataFrame({b_col: [repr(x) for x in shown["b"]], q_col: [repr(x) for x in shown["q"]],
                              "label": [repr(x) for x in shown["label"]]})
        raise ValueError(
            f"{source}: question ids repeat across the benchmarks of column {b_col!r}, and the labels "
            f"f\"{{benchmark}}/{{question}}\" that would tell them apart are not unique "
            f"(showing {len(shown)} of {int(clash.sum())} (benchmark, question) pairs):\n"
            f"{shown.to_string(index=False)}"
        )
    labels = [f"{b}/{q}" for b, q in zip(pairs["b"], pairs["q"])]
    return pd.Series(labels, index=quest.index, dtype=object, name=quest.name)


def read_counts(
    path_or_df: Union[PathLike, pd.DataFrame],
    model: Hashable = "model",
    question: Hashable = "problem",
    successes: Hashable = "n_correct",
    trials: Hashable = "n_samples",
    benchmark: Optional[Hashable] = None,
    sep: Optional[str] = None,
    *,
    benchmark_label: Optional[str] = None,
) -> pd.DataFrame:
    """Read a sample-count table (k successes out of n samples per model and question).

    Parameters
    ----------
    path_or_df : path or pandas.DataFrame
        A CSV (``.csv``), TSV (``.tsv``/``.tab``), parquet (``.parquet``/``.pq``, needs pyarrow or
        fastparquet) or other delimited text file (delimiter sniffed), optionally compressed
        (``.gz``...), or a DataFrame already in memory.
    model, question, successes, trials : hashable
        Names of the model label, question label, successes ``k`` and trials ``n`` columns.
        The defaults match the Pythia "monkeys" tables (``model, problem, n_samples, n_correct``).
        In a text file the label columns (model, question, benchmark) are read as text, exactly
        as written: ``0001`` stays ``"0001"`` (not the number 1), ``007`` and ``7`` are different
        questions, and ``NA``, ``None`` or ``nan`` are labels; only an empty field is a missing
        label. The count columns and the other columns are parsed as usual. The labels of a
        DataFrame or a parquet file keep their dtype.
    benchmark : hashable, optional
        Name of a column with the benchmark of each question. Question ids then need only be
        unique within a benchmark (e.g. GSM8K and MATH problems both numbered from 0): when an id
        appears under more than one benchmark, every question is labelled
        ``f"{benchmark}/{question}"`` (e.g. ``"gsm8k/12"``, ``"math/12"``), as
        :func:`read_lm_eval_samples` labels them; otherwise the question labels are kept as they
        are.
    sep : str, optional
        Delimiter, overriding the one implied by the file extension.
    benchmark_label : str, optional
        A benchmark name for every row (e.g. ``"gsm8k"``) when the table has no benchmark column;
        not allowed together with ``benchmark=``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``question`` (relabelled ``f"{benchmark}/{question}"`` when ids
        repeat across the benchmarks of ``benchmark=``), ``successes`` (int64), ``trials``
        (int64), then ``benchmark`` when given, then ``question_id`` (the original ids, with
        their dtype) when the questions were relabelled, then the other columns of the input
        unchanged (e.g. ``level``).
        Row order is that of the input; the index is a fresh RangeIndex. Pass it to
        ``irsl_stats.fit(..., successes="successes", trials="trials")``.

    Raises
    ------
    MissingColumnError
        (a KeyError and a ValueError) a named column is absent; lists the available ones.
    ValueError
        Two of model=, question=, successes=, trials=, benchmark= naming the same column;
        missing labels, non-integer or missing counts, ``k < 0``, ``k > n``, ``n < 1``, a
        duplicated (model, question) pair (with ``benchmark=``: (model, benchmark, question)), or
        an input column that clashes with a standard name; the message names the file, the
        column and shows up to 5 offending rows: for a DataFrame (or a parquet file) with their
        index labels, for a text file with their line numbers in the file (when they cannot be
        established -- e.g. a sniffed delimiter or a ``.zip`` file -- with their position among
        the data rows after the header).

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"model": ["a", "a", "b"], "problem": [1, 2, 1],
    ...                     "n_samples": [128, 128, 256], "n_correct": [3, 0, 200]})
    >>> read_counts(raw, benchmark_label="gsm8k").to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'model': ['a', 'a', 'b'], 'question': [1, 2, 1], 'successes': [3, 0, 200],
     'trials': [128, 128, 256], 'benchmark': ['gsm8k', 'gsm8k', 'gsm8k']}
    """
    labels = [model, question] + ([benchmark] if benchmark is not None else [])
    rows: Optional[_FileRows] = None  # how error messages name rows: None = by the frame's index
    if isinstance(path_or_df, pd.DataFrame):
        frame = path_or_df  # keeps its index for the messages; the output gets a RangeIndex
        source = "input DataFrame"
    elif isinstance(path_or_df, (str, os.PathLike)):
        path = Path(os.fsdecode(path_or_df))
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {str(path)!r}")
        frame = _read_table(path, sep, labels)
        source = str(path)
        if not _is_parquet(path):  # parquet has no lines: its rows are named by their index
            rows = _FileRows(path, sep)
    else:
        raise TypeError(f"path_or_df must be a path or a pandas DataFrame, got {type(path_or_df).__name__}")
    if benchmark is not None and benchmark_label is not None:
        raise ValueError("give benchmark= (a column name) or benchmark_label= (one name for all rows), not both")

    roles = {"model": model, "question": question, "successes": successes, "trials": trials}
    if benchmark is not None:
        roles["benchmark"] = benchmark
    # one column in two roles (e.g. successes= and trials= both "n") would silently give k == n
    by_column: Dict[Hashable, List[str]] = {}
    for role, name in roles.items():
        by_column.setdefault(name, []).append(role)
    shared = {name: rs for name, rs in by_column.items() if len(rs) > 1}
    if shared:
        which = "; ".join(f"{name!r} is given as " + " and ".join(f"{r}=" for r in rs)
                          for name, rs in shared.items())
        raise ValueError(f"{source}: each role needs its own column, but {which}")
    missing = [f"{role}={name!r}" for role, name in roles.items() if name not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{source}: column(s) not found: {', '.join(missing)}; available columns: "
            f"{', '.join(repr(c) for c in frame.columns)}"
        )
    if frame.empty:
        raise ValueError(f"{source}: the table has no rows")
    shown = list(roles.values())
    for role in ("model", "question") + (("benchmark",) if benchmark is not None else ()):
        col = roles[role]
        na = frame[col].isna().to_numpy()
        if na.any():
            _bad_rows(source, col, f"have a missing {role} label", frame, na, shown, rows)

    counts: Dict[str, np.ndarray] = {}
    for role in ("successes", "trials"):
        col = roles[role]
        raw = frame[col]
        num = pd.to_numeric(raw.astype(object), errors="coerce").astype(np.float64).to_numpy()
        bad = ~np.isfinite(num)
        if bad.any():
            _bad_rows(source, col, "are missing or not numeric", frame, bad, shown, rows)
        bad = num != np.round(num)
        if bad.any():
            _bad_rows(source, col, "are not integers", frame, bad, shown, rows)
        if (np.abs(num) > 2.0 ** 53).any():
            _bad_rows(source, col, "are too large to count exactly", frame, np.abs(num) > 2.0 ** 53, shown,
                      rows)
        counts[role] = num.astype(np.int64)
    k, n = counts["successes"], counts["trials"]
    checks = (
        (trials, n < 1, "have trials n < 1"),
        (successes, k < 0, "have successes k < 0"),
        (successes, k > n, f"have successes k > trials n (column {trials!r})"),
    )
    for col, bad, problem in checks:
        if bad.any():
            _bad_rows(source, col, problem, frame, bad, shown, rows)
    if benchmark is None:
        dup = frame.duplicated([model, question], keep=False).to_numpy()
        if dup.any():
            _bad_rows(source, question, f"repeat a (model, question) pair (columns {model!r}, {question!r})",
                      frame, dup, shown, rows)
        question_labels = frame[question]
    else:
        dup = frame.duplicated([model, benchmark, question], keep=False).to_numpy()
        if dup.any():
            _bad_rows(source, question, f"repeat a (model, benchmark, question) triple (columns {model!r}, "
                      f"{benchmark!r}, {question!r})", frame, dup, shown, rows)
        ids = frame[question]
        question_labels = _question_per_benchmark(frame[benchmark], ids, source, benchmark, question)
    # relabelled ids are kept (with their dtype) so that the output still joins to per-problem
    # metadata keyed by the original id
    relabelled = benchmark is not None and question_labels is not ids

    std = ["model", "question", "successes", "trials"] + (["benchmark"] if benchmark is not None
                                                          or benchmark_label is not None else [])
    if relabelled:
        std.append("question_id")
    extra = [c for c in frame.columns if c not in roles.values()]
    clash = [c for c in extra if c in std]
    if clash:
        raise ValueError(
            f"{source}: column(s) {clash!r} would clash with the standard output names {std!r}; "
            f"rename or drop them first"
        )
    # Series keep their dtype (a Categorical keeps its category order); the output has a RangeIndex
    frame = frame.reset_index(drop=True)
    parts: Dict[Hashable, Any] = {
        "model": frame[model],
        "question": question_labels.reset_index(drop=True),
        "successes": pd.Series(k, index=frame.index),
        "trials": pd.Series(n, index=frame.index),
    }
    if benchmark is not None:
        parts["benchmark"] = frame[benchmark]
        if relabelled:
            parts["question_id"] = frame[question]
    elif benchmark_label is not None:
        parts["benchmark"] = pd.Series([benchmark_label] * len(frame), index=frame.index, dtype=object)
    for c in extra:
        parts[c] = frame[c]
    return pd.DataFrame(parts)


# --------------------------------------------------------------------------------------------------
# wide matrices
# --------------------------------------------------------------------------------------------------


def to_long(
    wide: pd.DataFrame,
    model: str = "model",
    question: str = "question",
    response: str = "y",
    benchmark: Optional[Union[Mapping, pd.Series]] = None,
) -> pd.DataFrame:
    """Convert a models x questions matrix (NaN = not asked) into the long format.

    Parameters
    ----------
    wide : pandas.DataFrame, shape (n_models, n_items)
        Index = model labels, columns = question labels, values = responses.
    model, question, response : str
        Names of the output columns: the default column names of :func:`irsl_stats.fit`. The
        names of the matrix's index and columns are not used. :meth:`ResponseData.from_matrix
        <irsl_stats.ResponseData.from_matrix>` records the same response name (``"y"``) and names
        its model and question columns after the index and columns (``"model"`` and
        ``"question"`` when unnamed), so a fit on ``from_matrix(wide)`` forecasts from
        ``to_long(wide)``; for a matrix whose index or columns have other names pass them here
        (``model=wide.index.name``, ``question=wide.columns.name``).
    benchmark : mapping or pandas.Series, optional
        Benchmark of each question (question label -> name); every question needs one. Adds a
        ``"benchmark"`` column.

    Returns
    -------
    pandas.DataFrame
        One row per non-NaN cell, in row-major order of the matrix (model by model, questions in
        column order), with columns ``model``, ``question``, (``benchmark``,) ``response`` and a
        fresh RangeIndex. Values are not range-checked here (that is ``ResponseData``'s job).

    Raises
    ------
    ValueError
        As :meth:`ResponseData.from_matrix`: an empty matrix, duplicated or missing row/column
        labels, columns whose values are not numbers (columns of dtype ``object`` holding numbers
        are accepted; dates, time spans and complex numbers are not, whatever the dtype), a
        benchmark mapping that lists a question twice or misses one, or a model (row) or
        question (column) with no responses (all NaN), which would be lost.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> wide = pd.DataFrame([[0.9, np.nan], [0.2, 0.4]], index=["m1", "m2"], columns=["q1", "q2"])
    >>> to_long(wide).to_dict("list")
    {'model': ['m1', 'm2', 'm2'], 'question': ['q1', 'q1', 'q2'], 'y': [0.9, 0.2, 0.4]}
    """
    if isinstance(wide, np.ndarray):
        wide = pd.DataFrame(wide)
    if not isinstance(wide, pd.DataFrame):
        raise TypeError(f"wide must be a pandas DataFrame, got {type(wide).__name__}")
    names = [model, question, response] + (["benchmark"] if benchmark is not None else [])
    if len(set(names)) != len(names):
        raise ValueError(f"output column names must differ, got {names!r}")
    # the checks of ResponseData.from_matrix (shared)
    idx, cols, values = wide_matrix_values(wide)
    r, c = np.nonzero(~np.isnan(values))
    out = pd.DataFrame({model: idx.take(r), question: cols.take(c)})
    if benchmark is not None:
        out["benchmark"] = benchmark_per_question(benchmark, cols)[c]
    out[response] = values[r, c]
    return out


def from_matrix(wide: pd.DataFrame, **kwargs: Any) -> ResponseData:
    """Build :class:`~irsl_stats.ResponseData` from a models x questions matrix (NaN = not asked).

    A thin wrapper of :meth:`ResponseData.from_matrix`; see there for the keyword arguments
    (``family``, ``boundary``, ``benchmark``, ``eps``, ``response``). Use :func:`to_long` to get
    the long DataFrame instead (e.g. to join model covariates before :func:`irsl_stats.fit`, or
    as the ``using=`` table of a forecast from a fit on this data: both name the response
    ``"y"``).

    Parameters
    ----------
    wide : pandas.DataFrame, shape (n_models, n_items)
        Index = model labels, columns = question labels, values = responses.
    **kwargs
        Passed to :meth:`ResponseData.from_matrix`.

    Returns
    -------
    ResponseData

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> wide = pd.DataFrame([[0.9, np.nan], [0.2, 0.4]], index=["m1", "m2"], columns=["q1", "q2"])
    >>> from_matrix(wide).nobs
    3
    """
    return ResponseData.from_matrix(wide, **kwargs)
