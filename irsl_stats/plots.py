"""Figures for fits, item banks, pass@k forecasts and decision-accuracy studies.

Every function draws on a matplotlib ``Axes`` (a new :class:`matplotlib.figure.Figure` when
``ax=None``; anything but an ``Axes`` is a ``TypeError``) and returns the **Figure**
(``ax.figure`` when ``ax`` is given). A group keeps its colour when only some groups are drawn
(``levels=`` / ``models=``), so panels with different subsets can be compared. Nothing here
calls ``plt.show()`` or touches pyplot's global state, so the functions are safe on headless
machines and in loops; save with ``fig.savefig("scaling.png")`` or let Jupyter display the
returned figure.

matplotlib is an optional dependency (``pip install "irsl_stats[plot]"``); it is imported when a
function is called, never when :mod:`irsl_stats` is imported.

Functions
---------
:func:`plot_scaling`
    Abilities (or expected scores) of the fitted models against a covariate such as compute, with
    the fitted scaling law and its confidence band per group (``res.plot_scaling()``).
:func:`plot_items`
    Item characteristic curves or information curves of an item bank (``bank.plot_items()``).
:func:`plot_pass_at_k`
    Forecast pass@k curves with their bands, and observed pass@k as points.
:func:`plot_power_law`
    ``-log pass@k`` against ``k`` on log-log axes (a power law is a straight line), with fitted
    power laws (:func:`irsl_stats.testtime.power_law_fit`).
:func:`plot_decision_accuracy`
    Decision accuracy against the compute ratio (or any column), one line per method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from scipy import special, stats

from ._checks import is_integer
from .data import _fmt_labels

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .bank import ItemBank
    from .results import IRSLResults

__all__ = ["plot_scaling", "plot_items", "plot_pass_at_k", "plot_power_law", "plot_decision_accuracy"]

_INSTALL_HINT = 'plotting needs matplotlib: pip install "irsl_stats[plot]"'

#: most groups (levels, models) a figure labels in a legend; with more the legend would cover the
#: axes, so it is left out (the curves keep their colours; draw a subset with ``levels=`` /
#: ``models=`` for a legend)
MAX_LEGEND_GROUPS = 12
#: most question curves :func:`plot_items` labels in a legend (one label per curve, longer)
MAX_LEGEND_ITEMS = 10

#: what an item characteristic curve ``logistic(a theta + d)`` is, per family: the mean of the
#: response, which for the count families is the success probability of one trial
_ICC_LABELS = {
    "bernoulli": "P(correct)",
    "binomial": "P(correct) per trial = E[successes] / trials",
    "beta_binomial": "P(correct) per trial = E[successes] / trials",
    "beta": "expected response",
}


# ================================================================================ helpers
def _new_axes(ax: Optional["Axes"], figsize: Tuple[float, float] = (6.4, 4.4)):
    """``(fig, ax)``: ``ax`` and its figure, or a new pyplot-free Figure with one Axes."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - exercised by monkeypatching in the tests
        raise ImportError(_INSTALL_HINT) from e
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    from matplotlib.axes import Axes

    # duck typing would accept the pyplot module (it has .figure and .plot) and draw on global state
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax.figure, ax


def _colors(n: int) -> list:
    """``n`` distinct colours: the default property cycle, or tab20 / a continuous map beyond it."""
    import matplotlib

    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", [])
    if n <= len(cycle):
        return list(cycle[:n])
    cmap = matplotlib.colormaps["tab20" if n <= 20 else "turbo"]
    return [cmap(i / max(n - 1, 1)) if n > 20 else cmap(i) for i in range(n)]


def _level_colors(present: Sequence, chosen: Sequence) -> list:
    """Colours of the ``chosen`` levels, each taken from a palette over all ``present`` levels.

    A level keeps its colour when only some levels are drawn (``levels=`` / ``models=``), so
    panels with different subsets can be compared.
    """
    palette = _colors(len(present))
    where = {_key(v): i for i, v in enumerate(present)}
    return [palette[where[_key(v)]] for v in chosen]


def _key(value: Any) -> Any:
    """Hashable stand-in of a level (NaN levels compare equal to each other)."""
    return "__nan__" if (isinstance(value, float) and np.isnan(value)) else value


def _require_columns(frame: Any, columns: Sequence[str], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(frame.columns)}")


def _grid(lo: float, hi: float, n: int, log: bool) -> np.ndarray:
    if log:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


