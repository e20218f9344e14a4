"""Fisher information of calibrated questions and question selection.

The information a question carries about ability ``theta`` is ``a^2 * I_eta(mu)`` with
``mu = logistic(a theta + d)`` and ``I_eta`` the expected information of the family about its
linear predictor:

========================  ======================================================================
family                    ``I_eta``
========================  ======================================================================
``bernoulli``             ``mu (1 - mu)``
``binomial``              ``n mu (1 - mu)`` (``n`` trials)
``beta``                  ``phi^2 mu^2 (1-mu)^2 [psi'(mu phi) + psi'((1-mu) phi)]``
``beta_binomial``         ``E[(d l / d eta)^2]``, summed exactly over ``k = 0..n`` with
                          ``d l / d eta = mu (1-mu) phi [psi(k + mu phi) - psi(n - k + (1-mu) phi)
                          - psi(mu phi) + psi((1-mu) phi)]``
========================  ======================================================================

(``psi`` is the digamma and ``psi'`` the trigamma function.) The beta-binomial information is below
the binomial one — over-dispersion makes each sample less informative — and equals the Bernoulli
one for ``n = 1``. The published IRSL code uses the Bernoulli formula for every family, which
overstates the information of noisy (low-``phi``) questions.
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.stats import betabinom

__all__ = ["eta_information", "item_information", "information_order", "stratified_pick"]


def _beta_binomial_info(mu: np.ndarray, phi: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Expected information about eta of a beta-binomial with ``n`` trials (broadcast arrays)."""
    mu, phi, n = np.broadcast_arrays(np.asarray(mu, float), np.asarray(phi, float), np.asarray(n, float))
    res = np.empty(mu.size)
    # group by n: one vectorised sum over k per distinct number of trials
    mu_f, phi_f, n_f = mu.ravel(), phi.ravel(), n.ravel()
    for nt in np.unique(n_f):
        sel = n_f == nt
        m, p = mu_f[sel], phi_f[sel]
        k = np.arange(int(nt) + 1)[:, None]
        al, be = m * p, (1 - m) * p
        pk = betabinom.pmf(k, int(nt), al, be)
        score = m * (1 - m) * p * (
            special.digamma(k + al) - special.digamma(nt - k + be) - special.digamma(al) + special.digamma(be)
        )
        res[sel] = (pk * score**2).sum(axis=0)
    return res.reshape(mu.shape)


def eta_information(family: str, eta, phi=None, trials=None) -> np.ndarray:
    """Expected Fisher information of one response about its linear predictor ``eta``.

    Parameters
    ----------
    family : str
    eta : array_like
    phi : array_like, optional
        Precision (beta, beta-binomial).
    trials : array_like, optional
        Number of trials (binomial, beta-binomial; default 1).

    Returns
    -------
    ndarray, shape of the broadcast inputs
    """
    eta = np.asarray(eta, float)
    mu = special.expit(eta)
    if family == "bernoulli":
        return mu * (1 - mu)
    if family == "binomial":
        n = 1.0 if trials is None else np.asarray(trials, float)
        return n * mu * (1 - mu)
    if family == "beta":
        phi = np.asarray(phi, float)
        return (phi * mu * (1 - mu)) ** 2 * (special.polygamma(1, mu * phi) + special.polygamma(1, (1 - mu) * phi))
    if family == "beta_binomial":
        n = 1.0 if trials is None else np.asarray(trials, float)
        return _beta_binomial_info(mu, phi, n)
    raise ValueError(f"unknown family {family!r}")


def item_information(family: str, theta, a, d, phi=None, trials=None) -> np.ndarray:
    """Fisher information about ``theta``: shape (K, N) for K abilities and N questions."""
    theta = np.atleast_1d(np.asarray(theta, float))[:, None]
    a = np.asarray(a, float)[None, :]
    eta = theta * a + np.asarray(d, float)[None, :]
    phi_b = None if phi is None else np.broadcast_to(np.asarray(phi, float)[None, :], eta.shape)
    tr = None if trials is None else np.broadcast_to(np.asarray(trials, float)[None, :], eta.shape)
    return a**2 * eta_information(family, eta, phi_b, tr)


def stratified_pick(b: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``n`` questions covering the difficulty quantiles of ``b``.

    Systematic sampling with a random start along the questions sorted by difficulty: pick
    ``floor((i + u) N / n)`` for ``i = 0..n-1``, ``u ~ U(0, 1)``. One pick falls in each of the
    ``n`` equal-width strata of ranks, and every question is picked with probability exactly
    ``n / N`` — so the mean over the picked questions is an unbiased estimate of the benchmark
    mean even when ``n`` does not divide ``N`` (unequal strata would over-sample some ranks).
    """
    order = np.argsort(b, kind="stable")
    total = order.size
    u = rng.random()
    picks = np.floor((np.arange(n) + u) * total / n).astype(np.intp)
    return order[np.minimum(picks, total - 1)]


def information_order(info: np.ndarray) -> np.ndarray:
    """Positions sorted by decreasing information (ties: original order)."""
    return np.argsort(-info, kind="stable")

