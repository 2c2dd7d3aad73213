"""Empirical game-theoretic analysis of market strategies (Wellman 2006).

A market with ``N_r`` agents in role ``r`` and a strategy set ``S_r`` per role is a
*role-symmetric* game: an agent's payoff depends on its own strategy and on how many agents of
each role play each strategy. It is estimated by simulation and reduced with
**deviation-preserving reduction** (DPR; Wiedenbeck and Wellman 2012) to a game with ``n_r``
players per role: in the reduced profile ``P`` (``P[r][s]`` reduced players of role ``r`` play
``s``) the payoff of strategy ``s`` of role ``r`` is the payoff of ``s`` in the *full* profile
where one agent of role ``r`` plays ``s`` and the other ``N_r - 1`` agents of that role are the
other ``n_r - 1`` reduced players each scaled by ``(N_r - 1) / (n_r - 1)``, while every other
role ``r'`` is scaled by ``N_r' / n_r'``. So a 64-agent market becomes a game of a few players
whose deviation incentives are those of the full game at the profiles it samples. (The
scalings must be integers; :func:`default_players` picks reduced sizes that make them so.)

Each needed full profile is simulated for ``samples`` episodes (one batched market each); the
payoff of ``(r, s)`` in it is, per episode, the mean profit of the agents of role ``r`` playing
``s``, so payoffs carry standard errors. Results are written to ``out/profiles/<key>.npz``
atomically as each profile finishes; a rerun with the same ``out`` skips finished profiles.

The reduced game is solved by replicator dynamics from role-symmetric starting points: the
dynamics of :func:`~gametools.solvers.dynamics.replicator_dynamics` on the reduced game expanded
to a :class:`~gametools.NormalFormGame` (one player per reduced player), which preserve role
symmetry, run on role-wise mixtures through the deviation payoffs ``u_r(s, sigma)``
(:class:`DeviationPayoffs`, one pass over the payoff table instead of a tensor contraction per
pair of players; the two agree, tested); for each equilibrium
the regret ``max_r max_s u_r(s, sigma) - u_r(sigma)`` is reported with a one-sided bootstrap
upper confidence bound (episodes resampled within every profile).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gametools._io import atomic_open, atomic_write, jsonable
from gametools.errors import InvalidArgumentError
from gametools.market.simulator import MarketConfig, simulate_profiles
from gametools.market.strategies import Strategy, make_strategy
from gametools.model import NormalFormGame

__all__ = ["EmpiricalGame", "EgtaResult", "EgtaEquilibrium", "default_players",
           "reduced_profiles", "dpr_full_profile", "sample_opponents", "build_empirical_game",
           "DeviationPayoffs", "solve_empirical_game", "run_egta"]

Counts = tuple[tuple[int, ...], ...]  # per role, per strategy


def _role_sizes(config: MarketConfig) -> list[int]:
    return [len(config.agents_of(r)) for r in range(len(config.roles))]


def _dpr_valid(full: int, reduced: int, several_roles: bool) -> bool:
    if full == reduced:
        return True
    if reduced < 2 or reduced > full:
        return False
    return (full - 1) % (reduced - 1) == 0 and (not several_roles or full % reduced == 0)


def default_players(config: MarketConfig, *, preferred: int = 4) -> tuple[int, ...]:
    """Reduced players per role: the largest ``n <= preferred`` (at least 2) whose DPR scalings
    are integers, else the smallest that works; roles of one agent keep one player."""
    sizes = _role_sizes(config)
    several = sum(1 for s in sizes if s > 0) > 1
    out = []
    for full in sizes:
        if full <= 1:
            out.append(full)
            continue
        good = [n for n in range(2, full + 1) if _dpr_valid(full, n, several)]
        small = [n for n in good if n <= preferred]
        out.append(max(small) if small else min(good))
    return tuple(out)


def reduced_profiles(players: Sequence[int], num_strategies: Sequence[int]) -> list[Counts]:
    """Every reduced profile: per role, the counts of its ``players[r]`` over its strategies."""
    per_role = []
    for n, k in zip(players, num_strategies):
        per_role.append([c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n])
    return [tuple(p) for p in itertools.product(*per_role)]


def dpr_full_profile(profile: Counts, role: int, strategy: int, full_sizes: Sequence[int],
                     players: Sequence[int]) -> Counts:
    """The full profile DPR simulates for ``(role, strategy)`` in reduced ``profile``."""
    if profile[role][strategy] < 1:
        raise InvalidArgumentError("the deviating strategy must be played in the profile")
    out = []
    for r, counts in enumerate(profile):
        full, n = full_sizes[r], players[r]
        if full == 0:
            out.append(tuple(counts))
        elif r == role:
            scale = (full - 1) // (n - 1) if n > 1 else 0
            out.append(tuple((1 + scale * (c - 1)) if s == strategy else scale * c
                             for s, c in enumerate(counts)))
        else:
            scale = full // n
            out.append(tuple(scale * c for c in counts))
    return tuple(out)


def sample_opponents(config: MarketConfig, strategies: Sequence[Sequence[str]],
                     mixture: Sequence[Sequence[float]], deviators: Sequence[int], *,
                     count: int, rng: np.random.Generator,
                     players: Sequence[int] | None = None) -> list[list[str | None]]:
    """Strategies of every agent but the ``deviators``, drawn from a role-wise ``mixture``.

    With ``players`` (reduced players per role) and one deviator of role ``r``, the draw is the
    one the DPR game's deviation payoff averages over (:func:`dpr_full_profile`): ``n_r - 1``
    reduced opponents of role ``r`` and ``n_r'`` players of every other role are drawn from the
    mixture and each stands for ``(N_r - 1) / (n_r - 1)`` (resp. ``N_r' / n_r'``) agents. Without
    ``players`` every agent draws its strategy independently (the full game's mixed profile).

    Returns ``count`` rows of ``N`` names, ``None`` at the deviators.
    """
    sizes = _role_sizes(config)
    if len(strategies) != len(config.roles) or len(mixture) != len(config.roles):
        raise InvalidArgumentError(f"need a strategy list and a mixture per role "
                                   f"({', '.join(config.roles)})")
    probabilities = []
    for r, (names, weights) in enumerate(zip(strategies, mixture)):
        p = np.asarray(weights, dtype=np.float64)
        if sizes[r] and (len(p) != len(names) or not np.all(p >= 0)
                         or not np.isclose(p.sum(), 1.0)):
            raise InvalidArgumentError(f"role {config.roles[r]!r}: the mixture needs one "
                                       f"probability >= 0 per strategy, summing to 1")
        probabilities.append(p / p.sum() if sizes[r] else p)
    deviators = list(deviators)
    if any(not 0 <= d < config.num_agents for d in deviators) or \
            len(set(deviators)) != len(deviators):
        raise InvalidArgumentError(f"deviators must be distinct agent indices, got {deviators}")
    rows: list[list[str | None]] = [[None] * config.num_agents for _ in range(count)]
    if players is not None and len(deviators) == 1:
        own = config.agent_roles[deviators[0]]
        several = sum(1 for s in sizes if s > 0) > 1
        for r, full in enumerate(sizes):
            members = [i for i in config.agents_of(r) if i not in deviators]
            if not members:
                continue
            n = players[r] - (1 if r == own else 0)
            if not _dpr_valid(full, players[r], several) or n < 1:
                raise InvalidArgumentError(f"role {config.roles[r]!r}: {players[r]} reduced "
                                           f"players do not reduce its {full} agents")
            counts = rng.multinomial(n, probabilities[r], size=count) * (len(members) // n)
            for k in range(count):
                names = [name for name, c in zip(strategies[r], counts[k]) for _ in range(c)]
                for i, name in zip(members, names):
                    rows[k][i] = name
        return rows
    for r in range(len(config.roles)):
        members = [i for i in config.agents_of(r) if i not in deviators]
        if not members:
            continue
        draws = rng.choice(len(strategies[r]), size=(count, len(members)), p=probabilities[r])
        for k in range(count):
            for i, s in zip(members, draws[k]):
                rows[k][i] = strategies[r][s]
    return rows


def _file_name(name: str) -> str:
    """A strategy name as a file-name part (``learned:PATH`` names carry paths)."""
    if re.fullmatch(r"[A-Za-z0-9_.]+", name):
        return name
    safe = re.sub(r"[^A-Za-z0-9_.]+", "_", name)[-24:]
    return f"{safe}_{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def _key(profile: Counts, strategies: Sequence[Sequence[str]]) -> str:
    return "__".join("-".join(f"{_file_name(name)}x{c}" for name, c in zip(names, counts) if c)
                     for names, counts in zip(strategies, profile))


@dataclass(frozen=True)
class EmpiricalGame:
    """A DPR-reduced role-symmetric empirical game.

    Attributes
    ----------
    roles : tuple of str
    strategies : tuple of tuple of str
        Per role.
    players : tuple of int
        Reduced players per role.
    full_sizes : tuple of int
        Agents per role in the market.
    samples : dict
        Full profile -> ``(K, sum_r |S_r|)`` per-episode payoffs (NaN where a strategy is not
        played), columns role-major.
    """

    roles: tuple[str, ...]
    strategies: tuple[tuple[str, ...], ...]
    players: tuple[int, ...]
    full_sizes: tuple[int, ...]
    samples: Mapping[Counts, np.ndarray]

    @property
    def offsets(self) -> list[int]:
        return list(np.cumsum([0] + [len(s) for s in self.strategies]))

    def payoff_table(self, means: Mapping[Counts, np.ndarray] | None = None
                     ) -> dict[tuple[Counts, int, int], tuple[float, float]]:
        """``(reduced profile, role, strategy) -> (mean payoff, standard error)``."""
        offsets = self.offsets
        out = {}
        for profile in reduced_profiles(self.players, [len(s) for s in self.strategies]):
            for r, counts in enumerate(profile):
                for s, c in enumerate(counts):
                    if c == 0 or self.players[r] == 0:
                        continue
                    full = dpr_full_profile(profile, r, s, self.full_sizes, self.players)
                    column = self.samples[full][:, offsets[r] + s]
                    mean = float(column.mean()) if means is None else \
                        float(means[full][offsets[r] + s])
                    error = float(column.std(ddof=1) / np.sqrt(len(column))) \
                        if len(column) > 1 else float("nan")
                    out[(profile, r, s)] = (mean, error)
        return out

    def to_normal_form(self, means: Mapping[Counts, np.ndarray] | None = None
                       ) -> tuple[NormalFormGame, list[int]]:
        """The reduced game with one player per reduced player, and each player's role.

        ``means`` replaces the sample means (the bootstrap uses it).
        """
        table = self.payoff_table(means)
        player_roles = [r for r, n in enumerate(self.players) for _ in range(n)]
        sizes = [len(self.strategies[r]) for r in player_roles]
        payoffs = np.zeros((len(player_roles), *sizes))
        for actions in itertools.product(*(range(k) for k in sizes)):
            counts = [[0] * len(s) for s in self.strategies]
            for r, a in zip(player_roles, actions):
                counts[r][a] += 1
            profile = tuple(tuple(c) for c in counts)
            for p, (r, a) in enumerate(zip(player_roles, actions)):
                payoffs[(p, *actions)] = table[(profile, r, a)][0]
        return NormalFormGame(payoffs), player_roles


def _simulate_profiles(config: MarketConfig, strategies: Sequence[Sequence[str]],
                       profiles: Sequence[Counts], *, samples: int, seed: int, device: str,
                       resolve: Callable[[str], Strategy] = make_strategy
                       ) -> list[np.ndarray]:
    """Per-episode mean profit of each (role, strategy) in each full profile, ``(K, columns)``;
    all profiles simulated in one batch."""
    objects: dict[str, Any] = {}
    assignments = []
    for full in profiles:
        agents: list[Any] = [None] * config.num_agents
        for r, counts in enumerate(full):
            members = config.agents_of(r)
            position = 0
            for s, c in enumerate(counts):
                name = strategies[r][s]
                if name not in objects:
                    objects[name] = resolve(name)
                for i in members[position:position + c]:
                    agents[i] = objects[name]
                position += c
        assignments.append(agents)
    stats = simulate_profiles(config, assignments, episodes=samples, seed=seed, device=device)
    out = []
    for g, full in enumerate(profiles):
        profits = stats.profits[g * samples:(g + 1) * samples]
        columns = []
        for r, counts in enumerate(full):
            members = config.agents_of(r)
            position = 0
            for c in counts:
                chosen = members[position:position + c]
                position += c
                columns.append(profits[:, chosen].mean(axis=1) if chosen
                               else np.full(samples, np.nan))
        out.append(np.stack(columns, axis=1))
    return out


def _simulate_chunk(config: MarketConfig, strategies: Sequence[Sequence[str]],
                    chunk: Sequence[Counts], samples: int, seed: int, device: str
                    ) -> list[np.ndarray]:
    """One chunk in a Ray worker (single-threaded torch)."""
    import torch

    torch.set_num_threads(1)
    return _simulate_profiles(config, strategies, chunk, samples=samples, seed=seed,
                              device=device)


def _run_on_ray(config: MarketConfig, strategies: Sequence[Sequence[str]],
                pending: Sequence[tuple[list[Counts], int]], *, samples: int, device: str,
                workers: int | None,
                finished: Callable[[list[Counts], list[np.ndarray]], None]) -> None:
    """Simulate the chunks as Ray tasks; ``finished`` as each completes."""
    import logging
    import os

    from gametools.limits import available_cpus
    from gametools.optional import require

    ray = require("ray", extra="ray")
    started_here = not ray.is_initialized()
    if started_here:
        # workers import gametools from where this process does
        path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        env = {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}
        ray.init(num_cpus=workers or available_cpus(), include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"env_vars": env})
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_simulate_chunk)
        references = {remote.remote(config, [list(s) for s in strategies], chunk, samples,
                                    chunk_seed, device): chunk
                      for chunk, chunk_seed in pending}
        while references:
            ready, _ = ray.wait(list(references), num_returns=1)
            for reference in ready:
                finished(references.pop(reference), ray.get(reference))
    finally:
        if started_here:
            ray.shutdown()


def _stored_columns(stored: Any, columns: np.ndarray) -> np.ndarray | None:
    """A stored profile's payoffs in the columns of the current strategy sets (a strategy the
    stored game did not have is not played in the profile: NaN), or None if they do not fit."""
    payoffs = stored["payoffs"]
    if "columns" not in stored.files:  # written before the columns were stored
        return payoffs if payoffs.shape[1] == len(columns) else None  # type: ignore[no-any-return]
    where = {str(name): k for k, name in enumerate(stored["columns"])}
    out = np.full((payoffs.shape[0], len(columns)), np.nan)
    for k, name in enumerate(columns):
        if str(name) in where:
            out[:, k] = payoffs[:, where[str(name)]]
    return out


def _chunks(profiles: Sequence[Counts], per_batch: int, seed: int
            ) -> list[tuple[list[Counts], int]]:
    """The profiles in batches of at most ``per_batch``, each with its seed.

    A profile's batch depends on the profile alone, never on the other strategies of the game:
    profiles are grouped by the last strategy each role plays in them (the strategy sets only
    grow at their end, as in PSRO), sorted within a group, cut into batches, and each batch is
    seeded from ``seed``, its group and its place in it. So a game extended by new strategies
    reuses every profile of the smaller game with the numbers a run of that game drew, and a
    resumed run draws exactly the numbers a fresh run would.
    """
    groups: dict[tuple[int, ...], list[Counts]] = {}
    for fp in profiles:
        last = tuple(max((s for s, c in enumerate(counts) if c), default=-1) for counts in fp)
        groups.setdefault(last, []).append(fp)
    per_batch = max(1, per_batch)
    out = []
    for last in sorted(groups):
        members = sorted(groups[last])
        for start in range(0, len(members), per_batch):
            digest = hashlib.sha256(f"{seed}|{last}|{start}".encode()).digest()
            out.append((members[start:start + per_batch],
                        int.from_bytes(digest[:8], "little") % (2 ** 62)))
    return out


def build_empirical_game(config: MarketConfig, strategies: Sequence[Sequence[str]], *,
                         players: Sequence[int] | None = None, samples: int = 32,
                         seed: int = 0, out: str | Path | None = None, device: str = "cpu",
                         batch_markets: int = 4096,
                         progress: Callable[[int, int, str], None] | None = None,
                         resolve: Callable[[str], Strategy] = make_strategy,
                         backend: str = "local", workers: int | None = None
                         ) -> EmpiricalGame:
    """Simulate every full profile DPR needs (skipping those finished in ``out``).

    Parameters
    ----------
    config : MarketConfig
    strategies : sequence of sequence of str
        The strategy names of each role.
    players : sequence of int, optional
        Reduced players per role (default :func:`default_players`).
    samples : int
        Episodes per full profile.
    seed : int
        The needed profiles are simulated in chunks of at most ``batch_markets // samples``
        profiles (one batch each) that depend only on the profiles and ``seed`` (grouped by
        the last strategy of each role they play), so a resumed run gives the numbers a fresh
        run gives, and a game extended by strategies appended to its sets (PSRO) simulates
        only its new profiles, keeping the smaller game's numbers.
    out : path, optional
        Folder for ``profiles/<key>.npz`` (resumable).
    progress : callable, optional
        ``progress(done, total, key)`` after every profile.
    resolve : callable, optional
        Strategy name -> strategy object (default
        :func:`~gametools.market.strategies.make_strategy`; PSRO adds its best responses).
    backend : {"local", "ray"}
        Where the chunks are simulated: in this process, or as Ray tasks (one CPU and one
        thread each) on the running Ray instance or a local one started here with ``workers``
        CPUs (default :func:`gametools.limits.available_cpus`). Each chunk's numbers depend
        only on its seed, so both backends give the same game. ``"ray"`` needs the default
        ``resolve``.
    """
    if backend not in ("local", "ray"):
        raise InvalidArgumentError(f"backend must be 'local' or 'ray', got {backend!r}")
    if backend == "ray" and resolve is not make_strategy:
        raise InvalidArgumentError("the 'ray' backend resolves strategies by name only")
    sizes = _role_sizes(config)
    if len(strategies) != len(config.roles):
        raise InvalidArgumentError(f"need a strategy list per role ({', '.join(config.roles)})")
    for r, names in enumerate(strategies):
        if sizes[r] and not names:
            raise InvalidArgumentError(f"role {config.roles[r]!r} has no strategy")
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"role {config.roles[r]!r} lists a strategy twice")
        for name in names:
            allowed = resolve(name).roles
            if allowed is not None and config.roles[r] not in allowed:
                raise InvalidArgumentError(f"strategy {name!r} cannot play role "
                                           f"{config.roles[r]!r}")
    players = tuple(default_players(config) if players is None else players)
    several = sum(1 for s in sizes if s > 0) > 1
    for r, (full, n) in enumerate(zip(sizes, players)):
        if full and not _dpr_valid(full, n, several):
            raise InvalidArgumentError(
                f"role {config.roles[r]!r}: {n} reduced players do not divide its {full} agents "
                f"(DPR needs (N-1)/(n-1){' and N/n' if several else ''} integer); try "
                f"{default_players(config)[r]}")
    if samples < 2:
        raise InvalidArgumentError(f"samples must be >= 2 (standard errors), got {samples}")
    needed: dict[Counts, None] = {}
    for profile in reduced_profiles(players, [len(s) for s in strategies]):
        for r, counts in enumerate(profile):
            for s, c in enumerate(counts):
                if c and players[r]:
                    needed[dpr_full_profile(profile, r, s, sizes, players)] = None
    folder = None if out is None else Path(out) / "profiles"
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    found: dict[Counts, np.ndarray] = {}
    order = list(needed)
    paths = {fp: None if folder is None else folder / f"{_key(fp, strategies)}.npz"
             for fp in order}
    columns = np.array([f"{r}:{name}" for r, names in enumerate(strategies) for name in names])
    for fp in order:
        path = paths[fp]
        if path is not None and path.exists():
            with np.load(path, allow_pickle=False) as stored:
                if int(stored["samples"]) == samples and int(stored["seed"]) == seed:
                    data = _stored_columns(stored, columns)
                    if data is not None:
                        found[fp] = data
    done = len(found)
    if progress is not None and done:
        progress(done, len(order), "(finished profiles found)")
    pending = [(chunk, chunk_seed) for chunk, chunk_seed in
               _chunks(order, batch_markets // samples, seed)
               if not all(fp in found for fp in chunk)]

    def finished(chunk: list[Counts], results: list[np.ndarray]) -> None:
        nonlocal done
        for fp, data in zip(chunk, results):
            path = paths[fp]
            if fp not in found:
                done += 1
            found[fp] = data
            if path is not None:
                with atomic_open(path, "wb") as handle:
                    np.savez(handle, payoffs=data, samples=samples, seed=seed,
                             columns=columns)
        if progress is not None:
            progress(done, len(order), _key(chunk[-1], strategies))

    if backend == "ray" and pending:
        _run_on_ray(config, strategies, pending, samples=samples, device=device,
                    workers=workers, finished=finished)
    else:
        for chunk, chunk_seed in pending:
            finished(chunk, _simulate_profiles(config, strategies, chunk, samples=samples,
                                               seed=chunk_seed, device=device,
                                               resolve=resolve))
    return EmpiricalGame(tuple(config.roles), tuple(tuple(s) for s in strategies), players,
                         tuple(sizes), found)


@dataclass(frozen=True)
class EgtaEquilibrium:
    """A role-symmetric mixed equilibrium of the reduced game with its regret.

    ``regret`` is the estimate (sample means), ``regret_interval`` ``(0, upper)`` a one-sided
    bootstrap confidence interval at level ``confidence``: the regret is at most ``upper``;
    ``deviation_gains[r][s] = u_r(s, sigma) - u_r(sigma)``.
    """

    mixture: tuple[tuple[float, ...], ...]
    payoffs: tuple[float, ...]
    regret: float
    regret_interval: tuple[float, float]
    confidence: float
    deviation_gains: tuple[tuple[float, ...], ...]
    solver_status: str

    def to_dict(self, game: EmpiricalGame) -> dict[str, Any]:
        return {"mixture": {role: dict(zip(game.strategies[r], self.mixture[r]))
                            for r, role in enumerate(game.roles) if game.players[r]},
                "payoffs": dict(zip(game.roles, self.payoffs)),
                "regret": self.regret, "regret_interval": list(self.regret_interval),
                "confidence": self.confidence,
                "deviation_gains": {role: dict(zip(game.strategies[r], self.deviation_gains[r]))
                                    for r, role in enumerate(game.roles) if game.players[r]},
                "solver_status": self.solver_status}


@dataclass(frozen=True)
class EgtaResult:
    game: EmpiricalGame
    equilibria: tuple[EgtaEquilibrium, ...]
    payoff_table: dict[tuple[Counts, int, int], tuple[float, float]] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        g = self.game
        table = []
        for (profile, r, s), (mean, error) in self.payoff_table.items():
            table.append({"profile": {g.roles[k]: {g.strategies[k][j]: c
                                                  for j, c in enumerate(counts) if c}
                                      for k, counts in enumerate(profile) if g.players[k]},
                          "role": g.roles[r], "strategy": g.strategies[r][s],
                          "payoff": mean, "stderr": error})
        return jsonable({"roles": list(g.roles), "strategies": [list(s) for s in g.strategies],
                         "full_players": list(g.full_sizes), "reduced_players": list(g.players),
                         "full_profiles_simulated": len(g.samples),
                         "equilibria": [e.to_dict(g) for e in self.equilibria],
                         "payoffs": table})


class DeviationPayoffs:
    """``u_r(s, sigma)`` of a DPR game at role-symmetric mixtures, without expanding it.

    In the reduced game a player of role ``r`` playing ``s`` faces ``n_r - 1`` players of its
    role and ``n_r'`` of every other role, each drawing from its role's mixture, so
    ``u_r(s, sigma) = sum_P Pr(P - e_{r,s} | sigma) u(P, r, s)`` over the reduced profiles ``P``
    with ``P[r][s] >= 1``, ``Pr`` a product of multinomial probabilities. This is the payoff
    vector :meth:`~gametools.NormalFormGame.action_payoffs` gives on the expanded game at the
    role-symmetric profile (tested), at the cost of one pass over the payoff table.

    Parameters
    ----------
    game : EmpiricalGame
    """

    def __init__(self, game: EmpiricalGame) -> None:
        from math import lgamma

        self.game = game
        offsets = game.offsets
        self.keys: list[tuple[Counts, int, int]] = []
        columns, logs, exponents = [], [], []
        for profile in reduced_profiles(game.players, [len(s) for s in game.strategies]):
            for r, counts in enumerate(profile):
                for s, c in enumerate(counts):
                    if c == 0 or game.players[r] == 0:
                        continue
                    opponents = [list(k) for k in profile]
                    opponents[r][s] -= 1
                    log_coefficient = sum(lgamma(sum(k) + 1) - sum(lgamma(x + 1) for x in k)
                                          for k in opponents)
                    self.keys.append((profile, r, s))
                    columns.append(offsets[r] + s)
                    logs.append(log_coefficient)
                    exponents.append([x for k in opponents for x in k])
        self.columns = np.asarray(columns, dtype=np.int64)
        self.coefficients = np.exp(np.asarray(logs, dtype=np.float64))
        self.exponents = np.asarray(exponents, dtype=np.float64).reshape(len(columns), -1)
        self.width = int(offsets[-1])
        self.offsets = offsets

    def table(self, means: Mapping[Counts, np.ndarray] | None = None) -> np.ndarray:
        """The payoff of every term, ``(E,)`` (sample means, or ``means`` per full profile)."""
        table = self.game.payoff_table(means)
        return np.array([table[key][0] for key in self.keys], dtype=np.float64)

    def __call__(self, values: np.ndarray, mixture: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``u_r(., sigma)`` per role for the term payoffs ``values`` (:meth:`table`)."""
        flat = np.concatenate([np.asarray(m, dtype=np.float64) for m in mixture])
        weights = self.coefficients * np.prod(flat[None, :] ** self.exponents, axis=1)
        out = np.bincount(self.columns, weights=weights * values, minlength=self.width)
        return [out[self.offsets[r]:self.offsets[r + 1]] for r in range(len(mixture))]


