"""The solver half of gametools works without torch (``pip install gametools``, no extra).

Each check runs in a fresh interpreter whose import system refuses ``torch`` (a meta-path finder
that raises ``ModuleNotFoundError`` for ``torch`` and ``torch.*``, as an environment without torch
would), so nothing imported by the test process itself can hide a module-level ``import torch``.
The MARL half must then fail with one error naming the extra that installs torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest

from gametools.examples import example_path

ROOT = Path(__file__).resolve().parents[1]

# Installed first in the child: `import torch` fails as it does where torch is not installed.
BLOCK_TORCH = textwrap.dedent("""
    import sys
    from importlib.abc import MetaPathFinder

    class _NoTorch(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoTorch())
    for _name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        del sys.modules[_name]
""")


def run_without_torch(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` after BLOCK_TORCH in a fresh interpreter; stdout/stderr captured."""
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def cli_without_torch(*argv: str) -> subprocess.CompletedProcess[str]:
    return run_without_torch(f"""
        from gametools.cli import main
        sys.exit(main({list(argv)!r}))
    """)


def test_the_blocker_blocks_torch() -> None:
    result = run_without_torch("""
        try:
            import torch
        except ModuleNotFoundError as error:
            print("blocked", error.name)
    """)
    assert result.stdout.strip() == "blocked torch", result.stderr


def test_solver_modules_import_without_torch() -> None:
    result = run_without_torch("""
        import gametools, gametools.solvers, gametools.exploitability, gametools.formats
        import gametools.scenarios, gametools.plotting, gametools.examples, games
        print("torch" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_games_lists_scenarios_without_torch() -> None:
    result = cli_without_torch("games", "--json")
    assert result.returncode == 0, result.stderr
    names = {entry["name"] for entry in json.loads(result.stdout)}
    assert {"matching_pennies", "kyle", "cournot"} <= names


def test_solve_scenario_without_torch() -> None:
    result = cli_without_torch("solve", "matching_pennies", "--json")
    assert result.returncode == 0, result.stderr
    (equilibrium,) = json.loads(result.stdout)["equilibria"]
    # matching pennies: the unique equilibrium mixes 1/2-1/2 for both players (textbook)
    assert equilibrium["strategies_exact"] == [["1/2", "1/2"], ["1/2", "1/2"]]


def test_solve_nfg_file_without_torch() -> None:
    result = cli_without_torch("solve", str(example_path("game.nfg")), "--all", "--json")
    assert result.returncode == 0, result.stderr
    found = {tuple(tuple(Fraction(v) for v in s) for s in e["strategies_exact"])
             for e in json.loads(result.stdout)["equilibria"]}
    # von Stengel's 3x2 game: exactly these three equilibria (von Stengel 2007, AGT ch. 3)
    assert len(found) == 3
    assert ((Fraction(0), Fraction(1, 3), Fraction(2, 3)), (Fraction(1, 3), Fraction(2, 3))) \
        in found


def test_exploit_without_torch() -> None:
    result = cli_without_torch("exploit", str(example_path("game.npz")),
                               str(example_path("policy.npz")), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # Big Match at discount 0.9 (hand computation): against Right for ever, player 0's 1/2-1/2
    # gets V = 1/2 * 0 + 1/2 * (1 + 0.9 V), V = 10/11; the uniform profile gives player 0
    # 1/4 * 10 + 1/4 * 0.9 V' + 1/4 * (1 + 0.9 V'), V' = 5; player 1's gain is 5 - 10/11 = 45/11
    # and player 0's is 0 (against 1/2-1/2 both rows give 5).
    assert report["kind"] == "exact"
    assert report["nash_conv"] == pytest.approx(45 / 11, abs=1e-9)
    assert report["per_player"] == pytest.approx([0.0, 45 / 11], abs=1e-9)


def test_marl_says_which_extra_installs_torch() -> None:
    result = run_without_torch("""
        from gametools.optional import MissingDependencyError
        try:
            import gametools.marl.train
        except MissingDependencyError as error:
            print(error)
    """)
    assert "pip install 'gametools[marl]'" in result.stdout, result.stderr


def test_train_command_exits_2_naming_the_extra() -> None:
    result = cli_without_torch("train", "matching_pennies", "--algo", "mappo", "--steps", "10")
    assert result.returncode == 2
    assert "pip install 'gametools[marl]'" in result.stderr
    assert "Traceback" not in result.stderr
