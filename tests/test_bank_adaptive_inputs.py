"""Inputs of adaptive testing and information-based selection (ItemBank.adaptive, .select):
answer tables with repeated questions or several models, empty tables, responses outside the
family's support (checked up front, naming the question), the ``boundary=`` policy, and the
number of trials at which count banks rank questions."""

import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=60, benchmarks=2, seed=0)


@pytest.fixture(scope="module")
def bank(sim):
    res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models,
                   benchmark="benchmark", method="jml", n_threads=1)
    return res.item_bank()


@pytest.fixture(scope="module")
def one(sim):
    """One model's answers to every question (the table keeps its model column)."""
    return sim.responses[sim.responses["model"] == "m05"]


@pytest.fixture(scope="module")
def counts():
    """Sampling counts (2000 samples per cell) from the test-time simulation, U-shaped rates."""
    return irsl.simulate.test_time(n_models=30, n_questions=60, benchmarks=["x"],
                                   benchmark_offsets={"x": 0.0}, d_sd=1.5, phi_median=0.3,
                                   phi_sdlog=1.0, n_samples=2000, seed=2, irt="1pl")


@pytest.fixture(scope="module")
def count_bank(counts):
    return irsl.calibrate(counts.responses, successes="successes", trials="trials",
                          family="beta_binomial", irt="1pl", n_threads=1)


def top(info: pd.Series, n: int = 10) -> set:
    return set(info.nlargest(n).index)


def new_model_counts(counts, n_samples, seed=0) -> pd.DataFrame:
    """A model's answers with ``n_samples`` samples per question (drawn from its true rates)."""
    rng = np.random.default_rng(seed)
    first = counts.responses["model"].iloc[0]
    rows = counts.responses[counts.responses["model"] == first][["question", "p"]].copy()
    rows["question"] = rows["question"].astype(str)
    rows["trials"] = np.broadcast_to(np.asarray(n_samples), len(rows)).astype(int)
    rows["successes"] = rng.binomial(rows["trials"].to_numpy(), rows["p"].to_numpy())
    return rows.drop(columns="p").reset_index(drop=True)


def replay_ranking(bank, result, table, start):
    """Check that every step asked the remaining question with the largest information at the
    estimate before it, evaluated at the trials the answer table carries for each question."""
    n_by_q = table.set_index("question")["trials"]
    remaining = list(table["question"])
    theta = start
    assert len(result.history) > 0
    for step, row in result.history.iterrows():
        info = bank.information(theta, questions=remaining, trials=n_by_q.loc[remaining].to_numpy())
        assert row["question"] == info.idxmax(), f"step {step}"
        assert row["information"] == pytest.approx(info.max(), rel=1e-10)
        remaining.remove(row["question"])
        theta = row["theta"]


# ----------------------------------------------------------------------------- defect 2
def test_adaptive_one_model_table_unchanged(bank, one):
    # the regular case keeps its result: all 60 answers asked equals scoring them
    result = bank.adaptive(one, budget=60)
    assert result.theta == pytest.approx(bank.score(one)["theta"].iloc[0], abs=1e-6)


def test_adaptive_rejects_repeated_questions(bank, one):
    repeated = pd.concat([one, one.head(3).assign(y=0.01)])
    labels = [str(q) for q in one["question"].head(3)]
    with pytest.raises(ValueError, match="more than once") as err:
        bank.adaptive(repeated, budget=60)
    for q in labels:
        assert repr(q) in str(err.value)
    # without a model column too
    with pytest.raises(ValueError, match=repr(labels[0])):
        bank.adaptive(repeated[["question", "y"]], budget=5)


def test_adaptive_rejects_several_models(bank, sim):
    with pytest.raises(ValueError, match="one model's answers") as err:
        bank.adaptive(sim.responses, budget=5)
    msg = str(err.value)
    assert "'model'" in msg and "40" in msg and "'m00'" in msg


def test_adaptive_model_column_with_one_model_is_accepted(bank, one):
    with_model = bank.adaptive(one, budget=8)
    without = bank.adaptive(one[["question", "y"]], budget=8)
    assert list(with_model.questions) == list(without.questions)
    assert with_model.theta == pytest.approx(without.theta)


