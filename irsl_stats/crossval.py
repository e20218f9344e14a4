"""Cross-validated cross-benchmark forecasting studies (with the baselines users compare to).

Two designs, both K-fold over models (calibrate on the training models, forecast the test models):

:func:`holdout_benchmark_study`
    Aggregate scores (one number per model and benchmark, e.g. the Open LLM leaderboard /
    observational-scaling-laws table). For every benchmark in turn, the test models' score on it
    is forecast from their scores on the other benchmarks. IRSL treats each benchmark's score as
    one Beta response and fits D-dimensional abilities on the training models; baselines are
    ordinary least squares on the other benchmarks and the observational-scaling-laws recipe
    (Ruan et al. 2024): principal components of the other benchmarks, then a linear model for the
    logit of the held-out one.
:func:`transfer_study`
    Per-question responses on a source and a target benchmark (e.g. GSM8K and MATH sample
    counts). The test models' target mean score is forecast from their source responses only.
    Baselines: logit-linear regression of the target mean on the source mean, and on log
    compute, fitted on the training models.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from ._checks import is_clip_eps, is_integer
from .data import _fmt_labels

__all__ = ["holdout_benchmark_study", "transfer_study", "fold_labels", "mae_table", "stack_benchmarks"]


def fold_labels(n: int, folds: int, seed: int) -> np.ndarray:
    """Balanced random fold of each of ``n`` units (seeded).

    Parameters
    ----------
    n : int
        Number of units (models).
    folds : int
        Number of folds, an integer in ``[2, n]``.
    seed : int

    Returns
    -------
    ndarray of int, shape (n,)
        Fold of each unit; fold sizes differ by at most one.

    Examples
    --------
    >>> sorted(fold_labels(5, 2, seed=0).tolist())
    [0, 0, 0, 1, 1]
    """
    # a float such as 2.5 would give fractional fold labels that match no ``range(folds)``
    if not is_integer(folds):
        raise ValueError(f"folds must be an integer in [2, {n}]; got {folds!r}")
    if folds < 2 or folds > n:
        raise ValueError(f"folds must be in [2, {n}]; got {folds}")
    return np.random.default_rng(seed).permutation(n) % folds


def stack_benchmarks(frames: Mapping[str, pd.DataFrame], *, question: str = "problem",
                     benchmark: str = "benchmark") -> pd.DataFrame:
    """One long table from per-benchmark tables whose question ids may collide.

    Parameters
    ----------
    frames : mapping of benchmark name -> DataFrame
        Long responses of each benchmark; the columns of the first table are kept.
    question : str
        Question-id column of the inputs (e.g. problem numbers, which repeat across benchmarks).
    benchmark : str
        Name of the benchmark column added.

    Returns
    -------
    DataFrame
        The rows of all tables, with ``benchmark`` and a ``question`` column labelled
        ``"<benchmark>/<id>"`` (unique across benchmarks).

    Examples
    --------
    >>> a = pd.DataFrame({"model": ["m"], "problem": [1], "k": [2], "n": [5]})
    >>> stack_benchmarks({"GSM8K": a, "MATH": a})["question"].tolist()
    ['GSM8K/1', 'MATH/1']
    """
    if not frames:
        raise ValueError("frames: at least one benchmark table is needed")
    columns = list(next(iter(frames.values())).columns)
    parts = []
    for name, frame in frames.items():
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"the table of benchmark {name!r} lacks the column(s) {missing}")
        parts.append(frame[columns].assign(**{benchmark: name}))
    out = pd.concat(parts, ignore_index=True)
    out["question"] = out[benchmark].astype(str) + "/" + out[question].astype(str)
    return out


def _check_eps(eps) -> float:
    """``eps`` of the logit clipping: in ``(0, 0.5)`` (else ``[eps, 1 - eps]`` is empty)."""
    if not is_clip_eps(eps):
        raise ValueError(f"eps must be a number in (0, 0.5) (scores are clipped to [eps, 1 - eps]); got {eps!r}")
    return float(eps)


def _logit(p, eps: float) -> np.ndarray:
    return logit(np.clip(np.asarray(p, float), eps, 1 - eps))


def _pca_logit(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, k: int, eps: float):
    """Observational scaling laws: standardise, project on the first ``k`` principal components
    (training models), then ordinary least squares for ``logit(y)``."""
    mu, sd = train_x.mean(axis=0), train_x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = (train_x - mu) / sd
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    v = vt[: min(k, vt.shape[0])].T
    design = np.column_stack([np.ones(len(z)), z @ v])
    coef = np.linalg.lstsq(design, _logit(train_y, eps), rcond=None)[0]
    test = np.column_stack([np.ones(len(test_x)), ((test_x - mu) / sd) @ v])
    return expit(test @ coef)


def _ols(train_x, train_y, test_x):
    design = np.column_stack([np.ones(len(train_x)), train_x])
    coef = np.linalg.lstsq(design, train_y, rcond=None)[0]
    return np.column_stack([np.ones(len(test_x)), test_x]) @ coef


def holdout_benchmark_study(
    scores: pd.DataFrame,
    *,
    folds: int = 5,
    dims: Union[int, str] = "auto",
    max_dims: int = 4,
    criterion: str = "bic",
    pca_components: int = 3,
    seed: int = 0,
    eps: float = 1e-3,
    verbose: bool = False,
    **fit_kwargs,
) -> pd.DataFrame:
    """Forecast each benchmark's score of held-out models from their other benchmarks.

    Parameters
    ----------
    scores : DataFrame, shape (M, B)
        One row per model (index = model label), one column per benchmark (B >= 2), scores in
        [0, 1] (rows with missing values are an error: the design needs complete models). Labels
        must be unique, also when compared as text.
    folds : int
        K of the K-fold over models.
    dims, max_dims, criterion : as in :func:`irsl_stats.fit` (``dims="auto"`` chooses D per
        fold on the training models).
    pca_components : int
        Components of the PCA baseline (>= 1; at most the number of other benchmarks are used).
    seed : int
        Fold assignment.
    verbose : bool
        One line per fold.
    eps : float
        Scores are clipped to ``[eps, 1 - eps]`` for the baselines' logits (``0 < eps < 0.5``);
        the fit gets them with ``boundary="squeeze"``.
    **fit_kwargs
        Passed to :func:`irsl_stats.fit` (e.g. ``precision=``, ``n_threads=``).

    Returns
    -------
    DataFrame
        One row per (fold, benchmark, test model), with the model and benchmark labels of
        ``scores`` (same types, so the table joins with the input): ``truth``, ``irsl``
        (median of the predictive distribution of the observed score, the point forecast for
        absolute error), ``irsl_mean`` (posterior mean of the expected score), ``irsl_lower``,
        ``irsl_upper`` (95% prediction interval), ``ols``, ``pca`` and ``dims`` (the D used in
        that fold).

    Raises
    ------
    ValueError
        If ``scores`` has fewer than two benchmark columns, duplicated model or benchmark labels
        (also as text), models with missing scores (naming them), non-numeric columns or scores
        outside [0, 1] (naming the cells); if ``eps`` is not in (0, 0.5) or ``pca_components``
        not a positive integer.

    Examples
    --------
    >>> table = holdout_benchmark_study(wide_scores, folds=5)     # doctest: +SKIP
    >>> mae_table(table, ["irsl", "ols", "pca"])                  # doctest: +SKIP
    """
    from .api import fit
    from .crossbench import MultidimBank

    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a DataFrame (models x benchmarks); got {type(scores).__name__}")
    if scores.shape[1] < 2:
        raise ValueError(f"scores: at least 2 benchmark columns are needed (each benchmark is forecast "
                         f"from the others); got {scores.shape[1]}: {list(scores.columns)}")
    for what, labels in (("model labels (index)", scores.index), ("benchmark labels (columns)", scores.columns)):
        if labels.has_duplicates:
            raise ValueError(f"scores: duplicated {what}: {_fmt_labels(labels[labels.duplicated()].unique())}")
        text = labels.astype(str)
        if text.has_duplicates:  # labels are handled as text inside, then mapped back
            clash = labels[text.isin(text[text.duplicated()])]
            raise ValueError(f"scores: {what} {_fmt_labels(clash)} have the same text; rename them")
    eps = _check_eps(eps)
    if not is_integer(pca_components, 1):
        # vt[:k] with k <= 0 would silently keep all components but the last -k
        raise ValueError(f"pca_components must be a positive integer; got {pca_components!r}")
    if scores.isna().any().any():
        rows = list(scores.index[scores.isna().any(axis=1)][:5])
        raise ValueError(f"scores: {int(scores.isna().any(axis=1).sum())} model(s) have missing "
                         f"benchmark scores (e.g. {rows}); drop them first")
    not_num = [c for c in scores.columns if not pd.api.types.is_numeric_dtype(scores[c])
               or pd.api.types.is_bool_dtype(scores[c])]
    if not_num:
        raise ValueError(f"scores: benchmark column(s) {_fmt_labels(not_num)} are not numeric")
    # checked here, on the whole table, so that the message names models and benchmarks (the fit
    # would report rows of an internal long table of one fold)
    outside = (scores < 0) | (scores > 1)
    if outside.to_numpy().any():
        cells = [(m, b, float(scores.loc[m, b])) for m, b in outside.stack().loc[lambda v: v].index]
        raise ValueError(f"scores must be in [0, 1] (rescale percentages); {len(cells)} value(s) are not, "
                         f"e.g. (model, benchmark, score) {cells[:5]}")
    names = [str(c) for c in scores.columns]
    wide = scores.copy()
    wide.columns = names
    wide.index = wide.index.astype(str)
    wide.index.name = "model"
    long = wide.reset_index().melt(id_vars="model", var_name="question", value_name="y")
    long["benchmark"] = long["question"]
    fold = fold_labels(len(wide), folds, seed)
    out = []
    for f in range(folds):
        train, test = wide.index[fold != f], wide.index[fold == f]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit("ability ~ 1", data=long[long["model"].isin(train)], benchmark="benchmark",
                      boundary="squeeze", dims=dims, max_dims=max_dims, dims_criterion=criterion,
                      **fit_kwargs)
        bank = res.item_bank()
        if not isinstance(bank, MultidimBank):
            # a one-dimensional fit (dims=1, or "auto" choosing D = 1) gives an ItemBank: its
            # forecasts are those of the D = 1 MultidimBank
            bank = MultidimBank.from_item_bank(bank)
        d_used = bank.dims  # one-dimensional results have no ``dims`` attribute
        if verbose:
            print(f"fold {f + 1}/{folds}: D = {d_used}, converged {res.converged}", flush=True)
        test_long = long[long["model"].isin(test)]
        for b in names:
            others = [c for c in names if c != b]
            fc = bank.forecast(b, test_long[test_long["question"] != b], boundary="squeeze",
                               interval="prediction")
            tx, ty = wide.loc[train, others].to_numpy(), wide.loc[train, b].to_numpy()
            vx = wide.loc[test, others].to_numpy()
            out.append(pd.DataFrame({
                "fold": f, "benchmark": b, "model": test, "truth": wide.loc[test, b].to_numpy(),
                "irsl": fc.loc[test, "median"].to_numpy(), "irsl_mean": fc.loc[test, "score"].to_numpy(),
                "irsl_lower": fc.loc[test, "lower"].to_numpy(),
                "irsl_upper": fc.loc[test, "upper"].to_numpy(), "ols": _ols(tx, ty, vx),
                "pca": _pca_logit(tx, ty, vx, pca_components, eps), "dims": d_used,
            }))
    table = pd.concat(out, ignore_index=True)
    # back to the input's labels (the fit works on text labels), so the table joins with ``scores``
    table["model"] = table["model"].map(dict(zip(wide.index, scores.index)))
    table["benchmark"] = table["benchmark"].map(dict(zip(names, scores.columns)))
    return table


def transfer_study(
    responses: pd.DataFrame,
    source,
    target,
    *,
    model: str = "model",
    question: str = "question",
    benchmark: str = "benchmark",
    successes: Optional[str] = None,
    trials: Optional[str] = None,
    response: Optional[str] = None,
    compute: Optional[pd.Series] = None,
    folds: int = 5,
    seed: int = 0,
    family: str = "beta_binomial",
    irt: str = "1pl",
    ability: str = "per_benchmark",
    eps: float = 1e-5,
    verbose: bool = False,
    **fit_kwargs,
) -> pd.DataFrame:
    """Forecast held-out models' mean score on ``target`` from their ``source`` responses.

    Parameters
    ----------
    responses : DataFrame
        Long responses on (at least) the two benchmarks; question labels unique across them.
    source, target : benchmark labels
        Two different values of the ``benchmark`` column.
    model, question, benchmark : str
        Column names.
    successes, trials, response : str
        Column names (counts, or a response in [0, 1]).
    compute : Series, optional
        Training compute per model (index = model label) for the log-compute baseline: a finite
        positive value for every model with responses on both benchmarks (unique labels).
    folds, seed : K-fold over the models that have both benchmarks.
    family, irt, ability : passed to :func:`irsl_stats.fit` (``ability="per_benchmark"``
        estimates the two abilities' correlation; ``"shared"`` assumes one ability).
    eps : float
        Mean scores are clipped to ``[eps, 1 - eps]`` before the baselines' logits; in
        ``(0, 0.5)``.
    verbose : bool
        One line per fold.
    **fit_kwargs
        Passed to :func:`irsl_stats.fit` (e.g. ``n_threads=``).

    Returns
    -------
    DataFrame
        One row per test model: ``fold, truth`` (its observed target mean over the questions it
        answered that some training model also answered, i.e. the calibrated ones), ``irsl`` (the
        forecast over the same questions), ``irsl_lower``,
        ``irsl_upper`` (95% prediction interval of the observed mean; for the count families of
        the model's own trials on each question), ``irsl_mean`` (posterior mean of the expected
        score), ``on_source`` and (with ``compute``) ``on_compute``. ``irsl`` is the median of
        the predictive distribution: the point forecast that minimises the expected absolute
        error (the distribution of a mean pass rate near 0 is strongly right-skewed, and its mean
        is pulled up by the tail).

    Raises
    ------
    ValueError
        If ``source`` or ``target`` is not a value of the ``benchmark`` column (the message lists
        the benchmarks) or they are equal; if neither ``response`` nor both ``successes`` and
        ``trials`` are given, or a named column is absent; if ``eps`` is not in (0, 0.5); if
        ``compute`` lacks a model, has duplicated labels or values that are not finite and
        positive (naming the models); if a test model answered no calibrated source or target
        question (naming it).

    Examples
    --------
    >>> table = transfer_study(counts, "GSM8K", "MATH", successes="k",   # doctest: +SKIP
    ...                        trials="n", compute=compute)
    >>> mae_table(table, ["irsl", "on_source", "on_compute"])            # doctest: +SKIP
    """
    from .api import fit
    from .data import _drop_unused_categories
    from .families import get_family

    if benchmark not in responses.columns:
        raise ValueError(f"responses has no benchmark column {benchmark!r}; columns: "
                         f"{_fmt_labels(responses.columns, limit=30)}")
    known_b = pd.unique(responses[benchmark].dropna())
    for role, label in (("source", source), ("target", target)):
        if not responses[benchmark].isin([label]).any():
            raise ValueError(f"{role}={label!r} is not a benchmark of column {benchmark!r}; the benchmarks "
                             f"are: {_fmt_labels(sorted(known_b, key=str), limit=20)}")
    if source == target:
        raise ValueError(f"source and target must differ; both are {source!r}")
    eps = _check_eps(eps)
    # the mean scores of the baselines are computed here, before the fit would validate them
    if response is None and (successes is None or trials is None):
        raise ValueError(f"give response= (a column of scores in [0, 1]) or both successes= and "
                         f"trials= (count columns); got response={response!r}, successes={successes!r}, "
                         f"trials={trials!r}")
    named = {"model": model, "question": question, "successes": successes, "trials": trials,
             "response": response}
    absent = {arg: col for arg, col in named.items() if col is not None and col not in responses.columns}
    if absent:
        raise ValueError(f"responses has no column(s) {absent} (argument: column); columns: "
                         f"{_fmt_labels(responses.columns, limit=30)}")
    cols = dict(model=model, question=question, successes=successes, trials=trials)
    if response is not None:
        cols["response"] = response
    # categorical label columns (the package's own simulated data) keep their categories when
    # subset; the data layer rejects declared labels without responses, so drop the unused ones
    # after every subset the fit sees
    label_cols = (model, question, benchmark)
    data = _drop_unused_categories(responses[responses[benchmark].isin([source, target])], label_cols)
    rate = (data[successes] / data[trials]) if successes is not None else data[response]
    mean = rate.groupby([data[model], data[benchmark]], observed=True).mean().unstack()
    both = mean.dropna().index
    try:
        models = np.asarray(sorted(both))
    except TypeError:
        # ids of mixed types (1 and "m02": two sources) cannot be sorted, and np.asarray would
        # turn the ints into str that no longer match the data: keep the order of first
        # appearance in an object array, as the data layer orders such labels
        in_both = set(both)
        models = np.array([m for m in pd.unique(data[model]) if m in in_both], dtype=object)
    if compute is not None:
        compute = _check_compute(compute, models)
    fold = fold_labels(len(models), folds, seed)
    out = []
    for f in range(folds):
        train, test = models[fold != f], models[fold == f]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit("ability ~ 1", data=_drop_unused_categories(data[data[model].isin(train)], label_cols),
                      benchmark=benchmark,
                      family=family, irt=irt, ability=ability, **cols, **fit_kwargs)
        if verbose:
            print(f"fold {f + 1}/{folds}: converged {res.converged}", flush=True)
        # after the fit, which validated ``family``
        counts = successes is not None and get_family(family).uses_counts
        slope = np.polyfit(_logit(mean.loc[train, source], eps), _logit(mean.loc[train, target], eps), 1)
        if compute is not None:
            lc = np.log(compute.astype(float))
            slope_c = np.polyfit(lc.loc[train].to_numpy(), _logit(mean.loc[train, target], eps), 1)
        known = set(res.items.index)
        for m in test:
            in_m = (data[model] == m).to_numpy()
            rows, rows_rate = data[in_m], rate[in_m]
            is_t = ((rows[benchmark] == target) & rows[question].isin(known)).to_numpy()
            qs = rows.loc[is_t, question]
            # questions no training model answered are not calibrated: they cannot be used
            src = rows[(rows[benchmark] == source) & rows[question].isin(known)]
            if qs.empty or src.empty:
                raise ValueError(f"test model {m!r} (fold {f}) answered no {'target' if qs.empty else 'source'} "
                                 f"question that a training model answered, so it cannot be forecast; "
                                 f"drop it or the questions only it answered")
            extra = {}
            if counts:
                # the interval is for this model's observed pass rate: its own trials per question
                # (a question it answered in several rows: their trials add up)
                extra["target_trials"] = rows.loc[is_t, trials].groupby(qs.to_numpy()).sum()
            fc = res.forecast(target, using=src, target_questions=qs.to_numpy(), interval="prediction",
                              **extra)
            # the truth is the observed mean over the questions the forecast covers (a question
            # only test models answered is in ``mean`` but not in the forecast)
            truth = float(rows_rate[is_t].mean())
            rec = dict(fold=f, model=m, truth=truth, irsl=float(fc["median"].iloc[0]),
                       irsl_mean=float(fc["score"].iloc[0]),
                       irsl_lower=float(fc["lower"].iloc[0]), irsl_upper=float(fc["upper"].iloc[0]),
                       on_source=float(expit(np.polyval(slope, _logit(mean.loc[m, source], eps)))))
            if compute is not None:
                rec["on_compute"] = float(expit(np.polyval(slope_c, np.log(float(compute.loc[m])))))
            out.append(rec)
    return pd.DataFrame(out)


def _check_compute(compute, models: np.ndarray) -> pd.Series:
    """``compute`` (model label -> training compute) for ``models``, as float; every model needs
    a finite positive value (its log is the baseline's regressor)."""
    comp = compute if isinstance(compute, pd.Series) else pd.Series(compute)
    if comp.index.has_duplicates:
        raise ValueError(f"compute: duplicated model label(s) in the index: "
                         f"{_fmt_labels(comp.index[comp.index.duplicated()].unique())}")
    idx = pd.Index(models)
    absent = idx[~idx.isin(comp.index)]
    if len(absent):
        raise ValueError(f"compute: {len(absent)} model(s) with responses on both benchmarks have no "
                         f"compute value: {_fmt_labels(absent)}")
    values = pd.to_numeric(comp.reindex(idx), errors="coerce").astype(float)
    bad = ~(np.isfinite(values.to_numpy()) & (values.to_numpy() > 0))
    if bad.any():
        raise ValueError(f"compute: the values must be finite and positive; {int(bad.sum())} model(s) "
                         f"have a missing, non-numeric, infinite, zero or negative value: "
                         f"{_fmt_labels(idx[bad])}")
    return values


def mae_table(table: pd.DataFrame, methods: Sequence[str], by: Optional[str] = None) -> pd.DataFrame:
    """Mean absolute error of each method's column against ``truth`` (overall or per ``by``).

    Parameters
    ----------
    table : DataFrame
        Has a ``truth`` column and one column per method.
    methods : sequence of str
        Columns to score.
    by : str, optional
        Group column (e.g. ``"benchmark"``).

    Returns
    -------
    DataFrame
        Columns = methods; one row (``"all"``) or one per group.

    Raises
    ------
    ValueError
        If a column is missing, or ``truth`` or a method's column has missing values (naming
        the columns and rows): every method must be scored on the same rows.

    Examples
    --------
    >>> t = pd.DataFrame({"truth": [0.5, 0.7], "a": [0.4, 0.7], "b": [0.5, 0.9]})
    >>> mae_table(t, ["a", "b"]).round(3).to_dict("records")
    [{'a': 0.05, 'b': 0.1}]
    """
    cols = ["truth"] + list(methods)
    absent = [c for c in cols if c not in table.columns]
    if absent:
        raise ValueError(f"table has no column(s) {absent}; columns: {_fmt_labels(table.columns, limit=30)}")
    # NaN would be skipped by the mean, so methods would be scored on different rows
    nan = table[cols].isna()
    if nan.any().any():
        which = {c: int(n) for c, n in nan.sum().items() if n}
        raise ValueError(f"table has missing values (column: count) {which}, e.g. at rows "
                         f"{_fmt_labels(table.index[nan.any(axis=1)])}; drop those rows first so that "
                         f"every method is scored on the same rows")
    err = table[list(methods)].sub(table["truth"], axis=0).abs()
    if by is None:
        return err.mean().to_frame("all").T
    return err.groupby(table[by]).mean()
