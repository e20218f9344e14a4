"""The JML post-processing's dense algebra: its route by cost, one BLAS thread, and line fits.

* The correlated latent regression takes the Woodbury route only when the low-rank part (question
  parameters, often thousands) is narrow against the models; with far more question parameters
  than models every value of sigma LU-factored an (R, R) matrix, and a 120 x 1,000 beta 2PL fit
  took 30 s instead of 1.7 s (CPU) with the same estimates to 5e-13.
* The joint covariance and the latent regression run with BLAS limited to one thread, so a fit
  is the same bits whatever ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` (it moved by ~1e-15
  relative on these small fits, 1e-13 on larger ones).
* ``evaluation.linear_extrapolate`` decides whether a slope is identified by the distinct x with
  a positive weight, relative to their magnitude: x in units of 1e-12, or weights of 1e-25 next
  to 1, identify a line (statsmodels fits them) and were rejected.
"""

import json
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import irsl_stats as irsl
import irsl_stats.evaluation as ev
import irsl_stats.inference as inference
import irsl_stats.latent_regression as lr
from irsl_stats.inference import ThetaLowRank

FORMULA = "ability ~ log(compute)"


def _jml(sim, **extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return irsl.fit(FORMULA, data=sim.responses, models=sim.models, family="beta", method="jml",
                        n_threads=1, **extra)


# ------------------------------------------------------------------------------- route by cost
def test_wide_low_rank_part_takes_the_eigenbasis_with_the_same_estimates(monkeypatch):
    # 40 models, 20 2PL questions with their own precision: R = 60 + 2 constraints > M
    sim = irsl.simulate.irt(n_models=40, n_questions=20, seed=3)
    calls = []
    real = lr._fit_lowrank

    def counted(*args, **kwargs):
        calls.append(args[2].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(lr, "_fit_lowrank", counted)
    fast = _jml(sim, full_cov="auto")
    assert calls == []
    assert "joint observed information" in fast.summary().as_text()
    # forced through Woodbury (the route every such fit took): the same fit
    monkeypatch.setattr(lr, "_woodbury_is_cheaper", lambda m, r: True)
    slow = _jml(sim, full_cov="auto")
    assert len(calls) == 1
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.abilities["se"], slow.abilities["se"], rtol=1e-10)


def test_narrow_low_rank_part_keeps_woodbury(monkeypatch):
    rng = np.random.default_rng(4)
    m, rank = 400, 6
    low = ThetaLowRank(np.arange(m), rng.uniform(0.05, 0.3, m), rng.normal(size=(m, rank)) * 0.2,
                       np.diag(rng.uniform(0.5, 2.0, rank)))
    x = np.column_stack([np.ones(m), rng.normal(size=m)])
    t = x @ np.array([0.2, 0.8]) + rng.normal(size=m) * 0.7
    calls = []
    real = lr._fit_lowrank
    monkeypatch.setattr(lr, "_fit_lowrank", lambda *a: calls.append(1) or real(*a))
    fit = lr.fit_latent_regression(x, t, low)
    assert calls == [1]
    dense = lr.fit_latent_regression(x, t, np.diag(low.d) + low.y @ low.w @ low.y.T)
    np.testing.assert_allclose(fit.beta, dense.beta, rtol=1e-10)
    # the crossover is near R = M / 4 (flop counts of both routes)
    assert lr._woodbury_is_cheaper(4000, 40) and lr._woodbury_is_cheaper(1000, 200)
    assert not lr._woodbury_is_cheaper(1000, 350) and not lr._woodbury_is_cheaper(100, 2000)


# ------------------------------------------------------------------------------- one BLAS thread
def _blas_threads():
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_the_dense_algebra_runs_on_one_blas_thread_and_restores_the_limit(monkeypatch):
    sim = irsl.simulate.irt(n_models=30, n_questions=15, seed=1)
    seen = []
    real_schur, real_fit = inference._constrained_inverse_schur, lr._fit_correlated

    def schur(*args):
        seen.append(("joint", _blas_threads()))
        return real_schur(*args)

    def correlated(*args, **kwargs):
        seen.append(("regression", _blas_threads()))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(inference, "_constrained_inverse_schur", schur)
    monkeypatch.setattr(lr, "_fit_correlated", correlated)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        if not before or max(before.values()) < 2:
            pytest.skip("BLAS cannot run two threads here")
        _jml(sim, full_cov=True)
        assert [k for k, _ in seen] == ["joint", "regression"]
        for _, threads in seen:
            assert set(threads.values()) == {1}
        assert _blas_threads() == before
        # fits in concurrent Python threads leave the limit as it was, not at one thread
        x = np.column_stack([np.ones(50), np.arange(50.0)])
        t = 0.1 * np.arange(50.0) + np.sin(np.arange(50.0))
        errors = []

        def run():
            try:
                for _ in range(20):
                    lr.fit_latent_regression(x, t, np.full(50, 0.1))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=run) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        assert _blas_threads() == before


