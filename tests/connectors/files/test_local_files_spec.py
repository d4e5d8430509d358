"""The local-folder connection test: an existing, readable folder inside the allowed roots."""

from __future__ import annotations

from pathlib import Path

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.files.local import CONNECTOR
from support.connector_reads import connection_test_failure


def failure_of(context: ConnectorContext, root_path: str) -> str:
    return str(connection_test_failure(CONNECTOR, context, {"rootPath": root_path}))


def test_folder_inside_the_root_passes(context: ConnectorContext, allowed_root: Path,
                                       tmp_path: Path) -> None:
    (allowed_root / "sales").mkdir()
    (allowed_root / "sales" / "2024.csv").write_text("id\n1\n")
    CONNECTOR.test(context, {"rootPath": str(allowed_root / "sales")})
    (tmp_path / "sales").mkdir()  # the same folder outside the root
    assert "outside" in failure_of(context, str(tmp_path / "sales"))


def test_the_allowed_root_itself_passes(context: ConnectorContext, allowed_root: Path) -> None:
    CONNECTOR.test(context, {"rootPath": str(allowed_root)})
    assert "outside" in failure_of(context, str(allowed_root.parent))


def test_missing_folder_fails(context: ConnectorContext, allowed_root: Path) -> None:
    assert "does not exist" in failure_of(context, str(allowed_root / "nope"))


def test_file_instead_of_folder_fails(context: ConnectorContext, allowed_root: Path) -> None:
    (allowed_root / "data.csv").write_text("id\n1\n")
    assert "is a file, not a folder" in failure_of(context, str(allowed_root / "data.csv"))


def test_folder_outside_the_roots_is_refused(context: ConnectorContext, tmp_path: Path) -> None:
    message = failure_of(context, str(tmp_path))
    assert "outside" in message and str(tmp_path) in message


def test_dot_dot_escape_is_refused(context: ConnectorContext, allowed_root: Path) -> None:
    assert "outside" in failure_of(context, f"{allowed_root}/..")


def test_symlink_pointing_out_is_refused(context: ConnectorContext, allowed_root: Path,
                                         tmp_path: Path) -> None:
    (allowed_root / "shortcut").symlink_to(tmp_path)
    assert "outside" in failure_of(context, str(allowed_root / "shortcut"))


def test_relative_root_path_is_refused(context: ConnectorContext) -> None:
    assert "absolute" in failure_of(context, "sales")
