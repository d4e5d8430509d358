"""Which files a file-source run reads: paths kept under the root, globs, mtime windows.

The same rules hold on every fsspec backend. A user path is taken relative to the
connection's root and may not climb out of it (`..` is refused). On a local folder each match
is also resolved (symlinks followed) and skipped unless it stays inside the root; remote
stores have no symlinks, but a key with a `..` segment is skipped. Hidden files (a name
starting with '.', such as an upload in progress) are skipped. Modification times differ per
backend (`mtime`, `LastModified`, `last_modified`; numbers or datetimes) and are turned into
epoch seconds by `modified_time` alone.
"""

from __future__ import annotations

import enum
import errno
import glob
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fsspec.implementations.local import LocalFileSystem

from sluice.connectors.batching import one_line
from sluice.connectors.errors import (
    SourceMissingError,
    SourceReadError,
    TerminalReadError,
    UnreadableDataError,
    read_error_type,
)
from sluice.connectors.reading import SourceFile
from sluice.domain.windows import Window

if TYPE_CHECKING:
    from sluice.connectors.files.location import FileLocation

_GLOB_CHARACTERS = frozenset("*?[")
# Info keys holding a modification time, by backend: local/SFTP, S3, Azure Blob.
_MTIME_KEYS = ("mtime", "LastModified", "last_modified")


class PathRefusedError(UnreadableDataError):
    """A user path that would leave the connection's root."""

    def __init__(self, path: str) -> None:
        super().__init__(f"The path {path!r} must stay inside the connection's folder.")


class StorageFailure(enum.Enum):
    MISSING = "missing"  # no such bucket, folder or file: terminal
    DENIED = "denied"  # bad credentials or no permission: terminal
    REFUSED = "refused"  # the store rejected the request as malformed (HTTP 400): terminal
    UNREACHABLE = "unreachable"  # refused, timed out, reset: transient


def storage_failure(error: BaseException) -> StorageFailure:
    """What a backend's exception means. fsspec maps "not found" and "denied" to the Python
    exceptions; anything else a backend raises (botocore, asyncssh, azure) is a network
    failure worth retrying."""
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        return StorageFailure.MISSING
    if isinstance(error, PermissionError):
        return StorageFailure.DENIED
    if isinstance(error, OSError) and error.errno == errno.EINVAL:
        # fsspec's object stores raise this for an HTTP 400: a malformed session token, a
        # bucket in another region; retrying the same request cannot help.
        return StorageFailure.REFUSED
    return StorageFailure.UNREACHABLE


def describe_storage_failure(error: BaseException) -> str:
    """A backend's message on one line (backends do not echo credentials in messages)."""
    return one_line(str(error)) or type(error).__name__


def storage_error(location: FileLocation, error: BaseException, what: str) -> SourceReadError:
    """A failed storage call on `what` (a relative path) as a coded SourceReadError."""
    failure = storage_failure(error)
    if failure is StorageFailure.MISSING:
        message = f"{what!r} does not exist in {location.display!r}."
    elif failure is StorageFailure.DENIED:
        message = (
            f"Access to {what!r} in {location.display!r} was denied: check the credentials"
            " and their permissions."
        )
    elif failure is StorageFailure.REFUSED:
        message = (
            f"{location.display!r} refused the request for {what!r}"
            f" ({describe_storage_failure(error)}): check the credentials and the region."
        )
    else:
        message = f"{location.display!r} could not be reached: {describe_storage_failure(error)}"
    # CONNECTOR-1001: the source could not be read (the data itself was not at fault).
    return read_error_type(failure is StorageFailure.UNREACHABLE)(message)


def relative_parts(path: str) -> tuple[str, ...]:
    """The segments of a user path taken relative to the root; PathRefusedError if it climbs."""
    if "\x00" in path:
        raise PathRefusedError(path)
    parts = tuple(p for p in PurePosixPath(path.strip()).parts if p not in ("/", "."))
    if ".." in parts:
        raise PathRefusedError(path)
    return parts


def entry_path(root: str, parts: Iterable[str]) -> str:
    """The filesystem path of `parts` under `root`."""
    joined = "/".join(parts)
    if not root:
        return joined
    return f"{root.rstrip('/')}/{joined}" if joined else root


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def modified_time(info: Mapping[str, Any], default: float | None = 0.0) -> float | None:
    """A filesystem entry's modification time in epoch seconds, whatever the backend."""
    for key in _MTIME_KEYS:
        value = info.get(key)
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return aware.timestamp()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and value:
            try:
                return modified_time({key: datetime.fromisoformat(value)}, default)
            except ValueError:
                continue
    return default


def is_local(location: FileLocation) -> bool:
    return isinstance(location.fs, LocalFileSystem)


def resolve_local(root: str, path: str) -> str | None:
    """`path` with symlinks followed, if it exists and stays inside `root`; else None."""
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):  # gone, or a symlink loop
        return None
    return resolved.as_posix() if resolved.is_relative_to(root) else None


