"""Warnings of a fit for what the estimates cannot tell: unidentified questions, degenerate
cluster-robust covariances, variances that are not positive, a precision at its bound."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats.estimate import _negative_variances_to_nan
from irsl_stats.latent_regression import cluster_warnings


def _fit(*args, **kwargs):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return irsl.fit(*args, n_threads=1, **kwargs)


@pytest.mark.parametrize("method", ["mml", "jml"])
def test_questions_that_nobody_or_everybody_solves_are_named(method):
    sim = irsl.simulate.irt(n_models=20, n_questions=15, family="binomial", seed=0)
    r = sim.responses.copy()
    r.loc[r.question == "q00", "successes"] = r.loc[r.question == "q00", "trials"]
    r.loc[r.question == "q01", "successes"] = 0
    res = _fit("ability ~ log(compute)", data=r, models=sim.models, family="binomial",
               successes="successes", trials="trials", method=method)
    never = [w for w in res.warnings if "no model ever answers correctly" in w]
    always = [w for w in res.warnings if "every model always answers correctly" in w]
    assert len(never) == 1 and "['q01']" in never[0]
    assert len(always) == 1 and "['q00']" in always[0]
    # without such questions: no warning
    clean = _fit("ability ~ log(compute)", data=sim.responses, models=sim.models, family="binomial",
                 successes="successes", trials="trials", method=method)
    assert not any("answers correctly" in w for w in clean.warnings)


def test_a_zero_weight_success_does_not_hide_a_never_solved_question():
    sim = irsl.simulate.irt(n_models=20, n_questions=10, family="bernoulli", seed=1)
    r = sim.responses.copy()
    r["w"] = 1.0
    target = sorted(r.question.unique())[3]
    q = r.question == target
    r.loc[q, "y"] = 0.0
    first = r.index[q][0]
    r.loc[first, ["y", "w"]] = [1.0, 0.0]
    res = _fit("ability ~ log(compute)", data=r, models=sim.models, family="bernoulli", weights="w")
    assert any("no model ever answers correctly" in w and repr(str(target)) in w for w in res.warnings)


def test_clustering_by_a_variable_whose_fixed_effects_are_in_the_formula_is_flagged():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, benchmarks=2, seed=0)
    res = _fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models, irt="1pl",
               cov_type="cluster", groups="family")
    degenerate = [w for w in res.warnings if "degenerate" in w]
    assert len(degenerate) == 1
    for name in ("Intercept", "family[T.fam1]", "family[T.fam2]"):
        assert name in degenerate[0]
    assert "log(compute)" not in degenerate[0]
    assert any("only 3 clusters" in w for w in res.warnings)
    # the misleading collinearity advice is not given for it
    assert not any("collinear" in w for w in res.warnings)


def test_cluster_warnings_are_silent_for_many_clusters_outside_the_formula():
    rng = np.random.default_rng(0)
    m = 60
    x = np.column_stack([np.ones(m), rng.normal(size=m), np.repeat([0.0, 1.0], m // 2)])
    groups = np.repeat(np.arange(20), 3)  # 20 clusters of 3 models, not in the design
    assert cluster_warnings(x, groups, ["Intercept", "x", "f", "sigma"]) == []
    # clusters equal to the design's two groups: the intercept and the dummy are degenerate
    texts = cluster_warnings(x, np.repeat(["a", "b"], m // 2), ["Intercept", "x", "f", "sigma"])
    assert any("['Intercept', 'f']" in t for t in texts)
    assert any("only 2 clusters for 4" in t for t in texts)


def test_negative_variances_become_nan_with_a_warning_and_zero_variances_stay():
    cov = np.array([[1.0, 0.1, 0.0], [0.1, -0.5, 0.0], [0.0, 0.0, 0.0]])
    out, texts = _negative_variances_to_nan(cov, np.array([1.0, 2.0, 1.0]), ["a", "b", "sigma"])
    assert np.isnan(out[1]).all() and np.isnan(out[:, 1]).all()
    assert out[0, 0] == 1.0 and out[2, 2] == 0.0
    assert len(texts) == 1 and "['b']" in texts[0]
    same, none = _negative_variances_to_nan(np.eye(2), np.ones(2), ["a", "b"])
    assert none == [] and np.array_equal(same, np.eye(2))


def test_precision_bound_advice_matches_the_method():
    sim = irsl.simulate.irt(n_models=12, n_questions=1, seed=0)
    res = _fit("ability ~ log(compute)", data=sim.responses, models=sim.models, method="mml")
    bound = [w for w in res.warnings if "reached the bound phi" in w]
    assert bound, res.warnings
    assert "use method='mml'" not in bound[0] and "precision='common'" in bound[0]


def test_max_iter_below_one_is_rejected():
    sim = irsl.simulate.irt(n_models=12, n_questions=10, seed=0)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
            irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, max_iter=bad, n_threads=1)


def test_dims_not_below_the_number_of_questions_is_rejected():
    sim = irsl.simulate.irt(n_models=30, n_questions=4, benchmarks=2, seed=0)
    with pytest.raises(ValueError, match="dims=4 needs more questions than dimensions: there are 4"):
        irsl.fit("ability ~ 1", data=sim.responses, benchmark="benchmark", dims=4, n_threads=1)


def test_one_dimensional_ability_correlation_has_no_interval():
    sim = irsl.simulate.irt(n_models=30, n_questions=20, benchmarks=2, seed=0)
    res = _fit("ability ~ 1", data=sim.responses, benchmark="benchmark")
    assert (res.ability_correlation().to_numpy() == 1.0).all()
    for kwargs in ({"alpha": 0.05}, {"residual": True}):
        with pytest.raises(ValueError, match="ability='per_benchmark'"):
            res.ability_correlation(**kwargs)
