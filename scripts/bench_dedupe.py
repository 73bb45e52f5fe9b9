#!/usr/bin/env python3
"""Copies without bytes: calls and bytes sent for N duplicates, `--dedupe clone` against `off`.

For each mode, one emulator and one mount: one file is uploaded, then `cp` puts N more files
with the same bytes (under other names) into a folder; once the host holds all of them, the
calls the emulator recorded from that `cp` on (`/_emu/calls`) and the bytes the node received
(its POSTs times the file's size) are printed. A clone is one API call where an upload, its
node URL reused, costs none: the dedupe spends quota to save bandwidth.

    .venv/bin/python scripts/bench_dedupe.py [--files 20] [--size 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchkit import emulator, mounted, write_key


def _held(files: list[dict[str, object]], size: int) -> int:
    return sum(1 for f in files if not f["deleted"] and f["size"] == size)


def _drained(mnt: Path) -> bool:
    queue = json.loads((mnt / ".vipfs" / "status.json").read_text())["queue"]
    if queue.get("failed"):
        raise SystemExit(f"bench: an upload failed: {queue['failed']}")
    return not any(queue.get(k) for k in ("writing", "held", "queued", "uploading"))


def _wait(what: str, done: Callable[[], object]) -> None:
    deadline = time.monotonic() + 600
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not settle")
        time.sleep(0.05)


def run(mode: str, files: int, size: int, tmp: Path) -> dict[str, int]:
    """One mode's calls for `files` duplicates of one uploaded file."""
    work = tmp / mode
    work.mkdir()
    original = work / "original.mp4"
    original.write_bytes(os.urandom(size))
    src = work / "src"
    src.mkdir()
    for i in range(files):
        (src / f"copy_{i:03d}.mp4").symlink_to(original)
    mnt = work / "mnt"
    mnt.mkdir()
    with (
        emulator(key_file=write_key(work / "key")) as emu,
        mounted(mnt, emu, work / "cache", "--write-back", "0", "--dedupe", mode),
    ):
        subprocess.run(["cp", str(original), str(mnt)], check=True)
        _wait(
            "the first upload",
            lambda: _drained(mnt) and _held(emu.control("GET", "/_emu/files"), size),
        )
        (mnt / "bench").mkdir()
        emu.control("DELETE", "/_emu/calls")
        subprocess.run(["cp", "-L", *[str(p) for p in sorted(src.iterdir())], str(mnt / "bench")],
                       check=True)  # fmt: skip
        _wait(
            "the copies",
            lambda: _drained(mnt) and _held(emu.control("GET", "/_emu/files"), size) > files,
        )
        calls: dict[str, int] = emu.control("GET", "/_emu/calls")
    return {op: n for op, n in calls.items() if op != "faulted"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vipfs-bench-") as tmp_name:
        for mode in ("clone", "off"):
            calls = run(mode, args.files, args.size, Path(tmp_name))
            posts = calls.pop("upload", 0)
            total = sum(calls.values())
            detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
            print(
                f"--dedupe {mode:5} {args.files} duplicates: {total} API calls ({detail}), "
                f"{posts} uploads, {posts * args.size / 1e6:.1f} MB sent"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
