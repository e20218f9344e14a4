"""Robustness of the estimators on awkward but valid data, and clear errors on invalid options:
a model whose responses are all at one extreme under 2PL joint ML, convergence controls, and a
beta-binomial precision that single trials cannot identify."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import irsl_stats as irsl
from irsl_stats import api, jml

KW = dict(n_threads=1)


# ------------------------------------------------------------------ 1. all-extreme model, 2PL JML
def _kernel_data(responses: pd.DataFrame):
    rd = api.response_data(responses, model="model", question="question", response=None,
                           successes="successes", trials="trials", benchmark=None,
                           family="binomial", boundary=None, weights=None)
    return rd, api.kernel_data(rd)


@pytest.fixture(scope="module")
def counts_with_a_perfect_model():
    sim = irsl.simulate.irt(n_models=15, n_questions=25, family="binomial", n_trials=10, seed=0)
    r = sim.responses.copy()
    r["model"] = r["model"].astype(str)
    r["question"] = r["question"].astype(str)
    top = r["model"] == "m00"
    r.loc[top, "successes"] = r.loc[top, "trials"]  # m00 solves every sample of every question
    return r, top


def test_jml_2pl_model_with_only_extreme_responses_does_not_take_the_scale(counts_with_a_perfect_model):
    # Under joint ML an all-correct model's ability is +inf and its responses have probability 1
    # in the limit: it carries no information about the questions, whose estimates must be
    # those of the other models alone. Before the fix the 2PL renormalisation (SD 1 over all
    # models) let the runaway ability take the whole scale: every other ability was squashed
    # together and every discrimination ran to its bound (a = 25, llf -3588 vs -470).
    r, top = counts_with_a_perfect_model
    prec = api.build_precision("item", "binomial", 25, None, None)
    _, kd = _kernel_data(r)
    _, kd0 = _kernel_data(r[~top])
    opts = jml.JMLOptions(n_threads=1)
    with_top = jml.fit_jml(kd, prec, "2pl", options=opts)
    without = jml.fit_jml(kd0, prec, "2pl", options=opts)
    assert without.converged
    assert with_top.items.a.max() < jml.A_BOUND / 2
    np.testing.assert_allclose(with_top.items.a, without.items.a, atol=1e-3)
    np.testing.assert_allclose(with_top.items.d, without.items.d, atol=1e-3)
    np.testing.assert_allclose(with_top.theta[1:], without.theta, atol=1e-3)
    assert with_top.theta[0] == pytest.approx(jml.THETA_BOUND, abs=1e-3)


def test_jml_non_convergence_with_an_extreme_model_names_the_cause(counts_with_a_perfect_model):
    r, top = counts_with_a_perfect_model
    prec = api.build_precision("item", "binomial", 25, None, None)
    _, kd = _kernel_data(r)
    # held at +inf (the default) the model does not stop the fit from converging
    assert jml.fit_jml(kd, prec, "1pl", options=jml.JMLOptions(n_threads=1)).converged
    # left free (as in the start of MML), its ability runs on and the warning names it
    fit = jml.fit_jml(kd, prec, "1pl", options=jml.JMLOptions(n_threads=1, max_iter=5, extreme_off_scale=False))
    assert not fit.converged
    assert "1 model(s) answer every question at the same extreme" in fit.warnings[0]
    assert "method='mml'" in fit.warnings[0]


def test_scale_reference_excludes_models_with_only_extreme_responses(counts_with_a_perfect_model):
    r, _ = counts_with_a_perfect_model
    rd, kd = _kernel_data(r)
    ref = jml.scale_reference(kd)
    extreme = (r.groupby("model")["successes"].sum() == r.groupby("model")["trials"].sum())
    assert list(rd.model_labels[~ref]) == list(extreme.index[extreme])


# ------------------------------------------------------------------ 2. convergence controls
@pytest.fixture(scope="module")
def small():
    return irsl.simulate.irt(n_models=12, n_questions=20, seed=0)


@pytest.mark.parametrize("tol", [0, -1e-6, np.nan, np.inf, "1e-6", True])
def test_tol_must_be_a_positive_finite_number(small, tol):
    # tol=0 or NaN ran every fit to max_iter and reported non-convergence; inf "converged" at once
    with pytest.raises(ValueError, match="tol must be a positive finite number"):
        irsl.fit("ability ~ log(compute)", data=small.responses, models=small.models, tol=tol, **KW)


@pytest.mark.parametrize("n_quad", [0, 1, 1.5, True, "7"])
def test_n_quad_must_be_an_integer_of_at_least_two(small, n_quad):
    # n_quad=1 (one node, at the posterior mode) gave every ability a posterior SD of 0
    with pytest.raises(ValueError, match="n_quad must be an integer >= 2"):
        irsl.fit("ability ~ log(compute)", data=small.responses, models=small.models, n_quad=n_quad, **KW)


# ------------------------------------------------------------------ 3. beta-binomial single trials
def test_beta_binomial_pmf_of_one_trial_does_not_depend_on_phi():
    # the premise of the checks below, from scipy: Beta-binomial(1, mu phi, (1 - mu) phi) = Bernoulli(mu)
    mu = 0.3
    for phi in (0.5, 10.0, 1e4):
        np.testing.assert_allclose(stats.betabinom.pmf([0, 1], 1, mu * phi, (1 - mu) * phi), [0.7, 0.3])


@pytest.mark.parametrize("precision", ["common", "item"])
@pytest.mark.parametrize("method", ["jml", "mml"])
def test_beta_binomial_with_single_trials_is_an_error(precision, method):
    # phi stayed at its start (10) with a standard error of exactly 0
    sim = irsl.simulate.irt(n_models=20, n_questions=30, family="beta_binomial", n_trials=1, seed=2)
    with pytest.raises(ValueError, match="precision phi is not identified.*family='binomial'"):
        irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, family="beta_binomial",
                 successes="successes", trials="trials", precision=precision, method=method, **KW)


def test_beta_binomial_questions_with_single_trials_are_named():
    sim = irsl.simulate.irt(n_models=20, n_questions=30, family="beta_binomial", n_trials=10, seed=2)
    r = sim.responses.copy()
    one = r["question"] == "q03"
    r.loc[one, "trials"] = 1
    r.loc[one, "successes"] = np.minimum(r.loc[one, "successes"], 1)
    with pytest.warns(irsl.IRSLWarning, match=r"1 question\(s\) have one trial per response only \(e.g. \['q03'\]\)"):
        irsl.fit("ability ~ log(compute)", data=r, models=sim.models, family="beta_binomial",
                 successes="successes", trials="trials", precision="item", **KW)


@pytest.mark.parametrize("prior", [-1.0, 0, np.inf, np.nan, "wide", True])
def test_precision_prior_must_be_a_positive_finite_number(small, prior):
    # 'wide' failed with "could not convert string to float"; inf was accepted as a prior
    with pytest.raises(ValueError, match="precision_prior must be a positive finite number, None or 'auto'"):
        irsl.fit("ability ~ log(compute)", data=small.responses, models=small.models,
                 precision_prior=prior, **KW)


def test_an_explicit_n_quad_of_seven_is_used_by_multidimensional_fits():
    # n_quad=7 used to be taken for "not given": with D = 3 the fit silently used the
    # multidimensional default instead of the 7 nodes asked for
    from irsl_stats.multidim import default_n_quad

    sim = irsl.simulate.irt(n_models=30, n_questions=12, family="bernoulli", seed=3)
    kw = dict(data=sim.responses, models=sim.models, family="bernoulli", dims=3, max_iter=2, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        explicit = irsl.fit("ability ~ 1", n_quad=7, **kw)
        default = irsl.fit("ability ~ 1", **kw)
    assert default_n_quad(3) != 7
    assert explicit._est.n_quad == 7
    assert default._est.n_quad == default_n_quad(3)


def test_default_and_explicit_seven_nodes_are_the_same_lr_test_option(small):
    kw = dict(data=small.responses, models=small.models, method="mml", irt="1pl", reml=False, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        full = irsl.fit("ability ~ log(compute)", **kw)
        restricted = irsl.fit("ability ~ 1", n_quad=7, **kw)
        assert full.compare_lr_test(restricted).df_diff == 1
        with pytest.raises(ValueError, match="n_quad=7 vs 9"):
            full.compare_lr_test(irsl.fit("ability ~ 1", n_quad=9, **kw))
