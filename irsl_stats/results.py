"""Results of a scaling-law fit, with the statsmodels results surface.

:class:`IRSLResults` reads the estimates an estimator produced (it never estimates anything) and
offers ``params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int``, ``cov_params``, ``llf``, ``aic``,
``bic``, ``nobs``, ``df_model``, ``summary()``, ``predict()``, ``wald_test()`` plus the IRT tables
``items`` and ``abilities``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import numpy as np
import pandas as pd
from scipy import special, stats

from .formula import LatentDesign
from .passk import _check_budgets_int64

__all__ = ["IRSLResults", "IRSLWarning", "FitInfo"]

#: a parameter whose standard error is below this multiple of its natural unit (see
#: IRSLResults._fixed_by_identification) is a constant of the identification, not an estimate:
#: rounding in the Jacobian of the identification leaves such standard errors at ~1e-16 .. 1e-11
#: units, while an estimated one this small would need ~1e16 responses.
_FIXED_RTOL = 1e-8


def check_alpha(alpha) -> float:
    """Validate the ``alpha`` of a ``1 - alpha`` interval: a number with ``0 < alpha < 1``.

    Outside (0, 1) the normal quantile is infinite or NaN, or the interval inverts (lower >
    upper), without any error; every method of the results that takes ``alpha`` calls this first.

    Parameters
    ----------
    alpha : float
        Significance level of the interval.

    Returns
    -------
    float
        ``alpha`` as a float.

    Raises
    ------
    ValueError
        If ``alpha`` is not a number strictly between 0 and 1.

    Examples
    --------
    >>> from irsl_stats.results import check_alpha
    >>> check_alpha(0.05)
    0.05
    """
    if isinstance(alpha, (bool, np.bool_)):
        raise ValueError(f"`alpha` must be a number in (0, 1); got {alpha!r}")
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"`alpha` must be a number in (0, 1); got {alpha!r}") from None
    if not 0.0 < a < 1.0:  # also False for NaN
        raise ValueError(
            f"`alpha` must be in (0, 1) (the intervals have level 1 - alpha, e.g. alpha=0.05 for "
            f"95%); got {alpha!r}"
        )
    return a


def critical_value(alpha: float, df: Optional[float] = None) -> float:
    """The two-sided ``1 - alpha`` critical value: the normal quantile, or Student's t with ``df``.

    Parameters
    ----------
    alpha : float
        Intervals are ``1 - alpha``.
    df : float, optional
        Degrees of freedom of the t reference; None (or not positive) for the normal one.

    Returns
    -------
    float
    """
    if df is None or not df > 0:
        return float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.t.ppf(1 - alpha / 2, df))


def ability_forecast_frame(mean, var_mean, var_residual, alpha: float, index,
                           df: Optional[float] = None) -> pd.DataFrame:
    """Forecast abilities with their confidence and prediction intervals.

    Parameters
    ----------
    mean, var_mean : ndarray, shape (K,)
        Forecast ability ``x'beta`` and its sampling variance.
    var_residual : float or ndarray, shape (K,)
        Variance of a new model's ability around the law (``sigma^2``), added for the
        prediction interval.
    alpha : float
        Intervals are ``1 - alpha``.
    index : pandas.Index, length K
    df : float, optional
        Degrees of freedom of a t reference (see :func:`critical_value`); default normal.

    Returns
    -------
    DataFrame, K rows
        ``mean``, ``mean_se``, ``mean_ci_lower/upper``, ``obs_ci_lower/upper``.
    """
    q = critical_value(alpha, df)
    var_mean = np.maximum(var_mean, 0.0)
    se = np.sqrt(var_mean)
    obs_se = np.sqrt(var_mean + var_residual)
    return pd.DataFrame(
        {"mean": mean, "mean_se": se, "mean_ci_lower": mean - q * se, "mean_ci_upper": mean + q * se,
         "obs_ci_lower": mean - q * obs_se, "obs_ci_upper": mean + q * obs_se},
        index=index,
    )


def score_interval(score, lower: np.ndarray, upper: np.ndarray, loadings: np.ndarray,
                   n_grid: int = 201) -> tuple:
    """The range of a score function over ability intervals ``[lower, upper]`` (elementwise).

    The expected score ``mean_j logistic(a_j theta + d_j)`` increases in ability when every
    ``a_j >= 0`` (the ends map to the ends) and decreases when every ``a_j <= 0`` (the ends swap:
    a benchmark whose single question has ``a < 0`` gave lower > upper). With loadings of both
    signs it need not be monotone, and the range is the minimum and maximum over a grid of
    ``n_grid`` abilities spanning each interval.

    Parameters
    ----------
    score : callable
        Maps abilities (K,) to scores (K,).
    lower, upper : ndarray, shape (K,)
        Ability intervals, ``lower <= upper``.
    loadings : ndarray
        The discriminations (loadings on this ability) of the questions the score averages.
    n_grid : int
        Grid points per interval when the loadings have both signs.

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper score bounds, shape (K,) each.
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    if np.all(loadings >= 0):
        return score(lower), score(upper)
    if np.all(loadings <= 0):
        return score(upper), score(lower)
    grid = lower[:, None] + (upper - lower)[:, None] * np.linspace(0.0, 1.0, n_grid)[None, :]
    values = score(grid.ravel()).reshape(grid.shape)
    return values.min(axis=1), values.max(axis=1)


def new_models_frame(new_models: Union[pd.DataFrame, pd.Series, dict]) -> pd.DataFrame:
    """New models' covariates as a DataFrame: a DataFrame as is, a dict or a Series converted.

    As statsmodels' ``predict(exog)`` accepts a dict of columns, so do the forecasts here: a dict
    of scalars is one model, a dict of equal-length lists (scalars broadcast) one model per
    element; a Series is one model (e.g. ``models.iloc[0]``), its entries the columns.

    Parameters
    ----------
    new_models : DataFrame, dict or Series
        Covariates of the models to forecast.

    Returns
    -------
    DataFrame
        One row per model. A Series keeps its ``name`` (its row label in the table it came
        from) as the index.

    Raises
    ------
    TypeError
        For any other type (e.g. an ndarray, whose columns have no names for the formula).
    ValueError
        For a dict whose lists have different lengths.
    """
    if isinstance(new_models, pd.DataFrame):
        return new_models
    if isinstance(new_models, pd.Series):
        # to_frame().T would make every column object-typed (a numeric covariate mixed with a
        # label in one Series); a record lets pandas infer each column's dtype
        index = None if new_models.name is None else [new_models.name]
        return pd.DataFrame([new_models.to_dict()], index=index)
    if isinstance(new_models, dict):
        if all(np.ndim(v) == 0 for v in new_models.values()):
            return pd.DataFrame([new_models])
        try:
            return pd.DataFrame(new_models)
        except ValueError as e:
            raise ValueError(f"new models as a dict: the columns must be scalars or lists of one "
                             f"length ({e})") from None
    raise TypeError(
        "new models must be a DataFrame (one row per model, a column per covariate), a dict of "
        f"columns or a Series (one model); got {type(new_models).__name__}"
    )


