"""Marginal maximum likelihood by adaptive Gauss–Hermite quadrature (EM).

The ability of model *i* is ``theta_i = x_i' beta + sigma u_i`` with ``u_i ~ N(0, 1)`` integrated
out. For each model the integrand ``f(y_i | theta) N(theta; x_i' beta, sigma^2)`` is centred at its
mode and scaled by its curvature (adaptive quadrature, Liu & Pierce 1994), so a few nodes suffice
even when a model answers thousands of questions and the posterior is sharp.

One EM iteration:

1. one Newton step per model toward the posterior mode (kernel pass over model blocks);
2. the log-likelihood of every model at its ``n_quad`` nodes (one kernel grid pass) → marginal
   log-likelihood and posterior weights;
3. M-step for the questions: one Newton step per question on the expected complete-data
   log-likelihood Q (kernel weighted pass, the Fisher-identity gradient), re-solved with the
   coordinates it clipped held at their bound, and halved per question while it lowers Q (one
   more grid pass to check the total and, when it fell, ``n_quad`` passes per check of the
   questions' Q; :func:`_safeguarded_item_update`), so the marginal
   log-likelihood at this E-step's nodes cannot fall (a generalised EM step);
4. M-step for the latent regression: ``beta`` by least squares on the posterior means and
   ``sigma^2`` from the posterior second moments: by default restricted ML, the maximiser of the
   expected complete-data log-likelihood plus the REML penalty ``-1/2 log det(X'WX)``,
   ``W = diag(1 / (sigma^2 + v_i))`` with ``v_i`` the measurement variances of the abilities at
   this E-step (:func:`_reml_penalty`; a 1-D root; the divisor ``M - P`` when every ``v_i = 0``,
   too large a divisor -- sigma 21% high at 40 models x 20 questions -- when the abilities are
   noisy), so EM maximises the marginal log-likelihood plus that penalty (the ``v_i`` are held
   fixed within an EM run after the first and refreshed between runs until they settle, see
   :func:`fit_mml`); ``sum / M`` (maximum
   likelihood) with ``reml=False`` and for a 2PL without covariates, whose ``sigma`` the
   renormalisation fixes at 1;
5. renormalise the ability scale (mean of ``x' beta`` = 0, and for 2PL ``var(x' beta) + sigma^2 =
   1``): an exact reparametrisation.

The iterates are extrapolated by SQUAREM (:mod:`irsl_stats.acceleration`, shared with the
multidimensional fit), which also owns the stopping rule.

Standard errors: ``beta, sigma`` from the observed information of the marginal likelihood given the
question parameters (Louis' formula, exact by quadrature); question parameters from the expected
complete-data information minus the posterior variance of their scores (Louis' correction,
linearised in the ability).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

import numpy as np
from scipy import optimize
from scipy.special import logsumexp

from . import _kernel
from .acceleration import EMStep, run_em
from .formula import column_scales, scaled_lstsq
from .inference import _batched_inverse, global_precision_cov, item_column_index, item_columns
from .jml import (A_BOUND, ItemState, JMLOptions, _from_item_matrix, _item_matrix, fit_jml,
                  newton_item_update, within_bounds)
from .precision import PrecisionModel
from .priors import A_FLOOR, DiscriminationPrior

__all__ = ["fit_mml", "gauss_hermite", "not_converged_text", "sigma_divisor"]


def gauss_hermite(n: int):
    """Nodes and weights for E[g(Z)], Z ~ N(0, 1): ``sum(w * g(z))`` (weights sum to 1)."""
    if n < 1:
        raise ValueError(f"n_quad must be at least 1; got {n}")
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / w.sum()


class _Posterior:
    """Adaptive quadrature of each model's posterior for fixed question and regression parameters."""

    def __init__(self, kd, z, w, n_threads):
        self.kd = kd
        self.z = z
        self.logw = np.log(w)
        self.n_threads = n_threads
        self.n_passes = 0

    def mode_step(self, mode, items, log_phi, mean, sigma, information):
        acc = _kernel.accumulate(
            self.kd, mode[:, None], items.a[:, None], items.d, log_phi,
            model_blocks=True, item_blocks=False, information=information, n_threads=self.n_threads,
        )
        self.n_passes += 1
        g = acc.grad_theta[:, 0] - (mode - mean) / sigma**2
        h = acc.hess_theta[:, 0, 0] - 1.0 / sigma**2
        h = np.minimum(h, -1.0 / sigma**2)
        step = np.clip(-g / h, -1.0, 1.0)
        return mode + step, -h

    def evaluate(self, mode, curv, items, log_phi, mean, sigma):
        """Nodes (M, Q), log integrand terms (M, Q), marginal log-likelihood per model (M,)."""
        scale = 1.0 / np.sqrt(curv)
        nodes = mode[:, None] + scale[:, None] * self.z[None, :]
        ll = _kernel.loglik_grid(self.kd, items.a[:, None], items.d, log_phi, nodes[:, :, None], n_threads=self.n_threads)
        self.n_passes += 1
        log_prior = -0.5 * np.log(2 * np.pi * sigma**2) - 0.5 * ((nodes - mean[:, None]) / sigma) ** 2
        terms = ll + log_prior + self.logw[None, :] + np.log(scale)[:, None] + 0.5 * self.z[None, :] ** 2 + 0.5 * np.log(2 * np.pi)
        marg = logsumexp(terms, axis=1)
        return nodes, terms, marg


