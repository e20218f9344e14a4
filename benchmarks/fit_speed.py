"""Speed and memory of scaling-law fits (2PL Beta, per-question precision, 2 threads).

Targets (issue: fits, requirement 11):

* 2,000 models x 10,000 questions (20 M responses): JML <= 60 s, MML <= 180 s;
* the paper's pre-training scale, 6,612 checkpoints x 37,682 questions (249 M responses): JML
  <= 15 minutes with peak memory <= 12 GB (``--full``; the data are generated in blocks of models
  straight into the kernel's arrays, never as a DataFrame).

Times are for ``irsl.fit`` end to end (validation, estimation, standard errors), measured in the
same run as a reference: one kernel pass over the same data, so the ratio (fit time / pass time)
says how many pass-equivalents a fit costs whatever the machine's speed.

Usage::

    python benchmarks/fit_speed.py            # 2,000 x 10,000, JML and MML
    python benchmarks/fit_speed.py --full     # adds 6,612 x 37,682 JML (needs ~10 GB, ~15 min)
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
import pandas as pd

import irsl_stats as irsl
from irsl_stats import _kernel
from irsl_stats.data import ResponseData

FORMULA = "ability ~ log(compute) + family"


def peak_gb() -> float:
    """Peak resident memory of this process so far (GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def response_data_in_blocks(n_models: int, n_questions: int, chunk_size: int = 64, seed: int = 0):
    """Simulate straight into preallocated int32/float64 arrays (sorted by model) and wrap them in
    a :class:`ResponseData` without copies."""
    chunks = irsl.simulate.irt_chunks(n_models=n_models, n_questions=n_questions,
                                      chunk_size=chunk_size, seed=seed)
    n = n_models * n_questions
    model = np.empty(n, np.int32)
    item = np.empty(n, np.int32)
    y = np.empty(n, np.float64)
    pos = 0
    for block in chunks.iter_arrays():
        k = block["y"].size
        model[pos:pos + k] = block["model"]
        item[pos:pos + k] = block["question"]
        y[pos:pos + k] = block["y"]
        pos += k
    assert pos == n
    rd = ResponseData(model, item, y, family="beta",
                      model_labels=pd.Index(chunks.models["model"].astype(str)),
                      item_labels=pd.Index(chunks.items["question"].astype(str)))
    models = chunks.models.assign(model=chunks.models["model"].astype(str))
    truth = dict(theta=chunks.models["theta"].to_numpy(), a=chunks.items["a"].to_numpy(),
                 d=chunks.items["d"].to_numpy(), log_phi=np.log(chunks.items["phi"].to_numpy()))
    return rd, models, truth


def one_pass_seconds(rd, truth, n_threads: int) -> float:
    """One full kernel pass (log-likelihood, all gradients and Hessian blocks) at the true
    parameters (realistic spread of mu and phi, so the special functions do realistic work)."""
    kd = _kernel.KernelData(rd.model, rd.item, rd.y, n_models=rd.n_models, n_items=rd.n_items,
                            family="beta", n_threads=n_threads)
    theta, a, d, log_phi = truth["theta"][:, None], truth["a"][:, None], truth["d"], truth["log_phi"]
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        _kernel.accumulate(kd, theta, a, d, log_phi, n_threads=n_threads)
        best = min(best, time.perf_counter() - t0)
    return best


def timed_fit(rd, models, method: str, n_threads: int, tol: float, verbose: bool):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        res = irsl.fit(FORMULA, data=rd, models=models, method=method, n_threads=n_threads,
                       tol=tol, verbose=verbose)
    return time.perf_counter() - t0, res


def report(label: str, seconds: float, res, pass_s: float, target: float) -> bool:
    ok = seconds <= target
    print(f"{label}: {seconds:7.1f} s (target <= {target:.0f} s) {'PASS' if ok else 'FAIL'}; "
          f"converged={res.converged}, iterations={res.n_iter}, kernel passes={res.n_kernel_passes}, "
          f"= {seconds / pass_s:.0f} pass-equivalents of {pass_s:.2f} s; peak memory {peak_gb():.2f} GB",
          flush=True)
    print(f"    log(compute) = {res.params['log(compute)']:.5f} (se {res.bse['log(compute)']:.5f}), "
          f"sigma = {res.params['sigma']:.4f}", flush=True)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", type=int, default=2000)
    ap.add_argument("--questions", type=int, default=10000)
    ap.add_argument("--full", action="store_true", help="also the 6,612 x 37,682 JML fit")
    ap.add_argument("--only-full", action="store_true", help="only the 6,612 x 37,682 JML fit")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="convergence tolerance (Newton step in standard-error units)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    print(f"build: {irsl.build_info()}")
    ok = True
    if not args.only_full:
        t0 = time.perf_counter()
        rd, models, truth = response_data_in_blocks(args.models, args.questions)
        print(f"simulated {args.models} x {args.questions} = {rd.nobs / 1e6:.0f} M responses in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        pass_s = one_pass_seconds(rd, truth, args.threads)
        print(f"one kernel pass (all blocks): {pass_s:.2f} s = {rd.nobs / pass_s / 1e6:.1f} M obs/s", flush=True)
        s, res = timed_fit(rd, models, "jml", args.threads, args.tol, args.verbose)
        ok &= report("JML", s, res, pass_s, 60)
        s, res = timed_fit(rd, models, "mml", args.threads, args.tol, args.verbose)
        ok &= report("MML", s, res, pass_s, 180)
        del rd, models, res, truth
    if args.full or args.only_full:
        t0 = time.perf_counter()
        rd, models, truth = response_data_in_blocks(6612, 37682, chunk_size=32)
        print(f"simulated 6,612 x 37,682 = {rd.nobs / 1e6:.0f} M responses in "
              f"{time.perf_counter() - t0:.1f} s; peak memory {peak_gb():.2f} GB", flush=True)
        pass_s = one_pass_seconds(rd, truth, args.threads)
        print(f"one kernel pass: {pass_s:.1f} s = {rd.nobs / pass_s / 1e6:.1f} M obs/s", flush=True)
        s, res = timed_fit(rd, models, "jml", args.threads, args.tol, args.verbose)
        ok &= report("JML 6,612 x 37,682", s, res, pass_s, 900)
        mem_ok = peak_gb() <= 12
        print(f"peak memory {peak_gb():.2f} GB (target <= 12 GB) {'PASS' if mem_ok else 'FAIL'}")
        ok &= mem_ok
    print("ALL PASS" if ok else "SOME FAIL")


if __name__ == "__main__":
    main()
