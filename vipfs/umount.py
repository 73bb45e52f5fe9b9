"""`vipfs umount MOUNTPOINT`: unmount once the upload queue is empty, showing its progress.

Owns: the `vipfs umount` command: signalling the mount process and showing the queue drain
(one rich bar on a terminal, else a line whenever it changes).
Imports: rich, `vipfs.runfiles` (pid files), `vipfs.status` (the progress line, what a drain
has left), `vipfs.vfs.progress` (the transfer text) and `vipfs.mount_options` (its parser of
durations); never `vipfs.mount` or pyfuse3.

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
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, TextColumn
from rich.progress import Progress as Bars

from vipfs.mount_options import positive_float
from vipfs.runfiles import pid_files
from vipfs.status import drain_left, progress_line, queue_of
from vipfs.vfs.progress import Progress, transfer_text


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
        console = Console(stderr=True)
        shown = DrainBar(console) if console.is_terminal else DrainLines()
        ended = unmounted = False
        try:
            ended = wait_for_exit(pid, args.timeout, mountpoint, shown)
            unmounted = ended and not os.path.ismount(mountpoint)
        finally:
            shown.close(drained=ended and unmounted)
        if not ended:
            print(f"vipfs: process {pid} is still uploading; try again later", file=sys.stderr)
            return 1
        if unmounted:  # the mount unmounts itself only once its queue has drained
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


class Drain(Protocol):
    """How the drain shows: given each queue read, then closed once."""

    def show(self, queue: dict[str, object]) -> None: ...
    def close(self, *, drained: bool) -> None: ...


class DrainLines:
    """Not a terminal: the queue's line on stderr whenever it changes."""

    def __init__(self) -> None:
        self._shown = ""

    def show(self, queue: dict[str, object]) -> None:
        line = progress_line(queue)
        if line != self._shown:
            print(f"vipfs: {line}", file=sys.stderr, flush=True)
            self._shown = line

    def close(self, *, drained: bool) -> None:
        return


class DrainBar:
    """A terminal: one bar for the whole drain. Its total is the bytes queued and uploading
    when it began (growing if more are queued meanwhile); it advances as bytes are sent and
    files finish, and never goes back."""

    def __init__(self, console: Console) -> None:
        self._bars = Bars(
            TextColumn("vipfs: uploading"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[text]}"),
            console=console,
            auto_refresh=False,
        )
        self._task = self._bars.add_task("drain", total=None, text="")
        self._total = self._done = 0
        self._failed = ""
        self._bars.start()

    def show(self, queue: dict[str, object]) -> None:
        now = drain_left(queue)
        begun = self._done + now.left if self._total else now.sent + now.left
        self._total = max(self._total, begun)
        self._done = self._total - now.left
        self._draw(now.rate, now.files)
        failed = queue.get("failed")
        if isinstance(failed, list) and failed:
            self._failed = progress_line(queue)

    def _draw(self, rate: float | None, files: int) -> None:
        now = Progress(self._done, self._total, rate)
        text = transfer_text(now.sent, now.total, now.rate, now.eta)
        if not self._total:  # nothing was queued: a full bar once nothing is left
            text = "nothing to upload"
        self._bars.update(
            self._task,
            total=self._total or 1,
            completed=self._done if self._total else int(files == 0),
            text=f"{text}, {files} file(s) left",
        )
        self._bars.refresh()

    def close(self, *, drained: bool) -> None:
        if drained:
            self._done = self._total
            self._draw(None, 0)
        self._bars.stop()
        if self._failed:
            print(f"vipfs: {self._failed}", file=sys.stderr, flush=True)


def wait_for_exit(
    pid: int, timeout: float | None, mountpoint: Path | None = None, shown: Drain | None = None
) -> bool:
    """Wait for the process to end; show the queue's progress (from its status.json)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    checked = 0.0
    if mountpoint is not None and shown is None:
        shown = DrainLines()
    while True:
        if not _alive(pid):
            return True
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        if mountpoint is not None and shown is not None and now - checked >= 1.0:
            checked = now
            queue = _queue(mountpoint)
            if queue is not None:
                shown.show(queue)
        time.sleep(0.1)


def _queue(mountpoint: Path) -> dict[str, object] | None:
    try:
        status = json.loads((mountpoint / ".vipfs" / "status.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(status, dict):
        return None
    queue: dict[str, object] = {**queue_of(status)}  # a mirror's: every member's rows
    return queue


def _alive(pid: int) -> bool:
    """Running, and not just a zombie waiting for its parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
