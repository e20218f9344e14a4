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
# # Pre-training scaling: forecast a 1B model from small models and 50 questions per benchmark
#
# Choosing a pre-training data *recipe* means training models on each candidate and comparing
# them downstream. Training every candidate at the target size is what one wants to avoid, and so
# is evaluating every checkpoint on every question. Item Response Scaling Laws (IRSL) address both:
#
# 1. **calibrate** the questions once, on the models of a few recipes (difficulty, discrimination
#    and precision of every question);
# 2. evaluate the models of the other recipes on **50 questions per benchmark** only;
# 3. fit the scaling law `ability ~ log(flops) + recipe` — one latent ability per model, regressed
#    on compute, with a shift per recipe — and **forecast each recipe's full-benchmark score at the
#    target size** (1B parameters), with intervals;
# 4. **rank the recipes** by the forecasts and check the ranking against the truth (decision
#    accuracy), as a function of how much compute the small models used.
#
# The data are simulated to look like DataDecide (25 recipes × 14 sizes from 4M to 1B parameters ×
# 2 checkpoints, 10 OLMES benchmarks; the response is the probability of the correct choice), so
# the truth is known. Run it as
#
# ```bash
# python vignettes/pretraining_scaling.py --out figures/
# ```
#
# or open it as a notebook with `jupytext --to notebook vignettes/pretraining_scaling.py`. It
# prints its tables and writes three PNG figures to `--out`.

# %%
import argparse
import pathlib
import time

import matplotlib

matplotlib.use("Agg")  # headless: figures are written to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import irsl_stats as irsl  # noqa: E402

parser = argparse.ArgumentParser(description="IRSL pre-training scaling vignette")
parser.add_argument("--out", default="figures", help="folder for the PNG figures (default: figures/)")
parser.add_argument("--seed", type=int, default=0, help="seed of the simulation and question selection")
parser.add_argument("--threads", type=int, default=None,
                    help="kernel threads (default: OpenMP's; 1 is fastest on a busy machine)")
args, _ = parser.parse_known_args()  # tolerant of Jupyter's own arguments
OUT = pathlib.Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
SEED, THREADS = args.seed, args.threads
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)
T_START = time.perf_counter()

# %% [markdown]
# ## 1. The data
#
# `irsl.simulate.pretraining` draws DataDecide-like evaluation results: every model (recipe ×
# size × checkpoint) answers every question of 10 benchmarks (300 questions each here; the real
# ones have hundreds to thousands). FLOPs are `6 · params · tokens`. The `models` table holds one
# row per model; `responses` is long, one row per (model, question).

# %%
sim = irsl.simulate.pretraining(n_recipes=25, n_checkpoints=2, questions_per_benchmark=300,
                                tokens_per_param=100.0, seed=SEED)
models, responses = sim.models, sim.responses
print(models[["model", "recipe", "size", "params", "tokens", "flops", "checkpoint"]].head())
print(responses.head())
print(f"{len(models)} models x {len(sim.items)} questions = {len(responses):,} responses")

# %% [markdown]
# The **target** of each recipe is its largest model (1B parameters, final checkpoint). We
# pretend not to have trained it: the analysis uses models up to 150M parameters, and the target
# is only used as the truth.

# %%
TARGET_PARAMS, LARGEST_USED = 1e9, 150e6
recipes = np.asarray(models["recipe"].cat.categories)
rng = np.random.default_rng(SEED)
calibration = np.sort(recipes[rng.permutation(recipes.size)[:5]])
heldout = np.setdiff1d(recipes, calibration)
is_cal = models["recipe"].isin(calibration).to_numpy()
targets = models[~is_cal & (models["params"] == TARGET_PARAMS) & models["is_final"]]
targets = targets.set_axis(pd.Index(targets["recipe"].astype(str)).rename(None))  # one row per recipe
small = models[~is_cal & (models["params"] <= LARGEST_USED)]
ratio = small["flops"].max() / targets["flops"].median()
print("calibration recipes:", list(calibration))
print(f"{heldout.size} held-out recipes; their models up to {LARGEST_USED / 1e6:g}M parameters "
      f"use at most {ratio:.3g} of the target's FLOPs")


def only(frame, keep):
    """Rows of a long table whose model is in ``keep``, without unused categories."""
    out = frame[frame["model"].isin(keep)]
    return out.assign(model=out["model"].cat.remove_unused_categories())


# %% [markdown]
# ## 2. Calibrate the questions on five recipes
#
# `irsl.calibrate` fits `ability ~ 1` (a 2PL Beta item response model) to every response of the
# calibration recipes' models and returns an `ItemBank`: per question the discrimination `a`, the
# intercept `d`, the difficulty `b = -d/a`, the precision `phi` of the Beta response, and their
# standard errors. `bank.save("bank.json")` stores it for later.

# %%
t0 = time.perf_counter()
bank = irsl.calibrate(only(responses, models["model"][is_cal]), benchmark="benchmark",
                      method="jml", full_cov=False, n_threads=THREADS)
