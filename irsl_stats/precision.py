"""How the per-question log-precision ``log phi_j`` is parametrised.

The kernel always takes a per-question vector ``log_phi`` of length N. The estimators work with
the free precision parameters ``gamma`` instead, and this module maps between the two:

============  ==========================================  ===================================
kind          log phi_j                                   free parameters
============  ==========================================  ===================================
``none``      unused (bernoulli, binomial)                none
``fixed``     ``log(value)`` for every question           none
``item``      ``gamma_j``, one per question               N (in the question blocks)
``linear``    ``z_j' gamma`` (``"common"`` is ``z_j = 1``)  R (a global block)
============  ==========================================  ===================================

A weak normal prior on the per-question ``gamma_j`` (``prior_scale``) shrinks them toward their
mean. With few responses per question a Beta model can reproduce one response exactly and its
precision runs to infinity; the prior keeps the optimum finite (see :func:`irsl_stats.fit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .formula import column_scales, scaled_lstsq
from .priors import centred_normal_terms

__all__ = ["PrecisionModel"]


@dataclass
class PrecisionModel:
    """Parametrisation of ``log phi`` over the N questions.

    Attributes
    ----------
    kind : {"none", "fixed", "item", "linear"}
    n_items : int
    z : ndarray, shape (N, R) or None
        Design for ``kind="linear"``.
    names : list of str
        Labels of the free parameters when they are global (``linear``).
    fixed_value : float or None
        ``phi`` for ``kind="fixed"``.
    prior_scale : float or None
        Standard deviation of the normal prior of ``gamma_j`` around their mean (``item`` only).
    z_scale : ndarray, shape (R,) or None
        ``linear`` built by :meth:`linear`: ``z`` is the question design divided column-wise by
        these scales, so the estimator's ``gamma`` is in scaled units; :meth:`reported` maps it
        (and its covariance) back to the units of the covariates.
    """

    kind: str
    n_items: int
    z: Optional[np.ndarray] = None
    names: List[str] = field(default_factory=list)
    fixed_value: Optional[float] = None
    prior_scale: Optional[float] = None
    z_scale: Optional[np.ndarray] = None

    @classmethod
    def linear(cls, n_items: int, z: np.ndarray, names: List[str]) -> "PrecisionModel":
        """``log phi = z gamma`` over a question design ``z`` (N, R) in the covariates' own units.

        The estimator works on ``z`` divided by :func:`~irsl_stats.formula.column_scales`: its
        Newton steps, eigenvalue floors and pseudo-inverses are relative to the largest entry, so
        a covariate in raw units (~1e15) next to the intercept gave a wrong intercept and a
        standard error of 1e-32 without a word.
        """
        scale = column_scales(z)
        return cls("linear", n_items, z=np.ascontiguousarray(z / scale), names=list(names), z_scale=scale)

    def reported(self, gamma: np.ndarray, cov: np.ndarray):
        """``(gamma, cov)`` of the global precision parameters in the covariates' units."""
        if self.z_scale is None:
            return gamma, cov
        return gamma / self.z_scale, cov / np.outer(self.z_scale, self.z_scale)

    @property
    def n_global(self) -> int:
        """Number of free precision parameters that are global (not per question)."""
        return self.z.shape[1] if self.kind == "linear" else 0

    @property
    def per_item(self) -> bool:
        return self.kind == "item"

    @property
    def estimated(self) -> bool:
        return self.kind in ("item", "linear")

    def initial(self, log_phi0: np.ndarray) -> np.ndarray:
        """Free parameters that reproduce a per-question starting value ``log_phi0`` (N,)."""
        if self.kind == "item":
            return np.asarray(log_phi0, float).copy()
        if self.kind == "linear":
            return scaled_lstsq(self.z, log_phi0)  # raw-unit question covariates keep the intercept
        return np.zeros(0)

    def log_phi(self, gamma: np.ndarray) -> np.ndarray:
        """Per-question log precision, shape (N,)."""
        if self.kind == "item":
            return np.asarray(gamma, float)
        if self.kind == "linear":
            return self.z @ gamma
        if self.kind == "fixed":
            return np.full(self.n_items, np.log(self.fixed_value))
        return np.zeros(self.n_items)

    def prior_terms(self, gamma: np.ndarray):
        """Log-prior value, gradient (N,) and Hessian diagonal (N,) of the shrinkage prior.

        The prior is ``-(gamma_j - mean(gamma))^2 / (2 tau^2)``; the mean is profiled, so the
        gradient is ``-(gamma_j - mean)/tau^2`` and (ignoring the O(1/N) coupling through the
        mean) the Hessian diagonal is ``-1/tau^2``.
        """
        if self.kind != "item" or not self.prior_scale:
            return 0.0, None, None
        return centred_normal_terms(np.asarray(gamma, float), self.prior_scale)

    def describe(self) -> str:
        if self.kind == "none":
            return "none (family without precision)"
        if self.kind == "fixed":
            return f"fixed at phi = {self.fixed_value:g}"
        if self.kind == "item":
            prior = (
                f", normal shrinkage prior on log phi_j (sd {self.prior_scale:g})"
                if self.prior_scale
                else ""
            )
            return f"one per question{prior}"
        if self.n_global == 1 and self.names == ["log_phi"]:
            return "common to all questions"
        return "log phi_j = z_j' gamma over question covariates"
