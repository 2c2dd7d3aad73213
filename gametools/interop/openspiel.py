"""Conversion between gametools games and OpenSpiel (``pyspiel``) games.

Two directions are supported:

- :func:`to_openspiel` turns a finite-horizon :class:`~gametools.model.MarkovGame` (fully or
  partially observed) into an OpenSpiel Python game, and :func:`policy_to_openspiel` turns a
  gametools profile into an OpenSpiel :class:`~open_spiel.python.policy.Policy` on it, so that
  OpenSpiel's algorithms (``exploitability.nash_conv``, CFR, ...) run on our games.
  :func:`openspiel_nash_conv` does both and returns OpenSpiel's NashConv.
- :func:`from_openspiel` loads an OpenSpiel normal-form game (``pyspiel.MatrixGame``,
  ``pyspiel.TensorGame`` or any one-shot simultaneous-move game such as ``blotto``) as a
  :class:`~gametools.model.NormalFormGame`.
- :func:`extensive_from_openspiel` unrolls any OpenSpiel game whose tree fits in memory
  (turn-based or simultaneous-move, with chance and imperfect information; C++ or Python
  implemented) into an :class:`~gametools.extensive.ExtensiveGame`;
  :func:`policy_from_openspiel` and :func:`policy_to_openspiel_tabular` convert behaviour
  profiles to and from OpenSpiel's ``TabularPolicy`` layout.

Unrolling an OpenSpiel game
---------------------------
Turn-based decision nodes become decision nodes whose infoset is the acting player's
``information_state_string``. A simultaneous node becomes ``N`` consecutive decision nodes,
players in id order, each in the infoset of that player's ``information_state_string`` at the
simultaneous node (so no player sees the others' simultaneous actions), followed by the joint
action; this is the standard turn-based encoding, and best responses and NashConv are those of
the simultaneous game. Chance outcomes keep their probabilities; terminal payoffs are
``returns()``. The tree is walked once, iteratively (no recursion limit), and its size is
checked against ``max_nodes`` while walking.

Encoding of a Markov game
-------------------------
The Markov game is unrolled into a *turn-based* (``SEQUENTIAL``) OpenSpiel game with explicit
chance nodes, imperfect information and per-step rewards. Stage ``t`` becomes::

    chance   s_0 ~ initial                       (stage 0 only)
    player 0 chooses a_0 ~ policy_0[o_0(s_t)]
    player 1 chooses a_1 ~ policy_1[o_1(s_t)]    (without seeing a_0)
    ...
    player N-1 chooses a_{N-1}
             every player i is credited gamma**t * r_i(s_t, a)
    chance   s_{t+1} ~ P(. | s_t, a)             (outcomes with positive probability only)

The episode ends on reaching a terminal state (which pays nothing) or after ``horizon`` stages;
the last transition chance node is skipped when it cannot matter (after the last stage, or when
every successor is terminal). Actions are OpenSpiel action ids ``0 .. n_i - 1``; chance outcomes
are next-state ids ``0 .. S - 1``.

Why this encoding: turn-based moves whose same-stage predecessors are hidden are strategically
the same as simultaneous moves, and every OpenSpiel algorithm handles sequential
imperfect-information games, while only some handle simultaneous nodes. The discount is folded
into the rewards because the horizon is finite, so ``returns()`` is exactly the discounted value
``sum_t gamma**t r_i(s_t, a_t)`` whose expectation gametools calls player ``i``'s value.

Information states have *perfect recall*: player ``i``'s information state in stage ``t`` is its
own observation history ``o_i(s_0), ..., o_i(s_t)`` and its own past actions (e.g.
``"p1 t=2 obs=[3,5,4] acts=[1,0]"``); it never contains other players' actions, in particular
not those taken earlier in the same stage. Observations (``perfect_recall=False``) are only the
current ``o_i(s_t)``, e.g. ``"p1 obs=4"``.

What NashConv means here
------------------------
OpenSpiel best-responds with perfect-recall behaviour strategies: a deviating player may use its
whole own history. When the game is fully observed this is no stronger than a stationary
best response (fixing the others' stationary policies leaves the deviator a discounted MDP, which
has a stationary optimal policy), so the NashConv equals the Markov game's. When it is partially
observed, it is the NashConv against history-dependent deviations (the deviator solves a POMDP),
which can exceed the NashConv against observation-indexed stationary deviations.

Horizon
-------
With ``horizon=None`` the horizon is computed by :func:`finite_horizon`: the largest number of
non-terminal states on any path of the reachable state graph (an edge ``s -> s'`` when some joint
action gives ``P(s' | s, a) > 0``). A reachable cycle among non-terminal states (a self-loop
included) raises :class:`CyclicGameError`; pass an explicit ``horizon`` to get the game
*truncated* after ``horizon`` stages instead. The OpenSpiel game is exact whenever ``horizon >=
finite_horizon(game)``; a shorter horizon truncates the game and changes its values and NashConv.

OpenSpiel pitfalls handled here
-------------------------------
- ``State.clone()`` of a Python game deep-copies the state's ``__dict__``, so states hold only
  small tuples; the game data lives on the game object and is reached via ``state.get_game()``.
- ``information_state_string`` / ``observation_string`` of a Python game go through the game's
  ``make_py_observer``; the observers are created once per game and shared between states.
- Python games need no registration to be used with Python or C++ algorithms; registration
  (``register=True``) is only needed for ``pyspiel.load_game(short_name)`` and state
  (de)serialisation, and a registered name stays taken for the life of the process. The
  registered creator must be a class, not a function: see :func:`to_openspiel`.
- OpenSpiel sums ``rewards()`` only at decision and terminal nodes (``random_sim_test``,
  ``rl_environment``), so a stage's rewards stay visible through the following transition chance
  node and are cleared by the next player move.
- The tree is explicit: OpenSpiel's best response walks every history, so the cost grows like
  ``(prod_i n_i * successors)**horizon``. Keep converted games small.
"""

from __future__ import annotations

import functools
import itertools
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pyspiel
from open_spiel.python import policy as os_policy
from open_spiel.python.algorithms import exploitability as os_exploitability

from gametools.errors import GametoolsError
from gametools.extensive.model import CHANCE, TERMINAL, ExtensiveGame, LabelColumn
from gametools.model import MarkovGame, NormalFormGame
from gametools.policies import validate_profile

