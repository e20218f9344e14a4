"""Predicates shared by the argument checks of the public functions.

Each caller keeps its own error message (it names the argument and what the number means there);
these only decide. A bool is never a number here: ``True`` would otherwise pass as 1.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["is_integer", "is_positive_finite", "is_clip_eps", "repeated_values"]

_REAL = (int, float, np.integer, np.floating)


def is_integer(value, minimum: Optional[int] = None, maximum: Optional[int] = None) -> bool:
    """A Python or NumPy integer (not a bool, not an integral float) in ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        return False
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def is_positive_finite(value) -> bool:
    """A real number (not a bool or a string) that is finite and > 0."""
    return (not isinstance(value, (bool, np.bool_)) and isinstance(value, _REAL)
            and bool(np.isfinite(value)) and value > 0)


def is_clip_eps(value) -> bool:
    """A real number in ``(0, 0.5)``: the clip interval ``[eps, 1 - eps]`` is then non-empty and
    inside (0, 1), so that logits of clipped values are finite."""
    return (not isinstance(value, (bool, np.bool_)) and isinstance(value, _REAL)
            and 0.0 < float(value) < 0.5)


def repeated_values(values) -> list:
    """The values that occur more than once in ``values``, each once: sorted when they compare,
    else in the order of their first repeat (a repeated seed, budget or strategy would repeat
    identical rows that a summary then counts as separate draws)."""
    seen, dup = set(), []
    for v in values:
        if v in seen and v not in dup:
            dup.append(v)
        seen.add(v)
    try:
        return sorted(dup)
    except TypeError:
        return dup
