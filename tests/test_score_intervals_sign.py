"""Score intervals of predict() when discriminations are negative: ordered, and the score's range."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl


@pytest.fixture(scope="module")
def fit():
    sim = irsl.simulate.irt(n_models=60, n_questions=45, benchmarks=3, seed=11)
    y = sim.responses.copy()
    qs = sorted(y["question"].unique())
    bench = y.groupby("question")["benchmark"].first()
    # all of bench1 and one of bench0: the majority (bench2, the rest of bench0) sets the sign
    reversed_ = [q for q in qs if bench[q] == "bench1"] + [qs[0]]
    rows = y["question"].isin(reversed_)
    y.loc[rows, "y"] = 1.0 - y.loc[rows, "y"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit("ability ~ log(compute)", data=y, models=sim.models, benchmark="benchmark",
                       method="jml", n_threads=1)
    return res, sim.models.head(8)


def _score_band(res, ab):
    """The ability intervals behind predict's score intervals: the ability ones widened by the
    questions' shared discrimination scale (see tests/test_predict_scale_uncertainty.py)."""
    r = res._population_scale_rel_var
    mean, se = ab["mean"].to_numpy(), ab["mean_se"].to_numpy()
    q = (ab["mean_ci_upper"].to_numpy() - mean) / se
    sigma2 = ((ab["obs_ci_upper"].to_numpy() - mean) / q) ** 2 - se**2
    theta = mean - res._to_reported[1]  # from the calibration models' mean
    half = q * np.sqrt(se**2 + theta**2 * r)
    obs_half = q * np.sqrt(se**2 + theta**2 * r + sigma2 * (1.0 + r))
    return ab.assign(mean_ci_lower=mean - half, mean_ci_upper=mean + half,
                     obs_ci_lower=mean - obs_half, obs_ci_upper=mean + obs_half)


def test_all_negative_benchmark_swaps_the_ends(fit):
    res, new = fit
    a = res.items.loc[res.items["benchmark"] == "bench1", "a"]
    assert (a < 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # monotone (decreasing): exact, no warning
        p = res.predict(new, what="score", benchmark="bench1")
    assert (p["ci_lower"] <= p["score"]).all() and (p["score"] <= p["ci_upper"]).all()
    assert (p["pi_lower"] <= p["ci_lower"]).all() and (p["ci_upper"] <= p["pi_upper"]).all()
    ab = _score_band(res, res.predict(new))
    f = lambda t: res.expected_score(t, "bench1")  # noqa: E731
    np.testing.assert_allclose(p["ci_lower"], f(ab["mean_ci_upper"].to_numpy()), rtol=1e-12)
    np.testing.assert_allclose(p["ci_upper"], f(ab["mean_ci_lower"].to_numpy()), rtol=1e-12)


def test_mixed_signs_give_the_range_over_the_interval(fit):
    res, new = fit
    a = res.items.loc[res.items["benchmark"] == "bench0", "a"]
    assert (a < 0).any() and (a > 0).any()
    with pytest.warns(irsl.IRSLWarning, match="both signs"):
        p = res.predict(new, what="score", benchmark="bench0")
    ab = _score_band(res, res.predict(new))
    for i in range(len(new)):
        grid = np.linspace(ab["obs_ci_lower"].iloc[i], ab["obs_ci_upper"].iloc[i], 2001)
        s = res.expected_score(grid, "bench0")
        assert p["pi_lower"].iloc[i] == pytest.approx(s.min(), abs=1e-5)
        assert p["pi_upper"].iloc[i] == pytest.approx(s.max(), abs=1e-5)
        assert p["pi_lower"].iloc[i] <= p["score"].iloc[i] <= p["pi_upper"].iloc[i]


def test_per_benchmark_fit_orders_its_score_intervals(fit):
    _, new = fit
    sim = irsl.simulate.irt(n_models=60, n_questions=40, benchmarks=2, seed=11)
    y = sim.responses.copy()
    rows = y["benchmark"] == "bench1"
    y.loc[rows, "y"] = 1.0 - y.loc[rows, "y"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        md = irsl.fit("ability ~ log(compute)", data=y, models=sim.models, benchmark="benchmark",
                      ability="per_benchmark", n_threads=1)
    p = md.predict(new, what="score", benchmark="bench1")
    assert (p["ci_lower"] <= p["ci_upper"]).all() and (p["pi_lower"] <= p["pi_upper"]).all()
    assert (p["pi_lower"] <= p["score"]).all() and (p["score"] <= p["pi_upper"]).all()
