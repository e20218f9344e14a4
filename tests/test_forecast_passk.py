"""``res.forecast_pass_at_k``: the Beta expectation of pass@k from a beta-binomial fit."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl


@pytest.fixture(scope="module")
def fitted():
    sim = irsl.simulate.test_time(n_models=6, n_questions=40, n_samples=200, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)  # very hard questions: d at its bound
        res = irsl.fit("ability ~ 1", data=sim.responses, successes="successes", trials="trials",
                       family="beta_binomial", n_threads=1)
    return sim, res


def test_tidy_frame_with_intervals(fitted):
    _, res = fitted
    out = res.forecast_pass_at_k([1, 10, 100])
    assert list(out.columns) == ["model", "k", "pass_at_k", "lower", "upper"]
    assert len(out) == 3 * len(res.abilities)
    assert (out["lower"] <= out["pass_at_k"]).all() and (out["pass_at_k"] <= out["upper"]).all()
    # pass@k grows with k for every model
    wide = out.pivot(index="model", columns="k", values="pass_at_k")
    assert (np.diff(wide.to_numpy(), axis=1) > 0).all()


def test_beta_expectation_beats_the_plugin(fitted):
    sim, res = fitted
    ks = [10, 100]
    truth = sim.pass_at_k_truth(ks).set_index(["model", "k"])["pass_at_k"]
    beta = res.forecast_pass_at_k(ks).set_index(["model", "k"])["pass_at_k"]
    plug = res.forecast_pass_at_k(ks, plugin=True).set_index(["model", "k"])["pass_at_k"]
    truth.index = truth.index.set_levels(truth.index.levels[0].astype(str), level=0)
    err_beta = np.abs(beta - truth.reindex(beta.index)).mean()
    err_plug = np.abs(plug - truth.reindex(plug.index)).mean()
    assert err_beta < 0.03
    assert err_plug > 3 * err_beta
    # k = 1: the two coincide (E[p] = mu)
    one = res.forecast_pass_at_k([1])
    assert np.allclose(one["pass_at_k"], res.forecast_pass_at_k([1], plugin=True)["pass_at_k"])


def test_bank_forecast_on_every_k_equals_the_elementwise_expectation(fitted):
    import pandas as pd
    from scipy.special import expit

    from irsl_stats.passk import beta_pass_at_k, plugin_pass_at_k

    _, res = fitted
    bank = res.item_bank()
    theta = pd.Series([-0.5, 0.8], index=["x", "y"])
    ks = np.arange(1, 2001)
    out = bank.forecast_pass_at_k(theta, ks)
    assert list(out["model"][:2]) == ["x", "y"] and list(out["k"][:2]) == [1, 1]  # budgets outermost
    a, d, phi = (bank.items[c].to_numpy() for c in ("a", "d", "phi"))
    for m, t in theta.items():
        mu = np.clip(expit(a * t + d), 1e-300, 1 - 2.0**-53)  # very hard questions: mu underflows
        got = out[out["model"] == m]["pass_at_k"].to_numpy()
        np.testing.assert_allclose(got, beta_pass_at_k(mu[:, None], phi[:, None], ks[None, :]).mean(axis=0),
                                   rtol=1e-10)
        plug = bank.forecast_pass_at_k(theta, ks, plugin=True)
        np.testing.assert_allclose(plug[plug["model"] == m]["pass_at_k"],
                                   plugin_pass_at_k(mu[:, None], ks[None, :]).mean(axis=0), rtol=1e-10)


def test_bank_forecast_integrated_over_the_ability(fitted):
    from scipy.special import expit

    from irsl_stats.passk import beta_pass_at_k

    _, res = fitted
    bank = res.item_bank()
    ks = np.array([1, 10, 100, 1000])
    theta, se = np.array([0.3]), np.array([0.4])
    out = bank.forecast_pass_at_k(theta, ks, se=se, integrate=True, n_quad=15)
    # the mean of the curve over N(theta, se^2), by brute-force quadrature on a fine grid
    grid = np.linspace(-6, 6, 2001)
    w = np.exp(-0.5 * grid**2)
    w /= w.sum()
    a, d, phi = (bank.items[c].to_numpy() for c in ("a", "d", "phi"))
    want = sum(wi * beta_pass_at_k(np.clip(expit(a * (0.3 + 0.4 * z) + d), 1e-300, 1 - 2.0**-53)[:, None],
                                   phi[:, None], ks[None, :]).mean(axis=0)
               for z, wi in zip(grid, w))
    # 15 nodes: within ~1e-3 (the exact error depends on the fitted bank, i.e. on the library
    # versions the fit ran with); more nodes must shrink it
    np.testing.assert_allclose(out["pass_at_k"], want, atol=2e-3)
    # (slowly with discriminations near their bound: 61 nodes gave 1e-4, 121 nodes 2e-5)
    fine = bank.forecast_pass_at_k(theta, ks, se=se, integrate=True, n_quad=121)["pass_at_k"]
    assert np.max(np.abs(fine - want)) < 0.2 * np.max(np.abs(out["pass_at_k"] - want))  # converges
    point = bank.forecast_pass_at_k(theta, ks, se=se)
    np.testing.assert_allclose(out[["lower", "upper"]], point[["lower", "upper"]])  # same interval
    assert not np.allclose(out["pass_at_k"], point["pass_at_k"])
    assert (out["lower"] <= out["pass_at_k"]).all() and (out["pass_at_k"] <= out["upper"]).all()
    with pytest.raises(ValueError, match="se"):
        bank.forecast_pass_at_k(theta, ks, integrate=True)
    with pytest.raises(ValueError, match="se"):
        bank.forecast_pass_at_k(theta, ks, se=[-1.0])
    with pytest.raises(ValueError, match="theta"):
        bank.forecast_pass_at_k([np.nan], ks)