# ================================================================================ scaling law
def plot_scaling(
    res: "IRSLResults",
    x: str = "compute",
    by: Optional[str] = None,
    what: str = "ability",
    benchmark: Optional[str] = None,
    alpha: float = 0.05,
    logx: bool = True,
    ax: Optional["Axes"] = None,
    *,
    levels: Optional[Sequence] = None,
    x_range: Optional[Tuple[float, float]] = None,
    band: str = "confidence",
    n_grid: int = 100,
) -> "Figure":
    """Abilities (or scores) of the fitted models against a covariate, with the fitted law.

    Points are the fitted models' abilities ``theta_i`` with ``1 - alpha`` error bars
    (``theta_i +- z se_i``); with ``what="score"`` they are mapped to the expected
    full-benchmark score. The line is the scaling law ``x'beta`` evaluated by
    :meth:`IRSLResults.predict <irsl_stats.results.IRSLResults.predict>` on a grid of ``x``, the
    shaded band its confidence (or prediction) interval; one colour per level of ``by``.

    Parameters
    ----------
    res : IRSLResults
        A fit whose formula uses the covariate ``x`` (e.g. ``ability ~ log(compute) + family``).
    x : str
        Covariate on the horizontal axis; a numeric column of the fit's model table.
    by : str, optional
        Covariate defining the groups (``"family"``, ``"recipe"``); one law per level. Other
        covariates of the formula are held at their median (numeric) or most common value
        (otherwise) within each group.
    what : {"ability", "score"}
        Vertical axis: ability (the fit's identified scale) or expected score on the response
        scale (for ``binomial`` and ``beta_binomial`` fits the mean success rate per trial, so
        labelled).
    benchmark : str, optional
        With ``what="score"``: the benchmark whose questions define the score (default all).
    alpha : float
        Error bars and band are ``1 - alpha`` intervals.
    logx : bool
        Logarithmic ``x`` axis (and a geometric grid); needs ``x > 0``.
    ax : matplotlib Axes, optional
        Draw here; default a new Figure.
    levels : sequence, optional
        Only these levels of ``by`` (default all).
    x_range : (float, float), optional
        Range of the grid of the law, e.g. up to a target compute to show the extrapolation;
        default the observed range of each group.
    band : {"confidence", "prediction"}
        Interval of the law's mean (``mean_ci_*`` / ``ci_*`` of ``predict``) or of a new
        model (``obs_ci_*`` / ``pi_*``, adds ``sigma``).
    n_grid : int
        Points on the grid.

    Returns
    -------
    matplotlib.figure.Figure
        Per group: one error-bar marker line and one curve (``Line2D``), one band and one error-bar
        collection. With ``by``, a legend of the groups when at most
        :data:`MAX_LEGEND_GROUPS` (12) are drawn; with more there is none (pass ``levels=``
        for a labelled subset; colours stay the same).

    Raises
    ------
    ValueError
        If ``x`` or ``by`` is not a covariate of the fit, ``x`` is not numeric (or not positive
        with ``logx``), ``what``/``band`` is unknown, or ``levels`` is empty or names unknown
        groups.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=1)
    >>> res = irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models)
    >>> fig = irsl.plot_scaling(res, x="compute", by="family")   # or res.plot_scaling(...)
    >>> fig.savefig("scaling.png")                                # doctest: +SKIP
    """
    if what not in ("ability", "score"):
        raise ValueError(f"what must be 'ability' or 'score'; got {what!r}")
    if band not in ("confidence", "prediction"):
        raise ValueError(f"band must be 'confidence' or 'prediction'; got {band!r}")
    from .results import check_alpha  # results imports plots lazily too

    check_alpha(alpha)
    if not hasattr(res, "predict") or not hasattr(res, "design") or not hasattr(res, "abilities"):
        raise TypeError(f"res must be an IRSLResults (from irsl.fit); got {type(res).__name__}")
    if hasattr(res, "Sigma"):  # a MultidimResults: D abilities per model, not one
        raise TypeError("plot_scaling draws one ability per model; for a multidimensional fit plot "
                        "res.predict(new_models) per dimension (and res.abilities)")
    if int(n_grid) < 2:
        raise ValueError(f"n_grid must be at least 2; got {n_grid!r}")
    cov: pd.DataFrame = res.design.covariates
    if x not in cov.columns:
        raise ValueError(
            f"x={x!r} is not a covariate of the fitted formula {res.design.formula!r}; "
            f"covariates: {list(cov.columns)}"
        )
    xv = pd.to_numeric(cov[x], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(xv)):
        raise ValueError(f"x={x!r} must be a numeric covariate with finite values")
    if logx and np.any(xv <= 0):
        raise ValueError(f"x={x!r} has values <= 0; pass logx=False")
    if by is not None and by not in cov.columns:
        raise ValueError(f"by={by!r} is not a covariate of the fitted formula; covariates: {list(cov.columns)}")
    if x_range is not None:
        lo, hi = (float(v) for v in x_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi) or (logx and lo <= 0):
            raise ValueError(f"x_range must be (low, high) with low < high (and low > 0 with logx); got {x_range!r}")

    abil = res.abilities.reindex(cov.index)
    theta = abil["theta"].to_numpy(float)
    se = abil["se"].to_numpy(float)
    z = stats.norm.ppf(1 - alpha / 2)
    if what == "ability":
        y, y_lo, y_hi = theta, theta - z * se, theta + z * se
        cols = ("mean", "mean_ci_lower", "mean_ci_upper") if band == "confidence" else (
            "mean", "obs_ci_lower", "obs_ci_upper")
    else:
        y = res.expected_score(theta, benchmark)
        y_lo = res.expected_score(theta - z * se, benchmark)
        y_hi = res.expected_score(theta + z * se, benchmark)
        cols = ("score", "ci_lower", "ci_upper") if band == "confidence" else ("score", "pi_lower", "pi_upper")

    if by is None:
        if levels is not None:
            raise ValueError("levels= needs by=")
        groups = [(None, np.arange(len(cov)))]
    else:
        keys = cov[by]
        present = list(pd.unique(keys))
        chosen = present if levels is None else list(levels)
        unknown = [v for v in chosen if v not in present]
        if unknown:
            raise ValueError(f"levels {unknown} are not values of {by!r}; known: {present[:20]}")
        if not chosen:  # would draw a blank figure (and warn "No artists with labels")
            raise ValueError(f"levels= is empty: nothing to draw; known levels of {by!r}: {present[:20]}")
        groups = [(v, np.flatnonzero((keys == v).to_numpy())) for v in chosen]

    fig, ax = _new_axes(ax)
    colors = _colors(1) if by is None else _level_colors(present, chosen)
    factors = set(res.design.factor_columns)
    for (label, rows), color in zip(groups, colors):
        sub = cov.iloc[rows]
        gx = xv[rows]
        lo, hi = (float(gx.min()), float(gx.max())) if x_range is None else (float(x_range[0]), float(x_range[1]))
        if lo == hi:  # a single compute value: a short segment around it
            lo, hi = (lo / 1.5, hi * 1.5) if logx else (lo - 0.5, hi + 0.5)
        grid = _grid(lo, hi, int(n_grid), logx)
        new = sub.iloc[np.zeros(grid.size, dtype=int)].copy()  # keeps the covariates' dtypes
        for c in cov.columns:
            if c in (x, by):
                continue
            col = sub[c]
            # a number used as a factor (C(size)) is held at its most common level: its median
            # need not be a level
            if (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
                    and c not in factors):
                new[c] = float(col.median())
            else:
                new[c] = col.mode(dropna=True).iloc[0]
        new[x] = grid
        new.index = pd.RangeIndex(grid.size)
        pred = res.predict(new, what=what, benchmark=benchmark, alpha=alpha)
        name = None if label is None else str(label)
        ax.fill_between(grid, pred[cols[1]].to_numpy(), pred[cols[2]].to_numpy(), color=color,
                        alpha=0.2, linewidth=0)
        ax.plot(grid, pred[cols[0]].to_numpy(), color=color, linewidth=1.8, label=name)
        ax.errorbar(gx, y[rows], yerr=np.vstack([y[rows] - y_lo[rows], y_hi[rows] - y[rows]]),
                    fmt="o", color=color, markersize=3.5, elinewidth=0.8, alpha=0.8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    if what == "ability":
        ax.set_ylabel("ability θ")
    else:
        # the score of a count family is the mean per-trial success rate, not a count
        what_score = ("expected success rate per trial" if res.fit_info.family in ("binomial", "beta_binomial")
                      else "expected score")
        ax.set_ylabel(f"{what_score} ({benchmark if benchmark is not None else 'all questions'})")
    # ``:g`` keeps 99.5 (rounding to an integer showed alpha=0.005 as a "100%" band)
    level = f"{100 * (1 - alpha):.10g}"
    ax.set_title(f"{res.design.formula}  ({level}% {band} band)", fontsize="medium")
    if by is not None and len(groups) <= MAX_LEGEND_GROUPS:
        ax.legend(title=by, fontsize="small")
    return fig


# ================================================================================ item bank
def _spread(positions: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``n`` of ``positions`` evenly spread over the quantiles of difficulty ``b``."""
    if positions.size <= n:
        return positions
    order = positions[np.argsort(b[positions], kind="stable")]
    return order[np.unique(np.round(np.linspace(0, order.size - 1, n)).astype(int))]


def plot_items(
    bank: "ItemBank",
    questions: Optional[Sequence] = None,
    what: str = "icc",
    theta=None,
    max_items: int = 20,
    ax: Optional["Axes"] = None,
    *,
    benchmark: Optional[str] = None,
) -> "Figure":
    """Item characteristic curves or information curves of calibrated questions.

    ``what="icc"`` draws each question's mean response ``mu_j = logistic(a_j theta + d_j)``
    against ability: the probability of a correct answer (``bernoulli``), of a correct sample
    per trial, ``E[successes] / trials`` (``binomial``, ``beta_binomial``; not the expected
    count), or the expected response ``E[y]`` (``beta``); the y-axis label says which.
    ``what="information"`` its Fisher information about ability
    (:meth:`ItemBank.information <irsl_stats.bank.ItemBank.information>`, family-specific).
    Curves are coloured by the rank of their difficulty ``b_j`` (dark = easy, light = hard).

    Parameters
    ----------
    bank : ItemBank
    questions : list-like, optional
        Question labels (e.g. ``bank.select(...)``). Default all questions (of ``benchmark``).
    what : {"icc", "information"}
    theta : array_like, shape (K,), optional
        Ability grid; default 201 points over the calibration population's mean +- 4 SD.
    max_items : int
        At most this many curves: larger sets are thinned to ``max_items`` questions evenly
        spread over their difficulty quantiles.
    ax : matplotlib Axes, optional
    benchmark : str, optional
        Only questions of this benchmark.

    Returns
    -------
    matplotlib.figure.Figure
        One ``Line2D`` per question drawn (at most ``max_items``), with a legend of the
        questions when at most :data:`MAX_LEGEND_ITEMS` (10) are drawn; with more there is none
        (the colour shows the difficulty rank).

    Raises
    ------
    ValueError
        If ``what`` is unknown, a question is not in the bank, ``theta`` is not a finite 1-D
        grid, or ``max_items < 1``.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.irt(n_models=60, n_questions=40, seed=0)
    >>> bank = irsl.calibrate(sim.responses, method="jml")
    >>> fig = irsl.plot_items(bank, what="information", max_items=10)   # or bank.plot_items(...)
    >>> len(fig.axes[0].get_lines())
    10
    """
    if what not in ("icc", "information"):
        raise ValueError(f"what must be 'icc' or 'information'; got {what!r}")
    if not hasattr(bank, "items") or not hasattr(bank, "information"):
        raise TypeError(f"bank must be an ItemBank; got {type(bank).__name__}")
    if not is_integer(max_items, 1):
        raise ValueError(f"max_items must be a positive integer; got {max_items!r}")
    items = bank.items
    if questions is None:
        pos = np.arange(len(items))
    else:
        labels = pd.Index(list(questions))
        pos = items.index.get_indexer(labels)
        if (pos < 0).any():
            unknown = list(labels[pos < 0][:10])
            raise ValueError(f"questions not in the bank: {unknown}")
    if benchmark is not None:
        if "benchmark" not in items.columns:
            raise ValueError("the bank has no benchmark labels; pass benchmark=None")
        keep = (items["benchmark"].to_numpy()[pos] == benchmark)
        if not keep.any():
            raise ValueError(f"no questions of benchmark {benchmark!r}; known: {list(bank.benchmarks)}")
        pos = pos[keep]
    if pos.size == 0:
        raise ValueError("no questions to plot")
    b = items["b"].to_numpy(float)
    pos = _spread(pos, b, int(max_items))
    if theta is None:
        m, s = bank.population
        grid = np.linspace(m - 4 * s, m + 4 * s, 201)
    else:
        grid = np.asarray(theta, float)
        if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)):
            raise ValueError("theta must be a 1-D array of at least two finite abilities")
    a, d = items["a"].to_numpy(float)[pos], items["d"].to_numpy(float)[pos]
    if what == "icc":
        curves = special.expit(np.outer(grid, a) + d)
    else:
        curves = bank.information(grid, questions=items.index[pos]).to_numpy(float)

    fig, ax = _new_axes(ax)
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    bb = b[pos]
    # colour by difficulty rank (extreme difficulties would squash a linear scale)
    scale = np.argsort(np.argsort(bb, kind="stable"), kind="stable") / max(bb.size - 1, 1)
    names = items.index[pos]
    for j in range(pos.size):
        ax.plot(grid, curves[:, j], color=cmap(0.9 * scale[j]), linewidth=1.2,
                label=f"{names[j]} (b={bb[j]:.2f})")
    ax.set_xlabel("ability θ")
    ax.set_ylabel(_ICC_LABELS.get(bank.family, "expected response") if what == "icc" else "Fisher information")
    title = "Item characteristic curves" if what == "icc" else "Item information"
    if benchmark is not None:
        title += f": {benchmark}"
    ax.set_title(f"{title} ({pos.size} questions, {bank.family} {bank.irt.upper()})", fontsize="medium")
    if pos.size <= MAX_LEGEND_ITEMS:
        ax.legend(fontsize="x-small")
    return fig


# ================================================================================ pass@k
def plot_pass_at_k(
    forecast: pd.DataFrame,
    observed: Optional[pd.DataFrame] = None,
    ax: Optional["Axes"] = None,
    logx: bool = True,
    logy: bool = False,
    models: Optional[Sequence] = None,
) -> "Figure":
    """Forecast pass@k curves with their bands, and observed pass@k as points.

    Parameters
    ----------
    forecast : DataFrame, shape (n_models * n_k, 3..5)
        Tidy, as returned by :meth:`IRSLResults.forecast_pass_at_k
        <irsl_stats.results.IRSLResults.forecast_pass_at_k>` or
        :meth:`ItemBank.forecast_pass_at_k <irsl_stats.bank.ItemBank.forecast_pass_at_k>`:
        ``k``, ``pass_at_k``, optional ``model`` (one curve per model) and optional ``lower`` /
        ``upper`` (drawn as a band).
    observed : DataFrame, optional
        Points: ``k``, ``pass_at_k`` and ``model`` when ``forecast`` has models (e.g. the unbiased
        estimate :func:`irsl_stats.pass_at_k` from all samples).
    ax : matplotlib Axes, optional
    logx, logy : bool
        Logarithmic axes (log-log shows the power-law tail).
    models : sequence, optional
        Only these models (default all).

    Returns
    -------
    matplotlib.figure.Figure
        Per model: one curve (``Line2D``), one band (when ``lower``/``upper`` are given) and one
        point collection (when ``observed`` has the model). With a ``model`` column, a legend of
        the models when at most :data:`MAX_LEGEND_GROUPS` (12) are drawn; with more there is
        none (pass ``models=`` for a labelled subset; colours stay the same).

    Raises
    ------
    ValueError
        If a required column is missing, ``models`` names unknown models, ``k`` or
        ``pass_at_k`` is not numeric, ``k`` is not positive with ``logx`` or ``pass_at_k`` not
        positive with ``logy`` (matplotlib would silently drop those points; the message names
        the rows), or no row (of the chosen models) has finite ``k`` and ``pass_at_k``.
    TypeError
        If ``ax`` is not a matplotlib Axes.

    Examples
    --------
    >>> import pandas as pd, irsl_stats as irsl
    >>> fc = pd.DataFrame({"model": "m", "k": [1, 10, 100], "pass_at_k": [0.2, 0.5, 0.8],
    ...                    "lower": [0.15, 0.45, 0.7], "upper": [0.25, 0.55, 0.85]})
    >>> obs = pd.DataFrame({"model": "m", "k": [1, 10], "pass_at_k": [0.21, 0.48]})
    >>> fig = irsl.plot_pass_at_k(fc, observed=obs)
    >>> [len(fig.axes[0].get_lines()), len(fig.axes[0].collections)]
    [1, 2]
    """
    _require_columns(forecast, ["k", "pass_at_k"], "forecast")
    if observed is not None:
        _require_columns(observed, ["k", "pass_at_k"], "observed")
    has_model = "model" in forecast.columns
    if has_model:
        present = list(pd.unique(forecast["model"]))
        chosen = present if models is None else list(models)
        unknown = [m for m in chosen if m not in present]
        if unknown:
            raise ValueError(f"models {unknown} are not in forecast['model']; known: {present[:20]}")
        if observed is not None and "model" not in observed.columns and len(chosen) > 1:
            raise ValueError("observed needs a 'model' column when forecast has several models")
    else:
        if models is not None:
            raise ValueError("models= needs a 'model' column in forecast")
        chosen = [None]
    for name, frame in (("forecast", forecast), ("observed", observed)):
        if frame is None:
            continue
        for col, log in (("k", logx), ("pass_at_k", logy)):
            # a non-numeric value would fail later with "could not convert string to float"
            v = pd.to_numeric(frame[col], errors="coerce")
            bad = v.isna() & frame[col].notna()
            if bad.any():
                raise ValueError(f"{name}[{col!r}] must be numeric; rows {_fmt_labels(frame.index[bad.to_numpy()], limit=5)} "
                                 f"are not: {frame[col][bad].tolist()[:5]}")
            # on a log axis matplotlib silently drops values <= 0
            if log and (v <= 0).any():
                bad = (v <= 0).to_numpy()
                raise ValueError(f"{name}[{col!r}] must be positive for log{'x' if col == 'k' else 'y'}=True; "
                                 f"rows {_fmt_labels(frame.index[bad], limit=5)} have {v[bad].tolist()[:5]}")
    # an empty (or all-NaN) forecast would draw a blank figure (and warn "No artists with labels")
    drawn = forecast if not has_model else forecast[forecast["model"].isin(chosen)]
    finite = (np.isfinite(pd.to_numeric(drawn["k"], errors="coerce").to_numpy(float))
              & np.isfinite(pd.to_numeric(drawn["pass_at_k"], errors="coerce").to_numpy(float)))
    if not finite.any():
        raise ValueError(f"no rows with finite 'k' and 'pass_at_k' in forecast"
                         f"{' for models ' + repr(chosen[:20]) if has_model and models is not None else ''} "
                         f"({len(drawn)} rows): nothing to draw")
    band = "lower" in forecast.columns and "upper" in forecast.columns

    fig, ax = _new_axes(ax)
    colors = _colors(1) if not has_model else _level_colors(present, chosen)
    for m, color in zip(chosen, colors):
        f = forecast if m is None else forecast[forecast["model"] == m]
        f = f.sort_values("k", kind="stable")
        k = f["k"].to_numpy(float)
        label = None if m is None else str(m)
        if band and np.isfinite(f[["lower", "upper"]].to_numpy(float)).any():
            ax.fill_between(k, f["lower"].to_numpy(float), f["upper"].to_numpy(float), color=color,
                            alpha=0.2, linewidth=0)
        ax.plot(k, f["pass_at_k"].to_numpy(float), color=color, linewidth=1.8, label=label)
        if observed is not None:
            o = observed if (m is None or "model" not in observed.columns) else observed[observed["model"] == m]
            if len(o):
                ax.scatter(o["k"].to_numpy(float), o["pass_at_k"].to_numpy(float), color=color, s=14,
                           zorder=3, edgecolors="none")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("k (samples per question)")
    ax.set_ylabel("pass@k")
    ax.set_title("pass@k: forecast" + (" (band)" if band else "") + (" vs observed (points)" if observed is not None else ""),
                 fontsize="medium")
    if has_model and len(chosen) <= MAX_LEGEND_GROUPS:
        ax.legend(fontsize="small")
    return fig


def plot_power_law(
    curves: pd.DataFrame,
    fits: Optional[pd.DataFrame] = None,
    *,
    observed: Optional[pd.DataFrame] = None,
    models: Optional[Sequence] = None,
    by: str = "model",
    k: str = "k",
    value: str = "pass_at_k",
    ax: Optional["Axes"] = None,
) -> "Figure":
    """The power-law view of pass@k: ``-log pass@k`` against ``k`` on log-log axes.

    If coverage follows ``pass@k = exp(A k^b)`` (Large Language Monkeys), ``-log pass@k = -A k^b``
    is a straight line of slope ``b`` on these axes. Curves (e.g. Beta-expectation forecasts) are
    lines, ``observed`` values points, and the rows of ``fits`` dashed lines
    ``exp(intercept) * k^slope`` over the range they were fitted on. Points with ``pass@k`` of 0
    or 1 (no logarithm) are left out.

    Parameters
    ----------
    curves : DataFrame
        Tidy: ``k``, ``value`` and (optional) ``by`` columns, e.g. the output of
        :meth:`IRSLResults.forecast_pass_at_k <irsl_stats.results.IRSLResults.forecast_pass_at_k>`.
    fits : DataFrame, optional
        One row per model with ``slope``, ``intercept``, ``k_min``, ``k_max`` (and ``by``), as
        returned by :func:`irsl_stats.testtime.power_law_fit`.
    observed : DataFrame, optional
        Points, with the same columns as ``curves``.
    models : sequence, optional
        Only these values of ``by`` (default all of ``curves``).
    by, k, value : str
        Column names.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Per model: one curve, one dashed fitted line (with ``fits``), one point collection (with
        ``observed``). With a ``by`` column, a legend of its values when at most
        :data:`MAX_LEGEND_GROUPS` (12) are drawn; with more there is none (pass ``models=`` for
        a labelled subset; colours stay the same).

    Raises
    ------
    ValueError
        If a column is missing, ``models`` names unknown models, a row of ``fits`` lacks a
        finite slope and intercept or ``0 < k_min <= k_max`` (naming the rows), or no row of
        ``curves`` (of the chosen models) has a finite ``k > 0`` and ``0 < value < 1``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, irsl_stats as irsl
    >>> ks = np.geomspace(1, 1000, 20)
    >>> curve = pd.DataFrame({"model": "m", "k": ks, "pass_at_k": np.exp(-0.8 * ks ** -0.4)})
    >>> fit = pd.DataFrame({"model": ["m"], "slope": [-0.4], "intercept": [np.log(0.8)],
    ...                     "k_min": [1.0], "k_max": [1000.0]})
    >>> fig = irsl.plot_power_law(curve, fit)
    >>> len(fig.axes[0].get_lines())
    2
    """
    _require_columns(curves, [k, value], "curves")
    if observed is not None:
        _require_columns(observed, [k, value], "observed")
    if fits is not None:
        _require_columns(fits, ["slope", "intercept", "k_min", "k_max"], "fits")
        num = fits[["slope", "intercept", "k_min", "k_max"]].apply(pd.to_numeric, errors="coerce")
        lo, hi = num["k_min"].to_numpy(float), num["k_max"].to_numpy(float)
        # the dashed line spans a geometric grid over [k_min, k_max]
        bad = ~(np.isfinite(num.to_numpy(float)).all(axis=1) & (lo > 0) & (hi >= lo))
        if bad.any():
            raise ValueError(f"fits: rows {_fmt_labels(fits.index[bad], limit=5)} need finite slope and intercept "
                             f"and 0 < k_min <= k_max; got k_min={lo[bad].tolist()[:5]}, "
                             f"k_max={hi[bad].tolist()[:5]}")
    if not isinstance(by, str):
        raise TypeError(f"by must be one column name; got {by!r}")
    grouped = by in curves.columns
    if grouped:
        present = list(pd.unique(curves[by]))
        chosen = present if models is None else list(models)
        unknown = [m for m in chosen if m not in present]
        if unknown:
            raise ValueError(f"models {unknown} are not in curves[{by!r}]; known: {present[:20]}")
    else:
        if models is not None:
            raise ValueError(f"models= needs a {by!r} column in curves")
        chosen = [None]

    def rows(frame, m):
        if frame is None:
            return None
        f = frame if (m is None or by not in frame.columns) else frame[frame[by] == m]
        v = f[value].to_numpy(float)
        kk = f[k].to_numpy(float)
        ok = (v > 0) & (v < 1) & (kk > 0)
        order = np.argsort(kk[ok], kind="stable")
        return kk[ok][order], -np.log(v[ok][order])

    # an empty (or all-NaN) curves frame would draw a blank figure (and warn "No artists with labels")
    if not any(rows(curves, m)[0].size for m in chosen):
        raise ValueError(f"no rows with finite {k!r} > 0 and 0 < {value!r} < 1 in curves"
                         f"{' for models ' + repr(chosen[:20]) if grouped and models is not None else ''} "
                         f"({len(curves)} rows): nothing to draw on the log-log axes")

    fig, ax = _new_axes(ax)
    colors = _colors(1) if not grouped else _level_colors(present, chosen)
    for m, color in zip(chosen, colors):
        label = None if m is None else str(m)
        kk, y = rows(curves, m)
        ax.plot(kk, y, color=color, linewidth=1.8, label=label)
        if observed is not None:
            ko, yo = rows(observed, m)
            if ko.size:
                ax.scatter(ko, yo, color=color, s=14, zorder=3, edgecolors="none")
        if fits is not None:
            fr = fits if (m is None or by not in fits.columns) else fits[fits[by] == m]
            for _, r in fr.iterrows():
                kg = np.geomspace(float(r["k_min"]), float(r["k_max"]), 50)
                ax.plot(kg, np.exp(float(r["intercept"])) * kg ** float(r["slope"]), color=color,
                        linestyle="--", linewidth=1.0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("k (samples per question)")
    ax.set_ylabel("−log pass@k")
    ax.set_title("Power-law view of pass@k" + (" (dashed: fitted power laws)" if fits is not None else ""),
                 fontsize="medium")
    if grouped and len(chosen) <= MAX_LEGEND_GROUPS:
        ax.legend(fontsize="small")
    return fig


# ================================================================================ decision accuracy
_AXIS_LABELS = {
    "ratio": "compute ratio (largest FLOPs used / target FLOPs)",
    "decision_accuracy": "decision accuracy",
    "mae": "mean absolute error",
}


def plot_decision_accuracy(
    table: pd.DataFrame,
    x: str = "ratio",
    y: str = "decision_accuracy",
    by: Optional[str] = "method",
    ax: Optional["Axes"] = None,
    *,
    logx: bool = True,
    labels: Optional[Mapping[Any, str]] = None,
    chance: Optional[float] = 0.5,
) -> "Figure":
    """Decision-accuracy curves (or any metric) against the compute ratio, one line per method.

    Rows with the same ``(by, x)`` (e.g. several seeds or question selections) are averaged; the
    band then shows +- 1 SD across them.

    Parameters
    ----------
    table : DataFrame
        Tidy, e.g. the ``estimand == "forecast"`` rows of
        :func:`irsl_stats.evaluation.efficient_eval` or ``subset_study(...).results``; needs
        columns ``x``, ``y`` and ``by``. Rows with a missing ``x`` or ``y`` are dropped.
    x, y : str
        Columns for the axes.
    by : str or None
        Column defining the lines (None: one line).
    ax : matplotlib Axes, optional
    logx : bool
        Logarithmic ``x`` axis (compute ratios span orders of magnitude).
    labels : mapping, optional
        Legend labels per value of ``by`` (e.g. ``{"naive_largest": "naive subset mean"}``).
    chance : float or None
        Draw a dashed horizontal line at this value (0.5: chance level of a pairwise ranking).

    Returns
    -------
    matplotlib.figure.Figure
        One ``Line2D`` per group (plus the chance line), one band per group with repeated rows.

    Raises
    ------
    ValueError
        If a column is missing, a ``by`` value is missing, no row has finite ``x`` and ``y``, or
        ``x <= 0`` with ``logx``.

    Examples
    --------
    >>> import pandas as pd, irsl_stats as irsl
    >>> t = pd.DataFrame({"ratio": [0.01, 0.1, 0.01, 0.1], "decision_accuracy": [0.8, 0.9, 0.7, 0.75],
    ...                   "method": ["irsl", "irsl", "naive", "naive"]})
    >>> fig = irsl.plot_decision_accuracy(t)
    >>> len(fig.axes[0].get_lines())   # two methods and the chance line
    3
    """
    _require_columns(table, [x, y] + ([by] if by is not None else []), "table")
    if by is not None and table[by].isna().any():
        rows = table.index[table[by].isna().to_numpy()]
        raise ValueError(f"column {by!r} (by=) is missing at rows {rows[:5].tolist()}"
                         f"{' ...' if len(rows) > 5 else ''}: each row must belong to a line")
    t = table.copy()
    t[x] = pd.to_numeric(t[x], errors="coerce")
    t[y] = pd.to_numeric(t[y], errors="coerce")
    t = t[np.isfinite(t[x].to_numpy(float)) & np.isfinite(t[y].to_numpy(float))]
    if t.empty:
        raise ValueError(f"no rows with finite {x!r} and {y!r} (for efficient_eval results, keep the "
                         f"estimand == 'forecast' rows)")
    if logx and (t[x] <= 0).any():
        raise ValueError(f"{x!r} must be positive with logx=True")
    keys = [by, x] if by is not None else [x]
    g = t.groupby(keys, sort=True, observed=True)[y].agg(["mean", "std", "count"]).reset_index()
    groups = [None] if by is None else list(pd.unique(t[by]))
    fig, ax = _new_axes(ax)
    colors = _colors(len(groups))
    for grp, color in zip(groups, colors):
        s = g if grp is None else g[g[by] == grp]
        s = s.sort_values(x)
        xs, ys = s[x].to_numpy(float), s["mean"].to_numpy(float)
        label = None if grp is None else (labels or {}).get(grp, str(grp))
        if (s["count"] > 1).any():
            sd = np.nan_to_num(s["std"].to_numpy(float))
            ax.fill_between(xs, ys - sd, ys + sd, color=color, alpha=0.15, linewidth=0)
        ax.plot(xs, ys, marker="o", markersize=4, color=color, linewidth=1.6, label=label)
    if chance is not None:
        ax.axhline(float(chance), color="0.5", linestyle="--", linewidth=0.8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(_AXIS_LABELS.get(x, x))
    ax.set_ylabel(_AXIS_LABELS.get(y, y))
    if by is not None:
        ax.legend(title=by, fontsize="small")
    return fig
