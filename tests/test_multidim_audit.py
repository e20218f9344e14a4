"""Audit of the multidimensional layer (multidim, multidim_fit, multidim_results, crossbench).

Every number is checked against a reference computed here independently of the code under
test: the unidimensional MML fit, separate fits of independent benchmarks, a brute-force grid
posterior, importance sampling of the marginal likelihood, or the identification's own algebra.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logsumexp
from scipy.stats import beta as beta_dist

import irsl_stats as irsl
from irsl_stats.results import IRSLWarning


def _sub(frame: pd.DataFrame, mask) -> pd.DataFrame:
    """Rows of a simulated table without the categories no row uses."""
    out = frame[mask].copy()
    for c in ("model", "question", "benchmark"):
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].cat.remove_unused_categories()
    return out


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return fn(*args, **kw)


def _issued(fn, *args, **kw):
    """Result and the texts of the IRSLWarnings ``fn`` issued."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = fn(*args, **kw)
    return out, [str(w.message) for w in got if issubclass(w.category, IRSLWarning)]


def _per_benchmark(data, formula="ability ~ 1", **kw):
    kw.setdefault("n_threads", 1)
    return irsl.fit(formula, data=data, benchmark="benchmark", ability="per_benchmark", **kw)


# ------------------------------------------------------------ 1. latent SEs and the identification
@pytest.fixture(scope="module")
def one_benchmark():
    sim = irsl.simulate.correlated_benchmarks(n_models=50, questions=[12, 12], corr=[[1, .7], [.7, 1]],
                                              benchmarks=["A", "B"], family="binomial", n_trials=8, seed=4)
    data = _sub(sim.responses, sim.responses["benchmark"] == "A")
    models = pd.DataFrame({"model": data["model"].cat.categories, "c": np.linspace(0.0, 1.0, 50)})
    return data, models


def _per_benchmark_d1(data, models, formula, irt, reml=True):
    """``fit_multidim`` with the per-benchmark pattern on a single benchmark (D = 1): the public
    entry point needs two benchmarks, the estimator does not."""
    from irsl_stats.api import build_precision, kernel_data, response_data
    from irsl_stats.formula import parse_latent_formula
    from irsl_stats.multidim import LoadingPattern, fit_multidim

    rd = response_data(data, model="model", question="question", response=None, successes="successes",
                       trials="trials", benchmark="benchmark", family="binomial", boundary="error", weights=None)
    design = parse_latent_formula(formula, data, models, "model", rd.model_labels)
    prec = build_precision("auto", "binomial", rd.n_items, None, None)
    pattern = LoadingPattern.per_benchmark(rd.item_benchmark_codes, rd.benchmarks)
    return fit_multidim(kernel_data(rd), design, prec, irt, pattern, n_threads=1, tol=1e-9, reml=reml)


