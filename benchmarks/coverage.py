"""Coverage of the 95% interval of the scaling slope, by simulation.

For each replicate: simulate a 2PL Beta-IRT data set whose abilities follow
``theta = beta0 + beta1 log(compute) + family effects + sigma u``, fit
``ability ~ log(compute) + family`` by JML and by MML, and check whether the 95% interval of the
``log(compute)`` coefficient covers the true slope *on the fit's identified scale* (population
convention: the true slope divided by the true SD of the latent distribution over the same models,
``sqrt(var(x' beta) + sigma^2)``). Prints the coverage per method with its binomial standard error
and the mean bias in standard-error units.

Usage::

    python benchmarks/coverage.py --reps 200 --models 150 --questions 150
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import irsl_stats as irsl

FORMULA = "ability ~ log(compute) + family"


def replicate(seed: int, n_models: int, n_questions: int, methods, n_threads=None, **sim_kwargs):
    sim = irsl.simulate.irt(n_models=n_models, n_questions=n_questions, seed=seed, **sim_kwargs)
    truth = sim.population_scale_truth()["log(compute)"]
    out = {}
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", irsl.IRSLWarning)
            res = irsl.fit(FORMULA, data=sim.responses, models=sim.models, method=method,
                           n_threads=n_threads)
        est = res.params["log(compute)"]
        se = res.bse["log(compute)"]
        lo, hi = res.conf_int(0.05).loc["log(compute)"]
        out[method] = (lo <= truth <= hi, (est - truth) / se, res.converged)
    return out


def run(reps: int, n_models: int, n_questions: int, methods, seed0: int = 1000, verbose=True, **sim_kwargs):
    """Coverage per method: dict method -> (coverage, mean z, share converged)."""
    hits = {m: [] for m in methods}
    zs = {m: [] for m in methods}
    conv = {m: [] for m in methods}
    t0 = time.perf_counter()
    for r in range(reps):
        res = replicate(seed0 + r, n_models, n_questions, methods, **sim_kwargs)
        for m in methods:
            hits[m].append(res[m][0])
            zs[m].append(res[m][1])
            conv[m].append(res[m][2])
        if verbose and (r + 1) % 20 == 0:
            msg = "  ".join(f"{m}: {np.mean(hits[m]):.3f}" for m in methods)
            print(f"  {r + 1:4d} replicates, {time.perf_counter() - t0:7.1f} s  coverage {msg}", flush=True)
    return {m: (float(np.mean(hits[m])), float(np.mean(zs[m])), float(np.std(zs[m])), float(np.mean(conv[m])))
            for m in methods}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--models", type=int, default=150)
    ap.add_argument("--questions", type=int, default=150)
    ap.add_argument("--methods", default="jml,mml")
    ap.add_argument("--phi", type=float, default=15.0, help="median question precision")
    ap.add_argument("--slope", type=float, default=0.35, help="true slope per unit log compute")
    args = ap.parse_args()
    methods = args.methods.split(",")
    print(f"coverage of the 95% interval of the log(compute) slope: {args.reps} replicates of "
          f"{args.models} models x {args.questions} questions (2PL beta, item precision)")
    out = run(args.reps, args.models, args.questions, methods, phi_median=args.phi, beta=(0.0, args.slope))
    ok = True
    for m, (cov, z, zsd, conv) in out.items():
        se = np.sqrt(cov * (1 - cov) / args.reps)
        passed = 0.92 <= cov <= 0.98
        ok &= passed
        print(f"{m.upper()}: coverage {cov:.3f} (binomial SE {se:.3f}), (est-truth)/se: mean {z:+.3f} sd {zsd:.3f}, "
              f"converged {conv:.3f}  -> {'PASS' if passed else 'FAIL'} (target 0.92-0.98)")
    print("ALL PASS" if ok else "SOME FAIL")


if __name__ == "__main__":
    main()
