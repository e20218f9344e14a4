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
from typing import Optional

import numpy as np
from scipy import optimize

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
        ``G/(G-1)`` (the usual small-sample factor), as statsmodels does.
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


def fit_latent_regression(x: np.ndarray, t: np.ndarray, v: np.ndarray) -> RegressionFit:
    """Maximum-likelihood regression of ability estimates with known error variances.

    Parameters
    ----------
    x : ndarray, shape (M, P)
        Design matrix.
    t : ndarray, shape (M,)
        Ability estimates.
    v : ndarray, shape (M,)
        Their sampling variances (>= 0).

    Returns
    -------
    RegressionFit
    """
    x = np.asarray(x, float)
    t = np.asarray(t, float)
    v = np.maximum(np.asarray(v, float), 0.0)
    m, p = x.shape
    beta_ols = np.linalg.lstsq(x, t, rcond=None)[0]
    resid_var = float(np.mean((t - x @ beta_ols) ** 2)) if m > p else 1.0

    def negprof(log_s2):
        s2 = np.exp(log_s2)
        beta = _gls(x, t, 1.0 / (s2 + v))
        return -_loglik(x, t, v, beta, s2)

    hi = np.log(max(resid_var, 1e-8) * 10 + 1e-8)
    lo = np.log(1e-12)
    res = optimize.minimize_scalar(negprof, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    log_s2 = float(res.x)
    # polish with Newton on sigma (the bounded search stops at ~1e-10 in log sigma^2)
    sigma = float(np.exp(0.5 * log_s2))
    sigma_at_zero = log_s2 < lo + 1.0
    beta = _gls(x, t, 1.0 / (sigma**2 + v))
    if not sigma_at_zero:
        for _ in range(20):
            scores, h = _derivatives(x, t, v, beta, sigma)
            g = scores.sum(axis=0)
            step = np.linalg.solve(-h, g)
            beta, sigma = beta + step[:p], sigma + step[p]
            if np.max(np.abs(step)) < 1e-13 * (1 + abs(sigma)):
                break
        sigma = abs(sigma)
    scores, h = _derivatives(x, t, v, beta, sigma)
    if sigma_at_zero:
        # sigma on the boundary: its score is not zero and its variance is not defined
        cov = np.full((p + 1, p + 1), np.nan)
        cov[:p, :p] = np.linalg.inv(-h[:p, :p])
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
