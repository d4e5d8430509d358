"""A run whose write fails midway closes its source read only once the read-ahead thread has
stopped: closing the read's connection under a thread still using it (PostgreSQL's count
after the last batch, say) could hang the run for good."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sluice.connectors.contract import FunctionConnector
from sluice.engine.worker import Worker
from sluice.lake import writer
from support.api_bodies import FS, TABLE_FLOW_SPEC
from support.api_runs import run_all, start_run
from support.callers import Caller
from support.faults import InjectedFault
from support.sample_flows import BASE, make_orders, once_flow, sqlite_table_source

# What the source does after its last batch (PostgreSQL waits for its count there).
TAIL_SECONDS = 0.5


class TailedRead:
    """The real read, with work after its last batch; notes whether it was closed while its
    batches were still being read."""

    def __init__(self, read: Any, closed_early: list[bool]) -> None:
        self._read, self._closed_early = read, closed_early
        self._reading = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._read, name)

    def batches(self) -> Iterator[pa.RecordBatch]:
        self._reading = True
        try:
            yield from self._read.batches()
            time.sleep(TAIL_SECONDS)
        finally:
            self._reading = False

    def close(self) -> None:
        self._closed_early.append(self._reading)
        self._read.close()


def test_a_failed_write_stops_the_read_ahead_before_closing_the_read(
    caller: Caller, worker: Worker, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_early: list[bool] = []
    real_read = FunctionConnector.read

    def read(self: FunctionConnector, *args: Any) -> Any:
        return TailedRead(real_read(self, *args), closed_early)

    def failing_write(*_args: Any) -> None:  # after the writer's first batch (append peeks it)
        raise InjectedFault("the write failed midway")

    monkeypatch.setattr(FunctionConnector, "read", read)
    monkeypatch.setattr(writer, "_write", failing_write)
    db = make_orders(Path(settings.allowed_file_roots[0]))
    source, dataset_id = sqlite_table_source(caller, db, "orders", name="orders",
                                             dataset_name="orders")
    flow = once_flow(caller, "orders", TABLE_FLOW_SPEC, source, dataset_id, writeMode="append")
    run_id = start_run(caller, flow, BASE, BASE + timedelta(hours=48))
    assert run_all(worker) == 1
    status = caller.get(f"{FS}/runs/{run_id}").json()["items"][0]["metrics"]["statusSummary"]
    assert status["status"] == "failed"
    assert "the write failed midway" in status["errors"][0]["message"]
    assert closed_early and not any(closed_early)  # (closing twice is harmless)
