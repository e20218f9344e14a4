"""Coverage of the 95% interval of the scaling slope, by simulation.

For each replicate: simulate a 2PL Beta-IRT data set whose abilities follow
``theta = beta0 + beta1 log(compute) + family effects + sigma u``, fit
``ability ~ log(compute) + family`` by JML and by MML, and check whether the 95% interval of the
``log(compute)`` coefficient covers the true slope *on the fit's identified scale* (population
convention: the true slope divided by the true SD of the latent distribution over the same models,
``sqrt(var(x' beta) + sigma^2)``). Prints the coverage per method with its binomial standard error
and the mean bias in standard-error units.

With ``--what score``: coverage of the 95% interval of ``res.predict(new, what="score")``, the
expected full-benchmark score of a family-0 model at four computes (the bottom, middle and top of
the simulated range, and 10x beyond it), against the true score ``mean_j logistic(a_j theta(x) +
d_j)`` at the true scaling law ``theta(x) = x' beta`` and the true questions. Also prints the SD of
the standardised errors, measured on the ability scale of the fit (the true score mapped back
through the fitted questions), which is 1 when the interval's width is right.

With ``--what lr``: size of the likelihood-ratio test (``compare_lr_test``) of a covariate
unrelated to ability (``+ z``, z standard normal), fits with ``reml=False``: the share of p-values
below 0.05 and 0.10 with the F reference (default) and the chi-squared one, and a
Kolmogorov-Smirnov test of their uniformity.

With ``--what sigma``: coverage of the 95% interval of ``sigma`` of a 2PL fit under
``identification="population"``, where ``sigma = sqrt(1 - var(x' beta))`` is set by the slope:
Bernoulli responses, ``ability ~ log(compute)``, a weak law by default (``--slope 0.03``,
``sigma = 0.5``: the law explains ~1% of the variance of ability), against the true ``sigma`` on
the population scale of the same models. Prints the coverage of ``conf_int`` (the image of the
slope's confidence ellipsoid) next to that of the log-scale delta-method interval
``exp(log(sigma) -+ z se / sigma)`` it replaced, and the coverage of the slope's own interval.

Usage::

    python benchmarks/coverage.py --reps 200 --models 150 --questions 150
    python benchmarks/coverage.py --what score --reps 200 --models 40 --questions 60
    python benchmarks/coverage.py --what lr --reps 200 --models 30 --questions 40 --irt 1pl
    python benchmarks/coverage.py --what sigma --reps 200 --models 100 --questions 60
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import brentq
from scipy.special import expit

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


LOG10_COMPUTE = (21.0, 22.5, 24.0, 25.0)  # bottom, middle, top of the simulated range; 10x beyond


def score_replicate(seed: int, n_models: int, n_questions: int, methods, n_threads=None, **sim_kwargs):
    """Per method: (covered, standardised error) of the score forecast at :data:`LOG10_COMPUTE`."""
    sim = irsl.simulate.irt(n_models=n_models, n_questions=n_questions, seed=seed, **sim_kwargs)
    beta = sim.truth["beta_uncentered"]
    reference = sorted(sim.models["family"].astype(str).unique())[0]  # the formula's baseline level
    new = pd.DataFrame({"compute": 10.0 ** np.array(LOG10_COMPUTE), "family": reference})
    theta = beta["Intercept"] + beta["log_compute"] * np.log(new["compute"].to_numpy())
    a_true, d_true = sim.items["a"].to_numpy(float), sim.items["d"].to_numpy(float)
    truth = expit(np.outer(theta, a_true) + d_true).mean(axis=1)
    out = {}
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", irsl.IRSLWarning)
            res = irsl.fit(FORMULA, data=sim.responses, models=sim.models, method=method, n_threads=n_threads)
        pred = res.predict(new, what="score")
        ability = res.predict(new)
        covered = (pred["ci_lower"].to_numpy() <= truth) & (truth <= pred["ci_upper"].to_numpy())
        a = res.items["a"].to_numpy() if "a" in res.items else np.ones(len(res.items))
        d = res.items["d"].to_numpy()
        # the true score as an ability on the fit's scale, through the fitted questions
        target = np.array([brentq(lambda t, v=v: expit(a * t + d).mean() - v, -200, 200) for v in truth])
        z = (ability["mean"].to_numpy() - target) / ability["mean_se"].to_numpy()
        out[method] = (covered, z)
    return out


def lr_replicate(seed: int, n_models: int, n_questions: int, methods, irt: str = "2pl", n_threads=1,
                 **sim_kwargs):
    """p-values of the likelihood-ratio test of a null covariate, per method: (p < 0.05 with the
    F reference, p with F, p with chi-squared)."""
    sim = irsl.simulate.irt(n_models=n_models, n_questions=n_questions, seed=seed, **sim_kwargs)
    models = sim.models.copy()
    models["z"] = np.random.default_rng(seed).normal(size=len(models))
    out = {}
    for m in methods:
        kw = dict(data=sim.responses, models=models, method=m, irt=irt, reml=False, n_threads=n_threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", irsl.IRSLWarning)
            full, small = irsl.fit(FORMULA + " + z", **kw), irsl.fit(FORMULA, **kw)
            p_f = full.compare_lr_test(small).p_value
            p_chi2 = full.compare_lr_test(small, small_sample=False).p_value
        out[m] = (p_f < 0.05, p_f, p_chi2)
    return out


def sigma_replicate(seed: int, n_models: int, n_questions: int, methods, slope: float, n_threads=1):
    """Per method: (conf_int covers sigma, the log-scale delta interval covers it, the slope's
    interval covers its truth) for a weak law on Bernoulli responses."""
    sim = irsl.simulate.irt(n_models=n_models, n_questions=n_questions, family="bernoulli",
                            family_effects=(0.0,), beta=(0.0, slope), sigma=0.5, seed=seed)
    truth = sim.population_scale_truth()
    z = stats.norm.ppf(0.975)
    out = {}
    for m in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", irsl.IRSLWarning)
            res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, family="bernoulli",
                           method=m, n_threads=n_threads)
        ci = res.conf_int(0.05)
        lo, hi = ci.loc["sigma"]
        sigma, se = res.params["sigma"], res.bse["sigma"]
        delta = (sigma * np.exp(-z * se / sigma), sigma * np.exp(z * se / sigma))
        s_lo, s_hi = ci.loc["log(compute)"]
        out[m] = (bool(lo <= truth["sigma"] <= hi), bool(delta[0] <= truth["sigma"] <= delta[1]),
                  bool(s_lo <= truth["log(compute)"] <= s_hi))
    return out


def collect(one_replicate, reps: int, seed0: int, methods, every: int = 20, label: str = "coverage", **kwargs):
    """Run ``one_replicate(seed, methods, **kwargs)`` for ``reps`` seeds; per method, the list of
    its per-replicate tuples transposed into one list per field, with progress lines."""
    fields = {m: None for m in methods}
    t0 = time.perf_counter()
    for r in range(reps):
        res = one_replicate(seed0 + r, methods=methods, **kwargs)
        for m in methods:
            fields[m] = [[] for _ in res[m]] if fields[m] is None else fields[m]
            for store, value in zip(fields[m], res[m]):
                store.append(value)
        if (r + 1) % every == 0:
            msg = "  ".join(f"{m}: {np.mean(fields[m][0]):.3f}" for m in methods)
            print(f"  {r + 1:4d} replicates, {time.perf_counter() - t0:7.1f} s  {label} {msg}", flush=True)
    return fields


def run_score(reps: int, n_models: int, n_questions: int, methods, seed0: int = 3000, **sim_kwargs):
    """Score-forecast coverage per method: dict method -> (coverage per compute, SD of z per compute)."""
    fields = collect(score_replicate, reps, seed0, methods, every=50, n_models=n_models,
                     n_questions=n_questions, **sim_kwargs)
    return {m: (np.mean(hits, axis=0), np.std(zs, axis=0)) for m, (hits, zs) in fields.items()}


def run(reps: int, n_models: int, n_questions: int, methods, seed0: int = 1000, **sim_kwargs):
    """Coverage per method: dict method -> (coverage, mean z, SD of z, share converged)."""
    fields = collect(replicate, reps, seed0, methods, n_models=n_models, n_questions=n_questions, **sim_kwargs)
    return {m: (float(np.mean(hits)), float(np.mean(zs)), float(np.std(zs)), float(np.mean(conv)))
            for m, (hits, zs, conv) in fields.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--models", type=int, default=150)
    ap.add_argument("--questions", type=int, default=150)
    ap.add_argument("--methods", default="jml,mml")
    ap.add_argument("--phi", type=float, default=15.0, help="median question precision")
    ap.add_argument("--slope", type=float, default=None,
                    help="true slope per unit log compute (default 0.35; 0.03 with --what sigma)")
    ap.add_argument("--what", default="slope", choices=("slope", "score", "lr", "sigma"),
                    help="slope: the log(compute) coefficient; score: predict(what='score') forecasts; "
                         "lr: size of the likelihood-ratio test; sigma: sigma's interval for a weak law")
    ap.add_argument("--irt", default="2pl", choices=("1pl", "2pl"), help="IRT model of the fits (--what lr)")
    args = ap.parse_args()
    methods = args.methods.split(",")
    if args.slope is None:
        args.slope = 0.03 if args.what == "sigma" else 0.35
    if args.what == "sigma":
        print(f"coverage of the 95% interval of sigma (2PL, identification='population', slope {args.slope}, "
              f"sigma 0.5): {args.reps} replicates of {args.models} models x {args.questions} questions "
              "(Bernoulli)")
        fields = collect(sigma_replicate, args.reps, 300, methods, label="sigma coverage", n_models=args.models,
                         n_questions=args.questions, slope=args.slope)
        ok = True
        se = np.sqrt(0.95 * 0.05 / args.reps)
        for m, (hits, delta_hits, slope_hits) in fields.items():
            cov = float(np.mean(hits))
            passed = cov >= 0.95 - 2 * se
            ok &= passed
            print(f"{m.upper()}: sigma coverage {cov:.3f} (binomial SE {se:.3f}); log-scale delta-method "
                  f"interval {np.mean(delta_hits):.3f}; slope interval {np.mean(slope_hits):.3f}  -> "
                  f"{'PASS' if passed else 'FAIL'} (target >= 0.95 - 2 binomial SE)")
        print("ALL PASS" if ok else "SOME FAIL")
        return
    if args.what == "lr":
        print(f"size of the likelihood-ratio test of a null covariate: {args.reps} replicates of "
              f"{args.models} models x {args.questions} questions ({args.irt.upper()} fits of 2PL beta data)")
        fields = collect(lr_replicate, args.reps, 4000, methods, label="share of p < 0.05", n_models=args.models,
                         n_questions=args.questions, irt=args.irt, phi_median=args.phi, beta=(0.0, args.slope))
        ok = True
        for m, (_, p_f, p_chi2) in fields.items():
            for name, p in (("F", np.array(p_f)), ("chi2", np.array(p_chi2))):
                size5, size10 = float(np.mean(p < 0.05)), float(np.mean(p < 0.10))
                passed = size5 <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / args.reps)
                ok &= passed or name == "chi2"  # the target is on the default (F) reference
                print(f"{m.upper()} {name:>4}: size at 5% {size5:.3f}, at 10% {size10:.3f}, KS p-value "
                      f"{stats.kstest(p, 'uniform').pvalue:.3f}" + ("" if name == "chi2" else
                      f"  -> {'PASS' if passed else 'FAIL'} (target <= 0.05 + 2 binomial SE)"))
        print("ALL PASS" if ok else "SOME FAIL")
        return
    if args.what == "score":
        print(f"coverage of the 95% interval of the score forecast at log10(compute) = {LOG10_COMPUTE}: "
              f"{args.reps} replicates of {args.models} models x {args.questions} questions (2PL beta)")
        out = run_score(args.reps, args.models, args.questions, methods, phi_median=args.phi,
                        beta=(0.0, args.slope))
        ok = True
        for m, (cov, zsd) in out.items():
            passed = bool(np.all((cov >= 0.92) & (cov <= 0.98)))
            ok &= passed
            print(f"{m.upper()}: coverage {np.round(cov, 3).tolist()} (binomial SE "
                  f"{np.sqrt(0.95 * 0.05 / args.reps):.3f}), SD of z {np.round(zsd, 3).tolist()} "
                  f"-> {'PASS' if passed else 'FAIL'} (target 0.92-0.98)")
        print("ALL PASS" if ok else "SOME FAIL")
        return
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
