"""Coverage of the intervals built on a calibrated item bank, by simulation.

A bank's ability standard errors, and the score and pass@k intervals built on them, take the
questions as known. This script measures what that costs, for the README's statements.

``--what score``: calibrate a 2PL bank (MML, ``ability ~ 1``) on ``--calib`` simulated models for
each family, score ``--new`` new models on ``--asked`` of its questions by every method, and check
whether ``theta +- 1.96 se`` covers the true ability on the bank's scale. The bank's scale is the
generating scale up to an affine map, estimated from the questions (``a* = s a``,
``d* = d + l a``: least squares over all questions), so the truth is ``(theta - l) / s``.

``--what passk``: for each calibration size in ``--calib``, calibrate a 2PL beta-binomial bank on
that many models (``--trials`` samples per question), score ``--new`` new models by EAP, and check
whether the 95% intervals of ``bank.forecast_pass_at_k(theta, ks, se=se)`` (questions taken as
known, and with ``item_uncertainty=True``: the questions drawn too) cover the true expected
pass@k (the mean over questions of ``1 - B(alpha, beta + k) / B(alpha, beta)`` at the true
ability and questions; invariant to the scale). The same with a bank of the true questions
(known questions: the reference), and the median ratio of the calibrated precisions to the true
ones. Coverage is given with its Monte Carlo standard error over replicates.

Usage::

    python benchmarks/bank_coverage.py --what score --calib 1000 --new 400
    python benchmarks/bank_coverage.py --what passk --calib 150,50,20 --reps 30
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy.special import betaln, expit

import irsl_stats as irsl

FAMILIES = ("beta", "bernoulli", "binomial", "beta_binomial")
METHODS = ("ml", "wle", "eap", "map")
Z95 = 1.959963984540054


def _columns(family: str) -> dict:
    if family in ("binomial", "beta_binomial"):
        return dict(successes="successes", trials="trials", response=None)
    return dict(response="y")


def _bank_scale(bank, true_items: pd.DataFrame):
    """(l, s) of the affine map from the generating scale to the bank's: a* = s a, d* = d + l a."""
    it = bank.items.loc[true_items.index]
    a, d = true_items["a"].to_numpy(), true_items["d"].to_numpy()
    s = float(np.dot(it["a"].to_numpy(), a) / np.dot(a, a))
    loc = float(np.dot(it["d"].to_numpy() - d, a) / np.dot(a, a))
    return loc, s


