"""Tests of gametools.interop.openspiel: MarkovGame -> OpenSpiel and OpenSpiel -> NormalFormGame.

NashConv computed by OpenSpiel on converted games is checked against references computed here
without OpenSpiel:

- fully observed games: each player's best response solves the MDP left by the others'
  stationary policies (backward induction over states), which is optimal among all history-
  dependent deviations, hence what OpenSpiel's perfect-recall best response must find;
- partially observed games: brute force over every pure perfect-recall strategy of the deviator
  (a map from its own observation/action history to an action).

When ``gametools.exploitability`` exists, games on which its ``nash_conv`` is exact (fully
observed, or observations that already give perfect recall) are also checked against it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyspiel
import pytest
from open_spiel.python.algorithms import best_response as os_best_response
from open_spiel.python.algorithms import exploitability as os_exploitability

from gametools.errors import PolicyValidationError
from gametools.interop.openspiel import (
    CyclicGameError,
    MarkovOpenSpielGame,
    OpenSpielConversionError,
    finite_horizon,
    from_openspiel,
    openspiel_nash_conv,
    policy_to_openspiel,
    to_openspiel,
)
from gametools.model import MarkovGame, NormalFormGame, time_indexed

# --------------------------------------------------------------------------------------------
# references (no OpenSpiel)
# --------------------------------------------------------------------------------------------


def _contract(tensor: np.ndarray, strategies: list[np.ndarray], keep: int | None) -> np.ndarray:
    """Contract action axes ``j != keep`` of ``tensor`` ``(n_1, ..., n_N)`` with strategies."""
    out = tensor
    for j in reversed(range(len(strategies))):
        if j != keep:
            out = np.tensordot(out, strategies[j], axes=([j], [0]))
    return out


def mdp_nash_conv(game: MarkovGame, profile, horizon: int) -> float:
    """NashConv of a stationary profile in a fully observed game, by backward induction.

    ``horizon`` backups are exact for a game in which every play ends within ``horizon`` steps.
    """
    n, num_states = game.num_players, game.num_states
    trans = game.dense_transitions()
    alive = ~np.asarray(game.terminal)
    obs = np.asarray(game.observations)
    on = np.zeros((n, num_states))
    best = np.zeros((n, num_states))
    for _ in range(horizon):
        new_on, new_best = np.zeros_like(on), np.zeros_like(best)
        for s in np.flatnonzero(alive):
            strategies = [np.asarray(profile[i][obs[i, s]], float) for i in range(n)]
            nxt = trans[s] @ (alive * on).T          # (n_1..n_N, N)
            nxt_best = trans[s] @ (alive * best).T
            for i in range(n):
                q_on = game.rewards[i, s] + game.discount * np.moveaxis(nxt, -1, 0)[i]
                new_on[i, s] = _contract(q_on, strategies, None)
                q_best = game.rewards[i, s] + game.discount * np.moveaxis(nxt_best, -1, 0)[i]
                new_best[i, s] = _contract(q_best, strategies, i).max()
        on, best = new_on, new_best
    return float(((best - on) @ game.initial).sum())


def history_br_nash_conv(game: MarkovGame, profile, horizon: int, *, recall: bool = True
                         ) -> float:
    """NashConv by enumerating the deviator's pure strategies.

    With ``recall`` a strategy maps the deviator's own history (observations and actions) to an
    action (perfect recall); without, it maps only the current step and observation.
    """
    n = game.num_players
    trans, obs = game.dense_transitions(), np.asarray(game.observations)
    joint_actions = list(itertools.product(*(range(k) for k in game.num_actions)))

    def play(i: int, strategy: dict | None) -> float:
        """Player i's value when i follows `strategy` (None: the profile)."""
        def rec(s: int, t: int, seen: tuple, acts: tuple) -> float:
            if game.terminal[s] or t == horizon:
                return 0.0
            key = (seen + (obs[i, s],), acts)
            choice = key if recall else (t, obs[i, s])
            total = 0.0
            for a in joint_actions:
                p = 1.0
                for j in range(n):
                    if j == i and strategy is not None:
                        p *= float(a[i] == strategy[choice])
                    else:
                        p *= profile[j][obs[j, s], a[j]]
                if p == 0.0:
                    continue
                future = sum(trans[(s, *a, s2)] * rec(s2, t + 1, key[0], acts + (a[i],))
                             for s2 in np.flatnonzero(trans[(s, *a)] > 0)) if t + 1 < horizon \
                    else 0.0
                total += p * (game.rewards[(i, s, *a)] + game.discount * future)
            return total
        return sum(game.initial[s] * rec(s, 0, (), ()) for s in np.flatnonzero(game.initial > 0))

    def info_sets(i: int) -> list:
        keys: list = []

        def rec(s: int, t: int, seen: tuple, acts: tuple) -> None:
            if game.terminal[s] or t == horizon:
                return
            key = (seen + (obs[i, s],), acts)
            choice = key if recall else (t, obs[i, s])
            if choice not in keys:
                keys.append(choice)
            if t + 1 < horizon:
                for a in joint_actions:
                    for s2 in np.flatnonzero(trans[(s, *a)] > 0):
                        rec(s2, t + 1, key[0], acts + (a[i],))
        for s in np.flatnonzero(game.initial > 0):
            rec(s, 0, (), ())
        return keys

    total = 0.0
    for i in range(n):
        keys = info_sets(i)
        best = max(play(i, dict(zip(keys, choice)))
                   for choice in itertools.product(range(game.num_actions[i]), repeat=len(keys)))
        total += best - play(i, None)
    return total


