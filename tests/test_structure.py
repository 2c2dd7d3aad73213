"""One structure layer: no private imports across modules, and the shared public pieces.

- An AST check: no module under gametools/, games/ or analyses/ imports a private name (one
  with a leading underscore) of another gametools module, relatively or absolutely, nor reads
  one as an attribute of an imported module. Private *modules* (``gametools/_io.py``,
  ``gametools/solvers/_kernels.py``) are the package's internal modules and may be imported.
- Unit tests of :mod:`gametools.structure`, :mod:`gametools.mdp`, :mod:`gametools.numerics` and
  :mod:`gametools.solvers.support` on hand-built games, each expected value derived in a comment.
"""

from __future__ import annotations

import ast
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from gametools import MarkovGame, NormalFormGame, nash_conv
from gametools.mdp import evaluate_policy, markov_arrays, policy_iteration
from gametools.model import contract_others
from gametools.numerics import (
    UNIT_ROUNDOFF,
    gamma,
    integer_array,
    power_of_two_at_least,
    solve_indifference,
    solve_integer_system,
)
from gametools.solvers import solve
from gametools.solvers.support import NotFullyObservedError, require_sees_state
from gametools.structure import (
    acting_states,
    has_perfect_recall,
    heights,
    idle_states,
    observation_policies,
    observation_states,
    sees_state,
    state_game,
    topological_order,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gametools", "games", "analyses")


# ------------------------------------------------------------------------------------------
# no private imports across modules
# ------------------------------------------------------------------------------------------

def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``from ... import`` statement reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(path: Path, text: str | None = None) -> list[str]:
    """``file:line: what`` for every private name this file takes from another gametools module.

    ``text`` replaces the file's contents (to test the check itself).
    """
    module = _module_name(path)
    source_text = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(source_text, filename=str(path))
    found = []
    aliases: dict[str, str] = {}  # local name -> gametools module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            if source.split(".")[0] != "gametools":
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                if _is_module(target):
                    aliases[alias.asname or alias.name] = target
                elif _private(alias.name) and source != module:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {source} "
                                 f"import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gametools":
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        aliases["gametools"] = "gametools"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            # gametools.x._y or alias._y, where _y is not itself a module
            chain = []
            value: ast.expr = node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in aliases:
                owner = ".".join([aliases[value.id], *reversed(chain)])
                if owner != module and not _is_module(f"{owner}.{node.attr}"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {owner}.{node.attr}")
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    files = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 50  # the walk found the packages
    found = [line for path in files for line in private_imports(path)]
    assert found == [], "private names imported across modules:\n" + "\n".join(found)


def test_the_private_import_check_catches_each_form() -> None:
    # the checker itself, on planted text for a (nonexistent) module of the solvers package
    planted = ROOT / "gametools" / "solvers" / "zz_planted_for_test.py"
    planted_text = ("from gametools.exploitability import nash_conv, _planted\n"
                    "from .result import _planted_too\n"
                    "from gametools.solvers import _kernels\n"
                    "from gametools.solvers.result import max_regret as _alias\n"
                    "import gametools.exploitability as ex\n"
                    "x = ex._planted_attribute\n")
    found = private_imports(planted, planted_text)
    assert [line.split(": ", 1)[1] for line in found] == [
        "from gametools.exploitability import _planted",
        "from gametools.solvers.result import _planted_too",
        "gametools.exploitability._planted_attribute"]


# ------------------------------------------------------------------------------------------
# hand-built games
# ------------------------------------------------------------------------------------------

def _chain_game(observations: list[list[int]] | None = None) -> MarkovGame:
    """Two players, two actions; 0 -> 1 -> 2 (terminal) whatever they play; 3 is unreachable
    and loops on itself; 4 is terminal. Player 0 earns its own action in every live state."""
    transitions = np.zeros((5, 2, 2, 5))
    transitions[0, :, :, 1] = transitions[1, :, :, 2] = 1.0
    transitions[3, :, :, 3] = 1.0
    transitions[2, :, :, 2] = transitions[4, :, :, 4] = 1.0
    rewards = np.zeros((2, 5, 2, 2))
    rewards[0, :, 1, :] = 1.0
    return MarkovGame(transitions, rewards, [1, 0, 0, 0, 0], 0.9,
                      terminal=[False, False, True, False, True], observations=observations)


def test_acting_states_and_sees_state() -> None:
    # reachable non-terminal states of the chain: 0 and 1 (2 and 4 terminal, 3 unreachable)
    fully = _chain_game()
    assert acting_states(fully).tolist() == [True, True, False, False, False]
    assert sees_state(fully) and sees_state(fully, 1)
    # observation ids shared only with terminal or unreachable states: still one-to-one on the
    # acting states {0, 1}
    shared = _chain_game([[0, 1, 0, 1, 1], [0, 1, 2, 3, 4]])
    assert sees_state(shared, 0) and sees_state(shared)
    # player 1 sees states 0 and 1 as the same observation: not one-to-one
    blind = _chain_game([[0, 1, 2, 3, 4], [0, 0, 1, 2, 3]])
    assert sees_state(blind, 0) and not sees_state(blind, 1) and not sees_state(blind)
    with pytest.raises(NotFullyObservedError, match="player 1"):
        require_sees_state(blind, "a solver")
    assert require_sees_state(shared, "a solver") is shared
    with pytest.raises(TypeError):
        require_sees_state(NormalFormGame.zero_sum([[1]]), "a solver")


def test_observation_states_and_policies_let_acting_states_win_shared_ids() -> None:
    # player 0: id 0 is used by state 0 (acting) and 2 (terminal); id 1 by state 1 (acting) and
    # 3 (unreachable, live) and 4 (terminal); id 2 by nobody
    game = _chain_game([[0, 1, 0, 1, 1], [0, 1, 2, 3, 4]])
    assert observation_states(game, 0).tolist() == [0, 1]
    assert observation_states(game, 1).tolist() == [0, 1, -1, 3, -1]
    state_policies = [np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8], [0.5, 0.5]])] * 2
    lifted = observation_policies(game, state_policies)
    assert lifted[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    # player 1: ids 2 and 4 belong to terminal states only: uniform; id 3 to the live state 3
    assert lifted[1].tolist() == [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8], [0.5, 0.5]]
    stateful = state_game(game)
    assert stateful.fully_observed and state_game(stateful) is stateful
    assert np.array_equal(stateful.transitions, game.transitions)


