"""Correctness of the fast paths of WLE scoring and of the beta information.

* :func:`irsl_stats._trigamma.trigamma` against ``mpmath.psi(1, x)`` over ``1e-8 .. 1e8``;
* the beta ``eta_information`` uses it (not scipy's slow ``polygamma``) and keeps its value;
* ``_expected_info`` evaluates all ability columns in one call, with the per-column sums;
* the WLE's widened grids and Newton passes cover only the models still searching, and every
  model's estimate is the one it gets when scored alone, for any thread count.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy import special as sc
from scipy.optimize import minimize_scalar

from irsl_stats import _kernel, scoring, selection

FAMILIES = ["bernoulli", "binomial", "beta", "beta_binomial"]


def _data(family: str, n_models: int = 60, n_items: int = 25, seed: int = 0):
    """Random 2PL responses with weights, one model with no responses, one answering all at the
    top (its WLE needs widened grids: far from the prior) and a few far from the prior."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.3, 2.5, n_items)
    d = rng.normal(0.0, 1.5, n_items)
    log_phi = np.log(rng.uniform(2.0, 40.0, n_items)) if family in ("beta", "beta_binomial") else None
    theta = rng.normal(0.0, 1.5, n_models)
    theta[:4] = [12.0, -15.0, 40.0, 0.0]
    n_per = rng.integers(1, n_items + 1, n_models)
    n_per[3] = 0
    model = np.repeat(np.arange(n_models), n_per)
    item = np.concatenate([rng.choice(n_items, k, replace=False) for k in n_per])
    mu = sc.expit(a[item] * theta[model] + d[item])
    trials = None
    if family == "bernoulli":
        y = (rng.random(mu.size) < mu).astype(float)
        y[model == 0] = 1.0
    elif family == "beta":
        phi = np.exp(log_phi[item])
        y = np.clip(rng.beta(np.maximum(mu * phi, 1e-3), np.maximum((1 - mu) * phi, 1e-3)), 1e-6, 1 - 1e-6)
    else:
        trials = rng.integers(1, 6, mu.size).astype(float)
        p = mu
        if family == "beta_binomial":
            phi = np.exp(log_phi[item])
            p = rng.beta(np.maximum(mu * phi, 1e-3), np.maximum((1 - mu) * phi, 1e-3))
        y = rng.binomial(trials.astype(int), p).astype(float)
        y[model == 0] = trials[model == 0]
    weight = rng.uniform(0.5, 2.0, y.size)
    kd = _kernel.KernelData(model, item, y, n_models=n_models, n_items=n_items, family=family,
                            trials=trials, weight=weight,
                            model_ptr=np.concatenate([[0], np.cumsum(n_per)]))
    return kd, a, d, log_phi


def test_trigamma_matches_mpmath_over_1e_minus8_to_1e8() -> None:
    from irsl_stats._trigamma import trigamma

    x = np.unique(np.concatenate([np.logspace(-8, 8, 1601), np.linspace(0.05, 25.0, 400),
                                  [9.999999999, 10.0, 10.000000001]]))
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.psi(1, mpmath.mpf(float(v)))) for v in x])
    got = trigamma(x)
    assert got.shape == x.shape
    assert np.max(np.abs(got - ref) / ref) <= 1e-12
    # tiny arguments: psi'(x) ~ 1/x^2
    assert trigamma(np.array([1e-8]))[0] == pytest.approx(1e16, rel=1e-12)
    # special values: +inf -> 0, NaN propagates, the pole at 0 and negative x as scipy
    edge = trigamma(np.array([np.inf, np.nan, 0.0, -0.5]))
    assert edge[0] == 0.0 and np.isnan(edge[1]) and edge[2] == np.inf
    assert edge[3] == pytest.approx(sc.polygamma(1, -0.5), rel=1e-14)
    assert trigamma(2.0).shape == ()


def test_beta_eta_information_uses_fast_trigamma_and_keeps_its_value(monkeypatch) -> None:
    eta = np.linspace(-35.0, 35.0, 141)[:, None]
    phi = np.array([1e-6, 0.3, 2.0, 25.0, 1e4])[None, :]
    mu, q = sc.expit(eta), sc.expit(-eta)
    with mpmath.workdps(40):
        def g(x):
            return float(1 + mpmath.mpf(float(x)) ** 2 * mpmath.psi(1, 1 + mpmath.mpf(float(x))))

        ref = np.vectorize(lambda m, qq, p: qq * qq * g(m * p) + m * m * g(qq * p))(mu, q, phi)

    def no_polygamma(*args, **kwargs):
        raise AssertionError("scipy.special.polygamma is the slow path; use _trigamma.trigamma")

    monkeypatch.setattr(selection.special, "polygamma", no_polygamma)
    got = selection.eta_information("beta", eta, phi)
    assert np.max(np.abs(got - ref) / ref) <= 1e-13


