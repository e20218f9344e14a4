"""Audit of the estimation drivers: disconnected designs, the parameters fixed by
identification="regression", and warnings that named the wrong cause."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats.design_graph import design_components, disconnected_warning
from irsl_stats.mml import not_converged_text


def _fit(*args, **kwargs):
    """A fit and the texts of the warnings it issued."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = irsl.fit(*args, n_threads=1, **kwargs)
    return res, [str(w.message) for w in rec]


# ============================================================================ disconnected designs
@pytest.fixture(scope="module")
def blocks():
    """The audit's design: models 0-29 answer q00-q29, models 30-59 answer q30-q59."""
    sim = irsl.simulate.irt(n_models=60, n_questions=60, seed=2)
    r = sim.responses
    mi, qi = r.model.cat.codes, r.question.cat.codes
    return sim, r[((mi < 30) & (qi < 30)) | ((mi >= 30) & (qi >= 30))]


@pytest.mark.parametrize("irt", ["1pl", "2pl"])
def test_jml_on_a_disconnected_design_warns_and_is_not_converged(blocks, irt):
    # before: converged=True and no word about the design (1PL: sigma 0.676 with ordinary SEs,
    # against 0.49 by MML and 0.50 by JML on the connected data)
    sim, data = blocks
    res, shown = _fit("ability ~ log(compute)", data=data, models=sim.models, method="jml", irt=irt)
    design = [w for w in shown if "disconnected" in w]
    assert len(design) == 1, shown
    text = design[0]
    assert "2 blocks" in text and "30 models x 30 questions" in text
    assert "'m30'" in text and "'q30'" in text  # labels of the smaller block
    assert "method='mml'" in text and "separately" in text and "linking questions" in text
    assert ("location and scale" in text) == (irt == "2pl")
    assert res.warnings[0] == text  # the root cause comes first
    assert not res.converged
    assert "blocks" in res.fit_info.extra["Design"]


def test_mml_on_a_disconnected_design_warns_that_the_population_assumption_links_the_blocks(blocks):
    sim, data = blocks
    res, shown = _fit("ability ~ log(compute)", data=data, models=sim.models)
    design = [w for w in shown if "disconnected" in w]
    assert len(design) == 1, shown
    assert "2 blocks" in design[0] and "population distribution" in design[0]
    assert "not identified" not in design[0]
    assert res.converged  # the marginal likelihood is identified (by its assumption)


@pytest.mark.parametrize("method", ["jml", "mml"])
def test_a_connected_design_does_not_warn(blocks, method):
    sim, data = blocks
    # one model answering a question of the other block links the two
    linked = sim.responses[sim.responses.index.isin(data.index)
                           | ((sim.responses.model == "m00") & (sim.responses.question == "q45"))]
    res, shown = _fit("ability ~ log(compute)", data=linked, models=sim.models, method=method)
    assert not any("disconnected" in w for w in shown)
    assert "Design" not in res.fit_info.extra


def test_multidimensional_fit_on_a_disconnected_design_warns():
    sim = irsl.simulate.irt(n_models=30, n_questions=24, seed=5)
    r = sim.responses
    mi, qi = r.model.cat.codes, r.question.cat.codes
    data = r[((mi < 15) & (qi < 12)) | ((mi >= 15) & (qi >= 12))]
    _, shown = _fit("ability ~ 1", data=data, dims=2, max_iter=50)
    assert any("disconnected" in w and "2 blocks" in w for w in shown), shown


def test_design_components():
    # models 0, 1 with questions 0, 1; model 2 with question 2; model 3 without a response
    model = np.array([0, 0, 1, 2])
    item = np.array([0, 1, 1, 2])
    comp = design_components(model, item, 4, 4)
    assert comp.n_components == 2 and not comp.connected
    assert comp.model_component.tolist() == [0, 0, 1, -1]  # largest block first
    assert comp.item_component.tolist() == [0, 0, 1, -1]
    assert comp.sizes() == [(2, 2), (1, 1)]
    text = disconnected_warning(comp, ["a", "b", "c", "d"], ["q0", "q1", "q2", "q3"], "jml", "1pl")
    assert "2 blocks" in text and "['c']" in text and "['q2']" in text
    # a row of weight 0 links nothing
    model = np.array([0, 0, 1, 1, 2])
    item = np.array([0, 1, 1, 2, 2])
    assert design_components(model, item, 3, 3).connected
    split = design_components(model, item, 3, 3, rows=np.array([True, True, False, True, True]))
    assert split.n_components == 2
    # a chain with no model answering every question and no question answered by every model
    # (the sparse-graph path), given with its CSR offsets
    model = np.array([0, 0, 1, 1, 2, 2])
    item = np.array([0, 1, 1, 2, 2, 3])
    assert design_components(model, item, 3, 4, model_ptr=np.array([0, 2, 4, 6])).connected
    assert disconnected_warning(design_components(model, item, 3, 4), ["a"] * 3, ["q"] * 4, "mml") is None


# ============================================================================ regression identification
@pytest.fixture(scope="module")
def small():
    return irsl.simulate.irt(n_models=40, n_questions=30, seed=1)


