# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Cross-benchmark forecasts: where one benchmark predicts another, and where it does not
#
# An ability estimated on one benchmark forecasts another benchmark that measures the same thing
# (ARC-Easy → ARC-Challenge, AIME 2024 → AIME 2025). Across benchmarks that measure different
# things the forecast fails (MMLU-Pro vs AIME: rank correlation 0.09 in the IRSL paper). A user
# needs both the forecast and the evidence of where it can be trusted. This vignette
#
# 1. fits **one ability per benchmark** (`ability="per_benchmark"`), their correlation estimated
#    with a standard error;
# 2. reads the **ability-correlation matrix**: high between ARC-Easy and ARC-Challenge, low
#    between either and a maths benchmark;
# 3. **forecasts ARC-Challenge for new models from ARC-Easy only**, with intervals, and shows the
#    same machinery producing honest (wide) intervals when asked to forecast the maths benchmark;
# 4. lets the data choose the **number of dimensions** (`dims="auto"`, by BIC).
#
# The data are simulated (the truth is known). With `--data DIR` (the project's shared real-data
# folder) it also runs the Pythia GSM8K → MATH forecast on real sample counts.
#
# ```bash
# python vignettes/cross_benchmark.py --out figures/
# ```

# %%
import argparse
import pathlib
import time
import warnings

import matplotlib

matplotlib.use("Agg")  # headless: figures are written to files
from matplotlib.figure import Figure  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import irsl_stats as irsl  # noqa: E402

parser = argparse.ArgumentParser(description="IRSL cross-benchmark vignette")
parser.add_argument("--out", default="figures", help="folder for the PNG figures (default: figures/)")
parser.add_argument("--data", default=None, help="real-data folder with monkeys/ (optional)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--threads", type=int, default=1, help="kernel threads")
args, _ = parser.parse_known_args()  # tolerant of Jupyter's own arguments
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)
warnings.simplefilter("ignore", irsl.IRSLWarning)  # warnings are printed with each summary

# %% [markdown]
# ## Simulated evaluations: three benchmarks, two abilities
#
# 300 models answer 40 questions of each benchmark. Their abilities on `arc_easy` and
# `arc_challenge` correlate 0.95; on `math` only 0.2. The first 240 models calibrate the questions;
# the last 60 play the new models, evaluated on `arc_easy` only.

# %%
names = ["arc_easy", "arc_challenge", "math"]
corr = [[1.0, 0.95, 0.2], [0.95, 1.0, 0.2], [0.2, 0.2, 1.0]]
sim = irsl.simulate.correlated_benchmarks(n_models=300, questions=40, corr=corr, benchmarks=names,
                                          seed=args.seed)
models = sim.theta.index
calib, new = models[:240], models[240:]
responses = sim.responses
is_calib = responses["model"].isin(calib)
train = responses[is_calib].copy()
train["model"] = train["model"].cat.remove_unused_categories()
print(train.head())

# %%
t0 = time.perf_counter()
res = irsl.fit("ability ~ 1", data=train, benchmark="benchmark", ability="per_benchmark",
               n_threads=args.threads)
print(f"per-benchmark fit in {time.perf_counter() - t0:.1f} s")
print(res.summary())

# %% [markdown]
# ## The ability-correlation matrix
#
# `ability_correlation(alpha=0.05)` gives the matrix and, for every pair, the estimate with a
# standard error and a 95% interval (Fisher z, from the observed information of the latent
# covariance). The ARC pair is close to 1: a forecast from one to the other is warranted. The
# maths benchmark is nearly unrelated: an ARC score says little about it.

# %%
matrix, pairs = res.ability_correlation(alpha=0.05)
print(matrix.round(3))
print(pairs.round(3).to_string(index=False))
print("true correlations in this sample:")
print(sim.theta.loc[calib].corr().round(3))

