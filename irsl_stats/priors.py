"""Shrinkage priors on question parameters (penalised ML).

Two priors share one form — a normal prior on a per-question quantity centred on the mean over
questions (the mean is profiled, so nothing but the spread is assumed):

* the precision prior on ``log phi_j`` (:class:`irsl_stats.precision.PrecisionModel`), and
* the discrimination prior on ``log a_j`` (:class:`DiscriminationPrior`, 2PL only).

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

    def describe(self, within: str = "") -> str:
        """One line for the summary's notes (``within``: the group the mean is taken over)."""
        where = f" within {within}" if within else ""
        return (f"log a_j ~ N(mean of log a{where}, {self.scale:g}^2) (log-normal, penalised ML; "
                "every a_j > 0; the log-likelihood, AIC and BIC are those of the data without the "
                "prior, at the penalised estimates)")
