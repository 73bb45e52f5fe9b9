"""An emulator subprocess and a `vipfs` command line pointed at it, for tests that mount."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vipfs.demo import demo_key

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Host:
    url: str
    key_file: Path
    key: str


@contextmanager
def emulator(tmp_path: Path, *extra: str) -> Iterator[Host]:
    """The demo account on 127.0.0.1; stopped (and reaped) on exit."""
    key = demo_key()
    key_file = tmp_path / "key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vipfs", "emulator", "--port", "0", "--seed-demo",
         "--key-file", str(key_file), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), "the emulator did not start"
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield Host(url, key_file, key)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def mount_env(tmp_path: Path) -> dict[str, str]:
    """A HOME of the test's own (pid files, caches), no inherited key or config."""
    env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    for name in ("VIPFS_KEY", "VIPFS_CONFIG", "NOTIFY_SOCKET"):
        env.pop(name, None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def mounted(mnt: Path) -> bool:
    """From /proc/mounts: a dead FUSE mount fails stat, so os.path.ismount says False."""
    target = str(mnt.absolute())
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def unmount(mnt: Path) -> None:
    if mounted(mnt):
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False, capture_output=True)
