"""MultidimBank: fast pass@k forecasts, per-model seeded draws, parameter validation, round trips."""

import json

import numpy as np
import pandas as pd
import pytest

import irsl_stats.passk as passk_mod
from irsl_stats import crossbench
from irsl_stats.bank import ItemBankFormatError, _seal
from irsl_stats.crossbench import MULTIDIM_FORMAT_VERSION, MULTIDIM_SCHEMA, MultidimBank
from irsl_stats.passk import beta_pass_at_k

N_PER = 40  # questions per benchmark


def _bank(cov=((1.0, 0.6), (0.6, 1.0)), family="beta_binomial", two_pl_target=False) -> MultidimBank:
    """Two benchmarks with one ability each (per-benchmark 1PL), or a target loading on both."""
    rng = np.random.default_rng(11)
    n = 2 * N_PER
    a = np.zeros((n, 2))
    a[:N_PER, 0] = 1.0
    a[N_PER:, 1] = 1.0
    if two_pl_target:
        a[N_PER:, 0] = rng.uniform(0.2, 1.0, N_PER)
    questions = pd.Index([f"b{j // N_PER}/q{j % N_PER:02d}" for j in range(n)], name="question")
    bench = pd.Series(["bench0"] * N_PER + ["bench1"] * N_PER, index=questions, name="benchmark")
    return MultidimBank(
        A=a, d=rng.normal(-1.0, 1.0, n), log_phi=np.log(rng.uniform(1.0, 6.0, n)), family=family,
        questions=questions, item_benchmark=bench, dim_names=["bench0", "bench1"],
        population_mean=np.zeros(2), population_cov=np.array(cov), trials=np.full(n, 20.0))


def _using(bank: MultidimBank, n_models: int = 4) -> pd.DataFrame:
    """Count responses of ``n_models`` models to the bench0 questions."""
    rng = np.random.default_rng(5)
    rows = []
    for m in range(n_models):
        theta = rng.multivariate_normal(bank.population_mean, bank.population_cov)
        for j in np.flatnonzero(bank.item_benchmark.to_numpy() == "bench0"):
            mu = 1 / (1 + np.exp(-(bank.A[j] @ theta + bank.d[j])))
            phi = np.exp(bank.log_phi[j])
            p = rng.beta(mu * phi, (1 - mu) * phi)
            rows.append((f"m{m}", bank.questions[j], int(rng.binomial(20, p)), 20))
    return pd.DataFrame(rows, columns=["model", "question", "successes", "trials"])


KS = np.array([1, 3, 10, 100, 1000, 10000])


def _direct(bank: MultidimBank, thetas: np.ndarray, ks) -> np.ndarray:
    """Mean pass@k over bench1 at ``thetas``, one scalar-k call per budget (the old path)."""
    m = bank._mask("bench1")
    mu = 1 / (1 + np.exp(-(thetas @ bank.A[m].T + bank.d[m])))
    phi = np.broadcast_to(np.exp(bank.log_phi[m]), mu.shape)
    return np.column_stack([np.asarray(beta_pass_at_k(mu, phi, int(k))).mean(axis=1) for k in ks])


# ----------------------------------------------------------------------------- 1: speed
def test_tabulated_pass_at_k_is_within_the_stated_bound():
    bank = _bank()
    m = bank._mask("bench1")
    rng = np.random.default_rng(0)
    thetas = rng.normal(0.0, 1.5, (3000, 2))
    got = bank._expected_score_at(thetas, bank.A[m], bank.d[m], bank.log_phi[m], KS)
    ref = _direct(bank, thetas, KS)
    assert got.shape == (3000, len(KS))
    assert np.abs(got - ref).max() <= crossbench._TABLE_TOL
    # the bound is far below the Monte Carlo error of an interval end from 1000 draws
    assert crossbench._TABLE_TOL < 1e-3 * ref.std(axis=0).min() / np.sqrt(1000)


def test_tabulation_falls_back_to_every_point_when_the_tolerance_is_not_reached(monkeypatch):
    bank = _bank()
    m = bank._mask("bench1")
    thetas = np.random.default_rng(2).normal(0.0, 1.5, (600, 2))
    monkeypatch.setattr(crossbench, "_TABLE_MAX", 20)  # 17 nodes cannot reach 1e-7
    got = bank._expected_score_at(thetas, bank.A[m], bank.d[m], bank.log_phi[m], KS)
    np.testing.assert_allclose(got, _direct(bank, thetas, KS), rtol=0, atol=1e-12)


def test_pass_at_k_without_a_common_direction_is_exact():
    bank = _bank(two_pl_target=True)
    m = bank._mask("bench1")
    thetas = np.random.default_rng(1).normal(0.0, 1.0, (700, 2))
    assert crossbench._common_direction(bank.A[m]) is None
    got = bank._expected_score_at(thetas, bank.A[m], bank.d[m], bank.log_phi[m], KS)
    np.testing.assert_allclose(got, _direct(bank, thetas, KS), rtol=0, atol=1e-12)