@pytest.mark.parametrize("irt", ["2pl", "1pl"])
def test_per_benchmark_d1_agrees_with_unidimensional_fit(one_benchmark, irt):
    """D = 1 per-benchmark MML is the unidimensional MML fit: same likelihood, questions,
    abilities, and the same standard errors of the latent regression (the intercept's SE was
    that of a free mean, 0.286 against 0.246, because the mean-0 identification was ignored)."""
    data, models = one_benchmark
    # maximum likelihood: the unidimensional REML sigma counts the abilities' measurement error
    # in its penalty, the multidimensional one divides by M - P
    uni = irsl.fit("ability ~ c", data=data, models=models, successes="successes", trials="trials",
                   family="binomial", method="mml", irt=irt, n_threads=1, tol=1e-9, reml=False)
    est = _per_benchmark_d1(data, models, "ability ~ c", irt, reml=False)
    assert est.llf == pytest.approx(uni.llf, abs=1e-4)
    np.testing.assert_allclose(est.d, uni.items["d"].to_numpy(), atol=1e-5)
    if irt == "2pl":
        np.testing.assert_allclose(est.A[:, 0], uni.items["a"].to_numpy(), atol=1e-5)
    # the multidimensional question SEs are given the ability scale (the unidimensional items add
    # the scale's own uncertainty; its bank keeps these)
    given = uni._items_given_scale
    if irt == "2pl":
        np.testing.assert_allclose(np.sqrt(est.item_cov[:, 0, 0]), given["a_se"].to_numpy(), rtol=1e-3)
    np.testing.assert_allclose(np.sqrt(est.item_cov[:, 1, 1]), given["d_se"].to_numpy(), rtol=1e-3)
    np.testing.assert_allclose(est.theta[:, 0], uni.abilities["theta"].to_numpy(), atol=1e-5)
    np.testing.assert_allclose(np.sqrt(est.theta_cov[:, 0, 0]), uni.abilities["se"].to_numpy(), atol=1e-4)
    np.testing.assert_allclose(est.B[:, 0], uni.params[["Intercept", "c"]].to_numpy(), atol=1e-5)
    se = np.sqrt(np.diag(est.latent_cov))
    np.testing.assert_allclose(se[:2], uni.bse[["Intercept", "c"]].to_numpy(), rtol=2e-3)
    if irt == "2pl":
        # sigma is fixed by the slopes (var(x b) + sigma^2 = 1): se(log sd) = se(sigma) / sigma
        sigma = uni.params["sigma"]
        assert se[2] == pytest.approx(uni.bse["sigma"] / sigma, rel=2e-2)


def test_intercept_se_follows_the_mean_zero_identification():
    """With ``ability ~ c`` the fitted abilities have mean 0 on every benchmark, so each
    intercept is ``-mean(c) * slope``: its SE is ``|mean(c)|`` times the slope's, and the
    covariance of the two is that of an exact linear relation."""
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=[8, 8], corr=[[1, .6], [.6, 1]],
                                              benchmarks=["A", "B"], seed=7)
    rng = np.random.default_rng(0)
    models = pd.DataFrame({"model": sim.theta.index, "c": rng.normal(0.7, 1.0, 60)})
    for irt in ("2pl", "1pl"):
        res = _quiet(_per_benchmark, sim.responses, "ability ~ c", models=models, irt=irt)
        cbar = models["c"].mean()
        for b in ("A", "B"):
            assert res.bse[f"{b}: Intercept"] == pytest.approx(abs(cbar) * res.bse[f"{b}: c"], rel=1e-3)
            corr = res.cov_params().loc[f"{b}: Intercept", f"{b}: c"] / (
                res.bse[f"{b}: Intercept"] * res.bse[f"{b}: c"])
            assert corr == pytest.approx(-np.sign(cbar), abs=1e-4)
        # a model at the mean covariate has the population mean 0 exactly on the identified scale,
        # but a forecast is made against the calibrated questions: as in one-dimensional fits its
        # SE is about sigma / sqrt(M), the uncertainty of where the population sits against them
        pred = res.predict(pd.DataFrame({"c": [cbar]}))
        np.testing.assert_allclose(pred["mean_se"].to_numpy(), np.sqrt(np.diag(res.Sigma) / 60), rtol=0.1)


# ------------------------------------------------------------ 2. independent benchmarks
def test_independent_benchmarks_agree_with_separate_fits():
    """Abilities drawn independently: the per-benchmark fit has the questions of separate
    unidimensional fits, a log-likelihood above their sum by less than the one extra parameter
    can buy, and a correlation interval that covers 0."""
    sim = irsl.simulate.correlated_benchmarks(n_models=80, questions=[15, 15], corr=np.eye(2),
                                              benchmarks=["A", "B"], seed=1)
    res = _quiet(_per_benchmark, sim.responses)
    sep = {b: _quiet(irsl.fit, "ability ~ 1", data=_sub(sim.responses, sim.responses["benchmark"] == b),
                     method="mml", n_threads=1) for b in ("A", "B")}
    total = sum(r.llf for r in sep.values())
    assert 0 <= res.llf - total < 2.0
    for b, r in sep.items():
        on = res.items["benchmark"] == b
        np.testing.assert_allclose(res.items.loc[on, f"a_{b}"], r.items["a"], atol=0.02)
        np.testing.assert_allclose(res.items.loc[on, "d"], r.items["d"], atol=0.02)
        np.testing.assert_allclose(res.abilities[f"theta_{b}"], r.abilities["theta"], atol=0.05)
    _, tab = res.ability_correlation(alpha=0.05)
    assert tab["lower"].iloc[0] < 0 < tab["upper"].iloc[0]


