"""The efficient-evaluation workflow on real sample counts: Pythia checkpoints on GSM8K.

Calibrate a beta-binomial item bank on 61 checkpoints, score 20 others from 50 problems, and
forecast each held-out checkpoint's mean pass rate over all problems (issue: efficient
evaluation, requirement 9). Measured: Spearman correlation with the truth 0.97, MAE 0.0008 on a
mean pass rate of 0.0033 — the 50-problem mean is better here (MAE 0.0004, Spearman 0.99): with
thousands of samples per problem, the subset mean is nearly exact and the bank's model error
dominates.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "monkeys"
COUNTS = DATA / "pythia_gsm8k_counts.csv"


@pytest.mark.realdata
def test_pythia_gsm8k_calibrate_then_score_from_50_problems():
    if not COUNTS.exists():
        pytest.skip(f"real data not available: {COUNTS} (the shared data folder is beside the project in CI)")
    df = irsl.read_counts(COUNTS)
    rng = np.random.default_rng(0)
    held_out = rng.choice(sorted(df["model"].unique()), 20, replace=False)
    calib = df[~df["model"].isin(held_out)]
    held = df[df["model"].isin(held_out)]
    # problems (almost) never solved by any calibration checkpoint have no finite difficulty: the
    # fit says so (NaN standard errors with a warning), and they stay in the bank as "very hard"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bank = irsl.calibrate(calib, successes="successes", trials="trials",
                              family="beta_binomial", n_threads=1)
    messages = [str(w.message) for w in caught]
    assert all(issubclass(w.category, irsl.IRSLWarning) for w in caught), messages
    assert any("singular information" in m for m in messages)
    totals = calib.groupby("question")[["successes", "trials"]].sum()
    rate = totals["successes"] / totals["trials"]
    flagged = bank.items.index[bank.items["d_se"].isna()]
    assert len(flagged) and (rate[flagged] < 1e-4).all(), rate[flagged]
    assert bank.family == "beta_binomial" and len(bank.questions) == calib["question"].nunique()
    problems = rng.choice(np.asarray(bank.questions), 50, replace=False)
    subset = held[held["question"].isin(problems)]
    est = bank.score(subset, successes="successes", trials="trials", method="eap")
    assert set(est.index) == set(held_out)
    assert (est["n"] <= 50).all() and np.isfinite(est[["theta", "se"]].to_numpy()).all()
    forecast = pd.Series(bank.expected_score(est["theta"].to_numpy()), index=est.index)
    truth = held.assign(rate=held["successes"] / held["trials"]).groupby("model")["rate"].mean()
    truth = truth[forecast.index]
    assert irsl.rank_correlation(forecast, truth) >= 0.9
    assert irsl.mean_absolute_error(forecast, truth) <= 0.5 * truth.mean()
