# %% [markdown]
# # Quickstart: a scaling law with standard errors from simulated evaluation data
#
# We simulate 300 language models (compute from 1e20 to 1e25 FLOPs, three model families) answering
# 400 questions with a probability of the correct answer (a Beta response), then fit the Item
# Response Scaling Law `ability ~ log(compute) + family` by joint and by marginal maximum likelihood.
#
# Run it as `python vignettes/quickstart.py` (or open it as a notebook with jupytext).

# %%
import time

import irsl_stats as irsl

irsl.show_build()
sim = irsl.simulate.irt(n_models=300, n_questions=400, benchmarks=2, seed=0)
print(sim.responses.head())
print(sim.models.head())

# %% [markdown]
# ## Joint maximum likelihood

# %%
t0 = time.perf_counter()
res = irsl.fit(
    "ability ~ log(compute) + family",
    data=sim.responses,
    models=sim.models,
    benchmark="benchmark",
    family="beta",
    irt="2pl",
    precision="item",
    method="jml",
)
print(f"JML fit in {time.perf_counter() - t0:.2f} s")
print(res.summary())

# %% [markdown]
# ## Marginal maximum likelihood (abilities integrated out)

# %%
t0 = time.perf_counter()
res_mml = irsl.fit(
    "ability ~ log(compute) + family",
    data=sim.responses,
    models=sim.models,
    benchmark="benchmark",
    method="mml",
)
print(f"MML fit in {time.perf_counter() - t0:.2f} s")
print(res_mml.params.to_frame("MML").join(res.params.to_frame("JML")))

# %% [markdown]
# ## Forecast a larger model's score on each benchmark, with intervals

# %%
import pandas as pd

new = pd.DataFrame({"compute": [1e25, 1e26], "family": ["fam0", "fam0"]}, index=["big", "bigger"])
for bench in res.items["benchmark"].unique():
    print(bench)
    print(res.predict(new, what="score", benchmark=bench).round(3))
