"""Tests of the log-normal shrinkage prior on the 2PL discriminations (``discrimination_prior=``).

The prior is ``-sum_j (log a_j - mean(log a))^2 / (2 s^2)`` (:mod:`irsl_stats.priors`), added to
the joint (JML) or marginal (MML) log-likelihood; every ``a_j`` stays positive and ``None`` is
plain ML. Covered here:

* the prior's algebra against finite differences (value, gradient, Hessian, scale invariance)
  and the validation of the argument;
* penalised fits: the JML optimum is stationary for the *penalised* objective (and not for the
  likelihood alone), the spread of ``log a`` shrinks monotonically with ``s``, a huge ``s`` gives
  back plain ML, and the prior keeps ``a_j > 0`` where ML finds negative discriminations;
* the motivating degenerate case (six models, questions solved only by the strongest model);
* standard errors with the prior's curvature; the summary note; ``irsl.calibrate`` and scoring
  with a penalised bank; API errors.

Data are small seeded simulations; every fit takes well under a second on one thread.
"""

from __future__ import annotations

import warnings
from functools import lru_cache, partial

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import irsl_stats as irsl
from irsl_stats import _kernel, api
from irsl_stats.inference import conditional_ses, joint_covariance
from irsl_stats.jml import A_BOUND, ItemState, newton_item_update
from irsl_stats.precision import PrecisionModel
from irsl_stats.priors import A_FLOOR, DiscriminationPrior, centred_normal_terms
from irsl_stats.results import IRSLWarning

from _separating import separate_first_question

fit = partial(irsl.fit, n_threads=1)


# ----------------------------------------------------------------------------- helpers
def fd_gradient(f, x, h=1e-5):
    """Central finite-difference gradient of a scalar function."""
    g = np.empty(len(x))
    for j in range(len(x)):
        e = np.zeros(len(x))
        e[j] = h
        g[j] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def fd_hessian_diagonal(f, x, h=1e-4):
    """Central finite-difference second derivatives ``d^2 f / dx_j^2``."""
    f0 = f(x)
    out = np.empty(len(x))
    for j in range(len(x)):
        e = np.zeros(len(x))
        e[j] = h
        out[j] = (f(x + e) - 2 * f0 + f(x - e)) / h**2
    return out


def sd_log_a(res) -> float:
    return float(np.log(res.items["a"].to_numpy()).std())


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def beta_sim():
    # 40 models x 30 questions, discriminations spread (sd of log a 0.5) so that shrinkage shows
    return irsl.simulate.irt(n_models=40, n_questions=30, family="beta", seed=3, a_sdlog=0.5)


@pytest.fixture(scope="module")
def beta_fit(beta_sim):
    """Cached fits of ``beta_sim``: ``beta_fit(method, s)``; none of them may warn."""

    @lru_cache(maxsize=None)
    def get(method, s):
        return fit("ability ~ 1", data=beta_sim.responses, family="beta", method=method,
                   discrimination_prior=s)

    return get


def separated_counts(seed=0, n_models=6, n_questions=30, trials=1000, n_separated=4, n_never=1):
    """Few models with many samples per cell (the Pythia x MATH situation).

    Questions ``q00..q03`` are solved only by the strongest model (zero successes for the other
    five): the 2PL likelihood increases without bound in their discrimination. ``q04`` is never
    solved. The other questions follow a beta-binomial 2PL.
    """
    rng = np.random.default_rng(seed)
    theta = np.linspace(-1.5, 1.5, n_models)
    a = np.exp(rng.normal(0.0, 0.3, n_questions))
    d = rng.normal(-1.0, 1.0, n_questions)
    mu = expit(np.outer(theta, a) + d)
    k = rng.binomial(trials, rng.beta(mu * 10, (1 - mu) * 10))
    for j in range(n_separated):
        k[:-1, j] = 0
        k[-1, j] = rng.binomial(trials, 0.2 + 0.1 * j)
    k[:, n_separated:n_separated + n_never] = 0
    rows = [dict(model=f"m{i}", question=f"q{j:02d}", successes=int(k[i, j]), trials=trials)
            for i in range(n_models) for j in range(n_questions)]
    return pd.DataFrame(rows)


SEPARATED = [f"q{j:02d}" for j in range(4)]
NEVER = ["q04"]