__all__ = [
    "CyclicGameError",
    "InfosetKeys",
    "MarkovOpenSpielGame",
    "MarkovOpenSpielState",
    "MarkovProfilePolicy",
    "OpenSpielConversionError",
    "OpenSpielTree",
    "extensive_from_markov",
    "extensive_from_openspiel",
    "finite_horizon",
    "from_openspiel",
    "is_normal_form",
    "load_openspiel",
    "markov_profile_to_extensive",
    "openspiel_nash_conv",
    "policy_from_openspiel",
    "policy_to_openspiel",
    "policy_to_openspiel_tabular",
    "to_openspiel",
]


class OpenSpielConversionError(GametoolsError, ValueError):
    """A game cannot be converted to or from OpenSpiel (the message says which and why)."""


class CyclicGameError(OpenSpielConversionError):
    """The reachable state graph has a cycle, so the Markov game has no finite horizon."""


# --------------------------------------------------------------------------------------------
# horizon
# --------------------------------------------------------------------------------------------

def _successor_lists(game: MarkovGame) -> list[np.ndarray]:
    """Successor states of every state over all joint actions (support of ``P(. | s, .)``)."""
    matrix = game.transition_matrix.tocsr()
    num_joint = game.num_joint_actions
    out = []
    for s in range(game.num_states):
        block = matrix[s * num_joint:(s + 1) * num_joint]
        # explicit zeros may be stored in a sparse matrix: keep positive entries only
        out.append(np.unique(block.indices[block.data > 0]))
    return out


def finite_horizon(game: MarkovGame) -> int:
    """Number of decision stages after which every play of ``game`` has ended.

    This is the largest number of non-terminal states on a path of the reachable state graph
    (edge ``s -> s'`` when ``P(s' | s, a) > 0`` for some joint action ``a``).

    Parameters
    ----------
    game : MarkovGame

    Returns
    -------
    int
        ``0`` when every initial state is terminal.

    Raises
    ------
    CyclicGameError
        When a cycle (a self-loop included) among reachable non-terminal states exists; the
        message names a state on it.
    """
    successors = _successor_lists(game)
    terminal = np.asarray(game.terminal, dtype=bool)
    roots = [int(s) for s in np.flatnonzero(np.asarray(game.initial) > 0) if not terminal[s]]
    # iterative DFS computing longest paths (in non-terminal states) with cycle detection
    longest: dict[int, int] = {}
    on_stack: set[int] = set()
    for root in roots:
        if root in longest:
            continue
        stack: list[tuple[int, Any]] = [(root, iter(successors[root]))]
        on_stack.add(root)
        while stack:
            state, children = stack[-1]
            advanced = False
            for child in children:
                child = int(child)
                if terminal[child]:
                    continue
                if child in on_stack:
                    label = game.state_labels[child]
                    raise CyclicGameError(
                        f"the reachable state graph has a cycle through state {child} "
                        f"({label!r}), so the game has no finite horizon; pass an explicit "
                        "horizon to to_openspiel to play the game truncated after that many "
                        "stages")
                if child not in longest:
                    stack.append((child, iter(successors[child])))
                    on_stack.add(child)
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                on_stack.discard(state)
                longest[state] = 1 + max(
                    (longest[int(c)] for c in successors[state] if not terminal[int(c)]),
                    default=0)
    return max((longest[r] for r in roots), default=0)


# --------------------------------------------------------------------------------------------
# the compiled game data shared by all states of one converted game
# --------------------------------------------------------------------------------------------

class _Compiled:
    """Plain-Python lookup tables of a MarkovGame, built once per converted game."""

    def __init__(self, game: MarkovGame, horizon: int) -> None:
        self.game = game
        self.horizon = horizon
        self.num_players = game.num_players
        self.num_states = game.num_states
        self.num_actions = game.num_actions
        self.num_observations = game.num_observations
        self.discount = float(game.discount)
        self.terminal = tuple(bool(x) for x in game.terminal)
        self.observations = tuple(tuple(int(o) for o in row) for row in game.observations)
        self.state_labels = tuple(game.state_labels)
        self.action_labels = tuple(tuple(row) for row in game.action_labels)
        # C-order strides of the joint action, matching transition_matrix rows s * A + joint
        strides = []
        acc = 1
        for n in reversed(self.num_actions):
            strides.append(acc)
            acc *= n
        self.strides = tuple(reversed(strides))
        self.num_joint = acc
        self.matrix = game.transition_matrix.tocsr()
        self.rewards = np.asarray(game.rewards, dtype=float).reshape(self.num_players, -1)
        initial = np.asarray(game.initial, dtype=float)
        support = np.flatnonzero(initial > 0)
        self.initial_outcomes = [(int(s), float(initial[s])) for s in support]
        self.discounts = tuple(self.discount ** t for t in range(max(horizon, 1)))
        self._successors: dict[int, tuple[list[tuple[int, float]], bool]] = {}

    def row(self, state: int, joint: tuple[int, ...]) -> int:
        return state * self.num_joint + sum(a * k for a, k in zip(joint, self.strides))

    def successors(self, row: int) -> tuple[list[tuple[int, float]], bool]:
        """Positive-probability ``(s', p)`` pairs of a transition row and whether all are terminal."""
        cached = self._successors.get(row)
        if cached is None:
            start, stop = self.matrix.indptr[row], self.matrix.indptr[row + 1]
            outcomes = [(int(s), float(p)) for s, p in
                        sorted(zip(self.matrix.indices[start:stop], self.matrix.data[start:stop]))
                        if p > 0]
            cached = (outcomes, all(self.terminal[s] for s, _ in outcomes))
            self._successors[row] = cached
        return cached


_CHANCE = int(pyspiel.PlayerId.CHANCE)
_TERMINAL = int(pyspiel.PlayerId.TERMINAL)
_NAME_COUNTER = itertools.count()


# --------------------------------------------------------------------------------------------
# the OpenSpiel game
# --------------------------------------------------------------------------------------------

class MarkovOpenSpielGame(pyspiel.Game):
    """An OpenSpiel Python game playing a :class:`~gametools.model.MarkovGame` (see module doc).

    Build it with :func:`to_openspiel`.

    Attributes
    ----------
    markov_game : MarkovGame
        The converted game.
    horizon : int
        Maximal number of stages played.
    """

    def __init__(self, game_type: pyspiel.GameType, game_info: pyspiel.GameInfo,
                 compiled: _Compiled, params: dict | None = None) -> None:
        super().__init__(game_type, game_info, params or {})
        self._data = compiled
        self.markov_game = compiled.game
        self.horizon = compiled.horizon

    def new_initial_state(self, *args: Any) -> MarkovOpenSpielState:
        """The root: a chance node drawing ``s_0`` from ``initial``."""
        return MarkovOpenSpielState(self)

    def make_py_observer(self, iig_obs_type: pyspiel.IIGObservationType | None = None,
                         params: dict | None = None) -> _MarkovObserver:
        """Observer for information states (``perfect_recall=True``) or current observations."""
        if params:
            raise ValueError(f"observation parameters are not supported; got {params}")
        perfect_recall = bool(iig_obs_type is not None and iig_obs_type.perfect_recall)
        return _MarkovObserver(self._data, perfect_recall)

    def max_chance_nodes_in_history(self) -> int:
        """Initial draw plus one transition per stage but the last."""
        return max(self.horizon, 1)


