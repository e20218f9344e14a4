"""Speed of scoring new models against an item bank (issue: item bank, requirement 2).

Target: 10,000 new models x 50 questions (500,000 responses) scored in under 1 s, end to end
(``bank.score``: validation of the long table, kernel passes, the DataFrame of results).

The bank is calibrated on a small simulation (200 models x 500 questions, 2PL Beta with
per-question precision); 50 questions are chosen by ``bank.select(..., "stratified")``; the new
models' responses are drawn from the bank's own parameters. Each method is timed as the best of
``--repeat`` runs.

Usage::

    python benchmarks/bank_scoring.py [--models 10000] [--questions 50] [--threads N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import special

import irsl_stats as irsl
from irsl_stats.bank import ItemBank, calibrate


def new_responses(bank: ItemBank, questions: pd.Index, n_models: int, seed: int = 0) -> pd.DataFrame:
    """Beta responses of ``n_models`` new models with abilities ~ N(0, 1) on the bank's scale."""
    rng = np.random.default_rng(seed)
    it = bank.items.loc[questions]
    theta = rng.standard_normal(n_models)
    mu = special.expit(np.outer(theta, it["a"].to_numpy()) + it["d"].to_numpy())
    phi = it["phi"].to_numpy()
    y = rng.beta(mu * phi, (1 - mu) * phi)
    y = np.clip(y, 1e-9, 1 - 1e-9)
    return pd.DataFrame({
        "model": np.repeat([f"new{i:05d}" for i in range(n_models)], len(questions)),
        "question": np.tile(np.asarray(questions, dtype=object), n_models),
        "y": y.ravel(),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--questions", type=int, default=50)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    sim = irsl.simulate.irt(n_models=200, n_questions=500, seed=0)
    t0 = time.perf_counter()
    bank = calibrate(sim.responses, n_threads=args.threads)
    print(f"calibration (200 x 500): {time.perf_counter() - t0:.2f} s")
    qs = bank.select(args.questions, strategy="stratified", by=None)
    data = new_responses(bank, qs, args.models)
    print(f"scoring {args.models:,} models x {len(qs)} questions ({len(data):,} responses), "
          f"threads={args.threads}")
    for method in ("ml", "map", "eap"):
        best = np.inf
        for _ in range(args.repeat):
            t = time.perf_counter()
            est = bank.score(data, method=method, n_threads=args.threads)
            best = min(best, time.perf_counter() - t)
        flag = "ok" if best < 1.0 else "SLOW (target < 1 s)"
        print(f"  {method:>3}: {best:.3f} s  [{flag}]  (mean se {est['se'].mean():.3f})")


if __name__ == "__main__":
    main()