# ----------------------------------------------------------------------------- defect 3
def test_select_information_at_given_trials(count_bank):
    at5 = count_bank.information(0.0, trials=5)
    picked = count_bank.select(10, strategy="information", by=None, trials=5)
    assert set(picked) == top(at5)
    assert list(picked) == list(at5.sort_values(ascending=False, kind="stable").index[:10])
    # the bank's own trials (2000) rank differently: the argument matters
    assert top(count_bank.information(0.0)) != top(at5)
    # default unchanged: the bank's trials
    assert set(count_bank.select(10, strategy="information", by=None)) == top(count_bank.information(0.0))


def test_select_trials_per_question_series_aligned_by_label(count_bank):
    labels = count_bank.questions
    n = pd.Series(np.where(np.arange(len(labels)) % 2 == 0, 3, 40), index=labels)
    expected = count_bank.information(0.0, trials=n.to_numpy())
    picked = count_bank.select(10, strategy="information", by=None, trials=n.iloc[::-1])
    assert set(picked) == top(expected)


@pytest.mark.parametrize("bad,match", [(0, "trials"), (np.nan, "trials"), (2.5, "whole"),
                                       ([5, 6], "one value per question")])
def test_select_trials_validated(count_bank, bad, match):
    with pytest.raises(ValueError, match=match):
        count_bank.select(10, strategy="information", by=None, trials=bad)


def test_select_trials_series_missing_questions_named(count_bank):
    n = pd.Series(5, index=count_bank.questions[1:])
    with pytest.raises(ValueError, match=repr(str(count_bank.questions[0]))):
        count_bank.select(10, strategy="information", by=None, trials=n)


def test_select_trials_rejected_for_non_count_bank(bank):
    with pytest.raises(ValueError, match="count"):
        bank.select(5, strategy="information", trials=50)
    # the default stays as it was
    assert len(bank.select(5, strategy="information")) == 10


def test_information_validates_trials(count_bank):
    with pytest.raises(ValueError, match="trials"):
        count_bank.information(0.0, trials=-1)


def test_adaptive_table_ranks_at_the_answers_trials(count_bank, counts):
    table = new_model_counts(counts, 5)
    result = count_bank.adaptive(table, budget=12, successes="successes", trials="trials")
    replay_ranking(count_bank, result, table, count_bank.population[0])


def test_adaptive_table_with_varying_trials(count_bank, counts):
    n = np.where(np.arange(60) % 3 == 0, 2, 30)
    table = new_model_counts(counts, n, seed=1)
    result = count_bank.adaptive(table, budget=12, successes="successes", trials="trials")
    replay_ranking(count_bank, result, table, count_bank.population[0])


def test_adaptive_callable_trials_argument(count_bank, counts):
    table = new_model_counts(counts, 5, seed=2)
    k = table.set_index("question")["successes"]
    by_callable = count_bank.adaptive(lambda q: int(k[q]), budget=10, trials=5)
    by_table = count_bank.adaptive(table, budget=10, successes="successes", trials="trials")
    assert list(by_callable.questions) == list(by_table.questions)
    assert by_callable.theta == pytest.approx(by_table.theta)
    # a callable returning (k, n) with trials= ranks at trials= too
    pairs = count_bank.adaptive(lambda q: (int(k[q]), 5), budget=10, trials=5)
    assert list(pairs.questions) == list(by_table.questions)


def test_adaptive_callable_trials_must_be_numbers(count_bank):
    with pytest.raises(ValueError, match="trials"):
        count_bank.adaptive(lambda q: 1, budget=3, trials="n")
    with pytest.raises(ValueError, match="trials"):
        count_bank.adaptive(lambda q: 1, budget=3, trials=0)


# ----------------------------------------------------------------------------- defect 8
def test_adaptive_response_of_one_checked_up_front_naming_the_question(bank, one):
    label = str(one["question"].iloc[7])
    table = one.assign(y=np.where(one["question"] == label, 1.0, one["y"]))
    with pytest.raises(ValueError, match="boundary") as err:
        bank.adaptive(table, budget=1)     # one step would never reach that question
    assert label in str(err.value) and "'y'" in str(err.value)


