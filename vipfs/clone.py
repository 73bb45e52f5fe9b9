"""`vipfs clone SRC DST`: a server-side copy (`file/clone`) inside a mount, no bytes moved.

Owns: the `vipfs clone` command.
Imports: the standard library only (it talks to the mount through xattrs).

The mount does the work: this command reads SRC's `user.vipfs.code` and asks DST's folder, by
setting its `user.vipfs.clone` attribute, to clone that code under DST's name. So it needs no
key and no URL, and the mount's model (names, sizes, mtimes) learns the copy at once.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

CODE = "user.vipfs.code"
CLONE = "user.vipfs.clone"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="an uploaded file in a vipfs mount")
    parser.add_argument("dst", help="a new name, or a folder of the same mount")


def target(src: Path, dst: Path) -> tuple[Path, str]:
    """(folder, name) the copy goes to: into DST if it is a folder, else DST itself."""
    if dst.is_dir():
        return dst, src.name
    return dst.parent, dst.name


def run(args: argparse.Namespace) -> int:
    src, dst = Path(args.src), Path(args.dst)
    try:
        code = os.getxattr(src, CODE).decode()
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            why = "has no file code yet (still uploading?) or is not in a vipfs mount"
        else:
            why = exc.strerror or str(exc)
        print(f"vipfs: {src}: {why}", file=sys.stderr)
        return 1
    folder, name = target(src, dst)
    if (folder / name).exists():
        print(f"vipfs: {folder / name} exists", file=sys.stderr)
        return 1
    try:
        os.setxattr(folder, CLONE, json.dumps({"code": code, "name": name}).encode())
    except OSError as exc:
        why = f"{exc.strerror} (see the mount's log)"
        print(f"vipfs: cloning into {folder}: {why}", file=sys.stderr)
        return 1
    print(f"{src} → {folder / name}")
    return 0
