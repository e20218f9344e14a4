"""Covariate dtypes at predict time, failed predictions, and the errors of formulas on bad tables.

Covers: a factor with numeric levels given as int64 / object / a dict at predict time (it was read
as a number, the value going into every dummy column), a numeric covariate given as text, a failed
prediction that broke every later one (formulaic stored the re-learned encoder state in the fit's
spec), a missing factor value, models absent from the models table, and the question covariates of
a precision formula (missing, varying within a question, infinite).
"""

import copy

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.api import _question_table
from irsl_stats.formula import LatentDesign

KW = dict(n_threads=1)
NEW_COMPUTE = 4.679695e24


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=30, benchmarks=2, seed=0)


@pytest.fixture(scope="module")
def int_models(sim):
    """The models table with ``fam``: a Categorical of the integer levels 0, 1, 2."""
    m = sim.models.copy()
    m["fam"] = pd.Categorical(m["family"].cat.codes.astype(int))
    return m


@pytest.fixture(scope="module")
def intcat_fit(sim, int_models):
    return irsl.fit("ability ~ log(compute) + fam", data=sim.responses, models=int_models, **KW)


def _new(int_models):
    return int_models.tail(3)[["model", "compute", "fam"]]


# ------------------------------------------------------------------ 1. factor with numeric levels
def test_int_levels_given_as_int64_or_object_give_the_fitted_design(intcat_fit, int_models):
    new_cat = _new(int_models)
    assert list(new_cat["fam"].astype(int)) == [0, 2, 0]
    expected = intcat_fit.design.matrix[-3:]  # the fit's own rows for these models
    for fam in (new_cat["fam"].astype(int), new_cat["fam"].astype(int).astype(object),
                new_cat["fam"].astype(float)):
        x = intcat_fit.design.transform(new_cat.assign(fam=fam))
        np.testing.assert_allclose(x, expected, rtol=0, atol=1e-12)
    # the dummy of level 2 is 1, not the number 2
    assert intcat_fit.design.transform(new_cat.assign(fam=new_cat["fam"].astype(int)))[1, 3] == 1.0
    ref = intcat_fit.predict(new_cat)
    pd.testing.assert_frame_equal(intcat_fit.predict(new_cat.assign(fam=new_cat["fam"].astype(int))), ref)


def test_int_levels_from_a_dict_predict_like_the_categorical(intcat_fit):
    from_dict = intcat_fit.predict({"compute": NEW_COMPUTE, "fam": 2})["mean"].to_numpy()
    cat = pd.DataFrame({"compute": [NEW_COMPUTE], "fam": pd.Categorical([2], categories=[0, 1, 2])})
    np.testing.assert_allclose(from_dict, intcat_fit.predict(cat)["mean"].to_numpy(), rtol=1e-12)
    # the level as text is not the level
    with pytest.raises(ValueError, match=r"levels of 'fam' not seen .*\['2'\] \(rows \[0\]\)"):
        intcat_fit.predict(pd.DataFrame({"compute": [NEW_COMPUTE], "fam": ["2"]}))


def test_object_int_factor_fit_predicts_int64_as_its_level(sim, int_models):
    m = int_models.assign(fam=int_models["fam"].astype(int).astype(object))
    res = irsl.fit("ability ~ log(compute) + fam", data=sim.responses, models=m, **KW)
    a = res.predict({"compute": NEW_COMPUTE, "fam": 2})["mean"].to_numpy()
    b = res.predict(pd.DataFrame({"compute": [NEW_COMPUTE], "fam": pd.Series([2], dtype=object)}))
    np.testing.assert_allclose(a, b["mean"].to_numpy(), rtol=1e-12)


def test_int_levels_as_int64_give_the_same_bank_prior(sim, intcat_fit, int_models):
    bank = intcat_fit.item_bank()
    resp = sim.responses[sim.responses.model == "m38"]
    new_cat = _new(int_models)
    a = bank.score(resp, models=new_cat)
    b = bank.score(resp, models=new_cat.assign(fam=new_cat["fam"].astype(int)))
    pd.testing.assert_frame_equal(a, b)


def test_int_levels_as_int64_in_a_per_benchmark_fit(sim, int_models):
    res = irsl.fit("ability ~ log(compute) + fam", data=sim.responses, models=int_models,
                   benchmark="benchmark", ability="per_benchmark", **KW)
    new_cat = _new(int_models).iloc[[1]]
    a = res.predict(new_cat)["mean"].to_numpy()
    b = res.predict(new_cat.assign(fam=new_cat["fam"].astype(int)))["mean"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-12)


# ------------------------------------------------------------------ numeric covariates as text
@pytest.fixture(scope="module")
def bool_fit(sim):
    m = sim.models.assign(big=sim.models["compute"] > 1e22)
    return irsl.fit("ability ~ log(compute) + big", data=sim.responses, models=m, **KW), m


def test_numeric_covariate_given_as_text_names_the_column(bool_fit):
    res, m = bool_fit
    new = m.tail(3)[["compute", "big"]]
    with pytest.raises(ValueError, match=r"non-numeric values of 'big', which was numeric \(bool\).*"
                                         r"\['True', 'False'\] \(rows \[37, 38, 39\]\)"):
        res.predict(new.assign(big=new["big"].astype(str)))


def test_numeric_covariates_given_as_object_numbers_are_converted(bool_fit):
    res, m = bool_fit
    new = m.tail(3)[["compute", "big"]]
    ref = res.predict(new)
    as_object = new.assign(big=new["big"].astype(object), compute=new["compute"].astype(object))
    pd.testing.assert_frame_equal(res.predict(as_object), ref)


