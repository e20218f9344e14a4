"""pass@k: the unbiased estimator from counts and the Beta-IRT expectation.

This module is the one place where ``irsl_stats`` computes pass@k. Everything is
vectorised with numpy broadcasting and computed in log space, so it is accurate for
millions of samples and for ``k`` in the millions.

Three quantities:

- :func:`pass_at_k` -- the unbiased estimator ``1 - C(n-c, k) / C(n, k)`` of Chen et al.
  (2021) from ``c`` correct answers among ``n`` samples;
- :func:`beta_pass_at_k` -- the expectation ``E[1 - (1-p)^k]`` when the per-question
  success probability is ``p ~ Beta(mu*phi, (1-mu)*phi)`` (the Beta-IRT model), equal to
  ``1 - B(alpha, beta + k) / B(alpha, beta)``; it decays like a power law in ``k``;
- :func:`plugin_pass_at_k` -- the plug-in ``1 - (1-mu)^k`` (the ``phi -> inf`` limit).

Numerical method
----------------
Both ratios ``C(n-c, k)/C(n, k)`` and ``B(alpha, beta+k)/B(alpha, beta)`` are of the form
``Gamma(x1) Gamma(x4) / (Gamma(x2) Gamma(x3))`` with ``x1 - x2 = x3 - x4`` (= ``k``) and
``x4 - x2 = x3 - x1`` (= ``c`` or ``alpha``). Subtracting four ``gammaln`` values of size
``n log n`` loses about ``log10(n log n)`` digits (8 digits at ``n = 1e7``). Instead:

* when the smaller of the two shifts is small (``<= 256``) and an integer, the log ratio is
  an exact short sum of ``log1p`` terms, e.g.
  ``log C(n-c,k)/C(n,k) = sum_{i<min(c,k)} log1p(-max(c,k)/(n-i))``;
* otherwise ``lgamma(x) = (x - 1/2) log x - x + log(2 pi)/2 + r(x)`` is used as an
  identity; the ``-x`` and constant terms cancel exactly, the ``(x - 1/2) log x`` terms are
  regrouped into ``log1p`` of small ratios (no cancellation of large numbers), and the
  remainder ``r(x)`` is evaluated by its Stirling series for ``x >= 10`` and as
  ``gammaln(x) - (x - 1/2) log x + x - log(2 pi)/2`` below.

The log ratio is then exact to a few ulps of the shift (``min(c, k)``), so ``1 - pass@k``
is accurate to ~1e-12 relative wherever it is not negligible, and the final
``1 - exp(.)`` uses ``-expm1``.

References
----------
Chen, M. et al. (2021). Evaluating large language models trained on code. arXiv:2107.03374.
"""

from __future__ import annotations


import numpy as np
from scipy.special import gammaln

__all__ = ["pass_at_k", "beta_pass_at_k", "plugin_pass_at_k"]

#: Largest shift summed term by term; larger shifts use the regrouped Stirling form.
_DIRECT_MAX = 256

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
# Stirling series coefficients of r(x) = lgamma(x) - [(x-1/2)log x - x + log(2pi)/2]:
# sum_m B_{2m} / (2m (2m-1) x^{2m-1}), m = 1..7 (error < 1e-17 for x >= 10).
_STIRLING = (
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360360.0,
    1.0 / 156.0,
)


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------
def _as_integer_array(x: object, name: str) -> np.ndarray:
    """Return ``x`` as an int64 array, or raise ValueError naming ``name``."""
    arr = np.asarray(x)
    if arr.dtype == bool:
        raise ValueError(f"`{name}` must be integer, got booleans")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64, copy=False)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must be finite integers, found NaN or inf")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"`{name}` must be integers, found non-integral values")
        if np.any(np.abs(arr) > 2.0**53):
            raise ValueError(f"`{name}` is too large to be an exact integer in float64")
        return arr.astype(np.int64)
    raise ValueError(f"`{name}` must be integer, got dtype {arr.dtype}")


