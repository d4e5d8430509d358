"""Where a file connector reads: an opened fsspec filesystem and the root every read of the
connection stays under. Each file connector (local folder, S3, SFTP, Azure Blob) writes one
`FileSystemOpener`; everything else about files is shared (sluice.connectors.files.connector).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sluice.connectors.contract import ConnectorContext

if TYPE_CHECKING:
    import fsspec


@dataclass
class FileLocation:
    """An opened filesystem and the path prefix every read of the connection stays under.

    Whoever opens a location closes it (`close()`, or `with location:`) when the read, the
    listing or the test is over, so a connection (SSH, HTTP session) is not held until the
    garbage collector gets to it.
    """

    fs: fsspec.AbstractFileSystem
    # "bucket/prefix", "/home/u/data", "container/dir", or the resolved local folder; "" for
    # the whole store (an S3 connection without a bucket: the first segment is the bucket).
    root: str
    # How messages name the root, e.g. "s3://bucket/prefix"; never holds a secret.
    display: str
    # Releases what the filesystem holds open; called at most once.
    closer: Callable[[], object] | None = field(default=None, repr=False)

    def close(self) -> None:
        closer, self.closer = self.closer, None
        if closer is not None:
            closer()

    def __enter__(self) -> FileLocation:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# Opens the filesystem of a connection from its auth params; raises ConnectionTestFailed with
# a safe message.
FileSystemOpener = Callable[[ConnectorContext, Mapping[str, Any]], FileLocation]
