"""The tutorial notebooks run top to bottom (each in a fresh kernel, in a temporary folder), show
their figures inline, and are committed with the outputs of such a run (GitHub and nbviewer show
them without running anything; the docs gallery runs its own scripts, not these notebooks)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs nbformat (dev extra)")
nbclient = pytest.importorskip("nbclient", reason="needs nbclient (dev extra)")
pytest.importorskip("ipykernel", reason="needs ipykernel (dev extra)")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: Seconds per cell; every notebook runs in well under a minute on two cores.
CELL_TIMEOUT = 180

NAMES = ("01_solve_and_certify", "02_train_and_exploit", "03_reproduce_figure")


def test_every_notebook_is_listed() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_executed(name: str) -> None:
    # executed top to bottom in one kernel: execution counts 1, 2, ..., no errors, and small
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.get("execution_count") for cell in code] == list(range(1, len(code) + 1))
    assert not [output for cell in code for output in cell.get("outputs", [])
                if output.get("output_type") == "error"]
    assert (NOTEBOOKS / f"{name}.ipynb").stat().st_size < 200_000


def _shows_image(cell: dict) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", [])
               if output.get("output_type") in ("display_data", "execute_result"))


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name: str, tmp_path: Path) -> None:
    if name.startswith("03") and importlib.util.find_spec("gametools.studies") is None:
        pytest.skip("gametools.studies not available")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    # every figure drawn with plt.show() appears inline: importing gametools.plotting (and the
    # analyses) kept the kernel's inline backend (issue: a matplotlib.use("Agg") at import
    # made notebook 03's second figure vanish)
    shown = [cell for cell in notebook.cells if cell.cell_type == "code"
             and "plt.show()" in cell.source]
    assert all(_shows_image(cell) for cell in shown)
    assert bool(shown) == (name != "01_solve_and_certify")


def execute_in_place(names: tuple[str, ...] = NAMES) -> None:
    """Run every notebook in a fresh kernel in a temporary folder and save it with its outputs.

    ``python tests/test_notebooks.py`` after editing a notebook (from the repository root, with
    the package importable); the files the notebooks write stay in the temporary folder.
    """
    import tempfile

    for name in names:
        path = NOTEBOOKS / f"{name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as folder:
            nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                    record_timing=False,
                                    resources={"metadata": {"path": folder}}).execute()
        nbformat.write(notebook, path)
        print(f"{path}: executed, {path.stat().st_size} bytes")


if __name__ == "__main__":
    execute_in_place()