def not_converged_text(label: str, max_iter: int, last_change: float, n_falls: int = 0,
                       n_judged: int = 0, climbing: bool = True) -> str:
    """The warning of an EM run that stopped at ``max_iter`` without converging.

    The change of the objective needs two iterations to compare: after one (``max_iter=1``)
    ``last_change`` is NaN, and the warning says it stopped after one iteration instead of
    printing "last change nan". An EM that is not climbing (``climbing=False``: the objective
    fell on ``n_falls`` of its last ``n_judged`` steps, see :class:`irsl_stats.acceleration.EMRun`)
    cycles, and more iterations do not help: the warning says so and points to the usual causes
    instead of advising a larger ``max_iter``.
    """
    if not climbing:
        return (f"{label} did not converge in {max_iter} EM iterations: the EM is not climbing (the "
                f"marginal log-likelihood fell on {n_falls} of its last {n_judged} EM steps: it cycles), "
                "so a larger max_iter will not help; the estimates are those of the best iterate. This "
                "happens when questions sit at a parameter bound or their responses separate the models "
                "(see the warnings on bounds and separation): use discrimination_prior=1.0 (log-normal "
                "prior on the discriminations), irt='1pl', or drop those questions")
    if np.isfinite(last_change):
        return (f"{label} did not converge in {max_iter} EM iterations (last change of the marginal "
                f"log-likelihood {last_change:.2e}); increase max_iter")
    return (f"{label} stopped after {max_iter} EM iteration(s), too few to judge convergence (no "
            "change of the marginal log-likelihood to compare); increase max_iter")


def sigma_divisor(irt: str, x: np.ndarray, reml: bool = True) -> Tuple[bool, int]:
    """Whether the M-step's sigma (Sigma) is REML-type, and its divisor.

    ``M - P`` (the degrees-of-freedom correction of REML): ML underestimates sigma^2 by ~P/M,
    which biases coefficients on the default (population) scale. Not for a 2PL without
    covariates: there the renormalisation sets the scale whatever the divisor, and ``M - 1`` would
    only move the EM fixed point off the maximum of the likelihood (a common factor
    ``sqrt(M / (M - 1))`` on the discriminations that the likelihood does not want: on 6
    calibration models the log-likelihood was 0.04 below its maximum); then ``M``. The
    one-dimensional fit uses the divisor only under ML: its REML M-step accounts for the
    abilities' measurement error (:func:`_reml_sigma2`), for which ``M - P`` is the error-free limit.

    Parameters
    ----------
    irt : {"1pl", "2pl"}
    x : ndarray, shape (M, P)
        Latent-regression design.
    reml : bool
        ``False`` asks for maximum likelihood (divisor ``M``) whatever the design: the estimates
        then maximise the marginal likelihood, which likelihood-ratio tests and information
        criteria across scaling laws with different covariates need.

    Returns
    -------
    (bool, int)
    """
    m, p = x.shape
    reml = bool(reml) and (irt == "1pl" or p > 1) and m > p
    return reml, (m - p if reml else m)


#: Largest measurement variance of an ability relative to the E-step's sigma^2 in the REML
#: penalty: a model measured that poorly carries no weight there anyway (weight below 1e-6 of a
#: perfectly measured one), and the cap keeps X'WX nonsingular when responses barely move an
#: ability (an information of 0 would give it weight exactly 0 and could empty a factor level).
_V_CAP = 1e6
#: Largest number of EM runs of a REML fit, each after the first with the measurement variances
#: in the penalty taken at the previous run's fixed point (2-4 runs in all on the test data sets,
#: the last one converging at once).
_MAX_REML_RUNS = 20


def _measurement_variances(curv: np.ndarray, sigma: float) -> np.ndarray:
    """The abilities' measurement variances ``v_i`` (M,) from the posterior curvature at the mode.

    The E-step's curvature of model *i*'s log posterior at its mode is its responses' information
    plus ``1 / sigma^2`` (the prior's), so ``v_i = 1 / (curv_i - 1 / sigma^2)``: the variance of the
    ability as its responses alone measure it (normal approximation of the likelihood), capped at
    ``_V_CAP sigma^2``. It comes with the E-step at no cost, and unlike ``1 / p_i - 1 / sigma^2`` from
    the posterior variances ``p_i`` it does not subtract two quadrature sums that nearly cancel for
    poorly measured abilities.
    """
    s2 = sigma**2
    info = np.maximum(np.asarray(curv, float) - 1.0 / s2, 1.0 / (_V_CAP * s2))
    return 1.0 / info