def _role_gains(payoffs: DeviationPayoffs, values: np.ndarray, mixture: Sequence[np.ndarray]
                ) -> tuple[list[np.ndarray], list[float]]:
    """Deviation gains of each role's strategies and each role's payoff at ``mixture``."""
    gains, out = [], []
    for r, u in enumerate(payoffs(values, mixture)):
        if payoffs.game.players[r] == 0:
            gains.append(np.zeros(len(mixture[r])))
            out.append(float("nan"))
            continue
        value = float(u @ mixture[r])
        gains.append(u - value)
        out.append(value)
    return gains, out


def _replicator(payoffs: DeviationPayoffs, values: np.ndarray, start: Sequence[np.ndarray], *,
                time: float, steps: int, scale: float) -> list[np.ndarray]:
    """Role-symmetric replicator dynamics, fixed-step RK4 over ``time`` inverse payoff ranges
    (the dynamics of :func:`gametools.solvers.dynamics.replicator_dynamics` on the expanded
    game from a role-symmetric start, which stays role-symmetric)."""
    active = [r for r, n in enumerate(payoffs.game.players) if n]
    point = [np.asarray(x, dtype=np.float64).copy() for x in start]
    dt = time / steps

    def field(state: list[np.ndarray]) -> list[np.ndarray]:
        u = payoffs(values / scale, state)
        return [x * (u[r] - x @ u[r]) if r in active else np.zeros_like(x)
                for r, x in enumerate(state)]

    def shift(state: list[np.ndarray], direction: list[np.ndarray], h: float
              ) -> list[np.ndarray]:
        return [x + h * d for x, d in zip(state, direction)]

    for _ in range(steps):
        k1 = field(point)
        k2 = field(shift(point, k1, 0.5 * dt))
        k3 = field(shift(point, k2, 0.5 * dt))
        k4 = field(shift(point, k3, dt))
        point = [np.clip(x + dt / 6.0 * (a + 2 * b + 2 * c + d), 0.0, None)
                 for x, a, b, c, d in zip(point, k1, k2, k3, k4)]
        point = [x / x.sum() if x.size else x for x in point]
    return point


