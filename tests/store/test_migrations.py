"""Alembic migrations: from an empty database they build exactly the models, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from sluice.store.db import alembic_config, make_engine, upgrade_schema
from sluice.store.models import Base


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database with no tables at all (the PostgreSQL clone comes migrated)."""
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    try:
        assert inspect(engine).get_table_names() == []
        yield engine
    finally:
        engine.dispose()


def _diffs(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _index_text(index: Any) -> str:
    """An index as text; a partial index's predicate (a SQL clause object) by its SQL."""
    options = {key: str(value) for key, value in (index.get("dialect_options") or {}).items()}
    return str(sorted({**index, "dialect_options": options}.items()))


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Tables with their columns, indexes and foreign keys, as the database reports them."""
    inspector = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(_index_text(i) for i in inspector.get_indexes(table)),
            sorted(str(sorted(f.items())) for f in inspector.get_foreign_keys(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


def test_upgrade_from_empty_matches_the_models(empty_engine: Engine) -> None:
    upgrade_schema(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert tables - set(Base.metadata.tables) == {"alembic_version"}
    assert _diffs(empty_engine) == []
    head = ScriptDirectory.from_config(alembic_config(empty_engine)).get_current_head()
    assert head is not None
    assert _current_revision(empty_engine) == head


def test_second_upgrade_is_a_no_op(empty_engine: Engine) -> None:
    upgrade_schema(empty_engine)
    before, revision = _snapshot(empty_engine), _current_revision(empty_engine)
    upgrade_schema(empty_engine)
    assert _snapshot(empty_engine) == before
    assert _current_revision(empty_engine) == revision
    assert _diffs(empty_engine) == []


def test_the_models_differ_from_an_empty_database(empty_engine: Engine) -> None:
    """The comparison above can fail: against nothing it lists every table as missing."""
    missing = {diff[1].name for diff in _diffs(empty_engine) if diff[0] == "add_table"}
    assert missing == set(Base.metadata.tables)


def _filler(table: Any, **values: Any) -> dict[str, Any]:
    """A row of `table` with `values`, every other required column given a plain value."""
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name in values or column.nullable or column.server_default is not None:
            continue
        python_type = column.type.python_type
        row[column.name] = (
            {} if python_type is dict else 0 if python_type in (int, bool) else f"x-{column.name}"
        )
    return {**row, **values}


def test_upgrade_gives_existing_retriggers_their_chain(empty_engine: Engine) -> None:
    """Migration 0006 on a database that holds the defect it closes: a failed run with two
    successful re-triggers (the second a re-trigger of the first's sibling) and one failed."""
    from alembic import command
    from sqlalchemy import MetaData, insert, select

    config = alembic_config(empty_engine)
    command.upgrade(config, "0005")
    meta = MetaData()
    meta.reflect(empty_engine)
    orgs, sandboxes, flows, runs = (meta.tables[n] for n in ("orgs", "sandboxes", "flows", "runs"))
    tenant = {"org_id": "org", "sandbox_id": "sbx"}
    chain = [  # (id, retry_of, status, created_at)
        ("root", None, "failed", 1),
        ("r1", "root", "success", 2),
        ("r2", "root", "failed", 3),
        ("r3", "r2", "success", 4),
    ]
    with empty_engine.begin() as connection:
        connection.execute(insert(orgs), _filler(orgs, id="org"))
        connection.execute(insert(sandboxes), _filler(sandboxes, id="sbx", org_id="org"))
        connection.execute(insert(flows), _filler(flows, id="flow", **tenant))
        for run_id, retry_of, status, created in chain:
            connection.execute(insert(runs), _filler(
                runs, id=run_id, flow_id="flow", retry_of=retry_of, status=status,
                created_at=created, tick=None, **tenant))
    command.upgrade(config, "head")
    meta = MetaData()
    meta.reflect(empty_engine)
    with empty_engine.connect() as connection:
        roots = dict(connection.execute(select(meta.tables["runs"].c.id,
                                               meta.tables["runs"].c.retry_root)).all())
    # Every re-trigger points at the chain's first run, through a re-trigger of a re-trigger;
    # of the two successful ones only the newest keeps its place in the unique index.
    assert roots == {"root": None, "r1": None, "r2": "root", "r3": "root"}


# As in tests/conftest.py (which a test module cannot import by name: each folder has one).
PG_ADMIN_DSN = os.environ.get(
    "SLUICE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL_BASE = os.environ.get("SLUICE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture
def empty_postgresql_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (no template: nothing migrated yet)."""
    name = f"sluice_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_URL_BASE}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_processes_starting_together_upgrade_an_empty_postgresql_database_once(
    empty_postgresql_url: str,
) -> None:
    """Six processes of a fleet starting at once upgrade one empty database together: every
    upgrade succeeds and the schema is built once, at head. (An embedded SQLite database has
    one owning process, which upgrades it before any other.) Processes, not threads:
    Alembic's `context` is process-global."""
    upgrade = ("import sys; from sluice.store.db import make_engine, upgrade_schema; "
               "upgrade_schema(make_engine(sys.argv[1]))")
    processes = [
        subprocess.Popen([sys.executable, "-c", upgrade, empty_postgresql_url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(6)
    ]
    outputs = [process.communicate(timeout=300)[0].decode(errors="replace")
               for process in processes]
    assert [process.returncode for process in processes] == [0] * 6, outputs
    engine = make_engine(empty_postgresql_url)
    try:
        assert _diffs(engine) == []
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        assert _current_revision(engine) == head
    finally:
        engine.dispose()