class MarkovOpenSpielState(pyspiel.State):
    """A history of the unrolled Markov game.

    Only small immutable values are stored on the state, because OpenSpiel's ``clone()`` of a
    Python state deep-copies its ``__dict__``.
    """

    def __init__(self, game: MarkovOpenSpielGame) -> None:
        super().__init__(game)
        num_players = game.num_players()
        self._t = 0                    # current stage
        self._s = -1                   # current Markov state (-1 before the initial draw)
        self._player = _CHANCE         # whose move: a player id, _CHANCE or _TERMINAL
        self._joint: tuple[int, ...] = ()               # actions taken so far in this stage
        self._visited: tuple[int, ...] = ()             # s_0, ..., s_t
        self._history: tuple[tuple[int, ...], ...] = ()  # joint actions of completed stages
        self._returns = (0.0,) * num_players
        self._rewards = (0.0,) * num_players

    # accessors used by policies ---------------------------------------------------------------

    @property
    def markov_state(self) -> int:
        """Current Markov state ``s_t`` (``-1`` before the initial chance draw)."""
        return self._s

    @property
    def stage(self) -> int:
        """Current stage ``t``."""
        return self._t

    def _compiled(self) -> _Compiled:
        return self.get_game()._data

    # OpenSpiel API ----------------------------------------------------------------------------

    def current_player(self) -> int:
        return self._player

    def is_terminal(self) -> bool:
        return self._player == _TERMINAL

    def _legal_actions(self, player: int) -> list[int]:
        return list(range(self._compiled().num_actions[player]))

    def chance_outcomes(self) -> list[tuple[int, float]]:
        data = self._compiled()
        if self._s < 0:
            return list(data.initial_outcomes)
        return list(data.successors(data.row(self._s, self._joint))[0])

    def _enter(self, state: int, data: _Compiled) -> None:
        self._s = state
        self._visited = self._visited + (state,)
        self._joint = ()
        self._player = _TERMINAL if data.terminal[state] else 0

    def _apply_action(self, action: int) -> None:
        data = self._compiled()
        if self._player == _CHANCE:
            # rewards of the stage stay visible through the transition chance node until the
            # next decision: OpenSpiel (e.g. random_sim_test, rl_environment) sums rewards()
            # at decision and terminal nodes only
            if self._s >= 0:  # a transition: the stage that chose self._joint is complete
                self._history = self._history + (self._joint,)
                self._t += 1
            self._enter(int(action), data)
            return
        self._rewards = (0.0,) * data.num_players
        self._joint = self._joint + (int(action),)
        if len(self._joint) < data.num_players:
            self._player += 1
            return
        # the stage is complete: pay gamma^t r(s_t, a), then move on
        row = data.row(self._s, self._joint)
        weight = data.discounts[self._t]
        self._rewards = tuple(weight * float(r) for r in data.rewards[:, row])
        self._returns = tuple(g + r for g, r in zip(self._returns, self._rewards))
        outcomes, all_terminal = data.successors(row)
        if self._t + 1 >= data.horizon or all_terminal or not outcomes:
            # nothing after this stage can pay anything: skip the transition chance node
            self._history = self._history + (self._joint,)
            self._player = _TERMINAL
        else:
            self._player = _CHANCE

    def _action_to_string(self, player: int, action: int) -> str:
        data = self._compiled()
        if player == _CHANCE:
            return f"s={data.state_labels[action]}"
        return str(data.action_labels[player][action])

    def rewards(self) -> list[float]:
        """Discounted rewards ``gamma**t r_i(s_t, a_t)`` paid since the last decision (``(N,)``).

        Non-zero from the move completing a stage until the next player move.
        """
        return list(self._rewards)

    def returns(self) -> list[float]:
        """Discounted rewards accumulated so far, ``sum_t gamma**t r_i(s_t, a_t)`` (``(N,)``)."""
        return list(self._returns)

    def own_actions(self, player: int) -> tuple[int, ...]:
        """``player``'s actions so far (this stage's included once taken)."""
        acts = tuple(joint[player] for joint in self._history)
        if self._player not in (_CHANCE, _TERMINAL) and player < len(self._joint):
            acts = acts + (self._joint[player],)
        return acts

    def __str__(self) -> str:
        if self._s < 0:
            return "t=0 s=? (initial draw)"
        data = self._compiled()
        return (f"t={self._t} s={data.state_labels[self._s]} "
                f"stage_actions={list(self._joint)}")


class _MarkovObserver:
    """OpenSpiel ``PyObserver``: strings and tensors of information states or observations.

    Tensor pieces (padded to the largest observation / action count so all players share one
    shape): ``player`` ``(N,)`` one-hot; with perfect recall ``observations`` ``(H, O_max)`` and
    ``actions`` ``(H, n_max)`` one-hot histories; otherwise ``observation`` ``(O_max,)``.
    """

    def __init__(self, data: _Compiled, perfect_recall: bool) -> None:
        self.data = data
        self.perfect_recall = perfect_recall
        horizon = max(data.horizon, 1)
        o_max, n_max = max(data.num_observations), max(data.num_actions)
        shapes: list[tuple[str, tuple[int, ...]]] = [("player", (data.num_players,))]
        if perfect_recall:
            shapes += [("observations", (horizon, o_max)), ("actions", (horizon, n_max))]
        else:
            shapes += [("observation", (o_max,))]
        self.tensor = np.zeros(sum(math.prod(shape) for _, shape in shapes), np.float32)
        self.dict: dict[str, np.ndarray] = {}
        offset = 0
        for name, shape in shapes:
            size = math.prod(shape)
            self.dict[name] = self.tensor[offset:offset + size].reshape(shape)
            offset += size

    def set_from(self, state: MarkovOpenSpielState, player: int) -> None:
        self.tensor.fill(0)
        if 0 <= player < self.data.num_players:
            self.dict["player"][player] = 1
        else:  # shape queries may pass a default player id; nothing to observe
            return
        obs = self.data.observations[player]
        if self.perfect_recall:
            for t, s in enumerate(state._visited[:self.dict["observations"].shape[0]]):
                self.dict["observations"][t, obs[s]] = 1
            for t, a in enumerate(state.own_actions(player)):
                self.dict["actions"][t, a] = 1
        elif state._s >= 0:
            self.dict["observation"][obs[state._s]] = 1

    def string_from(self, state: MarkovOpenSpielState, player: int) -> str:
        obs = self.data.observations[player]
        if self.perfect_recall:
            seen = ",".join(str(obs[s]) for s in state._visited)
            acts = ",".join(str(a) for a in state.own_actions(player))
            return f"p{player} t={state._t} obs=[{seen}] acts=[{acts}]"
        current = "?" if state._s < 0 else str(obs[state._s])
        return f"p{player} obs={current}"


