"""Questions with D-dimensional abilities: scoring new models and cross-benchmark forecasts.

:class:`MultidimBank` holds calibrated questions with loadings ``A`` (N, D), intercepts ``d`` and
precisions, the benchmark of every question and the latent distribution of the calibration
population. It is what ``irsl.fit(..., dims=D)`` / ``ability="per_benchmark"`` and
``irsl.calibrate(..., dims=D)`` give through ``item_bank()``, and what
:meth:`IRSLResults.forecast` builds from a one-dimensional fit (D = 1).

A forecast of benchmark *T* from responses on other benchmarks is the posterior expectation of
the *T* score given those responses::

    score_T(theta) = mean_{j in T} E[y_j / n_j | theta]    (or the expected pass@k)
    forecast       = E[score_T(theta) | responses on the ``using`` benchmarks]

computed by adaptive Gauss–Hermite quadrature of each model's D-dimensional posterior; the
interval is the ``alpha/2, 1 - alpha/2`` quantiles of ``score_T`` over draws from the normal
approximation of that posterior (the ability's uncertainty; the question parameters are treated
as known — with hundreds of calibration models their uncertainty is small next to the ability's).
With per-benchmark abilities the information flows through their estimated correlation: a
benchmark that correlates weakly with the ``using`` benchmarks gets a forecast near the population
mean and a wide interval.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import special

from ._checks import is_integer
from .data import ResponseData, _fmt_labels
from .families import get_family
from .multidim import MultiItems, MultiPosterior, default_n_quad, posterior_moments
from .passk import _check_budgets_int64, _raw_array

__all__ = ["MultidimBank", "MULTIDIM_SCHEMA", "MULTIDIM_FORMAT_VERSION"]

MULTIDIM_SCHEMA = "irsl_stats.MultidimBank"
MULTIDIM_FORMAT_VERSION = 1


@dataclass
class MultidimBank:
    """Calibrated questions with D-dimensional abilities.

    Attributes
    ----------
    A : ndarray, shape (N, D)
        Loadings (discriminations) per question and dimension.
    d : ndarray, shape (N,)
        Intercepts: ``eta = a_j' theta + d_j``, ``mu = logistic(eta)``.
    log_phi : ndarray, shape (N,)
        Log precisions (0 for families without one).
    family : str
    questions : pandas.Index, length N
    item_benchmark : pandas.Series or None
        Benchmark of each question (indexed by question).
    dim_names : list of str, length D
    population_mean : ndarray, shape (D,)
    population_cov : ndarray, shape (D, D)
        The calibration population's ability distribution (the prior for scored models).
    identification : str
    squeeze_n : float or None
        The ``n`` with which the calibration squeezed beta responses without trials (the number
        of rows of the calibration table, as :attr:`ItemBank.squeeze_n
        <irsl_stats.bank.ItemBank.squeeze_n>`); :meth:`score` and :meth:`forecast` squeeze new
        responses with it. None when unknown (a bank built by hand or read from an older file).
    trials : ndarray of shape (N,) or None
        Number of trials of each question (count families; NaN: unknown), as the ``trials``
        column of an :class:`~irsl_stats.bank.ItemBank`: the default number of trials of the
        observed pass rate that a ``"prediction"`` interval of :meth:`forecast` is for. None when
        unknown.
    converged : bool or None
        Whether the calibration's fit converged, as :attr:`ItemBank.converged
        <irsl_stats.bank.ItemBank.converged>`: set by ``item_bank()`` and :meth:`from_item_bank`,
        saved with the bank; None when unknown (a bank built by hand or read from an older file).
        A bank whose calibration did not converge says so in its ``repr`` and warns when loaded.
    calibration_warnings : tuple of str
        The warnings of the calibration's fit (:attr:`IRSLResults.warnings`), kept and saved with
        the bank, so that a loaded bank still tells what its fit reported.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> sim = irsl.simulate.correlated_benchmarks(n_models=80, questions=15, seed=0)
    >>> res = irsl.fit("ability ~ 1", data=sim.responses, benchmark="benchmark",
    ...                ability="per_benchmark")                              # doctest: +SKIP
    >>> bank = res.item_bank()                                               # doctest: +SKIP
    >>> bank.forecast("bench2", using=responses_on_bench1)                   # doctest: +SKIP
    """

    A: np.ndarray
    d: np.ndarray
    log_phi: np.ndarray
    family: str
    questions: pd.Index
    item_benchmark: Optional[pd.Series]
    dim_names: list
    population_mean: np.ndarray
    population_cov: np.ndarray
    identification: str = ""
    squeeze_n: Optional[float] = None
    trials: Optional[np.ndarray] = None
    converged: Optional[bool] = None
    calibration_warnings: Sequence[str] = ()

    def __post_init__(self) -> None:
        from .data import _check_squeeze_n

        self.squeeze_n = _check_squeeze_n(self.squeeze_n, "None when unknown (the calibration's n)")
        from .bank import _check_calibration_record

        self.converged, self.calibration_warnings = _check_calibration_record(
            self.converged, self.calibration_warnings)
        self._check_parameters()
        if self.trials is not None:
            t = np.asarray(self.trials, dtype=float).reshape(-1)
            if len(t) != len(self.questions):
                raise ValueError(f"trials: one value per question ({len(self.questions)}); got {len(t)}")
            _check_whole_trials(t, self.questions, "trials", allow_nan=True)
            self.trials = t

    def _check_parameters(self) -> None:
        """Shapes, finiteness and a positive definite population covariance, or a ValueError.

        Checked when the bank is built (by hand or from a file): a NaN loading used to build,
        save and load, and fail only when scoring, with a kernel message naming no question; an
        indefinite ``population_cov`` gave scores without a word.
        """
        self.questions = pd.Index(self.questions)
        n = len(self.questions)
        self.A = np.asarray(self.A, dtype=float)
        if self.A.ndim != 2 or self.A.shape[0] != n or self.A.shape[1] < 1:
            raise ValueError(f"A: loadings of shape (questions, dims) = ({n}, D >= 1); got shape {self.A.shape}")
        dims = self.A.shape[1]
        self.d = np.asarray(self.d, dtype=float)
        self.log_phi = np.asarray(self.log_phi, dtype=float)
        for name, arr in (("d", self.d), ("log_phi", self.log_phi)):
            if arr.shape != (n,):
                raise ValueError(f"{name}: one value per question ({n}); got shape {arr.shape}")
        if len(self.dim_names) != dims:
            raise ValueError(f"dim_names: one name per ability dimension ({dims}); got {len(self.dim_names)}")
        bad_a = ~np.isfinite(self.A).all(axis=1)
        for name, bad in (("A (loadings)", bad_a), ("d (intercepts)", ~np.isfinite(self.d)),
                          ("log_phi (log precisions)", ~np.isfinite(self.log_phi))):
            if bad.any():
                raise ValueError(f"{name} must be finite; not so for the question(s) "
                                 f"{_fmt_labels(self.questions[bad])}")
        self.population_mean = np.asarray(self.population_mean, dtype=float)
        self.population_cov = np.asarray(self.population_cov, dtype=float)
        if self.population_mean.shape != (dims,) or not np.all(np.isfinite(self.population_mean)):
            raise ValueError(f"population_mean: {dims} finite value(s), one per ability dimension; got "
                             f"{self.population_mean!r}")
        cov = self.population_cov
        if cov.shape != (dims, dims) or not np.all(np.isfinite(cov)):
            raise ValueError(f"population_cov: a finite ({dims}, {dims}) matrix; got {cov!r}")
        scale = float(np.abs(cov).max()) if cov.size else 0.0
        if np.abs(cov - cov.T).max() > 1e-10 * scale:
            raise ValueError(f"population_cov must be symmetric; got {cov.tolist()}")
        try:
            # the prior of every scored model: an indefinite one is no distribution, and the
            # scores computed with it mean nothing
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            eig = np.linalg.eigvalsh(0.5 * (cov + cov.T))
            raise ValueError(f"population_cov must be positive definite (the calibration population's "
                             f"ability covariance); got {cov.tolist()} with eigenvalues {eig.tolist()}") from None

    @property
    def dims(self) -> int:
        """Number of ability dimensions D."""
        return self.A.shape[1]

    def __len__(self) -> int:
        return len(self.questions)

    def __repr__(self) -> str:
        # one line, as ItemBank's: the dataclass dump printed every loading and intercept
        # (thousands of characters for a few dozen questions)
        dims = f"{self.dims} dimension{'s' if self.dims != 1 else ''} ({_fmt_labels(self.dim_names, 5)})"
        nb = len(self.benchmarks)
        bench = f", {nb} benchmark{'s' if nb != 1 else ''}" if nb else ""
        ident = f", identification={_short_identification(self.identification)!r}" if self.identification else ""
        nc = ", calibration NOT converged" if self.converged is False else ""
        return f"<MultidimBank {self.family}: {len(self)} questions, {dims}{bench}{ident}{nc}>"

    @classmethod
    def from_item_bank(cls, bank) -> "MultidimBank":
        """The one-dimensional :class:`~irsl_stats.bank.ItemBank` as a D = 1 bank.

        Parameters
        ----------
        bank : ItemBank

        Returns
        -------
        MultidimBank
            With ``A`` of shape (N, 1), the bank's calibration population as the prior and its
            :attr:`squeeze_n`, and its calibration's :attr:`converged` and
            :attr:`calibration_warnings`.
        """
        it = bank.items
        bench = it["benchmark"] if "benchmark" in it.columns else None
        mean, sd = bank.population
        # families without a precision (bernoulli, binomial) have no log_phi: the kernel needs a
        # finite array of one value per question (ignored by those families), not NaN
        log_phi = bank._log_phi()
        log_phi = np.zeros(len(it)) if log_phi is None else np.asarray(log_phi, float).copy()
        return cls(
            A=it["a"].to_numpy(float)[:, None].copy(), d=it["d"].to_numpy(float).copy(),
            log_phi=log_phi, family=bank.family, questions=it.index,
            item_benchmark=bench, dim_names=["ability"], population_mean=np.array([mean]),
            population_cov=np.array([[sd**2]]), identification=str(getattr(bank, "identification", "")),
            squeeze_n=getattr(bank, "squeeze_n", None),
            trials=it["trials"].to_numpy(float).copy() if "trials" in it.columns else None,
            # the D = 1 bank is the same calibration: whether it converged must not be lost here
            converged=getattr(bank, "converged", None),
            calibration_warnings=tuple(getattr(bank, "calibration_warnings", ())),
        )

    # ------------------------------------------------------------------ files
    def to_json(self) -> str:
        """The bank as versioned, checksummed JSON (schema ``irsl_stats.MultidimBank``).

        Returns
        -------
        str
            ``{"schema", "version", "sha256", "payload"}`` as :class:`~irsl_stats.ItemBank`
            writes it; :meth:`from_json` reads it back exactly (including the names of the
            question index and of ``item_benchmark``, unknown (NaN) :attr:`trials`, and the
            calibration's :attr:`converged` and :attr:`calibration_warnings` under
            ``"calibration"``, as an ItemBank file keeps them).

        Raises
        ------
        ValueError
            If a parameter was made non-finite (naming the questions) or the population
            covariance not symmetric positive definite since the bank was built.
        """
        from .bank import _enc_float, _enc_floats, _enc_labels, _enc_name, _seal

        # the arrays may have been changed in place since construction: a file that load()
        # would refuse is not written
        self._check_parameters()
        payload = {
            "A": _enc_floats(self.A), "d": _enc_floats(self.d), "log_phi": _enc_floats(self.log_phi),
            "family": self.family, "questions": _enc_labels(self.questions),
            "item_benchmark": None if self.item_benchmark is None else _enc_labels(self.item_benchmark),
            "dim_names": [str(n) for n in self.dim_names],
            "population_mean": _enc_floats(self.population_mean),
            "population_cov": _enc_floats(self.population_cov), "identification": self.identification,
            "squeeze_n": None if self.squeeze_n is None else _enc_float(self.squeeze_n),
            # as ItemBank writes it (older readers ignore the key; older files lack it)
            "calibration": {"converged": self.converged, "warnings": list(self.calibration_warnings)},
        }
        if self.trials is not None:  # only when known: files without it read as before
            payload["trials"] = _enc_floats(self.trials)
        if self.questions.name is not None:  # the index name ("question") was lost in a round trip
            payload["questions_name"] = _enc_name(self.questions.name)
        if self.item_benchmark is not None and self.item_benchmark.name is not None:  # ("benchmark") too
            payload["item_benchmark_name"] = _enc_name(self.item_benchmark.name)
        return _seal(payload, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION)

    def save(self, path) -> None:
        """Write the bank to ``path`` (JSON, written to a temporary name and renamed).

        Parameters
        ----------
        path : str or os.PathLike
        """
        from .bank import _write_atomically

        _write_atomically(path, self.to_json())

    @classmethod
    def from_json(cls, text: str, source: str = "the item-bank text") -> "MultidimBank":
        """Parse the text written by :meth:`to_json`.

        Parameters
        ----------
        text : str
        source : str
            How error messages name the text.

        Returns
        -------
        MultidimBank

        Raises
        ------
        ItemBankFormatError
            Not JSON, another schema, a newer version, a checksum mismatch or a malformed payload.

        Warns
        -----
        IRSLWarning
            If the bank's calibration did not converge (:attr:`converged` False).
        """
        from .bank import _warn_unconverged_calibration

        bank = cls._parse(text, source)
        _warn_unconverged_calibration(bank, stacklevel=3)
        return bank

    @classmethod
    def _parse(cls, text: str, source: str) -> "MultidimBank":
        """The bank in ``text``; :meth:`from_json` and :meth:`load` warn, so the warning names their caller."""
        from .bank import ItemBankFormatError, _calibration_record, _dec_float, _dec_floats, _dec_labels, _unseal

        p = _unseal(text, source, MULTIDIM_SCHEMA, MULTIDIM_FORMAT_VERSION)
        try:
            converged, said = _calibration_record(p)
            questions = _dec_labels(p["questions"])
            # files written before the name was stored lack it: no name, as they were read
            names = {key: p.get(key) for key in ("questions_name", "item_benchmark_name")}
            for key, nm in names.items():
                if nm is not None and not isinstance(nm, (str, int, float, bool)):
                    raise ValueError(f"{key} must be a str/int/float/bool label; got {nm!r}")
            questions.name = names["questions_name"]
            bench = None if p["item_benchmark"] is None else pd.Series(
                np.asarray(_dec_labels(p["item_benchmark"]), dtype=object), index=questions,
                name=names["item_benchmark_name"])
            bank = cls(
                A=_dec_floats(p["A"], 2).reshape(len(questions), -1), d=_dec_floats(p["d"]),
                log_phi=_dec_floats(p["log_phi"]), family=str(p["family"]), questions=questions,
                item_benchmark=bench, dim_names=[str(n) for n in p["dim_names"]],
                population_mean=_dec_floats(p["population_mean"]),
                population_cov=_dec_floats(p["population_cov"], 2), identification=str(p["identification"]),
                # files written before squeeze_n was recorded lack it: unknown (scoring falls back)
                squeeze_n=None if p.get("squeeze_n") is None else _dec_float(p["squeeze_n"]),
                trials=None if p.get("trials") is None else _dec_floats(p["trials"]),
                converged=converged, calibration_warnings=said,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ItemBankFormatError(f"{source} has a malformed payload: {type(e).__name__}: {e}") from e
        n, dims = bank.A.shape
        if not (len(bank.d) == len(bank.log_phi) == n and len(bank.dim_names) == dims
                and bank.population_mean.shape == (dims,) and bank.population_cov.shape == (dims, dims)):
            raise ItemBankFormatError(f"{source} has a malformed payload: inconsistent shapes")
        get_family(bank.family)
        return bank

    @classmethod
    def load(cls, path) -> "MultidimBank":
        """Read a bank written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        MultidimBank

        Raises
        ------
        ItemBankFormatError
            (a ValueError) for a file that is not UTF-8 text, truncated or corrupted, another
            schema, a newer format version or a malformed payload, including parameters that are
            not finite (naming the questions) or a population covariance that is not symmetric
            positive definite.

        Warns
        -----
        IRSLWarning
            If the bank's calibration did not converge (:attr:`converged` False).
        """
        import os

        from .bank import _warn_unconverged_calibration, read_bank_text

        bank = cls._parse(read_bank_text(path), source=f"file {os.fspath(path)!r}")
        _warn_unconverged_calibration(bank, stacklevel=3)
        return bank

    # ------------------------------------------------------------------ helpers
    @property
    def benchmarks(self) -> list:
        """Benchmark labels in order of appearance (empty without labels)."""
        if self.item_benchmark is None:
            return []
        return list(pd.unique(self.item_benchmark))

    def _mask(self, benchmark) -> np.ndarray:
        if benchmark is None:
            return np.ones(len(self), dtype=bool)
        if self.item_benchmark is None:
            raise ValueError(f"the bank has no benchmark labels, so benchmark {benchmark!r} cannot be "
                             "selected; refit with benchmark=<column> (the column of each question's "
                             "benchmark)")
        targets = [benchmark] if np.isscalar(benchmark) else list(benchmark)
        unknown = [b for b in targets if b not in set(self.item_benchmark)]
        if unknown:
            raise ValueError(f"unknown benchmark(s) {unknown}; known: {self.benchmarks}")
        return self.item_benchmark.isin(targets).to_numpy()

    def expected_score(self, theta, benchmark=None) -> np.ndarray:
        """Mean over the questions (of ``benchmark``) of ``logistic(a_j' theta + d_j)``.

        Parameters
        ----------
        theta : array_like, shape (K, D)
        benchmark : label or list of labels, optional

        Returns
        -------
        ndarray, shape (K,)
        """
        th = np.atleast_2d(np.asarray(theta, float))
        if th.shape[1] != self.dims:
            raise ValueError(f"theta: expected shape (K, {self.dims}); got {th.shape}")
        m = self._mask(benchmark)
        return special.expit(th @ self.A[m].T + self.d[m]).mean(axis=1)

    def ability_correlation(self) -> pd.DataFrame:
        """Benchmark x benchmark correlation of abilities in the calibration population.

        For benchmark *b* the ability is the composite ``abar_b' theta`` with ``abar_b`` the mean
        loading of its questions: for per-benchmark abilities the correlation of the abilities
        themselves; for D = 1 all ones.

        Returns
        -------
        DataFrame, shape (B, B)
        """
        if self.item_benchmark is None:
            raise ValueError("the bank has no benchmark labels")
        names = self.benchmarks
        abar = np.vstack([self.A[self._mask(b)].mean(axis=0) for b in names])
        cov = abar @ self.population_cov @ abar.T
        sd = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(sd, sd)
        return pd.DataFrame(corr, index=pd.Index(names, name="benchmark"), columns=pd.Index(names, name="benchmark"))

    # ------------------------------------------------------------------ scoring
    def _posterior(self, responses, *, model, question, response, successes, trials, boundary, n_quad, n_threads):
        from .bank import bank_kernel_data
        from .data import _drop_unused_categories

        # n_quad=2.5 was truncated to 2 and n_quad=True (or 1) put one node at the posterior mode,
        # which has no spread: every SD, se and interval came out 0 without a word
        if n_quad is not None and not is_integer(n_quad, 2):
            raise ValueError(f"n_quad must be an integer >= 2 (nodes per dimension of the posterior "
                             f"quadrature; one node has no spread) or None for the default; got {n_quad!r}")
        response = _response_columns(self.family, response, successes, trials)
        responses = _drop_unused_categories(responses, (model, question))
        rd = ResponseData.from_long(
            responses, model=model, question=question, response=response, successes=successes,
            trials=trials, family=self.family, boundary=boundary,
            # as ItemBank.score: squeezed as the calibration squeezed, whatever the other models
            squeeze_n=self.squeeze_n,
        )
        kd = bank_kernel_data(self.questions, self.family, rd, n_threads)
        k = rd.n_models
        nq = default_n_quad(self.dims) if n_quad is None else n_quad
        post_eval = MultiPosterior(kd, self.dims, nq, n_threads)
        items = MultiItems(self.A, self.d, self.log_phi)
        mean = np.broadcast_to(self.population_mean, (k, self.dims)).copy()
        s_inv = np.linalg.inv(self.population_cov)
        _, logdet = np.linalg.slogdet(self.population_cov)
        mode, neg = post_eval.find_modes(mean.copy(), items, self.log_phi, mean, s_inv)
        nodes, terms, marg, _ = post_eval.evaluate(mode, neg, items, self.log_phi, mean, s_inv, logdet)
        post = np.exp(terms - marg[:, None])
        return rd, nodes, post

    def score(
        self,
        responses: pd.DataFrame,
        *,
        model: str = "model",
        question: str = "question",
        response: Optional[str] = "y",
        successes: Optional[str] = None,
        trials: Optional[str] = None,
        boundary: str = "error",
        n_quad: Optional[int] = None,
        n_threads: Optional[int] = None,
    ) -> pd.DataFrame:
        """Posterior means and SDs of the D abilities of (new) models from their responses.

        Parameters
        ----------
        responses : DataFrame
            Long table, one row per (model, question) — bank questions only (others are listed in
            the error).
        model, question, response, successes, trials : str
            Column names as in :func:`irsl_stats.fit` (counts: ``successes=``, ``trials=``).
        boundary : {"error", "squeeze", "clip"}
            Beta responses at 0 or 1 (``"squeeze"`` with the calibration's ``n``,
            :attr:`squeeze_n`, as :meth:`ItemBank.score`; a bank without it uses the number of
            rows of the table, and a model's result then depends on the other models in it).
        n_quad : int, optional
            Nodes per dimension of the adaptive product Gauss–Hermite rule, an integer >= 2
            (default :func:`~irsl_stats.multidim.default_n_quad`).
        n_threads : int or None
            Kernel threads.

        Returns
        -------
        DataFrame indexed by model
            ``theta_<dim>``, ``se_<dim>`` for each dimension, ``n`` (responses used).

        Examples
        --------
        >>> bank = res.item_bank()                                   # doctest: +SKIP
        >>> bank.score(new_responses)                                # doctest: +SKIP
        """
        rd, nodes, post = self._posterior(
            responses, model=model, question=question, response=response, successes=successes,
            trials=trials, boundary=boundary, n_quad=n_quad, n_threads=n_threads)
        mean, cov = posterior_moments(nodes, post)
        out = {}
        for k, nm in enumerate(self.dim_names):
            out[f"theta_{nm}"] = mean[:, k]
        for k, nm in enumerate(self.dim_names):
            out[f"se_{nm}"] = np.sqrt(np.maximum(cov[:, k, k], 0.0))
        out["n"] = np.diff(rd.model_ptr)
        frame = pd.DataFrame(out, index=rd.model_labels)
        frame.index.name = model
        return frame

    def forecast(
        self,
        target,
        using: pd.DataFrame,
        *,
        ks: Optional[Sequence[int]] = None,
        target_questions: Optional[Sequence] = None,
        model: str = "model",
        question: str = "question",
        response: Optional[str] = "y",
        successes: Optional[str] = None,
        trials: Optional[str] = None,
        boundary: str = "error",
        alpha: float = 0.05,
        interval: str = "confidence",
        n_draws: int = 1000,
        seed: int = 0,
        n_quad: Optional[int] = None,
        n_threads: Optional[int] = None,
        target_trials=None,
    ) -> pd.DataFrame:
        """Forecast the score on ``target`` from responses on other benchmarks.

        Parameters
        ----------
        target : label or list of labels
            Benchmark(s) whose calibrated questions define the score (not None).
        using : DataFrame
            Long responses of the models to forecast (bank questions; usually of benchmarks other
            than ``target``). Column names as in :func:`irsl_stats.fit`.
        model, question, response, successes, trials : str
            Column names of ``using`` as in :func:`irsl_stats.fit`.
        boundary : {"error", "squeeze", "clip"}
            Beta responses at 0 or 1 (``"squeeze"`` with the calibration's ``n``,
            :attr:`squeeze_n`, as :meth:`ItemBank.score`; a bank without it uses the number of
            rows of the table, and a model's result then depends on the other models in it).
        n_quad : int, optional
            Nodes per dimension of the posterior quadrature, an integer >= 2.
        n_threads : int or None
            Kernel threads.
        ks : sequence of int, optional
            Forecast the mean pass@k over the target questions instead of the mean pass rate:
            the Beta expectation ``1 - B(alpha, beta + k)/B(alpha, beta)`` for the beta and
            beta-binomial families, ``1 - (1 - mu)^k`` for binomial / bernoulli.
        target_questions : sequence of labels, optional
            Average over these questions of ``target`` only (e.g. the problems a model was
            actually evaluated on, to compare with its observed mean).
        alpha : float
            The interval is ``1 - alpha``.
        interval : {"confidence", "prediction"}
            ``"confidence"``: for the expected score ``mean_j mu_j(theta)`` (the ability's
            uncertainty only). ``"prediction"``: for the score a model would actually obtain —
            each draw of the ability also draws every target question's success probability
            ``p_j ~ Beta(mu_j phi_j, (1 - mu_j) phi_j)`` (beta, beta-binomial), as an observed
            benchmark score or pass rate varies; for bernoulli it draws one 0/1 answer per
            question, and with ``ks`` one set of k answers per question (passed with probability
            ``1 - (1 - mu_j)^k``). For binomial and beta-binomial it draws the successes
            ``c_j ~ Binomial(n_j, p_j)`` out of the ``n_j`` trials of ``target_trials`` (``p_j =
            mu_j`` for binomial) and takes the observed pass rate ``mean_j c_j / n_j``, or with
            ``ks`` the unbiased pass@k estimate :func:`~irsl_stats.pass_at_k` ``(n_j, c_j, k)``
            (for ``k > n_j`` no such estimate exists: that question then contributes
            ``1 - (1 - p_j)^k``, the spread of ``p_j`` only). ``median`` then is the predictive
            median. Use it to compare with observed scores.
        target_trials : int, array_like or Series, optional
            Trials ``n_j`` per target question of the observed pass rate that a count family's
            (binomial, beta-binomial) ``"prediction"`` interval is for: one whole number >= 1 for
            every question, an array with one per target question (in the order of
            ``target_questions`` if given, else of the bank), or a Series indexed by question.
            Default: the bank's :attr:`trials`. Not used by ``"confidence"`` (the expected score
            does not depend on the trials) nor by the other families.
        n_draws, seed : draws (an integer >= 10) of the ability from the normal approximation of
            its posterior, for the interval (seeded: the result is reproducible). ``seed`` is a
            non-negative integer or None; each model draws from a stream of its own keyed by
            ``seed`` and its label, so its interval does not depend on which other models are
            forecast in the same call, nor on their order.

        Returns
        -------
        DataFrame
            Without ``ks``: one row per model (index) with ``score`` (posterior mean), ``se``
            (posterior SD of the score), ``median`` (posterior median: the point forecast that
            minimises the expected absolute error, robust when the score is a steep function of
            the ability), ``lower``, ``upper`` and ``n_using`` (responses used).
            With ``ks``: tidy rows ``model, k, pass_at_k, se, median, lower, upper``.

        Raises
        ------
        ValueError
            For an unknown benchmark (listing the known ones), ``target=None``, ``target`` /
            ``target_questions`` that select no question, target questions not in the bank or not in ``target``,
            ``ks`` that are not integers >= 1 (or are >= 2**63), or an invalid ``alpha``,
            ``interval``, ``n_draws`` or ``n_quad``; for a count family's ``"prediction"``
            interval without trials (no ``target_trials`` and none in the bank, naming the
            questions) or with ``target_trials`` that are not whole numbers >= 1 (naming the
            questions); for ``target_trials`` given with ``"confidence"`` or a family without
            trials.

        Examples
        --------
        >>> res.item_bank().forecast("MATH", using=gsm8k_counts,     # doctest: +SKIP
        ...                          successes="k", trials="n")
        """
        from .bank import _label_stream_key
        from .results import check_alpha
        from .simulate import _entropy

        alpha = check_alpha(alpha)
        # a float (10.5) failed inside numpy with a TypeError that named no argument
        if not is_integer(n_draws, 10):
            raise ValueError(f"n_draws must be an integer >= 10; got {n_draws!r}")
        if interval not in ("confidence", "prediction"):
            raise ValueError(f"interval must be 'confidence' or 'prediction'; got {interval!r}")
        _check_target(target)
        mask = self._mask(target)
        if target_questions is not None:
            pos = self.questions.get_indexer(pd.Index(target_questions))
            if (pos < 0).any():
                from .bank import _unknown_message

                raise ValueError(_unknown_message(list(pd.Index(target_questions)[pos < 0])))
            sub = np.zeros(len(self), dtype=bool)
            sub[pos] = True
            if (sub & ~mask).any():
                raise ValueError(f"target_questions: {int((sub & ~mask).sum())} question(s) are not "
                                 f"in the target benchmark(s) {target!r}")
            mask = sub
        if not mask.any():
            # a mean over no questions is NaN for every model; say so instead of returning it
            raise ValueError(f"no target questions: target={target!r}"
                             + (" with target_questions=[]" if target_questions is not None else "")
                             + f" selects none of the bank's questions (benchmarks: {self.benchmarks})")
        k_list = None
        if ks is not None:
            # np.asarray([1, True]) is [1, 1]: a boolean budget became k = 1 without a word
            k_arr = _raw_array(ks, "ks", "integer")
            k_flt = k_arr.astype(float) if k_arr.dtype.kind in "biuf" else None
            # checked before the cast: int64 would silently truncate k = 2.5 to 2
            if (k_flt is None or k_arr.dtype == bool or k_arr.ndim != 1 or k_arr.size == 0
                    or not np.all(np.isfinite(k_flt)) or np.any(k_flt != np.round(k_flt))
                    or np.any(k_flt < 1)):
                raise ValueError(f"ks: a non-empty one-dimensional sequence of integers >= 1; got {ks!r}")
            # checked before the cast too: 1e19 would wrap to a negative int64 and fail later as
            # "`k` must be finite and > 0"
            _check_budgets_int64(k_flt, "ks")
            k_list = k_flt.astype(np.int64)
        entropy = _entropy(seed)  # validates `seed`, naming it (numpy's message does not)
        n_t = self._target_trials(target_trials, mask, target_questions, interval)
        rd, nodes, post = self._posterior(
            using, model=model, question=question, response=response, successes=successes,
            trials=trials, boundary=boundary, n_quad=n_quad, n_threads=n_threads)
        mean, cov = posterior_moments(nodes, post)
        a_t, d_t, lp_t = self.A[mask], self.d[mask], self.log_phi[mask]
        n_models, n_nodes = nodes.shape[0], nodes.shape[1]
        # Every model draws from a stream of its own, keyed by (seed, its label): drawn from one
        # shared stream, a model's interval depended on the other models in the call and on
        # their order, so "seeded" was reproducible only for the identical batch.
        rngs = [np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(_label_stream_key(lab),)))
                for lab in rd.model_labels]
        draws = np.empty((n_models, n_draws, self.dims))
        for i in range(n_models):
            vals, w = np.linalg.eigh(cov[i])
            root = w * np.sqrt(np.maximum(vals, 0.0))
            draws[i] = mean[i] + rngs[i].standard_normal((n_draws, self.dims)) @ root.T
        # The expected scores of all models at once: one (tabulated, see _expected_score_at)
        # evaluation instead of two per model, and one pass over the budgets instead of one per k
        n_k = () if k_list is None else (len(k_list),)
        points = [nodes.reshape(-1, self.dims)]
        if interval == "confidence":
            points.append(draws.reshape(-1, self.dims))
        s_all = self._expected_score_at(np.concatenate(points), a_t, d_t, lp_t, k_list)
        s_nodes_all = s_all[: n_models * n_nodes].reshape((n_models, n_nodes) + n_k)
        if interval == "confidence":
            s_draws_all = s_all[n_models * n_nodes:].reshape((n_models, n_draws) + n_k)
        lo_q, hi_q = alpha / 2, 1 - alpha / 2
        rows = []
        for i in range(rd.n_models):
            s_nodes = s_nodes_all[i]  # (Q,) or (Q, K)
            if interval == "confidence":
                s_draws = s_draws_all[i]
            else:
                s_draws = self._score_at(draws[i], a_t, d_t, lp_t, k_list, rng=rngs[i], n_t=n_t)
            point = post[i] @ s_nodes
            sd = np.sqrt(np.maximum(post[i] @ s_nodes**2 - point**2, 0.0))
            lower, median, upper = np.quantile(s_draws, [lo_q, 0.5, hi_q], axis=0)
            rows.append((rd.model_labels[i], point, sd, lower, upper, int(rd.model_ptr[i + 1] - rd.model_ptr[i]),
                         median))
        if k_list is None:
            out = pd.DataFrame(
                {"score": [float(r[1]) for r in rows], "se": [r[2] for r in rows],
                 "median": [float(r[6]) for r in rows], "lower": [r[3] for r in rows],
                 "upper": [r[4] for r in rows], "n_using": [r[5] for r in rows]},
                index=pd.Index([r[0] for r in rows], name=model),
            )
            return out
        frames = [pd.DataFrame({"model": r[0], "k": k_list, "pass_at_k": r[1], "se": r[2], "median": r[6],
                                "lower": r[3], "upper": r[4]}) for r in rows]
        return pd.concat(frames, ignore_index=True)

    def _target_trials(self, target_trials, mask: np.ndarray, target_questions, interval: str):
        """Trials (Nt,) of the target questions, in bank order, for the prediction draws.

        None when the draws need none (a confidence interval, a family without trials).
        """
        counts = get_family(self.family).uses_counts
        if target_trials is not None and (not counts or interval != "prediction"):
            why = (f"family {self.family!r} has no trials" if not counts else
                   'the "confidence" interval is for the expected score, which does not depend on trials')
            raise ValueError(f"target_trials is used only by the \"prediction\" interval of the count families "
                             f"(binomial, beta_binomial): {why}; drop target_trials")
        if not counts or interval != "prediction":
            return None
        labels = self.questions[mask]
        if target_trials is None:
            if self.trials is None:
                raise ValueError(
                    f"a {self.family} \"prediction\" interval is for an observed pass rate of successes "
                    "out of trials, and the bank records no trials: pass target_trials= (the trials per "
                    "target question of the pass rate to compare with), or use interval=\"confidence\"")
            t = self.trials[mask]
            unknown = ~np.isfinite(t)
            if unknown.any():
                raise ValueError(f"the bank's trials are unknown (NaN) for the target question(s) "
                                 f"{_fmt_labels(labels[unknown])}: pass target_trials=")
            return t
        if isinstance(target_trials, pd.Series):
            if target_trials.index.has_duplicates:
                dup = target_trials.index[target_trials.index.duplicated()].unique()
                raise ValueError(f"target_trials: duplicated question label(s) {_fmt_labels(dup)}")
            pos = target_trials.index.get_indexer(labels)
            if (pos < 0).any():
                raise ValueError(f"target_trials has no value for the target question(s) "
                                 f"{_fmt_labels(labels[pos < 0])}; a Series is aligned by question label")
            t = pd.to_numeric(target_trials, errors="coerce").to_numpy(float)[pos]
        else:
            arr = np.asarray(target_trials)
            if arr.dtype.kind not in "biuf" or arr.dtype == bool or arr.ndim > 1:
                raise ValueError(f"target_trials: a whole number >= 1, an array of them or a Series "
                                 f"indexed by question; got {target_trials!r}")
            arr = arr.astype(float)
            if arr.ndim == 0:
                t = np.full(int(mask.sum()), float(arr))
            else:
                # in the order the caller listed the questions: target_questions, else the bank's
                order = (pd.Index(target_questions) if target_questions is not None else labels)
                if len(arr) != len(order):
                    raise ValueError(f"target_trials: one value per target question ({len(order)}, in the "
                                     f"order of {'target_questions' if target_questions is not None else 'the bank'}); "
                                     f"got {len(arr)}")
                if order.has_duplicates:
                    raise ValueError("target_trials as an array needs target_questions without duplicates; "
                                     "pass a Series indexed by question")
                t = arr[order.get_indexer(labels)]
        _check_whole_trials(t, labels, "target_trials", allow_nan=False)
        return t

    def _score_at(self, thetas, a_t, d_t, lp_t, ks, rng=None, n_t=None) -> np.ndarray:
        """Target score at ability points ``thetas`` (S, D): (S,) mean pass rate, or (S, K)
        mean pass@k. With ``rng``: a draw of the observed score (each question's success
        probability drawn around its mean, and for the count families its successes out of the
        trials ``n_t`` (Nt,)) instead of its expectation."""
        if rng is None:
            return self._expected_score_at(thetas, a_t, d_t, lp_t, ks)
        mu = special.expit(thetas @ a_t.T + d_t)  # (S, Nt)
        if rng is not None:
            fam = get_family(self.family)
            if self.family == "bernoulli":
                # an observed bernoulli score is a 0/1 answer per question, and an observed pass@k
                # one set of k answers per question: passed with probability 1 - (1 - mu)^k.
                # (Drawing the 0/1 answer first and then taking 1 - (1 - answer)^k gave the
                # answer itself, the pass@1 interval for every k.) One uniform per question for
                # every k: the attempt sets are nested, so a draw's pass@k cannot fall as k grows
                u = rng.random(mu.shape)
                if ks is None:
                    return (u < mu).mean(axis=1)
                with np.errstate(divide="ignore"):  # mu = 1: log1p(-1) = -inf, pass@k = 1 exactly
                    return np.column_stack([(u < -np.expm1(int(k) * np.log1p(-mu))).mean(axis=1)
                                            for k in ks])
            if fam.has_precision:
                phi = np.exp(lp_t)
                p = rng.beta(np.maximum(mu * phi, 1e-300), np.maximum((1 - mu) * phi, 1e-300))
            else:  # binomial: every question's success probability is mu itself
                p = mu
            if fam.uses_counts:
                # an observed pass rate is c successes out of n trials: without drawing c the
                # binomial interval was the confidence interval, and both count intervals missed
                # observed rates far more often than alpha. One c per question for every k: the
                # unbiased pass@k of the same c cannot fall as k grows
                if n_t is None:
                    raise ValueError("internal: count-family draws need the trials of the target questions")
                n_i = np.broadcast_to(n_t.astype(np.int64), p.shape)
                c = rng.binomial(n_i, np.clip(p, 0.0, 1.0))
                if ks is None:
                    return (c / n_i).mean(axis=1)
                from .passk import pass_at_k

                cols = []
                for k in ks:
                    with np.errstate(divide="ignore"):  # p = 1: log1p(-1) = -inf, pass@k = 1 exactly
                        # k > n: no observed estimate exists, the question keeps p's spread only
                        pk = -np.expm1(int(k) * np.log1p(-np.minimum(p, 1.0)))
                    ok = n_i >= int(k)
                    if ok.any():
                        pk[ok] = pass_at_k(n_i[ok], c[ok], int(k))
                    cols.append(pk.mean(axis=1))
                return np.column_stack(cols)
            if ks is None:
                return p.mean(axis=1)
            with np.errstate(divide="ignore"):  # p = 1: log1p(-1) = -inf, pass@k = 1 exactly
                return np.column_stack([(-np.expm1(int(k) * np.log1p(-np.minimum(p, 1.0)))).mean(axis=1)
                                        for k in ks])

    def _expected_score_at(self, thetas, a_t, d_t, lp_t, ks) -> np.ndarray:
        """Expected target score at ability points ``thetas`` (S, D): (S,) or (S, K) with ``ks``.

        With ``ks``, when the target loadings ``a_t`` are all multiples of one direction ``v``
        (one ability dimension drives every target question: D = 1, or per-benchmark abilities
        with one benchmark as target), the score is a function of ``z = theta' v`` alone; it is
        then tabulated on a 1-D grid and interpolated (:func:`_tabulated_curve`, error at most
        :data:`_TABLE_TOL` = 1e-7 on pass@k, checked), instead of evaluated at every one of
        the ``S`` points. Otherwise the points are evaluated in chunks, all budgets per call.
        """
        thetas = np.asarray(thetas, dtype=float)
        if ks is None:
            out = np.empty(len(thetas))
            # small chunks (~2 MB): the cheap logistic is memory-bound, faster when cache-resident
            step = max(1, (_CHUNK // 8) // max(len(d_t), 1))
            for s0 in range(0, len(thetas), step):
                out[s0:s0 + step] = special.expit(thetas[s0:s0 + step] @ a_t.T + d_t).mean(axis=1)
            return out
        ks = np.asarray(ks, dtype=np.int64)
        phi_t = np.exp(lp_t) if get_family(self.family).has_precision else None
        v = _common_direction(a_t)
        if v is None or len(thetas) < _TABLE_MIN_POINTS:
            return _mean_passk(thetas @ a_t.T, d_t, phi_t, ks)
        z = thetas @ v
        lam = (a_t @ v)[None, :]
        curve = _tabulated_curve(lambda zz: _mean_passk(zz[:, None] * lam, d_t, phi_t, ks),
                                 float(z.min()), float(z.max()), len(ks))
        if curve is None:  # not smooth enough to tabulate within the tolerance: every point
            return _mean_passk(thetas @ a_t.T, d_t, phi_t, ks)
        return curve(z)


#: Elements (points x questions x budgets) per pass@k evaluation: bounds the memory (~16 MB of
#: float64) of forecasting many models with many budgets at once.
_CHUNK = 1 << 21
#: Bound on the interpolation error of a tabulated pass@k curve (pass@k is in [0, 1]). The Monte
#: Carlo error of an interval end from 1,000 draws is ~1e-3 of the score's SD, and the
#: point forecast is reported to ~1e-6 (the posterior quadrature): 1e-7 changes neither.
_TABLE_TOL = 1e-7
#: Nodes at which tabulation gives up (the curve is then evaluated at every point instead).
_TABLE_MAX = 1 << 12
#: Fewer points than this are evaluated directly: tabulating would cost as much.
_TABLE_MIN_POINTS = 512


def _common_direction(a_t: np.ndarray) -> Optional[np.ndarray]:
    """Unit vector ``v`` with every row of ``a_t`` a multiple of it (to rounding), else None."""
    norms = np.linalg.norm(a_t, axis=1)
    j = int(np.argmax(norms))
    if norms[j] == 0.0:
        # no loading at all: the score does not depend on the ability; any direction will do
        v = np.zeros(a_t.shape[1])
        v[0] = 1.0
        return v
    v = a_t[j] / norms[j]
    resid = a_t - np.outer(a_t @ v, v)
    return v if np.abs(resid).max() <= 1e-12 * norms[j] else None


def _mean_passk(lin: np.ndarray, d_t: np.ndarray, phi_t: Optional[np.ndarray], ks: np.ndarray) -> np.ndarray:
    """Mean over questions of the expected pass@k at ``mu = logistic(lin + d_t)``: (S, K).

    ``lin`` (S, Nt) is the ability part ``a_j' theta`` of the linear predictor; ``phi_t`` (Nt,)
    the precisions (beta families: Beta-expected pass@k) or None (plug-in ``1 - (1 - mu)^k``).
    All budgets in one :func:`~irsl_stats.passk.beta_pass_at_k_grid` call per chunk of points
    (the per-k loop recomputed the Beta-function terms for every k).
    """
    from .passk import beta_pass_at_k_grid, plugin_pass_at_k

    n_s, n_t = lin.shape
    out = np.empty((n_s, len(ks)))
    step = max(1, _CHUNK // max(n_t * len(ks), 1))
    kf = ks.astype(float)
    for s0 in range(0, n_s, step):
        mu = special.expit(lin[s0:s0 + step] + d_t)
        if phi_t is not None:
            pk = beta_pass_at_k_grid(mu.ravel(), np.broadcast_to(phi_t, mu.shape).ravel(), kf)
            out[s0:s0 + step] = pk.reshape(mu.shape + (len(ks),)).mean(axis=1)
        else:
            out[s0:s0 + step] = np.asarray(plugin_pass_at_k(mu[..., None], kf)).mean(axis=1)
    return out


def _tabulated_curve(f, lo: float, hi: float, n_out: int):
    """Cubic-spline interpolant of the curve ``f`` (G,) -> (G, n_out) on ``[lo, hi]``, or None.

    The grid starts at 17 equally spaced nodes and is doubled until the spline through the
    nodes is within :data:`_TABLE_TOL` of ``f`` at every midpoint (checked exactly); the
    returned spline then runs through the nodes and those midpoints (twice as fine, so its
    error is smaller still: ~1/16 for a smooth curve). None when :data:`_TABLE_MAX` nodes do
    not reach the tolerance: the caller evaluates ``f`` at its points instead.
    """
    from scipy.interpolate import CubicSpline

    if not hi > lo:  # all points at one ability: nothing to interpolate
        val = f(np.array([lo]))[0]
        return lambda z: np.broadcast_to(val, (len(z), n_out)).copy()
    grid = np.linspace(lo, hi, 17)
    vals = f(grid)
    while True:
        mid = 0.5 * (grid[1:] + grid[:-1])
        vmid = f(mid)
        err = np.abs(CubicSpline(grid, vals, axis=0)(mid) - vmid).max()
        fine = np.empty(2 * len(grid) - 1)
        fine[0::2], fine[1::2] = grid, mid
        fvals = np.empty((len(fine), n_out))
        fvals[0::2], fvals[1::2] = vals, vmid
        if err <= _TABLE_TOL:
            spline = CubicSpline(fine, fvals, axis=0)
            return lambda z: np.clip(spline(np.clip(z, lo, hi)), 0.0, 1.0)
        if len(fine) > _TABLE_MAX:
            return None
        grid, vals = fine, fvals


def forecast_for_fit(bank: MultidimBank, rd: ResponseData, target, using, kwargs: dict) -> pd.DataFrame:
    """:meth:`MultidimBank.forecast` for a fit (one- or multidimensional results): column names
    default to the fit's, and ``using=None`` takes the fit's own responses on every benchmark
    except ``target``.

    With ``using=None`` the responses are exactly those the fit modelled: beta responses after
    the fit's boundary policy (a fit with ``boundary="squeeze"`` or ``"clip"`` forecasts from its
    adjusted values, and ``boundary=`` and column names in ``kwargs`` do not apply). Rows the
    fit weighted 0 are left out; other observation weights are not applied (every response
    counts once).

    For the count families the bank's trials (the default of ``target_trials``, the trials of
    the observed pass rate a ``"prediction"`` interval is for) are each question's median number
    of trials in the fit's data (:meth:`ResponseData.median_trials`, recorded by the fit's
    ``item_bank()``).

    Parameters
    ----------
    bank : MultidimBank
        The fit's questions.
    rd : ResponseData
        The fit's responses.
    target, using, kwargs : as in :meth:`MultidimBank.forecast`.

    Returns
    -------
    DataFrame
        As :meth:`MultidimBank.forecast`.
    """
    cols = rd.columns
    opts = dict(kwargs)
    if using is not None:
        keys = ["model", "question"]
        # the fit's response columns are defaults for the user's, not additions to them: a fit's
        # successes / trials filled in next to the user's response= took precedence over it (the
        # forecast silently used the counts, or asked for count columns the user never named)
        user_response = opts.get("response") is not None
        user_counts = opts.get("successes") is not None or opts.get("trials") is not None
        if user_response and user_counts:
            raise ValueError(_both_message(opts["response"], opts.get("successes"), opts.get("trials")))
        if not user_counts:
            keys.append("response")
        if not user_response:
            keys += ["successes", "trials"]
        for key in keys:
            if key not in opts and cols.get(key) is not None:
                opts[key] = cols[key]
        return bank.forecast(target, using, **opts)
    if rd.item_benchmark is None:
        raise ValueError("the fit has no benchmark labels: pass using= explicitly")
    _check_target(target)
    bank._mask(target)  # an unknown benchmark is an error before anything is read or warned about
    targets = [target] if np.isscalar(target) else list(target)
    keep_items = rd.item_benchmark[~rd.item_benchmark.isin(targets)].index
    keep = np.asarray(rd.item_labels.take(rd.item).isin(keep_items))
    if rd.weights is not None:
        # rows the fit gave weight 0 are not in its likelihood: they must not inform the forecast
        keep &= rd.weights > 0
    if not keep.any():
        # (was: a warning that every model lacks responses, then "empty input: the DataFrame has
        # no rows" from the data layer)
        raise ValueError(f"forecast of {target!r} from the fit's own responses: the fit has no responses "
                         f"outside the target benchmark(s) (benchmarks: {list(pd.unique(rd.item_benchmark))}); "
                         "leave a benchmark out of target or pass using=")
    # the fit's own arrays rather than its long table: counts for the count families, and for
    # beta / bernoulli the modelled response itself, after the boundary policy. Re-reading the
    # long table took a beta fit from counts through boundary="error" again (it raised on its own
    # 10/10 counts after fitting them with "clip"), and a user's boundary="squeeze" squeezed the
    # squeezed values a second time
    model_col = cols.get("model") or "model"
    question_col = cols.get("question") or "question"
    frame = {model_col: rd.model_labels.take(rd.model[keep]), question_col: rd.item_labels.take(rd.item[keep])}
    opts.update(model=model_col, question=question_col, boundary="error")
    # private names for the response columns: they cannot clash with the model / question columns
    if rd.family.uses_counts:
        frame["_irsl_successes"], frame["_irsl_trials"] = rd.y[keep], rd.trials[keep]
        opts.update(response=None, successes="_irsl_successes", trials="_irsl_trials")
    else:
        frame["_irsl_response"] = rd.y[keep]
        opts.update(response="_irsl_response", successes=None, trials=None)
    using = pd.DataFrame(frame)
    _warn_no_using(rd, using, model_col, target)
    return bank.forecast(target, using, **opts)


def _short_identification(text: str) -> str:
    """The first clause of an identification in words (the ``repr`` gives the gist, not the rules)."""
    head = re.split(r";| \(", text, maxsplit=1)[0].strip()
    return head if head in ("", text.strip()) else head + " ..."


def _check_whole_trials(t: np.ndarray, labels: pd.Index, what: str, allow_nan: bool) -> None:
    """Raise, naming the questions, unless every trial count is a whole number >= 1 (or NaN,
    unknown, when ``allow_nan``)."""
    ok = np.isfinite(t) & (t >= 1) & (t == np.floor(t)) & (t < 2.0**62)
    if allow_nan:
        ok |= np.isnan(t)
    if not ok.all():
        bad = list(zip(labels[~ok][:5], t[~ok][:5]))
        raise ValueError(f"{what}: trials must be whole numbers >= 1{' (NaN: unknown)' if allow_nan else ''}; "
                         f"{int((~ok).sum())} question(s) are not, e.g. (question, trials) {bad}")


def _both_message(response, successes, trials) -> str:
    """The error for a response column named together with count columns."""
    return (f"give either response= or successes= and trials=, not both; got response={response!r}, "
            f"successes={successes!r}, trials={trials!r}")


def _response_columns(family: str, response, successes, trials) -> Optional[str]:
    """The ``response=`` to read: None with counts.

    Raises, naming what the caller passed, for counts without both columns, a response column
    next to counts, or a response column for a count family.
    """
    if successes is None and trials is None:
        if response is not None and get_family(family).uses_counts:
            raise ValueError(f"family {family!r} models counts: pass successes= and trials= (column names) "
                             f"instead of response={response!r}")
        return response
    if successes is None or trials is None:
        raise ValueError(f"counts need both successes= and trials= (column names); got "
                         f"successes={successes!r}, trials={trials!r}")
    # "y" is score's and forecast's default, so it is no choice of the caller's: counts win over it
    # (any other name was silently dropped for the counts)
    if response is not None and response != "y":
        raise ValueError(_both_message(response, successes, trials))
    return None


def _check_target(target) -> None:
    """Raise for ``target=None``, which selected every question (an empty list is caught as
    selecting none)."""
    if target is None:
        raise ValueError("target: a benchmark label or a list of labels; got None")


def _warn_no_using(rd: ResponseData, using: pd.DataFrame, model_col: str, target) -> None:
    """IRSLWarning naming the fitted models that answered only ``target`` (no row of their own
    is in the forecast: there is nothing to forecast from)."""
    from .results import IRSLWarning

    present = set(pd.unique(using[model_col])) if model_col in using.columns else set()
    missing = [m for m in rd.model_labels if m not in present]
    if not missing:
        return
    shown = ", ".join(repr(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
    warnings.warn(
        f"forecast of {target!r}: {len(missing)} of the {rd.n_models} fitted models have no responses "
        f"outside {target!r} ({shown}) and get no row; their {target!r} responses are observed — "
        "read them from the data or from res.abilities, or pass using= with responses of theirs on "
        "other benchmarks", IRSLWarning, stacklevel=4)
