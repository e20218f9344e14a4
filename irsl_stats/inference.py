"""Standard errors of the IRT part from the analytic observed information.

Two levels:

* :func:`conditional_ses` — each block given the others: an ability's SE given the questions
  (``1/sqrt(-h_i)``), a question's SEs given the abilities (its 3x3 block inverted). Cheap for any
  size; these are the measurement errors that the latent regression carries.
* :func:`joint_covariance` — the full joint inverse information of all abilities and question
  parameters under the identification constraints, assembled from the kernel's model blocks,
  question blocks and model–question cross terms. Dense, so only for moderate sizes
  (``M + 3N`` up to a few thousand); it is what a beta regression on model and question dummies
  reports, and is used when the problem is small enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _kernel
from .precision import PrecisionModel
from .priors import DiscriminationPrior

__all__ = ["JointCovariance", "joint_covariance", "conditional_ses", "DENSE_LIMIT"]

#: largest number of free parameters for which the dense joint covariance is formed by default
DENSE_LIMIT = 4000


@dataclass
class JointCovariance:
    """Covariance of (theta (M), per-question blocks, global precision parameters).

    ``theta_cov`` (M,) variances of abilities; ``item_cov`` (N, k, k) per-question covariance of
    the free columns ``item_cols`` (names among "a", "d", "log_phi"); ``global_cov`` (R, R);
    ``full`` the whole matrix (P, P) in the order theta, item blocks (item-major), globals.
    """

    theta_var: np.ndarray
    item_cov: np.ndarray
    item_cols: list
    global_cov: Optional[np.ndarray]
    full: np.ndarray


_COL_INDEX = {"a": 0, "d": 1, "log_phi": 2}


def item_columns(irt: str, precision: PrecisionModel) -> list:
    """Names of the free per-question parameters, in kernel column order."""
    cols = (["a"] if irt == "2pl" else []) + ["d"]
    if precision.per_item:
        cols.append("log_phi")
    return cols


def item_column_index(irt: str, precision: PrecisionModel) -> list:
    """Kernel columns (of the (N, 3) item gradient / Hessian) of the free per-question parameters."""
    return [_COL_INDEX[c] for c in item_columns(irt, precision)]


def global_precision_cov(hess_item: np.ndarray, z: np.ndarray, irt: str) -> np.ndarray:
    """Covariance of the global precision parameters (``log phi_j = z_j' gamma``) with each
    question's (a, d) block profiled out (Schur complement), given the abilities.

    Parameters
    ----------
    hess_item : ndarray, shape (N, 3, 3)
        Question blocks in kernel column order (a, d, log_phi).
    z : ndarray, shape (N, R)
    """
    ad = [0, 1] if irt == "2pl" else [1]
    h_ad = hess_item[:, ad][:, :, ad]
    h_ads = hess_item[:, ad, 2]  # (N, k)
    sol = np.linalg.solve(h_ad, h_ads[:, :, None])[:, :, 0]
    schur = hess_item[:, 2, 2] - np.einsum("nk,nk->n", h_ads, sol)
    return np.linalg.pinv(-(z * schur[:, None]).T @ z)


def conditional_ses(acc, irt: str, precision: PrecisionModel, gamma: np.ndarray,
                    a_prior: Optional[DiscriminationPrior] = None, a: Optional[np.ndarray] = None):
    """Per-block variances from an :class:`~irsl_stats._kernel.Accumulation` at the optimum.

    Returns
    -------
    theta_var : ndarray (M,)
    item_cov : ndarray (N, k, k) for the columns :func:`_item_columns`
    global_cov : ndarray (R, R) or None — global precision parameters with the question blocks
        profiled out (Schur complement), given the abilities.
    cols : list of str
    """
    h_theta = acc.hess_theta[:, 0, 0]
    with np.errstate(divide="ignore"):
        theta_var = np.where(h_theta < 0, -1.0 / h_theta, np.nan)
    cols = item_columns(irt, precision)
    idx = item_column_index(irt, precision)
    h = acc.hess_item[:, idx][:, :, idx].copy()
    if precision.per_item:
        _, _, hp = precision.prior_terms(gamma)
        if hp is not None:
            h[:, -1, -1] += hp
    if irt == "2pl" and a_prior is not None and a_prior.active:
        h[:, 0, 0] += a_prior.hessian_a(a)
    item_cov = _batched_inverse(-h)
    global_cov = global_precision_cov(acc.hess_item, precision.z, irt) if precision.kind == "linear" else None
    return theta_var, item_cov, global_cov, cols


def _batched_inverse(neg_h: np.ndarray) -> np.ndarray:
    """Inverse of a batch of symmetric blocks; NaN where a block is not positive definite."""
    out = np.full_like(neg_h, np.nan)
    sym = 0.5 * (neg_h + np.swapaxes(neg_h, 1, 2))
    vals = np.linalg.eigvalsh(sym)
    ok = vals[:, 0] > 1e-12 * np.maximum(vals[:, -1], 1e-300)
    if ok.any():
        out[ok] = np.linalg.inv(sym[ok])
    return out


def joint_covariance(
    kd,
    theta: np.ndarray,
    a: np.ndarray,
    d: np.ndarray,
    gamma: np.ndarray,
    precision: PrecisionModel,
    irt: str,
    n_threads=None,
    a_prior: Optional[DiscriminationPrior] = None,
) -> JointCovariance:
    """Full joint covariance of abilities and question parameters (dense).

    The joint information is singular along the identification directions (a common shift of
    the abilities, and for 2PL a common scale); the covariance is the constrained inverse under
    ``sum(theta) = 0`` (and ``sum(theta^2) = M`` linearised at the estimate), obtained from the
    bordered matrix ``[[I, A'], [A, 0]]``. Contrasts (differences of abilities or difficulties) do
    not depend on that choice.
    """
    log_phi = precision.log_phi(gamma)
    acc = _kernel.accumulate(
        kd, theta[:, None], a[:, None], d, log_phi,
        model_blocks=True, item_blocks=True, cross=True, information="observed", n_threads=n_threads,
    )
    m, n = kd.n_models, kd.n_items
    cols = item_columns(irt, precision)
    k = len(cols)
    idx = item_column_index(irt, precision)
    r = precision.n_global
    p = m + n * k + r
    h = np.zeros((p, p))
    h[np.arange(m), np.arange(m)] = acc.hess_theta[:, 0, 0]
    hi = acc.hess_item[:, idx][:, :, idx].copy()
    if precision.per_item:
        _, _, hp = precision.prior_terms(gamma)
        if hp is not None:
            hi[:, -1, -1] += hp
    if irt == "2pl" and a_prior is not None and a_prior.active:
        hi[:, 0, 0] += a_prior.hessian_a(a)
    for c1 in range(k):
        for c2 in range(k):
            rows = m + np.arange(n) * k + c1
            colsx = m + np.arange(n) * k + c2
            h[rows, colsx] = hi[:, c1, c2]
    cross = acc.cross[:, 0, :]  # (nobs, 3): theta x (a, d, log_phi)
    for c, col in enumerate(idx):
        np.add.at(h, (kd.model, m + kd.item * k + c), cross[:, col])
    if r:
        z = precision.z
        g0 = m + n * k
        hs = acc.hess_item  # (N, 3, 3)
        h[g0:, g0:] = (z * hs[:, 2, 2][:, None]).T @ z
        for c, col in enumerate(idx):
            h[m + np.arange(n) * k + c, g0:] = z * hs[:, col, 2][:, None]
        zt = z[kd.item] * cross[:, 2][:, None]  # (nobs, R)
        for q in range(r):
            h[:m, g0 + q] += np.bincount(kd.model, weights=zt[:, q], minlength=m)
    # off-diagonal blocks were filled above the diagonal only; mirror them
    h = np.triu(h) + np.triu(h, 1).T
    # identification constraints (rows of A): sum(theta)=0 and, for 2PL, theta' dtheta = 0
    cons = [np.r_[np.ones(m), np.zeros(p - m)]]
    if irt == "2pl":
        cons.append(np.r_[theta, np.zeros(p - m)])
    A = np.array(cons)
    nc = A.shape[0]
    border = np.zeros((p + nc, p + nc))
    border[:p, :p] = -h
    border[:p, p:] = A.T
    border[p:, :p] = A
    inv = np.linalg.inv(border)
    cov = inv[:p, :p]
    theta_var = np.diag(cov)[:m].copy()
    item_cov = np.empty((n, k, k))
    for c1 in range(k):
        for c2 in range(k):
            item_cov[:, c1, c2] = cov[m + np.arange(n) * k + c1, m + np.arange(n) * k + c2]
    global_cov = cov[m + n * k:, m + n * k:] if r else None
    return JointCovariance(theta_var, item_cov, cols, global_cov, cov)
