"""Driver of the multidimensional fits: loading pattern, the choice of D, results."""

from __future__ import annotations

import warnings
from typing import Optional, Union

import pandas as pd

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

    With ``dims="auto"`` D runs over ``1 .. min(max_dims, N - 1)`` (N questions: more loadings
    per question than that are not identified); the warnings of the candidate fits are recorded
    in ``dims_table`` and only the chosen fit's are issued.
    """
    common = dict(n_quad=n_quad, max_iter=max_iter, tol=tol, verbose=verbose, n_threads=n_threads, reml=reml)
    if ability == "per_benchmark":
        pattern = LoadingPattern.per_benchmark(rd.item_benchmark_codes, rd.benchmarks)
        if pattern.dims < 2:
            raise ValueError(f"ability='per_benchmark' needs at least 2 benchmarks; the data have "
                             f"{pattern.dims} ({list(rd.benchmarks)})")
        est = fit_multidim(kd, design, precision, irt, pattern, a_prior=a_prior, **common)
        described = a_prior.describe(within="the benchmark") if a_prior is not None and a_prior.active else ""
        return MultidimResults(est, rd=rd, design=design, pattern=pattern, family=family, irt=irt,
                               precision=precision, discrimination_prior=described)
    # exploratory loadings: the prior is on each question's loading-vector norm
    described = a_prior.describe(norm=True) if a_prior is not None and a_prior.active else ""
    if dims != "auto":
        pattern = LoadingPattern.exploratory(rd.n_items, int(dims))
        est = fit_multidim(kd, design, precision, irt, pattern, a_prior=a_prior, **common)
        return MultidimResults(est, rd=rd, design=design, pattern=pattern, family=family, irt=irt,
                               precision=precision, discrimination_prior=described)
    # D = N loadings per question or more cannot be told apart from fewer (and EM wanders along
    # the flat directions, even lowering the log-likelihood of a nested model): stop at N - 1
    top = max(1, min(int(max_dims), rd.n_items - 1))
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
            res = MultidimResults(est, rd=rd, design=design, pattern=pattern, family=family, irt=irt,
                                  precision=precision, discrimination_prior=described)
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
