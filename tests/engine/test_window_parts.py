"""The parts a run's window is read in when its flow does not say: from the worker's cores,
only for sources whose parts read one consistent view (PostgreSQL, files): half of them for
PostgreSQL, all of them for files, at most four."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sluice.connectors.files import reader as files_reader
from sluice.connectors.registry import builtin_specs
from sluice.connectors.tables import split_windows
from sluice.engine import window_parts as parts_module
from sluice.engine.window_parts import window_parts
from sluice.engine.worker import Worker
from support.api_bodies import FILE_FLOW_SPEC, FS, TABLE_FLOW_SPEC
from support.api_runs import run_all, start_run
from support.callers import Caller
from support.sample_flows import (
    BASE,
    events_csv_source,
    make_orders,
    once_flow,
    sqlite_table_source,
    write_events_csv,
)

SPECS = {spec.name: spec for spec in builtin_specs()}


FILE_SPECS = ("Local Files", "Amazon S3", "SFTP", "Azure Blob Storage")


@pytest.mark.parametrize(("cores", "parts"), [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)])
def test_postgresql_defaults_to_half_the_cores_at_most_four(cores: int, parts: int) -> None:
    assert window_parts(None, SPECS["PostgreSQL"], cores=cores) == parts


@pytest.mark.parametrize(("cores", "parts"), [(1, 1), (2, 2), (3, 3), (4, 4), (64, 4)])
def test_file_sources_default_to_every_core_at_most_four(cores: int, parts: int) -> None:
    for name in FILE_SPECS:
        assert window_parts(None, SPECS[name], cores=cores) == parts, name


def test_other_sources_read_in_one_part_unless_the_flow_asks() -> None:
    consistent = {name for name, spec in SPECS.items() if spec.consistent_parts}
    assert consistent == {"PostgreSQL", *FILE_SPECS}
    for name in set(SPECS) - consistent:
        assert window_parts(None, SPECS[name], cores=64) == 1, name
        assert window_parts(3, SPECS[name], cores=1) == 3, name  # the flow's option wins
    assert window_parts(1, SPECS["PostgreSQL"], cores=64) == 1


def test_the_default_counts_the_cores_this_process_may_use() -> None:
    assert 1 <= parts_module.available_cores() <= (os.cpu_count() or 1)


class Spy:
    """Records the thread count of every parallel file read (MergedBatches) opened."""

    def __init__(self, real: Any) -> None:
        self.real, self.threads = real, []

    def __call__(self, parts: Any, threads: int, *args: Any) -> Any:
        self.threads.append(threads)
        return self.real(parts, threads, *args)


@pytest.mark.parametrize(("cores", "threads"), [(8, [4]), (2, [2]), (1, [])])
def test_a_file_flow_without_the_option_is_read_in_as_many_parts_as_cores(
    caller: Caller, worker: Worker, settings: Any, monkeypatch: pytest.MonkeyPatch,
    cores: int, threads: list[int],
) -> None:
    monkeypatch.setattr(parts_module, "available_cores", lambda: cores)
    spy = Spy(files_reader.MergedBatches)
    monkeypatch.setattr(files_reader, "MergedBatches", spy)
    folder = Path(settings.allowed_file_roots[0]) / "events"
    folder.mkdir()
    for number in range(6):
        rows = [[str(number * 100 + i), "click", f"{i}.50"] for i in range(5)]
        write_events_csv(folder / f"f{number}.csv", rows, BASE + timedelta(hours=number))
    source, dataset_id = events_csv_source(caller, folder)
    flow = once_flow(caller, "events", FILE_FLOW_SPEC, source, dataset_id)
    run_id = start_run(caller, flow, BASE, BASE + timedelta(days=1), delta=None)
    assert run_all(worker) == 1
    metrics = caller.get(f"{FS}/runs/{run_id}").json()["items"][0]["metrics"]
    assert metrics["statusSummary"]["status"] == "success", metrics
    assert metrics["recordSummary"]["outputRecordCount"] == 30
    assert spy.threads == threads


def test_a_sqlite_flow_without_the_option_stays_serial_on_any_worker(
    caller: Caller, worker: Worker, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts_module, "available_cores", lambda: 64)
    monkeypatch.setattr(split_windows, "MIN_ROWS_PER_PART", 1)  # any window could be cut
    cuts: list[int] = []
    real_offer = split_windows.offer_split

    def offer(request: Any, rows: int | None) -> None:
        cuts.append(request.parallelism)
        real_offer(request, rows)

    monkeypatch.setattr("sluice.connectors.sqlite.reader.offer_split", offer)
    db = make_orders(Path(settings.allowed_file_roots[0]))
    source, dataset_id = sqlite_table_source(caller, db, "orders", name="orders",
                                             dataset_name="orders")
    flow = once_flow(caller, "orders", TABLE_FLOW_SPEC, source, dataset_id)
    run_id = start_run(caller, flow, BASE + timedelta(hours=2), BASE + timedelta(hours=46))
    assert run_all(worker) == 1
    metrics = caller.get(f"{FS}/runs/{run_id}").json()["items"][0]["metrics"]
    assert metrics["statusSummary"]["status"] == "success", metrics
    assert metrics["recordSummary"]["outputRecordCount"] == 44
    assert cuts == [1]  # asked once, with one part: read as it is
