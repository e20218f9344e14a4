"""Plain NumPy/SciPy reference implementation of the likelihood kernel (tests and benchmarks).

Independent of the C++ code: the Beta-type families are differentiated in the natural shape
parameters ``alpha = mu phi`` and ``beta = (1 - mu) phi`` (gradient ``g``, Hessian ``H`` in
(alpha, beta)) and mapped to (eta, s = log phi) by the second-order chain rule

    l_uv = J_u' H J_v + g . d2(alpha, beta)/du dv,      J_u = d(alpha, beta)/du,

with d(alpha, beta)/d eta = phi v (1, -1), d(alpha, beta)/ds = (alpha, beta),
d2/d eta2 = phi v (1 - 2 mu) (1, -1), d2/d eta ds = phi v (1, -1), d2/ds2 = (alpha, beta),
v = mu (1 - mu). Expected information drops the ``g`` terms (E g = 0).
Accumulation uses ``np.bincount`` per component.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.special import expit, gammaln, log_expit, polygamma, psi

FAMILIES = ("beta", "bernoulli", "binomial", "beta_binomial")


def log_binom(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """log C(n, k)."""
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def _trigamma(x: np.ndarray) -> np.ndarray:
    return polygamma(1, x)


def family_derivs(
    family: str,
    y: np.ndarray,
    eta: np.ndarray,
    log_phi: np.ndarray,
    trials: Optional[np.ndarray] = None,
    expected: bool = False,
) -> tuple[np.ndarray, ...]:
    """Per-observation ``(l, l_e, l_s, l_ee, l_es, l_ss)`` including log C(n, k)."""
    y = np.asarray(y, float)
    eta = np.broadcast_to(np.asarray(eta, float), y.shape)
    log_phi = np.broadcast_to(np.asarray(log_phi, float), y.shape)
    mu = expit(eta)
    cmu = expit(-eta)
    v = mu * cmu
    zero = np.zeros_like(y)
    if family in ("bernoulli", "binomial"):
        n = np.ones_like(y) if family == "bernoulli" else np.asarray(trials, float)
        const = zero if family == "bernoulli" else log_binom(n, y)
        l = const + y * log_expit(eta) + (n - y) * log_expit(-eta)
        return l, y * cmu - (n - y) * mu, zero, -n * v, zero, zero
    phi = np.exp(log_phi)
    al, be = mu * phi, cmu * phi
    if family == "beta":
        ly, l1y = np.log(y), np.log1p(-y)
        l = gammaln(phi) - gammaln(al) - gammaln(be) + (al - 1) * ly + (be - 1) * l1y
        g_a = psi(phi) - psi(al) + ly
        g_b = psi(phi) - psi(be) + l1y
        h_aa = _trigamma(phi) - _trigamma(al)
        h_bb = _trigamma(phi) - _trigamma(be)
        h_ab = _trigamma(phi)
    elif family == "beta_binomial":
        n = np.asarray(trials, float)
        k = y
        l = (
            log_binom(n, k)
            + gammaln(k + al) + gammaln(n - k + be) - gammaln(n + phi)
            - gammaln(al) - gammaln(be) + gammaln(phi)
        )
        g_a = psi(k + al) - psi(al) - (psi(n + phi) - psi(phi))
        g_b = psi(n - k + be) - psi(be) - (psi(n + phi) - psi(phi))
        common = -(_trigamma(n + phi) - _trigamma(phi))
        h_aa = _trigamma(k + al) - _trigamma(al) + common
        h_bb = _trigamma(n - k + be) - _trigamma(be) + common
        h_ab = common
    else:
        raise ValueError(family)
    if expected and family != "beta":
        raise ValueError("expected information is only defined for beta")

    def quad(ua, ub, wa, wb):
        return ua * h_aa * wa + (ua * wb + ub * wa) * h_ab + ub * h_bb * wb

    ja_e, jb_e = phi * v, -phi * v
    ja_s, jb_s = al, be
    l_e = g_a * ja_e + g_b * jb_e
    l_s = g_a * ja_s + g_b * jb_s
    l_ee = quad(ja_e, jb_e, ja_e, jb_e)
    l_es = quad(ja_e, jb_e, ja_s, jb_s)
    l_ss = quad(ja_s, jb_s, ja_s, jb_s)
    if not expected:
        l_ee = l_ee + phi * v * (cmu - mu) * (g_a - g_b)
        l_es = l_es + phi * v * (g_a - g_b)
        l_ss = l_ss + l_s
    return l, l_e, l_s, l_ee, l_es, l_ss


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sum the rows of ``values`` (n, ...) by ``index`` into (size, ...)."""
    flat = values.reshape(values.shape[0], -1)
    out = np.stack(
        [np.bincount(index, weights=flat[:, c], minlength=size) for c in range(flat.shape[1])],
        axis=1,
    )
    return out.reshape((size,) + values.shape[1:])


