"""Efficient evaluation on simulated DataDecide-like data (issue #4, items 7-8).

Per seed: ``irsl.simulate.pretraining`` (25 recipes x 14 sizes 4M-1B x 2 checkpoints, 10 OLMES
benchmarks x ``--questions`` questions, 100 tokens per parameter); ``--n-calibration`` random
recipes calibrate the questions (JML, ``ability ~ 1``); the other recipes are held out and
answer only ``k`` questions per benchmark (the same ones for all their models), chosen by each
strategy (random / stratified / information). See :mod:`irsl_stats.evaluation` for the methods.

(A) ``estimand="score"``: each held-out model's full-benchmark score (the mean of its responses
    over all questions of the benchmark) from its k-question answers: IRSL (EAP ability ->
    expected score over the benchmark's calibrated questions) vs the naive k-question mean;
    ``irsl_known`` uses the true question parameters. Decision accuracy ranks the held-out
    recipes by the estimates for their target models (1B, final checkpoint).
(B) ``estimand="forecast"``: the target model's full-benchmark score forecast from the recipe's
    smaller models (FLOPs <= ratio x target FLOPs), vs the naive k-question mean of the largest
    model used and the traditional logit-linear extrapolation of the k-question means.

Acceptance (item 8), with the same 50 random questions per benchmark, over the seeds:
  1. mean MAE of IRSL (A) at least 30% below the naive 50-question mean's;
  2. mean decision accuracy at the target size (A) higher than the naive mean's.

Usage::

    python benchmarks/efficient_eval.py [--seeds 5] [--questions 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

from irsl_stats import evaluation as ev


def fmt_table(frame: pd.DataFrame) -> str:
    return frame.to_string(float_format=lambda v: f"{v:.4f}")


def score_table(study: ev.SubsetStudy) -> pd.DataFrame:
    """(A) summary, one row per strategy x k: MAE and decision accuracy per method, and the MAE
    reduction ``1 - MAE / MAE(naive)`` of IRSL with calibrated and with known questions."""
    wide = study.summary("score")[["mae", "decision_accuracy"]].unstack("method")
    out = pd.DataFrame(index=wide.index)
    for (stat, meth) in wide.columns:
        out[f"{'mae' if stat == 'mae' else 'da'}_{meth}"] = wide[(stat, meth)]
    out["reduction_irsl"] = 1 - out["mae_irsl"] / out["mae_naive"]
    out["reduction_known"] = 1 - out["mae_irsl_known"] / out["mae_naive"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--questions", type=int, default=300, help="questions per benchmark")
    ap.add_argument("--recipes", type=int, default=25)
    ap.add_argument("--n-calibration", type=int, default=10)
    ap.add_argument("--ks", type=int, nargs="+", default=[10, 25, 50, 100])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--truth", choices=("observed", "expected"), default="observed",
                    help="full-benchmark truth: mean of all responses, or the simulator's expected score")
    args = ap.parse_args()
    warnings.simplefilter("error")  # nothing may warn silently in the benchmark

    t0 = time.perf_counter()
    study = ev.subset_study(
        list(range(args.seeds)), n_calibration=args.n_calibration,
        simulation=dict(n_recipes=args.recipes, questions_per_benchmark=args.questions),
        ks=tuple(args.ks), strategies=ev.STRATEGIES, n_threads=args.threads, truth=args.truth,
    )
    seconds = time.perf_counter() - t0
    res = study.results
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 1000)
    pd.set_option("display.max_columns", 50)

    print(f"efficient evaluation: {args.seeds} seeds, {args.recipes} recipes ({args.n_calibration} "
          f"calibration), 10 benchmarks x {args.questions} questions, truth={args.truth}, "
          f"{seconds:.1f} s\n")
    print("question reduction (k per benchmark):")
    print(fmt_table(study.reduction), "\n")

    # ---------------------------------------------------------------- (A) measure
    print("(A) full-benchmark score of every held-out model from k questions per benchmark "
          "(mean over seeds; MAE over models x benchmarks; decision accuracy over held-out recipes "
          "at the target size, mean over benchmarks; reduction = 1 - MAE / MAE of the naive mean):")
    print(fmt_table(score_table(study)), "\n")

    # ---------------------------------------------------------------- (B) forecast
    b = study.summary("forecast")
    order = ["irsl", "irsl_pooled", "irsl_known", "naive_largest", "logit_linear", "logit_linear_full"]
    for strategy in ev.STRATEGIES:
        sub = b.xs(strategy, level="strategy").xs(50, level="k") if 50 in args.ks else None
        if sub is None:
            break
        print(f"(B) forecast of the target (1B, final) full-benchmark score, {strategy} 50 questions per "
              "benchmark, vs ratio = largest FLOPs used / target FLOPs (mean over seeds):")
        mae = sub["mae"].unstack("method")[order]
        da = sub["decision_accuracy"].unstack("method")[order]
        print("  MAE")
        print(fmt_table(mae))
        print("  decision accuracy")
        print(fmt_table(da), "\n")
    print("(B) decision accuracy by strategy and k, mean over the ratios of the sweep:")
    agg = (b.reset_index().groupby(["strategy", "k", "method"])["decision_accuracy"].mean()
           .unstack("method")[order])
    print(fmt_table(agg), "\n")

    # ---------------------------------------------------------------- no borrowing across benchmarks
    t1 = time.perf_counter()
    per = ev.subset_study(
        list(range(args.seeds)), n_calibration=args.n_calibration,
        simulation=dict(n_recipes=args.recipes, questions_per_benchmark=args.questions),
        ks=tuple(args.ks), strategies=("random",), law="recipe", ability="per_benchmark",
        n_threads=args.threads, truth=args.truth,
    )
    print(f"(A) as above, random questions, but one ability per benchmark (each benchmark's score from "
          f"its own k answers only; {time.perf_counter() - t1:.1f} s):")
    print(fmt_table(score_table(per)), "\n")

    # ---------------------------------------------------------------- acceptance
    gain = study.gain(k=50, strategy="random")
    print("per seed, random 50 questions per benchmark (A):")
    print(fmt_table(gain), "\n")
    mae_red = 1 - gain["mae_irsl"].mean() / gain["mae_naive"].mean()
    da_i, da_n = gain["da_irsl"].mean(), gain["da_naive"].mean()
    pg = per.gain(k=50, strategy="random")
    mae_red_per = 1 - pg["mae_irsl"].mean() / pg["mae_naive"].mean()
    ok1 = mae_red >= 0.30
    ok2 = da_i > da_n
    print(f"[{'PASS' if ok1 else 'FAIL'}] MAE reduction of IRSL vs the naive 50-question mean: "
          f"{mae_red:.1%} (target >= 30%; per seed {gain['mae_reduction'].min():.1%}-"
          f"{gain['mae_reduction'].max():.1%})")
    print(f"[{'PASS' if ok2 else 'FAIL'}] decision accuracy at the target size: IRSL {da_i:.3f} > "
          f"naive {da_n:.3f}")
    print(f"[info] one ability per benchmark: MAE reduction {mae_red_per:.1%}, decision accuracy "
          f"IRSL {pg['da_irsl'].mean():.3f} vs naive {pg['da_naive'].mean():.3f}")
    fb = res[(res.estimand == "forecast") & (res.k == 50) & (res.strategy == "random")]
    per = fb.groupby("method")["decision_accuracy"].mean()
    print("[info] (B) random 50, decision accuracy averaged over the ratio sweep: "
          + ", ".join(f"{m} {per[m]:.3f}" for m in order))
    return 0 if (ok1 and ok2) else 1


if __name__ == "__main__":
    raise SystemExit(main())
