"""The demo's sample sources, generated with the standard library from a fixed seed:
a SQLite shop database (`orders`) and a folder of event CSV files."""

from __future__ import annotations

import csv
import os
import random
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20240601
ORDER_COUNT = 500
EVENT_DAYS = 3
EVENTS_PER_FILE = 40

CUSTOMERS = (
    "Ada Lovelace",
    "Alan Turing",
    "Barbara Liskov",
    "Claude Shannon",
    "Donald Knuth",
    "Edsger Dijkstra",
    "Frances Allen",
    "Grace Hopper",
    "John Backus",
    "Ken Thompson",
    "Leslie Lamport",
    "Margaret Hamilton",
    "Niklaus Wirth",
    "Radia Perlman",
    "Tony Hoare",
)
ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")
ORDER_STATUS_WEIGHTS = (10, 25, 25, 35, 5)
EVENT_TYPES = ("page_view", "search", "add_to_cart", "checkout", "purchase")
EVENT_TYPE_WEIGHTS = (50, 20, 15, 10, 5)
EVENT_COLUMNS = ("event_id", "user_id", "event_type", "occurred_at")


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _sql_timestamp(moment: datetime) -> str:
    """UTC wall time as SQLite itself writes it: `YYYY-MM-DD HH:MM:SS` (ISO 8601)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def write_shop_db(path: Path, now: datetime | None = None) -> bool:
    """Create `path` with ORDER_COUNT orders updated over the 30 days before `now`.

    Returns False (and leaves the file alone) when it already exists. The file appears whole
    or not at all: it is built under a temporary name and renamed."""
    if path.exists():
        return False
    now = now or _utc_now()
    rng = random.Random(SEED)  # noqa: S311 - sample data, deterministic on purpose
    offsets = sorted(rng.uniform(0, 30 * 86_400) for _ in range(ORDER_COUNT))
    rows = [
        (
            order_id,
            rng.choice(CUSTOMERS),
            round(rng.uniform(5, 500), 2),
            rng.choices(ORDER_STATUSES, ORDER_STATUS_WEIGHTS)[0],
            _sql_timestamp(now - timedelta(seconds=30 * 86_400 - offset)),
        )
        for order_id, offset in enumerate(offsets, start=1)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(partial)) as connection, connection:
        connection.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, "
            "amount REAL NOT NULL, status TEXT NOT NULL, updated_at TIMESTAMP NOT NULL)"
        )
        connection.execute("CREATE INDEX ix_orders_updated_at ON orders (updated_at)")
        connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)
    os.replace(partial, path)
    return True


def write_event_files(folder: Path, now: datetime | None = None) -> bool:
    """Write one CSV per day for the EVENT_DAYS days before `now`'s day, each file's
    modification time at the end of its day (so time windows pick files by day).

    Returns False (and writes nothing) when the folder already holds CSV files."""
    if folder.is_dir() and any(folder.glob("*.csv")):
        return False
    now = now or _utc_now()
    rng = random.Random(SEED + 1)  # noqa: S311 - sample data
    folder.mkdir(parents=True, exist_ok=True)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    event_id = 0
    for days_ago in range(EVENT_DAYS, 0, -1):
        day = today - timedelta(days=days_ago)
        moments = sorted(
            day + timedelta(seconds=rng.randrange(86_400)) for _ in range(EVENTS_PER_FILE)
        )
        target = folder / f"events_{day:%Y-%m-%d}.csv"
        partial = folder / f".{target.name}.partial"
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(EVENT_COLUMNS)
            for moment in moments:
                event_id += 1
                writer.writerow(
                    (
                        event_id,
                        rng.randint(1, 50),
                        rng.choices(EVENT_TYPES, EVENT_TYPE_WEIGHTS)[0],
                        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    )
                )
        end_of_day = (day + timedelta(days=1, seconds=-1)).timestamp()
        os.utime(partial, (end_of_day, end_of_day))
        os.replace(partial, target)
    return True