# ------------------------------------------------------------ 3. quadrature and forecasts
def test_marginal_likelihood_agrees_with_importance_sampling():
    """The adaptive product quadrature's log-likelihood at the estimates against importance
    sampling of every model's integral (proposal: its posterior normal, covariance x 1.2; the
    estimate's spread over seeds is ~0.003)."""
    from irsl_stats import _kernel
    from irsl_stats.api import kernel_data

    # beta responses: near-normal posteriors, where 7 adaptive nodes per dimension are accurate
    # (with 8 Bernoulli answers per benchmark the rule is off by ~0.005 per model, in one
    # dimension as in two)
    sim = irsl.simulate.correlated_benchmarks(n_models=30, questions=[8, 8], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], seed=5)
    res = _quiet(_per_benchmark, sim.responses)
    est = res._est
    kd = kernel_data(res._rd)
    rng = np.random.default_rng(1)
    n_draws = 50000
    chol = np.linalg.cholesky(1.2 * est.theta_cov)
    z = rng.standard_normal((kd.n_models, n_draws, 2))
    nodes = est.theta[:, None, :] + np.einsum("mkl,msl->msk", chol, z)
    ll = _kernel.loglik_grid(kd, est.A, est.d, est.log_phi, nodes, n_threads=1)
    s_inv = np.linalg.inv(est.Sigma)
    log_prior = (-0.5 * np.einsum("msk,kl,msl->ms", nodes, s_inv, nodes)
                 - 0.5 * np.linalg.slogdet(2 * np.pi * est.Sigma)[1])
    log_prop = (-0.5 * np.sum(z**2, axis=2) - np.log(np.abs(np.einsum("mkk->mk", chol))).sum(axis=1)[:, None]
                - np.log(2 * np.pi))
    mc = float((logsumexp(ll + log_prior - log_prop, axis=1) - np.log(n_draws)).sum())
    assert res.llf == pytest.approx(mc, abs=0.015)


def test_forecast_matches_brute_force_posterior():
    """Forecast of benchmark B from responses on A: the posterior mean and SD of B's score
    against a 241 x 241 grid integration of the two-dimensional posterior."""
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=[10, 10], corr=[[1, .7], [.7, 1]],
                                              benchmarks=["A", "B"], seed=4)
    res = _quiet(_per_benchmark, sim.responses)
    bank = res.item_bank()
    using = _sub(sim.responses, (sim.responses["benchmark"] == "A")
                 & sim.responses["model"].isin(["m0000", "m0001"]))
    fc = bank.forecast("B", using, n_draws=200)
    g = np.linspace(-6, 6, 241)
    pts = np.column_stack([np.repeat(g, len(g)), np.tile(g, len(g))])
    r = pts - bank.population_mean
    log_prior = -0.5 * np.einsum("ij,jk,ik->i", r, np.linalg.inv(bank.population_cov), r)
    labels = list(bank.questions)
    on_b = (bank.item_benchmark == "B").to_numpy()
    score = expit(pts @ bank.A[on_b].T + bank.d[on_b]).mean(axis=1)
    for m in ["m0000", "m0001"]:
        rows = using[using["model"] == m]
        ll = log_prior.copy()
        for q, y in zip(rows["question"], rows["y"]):
            j = labels.index(q)
            mu, phi = expit(pts @ bank.A[j] + bank.d[j]), np.exp(bank.log_phi[j])
            ll += beta_dist.logpdf(y, mu * phi, (1 - mu) * phi)
        w = np.exp(ll - ll.max())
        w /= w.sum()
        mean = w @ score
        assert fc.loc[m, "score"] == pytest.approx(mean, abs=2e-4)
        assert fc.loc[m, "se"] == pytest.approx(np.sqrt(w @ score**2 - mean**2), abs=2e-4)


