"""The demo's sample files: deterministic, well-formed and written once."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sluice.demo.data import (
    EVENT_COLUMNS,
    EVENT_DAYS,
    EVENTS_PER_FILE,
    ORDER_COUNT,
    write_event_files,
    write_shop_db,
)

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)


def rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT * FROM orders ORDER BY id").fetchall()


def test_shop_db_has_the_orders_table_over_the_last_30_days(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    assert write_shop_db(path, NOW) is True
    with sqlite3.connect(path) as connection:
        columns = connection.execute("PRAGMA table_info(orders)").fetchall()
    assert [(c[1], c[2]) for c in columns] == [
        ("id", "INTEGER"), ("customer", "TEXT"), ("amount", "REAL"), ("status", "TEXT"),
        ("updated_at", "TIMESTAMP")]
    data = rows(path)
    assert len(data) == ORDER_COUNT
    stamps = [datetime.fromisoformat(str(r[4])).replace(tzinfo=UTC) for r in data]
    assert all(NOW - timedelta(days=30) <= s <= NOW for s in stamps)
    assert max(stamps) - min(stamps) > timedelta(days=25)  # spread, not bunched
    assert all(isinstance(r[2], float) and r[2] > 0 for r in data)
    assert not list(tmp_path.glob("*.partial"))


def test_shop_db_is_deterministic(tmp_path: Path) -> None:
    write_shop_db(tmp_path / "a.db", NOW)
    write_shop_db(tmp_path / "b.db", NOW)
    assert rows(tmp_path / "a.db") == rows(tmp_path / "b.db")


def test_shop_db_is_left_alone_when_present(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    write_shop_db(path, NOW)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM orders WHERE id > 10")
    assert write_shop_db(path, NOW) is False
    assert len(rows(path)) == 10


def test_event_files_one_per_day_with_mtime_in_that_day(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    assert write_event_files(folder, NOW) is True
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [
        "events_2026-03-12.csv", "events_2026-03-13.csv", "events_2026-03-14.csv"]
    assert len(files) == EVENT_DAYS
    event_ids: list[int] = []
    for path in files:
        day = datetime.strptime(path.stem.split("_")[1], "%Y-%m-%d").replace(tzinfo=UTC)
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            assert tuple(next(reader)) == EVENT_COLUMNS
            body = list(reader)
        assert len(body) == EVENTS_PER_FILE
        for event_id, user_id, _event_type, occurred_at in body:
            moment = datetime.strptime(occurred_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            assert day <= moment < day + timedelta(days=1)
            assert 1 <= int(user_id) <= 50
            event_ids.append(int(event_id))
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        assert day <= mtime < day + timedelta(days=1)
    assert event_ids == list(range(1, EVENT_DAYS * EVENTS_PER_FILE + 1))


def test_event_files_are_not_rewritten(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    write_event_files(folder, NOW)
    (folder / "events_2026-03-12.csv").write_text("event_id\n")
    assert write_event_files(folder, NOW + timedelta(days=5)) is False
    assert (folder / "events_2026-03-12.csv").read_text() == "event_id\n"
    assert len(list(folder.glob("*.csv"))) == EVENT_DAYS
