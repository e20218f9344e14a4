"""Seeded simulators of Beta-IRT evaluation data, returned as pandas tables.

Every simulator draws from the model of DESIGN.md section 1:

- ability (latent regression) ``theta_i = x_i' beta + sigma * u_i``, ``u_i ~ N(0, 1)``;
- linear predictor ``eta_ij = a_j * theta_i + d_j`` (``a_j = 1`` for ``irt="1pl"``), mean
  ``mu_ij = expit(eta_ij)``, difficulty ``b_j = -d_j / a_j``;
- response, by family: ``beta`` ``y ~ Beta(mu*phi_j, (1-mu)*phi_j)``; ``bernoulli``
  ``y ~ Bernoulli(mu)``; ``binomial`` ``k ~ Binomial(n, mu)``; ``beta_binomial``
  ``p ~ Beta(mu*phi_j, (1-mu)*phi_j)`` then ``k ~ Binomial(n, p)``.

Identification of the truth
---------------------------
The true parameters live on the *generating* scale: ``theta`` is exactly the value of the
latent regression above (intercept and ``sigma`` as passed; log compute is centred at the
midpoint of its range so ``theta`` is O(1)), and ``a``, ``d`` are on that scale. A fit that
identifies the model differently (intercept 0 and ``sigma = 1``, or mean-0/SD-1 abilities)
recovers ``theta`` only up to ``theta_fit = (theta - m) / s`` with ``a_fit = a * s`` and
``d_fit = d + a * m``; quantities on the response scale (``mu``, expected scores, pass@k,
rankings) are the same under every convention and are what tests should compare. Each
simulation's ``truth["identification"]`` restates this.

Reproducibility
---------------
``seed`` fixes everything. Model and item parameters come from one stream; responses of
model ``i`` come from their own stream ``default_rng([entropy, 1, i])``, so the responses of a
model do not depend on how many models are simulated or on the chunk size:
``pd.concat(irt_chunks(..., chunk_size=c))`` equals ``irt(...).responses`` for every ``c``.

Tables use categorical ``model``, ``question`` and ``benchmark`` columns (ordered as in the
``models`` and ``items`` tables) so that tens of millions of rows stay compact.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit

from ._checks import repeated_values
from .passk import _budget_column, beta_pass_at_k, plugin_pass_at_k

__all__ = [
    "Simulation",
    "ChunkedSimulation",
    "irt",
    "irt_chunks",
    "pretraining",
    "test_time",
    "subsample_counts",
    "correlated_benchmarks",
    "DATADECIDE_SIZES",
    "OLMES_BENCHMARKS",
    "TEST_TIME_BENCHMARKS",
]

FAMILIES = ("beta", "bernoulli", "binomial", "beta_binomial")

#: The 14 DataDecide model sizes (parameters).
DATADECIDE_SIZES: tuple[float, ...] = (
    4e6, 6e6, 8e6, 10e6, 14e6, 16e6, 20e6, 60e6, 90e6, 150e6, 300e6, 530e6, 750e6, 1e9,
)
#: The 10 OLMES multiple-choice benchmarks used by DataDecide.
OLMES_BENCHMARKS: tuple[str, ...] = (
    "arc_easy", "arc_challenge", "boolq", "csqa", "hellaswag",
    "mmlu", "openbookqa", "piqa", "socialiqa", "winogrande",
)
#: The four test-time-scaling benchmarks of the IRSL paper.
TEST_TIME_BENCHMARKS: tuple[str, ...] = ("aime24", "aime25", "mmlu_pro", "global_mmlu_lite")
#: Default difficulty offsets (added to ``d``) for :func:`test_time`: AIME is hard.
_TEST_TIME_OFFSETS = {"aime24": -3.5, "aime25": -4.0, "mmlu_pro": 0.5, "global_mmlu_lite": 1.5}

_IDENTIFICATION = (
    "truth on the generating scale: theta_i = x_i' beta + sigma * u_i with the intercept and "
    "sigma as simulated; a fit identified otherwise recovers theta up to an affine map "
    "theta_fit = (theta - m)/s, a_fit = a*s, d_fit = d + a*m; response-scale quantities are "
    "invariant"
)


# ======================================================================================
# result containers
# ======================================================================================
@dataclass
class Simulation:
    """A simulated data set and the truth that generated it.

    Attributes
    ----------
    responses : pandas.DataFrame, shape (n_cells, ...)
        Long table, one row per observed (model, question) cell: ``model``, ``question``,
        ``benchmark`` (categoricals) and ``y`` (``beta``, ``bernoulli``) or ``successes`` and
        ``trials`` (``binomial``, ``beta_binomial``); :func:`test_time` adds the true
        per-cell success probability ``p``.
    models : pandas.DataFrame, shape (n_models, ...)
        One row per model: ``model``, covariates (``compute``, ``family``, or ``recipe``,
        ``params``, ``tokens``, ``flops``, ...) and the true ability ``theta``.
    items : pandas.DataFrame, shape (n_questions, 6)
        One row per question: ``question``, ``benchmark``, ``a``, ``d``, ``b = -d/a`` and
        ``phi`` (NaN for ``bernoulli``/``binomial``, which have no precision).
    truth : dict
        Regression coefficients (``beta``, keyed by formulaic-style term names), ``sigma``,
        the ``formula``, the centring constant, the identification statement and simulator
        settings.
    family : str
        Response family of ``responses``.
    """

    responses: pd.DataFrame
    models: pd.DataFrame
    items: pd.DataFrame
    truth: dict[str, Any]
    family: str

    def mu(self) -> np.ndarray:
        """True means ``expit(a_j * theta_i + d_j)``, shape (n_models, n_questions)."""
        theta = self.models["theta"].to_numpy(float)
        return expit(np.outer(theta, self.items["a"].to_numpy(float)) + self.items["d"].to_numpy(float))

    def population_scale_truth(self, irt: str = "2pl") -> pd.Series:
        """The true scaling law of :func:`irt` on a fit's default ("population") scale.

        A fit reports ``ability ~ log(compute) + family`` on the scale where, over the simulated
        models, ``mean(x' beta) = 0`` and (2PL) ``var(x' beta) + sigma^2 = 1``. This maps the
        generating coefficients (``truth["beta_uncentered"]``, ``truth["sigma"]``) to that scale,
        so estimates and intervals can be compared with the truth.

        Parameters
        ----------
        irt : {"1pl", "2pl"}, default "2pl"
            Model of the fit: only 2PL rescales to ``var(x' beta) + sigma^2 = 1``.

        Returns
        -------
        pandas.Series
            ``Intercept``, ``log(compute)``, ``family[T.<level>]`` ..., ``sigma``.

        Raises
        ------
        ValueError
            If ``irt`` is not ``"1pl"`` or ``"2pl"``, or the simulation is not from :func:`irt`.
        """
        # any other string silently gave the 1PL truth (e.g. "2PL" or a typo)
        if irt not in ("1pl", "2pl"):
            raise ValueError(f"`irt` must be '1pl' or '2pl', got {irt!r}")
        beta = self.truth.get("beta_uncentered")
        if beta is None:
            raise ValueError("population_scale_truth needs a simulation from irt()")
        names = ["Intercept", "log(compute)"] + [k for k in beta if k.startswith("family[")]
        coef = np.array([beta["Intercept"], beta["log_compute"]] + [beta[k] for k in names[2:]])
        x = np.column_stack(
            [np.ones(len(self.models)), np.log(self.models["compute"].to_numpy(float))]
            + [(self.models["family"].astype(str) == k[len("family[T."):-1]).to_numpy(float)
               for k in names[2:]]
        )
        fitted = x @ coef
        loc = fitted.mean()
        scale = np.sqrt(fitted.var() + self.truth["sigma"] ** 2) if irt == "2pl" else 1.0
        out = coef / scale
        out[0] = (coef[0] - loc) / scale
        return pd.Series(np.r_[out, self.truth["sigma"] / scale], index=names + ["sigma"])

    def expected_scores(self, block: int = 1024) -> pd.DataFrame:
        """True expected score (mean ``mu`` over questions) per model and benchmark.

        Averages over *all* questions of the item table (missing cells included), i.e. the
        full-benchmark score a model would get in expectation.

        Parameters
        ----------
        block : int, default 1024
            Models processed at a time (bounds memory); an integer ``>= 1``.

        Returns
        -------
        pandas.DataFrame, shape (n_models, n_benchmarks + 1)
            Indexed by model; one column per benchmark and ``"all"`` (mean over every
            question).

        Raises
        ------
        ValueError
            If ``block`` is not an integer ``>= 1``.
        """
        # a negative block made the loop below empty and returned np.empty's garbage
        if isinstance(block, (bool, np.bool_)) or not isinstance(block, (int, np.integer)) or block < 1:
            raise ValueError(f"`block` must be an integer >= 1, got {block!r}")
        block = int(block)
        theta = self.models["theta"].to_numpy(float)
        a = self.items["a"].to_numpy(float)
        d = self.items["d"].to_numpy(float)
        bench = pd.Categorical(self.items["benchmark"])
        codes = bench.codes
        n_b = len(bench.categories)
        counts = np.bincount(codes, minlength=n_b).astype(float)
        onehot = np.zeros((a.size, n_b))
        onehot[np.arange(a.size), codes] = 1.0
        out = np.empty((theta.size, n_b + 1))
        for s in range(0, theta.size, block):
            mu = expit(np.outer(theta[s : s + block], a) + d)
            out[s : s + block, :n_b] = (mu @ onehot) / counts
            out[s : s + block, n_b] = mu.mean(axis=1)
        cols = [str(c) for c in bench.categories] + ["all"]
        return pd.DataFrame(out, index=pd.Index(self.models["model"], name="model"), columns=cols)

    def pass_at_k_truth(
        self,
        ks: Sequence[float] | np.ndarray,
        by: str | Sequence[str] = "model",
        kind: Literal["realized", "expected"] = "realized",
    ) -> pd.DataFrame:
        """True pass@k curves, averaged over questions within groups.

        Parameters
        ----------
        ks : float or sequence of float, shape (K,)
            Budgets ``k > 0`` (finite; need not be integers, sorted or distinct: a budget
            given twice gives its rows twice, as :func:`irsl_stats.testtime.observed_pass_at_k`
            does).
        by : str or sequence of str, default "model"
            Grouping columns of ``responses`` (e.g. ``("model", "benchmark")``).
        kind : {"realized", "expected"}, default "realized"
            ``"realized"``: mean over observed cells of ``1 - (1-p)^k`` with the drawn
            per-cell ``p`` (needs a ``p`` column, as from :func:`test_time`); this is what
            the unbiased estimator from infinitely many samples converges to.
            ``"expected"``: mean of the Beta expectation ``1 - B(mu phi, (1-mu)phi + k) /
            B(mu phi, (1-mu) phi)`` (or ``1 - (1-mu)^k`` without a precision); a cell whose
            ``mu`` rounds to exactly 0 or 1 in float64 contributes ``mu``.

        Returns
        -------
        pandas.DataFrame, shape (n_groups * K, len(by) + 2)
            Tidy: the ``by`` columns, ``k``, ``pass_at_k``; groups sorted, budgets in the
            order given within each group.

        Raises
        ------
        ValueError
            If ``ks`` is empty, not one-dimensional, not numeric, or holds a value that is not
            finite or not ``> 0`` (naming the values); if ``kind`` is unknown or
            ``kind="realized"`` lacks the ``p`` column.
        """
        by_cols = [by] if isinstance(by, str) else list(by)
        ks_arr = _as_budgets(ks)
        resp = self.responses
        if kind == "realized":
            if "p" not in resp.columns:
                raise ValueError("kind='realized' needs a `p` column of true per-cell probabilities")
            probs = resp["p"].to_numpy(float)
            curves = plugin_pass_at_k(probs[:, None], ks_arr[None, :])
        elif kind == "expected":
            q_index = pd.Index(self.items["question"])
            qpos = q_index.get_indexer(resp["question"])
            mpos = pd.Index(self.models["model"]).get_indexer(resp["model"])
            theta = self.models["theta"].to_numpy(float)[mpos]
            a = self.items["a"].to_numpy(float)[qpos]
            d = self.items["d"].to_numpy(float)[qpos]
            phi = self.items["phi"].to_numpy(float)[qpos]
            mu = expit(a * theta + d)
            if np.all(np.isnan(phi)):
                curves = plugin_pass_at_k(mu[:, None], ks_arr[None, :])
            else:
                # expit rounds to exactly 0 or 1 for |eta| beyond ~37 (1) or ~745 (0), which
                # beta_pass_at_k rejects; there the Beta law is a point mass and pass@k is mu
                curves = np.repeat(mu[:, None], ks_arr.size, axis=1)
                inner = (mu > 0.0) & (mu < 1.0)
                curves[inner] = beta_pass_at_k(mu[inner, None], phi[inner, None], ks_arr[None, :])
        else:
            raise ValueError(f"`kind` must be 'realized' or 'expected', got {kind!r}")
        # columns are the positions of the budgets: a budget given twice is two columns
        # (stack rejects repeated column labels); the labels become the budgets at the end
        wide = pd.DataFrame(curves, columns=pd.RangeIndex(ks_arr.size))
        for col in by_cols:
            wide[col] = resp[col].to_numpy()
        means = wide.groupby(by_cols, observed=True, sort=True).mean()
        tidy = means.stack().rename("pass_at_k").reset_index()
        pos_col = tidy.columns[len(by_cols)]
        tidy[pos_col] = _budget_column(ks_arr)[tidy[pos_col].to_numpy(dtype=np.int64)]
        return tidy.rename(columns={pos_col: "k"})


def _as_budgets(ks: object) -> np.ndarray:
    """``ks`` of :meth:`Simulation.pass_at_k_truth` as a float array of shape (K,), or raise.

    The true pass@k ``1 - (1 - p)^k`` (and its Beta expectation) is defined for every real
    ``k > 0``, so budgets need not be integers nor bounded by a number of samples; a budget
    given twice is kept (one row each), as in :func:`irsl_stats.testtime.observed_pass_at_k`.
    """
    raw = np.atleast_1d(np.asarray(ks, dtype=object))
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"`ks` must be a non-empty one-dimensional sequence of budgets, got shape {raw.shape}")
    bad = [v for v in raw if isinstance(v, (bool, np.bool_))
           or not isinstance(v, (int, float, np.integer, np.floating))]
    if bad:
        raise ValueError(f"`ks` must hold numbers (budgets k > 0), got {bad[0]!r}")
    arr = raw.astype(float)
    nonfinite = arr[~np.isfinite(arr)]
    if nonfinite.size:
        raise ValueError(f"`ks` must be finite, got {nonfinite[:5].tolist()}")
    low = arr[arr <= 0]
    if low.size:
        raise ValueError(f"`ks` must be > 0, got {low[:5].tolist()}")
    return arr


@dataclass
class ChunkedSimulation:
    """A simulation whose responses are produced on demand, a block of models at a time.

    Iterating yields long response DataFrames (same columns as ``Simulation.responses``)
    for consecutive blocks of ``chunk_size`` models, so the caller never holds more than
    one block. Concatenating all blocks reproduces ``irt(...).responses`` for the same
    arguments and seed exactly. Iterating twice yields the same data.

    Attributes
    ----------
    models, items : pandas.DataFrame
        As in :class:`Simulation` (complete; small).
    truth : dict
        As in :class:`Simulation`.
    family : str
    chunk_size : int
        Models per block.
    """

    models: pd.DataFrame
    items: pd.DataFrame
    truth: dict[str, Any]
    family: str
    chunk_size: int
    _setup: "_Setup" = field(repr=False)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for arrays in self.iter_arrays():
            yield _to_frame(self._setup, arrays)

    def __len__(self) -> int:
        return -(-len(self.models) // self.chunk_size)

    def iter_arrays(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield each block as plain arrays (the cheapest form for a kernel).

        Yields
        ------
        dict of str to ndarray, each of shape (n_cells_in_block,)
            ``model`` and ``question`` (int32 positions in ``models``/``items``) and ``y``
            (float64) or ``successes``/``trials`` (int64).
        """
        setup = self._setup
        for start in range(0, setup.n_models, self.chunk_size):
            stop = min(start + self.chunk_size, setup.n_models)
            yield _draw_block(setup, start, stop)


# ======================================================================================
# internals
# ======================================================================================
@dataclass
class _Setup:
    theta: np.ndarray  # (M,)
    a: np.ndarray  # (N,)
    d: np.ndarray  # (N,)
    phi: np.ndarray  # (N,) (NaN when unused)
    bench_codes: np.ndarray  # (N,) int
    bench_names: list[str]
    model_names: list[str]
    question_names: list[str]
    family: str
    n_trials: np.ndarray | None  # scalar, (N,) or (M, N)
    missing: float
    eps: float
    entropy: int
    keep_p: bool = False

    @property
    def n_models(self) -> int:
        return int(self.theta.size)


def _entropy(seed: int | None) -> int:
    # a bool is an int to Python, but seed=True is a mistake, not seed 1
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_))
                             or seed < 0):
        raise ValueError(f"`seed` must be a non-negative integer or None, got {seed!r}")
    return int(np.random.SeedSequence(seed).entropy)


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES}, got {family!r}")


