"""Training driver: ``train(game_or_scenario, config, seed=...) -> TrainResult``.

The driver builds the vectorised environment, runs a learner, measures the exact exploitability of
its current policies at evaluation points (the policies are turned into tabular policies on the
game, see :func:`tabular_profile`), writes a tidy ``metrics.csv``, checkpoints atomically and
resumes a killed run exactly. The output folder finally holds ``game.npz`` and ``policy.npz``
(the game trained on and the final tabular joint policy, in the project's formats) so anyone can
re-evaluate with ``gametools exploit out/game.npz out/policy.npz``, plus ``result.json``.

Tabular policies
----------------
:func:`gametools.marl.adapters.as_tabular` (the one adapter, also used by the approximate best
responses) reads them. For a game run by :class:`~gametools.marl.env.TensorGameEnv`, agent
``i``'s network is queried at the one-hot encoding of each of its observation ids, giving a
``(O_i, n_i)`` policy directly. For a continuous scenario simulator, the scenario's ``projection`` supplies a representative
continuous observation for every observation id of the discretised game and maps the
deterministic action there to the nearest grid action. Recurrent agents (``recurrent=True``)
act on the observation history and have no tabular policy: their runs report training and
greedy evaluation returns, and no NashConv (``exploitability`` is ``None``, result.json says
why).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gametools._io import atomic_open, atomic_write, jsonable
from gametools.errors import GametoolsError, InvalidArgumentError
from gametools.exploitability import ExploitabilityResult, nash_conv
from gametools.extensive import nash_conv as tree_nash_conv
from gametools.extensive.markov import MarkovView, markov_from_extensive
from gametools.extensive.model import ExtensiveGame
from gametools.marl.adapters import as_tabular
from gametools.marl.best_response import ApproximateExploitability
from gametools.marl.correlated import CorrelatedGap, cce_gap
from gametools.marl.env import Reset, Step, TensorGameEnv, VectorEnv
from gametools.marl.learner import Learner, LearnerConfig
from gametools.marl.responders import Responder
from gametools.marl.parallel_env import (EnvironmentSource, is_environment_spec,
                                         is_vector_env_factory, make_vector_env,
                                         resolve_environment)
from gametools.model import MarkovGame, NormalFormGame
from gametools.policies import Profile
from gametools.scenarios import Scenario, get_scenario
from gametools.structure import sees_state

__all__ = ["ALGORITHMS", "TrainResult", "CheckpointError", "train", "make_config",
           "learner_class", "tabular_profile", "RecordEpisodes"]

#: algorithm name -> (module, class); the one table of algorithms, iterated by the tests and CLI.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "mappo": ("gametools.marl.mappo", "MAPPO"),
    "ippo": ("gametools.marl.mappo", "IPPO"),
    "maa2c": ("gametools.marl.mappo", "MAA2C"),
    "maddpg": ("gametools.marl.maddpg", "MADDPG"),
    "qmix": ("gametools.marl.qlearning", "QMIX"),
    "iql": ("gametools.marl.qlearning", "IQL"),
    "vdn": ("gametools.marl.qlearning", "VDN"),
    "central": ("gametools.marl.central", "CentralPPO"),
}

CHECKPOINT_FORMAT = 1

#: Deterministic evaluation episodes still running after this many steps report no return.
EVALUATION_STEP_LIMIT = 100_000


class CheckpointError(GametoolsError, ValueError):
    """A checkpoint that is corrupt, not a gametools checkpoint, or made for another run."""


def learner_class(algorithm: str) -> type[Learner]:
    """The learner class registered under ``algorithm``."""
    if algorithm not in ALGORITHMS:
        raise InvalidArgumentError(f"unknown algorithm {algorithm!r}; available: "
                                   f"{', '.join(ALGORITHMS)}")
    module, name = ALGORITHMS[algorithm]
    return getattr(importlib.import_module(module), name)


def make_config(algorithm: str, **fields: Any) -> LearnerConfig:
    """The algorithm's default config with ``fields`` changed (strings are parsed)."""
    return learner_class(algorithm).config_type().replace(**fields)


# ------------------------------------------------------------------------------------------
# episode statistics
# ------------------------------------------------------------------------------------------

