"""Kernel passes counted in full, the fits' progress lines, and fit's check of ``verbose``.

* the "Kernel passes" of a JML and of an MML fit are every pass the C++ kernel made over the data,
  including those of the safeguarded question update (grid passes of the total, one pass per node
  for each per-question check), which neither count had (JML 2PL with questions at the
  discrimination bound: 126 reported for 714 passes made);
* with ``verbose=True`` the MML fit prints a line for its joint-ML start and labels the lines of
  each REML run (each run numbers its EM maps from 1); the JML fit prints a line when its
  iterations end, before the standard errors, which printed nothing however long they took;
* ``verbose`` must be a bool: 2, "yes" or 0.5 acted as True.
"""

from __future__ import annotations

import collections
import re
import warnings

import numpy as np
import pytest
from _posterior_setup import binomial_posterior, newton_from_ones

import irsl_stats as irsl
from irsl_stats import _kernel, estimate, mml
from irsl_stats.priors import DiscriminationPrior

#: the kernel functions that each make one pass over the observations
KERNEL_PASSES = ("loglik", "accumulate", "loglik_grid", "accumulate_items_weighted", "obs_derivatives")


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counter of the kernel's passes over the data, by function, from here on."""
    counts = collections.Counter()
    for name in KERNEL_PASSES:
        def counted(*args, _f=getattr(_kernel, name), _name=name, **kwargs):
            counts[_name] += 1
            return _f(*args, **kwargs)

        monkeypatch.setattr(_kernel, name, counted)
    return counts


@pytest.fixture(scope="module")
def separating():
    """Sparse bernoulli responses (40 models x 100 questions, 20% answered): many questions
    separate the models, so 2PL discriminations run to their bound and the safeguarded question
    update of both estimators has to shorten steps."""
    sim = irsl.simulate.irt(n_models=40, n_questions=100, family="bernoulli", seed=5)
    rng = np.random.default_rng(1)
    keep = rng.random(len(sim.responses)) < 0.2
    return sim.responses[keep].reset_index(drop=True), sim.models


def _fit_quietly(data, models, **kwargs):
    # not converged, questions at the bound or never solved: this data set is meant to be hard
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irsl.IRSLWarning)
        return irsl.fit("ability ~ log(compute)", data=data, models=models, family="bernoulli",
                        irt="2pl", n_threads=1, full_cov=False, **kwargs)


def _record_passes(monkeypatch, module, name, kernel_calls) -> dict:
    """Wrap the estimator ``module.name`` to record the kernel passes it made (``passes``), those
    it reported (``reported``) and the calls by kernel function (``by_function``)."""
    made = {}
    inner = getattr(module, name)

    def recorded(*args, **kwargs):
        before = sum(kernel_calls.values())
        out = inner(*args, **kwargs)
        made["passes"], made["reported"] = sum(kernel_calls.values()) - before, out.n_passes
        made["by_function"] = dict(kernel_calls)
        return out

    monkeypatch.setattr(module, name, recorded)
    return made


def test_jml_counts_the_passes_of_the_safeguarded_question_update(separating, kernel_calls, monkeypatch):
    made = _record_passes(monkeypatch, estimate, "fit_jml", kernel_calls)
    _fit_quietly(*separating, method="jml", max_iter=15)
    # the safeguard ran (else the test would not test it), and its passes are counted
    assert made["by_function"]["loglik_grid"] > 0 and made["by_function"]["obs_derivatives"] > 0
    assert made["reported"] == made["passes"]


def test_mml_counts_every_kernel_pass(separating, kernel_calls, monkeypatch):
    made = _record_passes(monkeypatch, mml, "fit_mml", kernel_calls)
    res = _fit_quietly(*separating, method="mml", max_iter=15)
    assert made["reported"] == made["passes"]
    # the summary's "Kernel passes" adds only the passes after fit_mml (the check of sigma = 0)
    assert made["passes"] <= res.n_kernel_passes == sum(kernel_calls.values())


