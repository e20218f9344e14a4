"""Formula handling: the one module that talks to formulaic.

Estimators never parse strings. They receive a :class:`LatentDesign` — the design matrix of the
latent regression ``ability ~ <rhs>`` evaluated on one row per model — and keep its
:class:`formulaic.ModelSpec` so that :meth:`LatentDesign.transform` applies the same transforms
(``log``, ``center``, splines) and the same factor levels to new models.
"""

from __future__ import annotations

import ast
import copy
import numbers
import warnings
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec, model_matrix
from formulaic.errors import DataMismatchWarning
from formulaic.utils.code import sanitize_variable_names

__all__ = ["LatentDesign", "parse_latent_formula", "model_covariates", "precision_design", "column_scales",
           "scaled_lstsq", "scaled_rank", "collinearity_problem"]

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
        TypeError
            If ``new_models`` is not a DataFrame.
        ValueError
            If a factor has a level unseen in the fit, a covariate is missing or NaN, or a
            covariate's column name is repeated.
        """
        _check_table(new_models, "new_models", list(self.covariates.columns))
        if len(self.column_names) == 1 and self.column_names[0] == "Intercept":
            return np.ones((len(new_models), 1))
        self._check_levels(new_models)
        # only the columns the formula reads (unique, see _check_table): an unrelated repeated
        # column would make new_models[c] a DataFrame
        strings = [c for c in self.covariates.columns
                   if c in new_models.columns and isinstance(new_models[c].dtype, pd.StringDtype)]
        if strings:  # as when fitting (see _covariate_values)
            new_models = new_models.assign(**{c: plain_strings(new_models[c]) for c in strings})
        new_models = self._align_dtypes(new_models)
        # formulaic re-learns encoder state when a column's kind changed (a numeric covariate
        # arriving as strings becomes categorical) and stores it in the spec even when the
        # evaluation then fails: on the fit's own spec one bad call broke every later prediction
        spec = copy.deepcopy(self.spec)
        with warnings.catch_warnings():
            # formulaic only warns about levels outside the fitted ones (and encodes them as the
            # base level, not NaN), so that one warning must become an error; factors _check_levels
            # cannot map to a column (e.g. C(a + b)) are caught here.
            warnings.simplefilter("error", DataMismatchWarning)
            # pandas deprecations raised inside formulaic (e.g. re-casting a Categorical whose
            # categories are a superset of the fitted levels) are about formulaic's internals,
            # not the user's data; under -W error they would otherwise fail a valid prediction.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"formulaic(\.|$)")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"formulaic(\.|$)")
            try:
                mm = spec.get_model_matrix(new_models, na_action="ignore")
            except DataMismatchWarning as w:
                raise ValueError(
                    f"new models have factor levels not seen when fitting {self.formula!r}: {w}"
                ) from None
            except Exception as e:
                raise ValueError(f"cannot evaluate {self.formula!r} on the new models: {e}") from e
        x = np.asarray(mm, dtype=float)
        _check_finite(x, list(mm.columns), new_models.index, "new models")
        return x


    def _factors(self):
        """(column, fitted levels) of each categorical factor that is a column or ``C(column, ...)``."""
        for expr, (kind, state) in getattr(self.spec, "encoder_state", {}).items():
            if getattr(kind, "value", kind) != "categorical" or "categories" not in state:
                continue
            column = _factor_column(expr)
            if column is not None:
                yield column, state["categories"]

    @property
    def factor_columns(self) -> List[str]:
        """Covariate columns the formula encodes as categorical (``family``, ``C(size)``)."""
        return list(dict.fromkeys(column for column, _ in self._factors()))

    def _check_levels(self, new_models: pd.DataFrame) -> None:
        """Raise if a factor of the formula has missing values or unseen levels in ``new_models``.

        Covers factors that are a column (``family``) or ``C(column, ...)``; the fitted levels are
        those stored in the formulaic spec. A missing value (NaN, None, ``pd.NA``) is reported as
        such, with its rows, rather than as formulaic's anonymous level ``{nan}``.
        """
        for column, fitted in self._factors():
            if column not in new_models.columns:
                continue  # left to formulaic (its DataMismatchWarning is turned into an error)
            values = pd.Series(new_models[column])
            levels = pd.Index(fitted)
            missing = values.isna()
            if missing.any():
                bad_rows = list(values.index[missing.to_numpy()][:5])
                raise ValueError(
                    f"new models have missing values of {column!r}, a factor of {self.formula!r}, "
                    f"in {int(missing.sum())} row(s) (rows {bad_rows}{' ...' if missing.sum() > 5 else ''}); "
                    f"give each model one of the fitted levels {list(levels)[:10]}"
                    f"{' ...' if len(levels) > 10 else ''}"
                )
            unseen = values[~values.isin(levels)]
            if len(unseen):
                bad_rows = list(unseen.index[:5])
                raise ValueError(
                    f"new models have levels of {column!r} not seen when fitting {self.formula!r}: "
                    f"{list(pd.unique(unseen.to_numpy()))[:5]} (rows {bad_rows}); the fitted levels "
                    f"are {list(levels)[:10]}{' ...' if len(levels) > 10 else ''}. A scaling law "
                    f"cannot extrapolate to a new level: map it to a fitted one or drop the term"
                )

    def _align_dtypes(self, new_models: pd.DataFrame) -> pd.DataFrame:
        """``new_models`` with each covariate in the kind (factor or numeric) it had when fitting.

        formulaic decides from the dtype of the data it is given whether a column is a factor:
        a factor with numeric levels (a Categorical of ints, or an object column of ints) that
        arrived as int64 (or from a dict ``{"fam": 2}``) was read as a number and the value 2
        went into every dummy column -- a wrong prediction without a warning. So a fitted factor
        column becomes a Categorical over exactly the fitted levels (:meth:`_check_levels` has
        already rejected unseen and missing values), and a column that was numeric (or bool)
        when fitting but arrives as object, string or categorical is converted back to numbers
        when every value is a real number, else rejected naming the column (formulaic would
        encode such strings as a new factor).

        Raises
        ------
        ValueError
            If a covariate that was numeric when fitting has non-numeric values.
        """
        factor_levels = {}
        for column, fitted in self._factors():
            factor_levels.setdefault(column, fitted)
        converted = {}
        for column in self.covariates.columns:
            if column not in new_models.columns:
                continue  # formulaic names the missing column
            values = new_models[column]
            fit_dtype = self.covariates[column].dtype
            fit_numeric = (pd.api.types.is_numeric_dtype(fit_dtype)
                           and not isinstance(fit_dtype, pd.CategoricalDtype))
            if column in factor_levels and not fit_numeric:
                # a numeric column used as C(column) keeps its numbers: C() encodes them with the
                # fitted levels itself, and the same column may also enter the formula as a number
                converted[column] = pd.Categorical(np.asarray(values, dtype=object),
                                                   categories=factor_levels[column])
            elif fit_numeric and not pd.api.types.is_numeric_dtype(values.dtype):
                converted[column] = self._as_numbers(column, values, fit_dtype)
        return new_models.assign(**converted) if converted else new_models

    def _as_numbers(self, column: str, values: pd.Series, fit_dtype) -> pd.Series:
        """Numeric ``values`` of a covariate that was numeric when fitting, or a ValueError naming it."""
        obj = pd.Series(np.asarray(values, dtype=object), index=values.index)
        present = obj[obj.notna()]
        # str is excluded explicitly: pd.to_numeric would parse "1e24" or "2" into numbers, and a
        # string in a numeric column is a data error (e.g. a bool covariate written as "True")
        is_number = present.map(lambda v: isinstance(v, (numbers.Real, np.bool_)) and not isinstance(v, str))
        bad = present[~is_number.to_numpy(dtype=bool)]
        if len(bad):
            raise ValueError(
                f"new models have non-numeric values of {column!r}, which was numeric ({fit_dtype}) "
                f"when fitting {self.formula!r}: {list(pd.unique(bad.to_numpy()))[:5]} (rows "
                f"{list(bad.index[:5])}); convert the column to {fit_dtype} as it was when fitting "
                f"(text such as '1e24' or 'True' is not read as a number)"
            )
        return pd.to_numeric(obj)


def _factor_column(expr: str) -> Optional[str]:
    """Column behind a categorical factor ``col`` or ``C(col, ...)``, else None."""
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "C" and node.args:
        node = node.args[0]
    if isinstance(node, ast.Name):
        return node.id
    return None


def _check_finite(x: np.ndarray, columns: Sequence[str], index: pd.Index, what: str,
                  design: str = "latent-regression") -> None:
    """Raise naming the first column of ``x`` with a NaN or infinite value and its rows.

    ``design`` says which design the column belongs to (``"latent-regression"``,
    ``"precision-formula"``), ``what`` what its rows are (``"models"``, ``"questions"``).
    """
    bad = ~np.isfinite(x)
    if bad.any():
        j = int(np.nonzero(bad)[1][0])
        rows = np.flatnonzero(bad[:, j])
        shown = ", ".join(str(index[r]) for r in rows[:5])
        raise ValueError(
            f"the {design} column {columns[j]!r} is NaN or infinite for {len(rows)} {what} "
            f"(e.g. {shown}{', ...' if len(rows) > 5 else ''}); check the covariates (log of zero "
            f"or of a negative value?)"
        )


def column_scales(x: np.ndarray) -> np.ndarray:
    """Largest absolute value of each column of ``x`` (1 for all-zero columns), shape (P,).

    Dividing a design by these puts covariates in raw units (FLOPs ~ 1e22) on the scale of the
    intercept before a rank test or a least-squares solve, whose tolerances are relative to the
    largest singular value; all-zero columns stay zero.
    """
    x = np.asarray(x, dtype=float)
    scale = np.abs(x).max(axis=0) if x.size else np.ones(x.shape[1:])
    scale[scale == 0] = 1.0
    return scale


def scaled_rank(x: np.ndarray) -> int:
    """Numerical rank of a design matrix after scaling each column by :func:`column_scales`.

    ``np.linalg.matrix_rank`` sets its tolerance relative to the largest singular value, so a
    covariate in raw units (FLOPs ~ 1e22) made the intercept column look like rounding noise and a
    well-conditioned design was called rank deficient. Rank does not depend on column scaling, so
    scaling first keeps only real collinearity (``x`` and ``2*x``, a constant next to the
    intercept, dummy traps). All-zero columns are left at zero and still count as deficient.
    """
    if x.size == 0:
        return 0
    return int(np.linalg.matrix_rank(x / column_scales(x)))


# Relative size below which a singular value of the standardised design (or a column's spread
# against its magnitude) is treated as zero. matrix_rank's default (~1e-14) only catches exact
# dependence: a Chinchilla design (log(flops) = 2 log(params) + const up to rounding of the token
# counts) has condition number ~1e11 and passed, giving coefficients of 1e8 with |z| = 10 and no
# warning. Solving normal equations squares the condition number, so 1e-7 (condition 1e7, 1e14
# after squaring) is where a regression stops carrying any significant digit of the coefficients.
COLLINEARITY_TOL = 1e-7


def _fmt_names(names: Sequence[str]) -> str:
    return ", ".join(repr(str(n)) for n in names)


def collinearity_problem(x: np.ndarray, names: Optional[Sequence[str]] = None,
                         rows: str = "models") -> Optional[str]:
    """Why the design ``x`` cannot be fitted (collinear, nearly collinear or constant columns), or None.

    Parameters
    ----------
    x : ndarray, shape (n, P)
        Design matrix.
    names : sequence of str, optional
        Column names (default ``column 0``, ``column 1``, ...).
    rows : str
        What the rows are, for the message (``"models"``, ``"questions"``).

    Returns
    -------
    str or None
        A message naming the offending columns and what to do, or None for a usable design.

    Notes
    -----
    Rank and conditioning are judged on the columns after removing what does not affect the
    column space or the fit: when the design has a constant column (the intercept), every other
    column is centred; each column is then scaled to unit norm. Raw units (FLOPs ~ 1e22) and
    large means (``log(compute)`` ~ 50, years ~ 2020) therefore do not count as collinearity,
    while a column whose spread is below :data:`COLLINEARITY_TOL` of its magnitude is "constant"
    and columns whose standardised combination vanishes to that tolerance are "nearly collinear"
    (read off the singular vectors of the near-zero singular values).
    """
    x = np.asarray(x, dtype=float)
    n, p = x.shape
    names = [f"column {j}" for j in range(p)] if names is None else [str(c) for c in names]
    if p == 0:
        return None
    if n < p:
        return (f"the design has {p} columns ({_fmt_names(names)}) but only {n} {rows}: drop "
                f"terms or add {rows}")
    magnitude = np.abs(x).max(axis=0)
    spread = x.max(axis=0) - x.min(axis=0)
    zero = magnitude == 0
    if zero.any():
        bad = [names[j] for j in np.flatnonzero(zero)]
        return f"column(s) {_fmt_names(bad)} are 0 for every one of the {rows}: drop them"
    constant = spread <= COLLINEARITY_TOL * magnitude
    if constant.sum() > 1:
        # the intercept (if named so) or the first constant column carries the constant
        first = names.index("Intercept") if "Intercept" in names and constant[names.index("Intercept")] \
            else int(np.flatnonzero(constant)[0])
        bad = [names[j] for j in np.flatnonzero(constant) if j != first]
        values = ", ".join(f"{names[j]}={x[0, j]:.6g}" for j in np.flatnonzero(constant) if j != first)
        return (f"{_fmt_names(bad)} {'is' if len(bad) == 1 else 'are'} constant over the {rows} "
                f"({values}), so collinear with {names[first]!r}: drop "
                f"{'it' if len(bad) == 1 else 'them'} (a covariate must vary between {rows})")
    z = x.copy()
    if constant.any():
        # centring the other columns is a column operation when a constant column is present
        # (it adds a multiple of that column), so it changes neither the rank nor the fit
        others = ~constant
        z[:, others] -= z[:, others].mean(axis=0)
    z /= np.linalg.norm(z, axis=0)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    small = s < COLLINEARITY_TOL * s[0]
    if not small.any():
        return None
    null = vt[small]  # rows: combinations of the standardised columns that (nearly) vanish
    loading = np.sqrt(np.sum(null**2, axis=0))
    involved = np.flatnonzero(loading > 1e-3)
    bad = [names[j] for j in involved]
    cond = s[0] / s[-1] if s[-1] > 0 else np.inf
    text = (f"columns {_fmt_names(bad)} are {'collinear' if s[-1] <= 1e-14 * s[0] else 'nearly collinear'}"
            f" (condition number {cond:.2g} of the centred, standardised design; above "
            f"{1 / COLLINEARITY_TOL:.0e} the coefficients are not determined to working precision)")
    vec = vt[-1]
    last = int(np.flatnonzero(np.abs(vec) > 1e-3)[-1])
    if small.sum() == 1 and not constant[last]:
        # the dependence in the columns' own units: x_last ~ sum_j c_j x_j + const
        scale = np.linalg.norm(x - (x.mean(axis=0) if constant.any() else 0.0), axis=0)
        terms = []
        for j in np.flatnonzero(np.abs(vec) > 1e-3):
            if j == last or constant[j]:
                continue
            coef = -vec[j] / vec[last] * scale[last] / scale[j]
            terms.append(f"{'-' if coef < 0 else '+'} {abs(coef):.4g} * {names[j]}")
        if terms:
            rhs = " ".join(terms)
            rhs = rhs[2:] if rhs.startswith("+ ") else "-" + rhs[2:]
            text += f": {names[last]} = {rhs}{' + const' if constant.any() else ''} (approximately)"
    return (text + "; drop one of them (or combine them into one covariate) -- the data cannot "
            "separate their effects")


def scaled_lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of ``y`` (n,) or (n, K) on the columns of ``x`` (n, P).

    Solved on columns scaled by :func:`column_scales` and mapped back: ``lstsq``'s cutoff for
    small singular values is relative to the largest one, so a covariate in raw units (FLOPs ~
    1e22) would otherwise make the intercept look like rounding noise and drop it. Returns shape
    (P,) or (P, K).
    """
    scale = column_scales(x)
    coef = np.linalg.lstsq(np.asarray(x, float) / scale, y, rcond=None)[0]
    return coef / scale if coef.ndim == 1 else coef / scale[:, None]


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
    *,
    role: str = "formula",
) -> pd.DataFrame:
    """Collect one row of covariates per model.

    Covariates come from ``models`` (keyed by ``model_col``, as a column or the index) or, for
    columns not found there, from ``data`` where they must be constant within each model.

    Parameters
    ----------
    data : DataFrame or None
        Long responses (column ``model_col`` holds the model labels).
    models : DataFrame or None
        One row per model, keyed by ``model_col`` (column, else the index).
    model_col : str
    model_labels : pandas.Index
        Models with responses, in estimator order.
    needed : sequence of str
        Columns to collect.
    role : {"formula", "groups"}
        What the columns are for; only changes the error messages (``"groups"``: the cluster
        column of ``cov_type="cluster"``).

    Returns
    -------
    DataFrame indexed by ``model_labels`` with the ``needed`` columns.

    Raises
    ------
    TypeError
        If ``models`` (or ``data``) is given but is not a DataFrame.
    ValueError
        If a column is found nowhere, varies within a model, is missing for some models, is
        repeated in a table, or the models table's key does not match the model labels of the
        responses (wrong key column, or labels of another type, e.g. integers vs strings).
    """
    what = (
        "the groups= column(s) (clusters of cov_type='cluster')" if role == "groups"
        else "covariate(s) used by the formula"
    )
    if models is not None:
        _check_table(models, "models", [model_col, *needed])
    if data is not None:
        _check_table(data, "data", [model_col, *needed])
    out = pd.DataFrame(index=model_labels)
    missing_everywhere = []
    table = None
    key_desc = ""
    if models is not None:
        table = models
        if model_col in table.columns:
            table = table.set_index(model_col)
            key_desc = f"its column {model_col!r}"
        else:
            key_desc = (f"its index (named {table.index.name!r}), because it has no column "
                        f"{model_col!r}")
        if table.index.has_duplicates:
            dup = table.index[table.index.duplicated()].unique()[:5]
            raise ValueError(
                f"the models table has duplicated {model_col!r} values: {list(dup)}"
            )
        if any(col in table.columns for col in needed):
            _check_table_key(table, model_labels, model_col, key_desc)
            # a model without a row is not a model with missing values: reported as such, it sent
            # users looking for NaN in rows that do not exist
            labels = pd.Index(model_labels)
            absent = labels[~labels.isin(table.index)]
            if len(absent):
                raise ValueError(
                    f"{len(absent)} model(s) with responses are not in the models table (keyed by "
                    f"{key_desc}): {list(absent[:10])}{' ...' if len(absent) > 10 else ''}; add "
                    f"their rows (with {what}) or drop their responses"
                )
    for col in needed:
        if table is not None and col in table.columns:
            out[col] = _covariate_values(table[col].reindex(model_labels))
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
            out[col] = _covariate_values(grouped.first().reindex(model_labels))
            continue
        missing_everywhere.append(col)
    if missing_everywhere:
        where = "the models table or the responses" if models is not None else "the responses"
        available = list(table.columns) if table is not None else []
        if data is not None:
            available += [c for c in data.columns if c not in available]
        raise ValueError(
            f"{what} {missing_everywhere} are not columns of {where} "
            f"(available: {available[:20]}{' ...' if len(available) > 20 else ''})"
        )
    na = out.isna()
    if na.to_numpy().any():
        bad_models = out.index[na.any(axis=1)]
        cols = list(out.columns[na.any(axis=0)])
        raise ValueError(
            f"{len(bad_models)} model(s) with responses have missing values of {what} {cols}: "
            f"{list(bad_models[:10])}{' ...' if len(bad_models) > 10 else ''}"
        )
    return out


