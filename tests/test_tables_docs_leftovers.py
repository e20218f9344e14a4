"""Leftovers of the table and documentation audits.

1. The ``n`` columns of the fitted tables (``items``, ``abilities``), ``nobs`` and the summary count
   the responses that entered the likelihood: rows with a positive weight, not rows weighted 0 by
   ``weights=`` or the rows of a JML model held at +-inf (all its responses extreme).
2. ``simulate.correlated_benchmarks`` reports no precision for the families without one and
   documents its clipping of beta responses.
3. The plots document when they leave out the legend, and the item characteristic curves of the
   count families say that they show a per-trial probability.

Figures are built without pyplot and rendered with Agg.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import irsl_stats as irsl  # noqa: E402
from irsl_stats import plots, simulate  # noqa: E402
from irsl_stats.results import IRSLWarning  # noqa: E402

COUNTS = dict(successes="successes", trials="trials", family="binomial")


def _quiet(f, *args, **kwargs):
    """Call ``f`` with its IRSLWarnings silenced (the fits here are about counts, not quality)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return f(*args, **kwargs)


@pytest.fixture(scope="module")
def sim():
    return simulate.irt(n_models=40, n_questions=50, family="binomial", n_trials=10, seed=5)


@pytest.fixture(scope="module")
def zero_rows(sim):
    df = sim.responses.copy()
    drop = np.random.default_rng(1).random(len(df)) < 0.1
    df["w"] = np.where(drop, 0.0, 1.0)
    return df, drop


# ============================================================================ 1. n counts fitted rows
@pytest.mark.parametrize("method", ["mml", "jml"])
def test_zero_weights_give_the_counts_of_the_fit_without_those_rows(sim, zero_rows, method):
    df, drop = zero_rows
    kw = dict(models=sim.models, method=method, n_threads=1, **COUNTS)
    rw = _quiet(irsl.fit, "ability ~ log(compute)", data=df, weights="w", **kw)
    rd = _quiet(irsl.fit, "ability ~ log(compute)", data=df[~drop], **kw)
    assert rw.nobs == rd.nobs == int((~drop).sum())
    pd.testing.assert_series_equal(rw.items["n"], rd.items["n"].reindex(rw.items.index))
    pd.testing.assert_series_equal(rw.abilities["n"], rd.abilities["n"].reindex(rw.abilities.index))
    assert rw.items["n"].sum() == rw.abilities["n"].sum() == rw.nobs
    assert rw.items["n"].dtype == np.int64 and rw.abilities["n"].dtype == np.int64
    # and the information criteria do not change either
    assert rw.bic == pytest.approx(rd.bic, rel=1e-8)
    assert f"{rw.nobs} responses" in repr(rw)
    assert rw.fit_info.n_weight_zero == int(drop.sum()) and rd.fit_info.n_weight_zero == 0


def test_fractional_weights_count_rows_not_their_sum(sim):
    df = sim.responses.assign(w=0.25)
    r = _quiet(irsl.fit, "ability ~ 1", data=df, weights="w", method="jml", n_threads=1, **COUNTS)
    assert r.nobs == len(df)
    assert (r.items["n"] == 40).all() and (r.abilities["n"] == 50).all()


def test_summary_counts_fitted_responses_and_says_why(sim, zero_rows):
    df, drop = zero_rows
    r = _quiet(irsl.fit, "ability ~ 1", data=df, weights="w", method="jml", n_threads=1, **COUNTS)
    text = " ".join(r.summary().as_text().split())
    assert f"No. responses: {int((~drop).sum()):,}" in text
    assert f"{int(drop.sum())} row(s) of the data carry weight 0" in text
    # without weights 0 there is no such note
    plain = _quiet(irsl.fit, "ability ~ 1", data=sim.responses, method="jml", n_threads=1, **COUNTS)
    assert "carry weight 0" not in plain.summary().as_text()


def test_jml_model_with_all_extreme_responses_is_not_counted(sim):
    """Under JML an all-correct model is held at +inf and its rows leave the likelihood: the
    counts are those of the fit without the model's rows."""
    df = sim.responses.copy()
    top = df["model"] == df["model"].iloc[0]
    df.loc[top, "successes"] = df.loc[top, "trials"]
    kw = dict(method="jml", n_threads=1, **COUNTS)
    r = _quiet(irsl.fit, "ability ~ 1", data=df, **kw)
    m0 = df["model"].iloc[0]
    assert r.abilities.loc[m0, "n"] == 0
    assert r.nobs == len(df) - int(top.sum()) and r.fit_info.n_weight_zero == int(top.sum())
    without = df[~top].copy()
    without["model"] = without["model"].cat.remove_unused_categories()
    rd = _quiet(irsl.fit, "ability ~ 1", data=without, **kw)
    pd.testing.assert_series_equal(r.items["n"], rd.items["n"].reindex(r.items.index))
    # MML integrates the ability: every row enters the marginal likelihood
    rm = _quiet(irsl.fit, "ability ~ 1", data=df, method="mml", n_threads=1, **COUNTS)
    assert rm.nobs == len(df) and rm.abilities.loc[m0, "n"] == 50


def test_calibrated_bank_counts_fitted_rows(sim, zero_rows):
    df, drop = zero_rows
    bw = _quiet(irsl.calibrate, df, weights="w", method="jml", n_threads=1, **COUNTS)
    bd = _quiet(irsl.calibrate, df[~drop], method="jml", n_threads=1, **COUNTS)
    np.testing.assert_array_equal(bw.items["n"].to_numpy(), bd.items["n"].reindex(bw.items.index).to_numpy())