@pytest.fixture(scope="module")
def posterior_setup():
    """Binomial counts of 40 models on 6 questions, with fixed quadrature nodes and weights."""
    return binomial_posterior()


def test_safeguarded_update_returns_the_passes_it_made(posterior_setup, kernel_calls):
    kd, nodes, post, precision = posterior_setup
    old, q_old, newton = newton_from_ones(kd, nodes, post, precision)
    overshoot = newton.copy()
    overshoot.a[0], overshoot.d[0] = old.a[0] + 5.0, old.d[0] - 5.0
    cases = [
        (newton, q_old, 1),      # Q rose: one grid pass of the total
        (newton, None, 2),       # and one more for the total at the old point
        (overshoot, q_old, None),  # Q fell: per-question checks, n_quad passes each
    ]
    for new, q0, expected in cases:
        kernel_calls.clear()
        _, n_short, n_passes = mml._safeguarded_item_update(kd, old, new, q0, nodes, post, precision,
                                                            "2pl", DiscriminationPrior(), 1)
        assert n_passes == sum(kernel_calls.values())
        if expected is not None:
            assert n_passes == expected and n_short == 0
    # the overshoot was shortened: at least two checks of the questions' Q, 5 node passes each
    assert n_short >= 1 and kernel_calls["obs_derivatives"] >= 2 * nodes.shape[1]
    assert kernel_calls["obs_derivatives"] % nodes.shape[1] == 0


@pytest.fixture(scope="module")
def beta_sim():
    return irsl.simulate.irt(n_models=40, n_questions=60, seed=1)


def test_mml_verbose_labels_the_reml_runs_and_the_start(beta_sim, capsys):
    irsl.fit("ability ~ log(compute)", data=beta_sim.responses, models=beta_sim.models,
             n_threads=1, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    # the joint-ML start, silent before, comes first
    assert lines[0].startswith("MML start: joint ML, ") and "kernel passes" in lines[0]
    runs = [int(m_.group(1)) for m_ in map(re.compile(r"MML \(REML run (\d+)\) iter ").match, lines[1:]) if m_]
    # every EM line names its run (no unlabelled "MML iter" that restarts at 1), runs in order
    assert len(runs) == len(lines) - 1 > 0
    assert runs == sorted(runs) and runs[0] == 1 and runs[-1] >= 2


def test_mml_verbose_without_reml_is_one_run(beta_sim, capsys):
    irsl.fit("ability ~ log(compute)", data=beta_sim.responses, models=beta_sim.models,
             n_threads=1, verbose=True, reml=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("MML start: ")
    assert all(line.startswith("MML iter ") for line in lines[1:]) and len(lines) > 1


def test_jml_verbose_announces_the_standard_errors(beta_sim, capsys):
    # a NumPy bool is a bool, as for reml and use_t
    res = irsl.fit("ability ~ log(compute)", data=beta_sim.responses, models=beta_sim.models,
                   method="jml", n_threads=1, verbose=np.True_)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == res.n_iter + 1 and all(line.startswith("JML iter ") for line in lines[:-1])
    last = lines[-1]
    assert last.startswith(f"JML done: {res.n_iter} iteration(s), converged, ")
    assert last.endswith("computing the standard errors")
    # the iterations' passes and the final log-likelihood's, then the standard errors' own
    passes = int(re.search(r"(\d+) kernel passes", last).group(1))
    assert passes == int(re.search(r"passes (\d+)", lines[-2]).group(1)) + 1 < res.n_kernel_passes


@pytest.mark.parametrize("verbose", [2, 1, 0, "yes", 0.5, None, "False"])
def test_verbose_must_be_a_bool(beta_sim, verbose):
    with pytest.raises(ValueError, match=re.escape(f"verbose must be True or False; got {verbose!r}")):
        irsl.fit("ability ~ log(compute)", data=beta_sim.responses, models=beta_sim.models,
                 n_threads=1, verbose=verbose)
