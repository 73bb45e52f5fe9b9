#!/usr/bin/env python3
"""Benchmark a huge folder through vipfs: other handlers keep answering, memory stays bounded.

(a) The worst `stat` latency of an unrelated, cached path while a 100,000-entry folder is
    listed, as a ratio to the worst of the same stats with nothing else running (both measured in
    this run, so the ratio compares across machines).
(b) The mount's peak RSS (VmHWM) when a 1,000,000-entry folder is listed: with the default
    --max-reply-size (the listing fails at the cap) and with a cap large enough for it, each
    against the peak of the same mount before the listing.

The big folders are the emulator's synthetic ones (streamed, never stored). The mount runs with
--attr-timeout 0 so every stat reaches vipfs rather than the kernel's attribute cache.

    .venv/bin/python scripts/bench_big_listing.py [--files 100000] [--huge 1000000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from benchkit import MIB, Emulator, emulator, mounted, vm_hwm_kib, write_key


def seed(emu: Emulator) -> int:
    """A small folder with one file (the unrelated path) and an empty `big` folder."""
    made = emu.control("POST", "/_emu/seed", {
        "folders": [{"ref": "small", "name": "small"}, {"ref": "big", "name": "big"}],
        "files": [{"title": "unrelated", "folder_ref": "small", "size": 1000}],
    })  # fmt: skip
    return int(made["folders"]["big"])


def stat_latencies(
    path: Path, until: threading.Event | None, seconds: float, when: list[float] | None = None
) -> list[float]:
    """`stat` of `path` in a loop, for `seconds` or until `until` is set; each latency in s
    (and, in `when`, the time each started, from the first)."""
    took: list[float] = []
    first = time.perf_counter()
    end = time.monotonic() + seconds
    while (until is None and time.monotonic() < end) or (until is not None and not until.is_set()):
        start = time.perf_counter()
        os.stat(path)
        took.append(time.perf_counter() - start)
        if when is not None:
            when.append(start - first)
        time.sleep(0.001)
    return took


def list_in_background(folder: Path) -> tuple[threading.Thread, threading.Event, list[str]]:
    done = threading.Event()
    outcome: list[str] = []

    def run() -> None:
        start = time.perf_counter()
        result = subprocess.run(["ls", "-f", str(folder)], capture_output=True, text=True)
        entries = len([n for n in result.stdout.splitlines() if n not in (".", "..")])
        status = "ok" if result.returncode == 0 else f"failed: {result.stderr.strip()}"
        outcome.append(f"{entries} entries in {time.perf_counter() - start:.1f} s ({status})")
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done, outcome


def stat_during_listing(tmp: Path, files: int, seconds: float) -> None:
    with emulator(key_file=write_key(tmp / "key")) as emu:
        big = seed(emu)
        emu.control("POST", "/_emu/faults", {"synthetic_files": files, "synthetic_fld_id": big})
        mnt = tmp / "mnt-a"
        mnt.mkdir()
        with mounted(mnt, emu, tmp / "cache-a", "--attr-timeout", "0"):
            target = mnt / "small" / "unrelated"
            os.stat(target)  # the listing of `small` is now cached
            idle = stat_latencies(target, None, seconds)
            thread, done, outcome = list_in_background(mnt / "big")
            when: list[float] = []
            busy = stat_latencies(target, done, 600, when)
            thread.join()
    worst_idle, worst_busy = max(idle), max(busy)
    print(f"(a) listing of a {files:,}-entry folder: {outcome[0]}")
    print(
        f"    stat of an unrelated cached path: worst {worst_busy * 1000:.1f} ms during the "
        f"listing ({len(busy)} stats, median {statistics.median(busy) * 1000:.2f} ms), "
        f"worst {worst_idle * 1000:.1f} ms idle ({len(idle)} stats, median "
        f"{statistics.median(idle) * 1000:.2f} ms)"
    )
    at = when[busy.index(worst_busy)]
    slow = sum(1 for t in busy if t > 0.1)
    print(f"    ratio worst busy / worst idle: {worst_busy / worst_idle:.1f}x")
    print(f"    the worst stat started {at:.1f} s into the listing; {slow} stats over 100 ms")


def peak_rss(tmp: Path, files: int, label: str, *options: str) -> None:
    with emulator(key_file=write_key(tmp / f"key-{label}")) as emu:
        big = seed(emu)
        emu.control("POST", "/_emu/faults", {"synthetic_files": files, "synthetic_fld_id": big})
        mnt = tmp / f"mnt-{label}"
        mnt.mkdir()
        with mounted(mnt, emu, tmp / f"cache-{label}", *options) as proc:
            os.stat(mnt / "small" / "unrelated")
            before = vm_hwm_kib(proc.pid)
            thread, _, outcome = list_in_background(mnt / "big")
            thread.join()
            after = vm_hwm_kib(proc.pid)
    print(
        f"    {label}: {outcome[0]}; VmHWM {before * 1024 / MIB:.0f} MiB before, "
        f"{after * 1024 / MIB:.0f} MiB after ({after / before:.1f}x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000, help="entries for (a)")
    parser.add_argument("--huge", type=int, default=1_000_000, help="entries for (b)")
    parser.add_argument("--seconds", type=float, default=3.0, help="idle stat sampling")
    parser.add_argument("--big-cap", default="1G", help="the --max-reply-size of (b)'s 2nd run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vipfs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        stat_during_listing(tmp, args.files, args.seconds)
        print(f"(b) peak RSS of the mount listing a {args.huge:,}-entry folder")
        peak_rss(tmp, args.huge, "default cap")
        peak_rss(tmp, args.huge, f"--max-reply-size {args.big_cap}",
                 "--max-reply-size", args.big_cap)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
