"""Covariates as the user typed them: numbers used as factors in plots, category order as the
reference level, pandas string dtypes; plot inputs with missing group labels."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import irsl_stats as irsl  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=40, seed=8)


def _fit(formula, sim, models):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit(formula, data=sim.responses, models=models, n_threads=1, method="jml")


def test_plot_scaling_holds_a_numeric_factor_at_a_level(sim):
    """The median of the levels {7, 13} is 10, not a level: the plot failed with 'levels not seen'."""
    models = sim.models.assign(size=np.tile([7, 13], 20))
    res = _fit("ability ~ log(compute) + C(size)", sim, models)
    assert res.design.factor_columns == ["size"]
    fig = irsl.plot_scaling(res, x="compute")
    assert len(fig.axes[0].get_lines()) >= 1
    res = _fit("ability ~ log(compute) + family + C(size)", sim, models)
    fig = irsl.plot_scaling(res, x="compute", by="family")
    assert len(fig.axes[0].get_lines()) >= 3


def test_reference_level_is_the_first_category(sim):
    models = sim.models.assign(org=pd.Categorical(np.tile(["y", "x"], 20), categories=["y", "x", "w"]))
    res = _fit("ability ~ log(compute) + org", sim, models)
    # R and patsy: the first category is the reference; the unused 'w' gives no column
    assert [c for c in res.params.index if c.startswith("org")] == ["org[T.x]"]
    pred = res.predict(models.head(3))
    assert np.isfinite(pred["mean"]).all()


def test_string_dtype_covariates_predict_and_score(sim):
    models = sim.models.assign(grp=pd.array(np.tile(["u", "v"], 20), dtype="string"))
    res = _fit("ability ~ log(compute) + grp", sim, models)
    as_object = _fit("ability ~ log(compute) + grp", sim, models.assign(grp=models["grp"].astype(object)))
    np.testing.assert_allclose(res.params, as_object.params)
    pred = res.predict(models.head(2))
    np.testing.assert_allclose(pred["mean"], as_object.predict(models.head(2))["mean"])
    scored = res.item_bank().score(sim.responses[sim.responses["model"].isin(["m00", "m01"])], models=models)
    assert np.isfinite(scored["theta"]).all()


def test_plot_decision_accuracy_rejects_missing_group_labels():
    table = pd.DataFrame({"ratio": [0.01, 0.1, 0.01], "decision_accuracy": [0.8, 0.9, 0.7],
                          "method": ["irsl", "irsl", None]})
    with pytest.raises(ValueError, match=r"'method' \(by=\) is missing at rows \[2\]"):
        irsl.plot_decision_accuracy(table)
