"""Audit fixes in data.py, api.py and bank.py: scoring squeezes as the calibration did, unrelated list
columns, huge pass@k budgets, NaN ability SEs in pass@k forecasts, categorical ids with unused
categories, ``full_cov`` and ``precision`` validation, clear errors at the entry of ``fit`` and
the message for beta rates at the boundary from counts."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats import IRSLWarning, ResponseData

FORMULA = "ability ~ log(compute)"


def _fit(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return irsl.fit(*args, n_threads=1, **kw)


def _calibrate(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return irsl.calibrate(*args, n_threads=1, **kw)


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=40, n_questions=30, seed=3, benchmarks=2)


# ------------------------------------------------------------------ 1. squeeze as the calibration
@pytest.fixture(scope="module")
def rounded():
    sim = irsl.simulate.irt(n_models=30, n_questions=40, seed=2)
    # rates with exact 0s and 1s
    return sim, sim.responses.assign(y=lambda d: d.y.round(2))


@pytest.fixture(scope="module")
def squeezed_fit(rounded):
    sim, R = rounded
    res = _fit("ability ~ 1", data=R, boundary="squeeze")
    return res, res.item_bank()


def _squeeze(y, n):
    return (np.asarray(y, float) * (n - 1.0) + 0.5) / n


def _scored_data(monkeypatch, bank, table, **kw):
    """The ResponseData that ItemBank.score hands to the kernel, and the scores."""
    import irsl_stats.bank as bank_module

    seen = []
    real = bank_module.bank_kernel_data

    def spy(questions, family, rd, n_threads):
        seen.append(rd)
        return real(questions, family, rd, n_threads)

    monkeypatch.setattr(bank_module, "bank_kernel_data", spy)
    out = bank.score(table, n_threads=1, **kw)
    monkeypatch.undo()
    assert len(seen) == 1
    return seen[0], out


def test_score_squeeze_does_not_depend_on_the_other_models(rounded):
    # before: m00 alone -1.175, with one more model -1.196, within 100 models -1.251 (the
    # squeeze used the number of rows of the scored table)
    sim, R = rounded
    bank = _calibrate(R, boundary="squeeze")
    assert bank.squeeze_n == float(len(R)) == 1200.0  # the calibration table's rows
    full = bank.score(R, boundary="squeeze", n_threads=1)
    for label in ["m00", "m07"]:
        alone = bank.score(R[R.model == label], boundary="squeeze", n_threads=1)
        # identical up to rounding (the old differences were 0.02 to 0.08)
        assert alone.loc[label, "theta"] == pytest.approx(full.loc[label, "theta"], abs=1e-12)
        assert alone.loc[label, "se"] == pytest.approx(full.loc[label, "se"], abs=1e-12)
    pair = bank.score(R[R.model.isin(["m00", "m01"])], boundary="squeeze", n_threads=1)
    assert pair.loc["m00", "theta"] == pytest.approx(full.loc["m00", "theta"], abs=1e-12)


def test_score_squeezes_new_responses_as_the_calibration_did(rounded, squeezed_fit, monkeypatch):
    # the first fix squeezed with each model's own 40 responses (0.9 -> 0.8900, the fit had
    # 0.8997), and the original with the scored table's rows (40 for one model)
    sim, R = rounded
    res, bank = squeezed_fit
    fit_rd = res._response_data
    assert fit_rd.squeeze_n == bank.squeeze_n == 1200.0
    fit_y = pd.Series(fit_rd.y, index=pd.MultiIndex.from_arrays(
        [fit_rd.model_labels.take(fit_rd.model), fit_rd.item_labels.take(fit_rd.item)]))
    for table in (R[R.model == "m00"], R[R.model.isin(["m03", "m11"])], R):
        rd, _ = _scored_data(monkeypatch, bank, table, boundary="squeeze")
        keys = list(zip(rd.model_labels.take(rd.model), rd.item_labels.take(rd.item)))
        np.testing.assert_array_equal(rd.y, fit_y.loc[keys].to_numpy())
        raw = R.set_index(["model", "question"])["y"].loc[keys].to_numpy()
        np.testing.assert_allclose(rd.y, _squeeze(raw, 1200.0), rtol=0, atol=1e-15)
    # so the calibration models scored with the fit's quadrature get the fit's own abilities
    # (EAP under the fitted population, 7 nodes): 5e-10 apart; per model up to 0.19 apart, and
    # with the scored table's rows m03 alone got other responses than in the fit
    for table in (R, R[R.model == "m03"]):
        sc = bank.score(table, boundary="squeeze", n_quad=7, n_threads=1)
        np.testing.assert_allclose(sc["theta"], res.abilities["theta"].reindex(sc.index), rtol=0, atol=1e-7)
        np.testing.assert_allclose(sc["se"], res.abilities["se"].reindex(sc.index), rtol=0, atol=1e-7)


def test_squeeze_n_is_recorded_whatever_the_calibration_boundary(rounded, monkeypatch):
    # a bank calibrated with "clip" (or "error") and scored with "squeeze" squeezes with the
    # calibration's sample size too, not with the rows of the scored table
    sim, R = rounded
    rd = ResponseData.from_long(R, boundary="clip")
    assert rd.squeeze_n == 1200.0 and rd.subset(models=["m00"]).squeeze_n == 1200.0
    bank = _calibrate(R, boundary="clip")
    assert bank.squeeze_n == 1200.0
    assert bank.subset(bank.questions[:5]).squeeze_n == 1200.0
    one = R[R.model == "m05"].astype({"model": str, "question": str})  # no unused categories
    scored, _ = _scored_data(monkeypatch, bank, one, boundary="squeeze")
    np.testing.assert_allclose(scored.y, _squeeze(one.sort_values("question").y, 1200.0), rtol=0, atol=1e-15)
    # from_long: squeeze_n replaces the number of rows (default unchanged) and is validated
    np.testing.assert_allclose(ResponseData.from_long(one, boundary="squeeze", squeeze_n=1200).y,
                               scored.y, rtol=0, atol=0)
    np.testing.assert_allclose(ResponseData.from_long(one, boundary="squeeze").y,
                               _squeeze(one.sort_values("question").y, 40.0), rtol=0, atol=1e-15)
    for bad in (0.5, np.nan, np.inf, "many", True):
        with pytest.raises(ValueError, match="squeeze_n must be a finite number >= 1"):
            ResponseData.from_long(one, boundary="squeeze", squeeze_n=bad)
        with pytest.raises(ValueError, match="squeeze_n must be a finite number >= 1"):
            irsl.ItemBank(bank.items, family="beta", squeeze_n=bad)


def test_bank_file_keeps_squeeze_n_and_old_files_load(rounded, squeezed_fit, tmp_path):
    from irsl_stats.bank import FORMAT_VERSION, SCHEMA, _seal

    sim, R = rounded
    res, bank = squeezed_fit
    path = tmp_path / "bank.json"
    bank.save(path)
    back = irsl.ItemBank.load(path)
    assert back.squeeze_n == 1200.0
    one = R[R.model == "m02"]
    pd.testing.assert_frame_equal(back.score(one, boundary="squeeze", n_threads=1),
                                  bank.score(one, boundary="squeeze", n_threads=1))
    # a file written before squeeze_n existed: loads, without it (scoring then uses the rows of
    # the scored table, as a hand-built bank does)
    payload = json.loads(bank.to_json())["payload"]
    del payload["squeeze_n"]
    old = irsl.ItemBank.from_json(_seal(payload, SCHEMA, FORMAT_VERSION))
    assert old.squeeze_n is None
    pd.testing.assert_frame_equal(old.items, bank.items)
    hand = irsl.ItemBank(bank.items, family="beta", population=bank.population)
    assert hand.squeeze_n is None
    got = old.score(one, boundary="squeeze", n_threads=1)
    pd.testing.assert_frame_equal(got, hand.score(one, boundary="squeeze", n_threads=1))
    assert got.loc["m02", "theta"] != bank.score(one, boundary="squeeze", n_threads=1).loc["m02", "theta"]


def test_adaptive_squeezes_with_the_banks_squeeze_n(rounded, squeezed_fit):
    # the adaptive test squeezed with the number of questions it asks (here 12 and 40), not as
    # the calibration (1200 rows)
    sim, R = rounded
    res, bank = squeezed_fit
    rows = R[R.model == "m03"]
    answers = rows.set_index("question")["y"]
    for budget in (12, len(rows)):
        ad = bank.adaptive(lambda q: answers[q], budget=budget, boundary="squeeze")
        np.testing.assert_allclose(ad.responses, _squeeze(answers[ad.questions], 1200.0), rtol=0, atol=1e-15)
        # the same answers scored by score(): the same ability
        sc = bank.score(rows[rows.question.isin(ad.questions)], boundary="squeeze", n_threads=1)
        assert ad.theta == pytest.approx(sc.loc["m03", "theta"], abs=1e-8)
    # an answer table too
    ad = bank.adaptive(rows, budget=10, boundary="squeeze")
    np.testing.assert_allclose(ad.responses, _squeeze(answers[ad.questions], 1200.0), rtol=0, atol=1e-15)
    # a bank without squeeze_n: the number of questions the test asks (the documented fallback)
    hand = irsl.ItemBank(bank.items, family="beta", population=bank.population)
    ad = hand.adaptive(lambda q: answers[q], budget=12, boundary="squeeze")
    np.testing.assert_allclose(ad.responses, _squeeze(answers[ad.questions], 12.0), rtol=0, atol=1e-15)


# ------------------------------------------------------------------ 3. unrelated list column
def test_list_column_does_not_crash_fit_or_calibrate(sim):
    R = sim.responses.assign(resps=[["A", "B"]] * len(sim.responses),
                             doc=[{"id": 1}] * len(sim.responses))
    ref = _fit(FORMULA, data=sim.responses, models=sim.models)
    res = _fit(FORMULA, data=R, models=sim.models)
    pd.testing.assert_series_equal(res.params, ref.params)
    bank = _calibrate(R)
    pd.testing.assert_frame_equal(bank.items, _calibrate(sim.responses).items)


def test_list_column_is_skipped_by_a_precision_formula(sim):
    # the scan for question covariates (precision="~ ...") skips unhashable columns
    qcov = sim.responses["question"].cat.codes.to_numpy() % 3
    R = sim.responses.assign(qlen=qcov.astype(float))
    ref = _fit(FORMULA, data=R, models=sim.models, precision="~ qlen")
    res = _fit(FORMULA, data=R.assign(resps=[["A", "B"]] * len(R)), models=sim.models, precision="~ qlen")
    pd.testing.assert_series_equal(res.params, ref.params)
    assert "qlen" in " ".join(res.params.index)


# ------------------------------------------------------------------ 4. budgets >= 2**63
def test_forecast_pass_at_k_rejects_budgets_beyond_int64(sim):
    bank = _calibrate(sim.responses)
    with pytest.raises(ValueError, match=r"budgets k must be < 2\*\*63.*9\.223372036854776e\+18"):
        bank.forecast_pass_at_k([0.0], [2.0**63])
    with pytest.raises(ValueError, match=r"budgets k must be < 2\*\*63.*\[1e\+19\] at positions \[1\]"):
        bank.forecast_pass_at_k([0.0, 1.0], [5, 1e19], se=[0.1, 0.2])
    res = _fit(FORMULA, data=sim.responses, models=sim.models)
    with pytest.raises(ValueError, match=r"budgets k must be < 2\*\*63"):
        res.forecast_pass_at_k([1e19])
    # the largest budgets that fit stay exact integers
    out = bank.forecast_pass_at_k([0.0], [1, 2**62])
    assert out["k"].tolist() == [1, 2**62] and out["k"].dtype == np.int64


# ------------------------------------------------------------------ 6. NaN standard errors
def test_fit_forecast_pass_at_k_with_nan_ability_ses():
    # a bernoulli JML fit where two abilities have a NaN se: m03 answers every question right and
    # m19 every one wrong (their abilities are at +-inf)
    sim = irsl.simulate.irt(n_models=40, n_questions=50, family="bernoulli", seed=2)
    responses = sim.responses.copy()
    responses.loc[responses["model"] == "m03", "y"] = 1.0
    responses.loc[responses["model"] == "m19", "y"] = 0.0
    res = _fit(FORMULA, data=responses, models=sim.models, family="bernoulli", method="jml")
    nan_models = res.abilities.index[res.abilities["se"].isna()].tolist()
    assert nan_models == ["m03", "m19"]
    with pytest.warns(IRSLWarning, match=r"2 model\(s\) have no standard error.*'m03', 'm19'") as rec:
        out = res.forecast_pass_at_k([1, 5])
    assert sum("no standard error" in str(w.message) for w in rec) == 1
    bad = out["model"].isin(nan_models)
    assert out.loc[bad, ["lower", "upper"]].isna().all().all()
    assert out.loc[~bad, ["lower", "upper"]].notna().all().all()
    point = res.item_bank().forecast_pass_at_k(res.abilities["theta"], [1, 5])
    np.testing.assert_allclose(out["pass_at_k"], point["pass_at_k"])


def test_bank_forecast_pass_at_k_with_nan_se(sim):
    bank = _calibrate(sim.responses)
    theta = pd.Series([-0.5, 0.0, 0.7], index=["a", "b", "c"])
    se = pd.Series([0.2, np.nan, 0.1], index=["a", "b", "c"])
    with pytest.warns(IRSLWarning, match=r"1 model\(s\).*'b'"):
        out = bank.forecast_pass_at_k(theta, [1, 10], se=se)
    ref = bank.forecast_pass_at_k(theta, [1, 10], se=se.fillna(0.3))
    b = out["model"] == "b"
    assert out.loc[b, ["lower", "upper"]].isna().all().all()
    pd.testing.assert_frame_equal(out[~b], ref[~b])
    np.testing.assert_allclose(out["pass_at_k"], bank.forecast_pass_at_k(theta, [1, 10])["pass_at_k"])
    # integrate=True: the others are integrated, the NaN one forecast at theta
    with pytest.warns(IRSLWarning, match="no standard error"):
        integ = bank.forecast_pass_at_k(theta, [10], se=se, integrate=True)
    plain = bank.forecast_pass_at_k(theta, [10])
    assert integ.loc[1, "pass_at_k"] == pytest.approx(plain.loc[1, "pass_at_k"])
    # still errors: negative or infinite se, NaN theta
    for s in ([0.2, -0.1, 0.1], [0.2, np.inf, 0.1]):
        with pytest.raises(ValueError, match="`se` must be"):
            bank.forecast_pass_at_k(theta, [1], se=s)
    with pytest.raises(ValueError, match="`theta` must be finite"):
        bank.forecast_pass_at_k([0.0, np.nan], [1], se=[0.1, 0.1])


# ------------------------------------------------------------------ 8. unused categories
def test_categorical_ids_with_unused_categories_fit_like_strings():
    sim = irsl.simulate.irt(n_models=60, n_questions=30, seed=1)
    R = sim.responses
    cal = R[R.model.isin(sim.models.model[:40]) & R.question.isin(R.question.cat.categories[:25])]
    assert cal.model.cat.categories.size == 60 and cal.question.cat.categories.size == 30
    as_str = cal.astype({"model": str, "question": str})
    res = _fit(FORMULA, data=cal, models=sim.models)
    ref = _fit(FORMULA, data=as_str, models=sim.models)
    assert res.nobs == ref.nobs == 1000
    pd.testing.assert_series_equal(res.params, ref.params)
    np.testing.assert_array_equal(res.abilities["theta"].to_numpy(), ref.abilities["theta"].to_numpy())
    assert list(res.abilities.index) == list(ref.abilities.index)
    bank, bank_ref = _calibrate(cal), _calibrate(as_str)
    assert list(bank.questions) == list(bank_ref.questions)
    np.testing.assert_array_equal(bank.items[["a", "d"]].to_numpy(), bank_ref.items[["a", "d"]].to_numpy())


# ------------------------------------------------------------------ 9. full_cov
def test_full_cov_is_validated(sim):
    with pytest.raises(ValueError, match=r"full_cov must be True, False or 'auto'; got 'yes'"):
        irsl.fit(FORMULA, data=sim.responses, models=sim.models, method="jml", full_cov="yes")
    with pytest.raises(ValueError, match="full_cov must be"):
        irsl.fit(FORMULA, data=sim.responses, models=sim.models, full_cov=1)


def test_full_cov_true_with_mml_warns(sim):
    with pytest.warns(IRSLWarning, match=r"full_cov=True applies only to method='jml'"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="(?!full_cov)", category=IRSLWarning)
            res = irsl.fit(FORMULA, data=sim.responses, models=sim.models, full_cov=True, n_threads=1)
    with pytest.raises(ValueError, match="no joint covariance"):
        res.joint_cov_params()
    # jml with numpy's True forms it
    jml = _fit(FORMULA, data=sim.responses, models=sim.models, method="jml", full_cov=np.True_)
    assert jml.joint_cov_params().shape[0] > 40


# ------------------------------------------------------------------ 13. numpy precision
def test_precision_accepts_numpy_numbers(sim):
    ref = _fit(FORMULA, data=sim.responses, models=sim.models, precision=10.0)
    for p in (np.int64(10), np.float32(10.0), 10):
        res = _fit(FORMULA, data=sim.responses, models=sim.models, precision=p)
        pd.testing.assert_series_equal(res.params, ref.params)
    with pytest.raises(ValueError, match="precision must be"):
        irsl.fit(FORMULA, data=sim.responses, models=sim.models, precision=np.True_)


# ------------------------------------------------------------------ 14. entry errors
def test_fit_entry_errors_name_the_argument(sim):
    R, M = sim.responses, sim.models
    with pytest.raises(TypeError, match="models must be a pandas DataFrame.*got ndarray"):
        irsl.fit(FORMULA, data=R, models=M.to_numpy())
    with pytest.raises(TypeError, match="models must be a pandas DataFrame.*got Series"):
        irsl.fit(FORMULA, data=R, models=M.set_index("model")["compute"])
    with pytest.raises(TypeError, match="formula must be a string.*got NoneType"):
        irsl.fit(None, data=R, models=M)
    dup = pd.concat([M, M[["compute"]]], axis=1)
    with pytest.raises(ValueError, match=r"models has repeated column name\(s\) \['compute'\]"):
        irsl.fit(FORMULA, data=R, models=dup)
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        irsl.calibrate(None)


# ------------------------------------------------------------------ 16. rate at the boundary
def test_beta_rate_from_counts_at_the_boundary_names_both_columns():
    sim = irsl.simulate.irt(n_models=20, n_questions=10, family="beta_binomial", n_trials=20, seed=4)
    with pytest.raises(ValueError) as err:
        irsl.fit("ability ~ 1", data=sim.responses, family="beta", successes="successes", trials="trials")
    msg = str(err.value)
    assert msg.startswith("columns 'successes' and 'trials': 40 of 200 rows have a rate "
                          "successes/trials exactly 0 or 1")
    shown = msg.splitlines()[1:7]
    assert "successes" in shown[0] and "trials" in shown[0] and len(shown) == 6
    # the response column of rates keeps its own wording
    R = sim.responses.assign(rate=sim.responses.successes / sim.responses.trials)
    with pytest.raises(ValueError, match=r"^column 'rate': 40 of 200 rows are exactly 0 or 1"):
        irsl.fit("ability ~ 1", data=R, response="rate")


def test_multidim_bank_squeeze_as_the_calibration_whatever_the_other_models(tmp_path):
    # MultidimBank squeezed with the rows of the scored table: a model alone and among the others
    # got different posteriors, and neither matched the fit's transform
    from irsl_stats.bank import _seal
    from irsl_stats.crossbench import MULTIDIM_FORMAT_VERSION, MULTIDIM_SCHEMA, MultidimBank

    sim = irsl.simulate.correlated_benchmarks(n_models=40, questions=15, seed=3)
    R = sim.responses.assign(y=lambda d: d.y.round(2))
    assert ((R.y == 0) | (R.y == 1)).any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        md = irsl.fit("ability ~ 1", data=R, benchmark="benchmark", ability="per_benchmark",
                      boundary="squeeze")
    bank = md.item_bank()
    assert bank.squeeze_n == float(len(R))
    first = R["model"].iloc[0]
    alone = bank.score(R[R.model == first], boundary="squeeze")
    among = bank.score(R, boundary="squeeze")
    pd.testing.assert_frame_equal(alone.loc[[first]], among.loc[[first]])
    # the responses it scores are the fit's own: scoring the fit's squeezed values without a
    # squeeze gives the same posterior
    rd = md._rd
    fitted = pd.DataFrame({"model": rd.model_labels.take(rd.model), "question": rd.item_labels.take(rd.item),
                           "y": rd.y})
    pd.testing.assert_frame_equal(bank.score(fitted[fitted.model == first]), alone)
    target = bank.benchmarks[0]
    using = R[R.benchmark != target]
    fc_alone = bank.forecast(target, using[using.model == first], boundary="squeeze")
    fc_among = bank.forecast(target, using, boundary="squeeze")
    pd.testing.assert_frame_equal(fc_alone.loc[[first]], fc_among.loc[[first]])
    # saved and loaded with the bank; a file without it loads with None
    back = MultidimBank.from_json(bank.to_json())
    assert back.squeeze_n == bank.squeeze_n
    pd.testing.assert_frame_equal(back.score(R[R.model == first], boundary="squeeze"), alone)
    payload = json.loads(bank.to_json())["payload"]
    del payload["squeeze_n"]
    old = MultidimBank.from_json(_seal(payload, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION))
    assert old.squeeze_n is None
    # a one-dimensional bank carries it over
    one_d = _calibrate(R, boundary="squeeze")
    assert MultidimBank.from_item_bank(one_d).squeeze_n == one_d.squeeze_n == float(len(R))


def test_pass_at_k_truth_reports_integer_budgets():
    sim = irsl.simulate.test_time(n_models=3, n_questions=4, n_samples=20, seed=1)
    truth = sim.pass_at_k_truth([1, 10, 100])
    assert truth["k"].dtype == np.int64 and sorted(truth["k"].unique()) == [1, 10, 100]


def test_efficient_eval_known_bank_squeezes_as_the_calibrated_bank():
    # a hand-built known bank squeezed with the rows of the scored held-out table (10 questions
    # x the held-out models), the calibrated irsl bank with the calibration's rows: irsl_known
    # scored other responses than irsl
    import copy

    from irsl_stats import evaluation as ev

    sp = irsl.simulate.pretraining(seed=0, n_recipes=5, sizes=(4e6, 1e7, 6e7, 3e8, 1e9),
                                   benchmarks=("arc_easy", "boolq"), questions_per_benchmark=20,
                                   n_checkpoints=1)
    resp = sp.responses.copy()
    rows = resp.index[::7]
    resp.loc[rows, "y"] = np.round(resp.loc[rows, "y"])  # some exact 0 / 1
    cal = list(sp.models["recipe"].cat.categories[:2])
    known = ev.known_item_bank(sp.items, sp.models["theta"])
    assert known.squeeze_n is None
    n_cal = int(resp["model"].isin(sp.models.loc[sp.models["recipe"].isin(cal), "model"]).sum())
    run = dict(ks=(5,), strategies=("random",), n_threads=1, boundary="squeeze")

    def known_rows(bank):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IRSLWarning)
            out = ev.efficient_eval(resp, sp.models, cal, known_bank=bank, **run)
        return out[out["method"] == "irsl_known"].reset_index(drop=True)

    got = known_rows(known)
    assert known.squeeze_n is None  # the caller's bank is not changed
    with_n = copy.copy(known)
    with_n.squeeze_n = float(n_cal)
    pd.testing.assert_frame_equal(got, known_rows(with_n))
    other = copy.copy(known)
    other.squeeze_n = 10.0  # the old fallback's scale (the rows of one scored model): differs
    assert not np.allclose(got["mae"], known_rows(other)["mae"], rtol=1e-6, atol=0)
