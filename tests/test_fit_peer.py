"""A 1PL Beta-IRT with common precision fitted by joint ML *is* a beta regression on model and
question dummies: agreement with statsmodels' BetaModel (issue: fit, requirement 7)."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.othermod.betareg import BetaModel

import irsl_stats as irsl


@pytest.fixture(scope="module")
def peer_fits():
    sim = irsl.simulate.irt(n_models=30, n_questions=60, irt="1pl", precision="common", seed=7)
    df = sim.responses.copy()
    df["model"] = df["model"].astype(str)
    df["question"] = df["question"].astype(str)
    res = irsl.fit("ability ~ 1", data=df, irt="1pl", precision="common", method="jml", tol=1e-10)
    exog = pd.get_dummies(df[["model", "question"]], drop_first=True, dtype=float)
    exog.insert(0, "const", 1.0)
    mod = BetaModel(df["y"].to_numpy(), exog.to_numpy())
    first = mod.fit(method="bfgs", maxiter=5000, disp=False)
    ref = mod.fit(start_params=first.params, method="newton", maxiter=200, disp=False)
    return res, ref, list(exog.columns), df


def test_loglik_matches_betamodel(peer_fits):
    res, ref, _, _ = peer_fits
    assert res.llf == pytest.approx(ref.llf, rel=1e-8)


def test_contrasts_and_standard_errors_match(peer_fits):
    res, ref, names, _ = peer_fits
    models = list(res.abilities.index)
    questions = list(res.items.index)
    theta = res.abilities["theta"]
    d = res.items["d"]
    cov = res.joint_cov_params()
    p = dict(zip(names, ref.params[: len(names)]))
    se = dict(zip(names, ref.bse[: len(names)]))
    for mlab in models[1:]:
        contrast = theta[mlab] - theta[models[0]]
        assert contrast == pytest.approx(p[f"model_{mlab}"], abs=1e-5)
        a, b = f"theta[{mlab}]", f"theta[{models[0]}]"
        var = cov.loc[a, a] + cov.loc[b, b] - 2 * cov.loc[a, b]
        assert np.sqrt(var) == pytest.approx(se[f"model_{mlab}"], rel=1e-4)
    for qlab in questions[1:]:
        contrast = d[qlab] - d[questions[0]]
        assert contrast == pytest.approx(p[f"question_{qlab}"], abs=1e-5)
        a, b = f"d[{qlab}]", f"d[{questions[0]}]"
        var = cov.loc[a, a] + cov.loc[b, b] - 2 * cov.loc[a, b]
        assert np.sqrt(var) == pytest.approx(se[f"question_{qlab}"], rel=1e-4)


def test_precision_matches(peer_fits):
    res, ref, _, _ = peer_fits
    assert res.params["log_phi"] == pytest.approx(ref.params[-1], abs=1e-5)
    assert res.bse["log_phi"] == pytest.approx(ref.bse[-1], rel=1e-4)
