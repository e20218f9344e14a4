"""SQUAREM against plain EM in the marginal-ML fits (``irsl_stats/acceleration.py``).

Each case is fitted twice in the same run, with SQUAREM (the default) and with plain EM (the EM
loop told not to extrapolate), and the table gives the EM steps, seconds, their ratios, and how far
apart the two optima are: the log-likelihood difference and the largest difference of a question
parameter in units of its standard error (questions the data do not determine — never solved,
standard error above 5 — are left out). Cases: simulated test-time counts (12 models x 120
questions x 2,560 samples, 2PL and 1PL), a per-benchmark fit on simulated counts, two exploratory
dimensions fitted to one-dimensional data (with and without the discrimination prior, which holds
the residual covariance at I and so loses the parameter expansion's speed-up), and, when the
public data are beside the project (``../shared/data``), the Pythia MATH calibration of the
test-time study (6 models, 2PL with the discrimination prior) and the Pythia GSM8K + MATH
per-benchmark fits of the cross-benchmark study (81 checkpoints x 258 questions, 1PL and 2PL with
the prior), where plain EM crawls.

Usage::

    python benchmarks/em_acceleration.py [--data DIR] [--n-threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import irsl_stats as irsl
from irsl_stats import acceleration, mml, multidim

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def fit_with(accelerate: bool, kwargs: dict):
    """``irsl.fit(**kwargs)`` with the EM loop's ``accelerate`` forced."""
    original = acceleration.run_em

    def forced(*args, **kw):
        kw["accelerate"] = accelerate
        return original(*args, **kw)

    mml.run_em = multidim.run_em = forced
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", irsl.IRSLWarning)
            t0 = time.perf_counter()
            res = irsl.fit(**kwargs)
            return res, time.perf_counter() - t0
    finally:
        mml.run_em = multidim.run_em = original


def steps(res) -> int:
    est = getattr(res, "_est", None)
    return int(est.n_iter) if est is not None else int(res.n_iter)


def largest_se_difference(a, b) -> float:
    """Largest |difference| of a question parameter over its standard error (determined ones)."""
    worst = 0.0
    for col in a.items.columns:
        se_col = f"{col}_se"
        if se_col not in a.items.columns:
            continue
        se = a.items[se_col].to_numpy(float)
        ok = np.isfinite(se) & (se > 0) & (se < 5)
        diff = np.abs(a.items[col].to_numpy(float) - b.items[col].to_numpy(float))[ok] / se[ok]
        if diff.size:
            worst = max(worst, float(diff.max()))
    return worst


def cases(data: Path, n_threads) -> list:
    common = dict(n_threads=n_threads)
    tt = irsl.simulate.test_time(n_models=12, n_questions=120, n_samples=2560, seed=2)
    counts = dict(data=tt.responses, models=tt.models, successes="successes", trials="trials",
                  family="beta_binomial", method="mml", **common)
    out = [("test-time sim 2PL", dict(formula="ability ~ log(compute)", irt="2pl", **counts)),
           ("test-time sim 1PL", dict(formula="ability ~ log(compute)", irt="1pl", **counts))]
    corr = np.array([[1.0, 0.7], [0.7, 1.0]])
    cb = irsl.simulate.correlated_benchmarks(n_models=120, questions=[80, 80], corr=corr,
                                             family="beta_binomial", n_trials=200, seed=3)
    out.append(("per-benchmark sim 2PL", dict(formula="ability ~ 1", data=cb.responses, successes="successes",
                                              trials="trials", family="beta_binomial", irt="2pl",
                                              ability="per_benchmark", benchmark="benchmark", **common)))
    # two exploratory dimensions on one-dimensional data: a flat direction, where EM crawls
    one = irsl.simulate.irt(n_models=80, n_questions=60, family="beta", benchmarks=2, seed=3)
    expl = dict(formula="ability ~ log(compute)", data=one.responses, models=one.models, family="beta",
                dims=2, benchmark="benchmark", **common)
    out.append(("exploratory D=2 sim", expl))
    out.append(("exploratory D=2 sim + prior", dict(discrimination_prior=1.0, **expl)))
    math10k = data / "monkeys" / "pythia_final_math_10k_counts.csv"
    if math10k.exists():
        c = irsl.read_counts(math10k)
        out.append(("Pythia MATH 6 models 2PL+prior", dict(
            formula="ability ~ 1", data=c[c["model"] != "Pythia 70M"], successes="successes",
            trials="trials", family="beta_binomial", irt="2pl", method="mml", discrimination_prior=1.0,
            **common)))
    else:
        print(f"skipped the Pythia MATH calibration: {math10k} not found", file=sys.stderr)
    gsm, mth = data / "monkeys" / "pythia_gsm8k_counts.csv", data / "monkeys" / "pythia_math_counts.csv"
    if gsm.exists() and mth.exists():
        from irsl_stats.crossval import stack_benchmarks

        both = stack_benchmarks({"GSM8K": pd.read_csv(gsm), "MATH": pd.read_csv(mth)})
        pb = dict(formula="ability ~ 1", data=both, successes="n_correct", trials="n_samples",
                  family="beta_binomial", ability="per_benchmark", benchmark="benchmark", max_iter=2000,
                  **common)
        out.append(("Pythia GSM8K+MATH per-benchmark 1PL", dict(irt="1pl", **pb)))
        out.append(("Pythia GSM8K+MATH per-benchmark 2PL+prior", dict(irt="2pl", discrimination_prior=1.0, **pb)))
    else:
        print(f"skipped the Pythia GSM8K + MATH fits: {gsm} / {mth} not found", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n-threads", type=int, default=1)
    args = ap.parse_args()
    rows = []
    for name, kwargs in cases(args.data, args.n_threads):
        plain, t_plain = fit_with(False, kwargs)
        fast, t_fast = fit_with(True, kwargs)
        rows.append(dict(case=name, steps_plain=steps(plain), steps_squarem=steps(fast),
                         step_ratio=steps(plain) / steps(fast), s_plain=t_plain, s_squarem=t_fast,
                         time_ratio=t_plain / t_fast, converged=bool(plain.converged and fast.converged),
                         llf_diff=fast.llf - plain.llf, max_se_diff=largest_se_difference(fast, plain)))
        print(f"{name}: {rows[-1]['steps_plain']} -> {rows[-1]['steps_squarem']} EM steps", flush=True)
    table = pd.DataFrame(rows)
    print("\nEM steps and seconds, plain EM / SQUAREM (ratios > 1: SQUAREM faster); llf_diff = SQUAREM "
          "minus plain; max_se_diff = largest difference of a determined question parameter in SEs")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
