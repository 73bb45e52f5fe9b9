#!/usr/bin/env python3
"""Benchmark `ls -l` of a 10,000-file folder through vipfs against the emulator.

The first `ls -l` right after the mount comes up (every API call counted, whatever made it),
then cold (listing not cached) and warm (cached) runs, with the emulator adding 50 ms per request,
reported as ratios to `ls -l` of a local directory holding the same entries (measured in the
same run, so the numbers compare across machines), plus API calls per operation.

    .venv/bin/python scripts/bench_ls.py [--files 10000] [--latency-ms 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import Emulator, emulator, mounted, write_key


def timed_ls(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["ls", "-l", str(path)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(emu: Emulator, folder: Path, calls: list[int]) -> float:
    """One `ls -l` of `folder`, counting only the API calls the listing itself makes."""
    time.sleep(1.1)  # past --attr-timeout: the kernel asks vipfs again, as a user's next ls would
    os.stat(folder)  # the lookup of the folder itself (the root listing) is not measured
    emu.control("DELETE", "/_emu/calls")
    took = timed_ls(folder)
    made = emu.control("GET", "/_emu/calls")
    assert isinstance(made, dict)
    calls.append(sum(made.values()))
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vipfs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        key_file = write_key(tmp / "key")
        mnt = tmp / "mnt"
        mnt.mkdir()
        with emulator("--latency-ms", str(args.latency_ms), key_file=key_file) as emu:
            titles = [f"clip {i:05d}" for i in range(args.files)]
            emu.control("POST", "/_emu/seed", {
                "folders": [{"ref": "big", "name": "big"}],
                "files": [{"title": t, "folder_ref": "big"} for t in titles],
            })  # fmt: skip
            local = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else tmp))
            try:
                for title in titles:
                    (local / title).touch()
                with mounted(mnt, emu, tmp / "cache") as mount:
                    folder = mnt / "big"
                    emu.control("DELETE", "/_emu/calls")  # the mount is up: count what follows
                    first = timed_ls(folder)  # the first `ls -l` right after the mount came up
                    first_calls = emu.control("GET", "/_emu/calls")
                    assert isinstance(first_calls, dict)

                    baseline = statistics.median(timed_ls(local) for _ in range(args.runs))
                    colds: list[float] = []
                    warms: list[float] = []
                    cold_calls: list[int] = []
                    warm_calls: list[int] = []
                    for _ in range(args.runs):
                        os.kill(mount.pid, 1)  # SIGHUP: forget the cached listings
                        colds.append(measure(emu, folder, cold_calls))
                        warms.append(measure(emu, folder, warm_calls))
            finally:
                subprocess.run(["rm", "-rf", str(local)], check=False)
    cold, warm = statistics.median(colds), statistics.median(warms)
    print(f"files: {args.files}, emulated latency: {args.latency_ms} ms, runs: {args.runs}")
    print(f"baseline ls -l (local dir): {baseline * 1000:8.1f} ms")
    print(
        f"first ls -l after mounting: {first * 1000:8.1f} ms  "
        f"= {first / baseline:6.1f} x baseline, API calls {sum(first_calls.values())} "
        f"({', '.join(f'{op} {n}' for op, n in sorted(first_calls.items()))})"
    )
    print(
        f"cold ls -l through vipfs:   {cold * 1000:8.1f} ms  "
        f"= {cold / baseline:6.1f} x baseline, API calls {max(cold_calls)}"
    )
    print(
        f"warm ls -l through vipfs:   {warm * 1000:8.1f} ms  "
        f"= {warm / baseline:6.1f} x baseline, API calls {max(warm_calls)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