def accumulate(
    family: str,
    model: np.ndarray,
    item: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    a: np.ndarray,
    d: np.ndarray,
    log_phi: np.ndarray,
    *,
    trials: Optional[np.ndarray] = None,
    weight: Optional[np.ndarray] = None,
    expected: bool = False,
    cross: bool = False,
) -> dict:
    """Reference log-likelihood, gradients, Hessian blocks (and cross terms).

    Returns a dict with keys loglik, grad_theta (M, D), hess_theta (M, D, D), grad_item
    (N, D+2), hess_item (N, D+2, D+2) and, if ``cross``, cross (n, D, D+2).
    """
    theta = np.asarray(theta, float)
    if theta.ndim == 1:
        theta = theta[:, None]
    a = np.asarray(a, float).reshape(len(d), -1)
    M, D = theta.shape
    N = a.shape[0]
    w = np.ones(len(y)) if weight is None else np.asarray(weight, float)
    th, aj = theta[model], a[item]
    eta = np.einsum("nk,nk->n", th, aj) + d[item]
    l, le, ls, lee, les, lss = family_derivs(family, y, eta, log_phi[item], trials, expected)
    if family in ("bernoulli", "binomial"):
        ls = les = lss = np.zeros_like(l)
    le, ls, lee, les, lss = (w * q for q in (le, ls, lee, les, lss))
    out = {"loglik": float(np.sum(w * l))}
    out["grad_theta"] = _sum_by(model, le[:, None] * aj, M)
    out["hess_theta"] = _sum_by(model, lee[:, None, None] * aj[:, :, None] * aj[:, None, :], M)
    x = np.concatenate([th, np.ones((len(y), 1))], axis=1)  # (theta, 1)
    g = np.concatenate([le[:, None] * x, ls[:, None]], axis=1)
    h = np.zeros((len(y), D + 2, D + 2))
    h[:, : D + 1, : D + 1] = lee[:, None, None] * x[:, :, None] * x[:, None, :]
    h[:, : D + 1, D + 1] = les[:, None] * x
    h[:, D + 1, : D + 1] = les[:, None] * x
    h[:, D + 1, D + 1] = lss
    out["grad_item"] = _sum_by(item, g, N)
    out["hess_item"] = _sum_by(item, h, N)
    if cross:
        c = np.zeros((len(y), D, D + 2))
        c[:, :, :D] = lee[:, None, None] * aj[:, :, None] * th[:, None, :]
        c[:, :, :D] += le[:, None, None] * np.eye(D)
        c[:, :, D] = lee[:, None] * aj
        c[:, :, D + 1] = les[:, None] * aj
        out["cross"] = c
    return out


def accumulate_beta_d1_fast(
    model: np.ndarray,
    item: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    a: np.ndarray,
    d: np.ndarray,
    log_phi: np.ndarray,
) -> dict:
    """The benchmark pass (beta, D = 1, unweighted) vectorised as tightly as NumPy allows."""
    M, N = len(theta), len(d)
    th, aj = theta[model], a[item]
    eta = aj * th + d[item]
    l, le, ls, lee, les, lss = family_derivs("beta", y, eta, log_phi[item])
    bc = np.bincount
    return {
        "loglik": float(l.sum()),
        "grad_theta": bc(model, le * aj, M),
        "hess_theta": bc(model, lee * aj * aj, M),
        "grad_item": [bc(item, q, N) for q in (le * th, le, ls)],
        "hess_item": [
            bc(item, q, N)
            for q in (lee * th * th, lee * th, les * th, lee, les, lss)
        ],
    }


def loglik_grid(family, model_ptr, item, y, a, d, log_phi, nodes, *, trials=None, weight=None):
    """Reference ``out[i, q] = sum_{t in i} w_t l(y_t; a_j . nodes[i, q] + d_j)``."""
    M, Q, D = nodes.shape
    a = np.asarray(a, float).reshape(len(d), -1)
    w = np.ones(len(y)) if weight is None else weight
    out = np.zeros((M, Q))
    for i in range(M):
        sl = slice(model_ptr[i], model_ptr[i + 1])
        j = item[sl]
        eta = a[j] @ nodes[i].T + d[j][:, None]  # (n_i, Q)
        tr = None if trials is None else np.repeat(trials[sl][:, None], Q, 1)
        l = family_derivs(family, np.repeat(y[sl][:, None], Q, 1), eta,
                          np.repeat(log_phi[j][:, None], Q, 1), tr)[0]
        out[i] = (w[sl][:, None] * l).sum(axis=0)
    return out


def items_weighted(family, model_ptr, item, y, a, d, log_phi, nodes, node_weights, *,
                   trials=None, weight=None, expected=False):
    """Reference EM item objective: expand every (observation, node) pair into a weighted row."""
    M, Q, D = nodes.shape
    counts = np.diff(model_ptr)
    model = np.repeat(np.arange(M), counts)
    rows = np.repeat(np.arange(len(y)), Q)
    qs = np.tile(np.arange(Q), len(y))
    # pseudo-models: one per (model, node)
    pseudo = model[rows] * Q + qs
    w = (np.ones(len(y)) if weight is None else weight)[rows] * node_weights[model[rows], qs]
    res = accumulate(
        family, pseudo, item[rows], y[rows], nodes.reshape(M * Q, D), a, d, log_phi,
        trials=None if trials is None else trials[rows], weight=w, expected=expected,
    )
    return res["loglik"], res["grad_item"], res["hess_item"]
