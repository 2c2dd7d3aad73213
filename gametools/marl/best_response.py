"""Approximate best responses: Monte-Carlo lower bounds on deviation gains, tabular upper bounds.

When a game is too large or too continuous for :func:`gametools.exploitability.nash_conv`, a
player's deviation gain ``max_{pi_i'} value_i(pi_i', pi_-i) - value_i(pi)`` is bracketed by
:func:`approximate_gains`:

- **lower bound** (kind ``"lower_bound"``): a best responder is *found* against the frozen
  policies of the others by a responder object (:mod:`gametools.marl.responders`):
  :class:`LearnedResponder` trains it by PPO or DQN on the one-agent view
  :class:`FrozenOpponents`; :class:`GridResponder`, for one-shot decisions with continuous
  (``Box``) actions, grid-searches actions per observation bin. It is then evaluated beside the
  player's own frozen policy on fresh episodes with common random numbers
  (:mod:`gametools.marl.evaluation`, the one evaluator; policies of every kind are read through
  the one adapter :mod:`gametools.marl.adapters`). Any achievable policy's gain is at most the
  best response's gain, so the estimated gain of the found policy is a lower bound *up to
  Monte-Carlo error*: the estimate is reported raw (never clipped at 0), with its standard error
  and a confidence interval; the interval's lower end is the conservative lower bound (one-sided
  level ``(1 + confidence) / 2``). Different players use independent seeds, so the NashConv
  interval adds per-player variances.
- **upper bound** (kind ``"upper_bound"``, or ``"exact"`` for a player that observes the state):
  where a tabular game is available (a :class:`~gametools.model.MarkovGame`, or a scenario's
  discretised game with its ``projection``), the exact best response of a deviator that *sees the
  state* is computed on it with :func:`gametools.exploitability.best_response`. Seeing more can
  only help, so this bounds the observation-based gain from above **on that tabular game**. For a
  continuous simulator the tabular game is a projection: the bound then holds for the projected
  profile on the grid game and only approximately for the continuous game (``upper_bound_scope``
  says which). The tabular game's own :func:`~gametools.exploitability.nash_conv` (exact where
  the game allows it) is reported alongside as ``tabular``.

This module is the driver: the result type (:class:`ApproximateExploitability`), the tabular
bounds, and the normalisation of its inputs (games, scenarios, environment factories; tabular,
callable or learned policies). The evaluator's and the responders' names are re-exported here.

Every random draw comes from a seeded generator derived from ``seed`` (same seed, same numbers).

References
----------
Lanctot et al., "A Unified Game-Theoretic Approach to Multiagent Reinforcement Learning", NeurIPS
2017 (approximate best responses by RL, NashConv). Timbers et al., "Approximate Exploitability:
Learning a Best Response", IJCAI 2022 (learned best responses give lower bounds). Glasserman,
"Monte Carlo Methods in Financial Engineering", 2004, sec. 4.2 (common random numbers).

Examples
--------
>>> import numpy as np, torch
>>> torch.set_num_threads(1)
>>> from gametools import NormalFormGame
>>> from gametools.marl.best_response import LearnedResponder, approximate_gains
>>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
>>> profile = (np.array([0.8, 0.2]), np.array([0.5, 0.5]))   # exact gains: 0 and 0.6
>>> result = approximate_gains(pennies, profile, LearnedResponder("dqn", budget=1024),
...                            episodes=2000)
>>> result.kind, result.upper_bound_kinds
('lower_bound', ('exact', 'exact'))
>>> bool(result.gain_intervals[1, 0] <= 0.6 <= result.gain_intervals[1, 1] + 0.05)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch

from gametools.errors import InvalidArgumentError
from gametools.exploitability import ExploitabilityResult, Kind, best_response, nash_conv
from gametools.marl.adapters import Policy, as_callables, as_tabular
from gametools.marl.env import TensorGameEnv, VectorEnv
from gametools.marl.evaluation import (
    DEFAULT_UNDISCOUNTED_HORIZON,
    Actor,
    FrozenOpponents,
    derive_seed,
    episode_returns,
    estimate,
    frozen_policies,
    normal_quantile,
    paired_returns,
    policy_actor,
)
from gametools.marl.learner import Learner
from gametools.marl.responders import (
    DEFAULT_SEARCH_EPISODES,
    DEFAULT_TRAINING_STEPS,
    GridResponder,
    GridResponse,
    LearnedResponder,
    Responder,
)
from gametools.model import MarkovGame, NormalFormGame
from gametools.policies import Profile, validate_profile
from gametools.scenarios import Scenario, get_scenario
from gametools.structure import sees_state

__all__ = [
    "DEFAULT_SEARCH_EPISODES",
    "DEFAULT_TRAINING_STEPS",
    "DEFAULT_UNDISCOUNTED_HORIZON",
    "Actor",
    "ApproximateExploitability",
    "EnvFactory",
    "FrozenOpponents",
    "GridResponder",
    "GridResponse",
    "LearnedResponder",
    "Policy",
    "Responder",
    "approximate_gains",
    "episode_returns",
    "frozen_policies",
]


class EnvFactory(Protocol):
    """Builds a fresh batched environment: ``factory(num_envs=..., seed=...)``."""

    def __call__(self, *, num_envs: int, seed: int) -> VectorEnv: ...


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------

def _readonly(array: Any) -> np.ndarray:
    out = np.array(array, dtype=float)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class ApproximateExploitability:
    """Monte-Carlo lower bounds on deviation gains, with tabular upper bounds where computable.

    Per-player arrays follow ``players``.

    Attributes
    ----------
    players : tuple of int
    method : {"ppo", "dqn", "grid"}
    kind : "lower_bound"
        What ``gains`` are: achievable gains, lower bounds on the best-response gains up to
        Monte-Carlo error (the lower ends of ``gain_intervals``).
    confidence : float
        Two-sided level of the normal-approximation intervals.
    episodes : int
        Evaluation episodes per player (the same ones for the profile and the responder).
    budget : int
        Training steps (ppo, dqn) or search episodes per candidate action (grid).
    values, value_stderr : ndarray, shape (P,)
        Monte-Carlo value of the profile and its standard error.
    best_response_values, best_response_stderr : ndarray, shape (P,)
        Monte-Carlo value of the found responder (fresh episodes) and its standard error.
    gains, gain_stderr : ndarray, shape (P,)
        Paired difference ``best_response_value - value`` (not clipped) and its standard error.
    gain_intervals : ndarray, shape (P, 2)
    upper_bounds : ndarray, shape (P,), or None
        Gain of the exact state-observing best response on the tabular game (None when no
        tabular game is available).
    upper_bound_kinds : tuple of str, or None
        ``"upper_bound"``, or ``"exact"`` for a player that observes the state.
    upper_bound_scope : {"game", "tabular_projection"} or None
        ``"game"``: the tabular game is the game the episodes ran on, so the bound is rigorous;
        ``"tabular_projection"``: it is a discretisation of a continuous simulator, and the bound
        holds for the projected profile on the grid game (approximately for the simulator).
    upper_bound_tolerance : float or None
        Numerical error bound of the tabular values.
    tabular : ExploitabilityResult or None
        :func:`~gametools.exploitability.nash_conv` of the tabular profile (all players; its own
        kinds say exact or bound).
    responders : tuple
        The found responders (:class:`GridResponse` or trained learners), for inspection.
    """

    players: tuple[int, ...]
    method: str
    kind: Literal["lower_bound"]
    confidence: float
    episodes: int
    budget: int
    values: np.ndarray
    value_stderr: np.ndarray
    best_response_values: np.ndarray
    best_response_stderr: np.ndarray
    gains: np.ndarray
    gain_stderr: np.ndarray
    gain_intervals: np.ndarray
    upper_bounds: np.ndarray | None
    upper_bound_kinds: tuple[Kind, ...] | None
    upper_bound_scope: Literal["game", "tabular_projection"] | None
    upper_bound_tolerance: float | None
    tabular: ExploitabilityResult | None
    responders: tuple[Any, ...] = field(repr=False, default=())

    @property
    def lower_bounds(self) -> np.ndarray:
        """Conservative lower bounds: the lower ends of ``gain_intervals``, shape ``(P,)``."""
        return self.gain_intervals[:, 0]

    @property
    def nash_conv(self) -> float:
        """Sum of the estimated gains (a lower bound on NashConv when every player is listed)."""
        return float(self.gains.sum())

    @property
    def nash_conv_interval(self) -> tuple[float, float]:
        """Interval for :attr:`nash_conv` (players' estimates are independent)."""
        half = normal_quantile(self.confidence) * float(np.sqrt(np.sum(self.gain_stderr ** 2)))
        return (self.nash_conv - half, self.nash_conv + half)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document with the lower and upper bounds named and labelled."""
        lower = {"kind": self.kind, "method": self.method, "confidence": self.confidence,
                 "episodes": self.episodes, "budget": self.budget,
                 "per_player": [float(g) for g in self.gains],
                 "stderr": [float(s) for s in self.gain_stderr],
                 "intervals": [[float(a), float(b)] for a, b in self.gain_intervals],
                 "conservative": [float(v) for v in self.lower_bounds],
                 "values": [float(v) for v in self.values],
                 "value_stderr": [float(v) for v in self.value_stderr],
                 "best_response_values": [float(v) for v in self.best_response_values],
                 "best_response_stderr": [float(v) for v in self.best_response_stderr],
                 "nash_conv": self.nash_conv, "nash_conv_interval": list(self.nash_conv_interval)}
        upper = None
        if self.upper_bounds is not None:
            upper = {"kind": ("exact" if all(k == "exact" for k in self.upper_bound_kinds or ())
                              else "upper_bound"),
                     "per_player_kind": list(self.upper_bound_kinds or ()),
                     "per_player": [float(v) for v in self.upper_bounds],
                     "scope": self.upper_bound_scope, "tolerance": self.upper_bound_tolerance,
                     "deviator": "observes the state"}
        return {"players": list(self.players), "lower_bound": lower, "upper_bound": upper,
                "tabular": None if self.tabular is None else self.tabular.to_dict()}


# ------------------------------------------------------------------------------------------
# tabular bounds
# ------------------------------------------------------------------------------------------

def _state_observing_gains(game: MarkovGame, profile: Profile, players: Sequence[int],
                           values: ExploitabilityResult
                           ) -> tuple[np.ndarray, tuple[Kind, ...], float]:
    """Gains of exact best responses that see the state, and their kinds and tolerance."""
    gains: list[float] = []
    kinds: list[Kind] = []
    tolerance = float(values.tolerance)
    for player in players:
        observed = game.observations[player]
        seen = sees_state(game, player)
        if seen:
            seeing, policies = game, profile
        else:
            rows = np.array(game.observations)
            rows[player] = np.arange(game.num_states)
            seeing = MarkovGame(game.transitions, game.rewards, game.initial, game.discount,
                                terminal=game.terminal, observations=rows)
            policies = tuple(p if j != player else p[observed] for j, p in enumerate(profile))
        response = best_response(seeing, policies, player)
        gains.append(response.value - float(values.values[player]))
        kinds.append("exact" if seen else "upper_bound")
        tolerance = max(tolerance, response.tolerance)
    return np.array(gains), tuple(kinds), tolerance


# ------------------------------------------------------------------------------------------
# the driver
# ------------------------------------------------------------------------------------------

def _resolve_source(source: Any, policies: Any, params: Mapping[str, Any], device: str,
                    tabular: tuple[MarkovGame, Sequence[Any]] | None
                    ) -> tuple[Callable[[int, int], VectorEnv], MarkovGame | None,
                               Profile | None, Literal["game", "tabular_projection"] | None]:
    """Environment maker, tabular game and profile, and the scope of the tabular bound."""
    if isinstance(source, str):
        source = get_scenario(source)
    scenario = None
    if isinstance(source, Scenario):
        scenario = source
        resolved = scenario.resolve(**params)
        built = scenario.builder(**resolved)
        game = built.to_markov_game() if isinstance(built, NormalFormGame) else built
        tabular_inputs = isinstance(policies, Sequence) and all(
            p is not None and not callable(p) for p in policies)
        discrete_learner = isinstance(policies, Learner) and policies.discrete
        if scenario.simulator is not None and not (tabular_inputs or discrete_learner):
            simulator = scenario.simulator

            def make(num_envs: int, seed: int) -> VectorEnv:
                return simulator(num_envs=num_envs, seed=seed, device=device, **resolved)
            if tabular is not None:
                return make, tabular[0], validate_profile(tabular[0], tabular[1]), \
                    "tabular_projection"
            if scenario.projection is None:
                return make, None, None, None
            return (make, game, as_tabular(policies, game, scenario=scenario, params=resolved,
                                           discrete=False), "tabular_projection")
        source = game
    elif params:
        raise InvalidArgumentError("params apply to scenarios, not to games or environment "
                                   "factories")
    if isinstance(source, NormalFormGame):
        source = source.to_markov_game()
    if isinstance(source, MarkovGame):
        game = source

        def make_tabular(num_envs: int, seed: int) -> VectorEnv:
            return TensorGameEnv(game, num_envs=num_envs, seed=seed, device=device)
        if tabular is not None:
            raise InvalidArgumentError("tabular is for environment factories; a game is its own "
                                       "tabular game")
        return make_tabular, game, as_tabular(policies, game), "game"
    if callable(source):
        factory = source

        def make_from_factory(num_envs: int, seed: int) -> VectorEnv:
            return factory(num_envs=num_envs, seed=seed)
        if tabular is None:
            return make_from_factory, None, None, None
        return make_from_factory, tabular[0], validate_profile(tabular[0], tabular[1]), \
            "tabular_projection"
    raise InvalidArgumentError(f"source must be a MarkovGame, NormalFormGame, scenario (or its "
                               f"name) or an environment factory, got {type(source).__name__}")


def approximate_gains(source: MarkovGame | NormalFormGame | Scenario | str | EnvFactory,
                      policies: Learner | Sequence[Policy | np.ndarray],
                      responder: Responder | None = None, *,
                      players: Sequence[int] | None = None, episodes: int = 4096, seed: int = 0,
                      confidence: float = 0.95, params: Mapping[str, Any] | None = None,
                      horizon: int | None = None,
                      tabular: tuple[MarkovGame, Sequence[Any]] | None = None,
                      device: str = "cpu", **legacy: Any) -> ApproximateExploitability:
    """Each player's deviation gain against the frozen others: a lower bound with a confidence
    interval, and a tabular upper bound where a tabular game is available.

    Parameters
    ----------
    source : MarkovGame, NormalFormGame, Scenario, str or callable
        A tabular game (run by :class:`~gametools.marl.env.TensorGameEnv`; it is also its own
        tabular game), a scenario or its name (its simulator runs continuous policies — callables
        or a continuous learner — and its projection gives the tabular profile; tabular policies
        and discrete learners run on its built game), or an environment factory
        ``factory(num_envs=..., seed=...) -> VectorEnv``.
    policies : Learner or sequence
        The frozen profile: a trained learner, or one entry per agent — a callable
        ``obs (B, d) -> probabilities (B, n)`` (discrete) or ``-> actions (B, *shape)`` (Box),
        or a tabular policy ``(O_i, n_i)`` for a tabular game
        (:func:`gametools.marl.adapters.as_callables`).
    responder : LearnedResponder or GridResponder, optional
        How each player's best responder is found (default: ``LearnedResponder()``, PPO).
    players : sequence of int, optional
        The deviating players (default: all).
    episodes : int
        Fresh evaluation episodes per player, shared by the profile and the responder.
    seed : int
        Seeds everything (same seed, same numbers).
    confidence : float
        Two-sided level of the intervals, in ``(0, 1)``.
    params : mapping, optional
        Scenario parameters.
    horizon : int, optional
        Most steps of an evaluation episode (see :func:`episode_returns`).
    tabular : (MarkovGame, profile), optional
        For an environment factory (or to override a scenario's projection): the discretised
        game and the frozen profile projected onto it, for the upper bound.
    device : str
    **legacy
        Deprecated (before the responder objects): ``method``, ``budget``, ``config``,
        ``greedy``, ``grid``, ``bins``, ``decision_step``; they build the responder and warn.

    Returns
    -------
    ApproximateExploitability
    """
    responder = _legacy_responder(responder, legacy)
    if not 0.0 < confidence < 1.0:
        raise InvalidArgumentError(f"confidence must be in (0, 1), got {confidence}")
    if int(episodes) != episodes or episodes < 2:
        raise InvalidArgumentError(f"episodes must be an integer >= 2, got {episodes}")
    if int(seed) != seed or seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed!r}")
    episodes = int(episodes)
    make, game, profile, scope = _resolve_source(source, policies, dict(params or {}), device,
                                                 tabular)
    probe = make(1, 0)
    num_agents = probe.num_agents
    frozen = as_callables(policies, num_agents)
    if any(p is None for p in frozen):
        raise InvalidArgumentError("every agent needs a frozen policy (the profile's values are "
                                   "evaluated too)")
    players = tuple(range(num_agents)) if players is None else tuple(int(p) for p in players)
    if not players or any(not 0 <= p < num_agents for p in players) or \
            len(set(players)) != len(players):
        raise InvalidArgumentError(f"players must be distinct indices in [0, {num_agents}), "
                                   f"got {players}")

    rows: list[tuple[float, ...]] = []
    found: list[Any] = []
    for player in players:
        # the player's own sampling: one generator, re-seeded identically for every rollout
        own_seed = derive_seed(seed, player, 1)
        own_generator = torch.Generator(device="cpu")
        own = policy_actor(frozen[player], probe.action_spaces[player],  # type: ignore[arg-type]
                           own_generator)
        response, what = responder.find(make, frozen, player, own, seed=seed, horizon=horizon,
                                        own_generator=own_generator, own_seed=own_seed)
        found.append(what)
        eval_seed = derive_seed(seed, player, 5)
        env = FrozenOpponents(make(episodes, eval_seed), frozen, player, seed=eval_seed)
        own_returns, response_returns = paired_returns(
            env, own, response, own_generator=own_generator, own_seed=own_seed, seed=eval_seed,
            horizon=horizon)
        rows.append((*estimate(own_returns), *estimate(response_returns),
                     *estimate(response_returns - own_returns)))
    table = np.array(rows)
    half = normal_quantile(confidence) * table[:, 5]
    intervals = np.stack([table[:, 4] - half, table[:, 4] + half], axis=1)

    upper, kinds, tolerance, report = None, None, None, None
    if game is not None and profile is not None:
        report = nash_conv(game, profile)
        upper, kinds, tolerance = _state_observing_gains(game, profile, players, report)
    return ApproximateExploitability(
        players, responder.method, "lower_bound", float(confidence), episodes, responder.budget,
        _readonly(table[:, 0]), _readonly(table[:, 1]), _readonly(table[:, 2]),
        _readonly(table[:, 3]), _readonly(table[:, 4]), _readonly(table[:, 5]),
        _readonly(intervals), None if upper is None else _readonly(upper), kinds,
        scope if upper is not None else None, tolerance, report, tuple(found))


#: The keyword arguments of :func:`approximate_gains` before the responder objects.
_LEGACY_OPTIONS = ("method", "budget", "config", "greedy", "grid", "bins", "decision_step")


def _legacy_responder(responder: Responder | None, legacy: Mapping[str, Any]) -> Responder:
    """The responder, built from the deprecated keyword arguments when they are given."""
    unknown = sorted(set(legacy) - set(_LEGACY_OPTIONS))
    if unknown:
        raise InvalidArgumentError(f"approximate_gains got an unexpected argument {unknown[0]!r}")
    if not legacy:
        return LearnedResponder() if responder is None else responder
    if responder is not None:
        raise InvalidArgumentError(f"pass either a responder or the deprecated options "
                                   f"({', '.join(sorted(legacy))}), not both")
    import warnings

    warnings.warn("approximate_gains(method=..., budget=..., ...) is deprecated: pass "
                  "responder=LearnedResponder(method, budget, config, greedy) or "
                  "GridResponder(grid, bins, decision_step, budget)", DeprecationWarning,
                  stacklevel=3)
    options = dict(legacy)
    method = options.pop("method", "ppo")
    if method == "grid":
        grid_options = {k: options.pop(k) for k in ("grid", "bins", "decision_step", "budget")
                        if k in options}
        options.pop("greedy", None)
        if options:
            raise InvalidArgumentError(f"method 'grid' takes no {min(options)!r}")
        return GridResponder(**grid_options)
    if method not in ("ppo", "dqn"):
        raise InvalidArgumentError(f"method must be 'ppo', 'dqn' or 'grid', got {method!r}")
    learned = {k: options.pop(k) for k in ("budget", "config", "greedy") if k in options}
    if options:
        raise InvalidArgumentError(f"method {method!r} takes no {min(options)!r} "
                                   "(grid options)")
    return LearnedResponder(method, **learned)
