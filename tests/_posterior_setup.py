"""A small posterior for M-step tests: binomial counts of 40 models on 6 questions (20 trials),
with fixed quadrature nodes (5 per model) and weights, shared by the EM tests."""

import numpy as np

from irsl_stats import _kernel, mml
from irsl_stats.jml import ItemState, newton_item_update
from irsl_stats.precision import PrecisionModel


def binomial_posterior():
    """``(kd, nodes (40, 5), post (40, 5), precision)`` of a fixed simulated posterior."""
    rng = np.random.default_rng(5)
    m, n, q = 40, 6, 5
    theta = rng.normal(size=m)
    a_true, d_true = rng.uniform(0.5, 2.0, n), rng.normal(size=n)
    model, item = np.repeat(np.arange(m), n), np.tile(np.arange(n), m)
    trials = np.full(m * n, 20.0)
    p = 1.0 / (1.0 + np.exp(-(a_true[item] * theta[model] + d_true[item])))
    y = rng.binomial(20, p).astype(float)
    kd = _kernel.KernelData(model, item, y, n_models=m, n_items=n, family="binomial", trials=trials,
                            model_ptr=np.arange(0, m * n + 1, n))
    z, w = mml.gauss_hermite(q)
    return kd, theta[:, None] + 0.4 * z[None, :], np.tile(w, (m, 1)), PrecisionModel("none", n)


def newton_from_ones(kd, nodes, post, precision):
    """``(old, q_old, newton)``: questions at ``a = 1, d = 0``, their expected complete-data
    log-likelihood ``Q`` on the posterior, and the 2PL Newton M-step from there."""
    n = kd.n_items
    old = ItemState(np.ones(n), np.zeros(n), np.zeros(0))
    q_old, g, h = _kernel.accumulate_items_weighted(kd, old.a[:, None], old.d, None, nodes[:, :, None],
                                                    post, n_threads=1)
    newton, _ = newton_item_update(g, h, old, precision, "2pl", 1.0)
    return old, q_old, newton
