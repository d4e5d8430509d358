"""The SQLite connection test: read-only, and only inside the allowed roots."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.sqlite.spec import CONNECTOR
from support.connector_reads import connection_test_failure


def make_database(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        connection.commit()
    return path


def failure_of(context: ConnectorContext, path: str) -> str:
    return str(connection_test_failure(CONNECTOR, context, {"path": path}))


def test_database_inside_the_root_passes(context: ConnectorContext, allowed_root: Path,
                                         tmp_path: Path) -> None:
    CONNECTOR.test(context, {"path": str(make_database(allowed_root / "shop.db"))})
    assert "outside" in failure_of(context, str(make_database(tmp_path / "shop.db")))


def test_symlink_inside_the_root_to_a_database_inside_passes(
        context: ConnectorContext, allowed_root: Path) -> None:
    make_database(allowed_root / "shop.db")
    (allowed_root / "alias.db").symlink_to(allowed_root / "shop.db")
    CONNECTOR.test(context, {"path": str(allowed_root / "alias.db")})
    (allowed_root / "shop.db").unlink()  # the test opened the link's target, now gone
    assert "does not exist" in failure_of(context, str(allowed_root / "alias.db"))


def test_dot_dot_escape_is_refused(context: ConnectorContext, allowed_root: Path,
                                   tmp_path: Path) -> None:
    make_database(tmp_path / "secret.db")
    message = failure_of(context, f"{allowed_root}/../secret.db")
    assert "outside" in message


def test_absolute_path_outside_is_refused(context: ConnectorContext, tmp_path: Path) -> None:
    outside = make_database(tmp_path / "secret.db")
    assert "outside" in failure_of(context, str(outside))


def test_symlink_pointing_out_is_refused(context: ConnectorContext, allowed_root: Path,
                                         tmp_path: Path) -> None:
    (allowed_root / "innocent.db").symlink_to(make_database(tmp_path / "secret.db"))
    assert "outside" in failure_of(context, str(allowed_root / "innocent.db"))


def test_non_sqlite_file_fails_clearly(context: ConnectorContext, allowed_root: Path) -> None:
    text = allowed_root / "notes.db"
    text.write_text("id,total\n1,2.5\n" * 100)
    assert "is not a SQLite database" in failure_of(context, str(text))


def test_missing_file_fails_and_is_not_created(context: ConnectorContext,
                                               allowed_root: Path) -> None:
    assert "does not exist" in failure_of(context, str(allowed_root / "missing.db"))
    assert not (allowed_root / "missing.db").exists()


def test_directory_is_not_a_database_file(context: ConnectorContext, allowed_root: Path) -> None:
    assert "not a file" in failure_of(context, str(allowed_root))


def test_odd_characters_in_the_file_name_are_not_uri_syntax(
        context: ConnectorContext, allowed_root: Path) -> None:
    CONNECTOR.test(context, {"path": str(make_database(allowed_root / "a?mode=rwc#b %.db"))})
    assert "does not exist" in failure_of(context, str(allowed_root / "c?mode=rwc#d %.db"))
    assert [p.name for p in allowed_root.iterdir()] == ["a?mode=rwc#b %.db"]  # none created


def test_the_test_opens_read_only(context: ConnectorContext, allowed_root: Path) -> None:
    database = make_database(allowed_root / "shop.db")
    before = database.read_bytes()
    CONNECTOR.test(context, {"path": str(database)})
    assert database.read_bytes() == before
    assert sorted(p.name for p in allowed_root.iterdir()) == ["shop.db"]
