"""The code paths of the accumulate pass added for speed.

* The chunk reorder buffer of accumulate (chunks claimed dynamically, added to the outputs in
  chunk order by whichever thread completes the next one due): with many chunks and more threads
  than cores, chunks finish out of order and buffer slots are reused, and the results must still
  be bitwise identical for every thread count, for every combination of requested outputs.
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
