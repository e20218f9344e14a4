"""Standard errors of the IRT part from the analytic observed information.

Two levels:

* :func:`conditional_ses` — each block given the others: an ability's SE given the questions
  (``1/sqrt(-h_i)``), a question's SEs given the abilities (its 3x3 block inverted). Cheap for any
  size; these are the measurement errors that the latent regression carries.
* :func:`joint_covariance` — the full joint inverse information of all abilities and question
  parameters under the identification constraints, assembled from the kernel's model blocks,
  question blocks and model–question cross terms. The ability block of the information is
  diagonal, so it is eliminated (Schur complement on the question block: O(M K^2 + K^3) for K
  question parameters, not O((M + K)^3)); the result is still a dense (P, P) matrix, so only for
  moderate sizes (``M + 3N`` up to a few thousand); it is what a beta regression on model and
  question dummies reports, and is used when the problem is small enough.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
from threadpoolctl import ThreadpoolController

from . import _kernel
from .precision import PrecisionModel
from .priors import DiscriminationPrior

__all__ = ["JointCovariance", "ThetaLowRank", "joint_covariance", "conditional_ses", "DENSE_LIMIT",
           "wald_test"]

#: largest number of free parameters for which the dense joint covariance is formed by default
DENSE_LIMIT = 4000

_BLAS_LOCK = threading.Lock()
_blas_state = {"controller": None, "depth": 0, "limiter": None}


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the enclosed dense linear algebra with the BLAS libraries limited to one thread.

    A threaded BLAS splits sums differently for each thread count, so the JML post-processing
    (joint covariance, correlated latent regression) moved by ~1e-13 in the parameters and ~1e-8
    in scores built on them between ``OMP_NUM_THREADS=1`` and the default, breaking the promise
    of results identical for any thread count; on a busy machine its threads also made these
    (moderate) factorisations ~9x slower. The limit is set by threadpoolctl and held while any
    caller is inside (a count under a lock), so fits in concurrent Python threads neither restore
    each other's limit early nor leave the process at one thread.
    """
    with _BLAS_LOCK:
        if _blas_state["depth"] == 0:
            if _blas_state["controller"] is None:
                import scipy.linalg  # noqa: F401  (loads scipy's own BLAS, so that the controller sees it)

                _blas_state["controller"] = ThreadpoolController()
            _blas_state["limiter"] = _blas_state["controller"].limit(limits=1, user_api="blas")
        _blas_state["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_state["depth"] -= 1
            if _blas_state["depth"] == 0:
                _blas_state["limiter"].restore_original_limits()
                _blas_state["limiter"] = None


@dataclass
class JointCovariance:
    """Covariance of (theta (M), per-question blocks, global precision parameters).

    ``theta_cov`` (M,) variances of abilities; ``item_cov`` (N, k, k) per-question covariance of
    the free columns ``item_cols`` (names among "a", "d", "log_phi"); ``global_cov`` (R, R);
    ``full`` the whole matrix (P, P) in the order theta, item blocks (item-major), globals;
    ``theta_lowrank`` the abilities' block over the models on the scale as diagonal plus low rank
    (:class:`ThetaLowRank`), when the ability block of the information was eliminated.
    """

    theta_var: np.ndarray
    item_cov: np.ndarray
    item_cols: list
    global_cov: Optional[np.ndarray]
    full: np.ndarray
    theta_lowrank: Optional["ThetaLowRank"] = None


@dataclass
class ThetaLowRank:
    """The abilities' joint covariance over the models on the scale, ``diag(d) + Y W Y'``.

    ``models`` (M_on,) indices of the models on the scale (the rows and columns the form covers);
    ``d`` (M_on,) the inverse of each ability's own information; ``y`` (M_on, R) and ``w`` (R, R,
    symmetric, indefinite: it carries the identification constraints with a negative sign) the
    low-rank part, R = question parameters + constraints. Lets the latent regression work with
    O(M R^2) operations instead of factorising the (M, M) matrix.
    """

    models: np.ndarray
    d: np.ndarray
    y: np.ndarray
    w: np.ndarray


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


def global_precision_cov(hess_item: np.ndarray, z: np.ndarray, irt: str,
                         a_curvature: Optional[np.ndarray] = None) -> np.ndarray:
    """Covariance of the global precision parameters (``log phi_j = z_j' gamma``) with each
    question's (a, d) block profiled out (Schur complement), given the abilities.

    Parameters
    ----------
    hess_item : ndarray, shape (N, 3, 3)
        Question blocks in kernel column order (a, d, log_phi).
    z : ndarray, shape (N, R)
    irt : {"1pl", "2pl"}
    a_curvature : ndarray, shape (N,), optional
        2PL: the discrimination prior's curvature in each ``a_j``
        (:meth:`DiscriminationPrior.hessian_a`), added to the ``a`` diagonal before profiling --
        the same penalised information the question blocks' own covariance uses.

    Returns
    -------
    ndarray, shape (R, R)

    Notes
    -----
    A question answered by a single model (2PL) has a singular (a, d) block: only its
    ``eta = a theta + d`` is determined. Its block is profiled out with the pseudo-inverse, not
    left out. Both the block and its cross term with ``log phi`` are sums of multiples of the
    same vectors ``(theta_i, 1)`` (a and d enter the likelihood only through eta), so the cross
    term lies in the range of the block, and ``h_ads' pinv(h_ad) h_ads`` is exactly the Schur
    complement of the identified combination (the profile over eta); the null direction carries
    no information about anything. Leaving the question out would drop the information its
    responses do carry about the precision, which the fit's estimate of gamma uses.
    """
    ad = [0, 1] if irt == "2pl" else [1]
    h_ad = hess_item[:, ad][:, :, ad].copy()
    if irt == "2pl" and a_curvature is not None:
        h_ad[:, 0, 0] += a_curvature
    h_ads = hess_item[:, ad, 2]  # (N, k)
    neg_pinv = _batched_pinv(-h_ad)  # pinv(-h_ad) = -pinv(h_ad)
    # h_ss - h_ads' h_ad^-1 h_ads = h_ss + h_ads' (-h_ad)^+ h_ads
    schur = hess_item[:, 2, 2] + np.einsum("nk,nkl,nl->n", h_ads, neg_pinv, h_ads)
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
    a_curv = a_prior.hessian_a(a) if irt == "2pl" and a_prior is not None and a_prior.active else None
    if a_curv is not None:
        h[:, 0, 0] += a_curv
    item_cov = _batched_inverse(-h)
    global_cov = (global_precision_cov(acc.hess_item, precision.z, irt, a_curv)
                  if precision.kind == "linear" else None)
    return theta_var, item_cov, global_cov, cols


#: relative size below which an eigenvalue of a question block counts as zero (singular block)
_BLOCK_RTOL = 1e-12


def _block_eigh(neg_h: np.ndarray):
    """Eigen-decomposition (ascending eigenvalues) of a batch of (symmetrised) blocks and the
    mask of their null directions (eigenvalues within ``_BLOCK_RTOL`` of zero relative to the
    block's largest)."""
    vals, vecs = np.linalg.eigh(0.5 * (neg_h + np.swapaxes(neg_h, 1, 2)))
    top = np.maximum(np.abs(vals).max(axis=1, initial=0.0), 1e-300)
    null = np.abs(vals) <= _BLOCK_RTOL * top[:, None]
    return vals, vecs, null


def _not_positive_definite(vals: np.ndarray) -> np.ndarray:
    """From ascending eigenvalues (K, k): blocks whose smallest is not clearly positive."""
    return ~(vals[:, 0] > _BLOCK_RTOL * np.maximum(vals[:, -1], 1e-300))


def _batched_inverse(neg_h: np.ndarray) -> np.ndarray:
    """Inverse of a batch of symmetric blocks; NaN where a block is not positive definite."""
    out = np.full_like(neg_h, np.nan)
    sym = 0.5 * (neg_h + np.swapaxes(neg_h, 1, 2))
    ok = ~_not_positive_definite(np.linalg.eigvalsh(sym))
    if ok.any():
        out[ok] = np.linalg.inv(sym[ok])
    return out


def _batched_pinv(neg_h: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a batch of symmetric blocks (null directions, see :func:`_block_eigh`,
    inverted as zero)."""
    vals, vecs, null = _block_eigh(neg_h)
    inv_vals = np.where(null, 0.0, 1.0 / np.where(null, 1.0, vals))
    return np.einsum("kij,kj,klj->kil", vecs, inv_vals, vecs)


def _models_answering(kd) -> np.ndarray:
    """Number of models with a (positively weighted) response to each question, shape (N,);
    (model, question) pairs are unique in the data."""
    item = np.asarray(kd.item)
    if kd.weight is not None:
        item = item[np.asarray(kd.weight) > 0]
    return np.bincount(item, minlength=kd.n_items)


@one_blas_thread()
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
    ref: Optional[np.ndarray] = None,
) -> JointCovariance:
    """Full joint covariance of abilities and question parameters (dense).

    The joint information is singular along the identification directions (a common shift of
    the abilities, and for 2PL a common scale); the covariance is the constrained inverse under
    ``sum(theta) = 0`` (and ``sum(theta^2) = M`` linearised at the estimate) over the models
    ``ref``, obtained from the bordered matrix ``[[I, A'], [A, 0]]``. Contrasts (differences of
    abilities or difficulties) do not depend on that choice. The bordered matrix is inverted
    through the Schur complement of its diagonal ability block (see
    :func:`_constrained_inverse_schur`), densely only when an ability on the scale has no
    positive curvature. The linear algebra runs with BLAS limited to one thread
    (:func:`one_blas_thread`), so the result is the same bits for any thread count.

    Parameters
    ----------
    ref : ndarray of bool, shape (M,), optional
        Models over which the identification constraints hold; default
        :func:`irsl_stats.jml.scale_reference` (the models with a finite ML ability), as in the
        JML fit. A model whose responses are all extreme has an ability at the bound with an
        almost zero information; constraining the mean over it as well spread its huge variance
        to every other ability (all-correct model among 15: every other SE 3-12 times too large). Its
        own variance is returned as ``inf`` and its row and column of ``full`` as NaN: the
        estimate is at ``+-inf``, so the curvature at the bound describes nothing.

    Notes
    -----
    A question block that is singular on its own because fewer models answer the question than
    it has parameters (e.g. a 2PL question answered by one model: a and d enter only through
    that model's eta) leaves its null directions singular in the
    joint information too (for a negative semi-definite matrix, ``u' H_jj u = 0`` implies
    ``H u = 0``). They are pinned by extra constraint rows, which leaves every identified
    function of the parameters unchanged; the question's own variances are NaN.
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
    kq = n * k + r  # question and global parameters
    p = m + kq
    hi = acc.hess_item[:, idx][:, :, idx].copy()
    if precision.per_item:
        _, _, hp = precision.prior_terms(gamma)
        if hp is not None:
            hi[:, -1, -1] += hp
    if irt == "2pl" and a_prior is not None and a_prior.active:
        hi[:, 0, 0] += a_prior.hessian_a(a)
    # the information -H in three blocks: the abilities' (diagonal: an ability meets only its own
    # responses), the abilities x questions cross block (M, Kq) and the questions' (Kq, Kq:
    # per-question blocks and the global precision parameters). Each symmetric block is taken from
    # its upper triangle, as the assembled matrix always was
    info_theta = -acc.hess_theta[:, 0, 0]
    info_q = np.zeros((kq, kq))
    base = np.arange(n) * k
    for c1 in range(k):
        for c2 in range(c1, k):
            info_q[base + c1, base + c2] = -hi[:, c1, c2]
    info_x = np.zeros((m, kq))
    cross = acc.cross[:, 0, :]  # (nobs, 3): theta x (a, d, log_phi)
    flat = info_x.reshape(-1)  # a view: (model, question) pairs are unique, so bincount only places
    for c, col in enumerate(idx):
        flat -= np.bincount(kd.model * kq + kd.item * k + c, weights=cross[:, col], minlength=m * kq)
    if r:
        z = precision.z
        g0 = n * k
        hs = acc.hess_item  # (N, 3, 3)
        info_q[g0:, g0:] = -(z * hs[:, 2, 2][:, None]).T @ z
        for c, col in enumerate(idx):
            info_q[base + c, g0:] = -(z * hs[:, col, 2][:, None])
        zt = z[kd.item] * cross[:, 2][:, None]  # (nobs, R)
        for q in range(r):
            info_x[:, g0 + q] = -np.bincount(kd.model, weights=zt[:, q], minlength=m)
    info_q = np.triu(info_q) + np.triu(info_q, 1).T
    if ref is None:
        from .jml import scale_reference

        ref = scale_reference(kd)
    ref = np.asarray(ref, bool)
    # identification constraints on the abilities over the models that set the fit's scale:
    # sum(theta)=0 and, for 2PL, theta' dtheta = 0. The abilities off the scale stand at +-inf (the
    # fit gives their rows weight 0, so their information is exactly 0): pinned at 0, then
    # reported as NaN
    cons_theta = [ref.astype(float)]
    if irt == "2pl":
        cons_theta.append(np.where(ref, theta, 0.0))
    cons_theta = np.array(cons_theta)
    # null directions of singular question blocks answered by fewer models than they have
    # parameters (not identified): pinned, then reported NaN. A block that is only numerically
    # singular (e.g. a discrimination run to its bound on a question that separates the models)
    # keeps its huge but finite variance, as the fit's warnings about the bound explain
    vals, vecs, null = _block_eigh(-hi)
    unidentified = _not_positive_definite(vals)
    if unidentified.any():
        unidentified &= _models_answering(kd) < k
    cons_q = []
    for j in np.flatnonzero(unidentified):
        for e in np.flatnonzero(null[j]):
            row = np.zeros(kq)
            row[j * k: (j + 1) * k] = vecs[j][:, e]
            cons_q.append(row)
    cons_q = np.array(cons_q).reshape(len(cons_q), kq)
    on_scale = np.flatnonzero(ref)
    if np.all(np.isfinite(info_theta[on_scale])) and np.all(info_theta[on_scale] > 0):
        cov, lowrank = _constrained_inverse_schur(info_theta, info_x, info_q, cons_theta, cons_q, on_scale)
    else:
        # an ability on the scale without a positive curvature (not a maximum in it): no diagonal
        # block to eliminate, so the whole bordered matrix is inverted
        cov = _constrained_inverse_dense(info_theta, info_x, info_q, cons_theta, cons_q, on_scale)
        lowrank = None
    # parameters without a finite estimate: abilities of all-extreme models, unidentified questions
    undefined = np.zeros(p, bool)
    undefined[:m] = ~ref
    undefined[m: m + n * k] = np.repeat(unidentified, k)
    cov[undefined, :] = np.nan
    cov[:, undefined] = np.nan
    theta_var = np.diag(cov)[:m].copy()
    theta_var[~ref] = np.inf
    item_cov = np.empty((n, k, k))
    for c1 in range(k):
        for c2 in range(k):
            item_cov[:, c1, c2] = cov[m + base + c1, m + base + c2]
    global_cov = cov[m + n * k:, m + n * k:] if r else None
    return JointCovariance(theta_var, item_cov, cols, global_cov, cov, lowrank)


def _constrained_inverse_schur(info_theta, info_x, info_q, cons_theta, cons_q, on_scale):
    """The constrained inverse of the joint information, eliminating its diagonal ability block.

    The bordered matrix ``[[I_tt, I_tq, A_t', 0], [I_qt, I_qq, 0, A_q'], [A_t, 0, 0, 0],
    [0, A_q, 0, 0]]`` over the abilities on the scale (``on_scale``; the pinned ones drop out
    exactly: their multiplier absorbs their row) has the diagonal block ``I_tt = diag(info_theta)``.
    With ``E = [I_tq, A_t', 0]`` and ``Y = I_tt^-1 E``, the Schur complement
    ``S = [[I_qq, 0, A_q'], [0, 0, 0], [A_q, 0, 0]] - E' Y`` is small (question parameters and
    constraints), and the inverse's blocks are ``S^-1`` (questions), ``-Y S^-1`` (abilities x
    questions) and ``I_tt^-1 + Y S^-1 Y'`` (abilities): O(M K^2 + K^3) work instead of
    O((M + K)^3) for the dense inverse, with the same result up to rounding.

    Returns
    -------
    (ndarray, ThetaLowRank)
        The covariance (P, P) with zero rows and columns for the abilities off the scale, and the
        abilities' block over ``on_scale`` as diagonal plus low rank.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the Schur complement (and so the bordered matrix) is singular.
    """
    m, kq = info_x.shape
    n_t, n_q = cons_theta.shape[0], cons_q.shape[0]
    size = kq + n_t + n_q
    e = np.zeros((len(on_scale), size))
    e[:, :kq] = info_x[on_scale]
    e[:, kq: kq + n_t] = cons_theta[:, on_scale].T
    g = np.zeros((size, size))
    g[:kq, :kq] = info_q
    g[kq + n_t:, :kq] = cons_q
    g[:kq, kq + n_t:] = cons_q.T
    inv_d = 1.0 / info_theta[on_scale]
    y = e * inv_d[:, None]
    schur = g - e.T @ y
    s_inv = np.linalg.inv(0.5 * (schur + schur.T))
    s_inv = 0.5 * (s_inv + s_inv.T)
    p = m + kq
    cov = np.zeros((p, p))
    ys = y @ s_inv  # (M_on, size)
    cov[m:, m:] = s_inv[:kq, :kq]
    cross = -ys[:, :kq]
    cov[on_scale, m:] = cross
    cov[m:, on_scale] = cross.T
    tt = ys @ y.T
    tt[np.diag_indices_from(tt)] += inv_d
    tt += tt.T  # symmetric up to rounding: the mean of the two triangles, in place
    tt *= 0.5
    if len(on_scale) == m:
        cov[:m, :m] = tt
    else:
        cov[np.ix_(on_scale, on_scale)] = tt
    return cov, ThetaLowRank(on_scale, inv_d, y, s_inv)


def _constrained_inverse_dense(info_theta, info_x, info_q, cons_theta, cons_q, on_scale):
    """The constrained inverse of the joint information from the whole bordered matrix (dense).

    For an information whose ability block is not positive on the scale (see
    :func:`_constrained_inverse_schur` for the blocks and the constraints); the abilities off the
    scale are pinned at 0. Returns the covariance (P, P).
    """
    m, kq = info_x.shape
    p = m + kq
    info = np.zeros((p, p))
    info[np.arange(m), np.arange(m)] = info_theta
    info[:m, m:] = info_x
    info[m:, :m] = info_x.T
    info[m:, m:] = info_q
    off = np.setdiff1d(np.arange(m), on_scale)
    cons = [np.c_[cons_theta, np.zeros((cons_theta.shape[0], kq))]]
    pins = np.zeros((len(off), p))
    pins[np.arange(len(off)), off] = 1.0
    cons += [pins, np.c_[np.zeros((cons_q.shape[0], m)), cons_q]]
    a_mat = np.vstack(cons)
    nc = a_mat.shape[0]
    border = np.zeros((p + nc, p + nc))
    border[:p, :p] = info
    border[:p, p:] = a_mat.T
    border[p:, :p] = a_mat
    return np.linalg.inv(border)[:p, :p].copy()


def wald_test(params, cov, constraints, *, fixed_params=(), determined: str = "", use_f: bool = False,
              df_denom: Optional[int] = None, stacklevel: int = 3):
    """Wald test of linear constraints ``R params = q``, shared by the one- and multidimensional results.

    As statsmodels, the statistic uses a pseudo-inverse of the constraints' covariance ``R V R'``
    and its numerical rank as the degrees of freedom; the rank is judged on the correlation
    scale (:func:`irsl_stats.derived_interval.scaled_eigen`), so that parameters of very
    different magnitudes (a coefficient of raw FLOPs) are treated alike. ``R V R'`` is singular
    when the constraints are linearly dependent or involve parameters the identification
    determines from the others; the test then has fewer degrees of freedom than constraints and
    an :class:`~irsl_stats.results.IRSLWarning` says so.

    Parameters
    ----------
    params : Series, length K
        The estimates, indexed by the parameter names the constraints are written in.
    cov : DataFrame or ndarray, shape (K, K)
        Their covariance (zero rows for the constants of the identification).
    constraints : str, list of str, or (R, q) tuple
        e.g. ``"b0: x = b1: x"`` or ``["a = 0", "b = 0"]``, parsed by patsy against the names of
        ``params`` (names may hold spaces, colons, parentheses and commas); a tuple gives the
        matrix ``R`` (J, K) and the vector ``q`` (J,).
    fixed_params : sequence of str
        Names of the parameters the identification fixes, for the message when nothing is
        left to test.
    determined : str
        Which parameters the identification sets from the others, in words, for the warning
        of a rank-deficient test (e.g. ``"under identification='population' the intercept and,
        for 2PL, sigma are functions of the slopes"``).
    use_f : bool
        F test with ``df_denom`` denominator degrees of freedom instead of the chi-squared test.
    df_denom : int, optional
        Denominator degrees of freedom of the F test (needed with ``use_f``).
    stacklevel : int
        ``stacklevel`` of the warning: 3 points at the caller of a results method that calls
        this function.

    Returns
    -------
    statsmodels.stats.contrast.ContrastResults
        Statistic, p-value and degrees of freedom (the rank of ``R V R'``).

    Raises
    ------
    ValueError
        If a constraint cannot be parsed or names an unknown parameter (the message lists the
        valid names); if ``R`` and ``q`` do not match the K parameters; if the covariance of
        the constrained parameters is not finite (the message names them); if the constraints
        only involve parameters the identification fixes; if ``use_f`` without ``df_denom``.

    Warns
    -----
    IRSLWarning
        When ``R V R'`` has rank below the number of constraints (degrees of freedom reduced).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> p = pd.Series([1.0, 3.0], index=["b0: x", "b1: x"])
    >>> float(wald_test(p, np.diag([1.0, 1.0]), "b0: x = b1: x").statistic)  # (1 - 3)^2 / (1 + 1)
    2.0
    """
    import warnings

    from patsy import DesignInfo, PatsyError
    from statsmodels.stats.contrast import ContrastResults

    from .derived_interval import scaled_eigen
    from .results import IRSLWarning  # results imports this module's users; import when called

    names = [str(n) for n in params.index]
    if isinstance(constraints, tuple):
        if len(constraints) != 2:
            raise ValueError("constraints as a tuple must be (R, q) with R (J, K) and q (J,)")
        r = np.atleast_2d(np.asarray(constraints[0], float))
        q_ = np.atleast_1d(np.asarray(constraints[1], float)).ravel()
        if r.ndim != 2 or r.shape[1] != len(names) or q_.shape != (r.shape[0],):
            raise ValueError(
                f"constraints (R, q): R must have shape (J, {len(names)}) (one column per "
                f"parameter: {names}) and q shape (J,); got R {r.shape} and q {q_.shape}"
            )
    else:
        try:
            lc = DesignInfo(names).linear_constraint(constraints)
        except PatsyError as e:
            raise ValueError(
                f"constraints: cannot parse {constraints!r} ({e.message}); write them as "
                f"e.g. 'name = 0' with the parameter names {names}"
            ) from None
        r, q_ = lc.coefs, lc.constants[:, 0]
    diff = r @ np.asarray(params, float) - q_
    # only the columns the constraints use: 0 * NaN is NaN, so a NaN variance of a parameter
    # the constraints leave alone (a sigma at its boundary) would make every Wald test fail
    used = np.any(r != 0, axis=0)
    full = np.asarray(cov, float)
    v = r[:, used] @ full[np.ix_(used, used)] @ r[:, used].T
    involved = [n for n, u in zip(names, used) if u]
    if not np.all(np.isfinite(diff)):
        raise ValueError(f"the estimates of the constrained parameters {involved} are not all finite, "
                         "so no Wald test is available")
    if not np.all(np.isfinite(v)):
        raise ValueError(
            f"the covariance of the constrained parameters {involved} is not finite (the "
            "information matrix is singular for some of them; see res.warnings), so no Wald "
            "test is available"
        )
    sd, vals, vecs, keep = scaled_eigen(v)
    live = sd > 0
    df = int(keep.sum())
    n_constraints = r.shape[0]
    if df == 0:
        raise ValueError(
            "the constraints have zero variance: they only involve parameters (or "
            "combinations) fixed by the identification (fixed parameters: "
            f"{list(fixed_params) or 'none individually'}), so there is nothing to test; "
            "constrain estimated parameters"
        )
    if df < n_constraints:
        why = f" ({determined})" if determined else ""
        warnings.warn(
            f"the {n_constraints} constraints are linearly dependent or involve parameters fixed "
            f"by the identification{why}: their covariance has rank {df}, so the test uses {df} "
            "degree(s) of freedom (pseudo-inverse); drop redundant constraints or constraints on "
            "determined parameters to silence this",
            IRSLWarning,
            stacklevel=stacklevel,
        )
    # generalised inverse of v from the scaled pseudo-inverse: D^-1 pinv(S) D^-1
    inv_sd = np.where(live, 1.0 / np.where(live, sd, 1.0), 0.0)
    w = (vecs[:, keep] / vals[keep]) @ vecs[:, keep].T
    stat = float(diff @ (inv_sd[:, None] * w * inv_sd[None, :]) @ diff)
    if use_f:
        if df_denom is None:
            raise ValueError("use_f=True needs the denominator degrees of freedom df_denom")
        return ContrastResults(F=stat / df, df_num=df, df_denom=df_denom, distribution="F")
    return ContrastResults(statistic=stat, df_denom=df, distribution="chi2")
