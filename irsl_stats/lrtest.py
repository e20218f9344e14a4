"""Likelihood-ratio test of nested scaling laws.

Two scaling laws fitted to the same responses with the same measurement model, one with fewer
covariates (``ability ~ log(compute)`` inside ``ability ~ log(compute) + family``), differ only in
the latent regression. Their log-likelihoods are comparable only when both are maximum-likelihood
fits: with the default REML-type ``sigma`` (see :func:`irsl_stats.fit`, ``reml``) each is evaluated
below its maximum by an amount that depends on the number of coefficients, so REML-type fits are
refitted with ``reml=False`` first -- what lme4's ``anova`` does.

Which log-likelihood:

* ``method="mml"``: the marginal log-likelihood of the responses (question parameters re-estimated
  under each law);
* ``method="jml"``: the log-likelihood of the latent regression of the ability estimates with
  their sampling covariance, ``theta_hat ~ N(X beta, sigma^2 I + V)``. The joint likelihood of the
  responses does not involve the formula (every model has its own ability), so this second stage
  is the part of the fit that the covariates change.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from .formula import scaled_lstsq, scaled_rank

__all__ = ["LRTestResult", "anova", "compare_lr_test"]


class LRTestResult(NamedTuple):
    """Result of :func:`compare_lr_test`; unpacks like statsmodels' ``(lr_stat, p_value, df_diff)``.

    Attributes
    ----------
    lr_stat : float
        ``2 (llf_full - llf_restricted)`` of the maximum-likelihood fits (>= 0).
    p_value : float
        By default (``small_sample=True``) the upper tail of ``F(df_diff, M - P)`` at
        ``expm1(lr_stat / M) (M - P) / df_diff`` (M models in the latent regression -- under JML
        not those it gives weight 0 --, P the rank of the full law's design), the exact test of
        a Gaussian linear regression, of which the statistic is a monotone function; with
        ``small_sample=False`` the upper tail of chi-squared with ``df_diff`` degrees of freedom.
    df_diff : int
        Number of restrictions: rank of the full design minus rank of the restricted one.
    """

    lr_stat: float
    p_value: float
    df_diff: int


# fit options that must agree for the two likelihoods to be of the same measurement model (the
# identification only relabels the scale, and the quadrature only matters to MML)
_SAME_OPTIONS = ("method", "irt", "precision", "precision_prior", "discrimination_prior")


def _require_same_responses(full, restricted) -> None:
    a, b = full._response_data, restricted._response_data
    if a is None or b is None:
        raise ValueError("compare_lr_test needs results of irsl.fit (they carry their responses)")
    if a is b:
        return
    differs = _first_difference(a, b)
    if differs:
        raise ValueError(
            "the two fits are not of the same responses (models, questions, family, responses and "
            f"weights must be identical): {a.nobs} responses of {a.n_models} models x {a.n_items} "
            f"questions ({a.family.name}) vs {b.nobs} of {b.n_models} x {b.n_items} ({b.family.name}); "
            f"{differs}"
        )


def _first_difference(a, b) -> str:
    """What first differs between two ResponseData ("" when they hold the same responses)."""
    if a.family.name != b.family.name:
        return f"the families differ ({a.family.name!r} vs {b.family.name!r})"
    if not a.model_labels.equals(b.model_labels):
        return "the models differ (their labels)"
    if not a.item_labels.equals(b.item_labels):
        return "the questions differ (their labels)"
    if a.nobs != b.nobs:
        return "the numbers of responses differ"
    for name, u, v in (("which model answered", a.model, b.model), ("which question was answered", a.item, b.item),
                       ("the responses", a.y, b.y), ("the trials", a.trials, b.trials),
                       ("the weights", a.weights, b.weights)):
        if (u is None) != (v is None):
            return f"{name} differ (given for one fit only)"
        if u is not None and not np.array_equal(u, v):
            rows = np.flatnonzero(np.asarray(u) != np.asarray(v))[:5]
            return f"{name} differ, first at response row(s) {rows.tolist()} (in model order)"
    return ""


def _require_same_options(full, restricted) -> None:
    fa, fb = getattr(full, "_fit_call", None), getattr(restricted, "_fit_call", None)
    if fa is None or fb is None:
        raise ValueError("compare_lr_test needs results of irsl.fit (they carry their fitting options)")
    options = _SAME_OPTIONS + (("n_quad",) if fa.get("method") == "mml" else ())
    differ = [k for k in options if not _same_value(fa.get(k), fb.get(k))]
    if differ:
        shown = ", ".join(f"{k}={fa.get(k)!r} vs {fb.get(k)!r}" for k in differ)
        raise ValueError(
            f"the two fits differ in more than their formula ({shown}); a likelihood-ratio test of "
            "covariates needs the same measurement model in both"
        )


def _same_value(u, v) -> bool:
    try:
        return bool(u == v)
    except (TypeError, ValueError):
        return u is v


def _rank(x: np.ndarray) -> int:
    return scaled_rank(x)  # column-scaled: raw-unit covariates are not rounding noise


_PAIR_HINT = "call the method on the larger law with the smaller one as `restricted`"
# anova sorts its fits itself, so "swap the arguments" is no remedy there
_ANOVA_HINT = ("anova needs a sequence of nested laws, each containing the columns of the smaller "
               "ones; compare non-nested laws by the aic/bic of their reml=False fits instead")


def _nesting(full, restricted, hint: str = _PAIR_HINT) -> int:
    """Number of restrictions; an error naming the columns when the designs are not nested."""
    xf = np.asarray(full.design.matrix, float)
    xr = np.asarray(restricted.design.matrix, float)
    if xr.shape[1]:
        coef = scaled_lstsq(xf, xr)
        resid = np.abs(xr - xf @ coef).max(axis=0)
        outside = resid > 1e-8 * np.maximum(np.abs(xr).max(axis=0), 1.0)
        if outside.any():
            names = [n for n, o in zip(restricted.design.column_names, outside) if o]
            raise ValueError(
                f"the scaling laws are not nested: column(s) {names} of the restricted law "
                f"{restricted.design.formula!r} are not combinations of the columns of "
                f"{full.design.formula!r}; {hint}"
            )
    df = _rank(xf) - _rank(xr)
    if df < 1:
        raise ValueError(
            f"{full.design.formula!r} and {restricted.design.formula!r} span the same covariates "
            f"(no restriction to test); {'give each law once' if hint is _ANOVA_HINT else 'call the method on the larger law'}"
        )
    return df


def _maximum_likelihood(res):
    """The fit itself if sigma is already ML, else its refit with ``reml=False``.

    The refit is of the responses and design the fit was made on (as lme4's ``anova`` refits from
    its stored model frame), not of the tables passed to :func:`irsl_stats.fit`: those may have
    been changed since, which entered the test silently while the fits did not see it.
    """
    if not res.fit_info.sigma_reml:
        return res
    from .api import _refit

    return _refit(res, reml=False)


def _loglik(res) -> float:
    if res.fit_info.method == "jml":
        return float(res.fit_info.latent_llf)
    return float(res.llf)


def compare_lr_test(full, restricted, small_sample: bool = True) -> LRTestResult:
    """Likelihood-ratio test of a scaling law against a nested one with fewer covariates.

    Parameters
    ----------
    full, restricted : IRSLResults
        Fits of :func:`irsl_stats.fit` to the same responses with the same options except the
        formula; the restricted formula's columns must be combinations of the full one's (e.g.
        ``ability ~ log(compute)`` within ``ability ~ log(compute) + family``). Fits with the
        REML-type ``sigma`` (the default) are refitted with ``reml=False`` on the responses and
        covariates they were fitted on (a later change to the tables given to ``fit`` does not
        enter the test).
    small_sample : bool
        Refer the statistic to the F distribution with ``M - P`` denominator degrees of freedom
        (the full fit's ``df_resid``; default) rather than to chi-squared. The scaling law is a
        regression over the M models in it (under JML not those whose ability has no finite
        standard error, e.g. all responses extreme: the latent regression gives them weight 0),
        and with tens of models the chi-squared reference rejects too often.

    Returns
    -------
    LRTestResult
        ``(lr_stat, p_value, df_diff)``.

    Notes
    -----
    Under the restricted law, ``lr_stat`` is asymptotically chi-squared with ``df_diff`` degrees
    of freedom as the number of models grows. Measured size of a nominal 5% test of one null
    covariate with 30 models (200 replicates, ``benchmarks/coverage.py --what lr``): 0.095 with
    the chi-squared reference, about 0.05 with the F reference. The test assumes the model is
    correctly specified: with ``cov_type`` robust or cluster the Wald test
    (:meth:`IRSLResults.wald_test`) is the one that uses that covariance. :func:`anova` tabulates
    a sequence of nested laws.
    """
    _check_pair(full, restricted)
    df = _nesting(full, restricted)
    _warn_if_robust(full, restricted)
    ml_full, ml_restricted = _maximum_likelihood(full), _maximum_likelihood(restricted)
    _require_same_measurement_error(ml_full, ml_restricted)
    return _lr(ml_full, ml_restricted, df, small_sample)


def anova(*fits, small_sample: bool = True) -> pd.DataFrame:
    """Table of nested scaling laws, each tested against the next smaller one (lme4's ``anova``).

    Parameters
    ----------
    *fits : IRSLResults
        Two or more fits of the same responses with the same options, whose formulas are nested
        (in any order: they are sorted by their number of coefficients).
    small_sample : bool
        F reference for the p-values (default) or chi-squared; see :func:`compare_lr_test`.

    Returns
    -------
    DataFrame
        One row per formula (index), smallest first: ``n_coef`` (coefficients of the law),
        ``llf``, ``aic``, ``bic`` of the maximum-likelihood fit, and against the row above
        ``lr_stat``, ``df_diff``, ``p_value`` (NaN in the first row). Under JML the log-likelihood
        and the criteria are those of the latent regression of the ability estimates (P + 1
        parameters, M observations); under MML those of the marginal likelihood.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=1)
    >>> kw = dict(data=sim.responses, models=sim.models, reml=False)
    >>> table = irsl.anova(irsl.fit("ability ~ 1", **kw), irsl.fit("ability ~ log(compute)", **kw))
    >>> table.columns.tolist()
    ['n_coef', 'llf', 'aic', 'bic', 'lr_stat', 'df_diff', 'p_value']
    """
    if len(fits) < 2:
        raise ValueError(f"anova needs at least two fits; got {len(fits)}")
    for f in fits:
        _check_pair(fits[0], f)
    ordered = sorted(fits, key=lambda f: _rank(np.asarray(f.design.matrix, float)))
    dfs = [_nesting(big, small, _ANOVA_HINT) for small, big in zip(ordered[:-1], ordered[1:])]
    _warn_if_robust(*fits)
    ml = [_maximum_likelihood(f) for f in ordered]
    for f in ml[1:]:
        _require_same_measurement_error(ml[0], f)
    rows = []
    for i, r in enumerate(ml):
        llf, k, n = _criterion_terms(r)
        row = dict(n_coef=len(r.design.column_names), llf=llf, aic=-2 * llf + 2 * k,
                   bic=-2 * llf + np.log(n) * k, lr_stat=np.nan, df_diff=np.nan, p_value=np.nan)
        if i:
            test = _lr(r, ml[i - 1], dfs[i - 1], small_sample)
            row.update(lr_stat=test.lr_stat, df_diff=test.df_diff, p_value=test.p_value)
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index([f.design.formula for f in ordered], name="formula"))
    table["df_diff"] = table["df_diff"].astype("Int64")
    return table


def _n_regression(res) -> int:
    """Number of models in the latent regression (its residual df plus the rank of its design).

    Under JML the models with a finite ability standard error (the regression gives the others
    weight 0); under MML all of them.
    """
    return int(res.df_resid + _rank(np.asarray(res.design.matrix, float)))


def _criterion_terms(res):
    """(log-likelihood, number of parameters, sample size) for the information criteria.

    The sample size is the number of models in the latent regression (the independent units of
    the marginal likelihood; the observations of JML's latent regression, without the models it
    gives weight 0), as in ``bic``.
    """
    if res.fit_info.method == "jml":
        return _loglik(res), len(res.design.column_names) + 1, _n_regression(res)
    return _loglik(res), res._n_params, _n_regression(res)


def _check_pair(full, restricted) -> None:
    from .results import IRSLResults

    for name, r in (("full", full), ("restricted", restricted)):
        if not isinstance(r, IRSLResults):
            raise TypeError(f"{name} must be an IRSLResults (one shared ability); got {type(r).__name__}")
    _require_same_responses(full, restricted)
    _require_same_options(full, restricted)


def _require_same_measurement_error(full, restricted) -> None:
    """Under JML the latent regression weighs each ability by its sampling covariance: the joint
    one, or the block-conditional one (``full_cov=False``, or the fallback when the joint one is
    singular or leaves too few models). Log-likelihoods under different covariances are not
    comparable."""
    if full.fit_info.method != "jml":
        return
    routes = [r.fit_info.extra.get("Standard errors") for r in (full, restricted)]
    if routes[0] != routes[1]:
        raise ValueError(
            "under JML the two laws weigh the ability estimates by different sampling covariances "
            f"({routes[0]!r} for {full.design.formula!r}, {routes[1]!r} for {restricted.design.formula!r}), "
            "so their latent log-likelihoods are not comparable; refit both with full_cov=False "
            "(block-conditional for both), or use method='mml'"
        )


def _warn_if_robust(*fits) -> None:
    from .results import IRSLWarning

    robust = sorted({f.fit_info.cov_type for f in fits} - {"nonrobust"})
    if robust:
        warnings.warn(
            f"a likelihood-ratio test assumes a correctly specified model; with cov_type={robust[0]!r} "
            "use wald_test, which uses the robust covariance", IRSLWarning, stacklevel=4,
        )


def _lr(ml_full, ml_restricted, df: int, small_sample: bool) -> LRTestResult:
    from .results import IRSLWarning

    for name, r in (("full", ml_full), ("restricted", ml_restricted)):
        if not r.converged:
            warnings.warn(f"the {name} fit did not converge: its log-likelihood may be below its "
                          "maximum and the test is unreliable; refit with a larger max_iter",
                          IRSLWarning, stacklevel=4)
    lr = 2.0 * (_loglik(ml_full) - _loglik(ml_restricted))
    if lr < 0:
        # nested maximum likelihoods cannot decrease; a small negative value is the optimisers'
        # tolerance, a large one a fit stopped short of its maximum
        if lr < -1e-3:
            warnings.warn(
                f"the restricted law has the higher log-likelihood (by {-lr / 2:.4g}): a fit stopped "
                "short of its maximum; refit both with a smaller tol", IRSLWarning, stacklevel=4,
            )
        lr = 0.0
    if small_sample:
        # the regression's observations are the models it weighs (JML leaves out those without a
        # finite ability standard error): counting them all made the F reference too liberal
        m, df_resid = _n_regression(ml_full), ml_full.df_resid
        if df_resid < 1:
            raise ValueError(
                f"no residual degrees of freedom ({m} models in the latent regression of "
                f"{ml_full.fit_info.n_models}, {m - df_resid} coefficients); use "
                "small_sample=False for the chi-squared reference, a smaller law, or more models"
            )
        p_value = stats.f.sf(np.expm1(lr / m) * df_resid / df, df, df_resid)
    else:
        p_value = stats.chi2.sf(lr, df)
    return LRTestResult(float(lr), float(p_value), int(df))
