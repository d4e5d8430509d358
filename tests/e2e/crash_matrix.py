"""The crash-point matrix (issue 16): runs stopped at each point where a worker can die, for a
table flow and a file flow in each write mode, read serially and in parallel parts (issue 15),
then finished by whoever comes next.

A `Rig` is what a scenario needs from its deployment: an API client, the processes to watch,
the lake's folder, the metadata database (to read run rows and to restart it) and, as a
parameter, how to start a worker with given crash settings. `run_point` drives one crash
point over every case at once (one worker process stops all of them at the point, see
`support.crash_points`), and returns what each case's dataset and runs look like afterwards.
The same functions run on one machine (tests/e2e/test_crash_matrix.py) or on a cluster,
given a `Rig` whose `start_worker` starts a worker there.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from deltalake import DeltaTable
from e2e_flows import (
    BuiltFlow,
    commits,
    create_run,
    csv_folder_flow,
    delta_path,
    postgres_table_flow,
    read_table,
)
from processes import SluiceProcess, await_run, pg_source, wait_for

from sluice.client import SluiceApiError, SluiceClient, run_status
from support import parallel_parts
from support.crash_points import DIR_ENV, FROM_ENV, POINT_ENV, RUNS_ENV

SOURCE_KINDS = ("table", "file")
WRITE_MODES = ("append", "replaceWindow", "merge")
# The parallel cases: each window read in this many parts at once (a table window cut on its
# delta column, the two files of a file window parsed at once). The matrix's workers cut
# windows of any size and record each parallel read's parts in a folder under `workdir`,
# which they must be able to write (`support.parallel_parts`).
PARTS = 2
KILL_POINTS = ("a_mid_read", "b_before_commit", "c_after_commit", "d_retrigger",
               "e_metadata_restart", "f_disk_full")

# Row i (1..40) of the table is updated at BASE + 60 i s; the CSV files hold the same ids,
# each file modified inside the window its rows belong to. The seed window lands first
# (so merge and replaceWindow meet an existing table), then the crash window is the one
# the crash point interrupts.
BASE = 1_714_521_600  # 2024-05-01T00:00:00Z
ROWS = 40
SEED = (BASE, BASE + 21 * 60)  # rows 1..20
CRASH = (BASE + 21 * 60, BASE + 41 * 60)  # rows 21..40, in two files for the file flow
CRASH_FILES = {"crash-1.csv": range(21, 31), "crash-2.csv": range(31, 41)}


def ids_in(window: tuple[int, int]) -> set[int]:
    return {i for i in range(1, ROWS + 1) if window[0] <= BASE + 60 * i < window[1]}


@dataclass(frozen=True)
class Case:
    source: str  # "table" (PostgreSQL) or "file" (CSV files)
    mode: str  # the flow's writeMode
    parallelism: int = 1  # the flow's `parallelism` option

    @property
    def name(self) -> str:
        parts = f"-parallel{self.parallelism}" if self.parallelism > 1 else ""
        return f"{self.source}-{self.mode}{parts}"

    def expected_ids(self) -> set[int]:
        # A file flow has no delta column: its replaceWindow replaces the whole table.
        if self.source == "file" and self.mode == "replaceWindow":
            return ids_in(CRASH)
        return ids_in(SEED) | ids_in(CRASH)


CASES = (*(Case(source, mode) for source in SOURCE_KINDS for mode in WRITE_MODES),
         *(Case(source, mode, PARTS) for source in SOURCE_KINDS for mode in WRITE_MODES))


@dataclass(frozen=True)
class Sources:
    table: str  # in PostgreSQL's `test` database
    folder: Path  # CSV files, within the server's local file roots


@contextmanager
def sources(table: str, folder: Path) -> Iterator[Sources]:
    """The source table and CSV folder every case of every scenario reads (read-only)."""
    pg_source(f"""
        CREATE TABLE {table} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL,
                              amount integer NOT NULL);
        INSERT INTO {table} SELECT g, to_timestamp({BASE} + 60 * g), g * 10
        FROM generate_series(1, {ROWS}) AS g;
    """)
    folder.mkdir(parents=True, exist_ok=True)
    for name, ids in {"seed.csv": sorted(ids_in(SEED)), **CRASH_FILES}.items():
        path = folder / name
        path.write_text("id,amount\n" + "".join(f"{i},{i * 10}\n" for i in ids))
        modified = BASE + 60 * min(ids)  # inside the window of its rows
        os.utime(path, (modified, modified))
    try:
        yield Sources(table, folder)
    finally:
        pg_source(f"DROP TABLE IF EXISTS {table}")


class StartWorker(Protocol):
    def __call__(self, crash: Mapping[str, str]) -> SluiceProcess:
        """A started worker process with these crash settings added to its environment
        (none: a healthy worker)."""


class MetadataDatabase(Protocol):
    def runs_of(self, flow_id: str) -> list[tuple[str, str, int]]:
        """(run id, status, attempt) of the flow's runs."""

    def restart(self) -> None:
        """Stop the database as a crash would, and start it again."""