def test_solve_lifts_policies_from_the_acting_state_of_a_shared_observation() -> None:
    # A one-shot zero-sum game [[2, -1], [-1, 1]] as a Markov game (state 0 plays, state 1 is
    # terminal), both players observing id 0 in both states. Equalising 2q - (1 - q) =
    # -q + (1 - q) gives q = 2/5 for the column player and likewise p = 2/5 for the row player
    # (hand-solved). The lift must take the policy of the acting state 0, not of terminal 1.
    base = NormalFormGame.zero_sum([[2, -1], [-1, 1]]).to_markov_game()
    game = MarkovGame(base.transitions, base.rewards, base.initial, base.discount,
                      terminal=base.terminal, observations=[[0, 0], [0, 0]])
    assert sees_state(game)
    result = solve(game)
    assert result.status == "success"
    row, column = result.equilibria[0].strategies
    assert row.shape == (1, 2) and np.allclose(row[0], [0.4, 0.6]) and np.allclose(column[0],
                                                                                   [0.4, 0.6])
    assert nash_conv(game, result.equilibria[0].strategies).nash_conv <= 1e-9


def test_heights_and_topological_order() -> None:
    # 0 -> 1 -> 2 (terminal): heights 2, 1, 0; state 3 loops forever but is unreachable, so it
    # gets height 0 and the game still has heights; 4 is terminal
    game = _chain_game()
    assert heights(game).tolist() == [2, 1, 0, 0, 0]
    order = topological_order(game)
    assert order is not None and order.tolist()[:2] == [0, 1]
    # start in state 3 as well: a reachable cycle, no heights
    cyclic = MarkovGame(game.transitions, game.rewards, [0.5, 0, 0, 0.5, 0], 0.9,
                        terminal=game.terminal)
    assert heights(cyclic) is None and topological_order(cyclic) is None


def _recall_game(*, player_0_moves_first: bool) -> MarkovGame:
    """State 0: one player picks state 1 or 2; at 1 and 2 player 0 acts on one observation."""
    transitions = np.zeros((4, 2, 2, 4))
    mover = 0 if player_0_moves_first else 1
    for a in range(2):
        index = [0, slice(None), slice(None), 1 + a]
        index[1 + mover] = a
        transitions[tuple(index)] = 1.0
    transitions[1:3, :, :, 3] = 1.0
    transitions[3, :, :, 3] = 1.0
    rewards = np.zeros((2, 4, 2, 2))
    rewards[0, 1, 1, :] = 1.0  # player 0's action matters at states 1 and 2
    rewards[0, 2, 0, :] = 1.0
    observations = [[0, 1, 1, 2], [0, 1, 2, 3]]
    return MarkovGame(transitions, rewards, [1, 0, 0, 0], 1.0,
                      terminal=[False, False, False, True], observations=observations)


