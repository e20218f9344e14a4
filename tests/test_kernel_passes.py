"""Accumulation passes of the C++ kernel against the NumPy reference and finite differences.

* accumulate / loglik / loglik_grid / accumulate_items_weighted equal tests/_numpy_kernel.py to
  1e-10 relative, for every family, D = 1 and D = 2, with and without weights;
* the assembled gradients, Hessian blocks and cross terms match finite differences of loglik;
* results for n_threads = 1, 2, 4 are bitwise identical; n_threads = 0 and -2 raise.
"""

from __future__ import annotations

import numpy as np
import pytest

import _numpy_kernel as ref
from irsl_stats import _kernel

FAMILIES = ["beta", "bernoulli", "binomial", "beta_binomial"]


def simulate(family: str, D: int, weighted: bool, n_models=40, n_items=60, density=0.7, seed=0):
    rng = np.random.default_rng(seed + 7 * D + FAMILIES.index(family))
    cells = [(i, j) for i in range(n_models) for j in range(n_items) if rng.uniform() < density]
    model = np.array([c[0] for c in cells], np.int32)
    item = np.array([c[1] for c in cells], np.int32)
    n = model.size
    theta = rng.normal(size=(n_models, D))
    a = rng.uniform(0.4, 1.6, (n_items, D))
    d = rng.normal(0, 1, n_items)
    log_phi = rng.normal(np.log(8.0), 0.5, n_items)
    trials = None
    if family == "beta":
        y = rng.uniform(0.02, 0.98, n)
    elif family == "bernoulli":
        y = rng.integers(0, 2, n).astype(float)
    else:
        trials = rng.integers(1, 40, n).astype(float)
        y = np.minimum(np.floor(rng.uniform(0, 1, n) * (trials + 1)), trials)
    weight = rng.uniform(0.0, 2.0, n) if weighted else None
    ptr = np.concatenate([[0], np.cumsum(np.bincount(model, minlength=n_models))]).astype(np.int64)
    data = _kernel.KernelData(model, item, y, n_models=n_models, n_items=n_items, family=family,
                              trials=trials, weight=weight, model_ptr=ptr)
    return data, dict(theta=theta, a=a, d=d, log_phi=log_phi)


def rel_close(x, y, rtol=1e-10):
    x, y = np.asarray(x), np.asarray(y)
    scale = np.max(np.abs(y)) if y.size else 1.0
    assert np.max(np.abs(x - y), initial=0.0) <= rtol * max(scale, 1e-300)


CASES = [(f, D, w) for f in FAMILIES for D in (1, 2) for w in (False, True)]


@pytest.mark.parametrize("family,D,weighted", CASES)
def test_accumulate_matches_numpy(family, D, weighted):
    data, p = simulate(family, D, weighted)
    got = _kernel.accumulate(data, p["theta"], p["a"], p["d"], p["log_phi"], cross=True)
    want = ref.accumulate(family, data.model, data.item, data.y, p["theta"], p["a"], p["d"],
                          p["log_phi"], trials=data.trials, weight=data.weight, cross=True)
    assert abs(got.loglik - want["loglik"]) <= 1e-10 * abs(want["loglik"])
    ll = _kernel.loglik(data, p["theta"], p["a"], p["d"], p["log_phi"])
    assert abs(ll - want["loglik"]) <= 1e-10 * abs(want["loglik"])
    for key in ("grad_theta", "hess_theta", "grad_item", "hess_item", "cross"):
        rel_close(getattr(got, key), want[key])
    if family == "beta":
        got_e = _kernel.accumulate(data, p["theta"], p["a"], p["d"], p["log_phi"], information="expected")
        want_e = ref.accumulate(family, data.model, data.item, data.y, p["theta"], p["a"], p["d"],
                                p["log_phi"], weight=data.weight, expected=True)
        rel_close(got_e.hess_theta, want_e["hess_theta"])
        rel_close(got_e.hess_item, want_e["hess_item"])