def forecast_index(new_models: pd.DataFrame, model_col: Optional[str]) -> pd.Index:
    """Labels of new models in a tidy forecast: their model column if they have one, else their index.

    A models table usually carries its labels in the column the fit read them from (``fit(...,
    model="model")``), not in its index: the ``model`` column of
    :meth:`IRSLResults.forecast_pass_at_k` names them by that column, as the fit's own models are
    named. (:meth:`IRSLResults.predict` returns a frame indexed like ``new_models`` instead, as
    statsmodels does.)

    Parameters
    ----------
    new_models : DataFrame, K rows
        The new models (see :func:`new_models_frame`).
    model_col : str or None
        Name of the fit's model column (the name of its abilities' index).

    Returns
    -------
    pandas.Index, length K
        Named ``model_col`` when taken from that column; otherwise ``new_models.index``.
    """
    if model_col is not None and model_col in new_models.columns:
        return pd.Index(new_models[model_col].to_numpy(), name=model_col)
    return new_models.index


class IRSLWarning(UserWarning):
    """Warning category for problems of a fit (raised by :func:`irsl_stats.fit`).

    Non-convergence, singular information, negative discriminations, abilities or precisions at a
    bound. The same messages are kept in :attr:`IRSLResults.warnings`.

    Examples
    --------
    >>> import warnings
    >>> import irsl_stats as irsl
    >>> issubclass(irsl.IRSLWarning, UserWarning)
    True
    >>> with warnings.catch_warnings():  # make every fit problem an error
    ...     warnings.simplefilter("error", irsl.IRSLWarning)
    ...     res = irsl.fit("ability ~ 1", data)  # doctest: +SKIP
    """


@dataclass
class FitInfo:
    """Descriptive facts about the fit, for the summary."""

    family: str
    irt: str
    method: str
    precision: str
    identification: str
    identification_text: str
    cov_type: str
    n_models: int
    n_items: int
    nobs: int
    n_benchmarks: int
    converged: bool
    n_iter: int
    n_passes: int
    seconds: float
    n_quad: Optional[int] = None
    n_boundary_adjusted: int = 0
    boundary: str = "error"
    extra: Dict[str, str] = field(default_factory=dict)
    sigma_reml: bool = False  # sigma by REML (with the abilities' measurement error) rather than ML
    latent_llf: Optional[float] = None  # JML: log-likelihood of the latent regression
    # rows of the data that the fit gave weight 0 (not counted in ``nobs``): weights of 0 and,
    # under JML, the rows of the all-extreme models held at +-inf
    n_weight_zero: int = 0
    use_t: bool = False  # t(df) / F inference of the scaling law (fit(use_t=True), the default)
    n_clusters: Optional[int] = None  # clusters of cov_type="cluster" (with models in the latent regression)
    n_regression: Optional[int] = None  # models in the latent regression (JML: finite ability SE); None: all


#: Log-scale intervals ``value * exp(-+h)`` are used while ``h = q se / value`` is at most this (a
#: ratio of bounds up to e^40); beyond it the estimate is at the boundary 0 for all purposes and
#: gets ``[0, value + q se]`` (the log-scale bound would be ~inf, or overflow).
_MAX_LOG_HALF_WIDTH = 20.0


class WaldInference:
    """Normal-theory (Wald) inference from ``self._params`` (Series, length K) and ``self._cov``
    (DataFrame, K x K): the statsmodels results surface shared by the one- and
    multidimensional results classes.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> issubclass(irsl.IRSLResults, WaldInference)
    True
    """

    _params: pd.Series
    _cov: pd.DataFrame

    @property
    def bse(self) -> pd.Series:
        """Standard errors of ``params`` (Series, length K)."""
        return pd.Series(np.sqrt(np.diag(self._cov.to_numpy())), index=self._params.index)

    def _fixed_by_identification(self) -> np.ndarray:
        """Which of ``params`` the identification fixes (boolean, length K); none by default."""
        return np.zeros(len(self._params), dtype=bool)

    def _inference_df(self) -> Optional[int]:
        """Degrees of freedom of the t / F reference; None (the default) for normal theory."""
        return None

    def _log_scale_params(self) -> List[str]:
        """Names of positive parameters whose interval is built on the log scale; none by default."""
        return []

    def _derived_intervals(self, q: float) -> Dict[str, tuple]:
        """Intervals of the parameters the identification derives from the slopes; none by default.

        Parameters
        ----------
        q : float
            The ``1 - alpha/2`` quantile of the reference distribution (Student's t with the
            inference degrees of freedom when ``use_t``, else the normal): the radius, in
            standard errors, of the slopes' Wald ellipsoid whose image the interval is (see :mod:`irsl_stats.derived_interval`).

        Returns
        -------
        dict of str to (float, float)
            Lower and upper bound by parameter name.
        """
        return {}

    @property
    def tvalues(self) -> pd.Series:
        """Wald z statistics ``params / bse`` (Series, length K).

        NaN for parameters the identification fixes: they have no sampling variability, so a
        test of them is meaningless (``bse`` is 0 and ``params / bse`` would be +-inf or NaN).
        """
        z = self._params / self.bse
        z[self._fixed_by_identification()] = np.nan
        return z

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of ``tvalues`` (Series, length K); NaN where ``tvalues`` is.

        From Student's t with the inference degrees of freedom when ``use_t``, else the normal.
        """
        t = self.tvalues.to_numpy()
        p = np.full(t.shape, np.nan)
        ok = ~np.isnan(t)
        df = self._inference_df()
        ref = stats.norm if df is None else stats.t(df)
        p[ok] = 2 * ref.sf(np.abs(t[ok]))
        return pd.Series(p, index=self._params.index)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals, DataFrame (K, 2) with columns 0 and 1 like statsmodels.

        ``params -+ q bse`` with ``q`` the ``1 - alpha/2`` quantile of Student's t with the
        inference degrees of freedom when ``use_t`` (``df_resid``, or clusters minus one), else
        of the normal, except for positive
        scale parameters (``sigma`` of :class:`IRSLResults`), whose interval is built on the log
        scale by the delta method, ``exp(log(sigma) -+ q bse / sigma)``: it stays positive and is
        asymmetric, as the sampling distribution of a spread near zero is.

        Parameters that the identification derives from the slopes (``sigma = sqrt(1 - var(x'
        beta))`` of a 2PL fit with covariates under ``identification="population"``; the
        per-benchmark ``log sd`` of a multidimensional 2PL fit with covariates; an exploratory
        ``Sigma = I - cov(XB)``) get the image of the slopes' Wald ellipsoid of radius ``q``
        instead: ``[min g, max g]`` of the parameter ``g(slopes)`` over it (see
        :mod:`irsl_stats.derived_interval`). Their ``bse`` stays the delta-method standard error,
        but the interval is not ``params -+ q bse``: that error is proportional to the slopes and
        vanishes as they near 0, where ``params -+ q bse`` collapsed onto the estimate (and could
        exceed ``sigma = 1``) and 95% intervals of ``sigma`` covered 79-82% for a weak law. The
        image agrees with the delta-method interval to first order when the slopes are many
        standard errors from 0, and contains ``sigma = 1`` (``log sd = 0``) when the ellipsoid
        contains slope 0.

        Parameters
        ----------
        alpha : float
            The intervals are ``1 - alpha``, ``0 < alpha < 1``.

        Returns
        -------
        DataFrame, shape (K, 2)
            Lower (column 0) and upper (column 1) bounds, indexed by the parameter names.

        Raises
        ------
        ValueError
            If ``alpha`` is not in (0, 1).
        """
        alpha = check_alpha(alpha)
        q = critical_value(alpha, self._inference_df())
        se = self.bse
        out = pd.DataFrame({0: self._params - q * se, 1: self._params + q * se})
        for name in self._log_scale_params():
            value, s = float(self._params[name]), float(se[name])
            half = q * s / value if value > 0 else np.inf  # q se of log(value) by the delta method
            if half <= _MAX_LOG_HALF_WIDTH:
                out.loc[name] = [value * np.exp(-half), value * np.exp(half)]
            elif np.isfinite(s):
                # an estimate at (or numerically at) the boundary 0, e.g. sigma = 3e-5 with se 0.03:
                # the log scale would span e^(+-2,000) and overflow; the Wald interval truncated at 0
                out.loc[name] = [0.0, value + q * s]
        for name, bounds in self._derived_intervals(q).items():
            out.loc[name] = list(bounds)
        return out

    @property
    def use_t(self) -> bool:  # read by statsmodels' summary_params
        """Whether p-values and intervals use Student's t (and ``wald_test`` F) rather than the normal."""
        return self._inference_df() is not None