def _reml_penalty(x: np.ndarray, s2: float, v: np.ndarray) -> Tuple[float, float, float]:
    """REML penalty ``-1/2 log det(X' W X)``, ``W = diag(1 / (s2 + v))``, and its s2-derivatives.

    With abilities measured with variances ``v`` the latent regression is, in the normal
    approximation of each model's likelihood, ``theta_hat_i = x_i' beta + u_i + e_i`` with
    ``u_i ~ N(0, s2)`` and ``e_i ~ N(0, v_i)``; integrating ``beta`` out of its likelihood adds this
    penalty (restricted ML). With ``v = 0`` it is ``P/2 log s2`` up to a constant, the divisor
    ``M - P``; with ``v > 0`` poorly measured models, which carry little information on ``beta``,
    no longer count as a full degree of freedom each (the divisor ``M - P`` then inflated sigma by
    21% at 40 models x 20 bernoulli questions). Through the QR ``W^1/2 X = Q R`` (columns scaled
    first, as :func:`~irsl_stats.formula.scaled_lstsq` does) with leverages ``h_i`` (squared row
    norms of ``Q``): ``d/ds2 = tr((X'WX)^-1 X'W^2X) / 2 = sum(w h) / 2`` and
    ``d2/ds2^2 = (||Q'WQ||_F^2 - 2 sum(w^2 h)) / 2``.

    Parameters
    ----------
    x : ndarray, shape (M, P)
        Latent-regression design (full column rank).
    s2 : float
        ``sigma^2``.
    v : ndarray, shape (M,)
        Measurement variances of the abilities (>= 0, finite).

    Returns
    -------
    (float, float, float)
        The penalty and its first and second derivatives in ``s2``.
    """
    w = 1.0 / (s2 + v)
    scale = column_scales(x)
    q, r = np.linalg.qr((x / scale) * np.sqrt(w)[:, None])
    value = -float(np.sum(np.log(np.abs(np.diag(r)))) + np.sum(np.log(scale)))
    lev = np.sum(q * q, axis=1)
    qwq = (q * w[:, None]).T @ q
    d1 = 0.5 * float(np.sum(w * lev))
    d2 = 0.5 * (float(np.sum(qwq * qwq)) - 2.0 * float(np.sum(w * w * lev)))
    return value, d1, d2


def _reml_sigma2(x: np.ndarray, ss: float, v: np.ndarray) -> float:
    """The M-step's REML ``sigma^2``: the maximiser of ``-M/2 log s2 - ss / (2 s2) + _reml_penalty``.

    ``ss = sum_i E[(theta_i - x_i' beta)^2]`` over the posterior. The derivative times ``2 s2^2`` is
    ``g(s2) = ss - M s2 + s2^2 tr((X'WX)^-1 X'W^2X)``, and ``0 <= s2 tr(...) <= P`` puts its root in
    ``[ss / M, ss / (M - P)]`` (``g >= 0`` at the left end, ``<= 0`` at the right one): Brent's
    method there. With ``v = 0`` the root is the right end, the divisor ``M - P``.
    """
    m = x.shape[0]

    def g(s2: float) -> float:
        return ss - m * s2 + 2.0 * s2**2 * _reml_penalty(x, s2, v)[1]

    lo, hi = ss / m, ss / (m - x.shape[1])
    if g(hi) >= 0.0:
        # rounding at v ~ 0, where s2 tr(...) = P exactly
        return hi
    if g(lo) <= 0.0:
        return lo
    return float(optimize.brentq(g, lo, hi, xtol=1e-15 * hi, rtol=8.9e-16))


