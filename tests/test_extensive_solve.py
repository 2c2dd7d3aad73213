"""Solvers on extensive-form games: sequence-form LP, CFR family, solve() and the CLI.

Ground truth: Kuhn poker's value -1/18 for the first player (Kuhn 1950); a one-card betting
game solved by hand (tests/test_extensive.py: value 1/3, bluff 1/3, call 2/3); OpenSpiel's
``CFRSolver`` / ``CFRPlusSolver`` iterates (``open_spiel.python.algorithms.cfr``) on the same
games; OpenSpiel's ``exploitability.nash_conv``.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from test_extensive import signalling_game

from gametools.cli import main
from gametools.errors import InvalidArgumentError, UnsupportedGameError
from gametools.extensive import ExtensiveGame, ImperfectRecallError, nash_conv
from gametools.extensive.solve import extensive_cfr, sequence_form_lp
from gametools.formats.efg import parse_efg, write_efg
from gametools.formats.npz import save_profile
from gametools.solvers import solve
from gametools.solvers.cfr import cfr

pyspiel = pytest.importorskip("pyspiel", reason="OpenSpiel is an optional peer")

from open_spiel.python.algorithms import cfr as os_cfr

from gametools.interop.openspiel import (
    extensive_from_openspiel,
    policy_from_openspiel,
)


def test_kuhn_value_is_exactly_minus_one_eighteenth() -> None:
    game = extensive_from_openspiel("kuhn_poker").game
    result = sequence_form_lp(game)
    equilibrium = result.equilibria[0]
    assert result.exact and result.status == "success"
    assert equilibrium.payoffs_exact == (Fraction(-1, 18), Fraction(1, 18))  # Kuhn (1950)
    assert equilibrium.regret == 0.0
    assert nash_conv(game, equilibrium.strategies).nash_conv < 1e-9


def test_hand_solved_betting_game_exactly() -> None:
    result = sequence_form_lp(signalling_game())
    equilibrium = result.equilibria[0]
    assert equilibrium.payoffs_exact == (Fraction(1, 3), Fraction(-1, 3))
    # the equilibrium is unique: bet high, bluff low 1/3; call 2/3
    assert equilibrium.strategies_exact == ((1, 0, Fraction(1, 3), Fraction(2, 3)),
                                            (Fraction(2, 3), Fraction(1, 3)))


def test_leduc_lp_exact_certificate() -> None:
    # the LP's float profile, read as the rationals its floats are, is certified in rational
    # arithmetic: an exact NashConv bound and an exact interval for Leduc's value, which
    # OpenSpiel's sequence_form_lp_test.py gives as -0.085606424078 (to 6 places)
    game = extensive_from_openspiel("leduc_poker").game
    result = sequence_form_lp(game)
    assert nash_conv(game, result.equilibria[0].strategies).nash_conv < 1e-9
    assert result.status == "success" and not result.exact  # not an exact equilibrium
    bound = result.extra["nash_conv_exact"]
    assert isinstance(bound, Fraction) and 0 <= bound < Fraction(1, 10 ** 12)
    low, high = result.extra["value_bounds_exact"]
    assert high - low <= bound and low <= high
    reported = Fraction("-0.085606424078")  # OpenSpiel: assertAlmostEqual(..., places=6)
    assert abs(low - reported) < Fraction(5, 10 ** 7) and abs(high - reported) < Fraction(5, 10 ** 7)
    assert "game value lies in" in result.message


def test_lp_refuses_general_sum_and_three_players() -> None:
    with pytest.raises(UnsupportedGameError, match="zero-sum"):
        sequence_form_lp(extensive_from_openspiel("kuhn_poker(players=3)").game)


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize("name, iterations, variant, solver", [
    ("kuhn_poker", 40, "cfr+", "CFRPlusSolver"), ("kuhn_poker", 40, "cfr", "CFRSolver"),
    ("kuhn_poker", 40, "linear", "LCFRSolver"), ("kuhn_poker", 40, "dcfr", "DCFRSolver"),
    ("leduc_poker", 2, "cfr+", "CFRPlusSolver")])
def test_iterates_identical_to_openspiel(name: str, iterations: int, variant: str,
                                         solver: str, compiled: bool) -> None:
    """Both routes (NumPy over infoset levels; the compiled loop), against OpenSpiel's
    iterates; the compiled loop runs the iterations in two calls to check that the iteration
    counter and the state carry over between calls."""
    from open_spiel.python.algorithms import discounted_cfr

    from gametools.extensive.cfr import cfr_iterations, new_state

    game = pyspiel.load_game(name)
    module = discounted_cfr if solver in ("LCFRSolver", "DCFRSolver") else os_cfr
    reference = getattr(module, solver)(game)
    for _ in range(iterations):
        reference.evaluate_and_update_policy()
    tree = extensive_from_openspiel(game)
    state = new_state(tree.game)
    first = iterations // 2 if compiled else iterations
    cfr_iterations(tree.game, state, first, variant=variant, compiled=compiled)
    cfr_iterations(tree.game, state, iterations - first, variant=variant, compiled=compiled)
    assert state.iteration == iterations
    for ours, theirs in zip(state.average_profile(tree.game),
                            policy_from_openspiel(tree, reference.average_policy())):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
    for ours, theirs in zip(state.policies,
                            policy_from_openspiel(tree, reference.current_policy())):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize("variant", ["cfr", "cfr+"])
@pytest.mark.parametrize("name, alternating", [("kuhn_poker", False),
                                               ("kuhn_poker(players=3)", True)])
def test_update_schemes_identical_to_openspiel(name: str, alternating: bool, variant: str,
                                               compiled: bool) -> None:
    """Simultaneous updates (two players) and three players (alternating), against
    OpenSpiel's ``_CFRSolver`` with the same ``alternating_updates`` (its CFR+ averages
    linearly, as ours). Three players with simultaneous updates are left out: there an action
    whose regret is exactly 0 in OpenSpiel's sums is 7e-18 in ours after one iteration, and
    regret matching turns that rounding into a different policy."""
    from gametools.extensive.cfr import cfr_iterations, new_state

    game = pyspiel.load_game(name)
    plus = variant == "cfr+"
    reference = os_cfr._CFRSolver(game, regret_matching_plus=plus,
                                  alternating_updates=alternating, linear_averaging=plus)
    for _ in range(15):
        reference.evaluate_and_update_policy()
    tree = extensive_from_openspiel(game)
    state = new_state(tree.game)
    cfr_iterations(tree.game, state, 15, variant=variant, alternating=alternating,
                   compiled=compiled)
    for ours, theirs in zip(state.average_profile(tree.game),
                            policy_from_openspiel(tree, reference.average_policy())):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
    for ours, theirs in zip(state.policies,
                            policy_from_openspiel(tree, reference.current_policy())):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_without_numba_the_numpy_route_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # numba is a dependency, but the compiled loop is optional: with the kernel cache holding
    # "no numba", the default route is NumPy and asking for the compiled loop is an error
    import gametools.extensive.cfr as extensive_cfr_module
    from gametools.errors import InvalidArgumentError
    from gametools.extensive.cfr import cfr_iterations, new_state

    monkeypatch.setattr(extensive_cfr_module, "_KERNEL", [None])
    # any run is worth compiling now, yet there is nothing to compile with
    monkeypatch.setattr(extensive_cfr_module, "COMPILE_WORTHWHILE_S", 0.0)
    tree = extensive_from_openspiel("kuhn_poker").game
    state, reference = new_state(tree), new_state(tree)
    cfr_iterations(tree, state, 100)
    cfr_iterations(tree, reference, 100, compiled=False)
    for ours, theirs in zip(state.policies, reference.policies):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(InvalidArgumentError, match="numba"):
        cfr_iterations(tree, state, 1, compiled=True)


@pytest.mark.parametrize("variant", ["cfr+", "cfr", "linear", "dcfr"])
def test_every_variant_approaches_the_kuhn_value(variant: str) -> None:
    game = extensive_from_openspiel("kuhn_poker").game
    result = extensive_cfr(game, iterations=400, variant=variant)
    conv = result.extra["nash_conv"]
    assert conv < 0.02
    # in a zero-sum game a profile's value is within its NashConv of the game value
    assert abs(result.equilibria[0].payoffs[0] + 1 / 18) <= conv + 1e-12


def test_solve_dispatches_game_trees() -> None:
    kuhn = pyspiel.load_game("kuhn_poker")
    assert solve(kuhn).method == "lp"  # an OpenSpiel game object, sequential
    tree = extensive_from_openspiel(kuhn).game
    result = solve(tree, method="cfr", iterations=50)
    assert result.method == "cfr" and result.iterations == 50
    assert cfr(tree, iterations=20).iterations == 20
    with pytest.raises(InvalidArgumentError, match="does not solve extensive-form"):
        solve(tree, method="vertex")


def test_solvers_refuse_imperfect_recall() -> None:
    text = '''EFG 2 R "" { "P1" "P2" }
p "" 1 1 "" { "a" "b" } 0
p "" 1 2 "" { "c" "d" } 0
t "" 1 "" { 1, -1 }
t "" 2 "" { 0, 0 }
p "" 1 2 "" { "c" "d" } 0
t "" 3 "" { 0, 0 }
t "" 4 "" { 1, -1 }
'''
    game = parse_efg(text)
    with pytest.raises(ImperfectRecallError, match="perfect recall.*player 1"):
        solve(game)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_solve_and_exploit_efg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bet.efg"
    write_efg(path, signalling_game())
    code, out, _ = run(capsys, "solve", str(path), "--json")
    document = json.loads(out)
    assert code == 0 and document["method"] == "lp" and document["exact"]
    assert document["equilibria"][0]["payoffs_exact"] == ["1/3", "-1/3"]
    policy = tmp_path / "policy.npz"
    save_profile(policy, [np.array([1.0, 0.0, 0.0, 1.0]), np.array([1.0, 0.0])])
    code, out, _ = run(capsys, "exploit", str(path), str(policy), "--json")
    # by hand: player 1 bets high and folds low, player 2 always calls: 1/2*2 - 1/2*1 = 1/2.
    # Player 1 cannot do better (bluffing low costs -2 < -1); player 2 folding instead gets
    # -(1/2*1 - 1/2*1) = 0, a gain of 1/2
    report = json.loads(out)
    assert code == 0 and report["kind"] == "exact"
    assert report["values"] == pytest.approx([0.5, -0.5], abs=1e-12)
    assert report["per_player"] == pytest.approx([0.0, 0.5], abs=1e-12)


def test_cli_openspiel_game_string(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "solve", "openspiel:kuhn_poker", "--json")
    assert code == 0
    assert json.loads(out)["equilibria"][0]["payoffs_exact"] == ["-1/18", "1/18"]
    code, out, err = run(capsys, "solve", "openspiel:no_such_game")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def entry_game() -> ExtensiveGame:
    """Selten's entry deterrence: Out (0, 2); In then Fight (-1, -1) or Accommodate (1, 1).
    Its equilibria (by hand): (In, Accommodate) with payoffs (1, 1), and Out with Fight played
    with probability >= 1/2, payoffs (0, 2)."""
    from gametools.extensive import TreeBuilder

    tree = TreeBuilder(num_players=2)
    root = tree.decision(None, player=0, infoset="entrant", actions=("out", "in"))
    tree.terminal((root, 0), payoffs=(0, 2))
    incumbent = tree.decision((root, 1), player=1, infoset="incumbent",
                              actions=("fight", "accommodate"))
    tree.terminal((incumbent, 0), payoffs=(-1, -1))
    tree.terminal((incumbent, 1), payoffs=(1, 1))
    return tree.build()


def test_lcp_general_sum_entry_game() -> None:
    from gametools.extensive.lcp import sequence_form_lcp

    result = sequence_form_lcp(entry_game())
    assert result.status == "success" and result.exact
    equilibrium = result.equilibria[0]
    assert equilibrium.regret == 0.0
    assert equilibrium.payoffs_exact in ((1, 1), (0, 2))
    if equilibrium.payoffs_exact == (0, 2):
        assert equilibrium.strategies_exact[1][0] >= Fraction(1, 2)
    assert solve(entry_game()).method == "lcp"  # the default for small general-sum games


@pytest.mark.parametrize("make, value", [(signalling_game, Fraction(1, 3)),
                                         (lambda: extensive_from_openspiel("kuhn_poker").game,
                                          Fraction(-1, 18))])
def test_lcp_agrees_with_the_zero_sum_value(make, value) -> None:  # type: ignore[no-untyped-def]
    from gametools.extensive.lcp import sequence_form_lcp

    result = sequence_form_lcp(make())
    # every equilibrium of a zero-sum game pays the value (Kuhn 1950; hand solution above)
    assert result.exact and result.equilibria[0].payoffs_exact[0] == value


def test_cli_human_report_lists_information_sets(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bet.efg"
    write_efg(path, signalling_game())
    code, out, _ = run(capsys, "solve", str(path))
    # the hand solution: bluff with the low card 1/3, call 2/3, value 1/3
    assert code == 0
    assert "1/3 bet + 2/3 fold" in out and "2/3 call + 1/3 fold" in out and "1/3" in out
