"""The code paths of the accumulate pass added for speed.

* The chunk reorder buffer of accumulate (chunks claimed dynamically, added to the outputs in
  chunk order by whichever thread completes the next one due): with many chunks and more threads
  than cores, chunks finish out of order and buffer slots are reused, and the results must still
  be bitwise identical for every thread count, for every combination of requested outputs.
* The same reorder buffer (ordered_chunk_reduce) in accumulate_items_weighted, the EM item step,
  whose chunks are runs of whole models: bitwise identical for every thread count, with zero
  observation and node weights, for every family. loglik (per-chunk partial sums added in chunk
  order) and loglik_grid (one row per model) are checked across thread counts too.
* The written-out D = 1 item block (add_item_block): equal to the NumPy reference, weighted and
  unweighted, observed and expected.
"""

from __future__ import annotations

import numpy as np
import pytest

import _numpy_kernel as ref
from irsl_stats import _kernel

KEYS = ("grad_theta", "hess_theta", "grad_item", "hess_item", "cross")


def _beta_data(n_models, n_items, D, seed, weighted):
    rng = np.random.default_rng(seed)
    model = np.repeat(np.arange(n_models, dtype=np.int32), n_items)
    item = np.tile(np.arange(n_items, dtype=np.int32), n_models)
    n = model.size
    y = np.clip(rng.beta(2.0, 3.0, n), 1e-9, 1 - 1e-9)
    weight = None
    if weighted:
        weight = rng.choice([0.0, 0.5, 1.0, 3.0], size=n)
    data = _kernel.KernelData(model, item, y, n_models=n_models, n_items=n_items, family="beta",
                              weight=weight)
    par = {
        "theta": rng.normal(size=(n_models, D)),
        "a": rng.lognormal(0.0, 0.3, (n_items, D)),
        "d": rng.normal(0.0, 1.5, n_items),
        # small and large precisions: both branches of the beta family
        "log_phi": rng.uniform(np.log(0.3), np.log(300.0), n_items),
    }
    return data, par, weight


