"""Sealed-bid auctions (games/auctions.py): closed forms, grid games, simulator agreement.

Ground truth: REFERENCES.md "Auctions" (Krishna, *Auction Theory*, ch. 2-3) for the continuous
closed forms; the [C] instances (discrete all-pay with a common prize, OpenSpiel's
first_sealed_auction) checked against gametools' exact vertex enumeration and OpenSpiel itself;
a few grid quantities derived by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
import torch
from open_spiel.python import policy as os_policy
from open_spiel.python.algorithms import exploitability as os_exploitability

from games.auctions import (
    AUCTIONS,
    PROJECTION,
    SCENARIOS,
    AuctionEnv,
    auction_game,
    bid_function,
    bid_grid,
    build,
    common_value_all_pay,
    cutoff_value,
    grid_observations,
    observation_index,
    project_actions,
    reference,
    reference_profile,
    simulator,
    summarize,
    value_grid,
)
from gametools.errors import GametoolsError
from gametools.exploitability import nash_conv, policy_values
from gametools.interop.openspiel import from_openspiel
from gametools.marl.train import tabular_profile
from gametools.policies import uniform_profile
from gametools.scenarios import ScenarioError
from gametools.solvers.enumeration import vertex_enumeration

SECOND = {"n_bidders": 3}  # the second parameter set


def require_exact(result) -> None:
    assert result.kind == "exact", "one-step game with perfect recall: NashConv must be exact"


# ------------------------------------------------------------------------------------------
# closed forms
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("auction", AUCTIONS)
def test_reference_numbers(auction: str) -> None:
    # REFERENCES.md: revenue (n-1)/(n+1), bidder surplus 1/(n(n+1)) in all three formats
    two = reference(auction=auction)
    assert two["revenue"] == pytest.approx(1 / 3) and two["bidder_surplus"] == pytest.approx(1 / 6)
    three = reference(auction=auction, **SECOND)
    assert three["revenue"] == pytest.approx(1 / 2)
    assert three["bidder_surplus"] == pytest.approx(1 / 12)
    assert three["efficiency"] == 1.0
    # bid functions at v = 0.75 (REFERENCES.md): first price (n-1)v/n, second v, all pay
    # (n-1)v^n/n
    expected = {"first_price": (0.375, 0.5), "second_price": (0.75, 0.75),
                "all_pay": (0.28125, 2 * 0.75 ** 3 / 3)}[auction]
    got = [float(bid_function(auction, 0.75, n_bidders=n)) for n in (2, 3)]
    assert got == pytest.approx(expected)


@pytest.mark.parametrize("auction", ["first_price", "second_price"])
def test_reference_with_reserve(auction: str) -> None:
    # REFERENCES.md: revenue (n-1)/(n+1) + r^n - 2n r^(n+1)/(n+1); n = 2, r = 1/2: 5/12,
    # the maximum over r (optimal reserve 1/2)
    ref = reference(auction=auction, reserve=0.5)
    assert ref["revenue"] == pytest.approx(5 / 12)
    assert ref["efficiency"] == pytest.approx(0.75)
    revenues = [reference(auction=auction, reserve=r)["revenue"] for r in (0.3, 0.45, 0.55, 0.7)]
    assert max(revenues) < 5 / 12
    # n = 3, r = 0.4: 1/2 + 0.064 - 6 * 0.0256 / 4 = 0.5256
    assert reference(auction=auction, reserve=0.4, n_bidders=3)["revenue"] == \
        pytest.approx(0.5256)


def test_all_pay_reserve_acts_through_its_cutoff() -> None:
    # all pay: the marginal type c pays r win or lose, c * c^(n-1) = r; r = 1/4, n = 2 gives
    # c = 1/2, hence the optimal revenue 5/12 of REFERENCES.md's formula at cutoff 1/2
    assert cutoff_value("all_pay", n_bidders=2, reserve=0.25) == pytest.approx(0.5)
    assert reference(auction="all_pay", reserve=0.25)["revenue"] == pytest.approx(5 / 12)
    assert float(bid_function("all_pay", 0.5, n_bidders=2, reserve=0.25)) == pytest.approx(0.25)


@pytest.mark.parametrize("auction", AUCTIONS)
@pytest.mark.parametrize("n, reserve", [(2, 0.0), (3, 0.0), (2, 0.3), (3, 0.2)])
def test_closed_form_bid_is_a_best_response_in_the_continuum(auction: str, n: int,
                                                             reserve: float) -> None:
    # independent check of the formulas: against n - 1 opponents bidding b(.), a bidder of value
    # v maximises its expected payoff over a fine bid grid at (about) b(v), and a bidder below
    # the cutoff cannot earn anything by bidding
    c = cutoff_value(auction, n_bidders=n, reserve=reserve)
    # quantiles of the highest opponent value, CDF y^(n-1), and of its bid (-1: rejected)
    highest = ((np.arange(100_000) + 0.5) / 100_000) ** (1 / (n - 1))
    opponent = np.where(highest >= c, bid_function(auction, highest, n_bidders=n,
                                                   reserve=reserve), -1.0)
    assert np.all(np.diff(opponent) >= 0)  # b is increasing, so the quantiles stay sorted
    candidates = np.linspace(reserve, 1.0, 4001)
    below = np.searchsorted(opponent, candidates)  # opponents' quantiles the bid beats
    win = below / highest.size
    price = np.concatenate([[0.0], np.cumsum(np.maximum(opponent, reserve))])[below] / highest.size
    for v in (0.35, 0.6, 0.9):
        payment = {"first_price": candidates * win, "second_price": price,
                   "all_pay": candidates}[auction]
        payoff = v * win - payment
        if v < c:
            assert payoff.max() <= 1e-9
            continue
        best = candidates[np.argmax(payoff)]
        assert best == pytest.approx(float(bid_function(auction, v, n_bidders=n,
                                                        reserve=reserve)), abs=2e-3)
        assert payoff.max() >= -1e-9


# ------------------------------------------------------------------------------------------
# the grid game
# ------------------------------------------------------------------------------------------

def test_game_structure_and_rewards_by_hand() -> None:
    game = build(auction="first_price")
    assert game.num_states == 37 and game.num_actions == (13, 13)
    assert game.num_observations == (6, 6)
    assert game.initial[:36] == pytest.approx(np.full(36, 1 / 36))
    values = value_grid(6)
    assert values == pytest.approx([1 / 12, 3 / 12, 5 / 12, 7 / 12, 9 / 12, 11 / 12])
    bids = bid_grid(13)
    # bid grid step 1/12 contains the value nodes (aligned default)
    assert set(np.round(values * 12)) <= set(np.round(bids * 12))
    s = 5 * 6 + 2  # bidder 0 has v = 11/12, bidder 1 has v = 5/12
    assert tuple(game.observations[:, s]) == (5, 2)
    # first price: bids 6/12 vs 4/12: bidder 0 pays 6/12 and gains 5/12
    assert game.rewards[:, s, 6, 4] == pytest.approx([5 / 12, 0.0])
    # tie at 4/12: each gets half the object and pays half: (11/12 - 4/12) / 2, (5/12 - 4/12) / 2
    assert game.rewards[:, s, 4, 4] == pytest.approx([7 / 24, 1 / 24])
    second = build(auction="second_price")
    assert second.rewards[:, s, 6, 4] == pytest.approx([7 / 12, 0.0])  # pays the other bid
    assert second.rewards[:, s, 4, 4] == pytest.approx([7 / 24, 1 / 24])
    all_pay = build(auction="all_pay")
    assert all_pay.rewards[:, s, 6, 4] == pytest.approx([5 / 12, -4 / 12])
    assert all_pay.rewards[:, s, 4, 4] == pytest.approx([11 / 24 - 4 / 12, 5 / 24 - 4 / 12])
    # reserve 1/2: bids 4/12 are rejected; second price charges the reserve
    reserved = build(auction="second_price", reserve=0.5)
    assert reserved.rewards[:, s, 6, 4] == pytest.approx([11 / 12 - 6 / 12, 0.0])
    assert reserved.rewards[:, s, 4, 4] == pytest.approx([0.0, 0.0])
    reserved_all_pay = build(auction="all_pay", reserve=0.5)
    assert reserved_all_pay.rewards[:, s, 4, 6] == pytest.approx([0.0, 5 / 12 - 6 / 12])


@pytest.mark.parametrize("params", [{}, SECOND, {"reserve": 0.5}, {"n_values": 3, "n_bids": 7}],
                         ids=["default", "three", "reserve", "coarse"])
def test_truthful_second_price_is_an_exact_equilibrium_on_aligned_grids(params: dict) -> None:
    # truthful bidding is weakly dominant (Vickrey 1961); with the value nodes on the bid grid it
    # stays dominant in the grid game, so NashConv is 0 up to rounding
    game = build(auction="second_price", **params)
    profile = reference_profile(game, auction="second_price", **params)
    k = game.num_observations[0]
    assert np.all(profile[0].max(axis=1) == 1.0)  # pure
    nodes = value_grid(k)
    bidding = nodes >= params.get("reserve", 0.0)
    assert bid_grid(game.num_actions[0])[profile[0].argmax(axis=1)][bidding] == \
        pytest.approx(nodes[bidding])
    result = nash_conv(game, profile)
    require_exact(result)
    assert result.nash_conv <= 1e-12
    if "reserve" in params or "n_values" in params:
        return  # (these coarse grids happen to make rounded truthful bids an equilibrium too)
    # off the aligned grid truthful bids must be rounded and the profile is only approximate
    off = {**params, "n_bids": 11}
    game = build(auction="second_price", **off)
    assert nash_conv(game, reference_profile(game, auction="second_price", **off)).nash_conv > 1e-6


@pytest.mark.parametrize("auction", AUCTIONS)
@pytest.mark.parametrize("params", [{}, SECOND], ids=["two", "three"])
def test_projected_reference_is_an_approximate_equilibrium(auction: str, params: dict) -> None:
    game = build(auction=auction, **params)
    result = nash_conv(game, reference_profile(game, auction=auction, **params))
    require_exact(result)
    uniform = nash_conv(game, uniform_profile(game)).nash_conv
    assert result.nash_conv < 0.05 * uniform
    # and well below what a naive rule leaves: truthful bidding in a pay-your-bid auction
    if auction != "second_price":
        truthful = reference_profile(game, auction="second_price", **params)
        assert result.nash_conv < 0.1 * nash_conv(game, truthful).nash_conv
    assert np.allclose(result.per_player, result.per_player[0])  # symmetric profile


@pytest.mark.parametrize("auction", ["first_price", "all_pay"])
def test_nash_conv_of_projected_reference_shrinks_with_refinement(auction: str) -> None:
    values = []
    for n_values in (3, 6, 12):
        params = {"n_values": n_values, "n_bids": 2 * n_values + 1}
        game = build(auction=auction, **params)
        result = nash_conv(game, reference_profile(game, auction=auction, **params))
        require_exact(result)
        values.append(result.nash_conv)
    assert values[0] > values[1] > values[2] > 0
    assert values[2] < 0.5 * values[0]
    # the second parameter set, three bidders, 3 -> 6 values
    three = []
    for n_values in (3, 6):
        params = {**SECOND, "n_values": n_values, "n_bids": 2 * n_values + 1}
        game = build(auction=auction, **params)
        three.append(nash_conv(game, reference_profile(game, auction=auction, **params)).nash_conv)
    assert three[1] < 0.6 * three[0]


@pytest.mark.parametrize("auction", AUCTIONS)
@pytest.mark.parametrize("params", [{}, SECOND], ids=["two", "three"])
def test_summary_of_projected_reference_matches_closed_form(auction: str, params: dict) -> None:
    game = build(auction=auction, **params)
    stats = summarize(game, reference_profile(game, auction=auction, **params), auction=auction,
                      **params)
    ref = reference(auction=auction, **params)
    # revenue equivalence survives the grids up to discretisation: bid step 1/12 and value
    # bins of width 1/6
    assert stats["revenue"] == pytest.approx(ref["revenue"], abs=0.01)
    assert stats["bidder_surplus"] == pytest.approx(ref["bidder_surplus"], abs=0.01)
    assert stats["surplus_by_bidder"] == pytest.approx((stats["bidder_surplus"],) *
                                                       len(stats["surplus_by_bidder"]))
    # the projection preserves the mean bid: the bid function is the closed form at the nodes
    assert stats["bid_function"] == pytest.approx(np.tile(ref["bid_function"],
                                                          (len(stats["surplus_by_bidder"]), 1)))
    # mixing between neighbouring bids gives ties and inversions between close values only
    assert 0.9 < stats["efficiency"] <= 1.0 and stats["sale_probability"] == pytest.approx(1.0)


def test_second_price_revenue_on_the_grid_by_hand() -> None:
    # truthful bids on K midpoints, two bidders: revenue E[min(v_1, v_2)]; with U uniform on
    # {0..K-1}, E[min] = (sum_{j<K} j^2 / K^2 + 1/2) / K = 1/3 + 1/(6 K^2)
    for k in (3, 6, 12):
        params = {"n_values": k, "n_bids": 2 * k + 1}
        game = build(auction="second_price", **params)
        stats = summarize(game, reference_profile(game, auction="second_price", **params),
                          auction="second_price", **params)
        assert stats["revenue"] == pytest.approx(1 / 3 + 1 / (6 * k * k), abs=1e-12)
        assert stats["efficiency"] == pytest.approx(1.0)


@pytest.mark.parametrize("auction", AUCTIONS)
def test_summary_error_shrinks_with_refinement(auction: str) -> None:
    ref = reference(auction=auction)
    errors, losses = [], []
    for k in (3, 6, 12):
        params = {"n_values": k, "n_bids": 2 * k + 1}
        game = build(auction=auction, **params)
        stats = summarize(game, reference_profile(game, auction=auction, **params),
                          auction=auction, **params)
        errors.append(abs(stats["revenue"] - ref["revenue"])
                      + abs(stats["bidder_surplus"] - ref["bidder_surplus"]))
        losses.append(ref["efficiency"] - stats["efficiency"])
    # measured: revenue errors fall about 4x per halving of the grids, surplus errors 2-4x
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.2 * errors[0]
    # efficiency losses come from ties and mixing between neighbouring bids: they shrink slowly
    # (all pay: the bid slope v near 0 is below the bid step) but never grow
    assert losses[0] >= losses[1] >= losses[2] >= 0.0
    assert losses[2] < 0.8 * losses[0] or losses[0] == 0.0


@pytest.mark.parametrize("auction, reserve", [("first_price", 0.5), ("second_price", 0.5),
                                              ("all_pay", 0.25)])
def test_reserve_price_on_the_grid(auction: str, reserve: float) -> None:
    # cutoff 1/2 in all three (all pay: sqrt(1/4)); it is a bin edge of the 6-node grid, so
    # exactly half the values bid; REFERENCES.md revenue 5/12, sale probability 3/4
    params = {"reserve": reserve}
    game = build(auction=auction, **params)
    profile = reference_profile(game, auction=auction, **params)
    assert np.all(profile[0][:3, 0] == 1.0)  # values 1/12, 3/12, 5/12 do not bid
    stats = summarize(game, profile, auction=auction, **params)
    assert stats["sale_probability"] == pytest.approx(0.75)
    assert stats["revenue"] == pytest.approx(5 / 12, abs=0.02)
    result = nash_conv(game, profile)
    require_exact(result)
    assert result.nash_conv < 0.05 * nash_conv(game, uniform_profile(game)).nash_conv


def test_summarize_on_a_hand_profile() -> None:
    # both bidders always bid 1/2 in a first-price auction: ties always, the object is split,
    # revenue 1/2, surplus E[v]/2 - 1/4 = 0, a highest-value bidder wins with probability
    # 1 - P(v_1 != v_2) / 2 = 1 - (5/6) / 2 = 7/12
    game = build(auction="first_price")
    half = np.zeros((6, 13))
    half[:, 6] = 1.0
    stats = summarize(game, (half, half), auction="first_price")
    assert stats["revenue"] == pytest.approx(0.5)
    assert stats["bidder_surplus"] == pytest.approx(0.0, abs=1e-12)
    assert stats["efficiency"] == pytest.approx(7 / 12)
    assert stats["bid_function"] == pytest.approx(np.full((2, 6), 0.5))


# ------------------------------------------------------------------------------------------
# complete-information instances
# ------------------------------------------------------------------------------------------

def test_common_value_all_pay_unique_equilibrium() -> None:
    # REFERENCES.md [C]: V = 3, bids 0..3, ties split: unique equilibrium uniform on {0, 1, 2},
    # payoff 1/2 each
    game = common_value_all_pay(prize=3)
    assert game.payoffs_exact is not None
    result = vertex_enumeration(game)
    assert result.complete and len(result.equilibria) == 1
    equilibrium = result.equilibria[0]
    third = [pytest.approx(1 / 3)] * 3 + [0.0]
    assert list(equilibrium.strategies[0]) == third and list(equilibrium.strategies[1]) == third
    assert [str(x) for x in equilibrium.strategies_exact[0]] == ["1/3", "1/3", "1/3", "0"]
    assert equilibrium.payoffs == pytest.approx([0.5, 0.5])
    assert nash_conv(game, equilibrium.strategies).nash_conv <= 1e-12
    # pure profiles are never equilibria of this game
    for i in range(4):
        for j in range(4):
            assert nash_conv(game, (np.eye(4)[i], np.eye(4)[j])).nash_conv > 0.1


def _legal_profiles() -> list[tuple[int, int, int]]:
    """Pure strategies of first_sealed_auction, max_value 3: a bid below each value 1, 2, 3."""
    return [(0, b2, b3) for b3 in range(3) for b2 in range(2)]


def test_openspiel_first_sealed_auction_reconstructed() -> None:
    # REFERENCES.md [C]: values 1, 2, 3 equally likely, bids below the value, first price, random
    # tie-break: unique equilibrium bids (0, 1, 1), payoff 13/18 each
    ours = auction_game(auction="first_price", values=[1, 2, 3], bids=[0, 1, 2], n_bidders=2)
    openspiel = pyspiel.load_game("first_sealed_auction", {"max_value": 3, "players": 2})
    normal_form = from_openspiel(pyspiel.extensive_to_tensor_game(openspiel))
    # OpenSpiel's reduced normal form, strategies read from its labels
    def parse(label: str) -> tuple[int, ...]:
        return tuple(int(line.rsplit("= ", 1)[1]) for line in label.strip().splitlines())
    strategies = [[parse(label) for label in labels] for labels in normal_form.action_labels]
    assert sorted(strategies[0]) == sorted(_legal_profiles())
    # our game gives every pure profile the same payoffs as OpenSpiel's tensor game
    for a, first in enumerate(strategies[0]):
        for b, second in enumerate(strategies[1]):
            values = policy_values(ours, (np.eye(3)[list(first)], np.eye(3)[list(second)]))
            assert values == pytest.approx(normal_form.payoffs[:, a, b], abs=1e-12)
    # the stated equilibrium: NashConv 0 in ours (deviations to bids >= value included) ...
    stated = (np.eye(3)[[0, 1, 1]],) * 2
    result = nash_conv(ours, stated)
    require_exact(result)
    assert result.nash_conv <= 1e-12
    assert result.values == pytest.approx([13 / 18, 13 / 18])
    # ... and in OpenSpiel's game, by OpenSpiel's own exploitability
    policy = os_policy.TabularPolicy(openspiel)
    for key, row in policy.state_lookup.items():
        bid = {1: 0, 2: 1, 3: 1}[int(key.rsplit("val ", 1)[1])]
        policy.action_probability_array[row] = np.eye(policy.action_probability_array.shape[1])[bid]
    assert os_exploitability.nash_conv(openspiel, policy) == pytest.approx(0.0, abs=1e-12)
    # it is the only equilibrium of the reduced normal form (exact vertex enumeration) ...
    enumerated = vertex_enumeration(normal_form)
    assert enumerated.complete and len(enumerated.equilibria) == 1
    index = strategies[0].index((0, 1, 1))
    assert enumerated.equilibria[0].strategies[0] == pytest.approx(np.eye(6)[index])
    # ... and no other legal pure profile is one in our game
    for first in _legal_profiles():
        for second in _legal_profiles():
            if first == second == (0, 1, 1):
                continue
            profile = (np.eye(3)[list(first)], np.eye(3)[list(second)])
            assert nash_conv(ours, profile).nash_conv > 1e-3


# ------------------------------------------------------------------------------------------
# parameters and scenarios
# ------------------------------------------------------------------------------------------

def test_scenarios_and_parameter_validation() -> None:
    assert [s.name for s in SCENARIOS] == ["first_price_auction", "second_price_auction",
                                           "all_pay_auction"]
    for scenario, auction in zip(SCENARIOS, AUCTIONS):
        game = scenario.build(n_values=4, n_bids=9)
        assert game.num_states == 17
        assert scenario.reference(n_values=4)["bid_function"] == \
            reference(auction=auction, n_values=4)["bid_function"]
        assert scenario.projection is PROJECTION
        assert scenario.summarize(game, uniform_profile(game), n_values=4, n_bids=9)["revenue"] > 0
        assert isinstance(scenario.simulator(num_envs=2, seed=0), AuctionEnv)
    scenario = SCENARIOS[0]
    with pytest.raises(ScenarioError, match=r"'n_bidders' must be in \[2, 4\]"):
        scenario.build(n_bidders=5)
    with pytest.raises(ScenarioError, match="'reserve' must be in"):
        build(reserve=1.5)
    with pytest.raises(ScenarioError, match="'n_values' must be in"):
        build(auction="all_pay", n_values=1)
    with pytest.raises(ScenarioError, match="no parameter 'values'"):
        reference(values=3)
    with pytest.raises(ScenarioError, match="auction must be one of"):
        build(auction="dutch")
    with pytest.raises(ScenarioError, match="above the limit"):
        build(n_bidders=4)  # default grids: 6^4 value profiles x 13^4 joint bids
    game = build()
    with pytest.raises(GametoolsError, match="was not built with these parameters"):
        summarize(game, uniform_profile(game), n_values=5)
    with pytest.raises(GametoolsError, match="strictly increasing"):
        auction_game(auction="first_price", values=[1, 2], bids=[0, 2, 1], n_bidders=2)
    with pytest.raises(GametoolsError, match="prize must be"):
        common_value_all_pay(prize=0)


# ------------------------------------------------------------------------------------------
# the continuous simulator and the maps to the grid
# ------------------------------------------------------------------------------------------

def test_observation_maps_and_projection() -> None:
    game = build()
    for player in (0, 1):
        representatives = grid_observations(game, player)
        assert representatives.shape == (6, 1) and representatives.dtype == torch.float32
        assert np.array_equal(observation_index(game, player, representatives), np.arange(6))
    # bins [k/6, (k+1)/6): edges go up, values beyond [0, 1] to the ends
    ids = observation_index(game, 0, torch.tensor([[0.0], [1 / 6 + 1e-9], [0.999], [1.0], [-1.0]]))
    assert ids.tolist() == [0, 1, 5, 5, 0]
    assert project_actions(game, 1, [-0.5, 0.04, 0.05, 0.5, 2.0]).tolist() == [0, 0, 1, 6, 12]
    halfway = torch.tensor([[1 / 24]], dtype=torch.float64)
    assert project_actions(game, 0, halfway).tolist() == [0]  # halfway ties go down


def test_projection_turns_a_truthful_actor_into_the_equilibrium() -> None:
    # the training driver's adapter with a stand-in learner whose actor bids its value: in the
    # second-price scenario this is the exact (truthful) equilibrium
    class Truthful:
        discrete = False

        def policy(self, agent: int, observations: torch.Tensor) -> torch.Tensor:
            return observations.clone()

    scenario = SCENARIOS[1]
    game = scenario.build()
    profile = tabular_profile(Truthful(), game, scenario)
    assert np.array_equal(profile[0], reference_profile(game, auction="second_price")[0])
    assert nash_conv(game, profile).nash_conv <= 1e-12


def run_gridded(env: AuctionEnv, game, profile, rng: np.random.Generator) -> np.ndarray:
    """Rewards ``(B, n)`` of one step of a (mixed) tabular profile played in the simulator."""
    first = env.reset(seed=1)
    bids = bid_grid(game.num_actions[0])
    actions = []
    for player, observation in enumerate(first.observations):
        ids = observation_index(game, player, observation)
        cumulative = profile[player][ids].cumsum(axis=1)
        chosen = (rng.random((len(ids), 1)) > cumulative).sum(axis=1).clip(max=len(bids) - 1)
        actions.append(torch.tensor(bids[chosen]))
    step = env.step(actions)
    assert bool(step.terminated.all()) and not bool(step.truncated.any())
    return step.rewards.to(torch.float64).numpy()


@pytest.mark.parametrize("auction", AUCTIONS)
@pytest.mark.parametrize("params, on_grid", [({}, True), ({**SECOND, "reserve": 0.3}, True),
                                             ({}, False)],
                         ids=["two-grid_values", "three-grid_values", "two-uniform_values"])
def test_simulator_agrees_with_the_tensor_game(auction: str, params: dict,
                                               on_grid: bool) -> None:
    game = build(auction=auction, **params)
    profile = reference_profile(game, auction=auction, **params)
    exact = policy_values(game, profile)
    env = simulator(num_envs=100_000, seed=0, auction=auction, value_grid=on_grid, **params)
    rewards = run_gridded(env, game, profile, np.random.default_rng(2))
    mean, error = rewards.mean(axis=0), rewards.std(axis=0) / np.sqrt(len(rewards))
    # rewards are linear in the own value and each node is its bin's mean, so continuous values
    # acted on through their bins have the grid game's expectation too
    assert np.all(np.abs(mean - exact) < 4 * error + 1e-6)


def test_simulator_rewards_by_hand_and_seeding() -> None:
    values = torch.tensor([[0.9, 0.6], [0.9, 0.6], [0.2, 0.7]], dtype=torch.float64)
    bids = torch.tensor([[0.3, 0.5], [0.5, 0.5], [0.1, 0.2]], dtype=torch.float64)
    expected = {"first_price": [[0.0, 0.1], [0.2, 0.05], [0.0, 0.0]],
                "second_price": [[0.0, 0.3], [0.2, 0.05], [0.0, 0.4]],
                "all_pay": [[-0.3, 0.1], [0.45 - 0.5, 0.3 - 0.5], [-0.1, 0.5]]}
    for auction in AUCTIONS:
        env = simulator(num_envs=3, auction=auction, reserve=0.15)
        got = env.rewards(values, bids)
        # row 3: bid 0.1 is below the reserve 0.15: rejected (pays nothing, even all pay);
        # second price charges the reserve
        want = torch.tensor(expected[auction], dtype=torch.float64)
        if auction == "first_price":
            want[2] = torch.tensor([0.0, 0.5])
        if auction == "second_price":
            want[2] = torch.tensor([0.0, 0.7 - 0.15])
        if auction == "all_pay":
            want[2] = torch.tensor([0.0, 0.5])
        assert torch.allclose(got, want, atol=1e-12), auction
    env = simulator(num_envs=8, seed=3, **SECOND)
    first = env.reset()
    assert [o.shape for o in first.observations] == [(8, 1)] * 3
    assert first.state.shape == (8, 3) and env.action_spaces[0].high == 1.0
    again = simulator(num_envs=8, seed=3, **SECOND).reset()
    assert torch.equal(again.state, first.state)
    step = env.step([torch.full((8,), 2.0)] * 3)  # bids clipped to 1: ties, zero or negative
    assert torch.equal(step.final_state, first.state)
    assert not torch.equal(step.state, first.state)  # the next episode's values
    assert torch.all(step.rewards <= 0.0)
    saved = env.state_dict()
    following = env.step([torch.zeros(8)] * 3)
    env.load_state_dict(saved)
    assert torch.equal(env.step([torch.zeros(8)] * 3).state, following.state)
    grid_env = simulator(num_envs=1000, seed=0, value_grid=True)
    drawn = grid_env.reset().state.numpy() * 6 - 0.5
    assert np.allclose(drawn, np.round(drawn), atol=1e-5)


@pytest.mark.parametrize("auction", ["first_price", "second_price", "all_pay"])
@pytest.mark.parametrize("n_bidders, reserve", [(2, 0.0), (3, 0.0), (4, 0.3), (2, 0.5)])
def test_continuum_solution_is_the_closed_form(auction: str, n_bidders: int,
                                               reserve: float) -> None:
    # Krishna ch. 2-3 / REFERENCES.md: revenue (n-1)/(n+1) + c^n - 2 n c^(n+1)/(n+1), surplus
    # (1 - c^(n+1))/(n (n+1)) - c^n (1 - c)/n; the continuum solution integrates the envelope
    # condition numerically instead
    from games.auctions import continuum_solution

    out = continuum_solution(None, auction=auction, n_bidders=n_bidders, reserve=reserve)
    ref = reference(auction=auction, n_bidders=n_bidders, reserve=reserve)
    assert out["summary"]["revenue"] == pytest.approx(ref["revenue"], abs=1e-10)
    assert out["summary"]["bidder_surplus"] == pytest.approx(ref["bidder_surplus"], abs=1e-10)
    assert out["summary"]["efficiency"] == pytest.approx(ref["efficiency"], abs=1e-12)


def test_continuum_solution_reports_the_grid_error() -> None:
    from games.auctions import continuum_solution

    game = build(auction="first_price")
    grid = summarize(game, reference_profile(game, auction="first_price"), auction="first_price")
    out = continuum_solution(grid, auction="first_price")
    # revenue 1/3 for two bidders (REFERENCES.md)
    assert out["discretisation_error"]["revenue"] == pytest.approx(grid["revenue"] - 1 / 3)
    assert "within 2%" in out["grid_note"]


def test_summary_names_the_grid_that_brings_first_price_revenue_within_two_percent() -> None:
    # REFERENCES.md: revenue (n - 1) / (n + 1) = 1/3 for two bidders. The default grids' CFR
    # equilibrium is 13% low; the summary names n_bids=25, measured at -0.7%: solved here
    from gametools.solvers import solve

    game = build(auction="first_price")
    stats = summarize(game, solve(game).equilibria[0].strategies, auction="first_price")
    assert stats["revenue_vs_theory"] == pytest.approx(stats["revenue"] * 3 - 1)
    assert "n_bids=25" in stats["revenue_note"]
    fine = build(auction="first_price", n_bids=25)
    finer = summarize(fine, solve(fine).equilibria[0].strategies, auction="first_price",
                      n_bids=25)
    assert abs(finer["revenue_vs_theory"]) < 0.02


@pytest.mark.parametrize("auction, params", [
    ("second_price", {"n_values": 8, "n_bids": 25}),
    ("all_pay", {"n_values": 12, "n_bids": 49})], ids=["second_price", "all_pay"])
def test_summary_names_a_grid_that_brings_revenue_and_surplus_within_two_percent(
        auction: str, params: dict) -> None:
    # REFERENCES.md, two bidders, U[0, 1] values: revenue 1/3 and surplus 1/6 per bidder in all
    # three formats (revenue equivalence). The defaults' grid equilibrium is off by more than
    # 2% in one of the two; the note names the grid, and the claim is held here by solving it
    from gametools.solvers import solve

    note = summarize(build(auction=auction), reference_profile(build(auction=auction),
                                                               auction=auction),
                     auction=auction)["revenue_note"]
    assert f"n_values={params['n_values']}, n_bids={params['n_bids']}" in note
    game = build(auction=auction, **params)
    stats = summarize(game, solve(game).equilibria[0].strategies, auction=auction, **params)
    assert abs(stats["revenue"] * 3 - 1) < 0.02
    assert abs(stats["bidder_surplus"] * 6 - 1) < 0.02


def test_bid_function_exploitability_of_linear_bids() -> None:
    # Krishna (2010) ch. 2: b = (n - 1) v / n is the equilibrium (NashConv 0); against two
    # opponents bidding v / 2 (bids uniform on [0, 1/2]) the best response maximises
    # (v - b) min(2b, 1)^2: b = 2v/3 while v <= 3/4, payoff (v/3) (4v/3)^2 = 16 v^3 / 27, else
    # b = 1/2 with payoff v - 1/2 (derived by hand, integrated here with scipy)
    from scipy.integrate import quad

    from games.auctions import bid_function_exploitability

    out = bid_function_exploitability([lambda v: 2 * v / 3] * 3, n_bidders=3)
    assert out.nash_conv < 1e-6
    best = quad(lambda v: max(16 * v ** 3 / 27 if 2 * v / 3 <= 0.5 else -1.0, v - 0.5, 0.0),
                0.0, 1.0, points=[0.75])[0]
    own = quad(lambda v: (v - v / 2) * v * v, 0.0, 1.0)[0]  # win prob v^2 bidding v / 2
    out = bid_function_exploitability([lambda v: v / 2] * 3, n_bidders=3)
    assert out.nash_conv == pytest.approx(3 * (best - own), abs=1e-6)
    with pytest.raises(ScenarioError, match="first-price"):
        bid_function_exploitability([lambda v: v] * 2, auction="second_price")
