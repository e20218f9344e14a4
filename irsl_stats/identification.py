"""Identification of the ability scale.

In ``eta_ij = a_j theta_i + d_j`` a shift of every ``theta`` is absorbed by the ``d_j`` and (2PL)
a common scale by the ``a_j``; the latent regression ``theta_i = x_i' beta + sigma u_i`` inherits
both. Estimators work on an internal scale and :func:`to_convention` maps the estimates to the
user's convention by the affine map ``theta* = (theta - loc) / scale``, which leaves every
``eta_ij`` — and hence everything on the response scale — unchanged:

``"population"`` (default)
    Over the calibration models, the fitted latent distribution has mean 0 and (2PL) variance 1:
    ``mean_i(x_i' beta) = 0`` and ``var_i(x_i' beta) + sigma^2 = 1``. Coefficients are in standard
    deviations of ability of the calibration population per unit of the covariate.
``"regression"``
    The intercept of the latent regression is 0 and (2PL) ``sigma = 1``: coefficients are in units of
    the residual spread of ability around the scaling law.

For 1PL the scale is fixed by ``a_j = 1`` and only the location convention applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formula import scaled_lstsq

__all__ = ["CONVENTIONS", "Identification", "describe"]

CONVENTIONS = ("population", "regression")


@dataclass(frozen=True)
class Identification:
    """The chosen convention plus what it needs: the design ``x`` (M, P) of the calibration models
    and ``c`` (P,) with ``x @ c = 1`` (how a shift of ability is expressed in ``beta``)."""

    convention: str
    irt: str
    x: np.ndarray
    c: np.ndarray
    intercept_index: int

    @classmethod
    def build(cls, convention: str, irt: str, x: np.ndarray, column_names) -> "Identification":
        if convention not in CONVENTIONS:
            raise ValueError(f"identification must be one of {CONVENTIONS}; got {convention!r}")
        c = scaled_lstsq(x, np.ones(x.shape[0]))
        if not np.allclose(x @ c, 1.0, atol=1e-8):
            raise ValueError(
                "the latent-regression design does not contain a constant (an intercept or a full "
                "set of factor levels); the location of the ability scale needs one — remove "
                "'0 +' / '- 1' from the formula"
            )
        c[np.abs(c) < 1e-12] = 0.0
        idx = list(column_names).index("Intercept") if "Intercept" in column_names else -1
        if convention == "regression" and idx < 0:
            raise ValueError("identification='regression' needs an 'Intercept' column in the formula")
        return cls(convention, irt, np.asarray(x, float), c, idx)

    def loc_scale(self, beta: np.ndarray, sigma: float):
        """Location and scale of the affine map to this convention."""
        if self.convention == "population":
            fitted = self.x @ beta
            loc = float(fitted.mean())
            scale = float(np.sqrt(fitted.var() + sigma**2)) if self.irt == "2pl" else 1.0
        else:
            loc = float(beta[self.intercept_index])
            scale = float(sigma) if self.irt == "2pl" else 1.0
        return loc, scale

    def transform(self, beta: np.ndarray, sigma: float):
        """(beta*, sigma*, loc, scale) under the convention."""
        beta = np.asarray(beta, float)
        loc, scale = self.loc_scale(beta, sigma)
        beta_star = (beta - loc * self.c) / scale
        sigma_star = sigma / scale
        # the constants of the convention exactly: loc is a mean over the models, which differs
        # from the intercept it removes by rounding (ability ~ 1 reported -1.5e-39 as its fixed
        # intercept, and predicted a mean of 7e-40)
        fixed = self.fixed_values(beta.size)
        pinned = ~np.isnan(fixed)
        beta_star[pinned[:-1]] = fixed[:-1][pinned[:-1]]
        if pinned[-1]:
            sigma_star = float(fixed[-1])
        return beta_star, sigma_star, loc, scale

    def free_mask(self, n_beta: int):
        """Which of (beta, sigma) stay free parameters under the convention (P+1,)."""
        return np.isnan(self.fixed_values(n_beta))

    def fixed_values(self, n_beta: int) -> np.ndarray:
        """Values of (beta, sigma) that the convention fixes, shape (P+1,); NaN where free.

        Regression: the intercept 0 and, for 2PL, sigma 1. Population: ``mean_i(x_i' beta*) = 0``
        pins a coefficient by itself when its column is constant and every other column has mean
        0 (``ability ~ 1``, or an intercept with centred covariates): that coefficient is 0; and
        ``var_i(x_i' beta*) + sigma*^2 = 1`` pins sigma at 1 (2PL) when every column is constant.
        """
        values = np.full(n_beta + 1, np.nan)
        if self.convention == "regression":
            values[self.intercept_index] = 0.0
            if self.irt == "2pl":
                values[-1] = 1.0
            return values
        x = self.x
        if x.shape[1] != n_beta or x.shape[0] == 0:
            return values
        constant = np.ptp(x, axis=0) == 0
        mean = x.mean(axis=0)
        # a centred covariate's mean is rounding, ~1e-16 of its magnitude, not 0: relative to the
        # column, far below the 1e-8 at which IRSLResults.fixed_params calls a coefficient fixed
        negligible = np.abs(mean) <= 1e-12 * np.abs(x).max(axis=0)
        pinned = constant & ~negligible
        if pinned.sum() == 1 and negligible[~pinned].all():
            values[np.flatnonzero(pinned)[0]] = 0.0
        if self.irt == "2pl" and constant.all():
            values[-1] = 1.0
        return values

    @property
    def n_determined(self) -> int:
        """How many reported (beta, sigma) directions the convention determines: the location and,
        for 2PL, the scale (population: as functions of the other parameters; regression: the
        intercept and sigma, reported at their fixed values with zero variance)."""
        return 2 if self.irt == "2pl" else 1

    def loc_scale_gradient(self, beta: np.ndarray, sigma: float) -> np.ndarray:
        """Gradient of :meth:`loc_scale` in ``(beta, sigma)``, shape (2, P+1): rows loc, scale.

        Population: ``loc = mean_i(x_i' beta)``, ``scale^2 = var_i(x_i' beta) + sigma^2``;
        regression: ``loc`` the intercept, ``scale = sigma``; the scale's row is 0 under 1PL,
        whose scale ``a_j = 1`` fixes.
        """
        beta = np.asarray(beta, float)
        p = beta.size
        grad = np.zeros((2, p + 1))
        if self.convention == "population":
            grad[0, :p] = self.x.mean(axis=0)
            if self.irt == "2pl":
                # scale^2 = var(x beta) + sigma^2 (population variance over the models)
                fitted = self.x @ beta
                scale = float(np.sqrt(fitted.var() + sigma**2))
                grad[1, :p] = (fitted - fitted.mean()) @ self.x / len(fitted) / scale
                grad[1, p] = sigma / scale
        else:
            grad[0, self.intercept_index] = 1.0
            if self.irt == "2pl":
                grad[1, p] = 1.0
        return grad

    def jacobian(self, beta: np.ndarray, sigma: float) -> np.ndarray:
        """d(beta*, sigma*)/d(beta, sigma), shape (P+1, P+1), in closed form.

        With ``loc`` and ``scale`` from :meth:`loc_scale`, ``beta* = (beta - loc c) / scale`` and
        ``sigma* = sigma / scale``; ``L`` and ``S`` are the gradients of ``loc`` and ``scale``
        with respect to ``(beta, sigma)``. (Central differences with a step of ``1e-6 max(1,
        |b|)`` were far too coarse for the coefficient of a covariate in large units, ~1e-6 per
        unit: standard errors came out 22% off without a word.)
        """
        beta = np.asarray(beta, float)
        p = beta.size
        beta_star, sigma_star, _, scale = self.transform(beta, sigma)
        grad_loc, grad_scale = self.loc_scale_gradient(beta, sigma)
        jac = np.zeros((p + 1, p + 1))
        jac[:p, :p] = np.eye(p)
        jac[:p] -= np.outer(self.c, grad_loc)
        jac[p, p] = 1.0
        jac /= scale
        jac -= np.outer(np.r_[beta_star, sigma_star], grad_scale) / scale
        return jac


def describe(convention: str, irt: str) -> str:
    """One sentence for the summary."""
    if convention == "population":
        if irt == "2pl":
            return ("ability scale: mean 0 and variance 1 of the fitted latent distribution over the "
                    "calibration models (mean of x'beta = 0, var(x'beta) + sigma^2 = 1)")
        return ("ability location: mean of x'beta = 0 over the calibration models; scale fixed by "
                "a_j = 1 (1PL)")
    if irt == "2pl":
        return "ability scale: latent-regression intercept = 0 and sigma = 1 (both fixed)"
    return "ability location: latent-regression intercept = 0 (fixed); scale fixed by a_j = 1 (1PL)"
