"""Cost of the JML joint covariance (``full_cov``) around DENSE_LIMIT.

2PL Beta, 100 questions with per-question precision, ``ability ~ log(compute) + family``: the
joint covariance has M + 300 free parameters (``--questions``: M + 3 N), formed by default (``full_cov="auto"``) up to
:data:`~irsl_stats.inference.DENSE_LIMIT` = 4,000. For each M the fit is timed with
``full_cov="auto"`` and with ``full_cov=False`` (block-conditional standard errors) in the same
run, and their ratio printed: the joint covariance should cost a small multiple of the fit, not
10-20 times it just under the limit. ``--dense`` also times the dense route the structured one
replaced (the whole bordered matrix inverted, the latent regression in the eigenbasis of the
(M, M) ability covariance) at the sizes up to ``--dense-max``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/jml_dense.py                 # M = 1000, 1850, 3700, 3800
    OMP_NUM_THREADS=1 python benchmarks/jml_dense.py --dense         # adds the dense route
    OMP_NUM_THREADS=1 python benchmarks/jml_dense.py --sizes 120 --questions 1000   # wide: R >> M

The wide case is the common one of few models and many questions: there the latent regression
works in the (M, M) eigenbasis, since a Woodbury update would factor a matrix of the question
parameters' size at every value of sigma (120 x 1000 2PL beta took 50 s against 0.8 s with
``full_cov=False`` before the route was chosen by cost).
"""

from __future__ import annotations

import argparse
import time
import warnings
from unittest import mock

import irsl_stats as irsl
from irsl_stats import inference

FORMULA = "ability ~ log(compute) + family"


def _dense_schur(info_theta, info_x, info_q, cons_theta, cons_q, on_scale):
    """The dense bordered inverse in place of the Schur complement (no low-rank form)."""
    return inference._constrained_inverse_dense(info_theta, info_x, info_q, cons_theta, cons_q, on_scale), None


def time_fit(sim, full_cov, dense: bool = False):
    """Seconds of one ``irsl.fit`` and its result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        if dense:
            with mock.patch.object(inference, "_constrained_inverse_schur", _dense_schur):
                res = irsl.fit(FORMULA, data=sim.responses, models=sim.models, family="beta", method="jml",
                               full_cov=full_cov, n_threads=1)
        else:
            res = irsl.fit(FORMULA, data=sim.responses, models=sim.models, family="beta", method="jml",
                           full_cov=full_cov, n_threads=1)
        return time.perf_counter() - t0, res


def main() -> None:
    """Print the timings and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 1850, 3700, 3800])
    ap.add_argument("--dense", action="store_true", help="also time the dense route")
    ap.add_argument("--dense-max", type=int, default=3700)
    ap.add_argument("--questions", type=int, default=100, help="questions (3 free parameters each)")
    args = ap.parse_args()
    print(f"DENSE_LIMIT = {inference.DENSE_LIMIT}")
    print(f"{'M':>6} {'n_free':>7} {'auto s':>8} {'False s':>8} {'ratio':>6} {'joint':>6}"
          + (f" {'dense s':>8} {'speedup':>8}" if args.dense else ""))
    for m in args.sizes:
        sim = irsl.simulate.irt(n_models=m, n_questions=args.questions, seed=0)
        t_auto, res = time_fit(sim, "auto")
        t_false, _ = time_fit(sim, False)
        joint = "yes" if "joint" in res.fit_info.extra.get("Standard errors", "") else "no"
        line = f"{m:>6} {m + 3 * args.questions:>7} {t_auto:>8.2f} {t_false:>8.2f} {t_auto / t_false:>6.1f} {joint:>6}"
        if args.dense and m <= args.dense_max and joint == "yes":
            t_dense, dres = time_fit(sim, "auto", dense=True)
            diff = float((dres.bse - res.bse).abs().max() / res.bse.abs().max())
            line += f" {t_dense:>8.2f} {t_dense / t_auto:>7.1f}x  (bse rel. diff {diff:.1e})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
