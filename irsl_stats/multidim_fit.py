"""Driver of the multidimensional fits: loading pattern, the choice of D, results."""

from __future__ import annotations

import warnings
from typing import List, Optional, Union

import numpy as np
import pandas as pd

from .api import _check_enough_models
from .design_graph import design_components, disconnected_warning
from .multidim import LoadingPattern, fit_multidim
from .priors import DiscriminationPrior
from .multidim_results import MultidimResults

__all__ = ["fit_multidimensional"]


def fit_multidimensional(
    kd, rd, design, precision, *, family: str, irt: str, ability: str, dims: Union[int, str],
    max_dims: int, criterion: str, n_quad: Optional[int], max_iter: int, tol: float, verbose: bool,
    n_threads, a_prior: Optional[DiscriminationPrior] = None, reml: bool = True,
) -> MultidimResults:
    """Fit per-benchmark or exploratory D-dimensional abilities (see :func:`irsl_stats.fit`).

    With ``dims="auto"`` D runs over ``1 .. min(max_dims, N - 1, M - P - 1)`` (N questions: more
    loadings per question than that are not identified; M models, P coefficients: see below);
    the warnings of the candidate fits are recorded in ``dims_table`` and only the chosen fit's
    are issued.

    Raises ``ValueError`` when there are fewer than ``P + D + 1`` models (P coefficients of the
    latent regression, D dimensions: the residual covariance of the abilities needs more than D
    residual degrees of freedom; for D = 1 the one-dimensional fit's ``P + 2``);
    ``dims="auto"`` stops at ``D = M - P - 1`` for the same reason. ``n_quad`` (None or at
    least 2) is checked by :func:`irsl_stats.fit`. Warns
    (IRSLWarning, through the results) about questions every model passes or every model fails,
    about per-benchmark dimensions whose every question is such a question (their ability is not
    identified), about benchmarks with a single question, and when the models and questions
    fall apart into blocks that no response links (:mod:`irsl_stats.design_graph`).
    """
    common = dict(n_quad=n_quad, max_iter=max_iter, tol=tol, verbose=verbose, n_threads=n_threads, reml=reml)
    data_warnings = _design_warnings(rd) + _one_sided_questions(rd)
    if ability == "per_benchmark":
        pattern = LoadingPattern.per_benchmark(rd.item_benchmark_codes, rd.benchmarks)
        if pattern.dims < 2:
            raise ValueError(f"ability='per_benchmark' needs at least 2 benchmarks; the data have "
                             f"{pattern.dims} ({list(rd.benchmarks)})")
        _check_enough_models(rd, design, pattern.dims, "ability='per_benchmark' (one per benchmark)")
        data_warnings += _benchmark_warnings(rd)
        est = fit_multidim(kd, design, precision, irt, pattern, a_prior=a_prior, **common)
        est.warnings[:0] = data_warnings
        described = a_prior.describe(within="the benchmark") if a_prior is not None and a_prior.active else ""
        return MultidimResults(est, rd=rd, design=design, pattern=pattern, family=family, irt=irt,
                               precision=precision, discrimination_prior=described, reml=reml)
    # exploratory loadings: the prior is on each question's loading-vector norm
    described = a_prior.describe(norm=True) if a_prior is not None and a_prior.active else ""
    if dims != "auto":
        _check_enough_models(rd, design, int(dims), f"dims={int(dims)}")
        pattern = LoadingPattern.exploratory(rd.n_items, int(dims))
        est = fit_multidim(kd, design, precision, irt, pattern, a_prior=a_prior, **common)
        est.warnings[:0] = data_warnings
        return MultidimResults(est, rd=rd, design=design, pattern=pattern, family=family, irt=irt,
                               precision=precision, discrimination_prior=described, reml=reml)
    # D = N loadings per question or more cannot be told apart from fewer (and EM wanders along
    # the flat directions, even lowering the log-likelihood of a nested model): stop at N - 1
    # and D >= M - P: the abilities of the M models then span all D dimensions around the
    # regression, each model's ability is a free parameter and the marginal likelihood grows
    # without bound (6 models: log-likelihood 147 at D = 1, 3265 at D = 5 with SEs 0, a crash at
    # D = 6), so stop at M - P - 1
    _check_enough_models(rd, design, 1)
    top = max(1, min(int(max_dims), rd.n_items - 1, rd.n_models - design.matrix.shape[1] - 1))
    fits, rows, caught = [], [], []
    for d_try in range(1, top + 1):
        if verbose:
            print(f"dims='auto': fitting D = {d_try}", flush=True)
        pattern = LoadingPattern.exploratory(rd.n_items, d_try)
        # a rejected candidate's warnings (e.g. a larger D that did not converge) are not about
        # the returned fit: hold them back, list them in dims_table, re-emit the chosen fit's
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            est = fit_multidim(kd, design, precision, irt, pattern, a_prior=a_prior, **common)
            est.warnings[:0] = data_warnings
            res = MultidimResults(est, rd=rd, design=design, pattern=pattern, family=family, irt=irt,
                                  precision=precision, discrimination_prior=described, reml=reml)
        fits.append(res)
        caught.append(list(got))
        texts = [str(w.message) for w in got]
        rows.append(dict(dims=d_try, llf=res.llf, n_params=res.n_params, aic=res.aic, bic=res.bic,
                         converged=res.converged, n_warnings=len(texts), warnings=" | ".join(texts)))
    table = pd.DataFrame(rows)
    best = int(table[criterion].idxmin())
    chosen = fits[best]
    chosen.dims_table = table
    chosen.criterion = criterion
    for w in caught[best]:
        warnings.warn(w.message, w.category, stacklevel=3)  # points at the caller of irsl.fit
    return chosen


