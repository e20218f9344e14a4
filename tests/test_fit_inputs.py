"""Input validation of ``irsl.fit``: weights, model counts, ResponseData arguments, table keys,
prediction on categorical covariates and argument combinations that used to be silently ignored."""

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl

KW = dict(n_threads=1)


@pytest.fixture(scope="module")
def sim12():
    return irsl.simulate.irt(n_models=12, n_questions=20, seed=0)


# ------------------------------------------------------------------ 1. zero weights
def test_fit_rejects_a_model_with_all_zero_weights(sim12):
    r = sim12.responses.assign(w=1.0)
    r.loc[r.model == "m00", "w"] = 0.0
    with pytest.raises(ValueError, match=r"column 'w'.*1 model\(s\) whose weights are all 0 \('m00'\)"):
        irsl.fit("ability ~ log(compute)", data=r, models=sim12.models, method="jml",
                 precision="common", weights="w", **KW)


def test_fit_rejects_all_zero_weights(sim12):
    with pytest.raises(ValueError, match="all 240 weights are 0"):
        irsl.fit("ability ~ log(compute)", data=sim12.responses.assign(w=0.0), models=sim12.models,
                 weights="w", **KW)


# ------------------------------------------------------------------ 2. too few models
def test_fit_rejects_fewer_models_than_coefficients_plus_two():
    sim = irsl.simulate.irt(n_models=3, n_questions=20, seed=0)
    with pytest.raises(ValueError, match=r"3 model\(s\) .* 2 coefficient\(s\) .* at least 4 models"):
        irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, **KW)


def test_jml_with_two_models_is_a_value_error_not_linalgerror():
    sim = irsl.simulate.irt(n_models=2, n_questions=20, seed=0)
    with pytest.raises(ValueError, match=r"2 model\(s\) .* 1 coefficient\(s\) \['Intercept'\]"):
        irsl.fit("ability ~ 1", data=sim.responses, method="jml", **KW)


def test_p_plus_two_models_are_enough():
    sim = irsl.simulate.irt(n_models=4, n_questions=20, seed=0)
    res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, **KW)
    assert np.isfinite(res.params).all()


# ------------------------------------------------------------------ 3. fit(data=ResponseData)
def test_boundary_conflicting_with_response_data_is_an_error(sim12):
    r = sim12.responses.copy()
    r.loc[3, "y"] = 0.0
    rd = irsl.ResponseData.from_long(r, boundary="clip")
    with pytest.raises(ValueError, match=r"boundary='squeeze' conflicts with the ResponseData.*'clip'"):
        irsl.fit("ability ~ log(compute)", data=rd, models=sim12.models, boundary="squeeze", **KW)
    # not given, or equal to the ResponseData's: its own policy is used
    for kw in ({}, {"boundary": "clip"}):
        res = irsl.fit("ability ~ log(compute)", data=rd, models=sim12.models, **kw, **KW)
        assert res.converged


def test_column_argument_conflicting_with_response_data_is_an_error(sim12):
    rd = irsl.ResponseData.from_long(sim12.responses)
    with pytest.raises(ValueError, match=r"weights='w' \(the ResponseData has None\)"):
        irsl.fit("ability ~ log(compute)", data=rd, models=sim12.models, weights="w", **KW)
    with pytest.raises(ValueError, match=r"response='score' \(the ResponseData has 'y'\)"):
        irsl.fit("ability ~ log(compute)", data=rd, models=sim12.models, response="score", **KW)


def test_models_table_key_defaults_to_response_data_model_column(sim12):
    wide = sim12.responses.pivot(index="model", columns="question", values="y")
    wide.index.name = "name"
    rd = irsl.ResponseData.from_matrix(wide)
    res = irsl.fit("ability ~ log(compute)", data=rd, models=sim12.models.rename(columns={"model": "name"}),
                   **KW)
    ref = irsl.fit("ability ~ log(compute)", data=sim12.responses, models=sim12.models, **KW)
    pd.testing.assert_series_equal(res.params, ref.params, rtol=1e-6)