@pytest.fixture(scope="module")
def counts():
    return separated_counts()


def fit_counts(df, **kwargs):
    return fit("ability ~ 1", data=df, successes="successes", trials="trials",
               family="beta_binomial", **kwargs)


@pytest.fixture(scope="module")
def counts_ml(counts):
    """Unpenalised fits of ``counts`` by method, with the IRSLWarnings they raised."""

    @lru_cache(maxsize=None)
    def get(method):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always", IRSLWarning)
            res = fit_counts(counts, method=method)
        return res, [str(w.message) for w in rec if issubclass(w.category, IRSLWarning)]

    return get


# ============================================================ 1. centred_normal_terms
def test_centred_normal_terms_gradient_and_hessian_match_finite_differences():
    rng = np.random.default_rng(0)
    n, s = 7, 0.7
    v = rng.normal(0.3, 1.0, n)
    value, grad, hess = centred_normal_terms(v, s)
    f = lambda x: centred_normal_terms(x, s)[0]  # noqa: E731
    assert value == pytest.approx(-0.5 * np.sum((v - v.mean()) ** 2) / s**2, rel=1e-12)
    np.testing.assert_allclose(grad, fd_gradient(f, v), rtol=1e-7, atol=1e-9)
    # the exact diagonal includes the coupling through the mean: -(1 - 1/N)/s^2
    fd_h = fd_hessian_diagonal(f, v)
    np.testing.assert_allclose(fd_h, -(1 - 1 / n) / s**2, rtol=1e-5)
    # the returned diagonal drops that O(1/N) coupling (documented): -1/s^2, within 1/N of exact
    np.testing.assert_allclose(hess, -1.0 / s**2, rtol=1e-12)
    np.testing.assert_allclose(hess * (1 - 1 / n), fd_h, rtol=1e-5)
    assert grad.sum() == pytest.approx(0.0, abs=1e-12)  # centred: the gradient sums to 0


def test_centred_normal_terms_invariant_to_a_common_shift():
    v = np.array([-1.2, 0.1, 0.4, 2.0, 0.7])
    for c in (-3.0, 0.5, 10.0):
        val0, g0, h0 = centred_normal_terms(v, 1.3)
        val1, g1, h1 = centred_normal_terms(v + c, 1.3)
        assert val1 == pytest.approx(val0, rel=1e-12)
        np.testing.assert_allclose(g1, g0, atol=1e-12)
        np.testing.assert_allclose(h1, h0)
    # and it scales as 1/s^2
    assert centred_normal_terms(v, 0.5)[0] == pytest.approx(4 * centred_normal_terms(v, 1.0)[0])


def test_precision_prior_delegates_to_centred_normal_terms():
    gamma = np.array([1.0, 2.5, 3.0, 0.2, 1.7])
    pm = PrecisionModel("item", len(gamma), prior_scale=2.0)
    got = pm.prior_terms(gamma)
    want = centred_normal_terms(gamma, 2.0)
    assert got[0] == pytest.approx(want[0])
    np.testing.assert_allclose(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2])
    assert PrecisionModel("item", 5, prior_scale=None).prior_terms(gamma) == (0.0, None, None)
    assert PrecisionModel("none", 5).prior_terms(gamma) == (0.0, None, None)


# ============================================================ 2. DiscriminationPrior
def test_log_terms_match_finite_differences_in_log_a():
    rng = np.random.default_rng(1)
    n, s = 9, 0.8
    a = np.exp(rng.normal(0.2, 0.6, n))
    prior = DiscriminationPrior(s)
    f = lambda u: prior.value(np.exp(u))  # noqa: E731
    g, h = prior.log_terms(a)
    u = np.log(a)
    np.testing.assert_allclose(g, fd_gradient(f, u), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g, -(u - u.mean()) / s**2, rtol=1e-12)
    np.testing.assert_allclose(fd_hessian_diagonal(f, u), -(1 - 1 / n) / s**2, rtol=1e-5)
    np.testing.assert_allclose(h, -1.0 / s**2)


