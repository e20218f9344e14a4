"""An item bank remembers whether its calibration converged, through subset, save and load."""
import json
import warnings

import pytest

import irsl_stats as irsl
from irsl_stats.bank import ItemBank, ItemBankFormatError
from irsl_stats.results import IRSLWarning


@pytest.fixture(scope="module")
def sim():
    return irsl.simulate.irt(n_models=30, n_questions=12, seed=3)


def _calibrate(sim, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IRSLWarning)
        return irsl.calibrate(sim.responses, method="jml", n_threads=1, **kw)


def test_converged_bank_records_true_and_loads_silently(sim, tmp_path):
    bank = _calibrate(sim)
    assert bank.converged is True
    assert "NOT converged" not in repr(bank)
    path = tmp_path / "bank.json"
    bank.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = ItemBank.load(path)
    assert back.converged is True
    assert back.calibration_warnings == bank.calibration_warnings


def test_unconverged_calibration_is_kept_and_warned_on_load(sim, tmp_path):
    bank = _calibrate(sim, max_iter=2)
    assert bank.converged is False
    assert any("did not converge" in w for w in bank.calibration_warnings)
    assert "calibration NOT converged" in repr(bank)
    sub = bank.subset(bank.questions[:5])
    assert sub.converged is False and sub.calibration_warnings == bank.calibration_warnings
    path = tmp_path / "bank.json"
    bank.save(path)
    with pytest.warns(IRSLWarning, match=r"calibration that did not converge: JML did not converge") as rec:
        back = ItemBank.load(path)
    # the warning points at the caller's line, not into the package
    assert rec[0].filename == __file__
    assert back.converged is False
    assert back.calibration_warnings == bank.calibration_warnings
    with pytest.warns(IRSLWarning, match="did not converge"):
        ItemBank.from_json(bank.to_json())


def test_hand_built_bank_is_unknown_and_older_files_load(sim):
    bank = _calibrate(sim)
    items = bank.items[["a", "d", "phi"]]
    hand = ItemBank(items, family="beta")
    assert hand.converged is None and hand.calibration_warnings == ()
    # a file written before the record existed has no "calibration" key: unknown, no warning
    doc = json.loads(hand.to_json())
    payload = doc["payload"]
    del payload["calibration"]
    from irsl_stats.bank import FORMAT_VERSION, SCHEMA, _seal

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old = ItemBank.from_json(_seal(payload, SCHEMA, FORMAT_VERSION))
    assert old.converged is None


def test_bad_convergence_record_is_refused(sim):
    bank = _calibrate(sim)
    with pytest.raises(TypeError, match="converged must be True, False or None"):
        ItemBank(bank.items, family="beta", converged="yes")
    with pytest.raises(TypeError, match="calibration_warnings must be a sequence of str"):
        ItemBank(bank.items, family="beta", calibration_warnings="one warning")
    from irsl_stats.bank import FORMAT_VERSION, SCHEMA, _seal

    payload = json.loads(bank.to_json())["payload"]
    payload["calibration"]["converged"] = 1
    with pytest.raises(ItemBankFormatError, match="calibration.converged"):
        ItemBank.from_json(_seal(payload, SCHEMA, FORMAT_VERSION))
    # a string where the list of warnings belongs is refused, not kept letter by letter
    payload["calibration"] = {"converged": True, "warnings": "did not converge"}
    with pytest.raises(ItemBankFormatError, match="calibration_warnings must be a sequence of str"):
        ItemBank.from_json(_seal(payload, SCHEMA, FORMAT_VERSION))