def test_optional_outputs_are_none():
    data, p = simulate("beta", 1, False, 10, 10)
    acc = _kernel.accumulate(data, p["theta"], p["a"], p["d"], p["log_phi"], model_blocks=False,
                             item_blocks=False)
    assert acc.grad_theta is None and acc.hess_item is None and acc.cross is None
    assert np.isfinite(acc.loglik)


@pytest.mark.parametrize("family,D", [(f, D) for f in FAMILIES for D in (1, 2)])
def test_grid_and_items_weighted_match_numpy(family, D):
    data, p = simulate(family, D, True, n_models=12, n_items=20, seed=3)
    rng = np.random.default_rng(1)
    Q = 5
    nodes = rng.normal(size=(data.n_models, Q, D))
    nw = rng.uniform(size=(data.n_models, Q))
    nw /= nw.sum(axis=1, keepdims=True)
    grid = _kernel.loglik_grid(data, p["a"], p["d"], p["log_phi"], nodes)
    want = ref.loglik_grid(family, data.model_ptr, data.item, data.y, p["a"], p["d"], p["log_phi"],
                           nodes, trials=data.trials, weight=data.weight)
    rel_close(grid, want)
    val, g, h = _kernel.accumulate_items_weighted(data, p["a"], p["d"], p["log_phi"], nodes, nw)
    wv, wg, wh = ref.items_weighted(family, data.model_ptr, data.item, data.y, p["a"], p["d"],
                                    p["log_phi"], nodes, nw, trials=data.trials, weight=data.weight)
    assert abs(val - wv) <= 1e-10 * abs(wv)
    rel_close(g, wg)
    rel_close(h, wh)
    # the objective is the node-weighted grid
    assert abs(val - np.sum(nw * grid)) <= 1e-10 * abs(val)


