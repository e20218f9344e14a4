"""Smoke tests of the plots (issue #7): each function returns a Figure with the expected artists,
labels and data, draws on a given Axes, and rejects bad input with an error naming the argument.

Figures are built without pyplot (``matplotlib.figure.Figure``) and rendered with Agg.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import special  # noqa: E402

import irsl_stats as irsl  # noqa: E402
from irsl_stats import plots  # noqa: E402

FAMILIES = ["fam0", "fam1", "fam2"]


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=60, n_questions=80, benchmarks=2, seed=3)


@pytest.fixture(scope="module")
def res(sim):
    return irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models,
                    benchmark="benchmark", method="jml", full_cov=False, n_threads=1)


@pytest.fixture(scope="module")
def bank(res):
    return res.item_bank()


def labelled_lines(ax):
    """Lines that carry a legend label (the fitted laws / curves), by label."""
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


# ----------------------------------------------------------------------------- plot_scaling
def test_plot_scaling_draws_law_and_band_per_group(res):
    fig = irsl.plot_scaling(res, x="compute", by="family")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    # per family: curve + error-bar markers (lines), band + error bars (collections)
    assert len(ax.get_lines()) == 2 * len(FAMILIES)
    assert len(ax.collections) == 2 * len(FAMILIES)
    assert len(bands(ax)) == len(FAMILIES)
    assert ax.get_xlabel() == "compute"
    assert "ability" in ax.get_ylabel()
    assert ax.get_xscale() == "log"
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == FAMILIES
    # the drawn curve is the law from predict at those covariates
    cov = res.design.covariates
    for fam, line in labelled_lines(ax).items():
        xs, ys = line.get_data()
        obs = cov.loc[cov["family"] == fam, "compute"]
        assert xs.min() == pytest.approx(obs.min()) and xs.max() == pytest.approx(obs.max())
        new = pd.DataFrame({"compute": xs, "family": fam})
        np.testing.assert_allclose(ys, res.predict(new)["mean"].to_numpy(), rtol=1e-12)
    fig.savefig(__import__("io").BytesIO(), format="png")  # renders headless


def test_plot_scaling_band_contains_curve_and_widens_with_alpha(res):
    def band_width(alpha):
        ax = irsl.plot_scaling(res, x="compute", by="family", levels=["fam1"], alpha=alpha).axes[0]
        (b,) = bands(ax)
        (line,) = labelled_lines(ax).values()
        y = b.get_paths()[0].vertices[:, 1]
        assert y.min() < line.get_ydata().min() and y.max() > line.get_ydata().max()
        return np.ptp(y)

    assert band_width(0.01) > band_width(0.2)


def test_plot_scaling_score_with_benchmark_and_range(res):
    fig = res.plot_scaling(x="compute", by="family", what="score", benchmark="bench1",
                           x_range=(1e19, 1e27), band="prediction")
    ax = fig.axes[0]
    assert "bench1" in ax.get_ylabel()
    for fam, line in labelled_lines(ax).items():
        xs, ys = line.get_data()
        assert xs[0] == pytest.approx(1e19) and xs[-1] == pytest.approx(1e27)
        assert np.all((ys > 0) & (ys < 1)) and np.all(np.diff(ys) > 0)
        new = pd.DataFrame({"compute": xs, "family": fam})
        np.testing.assert_allclose(ys, res.predict(new, what="score", benchmark="bench1")["score"], rtol=1e-12)


def test_plot_scaling_single_group_on_given_axes(res):
    fig = Figure()
    ax = fig.add_subplot()
    out = irsl.plot_scaling(res, x="compute", ax=ax, logx=False)
    assert out is fig
    assert len(ax.get_lines()) == 2 and len(bands(ax)) == 1
    assert ax.get_xscale() == "linear" and ax.get_legend() is None


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(x="flops"), "x='flops'"),
        (dict(x="family"), "numeric"),
        (dict(by="size"), "by='size'"),
        (dict(what="loss"), "what"),
        (dict(band="wide"), "band"),
        (dict(alpha=1.5), "alpha"),
        (dict(by="family", levels=["famX"]), "levels"),
        (dict(levels=["fam0"]), "levels= needs by="),
        (dict(x_range=(10, 1)), "x_range"),
    ],
)
def test_plot_scaling_errors(res, kw, match):
    kw = {"x": "compute", **kw}
    with pytest.raises(ValueError, match=match):
        irsl.plot_scaling(res, **kw)


def test_plot_scaling_rejects_non_results():
    with pytest.raises(TypeError, match="res must be an IRSLResults"):
        irsl.plot_scaling(pd.DataFrame(), x="compute")


# ----------------------------------------------------------------------------- plot_items
def test_plot_items_icc_curves_are_the_expected_response(bank):
    fig = bank.plot_items(max_items=5)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 5
    assert ax.get_xlabel() == "ability θ" and ax.get_ylabel() == "expected response"
    b = bank.items["b"]
    shown = [ln.get_label().split(" ")[0] for ln in lines]
    # spread over the difficulty range: the easiest and the hardest question are included
    assert b.idxmin() in shown and b.idxmax() in shown
    for ln, q in zip(lines, shown):
        th, y = ln.get_data()
        it = bank.items.loc[q]
        np.testing.assert_allclose(y, special.expit(it["a"] * th + it["d"]), rtol=1e-12)
    m, s = bank.population
    assert lines[0].get_xdata()[0] == pytest.approx(m - 4 * s)


def test_plot_items_information_of_selected_questions(bank):
    qs = list(bank.select(4, strategy="random", seed=1, by="benchmark"))
    theta = np.linspace(-3, 3, 31)
    fig = irsl.plot_items(bank, questions=qs, what="information", theta=theta)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(qs) == 8
    assert ax.get_ylabel() == "Fisher information"
    info = bank.information(theta, questions=qs)
    for ln in ax.get_lines():
        q = ln.get_label().split(" ")[0]
        np.testing.assert_allclose(ln.get_ydata(), info[q].to_numpy(), rtol=1e-12)


def test_plot_items_benchmark_filter_and_given_axes(bank):
    fig = Figure()
    ax = fig.add_subplot()
    out = irsl.plot_items(bank, benchmark="bench0", max_items=100, ax=ax)
    assert out is fig
    assert len(ax.get_lines()) == int((bank.items["benchmark"] == "bench0").sum())
    assert "bench0" in ax.get_title()


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(what="tcc"), ValueError, "what"),
        (dict(questions=["nope"]), ValueError, "not in the bank"),
        (dict(max_items=0), ValueError, "max_items"),
        (dict(theta=[[0.0, 1.0]]), ValueError, "theta"),
        (dict(benchmark="bench9"), ValueError, "bench9"),
    ],
)
def test_plot_items_errors(bank, kw, exc, match):
    with pytest.raises(exc, match=match):
        irsl.plot_items(bank, **kw)


# ----------------------------------------------------------------------------- plot_pass_at_k
@pytest.fixture(scope="module")
def forecast(res):
    theta = res.abilities["theta"].iloc[:3]
    fc = res.item_bank().forecast_pass_at_k(theta, [1, 2, 5, 10, 100, 1000],
                                            se=res.abilities["se"].iloc[:3].to_numpy())
    return fc


def test_plot_pass_at_k_curves_bands_points(forecast):
    models = list(pd.unique(forecast["model"]))
    obs = forecast[forecast["k"] <= 10][["model", "k", "pass_at_k"]].assign(
        pass_at_k=lambda f: f["pass_at_k"] * 0.98)
    fig = irsl.plot_pass_at_k(forecast, observed=obs, logy=True)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(models)
    assert len(bands(ax)) == len(models)
    assert len(ax.collections) == 2 * len(models)  # bands + observed points
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel().startswith("k") and ax.get_ylabel() == "pass@k"
    line = labelled_lines(ax)[str(models[0])]
    f0 = forecast[forecast["model"] == models[0]].sort_values("k")
    np.testing.assert_allclose(line.get_ydata(), f0["pass_at_k"].to_numpy())


def test_plot_pass_at_k_subset_no_band_single_curve(forecast):
    m = forecast["model"].iloc[0]
    fig = irsl.plot_pass_at_k(forecast, models=[m], logx=False)
    assert len(fig.axes[0].get_lines()) == 1 and fig.axes[0].get_xscale() == "linear"
    bare = forecast[forecast["model"] == m][["k", "pass_at_k"]]
    ax = irsl.plot_pass_at_k(bare).axes[0]
    assert len(ax.get_lines()) == 1 and not bands(ax) and ax.get_legend() is None


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda f: dict(forecast=f.drop(columns="pass_at_k")), r"forecast lacks column\(s\) \['pass_at_k'\]"),
        (lambda f: dict(forecast=f, observed=f[["model", "k"]]), "observed lacks"),
        (lambda f: dict(forecast=f, models=["zzz"]), "models"),
        (lambda f: dict(forecast=f.assign(k=0)), "positive"),
        (lambda f: dict(forecast=f, observed=f[["k", "pass_at_k"]]), "observed needs a 'model'"),
    ],
)
def test_plot_pass_at_k_errors(forecast, make, match):
    with pytest.raises(ValueError, match=match):
        irsl.plot_pass_at_k(**make(forecast))


def test_plot_pass_at_k_type_error():
    with pytest.raises(TypeError, match="forecast must be a pandas DataFrame"):
        irsl.plot_pass_at_k([1, 2, 3])


# ----------------------------------------------------------------------------- plot_power_law
def power_curves():
    ks = np.geomspace(1, 2000, 40)
    frames = [pd.DataFrame({"model": m, "k": ks, "pass_at_k": np.exp(-c * ks ** -b)})
              for m, c, b in (("m1", 0.9, 0.3), ("m2", 2.0, 0.5))]
    return pd.concat(frames, ignore_index=True)


def test_plot_power_law_lines_are_minus_log_pass_at_k():
    curves = power_curves()
    fits = pd.DataFrame({"model": ["m1", "m2"], "slope": [-0.3, -0.5], "intercept": np.log([0.9, 2.0]),
                         "k_min": [1.0, 1.0], "k_max": [2000.0, 2000.0]})
    obs = curves[curves["k"] < 50].assign(pass_at_k=lambda f: np.minimum(f["pass_at_k"] * 1.01, 1.0))
    fig = irsl.plot_power_law(curves, fits, observed=obs)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 4 and len(ax.collections) == 2
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "log pass@k" in ax.get_ylabel()
    curve = labelled_lines(ax)["m1"]
    k1 = curves[curves["model"] == "m1"]
    np.testing.assert_allclose(curve.get_ydata(), -np.log(k1["pass_at_k"].to_numpy()))
    # an exact power law: the dashed fitted line lies on the curve
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 2
    xs, ys = dashed[0].get_data()
    np.testing.assert_allclose(ys, 0.9 * xs ** -0.3, rtol=1e-12)


def test_plot_power_law_with_power_law_fit():
    testtime = pytest.importorskip("irsl_stats.testtime")
    curves = power_curves()
    fits = testtime.power_law_fit(curves)
    ax = irsl.plot_power_law(curves, fits, models=["m2"]).axes[0]
    assert len(ax.get_lines()) == 2


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(fits=pd.DataFrame({"slope": [1.0]})), r"fits lacks column\(s\)"),
        (dict(models=["m9"]), "m9"),
        (dict(value="coverage"), r"curves lacks column\(s\) \['coverage'\]"),
    ],
)
def test_plot_power_law_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        irsl.plot_power_law(power_curves(), **kw)


# ----------------------------------------------------------------------------- decision accuracy
def da_table():
    rows = []
    for seed in range(3):
        for r in (0.01, 0.1, 0.5):
            rows.append(dict(seed=seed, ratio=r, method="irsl", decision_accuracy=0.8 + 0.1 * r + 0.01 * seed))
            rows.append(dict(seed=seed, ratio=r, method="naive", decision_accuracy=0.7))
    rows.append(dict(seed=0, ratio=np.nan, method="naive", decision_accuracy=0.9))  # a "score" row
    return pd.DataFrame(rows)


def test_plot_decision_accuracy_means_over_repeats():
    fig = irsl.plot_decision_accuracy(da_table(), labels={"naive": "naive subset mean"})
    ax = fig.axes[0]
    lines = labelled_lines(ax)
    assert set(lines) == {"irsl", "naive subset mean"}
    assert len(ax.get_lines()) == 3  # two methods + chance line
    assert len(bands(ax)) == 2
    xs, ys = lines["irsl"].get_data()
    np.testing.assert_allclose(xs, [0.01, 0.1, 0.5])
    np.testing.assert_allclose(ys, 0.81 + 0.1 * xs)
    np.testing.assert_allclose(lines["naive subset mean"].get_ydata(), 0.7)
    assert ax.get_xscale() == "log"
    assert "compute ratio" in ax.get_xlabel() and ax.get_ylabel() == "decision accuracy"


def test_plot_decision_accuracy_single_line_no_chance():
    t = da_table().query("seed == 0 and method == 'irsl'")
    ax = irsl.plot_decision_accuracy(t, by=None, y="decision_accuracy", chance=None, logx=False).axes[0]
    assert len(ax.get_lines()) == 1 and not bands(ax)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(by="strategy"), r"lacks column\(s\) \['strategy'\]"),
        (dict(x="mae"), r"'mae'"),
    ],
)
def test_plot_decision_accuracy_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        irsl.plot_decision_accuracy(da_table(), **kw)


def test_plot_decision_accuracy_no_finite_rows():
    t = da_table().assign(ratio=np.nan)
    with pytest.raises(ValueError, match="estimand == 'forecast'"):
        irsl.plot_decision_accuracy(t)


# ----------------------------------------------------------------------------- optional dependency
def test_missing_matplotlib_says_how_to_install(monkeypatch, bank):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "irsl_stats\[plot\]"'):
        irsl.plot_items(bank)


def test_bad_ax_is_a_type_error(bank):
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        irsl.plot_items(bank, ax="left")


def test_package_import_does_not_import_matplotlib(tmp_path):
    import subprocess

    code = "import sys, irsl_stats; print('matplotlib' in sys.modules)"
    # run outside the source tree: with ``-c`` the working directory comes first on sys.path, and
    # the repository's irsl_stats/ (without the compiled kernel) would shadow the installed package
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "False"


def test_module_exports():
    assert set(plots.__all__) <= set(irsl.__all__)