def _check_table(table, name: str, used: Sequence[str]) -> None:
    """Raise a clear error when ``table`` is not a DataFrame or repeats a column it is read by.

    Without this a Series, dict or array failed with "'Series' object has no attribute
    'columns'", and a repeated covariate column (``table[col]`` is then a DataFrame) with an
    AttributeError deep inside the covariate collection.
    """
    if not isinstance(table, pd.DataFrame):
        layout = ("the long responses" if name == "data"
                  else "one row per model and the covariates as columns")
        hint = (f" (one model's row? select it with double brackets, e.g. {name}.iloc[[0]])"
                if isinstance(table, pd.Series) else "")
        raise TypeError(
            f"{name} must be a pandas DataFrame with {layout}; got {type(table).__name__}{hint}"
        )
    repeated = table.columns[table.columns.duplicated()].unique()
    bad = [c for c in repeated if c in set(used)]
    if bad:
        raise ValueError(
            f"{name} has repeated column name(s) {bad}, so their values are ambiguous; rename or "
            f"drop the duplicates (e.g. {name}.loc[:, ~{name}.columns.duplicated()])"
        )


def _covariate_values(values: pd.Series):
    """A covariate's values, one per model, in a form formulaic encodes as the user meant.

    A Categorical keeps its categories' order (the first is the reference level, as in R and
    patsy) minus the categories no model has (they would give all-zero columns); pandas' string
    dtypes become plain objects, which formulaic treats as categorical both when fitting and when
    predicting.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.remove_unused_categories().array
    return plain_strings(values).to_numpy()


def plain_strings(values: pd.Series) -> pd.Series:
    """``values`` with a pandas string dtype (``"string"``, ``"str"``) as object; others unchanged."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.astype(object).where(values.notna(), np.nan)
    return values


