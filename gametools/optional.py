"""Optional dependencies: import them where they are needed, and say which extra installs them.

``pip install gametools`` installs the game model, the solvers, exploitability, the formats, the
scenarios' exact games and plotting. Everything else comes with an extra:

- ``marl``: the multi-agent learners (:mod:`gametools.marl`) and the scenarios' simulators
  (torch);
- ``openspiel``: conversion to and from OpenSpiel games (open_spiel);
- ``pettingzoo``: the PettingZoo ``ParallelEnv`` of every scenario (pettingzoo);
- ``ray``: the Ray backend of ``gametools run`` (ray);
- ``frames``: ``to_frame()`` of results as pandas DataFrames (pandas).

A path that needs one of them calls :func:`require`; without the package it raises
:class:`MissingDependencyError`, whose message names the ``pip install`` line.

>>> require("math", extra="none").sqrt(4.0)
2.0
>>> try:
...     require("a_module_that_is_not_installed", extra="marl")
... except MissingDependencyError as error:
...     print(error)
a_module_that_is_not_installed is not installed; install it with `pip install 'gametools[marl]'`
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gametools.errors import GametoolsError

__all__ = ["MissingDependencyError", "require"]


class MissingDependencyError(GametoolsError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingDependencyError` naming ``gametools[extra]``.

    Parameters
    ----------
    module : str
        The module to import (``"torch"``, ``"pandas"``, ...).
    extra : str
        The optional-dependency group of gametools that installs it.

    Returns
    -------
    module
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        # only the module itself (or its top package) missing is a missing extra; a broken install
        # of the package raises its own error unchanged
        top = module.split(".")[0]
        if error.name is not None and error.name.split(".")[0] != top:
            raise
        raise MissingDependencyError(
            f"{module} is not installed; install it with `pip install 'gametools[{extra}]'`"
        ) from error
