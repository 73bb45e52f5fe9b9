"""Writing into a real mount with rsync and cp, checked on the host: nothing lost, nothing twice.

The emulator is the host (a real HTTP server); `vipfs mount` runs as a subprocess; the tools
are the ones users run. `/_emu/files` is the host's truth: titles, folders, sizes and sha256.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import (
    Emulator,
    Mount,
    settled_status,
    sh,
    status_xattr,
    vipfs,
    wait_for,
)
from tests.integration.trees import assert_host_holds, make_tree, snapshot

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
StartEmulator = Callable[..., Emulator]

FAST = ("--write-back", "0.5")  # the default 5 s would make every test wait


def rsync(src: Path, dst: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return sh("rsync", "-a", *extra, f"{src}/", f"{dst}/", timeout=300)


def changes(itemized: str) -> list[str]:
    """What an `rsync --itemize-changes` run did to files or created: anything but a folder's
    own attributes (`.d...`), which a video host has no place to keep."""
    return [line for line in itemized.splitlines() if not line.startswith(".d")]


def umount(mount: Mount) -> None:
    """`vipfs umount`: returns once the queue is empty and the process has ended."""
    done = vipfs("umount", mount.path, "--timeout", "240", timeout=300)
    assert done.returncode == 0, done.stderr
    assert not os.path.ismount(mount.path)
    assert mount.process.poll() is not None, "umount returned while vipfs still runs"


def test_rsync_tree_then_umount_remount_and_rsync_again(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    expected = make_tree(src)
    assert len(expected) == 200
    mount = start_mount(emulator, *FAST)
    first = rsync(src, mount.path)
    assert first.returncode == 0, first.stderr
    assert snapshot(mount.path) == snapshot(src)  # queued files look right at once
    umount(mount)
    assert len(emulator.live_files()) == 200  # umount waited for every upload
    again = start_mount(emulator, *FAST)
    assert snapshot(again.path) == snapshot(src)
    assert_host_holds(emulator, again.path, expected)
    emulator.reset_calls()
    second = rsync(src, again.path, "--itemize-changes")
    assert second.returncode == 0, second.stderr
    assert changes(second.stdout) == []
    writes = {"upload", "upload/server", "file/edit", "folder/create", "folder/edit"}
    assert not writes & set(emulator.calls()), emulator.calls()  # and nothing sent to the host


class FaultPhases(threading.Thread):
    """Rate-limit refusals until one has been served, then 10% of 5xx pages and resets.

    One refusal is enough to check the path: each makes every call wait for the server's next
    minute (right for a real quota), so a steady 10% would take the test many minutes."""

    def __init__(self, emu: Emulator) -> None:
        super().__init__(daemon=True)
        self.emu = emu
        self.done = threading.Event()
        self.refused = threading.Event()

    def run(self) -> None:
        self.emu.switch(ratelimit=0.1)
        # time.sleep, not done.wait(timeout): under libfaketime a timed wait on a lock never
        # ends (sem_clockwait is not faked), and the suite must pass with the date faked.
        while not self.done.is_set():
            if self.emu.calls().get("faulted", 0) > 0:
                self.refused.set()
                break
            time.sleep(0.05)
        self.emu.switch(**{"ratelimit": 0.0, "5xx": 0.05, "reset": 0.05})

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.emu.switch(**{"ratelimit": 0.0, "5xx": 0.0, "reset": 0.0})


def test_rsync_through_5xx_resets_and_rate_limits(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    expected = make_tree(src)
    # an interactive call (rsync's mkdir) may wait out one rate-limit minute instead of EIO
    mount = start_mount(emulator, *FAST, "--op-timeout", "90")
    faults = FaultPhases(emulator)
    faults.start()
    try:
        first = rsync(src, mount.path)
        assert first.returncode == 0, first.stderr
        umount(mount)
    finally:
        faults.stop()
    assert faults.refused.is_set(), "no rate-limit refusal was served"
    assert emulator.calls()["faulted"] >= 10
    again = start_mount(emulator, *FAST)
    assert snapshot(again.path) == snapshot(src)
    assert_host_holds(emulator, again.path, expected)
    second = rsync(src, again.path, "--itemize-changes")
    assert second.returncode == 0 and changes(second.stdout) == [], second.stdout


def test_lost_upload_answers_make_no_second_copy(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """A truncated answer: the host did the work (stored the file) but vipfs cannot know."""
    src = tmp_path / "src"
    expected = make_tree(src, (("lost answers", 20),))  # 0.7**20: some POST loses its answer
    mount = start_mount(emulator, "--write-back", "1")
    assert sh("mkdir", mount.path / "lost answers").returncode == 0  # before: not an upload
    emulator.switch(truncated=0.3)
    try:
        copy = sh("cp", "-a", f"{src / 'lost answers'}/.", mount.path / "lost answers")
        assert copy.returncode == 0, copy.stderr
        umount(mount)
    finally:
        emulator.switch(truncated=0.0)
    calls = emulator.calls()
    assert calls["upload"] == len(expected), calls  # the node got each file once
    adopted = "stored by an earlier attempt" in mount.log()
    assert adopted, f"no lost answer to a POST was met: {calls}"
    again = start_mount(emulator, *FAST)
    assert_host_holds(emulator, again.path, expected)


def batch_of_videos(src: Path, count: int) -> dict[str, str]:
    """`count` files of 1 MiB of random bytes in `src`; path under src's parent → sha256."""
    src.mkdir(parents=True)
    expected: dict[str, str] = {}
    for i in range(count):
        data = random.Random(i).randbytes(1 << 20)
        (src / f"part {i:02d}.mp4").write_bytes(data)
        expected[f"{src.name}/part {i:02d}.mp4"] = hashlib.sha256(data).hexdigest()
    return expected


