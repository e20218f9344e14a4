"""Audit fixes in the formula layer: the rank test on large-scale covariates, quoted column names,
and clear errors for models tables of the wrong type or with repeated column names."""

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.formula import model_covariates, parse_latent_formula, precision_design
from irsl_stats.precision import PrecisionModel


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=30, seed=1)


def _design(formula, models):
    labels = pd.Index(models["model"])
    return parse_latent_formula(formula, None, models, "model", labels)


# --- rank test on covariates in raw units -------------------------------------------------------


@pytest.mark.parametrize("scale", [1e12, 1e20, 1e40])
def test_large_scale_covariate_is_not_rank_deficient(sim, scale):
    # raw FLOPs are ~1e22: the unscaled rank test called the intercept rounding noise
    models = sim.models.assign(tokens=np.log(sim.models.compute) * scale)
    design = _design("ability ~ tokens", models)
    assert design.column_names == ["Intercept", "tokens"]
    np.testing.assert_allclose(design.matrix[:, 1], models["tokens"].to_numpy())


def test_raw_flops_design_of_pretraining_data_is_accepted():
    p = irsl.simulate.pretraining(seed=0, n_recipes=3, questions_per_benchmark=10)
    design = _design("ability ~ flops", p.models)
    assert design.column_names == ["Intercept", "flops"]
    assert p.models["flops"].max() > 1e15  # the scale that used to be rejected


@pytest.mark.parametrize("formula", [
    "ability ~ compute + three_compute",  # x and 3x, both ~1e20-1e25
    "ability ~ big_const",                # a constant 1e22 next to the intercept
    "ability ~ const",                    # an ordinary constant next to the intercept
    "ability ~ zero",                     # an all-zero column
    "ability ~ fam + is_a",               # dummy trap: Intercept = fam[T.b] + is_a
    "ability ~ compute + I(compute * 2e-30)",  # a huge and a tiny copy of one covariate
])
def test_real_collinearity_is_still_rank_deficient(sim, formula):
    m = sim.models
    fam = np.where(np.arange(len(m)) % 2 == 0, "a", "b")
    models = m.assign(three_compute=3 * m.compute, big_const=1e22, const=7.0, zero=0.0,
                      fam=fam, is_a=(fam == "a").astype(float))
    with pytest.raises(ValueError, match="rank deficient"):
        _design(formula, models)


def _question_table():
    n = 30
    group = np.arange(n) % 2
    return pd.DataFrame({"big": 1e15 * (1.0 + group) + 1e13 * np.arange(n),
                         "big2": 2e15 * (1.0 + group) + 2e13 * np.arange(n)},
                        index=[f"q{j:02d}" for j in range(n)])


def test_precision_design_accepts_large_scale_question_covariate():
    z, names = precision_design("~ big", _question_table())
    assert names == ["log_phi:Intercept", "log_phi:big"]
    assert z.shape == (30, 2)


def test_precision_design_still_rejects_collinear_large_columns():
    with pytest.raises(ValueError, match="rank deficient"):
        precision_design("~ big + big2", _question_table())


def test_precision_start_values_on_large_scale_design():
    # lstsq's cutoff is relative to the largest singular value: unscaled, the intercept of a
    # design with a 1e15 column was dropped and the start missed log phi by ~1
    z, _ = precision_design("~ big", _question_table())
    truth = np.array([2.5, -1e-16])
    coef = PrecisionModel("linear", len(z), z=z).initial(z @ truth)
    np.testing.assert_allclose(coef, truth, rtol=1e-8)


# --- quoted column names -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quoted_models(sim):
    return sim.models.assign(**{"log compute": np.log(sim.models.compute),
                                "compute.1": sim.models.compute})


@pytest.fixture(scope="module")
def reference_fit(sim):
    return irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models)


@pytest.mark.parametrize("formula", [
    "ability ~ `log compute`",
    "ability ~ Q('log compute')",
    'ability ~ Q("log compute")',
    "ability ~ log(`compute.1`)",
    "ability ~ center(log(`compute.1`))",
])
def test_quoted_column_names_fit_and_predict(sim, quoted_models, reference_fit, formula):
    res = irsl.fit(formula, data=sim.responses, models=quoted_models)
    np.testing.assert_allclose(res.params.iloc[1], reference_fit.params.iloc[1], rtol=1e-6)
    np.testing.assert_allclose(res.bse.iloc[1], reference_fit.bse.iloc[1], rtol=1e-6)
    new = quoted_models.iloc[:3]
    np.testing.assert_allclose(res.predict(new)["mean"], reference_fit.predict(new)["mean"], rtol=1e-6)


def test_quoted_names_are_collected_from_models_table(quoted_models):
    labels = pd.Index(quoted_models["model"])
    cov = model_covariates(None, quoted_models, "model", labels, ["log compute", "compute.1"])
    design = _design("ability ~ `log compute` + `compute.1`:Q('compute')", quoted_models)
    assert list(cov.columns) == ["log compute", "compute.1"]
    assert sorted(design.covariates.columns) == ["compute", "compute.1", "log compute"]