def test_hessian_a_matches_finite_differences_where_not_floored():
    rng = np.random.default_rng(2)
    n, s = 12, 0.6
    a = np.exp(rng.normal(0.0, 0.25, n))
    prior = DiscriminationPrior(s)
    u = np.log(a)
    c = u - u.mean()
    mask = np.abs(c) < 0.5
    assert mask.sum() >= n - 1  # the data exercise the unfloored branch
    fd = fd_hessian_diagonal(prior.value, a, h=1e-5)
    ha = prior.hessian_a(a)
    # exact: -(1 - 1/N - (u - m))/(s^2 a^2); hessian_a drops the 1/N mean coupling
    np.testing.assert_allclose(ha[mask] + 1.0 / (n * s**2 * a[mask] ** 2), fd[mask], rtol=1e-4)
    np.testing.assert_allclose(ha[mask], fd[mask], rtol=1.5 / n / (1 - 0.5))
    assert (ha < 0).all()


def test_hessian_a_floor_for_a_discrimination_far_above_the_others():
    s = 0.5
    a = np.array([0.8, 1.0, 1.0, 1.2, 40.0])  # log 40 - mean(log a) ~ 2.9 > 1: exact term > 0
    prior = DiscriminationPrior(s)
    ha = prior.hessian_a(a)
    c = np.log(a) - np.log(a).mean()
    assert c[-1] > 1.0
    assert ha[-1] == pytest.approx(-0.1 / (s**2 * a[-1] ** 2))
    exact = -(1 - c) / (s**2 * a**2)
    np.testing.assert_allclose(ha[:-1], exact[:-1])
    assert (ha < 0).all()  # the information stays positive


@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, np.nan, np.inf, -np.inf, True, False, "1", [1.0]],
                         ids=repr)
def test_build_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="discrimination_prior"):
        DiscriminationPrior.build(bad, "2pl")


def test_build_rejects_1pl_and_accepts_numbers():
    with pytest.raises(ValueError, match="discrimination_prior"):
        DiscriminationPrior.build(1.0, "1pl")
    assert DiscriminationPrior.build(None, "2pl").active is False
    assert DiscriminationPrior.build(None, "1pl").active is False
    for ok in (1, 0.3, np.float64(2.5), np.int64(3)):
        p = DiscriminationPrior.build(ok, "2pl")
        assert p.active is True and p.scale == float(ok) and isinstance(p.scale, float)


def test_value_is_scale_invariant_and_zero_without_prior():
    a = np.array([0.3, 0.9, 1.4, 2.2, 5.0])
    prior = DiscriminationPrior(0.7)
    v0 = prior.value(a)
    assert v0 < 0
    for factor in (0.05, 0.5, 3.0, 4.0):
        assert prior.value(factor * a) == pytest.approx(v0, rel=1e-12)
    u = np.log(a)
    assert v0 == pytest.approx(-np.sum((u - u.mean()) ** 2) / (2 * 0.49))
    assert DiscriminationPrior(None).value(a) == 0.0
    assert DiscriminationPrior(None).value(np.array([-1.0, 2.0])) == 0.0
    # a discrimination at or below 0 is evaluated at the floor (finite)
    assert np.isfinite(prior.value(np.array([0.0, 1.0, 2.0])))
    assert prior.value(np.array([0.0, 1.0])) == pytest.approx(prior.value(np.array([A_FLOOR, 1.0])))


def test_describe_names_the_scale():
    assert "0.25^2" in DiscriminationPrior(0.25).describe()


def test_newton_item_update_adds_the_prior_in_a_and_keeps_a_positive():
    # three questions at a = 1 (log a = its mean, so the prior's gradient is 0), likelihood
    # quadratic in a with curvature -1 and gradients -5, 0.5, 0 (the first pulls a towards -4);
    # d is decoupled
    n = 3
    grad = np.zeros((n, 3))
    grad[:, 0] = [-5.0, 0.5, 0.0]
    hess = np.zeros((n, 3, 3))
    hess[:, 0, 0] = -1.0
    hess[:, 1, 1] = -1.0
    items = ItemState(np.ones(n), np.zeros(n), np.zeros(0))
    prec = PrecisionModel("none", n)
    plain, _ = newton_item_update(grad, hess, items, prec, "2pl", 10.0)
    np.testing.assert_allclose(plain.a, [-4.0, 1.5, 1.0])  # ML step in a: negative
    s = 1.0
    new, _ = newton_item_update(grad, hess, items, prec, "2pl", 10.0, DiscriminationPrior(s))
    # at a = 1 the prior adds curvature -1/s^2 in a: steps -g/(1 + 1/s^2) = 2.5, -0.25, 0; a step
    # never more than halves a discrimination, so the first stops at 0.5
    np.testing.assert_allclose(new.a, [0.5, 1.0 + 0.5 / (1.0 + 1.0 / s**2), 1.0], rtol=1e-12)
    assert (new.a > 0).all()
    np.testing.assert_allclose(new.d, 0.0, atol=1e-12)
    # an inactive prior is plain ML
    none, _ = newton_item_update(grad, hess, items, prec, "2pl", 10.0, DiscriminationPrior(None))
    np.testing.assert_allclose(none.a, plain.a)


