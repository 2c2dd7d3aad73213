"""The tutorial notebooks run top to bottom (each in a fresh kernel, in a temporary folder)."""

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
