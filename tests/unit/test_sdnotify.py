"""The systemd notification socket: path and abstract addresses, and silence outside systemd."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from vipfs import sdnotify


def listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_path_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify")
    with listener(path) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert sdnotify.ready("mounted x")
        assert sock.recv(4096) == b"READY=1\nSTATUS=mounted x"
        assert sdnotify.stopping("draining 3 uploads")
        assert sock.recv(4096) == b"STOPPING=1\nSTATUS=draining 3 uploads"


def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"vipfs-test-{os.getpid()}-{os.urandom(4).hex()}"
    with listener("\0" + name) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.status("hello")
        assert sock.recv(4096) == b"STATUS=hello"


def test_no_socket_is_a_quiet_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.ready("x")
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:123")
    assert not sdnotify.ready("x")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert not sdnotify.ready("x")  # logged, never raised
    assert "cannot notify systemd" in caplog.text
