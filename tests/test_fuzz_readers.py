"""Fuzzing the readers: .nfg and .efg text, .npz games, .npz profiles and training checkpoints.

Property (the reliability contract): a reader given any bytes returns a valid object or raises
one of the project's error types, quickly and in bounded memory. The default suite runs a short
fuzz of each target; `pytest -m slow tests/test_fuzz_readers.py` with GAMETOOLS_FUZZ_EXAMPLES
set runs long ones, and bench/fuzz_readers.py runs them for a time budget and counts cases.
Inputs that once crashed a reader are kept below as explicit regression examples.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pytest
from fuzz_targets import (
    VALID_EFG,
    VALID_GAME_ARCHIVES,
    VALID_PROFILE_ARCHIVES,
    CheckpointTarget,
    RunsCode,
    check_efg,
    check_nfg,
    check_npz_game,
    check_npz_profile,
    efg_texts,
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


# crash corpus of the .efg fuzzer (bench/fuzz_readers.py): each raised OverflowError or
# ValueError before the fix; now each is refused with a project error or read and written back
_EFG_FOUND = [
    # a payoff beyond the float range (float(Fraction) raised OverflowError)
    ('EFG 2 R "" { "A" "B" } p "" 1 1 "" { "L" "R" } 0 t "" 1 "" { 3/2, 1e400 } '
     't "" 2 "" { 0 0 }'),
    # a chance probability beyond the float range (same, in TreeBuilder.build)
    'EFG 2 D "" { "x" } c "" 1 "" { "a" 1/3 "b" 1e10000 } 0 t "" 1 "" { 1 } t "" 2 "" { 0 }',
    # a 5000-digit exponent (int() of it raised ValueError past 4300 digits)
    'EFG 2 R "" { "A" } t "" 1 "" { 1e' + "9" * 5000 + " }",
    # 1e-10000 has a 10001-digit denominator: the writer's p/q text (str() raised ValueError)
    ('EFG 2 R "" { "A" "B" } p "" 1 1 "" { "L" "R" } 0 t "" 1 "" { 1e-10000, 1 } '
     't "" 2 "" { 0 0 }'),
    # 1 + 1e-10000 (an outcome at the root added to a leaf's): no exact text within the limits
    'EFG 2 R "" { "A" } p "" 1 1 "" { "L" } 1 "" { 1 } t "" 2 "" { 1e-10000 }',
]


@SHORT
@given(efg_texts())
@example(_EFG_FOUND[0])
@example(_EFG_FOUND[1])
@example(_EFG_FOUND[2])
@example(_EFG_FOUND[3])
@example(_EFG_FOUND[4])
def test_fuzz_efg(text: str) -> None:
    check_efg(text)


def test_efg_seeds_are_valid_games() -> None:
    # the mutation seeds must be accepted, or the fuzzer only tests the refusals; each is read
    # and written back to the same game (check_efg)
    assert [check_efg(text) for text in VALID_EFG] == ["accepted"] * len(VALID_EFG)


def test_efg_found_inputs_are_refused_or_round_trip() -> None:
    from gametools.errors import GametoolsError
    from gametools.formats.efg import format_efg, parse_efg

    outcomes = [check_efg(text) for text in _EFG_FOUND]
    assert outcomes == ["refused", "refused", "refused", "accepted", "accepted"]
    # 1e-10000 is written back exactly, in the exponent notation it was read in
    game = parse_efg(_EFG_FOUND[3])
    assert "1e-10000" in format_efg(game)
    assert parse_efg(format_efg(game)).payoffs_exact[0, 0] == Fraction(1, 10**10000)
    # 1 + 1e-10000 needs 10001 digits in any notation the reader accepts: refused by the writer
    with pytest.raises(GametoolsError, match="limits"):
        format_efg(parse_efg(_EFG_FOUND[4]))


# crash corpus: inputs found by the long runs (bench/fuzz_readers.py), one file each, named
# <target>-<what>.<ext>; every reader that takes the file's kind must refuse it or read it
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
_CORPUS_CHECKS = {"npz": [check_npz_game, check_npz_profile]}


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_crash_corpus(path: Path) -> None:
    data = path.read_bytes()
    for check in _CORPUS_CHECKS[path.suffix.lstrip(".")]:
        check(data)


def test_npz_member_name_flagged_utf8_is_refused() -> None:
    # found by the npz_profile fuzzer: the local header's UTF-8 flag set on a name that is not
    # UTF-8 made zipfile raise UnicodeDecodeError from archive.open
    from gametools.formats.npz import FileFormatError, load_profile

    with pytest.raises(FileFormatError, match="UnicodeDecodeError"):
        load_profile(CORPUS / "npz_profile-utf8-flagged-name.npz")


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
@given(efg_texts())
def test_fuzz_efg_long(text: str) -> None:
    check_efg(text)


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
# checkpoints: tampered documents, damaged files and pickles that would run code
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> CheckpointTarget:
    pytest.importorskip("torch", reason="checkpoints need torch")
    return CheckpointTarget(tmp_path_factory.mktemp("checkpoints"))


def _resume(checkpoints: CheckpointTarget, document: object) -> None:
    import io

    import torch

    from gametools.marl.train import train

    buffer = io.BytesIO()
    torch.save(document, buffer)
    target = checkpoints.root / "strict"
    target.mkdir(exist_ok=True)
    (target / "checkpoint.pt").write_bytes(buffer.getvalue())
    train(checkpoints.game, checkpoints.config, algorithm="mappo", seed=0, out=target,
          resume=True)


@pytest.mark.parametrize("damage", ["negative", "huge", "delete", "string"])
def test_tampered_steps_are_refused(checkpoints: CheckpointTarget, damage: str) -> None:
    from gametools.errors import GametoolsError

    # a step count beyond total_steps is refused as a run to extend, the others as damage
    with pytest.raises(GametoolsError, match="damaged checkpoint|beyond total_steps"):
        _resume(checkpoints, tamper(checkpoints.document, ("steps",), damage))


# found by the checkpoint fuzzer: these raised ValueError / IndexError / TypeError after the
# damage check, from the statistic sums and the metrics rows
@pytest.mark.parametrize("path,damage", [(("statistic_sums",), "string"),
                                         (("statistic_counts",), "list"),
                                         (("metrics",), "list"),
                                         (("metrics",), "string"),
                                         (("metrics",), "delete")])
def test_damaged_metrics_and_statistics_are_refused(checkpoints: CheckpointTarget,
                                                    path: tuple[str], damage: str) -> None:
    from gametools.errors import GametoolsError

    with pytest.raises(GametoolsError, match="damaged checkpoint"):
        _resume(checkpoints, tamper(checkpoints.document, path, damage))


def test_empty_metrics_are_refused(checkpoints: CheckpointTarget) -> None:
    from gametools.errors import GametoolsError

    document = dict(checkpoints.document, metrics=[])
    with pytest.raises(GametoolsError, match="damaged checkpoint"):
        _resume(checkpoints, document)


def test_tampered_tensor_shape_is_refused(checkpoints: CheckpointTarget) -> None:
    import torch

    from gametools.errors import GametoolsError

    tensors = [p for p in checkpoints.paths
               if p[0] == "learner" and isinstance(_get(checkpoints.document, p), torch.Tensor)]
    assert tensors
    with pytest.raises(GametoolsError):
        _resume(checkpoints, tamper(checkpoints.document, tensors[0], "shape"))


@pytest.mark.parametrize("via_eval", [False, True])
@pytest.mark.parametrize("where", ["root", "learner", "steps"])
def test_checkpoint_never_runs_code(checkpoints: CheckpointTarget, via_eval: bool,
                                    where: str) -> None:
    import copy

    document: object = RunsCode(checkpoints.marker, via_eval)
    if where != "root":
        document = copy.deepcopy(checkpoints.document)
        document[where] = RunsCode(checkpoints.marker, via_eval)  # type: ignore[index]
    data = checkpoints.save_document(document)
    assert checkpoints.check(data) == "refused"  # check() also asserts the marker is absent
    assert not checkpoints.marker.exists()


def test_truncated_checkpoints_are_refused(checkpoints: CheckpointTarget) -> None:
    for size in (0, 1, 64, len(checkpoints.data) // 2, len(checkpoints.data) - 1):
        assert checkpoints.check(checkpoints.data[:size]) == "refused"


def _get(document, path):
    for key in path:
        document = document[key]
    return document


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_checkpoint(checkpoints: CheckpointTarget, data) -> None:
    checkpoints.check(data.draw(checkpoints.cases()))


# ------------------------------------------------------------------------------------------
# the long-run driver, bench/fuzz_readers.py: hangs and failures are counted and kept
# ------------------------------------------------------------------------------------------

def test_fuzz_runner_counts_hangs_and_failures(tmp_path, monkeypatch) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "fuzz_readers.py"
    spec = importlib.util.spec_from_file_location("fuzz_readers_under_test", path)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)

    calls = []

    def spin_or_fail(value: int) -> str:
        calls.append(value)
        if len(calls) > 1:
            raise KeyError(value)  # outside the project's error types
        while True:  # the first case hangs: only the runner's CPU timer ends it
            pass

    monkeypatch.setitem(runner.TARGETS, "spin", lambda: (st.integers(0, 9), spin_or_fail))
    counts = runner.run_target("spin", 2.0, tmp_path, cpu_limit=0.05, wall_limit=30.0)
    assert counts["hangs"] == 1 and counts["failures"] == counts["cases"] - 1
    assert counts["accepted"] == counts["refused"] == 0
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == 2 * counts["cases"]  # the input and the traceback of each
    assert "over the CPU time limit" in (tmp_path / "spin-hang-1.txt").read_text()
    assert "KeyError" in (tmp_path / "spin-failure-2.txt").read_text()