@dataclass
class Rig:
    client: SluiceClient
    watched: Sequence[SluiceProcess]  # the API server(s): a failure there fails the test
    data_dir: Path  # its lake is `data_dir/lake`
    sources: Sources
    start_worker: StartWorker
    stop_worker: Callable[[SluiceProcess], None]
    metadata: MetadataDatabase
    workdir: Path
    fill_lake: Callable[[], None]
    free_lake: Callable[[], None]


@dataclass
class Lane:
    """One case within a scenario: its own flow and dataset."""

    case: Case
    flow: BuiltFlow
    crash_runs: list[str] = field(default_factory=list)  # the crash window's runs, in order
    committed_at_crash: bool = False  # the crash window's commit was in the table by then
    refusals: list[str] = field(default_factory=list)  # codes of refused re-triggers


@dataclass(frozen=True)
class Outcome:
    """A case after its scenario: the dataset against the windows, and the runs."""

    case: str
    point: str
    lost: int  # expected rows missing
    duplicated: int  # extra copies of expected rows
    unexpected: int  # rows of no window the flow ran
    runs: dict[str, str]  # run id -> status, every run of the flow
    crash_statuses: list[str]  # the crash window's runs (original, re-triggers), in order
    attempts: list[int]
    committed_at_crash: bool
    refusals: list[str]
    referenced_missing: list[str]  # files the current version names that are not there
    unreferenced: list[str]  # data files no log entry names (staged by a killed attempt)
    crash_worker_exit: int | None
    errors: list[str]
    # The crash window's parallel reads, as the workers saw their parts (`support.parallel_parts`)
    parallel_reads: list[dict[str, Any]]


def _build_flow(rig: Rig, case: Case) -> BuiltFlow:
    # Always said: without it a file window's parts follow the worker's cores.
    options: dict[str, Any] = {"writeMode": case.mode, "parallelism": case.parallelism}
    if case.mode == "merge":
        options["primaryKey"] = ["id"]
    if case.source == "table":
        return postgres_table_flow(rig.client, rig.sources.table, **options)
    return csv_folder_flow(rig.client, rig.sources.folder, **options)


def _run(rig: Rig, lane: Lane, window: tuple[int, int]) -> str:
    column = "updated_at" if lane.case.source == "table" else None
    return create_run(rig.client, lane.flow.flow_id, *window, delta_column=column)


def _await(rig: Rig, run_ids: Sequence[str], also: Sequence[SluiceProcess] = ()) -> list[str]:
    return [run_status(await_run(rig.client, r, [*rig.watched, *also])) for r in run_ids]


def _died(rig: Rig, worker: SluiceProcess) -> int | None:
    wait_for("the worker to die at its crash point",
             lambda: True if not worker.alive() else None, rig.watched, timeout=120)
    return worker.process.returncode


def _committed(rig: Rig, lane: Lane) -> bool:
    named = {c.get("sluice.runId") for c in commits(rig.data_dir, lane.flow.dataset_id)}
    return bool(named & set(lane.crash_runs))


def _retrigger(rig: Rig, run_id: str) -> str:
    return rig.client.runs.retrigger(run_id).id


def _refusal(rig: Rig, run_id: str) -> str:
    try:
        created = _retrigger(rig, run_id)
    except SluiceApiError as refused:
        return refused.code
    return f"accepted {created}"


def run_point(rig: Rig, point: str, cases: Sequence[Case] = CASES) -> dict[str, Outcome]:
    """Every case stopped at `point` then finished; each case's outcome by its name."""
    lanes = [Lane(case, _build_flow(rig, case)) for case in cases]
    hooks = rig.workdir / f"hooks-{point}"
    hooks.mkdir(exist_ok=True)
    parts = rig.workdir / f"parts-{point}"
    watching = {parallel_parts.PARTS_ENV: str(parts)}
    start_worker = rig.start_worker
    rig = replace(rig, start_worker=lambda crash: start_worker({**watching, **crash}))
    crash = {} if point == "f_disk_full" else {
        POINT_ENV: point, FROM_ENV: str(CRASH[0]), RUNS_ENV: str(len(lanes)),
        DIR_ENV: str(hooks)}
    first = rig.start_worker(crash)
    workers = [first]
    try:
        # The seed window lands normally in the same worker (it is not armed).
        seeded = _await(rig, [_run(rig, lane, SEED) for lane in lanes], [first])
        assert seeded == ["success"] * len(lanes), seeded
        _interrupt(rig, point, lanes, first, workers)
    finally:
        for worker in workers:
            rig.stop_worker(worker)
    reads = parallel_parts.records(parts)
    return {lane.case.name: _observe(rig, point, lane, first, reads) for lane in lanes}


