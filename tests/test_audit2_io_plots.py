"""Audit 2 regressions: lm-eval samples reader, read_counts roles, blank pass@k plots."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import irsl_stats as irsl  # noqa: E402


def _write(d, task, records):
    d.mkdir(exist_ok=True)
    path = d / f"samples_{task}_2024-01-01T00-00-00.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# ------------------------------------------------------------------------------- read_lm_eval_samples
def test_single_choice_positive_loglik_is_an_error_naming_file_and_line(tmp_path):
    d = tmp_path / "org__m"
    ok = {"doc_id": 0, "filtered_resps": [[-0.5, True]], "acc": 1}
    path = _write(d, "lambada", [ok, {"doc_id": 1, "filtered_resps": [[0.5, True]], "acc": 1}])
    # old code: y = exp(0.5) = 1.6487, a "probability" above 1
    with pytest.raises(ValueError, match=r"line 2 \(doc_id 1\): single-choice log-likelihood 0\.5 is > 0") as exc:
        irsl.read_lm_eval_samples(d)
    assert str(path) in str(exc.value)
    # a log-likelihood of exactly 0 (probability 1) is valid
    _write(d, "lambada", [ok, {"doc_id": 1, "filtered_resps": [[0.0, True]], "acc": 1}])
    df = irsl.read_lm_eval_samples(d)
    np.testing.assert_allclose(df["y"], [np.exp(-0.5), 1.0])


def test_generation_record_is_read_from_its_metric_not_resps(tmp_path):
    d = tmp_path / "org__m"
    _write(d, "gsm8k", [
        {"doc_id": 0, "target": "12", "filtered_resps": ["12"], "resps": [["12", "True"]], "exact_match": 0.0},
        {"doc_id": 1, "target": "7", "filtered_resps": ["7"], "resps": [["7", "True"]], "exact_match": 1.0},
    ])
    df = irsl.read_lm_eval_samples(d)
    # old code: y = exp(12) = 162754.79 and acc = 1 (the "True" read as is_greedy)
    assert df["y"].tolist() == [0.0, 1.0]
    assert df["acc"].tolist() == [0, 1]
    assert df["n_choices"].tolist() == [0, 0]


def test_generation_record_without_supported_metric_names_its_fields(tmp_path):
    d = tmp_path / "org__m"
    path = _write(d, "gsm8k", [
        {"doc_id": 0, "target": "12", "filtered_resps": ["12"], "resps": [["12", "True"]], "bleu": 3.0},
    ])
    with pytest.raises(ValueError, match=r"supported: 'exact_match', 'acc'\); the record's metric fields: \['bleu'\]") as exc:
        irsl.read_lm_eval_samples(d)
    assert f"{path}: line 1" in str(exc.value)
    # the harness's own "metrics" list names them when present
    _write(d, "gsm8k", [
        {"doc_id": 0, "filtered_resps": ["12"], "resps": [["12", "True"]], "f1": 0.4, "metrics": ["f1"]},
    ])
    with pytest.raises(ValueError, match=r"metric fields: \['f1'\]"):
        irsl.read_lm_eval_samples(d)
    # metric= picks a supported field by name
    _write(d, "gsm8k", [
        {"doc_id": 0, "filtered_resps": ["12"], "resps": [["12", "True"]], "strict": 1, "metrics": ["strict"]},
    ])
    assert irsl.read_lm_eval_samples(d, metric="strict")["y"].tolist() == [1.0]
    with pytest.raises(ValueError, match=r"nor the metric='pass@1' field; the record's metric fields: \['strict'\]"):
        irsl.read_lm_eval_samples(d, metric="pass@1")


# ------------------------------------------------------------------------------------------ read_counts
def test_read_counts_rejects_one_column_in_two_roles():
    df = pd.DataFrame({"model": ["a", "b"], "problem": [1, 1], "n": [3, 5]})
    # old code: every rate k / n == 1
    with pytest.raises(ValueError, match=r"'n' is given as successes= and trials="):
        irsl.read_counts(df, successes="n", trials="n")
    with pytest.raises(ValueError, match=r"'model' is given as model= and question="):
        irsl.read_counts(df.assign(k=1), question="model", successes="k", trials="n")
    with pytest.raises(ValueError, match=r"'problem' is given as question= and benchmark="):
        irsl.read_counts(df.assign(k=1), successes="k", trials="n", benchmark="problem")


# --------------------------------------------------------------------------------------------- plots
@pytest.mark.parametrize("forecast", [
    pd.DataFrame({"model": pd.Series([], dtype=object), "k": pd.Series([], dtype=float),
                  "pass_at_k": pd.Series([], dtype=float)}),
    pd.DataFrame({"k": pd.Series([], dtype=float), "pass_at_k": pd.Series([], dtype=float)}),
    pd.DataFrame({"model": "m", "k": [1, 10], "pass_at_k": [np.nan, np.nan]}),
    pd.DataFrame({"k": [1, 10], "pass_at_k": [np.nan, np.nan]}),
])
def test_plot_pass_at_k_refuses_to_draw_nothing(forecast):
    # old code: a blank or all-NaN figure (plus a "No artists with labels" warning when empty)
    with pytest.raises(ValueError, match=r"no rows with finite 'k' and 'pass_at_k' in forecast"):
        irsl.plot_pass_at_k(forecast)


def test_plot_pass_at_k_checks_only_the_chosen_models():
    fc = pd.DataFrame({"model": ["a", "a", "b", "b"], "k": [1, 10, 1, 10],
                       "pass_at_k": [0.2, 0.5, np.nan, np.nan]})
    with pytest.raises(ValueError, match=r"no rows with finite 'k' and 'pass_at_k' in forecast for models \['b'\]"):
        irsl.plot_pass_at_k(fc, models=["b"])
    fig = irsl.plot_pass_at_k(fc)  # one drawable model is enough
    assert len(fig.axes[0].get_lines()) == 2


@pytest.mark.parametrize("curves", [
    pd.DataFrame({"model": pd.Series([], dtype=object), "k": pd.Series([], dtype=float),
                  "pass_at_k": pd.Series([], dtype=float)}),
    pd.DataFrame({"model": "m", "k": [1, 10], "pass_at_k": [np.nan, np.nan]}),
])
def test_plot_power_law_refuses_to_draw_nothing(curves):
    with pytest.raises(ValueError, match=r"no rows with finite 'k' > 0 and 0 < 'pass_at_k' < 1 in curves"):
        irsl.plot_power_law(curves)


def test_plot_scaling_rejects_empty_levels():
    sim = irsl.simulate.irt(n_models=20, n_questions=20, seed=1)
    res = irsl.fit("ability ~ log(compute) + family", data=sim.responses, models=sim.models)
    # old code: a blank figure and a "No artists with labels" warning
    with pytest.raises(ValueError, match=r"levels= is empty"):
        irsl.plot_scaling(res, x="compute", by="family", levels=[])
