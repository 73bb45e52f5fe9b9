"""Folder modes and times persist across remounts (issue 10, item 6), on a real mount.

The host keeps neither, so vipfs keeps what chmod/utime set in its metadata db, by fld_id: a
second `rsync -a` after a remount with the same state directory has nothing to do, for folders
(once printed `.d..t......` for every one of them, on every run) as for files.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, vipfs

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]

FAST = ("--write-back", "0.5")
BASE_NS = 1_500_000_000 * 10**9
# folder → (mode, files in it); nested, with the modes rsync -a has to carry over
TREE: dict[str, tuple[int, int]] = {
    "Season one": (0o755, 2),
    "Season one/Extras": (0o750, 1),
    "Season one/Extras/Deleted scenes": (0o700, 2),
    "Season two": (0o711, 0),
    "Notes": (0o755, 1),
}


def make_source(root: Path) -> None:
    """The tree, with times set last (bottom up) as they would be on a real disk."""
    for folder, (_, count) in TREE.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            path = root / folder / f"Episode {i:02d}.mp4"
            path.write_bytes(f"{folder} {i}\n".encode() * 200)
            os.utime(path, ns=(BASE_NS + i * 10**9, BASE_NS + i * 10**9 + 123))
    for n, (folder, (mode, _)) in enumerate(sorted(TREE.items(), reverse=True)):
        (root / folder).chmod(mode)
        when = BASE_NS + n * 86_400 * 10**9 + 456_789  # sub-second parts too
        os.utime(root / folder, ns=(when, when))
    os.utime(root, ns=(BASE_NS - 10**9, BASE_NS - 10**9))


def rsync(src: Path, dst: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return sh("rsync", "-a", *extra, f"{src}/", f"{dst}/", timeout=300)


def umount(mount: Mount) -> None:
    """`vipfs umount`: returns once the queue is empty and the process has ended."""
    done = vipfs("umount", mount.path, "--timeout", "240", timeout=300)
    assert done.returncode == 0, done.stderr
    assert mount.process.poll() is not None, "umount returned while vipfs still runs"


def folder_attrs(root: Path) -> dict[str, tuple[int, int]]:
    """Every folder under `root` (itself as ".", not /.vipfs) → (permission bits, mtime s)."""
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(root) and d == ".vipfs")]
        st = os.stat(dirpath)
        found[os.path.relpath(dirpath, root)] = (stat.S_IMODE(st.st_mode), int(st.st_mtime))
    return found


def test_a_second_rsync_after_a_remount_changes_nothing(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    make_source(src)
    mount = start_mount(emulator, *FAST)
    first = rsync(src, mount.path)
    assert first.returncode == 0, first.stderr
    assert folder_attrs(mount.path) == folder_attrs(src)  # at once, before any upload
    umount(mount)
    again = start_mount(emulator, *FAST)  # the same state directory (this test's own)
    assert folder_attrs(again.path) == folder_attrs(src)
    second = rsync(src, again.path, "--itemize-changes")
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [], second.stdout  # no `.d..t`, no file line either


def test_chmod_and_touch_of_a_folder_survive_a_remount(
    emulator: Emulator, start_mount: StartMount
) -> None:
    emulator.api("folder/create", name="Left alone", parent_id=0)  # not vipfs's: defaults
    mount = start_mount(emulator, *FAST)
    folder = mount.path / "Keep these"
    folder.mkdir()
    emulator.reset_calls()
    assert sh("chmod", "0750", folder).returncode == 0
    assert sh("touch", "-d", "@1500000000.25", folder).returncode == 0
    sent = {"folder/edit", "folder/create", "file/edit"} & set(emulator.calls())
    assert not sent, emulator.calls()  # nothing reaches the host
    umount(mount)
    assert "Keep these" in emulator.folders()
    again = start_mount(emulator, *FAST)
    st = os.stat(again.path / "Keep these")
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o750, 1_500_000_000_250_000_000)
    assert stat.S_IMODE(os.stat(again.path / "Left alone").st_mode) == 0o755  # the default


def test_mkdir_keeps_the_mode_it_was_given_under_the_callers_umask(
    emulator: Emulator, start_mount: StartMount
) -> None:
    """The kernel applies the caller's umask before vipfs sees mkdir's mode."""
    mount = start_mount(emulator, *FAST)
    umask = os.umask(0o027)
    try:
        os.mkdir(mount.path / "Shared", 0o777)
        os.mkdir(mount.path / "Mine", 0o700)
    finally:
        os.umask(umask)
    umount(mount)
    again = start_mount(emulator, *FAST)
    assert stat.S_IMODE(os.stat(again.path / "Shared").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(again.path / "Mine").st_mode) == 0o700