@dataclass
class _MMLState:
    """What one EM iteration carries: question parameters, latent regression and the posterior
    modes (the quadrature's centres, a warm start that is not a parameter); for REML also the
    abilities' measurement variances in the penalty while they are frozen for an EM run (None:
    take them from the next E-step), on the renormalised ability scale."""

    items: ItemState
    beta: np.ndarray
    sigma: float
    mode: np.ndarray
    meas_var: Optional[np.ndarray] = None

    def pack(self, irt: str) -> np.ndarray:
        """Parameters as one vector ``(a [2PL], d, gamma, beta, log sigma)`` for SQUAREM."""
        parts = ([self.items.a] if irt == "2pl" else []) + [
            self.items.d, np.atleast_1d(self.items.gamma), self.beta, [np.log(self.sigma)]]
        return np.concatenate([np.asarray(p, float) for p in parts])

    def unpack(self, v: np.ndarray, irt: str, a_prior: DiscriminationPrior,
               per_item_precision: bool) -> Optional["_MMLState"]:
        """The state with parameters ``v`` (this state's modes and ``meas_var``), or None when
        ``v`` leaves the parameter space (a discrimination at or below the log-normal prior's
        floor)."""
        if not np.all(np.isfinite(v)):
            return None
        n, n_gamma = len(self.items.d), np.atleast_1d(self.items.gamma).size
        at = n if irt == "2pl" else 0
        a = v[:n] if irt == "2pl" else self.items.a
        if irt == "2pl" and a_prior.active and np.any(a <= A_FLOOR):
            return None
        a, d, gamma = within_bounds(a, v[at: at + n], v[at + n: at + n + n_gamma].reshape(np.shape(self.items.gamma)),
                                    per_item_precision)
        beta = v[at + n + n_gamma: -1]
        return _MMLState(ItemState(a, d, gamma), beta, float(np.exp(v[-1])), self.mode, self.meas_var)


def _scaled_change(before: ItemState, after: ItemState, h_item, cols, irt, per_item_s) -> float:
    """Largest change of a question parameter in standard-error units ``|delta| sqrt(-h_kk)``."""
    deltas = []
    if irt == "2pl":
        deltas.append(after.a - before.a)
    deltas.append(after.d - before.d)
    if per_item_s:
        deltas.append(after.gamma - before.gamma)
    delta = np.column_stack(deltas)
    info = np.maximum(-np.einsum("nkk->nk", h_item[:, cols][:, :, cols]), 0.0)
    return float(np.max(np.abs(delta) * np.sqrt(info))) if delta.size else 0.0


#: Halvings of a question's M-step before the question keeps its parameters (2^-8 of the step).
_MAX_HALVINGS = 8


def _posterior_item_values(kd, items: ItemState, precision: PrecisionModel, nodes, post,
                           n_threads) -> Tuple[np.ndarray, int]:
    """Each question's expected complete-data log-likelihood (N,), and the kernel passes it took.

    The values, at fixed nodes and posterior weights, are the per-question terms of the M-step's
    objective; they take one kernel pass over the data per node (``nodes.shape[1]`` passes, which
    the fits count).
    """
    log_phi = np.broadcast_to(precision.log_phi(items.gamma), (kd.n_items,))[kd.item]
    a_obs, d_obs = items.a[kd.item], items.d[kd.item]
    out = np.zeros(kd.n_items)
    for k in range(nodes.shape[1]):
        dens = _kernel.obs_derivatives(kd, a_obs * nodes[kd.model, k] + d_obs, log_phi,
                                       n_threads=n_threads)[0]
        wt = post[kd.model, k] if kd.weight is None else post[kd.model, k] * kd.weight
        # the kernel passes skip zero-weight rows, whose density may be non-finite
        with np.errstate(invalid="ignore", over="ignore"):
            terms = np.where(wt > 0, wt * dens, 0.0)
        out += np.bincount(kd.item, weights=terms, minlength=kd.n_items)
    return out, nodes.shape[1]


def _item_prior_values(items: ItemState, centre: ItemState, precision: PrecisionModel, irt: str,
                       a_prior: DiscriminationPrior) -> np.ndarray:
    """Each question's share (N,) of the shrinkage priors, their means held at ``centre``'s (the
    priors centre on the mean, which couples the questions only through O(1/N) terms)."""
    out = np.zeros(len(items.d))
    if precision.per_item and precision.prior_scale:
        g_ = np.asarray(items.gamma, float)
        out -= (g_ - np.mean(centre.gamma)) ** 2 / (2.0 * precision.prior_scale**2)
    if irt == "2pl" and a_prior.active:
        log_a = np.log(np.maximum(items.a, A_FLOOR))
        out -= (log_a - np.mean(np.log(np.maximum(centre.a, A_FLOOR)))) ** 2 / (2.0 * a_prior.scale**2)
    return out


