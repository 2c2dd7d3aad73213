"""Policy-space response oracles (PSRO) over a market's strategy library.

PSRO (Lanctot et al. 2017, "A unified game-theoretic approach to multiagent reinforcement
learning", NeurIPS) alternates two steps. Here, as in Wellman's EGTA studies of trading agents
(Wright and Wellman 2018; Mascioli et al. 2024), the game is the role-symmetric market game
reduced by deviation-preserving reduction (:mod:`gametools.market.egta`):

1. build (or extend) the empirical game of the current strategy sets and solve it for a
   *meta-equilibrium* ``sigma`` (replicator dynamics, as ``gametools egta`` does);
2. train a best response to ``sigma`` for each trained role with a MARL learner
   (:mod:`gametools.marl`; the learning view is :class:`~gametools.market.env.MarketVectorEnv`),
   then add it to that role's strategies. Several roles (e.g. background traders and market
   makers) each get one best response per iteration, all against the same ``sigma``.

The trained policy's **gain** ``u_r(BR, sigma) - u_r(sigma)`` is a lower bound on the
meta-equilibrium's exploitability (its regret against every policy, not only the library's), in
the DPR game: the opponents of the deviating agent are drawn as the DPR game's deviation payoff
averages over (:func:`~gametools.market.egta.sample_opponents`). :func:`estimate_gain` estimates
it with **common random numbers**: each episode is simulated twice with the same seed (same
private values, arrival schedule, fundamental path and opponents), once with the deviator
playing the candidate and once playing a strategy drawn from ``sigma_r``; the per-episode
differences are i.i.d., and their mean gets a **one-sided lower confidence bound** (Student t at
level ``confidence``). PSRO stops, *converged*, when that lower bound is ``<= 0`` (the gain's
interval contains 0; with several roles, when every role's does), or after ``iterations``.
Each role's gain is a lower bound on that role's regret; the iteration's
``exploitability_lower_bound`` is their maximum with each bound taken at the Bonferroni level
``1 - (1 - confidence) / R`` (:func:`simultaneous_lower_bound`), so it bounds the
meta-equilibrium's exploitability (its largest regret over roles, as EGTA's regret) at level
``confidence``. The same estimator gives a lower bound on the
exploitability of any market strategy, a MARL-trained one included
(:func:`exploitability_lower_bound`).

Results go to ``out/``: ``psro.json`` (the settings, checked on resume, and the iterations so
far), ``egta/`` (the resumable profile store shared by all iterations) and
``iteration_<k>/{result.json, best_response.pt}`` (``best_response_<role>.pt`` per role when
several are trained). Every file is written atomically; a rerun with the same ``out`` does not
redo finished iterations (an iteration interrupted before its ``result.json`` is redone), and
the empirical game of iteration ``k + 1`` simulates only the profiles that use the new best
responses (:func:`~gametools.market.egta.build_empirical_game`).

Cost
----
Training dominates an iteration. One step of the learning view simulates the market up to the
trained agent's next arrival in all its markets at once, and its cost hardly grows with the
number of markets below a few thousand, so the defaults buy decisions with few steps over many
markets (:data:`NUM_ENVS` = 1024 markets, :data:`TRAIN_STEPS` = 49152 decisions, PPO updates
every 4 steps). The gain's paired episodes are simulated 4096 markets per batch
(:data:`GAIN_EPISODES` = 4096).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gametools._io import atomic_write, jsonable
from gametools.errors import InvalidArgumentError
from gametools.market.egta import (EgtaEquilibrium, build_empirical_game, default_players,
                                   sample_opponents, solve_empirical_game)
from gametools.market.env import LearnedStrategy, MarketVectorEnv, load_learned, save_learned
from gametools.market.simulator import MarketConfig, MarketSimulator
from gametools.market.strategies import Strategy, make_strategy

__all__ = ["GainEstimate", "BestResponse", "PsroIteration", "PsroResult", "estimate_gain",
           "train_best_response", "train_traders", "learned_strategy",
           "exploitability_lower_bound", "run_psro", "learner_config",
           "parse_roles", "response_name", "response_file", "simultaneous_lower_bound",
           "PSRO_ALGORITHMS", "TRAIN_STEPS", "NUM_ENVS", "GAIN_EPISODES"]

#: the learners PSRO trains best responses with (keys of gametools.marl.train.ALGORITHMS)
PSRO_ALGORITHMS = ("mappo", "ippo", "maddpg", "iql")

Resolve = Callable[[str], Strategy]

#: default budget of a best response: decisions and parallel markets. One environment step
#: simulates the market up to the trained agent's next arrival (about N arrivals) in all
#: ``num_envs`` markets at once, and a step's cost hardly grows with the markets until they
#: number in the thousands, so few steps over many markets buy decisions cheaply (64 agents,
#: 200 arrivals: 84 decisions per CPU-second at 32 markets, 2000 at 1024).
TRAIN_STEPS = 49_152
NUM_ENVS = 1024
#: paired episodes per gain estimate (simulated 4096 markets at a time)
GAIN_EPISODES = 4096


@dataclass(frozen=True)
class GainEstimate:
    """A candidate's payoff gain over a mixture, with a one-sided lower confidence bound.

    Attributes
    ----------
    gain : float
        Mean of the paired per-episode differences (price units).
    stderr : float
    lower : float
        ``gain - t_{n-1}(confidence) * stderr``: the true gain is at least ``lower`` with
        probability ``confidence`` (one-sided).
    confidence : float
    episodes : int
    candidate_payoff, baseline_payoff : float
        Mean payoffs of the deviator playing the candidate / a strategy drawn from the mixture.
    side : str
        ``"lower"``: the bound's side.
    method : str
    """

    gain: float
    stderr: float
    lower: float
    confidence: float
    episodes: int
    candidate_payoff: float
    baseline_payoff: float
    side: str = "lower"
    method: str = "paired episodes with common random numbers; one-sided Student t bound"

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[no-any-return]


def _resolver(resolve: Resolve, extra: Mapping[str, Strategy] | None = None) -> Resolve:
    cache: dict[str, Strategy] = dict(extra or {})

    def get(name: str) -> Strategy:
        if name not in cache:
            cache[name] = resolve(name)
        return cache[name]

    return get


def _role_index(config: MarketConfig, role: str) -> int:
    if role not in config.roles:
        raise InvalidArgumentError(f"unknown role {role!r}; roles: {', '.join(config.roles)}")
    if not config.agents_of(role):
        raise InvalidArgumentError(f"role {role!r} has no agents in this market")
    return config.roles.index(role)


def estimate_gain(config: MarketConfig, role: str, candidate: Strategy,
                  strategies: Sequence[Sequence[str]], mixture: Sequence[Sequence[float]], *,
                  players: Sequence[int] | None = None, episodes: int = GAIN_EPISODES,
                  seed: int = 0,
                  confidence: float = 0.95, resolve: Resolve = make_strategy,
                  device: str = "cpu", batch_markets: int = 4096) -> GainEstimate:
    """Estimate ``u_role(candidate, sigma) - u_role(sigma)`` with paired episodes (module
    docstring).

    Parameters
    ----------
    config : MarketConfig
    role : str
        The deviator's role (the deviator is its first agent).
    candidate : Strategy
    strategies, mixture : per role
        ``sigma``: strategy names and probabilities of every role.
    players : sequence of int, optional
        Reduced players per role: opponents are drawn as in the DPR game (default
        :func:`~gametools.market.egta.default_players`, the reduction EGTA uses).
    episodes : int
        Paired episodes (at least 2).
    confidence : float
        Level of the one-sided lower bound, in (0, 1).
    """
    from scipy import stats as scipy_stats

    r = _role_index(config, role)
    if episodes < 2:
        raise InvalidArgumentError(f"episodes must be >= 2, got {episodes}")
    if not 0.0 < confidence < 1.0:
        raise InvalidArgumentError(f"confidence must be in (0, 1), got {confidence}")
    players = tuple(default_players(config) if players is None else players)
    deviator = config.agents_of(r)[0]
    # a mixture strategy named as the candidate is the candidate: one object, same draws
    get = _resolver(resolve, {candidate.name: candidate})
    rng = np.random.default_rng(seed)
    opponents = sample_opponents(config, strategies, mixture, [deviator], count=episodes,
                                 rng=rng, players=players)
    p = np.asarray(mixture[r], dtype=np.float64)
    baseline = rng.choice(len(strategies[r]), size=episodes, p=p / p.sum())
    differences, with_candidate, with_baseline = [], [], []
    for start in range(0, episodes, batch_markets):
        stop = min(episodes, start + batch_markets)
        chunk_seed = (seed * 1_000_003 + 7 * start + 1) % 2 ** 62
        payoffs = []
        for deviation in ("candidate", "baseline"):
            profiles: list[list[Strategy]] = []
            for k in range(start, stop):
                own = candidate if deviation == "candidate" else get(strategies[r][baseline[k]])
                profiles.append([own if name is None else get(name) for name in opponents[k]])
            # the same seed: the same private values, arrivals and fundamental in both runs
            simulator = MarketSimulator(config, profiles[0], num_markets=stop - start,
                                        seed=chunk_seed, device=device, profiles=profiles)
            payoffs.append(simulator.run().profits[:, deviator])
        with_candidate.append(payoffs[0])
        with_baseline.append(payoffs[1])
        differences.append(payoffs[0] - payoffs[1])
    d = np.concatenate(differences)
    mean = float(d.mean())
    stderr = float(d.std(ddof=1) / np.sqrt(len(d)))
    quantile = float(scipy_stats.t.ppf(confidence, len(d) - 1))
    return GainEstimate(mean, stderr, mean - quantile * stderr, confidence, len(d),
                        float(np.concatenate(with_candidate).mean()),
                        float(np.concatenate(with_baseline).mean()))


def learner_config(algorithm: str, *, steps: int, num_envs: int = NUM_ENVS,
                   **changes: Any) -> Any:
    """The learner config PSRO trains best responses with: the algorithm's defaults scaled to
    ``steps`` decisions over ``num_envs`` markets (no evaluation or checkpoint passes), with
    ``changes`` on top.

    PPO (mappo, ippo) collects 4 steps of every market per update at learning rate 1e-3, so
    the default budget makes 12 updates of 4096 decisions; the off-policy learners (maddpg,
    iql) make one minibatch update per 64 decisions collected and start learning after a
    tenth of the budget.
    """
    from gametools.marl.train import make_config

    if algorithm not in PSRO_ALGORITHMS:
        raise InvalidArgumentError(f"unknown algorithm {algorithm!r}; PSRO trains with "
                                   f"{', '.join(PSRO_ALGORITHMS)}")
    fields: dict[str, Any] = {"total_steps": int(steps), "num_envs": int(num_envs),
                              "eval_interval": max(1, int(steps)), "eval_episodes": 0,
                              "checkpoint_interval": 0}
    if algorithm in ("mappo", "ippo"):
        fields.update(rollout_steps=4, learning_rate=1e-3)
    else:
        warm = max(1, min(int(steps) // 10, 10 * int(num_envs)))
        fields.update(learning_starts=warm, batch_size=256,
                      updates_per_iteration=max(1, int(num_envs) // 64),
                      buffer_size=max(50_000, 4 * int(num_envs)))
        if algorithm == "iql":
            fields.update(epsilon_fraction=0.5)
    fields.update(changes)
    return make_config(algorithm, **fields)


def train_traders(config: MarketConfig, role: str, strategies: Sequence[Sequence[str]],
                  mixture: Sequence[Sequence[float]], *, algorithm: str, controlled: int = 1,
                  steps: int = TRAIN_STEPS, num_envs: int = NUM_ENVS, seed: int = 0,
                  players: Sequence[int] | None = None, resolve: Resolve = make_strategy,
                  learner_changes: Mapping[str, Any] | None = None, device: str = "cpu",
                  progress: Callable[[int, int], None] | None = None) -> Any:
    """Train the first ``controlled`` agents of ``role`` at once with a MARL learner, every
    other agent playing a strategy drawn from ``strategies`` / ``mixture`` per episode; return
    the learner (its agent ``k`` is the role's ``k``-th agent).

    With ``controlled = 1`` this is a best response to the mixture (opponents drawn as in the
    DPR game when ``players`` is given, :func:`train_best_response`); with every agent of the
    role controlled, the role's traders learn against each other (self-play) and the other
    roles play their mixtures. ``steps`` counts environment steps summed over the
    ``num_envs`` parallel markets (one step: the next arrival of a controlled agent).
    """
    from gametools.marl.train import learner_class

    _role_index(config, role)
    players = tuple(default_players(config) if players is None else players)
    learner_settings = learner_config(algorithm, steps=steps, num_envs=num_envs,
                                      **dict(learner_changes or {}))
    env = MarketVectorEnv(config, role=role, strategies=strategies, mixture=mixture,
                          players=players, controlled=controlled, num_envs=num_envs, seed=seed,
                          device=device, resolve=_resolver(resolve))
    learner = learner_class(algorithm)(env, learner_settings, seed=seed)
    done = 0
    while done < steps:
        done += int(learner.iterate()["env_steps"])
        if progress is not None:
            progress(min(done, steps), steps)
    return learner


def train_best_response(config: MarketConfig, role: str, strategies: Sequence[Sequence[str]],
                        mixture: Sequence[Sequence[float]], *, algorithm: str,
                        steps: int = TRAIN_STEPS, num_envs: int = NUM_ENVS, seed: int = 0,
                        players: Sequence[int] | None = None, resolve: Resolve = make_strategy,
                        learner_changes: Mapping[str, Any] | None = None, device: str = "cpu",
                        progress: Callable[[int, int], None] | None = None) -> Any:
    """Train one agent of ``role`` against opponents drawn from ``sigma`` (``strategies``,
    ``mixture``) with a MARL learner; return the learner (agent 0 is the best response).

    ``steps`` counts the agent's decisions summed over the ``num_envs`` parallel markets.
    """
    return train_traders(config, role, strategies, mixture, algorithm=algorithm, controlled=1,
                         steps=steps, num_envs=num_envs, seed=seed, players=players,
                         resolve=resolve, learner_changes=learner_changes, device=device,
                         progress=progress)


def learned_strategy(learner: Any, name: str, role: str, *, agent: int = 0
                     ) -> LearnedStrategy:
    """Agent ``agent``'s policy of a learner trained in the market's learning view
    (:func:`train_traders`) as a library strategy of ``role``."""
    env = learner.env

    def policy(observations: torch.Tensor) -> torch.Tensor:
        return learner.policy(agent, observations)  # type: ignore[no-any-return]

    return LearnedStrategy(name, env.interface, policy, roles=(role,))


def exploitability_lower_bound(config: MarketConfig, role: str,
                               strategy: Strategy | str | Mapping[str, float], *,
                               algorithm: str = "mappo",
                               others: Mapping[str, Mapping[str, float]] | None = None,
                               steps: int = TRAIN_STEPS, num_envs: int = NUM_ENVS,
                               episodes: int = GAIN_EPISODES,
                               confidence: float = 0.95, seed: int = 0,
                               players: Sequence[int] | None = None,
                               learner_changes: Mapping[str, Any] | None = None,
                               resolve: Resolve = make_strategy,
                               device: str = "cpu") -> GainEstimate:
    """A lower bound on the exploitability of the profile where every agent of ``role`` plays
    ``strategy`` (e.g. a MARL-trained :class:`~gametools.market.env.LearnedStrategy`, or a
    ``learned:PATH`` name) and the other roles play ``others`` (role -> {strategy: probability};
    default their default strategies): a best response is trained against it and its gain
    estimated by :func:`estimate_gain` (a one-sided lower confidence bound at ``confidence``).

    ``strategy`` may also be a mixture {name: probability} (e.g. an EGTA equilibrium's), every
    agent of ``role`` drawing from it (opponents as in the DPR game, as EGTA's regret averages
    over): the same machinery, so the bounds of a learned strategy and of an equilibrium are
    measured alike (same learner, budget and seeds). ``resolve`` turns the names of the
    mixtures into strategies (default the library's :func:`make_strategy`).
    """
    r = _role_index(config, role)
    extra: dict[str, Strategy] = {}
    if isinstance(strategy, Mapping):
        own = [str(name) for name in strategy]
        weights = [float(strategy[name]) for name in strategy]
        if not own or any(w < 0 for w in weights) or not np.isclose(sum(weights), 1.0):
            raise InvalidArgumentError(f"the mixture of role {role!r} needs probabilities >= 0 "
                                       f"summing to 1, got {dict(strategy)}")
        target_name = "mixture"
    else:
        target = make_strategy(strategy) if isinstance(strategy, str) else strategy
        extra[target.name] = target
        own, weights, target_name = [target.name], [1.0], target.name
    strategies: list[list[str]] = []
    mixture: list[list[float]] = []
    for k, name in enumerate(config.roles):
        if k == r:
            strategies.append(own)
            mixture.append(weights)
        elif others is not None and name in others:
            strategies.append(list(others[name]))
            mixture.append([float(v) for v in others[name].values()])
        else:
            default = config.default_strategies[k] if config.default_strategies else ""
            strategies.append([default] if config.agents_of(k) else [])
            mixture.append([1.0] if config.agents_of(k) else [])
    get = _resolver(resolve, extra)
    learner = train_best_response(config, role, strategies, mixture, algorithm=algorithm,
                                  steps=steps, num_envs=num_envs, seed=seed, players=players,
                                  resolve=get, learner_changes=learner_changes,
                                  device=device)
    best = learned_strategy(learner, f"best_response_to_{target_name}", role)
    return estimate_gain(config, role, best, strategies, mixture, players=players,
                         episodes=episodes, seed=seed + 1, confidence=confidence,
                         resolve=get, device=device)


@dataclass(frozen=True)
class BestResponse:
    """One role's trained best response of a PSRO iteration and its gain over the
    meta-equilibrium (a one-sided lower confidence bound on that role's regret)."""

    role: str
    name: str
    gain: GainEstimate

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "best_response": self.name, "gain": self.gain.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BestResponse:
        return cls(str(data["role"]), str(data["best_response"]), GainEstimate(**data["gain"]))


def simultaneous_lower_bound(gains: Sequence[GainEstimate]) -> float:
    """``max(0, max_r lower_r)`` with each role's bound taken at level ``1 - (1 - c) / R``
    (Bonferroni), so that all ``R`` bounds hold together, and so their maximum, with
    probability at least ``c``: a lower bound on the meta-equilibrium's exploitability
    ``max_r`` (regret of role ``r``) at the gains' confidence ``c``. One role: ``max(0,
    lower)``."""
    from scipy import stats as scipy_stats

    best = 0.0
    for gain in gains:
        level = 1.0 - (1.0 - gain.confidence) / len(gains)
        quantile = float(scipy_stats.t.ppf(level, gain.episodes - 1))
        lower = gain.lower if len(gains) == 1 else gain.gain - quantile * gain.stderr
        best = max(best, lower)
    return best


@dataclass(frozen=True)
class PsroIteration:
    """One PSRO iteration: the meta-equilibrium, and each trained role's best response and its
    gain."""

    iteration: int
    strategies: tuple[tuple[str, ...], ...]
    meta_mixture: tuple[tuple[float, ...], ...]
    meta_status: str
    meta_regret: float
    meta_regret_upper: float
    meta_payoffs: tuple[float, ...]
    responses: tuple[BestResponse, ...]
    converged: bool
    wall_time: float
    cpu_time: float

    @property
    def best_response(self) -> str | None:
        """The first trained role's best response (the only one in single-role PSRO)."""
        return self.responses[0].name if self.responses else None

    @property
    def gain(self) -> GainEstimate | None:
        """The first trained role's gain (the only one in single-role PSRO)."""
        return self.responses[0].gain if self.responses else None

    @property
    def exploitability_lower_bound(self) -> float | None:
        """The meta-equilibrium's exploitability (its largest regret over roles) is at least
        this with the gains' confidence (:func:`simultaneous_lower_bound`; None when no best
        response was trained)."""
        if not self.responses:
            return None
        return simultaneous_lower_bound([b.gain for b in self.responses])

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "responses"}
        out["responses"] = [b.to_dict() for b in self.responses]
        out["best_response"] = self.best_response
        out["gain"] = None if self.gain is None else self.gain.to_dict()
        out["exploitability_lower_bound"] = self.exploitability_lower_bound
        return jsonable(out)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, role: str = "") -> PsroIteration:
        """Read :meth:`to_dict`'s document; ``role`` names the trained role of a single-role
        document written before the per-role ``responses`` list existed."""
        responses = tuple(BestResponse.from_dict(b) for b in data.get("responses") or ())
        if "responses" not in data and data.get("best_response") and data.get("gain"):
            responses = (BestResponse(role, str(data["best_response"]),
                                      GainEstimate(**data["gain"])),)
        return cls(int(data["iteration"]),
                   tuple(tuple(str(s) for s in names) for names in data["strategies"]),
                   tuple(tuple(float(p) for p in m) for m in data["meta_mixture"]),
                   str(data["meta_status"]), float(data["meta_regret"]),
                   float(data["meta_regret_upper"]),
                   tuple(float("nan") if p is None else float(p) for p in data["meta_payoffs"]),
                   responses, bool(data["converged"]), float(data["wall_time"]),
                   float(data["cpu_time"]))


@dataclass(frozen=True)
class PsroResult:
    """What :func:`run_psro` returns: the iterations and how the run ended.

    ``status`` is ``"converged"`` (every trained role's gain bound reached 0 in the last
    iteration), ``"max_iterations"`` or ``"failed"`` (no meta-equilibrium certified).
    """

    roles: tuple[str, ...]
    algorithm: str
    iterations: tuple[PsroIteration, ...]
    status: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        """The trained roles, comma-separated."""
        return ",".join(self.roles)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"role": self.role, "roles": list(self.roles),  # type: ignore[no-any-return]
                         "algorithm": self.algorithm, "status": self.status,
                         "settings": dict(self.settings),
                         "iterations": [it.to_dict() for it in self.iterations]})


