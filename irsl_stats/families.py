"""Response families of the item response model.

Four families share the linear predictor ``eta_ij = a_j . theta_i + d_j`` and the mean
``mu_ij = logistic(eta_ij)``:

========================  ====  =============  ===========  ==========================================
name                      code  has_precision  uses_counts  support
========================  ====  =============  ===========  ==========================================
``beta``                  0     yes            no           y in the open interval (0, 1)
``bernoulli``             1     no             no           y in {0, 1}
``binomial``              2     no             yes          integers 0 <= k <= n, n >= 1
``beta_binomial``         3     yes            yes          integers 0 <= k <= n, n >= 1
========================  ====  =============  ===========  ==========================================

The integer codes are shared with the C++ kernel (``docs/kernel_interface.md``) and must not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple, Union

__all__ = ["Family", "FAMILIES", "FAMILY_NAMES", "get_family", "family_from_code"]


@dataclass(frozen=True)
class Family:
    """A response family.

    Parameters
    ----------
    name : str
        Canonical name (``"beta"``, ``"bernoulli"``, ``"binomial"``, ``"beta_binomial"``).
    code : int
        Integer code used by the C++ kernel.
    has_precision : bool
        Whether the family has a precision parameter ``phi`` (beta and beta-binomial).
    uses_counts : bool
        Whether responses are counts ``k`` of ``n`` trials (binomial and beta-binomial).
    support : str
        Human-readable description of the valid responses, used in error messages.
    """

    name: str
    code: int
    has_precision: bool
    uses_counts: bool
    support: str

    def __str__(self) -> str:
        return self.name


BETA = Family("beta", 0, True, False, "y in the open interval (0, 1)")
BERNOULLI = Family("bernoulli", 1, False, False, "y in {0, 1}")
BINOMIAL = Family("binomial", 2, False, True, "integer counts with 0 <= k <= n and n >= 1")
BETA_BINOMIAL = Family("beta_binomial", 3, True, True, "integer counts with 0 <= k <= n and n >= 1")

#: Registry of the families by canonical name, in code order.
FAMILIES: Dict[str, Family] = {f.name: f for f in (BETA, BERNOULLI, BINOMIAL, BETA_BINOMIAL)}
#: Canonical family names, in code order.
FAMILY_NAMES: Tuple[str, ...] = tuple(FAMILIES)

_BY_CODE: Dict[int, Family] = {f.code: f for f in FAMILIES.values()}


def get_family(name: Union[str, Family]) -> Family:
    """Look up a family by name.

    Parameters
    ----------
    name : str or Family
        Family name, case-insensitive; ``"-"`` and spaces are accepted for ``"_"``
        (``"beta-binomial"``). A :class:`Family` is returned unchanged.

    Returns
    -------
    Family

    Raises
    ------
    ValueError
        If the name is unknown; the message lists the valid names.
    """
    if isinstance(name, Family):
        return name
    if isinstance(name, str):
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        if key in FAMILIES:
            return FAMILIES[key]
    valid = ", ".join(repr(n) for n in FAMILY_NAMES)
    raise ValueError(f"unknown family {name!r}; valid families are {valid}")


def family_from_code(code: int) -> Family:
    """Look up a family by its kernel code (0 beta, 1 bernoulli, 2 binomial, 3 beta_binomial).

    Raises
    ------
    ValueError
        If the code is unknown.
    """
    try:
        return _BY_CODE[int(code)]
    except (KeyError, TypeError, ValueError):
        valid = ", ".join(f"{f.code}={f.name}" for f in FAMILIES.values())
        raise ValueError(f"unknown family code {code!r}; valid codes are {valid}") from None
