"""Tests of the discrimination prior on exploratory loadings: ``log ||a_j|| ~ N(mean, s^2)``.

Exploratory multidimensional fits (``dims >= 2``) put ``discrimination_prior=s`` on the norm of
each question's loading vector (:meth:`DiscriminationPrior.value_norms`), which does not depend on
the rotation of the loadings. Covered here:

* the algebra: gradient against finite differences, the exact Hessian against finite differences
  along and across each question's direction (and where the Newton Hessian departs from it),
  rotation invariance, D = 1 with positive loadings equal to the one-dimensional prior, the limit
  that a step never more than halves a norm, and the M-step with every loading free;
* penalised exploratory fits on a small two-benchmark simulation: a huge SD gives back plain ML,
  a tiny SD makes the norms nearly equal, the penalised objective does not decrease, the summary
  describes the prior, and a question that splits the models perfectly is held off the bound.

Fits take well under a second each on one thread.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats.jml import A_BOUND
from irsl_stats.multidim import MultiItems, item_update
from irsl_stats.precision import PrecisionModel
from irsl_stats.priors import A_FLOOR, DiscriminationPrior
from irsl_stats.results import IRSLWarning

from _separating import separate_first_question

fit = partial(irsl.fit, n_threads=1)


def random_rotation(dims: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dims, dims)))
    return q * np.sign(np.diag(r))


def loadings_with_log_norms(deviations, dims: int, seed: int) -> np.ndarray:
    """Loading vectors in random directions whose log norms are ``0.3 + deviations`` (the
    deviations sum to zero, so they are the centred log norms)."""
    dev = np.asarray(deviations, float)
    assert abs(dev.sum()) < 1e-12
    u = np.random.default_rng(seed).normal(size=(len(dev), dims))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u * np.exp(0.3 + dev)[:, None]


def second_directional_derivative(f, A, j, w, h=1e-4):
    """``d^2/dt^2 f(A with row j moved by t w)`` at 0, by central differences."""
    E = np.zeros_like(A)
    E[j] = h * w
    return (f(A + E) - 2 * f(A) + f(A - E)) / h**2


# ============================================================ 1. algebra
def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(7, 3))
    prior = DiscriminationPrior(0.7)
    grad, _ = prior.terms_vectors(A)
    h = 1e-6
    fd = np.empty_like(A)
    for j, k in np.ndindex(*A.shape):
        E = np.zeros_like(A)
        E[j, k] = h
        fd[j, k] = (prior.value_norms(A + E) - prior.value_norms(A - E)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_hessian_along_and_across_each_direction():
    """Exact curvature: ``-(1 + c s^2)/(s^2 r^2)`` along ``u = a/r`` (plus the O(1/N) coupling
    through the mean, ``(1/N)/(s^2 r^2)``, which the formulas leave out) and ``c / r^2`` across
    it. The Newton Hessian equals it where the prior is concave (norms from the mean to 0.9 s^2
    above it), floors the radial curvature at ``-0.1/(s^2 r^2)`` above that and drops the convex
    cross curvature of shorter-than-average vectors."""
    s = 1.0
    dev = np.array([-1.3, -0.7, -0.2, 0.2, 0.5, 0.5, 1.0])
    A = loadings_with_log_norms(dev, 3, seed=1)
    n = len(A)
    prior = DiscriminationPrior(s)
    _, H = prior.terms_vectors(A)
    r = np.linalg.norm(A, axis=1)
    c = -dev / s**2
    rng = np.random.default_rng(2)
    for j in range(n):
        u = A[j] / r[j]
        v = rng.normal(size=3)
        v -= (v @ u) * u
        v /= np.linalg.norm(v)
        radial_fd = second_directional_derivative(prior.value_norms, A, j, u)
        across_fd = second_directional_derivative(prior.value_norms, A, j, v)
        radial_exact = -(1 + c[j] * s**2) / (s**2 * r[j] ** 2)
        np.testing.assert_allclose(radial_fd, radial_exact + 1 / (n * s**2 * r[j] ** 2), rtol=1e-5)
        np.testing.assert_allclose(across_fd, c[j] / r[j] ** 2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(u @ H[j] @ v, 0.0, atol=1e-12)
        np.testing.assert_allclose(u @ H[j] @ u, min(radial_exact, -0.1 / (s**2 * r[j] ** 2)), rtol=1e-12)
        np.testing.assert_allclose(v @ H[j] @ v, min(c[j], 0.0) / r[j] ** 2, rtol=1e-12, atol=1e-15)
        if 0.0 <= dev[j] <= 0.9:  # concave: the Newton Hessian is the exact one
            np.testing.assert_allclose(u @ H[j] @ u, radial_exact, rtol=1e-12)
    # both modifications occur in this configuration
    assert (dev < 0).any() and (dev > 0.9).any()
    eig = np.linalg.eigvalsh(H)
    assert eig.max() <= 1e-12 * np.abs(eig).max()  # negative semi-definite (up to rounding)


def test_value_and_derivatives_are_rotation_invariant():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(9, 3))
    R = random_rotation(3, seed=4)
    prior = DiscriminationPrior(0.5)
    g, H = prior.terms_vectors(A)
    g_rot, H_rot = prior.terms_vectors(A @ R)
    assert np.isclose(prior.value_norms(A @ R), prior.value_norms(A), rtol=1e-12)
    np.testing.assert_allclose(g_rot, g @ R, atol=1e-12)
    np.testing.assert_allclose(H_rot, np.einsum("ki,nkl,lj->nij", R, H, R), atol=1e-10)
    # a common scale factor does not change it either (the mean is profiled); stretching one
    # axis does: the invariance is that of the norm, not a property of every transformation
    assert np.isclose(prior.value_norms(3.0 * A), prior.value_norms(A), rtol=1e-12)
    assert not np.isclose(prior.value_norms(A * [3.0, 1.0, 1.0]), prior.value_norms(A), rtol=1e-3)


def test_one_dimension_with_positive_loadings_is_the_one_dimensional_prior():
    rng = np.random.default_rng(5)
    a = np.exp(rng.normal(0, 0.8, 10))
    prior = DiscriminationPrior(0.6)
    g, H = prior.terms_vectors(a[:, None])
    g1, h1 = prior.terms_a(a)
    assert np.isclose(prior.value_norms(a[:, None]), prior.value(a), rtol=1e-14)
    np.testing.assert_allclose(g[:, 0], g1, rtol=1e-14)
    np.testing.assert_allclose(H[:, 0, 0], h1, rtol=1e-14)
    new = a * rng.uniform(0.1, 2.0, 10)
    np.testing.assert_allclose(prior.keep_norm(new[:, None], a[:, None])[:, 0], prior.keep_positive(new, a),
                               rtol=1e-14)


def test_vectors_below_the_floor_fade_out_continuously():
    """The norm is floored at A_FLOOR in the formulas: a zero vector gets no pull and no
    curvature (it has no direction), a tiny one a proportionally small pull."""
    prior = DiscriminationPrior(1.0)
    A = np.array([[1.0, 0.5], [0.8, -0.9], [0.0, 0.0], [0.25 * A_FLOOR, 0.0]])
    g, H = prior.terms_vectors(A)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(H))
    np.testing.assert_array_equal(g[2], 0.0)
    np.testing.assert_array_equal(H[2], 0.0)
    g_floor, _ = prior.terms_vectors(np.array([[1.0, 0.5], [0.8, -0.9], [0.0, 0.0], [A_FLOOR, 0.0]]))
    np.testing.assert_allclose(g[3], 0.25 * g_floor[3], rtol=1e-12)
    assert g[3, 0] > 0  # shorter than the others: pushed outwards


def test_a_step_never_more_than_halves_a_norm():
    A = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [0.5 * A_FLOOR, 0.0], [0.6, 0.8]])
    new = np.array([[0.3, 0.4],   # shrinks to 1/10: back to half the old norm, its own direction
                    [0.0, 0.0],   # to zero: no direction of its own, keeps the old one
                    [0.0, -0.9],  # flips through the origin to 0.45 < 1: half norm, new direction
                    [0.0, 0.0],   # tiny old vector: the norm is floored at A_FLOOR
                    [1.2, 1.6]])  # grows: untouched
    out = DiscriminationPrior.keep_norm(new, A)
    expected = [[1.5, 2.0], [0.5, 0.0], [0.0, -1.0], [A_FLOOR, 0.0], [1.2, 1.6]]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert (np.linalg.norm(out, axis=1) >= np.maximum(0.5 * np.linalg.norm(A, axis=1), A_FLOOR) - 1e-15).all()


def _blocks(n: int, dims: int, seed: int):
    rng = np.random.default_rng(seed)
    grad = rng.normal(size=(n, dims + 2))
    raw = rng.normal(size=(n, dims + 2, dims + 2))
    hess = -(np.einsum("nij,nkj->nik", raw, raw) + 2 * np.eye(dims + 2))  # negative definite
    return grad, hess


def test_exploratory_update_adds_the_vector_terms_to_the_loading_block():
    """With every loading free the M-step is the Newton step of the likelihood plus the norm
    prior in the (a_1..a_D) block; nothing else in the block layout changes."""
    n, dims = 6, 3
    grad, hess = _blocks(n, dims, seed=6)
    A = np.random.default_rng(7).normal(size=(n, dims))
    gamma = np.full(n, 3.0)
    prior = DiscriminationPrior(0.8)
    prec = PrecisionModel("item", n)
    free = np.ones((n, dims), bool)
    items = MultiItems(A.copy(), np.zeros(n), gamma.copy())
    new, _ = item_update(grad, hess, items, free, prec, 100.0, prior)
    g_p, H_p = prior.terms_vectors(A)
    g = grad.copy()
    h = hess.copy()
    g[:, :dims] += g_p
    h[:, :dims, :dims] += H_p
    step = np.linalg.solve(-h, g[:, :, None])[:, :, 0]
    expected = DiscriminationPrior.keep_norm(A + step[:, :dims], A)
    np.testing.assert_allclose(new.A, expected, rtol=1e-9)
    np.testing.assert_allclose(new.d, step[:, dims], rtol=1e-9)
    np.testing.assert_allclose(new.gamma, gamma + step[:, dims + 1], rtol=1e-9)
    plain, _ = item_update(grad, hess, items, free, prec, 100.0)
    assert not np.allclose(plain.A, new.A, rtol=1e-3)


def test_exploratory_update_keeps_the_halving_limit():
    """A sharp likelihood whose Newton step takes every loading vector to 5% of its length:
    without the prior the step is taken; with it no norm falls below half its old value."""
    n, dims = 5, 2
    A = np.random.default_rng(8).normal(size=(n, dims))
    grad = np.zeros((n, dims + 2))
    grad[:, :dims] = -95.0 * A
    hess = -100.0 * np.broadcast_to(np.eye(dims + 2), (n, dims + 2, dims + 2))
    free = np.ones((n, dims), bool)
    prec = PrecisionModel("item", n)
    items = MultiItems(A.copy(), np.zeros(n), np.zeros(n))
    plain, _ = item_update(grad, hess, items, free, prec, 1e6)
    held, _ = item_update(grad, hess, items, free, prec, 1e6, DiscriminationPrior(1.0))
    old = np.linalg.norm(A, axis=1)
    np.testing.assert_allclose(np.linalg.norm(plain.A, axis=1), 0.05 * old, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(held.A, axis=1), 0.5 * old, rtol=1e-12)


# ============================================================ 2. penalised exploratory fits
@pytest.fixture(scope="module")
def two_benchmarks():
    return irsl.simulate.correlated_benchmarks(n_models=60, questions=12, corr=[[1, 0.3], [0.3, 1]], seed=2)


@pytest.fixture(scope="module")
def fits(two_benchmarks):
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", IRSLWarning)  # none of these fits has anything to warn
        for s in (None, 50.0, 1.0, 0.05):
            out[s] = fit("ability ~ 1", data=two_benchmarks.responses, dims=2, irt="2pl",
                         discrimination_prior=s)
    return out


def log_norms(res) -> np.ndarray:
    return np.log(np.linalg.norm(res._est.A, axis=1))


def test_huge_sd_gives_back_plain_ml(fits):
    """With the prior the residual covariance is held at I instead of rescaled to I after each
    M-step; with a huge SD both reach the maximum of the likelihood: the same loadings up to a
    rotation (compare the Gram matrices A A'), the same intercepts and log-likelihood."""
    plain, wide = fits[None], fits[50.0]
    assert plain.converged and wide.converged
    gram_plain, gram_wide = plain._est.A @ plain._est.A.T, wide._est.A @ wide._est.A.T
    np.testing.assert_allclose(gram_wide, gram_plain, atol=1e-3)
    np.testing.assert_allclose(wide._est.d, plain._est.d, atol=1e-3)
    assert abs(wide.llf - plain.llf) < 1e-4


def test_tiny_sd_makes_the_loading_norms_nearly_equal(fits):
    spread_plain = log_norms(fits[None]).std()
    spread_tight = log_norms(fits[0.05]).std()
    assert spread_tight < 0.1 < 0.2 < spread_plain
    assert log_norms(fits[1.0]).std() < spread_plain  # moderate prior: shrinks a little
    assert fits[0.05].converged
    # standard errors include the prior's curvature and stay finite
    se_cols = [c for c in fits[0.05].items.columns if c.startswith("a_") and c.endswith("_se")]
    assert np.isfinite(fits[0.05].items[se_cols].to_numpy()).all()


def test_history_holds_the_penalised_objective(fits):
    """At the last iteration the objective is the log-likelihood plus the precision prior plus
    the norm prior of the final loadings, which have since been varimax-rotated: the prior is
    the same before and after the rotation."""
    for s in (1.0, 0.05):
        res = fits[s]
        last = res._est.history[-1]
        norm_prior = DiscriminationPrior(s).value_norms(res._est.A)
        assert norm_prior < -0.5  # not negligible: the check below can see it
        penalty = res.precision.prior_terms(res._est.gamma)[0] + norm_prior
        assert np.isclose(last["objective"] - last["loglik"], penalty, rtol=1e-8)


def test_penalised_objective_does_not_decrease(fits):
    for s in (50.0, 1.0):
        obj = np.array([h["objective"] for h in fits[s]._est.history])
        assert np.all(np.diff(obj) >= -1e-6 * np.abs(obj[1:]))


def test_penalised_objective_does_not_decrease_with_a_stiff_prior(fits):
    # regression: while EM rescaled the loadings to covariance I after every M-step (A -> A T,
    # which leaves the likelihood but not the norm prior unchanged) the objective zig-zagged
    obj = np.array([h["objective"] for h in fits[0.05]._est.history])
    assert np.all(np.diff(obj) >= -1e-6 * np.abs(obj[1:]))


def test_stiff_prior_stops_at_the_penalised_optimum(fits, two_benchmarks):
    """A much tighter tolerance does not find a better penalised objective: EM stopped at the
    optimum, not where the rescaling and the prior balanced."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", IRSLWarning)
        tight = fit("ability ~ 1", data=two_benchmarks.responses, dims=2, irt="2pl",
                    discrimination_prior=0.05, tol=1e-10, max_iter=5000)
    final = fits[0.05]._est.history[-1]["objective"]
    assert tight._est.history[-1]["objective"] - final < 1e-4
    np.testing.assert_allclose(log_norms(tight), log_norms(fits[0.05]), atol=1e-3)


def test_summary_describes_the_norm_prior(fits):
    text = str(fits[0.05].summary())
    assert "Discrimination prior: log ||a_j|| ~ N(mean of log ||a||, 0.05^2)" in text
    assert "rotation-invariant" in text
    assert "Discrimination prior" not in str(fits[None].summary())


def test_dims_auto_passes_the_prior_to_every_candidate(two_benchmarks):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        res = fit("ability ~ 1", data=two_benchmarks.responses, dims="auto", max_dims=2,
                  discrimination_prior=0.05)
    assert "log ||a_j||" in res.discrimination_prior
    assert log_norms(res).std() < 0.1


def test_a_perfectly_separating_question_is_held_off_the_bound():
    """One question solved 50 of 50 times by the stronger half of the models on its benchmark and
    never by the others: plain exploratory 2PL puts its loading at the bound and suggests the
    prior; with the prior the norm is finite and nothing warns."""
    sim = irsl.simulate.correlated_benchmarks(n_models=40, questions=8, family="binomial",
                                              corr=[[1, 0.3], [0.3, 1]], seed=1)
    df, q0, bench = separate_first_question(sim.responses)
    kw = dict(data=df, successes="successes", trials="trials", family="binomial", dims=2)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", IRSLWarning)
        plain = fit("ability ~ 1", **kw)
    shown = [str(w.message) for w in rec if issubclass(w.category, IRSLWarning)]
    assert any("loading at the bound" in m and "discrimination_prior=1.0" in m for m in shown)
    assert "irt='1pl'" not in " ".join(shown)  # no exploratory 1PL to suggest
    cols = ["a_dim1", "a_dim2"]
    assert np.linalg.norm(plain.items.loc[q0, cols].to_numpy(float)) >= A_BOUND * 0.999
    with warnings.catch_warnings():
        warnings.simplefilter("error", IRSLWarning)
        held = fit("ability ~ 1", discrimination_prior=0.25, **kw)
    norm = np.linalg.norm(held.items.loc[q0, cols].to_numpy(float))
    assert norm < 0.8 * A_BOUND
    assert np.isfinite(held.items.loc[q0, [c + "_se" for c in cols]].to_numpy(float)).all()
