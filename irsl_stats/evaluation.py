"""Efficient evaluation: measure and forecast models from a few calibrated questions.

The study of the IRSL paper's pre-training analysis (DESIGN.md section 5). Questions are
calibrated on the models of a few data *recipes*; every other (held-out) recipe is evaluated on
only ``k`` questions per benchmark, the same questions for all of its models, chosen by an
:meth:`ItemBank.select <irsl_stats.bank.ItemBank.select>` strategy. Two estimands are scored:

``estimand="score"`` (A) — *measure a model.*
    Each held-out model's full-benchmark score (the mean of its responses over **all** questions
    of the benchmark, or a supplied table of true scores) estimated from its ``k``-question
    responses. ``irsl``: ability by EAP (or the ``score_method``) against the bank, then
    :meth:`~irsl_stats.bank.ItemBank.expected_score` over the benchmark's calibrated questions
    (one ability per model, so all benchmarks' answers inform each benchmark's score; with
    ``ability="per_benchmark"`` one per model and benchmark).
    ``naive``: the mean of the ``k`` answers. ``mae`` is over held-out models x benchmarks;
    ``decision_accuracy`` ranks the held-out recipes by the estimates of their *target* models
    (largest size, final checkpoint), per benchmark, averaged over benchmarks.

``estimand="forecast"`` (B) — *forecast the target model from smaller ones.*
    Only models of a recipe with ``flops <= ratio * target_flops`` (and fewer parameters than the
    target) are evaluated, on the same ``k`` questions. ``irsl``: a scaling law
    ``theta ~ log(flops)`` fitted per recipe on their EAP abilities (``irsl_pooled``: one slope
    shared by the recipes — per benchmark with ``ability="per_benchmark"`` — one intercept
    each), extrapolated to the target's FLOPs and mapped to
    the full-benchmark score. ``mae`` is over recipes x benchmarks, ``decision_accuracy`` ranks
    the recipes per benchmark (averaged over benchmarks). Baselines on the
    same answers: ``naive_largest`` (the ``k``-question mean of the largest model used) and
    ``logit_linear`` (the "traditional" fit: per recipe and benchmark, ``logit`` of the
    ``k``-question mean linear in ``log(flops)``, extrapolated); ``logit_linear_full`` is the
    same fit on full-benchmark means (every question asked: the cost IRSL avoids).
    ``ratio`` (the paper's x-axis) is the largest FLOPs used over the target FLOPs.

With ``known_bank`` (e.g. the simulator's true question parameters), ``irsl_known`` repeats the
``irsl`` rows with the question parameters known: the gap to ``irsl`` is the cost of calibration.

The naive mean is only unbiased for questions drawn with equal probability: ``"information"``
picks the questions most informative at the calibration population's mean ability (middling
difficulty), so its naive mean is biased, by design of the strategy; ``"stratified"`` draws one
question per difficulty stratum by systematic sampling with a random start
(:func:`~irsl_stats.selection.stratified_pick`), so every question of a benchmark of ``N``
questions is picked with probability exactly k / N for any k (whether or not ``k`` divides
``N``), and its naive mean is unbiased too.

Missing responses (a model that was not asked some questions) are allowed: a (model, benchmark)
cell that a method cannot estimate — e.g. the naive mean of a model that answered none of the
``k`` selected questions of a benchmark — is left out of that row's ``mae`` and
``decision_accuracy``, counted in its ``n_unavailable`` column and reported in one
:class:`~irsl_stats.results.IRSLWarning` naming the method, ``k`` and the first cells.
Everything is vectorised over responses and models; the loops run over strategies, ``k``,
cutoffs and benchmarks.

Entry points: :func:`efficient_eval` (one data set, any source) and :func:`subset_study`
(simulated DataDecide-like data over seeds); :func:`summarize`, :func:`question_reduction`,
:func:`linear_extrapolate` and :func:`logit_linear_extrapolate` (the traditional baseline).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import special

from ._checks import is_clip_eps, is_integer, repeated_values
from .bank import ItemBank
from .data import ResponseData, _drop_unused_categories, _fmt_labels
from .metrics import decision_accuracy
from .results import IRSLWarning
from .scoring import METHODS as SCORE_METHODS
from .testtime import _as_int_list

__all__ = [
    "efficient_eval",
    "subset_study",
    "SubsetStudy",
    "summarize",
    "question_reduction",
    "linear_extrapolate",
    "logit_linear_extrapolate",
    "known_item_bank",
    "STRATEGIES",
    "RESULT_COLUMNS",
]

STRATEGIES = ("random", "stratified", "information")
_SEP = "\x1f"  # joins model and benchmark labels when abilities are scored per benchmark
#: columns of the tidy result tables
RESULT_COLUMNS = ["seed", "estimand", "strategy", "k", "n_questions", "ratio", "method", "mae",
                  "decision_accuracy", "n_models", "n_unavailable"]
#: simulator settings of :func:`subset_study` unless overridden (DataDecide: 25 recipes x 14
#: sizes, 100 tokens per parameter)
DEFAULT_SIMULATION = dict(n_recipes=25, n_checkpoints=2, questions_per_benchmark=300,
                          tokens_per_param=100.0)


# ================================================================================ extrapolation
#: spread of x (largest minus smallest with positive weight) relative to its magnitude at or
#: below which a line's slope counts as not identified: the deviations from the mean are then
#: rounding noise (a spread of 1e-11 of |x| still gives the slope to ~1e-5)
_FLAT = 1e-11


def _codes(groups, n: int):
    if groups is None:
        return np.zeros(n, np.int64), None
    codes, labels = pd.factorize(np.asarray(groups), sort=True)
    if (codes < 0).any():
        raise ValueError("groups must not contain missing values")
    return codes.astype(np.int64), pd.Index(labels)


def linear_extrapolate(x, y, x_target, groups=None, weights=None, common_slope: bool = False):
    """Weighted least-squares lines ``y ~ x`` (one per group), evaluated at ``x_target``.

    Vectorised over groups (no Python loop over observations or groups).

    Parameters
    ----------
    x, y : array_like, shape (n,)
    x_target : float, array_like (one per group, in sorted group order), Mapping or Series
        (group label -> target)
        Finite.
    groups : array_like, shape (n,), optional
        Group labels (default: one group).
    weights : array_like, shape (n,), optional
        Non-negative weights (default: equal).
    common_slope : bool
        One slope shared by all groups, with one intercept per group (e.g. recipes that differ by
        a constant on the scaling law).

    Returns
    -------
    float (no groups) or Series indexed by the sorted group labels
        The fitted line at ``x_target``.

    Raises
    ------
    ValueError
        When a group (or, with ``common_slope``, every group) has fewer than two distinct ``x``
        with a positive weight, or ``x`` that differ by no more than 1e-11 of their magnitude
        (rounding): the slope is not identified; when ``x``, ``y`` or ``x_target`` is not
        finite, the weights are invalid, ``groups`` has the wrong length or missing labels, or
        ``x_target`` has neither one value nor one per group.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length; got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite")
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    if w.shape != x.shape or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite, non-negative and of the length of x")
    codes, labels = _codes(groups, x.size)
    if codes.shape != x.shape:
        raise ValueError(f"groups must have one label per observation ({x.size}); got {codes.size}")
    g = int(codes.max()) + 1 if codes.size else 0
    if g == 0:
        raise ValueError("no observations")
    if not w.max() > 0:
        raise ValueError("every group needs a positive total weight")
    # weights relative to the largest: a line does not depend on their units, and weights of 1e-25
    # next to 1 still count without their weighted sums underflowing
    w = w / w.max()
    sw = np.bincount(codes, w, g)
    if (sw <= 0).any():
        bad = [int(i) for i in np.flatnonzero(sw <= 0)[:10]] if labels is None else list(labels[sw <= 0][:10])
        raise ValueError(f"every group needs a positive total weight (relative to the largest weight, "
                         f"beyond the ~1e-308 double precision holds); not group(s) {bad}")
    # a group's slope is identified when its positively weighted x take two values that differ by
    # more than rounding relative to their magnitude -- not by its weighted variance, which tiny
    # weights shrink, nor absolutely (x in units of 1e-12 identify a line as well as in units of 1)
    pos = w > 0
    lo = np.full(g, np.inf)
    hi = np.full(g, -np.inf)
    np.minimum.at(lo, codes[pos], x[pos])
    np.maximum.at(hi, codes[pos], x[pos])
    spread = hi - lo
    flat = ~(spread > _FLAT * np.maximum(np.abs(lo), np.abs(hi)))
    if common_slope and flat.all():
        raise ValueError("the slope is not identified: in no group do the x with a positive weight "
                         f"take two values more than {_FLAT:g} of their magnitude apart")
    if not common_slope and flat.any():
        single = flat & ~(spread > 0)
        bad = [int(i) for i in np.flatnonzero(flat)[:10]] if labels is None else list(labels[flat][:10])
        why = ("fewer than two distinct x with a positive weight" if single.any() else "")
        if (flat & ~single).any():
            why += ("; " if why else "") + (
                f"x with a positive weight differ by at most {_FLAT:g} of their magnitude, which "
                "double precision does not resolve into a slope (subtract a common offset from x)")
        raise ValueError(f"the slope is not identified in group(s) {bad}: {why}")
    # deviations in units of the spread of x (the largest spread for a common slope), so that
    # their squares neither underflow nor overflow whatever the units of x
    unit = np.full(g, spread[~flat].max()) if common_slope else spread
    xbar = np.bincount(codes, w * x, g) / sw
    ybar = np.bincount(codes, w * y, g) / sw
    dx = (x - xbar[codes]) / unit[codes]
    # with a common slope, a group whose x do not vary (to rounding) only gets its intercept: its
    # deviations are rounding noise and would leak into the pooled slope
    dx[flat[codes]] = 0.0
    dy = y - ybar[codes]
    sxx = np.bincount(codes, w * dx * dx, g)
    sxy = np.bincount(codes, w * dx * dy, g)
    if common_slope:
        slope = np.full(g, sxy.sum() / sxx.sum() / unit[0])
    else:
        slope = sxy / sxx / unit
    if isinstance(x_target, pd.Series) or isinstance(x_target, Mapping):
        if labels is None:
            raise ValueError("a mapping of targets needs groups=")
        xt = pd.Series(x_target).reindex(labels)
        if xt.isna().any():
            raise ValueError(f"no target for group(s) {list(xt.index[xt.isna()][:10])}")
        xt = xt.to_numpy(float)
    else:
        xt = np.asarray(x_target, float)
        if xt.ndim > 1 or (xt.ndim == 1 and xt.size not in (1, g)):
            raise ValueError(f"x_target must be a scalar or have one value per group ({g}); got shape {xt.shape}")
        xt = np.broadcast_to(xt.reshape(-1) if xt.ndim else xt, (g,))
    if not np.isfinite(xt).all():
        bad = np.flatnonzero(~np.isfinite(xt))
        which = [int(i) for i in bad[:10]] if labels is None else list(labels[bad][:10])
        raise ValueError(f"x_target must be finite; not for group(s) {which}")
    pred = ybar + slope * (xt - xbar)
    if labels is None:
        return float(pred[0])
    return pd.Series(pred, index=labels)