# ------------------------------------------------------------------ 4. models-table key mismatch
def test_models_table_keyed_by_another_column(sim12):
    with pytest.raises(ValueError) as exc:
        irsl.fit("ability ~ log(compute)", data=sim12.responses,
                 models=sim12.models.rename(columns={"model": "lm"}), **KW)
    msg = str(exc.value)
    assert "only 0 of the 12 models with responses are keys of the models table" in msg
    assert "its index" in msg and "no column 'model'" in msg
    assert "'m00'" in msg and "int64" in msg
    assert "missing covariates" not in msg


def test_models_table_with_labels_of_another_type(sim12):
    r = sim12.responses.assign(model=sim12.responses.model.astype(str).str[1:].astype(int))
    m = sim12.models.assign(model=sim12.models.model.str[1:])
    with pytest.raises(ValueError) as exc:
        irsl.fit("ability ~ log(compute)", data=r, models=m, **KW)
    msg = str(exc.value)
    assert "keyed by its column 'model'" in msg and "[0, 1, 2, 3, 4] (dtype int64)" in msg
    assert "'00'" in msg and ".astype(str)" in msg


def test_models_table_missing_a_few_models_names_them(sim12):
    with pytest.raises(ValueError, match=r"1 model\(s\) with responses are not in the models table .*\['m03'\]"):
        irsl.fit("ability ~ log(compute)", data=sim12.responses,
                 models=sim12.models[sim12.models.model != "m03"], **KW)


# ------------------------------------------------------------------ 5. predict with categoricals
@pytest.fixture(scope="module")
def family_fit():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, benchmarks=2, seed=0)
    return irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models, **KW)


def test_predict_accepts_categorical_with_extra_categories(family_fit):
    new = pd.DataFrame({"compute": [1e22],
                        "family": pd.Categorical(["fam1"], categories=["fam0", "fam1", "fam2", "famX"])})
    ref = pd.DataFrame({"compute": [1e22], "family": ["fam1"]})
    pd.testing.assert_frame_equal(family_fit.predict(new), family_fit.predict(ref))


def test_predict_unseen_level_is_an_error(family_fit):
    new = pd.DataFrame({"compute": [1e22, 1e22], "family": ["fam1", "famX"]})
    with pytest.raises(ValueError, match=r"levels of 'family' not seen .*\['famX'\] \(rows \[1\]\).*'fam0'"):
        family_fit.predict(new)


# ------------------------------------------------------------------ 6. binary data with beta
def test_beta_on_binary_data_suggests_bernoulli_first():
    sim = irsl.simulate.irt(n_models=10, n_questions=10, family="bernoulli", seed=1)
    with pytest.raises(ValueError, match="100 of 100 rows are exactly 0 or 1") as exc:
        irsl.fit("ability ~ 1", data=sim.responses, **KW)
    assert str(exc.value).splitlines()[-1].startswith("Every response is 0 or 1")


# ------------------------------------------------------------------ 7. ignored arguments
def test_response_with_counts_is_an_error():
    sim = irsl.simulate.irt(n_models=12, n_questions=20, family="binomial", seed=0)
    with pytest.raises(ValueError, match="give either response= or successes= and trials=, not both"):
        irsl.fit("ability ~ log(compute)", data=sim.responses.assign(rate=0.5), models=sim.models,
                 family="binomial", response="rate", successes="successes", trials="trials", **KW)


def test_misspelled_groups_column_is_named_as_groups(sim12):
    with pytest.raises(ValueError) as exc:
        irsl.fit("ability ~ log(compute)", data=sim12.responses, models=sim12.models,
                 cov_type="cluster", groups="famly", **KW)
    msg = str(exc.value)
    assert "groups= column(s)" in msg and "'famly'" in msg and "used by the formula" not in msg


def test_groups_without_cluster_cov_type_is_an_error(sim12):
    with pytest.raises(ValueError, match=r"groups='family' only applies with cov_type='cluster'"):
        irsl.fit("ability ~ log(compute)", data=sim12.responses, models=sim12.models,
                 groups="family", **KW)
