"""Fixtures for real mounts: the emulator as a subprocess, `vipfs mount` as a subprocess.

Everything listens on 127.0.0.1 with port 0, mounts live under pytest's tmp_path, and every
mount is unmounted with `fusermount3 -u` at teardown, whatever the test did.
"""

from __future__ import annotations

import html
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

KEY = "1abcdefghijklmnop"  # the emulator's key shape: account id, then 16 word characters


def write_key(path: Path, key: str = KEY) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return path


@dataclass
class Emulator:
    process: subprocess.Popen[str]
    url: str  # the API root, .../api
    key_file: Path
    cafile: Path | None = None  # the certificate an https emulator (--tls-cert) serves

    def _context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.cafile)) if self.cafile else None

    @property
    def base(self) -> str:
        return self.url.removesuffix("/api")

    def control(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=30, context=self._context()) as reply:
            return json.loads(reply.read() or b"null")

    def calls(self) -> dict[str, int]:
        return dict(self.control("GET", "/_emu/calls"))

    def reset_calls(self) -> None:
        self.control("DELETE", "/_emu/calls")

    def switch(self, **changes: object) -> None:
        self.control("POST", "/_emu/faults", changes)

    def seed(self, spec: dict[str, Any]) -> dict[str, Any]:
        return dict(self.control("POST", "/_emu/seed", spec))

    def files(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "/_emu/files"))

    def live_files(self) -> list[dict[str, Any]]:
        """The files the account holds now (deleted ones are kept by the emulator, flagged)."""
        return [f for f in self.files() if not f["deleted"]]

    def api(self, op: str, **params: object) -> Any:
        """One real API call with the account's key (a test key), for checks a test makes."""
        query = urllib.parse.urlencode({"key": self.key_file.read_text().strip(), **params})
        url = f"{self.url}/{op}?{query}"
        with urllib.request.urlopen(url, timeout=30, context=self._context()) as reply:
            answer = json.loads(reply.read())
        assert answer["status"] == 200, f"{op}: {answer.get('msg')}"
        return answer["result"]

    def folders(self) -> dict[str, int]:
        """Every folder of the account by its path of (unescaped) names, root as ""."""
        found: dict[str, int] = {"": 0}
        todo = [("", 0)]
        while todo:
            path, fld_id = todo.pop()
            for child in self.api("folder/list", fld_id=fld_id)["folders"]:
                sub = f"{path}/{html.unescape(child['name'])}".lstrip("/")
                found[sub] = int(child["fld_id"])
                todo.append((sub, int(child["fld_id"])))
        return found


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    started: list[subprocess.Popen[str]] = []

    def start(*extra: str, cafile: Path | None = None) -> Emulator:
        """`cafile`: the certificate given with --tls-cert, so the helpers trust it."""
        key_file = write_key(tmp_path / "key")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vipfs",
                "emulator",
                "--port",
                "0",
                "--key-file",
                str(key_file),
                *extra,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        scheme = "https" if cafile else "http"
        assert url.startswith(f"{scheme}://127.0.0.1:"), f"emulator said {url!r}"
        return Emulator(process, url, key_file, cafile)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator("--enable", "direct_link")


@dataclass
class Mount:
    path: Path
    process: subprocess.Popen[str]
    log_file: Path
    args: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    @property
    def pid(self) -> int:
        """The vipfs process that serves the mount (`-f` keeps it the one we started)."""
        return self.process.pid