def _design_warnings(rd) -> List[str]:
    """The warning for a design that falls apart into blocks no response links (marginal ML:
    only the population distribution places them on one scale); empty when it is connected."""
    comp = design_components(rd.model, rd.item, rd.n_models, rd.n_items, rd.carries_weight, rd.model_ptr)
    text = disconnected_warning(comp, rd.model_labels, rd.item_labels, "mml")
    return [text] if text else []


def _one_sided_questions(rd) -> List[str]:
    """The one-dimensional fit's warning for questions every model passes (or fails)."""
    from .estimate import _one_sided_questions as one_sided_questions

    return one_sided_questions(rd)


def _benchmark_warnings(rd) -> List[str]:
    """Warnings about per-benchmark dimensions the data cannot pin down.

    A benchmark whose every question is one-sided (every model passes it, or every model fails
    it) carries no information about its ability: its loadings, variance and correlations are
    whatever EM drifted to (its correlations came out e.g. 0.17 with NaN SEs and no word). A
    benchmark with a single question determines its ability, loading and correlations only
    through the shape of that question's response distribution (for Bernoulli answers hardly
    at all: EM crawls along a ridge and the correlation intervals span most of (-1, 1)).
    """
    from .scoring import one_sided, response_extremes

    side = one_sided(rd.item, response_extremes(rd.family.name, rd.y, rd.trials), rd.carries_weight, rd.n_items)
    codes = np.asarray(rd.item_benchmark_codes)
    names = list(rd.benchmarks.tolist())  # plain labels for the message (not np.int64(2))
    n_per = np.bincount(codes, minlength=len(names))
    empty = [names[b] for b in range(len(names)) if n_per[b] and np.all(side[codes == b] != 0)]
    single = [names[b] for b in range(len(names)) if n_per[b] == 1 and names[b] not in empty]
    out = []
    if empty:
        out.append(
            f"benchmark(s) {empty}: every question is answered correctly by every model or by none, so "
            "their ability is not identified (its loadings, variance and correlations with the other "
            "benchmarks are arbitrary, their standard errors NaN); drop these benchmarks before fitting")
    if single:
        out.append(
            f"benchmark(s) {single} have a single question: their ability, that question's loading and "
            "the ability's correlations with the other benchmarks rest on one question's responses and "
            "are weakly identified (for Bernoulli answers hardly at all); add questions to these "
            "benchmarks or merge them into related ones")
    return out
