"""Results of a scaling-law fit, with the statsmodels results surface.

:class:`IRSLResults` reads the estimates an estimator produced (it never estimates anything) and
offers ``params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int``, ``cov_params``, ``llf``, ``aic``,
``bic``, ``nobs``, ``df_model``, ``summary()``, ``predict()``, ``wald_test()`` plus the IRT tables
``items`` and ``abilities``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np
import pandas as pd
from scipy import special, stats

from .formula import LatentDesign

__all__ = ["IRSLResults", "IRSLWarning", "FitInfo"]


class IRSLWarning(UserWarning):
    """Warnings about a fit: non-convergence, singular information, negative discriminations,
    abilities or precisions at a bound."""


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


class IRSLResults:
    """Fitted Item Response Scaling Law.

    Attributes
    ----------
    params : Series, length K
        Scaling-law coefficients (labelled by the formula's columns), ``sigma`` (the spread of
        ability around the law) and global precision parameters, on the identified scale.
    bse, tvalues, pvalues : Series, length K
    llf : float
        Log-likelihood (joint for ``method="jml"``, marginal for ``"mml"``).
    nobs : int
        Number of responses.
    items : DataFrame, one row per question
        ``a, d, b, phi`` (as applicable) and their standard errors, benchmark, number of responses.
    abilities : DataFrame, one row per model
        ``theta`` (estimate: JML; posterior mean: MML), ``se``, ``fitted`` (x'beta), ``resid``, ``n``.
    warnings : list of str
        Everything that went wrong or needs attention; also raised as :class:`IRSLWarning`.
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
        for msg in self.warnings:
            warnings.warn(msg, IRSLWarning, stacklevel=3)

    # ------------------------------------------------------------------ statsmodels surface
    @property
    def params(self) -> pd.Series:
        return self._params.copy()

    def cov_params(self) -> pd.DataFrame:
        """Covariance of ``params``, shape (K, K), labelled."""
        return self._cov.copy()

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self._cov.to_numpy())), index=self._params.index)

    @property
    def tvalues(self) -> pd.Series:
        return self._params / self.bse

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2 * stats.norm.sf(np.abs(self.tvalues.to_numpy())), index=self._params.index)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals, DataFrame (K, 2) with columns 0 and 1 like statsmodels."""
        q = stats.norm.ppf(1 - alpha / 2)
        se = self.bse
        return pd.DataFrame({0: self._params - q * se, 1: self._params + q * se})

    def joint_cov_params(self) -> pd.DataFrame:
        """Joint covariance of all abilities and question parameters (identified scale).

        Labels are ``theta[<model>]``, ``a[<question>]``, ``d[<question>]``, ``log_phi[<question>]``
        and the global precision parameters. Available when the fit formed the dense joint
        information (``full_cov=True``, or ``"auto"`` for moderate sizes).
        """
        if self._joint_cov is None:
            raise ValueError(
                "this fit has no joint covariance of abilities and questions (too many parameters "
                "for the dense matrix); refit with full_cov=True if memory allows"
            )
        return self._joint_cov.copy()

    @property
    def nobs(self) -> int:
        return self.fit_info.nobs

    @property
    def df_model(self) -> int:
        """Number of scaling-law coefficients, excluding the intercept."""
        return int(len(self.design.column_names) - int(self.design.has_intercept))

    @property
    def df_resid(self) -> int:
        return int(self.fit_info.n_models - len(self.design.column_names))

    @property
    def converged(self) -> bool:
        return self.fit_info.converged

    @property
    def n_iter(self) -> int:
        return self.fit_info.n_iter

    @property
    def n_kernel_passes(self) -> int:
        return self.fit_info.n_passes

    @property
    def aic(self) -> float:
        return -2 * self.llf + 2 * self._n_params

    @property
    def bic(self) -> float:
        return -2 * self.llf + np.log(self.nobs) * self._n_params

    @property
    def use_t(self) -> bool:  # read by statsmodels' summary_params
        return False

    @property
    def sigma(self) -> float:
        """Standard deviation of ability around the scaling law (identified scale)."""
        return self._sigma_reported

    @property
    def latent_regression(self) -> dict:
        """The fitted scaling law on the reported scale, including coefficients the
        identification fixes.

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
        """The calibrated questions as an :class:`~irsl_stats.bank.ItemBank` (with the latent
        regression as the prior for new models)."""
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
        new_models: Optional[pd.DataFrame] = None,
        what: str = "ability",
        benchmark: Optional[str] = None,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Forecast abilities or full-benchmark scores of (new) models from the scaling law.

        Parameters
        ----------
        new_models : DataFrame, shape (K, ...), optional
            Covariates of the models to forecast (the fit's own models when omitted). The stored
            formula transforms and factor levels are applied; an unseen level is an error.
        what : {"ability", "score"}
        benchmark : str, optional
            With ``what="score"``: the benchmark whose calibrated questions define the score.
        alpha : float
            Intervals are ``1 - alpha``.

        Returns
        -------
        DataFrame, K rows
            ``what="ability"``: ``mean`` (x'beta), ``mean_se``, ``mean_ci_lower/upper`` (parameter
            uncertainty) and ``obs_ci_lower/upper`` (a new model's ability: adds ``sigma``).
            ``what="score"``: ``score`` (expected score at ability x'beta), ``ci_lower/upper``
            (from the ability's confidence interval) and ``pi_lower/upper`` (from its prediction
            interval). The score is increasing in ability when every discrimination is positive,
            so the ability interval maps to a score interval.

        Notes
        -----
        Intervals carry the uncertainty of the scaling-law coefficients (and ``sigma`` for the
        prediction interval), not that of the question parameters. They are computed on the
        population scale — anchored to the whole calibration population, where the question
        parameters' uncertainty matters least — and mapped to the reported scale, so forecasts on
        the response scale are the same under every identification.
        """
        if what not in ("ability", "score"):
            raise ValueError(f"what must be 'ability' or 'score'; got {what!r}")
        if new_models is None:
            x = self.design.matrix
            index = self.design.model_labels
        else:
            x = self.design.transform(new_models)
            index = new_models.index
        k, m = self._to_reported
        mean = k * (x @ self._beta) + m
        var_mean = k**2 * np.einsum("ij,jk,ik->i", x, self._cov_beta, x)
        se = np.sqrt(np.maximum(var_mean, 0.0))
        q = stats.norm.ppf(1 - alpha / 2)
        obs_se = np.sqrt(var_mean + (k * self._sigma) ** 2)
        out = pd.DataFrame(
            {
                "mean": mean,
                "mean_se": se,
                "mean_ci_lower": mean - q * se,
                "mean_ci_upper": mean + q * se,
                "obs_ci_lower": mean - q * obs_se,
                "obs_ci_upper": mean + q * obs_se,
            },
            index=index,
        )
        if what == "ability":
            return out
        a, _, _ = self._item_subset(benchmark)
        if np.any(a < 0):
            warnings.warn(
                "some discriminations are negative: the score is not monotone in ability and "
                "the score intervals are approximate",
                IRSLWarning,
                stacklevel=2,
            )
        f = lambda t: self.expected_score(t, benchmark)  # noqa: E731
        return pd.DataFrame(
            {
                "score": f(out["mean"].to_numpy()),
                "ci_lower": f(out["mean_ci_lower"].to_numpy()),
                "ci_upper": f(out["mean_ci_upper"].to_numpy()),
                "pi_lower": f(out["obs_ci_lower"].to_numpy()),
                "pi_upper": f(out["obs_ci_upper"].to_numpy()),
            },
            index=index,
        )

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
        ks : array_like of int, shape (K,)
        models : DataFrame, optional
            New models' covariates: their pass@k at the scaling law's ability ``x' beta`` (interval
            from the confidence interval of ``x' beta``). By default the fitted models, at their
            estimated abilities (interval from each ability's standard error).
        benchmark : str, optional
        alpha : float

        Returns
        -------
        DataFrame
            Tidy: ``model``, ``k``, ``pass_at_k``, ``lower``, ``upper``.
        """
        bank = self.item_bank()
        if models is None:
            theta = self.abilities["theta"]
            se = self.abilities["se"].to_numpy()
        else:
            pred = self.predict(models, what="ability", alpha=alpha)
            theta, se = pred["mean"], pred["mean_se"].to_numpy()
        return bank.forecast_pass_at_k(theta, ks, benchmark=benchmark, se=se, alpha=alpha, plugin=plugin)

    # ------------------------------------------------------------------ tests
    def wald_test(self, constraints, use_f: bool = False):
        """Wald test of linear constraints on ``params``.

        Parameters
        ----------
        constraints : str, list of str, or (R, q) tuple
            e.g. ``"family[T.b] = 0"`` or ``["family[T.b] = 0", "family[T.c] = 0"]``; parsed by
            patsy against the parameter names.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
        """
        from patsy import DesignInfo
        from statsmodels.stats.contrast import ContrastResults

        names = list(self._params.index)
        if isinstance(constraints, tuple):
            r, q_ = (np.atleast_2d(np.asarray(constraints[0], float)), np.asarray(constraints[1], float))
        else:
            lc = DesignInfo(names).linear_constraint(constraints)
            r, q_ = lc.coefs, lc.constants[:, 0]
        diff = r @ self._params.to_numpy() - q_
        cov = r @ self._cov.to_numpy() @ r.T
        stat = float(diff @ np.linalg.solve(cov, diff))
        df = r.shape[0]
        if use_f:
            return ContrastResults(F=stat / df, df_num=df, df_denom=self.df_resid, distribution="F")
        return ContrastResults(statistic=stat, df_denom=df, distribution="chi2")

    # ------------------------------------------------------------------ reporting
    def summary(self, alpha: float = 0.05):
        """statsmodels :class:`~statsmodels.iolib.summary.Summary` (``as_text``, ``as_html``,
        ``as_latex``): model and data description, scaling-law table, sigma and precision, item
        parameter quartiles, identification and warnings."""
        from .summary import build_summary

        return build_summary(self, alpha)

    def plot_scaling(self, **kw):
        """Abilities (or scores) against a covariate with the fitted law and its band; see
        :func:`irsl_stats.plots.plot_scaling` for the arguments. Returns the matplotlib Figure.

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
