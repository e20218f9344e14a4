"""Test-time scaling: pass@k curves from a small sample budget, their power law, and error studies.

Each model answers each question many times; ``c`` of ``n`` samples are correct. IRSL calibrates the
questions once (on models with many samples), scores a new model from a few samples per question and
forecasts its whole pass@k curve (:meth:`irsl_stats.ItemBank.forecast_pass_at_k`). This module holds
the studies that measure how well that works and the summaries readers of the Large Language
Monkeys work (Brown et al., 2024) expect:

- :func:`observed_pass_at_k` -- the unbiased pass@k curve of each model from its counts (the truth
  of a study when the counts use all samples);
- :func:`forecast_from_counts` -- score models against a bank from their counts and return every
  forecast of their curve: the empirical per-question plug-in ``mean_j 1-(1-c_j/n_j)^k``, the
  model's plug-in ``mean_j 1-(1-mu_j)^k``, the Beta expectation, and the Beta expectation averaged
  over the ability's uncertainty, and the posterior predictive given the model's own samples;
- :func:`leave_one_model_out` -- the acceptance study: for each model in turn calibrate on the
  others with all samples, keep ``budget`` samples per question of the held-out model (without
  replacement), forecast, and compare with the held-out model's unbiased curve from all samples;
- :func:`study_summary` -- the table of that study, with the acceptance criterion;
- :func:`sample_budget_study` -- forecast error against the number of samples per question;
- :func:`power_law_fit` -- the slope and intercept of ``log(-log pass@k)`` against ``log k`` per
  model (coverage ``pass@k ~ exp(A k^b)`` with ``A, b < 0``), with standard errors.

Which bank: on the Pythia x MATH counts (7 models x 128 problems x 10,000 samples, each model held
out in turn, 50 samples per problem) a beta-binomial 2PL bank with a log-normal prior on the
discriminations (``discrimination_prior=1.0``) forecasts pass@k for k = 1..10,000 with a mean
absolute error of 0.028; 1PL 0.044; 2PL without the prior 0.051; beta on rates 0.077 -- see
``benchmarks/test_time_forecast.py``. The studies' default stays 1PL, the model of the built-in
simulator.

References
----------
Brown, B. et al. (2024). Large Language Monkeys: scaling inference compute with repeated sampling.
arXiv:2407.21787.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from ._checks import repeated_values
from .bank import ItemBank, _unknown_message, calibrate
from .data import ResponseData, _drop_unused_categories
from .families import get_family
from .passk import (_as_float_array, _as_integer_array, _beta_shape_pass_at_k_grid, _budget_column, _row_mean,
                    beta_pass_at_k_grid, pass_at_k_grid)
from .results import IRSLWarning
from .simulate import subsample_counts

__all__ = [
    "FORECASTS",
    "ForecastStudy",
    "observed_pass_at_k",
    "forecast_from_counts",
    "leave_one_model_out",
    "study_summary",
    "sample_budget_study",
    "power_law_fit",
]

#: Forecasts of a model's pass@k curve compared by the studies.
#: ``empirical``: ``mean_j 1 - (1 - c_j/n_j)^k`` from the model's own few samples;
#: ``plugin``: ``mean_j 1 - (1 - mu_j)^k`` at the scored ability (the published reference code);
#: ``beta``: the Beta expectation ``mean_j 1 - B(alpha_j, beta_j + k)/B(alpha_j, beta_j)`` at the
#: scored ability; ``beta_posterior``: the Beta expectation averaged over ``N(theta, se^2)``.
#: ``beta_conditional``: the posterior predictive of each question given the model's own samples,
#: ``p_j | c_j ~ Beta(alpha_j + c_j, beta_j + n_j - c_j)`` at the scored ability (the Beta
#: expectation shrunk towards the empirical one as the budget grows).
FORECASTS = ("empirical", "plugin", "beta", "beta_posterior", "beta_conditional")

#: SD of the log-normal prior on the 2PL discriminations in the studies (see ``leave_one_model_out``).
DEFAULT_DISCRIMINATION_PRIOR = 1.0


# ----------------------------------------------------------------------------------- helpers
def _check_columns(frame: pd.DataFrame, columns: dict) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`counts` must be a pandas DataFrame, got {type(frame).__name__}")
    for arg, col in columns.items():
        if col not in frame.columns:
            raise ValueError(f"`{arg}`: column {col!r} is not in `counts` (columns: {list(frame.columns)})")


def _short_cells(cells: pd.DataFrame, trials: str, k_max: int, labels: Sequence[str]) -> str:
    """The first few (model, question) cells with fewer than ``k_max`` samples, for a message."""
    short = cells.loc[cells[trials].to_numpy() < k_max]
    shown = ", ".join(f"({', '.join(repr(v) for v in row[:-1])}): n = {int(row[-1])}"
                      for row in short[list(labels) + [trials]].head(5).itertuples(index=False))
    more = f" and {len(short) - 5} more" if len(short) > 5 else ""
    return f"{shown}{more}"


def _as_ks(ks, cells: pd.DataFrame, trials: str, labels: Sequence[str], name: str = "ks") -> np.ndarray:
    """Integer budgets ``1 <= k <= n`` of every row of ``cells`` (default ``1..min n``), refusing
    booleans, strings and non-integers by passk's checker and naming the cells too short for the
    largest budget (``labels`` are the model and question columns)."""
    max_k = int(cells[trials].min())
    if ks is None:
        return np.arange(1, max_k + 1, dtype=np.int64)
    arr = np.atleast_1d(_as_integer_array(ks, name))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"`{name}` must be a non-empty one-dimensional sequence of budgets; got shape {arr.shape}")
    if np.any(arr < 1):
        raise ValueError(f"`{name}` must hold integers >= 1; got {arr[arr < 1][:5].tolist()}")
    if arr.max() > max_k:
        raise ValueError(f"`{name}` goes up to {int(arr.max())} but some cells have fewer samples: "
                         f"{_short_cells(cells, trials, int(arr.max()), labels)}; the unbiased pass@k "
                         f"needs k <= n (lower the largest budget, or leave those cells out)")
    return arr


def _as_positive_ks(ks, name: str = "ks") -> np.ndarray:
    """Budgets of a forecast: a non-empty 1-D sequence of finite numbers > 0 (not necessarily
    integers: the Beta expectation is defined for any k > 0). ``k = 0`` would give NaN where a
    rate is 1 and ``k < 0`` negative or infinite "probabilities"."""
    # passk's checker: np.asarray(ks, dtype=float) took [True] for k = 1 and ["10"] for k = 10
    arr = np.atleast_1d(_as_float_array(ks, name))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"`{name}` must be a non-empty one-dimensional sequence of budgets; "
                         f"got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise ValueError(f"`{name}` must be finite and > 0; got {arr[bad][:5].tolist()}")
    return arr


def _as_int_list(values, name: str, minimum: Optional[int] = None) -> list:
    """Distinct integers (``int()`` would silently truncate 5.7 to 5; a repeated budget or
    seed would repeat identical draws and weigh them twice in the averages)."""
    vals = list(np.atleast_1d(np.asarray(values, dtype=object)))
    if not vals:
        raise ValueError(f"`{name}` must not be empty")
    out = []
    for v in vals:
        if isinstance(v, (bool, np.bool_, str, bytes)):
            raise ValueError(f"`{name}` must hold integers; got {v!r}")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must hold integers; got {v!r}") from None
        if not np.isfinite(f) or f != np.round(f):
            raise ValueError(f"`{name}` must hold integers; got {v!r}")
        iv = int(v) if isinstance(v, (int, np.integer)) else int(f)
        if minimum is not None and iv < minimum:
            raise ValueError(f"`{name}` must hold integers >= {minimum}; got {v!r}")
        out.append(iv)
    dup = repeated_values(out)
    if dup:
        raise ValueError(f"`{name}` has duplicates {dup}: each would repeat identical draws and be "
                         f"counted twice; pass distinct values")
    return out


def _check_forecasts(forecasts: Sequence[str]) -> tuple:
    forecasts = tuple(forecasts)
    unknown = [f for f in forecasts if f not in FORECASTS]
    if unknown or not forecasts:
        raise ValueError(f"`forecasts` must be a non-empty subset of {FORECASTS}; got {forecasts!r}")
    return forecasts


# ----------------------------------------------------------------------------------- curves
def observed_pass_at_k(
    counts: pd.DataFrame,
    ks: Optional[Iterable[int]] = None,
    *,
    model: str = "model",
    question: str = "question",
    successes: str = "successes",
    trials: str = "trials",
) -> pd.DataFrame:
    """Unbiased pass@k curve of each model: the mean over its questions of ``1 - C(n-c,k)/C(n,k)``.

    Parameters
    ----------
    counts : DataFrame, one row per (model, question)
        Long table of counts (e.g. from :func:`irsl_stats.read_counts`).
    ks : sequence of int, shape (K,), optional
        Budgets, ``1 <= k <= n`` for every cell; default ``1..min n``.
    model, question, successes, trials : str
        Column names.

    Returns
    -------
    DataFrame, shape (n_models * K, 3)
        Tidy: ``model``, ``k``, ``pass_at_k`` (models in order of appearance, ``k`` innermost).

    Raises
    ------
    ValueError
        If a column is missing, the counts are invalid (naming the rows), a budget is not an
        integer >= 1 (booleans and strings included) or exceeds some cells' number of samples
        (naming the first such (model, question) cells).

    Examples
    --------
    >>> import pandas as pd
    >>> from irsl_stats.testtime import observed_pass_at_k
    >>> counts = pd.DataFrame({"model": ["m", "m"], "question": [1, 2],
    ...                        "successes": [0, 5], "trials": [10, 10]})
    >>> observed_pass_at_k(counts, [1, 10])["pass_at_k"].tolist()
    [0.25, 0.5]
    """
    _check_columns(counts, {"model": model, "question": question, "successes": successes,
                            "trials": trials})
    if len(counts) == 0:
        raise ValueError("`counts` has no rows")
    # the checks every fit makes (missing labels or counts, successes outside 0..trials,
    # repeated (model, question) pairs), with messages naming the rows; a subset of a categorical
    # table (e.g. one simulated model) keeps categories without rows, which the data layer rejects
    ResponseData.from_long(_drop_unused_categories(counts, (model, question)), model=model, question=question,
                           response=None, family="binomial", successes=successes, trials=trials)
    ks_arr = _as_ks(ks, counts, trials, (model, question))
    frames = []
    for label, g in counts.groupby(model, sort=False, observed=True):
        curve = pass_at_k_grid(g[trials].to_numpy(), g[successes].to_numpy(), ks_arr).mean(axis=0)
        frames.append(pd.DataFrame({"model": label, "k": ks_arr, "pass_at_k": curve}))
    return pd.concat(frames, ignore_index=True)


def forecast_from_counts(
    bank: ItemBank,
    counts: pd.DataFrame,
    ks: Iterable[int],
    *,
    method: str = "ml",
    forecasts: Sequence[str] = FORECASTS,
    n_quad: int = 11,
    boundary: str = "squeeze",
    likelihood: str = "auto",
    model: str = "model",
    question: str = "question",
    successes: str = "successes",
    trials: str = "trials",
    n_threads: Optional[int] = None,
) -> pd.DataFrame:
    """Score models against a bank from their (few) samples and forecast their pass@k curves.

    Each model's curve is the mean over the questions it answered (all must be in the bank).

    Parameters
    ----------
    bank : ItemBank
        Calibrated questions (:func:`irsl_stats.calibrate`), family ``beta_binomial``, ``binomial``
        (counts) or ``beta`` (pass rates ``c/n``, with the ``boundary`` policy).
    counts : DataFrame, one row per (model, question)
        The new models' counts.
    ks : sequence of float, shape (K,)
        Budgets ``k > 0`` (any size: the whole grid is evaluated at once).
    method : {"ml", "wle", "eap", "map"}
        Ability scoring (:meth:`ItemBank.score`). ``"ml"`` uses no prior: the bank's population
        prior pulls a model outside the calibration range (the weakest or strongest) towards the
        calibration models, which biases its whole curve. ``"wle"`` (Warm's weighted likelihood,
        no prior) removes ML's first-order bias, which points away from the questions'
        difficulties; it moves a weak model's ability up, towards the questions.
    forecasts : sequence of str
        Subset of :data:`FORECASTS`.
    n_quad : int
        Gauss–Hermite nodes of ``beta_posterior``.
    boundary : {"squeeze", "clip", "error"}
        Boundary policy when scoring a ``beta`` bank on rates ``c/n`` (``likelihood="bank"``).
    likelihood : {"auto", "bank", "beta_binomial", "binomial"}
        Likelihood of the counts used to score the ability, with the bank's ``a``, ``d`` (and
        ``phi``). ``"bank"``: the bank's family (a ``beta`` bank scores the rates ``c/n`` after
        the ``boundary`` policy). ``"beta_binomial"``: ``c ~ Binomial(n, p)``, ``p ~ Beta(mu phi,
        (1-mu) phi)`` -- the count model implied by a ``beta`` bank calibrated on rates, without
        the boundary policy (with few samples the squeeze moves ``0 of 50`` to ``0.01``, far above
        typical rates of 1e-4, and the ability collapses). ``"binomial"``: ``c ~ Binomial(n, mu)``
        (ignores the precision). ``"auto"``: ``"beta_binomial"`` for a ``beta`` bank, else the
        bank's family.
    model, question, successes, trials : str
        Column names.
    n_threads : int, optional

    Returns
    -------
    DataFrame, shape (n_models * len(forecasts) * K, 6)
        Tidy: ``model``, ``forecast``, ``k`` (int64 when every budget is a whole number, else
        float), ``pass_at_k``, ``theta``, ``se`` (the scored ability and its standard error; NaN
        for ``empirical``).

    Raises
    ------
    ValueError
        For unknown forecasts, missing columns, budgets ``ks`` that are not finite numbers > 0
        (booleans and strings included; or an empty or multi-dimensional ``ks``), invalid counts
        or repeated (model, question) pairs (naming the rows), questions not in the bank --
        whichever ``forecasts`` -- or, for ``beta_conditional``, a posterior that is not a proper
        Beta (naming the model and questions).

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.test_time(n_models=6, n_questions=30, n_samples=400, seed=0)
    >>> bank = irsl.calibrate(sim.responses, successes="successes", trials="trials",
    ...                       family="beta_binomial", irt="1pl")           # doctest: +SKIP
    >>> few = irsl.simulate.subsample_counts(sim.responses, 20, seed=1)
    >>> out = forecast_from_counts(bank, few, range(1, 401))                # doctest: +SKIP
    """
    forecasts = _check_forecasts(forecasts)
    _check_columns(counts, {"model": model, "question": question, "successes": successes,
                            "trials": trials})
    ks_arr = _as_positive_ks(ks)
    # validated here for every forecast: the empirical one never goes through the bank's scoring,
    # which is where repeated (model, question) pairs and unknown questions are otherwise caught
    ResponseData.from_long(_drop_unused_categories(counts, (model, question)), model=model, question=question,
                           response=None, family="binomial", successes=successes, trials=trials)
    unknown = pd.unique(counts.loc[~counts[question].isin(bank.questions), question])
    if len(unknown):
        raise ValueError(_unknown_message(list(unknown)))
    # budgets are counts of samples: whole numbers are reported as int64, as in observed_pass_at_k
    # and ItemBank.forecast_pass_at_k (a float k column would not merge with their integer ones)
    k_col = _budget_column(ks_arr)
    frames = []
    need_score = any(f != "empirical" for f in forecasts)
    est = None
    if need_score:
        est = _scoring_bank(bank, likelihood).score(counts, method=method, model=model, question=question, successes=successes,
                         trials=trials, boundary=boundary, n_threads=n_threads)
    for label, g in counts.groupby(model, sort=False, observed=True):
        c = g[successes].to_numpy(float)
        n = g[trials].to_numpy(float)
        if np.any(n < 1) or np.any(c < 0) or np.any(c > n):
            raise ValueError(f"`counts` of model {label!r}: need 0 <= {successes} <= {trials}, {trials} >= 1")
        for kind in forecasts:
            if kind == "empirical":
                curve = _empirical(c / n, ks_arr)
                theta = se = np.nan
            elif kind == "beta_conditional":
                theta, se = float(est.loc[label, "theta"]), float(est.loc[label, "se"])
                curve = _conditional(bank, label, g[question].to_numpy(), c, n, theta, ks_arr)
            else:
                theta, se = float(est.loc[label, "theta"]), float(est.loc[label, "se"])
                qs = pd.unique(g[question])
                sub = bank if len(qs) == len(bank) and set(qs) == set(bank.questions) else bank.subset(qs)
                out = sub.forecast_pass_at_k(
                    np.array([theta]), ks_arr, se=np.array([se]) if kind == "beta_posterior" else None,
                    plugin=(kind == "plugin"), integrate=(kind == "beta_posterior"), n_quad=n_quad,
                )
                curve = out["pass_at_k"].to_numpy()
            frames.append(pd.DataFrame({"model": label, "forecast": kind, "k": k_col, "pass_at_k": curve,
                                        "theta": theta, "se": se}))
    return pd.concat(frames, ignore_index=True)


LIKELIHOODS = ("auto", "bank", "beta_binomial", "binomial")


def _scoring_bank(bank: ItemBank, likelihood: str) -> ItemBank:
    """The bank whose family is the likelihood used to score counts (same questions and scale)."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"`likelihood` must be one of {LIKELIHOODS}; got {likelihood!r}")
    if likelihood == "auto":
        likelihood = "beta_binomial" if bank.family == "beta" else "bank"
    if likelihood == "bank" or likelihood == bank.family:
        return bank
    if likelihood == "beta_binomial" and not get_family(bank.family).has_precision:
        raise ValueError(f"likelihood='beta_binomial' needs a bank with precisions (family beta or "
                         f"beta_binomial); this bank is {bank.family!r}")
    items = bank.items.drop(columns=["phi", "log_phi"], errors="ignore") if likelihood == "binomial" \
        else bank.items
    return ItemBank(items, family=likelihood, irt=bank.irt, identification=bank.identification,
                    precision=bank.precision if likelihood != "binomial" else "",
                    population=bank.population, prior=bank.prior, squeeze_n=bank.squeeze_n,
                    converged=bank.converged, calibration_warnings=bank.calibration_warnings)