def test_adaptive_boundary_clip_and_squeeze(bank, one):
    label = one["question"].iloc[7]
    table = one.assign(y=np.where(one["question"] == label, 1.0, one["y"]))
    for policy in ("clip", "squeeze"):
        got = bank.adaptive(table, budget=60, boundary=policy)
        assert got.theta == pytest.approx(bank.score(table, boundary=policy)["theta"].iloc[0], abs=1e-6)
    clipped = table.assign(y=np.clip(table["y"], 1e-6, 1 - 1e-6))
    assert bank.adaptive(table, budget=20, boundary="clip").theta == pytest.approx(
        bank.adaptive(clipped, budget=20).theta)
    with pytest.raises(ValueError, match="boundary"):
        bank.adaptive(table, budget=5, boundary="round")


def test_adaptive_callable_response_of_one(bank, one):
    y = one.set_index(one["question"].astype(str))["y"]
    with pytest.raises(ValueError, match="boundary") as err:
        bank.adaptive(lambda q: 1.0, budget=3)
    assert repr(str(bank.questions[0])) in str(err.value) or "answer(" in str(err.value)
    clipped = bank.adaptive(lambda q: 1.0, budget=3, boundary="clip")
    ref = bank.adaptive(lambda q: 1 - 1e-6, budget=3)
    assert clipped.theta == pytest.approx(ref.theta)
    # squeeze: n = the number of questions the test asks, as score() of those answers
    sq = bank.adaptive(lambda q: 1.0 if q == y.index[0] else float(y[q]), budget=60, boundary="squeeze")
    table = one.assign(y=np.where(one["question"].astype(str) == y.index[0], 1.0, one["y"]))
    assert sq.theta == pytest.approx(bank.score(table, boundary="squeeze")["theta"].iloc[0], abs=1e-6)


def test_adaptive_callable_invalid_response_names_question(bank):
    bern_items = bank.items[["a", "d"]]
    bern = irsl.ItemBank(bern_items, family="bernoulli")
    with pytest.raises(ValueError) as err:
        bern.adaptive(lambda q: 0.5, budget=3)
    assert "answer(" in str(err.value)
    with pytest.raises(ValueError, match="NaN"):
        bank.adaptive(lambda q: np.nan, budget=3)


def test_adaptive_count_table_validated(count_bank, counts):
    table = new_model_counts(counts, 5)
    table.loc[3, "successes"] = 9
    with pytest.raises(ValueError, match="more successes than trials") as err:
        count_bank.adaptive(table, budget=3, successes="successes", trials="trials")
    assert str(table.loc[3, "question"]) in str(err.value)
    with pytest.raises(ValueError, match="successes"):
        count_bank.adaptive(new_model_counts(counts, 5), budget=3)   # columns not named


def test_adaptive_empty_table_is_an_error(bank, one):
    with pytest.raises(ValueError, match="no rows"):
        bank.adaptive(one.iloc[:0], budget=5)


def test_adaptive_table_of_unknown_questions_is_an_error(bank):
    table = pd.DataFrame({"question": ["zz1", "zz2"], "y": [0.3, 0.6]})
    with pytest.raises(ValueError, match="'zz1'"):
        bank.adaptive(table, budget=5)


def test_adaptive_by_group_without_answers(bank, one):
    # answers to one benchmark only, by benchmark: the other benchmark has no candidates and is
    # skipped; asking is limited to what is available
    b0 = one[one["benchmark"] == "bench0"]
    result = bank.adaptive(b0, budget=4, by="benchmark")
    assert len(result.questions) == 4
    assert set(bank.items.loc[result.questions, "benchmark"]) == {"bench0"}


def test_adaptive_models_table_uses_the_tested_models_row():
    sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        bank = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, method="jml",
                        n_threads=1).item_bank()
    one = sim.responses[sim.responses["model"] == "m05"]
    own_row = sim.models[sim.models["model"] == "m05"]
    expected = bank.adaptive(one, budget=10, models=own_row)
    # the whole table: the row of the model the answers name, not the first row
    got = bank.adaptive(one, budget=10, models=sim.models)
    assert got.theta == pytest.approx(expected.theta) and got.se == pytest.approx(expected.se)
    first_row = bank.adaptive(one, budget=10, models=sim.models.head(1))
    assert first_row.theta != pytest.approx(expected.theta)
    with pytest.raises(ValueError, match="models= has 40 rows; adaptive testing scores one model"):
        bank.adaptive(lambda q: 0.5, budget=5, models=sim.models)
