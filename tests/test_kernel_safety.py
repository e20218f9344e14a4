"""Input validation of the kernel bindings: errors name the argument, and nothing crashes.

The property tests call every ``_core`` binding directly with randomly malformed inputs (wrong
dtype, ndim or length, non-contiguous views, out-of-range indices, non-finite parameters,
out-of-support responses, empty arrays) and accept only a valid result or a Python
ValueError / TypeError / IndexError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irsl_stats import _core, _kernel

M, N, D = 3, 4, 1


def good_data(family: str = "beta") -> dict:
    model = np.array([0, 0, 1, 2, 2, 2], np.int32)
    item = np.array([0, 1, 3, 2, 1, 0], np.int32)
    n = model.size
    if family == "beta":
        y, trials = np.linspace(0.1, 0.9, n), None
    elif family == "bernoulli":
        y, trials = np.array([0, 1, 1, 0, 1, 0], float), None
    else:
        trials = np.array([1, 2, 5, 3, 10, 4], float)
        y = np.array([0, 2, 3, 1, 10, 0], float)
    log_const = None
    if trials is not None:
        log_const = _core.log_const(y, trials, _kernel.FAMILY_CODES[family], 1)
    return dict(model=model, item=item, y=y, trials=trials, weight=np.ones(n), log_const=log_const,
                log_y=np.column_stack([np.log(y), np.log1p(-y)]) if family == "beta" else None,
                model_ptr=np.array([0, 2, 3, 6], np.int64), n_models=M, n_items=N,
                family=_kernel.FAMILY_CODES[family])


def good_params() -> dict:
    return dict(theta=np.zeros((M, D)), a=np.ones((N, D)), d=np.zeros(N), log_phi=np.zeros(N))


def call(binding: str, args: dict):
    fn = getattr(_core, binding)
    return fn(**args)


def args_for(binding: str, family: str = "beta") -> dict:
    data, par = good_data(family), good_params()
    nodes = np.zeros((M, 2, D))
    if binding == "loglik":
        return {**data, **par, "n_threads": 1}
    if binding == "accumulate":
        return {**data, **par, "model_blocks": True, "item_blocks": True, "cross": True,
                "expected": False, "n_threads": 1}
    if binding == "loglik_grid":
        par.pop("theta")
        return {**data, **par, "nodes": nodes, "n_threads": 1}
    if binding == "accumulate_items_weighted":
        par.pop("theta")
        return {**data, **par, "nodes": nodes, "node_weights": np.full((M, 2), 0.5),
                "expected": False, "n_threads": 1}
    if binding == "validate_data":
        return {**data, "n_threads": 1}
    if binding == "obs_derivatives":
        n = data["y"].size
        return {"y": data["y"], "trials": data["trials"], "log_const": data["log_const"],
                "family": data["family"], "eta": np.zeros(n), "log_phi_obs": np.zeros(n),
                "expected": False, "n_threads": 1}
    if binding == "log_const":
        return {"y": data["y"], "trials": data["trials"], "family": data["family"], "n_threads": 1}
    if binding == "special":
        return {"name": "lgamma", "x": np.array([0.5, 2.0])}
    raise KeyError(binding)


BINDINGS = ["loglik", "accumulate", "loglik_grid", "accumulate_items_weighted", "validate_data",
            "obs_derivatives", "log_const", "special"]
FAMILIES = list(_kernel.FAMILY_CODES)


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("family", FAMILIES)
def test_good_arguments_work(binding, family):
    call(binding, args_for(binding, family))


# --- explicit error cases: (argument, replacement, expected exception, message pattern) ---------
ERRORS = [
    ("theta", np.zeros((M, D), np.float32), TypeError, r"theta: expected a C-contiguous float64"),
    ("theta", np.zeros((M, 2 * D))[:, ::2], ValueError, r"theta: expected a C-contiguous"),
    ("theta", np.zeros(M), ValueError, r"theta"),
    ("theta", np.full((M, D), np.nan), ValueError, r"theta must be finite"),
    ("theta", np.zeros((M + 1, D)), ValueError, r"theta: expected shape"),
    ("theta", [[0.0]] * M, TypeError, r"theta"),
    ("a", np.ones((N, 2)), ValueError, r"theta: expected shape"),
    ("d", np.zeros(N + 1), ValueError, r"d: expected shape"),
    ("log_phi", np.array([0.0, np.inf, 0.0, 0.0]), ValueError, r"log_phi must be finite"),
    ("model", np.array([0, 0, 1, 2, 2, 3], np.int32), ValueError, r"model\[5\] = 3 is out of range"),
    ("model", np.array([0, 0, 1, 2, 2, -1], np.int32), ValueError, r"model\[5\] = -1"),
    ("model", np.array([0, 0, 1, 2, 2, 2], np.int64), TypeError, r"model: expected a C-contiguous int32"),
    ("item", np.array([0, 1, 3, 2, 1, 4], np.int32), ValueError, r"item\[5\] = 4 is out of range"),
    ("item", np.array([0, 1, 3], np.int32), ValueError, r"item: expected shape"),
    ("y", np.array([0.1, 0.2, 1.0, 0.3, 0.4, 0.5]), ValueError,
     r"y\[2\] = 1 is outside the support \(0, 1\) of family 'beta'"),
    ("y", np.array([0.1, 0.2, np.nan, 0.3, 0.4, 0.5]), ValueError, r"y\[2\] = nan"),
    ("weight", np.array([1, 1, -1, 1, 1, 1], float), ValueError, r"weight\[2\] = -1 must be finite"),
    ("weight", np.array([1, 1, np.inf, 1, 1, 1], float), ValueError, r"weight\[2\]"),
    ("trials", np.ones(6), ValueError, r"trials: must be None for family 'beta'"),
    ("model_ptr", np.array([0, 2, 3, 5], np.int64), ValueError, r"model_ptr\[3\] = 5 must equal"),
    ("model_ptr", np.array([1, 2, 3, 6], np.int64), ValueError, r"model_ptr\[0\] = 1 must be 0"),
    ("model_ptr", np.array([0, 3, 2, 6], np.int64), ValueError, r"model_ptr must be non-decreasing"),
    ("model_ptr", np.array([0, 1, 3, 6], np.int64), ValueError, r"inconsistent with model_ptr"),
    ("model_ptr", np.array([0, 2, 3, 6], np.int32), TypeError, r"model_ptr: expected a C-contiguous int64"),
    ("n_models", -1, ValueError, r"n_models"),
    ("n_items", "4", TypeError, r"n_items"),
    ("family", 7, ValueError, r"family"),
    ("n_threads", 0, ValueError, r"n_threads"),
    ("n_threads", -2, ValueError, r"n_threads"),
]


@pytest.mark.parametrize("arg,value,exc,pattern", ERRORS)
def test_error_names_argument(arg, value, exc, pattern):
    args = args_for("accumulate")
    args[arg] = value
    with pytest.raises(exc, match=pattern):
        call("accumulate", args)


@pytest.mark.parametrize(
    "family,y,trials,pattern",
    [
        ("bernoulli", [0.0, 0.5], None, r"y\[1\] = 0.5 is outside the support \{0, 1\}"),
        ("binomial", [0.0, 3.0], [2.0, 2.0], r"y\[0\] = 0 is outside the support|y\[1\] = 3"),
        ("binomial", [0.0, 1.5], [2.0, 2.0], r"y\[1\] = 1.5"),
        ("beta_binomial", [0.0, 1.0], [2.0, 0.0], r"trials\[1\] = 0 is not a positive integer"),
        ("beta_binomial", [0.0, 1.0], [2.0, 2.5], r"trials\[1\] = 2.5"),
        ("beta_binomial", [0.0, 1.0], None, r"trials: required"),
        ("beta", [0.0, 0.5], None, r"y\[0\] = 0 is outside the support \(0, 1\) of family 'beta'"),
    ],
)
def test_support_errors_via_kernel_data(family, y, trials, pattern):
    n = len(y)
    with pytest.raises(ValueError, match=pattern):
        _kernel.KernelData(np.zeros(n, int), np.zeros(n, int), y, n_models=1, n_items=1,
                           family=family, trials=trials)


def test_kernel_level_errors():
    with pytest.raises(ValueError, match="family"):
        _kernel.KernelData([0], [0], [0.5], n_models=1, n_items=1, family="gaussian")
    data = _kernel.KernelData([0], [0], [0.5], n_models=1, n_items=1, family="beta")
    with pytest.raises(ValueError, match="information"):
        _kernel.accumulate(data, [0.0], [1.0], [0.0], [0.0], information="fisher")
    with pytest.raises(ValueError, match="model_ptr: required"):
        _kernel.loglik_grid(data, [1.0], [0.0], [0.0], np.zeros((1, 2, 1)))
    bb = _kernel.KernelData([0], [0], [1.0], n_models=1, n_items=1, family="beta_binomial", trials=[2.0])
    with pytest.raises(ValueError, match="expected"):
        _kernel.accumulate(bb, [0.0], [1.0], [0.0], [0.0], information="expected")


# --- property test: malformed arrays never crash ------------------------------------------------

def mutate(draw, value):
    """Return a randomly corrupted version of one argument value."""
    kind = draw(st.sampled_from(["dtype", "ndim", "length", "noncontig", "values", "empty",
                                 "none", "scalar", "list", "keep"]))
    if value is None or isinstance(value, (int, str)) or not isinstance(value, np.ndarray):
        return draw(st.one_of(st.none(), st.integers(-5, 10**10), st.floats(allow_nan=True),
                              st.just(np.zeros(3)), st.just("x")))
    arr = value
    if arr.ndim == 0 and kind in ("ndim", "length", "noncontig", "empty"):
        return arr.reshape(1)
    if kind == "dtype":
        dt = draw(st.sampled_from([np.float32, np.int32, np.int64, np.float64, np.uint8, bool,
                                   np.complex128, object]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return arr.astype(dt)
    if kind == "ndim":
        if draw(st.booleans()) or arr.size == 0:
            return arr[..., None]
        return arr.reshape(-1)[:1].reshape(())
    if kind == "length":
        k = draw(st.integers(0, arr.shape[0] + 3 if arr.ndim else 3))
        return np.resize(arr, (k,) + arr.shape[1:])
    if kind == "noncontig":
        big = np.repeat(arr, 2, axis=0)
        return big[::2]
    if kind == "values":
        out = arr.copy()
        if out.size:
            idx = draw(st.integers(0, out.size - 1))
            if out.dtype.kind in "fcO":
                v = draw(st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.0, 1.0, 2.5, 1e308, -1e308]))
            elif out.dtype.kind == "i":
                info = np.iinfo(out.dtype)
                v = draw(st.sampled_from([-1, info.max, info.min, 7, 3, 0, 1]))
            else:  # unsigned or bool: only values the dtype can hold
                v = draw(st.sampled_from([0, 1]))
            with warnings.catch_warnings():  # e.g. 1e308 into float32 overflows to inf: fine here
                warnings.simplefilter("ignore")
                out.reshape(-1)[idx] = v
        return out
    if kind == "empty":
        return arr[:0]
    if kind == "none":
        return None
    if kind == "scalar":
        return 1.0
    if kind == "list":
        return arr.tolist()
    return arr


@st.composite
def malformed(draw, binding):
    family = draw(st.sampled_from(FAMILIES))
    args = args_for(binding, family)
    keys = list(args)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        args[key] = mutate(draw, args[key])
    return args


@pytest.mark.parametrize("binding", BINDINGS)
@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_malformed_inputs_never_crash(binding, data):
    args = data.draw(malformed(binding))
    try:
        out = call(binding, args)
    except (ValueError, TypeError, IndexError, OverflowError):
        return
    # a valid result: finite or NaN-free where the inputs were valid enough to be accepted
    assert out is None or isinstance(out, (float, tuple, np.ndarray))
