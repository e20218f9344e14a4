"""compare_lr_test / anova refit REML fits from the data the fits were made on, not the live tables.

The maximum-likelihood refits (``reml=False``, as lme4's ``anova``) used to call ``fit`` again on
the DataFrames the user had passed, kept by reference: a column recoded or responses clipped after
fitting silently entered the test (LR 23.64, p = 2.4e-5 before such a change, 20.31, p = 8.3e-5
after, for fits that had not changed).
"""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest

import irsl_stats as irsl

FULL = "ability ~ log(compute) + family"
SMALL = "ability ~ log(compute)"


def _fit(formula, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(formula, n_threads=1, **kw)


def _lr(full, small):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return full.compare_lr_test(small)


def _anova(*fits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.anova(*fits)


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=60, seed=1)


def test_changes_to_the_tables_after_fitting_do_not_enter_the_test(sim):
    R, M = sim.responses.copy(), sim.models.copy()
    full, small = _fit(FULL, data=R, models=M), _fit(SMALL, data=R, models=M)
    before, table_before = _lr(full, small), _anova(small, full)
    # the audit's changes: a covariate recoded, the responses rounded and clipped
    M["family"] = np.where(M["family"] == "fam1", "fam0", M["family"])
    R["y"] = R["y"].round(1).clip(0.05, 0.95)
    # and changes in place of the values (not a new column)
    M.loc[M.index[:5], "compute"] = 1e30
    R.loc[R.index[:500], "y"] = 0.5
    after, table_after = _lr(full, small), _anova(small, full)
    assert after == before  # was 20.31 (p = 8.3e-5) against 23.64 (p = 2.4e-5)
    assert before.lr_stat == pytest.approx(23.637, abs=1e-3) and before.df_diff == 2
    assert table_after["llf"].tolist() == table_before["llf"].tolist()


def test_the_refit_is_the_maximum_likelihood_fit_of_the_same_data(sim):
    """Unchanged for unchanged tables: the test of the REML fits is that of explicit reml=False fits."""
    kw = dict(data=sim.responses, models=sim.models)
    reml = _lr(_fit(FULL, **kw), _fit(SMALL, **kw))
    ml = _lr(_fit(FULL, reml=False, **kw), _fit(SMALL, reml=False, **kw))
    assert reml.lr_stat == pytest.approx(ml.lr_stat, rel=1e-9)
    assert reml.df_diff == ml.df_diff == 2


def test_a_fit_does_not_keep_the_callers_tables(sim):
    """Nothing in the result refers to the DataFrames passed (a large responses table stayed
    alive as long as the result, and the refit read it)."""
    R, M = sim.responses.copy(), sim.models.copy()
    refs = weakref.ref(R), weakref.ref(M)
    res = _fit(FULL, data=R, models=M)
    del R, M
    gc.collect()
    assert refs[0]() is None and refs[1]() is None
    assert res.fit_info.sigma_reml


def test_weights_changed_after_fitting_do_not_enter_the_test(sim):
    R = sim.responses.assign(w=np.linspace(0.5, 2.0, len(sim.responses)))
    kw = dict(data=R, models=sim.models, weights="w")
    full, small = _fit(FULL, **kw), _fit(SMALL, **kw)
    before = _lr(full, small)
    R["w"] = 1.0
    assert _lr(full, small) == before


def test_a_precision_formula_is_refitted_with_its_question_covariates(sim):
    """Question covariates come from the responses table: the refit uses the fit's precision
    design, not that table's current column."""
    R = sim.responses.copy()
    R["qlen"] = R["question"].cat.codes.astype(float) % 7
    kw = dict(data=R, models=sim.models, precision="~ qlen")
    full, small = _fit(FULL, **kw), _fit(SMALL, **kw)
    before = _lr(full, small)
    R["qlen"] = R["qlen"] ** 2
    assert _lr(full, small) == before


def test_cluster_groups_are_those_of_the_fit(sim):
    M = sim.models.assign(lab=[f"lab{i % 8}" for i in range(len(sim.models))])
    kw = dict(data=sim.responses, models=M, cov_type="cluster", groups="lab")
    full, small = _fit(FULL, **kw), _fit(SMALL, **kw)
    before = _lr(full, small)
    M["lab"] = "one"  # a single cluster: the refit's covariance would be degenerate
    del M["family"]
    assert _lr(full, small) == before


def test_a_responsedata_changed_after_fitting_is_an_error(sim):
    """A ResponseData passed by the caller is the caller's object: a refit after its values were
    changed would not be of the data the fits were made on."""
    rd = irsl.ResponseData.from_long(sim.responses, family="beta")
    full, small = _fit(FULL, data=rd, models=sim.models), _fit(SMALL, data=rd, models=sim.models)
    before = _lr(full, small)
    y = rd.y.copy()
    np.clip(rd.y, 0.1, 0.9, out=rd.y)  # in place: same array, new values
    with pytest.raises(ValueError, match="changed in place"):
        _lr(full, small)
    rd.y[:] = y
    assert _lr(full, small) == before
    rd.y = y.copy()  # a new array
    with pytest.raises(ValueError, match="arrays or labels were replaced"):
        _lr(full, small)


def test_a_design_matrix_changed_after_fitting_is_an_error(sim):
    kw = dict(data=sim.responses, models=sim.models)
    full, small = _fit(FULL, **kw), _fit(SMALL, **kw)
    full.design.matrix[0, 2] += 1.0  # a family dummy: the laws stay nested
    with pytest.raises(ValueError, match=r"design matrix \(\.design\.matrix\) was changed"):
        _lr(full, small)