PROBE = """
import json, warnings
import irsl_stats as irsl
warnings.simplefilter("ignore")
sim = irsl.simulate.irt(n_models=60, n_questions=100, seed=3)
res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models, family="beta",
               method="jml", n_threads=1, full_cov=True)
numbers = list(res.params) + list(res.bse) + list(res.abilities["se"]) + list(res.items["a_se"])
print(json.dumps([float(v).hex() for v in numbers]))
"""


def _probe(cwd, threads):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    if threads == 1:
        env["OMP_NUM_THREADS"] = "1"
    # outside the source tree, so that the installed package (with its kernel) is imported
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True, cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_jml_fit_is_bit_identical_for_any_blas_thread_count(tmp_path):
    one = _probe(tmp_path, 1)
    two = _probe(tmp_path, 2)
    assert len(one) == len(two) > 0
    differ = [i for i, (a, b) in enumerate(zip(one, two)) if a != b]
    assert differ == []


# ------------------------------------------------------------------------------- full_cov docs
def test_fit_docstring_says_full_cov_moves_the_point_estimates():
    doc = " ".join(irsl.fit.__doc__.split())
    start = doc.index("full_cov : ")
    paragraph = doc[start: doc.index("max_iter, tol", start)]
    assert "point estimates" in paragraph and "DENSE_LIMIT" in paragraph
    assert "0.3515" in paragraph and "0.3525" in paragraph


# ------------------------------------------------------------------------------- line fits
@pytest.mark.parametrize("scale", [1e-12, 1e-100, 1e-300])
def test_linear_extrapolate_identifies_lines_in_any_units_of_x(scale):
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 2.0, 3.1, 3.9])
    assert ev.linear_extrapolate(x * scale, y, 4 * scale) == pytest.approx(4.95, rel=1e-12)
    groups = ["a"] * 4 + ["b"] * 4
    xx, yy = np.r_[x, x] * scale, np.r_[y, y + 1.0]
    got = ev.linear_extrapolate(xx, yy, 4 * scale, groups=groups)
    np.testing.assert_allclose(got.to_numpy(), [4.95, 5.95], rtol=1e-12)
    pooled = ev.linear_extrapolate(xx, yy, 4 * scale, groups=groups, common_slope=True)
    np.testing.assert_allclose(pooled.to_numpy(), [4.95, 5.95], rtol=1e-12)


def test_linear_extrapolate_counts_tiny_positive_weights():
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([0.0, 1.0, 5.0])
    # the line is pinned to (1, 0) and its slope is the other two points' least squares through it
    # (statsmodels WLS: 19.8)
    assert ev.linear_extrapolate(x, y, 10.0, weights=[1.0, 1e-25, 1e-25]) == pytest.approx(19.8, rel=1e-12)
    assert ev.linear_extrapolate(x, y, 10.0, weights=[1.0, 1.0, 1e-25]) == pytest.approx(9.0, rel=1e-12)
    # weights in any units
    w = np.array([0.3, 2.0, 1.1])
    assert ev.linear_extrapolate(x, y, 10.0, weights=w * 1e-300) == pytest.approx(
        ev.linear_extrapolate(x, y, 10.0, weights=w), rel=1e-13)


def test_linear_extrapolate_says_why_a_slope_is_not_identified():
    # two distinct x, but one of them has weight 0
    single = r"group\(s\) \['b'\]: fewer than two distinct x with a positive weight"
    with pytest.raises(ValueError, match=single):
        ev.linear_extrapolate([1.0, 2.0, 1.0, 2.0], [0.0, 1.0, 0.0, 1.0], 3.0, groups=list("aabb"),
                              weights=[1.0, 1.0, 1.0, 0.0])
    # distinct, but only by rounding relative to their magnitude
    with pytest.raises(ValueError, match=r"differ by at most 1e-11 of their magnitude"):
        ev.linear_extrapolate(1e10 + np.array([0.0, 1e-3, 2e-3]), [0.0, 1.0, 2.0], 1e10)
    with pytest.raises(ValueError, match="in no group"):
        ev.linear_extrapolate([1.0, 1.0, 2.0, 2.0], [0.0, 1.0, 0.0, 1.0], 3.0, groups=list("aabb"),
                              common_slope=True)
