"""The marginal-ML EM climbs: a safeguarded M-step, the best state of a run that cycles, and a
warning that says so (irsl_stats.mml, irsl_stats.acceleration)."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from _posterior_setup import binomial_posterior, newton_from_ones

import irsl_stats as irsl
from irsl_stats import _kernel, mml
from irsl_stats.acceleration import EMStep, run_em
from irsl_stats.jml import A_BOUND, ItemState, _safe_newton, newton_item_update
from irsl_stats.precision import PrecisionModel
from irsl_stats.priors import DiscriminationPrior

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "monkeys"


@pytest.fixture(scope="module")
def posterior_setup():
    """Binomial counts of 40 models on 6 questions, with fixed quadrature nodes and weights."""
    return binomial_posterior()


def q_value(kd, items, nodes, post):
    ll = _kernel.loglik_grid(kd, items.a[:, None], items.d, None, nodes[:, :, None], n_threads=1)
    return float((post * ll).sum())


def test_m_step_that_lowers_q_is_shortened_question_by_question(posterior_setup):
    kd, nodes, post, precision = posterior_setup
    old, q_old, newton = newton_from_ones(kd, nodes, post, precision)
    new = newton.copy()
    # question 0 overshoots along its Newton direction (an ascent direction), to a step of 5 in
    # its largest coordinate: far past the maximum of its Q
    s0 = np.array([newton.a[0] - old.a[0], newton.d[0] - old.d[0]])
    s0 *= 5.0 / np.abs(s0).max()
    new.a[0], new.d[0] = old.a[0] + s0[0], old.d[0] + s0[1]
    assert q_value(kd, new, nodes, post) < q_old
    out, n_short, _ = mml._safeguarded_item_update(kd, old, new, q_old, nodes, post, precision, "2pl",
                                                   DiscriminationPrior(), 1)
    assert q_value(kd, out, nodes, post) >= q_old
    # only the offending question is shortened, along its step (a halving of it); the others
    # keep their Newton step
    assert n_short == 1
    frac = (out.d[0] - old.d[0]) / (new.d[0] - old.d[0])
    assert frac in [0.5**k for k in range(1, mml._MAX_HALVINGS + 1)]
    assert out.a[0] == pytest.approx(old.a[0] + frac * (new.a[0] - old.a[0]))
    np.testing.assert_array_equal(out.d[1:], newton.d[1:])
    np.testing.assert_array_equal(out.a[1:], newton.a[1:])
    # a step that raises Q is taken unchanged (one pass, no per-question evaluation)
    same, n_same, _ = mml._safeguarded_item_update(kd, old, newton, q_old, nodes, post, precision, "2pl",
                                                   DiscriminationPrior(), 1)
    assert same is newton and n_same == 0


def test_step_cut_at_the_discrimination_bound_re_solves_the_difficulty():
    # one question, (a, d) block with correlated curvature: the Newton step wants a past A_BOUND
    precision = PrecisionModel("none", 1)
    old = ItemState(np.array([A_BOUND - 0.1]), np.array([-50.0]), np.zeros(0))
    h = np.zeros((1, 3, 3))
    h[0, :2, :2] = [[-4.0, 3.0], [3.0, -4.0]]
    h[0, 2, 2] = -1.0
    g = np.zeros((1, 3))
    g[0, :2] = np.array([[4.0, -3.0], [-3.0, 4.0]]) @ [0.6, 0.3]  # unconstrained step (0.6, 0.3)
    projected, _ = newton_item_update(g, h, old, precision, "2pl", 1.0)
    # clipping each coordinate on its own would give (A_BOUND, -49.7); the projected step holds a
    # at the bound (step 0.1) and d maximises the quadratic model: (g_d + h_da 0.1) / -h_dd
    clipped = ItemState(np.array([A_BOUND]), np.array([-49.7]), np.zeros(0))
    assert projected.a[0] == A_BOUND
    expected_step, _ = _safe_newton(np.array([[g[0, 1] + h[0, 1, 0] * 0.1]]), np.array([[[h[0, 1, 1]]]]), 1.0)
    assert projected.d[0] == pytest.approx(-50.0 + expected_step[0, 0])

    def model_value(a, d):
        s = np.array([a - old.a[0], d - old.d[0]])
        return g[0, :2] @ s + 0.5 * s @ h[0, :2, :2] @ s

    assert model_value(projected.a[0], projected.d[0]) > model_value(clipped.a[0], clipped.d[0]) + 0.1


def test_cycling_run_returns_its_best_state_and_says_it_is_not_climbing():
    objectives = [-1.0, -5.0, -3.0]

    def cycle(x):
        k = int(x[0])
        return EMStep(objectives[k], objectives[k], np.array([(k + 1) % 3], float), 1.0)

    out = run_em(cycle, np.array([0.0]), lambda x: x, lambda v, t: v.copy(), max_iter=31,
                 change_tol=1e-10, step_tol=1e-8, accelerate=False)
    assert not out.converged
    # the last iterate is state 1 (objective -5); the best state seen is state 0
    assert out.state[0] == 0.0 and out.best_objective == -1.0
    assert not out.climbing and out.n_falls >= 10 and out.n_judged == 30

    # an EM that climbs but stops at max_iter still hands back its last iterate
    def contraction(x):
        new = 1.0 + 0.99 * (x - 1.0)
        return EMStep(-float((x[0] - 1.0) ** 2), 0.0, new, float(abs(new - x)[0]))

    slow = run_em(contraction, np.array([0.0]), lambda x: x, lambda v, t: v.copy(), max_iter=20,
                  change_tol=1e-14, step_tol=1e-12, accelerate=False)
    assert not slow.converged and slow.climbing and slow.n_falls == 0
    assert slow.state[0] == pytest.approx(1.0 - 0.99**20)


def test_not_climbing_warning_points_to_bounds_and_the_prior():
    text = mml.not_converged_text("MML", 500, -3.02, n_falls=20, n_judged=50, climbing=False)
    assert "not climbing" in text and "20 of its last 50" in text
    assert "discrimination_prior=" in text and "bound" in text
    assert "increase max_iter" not in text
    # a run that climbs keeps the old advice
    assert "increase max_iter" in mml.not_converged_text("MML", 500, 1e-3)


@pytest.mark.realdata
@pytest.mark.slow
def test_pythia_math_default_2pl_fit_converges_to_a_higher_likelihood():
    counts = DATA / "pythia_math_counts.csv"
    checkpoints = DATA / "pythia_checkpoints.csv"
    if not counts.exists() or not checkpoints.exists():
        pytest.skip(f"real data not available: {counts} (the shared data folder is beside the project in CI)")
    import pandas as pd

    c = pd.read_csv(counts)
    ck = pd.read_csv(checkpoints)
    ck["compute"] = 6.0 * ck.Parameters.astype(float) * ck.Tokens.astype(float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = irsl.fit("ability ~ log(compute)", data=c, models=ck, question="problem", successes="n_correct",
                       trials="n_samples", family="beta_binomial", irt="2pl", n_threads=1)
    messages = [str(w.message) for w in caught]
    # before: not converged in 500 EM steps, the objective falling on 181 of them, llf -6613.49
    # (best seen -6573.76); now 199 steps, llf -6475.69
    assert res.converged, messages
    assert not any("did not converge" in msg for msg in messages)
    assert res.llf > -6480.0
    objective = np.array([h["objective"] for h in res.history])
    late = np.diff(objective[len(objective) // 2:])
    assert np.all(late > -1e-6 * np.abs(objective[-1]))
