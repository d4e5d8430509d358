"""resolve_inside_roots keeps user paths inside the allowed roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots


def test_path_inside_a_root_resolves(allowed_root: Path) -> None:
    (allowed_root / "data").mkdir()
    assert resolve_inside_roots(f"{allowed_root}/data/./x.csv", [allowed_root]) == (
        allowed_root / "data" / "x.csv")


def test_missing_path_inside_a_root_still_resolves(allowed_root: Path) -> None:
    assert resolve_inside_roots(f"{allowed_root}/later.db", [allowed_root]) == (
        allowed_root / "later.db")


def test_second_root_is_accepted(tmp_path: Path, allowed_root: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    assert resolve_inside_roots(str(other / "f"), [allowed_root, other]) == other.resolve() / "f"


@pytest.mark.parametrize("suffix", ["/../outside.db", "/sub/../../outside.db"])
def test_dot_dot_escape_is_refused(allowed_root: Path, suffix: str) -> None:
    with pytest.raises(PathOutsideRootsError):
        resolve_inside_roots(f"{allowed_root}{suffix}", [allowed_root])


def test_absolute_path_outside_is_refused(allowed_root: Path) -> None:
    with pytest.raises(PathOutsideRootsError, match="/etc/passwd"):
        resolve_inside_roots("/etc/passwd", [allowed_root])


def test_sibling_with_root_as_prefix_is_refused(tmp_path: Path, allowed_root: Path) -> None:
    sibling = tmp_path / "allowed-but-not-really"
    sibling.mkdir()
    with pytest.raises(PathOutsideRootsError):
        resolve_inside_roots(str(sibling / "x"), [allowed_root])


def test_symlink_pointing_out_is_refused(tmp_path: Path, allowed_root: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (allowed_root / "link").symlink_to(outside)
    with pytest.raises(PathOutsideRootsError):
        resolve_inside_roots(str(allowed_root / "link" / "x.db"), [allowed_root])


def test_symlink_loop_is_refused(allowed_root: Path) -> None:
    (allowed_root / "a").symlink_to(allowed_root / "b")
    (allowed_root / "b").symlink_to(allowed_root / "a")
    with pytest.raises(PathOutsideRootsError):
        resolve_inside_roots(str(allowed_root / "a" / "x"), [allowed_root])


@pytest.mark.parametrize("path", ["", "relative/x.db", "~/x.db", "/tmp/x\x00.db"])
def test_unusable_paths_are_refused(allowed_root: Path, path: str) -> None:
    with pytest.raises(PathOutsideRootsError):
        resolve_inside_roots(path, [allowed_root])


def test_no_roots_refuses_everything(allowed_root: Path) -> None:
    with pytest.raises(PathOutsideRootsError):
        resolve_inside_roots(str(allowed_root), [])


def test_error_is_a_value_error() -> None:
    assert issubclass(PathOutsideRootsError, ValueError)
