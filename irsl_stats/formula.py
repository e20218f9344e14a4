"""Formula handling: the one module that talks to formulaic.

Estimators never parse strings. They receive a :class:`LatentDesign` — the design matrix of the
latent regression ``ability ~ <rhs>`` evaluated on one row per model — and keep its
:class:`formulaic.ModelSpec` so that :meth:`LatentDesign.transform` applies the same transforms
(``log``, ``center``, splines) and the same factor levels to new models.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec, model_matrix

__all__ = ["LatentDesign", "parse_latent_formula", "model_covariates", "precision_design"]

_LHS_NAMES = ("ability", "theta")


@dataclass(frozen=True)
class LatentDesign:
    """Design matrix of the latent regression, one row per model.

    Attributes
    ----------
    formula : str
        The formula as given, e.g. ``"ability ~ log(compute) + family"``.
    matrix : ndarray, shape (M, P)
        Design matrix rows in the order of ``model_labels``.
    column_names : list of str, length P
        Column labels (``"Intercept"``, ``"log(compute)"``, ``"family[T.b]"``, ...).
    model_labels : pandas.Index, length M
    spec : formulaic.ModelSpec
        Stored so that new models get the same transforms and factor levels.
    covariates : pandas.DataFrame
        The covariate table the matrix was built from (index = model labels).
    """

    formula: str
    matrix: np.ndarray
    column_names: list
    model_labels: pd.Index
    spec: ModelSpec
    covariates: pd.DataFrame

    @property
    def has_intercept(self) -> bool:
        return "Intercept" in self.column_names

    def transform(self, new_models: pd.DataFrame) -> np.ndarray:
        """Design matrix for new models with the stored transforms and levels.

        Parameters
        ----------
        new_models : DataFrame, shape (K, ...)
            Must hold every covariate the formula uses.

        Returns
        -------
        ndarray, shape (K, P)

        Raises
        ------
        ValueError
            If a factor has a level unseen in the fit, or a covariate is missing or NaN.
        """
        if len(self.column_names) == 1 and self.column_names[0] == "Intercept":
            return np.ones((len(new_models), 1))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                mm = self.spec.get_model_matrix(new_models, na_action="ignore")
            except Warning as w:  # formulaic warns (and writes NaN) for unseen levels
                raise ValueError(
                    f"new models have factor levels not seen when fitting {self.formula!r}: {w}"
                ) from None
            except Exception as e:
                raise ValueError(f"cannot evaluate {self.formula!r} on the new models: {e}") from e
        x = np.asarray(mm, dtype=float)
        _check_finite(x, list(mm.columns), new_models.index, "new models")
        return x


def _check_finite(x: np.ndarray, columns: Sequence[str], index: pd.Index, what: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        rows, cols = np.nonzero(bad)
        col = columns[cols[0]]
        shown = ", ".join(str(index[r]) for r in rows[:5])
        raise ValueError(
            f"the latent-regression column {col!r} is NaN or infinite for {bad.any(axis=1).sum()} "
            f"{what} (e.g. {shown}); check the covariates (log of zero or of a negative value?)"
        )


def _split_formula(formula: str) -> str:
    """Return the right-hand side of ``ability ~ rhs`` (or of ``~ rhs``)."""
    if "~" not in formula:
        raise ValueError(
            f"formula {formula!r} has no '~'; write e.g. 'ability ~ log(compute) + family'"
        )
    lhs, rhs = formula.split("~", 1)
    lhs = lhs.strip()
    if lhs and lhs not in _LHS_NAMES:
        raise ValueError(
            f"the left-hand side of {formula!r} must be 'ability' (the latent ability is not a "
            f"column of the data); got {lhs!r}"
        )
    rhs = rhs.strip()
    if not rhs:
        raise ValueError(f"formula {formula!r} has an empty right-hand side; use 'ability ~ 1'")
    return rhs


def model_covariates(
    data: Optional[pd.DataFrame],
    models: Optional[pd.DataFrame],
    model_col: str,
    model_labels: pd.Index,
    needed: Sequence[str],
) -> pd.DataFrame:
    """Collect one row of covariates per model.

    Covariates come from ``models`` (keyed by ``model_col``, as a column or the index) or, for
    columns not found there, from ``data`` where they must be constant within each model.

    Returns
    -------
    DataFrame indexed by ``model_labels`` with the ``needed`` columns.
    """
    out = pd.DataFrame(index=model_labels)
    missing_everywhere = []
    table = None
    if models is not None:
        table = models
        if model_col in table.columns:
            table = table.set_index(model_col)
        if table.index.has_duplicates:
            dup = table.index[table.index.duplicated()].unique()[:5]
            raise ValueError(
                f"the models table has duplicated {model_col!r} values: {list(dup)}"
            )
    for col in needed:
        if table is not None and col in table.columns:
            out[col] = table[col].reindex(model_labels).to_numpy()
            continue
        if data is not None and col in data.columns:
            grouped = data.groupby(model_col, sort=False, observed=True)[col]
            n_unique = grouped.nunique(dropna=False)
            varying = n_unique[n_unique > 1]
            if len(varying):
                example = varying.index[0]
                vals = data.loc[data[model_col] == example, col].unique()[:5]
                raise ValueError(
                    f"covariate {col!r} varies within model {example!r} (values {list(vals)}); "
                    f"covariates of the latent regression must be constant per model — pass a "
                    f"`models` table with one row per model"
                )
            out[col] = grouped.first().reindex(model_labels).to_numpy()
            continue
        missing_everywhere.append(col)
    if missing_everywhere:
        where = "the models table or the responses" if models is not None else "the responses"
        raise ValueError(
            f"covariate(s) {missing_everywhere} used by the formula are not columns of {where}"
        )
    na = out.isna()
    if na.to_numpy().any():
        bad_models = out.index[na.any(axis=1)]
        cols = list(out.columns[na.any(axis=0)])
        raise ValueError(
            f"{len(bad_models)} model(s) with responses have missing covariates {cols}: "
            f"{list(bad_models[:10])}{' ...' if len(bad_models) > 10 else ''}"
        )
    return out


def parse_latent_formula(
    formula: str,
    data: Optional[pd.DataFrame],
    models: Optional[pd.DataFrame],
    model_col: str,
    model_labels: pd.Index,
) -> LatentDesign:
    """Build the latent-regression design for the models that have responses.

    Parameters
    ----------
    formula : str
        ``"ability ~ <rhs>"``; any right-hand side formulaic supports.
    data : DataFrame or None
        Long responses; covariates constant within model may come from here.
    models : DataFrame or None
        One row per model, keyed by ``model_col`` (column or index).
    model_col : str
    model_labels : pandas.Index, length M
        Models in the order used by the estimator.
    """
    rhs = _split_formula(formula)
    needed = _formula_variables(rhs)
    covariates = model_covariates(data, models, model_col, model_labels, needed)
    if needed:
        frame = covariates.reset_index(drop=True)
    else:
        frame = pd.DataFrame(index=range(len(model_labels)))
    try:
        # na_action="ignore" keeps rows whose transform is NaN (e.g. log of a negative value) so
        # that _check_finite can name the column and the models instead of a row count mismatch
        if needed:
            mm = model_matrix(rhs, frame, na_action="ignore")
        else:
            mm = model_matrix(rhs, frame.assign(_one=1.0), na_action="ignore")
    except Exception as e:
        raise ValueError(f"cannot evaluate formula {formula!r}: {e}") from e
    x = np.asarray(mm, dtype=float)
    if x.shape[0] != len(model_labels):
        raise ValueError(
            f"formula {formula!r} produced {x.shape[0]} rows for {len(model_labels)} models "
            f"(rows with missing values are not allowed)"
        )
    columns = list(mm.columns)
    _check_finite(x, columns, model_labels, "models")
    rank = np.linalg.matrix_rank(x) if x.size else 0
    if rank < x.shape[1]:
        raise ValueError(
            f"the latent-regression design of {formula!r} is rank deficient (rank {rank} < "
            f"{x.shape[1]} columns {columns}); drop collinear terms"
        )
    return LatentDesign(
        formula=formula,
        matrix=np.ascontiguousarray(x),
        column_names=columns,
        model_labels=model_labels,
        spec=mm.model_spec,
        covariates=covariates,
    )


def _formula_variables(rhs: str) -> list:
    """Names of the data columns a right-hand side uses.

    formulaic's ``required_variables`` misses variables nested in stateful transforms (e.g.
    ``center(log(compute))``), so the factor expressions are walked with :mod:`ast`: every name
    that is not called as a function is a column.
    """
    names: set = set()
    for term in Formula(rhs):
        for factor in term.factors:
            try:
                tree = ast.parse(factor.expr, mode="eval")
            except SyntaxError:
                continue
            called = {
                n.func.id
                for n in ast.walk(tree)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            }
            attrs = {n.value.id for n in ast.walk(tree)
                     if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
            names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - attrs
    return sorted(names)


def precision_design(spec: str, item_table: pd.DataFrame) -> tuple:
    """Design matrix for ``precision="~ <formula>"`` over question covariates.

    Parameters
    ----------
    spec : str
        ``"~ benchmark"`` etc.
    item_table : DataFrame, shape (N, ...)
        One row per question (in estimator order) with the question covariates.

    Returns
    -------
    (ndarray of shape (N, R), list of R column names)
    """
    rhs = spec.split("~", 1)[1].strip() if "~" in spec else spec.strip()
    try:
        mm = model_matrix(rhs, item_table.reset_index(drop=True))
    except Exception as e:
        raise ValueError(
            f"cannot evaluate the precision formula {spec!r} on the question table "
            f"(columns {list(item_table.columns)}): {e}"
        ) from e
    z = np.asarray(mm, dtype=float)
    if z.shape[0] != len(item_table):
        raise ValueError(f"the precision formula {spec!r} dropped rows (missing values?)")
    _check_finite(z, list(mm.columns), item_table.index, "questions")
    if np.linalg.matrix_rank(z) < z.shape[1]:
        raise ValueError(f"the precision design {spec!r} is rank deficient: {list(mm.columns)}")
    return np.ascontiguousarray(z), [f"log_phi:{c}" for c in mm.columns]
