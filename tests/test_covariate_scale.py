"""Covariates in raw units: estimates and standard errors do not depend on a covariate's unit.

Rank tests and least-squares solves on designs scale the columns first (``formula.scaled_rank``,
``formula.scaled_lstsq``), and the identification's Jacobian is in closed form: before, a
covariate of ~1e22 (raw FLOPs) made the intercept look like rounding noise, and central
differences with a step of ``1e-6 max(1, |b|)`` gave standard errors 22% off for a covariate
in units of 1e6.
"""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats.formula import column_scales, scaled_lstsq, scaled_rank
from irsl_stats.identification import Identification


@pytest.fixture(scope="module")
def sim():
    s = irsl.simulate.irt(n_models=40, n_questions=30, seed=1)
    return s, s.models.assign(lc=np.log(s.models.compute))


@pytest.fixture(scope="module")
def base(sim):
    s, models = sim
    return irsl.fit("ability ~ lc", data=s.responses, models=models, n_threads=1)


@pytest.mark.parametrize("unit", [1e-8, 1e4, 1e6, 1e10])
def test_estimates_and_standard_errors_do_not_depend_on_the_covariates_unit(sim, base, unit):
    s, models = sim
    res = irsl.fit("ability ~ big", data=s.responses, models=models.assign(big=models.lc * unit), n_threads=1)
    assert res.params["big"] * unit == pytest.approx(base.params["lc"], rel=1e-7)
    assert res.bse["big"] * unit == pytest.approx(base.bse["lc"], rel=1e-7)
    assert res.bse["sigma"] == pytest.approx(base.bse["sigma"], rel=1e-7)
    assert res.llf == pytest.approx(base.llf, rel=1e-10)


@pytest.mark.parametrize("method", ["mml", "jml"])
def test_raw_flops_fit_like_rescaled_flops(method):
    p = irsl.simulate.pretraining(seed=0, n_recipes=3, questions_per_benchmark=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no rank or conditioning complaint either
        raw = irsl.fit("ability ~ flops", data=p.responses, models=p.models, method=method, n_threads=1)
        scaled = irsl.fit("ability ~ I(flops / 1e20)", data=p.responses, models=p.models, method=method,
                          n_threads=1)
    assert raw.params["flops"] * 1e20 == pytest.approx(scaled.params.iloc[1], rel=1e-6)
    assert raw.bse["flops"] * 1e20 == pytest.approx(scaled.bse.iloc[1], rel=1e-6)
    new = p.models.tail(3)
    np.testing.assert_allclose(raw.predict(new)["mean"], scaled.predict(new)["mean"], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("convention", ["population", "regression"])
@pytest.mark.parametrize("irt", ["1pl", "2pl"])
def test_identification_jacobian_matches_finite_differences(convention, irt):
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(30), rng.normal(size=30), 3 * rng.normal(size=30)])
    ident = Identification.build(convention, irt, x, ["Intercept", "u", "v"])
    beta, sigma = np.array([0.3, -0.7, 0.2]), 0.8
    base = np.r_[beta, sigma]
    numeric = np.empty((4, 4))
    for k in range(4):
        step = np.zeros(4)
        step[k] = 1e-6
        up, dn = base + step, base - step
        numeric[:, k] = (np.r_[ident.transform(up[:3], up[3])[:2]]
                         - np.r_[ident.transform(dn[:3], dn[3])[:2]]) / 2e-6
    np.testing.assert_allclose(ident.jacobian(beta, sigma), numeric, atol=1e-9)


def test_scaled_lstsq_keeps_the_intercept_next_to_a_raw_unit_column():
    rng = np.random.default_rng(1)
    flops = 10 ** rng.uniform(20, 24, size=50)
    x = np.column_stack([np.ones(50), flops])
    y = 0.5 + 2e-24 * flops
    np.testing.assert_allclose(scaled_lstsq(x, y), [0.5, 2e-24], rtol=1e-8)
    np.testing.assert_allclose(scaled_lstsq(x, np.column_stack([y, 2 * y])), [[0.5, 1.0], [2e-24, 4e-24]],
                               rtol=1e-8)
    assert scaled_rank(x) == 2 and np.linalg.matrix_rank(x) == 1  # what the unscaled test said
    assert scaled_rank(np.column_stack([x, 3 * flops])) == 2
    np.testing.assert_array_equal(column_scales(np.zeros((3, 2))), [1.0, 1.0])


def test_lr_test_nesting_with_a_raw_unit_covariate():
    p = irsl.simulate.pretraining(seed=0, n_recipes=3, questions_per_benchmark=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        big = irsl.fit("ability ~ flops", data=p.responses, models=p.models, reml=False, n_threads=1)
        small = irsl.fit("ability ~ 1", data=p.responses, models=p.models, reml=False, n_threads=1)
    lr = big.compare_lr_test(small)
    assert lr.df_diff == 1 and lr.lr_stat == pytest.approx(2 * (big.llf - small.llf))


@pytest.mark.parametrize("method", ["mml", "jml"])
def test_precision_formula_with_a_raw_unit_question_covariate(method):
    # the estimator works on the column-scaled question design and reports gamma in the
    # covariate's units: before, a covariate of ~1e15 gave a wrong intercept (2.563 vs 2.708)
    # and a standard error of 1.7e-32
    s = irsl.simulate.irt(n_models=40, n_questions=30, seed=4)
    rng = np.random.default_rng(4)
    length = dict(zip(sorted(s.responses["question"].astype(str).unique()), rng.uniform(1, 3, size=30)))
    data = s.responses.assign(length=s.responses["question"].astype(str).map(length).astype(float))
    data = data.assign(big=data["length"] * 1e15)
    fits = {}
    for col in ("length", "big"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fits[col] = irsl.fit("ability ~ 1", data=data, precision=f"~ {col}", method=method, n_threads=1)
    small, big = fits["length"], fits["big"]
    assert big.params["log_phi:Intercept"] == pytest.approx(small.params["log_phi:Intercept"], rel=1e-6)
    assert big.params["log_phi:big"] * 1e15 == pytest.approx(small.params["log_phi:length"], rel=1e-6)
    assert big.bse["log_phi:Intercept"] == pytest.approx(small.bse["log_phi:Intercept"], rel=1e-5)
    assert big.bse["log_phi:big"] * 1e15 == pytest.approx(small.bse["log_phi:length"], rel=1e-5)
    np.testing.assert_allclose(big.items["phi"], small.items["phi"], rtol=1e-6)
