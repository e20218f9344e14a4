"""Latent regression of abilities on scaling variables, with measurement error.

After joint ML every model has an ability estimate ``t_i`` with sampling variance ``v_i`` (the
inverse of its information). The scaling law is the regression

    t_i = x_i' beta + e_i,    e_i ~ N(0, sigma^2 + v_i),

i.e. the true ability varies around the law with standard deviation ``sigma`` and is measured with
known error ``v_i`` (the meta-analytic random-effects model). ``beta`` and ``sigma`` are estimated by
maximum likelihood (``beta`` by GLS, ``sigma`` by a one-dimensional search), so models measured with
few questions weigh less, and the standard errors of ``beta`` carry each ability's measurement
error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from scipy import linalg, optimize

from .formula import collinearity_problem, column_scales, scaled_lstsq

__all__ = ["RegressionFit", "fit_latent_regression", "sandwich"]


@dataclass
class RegressionFit:
    """``beta`` (P,), ``sigma``, their covariance (P+1, P+1) in the order (beta, sigma),
    per-model scores (M, P+1), the observed Hessian (P+1, P+1), log-likelihood."""

    beta: np.ndarray
    sigma: float
    cov: np.ndarray
    scores: np.ndarray
    hessian: np.ndarray
    loglik: float
    sigma_at_zero: bool


class SingularDesignError(np.linalg.LinAlgError):
    """The latent regression's design is (nearly) collinear on the models it is fitted to.

    A :class:`numpy.linalg.LinAlgError` (and so a ``ValueError``) whose message names the columns,
    so callers that fall back on a singular system keep doing so.
    """


def _weighted_qr(x, w_inv):
    """QR of the weighted, column-scaled design: ``(q, r, scale, sqrt_w)``.

    Solving through the QR of ``W^1/2 X`` instead of the normal equations ``X'WX`` keeps the
    design's condition number from being squared, and scaling the columns first keeps raw units
    (FLOPs ~ 1e22) from hiding the intercept.
    """
    scale = column_scales(x)
    sqrt_w = np.sqrt(w_inv)
    q, r = np.linalg.qr((x / scale) * sqrt_w[:, None])
    diag = np.abs(np.diag(r))
    if diag.size and not diag.min() > np.finfo(float).eps * x.shape[0] * diag.max():
        raise np.linalg.LinAlgError("the weighted latent-regression design is singular")
    return q, r, scale, sqrt_w


def _gls(x, t, w_inv):
    q, r, scale, sqrt_w = _weighted_qr(x, w_inv)
    return linalg.solve_triangular(r, q.T @ (sqrt_w * t)) / scale


def _profile(x, t, v, log_s2, reml):
    """GLS ``beta`` at ``sigma^2 = exp(log_s2)`` and the (RE)ML score in ``log sigma^2`` there.

    With ``W = diag(1 / (sigma^2 + v))`` and residuals ``r`` at the GLS ``beta`` (which maximises
    the likelihood for fixed ``sigma^2``, so it does not enter the derivative):
    ``dl/dsigma^2 = (r'W^2 r - tr P) / 2`` with ``tr P = sum w`` (ML) or
    ``sum w (1 - h)`` (REML; ``h`` the leverages of ``W^1/2 X``, i.e. ``tr (X'WX)^-1 X'W^2 X``).
    Returns ``(beta, score, logdet)``, ``logdet`` being ``log |X'WX|`` up to a constant of the scaling.
    """
    s2 = np.exp(log_s2)
    w_inv = 1.0 / (s2 + v)
    q, r, scale, sqrt_w = _weighted_qr(x, w_inv)
    beta = linalg.solve_triangular(r, q.T @ (sqrt_w * t)) / scale
    res = t - x @ beta
    if reml:
        trace = float(np.sum(w_inv * (1.0 - np.sum(q * q, axis=1))))
    else:
        trace = float(np.sum(w_inv))
    score = 0.5 * s2 * (float(np.sum((w_inv * res) ** 2)) - trace)
    logdet = 2.0 * float(np.sum(np.log(np.abs(np.diag(r)))))
    return beta, score, logdet


def _trace_pp(x, v, s2, reml):
    """``tr(P P)``: twice the expected (RE)ML information of ``sigma^2``.

    ``P = W - W X (X'WX)^-1 X'W`` for REML (``W`` for ML). With ``H = Q Q'`` the hat matrix of
    ``W^1/2 X = Q R``, ``tr(PP) = sum w^2 - 2 sum h w^2 + ||Q'WQ||_F^2``.
    """
    w_inv = 1.0 / (s2 + v)
    if not reml:
        return float(np.sum(w_inv**2))
    q = _weighted_qr(x, w_inv)[0]
    qwq = (q.T * w_inv) @ q
    return float(np.sum(w_inv**2) - 2.0 * np.sum(np.sum(q * q, axis=1) * w_inv**2) + np.sum(qwq * qwq))


def _se_s2(x, v, s2, reml):
    """Standard error of ``sigma^2`` from its expected (RE)ML information at ``s2``."""
    tr_pp = _trace_pp(x, v, s2, reml)
    return float(np.sqrt(2.0 / tr_pp)) if tr_pp > 0 else np.inf


def _loglik(x, t, v, beta, sigma2):
    w = sigma2 + v
    r = t - x @ beta
    return -0.5 * float(np.sum(np.log(2 * np.pi * w) + r * r / w))


def _derivatives(x, t, v, beta, sigma):
    """Per-model scores (M, P+1) and the total observed Hessian (P+1, P+1) in (beta, sigma)."""
    w = sigma * sigma + v
    r = t - x @ beta
    s_beta = x * (r / w)[:, None]
    s_sigma = sigma * (r * r / w**2 - 1.0 / w)
    scores = np.column_stack([s_beta, s_sigma])
    p = x.shape[1]
    h = np.empty((p + 1, p + 1))
    h[:p, :p] = -(x.T * (1.0 / w)) @ x
    h[:p, p] = h[p, :p] = -(x.T @ (r * 2 * sigma / w**2))
    h[p, p] = float(np.sum(r * r / w**2 - 1.0 / w + 2 * sigma**2 * (1.0 / w**2 - 2 * r * r / w**3)))
    return scores, h


def _fit_correlated(x: np.ndarray, t: np.ndarray, cov: np.ndarray, reml: bool = True) -> RegressionFit:
    """:func:`fit_latent_regression` with a full error covariance ``cov`` (M, M)."""
    lam, q = np.linalg.eigh(0.5 * (cov + cov.T))
    lam = np.maximum(lam, 0.0)
    rotated = _fit_independent(q.T @ x, q.T @ t, lam, reml)
    beta, sigma = rotated.beta, rotated.sigma
    # per-model scores in the original basis: with S^-1 r = Q diag(1/(sigma^2 + lam)) Q' r,
    # d/dbeta = sum_i x_i (S^-1 r)_i,  d/dsigma = sum_i sigma ((S^-1 r)_i^2 - (S^-1)_ii)
    w = 1.0 / (sigma**2 + lam)
    r = t - x @ beta
    s_inv_r = q @ (w * (q.T @ r))
    s_inv_diag = np.einsum("ik,k,ik->i", q, w, q)
    scores = np.column_stack([x * s_inv_r[:, None], sigma * (s_inv_r**2 - s_inv_diag)])
    return RegressionFit(
        beta=beta, sigma=sigma, cov=rotated.cov, scores=scores, hessian=rotated.hessian,
        loglik=rotated.loglik, sigma_at_zero=rotated.sigma_at_zero,
    )


def sandwich(hessian: np.ndarray, scores: np.ndarray, groups: Optional[np.ndarray] = None) -> np.ndarray:
    """Robust (``groups=None``) or cluster-robust covariance ``H^-1 B H^-1``.

    Parameters
    ----------
    hessian : ndarray, shape (K, K)
        Observed Hessian of the log-likelihood.
    scores : ndarray, shape (M, K)
        Per-unit score contributions.
    groups : ndarray, shape (M,), optional
        Cluster labels; scores are summed within clusters and the meat is scaled by
        ``G/(G-1)``.

    Notes
    -----
    Small-sample factors are those of Stata's ``vce(robust)`` / ``vce(cluster)`` for maximum
    likelihood estimators: ``M/(M-1)`` for the robust covariance (each model its own cluster;
    for a regression coefficient this is statsmodels' ``HC0`` times ``M/(M-1)``, between HC0 and
    HC1) and ``G/(G-1)`` for clusters. statsmodels' ``cov_type="cluster"`` multiplies by a further
    ``(M-1)/(M-P)`` (its linear-regression correction), so its standard errors are larger by
    ``sqrt((M-1)/(M-P))``.
    """
    h_inv = np.linalg.pinv(-hessian)
    if groups is None:
        meat = scores.T @ scores
        n = scores.shape[0]
        meat *= n / max(n - 1, 1)
    else:
        _, codes = np.unique(groups, return_inverse=True)
        g = codes.max() + 1
        if g < 2:
            raise ValueError("cluster-robust covariance needs at least two clusters")
        summed = np.zeros((g, scores.shape[1]))
        np.add.at(summed, codes, scores)
        meat = summed.T @ summed * (g / (g - 1))
    return h_inv @ meat @ h_inv


def cluster_warnings(x: np.ndarray, groups: np.ndarray, names: List[str]) -> List[str]:
    """Why a cluster-robust covariance of the scaling-law coefficients may not be trusted.

    Parameters
    ----------
    x : ndarray, shape (M, P)
        Design matrix of the latent regression (columns named by ``names[:P]``).
    groups : ndarray, shape (M,)
        Cluster label of each model.
    names : list of str, length K >= P
        Names of all K scaling-law parameters (the coefficients, then e.g. ``sigma``).

    Returns
    -------
    list of str
        Warning texts. (1) When the design contains the cluster indicators (fixed effects of the
        clustering variable), the fit sets every cluster's score sum of a covariate that is
        constant within clusters to zero, so its "cluster-robust" variance is zero up to the
        optimiser's tolerance -- a spuriously tiny standard error. (2) Fewer clusters than
        parameters: the meat has rank at most ``G - 1``.
    """
    _, codes = np.unique(groups, return_inverse=True)
    g = int(codes.max()) + 1
    out = []
    indicators = np.zeros((len(codes), g))
    indicators[np.arange(len(codes)), codes] = 1.0
    coef = scaled_lstsq(x, indicators)
    if np.abs(indicators - x @ coef).max() < 1e-8:
        spread = np.zeros(x.shape[1])
        for c in range(g):
            rows = x[codes == c]
            spread = np.maximum(spread, rows.max(axis=0) - rows.min(axis=0))
        constant = [n for n, width in zip(names, spread) if width == 0]
        if constant:
            out.append(
                f"the cluster-robust standard errors of {constant} are degenerate: they are constant "
                "within clusters and the formula contains the clustering variable's fixed effects, "
                "so their score sums are zero in every cluster; cluster by a variable that is not in "
                "the formula, or use cov_type='robust'"
            )
    if g <= len(names):
        out.append(
            f"only {g} clusters for {len(names)} scaling-law parameters: the cluster-robust covariance "
            f"has rank at most {g - 1} and its standard errors are unreliable; use cov_type='robust' "
            "or cluster by a variable with many more levels"
        )
    return out


def fit_latent_regression(x: np.ndarray, t: np.ndarray, v: np.ndarray, reml: bool = True,
                          names: Optional[Sequence[str]] = None) -> RegressionFit:
    """Regression of ability estimates with known error (co)variances.

    Parameters
    ----------
    x : ndarray, shape (M, P)
        Design matrix.
    t : ndarray, shape (M,)
        Ability estimates.
    v : ndarray, shape (M,) or (M, M)
        Their sampling variances (>= 0), or their full sampling covariance. The full covariance
        carries the errors the abilities share because they are measured with the same estimated
        questions; the model is then ``t ~ N(x beta, sigma^2 I + V)``, fitted in the eigenbasis of
        ``V`` where it is again a regression with independent errors.
    reml : bool
        Estimate ``sigma^2`` by restricted ML (default), which accounts for the P coefficients
        estimated alongside it: plain ML underestimates ``sigma^2`` by a factor ~(M-P)/M, which
        with ~100 models biases coefficients reported on a scale that involves ``sigma`` (the
        default identification) by a fifth of a standard error and makes their intervals too
        short (simulation: coverage 0.93 with ML, 0.95 with REML). ``beta`` is then the GLS
        estimate at the REML ``sigma``, with covariance ``(X' W X)^-1``; ``sigma``'s variance comes
        from the expected REML information, and the two are uncorrelated (as in lme4/nlme).

    Returns
    -------
    RegressionFit
        Scores and Hessian are those of the (unrestricted) likelihood at the estimates, per model,
        for robust and cluster covariances.
    """
    x = np.asarray(x, float)
    t = np.asarray(t, float)
    v = np.asarray(v, float)
    # the design on the models actually fitted (callers drop models without a usable ability, which
    # can leave a collinear design that the whole-table check in formula.py accepted)
    problem = collinearity_problem(x, names, "models")
    if problem is not None:
        raise SingularDesignError(f"the latent regression cannot be fitted on these {x.shape[0]} models: "
                                  f"{problem}")
    try:
        if v.ndim == 2:
            return _fit_correlated(x, t, v, reml)
        return _fit_independent(x, t, v, reml)
    except SingularDesignError:
        raise
    except np.linalg.LinAlgError as e:
        shown = [f"column {j}" for j in range(x.shape[1])] if names is None else [str(c) for c in names]
        raise SingularDesignError(
            f"the latent regression on the design columns {shown} ({x.shape[0]} models) has a singular "
            f"system ({e}): the covariates are (nearly) collinear once each model is weighted by its "
            "measurement precision; drop a term, or add models that vary in these covariates"
        ) from e


def _fit_independent(x: np.ndarray, t: np.ndarray, v: np.ndarray, reml: bool) -> RegressionFit:
    """:func:`fit_latent_regression` with sampling variances ``v`` (M,) and a checked design."""
    v = np.maximum(v, 0.0)
    m, p = x.shape
    if m <= p:
        reml = False  # no residual degrees of freedom: sigma goes to its boundary (reported)
    beta_ols = scaled_lstsq(x, t)
    # the REML optimum is near RSS / (M - P), which exceeds the mean squared residual M / (M - P)
    # times: with few residual degrees of freedom (24 models, 22 coefficients) a bound at ten
    # mean squared residuals held sigma below its optimum, silently shrinking every SE
    resid_var = float(np.sum((t - x @ beta_ols) ** 2)) / (m - p) if m > p else 1.0

    def negobj(log_s2):
        beta, _, logdet = _profile(x, t, v, log_s2, reml)
        value = _loglik(x, t, v, beta, np.exp(log_s2))
        if reml:
            value -= 0.5 * logdet
        return -value

    def score(log_s2):
        return _profile(x, t, v, log_s2, reml)[1]

    hi = np.log(max(resid_var, 1e-8) * 10 + 1e-8)
    lo = np.log(1e-12)
    # Brent's search on function values finds the optimum's basin but only to ~sqrt(eps) (~1e-8):
    # sigma then moved by 1e-8 with a permutation of the models or the BLAS thread count. The
    # optimum is then refined as the root of the analytic score in log sigma^2, bracketed around
    # Brent's point, which brentq locates to rounding whatever the bracket.
    res = optimize.minimize_scalar(negobj, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    log_s2 = float(res.x)
    a, b, step = max(log_s2 - 1e-3, lo), min(log_s2 + 1e-3, hi), 1e-3
    score_a, score_b = score(a), score(b)
    while (score_a > 0 and score_b > 0 and b < hi) or (score_a <= 0 and score_b <= 0 and a > lo):
        step *= 4.0
        if score_a <= 0 and a > lo:
            a = max(log_s2 - step, lo)
            score_a = score(a)
        if score_b > 0 and b < hi:
            b = min(log_s2 + step, hi)
            score_b = score(b)
    at_lower = score_a <= 0 and a <= lo  # the likelihood falls from sigma^2 = 1e-12 upwards
    if at_lower:
        log_s2 = lo
    elif score_a > 0 and score_b <= 0:
        log_s2 = float(optimize.brentq(score, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps))
    sigma = float(np.exp(0.5 * log_s2))
    beta = _gls(x, t, 1.0 / (sigma**2 + v))
    # sigma on the boundary: the score at the lower bound is not positive, or sigma^2 is
    # negligible against the abilities' measurement error -- below 1e-8 of their median sampling
    # variance (sigma below 1e-4 of the measurement SD, lme4's relative tolerance for a singular
    # fit) or below 1e-4 of the standard error of sigma^2 there (the data cannot tell it from 0;
    # a JML fit of data simulated with sigma = 0 gave sigma = 3e-5 with SE 0.034 unflagged).
    typical_v = float(np.median(v)) if np.any(v > 0) else 0.0
    sigma_at_zero = at_lower or sigma**2 < 1e-8 * typical_v or sigma**2 < 1e-4 * _se_s2(x, v, sigma**2, reml)
    if not sigma_at_zero and not reml:
        # polish the ML solution with Newton in (beta, sigma)
        for _ in range(20):
            scores, h = _derivatives(x, t, v, beta, sigma)
            step = np.linalg.solve(-h, scores.sum(axis=0))
            beta, sigma = beta + step[:p], sigma + step[p]
            if np.max(np.abs(step)) < 1e-13 * (1 + abs(sigma)):
                break
        sigma = abs(sigma)
    scores, h = _derivatives(x, t, v, beta, sigma)
    # (X'WX)^-1 from the QR of the scaled W^1/2 X: R^-1 R^-T, unscaled
    _, r, scale, _ = _weighted_qr(x, 1.0 / (sigma**2 + v))
    r_inv = linalg.solve_triangular(r, np.eye(p))
    cov_beta = (r_inv @ r_inv.T) / np.outer(scale, scale)
    cov = np.full((p + 1, p + 1), np.nan)
    if sigma_at_zero:
        # sigma on the boundary: its score is not zero and its variance is not defined
        cov[:p, :p] = cov_beta
    elif reml:
        # expected REML information of sigma^2: tr(P P)/2, P = W - W X (X'WX)^-1 X' W
        tr_pp = _trace_pp(x, v, sigma**2, True)
        cov[:] = 0.0
        cov[:p, :p] = cov_beta
        cov[p, p] = 1.0 / (2 * sigma**2 * tr_pp)  # var(sigma) = var(sigma^2) / (4 sigma^2)
    else:
        cov = np.linalg.inv(-h)
    return RegressionFit(
        beta=beta,
        sigma=sigma,
        cov=cov,
        scores=scores,
        hessian=h,
        loglik=_loglik(x, t, v, beta, sigma**2),
        sigma_at_zero=sigma_at_zero,
    )
