"""Study runner (gametools.studies): keys, skip, resume, manifest, backends, registry, figures.

A tiny synthetic study runs once per module (two spawned workers): four "call" cells whose rows
are known in closed form and one short MAPPO "train" cell on a tiny Kyle grid (which has a
``summarize`` and a ``reference``, so the final row carries lambda / beta columns). The other
tests rerun it into copies of that folder.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gametools.studies import (
    ROW_KEYS,
    Cell,
    Study,
    StudyError,
    available_studies,
    get_study,
    read_results,
    run_from_cli,
    run_study,
)

# ------------------------------------------------------------------------------------------
# the tiny study (module-level functions: worker processes import this module by name)
# ------------------------------------------------------------------------------------------

TINY_KYLE = {"n_values": 2, "n_orders": 3, "n_flows": 3, "n_prices": 3}
TINY_MAPPO = {"total_steps": 2048, "num_envs": 32, "rollout_steps": 8, "eval_interval": 512,
              "checkpoint_interval": 1024, "learning_rate": 3e-3}
THIS = __name__


def square_rows(cell: Cell, out: Path) -> list[dict[str, Any]]:
    """Rows ``value = x^2 + step / 10`` for steps 0 and 1; counts its calls in ``calls.txt``."""
    with open(out / "calls.txt", "a") as stream:
        stream.write("call\n")
    x = cell.params["x"]
    return [{"step": step, "value": x * x + step / 10, "third": 1 / 3, "wall_time": 1.0}
            for step in (1, 0)]


def failing_rows(cell: Cell, out: Path) -> list[dict[str, Any]]:
    raise RuntimeError("this cell fails on purpose")


def tiny_cells(quick: bool) -> list[Cell]:
    grid = [Cell("call", "", "square", seed=seed, params={"x": x}, label=f"x={x}",
                 function=f"{THIS}:square_rows") for x in (2, 1) for seed in (1, 0)]
    grid.append(Cell("train", "kyle", "mappo", seed=3, params=TINY_KYLE, config=TINY_MAPPO))
    return grid[:1] + grid[-1:] if quick else grid


def tiny_figures(rows: Any, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from gametools.plotting import plot_exploitability_curves, save_figure

    fig, ax = plt.subplots()
    plot_exploitability_curves([r for r in rows if r["algorithm"] == "mappo"], ax=ax)
    written = save_figure(fig, out / "curves")
    plt.close(fig)
    return written


def tiny_summary(rows: Any) -> dict[str, Any]:
    return {"rows": len(rows)}


TINY = Study("tiny", "a synthetic study for the tests", tiny_cells, tiny_figures, tiny_summary)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("study") / "tiny"
    return run_study(TINY, out=out, workers=2, progress=False)


def copy_of(result: Any, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(result.out, target)
    return target


# ------------------------------------------------------------------------------------------
# cells
# ------------------------------------------------------------------------------------------

def test_cell_keys_are_stable_distinct_and_filesystem_safe() -> None:
    base = {"task": "train", "scenario": "kyle", "algorithm": "mappo", "seed": 1,
            "params": {"n_values": 3}, "config": {"total_steps": 10}}
    key = Cell(**base).key
    assert key == Cell(**dict(base, params={"n_values": 3})).key
    changed = [dict(base, seed=2), dict(base, params={"n_values": 4}), dict(base, label="a"),
               dict(base, config={"total_steps": 11}), dict(base, algorithm="maddpg")]
    keys = {Cell(**c).key for c in changed} | {key}
    assert len(keys) == len(changed) + 1
    weird = Cell("call", "", "x/y", function="m:f", label="a b/../c: d")
    assert all(ch.isalnum() or ch in "._=+-" for ch in weird.key)
    assert key.startswith("train-kyle-mappo-s1-")


@pytest.mark.parametrize("fields, message", [
    ({"task": "fit"}, "task"),
    ({"task": "train", "scenario": "kyle"}, "algorithm"),
    ({"task": "call", "function": "no_colon"}, "module:function"),
    ({"task": "call", "function": "m:f", "seed": 1.5}, "seed"),
    ({"task": "call", "function": "m:f", "params": {"x": object()}}, "params"),
])
def test_malformed_cells_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(StudyError, match=message):
        Cell(**fields)


def test_duplicate_cells_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    cell = Cell("call", function=f"{THIS}:square_rows", params={"x": 1})
    twice = Study("twice", "", lambda quick: [cell, cell], tiny_figures)
    with pytest.raises(StudyError, match="appears twice"):
        run_study(twice, out=tmp_path, progress=False)
    with pytest.raises(StudyError, match="backend"):
        run_study(TINY, out=tmp_path, backend="dask", progress=False)  # type: ignore[arg-type]
    with pytest.raises(StudyError, match="workers"):
        run_study(TINY, out=tmp_path, workers=0, progress=False)


# ------------------------------------------------------------------------------------------
# a first run: rows, files, manifest, figures
# ------------------------------------------------------------------------------------------

def test_rows_are_tidy_sorted_and_free_of_wall_times(first_run: Any) -> None:
    rows = first_run.rows
    assert first_run.ran == 5 and first_run.skipped == 0
    header = first_run.results.read_text().splitlines()[0].split(",")
    assert header[:len(ROW_KEYS)] == list(ROW_KEYS) and "wall_time" not in header
    keys = [(r["scenario"], r["algorithm"], r["label"], r["seed"], r["step"]) for r in rows]
    assert keys == sorted(keys)
    calls = [r for r in rows if r["algorithm"] == "square"]
    assert len(calls) == 8
    for row in calls:
        x = int(row["label"].split("=")[1])
        # closed form of square_rows, exact after the CSV round trip (repr is exact)
        assert row["value"] == x * x + row["step"] / 10 and row["third"] == 1 / 3
    trained = [r for r in rows if r["algorithm"] == "mappo"]
    assert [r["step"] for r in trained] == [0, 512, 1024, 1536, 2048]
    assert all(r["kind"] == "exact" and r["nash_conv"] >= 0 for r in trained)
    # the scenario's statistics of the final policy, and Kyle's closed form (lambda = 1/2,
    # beta = 1 for unit variances, Kyle 1985 Thm 1), sit on the final row only
    assert trained[-1]["reference_lambda"] == 0.5 and trained[-1]["reference_beta"] == 1.0
    assert np.isfinite(trained[-1]["lambda"]) and trained[-1]["lambda"] is not None
    assert all(r["lambda"] is None for r in trained[:-1])
    np.testing.assert_equal(read_results(first_run.results), list(rows))  # nan == nan here


def test_cell_folders_hold_outputs_and_done_markers(first_run: Any) -> None:
    for cell in tiny_cells(False):
        folder = first_run.out / "cells" / cell.key
        done = json.loads((folder / "done.json").read_text())
        assert done["key"] == cell.key and done["wall_time"] >= 0
        assert (folder / "rows.csv").exists()
        if cell.task == "train":
            for name in ("metrics.csv", "checkpoint.pt", "game.npz", "policy.npz",
                         "result.json"):
                assert (folder / name).exists(), name
        else:
            assert (folder / "calls.txt").read_text() == "call\n"


def test_manifest_records_the_run(first_run: Any) -> None:
    manifest = json.loads(first_run.manifest.read_text())
    assert manifest["study"] == "tiny" and manifest["quick"] is False
    assert manifest["backend"] == "local" and manifest["workers"] == 2
    assert {"gametools", "numpy", "scipy", "torch", "matplotlib", "python"} <= set(
        manifest["versions"])
    cells = {c["key"]: c for c in manifest["cells"]}
    assert set(cells) == {c.key for c in tiny_cells(False)}
    assert sorted(c["seed"] for c in cells.values()) == [0, 0, 1, 1, 3]
    assert all(c["status"] == "ran" and c["wall_time"] >= 0 for c in cells.values())
    assert manifest["wall_time"] >= manifest["cell_wall_time"] / 2 > 0
    assert manifest["ran"] == 5 and manifest["rows"] == len(first_run.rows)
    assert json.loads((first_run.out / "summary.json").read_text()) == {"rows": 13}


def test_figures_are_written(first_run: Any) -> None:
    names = sorted(p.name for p in first_run.figures)
    assert names == ["curves.pdf", "curves.png"]
    assert all(p.exists() and p.stat().st_size > 1000 for p in first_run.figures)


# ------------------------------------------------------------------------------------------
# reruns: skip, recompute, resume
# ------------------------------------------------------------------------------------------

def test_rerun_executes_nothing_and_gives_identical_results(first_run: Any,
                                                            tmp_path: Path) -> None:
    out = copy_of(first_run, tmp_path)
    again = run_study(TINY, out=out, workers=2, progress=False)
    assert (again.ran, again.skipped) == (0, 5)
    assert again.results.read_bytes() == first_run.results.read_bytes()
    for cell in tiny_cells(False)[:4]:
        assert (out / "cells" / cell.key / "calls.txt").read_text() == "call\n"  # not called
    assert all(c["status"] == "skipped" for c in
               json.loads(again.manifest.read_text())["cells"])


def test_missing_done_marker_reruns_only_that_cell(first_run: Any, tmp_path: Path) -> None:
    out = copy_of(first_run, tmp_path)
    call, train = tiny_cells(False)[0], tiny_cells(False)[-1]
    checkpoint = out / "cells" / train.key / "checkpoint.pt"
    before = checkpoint.stat().st_mtime_ns
    for cell in (call, train):
        (out / "cells" / cell.key / "done.json").unlink()
    again = run_study(TINY, out=out, workers=1, progress=False)
    assert (again.ran, again.skipped) == (2, 3)
    assert again.results.read_bytes() == first_run.results.read_bytes()
    assert (out / "cells" / call.key / "calls.txt").read_text() == "call\ncall\n"
    # the finished training run (result.json present) is read back, not trained again
    assert checkpoint.stat().st_mtime_ns == before


class Interrupted(Exception):
    pass


def kill_training(cell: Cell, folder: Path, at_iteration: int) -> None:
    """Run the cell's training into ``folder`` and die during iteration ``at_iteration``."""
    import torch

    from gametools.marl import train as train_module
    from gametools.marl.train import make_config, train

    torch.set_num_threads(1)
    original = train_module.learner_class

    def interrupted(algorithm: str) -> Any:
        class Killed(original(algorithm)):  # type: ignore[misc]
            calls = 0

            def iterate(self) -> dict[str, float]:
                Killed.calls += 1
                if Killed.calls == at_iteration:
                    raise Interrupted
                return super().iterate()

        return Killed

    train_module.learner_class = interrupted  # this is a throw-away worker process
    try:
        train(cell.scenario, make_config(cell.algorithm, **cell.config),
              algorithm=cell.algorithm, seed=cell.seed, params=cell.params, out=folder,
              resume=True)
    except Interrupted:
        return
    raise AssertionError("the training run was not interrupted")


