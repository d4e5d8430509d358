"""Removing data files no version of a Delta table references: what an attempt killed after
writing its Parquet files but before its commit leaves behind.

Such a file is invisible to readers (only the log says which files make a version) but takes
space, and nothing else ever removes it. A file is removed only when no commit in the log,
nor its checkpoint, adds or removes it (so time travel to any version the log still holds
keeps working), and it was last written before `written_before_ms`; the caller picks that
moment so that no live writer can still be staging the file (see engine/embedded_recovery).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

log = logging.getLogger(__name__)

LOG_DIR = "_delta_log"
_FILE_ACTIONS = ("add", "remove", "cdc")


def delta_tables_under(root: Path) -> Iterator[Path]:
    """Every Delta table (a folder holding `_delta_log`) below `root`."""
    if not root.is_dir():
        return
    for log_dir in sorted(root.rglob(LOG_DIR)):
        if log_dir.is_dir():
            yield log_dir.parent


def _referenced(table: Path) -> set[str]:
    referenced: set[str] = set()
    for entry in (table / LOG_DIR).iterdir():
        if entry.name.endswith(".json"):
            for line in entry.read_text(encoding="utf-8").splitlines():
                action = json.loads(line) if line.strip() else {}
                for kind in _FILE_ACTIONS:
                    if kind in action:
                        referenced.add(unquote(action[kind]["path"]))
        elif ".checkpoint" in entry.name and entry.name.endswith(".parquet"):
            # Here: the server's start-up sweep must not load pyarrow for checkpoint-less lakes.
            import pyarrow.parquet as pq

            columns = set(pq.read_schema(entry).names) & set(_FILE_ACTIONS)
            checkpoint = pq.read_table(entry, columns=sorted(columns))
            for kind in columns:
                for item in checkpoint.column(kind).to_pylist():
                    if item and item.get("path"):
                        referenced.add(unquote(item["path"]))
    return referenced


def _data_files(table: Path) -> Iterator[tuple[str, Path]]:
    for path in table.rglob("*.parquet"):
        relative = path.relative_to(table)
        if relative.parts[0] == LOG_DIR or any(p.startswith((".", "_")) for p in relative.parts):
            continue
        yield relative.as_posix(), path


def remove_orphan_files(table: Path, *, written_before_ms: int) -> list[str]:
    """Delete the table's unreferenced data files older than the cutoff; their paths."""
    if not (table / LOG_DIR).is_dir():
        return []
    referenced = _referenced(table)
    removed = []
    for relative, path in _data_files(table):
        if relative in referenced or path.stat().st_mtime * 1000 >= written_before_ms:
            continue
        path.unlink(missing_ok=True)
        removed.append(relative)
    if removed:
        log.info("Removed %d unreferenced data file(s) from %s.", len(removed), table)
    return removed
