"""OpenMP wait policy: fit time with 1 and 2 threads, the package's passive wait against the
runtime's default spinning wait, each in a fresh interpreter (the runtime reads the policy once).

The package sets ``OMP_WAIT_POLICY=PASSIVE`` before loading its kernel unless the user set
``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or ``KMP_BLOCKTIME``; the "spinning" runs restore libgomp's
default by setting ``GOMP_SPINCOUNT=300000`` (its default spin count). Prints the best of
``--repeats`` fit times per setting and the ratio spinning / passive. On an idle machine the two
are close; on a busy one (other jobs on the cores) the spinning worker takes a core from the
Python thread between kernel passes and 2 threads become several times slower than 1.

Measured (2-core machine with other jobs, load average 1.6, defaults: 200 models x 400 questions,
MML 2PL): passive 0.80 s (1 thread) / 0.81 s (2 threads); spinning 0.83 s / 3.88 s (4.8x).

Usage::

    python benchmarks/thread_wait.py
    python benchmarks/thread_wait.py --models 400 --questions 400 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time, warnings
import irsl_stats as irsl
n_models, n_questions, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sim = irsl.simulate.irt(n_models=n_models, n_questions=n_questions, benchmarks=2, seed=1)
out = {"policy": irsl.build_info()["omp_wait_policy"]}
for nt in (1, 2):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models, n_threads=nt)
        best = min(best, time.perf_counter() - t0)
    out[str(nt)] = best
print(json.dumps(out))
"""


def run(env_extra: dict, args) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS")}
    env.update(env_extra)
    # outside the source tree: from the repository root "-c" would import the uncompiled sources
    done = subprocess.run([sys.executable, "-c", CHILD, str(args.models), str(args.questions), str(args.repeats)],
                          env=env, capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=int, default=200)
    p.add_argument("--questions", type=int, default=400)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    passive = run({}, args)
    spinning = run({"GOMP_SPINCOUNT": "300000"}, args)
    print(f"{args.models} models x {args.questions} questions, MML 2PL, best of {args.repeats}; "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'wait':>10} {'policy':>24} {'1 thread':>9} {'2 threads':>10}")
    for name, r in (("passive", passive), ("spinning", spinning)):
        print(f"{name:>10} {r['policy']:>24} {r['1']:>8.2f}s {r['2']:>9.2f}s")
    print(f"ratio spinning / passive: 1 thread {spinning['1'] / passive['1']:.2f}, "
          f"2 threads {spinning['2'] / passive['2']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