def logit_linear_extrapolate(x, score, x_target, groups=None, weights=None, eps: float = 1e-6):
    """The "traditional" fit: ``logit(score)`` linear in ``x``, extrapolated to ``x_target``.

    ``x`` is e.g. ``log(flops)``; the forecast is mapped back by the logistic function. A sigmoid
    in ``x`` with floor 0 and ceiling 1, fitted by least squares on the logit scale.

    Parameters
    ----------
    x, score : array_like, shape (n,)
        ``score`` in ``[0, 1]``; clipped to ``[eps, 1 - eps]`` before the logit.
    x_target, groups, weights
        As in :func:`linear_extrapolate`.
    eps : float
        Scores are clipped to ``[eps, 1 - eps]`` so that the logit is finite;
        ``0 < eps < 0.5``.

    Returns
    -------
    float or Series indexed by group
        Forecast score at ``x_target``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import expit
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> round(logit_linear_extrapolate(x, expit(-2 + 0.5 * x), 6.0), 6)  # expit(-2 + 0.5 * 6)
    0.731059
    """
    if not is_clip_eps(eps):
        # eps = 0 leaves an infinite logit; eps >= 0.5 inverts the clip interval
        raise ValueError(f"eps must be a number in (0, 0.5); got {eps!r}")
    s = np.asarray(score, float)
    if np.any((s < 0) | (s > 1)) or not np.isfinite(s).all():
        raise ValueError("scores must lie in [0, 1]")
    s = np.clip(s, eps, 1 - eps)
    out = linear_extrapolate(x, special.logit(s), x_target, groups=groups, weights=weights)
    if isinstance(out, pd.Series):
        return pd.Series(special.expit(out.to_numpy()), index=out.index)
    return float(special.expit(out))


# ================================================================================ helpers
def question_reduction(bank: ItemBank, ks: Sequence[int], by: Optional[str] = "benchmark") -> pd.DataFrame:
    """How many questions ``k`` per group asks, out of the bank.

    Parameters
    ----------
    bank : ItemBank
    ks : sequence of int
        Questions per group (per benchmark); distinct positive integers.
    by : str or None
        Column of ``bank.items`` defining the groups, as in :meth:`ItemBank.select
        <irsl_stats.bank.ItemBank.select>`: ``None`` (or the default ``"benchmark"`` on a bank
        without benchmark labels) makes the whole bank one group.

    Returns
    -------
    DataFrame indexed by ``k``
        ``n_questions`` (asked; a group smaller than ``k`` gives all it has), ``n_total``,
        ``share`` (asked / total) and ``factor`` (total / asked).

    Raises
    ------
    ValueError
        If a ``k`` is not a positive integer or is repeated, or ``by`` is not a column of ``bank.items`` (the
        message lists the columns) or is missing for some questions.
    """
    ks = _check_ks(ks)
    groups, _ = bank._grouping(by)  # the grouping (and the errors) of ItemBank.select
    sizes = np.array([len(g) for g in groups])
    asked = np.array([np.minimum(sizes, k).sum() for k in ks])
    total = int(sizes.sum())
    return pd.DataFrame({"n_questions": asked, "n_total": total, "share": asked / total,
                         "factor": total / asked}, index=pd.Index(ks, name="k"))


