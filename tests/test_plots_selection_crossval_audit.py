"""Audit of plots, selection and cross-validation: plotted numbers equal the results' numbers,
information values equal independent references at extreme parameters, folds do not leak.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import mpmath as mp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import irsl_stats as irsl  # noqa: E402
from irsl_stats.selection import eta_information, item_information  # noqa: E402


# ----------------------------------------------------------------------------- references
def _mp_beta_info(eta: float, phi: float) -> float:
    """Beta information about eta in 50-digit arithmetic (textbook trigamma formula)."""
    with mp.workdps(50):
        e, p = mp.mpf(eta), mp.mpf(phi)
        mu, q = 1 / (1 + mp.exp(-e)), 1 / (1 + mp.exp(e))
        return float((p * mu * q) ** 2 * (mp.psi(1, mu * p) + mp.psi(1, q * p)))


def _mp_bb_info(eta: float, phi: float, n: int) -> float:
    """Beta-binomial information: exact sum over k of pmf * score^2, in 50-digit arithmetic."""
    with mp.workdps(50):
        e, p = mp.mpf(eta), mp.mpf(phi)
        mu, q = 1 / (1 + mp.exp(-e)), 1 / (1 + mp.exp(e))
        al, be = mu * p, q * p
        tot = mp.mpf(0)
        for k in range(n + 1):
            pk = mp.binomial(n, k) * mp.beta(k + al, n - k + be) / mp.beta(al, be)
            s = mu * q * p * (mp.psi(0, k + al) - mp.psi(0, n - k + be) - mp.psi(0, al) + mp.psi(0, be))
            tot += pk * s**2
        return float(tot)


def _fd_bb_info(eta: float, phi: float, n: int, h: float = 1e-4) -> float:
    """-E[d^2 log p / d eta^2] by central differences of scipy's log pmf, summed over k."""
    k = np.arange(n + 1)

    def logpmf(e):
        mu = 1 / (1 + np.exp(-e))
        return stats.betabinom.logpmf(k, n, mu * phi, (1 - mu) * phi)

    d2 = (logpmf(eta + h) - 2 * logpmf(eta) + logpmf(eta - h)) / h**2
    return float(-(np.exp(logpmf(eta)) * d2).sum())


# ----------------------------------------------------------------------------- selection
@pytest.mark.parametrize("eta,phi,n", [(0.0, 1.0, 4), (1.5, 10.0, 7), (-2.0, 0.5, 3), (0.7, 200.0, 5)])
def test_beta_binomial_information_equals_second_derivative(eta, phi, n):
    assert eta_information("beta_binomial", eta, phi, n) == pytest.approx(_fd_bb_info(eta, phi, n), rel=1e-5)


@pytest.mark.parametrize("family", ["beta", "beta_binomial"])
@pytest.mark.parametrize("eta", [36.0, 40.0, -40.0, 300.0])
@pytest.mark.parametrize("phi", [0.05, 10.0, 1e6])
def test_information_at_extreme_eta_is_finite_and_exact(family, eta, phi):
    # before: 1 - expit(eta) is 0 above eta ~ 37 -> NaN (0 * inf), and 5.6% off at eta = 36
    got = float(eta_information(family, eta, phi, 3))
    ref = _mp_beta_info(eta, phi) if family == "beta" else _mp_bb_info(eta, phi, 3)
    assert np.isfinite(got)
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("eta", [-3.0, 0.4, 2.0])
def test_beta_binomial_information_at_large_precision(eta):
    # before: differences of digammas of ~1e9 lost ~6 digits (error ~3e-6 relative)
    ref = _mp_bb_info(eta, 1e9, 20)
    assert float(eta_information("beta_binomial", eta, 1e9, 20)) == pytest.approx(ref, rel=1e-10)


def test_information_limits_between_families():
    eta = np.linspace(-4, 4, 9)
    mu = 1 / (1 + np.exp(-eta))
    # beta-binomial with one trial is Bernoulli; for huge phi it is binomial
    assert np.allclose(eta_information("beta_binomial", eta, 3.0, 1), mu * (1 - mu), rtol=1e-12)
    assert np.allclose(eta_information("beta_binomial", eta, 1e12, 6), 6 * mu * (1 - mu), rtol=1e-9)
    assert np.all(eta_information("beta_binomial", eta, 2.0, 6) < 6 * mu * (1 - mu))