def to_openspiel(game: MarkovGame, *, horizon: int | None = None,
                 register: bool = False) -> MarkovOpenSpielGame:
    """Convert a finite-horizon Markov game into an OpenSpiel game (encoding in the module doc).

    Parameters
    ----------
    game : MarkovGame
        Fully or partially observed; transitions ``(S, n_1, ..., n_N, S)``, rewards
        ``(N, S, n_1, ..., n_N)``.
    horizon : int, optional
        Maximal number of stages. ``None`` computes :func:`finite_horizon` (and fails on a
        cyclic game). An explicit horizon shorter than ``finite_horizon(game)`` -- or any
        horizon on a cyclic game -- plays the game *truncated* after ``horizon`` stages.
    register : bool
        Also register the game with ``pyspiel.register_game`` under its unique short name, so
        that ``pyspiel.load_game(name)`` and state deserialisation work. Not needed to run
        algorithms on the returned object.

    Returns
    -------
    MarkovOpenSpielGame
        A ``pyspiel.Game`` with ``num_players() == N``, ``num_distinct_actions() == max n_i``,
        ``max_chance_outcomes() == S``; short name ``"python_gametools_markov_<k>"``.
        Its utility type is ``ZERO_SUM`` when all rewards sum to zero over players, else
        ``GENERAL_SUM``.

    Raises
    ------
    CyclicGameError
        When ``horizon`` is None and the reachable state graph has a cycle.
    OpenSpielConversionError
        When ``horizon`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from open_spiel.python.algorithms import exploitability
    >>> from gametools import NormalFormGame
    >>> pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]]).to_markov_game()
    >>> game_os = to_openspiel(pennies)
    >>> game_os.num_players(), game_os.horizon
    (2, 1)
    >>> heads = (np.array([[1.0, 0.0], [1.0, 0.0]]),) * 2
    >>> float(exploitability.nash_conv(game_os, policy_to_openspiel(game_os, pennies, heads)))
    2.0
    """
    if not isinstance(game, MarkovGame):
        raise TypeError(f"expected a MarkovGame, got {type(game).__name__}")
    if horizon is None:
        stages = max(finite_horizon(game), 1)  # a game that ends at once still needs a stage
    else:
        if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
            raise OpenSpielConversionError(f"horizon must be a positive integer, got {horizon!r}")
        stages = int(horizon)
    data = _Compiled(game, stages)

    rewards = np.asarray(game.rewards, dtype=float)
    scale = max(float(np.abs(rewards).max(initial=0.0)), 1.0)
    zero_sum = bool(np.all(np.abs(rewards.sum(axis=0)) <= 1e-12 * scale))
    gamma = data.discount
    weight = float(stages) if gamma == 1.0 else (1.0 - gamma ** stages) / (1.0 - gamma)
    # an episode may end early and pay nothing more, so 0 is always inside the range
    low = weight * min(float(rewards.min()), 0.0)
    high = weight * max(float(rewards.max()), 0.0)
    if high <= low:  # all rewards zero: OpenSpiel wants a non-empty utility range
        high = low + 1.0
    short_name = f"python_gametools_markov_{next(_NAME_COUNTER)}"
    game_type = pyspiel.GameType(
        short_name=short_name,
        long_name=f"gametools Markov game ({game.num_states} states, {stages} stages)",
        dynamics=pyspiel.GameType.Dynamics.SEQUENTIAL,
        chance_mode=pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC,
        information=pyspiel.GameType.Information.IMPERFECT_INFORMATION,
        utility=(pyspiel.GameType.Utility.ZERO_SUM if zero_sum
                 else pyspiel.GameType.Utility.GENERAL_SUM),
        reward_model=pyspiel.GameType.RewardModel.REWARDS,
        max_num_players=game.num_players,
        min_num_players=game.num_players,
        provides_information_state_string=True,
        provides_information_state_tensor=True,
        provides_observation_string=True,
        provides_observation_tensor=True,
        parameter_specification={},
        default_loadable=True,
        provides_factored_observation_string=False)
    game_info = pyspiel.GameInfo(
        num_distinct_actions=max(game.num_actions),
        max_chance_outcomes=game.num_states,
        num_players=game.num_players,
        min_utility=low,
        max_utility=high,
        utility_sum=0.0 if zero_sum else None,
        max_game_length=stages * game.num_players)
    if not register:
        return MarkovOpenSpielGame(game_type, game_info, data)

    # The creator must be a class: pyspiel keeps it in a C++ static registry that is destroyed
    # after the interpreter has shut down, and freeing a plain function (or lambda) then aborts
    # the process ("PyThreadState_Get: ... GIL is released"). A class is never freed there
    # because it references itself through its MRO.
    def __init__(self: MarkovOpenSpielGame, params: dict | None = None) -> None:
        MarkovOpenSpielGame.__init__(self, game_type, game_info, data, params)

    creator = type(f"MarkovOpenSpielGame_{short_name}", (MarkovOpenSpielGame,),
                   {"__init__": __init__, "__module__": __name__})
    pyspiel.register_game(game_type, creator)
    return creator()


# --------------------------------------------------------------------------------------------
# policies
# --------------------------------------------------------------------------------------------

