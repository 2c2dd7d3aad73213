"""The README's Python examples run as written (in a temporary working directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(BLOCKS[index], f"README.md example {index}", "exec"), namespace)  # noqa: S102


COMMANDS = [line.split("#")[0].split() for block in
            re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
            for line in block.splitlines() if line.startswith("gametools ")]
# the quick ones run here as written (training and studies are covered by their own tests)
QUICK = [argv for argv in COMMANDS
         if argv[1] in ("examples", "games") or argv[1:3] in (["solve", "game.nfg"],
                                                              ["exploit", "game.npz"])]


def test_readme_commands_on_the_shipped_files_run_as_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    from gametools.cli import main

    assert [argv[1] for argv in QUICK][:1] == ["examples"]  # copying the files comes first
    assert any(argv[1:3] == ["solve", "game.nfg"] for argv in QUICK)
    assert any(argv[1:3] == ["exploit", "game.npz"] for argv in QUICK)
    monkeypatch.chdir(tmp_path)
    for argv in QUICK:
        argv = [a for a in argv[1:] if a != "[--json]"]
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    capsys.readouterr()
