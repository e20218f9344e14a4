"""Shrinkage priors on question parameters (penalised ML).

Two priors share one form — a normal prior on a per-question quantity centred on the mean over
questions (the mean is profiled, so nothing but the spread is assumed):

* the precision prior on ``log phi_j`` (:class:`irsl_stats.precision.PrecisionModel`), and
* the discrimination prior on ``log a_j`` (:class:`DiscriminationPrior`, 2PL only), or on
  ``log ||a_j||`` for exploratory multidimensional loadings (below).

Why a prior on the discriminations: with few models per question a 2PL discrimination is barely
determined and runs to its bound when a question separates the calibration models perfectly
(solved by the large ones, never by the small ones). Leave-one-model-out forecasts of pass@k
curves on the Pythia x MATH counts show the cost: unpenalised 2PL forecasts the weakest model's
curve with a mean absolute error of 0.18; a log-normal prior with SD 1 brings it to 0.04 and the
mean over the seven models from 0.051 to 0.028 (``benchmarks/test_time_forecast.py``). The prior
is the BILOG-MG convention (Mislevy 1986, "Bayes modal estimation in item response models"):
log-normal, which keeps every ``a_j > 0``.

Limits: the prior is centred on the mean of ``log a_j``, so it bounds the spread of the
discriminations, not their common level; data so sparse that every question separates the
models (e.g. a model that solves nothing, the rest almost nothing) can still drive all of them
to the bound together. A question whose counts split the models perfectly with many trials per
cell (0 of n versus n of n) needs a tighter prior (SD ~0.25) than the default of the studies; the
fit warns when a discrimination sits at the bound.

Exploratory loadings (``dims >= 2``, every question loading on every dimension) have no sign and
no privileged axes: the likelihood is unchanged by any orthogonal rotation of the loadings, and
the fit picks one at the end (varimax). A prior on each coordinate would depend on that arbitrary
choice, so the prior is put on the length of each question's loading vector instead,
``log ||a_j|| ~ N(mean of log ||a||, s^2)`` (:meth:`DiscriminationPrior.value_norms`). The norm
is invariant to orthogonal rotations — the penalised optimum is a whole rotation orbit, like the
likelihood's, and varimax does not change the penalty — and it is the discrimination along the
question's own direction, so the prior shrinks the same quantity as in one dimension (with
D = 1 and ``a_j > 0`` it is that prior). A zero vector has no direction: the derivative formulas
floor the norm at ``A_FLOOR``, which makes the prior's pull fade out continuously at the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

__all__ = ["DiscriminationPrior", "centred_normal_terms"]


def centred_normal_terms(values: np.ndarray, scale: float,
                         groups: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray, np.ndarray]:
    """Log-density (up to a constant), gradient and Hessian diagonal of a centred normal prior.

    The prior is ``-sum_j (v_j - mean(v))^2 / (2 scale^2)``. The gradient ``-(v_j - mean)/scale^2``
    is exact (the centred values sum to zero); the Hessian diagonal ``-1/scale^2`` ignores the
    O(1/N) coupling through the mean.

    Parameters
    ----------
    values : ndarray, shape (N,)
    scale : float
        Prior standard deviation, > 0.
    groups : ndarray of int, shape (N,), optional
        Centre within groups (codes ``0..G-1``), e.g. the benchmark of each question when each
        benchmark has its own ability dimension and scale.

    Returns
    -------
    value : float
    gradient : ndarray, shape (N,)
    hessian_diagonal : ndarray, shape (N,)
    """
    tau2 = float(scale) ** 2
    if groups is None:
        centred = values - values.mean()
    else:
        sums = np.bincount(groups, weights=values)
        counts = np.bincount(groups)
        centred = values - (sums / np.maximum(counts, 1))[groups]
    return (-0.5 * float(centred @ centred) / tau2, -centred / tau2,
            np.full(values.shape, -1.0 / tau2))


#: Smallest discrimination under the log-normal prior (a start or a step never goes below it).
A_FLOOR = 1e-3


@dataclass(frozen=True)
class DiscriminationPrior:
    """Log-normal shrinkage prior on the 2PL discriminations: ``log a_j ~ N(mean, scale^2)``.

    The mean is the mean of ``log a_j`` over questions (profiled), so the prior is invariant to
    the scale of the abilities (a common factor on every ``a_j``) and only limits their spread:
    ``scale = 1`` lets discriminations differ by a factor ``e^2 ~ 7`` at two SDs.

    Attributes
    ----------
    scale : float or None
        Prior SD of ``log a_j``; ``None`` means no prior (plain ML, negative ``a_j`` allowed).
    """

    scale: Optional[float] = None

    @classmethod
    def build(cls, value, irt: str) -> "DiscriminationPrior":
        """Validate the ``discrimination_prior=`` argument of :func:`irsl_stats.fit`.

        Parameters
        ----------
        value : float or None
        irt : {"1pl", "2pl"}

        Returns
        -------
        DiscriminationPrior

        Raises
        ------
        ValueError
            If ``value`` is not a positive finite number or None, or is given for a 1PL fit.
        """
        if value is None:
            return cls(None)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"discrimination_prior must be a positive number or None; got {value!r}")
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"discrimination_prior must be a positive number or None; got {value!r}")
        if irt != "2pl":
            raise ValueError("discrimination_prior applies to irt='2pl' (1PL has no discriminations)")
        return cls(float(value))

    @property
    def active(self) -> bool:
        return self.scale is not None

    def value(self, a: np.ndarray, groups: Optional[np.ndarray] = None) -> float:
        """Log-prior of the discriminations ``a`` (N,) (0 without a prior); ``groups`` as in
        :func:`centred_normal_terms`."""
        if not self.active:
            return 0.0
        return centred_normal_terms(np.log(np.maximum(a, A_FLOOR)), self.scale, groups)[0]

    def log_terms(self, a: np.ndarray, groups: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian diagonal with respect to ``log a_j``, each shape (N,)."""
        _, g, h = centred_normal_terms(np.log(np.maximum(a, A_FLOOR)), self.scale, groups)
        return g, h

    def terms_a(self, a: np.ndarray, groups: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Gradient and second derivative of the log-prior with respect to ``a_j``, each (N,).

        The gradient is ``-(log a - m) / (s^2 a)``; the second derivative
        ``d^2/da^2 [-(log a - m)^2 / (2 s^2)] = -(1 - (log a - m)) / (s^2 a^2)`` is floored at
        ``-0.1/(s^2 a^2)`` so that a discrimination far above the others (where the exact term
        changes sign) does not make the information indefinite. Used by the Newton steps (which
        stay in ``a``) and the standard errors.
        """
        a = np.maximum(a, A_FLOOR)
        _, g, _ = centred_normal_terms(np.log(a), self.scale, groups)  # g = -(log a - m) / s^2
        s2a2 = self.scale**2 * a**2
        return g / a, np.minimum(-(1.0 + g * self.scale**2) / s2a2, -0.1 / s2a2)

    def hessian_a(self, a: np.ndarray, groups: Optional[np.ndarray] = None) -> np.ndarray:
        """Second derivative of the log-prior with respect to ``a_j`` (N,), for standard errors
        (see :meth:`terms_a`)."""
        return self.terms_a(a, groups)[1]

    @staticmethod
    def keep_positive(new_a: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Limit a step from ``a`` to ``new_a`` so that it never more than halves a discrimination
        (log-normal discriminations stay positive)."""
        return np.maximum(new_a, np.maximum(0.5 * np.maximum(a, A_FLOOR), A_FLOOR))

    # ------------------------------------------------ exploratory loadings: the norm of a_j
    def value_norms(self, A: np.ndarray) -> float:
        """Log-prior of exploratory loadings: ``log ||a_j|| ~ N(mean of log ||a||, scale^2)``.

        Parameters
        ----------
        A : ndarray, shape (N, D)
            Loading vectors, one row per question.

        Returns
        -------
        float
            0 without a prior; unchanged by ``A @ R`` for any orthogonal ``R`` (D x D).
        """
        return self.value(np.linalg.norm(A, axis=1))

    def terms_vectors(self, A: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Gradient and negative semi-definite Hessian of :meth:`value_norms` in each ``a_j``.

        With ``r = ||a_j||``, ``u = a_j / r`` and ``c = -(log r - m) / s^2`` the exact derivatives
        are ``c a_j / r^2`` and ``-(u u')/(s^2 r^2) + c (I - 2 u u')/r^2``. The Hessian returned
        keeps the radial curvature ``-(1 + c s^2)/(s^2 r^2)`` floored as in :meth:`terms_a` and
        the curvature across the direction ``c / r^2`` only where it is negative (a loading
        vector shorter than the others, ``c > 0``, has a convex prior across its direction,
        which would make a Newton step's information indefinite). The O(1/N) coupling through
        the mean is ignored, as in :func:`centred_normal_terms`. ``r`` is floored at
        :data:`A_FLOOR`, so below it ``u`` is shorter than 1 and both terms go to 0 with
        ``a_j``: a zero vector has no direction to pull along. Used by the Newton steps (which
        stay in ``a``) and the standard errors.

        Parameters
        ----------
        A : ndarray, shape (N, D)

        Returns
        -------
        gradient : ndarray, shape (N, D)
        hessian : ndarray, shape (N, D, D)
        """
        r = np.maximum(np.linalg.norm(A, axis=1), A_FLOOR)
        g_r, h_r = self.terms_a(r)  # along the radius: c / r and the floored radial curvature
        u = A / r[:, None]
        across = np.minimum(g_r * r, 0.0) / r**2
        uu = u[:, :, None] * u[:, None, :]
        eye = np.eye(A.shape[1])
        return g_r[:, None] * u, across[:, None, None] * (eye - uu) + h_r[:, None, None] * uu

    @staticmethod
    def keep_norm(new_A: np.ndarray, A: np.ndarray) -> np.ndarray:
        """Limit steps from ``A`` to ``new_A`` (each (N, D)) so that none more than halves the
        norm of a loading vector (the analogue of :meth:`keep_positive`; the norm stays at least
        :data:`A_FLOOR`).

        A vector shorter than the limit is scaled up along its own direction; a step to exactly
        zero, which has none, keeps the old direction.

        Parameters
        ----------
        new_A : ndarray, shape (N, D)
            Loading vectors after the step.
        A : ndarray, shape (N, D)
            Loading vectors before it.

        Returns
        -------
        ndarray, shape (N, D)
        """
        old = np.linalg.norm(A, axis=1)
        new = np.linalg.norm(new_A, axis=1)
        least = np.maximum(0.5 * old, A_FLOOR)
        short = new < least
        out = new_A.copy()
        direction = np.where((new > 0)[:, None], new_A, A)[short]
        length = np.linalg.norm(direction, axis=1)
        out[short] = direction * (least[short] / np.where(length > 0, length, 1.0))[:, None]
        return out

    def bound_advice(self, one_pl: bool = True) -> str:
        """What the warning about discriminations (loadings) at the bound tells the user to do:
        turn the prior on, or tighten it when it is on (``one_pl``: also offer ``irt='1pl'``)."""
        other = " or irt='1pl'" if one_pl else ""
        if self.active:
            return (f"the discrimination prior (SD {self.scale:g}) is too weak to hold them: use a smaller "
                    f"SD (e.g. 0.25){other}")
        return f"use discrimination_prior=1.0 (log-normal prior on the discriminations){other}"

    def describe(self, within: str = "", norm: bool = False) -> str:
        """One line for the summary's notes.

        Parameters
        ----------
        within : str
            The group the mean is taken over (e.g. ``"the benchmark"``); empty for all questions.
        norm : bool
            Describe the prior on the norms of exploratory loading vectors (:meth:`value_norms`).

        Returns
        -------
        str
        """
        where = f" within {within}" if within else ""
        if norm:
            what = (f"log ||a_j|| ~ N(mean of log ||a||{where}, {self.scale:g}^2) on the length of "
                    "each question's loading vector (log-normal, rotation-invariant, penalised ML")
        else:
            what = (f"log a_j ~ N(mean of log a{where}, {self.scale:g}^2) (log-normal, penalised ML; "
                    "every a_j > 0")
        return (what + "; the log-likelihood, AIC and BIC are those of the data without the "
                "prior, at the penalised estimates)")
