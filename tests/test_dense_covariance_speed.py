"""The JML joint covariance by its structure, checked against the dense route it replaces.

The joint information's ability block is diagonal: ``joint_covariance`` eliminates it (Schur
complement on the questions) instead of inverting the whole bordered matrix, the latent
regression uses the abilities' block as diagonal plus low rank (Woodbury, when the low-rank part
is narrow: R below about M / 4) instead of an (M, M) eigen-decomposition, and the identification's Jacobian is applied by scalings instead of dense
products. Each is compared with the dense computation on fits small enough for it: ordinary
beta data, global precision parameters, an all-extreme model (off the scale) and a 2PL question
answered by one model (a pinned null direction). Speed is measured by
``benchmarks/jml_dense.py``, not here.
"""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl
import irsl_stats.estimate as estimate_module
import irsl_stats.inference as inference
import irsl_stats.latent_regression as latent_regression
from irsl_stats.estimate import _map_covariance, _map_covariance_sparse
from irsl_stats.inference import ThetaLowRank
from irsl_stats.latent_regression import fit_latent_regression

FORMULA = "ability ~ log(compute)"


def _perfect_m00(frame, column, value):
    out = frame.copy()
    out.loc[out["model"].astype(str) == "m00", column] = value
    return out


def _case(name):
    """(responses, models, fit keywords) of the named case."""
    if name == "beta_item":
        sim = irsl.simulate.irt(n_models=40, n_questions=20, seed=3)
        return sim.responses, sim.models, dict(family="beta")
    if name == "beta_globals":
        sim = irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, precision="common", seed=5)
        return sim.responses, sim.models, dict(family="beta", precision="~ benchmark", benchmark="benchmark")
    if name == "binomial_extreme":
        sim = irsl.simulate.irt(n_models=15, n_questions=25, family="binomial", n_trials=20, seed=0)
        kw = dict(family="binomial", successes="successes", trials="trials", response=None, irt="2pl")
        return _perfect_m00(sim.responses, "successes", 20), sim.models, kw
    if name == "bernoulli_1pl_extreme":
        sim = irsl.simulate.irt(n_models=15, n_questions=25, family="bernoulli", seed=0)
        return _perfect_m00(sim.responses, "y", 1), sim.models, dict(family="bernoulli", irt="1pl")
    # a 2PL question answered by a single model: its (a, d) block has a null direction, pinned
    sim = irsl.simulate.irt(n_models=15, n_questions=25, family="beta_binomial", n_trials=10, seed=0)
    r = sim.responses
    keep = (r["question"].astype(str) != "q01") | (r["model"].astype(str) == "m00")
    kw = dict(family="beta_binomial", successes="successes", trials="trials", response=None, irt="2pl",
              precision="common")
    return r[keep].reset_index(drop=True), sim.models, kw


CASES = ["beta_item", "beta_globals", "binomial_extreme", "bernoulli_1pl_extreme", "one_model_question"]