def test_perfect_recall_and_idle_states() -> None:
    # Kuhn's definition: player 0 has perfect recall iff its observation determines its own
    # past observations and actions. When player 1 moves at state 0, player 0's action there
    # changes nothing (idle), so at the shared observation of states 1 and 2 it forgot nothing:
    # perfect recall (it just does not know player 1's move).
    waits = _recall_game(player_0_moves_first=False)
    assert idle_states(waits, 0).tolist() == [True, False, False, True]
    assert idle_states(waits, 1).tolist() == [False, True, True, True]
    assert has_perfect_recall(waits, 0) and has_perfect_recall(waits, 1)
    # When player 0 itself chooses between states 1 and 2, sharing their observation means it
    # forgets its own action: imperfect recall.
    forgets = _recall_game(player_0_moves_first=True)
    assert not idle_states(forgets, 0)[0]
    assert not has_perfect_recall(forgets, 0) and has_perfect_recall(forgets, 1)


# ------------------------------------------------------------------------------------------
# MDP pieces
# ------------------------------------------------------------------------------------------

def test_evaluate_policy_matches_closed_forms() -> None:
    # a state that stays forever earning 1 at discount 0.9: V = 1 / (1 - 0.9) = 10
    values, error, amplification = evaluate_policy(sp.csr_array(np.array([[1.0]])),
                                                   np.array([[1.0]]), 0.9)
    assert abs(values[0, 0] - 10.0) <= error + 1e-12 and error < 1e-12
    assert amplification == pytest.approx(10.0)
    # discount 1: 0 -> 1 -> exit, earning 1 per step: V = (2, 1); amplification = expected
    # steps to termination (2) inflated by the residual, plus 1
    chain = sp.csr_array(np.array([[0.0, 1.0], [0.0, 0.0]]))
    values, error, amplification = evaluate_policy(chain, np.ones((2, 1)), 1.0)
    assert np.allclose(values[0], [2.0, 1.0], atol=error) and 2.0 < amplification <= 3.0 + 1e-9


