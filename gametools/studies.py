"""Reproducible studies: a grid of cells -> tidy results -> figures, on local processes or Ray.

A *study* is a named grid of :class:`Cell` objects (scenario x algorithm x seed x settings) and a
function that draws figures from the tidy rows the cells produce. :func:`run_study` runs the
cells that are not finished yet, in parallel, and writes::

    out/cells/<key>/          one folder per cell: training outputs (metrics.csv, checkpoint.pt,
                              game.npz, policy.npz, result.json), rows.csv, and done.json last
    out/results.csv           every row, sorted by scenario, algorithm, label, seed, step
    out/figures/*.pdf|png     the study's figures
    out/summary.json          the study's summary tables (when it defines ``summarize``)
    out/manifest.json         study, quick flag, backend, package versions, per-cell wall times

Definitions
-----------
- A *cell* is one unit of work with a stable key derived from all its fields, so a rerun finds
  its folder again. Task ``"train"`` trains ``algorithm`` on ``scenario`` with
  :func:`gametools.marl.train.train`; task ``"call"`` runs ``function(cell, out_dir)`` (named
  ``"module:function"``), which returns its own rows.
- A *row* is one measurement: ``scenario, algorithm, label, seed, step, cell`` plus metric
  columns. A train cell's rows are its ``metrics.csv`` rows (``step``, ``return_i``,
  ``nash_conv``, ``gain_i``, ``kind``); the final row also carries the scenario's
  ``summarize`` statistics of the final policy (e.g. Kyle's ``lambda``, ``beta``) and its
  closed-form ``reference`` values prefixed ``reference_`` (e.g. ``reference_lambda``).
- Wall times go to the manifest and the per-cell files only, never to ``results.csv``: the same
  study with the same seeds gives a byte-identical ``results.csv`` on every backend.

Reruns skip cells whose ``done.json`` exists; a cell killed during training resumes from its
checkpoint (``train(..., resume=True)``, which is exact on CPU).

Backends: ``"local"`` runs cells in a ``spawn`` process pool (``workers`` processes, default
``min(2, cpu_count)``), each cell single-threaded (torch, BLAS, OpenMP); ``"ray"``
runs them as Ray tasks on ``ray.init(address=address)`` or on a local Ray instance with
``workers`` CPUs (``pip install 'gametools[ray]'``). On a multi-node Ray cluster ``out`` should
be on a shared file system; otherwise only the rows (not the training artefacts) come back.

Studies are found through the ``gametools.studies`` entry-point group, which holds sequences of
:class:`Study` objects (the project's own are ``analyses:STUDIES``).

Examples
--------
>>> from gametools.studies import Cell
>>> cell = Cell("train", "kyle", "mappo", seed=1, config={"total_steps": 20_000})
>>> cell.key  # doctest: +ELLIPSIS
'train-kyle-mappo-s1-...'
>>> cell.key == Cell("train", "kyle", "mappo", seed=1, config={"total_steps": 20_000}).key
True
>>> Cell("fit", "kyle")
Traceback (most recent call last):
...
gametools.studies.StudyError: Cell.task must be 'train' or 'call', got 'fit'
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import importlib
import io
import json
import math
import multiprocessing
import os
import platform
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from gametools._io import folder_lock
from gametools._registry import load_registered
from gametools.errors import GametoolsError
from gametools.limits import check

__all__ = ["ENTRY_POINT_GROUP", "ROW_KEYS", "Cell", "Study", "StudyError", "StudyResult",
           "available_studies", "get_study", "read_results", "run_from_cli", "run_study",
           "train_rows"]

ENTRY_POINT_GROUP = "gametools.studies"

#: Columns every row has, in this order, first in ``results.csv``.
ROW_KEYS = ("scenario", "algorithm", "label", "seed", "step", "cell")

#: Columns kept as text when rows are read back (everything else is parsed as a number).
_TEXT_COLUMNS = frozenset({"scenario", "algorithm", "label", "cell", "kind"})

#: Columns never written to ``results.csv`` (they differ between runs of the same study).
_VOLATILE_COLUMNS = frozenset({"wall_time"})

_TASKS = ("train", "call")
_DONE_FORMAT = 1


class StudyError(GametoolsError, ValueError):
    """Unknown study, malformed cell or study, unavailable backend, or failed cells."""


# ------------------------------------------------------------------------------------------
# cells and studies
# ------------------------------------------------------------------------------------------

def _canonical(value: Any, where: str) -> Any:
    """A JSON-ready copy of ``value`` (tuples become lists, numpy scalars Python numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, where) for k, v in sorted(value.items(), key=lambda kv:
                                                                 str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, where) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StudyError(f"{where}: non-finite number {value!r}")
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return _canonical(item(), where)
    raise StudyError(f"{where}: values must be numbers, strings, booleans or lists of them; got "
                     f"{type(value).__name__} {value!r}")


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("_")[:limit]


