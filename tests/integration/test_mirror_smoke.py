"""A mirror over two emulators, mounted for real (composed by hand: mirror_mount.py).

One copy in, each host gets it once; a host down meanwhile catches up, in order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, sh, unmount, wait_for

ROOT = Path(__file__).resolve().parents[2]


class Launcher:
    """Starts (and restarts, on the same state) the hand-composed mirror mount."""

    def __init__(self, tmp_path: Path, vip: Emulator, wish: Emulator) -> None:
        self.tmp_path, self.vip, self.wish = tmp_path, vip, wish
        self.mnt = tmp_path / "mnt"
        self.mnt.mkdir()
        self.process: subprocess.Popen[str] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        command = [
            sys.executable, "-m", "tests.integration.mirror_mount", str(self.mnt),
            str(self.tmp_path / "state"), str(self.vip.key_file),
            f"vip={self.vip.url}", f"wish={self.wish.url}",
        ]  # fmt: skip
        with open(self.tmp_path / f"mirror-{self.runs}.log", "w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stderr=log, text=True)
        deadline = time.monotonic() + 30
        while not os.path.ismount(self.mnt):
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, "not mounted after 30 s"
            time.sleep(0.05)

    def log(self) -> str:
        return (self.tmp_path / f"mirror-{self.runs}.log").read_text()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        unmount(self.mnt)

    def stop(self) -> None:
        unmount(self.mnt)
        if self.process is None:
            return
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def launcher(tmp_path: Path, start_emulator: Callable[..., Emulator]) -> Iterator[Launcher]:
    run = Launcher(tmp_path, start_emulator(), start_emulator())
    yield run
    run.stop()


@pytest.fixture
def mirror(launcher: Launcher) -> tuple[Path, Emulator, Emulator]:
    launcher.start()
    return launcher.mnt, launcher.vip, launcher.wish


def titles(emu: Emulator) -> list[str]:
    return sorted(f["title"] for f in emu.live_files())


def test_one_copy_in_each_host_once_and_a_down_host_catches_up(
    mirror: tuple[Path, Emulator, Emulator], tmp_path: Path
) -> None:
    mnt, vip, wish = mirror
    source = tmp_path / "clip.mp4"
    source.write_bytes(os.urandom(100_000))
    assert sh("mkdir", mnt / "Show").returncode == 0
    assert sh("cp", source, mnt / "Show" / "clip.mp4").returncode == 0
    wait_for("both hosts hold the clip", lambda: titles(vip) == titles(wish) == ["clip"])
    assert "Show" in vip.folders() and "Show" in wish.folders()
    members = sh("getfattr", "--only-values", "-n", "user.vipfs.members", mnt).stdout
    assert members == "vip,wish"

    wish.switch(down=True)
    assert sh("mkdir", mnt / "Later").returncode == 0
    assert sh("mv", mnt / "Show" / "clip.mp4", mnt / "Later" / "moved.mp4").returncode == 0
    assert sorted(os.listdir(mnt / "Later")) == ["moved.mp4"]  # the down host hides nothing
    wait_for("vip has the move", lambda: "Later" in vip.folders())
    wish.switch(down=False)
    wait_for("wish caught up", lambda: "Later" in wish.folders(), timeout=90)

    def moved(emu: Emulator) -> bool:
        folder = emu.folders()["Later"]
        return [f["title"] for f in emu.live_files() if f["fld_id"] == folder] == ["moved"]

    wait_for("wish holds the moved clip", lambda: moved(wish), timeout=90)
    assert moved(vip)
    assert len(vip.live_files()) == len(wish.live_files()) == 1


def test_rsync_into_the_mirror_then_again_transfers_nothing(
    mirror: tuple[Path, Emulator, Emulator], tmp_path: Path
) -> None:
    mnt, vip, wish = mirror
    tree = tmp_path / "tree"
    (tree / "Season 1").mkdir(parents=True)
    for name in ("a.mp4", "Season 1/b.mp4", "Season 1/c d.mp4"):
        (tree / name).write_bytes(os.urandom(20_000))
    first = sh("rsync", "-a", f"{tree}/", f"{mnt}/", timeout=120)
    assert first.returncode == 0, first.stderr
    want = ["a", "b", "c d"]
    wait_for("every file once on each host", lambda: titles(vip) == titles(wish) == want)
    again = sh("rsync", "-a", "--stats", f"{tree}/", f"{mnt}/", timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Number of regular files transferred: 0" in again.stdout
    assert titles(vip) == titles(wish) == want


def test_kill_9_mid_upload_then_a_remount_leaves_every_file_once_on_each_host(
    launcher: Launcher, tmp_path: Path
) -> None:
    vip, wish = launcher.vip, launcher.wish
    for emu in (vip, wish):
        emu.switch(node_bytes_per_sec=200_000)  # uploads take a few seconds
    launcher.start()
    for n in range(3):
        (tmp_path / f"v{n}.mp4").write_bytes(os.urandom(400_000))
        assert sh("cp", tmp_path / f"v{n}.mp4", launcher.mnt).returncode == 0
    wait_for("an upload is under way", lambda: vip.calls().get("upload", 0) > 0)
    launcher.kill()
    for emu in (vip, wish):
        emu.switch(node_bytes_per_sec=0)
    launcher.start()
    want = ["v0", "v1", "v2"]
    wait_for("every file once on each host", lambda: titles(vip) == titles(wish) == want, 120)
    wait_for("nothing left to do", lambda: settled(launcher.mnt))
    assert titles(vip) == titles(wish) == want  # and nothing more arrived (no duplicate)


def settled(mnt: Path) -> bool:
    status = json.loads((mnt / ".vipfs" / "status.json").read_text())
    busy = any(status["queue"].get(k) for k in ("writing", "held", "queued", "uploading"))
    return not busy and not any(status["journal"].values())


def test_a_host_down_during_rsync_catches_up_with_folders_and_names(
    mirror: tuple[Path, Emulator, Emulator], tmp_path: Path
) -> None:
    mnt, vip, wish = mirror
    tree = tmp_path / "tree"
    (tree / "Season 1" / "Extras").mkdir(parents=True)
    for name in ("a.mp4", "Season 1/b.mp4", "Season 1/Extras/c.mp4"):
        (tree / name).write_bytes(os.urandom(20_000))
    wish.switch(down=True)
    done = sh("rsync", "-a", f"{tree}/", f"{mnt}/", timeout=120)
    assert done.returncode == 0, done.stderr
    want = ["a", "b", "c"]
    wait_for("vip holds the tree", lambda: titles(vip) == want)
    assert titles(wish) == []  # (the emulator's own /_emu/ answers while it is "down")
    wish.switch(down=False)
    wait_for("wish caught up", lambda: titles(wish) == want, timeout=90)
    folders = {"", "Season 1", "Season 1/Extras"}
    assert set(vip.folders()) == set(wish.folders()) == folders
    for emu in (vip, wish):  # each file in its own folder, under its final name
        where = {v: k for k, v in emu.folders().items()}
        placed = sorted((where[f["fld_id"]], f["title"]) for f in emu.live_files())
        assert placed == [("", "a"), ("Season 1", "b"), ("Season 1/Extras", "c")]
    wait_for("nothing left to do", lambda: settled(mnt))
    again = sh("rsync", "-a", "--stats", f"{tree}/", f"{mnt}/", timeout=120)
    assert "Number of regular files transferred: 0" in again.stdout
