"""Test-time scaling acceptance: forecast each Pythia model's pass@k curve from 50 samples per problem.

Data: Pythia models x 128 MATH problems x 10,000 samples (Large Language Monkeys). For each model in
turn: calibrate the problems on the other models with all samples; keep ``--budget`` samples per
problem of the held-out model (without replacement, seeded); score it; forecast pass@k for every
k = 1..10,000; error = mean absolute error over all k against the held-out model's unbiased pass@k
from all 10,000 samples, averaged over models and seeds. Forecasts: the empirical per-problem plug-in
``1-(1-c/50)^k``, the model's plug-in ``1-(1-mu)^k``, the Beta expectation at the scored ability and
the Beta expectation averaged over the ability's uncertainty; for 1PL and 2PL and for the
beta-binomial family (counts) and beta on rates ``c/n`` (boundary policy ``--boundary`` in the
calibration; the held-out 50-sample counts are scored with the beta-binomial likelihood of the beta
bank, ``--likelihood auto``, because squeezing ``0 of 50`` to 0.01 collapses the ability).

Measured (3 seeds, default options, 89 s on 1 thread), Beta expectation / model plug-in:
beta-binomial 2PL with the log-normal discrimination prior (SD 1) **0.028** / 0.052; beta-binomial
1PL 0.044 / 0.106; beta on rates 1PL 0.078 / 0.141, 2PL 0.077 / 0.115. Unpenalised 2PL
(``--discrimination-prior none``): 0.051, the weakest model (70M) at 0.18. The reference-style
baseline (beta on squeezed rates, phi fixed at 10, 2PL, plug-in -- the published code) 0.384: 13.7x
the beta-binomial 2PL Beta expectation. The target's MAE is met by beta-binomial 2PL; its ratio to
its *own* plug-in is 1.8: a model whose means fit well has a good plug-in too. With the ability
scored from all 10,000 samples (``--budget 10000``): 2PL Beta 0.018 / plug-in 0.048 (ratio 2.6),
1PL 0.019 / 0.092 (4.8) -- the 1PL's 4x needs the ability almost exactly, which 50 samples of the
weakest models (4-5 successes in 6,400) do not give. The ceiling, ``--in-sample --budget 10000`` (the
bank calibrated on all seven models, each scored from all its samples: no forecasting at all, only
the fitted model's own description of the curves): beta-binomial 2PL 0.0113 / 0.0459 (ratio 4.07),
1PL 0.0168 / 0.0929 (5.5); beta on rates 2PL 0.066 / 0.118 (1.8), 1PL 0.054 / 0.130 (2.4). A 2PL
that describes the means well has a good plug-in too: 4x is the ratio of the fit itself, which
any forecast from other models and 50 samples can only lower.
``--score-method wle`` (Warm's weighted likelihood, bias-reduced ML) is worse for beta-binomial 1PL:
Beta 0.047, plug-in 0.109 (ML 0.044 / 0.106): it moves the weakest model (70M), already scored too
high from 50 samples, further up.

Target (issue 5): the Beta expectation's MAE <= 0.035 and at least 4x below the model plug-in's.

Run from the repository root::

    python benchmarks/test_time_forecast.py                  # 3 seeds, all variants (~2 min on 1 core)
    python benchmarks/test_time_forecast.py --seeds 1 --families beta_binomial --irts 1pl
    python benchmarks/test_time_forecast.py --budget-study   # also error vs samples per problem
    python benchmarks/test_time_forecast.py --in-sample --budget 10000 --seeds 1   # the ceiling
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import irsl_stats as irsl
from irsl_stats import testtime

DEFAULT_DATA = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "monkeys"
                / "pythia_final_math_10k_counts.csv")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="counts CSV (model, benchmark, problem, n_samples, n_correct); default: "
                        "../shared/data/monkeys/pythia_final_math_10k_counts.csv beside the repository")
    p.add_argument("--seeds", type=int, default=3, help="subsampling seeds 0..SEEDS-1")
    p.add_argument("--budget", type=int, default=50, help="samples per problem of the held-out model")
    p.add_argument("--families", default="beta_binomial,beta")
    p.add_argument("--irts", default="2pl,1pl")
    p.add_argument("--score-method", "--method", dest="method", default="ml", choices=("ml", "wle", "eap", "map"),
                   help="ability scoring of the held-out model (ItemBank.score): ml, wle (Warm's weighted "
                        "likelihood, bias-reduced), eap or map")
    p.add_argument("--precision", default="item",
                   help='precision model of the calibration: item, common or "~ <formula>"')
    p.add_argument("--precision-prior", default="auto",
                   help="SD of the shrinkage prior of the per-problem log precisions (auto, none or a number)")
    p.add_argument("--discrimination-prior", default=str(testtime.DEFAULT_DISCRIMINATION_PRIOR),
                   help="SD of the log-normal prior on the 2PL discriminations (a number or none)")
    p.add_argument("--likelihood", default="auto", choices=("auto", "bank", "beta_binomial", "binomial"),
                   help="likelihood of the held-out counts in the scoring (auto: beta-binomial for a beta bank "
                        "on rates, else the bank's family)")
    p.add_argument("--boundary", default="squeeze", choices=("squeeze", "clip"),
                   help="boundary policy of the beta family on rates")
    p.add_argument("--max-k", type=int, default=None, help="largest k (default: all samples)")
    p.add_argument("--target", type=float, default=0.035)
    p.add_argument("--ratio", type=float, default=4.0)
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="skip the reference-style baseline (beta on squeezed rates, phi fixed at 10, 2PL, "
                        "plug-in -- what the published code does)")
    p.add_argument("--budget-study", action="store_true",
                   help="also the sample-budget trade-off (10, 20, 50, 100, 200 samples per problem)")
    p.add_argument("--in-sample", action="store_true",
                   help="calibrate on all models, the held-out one included (a ceiling, not a forecast; with "
                        "--budget equal to the samples per problem: the error of the fitted model itself)")
    p.add_argument("--n-threads", type=int, default=None)
    args = p.parse_args(argv)
    prior = args.precision_prior
    prior = None if prior.lower() == "none" else (prior if prior == "auto" else float(prior))
    a_prior = None if args.discrimination_prior.lower() == "none" else float(args.discrimination_prior)
    if not args.data.exists():
        p.error(f"data not found: {args.data} (pass --data)")

    counts = irsl.read_counts(args.data)
    ks = None if args.max_k is None else range(1, args.max_k + 1)
    seeds = list(range(args.seeds))
    families = [f for f in args.families.split(",") if f]
    irts = [i for i in args.irts.split(",") if i]
    print(f"{args.data.name}: {counts['model'].nunique()} models x {counts['question'].nunique()} problems, "
          f"{int(counts['trials'].min())} samples; budget {args.budget}, seeds {seeds}, scoring {args.method!r}, "
          f"precision {args.precision!r} (prior {prior!r}), 2PL discrimination prior {a_prior!r}, "
          f"scoring likelihood {args.likelihood!r}" + ("; IN-SAMPLE calibration (a ceiling)" if args.in_sample else ""))
    t0 = time.perf_counter()
    studies, failures = [], []
    for fam in families:
        for irt in irts:
            try:
                studies.append(testtime.leave_one_model_out(
                    counts, budgets=[args.budget], seeds=seeds, ks=ks, families=[fam], irts=[irt],
                    method=args.method, precision=args.precision, precision_prior=prior,
                    discrimination_prior=a_prior, boundary=args.boundary, likelihood=args.likelihood, keep_curves=(fam, irt) == (families[0], irts[0]),
                    in_sample=args.in_sample, n_threads=args.n_threads,
                ))
            except (ValueError, RuntimeError) as exc:  # a variant that cannot be fitted is reported, not hidden
                failures.append((fam, irt, f"{type(exc).__name__}: {exc}"))
    reference = None
    if args.reference:
        # the published code: Beta IRT on the pass rates with phi fixed at 10, the held-out model
        # scored on its (squeezed) 50-sample rates, the plug-in 1-(1-mu)^k
        ref = testtime.leave_one_model_out(
            counts, budgets=[args.budget], seeds=seeds, ks=ks, families=["beta"], irts=["2pl"],
            method=args.method, precision=10.0, precision_prior=None, discrimination_prior=None,
            boundary=args.boundary, likelihood="bank", forecasts=("plugin",), in_sample=args.in_sample,
            n_threads=args.n_threads)
        reference = float(ref.errors["mae"].mean())
    elapsed = time.perf_counter() - t0
    if not studies:
        print("no variant could be fitted:", failures)
        return 1
    study = studies[0]
    errors = pd.concat([s.errors for s in studies], ignore_index=True)
    k_lo, k_hi = int(study.ks.min()), int(study.ks.max())
    table = testtime.study_summary(errors, target_mae=args.target, min_ratio=args.ratio)
    table["verdict"] = table["pass"].map({True: "PASS", False: "FAIL"})
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(f"\nMAE over k = {k_lo}..{k_hi}, mean over {table['n'].iloc[0]} (model, seed) pairs "
          f"[{elapsed:.0f} s]; target: beta <= {args.target} and plugin/beta >= {args.ratio}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if reference is not None:
        print(f"\nreference-style baseline (beta on squeezed rates, phi fixed at 10, 2PL, scored on the "
              f"{args.budget}-sample rates, plug-in): MAE {reference:.4f}; its ratio to each Beta expectation: "
              + ", ".join(f"{r.family} {r.irt} {reference / r.beta:.1f}x" for r in table.itertuples()))
    for fam, irt, msg in failures:
        print(f"{fam:>13} {irt}: FAIL (not fitted) -- {msg[:200]}")

    per_model = errors.pivot_table(index=["family", "irt", "model"], columns="forecast", values="mae",
                                         aggfunc="mean", sort=False)
    print("\nper held-out model (mean over seeds):")
    print(per_model.to_string(float_format=lambda v: f"{v:.3f}"))

    # power law of coverage, true curves vs the first variant's Beta forecast (seed 0)
    first = study.curves["seed"] == 0
    k_range = (10, k_hi)
    true_pl = testtime.power_law_fit(study.truth, k_range=k_range)
    fc_pl = testtime.power_law_fit(study.curves[first & (study.curves["forecast"] == "beta")], k_range=k_range)
    pl = true_pl[["model", "slope", "slope_se", "intercept"]].merge(
        fc_pl[["model", "slope", "slope_se", "intercept"]], on="model", suffixes=("_true", "_forecast"))
    print(f"\npower law log(-log pass@k) = intercept + slope log k over k in {k_range} "
          f"(true curve vs {families[0]} {irts[0]} Beta forecast, seed 0):")
    print(pl.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    warned = list(dict.fromkeys(w for s in studies for w in s.warnings))
    if warned:
        print(f"\n{len(warned)} distinct IRSL warning(s) during calibration/scoring, e.g.: {warned[0][:200]}")

    if args.budget_study:
        t0 = time.perf_counter()
        budget = testtime.sample_budget_study(
            counts, budgets=(10, 20, 50, 100, 200), seeds=seeds, ks=ks, families=families[:1], irts=irts[:1],
            method=args.method, precision=args.precision, precision_prior=prior,
            discrimination_prior=a_prior, boundary=args.boundary,
            likelihood=args.likelihood, n_threads=args.n_threads,
        )
        wide = budget.pivot_table(index="forecast", columns="budget", values="mae", sort=False)
        print(f"\nsample-budget trade-off ({families[0]} {irts[0]}), MAE vs samples per problem "
              f"[{time.perf_counter() - t0:.0f} s]:")
        print(wide.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
