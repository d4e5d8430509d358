"""Checking at create (and patch) time that a source connection names something that exists.

A table that does not exist, or a file path that matches nothing, is refused with
FLOW-1493-400 naming it, when the source can be reached. A source that cannot be reached
(down, refused credentials, a network blip) is accepted as before, with a warning saying the
check could not be made: a source may legitimately be unreachable from Sluice at setup time.
Only databases and cloud storage are probed (a zero-row read: a reflection or a listing);
other connectors (REST APIs) are not called at create time. A file path is checked up to its
first glob segment: `in/*.csv` needs the folder `in`, not a matching file yet (files may
arrive after the source is set up; a run whose glob matches nothing fails, CONNECTOR-1002).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice.connectors.contract import Connector, ConnectorContext
from sluice.connectors.errors import ConnectorError, SourceMissingError
from sluice.connectors.reading import ReadRequest
from sluice.domain.errors import bad_request

PROBED_CATEGORIES = frozenset({"database", "cloudStorage"})
SOURCE_MISSING = 1493


def check_source_exists(
    context: ConnectorContext,
    connector: Connector,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
) -> str | None:
    """None when the source exists (or is not probed); a warning when it could not be
    reached; FLOW-1493-400 when it was reached and the table or path does not exist."""
    if connector.spec.category not in PROBED_CATEGORIES:
        return None
    missing: str | None = None
    try:
        probe = _fixed_part(source) if connector.spec.source_kind == "file" else source
        read = connector.read(context, auth, probe, ReadRequest(window=None, limit=0))
        read.close()
    except SourceMissingError as error:
        missing = error.message
    except Exception as error:  # unreachable, refused, or a connector's own failure
        detail = error.message if isinstance(error, ConnectorError) else type(error).__name__
        return (
            "The source could not be checked (is it reachable?), so it was accepted without "
            f"checking that its table or path exists: {detail}"
        )
    if missing is not None:
        raise bad_request(SOURCE_MISSING, f"The source does not exist: {missing}")
    return None


_GLOB_CHARACTERS = frozenset("*?[")


def _fixed_part(source: Mapping[str, Any]) -> dict[str, Any]:
    """The source with its path cut before the first segment holding a glob character."""
    params = dict(source.get("params") or {})
    fixed: list[str] = []
    for segment in str(params.get("path", "")).split("/"):
        if _GLOB_CHARACTERS & set(segment):
            break
        fixed.append(segment)
    params["path"] = "/".join(fixed)
    return {**source, "params": params}
