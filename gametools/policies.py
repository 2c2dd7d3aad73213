"""Tabular strategies, policies and profiles.

Vocabulary
----------
- a *strategy* of player ``i`` in a normal-form game is a mixed action, shape ``(n_i,)``;
- a *policy* of player ``i`` in a Markov game is one strategy per observation, shape ``(O_i, n_i)``;
- a *profile* is a tuple with one strategy (or policy) per player.

Every row must lie on the probability simplex: finite, non-negative, summing to one within
``atol``. Nothing is renormalised: a row that is off the simplex is an error naming the player,
the row and the rule.

Examples
--------
>>> from gametools import NormalFormGame, uniform_profile, deterministic_profile
>>> game = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
>>> [x.tolist() for x in deterministic_profile(game, [0, 2])]
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
>>> uniform_profile(game)[0].round(3).tolist()
[0.333, 0.333, 0.333]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np

from gametools.errors import PolicyValidationError
from gametools.model import MarkovGame, NormalFormGame

__all__ = ["Profile", "validate_profile", "uniform_profile", "deterministic_profile",
           "SIMPLEX_TOLERANCE"]

#: A tuple of per-player arrays: strategies ``(n_i,)`` or policies ``(O_i, n_i)``.
Profile: TypeAlias = tuple[np.ndarray, ...]

#: Default absolute tolerance on rows summing to one.
SIMPLEX_TOLERANCE = 1e-9


def _expected_shapes(game: NormalFormGame | MarkovGame) -> list[tuple[int, ...]]:
    if isinstance(game, NormalFormGame):
        return [(n,) for n in game.num_actions]
    if isinstance(game, MarkovGame):
        return [(o, n) for o, n in zip(game.num_observations, game.num_actions)]
    raise TypeError(f"expected a NormalFormGame or MarkovGame, got {type(game).__name__}")


def validate_profile(game: NormalFormGame | MarkovGame, profile: Sequence[Any], *,
                     atol: float = SIMPLEX_TOLERANCE) -> Profile:
    """Check a profile against a game and return it as read-only float arrays.

    Parameters
    ----------
    game : NormalFormGame or MarkovGame
    profile : sequence of array_like
        One strategy ``(n_i,)`` per player for a normal-form game, one policy ``(O_i, n_i)``
        per player for a Markov game.
    atol : float
        Tolerance on each row summing to one (entries may be at most ``atol`` below zero).

    Returns
    -------
    tuple of ndarray

    Raises
    ------
    PolicyValidationError
        Naming the player, the row and the rule broken.
    """
    shapes = _expected_shapes(game)
    if len(profile) != len(shapes):
        raise PolicyValidationError("profile", f"needs one entry per player ({len(shapes)})",
                                    None, len(profile))
    out = []
    for i, (values, shape) in enumerate(zip(profile, shapes)):
        name = f"policy_{i}"
        try:
            array = np.array(values, dtype=float)
        except (TypeError, ValueError) as exc:
            raise PolicyValidationError(name, f"must be an array of probabilities ({exc})") \
                from None
        if array.shape != shape:
            what = "(n_i,)" if len(shape) == 1 else "(num_observations_i, n_i)"
            raise PolicyValidationError(name, f"must have shape {what} = {shape}", None,
                                        array.shape)
        rows = array.reshape(-1, shape[-1])
        for rule, bad in (("must be finite", ~np.isfinite(rows).all(axis=1)),
                          ("probabilities must be >= 0", (rows < -atol).any(axis=1)),
                          ("each row must sum to 1", np.abs(rows.sum(axis=1) - 1.0) > atol)):
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                index = row if len(shape) == 2 else None
                raise PolicyValidationError(name, rule, index, rows[row].tolist())
        array.flags.writeable = False
        out.append(array)
    return tuple(out)


def uniform_profile(game: NormalFormGame | MarkovGame) -> Profile:
    """Every player mixes uniformly over its actions at every observation."""
    out = []
    for shape in _expected_shapes(game):
        array = np.full(shape, 1.0 / shape[-1])
        array.flags.writeable = False
        out.append(array)
    return tuple(out)


def deterministic_profile(game: NormalFormGame | MarkovGame, actions: Sequence[Any]) -> Profile:
    """A pure profile from one action per player (per observation in a Markov game).

    Parameters
    ----------
    game : NormalFormGame or MarkovGame
    actions : sequence
        ``actions[i]`` is an int (normal form) or an int array of shape ``(O_i,)`` (Markov game).
    """
    shapes = _expected_shapes(game)
    if len(actions) != len(shapes):
        raise PolicyValidationError("actions", f"needs one entry per player ({len(shapes)})",
                                    None, len(actions))
    out = []
    for i, (chosen, shape) in enumerate(zip(actions, shapes)):
        index = np.asarray(chosen)
        if index.shape != shape[:-1] or index.dtype.kind not in "iu":
            raise PolicyValidationError(f"actions[{i}]", f"must be integer action ids of shape "
                                        f"{shape[:-1]}", None, index.shape)
        if ((index < 0) | (index >= shape[-1])).any():
            raise PolicyValidationError(f"actions[{i}]", f"action ids must be in [0, {shape[-1]})",
                                        None, index.tolist())
        array = np.zeros(shape)
        np.put_along_axis(array, index[..., None], 1.0, axis=-1)
        array.flags.writeable = False
        out.append(array)
    return tuple(out)