def _conditional(bank: ItemBank, label, questions, c: np.ndarray, n: np.ndarray, theta: float,
                 ks: np.ndarray) -> np.ndarray:
    """``mean_j E[1 - (1-p_j)^k | c_j of n_j]`` with ``p_j ~ Beta(mu_j phi_j, (1-mu_j) phi_j)`` a
    priori (conjugate update); without a precision (binomial banks) ``p_j = mu_j`` is known and
    the counts do not change it. ``label`` is the model's, for the messages."""
    questions = list(questions)
    it = bank.items.loc[questions]
    eta = it["a"].to_numpy() * theta + it["d"].to_numpy()
    mu = np.clip(special.expit(eta), 1e-300, 1.0 - 2.0**-53)
    if not np.isfinite(it["phi"].to_numpy()).all():
        return _row_mean(lambda rows: beta_pass_at_k_grid(mu[rows], np.inf, ks), mu.size, ks.size)
    phi = it["phi"].to_numpy()
    # 1 - mu without the cancellation of 1 - expit(eta) near 1, floored as mu is capped (2**-53),
    # which keeps beta far from underflow
    one_minus_mu = np.clip(special.expit(-eta), 2.0**-53, 1.0)
    a_post = mu * phi + c
    b_post = one_minus_mu * phi + (n - c)
    # the curve is taken from the shapes themselves: a question every calibration model always
    # solved has mu = 1 - 2**-53, and solved n of n times again b_post ~ 1e-15 phi, so the
    # posterior mean a/(a+b) rounds to exactly 1 and beta_pass_at_k_grid(mean, a+b) refused it
    bad = ~(np.isfinite(a_post) & np.isfinite(b_post) & (a_post > 0) & (b_post > 0))
    if bad.any():
        pos = np.flatnonzero(bad)[:5]
        raise ValueError(
            f"model {label!r}: the posterior Beta(mu phi + c, (1 - mu) phi + n - c) of questions "
            f"{[questions[i] for i in pos]} is not proper (shapes {a_post[pos].tolist()} and "
            f"{b_post[pos].tolist()}; mu = {mu[pos].tolist()}, phi = {phi[pos].tolist()}, at theta = "
            f"{theta!r}); check the bank's precisions phi of those questions (finite and > 0) and the "
            f"model's ability, or leave 'beta_conditional' out of `forecasts`")
    return _row_mean(lambda rows: _beta_shape_pass_at_k_grid(a_post[rows], b_post[rows], ks),
                     a_post.size, ks.size)


