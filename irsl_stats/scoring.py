"""Ability estimates for models scored against fixed (calibrated) question parameters.

Used by :meth:`irsl_stats.bank.ItemBank.score` and :meth:`~irsl_stats.bank.ItemBank.adaptive`.
Every model is independent once the questions are fixed, so each pass of the kernel handles all
models at once:

* ``"ml"`` — maximum likelihood: Newton steps on ``sum_j l(y_ij; a_j theta_i + d_j)`` from
  :func:`irsl_stats._kernel.accumulate` (model blocks only); ``se = 1 / sqrt(I_obs(theta))``.
  When every response of a model is extreme (all 0 or all 1 for the Bernoulli family, no
  successes or no failures for the count families; see :func:`extreme_patterns`) the likelihood
  increases without bound and the estimate stops at :data:`ML_BOUND` prior standard deviations
  from the prior mean, with an :class:`~irsl_stats.results.IRSLWarning`. Every other model's
  maximum is finite and is found wherever it lies: a model far weaker or stronger than the
  calibration models is not held to the prior's range.
* ``"map"`` — posterior mode under the normal prior ``N(mean_i, sd_i^2)``;
  ``se = 1 / sqrt(I_obs(theta) + 1 / sd_i^2)``.
* ``"eap"`` — posterior mean and standard deviation by adaptive Gauss–Hermite quadrature: the
  nodes are centred on the posterior mode and scaled by the posterior curvature there, and
  :func:`irsl_stats._kernel.loglik_grid` evaluates every model's log-likelihood at its nodes.
  A model whose sharpest question is narrow against that scale (``max |a_j| * scale`` above
  :data:`_SHARP`), or whose first-pass mean or SD is far from the mode and scale, gets a second
  rule re-centred and re-scaled on the first pass's posterior mean and SD; where the two
  disagree (by more than :data:`_EAP_AGREE` posterior SDs: a posterior with a step narrower than
  the node spacing, e.g. all answers right on questions with ``a >= 6``, was off by up to
  ``3e-2``) the posterior is integrated on a dense trapezoid grid with its own error check
  (:func:`_dense_moments`). Other models keep the single-pass result, at the single-pass cost.
* ``"wle"`` — Warm's (1989) weighted likelihood estimator: the maximum of
  ``l(theta) + 0.5 log I(theta)``, with ``I`` the expected Fisher information of the model's
  responses (:func:`irsl_stats.selection.eta_information`: exact for every family, the
  beta-binomial by summation over the counts). It keeps the estimate finite when every
  response is extreme. For the Bernoulli and binomial families (the logit is their canonical
  link) this is Firth's bias-reduced ML: the penalty removes the ``O(1/n)`` bias of the ML
  estimate, which is large when a model has few successes (or failures). For the beta and
  beta-binomial families the penalty is Jeffreys' prior but not Firth's correction (they differ
  by ``E[U U'] / (2 I)``, zero only under a canonical link): it does not remove the first-order
  bias in general (with three low-precision beta questions it leaves the ML bias unchanged).
  No prior is used (the prior only places the first search grid);
  ``se = 1 / sqrt(I(theta))``. The maximum is bracketed on a grid of :data:`WLE_GRID` points
  over ``prior mean +- ML_BOUND prior SDs`` (:func:`~irsl_stats._kernel.loglik_grid`), widened
  while it lies at the grid's edge, and refined by safeguarded Newton steps on the estimating
  equation (the derivatives of ``log I`` by central differences).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.special import logsumexp

from . import _kernel
from ._checks import is_integer
from .mml import gauss_hermite
from .results import IRSLWarning
from .selection import eta_information

__all__ = ["MAX_QUAD", "METHODS", "ML_BOUND", "WLE_GRID", "Estimate", "estimate_abilities",
           "extreme_patterns", "one_sided", "response_extremes"]

METHODS = ("ml", "map", "eap", "wle")
#: ML estimates of models whose responses are all extreme stop at ``prior mean +- ML_BOUND * prior sd``
ML_BOUND = 8.0
#: grid points over ``prior mean +- ML_BOUND * prior sd`` bracketing the WLE (spacing 0.5 sd)
WLE_GRID = 33
#: the WLE grid is widened (doubled) at most this many times while the maximum sits at its edge
_WLE_WIDENINGS = 6
#: most Gauss-Hermite nodes per model for EAP (NumPy's rule overflows beyond ~380)
MAX_QUAD = 300
#: largest |theta - prior mean| in prior SDs an ML or MAP Newton search may reach; a finite
#: maximum beyond it would need discriminations ~1e-4 of the prior scale
_SEARCH_LIMIT = 1e4
_MAX_ITER = 200
_TOL = 1e-8
#: step of the central differences of ``log I(theta)`` in the WLE
_FD_STEP = 1e-4
#: linear predictors are clipped to ``+-_ETA_MAX`` in the expected information of the WLE penalty
_ETA_MAX = 30.0
#: elements (responses x ability columns) per block of the vectorised expected information
_INFO_BLOCK = 4_000_000
#: EAP: models with ``max |a_j| * scale`` above this get a second, re-centred Gauss–Hermite pass
_SHARP = 0.5
#: EAP: models whose first-pass posterior mean or SD differs from the mode / Laplace scale that
#: placed the nodes by more than this fraction of the scale also get the re-centred pass
_SKEW = 0.1
#: EAP: the two Gauss–Hermite passes agree when mean and SD differ by at most this many SDs;
#: otherwise the model's posterior is integrated on a dense grid (:func:`_dense_moments`)
_EAP_AGREE = 3e-7
#: dense EAP grid: the log-posterior at both ends must be this far below its maximum
_DENSE_TAIL = 30.0
#: dense EAP grid: the even and odd half grids must agree to this many posterior SDs
_DENSE_AGREE = 1e-7
#: dense EAP grid: most widenings / refinements
_DENSE_ROUNDS = 12


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


def one_sided(group, pull, carries, n_groups: int) -> np.ndarray:
    """Per group: ``+1``/``-1`` when every row that ``carries`` weight pulls that way, else 0.

    Parameters
    ----------
    group : ndarray of int, shape (n,)
        Group (model or question) of each row.
    pull : ndarray, shape (n,)
        ``+1`` / ``-1`` for a response that pushes the group's parameter toward ``+inf`` /
        ``-inf``, ``0`` for one that bounds it.
    carries : ndarray of bool, shape (n,)
        Rows that enter the likelihood (positive weight, non-zero discrimination).
    n_groups : int

    Returns
    -------
    ndarray of int, shape (n_groups,)
    """
    idx = group[carries]
    n = np.bincount(idx, minlength=n_groups)
    up = np.bincount(idx, weights=(pull[carries] > 0), minlength=n_groups)
    down = np.bincount(idx, weights=(pull[carries] < 0), minlength=n_groups)
    return np.where((n > 0) & (up == n), 1, np.where((n > 0) & (down == n), -1, 0))


def response_extremes(family: str, y: np.ndarray, trials: Optional[np.ndarray]) -> np.ndarray:
    """``-1`` for a response at the bottom of its range, ``+1`` at the top, ``0`` inside.

    Bottom and top are 0 and 1 for bernoulli, 0 and ``trials`` for the count families; a beta
    response lies strictly inside (0, 1) and is never extreme.
    """
    if family == "beta":
        return np.zeros(len(y))
    top = 1.0 if trials is None else trials
    return np.where(y <= 0, -1.0, np.where(y >= top, 1.0, 0.0))


def extreme_patterns(kd, a) -> np.ndarray:
    """Direction in which each model's likelihood increases without bound, or 0.

    A response at the bottom of its range (0 for bernoulli, no successes for the count families)
    pulls the ability toward ``-sign(a_j) inf``, one at the top toward ``+sign(a_j) inf``; a
    beta response in (0, 1) and a count strictly inside ``0..trials`` bound it. The likelihood
    has no finite maximum exactly when every response that carries weight (``a_j != 0``,
    ``weight > 0``) pulls the same way.

    Parameters
    ----------
    kd : KernelData
    a : ndarray, shape (N,)
        Discriminations.

    Returns
    -------
    ndarray of int, shape (M,)
        ``-1`` (the ML estimate is ``-inf``), ``+1`` (``+inf``) or ``0`` (finite).
    """
    pull = response_extremes(kd.family, kd.y, kd.trials) * np.sign(a[kd.item])
    carries = a[kd.item] != 0
    if kd.weight is not None:
        carries &= kd.weight > 0
    return one_sided(kd.model, pull, carries, kd.n_models)


@dataclass
class Estimate:
    """Per-model ability estimates (arrays of length M)."""

    theta: np.ndarray
    se: np.ndarray
    at_bound: np.ndarray
    n_passes: int


def _mode(kd, a, d, log_phi, mean, sd, use_prior, n_threads, tol=_TOL):
    """Newton iterations for the ML estimate (``use_prior=False``) or posterior mode.

    Each model's step is limited by its own trust radius: it starts at one prior SD (the start
    can be far from a distant maximum, where a Newton step is unreliable), doubles after every
    step that the radius cut short without passing the maximum (so a maximum hundreds of prior
    SDs away, e.g. behind questions of small discrimination, is reached in a few dozen passes
    instead of one prior SD per pass), and halves to half the last step when the gradient
    changes sign (the maximum lies inside that step: later steps stay inside it). A step cut to
    the radius that would leave the bracket of the maximum (the last points with a positive and
    with a negative gradient) bisects the bracket instead.

    Returns theta (M,), the observed information of the log-likelihood (M,), a bound mask, a
    convergence mask and the number of kernel passes.
    """
    m = kd.n_models
    # only a likelihood without a finite maximum (and no prior to stop it) needs the bound at
    # ML_BOUND prior SDs; every other search may go as far as its maximum lies
    bounded = (extreme_patterns(kd, a) != 0) & (not use_prior)
    reach = np.where(bounded, ML_BOUND, _SEARCH_LIMIT) * sd
    lo, hi = mean - reach, mean + reach
    theta = np.clip(_start(kd, a, d, mean, sd), lo, hi)
    inv_var = 1.0 / sd**2 if use_prior else np.zeros(m)
    passes = 0
    info = np.zeros(m)
    active = np.ones(m, bool)
    radius = np.array(sd, float, copy=True)
    g_prev = np.zeros(m)
    step_prev = np.zeros(m)
    cut_prev = np.zeros(m, bool)
    # the maximum lies between the last point where the gradient was positive and the last
    # where it was negative; without this bracket, a radius doubled after a cut step could
    # carry the iterate back past a point already known to lie beyond the maximum, and cycle
    # (seen with sharp binomial questions all answered right)
    b_lo = np.full(m, -np.inf)
    b_hi = np.full(m, np.inf)
    for it in range(_MAX_ITER):
        acc = _kernel.accumulate(
            kd, theta[:, None], a[:, None], d, log_phi,
            model_blocks=True, item_blocks=False, n_threads=n_threads,
        )
        passes += 1
        g = acc.grad_theta[:, 0] - inv_var * (theta - mean)
        info = -acc.hess_theta[:, 0, 0]
        h = info + inv_var
        passed = np.sign(g) * np.sign(g_prev) < 0
        radius = np.where(passed, 0.5 * np.abs(step_prev),
                          np.where(cut_prev & (np.sign(g) == np.sign(g_prev)), 2.0 * radius, radius))
        # Newton where the objective is concave; otherwise a step of the trust radius uphill
        raw = np.where(h > 1e-12, g / np.maximum(h, 1e-12), np.sign(g) * radius)
        step = np.clip(raw, -radius, radius)
        b_lo = np.where(active & (g > 0), np.maximum(b_lo, theta), b_lo)
        b_hi = np.where(active & (g < 0), np.minimum(b_hi, theta), b_hi)
        new = theta + step
        # a step cut to the trust radius that would leave the bracket (both ends then finite)
        # bisects it instead; Newton steps are kept (near the maximum they may cross a bound
        # by rounding, and bisecting there would slow the final quadratic convergence)
        out = (np.abs(raw) > radius) & ((new <= b_lo) | (new >= b_hi))
        new = np.clip(np.where(out, 0.5 * (np.where(out, b_lo, 0.0) + np.where(out, b_hi, 0.0)), new), lo, hi)
        moved = np.abs(new - theta)
        cut_prev = active & (np.abs(raw) > radius) & (new > lo) & (new < hi)
        step_prev = np.where(active, new - theta, step_prev)
        g_prev = np.where(active, g, g_prev)
        theta = np.where(active, new, theta)
        active &= moved > tol * (1.0 + np.abs(theta))
        if not active.any():
            # the last Newton step was below tol: the information of this pass is that of the
            # estimate to O(tol) (the error of theta itself is O(tol^2))
            break
    at_bound = bounded & ((theta <= lo + 1e-9 * sd) | (theta >= hi - 1e-9 * sd))
    return theta, info, at_bound, ~active, passes


def _expected_info(kd, a, d, log_phi, theta):
    """Expected Fisher information about ability of each model's responses.

    ``I_i(t) = sum_{r in model i} w_r a_j^2 I_eta(a_j t + d_j)`` with the family's expected
    information about the linear predictor (:func:`irsl_stats.selection.eta_information`).

    Parameters
    ----------
    kd : KernelData
    a, d : ndarray, shape (N,)
    log_phi : ndarray, shape (N,), or None
    theta : ndarray, shape (M,) or (M, Q)
        Abilities (Q points per model).

    Returns
    -------
    ndarray, shape of ``theta``
    """
    theta = np.asarray(theta, float)
    grid = theta.reshape(kd.n_models, -1)
    aj = a[kd.item]
    dj = d[kd.item]
    phi = None if log_phi is None else np.exp(log_phi[kd.item])
    w = aj * aj if kd.weight is None else aj * aj * kd.weight
    n_cols = grid.shape[1]
    out = np.empty(grid.shape)
    # all grid columns in one call (a Python loop over the 33 columns of the WLE grid cost 33
    # passes), in blocks of about _INFO_BLOCK elements to bound the (rows, columns) temporaries;
    # the beta-binomial sums over k = 0..trials are chunked inside eta_information
    step = max(1, min(n_cols, _INFO_BLOCK // max(1, len(aj))))
    for start in range(0, n_cols, step):
        cols = np.arange(start, min(start + step, n_cols))
        # |eta| <= 30 keeps mu strictly inside (0, 1) (the beta and beta-binomial formulas take
        # digamma / trigamma of mu phi and (1 - mu) phi). Beyond it the count families'
        # information is < 1e-13, and the beta's has reached its limit (it tends to a constant:
        # log(1 - y) keeps carrying information), so the clip changes neither
        eta = np.clip(aj[:, None] * grid[kd.model[:, None], cols[None, :]] + dj[:, None], -_ETA_MAX, _ETA_MAX)
        ie = eta_information(kd.family, eta, None if phi is None else phi[:, None],
                             None if kd.trials is None else kd.trials[:, None])
        # one bincount over (model, column) bins: each bin sums its rows in row order, exactly
        # as a per-column bincount would
        bins = (kd.model.astype(np.intp)[:, None] * len(cols) + np.arange(len(cols))[None, :]).ravel()
        out[:, cols] = np.bincount(bins, weights=(w[:, None] * ie).ravel(),
                                   minlength=kd.n_models * len(cols)).reshape(kd.n_models, len(cols))
    return out.reshape(theta.shape)


def _log_info(info):
    """``log I`` with zero information mapped to a large negative finite value."""
    return np.log(np.maximum(info, 1e-300))


def _wle(kd, a, d, log_phi, mean, sd, n_threads, tol=_TOL):
    """Warm's weighted likelihood estimate: the maximum of ``l(theta) + 0.5 log I(theta)``.

    A grid of :data:`WLE_GRID` points over ``mean +- ML_BOUND * sd`` (doubled up to
    :data:`_WLE_WIDENINGS` times while the maximum is at its edge) brackets the maximum of
    each model (one :func:`~irsl_stats._kernel.loglik_grid` pass per grid); safeguarded Newton steps on
    the estimating equation ``l'(theta) + 0.5 (log I)'(theta) = 0`` then refine it inside the
    bracket, bisecting whenever a Newton step leaves it. ``l'`` and ``l''`` come from
    :func:`~irsl_stats._kernel.accumulate`; the derivatives of ``log I`` are central differences.
    Widened grids and Newton passes cover only the models still searching (a
    :func:`_model_subset`), so a few slow models do not make every model pay for their passes.

    Returns theta (M,), the expected information at theta (M,), a bound mask, a convergence
    mask and the number of kernel passes.
    """
    m = kd.n_models
    u = np.linspace(0.0, 1.0, WLE_GRID)
    rows = np.arange(m)
    reach = np.full(m, ML_BOUND)
    nodes = np.empty((m, WLE_GRID))
    best = np.zeros(m, int)
    edge = np.ones(m, bool)
    passes = 0
    # a model far outside the calibration models' range has its maximum beyond the first grid:
    # widen the grid of those whose maximum sits at an edge until it is inside
    for widening in range(_WLE_WIDENINGS + 1):
        reach = np.where(edge, ML_BOUND * 2.0**widening, reach)
        lo, hi = mean - reach * sd, mean + reach * sd
        grid = lo[:, None] + (hi - lo)[:, None] * u[None, :]
        nodes = np.where(edge[:, None], grid, nodes)
        # a widened grid is evaluated for the models at an edge only
        sel = np.flatnonzero(edge)
        sub = kd if len(sel) == m else _model_subset(kd, sel, n_threads)
        ll = _kernel.loglik_grid(sub, a[:, None], d, log_phi, nodes[sel, :, None], n_threads=n_threads)
        passes += 1
        obj = ll + 0.5 * _log_info(_expected_info(sub, a, d, log_phi, nodes[sel]))
        best[sel] = np.argmax(np.where(np.isfinite(obj), obj, -np.inf), axis=1)
        edge[sel] = (best[sel] == 0) | (best[sel] == WLE_GRID - 1)
        if not edge.any():
            break
    lo, hi = nodes[:, 0], nodes[:, -1]
    theta = nodes[rows, best]
    b_lo = nodes[rows, np.maximum(best - 1, 0)]
    b_hi = nodes[rows, np.minimum(best + 1, WLE_GRID - 1)]
    active = np.ones(m, bool)
    h_all = _FD_STEP * sd
    idx = np.arange(m)
    sub = kd
    for _ in range(_MAX_ITER):
        # each pass covers only the models still searching: otherwise one slow model makes
        # every model pay for all its passes. The subset is rebuilt only when the active set
        # shrinks; a model's sums run over the same rows in the same order, so its estimate
        # does not depend on which other models are still active
        if len(idx) != np.count_nonzero(active):
            idx = np.flatnonzero(active)
            sub = _model_subset(kd, idx, n_threads)
        th, h, lo_b, hi_b = theta[idx], h_all[idx], b_lo[idx], b_hi[idx]
        acc = _kernel.accumulate(
            sub, th[:, None], a[:, None], d, log_phi,
            model_blocks=True, item_blocks=False, n_threads=n_threads,
        )
        passes += 1
        pts = th[:, None] + h[:, None] * np.array([-1.0, 0.0, 1.0])[None, :]
        lp = _log_info(_expected_info(sub, a, d, log_phi, pts))
        dp = (lp[:, 2] - lp[:, 0]) / (2 * h)
        d2p = (lp[:, 2] - 2 * lp[:, 1] + lp[:, 0]) / h**2
        g = acc.grad_theta[:, 0] + 0.5 * dp
        curv = -acc.hess_theta[:, 0, 0] - 0.5 * d2p
        # shrink the bracket around the root of the estimating equation
        lo_b = np.where(g > 0, np.maximum(lo_b, th), lo_b)
        hi_b = np.where(g < 0, np.minimum(hi_b, th), hi_b)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = th + g / curv
        ok = (curv > 0) & np.isfinite(newton) & (newton > lo_b) & (newton < hi_b)
        new = np.where(ok, newton, 0.5 * (lo_b + hi_b))
        new = np.where(g == 0, th, new)
        moved = np.abs(new - th)
        theta[idx], b_lo[idx], b_hi[idx] = new, lo_b, hi_b
        active[idx] = (moved > tol * (1.0 + np.abs(new))) & (hi_b - lo_b > tol * (1.0 + np.abs(new)))
        if not active.any():
            break
    info = _expected_info(kd, a, d, log_phi, theta)
    at_bound = (theta <= lo + 1e-6 * sd) | (theta >= hi - 1e-6 * sd)
    return theta, info, at_bound, ~active, passes


def _warn_not_converged(converged: np.ndarray, method: str, labels) -> None:
    """One :class:`~irsl_stats.results.IRSLWarning` naming the models whose search stopped at the
    iteration limit: their estimate (and se) is that of the last iterate, not of the optimum."""
    if converged.all():
        return
    bad = ~converged
    names = list(np.asarray(labels)[bad][:5]) if labels is not None else list(np.flatnonzero(bad)[:5])
    what = "posterior mode that centres the EAP nodes" if method == "eap" else f"{method.upper()} estimate"
    other = "" if method == "eap" else ", or use method='eap'"
    warnings.warn(
        f"{int(bad.sum())} model(s) (e.g. {names}): the search for the {what} did not converge in "
        f"{_MAX_ITER} iterations; their theta and se are those of the last iterate. Check their "
        f"responses and the discriminations of the questions they answered{other}",
        IRSLWarning,
        stacklevel=4,
    )


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
        Normal prior of each model's ability (ML and WLE use it only to bound the estimate).
    method : {"ml", "map", "eap", "wle"}
        ``"wle"``: Warm's weighted likelihood estimate (see the module docstring),
        ``se = 1 / sqrt(I(theta))`` with ``I`` the expected information.
    n_quad : int
        Quadrature nodes for EAP: an integer from 2 to :data:`MAX_QUAD` (one node would put
        the posterior mean at the mode with a posterior SD of 0; beyond :data:`MAX_QUAD`
        NumPy's Gauss–Hermite rule overflows). Validated for every method.
    labels : sequence, optional
        Model labels for the warnings about estimates at the bound or not converged.

    Returns
    -------
    Estimate

    Raises
    ------
    ValueError
        If ``method`` is unknown, ``n_quad`` is not an integer in ``2 .. MAX_QUAD``, or a
        prior mean is not finite or a prior SD not positive and finite.

    Warns
    -----
    IRSLWarning
        When an ML or WLE estimate sits at its bound (no finite estimate), or when the search
        of an ML, MAP or WLE estimate (or the mode that centres the EAP nodes) stops after its
        iteration limit without converging (the models are named).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not is_integer(n_quad, 2, MAX_QUAD):
        raise ValueError(f"n_quad must be an integer from 2 to {MAX_QUAD} (Gauss-Hermite nodes per model "
                         f"for method='eap'); got {n_quad!r}")
    mean = np.asarray(mean, float)
    sd = np.asarray(sd, float)
    if not np.isfinite(mean).all() or not (np.isfinite(sd) & (sd > 0)).all():
        raise ValueError("the prior of every model needs a finite mean and a positive, finite SD; got "
                         f"mean {mean[~np.isfinite(mean)][:3].tolist()} / sd "
                         f"{sd[~(np.isfinite(sd) & (sd > 0))][:3].tolist()} for some models")
    if method in ("ml", "wle"):
        if method == "ml":
            theta, info, at_bound, converged, passes = _mode(kd, a, d, log_phi, mean, sd, False, n_threads)
        else:
            theta, info, at_bound, converged, passes = _wle(kd, a, d, log_phi, mean, sd, n_threads)
        _warn_not_converged(converged, method, labels)
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.where(info > 0, 1.0 / np.sqrt(np.where(info > 0, info, 1.0)), np.inf)
        if at_bound.any():
            names = list(np.asarray(labels)[at_bound][:5]) if labels is not None else []
            if method == "ml":
                why = (f"their responses are all extreme (no successes or no failures); their theta is "
                       f"set to the bound prior mean +- {ML_BOUND:g} prior SDs")
            else:
                why = (f"their WLE lies beyond prior mean +- {ML_BOUND * 2.0**_WLE_WIDENINGS:g} prior SDs; "
                       "their theta is set to that bound")
            warnings.warn(
                f"{int(at_bound.sum())} model(s) have no finite {method.upper()} estimate (e.g. {names}): "
                f"{why} and their se is not meaningful; use method='map' or "
                "'eap' (the population prior keeps the estimate finite)",
                IRSLWarning,
                stacklevel=3,
            )
        return Estimate(theta, se, at_bound, passes)
    # EAP only needs the mode to centre its nodes
    mode, info, _, converged, passes = _mode(kd, a, d, log_phi, mean, sd, True, n_threads,
                                             tol=_TOL if method == "map" else 1e-3)
    _warn_not_converged(converged, method, labels)
    curv = info + 1.0 / sd**2
    if method == "map":
        se = 1.0 / np.sqrt(np.maximum(curv, 1e-300))
        return Estimate(mode, se, np.zeros(len(mode), bool), passes)
    # EAP: adaptive Gauss-Hermite around the mode (curvature floored at the prior's)
    z, w = gauss_hermite(n_quad)
    scale = 1.0 / np.sqrt(np.maximum(curv, 1.0 / sd**2))
    theta, post_sd = _gh_moments(kd, a, d, log_phi, mean, sd, mode, scale, z, w, n_threads)
    passes += 1
    # the rule misses a posterior with a feature narrower than its node spacing (a sharp
    # question whose step lies inside the posterior, e.g. all answers right on a >= 6), or far
    # from the Gaussian the nodes were placed for: check those models with a second rule
    # re-centred on the first one's mean and SD, and integrate the ones on which the two rules
    # disagree on a dense grid
    # a question's log-likelihood changes over ~1/|a_j| in ability (its poles lie pi/|a_j| from
    # the real axis): nodes ~scale/2 apart resolve it only when |a_j| scale is small. _SHARP is
    # generous (the second rule decides); the benchmark's 50-question models (|a| scale ~ 0.2)
    # are not checked. a_max is computed once: the dense grid's step uses it too
    a_max = _max_discrimination(kd, a)
    suspect = (a_max * scale > _SHARP) | (np.abs(theta - mode) > _SKEW * scale) | (
        np.abs(post_sd - scale) > _SKEW * scale)
    if suspect.any():
        idx = np.flatnonzero(suspect)
        sub = _model_subset(kd, idx, n_threads)
        c, s = theta[idx], np.maximum(post_sd[idx], 1e-3 * scale[idx])
        th2, sd2 = _gh_moments(sub, a, d, log_phi, mean[idx], sd[idx], c, s, z, w, n_threads)
        passes += 1
        off = (np.abs(th2 - theta[idx]) > _EAP_AGREE * s) | (np.abs(sd2 - post_sd[idx]) > _EAP_AGREE * s)
        if off.any():
            bad = idx[off]
            width = np.maximum.reduce([post_sd[bad], sd2[off], scale[bad]])
            narrow = np.minimum.reduce([post_sd[bad], sd2[off], scale[bad]])
            th3, sd3, n_dense = _dense_moments(_model_subset(kd, bad, n_threads), a, d, log_phi, mean[bad], sd[bad],
                                               th2[off], width, narrow, a_max[bad],
                                               n_threads)
            passes += n_dense
            theta[bad], post_sd[bad] = th3, sd3
    return Estimate(theta, post_sd, np.zeros(len(theta), bool), passes)


def _gh_moments(kd, a, d, log_phi, mean, sd, centre, scale, z, w, n_threads):
    """Posterior mean and SD of each model by the Gauss–Hermite rule ``(z, w)`` placed at
    ``centre + scale * z`` (one :func:`~irsl_stats._kernel.loglik_grid` pass)."""
    nodes = centre[:, None] + scale[:, None] * z[None, :]
    ll = _kernel.loglik_grid(kd, a[:, None], d, log_phi, nodes[:, :, None], n_threads=n_threads)
    log_prior = -0.5 * ((nodes - mean[:, None]) / sd[:, None]) ** 2
    terms = ll + log_prior + np.log(w)[None, :] + 0.5 * z[None, :] ** 2
    terms -= logsumexp(terms, axis=1, keepdims=True)
    post = np.exp(terms)
    theta = (post * nodes).sum(axis=1)
    var = (post * (nodes - theta[:, None]) ** 2).sum(axis=1)
    return theta, np.sqrt(var)


def _max_discrimination(kd, a) -> np.ndarray:
    """Largest ``|a_j|`` among the responses that carry weight, per model (0 if none)."""
    aj = np.abs(a[kd.item])
    if kd.weight is not None:
        aj = np.where(kd.weight > 0, aj, 0.0)
    out = np.zeros(kd.n_models)
    np.maximum.at(out, kd.model, aj)
    return out


def _model_subset(kd, idx, n_threads=None) -> "_kernel.KernelData":
    """The responses of the models ``idx`` (sorted, distinct) as a KernelData of ``len(idx)``
    models, in that order (``n_threads`` for its one-off validation)."""
    ptr = kd.model_ptr
    lo, hi = ptr[idx], ptr[idx + 1]
    counts = hi - lo
    rows = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
    return _kernel.KernelData(
        np.repeat(np.arange(len(idx)), counts), kd.item[rows], kd.y[rows], n_models=len(idx),
        n_items=kd.n_items, family=kd.family,
        trials=None if kd.trials is None else kd.trials[rows],
        weight=None if kd.weight is None else kd.weight[rows],
        model_ptr=np.concatenate([[0], np.cumsum(counts)]),
        n_threads=n_threads,
    )


def _dense_moments(kd, a, d, log_phi, mean, sd, centre, width, narrow, a_max, n_threads):
    """Posterior mean and SD of each model by the trapezoid rule on a dense uniform grid.

    For an integrand analytic in a strip and negligible at the ends the trapezoid rule
    converges exponentially: its error is ``~exp(-2 pi^2 s / h)`` for the smallest of the
    posterior's width ``s`` and a question's ``pi / |a_j|`` (here about ``1e-15`` at the
    starting step). The grid starts at ``centre +- 8 width`` with step
    ``min(0.5 / a_max, narrow / 2)``; it is widened (doubled) for models whose log-posterior
    at an end is within :data:`_DENSE_TAIL` of its maximum, and its step halved for those on
    which the two half grids (even and odd points, step ``2 h``) disagree by more than
    :data:`_DENSE_AGREE` posterior SDs (their error is then ``~(2h error)^2``).

    Returns theta (M,), the posterior SD (M,) and the number of kernel passes.
    """
    m = kd.n_models
    half = 8.0 * width
    with np.errstate(divide="ignore"):
        h = np.minimum(np.where(a_max > 0, 0.5 / a_max, np.inf), narrow / 2.0)
    theta = np.array(centre, float, copy=True)
    post_sd = np.array(width, float, copy=True)
    todo = np.arange(m)
    passes = 0
    for _ in range(_DENSE_ROUNDS):
        k = int(np.max(np.ceil(half[todo] / h[todo])))
        step = half[todo] / k  # <= h: every model of the pass has 2 k + 1 points
        u = np.arange(-k, k + 1, dtype=float)
        nodes = centre[todo, None] + step[:, None] * u[None, :]
        sub = kd if len(todo) == m else _model_subset(kd, todo, n_threads)
        ll = _kernel.loglik_grid(sub, a[:, None], d, log_phi, nodes[:, :, None], n_threads=n_threads)
        passes += 1
        lp = ll - 0.5 * ((nodes - mean[todo, None]) / sd[todo, None]) ** 2
        lp -= np.max(lp, axis=1, keepdims=True)
        moments = []
        for sl in (slice(None), slice(0, None, 2), slice(1, None, 2)):
            p = np.exp(lp[:, sl] - logsumexp(lp[:, sl], axis=1, keepdims=True))
            mu = (p * nodes[:, sl]).sum(axis=1)
            moments.append((mu, np.sqrt((p * (nodes[:, sl] - mu[:, None]) ** 2).sum(axis=1))))
        (mu, s), (mu_e, s_e), (mu_o, s_o) = moments
        theta[todo], post_sd[todo] = mu, s
        short = np.maximum(lp[:, 0], lp[:, -1]) > -_DENSE_TAIL
        coarse = (np.abs(mu_e - mu_o) > _DENSE_AGREE * s) | (np.abs(s_e - s_o) > _DENSE_AGREE * s)
        half[todo] = np.where(short, 2.0 * half[todo], half[todo])
        h[todo] = np.where(coarse, 0.5 * step, step)
        todo = todo[short | coarse]
        if not len(todo):
            break
    return theta, post_sd, passes
