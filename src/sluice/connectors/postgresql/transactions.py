"""The read's transaction on PostgreSQL: its statements, its exported snapshot, and the
window's count made in that snapshot on a connection of its own while the read streams.

A window's count is a second pass over the window. Made before the read, in the read's own
transaction, it was on the critical path (0.2-0.3 s of a 4 s 5M-row window, all of it waiting
on the server); made beside the read, in the read's exported snapshot, it sees exactly the
rows the read sees and costs no time, where the server has a core to spare for it. It is
made without parallel workers: off the critical path, it only has to end before the read
does (a serial count reads the window several times faster than the read streams it), and
workers would take from the read's own cores the CPU they cost on top (the 5M-row benchmark
window: 0.43 s of one backend serially, about twice that in parallel). The parts of a
parallel window count beside their reads too, each in the snapshot they share: the cut is
decided on the planner's estimate (`planned_rows`), not on a count made first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

import adbc_driver_manager

from sluice.connectors.errors import SourceReadError, TerminalReadError, TransientReadError
from sluice.connectors.postgresql.connection import AdbcSession
from sluice.connectors.reading import ReadProgress

READ_ONLY_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
# For this transaction only (pooled connections keep their settings).
SERIAL_QUERIES = "SET LOCAL max_parallel_workers_per_gather = 0"
_USE_COPY_OPTION = "adbc.postgresql.use_copy"
log = logging.getLogger(__name__)
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


def execute(session: AdbcSession, sql: str) -> None:
    cursor = session.connection.cursor()
    try:
        cursor.execute(sql)
    except adbc_driver_manager.Error as error:
        raise session.error(error, "Could not start the read") from None
    finally:
        cursor.close()


def begin_read(session: AdbcSession, snapshot: str | None) -> None:
    """Start the read-only, repeatable-read transaction, in `snapshot` when given (an id
    another transaction exported): the first statements of the transaction."""
    execute(session, READ_ONLY_SNAPSHOT)
    if snapshot is not None:
        execute(session, f"SET TRANSACTION SNAPSHOT '{snapshot_id(snapshot)}'")


def _first_row(
    session: AdbcSession,
    sql: str,
    failure: str,
    cursors: list[Any] | None = None,
    options: Mapping[str, str] | None = None,
) -> Any:
    """The first row `sql` returns (None for none), on a cursor of its own (appended to
    `cursors` when given, for a cancel from another thread); a driver error becomes the
    session's coded error, `failure` saying what could not be done."""
    cursor = session.connection.cursor()
    if cursors is not None:
        cursors.append(cursor)
    try:
        if options:
            cursor.adbc_statement.set_options(**options)
        cursor.execute(sql)
        return cursor.fetchone()
    except adbc_driver_manager.Error as error:
        raise session.error(error, failure) from None
    finally:
        cursor.close()


def count_rows(session: AdbcSession, sql: str, cursor_seen: list[Any] | None = None) -> int:
    """The window's rows, by the read's own predicate: one query per run, not per batch."""
    row = _first_row(session, sql, "Could not count the window's rows", cursor_seen)
    return int(row[0]) if row else 0


def planned_rows(session: AdbcSession, sql: str) -> int | None:
    """The planner's estimate of the rows `sql` returns (from the table's statistics, no scan),
    or None when the plan does not say; only ever used to decide how to read, never reported."""
    # EXPLAIN cannot be the query of a COPY, which the driver wraps queries in by default.
    row = _first_row(
        session,
        f"EXPLAIN (FORMAT JSON) {sql}",
        "Could not plan the window's read",
        options={_USE_COPY_OPTION: "false"},
    )
    if not row:
        return None
    try:
        return max(int(json.loads(row[0])[0]["Plan"]["Plan Rows"]), 0)
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def export_snapshot(session: AdbcSession) -> str:
    """The id of the read transaction's snapshot, for other transactions to read in."""
    row = _first_row(
        session, "SELECT pg_catalog.pg_export_snapshot()", "Could not share the window's snapshot"
    )
    return snapshot_id(str(row[0]) if row else "")


def snapshot_id(snapshot: str) -> str:
    """An exported snapshot id (hex groups and dashes), checked before it is put in SQL."""
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise TerminalReadError(f"Not a PostgreSQL snapshot id: {snapshot[:40]!r}.")
    return snapshot


class SnapshotCount:
    """The window's count, made by a thread on a connection of its own in the read's exported
    snapshot; its result lands in `progress` (`source_count`, `expected_records`).

    The count begins at `start`: a whole window's read starts it as it opens, a part of a
    parallel window with its stream, once every part holds its own connection, so a source
    near its connection limit refuses a count (which the part then makes itself) rather than
    one of the parts. The exporting transaction (the read's) must stay open until the count
    has started: the read holds it until `wait` or `cancel` has returned. A count that fails
    here (no second connection to be had, say) is made again by the read in its own
    transaction."""

    def __init__(
        self,
        context: Any,
        auth: Mapping[str, Any],
        snapshot: str,
        sql: str,
        progress: ReadProgress,
    ) -> None:
        self._context, self._auth, self._snapshot, self._sql = context, auth, snapshot, sql
        self._progress = progress
        self._error: SourceReadError | None = None
        self._cursors: list[Any] = []
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._count, name="sluice-count", daemon=True)
        self._started = False
        self._starting = threading.Lock()  # a start and a cancel from two threads

    def start(self) -> None:
        """Begin counting, on a thread of its own (a second call, or one after `cancel`,
        does nothing)."""
        with self._starting:
            if not self._started and not self._cancelled.is_set():
                self._started = True
                self._thread.start()

    @property
    def sql(self) -> str:
        return self._sql

    def _count(self) -> None:
        try:
            session = AdbcSession(self._context, self._auth)
        except SourceReadError as error:  # e.g. the source's connection limit reached
            self._error = error
            return
        try:
            begin_read(session, self._snapshot)
            execute(session, SERIAL_QUERIES)
            if not self._cancelled.is_set():
                rows = count_rows(session, self._sql, self._cursors)
                self._progress.source_count = rows
                self._progress.expected_records = rows
        except SourceReadError as error:
            self._error = error
        except Exception as error:  # not the source's: counted after the read all the same
            self._error = TransientReadError(f"{type(error).__name__} while counting")
        finally:
            session.close()

    def wait(self) -> bool:
        """Wait for the count; False when it could not be made (the read then counts in its
        own transaction once its rows are read: same snapshot, one connection)."""
        self.start()
        if not self._started:  # cancelled before it began: nothing was counted
            return False
        self._thread.join()
        if self._error is not None:
            log.warning("Counting the window beside the read failed (%s); counting after it.",
                        self._error.message)
        return self._error is None

    def cancel(self) -> None:
        """Stop the count (the read ended early) and wait for its thread."""
        with self._starting:
            self._cancelled.set()
        for cursor in list(self._cursors):
            with contextlib.suppress(Exception):  # best effort: the count may have just ended
                cursor.adbc_cancel()
        if self._started:
            self._thread.join()