def test_multidim_counts_fitted_rows():
    cb = simulate.correlated_benchmarks(n_models=40, questions=[6, 6], corr=[[1, .5], [.5, 1]],
                                        family="binomial", n_trials=10, seed=3)
    df = cb.responses.copy()
    drop = np.random.default_rng(2).random(len(df)) < 0.1
    df["w"] = np.where(drop, 0.0, 0.5)
    kw = dict(benchmark="benchmark", ability="per_benchmark", n_threads=1, max_iter=5, **COUNTS)
    rw = _quiet(irsl.fit, "ability ~ 1", data=df, weights="w", **kw)
    rd = _quiet(irsl.fit, "ability ~ 1", data=df[~drop], **kw)
    assert rw.nobs == rd.nobs == int((~drop).sum())
    pd.testing.assert_series_equal(rw.items["n"], rd.items["n"].reindex(rw.items.index))
    pd.testing.assert_series_equal(rw.abilities["n"], rd.abilities["n"].reindex(rw.abilities.index))
    assert f"No. responses: {rw.nobs:,}" in " ".join(rw.summary().as_text().split())


def test_n_columns_are_documented():
    doc = " ".join(irsl.IRSLResults.__doc__.split())
    assert "positive weight" in doc and "R's ``nobs()``" in doc
    doc = " ".join(irsl.MultidimResults.__doc__.split())
    assert "positive weight" in doc


# ============================================================================ 2. correlated_benchmarks
@pytest.mark.parametrize("family", ["bernoulli", "binomial"])
def test_correlated_benchmarks_reports_no_precision_without_one(family):
    cb = simulate.correlated_benchmarks(n_models=5, questions=3, family=family, phi=7.0, seed=0)
    assert "phi" in cb.items.columns  # the column stays, as in simulate.irt
    assert cb.items["phi"].isna().all()


@pytest.mark.parametrize("family", ["beta", "beta_binomial"])
def test_correlated_benchmarks_reports_the_precision_it_used(family):
    cb = simulate.correlated_benchmarks(n_models=5, questions=3, family=family, phi=7.0, seed=0)
    assert (cb.items["phi"] == 7.0).all()


def test_correlated_benchmarks_documents_the_clipping():
    # phi small: many Beta draws round to 0 or 1 before the clipping
    cb = simulate.correlated_benchmarks(n_models=200, questions=5, phi=0.05, seed=0)
    y = cb.responses["y"]
    assert y.min() == pytest.approx(1e-6) and y.max() == pytest.approx(1 - 1e-6)
    doc = " ".join(simulate.correlated_benchmarks.__doc__.split())
    assert "clipped to ``[1e-6, 1 - 1e-6]``" in doc
    assert "NaN" in doc  # phi of the families without a precision
    assert "clipping" in " ".join(simulate.CorrelatedBenchmarks.__doc__.split())


# ============================================================================ 3. plots
def _bank(family):
    items = pd.DataFrame({"a": [1.0, 1.5], "d": [0.5, -1.0]}, index=["q1", "q2"])
    if family in ("beta", "beta_binomial"):
        items["phi"] = [10.0, 20.0]
    return irsl.ItemBank(items, family=family)


@pytest.mark.parametrize(
    ("family", "label"),
    [("bernoulli", "P(correct)"),
     ("binomial", "P(correct) per trial = E[successes] / trials"),
     ("beta_binomial", "P(correct) per trial = E[successes] / trials"),
     ("beta", "expected response")],
)
def test_item_characteristic_curve_label_says_what_is_drawn(family, label):
    fig = plots.plot_items(_bank(family), what="icc", theta=np.linspace(-2, 2, 5))
    ax = fig.axes[0]
    assert ax.get_ylabel() == label
    # the curves are per-trial probabilities, not expected counts: they stay in (0, 1)
    y = np.concatenate([line.get_ydata() for line in ax.get_lines()])
    assert np.all((y > 0) & (y < 1))
    fig.canvas.draw()


def _forecast(n_models):
    return pd.DataFrame({"model": np.repeat([f"m{i}" for i in range(n_models)], 2), "k": np.tile([1, 10], n_models),
                         "pass_at_k": np.tile([0.2, 0.5], n_models)})


@pytest.mark.parametrize(("n_models", "has_legend"), [(12, True), (13, False)])
def test_legend_threshold_is_the_documented_one(n_models, has_legend):
    # 12: the number the docstrings state (checked below)
    f = _forecast(n_models)
    assert (plots.plot_pass_at_k(f).axes[0].get_legend() is not None) == has_legend
    assert (plots.plot_power_law(f).axes[0].get_legend() is not None) == has_legend


@pytest.mark.parametrize("func", ["plot_scaling", "plot_items", "plot_pass_at_k", "plot_power_law"])
def test_dropped_legend_is_documented(func):
    doc = " ".join(getattr(plots, func).__doc__.split())
    limit = "MAX_LEGEND_ITEMS` (10)" if func == "plot_items" else "MAX_LEGEND_GROUPS` (12)"
    assert limit in doc and "there is none" in doc


def test_score_axis_of_a_count_fit_says_per_trial_rate(sim):
    res = _quiet(irsl.fit, "ability ~ log(compute)", data=sim.responses, models=sim.models, n_threads=1, **COUNTS)
    ax = plots.plot_scaling(res, x="compute", what="score").axes[0]
    assert ax.get_ylabel() == "expected success rate per trial (all questions)"
    beta = simulate.irt(n_models=30, n_questions=20, seed=0)
    res_b = _quiet(irsl.fit, "ability ~ log(compute)", data=beta.responses, models=beta.models, n_threads=1)
    assert plots.plot_scaling(res_b, x="compute", what="score").axes[0].get_ylabel() == "expected score (all questions)"