# ============================================================ 3. penalised fits
def test_jml_optimum_is_stationary_for_the_penalised_objective(beta_sim, beta_fit):
    s = 0.3
    res = beta_fit("jml", s)
    assert res.converged
    rd = api.response_data(beta_sim.responses, model="model", question="question", response="y",
                           successes=None, trials=None, benchmark=None, family="beta",
                           boundary="error", weights=None)
    kd = api.kernel_data(rd)
    items = res.items.loc[rd.item_labels]
    theta = res.abilities["theta"].loc[rd.model_labels].to_numpy()
    a, d = items["a"].to_numpy(), items["d"].to_numpy()
    log_phi = np.log(items["phi"].to_numpy())
    prior = DiscriminationPrior(s)
    assert (a > 0).all()

    def loglik(u):
        return _kernel.loglik(kd, theta[:, None], np.exp(u)[:, None], d, log_phi, n_threads=1)

    u0 = np.log(a)
    g_lik = fd_gradient(loglik, u0, h=1e-4)
    g_pen = g_lik + prior.log_terms(a)[0]
    # the penalised objective is flat in every log a_j ...
    assert np.abs(g_pen).max() < 1e-3
    # ... and the likelihood alone is not: the prior moved the estimates
    assert np.abs(g_lik).max() > 1.0
    # the penalised objective does not increase when one a_j moves by +-1e-4 (relative)
    base = loglik(u0) + prior.value(a)
    for j in range(len(a)):
        for step in (1e-4, -1e-4):
            u = u0.copy()
            u[j] += step
            assert loglik(u) + prior.value(np.exp(u)) <= base + 1e-7

    # compared with the fit without the discrimination prior (both fits keep the default
    # precision prior, SD 2): each is the better one under its own objective
    ml = beta_fit("jml", None)
    ml_items = ml.items.loc[rd.item_labels]
    ml_theta = ml.abilities["theta"].loc[rd.model_labels].to_numpy()
    ml_a, ml_log_phi = ml_items["a"].to_numpy(), np.log(ml_items["phi"].to_numpy())
    prec_prior = PrecisionModel("item", len(a), prior_scale=2.0)
    ml_obj = (_kernel.loglik(kd, ml_theta[:, None], ml_a[:, None], ml_items["d"].to_numpy(),
                             ml_log_phi, n_threads=1)
              + prec_prior.prior_terms(ml_log_phi)[0])
    pen_obj = loglik(u0) + prec_prior.prior_terms(log_phi)[0]
    assert ml_obj > pen_obj
    assert ml_obj + prior.value(ml_a) < pen_obj + prior.value(a)


@pytest.mark.parametrize("method", ["jml", "mml"])
def test_spread_of_log_a_shrinks_monotonically_with_the_prior_sd(beta_fit, method):
    spreads = [sd_log_a(beta_fit(method, s)) for s in (None, 3.0, 1.0, 0.3, 0.05)]
    for s in (3.0, 1.0, 0.3, 0.05):
        res = beta_fit(method, s)
        assert res.converged
        assert (res.items["a"] > 0).all()
    assert spreads[0] > 0.4  # the data have spread discriminations
    assert spreads[0] >= spreads[1] - 1e-9
    assert all(x > y for x, y in zip(spreads[1:], spreads[2:])), spreads
    assert spreads[3] < spreads[0] - 0.03
    assert spreads[4] < 0.1


