"""Tests of gametools.policies: each validation rule with its message, and the constructors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gametools import (
    MarkovGame,
    NormalFormGame,
    deterministic_profile,
    uniform_profile,
    validate_profile,
)
from gametools.errors import PolicyValidationError
from gametools.policies import SIMPLEX_TOLERANCE


@pytest.fixture()
def normal() -> NormalFormGame:
    return NormalFormGame(np.zeros((2, 2, 3)))


@pytest.fixture()
def markov() -> MarkovGame:
    # player 0 observes the state (2 observations); player 1 sees nothing (1 observation)
    return MarkovGame(np.full((2, 2, 3, 2), 0.5), np.zeros((2, 2, 2, 3)), [1.0, 0.0], 0.5,
                      observations=[[0, 1], [0, 0]])


def _msg(text: str) -> str:
    return re.escape(text)


def test_valid_profile_is_returned_as_read_only_float_copies(normal: NormalFormGame) -> None:
    given = [np.array([1, 0]), np.array([0.25, 0.25, 0.5])]
    profile = validate_profile(normal, given)
    assert all(x.dtype == float and not x.flags.writeable for x in profile)
    given[1][0] = 0.0  # the caller's array is not shared
    assert profile[1].tolist() == [0.25, 0.25, 0.5]


def test_one_entry_per_player(normal: NormalFormGame) -> None:
    with pytest.raises(PolicyValidationError, match=_msg("profile: needs one entry per player "
                                                         "(2) (got 1)")):
        validate_profile(normal, [[1.0, 0.0]])


def test_strategy_shape(normal: NormalFormGame) -> None:
    with pytest.raises(PolicyValidationError, match=_msg("policy_1: must have shape (n_i,) = "
                                                         "(3,) (got (2,))")):
        validate_profile(normal, [[1.0, 0.0], [1.0, 0.0]])


def test_policy_shape(markov: MarkovGame) -> None:
    with pytest.raises(PolicyValidationError, match=_msg("policy_1: must have shape "
                                                         "(num_observations_i, n_i) = (1, 3) "
                                                         "(got (2, 3))")):
        validate_profile(markov, [np.eye(2), np.full((2, 3), 1 / 3)])


def test_negative_probabilities(normal: NormalFormGame, markov: MarkovGame) -> None:
    with pytest.raises(PolicyValidationError, match=_msg("policy_0: probabilities must be >= 0 "
                                                         "(got [1.5, -0.5])")):
        validate_profile(normal, [[1.5, -0.5], [1.0, 0.0, 0.0]])
    with pytest.raises(PolicyValidationError, match=_msg("policy_1[0]: probabilities must be "
                                                         ">= 0")):
        validate_profile(markov, [np.eye(2), [[1.2, -0.2, 0.0]]])


def test_rows_must_sum_to_one(normal: NormalFormGame, markov: MarkovGame) -> None:
    with pytest.raises(PolicyValidationError, match=_msg("policy_0: each row must sum to 1 "
                                                         "(got [0.5, 0.4])")):
        validate_profile(normal, [[0.5, 0.4], [1.0, 0.0, 0.0]])
    with pytest.raises(PolicyValidationError, match=_msg("policy_0[1]: each row must sum to 1 "
                                                         "(got [0.5, 0.6])")):
        validate_profile(markov, [[[1.0, 0.0], [0.5, 0.6]], [[1.0, 0.0, 0.0]]])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_entries_must_be_finite(markov: MarkovGame, bad: float) -> None:
    with pytest.raises(PolicyValidationError, match=_msg("policy_0[1]: must be finite")):
        validate_profile(markov, [[[1.0, 0.0], [bad, 1.0]], [[1.0, 0.0, 0.0]]])


def test_entries_must_be_numbers(normal: NormalFormGame) -> None:
    with pytest.raises(PolicyValidationError, match=r"^policy_0: must be an array of "
                                                    r"probabilities"):
        validate_profile(normal, [["a", "b"], [1.0, 0.0, 0.0]])


def test_tolerance_is_a_parameter_and_nothing_is_renormalised(normal: NormalFormGame) -> None:
    near = [0.5, 0.5 + SIMPLEX_TOLERANCE / 2]
    assert validate_profile(normal, [near, [1.0, 0.0, 0.0]])[0].tolist() == near  # kept as is
    with pytest.raises(PolicyValidationError, match="each row must sum to 1"):
        validate_profile(normal, [[0.5, 0.5 + 1e-6], [1.0, 0.0, 0.0]])
    loose = validate_profile(normal, [[0.5, 0.5 + 1e-6], [1.0, 0.0, 0.0]], atol=1e-5)
    assert loose[0].tolist() == [0.5, 0.5 + 1e-6]


def test_not_a_game() -> None:
    with pytest.raises(TypeError, match="expected a NormalFormGame or MarkovGame, got str"):
        validate_profile("rps", [[1.0]])


def test_uniform_profile(normal: NormalFormGame, markov: MarkovGame) -> None:
    strategies = uniform_profile(normal)
    assert [x.tolist() for x in strategies] == [[0.5, 0.5], [1 / 3] * 3]
    policies = uniform_profile(markov)
    assert [x.shape for x in policies] == [(2, 2), (1, 3)]
    assert all(not x.flags.writeable for x in policies)
    validate_profile(markov, policies)


def test_deterministic_profile(normal: NormalFormGame, markov: MarkovGame) -> None:
    assert [x.tolist() for x in deterministic_profile(normal, [1, 2])] == [[0, 1], [0, 0, 1]]
    policies = deterministic_profile(markov, [np.array([1, 0]), np.array([2])])
    assert policies[0].tolist() == [[0, 1], [1, 0]] and policies[1].tolist() == [[0, 0, 1]]
    assert all(not x.flags.writeable for x in policies)


def test_deterministic_profile_errors(normal: NormalFormGame, markov: MarkovGame) -> None:
    with pytest.raises(PolicyValidationError, match=_msg("actions: needs one entry per player "
                                                         "(2) (got 1)")):
        deterministic_profile(normal, [0])
    with pytest.raises(PolicyValidationError, match=_msg("actions[0]: action ids must be in "
                                                         "[0, 2) (got [0, 2])")):
        deterministic_profile(markov, [[0, 2], [0]])
    with pytest.raises(PolicyValidationError, match=_msg("actions[1]: must be integer action "
                                                         "ids of shape (1,)")):
        deterministic_profile(markov, [[0, 1], [0, 0]])
    with pytest.raises(PolicyValidationError, match=r"^actions\[1\]: must be integer action ids"):
        deterministic_profile(normal, [0, 1.0])