def _check_ks(ks) -> list:
    """``ks`` as a list of distinct int; each must be a positive integer (``k = 0`` would ask
    nothing)."""
    if isinstance(ks, (str, bytes)) or not np.iterable(ks):
        raise ValueError(f"ks must be a sequence of positive integers; got {ks!r}")
    out = []
    for k in ks:
        ok = isinstance(k, (int, np.integer, float, np.floating)) and not isinstance(k, (bool, np.bool_))
        if not ok or not np.isfinite(k) or k != int(k) or k < 1:
            raise ValueError(f"every k must be a positive integer (questions per benchmark); got {k!r}")
        out.append(int(k))
    if not out:
        raise ValueError("ks is empty: give at least one number of questions per benchmark")
    if repeated_values(out):
        # a repeated k repeats its result rows (and the k index of question_reduction)
        raise ValueError(f"ks must not repeat a value; got {list(ks)!r}")
    return out


def known_item_bank(items: pd.DataFrame, theta_population, *, question: str = "question",
                    family: str = "beta", irt: str = "2pl") -> ItemBank:
    """An :class:`ItemBank` of known (true) question parameters, e.g. ``sim.items``.

    Parameters
    ----------
    items : DataFrame
        Columns ``question`` (or the index), ``benchmark``, ``a``, ``d`` and ``phi``.
    theta_population : array_like, shape (M,)
        True abilities of the calibration models: their mean and SD are the EAP prior, as a
        calibrated bank's ``population`` is.
    question : str
        Name of the question-label column of ``items`` (used as the index when present).
    family : {"beta", "bernoulli", "binomial", "beta_binomial"}
        Response family of the bank.
    irt : {"2pl", "1pl"}
        Item response model of the bank.

    Returns
    -------
    ItemBank
        The bank of the N questions in ``items``, with identification ``"truth"`` and known
        precision.

    Raises
    ------
    ValueError
        If ``theta_population`` has fewer than two values, a value that is not finite or no
        spread (the prior needs a positive SD); if a question has no benchmark label (naming
        them); if ``irt="1pl"`` but some discrimination ``a`` is not 1 (naming the questions).
    """
    table = items.set_index(question) if question in items.columns else items
    keep = [c for c in ("benchmark", "a", "d", "phi") if c in table.columns]
    table = table[keep].copy()
    if "benchmark" in table:
        # checked before the conversion to text, which would turn NaN into a benchmark 'nan'
        missing = table["benchmark"].isna().to_numpy()
        if missing.any():
            raise ValueError(f"items: column 'benchmark' is missing for {int(missing.sum())} question(s): "
                             f"{_fmt_labels(table.index[missing], limit=5)}")
        table["benchmark"] = table["benchmark"].astype(str)
    if irt == "1pl" and "a" in table:
        off = table["a"].to_numpy(float) != 1.0
        if off.any():
            raise ValueError(f"irt='1pl' fixes every discrimination at 1, but column 'a' is not 1 for "
                             f"{int(off.sum())} question(s): {_fmt_labels(table.index[off], limit=5)}; "
                             "use irt='2pl'")
    th = np.asarray(theta_population, float).ravel()
    if th.size < 2 or not np.isfinite(th).all() or not th.std() > 0:
        raise ValueError("theta_population must hold two or more finite abilities with a positive SD (their "
                         f"mean and SD are the scoring prior); got {th.size} value(s), "
                         f"{int((~np.isfinite(th)).sum())} not finite")
    return ItemBank(table, family=family, irt=irt, identification="truth", precision="known",
                    population=(float(th.mean()), float(th.std())))


def _isin(column: pd.Series, labels) -> np.ndarray:
    """Boolean mask of the rows whose label (compared as str) is in ``labels``; for a
    categorical column the test runs once per category."""
    keep = pd.Index(labels).astype(str)
    if isinstance(column.dtype, pd.CategoricalDtype):
        hit = np.append(pd.Index(column.cat.categories).astype(str).isin(keep), False)
        return hit[column.cat.codes.to_numpy()]  # code -1 (missing) -> the appended False
    return column.astype(str).isin(keep).to_numpy()


def _table(responses: pd.DataFrame, model: str, benchmark: str, response: str) -> pd.DataFrame:
    """Mean response per model (rows) and benchmark (columns)."""
    m = responses.groupby([model, benchmark], observed=True, sort=False)[response].mean()
    out = m.unstack(benchmark)
    out.columns = out.columns.astype(str)
    out.index = out.index.astype(str)
    return out


