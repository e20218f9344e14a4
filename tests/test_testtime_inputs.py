"""Input checks of the test-time helpers: one curve per group, counts validated like a fit's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from irsl_stats.testtime import observed_pass_at_k, power_law_fit

KS = np.arange(1, 201)


def _curve(model, a, b):
    return pd.DataFrame({"model": model, "k": KS, "pass_at_k": np.exp(-a * KS**b)})


def test_power_law_fit_rejects_several_curves_under_one_key():
    two = pd.concat([_curve("m", 2.0, -0.3).assign(forecast="beta"),
                     _curve("m", 0.5, -0.8).assign(forecast="plugin")], ignore_index=True)
    with pytest.raises(ValueError, match=r"group 'm'.*several curves.*differ in \['forecast'\]"):
        power_law_fit(two)
    fits = power_law_fit(two, by=["model", "forecast"])  # the remedy the message names
    np.testing.assert_allclose(fits["slope"], [-0.3, -0.8], atol=1e-9)
    repeated = pd.concat([_curve("m", 2.0, -0.3), _curve("m", 2.0, -0.3).head(2)], ignore_index=True)
    with pytest.raises(ValueError, match=r"budgets \[1, 2\] appear more than once \(rows"):
        power_law_fit(repeated)


def test_power_law_fit_rejects_missing_group_labels():
    curves = pd.concat([_curve("x", 0.5, -0.8), _curve(np.nan, 2.0, -0.3)], ignore_index=True)
    with pytest.raises(ValueError, match=r"missing \(NaN\) at rows \[200, 201"):
        power_law_fit(curves)


def _counts():
    return pd.DataFrame({"model": ["m", "m", "m", "n"], "question": [1, 2, 3, 1],
                         "successes": [0, 5, 10, 3], "trials": [10, 10, 10, 10]})


def test_observed_pass_at_k_validates_counts_like_a_fit():
    counts = _counts()
    base = observed_pass_at_k(counts, [1, 10])
    assert base["pass_at_k"].tolist() == pytest.approx([0.5, 2 / 3, 0.3, 1.0])
    with pytest.raises(ValueError, match="appear more than once"):
        observed_pass_at_k(pd.concat([counts, counts.head(1)], ignore_index=True), [1, 10])
    missing = counts.assign(model=["m", "m", None, "n"])
    with pytest.raises(ValueError, match="model"):
        observed_pass_at_k(missing, [1, 10])
    too_many = counts.assign(successes=[0, 5, 11, 3])
    with pytest.raises(ValueError, match="successes"):
        observed_pass_at_k(too_many, [1, 10])
