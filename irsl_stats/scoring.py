"""Ability estimates for models scored against fixed (calibrated) question parameters.

Used by :meth:`irsl_stats.bank.ItemBank.score` and :meth:`~irsl_stats.bank.ItemBank.adaptive`.
Every model is independent once the questions are fixed, so each pass of the kernel handles all
models at once:

* ``"ml"`` — maximum likelihood: Newton steps on ``sum_j l(y_ij; a_j theta_i + d_j)`` from
  :func:`irsl_stats._kernel.accumulate` (model blocks only); ``se = 1 / sqrt(I_obs(theta))``.
  Estimates are kept within :data:`ML_BOUND` prior standard deviations of the prior mean: when
  every response of a model is extreme (all 0 or all 1 for the Bernoulli family) the likelihood
  increases without bound and the estimate stops at that bound, with an
  :class:`~irsl_stats.results.IRSLWarning`.
* ``"map"`` — posterior mode under the normal prior ``N(mean_i, sd_i^2)``;
  ``se = 1 / sqrt(I_obs(theta) + 1 / sd_i^2)``.
* ``"eap"`` — posterior mean and standard deviation by adaptive Gauss–Hermite quadrature: the
  nodes are centred on the posterior mode and scaled by the posterior curvature there, and
  :func:`irsl_stats._kernel.loglik_grid` evaluates every model's log-likelihood at its nodes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.special import logsumexp

from . import _kernel
from .mml import gauss_hermite
from .results import IRSLWarning

__all__ = ["METHODS", "ML_BOUND", "Estimate", "estimate_abilities"]

METHODS = ("ml", "map", "eap")
#: ML estimates are confined to ``prior mean +- ML_BOUND * prior sd``
ML_BOUND = 8.0
_MAX_ITER = 200
_TOL = 1e-8


def _start(kd, a, d, mean, sd):
    """Closed-form starting values: the prior-weighted least-squares fit of
    ``logit(rate) ~ a_j theta + d_j`` per model (a few vectorised NumPy passes)."""
    y = kd.y
    if kd.trials is not None:
        p = (y + 0.5) / (kd.trials + 1.0)
    elif kd.family == "bernoulli":
        p = 0.25 + 0.5 * y
    else:
        p = np.clip(y, 0.01, 0.99)
    aj = a[kd.item]
    z = np.log(p) - np.log1p(-p) - d[kd.item]
    num = np.bincount(kd.model, weights=aj * z, minlength=kd.n_models)
    den = np.bincount(kd.model, weights=aj * aj, minlength=kd.n_models)
    w0 = 1.0 / sd**2
    return (num + w0 * mean) / (den + w0)


@dataclass
class Estimate:
    """Per-model ability estimates (arrays of length M)."""

    theta: np.ndarray
    se: np.ndarray
    at_bound: np.ndarray
    n_passes: int


def _mode(kd, a, d, log_phi, mean, sd, use_prior, n_threads, tol=_TOL):
    """Newton iterations for the ML estimate (``use_prior=False``) or posterior mode.

    Returns theta (M,), the observed information of the log-likelihood (M,), a bound mask and
    the number of kernel passes.
    """
    m = kd.n_models
    lo, hi = mean - ML_BOUND * sd, mean + ML_BOUND * sd
    theta = np.clip(_start(kd, a, d, mean, sd), lo, hi)
    inv_var = 1.0 / sd**2 if use_prior else np.zeros(m)
    passes = 0
    info = np.zeros(m)
    active = np.ones(m, bool)
    for it in range(_MAX_ITER):
        acc = _kernel.accumulate(
            kd, theta[:, None], a[:, None], d, log_phi,
            model_blocks=True, item_blocks=False, n_threads=n_threads,
        )
        passes += 1
        g = acc.grad_theta[:, 0] - inv_var * (theta - mean)
        info = -acc.hess_theta[:, 0, 0]
        h = info + inv_var
        # Newton where the objective is concave; otherwise a unit step uphill
        step = np.where(h > 1e-12, g / np.maximum(h, 1e-12), np.sign(g))
        step = np.clip(step, -1.0, 1.0)
        if it >= 50:  # damp rare oscillations in non-concave regions
            step *= 0.5
        new = np.clip(theta + step, lo, hi)
        moved = np.abs(new - theta)
        theta = np.where(active, new, theta)
        active &= moved > tol * (1.0 + np.abs(theta))
        if not active.any():
            # the last Newton step was below tol: the information of this pass is that of the
            # estimate to O(tol) (the error of theta itself is O(tol^2))
            break
    at_bound = (theta <= lo + 1e-9 * sd) | (theta >= hi - 1e-9 * sd)
    return theta, info, at_bound, passes


def estimate_abilities(
    kd: "_kernel.KernelData",
    a: np.ndarray,
    d: np.ndarray,
    log_phi: Optional[np.ndarray],
    mean: np.ndarray,
    sd: np.ndarray,
    method: str = "eap",
    n_quad: int = 21,
    n_threads: Optional[int] = None,
    labels=None,
) -> Estimate:
    """Ability of each model of ``kd`` given fixed question parameters.

    Parameters
    ----------
    kd : KernelData
        Responses with item indices into ``a``/``d``/``log_phi``; must have ``model_ptr``.
    a, d : ndarray, shape (N,)
    log_phi : ndarray, shape (N,), or None
    mean, sd : ndarray, shape (M,)
        Normal prior of each model's ability (ML uses it only to bound the estimate).
    method : {"ml", "map", "eap"}
    n_quad : int
        Quadrature nodes for EAP.
    labels : sequence, optional
        Model labels for the warning about estimates at the bound.

    Returns
    -------
    Estimate
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    mean = np.asarray(mean, float)
    sd = np.asarray(sd, float)
    if method == "ml":
        theta, info, at_bound, passes = _mode(kd, a, d, log_phi, mean, sd, False, n_threads)
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.where(info > 0, 1.0 / np.sqrt(np.where(info > 0, info, 1.0)), np.inf)
        if at_bound.any():
            names = list(np.asarray(labels)[at_bound][:5]) if labels is not None else []
            warnings.warn(
                f"{int(at_bound.sum())} model(s) have no finite ML estimate (e.g. {names}): "
                f"their responses are all extreme; their theta is set to the bound prior mean "
                f"+- {ML_BOUND:g} prior SDs and their se is not meaningful; use method='map' or "
                "'eap' (the population prior keeps the estimate finite)",
                IRSLWarning,
                stacklevel=3,
            )
        return Estimate(theta, se, at_bound, passes)
    # EAP only needs the mode to centre its nodes
    mode, info, _, passes = _mode(kd, a, d, log_phi, mean, sd, True, n_threads,
                                  tol=_TOL if method == "map" else 1e-3)
    curv = info + 1.0 / sd**2
    if method == "map":
        se = 1.0 / np.sqrt(np.maximum(curv, 1e-300))
        return Estimate(mode, se, np.zeros(len(mode), bool), passes)
    # EAP: adaptive Gauss-Hermite around the mode (curvature floored at the prior's)
    z, w = gauss_hermite(n_quad)
    scale = 1.0 / np.sqrt(np.maximum(curv, 1.0 / sd**2))
    nodes = mode[:, None] + scale[:, None] * z[None, :]
    ll = _kernel.loglik_grid(kd, a[:, None], d, log_phi, nodes[:, :, None], n_threads=n_threads)
    passes += 1
    log_prior = -0.5 * ((nodes - mean[:, None]) / sd[:, None]) ** 2
    terms = ll + log_prior + np.log(w)[None, :] + 0.5 * z[None, :] ** 2
    terms -= logsumexp(terms, axis=1, keepdims=True)
    post = np.exp(terms)
    theta = (post * nodes).sum(axis=1)
    var = (post * (nodes - theta[:, None]) ** 2).sum(axis=1)
    return Estimate(theta, np.sqrt(var), np.zeros(len(theta), bool), passes)