def _da(pred: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Decision accuracy per benchmark (columns), averaged; rows are candidates.

    Candidates without an estimate (NaN) are left out of their benchmark's ranking; a benchmark
    with fewer than two estimated candidates is left out of the average (NaN when none is left).
    """
    p = pred.reindex(index=truth.index, columns=truth.columns).to_numpy(float)
    t = truth.to_numpy(float)
    per = []
    for j in range(t.shape[1]):
        ok = np.isfinite(p[:, j])
        if ok.sum() >= 2:
            per.append(decision_accuracy(p[ok, j], t[ok, j]))
    return float(np.mean(per)) if per else float("nan")


def _mae(pred: pd.DataFrame, truth: pd.DataFrame):
    """Mean absolute error over the cells that have an estimate, and the number that have none.

    Returns
    -------
    mae : float
        NaN when no cell has an estimate.
    n_unavailable : int
        Cells of ``truth`` (rows x columns) without an estimate in ``pred``.
    """
    pred = pred.reindex(index=truth.index, columns=truth.columns)
    diff = np.abs(pred.to_numpy(float) - truth.to_numpy(float))
    ok = np.isfinite(diff)
    n_na = int(ok.size - ok.sum())
    return (float(diff[ok].mean()) if ok.any() else float("nan")), n_na


def _unavailable_cells(pred: pd.DataFrame, truth: pd.DataFrame, limit: int = 3) -> list:
    """The first ``limit`` (row, column) labels of ``truth`` without an estimate in ``pred``."""
    p = pred.reindex(index=truth.index, columns=truth.columns).to_numpy(float)
    r, c = np.nonzero(~np.isfinite(p))
    return [(truth.index[i], truth.columns[j]) for i, j in zip(r[:limit], c[:limit])]


def _extrapolate_available(x, y, x_target, groups, n_groups: int, weights=None, common_slope: bool = False,
                           logit: bool = False) -> np.ndarray:
    """:func:`linear_extrapolate` (or, with ``logit``, :func:`logit_linear_extrapolate`) on the
    observations with a finite ``y`` (and a finite, positive weight) only, for integer groups
    ``0 .. n_groups - 1``.

    A group whose line is not identified from its available observations (fewer than two
    distinct ``x``; with ``common_slope``, no observation, or no group with two distinct ``x``)
    gets NaN. ``x_target`` has one value per group. A weight of 0 (an ability with an infinite
    se, e.g. an ML estimate without information) carries nothing: counted as available, it
    made a group look identified and :func:`linear_extrapolate` then refused the whole fit.
    """
    ok = np.isfinite(y)
    if weights is not None:
        ok &= np.isfinite(weights) & (weights > 0)
    out = np.full(n_groups, np.nan)
    n_x = (pd.Series(x[ok]).groupby(groups[ok]).nunique()
           .reindex(np.arange(n_groups), fill_value=0).to_numpy())
    if common_slope:
        fitted = (n_x >= 1) if (n_x >= 2).any() else np.zeros(n_groups, bool)
    else:
        fitted = n_x >= 2
    if not fitted.any():
        return out
    keep = ok & fitted[groups]
    targets = pd.Series(np.broadcast_to(np.asarray(x_target, float), (n_groups,)), index=np.arange(n_groups))
    w = None if weights is None else weights[keep]
    if logit:
        pred = logit_linear_extrapolate(x[keep], y[keep], targets, groups=groups[keep], weights=w)
    else:
        pred = linear_extrapolate(x[keep], y[keep], targets, groups=groups[keep], weights=w,
                                  common_slope=common_slope)
    out[pred.index.to_numpy(np.int64)] = pred.to_numpy()
    return out


def _size_ratios(heldout: pd.DataFrame, target: pd.Series, flops: str, params: str) -> np.ndarray:
    """Default cutoffs: FLOPs of each smaller size's final checkpoint over the target FLOPs
    (median over recipes)."""
    t = target.reindex(heldout["__recipe__"]).to_numpy()
    smaller = heldout[params].to_numpy(float) < heldout["__target_params__"].to_numpy(float)
    frame = pd.DataFrame({"recipe": heldout["__recipe__"].to_numpy()[smaller],
                          "params": heldout[params].to_numpy(float)[smaller],
                          "ratio": (heldout[flops].to_numpy(float) / t)[smaller]})
    per = frame.groupby(["recipe", "params"], sort=True)["ratio"].max()
    return np.unique(per.groupby(level="params").median().to_numpy())


# ================================================================================ one data set
def efficient_eval(
    responses: pd.DataFrame,
    models: pd.DataFrame,
    calibration: Sequence,
    *,
    ks: Sequence[int] = (10, 25, 50, 100),
    strategies: Sequence[str] = STRATEGIES,
    ratios: Optional[Sequence[float]] = None,
    min_sizes: int = 3,
    seed: int = 0,
    model: str = "model",
    question: str = "question",
    response: str = "y",
    benchmark: str = "benchmark",
    recipe: str = "recipe",
    flops: str = "flops",
    params: str = "params",
    bank: Optional[ItemBank] = None,
    known_bank: Optional[ItemBank] = None,
    true_scores: Optional[pd.DataFrame] = None,
    calibration_method: str = "jml",
    score_method: str = "eap",
    law=("recipe", "pooled"),
    ability: str = "shared",
    boundary: str = "error",
    n_threads: Optional[int] = None,
) -> pd.DataFrame:
    """Estimate and forecast held-out recipes from ``k`` calibrated questions per benchmark.

    See the module docstring for the protocol and the two estimands.

    Parameters
    ----------
    responses : DataFrame
        Long table, one row per (model, question), with ``model``, ``question``, ``benchmark``
        and ``response`` columns; responses in ``(0, 1)``, or in ``[0, 1]`` with
        ``boundary="squeeze"`` or ``"clip"`` (``{0, 1}`` with a given Bernoulli ``bank``). All
        rows are validated up front as by :meth:`ResponseData.from_long
        <irsl_stats.data.ResponseData.from_long>` with the bank's family (beta when the bank is
        calibrated here) and ``boundary`` (NaN is not a response: drop the rows of questions a
        model was not asked). The truth is the mean over
        the questions of a benchmark that the model answered; missing responses are allowed (see
        ``n_unavailable`` below).
    models : DataFrame
        One row per model: ``model`` (column or index; labels unique), ``recipe``, ``flops`` and
        ``params``. Every model of ``responses`` must have a row; every model needs a recipe,
        and every held-out model positive, finite ``flops`` and ``params`` (the models are named
        otherwise).
    calibration : label or sequence of labels
        Recipes whose models calibrate the questions; all other recipes are held out. A single
        string is one recipe.
    ks : sequence of int
        Questions per benchmark (distinct positive integers).
    strategies : {"random", "stratified", "information"} or sequence of them
        Selection strategies, distinct (:meth:`ItemBank.select`; ``"information"`` targets the
        calibration population's mean ability).
    ratios : sequence of float, optional
        Compute cutoffs for the forecast (distinct, positive and finite): models with
        ``flops <= ratio * target_flops``. Default: the final checkpoint of each smaller size,
        from the ``min_sizes``-th smallest on. Cutoffs that admit the same models are forecast
        once (the rows report the realized ratio, which they share).
    min_sizes : int
        With the default ``ratios``: the fewest distinct sizes a scaling law is fitted on (an
        integer >= 2; an error if the held-out recipes have fewer sizes below the target).
    seed : int
        Seed of the question selection (the same questions for every held-out model).
    model, question, response, benchmark, recipe, flops, params : str
        Column names.
    bank : ItemBank, optional
        A calibrated bank (skips the calibration; ``calibration`` still defines the held-out
        recipes).
    known_bank : ItemBank, optional
        Bank of the true question parameters: adds the ``irsl_known`` rows. Without its own
        :attr:`~irsl_stats.bank.ItemBank.squeeze_n` it scores with the calibrated bank's (the
        same ``boundary="squeeze"`` transform of the same responses as ``irsl``).
    true_scores : DataFrame, optional
        True full-benchmark scores (models x benchmarks, e.g. ``sim.expected_scores()``); default
        the mean of each model's responses over all questions of the benchmark.
    calibration_method : {"jml", "mml"}
        Estimator of ``irsl.fit("ability ~ 1", ...)`` on the calibration recipes' responses.
    score_method : {"eap", "map", "ml", "wle"}
        Ability estimator of :meth:`ItemBank.score`.
    law : {"recipe", "pooled"} or sequence of them
        Scaling law of the forecast: a line ``theta ~ log(flops)`` per recipe (method ``irsl``),
        or a common slope with one intercept per recipe (method ``irsl_pooled``; with
        ``ability="per_benchmark"`` one common slope per benchmark), fitted by least squares
        weighted by ``1 / se^2`` of the abilities. A sequence gives both.
    ability : {"shared", "per_benchmark"}
        ``"shared"``: one ability per model from all its answers (the bank's model: one ability
        behind every benchmark). ``"per_benchmark"``: each benchmark's score from that
        benchmark's ``k`` answers only (no borrowing across benchmarks; the laws are then
        fitted per recipe and benchmark).
    boundary : {"error", "squeeze", "clip"}
        Beta responses exactly 0 or 1, as in :func:`irsl_stats.fit`: ``"error"`` refuses them,
        ``"squeeze"`` / ``"clip"`` move them inside (0, 1) for the calibration and the ability
        scores only; the truth and the naive means use the responses as given.
    n_threads : int or None
        Kernel threads.

    Returns
    -------
    DataFrame
        Tidy, columns :data:`RESULT_COLUMNS` (``seed`` is the ``seed`` argument; ``ratio`` is NaN
        for ``estimand="score"``). ``n_unavailable`` counts the (model or recipe, benchmark) cells
        of the row that the method could not estimate (e.g. the naive mean of a model that
        answered none of the selected questions of a benchmark, or a law left with fewer than two
        sizes): they are left out of ``mae`` (the mean over the other ``n_models x benchmarks -
        n_unavailable`` cells) and of ``decision_accuracy`` (a benchmark's ranking uses the
        recipes with an estimate), and named in an :class:`~irsl_stats.results.IRSLWarning`.
        ``attrs["reduction"]`` holds :func:`question_reduction`.

    Raises
    ------
    ValueError
        For invalid options (all checked before the calibration; repeated ``ks``, ``strategies``
        or ``ratios`` included); duplicated model labels in
        ``models`` or response models absent from it (naming them); models without a recipe, or
        held-out models without positive finite ``flops``/``params`` (naming them); invalid
        responses (NaN, outside ``[0, 1]``, 0 or 1 under ``boundary="error"``, duplicated
        (model, question) pairs; naming the rows); held-out (model, benchmark) cells without a
        true score, or duplicated labels in ``true_scores`` (naming them).
    """
    from .api import fit

    # every option is checked before the (expensive) calibration
    if ability not in ("shared", "per_benchmark"):
        raise ValueError(f"ability must be 'shared' or 'per_benchmark'; got {ability!r}")
    laws = (law,) if isinstance(law, str) else tuple(law)
    if not laws or any(lw not in ("recipe", "pooled") for lw in laws):
        raise ValueError(f"law must be 'recipe', 'pooled' or a sequence of them; got {law!r}")
    # a bare string is one strategy (iterating it would test its letters)
    strategies = (strategies,) if isinstance(strategies, str) else tuple(strategies)
    if not strategies:
        raise ValueError(f"strategies is empty: choose one or more of {STRATEGIES}")
    for s in strategies:
        if s not in STRATEGIES:
            raise ValueError(f"unknown strategy {s!r}; choose from {STRATEGIES}")
    # a repeated strategy repeats identical selections and result rows (summarize would count
    # them as two draws: a mean over copies and a spread that is not one)
    dup = repeated_values(strategies)
    if dup:
        raise ValueError(f"strategies has duplicates {dup}: each would repeat identical result rows; "
                         f"pass distinct strategies")
    if score_method not in SCORE_METHODS:
        raise ValueError(f"score_method must be one of {SCORE_METHODS}; got {score_method!r}")
    if bank is None and calibration_method not in ("jml", "mml"):
        raise ValueError(f"calibration_method must be 'jml' or 'mml'; got {calibration_method!r}")
    if boundary not in ("error", "squeeze", "clip"):
        raise ValueError(f"boundary must be 'error', 'squeeze' or 'clip'; got {boundary!r}")
    if not is_integer(min_sizes, 2):
        raise ValueError(f"min_sizes must be an integer >= 2 (a scaling law needs two sizes); got {min_sizes!r}")
    if ratios is not None:
        ratios = np.atleast_1d(np.asarray(ratios, float))
        if ratios.ndim != 1 or ratios.size == 0 or not (np.isfinite(ratios) & (ratios > 0)).all():
            raise ValueError(f"ratios must be a non-empty sequence of positive, finite numbers; got {ratios.tolist()}")
        dup = repeated_values(ratios.tolist())
        if dup:
            raise ValueError(f"ratios has duplicates {dup}: each would repeat identical forecast rows; "
                             f"pass distinct ratios")
    mt = models.reset_index(drop=model in models.columns)
    if model not in mt.columns:
        raise ValueError(f"models needs a {model!r} column (or index)")
    for c in (recipe, flops, params):
        if c not in mt.columns:
            raise ValueError(f"models needs a {c!r} column")
    ks = _check_ks(ks)
    # a recipe must be present before it becomes text (NaN would become a recipe named 'nan')
    no_recipe = mt[recipe].isna().to_numpy()
    if no_recipe.any():
        raise ValueError(f"models: column {recipe!r} is missing for {int(no_recipe.sum())} model(s): "
                         f"{_fmt_labels(mt[model].to_numpy()[no_recipe], limit=5)}; every model needs a recipe")
    mt = mt.assign(**{model: mt[model].astype(str), "__recipe__": mt[recipe].astype(str)})
    dup = mt[model].duplicated(keep=False).to_numpy()
    if dup.any():
        labels = pd.unique(mt[model].to_numpy()[dup])
        raise ValueError(f"models: {len(labels)} model label(s) are duplicated in column {model!r} "
                         f"(compared as text): {_fmt_labels(labels, limit=5)}; give one row per model")
    mt = mt.set_index(model, drop=False)
    # every response validated up front, as irsl.fit does (NaN, range, boundary values,
    # duplicated pairs, one benchmark per question), whether or not the question is later selected
    rd = ResponseData.from_long(_drop_unused_categories(responses, (model, question, benchmark)),
                                model=model, question=question, response=response, benchmark=benchmark,
                                family="beta" if bank is None else bank.family, boundary=boundary)
    resp_models = pd.Index(rd.model_labels).astype(str)
    absent = resp_models[~resp_models.isin(mt.index)]
    if len(absent):
        raise ValueError(f"{len(absent)} model(s) of the responses (column {model!r}) are not in the models "
                         f"table: {_fmt_labels(absent, limit=5)}; add their rows ({recipe!r}, {flops!r}, {params!r}) "
                         f"or drop their responses")
    del rd
    # calibration recipes: a bare string (or other scalar) is one recipe, not its characters
    if isinstance(calibration, (str, bytes)) or not np.iterable(calibration):
        calibration = [calibration]
    cal_recipes = pd.Index([str(r) for r in calibration])
    unknown = cal_recipes.difference(pd.Index(mt["__recipe__"].unique()))
    if len(unknown):
        raise ValueError(f"calibration recipes not in the models table: {list(unknown)}")
    is_cal = mt["__recipe__"].isin(cal_recipes).to_numpy()
    if is_cal.all() or not is_cal.any():
        raise ValueError("calibration must name some, but not all, recipes")
    cal_models = mt.index[is_cal]
    held = mt.loc[~is_cal].copy()
    if held["__recipe__"].nunique() < 2:
        raise ValueError("need at least two held-out recipes to rank")
    # the forecast takes log(flops) and picks targets by size: a missing or non-positive value
    # would silently drop the model from the laws (NaN compares False) or give log(0)
    for c in (flops, params):
        v = pd.to_numeric(held[c], errors="coerce").to_numpy(float, na_value=np.nan)
        bad = ~(np.isfinite(v) & (v > 0))
        if bad.any():
            raise ValueError(f"models: column {c!r} must be positive and finite for every held-out model; "
                             f"{int(bad.sum())} are not: {_fmt_labels(held.index[bad], limit=5)} "
                             f"(values {held[c].to_numpy()[bad][:5].tolist()})")
        held[c] = v

    # ---- calibration
    if bank is None:
        cal = responses[_isin(responses[model], cal_models)].copy()
        for c in (model, question):
            if isinstance(cal[c].dtype, pd.CategoricalDtype):
                cal[c] = cal[c].cat.remove_unused_categories()
        res = fit("ability ~ 1", data=cal, model=model, question=question, response=response,
                  benchmark=benchmark, method=calibration_method, full_cov=False, boundary=boundary,
                  n_threads=n_threads)
        bank = res.item_bank()
    if "benchmark" not in bank.items.columns:
        raise ValueError("the bank has no benchmark labels")

    heldout_rows = responses[_isin(responses[model], held.index)]
    full = _table(heldout_rows, model, benchmark, response)
    benchmarks = list(full.columns)
    truth = full if true_scores is None else true_scores.rename(index=str, columns=str)
    for axis, labels in (("rows (models)", truth.index), ("columns (benchmarks)", truth.columns)):
        if labels.has_duplicates:
            raise ValueError(f"true_scores has duplicated {axis} (compared as text): "
                             f"{_fmt_labels(pd.unique(labels[labels.duplicated()]), limit=5)}")
    truth = truth.reindex(index=held.index, columns=benchmarks)
    if truth.isna().any().any():
        miss = truth.isna().to_numpy()
        where = ("true_scores has no value for them" if true_scores is not None else
                 "the model answered no question of that benchmark")
        raise ValueError(f"true scores are missing for {int(miss.sum())} held-out (model, benchmark) cell(s) "
                         f"({where}): {_fmt_labels(_unavailable_cells(truth, truth, limit=5))}")

    # ---- targets: per held-out recipe, the largest size's last (largest-FLOPs) model
    order = held.sort_values([params, flops], kind="stable")
    target_model = order.groupby("__recipe__", sort=True)[model].last()
    recipes = target_model.index
    target_flops = held.loc[target_model.to_numpy(), flops].set_axis(recipes).astype(float)
    held["__target_params__"] = held.loc[target_model.reindex(held["__recipe__"]).to_numpy(), params].to_numpy()
    truth_target = truth.loc[target_model.to_numpy()].set_axis(recipes)
    if ratios is None:
        grid = _size_ratios(held, target_flops, flops, params)
        if len(grid) < min_sizes:
            raise ValueError(f"min_sizes={min_sizes}: the held-out recipes have only {len(grid)} size(s) below "
                             f"their target; lower min_sizes or pass ratios=")
        ratios = grid[min_sizes - 1:]

    rows = []
    notes = []  # result rows with unavailable cells, for one warning at the end

    def record(estimand, strategy, k, n_questions, ratio, method, pred, truth_table, da_pred, da_truth,
               n_models):
        """Append one result row; note the cells of ``truth_table`` that ``pred`` leaves empty."""
        mae, n_na = _mae(pred, truth_table)
        rows.append(dict(seed=seed, estimand=estimand, strategy=strategy, k=int(k), n_questions=n_questions,
                         ratio=ratio, method=method, mae=mae, decision_accuracy=_da(da_pred, da_truth),
                         n_models=n_models, n_unavailable=n_na))
        if n_na:
            at = f", ratio={ratio:.3g}" if estimand == "forecast" else ""
            notes.append(f"method {method!r} (estimand {estimand!r}, strategy {strategy!r}, k={int(k)}{at}): "
                         f"{n_na} of {truth_table.size} cells, e.g. {_unavailable_cells(pred, truth_table)}")

    reduction = question_reduction(bank, ks)
    rlogf = np.log(held[flops].to_numpy(float))
    held_recipe = held["__recipe__"].to_numpy()
    smaller = held[params].to_numpy(float) < held["__target_params__"].to_numpy(float)
    tflops_row = target_flops.reindex(held_recipe).to_numpy()
    log_target = np.log(target_flops)

    banks = {"irsl": bank}
    if known_bank is not None:
        if known_bank.squeeze_n is None and bank.squeeze_n is not None:
            # a hand-built bank would squeeze with the number of rows scored: irsl_known would
            # score other responses than irsl, and they would depend on the held-out models
            known_bank = copy.copy(known_bank)
            known_bank.squeeze_n = bank.squeeze_n
        banks["irsl_known"] = known_bank

    # models below each compute cutoff (smaller than the target), and the realized x-axis value
    held_flops = held[flops].to_numpy(float)
    cutoffs = []
    for r in ratios:
        used = smaller & (held_flops <= r * tflops_row * (1 + 1e-9))
        ur = held_recipe[used]
        n_x = pd.Series(rlogf[used]).groupby(ur).nunique().reindex(recipes).fillna(0).to_numpy()
        if (n_x < 2).any():
            short = recipes[n_x < 2]
            raise ValueError(f"ratio {r:g}: {len(short)} held-out recipe(s) have fewer than two model sizes "
                             f"(distinct FLOPs) below the cutoff: {_fmt_labels(short, limit=5)}; "
                             "raise the ratio or drop those recipes")
        if any(np.array_equal(used, earlier) for earlier, _ in cutoffs):
            continue  # same models as a smaller ratio: its rows would repeat, and pool twice in summarize
        largest_used = pd.Series(held_flops[used]).groupby(ur).max().reindex(recipes).to_numpy()
        cutoffs.append((used, float(np.median(largest_used / target_flops.to_numpy()))))
    # position of each held-out response's question in the bank (to subset by selection)
    bank_q = pd.Index(bank.questions.astype(str))
    resp_q = heldout_rows[question]
    if isinstance(resp_q.dtype, pd.CategoricalDtype):
        qpos = bank_q.get_indexer(resp_q.cat.categories.astype(str))[resp_q.cat.codes.to_numpy()]
    else:
        qpos = bank_q.get_indexer(resp_q.astype(str))

    for strategy in strategies:
        for k in ks:
            qs = bank.select(int(k), strategy=strategy, by="benchmark", seed=seed,
                             theta=bank.population[0])
            chosen = np.zeros(len(bank_q), bool)
            chosen[bank_q.get_indexer(pd.Index(qs).astype(str))] = True
            asked = heldout_rows[chosen[qpos] & (qpos >= 0)]
            naive = _table(asked, model, benchmark, response).reindex(index=held.index, columns=benchmarks)
            if ability == "per_benchmark":  # one ability per (model, benchmark): score pairs
                to_score = asked.assign(**{model: asked[model].astype(str).str.cat(
                    asked[benchmark].astype(str), sep=_SEP)})
            else:
                to_score = asked
            est = {}
            for name, b in banks.items():
                sc = b.score(to_score, method=score_method, model=model, question=question,
                             response=response, boundary=boundary, n_threads=n_threads)
                th, se = _wide_abilities(sc, held.index, benchmarks, ability)
                est[name] = (th, se, _expected_scores(b, th))
            # ---- (A) measure every held-out model
            tgt = target_model.to_numpy()
            score_preds = {name: exp for name, (_, _, exp) in est.items()}
            score_preds["naive"] = naive
            for name, pred in score_preds.items():
                record("score", strategy, k, len(qs), np.nan, name, pred, truth,
                       pred.loc[tgt].set_axis(recipes), truth_target, len(held))
            # ---- (B) forecast the target from models below the cutoff
            nb = len(benchmarks)
            n_groups = len(recipes) * nb
            for used, realized in cutoffs:
                ur = held_recipe[used]
                used_models = held.index[used]
                preds = {}
                # long (used model x benchmark) arrays; groups are (recipe, benchmark) codes
                groups = np.repeat(recipes.get_indexer(ur), nb) * nb + np.tile(np.arange(nb), len(ur))
                x = np.repeat(rlogf[used], nb)
                xt = np.repeat(log_target.to_numpy(), nb)
                # cells without an estimate (NaN) are left out of the fits; a (recipe, benchmark)
                # whose line is then not identified gets no forecast (NaN, counted in the row)
                for name, (th, se, _) in est.items():
                    y = th.to_numpy()[used].ravel()
                    w = 1.0 / np.maximum(se.to_numpy()[used].ravel(), 1e-6) ** 2
                    for lw in laws:
                        if lw == "pooled" and ability == "per_benchmark":
                            # one common slope per benchmark: per-benchmark abilities borrow
                            # nothing across benchmarks, the slope included
                            th_t = np.full(n_groups, np.nan)
                            for j in range(nb):
                                on = groups % nb == j
                                part = _extrapolate_available(x[on], y[on], xt, groups[on], n_groups,
                                                              weights=w[on], common_slope=True)
                                th_t[j::nb] = part[j::nb]
                        else:
                            th_t = _extrapolate_available(x, y, xt, groups, n_groups, weights=w,
                                                          common_slope=(lw == "pooled"))
                        th_t = pd.DataFrame(th_t.reshape(len(recipes), nb), index=recipes, columns=benchmarks)
                        label = name if lw == "recipe" else f"{name}_pooled"
                        preds[label] = _expected_scores(banks[name], th_t)
                # naive at the largest model used
                largest = (pd.DataFrame({"m": used_models, "r": ur, "f": held_flops[used]})
                           .sort_values("f", kind="stable").groupby("r").last()["m"].reindex(recipes))
                preds["naive_largest"] = naive.loc[largest.to_numpy()].set_axis(recipes)
                for label, table in (("logit_linear", naive), ("logit_linear_full", full)):
                    y = table.reindex(index=used_models, columns=benchmarks).to_numpy(float).ravel()
                    fc = _extrapolate_available(x, y, xt, groups, n_groups, logit=True)
                    preds[label] = pd.DataFrame(fc.reshape(len(recipes), nb), index=recipes, columns=benchmarks)
                for name, pred in preds.items():
                    record("forecast", strategy, k, len(qs), realized, name, pred, truth_target,
                           pred, truth_target, len(recipes))
    if notes:
        more = f"; and {len(notes) - 6} more result row(s)" if len(notes) > 6 else ""
        warnings.warn(
            f"efficient_eval: {len(notes)} of {len(rows)} result rows have (model, benchmark) cells "
            f"without an estimate (missing responses), left out of their mae and decision_accuracy "
            f"and counted in column n_unavailable: {'; '.join(notes[:6])}{more}",
            IRSLWarning, stacklevel=2)
    out = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    out.attrs["reduction"] = reduction
    return out


def _wide_abilities(sc: pd.DataFrame, models: pd.Index, benchmarks, ability: str):
    """Abilities and SEs as (models x benchmarks) tables: a shared ability repeated across the
    benchmarks, or the per-(model, benchmark) abilities scored under composite labels."""
    sc = sc.set_axis(sc.index.astype(str))
    if ability == "shared":
        sc = sc.reindex(models)
        rep = lambda v: pd.DataFrame(np.repeat(v.to_numpy()[:, None], len(benchmarks), axis=1),  # noqa: E731
                                     index=models, columns=list(benchmarks))
        return rep(sc["theta"]), rep(sc["se"])
    parts = sc.index.str.split(_SEP, n=1, expand=True)
    sc = sc.set_axis(pd.MultiIndex.from_arrays([parts.get_level_values(0), parts.get_level_values(1)]))
    th = sc["theta"].unstack().reindex(index=models, columns=list(benchmarks))
    se = sc["se"].unstack().reindex(index=models, columns=list(benchmarks))
    return th, se


def _expected_scores(bank: ItemBank, theta: pd.DataFrame) -> pd.DataFrame:
    """Expected full-benchmark score (:meth:`ItemBank.expected_score`) for abilities given as a
    (models x benchmarks) table: column ``b`` is scored on benchmark ``b``'s questions."""
    bench = bank.items["benchmark"].astype(str).to_numpy()
    a, d = bank.items["a"].to_numpy(), bank.items["d"].to_numpy()
    out = {}
    for b in theta.columns:  # a loop over benchmarks, vectorised over models and questions
        mask = bench == b
        if not mask.any():
            raise ValueError(f"the bank has no questions of benchmark {b!r}")
        out[b] = special.expit(np.outer(theta[b].to_numpy(float), a[mask]) + d[mask]).mean(axis=1)
    return pd.DataFrame(out, index=theta.index)