@pytest.mark.parametrize("D", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_reorder_buffer_thread_invariance(D, weighted):
    data, p, _ = _beta_data(200, 500, D, seed=11 + D, weighted=weighted)
    assert data.nobs >= 20 * 4096  # many chunks, so that slots are reused
    requests = [
        dict(model_blocks=True, item_blocks=True, cross=True, information="observed"),
        dict(model_blocks=True, item_blocks=False, cross=False, information="expected"),
        dict(model_blocks=False, item_blocks=True, cross=False, information="observed"),
        dict(model_blocks=False, item_blocks=False, cross=True, information="expected"),
    ]
    for req in requests:
        base = _kernel.accumulate(data, p["theta"], p["a"], p["d"], p["log_phi"], n_threads=1,
                                  **req)
        assert np.isfinite(base.loglik)
        # more threads than cores: threads are descheduled mid-chunk, chunks finish out of order
        for nt in (2, 3, 8, 16):
            for _ in range(2):
                r = _kernel.accumulate(data, p["theta"], p["a"], p["d"], p["log_phi"],
                                       n_threads=nt, **req)
                assert r.loglik == base.loglik, (req, nt)
                for key in KEYS:
                    x, x0 = getattr(r, key), getattr(base, key)
                    assert (x is None) == (x0 is None), (req, nt, key)
                    if x is not None:
                        assert np.array_equal(x, x0), (req, nt, key)


@pytest.mark.parametrize("information", ["observed", "expected"])
@pytest.mark.parametrize("weighted", [False, True])
def test_d1_item_block_matches_reference(information, weighted):
    data, p, weight = _beta_data(40, 300, 1, seed=7, weighted=weighted)
    got = _kernel.accumulate(data, p["theta"], p["a"], p["d"], p["log_phi"], cross=True,
                             information=information, n_threads=2)
    want = ref.accumulate("beta", data.model, data.item, data.y, p["theta"], p["a"], p["d"],
                          p["log_phi"], weight=weight, expected=information == "expected",
                          cross=True)
    np.testing.assert_allclose(got.loglik, want["loglik"], rtol=1e-10)
    for key in KEYS:
        # cross is always observed information; the reference computes it from the same
        # second derivatives as the blocks
        if key == "cross" and information == "expected":
            continue
        np.testing.assert_allclose(getattr(got, key), want[key], rtol=1e-8, atol=1e-8,
                                   err_msg=key)
    # the item blocks are symmetric (upper triangle mirrored)
    np.testing.assert_array_equal(got.hess_item, np.swapaxes(got.hess_item, 1, 2))


def _family_data(family, n_models, n_items, D, seed, weighted):
    """Sorted by model (with model_ptr), about 15% of the pairs missing."""
    rng = np.random.default_rng(seed)
    model = np.repeat(np.arange(n_models), n_items)
    item = np.tile(np.arange(n_items), n_models)
    keep = rng.random(model.size) < 0.85
    model, item = model[keep].astype(np.int32), item[keep].astype(np.int32)
    n = model.size
    trials = None
    if family == "beta":
        y = np.clip(rng.beta(2.0, 3.0, n), 1e-9, 1 - 1e-9)
    elif family == "bernoulli":
        y = (rng.random(n) < 0.6).astype(float)
    else:
        # up to 40 trials: both the finite sums and the lgamma differences of beta_binomial
        trials = rng.integers(1, 40, n).astype(float)
        y = rng.binomial(trials.astype(int), 0.6).astype(float)
    weight = rng.choice([0.0, 0.5, 1.0, 3.0], size=n) if weighted else None
    model_ptr = np.searchsorted(model, np.arange(n_models + 1))
    data = _kernel.KernelData(model, item, y, n_models=n_models, n_items=n_items, family=family,
                              trials=trials, weight=weight, model_ptr=model_ptr)
    theta = rng.normal(size=(n_models, D))
    Q = 5
    nodes = theta[:, None, :] + rng.normal(0.0, 0.7, (n_models, Q, D))
    node_weights = rng.dirichlet(np.ones(Q), size=n_models)
    node_weights[rng.random((n_models, Q)) < 0.2] = 0.0
    par = {
        "theta": theta,
        "a": rng.lognormal(0.0, 0.3, (n_items, D)),
        "d": rng.normal(0.0, 1.5, n_items),
        "log_phi": (rng.uniform(np.log(0.3), np.log(300.0), n_items)
                    if family in ("beta", "beta_binomial") else None),
        "nodes": nodes,
        "node_weights": node_weights,
    }
    return data, par


@pytest.mark.parametrize("family", ["beta", "bernoulli", "binomial", "beta_binomial"])
@pytest.mark.parametrize("D", [1, 3])
def test_items_weighted_and_loglik_thread_invariance(family, D):
    weighted = D == 1 or family == "beta"
    data, p = _family_data(family, 240, 500, D, seed=31 + D, weighted=weighted)
    # chunks of whole models of at least 4096 observations (about 10 models): 20 or more chunks
    assert data.nobs >= 20 * 4096
    args = (data, p["a"], p["d"], p["log_phi"])
    infos = ["observed"] + (["expected"] if family != "beta_binomial" else [])
    base = {info: _kernel.accumulate_items_weighted(*args, p["nodes"], p["node_weights"],
                                                    information=info, n_threads=1)
            for info in infos}
    ll0 = _kernel.loglik(data, p["theta"], *args[1:], n_threads=1)
    grid0 = _kernel.loglik_grid(*args, p["nodes"], n_threads=1)
    assert np.isfinite(ll0) and np.all(np.isfinite(grid0))
    for info in infos:
        v0, g0, h0 = base[info]
        assert np.isfinite(v0) and np.all(np.isfinite(g0)) and np.all(np.isfinite(h0))
        np.testing.assert_array_equal(h0, np.swapaxes(h0, 1, 2))
    # more threads than cores: chunks finish out of order and slots are reused
    for nt in (2, 3, 8, 16):
        for _ in range(2):
            for info in infos:
                v, g, h = _kernel.accumulate_items_weighted(*args, p["nodes"], p["node_weights"],
                                                            information=info, n_threads=nt)
                v0, g0, h0 = base[info]
                assert v == v0, (info, nt)
                assert np.array_equal(g, g0), (info, nt)
                assert np.array_equal(h, h0), (info, nt)
        assert _kernel.loglik(data, p["theta"], *args[1:], n_threads=nt) == ll0, nt
        assert np.array_equal(_kernel.loglik_grid(*args, p["nodes"], n_threads=nt), grid0), nt
