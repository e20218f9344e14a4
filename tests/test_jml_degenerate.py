"""Joint ML standard errors on degenerate data: a question answered by one model, abilities
whose joint variances leave the latent regression unfittable, and a model with all-extreme
responses.

References are independent of irsl_stats' information code: profile likelihoods and numerical
Hessians of the beta-binomial log-likelihood written out with scipy, and fits without the
offending question or model.
"""

import warnings

import numpy as np
import pytest
from scipy import optimize, special

import irsl_stats as irsl
import irsl_stats.estimate as estimate_module
from irsl_stats.results import IRSLWarning

FORMULA = "ability ~ log(compute)"


def _fit_recording(data, models, **kw):
    """Fit and return (results, texts of the IRSLWarnings it raised)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", IRSLWarning)
        res = irsl.fit(FORMULA, data=data, models=models, method="jml", n_threads=1, **kw)
    return res, [str(w.message) for w in rec if issubclass(w.category, IRSLWarning)]


def _without(frame, column, label):
    """Rows of ``frame`` whose ``column`` is not ``label``, with the unused category removed."""
    out = frame[frame[column].astype(str) != label].copy()
    out[column] = out[column].cat.remove_unused_categories()
    return out


def _betabinom_loglik(k, n, eta, log_phi):
    """Beta-binomial log-likelihood (DESIGN.md section 1), elementwise in any broadcast shape."""
    mu = special.expit(eta)
    phi = np.exp(log_phi)
    return (special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
            + special.betaln(k + mu * phi, n - k + (1 - mu) * phi) - special.betaln(mu * phi, (1 - mu) * phi))


# ----------------------------------------------------- A. a question answered by a single model

BB = dict(family="beta_binomial", successes="successes", trials="trials", response=None, irt="2pl",
          precision="common")


@pytest.fixture(scope="module")
def one_model_question():
    # q01 keeps only model m00's row: its (a, d) block has rank 1 (only a theta_m00 + d is
    # determined), which made np.linalg.solve raise "Singular matrix" in global_precision_cov
    sim = irsl.simulate.irt(n_models=15, n_questions=25, family="beta_binomial", n_trials=10, seed=0)
    r = sim.responses
    keep = (r["question"].astype(str) != "q01") | (r["model"].astype(str) == "m00")
    return sim, r[keep].reset_index(drop=True)


def _expect_q01_unidentified(res, shown):
    assert res.items.loc["q01", ["a_se", "d_se"]].isna().all()
    assert res.items.drop("q01")[["a_se", "d_se", "phi_se"]].notna().all().all()
    assert any("not identified: ['q01']" in m for m in shown), shown


def test_common_precision_se_profiles_out_a_question_answered_by_one_model(one_model_question):
    sim, data = one_model_question
    res, shown = _fit_recording(data, sim.models, full_cov=False, **BB)
    _expect_q01_unidentified(res, shown)
    # reference: curvature of the profile log-likelihood of log phi given the abilities, every
    # question's (a, d) maximised out numerically (q01's single cell: its eta). Profiling is
    # invariant to an affine change of the ability scale, so the reported abilities serve.
    # Leaving q01 out altogether gives 0.2992 instead of 0.2979 (its cell does inform phi).
    theta = res.abilities["theta"]
    groups = [
        (theta.loc[g["model"].astype(str)].to_numpy(), g["successes"].to_numpy(float),
         g["trials"].to_numpy(float), res.items.loc[q, ["a", "d"]].to_numpy(float))
        for q, g in data.groupby("question", observed=True)
    ]

    def profile(log_phi):
        total = 0.0
        for th, k, n, start in groups:
            fit = optimize.minimize(lambda ad: -_betabinom_loglik(k, n, ad[0] * th + ad[1], log_phi).sum(),
                                    start, method="Nelder-Mead",
                                    options=dict(xatol=1e-9, fatol=1e-13, maxiter=20000))
            total -= fit.fun
        return total

    g0, h = float(res.params["log_phi"]), 0.02
    curvature = (profile(g0 - h) - 2 * profile(g0) + profile(g0 + h)) / h**2
    np.testing.assert_allclose(res.bse["log_phi"], 1 / np.sqrt(-curvature), rtol=1e-3)


def test_joint_covariance_pins_a_question_answered_by_one_model(one_model_question):
    sim, data = one_model_question
    res, shown = _fit_recording(data, sim.models, **BB)
    assert "joint observed information" in res.summary().as_text()
    _expect_q01_unidentified(res, shown)
    joint = res.joint_cov_params()
    assert joint.loc[["a[q01]", "d[q01]"]].isna().all().all()
    assert np.isfinite(joint.loc["theta[m00]", "theta[m00]"])
    # reference: numerical Hessian of the joint log-likelihood with q01 parametrised by its one
    # identified quantity, the eta of its single cell; log phi is identified, so its variance is
    # the same under any constraint on the ability scale (here the pseudo-inverse's)
    theta = res.abilities["theta"].to_numpy()
    items = res.items.drop("q01")
    m, n_q = len(theta), len(items)
    model = data["model"].cat.codes.to_numpy()
    q_labels = data["question"].astype(str).to_numpy()
    is01 = q_labels == "q01"
    qpos = np.array([items.index.get_loc(q) if q != "q01" else 0 for q in q_labels])
    k, n = data["successes"].to_numpy(float), data["trials"].to_numpy(float)
    a0, d0 = items["a"].to_numpy(), items["d"].to_numpy()
    ref01 = res.items.loc["q01"]
    eta01 = ref01["a"] * theta[model[is01][0]] + ref01["d"]
    x0 = np.r_[theta, a0, d0, eta01, res.params["log_phi"]]

    def loglik(x):  # x: (B, P)
        th, a, d = x[:, :m], x[:, m:m + n_q], x[:, m + n_q:m + 2 * n_q]
        eta = a[:, qpos] * th[:, model] + d[:, qpos]
        eta[:, is01] = x[:, [-2]]
        return _betabinom_loglik(k, n, eta, x[:, [-1]]).sum(axis=1)

    p, h = len(x0), 1e-4
    steps = np.eye(p) * h
    plus_plus = x0 + steps[:, None, :] + steps[None, :, :]
    plus_minus = x0 + steps[:, None, :] - steps[None, :, :]
    f = lambda pts: loglik(pts.reshape(-1, p)).reshape(p, p)  # noqa: E731
    hess = (f(plus_plus) - f(plus_minus) - f(2 * x0 - plus_minus) + f(2 * x0 - plus_plus)) / (4 * h**2)
    var_log_phi = np.linalg.pinv(-0.5 * (hess + hess.T))[-1, -1]
    np.testing.assert_allclose(res.bse["log_phi"], np.sqrt(var_log_phi), rtol=1e-3)
    # q01's one cell carries nothing about the abilities: their SEs are those without it
    alone, _ = _fit_recording(_without(sim.responses, "question", "q01"), sim.models, **BB)
    np.testing.assert_allclose(res.abilities["se"], alone.abilities["se"], rtol=0.01)


# ------------------------------------- B. joint variances that leave the regression unfittable

BERN_1PL = dict(family="bernoulli", irt="1pl")


@pytest.fixture(scope="module")
def bernoulli_sim():
    return irsl.simulate.irt(n_models=15, n_questions=25, family="bernoulli", irt="1pl", seed=0)


def test_jml_falls_back_to_conditional_ses_when_joint_variances_leave_too_few_models(bernoulli_sim,
                                                                                      monkeypatch):
    sim = bernoulli_sim
    reference, ref_shown = _fit_recording(sim.responses, sim.models, full_cov=False, **BERN_1PL)
    real = estimate_module.joint_covariance

    def not_positive_definite(*args, **kwargs):
        # a joint information that is not positive definite: non-positive variances for all
        # abilities but one; the GLS on that one model raised LinAlgError before the fix
        jc = real(*args, **kwargs)
        jc.theta_var = np.r_[jc.theta_var[:1], np.full(len(jc.theta_var) - 1, -1.0)]
        return jc

    monkeypatch.setattr(estimate_module, "joint_covariance", not_positive_definite)
    res, shown = _fit_recording(sim.responses, sim.models, **BERN_1PL)
    assert any("leaves the latent regression unfittable" in m and "only 1 of 15 abilities" in m
               and "block-conditional instead" in m for m in shown), shown
    assert "block-conditional" in res.summary().as_text()
    # the fallback is exactly the fit that asks for block-conditional standard errors
    np.testing.assert_allclose(res.params, reference.params, rtol=1e-12)
    np.testing.assert_allclose(res.bse, reference.bse, rtol=1e-12)
    np.testing.assert_allclose(res.abilities["se"], reference.abilities["se"], rtol=1e-12)
    assert set(shown) - set(ref_shown) == {m for m in shown if "unfittable" in m}


def test_jml_latent_regression_that_cannot_be_fitted_raises_a_clear_error(bernoulli_sim, monkeypatch):
    sim = bernoulli_sim
    real = estimate_module.conditional_ses

    def one_usable_ability(*args, **kwargs):
        theta_var, item_cov, global_cov, cols = real(*args, **kwargs)
        return np.r_[theta_var[:1], np.full(len(theta_var) - 1, np.nan)], item_cov, global_cov, cols

    monkeypatch.setattr(estimate_module, "conditional_ses", one_usable_ability)
    # before the fix: numpy's bare LinAlgError("Singular matrix") from the GLS
    with pytest.raises(ValueError, match=r"latent regression cannot be fitted: 1 of 15 models .* 2 coefficient"):
        _fit_recording(sim.responses, sim.models, full_cov=False, **BERN_1PL)


# ------------------------------------------------------------ C. a model with all-extreme responses


def _perfect_m00(frame, column, value):
    out = frame.copy()
    out.loc[out["model"].astype(str) == "m00", column] = value
    return out


def _expect_m00_off_scale(res, shown):
    assert np.isnan(res.abilities.loc["m00", "se"])
    assert res.abilities["se"].drop("m00").notna().all()
    # the existing warning for abilities without a finite SE, naming the extreme model only
    assert any("model(s) have abilities at the boundary or without a finite standard error "
               "(e.g. ['m00'])" in m for m in shown), shown


@pytest.mark.parametrize("full_cov", [True, False])
def test_all_extreme_model_leaves_the_other_abilities_ses_alone_1pl(full_cov):
    # before the fix the joint covariance constrained sum(theta) = 0 over m00 too, and m00's
    # almost flat likelihood gave every other ability an SE of ~3.1 (alone: 0.50-1.05); the
    # block-conditional route reported m00 with a finite SE of ~46 from the curvature at the bound
    sim = irsl.simulate.irt(n_models=15, n_questions=25, family="bernoulli", seed=0)
    data = _perfect_m00(sim.responses, "y", 1)
    res, shown = _fit_recording(data, sim.models, full_cov=full_cov, family="bernoulli", irt="1pl")
    alone, _ = _fit_recording(_without(data, "model", "m00"), sim.models[sim.models["model"] != "m00"],
                              full_cov=full_cov, family="bernoulli", irt="1pl")
    np.testing.assert_allclose(res.abilities["se"].drop("m00"), alone.abilities["se"], rtol=0.02)
    _expect_m00_off_scale(res, shown)


def test_all_extreme_model_leaves_the_other_abilities_ses_alone_2pl():
    # 2PL counts: before the fix the other abilities' joint SEs were 0.19-0.98, 3-12 times
    # those of the fit without m00 (0.057-0.084)
    sim = irsl.simulate.irt(n_models=15, n_questions=25, family="binomial", n_trials=20, seed=0)
    kw = dict(family="binomial", successes="successes", trials="trials", response=None, irt="2pl")
    data = _perfect_m00(sim.responses, "successes", 20)
    res, shown = _fit_recording(data, sim.models, **kw)
    assert "joint observed information" in res.summary().as_text()
    alone, _ = _fit_recording(_without(data, "model", "m00"), sim.models[sim.models["model"] != "m00"], **kw)
    np.testing.assert_allclose(res.abilities["se"].drop("m00"), alone.abilities["se"], rtol=0.05)
    _expect_m00_off_scale(res, shown)
    joint = res.joint_cov_params()
    assert joint.loc["theta[m00]"].isna().all()
    assert joint.drop(index="theta[m00]", columns="theta[m00]").notna().all().all()


def test_mml_warns_about_a_2pl_question_answered_by_one_model(one_model_question):
    """Under MML the marginal information of such a question is not singular, so the NaN-SE
    warning never fired, while its a came out at ~2e-16 and b at ~-1e16 without a word."""
    sim, data = one_model_question
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", IRSLWarning)
        irsl.fit(FORMULA, data=data, models=sim.models, method="mml", n_threads=1, **BB)
    shown = [str(w.message) for w in rec if issubclass(w.category, IRSLWarning)]
    assert sum("answered by a single model" in m and "['q01']" in m for m in shown) == 1, shown
    # 1PL: one model determines d; nothing to warn about
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", IRSLWarning)
        irsl.fit(FORMULA, data=data, models=sim.models, method="mml", n_threads=1, **{**BB, "irt": "1pl"})
    assert not any("single model" in str(w.message) for w in rec)


# ------------------------------------- D. all-extreme models stand at +-inf: the fit converges

EXTREME_CASES = [
    # (family, irt, column, value given to every response of m00, sign of its ability)
    ("bernoulli", "1pl", "y", 1, 1),
    ("binomial", "1pl", "successes", 0, -1),
    ("binomial", "2pl", "successes", 20, 1),
    ("beta_binomial", "2pl", "successes", 0, -1),
]


def _extreme_case(family, column, value):
    extra = {} if family == "bernoulli" else dict(n_trials=20)
    sim = irsl.simulate.irt(n_models=15, n_questions=25, family=family, seed=0, **extra)
    kw = dict(family=family) if family == "bernoulli" else dict(
        family=family, successes="successes", trials="trials", response=None)
    return sim, _perfect_m00(sim.responses, column, value), kw


@pytest.mark.parametrize("family, irt, column, value, sign", EXTREME_CASES)
def test_all_extreme_model_is_held_at_infinity_and_the_fit_equals_the_fit_without_it(family, irt, column, value,
                                                                                     sign):
    # before: held at the ability bound, the model kept pulling on the questions (an all-correct
    # model at 12 still pushes a hard question's difficulty down), each renormalisation moved it
    # back, and JML stopped after 500 iterations without converging
    sim, data, kw = _extreme_case(family, column, value)
    # identification="regression" (intercept 0, 2PL sigma 1) does not depend on which models
    # are in the data, so the two fits are on the same scale
    kw = dict(kw, irt=irt, identification="regression")
    res, shown = _fit_recording(data, sim.models, **kw)
    alone, _ = _fit_recording(_without(data, "model", "m00"), sim.models[sim.models["model"] != "m00"], **kw)
    assert res.converged and alone.converged
    assert not any("did not converge" in m for m in shown), shown
    # the model's ability is reported on the side its responses pull to, with no standard error
    others = res.abilities["theta"].drop("m00")
    beyond = sign * (res.abilities.loc["m00", "theta"] - (others.max() if sign > 0 else others.min()))
    assert beyond > 3
    assert np.isnan(res.abilities.loc["m00", "se"])
    # its responses have probability 1 at +-inf: everything else is the fit without it
    assert res.llf == pytest.approx(alone.llf, rel=1e-9)
    np.testing.assert_allclose(res.abilities["theta"].drop("m00"), alone.abilities["theta"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_linear_predictors(res, alone.items.index), _linear_predictors(alone),
                               rtol=1e-5, atol=1e-5)
    ses = [c for c in ("a_se", "d_se", "log_phi_se") if c in res.items]
    finite = alone.items.index[alone.items["d_se"] < 1e3]  # not the questions nobody (or everybody) solves
    np.testing.assert_allclose(res.items.loc[finite, ses], alone.items.loc[finite, ses], rtol=1e-4)
    np.testing.assert_allclose(res.abilities["se"].drop("m00"), alone.abilities["se"], rtol=1e-4)
    np.testing.assert_allclose(res.params, alone.params, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(res.bse, alone.bse, rtol=1e-4)
    # the joint information is not singular for want of that model's curvature
    assert "joint observed information" in res.summary().as_text()


def _linear_predictors(res, questions=None):
    """``a_j theta_i + d_j`` of every model with a finite ability and every question with a
    finite difficulty (both invariant to the identification), shape (models, questions)."""
    ab = res.abilities[np.isfinite(res.abilities["se"])]
    it = res.items if questions is None else res.items.loc[questions]
    it = it[np.isfinite(it["d_se"]) & (it["d_se"] < 1e3)]
    a = it["a"].to_numpy() if "a" in it else np.ones(len(it))
    return np.outer(ab["theta"].to_numpy(), a) + it["d"].to_numpy()


def test_all_extreme_model_does_not_slow_the_fit_down():
    # before: the 500 iterations of a fit that never converged
    sim, data, kw = _extreme_case("bernoulli", "y", 1)
    res, _ = _fit_recording(data, sim.models, irt="1pl", **kw)
    alone, _ = _fit_recording(_without(data, "model", "m00"), sim.models[sim.models["model"] != "m00"],
                              irt="1pl", **kw)
    assert res.n_iter <= alone.n_iter + 2