# ================================================================================ over seeds
@dataclass
class SubsetStudy:
    """Result of :func:`subset_study`.

    Attributes
    ----------
    results : DataFrame
        Tidy, one row per seed x estimand x strategy x k x ratio x method (:data:`RESULT_COLUMNS`).
    reduction : DataFrame
        :func:`question_reduction` (indexed by ``k``).
    settings : dict
        The simulation and study settings.
    """

    results: pd.DataFrame
    reduction: pd.DataFrame
    settings: Dict = field(default_factory=dict)

    def summary(self, estimand: str = "score") -> pd.DataFrame:
        """Mean and SD over seeds (see :func:`summarize`)."""
        return summarize(self.results, estimand)

    def gain(self, k: int = 50, strategy: str = "random", method: str = "irsl",
             baseline: str = "naive") -> pd.DataFrame:
        """Per seed, ``estimand="score"``: MAE of ``method`` and ``baseline``, the relative MAE
        reduction ``1 - mae_method / mae_baseline`` and both decision accuracies.

        Parameters
        ----------
        k : int
            Questions per benchmark (one of the study's ``ks``).
        strategy : str
            Selection strategy (one of the study's ``strategies``).
        method, baseline : str
            Methods of the ``"score"`` rows (e.g. ``"irsl"``, ``"irsl_known"``, ``"naive"``).

        Returns
        -------
        DataFrame
            Indexed by seed: ``mae_<method>``, ``mae_<baseline>``, ``mae_reduction``,
            ``da_<method>``, ``da_<baseline>``.

        Raises
        ------
        ValueError
            If ``k``, ``strategy``, ``method`` or ``baseline`` is not in the results (the message
            lists the available ones).
        """
        r = self.results
        r = r[r.estimand == "score"]
        for name, value, column in (("strategy", strategy, "strategy"), ("k", k, "k")):
            have = sorted(pd.unique(r[column]).tolist())
            if value not in have:
                raise ValueError(f"{name}={value!r} is not in the score results; available: {have}")
            r = r[r[column] == value]
        have = sorted(pd.unique(r["method"]).tolist())
        for name, value in (("method", method), ("baseline", baseline)):
            if value not in have:
                raise ValueError(f"{name}={value!r} is not in the score results for k={k!r} and "
                                 f"strategy={strategy!r}; available methods: {have}")
        wide = r.pivot_table(index="seed", columns="method", values=["mae", "decision_accuracy"],
                             dropna=False)
        out = pd.DataFrame({
            f"mae_{method}": wide["mae"][method], f"mae_{baseline}": wide["mae"][baseline],
            "mae_reduction": 1 - wide["mae"][method] / wide["mae"][baseline],
            f"da_{method}": wide["decision_accuracy"][method],
            f"da_{baseline}": wide["decision_accuracy"][baseline],
        })
        return out


