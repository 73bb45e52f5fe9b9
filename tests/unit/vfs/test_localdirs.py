"""Directories vipfs did not make: used only when private to the user, never chmodded."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vipfs.vfs.localdirs import DirError, check_dir, private_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_missing_dir_is_created_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        assert private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a" / "b") == 0o700


@pytest.mark.parametrize("bits", [0o700, 0o755, 0o750])
def test_an_existing_private_dir_is_used_as_it_is(tmp_path: Path, bits: int) -> None:
    path = tmp_path / "mine"
    path.mkdir()
    path.chmod(bits)
    assert not private_dir(path, f"--cache-dir {path}")
    assert mode(path) == bits


@pytest.mark.parametrize("bits", [0o770, 0o757, 0o1777])
def test_a_dir_others_can_write_is_refused_and_left_alone(tmp_path: Path, bits: int) -> None:
    path = tmp_path / "shared"
    path.mkdir()
    path.chmod(bits)
    with pytest.raises(DirError) as caught:
        private_dir(path, f"--cache-dir {path}")
    assert str(caught.value) == (
        f"refusing --cache-dir {path}: writable by group or others "
        "(use a directory of your own, mode 0700)"
    )
    assert mode(path) == bits


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_dir_of_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "theirs"
    path.mkdir(mode=0o700)
    os.chown(path, 4242, 4242)
    with pytest.raises(DirError, match="owned by uid 4242, not by you"):
        check_dir(path, f"--state-dir {path}")


def test_a_file_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(DirError, match="not a directory"):
        private_dir(tmp_path / "f", "--state-dir f")


def test_a_subdirectory_of_ours_is_never_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "spool").symlink_to(tmp_path / "real")
    with pytest.raises(DirError, match="symbolic link"):
        private_dir(tmp_path / "spool")
