"""Stratified question selection is unbiased: every question has inclusion probability n / N."""

import numpy as np

from irsl_stats.selection import stratified_pick


def test_stratified_inclusion_probability_is_uniform():
    rng = np.random.default_rng(0)
    b = rng.normal(size=60)
    counts = np.zeros(60)
    reps = 4000
    for _ in range(reps):
        picks = stratified_pick(b, 50, rng)
        assert len(np.unique(picks)) == 50
        counts[picks] += 1
    freq = counts / reps
    # binomial SD of a frequency near 5/6 over 4000 draws is ~0.006
    assert np.abs(freq - 50 / 60).max() < 0.03


def test_stratified_covers_difficulty_quantiles():
    rng = np.random.default_rng(1)
    b = rng.normal(size=300)
    picks = stratified_pick(b, 10, rng)
    ranks = np.argsort(np.argsort(b))[picks]
    assert sorted(ranks // 30) == list(range(10))
