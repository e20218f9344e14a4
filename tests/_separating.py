"""Test data: one question that separates the models perfectly (shared by the prior tests)."""

import numpy as np
import pandas as pd


def separate_first_question(responses: pd.DataFrame):
    """Make the first question of ``responses`` (counts with a ``benchmark`` column) solved every
    time by the stronger half of the models on its benchmark and never by the others.

    Returns
    -------
    (DataFrame, question label, benchmark label)
    """
    df = responses.copy()
    q0 = df["question"].iloc[0]
    bench = df.loc[df["question"] == q0, "benchmark"].iloc[0]
    total = df[df["benchmark"] == bench].groupby("model", observed=True)["successes"].sum()
    strong = total.index[total > total.median()]
    split = df["question"] == q0
    df.loc[split, "successes"] = np.where(df.loc[split, "model"].isin(strong), df.loc[split, "trials"], 0)
    return df, q0, bench
