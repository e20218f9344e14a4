"""Marginal maximum likelihood with D latent ability dimensions (EM, adaptive quadrature).

The ability of model *i* is a vector ``theta_i`` in R^D, ``theta_i ~ N(B' x_i, Sigma)``, and
question *j* has loadings ``a_j`` in R^D: ``eta_ij = a_j' theta_i + d_j``. Two loading patterns:

``"per_benchmark"``
    One dimension per benchmark; question *j* loads only on its benchmark's dimension (simple
    structure, confirmatory). ``Sigma`` is free: its correlations are the abilities' correlations
    across benchmarks. Identified by mean 0 and variance 1 of every dimension over the fitted
    population (1PL: loadings fixed at 1, mean 0 only).
``"exploratory"``
    Every question loads on every dimension. Identified by a population mean 0 and covariance
    ``I`` and a varimax rotation of the loadings (Kaiser 1958) with each dimension's sign chosen
    so that its loadings sum to a positive number — the conventions of mirt's exploratory models.

One EM iteration (the D = 1 algorithm of :mod:`irsl_stats.mml` in D dimensions):

1. one Newton step per model toward its posterior mode (kernel pass over DxD model blocks);
2. the log-likelihood at ``n_quad^D`` adaptive product Gauss–Hermite nodes per model, centred on
   the mode and scaled along the principal axes of the posterior covariance, so that the rule
   turns with the abilities (one grid pass);
3. M-step for the questions: one Newton step per question on the expected complete-data
   log-likelihood (loadings fixed at 0 by the pattern are held there);
4. M-step for ``B`` and ``Sigma`` (closed form, ``Sigma`` divided by ``M - P`` as REML does when
   its scale is free (1PL) or covariates split it, else by ``M``);
5. renormalisation to the identification above — an exact reparametrisation that also acts as
   parameter expansion (PX-EM), which speeds EM up when the latent covariance is estimated.

The iterates are extrapolated by SQUAREM (:mod:`irsl_stats.acceleration`). With the
discrimination prior on exploratory loadings (on the norm of each loading vector) step 5 moves
only the mean and ``Sigma`` stays at ``I``: the rescaling to covariance ``I`` is not orthogonal,
so it would change the prior while leaving the likelihood alone, and EM would not settle at the
penalised optimum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import product
from typing import List, Optional

import numpy as np
from scipy.special import logsumexp

from . import _kernel
from .acceleration import EMStep, run_em
from .formula import scaled_lstsq
from .inference import _batched_inverse
from .jml import A_BOUND, D_BOUND, LOG_PHI_BOUNDS, JMLOptions, _safe_newton, fit_jml, within_bounds
from .mml import gauss_hermite, not_converged_text, sigma_divisor
from .precision import PrecisionModel
from .priors import A_FLOOR, DiscriminationPrior

__all__ = ["LoadingPattern", "MultiEstimates", "fit_multidim", "product_grid", "default_n_quad",
           "MultiPosterior"]

PATTERNS = ("per_benchmark", "exploratory")


def default_n_quad(dims: int) -> int:
    """Nodes per dimension of the product grid: 7 for D <= 2, 5 for D = 3, 4 for D = 4, then 3
    (adaptive quadrature is accurate with few nodes; the grid has ``n_quad^D`` points)."""
    return {1: 7, 2: 7, 3: 5, 4: 4}.get(dims, 3)


def product_grid(n_quad: int, dims: int):
    """Product Gauss–Hermite rule for ``E[g(Z)]``, ``Z ~ N(0, I_D)``.

    Returns
    -------
    z : ndarray, shape (n_quad**D, D)
    log_w : ndarray, shape (n_quad**D,)
        Log weights (the weights sum to 1).
    """
    z1, w1 = gauss_hermite(n_quad)
    idx = np.array(list(product(range(n_quad), repeat=dims)), dtype=np.int64).reshape(-1, dims)
    return z1[idx], np.log(w1)[idx].sum(axis=1)


@dataclass
class LoadingPattern:
    """Which loadings are free.

    Attributes
    ----------
    kind : {"per_benchmark", "exploratory"}
    free : ndarray of bool, shape (N, D)
        ``free[j, k]``: question *j* loads on dimension *k*.
    names : list of str
        Names of the D dimensions (benchmark labels for ``per_benchmark``).
    """

    kind: str
    free: np.ndarray
    names: list

    @property
    def dims(self) -> int:
        return self.free.shape[1]

    @classmethod
    def per_benchmark(cls, item_benchmark_codes: np.ndarray, benchmarks) -> "LoadingPattern":
        n_b = len(benchmarks)
        free = np.zeros((len(item_benchmark_codes), n_b), dtype=bool)
        free[np.arange(len(item_benchmark_codes)), item_benchmark_codes] = True
        return cls("per_benchmark", free, [str(b) for b in benchmarks])

    @classmethod
    def exploratory(cls, n_items: int, dims: int) -> "LoadingPattern":
        return cls("exploratory", np.ones((n_items, dims), dtype=bool), [f"dim{k + 1}" for k in range(dims)])


@dataclass
class MultiItems:
    """Question parameters: loadings ``A`` (N, D), intercepts ``d`` (N,), precision ``gamma``."""

    A: np.ndarray
    d: np.ndarray
    gamma: np.ndarray

    def copy(self) -> "MultiItems":
        return MultiItems(self.A.copy(), self.d.copy(), self.gamma.copy())


@dataclass
class MultiEstimates:
    """What :func:`fit_multidim` found (on the identified scale described in the module docstring).

    theta (M, D), theta_cov (M, D, D): posterior means and covariances; A (N, D), d (N,), gamma,
    log_phi (N,); item_cov (N, k, k) over ``item_cols`` (free columns of each question, NaN where
    fixed); B (P, D), Sigma (D, D); latent_cov: covariance of ``latent_params`` (vec B by column,
    then log SDs, then Fisher-z correlations of Sigma), given the questions, mapped through the
    identification (a parameter the identification determines, such as the intercepts that make
    the mean ability 0, gets the variance implied by the others; a constant one about 0).
    forecast_cov: the same covariance before that mapping, on the fixed map from the questions'
    scale (what a forecast of a new model against the calibrated questions needs: the
    identification pins the fitted population's mean, not where it sits against the questions).
    """

    theta: np.ndarray
    theta_cov: np.ndarray
    A: np.ndarray
    d: np.ndarray
    gamma: np.ndarray
    log_phi: np.ndarray
    item_cov: np.ndarray
    item_cols: list
    B: np.ndarray
    Sigma: np.ndarray
    latent_params: np.ndarray
    latent_names: list
    latent_cov: np.ndarray
    llf: float
    n_params: int
    converged: bool
    n_iter: int
    n_passes: int
    seconds: float
    n_quad: int
    warnings: List[str] = field(default_factory=list)
    history: list = field(default_factory=list)
    forecast_cov: Optional[np.ndarray] = None


class MultiPosterior:
    """Adaptive product Gauss–Hermite quadrature of each model's D-dimensional posterior."""

    def __init__(self, kd, dims: int, n_quad: int, n_threads=None):
        self.kd = kd
        self.dims = dims
        self.z, self.log_w = product_grid(n_quad, dims)
        self.n_threads = n_threads
        self.n_passes = 0

    def mode_step(self, mode, items: MultiItems, log_phi, mean, sigma_inv, max_step: float = 1.0):
        """One Newton step of every model's log posterior; returns the new mode (M, D), the
        negative Hessian of the log posterior at the old mode (M, D, D) and the step length in
        posterior-SD units (M,)."""
        acc = _kernel.accumulate(
            self.kd, mode, items.A, items.d, log_phi, model_blocks=True, item_blocks=False,
            information="observed", n_threads=self.n_threads,
        )
        self.n_passes += 1
        g = acc.grad_theta - (mode - mean) @ sigma_inv
        h = acc.hess_theta - sigma_inv[None, :, :]
        step, scaled = _safe_newton(g, h, max_step)
        neg = -0.5 * (h + np.swapaxes(h, 1, 2))
        # the likelihood can be locally convex far from the mode: keep at least the prior curvature
        neg = _floor_to(neg, sigma_inv)
        return mode + step, neg, scaled

    def find_modes(self, mode, items, log_phi, mean, sigma_inv, max_iter: int = 100, tol: float = 1e-8):
        """Newton iterations to the posterior modes (for scoring with fixed questions)."""
        neg = None
        for _ in range(max_iter):
            mode, neg, scaled = self.mode_step(mode, items, log_phi, mean, sigma_inv)
            if scaled.size == 0 or scaled.max() < tol:
                break
        _, neg, _ = self.mode_step(mode, items, log_phi, mean, sigma_inv)
        return mode, neg

    def evaluate(self, mode, neg_hess, items: MultiItems, log_phi, mean, sigma_inv, log_det_sigma):
        """Nodes (M, Q, D), log integrand terms (M, Q), and marginal log-likelihood per model (M,),
        plus the part of the terms that does not depend on the latent distribution (M, Q)."""
        # posterior scale along the principal axes of the curvature, not its Cholesky factor: the
        # product grid is invariant to sign changes and permutations of its axes, so these nodes
        # turn with any rotation of the abilities and the rule's value does not depend on the
        # rotation of exploratory loadings. With the Cholesky factor its error did (0.06 in the
        # log-likelihood at D = 3), and EM crept along the rotation ridge climbing that error:
        # 1,486 iterations where 150 now reach the optimum of the rotation-invariant rule
        vals, vecs = np.linalg.eigh(neg_hess)  # positive: mode_step floors them at Sigma^-1's
        scale = vecs / np.sqrt(vals)[:, None, :]  # (M, D, D): scale @ scale' = neg_hess^-1
        nodes = mode[:, None, :] + np.einsum("mkl,ql->mqk", scale, self.z)
        ll = _kernel.loglik_grid(self.kd, items.A, items.d, log_phi, nodes, n_threads=self.n_threads)
        self.n_passes += 1
        log_det_scale = -0.5 * np.log(vals).sum(axis=1)
        fixed = (ll + self.log_w[None, :] + 0.5 * np.sum(self.z**2, axis=1)[None, :]
                 + 0.5 * self.dims * np.log(2 * np.pi) + log_det_scale[:, None])
        terms = fixed + log_normal(nodes, mean, sigma_inv, log_det_sigma)
        return nodes, terms, logsumexp(terms, axis=1), fixed


def log_normal(nodes, mean, sigma_inv, log_det_sigma):
    """``log N(nodes[i, q]; mean[i], Sigma)``, shape (M, Q)."""
    r = nodes - mean[:, None, :]
    quad = np.einsum("mqk,kl,mql->mq", r, sigma_inv, r)
    return -0.5 * (quad + log_det_sigma + r.shape[-1] * np.log(2 * np.pi))


def _floor_to(neg: np.ndarray, floor_mat: np.ndarray) -> np.ndarray:
    """Raise the eigenvalues of each block of ``neg`` to at least the smallest of ``floor_mat``."""
    vals, vecs = np.linalg.eigh(neg)
    lo = float(np.linalg.eigvalsh(floor_mat).min())
    vals = np.maximum(vals, lo)
    return np.einsum("mij,mj,mkj->mik", vecs, vals, vecs)


def posterior_moments(nodes, post):
    """Posterior means (M, D) and covariances (M, D, D) from nodes and normalised weights."""
    mean = np.einsum("mq,mqk->mk", post, nodes)
    second = np.einsum("mq,mqk,mql->mkl", post, nodes, nodes)
    cov = second - np.einsum("mk,ml->mkl", mean, mean)
    return mean, 0.5 * (cov + np.swapaxes(cov, 1, 2))


# ---------------------------------------------------------------------------------- M-steps
def item_update(grad, hess, items: MultiItems, free: np.ndarray, precision: PrecisionModel, max_step: float,
                a_prior: Optional[DiscriminationPrior] = None):
    """One Newton step of every question's free parameters (plus the global precisions).

    Parameters
    ----------
    grad : ndarray, shape (N, D + 2)
        Kernel column order ``(a_1..a_D, d, log_phi)``.
    hess : ndarray, shape (N, D + 2, D + 2)
    free : ndarray of bool, shape (N, D)
        Free loadings; the others stay at their value (0 or 1 for 1PL).
    a_prior : DiscriminationPrior, optional
        Log-normal prior on the loadings (see :func:`_loading_prior_terms`): with one free loading
        per question (per-benchmark) on that loading, centred within each dimension, and a step
        never more than halves a loading (they stay positive); with every loading free
        (exploratory) on the norm of each question's loading vector, and a step never more than
        halves that norm.

    Returns
    -------
    (MultiItems, float)
        Updated parameters and the largest block step in standard-error units.
    """
    n, dims = items.A.shape
    cols_free = np.concatenate([free, np.ones((n, 1), bool), np.full((n, 1), precision.per_item)], axis=1)
    g = np.where(cols_free, grad, 0.0)
    h = hess * (cols_free[:, :, None] & cols_free[:, None, :])
    if precision.per_item:
        _, gp, hp = precision.prior_terms(items.gamma)
        if gp is not None:
            g[:, -1] += gp
            h[:, -1, -1] += hp
    fixed_diag = ~cols_free
    h[:, np.arange(dims + 2), np.arange(dims + 2)] -= fixed_diag  # -1 on fixed columns: step 0
    with_prior = a_prior is not None and a_prior.active
    if with_prior:
        # the prior's gradient and curvature in a (the step stays in a, limited like the plain
        # one: on counts with thousands of samples per question steps in log a made EM oscillate)
        g_prior, h_prior = _loading_prior_terms(a_prior, items.A, free)
        g[:, :dims] += g_prior
        h[:, :dims, :dims] += h_prior
    step, scaled = _safe_newton(g, h, max_step)
    new = items.copy()
    new.A = np.clip(items.A + step[:, :dims], -A_BOUND, A_BOUND)
    if with_prior:
        new.A = _limit_loading_step(a_prior, new.A, items.A, free)
    new.d = np.clip(items.d + step[:, dims], -D_BOUND, D_BOUND)
    if precision.per_item:
        new.gamma = np.clip(items.gamma + step[:, dims + 1], *LOG_PHI_BOUNDS)
    scaled_max = float(scaled.max()) if scaled.size else 0.0
    if precision.kind == "linear":
        z = precision.z
        gz = z.T @ grad[:, -1]
        hz = (z * hess[:, -1, -1][:, None]).T @ z
        st, sc = _safe_newton(gz[None, :], hz[None, :, :], max_step)
        new.gamma = items.gamma + st[0]
        scaled_max = max(scaled_max, float(sc[0]))
    return new, scaled_max


def _renormalise(kind: str, irt: str, x, B, Sigma, items: MultiItems, mode, rescale: bool = True):
    """Map to the identified scale: population mean 0 and, per pattern, unit variances
    (per_benchmark) or identity covariance (exploratory); ``rescale=False`` moves only the mean.
    Exact reparametrisation."""
    loc, T = _identifying_map(kind, irt, x, B, Sigma, rescale)
    B, Sigma = _identified_latent(x, B, Sigma, loc, T)
    items = MultiItems(items.A @ T, items.d + items.A @ loc, items.gamma)
    mode = (mode - loc) @ np.linalg.inv(T).T
    return B, Sigma, items, mode


def _identifying_map(kind: str, irt: str, x, B, Sigma, rescale: bool = True):
    """Location ``loc`` (D,) and scale ``T`` (D, D) of the abilities ``theta ~ N(B' x, Sigma)``
    in the fitted population: ``(theta - loc) T^-1'`` has mean 0 and, per pattern, unit
    variances (per_benchmark 2PL) or covariance I (exploratory); ``T = I`` for 1PL or
    ``rescale=False``."""
    fitted = x @ B
    loc = fitted.mean(axis=0)
    total = np.cov(fitted, rowvar=False, bias=True).reshape(B.shape[1], B.shape[1]) + Sigma
    if irt == "1pl" or not rescale:
        T = np.eye(len(loc))
    elif kind == "per_benchmark":
        T = np.diag(np.sqrt(np.diag(total)))
    else:
        # the symmetric square root, not the Cholesky factor: it has no rotation part, so at the
        # EM fixed point (total = I) nothing drifts along the likelihood's rotation ridge
        vals, vecs = np.linalg.eigh(total)
        T = (vecs * np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T
    return loc, T


def _identified_latent(x, B, Sigma, loc, T):
    """``B`` and ``Sigma`` of the abilities mapped by ``(theta - loc) T^-1'``."""
    T_inv = np.linalg.inv(T)
    ones_coef = scaled_lstsq(x, np.ones(len(x)))
    B = (B - np.outer(ones_coef, loc)) @ T_inv.T
    Sigma = T_inv @ Sigma @ T_inv.T
    return B, 0.5 * (Sigma + Sigma.T)


def _identification_jacobian(p0, x, kind: str, irt: str, dims: int, rescale: bool) -> np.ndarray:
    """Jacobian at ``p0`` of the map that sends latent parameters (as :func:`_latent_param_vector`)
    to the identified scale (:func:`_identifying_map`), by central differences.

    The observed information of the latent parameters given the questions treats the mean and
    scale of the abilities as free, but the identification ties them to the other parameters
    (the fitted abilities have mean 0, and variance 1 / covariance I for 2PL): e.g. with
    covariates the intercepts are ``-mean(x_i)' slopes``. The covariance of the identified
    parameters is ``J cov J'`` (delta method), as the one-dimensional fit maps its covariance
    through its identification."""
    n_cov = x.shape[1]

    def g(p):
        B, S = _latent_from_vector(p, n_cov, dims)
        loc, T = _identifying_map(kind, irt, x, B, S, rescale)
        return _latent_param_vector(*_identified_latent(x, B, S, loc, T))

    k = len(p0)
    jac = np.empty((k, k))
    h = 1e-6 * np.maximum(1.0, np.abs(p0))
    for c in range(k):
        e = np.zeros(k)
        e[c] = h[c]
        jac[:, c] = (g(p0 + e) - g(p0 - e)) / (2 * h[c])
    return jac


def _orient(items: MultiItems, B, Sigma, mode, free: np.ndarray):
    """Sign of every dimension such that its free loadings sum to a positive number.

    The likelihood is unchanged when a dimension's loadings, its column of ``B``, its row and
    column of ``Sigma`` and its abilities all change sign, so without this the sign of a
    per-benchmark dimension (and of its correlations with the others) would depend on where EM
    started: a benchmark whose ability correlates negatively with the one-dimensional start
    would come out with negative loadings. Dimensions without free loadings (1PL, loadings
    fixed at 1) are already oriented and stay. Exact reparametrisation.

    Parameters
    ----------
    items : MultiItems
    B : ndarray, shape (P, D)
    Sigma : ndarray, shape (D, D)
    mode : ndarray, shape (M, D)
    free : ndarray of bool, shape (N, D)

    Returns
    -------
    (MultiItems, ndarray, ndarray, ndarray)
        ``items, B, Sigma, mode`` with the flipped dimensions.
    """
    sums = np.where(free, items.A, 0.0).sum(axis=0)
    sign = np.where(sums < 0, -1.0, 1.0)
    if np.all(sign > 0):
        return items, B, Sigma, mode
    items = MultiItems(items.A * sign[None, :], items.d, items.gamma)
    return items, B * sign[None, :], Sigma * np.outer(sign, sign), mode * sign[None, :]


def _rotate(items: MultiItems, B, Sigma, mode):
    """Varimax rotation of exploratory loadings, signs with positive loading sums, dimensions
    ordered by their sum of squared loadings."""
    from statsmodels.multivariate.factor_rotation import rotate_factors

    A = items.A
    if A.shape[1] > 1:
        _, R = rotate_factors(A, "varimax")
    else:
        R = np.eye(1)
    Ar = A @ R
    sign = np.where(Ar.sum(axis=0) < 0, -1.0, 1.0)
    order = np.argsort(-(Ar**2).sum(axis=0), kind="stable")
    Rf = (R * sign[None, :])[:, order]  # orthogonal
    items = MultiItems(A @ Rf, items.d, items.gamma)
    return items, B @ Rf, Rf.T @ Sigma @ Rf, mode @ Rf


# ---------------------------------------------------------------------------------- start
def _initial(kd, precision, irt, pattern: LoadingPattern, x, n_threads, a_prior=None):
    jf = fit_jml(kd, precision, "1pl" if irt == "1pl" else "2pl",
                 options=JMLOptions(max_iter=30, tol=1e-2, n_threads=n_threads), a_prior=a_prior)
    n, dims = pattern.free.shape
    a1 = jf.items.a if irt == "2pl" else np.ones(n)
    A = np.zeros((n, dims))
    if pattern.kind == "per_benchmark":
        A[pattern.free] = np.broadcast_to(a1[:, None], (n, dims))[pattern.free]
        Sigma = 0.5 * np.eye(dims) + 0.5
        mode = np.repeat(jf.theta[:, None], dims, axis=1)
        if irt == "2pl":
            # the one-dimensional start gives a benchmark whose ability correlates negatively
            # with the others negative loadings: flip such dimensions now (their start
            # correlations become -0.5), so EM never has to carry loadings through 0
            B0 = scaled_lstsq(x, mode)
            items0, _, Sigma, mode = _orient(MultiItems(A, jf.items.d, jf.items.gamma), B0, Sigma, mode,
                                             pattern.free)
            A = items0.A
    else:
        A[:, 0] = a1
        if dims > 1:
            A[:, 1:] = _residual_loadings(kd, jf, dims - 1)
        Sigma = np.eye(dims)
        mode = np.zeros((kd.n_models, dims))
        mode[:, 0] = jf.theta
    B = scaled_lstsq(x, mode)
    return MultiItems(A, jf.items.d.copy(), jf.items.gamma.copy()), B, Sigma, mode, jf.n_passes


def _residual_loadings(kd, jf, k: int) -> np.ndarray:
    """Starting loadings of the extra dimensions: leading right singular vectors of the
    model x question matrix of logit residuals from the one-dimensional start (missing cells 0);
    deterministic small values when that matrix would be too large to form."""
    n, m = kd.n_items, kd.n_models
    if n * m > 5_000_000:
        rng = np.random.default_rng(0)
        return 0.1 * rng.standard_normal((n, k))
    rate = kd.y / kd.trials if kd.trials is not None else np.asarray(kd.y, float)
    p = np.clip(rate, 0.02, 0.98)
    eta = jf.items.a[kd.item] * jf.theta[kd.model] + jf.items.d[kd.item]
    resid = np.log(p) - np.log1p(-p) - np.clip(eta, -4, 4)
    mat = np.zeros((m, n))
    mat[kd.model, kd.item] = resid
    _, s, vt = np.linalg.svd(mat - mat.mean(axis=0), full_matrices=False)
    k_avail = min(k, len(s))
    out = np.zeros((n, k))
    out[:, :k_avail] = 0.5 * vt[:k_avail].T * (s[:k_avail] / np.sqrt(m))
    return out


def _single_loadings(A: np.ndarray, free: np.ndarray):
    """Rows, column and value of each question's one free loading."""
    rows = np.arange(A.shape[0])
    col = free.argmax(axis=1)
    return rows, col, A[rows, col]


def _one_loading_per_question(free: np.ndarray) -> bool:
    """Whether every question has exactly one free loading (per-benchmark, or D = 1)."""
    return bool((free.sum(axis=1) == 1).all())


def _loading_prior_value(a_prior: DiscriminationPrior, A: np.ndarray, free: np.ndarray) -> float:
    """Log-prior of the loadings, split by pattern as :func:`_loading_prior_terms` (0 without a
    prior)."""
    if not a_prior.active:
        return 0.0
    if not _one_loading_per_question(free):
        return a_prior.value_norms(A)
    _, col, a = _single_loadings(A, free)
    return a_prior.value(a, col)


def _loading_prior_terms(a_prior: DiscriminationPrior, A: np.ndarray, free: np.ndarray):
    """Gradient and (negative semi-definite) Hessian of the loading prior in the loadings.

    With one free loading per question (per-benchmark, or exploratory with D = 1) the prior is
    on that loading, centred within its dimension (:meth:`DiscriminationPrior.terms_a`); with
    several free loadings per question (exploratory) it is on the norm of each question's loading
    vector (:meth:`DiscriminationPrior.terms_vectors`), which the rotation of the loadings does
    not change.

    Parameters
    ----------
    a_prior : DiscriminationPrior
        An active prior.
    A : ndarray, shape (N, D)
    free : ndarray of bool, shape (N, D)

    Returns
    -------
    gradient : ndarray, shape (N, D)
    hessian : ndarray, shape (N, D, D)
    """
    if not _one_loading_per_question(free):
        return a_prior.terms_vectors(A)
    rows, col, a = _single_loadings(A, free)
    g_a, h_a = a_prior.terms_a(a, col)
    g = np.zeros(A.shape)
    h = np.zeros(A.shape + A.shape[1:])
    g[rows, col] = g_a
    h[rows, col, col] = h_a
    return g, h


def _limit_loading_step(a_prior: DiscriminationPrior, new_A: np.ndarray, A: np.ndarray,
                        free: np.ndarray) -> np.ndarray:
    """Limit a step of the loadings under the prior as :func:`_loading_prior_terms` splits the
    patterns: a single loading is never more than halved (it stays positive), a loading vector's
    norm is never more than halved (it stays away from the origin, where it has no direction)."""
    if not _one_loading_per_question(free):
        return a_prior.keep_norm(new_A, A)
    rows, col, a = _single_loadings(A, free)
    out = new_A.copy()
    out[rows, col] = a_prior.keep_positive(new_A[rows, col], a)
    return out


# ---------------------------------------------------------------------------------- inference
def _latent_param_vector(B, Sigma):
    sd = np.sqrt(np.diag(Sigma))
    corr = Sigma / np.outer(sd, sd)
    iu = np.triu_indices(len(sd), 1)
    return np.concatenate([B.ravel(order="F"), np.log(sd), np.arctanh(np.clip(corr[iu], -0.999999, 0.999999))])


def _latent_from_vector(p, n_cov, dims):
    B = p[: n_cov * dims].reshape((n_cov, dims), order="F")
    sd = np.exp(p[n_cov * dims: n_cov * dims + dims])
    corr = np.eye(dims)
    iu = np.triu_indices(dims, 1)
    corr[iu] = np.tanh(p[n_cov * dims + dims:])
    corr[(iu[1], iu[0])] = corr[iu]
    return B, corr * np.outer(sd, sd)


def latent_names(cov_names, dim_names):
    names = [f"{dn}: {cn}" for dn in dim_names for cn in cov_names]
    names += [f"log sd({dn})" for dn in dim_names]
    names += [f"atanh corr({dim_names[i]}, {dim_names[j]})"
              for i, j in zip(*np.triu_indices(len(dim_names), 1))]
    return names


def _latent_information(x, nodes, fixed, p0, dims, reml: bool = False):
    """Observed information of the latent parameters given the questions: the Hessian of the
    marginal log-likelihood with the data part of every node held (exact for the quadrature rule,
    which does not depend on the latent distribution once the nodes are placed), by central
    differences (cheap: no kernel pass).

    With ``reml`` the objective is the one EM maximised with the REML-type divisor, the
    log-likelihood plus ``P/2 log det Sigma``: the plain log-likelihood's curvature at the REML
    Sigma understates the information (standard errors of the SDs too large, NaN once P is a
    large share of the models), as in :func:`irsl_stats.mml.fit_mml`.
    """
    n_cov = x.shape[1]
    reml_weight = 0.5 * n_cov if reml else 0.0

    def f(p):
        B, S = _latent_from_vector(p, n_cov, dims)
        try:
            s_inv = np.linalg.inv(S)
            _, logdet = np.linalg.slogdet(S)
        except np.linalg.LinAlgError:
            return -np.inf
        llf = float(logsumexp(fixed + log_normal(nodes, x @ B, s_inv, logdet), axis=1).sum())
        return llf + reml_weight * logdet

    k = len(p0)
    h = 1e-4 * np.maximum(1.0, np.abs(p0))
    H = np.zeros((k, k))
    f0 = f(p0)
    for i in range(k):
        for j in range(i, k):
            e_i = np.zeros(k)
            e_i[i] = h[i]
            e_j = np.zeros(k)
            e_j[j] = h[j]
            if i == j:
                val = (f(p0 + e_i) - 2 * f0 + f(p0 - e_i)) / h[i] ** 2
            else:
                val = (f(p0 + e_i + e_j) - f(p0 + e_i - e_j) - f(p0 - e_i + e_j) + f(p0 - e_i - e_j)) / (4 * h[i] * h[j])
            H[i, j] = H[j, i] = val
    return -H


def _item_covariance(kd, items, log_phi, theta, theta_cov, nodes, post, free, precision, n_threads,
                     a_prior: Optional[DiscriminationPrior] = None):
    """Question covariance blocks: complete-data information at the posterior minus the posterior
    variance of the question scores (Louis), linearised in the ability:
    ``Var_i[s_ij(theta)] ~ c_ij' Cov(theta_i) c_ij`` with ``c_ij`` the D x (D+2) cross block."""
    n, dims = items.A.shape
    _, _, h_item = _kernel.accumulate_items_weighted(kd, items.A, items.d, log_phi, nodes, post,
                                                     information="observed", n_threads=n_threads)
    corr = np.zeros((n, dims + 2, dims + 2))
    step = 1 << 20
    acc = _kernel.accumulate(kd, theta, items.A, items.d, log_phi, model_blocks=False, item_blocks=False,
                             cross=True, information="observed", n_threads=n_threads)
    c = acc.cross  # (nobs, D, D+2)
    for lo in range(0, kd.nobs, step):
        hi = min(lo + step, kd.nobs)
        cv = theta_cov[kd.model[lo:hi]]
        contrib = np.einsum("tkr,tkl,tls->trs", c[lo:hi], cv, c[lo:hi])
        for r in range(dims + 2):
            for s in range(r, dims + 2):
                vals = np.bincount(kd.item[lo:hi], weights=contrib[:, r, s], minlength=n)
                corr[:, r, s] += vals
                if s != r:
                    corr[:, s, r] += vals
    h = h_item + corr
    cols_free = np.concatenate([free, np.ones((n, 1), bool), np.full((n, 1), precision.per_item)], axis=1)
    if precision.per_item:
        _, _, hp = precision.prior_terms(items.gamma)
        if hp is not None:
            h[:, -1, -1] += hp
    if a_prior is not None and a_prior.active:
        h[:, :dims, :dims] += _loading_prior_terms(a_prior, items.A, free)[1]
    mask2 = cols_free[:, :, None] & cols_free[:, None, :]
    neg = np.where(mask2, -h, 0.0)
    neg[:, np.arange(dims + 2), np.arange(dims + 2)] += ~cols_free
    cov = _batched_inverse(neg)
    cov[~mask2] = np.nan
    return cov


@dataclass
class _MultiState:
    """What one EM iteration carries: question parameters, latent regression ``(B, Sigma)`` and
    the posterior modes (the quadrature's centres, a warm start that is not a parameter)."""

    items: MultiItems
    B: np.ndarray
    Sigma: np.ndarray
    mode: np.ndarray

    def pack(self, free: np.ndarray) -> np.ndarray:
        """Parameters as one vector for SQUAREM: free loadings, intercepts, precision parameters,
        ``B``, log SDs and atanh correlations of ``Sigma``."""
        return np.concatenate([self.items.A[free], self.items.d, np.atleast_1d(self.items.gamma),
                               _latent_param_vector(self.B, self.Sigma)])

    def unpack(self, v: np.ndarray, free: np.ndarray, per_item_precision: bool,
               a_prior: DiscriminationPrior, exploratory: bool) -> Optional["_MultiState"]:
        """The state with parameters ``v`` (this state's modes), or None when ``v`` leaves the
        parameter space: a loading (per-benchmark) or loading norm (exploratory) at or below the
        log-normal prior's floor, or a covariance that is not positive definite."""
        if not np.all(np.isfinite(v)):
            return None
        n_free, n = int(free.sum()), len(self.items.d)
        n_gamma = np.atleast_1d(self.items.gamma).size
        A = self.items.A.copy()
        A[free] = v[:n_free]
        if a_prior.active:
            size = np.linalg.norm(A, axis=1) if exploratory else A[free]
            if np.any(size <= A_FLOOR):
                return None
        A, d, gamma = within_bounds(A, v[n_free: n_free + n],
                                    v[n_free + n: n_free + n + n_gamma].reshape(np.shape(self.items.gamma)),
                                    per_item_precision)
        B, Sigma = _latent_from_vector(v[n_free + n + n_gamma:], self.B.shape[0], self.B.shape[1])
        try:
            np.linalg.cholesky(Sigma)
        except np.linalg.LinAlgError:
            return None
        return _MultiState(MultiItems(A, d, gamma), B, Sigma, self.mode)


# ---------------------------------------------------------------------------------- driver
def fit_multidim(
    kd,
    design,
    precision: PrecisionModel,
    irt: str,
    pattern: LoadingPattern,
    *,
    n_quad: Optional[int] = None,
    max_iter: int = 1000,
    tol: float = 1e-6,
    verbose: bool = False,
    n_threads=None,
    a_prior: Optional[DiscriminationPrior] = None,
    accelerate: bool = True,
    reml: bool = True,
) -> MultiEstimates:
    """Marginal ML of loadings, intercepts, precisions, ``B`` and ``Sigma``.

    Parameters
    ----------
    kd : KernelData
    design : LatentDesign
        Model covariates ``x_i`` (P columns) of the latent regression ``theta_i ~ N(B' x_i, Sigma)``.
    precision : PrecisionModel
    irt : {"2pl", "1pl"}
        ``"1pl"`` only with ``pattern.kind == "per_benchmark"`` (loadings fixed at 1).
    pattern : LoadingPattern
    n_quad : int, optional
        Nodes per dimension (default :func:`default_n_quad`).
    max_iter, tol : EM controls: stop when no question parameter moved by more than
        ``100 tol`` standard errors in an iteration and the objective changed by less than
        ``0.01 tol`` relative.
    a_prior : DiscriminationPrior, optional
        Log-normal prior on the loadings (penalised MML), ``irt="2pl"`` only: per-benchmark on
        each question's loading, centred within each dimension; exploratory on the norm of each
        question's loading vector (rotation-invariant), with the residual covariance of the
        abilities then held at I.
    accelerate : bool
        Extrapolate the EM iterates by SQUAREM (:mod:`irsl_stats.acceleration`); ``False`` runs
        plain EM (same optimum, more iterations).
    reml : bool
        ``Sigma`` divided by ``M - P`` (REML-type, default) or by ``M`` (maximum likelihood); see
        :func:`irsl_stats.mml.sigma_divisor`.

    Returns
    -------
    MultiEstimates
    """
    t0 = time.perf_counter()
    if irt == "1pl" and pattern.kind == "exploratory":
        raise ValueError("irt='1pl' has no exploratory multidimensional form (the loadings are what "
                         "separates the dimensions); use irt='2pl' or ability='per_benchmark'")
    a_prior = a_prior or DiscriminationPrior()
    if a_prior.active and irt != "2pl":
        raise ValueError("discrimination_prior needs irt='2pl' (1PL loadings are fixed at 1)")
    x = design.matrix
    dims = pattern.dims
    n_quad = default_n_quad(dims) if n_quad is None else int(n_quad)
    items, B, Sigma, mode, n_passes = _initial(kd, precision, irt, pattern, x, n_threads, a_prior)
    post_eval = MultiPosterior(kd, dims, n_quad, n_threads)
    free = pattern.free if irt == "2pl" else np.zeros_like(pattern.free)
    warnings_: List[str] = []
    exploratory = pattern.kind == "exploratory"
    # the norm prior of exploratory loadings is not invariant to the non-orthogonal rescaling
    # that maps the ability covariance to I after each M-step (it changes the norms but not the
    # likelihood), so EM could not settle at the penalised optimum: with it, the residual
    # covariance is held at I instead (the rescaling is only an accelerator of EM; SQUAREM
    # makes up for it)
    sigma_fixed = exploratory and a_prior.active
    if sigma_fixed:
        Sigma = np.eye(dims)
    reml, dof = sigma_divisor(irt, x, reml)
    reml = reml and not sigma_fixed  # a fixed Sigma has no divisor and no REML term

    def em_map(state: _MultiState) -> EMStep:
        items, B, Sigma = state.items, state.B, state.Sigma
        log_phi = precision.log_phi(items.gamma)
        s_inv = np.linalg.inv(Sigma)
        _, logdet = np.linalg.slogdet(Sigma)
        mean = x @ B
        # place the nodes at the posterior modes: with sharp posteriors (thousands of trials per
        # question) a mode that is off by a few posterior SDs spoils the quadrature, so iterate
        # (usually 1-2 steps; the abilities move little between EM iterations)
        mode, neg = post_eval.find_modes(state.mode, items, log_phi, mean, s_inv, max_iter=10, tol=1e-2)
        nodes, terms, marg, _ = post_eval.evaluate(mode, neg, items, log_phi, mean, s_inv, logdet)
        llf = float(marg.sum())
        # with the REML-type divisor the Sigma update maximises the log-likelihood plus
        # (P/2) log det Sigma: that is the objective EM increases and SQUAREM's safeguard needs
        objective = (llf + precision.prior_terms(items.gamma)[0] + _loading_prior_value(a_prior, items.A, free)
                     + (0.5 * x.shape[1] * logdet if reml else 0.0))
        if not np.isfinite(objective):
            return EMStep(-np.inf, llf, state, np.inf)
        post = np.exp(terms - marg[:, None])
        _, g_item, h_item = _kernel.accumulate_items_weighted(
            kd, items.A, items.d, log_phi, nodes, post, information="observed", n_threads=n_threads)
        post_eval.n_passes += 1
        new_items, _ = item_update(g_item, h_item, items, free, precision, 1.0, a_prior)
        new_items.A = np.where(free, new_items.A, items.A)  # fixed loadings stay exactly where they are
        e_theta, c_theta = posterior_moments(nodes, post)
        B = scaled_lstsq(x, e_theta)
        if not sigma_fixed:
            resid = e_theta - x @ B
            Sigma = (c_theta.sum(axis=0) + resid.T @ resid) / dof
            Sigma = 0.5 * (Sigma + Sigma.T) + 1e-10 * np.eye(dims)
        B, Sigma, new_items, mode = _renormalise(pattern.kind, irt, x, B, Sigma, new_items, mode,
                                                 rescale=not sigma_fixed)
        step = _scaled_change(items, new_items, h_item, free, precision, align=exploratory)
        return EMStep(objective, llf, _MultiState(new_items, B, Sigma, mode), step)

    # EM converges linearly and, when a question is nearly explained by the abilities (a
    # Heywood-like case), very slowly: it stops when an iteration moves no question parameter
    # by more than 100 tol standard errors and changes the objective by less than
    # 1e-4 tol relative (tol = 1e-6: 1e-4 SE, mirt's default criterion on the parameters; the
    # one-dimensional fit's objective criterion: at 0.01 tol a per-benchmark fit stopped 0.015
    # log-likelihood units short, its parameters 0.018 SE away, now 0.002 and 0.002 SE)
    run = run_em(em_map, _MultiState(items, B, Sigma, mode), lambda st: st.pack(free),
                 lambda v, t: t.unpack(v, free, precision.per_item, a_prior, exploratory),
                 max_iter=max_iter, change_tol=tol * 1e-4, step_tol=tol * 100, accelerate=accelerate,
                 verbose=verbose, label=f"MML(D={dims})")
    items, B, Sigma, mode = run.state.items, run.state.B, run.state.Sigma, run.state.mode
    converged, it, history, change = run.converged, run.n_maps, run.history, run.last_change
    at_bound = int((np.abs(items.A) >= A_BOUND * 0.999).any(axis=1).sum())
    if at_bound:
        warnings_.append(
            f"{at_bound} question(s) have a loading at the bound |a| = {A_BOUND:g}: their responses "
            "separate the models almost perfectly and the likelihood has no finite maximum for them; "
            f"{a_prior.bound_advice(one_pl=pattern.kind == 'per_benchmark')}, or drop those questions")
    if not converged:
        warnings_.append(not_converged_text(f"MML (D = {dims})", max_iter, change, run.n_falls, run.n_judged,
                                            run.climbing))
    # final posterior at the estimates (after the rotation or sign change the quadrature is
    # simply re-placed)
    log_phi = precision.log_phi(items.gamma)
    if pattern.kind == "exploratory":
        items, B, Sigma, mode = _rotate(items, B, Sigma, mode)
    else:
        # everything reported below (abilities, latent parameters and their covariance, the
        # question covariances) is computed after this, so all outputs share one orientation
        items, B, Sigma, mode = _orient(items, B, Sigma, mode, free)
    if pattern.kind == "per_benchmark":
        warnings_ += _boundary_warning(Sigma, pattern.names)
    s_inv = np.linalg.inv(Sigma)
    _, logdet = np.linalg.slogdet(Sigma)
    mean = x @ B
    mode, neg = post_eval.find_modes(mode, items, log_phi, mean, s_inv, max_iter=20, tol=1e-6)
    nodes, terms, marg, fixed = post_eval.evaluate(mode, neg, items, log_phi, mean, s_inv, logdet)
    post = np.exp(terms - marg[:, None])
    llf = float(marg.sum())
    theta, theta_cov = posterior_moments(nodes, post)
    p0 = _latent_param_vector(B, Sigma)
    info = _latent_information(x, nodes, fixed, p0, dims, reml=reml)
    try:
        latent_cov = np.linalg.inv(info)
        if not np.all(np.isfinite(np.diag(latent_cov))) or np.any(np.diag(latent_cov) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        latent_cov = np.full_like(info, np.nan)
        warnings_.append("the information of the latent regression / ability covariance is singular")
    # the information above leaves the mean and scale of the abilities free; the reported
    # parameters are on the identified scale, where e.g. an intercept is fixed by the slopes:
    # without this the intercepts of a latent regression had the SE of a free mean (0.286 where
    # the one-dimensional fit, which maps its covariance through its identification, has 0.246)
    forecast_cov = latent_cov.copy()
    jac = _identification_jacobian(p0, x, pattern.kind, irt, dims, rescale=not sigma_fixed)
    latent_cov = jac @ latent_cov @ jac.T
    latent_cov = 0.5 * (latent_cov + latent_cov.T)
    item_cov = _item_covariance(kd, items, log_phi, theta, theta_cov, nodes, post, free, precision, n_threads,
                                a_prior)
    n_passes += post_eval.n_passes + 3
    a_names = [f"a_{nm}" for nm in pattern.names]
    n_free_items = int(free.sum()) + kd.n_items + (kd.n_items if precision.per_item else 0) + precision.n_global
    n_latent = x.shape[1] * dims + dims * (dims + 1) // 2
    if irt == "1pl":
        n_constraints = dims
    elif pattern.kind == "per_benchmark":
        n_constraints = 2 * dims
    else:
        n_constraints = dims + dims * (dims + 1) // 2 + dims * (dims - 1) // 2
    return MultiEstimates(
        theta=theta, theta_cov=theta_cov, A=items.A, d=items.d, gamma=items.gamma, log_phi=log_phi,
        item_cov=item_cov, item_cols=a_names + ["d", "log_phi"], B=B, Sigma=Sigma, latent_params=p0,
        latent_names=latent_names(list(design.column_names), pattern.names), latent_cov=latent_cov,
        llf=llf, n_params=n_free_items + n_latent - n_constraints, converged=converged, n_iter=it,
        n_passes=n_passes, seconds=time.perf_counter() - t0, n_quad=n_quad, warnings=warnings_,
        history=history, forecast_cov=forecast_cov,
    )


def _boundary_warning(Sigma: np.ndarray, names: list, tol: float = 1e-3) -> List[str]:
    """Warning for a (nearly) singular residual correlation matrix of per-benchmark abilities.

    As lme4's "boundary (singular) fit": a correlation that ran to +-1 (smallest eigenvalue of
    the correlation matrix below ``tol``; for two benchmarks ``|r| > 0.999``) means the data
    cannot tell those abilities apart. The likelihood is flat in the Fisher-z correlation
    there, so its Wald interval is meaningless (true correlation 0.999 on 100 models: estimate
    0.9997, interval (-0.01, 1.0)) and the fit said nothing.
    """
    sd = np.sqrt(np.diag(Sigma))
    corr = Sigma / np.outer(sd, sd)
    if len(sd) < 2 or np.linalg.eigvalsh(corr).min() >= tol:
        return []
    iu = np.triu_indices(len(sd), 1)
    order = np.argsort(-np.abs(corr[iu]))[:3]
    pairs = ", ".join(f"corr({names[iu[0][k]]}, {names[iu[1][k]]}) = {corr[iu][k]:.4f}" for k in order)
    return [f"boundary (singular) fit: the residual correlation matrix of the abilities is (nearly) singular "
            f"({pairs}): the data cannot tell these abilities apart, and the Fisher-z intervals of their "
            "correlations are not reliable; fit them as one benchmark (or ability='shared')"]


def _scaled_change(before: MultiItems, after: MultiItems, h_item, free, precision, align: bool = False) -> float:
    """Largest change of a free question parameter in standard-error units.

    With ``align`` (exploratory loadings) the change of the loadings is measured after the
    orthogonal Procrustes rotation that best aligns them with the previous ones: the quadrature
    grid is not exactly rotation invariant, so EM creeps along the (practically flat) rotation
    ridge; that creep changes nothing the model predicts and must not block convergence."""
    dims = before.A.shape[1]
    a_after = after.A
    if align and dims > 1:
        u, _, vt = np.linalg.svd(after.A.T @ before.A)
        a_after = after.A @ (u @ vt)
    parts = [np.where(free, a_after - before.A, 0.0), (after.d - before.d)[:, None]]
    if precision.per_item:
        parts.append((after.gamma - before.gamma)[:, None])
    delta = np.concatenate(parts, axis=1)
    diag = -np.einsum("nkk->nk", h_item)[:, : delta.shape[1]] if precision.per_item else \
        -np.einsum("nkk->nk", h_item)[:, : dims + 1]
    return float(np.max(np.abs(delta) * np.sqrt(np.maximum(diag, 0.0)))) if delta.size else 0.0
