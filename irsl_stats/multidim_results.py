"""Results of fits with D-dimensional abilities (``dims=D`` or ``ability="per_benchmark"``)."""

from __future__ import annotations

import warnings
from typing import List, Optional, Union

import numpy as np
import pandas as pd
from scipy import stats

from .crossbench import MultidimBank, forecast_for_fit
from .families import get_family
from .inference import wald_test as _wald_test
from .mml import sigma_divisor
from .multidim import MultiEstimates, _latent_from_vector
from .results import (IRSLWarning, WaldInference, ability_forecast_frame, check_alpha, new_models_frame,
                      score_interval)

__all__ = ["MultidimResults", "OneAbilityOnlyError"]


class OneAbilityOnlyError(AttributeError):
    """An attribute of one-ability fits that a D-dimensional fit does not have; says what to use.

    An :class:`AttributeError`, so that ``hasattr(res, name)`` stays ``False`` and code that
    tells the two results classes apart by their attributes keeps working; the message names
    the multidimensional counterpart.

    Examples
    --------
    >>> res.sigma                                                        # doctest: +SKIP
    OneAbilityOnlyError: MultidimResults has no 'sigma': it is an attribute of one-ability fits
    (IRSLResults) and this fit has 2 ability dimensions; the spread of the abilities around the
    law is the (D, D) residual covariance res.Sigma; ...
    """

#: a parameter the identification holds is one of its constants (all 0: means, log SDs of unit
#: variances, Fisher-z of zero correlations) when its estimate is within rounding of 0; the
#: identified estimates carry ~1e-16 .. 1e-22 of rounding
_CONSTANT_ATOL = 1e-8

IDENTIFICATION = {
    # the sign as multidim._orient sets it: without it the likelihood does not tell a dimension
    # from its mirror image
    "per_benchmark": "one ability per benchmark (question j loads only on its benchmark's dimension); "
                     "every dimension has mean 0 and variance 1 over the fitted population, and its "
                     "sign such that its loadings sum to a positive number; their correlations are "
                     "estimated",
    "per_benchmark_1pl": "one ability per benchmark, loadings fixed at 1; every dimension has mean 0 "
                         "over the fitted population; variances and correlations are estimated",
    "exploratory": "population mean 0 and covariance I; loadings varimax-rotated, each dimension's "
                   "sign such that its loadings sum to a positive number, dimensions ordered by "
                   "their sum of squared loadings",
    # with the loading-norm prior the residual covariance is held at I (the prior is not invariant
    # to the rescaling that would make the total covariance I); the same without covariates
    "exploratory_residual": "population mean 0 and residual covariance Sigma = I (the discrimination "
                            "prior on the loading norms fixes the scale this way); loadings "
                            "varimax-rotated, each dimension's sign such that its loadings sum to a "
                            "positive number, dimensions ordered by their sum of squared loadings",
}


