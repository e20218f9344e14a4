"""Cross-benchmark forecasts on real data (issue: cross-benchmark forecasting).

1. Pythia checkpoints on GSM8K and MATH (sample counts, ``monkeys/``): 5-fold over checkpoints;
   calibrate per-benchmark abilities (beta-binomial) on the training checkpoints, forecast each
   test checkpoint's MATH mean pass rate from its GSM8K counts only. Baselines: logit-linear
   regression of MATH on the GSM8K mean pass rate and on log compute. Target: IRSL has the
   lowest MAE.
2. Observational-scaling-laws table (``obsscaling/base_llm_benchmark_eval.csv``, 124 complete
   models x 8 benchmarks, one Beta response per benchmark): 5-fold over models, every benchmark
   held out in turn and forecast from the other seven. Baselines: OLS on the other benchmarks,
   3-component PCA + logit regression. Target: the multidimensional model with D chosen by BIC
   reaches MAE <= 0.036 and beats PCA.

Run: ``python benchmarks/cross_benchmark.py [--data DIR] [--only pythia|obsscaling]``.
The data directory defaults to ``../shared/data`` next to the repository.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from irsl_stats.crossval import holdout_benchmark_study, mae_table, stack_benchmarks, transfer_study

OBS_BENCHMARKS = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"]


def load_pythia(root: Path):
    g = pd.read_csv(root / "monkeys" / "pythia_gsm8k_counts.csv")
    m = pd.read_csv(root / "monkeys" / "pythia_math_counts.csv")
    ck = pd.read_csv(root / "monkeys" / "pythia_checkpoints.csv").set_index("model")
    data = stack_benchmarks({"GSM8K": g, "MATH": m})
    # float: 6 N D overflows int64 for the largest checkpoints
    compute = 6.0 * ck["Parameters"].astype(float) * ck["Tokens"].astype(float)
    return data, compute


def load_obsscaling(root: Path) -> pd.DataFrame:
    raw = pd.read_csv(root / "obsscaling" / "base_llm_benchmark_eval.csv")
    wide = raw.dropna(subset=OBS_BENCHMARKS).set_index("Model")[OBS_BENCHMARKS]
    return wide


def run_pythia(root: Path, folds: int, seed: int, n_threads, irt: str = "1pl",
               discrimination_prior=None, max_iter=None) -> bool:
    data, compute = load_pythia(root)
    t0 = time.perf_counter()
    rows = {}
    for ability in ("per_benchmark", "shared"):
        extra = {} if irt == "1pl" else dict(discrimination_prior=discrimination_prior, max_iter=max_iter)
        table = transfer_study(data, "GSM8K", "MATH", successes="n_correct", trials="n_samples",
                               compute=compute, folds=folds, seed=seed, ability=ability,
                               n_threads=n_threads, irt=irt, **extra)
        mae = mae_table(table, ["irsl", "irsl_mean", "on_source", "on_compute"]).iloc[0]
        cover = float(((table["truth"] >= table["irsl_lower"]) & (table["truth"] <= table["irsl_upper"])).mean())
        rows[ability] = dict(irsl=mae["irsl"], irsl_mean=mae["irsl_mean"], on_gsm8k=mae["on_source"],
                             on_compute=mae["on_compute"], coverage=cover, models=len(table))
    out = pd.DataFrame(rows).T
    print(f"\nPythia GSM8K -> MATH mean pass rate ({folds}-fold over checkpoints, {irt.upper()}"
          + (f", discrimination prior {discrimination_prior}" if irt == "2pl" else "")
          + f", {time.perf_counter() - t0:.0f} s)")
    print(f"mean MATH pass rate of the test checkpoints: {table['truth'].mean():.5f}")
    print("irsl = median of the predictive distribution of the MATH mean pass rate (the point forecast "
          "for absolute error); irsl_mean = posterior mean of the expected rate; coverage = share of 95% "
          "prediction intervals containing the observed rate")
    print(out.to_string(float_format=lambda v: f"{v:.6f}"))
    best = out.loc["per_benchmark"]
    ok = best["irsl"] < min(best["on_gsm8k"], best["on_compute"])
    print(f"IRSL (per-benchmark abilities) lowest MAE: {'PASS' if ok else 'FAIL'} "
          f"({best['irsl']:.6f} vs {best['on_gsm8k']:.6f} on GSM8K, {best['on_compute']:.6f} on compute)")
    return bool(ok)


def run_obsscaling(root: Path, folds: int, seed: int, n_threads, max_dims: int) -> bool:
    wide = load_obsscaling(root)
    t0 = time.perf_counter()
    table = holdout_benchmark_study(wide, folds=folds, seed=seed, dims="auto", max_dims=max_dims,
                                    n_threads=n_threads, verbose=True)
    per = mae_table(table, ["irsl", "irsl_mean", "ols", "pca"], by="benchmark")
    overall = mae_table(table, ["irsl", "irsl_mean", "ols", "pca"]).iloc[0]
    cover = float(((table["truth"] >= table["irsl_lower"]) & (table["truth"] <= table["irsl_upper"])).mean())
    print(f"\nObservational scaling table: {len(wide)} models x {wide.shape[1]} benchmarks, {folds}-fold, "
          f"{time.perf_counter() - t0:.0f} s; D chosen per fold by BIC: {sorted(table.groupby('fold')['dims'].first().tolist())}")
    print(per.to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"overall MAE: IRSL {overall['irsl']:.4f} (posterior mean {overall['irsl_mean']:.4f}), OLS {overall['ols']:.4f}, PCA+logit {overall['pca']:.4f}; "
          f"IRSL 95% interval coverage {cover:.3f}")
    ok = overall["irsl"] <= 0.036 and overall["irsl"] < overall["pca"]
    print(f"target MAE <= 0.036 and below PCA: {'PASS' if ok else 'FAIL'}")
    return bool(ok)


def main() -> None:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default)
    ap.add_argument("--only", choices=["pythia", "obsscaling"])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-threads", type=int, default=1)
    ap.add_argument("--max-dims", type=int, default=3,
                    help="largest D tried by BIC (D = 4 takes ~10x longer per fit and has the larger "
                         "BIC in every fold)")
    ap.add_argument("--irt", choices=["1pl", "2pl"], default="1pl",
                    help="IRT model of the Pythia transfer (2PL with --discrimination-prior 1.0 and "
                         "--max-iter 600: MAE 0.000727 vs 0.000763 for 1PL, ~6 min per ability model)")
    ap.add_argument("--discrimination-prior", type=float, default=1.0,
                    help="SD of the log-normal prior on the 2PL loadings (Pythia transfer)")
    ap.add_argument("--max-iter", type=int, default=None,
                    help="EM iterations per 2PL fit (the per-benchmark 2PL EM converges slowly on counts "
                         "with thousands of samples per question)")
    args = ap.parse_args()
    if not args.data.exists():
        raise SystemExit(f"data directory not found: {args.data} (pass --data)")
    results = {}
    if args.only in (None, "pythia"):
        results["pythia"] = run_pythia(args.data, args.folds, args.seed, args.n_threads, args.irt,
                                       args.discrimination_prior, args.max_iter)
    if args.only in (None, "obsscaling"):
        results["obsscaling"] = run_obsscaling(args.data, args.folds, args.seed, args.n_threads, args.max_dims)
    print("\n" + ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in results.items()))


if __name__ == "__main__":
    main()