class MarkovProfilePolicy(os_policy.Policy):
    """OpenSpiel policy playing a gametools profile on a :class:`MarkovOpenSpielGame`.

    In Markov state ``s`` player ``i`` plays ``profile[i][observations[i, s]]``, whatever its
    history, so the policy is a valid (stationary) behaviour policy of the OpenSpiel game.

    Parameters
    ----------
    game_os : MarkovOpenSpielGame
    game : MarkovGame
    profile : sequence of ndarray, shapes (num_observations[i], n_i)
    """

    def __init__(self, game_os: MarkovOpenSpielGame, game: MarkovGame,
                 profile: Sequence[Any]) -> None:
        super().__init__(game_os, list(range(game.num_players)))
        self.profile = validate_profile(game, profile)
        self._observations = np.asarray(game.observations)
        # plain dicts: OpenSpiel calls action_probabilities at every node
        self._rows = [[{a: float(p) for a, p in enumerate(row)} for row in policy]
                      for policy in self.profile]

    def action_probabilities(self, state: pyspiel.State,
                             player_id: int | None = None) -> dict[int, float]:
        """``{action: probability}`` of the acting (or given) player in ``state``."""
        player = state.current_player() if player_id is None else player_id
        try:
            markov_state = state.markov_state
        except AttributeError:
            raise TypeError("MarkovProfilePolicy needs states of a game made by to_openspiel, "
                            f"got {type(state).__name__}") from None
        return dict(self._rows[player][self._observations[player, markov_state]])


def policy_to_openspiel(game_os: MarkovOpenSpielGame, game: MarkovGame,
                        profile: Sequence[Any]) -> MarkovProfilePolicy:
    """Wrap a gametools profile as an OpenSpiel policy on ``game_os = to_openspiel(game)``.

    Parameters
    ----------
    game_os : MarkovOpenSpielGame
        The converted game.
    game : MarkovGame
        The game ``game_os`` was converted from.
    profile : sequence of array_like, shapes (num_observations[i], n_i)
        Rows on the simplex.

    Returns
    -------
    MarkovProfilePolicy

    Raises
    ------
    PolicyValidationError
        On a wrong number of policies, a wrong shape or a row off the simplex.
    OpenSpielConversionError
        When ``game_os`` was not converted from ``game``.
    """
    if not isinstance(game_os, MarkovOpenSpielGame):
        raise OpenSpielConversionError(
            f"game_os must come from to_openspiel, got {type(game_os).__name__}")
    if game_os.markov_game is not game:
        raise OpenSpielConversionError("game_os was not converted from this MarkovGame")
    return MarkovProfilePolicy(game_os, game, profile)


def openspiel_nash_conv(game: MarkovGame, profile: Sequence[Any], *,
                        horizon: int | None = None) -> float:
    """NashConv of ``profile`` computed by OpenSpiel's ``exploitability.nash_conv``.

    NashConv is ``sum_i (max_{pi_i'} v_i(pi_i', pi_-i) - v_i(pi))`` with perfect-recall
    deviations (see the module doc for what that means under partial observation).

    Parameters
    ----------
    game : MarkovGame
    profile : sequence of array_like, shapes (num_observations[i], n_i)
    horizon : int, optional
        As in :func:`to_openspiel`.

    Returns
    -------
    float

    Raises
    ------
    PolicyValidationError
        On a malformed profile (checked before any conversion).
    CyclicGameError
        As in :func:`to_openspiel`.
    """
    checked = validate_profile(game, profile)
    game_os = to_openspiel(game, horizon=horizon)
    return float(os_exploitability.nash_conv(game_os, MarkovProfilePolicy(game_os, game, checked)))


# --------------------------------------------------------------------------------------------
# OpenSpiel normal-form games -> NormalFormGame
# --------------------------------------------------------------------------------------------

def _game_name(game: pyspiel.Game) -> str:
    try:
        return str(game)
    except Exception:  # noqa: BLE001 - a name is only for messages
        return game.get_type().short_name


def _expected_returns(state: pyspiel.State, name: str) -> np.ndarray:
    """Expected returns after a joint action; only chance may move before the end."""
    if state.is_terminal():
        return np.asarray(state.returns(), dtype=float)
    if state.is_chance_node():
        return sum((p * _expected_returns(state.child(a), name)
                    for a, p in state.chance_outcomes()), np.zeros(state.num_players()))
    raise OpenSpielConversionError(
        f"{name} is not a one-shot game: players move again after the first joint action, so it "
        "has no normal form of its own")


def _from_simultaneous(game: pyspiel.Game, name: str) -> NormalFormGame:
    root = game.new_initial_state()
    if not root.is_simultaneous_node():
        raise OpenSpielConversionError(
            f"{name} does not start with a simultaneous move (it starts with a "
            f"{'chance' if root.is_chance_node() else 'sequential'} node), so it is not a "
            "normal-form game")
    num_players = game.num_players()
    legal = [root.legal_actions(p) for p in range(num_players)]
    shape = tuple(len(actions) for actions in legal)
    payoffs = np.zeros((num_players, *shape))
    for index in np.ndindex(*shape):
        child = root.clone()
        child.apply_actions([legal[p][k] for p, k in enumerate(index)])
        payoffs[(slice(None), *index)] = _expected_returns(child, name)
    labels = [[root.action_to_string(p, a) for a in legal[p]] for p in range(num_players)]
    return NormalFormGame(payoffs, action_labels=labels, title=game.get_type().long_name)


def from_openspiel(game: pyspiel.Game) -> NormalFormGame:
    """Load an OpenSpiel normal-form game as a :class:`~gametools.model.NormalFormGame`.

    Accepted: ``pyspiel.MatrixGame`` (e.g. ``pyspiel.load_game("matrix_rps")``,
    ``pyspiel.create_matrix_game``), ``pyspiel.TensorGame`` (``pyspiel.create_tensor_game``,
    ``pyspiel.extensive_to_tensor_game``), and any game whose root is a simultaneous move after
    which only chance moves (e.g. ``"blotto"``); chance after the joint action is averaged out.

    Parameters
    ----------
    game : pyspiel.Game

    Returns
    -------
    NormalFormGame
        Payoffs ``(N, n_1, ..., n_N)``, player axis first; action names as ``action_labels``.
        For a generic simultaneous game, action ``k`` of player ``i`` is its ``k``-th legal
        action at the root.

    Raises
    ------
    OpenSpielConversionError
        For any other game (sequential, starting with chance, or with several rounds), naming
        the game and the reason.

    Examples
    --------
    >>> rps = from_openspiel(pyspiel.load_game("matrix_rps"))
    >>> rps.payoffs[0].tolist()
    [[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]
    >>> rps.action_labels[1]
    ('Rock', 'Paper', 'Scissors')
    """
    if isinstance(game, pyspiel.MatrixGame):
        payoffs = np.stack([np.asarray(game.row_utilities(), dtype=float),
                            np.asarray(game.col_utilities(), dtype=float)])
        labels = [[game.row_action_name(r) for r in range(game.num_rows())],
                  [game.col_action_name(c) for c in range(game.num_cols())]]
        return NormalFormGame(payoffs, action_labels=labels, title=game.get_type().long_name)
    if isinstance(game, pyspiel.TensorGame):
        shape = tuple(game.shape())
        payoffs = np.stack([np.asarray(game.player_utilities(p), dtype=float).reshape(shape)
                            for p in range(game.num_players())])
        labels = [[game.action_name(p, a) for a in range(n)] for p, n in enumerate(shape)]
        return NormalFormGame(payoffs, action_labels=labels, title=game.get_type().long_name)
    name = _game_name(game)
    dynamics = game.get_type().dynamics
    if dynamics != pyspiel.GameType.Dynamics.SIMULTANEOUS:
        raise OpenSpielConversionError(
            f"{name} has {dynamics} dynamics; only matrix games, tensor games and one-shot "
            "simultaneous-move games load as normal-form games (pyspiel.extensive_to_tensor_game "
            "gives the induced normal form of a small sequential game)")
    return _from_simultaneous(game, name)


