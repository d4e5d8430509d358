"""Helpers of the reader tests: PostgreSQL settings and auth params, reading a whole read."""

from __future__ import annotations

import os
import socket
from typing import Any

import psycopg
import pyarrow as pa

from sluice.connectors.reading import SourceRead

PG_HOST = os.environ.get("SLUICE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SLUICE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SLUICE_TEST_PG_USER", "postgres")
PG_DATABASE = os.environ.get("SLUICE_TEST_PG_DATABASE", "test")
# Recognizable, so a leak into any message is caught; URL-special characters on purpose.
FAKE_PASSWORD = "Fake-Pa55:w@rd/Reader"


def pg_dsn() -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={PG_DATABASE}"


def pg_auth(**overrides: Any) -> dict[str, Any]:
    return {"host": PG_HOST, "port": PG_PORT, "database": PG_DATABASE, "username": PG_USER,
            "password": FAKE_PASSWORD, "sslMode": "disable", **overrides}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_all(read: SourceRead) -> tuple[pa.Table, list[pa.RecordBatch]]:
    """Every batch of a read (closed afterwards), and them as one table of the read's schema."""
    try:
        batches = list(read.batches())
    finally:
        read.close()
    for batch in batches:
        assert batch.schema == read.schema
    return pa.Table.from_batches(batches, schema=read.schema), batches


def pg_execute(sql: str, params: Any = None) -> None:
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute(sql, params)  # type: ignore[arg-type]
