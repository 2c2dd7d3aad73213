"""Fuzzing the readers: .nfg text, .npz games, .npz profiles and training checkpoints.

Property (the reliability contract): a reader given any bytes returns a valid object or raises
one of the project's error types, quickly and in bounded memory. The default suite runs a short
fuzz of each target; `pytest -m slow tests/test_fuzz_readers.py` with GAMETOOLS_FUZZ_EXAMPLES
set runs long ones, and bench/fuzz_readers.py runs them for a time budget and counts cases.
Inputs that once crashed a reader are kept below as explicit regression examples.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fuzz_targets import (
    DAMAGES,
    VALID_GAME_ARCHIVES,
    VALID_PROFILE_ARCHIVES,
    check_nfg,
    check_npz_game,
    check_npz_profile,
    leaf_paths,
    mutated,
    nfg_texts,
    npz_structured,
    tamper,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SHORT = settings(max_examples=40, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(max_examples=int(os.environ.get("GAMETOOLS_FUZZ_EXAMPLES", "5000")),
                deadline=None, suppress_health_check=list(HealthCheck))


@SHORT
@given(nfg_texts())
@example('NFG 1 R "t" { "a" } { 1 } EFG')  # found by the fuzzer: a word with 'E' as a payoff
@example('NFG 1 R "t" { "a" "b" } { 1000000000 2 }')
@example('NFG 1 R "t" { "a" } { ' + "9" * 5000 + " }")
@example('NFG 1 R "t" { "a" "b" } { 2 2 } ' + "1" * 5000 + " 1 1 1 1 1 1 1")
@example('NFG 1 R "t" { "a" "b" } { 2 2 } 1e-5000 0 0 1 1 0 0 1')
@example('NFG 1 R "t" { ' + '"p" ' * 70 + "} { 2 }")
def test_fuzz_nfg(text: str) -> None:
    check_nfg(text)


@SHORT
@given(st.one_of(mutated(VALID_GAME_ARCHIVES), npz_structured()))
def test_fuzz_npz_game(data: bytes) -> None:
    check_npz_game(data)


@SHORT
@given(st.one_of(mutated(VALID_PROFILE_ARCHIVES), npz_structured()))
def test_fuzz_npz_profile(data: bytes) -> None:
    check_npz_profile(data)


@pytest.mark.slow
@LONG
@given(st.one_of(nfg_texts()))
def test_fuzz_nfg_long(text: str) -> None:
    check_nfg(text)


@pytest.mark.slow
@LONG
@given(st.one_of(mutated(VALID_GAME_ARCHIVES), npz_structured()))
def test_fuzz_npz_game_long(data: bytes) -> None:
    check_npz_game(data)


@pytest.mark.slow
@LONG
@given(st.one_of(mutated(VALID_PROFILE_ARCHIVES), npz_structured()))
def test_fuzz_npz_profile_long(data: bytes) -> None:
    check_npz_profile(data)


# ------------------------------------------------------------------------------------------
# checkpoints: tampered documents that keep the run's identity
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory):
    torch = pytest.importorskip("torch", reason="checkpoints need torch")
    from known_games import float_profile  # noqa: F401 - the tests' game library is importable

    from gametools.marl.train import make_config, train

    torch.set_num_threads(1)
    game = _dominance()
    config = make_config("mappo", total_steps=256, num_envs=8, rollout_steps=8,
                         eval_interval=256, checkpoint_interval=128)
    folder = tmp_path_factory.mktemp("run")
    train(game, config, algorithm="mappo", seed=0, out=folder)
    document = torch.load(folder / "checkpoint.pt", weights_only=True)
    return game, config, folder, document


def _dominance():
    from gametools import NormalFormGame

    # row's action 1 strictly dominates (by hand); a one-shot game as a Markov game
    return NormalFormGame(np.array([[[0.0, 0.0], [1.0, 1.0]],
                                    [[0.0, 1.0], [0.0, 1.0]]])).to_markov_game()


def _resume_tampered(finished_run, path, damage) -> None:
    import torch

    from gametools.errors import GametoolsError
    from gametools.marl.train import train

    game, config, folder, document = finished_run
    target = folder.parent / f"tampered-{abs(hash((path, damage)))}"
    target.mkdir(exist_ok=True)
    torch.save(tamper(document, path, damage), target / "checkpoint.pt")
    try:
        train(game, config, algorithm="mappo", seed=0, out=target, resume=True)
    except GametoolsError:
        return
    # accepted: only when the damage left a usable document (e.g. metrics rows replaced)
    assert damage not in ("negative", "huge") or path[-1] != "steps"


@pytest.mark.parametrize("damage", ["negative", "huge", "delete", "string"])
def test_tampered_steps_are_refused(finished_run, damage: str) -> None:
    import torch

    from gametools.errors import GametoolsError
    from gametools.marl.train import train

    game, config, folder, document = finished_run
    target = folder.parent / f"steps-{damage}"
    target.mkdir(exist_ok=True)
    torch.save(tamper(document, ("steps",), damage), target / "checkpoint.pt")
    # a step count beyond total_steps is refused as a run to extend, the others as damage
    with pytest.raises(GametoolsError, match="damaged checkpoint|beyond total_steps"):
        train(game, config, algorithm="mappo", seed=0, out=target, resume=True)


def test_tampered_tensor_shape_is_refused(finished_run) -> None:
    from gametools.errors import GametoolsError

    paths = [p for p in leaf_paths(finished_run[3]) if p[0] == "learner"]
    import torch

    document = finished_run[3]
    tensors = [p for p in paths if isinstance(_get(document, p), torch.Tensor)]
    assert tensors
    with pytest.raises(GametoolsError):
        _strict_resume(finished_run, tensors[0], "shape")


def _get(document, path):
    for key in path:
        document = document[key]
    return document


def _strict_resume(finished_run, path, damage) -> None:
    import torch

    from gametools.marl.train import train

    game, config, folder, document = finished_run
    target = folder.parent / "strict"
    target.mkdir(exist_ok=True)
    torch.save(tamper(document, path, damage), target / "checkpoint.pt")
    train(game, config, algorithm="mappo", seed=0, out=target, resume=True)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_checkpoint(finished_run, data) -> None:
    path = data.draw(st.sampled_from(leaf_paths(finished_run[3])))
    _resume_tampered(finished_run, path, data.draw(DAMAGES))