class RecordEpisodes(VectorEnv):
    """Wraps a :class:`VectorEnv` and records the undiscounted return of finished episodes."""

    def __init__(self, env: VectorEnv) -> None:
        self.inner = env
        for name in ("num_agents", "num_envs", "device", "observation_sizes", "state_size",
                     "action_spaces", "discount"):
            setattr(self, name, getattr(env, name))
        # kept on the environment's device and updated without branching on tensor values: no
        # host copy or synchronisation per step (the totals are read at evaluation points)
        device = env.device
        self._running = torch.zeros(env.num_envs, env.num_agents, dtype=torch.float64,
                                    device=device)
        self._sum = torch.zeros(env.num_agents, dtype=torch.float64, device=device)
        self._count = torch.zeros((), dtype=torch.int64, device=device)

    @property
    def cooperative(self) -> bool:
        return self.inner.cooperative

    @property
    def episode_limit(self) -> int | None:
        return self.inner.episode_limit

    @property
    def action_masks(self) -> bool:
        return self.inner.action_masks

    def legal_actions(self, agent: int, observations: torch.Tensor) -> torch.Tensor | None:
        return self.inner.legal_actions(agent, observations)

    def reset(self, *, seed: int | None = None) -> Reset:
        self._running.zero_()
        return self.inner.reset(seed=seed)

    def observe(self) -> Reset:
        return self.inner.observe()

    def step(self, actions: Sequence[torch.Tensor]) -> Step:
        step = self.inner.step(actions)
        self._running += step.rewards.double()
        done = (step.terminated | step.truncated)[:, None]
        self._sum += torch.where(done, self._running, 0.0).sum(0)
        self._count += done.sum()
        self._running.masked_fill_(done, 0.0)
        return step

    def pop_returns(self) -> np.ndarray:
        """Mean return per agent of the episodes finished since the last call (nan if none)."""
        count = int(self._count)
        mean = (self._sum / count).cpu().numpy() if count else np.full(self.num_agents, np.nan)
        self._sum.zero_()
        self._count.zero_()
        return mean

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "running": self._running.cpu().clone(),
                "sum": self._sum.cpu().clone(), "count": self._count.cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        device = self.device
        self._running = state["running"].to(device).clone()
        self._sum = state["sum"].to(device).clone()
        self._count = torch.as_tensor(state["count"]).to(device).clone()


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    algorithm : str
    seed : int
    config : LearnerConfig
    profile : tuple of ndarray or None
        The final tabular joint policy on ``game``, ``(O_i, n_i)`` per agent. For a correlated
        (centralised) learner, each agent's marginal of its joint policy (``None`` unless every
        agent observes the state): a view, not the policy it plays. ``None`` for recurrent
        agents (their policies depend on the observation history).
    exploitability : ExploitabilityResult or CorrelatedGap or None
        Exact (or bounded) NashConv of ``profile``; for a correlated learner, the values of its
        joint policy and its coarse-correlated-equilibrium gap (``concept ==
        "coarse_correlated"``); ``None`` for an outside environment or recurrent agents (their
        metrics rows have ``kind == "none"``).
    metrics : tuple of dict
        One row per evaluation point (``step``, ``wall_time``, ``return_i``, then ``nash_conv``
        or ``cce_gap``, ``gain_i``, ``value_i``, ``kind``).
    joint_policy : ndarray or None
        A correlated learner's joint policy ``(S, A)``.
    approximate : ApproximateExploitability or None
        For an outside environment: learned best-response *lower bounds* on each agent's
        deviation gain, with confidence intervals (``best_response`` of :func:`train`).
    tree : MarkovView or None
        For a game tree (an OpenSpiel game, ``.efg`` file or
        :class:`~gametools.extensive.ExtensiveGame`): the tree and its Markov game ``game``
        (:func:`~gametools.extensive.markov_from_extensive`), on which the Markov NashConv
        equals the tree's; :meth:`behaviour_profile` gives the policy on the tree.
    game : MarkovGame
    out : Path or None
    """

    algorithm: str
    seed: int
    config: LearnerConfig
    profile: Profile | None
    exploitability: ExploitabilityResult | CorrelatedGap | None
    metrics: tuple[dict[str, Any], ...]
    game: MarkovGame | None
    out: Path | None
    steps: int
    wall_time: float
    joint_policy: np.ndarray | None = None
    tree: MarkovView | None = None
    approximate: ApproximateExploitability | None = None

    def behaviour_profile(self) -> list[np.ndarray]:
        """The final policy as a behaviour profile of the game tree trained on (an
        :class:`~gametools.extensive.ExtensiveGame` or OpenSpiel game), one flat vector per
        player, for :func:`gametools.extensive.nash_conv`.

        Raises
        ------
        InvalidArgumentError
            When the run was not on a game tree or has no tabular policy.
        """
        if self.tree is None or self.profile is None:
            raise InvalidArgumentError("this run was not on a game tree (or has no tabular "
                                       "policy): no behaviour profile")
        return self.tree.behaviour(self.profile)

    def nash_report(self) -> tuple[MarkovGame, Profile, ExploitabilityResult]:
        """``(game, profile, NashConv report)`` of a run of per-agent policies on a tabular game.

        Raises
        ------
        InvalidArgumentError
            For a correlated (centralised) learner, whose ``exploitability`` is a
            :class:`~gametools.marl.correlated.CorrelatedGap`, and for an outside environment
            (no tabular game).
        """
        report = self.exploitability
        if self.game is None or self.profile is None or not isinstance(report,
                                                                       ExploitabilityResult):
            raise InvalidArgumentError(f"{self.algorithm}'s run has no NashConv of per-agent "
                                       "policies (a correlated learner reports a CCE gap; an "
                                       "outside environment has no tabular game)")
        return self.game, self.profile, report


# ------------------------------------------------------------------------------------------
# tabular policies
# ------------------------------------------------------------------------------------------

def tabular_profile(learner: Learner, game: MarkovGame, scenario: Scenario | None = None,
                    params: Mapping[str, Any] | None = None) -> Profile:
    """The learner's current policies as a tabular profile on ``game``
    (:func:`gametools.marl.adapters.as_tabular`, the one adapter).

    Raises
    ------
    InvalidArgumentError
        For recurrent agents, whose policies depend on the observation history.
    """
    return as_tabular(learner, game, scenario=scenario, params=params)


# ------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------

def _fingerprint(game: MarkovGame) -> str:
    digest = hashlib.sha256()
    matrix = game.transition_matrix
    for array in (matrix.data, matrix.indices, matrix.indptr, game.rewards, game.initial,
                  game.terminal, game.observations, np.array([game.discount])):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _save_checkpoint(path: Path, document: dict[str, Any]) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save(document, handle)


def _load_checkpoint(path: Path, expected: Mapping[str, Any]) -> dict[str, Any]:
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        # the type only: torch's message suggests weights_only=False, i.e. running code
        raise CheckpointError(f"{path}: not a readable gametools checkpoint "
                              f"({type(exc).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a gametools checkpoint (format "
                              f"{document.get('format') if isinstance(document, dict) else '?'})")
    for key, value in expected.items():
        saved = document.get(key)
        if key == "config" and isinstance(saved, dict) and isinstance(value, dict):
            # total_steps may grow (extending a finished run); fields added to the config since
            # the checkpoint was written compare at their defaults
            saved = {**value, **saved, "total_steps": value.get("total_steps")}
            saved = {k: v for k, v in saved.items() if k in value}
        if saved == value:
            continue
        if key == "config" and isinstance(saved, dict):
            changed = sorted(k for k in set(saved) | set(value) if saved.get(k) != value.get(k))
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {value.get(k)!r}" for k in changed)
        elif key == "game":
            detail = "the game's arrays differ"
        else:
            detail = f"{saved!r} -> {value!r}"
        raise CheckpointError(f"{path}: checkpoint was made with a different {key} ({detail}); "
                              "a resumed run must use the same settings (use another --out "
                              "folder or drop --resume)")
    return document


# ------------------------------------------------------------------------------------------
# the driver
# ------------------------------------------------------------------------------------------

def _is_parallel_env_factory(target: Any) -> bool:
    """A PettingZoo ParallelEnv class, a module with ``parallel_env``, a multi-agent vector
    environment class (its constructor names ``num_envs``), or an EnvironmentSource."""
    if isinstance(target, EnvironmentSource) or (isinstance(target, type)
                                                 and is_vector_env_factory(target)):
        return True
    if hasattr(target, "parallel_env") and callable(target.parallel_env):
        return True
    try:
        from pettingzoo import ParallelEnv
    except ImportError:
        return False
    return isinstance(target, type) and issubclass(target, ParallelEnv)


def _openspiel_game(spec: Any) -> NormalFormGame | ExtensiveGame:
    """An OpenSpiel game (a game string or a loaded ``pyspiel.Game``): normal-form when
    one-shot, else its unrolled tree."""
    try:
        from gametools.interop.openspiel import (extensive_from_openspiel, from_openspiel,
                                                 is_normal_form, load_openspiel)
    except ImportError:
        raise InvalidArgumentError("OpenSpiel games need OpenSpiel: pip install open_spiel"
                                   ) from None
    game = load_openspiel(spec) if isinstance(spec, str) else spec
    return from_openspiel(game) if is_normal_form(game) else extensive_from_openspiel(game).game


def _is_openspiel_game(target: Any) -> bool:
    return type(target).__module__ == "pyspiel" and hasattr(target, "new_initial_state")


def _tree_view(tree: ExtensiveGame) -> MarkovView:
    """The tree as the Markov game the learners run on (:func:`markov_from_extensive`)."""
    from gametools.errors import UnsupportedGameError

    try:
        return markov_from_extensive(tree)
    except UnsupportedGameError as exc:
        raise InvalidArgumentError(f"this game tree is not a Markov game the learners can run "
                                   f"on ({exc})") from None


def _resolve_game(game_or_scenario: Any, params: Mapping[str, Any]
                  ) -> tuple[MarkovGame | None, Scenario | None, dict[str, Any],
                             EnvironmentSource | None, MarkovView | None]:
    """(game, scenario, resolved params, outside environment, tree view) of what
    :func:`train` was given."""
    scenario = None
    resolved: dict[str, Any] = {}
    target = game_or_scenario
    if isinstance(target, str) and target.startswith("openspiel:"):
        if params:
            raise InvalidArgumentError("params apply to scenarios and environments; put "
                                       "OpenSpiel parameters in the game string, e.g. "
                                       "openspiel:goofspiel(num_cards=4)")
        target = _openspiel_game(target[len("openspiel:"):])
    elif _is_openspiel_game(target):
        target = _openspiel_game(target)
    if isinstance(target, (str, os.PathLike)):
        text = os.fspath(target)
        path = Path(text)
        if path.suffix.lower() in (".npz", ".nfg", ".efg") or path.is_file():
            if params:
                raise InvalidArgumentError("params apply to scenarios and environments, not to "
                                           "game files")
            from gametools.formats import read_game
            target = read_game(path)
        elif is_environment_spec(text):
            return None, None, dict(params), resolve_environment(text, params), None
        else:
            target = get_scenario(text)
    if _is_parallel_env_factory(target) or (callable(target) and not isinstance(
            target, (Scenario, MarkovGame, NormalFormGame, ExtensiveGame, type))):
        return None, None, dict(params), resolve_environment(target, params), None
    view = None
    if isinstance(target, ExtensiveGame):
        if params:
            raise InvalidArgumentError("params apply to scenarios and environments, not to "
                                       "game trees")
        view = _tree_view(target)
        target = view.markov
    if isinstance(target, Scenario):
        scenario = target
        resolved = scenario.resolve(**params)
        game = scenario.builder(**resolved)
    else:
        if params:
            raise InvalidArgumentError("params apply to scenarios and environments, not to game "
                                       "objects")
        game = target
    if isinstance(game, NormalFormGame):
        game = game.to_markov_game()
    if not isinstance(game, MarkovGame):
        raise InvalidArgumentError(f"expected a MarkovGame, NormalFormGame, ExtensiveGame, game "
                                   f"file, OpenSpiel game, scenario or PettingZoo ParallelEnv "
                                   f"factory, got {type(game).__name__}")
    return game, scenario, resolved, None, view


def _make_env(game: MarkovGame | None, scenario: Scenario | None, resolved: Mapping[str, Any],
              source: EnvironmentSource | None, learner_type: type[Learner],
              config: LearnerConfig, seed: int, device: str,
              view: MarkovView | None = None) -> VectorEnv:
    if source is not None:
        return make_vector_env(source, num_envs=config.num_envs, seed=seed, device=device)
    assert game is not None
    if learner_type.supports_continuous and scenario is not None and scenario.simulator:
        return scenario.simulator(num_envs=config.num_envs, seed=seed, device=device,
                                  **resolved)
    return TensorGameEnv(game, num_envs=config.num_envs, seed=seed,
                         max_steps=config.max_episode_steps, device=device,
                         legal_actions=None if view is None else view.legal)


def _write_metrics(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, text.getvalue())


def train(game_or_scenario: Any, config: LearnerConfig | None = None, *, algorithm: str | None
          = None, seed: int = 0, params: Mapping[str, Any] | None = None,
          out: str | os.PathLike[str] | None = None, resume: bool = False,
          progress: bool = False, device: str = "cpu", tensorboard: bool = False,
          best_response: bool | Responder | None = False, best_response_episodes: int = 1000
          ) -> TrainResult:
    """Train one algorithm on a game or scenario and measure its exploitability.

    Parameters
    ----------
    game_or_scenario : MarkovGame, NormalFormGame, ExtensiveGame, Scenario, str, a pyspiel game,
            or a PettingZoo environment
        A string is a game file (``.npz``, ``.nfg``, ``.efg``), an OpenSpiel game string
        (``"openspiel:kuhn_poker"``), an import path of an environment
        (``"pettingzoo:mpe2.simple_spread_v3"``, ``"package.module:factory"``) or a scenario
        name (:func:`gametools.scenarios.get_scenario`). A one-shot OpenSpiel game is its
        normal form; any other game tree (OpenSpiel, ``.efg``, ``ExtensiveGame``) is trained
        on as its Markov game (:func:`~gametools.extensive.markov_from_extensive`, which needs
        perfect recall), with legal-action masks where a player's infosets have different
        numbers of actions (Leduc poker): the learners never take an illegal action (MADDPG
        only with feed-forward actors; the centralised learner refuses masks). Its NashConv is
        exact, measured on the tree itself (metrics column ``measured_on`` = ``tree``;
        ``TrainResult.tree``, :meth:`TrainResult.behaviour_profile`). An environment is a
        PettingZoo ``ParallelEnv`` factory, class, or module with ``parallel_env``, a
        multi-agent vector environment (a factory or class whose signature names ``num_envs``:
        :class:`~gametools.marl.parallel_env.VectorParallelEnvAdapter`), or an
        :class:`~gametools.marl.parallel_env.EnvironmentSource`; it has no tabular game, so the
        run reports returns and no NashConv (``exploitability`` is ``None``), and learned
        best-response lower bounds when ``best_response`` asks for them.
    config : LearnerConfig, optional
        The algorithm's config (its type selects the algorithm); defaults when absent.
    algorithm : str, optional
        A key of :data:`ALGORITHMS`; needed when ``config`` is absent.
    seed : int
        Seeds the environment and the learner (same seed, same metrics).
    params : mapping, optional
        Scenario parameters, or the environment factory's keyword arguments.
    out : path, optional
        Output folder for metrics, checkpoints, ``game.npz``, ``policy.npz``, ``result.json``.
    resume : bool
        Continue from ``out/checkpoint.pt`` when it exists (refused if it belongs to another run).
        A killed run resumes exactly (on CPU, the same metrics and policies as an uninterrupted
        run). A finished run is *extended* by resuming it with a larger ``config.total_steps``;
        schedules defined by ``total_steps`` (IQL/QMIX's epsilon annealing) then follow the new
        total from the resume point on, so an extended run equals an uninterrupted run of the
        new length only for learners without such schedules.
    progress : bool
        Show a progress bar (a widget in notebooks).
    tensorboard : bool
        Also write every metrics row to TensorBoard event files in ``out/tensorboard`` (needs
        the ``tensorboard`` package).
    device : {"cpu", "cuda"}
    best_response : bool, LearnedResponder or GridResponder, optional
        For an outside environment (no tabular game, so no exact NashConv): at the end of the
        run, find a best responder for each agent against the others' frozen final policies
        and report the Monte-Carlo estimate of its gain, a *lower bound* on the agent's
        deviation gain with a confidence interval
        (:func:`gametools.marl.best_response.approximate_gains`; ``TrainResult.approximate``,
        ``result.json`` ``approximate_exploitability``, the last metrics row's
        ``gain_lower_bound_i``, ``gain_ci_low_i``, ``gain_ci_high_i``,
        ``nash_conv_lower_bound``, kind ``lower_bound``). ``False`` (default) skips it (its
        cost depends on the environment's step cost: about ``2 * best_response_episodes``
        episodes and the responder's training per agent); ``None`` (``gametools train``'s
        default, ``--best-response auto``) does it when it applies (per-agent feedforward
        policies with discrete actions) and the run is small
        (``total_steps <= AUTO_BEST_RESPONSE_STEPS``), with a ``LearnedResponder`` (PPO)
        trained about as long as the run (``total_steps`` clipped to [1024, 20000] steps per
        agent); ``True`` requires it; a responder object sets how the responders are found.
        Ignored for tabular games (their NashConv is exact).
    best_response_episodes : int
        Fresh evaluation episodes per agent for the lower bounds.

    Returns
    -------
    TrainResult
    """
    if config is None:
        if algorithm is None:
            raise InvalidArgumentError("give a config or an algorithm name")
        config = make_config(algorithm)
    if algorithm is None:
        names = [name for name in ALGORITHMS if learner_class(name).config_type is type(config)]
        if len(names) != 1:
            raise InvalidArgumentError(f"{type(config).__name__} serves several algorithms "
                                       f"({', '.join(names)}); name one")
        algorithm = names[0]
    learner_type = learner_class(algorithm)
    if not isinstance(config, learner_type.config_type):
        raise InvalidArgumentError(f"{algorithm} needs a {learner_type.config_type.__name__}, "
                                   f"got {type(config).__name__}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidArgumentError("device 'cuda' requested but torch sees no CUDA GPU")
    game, scenario, resolved, source, view = _resolve_game(game_or_scenario, dict(params or {}))
    env = RecordEpisodes(_make_env(game, scenario, resolved, source, learner_type, config, seed,
                                   device, view))
    learner = learner_type(env, config, seed=seed)
    env.reset(seed=seed)

    folder = None if out is None else Path(out)
    checkpoint = None if folder is None else folder / "checkpoint.pt"
    identity = {"algorithm": algorithm, "seed": int(seed), "config": config.to_dict(),
                "game": _fingerprint(game) if game is not None else
                source.fingerprint() if source is not None else ""}
    steps, rows, elapsed = 0, [], 0.0
    # learner statistics (losses, entropy, epsilon, gradient norms) summed since the last row
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        if resume and checkpoint is not None and checkpoint.exists():
            document = _load_checkpoint(checkpoint, identity)
            try:  # a tampered checkpoint that keeps the run's identity is still refused
                learner.load_state_dict(document["learner"])
                env.load_state_dict(document["env"])
                steps, rows, elapsed = int(document["steps"]), list(document["metrics"]), \
                    float(document["wall_time"])
                if steps < 0 or not 0 <= elapsed < math.inf:
                    raise ValueError(f"steps {steps} or wall time {elapsed} out of range")
                if not rows or not all(isinstance(row, dict) and "step" in row for row in rows):
                    raise ValueError("metrics must be a non-empty list of rows with a step")
                sums = {str(k): float(v)
                        for k, v in dict(document.get("statistic_sums", {})).items()}
                counts = {str(k): int(v)
                          for k, v in dict(document.get("statistic_counts", {})).items()}
            except (KeyError, IndexError, TypeError, ValueError, RuntimeError,
                    AttributeError, OverflowError) as exc:
                raise CheckpointError(f"{checkpoint}: damaged checkpoint ({type(exc).__name__}: "
                                      f"{str(exc)[:200]})") from None
            if steps > config.total_steps:
                raise CheckpointError(f"{checkpoint}: the run is already at {steps} steps, "
                                      f"beyond total_steps={config.total_steps}; raise "
                                      "total_steps to extend it")
        elif checkpoint is not None and checkpoint.exists() and not resume:
            checkpoint.unlink()  # a fresh run must not be resumed from an older one later

    def measure() -> ExploitabilityResult | CorrelatedGap | None:
        if game is None:  # an outside environment: no tabular game to measure on
            return None
        if learner.recurrent:  # a history-dependent policy: a tabular NashConv measures another
            return None
        if learner.correlated:
            return cce_gap(game, learner.joint_policy())
        profile = tabular_profile(learner, game, scenario, resolved)
        if view is not None:  # a game tree: exact NashConv on the tree itself
            return tree_nash_conv(view.game, view.behaviour(profile))
        return nash_conv(game, profile)

    evaluation_env: list[VectorEnv] = []

    @torch.no_grad()
    def evaluation_returns() -> np.ndarray:
        """Mean undiscounted return of ``eval_episodes`` greedy episodes (one per copy)."""
        if config.eval_episodes == 0:
            return np.zeros(0)
        if not evaluation_env:
            evaluation_env.append(_make_env(game, scenario, resolved, source, learner_type,
                                            config.replace(num_envs=config.eval_episodes),
                                            seed, device, view))
        copies = evaluation_env[0]
        # seeded by the step: the same episodes in an uninterrupted and in a resumed run
        current = copies.reset(seed=(int(seed) * 1_000_003 + steps + 1) % 2 ** 62)
        totals = torch.zeros(copies.num_envs, copies.num_agents, dtype=torch.float64,
                             device=copies.device)
        done = torch.zeros(copies.num_envs, dtype=torch.bool, device=copies.device)
        memory = learner.initial_memory(copies.num_envs)
        for _ in range(EVALUATION_STEP_LIMIT):
            actions, memory = learner.act(current, memory)
            step = copies.step(actions)
            totals += step.rewards.double() * (~done)[:, None]
            done |= step.terminated | step.truncated
            if bool(done.all()):  # one synchronisation per evaluation step, not in training
                break
            current = Reset(step.observations, step.state)
        else:
            return np.full(copies.num_agents, np.nan)  # episodes that never end: no return
        return totals.mean(dim=0).cpu().numpy()

    def evaluate() -> ExploitabilityResult | CorrelatedGap | None:
        report = measure()
        returns = env.pop_returns()
        row: dict[str, Any] = {"step": steps, "wall_time": round(elapsed + time.perf_counter()
                                                                 - started, 3)}
        row.update({f"return_{i}": float(r) for i, r in enumerate(returns)})
        row.update({f"eval_return_{i}": float(r) for i, r in enumerate(evaluation_returns())})
        row.update({name: sums[name] / counts[name] for name in sorted(sums)})
        sums.clear()
        counts.clear()
        if writer is not None:
            for name, value in row.items():
                if isinstance(value, (int, float)) and name != "step" and value == value:
                    writer.add_scalar(name, value, steps)
            writer.flush()
        if report is None:
            row["kind"] = "none"
            rows.append(row)
            return report
        if isinstance(report, CorrelatedGap):
            row["cce_gap"] = report.gap
        else:
            row["nash_conv"] = report.nash_conv
        row.update({f"gain_{i}": float(g) for i, g in enumerate(report.per_player)})
        row.update({f"value_{i}": float(v) for i, v in enumerate(report.values)})
        row["kind"] = report.kind
        if view is not None:
            row["measured_on"] = "tree"
        rows.append(row)
        return report

    def save() -> None:
        if checkpoint is None:
            return
        _save_checkpoint(checkpoint, {
            "format": CHECKPOINT_FORMAT, **identity, "steps": steps,
            "learner": learner.state_dict(), "env": env.state_dict(), "metrics": rows,
            "statistic_sums": dict(sums), "statistic_counts": dict(counts),
            "wall_time": elapsed + time.perf_counter() - started})
        _write_metrics(folder / "metrics.csv", rows)  # type: ignore[operator]

    started = time.perf_counter()
    writer = None
    if tensorboard:
        if folder is None:
            raise InvalidArgumentError("tensorboard logging needs an output folder (out=...)")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise InvalidArgumentError("tensorboard logging needs the tensorboard package: "
                                       "pip install tensorboard") from None
        writer = SummaryWriter(log_dir=str(folder / "tensorboard"))
    bar = None
    if progress:
        from tqdm.auto import tqdm  # a widget in notebooks, text in terminals
        bar = tqdm(total=config.total_steps, initial=steps, unit="step", desc=algorithm,
                   dynamic_ncols=True)
    if steps == 0:
        evaluate()
    next_eval = (steps // config.eval_interval + 1) * config.eval_interval
    interval = config.checkpoint_interval
    next_checkpoint = math.inf if not interval else (steps // interval + 1) * interval
    while steps < config.total_steps:
        stats = learner.iterate()
        consumed = int(stats.pop("env_steps"))
        for name, value in stats.items():
            sums[name] = sums.get(name, 0.0) + float(value)
            counts[name] = counts.get(name, 0) + 1
        steps += consumed
        if bar is not None:
            bar.update(consumed)
            label = next((c for c in ("cce_gap", "nash_conv", "return_0") if c in rows[-1]),
                         "step")
            bar.set_postfix({label: f"{rows[-1][label]:.3g}"})
        if steps >= next_eval and steps < config.total_steps:
            evaluate()
            next_eval += config.eval_interval * max(1, (steps - next_eval) //
                                                    config.eval_interval + 1)
        if steps >= next_checkpoint and steps < config.total_steps:
            save()
            next_checkpoint += interval * max(1, (steps - next_checkpoint) // interval + 1)
    # a resumed run that had already finished keeps its final evaluation instead of repeating it
    report = evaluate() if rows[-1]["step"] != steps else measure()
    approximate, skipped = None, None
    if source is not None:
        responder, skipped = _best_response_plan(best_response, learner, config)
        if responder is not None:
            approximate = _lower_bounds(source, learner, responder, best_response_episodes,
                                        seed, device)
            rows[-1].update(_lower_bound_columns(approximate))
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    elapsed += time.perf_counter() - started
    joint = learner.joint_policy() if learner.correlated and game is not None else None
    profile = None
    if game is not None and not learner.recurrent and (joint is None or sees_state(game)):
        profile = tabular_profile(learner, game, scenario, resolved)
    if folder is not None:
        from gametools.formats.npz import save_game, save_profile
        save()
        if game is not None:
            save_game(folder / "game.npz", game)
        if profile is not None:
            save_profile(folder / "policy.npz", profile)
        if joint is not None and game is not None:
            with atomic_open(folder / "joint_policy.npz", "wb") as handle:
                np.savez(handle, joint=joint.reshape(game.num_states, *game.num_actions))
        summary = {"algorithm": algorithm, "seed": seed, "config": config.to_dict(),
                   "steps": steps, "wall_time": elapsed,
                   "exploitability": None if report is None else report.to_dict(),
                   "scenario": None if scenario is None else scenario.name,
                   "params": resolved if source is None else {k: repr(v) for k, v in
                                                              resolved.items()}}
        if source is not None:
            summary["environment"] = source.name
            summary["exploitability_note"] = (
                "an outside environment has no tabular game: no exact NashConv; "
                + ("approximate_exploitability holds learned best-response lower bounds on "
                   "each agent's deviation gain, with confidence intervals"
                   if approximate is not None else f"no lower bounds were estimated ({skipped})"))
            if approximate is not None:
                summary["approximate_exploitability"] = approximate.to_dict()
        elif learner.recurrent:
            summary["exploitability_note"] = (
                "recurrent agents act on the observation history: they have no tabular policy, "
                "so no NashConv is computed (metrics.csv holds their training and greedy "
                "evaluation returns)")
        if view is not None:
            summary["tree"] = _tree_summary(view, profile)
        if joint is not None:
            summary["policy"] = ("joint_policy.npz holds the correlated joint policy played; "
                                 "policy.npz (fully observed games only) its per-agent "
                                 "marginals, a different policy")
        if profile is not None:
            if scenario is not None and scenario.summarize is not None:
                summary["summary"] = jsonable(scenario.summarize(game, profile, **resolved))
            summary["equilibrium"] = (
                {"skipped": "a game tree's Markov game: solve the tree with `gametools solve`"}
                if view is not None
                else _compare_with_equilibrium(game, profile))  # type: ignore[arg-type]
        if scenario is not None and scenario.reference is not None:
            summary["reference"] = jsonable(scenario.reference(**resolved))
        atomic_write(folder / "result.json", json.dumps(jsonable(summary), indent=2,
                                                        allow_nan=False))
    return TrainResult(algorithm, seed, config, profile, report, tuple(rows), game, folder,
                       steps, elapsed, joint, view, approximate)


#: Runs up to this many steps on an outside environment estimate learned best-response lower
#: bounds when asked to decide (``best_response=None``, the command line's default): the
#: responders' training is then not much
#: longer than the run itself.
AUTO_BEST_RESPONSE_STEPS = 100_000


def _best_response_plan(requested: bool | Responder | None, learner: Learner,
                        config: LearnerConfig) -> tuple[Responder | None, str | None]:
    """The responder to run at the end of training on an outside environment, or why none."""
    from gametools.marl.responders import DEFAULT_TRAINING_STEPS, LearnedResponder

    if requested is False:
        return None, ("not requested: best_response=True, or --best-response on|auto on the "
                      "command line")
    reason = None
    if learner.recurrent:
        reason = "recurrent agents act on the observation history; responders need feedforward"
    elif learner.correlated:
        reason = ("a correlated learner plays one joint policy; per-agent deviations from it "
                  "are not measured here")
    elif (requested is None or requested is True or isinstance(requested, LearnedResponder)) \
            and not learner.discrete:
        reason = ("learned responders need discrete actions (pass a GridResponder for "
                  "one-shot continuous decisions)")
    if reason is not None:
        if requested is not None:
            raise InvalidArgumentError(f"best_response: {reason}")
        return None, reason
    if requested is None and config.total_steps > AUTO_BEST_RESPONSE_STEPS:
        return None, (f"total_steps > {AUTO_BEST_RESPONSE_STEPS}; pass best_response=True "
                      "(--best-response on) to estimate them")
    if requested is None or requested is True:
        # trained about as long as the run (at least 1,024 and at most 20,000 steps)
        budget = min(DEFAULT_TRAINING_STEPS, max(1024, int(config.total_steps)))
        return LearnedResponder(budget=budget), None
    return requested, None


def _lower_bounds(source: EnvironmentSource, learner: Learner, responder: Responder,
                  episodes: int, seed: int, device: str) -> ApproximateExploitability:
    """Learned best-response lower bounds on every agent's gain against the final policies."""
    import functools

    from gametools.marl.best_response import approximate_gains

    make = functools.partial(make_vector_env, source, device=device)
    return approximate_gains(make, learner, responder, episodes=episodes, seed=int(seed),
                             device=device)


def _lower_bound_columns(approximate: ApproximateExploitability) -> dict[str, Any]:
    """The lower bounds as metrics columns (kind ``lower_bound``)."""
    row: dict[str, Any] = {"nash_conv_lower_bound": approximate.nash_conv}
    for player, gain, (low, high) in zip(approximate.players, approximate.gains,
                                         approximate.gain_intervals):
        row[f"gain_lower_bound_{player}"] = float(gain)
        row[f"gain_ci_low_{player}"] = float(low)
        row[f"gain_ci_high_{player}"] = float(high)
    row["kind"] = "lower_bound"
    return row


def _tree_summary(view: MarkovView, profile: Profile | None) -> dict[str, Any]:
    """What result.json says about a run on a game tree: the tree's own exact NashConv of the
    final policy (``exploitability`` is the same number)."""
    summary: dict[str, Any] = {
        "note": "the game tree was trained on as its Markov game (game.npz, "
                "gametools.extensive.markov_from_extensive); NashConv is measured on the tree "
                "itself (gametools.extensive.nash_conv of the behaviour profile)"}
    if view.legal is not None:
        summary["legal_action_masks"] = (
            "infosets with fewer actions than the player's largest have the extra actions "
            "illegal: the learners never take them and the policies give them probability "
            "zero (in game.npz an illegal action moves as the infoset's first action)")
    if profile is not None:
        summary["nash_conv"] = tree_nash_conv(view.game, view.behaviour(profile)).to_dict()
    return summary


#: Games up to this many (state, joint action) rows are solved for the comparison in result.json.
COMPARISON_SIZE_LIMIT = 100_000


def _compare_with_equilibrium(game: MarkovGame, profile: Profile) -> dict[str, Any]:
    """Nearest computed equilibrium: its distance in policy space and the value differences.

    Uses :func:`gametools.solvers.solve` (all equilibria when its default method enumerates
    them); skipped, with the reason, for large games or when no solver applies.
    """
    from gametools.exploitability import policy_distance, policy_values
    from gametools.solvers import solve

    if game.num_states * game.num_joint_actions > COMPARISON_SIZE_LIMIT:
        return {"skipped": f"game larger than {COMPARISON_SIZE_LIMIT} (state, action) rows"}
    try:
        try:  # every equilibrium when the method can enumerate them, else the default one
            result = solve(game, all_equilibria=True)
        except InvalidArgumentError:
            result = solve(game)
    except GametoolsError as exc:
        return {"skipped": str(exc)}
    if not result.equilibria:
        return {"method": result.method, "status": result.status, "skipped": "no equilibrium"}
    distances = [policy_distance(game, profile, e.strategies) for e in result.equilibria]
    nearest = int(np.argmin(distances))
    equilibrium = result.equilibria[nearest]
    values = policy_values(game, profile)
    return {"method": result.method, "status": result.status,
            "equilibrium_regret": float(equilibrium.regret), "distance": distances[nearest],
            "equilibrium_values": [float(v) for v in equilibrium.payoffs],
            "value_differences": [float(v - w) for v, w in zip(values, equilibrium.payoffs)],
            "strategies": jsonable(equilibrium.strategies)}