fig = Figure(figsize=(4.6, 3.8))
ax = fig.subplots()
im = ax.imshow(matrix.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
ax.set_yticks(range(len(names)), names)
for i in range(len(names)):
    for j in range(len(names)):
        ax.text(j, i, f"{matrix.iloc[i, j]:.2f}", ha="center", va="center", fontsize=9)
fig.colorbar(im, ax=ax, label="ability correlation")
ax.set_title("Where a benchmark forecasts another")
fig.tight_layout()
fig.savefig(out / "cross_benchmark_correlation.png", dpi=120)

# %% [markdown]
# ## Forecast ARC-Challenge (and maths) for new models from ARC-Easy only
#
# `res.forecast(target, using=...)` estimates each new model's abilities from its `using`
# responses (the posterior under the calibration population, by quadrature) and maps them
# through the target benchmark's calibrated questions. The interval carries the ability's
# uncertainty — including how little the `using` benchmark says about the target.

# %%
using = responses[responses["model"].isin(new) & (responses["benchmark"] == "arc_easy")].copy()
truth = sim.expected_scores().loc[new]
rows = []
for target in ("arc_challenge", "math"):
    fc = res.forecast(target, using=using)
    t = truth.loc[fc.index, target]
    rows.append(dict(target=target, mae=float(np.abs(fc["score"] - t).mean()),
                     coverage=float(((t >= fc["lower"]) & (t <= fc["upper"])).mean()),
                     mean_width=float((fc["upper"] - fc["lower"]).mean()),
                     spearman=float(fc["score"].rank().corr(t.rank()))))
    if target == "arc_challenge":
        fc_arc, t_arc = fc, t
    else:
        fc_math, t_math = fc, t
summary = pd.DataFrame(rows).set_index("target")
print(summary.round(3))

# %% [markdown]
# The ARC-Challenge forecast tracks the truth closely; for maths the forecast is close to the
# population mean with intervals several times wider — the model says it does not know, which
# is the honest answer when the abilities are nearly unrelated.

# %%
fig = Figure(figsize=(8.4, 3.8))
axes = fig.subplots(1, 2, sharey=False)
for ax, fc, t, title in ((axes[0], fc_arc, t_arc, "arc_easy → arc_challenge"),
                         (axes[1], fc_math, t_math, "arc_easy → math")):
    ax.errorbar(t, fc["score"], yerr=[fc["score"] - fc["lower"], fc["upper"] - fc["score"]],
                fmt="o", ms=3, alpha=0.7, elinewidth=0.8)
    lo, hi = float(min(t.min(), fc["lower"].min())), float(max(t.max(), fc["upper"].max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set_xlabel("true expected score")
    ax.set_ylabel("forecast (95% interval)")
    ax.set_title(title)
fig.tight_layout()
fig.savefig(out / "cross_benchmark_forecast.png", dpi=120)

# %% [markdown]
# ## How many dimensions? Let the data choose
#
# Without benchmark labels one can ask how many abilities the responses need: `dims="auto"` fits
# D = 1, 2, 3 exploratory models (population mean 0, covariance I, varimax-rotated loadings) and
# keeps the smallest BIC. Two dimensions (ARC and maths) carry most of the structure; a third
# may be added to separate the two ARC benchmarks, whose abilities correlate 0.95 rather than 1
# — with 240 models the difference is detectable. The loadings show which benchmark needs which.

# %%
t0 = time.perf_counter()
auto = irsl.fit("ability ~ 1", data=train, benchmark="benchmark", dims="auto", max_dims=3,
                n_threads=args.threads)
print(f"dims='auto' in {time.perf_counter() - t0:.1f} s; chosen D = {auto.dims}")
print(auto.dims_table.round(1).to_string(index=False))
print(auto.items.groupby("benchmark", observed=True)[[c for c in auto.items.columns
                                                      if c.startswith("a_dim") and not c.endswith("_se")]].mean().round(2))

# %% [markdown]
# ## Real data (optional): Pythia GSM8K → MATH
#
# With `--data`, the same forecast on real sample counts: 5-fold over the Pythia checkpoints that
# have both benchmarks, per-benchmark abilities (1PL beta-binomial), the MATH mean pass rate of
# each held-out checkpoint forecast from its GSM8K counts only, against logit-linear regressions
# on the GSM8K mean and on log compute.

# %%
if args.data:
    root = pathlib.Path(args.data)
    g = pd.read_csv(root / "monkeys" / "pythia_gsm8k_counts.csv")
    m = pd.read_csv(root / "monkeys" / "pythia_math_counts.csv")
    ck = pd.read_csv(root / "monkeys" / "pythia_checkpoints.csv").set_index("model")
    counts = irsl.crossval.stack_benchmarks({"GSM8K": g, "MATH": m})  # problem ids repeat across them
    compute = 6.0 * ck["Parameters"].astype(float) * ck["Tokens"].astype(float)
    table = irsl.crossval.transfer_study(counts, "GSM8K", "MATH", successes="n_correct",
                                         trials="n_samples", compute=compute, n_threads=args.threads)
    print(irsl.crossval.mae_table(table, ["irsl", "on_source", "on_compute"]).round(6))
else:
    print("(no --data: real-data section skipped)")