# ------------------------------------------------------------ 4. forecasts from the fit's own responses
@pytest.fixture(scope="module")
def counts():
    sim = irsl.simulate.correlated_benchmarks(n_models=40, questions=[8, 8], corr=[[1, .7], [.7, 1]],
                                              benchmarks=["A", "B"], family="binomial", n_trials=10, seed=4)
    assert (sim.responses["successes"] == sim.responses["trials"]).any()
    return sim.responses


@pytest.mark.parametrize("ability", ["per_benchmark", "shared"])
def test_forecast_from_own_responses_of_a_clipped_beta_fit(counts, ability):
    """A beta fit from counts with ``boundary="clip"``: ``forecast(target)`` reads the fit's own
    responses (it raised on the 10/10 counts it had clipped) and equals the bank's forecast from
    the clipped rates the fit modelled."""
    res = _quiet(irsl.fit, "ability ~ 1", data=counts, successes="successes", trials="trials", family="beta",
                 boundary="clip", benchmark="benchmark", ability=ability, n_threads=1)
    got = res.forecast("B", n_draws=50)
    eps = res._response_data.eps if ability == "shared" else res._rd.eps
    own = _sub(counts, counts["benchmark"] == "A")
    own = own.assign(y=np.clip(own["successes"] / own["trials"], eps, 1 - eps))
    bank = res.item_bank()
    if ability == "shared":
        from irsl_stats.crossbench import MultidimBank

        bank = MultidimBank.from_item_bank(bank)
    want = bank.forecast("B", own, n_draws=50)
    pd.testing.assert_frame_equal(got, want.loc[got.index], check_exact=False, rtol=1e-10, atol=1e-12)


def test_forecast_from_own_responses_does_not_squeeze_twice():
    """``boundary="squeeze"`` passed to the forecast of a squeezed fit's own responses squeezed
    them a second time (score 0.2354 instead of 0.2329 for the first model)."""
    sim = irsl.simulate.correlated_benchmarks(n_models=50, questions=[8, 8], corr=[[1, .6], [.6, 1]],
                                              benchmarks=["A", "B"], seed=3)
    data = sim.responses.copy()
    data.loc[data.index[:6], "y"] = 1.0
    res = _quiet(_per_benchmark, data, boundary="squeeze")
    plain = res.forecast("B", n_draws=50)
    again = res.forecast("B", n_draws=50, boundary="squeeze")
    pd.testing.assert_frame_equal(plain, again)
    n = len(data)  # Smithson & Verkuilen on the fit's rows: (y (n - 1) + 1/2) / n
    own = _sub(data, data["benchmark"] == "A")
    own = own.assign(y=(own["y"] * (n - 1) + 0.5) / n)
    want = res.item_bank().forecast("B", own, n_draws=50)
    np.testing.assert_allclose(plain["score"], want.loc[plain.index, "score"], rtol=1e-10)


def test_forecast_from_own_responses_leaves_out_rows_of_weight_zero():
    """Rows the fit weighted 0 are not in its likelihood; the forecast from the fit's own
    responses used them (model m0001 was forecast from 8 answers, one of them weighted out)."""
    sim = irsl.simulate.correlated_benchmarks(n_models=40, questions=[8, 8], corr=[[1, .7], [.7, 1]],
                                              benchmarks=["A", "B"], seed=4)
    data = sim.responses.assign(w=1.0)
    out = (data["model"] == "m0001") & (data["question"] == "A/q0000")
    data.loc[out, "w"] = 0.0
    data.loc[out, "y"] = 0.999  # a response the fit never saw
    res = _quiet(_per_benchmark, data, weights="w")
    got = res.forecast("B", n_draws=50)
    own = _sub(data, (data["benchmark"] == "A") & ~out)
    want = res.item_bank().forecast("B", own, n_draws=50)
    assert got.loc["m0001", "n_using"] == 7
    pd.testing.assert_frame_equal(got, want.loc[got.index], check_exact=False, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ 5. too few models, dims too large
def test_too_few_models_for_the_latent_regression_is_an_error():
    sim = irsl.simulate.correlated_benchmarks(n_models=4, questions=[5, 5], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], seed=3)
    models = pd.DataFrame({"model": sim.theta.index, "c": [0, 1, 3, 2.0], "g": list("aabb"),
                           "h": [0, 1.5, 0.2, 0.7]})
    # P = 4 coefficients on 4 models: Sigma came out ~0 with every SE NaN
    with pytest.raises(ValueError, match=r"4 model\(s\).*'ability ~ c \+ g \+ h'.*at least 7 models"):
        _per_benchmark(sim.responses, "ability ~ c + g + h", models=models)