print(bank, f"calibrated in {time.perf_counter() - t0:.1f} s")
print(bank.items[["benchmark", "a", "a_se", "b", "b_se", "phi", "n"]].head().round(3))

# %% [markdown]
# Item characteristic curves show the expected response of a question as a function of ability;
# the information curves show where on the ability scale a question measures well (steep curves
# at their difficulty). `bank.plot_items()` draws either, for at most `max_items` questions spread
# over the difficulty range.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
bank.plot_items(benchmark="arc_easy", what="icc", max_items=12, ax=axes[0])
bank.plot_items(benchmark="arc_easy", what="information", max_items=12, ax=axes[1])
fig.savefig(OUT / "pretraining_items.png", dpi=110)
plt.close(fig)

# %% [markdown]
# ## 3. Fifty questions per benchmark for the other recipes
#
# `bank.select(50, strategy="stratified", by="benchmark")` cuts each benchmark's questions into 50
# difficulty strata and draws one question from each, so the subset spans the whole difficulty
# range. The held-out recipes' small models are evaluated on these 500 questions only — a sixth
# of the benchmark suite. `bank.score` measures their abilities on the bank's scale (EAP, with
# standard errors).

# %%
questions = bank.select(50, strategy="stratified", by="benchmark", seed=SEED)
asked = only(responses, small["model"])
asked = asked[asked["question"].isin(questions)]
scores = bank.score(asked, method="eap", n_threads=THREADS)
print(f"{len(questions)} questions; {asked['model'].nunique()} held-out models; "
      f"{len(asked):,} responses instead of {asked['model'].nunique() * len(sim.items):,}")
print(scores.head().round(3))

# %% [markdown]
# ## 4. The scaling law
#
# One fit carries everything: the calibration recipes' responses (all questions, all sizes) anchor
# the questions, and the held-out recipes contribute their small models' answers to the 50
# selected questions per benchmark. Questions a model did not answer are simply absent rows. The
# formula regresses ability on log FLOPs with one shift per recipe (a common slope); the summary
# reads like statsmodels'. Joint maximum likelihood (`method="jml"`) is used for speed;
# `method="mml"` integrates the abilities out and is the reference for standard errors.

# %%
use = np.concatenate([models["model"][is_cal].to_numpy(), small["model"].to_numpy()])
fit_data = only(responses, use)
fit_data = fit_data[fit_data["model"].isin(models["model"][is_cal]) | fit_data["question"].isin(questions)]
t0 = time.perf_counter()
res = irsl.fit("ability ~ log(flops) + recipe", data=fit_data, models=models, benchmark="benchmark",
               family="beta", irt="2pl", precision="item", method="jml", full_cov=False,
               n_threads=THREADS)
print(f"fitted in {time.perf_counter() - t0:.1f} s")
print(res.summary())

# %% [markdown]
# ## 5. Forecast the 1B models
#
# `res.predict(new_models, what="score", benchmark=...)` evaluates the law at the targets'
# covariates and maps the ability to the expected score over **all** of the benchmark's
# calibrated questions. `ci_*` is the confidence interval of the law (coefficient uncertainty),
# `pi_*` the prediction interval of a new model (adds the spread `sigma` of models around the law).
# The truth is the 1B model's mean response over the full benchmark.

# %%
truth = (only(responses, targets["model"]).groupby(["model", "benchmark"], observed=True)["y"].mean()
         .unstack().rename(index=dict(zip(targets["model"], targets.index))))
benchmarks = list(bank.benchmarks)
forecasts = {b: res.predict(targets, what="score", benchmark=b) for b in benchmarks}
table = forecasts["arc_easy"].assign(truth=truth["arc_easy"]).sort_values("score", ascending=False)
print("ARC-Easy at 1B, forecast from models up to 150M:")
print(table.round(3))
covered = np.mean([((forecasts[b]["pi_lower"] <= truth[b]) & (truth[b] <= forecasts[b]["pi_upper"])).mean()
                   for b in benchmarks])
mae = np.mean([(forecasts[b]["score"] - truth[b]).abs().mean() for b in benchmarks])
print(f"over {len(benchmarks)} benchmarks x {len(targets)} recipes: MAE {mae:.4f}, "
      f"95% prediction intervals cover the truth {covered:.0%} of the time")

# %% [markdown]
# The intervals ignore the uncertainty of the question parameters, and the truth carries the
# response noise of a finite benchmark, so their coverage can fall somewhat short of 95%.
#
# The fitted law against compute for four held-out recipes, from the worst to the best (points:
# each model's ability mapped to the ARC-Easy score with its 95% interval; line and band: the law
# and its 95% confidence band, extended to the target's FLOPs; stars: the true 1B scores).

# %%
ranked = truth["arc_easy"].sort_values().index
show = list(ranked[np.linspace(0, ranked.size - 1, 4).round().astype(int)])
fig = res.plot_scaling(x="flops", by="recipe", levels=show, what="score", benchmark="arc_easy",
                       x_range=(small["flops"].min(), targets["flops"].max()))
