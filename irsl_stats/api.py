"""``irsl.fit``: the user-facing entry point for scaling-law fits.

Turns a formula and pandas tables into validated arrays (:mod:`irsl_stats.data`,
:mod:`irsl_stats.formula`), runs an estimator (:mod:`irsl_stats.jml`, :mod:`irsl_stats.mml`), maps
the estimates to the chosen identification (:mod:`irsl_stats.identification`) and wraps them in
:class:`~irsl_stats.results.IRSLResults`.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Union

import numpy as np
import pandas as pd

from ._checks import is_integer, is_positive_finite
from . import _kernel
from .data import ResponseData, _drop_unused_categories
from .formula import parse_latent_formula, precision_design
from .identification import Identification
from .jml import JMLOptions
from .precision import PrecisionModel
from .priors import DiscriminationPrior
from .results import IRSLResults, IRSLWarning

if TYPE_CHECKING:  # the multidimensional results are imported when a fit needs them
    from .multidim_results import MultidimResults

__all__ = ["fit", "response_data", "kernel_data", "build_precision"]

#: adaptive Gauss-Hermite nodes per model of a one-ability MML fit
DEFAULT_N_QUAD = 7
#: default standard deviation of the shrinkage prior on per-question log precisions
DEFAULT_PRECISION_PRIOR = 2.0


#: defaults of fit's column-name arguments: a ResponseData passed as ``data`` already fixed these
#: roles, so only a value different from both the default and the ResponseData's is a conflict
_COLUMN_DEFAULTS = {"question": "question", "response": "y", "successes": None, "trials": None,
                    "benchmark": None, "weights": None}


def response_data(
    data: Union[pd.DataFrame, ResponseData],
    *,
    model: Optional[str],
    question: str,
    response: Optional[str],
    successes: Optional[str],
    trials: Optional[str],
    benchmark: Optional[str],
    family: str,
    boundary: Optional[str],
    weights: Optional[str],
) -> ResponseData:
    """Validate a long table (or pass a :class:`ResponseData` through).

    Parameters
    ----------
    data : DataFrame or ResponseData
    model, question, response, successes, trials, benchmark, weights : str or None
        Column names, as in :func:`fit` (``model=None``: ``"model"``). With a ResponseData they
        must agree with the columns it was built from (``model=`` is not checked: with a
        ResponseData it only names the key of the models table).
    family : str
    boundary : {"error", "squeeze", "clip"} or None
        ``None``: not given (``"error"`` for a DataFrame; the ResponseData's own policy).

    Returns
    -------
    ResponseData

    Raises
    ------
    ValueError
        If ``family`` or an explicitly given ``boundary`` or column name conflicts with the
        ResponseData's, or if ``response=`` is given together with ``successes=``/``trials=``.
    """
    if isinstance(data, ResponseData):
        if data.family.name != family:
            raise ValueError(
                f"the ResponseData was built for family {data.family.name!r} but family={family!r}"
            )
        # The ResponseData already applied its boundary policy and column roles; silently using
        # them when the call asks for something else would fit different data than requested.
        # boundary='error' is not a conflict: it was fit's default (and wrappers such as
        # calibrate still forward it), so it cannot be told apart from "not given".
        if (data.family.name == "beta" and boundary not in (None, "error")
                and boundary != data.boundary):
            raise ValueError(
                f"boundary={boundary!r} conflicts with the ResponseData, which was built with "
                f"boundary={data.boundary!r} (the policy is applied when the ResponseData is "
                f"built); drop boundary= or rebuild it with ResponseData.from_long(..., "
                f"boundary={boundary!r})"
            )
        given = {"question": question, "response": response, "successes": successes,
                 "trials": trials, "benchmark": benchmark, "weights": weights}
        conflicts = [
            f"{role}={name!r} (the ResponseData has {data.columns.get(role)!r})"
            for role, name in given.items()
            if name != _COLUMN_DEFAULTS[role] and name != data.columns.get(role)
            # a from_long built without a response column records None or "y"/"rate"
            and not (role == "response" and name is None)
        ]
        if conflicts:
            raise ValueError(
                f"with data=ResponseData the columns are those it was built from; "
                f"{', '.join(conflicts)} conflict(s): drop these arguments or rebuild the "
                f"ResponseData with them"
            )
        return data
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame or a ResponseData; got {type(data).__name__}")
    # response= is left to from_long: its default "y" is ignored with counts, any other value
    # given together with successes=/trials= is an error there (not silently dropped)
    return ResponseData.from_long(
        data,
        model="model" if model is None else model,
        question=question,
        response=response,
        successes=successes,
        trials=trials,
        benchmark=benchmark,
        family=family,
        boundary="error" if boundary is None else boundary,
        weights=weights,
    )


def kernel_data(rd: ResponseData) -> "_kernel.KernelData":
    """Kernel arrays for a :class:`ResponseData` (trials only for count families)."""
    return _kernel.KernelData(
        rd.model,
        rd.item,
        rd.y,
        n_models=rd.n_models,
        n_items=rd.n_items,
        family=rd.family.name,
        trials=rd.trials if rd.family.uses_counts else None,
        weight=rd.weights,
        model_ptr=rd.model_ptr,
    )


def _question_table(data: Optional[pd.DataFrame], rd: ResponseData, question: str) -> pd.DataFrame:
    """Question covariates (columns of ``data`` constant within question), in estimator order.

    Columns whose values cannot be hashed (lists or dicts, e.g. lm-eval's ``resps``) or whose
    name is repeated are no covariates and are left out. Columns left out because they vary
    within a question are recorded in ``table.attrs[formula.VARYING_WITHIN_QUESTION]`` (with the
    questions), so that a precision formula using one says so instead of formulaic's "`level` is
    not present".
    """
    from .formula import VARYING_WITHIN_QUESTION

    table = pd.DataFrame(index=rd.item_labels)
    if rd.item_benchmark is not None:
        table["benchmark"] = rd.item_benchmark.reindex(rd.item_labels).to_numpy()
    varying = {}
    if isinstance(data, pd.DataFrame) and question in data.columns:
        g = data.groupby(question, sort=False, observed=True)
        repeated = set(data.columns[data.columns.duplicated()])
        const_cols = []
        for c in data.columns:
            if c == question or c in repeated or c in table.columns:
                continue
            try:
                n_unique = g[c].nunique(dropna=False)
            except TypeError:  # unhashable values: an unrelated column crashed every fit
                continue
            over = n_unique[n_unique > 1]
            if len(over) == 0:
                const_cols.append(c)
            else:
                varying[c] = {"n": len(over), "questions": list(over.index[:10]),
                              "distinct": int(over.iloc[0])}
        if const_cols:
            first = g[const_cols].first()
            for c in const_cols:
                table[c] = first[c].reindex(rd.item_labels).to_numpy()
    table.attrs[VARYING_WITHIN_QUESTION] = varying
    return table


def build_precision(
    precision, family: str, n_items: int, question_table: pd.DataFrame, prior
) -> PrecisionModel:
    """Turn the ``precision=`` argument into a :class:`PrecisionModel`."""
    if family in ("bernoulli", "binomial"):
        return PrecisionModel("none", n_items)
    if isinstance(precision, numbers.Real) and not isinstance(precision, (bool, np.bool_)):
        if not np.isfinite(precision) or precision <= 0:
            raise ValueError(f"a fixed precision must be a positive number; got {precision!r}")
        return PrecisionModel("fixed", n_items, fixed_value=float(precision))
    if precision == "common":
        return PrecisionModel("linear", n_items, z=np.ones((n_items, 1)), names=["log_phi"])
    if precision == "item":
        if prior == "auto":
            scale = DEFAULT_PRECISION_PRIOR
        elif prior is None or prior is False:
            scale = None
        else:
            # a string other than 'auto' failed inside float() with "could not convert string to
            # float", and inf was taken as a prior; the same rule as discrimination_prior
            if not is_positive_finite(prior):
                raise ValueError(f"precision_prior must be a positive finite number, None or 'auto'; "
                                 f"got {prior!r}")
            scale = float(prior)
        return PrecisionModel("item", n_items, prior_scale=scale)
    if isinstance(precision, str) and precision.strip().startswith("~"):
        z, names = precision_design(precision, question_table)
        return PrecisionModel.linear(n_items, z, names)
    raise ValueError(
        f"precision must be 'common', 'item', a formula '~ <question covariates>' or a positive "
        f"number; got {precision!r}"
    )


#: below this median number of responses per model, JML with per-question precision is unsafe
JML_MIN_QUESTIONS_PER_MODEL = 30


def _jml_degeneracy_warning(rd: ResponseData, precision: PrecisionModel) -> list:
    """Warn before a JML fit whose per-question precisions are likely to diverge."""
    if not precision.per_item:
        return []
    per_model = np.diff(rd.model_ptr)
    median = float(np.median(per_model)) if per_model.size else 0.0
    if median >= JML_MIN_QUESTIONS_PER_MODEL:
        return []
    return [
        f"joint ML with one precision per question: models answer a median of {median:g} "
        f"questions, too few for the joint likelihood to have a finite maximum (an ability can "
        "reproduce a question exactly and its precision then diverges); use method='mml' (the "
        "default) or precision='common'"
    ]


def _single_trial_precision(rd: ResponseData, precision: PrecisionModel) -> list:
    """Error or warning when a beta-binomial precision is estimated from single trials only.

    A beta-binomial count of one trial is a Bernoulli draw with probability ``mu`` whatever
    ``phi``: the likelihood does not depend on the precision. Unchecked, ``phi`` stayed at its
    starting value 10 with a standard error of 0 (and a condition number of 1e300 in the
    warnings), as if it were known exactly.

    Returns
    -------
    list of str
        Warnings (precision per question: the questions with single trials only, whose ``phi_j``
        is set by the shrinkage prior alone).

    Raises
    ------
    ValueError
        When every response that carries weight has one trial.
    """
    if rd.family.name != "beta_binomial" or not precision.estimated:
        return []
    multi = rd.carries_weight & (rd.trials > 1)
    if not multi.any():
        raise ValueError(
            "family='beta_binomial' with one trial per response (every trials == 1): the precision "
            "phi is not identified (a beta-binomial of one trial is a Bernoulli draw); use "
            "family='binomial' (or 'bernoulli'), or counts of several samples per question"
        )
    if not precision.per_item:
        return []
    single = np.bincount(rd.item[multi], minlength=rd.n_items) == 0
    if not single.any():
        return []
    return [
        f"{int(single.sum())} question(s) have one trial per response only (e.g. "
        f"{list(rd.item_labels[single][:5])}): their precision phi_j is not identified by the data "
        "(only the shrinkage prior sets it); use precision='common' or more samples per question"
    ]


def _check_enough_models(rd: ResponseData, design, dims: int = 1, what: str = "") -> None:
    """Raise unless the latent regression has more than ``dims`` residual degrees of freedom.

    The regression ``theta = x' beta + sigma u`` over M models needs ``M >= P + 2``: with
    ``M <= P + 1`` sigma is (nearly) interpolated away, and the fit "converges" with a negative
    covariance diagonal, NaN or ~1e-10 standard errors, or a singular GLS (JML). With D ability
    dimensions (``what`` names their source) the D x D residual covariance needs
    ``M >= P + D + 1``: with fewer, ``ability ~ c + g + h`` on 4 models gave ``Sigma`` ~ 0 and
    NaN for every standard error, ``dims=5`` on 6 models a log-likelihood that grows without
    bound, ``dims=6`` a crash inside the quadrature.
    """
    n_models, n_par = rd.n_models, design.matrix.shape[1]
    need = n_par + dims + 1
    if n_models >= need:
        return
    if dims == 1:
        raise ValueError(
            f"{n_models} model(s) with responses are too few for the latent regression "
            f"{design.formula!r}: it has {n_par} coefficient(s) {list(design.column_names)} plus "
            f"the residual sd sigma, which needs at least {need} models (P + 2). Add models "
            f"or drop terms from the formula"
        )
    raise ValueError(
        f"{n_models} model(s) with responses are too few for the latent regression "
        f"{design.formula!r} and {dims} ability dimensions from {what}: it has {n_par} coefficient(s) "
        f"per dimension {list(design.column_names)} plus the residual covariance Sigma of the abilities, "
        f"which needs at least {need} models (P + D + 1 = {n_par} + {dims} + 1). Add models, drop terms "
        "from the formula or fit fewer dimensions"
    )


def _check_tol_and_n_quad(tol, n_quad) -> None:
    """Raise unless ``tol`` is a positive finite number and ``n_quad`` None or an integer >= 2.

    Unchecked, ``tol=0`` (or negative, or NaN) silently ran every fit to ``max_iter`` and
    reported it as not converged, ``tol=inf`` declared convergence after the first iteration,
    ``n_quad=1.5`` failed inside numpy's Gauss–Hermite rule, and ``n_quad=1`` (one node, at the
    posterior mode) gave every ability a posterior SD of 0.
    """
    if not is_positive_finite(tol):
        raise ValueError(f"tol must be a positive finite number (e.g. the default 1e-6); got {tol!r}")
    if n_quad is not None and not is_integer(n_quad, 2):
        raise ValueError(f"n_quad must be an integer >= 2 (quadrature nodes per model and dimension) or None "
                         f"for the default (7 for one ability); got n_quad={n_quad!r}")


def _check_formula_and_models(formula, models) -> None:
    """TypeError for a ``formula`` that is not a string or a ``models`` that is not a DataFrame.

    Both failed deep inside with an AttributeError. Repeated column names are checked where the
    columns are read (:func:`formula._check_table`), so an unused repeated column is harmless.
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string 'ability ~ <model covariates>' (e.g. "
                        f"'ability ~ log(compute)', or 'ability ~ 1' for none); got {type(formula).__name__}")
    if models is None or isinstance(models, pd.DataFrame):
        return  # a repeated column name is an error only where it is read (formula._check_table)
    if isinstance(models, pd.Series):
        hint = (" (e.g. models.rename('<covariate>').rename_axis('model').reset_index() for a "
                "Series indexed by model)")
    else:
        hint = " (e.g. pd.DataFrame(array, columns=['model', 'compute', ...]))"
    raise TypeError(f"models must be a pandas DataFrame with one row per model (the model labels in a "
                    f"column or the index, the covariates in columns) or None; got "
                    f"{type(models).__name__}{hint}")


def _check_full_cov(full_cov, method: str):
    """``full_cov`` as True, False or "auto"; warns when set with a method that ignores it."""
    if isinstance(full_cov, (bool, np.bool_)):
        full_cov = bool(full_cov)
    elif not (isinstance(full_cov, str) and full_cov == "auto"):
        raise ValueError(f"full_cov must be True, False or 'auto'; got {full_cov!r}")
    if full_cov is True and method != "jml":
        warnings.warn(
            f"full_cov=True applies only to method='jml' (the dense joint covariance of abilities and "
            f"questions); method={method!r} does not form it and ignores full_cov: drop full_cov= or "
            f"use method='jml'", IRSLWarning, stacklevel=3,
        )
    return full_cov


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")


def _check_multidim_options(ability, dims, max_dims, method, benchmark, cov_type, identification) -> None:
    """Errors for option combinations the multidimensional fit does not have."""
    if ability == "per_benchmark" and benchmark is None:
        raise ValueError("ability='per_benchmark' needs benchmark=<question column with the benchmark>")
    if ability == "per_benchmark" and dims != 1:
        raise ValueError("dims applies to ability='shared' (per-benchmark abilities have one dimension "
                         "per benchmark); drop dims= or use ability='shared'")
    if dims != "auto" and not is_integer(dims, 1):
        raise ValueError(f"dims must be a positive integer or 'auto'; got {dims!r}")
    if dims == "auto" and (not isinstance(max_dims, (int, np.integer)) or max_dims < 1):
        raise ValueError(f"max_dims must be a positive integer; got {max_dims!r}")
    if method != "mml":
        raise ValueError("multidimensional abilities are estimated by method='mml' only (joint ML "
                         "is degenerate with several abilities per model)")
    if cov_type != "nonrobust":
        raise ValueError("cov_type other than 'nonrobust' is not available with multidimensional abilities")
    if identification != "population":
        raise ValueError("multidimensional abilities use the population identification (stated in "
                         "the summary); drop identification=")


def fit(
    formula: str,
    data: Union[pd.DataFrame, ResponseData],
    models: Optional[pd.DataFrame] = None,
    *,
    model: Optional[str] = None,
    question: str = "question",
    response: Optional[str] = "y",
    successes: Optional[str] = None,
    trials: Optional[str] = None,
    benchmark: Optional[str] = None,
    family: str = "beta",
    irt: str = "2pl",
    precision: Union[str, float] = "item",
    precision_prior: Union[str, float, None] = "auto",
    discrimination_prior: Optional[float] = None,
    method: str = "mml",
    identification: str = "population",
    reml: bool = True,
    cov_type: str = "nonrobust",
    groups: Optional[str] = None,
    use_t: bool = True,
    weights: Optional[str] = None,
    boundary: Optional[str] = None,
    n_quad: Optional[int] = None,
    full_cov: Union[str, bool] = "auto",
    max_iter: Optional[int] = None,
    tol: float = 1e-6,
    n_threads: Optional[int] = None,
    verbose: bool = False,
    ability: str = "shared",
    dims: Union[int, str] = 1,
    max_dims: int = 4,
    dims_criterion: str = "bic",
) -> Union[IRSLResults, "MultidimResults"]:
    """Fit an Item Response Scaling Law.

    Parameters
    ----------
    formula : str
        ``"ability ~ <rhs>"``: the latent regression of ability on model covariates; any
        right-hand side formulaic supports (``log(compute)``, ``C(family)``, ``center(...)``,
        splines, interactions). ``"ability ~ 1"`` fits no covariates.
    data : DataFrame or ResponseData
        Long responses: one row per (model, question) with the response (or successes/trials).
    models : DataFrame, optional
        One row per model (keyed by ``model`` as column or index) with the covariates. Covariates
        not found there are taken from ``data`` where constant within model.
    model : str, optional
        Column of the model labels, in ``data`` and in ``models`` (default ``"model"``; with a
        ResponseData, the model column it was built from, e.g. the index name of a
        ``from_matrix`` matrix).
    question, response, successes, trials, benchmark, weights : str
        Column names. Count families take ``successes=`` and ``trials=`` (then ``response=``
        must not be given). With a ResponseData these are fixed when it is built: a different
        value here is an error. Weights must leave every model and question a positive total.
        A weight is a frequency weight on one response: that row's log-likelihood is multiplied
        by it (weight 2 counts the response twice, 0 leaves it out), as given -- they are not
        normalised, so scaling all weights by c multiplies the responses' part of ``llf`` by c
        and in general changes the estimates (under MML the responses then outweigh the
        per-model ability distribution, which is not weighted). ``nobs`` counts the rows with a
        positive weight (once each, whatever the weight); ``bic`` uses ``log`` of the number of
        models, not of the weights. The summary says when a fit is weighted (the column, and
        the range and sum of the weights).
    family : {"beta", "bernoulli", "binomial", "beta_binomial"}
    irt : {"2pl", "1pl"}
    precision : {"item", "common"} or "~ <formula>" or float
        Per-question, one common, a log-linear model over question columns, or fixed.
    precision_prior : "auto", float or None
        With ``precision="item"``: standard deviation of a normal prior that shrinks the
        per-question ``log phi_j`` toward their mean (``"auto"`` = 2.0, weak: it changes nothing
        with many responses per question, and keeps the optimum finite when a question has few —
        e.g. aggregate scores, where joint ML otherwise drives ``phi_j`` to infinity). ``None``
        disables it.
    discrimination_prior : float or None
        With ``irt="2pl"``: standard deviation of a log-normal prior on the discriminations,
        ``log a_j ~ N(mean of log a, s^2)`` (penalised ML; every ``a_j > 0``; with
        ``ability="per_benchmark"`` on each question's loading, centred within its benchmark).
        With exploratory ``dims != 1`` it is on the length of each question's loading vector,
        ``log ||a_j|| ~ N(mean of log ||a||, s^2)``, which does not depend on the rotation of the
        loadings (see :mod:`irsl_stats.priors`). ``None`` (default): plain ML. Use it when there
        are few models per question: a question that separates the calibration models perfectly
        otherwise gets a discrimination at its bound. ``1.0`` is a good start (the test-time
        study's default for 2PL, see :mod:`irsl_stats.testtime`).
    method : {"mml", "jml"}
        Marginal ML (default: abilities integrated out by adaptive Gauss–Hermite quadrature) or
        joint ML (abilities as parameters, then the latent regression with their measurement
        error; about twice as fast on large data). With ``precision="item"`` the joint likelihood
        is unbounded — one ability per model can reproduce a question's responses exactly and
        that question's precision then runs to infinity — so JML is only safe when every model
        answers many questions; a warning says so when they do not (e.g. aggregate benchmark
        scores: one "question" per benchmark). MML has no such degeneracy.
    identification : {"population", "regression"}
        See :mod:`irsl_stats.identification`.
    reml : bool
        ``True`` (default, as lme4): the spread ``sigma`` of ability around the scaling law is
        restricted ML (REML) with each ability's measurement error ``v_i`` (the penalty
        ``-1/2 log det(X' W X)``, ``W = diag(1 / (sigma^2 + v_i))``: for precisely measured
        abilities ``sigma^2`` divided by ``M - P`` rather than ``M``; M models, P coefficients),
        which removes maximum likelihood's downward bias of ~P/M and keeps the coefficients'
        intervals at their nominal coverage on the default (population) scale. The reported
        log-likelihood is then evaluated at that ``sigma``, slightly below the maximum.
        ``False``: maximum likelihood throughout, so under ``method="mml"`` ``llf``, ``aic`` and
        ``bic`` can be compared across scaling laws with different covariates
        (:meth:`IRSLResults.compare_lr_test` refits REML-type fits this way). Under JML the joint
        likelihood does not involve the formula; :func:`irsl_stats.anova` compares JML laws by
        the likelihood of their latent regressions. No effect on a 2PL ``ability ~ 1`` (its ``sigma`` is fixed by
        the identification).
    cov_type : {"nonrobust", "robust", "cluster"}
        Covariance of the scaling-law coefficients; ``"cluster"`` needs ``groups=``, a model
        column (e.g. ``"family"``).
    groups : str, optional
        Model column defining the clusters of ``cov_type="cluster"`` (an error with any other
        ``cov_type``).
    use_t : bool, default True
        Student-t inference for the scaling law, as statsmodels' OLS and Stata's ``regress``:
        p-values, confidence intervals and ``predict`` intervals use ``t(df)`` quantiles and
        ``wald_test`` an F test, with ``df = df_resid`` (models in the latent regression -- under JML not those without a
        finite ability standard error -- minus scaling-law coefficients) or, with ``cov_type="cluster"``, the number of clusters minus one. With few models the
        normal quantiles under-cover: 95% intervals of the ``log(compute)`` slope covered 0.885
        (JML) / 0.895 (MML) with 12 simulated models and four coefficients, 0.920 with ``t(8)``
        (``benchmarks/coverage.py --models 12``). ``False``: normal theory (z statistics).
        Multidimensional fits use normal theory.
    boundary : {"error", "squeeze", "clip"}, optional
        Beta responses exactly 0 or 1: an error naming the rows (default), moved inside (0, 1)
        by the Smithson–Verkuilen squeeze ``(y (n - 1) + 0.5) / n`` of every response, with
        ``n`` the trials of counts, else the sample size (the number of rows of ``data``; the
        item bank records it as ``ItemBank.squeeze_n`` and :meth:`ItemBank.score
        <irsl_stats.bank.ItemBank.score>` squeezes new responses with the same ``n``), or clipped. With a ResponseData its own policy is
        used, and a different ``"squeeze"``/``"clip"`` here is an error.
    n_quad : int, optional
        Adaptive Gauss–Hermite nodes per model (and dimension) for ``method="mml"``, at least
        2. Default: 7 for one ability; for D abilities the multidimensional default (7 for
        D <= 2, fewer beyond, so that the product grid stays small). With few Bernoulli
        questions per model 7 nodes leave an error of about 0.005 per model in the
        log-likelihood (-141.74 at 7 against -141.55 at 41 for 8 questions and 30 models):
        compare likelihoods of fits with the same ``n_quad``.
    full_cov : {"auto", True, False}
        With ``method="jml"`` only: standard errors from the joint (dense) covariance of all
        abilities and question parameters (``True``; ``"auto"``: when the number of free
        parameters, models plus question parameters, is at most
        :data:`~irsl_stats.inference.DENSE_LIMIT`), available from
        :meth:`IRSLResults.joint_cov_params`, or the block-conditional ones (``False``). It moves
        the scaling law's point estimates too, not only their standard errors: the latent
        regression weighs each ability by its sampling variance from the covariance used, and
        with the joint covariance under REML by the abilities' full sampling covariance, errors
        shared through the estimated questions included (a 1PL bernoulli fit of 300 models x 500
        questions: slope 0.3515 with ``"auto"``, 0.3525 with ``False``). So ``"auto"`` changes the
        coefficients, not only their SEs, when a table grows past ``DENSE_LIMIT``; fix
        ``full_cov`` to compare fits of different sizes. The joint covariance eliminates the
        abilities by a Schur complement on the questions: at the limit (3,700 models x 100
        questions) a fit takes about 3x a block-conditional one (``benchmarks/jml_dense.py``);
        with few models and many questions (120 x 1,000, 2PL) about 10x, the inverse of the
        questions' (3,000, 3,000) Schur complement (``jml_dense.py --sizes 120 --questions 1000``),
        with ``8 (M + K)^2`` bytes for the returned matrix. ``method="mml"`` does not form the
        joint covariance and ignores ``full_cov`` (``full_cov=True`` then warns).
    max_iter, tol : convergence controls. A fit stops when the largest step of a parameter is
        below ``tol`` standard errors (JML; MML and the multidimensional EM: ``10 tol`` and
        ``100 tol`` on the question parameters) and the objective changed by less than
        ``tol * 1e-4`` relative.
        ``max_iter`` defaults to 500 iterations (one ability) or 5,000 EM iterations
        (multidimensional abilities, whose EM is cheap per iteration but converges linearly and,
        when a question is nearly explained by one dimension, slowly).
    n_threads : int or None
        Kernel threads (None: OpenMP default, -1: all cores).
    verbose : bool
        One line per iteration, and one for each phase that prints none of its own (MML's
        joint-ML start, with its REML runs labelled; JML's standard errors).
    ability : {"shared", "per_benchmark"}
        One ability across all benchmarks (default), or one per benchmark (needs ``benchmark=``;
        question *j* loads only on its benchmark's ability; their correlations are estimated —
        see :meth:`MultidimResults.ability_correlation`).
    dims : int or "auto"
        Dimensions of the shared ability. ``1`` is the model above (unchanged, and as fast);
        ``D > 1`` fits an exploratory D-dimensional model by MML (identification: population
        mean 0 and covariance I, varimax-rotated loadings); ``"auto"`` fits D = 1..``max_dims``
        and keeps the one with the smallest ``dims_criterion`` (``"bic"`` or ``"aic"``).
        A fit with D abilities and P coefficients needs at least ``P + D + 1`` models (the
        residual covariance of the abilities needs more than D residual degrees of freedom).
    max_dims : int
        Largest D tried by ``dims="auto"``, which stops earlier at ``N - 1`` (N questions) and
        at ``M - P - 1`` (M models).
    dims_criterion : {"bic", "aic"}

    Returns
    -------
    IRSLResults
        For one shared ability (``dims=1``).
    MultidimResults
        For ``ability="per_benchmark"`` or ``dims != 1``.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.irt(n_models=40, n_questions=60, seed=1)
    >>> res = irsl.fit("ability ~ log(compute)", data=sim.responses, models=sim.models)
    >>> res.params.index[:2].tolist()
    ['Intercept', 'log(compute)']
    """
    call = dict(locals())  # the options, which compare_lr_test checks agree between fits
    _check_formula_and_models(formula, models)
    _check_choice("irt", irt, ("1pl", "2pl"))
    _check_choice("method", method, ("jml", "mml"))
    full_cov = _check_full_cov(full_cov, method)
    if not isinstance(reml, (bool, np.bool_)):
        raise ValueError(f"reml must be True or False; got {reml!r}")
    _check_choice("ability", ability, ("shared", "per_benchmark"))
    _check_choice("dims_criterion", dims_criterion, ("bic", "aic"))
    a_prior = DiscriminationPrior.build(discrimination_prior, irt)
    multidim = ability == "per_benchmark" or dims != 1
    if multidim:
        _check_multidim_options(ability, dims, max_dims, method, benchmark, cov_type, identification)
    _check_choice("cov_type", cov_type, ("nonrobust", "robust", "cluster"))
    if not isinstance(use_t, (bool, np.bool_)):
        raise ValueError(f"use_t must be True or False; got {use_t!r}")
    # verbose has no levels: 2, "yes" or 0.5 would pass a truthiness test and print as True does
    if not isinstance(verbose, (bool, np.bool_)):
        raise ValueError(f"verbose must be True or False; got {verbose!r}")
    if cov_type == "cluster" and groups is None:
        raise ValueError("cov_type='cluster' needs groups=<model column>, a variable that is not in "
                         "the formula, e.g. groups='lab' (clustering by a formula factor leaves its "
                         "coefficients' cluster-robust SEs degenerate)")
    if groups is not None and cov_type != "cluster":
        raise ValueError(
            f"groups={groups!r} only applies with cov_type='cluster' (got cov_type={cov_type!r}); "
            f"add cov_type='cluster' for cluster-robust standard errors or drop groups="
        )
    if max_iter is not None and not is_integer(max_iter, 1):
        raise ValueError(f"max_iter must be an integer >= 1 (or None for the default); got {max_iter!r}")
    _check_tol_and_n_quad(tol, n_quad)
    _kernel.resolve_n_threads(n_threads)
    if isinstance(data, pd.DataFrame):
        # a categorical label column filtered to some of its models (or questions) keeps the
        # others as categories: ItemBank.score dropped them, fit raised "have no responses"
        data = _drop_unused_categories(data, ("model" if model is None else model, question))
    rd = response_data(
        data, model=model, question=question, response=response, successes=successes,
        trials=trials, benchmark=benchmark, family=family, boundary=boundary, weights=weights,
    )
    raw = data if isinstance(data, pd.DataFrame) else None
    if model is None:  # the key of the models table: the ResponseData's own model column
        model = "model" if raw is not None else (rd.columns.get("model") or "model")
    design = parse_latent_formula(formula, raw, models, model, rd.model_labels)
    if not multidim:
        _check_enough_models(rd, design)
    elif isinstance(dims, (int, np.integer)) and dims >= rd.n_items:
        raise ValueError(
            f"dims={dims} needs more questions than dimensions: there are {rd.n_items} question(s); "
            f"use dims <= {max(rd.n_items - 1, 1)} or dims='auto'"
        )
    ident = Identification.build(identification, irt, design.matrix, design.column_names)
    # only a precision formula reads question covariates (scanning every column costs a pass
    # over the data)
    qtable = (_question_table(raw, rd, question)
              if isinstance(precision, str) and precision.strip().startswith("~") else None)
    prec = build_precision(precision, rd.family.name, rd.n_items, qtable, precision_prior)
    single_trial_warnings = _single_trial_precision(rd, prec)  # raises for multidim fits too
    group_labels = None
    if cov_type == "cluster":
        from .formula import model_covariates

        group_labels = model_covariates(raw, models, model, rd.model_labels, [groups],
                                        role="groups")[groups].to_numpy()
    if multidim:
        from .multidim_fit import fit_multidimensional

        return fit_multidimensional(
            kernel_data(rd), rd, design, prec, family=rd.family.name, irt=irt, ability=ability, dims=dims,
            max_dims=max_dims, criterion=dims_criterion, n_quad=n_quad,
            max_iter=5000 if max_iter is None else max_iter, tol=tol, verbose=verbose, n_threads=n_threads,
            a_prior=a_prior, reml=bool(reml),
        )
    # one ability: 7 nodes by default, recorded as such so that compare_lr_test sees the default
    # and an explicit n_quad=7 as the same option
    n_quad = DEFAULT_N_QUAD if n_quad is None else n_quad
    call["n_quad"] = n_quad
    # the options only: a refit reads the fit's own responses and design (see _refit), never the
    # caller's tables, which may have changed since (and would be kept alive by the result)
    del call["data"], call["models"]
    pre_warnings = single_trial_warnings + (_jml_degeneracy_warning(rd, prec) if method == "jml" else [])
    inputs = _FitInputs(
        precision=prec, identification=ident,
        # a copy: the cluster labels of a few models, which may be a view of the caller's table
        group_labels=None if group_labels is None else np.array(group_labels, copy=True),
        a_prior=a_prior, full_cov=full_cov, max_iter=500 if max_iter is None else max_iter,
        pre_warnings=tuple(pre_warnings), design_matrix=design.matrix.copy(),
        arrays=_response_arrays(rd),
        # a ResponseData the caller passed is the caller's object: a change of its values in place
        # would not show in its arrays' identity (one built here from a DataFrame is the fit's own)
        fingerprint=_fingerprint(rd) if isinstance(data, ResponseData) else None,
    )
    res = _fit_one_ability(rd, design, inputs, irt=irt, method=method, cov_type=cov_type, reml=bool(reml),
                           use_t=bool(use_t), n_quad=n_quad, tol=tol, verbose=verbose, n_threads=n_threads)
    res._fit_call = call
    return res


@dataclass(frozen=True)
class _FitInputs:
    """What a one-ability fit was estimated from besides its responses and design (see :func:`_refit`).

    The responses (``IRSLResults._response_data``) and the latent design (``IRSLResults.design``)
    are kept by the results; ``arrays``, ``fingerprint`` and ``design_matrix`` record them as fitted
    so that a refit can tell when they were changed afterwards.
    """

    precision: PrecisionModel
    identification: Identification
    group_labels: Optional[np.ndarray]
    a_prior: DiscriminationPrior
    full_cov: Union[str, bool]
    max_iter: int
    pre_warnings: tuple
    design_matrix: np.ndarray
    arrays: tuple
    fingerprint: Optional[tuple]


def _response_arrays(rd: ResponseData) -> tuple:
    """The arrays of ``rd`` the likelihood reads (compared by identity: no pass over the data)."""
    return (rd.model, rd.item, rd.y, rd.trials, rd.weights, rd.model_labels, rd.item_labels)


def _fingerprint(rd: ResponseData) -> tuple:
    """Sums of the responses, trials and weights: one pass over each, no copy."""
    return tuple(None if a is None else float(np.sum(a)) for a in (rd.y, rd.trials, rd.weights))


def _fit_one_ability(
    rd: ResponseData, design, inputs: _FitInputs, *, irt: str, method: str, cov_type: str, reml: bool,
    use_t: bool, n_quad: int, tol: float, verbose: bool, n_threads: Optional[int],
) -> IRSLResults:
    """Estimate a one-ability fit from validated responses, design and options; wrap the estimates."""
    kd = kernel_data(rd)
    if method == "jml":
        from .estimate import estimate_jml

        opts = JMLOptions(max_iter=inputs.max_iter, tol=tol, verbose=verbose, n_threads=n_threads)
        est = estimate_jml(kd, design, inputs.precision, irt, opts, inputs.full_cov,
                           a_prior=inputs.a_prior, reml=reml)
    else:
        from .estimate import estimate_mml

        est = estimate_mml(kd, design, inputs.precision, irt, n_quad=n_quad, max_iter=inputs.max_iter, tol=tol,
                           verbose=verbose, n_threads=n_threads, a_prior=inputs.a_prior, reml=reml)

    from .estimate import assemble_results

    est.warnings[:0] = list(inputs.pre_warnings)
    res = assemble_results(
        est, rd=rd, design=design, ident=inputs.identification, precision=inputs.precision, irt=irt,
        method=method, cov_type=cov_type, group_labels=inputs.group_labels,
        n_quad=n_quad if method == "mml" else None, a_prior=inputs.a_prior, use_t=use_t,
    )
    res._fit_inputs = inputs
    return res


#: the options of :func:`fit` that :func:`_fit_one_ability` takes from the recorded call
_ESTIMATION_OPTIONS = ("irt", "method", "cov_type", "use_t", "n_quad", "tol", "verbose", "n_threads")


def _refit(res: IRSLResults, *, reml: bool) -> IRSLResults:
    """Refit a one-ability fit with another ``reml`` from the responses and design it was fitted on.

    As lme4 refits from its stored model frame: the tables given to :func:`fit` are not read
    again, so a change made to them after fitting (a recoded covariate, clipped responses) cannot
    enter the refit.

    Raises
    ------
    ValueError
        If ``res`` is not a one-ability result of :func:`fit`, or its responses or design were
        changed in place after fitting (then the refit would not be of the data the fit was of).
    """
    call, inputs = getattr(res, "_fit_call", None), getattr(res, "_fit_inputs", None)
    rd = getattr(res, "_response_data", None)
    if call is None or inputs is None or rd is None:
        raise ValueError("only results of irsl.fit can be refitted (they carry their responses and options)")
    changed = []
    if any(a is not b for a, b in zip(_response_arrays(rd), inputs.arrays)):
        changed.append("its ResponseData's arrays or labels were replaced")
    elif inputs.fingerprint is not None and _fingerprint(rd) != inputs.fingerprint:
        changed.append("the responses, trials or weights of its ResponseData were changed in place")
    if not np.array_equal(res.design.matrix, inputs.design_matrix):
        changed.append("its design matrix (.design.matrix) was changed")
    if changed:
        raise ValueError(
            f"cannot refit {res.design.formula!r} with reml={reml}: since it was fitted, "
            f"{'; '.join(changed)}, so a refit would not be of the data of the fit. Fit again "
            f"(with reml={reml}) from the data as they are now"
        )
    out = _fit_one_ability(rd, res.design, inputs, reml=reml, **{k: call[k] for k in _ESTIMATION_OPTIONS})
    out._fit_call = {**call, "reml": reml}
    return out
