"""Where a mount leaves the files other commands find it by: its pid file and its log.

Owns: the per-mountpoint id, the run directory of pid files (and where older versions kept
them), and the default log file. `vipfs umount` reads these without importing the mount (nor
pyfuse3 with it).
Imports: `vipfs.statedir` only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vipfs import statedir

OLD_RUN_DIR = Path("~/.cache/vipfs/run")  # where older versions kept pid files


def mount_id(mountpoint: Path) -> str:
    return hashlib.sha256(str(mountpoint.resolve()).encode()).hexdigest()[:16]


def run_dir() -> Path:
    """Pid files, so `vipfs umount` can wait for the process: `$XDG_RUNTIME_DIR/vipfs`, else
    beside the state (never in a cache: a cleaner would make `vipfs umount` skip the drain)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        return Path(runtime) / "vipfs"
    return statedir.state_home() / "run"


def pid_file(mountpoint: Path) -> Path:
    return run_dir() / f"{mount_id(mountpoint)}.pid"


def pid_files(mountpoint: Path) -> list[Path]:
    """Where a mount of `mountpoint` may have left its pid: here, in the fallback run dir (a
    mount started without $XDG_RUNTIME_DIR, e.g. by mount(8)), or where older versions did."""
    name = f"{mount_id(mountpoint)}.pid"
    places = [run_dir(), statedir.state_home() / "run", OLD_RUN_DIR.expanduser()]
    return [place / name for place in dict.fromkeys(places)]


def default_log_file(mountpoint: Path) -> Path:
    folder = statedir.state_home() / "log"  # beside the state: a cache cleaner keeps the story
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / f"{mountpoint.name or 'root'}-{mount_id(mountpoint)}.log"
