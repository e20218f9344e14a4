"""Audit of :mod:`irsl_stats.scoring` and :mod:`irsl_stats.evaluation`.

References are independent: ``scipy.optimize`` maxima, ``statsmodels``/NumPy least squares, plain
pandas means of the raw responses. Data sets are tiny (one thread, well under a second a fit).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

import irsl_stats as irsl
from irsl_stats import _kernel, scoring
from irsl_stats import evaluation as ev
from irsl_stats.results import IRSLWarning

SIM = dict(n_recipes=5, sizes=(4e6, 1e7, 6e7, 3e8, 1e9), benchmarks=("arc_easy", "boolq"),
           questions_per_benchmark=20, n_checkpoints=1)
RUN = dict(ks=(5,), strategies=("random",), n_threads=1)


@pytest.fixture(scope="module")
def sp():
    return irsl.simulate.pretraining(seed=0, **SIM)


@pytest.fixture(scope="module")
def known(sp):
    return ev.known_item_bank(sp.items, sp.models["theta"])


def _cal(sim):
    return list(sim.models["recipe"].cat.categories[:2])


def _held_model(sim, recipe="recipe_03", size="60M"):
    return f"{recipe}-{size}-ckpt1"


# ============================================================================== scoring
def _weak_bank(a=0.02):
    """Two binomial questions of small discrimination, and a model with 1 and 2 successes of 100:
    its ML ability is logit(~0.015) / a, hundreds of prior SDs below the prior mean."""
    d = np.array([0.0, 0.5])
    bank = irsl.ItemBank(pd.DataFrame({"a": [a, a], "d": d}, index=["q0", "q1"]), family="binomial")
    k, n = np.array([1.0, 2.0]), np.array([100.0, 100.0])
    frame = pd.DataFrame({"model": "m", "question": ["q0", "q1"], "k": k, "n": n})

    def loglik(t):
        return float(stats.binom.logpmf(k, n, special.expit(a * t + d)).sum())

    return bank, frame, loglik


def test_ml_reaches_a_maximum_hundreds_of_prior_sds_away():
    # the Newton search moved at most one prior SD per pass (half after 50 passes) and stopped
    # silently after 200 passes at theta = -125.2 (the maximum is at -223.2)
    bank, frame, loglik = _weak_bank(0.02)
    ref = optimize.minimize_scalar(lambda t: -loglik(t), bounds=(-2000.0, 100.0), method="bounded",
                                   options={"xatol": 1e-10}).x
    assert ref < -200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a finite maximum: no warning
        est = bank.score(frame, method="ml", successes="k", trials="n", n_threads=1)
    assert est["theta"].iloc[0] == pytest.approx(ref, abs=1e-5)
    h = 1e-3
    info = -(loglik(ref + h) - 2 * loglik(ref) + loglik(ref - h)) / h**2
    assert est["se"].iloc[0] == pytest.approx(1 / np.sqrt(info), rel=1e-4)


def test_a_search_stopped_at_the_iteration_limit_warns_and_names_the_model(monkeypatch):
    bank, frame, _ = _weak_bank(0.1)
    monkeypatch.setattr(scoring, "_MAX_ITER", 3)
    for method in ("ml", "map", "wle", "eap"):
        with pytest.warns(IRSLWarning, match=r"\['m'\].*did not converge in 3 iterations"):
            bank.score(frame, method=method, successes="k", trials="n", n_threads=1)


@pytest.mark.parametrize("n_quad", [0, 1, 2.5, True, 1000])
def test_eap_rejects_meaningless_numbers_of_nodes(n_quad):
    # n_quad=1 returned se = 0 (one node: posterior mean at the mode, no spread), 2.5 failed in
    # numpy, True was taken as 1, 1000 flooded RuntimeWarnings before a NaN error
    bank, frame, _ = _weak_bank(1.0)
    with pytest.raises(ValueError, match="n_quad must be an integer from 2 to"):
        bank.score(frame, method="eap", successes="k", trials="n", n_quad=n_quad, n_threads=1)


def test_eap_with_two_nodes_is_a_valid_rule():
    # the smallest accepted rule still integrates a Gaussian posterior's mean exactly: with the
    # likelihood flat (a = 0) the posterior is the prior N(0.3, 1.2^2)
    bank = irsl.ItemBank(pd.DataFrame({"a": [0.0], "d": [0.2]}, index=["q0"]), family="bernoulli",
                         population=(0.3, 1.2))
    est = bank.score(pd.DataFrame({"model": "m", "question": ["q0"], "y": [1.0]}), method="eap",
                     n_quad=2, n_threads=1)
    assert est["theta"].iloc[0] == pytest.approx(0.3, abs=1e-12)
    assert est["se"].iloc[0] == pytest.approx(1.2, abs=1e-12)


def test_estimate_abilities_rejects_a_degenerate_prior():
    kd = _kernel.KernelData(np.zeros(2, np.int32), np.array([0, 1], np.int32), np.array([1.0, 0.0]),
                            n_models=1, n_items=2, family="bernoulli", model_ptr=np.array([0, 2], np.int64),
                            n_threads=1)
    a, d = np.ones(2), np.zeros(2)
    for mean, sd in ((0.0, 0.0), (np.nan, 1.0), (0.0, np.inf)):
        with pytest.raises(ValueError, match="finite mean and a positive, finite SD"):
            scoring.estimate_abilities(kd, a, d, None, np.array([mean]), np.array([sd]), method="eap", n_threads=1)


def test_wle_docstring_does_not_promise_bias_removal_for_non_canonical_families():
    # Jeffreys' penalty equals Firth's bias correction only under the canonical (logit-binomial)
    # link; for beta responses a simulation shows WLE keeps the ML bias (see the next test)
    doc = " ".join(scoring.__doc__.split())
    assert "Bernoulli and binomial families" in doc
    assert "does not remove the first-order bias" in doc


def test_wle_keeps_the_ml_bias_of_beta_responses():
    # the fact behind the docstring: 3 beta questions of low precision, 6000 models at theta=1.5
    rng = np.random.default_rng(1)
    a, d, phi = np.array([1.0, 1.5, 0.7]), np.array([-1.0, 0.0, 1.0]), np.array([2.0, 3.0, 1.5])
    qs = ["q0", "q1", "q2"]
    bank = irsl.ItemBank(pd.DataFrame({"a": a, "d": d, "phi": phi}, index=qs), family="beta")
    mu = special.expit(1.5 * a + d)
    y = np.clip(rng.beta(mu * phi, (1 - mu) * phi, size=(6000, 3)), 1e-9, 1 - 1e-9)
    frame = pd.DataFrame({"model": np.repeat(np.arange(6000), 3), "question": qs * 6000, "y": y.ravel()})
    ml = bank.score(frame, method="ml", n_threads=1)["theta"].to_numpy() - 1.5
    wle = bank.score(frame, method="wle", n_threads=1)["theta"].to_numpy() - 1.5
    mcse = ml.std() / np.sqrt(ml.size)
    assert abs(ml.mean()) > 10 * mcse  # a clear small-sample bias
    assert abs(wle.mean()) > 0.9 * abs(ml.mean())  # that WLE does not remove


# ============================================================================== efficient_eval
def test_boundary_lets_accuracy_like_responses_in_and_keeps_the_raw_truth(sp, known):
    resp = sp.responses.copy()
    rows = resp.index[::7]
    resp.loc[rows, "y"] = np.round(resp.loc[rows, "y"])  # some exact 0 / 1 (accuracies)
    with pytest.raises(ValueError, match=r"exactly 0 or 1"):
        ev.efficient_eval(resp, sp.models, _cal(sp), **RUN)
    out = ev.efficient_eval(resp, sp.models, _cal(sp), bank=known, boundary="squeeze", **RUN)
    # the naive mean and the truth are over the responses as given (not squeezed)
    r = resp.astype({"model": str, "question": str, "benchmark": str})
    held = sp.models.loc[~sp.models["recipe"].isin(_cal(sp)), "model"].astype(str)
    r = r[r["model"].isin(held)]
    qs = known.select(5, strategy="random", by="benchmark", seed=0, theta=known.population[0]).astype(str)
    full = r.groupby(["model", "benchmark"])["y"].mean().unstack()
    naive = r[r["question"].isin(qs)].groupby(["model", "benchmark"])["y"].mean().unstack()
    want = float(np.abs(naive - full).to_numpy().mean())
    got = out.query("estimand == 'score' and method == 'naive'")["mae"].iloc[0]
    assert got == pytest.approx(want, rel=1e-12)
    assert np.isfinite(out["mae"]).all()
    # and the calibration itself takes the policy too (clipped 0/1 responses of these tiny
    # calibration recipes make a few discriminations negative, which the fit reports)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*negative discrimination", category=IRSLWarning)
        out = ev.efficient_eval(resp, sp.models, _cal(sp), boundary="clip", **RUN)
    assert np.isfinite(out["mae"]).all()
    with pytest.raises(ValueError, match="boundary must be"):
        ev.efficient_eval(resp, sp.models, _cal(sp), boundary="zap", **RUN)


@pytest.mark.parametrize("column,value", [("flops", np.nan), ("flops", 0.0), ("flops", -5.0),
                                          ("params", np.nan), ("params", 0.0)])
def test_held_out_models_need_positive_finite_compute(sp, known, column, value):
    # NaN flops silently dropped the model from the laws (mae 0.107 -> 0.072), 0 gave log(0)
    models = sp.models.copy()
    label = _held_model(sp)
    models.loc[models["model"] == label, column] = value
    with pytest.raises(ValueError, match=rf"column '{column}' must be positive and finite.*{label}"):
        ev.efficient_eval(sp.responses, models, _cal(sp), bank=known, **RUN)
    # a calibration model needs none of them
    models = sp.models.copy()
    models.loc[models["model"] == "recipe_00-60M-ckpt1", column] = value
    ev.efficient_eval(sp.responses, models, _cal(sp), bank=known, **RUN)


def test_models_without_a_recipe_are_named(sp, known):
    models = sp.models.astype({"recipe": object})
    label = _held_model(sp, "recipe_02")
    models.loc[models["model"] == label, "recipe"] = np.nan
    with pytest.raises(ValueError, match=rf"column 'recipe' is missing for 1 model.*{label}"):
        ev.efficient_eval(sp.responses, models, _cal(sp), bank=known, **RUN)


def test_a_single_calibration_recipe_and_strategy_may_be_strings(sp, known):
    # a string was iterated: recipes '0', '_', 'c', ... and strategy 'r'
    one = ev.efficient_eval(sp.responses, sp.models, "recipe_00", bank=known, ks=(5,), strategies="random",
                            n_threads=1)
    listed = ev.efficient_eval(sp.responses, sp.models, ["recipe_00"], bank=known, ks=(5,),
                               strategies=["random"], n_threads=1)
    pd.testing.assert_frame_equal(one, listed)
    assert set(one["strategy"]) == {"random"}


@pytest.mark.parametrize("kwargs,match", [
    (dict(score_method="mle"), "score_method must be one of"),
    (dict(calibration_method="reml"), "calibration_method must be"),
    (dict(min_sizes=0), "min_sizes must be an integer >= 2"),
    (dict(min_sizes=1), "min_sizes must be an integer >= 2"),
    (dict(min_sizes=2.5), "min_sizes must be an integer >= 2"),
    (dict(ratios=[np.nan]), "ratios must be a non-empty sequence of positive, finite"),
    (dict(ratios=[-0.1]), "ratios must be a non-empty sequence of positive, finite"),
    (dict(ratios=[]), "ratios must be a non-empty sequence of positive, finite"),
    (dict(ks=(5, 5)), "ks must not repeat"),
    (dict(strategies=()), "strategies is empty"),
])
def test_invalid_options_are_refused_before_the_calibration(sp, monkeypatch, kwargs, match):
    # the calibration fit must not run: options are checked first
    import irsl_stats.api as api

    def no_fit(*a, **k):
        raise AssertionError("calibrated before checking the options")

    monkeypatch.setattr(api, "fit", no_fit)
    with pytest.raises(ValueError, match=match):
        ev.efficient_eval(sp.responses, sp.models, _cal(sp), **{**RUN, **kwargs})


def test_min_sizes_beyond_the_available_sizes_is_an_error(sp, known):
    # with 4 sizes below the target, min_sizes=10 silently fitted laws on 4 sizes
    with pytest.raises(ValueError, match=r"min_sizes=10: the held-out recipes have only 4 size"):
        ev.efficient_eval(sp.responses, sp.models, _cal(sp), bank=known, min_sizes=10, **RUN)
    out = ev.efficient_eval(sp.responses, sp.models, _cal(sp), bank=known, min_sizes=4, **RUN)
    assert out.loc[out.estimand == "forecast", "ratio"].nunique() == 1


def test_duplicated_true_scores_labels_are_named(sp, known):
    truth = sp.expected_scores()
    truth.index = sp.models["model"].astype(str).to_numpy()
    truth = pd.concat([truth, truth.iloc[[20]]])
    with pytest.raises(ValueError, match=rf"true_scores has duplicated rows.*{truth.index[20]}"):
        ev.efficient_eval(sp.responses, sp.models, _cal(sp), bank=known, true_scores=truth, **RUN)


# ============================================================================== extrapolation
def test_linear_extrapolate_identifies_a_line_far_from_the_origin():
    # x = 1e10 + [0, 1, 2] was declared flat ("fewer than two distinct x")
    x = 1e10 + np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 2.5, 2.9, 4.2])
    slope, icpt = np.polyfit(x - 1e10, y, 1)
    got = ev.linear_extrapolate(x, y, 1e10 + 5.0)
    assert got == pytest.approx(icpt + 5 * slope, rel=1e-5)


@pytest.mark.parametrize("x_target,match", [
    (np.nan, "x_target must be finite"), (np.inf, "x_target must be finite"),
    ([1.0, 2.0, 3.0], "one value per group"), ([[1.0, 2.0]], "one value per group"),
])
def test_linear_extrapolate_checks_the_targets(x_target, match):
    # NaN / inf targets gave NaN / inf forecasts, a wrong length numpy's broadcast error
    x = np.array([1.0, 2, 3, 1, 2, 3])
    y = np.array([1.0, 2, 3, 2, 4, 6])
    with pytest.raises(ValueError, match=match):
        ev.linear_extrapolate(x, y, x_target, groups=list("aaabbb"))


def test_linear_extrapolate_checks_the_length_of_groups():
    with pytest.raises(ValueError, match=r"groups must have one label per observation \(3\); got 2"):
        ev.linear_extrapolate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 4.0, groups=["a", "b"])


@pytest.mark.parametrize("eps", [0, -1, 0.5, 0.7, np.nan])
def test_logit_linear_extrapolate_checks_eps(eps):
    # eps = 0.7 clipped every score to [0.7, 0.3] and forecast 0.3; eps = 0 gave "x and y must
    # be finite"
    with pytest.raises(ValueError, match=r"eps must be a number in \(0, 0.5\)"):
        ev.logit_linear_extrapolate([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], 4.0, eps=eps)


def test_logit_linear_extrapolate_matches_statsmodels_ols_on_the_logit():
    sm = pytest.importorskip("statsmodels.api")
    x = np.array([1.0, 2.0, 3.0, 4.0])
    s = np.array([0.0, 0.2, 0.45, 0.5])
    z = special.logit(np.clip(s, 1e-3, 1 - 1e-3))
    fit = sm.OLS(z, sm.add_constant(x)).fit()
    want = special.expit(fit.params[0] + fit.params[1] * 6.0)
    assert ev.logit_linear_extrapolate(x, s, 6.0, eps=1e-3) == pytest.approx(want, rel=1e-12)


# ============================================================================== known_item_bank
def _items():
    return pd.DataFrame({"question": ["q0", "q1", "q2"], "benchmark": ["A", "A", "B"], "a": [1.0, 1.0, 1.0],
                         "d": [0.0, 0.5, 1.0], "phi": [10.0, 10.0, 10.0]})


def test_known_item_bank_names_questions_without_a_benchmark():
    # NaN became a benchmark called 'nan'
    items = _items().astype({"benchmark": object})
    items.loc[2, "benchmark"] = np.nan
    with pytest.raises(ValueError, match=r"'benchmark' is missing for 1 question.*q2"):
        ev.known_item_bank(items, [0.0, 1.0])


@pytest.mark.parametrize("theta", [[0.5], [np.nan, 1.0], [], [1.0, 1.0]])
def test_known_item_bank_names_theta_population_when_it_cannot_give_a_prior(theta):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice" on the way
        with pytest.raises(ValueError, match="theta_population must hold two or more finite abilities"):
            ev.known_item_bank(_items(), theta)


def test_known_item_bank_refuses_discriminations_under_1pl():
    items = _items().assign(a=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"irt='1pl'.*not 1 for 2 question.*'q1', 'q2'"):
        ev.known_item_bank(items, [0.0, 1.0], irt="1pl")
    bank = ev.known_item_bank(_items(), [0.0, 1.0], irt="1pl")
    assert bank.irt == "1pl" and (bank.items["a"] == 1).all()


# ============================================================================== subset_study
@pytest.mark.parametrize("kwargs,match", [
    (dict(seeds=[]), "seeds must be a non-empty sequence of integers"),
    (dict(seeds=[0.5]), "seeds must be a non-empty sequence of integers"),
    (dict(seeds=[0], n_calibration=2.5), "n_calibration must be a positive integer"),
    (dict(seeds=[0], seed=3), r"subset_study sets \['seed'\] itself"),
    (dict(seeds=[0], known_bank=None), r"subset_study sets \['known_bank'\] itself"),
])
def test_subset_study_checks_its_arguments_before_simulating(monkeypatch, kwargs, match):
    def no_sim(*a, **k):
        raise AssertionError("simulated before checking the arguments")

    monkeypatch.setattr(irsl.simulate, "pretraining", no_sim)
    with pytest.raises(ValueError, match=match):
        ev.subset_study(simulation=SIM, ks=(5,), strategies="random", n_threads=1, **kwargs)


def test_a_cutoff_below_two_sizes_names_the_recipes(sp, known):
    # "some recipe has fewer than two model sizes": which one was left to guess
    models = sp.models.copy()
    drop = models["model"].isin([_held_model(sp, "recipe_04", s) for s in ("4M", "10M")])
    models = models[~drop]
    resp = sp.responses[sp.responses["model"].isin(models["model"])]
    with pytest.raises(ValueError, match=r"1 held-out recipe\(s\) have fewer than two model sizes.*'recipe_04'"):
        ev.efficient_eval(resp, models, _cal(sp), bank=known, ratios=[0.01], **RUN)


def test_pooled_law_of_per_benchmark_abilities_has_one_slope_per_benchmark(sp, known):
    # the pooled law shared one slope across recipes *and benchmarks*, so per-benchmark abilities
    # borrowed the slope across benchmarks; reference: statsmodels WLS per benchmark, recipe
    # intercepts and a common slope, weights 1 / se^2
    sm = pytest.importorskip("statsmodels.api")
    ratio = 0.05
    out = ev.efficient_eval(sp.responses, sp.models, _cal(sp), bank=known, ratios=[ratio], law="pooled",
                            ability="per_benchmark", **RUN)
    got = out.query("estimand == 'forecast' and method == 'irsl_pooled'")["mae"].iloc[0]

    models = sp.models.astype({"model": str, "recipe": str}).set_index("model")
    resp = sp.responses.astype({"model": str, "question": str, "benchmark": str})
    held = models[~models["recipe"].isin(_cal(sp))]
    target = held.sort_values(["params", "flops"]).groupby("recipe").tail(1).reset_index().set_index("recipe")
    t_params = held["recipe"].map(target["params"])
    t_flops = held["recipe"].map(target["flops"])
    used = held[(held["params"] < t_params) & (held["flops"] <= ratio * t_flops * (1 + 1e-9))]
    qs = known.select(5, strategy="random", by="benchmark", seed=0, theta=known.population[0]).astype(str)
    items = known.items
    errors = []
    for b in ["arc_easy", "boolq"]:
        asked = resp[resp["model"].isin(used.index) & resp["question"].isin(qs) & (resp["benchmark"] == b)]
        sc = known.score(asked, method="eap", n_threads=1)
        sc.index = sc.index.astype(str)
        u = used.loc[sc.index]
        dummies = pd.get_dummies(u["recipe"]).astype(float)
        X = np.column_stack([dummies.to_numpy(), np.log(u["flops"].to_numpy())])
        fit = sm.WLS(sc["theta"].to_numpy(), X, weights=1 / sc["se"].to_numpy() ** 2).fit()
        on = (items["benchmark"] == b).to_numpy()
        for i, r in enumerate(dummies.columns):
            th = fit.params[i] + fit.params[-1] * np.log(target.loc[r, "flops"])
            score = special.expit(th * items["a"].to_numpy()[on] + items["d"].to_numpy()[on]).mean()
            truth = resp.loc[(resp["model"] == target.loc[r, "model"]) & (resp["benchmark"] == b), "y"].mean()
            errors.append(abs(score - truth))
    assert len(errors) == 6
    assert got == pytest.approx(np.mean(errors), rel=1e-6)


def test_zero_weights_leave_a_law_unidentified_instead_of_failing_the_fit():
    # three groups; group 1's second size has weight 0 (an ability with se = inf): its line is not
    # identified (NaN) while groups 0 and 2 are fitted as without it
    x = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 1.0, 2.0, 3.0])
    y = np.array([0.5, 1.0, 1.6, 0.2, 9.0, -1.0, -0.4, 0.1])
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    w = np.array([1.0, 2.0, 1.0, 1.0, 0.0, 1.0, 1.0, 3.0])
    got = ev._extrapolate_available(x, y, np.full(3, 5.0), groups, 3, weights=w)
    assert np.isnan(got[1])
    for g in (0, 2):
        on = groups == g
        slope, icpt = np.polyfit(x[on], y[on], 1, w=np.sqrt(w[on]))
        assert got[g] == pytest.approx(icpt + 5 * slope, rel=1e-10)


def test_ratios_that_admit_the_same_models_are_forecast_once(sp, known):
    # two cutoffs with no model between them gave identical rows, which summarize then pooled
    # as if they were two seeds (a smaller mae_sd); they are forecast once now
    once = ev.efficient_eval(sp.responses, sp.models, _cal(sp), bank=known, ratios=[0.05], law="pooled", **RUN)
    twice = ev.efficient_eval(sp.responses, sp.models, _cal(sp), bank=known, ratios=[0.05, 0.05 * (1 + 1e-7)],
                              law="pooled", **RUN)
    fc_once = once.query("estimand == 'forecast'").reset_index(drop=True)
    fc_twice = twice.query("estimand == 'forecast'").reset_index(drop=True)
    assert len(fc_once) > 0
    pd.testing.assert_frame_equal(fc_once, fc_twice)