def random_profile(game: MarkovGame, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Non-uniform interior policies, shapes (num_observations[i], n_i)."""
    return tuple(rng.dirichlet(np.ones(n), size=o)
                 for o, n in zip(game.num_observations, game.num_actions))


# --------------------------------------------------------------------------------------------
# games
# --------------------------------------------------------------------------------------------


def pennies() -> MarkovGame:
    return NormalFormGame.zero_sum([[1, -1], [-1, 1]],
                                   action_labels=[["H", "T"], ["H", "T"]]).to_markov_game()


def layered_game(rng: np.random.Generator, num_actions: tuple[int, ...], layers: int,
                 width: int, discount: float) -> MarkovGame:
    """Fully observed acyclic game: layer l moves to layer l + 1 or to the terminal state."""
    num_states = layers * width + 1
    end = num_states - 1
    trans = np.zeros((num_states, *num_actions, num_states))
    for layer in range(layers):
        targets = ([end] if layer == layers - 1 else
                   list(range((layer + 1) * width, (layer + 2) * width)) + [end])
        for s in range(layer * width, (layer + 1) * width):
            for a in itertools.product(*(range(k) for k in num_actions)):
                trans[(s, *a)][targets] = rng.dirichlet(np.ones(len(targets)))
    rewards = rng.normal(size=(len(num_actions), num_states, *num_actions))
    rewards[:, end] = 0.0
    initial = np.zeros(num_states)
    initial[:width] = rng.dirichlet(np.ones(width))
    terminal = np.zeros(num_states, bool)
    terminal[end] = True
    return MarkovGame(trans, rewards, initial, discount, terminal=terminal)


def hidden_draw_game(rng: np.random.Generator) -> MarkovGame:
    """Two steps; a chance draw d in {0, 1} that player 1 never sees.

    States: 0/1 = (d, step 0), 2/3 = (d, step 1), 4 = terminal. Player 0 sees d at step 0 only,
    and at step 1 is paid for playing a_0 = d: its best response must *remember* d, which a
    perfect-recall information state allows and an observation-only policy does not. Player 1
    sees only the step; which draw reaches step 1 depends on both step-0 actions.
    """
    trans = np.zeros((5, 2, 2, 5))
    for d in (0, 1):
        go_on = rng.uniform(0.3, 0.9, (2, 2))
        trans[d, :, :, 2 + d] = go_on
        trans[d, :, :, 4] = 1.0 - go_on
        trans[2 + d, :, :, 4] = 1.0
    rewards = rng.normal(scale=0.3, size=(2, 5, 2, 2))
    rewards[0, 2, 0, :] += 2.0   # step 1, d = 0: player 0 paid for action 0
    rewards[0, 3, 1, :] += 2.0   # step 1, d = 1: player 0 paid for action 1
    rewards[:, 4] = 0.0
    observations = [[0, 1, 2, 2, 3],   # player 0 sees d at step 0, not at step 1
                    [0, 0, 1, 1, 2]]   # player 1 sees only the step
    return MarkovGame(trans, rewards, [0.6, 0.4, 0, 0, 0], 0.95,
                      terminal=[False] * 4 + [True], observations=observations)


def recall_game(rng: np.random.Generator) -> MarkovGame:
    """Like :func:`hidden_draw_game`, but the observations themselves give perfect recall.

    States: 0/1 = (d, step 0); 2 + 4 d + 2 a_0 + a_1 = (d, a_0, a_1) at step 1; 10 = terminal.
    Player 0 observes d, then (d, a_0); player 1 observes nothing at step 0, then only its own
    a_1, so it must infer d from the others' policy and its own action. Because each observation
    determines the player's own past observations and actions, gametools' exploitability module
    computes exact best responses here too.
    """
    trans = np.zeros((11, 2, 2, 11))
    for d, a0, a1 in itertools.product((0, 1), repeat=3):
        go_on = rng.uniform(0.3, 0.9)
        trans[d, a0, a1, 2 + 4 * d + 2 * a0 + a1] = go_on
        trans[d, a0, a1, 10] = 1.0 - go_on
        trans[2 + 4 * d + 2 * a0 + a1, :, :, 10] = 1.0
    rewards = rng.normal(scale=0.5, size=(2, 11, 2, 2))
    for d, a0, a1 in itertools.product((0, 1), repeat=3):
        rewards[1, 2 + 4 * d + 2 * a0 + a1, :, d] += 1.5   # player 1 paid for guessing d
    rewards[:, 10] = 0.0
    observations = [[0, 1] + [2 + 2 * d + a0 for d in (0, 1) for a0 in (0, 1) for _ in (0, 1)]
                    + [6],
                    [0, 0] + [1 + a1 for _ in range(4) for a1 in (0, 1)] + [3]]
    return MarkovGame(trans, rewards, [0.3, 0.7] + [0.0] * 9, 0.9,
                      terminal=[False] * 10 + [True], observations=observations)


def cycle_game() -> MarkovGame:
    """One state that loops on itself with probability 1/2 (else ends); discounted."""
    trans = np.zeros((2, 2, 2, 2))
    trans[0, :, :, 0] = 0.5
    trans[0, :, :, 1] = 0.5
    rewards = np.zeros((2, 2, 2, 2))
    rewards[0, 0] = [[3.0, 0.0], [5.0, 1.0]]
    rewards[1, 0] = [[3.0, 5.0], [0.0, 1.0]]
    return MarkovGame(trans, rewards, [1.0, 0.0], 0.9, terminal=[False, True])


# --------------------------------------------------------------------------------------------
# to_openspiel: hand-checkable cases
# --------------------------------------------------------------------------------------------


def test_matching_pennies_uniform_is_nash() -> None:
    game = pennies()
    uniform = (np.full((2, 2), 0.5), np.full((2, 2), 0.5))
    assert openspiel_nash_conv(game, uniform) == pytest.approx(0.0, abs=1e-12)


def test_matching_pennies_pure_heads_heads() -> None:
    # (H, H): player 0 (matcher) gets +1, its maximum, so it gains 0 by deviating; player 1
    # gets -1 and switching to T gives it +1, a gain of 2. NashConv = 0 + 2 = 2.
    game = pennies()
    heads = (np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    game_os = to_openspiel(game)
    result = os_exploitability.nash_conv(game_os, policy_to_openspiel(game_os, game, heads),
                                         return_only_nash_conv=False)
    np.testing.assert_allclose(result.player_improvements, [0.0, 2.0], atol=1e-12)
    assert openspiel_nash_conv(game, heads) == pytest.approx(2.0)


def test_converted_game_structure() -> None:
    game_os = to_openspiel(pennies())
    assert isinstance(game_os, pyspiel.Game)
    assert game_os.num_players() == 2 and game_os.num_distinct_actions() == 2
    assert game_os.get_type().utility == pyspiel.GameType.Utility.ZERO_SUM
    assert game_os.get_type().dynamics == pyspiel.GameType.Dynamics.SEQUENTIAL
    state = game_os.new_initial_state()
    assert state.is_chance_node() and state.chance_outcomes() == [(0, 1.0)]
    state.apply_action(0)
    assert state.current_player() == 0
    assert state.action_to_string(0, 1) == "T"
    state.apply_action(1)                   # player 0 plays T
    assert state.current_player() == 1
    # player 1 must not see player 0's move of the same stage; player 0 remembers it
    assert state.information_state_string(1) == "p1 t=0 obs=[0] acts=[]"
    assert state.information_state_string(0) == "p0 t=0 obs=[0] acts=[1]"
    state.apply_action(1)                   # player 1 plays T: match, player 0 wins 1
    assert state.is_terminal() and state.returns() == [1.0, -1.0]


def test_pyspiel_consistency_checks_and_registration() -> None:
    rng = np.random.default_rng(3)
    game = hidden_draw_game(rng)
    game_os = to_openspiel(game, register=True)
    name = game_os.get_type().short_name
    assert name.startswith("python_gametools_markov_")
    # OpenSpiel's own random-play checks (chance sums, legal actions, clone, serialisation)
    pyspiel.random_sim_test(game_os, num_sims=20, serialize=True, verbose=False)
    loaded = pyspiel.load_game(name)
    assert isinstance(loaded, MarkovOpenSpielGame) and loaded.markov_game is game
    # player one-hot (2) + observation history (2 steps x 4 obs) + own actions (2 x 2)
    assert game_os.information_state_tensor_shape() == [2 + 2 * 4 + 2 * 2]
    assert game_os.observation_tensor_shape() == [2 + 4]


# --------------------------------------------------------------------------------------------
# to_openspiel: NashConv against references
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_actions, layers, discount, seed", [
    ((2, 3), 3, 0.9, 0),        # several steps, discounted
    ((2, 2, 2), 2, 0.8, 1),     # three players
    ((3, 2), 2, 1.0, 2),        # undiscounted, terminates by construction
])
def test_nash_conv_fully_observed(num_actions, layers, discount, seed) -> None:
    rng = np.random.default_rng(seed)
    game = layered_game(rng, num_actions, layers, width=2, discount=discount)
    assert finite_horizon(game) == layers
    profile = random_profile(game, rng)
    expected = mdp_nash_conv(game, profile, layers)
    assert expected > 0.05  # a random profile is far from equilibrium: the check is not vacuous
    assert openspiel_nash_conv(game, profile) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nash_conv_partially_observed_perfect_recall(seed) -> None:
    rng = np.random.default_rng(seed)
    game = hidden_draw_game(rng)
    profile = random_profile(game, rng)
    expected = history_br_nash_conv(game, profile, horizon=2)
    # remembering d is worth something here, so an encoding without perfect recall would fail
    assert expected > history_br_nash_conv(game, profile, horizon=2, recall=False) + 0.1
    assert openspiel_nash_conv(game, profile) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_nash_conv_observations_with_recall(seed) -> None:
    rng = np.random.default_rng(seed)
    game = recall_game(rng)
    profile = random_profile(game, rng)
    expected = history_br_nash_conv(game, profile, horizon=2)
    assert openspiel_nash_conv(game, profile) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("make, seed", [
    (lambda rng: pennies(), 0),
    (lambda rng: layered_game(rng, (2, 3), 3, 2, 0.9), 1),
    (lambda rng: layered_game(rng, (2, 2, 2), 2, 2, 0.8), 2),
    (recall_game, 3),                                  # partially observed, exact there too
])
def test_matches_gametools_nash_conv(make, seed) -> None:
    exploitability = pytest.importorskip("gametools.exploitability")
    rng = np.random.default_rng(seed)
    game = make(rng)
    profile = random_profile(game, rng)
    ours = exploitability.nash_conv(game, profile)
    assert ours.kind == "exact"
    assert openspiel_nash_conv(game, profile) == pytest.approx(float(ours.nash_conv), abs=1e-9)


def test_between_gametools_bounds_without_recall_in_observations() -> None:
    # In hidden_draw_game player 0's observation forgets d, so gametools only bounds NashConv:
    # the lower bound searches observation-based deviations, the upper bound lets the deviator
    # see the state. Perfect-recall deviations lie in between.
    exploitability = pytest.importorskip("gametools.exploitability")
    rng = np.random.default_rng(1)
    game = hidden_draw_game(rng)
    profile = random_profile(game, rng)
    lower = exploitability.nash_conv(game, profile, bound="lower")
    upper = exploitability.nash_conv(game, profile, bound="upper")
    assert (lower.kind, upper.kind) == ("lower_bound", "upper_bound")
    value = openspiel_nash_conv(game, profile)
    assert lower.nash_conv + 0.1 < value < upper.nash_conv - 0.1


def test_partially_observed_information_sets() -> None:
    game = hidden_draw_game(np.random.default_rng(0))
    game_os = to_openspiel(game)
    assert game_os.horizon == 2
    profile = random_profile(game, np.random.default_rng(1))
    policy = policy_to_openspiel(game_os, game, profile)
    keys = set(os_best_response.BestResponsePolicy(game_os, 1, policy).infosets)
    # player 1 never sees the draw: one step-0 information set, and at step 1 one per own
    # step-0 action (its observation there is the same for both draws)
    assert keys == {"p1 t=0 obs=[0] acts=[]", "p1 t=1 obs=[0,1] acts=[0]",
                    "p1 t=1 obs=[0,1] acts=[1]"}
    keys0 = set(os_best_response.BestResponsePolicy(game_os, 0, policy).infosets)
    # player 0 sees d at step 0 and keeps it in its history at step 1
    assert keys0 == {"p0 t=0 obs=[0] acts=[]", "p0 t=0 obs=[1] acts=[]"} | {
        f"p0 t=1 obs=[{d},2] acts=[{a}]" for d in (0, 1) for a in (0, 1)}


def test_truncated_cyclic_game_matches_time_indexed_unrolling() -> None:
    game = cycle_game()
    rng = np.random.default_rng(5)
    profile = random_profile(game, rng)
    horizon = 4
    # time_indexed gives the game truncated after `horizon` steps as an acyclic Markov game
    # whose observations are (t, o); the stationary profile is the same row at every t
    unrolled = time_indexed(game, horizon)
    lifted = tuple(np.concatenate([np.tile(p, (horizon, 1)), p[:1]]) for p in profile)
    expected = mdp_nash_conv(unrolled, lifted, horizon)
    assert openspiel_nash_conv(game, profile, horizon=horizon) == pytest.approx(expected, abs=1e-9)
    assert openspiel_nash_conv(unrolled, lifted) == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def test_cycle_without_horizon_is_an_error() -> None:
    game = cycle_game()
    with pytest.raises(CyclicGameError, match="cycle through state 0"):
        to_openspiel(game)
    with pytest.raises(ValueError):
        finite_horizon(game)
    with pytest.raises(OpenSpielConversionError, match="positive integer"):
        to_openspiel(game, horizon=0)


def test_profile_shape_mismatch_is_an_error() -> None:
    game = hidden_draw_game(np.random.default_rng(0))
    good = random_profile(game, np.random.default_rng(0))
    with pytest.raises(PolicyValidationError, match="policy_1"):
        openspiel_nash_conv(game, (good[0], np.full((4, 2), 0.5)))   # player 1 has 3 obs
    with pytest.raises(ValueError, match="one entry per player"):
        openspiel_nash_conv(game, good[:1])
    with pytest.raises(ValueError):
        policy_to_openspiel(to_openspiel(game), game, (good[0], np.full((3, 2), 0.7)))
    with pytest.raises(OpenSpielConversionError, match="not converted from this"):
        policy_to_openspiel(to_openspiel(pennies()), game, good)


# --------------------------------------------------------------------------------------------
# from_openspiel
# --------------------------------------------------------------------------------------------


def test_matrix_rps() -> None:
    nfg = from_openspiel(pyspiel.load_game("matrix_rps"))
    rps = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], float)  # row: Rock, Paper, Scissors
    assert isinstance(nfg, NormalFormGame) and nfg.payoffs.shape == (2, 3, 3)
    np.testing.assert_array_equal(nfg.payoffs[0], rps)
    np.testing.assert_array_equal(nfg.payoffs[1], -rps)
    assert nfg.action_labels == (("Rock", "Paper", "Scissors"),) * 2


def test_created_matrix_game_is_asymmetric() -> None:
    row, col = [[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]
    nfg = from_openspiel(pyspiel.create_matrix_game("m", "M", ["u", "d"], ["l", "c", "r"],
                                                    row, col))
    assert nfg.payoffs.shape == (2, 2, 3)
    assert nfg.payoffs[0, 1, 2] == 6 and nfg.payoffs[1, 0, 1] == 8
    assert nfg.action_labels == (("u", "d"), ("l", "c", "r"))


def test_three_player_tensor_game_axes() -> None:
    # payoffs[i, a, b, c] = 100 i + 10 a + 3 b + c on shape (2, 3, 4): every entry distinct
    shape = (2, 3, 4)
    grid = np.indices(shape)
    utilities = [100 * i + 10 * grid[0] + 3 * grid[1] + grid[2] for i in range(3)]
    nfg = from_openspiel(pyspiel.create_tensor_game([u.astype(float) for u in utilities]))
    assert nfg.payoffs.shape == (3, 2, 3, 4) and nfg.num_actions == shape
    assert nfg.payoffs[2, 1, 0, 3] == 200 + 10 + 0 + 3
    assert nfg.payoffs[1, 0, 2, 1] == 100 + 0 + 6 + 1
    np.testing.assert_array_equal(nfg.payoffs, np.stack(utilities))


def test_named_tensor_game_labels() -> None:
    names = [["a0", "a1"], ["b0", "b1", "b2"]]
    utils = [list(np.arange(6.0)), list(-np.arange(6.0))]
    nfg = from_openspiel(pyspiel.create_tensor_game("t", "T", names, utils))
    assert nfg.action_labels == (("a0", "a1"), ("b0", "b1", "b2"))
    assert nfg.payoffs[0, 1, 2] == 5.0 and nfg.payoffs[1, 0, 1] == -1.0


def test_one_shot_simultaneous_game_blotto() -> None:
    blotto = pyspiel.load_game("blotto(coins=4,fields=2,players=2)")
    nfg = from_openspiel(blotto)
    reference = pyspiel.extensive_to_tensor_game(blotto)
    assert nfg.num_actions == tuple(reference.shape())
    np.testing.assert_allclose(nfg.payoffs, np.stack(
        [np.asarray(reference.player_utilities(p)) for p in range(2)]))
    assert nfg.action_labels[0][0].startswith("[")  # blotto's own action names, e.g. "[0,4]"


def test_sequential_game_is_rejected() -> None:
    with pytest.raises(OpenSpielConversionError, match="kuhn_poker"):
        from_openspiel(pyspiel.load_game("kuhn_poker"))
    with pytest.raises(ValueError, match="not a one-shot"):
        from_openspiel(pyspiel.load_game("python_iterated_prisoners_dilemma"))
