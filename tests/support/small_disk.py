"""A small disk for the lake, to fill up: a tmpfs mounted on a folder for the test's length.

Why a tmpfs: it gives a real ENOSPC from the kernel to every process writing there (delta-rs
writes its files from Rust, so no Python patch could fake the error where it happens), it
needs no image file, loop device or quota support, and it is gone at unmount. Mounting needs
root (CAP_SYS_ADMIN), which CI has (`.ci/run` runs as root) and which this sandbox allows;
`unshare -m` would not do, since the API server, the workers and the test must all see the
same mount. RLIMIT_FSIZE was the fallback considered: it limits the size of each file a
process writes (EFBIG, not ENOSPC), including its own log files, so it is a poorer model of
a full disk.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILLER = ".disk-filler"


def _mount_command(folder: Path, size_mb: int) -> list[str]:
    return ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(folder)]


@contextmanager
def small_disk(folder: Path, size_mb: int = 32) -> Iterator[Path]:
    """`folder` (created) on a tmpfs of `size_mb`, unmounted at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(_mount_command(folder, size_mb), capture_output=True, text=True,
                             check=False, timeout=30)
    if mounted.returncode != 0:
        raise RuntimeError("the crash matrix mounts a small tmpfs as the lake and needs root "
                           f"for it (CI runs as root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False,
                       timeout=30)


def fill(folder: Path) -> int:
    """Write a filler file until the disk under `folder` is full; the bytes written."""
    written = 0
    chunk = b"\0" * (1 << 20)
    with (folder / FILLER).open("wb", buffering=0) as filler:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    written += filler.write(chunk[:size])
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    return written


def free(folder: Path) -> None:
    """Remove the filler: the disk has room again."""
    os.unlink(folder / FILLER)
