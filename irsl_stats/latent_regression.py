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
from typing import List, Optional

import numpy as np
from scipy import optimize

from .formula import scaled_lstsq

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


def _gls(x, t, w_inv):
    xtw = x.T * w_inv
    beta = np.linalg.solve(xtw @ x, xtw @ t)
    return beta


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
    rotated = fit_latent_regression(q.T @ x, q.T @ t, lam, reml)
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


def fit_latent_regression(x: np.ndarray, t: np.ndarray, v: np.ndarray, reml: bool = True) -> RegressionFit:
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
    if v.ndim == 2:
        return _fit_correlated(x, t, v, reml)
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
        s2 = np.exp(log_s2)
        w_inv = 1.0 / (s2 + v)
        beta = _gls(x, t, w_inv)
        value = _loglik(x, t, v, beta, s2)
        if reml:
            value -= 0.5 * np.linalg.slogdet((x.T * w_inv) @ x)[1]
        return -value

    hi = np.log(max(resid_var, 1e-8) * 10 + 1e-8)
    lo = np.log(1e-12)
    res = optimize.minimize_scalar(negobj, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    log_s2 = float(res.x)
    sigma = float(np.exp(0.5 * log_s2))
    sigma_at_zero = log_s2 < lo + 1.0
    beta = _gls(x, t, 1.0 / (sigma**2 + v))
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
    w_inv = 1.0 / (sigma**2 + v)
    cov_beta = np.linalg.inv((x.T * w_inv) @ x)
    cov = np.full((p + 1, p + 1), np.nan)
    if sigma_at_zero:
        # sigma on the boundary: its score is not zero and its variance is not defined
        cov[:p, :p] = cov_beta
    elif reml:
        # expected REML information of sigma^2: tr(P P)/2, P = W - W X (X'WX)^-1 X' W
        xw2 = (x.T * w_inv**2) @ x
        tr_pp = (np.sum(w_inv**2) - 2 * np.trace(cov_beta @ ((x.T * w_inv**3) @ x))
                 + np.trace(cov_beta @ xw2 @ cov_beta @ xw2))
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
