"""The statsmodels-style summary of an :class:`~irsl_stats.results.IRSLResults`.

Its parameter table, notes and weights note are shared with
:meth:`~irsl_stats.multidim_results.MultidimResults.summary`. Reporting only reads results;
estimators never import this module.
"""

from __future__ import annotations

import textwrap

import numpy as np
from statsmodels.iolib.summary import Summary, forg
from statsmodels.iolib.table import SimpleTable
from statsmodels.iolib.tableformatting import fmt_params

from .formula import scaled_rank
from .results import _MAX_LOG_HALF_WIDTH, check_alpha, critical_value

__all__ = ["build_summary", "add_notes", "weights_note"]


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{v:#.6g}"
    return str(v)


def _item_quartiles(items):
    rows = []
    for col in ("a", "b", "d", "phi"):
        if col in items.columns:
            vals = items[col].to_numpy(dtype=float)
            vals = vals[np.isfinite(vals)]
            if vals.size:
                q = np.quantile(vals, [0.0, 0.25, 0.5, 0.75, 1.0])
                rows.append([col] + [f"{x:.4g}" for x in q])
    return rows


def _params_table(res, alpha: float) -> SimpleTable:
    """statsmodels' parameter table (same columns and number formats as ``summary_params``),
    with the parameters the identification fixes marked ``(fixed)`` instead of a standard error
    of 0, z = inf and p = 0.000 that would present a constant as a perfectly precise estimate."""
    params = res.params.to_numpy()
    bse = res.bse.to_numpy()
    tvalues = res.tvalues.to_numpy()
    pvalues = res.pvalues.to_numpy()
    ci = res.conf_int(alpha).to_numpy()  # sigma's interval on the log scale
    fixed = res._fixed_by_identification()
    rows = []
    for i in range(len(params)):
        if fixed[i]:
            rows.append([forg(params[i], prec=4), "(fixed)", "", "", "", ""])
        else:
            rows.append([forg(params[i], prec=4), forg(bse[i]), forg(tvalues[i]), f"{pvalues[i]:#6.3f}",
                         forg(ci[i, 0]), forg(ci[i, 1])])
    stat = "t" if res.use_t else "z"
    header = ["coef", "std err", stat, f"P>|{stat}|", "[" + str(alpha / 2), str(1 - alpha / 2) + "]"]
    return SimpleTable(rows, header, [str(n) for n in res.params.index], txt_fmt=fmt_params)


def build_summary(res, alpha: float = 0.05) -> Summary:
    """The summary of a one-dimensional fit (called by :meth:`IRSLResults.summary`).

    Parameters
    ----------
    res : IRSLResults
    alpha : float
        Confidence intervals are ``1 - alpha``, ``0 < alpha < 1``.

    Returns
    -------
    statsmodels.iolib.summary.Summary
    """
    alpha = check_alpha(alpha)
    fi = res.fit_info
    smry = Summary()
    left = [
        ("Dep. Variable:", ["ability"]),
        ("Family:", [fi.family]),
        ("IRT model:", [fi.irt.upper()]),
        ("Method:", [fi.method.upper() + (f" (n_quad={fi.n_quad})" if fi.n_quad else "")]),
        ("Precision:", [fi.precision]),
        ("Covariance:", [fi.cov_type]),
        ("Converged:", [str(fi.converged)]),
        ("Iterations:", [_fmt(fi.n_iter)]),
    ]
    right = [
        ("No. models:", [_fmt(fi.n_models)]),
        ("No. questions:", [_fmt(fi.n_items)]),
        ("No. responses:", [_fmt(fi.nobs)]),
        ("Benchmarks:", [_fmt(fi.n_benchmarks) if fi.n_benchmarks else "-"]),
        ("Log-Likelihood:", [f"{res.llf:#.8g}"]),
        ("AIC:", [f"{res.aic:#.8g}"]),
        ("BIC:", [f"{res.bic:#.8g}"]),
        ("Parameters:", [_fmt(res.n_params)]),
        ("Kernel passes:", [_fmt(fi.n_passes)]),
    ]
    xname = list(res.params.index)
    smry.add_table_2cols(
        res,
        gleft=left,
        gright=right,
        yname="ability",
        xname=xname,
        title=f"Item Response Scaling Law: {res.design.formula}",
    )
    smry.tables.append(_params_table(res, alpha))
    quart = _item_quartiles(res.items)
    if quart:
        smry.tables.append(
            SimpleTable(
                quart,
                headers=["question", "min", "25%", "median", "75%", "max"],
                title="Question parameters (distribution over questions)",
                txt_fmt=fmt_params,
            )
        )
    notes = ["Identification: " + fi.identification_text + "."]
    fixed = res.fixed_params
    if fixed:
        notes.append(
            f"Fixed by the identification (constants, not estimates; no standard error, z or "
            f"p-value): {', '.join(fixed)}."
        )
    df = res._inference_df()
    if df is not None:
        if fi.cov_type == "cluster" and fi.n_clusters is not None:
            source = "clusters minus one"
        else:
            # models the latent regression weighs: its residual df plus the rank of its design
            n_reg = res.df_resid + scaled_rank(np.asarray(res.design.matrix, float))
            dropped = fi.n_models - n_reg
            # under JML the models without a finite ability standard error get weight 0 in the
            # latent regression: they are no observations of the law
            source = ("models minus scaling-law coefficients" if dropped <= 0 else
                      f"the {n_reg} models in the latent regression minus scaling-law coefficients; "
                      f"the {dropped} without a finite ability standard error get weight 0 there")
        notes.append(f"Inference: Student's t with {df} degrees of freedom ({source}) for the p-values, "
                     "intervals and predict(); fit(use_t=False) for normal theory.")
    if "sigma" in res.params.index and "sigma" not in fixed:
        if res._sigma_from_slopes():
            notes.append("The interval of sigma is the range of sigma = sqrt(1 - var(x'beta)) (set by the "
                         "identification from the slopes) over the slopes' Wald confidence ellipsoid, not "
                         "sigma -+ q se: its delta-method standard error vanishes with the slopes.")
        else:
            notes.append(_sigma_interval_note(res, alpha, df))
    notes += [
        "Model: eta_ij = a_j theta_i + d_j, mu = logistic(eta), b_j = -d_j/a_j; "
        "theta_i = x_i'beta + sigma u_i.",
        f"Precision: {res.precision_desc}.",
    ]
    weighted = weights_note(getattr(res, "_response_data", None))
    if weighted:
        notes.append(weighted)
    if fi.n_weight_zero:
        # "No. responses" and the tables' n count the rows that entered the likelihood only
        notes.append(
            f"No. responses counts the {fi.nobs} responses with a positive weight in the fit; "
            f"{fi.n_weight_zero} row(s) of the data carry weight 0 (weights of 0, or under JML the "
            "rows of models whose responses are all extreme, held at +-inf) and are not counted."
        )
    if fi.n_boundary_adjusted:
        notes.append(
            f"Boundary policy {fi.boundary!r} changed {fi.n_boundary_adjusted} response(s) at 0 or 1; "
            "the log-likelihood (and AIC, BIC) depends on the policy: compare it only between fits "
            "with the same policy."
        )
    for k, v in fi.extra.items():
        notes.append(f"{k}: {v}")
    add_notes(smry, notes, res.warnings)
    return smry


def _sigma_interval_note(res, alpha: float, df) -> str:
    """The summary's note on how sigma's interval was built, naming the reference it used.

    :meth:`~irsl_stats.results.WaldInference.conf_int` takes ``q`` from Student's t with the
    inference degrees of freedom when ``use_t`` (the default), else from the normal; the note
    says which, so that the printed bounds can be recomputed from it. An estimate at the
    boundary 0, where the log scale would overflow, gets the truncated Wald interval instead.

    Parameters
    ----------
    res : IRSLResults
    alpha : float
        The summary's ``alpha``: the intervals are ``1 - alpha``.
    df : int or None
        Degrees of freedom of the t reference (``res._inference_df()``); None for the normal.

    Returns
    -------
    str
    """
    level = f"{1 - alpha / 2:.6g}"
    reference = (f"Student's t with {df} degrees of freedom" if df is not None
                 else "the standard normal")
    q = critical_value(alpha, df)
    sigma, se = float(res.params["sigma"]), float(res.bse["sigma"])
    half = q * se / sigma if sigma > 0 else np.inf  # as conf_int: q se of log(sigma)
    if half > _MAX_LOG_HALF_WIDTH and np.isfinite(se):
        return (f"The interval of sigma is [0, sigma + q se], q = {q:.4g}, the {level} quantile of "
                f"{reference}: sigma is at the boundary 0, where the log-scale interval would overflow.")
    return (f"The interval of sigma is exp(log(sigma) -+ q se/sigma) (log scale, delta method), "
            f"q = {q:.4g}, the {level} quantile of {reference}.")


def weights_note(rd) -> str:
    """The summary's note on a weighted fit ("" when the fit is unweighted or ``rd`` is None).

    A weighted fit has other estimates than the unweighted one on the same rows, so the summary
    says so: the column, and the range and sum of the weights (as given: not normalised).

    Parameters
    ----------
    rd : ResponseData or None
        The fitted responses.

    Returns
    -------
    str
    """
    w = None if rd is None else getattr(rd, "weights", None)
    if w is None:
        return ""
    w = np.asarray(w, float)
    col = (getattr(rd, "columns", None) or {}).get("weights")
    name = f" by column {col!r}" if col is not None else ""
    return (
        f"Weighted fit{name}: each response's log-likelihood is multiplied by its weight (weights "
        f"in [{w.min():.4g}, {w.max():.4g}], sum {w.sum():.6g} over {w.size:,} rows; not normalised)."
    )


def add_notes(smry: Summary, notes: list, warnings_list: list) -> None:
    """Append the notes and the numbered warnings to a summary, wrapped at 86 characters.

    Parameters
    ----------
    smry : statsmodels.iolib.summary.Summary
    notes : list of str
    warnings_list : list of str
    """
    if warnings_list:
        notes = list(notes) + ["Warnings:"] + [f"[{i + 1}] {w}" for i, w in enumerate(warnings_list)]
    wrapped = []
    for n in notes:
        wrapped.extend(textwrap.wrap(n, 86, subsequent_indent="    ") or [""])
    smry.add_extra_txt(wrapped)
