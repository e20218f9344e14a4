"""JML steps at the parameter bounds: projected, judged on the face, safeguarded per question."""
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import irsl_stats as irsl
from irsl_stats._kernel import KernelData
from irsl_stats.jml import A_BOUND, LOG_PHI_BOUNDS, ItemState, newton_item_update, runaway_questions
from irsl_stats.precision import PrecisionModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "monkeys"


def _fit(**kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = irsl.fit("ability ~ 1", n_threads=1, method="jml", **kw)
    return res, [str(w.message) for w in rec]


def test_step_at_the_bound_is_judged_on_its_face():
    # a question at a = A_BOUND whose likelihood still rises in a: the unconstrained step is long,
    # but with a held at the bound the (d, log phi) step vanishes: the fit may stop there
    precision = PrecisionModel("item", 1)
    old = ItemState(np.array([A_BOUND]), np.array([-30.0]), np.array([2.0]))
    h = np.zeros((1, 3, 3))
    h[0] = [[-1.0, 0.5, 0.0], [0.5, -2.0, 0.0], [0.0, 0.0, -1.0]]
    g = np.zeros((1, 3))
    g[0, 0] = 3.0  # pushes a outward only; with a held, d's gradient is g_d + h_da * 0 = 0
    new, scaled = newton_item_update(g, h, old, precision, "2pl", 10.0)
    assert new.a[0] == A_BOUND
    assert new.d[0] == pytest.approx(-30.0) and new.gamma[0] == pytest.approx(2.0)
    assert scaled == pytest.approx(0.0, abs=1e-12)
    # a question in the box is judged on its whole step
    inside = ItemState(np.array([1.0]), np.array([0.0]), np.array([2.0]))
    _, scaled_inside = newton_item_update(g, h, inside, precision, "2pl", 10.0)
    assert scaled_inside > 1.0


def test_held_and_runaway_questions_do_not_stop_convergence():
    precision = PrecisionModel("item", 2)
    items = ItemState(np.array([A_BOUND, 1.0]), np.array([-30.0, 0.0]), np.array([2.0, 2.0]))
    h = np.tile(np.diag([-1.0, -1.0, -1.0]), (2, 1, 1))
    g = np.array([[3.0, 0.0, 0.0], [0.0, 0.01, 0.0]])
    _, both = newton_item_update(g, h, items, precision, "2pl", 10.0)
    assert both == pytest.approx(0.01)
    # the second question judged out: nothing left to move
    _, none = newton_item_update(g, h, items, precision, "2pl", 10.0, judged=np.array([True, False]))
    assert none == 0.0


def test_runaway_questions_are_the_one_sided_ones():
    # question 0: never solved; 1: always fully solved; 2: mixed; rows of a weight-0 model ignored
    model = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    item = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    y = np.array([0, 5, 2, 0, 5, 0, 3, 1, 4], float)
    trials = np.full(9, 5.0)
    weight = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0], float)
    kd = KernelData(model, item, y, n_models=3, n_items=3, family="binomial", trials=trials, weight=weight)
    assert runaway_questions(kd).tolist() == [True, True, False]


def test_precision_at_the_bound_converges():
    # one question, twelve models: its precision has no finite JML optimum; the step on the face
    # phi = 1e9 vanishes (before: 500 iterations, "did not converge", step 11.6 SE)
    sim = irsl.simulate.irt(n_models=12, n_questions=1, seed=0)
    res, messages = _fit(data=sim.responses, models=sim.models)
    assert res.converged and res.fit_info.n_iter < 100
    assert res.items["phi"].iloc[0] == pytest.approx(np.exp(LOG_PHI_BOUNDS[1]))
    assert any("reached the bound phi" in m for m in messages)
    assert not any("did not converge" in m for m in messages)


def test_separated_questions_converge_at_the_discrimination_bound():
    from test_discrimination_prior import SEPARATED, separated_counts

    res, messages = _fit(data=separated_counts(), successes="successes", trials="trials",
                         family="beta_binomial")
    # before: 500 iterations, not converged, llf -852.32
    assert res.converged and res.fit_info.n_iter < 100
    assert res.llf > -845.0
    assert any("discrimination at the bound" in m for m in messages)
    assert (res.items.loc[SEPARATED[1:], "a"] > 0.9 * A_BOUND).all()


def _pythia(name):
    path = DATA / f"pythia_{name}_counts.csv"
    if not path.exists():
        pytest.skip(f"real data absent: {path}")
    d = pd.read_csv(path)
    d["rate"] = d["n_correct"] / d["n_samples"]
    return d


@pytest.mark.parametrize("name", ["math", "gsm8k"])
def test_pythia_pass_rates_converge(name):
    # beta on squeezed pass rates: 19 (MATH) / 4 (GSM8K) questions reach a bound; every question
    # block used to be halved by their cut steps and the fits stopped unconverged after 500
    d = _pythia(name)
    res, _ = _fit(data=d, model="model", question="problem", response="rate", boundary="squeeze")
    assert res.converged and res.fit_info.n_iter < 100


def test_pythia_gsm8k_counts_say_why_they_crawl():
    # question 1055 separates the checkpoints: the unpenalised JML likelihood has no finite
    # maximum and the fit crawls (not converged after 3,000 iterations); the advice names the
    # cause and the remedy instead of "increase max_iter"
    d = _pythia("gsm8k")
    kw = dict(data=d, model="model", question="problem", successes="n_correct", trials="n_samples",
              family="beta_binomial")
    res, messages = _fit(max_iter=150, **kw)
    assert not res.converged
    said = [m for m in messages if "did not converge" in m]
    assert len(said) == 1 and "held at the discrimination bound" in said[0]
    assert "discrimination_prior=1.0" in said[0]
    fixed, _ = _fit(discrimination_prior=1.0, **kw)
    assert fixed.converged