ax = fig.axes[0]
color = {ln.get_label(): ln.get_color() for ln in ax.get_lines()}  # the law of each recipe
for recipe in show:
    ax.scatter(targets.loc[recipe, "flops"], truth.loc[recipe, "arc_easy"], marker="*", s=120,
               color=color[recipe], edgecolors="black", linewidths=0.5, zorder=4)
ax.axvline(small["flops"].max(), color="0.6", linestyle=":", linewidth=1)
fig.savefig(OUT / "pretraining_scaling.png", dpi=110)

# %% [markdown]
# ## 6. Ranking the recipes: decision accuracy
#
# Decision accuracy is the share of recipe pairs that the forecasts order as the true 1B scores
# do. The naive alternative to a scaling law, on the same 50 questions, ranks the recipes by the
# mean answer of their largest evaluated model.

# %%
largest = small.sort_values("flops").groupby("recipe", observed=True)["model"].last()
naive = (asked[asked["model"].isin(largest)].groupby(["model", "benchmark"], observed=True)["y"].mean()
         .unstack().rename(index=dict(zip(largest, largest.index))))
da = pd.DataFrame({
    "irsl": [irsl.decision_accuracy(forecasts[b]["score"], truth[b]) for b in benchmarks],
    "naive subset mean": [irsl.decision_accuracy(naive[b], truth[b]) for b in benchmarks],
}, index=pd.Index(benchmarks, name="benchmark"))
da.loc["mean"] = da.mean()
print(f"decision accuracy at compute ratio {ratio:.3g} (50 questions per benchmark):")
print(da.round(3))

# %% [markdown]
# How does this depend on the compute spent on the small models? `irsl.evaluation.efficient_eval`
# repeats the protocol at every compute cutoff (the final checkpoint of each smaller size): the
# held-out models below the cutoff are scored against the bank on the selected questions and a
# law is fitted to their abilities — one line per recipe (`irsl`), or a common slope with a shift
# per recipe as in the formula above (`irsl_pooled`). Baselines on the same answers: the naive
# subset mean of the largest model used, and the "traditional" fit of logit accuracy on log FLOPs
# per recipe and benchmark (on the 50 questions, and on every question: the cost IRSL avoids).
# Three question selections (seeds) are averaged; the band is ± 1 SD.

# %%
t0 = time.perf_counter()
runs = []
for s in range(3):
    out = irsl.evaluation.efficient_eval(responses, models, calibration, ks=(50,), strategies=("stratified",),
                                         bank=bank, law=("recipe", "pooled"), seed=SEED + s, n_threads=THREADS)
    out.attrs.clear()
    runs.append(out)
study = pd.concat(runs, ignore_index=True)
forecast_rows = study[study["estimand"] == "forecast"]
print(f"efficient_eval over 3 selections in {time.perf_counter() - t0:.1f} s")
curve = forecast_rows.pivot_table(index="ratio", columns="method", values="decision_accuracy")
print(curve.round(3))

labels = {"irsl_pooled": "IRSL: log(flops) + recipe", "irsl": "IRSL: a law per recipe",
          "naive_largest": "naive subset mean (largest model)",
          "logit_linear": "logit-linear fit, 50 questions", "logit_linear_full": "logit-linear fit, all questions"}
fig = irsl.plot_decision_accuracy(forecast_rows, labels=labels)
fig.axes[0].set_title("Ranking 20 recipes at 1B from smaller models (50 questions per benchmark)",
                      fontsize="medium")
fig.savefig(OUT / "pretraining_decision_accuracy.png", dpi=110)

# %% [markdown]
# Measuring rather than forecasting: at equal cost, scoring each held-out model's ability from its
# 50 answers per benchmark and mapping it to the full-benchmark score is closer to the truth than
# the 50-question mean (`estimand == "score"`: every held-out model).

# %%
measure = study[study["estimand"] == "score"].groupby("method")[["mae", "decision_accuracy"]].mean()
print(measure.round(4))
at_cut = curve.iloc[np.abs(curve.index.to_numpy() - ratio).argmin()]
print(f"\nsummary: decision accuracy at ratio {ratio:.3g}: IRSL (log(flops) + recipe) "
      f"{at_cut['irsl_pooled']:.3f} vs naive subset mean {at_cut['naive_largest']:.3f}; "
      f"ran in {time.perf_counter() - T_START:.0f} s; figures in {OUT}/")

# %% [markdown]
# ## Next steps
#
# * Real evaluation logs: `irsl.read_lm_eval_samples(paths)` reads lm-evaluation-harness
#   `--log_samples` files into the same long table (probability of the correct choice per
#   question); `irsl.read_counts(path)` reads sample-count tables.
# * Adaptive testing: `bank.adaptive(...)` chooses each next question by its information at the
#   current ability estimate.
# * Test-time scaling (pass@k from repeated samples): `vignettes/test_time_scaling.py`.