# ------------------------------------------------------------------ 2. a failed predict
def test_failed_predict_leaves_the_fit_usable(sim, bool_fit):
    res, m = bool_fit
    new = m.tail(3)[["compute", "big"]]
    ref = res.predict(new)
    bank = res.item_bank()
    resp, row = sim.responses[sim.responses.model == "m38"], m[m.model == "m38"]
    score = bank.score(resp, models=row)
    state = copy.deepcopy(res.design.spec.encoder_state)
    with pytest.raises(ValueError):
        res.predict(new.assign(big=new["big"].astype(str)))
    assert dict(res.design.spec.encoder_state) == state
    pd.testing.assert_frame_equal(res.predict(new), ref)
    pd.testing.assert_frame_equal(bank.score(resp, models=row), score)


def test_formulaic_failure_does_not_mutate_the_stored_spec(bool_fit, monkeypatch):
    """Even when the text reaches formulaic (here: dtype alignment switched off), the spec is intact."""
    res, m = bool_fit
    new = m.tail(3)[["compute", "big"]]
    ref = res.predict(new)
    state = copy.deepcopy(res.design.spec.encoder_state)
    with monkeypatch.context() as mp:
        mp.setattr(LatentDesign, "_align_dtypes", lambda self, nm: nm, raising=False)
        with pytest.raises(ValueError, match="cannot evaluate"):
            res.predict(new.assign(big=new["big"].astype(str)))
    assert dict(res.design.spec.encoder_state) == state
    pd.testing.assert_frame_equal(res.predict(new), ref)
    pd.testing.assert_frame_equal(res.predict(new.assign(big=new["big"].astype(object))), ref)


# ------------------------------------------------------------------ 3. missing factor values
@pytest.fixture(scope="module")
def family_fits(sim):
    return [irsl.fit(f, data=sim.responses, models=sim.models, **KW)
            for f in ("ability ~ log(compute) + family", "ability ~ log(compute) + C(family)")]


@pytest.mark.parametrize("kind", ["object NaN", "categorical NaN", "string NA", "None"])
def test_missing_factor_value_names_column_and_rows(sim, family_fits, kind):
    new = sim.models.tail(3)[["compute", "family"]]
    keep = [True, False, True]
    col = {"object NaN": new["family"].astype(object).where(keep, np.nan),
           "categorical NaN": new["family"].where(keep),
           "string NA": new["family"].astype("string").where(keep),
           "None": new["family"].astype(object).where(keep, None)}[kind]
    for res in family_fits:
        with pytest.raises(ValueError, match=r"missing values of 'family'.* \(rows \[38\]\).*'fam0'"):
            res.predict(new.assign(family=col))


# ------------------------------------------------------------------ 4. models absent from the table
def test_models_absent_from_the_models_table_are_named_as_absent(sim):
    absent = ["m03", "m17", "m22"]
    with pytest.raises(ValueError, match=r"3 model\(s\) with responses are not in the models table "
                                         r".*\['m03', 'm17', 'm22'\]") as exc:
        irsl.fit("ability ~ log(compute) + family", data=sim.responses,
                 models=sim.models[~sim.models.model.isin(absent)], **KW)
    assert "missing values" not in str(exc.value)
    # a model in the table with a NaN covariate is still a missing value
    m = sim.models.assign(compute=sim.models["compute"].where(sim.models.model != "m05"))
    with pytest.raises(ValueError, match=r"1 model\(s\) with responses have missing values .*\['m05'\]"):
        irsl.fit("ability ~ log(compute)", data=sim.responses, models=m, **KW)


# ------------------------------------------------------------------ 5. precision formula
def _qnum(sim):
    return sim.responses["question"].astype(str).str[1:].astype(int)


def test_precision_covariate_missing_for_a_question_names_it(sim):
    qn = _qnum(sim)
    r = sim.responses.assign(level=np.where(qn % 2 == 0, "L1", "L2").astype(object))
    r.loc[qn == 7, "level"] = np.nan
    with pytest.raises(ValueError, match=r"'level' of the precision formula '~ level' is missing for "
                                         r"1 question\(s\): \['q07'\]"):
        irsl.fit("ability ~ log(compute)", data=r, models=sim.models, precision="~ level", **KW)


def test_precision_covariate_varying_within_a_question_names_it(sim):
    qn = _qnum(sim)
    r = sim.responses.assign(level=np.where(qn % 2 == 0, "L1", "L2").astype(object))
    r.loc[r.index[4], "level"] = "L2"  # the row of (m00, q04)
    assert r.loc[r.index[4], "question"] == "q04"
    with pytest.raises(ValueError, match=r"uses 'level', which varies within 1 question\(s\): \['q04'\]"):
        irsl.fit("ability ~ log(compute)", data=r, models=sim.models, precision="~ level", **KW)


def test_question_table_records_varying_columns(sim):
    from irsl_stats.data import ResponseData

    qn = _qnum(sim)
    r = sim.responses.assign(level=np.where(qn % 2 == 0, "L1", "L2").astype(object))
    r.loc[r.index[4], "level"] = "L2"
    table = _question_table(r, ResponseData.from_long(r), "question")
    assert "level" not in table.columns
    varying = table.attrs["varying_within_question"]["level"]
    assert varying["n"] == 1 and varying["questions"] == ["q04"] and varying["distinct"] == 2


def test_infinite_precision_covariate_is_named_as_such(sim):
    qn = _qnum(sim)
    r = sim.responses.assign(lvl=(qn % 3).astype(float))
    r.loc[qn == 4, "lvl"] = np.inf
    with pytest.raises(ValueError, match=r"the precision-formula column 'lvl' is NaN or infinite for "
                                         r"1 questions \(e\.g\. q04\)"):
        irsl.fit("ability ~ log(compute)", data=r, models=sim.models, precision="~ lvl", **KW)