def _fit(name, **extra):
    data, models, kw = _case(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return irsl.fit(FORMULA, data=data, models=models, method="jml", n_threads=1, full_cov=True,
                        **kw, **extra)


def _dense_route(monkeypatch):
    """Make joint_covariance invert the whole bordered matrix, and hand the latent regression the
    dense ability block (the computation before the structured one)."""
    def dense(info_theta, info_x, info_q, cons_theta, cons_q, on_scale):
        return inference._constrained_inverse_dense(info_theta, info_x, info_q, cons_theta, cons_q,
                                                    on_scale), None

    monkeypatch.setattr(inference, "_constrained_inverse_schur", dense)


def _captured_args(name, monkeypatch):
    """The arguments estimate_jml passes to joint_covariance in the named case."""
    calls = []
    real = estimate_module.joint_covariance

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(estimate_module, "joint_covariance", record)
    _fit(name)
    monkeypatch.setattr(estimate_module, "joint_covariance", real)
    return calls[0]


def _assert_cov_close(new, old, rtol=1e-9):
    """Equal NaN patterns, and finite entries within ``rtol`` of sqrt(var_i var_j)."""
    new, old = np.asarray(new), np.asarray(old)
    np.testing.assert_array_equal(np.isnan(new), np.isnan(old))
    sd = np.sqrt(np.abs(np.diag(old)))
    sd = np.where(np.isfinite(sd), sd, 1.0)
    both = np.isfinite(old)
    np.testing.assert_array_less(np.abs(new - old)[both], rtol * np.outer(sd, sd)[both] + 1e-300)


@pytest.mark.parametrize("name", CASES)
def test_joint_covariance_by_schur_complement_equals_the_bordered_inverse(name, monkeypatch):
    args, kwargs = _captured_args(name, monkeypatch)
    fast = inference.joint_covariance(*args, **kwargs)
    with monkeypatch.context() as mp:
        _dense_route(mp)
        slow = inference.joint_covariance(*args, **kwargs)
    assert fast.theta_lowrank is not None and slow.theta_lowrank is None
    _assert_cov_close(fast.full, slow.full)
    np.testing.assert_allclose(fast.theta_var, slow.theta_var, rtol=1e-10)
    for j in range(len(fast.item_cov)):
        _assert_cov_close(fast.item_cov[j], slow.item_cov[j])
    if slow.global_cov is not None:
        _assert_cov_close(fast.global_cov, slow.global_cov)
    # the low-rank form is the abilities' block on the scale, and nothing else
    lr = fast.theta_lowrank
    block = np.diag(lr.d) + lr.y @ lr.w @ lr.y.T
    _assert_cov_close(block, fast.full[np.ix_(lr.models, lr.models)], rtol=1e-12)
    ref = np.isfinite(fast.theta_var)
    np.testing.assert_array_equal(lr.models, np.flatnonzero(ref))


@pytest.mark.parametrize("name", CASES)
def test_fit_equals_the_fit_by_the_dense_route(name, monkeypatch):
    fast = _fit(name)
    with monkeypatch.context() as mp:
        _dense_route(mp)
        slow = _fit(name)
    assert "joint observed information" in fast.summary().as_text()
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fast.abilities["se"], slow.abilities["se"], rtol=1e-9)
    for col in [c for c in ("a_se", "d_se", "b_se", "phi_se") if c in fast.items]:
        np.testing.assert_allclose(fast.items[col], slow.items[col], rtol=1e-9)
    _assert_cov_close(fast.joint_cov_params().to_numpy(), slow.joint_cov_params().to_numpy())
    assert list(fast.joint_cov_params().index) == list(slow.joint_cov_params().index)
    assert fast.warnings == slow.warnings


@pytest.mark.parametrize("loc", [0.0, -0.7])
def test_sparse_jacobian_map_equals_the_dense_product(loc):
    rng = np.random.default_rng(0)
    m, n, k, r = 6, 5, 3, 2  # abilities, questions (a, d, log_phi), globals
    p = m + n * k + r
    g = rng.normal(size=(p, p + 3))
    cov = g @ g.T / p
    undefined = np.zeros(p, bool)
    undefined[[1, m + 2 * k]] = True  # an ability and the a of question 2 (d of question 2 involves it)
    cov[undefined, :] = np.nan
    cov[:, undefined] = np.nan
    diag = np.ones(p)
    diag[:m] = 1 / 1.3
    base = m + np.arange(n) * k
    diag[base] = 1.3
    diag[m + n * k:] = [0.5, 4.0]
    rows, cols = base + 1, base
    jac = np.diag(diag)
    jac[rows, cols] = loc
    want = _map_covariance(jac, cov, ~np.isfinite(np.diag(cov)))
    got = _map_covariance_sparse(diag, rows, cols, loc, cov, ~np.isfinite(np.diag(cov)))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-13, atol=1e-15)
    # the d of question 2 depends on its undefined a only through loc
    assert np.isnan(got[m + 2 * k + 1, 0]) == (loc != 0.0)


