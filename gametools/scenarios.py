"""Scenario descriptions and their discovery.

A *scenario* is a named game builder with documented, validated parameters. Scenario libraries
(the project's own ``games`` package, or a user's) register a sequence of :class:`Scenario`
objects under the ``gametools.scenarios`` entry-point group, so this generic layer finds them
without importing them by name (dependencies point one way: gametools <- games).

Examples
--------
>>> from gametools.scenarios import Parameter, Scenario
>>> import numpy as np
>>> from gametools import NormalFormGame
>>> def build(*, payoff: float) -> NormalFormGame:
...     return NormalFormGame.zero_sum([[payoff, -payoff], [-payoff, payoff]])
>>> pennies = Scenario("pennies", "Matching pennies with stake `payoff`.", build,
...                    (Parameter("payoff", 1.0, "stake", low=0.0),))
>>> pennies.build(payoff=2.0).payoffs[0, 0, 0]
np.float64(2.0)
>>> pennies.build(stake=2.0)
Traceback (most recent call last):
...
gametools.scenarios.ScenarioError: scenario 'pennies' has no parameter 'stake'; valid parameters: payoff
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gametools._registry import load_registered
from gametools.errors import GametoolsError

__all__ = ["Parameter", "Projection", "Scenario", "ScenarioError", "available_scenarios", "get_scenario",
           "parse_parameter_assignments"]

ENTRY_POINT_GROUP = "gametools.scenarios"


class ScenarioError(GametoolsError, ValueError):
    """Unknown scenario or parameter, or a parameter value out of range."""


@dataclass(frozen=True)
class Parameter:
    """One documented scenario parameter.

    Attributes
    ----------
    name : str
    default : int, float, bool or str
        Its type is the parameter's type.
    description : str
    low, high : float, optional
        Inclusive bounds for numbers.
    choices : tuple, optional
        Allowed values for strings.
    """

    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None

    def coerce(self, value: Any, scenario: str) -> Any:
        """Convert ``value`` (possibly a string from the command line) and check its range."""
        kind = type(self.default)
        try:
            if kind is bool and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                converted: Any = value.lower() in ("true", "1", "yes")
            elif kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            else:
                converted = kind(value)
        except (TypeError, ValueError):
            raise ScenarioError(f"scenario {scenario!r}: parameter {self.name!r} must be of type "
                                f"{kind.__name__}, got {value!r}") from None
        if self.choices is not None and converted not in self.choices:
            raise ScenarioError(f"scenario {scenario!r}: parameter {self.name!r} must be one of "
                                f"{list(self.choices)}, got {converted!r}")
        if isinstance(converted, (int, float)) and not isinstance(converted, bool):
            if converted != converted:  # NaN
                raise ScenarioError(f"scenario {scenario!r}: parameter {self.name!r} is NaN")
            if (self.low is not None and converted < self.low) or \
                    (self.high is not None and converted > self.high):
                raise ScenarioError(f"scenario {scenario!r}: parameter {self.name!r} must be in "
                                    f"{self.range_text()}, got {converted!r}")
        return converted

    def range_text(self) -> str:
        if self.choices is not None:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        low = "-inf" if self.low is None else repr(self.low)
        high = "inf" if self.high is None else repr(self.high)
        return f"[{low}, {high}]"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "default": self.default,
                               "type": type(self.default).__name__,
                               "description": self.description}
        if self.low is not None:
            out["low"] = self.low
        if self.high is not None:
            out["high"] = self.high
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out


class Projection(Protocol):
    """Maps a continuous scenario onto its discretised game (for tabular evaluation).

    ``observations(game, player, **params)`` returns a ``(O_i, obs_size)`` array: a
    representative continuous observation for every observation id of the discretised game;
    ``actions(game, player, values, **params)`` maps continuous actions ``(K, *shape)`` to grid
    action indices ``(K,)`` (nearest grid point unless the scenario documents otherwise).
    ``params`` are the scenario's resolved parameters.
    """

    def observations(self, game: Any, player: int, **params: Any) -> Any: ...

    def actions(self, game: Any, player: int, values: Any, **params: Any) -> Any: ...


@dataclass(frozen=True)
class Scenario:
    """A named game builder with validated parameters.

    Attributes
    ----------
    name : str
    description : str
        One line.
    builder : callable
        ``builder(**params)`` returns a NormalFormGame or MarkovGame.
    parameters : tuple of Parameter
    reference : callable, optional
        ``reference(**params)`` returns the closed-form / literature equilibrium (a dict).
    summarize : callable, optional
        ``summarize(game, profile, **params)`` returns the scenario's economic statistics.
    simulator : callable, optional
        Continuous-action scenarios: ``simulator(num_envs=, seed=, device=, **params)`` returns a
        batched :class:`gametools.marl.env.VectorEnv` with the same dynamics as the game.
    projection : Projection, optional
        How continuous observations and actions map onto the discretised game.
    continuum : callable, optional
        Continuous scenarios solved without a grid: ``continuum(grid_summary, **params)`` returns
        a dict with ``method``, ``summary`` (the continuous equilibrium's statistics, same keys
        as ``summarize``) and, given the grid equilibrium's summary, ``discretisation_error``.
    select : callable, optional
        Scenarios whose theory predicts one of several equilibria:
        ``select(game, result, **params)`` returns the solver's result with that equilibrium
        first, the selection rule in its message and the equilibria found listed in
        ``extra["selection"]``.
    """

    name: str
    description: str
    builder: Callable[..., Any]
    parameters: tuple[Parameter, ...] = ()
    reference: Callable[..., Mapping[str, Any]] | None = None
    summarize: Callable[..., Mapping[str, Any]] | None = None
    simulator: Callable[..., Any] | None = None
    projection: Projection | None = None
    continuum: Callable[..., Mapping[str, Any]] | None = None
    select: Callable[..., Any] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def resolve(self, **params: Any) -> dict[str, Any]:
        """Defaults overridden by ``params``, each converted and range-checked."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            valid = ", ".join(known) or "(none)"
            raise ScenarioError(f"scenario {self.name!r} has no parameter {unknown[0]!r}; "
                                f"valid parameters: {valid}")
        return {name: p.coerce(params.get(name, p.default), self.name)
                for name, p in known.items()}

    def build(self, **params: Any) -> Any:
        """Build the game with validated parameters."""
        return self.builder(**self.resolve(**params))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "params": [p.to_dict() for p in self.parameters]}


def available_scenarios() -> dict[str, Scenario]:
    """All registered scenarios by name, in registration order."""
    return load_registered(ENTRY_POINT_GROUP, Scenario, ScenarioError)


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; the error lists the available ones."""
    scenarios = available_scenarios()
    if name not in scenarios:
        raise ScenarioError(f"unknown scenario {name!r}; available: {', '.join(scenarios)}")
    return scenarios[name]


def parse_parameter_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """Parse ``["k=v", ...]`` from the command line (values stay strings until coerced)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ScenarioError(f"parameters are given as key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out