def _safeguarded_item_update(kd, old: ItemState, new: ItemState, q_old: Optional[float], nodes, post,
                             precision: PrecisionModel, irt: str, a_prior: DiscriminationPrior,
                             n_threads) -> Tuple[ItemState, int, int]:
    """The M-step's question parameters, with each step halved while its question's Q falls.

    A generalised EM step: the step of every question whose expected complete-data
    log-likelihood fell is halved until it does not.

    One Newton step per question does not always increase the M-step's objective Q (indefinite
    curvature, a step cut at a bound); a Q that falls lets the observed log-likelihood fall, and
    the EM cycles. Q is evaluated at the nodes and posterior weights of this E-step, so the
    comparison is exact: with Q not lower, the marginal log-likelihood at these nodes is not lower
    either. The total is checked first (one pass); the per-question values only when it fell.

    Parameters
    ----------
    old, new : ItemState
        The parameters of the E-step and those of the (projected) Newton step.
    q_old : float or None
        Q (without priors) at ``old``, as the M-step's weighted kernel pass returned it (None:
        evaluated here, for a point the pass was not made at).

    Returns
    -------
    (ItemState, int, int)
        The accepted parameters, the number of questions whose step was shortened, and the
        number of kernel passes over the data made here (one per total, one per node for each
        per-question evaluation), which the fits add to their count of passes.
    """
    per_item_s = precision.per_item
    n_passes = 0

    def total(it: ItemState) -> float:
        nonlocal n_passes
        ll = _kernel.loglik_grid(kd, it.a[:, None], it.d, precision.log_phi(it.gamma), nodes[:, :, None],
                                 n_threads=n_threads)
        n_passes += 1
        return float((post * ll).sum()) + precision.prior_terms(it.gamma)[0] + a_prior.value(it.a)

    def per_question(it: ItemState, centre: ItemState) -> np.ndarray:
        nonlocal n_passes
        values, passes = _posterior_item_values(kd, it, precision, nodes, post, n_threads)
        n_passes += passes
        return values + _item_prior_values(it, centre, precision, irt, a_prior)

    f_old = (total(old) if q_old is None
             else q_old + precision.prior_terms(old.gamma)[0] + a_prior.value(old.a))
    # summation-order rounding of Q, not a fall
    tol = 1e-11 * max(1.0, abs(f_old))
    if total(new) >= f_old - tol:
        return new, 0, n_passes
    per_old = per_question(old, old)
    tol_j = 1e-11 * np.maximum(1.0, np.abs(per_old))
    x_old = _item_matrix(old, irt, per_item_s)
    delta = _item_matrix(new, irt, per_item_s) - x_old
    frac = np.ones(len(x_old))
    cand = new
    for halving in range(_MAX_HALVINGS + 1):
        per_new = per_question(cand, old)
        bad = per_new < per_old - tol_j
        if not bad.any():
            break
        # old and new lie in the box, so every shortened step does too; after the last halving
        # a question keeps its parameters
        frac[bad] = 0.5 * frac[bad] if halving < _MAX_HALVINGS else 0.0
        cand = _from_item_matrix(x_old + frac[:, None] * delta, new, irt, per_item_s)
    if total(cand) < f_old - tol:
        # the global precision parameters (or the priors' centres) moved Q down: keep the
        # question parameters of this E-step, so Q does not fall
        return old, len(frac), n_passes
    return cand, int((frac < 1.0).sum()), n_passes


def _regression_derivatives(x, nodes, post, beta, sigma):
    """Per-model marginal scores (M, P+1) and total Hessian (P+1, P+1) of the marginal
    log-likelihood in (beta, sigma) given the questions (Louis' formula by quadrature)."""
    m, p = x.shape
    r = nodes - (x @ beta)[:, None]  # (M, Q)
    s2 = sigma**2
    # complete-data scores per node: beta: x r / s2 ; sigma: -1/sigma + r^2/sigma^3
    e_r = (post * r).sum(1)
    e_r2 = (post * r * r).sum(1)
    e_r3 = (post * r**3).sum(1)
    e_r4 = (post * r**4).sum(1)
    scores = np.column_stack([x * (e_r / s2)[:, None], -1.0 / sigma + e_r2 / sigma**3])
    # E[H]
    h = np.zeros((p + 1, p + 1))
    h[:p, :p] = -(x.T @ x) / s2
    h[:p, p] = h[p, :p] = -2.0 * (x.T @ e_r) / sigma**3
    h[p, p] = np.sum(1.0 / s2 - 3.0 * e_r2 / s2**2)
    # + Var[S]: S_beta = x r/s2, S_sigma = -1/sigma + r^2/sigma^3
    var_r = e_r2 - e_r**2
    cov_r_r2 = e_r3 - e_r * e_r2
    var_r2 = e_r4 - e_r2**2
    h[:p, :p] += (x.T * (var_r / s2**2)) @ x
    cross = x.T @ (cov_r_r2 / (s2 * sigma**3))
    h[:p, p] += cross
    h[p, :p] += cross
    h[p, p] += np.sum(var_r2 / sigma**6)
    return scores, h


