"""Python face of the C++/OpenMP likelihood kernel (``irsl_stats._core``).

This is the only module that imports ``_core``. It casts inputs to the exact dtypes and layouts
the kernel requires (int32 / int64 indices, C-contiguous float64 arrays), allocates nothing the
kernel does not return, resolves ``n_threads`` and documents shapes. Conventions
(docs/kernel_interface.md):

* observations in long format: ``model`` (n,), ``item`` (n,), ``y`` (n,) -- the response, or the
  number of successes ``k`` for the count families -- and, for counts, ``trials`` (n,);
* linear predictor ``eta = a_j . theta_i + d_j``, mean ``mu = logistic(eta)``, precision
  ``phi_j = exp(log_phi[j])`` (ignored by bernoulli / binomial);
* item parameter vector per question ``(a_1, ..., a_D, d, log_phi)`` of length ``D + 2``;
* every quantity is of the **log-likelihood** (not its negative), weighted by ``weight`` when
  given; Hessian blocks are second derivatives (negative definite near a maximum);
* results are bitwise identical for any ``n_threads`` (fixed chunking, ordered reduction).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: The OpenMP runtime reads its wait policy once, when it is loaded with ``_core`` (below). Its
#: default lets idle worker threads spin for a while after every parallel region; between the
#: kernel passes of a fit Python runs single-threaded for a moment, and the spinning worker takes
#: a core from it (and from every other job). On a busy 2-core machine a fit with 2 threads took
#: 3.9 s against 0.8 s with 1 thread; with a passive wait both take 0.8 s
#: (benchmarks/thread_wait.py). The kernel's passes last milliseconds, so waking a sleeping
#: thread costs nothing measurable. A user's own OMP_WAIT_POLICY / GOMP_SPINCOUNT / KMP_BLOCKTIME
#: is kept; so is the policy of a runtime another package loaded first.
if not any(v in os.environ for v in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")):
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

_WAIT_POLICY_AT_LOAD = ", ".join(f"{v}={os.environ[v]}" for v in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
                                 if v in os.environ)

from . import _core  # noqa: E402  (after the wait policy above)
from .families import FAMILIES

__all__ = [
    "FAMILY_CODES",
    "Accumulation",
    "KernelData",
    "accumulate",
    "accumulate_items_weighted",
    "build_info",
    "expected_response",
    "loglik",
    "loglik_grid",
    "obs_derivatives",
    "resolve_n_threads",
]

FAMILY_CODES: dict[str, int] = {name: f.code for name, f in FAMILIES.items()}
COUNT_FAMILIES = frozenset(name for name, f in FAMILIES.items() if f.uses_counts)
PHI_FAMILIES = frozenset(name for name, f in FAMILIES.items() if f.has_precision)
_INFORMATION = ("observed", "expected")


def _family_code(family: str) -> int:
    try:
        return FAMILY_CODES[family]
    except (KeyError, TypeError):
        raise ValueError(
            f"family: expected one of {sorted(FAMILY_CODES)}, got {family!r}"
        ) from None


def _expected_flag(information: str) -> bool:
    if information not in _INFORMATION:
        raise ValueError(f"information: expected 'observed' or 'expected', got {information!r}")
    return information == "expected"


def _f64(x: ArrayLike, name: str, ndim: Optional[int] = None) -> NDArray[np.float64]:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {arr.shape}")
    return arr


def _index(x: ArrayLike, name: str, dtype: type) -> NDArray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        if arr.size and arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            pass  # integer-valued floats are accepted
        elif arr.size:
            raise TypeError(f"{name}: expected an integer array, got dtype {arr.dtype}")
    info = np.iinfo(dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ValueError(f"{name}: values do not fit in {np.dtype(dtype).name}")
    return np.ascontiguousarray(arr, dtype=dtype)


def resolve_n_threads(n_threads: Optional[int]) -> int:
    """Number of OpenMP threads a pass will use.

    Parameters
    ----------
    n_threads : int or None
        ``None``: the OpenMP default (``OMP_NUM_THREADS`` or all cores); ``-1``: all cores;
        ``k >= 1``: ``k`` threads.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For ``0`` or values below ``-1``.
    """
    return int(_core.resolve_n_threads(n_threads))


def build_info() -> dict:
    """How the kernel was built.

    Returns
    -------
    dict
        ``openmp`` (bool), ``openmp_version`` (int or None, the ``_OPENMP`` date), ``max_threads``,
        ``num_procs``, ``compiler`` (id and version), ``build_type`` and ``omp_wait_policy``
        (the OpenMP environment when the kernel was loaded: ``OMP_WAIT_POLICY``,
        ``GOMP_SPINCOUNT`` or ``KMP_BLOCKTIME``; ``PASSIVE`` unless the user set one of them).

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> info = irsl.build_info()
    >>> sorted(k for k in info if k in ("build_type", "compiler", "openmp"))
    ['build_type', 'compiler', 'openmp']
    """
    info = dict(_core.build_info())
    info["omp_wait_policy"] = _WAIT_POLICY_AT_LOAD
    return info


class KernelData:
    """Validated, contiguous observation arrays; built once and reused by every pass.

    Parameters
    ----------
    model, item : array_like of int, shape (n,)
        Model (row) and question (column) index of each observation, ``0 <= model < n_models``,
        ``0 <= item < n_items``.
    y : array_like of float, shape (n,)
        Response: in (0, 1) for beta, in {0, 1} for bernoulli, the number of successes
        ``0 <= k <= trials`` for binomial / beta_binomial.
    n_models, n_items : int
        Number of models M and questions N.
    family : {"beta", "bernoulli", "binomial", "beta_binomial"}
    trials : array_like of float, shape (n,), optional
        Number of trials (positive integers); required for the count families, must be None
        otherwise.
    weight : array_like of float, shape (n,), optional
        Non-negative finite observation weights (None = all ones).
    model_ptr : array_like of int, shape (M + 1,), optional
        CSR offsets when the observations are sorted by model: model i owns rows
        ``model_ptr[i]:model_ptr[i+1]``. Required by :func:`loglik_grid` and
        :func:`accumulate_items_weighted`.
    n_threads : int or None
        Threads for the one-off validation and ``log_const`` computation.

    Attributes
    ----------
    model, item : ndarray of int32, shape (n,)
    y : ndarray of float64, shape (n,)
    trials, weight : ndarray of float64, shape (n,), or None
    log_const : ndarray of float64, shape (n,), or None
        ``log C(trials, y)`` for the count families (computed once here); None for beta and
        bernoulli, whose constant is 0.
    model_ptr : ndarray of int64, shape (M + 1,), or None
        All arrays above are read-only views (``log_const`` and ``log_y`` are derived from ``y``
        at construction; build a new KernelData to change the data).
    n_models, n_items, nobs : int
    family : str
    family_code : int

    Raises
    ------
    ValueError, TypeError
        If an array has the wrong shape or type, an index is out of range, ``model_ptr`` is
        inconsistent with ``model``, a response is outside the family's support or a weight is
        negative or non-finite. The message names the argument and the first offending element.

    Notes
    -----
    An observation with weight 0 contributes nothing to any pass (it is skipped, so even a
    non-finite log-density or derivative there cannot turn a result into NaN).
    """

    def __init__(
        self,
        model: ArrayLike,
        item: ArrayLike,
        y: ArrayLike,
        *,
        n_models: int,
        n_items: int,
        family: str,
        trials: Optional[ArrayLike] = None,
        weight: Optional[ArrayLike] = None,
        model_ptr: Optional[ArrayLike] = None,
        n_threads: Optional[int] = None,
    ) -> None:
        self.family = family
        self.family_code = _family_code(family)
        self.n_models = int(n_models)
        self.n_items = int(n_items)
        self.model = _index(model, "model", np.int32)
        self.item = _index(item, "item", np.int32)
        self.y = _f64(y, "y")
        self.trials = None if trials is None else _f64(trials, "trials")
        self.weight = None if weight is None else _f64(weight, "weight")
        self.model_ptr = None if model_ptr is None else _index(model_ptr, "model_ptr", np.int64)
        self.log_const: Optional[NDArray[np.float64]] = None
        self.log_y: Optional[NDArray[np.float64]] = None
        nt = resolve_n_threads(n_threads)
        _core.validate_data(**self._core_args(), n_threads=nt)
        if family in COUNT_FAMILIES:
            self.log_const = _core.log_const(self.y, self.trials, self.family_code, nt)
        # beta: log y and log1p(-y) never change, and are two of the most expensive terms of a
        # beta evaluation; computed once here (16 bytes per observation) instead of every pass
        if family == "beta":
            self.log_y = np.empty((self.y.shape[0], 2))
            np.log(self.y, out=self.log_y[:, 0])
            np.log1p(-self.y, out=self.log_y[:, 1])
        # log_y and log_const are derived from y and trials once, here: expose every array as a
        # read-only view, so that modifying one in place (which would leave them stale) raises.
        # (The caller's own arrays, which these may view without a copy, stay writeable.)
        for name in ("model", "item", "y", "trials", "weight", "model_ptr", "log_const", "log_y"):
            arr = getattr(self, name)
            if arr is not None:
                view = arr.view()
                view.flags.writeable = False
                setattr(self, name, view)

    @property
    def nobs(self) -> int:
        """Number of observations n."""
        return int(self.y.shape[0])

    def _core_args(self) -> dict:
        return {
            "model": self.model,
            "item": self.item,
            "y": self.y,
            "trials": self.trials,
            "weight": self.weight,
            "log_const": self.log_const,
            "log_y": self.log_y,
            "model_ptr": self.model_ptr,
            "n_models": self.n_models,
            "n_items": self.n_items,
            "family": self.family_code,
        }

    def __repr__(self) -> str:
        return (
            f"KernelData(family={self.family!r}, nobs={self.nobs}, n_models={self.n_models}, "
            f"n_items={self.n_items}, weighted={self.weight is not None}, "
            f"model_ptr={self.model_ptr is not None})"
        )


@dataclass
class Accumulation:
    """Result of :func:`accumulate` (all of the weighted log-likelihood, D = latent dimension).

    Attributes
    ----------
    loglik : float
        Total log-likelihood.
    grad_theta : ndarray, shape (M, D), or None
        d loglik / d theta_i.
    hess_theta : ndarray, shape (M, D, D), or None
        d2 loglik / d theta_i d theta_i' (the diagonal model blocks).
    grad_item : ndarray, shape (N, D + 2), or None
        Gradient per question, columns ``(a_1, ..., a_D, d, log_phi)``.
    hess_item : ndarray, shape (N, D + 2, D + 2), or None
        Diagonal question blocks (same column order).
    cross : ndarray, shape (n, D, D + 2), or None
        Per observation t = (i, j): d2 l_t / d theta_i d (a_j, d_j, log_phi_j) (always observed
        information: it includes the score term ``l_e * delta_kl`` in the theta x a block).
    """

    loglik: float
    grad_theta: Optional[NDArray[np.float64]] = None
    hess_theta: Optional[NDArray[np.float64]] = None
    grad_item: Optional[NDArray[np.float64]] = None
    hess_item: Optional[NDArray[np.float64]] = None
    cross: Optional[NDArray[np.float64]] = None


def _item_args(data: KernelData, a: ArrayLike, d: ArrayLike, log_phi: Optional[ArrayLike]) -> dict:
    a_arr = _f64(a, "a")
    if a_arr.ndim == 1:
        a_arr = a_arr.reshape(-1, 1)
    # (test the scalar case before converting: np.ascontiguousarray makes a 0-d input 1-d)
    if log_phi is None:
        lp = np.zeros(data.n_items)
    elif np.ndim(log_phi) == 0:
        lp = np.full(data.n_items, float(log_phi))
    else:
        lp = _f64(log_phi, "log_phi")
    return {"a": a_arr, "d": _f64(d, "d"), "log_phi": lp}


def _theta(theta: ArrayLike) -> NDArray[np.float64]:
    th = _f64(theta, "theta")
    return th.reshape(-1, 1) if th.ndim == 1 else th


def loglik(
    data: KernelData,
    theta: ArrayLike,
    a: ArrayLike,
    d: ArrayLike,
    log_phi: Optional[ArrayLike],
    *,
    n_threads: Optional[int] = None,
) -> float:
    """Weighted total log-likelihood ``sum_t w_t l(y_t; eta_t, log_phi_j)``.

    Parameters
    ----------
    data : KernelData
    theta : array_like, shape (M, D) (or (M,) for D = 1)
        Abilities.
    a : array_like, shape (N, D) (or (N,) for D = 1)
        Discriminations.
    d : array_like, shape (N,)
        Intercepts.
    log_phi : array_like, shape (N,) or scalar, or None
        Log precision per question (a scalar is broadcast; None = 0, for families without phi).
        For beta and beta_binomial every value must lie in [-700, 700] (phi finite).
    n_threads : int or None
        See :func:`resolve_n_threads`.

    Returns
    -------
    float
    """
    return float(
        _core.loglik(
            **data._core_args(),
            theta=_theta(theta),
            **_item_args(data, a, d, log_phi),
            n_threads=n_threads,
        )
    )


def accumulate(
    data: KernelData,
    theta: ArrayLike,
    a: ArrayLike,
    d: ArrayLike,
    log_phi: Optional[ArrayLike],
    *,
    model_blocks: bool = True,
    item_blocks: bool = True,
    cross: bool = False,
    information: str = "observed",
    n_threads: Optional[int] = None,
) -> Accumulation:
    """Log-likelihood, gradients and Hessian blocks in one pass over the observations.

    With ``l_e, l_ee, l_s, l_es, l_ss`` the per-observation derivatives in eta and s = log phi
    (weighted), the chain rule gives, for observation (i, j) and x = (theta_i, 1):

    * ``d/d theta_i = l_e a_j``, ``d2/d theta_i d theta_i' = l_ee a_j a_j'``;
    * item gradient ``(l_e x, l_s)``, item block ``[[l_ee x x', l_es x], [., l_ss]]``;
    * cross ``theta_k x a_l = l_ee a_k theta_l + l_e [k == l]``, ``theta_k x d = l_ee a_k``,
      ``theta_k x log_phi = l_es a_k``.

    For families without a precision the log_phi entries are 0.

    Parameters
    ----------
    data : KernelData
    theta, a, d, log_phi : array_like
        As in :func:`loglik`.
    model_blocks, item_blocks, cross : bool
        Which outputs to compute (see :class:`Accumulation`).
    information : {"observed", "expected"}
        Second derivatives of the model and item blocks: observed, or their expectation over y
        (beta only; identical for bernoulli / binomial; not available for beta_binomial).
    n_threads : int or None

    Returns
    -------
    Accumulation
    """
    ll, gth, hth, git, hit, crs = _core.accumulate(
        **data._core_args(),
        theta=_theta(theta),
        **_item_args(data, a, d, log_phi),
        model_blocks=bool(model_blocks),
        item_blocks=bool(item_blocks),
        cross=bool(cross),
        expected=_expected_flag(information),
        n_threads=n_threads,
    )
    return Accumulation(float(ll), gth, hth, git, hit, crs)


def obs_derivatives(
    data: KernelData,
    eta: ArrayLike,
    log_phi_obs: Optional[ArrayLike],
    *,
    information: str = "observed",
    n_threads: Optional[int] = None,
) -> tuple[NDArray[np.float64], ...]:
    """Per-observation log-density and derivatives at given eta and log phi (unweighted).

    Parameters
    ----------
    data : KernelData
        Only ``y``, ``trials`` and ``log_const`` are used.
    eta : array_like, shape (n,)
    log_phi_obs : array_like, shape (n,) or scalar, or None (= 0)
    information : {"observed", "expected"}
    n_threads : int or None

    Returns
    -------
    tuple of 6 ndarray, each shape (n,)
        ``l, l_e, l_s, l_ee, l_es, l_ss`` with e = eta and s = log phi.
    """
    n = data.nobs
    if log_phi_obs is None:
        lp = np.zeros(n)
    elif np.ndim(log_phi_obs) == 0:
        lp = np.full(n, float(log_phi_obs))
    else:
        lp = _f64(log_phi_obs, "log_phi_obs")
    return tuple(
        _core.obs_derivatives(
            y=data.y,
            trials=data.trials,
            log_const=data.log_const,
            family=data.family_code,
            eta=_f64(eta, "eta"),
            log_phi_obs=lp,
            expected=_expected_flag(information),
            n_threads=n_threads,
        )
    )


def loglik_grid(
    data: KernelData,
    a: ArrayLike,
    d: ArrayLike,
    log_phi: Optional[ArrayLike],
    nodes: ArrayLike,
    *,
    n_threads: Optional[int] = None,
) -> NDArray[np.float64]:
    """Log-likelihood of each model at a grid of ability points (for quadrature).

    ``out[i, q] = sum_{t in model i} w_t l(y_t; a_j . nodes[i, q] + d_j)``; parallel over models.

    Parameters
    ----------
    data : KernelData
        Must have ``model_ptr``.
    a, d, log_phi : array_like
        As in :func:`loglik`.
    nodes : array_like, shape (M, Q, D) (or (M, Q) for D = 1)
        Ability points per model (e.g. adaptive Gauss-Hermite nodes).
    n_threads : int or None

    Returns
    -------
    ndarray, shape (M, Q)
    """
    nd = _f64(nodes, "nodes")
    if nd.ndim == 2:
        nd = nd[:, :, None]
    return _core.loglik_grid(
        **data._core_args(), **_item_args(data, a, d, log_phi), nodes=nd, n_threads=n_threads
    )


def accumulate_items_weighted(
    data: KernelData,
    a: ArrayLike,
    d: ArrayLike,
    log_phi: Optional[ArrayLike],
    nodes: ArrayLike,
    node_weights: ArrayLike,
    *,
    information: str = "observed",
    n_threads: Optional[int] = None,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Posterior-weighted item objective, gradient and Hessian blocks (EM / Fisher identity).

    Computes ``sum_i sum_q node_weights[i, q] sum_{t in i} w_t l(y_t; a_j . nodes[i, q] + d_j)``
    and its derivatives with respect to each question's ``(a_1..a_D, d, log_phi)``.

    Parameters
    ----------
    data : KernelData
        Must have ``model_ptr``.
    a, d, log_phi : array_like
        As in :func:`loglik`.
    nodes : array_like, shape (M, Q, D) (or (M, Q) for D = 1)
    node_weights : array_like, shape (M, Q)
        Non-negative posterior weights (rows usually sum to 1).
    information : {"observed", "expected"}
    n_threads : int or None

    Returns
    -------
    value : float
    grad_item : ndarray, shape (N, D + 2)
    hess_item : ndarray, shape (N, D + 2, D + 2)
    """
    nd = _f64(nodes, "nodes")
    if nd.ndim == 2:
        nd = nd[:, :, None]
    value, g, h = _core.accumulate_items_weighted(
        **data._core_args(),
        **_item_args(data, a, d, log_phi),
        nodes=nd,
        node_weights=_f64(node_weights, "node_weights"),
        expected=_expected_flag(information),
        n_threads=n_threads,
    )
    return float(value), g, h


def expected_response(
    family: str,
    eta: ArrayLike,
    log_phi: Optional[ArrayLike] = None,
    trials: Optional[ArrayLike] = None,
) -> NDArray[np.float64]:
    """Mean response: ``mu = logistic(eta)``, or ``trials * mu`` for the count families.

    Parameters
    ----------
    family : str
    eta : array_like
    log_phi : array_like, optional
        Unused (the mean does not depend on the precision); accepted for a uniform signature.
    trials : array_like, optional
        Required for the count families; broadcast against ``eta``.

    Returns
    -------
    ndarray
    """
    _family_code(family)
    from scipy.special import expit

    mu = expit(np.asarray(eta, dtype=np.float64))
    if family in COUNT_FAMILIES:
        if trials is None:
            raise ValueError(f"trials: required for family {family!r}")
        return np.asarray(trials, dtype=np.float64) * mu
    return mu