def test_killed_training_cell_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    from gametools.studies import _SINGLE_THREAD_ENV, _environment

    cell = Cell("train", "kyle", "mappo", seed=3, params=TINY_KYLE, config=TINY_MAPPO)
    study = Study("one", "", lambda quick: [cell], lambda rows, out: [])
    whole = run_study(study, out=tmp_path / "whole", progress=False)
    # kill the cell's training run during its sixth of eight iterations (32 envs x 8 steps
    # each), after the checkpoint at 1024 steps, in a worker process set up as the runner's
    folder = tmp_path / "killed" / "cells" / cell.key
    with _environment(_SINGLE_THREAD_ENV), ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(kill_training, cell, folder, 6).result()
    # mark the checkpointed rows, so the resumed run shows it continued from them
    checkpoint = folder / "checkpoint.pt"
    document = torch.load(checkpoint, weights_only=True)
    assert document["steps"] == 1024 and not (folder / "done.json").exists()
    for row in document["metrics"]:
        row["wall_time"] = 1e6
    document["wall_time"] = 1e6
    torch.save(document, checkpoint)

    resumed = run_study(study, out=tmp_path / "killed", progress=False)
    assert resumed.ran == 1
    metrics = read_results(folder / "metrics.csv")
    assert [r["wall_time"] == 1e6 for r in metrics] == [True, True, True, False, False]
    assert all(r["wall_time"] > 1e6 for r in metrics[3:])  # elapsed time continued
    assert resumed.results.read_bytes() == whole.results.read_bytes()