# --------------------------------------------------------------------------------------------
# OpenSpiel game trees -> ExtensiveGame
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenSpielTree:
    """An unrolled OpenSpiel game and the key of every infoset back into OpenSpiel.

    Attributes
    ----------
    game : ExtensiveGame
        The tree; its ``infoset_labels`` are OpenSpiel information-state strings.
    openspiel_game : pyspiel.Game
    infoset_keys : sequence of (int, str)
        ``(player, information_state_string)`` of every infoset (an :class:`InfosetKeys`
        view of the game's infoset players and labels; several infosets share one
        when ``recall="refine"`` split an OpenSpiel information state).
    legal_actions : tuple of tuple of int
        OpenSpiel action ids of every infoset, in the order of its actions in the tree.
    """

    game: ExtensiveGame
    openspiel_game: Any
    infoset_keys: Sequence[tuple[int, str]]
    legal_actions: tuple[tuple[int, ...], ...]


class InfosetKeys(Sequence[tuple[int, str]]):
    """``(player, information-state string)`` of every infoset of an unrolled game, read from
    its ``infoset_player`` and ``infoset_labels`` (no pair is stored per infoset)."""

    __slots__ = ("_game",)

    def __init__(self, game: ExtensiveGame) -> None:
        self._game = game

    def __len__(self) -> int:
        return self._game.num_infosets

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self[k] for k in range(*index.indices(len(self))))
        return (int(self._game.infoset_player[index]), self._game.infoset_labels[index])


@functools.lru_cache(maxsize=65536)
def _exact_number(value: float) -> Fraction:
    """A float from OpenSpiel as the simple fraction it stands for (1/3, not 0x3FD5...)."""
    simple = Fraction(value).limit_denominator(10_000)
    return simple if float(simple) == value else Fraction(value)


def is_normal_form(game: Any) -> bool:
    """Whether :func:`from_openspiel` loads ``game`` (matrix, tensor or one-shot game)."""
    if isinstance(game, (pyspiel.MatrixGame, pyspiel.TensorGame)):
        return True
    if game.get_type().dynamics != pyspiel.GameType.Dynamics.SIMULTANEOUS:
        return False
    try:
        _from_simultaneous(game, _game_name(game))
    except OpenSpielConversionError:
        return False
    return True


