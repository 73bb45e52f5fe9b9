"""Same content is not uploaded again (issue 11, item 2), on a real mount with the real rsync.

On a host without `file/direct_link` vipfs cannot read an uploaded file back, so `rsync -c`
cannot checksum what the mount holds and sends every file again on every run. vipfs knows the
sha256 of every file it uploaded: a file written again with the same content under the same
name only updates the metadata (mtime, mode). So the second run costs no upload, and the
trash folder never fills with identical copies.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, wait_for

pytestmark = pytest.mark.fuse

BASE_NS = 1_600_000_000 * 10**9
NAMES = ("Intro.mp4", "Part one.mp4", "Part two.mkv")


def make_source(src: Path) -> None:
    src.mkdir()
    for i, name in enumerate(NAMES):
        path = src / name
        path.write_bytes(f"{name} {i}\n".encode() * 500)
        path.chmod(0o640)
        os.utime(path, ns=(BASE_NS + i * 10**9, BASE_NS + i * 10**9))


def rsync_c(src: Path, dst: Path) -> subprocess.CompletedProcess[str]:
    return sh("rsync", "-a", "-c", f"{src}/", f"{dst}/", timeout=300)


def live_codes(emu: Emulator) -> dict[str, int]:
    """code → fld_id of every file the account holds."""
    return {f["code"]: int(f["fld_id"]) for f in emu.live_files()}


@pytest.mark.parametrize("trash", ["trash", "--no-trash"])
def test_rsync_c_twice_uploads_nothing_the_second_time(
    start_emulator: Callable[..., Emulator],
    start_mount: Callable[..., Mount],
    tmp_path: Path,
    trash: str,
) -> None:
    """With `--no-trash` on this host (no file/delete) a rename onto a file would be EPERM:
    a repeat removes nothing, so rsync exits 0 there too."""
    emu = start_emulator()  # no direct_link: the mount cannot read its files back
    extra = ["--no-trash"] if trash == "--no-trash" else []
    mount = start_mount(emu, "--write-back", "0.5", *extra)
    src = tmp_path / "src"
    make_source(src)

    first = rsync_c(src, mount.path)
    assert first.returncode == 0, first.stderr
    wait_for("the first uploads", lambda: drained(mount.path))
    stored = live_codes(emu)
    assert len(stored) == len(NAMES)
    assert set(stored.values()) == {0}

    emu.reset_calls()
    # a new mtime, which the second run carries over through the metadata alone
    later = BASE_NS + 3600 * 10**9
    for name in NAMES:
        os.utime(src / name, ns=(later, later))
    second = rsync_c(src, mount.path)
    assert second.returncode == 0, second.stderr
    wait_for("the second run to settle", lambda: drained(mount.path))

    calls = emu.calls()
    assert calls.get("upload", 0) == 0, calls
    assert live_codes(emu) == stored  # same files, none moved into vipfs-trash
    assert "vipfs-trash" not in os.listdir(mount.path)
    for name in NAMES:
        st = (mount.path / name).stat()
        assert st.st_mtime_ns == later
        assert stat.S_IMODE(st.st_mode) == 0o640
        assert st.st_size == (src / name).stat().st_size
    assert set(os.listdir(mount.path)) - {".vipfs"} == set(NAMES)
    assert "not uploading again: same content" in mount.log()


def test_cp_over_a_file_with_its_own_bytes_uploads_nothing_but_a_new_name_does(
    start_emulator: Callable[..., Emulator],
    start_mount: Callable[..., Mount],
    tmp_path: Path,
) -> None:
    """`cp` (open with O_TRUNC) of the same bytes onto the file: the metadata only. The same
    bytes under another name are another file the user asked for: cloned (no bytes sent), both
    kept."""
    emu = start_emulator()
    mount = start_mount(emu, "--write-back", "0.5")
    src = tmp_path / "src"
    make_source(src)
    first = sh("cp", src / NAMES[0], mount.path / NAMES[0])
    assert first.returncode == 0, first.stderr
    wait_for("the upload", lambda: drained(mount.path))
    stored = live_codes(emu)
    assert len(stored) == 1

    emu.reset_calls()
    again = sh("cp", src / NAMES[0], mount.path / NAMES[0])
    assert again.returncode == 0, again.stderr
    wait_for("the rewrite to settle", lambda: drained(mount.path))
    assert emu.calls().get("upload", 0) == 0
    assert live_codes(emu) == stored

    copy = sh("cp", src / NAMES[0], mount.path / "Copy.mp4")
    assert copy.returncode == 0, copy.stderr
    wait_for("the copy's upload", lambda: drained(mount.path))
    calls = emu.calls()  # another file: a clone of the first (`--dedupe`), with its own code
    assert calls.get("upload", 0) == 0 and calls.get("file/clone") == 1, calls
    assert len(live_codes(emu)) == 2
    assert set(os.listdir(mount.path)) - {".vipfs"} == {NAMES[0], "Copy.mp4"}