@pytest.mark.parametrize("family", FAMILIES)
def test_expected_info_evaluates_all_columns_in_one_call(family: str, monkeypatch) -> None:
    kd, a, d, log_phi = _data(family)
    pts = np.random.default_rng(1).normal(0.0, 2.0, (kd.n_models, 33))
    # reference: the per-column sums, written out
    phi = None if log_phi is None else np.exp(log_phi[kd.item])
    w = a[kd.item] ** 2 * kd.weight
    ref = np.empty(pts.shape)
    for q in range(pts.shape[1]):
        eta = np.clip(a[kd.item] * pts[kd.model, q] + d[kd.item], -30.0, 30.0)
        ie = selection.eta_information(family, eta, phi, kd.trials)
        ref[:, q] = np.bincount(kd.model, weights=w * ie, minlength=kd.n_models)
    calls = []
    real = scoring.eta_information

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, "eta_information", counted)
    got = scoring._expected_info(kd, a, d, log_phi, pts)
    assert len(calls) == 1  # not one call per column
    # same rows summed in the same order per (model, column): equal to rounding
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=0)
    assert got[3].tolist() == [0.0] * 33  # the model without responses
    # shape (M,) works too
    one = scoring._expected_info(kd, a, d, log_phi, pts[:, 5])
    np.testing.assert_allclose(one, ref[:, 5], rtol=1e-14, atol=0)


def _wle_objective(kd, a, d, log_phi, i):
    """``l(theta) + 0.5 log I(theta)`` of model ``i`` alone (loglik_grid and _expected_info)."""
    sub = scoring._model_subset(kd, np.array([i]))

    def f(t):
        ll = _kernel.loglik_grid(sub, a[:, None], d, log_phi, np.array([[[t]]]), n_threads=1)[0, 0]
        return ll + 0.5 * np.log(scoring._expected_info(sub, a, d, log_phi, np.array([t]))[0])

    return f


@pytest.mark.parametrize("family", FAMILIES)
def test_wle_passes_cover_only_the_models_still_searching(family: str, monkeypatch) -> None:
    kd, a, d, log_phi = _data(family)
    m = kd.n_models
    mean, sd = np.zeros(m), np.ones(m)
    sizes = {"grid": [], "newton": []}
    real_grid, real_acc = scoring._kernel.loglik_grid, scoring._kernel.accumulate

    def grid(data, *args, **kwargs):
        sizes["grid"].append(data.n_models)
        return real_grid(data, *args, **kwargs)

    def acc(data, *args, **kwargs):
        sizes["newton"].append(data.n_models)
        return real_acc(data, *args, **kwargs)

    monkeypatch.setattr(scoring._kernel, "loglik_grid", grid)
    monkeypatch.setattr(scoring._kernel, "accumulate", acc)
    theta, info, at_bound, converged, passes = scoring._wle(kd, a, d, log_phi, mean, sd, 1)
    monkeypatch.undo()
    # only the model without responses (a flat objective) ends at the widest grid's edge
    assert converged.all() and np.flatnonzero(at_bound).tolist() == [3]
    assert passes == len(sizes["grid"]) + len(sizes["newton"])
    # model 2 (ability 40) or 0 (all at the top) needs widened grids: only the models at an
    # edge are evaluated on them
    assert len(sizes["grid"]) > 1 and sizes["grid"][0] == m and max(sizes["grid"][1:]) < m
    # the Newton passes shrink with the active set
    newton = sizes["newton"]
    assert newton[0] == m and newton[-1] < m
    assert all(b <= a_ for a_, b in zip(newton, newton[1:]))
    # every model's estimate is the one it gets alone, and the same for any thread count
    for i in [0, 1, 2, 5, 17]:
        sub = scoring._model_subset(kd, np.array([i]))
        alone = scoring._wle(sub, a, d, log_phi, mean[:1], sd[:1], 1)
        assert alone[0][0] == theta[i] and alone[1][0] == info[i]
    two = scoring._wle(kd, a, d, log_phi, mean, sd, 2)
    assert np.array_equal(two[0], theta) and np.array_equal(two[1], info)
    # and it is the maximum of l + 0.5 log I (checked by a bounded scalar search)
    for i in [0, 2, 5, 17]:
        f = _wle_objective(kd, a, d, log_phi, i)
        best = minimize_scalar(lambda t: -f(t), bounds=(theta[i] - 0.5, theta[i] + 0.5),
                               method="bounded", options={"xatol": 1e-10})
        assert f(theta[i]) >= f(best.x) - 1e-10
        assert theta[i] == pytest.approx(best.x, abs=1e-4)
    # the model without responses has no information
    assert info[3] == 0.0