def test_failed_cell_is_reported_and_others_are_kept(tmp_path: Path) -> None:
    good = Cell("call", function=f"{THIS}:square_rows", params={"x": 1})
    bad = Cell("call", function=f"{THIS}:failing_rows", label="bad")
    study = Study("mixed", "", lambda quick: [good, bad], lambda rows, out: [])
    with pytest.raises(StudyError, match=f"{bad.key}.*fails on purpose"):
        run_study(study, out=tmp_path, workers=1, progress=False)
    assert (tmp_path / "cells" / good.key / "done.json").exists()
    assert not (tmp_path / "results.csv").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    status = {c["key"]: (c["status"], c["error"]) for c in manifest["cells"]}
    assert status[good.key] == ("ran", None)
    assert status[bad.key][0] == "failed" and "fails on purpose" in status[bad.key][1]


# ------------------------------------------------------------------------------------------
# backends
# ------------------------------------------------------------------------------------------

def test_ray_backend_gives_byte_identical_results(first_run: Any, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'gametools[ray]')")
    try:
        result = run_study(TINY, out=tmp_path / "ray", backend="ray", workers=2,
                           progress=False)
    except StudyError as exc:
        if "could not start" in str(exc):
            pytest.skip(f"a local Ray instance cannot start in this sandbox: {exc}")
        raise
    assert result.ran == 5
    assert result.results.read_bytes() == first_run.results.read_bytes()
    assert json.loads(result.manifest.read_text())["backend"] == "ray"


