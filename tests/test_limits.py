"""Resource limits: every hostile size from the reliability report fails fast with one line.

Each case reproduces an input that used to hang or exhaust memory; the expected outcome is the
project's ResourceLimitError / FileFormatError (exit 2 in the CLI), decided before allocation.
"""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest

from gametools import limits
from gametools.cli import main
from gametools.errors import GametoolsError, ResourceLimitError
from gametools.formats.nfg import parse_nfg
from gametools.formats.npz import FileFormatError, load_game, load_profile, save_profile
from gametools.model import MarkovGame

HEAD = 'NFG 1 R "t" { "a" "b" } { 2 2 }\n'


def test_nfg_header_with_a_billion_strategies_is_refused() -> None:
    with pytest.raises(ResourceLimitError, match=r"max_actions"):
        parse_nfg('NFG 1 R "t" { "a" "b" } { 1000000000 2 }\n')


def test_nfg_with_a_million_players_is_refused_at_the_limit() -> None:
    players = " ".join(['"p"'] * 1_000_000)
    with pytest.raises(ResourceLimitError, match=r"players in the player list: 33 exceeds the "
                                                  r"limit max_players = 32"):
        parse_nfg(f'NFG 1 R "t" {{ {players} }} {{ 2 }}')


def test_nfg_payoff_table_too_large_is_refused_before_reading_it() -> None:
    # 32 players with 2 strategies each: 32 * 2^32 payoffs
    players = " ".join(['"p"'] * 32)
    with pytest.raises(ResourceLimitError, match=r"max_payoff_entries"):
        parse_nfg(f'NFG 1 R "t" {{ {players} }} {{ {" ".join(["2"] * 32)} }}')


def test_nfg_with_64_players_is_a_format_error_even_with_raised_limits() -> None:
    players = " ".join(['"p"'] * 64)
    with limits.raised(max_players=1000), pytest.raises(GametoolsError, match="64 axes"):
        parse_nfg(f'NFG 1 R "t" {{ {players} }} {{ {" ".join(["1"] * 64)} }}' + " 0" * 64)


@pytest.mark.parametrize("number", ["1" * 5000, "1/" + "3" * 5000, "1" * 5000 + ".5"])
def test_nfg_numbers_past_python_digit_limit_raise_the_project_error(number: str) -> None:
    # int() refuses over 4300 digits with a bare ValueError; the reader refuses first
    with pytest.raises(ResourceLimitError, match=r"max_number_digits"):
        parse_nfg(HEAD + " ".join([number] + ["1"] * 7))


def test_nfg_strategy_count_with_5000_digits_is_refused() -> None:
    with pytest.raises(ResourceLimitError, match=r"max_actions"):
        parse_nfg('NFG 1 R "t" { "a" } { ' + "9" * 5000 + " }")


def test_limits_can_be_raised_by_environment_and_api(monkeypatch) -> None:
    players = " ".join(['"p"'] * 40)
    text = f'NFG 1 R "t" {{ {players} }} {{ {" ".join(["1"] * 40)} }}' + " 0" * 40
    with pytest.raises(ResourceLimitError):
        parse_nfg(text)
    monkeypatch.setenv("GAMETOOLS_MAX_PLAYERS", "100")
    assert parse_nfg(text).num_players == 40
    monkeypatch.delenv("GAMETOOLS_MAX_PLAYERS")
    with limits.raised(max_players=40):
        assert parse_nfg(text).num_players == 40
    with pytest.raises(ResourceLimitError):
        parse_nfg(text)
    with pytest.raises(ResourceLimitError, match="unknown limit"):
        limits.set_limits(max_player=3)


def _npz(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_rational_payoff_with_huge_exponent_is_refused_at_once(tmp_path) -> None:
    # 200 bytes, "1e100000000": Fraction() would build a 10^8-digit integer (minutes)
    path = tmp_path / "game.npz"
    path.write_bytes(_npz({"payoffs_rational.npy": _npy(np.array([[["1e100000000"]]]))}))
    with pytest.raises(ResourceLimitError, match=r"max_exponent"):
        load_game(path)


def test_zip_bomb_policy_is_refused_from_its_declared_size(tmp_path) -> None:
    # 16 MB of zeros compress to ~16 KB; with a 1 MB limit the member is never inflated
    path = tmp_path / "bomb.npz"
    path.write_bytes(_npz({"policy_0.npy": _npy(np.zeros((2, 1_000_000)))}))
    assert path.stat().st_size < 100_000
    with limits.raised(max_array_bytes=1_000_000), \
            pytest.raises(ResourceLimitError, match=r"policy_0.*decompressed bytes"):
        load_profile(path)


def test_npy_header_claiming_10_to_the_12_entries_is_refused(tmp_path) -> None:
    data = _npy(np.zeros(3))
    # rebuild a valid header for a shape of 10^12 with the same 24 data bytes
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**12,)})
    member = buffer.getvalue() + data[-24:]
    path = tmp_path / "claims.npz"
    path.write_bytes(_npz({"policy_0.npy": member}))
    with pytest.raises(FileFormatError, match=r"header claims shape \(1000000000000,\)"):
        load_profile(path)


def test_corrupt_deflate_member_is_a_format_error(tmp_path) -> None:
    path = tmp_path / "corrupt.npz"
    save_profile(path, (np.full(1000, 0.001),))
    raw = bytearray(path.read_bytes())
    start = raw.index(b"policy_0.npy") + len(b"policy_0.npy") + 4
    raw[start:start + 40] = b"\xff" * 40  # garble the deflate stream
    path.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match=r"not a readable \.npz archive"):
        load_profile(path)


def test_unknown_compression_method_is_a_format_error(tmp_path) -> None:
    raw = bytearray(_npz({"policy_0.npy": _npy(np.array([1.0]))}))
    # compression method 97 (WavPack), which zipfile cannot read: local header offset 8 and
    # central directory offset 10 hold the method (PKWARE APPNOTE 4.3.7 and 4.3.12)
    local = raw.index(b"PK\x03\x04")
    central = raw.index(b"PK\x01\x02")
    raw[local + 8:local + 10] = struct.pack("<H", 97)
    raw[central + 10:central + 12] = struct.pack("<H", 97)
    path = tmp_path / "method.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match=r"NotImplementedError"):
        load_profile(path)


def test_observation_id_of_10_to_the_12_is_refused() -> None:
    transitions = np.ones((1, 1, 1))
    with pytest.raises(ResourceLimitError, match=r"max_observation_id"):
        MarkovGame(transitions, np.zeros((1, 1, 1)), [1.0], 0.9, observations=[[10**12]])


@pytest.mark.parametrize("text", ['NFG 1 R "t" { "a" "b" } { 1000000000 2 }',
                                  HEAD + "1" * 5000 + " 1 1 1 1 1 1 1"])
def test_cli_reports_limits_in_one_line_with_exit_2(tmp_path, capsys, text: str) -> None:
    path = tmp_path / "g.nfg"
    path.write_text(text)
    assert main(["solve", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "the limit max_" in error


def test_resource_limit_error_is_a_project_error() -> None:
    assert issubclass(ResourceLimitError, GametoolsError)
    assert issubclass(ResourceLimitError, ValueError)
