"""Abilities far outside the calibration population: every scoring method finds them.

A model much weaker or stronger than the calibration models has its ML (and MAP, WLE, EAP)
estimate many prior SDs from the prior mean. Only a likelihood without a finite maximum (every
response extreme) may stop at a bound, and only that case may warn.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit

import irsl_stats as irsl
from irsl_stats import _kernel
from irsl_stats.results import IRSLWarning
from irsl_stats.scoring import ML_BOUND, extreme_patterns


def _binomial_far_below(theta=-12.0, trials=100):
    """A 1PL binomial bank whose easiest question sits far above ``theta``, and the expected
    counts of a model at ``theta`` (successes from 0 up to all trials: a finite ML)."""
    d = np.linspace(-5.0, 20.0, 26)
    qs = [f"q{j}" for j in range(len(d))]
    bank = irsl.ItemBank(pd.DataFrame({"a": 1.0, "d": d}, index=qs), family="binomial")
    k = np.round(trials * expit(theta + d))
    frame = pd.DataFrame({"model": "m", "question": qs, "k": k, "n": float(trials)})
    return bank, d, k, frame


def _binomial_loglik(t, d, k, n):
    return float(np.sum(k * log_expit(t + d) + (n - k) * log_expit(-(t + d))))


def _score(bank, frame, method, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = bank.score(frame, method=method, n_threads=1, **kw)
    return est, [w for w in caught if issubclass(w.category, IRSLWarning)]


def test_ml_and_map_of_a_model_twelve_sds_below_the_prior():
    bank, d, k, frame = _binomial_far_below()
    ml = minimize_scalar(lambda t: -_binomial_loglik(t, d, k, 100.0), bounds=(-40, 10), method="bounded",
                         options={"xatol": 1e-10}).x
    # bank population prior N(0, 1)
    mp = minimize_scalar(lambda t: -_binomial_loglik(t, d, k, 100.0) + 0.5 * t * t, bounds=(-40, 10),
                         method="bounded", options={"xatol": 1e-10}).x
    assert ml < -ML_BOUND - 3  # beyond the old bound of the search
    for method, want in (("ml", ml), ("wle", ml), ("map", mp), ("eap", mp)):
        est, warned = _score(bank, frame, method, successes="k", trials="n")
        tol = {"ml": 1e-6, "map": 1e-6, "wle": 0.02, "eap": 0.05}[method]
        assert est["theta"].iloc[0] == pytest.approx(want, abs=tol), method
        assert 0.05 < est["se"].iloc[0] < 0.2, method
        assert not warned, (method, [str(w.message) for w in warned])


def test_all_wrong_model_ml_stops_at_the_bound_but_wle_and_map_do_not():
    d = np.full(40, 10.0)
    qs = [f"q{j}" for j in range(40)]
    bank = irsl.ItemBank(pd.DataFrame({"a": 1.0, "d": d}, index=qs), family="bernoulli")
    frame = pd.DataFrame({"model": "m", "question": qs, "y": 0.0})

    est, warned = _score(bank, frame, "ml")
    assert est["theta"].iloc[0] == pytest.approx(-ML_BOUND)
    assert len(warned) == 1 and "all extreme" in str(warned[0].message)

    # WLE: maximum of l + 0.5 log I, I = sum p (1 - p); it lies near -14.4, beyond -ML_BOUND
    def wle_objective(t):
        p = expit(t + d)
        return np.sum(log_expit(-(t + d))) + 0.5 * np.log(np.sum(p * (1 - p)))
    want = minimize_scalar(lambda t: -wle_objective(t), bounds=(-40, 0), method="bounded",
                           options={"xatol": 1e-10}).x
    assert want < -ML_BOUND - 3
    est, warned = _score(bank, frame, "wle")
    assert est["theta"].iloc[0] == pytest.approx(want, abs=1e-5)
    assert not warned

    want = minimize_scalar(lambda t: -np.sum(log_expit(-(t + d))) + 0.5 * t * t, bounds=(-40, 0),
                           method="bounded", options={"xatol": 1e-10}).x
    est, warned = _score(bank, frame, "map")
    assert est["theta"].iloc[0] == pytest.approx(want, abs=1e-6)
    assert not warned


def _kd(family, model, item, y, trials=None, weight=None, n_items=3):
    model = np.asarray(model)
    return _kernel.KernelData(model, np.asarray(item), np.asarray(y, float), n_models=int(model.max()) + 1,
                              n_items=n_items, family=family,
                              trials=None if trials is None else np.asarray(trials, float),
                              weight=None if weight is None else np.asarray(weight, float))


def test_extreme_patterns_follow_the_sign_of_the_discrimination_and_ignore_weightless_rows():
    a = np.array([1.0, -1.0, 0.0])
    # model 0: all wrong on a > 0 -> -inf; model 1: wrong on a > 0 but right on a < 0 -> -inf;
    # model 2: wrong on a > 0, wrong on a < 0 -> finite; model 3: right, and wrong on a = 0 -> +inf
    kd = _kd("bernoulli", [0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 0, 1, 0, 1, 0, 2], [0, 0, 0, 1, 0, 0, 1, 0])
    assert extreme_patterns(kd, a).tolist() == [-1, -1, 0, 1]
    # a zero-weight success does not make an all-failure model finite
    kd = _kd("bernoulli", [0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 0, 1], weight=[1, 0, 1, 1])
    assert extreme_patterns(kd, np.ones(3)).tolist() == [-1, 0]
    # counts: all successes -> +inf; one failure among many -> finite
    kd = _kd("binomial", [0, 0, 1, 1], [0, 1, 0, 1], [5, 5, 5, 4], trials=[5, 5, 5, 5])
    assert extreme_patterns(kd, np.ones(3)).tolist() == [1, 0]
    # beta responses lie strictly inside (0, 1): never extreme
    kd = _kd("beta", [0, 0], [0, 1], [0.01, 0.02])
    assert extreme_patterns(kd, np.ones(3)).tolist() == [0]