def summarize(results: pd.DataFrame, estimand: str = "score") -> pd.DataFrame:
    """Mean and SD over seeds of MAE and decision accuracy.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`efficient_eval` / :attr:`SubsetStudy.results`.
    estimand : {"score", "forecast"}

    Returns
    -------
    DataFrame
        Indexed by ``strategy, k, method`` (``"score"``) or ``strategy, k, ratio, method``
        (``"forecast"``; ratios are rounded to 3 significant digits to pool seeds); columns
        ``mae, mae_sd, decision_accuracy, da_sd, n_seeds`` and, when the results have the column,
        ``n_unavailable`` (cells without an estimate, summed over seeds; the means skip seeds
        whose ``mae`` is NaN because no cell had one).
    """
    if estimand not in ("score", "forecast"):
        raise ValueError(f"estimand must be 'score' or 'forecast'; got {estimand!r}")
    r = results[results.estimand == estimand].copy()
    keys = ["strategy", "k", "method"]
    if estimand == "forecast":
        r["ratio"] = r["ratio"].map(lambda v: float(f"{v:.3g}"))
        keys = ["strategy", "k", "ratio", "method"]
    g = r.groupby(keys, sort=True)
    return pd.DataFrame({
        "mae": g["mae"].mean(), "mae_sd": g["mae"].std(ddof=1),
        "decision_accuracy": g["decision_accuracy"].mean(), "da_sd": g["decision_accuracy"].std(ddof=1),
        "n_seeds": g["seed"].nunique(),
        **({"n_unavailable": g["n_unavailable"].sum()} if "n_unavailable" in r.columns else {}),
    })


