"""Audit of the study modules: metrics, crossval, testtime, scoring, crossbench.

References are brute force, closed forms or numerical integration (never the package's own output).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import irsl_stats as irsl
from irsl_stats import testtime
from irsl_stats.bank import ItemBank
from irsl_stats.crossbench import MultidimBank
from irsl_stats.crossval import fold_labels, mae_table, transfer_study
from irsl_stats.metrics import decision_accuracy
from irsl_stats.results import IRSLWarning


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    return irsl.simulate.test_time(n_models=5, n_questions=12, n_samples=60, seed=0, irt="1pl").responses


@pytest.fixture(scope="module")
def bb_bank(counts) -> ItemBank:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)  # never-solved questions in the simulation
        return irsl.calibrate(counts, successes="successes", trials="trials", family="beta_binomial",
                              irt="1pl", n_threads=1)


def _bernoulli_bank(seed: int = 0) -> tuple[ItemBank, np.ndarray]:
    d = np.random.default_rng(seed).normal(size=10)
    items = pd.DataFrame({"a": 1.0, "d": d, "benchmark": ["A"] * 6 + ["B"] * 4},
                         index=[f"q{j}" for j in range(10)])
    return ItemBank(items, family="bernoulli", irt="1pl", population=(0.2, 1.3)), d


def _grid_posterior(log_post, lo=-12.0, hi=12.0, n=200_001):
    grid = np.linspace(lo, hi, n)
    lp = log_post(grid)
    w = np.exp(lp - lp.max())
    return grid, w / w.sum()


# ----------------------------------------------------------------------------------- metrics
def test_decision_accuracy_of_huge_finite_scores_has_no_overflow_warning():
    # 1e308 - (-1e308) overflows; the signs of the differences are still well defined
    pred = np.array([1e308, -1e308, 0.0, 5.0])
    act = np.array([1.0, 2.0, 3.0, 3.0])
    want = 0.0
    den = 0
    for i, j in itertools.combinations(range(4), 2):
        if act[i] == act[j]:
            continue
        den += 1
        want += float((pred[i] > pred[j]) == (act[i] > act[j]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decision_accuracy(pred, act) == pytest.approx(want / den, abs=1e-15)


# ----------------------------------------------------------------------------------- scoring
def test_scoring_matches_numerical_integration_and_finite_differences():
    bank, d = _bernoulli_bank(0)
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1])
    resp = pd.DataFrame({"model": "m", "question": bank.questions, "y": y})
    mean, sd = bank.population

    def ll(t):
        eta = np.asarray(t, float)[..., None] + d
        return (y * eta - np.logaddexp(0.0, eta)).sum(axis=-1)

    grid, w = _grid_posterior(lambda t: ll(t) + stats.norm.logpdf(t, mean, sd))
    eap_ref = float(w @ grid)
    sd_ref = float(np.sqrt(w @ (grid - eap_ref) ** 2))
    eap = bank.score(resp, method="eap", n_threads=1)
    assert eap["theta"].iloc[0] == pytest.approx(eap_ref, abs=1e-7)
    assert eap["se"].iloc[0] == pytest.approx(sd_ref, abs=1e-7)
    ml = bank.score(resp, method="ml", n_threads=1)
    t, h = float(ml["theta"].iloc[0]), 1e-4
    assert (ll(t + h) - ll(t - h)) / (2 * h) == pytest.approx(0.0, abs=1e-6)
    info = -(ll(t + h) - 2 * ll(t) + ll(t - h)) / h**2
    assert ml["se"].iloc[0] == pytest.approx(1 / np.sqrt(info), rel=1e-5)


# ----------------------------------------------------------------------------------- crossbench
def test_forecast_of_a_bernoulli_bank_matches_numerical_integration():
    # a one-dimensional bank without precisions had log_phi = NaN and the kernel refused it
    bank, d = _bernoulli_bank(0)
    y = np.array([1, 0, 1, 1, 0, 1])
    using = pd.DataFrame({"model": [7] * 6, "question": bank.questions[:6], "y": y})
    mean, sd = bank.population
    grid, w = _grid_posterior(lambda t: (y * (t[:, None] + d[:6]) - np.logaddexp(0, t[:, None] + d[:6])).sum(1)
                              + stats.norm.logpdf(t, mean, sd))
    mu_b = special.expit(grid[:, None] + d[None, 6:])
    mb = MultidimBank.from_item_bank(bank)
    fc = mb.forecast("B", using, n_threads=1)
    assert fc.index.tolist() == [7]
    assert fc["score"].iloc[0] == pytest.approx(float(w @ mu_b.mean(1)), abs=1e-5)
    fk = mb.forecast("B", using, ks=[1, 3], n_threads=1)
    for k, got in zip([1, 3], fk["pass_at_k"]):
        assert got == pytest.approx(float(w @ (1 - (1 - mu_b) ** k).mean(1)), abs=1e-5)


def test_res_forecast_of_a_binomial_fit_runs():
    sim = irsl.simulate.correlated_benchmarks(n_models=30, questions=6, family="binomial", n_trials=20,
                                              seed=0, corr=np.array([[1.0, 0.9], [0.9, 1.0]]))
    r = sim.responses
    res = irsl.fit("ability ~ 1", data=r, benchmark="benchmark", family="binomial", irt="1pl",
                   successes="successes", trials="trials", n_threads=1)
    new = r[r["model"].isin(r["model"].unique()[:3]) & (r["benchmark"] == "bench1")]
    fc = res.forecast("bench2", using=new)
    assert len(fc) == 3 and np.isfinite(fc[["score", "lower", "upper"]].to_numpy()).all()
    assert ((fc["lower"] <= fc["score"]) & (fc["score"] <= fc["upper"])).all()


def test_multidim_forecast_rejects_empty_targets_and_fractional_ks():
    bank, _ = _bernoulli_bank(0)
    mb = MultidimBank.from_item_bank(bank)
    using = pd.DataFrame({"model": "m", "question": bank.questions[:6], "y": [1, 0, 1, 1, 0, 1]})
    with pytest.raises(ValueError, match="no target questions"):
        mb.forecast([], using)
    with pytest.raises(ValueError, match="no target questions"):
        mb.forecast("B", using, target_questions=[])
    with pytest.raises(ValueError, match=r"ks: .*integers >= 1; got \[2.5\]"):
        mb.forecast("B", using, ks=[2.5])
    with pytest.raises(ValueError, match=r"unknown benchmark\(s\) \['C'\]; known: \['A', 'B'\]"):
        mb.forecast("C", using)


# ----------------------------------------------------------------------------------- testtime
@pytest.mark.parametrize("ks", [[0, 1], [-1, 1], [np.nan], [], [[1, 2]]])
def test_forecast_from_counts_rejects_invalid_budgets(counts, bb_bank, ks):
    few = irsl.simulate.subsample_counts(counts, 10, seed=1)
    # k = 0 gave NaN where a rate is 1, k = -1 a pass@k of -inf, [] an empty table
    with pytest.raises(ValueError, match="`ks`"):
        testtime.forecast_from_counts(bb_bank, few, ks, forecasts=("empirical",))


def test_forecast_from_counts_validates_counts_for_every_forecast(counts, bb_bank):
    few = irsl.simulate.subsample_counts(counts, 10, seed=1)
    with pytest.raises(ValueError, match="appear more than once"):
        testtime.forecast_from_counts(bb_bank, pd.concat([few, few.iloc[:1]]), [1, 2],
                                      forecasts=("empirical",))
    unknown = few.astype({"question": str})
    unknown.loc[unknown.index[0], "question"] = "zz"
    with pytest.raises(ValueError, match="not in the item bank: 'zz'"):
        testtime.forecast_from_counts(bb_bank, unknown, [1, 2], forecasts=("empirical",))


def test_observed_and_forecast_curves_of_a_categorical_subset(counts, bb_bank):
    # one model of the simulator's categorical table: the other models stay as categories
    sub = counts[counts["model"] == "lm1"]
    assert isinstance(sub["model"].dtype, pd.CategoricalDtype)
    obs = testtime.observed_pass_at_k(sub, [1, 5])
    c, n = sub["successes"].to_numpy(), sub["trials"].to_numpy()
    ref = [np.mean([1 - special.comb(nn - cc, k) / special.comb(nn, k) for nn, cc in zip(n, c)]) for k in (1, 5)]
    np.testing.assert_allclose(obs["pass_at_k"], ref, atol=1e-14)
    out = testtime.forecast_from_counts(bb_bank, sub, [1, 5], forecasts=("empirical",))
    np.testing.assert_allclose(out["pass_at_k"], [np.mean(1 - (1 - c / n) ** k) for k in (1, 5)], atol=1e-14)


@pytest.mark.parametrize("kwargs, match", [
    ({"models": []}, "`models` must not be empty"),
    ({"models": ["lm0", "lm0"]}, r"`models` has duplicates \['lm0'\]"),
    ({"irts": ("1pl", "1pl")}, r"`irts` has duplicates \['1pl'\]"),
    ({"families": ()}, "`families` must not be empty"),
])
def test_leave_one_model_out_rejects_empty_or_repeated_selections(counts, kwargs, match):
    with pytest.raises(ValueError, match=match):
        testtime.leave_one_model_out(counts, budgets=[10], seeds=[0], ks=[1, 5], forecasts=("beta",),
                                     n_threads=1, **kwargs)


def test_power_law_fit_validates_alpha_and_k_range():
    curve = pd.DataFrame({"model": "m", "k": [1, 2, 4, 8], "pass_at_k": [0.1, 0.2, 0.25, 0.4]})
    for alpha in (0, 1.5, -1):
        with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\)"):
            testtime.power_law_fit(curve, alpha=alpha)
    with pytest.raises(ValueError, match=r"`k_range` must be \(min, max\)"):
        testtime.power_law_fit(curve, k_range=(1,))
    # the interval itself, against scipy
    fit = testtime.power_law_fit(curve, alpha=0.1)
    lr = stats.linregress(np.log(curve["k"]), np.log(-np.log(curve["pass_at_k"])))
    half = stats.t.ppf(0.95, 2) * lr.stderr
    assert fit["slope_lower"].iloc[0] == pytest.approx(lr.slope - half, abs=1e-12)
    assert fit["slope_upper"].iloc[0] == pytest.approx(lr.slope + half, abs=1e-12)


# ----------------------------------------------------------------------------------- crossval
def test_fold_labels_cover_every_unit_once_and_reject_fractional_folds():
    for n, folds in [(5, 2), (7, 3), (10, 10), (11, 4)]:
        lab = fold_labels(n, folds, seed=3)
        sizes = np.bincount(lab, minlength=folds)
        assert lab.shape == (n,) and sizes.sum() == n and sizes.max() - sizes.min() <= 1
        assert set(lab.tolist()) == set(range(folds))
        np.testing.assert_array_equal(lab, fold_labels(n, folds, seed=3))
    with pytest.raises(ValueError, match="integer"):
        fold_labels(5, 2.5, seed=0)  # gave labels 0.5, 1.5, ... that no fold matches


def test_mae_table_rejects_missing_values():
    t = pd.DataFrame({"truth": [0.5, 0.7, 0.1], "a": [0.4, 0.7, 0.2], "b": [np.nan, 0.9, 0.1]})
    # the mean skipped the NaN: "b" was scored on 2 rows, "a" on 3
    with pytest.raises(ValueError, match=r"\{'b': 1\}.*rows 0"):
        mae_table(t, ["a", "b"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['c'\]"):
        mae_table(t, ["a", "c"])
    assert mae_table(t.dropna(), ["a", "b"]).iloc[0].tolist() == pytest.approx([0.05, 0.1])


def test_transfer_study_truth_is_over_the_questions_forecast():
    sim = irsl.simulate.correlated_benchmarks(n_models=24, questions=6, family="binomial", n_trials=20,
                                              seed=0, corr=np.array([[1.0, 0.9], [0.9, 1.0]]))
    r = sim.responses.astype({"model": str, "question": str, "benchmark": str})
    target_m = r["model"].iloc[0]
    # a target question only one model answered is never calibrated when that model is tested
    extra = pd.DataFrame({"model": [target_m], "question": ["bench2/new"], "benchmark": ["bench2"],
                          "successes": [20], "trials": [20]})
    r2 = pd.concat([r, extra], ignore_index=True)
    tab = transfer_study(r2, "bench1", "bench2", successes="successes", trials="trials", folds=3,
                         family="binomial", n_threads=1)
    assert sorted(tab["model"]) == sorted(r["model"].unique())
    own = r[(r["model"] == target_m) & (r["benchmark"] == "bench2")]
    want = float((own["successes"] / own["trials"]).mean())
    assert tab.set_index("model").loc[target_m, "truth"] == pytest.approx(want, abs=1e-15)