def _meta_equilibrium(equilibria: Sequence[EgtaEquilibrium]) -> EgtaEquilibrium | None:
    certified = [e for e in equilibria if e.solver_status == "success"]
    return min(certified, key=lambda e: e.regret) if certified else None


def parse_roles(config: MarketConfig, role: str | Sequence[str]) -> tuple[str, ...]:
    """The trained roles: one name, a comma-separated list, or a sequence of names; each must
    have agents in the market, none twice."""
    names = [part.strip() for item in ([role] if isinstance(role, str) else role)
             for part in str(item).split(",") if part.strip()]
    if not names:
        raise InvalidArgumentError("give at least one role to train")
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"a role is listed twice: {', '.join(names)}")
    for name in names:
        _role_index(config, name)
    return tuple(names)


def response_name(iteration: int, role: str, *, several: bool) -> str:
    """The strategy name of a best response: ``psro<k>``, or ``psro<k>_<role>`` when several
    roles are trained."""
    return f"psro{iteration}_{role}" if several else f"psro{iteration}"


def response_file(role: str, *, several: bool) -> str:
    """The file of a best response in ``iteration_<k>/``: ``best_response.pt``, or
    ``best_response_<role>.pt`` when several roles are trained."""
    return f"best_response_{role}.pt" if several else "best_response.pt"


