"""Driver of the multidimensional fits: loading pattern, the choice of D, results."""

from __future__ import annotations

from typing import Optional, Union

import pandas as pd

from .multidim import LoadingPattern, fit_multidim
from .priors import DiscriminationPrior
from .multidim_results import MultidimResults

__all__ = ["fit_multidimensional"]


def fit_multidimensional(
    kd, rd, design, precision, *, family: str, irt: str, ability: str, dims: Union[int, str],
    max_dims: int, criterion: str, n_quad: Optional[int], max_iter: int, tol: float, verbose: bool,
    n_threads, a_prior: Optional[DiscriminationPrior] = None,
) -> MultidimResults:
    """Fit per-benchmark or exploratory D-dimensional abilities (see :func:`irsl_stats.fit`)."""
    common = dict(n_quad=n_quad, max_iter=max_iter, tol=tol, verbose=verbose, n_threads=n_threads)
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
    fits, rows = [], []
    for d_try in range(1, int(max_dims) + 1):
        if verbose:
            print(f"dims='auto': fitting D = {d_try}", flush=True)
        pattern = LoadingPattern.exploratory(rd.n_items, d_try)
        est = fit_multidim(kd, design, precision, irt, pattern, a_prior=a_prior, **common)
        res = MultidimResults(est, rd=rd, design=design, pattern=pattern, family=family, irt=irt,
                              precision=precision, discrimination_prior=described)
        fits.append(res)
        rows.append(dict(dims=d_try, llf=res.llf, n_params=res.n_params, aic=res.aic, bic=res.bic,
                         converged=res.converged))
    table = pd.DataFrame(rows)
    best = int(table[criterion].idxmin())
    chosen = fits[best]
    chosen.dims_table = table
    chosen.criterion = criterion
    return chosen
