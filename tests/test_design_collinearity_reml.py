"""Near-collinear designs are named errors; the REML sigma is a root of its score; sigma's boundary."""

import numpy as np
import pandas as pd
import pytest

from irsl_stats.formula import parse_latent_formula
from irsl_stats.latent_regression import _profile, fit_latent_regression


def _chinchilla(m=60):
    rng = np.random.default_rng(0)
    params = np.round(10 ** rng.uniform(7, 9.5, m) + 0.37)
    tokens = np.round(20.3 * params)  # flops = 6 N D: log(flops) = 2 log(params) + const + rounding
    labels = pd.Index([f"m{i}" for i in range(m)])
    return pd.DataFrame({"model": labels, "params": params, "flops": 6 * params * tokens}), labels


def test_chinchilla_design_is_an_error_naming_the_columns():
    models, labels = _chinchilla()
    with pytest.raises(ValueError, match=r"'log\(params\)', 'log\(flops\)' are nearly collinear.*"
                                         r"log\(flops\) = 2 \* log\(params\) \+ const.*drop one"):
        parse_latent_formula("ability ~ log(params) + log(flops)", None, models, "model", labels)


def test_constant_covariate_is_named():
    models, labels = _chinchilla()
    models["x"] = 1.0
    with pytest.raises(ValueError, match=r"'x' is constant over the models \(x=1\), so collinear with "
                                         r"'Intercept'"):
        parse_latent_formula("ability ~ log(params) + x", None, models, "model", labels)


def test_latent_regression_names_columns_instead_of_linalgerror():
    rng = np.random.default_rng(1)
    lc = rng.normal(50, 2, 40)
    x = np.column_stack([np.ones(40), lc, lc + rng.normal(0, 1e-7, 40)])
    t = 0.3 * lc + rng.normal(size=40)
    with pytest.raises(np.linalg.LinAlgError, match=r"'lc', 'near' are nearly collinear"):
        fit_latent_regression(x, t, np.full(40, 1e-4), names=["Intercept", "lc", "near"])


def test_sigma_is_the_score_root_and_permutation_invariant():
    reml = True
    rng = np.random.default_rng(0)
    m = 150
    x = np.column_stack([np.ones(m), rng.normal(size=m), rng.integers(0, 2, m)])
    t = x @ [0.1, 0.5, -0.3] + 0.6 * rng.normal(size=m)
    v = rng.uniform(0.01, 0.05, m)
    base = fit_latent_regression(x, t, v, reml)
    # the score (analytic) vanishes at the reported sigma, and matches the objective's slope elsewhere
    u = np.log(base.sigma**2)
    assert abs(_profile(x, t, v, u, reml)[1]) < 1e-9
    worst = 0.0
    for s in range(20):
        p = np.random.default_rng(s).permutation(m)
        worst = max(worst, abs(fit_latent_regression(x[p], t[p], v[p], reml).sigma - base.sigma))
    assert worst < 1e-13  # before: 9e-9 (Brent's search on function values)


def test_sigma_negligible_against_measurement_error_is_at_the_boundary():
    rng = np.random.default_rng(3)
    m = 40
    x = np.column_stack([np.ones(m), rng.normal(size=m)])
    v = np.full(m, 0.04)
    # abilities exactly on the law up to a spread far below their measurement error: a score root
    # exists only at a negligible sigma^2
    e = rng.normal(size=m)
    e -= x @ np.linalg.lstsq(x, e, rcond=None)[0]
    t = x @ [0.2, 0.7] + e * np.sqrt(0.04 * (m - 2) / np.sum(e**2)) * (1 + 1e-9)
    fit = fit_latent_regression(x, t, v)
    assert fit.sigma_at_zero


def test_latent_regression_on_a_collinear_subset_names_the_design_columns():
    # the models kept by the regression (finite abilities) can leave a design collinear that is
    # not collinear over all models: the error names the formula's columns, not "column 0"
    from irsl_stats.estimate import _latent_regression
    from irsl_stats.latent_regression import SingularDesignError

    rng = np.random.default_rng(0)
    m = 12
    lc = rng.normal(size=m)
    z = np.where(np.arange(m) < 10, 2.0 * lc, rng.normal(size=m))  # collinear on the first 10 only
    x = np.column_stack([np.ones(m), lc, z])
    theta = x @ np.array([0.1, 0.5, 0.2]) + rng.normal(scale=0.3, size=m)
    var = np.where(np.arange(m) < 10, 0.01, np.inf)  # the last two models have no finite ability
    with pytest.raises(SingularDesignError, match=r"'log\(compute\)'.*'z'|'z'.*'log\(compute\)'"):
        _latent_regression(x, theta, var, None, np.ones(m, bool), True, 1,
                           names=["Intercept", "log(compute)", "z"])