def test_more_dimensions_than_the_models_support_is_an_error():
    sim = irsl.simulate.correlated_benchmarks(n_models=4, questions=[6, 6, 6, 6], corr=np.eye(4) * .5 + .5,
                                              seed=7)
    # four benchmarks on four models: singular information, NaN SEs
    with pytest.raises(ValueError, match=r"4 ability dimensions.*ability='per_benchmark'.*at least 6 models"):
        _per_benchmark(sim.responses)
    sim = irsl.simulate.correlated_benchmarks(n_models=6, questions=[10, 10], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], seed=7)
    # D = 6 crashed inside the quadrature ("nodes must be finite"); D = 5 ran off to llf 3265
    for d in (5, 6):
        with pytest.raises(ValueError, match=rf"dims={d}.*at least {d + 2} models"):
            irsl.fit("ability ~ 1", data=sim.responses, dims=d, n_threads=1)


def test_dims_auto_stops_where_the_models_run_out():
    sim = irsl.simulate.correlated_benchmarks(n_models=5, questions=[6, 6], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], seed=7)
    res = _quiet(irsl.fit, "ability ~ 1", data=sim.responses, dims="auto", max_dims=6, n_threads=1,
                 max_iter=200)
    assert res.dims_table["dims"].tolist() == [1, 2, 3]  # M - P - 1 = 5 - 1 - 1


def test_fit_rejects_a_single_quadrature_node():
    """One node per dimension gave every ability a posterior SD of exactly 0."""
    sim = irsl.simulate.correlated_benchmarks(n_models=30, questions=[6, 6], corr=[[1, .7], [.7, 1]],
                                              benchmarks=["A", "B"], seed=4)
    with pytest.raises(ValueError, match="n_quad=1"):
        _per_benchmark(sim.responses, n_quad=1)


# ------------------------------------------------------------ 6. warnings that name the data
def test_uninformative_and_single_question_benchmarks_are_named():
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=[10, 10, 1], corr=np.eye(3) * .5 + .5,
                                              benchmarks=["A", "B", "C"], family="bernoulli", seed=2)
    data = sim.responses.copy()
    data.loc[data["benchmark"] == "B", "y"] = 1.0  # every model solves every B question
    data["benchmark"] = data["benchmark"].map({"A": 1, "B": 2, "C": 3}).astype(int)  # integer labels
    # EM crawls along the flat directions of B: a few iterations are enough for the warnings
    _, issued = _issued(_per_benchmark, data, family="bernoulli", max_iter=20)
    assert any("every model always answers correctly" in m and "B/q0010" in m for m in issued)
    assert any(m.startswith("benchmark(s) [2]: every question") for m in issued)
    assert any(m.startswith("benchmark(s) [3] have a single question") for m in issued)


def test_one_sided_question_is_named_in_exploratory_fits():
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=[10, 10], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], family="bernoulli", seed=3)
    data = sim.responses.copy()
    data.loc[data["question"] == "A/q0003", "y"] = 0.0
    res, issued = _issued(irsl.fit, "ability ~ 1", data=data, family="bernoulli", dims=2, n_threads=1)
    assert any("no model ever answers correctly" in m and "A/q0003" in m for m in issued)
    assert any("A/q0003" in m for m in res.warnings)


def test_negative_loading_warning_names_the_questions():
    sim = irsl.simulate.correlated_benchmarks(n_models=80, questions=[10, 10], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], family="bernoulli", seed=3)
    data = sim.responses.copy()
    flip = data["question"] == "B/q0012"
    data.loc[flip, "y"] = 1.0 - data.loc[flip, "y"]  # a reversed answer key
    res, issued = _issued(_per_benchmark, data, family="bernoulli")
    assert res.items.loc["B/q0012", "a_B"] < 0
    assert any("negative loading" in m and "B/q0012" in m for m in issued)


