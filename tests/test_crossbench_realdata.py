"""Cross-benchmark forecasts on real public data (skipped when the shared data are absent).

The full studies with every variant are ``benchmarks/cross_benchmark.py``; these tests run the
acceptance configuration and assert its targets.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from irsl_stats.crossval import holdout_benchmark_study, mae_table, stack_benchmarks, transfer_study

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OBS = DATA / "obsscaling" / "base_llm_benchmark_eval.csv"
MONKEYS = DATA / "monkeys"
OBS_BENCHMARKS = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"]

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def obs_wide():
    if not OBS.exists():
        pytest.skip(f"observational-scaling data not found at ../shared/data/obsscaling ({OBS.name})")
    raw = pd.read_csv(OBS)
    return raw.dropna(subset=OBS_BENCHMARKS).set_index("Model")[OBS_BENCHMARKS]


def test_obsscaling_multidimensional_beats_pca(obs_wide):
    """124 models x 8 benchmarks, every benchmark held out in turn (5-fold over models).
    D = 3 is what BIC chooses in every fold of the benchmark script (dims="auto")."""
    assert obs_wide.shape == (124, 8)
    table = holdout_benchmark_study(obs_wide, folds=5, seed=0, dims=3, n_threads=1)
    mae = mae_table(table, ["irsl", "ols", "pca"]).iloc[0]
    assert mae["irsl"] <= 0.036, mae
    assert mae["irsl"] < mae["pca"], mae
    per = mae_table(table, ["irsl", "ols", "pca"], by="benchmark")
    assert per.shape == (8, 3) and per.notna().all().all()
    cover = ((table["truth"] >= table["irsl_lower"]) & (table["truth"] <= table["irsl_upper"])).mean()
    assert cover > 0.8


def test_pythia_gsm8k_forecasts_math():
    paths = [MONKEYS / f for f in ("pythia_gsm8k_counts.csv", "pythia_math_counts.csv", "pythia_checkpoints.csv")]
    if not all(p.exists() for p in paths):
        pytest.skip("Pythia sample-count data not found at ../shared/data/monkeys")
    g, m, ck = (pd.read_csv(p) for p in paths)
    counts = stack_benchmarks({"GSM8K": g, "MATH": m})
    ck = ck.set_index("model")
    compute = 6.0 * ck["Parameters"].astype(float) * ck["Tokens"].astype(float)
    table = transfer_study(counts, "GSM8K", "MATH", successes="n_correct", trials="n_samples",
                           compute=compute, folds=5, seed=0, n_threads=1)
    assert len(table) == 72
    mae = mae_table(table, ["irsl", "on_source", "on_compute"]).iloc[0]
    assert mae["irsl"] < mae["on_source"], mae
    assert mae["irsl"] < mae["on_compute"], mae


def test_pythia_per_benchmark_2pl_with_discrimination_prior_em_is_monotone():
    """Per-benchmark 2PL on the Pythia GSM8K+MATH counts (thousands of samples per question): with
    the log-normal prior the EM objective must rise every iteration and every loading stay
    positive. A first version stepped in log a and oscillated by orders of magnitude here."""
    import warnings

    import numpy as np

    import irsl_stats as irsl
    from irsl_stats.results import IRSLWarning

    paths = [MONKEYS / f for f in ("pythia_gsm8k_counts.csv", "pythia_math_counts.csv")]
    if not all(p.exists() for p in paths):
        pytest.skip("Pythia sample-count data not found at ../shared/data/monkeys")
    counts = stack_benchmarks({"GSM8K": pd.read_csv(paths[0]), "MATH": pd.read_csv(paths[1])})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)  # 40 EM iterations do not converge
        res = irsl.fit("ability ~ 1", data=counts, successes="n_correct", trials="n_samples",
                       family="beta_binomial", benchmark="benchmark", ability="per_benchmark",
                       discrimination_prior=1.0, max_iter=40, n_threads=1)
    objective = np.array([h["objective"] for h in res._est.history])
    assert res._est.n_iter == 40 and len(objective) > 20  # rejected extrapolations are not recorded
    assert np.diff(objective).min() > -1e-8 * abs(objective[-1])
    own = res.items[["a_GSM8K", "a_MATH"]].to_numpy().max(axis=1)
    assert (own > 0).all() and own.max() < 25
