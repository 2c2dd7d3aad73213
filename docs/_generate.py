"""Pages the docs build writes from the code: CLI reference, one page per scenario, the gallery.

Called from ``conf.py`` on every build, so these pages cannot drift from the code: the CLI
reference is argparse's own help, the scenario pages are the registry's parameters and closed
forms plus each module's docstring, and the gallery's figures are drawn by running its scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import runpy
import textwrap
from pathlib import Path
from typing import Any


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:  # unchanged pages keep their timestamps
        path.write_text(text)


def _heading(text: str, mark: str) -> str:
    return f"{text}\n{mark * len(text)}\n"


def _literal(text: str) -> str:
    return "::\n\n" + textwrap.indent(text.rstrip(), "    ") + "\n"


def cli_page(out: Path) -> None:
    from gametools.cli import build_parser

    parser = build_parser()
    lines = [_heading("Command-line reference", "="), "",
             "Generated from the ``gametools`` argument parser on every docs build.", "",
             _heading("gametools", "-"), "", _literal(parser.format_help()), ""]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        lines += [_heading(f"gametools {name}", "-"), "", _literal(sub.format_help()), ""]
    _write(out / "cli.rst", "\n".join(lines))


def _cell(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text.replace("|", "/") or " "


def scenario_pages(out: Path) -> list[str]:
    from gametools.scenarios import available_scenarios

    names = []
    for name, scenario in available_scenarios().items():
        builder = getattr(scenario.builder, "func", scenario.builder)  # functools.partial
        module = builder.__module__
        lines = [f".. _scenario-{name}:", "", _heading(f"``{name}``", "="), "",
                 scenario.description, "",
                 f"Solve it with ``gametools solve {name}``; built by ``{module}.{builder.__name__}``.",
                 ""]
        if scenario.parameters:
            lines += [".. list-table:: Parameters (``--param name=value``)", "   :header-rows: 1",
                      "", "   * - name", "     - default", "     - range", "     - meaning"]
            for p in scenario.parameters:
                lines += [f"   * - ``{p.name}``", f"     - ``{p.default!r}``",
                          f"     - {_cell(p.range_text())}", f"     - {_cell(p.description)}"]
            lines.append("")
        if scenario.reference is not None:
            try:
                reference = scenario.reference(**scenario.resolve())
            except Exception as error:  # noqa: BLE001 - a page says why, the build goes on
                reference = {"(not computed)": str(error)}
            lines += [_heading("Closed form at the default parameters", "-"), "",
                      ".. list-table::", "   :header-rows: 1", "", "   * - statistic",
                      "     - value"]
            for key, value in reference.items():
                lines += [f"   * - ``{key}``", f"     - ``{_cell(value)}``"]
            lines.append("")
        lines += [_heading("Model, closed form and references", "-"), "",
                  f".. automodule:: {module}", "   :no-members:", "   :no-index:", ""]
        _write(out / "scenarios" / f"{name}.rst", "\n".join(lines))
        names.append(name)
    index = [_heading("Scenarios", "="), "",
             ("One page per registered scenario (``gametools games`` lists them): its "
              "parameters, its closed form where one exists, and the model with its references "
              "from the module's documentation."), "", ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {name}" for name in names]
    _write(out / "scenarios" / "index.rst", "\n".join(index) + "\n")
    return names


def gallery(source: Path, out: Path) -> None:
    """Run every ``gallery/*.py`` (each saves ``FIGURE``) and write a page per script."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # the docs build only, never the library
    import matplotlib.pyplot as plt

    entries = []
    for script in sorted((source / "gallery").glob("*.py")):
        figure = out / "gallery" / f"{script.stem}.png"
        figure.parent.mkdir(parents=True, exist_ok=True)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            namespace = runpy.run_path(str(script), init_globals={"FIGURE": figure},
                                       run_name="__gallery__")
        plt.close("all")
        title = (namespace.get("__doc__") or script.stem).strip().splitlines()[0]
        page = [_heading(title, "="), "",
                f".. literalinclude:: ../../gallery/{script.name}", "   :language: python", "",
                "Output (printed when the docs were built)::", "",
                textwrap.indent(printed.getvalue().rstrip() or "(nothing)", "    "), "",
                f".. image:: {figure.name}", f"   :alt: {title}", ""]
        _write(out / "gallery" / f"{script.stem}.rst", "\n".join(page))
        entries.append(script.stem)
    index = [_heading("Gallery", "="), "",
             ("Finance examples, executed by every docs build (the figures below are drawn by "
              "it)."), "", ".. toctree::", "   :maxdepth: 1", ""] + [f"   {e}" for e in entries]
    _write(out / "gallery" / "index.rst", "\n".join(index) + "\n")


def generate(source: Path) -> None:
    out = source / "_generated"
    cli_page(out)
    scenario_pages(out)
    gallery(source, out)
