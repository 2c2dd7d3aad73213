"""The documentation pages' code runs as written: their doctests, and their shell commands."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: Hand-written pages (``docs/_generated`` is written by the build from the code).
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_generated" not in p.parts
               and "_build" not in p.parts)


def test_pages_are_found() -> None:
    assert DOCS / "getting_started.rst" in PAGES


@pytest.mark.parametrize("page", [p for p in PAGES if ">>>" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_doctests_pass(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = doctest.testfile(str(page), module_relative=False, verbose=False,
                               optionflags=doctest.ELLIPSIS)
    assert outcome.attempted > 0 and outcome.failed == 0


def _commands(page: Path) -> list[list[str]]:
    """``gametools ...`` lines of the page's literal blocks (comments dropped)."""
    return [line.split("#")[0].split() for line in page.read_text(encoding="utf-8").splitlines()
            if line.startswith("    gametools ")]


def test_getting_started_commands_run_as_written(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from gametools.cli import main

    page = DOCS / "getting_started.rst"
    commands = _commands(page)
    assert [argv[1] for argv in commands] == ["solve", "exploit", "solve", "games"]
    monkeypatch.chdir(tmp_path)
    # the page's prose runs `gametools examples --copy .` first
    assert "``gametools examples --copy .``" in page.read_text(encoding="utf-8")
    assert main(["examples", "--copy", "."]) == 0
    outputs = []
    for argv in commands:
        capsys.readouterr()
        assert main(argv[1:]) == 0, argv
        outputs.append(capsys.readouterr().out)
    # the output the page shows is what `solve game.nfg --all` prints (von Stengel's 3x2 game:
    # the equilibrium (4/5, 1/5, 0), (2/3, 1/3) with payoffs 3 and 14/5)
    shown = re.search(r"prints one table per equilibrium.*?::\n\n(.*?)\n\n",
                      page.read_text(encoding="utf-8"), flags=re.S)
    assert shown is not None
    for line in shown.group(1).splitlines():
        assert line.strip() in {row.strip() for row in outputs[0].splitlines()}, line