def fd_grad(f, x, h=1e-5):
    x = np.array(x, float)
    g = np.zeros(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        g[k] = (f((x + e).reshape(x.shape)) - f((x - e).reshape(x.shape))) / (2 * h)
    return g


@pytest.mark.parametrize("family,D", [(f, D) for f in FAMILIES for D in (1, 2)])
def test_gradients_hessians_cross_finite_differences(family, D):
    """Gradients by FD of loglik; Hessian blocks and cross terms by FD of the gradients."""
    data, p = simulate(family, D, True, n_models=5, n_items=6, density=1.0, seed=11)
    th, a, d, lp = p["theta"], p["a"], p["d"], p["log_phi"]
    acc = _kernel.accumulate(data, th, a, d, lp, cross=True)
    i, j = 2, 3
    # model gradient / Hessian for model i
    def ll_theta(v):
        t = th.copy()
        t[i] = v
        return _kernel.loglik(data, t, a, d, lp)

    def grad_theta(v):
        t = th.copy()
        t[i] = v
        return _kernel.accumulate(data, t, a, d, lp).grad_theta[i]

    np.testing.assert_allclose(fd_grad(ll_theta, th[i]), acc.grad_theta[i], rtol=5e-6, atol=1e-7)
    hess = np.array([fd_grad(lambda v: grad_theta(v)[k], th[i]) for k in range(D)])
    np.testing.assert_allclose(hess, acc.hess_theta[i], rtol=5e-6, atol=1e-7)

    # item gradient / Hessian for item j: parameters (a_j, d_j, log_phi_j)
    def unpack(v):
        aa, dd, ll = a.copy(), d.copy(), lp.copy()
        aa[j], dd[j], ll[j] = v[:D], v[D], v[D + 1]
        return aa, dd, ll

    x0 = np.concatenate([a[j], [d[j], lp[j]]])
    g_fd = fd_grad(lambda v: _kernel.loglik(data, th, *unpack(v)), x0)
    np.testing.assert_allclose(g_fd, acc.grad_item[j], rtol=5e-6, atol=1e-7)
    h_fd = np.array([
        fd_grad(lambda v: _kernel.accumulate(data, th, *unpack(v)).grad_item[j][k], x0)
        for k in range(D + 2)
    ])
    np.testing.assert_allclose(h_fd, acc.hess_item[j], rtol=5e-6, atol=1e-6)

    # cross terms of the observation (i, j): d/d theta_i of the item gradient contribution
    t = np.flatnonzero((data.model == i) & (data.item == j))[0]
    w = data.weight[t]

    def item_grad_obs(v):
        tt = th.copy()
        tt[i] = v
        eta = np.array([a[j] @ v + d[j]])
        _, le, ls, _, _, _ = _kernel.obs_derivatives(_single(data, t), eta, lp[j:j + 1])
        return w * np.concatenate([le[0] * v, [le[0], ls[0]]])

    c_fd = np.array([fd_grad(lambda v: item_grad_obs(v)[m], th[i]) for m in range(D + 2)]).T
    np.testing.assert_allclose(c_fd, acc.cross[t], rtol=5e-6, atol=1e-7)


def _single(data: _kernel.KernelData, t: int) -> _kernel.KernelData:
    tr = None if data.trials is None else data.trials[t:t + 1]
    return _kernel.KernelData(np.zeros(1, np.int32), np.zeros(1, np.int32), data.y[t:t + 1],
                              n_models=1, n_items=1, family=data.family, trials=tr)


@pytest.mark.parametrize("family", ["beta", "beta_binomial"])
def test_thread_count_invariance(family):
    data, p = simulate(family, 2, True, n_models=120, n_items=150, density=0.9, seed=5)
    assert data.nobs > 3 * 4096  # several chunks
    rng = np.random.default_rng(2)
    nodes = rng.normal(size=(data.n_models, 3, 2))
    nw = np.full((data.n_models, 3), 1 / 3)
    results = []
    for nt in (1, 2, 4):
        acc = _kernel.accumulate(data, p["theta"], p["a"], p["d"], p["log_phi"], cross=True, n_threads=nt)
        ll = _kernel.loglik(data, p["theta"], p["a"], p["d"], p["log_phi"], n_threads=nt)
        grid = _kernel.loglik_grid(data, p["a"], p["d"], p["log_phi"], nodes, n_threads=nt)
        iw = _kernel.accumulate_items_weighted(data, p["a"], p["d"], p["log_phi"], nodes, nw, n_threads=nt)
        results.append((acc, ll, grid, iw))
    base = results[0]
    for acc, ll, grid, iw in results[1:]:
        assert acc.loglik == base[0].loglik and ll == base[1]
        for key in ("grad_theta", "hess_theta", "grad_item", "hess_item", "cross"):
            assert np.array_equal(getattr(acc, key), getattr(base[0], key)), key
        assert np.array_equal(grid, base[2])
        assert iw[0] == base[3][0]
        assert np.array_equal(iw[1], base[3][1]) and np.array_equal(iw[2], base[3][2])


@pytest.mark.parametrize("bad", [0, -2, -100])
def test_bad_n_threads_raise(bad):
    data, p = simulate("beta", 1, False, 5, 5)
    with pytest.raises(ValueError, match="n_threads"):
        _kernel.loglik(data, p["theta"], p["a"], p["d"], p["log_phi"], n_threads=bad)
    with pytest.raises(ValueError, match="n_threads"):
        _kernel.resolve_n_threads(bad)


def test_resolve_n_threads_and_build_info():
    info = _kernel.build_info()
    assert set(info) >= {"openmp", "openmp_version", "max_threads", "num_procs", "compiler", "build_type"}
    assert _kernel.resolve_n_threads(None) == info["max_threads"]
    assert _kernel.resolve_n_threads(-1) == info["num_procs"]
    assert _kernel.resolve_n_threads(3) == 3


def test_empty_data():
    data = _kernel.KernelData(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0),
                              n_models=2, n_items=3, family="beta", model_ptr=np.zeros(3, np.int64))
    acc = _kernel.accumulate(data, np.zeros((2, 1)), np.ones((3, 1)), np.zeros(3), np.zeros(3), cross=True)
    assert acc.loglik == 0.0 and np.all(acc.grad_item == 0) and acc.cross.shape == (0, 1, 3)
    assert _kernel.loglik_grid(data, np.ones(3), np.zeros(3), np.zeros(3), np.zeros((2, 4))).shape == (2, 4)