def _check_table_key(table: pd.DataFrame, model_labels: pd.Index, model_col: str, key_desc: str) -> None:
    """Raise when (almost) no model with responses is a key of the models table.

    Without this the mismatch surfaces as "every model has missing covariates", which hides the
    real cause: the table keyed by the wrong column, or labels of another type (1 vs "1").
    """
    n = len(model_labels)
    found = int(pd.Index(model_labels).isin(table.index).sum())
    # "almost no": fewer than half found (a table missing a few models is reported per model)
    if n == 0 or found * 2 >= n:
        return
    resp_dtype = getattr(model_labels, "dtype", None)
    if isinstance(resp_dtype, pd.CategoricalDtype):
        resp_dtype = f"category of {resp_dtype.categories.dtype}"
    table_dtype = table.index.dtype
    if isinstance(table_dtype, pd.CategoricalDtype):
        table_dtype = f"category of {table_dtype.categories.dtype}"
    raise ValueError(
        f"only {found} of the {n} models with responses are keys of the models table, which is "
        f"keyed by {key_desc}: response labels {[*model_labels[:5]]} (dtype {resp_dtype}) vs "
        f"table keys {[*table.index[:5]]} (dtype {table_dtype}). Give the models table a column "
        f"{model_col!r} (model= names the key in both tables) holding the same labels as the "
        f"responses, converted to a common type if needed (e.g. .astype(str))"
    )


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
    problem = collinearity_problem(x, columns, "models")
    if problem is not None:
        raise ValueError(f"the latent-regression design of {formula!r} is (numerically) rank deficient: {problem}")
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
    ``center(log(compute))``) and cuts a quoted name at its first dot (``log(`compute.1`)`` gives
    ``compute``), so each factor is read here: a plain or backtick-quoted name (formulaic looks it
    up as is), ``Q('name')``, and the names of a Python expression that are not called as
    functions, with backtick-quoted names sanitised and mapped back exactly as formulaic does.
    """
    names: set = set()
    for term in Formula(rhs):
        for factor in term.factors:
            names |= _factor_variables(factor)
    return sorted(names)


def _factor_variables(factor) -> set:
    """Data columns one formulaic factor reads (see :func:`_formula_variables`)."""
    method = getattr(factor.eval_method, "value", factor.eval_method)
    if method == "lookup":  # `x` or `log compute`: the expression is the column name
        return {factor.expr}
    if method != "python":  # literals ("1", scaling constants)
        return set()
    aliases: dict = {}
    try:
        tree = ast.parse(sanitize_variable_names(factor.expr, {}, aliases), mode="eval")
    except SyntaxError:
        return set()  # formulaic reports the malformed expression when evaluating it
    names = set()
    called = set()
    attrs = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            called.add(n.func.id)
            # Q('log compute') looks a column up by its (quoted) name
            if (n.func.id == "Q" and n.args and isinstance(n.args[0], ast.Constant)
                    and isinstance(n.args[0].value, str)):
                names.add(n.args[0].value)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            attrs.add(n.value.id)  # np.log(x): np is a module, not a column
    names |= {aliases.get(n.id, n.id) for n in ast.walk(tree)
              if isinstance(n, ast.Name) and n.id not in called and n.id not in attrs}
    return names


#: key of ``DataFrame.attrs`` under which the question table (``api._question_table``) records
#: the data columns it left out because they vary within a question: ``{column: {"n": number of
#: such questions, "questions": the first few, "distinct": distinct values in the first}}``
VARYING_WITHIN_QUESTION = "varying_within_question"


def precision_design(spec: str, item_table: pd.DataFrame) -> tuple:
    """Design matrix for ``precision="~ <formula>"`` over question covariates.

    Parameters
    ----------
    spec : str
        ``"~ benchmark"`` etc.
    item_table : DataFrame, shape (N, ...)
        One row per question (in estimator order) with the question covariates; its
        ``attrs[VARYING_WITHIN_QUESTION]`` may name columns left out because they vary within a
        question.

    Returns
    -------
    (ndarray of shape (N, R), list of R column names)

    Raises
    ------
    ValueError
        If the formula uses a column that varies within a question, a question covariate is
        missing or non-finite for some questions (naming them), the formula cannot be evaluated,
        or the design is (numerically) rank deficient.
    """
    rhs = spec.split("~", 1)[1].strip() if "~" in spec else spec.strip()
    try:
        used = _formula_variables(rhs)
    except Exception:
        used = []  # a malformed formula: model_matrix reports it below
    varying = item_table.attrs.get(VARYING_WITHIN_QUESTION, {})
    for col in used:
        if col not in item_table.columns and col in varying:
            v = varying[col]
            raise ValueError(
                f"the precision formula {spec!r} uses {col!r}, which varies within {v['n']} "
                f"question(s): {list(v['questions'])}{' ...' if v['n'] > len(v['questions']) else ''} "
                f"({v['distinct']} distinct values, NaN counting as one, in {v['questions'][0]!r}); "
                f"a question covariate must be constant per question: fix the inconsistent rows"
            )
        if col in item_table.columns and isinstance(item_table[col], pd.Series):
            missing = item_table[col].isna().to_numpy()
            if missing.any():
                # formulaic would drop these questions or, with na_action="ignore", code a missing
                # level as the reference level without a word
                bad = item_table.index[missing]
                raise ValueError(
                    f"the question covariate {col!r} of the precision formula {spec!r} is missing "
                    f"for {len(bad)} question(s): {list(bad[:10])}{' ...' if len(bad) > 10 else ''}; "
                    f"give every question a value"
                )
    try:
        # na_action="ignore" keeps rows whose transform is NaN (e.g. log of zero) so that
        # _check_finite names the column and the questions
        mm = model_matrix(rhs, item_table.reset_index(drop=True), na_action="ignore")
    except Exception as e:
        raise ValueError(
            f"cannot evaluate the precision formula {spec!r} on the question table "
            f"(columns {list(item_table.columns)}): {e}"
        ) from e
    z = np.asarray(mm, dtype=float)
    if z.shape[0] != len(item_table):
        raise ValueError(
            f"the precision formula {spec!r} gave {z.shape[0]} rows for {len(item_table)} questions"
        )
    _check_finite(z, list(mm.columns), item_table.index, "questions", design="precision-formula")
    problem = collinearity_problem(z, list(mm.columns), "questions")
    if problem is not None:
        raise ValueError(f"the precision design {spec!r} is (numerically) rank deficient: {problem}")
    return np.ascontiguousarray(z), [f"log_phi:{c}" for c in mm.columns]