def _empirical(rate: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """``mean_j 1 - (1 - rate_j)^k`` for rates in [0, 1] (exact 0 and 1 allowed)."""
    with np.errstate(divide="ignore"):
        log_fail = np.log1p(-rate)  # -inf where rate == 1
    # 0 * -inf does not occur: ks > 0
    return _row_mean(lambda rows: -np.expm1(np.outer(log_fail[rows], ks)), rate.size, ks.size)


# ----------------------------------------------------------------------------------- studies
@dataclass
class ForecastStudy:
    """Result of :func:`leave_one_model_out`.

    Attributes
    ----------
    errors : DataFrame
        One row per (family, irt, budget, seed, held-out model, forecast): ``mae`` (mean absolute
        error over all budgets ``ks``), ``theta`` and ``se`` (the scored ability; NaN for the
        empirical forecast).
    warnings : list of str
        Distinct IRSL warning messages from calibration and scoring.
    ks : ndarray of int, shape (K,)
        Budgets of the compared curves.
    method : str
        Scoring method.
    curves : DataFrame or None
        With ``keep_curves=True``: ``family, irt, budget, seed, model, forecast, k, pass_at_k``.
    truth : DataFrame or None
        With ``keep_curves=True``: each held-out model's unbiased curve ``model, k, pass_at_k``.
    """

    errors: pd.DataFrame
    warnings: list
    ks: np.ndarray
    method: str
    curves: Optional[pd.DataFrame] = None
    truth: Optional[pd.DataFrame] = None

    def summary(self, target_mae: float = 0.035, min_ratio: float = 4.0) -> pd.DataFrame:
        """The table of :func:`study_summary`."""
        return study_summary(self.errors, target_mae=target_mae, min_ratio=min_ratio)


def leave_one_model_out(
    counts: pd.DataFrame,
    *,
    budgets: Sequence[int] = (50,),
    seeds: Sequence[int] = (0, 1, 2),
    ks: Optional[Iterable[int]] = None,
    families: Sequence[str] = ("beta_binomial",),
    irts: Sequence[str] = ("1pl",),
    method: str = "ml",
    precision: str = "item",
    precision_prior="auto",
    discrimination_prior: Optional[float] = DEFAULT_DISCRIMINATION_PRIOR,
    forecasts: Sequence[str] = FORECASTS,
    boundary: str = "squeeze",
    likelihood: str = "auto",
    n_quad: int = 11,
    models: Optional[Sequence] = None,
    keep_curves: bool = False,
    in_sample: bool = False,
    model: str = "model",
    question: str = "question",
    successes: str = "successes",
    trials: str = "trials",
    n_threads: Optional[int] = None,
) -> "ForecastStudy":
    """Leave-one-model-out study of pass@k forecasts from a small sample budget.

    For each held-out model ``m`` (and each family and IRT model): calibrate the questions on the
    other models with all their samples; for each budget ``b`` and seed, keep ``b`` samples per
    question of ``m`` drawn without replacement (hypergeometric, :func:`irsl_stats.simulate.
    subsample_counts`); score ``m`` and forecast its curve (:func:`forecast_from_counts`); the
    error is the mean absolute error over all budgets ``ks`` against ``m``'s unbiased curve from
    all its samples (:func:`observed_pass_at_k`). Nothing of the held-out model but the ``b``
    samples per question enters its forecast (unless ``in_sample=True``, a diagnostic ceiling).

    Parameters
    ----------
    counts : DataFrame, one row per (model, question)
        Counts with many samples per cell (e.g. :func:`irsl_stats.read_counts`).
    budgets : sequence of int
        Samples per question kept for the held-out model (distinct integers >= 1, at most the
        samples of every cell of the held-out models; calibration-only models may have fewer).
    seeds : sequence of int
        Seeds of the subsampling (one draw per seed, budget and model; distinct integers).
    ks : sequence of int, optional
        Budgets of the pass@k curve (integers ``1 <= k <= n`` of every held-out cell); default
        every ``k = 1..min n`` over the held-out models' cells (those in ``models``).
    families : sequence of {"beta_binomial", "binomial", "beta"}
        ``"beta"`` fits the pass rates ``c/n`` with the ``boundary`` policy.
    irts : sequence of {"1pl", "2pl"}
    method : {"ml", "wle", "eap", "map"}
        Scoring of the held-out model (see :func:`forecast_from_counts`).
    precision : str
        Precision model of the calibration (``"item"``, ``"common"`` or ``"~ <formula>"``).
    precision_prior : "auto", float or None
        SD of the shrinkage prior of the per-question log precisions in the calibration
        (:func:`irsl_stats.fit`).
    discrimination_prior : float or None
        SD of the log-normal prior on the discriminations of the 2PL calibrations
        (:func:`irsl_stats.fit`; ignored for 1PL). Default 1.0: with six or so calibration models
        per question, unpenalised 2PL discriminations of questions that separate the models
        perfectly run to their bound, and the weakest held-out model's forecast goes wrong
        (see :mod:`irsl_stats.priors`). ``None`` fits plain 2PL.
    forecasts : sequence of str
        Subset of :data:`FORECASTS`.
    boundary : {"squeeze", "clip"}
        Boundary policy of the ``beta`` family in the calibration (zeros are common in sample
        counts), and in the scoring when ``likelihood="bank"``.
    likelihood : {"auto", "bank", "beta_binomial", "binomial"}
        Likelihood of the held-out model's counts in its scoring (:func:`forecast_from_counts`);
        ``"auto"`` scores a ``beta`` bank with the beta-binomial likelihood of the counts.
    n_quad : int
        Gauss–Hermite nodes of ``beta_posterior``.
    models : sequence, optional
        Models to hold out (default: every model; the calibration always uses all the others).
    keep_curves : bool
        Also keep every forecast curve and the true curves in the result (``curves``,
        ``truth``), e.g. for :func:`power_law_fit` or plots.
    in_sample : bool
        Calibrate on *all* models, the held-out one included with all its samples, instead of on
        the others. Not a forecast: a ceiling. With ``budgets`` equal to the samples per cell it
        measures how well the fitted model itself describes each curve -- the smallest error,
        and the largest ratio of plug-in to Beta expectation, any scoring budget can reach.
    model, question, successes, trials : str
        Column names.
    n_threads : int, optional

    Returns
    -------
    ForecastStudy
        ``errors``: one row per (family, irt, budget, seed, held-out model, forecast), columns
        ``family, irt, budget, seed, model, forecast, mae, theta, se``; ``summary()`` the table
        of :func:`study_summary`; ``warnings`` the distinct messages of the IRSL warnings raised
        by calibration and scoring (e.g. never-solved questions with no finite difficulty),
        collected rather than shown; ``curves`` and ``truth`` with ``keep_curves=True``.

    Raises
    ------
    ValueError
        If fewer than 3 models, an unknown option, invalid counts of the held-out models, a
        budget or ``ks`` larger than a held-out cell's samples (naming the cells),
        ``budgets``/``seeds`` that are not integers or repeat a value, or ``models``,
        ``families`` or ``irts`` that are empty or repeat a value.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.test_time(n_models=5, n_questions=20, n_samples=300, seed=0)
    >>> study = leave_one_model_out(sim.responses, budgets=[10], seeds=[0])  # doctest: +SKIP
    >>> study.summary()                                                       # doctest: +SKIP
    """
    forecasts = _check_forecasts(forecasts)
    _check_columns(counts, {"model": model, "question": question, "successes": successes,
                            "trials": trials})
    labels = pd.unique(counts[model])
    if len(labels) < 3:
        raise ValueError(f"`counts` needs at least 3 models for a leave-one-model-out study; got {len(labels)}")
    held_models = labels if models is None else list(models)
    missing = [m for m in held_models if m not in set(labels)]
    if missing:
        raise ValueError(f"`models`: {missing[:5]} are not in the {model!r} column")
    budgets = _as_int_list(budgets, "budgets", minimum=1)
    seeds = _as_int_list(seeds, "seeds")
    for fam in families:
        if fam not in ("beta_binomial", "binomial", "beta"):
            raise ValueError(f"`families`: unknown family {fam!r} (beta_binomial, binomial or beta)")
    for irt in irts:
        if irt not in ("1pl", "2pl"):
            raise ValueError(f"`irts`: unknown IRT model {irt!r} ('1pl' or '2pl')")
    # an empty selection would return an empty study, and a repeated value would repeat
    # identical rows that weigh twice in the summary's means
    for arg, values in (("models", held_models), ("families", families), ("irts", irts)):
        values = list(values)
        if not values:
            raise ValueError(f"`{arg}` must not be empty")
        dup = repeated_values(values)
        if dup:
            raise ValueError(f"`{arg}` has duplicates {dup[:5]}: each would repeat the same study rows and "
                             f"be counted twice; pass distinct values")
    # budgets and the curve's ks concern the held-out models' samples only: a calibration-only
    # model sampled fewer times (say 100 against 10,000) neither limits the budgets nor cuts the
    # default ks to its own 1..100. Their counts are checked first (as the calibration checks the
    # others'), so that a missing or impossible count is named rather than met by min()
    held_rows = _drop_unused_categories(counts[counts[model].isin(held_models).to_numpy()], (model, question))
    ResponseData.from_long(held_rows, model=model, question=question, response=None, family="binomial",
                           successes=successes, trials=trials)
    held_min = int(held_rows[trials].min())
    if max(budgets) > held_min:
        raise ValueError(f"`budgets`: {max(budgets)} samples per question exceed the samples of some "
                         f"held-out cells: {_short_cells(held_rows, trials, max(budgets), (model, question))}; "
                         f"a budget is drawn from a held-out model's own samples (lower it to {held_min}, "
                         f"or leave those models out of `models`)")
    ks_arr = _as_ks(ks, held_rows, trials, (model, question))
    caught: list = []
    rows = []
    kept: list = []
    truths: list = []
    for m_label in held_models:
        is_held = (counts[model] == m_label).to_numpy()
        calib = counts if in_sample else _drop_unused_categories(counts[~is_held], (model, question))
        held = _drop_unused_categories(counts[is_held], (model, question))
        truth = observed_pass_at_k(held, ks_arr, model=model, question=question, successes=successes,
                                   trials=trials)["pass_at_k"].to_numpy()
        if keep_curves:
            truths.append(pd.DataFrame({"model": m_label, "k": ks_arr, "pass_at_k": truth}))
        for fam in families:
            for irt in irts:
                with warnings.catch_warnings(record=True) as rec:
                    warnings.simplefilter("always", IRSLWarning)
                    bank = calibrate(calib, model=model, question=question, successes=successes,
                                     trials=trials, family=fam, irt=irt, precision=precision,
                                     precision_prior=precision_prior,
                                     discrimination_prior=discrimination_prior if irt == "2pl" else None,
                                     boundary=boundary if fam == "beta" else "error", n_threads=n_threads)
                    held_in = held[held[question].isin(bank.questions)]
                    if len(held_in) < len(held):
                        raise ValueError(f"held-out model {m_label!r} answered questions no other model answered; "
                                         "they cannot be calibrated")
                    for b in budgets:
                        for seed in seeds:
                            few = subsample_counts(held_in, b, seed=seed, successes=successes, trials=trials)
                            fc = forecast_from_counts(bank, few, ks_arr, method=method, forecasts=forecasts,
                                                      n_quad=n_quad, boundary=boundary,
                                                      likelihood=likelihood, model=model,
                                                      question=question, successes=successes, trials=trials,
                                                      n_threads=n_threads)
                            for kind, g in fc.groupby("forecast", sort=False):
                                err = float(np.mean(np.abs(g["pass_at_k"].to_numpy() - truth)))
                                rows.append({"family": fam, "irt": irt, "budget": b, "seed": seed,
                                             "model": m_label, "forecast": kind, "mae": err,
                                             "theta": g["theta"].iloc[0], "se": g["se"].iloc[0]})
                            if keep_curves:
                                kept.append(fc.drop(columns=["theta", "se"]).assign(
                                    family=fam, irt=irt, budget=b, seed=seed))
                caught.extend(str(w.message) for w in rec if issubclass(w.category, IRSLWarning))
                for w in rec:  # anything that is not an IRSL diagnostic is shown as usual
                    if not issubclass(w.category, IRSLWarning):
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    curves = truth_frame = None
    if keep_curves:
        cols = ["family", "irt", "budget", "seed", "model", "forecast", "k", "pass_at_k"]
        curves = pd.concat(kept, ignore_index=True)[cols]
        truth_frame = pd.concat(truths, ignore_index=True)
    return ForecastStudy(errors=pd.DataFrame(rows), warnings=list(dict.fromkeys(caught)), ks=ks_arr,
                         method=method, curves=curves, truth=truth_frame)


def study_summary(
    errors: pd.DataFrame,
    target_mae: float = 0.035,
    min_ratio: float = 4.0,
) -> pd.DataFrame:
    """Table of a :func:`leave_one_model_out` study, with the acceptance criterion.

    Parameters
    ----------
    errors : DataFrame or ForecastStudy
        Output of :func:`leave_one_model_out` (or its ``errors``).
    target_mae : float
        Largest acceptable mean absolute error of the Beta expectation.
    min_ratio : float
        Smallest acceptable ratio of the model plug-in's error to the Beta expectation's.

    Returns
    -------
    DataFrame, one row per (family, irt, budget)
        The mean over held-out models and seeds of the MAE of each forecast (one column per
        forecast), ``ratio`` = plugin / beta, ``n`` = number of (model, seed) pairs and ``pass``
        (``beta <= target_mae`` and ``ratio >= min_ratio``); ``ratio`` and ``pass`` only when the
        study has both the ``beta`` and ``plugin`` forecasts.

    Raises
    ------
    ValueError
        If ``errors`` lacks the study's columns.
    """
    if isinstance(errors, ForecastStudy):
        errors = errors.errors
    need = {"family", "irt", "budget", "seed", "model", "forecast", "mae"}
    if not isinstance(errors, pd.DataFrame) or not need.issubset(errors.columns):
        raise ValueError(f"`errors` must be the output of leave_one_model_out (columns {sorted(need)})")
    keys = ["family", "irt", "budget"]
    table = errors.pivot_table(index=keys, columns="forecast", values="mae", aggfunc="mean", sort=False)
    table.columns.name = None
    table = table[[f for f in FORECASTS if f in table.columns]]
    table["n"] = errors.groupby(keys, sort=False)[["model", "seed"]].apply(
        lambda g: len(g.drop_duplicates())).reindex(table.index)
    if {"beta", "plugin"}.issubset(table.columns):
        table["ratio"] = table["plugin"] / table["beta"]
        table["pass"] = (table["beta"] <= target_mae) & (table["ratio"] >= min_ratio)
    return table.reset_index()


def sample_budget_study(
    counts: pd.DataFrame,
    budgets: Sequence[int] = (10, 20, 50, 100, 200),
    seeds: Sequence[int] = (0, 1, 2),
    **kwargs,
) -> pd.DataFrame:
    """Forecast error against the number of samples per question (the sample-budget trade-off).

    Runs :func:`leave_one_model_out` at every budget (the calibration of each held-out model is
    done once and shared by all budgets and seeds) and averages over models and seeds.

    Parameters
    ----------
    counts : DataFrame, one row per (model, question)
        Counts; the cells of the held-out models (``models`` in ``kwargs``, default all) need
        at least as many samples as the largest budget, calibration-only models may have fewer.
    budgets : sequence of int
        Samples per question of the held-out model (distinct integers >= 1, at most the samples
        of every cell of the held-out models).
    seeds : sequence of int
        Seeds of the subsampling (distinct integers).
    **kwargs
        Passed to :func:`leave_one_model_out` (``ks``, ``families``, ``irts``, ``method``,
        ``forecasts``, column names, ...).

    Returns
    -------
    DataFrame, one row per (family, irt, forecast, budget)
        ``mae`` (mean over held-out models and seeds), ``mae_sd`` (their standard deviation) and
        ``n``; ``attrs["warnings"]`` lists the warnings collected by :func:`leave_one_model_out`.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.test_time(n_models=5, n_questions=20, n_samples=500, seed=0)
    >>> table = sample_budget_study(sim.responses, budgets=(5, 50), seeds=(0,),
    ...                             forecasts=("beta",))                      # doctest: +SKIP
    """
    study = leave_one_model_out(counts, budgets=budgets, seeds=seeds, **kwargs)
    errors = study.errors
    out = (errors.groupby(["family", "irt", "forecast", "budget"], sort=False)["mae"]
           .agg(mae="mean", mae_sd="std", n="size").reset_index())
    out = out.sort_values(["family", "irt", "forecast", "budget"], kind="stable").reset_index(drop=True)
    out.attrs["warnings"] = list(study.warnings)
    return out


# ----------------------------------------------------------------------------------- power law
def power_law_fit(
    curves: pd.DataFrame,
    k_range: Optional[tuple] = None,
    *,
    by: str | Sequence[str] = "model",
    k: str = "k",
    value: str = "pass_at_k",
    n_points: Optional[int] = 50,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Power law of coverage: ``log(-log pass@k) = intercept + slope * log k`` per model.

    Large Language Monkeys (Brown et al., 2024) model coverage as ``pass@k ~ exp(A k^b)`` (``A, b <
    0``); then ``-log pass@k`` is a power law in ``k`` and ``log(-log pass@k)`` is linear in
    ``log k`` with ``slope = b`` and ``intercept = log(-A)``. Fitted by ordinary least squares.

    Parameters
    ----------
    curves : DataFrame
        Tidy curves with the ``by`` columns, ``k`` (finite, > 0) and ``value`` (in [0, 1]),
        e.g. the output of :meth:`ItemBank.forecast_pass_at_k`, :func:`observed_pass_at_k`, or
        one forecast of :func:`forecast_from_counts`.
    k_range : (float, float), optional
        Smallest and largest ``k`` used (inclusive); default all. Points with ``pass@k`` equal
        to 0 or 1 (where the logarithm is undefined) are left out and counted in ``n_dropped``.
    by : str or sequence of str
        Grouping columns (one fit per group).
    k, value : str
        Column names of the budget and of pass@k.
    n_points : int or None
        Thin each curve to about ``n_points`` budgets evenly spaced in ``log k`` (the nearest
        available) so that the dense large-``k`` end of a grid like ``1..10,000`` does not dominate
        the fit; ``None`` uses every point.
    alpha : float
        Confidence level ``1 - alpha`` of the interval of the slope.

    Returns
    -------
    DataFrame, one row per group
        The ``by`` columns, ``slope``, ``slope_se``, ``slope_lower``, ``slope_upper``,
        ``intercept``, ``intercept_se``, ``r_squared``, ``k_min``, ``k_max`` (the range actually
        fitted), ``n_points`` and ``n_dropped``.

    Raises
    ------
    ValueError
        If columns are missing, ``k_range`` is not ``(min, max)``, ``alpha`` is not in (0, 1),
        a ``value`` is outside [0, 1] or a ``k`` is
        not finite and positive, a ``by`` value is missing, a budget repeats within a group
        (several curves under one key: add the column that separates them to ``by``), or a group
        has fewer than 3 usable points (the messages name the group).

    Notes
    -----
    The standard errors are those of OLS with independent residuals. Points of a pass@k curve are
    not independent (neighbouring budgets share samples), so they describe how well a straight
    line fits, not sampling uncertainty; use seeds or the bootstrap for the latter. An exact power
    law gives residuals, and standard errors, of zero.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from irsl_stats.testtime import power_law_fit
    >>> ks = np.arange(1, 1001)
    >>> curve = pd.DataFrame({"model": "m", "k": ks, "pass_at_k": np.exp(-2.0 * ks ** -0.3)})
    >>> fit = power_law_fit(curve)
    >>> round(float(fit["slope"].iloc[0]), 6), round(float(np.exp(fit["intercept"].iloc[0])), 6)
    (-0.3, 2.0)
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    if not isinstance(curves, pd.DataFrame):
        raise TypeError(f"`curves` must be a pandas DataFrame, got {type(curves).__name__}")
    for arg, col in [("by", c) for c in by_cols] + [("k", k), ("value", value)]:
        if col not in curves.columns:
            raise ValueError(f"`{arg}`: column {col!r} is not in `curves` (columns: {list(curves.columns)})")
    if not (isinstance(alpha, (int, float, np.integer, np.floating)) and 0 < alpha < 1):
        # alpha = 0 gives infinite limits, alpha >= 1 or < 0 NaN or limits in the wrong order
        raise ValueError(f"`alpha` must be in (0, 1); got {alpha!r}")
    if k_range is not None and (np.ndim(k_range) != 1 or len(k_range) != 2):
        raise ValueError(f"`k_range` must be (min, max); got {k_range!r}")
    lo, hi = (-np.inf, np.inf) if k_range is None else (float(k_range[0]), float(k_range[1]))
    if not (lo <= hi) or hi <= 0:
        raise ValueError(f"`k_range` must be (min, max) with min <= max and max > 0; got {k_range!r}")
    if n_points is not None and int(n_points) < 3:
        raise ValueError(f"`n_points` must be >= 3 or None; got {n_points!r}")
    missing_key = curves[by_cols].isna().any(axis=1).to_numpy()
    if missing_key.any():
        raise ValueError(f"`by` columns {by_cols} are missing (NaN) at rows "
                         f"{curves.index[missing_key][:5].tolist()}: those points belong to no curve")
    rows = []
    for key, g in curves.groupby(by_cols, sort=False, observed=True):
        label = key[0] if isinstance(key, tuple) and len(key) == 1 else key  # as the user grouped
        repeated = g[k].duplicated(keep=False).to_numpy()
        if repeated.any():
            # several curves under one key (e.g. forecasts, budgets or seeds of a study) would be
            # fitted as one scatter
            others = [c for c in curves.columns if c not in by_cols + [k, value]
                      and g.loc[repeated, c].nunique(dropna=False) > 1]
            raise ValueError(
                f"group {label!r}: budgets {sorted(set(g[k][repeated].tolist()))[:5]} appear more than once, "
                f"so the group holds several curves; add the columns that tell them apart to `by` "
                f"(they differ in {others})" if others else
                f"group {label!r}: budgets {sorted(set(g[k][repeated].tolist()))[:5]} appear more than once "
                f"(rows {g.index[repeated][:5].tolist()}); one pass@k per budget and curve"
            )
        kk = g[k].to_numpy(float)
        pk = g[value].to_numpy(float)
        if np.any(np.isnan(kk)) or np.any(np.isnan(pk)):
            raise ValueError(f"group {label!r}: `{k}` or `{value}` contains NaN")
        # exact 0 and 1 are legitimate pass@k values (dropped below, log undefined); values
        # outside [0, 1] or budgets that are not finite and positive are bad input, not data
        # to drop quietly
        bad_p = np.flatnonzero((pk < 0) | (pk > 1))
        if bad_p.size:
            raise ValueError(f"group {label!r}: `{value}` must be in [0, 1]; got {pk[bad_p][:5].tolist()} "
                             f"at rows {g.index[bad_p][:5].tolist()}")
        bad_k = np.flatnonzero(~np.isfinite(kk) | (kk <= 0))
        if bad_k.size:
            raise ValueError(f"group {label!r}: `{k}` must be finite and > 0; got {kk[bad_k][:5].tolist()} "
                             f"at rows {g.index[bad_k][:5].tolist()}")
        keep = (kk >= lo) & (kk <= hi)
        usable = keep & (pk > 0) & (pk < 1)
        n_dropped = int(keep.sum() - usable.sum())
        kk, pk = kk[usable], pk[usable]
        order = np.argsort(kk)
        kk, pk = kk[order], pk[order]
        if n_points is not None and kk.size > n_points:
            grid = np.geomspace(kk[0], kk[-1], int(n_points))
            pos = np.unique(np.abs(np.log(kk)[None, :] - np.log(grid)[:, None]).argmin(axis=1))
            kk, pk = kk[pos], pk[pos]
        if kk.size < 3 or np.unique(kk).size < 2:
            raise ValueError(f"group {label!r}: fewer than 3 usable points with 0 < {value} < 1 in k_range "
                             f"{k_range!r}")
        x = np.log(kk)
        y = np.log(-np.log(pk))
        xm, ym = x.mean(), y.mean()
        sxx = float(((x - xm) ** 2).sum())
        slope = float(((x - xm) * (y - ym)).sum() / sxx)
        intercept = float(ym - slope * xm)
        resid = y - intercept - slope * x
        dof = x.size - 2
        s2 = float((resid**2).sum() / dof) if dof > 0 else np.nan
        slope_se = float(np.sqrt(s2 / sxx))
        intercept_se = float(np.sqrt(s2 * (1.0 / x.size + xm**2 / sxx)))
        syy = float(((y - ym) ** 2).sum())
        r2 = 1.0 - float((resid**2).sum()) / syy if syy > 0 else 1.0
        tcrit = stats.t.ppf(1 - alpha / 2, dof)
        key_t = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by_cols, key_t))
        row.update(slope=slope, slope_se=slope_se, slope_lower=slope - tcrit * slope_se,
                   slope_upper=slope + tcrit * slope_se, intercept=intercept, intercept_se=intercept_se,
                   r_squared=r2, k_min=float(kk[0]), k_max=float(kk[-1]), n_points=int(kk.size),
                   n_dropped=n_dropped)
        rows.append(row)
    if not rows:
        raise ValueError("`curves` has no rows")
    return pd.DataFrame(rows)