def load_openspiel(spec: str) -> Any:
    """``pyspiel.load_game(spec)`` with a one-line error for an unknown name or parameter."""
    import os
    import tempfile

    # OpenSpiel's C++ layer also prints the error (with every game name) on the process's
    # stderr before raising; keep that out of the one-line message the user sees
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                return pyspiel.load_game(spec)
            finally:
                os.dup2(saved, 2)
    except (pyspiel.SpielError, RuntimeError, ValueError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        first = first.split(" Available games are")[0]
        raise OpenSpielConversionError(f"OpenSpiel cannot load {spec!r}: {first}") from None
    finally:
        os.close(saved)


def extensive_from_openspiel(game: Any, *, max_nodes: int | None = None,
                             recall: str = "refine") -> OpenSpielTree:
    """Unroll an OpenSpiel game into an :class:`~gametools.extensive.ExtensiveGame`.

    Parameters
    ----------
    game : pyspiel.Game or str
        A loaded game (C++ or Python implemented) or a game string for ``pyspiel.load_game``.
    max_nodes : int, optional
        Refuse trees with more nodes (checked while walking, before the arrays are built);
        default: the limit ``max_tree_nodes`` of :mod:`gametools.limits` (2,000,000, raised
        with ``GAMETOOLS_MAX_TREE_NODES=...``).
    recall : {"refine", "keep"}
        Some OpenSpiel information-state strings forget what the player saw or did before
        (goofspiel without ``imp_info`` shows the cards left and who won each round, not the
        order in which cards were played), which is imperfect recall. ``"refine"`` (default)
        splits such an infoset by the player's own history of (information state, action)
        pairs, giving the perfect-recall game in which players remember what they saw and did
        (the coarsest such refinement; nothing changes for games whose strings already have
        perfect recall, e.g. the poker games). NashConv equals OpenSpiel's whenever what the
        string forgets is irrelevant to the future, as in goofspiel. ``"keep"`` keeps OpenSpiel's partition; the game is then flagged
        imperfect-recall and the exact solvers refuse it.

    Returns
    -------
    OpenSpielTree

    Raises
    ------
    OpenSpielConversionError
        For a game without information-state strings, with sampled chance, or too large.

    Examples
    --------
    >>> tree = extensive_from_openspiel("kuhn_poker")
    >>> tree.game.num_terminals, tree.game.num_infosets
    (30, 12)
    """
    from gametools.limits import current

    if max_nodes is None:
        max_nodes = current().max_tree_nodes
    if recall not in ("refine", "keep"):
        raise OpenSpielConversionError(f"recall must be 'refine' or 'keep', got {recall!r}")
    if isinstance(game, str):
        game = load_openspiel(game)
    if not isinstance(game, pyspiel.Game):
        raise OpenSpielConversionError(f"expected a pyspiel.Game, got {type(game).__name__}")
    name = _game_name(game)
    game_type = game.get_type()
    if not game_type.provides_information_state_string:
        raise OpenSpielConversionError(f"{name} provides no information-state strings, so its "
                                       "information sets are unknown")
    if game_type.chance_mode == pyspiel.GameType.ChanceMode.SAMPLED_STOCHASTIC:
        raise OpenSpielConversionError(f"{name} has sampled chance (no explicit outcomes)")
    walk = _TreeWalk(game, name, max_nodes, recall == "refine")
    walk.run()
    extensive = walk.build(title=game_type.long_name)
    return OpenSpielTree(extensive, game, InfosetKeys(extensive), tuple(walk.legal_of))


class _TreeWalk:
    """Depth-first walk of an OpenSpiel game streamed into compact per-node arrays.

    Per node, in order of creation: parent (creation index), depth, player, infoset id, the id
    of the chance edge into it (distinct (label, probability) pairs) and of its outcome
    (distinct returns tuples), 21 bytes in all; per infoset its key, legal actions and action
    labels (tuples shared among infosets). Nodes of one depth are created in breadth-first
    order (the walk is depth-first, and a simultaneous node creates its second mover's nodes
    in action order), so a stable sort by depth is the breadth-first order.
    """

    def __init__(self, game: Any, name: str, max_nodes: int, refine: bool) -> None:
        self.game, self.name, self.max_nodes, self.refine = game, name, int(max_nodes), refine
        self.num_players = game.num_players()
        self.parent = array("i")
        self.depth = array("i")
        self.player = array("b")
        self.infoset = array("i")
        self.edge = array("i")
        self.outcome = array("i")
        # an infoset is an (own history code, information-state string) pair; the code is
        # ``-1 - player`` before the player's first move, else ``infoset * A + action`` of its
        # last own move (which stands for its whole own history; codes differ between
        # players), and ``-1 - player`` always with ``recall="keep"``. ``first``: string ->
        # the first infoset met with it (keyed by the string object the labels keep anyway);
        # ``more``: (code, string) -> infoset, for strings met again with another own history
        self.first: dict[str, int] = {}
        self.more: dict[tuple[int, str], int] = {}
        self.own_of = array("q")
        self.strings: list[str] = []
        self.legal_of: list[tuple[int, ...]] = []
        self.action_labels: list[tuple[str, ...]] = []
        self.shared: dict[Any, Any] = {}
        self.edges: dict[tuple[str, float], int] = {}
        self.outcomes: dict[tuple[float, ...], int] = {}

    def _node(self, parent: int, depth: int, player: int, infoset: int, edge: int,
              outcome: int) -> int:
        node = len(self.parent)
        if node >= self.max_nodes:
            raise OpenSpielConversionError(
                f"{self.name} has more than {self.max_nodes} tree nodes; raise max_nodes (or "
                "GAMETOOLS_MAX_TREE_NODES) if memory and time allow")
        self.parent.append(parent)
        self.depth.append(depth)
        self.player.append(player)
        self.infoset.append(infoset)
        self.edge.append(edge)
        self.outcome.append(outcome)
        return node

    def _infoset(self, state: Any, player: int, legal: list[int], own: int) -> int:
        key = state.information_state_string(player)
        if not self.refine:
            own = -1 - player
        number = self.first.get(key)
        if number is not None and self.own_of[number] != own:
            number = self.more.get((own, key))
            if number is None:
                number = self.more[(own, key)] = len(self.strings)
                self._new_infoset(state, player, legal, own, key)
                return number
        elif number is None:
            number = self.first[key] = len(self.strings)
            self._new_infoset(state, player, legal, own, key)
            return number
        if self.legal_of[number] != tuple(legal):
            raise OpenSpielConversionError(f"{self.name}: infoset {key!r} of player {player} "
                                           "has different legal actions at different histories")
        return number

    def _new_infoset(self, state: Any, player: int, legal: list[int], own: int,
                     key: str) -> None:
        self.strings.append(key)
        self.own_of.append(own)
        share = self.shared.setdefault
        actions = tuple(legal)
        self.legal_of.append(share(actions, actions))
        labels = tuple(state.action_to_string(player, a) for a in legal)
        self.action_labels.append(share(labels, labels))

    def run(self) -> None:
        game, num_players, refine = self.game, self.num_players, self.refine
        width = game.num_distinct_actions()
        edges, outcomes, add = self.edges, self.outcomes, self._node
        # each stack entry: state, parent node, depth, chance edge into it, every player's
        # own history code
        Entry = tuple[Any, int, int, int, tuple[int, ...]]
        stack: list[Entry] = [(game.new_initial_state(), -1, 0, -1,
                               tuple(-1 - p for p in range(num_players)))]
        while stack:
            state, up, depth, via, own = stack.pop()
            if state.is_terminal():
                returns = tuple(state.returns())
                outcome = outcomes.get(returns)
                if outcome is None:
                    outcome = outcomes[returns] = len(outcomes)
                add(up, depth, TERMINAL, -1, via, outcome)
            elif state.is_chance_node():
                node = add(up, depth, CHANCE, -1, via, -1)
                # children are pushed last-first so that the walk is in preorder
                for action, probability in reversed(state.chance_outcomes()):
                    key = (state.action_to_string(pyspiel.PlayerId.CHANCE, action),
                           probability)
                    edge = edges.get(key)
                    if edge is None:
                        edge = edges[key] = len(edges)
                    stack.append((state.child(action), node, depth + 1, edge, own))
            elif state.is_simultaneous_node():
                # one decision node per player, in turn, without seeing the earlier movers
                parents: list[tuple[int, int, tuple[int, ...]]] = [(up, via, ())]
                identities = []
                for p in range(num_players):
                    legal = state.legal_actions(p)
                    ident = self._infoset(state, p, legal, own[p])
                    identities.append(ident)
                    following: list[tuple[int, int, tuple[int, ...]]] = []
                    for where, into, chosen in parents:
                        node = add(where, depth, p, ident, into, -1)
                        following.extend((node, -1, chosen + (a,)) for a in legal)
                    parents = following
                    depth += 1
                for where, _, joint in reversed(parents):
                    child = state.clone()
                    child.apply_actions(list(joint))
                    after = (tuple(ident * width + a for ident, a in zip(identities, joint))
                             if refine else own)
                    stack.append((child, where, depth, -1, after))
            else:
                player = state.current_player()
                legal = state.legal_actions()
                ident = self._infoset(state, player, legal, own[player])
                node = add(up, depth, player, ident, via, -1)
                for action in reversed(legal):
                    after = own
                    if refine:
                        after = own[:player] + (ident * width + action,) + own[player + 1:]
                    stack.append((state.child(action), node, depth + 1, -1, after))

    def build(self, title: str) -> ExtensiveGame:
        """The walked tree in breadth-first order (the walk's arrays are released)."""
        num_players = self.num_players
        # the walk's dictionaries are not needed any more (the infosets' keys, legal actions
        # and action labels stay in their lists)
        self.first.clear()
        self.more.clear()
        self.own_of = array("q")
        self.shared.clear()
        rows = list(self.outcomes)
        moves = list(self.edges)
        self.outcomes.clear()
        self.edges.clear()
        order = np.argsort(np.frombuffer(self.depth, dtype=np.int32), kind="stable")
        self.depth = array("i")
        size = order.size
        new_index = np.empty(size, dtype=np.int32)
        new_index[order] = np.arange(size, dtype=np.int32)
        old_parent = np.frombuffer(self.parent, dtype=np.int32)[order]
        self.parent = array("i")
        parent = np.where(old_parent >= 0, new_index[np.maximum(old_parent, 0)], -1)
        del old_parent, new_index
        player = np.frombuffer(self.player, dtype=np.int8)[order]
        infoset = np.frombuffer(self.infoset, dtype=np.int32)[order]
        edge = np.frombuffer(self.edge, dtype=np.int32)[order]
        outcome = np.frombuffer(self.outcome, dtype=np.int32)[order]
        self.player, self.infoset, self.edge, self.outcome = (array("b"), array("i"),
                                                              array("i"), array("i"))
        del order
        terminal_outcome = outcome[player == TERMINAL]
        del outcome
        payoffs = [[_exact_number(float(row[i])) for row in rows] for i in range(num_players)]
        chance_exact: Any = None
        chance_labels: Any = None
        probabilities: Any = np.broadcast_to(np.float64(1.0), (size,))
        if (player == CHANCE).any():
            exact = np.array([_exact_number(float(p)) for _, p in moves] + [Fraction(1)],
                             dtype=object)
            table = np.array([float(x) for x in exact])
            probabilities = table[edge]  # edge -1: the table's last entry, 1
            chance_exact = exact[edge]
            chance_labels = LabelColumn(("",) + tuple(label for label, _ in moves), edge + 1)
        del edge
        return ExtensiveGame(
            num_players, parent, player, infoset, probabilities, payoffs,
            outcomes=terminal_outcome, chance_exact=chance_exact, title=title,
            player_labels=[f"Player {i}" for i in range(num_players)],
            infoset_labels=self.strings,
            action_labels=self.action_labels, chance_labels=chance_labels,
            chance_infoset=np.zeros(size, dtype=np.int8))


def policy_from_openspiel(tree: OpenSpielTree, policy: Any) -> tuple[np.ndarray, ...]:
    """Behaviour profile (flat vectors) of an OpenSpiel policy on ``tree``'s infosets.

    ``policy`` is a ``TabularPolicy`` (read from its table) or any other
    ``open_spiel.python.policy.Policy`` of a turn-based game (tabulated first with OpenSpiel's
    ``tabular_policy_from_callable``, which walks the game once). Infosets that refine one
    OpenSpiel information state (``recall="refine"``) get that state's row.
    """
    if not isinstance(policy, os_policy.TabularPolicy):
        if not isinstance(policy, os_policy.Policy):
            raise OpenSpielConversionError(f"expected an OpenSpiel Policy, got "
                                           f"{type(policy).__name__}")
        if tree.openspiel_game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
            # OpenSpiel's tabulation asks simultaneous nodes for joint-action probabilities
            raise OpenSpielConversionError(
                "for simultaneous-move games pass a TabularPolicy (OpenSpiel's tabulation of "
                "other policies mixes the players' actions at simultaneous nodes)")
        policy = os_policy.tabular_policy_from_callable(tree.openspiel_game, policy)
    game = tree.game
    profile = [np.zeros(n) for n in game.num_actions_per_player]
    for k, ((player, key), actions) in enumerate(zip(tree.infoset_keys, tree.legal_actions)):
        row = policy.policy_for_key(key)
        values = [row[a] for a in actions]
        if abs(sum(values) - 1.0) > 1e-9:
            # TabularPolicy keys rows by the string alone: when two players' information
            # states read the same (public-information simultaneous games such as goofspiel
            # without imp_info), they share one row, laid out for one player's legal actions
            raise OpenSpielConversionError(
                f"the OpenSpiel policy's row for information state {key!r} of player {player}"
                f" does not sum to 1 over that player's legal actions ({sum(values):.6g}); "
                "TabularPolicy cannot tell players apart whose information-state strings "
                "coincide")
        profile[player][game.infoset_slice(k)] = values
    return tuple(profile)


def policy_to_openspiel_tabular(tree: OpenSpielTree, profile: Sequence[Any]) -> Any:
    """An OpenSpiel ``TabularPolicy`` holding a behaviour profile of ``tree.game``.

    Raises
    ------
    OpenSpielConversionError
        When infosets that refine one OpenSpiel information state carry different rows
        (OpenSpiel's table has one row per information state).
    """
    checked = tree.game.check_profile(profile)
    tabular = os_policy.TabularPolicy(tree.openspiel_game)
    written: dict[tuple[int, str], np.ndarray] = {}
    for k, ((player, key), actions) in enumerate(zip(tree.infoset_keys, tree.legal_actions)):
        values = checked[player][tree.game.infoset_slice(k)]
        if (player, key) in written:
            if not np.allclose(written[(player, key)], values, atol=1e-12):
                raise OpenSpielConversionError(
                    f"infosets refining OpenSpiel's information state {key!r} of player "
                    f"{player} hold different rows; OpenSpiel's table cannot represent that")
            continue
        written[(player, key)] = values
        row = tabular.policy_for_key(key)
        row[:] = 0.0
        row[list(actions)] = values
    return tabular


def extensive_from_markov(game: MarkovGame, *, horizon: int | None = None) -> OpenSpielTree:
    """A finite-horizon Markov game as a game tree: :func:`to_openspiel`, then unrolled.

    The tree is the perfect-recall extensive form of the Markov game (information states =
    own observation and action histories; the players of one stage move in turn without
    seeing each other); its NashConv is OpenSpiel's, which equals gametools' exact
    Markov-game NashConv wherever that is exact (fully observed, or perfect recall in the
    observations). Convert profiles with :func:`markov_profile_to_extensive`.
    :func:`gametools.extensive.tree_from_markov` builds the same game without OpenSpiel
    (and without decision nodes for moves that change nothing).
    """
    return extensive_from_openspiel(to_openspiel(game, horizon=horizon))


def markov_profile_to_extensive(tree: OpenSpielTree, game: MarkovGame,
                                profile: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """A Markov-game profile (``(O_i, n_i)`` per player) as behaviour vectors of ``tree``,
    which :func:`extensive_from_markov` made from ``game``."""
    game_os = tree.openspiel_game
    wrapped = policy_to_openspiel(game_os, game, profile)
    tabular = os_policy.tabular_policy_from_callable(game_os, wrapped)
    return policy_from_openspiel(tree, tabular)
