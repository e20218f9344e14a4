"""Audit of the item bank (``irsl_stats/bank.py``): banks built by hand from awkward tables,
save/load fidelity of dtypes and columns, the covariance of (a, d) in forecasts, the trials a
calibration records, label mismatches and argument checks.

Numbers are checked against independent references written here (direct formulas, brute-force
sums, scipy quadrature, exact normal quantiles).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import irsl_stats as irsl
from irsl_stats import IRSLWarning
from irsl_stats.bank import FORMAT_VERSION, SCHEMA, ItemBank, _seal


def base_items() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 1.5, 0.8], "d": [-1.0, 0.0, 2.0], "phi": [3.0, 20.0, 0.7]},
                        index=["q1", "q2", "q3"])


def round_trip(bank: ItemBank) -> ItemBank:
    return ItemBank.from_json(bank.to_json())


@pytest.fixture(scope="module")
def fitted():
    """A small 2PL beta calibration (the fit and its bank)."""
    sim = irsl.simulate.irt(n_models=40, n_questions=20, benchmarks=2, seed=1)
    res = irsl.fit("ability ~ 1", data=sim.responses, benchmark="benchmark", n_threads=1)
    return res, res.item_bank()


# ------------------------------------------------------------------ construction from a table
def test_nonpositive_or_missing_phi_names_the_column():
    # was: np.log(-1) -> RuntimeWarning, then an error about 'log_phi', a column never given
    for bad in (-1.0, 0.0, np.nan):
        with pytest.raises(ValueError, match=r"column 'phi'.*'q2'"):
            ItemBank(base_items().assign(phi=[3.0, bad, 0.7]), family="beta")


def test_phi_and_log_phi_must_agree():
    # was accepted: scoring used log_phi, pass@k forecasts used phi -> two different banks in one
    items = base_items().assign(log_phi=np.log([3.0, 5.0, 0.7]))
    with pytest.raises(ValueError, match=r"column 'phi' of items is not exp\(log_phi\).*'q2'"):
        ItemBank(items, family="beta")
    # a table with only log_phi gives the bank with phi = exp(log_phi)
    only_lp = ItemBank(base_items().drop(columns="phi").assign(log_phi=np.log([3.0, 20.0, 0.7])), family="beta")
    np.testing.assert_allclose(only_lp.items["phi"], [3.0, 20.0, 0.7], rtol=1e-15)


def test_difficulty_must_match_the_intercept():
    # was accepted: select(strategy="stratified") ranked by the given b, scoring used (a, d)
    with pytest.raises(ValueError, match=r"column 'b' of items is not the difficulty -d/a.*'q1'"):
        ItemBank(base_items().assign(b=[5.0, 0.0, -2.5]), family="beta")
    with pytest.raises(ValueError, match=r"column 'b'.*'q3'"):
        ItemBank(base_items().assign(b=[1.0, 0.0, np.nan]), family="beta")


def test_bank_from_discrimination_and_difficulty():
    # the (a, b) parameterisation of IRT tables: d = -a b (was: "items needs a 'd' column")
    it = base_items()
    ab = it.drop(columns="d").assign(b=-it["d"] / it["a"])
    bank = ItemBank(ab, family="beta")
    np.testing.assert_allclose(bank.items["d"], it["d"], rtol=1e-15, atol=1e-15)
    theta = np.array([-0.5, 1.2])
    want = special.expit(np.outer(theta, it["a"]) + it["d"].to_numpy()).mean(axis=1)
    np.testing.assert_allclose(bank.expected_score(theta), want, rtol=1e-14)


def test_1pl_bank_rejects_discriminations_other_than_one():
    # was accepted: a "1PL" bank that scored with a = 1.5 and 0.8
    with pytest.raises(ValueError, match=r"column 'a' of items is not 1.*'q2', 'q3'"):
        ItemBank(base_items(), family="beta", irt="1pl")
    with pytest.raises(ValueError, match=r"column 'a_se'.*'q1'"):
        ItemBank(base_items().assign(a=1.0, a_se=[0.2, 0.0, np.nan]), family="beta", irt="1pl")
    ok = ItemBank(base_items().assign(a=1.0), family="beta", irt="1pl")
    assert (ok.items["a"] == 1.0).all() and (ok.items["a_se"] == 0.0).all()


def test_uninformative_question_with_zero_discrimination():
    # was: RuntimeWarning "divide by zero" from b = -d/a (an error under warnings-as-errors)
    items = base_items().assign(a=[0.0, 1.5, 0.8])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bank = ItemBank(items, family="beta")
    assert bank.items["b"].iloc[0] == np.inf
    want = special.expit(np.outer([0.3], items["a"]) + items["d"].to_numpy()).mean(axis=1)
    np.testing.assert_allclose(bank.expected_score([0.3]), want, rtol=1e-14)


@pytest.mark.parametrize("n", [[10, np.nan, 3], [10, 2.5, 3], [10, -1, 3],
                               pd.array([10, None, 3], dtype="Int64")])
def test_counts_of_responses_must_be_whole(n):
    # was: NaN cast to a huge integer with a RuntimeWarning, 2.5 silently truncated to 2, and
    # pd.NA a pandas error that named no column
    with pytest.raises(ValueError, match=r"column 'n' of items is not a whole number >= 0.*'q2'"):
        ItemBank(base_items().assign(n=n), family="beta")


def test_nullable_counts_are_accepted():
    bank = ItemBank(base_items().assign(n=pd.array([10, 4, 3], dtype="Int64")), family="beta")
    assert bank.items["n"].dtype == np.int64 and bank.items["n"].tolist() == [10, 4, 3]


@pytest.mark.parametrize("bad", [0.5, 2.5, 0.0, np.inf])
def test_trials_column_must_hold_whole_numbers(bad):
    # was: 0.5 silently treated as 1 trial, 2.5 summed over k = 0..2 with digamma(2.5 - k ...)
    items = base_items().assign(trials=[5.0, bad, np.nan])
    with pytest.raises(ValueError, match=r"column 'trials' of items is not a whole number >= 1.*'q2'"):
        ItemBank(items, family="beta_binomial")
    # NaN stays allowed: unknown, one trial
    bank = ItemBank(base_items().assign(trials=[5.0, 2.0, np.nan]), family="beta_binomial")
    np.testing.assert_array_equal(bank._trials(), [5.0, 2.0, 1.0])


def test_non_numeric_parameter_names_column_and_question():
    # was: "could not convert string to float: 'x'" (no column, no question)
    with pytest.raises(ValueError, match=r"column 'a' of items must be numeric.*'q2'.*'x'"):
        ItemBank(base_items().assign(a=["1", "x", "2"]), family="beta")


def test_nullable_float_parameters():
    items = base_items().astype({"a": "Float64", "d": "Float64", "phi": "Float64"})
    bank = ItemBank(items, family="beta")
    pd.testing.assert_frame_equal(bank.items, ItemBank(base_items(), family="beta").items)
    with pytest.raises(ValueError, match=r"column 'd' of items is not finite.*'q3'"):
        ItemBank(items.assign(d=pd.array([0.0, 1.0, None], dtype="Float64")), family="beta")


def test_empty_bank_and_missing_labels_are_errors():
    # was: an empty bank whose expected_score warned "Mean of empty slice" and returned NaN
    with pytest.raises(ValueError, match="items has no rows"):
        ItemBank(base_items().iloc[:0], family="beta")
    # was accepted, then impossible to score (responses name their question) or to save
    with pytest.raises(ValueError, match=r"missing question labels.*rows \[1\]"):
        ItemBank(base_items().set_axis(["q1", np.nan, "q3"]), family="beta")


def test_negative_standard_errors_are_errors():
    with pytest.raises(ValueError, match=r"column 'd_se' of items is negative.*'q3'"):
        ItemBank(base_items().assign(d_se=[0.1, np.nan, -0.2]), family="beta")


def test_population_and_prior_are_checked():
    with pytest.raises(ValueError, match=r"population must be a pair \(mean, sd\)"):
        ItemBank(base_items(), family="beta", population=(0.0, 1.0, 2.0))
    with pytest.raises(TypeError, match="prior must be a LatentPrior"):
        ItemBank(base_items(), family="beta", prior={"formula": "ability ~ 1"})


# ------------------------------------------------------------------ covariance of (a, d)
def test_fit_bank_keeps_the_covariance_of_a_and_d(fitted, tmp_path):
    # was dropped by the bank, so expected_score(item_uncertainty=True) never used it
    res, bank = fitted
    # the one given the ability scale (res.items adds the scale's uncertainty, shared by all)
    np.testing.assert_array_equal(bank.items["a_d_cov"].to_numpy(), res._items_given_scale["a_d_cov"].to_numpy())
    bank.save(tmp_path / "b.json")
    back = ItemBank.load(tmp_path / "b.json")
    pd.testing.assert_frame_equal(back.items, bank.items, check_exact=True)


def test_item_uncertainty_uses_the_covariance_at_zero_intercept():
    # d = 0: the covariance cannot be recovered from b_se (d b / d a = 0); it was taken as 0.
    # eta = a theta + d ~ N(theta, theta^2 va + vd + 2 theta c): exact quantiles of the score
    a_se, d_se, c, theta = 0.5, 0.5, -0.2, 2.0
    items = pd.DataFrame({"a": [1.0], "a_se": [a_se], "a_d_cov": [c], "d": [0.0], "d_se": [d_se]},
                         index=["q"])
    bank = ItemBank(items, family="bernoulli")
    sd_eta = np.sqrt(theta**2 * a_se**2 + d_se**2 + 2 * theta * c)
    z = stats.norm.ppf(0.975)
    want = special.expit(theta + np.array([-z, z]) * sd_eta)
    got = bank.expected_score([theta], se=0.0, item_uncertainty=True, n_draws=4000, seed=3)
    np.testing.assert_allclose(got[["lower", "upper"]].to_numpy()[0], want, atol=0.01)


# ------------------------------------------------------------------ save / load
def test_categorical_labels_round_trip_with_their_categories():
    # was: unused categories, their order and the ordered flag were lost on load
    bench = pd.Categorical(["y", "x", "y"], categories=["y", "x", "z"], ordered=True)
    index = pd.CategoricalIndex(["q1", "q2", "q3"], categories=["q3", "q2", "q1", "q9"])
    bank = ItemBank(base_items().assign(benchmark=bench).set_axis(index), family="beta")
    back = round_trip(bank)
    assert back.items["benchmark"].dtype == bench.dtype
    assert back.items.index.dtype == index.dtype
    pd.testing.assert_frame_equal(back.items, bank.items, check_exact=True)


def test_extra_columns_are_kept_selectable_and_saved():
    # was: silently dropped, so select(by="topic") on a bank built with a topic column failed
    items = base_items().assign(topic=pd.Categorical(["alg", "geo", "alg"]), weight=[1, 2, 3])
    bank = ItemBank(items, family="beta")
    assert list(bank.items.columns[-2:]) == ["topic", "weight"]
    picked = bank.select(1, strategy="information", by="topic", theta=0.0)
    info = bank.information(0.0)
    assert list(picked) == [info[["q1", "q3"]].idxmax(), "q2"]
    back = round_trip(bank)
    pd.testing.assert_frame_equal(back.items, bank.items, check_exact=True)


def test_saving_a_missing_benchmark_names_column_and_question():
    bank = ItemBank(base_items().assign(benchmark=["x", np.nan, "y"]), family="beta")
    with pytest.raises(TypeError, match=r"column 'benchmark'.*'q2'"):
        bank.to_json()


def test_attributes_and_prior_survive_a_round_trip(fitted):
    _, bank = fitted
    back = round_trip(bank)
    for name in ("family", "irt", "identification", "precision", "population"):
        assert getattr(back, name) == getattr(bank, name)
    assert back.prior.formula == bank.prior.formula and back.prior.sigma == bank.prior.sigma


# ------------------------------------------------------------------ calibrate and from_results
def _bb_information(a, d, phi, theta, n):
    """Brute-force beta-binomial Fisher information about theta with n trials."""
    mu = special.expit(a * theta + d)
    k = np.arange(n + 1)
    al, be = mu * phi, (1 - mu) * phi
    pk = stats.betabinom.pmf(k, n, al, be)
    score = a * mu * (1 - mu) * phi * (special.digamma(k + al) - special.digamma(n - k + be)
                                       - special.digamma(al) + special.digamma(be))
    return float((pk * score**2).sum())


def test_calibrate_records_whole_trials():
    # half the models draw 10 samples, half 11: the median was 10.5, at which the information
    # mixed the pmf of 10 trials with digammas of 10.5
    sim = irsl.simulate.irt(n_models=30, n_questions=8, family="beta_binomial", seed=1)
    r = sim.responses.copy()
    r["trials"] = np.where(r["model"].cat.codes % 2 == 0, 10, 11)
    r["successes"] = np.minimum(r["successes"], r["trials"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        bank = irsl.calibrate(r, family="beta_binomial", successes="successes", trials="trials", n_threads=1)
    assert (bank.items["trials"] == 11.0).all()
    a, d, phi = bank.items.iloc[0][["a", "d", "phi"]]
    assert bank.information(0.4).iloc[0] == pytest.approx(_bb_information(a, d, phi, 0.4, 11), rel=1e-10)


def test_from_results_trials_series_must_cover_the_questions(fitted):
    res, _ = fitted
    partial = pd.Series(5.0, index=res.items.index[:-2])
    # was: the two missing questions silently got NaN trials (information at 1 trial)
    with pytest.raises(ValueError, match=r"`trials` has no value for the questions"):
        ItemBank.from_results(res, trials=partial)


# ------------------------------------------------------------------ labels and arguments
def test_unknown_questions_that_differ_only_in_type_get_a_hint():
    bank = ItemBank(base_items().drop(columns="phi").set_axis(["1", "2", "3"]), family="bernoulli")
    resp = pd.DataFrame({"model": ["m", "m"], "question": [1, 2], "y": [0.0, 1.0]})
    with pytest.raises(ValueError, match=r"differ only in type: '1' \(str\) vs 1 \(int\).*astype\(str\)"):
        bank.score(resp, n_threads=1)
    with pytest.raises(ValueError, match=r"differ only in type"):
        bank.information(0.0, questions=[1])


def test_information_of_one_question_given_as_a_label():
    bank = ItemBank(base_items(), family="beta")
    # was: "q1" was split into the questions "q" and "1"
    got = bank.information(0.0, questions="q1")
    assert got.index.tolist() == ["q1"]
    assert got.iloc[0] == bank.information(0.0)["q1"]


def test_information_rows_follow_a_series_of_abilities():
    bank = ItemBank(base_items(), family="bernoulli")
    theta = pd.Series([0.5, -1.0], index=["m1", "m2"])
    got = bank.information(theta)
    assert got.index.tolist() == ["m1", "m2"]
    mu = special.expit(np.outer(theta, base_items()["a"]) + base_items()["d"].to_numpy())
    np.testing.assert_allclose(got.to_numpy(), base_items()["a"].to_numpy() ** 2 * mu * (1 - mu), rtol=1e-14)


@pytest.mark.parametrize("call", ["expected_score", "forecast_pass_at_k", "information"])
def test_abilities_must_be_finite_and_one_dimensional(call):
    bank = ItemBank(base_items(), family="beta")
    fn = {"expected_score": bank.expected_score,
          "forecast_pass_at_k": lambda t: bank.forecast_pass_at_k(t, [1, 5]),
          "information": bank.information}[call]
    # was: expected_score flattened a (2, 2) array into 4 scores, the others a broadcast error
    with pytest.raises(ValueError, match=r"`theta` must be a scalar or 1-D"):
        fn(np.zeros((2, 2)))
    # was: a silent NaN score / NaN information
    with pytest.raises(ValueError, match=r"`theta` must be finite.*\['m2'\]"):
        fn(pd.Series([0.0, np.nan], index=["m1", "m2"]))


def test_argument_checks_of_select_and_forecast():
    bank = ItemBank(base_items(), family="beta")
    with pytest.raises(ValueError, match="n must be a positive integer"):
        bank.select(True, by=None)  # was accepted as n = 1
    with pytest.raises(ValueError, match="n_quad must be an integer >= 1"):
        bank.forecast_pass_at_k(0.0, [1], se=0.5, integrate=True, n_quad=2.5)  # was numpy's TypeError


# ------------------------------------------------------------------ reference numbers
@pytest.mark.parametrize("family", ["beta", "bernoulli"])
def test_forecast_pass_at_k_matches_quadrature(family):
    items = base_items() if family == "beta" else base_items().drop(columns="phi")
    bank = ItemBank(items, family=family)
    a, d, phi = (base_items()[c].to_numpy() for c in ("a", "d", "phi"))
    theta, se, ks = 0.3, 0.7, [1, 7, 50]

    def by_quadrature(t, k):
        # E[1 - (1-p)^k] = int_0^1 k (1-p)^(k-1) P(p' > p) dp: a bounded integrand even when
        # the Beta density has a pole (mu phi < 1)
        mu = special.expit(a * t + d)
        if family == "bernoulli":
            return np.mean(1 - (1 - mu) ** k)
        return np.mean([integrate.quad(lambda p: k * (1 - p) ** (k - 1) * stats.beta.sf(p, m * f, (1 - m) * f),
                                       0, 1, limit=200)[0] for m, f in zip(mu, phi)])

    def by_formula(t, k):
        mu = special.expit(a * t + d)
        if family == "bernoulli":
            return np.mean(1 - (1 - mu) ** k)
        al, be = mu * phi, (1 - mu) * phi
        return np.mean(1 - np.exp(special.betaln(al, be + k) - special.betaln(al, be)))

    got = bank.forecast_pass_at_k(theta, ks)["pass_at_k"].to_numpy()
    np.testing.assert_allclose(got, [by_quadrature(theta, k) for k in ks], atol=1e-8)
    # integrate=True: the average over N(theta, se^2)
    got = bank.forecast_pass_at_k(theta, [7], se=se, integrate=True, n_quad=21)["pass_at_k"].iloc[0]
    want = integrate.quad(lambda t: by_formula(t, 7) * stats.norm.pdf(t, theta, se),
                          theta - 8 * se, theta + 8 * se)[0]
    assert got == pytest.approx(want, abs=1e-6)


def test_adaptive_start_and_budget_are_checked():
    bank = ItemBank(base_items().drop(columns="phi"), family="bernoulli")
    answer = {"q1": 1.0, "q2": 0.0, "q3": 1.0}.get
    # was: a NaN start made every information NaN and the first question was asked in bank order
    with pytest.raises(ValueError, match="start_theta must be a finite ability"):
        bank.adaptive(answer, budget=2, start_theta=np.nan)
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        bank.adaptive(answer, budget=True)  # was accepted as a budget of 1


def test_extra_column_that_cannot_be_saved_is_named():
    bank = ItemBank(base_items().assign(topic=pd.array([1, None, 2], dtype="Int64")), family="beta")
    with pytest.raises(TypeError, match=r"cannot save column 'topic'.*'q2'"):
        bank.to_json()


def test_files_without_the_optional_keys_still_load():
    # a file written before a_d_cov, extra columns and categories were stored
    items = base_items().assign(a_d_cov=[0.01, 0.0, -0.02], benchmark=pd.Categorical(["x", "y", "x"]))
    bank = ItemBank(items, family="beta")
    payload = json.loads(bank.to_json())["payload"]
    del payload["items"]["a_d_cov"]
    for key in ("categories", "ordered"):
        del payload["items"]["benchmark"][key]
    old = ItemBank.from_json(_seal(payload, SCHEMA, FORMAT_VERSION))
    pd.testing.assert_frame_equal(old.items, bank.items.drop(columns="a_d_cov"), check_exact=True)


def test_pass_at_k_budgets_are_integers_as_in_the_fit(fitted):
    res, bank = fitted
    # was float64 for the bank and int64 for IRSLResults.forecast_pass_at_k
    out = bank.forecast_pass_at_k(pd.Series([0.0, 1.0], index=["m1", "m2"]), [1, 10, 100])
    assert out["k"].dtype == np.int64 and out["k"].tolist() == [1, 1, 10, 10, 100, 100]
    assert out["k"].dtype == res.forecast_pass_at_k([1, 10])["k"].dtype
    assert bank.forecast_pass_at_k(0.0, [1.5])["k"].tolist() == [1.5]