@pytest.mark.parametrize("family", ["beta", "beta_binomial"])
def test_missing_or_invalid_phi_is_an_error_not_nan(family):
    # before: phi=None became NaN (beta) or a TypeError deep in scipy
    with pytest.raises(ValueError, match="phi"):
        eta_information(family, 0.3)
    with pytest.raises(ValueError, match="phi"):
        eta_information(family, 0.3, phi=[1.0, -2.0])


def test_fractional_trials_are_rejected():
    # before: int(2.5) silently used 2 trials
    with pytest.raises(ValueError, match="trials"):
        eta_information("beta_binomial", 0.3, 5.0, 2.5)
    with pytest.raises(ValueError, match="trials"):
        eta_information("binomial", 0.3, trials=-1)


def test_item_information_accepts_scalar_parameters():
    # before: a scalar phi (or a, d) raised IndexError
    theta = np.array([-1.0, 0.5])
    got = item_information("beta", theta, 1.3, 0.2, 8.0)
    ref = 1.3**2 * np.array([_mp_beta_info(1.3 * t + 0.2, 8.0) for t in theta])
    assert got.shape == (2, 1)
    assert np.allclose(got[:, 0], ref, rtol=1e-12)
    with pytest.raises(ValueError, match="theta"):
        item_information("bernoulli", np.zeros((2, 2)), [1.0], [0.0])


# ----------------------------------------------------------------------------- plots
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture(scope="module")
def res():
    sim = irsl.simulate.irt(n_models=40, n_questions=50, benchmarks=2, seed=3)
    return irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models,
                    benchmark="benchmark", method="jml", full_cov=False, n_threads=1)


def _curves(ax):
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


def _band(ax):
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    return band


@pytest.mark.parametrize("band,cols", [("confidence", ("mean_ci_lower", "mean_ci_upper")),
                                       ("prediction", ("obs_ci_lower", "obs_ci_upper"))])
def test_plot_scaling_band_is_predict_interval(res, band, cols):
    ax = irsl.plot_scaling(res, x="compute", by="family", levels=["fam1"], alpha=0.1, band=band).axes[0]
    (line,) = _curves(ax).values()
    xs = line.get_xdata()
    pred = res.predict(pd.DataFrame({"compute": xs, "family": "fam1"}), alpha=0.1)
    verts = _band(ax).get_paths()[0].vertices
    n = xs.size
    # fill_between's path: a start point, the lower edge forwards, the upper edge backwards
    np.testing.assert_allclose(verts[1:n + 1, 0], xs, rtol=1e-12)
    np.testing.assert_allclose(verts[1:n + 1, 1], pred[cols[0]], rtol=1e-10)
    np.testing.assert_allclose(verts[n + 2:2 * n + 2, 1][::-1], pred[cols[1]], rtol=1e-10)


def test_plot_scaling_title_shows_the_level_exactly(res):
    # before: int(round(99.5)) printed a "100% confidence band" for alpha=0.005
    ax = irsl.plot_scaling(res, x="compute", alpha=0.005).axes[0]
    assert "99.5% confidence band" in ax.get_title()
    assert "95% confidence" in irsl.plot_scaling(res, x="compute").axes[0].get_title()


def test_plot_scaling_level_keeps_its_colour_in_a_subset(res):
    # before: colours were assigned over the drawn levels, so fam2 alone got fam1's colour
    full = _curves(irsl.plot_scaling(res, x="compute", by="family").axes[0])
    for lev in ["fam0", "fam2"]:
        sub = _curves(irsl.plot_scaling(res, x="compute", by="family", levels=[lev]).axes[0])
        assert to_rgba(sub[lev].get_color()) == to_rgba(full[lev].get_color())


def test_plot_pass_at_k_model_keeps_its_colour_in_a_subset():
    fc = pd.DataFrame({"model": np.repeat(["a", "b", "c"], 2), "k": [1, 10] * 3,
                       "pass_at_k": [0.1, 0.3, 0.2, 0.4, 0.3, 0.5]})
    full = _curves(irsl.plot_pass_at_k(fc).axes[0])
    sub = _curves(irsl.plot_pass_at_k(fc, models=["c"]).axes[0])
    assert to_rgba(sub["c"].get_color()) == to_rgba(full["c"].get_color())


