"""What every file connector shares: its connection test, its listing and its reads, on the
filesystem its `FileSystemOpener` opens (its source params and data: files/file_spec.py).

Every file connector (local folder, S3, SFTP, Azure Blob) writes one `FileSystemOpener`, which
turns a connection's auth params into a `FileLocation` (sluice.connectors.files.location), and
builds itself from it and its spec (`file_connection_spec`, in a `*_spec` module of its own)
with `file_connector`. Selection, formats, windows, listing and the connection test are then
the same for all of them (see docs/connectors/files.md).

An opener only opens: it checks the params (the host guard included) and raises
`ConnectionTestFailed` for a verdict the user must act on. Any other exception it raises
(a refused connection, a timeout) is taken as "the storage cannot be reached right now".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice.connectors.contract import (
    ConnectionSpec,
    ConnectionTester,
    ConnectorContext,
    FunctionConnector,
    ObjectLister,
    SourceOpener,
)
from sluice.connectors.errors import (
    ConnectionTestFailed,
    ExploreError,
    SourceReadError,
    TerminalReadError,
    TransientReadError,
    read_error_type,
)
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreItem, ObjectType
from sluice.connectors.files.location import FileLocation, FileSystemOpener
from sluice.connectors.files.reader import read_files
from sluice.connectors.files.selection import (
    PathRefusedError,
    StorageFailure,
    describe_storage_failure,
    entry_path,
    is_hidden,
    is_local,
    modified_time,
    relative_parts,
    resolve_local,
    storage_failure,
)
from sluice.connectors.reading import ReadRequest, SourceRead


def file_connector(
    spec: ConnectionSpec,
    *,
    opener: FileSystemOpener,
    validate_auth: ConnectionTester,
    tester: ConnectionTester | None = None,
) -> FunctionConnector:
    """A file connector of `spec` (see `file_connection_spec`): the reads and listing every file
    connector shares, on `opener`'s filesystem. `tester` replaces `file_connection_tester(opener)`
    for a connector whose test says more (S3 tells a missing bucket from refused keys)."""
    return FunctionConnector(
        spec,
        test_connection=tester if tester is not None else file_connection_tester(opener),
        validate_params=validate_auth,
        lister=file_lister(opener),
        opener=file_source_reader(opener),
    )


def _open_for_read(
    opener: FileSystemOpener, context: ConnectorContext, auth: Mapping[str, Any]
) -> FileLocation:
    """The opener's location; its failures as SourceReadError (a verdict is terminal)."""
    try:
        return opener(context, auth)
    except ConnectionTestFailed as error:
        raise TerminalReadError(str(error)) from None
    except SourceReadError:
        raise
    except Exception as error:
        raise TransientReadError(
            f"The storage could not be reached: {describe_storage_failure(error)}",
        ) from None


def file_source_reader(opener: FileSystemOpener) -> SourceOpener:
    """`Connector.read` of a file connector."""

    def open_source(
        context: ConnectorContext,
        auth: Mapping[str, Any],
        source: Mapping[str, Any],
        request: ReadRequest,
    ) -> SourceRead:
        location = _open_for_read(opener, context, auth)
        try:
            return read_files(location, source, request)  # the read closes the location
        except BaseException:
            location.close()
            raise

    return open_source


