"""Joint maximum likelihood: abilities and question parameters as free parameters.

Block coordinate Newton (observed information, see JMLOptions): one kernel pass gives every model's gradient and
1x1 curvature, all abilities move at once; the next pass gives every question's gradient and
(up to) 3x3 block, all questions move at once. A step that lowers the objective is halved and
re-evaluated (step control). Between half-steps the ability scale is renormalised to mean 0
(and, for 2PL, SD 1) — an exact reparametrisation that leaves the likelihood unchanged and keeps
the alternating updates well conditioned.

The objective is the log-likelihood plus, when asked, the log of a normal shrinkage prior on the
per-question log precisions (see :mod:`irsl_stats.precision`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from . import _kernel
from .precision import PrecisionModel
from .priors import A_FLOOR, DiscriminationPrior

__all__ = ["JMLOptions", "JMLFit", "fit_jml", "initial_values", "ItemState"]

THETA_BOUND = 12.0
D_BOUND = 60.0
A_BOUND = 25.0
LOG_PHI_BOUNDS = (np.log(1e-3), np.log(1e9))


@dataclass
class JMLOptions:
    """Controls of the block Newton iterations.

    tol : convergence when the largest Newton step of every block, in standard-error units
        (``|delta| * sqrt(information)``), is below ``tol`` and the objective changed by less
        than ``tol * 1e-4`` relative.
    information : {"observed", "expected"}
        Curvature used by the block Newton steps. Observed information makes each block step an
        exact Newton step (quadratic convergence within a block; indefinite blocks are handled by
        flooring their eigenvalues, and step halving guards the objective); expected information
        (Fisher scoring) is more robust far from the optimum but converges only linearly for the
        Beta family — in a 500 x 3,000 simulation, 9 iterations instead of 16.
    verbose : bool
        Print one line per iteration, and one when the iterations end that announces the
        standard errors :func:`irsl_stats.estimate.estimate_jml` computes next (silent otherwise,
        and with a dense joint covariance often longer than the iterations). The starts of the
        marginal-ML fits run quietly.
    extreme_off_scale : bool
        Renormalise over the models with a finite ability only (:func:`scale_reference`; the
        default), and hold the others at ``+-inf``: their abilities stay at the bound on the side
        their responses pull to and their rows leave the likelihood (their probability there is
        1), so the fit is the fit without them. ``False`` renormalises over all models and lets
        every ability move, as the short JML run that starts MML does: there the start of an
        all-extreme model only seeds its posterior mode, and the marginal fit is left as it was.
    relaxation : "auto" or float
        Over-relaxation factor ``omega`` of the block steps (successive over-relaxation). The
        alternating block Newton converges linearly at a rate ``rho`` (the squared canonical
        coupling of abilities and questions); over-relaxing with ``omega = 2 / (1 + sqrt(1 - rho))``
        lowers the rate to ``omega - 1`` (Young's theorem for two-block iterations). ``"auto"``
        estimates ``rho`` from the ratio of successive step sizes once it has settled, uses a
        slightly conservative ``omega``, and returns to 1 whenever a step is halved.
    """

    max_iter: int = 500
    tol: float = 1e-6
    max_step: float = 1.0
    information: str = "observed"
    verbose: bool = False
    n_threads: Optional[int] = None
    max_halvings: int = 30
    relaxation: object = "auto"
    extreme_off_scale: bool = True


@dataclass
class ItemState:
    """Question parameters: ``a`` (N,), ``d`` (N,), free precision parameters ``gamma``."""

    a: np.ndarray
    d: np.ndarray
    gamma: np.ndarray

    def copy(self) -> "ItemState":
        return ItemState(self.a.copy(), self.d.copy(), self.gamma.copy())


@dataclass
class JMLFit:
    theta: np.ndarray
    items: ItemState
    log_phi: np.ndarray
    objective: float
    loglik: float
    n_iter: int
    n_passes: int
    converged: bool
    seconds: float
    history: List[dict] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    # models over which the abilities were renormalised (:func:`scale_reference`, or all models
    # with ``extreme_off_scale=False``), shape (M,)
    scale_models: Optional[np.ndarray] = None
    # the data the fit maximised: ``kd`` itself, or with weight 0 on the rows of the models held
    # at +-inf (:func:`scale_reference`); its covariance and log-likelihood use the same
    kernel_data: Optional[object] = None


_CHUNK = 1 << 22  # observations per block when summarising the data (bounded memory)


def _chunked_bincount(kd, index_name: str, values, length: int) -> np.ndarray:
    """``bincount(kd.<index_name>, weights=values(sl) * w)`` accumulated over blocks of
    observations, so that no full-length temporary array is formed."""
    out = np.zeros(length)
    idx = getattr(kd, index_name)
    for lo in range(0, kd.nobs, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, kd.nobs))
        v = values(sl)
        if kd.weight is not None:
            v = v * kd.weight[sl]
        out += np.bincount(idx[sl], weights=v, minlength=length)
    return out


def _rate(kd, sl) -> np.ndarray:
    if kd.trials is not None:
        return kd.y[sl] / kd.trials[sl]
    return np.asarray(kd.y[sl], float)


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p) - np.log1p(-p)


def initial_values(kd, precision: PrecisionModel, irt: str):
    """Starting abilities and question parameters from observed rates.

    Abilities start at the standardised logit of each model's mean rate, difficulties at the
    logit of each question's mean rate, discriminations at 1 and the Beta precision at a
    method-of-moments value per question (``Var(y) = mu(1-mu)/(1+phi)``). The data are summarised
    in blocks, so memory stays bounded for hundreds of millions of responses.
    """
    one = lambda sl: np.ones(sl.stop - sl.start)  # noqa: E731
    m_w = np.maximum(_chunked_bincount(kd, "model", one, kd.n_models), 1e-300)
    i_w = np.maximum(_chunked_bincount(kd, "item", one, kd.n_items), 1e-300)
    m_rate = _chunked_bincount(kd, "model", lambda sl: _rate(kd, sl), kd.n_models) / m_w
    i_rate = _chunked_bincount(kd, "item", lambda sl: _rate(kd, sl), kd.n_items) / i_w
    theta = _logit(m_rate)
    theta = theta - theta.mean()
    sd = theta.std()
    if irt == "2pl" and sd > 0:
        theta = theta / sd
    d = _logit(i_rate)
    a = np.ones(kd.n_items)
    log_phi0 = np.full(kd.n_items, np.log(10.0))
    if kd.family == "beta" and precision.estimated:

        def mu(sl):
            eta = theta[kd.model[sl]] * a[kd.item[sl]] + d[kd.item[sl]]
            return 1.0 / (1.0 + np.exp(-eta))

        v = _chunked_bincount(kd, "item", lambda sl: (_rate(kd, sl) - mu(sl)) ** 2, kd.n_items) / i_w
        mv = _chunked_bincount(kd, "item", lambda sl: mu(sl) * (1 - mu(sl)), kd.n_items) / i_w
        phi = np.clip(mv / np.maximum(v, 1e-12) - 1.0, 1.0, 1e3)
        log_phi0 = np.log(phi)
    gamma = precision.initial(log_phi0)
    return theta, ItemState(a, d, gamma)


def scale_reference(kd) -> np.ndarray:
    """Models whose abilities set the scale of the JML iterations: those with a finite ML ability.

    A model whose every (weighted) response is at the same extreme -- all correct, or all wrong
    (0 or ``trials`` successes; never for beta) -- has its ability estimate at ``+-inf``. Were it
    in the mean and SD of the renormalisation, its runaway ability would take the whole 2PL scale
    (it sits at ``sqrt(M - 1)`` SDs however far it runs, so the ability bound never holds it),
    squash every other ability together and drive every discrimination to its bound. Renormalising
    over the other models is the same exact reparametrisation; :func:`fit_jml` holds the runaway
    ability at the bound :data:`THETA_BOUND`, where the fit reports it, and takes its rows out of
    the likelihood, as at ``+-inf``.

    Returns
    -------
    ndarray of bool, shape (M,)
        All models when fewer than two would remain.
    """
    ref = extreme_direction(kd) == 0
    return ref if ref.sum() >= 2 else np.ones(kd.n_models, bool)


def extreme_direction(kd) -> np.ndarray:
    """Per model: ``+1`` when every (weighted) response is at the top of its range (all correct),
    ``-1`` when every one is at the bottom, else 0 (see :func:`scale_reference`).

    Returns
    -------
    ndarray of int, shape (M,)
    """
    from .scoring import one_sided, response_extremes

    carries = np.ones(kd.nobs, bool) if kd.weight is None else np.asarray(kd.weight) > 0
    pull = response_extremes(kd.family, np.asarray(kd.y, float),
                             None if kd.trials is None else np.asarray(kd.trials, float))
    return one_sided(np.asarray(kd.model), pull, carries, kd.n_models)


def runaway_questions(kd) -> np.ndarray:
    """Questions whose every response that carries weight is at the same extreme (shape (N,), bool).

    No model ever answers such a question correctly (or every model always does), so its
    likelihood rises all the way to a difficulty of ``-+inf``: its Newton step never vanishes,
    however converged the rest of the fit is, and :func:`fit_jml` judges convergence on the
    other questions, as it does for all-extreme models (the fit warns about these questions).
    """
    from .scoring import one_sided, response_extremes

    carries = np.ones(kd.nobs, bool) if kd.weight is None else np.asarray(kd.weight) > 0
    pull = response_extremes(kd.family, np.asarray(kd.y, float),
                             None if kd.trials is None else np.asarray(kd.trials, float))
    return one_sided(np.asarray(kd.item), pull, carries, kd.n_items) != 0


def _without_models(kd, drop: np.ndarray):
    """``kd`` with weight 0 on the rows of the models ``drop`` (shape (M,), bool).

    At an ability of ``+-inf`` an all-extreme model's responses have probability 1: they add
    nothing to the likelihood or its derivatives. Held at a finite bound instead, they keep
    pulling on the questions they answer (an all-correct model at ability 12 still pushes a hard
    question's difficulty down), so the iterations never settle, and their information would
    enter the questions' standard errors.
    """
    from ._kernel import KernelData

    weight = np.ones(kd.nobs) if kd.weight is None else np.array(kd.weight, float)
    weight[drop[np.asarray(kd.model)]] = 0.0
    return KernelData(kd.model, kd.item, kd.y, n_models=kd.n_models, n_items=kd.n_items, family=kd.family,
                      trials=kd.trials, weight=weight, model_ptr=kd.model_ptr)


def _normalise(theta: np.ndarray, items: ItemState, irt: str, ref: Optional[np.ndarray] = None):
    """Rescale to mean(theta)=0 (and sd(theta)=1 for 2PL) over the models ``ref`` (default all;
    see :func:`scale_reference`); eta is unchanged."""
    base = theta if ref is None else theta[ref]
    m = base.mean()
    s = base.std() if irt == "2pl" else 1.0
    if not np.isfinite(s) or s <= 1e-12:
        s = 1.0
    theta_new = (theta - m) / s
    # an ability off the scale stands for +-inf, which no shift or rescaling moves
    theta = theta_new if ref is None else np.where(ref, theta_new, theta)
    d = items.d + items.a * m
    a = items.a * s
    return theta, ItemState(a, d, items.gamma)


def _safe_newton(g: np.ndarray, h: np.ndarray, max_step: float):
    """Newton steps for a batch of small blocks, robust to indefinite curvature.

    Parameters
    ----------
    g : ndarray, shape (K, p)
        Gradients of the objective (to be maximised).
    h : ndarray, shape (K, p, p)
        Hessian blocks.

    Returns
    -------
    step : ndarray, shape (K, p)
        ``(-h)^-1 g`` with the eigenvalues of ``-h`` floored at a small positive value, each
        block's step scaled so that its largest entry is at most ``max_step``.
    scaled : ndarray, shape (K,)
        Step length in standard-error units, ``sqrt(step' (-h) step)``.
    """
    neg = -h
    neg = 0.5 * (neg + np.swapaxes(neg, 1, 2))
    vals, vecs = np.linalg.eigh(neg)
    top = np.maximum(vals[:, -1:], 1e-300)
    floor = np.maximum(top * 1e-10, 1e-12)
    vals_c = np.maximum(vals, floor)
    proj = np.einsum("kij,ki->kj", vecs, g)
    step = np.einsum("kij,kj->ki", vecs, proj / vals_c)
    scaled = np.sqrt(np.maximum(np.einsum("kj,kj->k", proj**2, 1.0 / vals_c), 0.0))
    big = np.abs(step).max(axis=1)
    shrink = np.where(big > max_step, max_step / np.maximum(big, 1e-300), 1.0)
    return step * shrink[:, None], scaled


class _Objective:
    """Evaluates the penalised log-likelihood and its block derivatives through the kernel."""

    def __init__(self, kd, precision: PrecisionModel, irt: str, information: str, n_threads,
                 a_prior: Optional[DiscriminationPrior] = None):
        self.kd = kd
        self.precision = precision
        self.a_prior = a_prior or DiscriminationPrior()
        self.irt = irt
        self.information = information
        self.n_threads = n_threads
        self.n_passes = 0
        # questions whose step never vanishes (:func:`runaway_questions`) do not stop convergence
        runaway = runaway_questions(kd)
        self.judged_items = None if not runaway.any() or runaway.all() else ~runaway

    def accumulate(self, theta, items: ItemState, *, model_blocks: bool, item_blocks: bool):
        self.n_passes += 1
        log_phi = self.precision.log_phi(items.gamma)
        acc = _kernel.accumulate(
            self.kd,
            theta[:, None],
            items.a[:, None],
            items.d,
            log_phi,
            model_blocks=model_blocks,
            item_blocks=item_blocks,
            information=self.information,
            n_threads=self.n_threads,
        )
        prior_value, _, _ = self.precision.prior_terms(items.gamma)
        return acc, acc.loglik + prior_value + self.a_prior.value(items.a)

    def item_step(self, acc, items: ItemState, max_step: float):
        """Newton step for every question block (and the global precision parameters)."""
        return newton_item_update(acc.grad_item, acc.hess_item, items, self.precision, self.irt, max_step,
                                  self.a_prior, judged=self.judged_items)


def within_bounds(a: np.ndarray, d: np.ndarray, gamma: np.ndarray, per_item_precision: bool):
    """Question parameters clipped to the bounds the Newton steps keep them in (``a``: any shape,
    ``d`` (N,), ``gamma`` the free precision parameters, log phi per question when
    ``per_item_precision``); used for points the EM loop extrapolates to."""
    return (np.clip(a, -A_BOUND, A_BOUND), np.clip(d, -D_BOUND, D_BOUND),
            np.clip(gamma, *LOG_PHI_BOUNDS) if per_item_precision else gamma)


def penalised_item_system(grad_item: np.ndarray, hess_item: np.ndarray, items: "ItemState",
                          precision: PrecisionModel, irt: str,
                          a_prior: Optional[DiscriminationPrior] = None) -> tuple:
    """Gradient (N, k) and Hessian (N, k, k) of the questions' free parameters with the priors added.

    The free columns (:func:`irsl_stats.inference.item_column_index`) of the kernel's item
    gradient and Hessian, plus the precision prior's terms in ``log phi_j`` and, for a 2PL with
    an active discrimination prior, its terms in ``a_j``, at ``items``: the system of a Newton
    step of :func:`newton_item_update` and of the MML M-step's projected step.

    Parameters
    ----------
    grad_item : ndarray, shape (N, 3)
    hess_item : ndarray, shape (N, 3, 3)
    items : ItemState
    precision : PrecisionModel
    irt : {"1pl", "2pl"}
    a_prior : DiscriminationPrior, optional

    Returns
    -------
    (ndarray, ndarray)
    """
    from .inference import item_column_index

    cols = item_column_index(irt, precision)
    g = grad_item[:, cols].copy()
    h = hess_item[:, cols][:, :, cols].copy()
    if precision.per_item:
        _, gp, hp = precision.prior_terms(items.gamma)
        if gp is not None:
            g[:, -1] += gp
            h[:, -1, -1] += hp
    if irt == "2pl" and a_prior is not None and a_prior.active:
        g_prior, h_prior = a_prior.terms_a(items.a)
        g[:, 0] += g_prior
        h[:, 0, 0] += h_prior
    return g, h


def _item_matrix(items: ItemState, irt: str, per_item_s: bool) -> np.ndarray:
    """The free per-question parameters as columns ``(a [2PL], d, log phi [per question])``."""
    parts = ([items.a] if irt == "2pl" else []) + [items.d] + ([items.gamma] if per_item_s else [])
    return np.column_stack([np.asarray(p_, float) for p_ in parts])


def _from_item_matrix(mat: np.ndarray, template: ItemState, irt: str, per_item_s: bool) -> ItemState:
    """Inverse of :func:`_item_matrix`; what the matrix does not hold (1PL ``a``, global
    precision parameters) is taken from ``template``."""
    k = 1 if irt == "2pl" else 0
    return ItemState(mat[:, 0].copy() if irt == "2pl" else template.a, mat[:, k].copy(),
                     mat[:, k + 1].copy() if per_item_s else template.gamma)


def _item_bounds(irt: str, per_item_s: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the columns of :func:`_item_matrix` (those the Newton steps clip to)."""
    lo = ([-A_BOUND] if irt == "2pl" else []) + [-D_BOUND] + ([LOG_PHI_BOUNDS[0]] if per_item_s else [])
    hi = ([A_BOUND] if irt == "2pl" else []) + [D_BOUND] + ([LOG_PHI_BOUNDS[1]] if per_item_s else [])
    return np.array(lo), np.array(hi)


def _at_a_bound(items: ItemState, irt: str, per_item_s: bool) -> bool:
    """Whether any question parameter of ``items`` lies on a bound of :func:`_item_bounds`."""
    lo, hi = _item_bounds(irt, per_item_s)
    x = _item_matrix(items, irt, per_item_s)
    return bool(((x <= lo) | (x >= hi)).any())


def _project_at_bounds(old: ItemState, new: ItemState, g: np.ndarray, h: np.ndarray, irt: str,
                       per_item_s: bool, max_step: float) -> Tuple[ItemState, np.ndarray]:
    """Re-solve the Newton step of the questions whose step stopped at a bound, with those
    coordinates held at the bound (a projected Newton step).

    Clipping each coordinate on its own leaves a question whose discrimination runs into
    ``A_BOUND`` with the difficulty and precision steps that were solved for the larger
    discrimination. On the Pythia MATH counts such a question lowered the MML M-step's objective
    by 2.4 every other EM step and the EM cycled; on the Pythia GSM8K counts the JML question
    block was halved to a step of 2e-7 on every iteration and the fit stopped unconverged after
    500. Here the free coordinates are re-solved given the clipped ones: the maximiser of the
    same quadratic model (``g``, ``h``: the penalised system of :func:`penalised_item_system`,
    shapes (N, k) and (N, k, k)) on the face of the box.

    Returns the projected parameters and, per question, the length of its step in
    standard-error units on that face (NaN for the questions not projected): a question held
    at a bound whose likelihood still rises beyond it (a separating question at ``A_BOUND``)
    has converged once the free coordinates stop moving, which is what the fits' stopping
    rules must judge.
    """
    lo, hi = _item_bounds(irt, per_item_s)
    x_old = _item_matrix(old, irt, per_item_s)
    x_new = _item_matrix(new, irt, per_item_s)
    active = (x_new <= lo) | (x_new >= hi)
    rows = active.any(axis=1) & ~active.all(axis=1)
    scaled_face = np.full(len(x_new), np.nan)
    if not rows.any():
        return new, scaled_face
    x_out = x_new.copy()
    patterns = {tuple(r_) for r_ in active[rows]}
    for pattern in sorted(patterns):  # sorted: the same order of work for any input order
        act = np.array(pattern)
        free = ~act
        sel = rows & np.all(active == act, axis=1)
        step_act = (x_new - x_old)[sel][:, act]
        # gradient of the quadratic model at the clipped coordinates: g_F + H_FA s_A
        g_free = g[sel][:, free] + np.einsum("kij,kj->ki", h[sel][:, free][:, :, act], step_act)
        step, scaled_face[sel] = _safe_newton(g_free, h[sel][:, free][:, :, free], max_step)
        x_out[np.ix_(sel, free)] = np.clip(x_old[sel][:, free] + step, lo[free], hi[free])
    return _from_item_matrix(x_out, new, irt, per_item_s), scaled_face


def newton_item_update(grad_item: np.ndarray, hess_item: np.ndarray, items: ItemState,
                       precision: PrecisionModel, irt: str, max_step: float,
                       a_prior: Optional[DiscriminationPrior] = None, *,
                       judged: Optional[np.ndarray] = None):
    """One Newton step of every question block, plus one of the global precision parameters.

    Parameters
    ----------
    grad_item : ndarray, shape (N, 3)
        Gradient in kernel column order (a, d, log_phi) — of the log-likelihood (JML) or of the
        expected complete-data log-likelihood (the MML M-step).
    hess_item : ndarray, shape (N, 3, 3)
    a_prior : DiscriminationPrior, optional
        Log-normal prior: its gradient and curvature in ``a_j`` are added; a step never more than
        halves a discrimination (they stay positive).
    judged : ndarray of bool, shape (N,), optional
        The questions whose steps the returned largest step covers (default all).

    Returns
    -------
    (ItemState, float)
        The updated, bounded question parameters and the largest block step in standard-error
        units. A question whose step reaches a bound takes a projected step: its coordinates at
        the bound are held there and the others re-solved (:func:`_project_at_bounds`).
    """
    per_item_s = precision.per_item
    # the prior's gradient and curvature in a: the step stays in a with the plain step limit
    # (steps in log a, tried first, made the multidimensional EM oscillate on counts with
    # thousands of samples per question, where the complete-data curvature in a is often of the
    # wrong sign and the floored Newton step then runs to its limit)
    g, h = penalised_item_system(grad_item, hess_item, items, precision, irt, a_prior)
    with_prior = irt == "2pl" and a_prior is not None and a_prior.active
    step, scaled = _safe_newton(g, h, max_step)
    new = items.copy()
    k = 0
    if irt == "2pl":
        new.a = items.a + step[:, 0]
        if with_prior:
            new.a = a_prior.keep_positive(new.a, items.a)
        k = 1
    new.d = items.d + step[:, k]
    if per_item_s:
        new.gamma = np.clip(items.gamma + step[:, k + 1], *LOG_PHI_BOUNDS)
    new.a = np.clip(new.a, -A_BOUND, A_BOUND)  # keep_positive already holds a prior's a_j > 0
    new.d = np.clip(new.d, -D_BOUND, D_BOUND)
    # a question cut at a bound gets its other coordinates re-solved with that one held there,
    # and its step is judged on that face
    new, scaled_face = _project_at_bounds(items, new, g, h, irt, per_item_s, max_step)
    scaled = np.where(np.isnan(scaled_face), scaled, scaled_face)
    if irt == "2pl":
        # a question held at the discrimination bound separates the models (its likelihood has
        # no finite maximum; the fit warns): the 2PL renormalisation of the abilities carries its
        # a_j a little past the bound on every iteration and the step brings it back, so its
        # step never vanishes (0.013 SE per iteration on the Pythia GSM8K counts) and it does not
        # stop convergence
        held = np.abs(new.a) >= A_BOUND
        judged = ~held if judged is None else judged & ~held
    if judged is not None:
        scaled = scaled[judged]
    scaled_max = float(scaled.max()) if scaled.size else 0.0
    if precision.kind == "linear":
        z = precision.z
        gz = z.T @ grad_item[:, 2]
        hz = (z * hess_item[:, 2, 2][:, None]).T @ z
        st, sc = _safe_newton(gz[None, :], hz[None, :, :], max_step)
        new.gamma = items.gamma + st[0]
        scaled_max = max(scaled_max, float(sc[0]))
    return new, scaled_max


def _choose_relaxation(step_sizes: List[float]) -> float:
    """Over-relaxation factor from the contraction of the last step sizes (1 until it settles).

    Block Gauss–Seidel on two blocks contracts by ``rho`` per iteration; Young's optimum
    ``omega = 2 / (1 + sqrt(1 - rho))`` is used at 90% of its excess over 1, estimated once from
    three consecutive contractions that agree within 10%.
    """
    if len(step_sizes) < 4:
        return 1.0
    r1 = step_sizes[-1] / step_sizes[-2]
    r2 = step_sizes[-2] / step_sizes[-3]
    # both ratios must be contractions: rho = max(r1, r2) >= 1 (a step that grew) has no
    # optimum and gave omega = NaN (sqrt of a negative number), which spread to every parameter
    if 0.05 < r1 < 0.97 and 0.05 < r2 < 0.97 and abs(r1 - r2) < 0.1 * max(r1, r2):
        rho = max(r1, r2)
        omega_opt = 2.0 / (1.0 + np.sqrt(1.0 - rho))
        return 1.0 + 0.9 * (omega_opt - 1.0)
    return 1.0


def _interpolate_items(old: ItemState, new: ItemState, t: float) -> ItemState:
    return ItemState(
        old.a + t * (new.a - old.a), old.d + t * (new.d - old.d), old.gamma + t * (new.gamma - old.gamma)
    )


def fit_jml(
    kd,
    precision: PrecisionModel,
    irt: str = "2pl",
    *,
    start=None,
    options: Optional[JMLOptions] = None,
    a_prior: Optional[DiscriminationPrior] = None,
) -> JMLFit:
    """Maximise the joint (penalised) log-likelihood over abilities and question parameters.

    Parameters
    ----------
    kd : irsl_stats._kernel.KernelData
        Observations (M models, N questions).
    precision : PrecisionModel
    irt : {"1pl", "2pl"}
    start : (theta (M,), ItemState) or None
    options : JMLOptions
    a_prior : DiscriminationPrior, optional
        Log-normal prior on the 2PL discriminations (penalised joint ML).

    Returns
    -------
    JMLFit
        ``theta`` (M,) with mean 0 (and SD 1 for 2PL) over the models with a finite ability
        (:func:`scale_reference`), question parameters, objective and
        log-likelihood (all-extreme models at ``+-inf``, where their responses have probability
        1), iteration counts, kernel passes, convergence flag, per-iteration history, warnings
        and the data the fit maximised (``kernel_data``).
    """
    opt = options or JMLOptions()
    info = opt.information
    if kd.family == "beta_binomial" and info == "expected":
        info = "observed"  # expected information of the beta-binomial is not available
    if kd.family in ("bernoulli", "binomial"):
        info = "observed"  # canonical link: observed = expected
    t0 = time.perf_counter()
    theta, items = start if start is not None else initial_values(kd, precision, irt)
    theta = np.array(theta, float)
    finite = scale_reference(kd)
    ref = finite if opt.extreme_off_scale else np.ones(kd.n_models, bool)
    # models off the scale stand at +-inf: their abilities are held at the bound, on the side
    # their responses pull to, and their rows leave the likelihood (:func:`_without_models`)
    pinned = ~ref
    if pinned.any():
        theta[pinned] = extreme_direction(kd)[pinned] * THETA_BOUND
        kd = _without_models(kd, pinned)
    obj = _Objective(kd, precision, irt, info, opt.n_threads, a_prior)
    theta, items = _normalise(theta, items, irt, ref)

    history: List[dict] = []
    converged = False
    ref_value = -np.inf
    # pending proposal: (block, base theta, base items, raw target theta, raw target items, t)
    pending = None
    scaled_theta = scaled_items = np.inf
    value = -np.inf
    it = 0
    halvings = 0
    block = "model"
    omega = float(opt.relaxation) if opt.relaxation != "auto" else 1.0
    step_sizes: List[float] = []  # largest question step per iteration, while omega == 1
    while it < opt.max_iter:
        acc, value = obj.accumulate(
            theta, items, model_blocks=(block == "model"), item_blocks=(block == "item")
        )
        if not np.isfinite(value):
            raise FloatingPointError(
                "the log-likelihood became non-finite during the JML iterations; "
                "try family='beta' with boundary='squeeze', or method='mml'"
            )
        slack = 1e-12 * max(1.0, abs(ref_value)) if np.isfinite(ref_value) else np.inf
        if pending is not None and value < ref_value - slack and halvings < opt.max_halvings:
            # step control: halve the last step and evaluate again (this pass's block is redone)
            base_theta, base_items, raw_theta, raw_items, t = pending
            t *= 0.5
            halvings += 1
            theta = base_theta + t * (raw_theta - base_theta)
            items = _interpolate_items(base_items, raw_items, t)
            theta, items = _normalise(theta, items, irt, ref)
            pending = (base_theta, base_items, raw_theta, raw_items, t)
            if opt.relaxation == "auto":
                omega, step_sizes = 1.0, []
            continue
        step_t = pending[4] if pending is not None else 1.0
        change = value - ref_value if np.isfinite(ref_value) else np.inf
        ref_value = value
        halvings = 0
        if block == "model":
            g = acc.grad_theta[:, 0]
            h = acc.hess_theta[:, 0, 0]
            step, scaled = _safe_newton(g[:, None], h[:, None, None], opt.max_step)
            raw_theta = np.clip(theta + omega * step[:, 0], -THETA_BOUND, THETA_BOUND)
            # an all-extreme model's step never vanishes (its likelihood rises all the way to
            # +-inf): convergence is judged on the others
            scaled_theta = float(scaled[finite].max())
            raw_items = items
        else:
            newton_items, scaled_items = obj.item_step(acc, items, opt.max_step)
            if _at_a_bound(newton_items, irt, precision.per_item):
                # a step cut at a bound can lower its question's likelihood by more than all the
                # other questions gain, and the step control below then halves every question's
                # step, on every iteration (Pythia GSM8K counts: 500 iterations without
                # convergence): shorten the steps of the questions whose likelihood falls, alone
                from .mml import _safeguarded_item_update

                newton_items, _, n_safeguard = _safeguarded_item_update(
                    kd, items, newton_items, acc.loglik, theta[:, None], np.ones((kd.n_models, 1)),
                    precision, irt, obj.a_prior, opt.n_threads)
                # its grid and per-question passes go over all the data, as the block passes do
                obj.n_passes += n_safeguard
            raw_items = _interpolate_items(items, newton_items, omega)
            if obj.a_prior.active:  # over-relaxation must not carry a log-normal a_j below 0
                raw_items.a = np.maximum(raw_items.a, A_FLOOR)
            raw_theta = theta
            if opt.relaxation == "auto" and omega == 1.0:
                step_sizes.append(scaled_items)
                omega = _choose_relaxation(step_sizes)
        history.append(
            dict(iter=it, block=block, objective=value, scaled_step=scaled_theta if block == "model" else scaled_items, t=step_t)
        )
        if block == "item":
            it += 1
            if opt.verbose:
                print(
                    f"JML iter {it:4d}  objective {value: .10e}  change {change: .3e}  "
                    f"step(theta) {scaled_theta:.2e}  step(items) {scaled_items:.2e}  "
                    f"passes {obj.n_passes}  omega {omega:.2f}",
                    flush=True,
                )
            rel = abs(change) / max(1.0, abs(value))
            if max(scaled_theta, scaled_items) < opt.tol and rel < opt.tol * 1e-4:
                converged = True
                break
        pending = (theta, items, raw_theta, raw_items, 1.0)
        theta, items = _normalise(raw_theta, raw_items, irt, ref)
        block = "item" if block == "model" else "model"

    warnings_: List[str] = []
    if not converged:
        n_extreme = int((~finite & ~pinned).sum())  # held at +-inf, they do not stop convergence
        n_held = int((np.abs(items.a) >= A_BOUND).sum()) if irt == "2pl" else 0
        if n_extreme:
            advice = (f"{n_extreme} model(s) answer every question at the same extreme (all right or all "
                      "wrong): their abilities have no finite estimate and hold the iterations at the "
                      "bound; drop them or use method='mml'")
        elif n_held:
            # the likelihood rises without end along the separating questions' discriminations:
            # more iterations only crawl further (Pythia GSM8K counts: not converged after 3,000)
            advice = (f"{n_held} question(s) are held at the discrimination bound |a| = {A_BOUND:g}: "
                      "they separate the models, the likelihood has no finite maximum and the "
                      "iterations may crawl along it for thousands of steps; use "
                      "discrimination_prior=1.0 (or irt='1pl', or method='mml'), or increase max_iter")
        else:
            advice = "increase max_iter or tol"
        warnings_.append(
            f"JML did not converge in {opt.max_iter} iterations (largest step in SE units: "
            f"abilities {scaled_theta:.2e}, questions {scaled_items:.2e}); {advice}"
        )
    loglik = _kernel.loglik(kd, theta[:, None], items.a[:, None], items.d, precision.log_phi(items.gamma), n_threads=opt.n_threads)
    obj.n_passes += 1
    seconds = time.perf_counter() - t0
    if opt.verbose:
        # what follows the iterations (the standard errors: a dense joint covariance can take
        # longer than all of them) prints nothing of its own
        print(f"JML done: {it} iteration(s), {'converged' if converged else 'not converged'}, "
              f"{obj.n_passes} kernel passes, {seconds:.2f} s; computing the standard errors", flush=True)
    return JMLFit(
        theta=theta,
        items=items,
        log_phi=precision.log_phi(items.gamma),
        objective=value,
        loglik=loglik,
        n_iter=it,
        n_passes=obj.n_passes,
        converged=converged,
        seconds=seconds,
        history=history,
        warnings=warnings_,
        scale_models=ref,
        kernel_data=kd,
    )