class IRSLResults(WaldInference):
    """Fitted Item Response Scaling Law.

    Attributes
    ----------
    params : Series, length K
        Scaling-law coefficients (labelled by the formula's columns), ``sigma`` (the spread of
        ability around the law) and global precision parameters, on the identified scale.
    bse, tvalues, pvalues : Series, length K
        ``tvalues`` and ``pvalues`` are NaN for the parameters the identification fixes
        (:attr:`fixed_params`, e.g. ``Intercept`` and ``sigma`` of ``ability ~ 1`` under the
        default identification), whose ``bse`` is 0.
    llf : float
        Log-likelihood (joint for ``method="jml"``, marginal for ``"mml"``). The joint
        likelihood does not involve the formula (every model has its own ability), so under JML
        ``llf``, ``aic`` and ``bic`` are the same for every scaling law on the same responses;
        :func:`irsl_stats.anova` compares laws fitted by JML through the likelihood of their
        latent regressions. Comparable only between fits of the same responses under the same
        family and boundary policy (a beta density of rates and a probability of counts are on
        unrelated scales).
    nobs : int
        Number of responses that entered the likelihood: the rows with a positive weight (each
        counts once, whatever its weight). Rows weighted 0 by ``weights=`` and, under
        ``method="jml"``, the rows of models whose responses are all extreme (held at ``+-inf``,
        where those responses have probability 1) are not counted, so a fit with zero weights
        has the ``nobs`` (and ``bic``) of the fit without those rows, as R's ``nobs()`` of a
        weighted ``glm``. ``fit_info.n_weight_zero`` counts the rows left out.
    items : DataFrame, one row per question
        ``a, d, b, phi`` (as applicable) and their standard errors, benchmark, and ``n``: the
        question's responses that entered the likelihood (counted as ``nobs``). The standard
        errors of ``a, d, b`` (and ``a_d_cov``) include the uncertainty of the identified
        ability scale (its estimated location and spread); :meth:`item_bank` keeps those given
        the scale, which abilities scored on the bank share.
    abilities : DataFrame, one row per model
        ``theta`` (estimate: JML; posterior mean: MML), ``se``, ``fitted`` (x'beta), ``resid``, and
        ``n``: the model's responses that entered the likelihood (counted as ``nobs``; 0 for a
        JML model whose responses are all extreme).
    warnings : list of str
        Everything that went wrong or needs attention; also raised as :class:`IRSLWarning`.

    Other Parameters
    ----------------
    params, cov, llf, n_params, items, abilities, warnings_list
        The constructor is internal: :func:`irsl_stats.fit` passes the labelled estimates
        (Series, length K), their covariance (DataFrame, shape (K, K)), the log-likelihood, the
        number of free parameters, the ``items`` (N rows) and ``abilities`` (M rows) tables and
        the warning messages.
    design : LatentDesign
        The latent regression's design: formula, column names (P of them), covariates.
    beta, cov_beta : ndarray, shape (P,) and (P, P)
        Scaling-law coefficients and their covariance on the population scale.
    sigma : float
        Standard deviation of ability around the law, population scale.
    to_reported : tuple of float, length 2
        ``(k, m)`` with ``theta_reported = k * theta_population + m``.
    beta_reported, sigma_reported, cov_reported : ndarray (P,), float, ndarray (P + 1, P + 1)
        The scaling law and the covariance of ``(beta, sigma)`` on the reported scale.
    info : FitInfo
        Descriptive facts about the fit, for the summary.
    item_arrays : dict of str to ndarray, shape (N,)
        ``a``, ``d`` and ``log_phi`` of the N questions.
    item_benchmark : Series, length N, or None
        Benchmark of each question.
    precision_desc : str
        Description of the precision model, for the summary.
    history : list, optional
        One record per iteration.
    joint_cov : DataFrame, optional
        Joint covariance of abilities and question parameters (see :meth:`joint_cov_params`).

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=1)
    >>> res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models)
    >>> res.params.index.tolist()
    ['Intercept', 'log(compute)', 'sigma']
    >>> res.conf_int().shape
    (3, 2)
    >>> res.abilities.shape[0], res.items.shape[0]
    (40, 60)
    """

    def __init__(
        self,
        *,
        params: pd.Series,
        cov: pd.DataFrame,
        llf: float,
        n_params: int,
        design: LatentDesign,
        beta: np.ndarray,
        sigma: float,
        cov_beta: np.ndarray,
        to_reported: tuple,
        sigma_reported: float,
        beta_reported: np.ndarray,
        cov_reported: np.ndarray,
        items: pd.DataFrame,
        abilities: pd.DataFrame,
        info: FitInfo,
        warnings_list: List[str],
        item_arrays: Dict[str, np.ndarray],
        item_benchmark: Optional[pd.Series],
        precision_desc: str,
        history: Optional[list] = None,
        joint_cov: Optional[pd.DataFrame] = None,
    ):
        self._params = params
        self._cov = cov
        self.llf = float(llf)
        self._n_params = int(n_params)
        self.design = design
        # the latent regression on the population scale (used for forecasts) and the affine map
        # theta_reported = k * theta_population + m
        self._beta = np.asarray(beta, float)
        self._sigma = float(sigma)
        self._cov_beta = np.asarray(cov_beta, float)
        self._to_reported = tuple(float(v) for v in to_reported)
        self._sigma_reported = float(sigma_reported)
        self._beta_reported = np.asarray(beta_reported, float)
        self._cov_reported = np.asarray(cov_reported, float)
        self.items = items
        self.abilities = abilities
        self.fit_info = info
        self.warnings = list(warnings_list)
        self._item_arrays = item_arrays
        self._item_benchmark = item_benchmark
        self.precision_desc = precision_desc
        self.history = history or []
        self._joint_cov = joint_cov
        self._response_data = None
        # Var(s) / s^2 of the population scale s = sqrt(var(x'beta) + sigma^2) that sets every 2PL
        # discrimination (delta method through the identification, given the questions; 0 for
        # 1PL, whose a_j = 1 fix the scale): set by estimate.assemble_results, read by predict
        self._population_scale_rel_var = 0.0
        # a constant of the identification has a zero covariance row up to the rounding of the
        # identification's Jacobian (e.g. 2.9e-17): make it exact, so that bse is 0 as documented
        # and wald_test refuses to test it (on the correlation scale the rounding looked like a
        # live direction: statistic 3e32, p = 0 for "Intercept = 0.5" under ability ~ 1)
        fixed = self._fixed_by_identification()
        if fixed.any():
            cov_values = self._cov.to_numpy(dtype=float, copy=True)
            cov_values[fixed, :] = 0.0
            cov_values[:, fixed] = 0.0
            self._cov = pd.DataFrame(cov_values, index=self._cov.index, columns=self._cov.columns)
        for msg in self.warnings:
            warnings.warn(msg, IRSLWarning, stacklevel=3)

    # ------------------------------------------------------------------ statsmodels surface
    @property
    def params(self) -> pd.Series:
        """Estimates (Series, length K): scaling-law coefficients, ``sigma``, global precision."""
        return self._params.copy()

    def cov_params(self) -> pd.DataFrame:
        """Covariance of ``params``, shape (K, K), labelled.

        Returns
        -------
        DataFrame, shape (K, K)
            Rows and columns labelled by the parameter names.
        """
        return self._cov.copy()

    def forecast_cov_params(self) -> pd.DataFrame:
        """Covariance of the scaling-law coefficients given the questions, used by :meth:`predict`.

        The covariance of the coefficients ``beta`` of the forecast ``x' beta`` on the reported
        scale, with the calibrated questions held at their estimates (see the Notes of
        :meth:`predict`): ``predict``'s ``mean_se`` is ``sqrt(x' C x)`` with ``C`` this matrix.
        It differs from the coefficient block of :meth:`cov_params`, which is relative to the
        fitted models' own population (the identification), not to the questions.

        Returns
        -------
        DataFrame, shape (P, P)
            Rows and columns labelled by the P columns of the formula's design (no ``sigma``).
        """
        k = self._to_reported[0]
        cols = list(self.design.column_names)
        return pd.DataFrame(k**2 * self._cov_beta, index=cols, columns=cols)

    def _log_scale_params(self) -> List[str]:
        # sigma is a spread: its Wald interval sigma -+ q se crosses zero when sigma is small
        return ["sigma"] if "sigma" in self._params.index else []

    def _sigma_from_slopes(self) -> bool:
        """Whether the identification sets ``sigma`` from the slopes, ``sigma^2 = 1 - var(x' beta)``.

        So it is under ``identification="population"`` for a 2PL fit with covariates (1PL: the
        scale is fixed by the loadings and ``sigma`` is free; ``"regression"`` or no covariates:
        ``sigma`` is the constant 1). The identity is checked on the estimates, so that a fit
        whose reported ``sigma`` is not of this form keeps its log-scale interval.
        """
        fi = self.fit_info
        if not (fi.identification == "population" and fi.irt == "2pl" and "sigma" in self._params.index):
            return False
        cols = list(self.design.column_names)
        x = np.asarray(self.design.matrix, float)
        if x.shape[0] < 2 or np.all(np.ptp(x, axis=0) == 0):
            return False  # no covariates: sigma = 1 exactly (fixed)
        if "sigma" in self.fixed_params:
            return False
        fitted = x @ self._params[cols].to_numpy(dtype=float)
        return bool(abs(np.var(fitted) + float(self._params["sigma"]) ** 2 - 1.0) < 1e-6)

    def _derived_intervals(self, q: float) -> Dict[str, tuple]:
        """``sigma``'s interval as the image of the slopes' Wald ellipsoid, when they determine it.

        Under ``identification="population"`` a 2PL fit with covariates has ``sigma = sqrt(1 -
        beta' S beta)``, ``S`` the population covariance of the design columns over the
        calibration models: the interval is ``sqrt(1 - Q)`` over the range ``[Q_min, Q_max]`` of
        ``beta' S beta`` on the ellipsoid ``(b - b_hat)' C^+ (b - b_hat) <= q^2`` (``C`` the
        coefficients' block of :meth:`cov_params`), found exactly by
        :func:`irsl_stats.derived_interval.residual_variance_range`; clipped to ``[0, 1]``.

        Parameters
        ----------
        q : float
            Radius of the ellipsoid in standard errors (the ``1 - alpha/2`` quantile of t or the
            normal, as :meth:`conf_int` uses).

        Returns
        -------
        dict of str to (float, float)
            ``{"sigma": (lower, upper)}``, or empty when ``sigma`` is not set by the slopes.
        """
        if not self._sigma_from_slopes():
            return {}
        from .derived_interval import residual_variance_range

        cols = list(self.design.column_names)
        v_lo, v_hi = residual_variance_range(self._params[cols].to_numpy(dtype=float),
                                             self._cov.loc[cols, cols].to_numpy(dtype=float),
                                             self.design.matrix, q)
        return {"sigma": (float(np.sqrt(v_lo)), float(np.sqrt(v_hi)))}

    def _fixed_by_identification(self) -> np.ndarray:
        """Which of ``params`` the identification fixes (boolean, length K).

        The results do not carry the identification's constraints, only their effect: a reported
        coefficient or ``sigma`` that the convention pins to a constant (under ``"population"``
        the intercept when the other columns have mean 0 — e.g. ``ability ~ 1`` — and, for 2PL,
        ``sigma = 1`` when there are no covariates) has a zero row in the covariance, up to the
        rounding of the identification's numerical Jacobian. It is detected as a standard error
        below ``_FIXED_RTOL`` times the parameter's natural unit: the spread of ability for the
        intercept (and any constant column) and ``sigma``, that spread divided by the column's
        standard deviation for a covariate's coefficient. Relative units keep the test valid for
        covariates on any scale (e.g. raw FLOPs, whose coefficients and SEs are ~1e-24). Parameters
        that are functions of others but still vary (the intercept and ``sigma`` of a law with
        covariates) are not fixed: their covariance rows are not zero. Global precision
        parameters are never fixed by the identification.
        """
        names = list(self._params.index)
        fixed = np.zeros(len(names), dtype=bool)
        cols = list(self.design.column_names)
        x = np.asarray(self.design.matrix, float)
        fitted = x @ self._beta_reported
        spread = float(np.sqrt(np.var(fitted) + self._sigma_reported**2))
        if not (np.isfinite(spread) and spread > 0):
            spread = 1.0
        var = np.diag(self._cov.to_numpy())
        for i, name in enumerate(names):
            if name == "sigma":
                unit = spread
            elif name in cols:
                sd_x = float(np.std(x[:, cols.index(name)]))
                unit = spread / sd_x if sd_x > 0 else spread
            else:
                continue
            v = var[i]
            fixed[i] = bool(np.isfinite(v) and np.sqrt(max(v, 0.0)) <= _FIXED_RTOL * unit)
        return fixed

    @property
    def fixed_params(self) -> List[str]:
        """Names of the parameters the identification fixes (reported without z or p-value)."""
        return [n for n, f in zip(self._params.index, self._fixed_by_identification()) if f]

    def joint_cov_params(self) -> pd.DataFrame:
        """Joint covariance of all abilities and question parameters (identified scale).

        Labels are ``theta[<model>]``, ``a[<question>]``, ``d[<question>]``, ``log_phi[<question>]``
        and the global precision parameters. Available when the fit formed the dense joint
        information: only ``method="jml"`` does, with ``full_cov=True``, or ``"auto"`` when the
        abilities and question parameters number at most
        :data:`~irsl_stats.inference.DENSE_LIMIT`, and when that information was usable (not
        singular). MML integrates the abilities out and never forms it.

        Returns
        -------
        DataFrame, shape (Q, Q)
            Q = M abilities + the question parameters + the global precision parameters.

        Raises
        ------
        ValueError
            When the fit did not form the dense joint covariance; the message says why (MML,
            ``full_cov=False``, above the size limit of ``"auto"``, or a singular joint
            information) and how to get it.
        """
        if self._joint_cov is None:
            raise ValueError(
                f"this fit has no joint covariance of abilities and questions: {self._no_joint_cov_reason()}"
            )
        return self._joint_cov.copy()

    def _no_joint_cov_reason(self) -> str:
        """Why the fit has no joint covariance, and what to do (see :meth:`joint_cov_params`)."""
        from .inference import DENSE_LIMIT

        fi = self.fit_info
        if fi.method != "jml":
            return (f"it was fitted by {fi.method.upper()}, which integrates the abilities out and never "
                    "forms the joint information of abilities and questions (whatever full_cov); refit "
                    "with method='jml' (full_cov=True or 'auto') to get it")
        # estimate_jml falls back to the block-conditional standard errors, with a warning, when
        # the joint information it formed is singular or leaves the latent regression unfittable
        fallback = [w for w in self.warnings if "standard errors are block-conditional instead" in w]
        if fallback:
            return f"the joint information was formed but not usable ({fallback[0]})"
        # n_params counts the free abilities and question parameters less the identification's
        # constraints (two for 2PL: location and scale; one for 1PL: location)
        n_free = self._n_params + (2 if fi.irt == "2pl" else 1)
        if n_free > DENSE_LIMIT:
            gb = 8.0 * n_free**2 / 1e9
            return (f"its {n_free:,} abilities and question parameters exceed DENSE_LIMIT = "
                    f"{DENSE_LIMIT:,}, above which full_cov='auto' skips the dense matrix; refit with "
                    f"full_cov=True if memory allows (the matrix alone takes {gb:.2g} GB)")
        return ("it was fitted with full_cov=False (block-conditional standard errors); refit with "
                "full_cov=True or 'auto'")

    @property
    def nobs(self) -> int:
        """Number of responses that entered the likelihood (rows with a positive weight)."""
        return self.fit_info.nobs

    @property
    def df_model(self) -> int:
        """Rank of the scaling law's design, less one when its columns span the constant.

        statsmodels' definition: the constant counts whether it is an ``Intercept`` column or
        implied by a full set of factor levels (``ability ~ 0 + family + log(compute)`` has
        ``df_model`` 1 less than its 4 columns, as ``ability ~ family + log(compute)``). It is
        reported only: the t and F references use :attr:`df_resid`, and AIC / BIC
        :attr:`n_params`.
        """
        from .formula import scaled_rank

        x = np.asarray(self.design.matrix, float)
        rank = scaled_rank(x)
        # the constant is in the column space when appending it does not raise the rank
        has_constant = scaled_rank(np.column_stack([np.ones(x.shape[0]), x])) == rank
        return int(rank - int(has_constant))

    @property
    def df_resid(self) -> int:
        """Models in the latent regression minus the rank of the scaling law's design.

        Under ``method="jml"`` the latent regression leaves out (weight 0) the models whose
        ability has no finite, positive standard error -- those whose responses are all
        extreme, or with a singular information: they are no observations of the law, and
        counting them made t intervals and p-values too narrow (10 models, 3 all correct:
        t with 8 degrees of freedom instead of 5). Under MML every model is in it.
        """
        from .formula import scaled_rank

        n = getattr(self.fit_info, "n_regression", None)  # None: results built before it was kept
        n = self.fit_info.n_models if n is None else n
        return int(n - scaled_rank(np.asarray(self.design.matrix, float)))

    def _inference_df(self) -> Optional[int]:
        """``df_resid``, or clusters minus one under ``cov_type="cluster"``, when the fit used
        ``use_t=True``; None (normal theory) otherwise or when that number is not positive."""
        if not self.fit_info.use_t:
            return None
        if self.fit_info.cov_type == "cluster" and self.fit_info.n_clusters is not None:
            df = self.fit_info.n_clusters - 1
        else:
            df = self.df_resid
        return int(df) if df > 0 else None

    @property
    def converged(self) -> bool:
        """Whether the estimator met its convergence criterion."""
        return self.fit_info.converged

    @property
    def n_iter(self) -> int:
        """Number of iterations of the estimator."""
        return self.fit_info.n_iter

    @property
    def n_kernel_passes(self) -> int:
        """Number of passes of the C++ kernel over the data."""
        return self.fit_info.n_passes

    @property
    def n_params(self) -> int:
        """Free parameters of the likelihood after the identification constraints (for AIC / BIC).

        The question parameters, the scaling-law coefficients and ``sigma`` (MML), or the
        question parameters and the abilities (JML), less the identification's constraints; not
        ``df_model``, which counts the scaling-law coefficients only.
        """
        return self._n_params

    @property
    def aic(self) -> float:
        """Akaike information criterion ``-2 llf + 2 n_params``.

        Compares scaling laws only under ``method="mml"`` with ``reml=False``; under JML it is
        the same for every formula (see ``llf``), use :func:`irsl_stats.anova`.
        Comparable only between fits of the same responses under the same family (and, for
        ``family="beta"``, the same boundary policy): a beta log-likelihood is a density of
        (squeezed or clipped) rates, a count family's a probability of counts, so e.g. the AIC of
        beta on ``k/n`` and of beta-binomial on ``(k, n)`` are on unrelated scales.
        """
        return -2 * self.llf + 2 * self._n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 llf + log(M) n_params``, M the number of models.

        The models are the independent units of the marginal likelihood (a model's responses
        share its ability), so M is its sample size, as in IRT software (mirt's BIC uses the
        number of respondents) and as in :attr:`MultidimResults.bic
        <irsl_stats.multidim_results.MultidimResults.bic>` and :func:`irsl_stats.anova`: one- and
        multidimensional fits of the same responses can be compared. Compares scaling laws only
        under ``method="mml"`` with ``reml=False``; under JML it is the same for every formula
        (see ``llf``), use :func:`irsl_stats.anova`. Like ``aic``, comparable only between fits of the same responses under the same family (and, for
        ``family="beta"``, the same boundary policy): a beta log-likelihood is a density of
        (squeezed or clipped) rates, a count family's a probability of counts, so e.g. the AIC of
        beta on ``k/n`` and of beta-binomial on ``(k, n)`` are on unrelated scales.
        """
        return -2 * self.llf + np.log(self.fit_info.n_models) * self._n_params

    @property
    def sigma(self) -> float:
        """Standard deviation of ability around the scaling law (identified scale)."""
        return self._sigma_reported

    @property
    def latent_regression(self) -> dict:
        """The fitted scaling law on the reported scale.

        Includes the coefficients the identification fixes.

        Returns
        -------
        dict
            ``formula`` (str), ``column_names`` (list, length P), ``beta`` (P,), ``sigma`` (float),
            ``cov`` ((P+1, P+1) covariance of (beta, sigma); zero rows for fixed ones),
            ``covariates`` (DataFrame of the calibration models' covariates, one row per model),
            ``design`` (the :class:`~irsl_stats.formula.LatentDesign`, whose ``transform``
            evaluates the formula on new models).
        """
        return {
            "formula": self.design.formula,
            "column_names": list(self.design.column_names),
            "beta": self._beta_reported.copy(),
            "sigma": self._sigma_reported,
            "cov": self._cov_reported.copy(),
            "covariates": self.design.covariates.copy(),
            "design": self.design,
        }

    def item_bank(self):
        """The calibrated questions as an :class:`~irsl_stats.bank.ItemBank`.

        Returns
        -------
        ItemBank
            The N questions' parameters, with the latent regression as the prior for new models
            and the ``n`` of the fit's squeeze (:attr:`ItemBank.squeeze_n
            <irsl_stats.bank.ItemBank.squeeze_n>`), with which it squeezes the responses it scores.
        """
        from .bank import ItemBank

        return ItemBank.from_results(self)

    # ------------------------------------------------------------------ response scale
    def _item_subset(self, benchmark: Optional[str]):
        a, d, log_phi = (self._item_arrays[k] for k in ("a", "d", "log_phi"))
        if benchmark is None:
            return a, d, log_phi
        if self._item_benchmark is None:
            raise ValueError("the fit has no benchmark labels; pass benchmark=None")
        mask = (self._item_benchmark == benchmark).to_numpy()
        if not mask.any():
            raise ValueError(
                f"unknown benchmark {benchmark!r}; known: {sorted(self._item_benchmark.unique())}"
            )
        return a[mask], d[mask], log_phi[mask]

    def expected_score(self, theta, benchmark: Optional[str] = None) -> np.ndarray:
        """Mean over questions (of ``benchmark``) of the expected response at ability ``theta``.

        Parameters
        ----------
        theta : array_like, shape (K,)
            Abilities on this fit's identified scale.
        benchmark : str, optional
            Average over this benchmark's questions only (default: all questions).

        Returns
        -------
        ndarray, shape (K,)
            Expected score on the response scale (probability / pass rate).
        """
        a, d, _ = self._item_subset(benchmark)
        theta = np.atleast_1d(np.asarray(theta, float))
        return special.expit(np.outer(theta, a) + d).mean(axis=1)

    def predict(
        self,
        new_models: Optional[Union[pd.DataFrame, pd.Series, dict]] = None,
        what: str = "ability",
        benchmark: Optional[str] = None,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Forecast abilities or full-benchmark scores of (new) models from the scaling law.

        Parameters
        ----------
        new_models : DataFrame, dict or Series, optional
            Covariates of the models to forecast, K rows (the fit's own models when omitted). A
            dict of columns (scalars: one model; lists: one model each) or a Series (one model,
            e.g. ``models.iloc[0]``) is converted to a DataFrame, as statsmodels' ``predict``
            does. The stored formula transforms and factor levels are applied; an unseen level
            is an error.
        what : {"ability", "score"}
        benchmark : str, optional
            With ``what="score"``: the benchmark whose calibrated questions define the score.
        alpha : float
            Intervals are ``1 - alpha``.

        Returns
        -------
        DataFrame, K rows
            Indexed by model label when ``new_models`` is omitted; else by ``new_models``' own
            index (as statsmodels' ``predict``: the rows align with the table passed in; for a
            Series: its name). :meth:`forecast_pass_at_k` names models by their model column.
            ``what="ability"``: ``mean`` (x'beta), ``mean_se``, ``mean_ci_lower/upper`` (parameter
            uncertainty) and ``obs_ci_lower/upper`` (a new model's ability: adds ``sigma``).
            ``what="score"``: ``score`` (expected score at ability x'beta), ``ci_lower/upper``
            (from the ability's confidence interval) and ``pi_lower/upper`` (from its prediction
            interval: the *expected* score of a new model with these covariates, whose ability
            scatters by ``sigma`` around the law). ``pi`` does not contain the noise of the
            responses themselves (a model's observed accuracy on the questions scatters around
            its expected score, by the Beta precision or the binomial sampling), so it is not an
            interval for an observed score, least of all on few questions: on four aggregate
            tables with one "question" per benchmark its 95% interval covered 67-76% of the
            observed scores per table and 29-98% per benchmark
            (``benchmarks/observed_score_coverage.py``). For an
            observed score use :meth:`forecast` with ``interval="prediction"`` (draws the
            responses), or score the model on its own responses with :meth:`item_bank`.
            The score increases in ability when every discrimination is positive and decreases
            when every one is negative (the ends swap); with both signs the interval is the
            score's range over the ability interval.

        Raises
        ------
        TypeError
            If ``new_models`` is not a DataFrame, dict or Series.
        ValueError
            If ``what`` or ``alpha`` is invalid, ``benchmark`` is unknown, or a covariate is
            missing, NaN or has an unseen level.

        Notes
        -----
        Intervals carry the uncertainty of the scaling-law coefficients given the calibrated
        questions (and ``sigma`` for the prediction interval): where the models sit against the
        question bank, which is also the scale a new model is scored on with
        :meth:`item_bank`. They are computed on the population scale and mapped to the
        reported scale, so forecasts on the response scale are the same under every
        identification. The score intervals (``what="score"``) of a 2PL fit add the error of the
        questions' common discrimination scale: every ``a_j`` is on the population scale ``s``
        (``s^2 = var_i(x_i' beta) + sigma^2``), which the fit estimates from its M calibration
        models (relative variance ``r = Var(s) / s^2``, delta method through the identification
        as in the standard errors of ``items``; it does not shrink with more questions). A
        forecast ``theta`` away from the population centre moves every ``eta = a theta + d`` by
        ``a theta`` times that relative error, so the ability interval behind ``ci`` has
        variance ``mean_se^2 + theta^2 r`` and the one behind ``pi`` adds ``sigma^2 (1 + r)``
        (``theta`` the forecast on the reported scale, measured from the calibration models'
        mean). Without it the 95% ``ci`` covered the true score 0.957 / 0.940 / 0.917 / 0.900 of
        the time in range / 10x / 100x / 1000x beyond the top of the compute range (300
        replicates of 40 models x 60 Beta questions, MML; ``pi`` 0.953 / 0.917 / 0.930 /
        0.913; JML 0.953 / 0.933 / 0.920 / 0.900), and no better with 300 questions (0.970 /
        0.920 / 0.905 / 0.900, 200 replicates); with it ``ci`` 0.967 / 0.963 / 0.953 / 0.950
        and ``pi`` 0.953 / 0.930 / 0.943 / 0.943 (JML ``ci`` 0.967 / 0.963 / 0.957 / 0.947; 300
        questions 0.975 / 0.970 / 0.965 / 0.960). The questions' individual errors are not
        added: they average out over the questions (measured with the joint covariance of
        abilities and questions of a JML fit, 40 models x 60 questions: adding them and their
        covariance with the coefficients widens the score intervals by 0.5-1.2%). The ability
        columns (``what="ability"``) stay relative to the estimated questions: that is the scale
        a new model is scored on with :meth:`item_bank`, whose abilities share the scale's error.

        Hence ``mean_se`` is **not** ``sqrt(x' V x)`` with ``V = cov_params()``:
        ``mean_se = sqrt(x' C x)`` with ``C = forecast_cov_params()`` (the design row ``x`` of
        the model, columns as in the formula). ``cov_params()`` is the covariance of the
        *reported* coefficients, whose scale the identification defines from the fitted models
        themselves (under ``identification="population"`` their abilities have mean 0 and, for
        2PL, variance 1): the location and scale of that population are functions of the
        coefficients, so e.g. the ``Intercept`` of ``ability ~ 1`` is fixed at 0 with no
        standard error. A forecast is made against the questions, held at their estimates: it
        keeps the uncertainty of where the population sits relative to them, which the
        identification's map removes (without it the intervals at the calibration mean would
        have zero width; 95% intervals of 2PL score forecasts covered 75-87%). So ``ability ~ 1``
        with ``M`` models gives ``mean_se`` of about ``sigma / sqrt(M)`` (0.158 for 40 models), not 0.
        """
        alpha = check_alpha(alpha)
        if what not in ("ability", "score"):
            raise ValueError(f"what must be 'ability' or 'score'; got {what!r}")
        if new_models is None:
            x = self.design.matrix
            index = self.design.model_labels
        else:
            new_models = new_models_frame(new_models)
            x = self.design.transform(new_models)
            index = new_models.index  # as statsmodels: forecasts align with the rows passed in
        k, m = self._to_reported
        mean = k * (x @ self._beta) + m
        var_mean = k**2 * np.einsum("ij,jk,ik->i", x, self._cov_beta, x)
        out = ability_forecast_frame(mean, var_mean, (k * self._sigma) ** 2, alpha, index,
                                     df=self._inference_df())
        if what == "ability":
            return out
        a, _, _ = self._item_subset(benchmark)
        if np.any(a < 0) and np.any(a > 0):
            warnings.warn(
                "the benchmark's questions have discriminations of both signs: the score is not "
                "monotone in ability, and its intervals are the score's range over the ability "
                "intervals (see res.items for the negative ones)",
                IRSLWarning,
                stacklevel=2,
            )
        # the score is against the true questions, whose common discrimination scale the fit
        # estimated from its M models (relative variance `rel`, not shrunk by more questions):
        # a forecast theta_pop from the population centre moves eta = a* theta + d* by
        # a* theta_pop * (relative scale error), and a new model's own deviation sigma u alike.
        # The ability columns above stay relative to the estimated questions (the bank's scale)
        rel = self._population_scale_rel_var
        theta_pop = x @ self._beta
        band = ability_forecast_frame(mean, var_mean + (k * theta_pop) ** 2 * rel,
                                      (k * self._sigma) ** 2 * (1.0 + rel), alpha, index,
                                      df=self._inference_df())
        f = lambda t: self.expected_score(t, benchmark)  # noqa: E731
        ci = score_interval(f, band["mean_ci_lower"].to_numpy(), band["mean_ci_upper"].to_numpy(), a)
        pi = score_interval(f, band["obs_ci_lower"].to_numpy(), band["obs_ci_upper"].to_numpy(), a)
        return pd.DataFrame(
            {"score": f(out["mean"].to_numpy()), "ci_lower": ci[0], "ci_upper": ci[1],
             "pi_lower": pi[0], "pi_upper": pi[1]},
            index=index,
        )

    def forecast(self, target, using: Optional[pd.DataFrame] = None, **kwargs) -> pd.DataFrame:
        """Forecast the score on benchmark ``target`` from responses on other benchmarks.

        With one shared ability the model's ability is estimated from its ``using`` responses
        (posterior under the calibration population) and mapped through the ``target``
        questions; see :meth:`irsl_stats.crossbench.MultidimBank.forecast` for the arguments
        (``ks=`` for pass@k, ``alpha=``, ``target_questions=``, column names).

        Parameters
        ----------
        target : label or list of labels
            Benchmark(s) of this fit.
        using : DataFrame, optional
            Long responses of the models to forecast; default: the fitted models' own responses
            on every other benchmark, as the fit modelled them (beta responses after its
            boundary policy, so ``boundary=`` does not apply; rows of weight 0 left out).
        **kwargs
            Passed to :meth:`irsl_stats.crossbench.MultidimBank.forecast` (``ks``, ``alpha``,
            ``interval``, ``target_questions``, ``target_trials``, column names).

        Returns
        -------
        DataFrame
            One row per model: ``score, se, median, lower, upper, n_using`` (tidy pass@k with
            ``ks``; see :meth:`MultidimBank.forecast <irsl_stats.MultidimBank.forecast>`).

        Examples
        --------
        >>> res = irsl.fit("ability ~ 1", data, benchmark="benchmark")  # doctest: +SKIP
        >>> res.forecast("arc_challenge", using=arc_easy_responses)     # doctest: +SKIP
        """
        from .crossbench import MultidimBank, forecast_for_fit

        if self._response_data is None:
            raise ValueError("this result does not carry its response data; pass using= and call "
                             "item_bank() / MultidimBank.forecast directly")
        bank = MultidimBank.from_item_bank(self.item_bank())
        return forecast_for_fit(bank, self._response_data, target, using, kwargs)

    def ability_correlation(self, alpha=None, residual: bool = False) -> pd.DataFrame:
        """Benchmark x benchmark ability correlation: all ones with one shared ability.

        Every entry is 1 by construction; fit ``ability="per_benchmark"`` (or ``dims=``) to
        estimate it.

        Parameters
        ----------
        alpha : float, optional
            As in :meth:`irsl_stats.MultidimResults.ability_correlation`; with one shared ability
            there is nothing to put an interval on, so giving it is an error that says how to refit.
        residual : bool
            Likewise: the residual correlation given the covariates is not defined here.

        Returns
        -------
        DataFrame, shape (B, B)
            Indexed by the B benchmark names on both axes.
        """
        if alpha is not None or residual:
            raise ValueError(
                "this fit has one shared ability, so every benchmark correlation is 1 by construction "
                "and has no interval; refit with ability='per_benchmark' (or dims=) to estimate them"
            )
        if self._item_benchmark is None:
            raise ValueError("the fit has no benchmark labels (fit with benchmark=<column>)")
        names = list(pd.unique(self._item_benchmark))
        idx = pd.Index(names, name="benchmark")
        return pd.DataFrame(np.ones((len(names), len(names))), index=idx, columns=idx)

    def forecast_pass_at_k(
        self,
        ks,
        models: Optional[pd.DataFrame] = None,
        benchmark: Optional[str] = None,
        alpha: float = 0.05,
        plugin: bool = False,
    ) -> pd.DataFrame:
        """Expected pass@k per model: the mean over questions of ``E[1 - (1-p)^k]``.

        Under beta / beta-binomial the Beta expectation ``1 - B(mu phi, (1-mu) phi + k) /
        B(mu phi, (1-mu) phi)`` (log space, any k); under bernoulli / binomial ``1 - (1-mu)^k``;
        ``plugin=True`` gives ``1 - (1-mu)^k`` for every family, for comparison.

        Parameters
        ----------
        ks : array_like, shape (K,)
            The sample budgets, ``0 < k < 2**63``: numbers, not necessarily integers (the Beta
            expectation is defined for any ``k > 0``; booleans and strings are refused).
        models : DataFrame, dict or Series, optional
            New models' covariates, M rows (see :meth:`predict`): their pass@k at the scaling
            law's ability ``x' beta`` (interval from the confidence interval of ``x' beta``). By
            default the fitted models, at their estimated abilities (interval from each ability's
            standard error).
        benchmark : str, optional
            Average over this benchmark's questions only (default: all questions).
        alpha : float
            The intervals are ``1 - alpha``, ``0 < alpha < 1``.
        plugin : bool
            Use the plug-in ``1 - (1-mu)^k`` whatever the family.

        Returns
        -------
        DataFrame, shape (M * K, 5)
            Tidy, budgets outermost: ``model``, ``k`` (int64 when every budget is a whole
            number, else float64), ``pass_at_k``, ``lower``, ``upper``.
            ``model`` is the model label: with ``models``, its column named like the fit's model
            column (e.g. ``"model"``) when it has one, else its index.

        Raises
        ------
        ValueError
            If ``alpha`` is not in (0, 1); if a budget is ``>= 2**63`` (the ``k`` column is
            int64), not finite, not positive or not a number (the message names ``ks``).

        Notes
        -----
        The intervals take the questions as known; with few models in the fit they are too
        narrow (see :meth:`ItemBank.forecast_pass_at_k
        <irsl_stats.ItemBank.forecast_pass_at_k>`, which computes them).
        """
        alpha = check_alpha(alpha)
        try:
            k_arr = np.asarray(ks, dtype=float)
        except (TypeError, ValueError):
            k_arr = None  # not numbers: the bank's own check says so
        if k_arr is not None:
            # whole-number budgets are reported as int64, which 1e19 would silently wrap to -2**63
            _check_budgets_int64(k_arr, "ks")
        bank = self.item_bank()
        if models is None:
            theta = self.abilities["theta"]
            se = self.abilities["se"].to_numpy()
        else:
            # the tidy ``model`` column names models: the models' column named like the fit's
            # model column when they have one, else their index (predict keeps the index)
            models = new_models_frame(models)
            pred = self.predict(models, what="ability", alpha=alpha)
            index = forecast_index(models, self.abilities.index.name or "model")
            theta, se = pd.Series(pred["mean"].to_numpy(), index=index), pred["mean_se"].to_numpy()
        # the bank reports whole-number budgets as integers
        return bank.forecast_pass_at_k(theta, ks, benchmark=benchmark, se=se, alpha=alpha, plugin=plugin)

    # ------------------------------------------------------------------ tests
    def wald_test(self, constraints, use_f: Optional[bool] = None):
        """Wald test of linear constraints on ``params``.

        Like statsmodels, the statistic uses a pseudo-inverse of the constraints' covariance
        ``R V R'`` (taken on the correlation scale, so that parameters of very different
        magnitudes are treated alike) and its numerical rank as the degrees of freedom. ``R V R'`` is singular when
        the constraints are linearly dependent, or when they involve parameters the identification
        determines from the others (under ``identification="population"`` the intercept and, for
        2PL, ``sigma`` are functions of the slopes, so ``cov_params()`` is singular); the test then
        has fewer degrees of freedom than constraints and an :class:`IRSLWarning` says so.

        Parameters
        ----------
        constraints : str, list of str, or (R, q) tuple
            e.g. ``"family[T.b] = 0"`` or ``["family[T.b] = 0", "family[T.c] = 0"]``; parsed by
            patsy against the parameter names. A tuple gives the matrix ``R`` (J, K) and the
            vector ``q`` (J,) of ``R params = q``.
        use_f : bool, optional
            F test instead of the chi-squared test; default: F when ``use_t`` (the fit's
            ``use_t=True``), as statsmodels. The denominator degrees of freedom are those of the
            t reference: ``df_resid``, or the number of clusters minus one under
            ``cov_type="cluster"``.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
            Statistic, p-value and degrees of freedom (the rank of ``R V R'``).

        Raises
        ------
        ValueError
            If a constraint cannot be parsed or names an unknown parameter (the message lists the
            valid names); if ``R`` and ``q`` do not match the K parameters; if the covariance of
            the constrained parameters is not finite; if the constraints only involve parameters
            the identification fixes (nothing left to test).

        Warns
        -----
        IRSLWarning
            When ``R V R'`` has rank below the number of constraints (degrees of freedom reduced).
        """
        from .inference import wald_test

        if use_f is None:
            use_f = self.use_t
        denom = None
        if use_f:
            denom = self._inference_df()
            denom = self.df_resid if denom is None else denom
        return wald_test(
            self._params, self._cov, constraints, fixed_params=self.fixed_params,
            determined="under identification='population' the intercept and, for 2PL, sigma are "
                       "functions of the slopes",
            use_f=bool(use_f), df_denom=denom, stacklevel=3,
        )

    # ------------------------------------------------------------------ reporting
    def compare_lr_test(self, restricted: "IRSLResults", small_sample: bool = True):
        """Likelihood-ratio test of this scaling law against a nested one with fewer covariates.

        Parameters
        ----------
        restricted : IRSLResults
            Fit of the same responses with the same options and a formula whose columns are
            combinations of this fit's, e.g. ``ability ~ log(compute)`` against this
            ``ability ~ log(compute) + family``.
        small_sample : bool
            p-value from the F distribution with ``M - P`` denominator degrees of freedom
            (default; near nominal size with tens of models) or, ``False``, from chi-squared
            (asymptotic in the number of models; rejects too often with few).

        Returns
        -------
        irsl_stats.lrtest.LRTestResult
            ``(lr_stat, p_value, df_diff)``, as statsmodels' ``compare_lr_test``.

        Notes
        -----
        The log-likelihoods are those of maximum-likelihood fits: a fit with the REML-type
        ``sigma`` (``reml=True``, the default) is refitted with ``reml=False`` first, as lme4's
        ``anova`` does; fit with ``reml=False`` to avoid the refits. Under JML the statistic
        compares the latent regressions of the ability estimates (the joint likelihood of the
        responses does not involve the formula). See :mod:`irsl_stats.lrtest`.

        Examples
        --------
        >>> import irsl_stats as irsl
        >>> sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=1)
        >>> kw = dict(data=sim.responses, models=sim.models, reml=False)
        >>> full = irsl.fit("ability ~ log(compute) + family", **kw)
        >>> small = irsl.fit("ability ~ log(compute)", **kw)
        >>> lr_stat, p_value, df_diff = full.compare_lr_test(small)
        """
        from .lrtest import compare_lr_test

        return compare_lr_test(self, restricted, small_sample)

    def summary(self, alpha: float = 0.05):
        """Summary tables of the fit, as a statsmodels :class:`~statsmodels.iolib.summary.Summary`.

        Model and data description, scaling-law table, sigma and precision, item parameter
        quartiles, identification and warnings.

        Parameters that the identification fixes are marked ``(fixed)`` (no standard error, z or
        p-value) and listed in a note; the interval of ``sigma`` is built on the log scale, or,
        when the identification sets it from the slopes, is the image of their confidence
        ellipsoid (see :meth:`conf_int`; a note says which).

        Parameters
        ----------
        alpha : float
            Confidence intervals in the tables are ``1 - alpha``, ``0 < alpha < 1``.

        Returns
        -------
        statsmodels.iolib.summary.Summary
            Printable; also ``as_text()``, ``as_html()``, ``as_latex()``.

        Raises
        ------
        ValueError
            If ``alpha`` is not in (0, 1).
        """
        from .summary import build_summary

        return build_summary(self, alpha)  # which validates alpha

    def plot_scaling(self, **kw):
        """Abilities (or scores) against a covariate with the fitted law and its band.

        Parameters
        ----------
        **kw
            Arguments of :func:`irsl_stats.plots.plot_scaling` (``x``, ``by``, ``what``, ...).

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> fig = res.plot_scaling(x="compute", by="family", what="score")  # doctest: +SKIP
        """
        from .plots import plot_scaling

        return plot_scaling(self, **kw)

    def __repr__(self) -> str:
        fi = self.fit_info
        return (
            f"<IRSLResults {fi.family} {fi.irt.upper()} {fi.method.upper()}: {fi.n_models} models, "
            f"{fi.n_items} questions, {fi.nobs} responses, llf={self.llf:.6g}>"
        )
