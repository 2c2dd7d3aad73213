"""Interoperability: OpenSpiel games both ways, nashpy games accepted wherever a 2-player game is.

OpenSpiel is imported only when an OpenSpiel object is actually converted, so importing
gametools stays fast.
"""

from __future__ import annotations

from typing import Any

from gametools.extensive.model import ExtensiveGame
from gametools.model import MarkovGame, NormalFormGame

__all__ = ["as_extensive_game", "as_game"]


def _is_openspiel_game(game: Any) -> bool:
    """Whether ``game`` is a ``pyspiel.Game`` (C++ or Python implemented, any module)."""
    import sys

    pyspiel = sys.modules.get("pyspiel")  # an OpenSpiel game implies pyspiel is imported
    return pyspiel is not None and isinstance(game, pyspiel.Game)


def as_game(game: Any) -> NormalFormGame | MarkovGame:
    """Accept a gametools game, a ``nashpy.Game`` or an OpenSpiel matrix/tensor game.

    Raises
    ------
    TypeError
        Naming the type that is not a game gametools understands.
    """
    if isinstance(game, (NormalFormGame, MarkovGame)):
        return game
    module = type(game).__module__ or ""
    if module.startswith("nashpy"):
        row, column = game.payoff_matrices
        return NormalFormGame.from_bimatrix(row, column)
    if _is_openspiel_game(game):
        from gametools.interop.openspiel import from_openspiel
        return from_openspiel(game)
    raise TypeError(f"expected a NormalFormGame, MarkovGame, nashpy.Game or OpenSpiel matrix/"
                    f"tensor game, got {type(game).__module__}.{type(game).__name__}")


def as_extensive_game(game: Any) -> ExtensiveGame | None:
    """``game`` as an :class:`~gametools.extensive.ExtensiveGame` when it is one.

    An ExtensiveGame is returned as is; an OpenSpiel game (C++ or Python implemented) that is
    not a matrix, tensor or one-shot simultaneous-move game is unrolled by
    :func:`~gametools.interop.openspiel.extensive_from_openspiel`. Anything else gives None
    (the caller then uses :func:`as_game`).
    """
    if isinstance(game, ExtensiveGame):
        return game
    if not _is_openspiel_game(game):
        return None
    from gametools.interop.openspiel import extensive_from_openspiel, is_normal_form

    return None if is_normal_form(game) else extensive_from_openspiel(game).game