def fit_mml(
    kd,
    design,
    precision: PrecisionModel,
    irt: str,
    *,
    n_quad: int = 7,
    max_iter: int = 500,
    tol: float = 1e-6,
    verbose: bool = False,
    n_threads=None,
    a_prior: Optional[DiscriminationPrior] = None,
    accelerate: bool = True,
    reml: bool = True,
):
    """Marginal ML of question parameters, ``beta`` and ``sigma``.

    ``a_prior`` (a log-normal prior on the 2PL discriminations) makes it penalised marginal ML:
    the prior enters the M-step, the objective and the questions' standard errors.
    ``accelerate`` extrapolates the EM iterates by SQUAREM (:mod:`irsl_stats.acceleration`);
    ``False`` runs plain EM (same optimum, more iterations). By default ``sigma`` is restricted
    ML: EM maximises the marginal log-likelihood plus the REML penalty of the latent regression
    with the abilities' measurement variances (:func:`_reml_penalty`; ``P log sigma``, the divisor
    ``M - P``, for precisely measured abilities), the measurement variances recomputed at every
    E-step in a first, loosely converged EM run, then held fixed within each further run (taken
    at the previous run's fixed point) until a run converges at once; the reported number of
    iterations counts the EM maps of all runs. ``reml=False`` divides sigma^2 by ``M``
    (:func:`sigma_divisor`): the estimates are then the maximum of the marginal likelihood.
    ``verbose`` prints one line for the joint-ML start and one per EM map, labelled
    ``MML (REML run k)`` under REML (each run numbers its maps from 1).

    Returns
    -------
    irsl_stats.estimate.Estimates
        ``theta`` are posterior means (EAP) and ``theta_var`` posterior variances.
    """
    from .estimate import Estimates, _n_item_params, sigma_text
    from .latent_regression import fit_latent_regression

    t0 = time.perf_counter()
    x = design.matrix
    # exact (observed) curvature for the Newton steps: faster than Fisher scoring (see JMLOptions)
    information = "observed"
    # start from a loose joint-ML fit: close to the MML solution when models answer many questions
    a_prior = a_prior or DiscriminationPrior()
    start_options = JMLOptions(max_iter=30, tol=1e-2, n_threads=n_threads, extreme_off_scale=False)
    jf = fit_jml(kd, precision, irt, options=start_options, a_prior=a_prior)
    if verbose:
        # the start prints no iteration lines of its own, and on large data it takes a while
        print(f"MML start: joint ML, {jf.n_iter} iteration(s) (at most {start_options.max_iter}, "
              f"tolerance {start_options.tol:g}), {jf.n_passes} kernel passes, {jf.seconds:.2f} s",
              flush=True)
    warnings_: List[str] = []
    reg = fit_latent_regression(x, jf.theta, np.full(kd.n_models, 1e-4), names=design.column_names)
    z, w = gauss_hermite(n_quad)
    post_eval = _Posterior(kd, z, w, n_threads)
    n_passes = jf.n_passes
    per_item_s = precision.per_item
    cols = item_column_index(irt, precision)
    ones_coef = scaled_lstsq(x, np.ones(len(x)))

    reml, dof = sigma_divisor(irt, x, reml)

    def reml_term(sigma: float, v: np.ndarray) -> float:
        # the REML M-step maximises the marginal log-likelihood plus the REML penalty at the
        # abilities' measurement variances v of the E-step (_reml_penalty), not the
        # log-likelihood itself: this is the objective EM increases, so SQUAREM's safeguard must
        # use it (the reported llf has no such term)
        if not reml:
            return 0.0
        # a non-finite curvature (a diverged Newton step) makes the llf non-finite too
        return _reml_penalty(x, sigma**2, v)[0] if np.all(np.isfinite(v)) else -np.inf

    def em_map(state: _MMLState) -> EMStep:
        items, beta, sigma = state.items, state.beta, state.sigma
        log_phi = precision.log_phi(items.gamma)
        mean = x @ beta
        mode, curv = post_eval.mode_step(state.mode, items, log_phi, mean, sigma, information)
        nodes, terms, marg = post_eval.evaluate(mode, curv, items, log_phi, mean, sigma)
        llf = float(marg.sum())
        # the penalty's measurement variances. In the runs after the first they are frozen for the
        # whole run (taken at its first E-step), so every M-step increases the same objective,
        # llf + penalty, whose maximum is the run's fixed point: recomputed at every E-step they
        # move with sigma, the EM's fixed point is not that objective's maximum, and near it the
        # objective fell at every step (SQUAREM then stopped extrapolating: 500+ EM steps on one
        # data set of 40 models x 20 questions). The first, loosely converged run recomputes
        # them: frozen at the rough start of the Pythia MATH 2PL counts they held its whole
        # climb to a poor penalty (not converged in 500 steps)
        v = (state.meas_var if state.meas_var is not None or not reml
             else _measurement_variances(curv, sigma))
        objective = (llf + precision.prior_terms(items.gamma)[0] + a_prior.value(items.a)
                     + reml_term(sigma, v))
        if not np.isfinite(objective):
            return EMStep(-np.inf, llf, state, np.inf)
        post = np.exp(terms - marg[:, None])
        # M-step, questions
        q_old, g_item, h_item = _kernel.accumulate_items_weighted(
            kd, items.a[:, None], items.d, log_phi, nodes[:, :, None], post,
            information=information, n_threads=n_threads,
        )
        post_eval.n_passes += 1
        # a projected Newton step at the parameter bounds (see newton_item_update)
        new_items, _ = newton_item_update(g_item, h_item, items, precision, irt, 1.0, a_prior)
        # the renormalisation (an exact reparametrisation) may have pushed a discrimination at
        # the bound past A_BOUND; the M-step returns it to the box, and Q must not fall from that
        # projected point (every step then stays in the box)
        a_box = np.clip(items.a, -A_BOUND, A_BOUND)
        in_box = bool(np.all(a_box == items.a))
        new_items, _, n_safeguard = _safeguarded_item_update(
            kd, items if in_box else ItemState(a_box, items.d, items.gamma), new_items,
            q_old if in_box else None, nodes, post, precision, irt, a_prior, n_threads)
        # the safeguard's own passes: a grid pass per total of Q (one when Q rose) and, when it
        # fell, n_quad passes per check of the questions' Q (up to _MAX_HALVINGS + 2 checks)
        post_eval.n_passes += n_safeguard
        # M-step, latent regression (closed form)
        e_theta = (post * nodes).sum(1)
        e_theta2 = (post * nodes**2).sum(1)
        beta = scaled_lstsq(x, e_theta)
        fitted = x @ beta
        ss = max(float(np.sum(e_theta2 - 2 * e_theta * fitted + fitted**2)), 1e-12 * dof)
        # REML: the root of the expected complete-data score plus the penalty's (M - P only when
        # the abilities are measured without error); ML: ss / M
        sigma = float(np.sqrt(_reml_sigma2(x, ss, v) if reml else ss / dof))
        # renormalise: mean(x'beta) = 0, var(x'beta) + sigma^2 = 1 (2PL)
        loc = float(fitted.mean())
        scale = float(np.sqrt(fitted.var() + sigma**2)) if irt == "2pl" else 1.0
        new = _MMLState(
            ItemState(new_items.a * scale, new_items.d + new_items.a * loc, new_items.gamma),
            (beta - loc * ones_coef) / scale, sigma / scale, (mode - loc) / scale,
            # every state is on the renormalised scale (2PL: var(x'beta) + sigma^2 = 1), so the
            # frozen variances stay as they are. Divided by scale^2 they drifted: the penalty is
            # not scale-invariant (it moves by P log c with the scale c, as P log sigma did), so
            # at the fixed point the M-step's scale is not 1, and the variances shrank at every
            # step while the objective fell (2PL fits stopped at max_iter)
            v if freeze else None)
        # convergence measure: the change of the question parameters over the whole iteration
        # (after renormalisation, so a step the renormalisation undoes does not count), in
        # standard-error units from the M-step curvature
        step = _scaled_change(items, new.items, h_item, cols, irt, per_item_s)
        return EMStep(objective, llf, new, step, message=f"sigma {new.sigma:.4f}")

    start = _MMLState(jf.items, reg.beta.copy(), max(reg.sigma, 0.05), jf.theta.copy())
    history: List[dict] = []
    it = 0
    # REML: a first run with the measurement variances recomputed at every E-step, to a loose
    # tolerance (100x on the objective's change, which such a run cannot meet near a flat
    # optimum); then runs with them frozen at the previous run's fixed point until they no longer
    # move it (a run that converges at once, its first EM step within the stopping rule)
    freeze = False  # read by em_map
    for n_run in range(_MAX_REML_RUNS if reml else 1):
        run = run_em(em_map, start, lambda s: s.pack(irt), lambda v, t: t.unpack(v, irt, a_prior, per_item_s),
                     max_iter=max_iter - it, change_tol=tol * (1e-2 if reml and n_run == 0 else 1e-4),
                     step_tol=tol * 10, accelerate=accelerate, verbose=verbose,
                     # each run numbers its iterations from 1 (and has no change to show on its
                     # first): the label tells a REML run's lines from the previous run's
                     label=f"MML (REML run {n_run + 1})" if reml else "MML")
        history += [dict(h, iter=h["iter"] + len(history)) for h in run.history]
        it += run.n_maps
        if not run.converged or it >= max_iter or (n_run > 0 and run.n_maps <= 2):
            break
        freeze = True
        start = replace(run.state, meas_var=None)
    settled = not reml or (n_run > 0 and run.n_maps <= 2)
    items, beta, sigma, mode = run.state.items, run.state.beta, run.state.sigma, run.state.mode
    converged = run.converged and settled
    if run.converged and not settled:
        warnings_.append(
            f"MML did not converge: after {it} EM iterations in {n_run + 1} runs the abilities' "
            "measurement variances in the REML penalty still moved sigma (each run converged with "
            "those of the previous one, the last at sigma "
            f"{sigma:.4g}); " + ("increase max_iter" if it >= max_iter else
                                 f"they did not settle in {_MAX_REML_RUNS} runs: use reml=False"))
    elif not converged:
        warnings_.append(not_converged_text("MML", max_iter, run.last_change, run.n_falls, run.n_judged,
                                            run.climbing))
    # final posterior at the estimates
    log_phi = precision.log_phi(items.gamma)
    mean = x @ beta
    mode, curv = post_eval.mode_step(mode, items, log_phi, mean, sigma, information)
    nodes, terms, marg = post_eval.evaluate(mode, curv, items, log_phi, mean, sigma)
    post = np.exp(terms - marg[:, None])
    llf = float(marg.sum())
    e_theta = (post * nodes).sum(1)
    v_theta = np.maximum((post * nodes**2).sum(1) - e_theta**2, 0.0)
    scores, h_reg = _regression_derivatives(x, nodes, post, beta, sigma)
    if reml:
        # EM maximised llf + the REML penalty (v held at the E-step's), so the information of
        # sigma is that objective's: the penalty's curvature in sigma, 2 d1 + 4 sigma^2 d2 (d1, d2
        # its s2-derivatives; -P/sigma^2 for well-measured abilities), added, and the scores
        # centred by an equal share of its gradient 2 sigma d1 (P/(M sigma) then). The plain
        # llf's curvature at the REML sigma is (3P - 2M)/sigma^2 for well-measured abilities:
        # standard errors of sigma ~1.15-2x too large, NaN once P > 2M/3.
        n_coef = x.shape[1]
        v_pen = run.state.meas_var if run.state.meas_var is not None else _measurement_variances(curv, sigma)
        _, d1, d2 = _reml_penalty(x, sigma**2, v_pen)
        h_reg[n_coef, n_coef] += 2.0 * d1 + 4.0 * sigma**2 * d2
        scores[:, n_coef] += 2.0 * sigma * d1 / len(x)
    try:
        reg_cov = np.linalg.inv(-h_reg)
    except np.linalg.LinAlgError:
        reg_cov = np.full_like(h_reg, np.nan)
        warnings_.append("the information of the latent regression is singular")
    # question standard errors: complete-data information at the posterior, minus the posterior
    # variance of the scores (Louis), linearised: Var_i[s_ij(theta)] ~ c_ij c_ij' Var(theta_i)
    acc = _kernel.accumulate(
        kd, e_theta[:, None], items.a[:, None], items.d, log_phi,
        model_blocks=False, item_blocks=False, cross=True, information="observed", n_threads=n_threads,
    )
    _, _, h_item = _kernel.accumulate_items_weighted(
        kd, items.a[:, None], items.d, log_phi, nodes[:, :, None], post,
        information="observed", n_threads=n_threads,
    )
    n_passes += post_eval.n_passes + 2
    c = acc.cross[:, 0, :]  # (nobs, 3)
    tau2 = v_theta[kd.model]
    corr = np.zeros((kd.n_items, 3, 3))
    for r_ in range(3):
        for s_ in range(r_, 3):
            vals = np.bincount(kd.item, weights=tau2 * c[:, r_] * c[:, s_], minlength=kd.n_items)
            corr[:, r_, s_] = vals
            corr[:, s_, r_] = vals
    h_marg = h_item + corr
    _, _, hp = precision.prior_terms(items.gamma)
    hb = h_marg[:, cols][:, :, cols].copy()
    if per_item_s and hp is not None:
        hb[:, -1, -1] += hp
    a_curv = a_prior.hessian_a(items.a) if irt == "2pl" and a_prior.active else None
    if a_curv is not None:
        hb[:, 0, 0] += a_curv
    item_cov = _batched_inverse(-hb)
    global_cov = (global_precision_cov(h_marg, precision.z, irt, a_curv)
                  if precision.kind == "linear" else None)
    col_names = item_columns(irt, precision)
    n_constraints = 2 if irt == "2pl" else 1
    n_params = _n_item_params(irt, precision, kd.n_items) + x.shape[1] + 1 - n_constraints
    return Estimates(
        theta=e_theta, theta_var=v_theta, a=items.a, d=items.d, gamma=items.gamma, log_phi=log_phi,
        item_cov=item_cov, item_cols=col_names, global_cov=global_cov, beta=beta, sigma=sigma,
        reg_cov=reg_cov, reg_scores=scores, reg_hessian=h_reg, llf=llf, n_params=n_params,
        converged=converged, n_iter=it, n_passes=n_passes, seconds=time.perf_counter() - t0,
        warnings=warnings_, history=history,
        extra={"Standard errors": "beta, sigma: marginal observed information given the questions "
               "(Louis); questions: complete-data information with Louis' correction",
               "Sigma estimator": sigma_text(reml)},
        sigma_reml=reml,
    )
