"""`rsync -av --delete SRC/ MNT/` into the root, twice, exits 0 (issue 11, items 1 and 7).

It once exited 23 on every run: rsync tried to delete `/.vipfs/*` (read-only) because readdir
of the root showed it. `.vipfs` is now reachable by name only, as ZFS's `.zfs`. The second run
deletes a file SRC lost: on a host with `file/delete` it goes, on one without it moves into
`vipfs-trash`, keeping its name and size there; `rm` inside the trash is then refused (EPERM)
without any API call, since nothing there can go further. The trash, like `.vipfs`, is not
listed in the root, so a third run does not try to empty it and exits 0 too.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, drained, sh, wait_for

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

TRASH = "vipfs-trash"
FEATURES = {"delete": "direct_link,delete,folder_delete", "no-delete": "direct_link"}
FILES = {"one.mp4": 3000, "two.mp4": 5000, "Album/three.mp4": 7000, "Album/four.mp4": 2000}
GOES = "Album/four.mp4"  # the file SRC loses before the second run


def make_source(root: Path) -> None:
    for rel, size in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((rel.encode() + b"\n") * (size // (len(rel) + 1) + 1))
        os.truncate(path, size)
        os.utime(path, ns=(1_500_000_000 * 10**9, 1_500_000_000 * 10**9))


def rsync_delete(src: Path, dst: Path, *extra: str) -> None:
    done = sh("rsync", "-av", "--delete", *extra, f"{src}/", f"{dst}/", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ".vipfs" not in done.stdout


@pytest.mark.parametrize("host", ["delete", "no-delete"])
def test_rsync_delete_into_the_root_twice(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path, host: str
) -> None:
    emu = start_emulator("--enable", FEATURES[host])
    src = tmp_path / "src"
    make_source(src)
    mount = start_mount(emu, "--write-back", "0.2")
    m = mount.path
    assert ".vipfs" not in os.listdir(m)  # out of readdir, yet there by name:
    assert (m / ".vipfs").is_dir() and "status.json" in os.listdir(m / ".vipfs")
    rsync_delete(src, m)
    wait_for("the uploads", lambda: drained(m))
    (src / GOES).unlink()
    rsync_delete(src, m)
    assert "four.mp4" not in os.listdir(m / "Album")
    wait_for("the uploads", lambda: drained(m))
    live = {f["title"] for f in emu.live_files()}
    assert live == {"one", "two", "three"} | ({"four"} if host == "no-delete" else set())
    if host == "delete":
        assert TRASH not in os.listdir(m)
        return
    # the trash keeps the name and the size; rm there is refused and costs no call
    trashed = m / TRASH / "four.mp4"
    assert os.listdir(m / TRASH) == ["four.mp4"]
    assert trashed.stat().st_size == FILES[GOES]
    emu.reset_calls()
    for _ in range(2):
        refused = sh("rm", "-f", trashed)
        assert refused.returncode != 0 and os.strerror(errno.EPERM) in refused.stderr
    assert trashed.exists() and not emu.calls(), emu.calls()
    assert mount.log().count("nothing in vipfs-trash can be removed") == 1
    assert json.loads((m / ".vipfs" / "status.json").read_text())  # still served by name
    # the trash is reachable by name but not listed: rsync never asks to empty it (which
    # only the website can), so the next run settles too, and the trash keeps its file
    assert TRASH not in os.listdir(m)
    rsync_delete(src, m)
    assert os.listdir(m / TRASH) == ["four.mp4"] and not emu.calls().get("file/edit")