@pytest.mark.parametrize("method", ["jml", "mml"])
def test_a_very_wide_prior_reproduces_plain_ml(beta_fit, method):
    ml, wide = beta_fit(method, None), beta_fit(method, 50.0)
    np.testing.assert_allclose(wide.items["a"], ml.items["a"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(wide.items["d"], ml.items["d"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(wide.items["a_se"], ml.items["a_se"], rtol=1e-2)
    # while a narrow one does not
    assert np.abs(beta_fit(method, 0.3).items["a"] - ml.items["a"]).max() > 0.1


def test_prior_keeps_discriminations_positive_where_ml_finds_negative_ones():
    sim = irsl.simulate.irt(n_models=40, n_questions=30, family="bernoulli", seed=3, a_sdlog=0.5)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", IRSLWarning)
        ml = fit("ability ~ 1", data=sim.responses, family="bernoulli", method="mml")
    # the negative estimates are within noise of 0 (e.g. a = -6.45, se 6.58): no answer-key warning
    assert not any("negative discrimination" in str(w.message) for w in rec)
    assert (ml.items["a"] < 0).any()
    res = fit("ability ~ 1", data=sim.responses, family="bernoulli", method="mml",
              discrimination_prior=1.0)  # no warning: it would fail the test
    assert res.converged
    assert (res.items["a"] > 0).all()
    assert np.isfinite(res.items["a_se"]).all()
    assert sd_log_a(res) < 1.0


# ============================================================ 4. degenerate: few models
def test_degenerate_counts_unpenalised_2pl_runs_away(counts_ml):
    ml_jml, messages = counts_ml("jml")
    # the separated questions are held at the discrimination bound (a projected step: the fit
    # converges on that face, where it used to crawl for 500 iterations) and are named
    assert any("discrimination at the bound" in m and all(q in m for q in SEPARATED[1:]) for m in messages)
    a = ml_jml.items["a"]
    assert a.max() > 0.8 * A_BOUND
    # the separated questions' discriminations are far above the rest
    assert a[SEPARATED].min() > 10 * a.drop(SEPARATED).median()


@pytest.mark.parametrize("method", ["jml", "mml"])
def test_degenerate_counts_prior_keeps_discriminations_bounded(counts, counts_ml, method):
    ml, _ = counts_ml(method)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_counts(counts, method=method, discrimination_prior=1.0)
    # the only warning: the never-solved question, whose difficulty no prior on a identifies
    assert [str(w.message) for w in caught if "no model ever answers correctly" not in str(w.message)] == []
    assert len(caught) == 1 and all(str(q) in str(caught[0].message) for q in NEVER)
    assert res.converged
    a = res.items["a"]
    assert (a > 0).all()
    assert a.max() < 10
    ratio = a[SEPARATED].max() / a.median()
    assert ratio < 9
    assert ratio < 0.8 * ml.items["a"][SEPARATED].max() / ml.items["a"].median()
    # finite standard errors for every question that some model solved (here: every question)
    solved = a.index.difference(NEVER)
    assert np.isfinite(res.items.loc[solved, "a_se"]).all()
    assert np.isfinite(res.items["a_se"]).all()
    assert np.isfinite(res.items.loc[solved, "d_se"]).all()
    # the runaway discriminations were also the least determined: the prior tightens them
    assert (res.items.loc[SEPARATED, "a_se"] < ml.items.loc[SEPARATED, "a_se"]).all()


# ============================================================ 5. standard errors
@pytest.mark.parametrize("method", ["jml", "mml"])
def test_prior_curvature_lowers_the_standard_errors_of_a(beta_fit, method):
    ml = beta_fit(method, None)
    for s in (1.0, 0.3):
        res = beta_fit(method, s)
        # the SEs given the ability scale (the bank's): the scale's own uncertainty, shared by
        # every question, is not what the prior's curvature changes
        se, se0 = res.item_bank().items["a_se"], ml.item_bank().items["a_se"]
        assert np.isfinite(se).all()
        ratio = se / se0
        # elementwise up to the change of the estimates themselves (a few percent): the prior's
        # curvature in a, (1 - (log a_j - m))/(s^2 a_j^2), fades for the discriminations well above
        # the geometric mean, whose estimates (pulled down) can have slightly larger SEs
        assert ratio.max() < 1.05, ratio.max()
        assert ratio.median() <= 1.0
        u = np.log(res.items["a"])
        below = u < u.mean()  # where the prior's curvature is largest
        assert below.sum() >= 5
        assert (ratio[below] < 1.0).all(), ratio[below]
    assert (beta_fit(method, 0.3).item_bank().items["a_se"] / ml.item_bank().items["a_se"]).median() < 0.99


@pytest.mark.parametrize("method", ["jml", "mml"])
def test_a_tight_prior_dominates_the_standard_errors(beta_fit, method):
    # with s = 0.02 the prior's information (1 - (u - m))/(s^2 a^2) dominates the likelihood's,
    # so a_se / a ~ s / sqrt(1 - (u - m)); without the prior's curvature it would stay ~0.05-0.1
    s = 0.02
    res = beta_fit(method, s)
    a = res.items["a"].to_numpy()
    c = np.log(a) - np.log(a).mean()
    bound = s / np.sqrt(np.maximum(1 - c, 0.1))
    rel = res.item_bank().items["a_se"].to_numpy() / a  # given the ability scale
    assert np.all(rel <= 1.05 * bound)
    assert np.all(rel >= 0.85 * bound)
    plain = beta_fit(method, None)
    assert (plain.item_bank().items["a_se"] / plain.items["a"]).min() > 2 * s


def test_conditional_and_joint_covariance_add_the_prior_curvature(beta_sim, beta_fit):
    rd = api.response_data(beta_sim.responses, model="model", question="question", response="y",
                           successes=None, trials=None, benchmark=None, family="beta",
                           boundary="error", weights=None)
    kd = api.kernel_data(rd)
    # evaluate at the plain-ML estimates (every information block is positive definite there)
    ml = beta_fit("jml", None)
    items = ml.items.loc[rd.item_labels]
    theta = ml.abilities["theta"].loc[rd.model_labels].to_numpy()
    a, d = items["a"].to_numpy(), items["d"].to_numpy()
    gamma = np.log(items["phi"].to_numpy())
    n = kd.n_items
    prec = PrecisionModel("item", n, prior_scale=2.0)
    acc = _kernel.accumulate(kd, theta[:, None], a[:, None], d, gamma, model_blocks=True,
                             item_blocks=True, information="observed", n_threads=1)
    prior = DiscriminationPrior(0.5)
    tv0, cov0, _, cols = conditional_ses(acc, "2pl", prec, gamma)
    tv1, cov1, _, _ = conditional_ses(acc, "2pl", prec, gamma, prior, a)
    assert cols[0] == "a"
    np.testing.assert_allclose(tv1, tv0)  # abilities untouched
    assert (cov1[:, 0, 0] < cov0[:, 0, 0]).all()
    # inactive prior: identical
    _, cov_none, _, _ = conditional_ses(acc, "2pl", prec, gamma, DiscriminationPrior(None), a)
    np.testing.assert_allclose(cov_none, cov0)
    # exact: the prior adds -hessian_a to the a-a entry of each block's information
    info0 = np.linalg.inv(cov0)
    info1 = np.linalg.inv(cov1)
    np.testing.assert_allclose(info1[:, 0, 0] - info0[:, 0, 0], -prior.hessian_a(a), rtol=1e-6)
    np.testing.assert_allclose(info1[:, 1:, 1:], info0[:, 1:, 1:], rtol=1e-6, atol=1e-8)

    j0 = joint_covariance(kd, theta, a, d, gamma, prec, "2pl", 1)
    j1 = joint_covariance(kd, theta, a, d, gamma, prec, "2pl", 1, prior)
    assert (j1.item_cov[:, 0, 0] < j0.item_cov[:, 0, 0]).all()
    j_none = joint_covariance(kd, theta, a, d, gamma, prec, "2pl", 1, DiscriminationPrior(None))
    np.testing.assert_allclose(j_none.item_cov, j0.item_cov)


# ============================================================ 6. summary
@pytest.mark.parametrize("method", ["jml", "mml"])
def test_summary_notes_the_prior(beta_fit, method):
    text = str(beta_fit(method, 0.3).summary())
    assert "Discrimination prior:" in text
    assert "0.3^2" in text
    note = beta_fit(method, 0.3).fit_info.extra["Discrimination prior"]
    assert note == DiscriminationPrior(0.3).describe()
    plain = str(beta_fit(method, None).summary())
    assert "Discrimination prior" not in plain


# ============================================================ 7. calibrate and score
def test_calibrate_passes_the_prior_through_and_the_bank_scores(counts):
    calib = counts[counts["model"] != "m3"]
    held = counts[counts["model"] == "m3"].assign(model="new")
    with warnings.catch_warnings():
        # the never-solved question NEVER is reported (its difficulty is not identified)
        warnings.filterwarnings("ignore", r"1 question\(s\) where no model ever answers", IRSLWarning)
        bank = irsl.calibrate(calib, successes="successes", trials="trials", family="beta_binomial",
                              discrimination_prior=1.0, n_threads=1)
        res = fit_counts(calib, discrimination_prior=1.0)
    a = bank.items["a"]
    assert (a > 0).all()
    np.testing.assert_allclose(a.to_numpy(), res.items["a"].loc[a.index].to_numpy(), rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        plain = irsl.calibrate(calib, successes="successes", trials="trials",
                               family="beta_binomial", n_threads=1)
    # the prior changed the bank: the separated questions are no longer far above the rest
    plain_a = plain.items["a"]
    assert a[SEPARATED].max() / a.median() < 0.8 * plain_a[SEPARATED].max() / plain_a.median()
    scores = bank.score(held, successes="successes", trials="trials")
    assert list(scores.index) == ["new"]
    assert np.isfinite(scores["theta"]).all() and (scores["se"] > 0).all()
    # the held-out model m3 sits between m2 and m4 (theta increases with the model index)
    calib_theta = res.abilities["theta"]
    assert calib_theta["m2"] - 0.5 < scores.loc["new", "theta"] < calib_theta["m4"] + 0.5


# ============================================================ 8. API errors
@pytest.fixture(scope="module")
def small_sim():
    return irsl.simulate.irt(n_models=12, n_questions=10, family="bernoulli", benchmarks=2, seed=7)


def test_fit_rejects_the_prior_for_1pl(small_sim):
    with pytest.raises(ValueError, match="discrimination_prior"):
        fit("ability ~ 1", data=small_sim.responses, family="bernoulli", irt="1pl",
            discrimination_prior=1.0)


@pytest.mark.parametrize("bad", [0, -1.0, np.nan, np.inf, True, "1", "auto"], ids=repr)
@pytest.mark.parametrize("method", ["jml", "mml"])
def test_fit_rejects_bad_prior_values(small_sim, bad, method):
    with pytest.raises(ValueError, match="discrimination_prior"):
        fit("ability ~ 1", data=small_sim.responses, family="bernoulli", method=method,
            discrimination_prior=bad)


def test_calibrate_rejects_the_prior_for_1pl(small_sim):
    with pytest.raises(ValueError, match="discrimination_prior"):
        irsl.calibrate(small_sim.responses, family="bernoulli", irt="1pl", discrimination_prior=1.0)


# ============================================================ 9. per-benchmark abilities
def test_multidim_update_with_one_loading_per_question_matches_the_one_dimensional_update():
    """The per-benchmark M-step's log-a step (one free loading per question) is the 1-D step."""
    from irsl_stats.multidim import MultiItems, item_update

    rng = np.random.default_rng(5)
    n = 6
    grad = rng.normal(size=(n, 3))
    raw = rng.normal(size=(n, 3, 3))
    hess = -(np.einsum("nij,nkj->nik", raw, raw) + 2 * np.eye(3))  # negative definite blocks
    a = np.exp(rng.normal(0, 0.5, n))
    prec = PrecisionModel("item", n, prior_scale=2.0)
    gamma = rng.normal(3, 0.5, n)
    prior = DiscriminationPrior(0.7)
    one, _ = newton_item_update(grad, hess, ItemState(a.copy(), np.zeros(n), gamma.copy()), prec, "2pl",
                                10.0, prior)
    # the same questions as a one-dimensional per-benchmark pattern, then split over two dimensions
    multi, _ = item_update(grad, hess, MultiItems(a[:, None].copy(), np.zeros(n), gamma.copy()),
                           np.ones((n, 1), bool), prec, 10.0, prior)
    np.testing.assert_allclose(multi.A[:, 0], one.a, rtol=1e-12)
    np.testing.assert_allclose(multi.d, one.d, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(multi.gamma, one.gamma, rtol=1e-12)
    # two dimensions, questions 0-2 on the first, 3-5 on the second: the prior centres within each
    dim = np.array([0, 0, 0, 1, 1, 1])
    free = np.zeros((n, 2), bool)
    free[np.arange(n), dim] = True
    A = np.zeros((n, 2))
    A[np.arange(n), dim] = a
    g2 = np.zeros((n, 4))
    h2 = np.zeros((n, 4, 4))
    for j in range(n):  # columns (a_1, a_2, d, log_phi): the free loading takes the 1-D a column
        idx = [dim[j], 2, 3]
        g2[j, idx] = grad[j]
        h2[j][np.ix_(idx, idx)] = hess[j]
    # (no precision prior here: it centres over all questions, the reference below over three)
    two, _ = item_update(g2, h2, MultiItems(A, np.zeros(n), gamma.copy()), free,
                         PrecisionModel("item", n), 10.0, prior)
    for group in (0, 1):
        rows = np.flatnonzero(dim == group)
        sub, _ = newton_item_update(grad[rows], hess[rows], ItemState(a[rows].copy(), np.zeros(3), gamma[rows].copy()),
                                    PrecisionModel("item", 3), "2pl", 10.0, prior)
        np.testing.assert_allclose(two.A[rows, group], sub.a, rtol=1e-12)
    assert np.abs(two.A[~free]).max() < 1e-12  # (fit_multidim then resets fixed loadings exactly)


@pytest.fixture(scope="module")
def bench_sim():
    return irsl.simulate.correlated_benchmarks(n_models=60, questions=12, seed=2)


def fit_bench(sim, s):
    return fit("ability ~ 1", data=sim.responses, benchmark="benchmark", ability="per_benchmark",
               family="beta", discrimination_prior=s)


def test_per_benchmark_prior_shrinks_loadings_within_each_benchmark(bench_sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        plain = fit_bench(bench_sim, None)
        wide = fit_bench(bench_sim, 50.0)
        tight = fit_bench(bench_sim, 0.05)
    loading_cols = [c for c in plain.items.columns if c.startswith("a_") and not c.endswith("_se")]

    def own_loading(res):
        block = res.items[loading_cols].to_numpy()
        return block[np.arange(len(block)), np.abs(block).argmax(axis=1)]

    bench = plain.items["benchmark"].to_numpy()
    np.testing.assert_allclose(own_loading(wide), own_loading(plain), rtol=0.02)
    a_tight = own_loading(tight)
    assert (a_tight > 0).all()
    for b in np.unique(bench):
        spread_plain = np.log(np.abs(own_loading(plain)[bench == b])).std()
        spread_tight = np.log(a_tight[bench == b]).std()
        assert spread_tight < 0.1 < spread_plain
    assert "Discrimination prior: log a_j ~ N(mean of log a within the benchmark" in str(tight.summary())
    assert "Discrimination prior" not in str(plain.summary())


def test_per_benchmark_loading_at_the_bound_warns_and_the_prior_holds_it():
    """A question splitting the models perfectly (0 of 50 for the weaker half on its benchmark, 50
    of 50 for the stronger): plain per-benchmark 2PL puts its loading at the bound and says which
    prior holds it; with the prior the loading is finite and nothing warns."""
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=8, family="beta_binomial", seed=1)
    df, q0, bench = separate_first_question(sim.responses)
    kw = dict(data=df, successes="successes", trials="trials", family="beta_binomial",
              benchmark="benchmark", ability="per_benchmark")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", IRSLWarning)
        plain = fit("ability ~ 1", **kw)
    shown = [str(w.message) for w in rec if issubclass(w.category, IRSLWarning)]
    assert any("loading at the bound" in m and "discrimination_prior=1.0" in m for m in shown)
    assert plain.items.loc[q0, f"a_{bench}"] > 20
    with warnings.catch_warnings():
        warnings.simplefilter("error", IRSLWarning)
        held = fit("ability ~ 1", discrimination_prior=0.25, **kw)
    assert 0.5 < held.items.loc[q0, f"a_{bench}"] < 5
    assert np.isfinite(held.items.loc[q0, f"a_{bench}_se"])
