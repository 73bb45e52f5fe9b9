"""`vipfs mount -f` under a NOTIFY_SOCKET, as systemd's Type=notify runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, mount_command, unmount

pytestmark = pytest.mark.fuse


def test_ready_only_once_mounted_then_stopping(tmp_path: Path, emulator: Emulator) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(60)
        env = dict(os.environ, NOTIFY_SOCKET=address, HOME=str(tmp_path))
        proc = subprocess.Popen(mount_command(emulator, mnt, tmp_path, "-f"), env=env)
        try:
            first = sock.recv(4096).decode()
            mounted = os.path.ismount(mnt)  # looked at the moment READY arrives
            assert first.startswith("READY=1\nSTATUS=mounted vipfs:"), first
            assert mounted
            proc.send_signal(signal.SIGTERM)
            stopping = sock.recv(4096).decode()
            assert stopping.startswith("STOPPING=1\nSTATUS="), stopping
            assert proc.wait(30) == 0
            assert not os.path.ismount(mnt)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            unmount(mnt)
    assert emulator.key_file.read_text().strip() not in (tmp_path / "mount.log").read_text()
