"""Estimation drivers shared by :func:`irsl_stats.fit` and :func:`irsl_stats.calibrate`.

Each driver returns :class:`Estimates` on the estimator's internal ability scale;
:func:`assemble_results` maps them to the requested identification and builds the results object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import pandas as pd

from . import _kernel
from .design_graph import design_components, disconnected_warning
from .formula import LatentDesign
from .identification import Identification, describe as describe_identification
from .inference import DENSE_LIMIT, conditional_ses, joint_covariance
from .jml import A_BOUND, LOG_PHI_BOUNDS, THETA_BOUND, JMLOptions, fit_jml
from .latent_regression import SingularDesignError, cluster_warnings, fit_latent_regression, sandwich
from .precision import PrecisionModel
from .priors import DiscriminationPrior
from .results import FitInfo, IRSLResults
from .scoring import one_sided, response_extremes

__all__ = ["Estimates", "estimate_jml", "estimate_mml", "assemble_results"]


@dataclass
class Estimates:
    """Everything an estimator found, on its internal ability scale.

    theta (M,), theta_var (M,): ability estimates (JML) or posterior means (MML) and their
    variances; a, d, gamma, log_phi: question parameters; item_cov (N, k, k) over item_cols;
    global_cov (R, R) or None; beta (P,), sigma, reg_cov (P+1, P+1) nonrobust, reg_scores
    (M, P+1), reg_hessian (P+1, P+1); llf; n_params; sigma_reml: whether sigma is REML (with
    the abilities' measurement error) rather than ML; latent_llf: for JML, the log-likelihood of the latent
    regression of the ability estimates (the part of the fit that depends on the formula).
    """

    theta: np.ndarray
    theta_var: np.ndarray
    a: np.ndarray
    d: np.ndarray
    gamma: np.ndarray
    log_phi: np.ndarray
    item_cov: np.ndarray
    item_cols: list
    global_cov: Optional[np.ndarray]
    beta: np.ndarray
    sigma: float
    reg_cov: np.ndarray
    reg_scores: np.ndarray
    reg_hessian: np.ndarray
    llf: float
    n_params: int
    converged: bool
    n_iter: int
    n_passes: int
    seconds: float
    warnings: List[str] = field(default_factory=list)
    history: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    joint_cov: Optional[np.ndarray] = None  # (P, P): theta, item blocks (item-major), globals
    sigma_reml: bool = False
    latent_llf: Optional[float] = None
    # (nobs,) weights of the rows in the likelihood the estimator maximised, when they are not the
    # data's: JML gives weight 0 to the rows of all-extreme models (held at +-inf)
    row_weight: Optional[np.ndarray] = None
    # (M,) bool: the models in the latent regression (JML leaves out, with weight 0, those whose
    # ability has no finite, positive standard error); None: every model
    regression_models: Optional[np.ndarray] = None


def _n_item_params(irt: str, precision: PrecisionModel, n_items: int) -> int:
    per = (2 if irt == "2pl" else 1) + (1 if precision.per_item else 0)
    return per * n_items + precision.n_global


def estimate_jml(
    kd, design: LatentDesign, precision: PrecisionModel, irt: str, options: JMLOptions, full_cov="auto",
    a_prior: Optional[DiscriminationPrior] = None, reml: bool = True,
) -> Estimates:
    """Joint ML of abilities and questions, then the latent regression with measurement error
    (sigma by REML unless ``reml=False``, which fits it by ML with independent errors).

    Standard errors come from the joint information when it is small enough (``full_cov``) and
    usable; when it is singular, or its ability variances leave too few models for the latent
    regression, they are block-conditional instead (with a warning). Models whose responses are
    all extreme (off :func:`~irsl_stats.jml.scale_reference`) get an infinite ability variance
    and weight 0 in the regression.

    Raises
    ------
    ValueError
        When even the block-conditional variances leave the latent regression unfittable.
    """
    jf = fit_jml(kd, precision, irt, options=options, a_prior=a_prior)
    theta, items = jf.theta, jf.items
    # the data the fit maximised (all-extreme models' rows out: their abilities are +-inf)
    kd = jf.kernel_data
    acc = _kernel.accumulate(
        kd, theta[:, None], items.a[:, None], items.d, jf.log_phi,
        model_blocks=True, item_blocks=True, information="observed", n_threads=options.n_threads,
    )
    theta_var, item_cov, global_cov, cols = conditional_ses(acc, irt, precision, items.gamma, a_prior, items.a)
    # models whose responses are all extreme: their ML ability is +-inf (the fit leaves it at the
    # bound, off the scale); the curvature there is no standard error of anything
    ref = jf.scale_models
    theta_var = np.where(ref, theta_var, np.inf)
    warnings_ = list(jf.warnings)
    n_free = kd.n_models + _n_item_params(irt, precision, kd.n_items)
    use_full = (full_cov is True) or (full_cov == "auto" and n_free <= DENSE_LIMIT)
    extra = {}
    if use_full:
        try:
            jc = joint_covariance(kd, theta, items.a, items.d, items.gamma, precision, irt, options.n_threads,
                                  a_prior, ref=ref)
        except np.linalg.LinAlgError:
            # e.g. questions nobody solves: their difficulty has no finite estimate and the joint
            # information is exactly singular; the block-conditional SEs mark those blocks NaN
            use_full = False
            warnings_.append(
                "the joint information of abilities and questions is singular (questions or models with "
                "only extreme responses?); standard errors are block-conditional instead"
            )
    n_coef = design.matrix.shape[1]
    if use_full:
        # a joint information that is not positive definite gives non-positive variances; the
        # models it drops can leave too few for the regression (GLS on fewer models than
        # coefficients raises), while each ability given the questions still has its own
        # variance. Asking for P + 2 (coefficients, sigma and a residual degree of freedom) only
        # when the block-conditional variances would give as many keeps tiny designs as they were
        n_usable = int(np.sum(np.isfinite(theta_var) & (theta_var > 0)))
        try:
            reg, keep = _latent_regression(design.matrix, theta, jc.theta_var, jc.full, ref, reml,
                                           min(n_coef + 2, n_usable), names=design.column_names,
                                           lowrank=jc.theta_lowrank)
        except (np.linalg.LinAlgError, _TooFewAbilities) as exc:
            use_full = False
            detail = str(exc) if isinstance(exc, _TooFewAbilities) else "its GLS system is singular"
            warnings_.append(
                f"the joint covariance of abilities and questions leaves the latent regression unfittable "
                f"({detail}); standard errors are block-conditional instead"
            )
    if use_full:
        theta_var, item_cov, global_cov = jc.theta_var, jc.item_cov, jc.global_cov
        extra["Standard errors"] = "joint observed information of abilities and questions"
    else:
        extra["Standard errors"] = (
            "question parameters given the abilities (block-conditional observed information); "
            "abilities given the questions"
        )
        try:
            reg, keep = _latent_regression(design.matrix, theta, theta_var, None, ref, reml, 1,
                                           names=design.column_names)
        except np.linalg.LinAlgError as exc:
            usable = int(np.sum(np.isfinite(theta_var) & (theta_var > 0)))
            # a SingularDesignError names the columns the kept models leave collinear
            detail = f" ({exc})" if isinstance(exc, SingularDesignError) else " (or their covariates are collinear)"
            raise ValueError(
                f"the latent regression cannot be fitted: {usable} of {kd.n_models} models have an "
                f"ability with a finite standard error, for a formula with {n_coef} coefficient(s)"
                f"{detail}; use a formula with fewer covariates, add models, or use method='mml'"
            ) from None
    bad_theta = ~(np.isfinite(theta_var) & (theta_var > 0))
    if bad_theta.any():
        warnings_.append(
            f"{bad_theta.sum()} abilit(ies) have no finite standard error (a singular information, or "
            "responses that are all extreme); they get weight 0 in the latent regression"
        )
    sigma_reml = bool(reml) and int(keep.sum()) > design.matrix.shape[1]
    extra["Sigma estimator"] = sigma_text(sigma_reml, "jml")
    if reg.sigma_at_zero:
        warnings_.append(sigma_at_zero_text(
            "the estimated abilities vary around the law no more than their measurement error "
            "explains, so intervals that add the spread around the law add none; more models (or "
            "fewer covariates) are needed to estimate it -- or, when every ability comes out the "
            "same, questions whose huge precision fits identical responses exactly pin the models "
            "to one ability (family='beta' on pass rates squeezed off many 0s and 1s: fit the "
            "counts with family='beta_binomial'; see the other warnings)"
        ))
    scores = np.zeros((kd.n_models, reg.scores.shape[1]))
    scores[keep] = reg.scores
    n_constraints = 2 if irt == "2pl" else 1
    return Estimates(
        theta=theta, theta_var=theta_var, a=items.a, d=items.d, gamma=items.gamma, log_phi=jf.log_phi,
        item_cov=item_cov, item_cols=cols, global_cov=global_cov, beta=reg.beta, sigma=reg.sigma,
        reg_cov=reg.cov, reg_scores=scores, reg_hessian=reg.hessian, llf=jf.loglik,
        n_params=n_free - n_constraints, converged=jf.converged, n_iter=jf.n_iter,
        n_passes=jf.n_passes + 1 + int(use_full), seconds=jf.seconds, warnings=warnings_,
        history=jf.history, extra=extra, joint_cov=jc.full if use_full else None,
        sigma_reml=sigma_reml, latent_llf=reg.loglik,
        row_weight=None if kd.weight is None else np.asarray(kd.weight, float),
        regression_models=np.asarray(keep, bool),
    )


class _TooFewAbilities(ValueError):
    """Fewer models with a usable ability variance than the latent regression needs."""


def _latent_regression(x, theta, theta_var, full, ref, reml, min_models, names=None, lowrank=None):
    """The latent regression of the abilities with a finite, positive sampling variance.

    Parameters
    ----------
    x : ndarray, shape (M, P)
    theta, theta_var : ndarray, shape (M,)
    full : ndarray, shape (>= M, >= M), or None
        Joint covariance whose leading (M, M) block is the abilities' sampling covariance.
    ref : ndarray of bool, shape (M,)
        Models with a finite ML ability (:func:`irsl_stats.jml.scale_reference`).
    reml : bool
    min_models : int
        Fewest models to fit on; fewer raises :class:`_TooFewAbilities`.
    names : sequence of str, optional
        Design column names, for the error when the models kept leave the design collinear.
    lowrank : ThetaLowRank, optional
        The leading block of ``full`` as diagonal plus low rank
        (:attr:`~irsl_stats.inference.JointCovariance.theta_lowrank`): used instead of the dense
        block when it covers exactly the models kept, so that the regression needs no (M, M)
        factorisation.

    Returns
    -------
    (RegressionFit, ndarray of bool)
        The fit and the models it used.
    """
    keep = np.isfinite(theta_var) & (theta_var > 0)
    if keep.sum() < min_models:
        raise _TooFewAbilities(
            f"only {int(keep.sum())} of {len(keep)} abilities have a positive variance, for "
            f"{x.shape[1]} coefficient(s) and sigma"
        )
    if full is not None and reml and not (~keep & ref).any():
        # the abilities' full sampling covariance: errors shared through the estimated questions
        # (over the models with a finite ability: an all-extreme model has none to share).
        # Not for maximum likelihood: the covariance is singular along the combinations the
        # identification fixes (the abilities' sum; for 2PL their spread), and a zero-variance
        # row the coefficients can fit exactly makes the likelihood unbounded as sigma -> 0
        # (REML's determinant term removes that; ML then uses the abilities' own variances)
        if lowrank is not None and np.array_equal(lowrank.models, np.flatnonzero(keep)):
            v = lowrank
        else:
            v = full[np.ix_(keep, keep)]
        return fit_latent_regression(x[keep], theta[keep], v, reml, names=names), keep
    return fit_latent_regression(x[keep], theta[keep], theta_var[keep], reml, names=names), keep


def sigma_text(reml: bool, method: str = "mml") -> str:
    """How sigma was estimated, for the summary's notes.

    Under JML the printed llf, AIC and BIC are the joint likelihood of abilities and questions,
    which does not involve the formula (the latent regression is fitted to the estimated
    abilities afterwards): they are the same for every scaling law, with REML or ML alike, so
    the note points to the tests that do compare scaling laws instead of to ``reml=False``.
    """
    how = ("REML (with the abilities' measurement error; sigma^2 divided by M - P when they are "
           "measured precisely)" if reml else "maximum likelihood (sigma^2 divided by M)")
    if method == "jml":
        return (f"{how}; the llf, AIC and BIC are those of the joint likelihood of abilities and "
                "questions, which does not depend on the formula: they cannot compare scaling laws "
                "(reml=False does not change that) -- use irsl.anova or compare_lr_test")
    if reml:
        return (f"{how}; log-likelihoods of scaling laws with different covariates are not "
                "comparable: refit with reml=False, or use compare_lr_test")
    return how


def estimate_mml(kd, design, precision, irt, **kwargs) -> Estimates:
    """Marginal ML by adaptive Gauss–Hermite quadrature (see :mod:`irsl_stats.mml`).

    Then the check that sigma is not on its boundary 0 (:func:`_mml_sigma_at_zero`): when it
    is, a warning says so and sigma's variance is NaN, as the JML path reports it.
    """
    from .mml import fit_mml

    est = fit_mml(kd, design, precision, irt, **kwargs)
    # a 2PL without covariates has sigma = 1 by its renormalisation: nothing to check
    if irt == "1pl" or design.matrix.shape[1] > 1:
        text = _mml_sigma_at_zero(kd, design.matrix, est, kwargs.get("n_threads"))
        est.n_passes += 1
        if text:
            est.warnings.append(text)
            est.reg_cov = est.reg_cov.copy()
            est.reg_cov[-1, :] = np.nan
            est.reg_cov[:, -1] = np.nan
    return est


# lower-tail probability of Cochran's Q below which the abilities sit on the law "too closely"
_PINNED_P = 1e-6


def sigma_at_zero_text(detail: str) -> str:
    """The warning that sigma is estimated at its boundary 0, with what it means (``detail``)."""
    return ("the residual standard deviation of ability around the scaling law is estimated at 0 "
            f"(boundary); its standard error is undefined: {detail}")


def _mml_sigma_at_zero(kd, x: np.ndarray, est: Estimates, n_threads: Optional[int] = None) -> Optional[str]:
    """The warning text when an MML fit's sigma is on its boundary 0, else None.

    One pass over the data at every model's ability on the law, ``theta_i = x_i' beta``, with
    the fitted questions: per model the score ``g_i`` and information ``I_i = -h_i`` of its
    responses. Two things follow.

    * Cochran's ``Q = sum_i g_i^2 / I_i`` (the per-model score statistics of ``theta_i = x_i'
      beta``) is about chi-squared on ``M - P`` degrees of freedom when the abilities sit on the
      law up to their measurement error. Far below (lower tail under ``_PINNED_P``) the responses
      agree with the law better than their own noise allows: questions whose huge precision fits
      identical responses exactly pin every model to one ability. A REML objective (about
      ``P log sigma`` for ``sigma^2`` well above the ``v_i``) then has its optimum at a tiny positive sigma of
      about ``1 / sqrt(sum_i I_i)`` -- 7e-4 with every ability at 1e-6 (beta on squeezed pass
      rates with questions nobody solved), where the abilities' own measurement SD was 2e-3 --
      so no rule on the size of sigma alone finds it. An ordinary fit with sigma = 0 has ``Q``
      near ``M - P``, far from that tail.
    * ``S = sum_i (g_i^2 + h_i) / 2`` is the derivative of the marginal log-likelihood in
      ``sigma^2`` at 0 (the Taylor expansion of ``E log f(y_i | x_i' beta + sigma u)``). The
      estimator's objective is that likelihood (``reml=False``), or it plus the REML penalty of
      the latent regression with the abilities' measurement variances ``v_i = 1 / I_i``
      (:func:`irsl_stats.mml._reml_penalty`, whose derivative at 0 is ``d1``). When its
      derivative at 0, ``S + d1``, is not positive and its value at 0 is not below the one at the
      estimate, sigma is on its boundary (lme4's "singular" fit): EM only creeps toward 0 and
      stops at some small sigma. (The former REML objective, ``P log sigma``, was ``-inf`` at 0
      and never had its optimum there: then only ``Q`` could find a boundary fit.)
    """
    from scipy.stats import chi2

    fit = x @ est.beta
    acc = _kernel.accumulate(kd, fit[:, None], est.a[:, None], est.d, est.log_phi,
                             model_blocks=True, item_blocks=False, n_threads=n_threads)
    g, h = acc.grad_theta[:, 0], acc.hess_theta[:, 0, 0]
    score_s2 = 0.5 * float(np.sum(g**2 + h))
    if not np.isfinite(score_s2):
        return None
    # models with a usable information (the observed beta information can be <= 0 far off)
    use = np.isfinite(g) & np.isfinite(h) & (h < 0)
    dof = int(use.sum()) - x.shape[1]
    q = float(np.sum(g[use] ** 2 / -h[use]))
    if score_s2 <= 0 and dof >= 1 and chi2.cdf(q, dof) < _PINNED_P:
        return sigma_at_zero_text(
            f"the models' abilities sit on the law far closer than the noise of their responses "
            f"allows (Cochran's Q = {q:.2g} on {dof} degrees of freedom, expected about {dof}), so the "
            f"reported sigma = {est.sigma:.2g} and the abilities' small standard errors come from "
            "questions that pin every model to one ability, not from the data: typically questions "
            "with the same response from every model, or family='beta' on pass rates squeezed off "
            "many 0s and 1s, which a huge precision fits exactly -- drop such questions (see the "
            "other warnings), or fit the counts with family='beta_binomial'"
        )
    d1 = gain = 0.0
    if est.sigma_reml:
        from .mml import _reml_penalty as penalty

        if not use.any():
            return None  # no model measured: the penalty is not defined
        # measurement variances at the law; a model its responses do not measure gets a weight
        # 1e-6 of the best measured one's rather than 0 (which could empty a factor level)
        v = np.where(use, 1.0 / np.where(use, -h, 1.0), 1e6 / np.max(-h[use]))
        pen0, d1, _ = penalty(x, 0.0, v)
        gain = penalty(x, est.sigma**2, v)[0] - pen0
    objective_0, objective_hat = acc.loglik, est.llf + gain
    if score_s2 + d1 <= 0 and objective_0 >= objective_hat - 1e-8 * max(1.0, abs(est.llf)):
        what = "restricted (REML) likelihood" if est.sigma_reml else "marginal likelihood"
        return sigma_at_zero_text(
            f"the {what} falls as the abilities spread around the law (sigma = {est.sigma:.2g} "
            "is where the iterations stopped on their way to 0): the models vary around the law no "
            "more than their measurement error explains, and intervals that add the spread around "
            "the law add none; more models (or fewer covariates) are needed to estimate it"
        )
    return None


def _loc_scale_cov(ident: Identification, beta: np.ndarray, sigma: float,
                   reg_cov: np.ndarray) -> np.ndarray:
    """Covariance of the identification's ``(loc, scale)`` from that of ``(beta, sigma)``, (2, 2).

    ``loc`` and ``scale`` (:meth:`Identification.loc_scale`) are functions of the estimated latent
    regression, so they are as uncertain as it is (delta method with
    :meth:`Identification.loc_scale_gradient <irsl_stats.identification.Identification.loc_scale_gradient>`). ``reg_cov`` (P+1, P+1) is the covariance of ``(beta, sigma)`` on
    the estimator's scale (nonrobust, robust or cluster, as the coefficients').

    Where an entry the gradient needs is undefined (``sigma`` on its boundary 0, a singular
    latent regression: the fit warns about both), that entry contributes nothing: the question
    parameters then hold that part of the scale as known, as they did before, rather than every
    question's standard error turning NaN for a cause that is not the question's.
    """
    grad = ident.loc_scale_gradient(beta, sigma)
    undefined = ~np.isfinite(np.diag(reg_cov))
    clean = np.where(np.isfinite(reg_cov), reg_cov, 0.0)
    clean[undefined, :] = 0.0
    clean[:, undefined] = 0.0
    return grad @ clean @ grad.T


def _item_table(est: Estimates, loc: float, scale: float, rd, precision: PrecisionModel, irt: str,
                fitted: np.ndarray, scale_cov: Optional[np.ndarray] = None):
    """Question parameters on the identified scale with delta-method standard errors.

    ``n`` counts the question's rows ``fitted`` (bool, shape (nobs,)). ``a* = a scale`` and
    ``d* = d + a loc`` with ``(loc, scale)`` estimated from the latent regression: ``scale_cov``
    (2, 2), their covariance (:func:`_loc_scale_cov`), adds their uncertainty to the questions'
    own (``est.item_cov``, which is given the ability scale; the two are taken as independent,
    to first order): ``Var(a*) += a^2 Var(scale)``, ``Var(d*) += a^2 Var(loc)``, ``Cov(a*, d*) +=
    a^2 Cov(loc, scale)``, and ``b = -d*/a*`` by the delta method on the result. Without it the
    standard errors are given the estimated scale: 95% intervals of d and b covered the
    generating values 68-71% (beta, 100 models x 30 questions, 2PL). The added part is the same
    for every question up to ``a^2``: it is a shared error, not independent per question.
    """
    cols = est.item_cols
    cov = est.item_cov
    ia = cols.index("a") if "a" in cols else None
    idd = cols.index("d")
    var_a = cov[:, ia, ia] if ia is not None else np.zeros(len(est.a))
    var_d = cov[:, idd, idd]
    cov_ad = cov[:, ia, idd] if ia is not None else np.zeros(len(est.a))
    a_star = est.a * scale
    d_star = est.d + est.a * loc
    var_d_star = var_d + loc**2 * var_a + 2 * loc * cov_ad
    cov_ad_star = scale * (cov_ad + loc * var_a)
    var_a_star = var_a * scale**2
    if scale_cov is not None:
        # d a*/d scale = a and d d*/d loc = a (a the internal discrimination; 1 under 1PL, whose
        # scale row of scale_cov is 0)
        a2 = est.a**2
        var_a_star = var_a_star + a2 * scale_cov[1, 1]
        var_d_star = var_d_star + a2 * scale_cov[0, 0]
        cov_ad_star = cov_ad_star + a2 * scale_cov[0, 1]
    b = -d_star / a_star
    # b = -d/a: gradient (d/a^2, -1/a) in (a, d)
    gb_a, gb_d = d_star / a_star**2, -1.0 / a_star
    var_b = gb_a**2 * var_a_star + gb_d**2 * var_d_star + 2 * gb_a * gb_d * cov_ad_star
    table = pd.DataFrame(index=rd.item_labels)
    table.index.name = rd.columns.get("question") or "question"
    if rd.item_benchmark is not None:
        table["benchmark"] = rd.item_benchmark.reindex(rd.item_labels).to_numpy()
    if irt == "2pl":
        table["a"] = a_star
        table["a_se"] = _safe_sqrt(var_a_star)
        table["a_d_cov"] = cov_ad_star
    table["d"] = d_star
    table["d_se"] = _safe_sqrt(var_d_star)
    table["b"] = b
    table["b_se"] = _safe_sqrt(var_b)
    if precision.kind != "none":
        phi = np.exp(est.log_phi)
        table["phi"] = phi
        if precision.per_item:
            il = cols.index("log_phi")
            table["phi_se"] = phi * _safe_sqrt(cov[:, il, il])
        elif precision.kind == "linear" and est.global_cov is not None:
            z = precision.z
            var_lp = np.einsum("ij,jk,ik->i", z, est.global_cov, z)
            table["phi_se"] = phi * _safe_sqrt(var_lp)
    table["n"] = np.bincount(rd.item[fitted], minlength=rd.n_items)
    return table


def _negative_variances_to_nan(cov: np.ndarray, values: np.ndarray, names: List[str]):
    """Set the rows and columns of negative variances to NaN, with a warning text.

    A negative variance (an information matrix that is not positive definite at the estimate)
    is as unusable as an infinite one: NaN and a warning, not a silent sqrt of a negative number.
    Zero variances (parameters fixed by the identification) are kept.

    Returns
    -------
    (ndarray, list of str)
    """
    negative = np.diag(cov) < -1e-12 * np.maximum(np.abs(values), 1.0) ** 2
    if not negative.any():
        return cov, []
    cov = cov.copy()
    cov[negative, :] = np.nan
    cov[:, negative] = np.nan
    return cov, [
        f"the information matrix is not positive definite for {[n for n, b in zip(names, negative) if b]}: "
        "their standard errors are NaN; the scaling law has too few models (or too little variation "
        "in its covariates) for these parameters"
    ]


def _one_sided_questions(rd, fitted: Optional[np.ndarray] = None) -> List[str]:
    """Warning for questions every model fails (or passes): their difficulty is not identified.

    The likelihood of such a question increases without bound as its intercept runs to
    ``-inf`` (``+inf``); the fit stops at a bound with a huge standard error, which is no
    estimate of anything. ``fitted`` (bool, shape (nobs,)) are the rows the estimator fitted
    (default: the rows with a positive weight); under JML they leave out the all-extreme models,
    which can make a question one-sided that is not one-sided in the data.
    """
    side = _one_sided(rd, fitted)
    hidden = fitted is not None and bool((rd.carries_weight & ~fitted).any())
    out = []
    for value, what in ((-1, "no model ever answers correctly"), (1, "every model always answers correctly")):
        hit = rd.item_labels[side == value]
        if len(hit):
            where = (" among the models the fit uses (the rows of models whose responses are all extreme "
                     "are left out of the likelihood)") if hidden else ""
            out.append(
                f"{len(hit)} question(s) where {what}{where} (e.g. {list(hit[:5])}): their difficulty is not "
                "identified (the estimate stops at a bound with a huge standard error); drop them "
                "before fitting -- they carry no information about the models"
            )
    return out


def _one_sided(rd, fitted: Optional[np.ndarray] = None) -> np.ndarray:
    """Per question: +1 when every model always answers it correctly, -1 when none ever does, else 0.

    Over the rows ``fitted`` (bool, shape (nobs,); default: the weighted rows); shape (N,), int.
    """
    rows = rd.carries_weight if fitted is None else np.asarray(fitted, bool)
    return one_sided(rd.item, response_extremes(rd.family.name, rd.y, rd.trials), rows, rd.n_items)


def _observed_rates(rd, rows: np.ndarray) -> np.ndarray:
    """The observed rate (0..1) of the rows ``rows`` (bool, shape (nobs,)), as the data gave it.

    Count families: ``k / n``. ``family="beta"`` built from counts: the raw ``k / n`` before the
    boundary policy, whose squeeze ``(y (n - 1) + 0.5) / n`` maps the same rate to different
    values when the trials differ (a question nobody solves has rate 0 on every row). Otherwise
    the response itself.
    """
    if rd.family.uses_counts:
        return rd.y[rows] / rd.trials[rows]
    if rd.successes is not None and rd.trials is not None:
        return rd.successes[rows] / rd.trials[rows]
    return rd.y[rows]


def _flat_questions(rd, fitted: np.ndarray, candidates: Optional[np.ndarray] = None) -> np.ndarray:
    """Which questions have the same observed rate on all their fitted rows (bool, shape (N,)).

    Only questions answered by at least two models count. ``fitted`` (bool, shape (nobs,)) are
    the rows that carry weight in the fit; ``candidates`` (bool, shape (N,); default: every
    question) restricts the check. Every question is checked
    from its responses, whatever the fitted parameters: under 1PL a flat question's precision is
    held below its bound by the shrinkage prior (phi = 6e7 with every ability pulled to one value
    on squeezed pass rates), so no parameter shows it. One pass with a gather, a comparison and a
    bincount (0.5 s on 20M rows) instead of a two-pass variance: a question is flat when no row
    differs from a reference row of the same question by more than 1e-10 on the rate scale
    (0..1; smaller differences are rounding, not a response).
    """
    rows = fitted if candidates is None else fitted & candidates[rd.item]
    if not rows.any():
        return np.zeros(rd.n_items, bool)
    item = rd.item[rows]
    rate = _observed_rates(rd, rows)
    ref = np.zeros(rd.n_items)
    ref[item] = rate  # any one of the question's rates (the last assigned)
    n = np.bincount(item, minlength=rd.n_items)
    off = np.bincount(item, weights=np.abs(rate - ref[item]) > 1e-10, minlength=rd.n_items)
    return (n >= 2) & (off == 0)


# how far a beta precision may exceed the trials behind its rates before it is flagged
_PHI_PER_TRIAL = 100.0


def _overprecise_rate_questions(rd, fitted: np.ndarray, log_phi: np.ndarray, warned: np.ndarray,
                                labels: pd.Index) -> List[str]:
    """Warning for ``family="beta"`` questions on pass rates whose precision no rate can have.

    A rate ``k / n`` of ``n`` trials varies at least as much as binomial sampling, variance
    ``mu (1 - mu) / n``, which is a beta precision of about ``n - 1``. A precision more than
    ``_PHI_PER_TRIAL`` times the question's mean trials is then no property of the question: it
    fits identical responses -- typically 0s or 1s squeezed to one value -- exactly, and pins the
    models that share them to one ability (on 8 models, three such questions with phi ~ 1e6 on 200
    trials put 7 of them at the same 2PL ability, 1e-4 apart with standard errors of 8e-3). Only
    when the trials are known (beta built from counts); ``warned`` (bool, shape (N,)) are the
    questions already warned about (flat, or at the precision's bound).
    """
    if rd.family.name != "beta" or rd.trials is None or not fitted.any():
        return []
    item = rd.item[fitted]
    n = np.bincount(item, minlength=rd.n_items)
    mean_trials = np.bincount(item, weights=rd.trials[fitted], minlength=rd.n_items) / np.maximum(n, 1)
    over = (n > 0) & (log_phi > np.log(_PHI_PER_TRIAL * np.maximum(mean_trials, 1.0))) & ~warned
    if not over.any():
        return []
    shown = {lab: float(f"{np.exp(v):.2g}") for lab, v in zip(labels[over][:5], log_phi[over][:5])}
    return [
        f"{int(over.sum())} question(s) have a beta precision more than {_PHI_PER_TRIAL:g} times the "
        f"trials behind their pass rates (phi: {shown}), which no rate of that many trials can "
        "have (binomial sampling alone gives phi about n): the precision fits identical responses "
        "-- typically 0s or 1s squeezed to one value -- exactly and pins the models that share them "
        "to one ability, so their abilities and standard errors are not to be trusted; fit the "
        "counts with family='beta_binomial', or drop these questions"
    ]


def _decreasing_questions(rd, fitted: np.ndarray, theta: np.ndarray, candidates: np.ndarray,
                          alpha: float = 0.05):
    """Questions whose responses fall significantly as ability rises.

    Pearson correlation of each question's observed rate with its models' abilities over the
    ``fitted`` rows (bool, shape (nobs,)); significant by Fisher's z, ``atanh(r) sqrt(n - 3)``,
    beyond the one-sided Bonferroni level ``alpha / N`` over the N questions, so that clean data
    with weakly discriminating questions raises no warning. Only ``candidates`` (bool, shape (N,))
    are flagged.

    Returns
    -------
    (ndarray of bool, ndarray of float), shape (N,) each
        The flagged questions and every question's correlation (NaN where undefined: fewer than
        four models, or responses or abilities without spread).
    """
    from scipy.stats import norm

    n_items = rd.n_items
    item = rd.item[fitted]
    rate = rd.y[fitted] / rd.trials[fitted] if rd.family.uses_counts else rd.y[fitted]
    th = np.asarray(theta, float)[rd.model[fitted]]
    ok = np.isfinite(th) & np.isfinite(rate)
    item, rate, th = item[ok], rate[ok], th[ok]
    n = np.bincount(item, minlength=n_items).astype(float)
    safe = np.maximum(n, 1.0)
    # centred sums (two passes: no cancellation of large means)
    dr = rate - (np.bincount(item, weights=rate, minlength=n_items) / safe)[item]
    dt = th - (np.bincount(item, weights=th, minlength=n_items) / safe)[item]
    srt = np.bincount(item, weights=dr * dt, minlength=n_items)
    srr = np.bincount(item, weights=dr * dr, minlength=n_items)
    stt = np.bincount(item, weights=dt * dt, minlength=n_items)
    defined = (n >= 4) & (srr > 0) & (stt > 0)
    r = np.full(n_items, np.nan)
    r[defined] = np.clip(srt[defined] / np.sqrt(srr[defined] * stt[defined]), -1.0, 1.0)
    z = np.full(n_items, np.nan)
    z[defined] = np.arctanh(np.clip(r[defined], -1 + 1e-15, 1 - 1e-15)) * np.sqrt(n[defined] - 3)
    crit = norm.isf(alpha / max(n_items, 1))
    flagged = defined & candidates & (np.where(defined, z, 0.0) < -crit)
    return flagged, r


def _fitted_rows(est: Estimates, rd) -> np.ndarray:
    """The rows that entered the likelihood: a positive weight, in the data and in the estimator.

    Rows weighted 0 by ``weights=`` and, under JML, the rows of all-extreme models (held at
    ``+-inf``, where their responses have probability 1) add nothing to the likelihood; ``n`` and
    ``nobs`` leave them out, as R's ``nobs()`` of a weighted ``glm``. A fractional weight counts as
    one row.

    Returns
    -------
    ndarray of bool, shape (rd.nobs,)
    """
    fitted = rd.carries_weight
    if est.row_weight is not None:
        fitted &= est.row_weight > 0
    return fitted


def assemble_results(
    est: Estimates, *, rd, design: LatentDesign, ident: Identification, precision: PrecisionModel,
    irt: str, method: str, cov_type: str, group_labels=None, n_quad=None,
    a_prior: Optional[DiscriminationPrior] = None, use_t: bool = True,
) -> IRSLResults:
    """Map estimates to the identification, compute covariances and build the results."""
    warnings_ = list(est.warnings)
    fitted = _fitted_rows(est, rd)
    converged = est.converged
    # blocks of models and questions that no response links (the graph of the rows the estimator
    # fitted: under JML without the all-extreme models): the root cause of the singular
    # informations and arbitrary estimates that follow, so its warning comes first
    comp = design_components(rd.model, rd.item, rd.n_models, rd.n_items, fitted, rd.model_ptr)
    disconnected = disconnected_warning(comp, rd.model_labels, rd.item_labels, method, irt)
    if disconnected:
        warnings_.insert(0, disconnected)
        est.extra["Design"] = (f"{comp.n_components} blocks of models and questions that no response links "
                               "(see the warnings)")
        # the iterations stopped, but at one point of a continuum of maxima (any relative location
        # of the blocks fits equally well): not a converged estimate of anything
        converged = converged and method != "jml"
    a_prior = a_prior or DiscriminationPrior()
    if a_prior.active:
        est.extra["Discrimination prior"] = a_prior.describe()
    beta_star, sigma_star, loc, scale = ident.transform(est.beta, est.sigma)
    jac = ident.jacobian(est.beta, est.sigma)
    if cov_type == "nonrobust":
        base_cov = est.reg_cov
    elif cov_type == "robust":
        base_cov = sandwich(est.reg_hessian, est.reg_scores)
    else:
        base_cov = sandwich(est.reg_hessian, est.reg_scores, group_labels)
        warnings_ += cluster_warnings(design.matrix, group_labels, list(design.column_names) + ["sigma"])
    cov_star = _map_covariance(jac, base_cov, ~np.isfinite(np.diag(est.reg_cov)))
    # forecasts are made on the population scale with the question parameters held at their
    # estimates, so the covariance of the coefficients that goes with them is the one given the
    # questions, mapped by the *fixed* affine map beta_pop = (beta - loc c) / scale. The
    # convention's own Jacobian (loc and scale as functions of beta) is right for reporting the
    # standardised coefficients but not here: it pins the forecast at the calibration mean to
    # 0 +- 0 relative to questions that are held fixed, dropping the uncertainty of where the
    # population sits against the questions (95% intervals of 2PL score forecasts covered 75-87%)
    ident_pop = dataclasses.replace(ident, convention="population")
    beta_pop, sigma_pop, loc_pop, scale_pop = ident_pop.transform(est.beta, est.sigma)
    cov_pop = base_cov[: len(beta_pop), : len(beta_pop)] / scale_pop**2
    to_reported = (scale_pop / scale, (loc_pop - loc) / scale)
    # the parameters the convention fixes (regression: the intercept at 0 and, for 2PL, sigma at 1)
    # are reported at their constant values with zero variance and covariance, as "population"
    # reports the ones it pins: params and cov_params list every coefficient of the formula, and
    # IRSLResults.fixed_params / the summary mark them "(fixed)" from their zero variance. They
    # are no free parameters: est.n_params (AIC, BIC, LR degrees of freedom) does not count them
    fixed = ~ident.free_mask(len(est.beta))
    names = list(design.column_names) + ["sigma"]
    values = np.r_[beta_star, sigma_star]
    values[fixed] = ident.fixed_values(len(est.beta))[fixed]  # not 1e-15 off by rounding
    beta_star, sigma_star = values[:-1].copy(), float(values[-1])
    cov_star = cov_star.copy()
    cov_star[fixed, :] = 0.0
    cov_star[:, fixed] = 0.0
    p_names = list(names)
    p_values = values
    p_cov = cov_star
    if precision.kind == "linear":
        p_names += precision.names
        gc = est.global_cov if est.global_cov is not None else np.full((precision.n_global,) * 2, np.nan)
        gamma, gc = precision.reported(est.gamma, gc)
        p_values = np.r_[p_values, gamma]
        p_cov = _block_diag(p_cov, gc)
    p_cov, negative_warning = _negative_variances_to_nan(p_cov, p_values, p_names)
    warnings_ += negative_warning
    params = pd.Series(p_values, index=p_names)
    cov = pd.DataFrame(p_cov, index=p_names, columns=p_names)
    if not np.all(np.isfinite(np.diag(p_cov))):
        if not any("standard error" in w for w in warnings_):
            warnings_.append(
                "the information matrix is singular for some parameters: their standard errors are NaN"
            )
    if np.all(np.isfinite(np.diag(p_cov))) and not any("cluster-robust" in w for w in warnings_):
        warnings_ += _covariance_warnings(p_cov, _determined_directions(ident, values, len(p_names)), p_names)
    # the question parameters on the identified scale carry the uncertainty of that scale (its
    # location and spread are estimated): without it, 95% intervals of d covered 0.69 of the
    # generating values (beta, 100 models). Abilities scored on the fit's own bank share its
    # scale, so the bank keeps the standard errors given the scale (``conditional``)
    conditional = _item_table(est, loc, scale, rd, precision, irt, fitted)
    items = _item_table(est, loc, scale, rd, precision, irt, fitted,
                        scale_cov=_loc_scale_cov(ident, est.beta, est.sigma, base_cov))
    # models answering each question in the likelihood: (model, question) pairs are unique
    answered = items["n"].to_numpy()
    bad_items = [c for c in ("a_se", "d_se", "phi_se") if c in items and items[c].isna().any()]
    if bad_items:
        bad = items[bad_items].isna().any(axis=1).to_numpy()
        n_bad = int(bad.sum())
        text = (f"{n_bad} question(s) have a singular information block: their standard errors "
                f"({', '.join(bad_items)}) are NaN (e.g. {list(items.index[bad][:5])})")
        # the usual cause: fewer models answer the question than it has free parameters (a 2PL
        # question answered by one model determines only a theta + d)
        n_par = len(est.item_cols)
        few = bad & (answered < n_par)
        if few.any():
            remedies = ["drop them"] + (["use irt='1pl'"] if "a" in est.item_cols else []) + (
                ["precision='common'"] if "log_phi" in est.item_cols else [])
            text += (f"; {int(few.sum())} of them are answered by fewer models than their {n_par} "
                     f"parameters ({', '.join(est.item_cols)}) and are not identified: "
                     f"{list(items.index[few][:10])}; {', or '.join(remedies)}")
        warnings_.append(text)
    else:
        bad = np.zeros(rd.n_items, bool)
    if irt == "2pl":
        # a 2PL question answered by one model determines only its a theta + d; under MML its
        # information is not singular (the ability is integrated over), so the block check above
        # does not see it, and a and d come out wherever the prior and the start leave them
        lone = (answered < 2) & ~bad
        if lone.any():
            warnings_.append(
                f"{int(lone.sum())} question(s) are answered by a single model, which determines only "
                f"a theta + d, not a and d apart: {list(items.index[lone][:10])}; their a, d and b are "
                "not identified by the data (set by the start and the discrimination prior) -- drop "
                "them or use irt='1pl'"
            )
    warnings_ += _one_sided_questions(rd, fitted)
    joint = None if est.joint_cov is None else _joint_on_scale(est, loc, scale, rd, precision)
    # questions whose responses are the same for every model (not at an extreme: those are the
    # one-sided questions above) say nothing about ability: a = 0 up to rounding, phi unbounded.
    # Checked on every question, from the responses: under 1PL nothing in the parameters shows
    # them (the discrimination is fixed, and the shrinkage prior holds the precision below its
    # bound: phi = 6e7 on squeezed pass rates nobody ever solved)
    flat = _flat_questions(rd, fitted)
    if flat.any():
        flat &= _one_sided(rd, fitted) == 0
    if flat.any():
        consequences = (["their discrimination is 0"] if irt == "2pl" else []) + (
            ["their precision has no finite estimate"] if precision.per_item else [])
        if irt == "1pl" and precision.per_item:
            # with a = 1 the only exact fit of equal responses is equal abilities: the precision
            # grows by pulling every model to one ability (the collapse the sigma check reports)
            consequences.append("with the discrimination fixed at 1 (irt='1pl') they pull every "
                                "model toward the same ability")
        detail = f" ({' and '.join(consequences)})" if consequences else ""
        warnings_.append(
            f"{int(flat.sum())} question(s) get the same response from every model (e.g. "
            f"{list(items.index[flat][:5])}): they carry no information about ability"
            f"{detail}; drop them before fitting"
        )
    if irt == "2pl":
        # only discriminations below 0 by more than two standard errors: a question that does
        # not discriminate has an estimate scattered around 0 (half of them negative, and a flat
        # question's a = -1e-17 is rounding), which says nothing about its answer key. Where the
        # SE is undefined, a value beyond 1e-8 in magnitude (far below any discrimination the data
        # can determine, far above rounding) stands for it
        a_val, a_se = items["a"].to_numpy(), items["a_se"].to_numpy()
        neg = np.where(np.isfinite(a_se), a_val + 2.0 * a_se < 0, a_val < -1e-8) & ~flat
        if neg.any():
            shown = list(items.index[neg][:5])
            warnings_.append(
                f"{int(neg.sum())} question(s) have a negative discrimination more than two standard "
                f"errors below 0 (e.g. {shown}): a higher ability predicts a lower score on them — "
                "check their answer keys (for aggregate scores or benchmark-level 'questions': the "
                "benchmark may be near chance or measure something else; consider leaving it out)"
            )
        if a_prior.active:
            # the log-normal prior keeps every a_j > 0, so a question whose answer key is reversed
            # comes out with a small positive a (and a low precision) and the check above never
            # fires; its responses still fall with the abilities
            reversed_, r = _decreasing_questions(rd, fitted, est.theta, ~neg & ~flat)
            if reversed_.any():
                shown = {lab: round(float(v), 2)
                         for lab, v in zip(items.index[reversed_][:5], r[reversed_][:5])}
                warnings_.append(
                    f"{int(reversed_.sum())} question(s) get lower scores from models of higher ability "
                    f"(correlation of their responses with the abilities: {shown}), significantly "
                    "below 0, while the discrimination prior keeps every discrimination positive: "
                    "check their answer keys, and fit without discrimination_prior to see the sign "
                    "of their discrimination"
                )
    if irt == "2pl" and (np.abs(est.a) >= A_BOUND * 0.999).any():
        top = items.index[np.abs(est.a) >= A_BOUND * 0.999]
        warnings_.append(
            f"{len(top)} question(s) have a discrimination at the bound |a| = {A_BOUND:g} (e.g. "
            f"{list(top[:5])}): their responses separate the models almost perfectly and the "
            f"likelihood has no finite maximum for them; {a_prior.bound_advice()}"
        )
    if precision.per_item:
        # within a factor e of the bound: the likelihood is that flat in log phi out there (an
        # MML fit started at the bound stopped at phi = 7.6e8, SE 4.3e8, on one such question)
        at_bound = est.gamma >= LOG_PHI_BOUNDS[1] - 1.0
        # the flat questions are warned about above, with their cause
        at_bound &= ~flat
        if at_bound.any():
            if method == "jml":
                cause = ("(the joint likelihood is unbounded: the abilities as free parameters can fit "
                         "a question's responses almost exactly); use method='mml' or precision='common'")
            else:
                cause = ("(their responses vary almost not at all around the fitted means: nearly "
                         "constant responses, responses the abilities predict almost exactly, or too "
                         "few models answering them); use precision='common', a smaller "
                         "precision_prior, or more models")
            warnings_.append(
                f"{int(at_bound.sum())} question precision(s) reached the bound phi = "
                f"{np.exp(LOG_PHI_BOUNDS[1]):.0e} (or came within a factor e of it; e.g. "
                f"{list(items.index[at_bound][:5])}): the "
                f"likelihood has no finite optimum for them {cause}"
            )
        warnings_ += _overprecise_rate_questions(rd, fitted, est.log_phi, flat | at_bound, items.index)
    fitted_internal = design.matrix @ est.beta
    theta_star = (est.theta - loc) / scale
    abilities = pd.DataFrame(
        {
            "theta": theta_star,
            "se": _safe_sqrt(est.theta_var) / scale,
            "fitted": (fitted_internal - loc) / scale,
        },
        index=rd.model_labels,
    )
    abilities.index.name = rd.columns.get("model") or "model"
    abilities["resid"] = abilities["theta"] - abilities["fitted"]
    abilities["n"] = np.bincount(rd.model[fitted], minlength=rd.n_models)
    if method == "jml":
        # the spread over the models with a finite ability (the scale the fit set): with an
        # all-extreme model's runaway ability in it, a 1PL threshold fell to ~3 and flagged
        # ordinary models as at the bound
        finite = np.isfinite(est.theta_var)
        spread = np.std(est.theta[finite]) if finite.sum() >= 2 else np.std(est.theta)
        at_bound = np.abs(est.theta) >= THETA_BOUND * 0.999 / max(spread, 1e-12)
        at_bound |= ~finite
        if at_bound.any():
            warnings_.append(
                f"{at_bound.sum()} model(s) have abilities at the boundary or without a finite "
                f"standard error (e.g. {list(rd.model_labels[at_bound][:5])}): all their responses "
                "are extreme; consider method='mml'"
            )
    in_regression = (np.ones(rd.n_models, bool) if est.regression_models is None
                     else np.asarray(est.regression_models, bool))
    info = FitInfo(
        family=rd.family.name,
        irt=irt,
        method=method,
        precision=precision.describe() if len(precision.describe()) < 30 else precision.kind,
        identification=ident.convention,
        identification_text=describe_identification(ident.convention, irt),
        cov_type=cov_type,
        use_t=use_t,
        # clusters and models of the latent regression: models it gives weight 0 add no scores
        n_clusters=None if group_labels is None else int(pd.unique(np.asarray(group_labels)[in_regression]).size),
        n_models=rd.n_models,
        n_regression=int(in_regression.sum()),
        n_items=rd.n_items,
        nobs=int(fitted.sum()),
        n_weight_zero=int(rd.nobs - fitted.sum()),
        n_benchmarks=0 if rd.benchmarks is None else len(rd.benchmarks),
        converged=converged,
        n_iter=est.n_iter,
        n_passes=est.n_passes,
        seconds=est.seconds,
        n_quad=n_quad,
        n_boundary_adjusted=rd.n_boundary_adjusted,
        boundary=rd.boundary,
        extra=dict(est.extra),
        sigma_reml=est.sigma_reml,
        latent_llf=est.latent_llf,
    )
    res = IRSLResults(
        params=params,
        cov=cov,
        llf=est.llf,
        n_params=est.n_params,
        design=design,
        beta=beta_pop,
        sigma=sigma_pop,
        cov_beta=cov_pop,
        to_reported=to_reported,
        sigma_reported=sigma_star,
        beta_reported=beta_star,
        cov_reported=cov_star,
        items=items,
        abilities=abilities,
        info=info,
        warnings_list=warnings_,
        item_arrays={"a": items["a"].to_numpy() if irt == "2pl" else np.ones(rd.n_items),
                     "d": items["d"].to_numpy(), "log_phi": est.log_phi},
        item_benchmark=None if rd.item_benchmark is None else rd.item_benchmark.reindex(rd.item_labels),
        precision_desc=precision.describe(),
        history=est.history,
        joint_cov=joint,
    )
    res._response_data = rd  # the fit's own responses: default of forecast(using=None)
    # standard errors given the ability scale: those of the fit's item bank (see above)
    res._items_given_scale = conditional[[c for c in ("a_se", "a_d_cov", "d_se", "b_se") if c in conditional]]
    # the questions' common scale, estimated from the models: predict's score intervals add it
    res._population_scale_rel_var = (
        float(_loc_scale_cov(ident_pop, est.beta, est.sigma, base_cov)[1, 1]) / scale_pop**2 if irt == "2pl" else 0.0)
    return res


def _joint_on_scale(est: Estimates, loc: float, scale: float, rd, precision: PrecisionModel) -> pd.DataFrame:
    """The joint covariance of abilities and question parameters, mapped to the identified scale
    (``theta* = (theta - loc)/scale``, ``a* = a scale``, ``d* = d + a loc``), labelled."""
    m, n = rd.n_models, rd.n_items
    cols = est.item_cols
    k = len(cols)
    p = est.joint_cov.shape[0]
    # the Jacobian is diagonal but for one entry per question (d* = d + a loc): kept as the
    # diagonal and that entry, and applied by scalings (O(P^2), not two dense (P, P) products)
    diag = np.ones(p)
    diag[:m] = 1.0 / scale
    base = m + np.arange(n) * k
    d_rows = a_cols = np.zeros(0, int)
    for c, name in enumerate(cols):
        if name == "a":
            diag[base + c] = scale
        elif name == "d" and "a" in cols:
            d_rows, a_cols = base + c, base + cols.index("a")
    g0 = m + n * k
    # the global precision parameters in the covariates' units (see PrecisionModel.reported)
    if precision.z_scale is not None:
        diag[g0:] = 1.0 / precision.z_scale[: p - g0]
    labels = [f"theta[{lab}]" for lab in rd.model_labels]
    labels += [f"{name}[{lab}]" for lab in rd.item_labels for name in cols]
    labels += list(precision.names)[: p - g0]
    # NaN rows (all-extreme models, unidentified questions) stay with the parameters that need them
    cov = _map_covariance_sparse(diag, d_rows, a_cols, loc, est.joint_cov,
                                 ~np.isfinite(np.diag(est.joint_cov)))
    return pd.DataFrame(cov, index=labels, columns=labels, copy=False)


def _map_covariance_sparse(diag: np.ndarray, rows: np.ndarray, cols: np.ndarray, value: float,
                           base_cov: np.ndarray, undefined: np.ndarray) -> np.ndarray:
    """:func:`_map_covariance` for the Jacobian ``diag(diag)`` plus ``value`` at ``(rows, cols)``.

    Parameters
    ----------
    diag : ndarray, shape (K,)
        Diagonal of the Jacobian (no zeros).
    rows, cols : ndarray of int, shape (L,)
        Off-diagonal entries ``J[rows[l], cols[l]] = value``; the ``rows`` are distinct and no
        ``cols`` entry is among them (each mapped parameter adds one untouched parameter).
    value : float
    base_cov : ndarray, shape (K, K)
    undefined : ndarray of bool, shape (K,)

    Returns
    -------
    ndarray, shape (K, K)
        ``J base_cov J'`` (same entries as the dense product up to rounding, in O(K^2)), NaN in
        the rows and columns of the mapped parameters that involve an undefined one.
    """
    undefined = np.asarray(undefined, bool) | ~np.isfinite(np.diag(base_cov))
    out = np.where(np.isfinite(base_cov), base_cov, 0.0) if undefined.any() else base_cov.copy()
    out[undefined, :] = 0.0
    out[:, undefined] = 0.0
    # J C J' with J = diag(s) + V in two passes: the rows (J C: row r of V C is value * C[col]),
    # then the columns ((J C) J': column r of X V' is value * X[:, col]). Each pass reads the
    # cols' entries before scaling, and they are never among the rows, so in place is exact
    shift = value != 0.0 and len(rows) > 0
    if shift:
        moved = value * out[cols, :]
    out *= diag[:, None]
    if shift:
        out[rows, :] += moved
        moved = value * out[:, cols]
    out *= diag[None, :]
    if shift:
        out[:, rows] += moved
    if undefined.any():
        # a mapped parameter is undefined when it involves an undefined one (as _map_covariance)
        affected = undefined.copy()
        if shift:
            affected[rows[undefined[cols]]] = True
        out[affected, :] = np.nan
        out[:, affected] = np.nan
    return out


def _map_covariance(jac: np.ndarray, base_cov: np.ndarray, undefined: np.ndarray) -> np.ndarray:
    """``jac @ base_cov @ jac.T`` with undefined variances kept to the parameters that need them.

    Parameters
    ----------
    jac : ndarray, shape (K, K)
        Jacobian of the identification's map of (beta, sigma).
    base_cov : ndarray, shape (K, K)
        Covariance of (beta, sigma) on the estimator's scale (nonrobust, robust or cluster).
    undefined : ndarray of bool, shape (K,)
        Parameters whose variance is not defined (NaN in the model-based covariance), e.g.
        ``sigma`` estimated on its boundary 0.

    Returns
    -------
    ndarray, shape (K, K)
        NaN in the rows and columns of the mapped parameters that depend on an undefined one.

    Notes
    -----
    A plain product spreads a NaN to every entry (``NaN * 0`` is NaN), so a ``sigma`` at 0 wiped
    out the standard errors of the coefficients, which under 1PL do not involve ``sigma`` at all.
    A sandwich of such a fit is no better defined: the score of ``sigma`` vanishes at 0, and
    its "robust" standard error came out at ~5e-6, a spuriously precise zero.
    """
    undefined = np.asarray(undefined, bool) | ~np.isfinite(np.diag(base_cov))
    if not undefined.any():
        return jac @ base_cov @ jac.T
    clean = np.where(np.isfinite(base_cov), base_cov, 0.0)
    clean[undefined, :] = 0.0
    clean[:, undefined] = 0.0
    out = jac @ clean @ jac.T
    # exact zeros: the central-difference Jacobian is exactly 0 where a mapped parameter does
    # not involve the undefined one (1PL coefficients and sigma); any other entry propagates it
    affected = np.any(jac[:, undefined] != 0, axis=1)
    out[affected, :] = np.nan
    out[:, affected] = np.nan
    return out


def _safe_sqrt(v) -> np.ndarray:
    """Square root of variances; NaN (without a numpy warning) where a variance is negative or
    NaN — a singular information, which assemble_results reports as a warning."""
    v = np.asarray(v, float)
    out = np.full(v.shape, np.nan)
    ok = np.isfinite(v) & (v >= 0)
    out[ok] = np.sqrt(v[ok])
    return out


def _determined_directions(ident: Identification, values: np.ndarray, n_params: int) -> np.ndarray:
    """Gradients of the constraints the identification imposes on the reported parameters.

    Parameters
    ----------
    ident : Identification
    values : ndarray, shape (P+1,)
        Reported ``(beta*, sigma*)``.
    n_params : int
        Length of the reported parameter vector (``P + 1`` plus any precision globals, which no
        constraint involves).

    Returns
    -------
    ndarray, shape (n_determined, n_params)
        Rows ``g`` with ``g' cov g = 0`` for every covariance the identification's map produces:
        population, the gradients of ``mean_i(x_i' beta*) = 0`` and (2PL)
        ``var_i(x_i' beta*) + sigma*^2 = 1``; regression, the fixed intercept and (2PL) sigma.
    """
    p = len(values) - 1
    rows = []
    if ident.convention == "population":
        g = np.zeros(n_params)
        g[:p] = ident.x.mean(axis=0)
        rows.append(g)
        if ident.irt == "2pl":
            fitted = ident.x @ values[:p]
            g = np.zeros(n_params)
            g[:p] = 2.0 * (fitted - fitted.mean()) @ ident.x / len(fitted)
            g[p] = 2.0 * values[p]
            rows.append(g)
    else:
        for i in np.flatnonzero(~ident.free_mask(p)):
            g = np.zeros(n_params)
            g[i] = 1.0
            rows.append(g)
    return np.array(rows).reshape(len(rows), n_params)


def _free_spectrum(cov: np.ndarray, determined: np.ndarray):
    """Eigen-decomposition of a correlation matrix on the directions the identification leaves free.

    The covariance of the reported parameters is singular by construction along ``determined``
    (e.g. population 2PL: the intercept and sigma are functions of the slopes). Those directions
    are projected out by what they are, not picked as the smallest eigenvalues: when the matrix is
    not positive semi-definite (eigenvalues -2e-6, 3e-8, 1, 3 for two collinear covariates), the
    smallest in magnitude was the collinear direction, and dropping it hid the collinearity.

    Parameters
    ----------
    cov : ndarray, shape (K, K)
        Finite covariance.
    determined : ndarray, shape (n_determined, K)
        See :func:`_determined_directions`.

    Returns
    -------
    (ndarray, ndarray, float)
        Eigenvalues in ascending order (r,), eigenvectors (K, r) in correlation coordinates (zero
        rows for parameters with zero variance), and the rounding level of the matrix: the largest
        ``|u' corr u|`` over the unit determined directions ``u``, which are exactly 0 in exact
        arithmetic.
    """
    k = cov.shape[0]
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    keep = sd > 1e-12 * max(sd.max(), 1e-300) if k else np.zeros(0, bool)
    if keep.sum() == 0:
        return np.zeros(0), np.zeros((k, 0)), 0.0
    corr = cov[np.ix_(keep, keep)] / np.outer(sd[keep], sd[keep])
    # a null direction g of cov is D g in correlation coordinates (g' cov g = (D g)' corr (D g));
    # parameters with zero variance (fixed ones) are dropped already, and with them their rows
    u = np.asarray(determined, float).reshape(-1, k)[:, keep] * sd[keep]
    norms = np.linalg.norm(u, axis=1)
    u = u[norms > 0] / norms[norms > 0, None]
    noise = float(np.max(np.abs(np.einsum("ij,jk,ik->i", u, corr, u)))) if len(u) else 0.0
    # an orthonormal basis of the complement of the determined directions
    _, s, vt = np.linalg.svd(np.vstack([u, np.zeros((1, int(keep.sum())))]), full_matrices=True)
    rank = int(np.sum(s > 1e-10 * max(s.max(initial=0.0), 1e-300)))
    basis = vt[rank:].T
    if basis.shape[1] == 0:
        return np.zeros(0), np.zeros((k, 0)), noise
    vals, vecs = np.linalg.eigh(basis.T @ corr @ basis)
    full = np.zeros((k, len(vals)))
    full[keep] = basis @ vecs
    return vals, full, noise


def _condition_number(cov: np.ndarray, determined: np.ndarray) -> float:
    """Condition number of a covariance's correlation matrix on the free directions.

    The directions the identification determines (``determined``: see
    :func:`_determined_directions`) are projected out; ``inf`` when the matrix is singular or
    indefinite on the rest (a free eigenvalue not above the matrix's rounding level).
    """
    if cov.shape[0] == 0:
        return 1.0
    if not np.all(np.isfinite(cov)):
        return np.inf
    vals, _, noise = _free_spectrum(cov, determined)
    if len(vals) <= 1:
        return 1.0
    if vals[0] <= 10.0 * noise:
        return np.inf
    return float(vals[-1] / max(vals[0], 1e-300))


def _covariance_warnings(cov: np.ndarray, determined: np.ndarray, names: List[str]) -> List[str]:
    """Warnings for an indefinite or ill-conditioned covariance of the scaling-law parameters.

    Only the directions the identification leaves free are checked, and the warnings name the
    parameters involved. A negative eigenvalue beyond the matrix's rounding level (see
    :func:`_free_spectrum`) is reported in its own right: every variance on the diagonal can be
    positive while a combination of the parameters has a negative variance, and their standard
    errors are then not reliable.
    """
    if cov.shape[0] == 0 or not np.all(np.isfinite(cov)):
        return []
    vals, vecs, noise = _free_spectrum(cov, determined)
    if len(vals) == 0:
        return []
    tol = max(10.0 * noise, 1e-14 * abs(vals[-1]))
    # the parameters that carry the weakest direction
    load = np.abs(vecs[:, 0])
    involved = [n for n, w in zip(names, load) if w >= 0.2 * load.max()]
    if vals[0] < -tol:
        return [
            f"the covariance of the scaling-law parameters is not positive semi-definite: the "
            f"combination of {involved} has a negative variance (eigenvalue {vals[0]:.1e} of their "
            f"correlation matrix); their standard errors and intervals are not reliable — the "
            "covariates may be (nearly) collinear: drop or combine them, or consider center() or "
            "scaling them"
        ]
    cond = _condition_number(cov, determined) if len(vals) > 1 else 1.0
    if cond > 1e12:
        shown = "singular to working precision" if not np.isfinite(cond) else f"{cond:.1e}"
        return [
            f"the covariance of the scaling-law parameters is ill-conditioned (condition number "
            f"{shown}, along a combination of {involved}); the covariates may be nearly collinear — "
            "consider center() or scaling them"
        ]
    return []


def _block_diag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + b.shape[0],) * 2)
    out[: a.shape[0], : a.shape[0]] = a
    out[a.shape[0]:, a.shape[0]:] = b
    return out
