"""Throughput of the full beta accumulation pass of the C++ kernel.

One pass = log-likelihood + model and item gradients + Hessian blocks, D = 1, per-item log_phi,
over simulated data: 2,000 models x 5,000 questions = 10 million observations (long format,
sorted by model). Measured at 1 and 2 threads (best of --repeat runs) and against the vectorised
NumPy/SciPy version of the same pass (tests/_numpy_kernel.py), in the same run.

Targets: >= 8 M obs/s on one thread; 2 threads >= 1.8x one thread; >= 10x NumPy.

Measured on the 2-core development machine (GCC 12, x86-64-v3 clone; --repeat 5, two runs each,
alternating with the previous build): 1 thread 8.80-8.90 M obs/s (before: 7.75-7.80), 2 threads
17.4-17.6 M obs/s = 1.98x (before: 14.9-15.4, 1.91-1.98x), 15.8-16.8x NumPy (before: 14.0-14.1x).

Usage::

    python benchmarks/kernel_throughput.py [--models 2000] [--items 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Callable

import numpy as np

from irsl_stats import _kernel

ROOT = Path(__file__).resolve().parents[1]


def load_numpy_reference():
    """Import tests/_numpy_kernel.py by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("_numpy_kernel", ROOT / "tests" / "_numpy_kernel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def simulate(n_models: int, n_items: int, seed: int = 0) -> dict:
    """Beta responses from the 2PL model with per-item precision."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_models)
    a = rng.lognormal(0.0, 0.3, n_items)
    d = rng.normal(0.0, 1.5, n_items)
    log_phi = rng.normal(np.log(10.0), 0.5, n_items)
    model = np.repeat(np.arange(n_models, dtype=np.int32), n_items)
    item = np.tile(np.arange(n_items, dtype=np.int32), n_models)
    eta = a[item] * theta[model] + d[item]
    mu = 1.0 / (1.0 + np.exp(-eta))
    phi = np.exp(log_phi[item])
    y = rng.beta(mu * phi, (1.0 - mu) * phi)
    y = np.clip(y, 1e-12, 1.0 - 1e-12)
    return dict(model=model, item=item, y=y, theta=theta, a=a, d=d, log_phi=log_phi)


def best_time(fn: Callable[[], object], repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    sim = simulate(args.models, args.items)
    n = sim["y"].size
    data = _kernel.KernelData(
        sim["model"], sim["item"], sim["y"], n_models=args.models, n_items=args.items, family="beta"
    )
    theta = sim["theta"][:, None]
    a = sim["a"][:, None]
    print(f"build: {_kernel.build_info()}")
    print(f"data: {args.models} models x {args.items} questions = {n / 1e6:.1f} M observations")

    def cpp_pass(n_threads: int) -> Callable[[], object]:
        return lambda: _kernel.accumulate(data, theta, a, sim["d"], sim["log_phi"], n_threads=n_threads)

    rates = {}
    for nt in (1, 2):
        t = best_time(cpp_pass(nt), args.repeat)
        rates[nt] = n / t / 1e6
        print(f"C++ {nt} thread(s): {t:.3f} s  ->  {rates[nt]:.2f} M obs/s")

    ref = load_numpy_reference()
    t_np = best_time(
        lambda: ref.accumulate_beta_d1_fast(
            sim["model"], sim["item"], sim["y"], sim["theta"], sim["a"], sim["d"], sim["log_phi"]
        ),
        max(1, args.repeat - 1),
    )
    rate_np = n / t_np / 1e6
    print(f"NumPy/SciPy:      {t_np:.3f} s  ->  {rate_np:.2f} M obs/s")

    checks = [
        (f"1-thread throughput {rates[1]:.2f} M obs/s >= 8", rates[1] >= 8.0),
        (f"2-thread speed-up {rates[2] / rates[1]:.2f}x >= 1.8x", rates[2] / rates[1] >= 1.8),
        (f"1-thread vs NumPy {rates[1] / rate_np:.1f}x >= 10x", rates[1] / rate_np >= 10.0),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