def _check_missing(missing: float) -> None:
    if not (0.0 <= missing < 1.0):
        raise ValueError(f"`missing` must lie in [0, 1), got {missing!r}")


def _check_count(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as a Python int ``>= minimum``, or ValueError naming ``name`` (no silent truncation)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    if not np.isfinite(value) or value != int(value) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_real(value: object, name: str, *, low: float = -np.inf, positive: bool = False) -> float:
    """``value`` as a finite float (``> 0`` if ``positive``, else ``>= low``), or ValueError naming it."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}") from None
    if isinstance(value, (bool, np.bool_, str)) or not np.isfinite(x):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}")
    if positive and not x > 0:
        raise ValueError(f"`{name}` must be > 0, got {value!r}")
    if x < low:
        raise ValueError(f"`{name}` must be >= {low:g}, got {value!r}")
    return x


def _check_eps(eps: float) -> float:
    # a clip window [eps, 1 - eps] is empty for eps >= 1/2 (np.clip then returns 1 - eps for
    # every draw), and a negative eps would let exact 0/1 draws through
    x = _check_real(eps, "eps")
    if not 0.0 <= x < 0.5:
        raise ValueError(f"`eps` must lie in [0, 0.5), got {eps!r}")
    return x


def _beta_params(eta: np.ndarray, mu: np.ndarray, phi: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Shapes ``(mu phi, (1 - mu) phi)`` of the Beta draw, both > 0 whenever ``phi > 0``.

    ``expit(eta)`` rounds to exactly 1 for ``eta > ~37`` (and to 0 below ~-745), which made
    ``rng.beta`` fail with "b <= 0". Where ``1 - mu`` rounds to 0 it is recomputed as
    ``expit(-eta)``; every other cell keeps ``(1 - mu) phi`` bit for bit, so the random stream
    of data that could be simulated before is unchanged. A shape that still underflows
    (``mu phi`` below the smallest double) is set to the smallest positive double: the draw is
    then 0 or 1, the limit of the Beta distribution.
    """
    a = mu * phi
    b = (1.0 - mu) * phi
    zero_b = b == 0.0
    if np.any(zero_b):
        b = np.where(zero_b, expit(-eta) * phi, b)
    tiny = np.finfo(float).smallest_subnormal
    return np.maximum(a, tiny), np.maximum(b, tiny)


def _check_scalars(*, sigma: object, beta: object, a_sdlog: object, d_sd: object, phi_median: object,
                   phi_sdlog: object, d_mean: object = 0.0, eps: object = 0.0, uses_phi: bool = True) -> None:
    """Validate the shared model settings of the simulators, naming the offending argument.

    Without these checks a NaN ``sigma`` gave NaN abilities and responses silently, and a
    non-positive ``phi_median`` or negative SD failed inside numpy ("a <= 0", "scale < 0").
    """
    _check_real(sigma, "sigma", low=0.0)
    beta_arr = np.asarray(beta, dtype=object)
    if beta_arr.shape != (2,):
        raise ValueError(f"`beta` must be (intercept, slope), got {beta!r}")
    for value in beta_arr:
        _check_real(value, "beta")
    _check_real(a_sdlog, "a_sdlog", low=0.0)
    _check_real(d_mean, "d_mean")
    _check_real(d_sd, "d_sd", low=0.0)
    if uses_phi:
        _check_real(phi_median, "phi_median", positive=True)
        _check_real(phi_sdlog, "phi_sdlog", low=0.0)
    _check_eps(eps)


def _trials_array(n_trials: object, n_models: int, n_questions: int, name: str) -> np.ndarray:
    arr = np.asarray(n_trials)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"`{name}` must hold integers >= 1, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"`{name}` must hold integers")
        arr = arr.astype(np.int64)
    if np.any(arr < 1):
        raise ValueError(f"`{name}` must be >= 1")
    if arr.ndim == 0 or arr.shape in ((n_questions,), (n_models, n_questions)):
        return arr.astype(np.int64)
    raise ValueError(
        f"`{name}` must be a scalar or of shape ({n_questions},) or ({n_models}, {n_questions}), "
        f"got {arr.shape}"
    )


def _draw_block(setup: _Setup, start: int, stop: int) -> dict[str, np.ndarray]:
    """Responses of models ``start:stop`` from their per-model streams."""
    n_q = setup.a.size
    qidx_all = np.arange(n_q, dtype=np.int32)
    alpha_phi = setup.phi
    parts: dict[str, list[np.ndarray]] = {"model": [], "question": []}
    value_keys = ["y"] if setup.family in ("beta", "bernoulli") else ["successes", "trials"]
    if setup.keep_p:
        value_keys = value_keys + ["p"]
    for key in value_keys:
        parts[key] = []
    n_clipped = 0
    for i in range(start, stop):
        rng = np.random.default_rng([setup.entropy, 1, i])
        eta = setup.a * setup.theta[i] + setup.d
        mu = expit(eta)
        vals: dict[str, np.ndarray] = {}
        if setup.family == "beta":
            y = rng.beta(*_beta_params(eta, mu, alpha_phi))
            lo, hi = setup.eps, 1.0 - setup.eps
            out_of = (y < lo) | (y > hi)
            n_clipped += int(np.count_nonzero(out_of))
            vals["y"] = np.clip(y, lo, hi)
        elif setup.family == "bernoulli":
            vals["y"] = (rng.random(n_q) < mu).astype(np.float64)
        else:
            nt = setup.n_trials
            trials = nt[i] if nt.ndim == 2 else np.broadcast_to(nt, (n_q,))
            if setup.family == "binomial":
                p = mu
            else:
                p = rng.beta(*_beta_params(eta, mu, alpha_phi))
            vals["successes"] = rng.binomial(trials, p)
            vals["trials"] = np.array(trials, dtype=np.int64)
            if setup.keep_p:
                vals["p"] = p
        if setup.missing > 0.0:
            keep = rng.random(n_q) >= setup.missing
            q = qidx_all[keep]
            vals = {k: v[keep] for k, v in vals.items()}
        else:
            q = qidx_all
        parts["model"].append(np.full(q.size, i, dtype=np.int32))
        parts["question"].append(q)
        for key in value_keys:
            parts[key].append(vals[key])
    out = {k: (np.concatenate(v) if v else np.empty(0)) for k, v in parts.items()}
    out["model"] = out["model"].astype(np.int32, copy=False)
    out["question"] = out["question"].astype(np.int32, copy=False)
    out["_n_clipped"] = np.array(n_clipped)
    return out


def _to_frame(setup: _Setup, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    m = arrays["model"]
    q = arrays["question"]
    data: dict[str, Any] = {
        "model": pd.Categorical.from_codes(m, categories=setup.model_names),
        "question": pd.Categorical.from_codes(q, categories=setup.question_names),
        "benchmark": pd.Categorical.from_codes(setup.bench_codes[q], categories=setup.bench_names),
    }
    for key, val in arrays.items():
        if key not in ("model", "question") and not key.startswith("_"):
            data[key] = val
    return pd.DataFrame(data)


def _simulate_all(setup: _Setup, block: int = 512) -> tuple[pd.DataFrame, int]:
    chunks = [_draw_block(setup, s, min(s + block, setup.n_models)) for s in range(0, setup.n_models, block)]
    keys = [k for k in chunks[0] if not k.startswith("_")]
    merged = {k: np.concatenate([c[k] for c in chunks]) for k in keys}
    n_clipped = int(sum(int(c["_n_clipped"]) for c in chunks))
    return _to_frame(setup, merged), n_clipped


def _benchmark_names(benchmarks: int | str | Sequence[str], allow_count: bool = True) -> list[str]:
    """Benchmark names from a count (``allow_count``), one name (a ``str``) or a sequence of names."""
    if isinstance(benchmarks, str):
        return [benchmarks]  # one name, not its letters
    if isinstance(benchmarks, (int, np.integer)) and not isinstance(benchmarks, (bool, np.bool_)):
        if not allow_count:
            raise ValueError(f"`benchmarks` must be a name or a sequence of names, got the number {benchmarks!r}")
        if benchmarks < 1:
            raise ValueError(f"`benchmarks` must be >= 1 or a sequence of names, got {benchmarks!r}")
        return [f"bench{b}" for b in range(int(benchmarks))]
    if isinstance(benchmarks, (bool, np.bool_)) or not np.iterable(benchmarks):
        what = "a number of benchmarks, a name" if allow_count else "a name"
        raise ValueError(f"`benchmarks` must be {what} or a sequence of names, got {benchmarks!r}")
    names = [str(b) for b in benchmarks]
    if not names:
        raise ValueError("`benchmarks` must be a non-empty sequence of distinct names, got an empty one")
    dup = list(dict.fromkeys(n for n in names if names.count(n) > 1))
    if dup:
        raise ValueError(f"`benchmarks` must be a non-empty sequence of distinct names; repeated: {dup}")
    return names


def _items(
    rng: np.random.Generator,
    bench_codes: np.ndarray,
    bench_names: list[str],
    *,
    irt: str,
    family: str,
    precision: str,
    a_sdlog: float,
    d_mean: float | np.ndarray,
    d_sd: float,
    phi_median: float,
    phi_sdlog: float,
    width: int,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    n_q = bench_codes.size
    if irt == "2pl":
        a = np.exp(rng.normal(0.0, a_sdlog, n_q))
    elif irt == "1pl":
        a = np.ones(n_q)
    else:
        raise ValueError(f"`irt` must be '1pl' or '2pl', got {irt!r}")
    d = d_mean + d_sd * rng.normal(size=n_q)
    if precision == "item":
        phi = phi_median * np.exp(rng.normal(0.0, phi_sdlog, n_q))
    elif precision == "common":
        phi = np.full(n_q, float(phi_median))
    else:
        raise ValueError(f"`precision` must be 'item' or 'common', got {precision!r}")
    if family in ("bernoulli", "binomial"):
        phi = np.full(n_q, np.nan)
    names = [f"q{j:0{width}d}" for j in range(n_q)]
    items = pd.DataFrame(
        {
            "question": names,
            "benchmark": pd.Categorical.from_codes(bench_codes, categories=bench_names),
            "a": a,
            "d": d,
            "b": -d / a,
            "phi": phi,
        }
    )
    return items, a, d, phi


def _split_questions(n_per: Sequence[int]) -> np.ndarray:
    return np.repeat(np.arange(len(n_per)), n_per).astype(np.int64)


def _even_split(n_questions: int, n_bench: int) -> list[int]:
    base, extra = divmod(n_questions, n_bench)
    return [base + (b < extra) for b in range(n_bench)]


def _irt_setup(
    n_models: int,
    n_questions: int,
    family: str,
    irt: str,
    precision: str,
    benchmarks: int | str | Sequence[str],
    family_effects: Sequence[float],
    beta: tuple[float, float],
    sigma: float,
    compute_range: tuple[float, float],
    a_sdlog: float,
    d_mean: float,
    d_sd: float,
    phi_median: float,
    phi_sdlog: float,
    n_trials: object,
    missing: float,
    eps: float,
    seed: int | None,
) -> tuple[_Setup, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    _check_family(family)
    _check_missing(missing)
    n_models = _check_count(n_models, "n_models")
    n_questions = _check_count(n_questions, "n_questions")
    _check_scalars(sigma=sigma, beta=beta, a_sdlog=a_sdlog, d_mean=d_mean, d_sd=d_sd,
                   phi_median=phi_median, phi_sdlog=phi_sdlog, eps=eps,
                   uses_phi=family in ("beta", "beta_binomial"))
    if not np.all(np.isfinite(np.asarray(family_effects, dtype=float))):
        raise ValueError(f"`family_effects` must be finite, got {family_effects!r}")
    lo, hi = compute_range
    if not (0 < lo < hi):
        raise ValueError("`compute_range` must be (low, high) with 0 < low < high")
    entropy = _entropy(seed)
    rng = np.random.default_rng([entropy, 0])
    # --- models
    log_c = rng.uniform(np.log(lo), np.log(hi), n_models)
    center = 0.5 * (np.log(lo) + np.log(hi))
    fam_eff = np.asarray(family_effects, dtype=float)
    if fam_eff.ndim != 1 or fam_eff.size < 1:
        raise ValueError("`family_effects` must be a non-empty sequence (first = reference)")
    fam_names = [f"fam{g}" for g in range(fam_eff.size)]
    fam_codes = rng.integers(0, fam_eff.size, n_models)
    u = rng.normal(size=n_models)
    theta = beta[0] + beta[1] * (log_c - center) + fam_eff[fam_codes] - fam_eff[0] + sigma * u
    width_m = len(str(max(n_models - 1, 1)))
    models = pd.DataFrame(
        {
            "model": [f"m{i:0{width_m}d}" for i in range(n_models)],
            "compute": np.exp(log_c),
            "family": pd.Categorical.from_codes(fam_codes, categories=fam_names),
            "theta": theta,
        }
    )
    # --- items
    bench_names = _benchmark_names(benchmarks)
    if len(bench_names) > n_questions:
        raise ValueError("more benchmarks than questions")
    bench_codes = _split_questions(_even_split(n_questions, len(bench_names)))
    width_q = len(str(max(n_questions - 1, 1)))
    items, a, d, phi = _items(
        rng, bench_codes, bench_names, irt=irt, family=family, precision=precision,
        a_sdlog=a_sdlog, d_mean=d_mean, d_sd=d_sd, phi_median=phi_median,
        phi_sdlog=phi_sdlog, width=width_q,
    )
    nt = None
    if family in ("binomial", "beta_binomial"):
        nt = _trials_array(n_trials, n_models, n_questions, "n_trials")
    # --- truth
    coefs = {"Intercept": float(beta[0]), "log_compute": float(beta[1])}
    for g in range(1, fam_eff.size):
        coefs[f"family[T.{fam_names[g]}]"] = float(fam_eff[g] - fam_eff[0])
    uncentered = dict(coefs)
    uncentered["Intercept"] = float(beta[0] - beta[1] * center)
    truth: dict[str, Any] = {
        "beta": coefs,
        "beta_uncentered": uncentered,
        "sigma": float(sigma),
        "formula": "theta ~ I(log(compute) - log_compute_center) + family",
        "formula_uncentered": "theta ~ log(compute) + family",
        "log_compute_center": float(center),
        "identification": _IDENTIFICATION,
        "family": family,
        "irt": irt,
        "precision": precision,
        "missing": float(missing),
        "seed": seed,
    }
    setup = _Setup(
        theta=theta, a=a, d=d, phi=phi, bench_codes=bench_codes, bench_names=bench_names,
        model_names=models["model"].tolist(), question_names=items["question"].tolist(),
        family=family, n_trials=nt, missing=float(missing), eps=float(eps), entropy=entropy,
    )
    return setup, models, items, truth


# ======================================================================================
# public simulators
# ======================================================================================
def irt(
    n_models: int = 200,
    n_questions: int = 500,
    *,
    family: Literal["beta", "bernoulli", "binomial", "beta_binomial"] = "beta",
    irt: Literal["1pl", "2pl"] = "2pl",
    precision: Literal["item", "common"] = "item",
    benchmarks: int | str | Sequence[str] = 1,
    family_effects: Sequence[float] = (0.0, 0.4, -0.3),
    beta: tuple[float, float] = (0.0, 0.35),
    sigma: float = 0.5,
    compute_range: tuple[float, float] = (1e20, 1e25),
    a_sdlog: float = 0.3,
    d_mean: float = 0.0,
    d_sd: float = 1.5,
    phi_median: float = 15.0,
    phi_sdlog: float = 0.4,
    n_trials: int | np.ndarray = 20,
    missing: float = 0.0,
    eps: float = 1e-9,
    seed: int | None = 0,
) -> Simulation:
    """Simulate a generic IRT data set: models with compute and family, questions in benchmarks.

    Abilities follow ``theta_i = beta[0] + beta[1] * (log(compute_i) - c) + effect[family_i]
    + sigma * u_i`` with ``log(compute)`` uniform on ``log(compute_range)``, ``c`` its
    midpoint, families assigned uniformly at random (the first is the reference, effect 0
    after subtracting ``family_effects[0]``). Items: ``a ~ LogNormal(0, a_sdlog)``
    (``1`` for 1PL), ``d ~ N(d_mean, d_sd^2)``, ``phi ~ phi_median * LogNormal(0, phi_sdlog)``
    (or ``phi_median`` for ``precision="common"``). Questions are split evenly over the
    benchmarks.

    Parameters
    ----------
    n_models, n_questions : int
        Table sizes. Generation is vectorised per model; 2,000 x 10,000 cells take a few
        seconds. For much larger designs use :func:`irt_chunks`.
    family : {"beta", "bernoulli", "binomial", "beta_binomial"}
        Response family (see the module docstring).
    irt : {"1pl", "2pl"}
    precision : {"item", "common"}
    benchmarks : int, str or sequence of str, default 1
        Number of benchmarks (named ``bench0``, ...) or their distinct names; a single string
        is one name.
    family_effects : sequence of float, default (0.0, 0.4, -0.3)
        Ability shift per model family; its length is the number of families.
    beta : (float, float), default (0.0, 0.35)
        Intercept and slope on centred natural-log compute.
    sigma : float, default 0.5
        Residual SD of the latent regression.
    compute_range : (float, float), default (1e20, 1e25)
        Training FLOPs range (log-uniform).
    a_sdlog, d_mean, d_sd, phi_median, phi_sdlog : float
        Item parameter distributions (see above).
    n_trials : int or ndarray, default 20
        Trials per cell for the count families: scalar, shape (n_questions,) or
        (n_models, n_questions).
    missing : float, default 0.0
        Share of cells dropped completely at random (absent rows).
    eps : float, default 1e-9
        Beta draws are clipped to ``[eps, 1 - eps]``, ``0 <= eps < 0.5``: with small
        ``mu*phi`` or ``(1-mu)*phi`` a draw can round to exactly 0 or 1 in float64.
        ``truth["n_clipped"]`` counts them. Where ``expit(eta)`` itself rounds to 1
        (``eta > ~37``) the Beta shape ``(1-mu)*phi`` is taken as ``expit(-eta)*phi``, so the
        draw is 1 (clipped to ``1 - eps``) instead of an error.
    seed : int or None, default 0

    Returns
    -------
    Simulation
        ``responses`` (n_models * n_questions * (1 - missing) rows), ``models`` (``model``,
        ``compute``, ``family``, ``theta``), ``items`` and ``truth``.

    Raises
    ------
    ValueError
        Naming the argument: sizes that are not integers ``>= 1``; ``sigma``, ``a_sdlog``,
        ``d_sd``, ``phi_sdlog`` negative or not finite; ``phi_median <= 0`` (beta families);
        ``beta`` not two finite numbers; non-finite ``family_effects``; ``eps`` outside
        ``[0, 0.5)``; ``missing`` outside ``[0, 1)``; ``n_trials`` not integers ``>= 1`` of a
        valid shape; unknown ``family``, ``irt`` or ``precision``; a negative ``seed``.

    Examples
    --------
    >>> from irsl_stats import simulate
    >>> sim = simulate.irt(n_models=50, n_questions=40, benchmarks=2, seed=1)
    >>> sim.responses.shape, list(sim.responses.columns)
    ((2000, 4), ['model', 'question', 'benchmark', 'y'])
    >>> sim.truth["beta"]["log_compute"]
    0.35
    """
    setup, models, items, truth = _irt_setup(
        n_models, n_questions, family, irt, precision, benchmarks, family_effects, beta,
        sigma, compute_range, a_sdlog, d_mean, d_sd, phi_median, phi_sdlog, n_trials,
        missing, eps, seed,
    )
    responses, n_clipped = _simulate_all(setup)
    truth["n_clipped"] = n_clipped
    return Simulation(responses=responses, models=models, items=items, truth=truth, family=family)


def irt_chunks(
    n_models: int = 200,
    n_questions: int = 500,
    *,
    chunk_size: int = 256,
    **kwargs: Any,
) -> ChunkedSimulation:
    """Like :func:`irt`, but yields the responses in blocks of models.

    For designs too large to hold as one table (e.g. 6,612 models x 37,682 questions =
    249M cells), the returned object holds only the small ``models``/``items``/``truth``
    tables; iterating over it draws the responses of ``chunk_size`` models at a time.
    Because every model has its own random stream, the blocks concatenate to exactly
    ``irt(n_models, n_questions, **kwargs).responses`` whatever the chunk size.

    Parameters
    ----------
    n_models, n_questions : int
    chunk_size : int, default 256
        Models per block; a block has ``chunk_size * n_questions`` rows.
    **kwargs
        Any keyword argument of :func:`irt`.

    Returns
    -------
    ChunkedSimulation
        Iterate for DataFrames, or call ``.iter_arrays()`` for raw int32/float64 arrays.
        ``truth["n_clipped"]`` is not available (None).

    Examples
    --------
    >>> import pandas as pd
    >>> from irsl_stats import simulate
    >>> chunks = simulate.irt_chunks(n_models=10, n_questions=30, chunk_size=4, seed=3)
    >>> [len(block) for block in chunks]
    [120, 120, 60]
    >>> full = simulate.irt(n_models=10, n_questions=30, seed=3).responses
    >>> pd.concat(list(chunks), ignore_index=True).equals(full)
    True
    """
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive integer, got {chunk_size!r}")
    defaults = {
        "family": "beta", "irt": "2pl", "precision": "item", "benchmarks": 1,
        "family_effects": (0.0, 0.4, -0.3), "beta": (0.0, 0.35), "sigma": 0.5,
        "compute_range": (1e20, 1e25), "a_sdlog": 0.3, "d_mean": 0.0, "d_sd": 1.5,
        "phi_median": 15.0, "phi_sdlog": 0.4, "n_trials": 20, "missing": 0.0, "eps": 1e-9,
        "seed": 0,
    }
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"irt_chunks() got unexpected keyword arguments: {sorted(unknown)}")
    args = {**defaults, **kwargs}
    setup, models, items, truth = _irt_setup(
        n_models, n_questions, args["family"], args["irt"], args["precision"],
        args["benchmarks"], args["family_effects"], args["beta"], args["sigma"],
        args["compute_range"], args["a_sdlog"], args["d_mean"], args["d_sd"],
        args["phi_median"], args["phi_sdlog"], args["n_trials"], args["missing"],
        args["eps"], args["seed"],
    )
    truth["n_clipped"] = None
    return ChunkedSimulation(
        models=models, items=items, truth=truth, family=args["family"],
        chunk_size=int(chunk_size), _setup=setup,
    )


def _size_label(params: float) -> str:
    return f"{params / 1e9:g}B" if params >= 1e9 else f"{params / 1e6:g}M"


def pretraining(
    n_recipes: int = 25,
    sizes: Sequence[float] = DATADECIDE_SIZES,
    n_checkpoints: int = 2,
    benchmarks: str | Sequence[str] = OLMES_BENCHMARKS,
    questions_per_benchmark: int = 100,
    *,
    tokens_per_param: float | tuple[float, float] = (20.0, 100.0),
    slope: float = 0.25,
    recipe_sd: float = 0.3,
    noise_sd: float = 0.05,
    benchmark_sd: float = 0.5,
    irt: Literal["1pl", "2pl"] = "2pl",
    precision: Literal["item", "common"] = "item",
    a_sdlog: float = 0.3,
    d_sd: float = 1.5,
    phi_median: float = 15.0,
    phi_sdlog: float = 0.4,
    missing: float = 0.0,
    eps: float = 1e-9,
    seed: int | None = 0,
) -> Simulation:
    """Simulate DataDecide-like pre-training data: recipes x model sizes x checkpoints.

    For each data recipe ``r``, size ``s`` (parameters) and checkpoint ``c = 1..C``:
    ``tokens = (c / C) * tpp_s * params_s`` where ``tpp_s`` is the tokens-per-parameter of
    the final checkpoint of size ``s`` (shared by all recipes, so recipes are compared at
    equal budgets); ``flops = 6 * params * tokens``; ability
    ``theta = effect_r + slope * (log(flops) - c0) + noise_sd * u`` with
    ``effect_r ~ N(0, recipe_sd^2)`` and ``c0`` the midpoint of the simulated log-FLOPs
    range. Responses are Beta (the probability of the correct choice) from a 2PL model with
    per-benchmark difficulty offsets ``~ N(0, benchmark_sd^2)``.

    Parameters
    ----------
    n_recipes : int, default 25
        Number of data recipes (``recipe_00``, ...).
    sizes : sequence of float, default :data:`DATADECIDE_SIZES`
        Distinct model sizes in parameters (the 14 DataDecide sizes, 4M ... 1B); their labels
        (``"4M"``, ``"1B"``, ...) must differ too.
    n_checkpoints : int, default 2
        Evenly spaced checkpoints per run; the last is the final one (``is_final``).
    benchmarks : str or sequence of str, default :data:`OLMES_BENCHMARKS`
        Distinct benchmark names; a single string is one name.
    questions_per_benchmark : int, default 100
    tokens_per_param : float or (float, float), default (20, 100)
        Tokens per parameter at the final checkpoint: a constant, or a range from which
        each size draws a value log-uniformly (DataDecide itself uses 100).
    slope : float, default 0.25
        Ability per unit of natural-log FLOPs.
    recipe_sd, noise_sd, benchmark_sd : float
        SDs of the recipe effects, of the model-level noise and of the benchmark offsets.
    irt, precision, a_sdlog, d_sd, phi_median, phi_sdlog, missing, eps, seed
        As in :func:`irt`.

    Returns
    -------
    Simulation
        ``models`` columns: ``model``, ``recipe``, ``size``, ``params``, ``tokens``,
        ``flops``, ``checkpoint``, ``is_final``, ``theta``. ``truth`` holds
        ``recipe_effects`` (Series), ``slope``, ``log_flops_center``, ``noise_sd`` and
        ``benchmark_offsets``. Use ``sim.expected_scores()`` for the true full-benchmark
        scores.

    Examples
    --------
    >>> from irsl_stats import simulate
    >>> sim = simulate.pretraining(n_recipes=3, n_checkpoints=1, questions_per_benchmark=20)
    >>> len(sim.models), len(sim.items), len(sim.responses)
    (42, 200, 8400)
    >>> bool((sim.models.flops == 6 * sim.models.params * sim.models.tokens).all())
    True
    """
    n_recipes = _check_count(n_recipes, "n_recipes")
    n_checkpoints = _check_count(n_checkpoints, "n_checkpoints")
    questions_per_benchmark = _check_count(questions_per_benchmark, "questions_per_benchmark")
    # noise_sd and slope play sigma and beta here; they are checked under their own names below
    _check_scalars(sigma=0.0, beta=(0.0, 0.0), a_sdlog=a_sdlog, d_sd=d_sd,
                   phi_median=phi_median, phi_sdlog=phi_sdlog, eps=eps)
    _check_real(recipe_sd, "recipe_sd", low=0.0)
    _check_real(noise_sd, "noise_sd", low=0.0)
    _check_real(benchmark_sd, "benchmark_sd", low=0.0)
    _check_real(slope, "slope")
    sizes_arr = np.asarray(sizes, dtype=float)
    if sizes_arr.ndim != 1 or sizes_arr.size < 1 or not np.all(np.isfinite(sizes_arr)) or np.any(sizes_arr <= 0):
        raise ValueError("`sizes` must be a non-empty sequence of positive parameter counts")
    # a repeated size would repeat its models and labels (pandas then fails on the categories)
    dup_sizes = repeated_values(sizes_arr.tolist())
    if dup_sizes:
        raise ValueError(f"`sizes` must be distinct; repeated: {dup_sizes}")
    size_labels = [_size_label(p) for p in sizes_arr]
    dup_labels = repeated_values(size_labels)
    if dup_labels:
        same = {lab: [float(p) for p, q in zip(sizes_arr, size_labels) if q == lab] for lab in dup_labels}
        raise ValueError(f"`sizes` must give distinct size labels (6 significant digits in M or B); "
                         f"these sizes share a label: {same}")
    _check_missing(missing)
    bench_names = _benchmark_names(benchmarks, allow_count=False)
    entropy = _entropy(seed)
    rng = np.random.default_rng([entropy, 0])
    # token budgets per size
    if np.ndim(tokens_per_param) == 0:
        # a non-positive constant gave log(flops) = NaN: NaN abilities and responses, silently
        tpp = np.full(sizes_arr.size, _check_real(tokens_per_param, "tokens_per_param", positive=True))
    else:
        lo, hi = tokens_per_param  # type: ignore[misc]
        if not (0 < lo <= hi < np.inf):
            raise ValueError("`tokens_per_param` range must satisfy 0 < low <= high")
        tpp = np.exp(rng.uniform(np.log(lo), np.log(hi), sizes_arr.size))
    recipe_names = [f"recipe_{r:02d}" for r in range(n_recipes)]
    recipe_eff = rng.normal(0.0, recipe_sd, n_recipes)
    r_idx, s_idx, c_idx = np.meshgrid(
        np.arange(n_recipes), np.arange(sizes_arr.size), np.arange(1, n_checkpoints + 1),
        indexing="ij",
    )
    r_idx, s_idx, c_idx = r_idx.ravel(), s_idx.ravel(), c_idx.ravel()
    params = sizes_arr[s_idx]
    tokens = (c_idx / n_checkpoints) * tpp[s_idx] * params
    flops = 6.0 * params * tokens
    log_f = np.log(flops)
    center = 0.5 * (log_f.min() + log_f.max())
    u = rng.normal(size=r_idx.size)
    theta = recipe_eff[r_idx] + slope * (log_f - center) + noise_sd * u
    models = pd.DataFrame(
        {
            "model": [
                f"{recipe_names[r]}-{size_labels[s]}-ckpt{c}" for r, s, c in zip(r_idx, s_idx, c_idx)
            ],
            "recipe": pd.Categorical.from_codes(r_idx, categories=recipe_names),
            "size": pd.Categorical.from_codes(s_idx, categories=size_labels),
            "params": params,
            "tokens": tokens,
            "flops": flops,
            "checkpoint": c_idx.astype(np.int64),
            "is_final": c_idx == n_checkpoints,
            "theta": theta,
        }
    )
    # items
    offsets = rng.normal(0.0, benchmark_sd, len(bench_names))
    bench_codes = _split_questions([questions_per_benchmark] * len(bench_names))
    n_q = bench_codes.size
    items, a, d, phi = _items(
        rng, bench_codes, bench_names, irt=irt, family="beta", precision=precision,
        a_sdlog=a_sdlog, d_mean=offsets[bench_codes], d_sd=d_sd, phi_median=phi_median,
        phi_sdlog=phi_sdlog, width=len(str(max(n_q - 1, 1))),
    )
    setup = _Setup(
        theta=theta, a=a, d=d, phi=phi, bench_codes=bench_codes, bench_names=bench_names,
        model_names=models["model"].tolist(), question_names=items["question"].tolist(),
        family="beta", n_trials=None, missing=float(missing), eps=float(eps), entropy=entropy,
    )
    responses, n_clipped = _simulate_all(setup)
    truth: dict[str, Any] = {
        "recipe_effects": pd.Series(recipe_eff, index=pd.Index(recipe_names, name="recipe"), name="effect"),
        "slope": float(slope),
        "log_flops_center": float(center),
        "noise_sd": float(noise_sd),
        "tokens_per_param": pd.Series(tpp, index=pd.Index(size_labels, name="size")),
        "benchmark_offsets": pd.Series(offsets, index=pd.Index(bench_names, name="benchmark")),
        "formula": "theta ~ 0 + recipe + I(log(flops) - log_flops_center)",
        "sigma": float(noise_sd),
        "identification": _IDENTIFICATION,
        "family": "beta",
        "irt": irt,
        "precision": precision,
        "missing": float(missing),
        "n_clipped": n_clipped,
        "seed": seed,
    }
    return Simulation(responses=responses, models=models, items=items, truth=truth, family="beta")


def test_time(
    n_models: int = 12,
    n_questions: int = 120,
    benchmarks: str | Sequence[str] = TEST_TIME_BENCHMARKS,
    n_samples: int | np.ndarray = 2560,
    *,
    seed: int | None = 0,
    beta: tuple[float, float] = (0.0, 0.4),
    sigma: float = 0.5,
    compute_range: tuple[float, float] = (1e22, 1e25),
    irt: Literal["1pl", "2pl"] = "2pl",
    precision: Literal["item", "common"] = "item",
    benchmark_offsets: dict[str, float] | None = None,
    difficulty_shift: float = 0.0,
    a_sdlog: float = 0.3,
    d_sd: float = 1.5,
    phi_median: float = 2.0,
    phi_sdlog: float = 0.5,
) -> Simulation:
    """Simulate repeated sampling (test-time scaling): ``k`` correct of ``n`` samples per cell.

    Model ``i`` answers question ``j`` ``n_ij`` times; the per-cell success probability is
    ``p_ij ~ Beta(mu_ij phi_j, (1 - mu_ij) phi_j)`` with ``mu_ij = expit(a_j theta_i + d_j)``
    and the successes ``k_ij ~ Binomial(n_ij, p_ij)`` (a beta-binomial model). Abilities
    follow ``theta_i = beta[0] + beta[1] (log(compute_i) - c) + sigma u_i``. The true
    ``p_ij`` is returned, so the exact pass@k of each model is
    ``mean_j 1 - (1 - p_ij)^k`` (see :meth:`Simulation.pass_at_k_truth`).

    Parameters
    ----------
    n_models : int, default 12
    n_questions : int, default 120
        Split evenly over ``benchmarks``.
    benchmarks : str or sequence of str, default :data:`TEST_TIME_BENCHMARKS`
        Distinct benchmark names; a single string is one name.
    n_samples : int or ndarray, default 2560
        Samples per cell: scalar, shape (n_questions,) or (n_models, n_questions).
    seed : int or None, default 0
    beta, sigma, compute_range, irt, precision, a_sdlog, d_sd
        As in :func:`irt` (no model families).
    benchmark_offsets : dict, optional
        Added to ``d`` per benchmark. Default offsets: aime24 -3.5, aime25 -4.0, mmlu_pro +0.5,
        global_mmlu_lite +1.5 (0 for other names); with them about 55-70% of AIME cells have
        0 successes out of 2,560. A given dict overrides the default of each benchmark it
        names, and the other benchmarks keep theirs (``{"aime24": 0.0}`` changes aime24 only);
        its keys must be names in ``benchmarks`` and its values finite numbers.
    difficulty_shift : float, default 0.0
        Added to every ``d``; negative values make questions harder. With
        ``difficulty_shift=-3`` most cells have 0 successes out of hundreds, as in real
        AIME data (58-78% zero cells).
    phi_median, phi_sdlog : float, default 2.0, 0.5
        Item precision; small values give the U-shaped ``p`` of real sampling data
        (questions a model nearly always or nearly never solves).

    Returns
    -------
    Simulation
        ``responses``: ``model``, ``question``, ``benchmark``, ``successes``, ``trials``,
        ``p``; ``models``: ``model``, ``compute``, ``theta``; ``family="beta_binomial"``.

    Raises
    ------
    ValueError
        Naming the argument, as :func:`irt`; ``benchmark_offsets`` not a dict, with keys that
        are not in ``benchmarks`` (listing them and the benchmarks) or with non-finite values.

    Examples
    --------
    >>> from irsl_stats import simulate
    >>> sim = simulate.test_time(n_models=3, n_questions=8, n_samples=100, seed=2)
    >>> list(sim.responses.columns)
    ['model', 'question', 'benchmark', 'successes', 'trials', 'p']
    >>> truth = sim.pass_at_k_truth([1, 10, 100])
    >>> list(truth.columns), len(truth)
    (['model', 'k', 'pass_at_k'], 9)
    """
    n_models = _check_count(n_models, "n_models")
    n_questions = _check_count(n_questions, "n_questions")
    _check_scalars(sigma=sigma, beta=beta, a_sdlog=a_sdlog, d_sd=d_sd, phi_median=phi_median,
                   phi_sdlog=phi_sdlog)
    _check_real(difficulty_shift, "difficulty_shift")
    bench_names = _benchmark_names(benchmarks, allow_count=False)
    if len(bench_names) > n_questions:
        raise ValueError("more benchmarks than questions")
    entropy = _entropy(seed)
    rng = np.random.default_rng([entropy, 0])
    lo, hi = compute_range
    if not (0 < lo < hi):
        raise ValueError("`compute_range` must be (low, high) with 0 < low < high")
    log_c = rng.uniform(np.log(lo), np.log(hi), n_models)
    center = 0.5 * (np.log(lo) + np.log(hi))
    u = rng.normal(size=n_models)
    theta = beta[0] + beta[1] * (log_c - center) + sigma * u
    width_m = len(str(max(n_models - 1, 1)))
    models = pd.DataFrame(
        {"model": [f"lm{i:0{width_m}d}" for i in range(n_models)], "compute": np.exp(log_c), "theta": theta}
    )
    offs_map = dict(_TEST_TIME_OFFSETS)
    if benchmark_offsets is not None:
        if not isinstance(benchmark_offsets, Mapping):
            raise ValueError(f"`benchmark_offsets` must be a dict of benchmark name to offset, "
                             f"got {benchmark_offsets!r}")
        # a misspelt key (e.g. "AIME24") was silently ignored and left the benchmark's default
        unknown = [k for k in benchmark_offsets if k not in bench_names]
        if unknown:
            raise ValueError(f"`benchmark_offsets` has keys that are not benchmarks of this simulation: "
                             f"{unknown}; the benchmarks are {bench_names}")
        # a given dict overrides the defaults of the benchmarks it names; the others keep theirs
        offs_map.update({k: _check_real(v, f"benchmark_offsets[{k!r}]")
                         for k, v in benchmark_offsets.items()})
    offsets = np.array([offs_map.get(b, 0.0) for b in bench_names], dtype=float)
    bench_codes = _split_questions(_even_split(n_questions, len(bench_names)))
    items, a, d, phi = _items(
        rng, bench_codes, bench_names, irt=irt, family="beta_binomial", precision=precision,
        a_sdlog=a_sdlog, d_mean=offsets[bench_codes] + difficulty_shift, d_sd=d_sd,
        phi_median=phi_median, phi_sdlog=phi_sdlog, width=len(str(max(n_questions - 1, 1))),
    )
    nt = _trials_array(n_samples, n_models, n_questions, "n_samples")
    setup = _Setup(
        theta=theta, a=a, d=d, phi=phi, bench_codes=bench_codes, bench_names=bench_names,
        model_names=models["model"].tolist(), question_names=items["question"].tolist(),
        family="beta_binomial", n_trials=nt, missing=0.0, eps=0.0, entropy=entropy, keep_p=True,
    )
    responses, _ = _simulate_all(setup)
    zero_share = float(np.mean(responses["successes"].to_numpy() == 0))
    truth: dict[str, Any] = {
        "beta": {"Intercept": float(beta[0]), "log_compute": float(beta[1])},
        "beta_uncentered": {"Intercept": float(beta[0] - beta[1] * center), "log_compute": float(beta[1])},
        "sigma": float(sigma),
        "formula": "theta ~ I(log(compute) - log_compute_center)",
        "log_compute_center": float(center),
        "benchmark_offsets": pd.Series(offsets, index=pd.Index(bench_names, name="benchmark")),
        "difficulty_shift": float(difficulty_shift),
        "zero_share": zero_share,
        "identification": _IDENTIFICATION,
        "family": "beta_binomial",
        "irt": irt,
        "precision": precision,
        "seed": seed,
    }
    return Simulation(responses=responses, models=models, items=items, truth=truth, family="beta_binomial")


# pytest would otherwise try to collect `test_time` when a test module imports it by name
test_time.__test__ = False  # type: ignore[attr-defined]


def subsample_counts(
    responses: pd.DataFrame,
    n_samples: int | np.ndarray,
    seed: int | None = 0,
    *,
    successes: str = "successes",
    trials: str = "trials",
) -> pd.DataFrame:
    """Keep ``n_samples`` of each cell's samples, drawn without replacement.

    For a cell with ``k`` successes among ``n`` samples, the successes among ``m`` samples
    drawn without replacement are hypergeometric ``(k, n - k, m)``, exactly what one gets
    by sub-sampling the raw attempts. Used by pass@k studies to forecast from, say, 50 of
    2,560 samples.

    Parameters
    ----------
    responses : pandas.DataFrame, shape (n_cells, ...)
        Long table with count columns: non-negative integers, held in any integer or float
        dtype (numpy or pandas nullable, e.g. ``Int64``) or as Python numbers; no missing
        values.
    n_samples : int or array_like of int, shape () or (n_cells,)
        Samples kept per cell, ``1 <= n_samples <= trials``.
    seed : int or None, default 0
    successes, trials : str
        Column names of the counts.

    Returns
    -------
    pandas.DataFrame, shape (n_cells, ...)
        A copy of ``responses`` with ``successes`` and ``trials`` replaced, each in its
        input dtype (other columns, e.g. the true ``p``, unchanged).

    Raises
    ------
    ValueError
        If a column is missing, counts are missing (NaN/NA) or not non-negative integers,
        ``successes`` exceed ``trials``, ``n_samples`` is not an integer ``>= 1`` (strings and
        booleans included) or exceeds ``trials`` (naming how many rows and their first index
        labels), or ``seed`` is not a non-negative integer or None.

    Examples
    --------
    >>> import pandas as pd
    >>> from irsl_stats.simulate import subsample_counts
    >>> df = pd.DataFrame({"successes": [0, 5, 10], "trials": [10, 10, 10]})
    >>> sub = subsample_counts(df, 4, seed=0)
    >>> sub["trials"].tolist(), sub["successes"].iloc[[0, 2]].tolist()
    ([4, 4, 4], [0, 4])
    """
    for col in (successes, trials):
        if col not in responses.columns:
            raise ValueError(f"column {col!r} not in `responses`")
    k = _count_column(responses, successes)
    n = _count_column(responses, trials)
    if np.any(k > n):
        raise ValueError(f"{int(np.sum(k > n))} rows have {successes} > {trials}: "
                         f"{_row_labels(responses.index, k > n)}")
    _entropy(seed)  # validates `seed`, naming it (numpy says only "expected non-negative integer")
    m = np.asarray(n_samples)
    # strings such as "4" used to be parsed as numbers; booleans are not counts either
    if m.dtype == bool or m.dtype.kind in "USV":
        raise ValueError(f"`n_samples` must hold integers, got {n_samples!r}")
    if not np.issubdtype(m.dtype, np.integer):
        try:
            m_f = np.asarray(m, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"`n_samples` must hold integers, got {n_samples!r}") from None
        if not np.all(np.isfinite(m_f)) or not np.all(m_f == np.round(m_f)):
            raise ValueError(f"`n_samples` must hold integers, got {n_samples!r}")
        # beyond int64 the cast wrapped (a RuntimeWarning, then "must be >= 1, got
        # [-9223372036854775808]"); such values certainly exceed `trials`, which is int64
        m = np.minimum(m_f, 2.0**62)
    elif m.dtype == np.uint64:
        m = np.minimum(m, np.uint64(2**62))
    try:
        m = np.broadcast_to(m.astype(np.int64), k.shape)
    except ValueError:
        raise ValueError(f"`n_samples` must be a scalar or have one value per row ({k.size}), "
                         f"got shape {m.shape}") from None
    if np.any(m < 1):
        raise ValueError(f"`n_samples` must be >= 1, got {np.unique(m[m < 1])[:5].tolist()}")
    over = m > n
    if np.any(over):
        raise ValueError(f"`n_samples` exceeds `{trials}` in {int(over.sum())} rows: "
                         f"{_row_labels(responses.index, over)}")
    rng = np.random.default_rng(seed)
    new_k = rng.hypergeometric(k, n - k, m) if k.size else k.copy()
    out = responses.copy()
    # write back in the input's dtype (numpy or pandas extension, e.g. nullable Int64)
    out[successes] = _like_column(new_k, responses[successes])
    out[trials] = _like_column(m, responses[trials])
    return out


def _row_labels(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    """The first ``limit`` index labels where ``mask`` holds, for error messages."""
    labels = index[np.asarray(mask)].tolist()
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"row labels {labels[:limit]}{more}"


def _count_column(responses: pd.DataFrame, col: str) -> np.ndarray:
    """Column ``col`` of ``responses`` as int64 counts; ValueError naming the bad rows."""
    series = responses[col]
    missing = series.isna().to_numpy()
    if missing.any():
        raise ValueError(f"column {col!r} has missing values (NaN/NA) in {int(missing.sum())} row(s): "
                         f"{_row_labels(responses.index, missing)}")
    dtype = series.dtype
    if dtype == object:  # numbers held as Python objects are fine; strings, booleans are not
        odd = [v for v in series if isinstance(v, (bool, np.bool_))
               or not isinstance(v, (int, float, np.integer, np.floating))]
        if odd:
            raise ValueError(f"column {col!r} must hold non-negative integers, got {odd[0]!r}")
    elif pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise ValueError(f"column {col!r} must hold non-negative integers, got dtype {dtype}")
    if pd.api.types.is_integer_dtype(dtype):
        values = series.to_numpy(dtype=np.int64)
        bad = values < 0
    else:
        values_f = series.to_numpy(dtype=float)
        bad = ~np.isfinite(values_f) | (values_f != np.round(values_f)) | (values_f < 0) | (values_f >= 2.0**62)
        values = np.where(bad, 0.0, values_f).astype(np.int64)
    if bad.any():
        raise ValueError(f"column {col!r} must hold non-negative integers; {int(bad.sum())} row(s) do not: "
                         f"{_row_labels(responses.index, bad)}")
    return values


def _like_column(values: np.ndarray, template: pd.Series) -> Any:
    """``values`` as an array of ``template``'s dtype (numpy or pandas extension dtype)."""
    return pd.Series(values, index=template.index, copy=False).astype(template.dtype).array


# ======================================================================================
# several benchmarks measuring related but different abilities
# ======================================================================================
@dataclass
class CorrelatedBenchmarks:
    """Output of :func:`correlated_benchmarks`.

    Attributes
    ----------
    responses : DataFrame
        Long table ``model, question, benchmark`` and ``y`` (beta / bernoulli) or
        ``successes, trials`` (count families).
    theta : DataFrame, shape (M, B)
        True ability of every model on every benchmark (standard normal margins).
    items : DataFrame, one row per question
        ``benchmark, a, d, phi``; ``phi`` is the precision of the Beta draws for ``beta`` and
        ``beta_binomial``, NaN for ``bernoulli`` and ``binomial`` (no precision; the ``phi``
        argument is not used), as in :func:`irt`.
    corr : DataFrame, shape (B, B)
        The correlation matrix the abilities were drawn from.

    Notes
    -----
    The truth (``theta``, ``items``, :meth:`expected_scores`) is that of the model before the
    clipping of beta responses to ``[1e-6, 1 - 1e-6]`` (see :func:`correlated_benchmarks`).
    """

    responses: pd.DataFrame
    theta: pd.DataFrame
    items: pd.DataFrame
    corr: pd.DataFrame

    def expected_scores(self) -> pd.DataFrame:
        """True expected score (mean of ``mu`` over a benchmark's questions), models x benchmarks."""
        out = {}
        for b in self.corr.index:
            it = self.items[self.items["benchmark"] == b]
            eta = np.outer(self.theta[b].to_numpy(), it["a"].to_numpy()) + it["d"].to_numpy()
            out[b] = expit(eta).mean(axis=1)
        return pd.DataFrame(out, index=self.theta.index)


def correlated_benchmarks(
    n_models: int = 200,
    questions: int | Sequence[int] = 100,
    corr: Any = None,
    *,
    benchmarks: str | Sequence[str] | None = None,
    family: str = "beta",
    phi: float = 20.0,
    n_trials: int = 50,
    seed: int | None = 0,
) -> CorrelatedBenchmarks:
    """Benchmarks whose abilities are correlated but not identical (per-benchmark IRT).

    Model *i* has ability ``theta_ib`` on benchmark *b*, ``theta_i ~ N(0, corr)``; question *j*
    of benchmark *b* has ``eta_ij = a_j theta_ib + d_j`` with ``a_j ~ LogNormal(0, 0.3)``,
    ``d_j ~ N(0, 1)`` and precision ``phi`` (beta, beta-binomial).

    Beta responses are clipped to ``[1e-6, 1 - 1e-6]``: a Beta draw can round to exactly 0 or 1
    in float64 (``mu phi`` or ``(1 - mu) phi`` small), which ``family="beta"`` rejects. The
    returned truth does not include the clipping (it moves a mean by at most ``1e-6``).

    Parameters
    ----------
    n_models : int
    questions : int or sequence of int
        Questions per benchmark.
    corr : array_like, shape (B, B), optional
        Correlation matrix of the abilities (default: three benchmarks, the first two
        correlated 0.95 and both correlated 0.1 with the third).
    benchmarks : str or sequence of str, optional
        Distinct names, one per row of ``corr`` (a single string is one name); default
        ``"bench1", ...``.
    family : {"beta", "bernoulli", "binomial", "beta_binomial"}
    phi : float
        Precision, ``> 0``, of the beta families (reported in ``items`` as given). Not used, not
        checked, and reported as NaN in ``items`` for ``bernoulli`` and ``binomial``.
    n_trials : int
        Trials per (model, question) for the count families, an integer ``>= 1``.
    seed : int or None
        Non-negative integer or None.

    Returns
    -------
    CorrelatedBenchmarks
        Responses (beta responses clipped to ``[1e-6, 1 - 1e-6]``), the true abilities, the
        question parameters (``phi`` NaN for families without a precision) and ``corr``.

    Examples
    --------
    >>> sim = correlated_benchmarks(n_models=50, questions=20, seed=1)
    >>> sim.theta.shape
    (50, 3)
    """
    _check_family(family)
    n_models = _check_count(n_models, "n_models")
    if family in ("beta", "beta_binomial"):
        phi = _check_real(phi, "phi", positive=True)
    if family in ("binomial", "beta_binomial"):
        # numpy's binomial truncates a fractional n, and 0 trials give empty cells
        n_trials = _check_count(n_trials, "n_trials")
    _entropy(seed)  # validates `seed`, naming it
    c = np.array([[1.0, 0.95, 0.1], [0.95, 1.0, 0.1], [0.1, 0.1, 1.0]]) if corr is None else np.asarray(corr, float)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or not np.allclose(c, c.T) or not np.allclose(np.diag(c), 1):
        raise ValueError("corr: a symmetric correlation matrix (unit diagonal) is required")
    if np.linalg.eigvalsh(c).min() < -1e-12:
        raise ValueError("corr: not positive semi-definite")
    n_b = c.shape[0]
    names = ([f"bench{k + 1}" for k in range(n_b)] if benchmarks is None
             else _benchmark_names(benchmarks, allow_count=False))
    if len(names) != n_b:
        raise ValueError(f"benchmarks: {n_b} names needed (corr is {n_b} x {n_b}); got {len(names)}")
    q_list = [questions] * n_b if np.isscalar(questions) else list(questions)  # type: ignore[arg-type]
    if len(q_list) != n_b:
        raise ValueError(f"questions: one positive count per benchmark ({n_b}); got {questions!r}")
    # int() silently truncated 2.5 questions to 2
    n_per = [_check_count(q, "questions") for q in q_list]
    rng = np.random.default_rng(seed)
    vals, vecs = np.linalg.eigh(c)
    root = vecs * np.sqrt(np.maximum(vals, 0.0))
    theta = rng.standard_normal((n_models, n_b)) @ root.T
    bench_of = np.repeat(np.arange(n_b), n_per)
    n_q = len(bench_of)
    a = rng.lognormal(0.0, 0.3, n_q)
    d = rng.normal(0.0, 1.0, n_q)
    eta = theta[:, bench_of] * a + d
    mu = expit(eta)
    model_labels = [f"m{i:04d}" for i in range(n_models)]
    q_labels = [f"{names[b]}/q{j:04d}" for j, b in enumerate(bench_of)]
    frame = {
        "model": pd.Categorical(np.repeat(model_labels, n_q), categories=model_labels),
        "question": pd.Categorical(np.tile(q_labels, n_models), categories=q_labels),
        "benchmark": pd.Categorical(np.tile(np.asarray(names)[bench_of], n_models), categories=names),
    }
    if family in ("beta", "beta_binomial"):
        p = rng.beta(*_beta_params(eta, mu, phi))
    else:
        p = mu
    if family == "beta":
        # a draw can round to exactly 0 or 1, outside the support the beta family accepts
        frame["y"] = np.clip(p, 1e-6, 1 - 1e-6).ravel()
    elif family == "bernoulli":
        frame["y"] = (rng.random(p.shape) < p).astype(float).ravel()
    else:
        frame["successes"] = rng.binomial(n_trials, p).ravel()
        frame["trials"] = np.full(p.size, n_trials)
    # families without a precision report phi as NaN, like irt(): the argument played no part
    phi_true = float(phi) if family in ("beta", "beta_binomial") else np.nan
    items = pd.DataFrame({"benchmark": np.asarray(names)[bench_of], "a": a, "d": d, "phi": phi_true},
                         index=pd.Index(q_labels, name="question"))
    return CorrelatedBenchmarks(
        responses=pd.DataFrame(frame),
        theta=pd.DataFrame(theta, index=pd.Index(model_labels, name="model"), columns=names),
        items=items,
        corr=pd.DataFrame(c, index=names, columns=names),
    )
