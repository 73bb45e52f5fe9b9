"""Held temp names and empty files on a real mount: what never reaches the host.

An editor's swap file is written and fsynced while the editor runs; it must stay in the
spool (issue 11, item 3). Each test checks the host (its files, its upload count) as well
as the mount.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import (
    Emulator,
    Mount,
    drained,
    settled_status,
    sh,
    status_xattr,
    vipfs,
    wait_for,
)

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]


def uploads(emu: Emulator) -> int:
    return int(emu.calls().get("upload", 0))


def queue(mnt: Path) -> dict[str, list[dict[str, object]]]:
    return dict(json.loads((mnt / ".vipfs/status.json").read_text())["queue"])


def test_fsync_of_a_swap_file_never_uploads_it(emulator: Emulator, start_mount: StartMount) -> None:
    mnt = start_mount(emulator, "--write-back", "0").path
    swap = mnt / ".notes.mp4.swp"
    fd = os.open(swap, os.O_CREAT | os.O_RDWR, 0o600)  # what vim does with its swap file
    try:
        os.pwrite(fd, b"b0VIM 9.0" + bytes(4087), 0)
        os.fsync(fd)
        os.pwrite(fd, b"U3210" * 100, 4096)
        os.fsync(fd)
    finally:
        os.close(fd)
    (mnt / "notes.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    wait_for("notes.mp4 uploaded", lambda: settled_status(mnt / "notes.mp4"))

    assert status_xattr(swap) == "held"
    assert [row["name"] for row in queue(mnt)["held"]] == [".notes.mp4.swp"]
    assert swap.stat().st_size == 4096 + 500
    assert uploads(emulator) == 1  # notes.mp4 alone
    assert [f["title"] for f in emulator.live_files() if "swp" in f["title"]] == []
    swap.unlink()
    assert queue(mnt)["held"] == []


def test_vim_saves_without_uploading_its_swap_file(
    emulator: Emulator, start_mount: StartMount
) -> None:
    mnt = start_mount(emulator, "--write-back", "0").path
    script = "-c", "call setline(1, 'edited by vim')", "-c", "wq"
    done = sh("vim", "-es", "-N", "-u", "NONE", "-i", "NONE", *script, mnt / "edit.mp4")
    assert done.returncode == 0, done.stderr
    wait_for("edit.mp4 uploaded", lambda: drained(mnt))

    assert (mnt / "edit.mp4").read_text() == "edited by vim\n"
    assert uploads(emulator) == 1
    assert sorted(f["title"] for f in emulator.live_files()) == ["edit"]
    assert [p.name for p in mnt.iterdir() if p.name.endswith(".swp")] == []


def test_an_empty_file_stays_local_and_says_why(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    mnt = start_mount(emulator, "--write-back", "0").path
    src = tmp_path / "src"
    src.mkdir()
    (src / "blank.mp4").touch()
    (src / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    done = sh("rsync", "-a", f"{src}/", mnt)  # the empty file arrives through a held temp name
    assert done.returncode == 0, done.stderr
    wait_for("clip.mp4 uploaded", lambda: settled_status(mnt / "clip.mp4"))

    why = "hosts cannot store empty files; kept here, not uploaded"
    assert status_xattr(mnt / "blank.mp4") == f"empty: {why}"
    assert [(r["name"], r["error"]) for r in queue(mnt)["empty"]] == [("blank.mp4", why)]
    assert (mnt / "blank.mp4").stat().st_size == 0
    assert uploads(emulator) == 1
    assert [f["title"] for f in emulator.live_files()] == ["clip"]
    said = vipfs("status", mnt)
    assert f"  empty      blank.mp4: {why}" in said.stdout.splitlines()


def test_an_empty_temp_file_of_a_killed_writer_goes_after_hold_idle(
    emulator: Emulator, start_mount: StartMount
) -> None:
    mount = start_mount(emulator, "--hold-idle", "1")
    mnt = mount.path
    temp = mnt / ".clip.mp4.Ab12Cd"
    hold_open = f"f = open({str(temp)!r}, 'wb'); print(flush=True); input()"
    with subprocess.Popen(
        [sys.executable, "-c", hold_open], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline() == b"\n"  # it is open
        assert queue(mnt)["writing"] != []  # open: writing, no idle timer runs
        writer.kill()  # rsync after kill -9: the kernel closes its file
    wait_for("the temp file to go", lambda: temp.name not in os.listdir(mnt))
    # the kernel may keep the name it looked up for its entry timeout (1 s), then asks again
    wait_for("its name to go", lambda: not temp.exists(), timeout=10)

    assert not any(queue(mnt).values())
    assert uploads(emulator) == 0
    assert "dropped .clip.mp4.Ab12Cd: an empty temp file left idle" in mount.log()
