"""What the benchmark scripts share: the emulator and a mount as subprocesses, and /proc memory.

Each bench starts the emulator, drives its control endpoints, perhaps mounts vipfs against it and
reads peak memory; keeping that here means every bench cleans up (unmounts, stops the emulator)
the same way, whatever fails in the middle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KEY = "1benchbenchbench0"
MIB = 1 << 20


def write_key(path: Path, newline: bool = True) -> Path:
    """The emulator's test key in a private file; curl's `<file` wants it without a newline."""
    path.write_text(KEY + ("\n" if newline else ""))
    path.chmod(0o600)
    return path


def read_key(path: Path) -> str:
    """The first non-comment line of a key file, as vipfs reads it."""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    raise SystemExit(f"bench: no key in {path}")


class Emulator:
    """A running emulator subprocess: its API URL, key file and control endpoints."""

    def __init__(self, proc: subprocess.Popen[str], url: str, key_file: Path) -> None:
        self.proc = proc
        self.url = url
        self.base = url.removesuffix("/api")
        self.key_file = key_file

    def control(self, method: str, path: str, body: object = None) -> Any:
        """One call to a `/_emu/...` endpoint, JSON in and out (None for an empty reply)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=600) as reply:
            return json.loads(reply.read() or b"null")


@contextmanager
def emulator(*options: str, key_file: Path | None = None) -> Iterator[Emulator]:
    """Start `vipfs emulator --port 0 *options` and stop it on exit.

    With `key_file` the emulator accepts that key; without, it makes one and prints its path
    on the line after the URL.
    """
    command = [sys.executable, "-m", "vipfs", "emulator", "--port", "0", *options]
    if key_file is not None:
        command += ["--key-file", str(key_file)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit("bench: the emulator did not start")
        if key_file is None:
            key_file = Path(proc.stdout.readline().strip())
        yield Emulator(proc, url, key_file)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@contextmanager
def mounted(
    mnt: Path, emu: Emulator, cache_dir: Path, *options: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `vipfs mount -f` of `emu` at `mnt` until it is mounted; always unmount on exit.
    The queue and spool go beside `cache_dir` (`<cache_dir>-state`), never into the user's
    $XDG_STATE_HOME."""
    state_dir = cache_dir.with_name(cache_dir.name + "-state")
    with mounted_with(
        mnt, "--api-url", emu.url, "--key-file", str(emu.key_file), "--cache-dir",
        str(cache_dir), "--state-dir", str(state_dir), *options,
    ) as proc:  # fmt: skip
        yield proc


@contextmanager
def mounted_with(
    mnt: Path, *argv: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `vipfs mount MNT -f *argv` until it is mounted (a remote name may lead `argv`;
    `env` is added to the environment); always unmount on exit."""
    remote = [argv[0]] if argv and not argv[0].startswith("-") else []
    rest = list(argv[len(remote) :])
    proc = subprocess.Popen(
        [sys.executable, "-m", "vipfs", "mount", *remote, str(mnt), "-f", *rest],
        env={**os.environ, **(env or {})},
    )
    try:
        while not os.path.ismount(mnt):
            if proc.poll() is not None:
                raise SystemExit("bench: the mount failed")
            time.sleep(0.05)
        yield proc
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", str(mnt)], check=False)
        elif proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def proc_io(pid: int | str) -> dict[str, int]:
    """/proc/PID/io of a process (every thread of it): rchar, read_bytes, wchar, ..."""
    out = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        name, _, value = line.partition(":")
        out[name.strip()] = int(value)
    return out


def _proc_status_kib(field: str, pid: int | str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def vm_hwm_kib(pid: int | str = "self") -> int:
    """Peak resident set size (VmHWM) of a process, in KiB."""
    return _proc_status_kib("VmHWM", pid)


def vm_rss_kib(pid: int | str = "self") -> int:
    """Current resident set size (VmRSS) of a process, in KiB."""
    return _proc_status_kib("VmRSS", pid)


def make_file(path: Path, size: int, random_data: bool = True) -> None:
    """Random bytes written for real, 8 MiB at a time, or a sparse file (holes read as zeros)."""
    with path.open("wb") as out:
        if not random_data:
            out.truncate(size)
            return
        left = size
        while left:
            step = min(left, 8 * MIB)
            out.write(os.urandom(step))
            left -= step
