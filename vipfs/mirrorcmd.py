"""`vipfs mirror sync MNT [PATH]`: bring every member of a mirror mount up to date.

Owns: the `vipfs mirror` command: asking the mount for a backfill and printing its report.
Imports: the standard library only (it talks to the mount through an xattr and a file).

As with `vipfs clone`, the mount does the work (in the background lane of each member's
limiter): setting `user.vipfs.mirror_sync` on PATH ("-r" on a folder: everything under it; ""
on a file: that file) runs the backfill, and the call returns once every (file, member) pair is
settled (present, queued from a local copy, queued by `upload/url`, or not backfillable).
The mount keeps that report in `/.vipfs/mirror-sync.json` (`seq` counts the syncs, `path` says
which PATH it was), which this command prints: one line per file and member, then a summary.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

CONTROL = "user.vipfs.mirror_sync"
REPORT = Path(".vipfs") / "mirror-sync.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["sync"], help="sync: backfill what members lack")
    parser.add_argument("mountpoint", help="a vipfs mirror mount")
    parser.add_argument("path", nargs="?", default="", help="a folder or file in it (default: all)")


def relative(mnt: Path, path: str) -> str | None:
    """PATH as the mount names it ("" for the root), or None when it is outside the mount."""
    target = Path(path) if os.path.isabs(path) else mnt / path
    try:
        rel = Path(os.path.normpath(target)).relative_to(os.path.normpath(mnt)).as_posix()
    except ValueError:
        return None
    return "" if rel == "." else rel


def read_report(mnt: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((mnt / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def summary(files: list[dict[str, Any]]) -> str:
    paths = {f.get("path") for f in files}
    states = Counter(str(f.get("state")) for f in files)
    shown = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return f"{len(paths)} file(s): {shown or 'nothing to do'}"


def run(args: argparse.Namespace) -> int:
    mnt = Path(args.mountpoint)
    if not (mnt / ".vipfs").is_dir():
        print(f"vipfs: {mnt} is not a vipfs mount", file=sys.stderr)
        return 1
    rel = relative(mnt, args.path)
    if rel is None:
        print(f"vipfs: {args.path} is not in {mnt}", file=sys.stderr)
        return 1
    target = mnt / rel
    before = read_report(mnt)
    try:
        os.setxattr(target, CONTROL, b"-r" if target.is_dir() else b"")
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA):
            why = "is not in a vipfs mirror mount"
        else:
            why = f"{exc.strerror} (see the mount's log)"
        print(f"vipfs: {target}: {why}", file=sys.stderr)
        return 1
    report = read_report(mnt)
    files = report.get("files") if report is not None else None
    if report is None or not isinstance(files, list) or report == before:
        print(f"vipfs: {mnt / REPORT}: no report of this sync", file=sys.stderr)
        return 1
    rows = [f for f in files if isinstance(f, dict)]
    for row in rows:
        print(row.get("line", ""))
    print(summary(rows))
    return 1 if any(row.get("state") == "failed" for row in rows) else 0