@pytest.mark.parametrize("irt", ["1pl", "2pl"])
@pytest.mark.parametrize("method", ["mml", "jml"])
def test_regression_identification_reports_its_fixed_parameters(small, irt, method):
    # before: params == {} for ability ~ 1, and Intercept (2PL: and sigma) were left out of
    # params and cov_params when there are covariates
    kw = dict(data=small.responses, models=small.models, irt=irt, method=method, reml=False)
    reg, _ = _fit("ability ~ log(compute)", identification="regression", **kw)
    pop, _ = _fit("ability ~ log(compute)", identification="population", **kw)
    fixed = ["Intercept", "sigma"] if irt == "2pl" else ["Intercept"]
    assert reg.params.index.tolist() == ["Intercept", "log(compute)", "sigma"]
    assert reg.fixed_params == fixed
    assert reg.params["Intercept"] == 0.0
    if irt == "2pl":
        assert reg.params["sigma"] == 1.0
    cov = reg.cov_params()
    assert cov.shape == (3, 3)
    assert (cov.loc[fixed].to_numpy() == 0).all() and (cov[fixed].to_numpy() == 0).all()
    assert reg.bse["log(compute)"] > 0 and np.isnan(reg.tvalues[fixed]).all()
    text = reg.summary().as_text()
    assert "(fixed)" in text and "Fixed by the identification" in text
    # reporting constants adds no parameter: AIC, BIC and the LR test are those of "population"
    assert reg.aic == pytest.approx(pop.aic, rel=1e-9) and reg.bic == pytest.approx(pop.bic, rel=1e-9)
    assert reg.df_model == pop.df_model == 1
    null_reg, _ = _fit("ability ~ 1", identification="regression", **kw)
    null_pop, _ = _fit("ability ~ 1", identification="population", **kw)
    assert null_reg.params.index.tolist() == ["Intercept", "sigma"]
    assert null_reg.fixed_params == fixed
    lr_reg, lr_pop = reg.compare_lr_test(null_reg), pop.compare_lr_test(null_pop)
    assert lr_reg.df_diff == lr_pop.df_diff == 1
    assert lr_reg.lr_stat == pytest.approx(lr_pop.lr_stat, rel=1e-6)
    # and the slope's Wald test is the same as before (one degree of freedom, no warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wald = reg.wald_test("log(compute) = 0", use_f=False)  # chi-squared (default F under use_t)
    assert int(wald.df_denom) == 1
    assert float(wald.statistic) == pytest.approx(
        (reg.params["log(compute)"] / reg.bse["log(compute)"]) ** 2, rel=1e-8)


# ============================================================================ misleading warnings
def test_a_flat_question_is_named_as_such_not_as_a_wrong_answer_key(small):
    # before: a = -1e-17 gave "negative discrimination ... check their answer keys", and its
    # precision at the bound was blamed on "too few models" (there are 40)
    r = small.responses.copy()
    r.loc[r.question == "q00", "y"] = 0.5
    res, shown = _fit("ability ~ log(compute)", data=r, models=small.models)
    assert not any("negative discrimination" in w for w in shown), shown
    assert not any("too few models" in w for w in shown), shown
    flat = [w for w in shown if "same response from every model" in w]
    assert len(flat) == 1 and "['q00']" in flat[0] and "no information about ability" in flat[0]
    assert not any("reached the bound phi" in w for w in shown)  # said by the flat warning


def test_a_miskeyed_question_still_warns_and_a_chance_negative_does_not():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=4)
    df = sim.responses.copy()
    flip = df["question"].astype(str).isin(["q07", "q08"])
    df.loc[flip, "y"] = 1.0 - df.loc[flip, "y"]
    res, shown = _fit("ability ~ log(compute)", data=df, models=sim.models, precision="common", full_cov=False)
    neg = [w for w in shown if "negative discrimination" in w]
    assert len(neg) == 1 and "['q07', 'q08']" in neg[0] and "two standard errors" in neg[0]
    # a negative estimate within its standard error of 0 (here a = -6.5, se 6.6) says nothing
    # about the answer key
    sim = irsl.simulate.irt(n_models=40, n_questions=30, family="bernoulli", seed=3, a_sdlog=0.5)
    res, shown = _fit("ability ~ 1", data=sim.responses, family="bernoulli")
    items = res.items
    assert (items["a"] < 0).any() and ((items["a"] + 2 * items["a_se"]) >= 0).all()
    assert not any("negative discrimination" in w for w in shown), shown


def test_a_precision_at_its_bound_lists_the_possible_causes():
    sim = irsl.simulate.irt(n_models=12, n_questions=1, seed=0)
    res, _ = _fit("ability ~ log(compute)", data=sim.responses, models=sim.models, method="mml")
    bound = [w for w in res.warnings if "reached the bound phi" in w]
    assert len(bound) == 1
    assert "['q0']" in bound[0] and "nearly constant responses" in bound[0] and "too few models" in bound[0]
    assert "(too few models to estimate a precision per question)" not in bound[0]


@pytest.mark.parametrize("kw", [{}, {"dims": 2}])
def test_one_em_iteration_does_not_report_a_nan_change(kw):
    sim = irsl.simulate.irt(n_models=20, n_questions=10, seed=4)
    _, shown = _fit("ability ~ 1", data=sim.responses, max_iter=1, **kw)
    stop = [w for w in shown if "EM iteration" in w]
    assert len(stop) == 1 and "stopped after 1 EM iteration" in stop[0] and "nan" not in stop[0]
    _, shown = _fit("ability ~ 1", data=sim.responses, max_iter=2, **kw)
    stop = [w for w in shown if "EM iteration" in w]
    assert len(stop) == 1 and "did not converge in 2 EM iterations (last change" in stop[0]


def test_not_converged_text():
    assert "last change of the marginal log-likelihood 1.00e-03" in not_converged_text("MML", 5, 1e-3)
    one = not_converged_text("MML (D = 2)", 1, np.nan)
    assert one.startswith("MML (D = 2) stopped after 1 EM iteration") and "nan" not in one