def test_missing_ray_gives_install_instructions(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(StudyError, match=r"pip install 'gametools\[ray\]'"):
        run_study(TINY, out=tmp_path, backend="ray", progress=False)
    assert not (tmp_path / "cells").exists()  # refused before any work


# ------------------------------------------------------------------------------------------
# registry and command line
# ------------------------------------------------------------------------------------------

class FakeEntryPoint:
    name = "tests"

    def load(self) -> tuple[Study, ...]:
        return (TINY,)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    from gametools import _registry, studies

    monkeypatch.setattr(_registry, "entry_points", lambda group: [FakeEntryPoint()]
                        if group == studies.ENTRY_POINT_GROUP else [])


def test_unknown_study_lists_the_available_ones(registered: None) -> None:
    assert list(available_studies()) == ["tiny"]
    assert get_study("tiny") is TINY
    with pytest.raises(StudyError, match="unknown study 'nope'; available: tiny"):
        get_study("nope")


def test_cli_runs_and_lists(registered: None, first_run: Any, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = copy_of(first_run, tmp_path)
    assert run_from_cli("tiny", out=str(out), json=True) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["skipped"] == 5 and document["results"] == str(out / "results.csv")
    assert run_from_cli(None, list_studies=True) == 0
    assert capsys.readouterr().out.startswith("tiny: a synthetic study")
    with pytest.raises(StudyError, match="unknown study"):
        run_from_cli("nope")


def test_cli_says_what_it_runs(registered: None, first_run: Any, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = copy_of(first_run, tmp_path)
    victim = sorted((out / "cells").iterdir())[0]
    (victim / "done.json").unlink()  # its result files stay: rerunning it only rereads them
    assert run_from_cli("tiny", out=str(out), workers=1) == 0
    captured = capsys.readouterr()
    # stderr is not a terminal here: a header, then one line per finished cell (no bar)
    lines = captured.err.splitlines()
    assert lines[0] == (f"tiny: 1 of 5 cells to run (4 already done) on 1 local worker; "
                        f"output in {out}")
    assert lines[1].startswith(f"  [5/5] {victim.name}: ran (") and len(lines) == 2
    assert captured.out.startswith("study tiny: 1 cells run, 4 already done")


# ------------------------------------------------------------------------------------------
# plotting functions the studies compose
# ------------------------------------------------------------------------------------------

def test_exploitability_curves_draw_mean_and_t_interval() -> None:
    import matplotlib.pyplot as plt

    from gametools.plotting import paper_style, plot_exploitability_curves

    rows = [{"algorithm": "a", "seed": s, "step": step, "nash_conv": value}
            for s, values in enumerate(([10.0, 1.0], [12.0, 1.0], [14.0, 1.0], [16.0, 1.0],
                                        [18.0, 1.0]))
            for step, value in zip((0, 100), values)]
    with paper_style():
        logged = plot_exploitability_curves(rows)
        ax = plot_exploitability_curves(rows, log=False)
    assert logged.get_xlabel() == "environment steps" and logged.get_ylabel() == "NashConv"
    assert logged.get_yscale() == "log" and ax.get_yscale() == "linear"
    # on the log axis the line is the geometric mean: (10 * 12 * 14 * 16 * 18) ** (1/5)
    np.testing.assert_allclose(logged.get_lines()[0].get_ydata(), [483840 ** 0.2, 1.0])
    plt.close(logged.figure)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), [14.0, 1.0])
    # 95% Student-t interval of the mean of five seeds (10, 12, 14, 16, 18):
    # 14 +- t(0.975, 4) * sqrt(10) / sqrt(5), t(0.975, 4) = 2.776 (standard t table):
    # [10.074, 17.926]
    vertices = ax.collections[0].get_paths()[0].vertices
    at_zero = vertices[np.isclose(vertices[:, 0], 0.0), 1]
    assert at_zero.min() == pytest.approx(10.074, abs=2e-3)
    assert at_zero.max() == pytest.approx(17.926, abs=2e-3)
    plt.close(ax.figure)


def test_estimates_vs_theory_marks_theory_from_reference_columns() -> None:
    import matplotlib.pyplot as plt

    from gametools.plotting import plot_estimates_vs_theory

    rows = [{"algorithm": "a", "seed": s, "lambda": 0.4 + 0.1 * s, "beta": 1.2,
             "reference_lambda": 0.5, "reference_beta": 1.0} for s in range(3)]
    ax = plot_estimates_vs_theory(rows, names={"lambda": "λ"})
    # quantities with different units get one panel each, labelled by the estimate's name
    panels = ax.child_axes
    assert [panel.get_ylabel() for panel in panels] == ["λ", "beta"]
    # the theory mark of each panel is a dashed horizontal line at the rows' reference column
    for panel, expected in zip(panels, (0.5, 1.0)):
        levels = [float(line.get_ydata()[0]) for line in panel.get_lines()
                  if line.get_linestyle() == "--"]
        assert levels == [expected]
    plt.close(ax.figure)


# ------------------------------------------------------------------------------------------
# the Kyle study's grid and figures (the study itself is run by the slow test below)
# ------------------------------------------------------------------------------------------

def test_kyle_study_grid_is_valid() -> None:
    from analyses.kyle_study import STUDY
    from gametools.marl.train import make_config

    # five seeds in both modes: the fewest from which figures draw t-intervals
    for quick, seeds in ((True, 5), (False, 5)):
        cells = STUDY.cells(quick)
        trained = [c for c in cells if c.algorithm in ("mappo", "maddpg")]
        assert {c.algorithm for c in trained} == {"mappo", "maddpg"}
        # MADDPG cells train, then measure the actors in the continuous game
        assert all(c.function == "analyses.kyle_study:maddpg_rows"
                   for c in trained if c.algorithm == "maddpg")
        assert len({c.seed for c in trained}) == seeds
        assert len({c.key for c in cells}) == len(cells)
        for cell in trained:
            make_config(cell.algorithm, **cell.config)  # every field name is a real field


def test_kyle_reference_cell_runs_and_matches_the_closed_form(tmp_path: Path) -> None:
    # the study's "theory (on the grid)" cell, run as the demo runs it: numeric rows only (the
    # scenario summary also holds notes), and Kyle's (1985) closed form at sigma_v = sigma_u = 1:
    # lambda = sigma_v / (2 sigma_u) = 0.5, beta = sigma_u / sigma_v = 1
    from analyses.kyle_study import REFERENCE, STUDY, reference_rows

    cell = next(c for c in STUDY.cells(True) if c.algorithm == REFERENCE)
    (row,) = reference_rows(cell, tmp_path)
    assert all(isinstance(v, (int, float, str)) for v in row.values())
    assert all(isinstance(v, float) for k, v in row.items() if k.startswith("reference_"))
    assert row["reference_lambda"] == pytest.approx(0.5)
    assert row["reference_beta"] == pytest.approx(1.0)
    assert row["nash_conv"] >= 0.0 and row["kind"] == "exact"


def test_kyle_figures_from_synthetic_rows(tmp_path: Path) -> None:
    from analyses.kyle_study import REFERENCE, STUDY

    rows = [{"scenario": "kyle", "algorithm": algorithm, "label": "", "seed": seed,
             "step": step, "cell": "c", "nash_conv": 1.0 / (1 + step),
             "lambda": 0.4 if step == 10 else None, "beta": 1.1 if step == 10 else None,
             "reference_lambda": 0.5, "reference_beta": 1.0}
            for algorithm in ("mappo", "maddpg") for seed in (0, 1) for step in (0, 10)]
    for row in rows:
        if row["algorithm"] == "maddpg" and row["step"] == 10:
            row["continuum_nash_conv"] = 0.02 * (1 + row["seed"])
    rows.append({"scenario": "kyle", "algorithm": REFERENCE, "label": "", "seed": 0,
                 "step": 0, "cell": "r", "nash_conv": 3e-4, "lambda": 0.504, "beta": 1.05,
                 "reference_lambda": 0.5, "reference_beta": 1.0})
    written = STUDY.figures(rows, tmp_path)
    assert sorted(p.name for p in written) == ["kyle_estimates.pdf", "kyle_estimates.png",
                                               "kyle_nash_conv.pdf", "kyle_nash_conv.png"]
    summary = STUDY.summarize(rows)  # type: ignore[misc]
    assert summary["mappo"]["seeds"] == 2 and summary["mappo"]["lambda"]["mean"] == 0.4
    assert summary["maddpg"]["continuum_nash_conv"]["mean"] == pytest.approx(0.03)
    assert "continuum_nash_conv" not in summary["mappo"]


def test_kyle_maddpg_cell_adds_the_continuous_game_nash_conv(tmp_path: Path) -> None:
    # a tiny MADDPG cell of the study: grid rows as a train cell writes them, and on the last
    # row the exact NashConv of the same actors in the continuous game (no grid), which equals
    # the insider's and the market maker's gains summed (the definition of NashConv)
    from analyses.kyle_study import PARAMS, maddpg_rows

    cell = Cell("call", "kyle", "maddpg", seed=0, params=PARAMS,
                config={"total_steps": 200, "eval_interval": 200, "learning_starts": 100,
                        "batch_size": 32}, function="analyses.kyle_study:maddpg_rows")
    rows = maddpg_rows(cell, tmp_path)
    last = rows[-1]
    assert last["step"] >= 200 and last["kind"] == "exact"  # whole batches of environments
    assert last["continuum_nash_conv"] >= 0.0
    assert last["continuum_nash_conv"] == pytest.approx(
        last["continuum_gain_0"] + last["continuum_gain_1"], abs=1e-12)
    assert last["continuum_quadrature_error"] < 1e-3
    assert all("continuum_nash_conv" not in r for r in rows[:-1])


@pytest.mark.slow
def test_quick_kyle_study_lowers_nash_conv(tmp_path: Path) -> None:
    from analyses.kyle_study import STUDY

    result = run_study(STUDY, out=tmp_path, quick=True, progress=False)
    # the untrained networks' policies (step 0) have NashConv about 2.33 on the default grids
    assert all(result.summary[a]["nash_conv"]["mean"] < 1.0 for a in ("mappo", "maddpg"))


# ------------------------------------------------------------------------------------------
# reliability: damaged cells, concurrent runs, bad arguments, unreachable clusters
# ------------------------------------------------------------------------------------------

def call_only_cells(quick: bool) -> list[Cell]:
    return tiny_cells(False)[:2]


CALLS = Study("calls", "call cells only", call_only_cells, lambda rows, out: [], None)


def test_damaged_rows_csv_of_a_finished_cell_is_rerun(tmp_path: Path) -> None:
    out = tmp_path / "study"
    first = run_study(CALLS, out=out, workers=1, progress=False)
    cell = call_only_cells(False)[0]
    rows = out / "cells" / cell.key / "rows.csv"
    text = rows.read_text()
    for damage in (b"no,columns\n1,2\n", text[:len(text) - 30].encode()):  # garbage, truncated
        rows.write_bytes(damage)
        again = run_study(CALLS, out=out, workers=1, progress=False)
        assert (again.ran, again.skipped) == (1, 1)
        assert again.results.read_bytes() == first.results.read_bytes()


def test_read_results_of_a_garbled_file_is_a_study_error(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("scenario,algorithm\nkyle\n")
    with pytest.raises(StudyError, match="malformed CSV: line 2"):
        read_results(path)


def test_second_run_into_a_folder_in_use_is_refused_with_the_pid(tmp_path: Path) -> None:
    import os

    from gametools._io import FolderInUseError, folder_lock

    out = tmp_path / "study"
    with folder_lock(out), pytest.raises(FolderInUseError, match=f"pid {os.getpid()}"):
        run_study(CALLS, out=out, workers=1, progress=False)
    # released afterwards, and stale temporary files of a killed writer are cleaned
    stale = out / "cells" / ".rows.csv.abc12345.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("half a file")
    run_study(CALLS, out=out, workers=1, progress=False)
    assert not stale.exists()


def test_list_with_a_study_name_is_an_error(registered: None) -> None:
    with pytest.raises(StudyError, match="--list takes no study name"):
        run_from_cli("extra", list_studies=True)


@pytest.mark.parametrize("workers", [99999999999999999999, 10**6])
def test_absurd_worker_counts_are_refused(tmp_path: Path, workers: int) -> None:
    from gametools.errors import ResourceLimitError

    with pytest.raises(ResourceLimitError, match="max_workers"):
        run_study(CALLS, out=tmp_path / "s", workers=workers, progress=False)


def test_ray_address_that_does_not_answer_fails_fast() -> None:
    import socket

    from gametools.studies import _probe_ray_address

    with socket.socket() as server:  # a port that is bound but never accepts: nothing answers
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
    with pytest.raises(StudyError, match="no Ray cluster answers"):
        _probe_ray_address(f"127.0.0.1:{port}", timeout=2.0)


def test_unreachable_ray_address_leaves_no_output_folder(tmp_path: Path) -> None:
    import socket

    with socket.socket() as server:  # bound, never accepting, closed: nothing answers there
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
    out = tmp_path / "never"
    with pytest.raises(StudyError, match="no Ray cluster answers"):
        run_study(TINY, out=out, backend="ray", address=f"127.0.0.1:{port}", progress=False)
    assert not out.exists()


def test_a_run_refused_before_writing_leaves_no_folder_and_keeps_existing_ones(
        tmp_path: Path) -> None:
    from gametools._io import folder_lock

    fresh = tmp_path / "runs" / "game-algo" / "seed0"
    with pytest.raises(ValueError), folder_lock(fresh):
        raise ValueError("refused before any output")
    assert not (tmp_path / "runs").exists()  # every folder the lock created is gone again

    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(ValueError), folder_lock(kept / "seed0"):
        raise ValueError("refused")
    assert kept.is_dir() and not (kept / "seed0").exists()  # the user's own folder stays

    written = tmp_path / "written"
    with pytest.raises(ValueError), folder_lock(written) as folder:
        (folder / "checkpoint.pt").write_bytes(b"partial")
        raise ValueError("failed after writing")
    assert (written / "checkpoint.pt").is_file()  # output is never removed
