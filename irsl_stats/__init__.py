"""irsl_stats — Item Response Scaling Laws for language models.

An item response model whose latent ability of each model (checkpoint) is regressed on scaling
variables such as compute, while each question gets its own difficulty, discrimination and
precision. The likelihood and its derivatives are computed by a C++/OpenMP kernel.

>>> import irsl_stats as irsl
>>> res = irsl.fit("ability ~ log(compute)", data=responses, models=models)  # doctest: +SKIP
>>> print(res.summary())                                                      # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("irsl_stats")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from . import evaluation, io, simulate
from . import testtime
from . import crossbench, crossval
from .crossbench import MultidimBank
from .multidim_results import MultidimResults
from ._kernel import build_info
from .api import fit
from .bank import ItemBank, ItemBankFormatError, calibrate
from .data import ResponseData
from .io import read_counts, read_lm_eval_samples, to_long
from .lrtest import anova
from .metrics import decision_accuracy, mean_absolute_error, rank_correlation
from .passk import beta_pass_at_k, pass_at_k, plugin_pass_at_k
from .passk import beta_pass_at_k_grid
from .testtime import power_law_fit, sample_budget_study
from . import plots
from .plots import plot_decision_accuracy, plot_items, plot_pass_at_k, plot_power_law, plot_scaling
from .results import IRSLResults, IRSLWarning

__all__ = [
    "__version__",
    "build_info",
    "show_build",
    "fit",
    "anova",
    "calibrate",
    "ItemBank",
    "ItemBankFormatError",
    "ResponseData",
    "IRSLResults",
    "IRSLWarning",
    "MultidimResults",
    "MultidimBank",
    "crossbench",
    "crossval",
    "decision_accuracy",
    "mean_absolute_error",
    "rank_correlation",
    "pass_at_k",
    "beta_pass_at_k",
    "plugin_pass_at_k",
    "beta_pass_at_k_grid",
    "testtime",
    "power_law_fit",
    "sample_budget_study",
    "simulate",
    "evaluation",
    "io",
    "read_lm_eval_samples",
    "read_counts",
    "to_long",
    "plots",
    "plot_scaling",
    "plot_items",
    "plot_pass_at_k",
    "plot_power_law",
    "plot_decision_accuracy",
]


def show_build() -> str:
    """Describe the compiled kernel (OpenMP, threads, compiler) and print the description.

    Returns
    -------
    str
        The printed text: the package version, then one ``key: value`` line per entry of
        :func:`build_info`.

    Examples
    --------
    >>> import irsl_stats as irsl
    >>> text = irsl.show_build()  # doctest: +ELLIPSIS
    irsl_stats ...
    >>> "openmp" in text
    True
    """
    info = build_info()
    lines = [f"irsl_stats {__version__}"] + [f"  {k}: {v}" for k, v in info.items()]
    text = "\n".join(lines)
    print(text)
    return text
