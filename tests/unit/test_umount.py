"""`vipfs umount` finds the mount process whatever environment it was started in."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vipfs import umount


def test_the_pid_comes_from_status_json_without_any_pid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no pid file anywhere
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    mnt = tmp_path / "mnt"
    (mnt / ".vipfs").mkdir(parents=True)
    assert umount._mount_pid(mnt) is None
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "vipfs", "mount"]
    )
    try:
        deadline = time.monotonic() + 30  # until the child's exec shows in /proc (bounded)
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        while b"vipfs" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        (mnt / ".vipfs" / "status.json").write_text(json.dumps({"pid": process.pid}))
        assert umount._mount_pid(mnt) == process.pid
        (mnt / ".vipfs" / "status.json").write_text(json.dumps({"pid": 1}))  # not a vipfs
        assert umount._mount_pid(mnt) is None
    finally:
        process.kill()
        process.wait()


def test_a_directory_that_is_not_mounted_is_said_to_be_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not fusermount3's `Invalid argument`: one line naming the directory, exit 1."""
    args = argparse.Namespace(mountpoint=str(tmp_path), timeout=None)
    assert umount.run(args) == 1
    assert capsys.readouterr().err == f"vipfs: {tmp_path} is not mounted\n"
    args.mountpoint = str(tmp_path / "nowhere")
    assert umount.run(args) == 1
    assert capsys.readouterr().err == f"vipfs: {tmp_path / 'nowhere'} is not mounted\n"
