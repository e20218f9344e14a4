"""A degenerate fit says so: sigma on its boundary 0 under MML (the JML path already warned),
questions whose responses are all the same named whatever ``irt``, and beta precisions on pass
rates beyond what their trials allow (the questions behind a 2PL collapse of the abilities).

The data: 8 models x 30 questions of 200 samples (``simulate.test_time``, seed 0), fitted with
``family="beta"`` on the squeezed pass rates. Two questions nobody solves (q14, q15) pin every
1PL ability to one value (sigma 7e-4, abilities 1e-6 apart); three questions solved by one model
only (q05, q08, q12) put 7 of the 8 models at one 2PL ability.
"""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl


@pytest.fixture(scope="module")
def rates():
    sim = irsl.simulate.test_time(n_models=8, n_questions=30, n_samples=200, seed=0)
    x = sim.responses.copy()
    x["rate"] = x.successes / x.trials
    return x


def _fit(data, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = irsl.fit("ability ~ 1", data=data, family="beta", boundary="squeeze", n_threads=1, **kwargs)
    return res, [str(w.message) for w in caught]


def _with(messages, text):
    return [m for m in messages if text in m]


@pytest.mark.parametrize("columns", [dict(successes="successes", trials="trials"), dict(response="rate")])
def test_mml_1pl_collapse_warns_sigma_at_zero(rates, columns):
    res, messages = _fit(rates, irt="1pl", **columns)
    # the fit itself is the optimum of the squeezed-beta likelihood: every ability the same
    assert res.params["sigma"] < 1e-2
    assert np.ptp(res.abilities.theta) < 1e-3
    # ... and now it says so, with what it means and what to do
    hit = _with(messages, "estimated at 0 (boundary)")
    assert len(hit) == 1
    assert "Cochran's Q" in hit[0] and "family='beta_binomial'" in hit[0]
    assert hit[0] in res.warnings
    # a boundary estimate has no standard error (as the JML path reports it)
    assert np.isnan(res.bse["sigma"])
    assert np.isfinite(res.bse["Intercept"]) or res.bse["Intercept"] == 0


@pytest.mark.parametrize("method", ["mml", "jml"])
def test_constant_questions_are_named_under_1pl(rates, method):
    _, messages = _fit(rates, irt="1pl", method=method, successes="successes", trials="trials")
    flat = _with(messages, "get the same response from every model")
    assert len(flat) == 1
    assert "['q14', 'q15']" in flat[0] and flat[0].startswith("2 question(s)")
    assert "pull every model toward the same ability" in flat[0]
    # JML says the same about sigma, now with what to do
    assert "family='beta_binomial'" in _with(messages, "estimated at 0 (boundary)")[0]


def test_constant_question_read_from_the_raw_rates(rates):
    # different trials per model: the squeeze maps the same rate 0 to different values 0.5/n,
    # and the question is still one nobody solves
    x = rates.copy()
    rows = x.question == "q14"
    x.loc[rows, "trials"] = 200 + 10 * x.loc[rows, "model"].cat.codes.to_numpy().astype(int)
    _, messages = _fit(x, irt="1pl", method="jml", successes="successes", trials="trials")
    flat = _with(messages, "get the same response from every model")
    assert len(flat) == 1 and "['q14', 'q15']" in flat[0]


def test_constant_questions_under_common_precision(rates):
    # 1PL with one precision: no parameter of the question shows it, the responses do
    _, messages = _fit(rates, irt="1pl", precision="common", method="jml",
                       successes="successes", trials="trials")
    flat = _with(messages, "get the same response from every model")
    assert len(flat) == 1 and "['q14', 'q15']" in flat[0]
    assert "()" not in flat[0] and "ability; drop them" in flat[0]


def test_2pl_collapse_names_the_overprecise_questions(rates):
    res, messages = _fit(rates, irt="2pl", successes="successes", trials="trials")
    theta = res.abilities.theta.to_numpy()
    # 7 of the 8 models at one ability, 1e-4 apart
    assert np.sum(np.abs(theta - np.median(theta)) < 1e-3) == 7
    hit = _with(messages, "beta precision more than 100 times the trials")
    assert len(hit) == 1
    for q in ("q05", "q08", "q12"):
        assert f"'{q}'" in hit[0]
    # the constant questions are named by their own warning, not twice
    assert "'q14'" not in hit[0]
    assert "family='beta_binomial'" in hit[0]


def _law_fit(sigma, reml, family="beta", n_questions=40):
    sim = irsl.simulate.irt(n_models=30, n_questions=n_questions, family=family, irt="1pl", sigma=sigma,
                            seed=2, family_effects=(0.0,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = irsl.fit("ability ~ np.log(compute)", data=sim.responses, models=sim.models,
                       family=family, irt="1pl", reml=reml, n_threads=1)
    return res, [str(w.message) for w in caught]


def test_ml_boundary_warns_and_an_ordinary_fit_does_not():
    # abilities exactly on the law: maximum likelihood puts sigma at 0, where EM only creeps
    ml, messages = _law_fit(0.0, reml=False)
    hit = _with(messages, "estimated at 0 (boundary)")
    assert len(hit) == 1 and "marginal likelihood falls" in hit[0]
    assert ml.params["sigma"] < 0.05 and np.isnan(ml.bse["sigma"])
    # the same design with abilities spread around the law: no warning, ML or REML
    for reml in (False, True):
        res, messages = _law_fit(0.5, reml=reml)
        assert not _with(messages, "estimated at 0")
        assert np.isfinite(res.bse["sigma"]) and res.params["sigma"] > 0.3


def test_reml_boundary_warns():
    # 5 binary questions per model, abilities on the law: the restricted likelihood (with the
    # abilities' measurement variances) has its maximum at sigma = 0
    res, messages = _law_fit(0.0, reml=True, family="bernoulli", n_questions=5)
    hit = _with(messages, "estimated at 0 (boundary)")
    assert len(hit) == 1 and "restricted (REML) likelihood falls" in hit[0]
    assert np.isnan(res.bse["sigma"])
