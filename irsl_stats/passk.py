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

:func:`pass_at_k_grid` and :func:`beta_pass_at_k_grid` evaluate the unbiased estimator and the
Beta expectation for many questions on a whole grid of budgets at once (a questions x budgets array, e.g. every ``k = 1..10,000``) in a fraction of the
time of the elementwise function: on a dense integer grid the log ratio is a running sum.

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
  ``gammaln(x) - (x - 1/2) log x + x - log(2 pi)/2`` below. When the smaller shift ``s``
  (``min(c, k)``, or ``min(alpha, k)``) is at most the base (``n - c - k + 1``, or ``beta``)
  the regrouped terms are each of size ``s`` but their sum only ``O(s t / base)``; there the
  terms linear in ``s / x`` are cancelled algebraically (``log1p(u) = u + (log1p(u) - u)``,
  the second part by an ``atanh`` series), so the rounding error no longer grows with ``s``.

The log ratio is then exact to a few ulps of ``max(1, |log ratio|)`` and the final
``1 - exp(.)`` uses ``-expm1``. Measured against 40-digit ``mpmath`` (3,150 ``(n, c, k)``
with ``n`` from 1e3 to 1e7, most with ``c k / n`` of order 1, where pass@k is neither 0 nor
1): :func:`pass_at_k` within ``4e-16`` absolute, and the log ratio -- the relative error of
``1 - pass@k`` -- within ``1.2e-15 * max(1, |log ratio|)``. For :func:`beta_pass_at_k` see
its notes (at most ``6e-15`` absolute for ``k <= 1e9``, ``phi <= 1e12``).

References
----------
Chen, M. et al. (2021). Evaluating large language models trained on code. arXiv:2107.03374.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import digamma, gammaln

__all__ = ["pass_at_k", "pass_at_k_grid", "beta_pass_at_k", "beta_pass_at_k_grid", "plugin_pass_at_k"]

#: Largest shift summed term by term; larger shifts use the regrouped Stirling form.
_DIRECT_MAX = 256
#: Below this precision the Beta expectation is taken from its expansion around ``phi = 0``
#: (:func:`_tiny_phi_log_fail`): ``alpha`` and ``beta`` are then near or below the smallest
#: normal double, where the general forms lose digits, divide by zero or overflow.
_TINY_PHI = 1e-8
#: Elements per block of :func:`beta_pass_at_k_grid` (bounds its temporary memory, ~32 MB).
_GRID_BLOCK = 1 << 22

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
#: Largest magnitude accepted for ``n``, ``c``, ``k``: the computation is in float64, which
#: holds every integer exactly only up to 2**53.
_INT_MAX = 2**53


def _raw_array(x: object, name: str, kind: str) -> np.ndarray:
    """``np.asarray(x)``, refusing ragged nested sequences and booleans among numbers, naming ``name``.

    ``np.asarray([1, True])`` is the integer array ``[1, 1]`` (a budget ``True`` became ``k = 1``,
    and a duplicate of it), so the items of a list or tuple are looked at before the conversion;
    numpy's own message for a ragged sequence ("inhomogeneous shape") names no argument.
    """
    try:
        arr = np.asarray(x)
    except ValueError:
        raise ValueError(f"`{name}` must be {kind}, in a rectangular array: the rows of the nested "
                         f"sequence differ in length") from None
    except TypeError as exc:
        raise ValueError(f"`{name}` must be {kind}; it could not be read as an array ({exc})") from None
    if isinstance(x, (list, tuple)) and arr.dtype != object:
        stack, flags = [x], []
        while stack and not flags:
            for v in stack.pop():
                if isinstance(v, (list, tuple)):
                    stack.append(v)
                elif isinstance(v, (bool, np.bool_)):
                    flags.append(v)
                    break
        if flags:
            raise ValueError(f"`{name}` must be {kind}, got booleans such as {flags[0]!r}")
    return arr