def _as_float_array(x: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be numeric") from exc
    if np.any(np.isnan(arr)):
        raise ValueError(f"`{name}` contains NaN")
    return arr


# --------------------------------------------------------------------------------------
# the shared log-ratio machinery
# --------------------------------------------------------------------------------------
def _log_ratio(num: np.ndarray, den: np.ndarray, diff: np.ndarray) -> np.ndarray:
    """``log(num / den)`` for ``0 < num <= den`` given ``diff = den - num`` exactly.

    ``log1p(-diff/den)`` when ``num/den > 1/2`` (no cancellation near 1), else
    ``log(num/den)`` (no rounding of ``1 - ratio`` near 0).
    """
    ratio = num / den
    near_one = ratio > 0.5
    return np.where(near_one, np.log1p(-diff / den), np.log(np.where(near_one, 1.0, ratio)))


def _stirling_remainder(x: np.ndarray) -> np.ndarray:
    """``r(x) = lgamma(x) - (x - 1/2) log x + x - log(2 pi)/2`` for ``x > 0``."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    big = x >= 10.0
    if np.any(big):
        xb = x[big]
        inv = 1.0 / xb
        inv2 = inv * inv
        acc = np.zeros_like(xb)
        for coef in _STIRLING[::-1]:
            acc = acc * inv2 + coef
        out[big] = acc * inv
    small = ~big
    if np.any(small):
        xs = x[small]
        out[small] = gammaln(xs) - (xs - 0.5) * np.log(xs) + xs - _HALF_LOG_2PI
    return out


def _log_gamma_ratio(base: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Log of ``Gamma(base + t) Gamma(base + s) / (Gamma(base) Gamma(base + s + t))``.

    With ``x2 = base``, ``x1 = base + t``, ``x4 = base + s``, ``x3 = base + s + t``; requires
    ``base > 0``, ``s, t >= 0``. Equal to ``log prod_{i<t} (base+i)/(base+s+i)`` for integer
    ``t`` (and symmetric in ``s``, ``t``). Uses the regrouped Stirling identity (see module
    docstring); accurate to a few ulps times ``min(s, t)``.
    """
    base, s, t = np.broadcast_arrays(
        np.asarray(base, float), np.asarray(s, float), np.asarray(t, float)
    )
    # symmetric in (s, t): put the smaller shift in s, which scales the rounding error
    s, t = np.minimum(s, t), np.maximum(s, t)
    x1 = base + t  # plays "A"
    x2 = base  # "B"
    x3 = base + s + t  # "C"
    x4 = base + s  # "D"
    # (x1-1/2)log x1 - (x2-1/2)log x2 - (x3-1/2)log x3 + (x4-1/2)log x4, regrouped:
    # log(x1/x3) = log1p(-s/x3), log(x4/x2) = log1p(s/x2), log(x2/x3) = log1p(-(s+t)/x3)
    main = (
        (x1 - 0.5) * _log_ratio(x1, x3, s)
        + (x4 - 0.5) * np.log1p(s / x2)
        + s * _log_ratio(x2, x3, s + t)
    )
    rem = (
        _stirling_remainder(x1)
        - _stirling_remainder(x2)
        - _stirling_remainder(x3)
        + _stirling_remainder(x4)
    )
    return main + rem


def _log_fail_at_k(n: np.ndarray, c: np.ndarray, k: np.ndarray, direct_max: int = _DIRECT_MAX) -> np.ndarray:
    """``log(C(n-c, k) / C(n, k))`` for validated int64 arrays with ``n - c >= k``.

    ``direct_max`` is the largest ``min(c, k)`` summed term by term (exposed for tests).
    """
    n, c, k = np.broadcast_arrays(n, c, k)
    out = np.zeros(n.shape, dtype=float)
    small_shift = np.minimum(c, k)
    large_shift = np.maximum(c, k)
    direct = small_shift <= direct_max
    if np.any(direct):
        nd = n[direct].astype(float)
        md = small_shift[direct]
        Md = large_shift[direct].astype(float)
        acc = np.zeros(nd.shape)
        for i in range(int(md.max()) if md.size else 0):
            act = md > i
            den = nd[act] - i
            acc[act] += _log_ratio(den - Md[act], den, Md[act])
        out[direct] = acc
    rest = ~direct
    if np.any(rest):
        nr = n[rest].astype(float)
        cr = c[rest].astype(float)
        kr = k[rest].astype(float)
        # C(n-c,k)/C(n,k) = G(n-c+1) G(n-k+1) / (G(n-c-k+1) G(n+1)): base = n-c-k+1, s=c, t=k
        out[rest] = _log_gamma_ratio(nr - cr - kr + 1.0, cr, kr)
    return out


# --------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------
def pass_at_k(n: object, c: object, k: object) -> np.ndarray | float:
    """Unbiased pass@k estimator ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021).

    The probability that at least one of ``k`` samples drawn without replacement from
    ``n`` samples, ``c`` of them correct, is correct.

    Parameters
    ----------
    n : int or array_like of int
        Number of samples per question, ``n >= 1``.
    c : int or array_like of int
        Number of correct samples, ``0 <= c <= n``.
    k : int or array_like of int
        Budget, ``1 <= k <= n``.

        ``n``, ``c`` and ``k`` broadcast against each other (e.g. ``n, c`` of shape
        ``(Q, 1)`` and ``k`` of shape ``(K,)`` give ``(Q, K)``). Floats are accepted when
        they hold integral values.

    Returns
    -------
    float or ndarray of float, shape ``broadcast(n, c, k)``
        pass@k in ``[0, 1]``; exactly 1 where ``n - c < k`` and exactly 0 where ``c = 0``.
        A Python float when all inputs are scalars.

    Raises
    ------
    ValueError
        If an argument is not integer-valued or out of range; the message names it.

    Notes
    -----
    Computed in log space: ``log(C(n-c,k)/C(n,k))`` is an exact sum of ``log1p`` terms when
    ``min(c, k) <= 256`` and a regrouped Stirling identity otherwise (see the module
    docstring), then ``pass@k = -expm1(log ratio)``. Accurate to ~1e-15 absolute for any
    ``n`` up to 1e7 and beyond, and ``1 - pass@k`` to ~1e-12 relative wherever it exceeds
    ~1e-300. Mean over questions gives the benchmark-level pass@k.

    Examples
    --------
    >>> from irsl_stats.passk import pass_at_k
    >>> float(pass_at_k(10, 3, 1))
    0.3
    >>> pass_at_k(100, [0, 10, 100], [[1], [10]]).round(4)  # k down, c across
    array([[0.    , 0.1   , 1.    ],
           [0.    , 0.6695, 1.    ]])
    """
    n_arr = _as_integer_array(n, "n")
    c_arr = _as_integer_array(c, "c")
    k_arr = _as_integer_array(k, "k")
    try:
        n_b, c_b, k_b = np.broadcast_arrays(n_arr, c_arr, k_arr)
    except ValueError as exc:
        raise ValueError(
            f"`n`, `c` and `k` do not broadcast: shapes {n_arr.shape}, {c_arr.shape}, {k_arr.shape}"
        ) from exc
    if np.any(n_b < 1):
        raise ValueError("`n` must be >= 1")
    if np.any(c_b < 0):
        raise ValueError("`c` must be >= 0")
    if np.any(c_b > n_b):
        raise ValueError("`c` must be <= n")
    if np.any(k_b < 1):
        raise ValueError("`k` must be >= 1")
    if np.any(k_b > n_b):
        raise ValueError("`k` must be <= n")
    out = np.ones(n_b.shape, dtype=float)
    live = (n_b - c_b) >= k_b
    if np.any(live):
        out[live] = 0.0 - np.expm1(_log_fail_at_k(n_b[live], c_b[live], k_b[live]))
    if out.ndim == 0:
        return float(out)
    return out


def beta_pass_at_k(mu: object, phi: object, k: object) -> np.ndarray | float:
    """Expected pass@k when ``p ~ Beta(mu*phi, (1-mu)*phi)``.

    ``E[1 - (1-p)^k] = 1 - B(alpha, beta + k) / B(alpha, beta)`` with ``alpha = mu*phi`` and
    ``beta = (1-mu)*phi``: the population pass@k of one question under the Beta-IRT model.
    For large ``k`` the failure probability decays like ``k^(-alpha)`` (a power law), unlike
    the geometric decay of the plug-in :func:`plugin_pass_at_k`.

    Parameters
    ----------
    mu : float or array_like
        Mean success probability, ``0 < mu < 1``.
    phi : float or array_like
        Precision ``phi > 0``; ``phi = inf`` gives the plug-in limit ``1 - (1-mu)^k``.
    k : float or array_like
        Number of attempts, ``k > 0`` (need not be an integer; ``k = 1`` gives ``mu``).

        ``mu``, ``phi`` and ``k`` broadcast against each other; e.g. ``mu`` of shape
        ``(Q, 1)`` and ``k`` of shape ``(K,)`` give ``(Q, K)``.

    Returns
    -------
    float or ndarray of float, shape ``broadcast(mu, phi, k)``
        Values in ``[0, 1]``; a Python float when all inputs are scalars.

    Raises
    ------
    ValueError
        If an argument is NaN or out of range; the message names it.

    Notes
    -----
    The log ratio ``lgamma(beta+k) - lgamma(beta) - lgamma(alpha+beta+k) + lgamma(alpha+beta)``
    is computed without cancellation (an exact ``log1p`` sum for integer ``k <= 256``, a
    regrouped Stirling identity otherwise), then ``1 - exp(.)`` by ``-expm1``. Accurate to
    ~1e-14 for ``k`` up to 1e9 and ``phi`` up to 1e12.

    Examples
    --------
    >>> from irsl_stats.passk import beta_pass_at_k
    >>> float(beta_pass_at_k(0.2, 10.0, 1))  # pass@1 is the mean
    0.2
    >>> beta_pass_at_k(0.05, 2.0, [1, 10, 100, 1000]).round(3)
    array([0.05 , 0.185, 0.345, 0.479])
    """
    mu_a = _as_float_array(mu, "mu")
    phi_a = _as_float_array(phi, "phi")
    k_a = _as_float_array(k, "k")
    try:
        mu_b, phi_b, k_b = np.broadcast_arrays(mu_a, phi_a, k_a)
    except ValueError as exc:
        raise ValueError(
            f"`mu`, `phi` and `k` do not broadcast: shapes {mu_a.shape}, {phi_a.shape}, {k_a.shape}"
        ) from exc
    if np.any((mu_b <= 0.0) | (mu_b >= 1.0)):
        raise ValueError("`mu` must lie strictly between 0 and 1")
    if np.any(phi_b <= 0.0):
        raise ValueError("`phi` must be > 0")
    if np.any(~np.isfinite(k_b)) or np.any(k_b <= 0.0):
        raise ValueError("`k` must be finite and > 0")
    out = np.empty(mu_b.shape, dtype=float)
    inf_phi = np.isinf(phi_b)
    if np.any(inf_phi):
        out[inf_phi] = -np.expm1(k_b[inf_phi] * np.log1p(-mu_b[inf_phi]))
    fin = ~inf_phi
    if np.any(fin):
        m = mu_b[fin]
        p = phi_b[fin]
        kk = k_b[fin]
        alpha = m * p
        beta = (1.0 - m) * p
        logr = np.empty(m.shape)
        # log B(alpha, beta+k)/B(alpha, beta) = log prod_{i<k} (beta+i)/(alpha+beta+i)
        direct = (kk <= _DIRECT_MAX) & (kk == np.round(kk))
        if np.any(direct):
            a_d = alpha[direct]
            b_d = beta[direct]
            ab_d = (alpha + beta)[direct]
            k_d = kk[direct].astype(np.int64)
            acc = np.zeros(a_d.shape)
            for i in range(int(k_d.max())):
                act = k_d > i
                den = ab_d[act] + i
                acc[act] += _log_ratio(b_d[act] + i, den, a_d[act])
            logr[direct] = acc
        rest = ~direct
        if np.any(rest):
            # base = beta, shifts s = alpha, t = k
            logr[rest] = _log_gamma_ratio(beta[rest], alpha[rest], kk[rest])
        out[fin] = 0.0 - np.expm1(logr)
    np.clip(out, 0.0, 1.0, out=out)
    if out.ndim == 0:
        return float(out)
    return out


def plugin_pass_at_k(mu: object, k: object) -> np.ndarray | float:
    """Plug-in pass@k ``1 - (1-mu)^k`` for a known success probability ``mu``.

    Parameters
    ----------
    mu : float or array_like
        Success probability, ``0 <= mu <= 1``.
    k : float or array_like
        Number of attempts, ``k > 0``. Broadcasts against ``mu``.

    Returns
    -------
    float or ndarray of float, shape ``broadcast(mu, k)``
        ``-expm1(k * log1p(-mu))``; a Python float when both inputs are scalars.

    Raises
    ------
    ValueError
        If an argument is NaN or out of range; the message names it.

    Examples
    --------
    >>> from irsl_stats.passk import plugin_pass_at_k
    >>> plugin_pass_at_k(0.5, [1, 2, 3])
    array([0.5  , 0.75 , 0.875])
    """
    mu_a = _as_float_array(mu, "mu")
    k_a = _as_float_array(k, "k")
    try:
        mu_b, k_b = np.broadcast_arrays(mu_a, k_a)
    except ValueError as exc:
        raise ValueError(f"`mu` and `k` do not broadcast: shapes {mu_a.shape}, {k_a.shape}") from exc
    if np.any((mu_b < 0.0) | (mu_b > 1.0)):
        raise ValueError("`mu` must lie in [0, 1]")
    if np.any(~np.isfinite(k_b)) or np.any(k_b <= 0.0):
        raise ValueError("`k` must be finite and > 0")
    with np.errstate(divide="ignore"):
        out = -np.expm1(k_b * np.log1p(-mu_b))
    if out.ndim == 0:
        return float(out)
    return out
