"""`vipfs demo` as a person runs it: in a terminal (tmux), stopped with Ctrl-C; its clips.

The demo runs under tmux so Ctrl-C comes from a real terminal, which signals the whole
foreground process group: exactly the case that once made the mount count one Ctrl-C twice.
`--data` keeps the demo's emulated account, so the test can look at it after the demo ended.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, sh, unmount, wait_for
from vipfs.emulator.demo import clips

pytestmark = pytest.mark.fuse


@dataclass
class Demo:
    socket: str  # tmux's -L: a server of this test's own
    mnt: Path
    data: Path
    rc_file: Path
    log_file: Path

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "demo", *keys], check=True)

    def screen(self) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p", "-J", "-t", "demo"],
            capture_output=True,
            text=True,
        )
        return out.stdout

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def exit_code(self) -> int | None:
        text = self.rc_file.read_text().strip() if self.rc_file.exists() else ""
        return int(text) if text else None


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: scripts/setup.sh test installs it")
    run = Demo(
        f"vipfs-test-{uuid.uuid4().hex[:8]}",
        tmp_path / "demo-mnt",
        tmp_path / "demo-data",
        tmp_path / "demo.rc",
        tmp_path / "demo.stderr",
    )
    # stderr (the mount's progress lines) goes to a file for the asserts; the demo's stdout, its
    # terminal and its process group are the pane's, as for a person.
    command = (
        f"{sys.executable} -m vipfs demo -v {run.mnt} --data {run.data} 2>{run.log_file}; "
        f"echo $? >{run.rc_file}.tmp; mv {run.rc_file}.tmp {run.rc_file}; sleep 600"
    )
    subprocess.run(
        [
            "tmux",
            "-L",
            run.socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            "200",
            "-y",
            "50",
        ],
        check=True,
        env={**os.environ, "SHELL": "/bin/sh"},
    )
    run.keys(command, "Enter")
    try:
        yield run
    finally:
        subprocess.run(["tmux", "-L", run.socket, "kill-server"], capture_output=True)
        unmount(run.mnt)


def host_files(start_emulator: Callable[..., Emulator], data: Path) -> set[tuple[str, str]]:
    """(title, sha256) of the live files the demo's account holds, read by a fresh emulator
    (the host drops the extension from a title at upload)."""
    emulator = start_emulator("--data", str(data / "host"))
    return {(f["title"], f["sha256"]) for f in emulator.live_files()}


def write_queue(mnt: Path, names: list[str]) -> None:
    """Copy a clip under each name: queued, uploading `--write-back` seconds after close."""
    clip = clips()[0]
    for name in names:
        (mnt / "Clips" / name).write_bytes(clip)


def test_one_ctrl_c_drains_the_queue(demo: Demo, start_emulator: Callable[..., Emulator]) -> None:
    wait_for("the demo's banner", lambda: "Press Ctrl-C" in demo.screen(), timeout=90)
    assert os.path.ismount(demo.mnt)
    # the banner's `vipfs status` hint runs as printed, from a shell with the user's PATH
    hint = next(line for line in demo.screen().splitlines() if "# then: " in line)
    status = subprocess.run(
        hint.split("# then: ", 1)[1], shell=True, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0 and "queue" in status.stdout.lower(), status
    names = [f"queued-{n}.mp4" for n in range(3)]
    write_queue(demo.mnt, names)
    demo.keys("C-c")
    wait_for("the demo to exit", lambda: demo.exit_code() is not None, timeout=120)
    said = demo.log()
    assert demo.exit_code() == 0, said
    assert "again" not in said, said  # one Ctrl-C counted once
    assert not os.path.ismount(demo.mnt)
    sha = hashlib.sha256(clips()[0]).hexdigest()
    wanted = {(name.removesuffix(".mp4"), sha) for name in names}
    assert wanted <= host_files(start_emulator, demo.data), said


def test_second_ctrl_c_stops_without_waiting(demo: Demo) -> None:
    wait_for("the demo's banner", lambda: "Press Ctrl-C" in demo.screen(), timeout=90)
    # the demo's emulator (its address is in the mount's log line) takes `late`'s upload at
    # 1 byte/s, so the drain is still busy whenever the second Ctrl-C comes
    found = re.search(r" from (127\.0\.0\.1:\d+)", demo.log())
    assert found, demo.log()
    switch = urllib.request.Request(
        f"http://{found[1]}/_emu/faults",
        data=json.dumps({"node_bytes_per_sec": 1.0, "slow_upload_names": "late"}).encode(),
        method="POST",
    )
    urllib.request.urlopen(switch, timeout=30).close()
    (demo.mnt / "Clips" / "late.mp4").write_bytes(clips()[0])
    demo.keys("C-c")
    wait_for("the drain to start", lambda: "1 uploading" in demo.log())
    demo.keys("C-c")
    wait_for("the demo to exit", lambda: demo.exit_code() is not None, timeout=120)
    said = demo.log()
    assert said.count("unmounting without waiting") == 1, said
    assert demo.exit_code() == 0, said
    assert not os.path.ismount(demo.mnt)


def test_the_demo_clips_are_videos(
    start_emulator: Callable[..., Emulator], start_mount: Callable[..., Mount]
) -> None:
    emulator = start_emulator("--seed-demo", "--enable", "direct_link")
    mount = start_mount(emulator)
    movies = sorted((mount.path / "Movies").iterdir())
    assert movies
    for movie in movies:
        probe = sh(
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=codec_name:format=duration", "-of", "default=nw=1", movie,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        assert "codec_name=h264" in probe.stdout and "duration=1.0" in probe.stdout, probe.stdout
        assert "video" in sh("file", "-b", "--mime-type", movie).stdout


def test_closing_the_terminal_stops_the_demo_cleanly(demo: Demo) -> None:
    """The children are out of the terminal's process group, so its hangup reaches only the
    demo, which must still unmount and stop the emulator instead of leaving them behind."""
    wait_for("the demo's banner", lambda: "Press Ctrl-C" in demo.screen(), timeout=90)
    found = re.search(r" from 127\.0\.0\.1:(\d+)", demo.log())
    assert found, demo.log()
    subprocess.run(["tmux", "-L", demo.socket, "kill-server"], check=True)
    wait_for("the mount to go", lambda: not os.path.ismount(demo.mnt))
    wait_for("the emulator to stop", lambda: not port_answers(int(found[1])))


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return True
    except OSError:
        return False


def test_ctrl_c_while_starting_stops_without_a_traceback(demo: Demo) -> None:
    """Ctrl-C before the banner (the emulator up, the mount maybe not yet) still ends the demo
    with one line and cleans up; whichever step it lands in, no traceback reaches the user."""
    emulator_args = f"--data {demo.data / 'host'}"
    wait_for(
        "the demo's emulator to start",
        lambda: any(
            emulator_args in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for pid in os.listdir("/proc")
            if pid.isdigit() and Path(f"/proc/{pid}/cmdline").exists()
        ),
        timeout=60,
    )
    demo.keys("C-c")
    wait_for("the demo to exit", lambda: demo.exit_code() is not None, timeout=120)
    said = demo.log() + demo.screen()
    assert "Traceback" not in said, said
    assert demo.exit_code() in (0, 130), said
    assert not os.path.ismount(demo.mnt)
