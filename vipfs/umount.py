"""`vipfs umount MOUNTPOINT`: unmount once the upload queue is empty, showing its progress.

Owns: the `vipfs umount` command: signalling the mount process and showing the queue drain.
Imports: `vipfs.runfiles` (pid files), `vipfs.status` (the progress line) and
`vipfs.mount_options` (its parser of durations); never `vipfs.mount` or pyfuse3.

`fusermount3 -u` detaches the filesystem at once (what is left in the queue resumes at the next
mount). This command instead asks the mount process (SIGTERM; its pid is in a file named after
the mountpoint) to upload what is queued and then unmount itself, and shows the queue from
`/.vipfs/status.json` while it waits. Without a live process it falls back to fusermount3;
a directory that is not mounted is said to be so (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from vipfs.mount_options import positive_float
from vipfs.runfiles import pid_files
from vipfs.status import progress_line


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mountpoint", help="where a vipfs account is mounted")
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        metavar="S",
        help="give up waiting for the mount process after S seconds",
    )


def run(args: argparse.Namespace) -> int:
    mountpoint = Path(args.mountpoint).absolute()
    pid = _mount_pid(mountpoint)
    if pid is None and not _mounted(mountpoint):  # else fusermount3 says "Invalid argument"
        print(f"vipfs: {mountpoint} is not mounted", file=sys.stderr)
        return 1
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        if not wait_for_exit(pid, args.timeout, mountpoint):
            print(f"vipfs: process {pid} is still uploading; try again later", file=sys.stderr)
            return 1
        if not os.path.ismount(mountpoint):
            return 0
        pid = None  # it ended without unmounting (killed?): detach what is left
    return _fusermount(mountpoint, pid, args.timeout)


def _fusermount(mountpoint: Path, pid: int | None, timeout: float | None) -> int:
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    if tool is None:
        print("vipfs: neither fusermount3 nor fusermount is installed", file=sys.stderr)
        return 1
    done = subprocess.run([tool, "-u", str(mountpoint)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"vipfs: {done.stderr.strip() or 'unmount failed'}", file=sys.stderr)
        return 1
    if pid is not None and not wait_for_exit(pid, timeout):
        print(f"vipfs: unmounted, but process {pid} is still running", file=sys.stderr)
        return 1
    return 0


def _mounted(path: Path) -> bool:
    """A mount point, or a dead FUSE mount (ENOTCONN), which fusermount3 -u still detaches."""
    try:
        os.lstat(path)
    except OSError as exc:
        return exc.errno == errno.ENOTCONN
    return os.path.ismount(path)


def _mount_pid(mountpoint: Path) -> int | None:
    """The pid of the vipfs process serving `mountpoint`: the mount says it in status.json;
    else a (still valid) pid file, which depends on the environment the mount started in."""
    candidates: list[object] = []
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        candidates.append(json.loads((mountpoint / ".vipfs" / "status.json").read_text())["pid"])
    for path in pid_files(mountpoint):
        try:
            candidates.append(path.read_text().strip())
        except OSError:
            continue
    for candidate in candidates:
        try:
            pid = int(str(candidate))
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"vipfs" in cmdline:
            return pid
    return None


def wait_for_exit(pid: int, timeout: float | None, mountpoint: Path | None = None) -> bool:
    """Wait for the process to end; print the queue's progress whenever it changes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    shown, checked = "", 0.0
    while True:
        if not _alive(pid):
            return True
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        if mountpoint is not None and now - checked >= 1.0:
            checked = now
            line = _progress(mountpoint)
            if line and line != shown:
                print(f"vipfs: {line}", file=sys.stderr, flush=True)
                shown = line
        time.sleep(0.1)


def _progress(mountpoint: Path) -> str:
    try:
        status = json.loads((mountpoint / ".vipfs" / "status.json").read_text())
    except (OSError, ValueError):
        return ""
    queue = status.get("queue")
    return progress_line(queue) if isinstance(queue, dict) else ""


def _alive(pid: int) -> bool:
    """Running, and not just a zombie waiting for its parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