def test_forecast_with_ks_tabulates_and_matches_the_posterior_expectation(monkeypatch):
    bank = _bank()
    using = _using(bank, n_models=3)
    sizes = []
    grid = passk_mod.beta_pass_at_k_grid

    def counting(mu, phi, ks):
        sizes.append(np.size(mu))
        return grid(mu, phi, ks)

    monkeypatch.setattr(passk_mod, "beta_pass_at_k_grid", counting)
    out = bank.forecast("bench1", using=using, successes="successes", trials="trials", response=None,
                        ks=KS, n_threads=1)
    # the old code evaluated every (node or draw) x question: 3 x (49 + 1000) x 40 cells
    n_quad_points = 3 * (crossbench.default_n_quad(2) ** 2 + 1000)
    assert 0 < sum(sizes) < n_quad_points * N_PER / 4
    # the point forecast is the posterior expectation of the exact curve
    rd, nodes, post = bank._posterior(using, model="model", question="question", response=None,
                                      successes="successes", trials="trials", boundary="error",
                                      n_quad=None, n_threads=1)
    for i, lab in enumerate(rd.model_labels):
        ref = post[i] @ _direct(bank, nodes[i], KS)
        np.testing.assert_allclose(out.loc[out["model"] == lab, "pass_at_k"].to_numpy(), ref,
                                   rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- 2: seeded draws
@pytest.mark.parametrize("ks", [None, KS])
def test_prediction_interval_of_a_model_does_not_depend_on_the_other_models(ks):
    bank = _bank()
    using = _using(bank, n_models=4)
    kw = dict(successes="successes", trials="trials", response=None, interval="prediction", seed=3,
              n_threads=1, ks=ks)
    cols = ["lower", "median", "upper"]

    def rows(frame, lab):
        return frame.loc[frame.index == lab] if ks is None else frame.loc[frame["model"] == lab]

    batch = bank.forecast("bench1", using=using, **kw)
    alone = bank.forecast("bench1", using=using[using["model"] == "m2"], **kw)
    rev = bank.forecast("bench1", using=using.iloc[::-1], **kw)
    for other in (alone, rev):
        np.testing.assert_array_equal(rows(batch, "m2")[cols].to_numpy(), rows(other, "m2")[cols].to_numpy())
    # and another seed gives other draws
    kw["seed"] = 4
    moved = bank.forecast("bench1", using=using[using["model"] == "m2"], **kw)
    assert not np.array_equal(rows(moved, "m2")[cols].to_numpy(), rows(alone, "m2")[cols].to_numpy())


def test_forecast_seed_is_validated_by_name():
    bank = _bank()
    with pytest.raises(ValueError, match="`seed` must be a non-negative integer"):
        bank.forecast("bench1", using=_using(bank, 1), successes="successes", trials="trials",
                      response=None, seed=-1, n_threads=1)


# ----------------------------------------------------------------------------- 3: validation
def _with(bank: MultidimBank, **changes) -> dict:
    fields = dict(A=bank.A.copy(), d=bank.d.copy(), log_phi=bank.log_phi.copy(), family=bank.family,
                  questions=bank.questions, item_benchmark=bank.item_benchmark, dim_names=bank.dim_names,
                  population_mean=bank.population_mean.copy(), population_cov=bank.population_cov.copy(),
                  trials=bank.trials)
    fields.update(changes)
    return fields


def test_non_finite_parameters_are_rejected_naming_the_questions():
    bank = _bank()
    a = bank.A.copy()
    a[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"A \(loadings\) must be finite.*'b0/q03'"):
        MultidimBank(**_with(bank, A=a))
    d = bank.d.copy()
    d[[5, 50]] = np.inf
    with pytest.raises(ValueError, match=r"d \(intercepts\) must be finite.*'b0/q05', 'b1/q10'"):
        MultidimBank(**_with(bank, d=d))
    lp = bank.log_phi.copy()
    lp[7] = np.nan
    with pytest.raises(ValueError, match=r"log_phi .* must be finite.*'b0/q07'"):
        MultidimBank(**_with(bank, log_phi=lp))
    with pytest.raises(ValueError, match="population_mean"):
        MultidimBank(**_with(bank, population_mean=np.array([0.0, np.nan])))


@pytest.mark.parametrize("cov, what", [([[1.0, 2.0], [2.0, 1.0]], "positive definite"),
                                       ([[1.0, 0.5], [0.2, 1.0]], "symmetric"),
                                       ([[1.0, 0.0], [0.0, np.nan]], "finite")])
def test_population_cov_must_be_symmetric_positive_definite(cov, what):
    with pytest.raises(ValueError, match=f"population_cov.*{what}"):
        _bank(cov=cov)


def test_load_rejects_a_file_with_invalid_parameters(tmp_path):
    bank = _bank()
    bank.save(tmp_path / "good.json")
    doc = json.loads((tmp_path / "good.json").read_text())
    payload = doc["payload"]
    payload["A"][0][1] = "nan"  # as _enc_floats writes NaN
    (tmp_path / "nan.json").write_text(_seal(payload, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION))
    with pytest.raises(ItemBankFormatError, match=r"A \(loadings\) must be finite.*'b0/q00'"):
        MultidimBank.load(tmp_path / "nan.json")
    payload = json.loads((tmp_path / "good.json").read_text())["payload"]
    payload["population_cov"] = [[1.0, 2.0], [2.0, 1.0]]
    (tmp_path / "cov.json").write_text(_seal(payload, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION))
    with pytest.raises(ItemBankFormatError, match="positive definite"):
        MultidimBank.load(tmp_path / "cov.json")


def test_load_of_a_binary_file_says_it_is_not_a_bank(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(ItemBankFormatError, match="is not UTF-8 text; not an item-bank file"):
        MultidimBank.load(path)


# ----------------------------------------------------------------------------- 4: round trip
def test_round_trip_keeps_the_index_and_benchmark_names(tmp_path):
    bank = _bank()
    bank.save(tmp_path / "b.json")
    back = MultidimBank.load(tmp_path / "b.json")
    assert back.questions.name == "question"
    pd.testing.assert_index_equal(back.questions, bank.questions, exact=True)
    pd.testing.assert_series_equal(back.item_benchmark, bank.item_benchmark, check_exact=True)
