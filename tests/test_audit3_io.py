"""Audit 3, io: ``to_long`` and ``ResponseData.from_matrix`` read a wide matrix alike.

- (a) ``from_matrix`` recorded the response column as ``"response"`` while ``to_long`` (and
  ``fit``, ``from_long``, ``ItemBank.score``) use ``"y"``: a fit on ``from_matrix(wide)`` could not
  forecast from ``to_long(wide)`` (MissingColumnError) without ``response=``.
- (b) datetime and timedelta columns became (nano)second counts and complex columns their real
  part, although columns that are not numbers raise.
"""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats import ResponseData
from irsl_stats.io import from_matrix, to_long

KW = dict(n_threads=1)


@pytest.fixture(scope="module")
def sim():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return irsl.simulate.irt(n_models=30, n_questions=40, benchmarks=2, seed=1)


@pytest.fixture
def wide():
    return pd.DataFrame([[0.9, np.nan, 0.3], [0.2, 0.4, np.nan]], index=["m1", "m2"], columns=["q1", "q2", "q3"])


# --------------------------------------------------------------------------------------------------
# (a) one response name for both routes from a matrix
# --------------------------------------------------------------------------------------------------


def test_fit_on_from_matrix_forecasts_from_to_long_of_the_same_matrix(sim):
    R = sim.responses
    wide = R.pivot(index="model", columns="question", values="y")
    bmap = R.drop_duplicates("question").set_index("question")["benchmark"]
    rd = ResponseData.from_matrix(wide, benchmark=bmap)
    assert rd.columns["response"] == "y"  # was "response"
    long = to_long(wide, benchmark=bmap)
    res = irsl.fit("ability ~ log(compute)", data=rd, models=sim.models.set_index("model"), **KW)
    using = long[long["benchmark"] == "bench0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = res.forecast("bench1", using=using)  # was MissingColumnError: 'response' (response=)
        ref = res.forecast("bench1", using=using, response="y")
    pd.testing.assert_frame_equal(got, ref)
    assert len(got) == wide.shape[0]


def test_from_matrix_long_table_is_the_to_long_table(wide):
    # the same columns and values, so either table can stand for the other (fit, score, forecast)
    back = ResponseData.from_matrix(wide).to_long().reset_index(drop=True)
    ref = to_long(wide)
    assert list(back.columns) == list(ref.columns) == ["model", "question", "y"]
    assert back["y"].tolist() == ref["y"].tolist() == [0.9, 0.3, 0.2, 0.4]
    assert from_matrix(wide).columns["response"] == "y"


def test_from_matrix_keeps_the_old_response_name_on_request(wide):
    d = ResponseData.from_matrix(wide, response="response")
    assert d.columns["response"] == "response"
    assert d.to_long()["response"].tolist() == [0.9, 0.3, 0.2, 0.4]
    assert from_matrix(wide, response="response").columns["response"] == "response"
    with pytest.raises(ValueError, match=r"response='model' is also the name of the model or question column"):
        ResponseData.from_matrix(wide, response="model")
    with pytest.raises(ValueError, match=r"response='benchmark' is also the name of the benchmark column"):
        ResponseData.from_matrix(wide, response="benchmark", benchmark={"q1": "a", "q2": "a", "q3": "b"})


def test_from_matrix_axis_named_y_no_longer_clashes_with_the_response(wide):
    # an axis named like the response falls back to "model"/"question" (as "response" did before)
    w = wide.rename_axis(index="y")
    d = ResponseData.from_matrix(w)
    assert (d.columns["model"], d.columns["question"], d.columns["response"]) == ("model", "question", "y")


# --------------------------------------------------------------------------------------------------
# (b) dates, time spans and complex numbers are not responses
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("column, what", [
    (pd.to_datetime(["2020-01-01", "2020-01-02"]), r"dates, dtype datetime64"),
    (pd.to_datetime(["2020-01-01", None]).tz_localize("UTC"), r"dates, dtype datetime64\[.*UTC\]"),
    (pd.to_timedelta([1, 2], unit="s"), r"time spans, dtype timedelta64"),
    (np.array([0.5 + 0j, 0.25 + 1j]), r"complex numbers, dtype complex128"),
    (pd.Categorical(pd.to_datetime(["2020-01-01", "2020-01-02"])), r"dates, dtype datetime64"),
    (np.array([0.5, np.datetime64("2020-01-01")], dtype=object), r"dates among the values"),
    (np.array([0.5, datetime.timedelta(seconds=3)], dtype=object), r"time spans among the values"),
    (np.array([0.5, 1 + 2j], dtype=object), r"complex numbers among the values"),
    (np.array([0.5, np.datetime64("NaT")], dtype=object), r"dates among the values"),
])
def test_temporal_and_complex_columns_are_rejected_naming_them(column, what):
    w = pd.DataFrame({"q0": [0.1, 0.2], "q1": column}, index=["m1", "m2"])
    pattern = rf"hold dates, time spans or complex numbers.*: 'q1' \({what}"
    # was: to_long / from_matrix read dates as counts since the epoch (1.58e15), time spans as
    # counts of their unit and complex numbers as their real part (with a ComplexWarning)
    with pytest.raises(ValueError, match=pattern):
        to_long(w)
    with pytest.raises(ValueError, match=pattern):
        ResponseData.from_matrix(w)
    with pytest.raises(ValueError, match=pattern):
        from_matrix(w)


def test_several_temporal_columns_are_all_named():
    w = pd.DataFrame({"q0": [0.1, 0.2], "when": pd.to_datetime(["2020-01-01", "2020-01-02"]),
                      "took": pd.to_timedelta([1, 2], unit="s")}, index=["m1", "m2"])
    with pytest.raises(ValueError, match=r"'when' \(dates, .*\), 'took' \(time spans, .*\); convert them"):
        to_long(w)


def test_numbers_bools_and_missing_markers_are_still_accepted():
    w = pd.DataFrame({"q0": [0.1, 0.2, 0.3],
                      "q1": np.array([0.5, None, 0.7], dtype=object),
                      "q2": np.array([0.25, pd.NaT, pd.NA], dtype=object),  # NaT among numbers: not asked
                      "q3": pd.array([1, None, 0], dtype="Int64"),
                      "q4": pd.Categorical([0.1, 0.2, np.nan])}, index=["m1", "m2", "m3"])
    # the NaT column used to fail as a whole-frame cast, with "not numeric: " naming no column
    long = to_long(w)
    assert long.groupby("question")["y"].count().to_dict() == {"q0": 3, "q1": 2, "q2": 1, "q3": 2, "q4": 2}
    assert long.loc[long["question"] == "q2", "y"].tolist() == [0.25]
    assert ResponseData.from_matrix(w.drop(columns="q3")).nobs == 8
    b = pd.DataFrame({"q1": np.array([True, None], dtype=object), "q2": [False, True]}, index=["m1", "m2"])
    assert ResponseData.from_matrix(b, family="bernoulli").nobs == 3


def test_text_columns_are_still_named_as_not_numeric(wide):
    with pytest.raises(ValueError, match=r"not numeric: 'q4'$"):
        to_long(wide.assign(q4=np.array(["a", 0.1], dtype=object)))
