"""A mirror over two emulators, mounted for real (composed by hand: mirror_mount.py).

One copy in, each host gets it once; a host down meanwhile catches up, in order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, sh, unmount, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mirror(
    tmp_path: Path, start_emulator: Callable[..., Emulator]
) -> Iterator[tuple[Path, Emulator, Emulator]]:
    vip, wish = start_emulator(), start_emulator()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = open(tmp_path / "mirror.log", "w")  # noqa: SIM115 (closed at teardown)
    command = [
        sys.executable, "-m", "tests.integration.mirror_mount", str(mnt), str(tmp_path / "state"),
        str(vip.key_file), f"vip={vip.url}", f"wish={wish.url}",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stderr=log, text=True)
    deadline = time.monotonic() + 30
    while not os.path.ismount(mnt):
        assert process.poll() is None, (tmp_path / "mirror.log").read_text()
        assert time.monotonic() < deadline, "not mounted after 30 s"
        time.sleep(0.05)
    yield mnt, vip, wish
    unmount(mnt)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


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