def subset_study(
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    n_calibration: int = 10,
    simulation: Optional[dict] = None,
    known_questions: bool = True,
    truth: str = "observed",
    **options,
) -> SubsetStudy:
    """The efficient-evaluation study on simulated DataDecide-like data, over seeds.

    Per seed ``s``: simulate ``irsl.simulate.pretraining(seed=s, **simulation)``, draw
    ``n_calibration`` calibration recipes at random (``numpy.random.default_rng(s)``) and run
    :func:`efficient_eval` with ``seed=s`` on the rest.

    Parameters
    ----------
    seeds : sequence of int
        Non-empty, distinct.
    n_calibration : int
        Calibration recipes per seed (at least 1, leaving at least two recipes held out).
    simulation : dict, optional
        Arguments of :func:`irsl_stats.simulate.pretraining`, over :data:`DEFAULT_SIMULATION`
        (25 recipes x 14 sizes x 2 checkpoints, 10 benchmarks x 300 questions).
    known_questions : bool
        Also score with the true question parameters (``irsl_known``).
    truth : {"observed", "expected"}
        The full-benchmark score to hit: the mean of the model's simulated responses over all of
        the benchmark's questions (what evaluating every question gives), or the simulator's
        expected score (``sim.expected_scores()``, free of response noise).
    **options
        Passed to :func:`efficient_eval` (``ks``, ``strategies``, ``ratios``, ``law``,
        ``score_method``, ``calibration_method``, ``n_threads`` ...); not ``seed``,
        ``known_bank``, ``true_scores`` or ``bank``, which the study sets per seed.

    Raises
    ------
    ValueError
        If ``seeds`` is empty, not integers or repeats a value, ``n_calibration`` is not a
        positive integer leaving two recipes held out, ``truth`` is invalid or ``options`` holds an argument the
        study sets itself; and as :func:`efficient_eval`.

    Returns
    -------
    SubsetStudy

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> study = irsl.evaluation.subset_study([0], simulation=dict(n_recipes=6,
    ...     questions_per_benchmark=40, sizes=(4e6, 1e7, 6e7, 3e8, 1e9)), n_calibration=3,
    ...     ks=(10,), strategies=("random",), n_threads=1)  # doctest: +SKIP
    >>> study.summary("score")  # doctest: +SKIP
    """
    from . import simulate

    if truth not in ("observed", "expected"):
        raise ValueError(f"truth must be 'observed' or 'expected'; got {truth!r}")
    seeds = list(np.atleast_1d(seeds)) if not isinstance(seeds, (str, bytes)) else [seeds]
    if not seeds or not all(is_integer(s) for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of integers; got {seeds!r}")
    # a repeated seed repeats the whole simulation and study: duplicated rows, mae_sd shrunk
    seeds = _as_int_list(seeds, "seeds")
    if not is_integer(n_calibration, 1):
        raise ValueError(f"n_calibration must be a positive integer (calibration recipes per seed); got {n_calibration!r}")
    # subset_study sets these per seed itself
    taken = sorted({"seed", "known_bank", "true_scores", "calibration", "bank"} & set(options))
    if taken:
        raise ValueError(f"subset_study sets {taken} itself (per seed); do not pass them in **options")
    sim_kw = {**DEFAULT_SIMULATION, **(simulation or {})}
    frames = []
    reduction = None
    for s in seeds:
        sim = simulate.pretraining(seed=int(s), **sim_kw)
        names = np.asarray(sim.models["recipe"].cat.categories)
        if not 1 <= n_calibration < names.size - 1:
            raise ValueError(f"n_calibration must leave at least two of {names.size} recipes held out")
        rng = np.random.default_rng(int(s))
        cal = names[rng.permutation(names.size)[:n_calibration]]
        known = None
        if known_questions:
            theta_cal = sim.models.loc[sim.models["recipe"].isin(cal), "theta"]
            known = known_item_bank(sim.items, theta_cal)
        true_scores = sim.expected_scores() if truth == "expected" else None
        out = efficient_eval(sim.responses, sim.models, cal, seed=int(s), known_bank=known,
                             true_scores=true_scores, **options)
        reduction = out.attrs.pop("reduction")
        frames.append(out)
    results = pd.concat(frames, ignore_index=True)
    return SubsetStudy(results=results, reduction=reduction,
                       settings={"seeds": list(seeds), "n_calibration": n_calibration, "truth": truth,
                                 "simulation": sim_kw, **{k: v for k, v in options.items()}})
