"""SQUAREM-accelerated EM loop (irsl_stats.acceleration) and its use by the marginal-ML fits."""

import warnings

import numpy as np
import pytest

import irsl_stats as irsl
from irsl_stats import acceleration, mml
from irsl_stats.acceleration import EMStep, run_em

TARGET = np.array([1.0, -2.0, 0.5])


def contraction(rate, calls=None):
    """EM-like map with linear convergence at ``rate`` toward TARGET; objective -|x - TARGET|^2."""

    def em_map(x):
        if calls is not None:
            calls.append(x.copy())
        new = TARGET + rate * (x - TARGET)
        return EMStep(-float(np.sum((x - TARGET) ** 2)), 0.0, new, float(np.max(np.abs(new - x))))

    return em_map


def identity_pack(x):
    return x


def identity_unpack(v, template):
    return v.copy()


def run(em_map, accelerate=True, unpack=identity_unpack, max_iter=5000):
    return run_em(em_map, np.zeros(3), identity_pack, unpack, max_iter=max_iter, change_tol=1e-14,
                  step_tol=1e-9, accelerate=accelerate)


def test_squarem_reaches_the_fixed_point_in_far_fewer_maps():
    plain = run(contraction(0.97), accelerate=False)
    fast = run(contraction(0.97))
    assert plain.converged and fast.converged
    np.testing.assert_allclose(plain.state, TARGET, atol=1e-7)
    np.testing.assert_allclose(fast.state, TARGET, atol=1e-7)
    assert plain.n_maps > 500
    assert fast.n_maps < plain.n_maps / 10
    assert any(h["extrapolated"] for h in fast.history)


def test_history_objective_never_falls():
    fast = run(contraction(0.95))
    objective = np.array([h["objective"] for h in fast.history])
    assert np.all(np.diff(objective) >= -1e-15)


def test_invalid_extrapolations_fall_back_to_plain_em_exactly():
    plain_calls, fast_calls = [], []
    plain = run(contraction(0.9, plain_calls), accelerate=False)
    # every extrapolated vector is outside the parameter space: the loop must shorten the step
    # down to the plain EM iterate and so reproduce plain EM map for map
    fast = run(contraction(0.9, fast_calls), unpack=lambda v, t: None)
    assert fast.n_maps == plain.n_maps
    np.testing.assert_array_equal(np.array(fast_calls), np.array(plain_calls))
    assert not any(h["extrapolated"] for h in fast.history)


def test_rejected_extrapolation_is_counted_and_not_recorded():
    # the objective is very low at any point that is not a plain EM iterate, so every
    # extrapolation must be rejected and the loop must go on from the plain iterate
    produced = [np.zeros(3)]

    def em_map(x):
        new = TARGET + 0.9 * (x - TARGET)
        plain_iterate = any(np.array_equal(x, p) for p in produced)
        produced.append(new)
        objective = -float(np.sum((x - TARGET) ** 2)) - (0.0 if plain_iterate else 1e3)
        return EMStep(objective, 0.0, new, float(np.max(np.abs(new - x))))

    out = run(em_map)
    assert out.converged
    np.testing.assert_allclose(out.state, TARGET, atol=1e-7)
    assert out.n_rejected >= 5
    assert len(out.history) + out.n_rejected == out.n_maps
    assert not any(h["extrapolated"] for h in out.history)
    objective = np.array([h["objective"] for h in out.history])
    assert np.all(np.diff(objective) >= 0)


def noisy_contraction(produced=None, bad_off_path=False):
    """Linear convergence toward TARGET whose objective, once within distance 1, falls by a hair
    at every step (as adaptive quadrature does near the optimum). With ``bad_off_path`` the EM
    step out of any point that is not a plain EM iterate is long once at that noise floor."""

    def em_map(x):
        new = TARGET + 0.95 * (x - TARGET)
        dist = float(np.sum((x - TARGET) ** 2))
        objective = -dist if dist > 1.0 else -1.0 - 1e-3 * (1.0 - dist)
        step = float(np.max(np.abs(new - x)))
        if produced is not None:
            if bad_off_path and dist <= 1.0 and not any(np.array_equal(x, p) for p in produced):
                step = 10.0
            produced.append(new)
        return EMStep(objective, 0.0, new, step)

    return em_map


def test_noise_floor_judges_extrapolations_by_the_em_step():
    # below the noise floor the objective cannot tell a good extrapolation from a bad one; the
    # EM step out of it can: SQUAREM goes on and still beats plain EM by far
    plain = run(noisy_contraction(), accelerate=False)
    fast = run(noisy_contraction())
    assert fast.converged
    np.testing.assert_allclose(fast.state, TARGET, atol=1e-7)
    objective = np.array([h["objective"] for h in fast.history])
    first_fall = int(np.argmax(np.diff(objective) < 0)) + 1
    assert first_fall > 1
    assert any(h["extrapolated"] for h in fast.history[first_fall:])
    assert fast.n_maps < plain.n_maps / 5


def test_noise_floor_gives_up_after_repeated_failures():
    produced = [np.zeros(3)]
    out = run(noisy_contraction(produced, bad_off_path=True))
    assert out.converged
    np.testing.assert_allclose(out.state, TARGET, atol=1e-7)
    # every extrapolation at the noise floor is rejected, and after the sixth no more are tried
    assert out.n_rejected == acceleration._MAX_REJECTED_IN_NOISE
    assert len(out.history) + out.n_rejected == out.n_maps


def test_max_iter_is_respected():
    out = run(contraction(0.999), accelerate=False, max_iter=37)
    assert not out.converged and out.n_maps == 37


@pytest.fixture(scope="module")
def sharp_counts():
    """Test-time counts with 2,560 samples per question: sharp posteriors, slow plain EM."""
    return irsl.simulate.test_time(n_models=12, n_questions=120, n_samples=2560, seed=2)


def fit_mml(sim, accelerate, monkeypatch):
    original = acceleration.run_em

    def forced(*args, **kwargs):
        kwargs["accelerate"] = accelerate
        return original(*args, **kwargs)

    monkeypatch.setattr(mml, "run_em", forced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models,
                        successes="successes", trials="trials", family="beta_binomial", irt="2pl",
                        method="mml", n_threads=1)


def test_mml_same_optimum_with_fewer_iterations(sharp_counts, monkeypatch):
    plain = fit_mml(sharp_counts, False, monkeypatch)
    fast = fit_mml(sharp_counts, True, monkeypatch)
    assert plain.converged and fast.converged
    assert fast.n_iter < plain.n_iter
    assert fast.llf == pytest.approx(plain.llf, abs=1e-4)
    np.testing.assert_allclose(fast.params, plain.params, atol=1e-3)
    # question parameters that the data determine (finite, moderate standard errors) agree
    ok = (plain.items["d_se"] < 5).to_numpy()
    for col in ("a", "d", "phi"):
        np.testing.assert_allclose(fast.items[col].to_numpy()[ok], plain.items[col].to_numpy()[ok],
                                   rtol=1e-3, atol=1e-3)
