"""Latent regression of abilities on scaling variables, with measurement error.

After joint ML every model has an ability estimate ``t_i`` with sampling variance ``v_i`` (the
inverse of its information). The scaling law is the regression

    t_i = x_i' beta + e_i,    e_i ~ N(0, sigma^2 + v_i),

i.e. the true ability varies around the law with standard deviation ``sigma`` and is measured with
known error ``v_i`` (the meta-analytic random-effects model). ``beta`` and ``sigma`` are estimated by
maximum likelihood (``beta`` by GLS, ``sigma`` by a one-dimensional search), so models measured with
few questions weigh less, and the standard errors of ``beta`` carry each ability's measurement
error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import numpy as np
from scipy import linalg, optimize

from .formula import collinearity_problem, column_scales, scaled_lstsq
from .inference import ThetaLowRank, one_blas_thread

__all__ = ["RegressionFit", "fit_latent_regression", "sandwich"]


@dataclass
class RegressionFit:
    """``beta`` (P,), ``sigma``, their covariance (P+1, P+1) in the order (beta, sigma),
    per-model scores (M, P+1), the observed Hessian (P+1, P+1), log-likelihood."""

    beta: np.ndarray
    sigma: float
    cov: np.ndarray
    scores: np.ndarray
    hessian: np.ndarray
    loglik: float
    sigma_at_zero: bool


class SingularDesignError(np.linalg.LinAlgError):
    """The latent regression's design is (nearly) collinear on the models it is fitted to.

    A :class:`numpy.linalg.LinAlgError` (and so a ``ValueError``) whose message names the columns,
    so callers that fall back on a singular system keep doing so.
    """


def _weighted_qr(x, w_inv):
    """QR of the weighted, column-scaled design: ``(q, r, scale, sqrt_w)``.

    Solving through the QR of ``W^1/2 X`` instead of the normal equations ``X'WX`` keeps the
    design's condition number from being squared, and scaling the columns first keeps raw units
    (FLOPs ~ 1e22) from hiding the intercept.
    """
    scale = column_scales(x)
    sqrt_w = np.sqrt(w_inv)
    q, r = np.linalg.qr((x / scale) * sqrt_w[:, None])
    diag = np.abs(np.diag(r))
    if diag.size and not diag.min() > np.finfo(float).eps * x.shape[0] * diag.max():
        raise np.linalg.LinAlgError("the weighted latent-regression design is singular")
    return q, r, scale, sqrt_w


def _gls(x, t, w_inv):
    q, r, scale, sqrt_w = _weighted_qr(x, w_inv)
    return linalg.solve_triangular(r, q.T @ (sqrt_w * t)) / scale


def _profile(x, t, v, log_s2, reml):
    """GLS ``beta`` at ``sigma^2 = exp(log_s2)`` and the (RE)ML score in ``log sigma^2`` there.

    With ``W = diag(1 / (sigma^2 + v))`` and residuals ``r`` at the GLS ``beta`` (which maximises
    the likelihood for fixed ``sigma^2``, so it does not enter the derivative):
    ``dl/dsigma^2 = (r'W^2 r - tr P) / 2`` with ``tr P = sum w`` (ML) or
    ``sum w (1 - h)`` (REML; ``h`` the leverages of ``W^1/2 X``, i.e. ``tr (X'WX)^-1 X'W^2 X``).
    Returns ``(beta, score, logdet)``, ``logdet`` being ``log |X'WX|`` up to a constant of the scaling.
    """
    s2 = np.exp(log_s2)
    w_inv = 1.0 / (s2 + v)
    q, r, scale, sqrt_w = _weighted_qr(x, w_inv)
    beta = linalg.solve_triangular(r, q.T @ (sqrt_w * t)) / scale
    res = t - x @ beta
    if reml:
        trace = float(np.sum(w_inv * (1.0 - np.sum(q * q, axis=1))))
    else:
        trace = float(np.sum(w_inv))
    score = 0.5 * s2 * (float(np.sum((w_inv * res) ** 2)) - trace)
    logdet = 2.0 * float(np.sum(np.log(np.abs(np.diag(r)))))
    return beta, score, logdet


def _trace_pp(x, v, s2, reml):
    """``tr(P P)``: twice the expected (RE)ML information of ``sigma^2``.

    ``P = W - W X (X'WX)^-1 X'W`` for REML (``W`` for ML). With ``H = Q Q'`` the hat matrix of
    ``W^1/2 X = Q R``, ``tr(PP) = sum w^2 - 2 sum h w^2 + ||Q'WQ||_F^2``.
    """
    w_inv = 1.0 / (s2 + v)
    if not reml:
        return float(np.sum(w_inv**2))
    q = _weighted_qr(x, w_inv)[0]
    qwq = (q.T * w_inv) @ q
    return float(np.sum(w_inv**2) - 2.0 * np.sum(np.sum(q * q, axis=1) * w_inv**2) + np.sum(qwq * qwq))


def _se_s2(x, v, s2, reml):
    """Standard error of ``sigma^2`` from its expected (RE)ML information at ``s2``."""
    tr_pp = _trace_pp(x, v, s2, reml)
    return float(np.sqrt(2.0 / tr_pp)) if tr_pp > 0 else np.inf


def _loglik(x, t, v, beta, sigma2):
    w = sigma2 + v
    r = t - x @ beta
    return -0.5 * float(np.sum(np.log(2 * np.pi * w) + r * r / w))


def _derivatives(x, t, v, beta, sigma):
    """Per-model scores (M, P+1) and the total observed Hessian (P+1, P+1) in (beta, sigma)."""
    w = sigma * sigma + v
    r = t - x @ beta
    s_beta = x * (r / w)[:, None]
    s_sigma = sigma * (r * r / w**2 - 1.0 / w)
    scores = np.column_stack([s_beta, s_sigma])
    p = x.shape[1]
    h = np.empty((p + 1, p + 1))
    h[:p, :p] = -(x.T * (1.0 / w)) @ x
    h[:p, p] = h[p, :p] = -(x.T @ (r * 2 * sigma / w**2))
    h[p, p] = float(np.sum(r * r / w**2 - 1.0 / w + 2 * sigma**2 * (1.0 / w**2 - 2 * r * r / w**3)))
    return scores, h


#: values of sigma at which the REML fit evaluates its objective, score or information (25-30
#: on JML fits of 40-200 models: the bounded search, the score's root and the final information)
_SIGMA_EVALUATIONS = 30


def _woodbury_is_cheaper(m: int, r: int) -> bool:
    """Whether the REML fit by Woodbury (:func:`_fit_lowrank`) costs fewer flops than the eigenbasis.

    With M models and a low-rank part of width R (question parameters and constraints, often
    thousands -- far more than the models), each value of sigma costs Woodbury an LU of the
    (R, R) capacitance matrix and its solve against ``W`` (~2.7 R^3 flops) and the products
    ``Y' A^-1 Y``, ``Y' A^-2 Y`` (~4 M R^2); the eigenbasis forms ``Y W Y'`` (~2 M R^2 +
    2 M^2 R) and eigen-decomposes it once (~10 M^3), after which each value of sigma is O(M P).
    Woodbury is cheaper for R below ~M/4 (timed on one core: 4000 models x R = 40, Woodbury
    0.04 s against 24 s; 100 models x R = 2000, 26 s against 0.03 s). Memory does not decide:
    in a JML fit the (M, M) block is part of the (P, P) joint covariance already held.
    """
    woodbury = _SIGMA_EVALUATIONS * (2.7 * r**3 + 4.0 * m * r**2)
    eigenbasis = 2.0 * m * r**2 + 2.0 * m**2 * r + 10.0 * m**3
    return woodbury < eigenbasis


def _fit_correlated(x: np.ndarray, t: np.ndarray, cov: Union[np.ndarray, ThetaLowRank],
                    reml: bool = True) -> RegressionFit:
    """:func:`fit_latent_regression` with a full error covariance ``cov`` (M, M, or ThetaLowRank).

    Diagonal plus low rank (the abilities' block of the JML joint covariance), REML, more models
    than coefficients and a low-rank part narrow enough to be the cheaper route
    (:func:`_woodbury_is_cheaper`): by Woodbury (:func:`_fit_lowrank`, O(M R^2 + R^3) per value
    of sigma). Otherwise in the eigenbasis of the dense matrix (one O(M^3) eigen-decomposition),
    where the ML fit's Newton polish in (beta, sigma) stays a regression with independent errors.
    The two routes give the same estimates up to rounding.
    """
    if isinstance(cov, ThetaLowRank):
        m, p = x.shape
        if reml and m > p and _woodbury_is_cheaper(m, cov.y.shape[1]):
            return _fit_lowrank(x, t, cov.d, cov.y, cov.w)
        cov = (cov.y @ cov.w) @ cov.y.T + np.diag(cov.d)
    lam, q = np.linalg.eigh(0.5 * (cov + cov.T))
    lam = np.maximum(lam, 0.0)
    rotated = _fit_independent(q.T @ x, q.T @ t, lam, reml)
    beta, sigma = rotated.beta, rotated.sigma
    # per-model scores in the original basis: with S^-1 r = Q diag(1/(sigma^2 + lam)) Q' r,
    # d/dbeta = sum_i x_i (S^-1 r)_i,  d/dsigma = sum_i sigma ((S^-1 r)_i^2 - (S^-1)_ii)
    w = 1.0 / (sigma**2 + lam)
    r = t - x @ beta
    s_inv_r = q @ (w * (q.T @ r))
    s_inv_diag = np.einsum("ik,k,ik->i", q, w, q)
    scores = np.column_stack([x * s_inv_r[:, None], sigma * (s_inv_r**2 - s_inv_diag)])
    return RegressionFit(
        beta=beta, sigma=sigma, cov=rotated.cov, scores=scores, hessian=rotated.hessian,
        loglik=rotated.loglik, sigma_at_zero=rotated.sigma_at_zero,
    )


def sandwich(hessian: np.ndarray, scores: np.ndarray, groups: Optional[np.ndarray] = None) -> np.ndarray:
    """Robust (``groups=None``) or cluster-robust covariance ``H^-1 B H^-1``.

    Parameters
    ----------
    hessian : ndarray, shape (K, K)
        Observed Hessian of the log-likelihood.
    scores : ndarray, shape (M, K)
        Per-unit score contributions.
    groups : ndarray, shape (M,), optional
        Cluster labels; scores are summed within clusters and the meat is scaled by
        ``G/(G-1)``.

    Notes
    -----
    Small-sample factors are those of Stata's ``vce(robust)`` / ``vce(cluster)`` for maximum
    likelihood estimators: ``M/(M-1)`` for the robust covariance (each model its own cluster;
    for a regression coefficient this is statsmodels' ``HC0`` times ``M/(M-1)``, between HC0 and
    HC1) and ``G/(G-1)`` for clusters. statsmodels' ``cov_type="cluster"`` multiplies by a further
    ``(M-1)/(M-P)`` (its linear-regression correction), so its standard errors are larger by
    ``sqrt((M-1)/(M-P))``.
    """
    h_inv = np.linalg.pinv(-hessian)
    if groups is None:
        meat = scores.T @ scores
        n = scores.shape[0]
        meat *= n / max(n - 1, 1)
    else:
        _, codes = np.unique(groups, return_inverse=True)
        g = codes.max() + 1
        if g < 2:
            raise ValueError("cluster-robust covariance needs at least two clusters")
        summed = np.zeros((g, scores.shape[1]))
        np.add.at(summed, codes, scores)
        meat = summed.T @ summed * (g / (g - 1))
    return h_inv @ meat @ h_inv


def cluster_warnings(x: np.ndarray, groups: np.ndarray, names: List[str]) -> List[str]:
    """Why a cluster-robust covariance of the scaling-law coefficients may not be trusted.

    Parameters
    ----------
    x : ndarray, shape (M, P)
        Design matrix of the latent regression (columns named by ``names[:P]``).
    groups : ndarray, shape (M,)
        Cluster label of each model.
    names : list of str, length K >= P
        Names of all K scaling-law parameters (the coefficients, then e.g. ``sigma``).

    Returns
    -------
    list of str
        Warning texts. (1) When the design contains the cluster indicators (fixed effects of the
        clustering variable), the fit sets every cluster's score sum of a covariate that is
        constant within clusters to zero, so its "cluster-robust" variance is zero up to the
        optimiser's tolerance -- a spuriously tiny standard error. (2) Fewer clusters than
        parameters: the meat has rank at most ``G - 1``.
    """
    _, codes = np.unique(groups, return_inverse=True)
    g = int(codes.max()) + 1
    out = []
    indicators = np.zeros((len(codes), g))
    indicators[np.arange(len(codes)), codes] = 1.0
    coef = scaled_lstsq(x, indicators)
    if np.abs(indicators - x @ coef).max() < 1e-8:
        spread = np.zeros(x.shape[1])
        for c in range(g):
            rows = x[codes == c]
            spread = np.maximum(spread, rows.max(axis=0) - rows.min(axis=0))
        constant = [n for n, width in zip(names, spread) if width == 0]
        if constant:
            out.append(
                f"the cluster-robust standard errors of {constant} are degenerate: they are constant "
                "within clusters and the formula contains the clustering variable's fixed effects, "
                "so their score sums are zero in every cluster; cluster by a variable that is not in "
                "the formula, or use cov_type='robust'"
            )
    if g <= len(names):
        out.append(
            f"only {g} clusters for {len(names)} scaling-law parameters: the cluster-robust covariance "
            f"has rank at most {g - 1} and its standard errors are unreliable; use cov_type='robust' "
            "or cluster by a variable with many more levels"
        )
    return out


@one_blas_thread()
def fit_latent_regression(x: np.ndarray, t: np.ndarray, v: Union[np.ndarray, ThetaLowRank], reml: bool = True,
                          names: Optional[Sequence[str]] = None) -> RegressionFit:
    """Regression of ability estimates with known error (co)variances.

    Parameters
    ----------
    x : ndarray, shape (M, P)
        Design matrix.
    t : ndarray, shape (M,)
        Ability estimates.
    v : ndarray, shape (M,) or (M, M), or ThetaLowRank
        Their sampling variances (>= 0), or their full sampling covariance. The full covariance
        carries the errors the abilities share because they are measured with the same estimated
        questions; the model is then ``t ~ N(x beta, sigma^2 I + V)``, fitted in the eigenbasis of
        ``V`` where it is again a regression with independent errors. Given as diagonal plus low
        rank (:class:`~irsl_stats.inference.ThetaLowRank`, over the M models in order), the REML
        fit works with that form instead (see :func:`_fit_lowrank`), without an (M, M) matrix,
        when the low-rank part is narrow enough for that to be cheaper (:func:`_woodbury_is_cheaper`;
        with more question parameters than ~M/4 models the eigenbasis is faster).
    reml : bool
        Estimate ``sigma^2`` by restricted ML (default), which accounts for the P coefficients
        estimated alongside it: plain ML underestimates ``sigma^2`` by a factor ~(M-P)/M, which
        with ~100 models biases coefficients reported on a scale that involves ``sigma`` (the
        default identification) by a fifth of a standard error and makes their intervals too
        short (simulation: coverage 0.93 with ML, 0.95 with REML). ``beta`` is then the GLS
        estimate at the REML ``sigma``, with covariance ``(X' W X)^-1``; ``sigma``'s variance comes
        from the expected REML information, and the two are uncorrelated (as in lme4/nlme).

    Returns
    -------
    RegressionFit
        Scores and Hessian are those of the (unrestricted) likelihood at the estimates, per model,
        for robust and cluster covariances.

    Notes
    -----
    Runs with BLAS limited to one thread (:func:`~irsl_stats.inference.one_blas_thread`), so the
    estimates are the same bits for any thread count.
    """
    x = np.asarray(x, float)
    t = np.asarray(t, float)
    lowrank = v if isinstance(v, ThetaLowRank) else None
    v = None if lowrank is not None else np.asarray(v, float)
    # the design on the models actually fitted (callers drop models without a usable ability, which
    # can leave a collinear design that the whole-table check in formula.py accepted)
    problem = collinearity_problem(x, names, "models")
    if problem is not None:
        raise SingularDesignError(f"the latent regression cannot be fitted on these {x.shape[0]} models: "
                                  f"{problem}")
    try:
        if lowrank is not None:
            return _fit_correlated(x, t, lowrank, reml)
        if v.ndim == 2:
            return _fit_correlated(x, t, v, reml)
        return _fit_independent(x, t, v, reml)
    except SingularDesignError:
        raise
    except np.linalg.LinAlgError as e:
        shown = [f"column {j}" for j in range(x.shape[1])] if names is None else [str(c) for c in names]
        raise SingularDesignError(
            f"the latent regression on the design columns {shown} ({x.shape[0]} models) has a singular "
            f"system ({e}): the covariates are (nearly) collinear once each model is weighted by its "
            "measurement precision; drop a term, or add models that vary in these covariates"
        ) from e


def _score_root(score, log_s2: float, lo: float, hi: float):
    """Refine Brent's optimum ``log_s2`` in ``[lo, hi]`` to the root of the (RE)ML ``score``.

    Brackets the root around ``log_s2`` (widening by factors of 4) and solves it by ``brentq`` to
    rounding. Returns ``(log_s2, at_lower)``; ``at_lower`` when the likelihood falls from
    ``sigma^2 = exp(lo)`` upwards (``log_s2`` is then ``lo``).
    """
    a, b, step = max(log_s2 - 1e-3, lo), min(log_s2 + 1e-3, hi), 1e-3
    score_a, score_b = score(a), score(b)
    while (score_a > 0 and score_b > 0 and b < hi) or (score_a <= 0 and score_b <= 0 and a > lo):
        step *= 4.0
        if score_a <= 0 and a > lo:
            a = max(log_s2 - step, lo)
            score_a = score(a)
        if score_b > 0 and b < hi:
            b = min(log_s2 + step, hi)
            score_b = score(b)
    at_lower = score_a <= 0 and a <= lo  # the likelihood falls from sigma^2 = 1e-12 upwards
    if at_lower:
        log_s2 = lo
    elif score_a > 0 and score_b <= 0:
        log_s2 = float(optimize.brentq(score, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps))
    return log_s2, at_lower


class _LowRankSigma:
    """``Sigma(s2) = s2 I + diag(d) + Y W Y'`` at one ``s2``, applied and inverted by Woodbury.

    ``Sigma^-1 = A^-1 - A^-1 Y K^-1 W Y' A^-1`` with ``A = s2 I + diag(d)`` and
    ``K = I + W Y' A^-1 Y``, and ``|Sigma| = |A| |K|`` (Sylvester): ``W`` may be indefinite or
    singular (it carries the identification constraints), so it is never inverted. Building one
    costs O(M R^2), applying it O(M R) per column.
    """

    def __init__(self, d: np.ndarray, y: np.ndarray, w: np.ndarray, s2: float, moments: int = 1):
        self.a_inv = 1.0 / (s2 + d)
        self.y = y
        self.ya = y * self.a_inv[:, None]  # A^-1 Y
        self.f = self.ya.T @ y  # Y' A^-1 Y
        r = y.shape[1]
        self.lu = linalg.lu_factor(np.eye(r) + w @ self.f)
        self.w = w
        # C = K^-1 W, so that Sigma^-1 = A^-1 - (A^-1 Y) C (A^-1 Y)'
        self.c = linalg.lu_solve(self.lu, w)
        self.f2 = self.ya.T @ self.ya if moments >= 2 else None  # Y' A^-2 Y

    def solve(self, z: np.ndarray) -> np.ndarray:
        """``Sigma^-1 z`` for z of shape (M,) or (M, c)."""
        az = z * (self.a_inv if z.ndim == 1 else self.a_inv[:, None])
        return az - self.ya @ (self.c @ (self.ya.T @ z))

    def logdet(self) -> float:
        """``log |Sigma|`` (positive definite, so ``|K| > 0``)."""
        diag = np.diag(self.lu[0])
        return float(-np.sum(np.log(self.a_inv)) + np.sum(np.log(np.abs(diag))))

    def trace_inv(self) -> float:
        """``tr Sigma^-1 = tr A^-1 - tr(C Y' A^-2 Y)``."""
        return float(np.sum(self.a_inv) - np.sum(self.c * self.f2.T))

    def diag_inv(self) -> np.ndarray:
        """Diagonal of ``Sigma^-1``, shape (M,)."""
        return self.a_inv - np.sum((self.ya @ self.c) * self.ya, axis=1)

    def trace_inv2(self) -> float:
        """``tr Sigma^-2 = ||A^-1 - U C U'||_F^2`` with ``U = A^-1 Y``: from ``U' A^-1 U``
        (= Y' A^-3 Y) and ``U' U`` (= Y' A^-2 Y)."""
        f3 = (self.ya * self.a_inv[:, None]).T @ self.ya
        cu = self.c @ self.f2
        return float(np.sum(self.a_inv**2) - 2.0 * np.sum(self.c * f3.T) + np.sum(cu * cu.T))


def _gls_lowrank(x, t, sig: _LowRankSigma):
    """GLS through the scaled normal equations: ``(beta, Sigma^-1 X, chol factor, scale)``.

    Raises :class:`numpy.linalg.LinAlgError` when the weighted design is singular, by the same
    criterion as :func:`_weighted_qr` (the Cholesky factor of ``X~' Sigma^-1 X~`` is the ``R``
    of the QR of ``Sigma^-1/2 X~`` up to signs).
    """
    scale = column_scales(x)
    xs = x / scale
    sx = sig.solve(xs)
    info = xs.T @ sx
    chol = np.linalg.cholesky(0.5 * (info + info.T))
    diag = np.diag(chol)
    if diag.size and not diag.min() > np.finfo(float).eps * x.shape[0] * diag.max():
        raise np.linalg.LinAlgError("the weighted latent-regression design is singular")
    beta = linalg.cho_solve((chol, True), sx.T @ t) / scale
    return beta, sx, chol, scale


def _fit_lowrank(x: np.ndarray, t: np.ndarray, d: np.ndarray, y: np.ndarray, w: np.ndarray) -> RegressionFit:
    """:func:`fit_latent_regression` (REML) with the error covariance ``diag(d) + Y W Y'``.

    The same estimates as the eigenbasis of :func:`_fit_correlated` (the REML objective and its
    score in ``log sigma^2`` are the same functions, evaluated by Woodbury: O(M R^2) per value
    of sigma instead of one O(M^3) eigen-decomposition), with the same search for sigma as
    :func:`_fit_independent`. The boundary test "sigma^2 below 1e-8 of the median sampling
    variance" uses the abilities' own variances (the diagonal) rather than the eigenvalues.
    """
    m, p = x.shape

    def profile(log_s2, moments=1):
        sig = _LowRankSigma(d, y, w, float(np.exp(log_s2)), moments)
        beta, sx, chol, _ = _gls_lowrank(x, t, sig)
        return sig, beta, sx, chol

    def negobj(log_s2):
        sig, beta, _, chol = profile(log_s2)
        res = t - x @ beta
        value = -0.5 * (m * np.log(2 * np.pi) + sig.logdet() + float(res @ sig.solve(res)))
        return -(value - float(np.sum(np.log(np.abs(np.diag(chol))))))

    def score(log_s2):
        sig, beta, sx, chol = profile(log_s2, 2)
        s_inv_r = sig.solve(t - x @ beta)
        # tr P = tr Sigma^-1 - tr((X'S^-1X)^-1 X'S^-2 X), on the scaled design
        lev = linalg.cho_solve((chol, True), sx.T @ sx)
        trace = sig.trace_inv() - float(np.trace(lev))
        return 0.5 * float(np.exp(log_s2)) * (float(s_inv_r @ s_inv_r) - trace)

    def trace_pp(s2):
        sig, _, sx, chol = profile(np.log(s2), 2)
        # tr(PP) = tr S^-2 - 2 tr(G^-1 X'S^-3 X) + tr((G^-1 X'S^-2 X)^2), G = X'S^-1X
        g_x2 = linalg.cho_solve((chol, True), sx.T @ sx)
        g_x3 = linalg.cho_solve((chol, True), sx.T @ sig.solve(sx))
        return sig.trace_inv2() - 2.0 * float(np.trace(g_x3)) + float(np.sum(g_x2 * g_x2.T))

    beta_ols = scaled_lstsq(x, t)
    resid_var = float(np.sum((t - x @ beta_ols) ** 2)) / (m - p)
    hi = np.log(max(resid_var, 1e-8) * 10 + 1e-8)
    lo = np.log(1e-12)
    res = optimize.minimize_scalar(negobj, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    log_s2 = float(res.x)
    log_s2, at_lower = _score_root(score, log_s2, lo, hi)
    sigma = float(np.exp(0.5 * log_s2))
    sig, beta, sx, chol = profile(log_s2, 2)
    # the abilities' own sampling variances: the diagonal of diag(d) + Y W Y'
    v_diag = d + np.sum((y @ w) * y, axis=1)
    typical_v = float(np.median(v_diag)) if np.any(v_diag > 0) else 0.0
    tr_pp = trace_pp(sigma**2)
    se_s2 = float(np.sqrt(2.0 / tr_pp)) if tr_pp > 0 else np.inf
    sigma_at_zero = at_lower or sigma**2 < 1e-8 * typical_v or sigma**2 < 1e-4 * se_s2
    res_ = t - x @ beta
    s_inv_r = sig.solve(res_)
    s_inv_diag = sig.diag_inv()
    scores = np.column_stack([x * s_inv_r[:, None], sigma * (s_inv_r**2 - s_inv_diag)])
    # the observed Hessian in (beta, sigma), as _derivatives gives it in the eigenbasis
    sx_raw = sig.solve(x)
    s2r = sig.solve(s_inv_r)
    h = np.empty((p + 1, p + 1))
    h[:p, :p] = -(x.T @ sx_raw)
    h[:p, p] = h[p, :p] = -(2 * sigma * (x.T @ s2r))
    h[p, p] = float(s_inv_r @ s_inv_r - sig.trace_inv()
                    + 2 * sigma**2 * (sig.trace_inv2() - 2 * float(s_inv_r @ s2r)))
    # (X'S^-1X)^-1 from the Cholesky factor of the scaled system, unscaled
    _, _, chol, scale = _gls_lowrank(x, t, sig)
    l_inv = linalg.solve_triangular(chol, np.eye(p), lower=True)
    cov_beta = (l_inv.T @ l_inv) / np.outer(scale, scale)
    cov = np.full((p + 1, p + 1), np.nan)
    cov[:p, :p] = cov_beta
    if not sigma_at_zero:
        cov[:p, p] = cov[p, :p] = 0.0
        cov[p, p] = 1.0 / (2 * sigma**2 * tr_pp)  # var(sigma) = var(sigma^2) / (4 sigma^2)
    loglik = -0.5 * (m * np.log(2 * np.pi) + sig.logdet() + float(res_ @ s_inv_r))
    return RegressionFit(beta=beta, sigma=sigma, cov=cov, scores=scores, hessian=h, loglik=loglik,
                         sigma_at_zero=sigma_at_zero)


def _fit_independent(x: np.ndarray, t: np.ndarray, v: np.ndarray, reml: bool) -> RegressionFit:
    """:func:`fit_latent_regression` with sampling variances ``v`` (M,) and a checked design."""
    v = np.maximum(v, 0.0)
    m, p = x.shape
    if m <= p:
        reml = False  # no residual degrees of freedom: sigma goes to its boundary (reported)
    beta_ols = scaled_lstsq(x, t)
    # the REML optimum is near RSS / (M - P), which exceeds the mean squared residual M / (M - P)
    # times: with few residual degrees of freedom (24 models, 22 coefficients) a bound at ten
    # mean squared residuals held sigma below its optimum, silently shrinking every SE
    resid_var = float(np.sum((t - x @ beta_ols) ** 2)) / (m - p) if m > p else 1.0

    def negobj(log_s2):
        beta, _, logdet = _profile(x, t, v, log_s2, reml)
        value = _loglik(x, t, v, beta, np.exp(log_s2))
        if reml:
            value -= 0.5 * logdet
        return -value

    def score(log_s2):
        return _profile(x, t, v, log_s2, reml)[1]

    hi = np.log(max(resid_var, 1e-8) * 10 + 1e-8)
    lo = np.log(1e-12)
    # Brent's search on function values finds the optimum's basin but only to ~sqrt(eps) (~1e-8):
    # sigma then moved by 1e-8 with a permutation of the models or the BLAS thread count. The
    # optimum is then refined as the root of the analytic score in log sigma^2, bracketed around
    # Brent's point, which brentq locates to rounding whatever the bracket.
    res = optimize.minimize_scalar(negobj, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    log_s2, at_lower = _score_root(score, float(res.x), lo, hi)
    sigma = float(np.exp(0.5 * log_s2))
    beta = _gls(x, t, 1.0 / (sigma**2 + v))
    # sigma on the boundary: the score at the lower bound is not positive, or sigma^2 is
    # negligible against the abilities' measurement error -- below 1e-8 of their median sampling
    # variance (sigma below 1e-4 of the measurement SD, lme4's relative tolerance for a singular
    # fit) or below 1e-4 of the standard error of sigma^2 there (the data cannot tell it from 0;
    # a JML fit of data simulated with sigma = 0 gave sigma = 3e-5 with SE 0.034 unflagged).
    typical_v = float(np.median(v)) if np.any(v > 0) else 0.0
    sigma_at_zero = at_lower or sigma**2 < 1e-8 * typical_v or sigma**2 < 1e-4 * _se_s2(x, v, sigma**2, reml)
    if not sigma_at_zero and not reml:
        # polish the ML solution with Newton in (beta, sigma)
        for _ in range(20):
            scores, h = _derivatives(x, t, v, beta, sigma)
            step = np.linalg.solve(-h, scores.sum(axis=0))
            beta, sigma = beta + step[:p], sigma + step[p]
            if np.max(np.abs(step)) < 1e-13 * (1 + abs(sigma)):
                break
        sigma = abs(sigma)
    scores, h = _derivatives(x, t, v, beta, sigma)
    # (X'WX)^-1 from the QR of the scaled W^1/2 X: R^-1 R^-T, unscaled
    _, r, scale, _ = _weighted_qr(x, 1.0 / (sigma**2 + v))
    r_inv = linalg.solve_triangular(r, np.eye(p))
    cov_beta = (r_inv @ r_inv.T) / np.outer(scale, scale)
    cov = np.full((p + 1, p + 1), np.nan)
    if sigma_at_zero:
        # sigma on the boundary: its score is not zero and its variance is not defined
        cov[:p, :p] = cov_beta
    elif reml:
        # expected REML information of sigma^2: tr(P P)/2, P = W - W X (X'WX)^-1 X' W
        tr_pp = _trace_pp(x, v, sigma**2, True)
        cov[:] = 0.0
        cov[:p, :p] = cov_beta
        cov[p, p] = 1.0 / (2 * sigma**2 * tr_pp)  # var(sigma) = var(sigma^2) / (4 sigma^2)
    else:
        cov = np.linalg.inv(-h)
    return RegressionFit(
        beta=beta,
        sigma=sigma,
        cov=cov,
        scores=scores,
        hessian=h,
        loglik=_loglik(x, t, v, beta, sigma**2),
        sigma_at_zero=sigma_at_zero,
    )
