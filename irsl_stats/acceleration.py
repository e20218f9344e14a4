"""The EM loop shared by the marginal-ML fits, with SQUAREM acceleration.

EM converges linearly, and slowly when the abilities are sharply determined (thousands of
samples per question: the E-step then hardly moves the posterior and the fraction of missing
information is close to 1). SQUAREM (Varadhan & Roland 2008, "Simple and globally convergent
methods for accelerating the convergence of any EM algorithm", Scand. J. Stat. 35) extrapolates
along the last two EM steps, ``x' = x0 - 2 alpha r + alpha^2 v`` with ``r = x1 - x0``,
``v = x2 - 2 x1 + x0`` and step length ``alpha = -|r| / |v|`` (their scheme S3), then applies one
EM map to ``x'``. ``alpha = -1`` gives back the plain EM iterate ``x2``, so a step that fails is
simply retried closer to ``-1``; an extrapolation whose objective falls below that of ``x1`` is
rejected for the plain iterate ``x2``, so the recorded objective never falls while plain EM's
does not.

Near the optimum it does: the adaptive quadrature is re-placed at every E-step, and the
objective it evaluates has a noise floor (changes of ~1e-6 on a log-likelihood of 2e4). From the
first plain EM step that lowers the objective on, an extrapolation is judged by the EM step out
of it, which must be shorter than the last plain one, with the objective only required to stay
within ten times the largest fall seen; after six rejections there the loop finishes as plain
EM. (Judged by the objective alone, extrapolations at the noise floor were accepted and then
undone by EM, over and over: 367 EM steps where plain EM needed 62.)

An EM whose M-step increases the expected complete-data log-likelihood cannot lower the
objective near the optimum beyond that noise (far from it, re-placing the quadrature can: falls
of 1e3-3e5 in the first 80 steps of the Pythia MATH fit), so falls well above it
(:data:`_FALL_REL`) on a share of the last EM steps mean the EM is not climbing (it cycles; on the Pythia MATH counts, before the M-step was
safeguarded, questions at a parameter bound made it fall on 181 of 494 steps): such a run returns
the best state it evaluated, never a worse later iterate, and says so (:attr:`EMRun.climbing`)
instead of asking for more iterations.

The caller supplies the EM map (one E-step at the state, one M-step) and a packing of the state
into an unconstrained vector; the loop owns convergence, history and progress output, so the
one- and multidimensional fits stop by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import numpy as np

__all__ = ["EMStep", "EMRun", "run_em"]


@dataclass
class EMStep:
    """One application of an EM map.

    Attributes
    ----------
    objective : float
        Penalised marginal log-likelihood at the input state (what EM increases).
    loglik : float
        Marginal log-likelihood at the input state (without the priors).
    state : object
        The EM update of the input state.
    scaled_step : float
        Largest change of a question parameter from the input state to ``state``, in
        standard-error units.
    message : str
        Extra text for the progress line (e.g. the current sigma).
    """

    objective: float
    loglik: float
    state: Any
    scaled_step: float
    message: str = ""


@dataclass
class EMRun:
    """Outcome of :func:`run_em`.

    Attributes
    ----------
    state : object
        The final state: the one at which convergence was declared; without convergence the
        last EM iterate, or the best state evaluated (highest objective) when the EM was not
        climbing or its last evaluated objective fell below that best.
    converged : bool
    n_maps : int
        EM maps evaluated (each one E-step and one M-step), including rejected extrapolations.
    last_change : float
        Last change of the objective between an EM iterate and its predecessor.
    history : list of dict
        Per accepted map: ``iter``, ``objective``, ``loglik``, ``scaled_step`` (of the step that
        produced the state), ``extrapolated`` (the state came from a SQUAREM extrapolation).
    n_rejected : int
        Extrapolations rejected because the objective fell.
    n_falls : int
        Of the last ``n_judged`` EM steps, those that lowered the objective by more than
        :data:`_FALL_REL` of it (an EM that climbs has none: its falls are the quadrature's noise).
    n_judged : int
        EM steps over which ``n_falls`` is counted (the last :data:`_CLIMB_WINDOW`, or all).
    best_objective : float
        Highest objective evaluated; when the run did not converge and a later iterate fell
        below it, ``state`` is the state that reached it.
    """

    state: Any
    converged: bool
    n_maps: int
    last_change: float
    history: List[dict] = field(default_factory=list)
    n_rejected: int = 0
    n_falls: int = 0
    n_judged: int = 0
    best_objective: float = -np.inf

    @property
    def climbing(self) -> bool:
        """False when the objective keeps falling (cycling), where more iterations do not help."""
        return self.n_falls < max(_MIN_FALLS, _FALL_SHARE * self.n_judged)


#: Initial largest SQUAREM step length |alpha|, and its growth factor after a step at the limit
#: (the defaults of the SQUAREM R package).
_STEP_MAX0 = 1.0
_MSTEP = 4.0
#: At the objective's noise floor: how far (in units of the largest fall over a plain EM step)
#: an extrapolation may lower the objective, and how many rejections end the extrapolating.
_NOISE_FACTOR = 10.0
_MAX_REJECTED_IN_NOISE = 6
#: A run is "not climbing" when, of its last _CLIMB_WINDOW EM steps, at least _MIN_FALLS and
#: _FALL_SHARE of them lowered the objective by more than _FALL_REL of it: far above the noise
#: floor of the adaptive quadrature (~1e-10 relative) and the drift of an EM still settling
#: (~1e-9), far below the falls of an EM that cycles (2.4 on 6,600, 4e-4, on the Pythia MATH
#: counts before the M-step was safeguarded).
_CLIMB_WINDOW = 50
_MIN_FALLS = 3
_FALL_SHARE = 0.1
_FALL_REL = 1e-6


def run_em(
    em_map: Callable[[Any], EMStep],
    state: Any,
    pack: Callable[[Any], np.ndarray],
    unpack: Callable[[np.ndarray, Any], Optional[Any]],
    *,
    max_iter: int,
    change_tol: float,
    step_tol: float,
    accelerate: bool = True,
    verbose: bool = False,
    label: str = "EM",
) -> EMRun:
    """Iterate an EM map to convergence, with SQUAREM extrapolation.

    Convergence is declared at a state ``x`` that is the EM image of its predecessor ``x_prev``
    when ``|f(x) - f(x_prev)| < change_tol * max(1, |f(x)|)`` and the step ``x_prev -> x`` moved no
    question parameter by more than ``step_tol`` standard errors.

    Parameters
    ----------
    em_map : callable
        ``em_map(state) -> EMStep``.
    state : object
        Starting state.
    pack : callable
        ``pack(state) -> ndarray`` of shape (K,): the state's parameters, unconstrained where
        possible (e.g. log sigma), with a scale that makes Euclidean distance meaningful.
    unpack : callable
        ``unpack(vector, template) -> state`` or None when the vector is not a valid state (the
        step is then shortened); ``template`` is the latest EM iterate (for anything not packed,
        e.g. the quadrature's posterior modes).
    max_iter : int
        Largest number of EM maps.
    change_tol, step_tol : float
        Convergence thresholds (see above).
    accelerate : bool
        Use SQUAREM; ``False`` runs plain EM.
    verbose : bool
        Print one line per EM map.
    label : str
        Prefix of the progress lines.

    Returns
    -------
    EMRun
    """
    history: List[dict] = []
    n_maps = 0
    n_rejected = 0
    last_change = np.nan
    step_max = _STEP_MAX0
    noise = 0.0  # largest fall of the objective over a plain EM step (0: not at the noise floor)
    rejected_in_noise = 0

    def apply(x, predecessor: Optional[EMStep]):
        """Evaluate the map at ``x``; the change of the objective and the step into ``x`` are
        measured against ``predecessor`` (the map whose image ``x`` is), if any."""
        nonlocal n_maps, last_change
        n_maps += 1
        out = em_map(x)
        if predecessor is None:
            return out, np.nan, np.inf
        last_change = out.objective - predecessor.objective
        return out, last_change, predecessor.scaled_step

    best: List[Any] = [-np.inf, None]  # highest objective evaluated, and the state it was evaluated at
    falls: List[bool] = []  # per EM step (the map of an EM image): did the objective fall by > _FALL_REL

    def record(out: EMStep, x: Any, change: float, step_in: float, extrapolated: bool) -> bool:
        """Record the map ``out`` of the state ``x``; True when convergence is declared at ``x``."""
        history.append(dict(iter=len(history) + 1, objective=out.objective, loglik=out.loglik,
                            scaled_step=step_in, extrapolated=extrapolated))
        if out.objective > best[0]:
            best[0], best[1] = out.objective, x
        if np.isfinite(change) and not extrapolated:
            falls.append(bool(change < -_FALL_REL * max(1.0, abs(out.objective))))
        if verbose:
            print(f"{label} iter {len(history):4d}  objective {out.objective: .10e}  change {change: .3e}  "
                  f"step(items) {step_in:.2e}" + (" (extrapolated)" if extrapolated else "")
                  + (f"  {out.message}" if out.message else ""), flush=True)
        return bool(np.isfinite(change) and abs(change) < change_tol * max(1.0, abs(out.objective))
                    and step_in < step_tol)

    def finish(x_last: Any, converged: bool) -> EMRun:
        """The run's outcome: at convergence the converged state; otherwise the last iterate
        (the EM image of the last state evaluated), or the best state evaluated when the EM is
        not climbing or the last evaluated objective fell below the best (an EM that cycles must
        not hand back a worse later iterate)."""
        recent = falls[-_CLIMB_WINDOW:]
        out = EMRun(x_last, converged, n_maps, last_change, history, n_rejected,
                    n_falls=int(sum(recent)), n_judged=len(recent), best_objective=float(best[0]))
        if not converged and history and best[1] is not None:
            last = history[-1]["objective"]
            if (not out.climbing or not np.isfinite(last)
                    or best[0] > last + change_tol * max(1.0, abs(best[0]))):
                out.state = best[1]
        return out

    x0, pred = state, None
    while n_maps < max_iter:
        s0, change, step_in = apply(x0, pred)
        if record(s0, x0, change, step_in, False):
            return finish(x0, True)
        x1 = s0.state
        if n_maps >= max_iter:
            return finish(x1, False)
        s1, change, step_in = apply(x1, s0)
        if record(s1, x1, change, step_in, False):
            return finish(x1, True)
        x2 = s1.state
        # a plain EM step that lowered the objective means the iterates have reached the noise
        # floor of the objective (adaptive quadrature re-placed at every E-step; not judged on
        # the first step, which also moves the start onto the identified scale): from there an
        # extrapolation is judged by the EM step out of it, which must be shorter than the last
        # plain one, with the objective only required to stay within the noise
        if pred is not None and s1.objective < s0.objective:
            noise = max(noise, s0.objective - s1.objective)
        if not accelerate or n_maps >= max_iter:
            x0, pred = x2, s1
            continue
        p0, p1, p2 = pack(x0), pack(x1), pack(x2)
        r = p1 - p0
        v = p2 - p1 - r
        r_norm, v_norm = float(np.linalg.norm(r)), float(np.linalg.norm(v))
        alpha = -min(max(r_norm / v_norm, 1.0), step_max) if v_norm > 0 else -1.0
        at_limit = alpha <= -step_max
        if at_limit:
            # the steps are still long: allow longer ones next time (and a first extrapolation)
            step_max *= _MSTEP
        xp = None
        while alpha < -1.0:
            xp = unpack(p0 - 2.0 * alpha * r + alpha**2 * v, x2)
            if xp is not None:
                break
            alpha = 0.5 * (alpha - 1.0)
            if alpha > -1.0 - 1e-3:
                alpha = -1.0
        if alpha >= -1.0 or xp is None:
            # the plain EM iterate: its map is an ordinary EM step from x1
            x0, pred = x2, s1
            continue
        sp, _, _ = apply(xp, None)
        if noise > 0:
            worse = (sp.objective < s1.objective - _NOISE_FACTOR * noise
                     or not sp.scaled_step < s1.scaled_step)
        else:
            worse = sp.objective < s1.objective - 1e-12 * max(1.0, abs(s1.objective))
        if not np.isfinite(sp.objective) or worse:
            # back to the plain EM iterate (its E-step is the next map)
            n_rejected += 1
            step_max = max(_STEP_MAX0, step_max / (_MSTEP * _MSTEP if at_limit else _MSTEP))
            x0, pred = x2, s1
            if noise > 0:
                rejected_in_noise += 1
                # at the noise floor extrapolations keep failing: plain EM is cheaper
                accelerate = rejected_in_noise < _MAX_REJECTED_IN_NOISE
            continue
        record(sp, xp, sp.objective - s1.objective, np.inf, True)
        x0, pred = sp.state, sp
    return finish(x0, False)