@pytest.mark.parametrize("stop", ["kill -9", "fusermount3 -u"])
def test_stopped_during_uploads_then_remount_uploads_each_file_once(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path, stop: str
) -> None:
    emu = start_emulator("--bandwidth-mbps", "16")  # 2 MB/s per upload: a 1 MiB file takes 0.5 s
    src = tmp_path / "src" / "batch"
    expected = batch_of_videos(src, 12)
    mount = start_mount(emu, "--write-back", "0.2", "--transfers", "2")
    assert sh("cp", "-a", src, mount.path).returncode == 0
    wait_for("the first upload", lambda: emu.live_files())
    if stop == "kill -9":
        os.kill(mount.pid, signal.SIGKILL)
        mount.process.wait(10)
    assert len(emu.live_files()) < len(expected), "everything was uploaded before the stop"
    assert sh("fusermount3", "-u", mount.path).returncode == 0  # the dead mount, or the live one
    mount.process.wait(60)
    again = start_mount(emu, *FAST)
    assert sorted(os.listdir(again.path / "batch")) == sorted(os.listdir(src))
    umount(again)  # the queue resumed at mount; umount waits for it
    third = start_mount(emu, *FAST)
    assert_host_holds(emu, third.path, expected)


def test_sigterm_waits_for_the_queue(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--bandwidth-mbps", "16")
    src = tmp_path / "src" / "batch"
    expected = batch_of_videos(src, 6)
    mount = start_mount(emu, "--write-back", "0.2", "--transfers", "2")
    assert sh("cp", "-a", src, mount.path).returncode == 0
    mount.process.send_signal(signal.SIGTERM)
    assert mount.process.wait(120) == 0
    assert not os.path.ismount(mount.path)
    assert len(emu.live_files()) == len(expected)  # all uploaded before the process ended
    again = start_mount(emu, *FAST)
    assert_host_holds(emu, again.path, expected)


def test_outage_during_uploads_loses_nothing(
    start_emulator: StartEmulator, start_mount: StartMount, tmp_path: Path
) -> None:
    emu = start_emulator("--bandwidth-mbps", "16")
    src = tmp_path / "src" / "batch"
    expected = batch_of_videos(src, 8)
    mount = start_mount(emu, "--write-back", "0.2", "--transfers", "2")
    assert sh("cp", "-a", src, mount.path).returncode == 0
    wait_for("the first upload", lambda: emu.live_files())
    emu.switch(down=True)
    try:
        assert sorted(os.listdir(mount.path / "batch")) == sorted(os.listdir(src))
        more = tmp_path / "during.mp4"  # writes are still accepted while the host is away
        more.write_bytes(b"written during the outage\n" * 1000)
        assert sh("cp", "-a", more, mount.path / "batch").returncode == 0
        expected["batch/during.mp4"] = hashlib.sha256(more.read_bytes()).hexdigest()
        time.sleep(2)  # uploads fail and back off meanwhile
    finally:
        emu.switch(down=False)
    umount(mount)
    again = start_mount(emu, *FAST)
    assert_host_holds(emu, again.path, expected)


def test_refused_file_keeps_its_data_and_says_why(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"not a video, but mine\n" * 500)
    mount = start_mount(emulator, "--write-back", "0.2")
    assert sh("cp", notes, mount.path).returncode == 0
    target = mount.path / "notes.txt"
    state = wait_for("the upload's end", functools.partial(settled_status, target))
    assert state.startswith("failed") and "Not video file" in state, state
    assert sh("cmp", target, notes).returncode == 0  # the data is kept and readable
    status = vipfs("status", mount.path)
    assert status.returncode == 0, status.stderr
    assert "notes.txt" in status.stdout and "Not video file" in status.stdout
    report = json.dumps(json.loads((mount.path / ".vipfs" / "status.json").read_text()))
    assert "notes.txt" in report and "Not video file" in report
    # the mount keeps working: a video after it goes up
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(50_000))
    assert sh("cp", "-a", clip, mount.path).returncode == 0
    wait_for("the video's upload", lambda: "ready" in status_xattr(mount.path / "clip.mp4")
             or "encoding" in status_xattr(mount.path / "clip.mp4"))  # fmt: skip
    assert [f["title"] for f in emulator.live_files()] == ["clip"]
    umount(mount)  # a failed file does not hold the unmount
    refusals = [line for line in mount.log().splitlines() if "Not video file" in line]
    assert len(refusals) == 1, refusals  # logged once, with the host's reason
    again = start_mount(emulator, *FAST)
    assert sh("cmp", again.path / "notes.txt", notes).returncode == 0
    assert "Not video file" in status_xattr(again.path / "notes.txt")
    umount(again)
    assert mount.log().count("Not video file") == 1  # not sent again after the remount