@pytest.fixture(autouse=True)
def _state_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """vipfs keeps its queue under $XDG_STATE_HOME/vipfs: each test's own, not the real home's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def mount_command(emu: Emulator, mnt: Path, tmp: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "vipfs", "mount", str(mnt), "--api-url", emu.url,
        "--key-file", str(emu.key_file), "--cache-dir", str(tmp / "cache"),
        "--log-file", str(tmp / "mount.log"), "-v", *extra,
    ]  # fmt: skip


def in_mount_table(path: Path) -> bool:
    """Whether `path` is a mount point, dead ones included: `os.path.ismount` is False for a
    mount whose process died (stat fails with ENOTCONN), and such a mount must still go."""
    wanted = str(path).replace(" ", "\\040")
    with open("/proc/self/mounts") as table:
        return any(line.split()[1] == wanted for line in table)


def unmount(path: Path) -> None:
    """Detach a mount at teardown, alive or dead; lazily when a dead one is still busy."""
    if in_mount_table(path):
        subprocess.run(["fusermount3", "-u", str(path)], capture_output=True, timeout=30)
    if in_mount_table(path):
        subprocess.run(["fusermount3", "-u", "-z", str(path)], capture_output=True, timeout=30)


@pytest.fixture
def start_mount(tmp_path: Path) -> Iterator[Callable[..., Mount]]:
    mounts: list[Mount] = []

    def start(
        emu: Emulator,
        *extra: str,
        env: dict[str, str] | None = None,
        key_file: bool = True,
        mountpoint: Path | None = None,
    ) -> Mount:
        """`env` is added to the mount's environment; `key_file=False` leaves --key-file out
        (give the key some other way); `mountpoint`: an empty directory of the test's own."""
        mnt = mountpoint or tmp_path / f"mnt{len(mounts)}"
        mnt.mkdir(exist_ok=mountpoint is not None)
        command = mount_command(emu, mnt, tmp_path, "-f", *extra)
        if not key_file:
            at = command.index("--key-file")
            del command[at : at + 2]
        with open(tmp_path / f"{mnt.name}.stderr", "w") as stderr:
            process = subprocess.Popen(
                command, stderr=stderr, text=True, env={**os.environ, **(env or {})}
            )
        mount = Mount(mnt, process, tmp_path / "mount.log", command)
        mounts.append(mount)
        deadline = time.monotonic() + 30
        while not os.path.ismount(mnt):
            if process.poll() is not None:
                said = (tmp_path / f"{mnt.name}.stderr").read_text()
                raise AssertionError(f"mount exited {process.returncode}: {said}{mount.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not mounted after 30 s: {mount.log()}")
            time.sleep(0.05)
        return mount

    yield start
    for mount in mounts:
        unmount(mount.path)
        try:
            mount.process.wait(20)
        except subprocess.TimeoutExpired:
            mount.process.send_signal(signal.SIGKILL)
            mount.process.wait()
        unmount(mount.path)


def sh(*argv: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a real tool against the mount; a hang fails the test instead of blocking it."""
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)


def vipfs(*argv: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a `vipfs` subcommand (umount, status, ...) as a user would."""
    return sh(sys.executable, "-m", "vipfs", *argv, timeout=timeout)


def status_xattr(path: Path) -> str:
    """What `getfattr` shows as the file's user.vipfs.status."""
    out = sh("getfattr", "--only-values", "-n", "user.vipfs.status", path)
    assert out.returncode == 0, out.stderr
    return out.stdout


def settled_status(path: Path) -> str:
    """The file's status once its upload has ended (refused or stored), else ""."""
    state = status_xattr(path)
    ended = ("failed", "uploaded", "encoding", "ready", "dmca", "deleted by host")
    return state if state.startswith(ended) else ""


def wait_for(what: str, check: Callable[[], object], timeout: float = 60) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


# -- issue 10 (helper T): the queue as status.json shows it ------------------------------------
def drained(mount: Path) -> bool:
    """Whether the mount has nothing left to send, from its `/.vipfs/status.json` (no API
    call); a failed row fails the test at once, its error in the message."""
    report = json.loads((mount / ".vipfs" / "status.json").read_text())
    queue = report.get("queue") or {}
    assert not queue.get("failed"), queue["failed"]
    return not any(queue.get(k) for k in ("writing", "held", "queued", "uploading"))
