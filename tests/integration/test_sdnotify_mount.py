"""`vipfs mount -f` under a NOTIFY_SOCKET, as systemd's Type=notify runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.emulated import emulator, mount_env, unmount

pytestmark = pytest.mark.fuse


def test_ready_only_once_mounted_then_stopping(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    address = str(tmp_path / "notify")
    log = tmp_path / "mount.log"
    with emulator(tmp_path) as host, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(60)
        env = dict(mount_env(tmp_path), NOTIFY_SOCKET=address)
        proc = subprocess.Popen(
            [sys.executable, "-m", "vipfs", "mount", str(mnt), "-f", "--api-url", host.url,
             "--key-file", str(host.key_file), "--cache-dir", str(tmp_path / "cache")],
            env=env, stderr=log.open("w"),
        )
        try:
            first = sock.recv(4096).decode()
            mounted = os.path.ismount(mnt)  # checked the moment READY arrives
            assert first.startswith("READY=1\nSTATUS=mounted vipfs:"), first
            assert mounted
            assert "Demo Videos" in os.listdir(mnt) or os.listdir(mnt)
            proc.send_signal(signal.SIGTERM)
            stopping = sock.recv(4096).decode()
            assert stopping.startswith("STOPPING=1\n"), stopping
            assert proc.wait(30) == 0
            assert not os.path.ismount(mnt)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            unmount(mnt)
        assert host.key not in log.read_text()