def _interrupt(rig: Rig, point: str, lanes: list[Lane], first: SluiceProcess,
               workers: list[SluiceProcess]) -> None:
    if point == "d_retrigger":
        originals = [_run(rig, lane, CRASH) for lane in lanes]
        _await(rig, originals, [first])  # each fails, nothing written
        for lane, original in zip(lanes, originals, strict=True):
            lane.crash_runs = [original, _retrigger(rig, original)]
        _died(rig, first)  # each re-trigger committed, none recorded
        for lane, original in zip(lanes, originals, strict=True):
            lane.committed_at_crash = _committed(rig, lane)
            lane.refusals.append(_refusal(rig, original))  # while the re-trigger is live
        workers.append(rig.start_worker({}))
        _await(rig, [lane.crash_runs[1] for lane in lanes])
        for lane, original in zip(lanes, originals, strict=True):
            lane.refusals.append(_refusal(rig, original))  # after it succeeded
        return
    if point == "f_disk_full":
        rig.fill_lake()
        try:
            for lane in lanes:
                lane.crash_runs = [_run(rig, lane, CRASH)]
            _await(rig, [lane.crash_runs[0] for lane in lanes], [first])
        finally:
            rig.free_lake()
        for lane in lanes:
            lane.committed_at_crash = _committed(rig, lane)
            lane.crash_runs.append(_retrigger(rig, lane.crash_runs[0]))
        _await(rig, [lane.crash_runs[1] for lane in lanes], [first])
        return
    for lane in lanes:
        lane.crash_runs = [_run(rig, lane, CRASH)]
    if point == "e_metadata_restart":
        hooks = rig.workdir / f"hooks-{point}"
        wait_for("every run to pause mid-read",
                 lambda: len(list(hooks.glob("reached-*"))) == len(lanes) or None,
                 [*rig.watched, first])
        rig.metadata.restart()
        (hooks / "release").touch()
        _await(rig, [lane.crash_runs[0] for lane in lanes])
        if not first.alive():  # it may die of the outage; then another worker finishes
            workers.append(rig.start_worker({}))
        return
    _died(rig, first)
    for lane in lanes:
        lane.committed_at_crash = _committed(rig, lane)
    workers.append(rig.start_worker({}))
    _await(rig, [lane.crash_runs[0] for lane in lanes])


def _log_paths(table: Path) -> set[str]:
    """Every data file any log entry adds or removes (the matrix's tables never checkpoint)."""
    named: set[str] = set()
    for entry in (table / "_delta_log").glob("*.json"):
        for line in entry.read_text().splitlines():
            action = json.loads(line) if line.strip() else {}
            for kind in ("add", "remove"):
                if kind in action:
                    named.add(unquote(action[kind]["path"]))
    return named


def _observe(rig: Rig, point: str, lane: Lane, first: SluiceProcess,
             reads: list[dict[str, Any]]) -> Outcome:
    table = delta_path(rig.data_dir, lane.flow.dataset_id)
    ids = Counter(read_table(rig.data_dir, lane.flow.dataset_id, ["id"])["id"].to_pylist())
    expected = lane.case.expected_ids()
    live = [Path(unquote(uri.removeprefix("file://")))
            for uri in DeltaTable(str(table)).file_uris()]
    named = _log_paths(table)
    data_files = sorted(p.relative_to(table).as_posix() for p in table.rglob("*.parquet")
                        if "_delta_log" not in p.parts)
    runs = {run_id: (status, attempt) for run_id, status, attempt
            in rig.metadata.runs_of(lane.flow.flow_id)}
    errors = [str(run_error) for run_id in lane.crash_runs
              for run_error in rig.client.get_item(f"runs/{run_id}")["metrics"]
              .get("statusSummary", {}).get("errors", [])]
    return Outcome(
        case=lane.case.name, point=point,
        lost=len(expected - ids.keys()),
        duplicated=sum(n - 1 for i, n in ids.items() if i in expected),
        unexpected=sum(n for i, n in ids.items() if i not in expected),
        runs={run_id: status for run_id, (status, _) in runs.items()},
        crash_statuses=[runs[r][0] for r in lane.crash_runs],
        attempts=[runs[r][1] for r in lane.crash_runs],
        committed_at_crash=lane.committed_at_crash,
        refusals=lane.refusals,
        referenced_missing=[str(f) for f in live if not f.exists()],
        unreferenced=[f for f in data_files if f not in named],
        crash_worker_exit=first.process.returncode,
        errors=errors,
        parallel_reads=[read for read in reads if read["run"] in lane.crash_runs],
    )
