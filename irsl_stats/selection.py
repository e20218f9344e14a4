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

from ._checks import is_integer
from ._trigamma import trigamma

__all__ = ["eta_information", "item_information", "information_order", "stratified_pick"]


def _ratio_cumsum(alpha: np.ndarray, n: int) -> np.ndarray:
    """``R[m] = sum_{i<m} alpha / (alpha + i)`` for ``m = 0..n`` (rows), one column per ``alpha``.

    The first term is 1 for every ``alpha`` (its limit at ``alpha = 0``), so the sums stay finite
    when ``mu phi`` underflows at an extreme ``eta``.
    """
    i = np.arange(n, dtype=float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(i == 0, 1.0, alpha / (alpha + i))
    return np.vstack([np.zeros((1, alpha.size)), np.cumsum(terms, axis=0)])


def _beta_binomial_info(mu: np.ndarray, q: np.ndarray, phi: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Expected information about eta of a beta-binomial with ``n`` trials (broadcast arrays).

    ``q = 1 - mu`` is passed separately (``expit(-eta)``): ``1 - expit(eta)`` loses every digit
    for ``eta`` above ~35. The score ``mu q phi [psi(k + mu phi) - psi(mu phi) - psi(n - k +
    q phi) + psi(q phi)]`` is evaluated as the finite sums ``q sum_{i<k} mu phi / (mu phi + i)
    - mu sum_{i<n-k} q phi / (q phi + i)`` and the probabilities as products over the trials:
    no digamma differences (which cancel for large ``phi``) and no ``0 * inf`` when ``mu phi``
    or ``q phi`` underflows.
    """
    mu, q, phi, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (mu, q, phi, n)))
    res = np.empty(mu.size)
    mu_f, q_f, phi_f, n_f = mu.ravel(), q.ravel(), phi.ravel(), n.ravel()
    # group by n: one vectorised sum over k per distinct number of trials
    for nt in np.unique(n_f):
        where = np.flatnonzero(n_f == nt)
        # columns in chunks: the arrays below are (n + 1) x chunk, and n can be thousands of samples
        step = max(1, _CHUNK // (int(nt) + 1))
        for start in range(0, where.size, step):
            sel = where[start:start + step]
            res[sel] = _beta_binomial_chunk(mu_f[sel], q_f[sel], phi_f[sel], int(nt))
    return res.reshape(mu.shape)


_CHUNK = 2_000_000  # elements of one (n + 1) x questions array of the beta-binomial sum


def _beta_binomial_chunk(m: np.ndarray, qq: np.ndarray, p: np.ndarray, nn: int) -> np.ndarray:
    """Beta-binomial information of 1-D ``mu``, ``1 - mu``, ``phi`` with ``nn`` trials each."""
    al, be = m * p, qq * p
    k = np.arange(nn + 1)
    ra, rb = _ratio_cumsum(al, nn), _ratio_cumsum(be, nn)
    score = qq * ra - m * rb[::-1]  # row k: A[k] - B[n - k]
    i = np.arange(nn, dtype=float)[:, None]
    with np.errstate(divide="ignore"):
        la = np.vstack([np.zeros((1, al.size)), np.cumsum(np.log(al + i), axis=0)])
        lb = np.vstack([np.zeros((1, be.size)), np.cumsum(np.log(be + i), axis=0)])
    lp = np.log(p + i).sum(axis=0)
    log_c = special.gammaln(nn + 1) - special.gammaln(k + 1) - special.gammaln(nn - k + 1)
    pk = np.exp(log_c[:, None] + la + lb[::-1] - lp)
    return (pk * score**2).sum(axis=0)


def _positive(value, name: str, family: str) -> np.ndarray:
    """``value`` as floats, finite and > 0 (``phi``)."""
    if value is None:
        raise ValueError(f"phi is required for family {family!r} (its precision); got None")
    arr = np.asarray(value, float)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(f"{name} must be finite and > 0; got {arr[bad].ravel()[:5].tolist()}")
    return arr


def _trials(trials, family: str) -> np.ndarray:
    """Trials as floats: whole numbers >= 0 (default 1)."""
    if trials is None:
        return np.asarray(1.0)
    arr = np.asarray(trials, float)
    bad = ~(np.isfinite(arr) & (arr >= 0) & (arr == np.round(arr)))
    if bad.any():
        raise ValueError(f"trials must be whole numbers >= 0 for family {family!r}; got "
                         f"{arr[bad].ravel()[:5].tolist()}")
    return arr


def eta_information(family: str, eta, phi=None, trials=None) -> np.ndarray:
    """Expected Fisher information of one response about its linear predictor ``eta``.

    Parameters
    ----------
    family : {"bernoulli", "binomial", "beta", "beta_binomial"}
    eta : array_like
        Linear predictor; any real value (the beta and beta-binomial formulas are evaluated with
        ``1 - mu = expit(-eta)``, so extreme ``eta`` give the limits rather than NaN: 0 for the
        count families, ``mu^2 -> 1`` for the beta, whose ``log(1 - y)`` keeps informing).
        NaN propagates.
    phi : array_like, optional
        Precision, finite and > 0; required for beta and beta-binomial, ignored otherwise.
    trials : array_like, optional
        Number of trials, whole numbers >= 0 (binomial, beta-binomial; default 1); ignored for
        bernoulli and beta.

    Returns
    -------
    ndarray
        Shape of the broadcast ``eta`` and the parameters the family uses.

    Raises
    ------
    ValueError
        If ``family`` is unknown, ``phi`` is missing or not finite and positive (beta,
        beta-binomial), or ``trials`` are not whole numbers >= 0 (count families).
    """
    eta = np.asarray(eta, float)
    mu, q = special.expit(eta), special.expit(-eta)
    if family == "bernoulli":
        return mu * q
    if family == "binomial":
        return _trials(trials, family) * mu * q
    if family == "beta":
        phi = _positive(phi, "phi", family)
        # (phi mu q)^2 [psi'(mu phi) + psi'(q phi)] = q^2 g(mu phi) + mu^2 g(q phi) with
        # g(x) = x^2 psi'(x) = 1 + x^2 psi'(1 + x): finite at x = 0, where psi'(x) overflows.
        # trigamma() rather than scipy's polygamma(1, .): same accuracy, ~5x faster, and this
        # runs for every response and ability of WLE scoring and ItemBank.information
        def g(x):
            return 1.0 + x * x * trigamma(1.0 + x)

        return q * q * g(mu * phi) + mu * mu * g(q * phi)
    if family == "beta_binomial":
        phi = _positive(phi, "phi", family)
        return _beta_binomial_info(mu, q, phi, _trials(trials, family))
    raise ValueError(f"unknown family {family!r}; expected one of 'bernoulli', 'binomial', 'beta', "
                     f"'beta_binomial'")


def item_information(family: str, theta, a, d, phi=None, trials=None) -> np.ndarray:
    """Fisher information about ``theta``: shape (K, N) for K abilities and N questions.

    ``a^2 I_eta(a theta + d)`` (:func:`eta_information`). ``theta`` is a scalar or 1-D;
    ``a``, ``d``, ``phi`` and ``trials`` are scalars (every question) or 1-D of length N.
    """
    theta = np.asarray(theta, float)
    if theta.ndim > 1:
        raise ValueError(f"theta must be a scalar or 1-D; got shape {theta.shape}")
    theta = np.atleast_1d(theta)[:, None]
    a, d = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(d, float))
    n_q = np.broadcast_shapes(a.shape, d.shape)
    a, d = np.broadcast_to(a, n_q)[None, :], np.broadcast_to(d, n_q)[None, :]
    eta = theta * a + d

    def per_question(v):
        return None if v is None else np.broadcast_to(np.atleast_1d(np.asarray(v, float))[None, :], eta.shape)

    return a**2 * eta_information(family, eta, per_question(phi), per_question(trials))


def stratified_pick(b: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``n`` questions covering the difficulty quantiles of ``b``.

    Systematic sampling with a random start along the questions sorted by difficulty: pick
    ``floor((i + u) N / n)`` for ``i = 0..n-1``, ``u ~ U(0, 1)``. One pick falls in each of the
    ``n`` equal-width strata of ranks, and every question is picked with probability exactly
    ``n / N`` — so the mean over the picked questions is an unbiased estimate of the benchmark
    mean even when ``n`` does not divide ``N`` (unequal strata would over-sample some ranks).
    Needs ``1 <= n <= N`` (more picks than questions would repeat questions).
    """
    order = np.argsort(b, kind="stable")
    total = order.size
    if not is_integer(n, 1, total):
        raise ValueError(f"n must be an integer in [1, {total}] (the number of questions); got {n!r}")
    u = rng.random()
    picks = np.floor((np.arange(n) + u) * total / n).astype(np.intp)
    return order[np.minimum(picks, total - 1)]


def information_order(info: np.ndarray) -> np.ndarray:
    """Positions sorted by decreasing information (ties: original order)."""
    return np.argsort(-info, kind="stable")