def solve_empirical_game(game: EmpiricalGame, *, bootstrap: int = 200, confidence: float = 0.95,
                         seed: int = 0, tol: float = 1e-3, time: float = 1000.0,
                         steps: int = 1000) -> EgtaResult:
    """Role-symmetric equilibria of the reduced game by replicator dynamics, with regret CIs.

    ``tol`` certifies a rest point: its regret over the payoff range must be at most ``tol``,
    else its ``solver_status`` is ``"max_iterations"`` and it is not an equilibrium. ``time``
    and ``steps`` are the dynamics' horizon (in inverse payoff ranges: deviation gains of a
    small fraction of the payoff range need a long horizon) and RK4 steps, from the uniform
    mixture and from each strategy's half-weighted vertex in every role. The dynamics run on
    role-symmetric mixtures (:class:`DeviationPayoffs`), as replicator dynamics on the expanded
    game do from a role-symmetric start.
    """
    payoffs = DeviationPayoffs(game)
    values = payoffs.table()
    scale = float(values.max() - values.min()) if values.size else 1.0
    scale = scale if scale > 0 else 1.0
    sizes = [len(s) for s in game.strategies]
    starts = [[np.full(k, 1.0 / max(k, 1)) for k in sizes]]
    for r, k in enumerate(sizes):
        if game.players[r] == 0:
            continue
        for s in range(k):
            start = [np.full(m, 1.0 / max(m, 1)) for m in sizes]
            start[r] = 0.5 * start[r] + 0.5 * np.eye(k)[s]
            starts.append(start)
    found: list[tuple[list[np.ndarray], str]] = []
    for start in starts:
        mixture = _replicator(payoffs, values, start, time=time, steps=steps, scale=scale)
        gains, _ = _role_gains(payoffs, values, mixture)
        regret = max((float(g.max()) for g in gains if g.size), default=0.0)
        status = "success" if regret <= tol * scale else "max_iterations"
        if all(np.abs(np.concatenate(mixture) - np.concatenate(m)).sum() > 1e-3
               for m, _ in found):
            found.append((mixture, status))
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(bootstrap):
        means = {full: data[rng.integers(0, len(data), len(data))].mean(axis=0)
                 for full, data in game.samples.items()}
        resampled.append(payoffs.table(means))
    equilibria = []
    for mixture, status in found:
        gains, role_values = _role_gains(payoffs, values, mixture)
        regret = max((float(g.max()) for g in gains if g.size), default=0.0)
        boot = [max((float(g.max()) for g in _role_gains(payoffs, b, mixture)[0] if g.size),
                    default=0.0) for b in resampled]
        # one-sided: the regret is at most ``upper`` with probability ``confidence``. The
        # bootstrap distribution of a maximum of gains is biased upwards, so its two-sided
        # percentile interval can exclude the estimate itself; as an upper bound it is
        # conservative, and it never falls below the estimate.
        upper = float(np.quantile(boot, confidence)) if boot else float("nan")
        equilibria.append(EgtaEquilibrium(
            tuple(tuple(float(x) for x in m) for m in mixture), tuple(role_values),
            max(regret, 0.0), (0.0, max(upper, regret, 0.0)), confidence,
            tuple(tuple(float(x) for x in g) for g in gains), status))
    equilibria.sort(key=lambda e: e.regret)
    return EgtaResult(game, tuple(equilibria), game.payoff_table())


def run_egta(config: MarketConfig, strategies: Sequence[Sequence[str]], *,
             players: Sequence[int] | None = None, samples: int = 32, seed: int = 0,
             out: str | Path | None = None, device: str = "cpu", bootstrap: int = 200,
             progress: bool = False, time: float = 1000.0, steps: int = 1000,
             backend: str = "local", workers: int | None = None) -> EgtaResult:
    """Build the empirical game, solve it, and (with ``out``) write ``out/egta.json``
    (``backend`` and ``workers`` as :func:`build_empirical_game`)."""
    def report(done: int, total: int, key: str) -> None:
        bar = "#" * (30 * done // total)
        sys.stderr.write(f"\r[{bar:<30}] {done}/{total} profiles  {key[:60]:<60}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    game = build_empirical_game(config, strategies, players=players, samples=samples, seed=seed,
                                out=out, device=device, progress=report if progress else None,
                                backend=backend, workers=workers)
    result = solve_empirical_game(game, bootstrap=bootstrap, seed=seed, time=time, steps=steps)
    if out is not None:
        import json

        atomic_write(Path(out) / "egta.json", json.dumps(result.to_dict(), indent=2) + "\n")
    return result
