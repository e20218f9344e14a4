"""Diagnostics of the one-ability fit: the covariance check on the directions the identification
leaves free, reversed questions under the discrimination prior, questions one-sided among the
rows JML fits, and the summary's note on JML log-likelihoods."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats.estimate import _covariance_warnings, _determined_directions, sigma_text
from irsl_stats.identification import Identification

NAMES = ["Intercept", "log(params)", "log(flops)", "sigma"]


def _fit(*args, **kwargs):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return irsl.fit(*args, n_threads=1, **kwargs)


def _chinchilla_identification(irt, convention="population"):
    # log(flops) = 2 log(params) + const, as in a Chinchilla-style table
    rng = np.random.default_rng(0)
    lp = rng.uniform(7, 9.5, 60) * np.log(10)
    x = np.column_stack([np.ones(60), lp, 2 * lp + np.log(121.8) + rng.normal(0, 1e-3, 60)])
    ident = Identification.build(convention, irt, x, NAMES[:3])
    beta_star, sigma_star, _, _ = ident.transform(np.array([0.3, 0.5, 0.2]), 0.8)
    values = np.r_[beta_star, sigma_star]
    fixed = ~ident.free_mask(3)
    values[fixed] = ident.fixed_values(3)[fixed]
    return ident, values


def _covariance(ident, values, free_eigenvalues, rounding=1e-8, seed=1):
    """A covariance exactly as singular as the identification makes it, with the given eigenvalues
    on the free directions, plus rounding-level variance along the determined ones."""
    g = _determined_directions(ident, values, 4)
    g = g / np.linalg.norm(g, axis=1)[:, None]
    q, _ = np.linalg.qr(g.T, mode="complete")
    free = q[:, len(g):]
    rot = np.linalg.qr(np.random.default_rng(seed).normal(size=(free.shape[1],) * 2))[0]
    cov = free @ rot @ np.diag(free_eigenvalues) @ rot.T @ free.T
    return cov + rounding * g.T @ g, _determined_directions(ident, values, 4)


@pytest.mark.parametrize("irt", ["1pl", "2pl"])
def test_an_indefinite_free_direction_is_not_dropped_as_a_determined_one(irt):
    ident, values = _chinchilla_identification(irt)
    k = 4 - ident.n_determined
    # one free direction with a negative variance (collinear covariates); the determined directions
    # at rounding level. Dropping the n_determined smallest eigenvalues by magnitude dropped the
    # negative one and reported a condition number of 3e7 / 2e8: no warning
    cov, determined = _covariance(ident, values, np.r_[-2e-6, np.linspace(1.0, 3.0, k - 1)])
    assert np.all(np.diag(cov) > 0)
    texts = _covariance_warnings(cov, determined, NAMES)
    assert len(texts) == 1 and "not positive semi-definite" in texts[0], texts
    assert "'log(params)'" in texts[0] and "'log(flops)'" in texts[0]
    # a free direction singular to working precision: ill-conditioned; a clean one: silent
    near, determined = _covariance(ident, values, np.r_[1e-15, np.linspace(1.0, 3.0, k - 1)], rounding=1e-17)
    texts = _covariance_warnings(near, determined, NAMES)
    assert len(texts) == 1 and "ill-conditioned" in texts[0], texts
    clean, determined = _covariance(ident, values, np.linspace(0.5, 3.0, k), rounding=1e-16)
    assert _covariance_warnings(clean, determined, NAMES) == []


def test_regression_convention_fixed_parameters_are_the_determined_directions():
    ident, values = _chinchilla_identification("2pl", "regression")
    determined = _determined_directions(ident, values, 4)
    assert determined.shape == (2, 4)
    np.testing.assert_array_equal(determined[:, [0, 3]], np.eye(2))
    cov, determined = _covariance(ident, values, np.array([-1e-5, 2.0]), rounding=0.0)
    texts = _covariance_warnings(cov, determined, NAMES)
    assert len(texts) == 1 and "not positive semi-definite" in texts[0], texts


def _reversed(family, seed):
    sim = irsl.simulate.irt(n_models=80, n_questions=40, family=family, seed=seed)
    r = sim.responses.copy()
    sel = r.question == "q00"
    r.loc[sel, "y"] = 1 - r.loc[sel, "y"]  # answer key reversed
    return sim, r


@pytest.mark.parametrize("family", ["bernoulli", "beta"])
def test_a_reversed_question_is_named_under_the_discrimination_prior(family):
    sim, r = _reversed(family, seed=2)
    res = _fit("ability ~ log(compute)", data=r, models=sim.models, family=family,
               discrimination_prior=1.0, method="mml")
    # the prior keeps a > 0: the negative-discrimination check cannot see it
    assert res.items.loc["q00", "a"] > 0
    hits = [w for w in res.warnings if "lower scores from models of higher ability" in w]
    assert len(hits) == 1 and "'q00'" in hits[0] and "check their answer keys" in hits[0], res.warnings
    assert "without discrimination_prior" in hits[0]
    assert hits[0].startswith("1 question(s)")
    # clean data: no spurious warning, several seeds
    for seed in (0, 1, 2):
        clean = irsl.simulate.irt(n_models=40, n_questions=60, family=family, seed=seed)
        res = _fit("ability ~ log(compute)", data=clean.responses, models=clean.models, family=family,
                   discrimination_prior=1.0, method="mml")
        assert not any("lower scores" in w for w in res.warnings), (seed, res.warnings)


def _hidden_one_sided():
    sim = irsl.simulate.irt(n_models=80, n_questions=60, family="bernoulli", seed=2)
    r = sim.responses.copy()
    r.loc[r.model == "m01", "y"] = 0.0  # all-extreme: JML leaves its rows out
    r.loc[(r.question == "q03") & (r.model != "m01"), "y"] = 1.0  # every other model solves q03
    return sim, r


@pytest.mark.parametrize("irt", ["1pl", "2pl"])
def test_jml_names_a_question_one_sided_among_the_rows_it_fits(irt):
    sim, r = _hidden_one_sided()
    res = _fit("ability ~ log(compute) + family", data=r, models=sim.models, family="bernoulli",
               method="jml", irt=irt)
    always = [w for w in res.warnings if "every model always answers correctly" in w]
    assert len(always) == 1 and "['q03']" in always[0], res.warnings
    assert "all extreme" in always[0]
    # not mistaken for a question without information (2PL: "their discrimination is 0")
    assert not any("same response from every model" in w for w in res.warnings)
    # MML fits every row: q03 is not one-sided there
    mml = _fit("ability ~ log(compute) + family", data=r, models=sim.models, family="bernoulli",
               method="mml", irt=irt)
    assert not any("answers correctly" in w for w in mml.warnings)


@pytest.mark.parametrize("reml", [True, False])
def test_jml_note_says_its_llf_does_not_depend_on_the_formula(reml):
    sim = irsl.simulate.irt(n_models=40, n_questions=40, seed=6)
    a = _fit("ability ~ 1", data=sim.responses, models=sim.models, method="jml", reml=reml)
    b = _fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models, method="jml",
             reml=reml)
    assert a.llf == b.llf  # the joint likelihood does not involve the formula
    for res in (a, b):
        note = res.fit_info.extra["Sigma estimator"]
        assert "does not depend on the formula" in note and "irsl.anova" in note
        assert "refit with reml=False" not in note
        assert "does not depend on the formula" in " ".join(str(res.summary()).split())
    # MML keeps its advice: there the log-likelihood does involve the formula
    assert "refit with reml=False" in sigma_text(True, "mml")
    assert sigma_text(False, "mml") == "maximum likelihood (sigma^2 divided by M)"