@dataclass(frozen=True)
class Cell:
    """One unit of work of a study grid, identified by a stable key.

    Attributes
    ----------
    task : {"train", "call"}
        ``"train"``: MARL training with :func:`gametools.marl.train.train`; ``"call"``: run
        ``function``.
    scenario : str
        Scenario name (:func:`gametools.scenarios.get_scenario`); ``""`` if not used.
    algorithm : str
        Key of :data:`gametools.marl.train.ALGORITHMS` for task ``"train"``; free text for
        ``"call"`` (copied into its rows).
    seed : int
    params : mapping
        Scenario parameters.
    config : mapping
        Learner config field overrides (``make_config(algorithm, **config)``).
    function : str
        Task ``"call"``: ``"module:function"``, run as ``function(cell, out_dir)``; it returns a
        list of row dicts (each with ``step``, 0 if none; a row may override ``scenario``,
        ``algorithm``, ``label`` and ``seed``).
    label : str
        Free text shown in tables and figures (e.g. ``"n_agents=3"``).
    """

    task: str
    scenario: str = ""
    algorithm: str = ""
    seed: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    function: str = ""
    label: str = ""
    _key: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if self.task not in _TASKS:
            raise StudyError(f"Cell.task must be 'train' or 'call', got {self.task!r}")
        for name in ("scenario", "algorithm", "function", "label"):
            if not isinstance(getattr(self, name), str):
                raise StudyError(f"Cell.{name} must be a string, got "
                                 f"{getattr(self, name)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            item = getattr(self.seed, "item", None)
            if callable(item) and isinstance(item(), int) and not isinstance(item(), bool):
                object.__setattr__(self, "seed", int(item()))
            else:
                raise StudyError(f"Cell.seed must be an integer, got {self.seed!r}")
        if self.task == "train" and (not self.scenario or not self.algorithm):
            raise StudyError("a 'train' cell needs a scenario and an algorithm")
        if self.task == "call":
            module, sep, name = self.function.partition(":")
            if not (module and sep and name):
                raise StudyError(f"a 'call' cell needs function='module:function', got "
                                 f"{self.function!r}")
        for name in ("params", "config"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise StudyError(f"Cell.{name} must be a mapping, got {value!r}")
            object.__setattr__(self, name, dict(value))  # a private copy: callers may mutate
        document = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha1(document.encode()).hexdigest()[:10]
        what = self.function.rpartition(":")[2] if self.task == "call" else ""
        parts = [self.task, self.scenario, self.algorithm, what, f"s{self.seed}",
                 self.label]
        readable = "-".join(_slug(p) for p in parts if p and _slug(p))
        object.__setattr__(self, "_key", f"{readable}-{digest}")

    def __hash__(self) -> int:
        return hash(self._key)

    @property
    def key(self) -> str:
        """Stable, filesystem-safe id: a readable part and a sha1 prefix of every field."""
        return self._key

    def to_dict(self) -> dict[str, Any]:
        """The cell's fields as JSON-ready values."""
        return {"task": self.task, "scenario": self.scenario, "algorithm": self.algorithm,
                "seed": self.seed, "params": _canonical(self.params, "Cell.params"),
                "config": _canonical(self.config, "Cell.config"), "function": self.function,
                "label": self.label}


@dataclass(frozen=True)
class Study:
    """A named grid of cells and the figures drawn from its rows.

    Attributes
    ----------
    name : str
    description : str
        One line.
    cells : callable
        ``cells(quick) -> sequence of Cell``: the grid (``quick``: a small version for smoke
        runs).
    figures : callable
        ``figures(rows, out_dir) -> list of Path``: draws from the tidy rows, returns the files.
    summarize : callable, optional
        ``summarize(rows) -> mapping``: summary tables, written to ``summary.json``.
    """

    name: str
    description: str
    cells: Callable[[bool], Sequence[Cell]]
    figures: Callable[[Sequence[Mapping[str, Any]], Path], list[Path]]
    summarize: Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` returns.

    Attributes
    ----------
    study : str
    out : Path
    rows : tuple of dict
        The rows of ``results.csv``, parsed (numbers as int / float, empty cells as None).
    results : Path
        ``out/results.csv``.
    figures : tuple of Path
    manifest : Path
        ``out/manifest.json``.
    summary : mapping or None
        The study's summary tables.
    ran, skipped : int
        Cells executed in this call, and cells found finished.
    wall_time : float
        Seconds this call took.
    """

    study: str
    out: Path
    rows: tuple[dict[str, Any], ...]
    results: Path
    figures: tuple[Path, ...]
    manifest: Path
    summary: Mapping[str, Any] | None
    ran: int
    skipped: int
    wall_time: float

    def to_frame(self) -> Any:
        """The rows of ``results.csv`` as a pandas DataFrame (:func:`gametools.frames.to_frame`)."""
        from gametools.frames import to_frame
        return to_frame(self)


# ------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------

def available_studies() -> dict[str, Study]:
    """All registered studies by name, in registration order."""
    return load_registered(ENTRY_POINT_GROUP, Study, StudyError)


def get_study(name: str) -> Study:
    """The study called ``name``; the error lists the available ones."""
    studies = available_studies()
    if name not in studies:
        listed = ", ".join(studies) if studies else (
            f"(none registered: studies register under the {ENTRY_POINT_GROUP!r} entry-point "
            "group; reinstall the package with `pip install -e .`)")
        raise StudyError(f"unknown study {name!r}; available: {listed}")
    return studies[name]


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------

def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_json(path: Path, document: Any) -> None:
    _atomic_write_text(path, json.dumps(document, indent=2, default=_json_default) + "\n")


def _csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # repr round-trips floats exactly, so a parsed row writes back to the same text
        writer.writerow({c: "" if row.get(c) is None else
                         (repr(row[c]) if isinstance(row[c], float) else row[c])
                         for c in columns})
    return buffer.getvalue()


_INTEGER = re.compile(r"[+-]?\d+")


def _parse_value(column: str, text: str) -> Any:
    if column in _TEXT_COLUMNS:
        return text
    if text == "":
        return None
    if _INTEGER.fullmatch(text):
        return int(text)
    if text in ("True", "False"):
        return text == "True"
    try:
        return float(text)
    except ValueError:
        return text


def _parse_csv(text: str, required: Sequence[str] = ()) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise StudyError(f"malformed CSV ({exc})") from None
    missing = [key for key in required if key not in (reader.fieldnames or ())]
    if missing:
        raise StudyError(f"not a table of study rows: column(s) {', '.join(missing)} missing")
    for number, row in enumerate(rows, start=2):
        if None in row or any(value is None for value in row.values()):
            raise StudyError(f"malformed CSV: line {number} has a different number of fields "
                             "than the header (truncated file?)")
    return [{k: _parse_value(k, v) for k, v in row.items()} for row in rows]


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a ``results.csv`` (or a cell's ``rows.csv``), with numbers parsed.

    Text columns (``scenario``, ``algorithm``, ``label``, ``cell``, ``kind``) stay strings,
    empty entries become None, integers int, other numbers float.
    """
    try:
        return _parse_csv(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise StudyError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except StudyError as exc:
        raise StudyError(f"{path}: {exc}") from None


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns = list(ROW_KEYS)
    seen = set(columns)
    for row in rows:
        for column in row:
            if column not in seen and column not in _VOLATILE_COLUMNS:
                seen.add(column)
                columns.append(column)
    return columns


# ------------------------------------------------------------------------------------------
# running one cell (in a worker)
# ------------------------------------------------------------------------------------------

def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Scalar entries of a nested summary as columns (lists get ``_0, _1, ...`` suffixes)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}_{k}" if prefix else str(k), v, out)
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            _flatten(f"{prefix}_{k}", v, out)
    elif isinstance(value, (bool, int, float, str)) or value is None:
        out[prefix] = value


def train_rows(cell: Cell, folder: Path) -> list[dict[str, Any]]:
    """Train ``cell.algorithm`` on ``cell.scenario`` into ``folder`` and return its rows.

    What a ``"train"`` cell runs (module docstring: the rows of ``metrics.csv``, the last one
    with the scenario's summary and reference). A ``"call"`` cell's function may call it to add
    its own measurements of the trained policy (``folder`` then holds ``checkpoint.pt``); it
    resumes an interrupted run and does not train again when ``result.json`` exists.
    """
    from gametools.marl.train import make_config, train

    result_file = folder / "result.json"
    # result.json is train's last file: if it exists the run finished and only the rows are
    # missing (the worker died before done.json); training again would change nothing
    if not result_file.exists():
        config = make_config(cell.algorithm, **cell.config)
        train(cell.scenario, config, algorithm=cell.algorithm, seed=cell.seed,
              params=cell.params, out=folder, resume=True, progress=False)
    rows = _parse_csv((folder / "metrics.csv").read_text(encoding="utf-8"))
    # resuming a run whose final checkpoint was written evaluates the final policy again
    deduplicated = [row for k, row in enumerate(rows) if k == 0 or row["step"] !=
                    rows[k - 1]["step"]]
    document = json.loads(result_file.read_text(encoding="utf-8"))
    extra: dict[str, Any] = {}
    _flatten("", document.get("summary") or {}, extra)
    _flatten("reference", document.get("reference") or {}, extra)
    last = deduplicated[-1]
    for column, value in extra.items():
        last[f"summary_{column}" if column in last or column in ROW_KEYS else column] = value
    return deduplicated


def _call_rows(cell: Cell, folder: Path) -> list[dict[str, Any]]:
    module_name, _, name = cell.function.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise StudyError(f"cell {cell.key}: cannot load function {cell.function!r} ({exc})"
                         ) from None
    rows = function(cell, folder)
    if not isinstance(rows, Sequence) or not all(isinstance(r, Mapping) for r in rows):
        raise StudyError(f"cell {cell.key}: {cell.function} must return a list of dicts, got "
                         f"{type(rows).__name__}")
    return [dict(row) for row in rows]


def _tidy(cell: Cell, row: Mapping[str, Any]) -> dict[str, Any]:
    tidy = {"scenario": cell.scenario, "algorithm": cell.algorithm, "label": cell.label,
            "seed": cell.seed, "step": 0}
    tidy.update({k: v for k, v in row.items() if k in tidy})
    tidy["cell"] = cell.key
    for column, value in row.items():
        if column not in tidy and column not in _VOLATILE_COLUMNS:
            tidy[column] = value
    return tidy


def _execute_cell(cell: Cell, folder_name: str) -> dict[str, Any]:
    """Run one cell; write its rows.csv and (last) done.json; return both texts.

    Top-level so process pools and Ray can pickle it.
    """
    from gametools.marl.common import single_thread

    folder = Path(folder_name)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # one thread per cell: cells run side by side, and results must not depend on the thread
    # count of the machine (reductions would be ordered differently)
    with single_thread():
        raw = train_rows(cell, folder) if cell.task == "train" else _call_rows(cell, folder)
    rows = [_tidy(cell, row) for row in raw]
    rows_text = _csv_text(rows, _columns(rows))
    done = {"format": _DONE_FORMAT, "key": cell.key, "cell": cell.to_dict(),
            "rows": len(rows), "wall_time": time.perf_counter() - started,
            "host": platform.node()}
    _atomic_write_text(folder / "rows.csv", rows_text)
    _write_json(folder / "done.json", done)
    return {"rows_csv": rows_text, "done": done}


def _initialize_worker() -> None:
    _exit_with_parent()  # first: importing torch below can take a minute on a loaded machine
    from gametools.marl.common import single_thread

    single_thread().__enter__()  # for the worker's whole life


def _exit_with_parent(interval: float = 1.0) -> None:
    """End this worker process within ``interval`` seconds of its parent's death.

    A killed ``gametools run`` must not leave its pool workers training for minutes. On Linux
    the kernel is asked to send SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``);
    everywhere, the parent's death re-parents the worker, changing ``os.getppid()``, which a
    daemon thread polls.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        # the kernel kills this process the moment the parent dies (PR_SET_PDEATHSIG = 1)
        with contextlib.suppress(OSError, AttributeError):
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# ------------------------------------------------------------------------------------------
# backends
# ------------------------------------------------------------------------------------------

OnDone = Callable[[Cell, "dict[str, Any] | None", "BaseException | None"], None]


#: One BLAS / OpenMP thread per cell process: cells run side by side, and multi-threaded BLAS
#: orders its reductions by thread count, which changes the last digits of NashConv.
_SINGLE_THREAD_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                             "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                                             "NUMEXPR_NUM_THREADS")}


@contextlib.contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for processes started inside the block."""
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_local(tasks: Sequence[tuple[Cell, Path]], workers: int, on_done: OnDone) -> None:
    # always worker processes, even for workers=1: a cell must compute the same numbers
    # whatever the backend, so it never runs in this (possibly multi-threaded) process
    context = multiprocessing.get_context("spawn")  # torch is not fork-safe
    with _environment(_SINGLE_THREAD_ENV), ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_initialize_worker) as pool:
        futures: dict[Future[dict[str, Any]], Cell] = {
            pool.submit(_execute_cell, cell, str(folder)): cell for cell, folder in tasks}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    error = future.exception()
                    if isinstance(error, BrokenProcessPool):
                        error = StudyError(
                            f"a worker process died ({error}); out of memory, or a script that "
                            "calls run_study outside an `if __name__ == '__main__':` block "
                            "(worker processes are spawned and import the main script)")
                    on_done(futures[future], None if error else future.result(), error)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise StudyError("the 'ray' backend needs Ray, which is not installed; install it with "
                         "`pip install 'gametools[ray]'` (or `pip install ray`), or use "
                         "backend 'local'") from None
    return ray


#: Seconds to wait for a Ray head to accept a connection before giving up.
RAY_CONNECT_TIMEOUT = 10.0


def _probe_ray_address(address: str, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
    """Fail within ``timeout`` seconds when ``host:port`` does not accept TCP connections.

    ``ray.init(address=...)`` waits far longer (minutes) on an address where nothing answers.
    ``"auto"`` and addresses without a port are left to Ray.
    """
    import socket

    target = address.split("://", 1)[-1]
    host, sep, port_text = target.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port_text)), timeout=timeout):
            pass
    except (OSError, ValueError, OverflowError) as exc:
        raise StudyError(f"no Ray cluster answers at {address!r} ({exc}); check the address "
                         "and that the head node is running (`ray start --head`)") from None


def _run_ray(tasks: Sequence[tuple[Cell, Path]], workers: int, address: str | None,
             on_done: OnDone) -> None:
    ray = _ray_module()
    import logging

    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        env = dict(_SINGLE_THREAD_ENV)
        if address is None:
            # a local instance: workers import what this process imports (tests' modules too)
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            options.update(num_cpus=workers, include_dashboard=False)
        else:  # run_study probed the address before creating the output folder
            options["address"] = address
        options["runtime_env"] = {"env_vars": env}
        try:
            ray.init(**options)
        except Exception as exc:
            where = f"at {address!r}" if address else "locally"
            raise StudyError(f"could not start or reach a Ray cluster {where}: {exc}") from exc
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_execute_cell)
        references = {remote.remote(cell, str(folder)): cell for cell, folder in tasks}
        while references:
            finished, _ = ray.wait(list(references), num_returns=1)
            for reference in finished:
                cell = references.pop(reference)
                try:
                    outcome = ray.get(reference)
                except Exception as exc:  # noqa: BLE001 - a task's error fails its cell only
                    on_done(cell, None, exc)
                else:
                    on_done(cell, outcome, None)
    finally:
        if started_here:
            ray.shutdown()


# ------------------------------------------------------------------------------------------
# the runner
# ------------------------------------------------------------------------------------------

def _versions(backend: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    names = ["gametools", "numpy", "scipy", "torch", "matplotlib"] + (
        ["ray"] if backend == "ray" else [])
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            module = sys.modules.get(name)
            out[name] = getattr(module, "__version__", "not installed")
    return out


def _is_done(cell: Cell, folder: Path) -> dict[str, Any] | None:
    marker = folder / "done.json"
    if not marker.exists() or not (folder / "rows.csv").exists():
        return None
    try:
        document = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("key") != cell.key:
        return None
    # a truncated or garbled rows.csv makes the cell unfinished (it reruns), not a crash later
    try:
        rows = _parse_csv((folder / "rows.csv").read_text(encoding="utf-8"), ROW_KEYS)
    except (OSError, UnicodeDecodeError, StudyError):
        return None
    if len(rows) != document.get("rows") or any(
            not row.get("cell") for row in rows):
        return None
    return document


def _sort_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    def number(value: Any) -> float:
        return float(value) if isinstance(value, (int, float)) and value is not None else \
            math.inf

    return (row["scenario"], row["algorithm"], row["label"], number(row["seed"]),
            number(row["step"]))


def _validate_grid(study: Study, cells: Sequence[Cell]) -> None:
    if not cells:
        raise StudyError(f"study {study.name!r} has no cells")
    seen: dict[str, Cell] = {}
    for cell in cells:
        if not isinstance(cell, Cell):
            raise StudyError(f"study {study.name!r}: cells() must return Cell objects, got "
                             f"{type(cell).__name__}")
        if cell.key in seen:
            raise StudyError(f"study {study.name!r}: the cell {cell.key} appears twice")
        seen[cell.key] = cell


def run_study(study: Study, *, out: str | os.PathLike[str], quick: bool = False,
              backend: Literal["local", "ray"] = "local", address: str | None = None,
              workers: int | None = None, progress: bool = True) -> StudyResult:
    """Run the unfinished cells of a study, then write results, figures and the manifest.

    Parameters
    ----------
    study : Study
    out : path
        Output folder (created). Rerunning into the same folder skips finished cells and
        resumes killed training runs.
    quick : bool
        Use the study's small grid.
    backend : {"local", "ray"}
    address : str, optional
        Ray cluster address (``backend="ray"`` only); default: start a local instance.
    workers : int, optional
        Parallel cells (local processes or local Ray CPUs); default ``min(2, cpu_count)``.
    progress : bool
        Report progress on stderr: first a line saying how many cells run where, then a
        progress bar over cells on a terminal, or one line per finished cell otherwise (logs,
        ``make demo`` piped to a file).

    Returns
    -------
    StudyResult

    Raises
    ------
    StudyError
        Bad arguments, a malformed grid, Ray unavailable, or failed cells (the message names
        them; the finished cells are kept, so a rerun continues).
    """
    if not isinstance(study, Study):
        raise StudyError(f"run_study needs a Study, got {type(study).__name__}")
    if backend not in ("local", "ray"):
        raise StudyError(f"backend must be 'local' or 'ray', got {backend!r}")
    if address is not None and backend != "ray":
        raise StudyError("address applies to the 'ray' backend only")
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise StudyError(f"workers must be a positive integer, got {workers!r}")
    check("max_workers", workers, "workers")
    if backend == "ray":
        ray = _ray_module()  # fail before any work when Ray is missing
        if address is not None and not ray.is_initialized():
            _probe_ray_address(address)  # before the output folder is created
    with folder_lock(out):
        return _run_study_locked(study, Path(out), quick, backend, address, workers, progress)


def _run_study_locked(study: Study, out: Path, quick: bool, backend: str, address: str | None,
                      workers: int, progress: bool) -> StudyResult:
    started = time.perf_counter()
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    cells = list(study.cells(bool(quick)))
    _validate_grid(study, cells)
    folders = {cell.key: out / "cells" / cell.key for cell in cells}
    done: dict[str, dict[str, Any]] = {}
    status: dict[str, str] = {}
    for cell in cells:
        document = _is_done(cell, folders[cell.key])
        if document is not None:
            done[cell.key] = document
            status[cell.key] = "skipped"
    pending = [(cell, folders[cell.key]) for cell in cells if cell.key not in done]
    failures: dict[str, str] = {}

    from tqdm import tqdm

    if progress:
        print(f"{study.name}{' (quick)' if quick else ''}: {len(pending)} of {len(cells)} cells "
              f"to run ({len(done)} already done) on {workers} {backend} worker"
              f"{'s' if workers > 1 else ''}; output in {out}", file=sys.stderr, flush=True)
    lines = progress and not sys.stderr.isatty()
    bar = tqdm(total=len(cells), initial=len(done), unit="cell", desc=study.name,
               disable=not progress or lines, dynamic_ncols=True, file=sys.stderr)

    def on_done(cell: Cell, outcome: dict[str, Any] | None, error: BaseException | None
                ) -> None:
        if error is not None or outcome is None:
            failures[cell.key] = f"{type(error).__name__}: {error}"
            status[cell.key] = "failed"
        else:
            folder = folders[cell.key]
            if _is_done(cell, folder) is None:
                # a remote worker without our file system: keep its rows here
                _atomic_write_text(folder / "rows.csv", outcome["rows_csv"])
                _write_json(folder / "done.json", outcome["done"])
            done[cell.key] = outcome["done"]
            status[cell.key] = "ran"
        bar.update(1)
        bar.set_postfix_str(cell.key[:40])
        if lines:
            seconds = float(done.get(cell.key, {}).get("wall_time") or 0.0)
            print(f"  [{len(done) + len(failures)}/{len(cells)}] {cell.key}: "
                  f"{status[cell.key]} ({seconds:.0f} s)", file=sys.stderr, flush=True)

    try:
        if pending:
            if backend == "local":
                _run_local(pending, workers, on_done)
            else:
                _run_ray(pending, workers, address, on_done)
    finally:
        bar.close()

    manifest_path = out / "manifest.json"
    manifest: dict[str, Any] = {
        "study": study.name, "description": study.description, "quick": bool(quick),
        "backend": backend, "address": address, "workers": workers,
        "started": started_at, "versions": _versions(backend),
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "cells": [dict(cell.to_dict(), key=cell.key, status=status.get(cell.key, "failed"),
                       wall_time=done.get(cell.key, {}).get("wall_time"),
                       error=failures.get(cell.key))
                  for cell in cells],
    }
    if failures:
        manifest["wall_time"] = time.perf_counter() - started
        _write_json(manifest_path, manifest)
        first = next(iter(failures.items()))
        raise StudyError(f"study {study.name!r}: {len(failures)} of {len(cells)} cells failed "
                         f"({', '.join(failures)}); first: {first[0]}: {first[1]}. Finished "
                         f"cells are kept in {out / 'cells'}; rerun to continue.")

    rows: list[dict[str, Any]] = []
    for cell in cells:
        rows += read_results(folders[cell.key] / "rows.csv")
    rows.sort(key=_sort_key)
    results_path = out / "results.csv"
    _atomic_write_text(results_path, _csv_text(rows, _columns(rows)))
    # figures and summaries read the rows exactly as a later reader of results.csv would
    rows = read_results(results_path)

    from gametools.plotting import paper_style

    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    with paper_style():
        figures = tuple(Path(p) for p in study.figures(tuple(rows), figures_dir))
    import matplotlib.pyplot as plt

    plt.close("all")
    summary = None
    if study.summarize is not None:
        summary = dict(study.summarize(tuple(rows)))
        _write_json(out / "summary.json", summary)
    ran = sum(1 for s in status.values() if s == "ran")
    skipped = sum(1 for s in status.values() if s == "skipped")
    wall_time = time.perf_counter() - started
    manifest.update(results=str(results_path.name), rows=len(rows),
                    figures=[str(p) for p in figures], ran=ran, skipped=skipped,
                    wall_time=wall_time,
                    cell_wall_time=sum(float(d.get("wall_time") or 0.0) for d in done.values()))
    _write_json(manifest_path, manifest)
    return StudyResult(study.name, out, tuple(rows), results_path, figures, manifest_path,
                       summary, ran, skipped, wall_time)


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------

def run_from_cli(name: str | None, *, quick: bool = False, out: str | None = None,
                 backend: str = "local", address: str | None = None,
                 workers: int | None = None, json: bool = False,
                 list_studies: bool = False) -> int:
    """``gametools run``: run a study (or list them) and print where the outputs are.

    Returns the exit status; mistakes raise :class:`StudyError` (the CLI prints its message).
    Output goes to ``out``, by default ``runs/<name>`` (``runs/<name>-quick`` with ``quick``).
    """
    import json as json_module

    if list_studies and name:
        raise StudyError(f"--list takes no study name (got {name!r}); run `gametools run "
                         f"{name}` to run it")
    if list_studies:
        studies = available_studies()
        if json:
            print(json_module.dumps([{"name": s.name, "description": s.description}
                                     for s in studies.values()], indent=2))
        else:
            for study in studies.values():
                print(f"{study.name}: {study.description}")
            if not studies:
                print(f"(no studies registered under {ENTRY_POINT_GROUP!r})")
        return 0
    if not name:
        raise StudyError("name a study to run (see `gametools run --list`)")
    study = get_study(name)
    folder = Path(out) if out else Path("runs") / (f"{name}-quick" if quick else name)
    result = run_study(study, out=folder, quick=quick, backend=backend,  # type: ignore[arg-type]
                       address=address, workers=workers, progress=not json)
    if json:
        print(json_module.dumps({
            "study": result.study, "out": str(result.out), "results": str(result.results),
            "figures": [str(p) for p in result.figures], "manifest": str(result.manifest),
            "summary": result.summary, "ran": result.ran, "skipped": result.skipped,
            "rows": len(result.rows), "wall_time": result.wall_time},
            indent=2, default=_json_default))
        return 0
    print(f"study {result.study}: {result.ran} cells run, {result.skipped} already done, "
          f"{len(result.rows)} rows in {result.wall_time:.1f} s")
    print(f"results:  {result.results}")
    print(f"manifest: {result.manifest}")
    for path in result.figures:
        print(f"figure:   {path}")
    return 0