# ------------------------------------------------------------ 7. argument checks
@pytest.fixture(scope="module")
def small():
    sim = irsl.simulate.correlated_benchmarks(n_models=30, questions=[6, 6], corr=[[1, .7], [.7, 1]],
                                              benchmarks=["A", "B"], seed=4)
    res = _quiet(_per_benchmark, sim.responses)
    return res, _sub(sim.responses, sim.responses["benchmark"] == "A")


@pytest.mark.parametrize("kw, match", [
    (dict(n_draws=10.5), "n_draws must be an integer"),
    (dict(alpha="a"), "alpha"),
    (dict(n_quad=2.5), "n_quad must be an integer >= 2"),
    (dict(n_quad=True), "n_quad must be an integer >= 2"),
    (dict(n_quad=1), "n_quad must be an integer >= 2"),
])
def test_forecast_argument_checks(small, kw, match):
    res, using = small
    with pytest.raises(ValueError, match=match):
        res.item_bank().forecast("B", using, **kw)


def test_score_and_correlation_argument_checks(small):
    res, using = small
    with pytest.raises(ValueError, match="n_quad must be an integer >= 2"):
        res.item_bank().score(using, n_quad=True)
    with pytest.raises(ValueError, match="alpha"):
        res.ability_correlation(alpha="a")


def test_boundary_correlation_is_reported_as_a_singular_fit():
    """Identical abilities on two benchmarks: the correlation runs to 0.9998, where the
    likelihood is flat in its Fisher z and the Wald interval was (-0.36, 1.0) without a word
    (lme4 says "boundary (singular) fit"); a high but interior correlation is not flagged."""
    sim = irsl.simulate.correlated_benchmarks(n_models=100, questions=[15, 15], corr=[[1, 1], [1, 1]],
                                              benchmarks=["A", "B"], seed=1)
    res, issued = _issued(_per_benchmark, sim.responses)
    assert res.ability_correlation().loc["A", "B"] > 0.999
    assert any(m.startswith("boundary (singular) fit") and "corr(A, B)" in m for m in issued)
    sim = irsl.simulate.correlated_benchmarks(n_models=60, questions=[10, 10], corr=[[1, .95], [.95, 1]],
                                              benchmarks=["A", "B"], seed=1)
    res, issued = _issued(_per_benchmark, sim.responses)
    assert not any("boundary" in m for m in issued)


def test_forecast_target_checks(small):
    res, using = small
    # every benchmark a target: a warning that all models lack responses, then "empty input"
    with pytest.raises(ValueError, match=r"no responses outside the target benchmark\(s\)"):
        res.forecast(["A", "B"])
    # None selected every question (and crashed with a TypeError from the fit's forecast)
    with pytest.raises(ValueError, match="target: a benchmark label"):
        res.item_bank().forecast(None, using)
    with pytest.raises(ValueError, match="target: a benchmark label"):
        res.forecast(None)


def test_a_chance_negative_loading_does_not_blame_the_answer_key():
    # a question answered at random: its loading is scattered around 0 (here -0.44, se 0.28); only
    # loadings more than two standard errors below 0 point at a reversed answer key
    sim = irsl.simulate.correlated_benchmarks(n_models=80, questions=[10, 10], corr=[[1, .5], [.5, 1]],
                                              benchmarks=["A", "B"], family="bernoulli", seed=3)
    data = sim.responses.copy()
    noise = data["question"] == "B/q0012"
    data.loc[noise, "y"] = (np.random.default_rng(0).random(noise.sum()) < 0.5).astype(float)
    res, issued = _issued(_per_benchmark, data, family="bernoulli")
    a, se = res.items.loc["B/q0012", ["a_B", "a_B_se"]]
    assert a < 0 and a + 2 * se > 0
    assert not any("negative loading" in m for m in issued + res.warnings)