class MultidimResults(WaldInference):
    """Fitted Item Response Scaling Law with D-dimensional abilities.

    Attributes
    ----------
    dims : int
    ability : {"per_benchmark", "shared"}
        ``"shared"`` with ``dims > 1`` is the exploratory model (every question loads on every
        dimension).
    params : Series
        Latent regression ``B`` (``"<dim>: <covariate>"``), log SDs and Fisher-z correlations of
        the residual ability covariance ``Sigma``. Parameters the identification sets to a
        constant (:attr:`fixed_params`: means 0 and variances 1 without covariates; an
        exploratory ``Sigma = I``) are reported at that constant with standard error 0 and NaN
        ``tvalues`` / ``pvalues``; those it determines from the others (with covariates, the
        intercepts, the 2PL per-benchmark log SDs and an exploratory ``Sigma = I - cov(XB)``
        without a discrimination prior) have the standard error it implies (delta method); the
        ``conf_int`` of the log SDs and correlations among them is the image of the coefficients'
        Wald ellipsoid instead of ``params -+ q bse`` (see :meth:`WaldInference.conf_int
        <irsl_stats.results.WaldInference.conf_int>`).
    items : DataFrame, one row per question
        ``a_<dim>`` loadings, ``d``, ``phi`` and their standard errors (given the other questions),
        ``benchmark``, and ``n``: the question's responses with a positive weight (rows weighted
        0 by ``weights=`` do not enter the likelihood and are not counted; a fractional weight
        counts once).
    abilities : DataFrame, one row per model
        Posterior means ``theta_<dim>`` and SDs ``se_<dim>``, and ``n``: the model's responses
        with a positive weight (counted as in ``items``).
    nobs : int
        Number of responses with a positive weight (the rows that entered the likelihood).
    Sigma : DataFrame, (D, D)
        Residual covariance of the abilities around the latent regression.
    dims_table : DataFrame or None
        With ``dims="auto"``: one row per D tried (``1 .. min(max_dims, N - 1, M - P - 1)``, N
        questions, M models, P latent-regression coefficients)
        with ``dims, llf, n_params, aic, bic, converged``, ``n_warnings`` and ``warnings`` (the
        texts of that candidate's warnings, joined by " | "; only the chosen fit's are issued).
    warnings : list of str

    Parameters
    ----------
    est : MultiEstimates
        What :func:`irsl_stats.multidim.fit_multidim` found.
    rd : ResponseData
        The fitted responses.
    design : LatentDesign
        The latent regression's design.
    pattern : LoadingPattern
        Free loadings and dimension names.
    family, irt : str
    precision : PrecisionModel
    dims_table : DataFrame, optional
    criterion : {"bic", "aic"}, optional
        With ``dims="auto"``: the table of candidate D and the criterion that chose.
    discrimination_prior : str
        Description of the prior on the loadings for the summary ("" without one).
    reml : bool, optional
        The ``reml=`` the fit was called with (see :attr:`sigma_reml`); None when the caller
        did not record it (the summary then names both possibilities).

    Notes
    -----
    The attributes of :class:`~irsl_stats.IRSLResults` that have no D-dimensional meaning
    (``sigma``, ``df_resid``) or are implemented for one ability only (``forecast_pass_at_k``,
    ``compare_lr_test``, ``plot_scaling``) raise :class:`OneAbilityOnlyError`, an
    ``AttributeError`` whose message names what to use instead (``res.Sigma``;
    ``res.forecast(target, ks=...)``; ``res.wald_test``; ``res.predict``). Tests and intervals
    use normal theory (z, chi-square) whatever ``use_t``.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=10, seed=0)
    >>> res = irsl.fit("ability ~ 1", data=sim.responses, benchmark="benchmark",
    ...                ability="per_benchmark")                      # doctest: +SKIP
    >>> res.ability_correlation()                                    # doctest: +SKIP
    """

    def __init__(self, est: MultiEstimates, *, rd, design, pattern, family: str, irt: str,
                 precision, dims_table: Optional[pd.DataFrame] = None, criterion: Optional[str] = None,
                 discrimination_prior: str = "", reml: Optional[bool] = None):
        self._est = est
        self.discrimination_prior = discrimination_prior
        self._reml_requested = None if reml is None else bool(reml)
        self._rd = rd
        self.design = design
        self.pattern = pattern
        self.family = family
        self.irt = irt
        self.precision = precision
        self.dims = pattern.dims
        self.ability = "per_benchmark" if pattern.kind == "per_benchmark" else "shared"
        self.dims_table = dims_table
        self.criterion = criterion
        self.llf = float(est.llf)
        self.warnings: List[str] = list(est.warnings)
        names = pattern.names
        self.dim_names = list(names)
        held = self._held_by_identification()
        value = np.asarray(est.latent_params, float).copy()
        # every constant of the identification is 0 (means 0, log SDs 0 for variances 1, Fisher-z
        # 0 for correlations 0); the estimate carries rounding (e.g. -6.6e-24), which would look
        # like an estimate: report the constant itself, with standard error 0 (as IRSLResults)
        self._constant = held & (np.abs(value) <= _CONSTANT_ATOL)
        value[self._constant] = 0.0
        self._params = pd.Series(value, index=est.latent_names, name="coef")
        cov = est.latent_cov.copy()
        cov[self._constant, :] = 0.0
        cov[:, self._constant] = 0.0
        # held but not constant (an exploratory Sigma = I - cov(XB), set by the coefficients):
        # latent_cov is mapped through the identification, so these rows carry the standard
        # error the coefficients' uncertainty implies (for D = 1 the one-dimensional fit's SE of
        # log sigma); the summary names them
        self._cov = pd.DataFrame(cov, index=est.latent_names, columns=est.latent_names)
        self.Sigma = pd.DataFrame(est.Sigma, index=names, columns=names)
        self.items = self._item_table()
        ab = {f"theta_{nm}": est.theta[:, k] for k, nm in enumerate(names)}
        ab.update({f"se_{nm}": np.sqrt(np.maximum(est.theta_cov[:, k, k], 0)) for k, nm in enumerate(names)})
        self.abilities = pd.DataFrame(ab, index=rd.model_labels)
        self.abilities["n"] = np.bincount(rd.model[rd.carries_weight], minlength=rd.n_models).astype(np.int64)
        negative = np.zeros(len(est.A), dtype=bool)
        if pattern.kind == "per_benchmark" and irt == "2pl":
            # as the one-dimensional fit: only loadings more than two standard errors below 0 (or,
            # where the SE is undefined, beyond 1e-8): a loading that does not discriminate is
            # scattered around 0 and says nothing about the answer key
            A = est.A
            se = np.sqrt(np.maximum(np.einsum("nkk->nk", est.item_cov)[:, : self.dims], 0.0))
            below = np.where(np.isfinite(se), A + 2.0 * se < 0, A < -1e-8)
            negative = (below & pattern.free).any(axis=1)
        if negative.any():
            # name them, as the one-dimensional fit does: the count alone left the user to search
            shown = list(rd.item_labels[negative][:5])
            self.warnings.append(
                f"{int(negative.sum())} question(s) have a negative loading more than two standard errors "
                f"below 0 on their benchmark's ability (e.g. {shown}): a higher ability on that benchmark "
                "predicts a lower score on them — check their answer keys (for aggregate scores: the "
                "benchmark may be near chance or measure something else)")
        for msg in self.warnings:
            warnings.warn(msg, IRSLWarning, stacklevel=3)

    # ------------------------------------------------------------------ tables
    def _held_by_identification(self) -> np.ndarray:
        """Latent parameters the identification holds (boolean, length K).

        Its constants (see :meth:`_fixed_by_identification`) and, for an exploratory fit with
        covariates and no discrimination prior, ``Sigma = I - cov(XB)``, set by the coefficients.
        """
        names = self._est.latent_names
        p, dims = self.design.matrix.shape[1], self.dims
        fixed = np.zeros(len(names), dtype=bool)
        if self.pattern.kind == "exploratory":
            if p == 1:
                fixed[:] = True  # B = 0 and Sigma = I
            else:
                # Sigma determined by B through cov(XB) + Sigma = I, or fixed at I (norm prior)
                fixed[p * dims:] = True
        elif self.irt == "2pl" and p == 1:
            fixed[: p * dims + dims] = True  # means 0, variances 1
        elif self.irt == "2pl":
            # with covariates the residual SDs are determined by the slopes (var(x'b) + sd^2 = 1),
            # as the intercepts are (mean x'b = 0): both keep the SE the identification implies
            # (the latent covariance is mapped through it), as in the one-dimensional fit
            pass
        elif p == 1:
            fixed[:dims] = True
        return fixed

    def _fixed_by_identification(self) -> np.ndarray:
        """Latent parameters the identification fixes at a constant (boolean, length K).

        Means 0 without covariates, variances 1 (2PL per-benchmark without covariates) and an
        exploratory ``Sigma = I`` (without covariates, or held at ``I`` by the discrimination
        prior). They are reported at their value exactly, with standard error 0 and no z or
        p-value, as :meth:`IRSLResults.fixed_params <irsl_stats.results.IRSLResults.fixed_params>`.
        """
        return self._constant.copy()

    @property
    def fixed_params(self) -> List[str]:
        """Names of the parameters the identification fixes (reported without z or p-value)."""
        return [n for n, f in zip(self._params.index, self._constant) if f]

    def _determined_params(self) -> List[str]:
        """Names of the held parameters that are not constants (an exploratory ``Sigma = I - cov(XB)``)."""
        held = self._held_by_identification()
        return [n for n, h, c in zip(self._params.index, held, self._constant) if h and not c]

    def _slope_derived(self) -> dict:
        """Parameters the identification sets from the slopes, with the dimensions they depend on.

        With covariates, the per-benchmark 2PL residual SDs (each dimension has ``var(x' B_k) +
        Sigma_kk = 1``) and an exploratory ``Sigma = I - cov(XB)`` (:meth:`_determined_params`):
        ``log sd(k)`` depends on ``B_k``, ``atanh corr(k, l)`` on ``B_k`` and ``B_l``. The
        identity is checked on the estimates (to 1e-6), so a parameter not of this form is left out.

        Returns
        -------
        dict of str to tuple of int
            Parameter name -> the indices of the dimensions whose coefficients determine it.
        """
        x = np.asarray(self.design.matrix, float)
        if x.shape[1] < 2 or x.shape[0] < 2 or np.all(np.ptp(x, axis=0) == 0):
            return {}
        B, S = _latent_from_vector(self._params.to_numpy(dtype=float), x.shape[1], self.dims)
        implied = np.eye(self.dims) - np.atleast_2d(np.cov(x @ B, rowvar=False, bias=True))
        out = {}
        if self.pattern.kind == "per_benchmark" and self.irt == "2pl":
            for k, nm in enumerate(self.dim_names):
                if abs(S[k, k] - implied[k, k]) < 1e-6:
                    out[f"log sd({nm})"] = (k,)
        elif self.pattern.kind == "exploratory":
            determined = set(self._determined_params())
            for k, nm in enumerate(self.dim_names):
                name = f"log sd({nm})"
                if name in determined and abs(S[k, k] - implied[k, k]) < 1e-6:
                    out[name] = (k,)
            for k, l in zip(*np.triu_indices(self.dims, 1)):
                name = f"atanh corr({self.dim_names[k]}, {self.dim_names[l]})"
                if name in determined and abs(S[k, l] - implied[k, l]) < 1e-6:
                    out[name] = (int(k), int(l))
        return out

    def _derived_intervals(self, q: float) -> dict:
        """Intervals of the parameters set from the slopes: the image of their Wald ellipsoid.

        ``log sd(k) = 0.5 log(1 - B_k' S B_k)`` (``S`` the population covariance of the design
        columns over the fitted models) is a function of one quadratic form, whose range over
        the ellipsoid of ``B_k`` (covariance block of :meth:`cov_params`) is found exactly
        (:func:`irsl_stats.derived_interval.residual_variance_range`); the lower bound is ``-inf``
        when the ellipsoid reaches ``B_k' S B_k >= 1``. An exploratory ``atanh corr(k, l)`` is
        optimised numerically over the joint ellipsoid of ``B_k`` and ``B_l``
        (:func:`irsl_stats.derived_interval.image_range`), the correlation clipped to [-1, 1].

        Parameters
        ----------
        q : float
            Radius of the ellipsoid in standard errors (the ``1 - alpha/2`` normal quantile:
            multidimensional fits use normal theory).

        Returns
        -------
        dict of str to (float, float)
            Lower and upper bound by parameter name.
        """
        derived = self._slope_derived()
        if not derived:
            return {}
        from .derived_interval import image_range, residual_variance_range

        x = np.asarray(self.design.matrix, float)
        p = x.shape[1]
        s = np.atleast_2d(np.cov(x, rowvar=False, bias=True))
        value = self._params.to_numpy(dtype=float)
        cov = self._cov.to_numpy(dtype=float)
        out = {}
        for name, dims in derived.items():
            idx = np.concatenate([np.arange(k * p, (k + 1) * p) for k in dims])
            b_hat, c = value[idx], cov[np.ix_(idx, idx)]
            if len(dims) == 1:
                v_lo, v_hi = residual_variance_range(b_hat, c, x, q)
                with np.errstate(divide="ignore"):  # a variance reaching 0: log sd -inf
                    out[name] = (float(0.5 * np.log(v_lo)), float(0.5 * np.log(v_hi)))
            else:
                def corr(b):
                    bk, bl = b[:p], b[p:]
                    skk, sll = 1.0 - bk @ s @ bk, 1.0 - bl @ s @ bl
                    if skk <= 0 or sll <= 0:
                        return np.nan  # outside the parameter space (a variance <= 0)
                    return float(np.clip(-(bk @ s @ bl) / np.sqrt(skk * sll), -1.0, 1.0))

                r_min, r_max = image_range(corr, b_hat, c, q)
                with np.errstate(divide="ignore"):
                    out[name] = (float(np.arctanh(r_min)), float(np.arctanh(r_max)))
        return out

    def _item_table(self) -> pd.DataFrame:
        est, rd = self._est, self._rd
        names = self.pattern.names
        out = {}
        for k, nm in enumerate(names):
            out[f"a_{nm}"] = est.A[:, k]
        out["d"] = est.d
        has_phi = self.precision.kind != "none"
        if has_phi:
            out["phi"] = np.exp(est.log_phi)
        var = np.einsum("nkk->nk", est.item_cov)
        for k, nm in enumerate(names):
            out[f"a_{nm}_se"] = np.sqrt(var[:, k])
        out["d_se"] = np.sqrt(var[:, self.dims])
        if has_phi:
            out["phi_se"] = np.exp(est.log_phi) * np.sqrt(var[:, self.dims + 1])
        table = pd.DataFrame(out, index=rd.item_labels)
        if rd.item_benchmark is not None:
            table["benchmark"] = rd.item_benchmark.to_numpy()
        table["n"] = np.bincount(rd.item[rd.carries_weight], minlength=rd.n_items).astype(np.int64)
        return table

    # ------------------------------------------------------------------ statsmodels surface
    @property
    def params(self) -> pd.Series:
        """Latent parameters (see the class docstring), Series of length K."""
        return self._params

    def cov_params(self) -> pd.DataFrame:
        """Covariance of :attr:`params` given the questions.

        Returns
        -------
        DataFrame, shape (K, K)
            Zero rows and columns for the parameters the identification fixes at a constant
            (:attr:`fixed_params`); parameters the identification sets from the others (e.g. an
            exploratory ``Sigma = I - cov(XB)``) have the covariance it implies (delta method);
            NaN throughout when the information is singular.
        """
        return self._cov

    @property
    def nobs(self) -> int:
        """Number of responses that entered the likelihood (rows with a positive weight)."""
        return int(self._rd.carries_weight.sum())

    @property
    def n_params(self) -> int:
        """Free parameters after the identification constraints (for AIC / BIC)."""
        return int(self._est.n_params)

    @property
    def aic(self) -> float:
        """Akaike's criterion ``-2 llf + 2 n_params``."""
        return -2 * self.llf + 2 * self.n_params

    @property
    def bic(self) -> float:
        """Schwarz's criterion ``-2 llf + log(M) n_params`` with M the number of models."""
        # the number of models is the sample size of a marginal likelihood
        return -2 * self.llf + np.log(self._rd.n_models) * self.n_params

    @property
    def converged(self) -> bool:
        """Whether EM met its convergence criterion."""
        return bool(self._est.converged)

    @property
    def n_iter(self) -> int:
        """Number of EM iterations (as :attr:`IRSLResults.n_iter <irsl_stats.IRSLResults.n_iter>`)."""
        return int(self._est.n_iter)

    @property
    def identification(self) -> str:
        """The identification of the ability scale, in words (also printed in the summary)."""
        key = "per_benchmark_1pl" if (self.pattern.kind == "per_benchmark" and self.irt == "1pl") else self.pattern.kind
        if key == "exploratory" and self.discrimination_prior and self.design.matrix.shape[1] > 1:
            key = "exploratory_residual"
        return IDENTIFICATION[key]

    @property
    def sigma_reml(self) -> Optional[bool]:
        """Whether EM estimated ``Sigma`` by REML (else maximum likelihood, or held at ``I``).

        REML whenever ``reml=True`` (the default) and the divisor matters: 1PL, or any
        covariates (:func:`irsl_stats.mml.sigma_divisor`); a 2PL without covariates has its scale
        set by the identification, and an exploratory ``Sigma`` held at ``I`` by the discrimination
        prior is not estimated. None when it would be REML under ``reml=True`` but the ``reml=``
        of the fit was not recorded (results built without the ``reml`` argument).
        """
        if self.pattern.kind == "exploratory" and bool(self.discrimination_prior):
            return False
        x = np.asarray(self.design.matrix)
        if not sigma_divisor(self.irt, x, True)[0]:
            return False  # maximum likelihood whatever reml= asked for
        return None if self._reml_requested is None else self._reml_requested

    @property
    def latent_regression(self) -> dict:
        """The fitted scaling law of the D abilities on the reported scale.

        The D-dimensional counterpart of :attr:`IRSLResults.latent_regression
        <irsl_stats.IRSLResults.latent_regression>`: ``B`` and ``Sigma`` instead of ``beta`` and
        ``sigma``. Includes the coefficients the identification fixes.

        Returns
        -------
        dict
            ``formula`` (str), ``column_names`` (list, length P), ``dim_names`` (list, length D),
            ``B`` (DataFrame (P, D): column *k* the law of dimension *k*), ``Sigma`` (DataFrame
            (D, D), residual covariance), ``cov`` (DataFrame (K, K), :meth:`cov_params` of
            :attr:`params`), ``covariates`` (DataFrame of the calibration models' covariates),
            ``design`` (the :class:`~irsl_stats.formula.LatentDesign`, whose ``transform``
            evaluates the formula on new models).
        """
        cols = list(self.design.column_names)
        p = len(cols)
        # from params (vec B, dimension by dimension), so that the constants of the identification
        # are the exact 0 that params reports, not the estimate's rounding
        b = self._params.to_numpy(dtype=float)[: p * self.dims].reshape(self.dims, p).T.copy()
        return {
            "formula": self.design.formula,
            "column_names": cols,
            "dim_names": list(self.dim_names),
            "B": pd.DataFrame(b, index=cols, columns=list(self.dim_names)),
            "Sigma": self.Sigma.copy(),
            "cov": self._cov.copy(),
            "covariates": self.design.covariates.copy(),
            "design": self.design,
        }

    def expected_score(self, theta, benchmark=None) -> np.ndarray:
        """Expected score on the calibrated questions (of ``benchmark``) at abilities ``theta``.

        The mean over the questions of the expected response ``logistic(a_j' theta + d_j)``, as
        :meth:`MultidimBank.expected_score <irsl_stats.MultidimBank.expected_score>` of
        :meth:`item_bank` computes it.

        Parameters
        ----------
        theta : array_like, shape (K, D)
            Abilities on the fit's identified scale, one column per dimension (``dim_names``).
        benchmark : label or list of labels, optional
            Average over these benchmarks' questions only (default: all questions).

        Returns
        -------
        ndarray, shape (K,)

        Raises
        ------
        ValueError
            If ``theta`` does not have D columns or ``benchmark`` is unknown.
        """
        return self.item_bank().expected_score(theta, benchmark)

    def _determined_text(self) -> str:
        """Which parameters the identification sets from the slopes, in words (for :meth:`wald_test`)."""
        if self.design.matrix.shape[1] < 2:
            return ""
        if self.pattern.kind == "per_benchmark" and self.irt == "2pl":
            return ("with covariates every dimension has mean 0 and variance 1 over the fitted population, "
                    "so its intercept and log sd are functions of its slopes")
        if self._determined_params():
            return ("with covariates the population has mean 0 and covariance I, so the intercepts and "
                    "Sigma = I - cov(XB) are functions of the slopes")
        return ("with covariates every dimension has mean 0 over the fitted population, so its intercept "
                "is a function of its slopes")

    def wald_test(self, constraints, use_f: Optional[bool] = None):
        """Wald test of linear constraints on ``params`` (chi-square: normal theory).

        The same test as :meth:`IRSLResults.wald_test <irsl_stats.IRSLResults.wald_test>`
        (:func:`irsl_stats.inference.wald_test`): the statistic ``(R p - q)' (R V R')^+ (R p - q)``
        with the pseudo-inverse of the constraints' covariance ``R V R'`` (:meth:`cov_params`)
        and its numerical rank as the degrees of freedom, referred to chi-square, since
        multidimensional fits use normal theory whatever ``use_t``. The natural question here:
        is the law the same on two benchmarks, e.g. ``"b0: x = b1: x"`` (equal slopes; on the
        identified scale, where every dimension has variance 1 over the fitted population for a
        2PL, that is equal slopes in standard deviations of each benchmark's ability).

        Parameters
        ----------
        constraints : str, list of str, or (R, q) tuple
            e.g. ``"b0: x = b1: x"`` or ``["b0: x = 0", "b1: x = 0"]``, parsed by patsy against
            the names of :attr:`params` (``"<dimension>: <column>"``, ``"log sd(<dimension>)"``,
            ``"atanh corr(<dimension>, <dimension>)"``). A tuple gives the matrix ``R`` (J, K) and
            the vector ``q`` (J,) of ``R params = q``.
        use_f : bool, optional
            Only None or False (the chi-square test): there is no F reference without the t
            reference's degrees of freedom.

        Returns
        -------
        statsmodels.stats.contrast.ContrastResults
            ``statistic`` (chi-square), ``pvalue`` and ``df_denom`` (the degrees of freedom: the
            rank of ``R V R'``), as statsmodels' chi-square Wald test.

        Raises
        ------
        ValueError
            If ``use_f`` is True; if a constraint cannot be parsed or names an unknown parameter
            (the message lists the valid names); if ``R`` and ``q`` do not match the K
            parameters; if the covariance of the constrained parameters is not finite; if the
            constraints only involve parameters the identification fixes (:attr:`fixed_params`).

        Warns
        -----
        IRSLWarning
            When ``R V R'`` has rank below the number of constraints (e.g. a constraint on an
            intercept that the identification sets from the slopes, together with one on them).

        Examples
        --------
        >>> res = irsl.fit("ability ~ log(compute)", data, models=models,     # doctest: +SKIP
        ...                benchmark="benchmark", ability="per_benchmark")
        >>> res.wald_test("arc: log(compute) = gsm8k: log(compute)").pvalue  # doctest: +SKIP
        """
        if use_f is not None and not isinstance(use_f, (bool, np.bool_)):
            raise ValueError(f"use_f must be None, True or False; got {use_f!r}")
        if use_f:
            raise ValueError("multidimensional fits use normal theory (z and chi-square) whatever use_t, so "
                             "there is no F test: call wald_test without use_f (a chi-square test)")
        return _wald_test(self._params, self._cov, constraints, fixed_params=self.fixed_params,
                          determined=self._determined_text(), stacklevel=3)

    # the attributes of IRSLResults that a D-dimensional fit does not have, with what to use
    # instead: a bare AttributeError left the user to read the source
    def _one_ability_only(self, name: str, instead: str) -> OneAbilityOnlyError:
        err = OneAbilityOnlyError(
            f"{type(self).__name__} has no {name!r}: it is an attribute of one-ability fits (IRSLResults) "
            f"and this fit has {self.dims} ability dimensions; {instead}")
        err.name, err.obj = name, self  # as the interpreter's own AttributeError
        return err

    @property
    def sigma(self):
        """Not available: a D-dimensional fit has a residual covariance :attr:`Sigma`, not a ``sigma``."""
        raise self._one_ability_only(
            "sigma", "the spread of the abilities around the law is the (D, D) residual covariance "
                     "res.Sigma; its log SDs and Fisher-z correlations, with standard errors, are in "
                     "res.params ('log sd(<dimension>)')")

    @property
    def df_resid(self):
        """Not available: multidimensional fits use normal theory, with no residual degrees of freedom."""
        m, p = self._rd.n_models, self.design.matrix.shape[1]
        raise self._one_ability_only(
            "df_resid", "D-dimensional fits use normal theory (z, chi-square) whatever use_t, so there are "
                        f"no residual degrees of freedom for a t reference; the law has {p} coefficient(s) per "
                        f"dimension fitted to {m} models (res.latent_regression)")

    @property
    def forecast_pass_at_k(self):
        """Not available: use ``res.forecast(target, ks=...)`` (pass@k on a benchmark from responses)."""
        raise self._one_ability_only(
            "forecast_pass_at_k", "use res.forecast(target, ks=[...]) for the fitted models' pass@k on "
                                  "benchmark target from their responses on the others, or "
                                  "res.item_bank().forecast(target, using=<responses>, ks=[...]) for new models")

    @property
    def compare_lr_test(self):
        """Not available: use :meth:`wald_test`, or compare ``reml=False`` fits by ``llf`` / ``aic`` / ``bic``."""
        raise self._one_ability_only(
            "compare_lr_test", "test coefficients of the law with res.wald_test (e.g. "
                               "res.wald_test(['<dim>: x = 0', ...]) for a covariate on every dimension), or "
                               "fit both laws with reml=False and compare their llf, aic and bic")

    @property
    def plot_scaling(self):
        """Not available: plot :meth:`predict` (one row per model and dimension) or :attr:`abilities`."""
        raise self._one_ability_only(
            "plot_scaling", "res.predict(new_models) gives each dimension's law with its intervals and "
                            "res.abilities the fitted models' abilities (theta_<dimension>) to plot; or "
                            "res.predict(new_models, what='score', benchmark=...) on the score scale")

    def __repr__(self) -> str:
        kind = self.pattern.kind
        return (f"<MultidimResults {self.family} {self.irt.upper()} {kind} D={self.dims} MML: "
                f"{self._rd.n_models} models, {self._rd.n_items} questions, {self.nobs} responses, "
                f"llf={self.llf:.6g}" + ("" if self.converged else ", not converged") + ">")

    # ------------------------------------------------------------------ abilities across benchmarks
    def ability_correlation(self, alpha: Optional[float] = None, residual: bool = False):
        """Benchmark x benchmark correlation of abilities.

        By default the *total* correlation in the fitted population: that of the abilities
        ``theta_i ~ N(B' x_i, Sigma)`` over the fitted models, from their covariance
        ``cov(B' x_i) + Sigma`` — the answer to "how correlated are abilities on A and B" and the
        population the item bank scores new models against. With covariates in the formula it
        includes what the covariates explain (abilities that both grow with compute correlate
        through compute); ``residual=True`` gives the correlation of ``Sigma`` instead: the
        abilities' correlation among models with the same covariates. Without covariates
        (``ability ~ 1``) the two are the same.

        Parameters
        ----------
        alpha : float, optional
            With per-benchmark abilities, also return a long table of every pair with the
            standard error of the correlation and a ``1 - alpha`` interval (Fisher z, from the
            observed information of the latent regression and covariance given the questions;
            for the total correlation by the delta method through ``B`` and ``Sigma``). The table
            holds the same correlations as the matrix.
        residual : bool
            ``False`` (default): the total correlation; ``True``: the residual correlation of
            ``Sigma`` given the covariates.

        Returns
        -------
        DataFrame (B, B)
            The correlation matrix (per-benchmark: the abilities' correlations; exploratory: the
            correlations of each benchmark's mean-loading composite ``abar_b' theta``).
        (DataFrame, DataFrame)
            With ``alpha``: the matrix and the table ``benchmark_1, benchmark_2, corr, se, lower,
            upper``.
        """
        if not isinstance(residual, (bool, np.bool_)):
            raise ValueError(f"residual must be True or False; got {residual!r}")
        bank = self.item_bank()
        if residual:
            mat = _composite_correlation(bank, self._est.Sigma)
        else:
            mat = bank.ability_correlation()
        if alpha is None:
            return mat
        alpha = check_alpha(alpha)  # a string failed with a bare TypeError from '<'
        if self.pattern.kind != "per_benchmark":
            raise ValueError("intervals for the correlations are available for ability='per_benchmark'")
        z = stats.norm.ppf(1 - alpha / 2)
        names = list(mat.index)
        p0 = np.asarray(self._est.latent_params, float)
        if residual:
            # the Fisher-z correlations of Sigma are parameters: their own standard errors
            def pair_z(p):
                return _pair_atanh(bank, _sigma_of(p, self.design.matrix.shape[1], self.dims), names)
        else:
            x = self.design.matrix

            def pair_z(p):
                B, S = _latent_from_vector(p, x.shape[1], self.dims)
                fitted = x @ B
                total = np.cov(fitted, rowvar=False, bias=True).reshape(self.dims, self.dims) + S
                return _pair_atanh(bank, total, names)
        # delta method on the Fisher-z scale (central differences; for the residual correlations
        # the Jacobian is the identity on the atanh parameters). The full covariance of the
        # latent parameters given the questions is used: a variance fixed by the identification
        # moves with the loadings, which are held here, so it is not fixed given them
        cov = np.asarray(self._est.latent_cov, float)
        z0 = pair_z(p0)
        h = 1e-5 * np.maximum(1.0, np.abs(p0))
        jac = np.empty((len(z0), len(p0)))
        for k in range(len(p0)):
            e = np.zeros(len(p0))
            e[k] = h[k]
            jac[:, k] = (pair_z(p0 + e) - pair_z(p0 - e)) / (2 * h[k])
        jac[np.abs(jac) < 1e-9] = 0.0  # exact zeros keep NaN entries of unused parameters out
        used = np.any(jac != 0, axis=0)
        var_z = np.einsum("rk,kl,rl->r", jac[:, used], cov[np.ix_(used, used)], jac[:, used])
        rows = []
        iu = np.triu_indices(len(names), 1)
        for r, (i, j) in enumerate(zip(*iu)):
            se_z = float(np.sqrt(var_z[r])) if var_z[r] >= 0 else np.nan
            rho = float(mat.iloc[i, j])
            rows.append(dict(benchmark_1=names[i], benchmark_2=names[j], corr=rho, se=(1 - rho * rho) * se_z,
                             lower=float(np.tanh(z0[r] - z * se_z)), upper=float(np.tanh(z0[r] + z * se_z))))
        return mat, pd.DataFrame(rows, columns=["benchmark_1", "benchmark_2", "corr", "se", "lower", "upper"])

    def _model_col(self) -> str:
        """Name of the fit's model column (``fit(..., model=)``)."""
        return (getattr(self._rd, "columns", None) or {}).get("model") or "model"

    def forecast_cov_params(self) -> pd.DataFrame:
        """Covariance of ``vec(B)`` given the questions, used by :meth:`predict`.

        The latent-regression coefficients of every dimension with the calibrated questions held
        at their estimates (see the Notes of :meth:`predict`); it differs from the coefficient
        block of :meth:`cov_params`, which is relative to the fitted models' own population.

        Returns
        -------
        DataFrame, shape (P * D, P * D)
            Labelled like the coefficients in :attr:`params` (``vec(B)`` by dimension).
        """
        n = self.design.matrix.shape[1] * self.dims
        names = list(self._params.index[:n])
        cov = self._est.forecast_cov
        if cov is None:  # estimates from before the field existed: the population-relative block
            cov = np.nan_to_num(self._cov.to_numpy(), nan=0.0)
        return pd.DataFrame(cov[:n, :n], index=names, columns=names)

    def predict(self, new_models: Optional[Union[pd.DataFrame, pd.Series, dict]] = None, what: str = "ability",
                benchmark=None, alpha: float = 0.05) -> pd.DataFrame:
        """Forecast the D abilities, or a benchmark's score, of (new) models from the latent regression.

        A model with covariates ``x`` has ability ``theta ~ N(B' x, Sigma)``: per dimension *k*
        the mean ``x' B_k``, its standard error from the covariance of ``B`` (given the
        questions) and a prediction interval for a new model's ability that adds ``Sigma_kk``.

        Parameters
        ----------
        new_models : DataFrame, dict or Series, optional
            Covariates of the models to forecast, K rows (the fit's own models when omitted); a
            dict of columns or a Series (one model) is converted to a DataFrame, as in
            :meth:`IRSLResults.predict`. The stored formula transforms and factor levels are
            applied; an unseen level is an error.
        what : {"ability", "score"}
            ``"score"``: the expected score on ``benchmark``'s questions, as
            :meth:`IRSLResults.predict` gives it.
        benchmark : label, optional
            With ``what="score"``: the benchmark whose calibrated questions define the score.
            Its questions must all load on one dimension (so the score is a function of that
            ability): any benchmark of a ``ability="per_benchmark"`` fit, or every question
            (``benchmark=None`` allowed) of a one-dimensional fit.
        alpha : float
            Intervals are ``1 - alpha``.

        Returns
        -------
        DataFrame
            Indexed by model label (named like the fit's model column) when ``new_models`` is
            omitted; else by ``new_models``' own index, as :meth:`IRSLResults.predict`.
            ``what="ability"``: K x D rows, ``dimension``, ``mean`` (``x' B_k``), ``mean_se``,
            ``mean_ci_lower/upper`` (parameter uncertainty) and ``obs_ci_lower/upper`` (a new
            model's ability: adds ``Sigma_kk``), as :meth:`IRSLResults.predict` with
            ``what="ability"``.
            ``what="score"``: K rows, ``score`` (expected score at ability ``x' B_k``),
            ``ci_lower/upper`` (from the ability's confidence interval) and ``pi_lower/upper``
            (from its prediction interval), as :meth:`IRSLResults.predict` with ``what="score"``.

        Raises
        ------
        TypeError
            If ``new_models`` is not a DataFrame, dict or Series.
        ValueError
            If ``what`` or ``alpha`` is invalid; with ``what="score"``, if ``benchmark`` is
            unknown or its questions load on more than one dimension (an exploratory fit with
            ``dims > 1``: use :meth:`item_bank` and
            :meth:`~irsl_stats.crossbench.MultidimBank.expected_score`).

        Notes
        -----
        The abilities are on the fit's identified scale (see :attr:`identification`).
        Coefficients the identification fixes (e.g. the means 0 of ``ability ~ 1``) have no
        uncertainty; the question parameters' uncertainty is not included. The score interval
        maps the ability interval through the score, which is increasing in the ability when
        the benchmark's loadings are positive (a warning says when some are not).

        ``mean_se`` is ``sqrt(x' C_k x)`` with ``C_k`` dimension *k*'s block of
        :meth:`forecast_cov_params`: the covariance of ``B`` with the calibrated questions held
        at their estimates, as :meth:`IRSLResults.predict` computes it, not the coefficient block
        of :meth:`cov_params`, which is relative to the identified population (whose mean the
        identification pins) and would leave out where that population sits against the
        questions (``mean_se`` 0.035 instead of 0.125 for a model 1.4 SD below the mean of a
        simulated 40-model fit; the one-dimensional fit of either benchmark gives 0.126).

        Examples
        --------
        >>> res = irsl.fit("ability ~ log(compute)", data, models=models,        # doctest: +SKIP
        ...                benchmark="benchmark", ability="per_benchmark")
        >>> res.predict(pd.DataFrame({"compute": [1e24]}), alpha=0.1)          # doctest: +SKIP
        >>> res.predict(models.tail(3), what="score", benchmark="bench0")      # doctest: +SKIP
        """
        alpha = check_alpha(alpha)
        if what not in ("ability", "score"):
            raise ValueError(f"what must be 'ability' or 'score'; got {what!r}")
        model_col = self._model_col()
        if new_models is None:
            x = self.design.matrix
            index = pd.Index(self._rd.model_labels, name=model_col)
        else:
            new_models = new_models_frame(new_models)
            x = self.design.transform(new_models)
            index = new_models.index  # as statsmodels: forecasts align with the rows passed in
        dim = None
        if what == "score":
            dim = self._score_dimension(benchmark)  # checked before any computation
        est = self._est
        p = x.shape[1]
        mean = x @ est.B  # (K, D)
        cov_b = self.forecast_cov_params().to_numpy()
        var = np.column_stack([np.einsum("ij,jk,ik->i", x, cov_b[k * p:(k + 1) * p, k * p:(k + 1) * p], x)
                               for k in range(self.dims)])
        out = ability_forecast_frame(mean.ravel(), var.ravel(), np.tile(np.diag(est.Sigma), len(mean)), alpha,
                                     index.repeat(self.dims))
        out.insert(0, "dimension", np.tile(np.asarray(self.dim_names, dtype=object), len(mean)))
        if what == "ability":
            return out
        bank = self.item_bank()
        loadings = bank.A[bank._mask(benchmark), dim]
        if np.any(loadings < 0) and np.any(loadings > 0):
            warnings.warn(
                "the benchmark's questions have loadings of both signs: the score is not monotone "
                "in ability, and its intervals are the score's range over the ability intervals",
                IRSLWarning,
                stacklevel=2,
            )
        rows = out.iloc[dim::self.dims]  # the benchmark's dimension, one row per model

        def f(values: np.ndarray) -> np.ndarray:
            # the other dimensions' abilities do not enter: the questions' loadings on them are 0
            theta = np.zeros((len(values), self.dims))
            theta[:, dim] = values
            return bank.expected_score(theta, benchmark)

        ci = score_interval(f, rows["mean_ci_lower"].to_numpy(), rows["mean_ci_upper"].to_numpy(), loadings)
        pi = score_interval(f, rows["obs_ci_lower"].to_numpy(), rows["obs_ci_upper"].to_numpy(), loadings)
        return pd.DataFrame(
            {"score": f(rows["mean"].to_numpy()), "ci_lower": ci[0], "ci_upper": ci[1],
             "pi_lower": pi[0], "pi_upper": pi[1]},
            index=index,
        )

    def _score_dimension(self, benchmark) -> int:
        """The one dimension every question of ``benchmark`` loads on, or a ValueError."""
        mask = self.item_bank()._mask(benchmark)  # raises for an unknown benchmark
        loads = np.flatnonzero(self.pattern.free[mask].any(axis=0))
        if len(loads) != 1:
            which = "the questions of every benchmark" if benchmark is None else f"benchmark {benchmark!r}'s questions"
            hint = ("pass benchmark=<one of " + str(self.item_bank().benchmarks) + ">"
                    if self.pattern.kind == "per_benchmark" else
                    "the score is then not a function of one ability, so no interval maps to it; use "
                    "res.item_bank().expected_score(theta, benchmark) for abilities theta (K, D)")
            raise ValueError(f"what='score': {which} load on {len(loads)} dimensions "
                             f"({[self.dim_names[k] for k in loads]}); {hint}")
        return int(loads[0])

    def item_bank(self) -> MultidimBank:
        """The calibrated questions as a :class:`~irsl_stats.crossbench.MultidimBank`.

        Returns
        -------
        MultidimBank
            Loadings, intercepts and precisions of every question, with the fitted population's
            ability distribution as the prior for new models, the ``n`` of the fit's squeeze
            (:attr:`~irsl_stats.crossbench.MultidimBank.squeeze_n`), and whether the fit
            converged with its warnings (:attr:`~irsl_stats.crossbench.MultidimBank.converged`,
            :attr:`~irsl_stats.crossbench.MultidimBank.calibration_warnings`).
        """
        est = self._est
        fitted = self.design.matrix @ est.B
        mean = fitted.mean(axis=0)
        cov = np.cov(fitted, rowvar=False, bias=True).reshape(self.dims, self.dims) + est.Sigma
        bench = self._rd.item_benchmark
        trials = self._rd.median_trials() if get_family(self.family).uses_counts else None
        return MultidimBank(
            A=est.A.copy(), d=est.d.copy(), log_phi=est.log_phi.copy(), family=self.family,
            questions=self._rd.item_labels, item_benchmark=bench, dim_names=list(self.dim_names),
            population_mean=mean, population_cov=cov, identification=self.identification,
            # the n of the fit's squeeze: scoring must squeeze new responses the same way
            squeeze_n=getattr(self._rd, "squeeze_n", None),
            # count families: the trials of an observed pass rate (prediction intervals)
            trials=None if trials is None else trials.to_numpy(),
            # as ItemBank.from_results: a bank of a fit that did not converge must keep saying so
            converged=self.converged, calibration_warnings=list(self.warnings),
        )

    def forecast(self, target, using: Optional[pd.DataFrame] = None, **kwargs) -> pd.DataFrame:
        """Forecast the score on benchmark ``target`` from responses on other benchmarks.

        Parameters
        ----------
        target : label or list of labels
        using : DataFrame, optional
            Long responses of the models to forecast (column names as in the fit unless given in
            ``kwargs``). Default: the fitted models' own responses on every other benchmark, as
            the fit modelled them (beta responses after its boundary policy, so ``boundary=``
            does not apply; rows of weight 0 left out).
        **kwargs
            Passed to :meth:`MultidimBank.forecast` (``ks=``, ``alpha=``, column names, ...).

        Returns
        -------
        DataFrame
            One row per model: ``score, se, median, lower, upper, n_using`` (or tidy pass@k with
            ``ks``; see :meth:`MultidimBank.forecast <irsl_stats.MultidimBank.forecast>`).

        Examples
        --------
        >>> res = irsl.fit("ability ~ 1", data, benchmark="benchmark",      # doctest: +SKIP
        ...                ability="per_benchmark")
        >>> res.forecast("arc_challenge", using=new_arc_easy_responses)   # doctest: +SKIP
        """
        return forecast_for_fit(self.item_bank(), self._rd, target, using, kwargs)

    # ------------------------------------------------------------------ summary
    def _sigma_estimator_note(self) -> str:
        """The summary's note on how ``Sigma`` was estimated ("" when the identification holds it at I)."""
        if self.pattern.kind == "exploratory" and self.discrimination_prior:
            return ""  # held at I: the identification note says so
        reml = self.sigma_reml
        ml = "maximum likelihood (Sigma divided by M)"
        if reml is False:
            return f"Sigma estimator: {ml}."
        m, p = self._rd.n_models, self.design.matrix.shape[1]
        how = (f"REML (P = {p} coefficient(s) per dimension; Sigma divided by M - P = {m - p} when the "
               "abilities are measured precisely)")
        if reml is None:  # the fit's reml= was not recorded: say what each choice gives
            how += f" with reml=True, the default; {ml} with reml=False"
        # as the one-dimensional summary: the llf is the marginal likelihood at the REML estimates,
        # which fall short of its maximum by an amount that depends on the design, so llf, AIC and
        # BIC of laws with different covariates do not compare (reml=False: the marginal ML)
        return (f"Sigma estimator: {how}; log-likelihoods of scaling laws with different covariates are "
                "not comparable under REML: refit with reml=False, or test the law's coefficients with "
                "wald_test.")

    def summary(self, alpha: float = 0.05):
        """The fit as a statsmodels :class:`~statsmodels.iolib.summary.Summary`.

        Parameters
        ----------
        alpha : float
            Level of the parameter intervals.

        Returns
        -------
        statsmodels.iolib.summary.Summary
            Fit information, latent parameters with standard errors, the ability correlations,
            the choice of D (``dims="auto"``) and the identification.
        """
        from statsmodels.iolib.summary import Summary
        from statsmodels.iolib.table import SimpleTable

        from .summary import _params_table, add_notes, weights_note

        smry = Summary()
        left = [("Family:", [self.family]), ("IRT model:", [self.irt.upper()]),
                ("Abilities:", [self.ability]), ("Dimensions:", [str(self.dims)]),
                ("Method:", [f"MML (n_quad={self._est.n_quad}^{self.dims})"]),
                ("Converged:", [str(self.converged)]), ("Iterations:", [str(self.n_iter)])]
        right = [("No. models:", [f"{self._rd.n_models:,}"]), ("No. questions:", [f"{self._rd.n_items:,}"]),
                 ("No. responses:", [f"{self.nobs:,}"]), ("Log-Likelihood:", [f"{self.llf:#.8g}"]),
                 ("AIC:", [f"{self.aic:#.8g}"]), ("BIC:", [f"{self.bic:#.8g}"]),
                 ("Parameters:", [str(self.n_params)])]
        smry.add_table_2cols(self, gleft=left, gright=right, yname="ability", xname=list(self.params.index),
                             title=f"Multidimensional Item Response Scaling Law: {self.design.formula}")
        # statsmodels' table with the constants of the identification marked "(fixed)"
        smry.tables.append(_params_table(self, check_alpha(alpha)))
        has_covariates = self.design.matrix.shape[1] > 1
        if self._rd.item_benchmark is not None and len(self.item_bank().benchmarks) > 1:
            # with covariates the total and the residual correlation differ: show both, labelled
            kinds = [(False, "Ability correlation between benchmarks"
                      + (" (total, in the fitted population)" if has_covariates else ""))]
            if has_covariates:
                kinds.append((True, "Residual ability correlation between benchmarks (given the covariates)"))
            for residual, title in kinds:
                corr = self.ability_correlation(residual=residual)
                smry.tables.append(SimpleTable(
                    [[f"{v:.3f}" for v in row] for row in corr.to_numpy()],
                    headers=[str(c) for c in corr.columns], stubs=[str(i) for i in corr.index],
                    title=title))
        if self.dims_table is not None:
            t = self.dims_table
            smry.tables.append(SimpleTable(
                [[str(int(r.dims)), f"{r.llf:.2f}", str(int(r.n_params)), f"{r.aic:.2f}", f"{r.bic:.2f}"]
                 for r in t.itertuples()],
                headers=["D", "loglik", "params", "AIC", "BIC"],
                title=f"Choice of the dimension (by {self.criterion.upper()})"))
        notes = [f"Identification: {self.identification}.",
                 "Model: eta_ij = a_j' theta_i + d_j, mu = logistic(eta); theta_i ~ N(B' x_i, Sigma).",
                 "Standard errors: latent parameters from the observed information of the marginal "
                 "likelihood given the questions, mapped through the identification; question "
                 "parameters given the other questions (Louis' correction)" + (" and the rotation" if self.pattern.kind == "exploratory" else "") + "."]
        fixed = self.fixed_params
        if fixed:
            notes.append("Fixed by the identification (constants, not estimates; no standard error, z or "
                         f"p-value): {', '.join(fixed)}.")
        determined = self._determined_params()
        if determined:
            notes.append("Set by the identification from the coefficients (Sigma = I - cov(XB)); their "
                         f"standard errors are those of the coefficients (delta method): {', '.join(determined)}.")
        derived = list(self._slope_derived())
        if derived:
            notes.append("Intervals of the parameters the identification sets from the coefficients "
                         f"({', '.join(derived)}): their range over the coefficients' Wald confidence "
                         "ellipsoid, not coef -+ z se (the delta-method standard error vanishes with "
                         "the coefficients).")
        if self.discrimination_prior:
            notes.append(f"Discrimination prior: {self.discrimination_prior}.")
        sigma_note = self._sigma_estimator_note()
        if sigma_note:
            notes.append(sigma_note)
        weighted = weights_note(self._rd)
        if weighted:
            notes.append(weighted)
        add_notes(smry, notes, self.warnings)
        return smry