def test_size_holds_across_the_upload_and_the_refusal(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """The kernel caches what a lookup answers: a 0 size served at a state change would be
    read as an empty file (cmp, rsync's quick check) for a whole attr timeout."""
    mount = start_mount(emulator, "--write-back", "0.2")
    seen: list[tuple[str, str, int]] = []
    for i in range(16):
        name = f"file {i:02d}.{'txt' if i % 2 else 'mp4'}"
        (tmp_path / name).write_bytes(os.urandom(11_000))
        assert sh("cp", tmp_path / name, mount.path).returncode == 0
        final = wait_for(f"{name} to settle", functools.partial(settled_status, mount.path / name))
        seen.append((name, final.split(":")[0], os.stat(mount.path / name).st_size))
    wrong = [entry for entry in seen if entry[2] != 11_000]
    assert not wrong, wrong


def test_fsync_uploads_at_once_and_a_refusal_is_eio(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    mount = start_mount(emulator, "--write-back", "600")  # only fsync can start these uploads
    clip = tmp_path / "synced.mp4"
    clip.write_bytes(os.urandom(40_000))
    dd = sh("dd", f"if={clip}", f"of={mount.path / 'synced.mp4'}", "conv=fsync", "status=none")
    assert dd.returncode == 0, dd.stderr
    held = emulator.live_files()  # dd has returned: the host holds the file, titled
    assert [(f["title"], f["sha256"]) for f in held] == [
        ("synced", hashlib.sha256(clip.read_bytes()).hexdigest())]  # fmt: skip
    (tmp_path / "notes.txt").write_text("no video\n")
    dd = sh("dd", f"if={tmp_path / 'notes.txt'}", f"of={mount.path / 'notes.txt'}",
            "conv=fsync", "status=none")  # fmt: skip
    assert dd.returncode != 0 and "Input/output error" in dd.stderr
    assert len(emulator.live_files()) == 1
    assert (mount.path / "notes.txt").read_text() == "no video\n"


def test_sync_uploads_makes_close_upload_and_report(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    mount = start_mount(emulator, "--sync-uploads", "--write-back", "600")
    clip = tmp_path / "closed.mp4"
    clip.write_bytes(os.urandom(25_000))
    assert sh("cp", "-a", clip, mount.path).returncode == 0
    assert [f["title"] for f in emulator.live_files()] == ["closed"]  # on the host when cp ends
    (tmp_path / "notes.txt").write_text("no video\n")
    refused = sh("cp", tmp_path / "notes.txt", mount.path)
    assert refused.returncode != 0 and "Input/output error" in refused.stderr
    assert (mount.path / "notes.txt").read_text() == "no video\n"  # kept all the same


GIB = 1 << 30


def sha256_of_zeros(size: int) -> str:
    digest, block = hashlib.sha256(), bytes(1 << 24)
    for _ in range(size // len(block)):
        digest.update(block)
    return digest.hexdigest()


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


@pytest.mark.slow
def test_2_gib_file_keeps_vipfs_small(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    big = tmp_path / "big.mp4"
    assert sh("truncate", "-s", "2G", big).returncode == 0
    mount = start_mount(emulator, "--write-back", "0")
    # --sparse=never: cp writes all 2 GiB through FUSE instead of seeking over the holes
    assert sh("cp", "--sparse=never", big, mount.path, timeout=300).returncode == 0
    held = wait_for("the 2 GiB upload", lambda: [f for f in emulator.live_files()
                                                 if f["size"] == 2 * GIB], timeout=300)  # fmt: skip
    assert held[0]["sha256"] == sha256_of_zeros(2 * GIB)
    peak = vm_hwm_kib(mount.pid)
    assert peak < 200_000, f"vipfs peaked at {peak // 1024} MiB"
    assert sh("stat", "-c", "%s", mount.path / "big.mp4").stdout.strip() == str(2 * GIB)
    umount(mount)
    sh("rm", "-rf", tmp_path / "cache", tmp_path / "state")  # do not leave 2 GiB behind
