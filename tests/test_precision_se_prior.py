"""The global precision's standard error under a discrimination prior.

``global_precision_cov`` profiled each question's (a, d) block out of the precision's information
without the discrimination prior's curvature in ``a``, while the question blocks' own covariance
included it: under 2PL with ``discrimination_prior=`` the block-conditional (JML) and the marginal
(MML) standard errors of a common or formula precision used an unpenalised profile. The reference
here is the dense inverse of the whole penalised information of (a_j, d_j; gamma).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from irsl_stats.inference import conditional_ses, global_precision_cov
from irsl_stats.precision import PrecisionModel
from irsl_stats.priors import DiscriminationPrior


def random_item_blocks(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3, 3) negative definite blocks in kernel order (a, d, log_phi)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, 3, 3))
    return -(g @ np.swapaxes(g, 1, 2) + 0.5 * np.eye(3))


def dense_gamma_cov(h: np.ndarray, z: np.ndarray, a_curv: np.ndarray) -> np.ndarray:
    """Invert the full information of (a_1, d_1, ..., a_N, d_N, gamma) densely; gamma's block."""
    n, r = h.shape[0], z.shape[1]
    info = np.zeros((2 * n + r, 2 * n + r))
    for j in range(n):
        blk = h[j, :2, :2].copy()
        blk[0, 0] += a_curv[j]
        info[2 * j:2 * j + 2, 2 * j:2 * j + 2] = blk
        cross = np.outer(h[j, :2, 2], z[j])  # d2l / d(a_j, d_j) d gamma
        info[2 * j:2 * j + 2, 2 * n:] = cross
        info[2 * n:, 2 * j:2 * j + 2] = cross.T
        info[2 * n:, 2 * n:] += h[j, 2, 2] * np.outer(z[j], z[j])
    return np.linalg.inv(-info)[2 * n:, 2 * n:]


def test_global_precision_cov_includes_the_discrimination_prior_curvature():
    n = 12
    h = random_item_blocks(n)
    z = np.column_stack([np.ones(n), np.repeat([0.0, 1.0], n // 2)])  # "~ benchmark"
    a_curv = -np.linspace(0.5, 3.0, n)  # a prior's curvature is negative
    got = global_precision_cov(h, z, "2pl", a_curv)
    np.testing.assert_allclose(got, dense_gamma_cov(h, z, a_curv), rtol=1e-10)
    # and it matters: the unpenalised profile is a different covariance
    plain = global_precision_cov(h, z, "2pl")
    np.testing.assert_allclose(plain, dense_gamma_cov(h, z, np.zeros(n)), rtol=1e-10)
    assert np.max(np.abs(got - plain) / np.abs(plain)) > 1e-3


def test_conditional_ses_profiles_with_the_prior_it_puts_on_the_question_blocks():
    n = 10
    h = random_item_blocks(n, seed=1)
    acc = SimpleNamespace(hess_theta=-np.ones((4, 1, 1)), hess_item=h)
    precision = PrecisionModel(kind="linear", n_items=n, z=np.ones((n, 1)), names=["log_phi"])
    a = np.exp(np.random.default_rng(2).normal(0.0, 0.5, n))
    prior = DiscriminationPrior(0.3)
    _, _, cov_prior, _ = conditional_ses(acc, "2pl", precision, np.zeros(1), prior, a)
    _, _, cov_none, _ = conditional_ses(acc, "2pl", precision, np.zeros(1), None, a)
    want = dense_gamma_cov(h, precision.z, prior.hessian_a(a))
    np.testing.assert_allclose(cov_prior, want, rtol=1e-10)
    assert not np.allclose(cov_prior, cov_none, rtol=1e-6)