def _composite_correlation(bank: MultidimBank, cov: np.ndarray) -> pd.DataFrame:
    """Benchmark x benchmark correlation of the mean-loading composites ``abar_b' theta`` for
    abilities with covariance ``cov`` (as :meth:`MultidimBank.ability_correlation`, which uses
    the bank's population covariance)."""
    names = bank.benchmarks
    c = _composite_cov(bank, cov, names)
    sd = np.sqrt(np.diag(c))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = c / np.outer(sd, sd)
    idx = pd.Index(names, name="benchmark")
    return pd.DataFrame(corr, index=idx, columns=idx.copy())


def _composite_cov(bank: MultidimBank, cov: np.ndarray, names) -> np.ndarray:
    abar = np.vstack([bank.A[bank._mask(b)].mean(axis=0) for b in names])
    return abar @ cov @ abar.T


def _pair_atanh(bank: MultidimBank, cov: np.ndarray, names) -> np.ndarray:
    """Fisher z of every pair ``i < j`` of benchmark composites under ability covariance ``cov``."""
    c = _composite_cov(bank, cov, names)
    sd = np.sqrt(np.diag(c))
    r = (c / np.outer(sd, sd))[np.triu_indices(len(names), 1)]
    return np.arctanh(np.clip(r, -0.999999, 0.999999))


def _sigma_of(p: np.ndarray, n_cov: int, dims: int) -> np.ndarray:
    return _latent_from_vector(p, n_cov, dims)[1]
