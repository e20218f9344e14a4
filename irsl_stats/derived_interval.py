"""Confidence intervals of parameters that the identification derives from the slopes.

Under ``identification="population"`` a 2PL fit with covariates has ``var_i(x_i' beta) + sigma^2
= 1`` over the calibration models, so ``sigma = sqrt(1 - beta' S beta)`` (``S`` the population
covariance of the design columns) is a function of the slopes; likewise each per-benchmark
``log sd`` of a multidimensional fit and an exploratory ``Sigma = I - cov(XB)``. The delta-method
standard error of such a parameter is proportional to the slopes' estimates and vanishes as they
near 0, where ``params -+ q bse`` collapses onto the estimate (95% intervals of ``sigma`` covered
0.82 (MML) / 0.79 (JML) for a weak law). The interval here is instead the image of the slopes'
Wald confidence ellipsoid ``{b : (b - b_hat)' C^+ (b - b_hat) <= q^2}`` under the map (``q`` the
``1 - alpha/2`` quantile of the fit's reference distribution, Student's t or the normal: a
one-degree-of-freedom radius), ``[min g, max g]`` over it. It
agrees with the delta-method interval to first order when the gradient is not small, and stays
honest near the singular point (it contains ``sigma = 1`` when the ellipsoid contains slope 0).

For a function of one quadratic form ``b' S b`` the extrema over the ellipsoid are trust-region
subproblems solved exactly (:func:`trust_region_min`); other functions (the correlations of an
exploratory ``Sigma``) are optimised numerically from several starts (:func:`image_range`).
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np
from scipy import optimize

__all__ = ["scaled_eigen", "ellipsoid_basis", "trust_region_min", "quadratic_form_range", "residual_variance_range",
           "image_range"]

#: relative eigenvalue (on the correlation scale) below which a direction of a covariance counts
#: as absent: the identification's exact zeros come out at ~1e-14, and estimate.py already warns
#: about a condition number above 1e12, so a genuine direction this small is never trustworthy
_RANK_RTOL = 1e-10


def scaled_eigen(cov: np.ndarray):
    """Eigen-decomposition of a covariance on the correlation scale, with its numerical rank.

    The rank is judged on the correlation scale, so that coefficients of covariates in very
    different units (raw FLOPs) are treated alike; directions of zero variance (coefficients
    fixed by the identification, an intercept that is a function of the slopes) drop out.

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        A covariance; must be finite.

    Returns
    -------
    sd : ndarray, shape (n,)
        Standard deviations (0 where the variance is not positive).
    vals, vecs : ndarray, shapes (n,) and (n, n)
        Eigenvalues and eigenvectors of the correlation matrix (zero rows and columns where
        ``sd`` is 0).
    keep : ndarray of bool, shape (n,)
        The eigenvalues above ``1e-10`` times the largest: the numerical range.
    """
    cov = np.asarray(cov, float)
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    live = sd > 0
    scaled = np.zeros_like(cov)
    scaled[np.ix_(live, live)] = cov[np.ix_(live, live)] / np.outer(sd[live], sd[live])
    vals, vecs = np.linalg.eigh(scaled)
    keep = vals > _RANK_RTOL * max(vals.max(initial=0.0), 0.0)
    return sd, vals, vecs, keep


def _all_finite(*arrays: np.ndarray) -> bool:
    """Whether every value of every array is finite (a NaN covariance gives a NaN interval)."""
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


def ellipsoid_basis(cov: np.ndarray) -> np.ndarray:
    """A factor ``L`` (n, r) of the covariance ``C = L L'`` over its numerical range.

    The ellipsoid ``{b_hat + L z : |z| <= q}`` is the Wald region ``(b - b_hat)' C^+ (b - b_hat)
    <= q^2`` within the range of ``C`` (rank as :func:`scaled_eigen`).

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        Covariance of the coefficients; must be finite.

    Returns
    -------
    ndarray, shape (n, r)
        ``r`` the numerical rank of ``cov`` (0 columns when it is zero).
    """
    sd, vals, vecs, keep = scaled_eigen(cov)
    return sd[:, None] * vecs[:, keep] * np.sqrt(vals[keep])


def trust_region_min(h: np.ndarray, g: np.ndarray, radius: float) -> Tuple[float, np.ndarray]:
    """Exact minimum of ``z' H z + 2 g' z`` over the ball ``|z| <= radius``.

    The trust-region subproblem (Moré and Sorensen 1983): with ``H = U diag(lam) U'`` the
    minimiser is ``z(mu) = -(H + mu I)^-1 g`` for the ``mu >= max(0, -lam_min)`` at which it
    reaches the boundary (a 1-D root of a monotone function), or the interior Newton point when
    ``H`` is positive definite and that point lies in the ball; in the "hard case" (``g``
    orthogonal to the eigenvectors of ``lam_min``) the remaining length is added along such an
    eigenvector. ``H`` may be indefinite (the maximum of a convex quadratic is the minimum of
    its negative).

    Parameters
    ----------
    h : ndarray, shape (r, r)
        Symmetric matrix.
    g : ndarray, shape (r,)
    radius : float
        Radius of the ball, ``>= 0``.

    Returns
    -------
    (float, ndarray of shape (r,))
        The minimum value and a minimiser.
    """
    h = 0.5 * (np.asarray(h, float) + np.asarray(h, float).T)
    g = np.asarray(g, float)
    r = g.size
    if r == 0 or radius <= 0:
        return 0.0, np.zeros(r)
    lam, u = np.linalg.eigh(h)
    gam = u.T @ g
    scale = max(np.abs(lam).max(), np.linalg.norm(g) / radius, 1e-300)
    tol = 1e-12 * scale
    lam_min = lam[0]

    def value(y):  # in the eigenbasis
        return float(np.sum(lam * y * y) + 2 * np.sum(gam * y))

    if lam_min > tol:
        y = -gam / lam
        if np.linalg.norm(y) <= radius:
            return value(y), u @ y
    mu_lo = max(0.0, -lam_min)
    near = lam <= lam_min + tol  # the eigenvectors of lam_min
    if np.all(np.abs(gam[near]) <= 1e-12 * (np.linalg.norm(gam) + np.abs(lam).max() * radius)):
        # possibly the hard case: the boundary solution may need mu = -lam_min exactly
        y = np.zeros(r)
        y[~near] = -gam[~near] / (lam[~near] + mu_lo)
        rest = radius**2 - float(y @ y)
        if rest >= 0:
            if lam_min < 0 or rest == 0:
                y[np.flatnonzero(near)[0]] = np.sqrt(rest)
            # (lam_min >= 0 with g ~ 0 on its eigenvectors: y is already optimal)
            return value(y), u @ y

    def excess(mu):
        return float(np.linalg.norm(gam / (lam + mu))) - radius

    hi = mu_lo + np.linalg.norm(gam) / radius + tol
    lo = mu_lo
    # move off the pole until the step is longer than the radius
    step = max(tol, 1e-300)
    while True:
        with np.errstate(divide="ignore", invalid="ignore"):
            e = excess(lo + step)
        if not np.isfinite(e) or e > 0:
            break
        step *= 1e-3
        if step < 1e-300:  # numerically the hard case: take the boundary point at mu_lo
            break
    lo = lo + step
    with np.errstate(divide="ignore", invalid="ignore"):
        e_lo = excess(lo)
    if np.isfinite(e_lo) and e_lo > 0 and excess(hi) < 0:
        mu = optimize.brentq(excess, lo, hi, xtol=1e-15 * max(1.0, hi), rtol=4 * np.finfo(float).eps,
                             maxiter=500)
    else:
        mu = lo if not (np.isfinite(e_lo) and e_lo > 0) else hi
    with np.errstate(divide="ignore", invalid="ignore"):
        y = -gam / (lam + mu)
    y[~np.isfinite(y)] = 0.0
    n = np.linalg.norm(y)
    if n > radius:
        y *= radius / n
    return value(y), u @ y


def quadratic_form_range(b_hat: np.ndarray, cov: np.ndarray, s: np.ndarray, q: float) -> Tuple[float, float]:
    """Minimum and maximum of ``b' S b`` over the Wald ellipsoid of ``b``.

    Parameters
    ----------
    b_hat : ndarray, shape (n,)
        Estimates.
    cov : ndarray, shape (n, n)
        Their covariance.
    s : ndarray, shape (n, n)
        Positive semi-definite matrix of the form.
    q : float
        Radius of the ellipsoid in standard errors (``(b - b_hat)' C^+ (b - b_hat) <= q^2``).

    Returns
    -------
    (float, float)
        ``(min, max)``; NaN when ``cov`` or ``b_hat`` is not finite.
    """
    b_hat, cov = np.asarray(b_hat, float), np.asarray(cov, float)
    if not _all_finite(b_hat, cov):
        return np.nan, np.nan
    s = 0.5 * (np.asarray(s, float) + np.asarray(s, float).T)
    basis = ellipsoid_basis(cov)
    a = basis.T @ s @ basis
    g = basis.T @ s @ b_hat
    c0 = float(b_hat @ s @ b_hat)
    low, _ = trust_region_min(a, g, q)
    high, _ = trust_region_min(-a, -g, q)
    return max(c0 + low, 0.0), max(c0 - high, 0.0)


def residual_variance_range(b_hat: np.ndarray, cov: np.ndarray, x: np.ndarray, q: float) -> Tuple[float, float]:
    """Range of a residual variance ``1 - var_i(x_i' b)`` over the Wald ellipsoid of ``b``.

    The identity the population identification imposes (``var(x' b) + sd^2 = 1`` over the
    models): ``sigma`` of a one-dimensional 2PL fit is its square root, a per-benchmark or
    exploratory ``log sd`` half its log. The variance is ``1 - b' S b`` with ``S`` the population
    covariance of the design's columns, so its range comes from :func:`quadratic_form_range`;
    it is clipped at 0.

    Parameters
    ----------
    b_hat : ndarray, shape (P,)
        Coefficients of the design's columns.
    cov : ndarray, shape (P, P)
        Their covariance.
    x : ndarray, shape (M, P)
        The design matrix over the models.
    q : float
        Radius of the ellipsoid in standard errors.

    Returns
    -------
    (float, float)
        ``(min, max)`` of the residual variance; NaN when ``cov`` or ``b_hat`` is not finite.
    """
    s = np.atleast_2d(np.cov(np.asarray(x, float), rowvar=False, bias=True))
    q_min, q_max = quadratic_form_range(b_hat, cov, s, q)
    if np.isnan(q_min):
        return np.nan, np.nan
    return max(1.0 - q_max, 0.0), max(1.0 - q_min, 0.0)


def image_range(func: Callable[[np.ndarray], float], b_hat: np.ndarray, cov: np.ndarray, q: float,
                n_random: int = 8, seed: int = 0) -> Tuple[float, float]:
    """Minimum and maximum of a smooth ``func(b)`` over the Wald ellipsoid of ``b``, numerically.

    Each extremum is sought by SLSQP in the ellipsoid's coordinates ``b = b_hat + L z``,
    ``|z| <= q``, from the centre, from ``+-q`` along each axis and along the gradient, and from
    ``n_random`` points of the sphere; the best is kept. For the functions used here (of a few
    coefficients) this matched the exact trust-region solution of a quadratic form to 1e-8.

    Parameters
    ----------
    func : callable
        ``func(b) -> float``; may return +-inf or NaN outside its domain (such points are
        reported as the extremes they are for +-inf; NaN points are avoided).
    b_hat : ndarray, shape (n,)
    cov : ndarray, shape (n, n)
    q : float
        Radius in standard errors.
    n_random : int
        Extra random starts on the sphere.
    seed : int
        Seed of the random starts (the result is deterministic).

    Returns
    -------
    (float, float)
        ``(min, max)``; NaN when ``cov`` or ``b_hat`` is not finite.
    """
    b_hat, cov = np.asarray(b_hat, float), np.asarray(cov, float)
    if not _all_finite(b_hat, cov):
        return np.nan, np.nan
    basis = ellipsoid_basis(cov)
    r = basis.shape[1]
    f0 = float(func(b_hat))
    if r == 0:
        return f0, f0

    def f(z):
        return float(func(b_hat + basis @ z))

    h = 1e-6 * q
    grad = np.array([(f(h * e) - f(-h * e)) / (2 * h) for e in np.eye(r)])
    starts = [np.zeros(r)] + [s * q * e for e in np.eye(r) for s in (1, -1)]
    if np.all(np.isfinite(grad)) and np.linalg.norm(grad) > 0:
        d = grad / np.linalg.norm(grad)
        starts += [q * d, -q * d]
    rng = np.random.default_rng(seed)
    for _ in range(n_random):
        v = rng.standard_normal(r)
        starts.append(q * v / np.linalg.norm(v))
    cons = [{"type": "ineq", "fun": lambda z: q * q - z @ z, "jac": lambda z: -2 * z}]
    out = []
    for sign in (1.0, -1.0):
        best = sign * f0
        for z0 in starts:
            v0 = f(z0)
            if np.isfinite(v0):
                best = min(best, sign * v0)
            elif sign * v0 == -np.inf:
                best = -np.inf
                continue
            else:
                continue  # NaN: outside the domain
            with np.errstate(all="ignore"):
                sol = optimize.minimize(lambda z: sign * f(z), z0, method="SLSQP", constraints=cons,
                                        options={"ftol": 1e-12, "maxiter": 200})
            z = sol.x
            n = np.linalg.norm(z)
            if n > q:
                z = z * q / n
            v = f(z)
            if not np.isnan(v):
                best = min(best, sign * v)
        out.append(sign * best)
    return out[0], out[1]
