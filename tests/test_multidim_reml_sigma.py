"""REML of the multidimensional fit's Sigma with the abilities' measurement error, and the
warning for a per-benchmark variance on its boundary 0.

The M-step divided by ``M - P`` whatever the abilities' measurement error, which inflated the
residual SDs (0.61 for a true 0.5 at 40 models x 10 bernoulli questions per benchmark) and pulled
the correlations towards 0; a variance that ran to 0 was not reported.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from test_multidim_audit import _per_benchmark_d1  # fit_multidim on one benchmark (D = 1)

import irsl_stats as irsl
from irsl_stats.estimate import sigma_at_zero_text
from irsl_stats.mml import _V_CAP, _reml_penalty, _reml_sigma2
from irsl_stats.results import IRSLWarning


def _objective(x, S, V, Sigma):
    """Expected complete-data log-likelihood of Sigma plus the REML penalty (up to constants)."""
    from irsl_stats.multidim import _reml_penalty_multi

    m = x.shape[0]
    return (-0.5 * m * np.linalg.slogdet(Sigma)[1] - 0.5 * np.trace(np.linalg.solve(Sigma, S))
            + _reml_penalty_multi(x, Sigma, V)[0])


def _problem(dims, m=40, p=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(m), rng.standard_normal((m, p - 1)) * [1.0, 1e3][: p - 1]])
    z = rng.standard_normal((dims, dims))
    S = (z @ z.T + np.eye(dims)) * 5.0
    q = rng.standard_normal((m, dims, dims))
    V = np.einsum("mij,mkj->mik", q, q) * rng.uniform(0.05, 1.0, m)[:, None, None]
    return x, S, V


# ------------------------------------------------------------------------ the REML M-step
def test_reml_sigma_in_one_dimension_is_the_unidimensional_root():
    """D = 1: the multivariate fixed point is the one-dimensional fit's REML sigma^2, and the
    penalty its penalty."""
    from irsl_stats.multidim import _reml_penalty_multi, _reml_sigma

    rng = np.random.default_rng(1)
    m = 40
    x = np.column_stack([np.ones(m), rng.standard_normal(m), rng.standard_normal(m)])
    v = rng.uniform(0.05, 2.0, m)
    for ss in (1.0, 5.0, 20.0):
        s2 = _reml_sigma2(x, ss, v)
        got = _reml_sigma(x, np.array([[ss]]), v[:, None, None])
        assert got[0, 0] == pytest.approx(s2, rel=1e-10)
        assert _reml_penalty_multi(x, np.array([[s2]]), v[:, None, None])[0] == pytest.approx(
            _reml_penalty(x, s2, v)[0], rel=1e-12)


def test_reml_sigma_without_measurement_error_is_the_divisor_m_minus_p():
    """Every V_i = 0: Sigma G Sigma = P Sigma, the fixed point is S / (M - P), the old M-step."""
    from irsl_stats.multidim import _reml_sigma

    x, S, V = _problem(3)
    np.testing.assert_allclose(_reml_sigma(x, S, 0.0 * V), S / (x.shape[0] - x.shape[1]), rtol=1e-10)


def test_reml_sigma_is_the_stationary_point_and_its_iteration_climbs():
    """D = 3 with measurement error: the gradient of the REML objective is 0 at the returned Sigma
    (every element, by central differences), which lies between S / M and S / (M - P) on the
    diagonal, and the MM iteration never lowers the objective."""
    from irsl_stats.multidim import _reml_penalty_multi, _reml_sigma

    x, S, V = _problem(3)
    m, p = x.shape
    Sigma = _reml_sigma(x, S, V)
    assert np.all(np.diag(S) / m < np.diag(Sigma)) and np.all(np.diag(Sigma) < np.diag(S) / (m - p))
    eps = 1e-6
    for i, j in [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]:
        e = np.zeros((3, 3))
        e[i, j] = e[j, i] = eps
        grad = (_objective(x, S, V, Sigma + e) - _objective(x, S, V, Sigma - e)) / (2 * eps)
        assert abs(grad) < 1e-5
    cur = S / (m - p)
    prev = _objective(x, S, V, cur)
    for _ in range(30):
        cur = (S + cur @ _reml_penalty_multi(x, cur, V)[1] @ cur) / m
        now = _objective(x, S, V, cur)
        assert now >= prev - 1e-10
        prev = now


def test_measurement_covariances_are_guarded_and_capped():
    """V_i = info_i^-1 where the information is positive definite; an information of 0 (a model
    without responses) or an indefinite one gives V_i <= _V_CAP Sigma, positive definite; a
    non-finite one gives NaN, which makes the penalty -inf."""
    from irsl_stats.multidim import _measurement_covariances, _reml_penalty_multi

    Sigma = np.array([[0.3, 0.1], [0.1, 0.2]])
    good = np.array([[4.0, 1.0], [1.0, 3.0]])
    info = np.stack([good, np.zeros((2, 2)), np.array([[2.0, 0.0], [0.0, -5.0]]),
                     np.full((2, 2), np.nan)])
    V = _measurement_covariances(info, Sigma)
    np.testing.assert_allclose(V[0], np.linalg.inv(good), rtol=1e-12)
    np.testing.assert_allclose(V[1], _V_CAP * Sigma, rtol=1e-10)
    for k in (1, 2):
        assert np.linalg.eigvalsh(V[k]).min() > 0
        assert np.linalg.eigvalsh(_V_CAP * Sigma - V[k]).min() > -1e-6 * _V_CAP
    assert np.all(np.isnan(V[3]))
    x = np.ones((4, 1))
    assert _reml_penalty_multi(x, Sigma, V)[0] == -np.inf


# ------------------------------------------------------------------------ the fits
def _benchmark_a(seed=4):
    sim = irsl.simulate.correlated_benchmarks(n_models=50, questions=[12, 12], corr=[[1, .7], [.7, 1]],
                                              benchmarks=["A", "B"], family="binomial", n_trials=8, seed=seed)
    data = sim.responses[sim.responses["benchmark"] == "A"].copy()
    for c in ("model", "question", "benchmark"):
        if isinstance(data[c].dtype, pd.CategoricalDtype):
            data[c] = data[c].cat.remove_unused_categories()
    models = pd.DataFrame({"model": data["model"].cat.categories, "c": np.linspace(0.0, 1.0, 50)})
    return data, models



@pytest.mark.parametrize("irt", ["1pl", "2pl"])
def test_per_benchmark_d1_reml_agrees_with_unidimensional_reml(irt):
    """D = 1 per-benchmark REML is the unidimensional REML fit, which counts the abilities'
    measurement error in its penalty: same sigma, log-likelihood and intercept/slope (the
    divisor M - P gave a larger sigma), and the same standard errors of the latent regression."""
    data, models = _benchmark_a()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        uni = irsl.fit("ability ~ c", data=data, models=models, successes="successes", trials="trials",
                       family="binomial", method="mml", irt=irt, n_threads=1, tol=1e-9)
    est = _per_benchmark_d1(data, models, "ability ~ c", irt)
    assert est.converged
    sigma = float(uni.params["sigma"])
    assert np.sqrt(est.Sigma[0, 0]) == pytest.approx(sigma, rel=2e-4)
    assert est.llf == pytest.approx(uni.llf, abs=1e-3)
    np.testing.assert_allclose(est.B[:, 0], uni.params[["Intercept", "c"]].to_numpy(), atol=1e-4)
    se = np.sqrt(np.diag(est.latent_cov))
    np.testing.assert_allclose(se[:2], uni.bse[["Intercept", "c"]].to_numpy(), rtol=5e-3)
    if irt == "1pl":
        # the information includes the penalty's curvature, as the one-dimensional fit's does
        assert se[2] == pytest.approx(uni.bse["sigma"] / sigma, rel=2e-2)


def _two_benchmarks(seed, q_per=10, cov=((0.25, 0.1), (0.1, 0.25)), n_models=40):
    """40 models, ``q_per`` bernoulli 1PL questions per benchmark, abilities ~ x with slopes 0.5
    and residual covariance ``cov`` (the auditor's simulator)."""
    rng = np.random.default_rng(seed)
    cov = np.asarray(cov, float)
    x = rng.standard_normal(n_models)
    theta = 0.5 * x[:, None] + rng.multivariate_normal(np.zeros(2), cov, size=n_models)
    bench = np.repeat([0, 1], q_per)
    d = rng.normal(0, 1, 2 * q_per)
    eta = theta[:, bench] + d[None, :]
    y = (rng.random(eta.shape) < 1 / (1 + np.exp(-eta))).astype(float)
    mi, qi = np.meshgrid(np.arange(n_models), np.arange(2 * q_per), indexing="ij")
    df = pd.DataFrame({"model": [f"m{i:03d}" for i in mi.ravel()], "question": [f"q{j:03d}" for j in qi.ravel()],
                       "benchmark": [f"b{bench[j]}" for j in qi.ravel()], "y": y.ravel()})
    return df, pd.DataFrame({"model": [f"m{i:03d}" for i in range(n_models)], "x": x})


def test_per_benchmark_reml_sd_matches_unidimensional_reml_on_noisy_abilities():
    """Independent benchmarks measured by 10 bernoulli questions each: each benchmark's residual
    SD from the two-dimensional REML fit is (up to the estimated correlation's small effect) that
    of the one-dimensional REML fit of the benchmark alone (0.689 and 0.434 against 0.690 and
    0.433); the divisor M - P made them 6% and 25% larger (0.733, 0.541)."""
    df, models = _two_benchmarks(11, cov=((0.25, 0.0), (0.0, 0.25)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        res = irsl.fit("ability ~ x", df, models, benchmark="benchmark", family="bernoulli", irt="1pl",
                       ability="per_benchmark", n_threads=1)
        for b in ("b0", "b1"):
            one = irsl.fit("ability ~ x", df[df.benchmark == b], models, family="bernoulli", irt="1pl",
                           n_threads=1)
            assert np.sqrt(res.Sigma.loc[b, b]) == pytest.approx(float(one.params["sigma"]), rel=0.02)
    assert res.converged


# ------------------------------------------------------------------------ boundary warning
def test_boundary_warning_for_a_variance_at_zero():
    """A per-benchmark variance negligible against the abilities' measurement error gets the
    one-dimensional fit's "estimated at 0 (boundary)" text, naming the benchmark; a regular one
    does not."""
    from irsl_stats.multidim import _boundary_warning

    Sigma = np.array([[7e-4, 2e-3], [2e-3, 0.32]])
    V = np.broadcast_to(np.diag([0.5, 0.5]), (40, 2, 2)).copy()
    out = _boundary_warning(Sigma, ["b0", "b1"], V)
    assert len(out) == 1
    assert out[0].startswith(sigma_at_zero_text("")) and "b0 (sd = 0.026" in out[0] and "b1" not in out[0]
    assert _boundary_warning(np.array([[0.25, 0.1], [0.1, 0.25]]), ["b0", "b1"], V) == []


def test_per_benchmark_fit_warns_when_a_variance_runs_to_zero():
    """The auditor's case (reml=False): Sigma b0 ran to 0.00074 with the Wald interval of its
    log sd (-35, 28) and no warning, while the one-dimensional fit of b0 warned."""
    df, models = _two_benchmarks(1001)
    with pytest.warns(IRSLWarning) as got:
        res = irsl.fit("ability ~ x", df, models, benchmark="benchmark", family="bernoulli", irt="1pl",
                       ability="per_benchmark", reml=False, n_threads=1)
    texts = [str(w.message) for w in got]
    b0 = [t for t in texts if t.startswith(sigma_at_zero_text("")) and "b0 (sd = " in t]
    assert b0, texts
    assert res.Sigma.loc["b0", "b0"] < 0.01
