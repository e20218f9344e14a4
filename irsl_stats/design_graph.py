"""Connectivity of the design: which models and questions the responses link.

Models and questions are the nodes of a bipartite graph with an edge for every response that
enters the likelihood. When the graph falls apart into several blocks (no model of one block
answers a question of another), nothing in the responses places the blocks' abilities on one
scale: in ``eta_ij = a_j theta_i + d_j`` a shift (and, for 2PL, a rescaling) of one block's
abilities is absorbed by its own questions' parameters. Joint ML, with the abilities as fixed
effects, is then not identified; marginal ML places the blocks only through its assumed
population distribution of ability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["DesignComponents", "design_components", "disconnected_warning"]

#: labels of the smaller blocks shown in a warning
_N_SHOWN = 5


@dataclass(frozen=True)
class DesignComponents:
    """Connected components (blocks) of the bipartite model-question graph.

    Attributes
    ----------
    n_components : int
        Number of blocks among the models and questions with at least one response.
    model_component, item_component : ndarray of int, shapes (M,) and (N,)
        Block of each model and question, largest block first (0); -1 for a model or question
        without a response in the likelihood.
    """

    n_components: int
    model_component: np.ndarray
    item_component: np.ndarray

    @property
    def connected(self) -> bool:
        """Whether the responses link every model and question (at most one block)."""
        return self.n_components <= 1

    def sizes(self) -> List[tuple]:
        """(models, questions) of each block, largest block first."""
        nm = np.bincount(self.model_component[self.model_component >= 0], minlength=self.n_components)
        ni = np.bincount(self.item_component[self.item_component >= 0], minlength=self.n_components)
        return [(int(a), int(b)) for a, b in zip(nm, ni)]


def design_components(model: np.ndarray, item: np.ndarray, n_models: int, n_items: int,
                      rows: Optional[np.ndarray] = None,
                      model_ptr: Optional[np.ndarray] = None) -> DesignComponents:
    """Blocks of models and questions linked by responses (connected components).

    Parameters
    ----------
    model, item : ndarray of int, shape (nobs,)
        Model and question code of each response; each (model, question) pair at most once.
    n_models, n_items : int
    rows : ndarray of bool, shape (nobs,), optional
        The responses in the likelihood (positive weight); default all.
    model_ptr : ndarray of int, shape (M + 1,), optional
        CSR offsets of the models when ``model`` is sorted (``ResponseData.model_ptr``): the
        responses per model without a pass over the data.

    Returns
    -------
    DesignComponents
    """
    model = np.asarray(model)
    item = np.asarray(item)
    if rows is not None and not np.all(rows):
        model, item = model[rows], item[rows]
        model_ptr = None
    if model_ptr is not None:
        n_per_model = np.diff(np.asarray(model_ptr, np.int64))
    else:
        n_per_model = np.bincount(model, minlength=n_models)
    active_m = n_per_model > 0
    # fast path, the usual dense benchmark: a model answering every question links all of them,
    # and every model with a response hangs on one of them (pairs are unique, so a model's count
    # is its number of distinct questions): no pass over the data at all
    if n_per_model.size and n_per_model.max() >= n_items:
        return DesignComponents(1, np.where(active_m, 0, -1), np.zeros(n_items, np.int64))
    # the same with the questions that have a response, or a question every model answers
    n_per_item = np.bincount(item, minlength=n_items)
    active_i = n_per_item > 0
    n_m, n_i = int(active_m.sum()), int(active_i.sum())
    if n_m == 0 or n_i == 0 or n_per_model.max() >= n_i or n_per_item.max() >= n_m:
        return DesignComponents(int(n_m > 0), np.where(active_m, 0, -1), np.where(active_i, 0, -1))
    # nodes 0..M-1 the models, M..M+N-1 the questions; one edge per response, so the cost is one
    # sparse pass (scipy symmetrises for directed=False)
    order = np.argsort(model, kind="stable") if np.any(np.diff(model) < 0) else None
    if order is not None:
        model, item = model[order], item[order]
    indptr = np.zeros(n_models + n_items + 1, np.int64)
    indptr[1: n_models + 1] = np.cumsum(n_per_model)
    indptr[n_models + 1:] = indptr[n_models]
    graph = csr_matrix((np.ones(len(item), np.int8), item.astype(np.int64) + n_models, indptr),
                       shape=(n_models + n_items,) * 2)
    _, labels = connected_components(graph, directed=False)
    active = np.r_[active_m, active_i]
    # nodes without a response are their own components: no block, label -1
    uniq, inverse = np.unique(labels[active], return_inverse=True)
    size = np.bincount(inverse, minlength=len(uniq))
    # largest block first (ties: in the order of their first node)
    rank = np.empty(len(uniq), np.int64)
    rank[np.argsort(-size, kind="stable")] = np.arange(len(uniq))
    comp = np.full(n_models + n_items, -1, np.int64)
    comp[active] = rank[inverse]
    return DesignComponents(len(uniq), comp[:n_models], comp[n_models:])


def disconnected_warning(comp: DesignComponents, model_labels, item_labels, method: str,
                         irt: str = "2pl") -> Optional[str]:
    """The warning for a design that falls apart into blocks (None when it is connected).

    Parameters
    ----------
    comp : DesignComponents
    model_labels, item_labels : sequence
        Labels of the models (length M) and questions (length N).
    method : {"jml", "mml"}
        Joint ML: the blocks' relative location (2PL: and scale) is not identified. Marginal ML:
        it is set only by the assumed population distribution of ability.
    irt : {"1pl", "2pl"}

    Returns
    -------
    str or None
    """
    if comp.connected:
        return None
    sizes = comp.sizes()
    shown_sizes = ", ".join(f"{m} models x {q} questions" for m, q in sizes[:_N_SHOWN])
    if len(sizes) > _N_SHOWN:
        shown_sizes += f", ... ({len(sizes) - _N_SHOWN} more)"
    small_m = np.flatnonzero(comp.model_component > 0)[:_N_SHOWN]
    small_i = np.flatnonzero(comp.item_component > 0)[:_N_SHOWN]
    labels = (f"models {[model_labels[k] for k in small_m]} and questions "
              f"{[item_labels[k] for k in small_i]}")
    head = (f"the design is disconnected: the models and questions form {comp.n_components} blocks "
            f"that no response links (no model of one block answers a question of another; blocks: "
            f"{shown_sizes}; outside the largest block e.g. {labels})")
    if method == "jml":
        what = "location and scale" if irt == "2pl" else "location"
        return (f"{head}. Under method='jml' (abilities as fixed effects) the relative {what} of the "
                "blocks' abilities is not identified: the abilities of different blocks, the scaling "
                "law and its standard errors are arbitrary, and the fit is marked not converged. Fit "
                "the blocks separately, add linking questions answered by models of several blocks, "
                "or use method='mml', whose population distribution links the blocks by assumption")
    return (f"{head}. The blocks' abilities are placed on one scale only by the assumed population "
            "distribution of ability (shared by all models), not by common questions: comparisons "
            "across blocks and the scaling law rest on that assumption. Add linking questions "
            "answered by models of several blocks to check it, or fit the blocks separately")
