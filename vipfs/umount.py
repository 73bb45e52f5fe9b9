"""`vipfs umount MOUNTPOINT`: unmount, then wait until the mount process has finished its work.

`fusermount3 -u` only detaches the filesystem; the vipfs process may still be flushing. The
mount writes its pid to a file named after the mountpoint, so this command can wait for it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from vipfs.mount import pid_file


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mountpoint", help="where a vipfs account is mounted")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="give up waiting for the mount process after S seconds",
    )


def run(args: argparse.Namespace) -> int:
    mountpoint = Path(args.mountpoint).absolute()
    pid = _mount_pid(mountpoint)
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    if tool is None:
        print("vipfs: neither fusermount3 nor fusermount is installed", file=sys.stderr)
        return 1
    done = subprocess.run([tool, "-u", str(mountpoint)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"vipfs: {done.stderr.strip() or 'unmount failed'}", file=sys.stderr)
        return 1
    if pid is not None and not wait_for_exit(pid, args.timeout):
        print(f"vipfs: unmounted, but process {pid} is still running", file=sys.stderr)
        return 1
    return 0


def _mount_pid(mountpoint: Path) -> int | None:
    """The pid of the vipfs process serving `mountpoint`, if it left a (still valid) pid file."""
    try:
        pid = int(pid_file(mountpoint).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"vipfs" in cmdline else None


def wait_for_exit(pid: int, timeout: float | None) -> bool:
    deadline = None if timeout is None else time.monotonic() + timeout
    announced = time.monotonic()
    while True:
        if not _alive(pid):
            return True
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        if now - announced >= 10:
            print(f"vipfs: waiting for process {pid} to finish", file=sys.stderr)
            announced = now
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Running, and not just a zombie waiting for its parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
