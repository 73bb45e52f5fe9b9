#!/usr/bin/env python3
"""Benchmark the open descriptors a mount holds after reading many distinct files.

The read cache once kept one descriptor per file ever read, so ~20,000 reads hit EMFILE. This
seeds a folder of `--files` small videos on the emulator (direct links on), mounts it, and counts
the mount's `/proc/<pid>/fd` at idle (the baseline, after listing the folder) and after reading
every file whole; also the most seen while reading (sampled), and the bound the read cache uses.

    .venv/bin/python scripts/bench_fds.py [--files 5000] [--size 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchkit import emulator, mounted, write_key


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settle(pid: int, seconds: float = 2.0) -> int:
    """The descriptor count once background work (readahead, eviction) has had time to end."""
    time.sleep(seconds)
    return fd_count(pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--size", type=int, default=2000, help="bytes per file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vipfs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        key_file = write_key(tmp / "key")
        mnt = tmp / "mnt"
        mnt.mkdir()
        with emulator("--enable", "direct_link", key_file=key_file) as emu:
            emu.control("POST", "/_emu/seed", {
                "folders": [{"ref": "many", "name": "many"}],
                "files": [
                    {"title": f"clip {i:05d}", "folder_ref": "many", "size": args.size}
                    for i in range(args.files)
                ],
            })  # fmt: skip
            with mounted(mnt, emu, tmp / "cache") as mount:
                folder = mnt / "many"
                names = sorted(os.listdir(folder))
                with (folder / names[0]).open("rb") as first:  # the once-per-mount probe
                    first.read()
                baseline = settle(mount.pid)
                peak = baseline
                started = time.perf_counter()
                for i, name in enumerate(names):
                    with (folder / name).open("rb") as handle:
                        data = handle.read()
                    if len(data) != args.size:
                        raise SystemExit(f"bench: {name}: read {len(data)} of {args.size} bytes")
                    if i % 50 == 0:
                        peak = max(peak, fd_count(mount.pid))
                took = time.perf_counter() - started
                after = settle(mount.pid)
    print(f"files read: {len(names)} of {args.size} bytes each, in {took:.1f} s")
    print(f"descriptors held by the mount at idle (baseline): {baseline}")
    print(f"descriptors held after reading them all:          {after}  ({after - baseline:+d})")
    print(f"most descriptors seen while reading (sampled):    {peak}  ({peak - baseline:+d})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