def run_psro(config: MarketConfig, role: str | Sequence[str],
             strategies: Sequence[Sequence[str]], *,
             algorithm: str = "mappo", iterations: int = 3, out: str | Path | None = None,
             samples: int = 16, seed: int = 0, players: Sequence[int] | None = None,
             train_steps: int = TRAIN_STEPS, num_envs: int = NUM_ENVS,
             gain_episodes: int = GAIN_EPISODES, confidence: float = 0.95, bootstrap: int = 100,
             learner_changes: Mapping[str, Any] | None = None, device: str = "cpu",
             progress: bool = False, label: str = "",
             solver: Mapping[str, Any] | None = None,
             stop_at_convergence: bool = True) -> PsroResult:
    """Run PSRO for one or several roles (module docstring).

    Parameters
    ----------
    config : MarketConfig
    role : str or sequence of str
        The roles whose best responses are trained (a name, ``"a,b"`` or a list). Each
        iteration trains one best response per role against the same meta-equilibrium and
        estimates each one's gain; the other roles keep their strategy sets.
    strategies : per role
        The initial strategy names.
    algorithm : {"mappo", "ippo", "maddpg", "iql"}
    iterations : int
        At most this many iterations (best responses per role).
    out : path, optional
        Results folder; a rerun with the same settings resumes (finished iterations are read,
        not redone, and the profiles of the empirical game are simulated once). A folder made
        with other settings is refused.
    samples : int
        Episodes per simulated profile of the empirical game.
    train_steps, num_envs : int
        Decisions of each best response's training, over ``num_envs`` parallel markets
        (:func:`learner_config`).
    gain_episodes : int
        Paired episodes of each gain estimate.
    confidence : float
        Level of each gain's one-sided lower bound.
    bootstrap : int
        Bootstrap resamples of the meta-equilibrium's regret bound.
    label : str
        Names the market in the stored settings (e.g. the scenario and its parameters).
    solver : mapping, optional
        ``time`` and ``steps`` of the replicator dynamics (see
        :func:`~gametools.market.egta.solve_empirical_game`).
    stop_at_convergence : bool
        Stop at the first converged iteration (default); otherwise run all ``iterations``,
        adding every best response (the fixed-budget PSRO of Lanctot et al.).
    """
    roles = parse_roles(config, role)
    several = len(roles) > 1
    trained = [config.roles.index(name) for name in roles]
    if algorithm not in PSRO_ALGORITHMS:
        raise InvalidArgumentError(f"unknown algorithm {algorithm!r}; PSRO trains with "
                                   f"{', '.join(PSRO_ALGORITHMS)}")
    if iterations < 1:
        raise InvalidArgumentError(f"iterations must be >= 1, got {iterations}")
    players = tuple(default_players(config) if players is None else players)
    sets = [list(names) for names in strategies]
    settings = {"market": label or repr(config), "role": ",".join(roles),
                "algorithm": algorithm,
                "initial_strategies": [list(s) for s in sets], "samples": samples,
                "seed": seed, "players": list(players), "train_steps": train_steps,
                "num_envs": num_envs, "gain_episodes": gain_episodes,
                "confidence": confidence, "bootstrap": bootstrap,
                "learner_changes": {k: repr(v) for k, v in sorted((learner_changes or
                                                                   {}).items())},
                "solver": dict(solver or {}), "stop_at_convergence": stop_at_convergence}
    folder = None if out is None else Path(out)
    learned: dict[str, Strategy] = {}
    done: list[PsroIteration] = []
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        stored = folder / "psro.json"
        if stored.exists():
            try:
                previous = json.loads(stored.read_text())["settings"]
            except (ValueError, KeyError, TypeError):
                raise InvalidArgumentError(f"{stored}: not a PSRO results file") from None
            if previous != jsonable(settings):
                changed = sorted(k for k in set(previous) | set(settings)
                                 if previous.get(k) != jsonable(settings).get(k))
                raise InvalidArgumentError(f"{folder} holds a PSRO run with other settings "
                                           f"({', '.join(changed)}); use another --out")
        k = 1
        while (folder / f"iteration_{k}" / "result.json").exists() and k <= iterations:
            item = PsroIteration.from_dict(json.loads(
                (folder / f"iteration_{k}" / "result.json").read_text()), role=roles[0])
            done.append(item)
            for response in item.responses:
                path = folder / f"iteration_{k}" / response_file(response.role,
                                                                  several=several)
                learned[response.name] = load_learned(path, response.name)
            k += 1
        for item in done:
            if not (item.converged and stop_at_convergence):
                for response in item.responses:
                    sets[config.roles.index(response.role)].append(response.name)
    library = _resolver(make_strategy)

    def resolve(name: str) -> Strategy:
        return learned[name] if name in learned else library(name)

    def say(text: str) -> None:
        if progress:
            sys.stderr.write(f"\r{text[:110]:<110}")
            sys.stderr.flush()

    def write(status: str) -> None:
        if folder is not None:
            document = PsroResult(roles, algorithm, tuple(done), status, settings).to_dict()
            atomic_write(folder / "psro.json", json.dumps(document, indent=2) + "\n")

    status = "max_iterations"
    if done and done[-1].converged and stop_at_convergence:
        status = "converged"
    elif done and done[-1].meta_status != "success":
        status = "failed"
    while status == "max_iterations" and len(done) < iterations:
        k = len(done) + 1
        wall, cpu = time.perf_counter(), time.process_time()
        say(f"PSRO iteration {k}/{iterations}: empirical game of "
            f"{' x '.join(str(len(s)) for s in sets)} strategies")

        def egta_progress(finished: int, total: int, key: str, k: int = k) -> None:
            say(f"PSRO iteration {k}/{iterations}: profiles {finished}/{total}")

        game = build_empirical_game(config, sets, players=players, samples=samples, seed=seed,
                                    out=None if folder is None else folder / "egta",
                                    device=device, progress=egta_progress, resolve=resolve)
        solved = solve_empirical_game(game, bootstrap=bootstrap, seed=seed,
                                      **dict(solver or {}))
        meta = _meta_equilibrium(solved.equilibria)
        if meta is None:
            best = solved.equilibria[0] if solved.equilibria else None
            item = PsroIteration(
                k, tuple(tuple(s) for s in sets),
                best.mixture if best else tuple(() for _ in sets), "not_certified",
                best.regret if best else float("nan"),
                best.regret_interval[1] if best else float("nan"),
                best.payoffs if best else tuple(float("nan") for _ in sets), (),
                False, time.perf_counter() - wall, time.process_time() - cpu)
            done.append(item)
            status = "failed"
            break
        mixture = [list(m) for m in meta.mixture]
        responses: list[BestResponse] = []
        new: dict[str, Strategy] = {}
        for j, name_of_role in enumerate(roles):
            # the first role's seeds are those of a single-role run; the others' lie apart
            offset = 100_000 * j

            def train_progress(finished: int, total: int, k: int = k,
                               trained_role: str = name_of_role) -> None:
                say(f"PSRO iteration {k}/{iterations}: training {algorithm} for "
                    f"{trained_role} {finished}/{total}")

            learner = train_best_response(config, name_of_role, sets, mixture,
                                          algorithm=algorithm, steps=train_steps,
                                          num_envs=num_envs, seed=seed * 1_000 + k + offset,
                                          players=players, resolve=resolve,
                                          learner_changes=learner_changes, device=device,
                                          progress=train_progress)
            name = response_name(k, name_of_role, several=several)
            strategy = learned_strategy(learner, name, name_of_role)
            if folder is not None:
                target = folder / f"iteration_{k}"
                target.mkdir(parents=True, exist_ok=True)
                save_learned(target / response_file(name_of_role, several=several), learner,
                             algorithm=algorithm, agent=0, interface=learner.env.interface,
                             role=name_of_role)
            say(f"PSRO iteration {k}/{iterations}: estimating the gain of {name}")
            gain = estimate_gain(config, name_of_role, strategy, sets, mixture,
                                 players=players, episodes=gain_episodes,
                                 seed=seed * 1_000 + k + 500 + offset, confidence=confidence,
                                 resolve=resolve, device=device)
            responses.append(BestResponse(name_of_role, name, gain))
            new[name] = strategy
        converged = all(response.gain.lower <= 0.0 for response in responses)
        item = PsroIteration(k, tuple(tuple(s) for s in sets), meta.mixture, meta.solver_status,
                             meta.regret, meta.regret_interval[1], meta.payoffs,
                             tuple(responses), converged, time.perf_counter() - wall,
                             time.process_time() - cpu)
        if folder is not None:
            atomic_write(folder / f"iteration_{k}" / "result.json",
                         json.dumps(item.to_dict(), indent=2) + "\n")
        done.append(item)
        learned.update(new)
        if converged and stop_at_convergence:
            status = "converged"
            break
        for r, response in zip(trained, responses):
            sets[r].append(response.name)
        write(status)
    if progress:
        sys.stderr.write("\n")
    write(status)
    return PsroResult(roles, algorithm, tuple(done), status, settings)