def relative_to_root(root: str, path: str) -> str | None:
    """`path` relative to `root`, if it lies under it without `..` segments; else None."""
    root = root.rstrip("/")
    path = path.rstrip("/")
    if root:
        if not path.startswith(root + "/"):
            return None
        path = path[len(root) + 1 :]
    else:
        path = path.lstrip("/")  # root "/" (an SFTP server's chroot): "/in/a.csv" -> "in/a.csv"
    if not path or ".." in path.split("/"):
        return None
    return path


@dataclass(frozen=True)
class SelectedFile:
    """A file of the run: its filesystem path, and how the run records it."""

    path: str
    file: SourceFile


def _described(location: FileLocation, path: str, info: Mapping[str, Any]) -> SelectedFile | None:
    """A regular file as a SelectedFile; None if hidden, outside the root, or not a file."""
    if is_hidden(path.rstrip("/").rsplit("/", 1)[-1]):
        return None
    if is_local(location):
        resolved = resolve_local(location.root, path)
        if resolved is None or not os.path.isfile(resolved):
            return None
        if resolved != path:
            try:
                path, info = resolved, location.fs.info(resolved)
            except OSError:  # removed since it was listed
                return None
    if info.get("type") != "file":
        return None
    relative = relative_to_root(location.root, path)
    if relative is None:
        return None
    modified = modified_time(info)
    assert modified is not None  # the default is a number
    return SelectedFile(path, SourceFile(relative, int(info.get("size") or 0), modified))


def _missing(location: FileLocation, path: str) -> SourceMissingError:
    return SourceMissingError(
        f"The source path {path!r} does not exist in {location.display!r}"
        " (no file, folder or glob match): check the source connection's params.path."
    )


def _matches(
    location: FileLocation, parts: tuple[str, ...], recursive: bool, path: str
) -> dict[str, Any]:
    """Path -> info of every entry matching the user path (a folder's files included).

    SourceMissingError when the path names nothing at all (no such file or folder, a glob
    that matches no entry): such a source would only ever "succeed" with 0 files. An existing
    folder with no file in it matches, and yields nothing.
    """
    fs = location.fs
    pattern = "/".join(parts)
    depth = None if recursive else 1
    if any(ch in _GLOB_CHARACTERS for ch in pattern):
        if recursive:
            head, _, last = pattern.rpartition("/")
            pattern = f"{head}/**/{last}" if head else f"**/{last}"
        root = glob.escape(location.root) if location.root else ""
        matched: dict[str, Any] = fs.glob(entry_path(root, [pattern]), detail=True)
        if not matched:
            raise _missing(location, path)
    else:
        target = entry_path(location.root, parts)
        try:
            matched = {target: fs.info(target)}
        except FileNotFoundError:
            raise _missing(location, path) from None
    found: dict[str, Any] = {}
    for path, info in matched.items():
        if info.get("type") == "directory":
            inside = fs.find(path, maxdepth=depth, detail=True)
            if depth is not None:  # adlfs (Azure Blob) ignores maxdepth: keep direct children
                folder = path.rstrip("/") + "/"
                inside = {p: i for p, i in inside.items() if "/" not in p.removeprefix(folder)}
            found.update(inside)
        else:
            found[path] = info
    return found


def select_files(
    location: FileLocation, path: str, recursive: bool, window: Window | None
) -> list[SelectedFile]:
    """The files under the root matching `path` (a file, folder or glob) whose mtime is in
    `window`, oldest first."""
    parts = relative_parts(path)
    try:
        root_info = location.fs.info(location.root)
    except Exception as error:
        if storage_failure(error) is StorageFailure.MISSING:
            raise TerminalReadError(f"The folder {location.display!r} does not exist.") from None
        raise storage_error(location, error, "/") from None
    if root_info.get("type") != "directory":
        raise TerminalReadError(f"{location.display!r} is a file, not a folder.")
    try:
        matches = _matches(location, parts, recursive, path)
        selected: dict[str, SelectedFile] = {}
        for candidate, info in matches.items():
            described = _described(location, candidate, info)
            if described is None or described.path in selected:
                continue
            if window is None or window.contains(described.file.modified_at):
                selected[described.path] = described
    except SourceReadError:
        raise
    except Exception as error:
        raise storage_error(location, error, path) from None
    return sorted(selected.values(), key=lambda s: (s.file.modified_at, s.file.path))


def listed_files(location: FileLocation, files: Iterable[SourceFile]) -> list[SelectedFile]:
    """The files of an earlier run, as they are now; SourceReadError if one is gone."""
    result = []
    for listed in files:
        target = entry_path(location.root, relative_parts(listed.path))
        try:
            described = _described(location, target, location.fs.info(target))
        except Exception as error:
            if storage_failure(error) is not StorageFailure.MISSING:
                raise storage_error(location, error, listed.path) from None
            described = None
        if described is None:
            raise UnreadableDataError(
                f'File "{listed.path}", read by the original run, no longer exists.',
            )
        result.append(described)
    return result
