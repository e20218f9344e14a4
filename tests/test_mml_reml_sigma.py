"""The MML REML sigma with abilities measured with noise.

The M-step used to divide sigma^2 by M - P, i.e. EM maximised llf + P log sigma: the REML penalty
only when the abilities are measured without error. With measurement variances v_i the penalty
of the integrated regression is -1/2 log det(X'WX), W = diag(1 / (sigma^2 + v_i)). At 40 models x
20 bernoulli questions (true sigma 0.5) the old estimator averaged 0.607 (+21%, CI coverage 0.88).
"""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl

FORMULA = "ability ~ log(compute) + family"


def _fit(sim, formula=FORMULA, models=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(formula, data=sim.responses, models=sim.models if models is None else models,
                        family="bernoulli", irt="1pl", n_threads=1, **kw)


def test_penalty_value_derivatives_and_scale():
    from irsl_stats.mml import _reml_penalty

    rng = np.random.default_rng(1)
    m, p = 40, 5
    # a covariate in raw units (FLOPs) must not spoil the determinant
    x = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1)) * [1.0, 1e22, 3.0, 1.0]])
    v = rng.uniform(0.01, 2.0, m)
    s2 = 0.3
    value, d1, d2 = _reml_penalty(x, s2, v)
    w = 1.0 / (s2 + v)
    assert value == pytest.approx(-0.5 * np.linalg.slogdet((x.T * w) @ x)[1], rel=1e-9)
    h = 1e-5
    up, d1_up, _ = _reml_penalty(x, s2 + h, v)
    down, d1_down, _ = _reml_penalty(x, s2 - h, v)
    assert d1 == pytest.approx((up - down) / (2 * h), rel=1e-6)
    assert d2 == pytest.approx((d1_up - d1_down) / (2 * h), rel=1e-6)
    # error-free abilities: P/2 log s2 + const, the old P log sigma
    d1_0 = _reml_penalty(x, s2, np.zeros(m))[1]
    assert d1_0 == pytest.approx(p / (2 * s2), rel=1e-12)
    # rescaling the abilities by c shifts the penalty by P log c (as P log sigma did), so the
    # renormalisation of the 2PL scale does not move its maximiser
    c = 1.7
    assert _reml_penalty(x, c * c * s2, c * c * v)[0] - value == pytest.approx(p * np.log(c), rel=1e-10)


def test_m_step_root():
    from irsl_stats.mml import _reml_penalty, _reml_sigma2

    rng = np.random.default_rng(2)
    m, p = 40, 5
    x = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1))])
    ss = 10.0
    # error-free abilities: the divisor M - P exactly
    assert _reml_sigma2(x, ss, np.zeros(m)) == ss / (m - p)
    v = rng.uniform(0.01, 2.0, m)
    s2 = _reml_sigma2(x, ss, v)
    assert ss / m < s2 < ss / (m - p)
    # the stationary point of -M/2 log s2 - ss/(2 s2) + penalty, and its maximum
    assert -m / (2 * s2) + ss / (2 * s2**2) + _reml_penalty(x, s2, v)[1] == pytest.approx(0.0, abs=1e-10)

    def objective(t):
        return -m / 2 * np.log(t) - ss / (2 * t) + _reml_penalty(x, t, v)[0]

    assert objective(s2) > max(objective(0.99 * s2), objective(1.01 * s2))
    # models measured very poorly carry (almost) no degree of freedom: with all v huge the
    # root approaches ss / M
    assert _reml_sigma2(x, ss, np.full(m, 1e8)) == pytest.approx(ss / m, rel=1e-5)


def test_reml_sigma_unbiased_with_noisy_abilities():
    # 30 replicates of 40 models x 20 questions: paired with the REML sigma of the true
    # abilities (oracle), the old estimator was +0.078 high (mean sigma 0.597), now -0.014
    diff = []
    for r in range(30):
        sim = irsl.simulate.irt(n_models=40, n_questions=20, family="bernoulli", irt="1pl", seed=13000 + r)
        res = _fit(sim)
        assert res.converged, r
        theta = sim.models["theta"].to_numpy()
        x = res.design.matrix
        e = theta - x @ np.linalg.lstsq(x, theta, rcond=None)[0]
        diff.append(res.params["sigma"] - np.sqrt(e @ e / (len(e) - x.shape[1])))
    assert -0.04 < np.mean(diff) < 0.04


@pytest.fixture(scope="module")
def many_covariates():
    # as tests/test_reml_information.py: 40 models x 300 questions, 27 coefficients
    rng = np.random.default_rng(0)
    sim = irsl.simulate.irt(n_models=40, n_questions=300, benchmarks=2, family="bernoulli",
                            family_effects=(0.0,), beta=(0.0, 0.3), sigma=0.5, seed=3)
    models = sim.models.copy()
    for k in range(25):
        models[f"z{k}"] = rng.normal(size=40)
    return sim, models, "ability ~ log(compute)" + "".join(f" + z{k}" for k in range(25))


def test_reml_sigma_and_se_agree_with_jml_reml(many_covariates):
    # with 13 residual degrees of freedom the measurement variances (0.2 sigma^2) matter: the
    # divisor M - P gave 0.390 (JML's REML, which carries each ability's error: 0.313)
    sim, models, formula = many_covariates
    mml = _fit(sim, formula, models)
    jml = _fit(sim, formula, models, method="jml")
    assert mml.params["sigma"] == pytest.approx(jml.params["sigma"], rel=0.03)
    # the information of sigma is that of llf + the penalty: relative SE as JML's (old: 8.6% off)
    assert mml.bse["sigma"] / mml.params["sigma"] == pytest.approx(
        jml.bse["sigma"] / jml.params["sigma"], rel=0.03)
    # and as REML theory with the measurement variances, var(sigma^2) = 2 / tr(PP)
    s = mml.params["sigma"]
    p_var = mml.abilities["se"].to_numpy() ** 2
    v = 1.0 / (1.0 / p_var - 1.0 / s**2)
    x = mml.design.matrix
    w = 1.0 / (s**2 + v)
    proj = np.diag(w) - (w[:, None] * x) @ np.linalg.solve((x.T * w) @ x, (x * w[:, None]).T)
    theory = 1.0 / (s * np.sqrt(2.0 * np.sum(proj * proj)))
    assert mml.bse["sigma"] == pytest.approx(theory, rel=0.01)


def test_reml_sigma_near_boundary_converges():
    # ML puts sigma near 0 (0.015) on this data set; the REML objective is flat there (SE 0.28):
    # the old penalty P log sigma held sigma at 0.367, and measurement variances re-taken at every
    # E-step made the objective fall at every step (500 EM steps without converging)
    sim = irsl.simulate.irt(n_models=40, n_questions=20, family="bernoulli", irt="1pl", seed=13017)
    res = _fit(sim)
    assert res.converged and not res.warnings
    assert 0.05 < res.params["sigma"] < 0.25
    assert np.isfinite(res.bse["sigma"])
