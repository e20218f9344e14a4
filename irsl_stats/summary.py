"""The statsmodels-style summary of an :class:`~irsl_stats.results.IRSLResults`.

Reporting only reads results; estimators never import this module.
"""

from __future__ import annotations

import textwrap

import numpy as np
from statsmodels.iolib.summary import Summary
from statsmodels.iolib.table import SimpleTable
from statsmodels.iolib.tableformatting import fmt_params

__all__ = ["build_summary", "add_notes"]


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


def build_summary(res, alpha: float = 0.05) -> Summary:
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
        ("Benchmarks:", [_fmt(fi.n_benchmarks)]),
        ("Log-Likelihood:", [f"{res.llf:#.8g}"]),
        ("AIC:", [f"{res.aic:#.8g}"]),
        ("BIC:", [f"{res.bic:#.8g}"]),
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
    smry.add_table_params(res, yname="ability", xname=xname, alpha=alpha, use_t=False)
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
    notes = [
        "Identification: " + fi.identification_text + ".",
        "Model: eta_ij = a_j theta_i + d_j, mu = logistic(eta), b_j = -d_j/a_j; "
        "theta_i = x_i'beta + sigma u_i.",
        f"Precision: {res.precision_desc}.",
    ]
    if fi.n_boundary_adjusted:
        notes.append(
            f"Boundary policy {fi.boundary!r} changed {fi.n_boundary_adjusted} response(s) at 0 or 1."
        )
    for k, v in fi.extra.items():
        notes.append(f"{k}: {v}")
    add_notes(smry, notes, res.warnings)
    return smry


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
