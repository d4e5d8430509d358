"""Keeping user-supplied file paths inside the folders the operator allows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class PathOutsideRootsError(ValueError):
    """A user-supplied path that is not usable, or resolves outside every allowed root.

    The message names the path the user gave (never the roots' contents or any secret), so it
    can be shown to the user as is.
    """

    def __init__(self, path: str, reason: str = "is outside the folders Sluice may read") -> None:
        super().__init__(f"The path {path!r} {reason}.")
        self.path = path


def resolve_inside_roots(path: str, roots: Iterable[Path]) -> Path:
    """Return `path` fully resolved (symlinks followed, `..` collapsed) if it lies inside one
    of `roots`; raise `PathOutsideRootsError` otherwise.

    Only absolute paths are accepted: a relative one would be ambiguous across several roots.
    The path need not exist. Callers should use the returned path, not `path`, from then on.
    """
    if not path or "\x00" in path:
        raise PathOutsideRootsError(path, "is not a valid path")
    candidate = Path(path)
    if not candidate.is_absolute():
        raise PathOutsideRootsError(path, "must be an absolute path")
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python 3.11)
        raise PathOutsideRootsError(path, "cannot be resolved (symlink loop?)") from error
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    raise PathOutsideRootsError(path)