def test_quoted_names_in_precision_formula():
    sim = irsl.simulate.irt(n_models=40, n_questions=30, family="beta", seed=2)
    data = sim.responses.assign(**{"q group": lambda d: (d.question.str[1:].astype(int) % 2) * 1.0})
    plain = irsl.fit("ability ~ log(compute)", data=data.rename(columns={"q group": "g"}),
                     models=sim.models, precision="~ g")
    for spec in ("~ `q group`", "~ Q('q group')"):
        res = irsl.fit("ability ~ log(compute)", data=data, models=sim.models, precision=spec)
        np.testing.assert_allclose(res.params.filter(like="log_phi").to_numpy(),
                                   plain.params.filter(like="log_phi").to_numpy(), rtol=1e-6)


# --- models tables of the wrong type or with repeated column names -------------------------------


@pytest.mark.parametrize("bad", ["series", "array", "dict"])
def test_models_of_wrong_type_is_a_type_error(sim, bad):
    table = {"series": sim.models.set_index("model")["compute"], "array": sim.models.to_numpy(),
             "dict": sim.models.to_dict("list")}[bad]
    labels = pd.Index(sim.models["model"])
    with pytest.raises(TypeError, match=f"models must be a pandas DataFrame.*got {type(table).__name__}"):
        parse_latent_formula("ability ~ log(compute)", sim.responses, table, "model", labels)


def test_fit_with_models_series_is_a_type_error(sim):
    with pytest.raises(TypeError, match="Series"):
        irsl.fit("ability ~ log(compute)", data=sim.responses,
                 models=sim.models.set_index("model")["compute"])


def test_repeated_covariate_column_is_named(sim):
    # the formula layer (reached from fit and from the item bank) names the repeated columns it reads
    models = pd.concat([sim.models, sim.models[["compute"]]], axis=1)
    labels = pd.Index(sim.models["model"])
    with pytest.raises(ValueError, match=r"models has repeated column name\(s\) \['compute'\]"):
        parse_latent_formula("ability ~ log(compute)", None, models, "model", labels)
    with pytest.raises(ValueError, match="compute"):
        irsl.fit("ability ~ log(compute)", data=sim.responses, models=models)


def test_repeated_covariate_column_in_data_is_named(sim):
    data = sim.responses.merge(sim.models[["model", "compute"]], on="model")
    data = pd.concat([data, data[["compute"]]], axis=1)
    labels = pd.Index(sim.models["model"])
    with pytest.raises(ValueError, match=r"data has repeated column name\(s\) \['compute'\]"):
        parse_latent_formula("ability ~ log(compute)", data, None, "model", labels)


def test_repeated_key_column_is_named(sim):
    models = pd.concat([sim.models, sim.models[["model"]]], axis=1)
    labels = pd.Index(sim.models["model"])
    with pytest.raises(ValueError, match=r"repeated column name\(s\) \['model'\]"):
        parse_latent_formula("ability ~ log(compute)", None, models, "model", labels)


def test_repeated_unused_column_is_ignored_by_the_formula_layer(sim):
    models = sim.models.assign(extra=1.0)
    models = pd.concat([models, models[["extra"]]], axis=1)
    labels = pd.Index(sim.models["model"])
    design = parse_latent_formula("ability ~ log(compute)", None, models, "model", labels)
    np.testing.assert_allclose(design.matrix[:, 1], np.log(sim.models.compute.to_numpy()))
    np.testing.assert_allclose(design.transform(models.iloc[:3]), design.matrix[:3])


@pytest.mark.parametrize("formula", ["ability ~ log(compute)", "ability ~ 1"])
@pytest.mark.parametrize("bad", ["series", "dict"])
def test_transform_of_wrong_type_is_a_type_error(sim, formula, bad):
    design = _design(formula, sim.models)
    new = {"series": sim.models.iloc[0], "dict": {"compute": [1e22]}}[bad]
    with pytest.raises(TypeError, match=f"new_models must be a pandas DataFrame.*got {type(new).__name__}"):
        design.transform(new)


def test_transform_with_repeated_covariate_column(sim):
    design = _design("ability ~ log(compute)", sim.models)
    new = pd.concat([sim.models.iloc[:2], sim.models.iloc[:2][["compute"]]], axis=1)
    with pytest.raises(ValueError, match=r"new_models has repeated column name\(s\) \['compute'\]"):
        design.transform(new)


@pytest.mark.parametrize("method", ["jml", "mml"])
def test_fit_ignores_a_repeated_column_it_does_not_read(sim, method):
    # fit() refused any repeated name in models, the item bank only the ones it reads; a repeated
    # unrelated column (e.g. two "notes" after a merge) no longer stops a fit, and changes nothing
    models = sim.models.assign(note="x")
    repeated = pd.concat([models, models[["note"]]], axis=1)
    kw = dict(data=sim.responses, method=method, n_threads=1)
    plain = irsl.fit("ability ~ log(compute)", models=models, **kw)
    fitted = irsl.fit("ability ~ log(compute)", models=repeated, **kw)
    pd.testing.assert_series_equal(fitted.params, plain.params)
    pd.testing.assert_series_equal(fitted.bse, plain.bse)
    pd.testing.assert_frame_equal(fitted.predict(repeated.iloc[:3]), plain.predict(models.iloc[:3]))
