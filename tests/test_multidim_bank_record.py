"""A MultidimBank keeps its calibration's convergence record (as ItemBank does) and has a short repr."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats.bank import ItemBankFormatError, _seal
from irsl_stats.crossbench import MULTIDIM_FORMAT_VERSION, MULTIDIM_SCHEMA, MultidimBank
from irsl_stats.results import IRSLWarning


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=60, n_questions=40, benchmarks=2, seed=0)


def _quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return f(*args, **kw)


@pytest.fixture(scope="module")
def unconverged(sim):
    """A per-benchmark fit stopped after 2 EM iterations."""
    return _quiet(irsl.fit, "ability ~ 1", sim.responses, benchmark="benchmark", ability="per_benchmark",
                  max_iter=2, n_threads=1)


def _hand_bank(**kw) -> MultidimBank:
    questions = pd.Index(["q1", "q2", "q3"], name="question")
    return MultidimBank(
        A=np.array([[1.0, 0.0], [0.0, 1.2], [0.0, 0.8]]), d=np.array([0.1, -0.3, 0.5]), log_phi=np.zeros(3),
        family="beta", questions=questions,
        item_benchmark=pd.Series(["x", "y", "y"], index=questions, name="benchmark"),
        dim_names=["x", "y"], population_mean=np.zeros(2), population_cov=np.eye(2), **kw)


def test_item_bank_of_unconverged_fit_keeps_record_and_warns_on_load(unconverged, tmp_path):
    assert unconverged.converged is False
    bank = unconverged.item_bank()
    assert bank.converged is False
    assert bank.calibration_warnings == tuple(unconverged.warnings)
    assert any("did not converge" in w for w in bank.calibration_warnings)
    assert "calibration NOT converged" in repr(bank)
    path = tmp_path / "mb.json"
    bank.save(path)
    with pytest.warns(IRSLWarning, match=r"calibration that did not converge: MML \(D = 2\) did not converge") as rec:
        back = MultidimBank.load(path)
    # the warning points at the caller's line, not into the package
    assert rec[0].filename == __file__
    assert back.converged is False
    assert back.calibration_warnings == bank.calibration_warnings
    with pytest.warns(IRSLWarning, match="did not converge") as rec:
        MultidimBank.from_json(bank.to_json())
    assert rec[0].filename == __file__


def test_calibrate_per_benchmark_keeps_record(sim):
    bank = _quiet(irsl.calibrate, sim.responses, benchmark="benchmark", ability="per_benchmark",
                  max_iter=2, n_threads=1)
    assert isinstance(bank, MultidimBank)
    assert bank.converged is False and bank.calibration_warnings


def test_converged_fit_records_true_and_loads_silently(sim, tmp_path):
    res = _quiet(irsl.fit, "ability ~ 1", sim.responses, benchmark="benchmark", ability="per_benchmark",
                 n_threads=1)
    assert res.converged is True
    bank = res.item_bank()
    assert bank.converged is True
    assert "NOT converged" not in repr(bank)
    path = tmp_path / "mb.json"
    bank.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = MultidimBank.load(path)
    assert back.converged is True and back.calibration_warnings == bank.calibration_warnings


def test_from_item_bank_keeps_record(sim):
    item_bank = _quiet(irsl.calibrate, sim.responses, benchmark="benchmark", method="jml", max_iter=2,
                       n_threads=1)
    assert item_bank.converged is False
    bank = MultidimBank.from_item_bank(item_bank)
    assert bank.converged is False
    assert bank.calibration_warnings == item_bank.calibration_warnings
    assert "calibration NOT converged" in repr(bank)


def test_hand_built_bank_is_unknown_and_older_files_load():
    bank = _hand_bank()
    assert bank.converged is None and bank.calibration_warnings == ()
    # a file written before the record existed has no "calibration" key: unknown, no warning
    payload = json.loads(bank.to_json())["payload"]
    assert payload["calibration"] == {"converged": None, "warnings": []}
    del payload["calibration"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old = MultidimBank.from_json(_seal(payload, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION))
    assert old.converged is None and old.calibration_warnings == ()


def test_bad_convergence_record_is_refused():
    with pytest.raises(TypeError, match="converged must be True, False or None"):
        _hand_bank(converged="yes")
    with pytest.raises(TypeError, match="calibration_warnings must be a sequence of str"):
        _hand_bank(calibration_warnings="one warning")
    with pytest.raises(TypeError, match="calibration_warnings must be a sequence of str"):
        _hand_bank(calibration_warnings=[1])
    # numpy booleans are accepted and stored as bool; a generator of warnings is kept, not used up
    bank = _hand_bank(converged=np.bool_(False), calibration_warnings=(w for w in ["did not converge"]))
    assert bank.converged is False and type(bank.converged) is bool
    assert bank.calibration_warnings == ("did not converge",)
    payload = json.loads(_hand_bank().to_json())["payload"]
    payload["calibration"]["converged"] = 1
    with pytest.raises(ItemBankFormatError, match="calibration.converged"):
        MultidimBank.from_json(_seal(payload, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION))
    payload["calibration"] = {"converged": False, "warnings": "did not converge"}
    with pytest.raises(ItemBankFormatError, match="calibration_warnings must be a sequence of str"):
        MultidimBank.from_json(_seal(payload, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION))


def test_repr_is_one_short_line(unconverged):
    bank = unconverged.item_bank()
    text = repr(bank)
    assert "\n" not in text and len(text) < 250
    assert text.startswith("<MultidimBank beta: 40 questions, 2 dimensions ('bench0', 'bench1'), 2 benchmarks, "
                           "identification='one ability per benchmark ...'")
    assert text.endswith(", calibration NOT converged>")
    assert repr(_hand_bank()) == ("<MultidimBank beta: 3 questions, 2 dimensions ('x', 'y'), 2 benchmarks>")
