"""Tests of the item bank (issue #4): save/load, scoring new models, forecasting full-benchmark
scores, Fisher information, question selection and adaptive testing.

Banks are calibrated once per module on small simulations (fits take a fraction of a second);
held-out models never enter the calibration.
"""

from __future__ import annotations

import json
import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import irsl_stats as irsl
from irsl_stats import IRSLWarning, _kernel
from irsl_stats.bank import ItemBank, ItemBankFormatError, calibrate
from irsl_stats.scoring import ML_BOUND

fit = partial(irsl.fit, n_threads=1)
FORMULA = "ability ~ log(compute) + family"
N_CAL = 160


# ----------------------------------------------------------------------------- helpers
def subset(frame: pd.DataFrame, keep, column: str = "model") -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` is in ``keep``, without unused categories."""
    out = frame[frame[column].isin(keep)].copy()
    for c in ("model", "question"):
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].cat.remove_unused_categories()
    return out


def draw_beta(bank: ItemBank, theta: float, questions, rng) -> np.ndarray:
    it = bank.items.loc[list(questions)]
    mu = special.expit(it["a"].to_numpy() * theta + it["d"].to_numpy())
    phi = it["phi"].to_numpy()
    return np.clip(rng.beta(mu * phi, (1 - mu) * phi), 1e-9, 1 - 1e-9)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=240, n_questions=100, benchmarks=2, seed=3)


@pytest.fixture(scope="module")
def split(sim):
    labels = sim.models["model"].astype(str).to_numpy()
    return labels[:N_CAL], labels[N_CAL:]


@pytest.fixture(scope="module")
def fits(sim, split):
    cal = subset(sim.responses, split[0])
    return {
        ident: fit(FORMULA, data=cal, models=sim.models, benchmark="benchmark", identification=ident)
        for ident in ("population", "regression")
    }


@pytest.fixture(scope="module")
def bank(fits):
    return fits["population"].item_bank()


@pytest.fixture(scope="module")
def heldout(sim, split, bank):
    """Held-out models' responses to 25 stratified questions per benchmark (50 in all)."""
    qs = bank.select(25, strategy="stratified", by="benchmark", seed=1)
    return subset(subset(sim.responses, split[1]), qs, column="question")


@pytest.fixture(scope="module")
def bern():
    """A Bernoulli bank (noisier responses: shrinkage and extreme patterns are visible)."""
    s = irsl.simulate.irt(n_models=300, n_questions=80, family="bernoulli", seed=5)
    cal = subset(s.responses, s.models["model"].astype(str).to_numpy()[:200])
    return s, calibrate(cal, family="bernoulli", n_threads=1)


# ----------------------------------------------------------------------------- save / load
def assert_same_bank(b1: ItemBank, b2: ItemBank) -> None:
    pd.testing.assert_frame_equal(b1.items, b2.items, check_exact=True)
    assert b1.items.index.dtype == b2.items.index.dtype
    assert (b1.family, b1.irt, b1.identification, b1.precision) == (b2.family, b2.irt, b2.identification, b2.precision)
    assert b1.population == b2.population
    assert (b1.prior is None) == (b2.prior is None)
    if b1.prior is not None:
        p1, p2 = b1.prior, b2.prior
        assert (p1.formula, p1.column_names, p1.sigma) == (p2.formula, p2.column_names, p2.sigma)
        assert np.array_equal(p1.beta, p2.beta) and np.array_equal(p1.cov, p2.cov, equal_nan=True)
        pd.testing.assert_frame_equal(p1.covariates, p2.covariates, check_exact=True)
        assert np.array_equal(p1.design.matrix, p2.design.matrix)


def test_save_load_round_trip_exact(bank, sim, split, tmp_path):
    path = tmp_path / "bank.json"
    bank.save(path)
    loaded = ItemBank.load(path)
    assert_same_bank(bank, loaded)
    new_models = sim.models.set_index("model").loc[split[1]]
    assert np.array_equal(bank.prior.mean(new_models), loaded.prior.mean(new_models))
    # and a second round trip writes the identical file
    loaded.save(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text())["sha256"] == json.loads(path.read_text())["sha256"]


def test_round_trip_stateful_formula_and_counts(sim, split, tmp_path):
    """center() and factor levels are rebuilt from the stored covariates; binomial bank (no phi)."""
    cal = subset(sim.responses, split[0])
    counts = cal.assign(k=np.round(cal["y"] * 20), n=20)
    res = fit("ability ~ center(log(compute)) + family", data=counts, models=sim.models,
              family="binomial", successes="k", trials="n")
    b = res.item_bank()
    assert b.items["phi"].isna().all()
    b.save(tmp_path / "c.json")
    loaded = ItemBank.load(tmp_path / "c.json")
    assert_same_bank(b, loaded)
    new_models = sim.models.set_index("model").loc[split[1]]
    before = b.prior.mean(new_models)
    assert np.array_equal(before, loaded.prior.mean(new_models))
    assert np.array_equal(before, res.predict(new_models)["mean"].to_numpy())


def test_round_trip_integer_labels_and_nonfinite(tmp_path):
    items = pd.DataFrame(
        {"benchmark": [7, 7, 9], "a": [1.0, 0.1 + 0.2, 2.5], "a_se": [np.nan, 0.1, np.inf],
         "d": [0.0, -1e-300, 3.0], "d_se": [np.nan, np.nan, 5e-324], "n": [3, 0, 12]},
        index=pd.Index([10, 20, 30], name="qid"),
    )
    b = ItemBank(items, family="bernoulli", irt="2pl", identification="population", population=(0.25, 1.5))
    b.save(tmp_path / "i.json")
    loaded = ItemBank.load(tmp_path / "i.json")
    assert_same_bank(b, loaded)
    assert loaded.questions.tolist() == [10, 20, 30] and loaded.questions.name == "qid"
    assert loaded.items["benchmark"].tolist() == [7, 7, 9]
    assert loaded.items.loc[20, "a"] == 0.1 + 0.2
    assert np.isinf(loaded.items.loc[30, "a_se"]) and np.isnan(loaded.items.loc[10, "a_se"])


def test_bad_files_raise_clear_errors(bank, tmp_path):
    path = tmp_path / "bank.json"
    bank.save(path)
    text = path.read_text()
    (tmp_path / "trunc.json").write_text(text[: len(text) // 2])
    with pytest.raises(ItemBankFormatError, match="truncated"):
        ItemBank.load(tmp_path / "trunc.json")
    # corruption that still parses: change one digit of a parameter
    doc = json.loads(text)
    doc["payload"]["items"]["d"][3] += 1e-12
    (tmp_path / "corrupt.json").write_text(json.dumps(doc))
    with pytest.raises(ItemBankFormatError, match="corrupted"):
        ItemBank.load(tmp_path / "corrupt.json")
    doc = json.loads(text)
    doc["version"] = 2
    (tmp_path / "newer.json").write_text(json.dumps(doc))
    with pytest.raises(ItemBankFormatError, match="newer"):
        ItemBank.load(tmp_path / "newer.json")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something", "version": 1}))
    with pytest.raises(ItemBankFormatError, match="not an irsl_stats item bank"):
        ItemBank.load(tmp_path / "other.json")
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\x00\xff")
    with pytest.raises(ItemBankFormatError):
        ItemBank.load(tmp_path / "binary.json")
    # a payload with a valid checksum but a missing field is malformed, not a wrong bank
    from irsl_stats.bank import _canonical
    import hashlib

    doc = json.loads(text)
    del doc["payload"]["items"]["a"]
    doc["sha256"] = hashlib.sha256(_canonical(doc["payload"]).encode()).hexdigest()
    (tmp_path / "malformed.json").write_text(json.dumps(doc))
    with pytest.raises(ItemBankFormatError, match="malformed"):
        ItemBank.load(tmp_path / "malformed.json")
    assert issubclass(ItemBankFormatError, ValueError)


# ----------------------------------------------------------------------------- scoring
@pytest.mark.parametrize("method", ["ml", "map", "eap"])
def test_score_recovers_heldout_abilities(bank, heldout, sim, split, method):
    est = bank.score(heldout, method=method, n_threads=1)
    assert list(est.columns) == ["theta", "se", "n"]
    assert set(est.index) == set(split[1]) and (est["n"] == 50).all()
    truth = sim.models.set_index("model")["theta"].reindex(est.index)
    assert np.corrcoef(est["theta"], truth)[0, 1] > 0.9
    assert np.all(np.isfinite(est["se"])) and np.all(est["se"] > 0)


def test_score_with_counts_and_1pl(sim, split):
    cal = subset(sim.responses, split[0])
    counts = cal.assign(k=np.round(cal["y"] * 10), n=10)
    b = calibrate(counts, family="binomial", irt="1pl", successes="k", trials="n", n_threads=1)
    assert (b.items["a"] == 1).all() and (b.items["trials"] == 10).all()
    new = subset(sim.responses, split[1])
    new = new.assign(k=np.round(new["y"] * 10), n=10)
    est = b.score(new, method="map", successes="k", trials="n", n_threads=1)
    truth = sim.models.set_index("model")["theta"].reindex(est.index)
    assert np.corrcoef(est["theta"], truth)[0, 1] > 0.9


def test_unknown_questions_are_listed(bank, heldout):
    extra = pd.DataFrame({"model": ["x", "x"], "question": ["zz_new", "yy_new"], "y": [0.5, 0.5]})
    data = pd.concat([heldout.astype({"model": str, "question": str}), extra], ignore_index=True)
    with pytest.raises(ValueError, match=r"2 question\(s\) are not in the item bank: 'yy_new', 'zz_new'"):
        bank.score(data, n_threads=1)


def test_eap_matches_brute_force_grid(bern):
    """EAP posterior mean and SD against a dense NumPy grid of the exact posterior."""
    s, b = bern
    qs = b.questions[:8]
    new = subset(subset(s.responses, s.models["model"].astype(str).to_numpy()[200:210]), qs, "question")
    est = b.score(new, method="eap", n_threads=1)
    m, sd = b.population
    grid = np.linspace(m - 10 * sd, m + 10 * sd, 20001)
    for label, rows in new.groupby("model", observed=True):
        it = b.items.loc[rows["question"].astype(str)]
        eta = np.outer(grid, it["a"].to_numpy()) + it["d"].to_numpy()
        y = rows["y"].to_numpy()
        ll = (y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)).sum(axis=1)
        logpost = ll + stats.norm.logpdf(grid, m, sd)
        w = np.exp(logpost - logpost.max())
        w /= w.sum()
        mean = (w * grid).sum()
        post_sd = np.sqrt((w * (grid - mean) ** 2).sum())
        assert est.loc[label, "theta"] == pytest.approx(mean, abs=1e-5)
        assert est.loc[label, "se"] == pytest.approx(post_sd, rel=1e-4)


def test_shrinkage_ordering(bern):
    s, b = bern
    new = subset(subset(s.responses, s.models["model"].astype(str).to_numpy()[200:]), b.questions[::4], "question")
    ml = quiet(b.score, new, method="ml", n_threads=1)
    mp = b.score(new, method="map", n_threads=1)
    ea = b.score(new, method="eap", n_threads=1)
    m, sd = b.population
    finite = (ml["theta"] - m).abs() < ML_BOUND * sd * (1 - 1e-9)
    dev_ml, dev_map = (ml["theta"] - m)[finite], (mp["theta"] - m)[finite]
    assert np.all(np.abs(dev_map) <= np.abs(dev_ml) + 1e-9)
    assert np.all(np.sign(dev_map) * np.sign(dev_ml) >= 0)
    assert ml["theta"][finite].var() > ea["theta"][finite].var()
    assert ml["theta"][finite].var() > mp["theta"][finite].var()
    assert np.all(mp["se"][finite] < ml["se"][finite])


def test_all_extreme_responses(bern):
    s, b = bern
    qs = b.questions[:20]
    data = pd.DataFrame({"model": ["perfect"] * 20 + ["zero"] * 20 + ["mixed"] * 20,
                         "question": list(qs) * 3, "y": [1.0] * 20 + [0.0] * 20 + [1.0, 0.0] * 10})
    with pytest.warns(IRSLWarning, match=r"no finite ML estimate \(e.g. \['perfect', 'zero'\]\)"):
        ml = b.score(data, method="ml", n_threads=1)
    assert np.all(np.isfinite(ml["theta"]))
    m, sd = b.population
    assert ml.loc["perfect", "theta"] == pytest.approx(m + ML_BOUND * sd)
    assert ml.loc["zero", "theta"] == pytest.approx(m - ML_BOUND * sd)
    for method in ("map", "eap"):
        est = b.score(data, method=method, n_threads=1)  # no warning
        assert np.all(np.isfinite(est.to_numpy(float)))
        assert est.loc["zero", "theta"] < est.loc["mixed", "theta"] < est.loc["perfect", "theta"]


@pytest.mark.parametrize("method", ["map", "eap"])
def test_prior_from_covariates(bank, heldout, sim, split, method):
    few = heldout.groupby("model", observed=True).head(2)  # 2 responses per model: the prior matters
    models = sim.models.set_index("model").loc[split[1]]
    no_cov = bank.score(few, method=method, n_threads=1)
    with_cov = bank.score(few, method=method, models=models, n_threads=1)
    prior_mean = pd.Series(bank.prior.mean(models), index=models.index).reindex(with_cov.index)
    assert (with_cov["theta"] - prior_mean).abs().mean() < (no_cov["theta"] - prior_mean).abs().mean()
    assert with_cov["se"].mean() < no_cov["se"].mean()  # sigma < population sd
    # same responses, 100x the compute: a higher prior mean, a higher estimate
    bigger = bank.score(few, method=method, models=models.assign(compute=models["compute"] * 100), n_threads=1)
    assert np.all(bigger["theta"] > with_cov["theta"])
    # ML ignores the prior
    ml1 = bank.score(few, method="ml", n_threads=1)
    ml2 = bank.score(few, method="ml", models=models, n_threads=1)
    np.testing.assert_allclose(ml1["theta"], ml2["theta"], rtol=0, atol=1e-6)


def test_scores_invariant_to_identification(fits, heldout, sim, split):
    b_pop, b_reg = fits["population"].item_bank(), fits["regression"].item_bank()
    models = sim.models.set_index("model").loc[split[1]]
    for method in ("ml", "map", "eap"):
        for mdl in (None, models):
            e1 = b_pop.score(heldout, method=method, models=mdl, n_threads=1)
            e2 = b_reg.score(heldout, method=method, models=mdl, n_threads=1)
            s1 = b_pop.expected_score(e1["theta"], se=e1["se"])
            s2 = b_reg.expected_score(e2["theta"], se=e2["se"])
            np.testing.assert_allclose(s1.to_numpy(), s2.to_numpy(), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- forecasting
def test_expected_score_matches_results(fits, bank):
    res = fits["population"]
    theta = np.linspace(-2, 2, 7)
    np.testing.assert_allclose(bank.expected_score(theta), res.expected_score(theta), rtol=1e-14)
    for bench in ("bench0", "bench1"):
        np.testing.assert_allclose(bank.expected_score(theta, benchmark=bench),
                                   res.expected_score(theta, benchmark=bench), rtol=1e-14)
    with pytest.raises(ValueError, match="unknown benchmark"):
        bank.expected_score(theta, benchmark="nope")


def test_expected_score_intervals(bank):
    theta = pd.Series([-1.0, 0.0, 1.5], index=["a", "b", "c"])
    se = np.array([0.1, 0.2, 0.3])
    out = bank.expected_score(theta, se=se, benchmark="bench0")
    assert list(out.columns) == ["score", "lower", "upper"] and list(out.index) == ["a", "b", "c"]
    assert np.all(out["lower"] < out["score"]) and np.all(out["score"] < out["upper"])
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(out["upper"], bank.expected_score(theta + z * se, benchmark="bench0"))
    both = bank.expected_score(theta, se=se, item_uncertainty=True, benchmark="bench0", n_draws=400, seed=1)
    assert np.all(both["upper"] - both["lower"] >= 0.9 * (out["upper"] - out["lower"]))
    again = bank.expected_score(theta, se=se, item_uncertainty=True, benchmark="bench0", n_draws=400, seed=1)
    pd.testing.assert_frame_equal(both, again)  # seeded
    items_only = bank.expected_score(theta, item_uncertainty=True, n_draws=400)
    assert np.all(items_only["upper"] > items_only["lower"])


def test_forecast_pass_at_k(bank):
    out = bank.forecast_pass_at_k(pd.Series([0.0, 1.0], index=["m1", "m2"]), [1, 10, 100])
    assert list(out.columns) == ["model", "k", "pass_at_k"] and len(out) == 6
    p1 = out[out["k"] == 1].set_index("model")["pass_at_k"]
    np.testing.assert_allclose(p1.to_numpy(), bank.expected_score([0.0, 1.0]), rtol=1e-10)
    for _, g in out.groupby("model"):
        assert np.all(np.diff(g["pass_at_k"].to_numpy()) > 0)
    ci = bank.forecast_pass_at_k(np.array([0.5]), [1, 50], se=[0.2])
    assert np.all(ci["lower"] < ci["pass_at_k"]) and np.all(ci["pass_at_k"] < ci["upper"])


# ----------------------------------------------------------------------------- information
def test_information_beta_matches_kernel(bank):
    theta = 0.7
    info = bank.information(theta)
    n = len(bank)
    kd = _kernel.KernelData(np.arange(n), np.arange(n), np.full(n, 0.5), n_models=n, n_items=n,
                            family="beta", model_ptr=np.arange(n + 1))
    acc = _kernel.accumulate(kd, np.full(n, theta), bank.items["a"], bank.items["d"], bank.items["log_phi"],
                             item_blocks=False, information="expected", n_threads=1)
    np.testing.assert_allclose(info.to_numpy(), -acc.hess_theta[:, 0, 0], rtol=1e-10)


@pytest.mark.parametrize("family,trials", [("bernoulli", None), ("binomial", 7), ("beta_binomial", 7), ("beta_binomial", 1)])
def test_information_matches_finite_differences(family, trials):
    """I(theta0) = -d2/dtheta2 E_{y ~ theta0}[log p(y; theta)] at theta = theta0 (exact sums)."""
    items = pd.DataFrame({"a": [0.6, 1.3, 2.0], "d": [-1.0, 0.2, 1.5], "phi": [3.0, 12.0, 40.0]},
                         index=["q1", "q2", "q3"])
    b = ItemBank(items, family=family, irt="2pl")
    theta0, h = 0.3, 1e-3
    info = b.information(theta0, trials=trials).to_numpy()
    n = 1 if trials is None else trials
    k = np.arange(n + 1)[:, None]

    def logp(theta):
        mu = special.expit(items["a"].to_numpy() * theta + items["d"].to_numpy())
        if family == "beta_binomial":
            phi = items["phi"].to_numpy()
            return stats.betabinom.logpmf(k, n, mu * phi, (1 - mu) * phi)
        return stats.binom.logpmf(k, n, mu)

    p0 = np.exp(logp(theta0))
    expected_ll = lambda t: (p0 * logp(t)).sum(axis=0)  # noqa: E731
    fd = -(expected_ll(theta0 + h) - 2 * expected_ll(theta0) + expected_ll(theta0 - h)) / h**2
    np.testing.assert_allclose(info, fd, rtol=1e-5)
    if family == "beta_binomial":  # over-dispersion: less information than the binomial
        binom = ItemBank(items, family="binomial").information(theta0, trials=trials).to_numpy()
        assert np.all(info <= binom * (1 + 1e-12))


# ----------------------------------------------------------------------------- selection
def test_information_selection_targets_difficulty(bern):
    _, b = bern
    for target in (-1.0, 0.0, 1.0):
        qs = b.select(8, strategy="information", by=None, theta=target)
        assert len(qs) == 8 and qs.is_unique
        chosen = (b.items.loc[qs, "b"] - target).abs().median()
        overall = (b.items["b"] - target).abs().median()
        assert chosen < 0.5 * overall
        info = b.information(target)
        assert info[qs].min() >= info.drop(qs).max()


def test_stratified_covers_difficulty_quantiles(bank):
    n = 5
    qs = bank.select(n, strategy="stratified", by="benchmark", seed=0)
    assert len(qs) == 2 * n and qs.is_unique
    for bench, group in bank.items.groupby("benchmark"):
        ranks = group["b"].rank(method="first").astype(int) - 1  # 0..N-1 by difficulty
        picked = sorted(ranks[ranks.index.isin(qs)])
        assert len(picked) == n
        edges = np.cumsum([0] + [len(s) for s in np.array_split(np.arange(len(group)), n)])
        for i, r in enumerate(picked):
            assert edges[i] <= r < edges[i + 1]
    assert bank.select(n, strategy="stratified", seed=0).equals(qs)
    assert not bank.select(n, strategy="stratified", seed=1).equals(qs)
    rnd = bank.select(n, strategy="random", seed=0)
    assert len(rnd) == 2 * n and rnd.is_unique
    assert len(bank.select(1000, strategy="random")) == len(bank)  # small groups: all questions
    with pytest.raises(ValueError, match="strategy"):
        bank.select(5, strategy="best")


# ----------------------------------------------------------------------------- adaptive testing
@pytest.mark.parametrize("true_theta", [-1.5, 0.4, 2.0])
def test_adaptive_converges(bank, true_theta):
    rng = np.random.default_rng(int(10 * true_theta) + 100)
    result = bank.adaptive(lambda q: draw_beta(bank, true_theta, [q], rng)[0], budget=30)
    assert len(result.questions) == 30 and result.questions.is_unique
    assert abs(result.theta - true_theta) < 3 * result.se
    assert result.se < 0.15
    hist = result.history
    assert hist["se"].iloc[-1] < hist["se"].iloc[0]
    # picks are informative where the model is: difficulty near the estimate
    late = bank.items.loc[result.questions[10:], "b"]
    assert (late - result.theta).abs().median() < (bank.items["b"] - result.theta).abs().median()


def test_adaptive_from_table_by_benchmark(bank, heldout, sim):
    label = heldout["model"].astype(str).iloc[0]
    table = heldout[heldout["model"] == label][["question", "y"]].astype({"question": str})
    result = bank.adaptive(table, budget=10, by="benchmark")
    assert len(result.questions) == 20
    assert set(result.questions) <= set(table["question"])
    assert bank.items.loc[result.questions, "benchmark"].value_counts().tolist() == [10, 10]
    full = bank.score(heldout[heldout["model"] == label], n_threads=1)
    assert abs(result.theta - full["theta"].iloc[0]) < 3 * result.se


def test_calibrate_equals_fit(bern):
    s, b = bern
    cal = subset(s.responses, s.models["model"].astype(str).to_numpy()[:200])
    res = fit("ability ~ 1", data=cal, family="bernoulli")
    assert_same_bank(b, res.item_bank())
    assert b.prior.formula == "ability ~ 1"
    assert b.population[0] == pytest.approx(0.0, abs=1e-12) and b.population[1] == pytest.approx(1.0)