def test_plots_reject_pyplot_as_ax_and_leave_global_state_alone(res):
    import matplotlib.pyplot as plt

    before = (plt.get_fignums(), dict(matplotlib.rcParams))
    fc = pd.DataFrame({"k": [1, 10], "pass_at_k": [0.2, 0.5]})
    # before: the pyplot module passed the duck-typing check and failed with an AttributeError
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        irsl.plot_pass_at_k(fc, ax=plt)
    fig = Figure()
    ax = fig.add_subplot()
    assert irsl.plot_scaling(res, x="compute", ax=ax) is fig
    assert irsl.plot_pass_at_k(fc, ax=ax) is fig
    assert (plt.get_fignums(), dict(matplotlib.rcParams)) == before


def test_plot_pass_at_k_log_axes_reject_non_positive_values():
    fc = pd.DataFrame({"k": [1, 10, 100], "pass_at_k": [0.0, 0.5, 0.8]}, index=["r0", "r1", "r2"])
    # before: logy silently dropped the pass@k = 0 point
    with pytest.raises(ValueError, match=r"forecast\['pass_at_k'\].*logy.*r0"):
        irsl.plot_pass_at_k(fc, logy=True)
    irsl.plot_pass_at_k(fc)  # fine on a linear y axis
    obs = pd.DataFrame({"k": [1, 10], "pass_at_k": [0.2, -0.1]})
    with pytest.raises(ValueError, match=r"observed\['pass_at_k'\]"):
        irsl.plot_pass_at_k(fc.assign(pass_at_k=[0.1, 0.5, 0.8]), observed=obs, logy=True)


def test_plot_pass_at_k_non_numeric_k_names_the_column():
    fc = pd.DataFrame({"k": ["1", "x", "3"], "pass_at_k": [0.1, 0.5, 0.8]})
    # before: "could not convert string to float: 'x'"
    with pytest.raises(ValueError, match=r"forecast\['k'\] must be numeric.*'x'"):
        irsl.plot_pass_at_k(fc)


def test_plot_power_law_rejects_bad_fitted_range():
    ks = np.array([1.0, 10.0, 100.0])
    curve = pd.DataFrame({"k": ks, "pass_at_k": np.exp(-0.8 * ks ** -0.4)})
    fits = pd.DataFrame({"slope": [-0.4], "intercept": [0.0], "k_min": [0.0], "k_max": [100.0]})
    # before: numpy's "Geometric sequence cannot include zero"
    with pytest.raises(ValueError, match="fits: rows .*k_min"):
        irsl.plot_power_law(curve, fits)
    ax = irsl.plot_power_law(curve, fits.assign(k_min=1.0)).axes[0]
    kg, yg = ax.get_lines()[1].get_data()
    np.testing.assert_allclose(yg, kg ** -0.4, rtol=1e-12)


def test_plot_items_rejects_boolean_max_items(res):
    bank = res.item_bank()
    with pytest.raises(ValueError, match="max_items"):
        irsl.plot_items(bank, max_items=True)


# ----------------------------------------------------------------------------- crossval
from irsl_stats import crossval as cv  # noqa: E402


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    th = rng.normal(size=24)
    sc = pd.DataFrame({b: 1 / (1 + np.exp(-(th * a + rng.normal(0, 0.3, 24))))
                       for b, a in [("a", 1.0), ("b", 0.8), ("c", 1.2)]})
    sc.index = [f"m{i:02d}" for i in range(24)]
    return sc


@pytest.fixture(scope="module")
def tt():
    return irsl.simulate.test_time(n_models=10, n_questions=30, benchmarks=("src", "tgt"), n_samples=40, seed=0)


@pytest.mark.parametrize("n,folds", [(7, 2), (10, 3), (12, 12)])
def test_fold_labels_are_balanced_covering_and_seeded(n, folds):
    f = cv.fold_labels(n, folds, seed=4)
    assert f.shape == (n,) and set(f.tolist()) == set(range(folds))
    sizes = np.bincount(f, minlength=folds)
    assert sizes.max() - sizes.min() <= 1
    np.testing.assert_array_equal(f, cv.fold_labels(n, folds, seed=4))
    assert any(not np.array_equal(f, cv.fold_labels(n, folds, seed=s)) for s in range(5, 10)) or folds == n