def score_coverage(args) -> pd.DataFrame:
    rows = []
    for family in FAMILIES:
        t0 = time.perf_counter()
        sim = irsl.simulate.irt(n_models=args.calib + args.new, n_questions=args.questions, family=family,
                                seed=args.seed)
        models = sim.models["model"].to_numpy()
        cal = sim.responses[sim.responses["model"].isin(models[:args.calib])]
        new = sim.responses[sim.responses["model"].isin(models[args.calib:])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", irsl.IRSLWarning)
            bank = irsl.calibrate(cal, family=family, n_threads=args.n_threads, **_columns(family))
        truth_items = sim.items.set_index("question")
        loc, s = _bank_scale(bank, truth_items)
        asked = bank.select(args.asked, strategy="stratified", by=None, seed=args.seed)
        new = new[new["question"].isin(asked)]
        theta = sim.models.set_index("model")["theta"]
        for method in METHODS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", irsl.IRSLWarning)  # all-extreme models under ML
                est = bank.score(new, method=method, n_threads=args.n_threads, **_columns(family))
            truth = (theta.loc[est.index] - loc) / s
            hit = (np.abs(est["theta"] - truth) <= Z95 * est["se"]).to_numpy()
            cov = float(hit.mean())
            rows.append(dict(family=family, method=method, coverage=cov,
                             mcse=float(np.sqrt(cov * (1 - cov) / len(hit))),
                             bias=float((est["theta"] - truth).mean()), seconds=time.perf_counter() - t0))
        print(f"{family}: calibrated on {args.calib} models (scale a* = {s:.3f} a, shift {loc:+.3f})",
              flush=True)
    return pd.DataFrame(rows)


def passk_coverage(args) -> pd.DataFrame:
    ks = np.array([int(k) for k in args.ks.split(",")])
    rows = []
    for n_calib in (int(c) for c in args.calib_list.split(",")):
        t0 = time.perf_counter()
        for rep in range(args.reps):
            sim = irsl.simulate.irt(n_models=n_calib + args.new, n_questions=args.questions,
                                    family="beta_binomial", n_trials=args.trials, seed=args.seed + rep)
            truth_items = sim.items.set_index("question")
            models = sim.models["model"].to_numpy()
            cal = sim.responses[sim.responses["model"].isin(models[:n_calib])]
            new = sim.responses[sim.responses["model"].isin(models[n_calib:])]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", irsl.IRSLWarning)
                fitted = irsl.calibrate(cal, family="beta_binomial", n_threads=args.n_threads,
                                        **_columns("beta_binomial"))
            known = irsl.ItemBank(truth_items[["a", "d", "phi"]], family="beta_binomial")
            theta = sim.models.set_index("model")["theta"]
            phi_ratio = float(np.median(fitted.items.loc[truth_items.index, "phi"] / truth_items["phi"]))
            for name, bank, draws in (("calibrated", fitted, False), ("calibrated, item_uncertainty", fitted, True),
                                      ("known questions", known, False)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", irsl.IRSLWarning)
                    est = bank.score(new, method="eap", n_threads=args.n_threads, **_columns("beta_binomial"))
                    fc = bank.forecast_pass_at_k(est["theta"], ks, se=est["se"], item_uncertainty=draws,
                                                 n_draws=args.draws, seed=rep)
                mu = expit(np.outer(theta.loc[est.index], truth_items["a"]) + truth_items["d"].to_numpy())
                alpha, beta = mu * truth_items["phi"].to_numpy(), (1 - mu) * truth_items["phi"].to_numpy()
                for k in ks:
                    true = (1.0 - np.exp(betaln(alpha, beta + k) - betaln(alpha, beta))).mean(axis=1)
                    at_k = fc[fc["k"] == k]
                    hit = (at_k["lower"].to_numpy() <= true) & (true <= at_k["upper"].to_numpy())
                    rows.append(dict(calib=n_calib, bank=name, k=int(k), rep=rep, coverage=float(hit.mean()),
                                     phi_ratio=phi_ratio if bank is fitted else 1.0))
        print(f"{n_calib} calibration models: {args.reps} replicates [{time.perf_counter() - t0:.0f} s]",
              flush=True)
    df = pd.DataFrame(rows)
    g = df.groupby(["calib", "bank", "k"], sort=False)
    return pd.DataFrame({"coverage": g["coverage"].mean(),
                         "mcse": g["coverage"].std() / np.sqrt(g.size()),
                         "median_phi_ratio": g["phi_ratio"].median()}).reset_index()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--what", choices=("score", "passk"), default="score")
    ap.add_argument("--calib", dest="calib_list", default=None,
                    help="calibration models (score: one number, default 1000; passk: a list, default "
                         "150,50,20)")
    ap.add_argument("--new", type=int, default=None, help="new models scored (default 400 / 100)")
    ap.add_argument("--questions", type=int, default=None, help="questions in the bank (default 100 / 50)")
    ap.add_argument("--asked", type=int, default=50, help="score: questions each new model answers")
    ap.add_argument("--trials", type=int, default=50, help="passk: samples per question")
    ap.add_argument("--ks", default="1,10,100,1000")
    ap.add_argument("--reps", type=int, default=30, help="passk: replicates per calibration size")
    ap.add_argument("--draws", type=int, default=400, help="passk: draws of item_uncertainty=True")
    ap.add_argument("--seed", type=int, default=17000)
    ap.add_argument("--n-threads", type=int, default=None)
    args = ap.parse_args(argv)
    pd.set_option("display.width", 160)
    t0 = time.perf_counter()
    if args.what == "score":
        args.calib = int(args.calib_list or 1000)
        args.new = args.new or 400
        args.questions = args.questions or 100
        out = score_coverage(args)
        print(f"\nbank.score 95% interval coverage, {args.new} new models x {args.asked} questions each "
              f"(MC SE ~ {np.sqrt(0.95 * 0.05 / args.new):.3f}):")
        print(out.pivot(index="method", columns="family", values="coverage").round(3).to_string())
    else:
        args.calib_list = args.calib_list or "150,50,20"
        args.new = args.new or 100
        args.questions = args.questions or 50
        out = passk_coverage(args)
        print(f"\npass@k 95% interval coverage ({args.new} new models scored by EAP on all {args.questions} "
              f"questions, {args.trials} samples each; {args.reps} replicates):")
        print(out.round(4).to_string(index=False))
    print(f"[{time.perf_counter() - t0:.0f} s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