def test_policy_iteration_finds_the_better_of_staying_and_leaving() -> None:
    # state 0: action 0 stays (reward 1 per step), action 1 exits to a terminal state (reward 5).
    # At discount 0.9 staying is worth 1 / 0.1 = 10 > 5, at discount 0.5 it is worth 2 < 5.
    transitions = sp.csr_array(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
    rewards = np.array([[1.0, 5.0], [0.0, 0.0]])
    values, actions, error = policy_iteration(transitions, rewards, 0.9)
    assert actions[0] == 0 and abs(values[0] - 10.0) <= error + 1e-12
    values, actions, error = policy_iteration(transitions, rewards, 0.5)
    assert actions[0] == 1 and abs(values[0] - 5.0) <= error + 1e-12


def test_player_mdp_contracts_every_other_player() -> None:
    # matching pennies as a one-state game; the column player mixes (0.3, 0.7): the row
    # player's action values are (0.3 - 0.7, -0.3 + 0.7) = (-0.4, 0.4), as contract_others gives
    pennies = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    arrays = markov_arrays(pennies.to_markov_game())
    weights = np.array([[0.3, 0.7, 0.3, 0.7], [0.0, 0.0, 0.0, 0.0]])  # (S, A), player 0 factor 1
    transitions, rewards = arrays.player_mdp(weights, 0)
    assert np.allclose(rewards[0], [-0.4, 0.4])
    assert np.allclose(rewards[0], contract_others(pennies.payoffs[0],
                                                   [np.ones(2), np.array([0.3, 0.7])], 0))
    # both actions lead to the terminal state 1 with probability 0.3 + 0.7 = 1
    assert np.allclose(transitions.toarray(), [[0, 1], [0, 1], [0, 0], [0, 0]])


# ------------------------------------------------------------------------------------------
# exact arithmetic
# ------------------------------------------------------------------------------------------

def test_rounding_bounds() -> None:
    # Higham's gamma_k = k u / (1 - k u); powers of two at least a value
    assert gamma(3) == 3 * UNIT_ROUNDOFF / (1 - 3 * UNIT_ROUNDOFF) and UNIT_ROUNDOFF == 2.0 ** -53
    assert gamma(2 ** 53) == math.inf
    assert [power_of_two_at_least(v) for v in (3.0, 4.0, 0.3, 1e-300)] == [
        4.0, 4.0, 0.5, 2.0 ** math.ceil(math.log2(1e-300))]


def test_integer_array_scales_by_the_common_denominator() -> None:
    exact = np.array([[Fraction(1, 2), Fraction(-2, 3)], [Fraction(5), Fraction(1, 6)]],
                     dtype=object)
    integers, scale = integer_array(exact)
    # lcm(2, 3, 1, 6) = 6: (3, -4, 30, 1)
    assert scale == 6 and integers.tolist() == [[3, -4], [30, 1]]
    assert integer_array(np.array([1, 2], dtype=object))[1] == 1


def test_exact_solves_against_hand_solutions() -> None:
    # 2x + y = 3, x + 3y = 5: x = 4/5, y = 7/5 (Cramer: det 5)
    system = np.array([[2, 1], [1, 3]], dtype=object)
    assert solve_integer_system(system, np.array([3, 5], dtype=object)) == [Fraction(4, 5),
                                                                           Fraction(7, 5)]
    # an overdetermined consistent system (third row = first + second) and an inconsistent one
    tall = np.array([[2, 1], [1, 3], [3, 4]], dtype=object)
    assert solve_integer_system(tall, np.array([3, 5, 8], dtype=object)) == [Fraction(4, 5),
                                                                            Fraction(7, 5)]
    assert solve_integer_system(tall, np.array([3, 5, 9], dtype=object)) is None
    assert solve_integer_system(np.array([[1, 2], [2, 4]], dtype=object),
                                np.array([1, 2], dtype=object)) is None
    # matching pennies' row payoffs: y = (1/2, 1/2) makes both rows pay w = 0;
    # [[2, -1], [-1, 1]]: 2q - (1 - q) = -q + (1 - q) gives q = 2/5, w = 1/5
    assert solve_indifference(np.array([[1, -1], [-1, 1]], dtype=object)) == (
        [Fraction(1, 2), Fraction(1, 2)], Fraction(0))
    assert solve_indifference(np.array([[2, -1], [-1, 1]], dtype=object)) == (
        [Fraction(2, 5), Fraction(3, 5)], Fraction(1, 5))
    assert solve_indifference(np.array([[1, 1], [1, 1]], dtype=object)) is None


# ------------------------------------------------------------------------------------------
# one name per method
# ------------------------------------------------------------------------------------------

def test_every_solver_reports_its_method_table_key() -> None:
    # called directly (not through solve, which overwrites the name), each solver's result
    # names the METHODS key that selects it
    import importlib

    from gametools.solvers import METHODS

    normal = NormalFormGame.zero_sum([[2, -1], [-1, 1]])
    finite = normal.to_markov_game()
    repeated = MarkovGame(np.ones((1, 2, 2, 1)), np.stack([normal.payoffs[0][None],
                                                           normal.payoffs[1][None]]), [1.0], 0.5)
    # short budgets: only the name is checked
    budgets = {"fictitious-play": {"iterations": 20}, "regret-matching": {"iterations": 20},
               "replicator": {"steps": 20}, "stochastic-fp": {"max_iterations": 20},
               "cfr": {"iterations": 5}}
    for name, entry in METHODS.items():
        function = getattr(importlib.import_module(entry.module), entry.function)
        if entry.games == "normal":
            game = normal
        else:
            game = finite if name in ("backward-induction", "cfr") else repeated
        assert function(game, **entry.options, **budgets.get(name, {})).method == name


# ------------------------------------------------------------------------------------------
# one zero-sum LP
# ------------------------------------------------------------------------------------------

def test_batched_matrix_game_lp_against_hand_solutions() -> None:
    from gametools.solvers.zero_sum import matrix_game_value, matrix_game_values

    # matching pennies: value 0, both uniform; [[2, -1], [-1, 1]]: 2q - (1 - q) = -q + (1 - q)
    # gives q = 2/5 and value 2(2/5) - 3/5 = 1/5, and p = 2/5 likewise; [[3, 1], [4, 2]]: row 1
    # dominates, the column player answers with column 1: a saddle point of value 2
    games = np.array([[[1, -1], [-1, 1]], [[2, -1], [-1, 1]], [[3, 1], [4, 2]]], dtype=float)
    values, x, y = matrix_game_values(games)
    assert np.allclose(values, [0.0, 0.2, 2.0], atol=1e-9)
    assert np.allclose(x, [[0.5, 0.5], [0.4, 0.6], [0.0, 1.0]], atol=1e-9)
    assert np.allclose(y, [[0.5, 0.5], [0.4, 0.6], [0.0, 1.0]], atol=1e-9)
    # the single-game form is the batch of one
    value, row, column = matrix_game_value(games[1])
    assert abs(value - 0.2) <= 1e-9 and np.allclose(row, x[1]) and np.allclose(column, y[1])