def _as_integer_array(x: object, name: str) -> np.ndarray:
    """Return ``x`` as an int64 array, or raise ValueError naming ``name``."""
    arr = _raw_array(x, name, "integer")
    if arr.dtype == bool:
        raise ValueError(f"`{name}` must be integer, got booleans")
    if arr.dtype.kind in "US":
        raise ValueError(f"`{name}` must be integer, got strings such as {str(arr.flat[0])!r}"
                         if arr.size else f"`{name}` must be integer, got dtype {arr.dtype}")
    if arr.dtype == object:
        # Python ints beyond int64 land in an object array, and so do small ones held with
        # dtype=object (e.g. a pandas object Series): check the exact values, then convert
        arr = _object_to_numeric(arr, name)
    if np.issubdtype(arr.dtype, np.integer):
        # check before the cast: uint64 above 2**63 would wrap to negative int64 and be
        # reported as out of range for the wrong reason
        if np.any(arr > _INT_MAX) or (np.issubdtype(arr.dtype, np.signedinteger) and np.any(arr < -_INT_MAX)):
            raise ValueError(f"`{name}` is too large: values must be at most 2**53 in magnitude "
                             f"(the computation is in float64)")
        return arr.astype(np.int64, copy=False)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must be finite integers, found NaN or inf")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"`{name}` must be integers, found non-integral values")
        if np.any(np.abs(arr) > _INT_MAX):
            raise ValueError(f"`{name}` is too large to be an exact integer in float64")
        return arr.astype(np.int64)
    raise ValueError(f"`{name}` must be integer, got dtype {arr.dtype}")


def _object_to_numeric(arr: np.ndarray, name: str) -> np.ndarray:
    """An object array of Python/numpy numbers as int64 (all integers) or float64, or raise.

    Integers are checked exactly (Python ints are unbounded) against :data:`_INT_MAX` before
    the conversion; booleans, strings, ``None`` and other objects are rejected, naming ``name``.
    """
    flat = list(arr.flat)
    bad = [v for v in flat if isinstance(v, (bool, np.bool_))
           or not isinstance(v, (int, np.integer, float, np.floating))]
    if bad:
        raise ValueError(f"`{name}` must be integer, got object values such as {bad[0]!r} "
                         f"({type(bad[0]).__name__})")
    if all(isinstance(v, (int, np.integer)) for v in flat):
        big = [v for v in flat if abs(int(v)) > _INT_MAX]
        if big:
            raise ValueError(f"`{name}` is too large: values must be at most 2**53 in magnitude "
                             f"(the computation is in float64), got {big[0]!r}")
        return np.array([int(v) for v in flat], dtype=np.int64).reshape(arr.shape)
    return np.array([float(v) for v in flat], dtype=float).reshape(arr.shape)