def test_holdout_study_rejects_scores_outside_unit_interval(scores):
    pct = scores * 100
    # before: the fit's message named an internal column 'y' and the rows of one fold's table
    with pytest.raises(ValueError, match=r"scores must be in \[0, 1\].*'m00', 'a'"):
        cv.holdout_benchmark_study(pct, folds=2, dims=1, n_threads=1)
    with pytest.raises(ValueError, match=r"column\(s\) 'b' are not numeric"):
        cv.holdout_benchmark_study(scores.assign(b=scores["b"].astype(str)), folds=2, dims=1, n_threads=1)


@pytest.mark.parametrize("kw,match", [(dict(pca_components=0), "pca_components"),
                                      (dict(pca_components=-1), "pca_components"),
                                      (dict(eps=0.7), "eps"), (dict(eps=0.0), "eps")])
def test_holdout_study_validates_baseline_arguments(scores, kw, match):
    # before: pca_components=-1 silently used all components but the last; eps=0.7 clipped
    # every score to 0.3
    with pytest.raises(ValueError, match=match):
        cv.holdout_benchmark_study(scores, folds=2, dims=1, n_threads=1, **kw)


def test_holdout_study_forecasts_do_not_see_the_held_out_score(scores):
    base = cv.holdout_benchmark_study(scores, folds=3, dims=1, n_threads=1)
    row = base[(base["fold"] == 0) & (base["benchmark"] == "b")].iloc[0]
    changed = scores.copy()
    changed.loc[row["model"], "b"] = 0.999 if row["truth"] < 0.5 else 0.001
    again = cv.holdout_benchmark_study(changed, folds=3, dims=1, n_threads=1)
    pick = (again["fold"] == 0) & (again["benchmark"] == "b") & (again["model"] == row["model"])
    new = again[pick].iloc[0]
    assert new["truth"] != row["truth"]
    for col in ["irsl", "irsl_mean", "irsl_lower", "irsl_upper", "ols", "pca"]:
        assert new[col] == pytest.approx(row[col], rel=1e-9), col
    # each model is tested exactly once per benchmark
    assert (base.groupby(["model", "benchmark"]).size() == 1).all() and len(base) == 24 * 3


def test_transfer_study_forecast_does_not_see_the_test_models_target(tt):
    kw = dict(successes="successes", trials="trials", folds=3, n_threads=1)
    base = cv.transfer_study(tt.responses, "src", "tgt", **kw).set_index("model")
    m = base.index[base["fold"] == 0][0]
    resp = tt.responses.copy()
    on_target = (resp["model"] == m) & (resp["benchmark"] == "tgt")
    resp.loc[on_target, "successes"] = resp.loc[on_target, "trials"] - resp.loc[on_target, "successes"]
    again = cv.transfer_study(resp, "src", "tgt", **kw).set_index("model")
    assert again.loc[m, "truth"] != pytest.approx(base.loc[m, "truth"])
    for col in ["irsl", "irsl_mean", "irsl_lower", "irsl_upper", "on_source"]:
        assert again.loc[m, col] == pytest.approx(base.loc[m, col], rel=1e-8), col
    assert sorted(base.index) == sorted(pd.unique(tt.responses["model"]))


@pytest.mark.parametrize("kw,match", [
    (dict(), r"response=.*successes=.*trials="),
    (dict(successes="successes"), r"trials=None"),
    (dict(response="nope"), r"\{'response': 'nope'\}"),
    (dict(successes="successes", trials="trials", eps=2.0), "eps"),
])
def test_transfer_study_validates_response_arguments(tt, kw, match):
    # before: KeyError(None) / KeyError('nope'); eps=2.0 ended in a LinAlgError
    with pytest.raises(ValueError, match=match):
        cv.transfer_study(tt.responses, "src", "tgt", folds=3, n_threads=1, **kw)


def test_stratified_pick_rejects_more_picks_than_questions():
    from irsl_stats.selection import stratified_pick

    rng = np.random.default_rng(0)
    # before: n > N silently returned repeated questions
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 4\]"):
        stratified_pick(np.arange(4.0), 6, rng)
    picks = stratified_pick(np.arange(4.0), 4, rng)
    assert sorted(picks.tolist()) == [0, 1, 2, 3]