def _regression_pair(x, t, lr):
    """The regression by Woodbury (forced: a fit's low-rank part can be wide enough that the cost
    rule picks the eigenbasis) and by the dense eigenbasis."""
    dense = np.diag(lr.d) + lr.y @ lr.w @ lr.y.T
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(latent_regression, "_woodbury_is_cheaper", lambda m, r: True)
        fast = fit_latent_regression(x, t, lr)
    return fast, fit_latent_regression(x, t, dense)


def _assert_regression_close(fast, slow):
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-9, atol=1e-12)
    assert fast.sigma == pytest.approx(slow.sigma, rel=1e-9)
    assert fast.sigma_at_zero == slow.sigma_at_zero
    np.testing.assert_allclose(fast.cov, slow.cov, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(fast.scores, slow.scores, rtol=1e-7, atol=1e-9 * np.abs(slow.scores).max())
    _assert_cov_close(fast.hessian, slow.hessian, rtol=1e-8)
    assert fast.loglik == pytest.approx(slow.loglik, rel=1e-11)


def test_woodbury_regression_equals_the_eigenbasis_on_a_jml_fit(monkeypatch):
    # the low-rank part of a real fit is indefinite (it carries the identification constraints)
    args, kwargs = _captured_args("beta_item", monkeypatch)
    jc = inference.joint_covariance(*args, **kwargs)
    lr = jc.theta_lowrank
    assert np.linalg.eigvalsh(lr.w).min() < 0 < np.linalg.eigvalsh(lr.w).max()
    theta = args[1][lr.models]
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(len(theta)), rng.normal(size=len(theta)) * 1e3])  # raw units
    fast, slow = _regression_pair(x, theta, lr)
    _assert_regression_close(fast, slow)
    assert not fast.sigma_at_zero


@pytest.mark.parametrize("sigma", [0.8, 0.0])
def test_woodbury_regression_equals_the_eigenbasis_on_synthetic_errors(sigma):
    rng = np.random.default_rng(2)
    m, rank = 60, 7
    d = rng.uniform(0.05, 0.4, m)
    y = rng.normal(size=(m, rank)) * 0.2
    w = np.diag(rng.uniform(0.5, 2.0, rank))
    lr = ThetaLowRank(np.arange(m), d, y, w)
    v = np.diag(d) + y @ w @ y.T
    x = np.column_stack([np.ones(m), rng.normal(size=m), rng.integers(0, 2, m)])
    # sigma = 0: responses on the law up to a sliver of the measurement error, so the (RE)ML
    # sigma^2 runs to the search's lower bound
    noise = np.linalg.cholesky(v) @ rng.normal(size=m) * (1.0 if sigma else 1e-3)
    t = x @ np.array([0.3, 1.0, -0.5]) + noise + sigma * rng.normal(size=m)
    fast, slow = _regression_pair(x, t, lr)
    if sigma == 0.0:
        # sigma^2 ends at the search's lower bound in both (the same boundary decision)
        assert fast.sigma_at_zero and slow.sigma_at_zero
        np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-9)
        np.testing.assert_allclose(fast.cov[:3, :3], slow.cov[:3, :3], rtol=1e-8)
    else:
        _assert_regression_close(fast, slow)


def test_ml_with_a_low_rank_covariance_uses_the_eigenbasis():
    rng = np.random.default_rng(3)
    m = 30
    lr = ThetaLowRank(np.arange(m), rng.uniform(0.1, 0.3, m), rng.normal(size=(m, 3)) * 0.3, np.eye(3))
    x = np.column_stack([np.ones(m), rng.normal(size=m)])
    t = x @ np.array([0.1, 0.9]) + rng.normal(size=m)
    dense = np.diag(lr.d) + lr.y @ lr.w @ lr.y.T
    a = fit_latent_regression(x, t, lr, reml=False)
    b = fit_latent_regression(x, t, dense, reml=False)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-12)
    assert a.sigma == pytest.approx(b.sigma, rel=1e-12)