def file_connection_tester(opener: FileSystemOpener) -> ConnectionTester:
    """`Connector.test` of a file connector: the root exists, is a folder, and lists."""

    def test_connection(context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        try:
            location = opener(context, auth)
        except ConnectionTestFailed:
            raise
        except Exception as error:
            raise ConnectionTestFailed(
                f"The storage could not be reached: {describe_storage_failure(error)}"
            ) from None
        with location:
            check_root(location)

    return test_connection


def check_root(location: FileLocation) -> None:
    """ConnectionTestFailed unless the location's root is a folder the credentials can list."""
    shown = repr(location.display)
    try:
        info = location.fs.info(location.root)
        if info.get("type") != "directory":
            raise ConnectionTestFailed(f"{shown} is a file, not a folder.")
        location.fs.ls(location.root, detail=False)
    except ConnectionTestFailed:
        raise
    except Exception as error:
        raise ConnectionTestFailed(_failure_message(location, error)) from None


def _failure_message(location: FileLocation, error: Exception) -> str:
    shown = repr(location.display)
    failure = storage_failure(error)
    if failure is StorageFailure.MISSING:
        return f"The folder {shown} does not exist."
    if failure is StorageFailure.DENIED:
        return f"Access to {shown} was denied: check the credentials and their permissions."
    if failure is StorageFailure.REFUSED:
        return (
            f"{shown} refused the request ({describe_storage_failure(error)}): check the"
            " credentials and the region."
        )
    return f"{shown} could not be reached: {describe_storage_failure(error)}"


def file_lister(opener: FileSystemOpener) -> ObjectLister:
    """`Connector.explore` of a file connector: the folders and files in a folder."""

    def list_objects(
        context: ConnectorContext,
        auth: Mapping[str, Any],
        object_type: ObjectType,
        place: str | None,
    ) -> list[ExploreItem]:
        with _open_for_read(opener, context, auth) as location:
            return list_folder(location, object_type, place)

    return list_objects


def list_folder(
    location: FileLocation, object_type: ObjectType, place: str | None
) -> list[ExploreItem]:
    """The items directly inside `place` (a path relative to the root; None: the root)."""
    if object_type not in ("root", "folder", "file"):
        raise ExploreError(
            f"A file connection lists folders and files, not {object_type!r} objects."
        )
    try:
        parts = relative_parts("" if object_type == "root" else (place or ""))
    except PathRefusedError as error:
        raise ExploreError(str(error)) from None
    target = entry_path(location.root, parts)
    shown = "/".join(parts) or "/"
    if is_local(location) and parts and resolve_local(location.root, target) is None:
        # Missing, or a symlink out of the root: the same answer, so nothing leaks.
        raise ExploreError(f"The folder {shown!r} does not exist.")
    try:
        info = location.fs.info(target)
        if info.get("type") != "directory":
            found = _item(location, info)
            return [found] if found is not None else []
        entries = location.fs.ls(target, detail=True)
    except FileNotFoundError:
        raise ExploreError(f"The folder {shown!r} does not exist.") from None
    except Exception as error:
        if storage_failure(error) is StorageFailure.MISSING:
            raise ExploreError(f"The folder {shown!r} does not exist.") from None
        raise read_error_type(storage_failure(error) is StorageFailure.UNREACHABLE)(
            _failure_message(location, error),
        ) from None
    items = [item for entry in entries if (item := _item(location, entry)) is not None]
    items.sort(key=lambda item: (item.type != "folder", item.name))
    return items[:MAX_LISTED_OBJECTS]


def _item(location: FileLocation, info: Mapping[str, Any]) -> ExploreItem | None:
    """An entry as an explore item; None for hidden entries and anything outside the root."""
    name = str(info.get("name", "")).rstrip("/")
    root = location.root.rstrip("/")
    if root and not name.startswith(root + "/"):
        return None
    # Root "/" (an SFTP server's chroot) strips to "": its names start with "/", not "".
    relative = name[len(root) + 1 :] if root else name.lstrip("/")
    try:
        relative_parts(relative)
    except PathRefusedError:
        return None
    base = relative.rsplit("/", 1)[-1]
    if not relative or is_hidden(base):
        return None
    if is_local(location) and info.get("islink") and resolve_local(location.root, name) is None:
        return None  # a symlink out of the root (or dangling): runs skip it too
    if info.get("type") == "directory":
        return ExploreItem("folder", base, relative, can_preview=False, can_fetch_schema=False)
    return ExploreItem(
        "file",
        base,
        relative,
        can_preview=True,
        can_fetch_schema=True,
        size=int(info.get("size") or 0),
        modified_at=modified_time(info, default=None),
    )