def _as_float_array(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array, or raise ValueError naming ``name``.

    Booleans and strings are rejected (``np.asarray(x, dtype=float)`` alone turned ``k=True``
    into a budget of 1 and ``"0.5"`` into a mean, while :func:`pass_at_k` rejected both).
    """
    raw = _raw_array(x, name, "numeric")
    if raw.dtype == bool or raw.dtype.kind in "USV":
        raise ValueError(f"`{name}` must be numeric, got {'booleans' if raw.dtype == bool else 'strings'}")
    if raw.dtype == object:
        bad = [v for v in raw.flat if isinstance(v, (bool, np.bool_, str, bytes))]
        if bad:
            raise ValueError(f"`{name}` must be numeric, got object values such as {bad[0]!r}")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be numeric") from exc
    if np.any(np.isnan(arr)):
        raise ValueError(f"`{name}` contains NaN at positions {_positions(np.isnan(arr))}")
    return arr


#: Budgets at or above this do not fit an int64: whole-number budgets are reported as int64 (a
#: ``k`` column), and ``np.float64(1e19).astype(np.int64)`` silently wraps to -2**63.
_K_LIMIT = 2.0**63


def _check_budgets_int64(ks: np.ndarray, name: str = "ks") -> None:
    """Raise ValueError naming the finite budgets ``>= 2**63`` in the float array ``ks``.

    Non-finite budgets are left to the caller's own check (they are invalid for another reason).
    """
    k = np.atleast_1d(np.asarray(ks, dtype=float))
    big = np.isfinite(k) & (k >= _K_LIMIT)
    if np.any(big):
        raise ValueError(f"`{name}`: budgets k must be < 2**63 (they are reported as 64-bit integers); "
                         f"got {k[big][:5].tolist()} at positions {_positions(big)}")


def _budget_column(ks: np.ndarray) -> np.ndarray:
    """Budgets as a table's ``k`` column: int64 when every one is a whole number below 2**63
    (budgets are counts of samples, and a float ``k`` would not merge with integer budgets of the
    other pass@k tables), else the floats as given."""
    k = np.asarray(ks, dtype=float)
    whole = np.all(np.isfinite(k) & (k == np.round(k)) & (np.abs(k) < _K_LIMIT))
    return k.astype(np.int64) if whole else k


def _positions(mask: np.ndarray, limit: int = 5) -> str:
    """The first ``limit`` positions (flat indices, or index tuples for ndim > 1) where ``mask`` holds."""
    where = np.argwhere(np.atleast_1d(mask))
    shown = [int(w[0]) if len(w) == 1 else tuple(int(i) for i in w) for w in where[:limit]]
    more = f" and {len(where) - limit} more" if len(where) > limit else ""
    return f"{shown}{more}"


def _out_of_range(name: str, rule: str, mask: np.ndarray, values: np.ndarray) -> ValueError:
    """A ValueError naming the argument, the rule, and the first offending positions and values."""
    vals = np.atleast_1d(values)[np.atleast_1d(mask)][:5].tolist()
    return ValueError(f"`{name}` must be {rule}; violated at positions {_positions(mask)} "
                      f"(values {vals})")


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
    # np.where evaluates both branches; the branch discarded may divide by zero (log1p(-1))
    with np.errstate(divide="ignore", invalid="ignore"):
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


def _log1p_minus(u: np.ndarray) -> np.ndarray:
    """``log1p(u) - u`` for ``0 <= u <= 1`` to a few ulps (relative), without cancellation.

    With ``z = u / (2 + u)``, ``log1p(u) = 2 atanh(z)`` and ``u - 2 z = u z``, so
    ``log1p(u) - u = -u z + 2 (z^3/3 + z^5/5 + ...)``: two terms of the same sign, and the
    series converges fast (``z <= 1/3``; 20 terms leave < 1e-19 relative).
    """
    z = u / (2.0 + u)
    z2 = z * z
    acc = np.zeros_like(z)
    for m in range(20, 0, -1):
        acc = acc * z2 + 1.0 / (2 * m + 1)
    return 2.0 * z * z2 * acc - u * z


def _log_gamma_ratio(base: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Log of ``Gamma(base + t) Gamma(base + s) / (Gamma(base) Gamma(base + s + t))``.

    With ``x2 = base``, ``x1 = base + t``, ``x4 = base + s``, ``x3 = base + s + t``; requires
    ``base > 0``, ``s, t >= 0``. Equal to ``log prod_{i<t} (base+i)/(base+s+i)`` for integer
    ``t`` (and symmetric in ``s``, ``t``). Uses the regrouped Stirling identity (see module
    docstring), in one of two forms (``s`` the smaller shift):

    * ``s > base``: ``(x1-1/2) log(x1/x3) + (x4-1/2) log1p(s/x2) + s log(x2/x3)``; the
      terms are of size ``s`` and so is the result (``|log ratio| >= ~0.4 s``), so the
      absolute error, a few ulps of ``s``, is a few ulps of the result;
    * ``s <= base``: the terms of size ``s`` above cancel to ``O(s t / base)``; the form
      ``-s log1p(t/x2) + s(s-1/2) t/(x2 x1) - K(x1) + K(x2)`` with
      ``K(x) = (x+s-1/2) (log1p(s/x) - s/x)`` (:func:`_log1p_minus`) does that cancellation
      algebraically: its terms are at most ``~s^2/base`` or the size of the result, so the
      absolute error is a few ulps of ``max(|log ratio|, s^2/base)`` instead of ``s``.
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
    main = np.empty(x1.shape)
    wide = s > base
    if np.any(wide):
        w1, w2, w3, w4, ws, wt = x1[wide], x2[wide], x3[wide], x4[wide], s[wide], t[wide]
        # (x1-1/2)log x1 - (x2-1/2)log x2 - (x3-1/2)log x3 + (x4-1/2)log x4, regrouped:
        # log(x1/x3) = log1p(-s/x3), log(x4/x2) = log1p(s/x2), log(x2/x3) = log1p(-(s+t)/x3)
        main[wide] = (
            (w1 - 0.5) * _log_ratio(w1, w3, ws)
            + (w4 - 0.5) * np.log1p(ws / w2)
            + ws * _log_ratio(w2, w3, ws + wt)
        )
    narrow = ~wide
    if np.any(narrow):
        n1, n2, ns, nt = x1[narrow], x2[narrow], s[narrow], t[narrow]
        # with D(x) = lgamma(x) - lgamma(x + s) the log ratio is D(x1) - D(x2), and
        # D(x) = -s log x - (x+s-1/2) log1p(s/x) + s + r(x) - r(x+s); writing
        # log1p(u) = u + (log1p(u) - u) the terms linear in s/x cancel exactly
        main[narrow] = (
            -ns * np.log1p(nt / n2)
            + ns * (ns - 0.5) * (nt / (n2 * n1))
            - (n1 + ns - 0.5) * _log1p_minus(ns / n1)
            + (n2 + ns - 0.5) * _log1p_minus(ns / n2)
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
        If an argument is not integer-valued (booleans and strings included) or out of range;
        the message names it and the first offending (broadcast) positions and values.

    Notes
    -----
    Computed in log space: ``log(C(n-c,k)/C(n,k))`` is an exact sum of ``log1p`` terms when
    ``min(c, k) <= 256`` and a regrouped Stirling identity otherwise (see the module
    docstring), then ``pass@k = -expm1(log ratio)``. For ``n <= 1e7`` the result is well
    within ``1e-12`` absolute: measured against 40-digit ``mpmath`` for ``n`` from 1e3 to 1e7
    (mostly where ``c k / n`` is of order 1), at most ``4e-16`` absolute, and ``1 - pass@k``
    within ``1.2e-15 * max(1, |log(1 - pass@k)|)`` relative wherever it exceeds ~1e-300.
    Mean over questions gives the benchmark-level pass@k.

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
    # the messages name the broadcast positions and values: with thousands of cells "`c` must
    # be <= n" alone does not say which rows to look at
    for bad, name, rule, vals in ((n_b < 1, "n", ">= 1", n_b), (c_b < 0, "c", ">= 0", c_b),
                                  (c_b > n_b, "c", "<= n", c_b), (k_b < 1, "k", ">= 1", k_b),
                                  (k_b > n_b, "k", "<= n", k_b)):
        if np.any(bad):
            raise _out_of_range(name, rule, bad, vals)
    out = np.ones(n_b.shape, dtype=float)
    live = (n_b - c_b) >= k_b
    if np.any(live):
        out[live] = 0.0 - np.expm1(_log_fail_at_k(n_b[live], c_b[live], k_b[live]))
    if out.ndim == 0:
        return float(out)
    return out


def pass_at_k_grid(n: object, c: object, ks: object) -> np.ndarray:
    """Unbiased pass@k of many questions on a grid of budgets: a (questions x budgets) array.

    The same quantity as :func:`pass_at_k` for the outer product of cells ``(n_p, c_p)`` and
    budgets ``k``, fast enough for every ``k = 1..10,000`` at once.

    Parameters
    ----------
    n : array_like of int, shape (P,)
        Samples per cell, ``n >= 1``.
    c : array_like of int, shape (P,)
        Correct samples, ``0 <= c <= n``.
    ks : array_like of int, shape (K,)
        Budgets, ``1 <= k <= min(n)``.

    Returns
    -------
    ndarray of float, shape (P, K)
        pass@k in ``[0, 1]``; exactly 1 where ``n - c < k`` and 0 where ``c = 0``. Empty
        ``ks`` give shape (P, 0), as :func:`beta_pass_at_k_grid` does.

    Raises
    ------
    ValueError
        If an argument is not integer-valued, out of range or not one-dimensional; the message
        names it.

    Notes
    -----
    When the budgets are dense (``max k <= 8 K``) the log ratio ``log C(n-c,k)/C(n,k)`` is the
    running sum ``sum_{i<k} log((n-c-i)/(n-i))`` of terms computed without cancellation (relative
    error at most ~``k`` ulps); otherwise :func:`pass_at_k` is broadcast.

    Examples
    --------
    >>> from irsl_stats.passk import pass_at_k_grid
    >>> pass_at_k_grid([10, 10], [0, 3], [1, 2, 8]).round(4)
    array([[0.    , 0.    , 0.    ],
           [0.3   , 0.5333, 1.    ]])
    """
    n_a = np.atleast_1d(_as_integer_array(n, "n"))
    c_a = np.atleast_1d(_as_integer_array(c, "c"))
    k_a = np.atleast_1d(_as_integer_array(ks, "ks"))
    for arr, name in ((n_a, "n"), (c_a, "c"), (k_a, "ks")):
        if arr.ndim != 1:
            raise ValueError(f"`{name}` must be one-dimensional, got shape {arr.shape}")
    if n_a.shape != c_a.shape:
        raise ValueError(f"`n` and `c` must have the same shape, got {n_a.shape} and {c_a.shape}")
    if np.any(n_a < 1):
        raise _out_of_range("n", ">= 1", n_a < 1, n_a)
    if np.any(c_a < 0) or np.any(c_a > n_a):
        raise _out_of_range("c", "in [0, n]", (c_a < 0) | (c_a > n_a), c_a)
    if k_a.size == 0:
        # as pass_at_k and beta_pass_at_k_grid: no budgets, no columns
        return np.empty((n_a.size, 0), dtype=float)
    if np.any(k_a < 1):
        raise _out_of_range("ks", ">= 1", k_a < 1, k_a)
    if n_a.size and np.any(k_a > n_a.min()):
        short = n_a < k_a.max()
        raise ValueError(f"`ks` must be <= n for every cell: max(ks) = {int(k_a.max())} exceeds n at "
                         f"positions {_positions(short)} (n = {n_a[short][:5].tolist()})")
    kmax = int(k_a.max())
    if kmax > max(_DIRECT_MAX, 8 * k_a.size):
        return np.asarray(pass_at_k(n_a[:, None], c_a[:, None], k_a[None, :]), dtype=float)
    out = np.empty((n_a.size, k_a.size), dtype=float)
    steps = np.arange(kmax, dtype=float)
    cols = k_a - 1
    rows = max(1, _GRID_BLOCK // kmax)
    for lo in range(0, n_a.size, rows):
        hi = min(n_a.size, lo + rows)
        nn = n_a[lo:hi, None].astype(float)
        cc = c_a[lo:hi, None].astype(float)
        den = nn - steps
        live = steps < nn - cc  # (n-c-i)/(n-i) > 0
        num = np.where(live, den - cc, 1.0)
        diff = np.where(live, cc, den - 1.0)  # den - num, also where the term is not used
        with np.errstate(divide="ignore", invalid="ignore"):  # np.where keeps the finite branch
            terms = np.where(live, _log_ratio(num, den, diff), -np.inf)
        out[lo:hi] = -np.expm1(np.cumsum(terms, axis=1)[:, cols])
    np.clip(out, 0.0, 1.0, out=out)
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
        If an argument is NaN, out of range, or not numeric (booleans and strings are
        rejected); the message names it.

    Notes
    -----
    The log ratio ``lgamma(beta+k) - lgamma(beta) - lgamma(alpha+beta+k) + lgamma(alpha+beta)``
    is computed without cancellation (an exact ``log1p`` sum for integer ``k <= 256``, a
    regrouped Stirling identity otherwise; see the module docstring), then ``1 - exp(.)`` by
    ``-expm1``. Measured against 50-digit ``mpmath`` on 11,000 random ``(mu, phi, k)`` with
    ``mu`` in ``[1e-9, 1 - 1e-9]``, ``phi`` in ``[1e-2, 1e12]`` and ``k`` in ``[1, 1e9]``
    (half of them where pass@k is between about 0.01 and 0.99): at most ``6e-15`` absolute,
    and the failure probability ``1 - pass@k`` within ``6e-15 * max(1, |log(1 - pass@k)|)``
    relative. The relative error of a small pass@k is larger (up to ``3e-9`` at pass@k near
    1e-6, from ``mu * phi`` far below 1 with ``phi < 10``).

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
    tiny = phi_b <= _TINY_PHI
    if np.any(tiny):
        out[tiny] = -np.expm1(_tiny_phi_log_fail(mu_b[tiny], phi_b[tiny], k_b[tiny]))
    fin = ~inf_phi & ~tiny
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


def _tiny_phi_log_fail(mu: np.ndarray, phi: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``log B(alpha, beta + k) / B(alpha, beta)`` for ``phi <= _TINY_PHI`` (broadcast arrays).

    With ``alpha = mu phi`` and ``beta = (1 - mu) phi`` the ratio is exactly
    ``beta / (alpha + beta) * Gamma(beta + k) Gamma(1 + alpha + beta) / (Gamma(alpha + beta + k)
    Gamma(1 + beta))``, and ``beta / (alpha + beta) = 1 - mu`` whatever ``phi``: taken from
    ``mu`` it does not suffer from ``alpha`` or ``beta`` rounding (or underflowing) to 0. The
    two gamma ratios are ``1 + alpha (psi(1 + beta) - psi(beta + k)) + O(alpha^2)``, so the log
    ratio is ``log1p(-mu) + alpha (psi(1 + beta) - psi(beta + k))`` with an error below
    ``alpha^2 (psi'(1 + beta) - psi'(beta + k)) / 2 < 0.83 alpha^2``, i.e. below ``1e-16 mu``
    relative to pass@k (~ ``mu``): pass@k tends to ``mu`` (the Beta degenerates to a
    Bernoulli(mu) on {0, 1}) and is ``mu`` at ``k = 1``. (The general forms lose relative
    accuracy there when ``mu`` is small: 4e-8 at ``mu = 1e-9``, ``phi = 1e-10``.)
    """
    alpha = mu * phi
    beta = (1.0 - mu) * phi
    return np.log1p(-mu) + alpha * (digamma(1.0 + beta) - digamma(beta + k))


def _beta_log_fail_grid(alpha: np.ndarray, beta: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """``log B(alpha, beta + k) / B(alpha, beta)`` for rows ``(alpha, beta)`` of shape (P,) and
    budgets ``ks`` of shape (K,) (validated, finite ``alpha, beta > 0``, ``k > 0``): shape (P, K).

    Integer budgets up to ``cut`` use the running sum ``sum_{i<k} log((beta+i)/(alpha+beta+i))``
    (each term by :func:`_log_ratio`, no cancellation), where ``cut`` is the largest budget when
    the integer budgets are dense (``max k <= 8 K``) and :data:`_DIRECT_MAX` otherwise; other
    budgets use the regrouped Stirling identity of :func:`_log_gamma_ratio`. Computed in row
    blocks of about :data:`_GRID_BLOCK` elements.
    """
    p, nk = alpha.size, ks.size
    out = np.empty((p, nk), dtype=float)
    integer = ks == np.round(ks)
    kmax_int = float(ks[integer].max()) if integer.any() else 0.0
    cut = kmax_int if kmax_int <= max(_DIRECT_MAX, 8 * nk) else float(_DIRECT_MAX)
    summed = integer & (ks <= cut)
    width = int(ks[summed].max()) if summed.any() else 0
    cols = ks[summed].astype(np.int64) - 1
    rest = ~summed
    rows = max(1, _GRID_BLOCK // max(width, nk, 1))
    steps = np.arange(width, dtype=float)
    for lo in range(0, p, rows):
        hi = min(p, lo + rows)
        a = alpha[lo:hi, None]
        b = beta[lo:hi, None]
        if width:
            den = a + b + steps
            # np.where in _log_ratio evaluates both branches; the one kept is finite
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = _log_ratio(b + steps, den, np.broadcast_to(a, den.shape))
            out[lo:hi, summed] = np.cumsum(terms, axis=1)[:, cols]
        if rest.any():
            out[lo:hi, rest] = _log_gamma_ratio(b, a, ks[None, rest])
    return out


def beta_pass_at_k_grid(mu: object, phi: object, ks: object) -> np.ndarray:
    """Expected pass@k of many questions on a grid of budgets: a (questions x budgets) array.

    The same quantity as :func:`beta_pass_at_k` -- ``1 - B(alpha, beta + k) / B(alpha, beta)``
    with ``alpha = mu*phi``, ``beta = (1-mu)*phi`` -- for the outer product of questions and
    budgets, fast enough for every ``k = 1..10,000`` (or more) at once.

    Parameters
    ----------
    mu : array_like, shape (P,)
        Mean success probability of each question (or model-question cell), ``0 < mu < 1``.
    phi : float or array_like, shape (P,)
        Precision ``phi > 0``; ``inf`` gives the plug-in ``1 - (1-mu)^k`` for that row.
    ks : array_like, shape (K,)
        Budgets ``k > 0`` (need not be integers, sorted or unique).

    Returns
    -------
    ndarray of float, shape (P, K)
        Values in ``[0, 1]``; row ``p`` is the pass@k curve of question ``p``.

    Raises
    ------
    ValueError
        If an argument is NaN or out of range, or ``mu``/``phi`` are not one-dimensional and
        broadcastable; the message names the argument.

    Notes
    -----
    For a dense integer grid (``max k <= 8 K``) the log ratio is the running sum
    ``sum_{i<k} log((beta+i)/(alpha+beta+i))`` of terms computed without cancellation: one
    logarithm per (question, budget) instead of the twelve of the Stirling path; its relative
    error grows at most like ``k`` ulps (~1e-12 at ``k = 1e4``), far below any statistical
    error. Sparse or non-integer budgets above 256 use the regrouped Stirling identity of
    :func:`beta_pass_at_k`. Memory is bounded by working in blocks of rows.

    Examples
    --------
    >>> import numpy as np
    >>> from irsl_stats.passk import beta_pass_at_k_grid
    >>> beta_pass_at_k_grid([0.05, 0.2], 2.0, [1, 10, 100]).round(3)
    array([[0.05 , 0.185, 0.345],
           [0.2  , 0.576, 0.824]])
    >>> curves = beta_pass_at_k_grid(np.full(128, 0.01), 1.0, np.arange(1, 10_001))
    >>> curves.shape
    (128, 10000)
    """
    mu_a = np.atleast_1d(_as_float_array(mu, "mu"))
    phi_a = np.atleast_1d(_as_float_array(phi, "phi"))
    ks_a = np.atleast_1d(_as_float_array(ks, "ks"))
    if mu_a.ndim != 1:
        raise ValueError(f"`mu` must be one-dimensional, got shape {mu_a.shape}")
    if phi_a.ndim != 1 or phi_a.size not in (1, mu_a.size):
        raise ValueError(f"`phi` must be a scalar or have the shape of `mu` {mu_a.shape}, got {phi_a.shape}")
    if ks_a.ndim != 1:
        raise ValueError(f"`ks` must be one-dimensional, got shape {ks_a.shape}")
    phi_a = np.broadcast_to(phi_a, mu_a.shape)
    if np.any((mu_a <= 0.0) | (mu_a >= 1.0)):
        raise ValueError("`mu` must lie strictly between 0 and 1")
    if np.any(phi_a <= 0.0):
        raise ValueError("`phi` must be > 0")
    if np.any(~np.isfinite(ks_a)) or np.any(ks_a <= 0.0):
        raise ValueError("`ks` must be finite and > 0")
    logr = np.empty((mu_a.size, ks_a.size), dtype=float)
    inf_phi = np.isinf(phi_a)
    if inf_phi.any():
        logr[inf_phi] = ks_a[None, :] * np.log1p(-mu_a[inf_phi, None])
    tiny = phi_a <= _TINY_PHI
    if tiny.any():
        logr[tiny] = _tiny_phi_log_fail(mu_a[tiny, None], phi_a[tiny, None], ks_a[None, :])
    fin = ~inf_phi & ~tiny
    if fin.any():
        m, p = mu_a[fin], phi_a[fin]
        logr[fin] = _beta_log_fail_grid(m * p, (1.0 - m) * p, ks_a)
    if np.isnan(logr).any():  # not expected: every term is finite or -inf by construction
        raise FloatingPointError("beta_pass_at_k_grid produced NaN; please report the inputs")
    out = 0.0 - np.expm1(logr)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _beta_shape_pass_at_k_grid(alpha: object, beta: object, ks: object) -> np.ndarray:
    """``1 - B(alpha, beta + k) / B(alpha, beta)`` from the shape parameters: a (rows x budgets) array.

    The quantity of :func:`beta_pass_at_k_grid` without the round trip through ``mu = alpha /
    (alpha + beta)``, which loses ``beta`` when it is 16 or more orders of magnitude below
    ``alpha``: the posterior ``Beta(mu phi + c, (1 - mu) phi + n - c)`` of a question that is
    (numerically) always solved, ``mu = 1 - 2**-53``, and solved ``n`` times of ``n`` has
    ``beta ~ 1e-15 phi`` and its mean rounds to exactly 1. Defined, and computed in log space, for
    any finite ``alpha, beta > 0``: rows with ``alpha + beta <= 1e-8`` by the expansion of
    :func:`_tiny_phi_log_fail` (with ``log(beta / (alpha + beta))`` taken from the shapes), the
    others by :func:`_beta_log_fail_grid`.

    Raises ValueError naming ``alpha``, ``beta`` or ``ks`` and the first offending positions.
    """
    a = np.atleast_1d(_as_float_array(alpha, "alpha"))
    b = np.atleast_1d(_as_float_array(beta, "beta"))
    ks_a = np.atleast_1d(_as_float_array(ks, "ks"))
    if a.ndim != 1 or b.shape != a.shape:
        raise ValueError(f"`alpha` and `beta` must be one-dimensional of the same shape, got {a.shape} "
                         f"and {b.shape}")
    if ks_a.ndim != 1:
        raise ValueError(f"`ks` must be one-dimensional, got shape {ks_a.shape}")
    for arr, name in ((a, "alpha"), (b, "beta")):
        bad = ~np.isfinite(arr) | (arr <= 0.0)
        if bad.any():
            raise _out_of_range(name, "finite and > 0", bad, arr)
    if np.any(~np.isfinite(ks_a)) or np.any(ks_a <= 0.0):
        raise _out_of_range("ks", "finite and > 0", ~np.isfinite(ks_a) | (ks_a <= 0.0), ks_a)
    logr = np.empty((a.size, ks_a.size), dtype=float)
    tiny = a + b <= _TINY_PHI
    if tiny.any():
        at, bt = a[tiny, None], b[tiny, None]
        logr[tiny] = (_log_ratio(bt, at + bt, at)
                      + at * (digamma(1.0 + bt) - digamma(bt + ks_a[None, :])))
    if (~tiny).any():
        logr[~tiny] = _beta_log_fail_grid(a[~tiny], b[~tiny], ks_a)
    if np.isnan(logr).any():  # not expected: every term is finite or -inf by construction
        raise FloatingPointError("_beta_shape_pass_at_k_grid produced NaN; please report the inputs")
    out = 0.0 - np.expm1(logr)
    np.clip(out, 0.0, 1.0, out=out)
    return out


#: Cells (rows x budgets) of one block of :func:`_row_mean` (16 MB of float64).
_MEAN_BLOCK_CELLS = 2_000_000


def _row_mean(block_table: Callable[[slice], np.ndarray], n_rows: int, n_ks: int) -> np.ndarray:
    """Mean over rows of the (rows x budgets) table ``block_table(rows)`` builds a block of rows at a time.

    A mean pass@k curve over questions needs only the column sums, and the whole table of 128
    questions on a dense grid ``k = 1..1e6`` is 1 GB (3 GB with the temporaries of
    :func:`beta_pass_at_k_grid`); blocks of about :data:`_MEAN_BLOCK_CELLS` cells bound the memory.
    The block sums are added in row order, so the result depends on the inputs only (not on
    threads); with one block it is bitwise ``table.mean(axis=0)``.
    """
    if n_rows < 1:
        raise ValueError("no rows to average: the pass@k curve of an empty set of questions is undefined")
    rows = max(1, _MEAN_BLOCK_CELLS // max(n_ks, 1))
    acc = np.zeros(n_ks, dtype=float)
    for lo in range(0, n_rows, rows):
        acc += block_table(slice(lo, min(n_rows, lo + rows))).sum(axis=0)
    return acc / n_rows


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
        If an argument is NaN, out of range, or not numeric (booleans and strings are
        rejected); the message names it.

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
