"""Events on a real mount: `vipfs events --follow` prints an upload's `queued` and `uploaded`
as they happen and ends when the mount goes; an `--on-event` hook gets each event in its
environment (never the key); the history and its seq numbers survive a remount."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import KEY, Emulator, Mount, sh, vipfs, wait_for

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]


@pytest.fixture
def follow() -> Iterator[Callable[[Path], tuple[subprocess.Popen[str], list[str]]]]:
    """`vipfs events MNT --follow`, its lines collected as they come; stopped at the end."""
    started: list[tuple[subprocess.Popen[str], threading.Thread]] = []

    def start(mount: Path) -> tuple[subprocess.Popen[str], list[str]]:
        process = subprocess.Popen(
            [sys.executable, "-m", "vipfs", "events", str(mount), "--follow"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []

        def collect() -> None:
            assert process.stdout is not None
            with process.stdout:
                lines.extend(iter(process.stdout.readline, ""))

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        started.append((process, reader))
        return process, lines

    yield start
    for process, reader in started:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        reader.join(30)  # it closes stdout at its end
        if process.stderr is not None:
            process.stderr.close()


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_follow_an_upload_and_a_hook_with_its_environment(
    emulator: Emulator,
    start_mount: StartMount,
    follow: Callable[[Path], tuple[subprocess.Popen[str], list[str]]],
    tmp_path: Path,
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    mount = start_mount(
        emulator, "--write-back", "0.2",
        "--on-event", f'env > "{hooks}/new" && mv "{hooks}/new" "{hooks}/$VIPFS_SEQ.$VIPFS_EVENT"',
        key_file=False, env={"VIPFS_KEY": KEY},  # the key in the mount's environment at start
    )  # fmt: skip
    following, lines = follow(mount.path)
    (tmp_path / "clip.mp4").write_bytes(os.urandom(30_000))
    assert sh("cp", tmp_path / "clip.mp4", mount.path / "clip.mp4").returncode == 0

    wait_for("the uploaded event", lambda: len(lines) >= 2)
    queued, uploaded = (json.loads(line) for line in lines[:2])
    (host_file,) = emulator.live_files()
    assert list(queued) == [
        "seq", "time", "event", "path", "code", "link", "source", "detail", "member",
    ]  # fmt: skip
    assert queued["member"] is None  # a single-host mount
    assert (queued["seq"], queued["event"], queued["path"]) == (1, "queued", "clip.mp4")
    assert (uploaded["seq"], uploaded["event"], uploaded["path"]) == (2, "uploaded", "clip.mp4")
    assert (uploaded["code"], uploaded["source"]) == (host_file["code"], "upload")

    wait_for(
        "both hooks", lambda: sorted(p.name for p in hooks.iterdir()) == ["1.queued", "2.uploaded"]
    )
    env = _env_file(hooks / "2.uploaded")  # written whole, then renamed
    assert (env["VIPFS_EVENT"], env["VIPFS_PATH"]) == ("uploaded", "clip.mp4")
    assert (env["VIPFS_CODE"], env["VIPFS_SEQ"]) == (host_file["code"], "2")
    assert env["VIPFS_MOUNT"] == str(mount.path) and env["VIPFS_DETAIL"] == ""
    for hook in hooks.iterdir():
        assert KEY not in hook.read_text(), f"{hook.name} holds the key"

    assert sh("fusermount3", "-u", mount.path).returncode == 0
    mount.process.wait(30)
    assert following.wait(30) == 1
    assert following.stderr is not None
    assert following.stderr.read() == f"vipfs: {mount.path} is no longer mounted\n"


def test_history_and_seq_survive_a_remount(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    mount = start_mount(emulator, "--write-back", "0.2")
    (tmp_path / "a.mp4").write_bytes(os.urandom(20_000))
    assert sh("cp", tmp_path / "a.mp4", mount.path / "a.mp4").returncode == 0
    wait_for("the upload", lambda: len(vipfs("events", mount.path).stdout.splitlines()) == 2)
    before = vipfs("events", mount.path).stdout
    assert sh("fusermount3", "-u", mount.path).returncode == 0
    mount.process.wait(30)

    again = start_mount(emulator, "--write-back", "0.2", mountpoint=mount.path)
    assert vipfs("events", again.path).stdout == before  # the log in the state directory
    assert sh("cp", tmp_path / "a.mp4", again.path / "b.mp4").returncode == 0
    wait_for("the next events", lambda: len(vipfs("events", again.path).stdout.splitlines()) == 4)
    seqs = [json.loads(line)["seq"] for line in vipfs("events", again.path).stdout.splitlines()]
    assert seqs == [1, 2, 3, 4]


def test_events_of_a_directory_that_is_no_mount(tmp_path: Path) -> None:
    done = vipfs("events", tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"vipfs: {tmp_path} is not a vipfs mount (no .vipfs/events.jsonl)\n"
