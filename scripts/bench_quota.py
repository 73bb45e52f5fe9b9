#!/usr/bin/env python3
"""Benchmark what uploads and a cold listing cost in API calls, the currency of a 5-a-minute host.

(a) API calls per uploaded file: `cp` of N small files (default 50) into a folder of the mount,
    counted on the emulator (`/_emu/calls`; node POSTs are not API calls) from after the `mkdir`
    until the queue has drained (`/.vipfs/status.json`) and the host holds every file under its
    final title. Once with the new design (issue 10: the name in the upload's own title, one
    reused `upload/server`) and once with today's (`--upload-retitle`: tokened title, `file/edit`,
    `upload/server` per file), in this run, as a ratio.
(b) Files per minute under a 5-a-minute quota (`--rate-limit-per-min 5`, real time): M files
    (default 10), timed from the `cp` until the host holds them all, both designs, as a ratio.
(c) The API calls of a cold `ls -l` of a big folder (default 10,000 files, the emulator's
    synthetic folder) right after the mount comes up: the calls the `ls -l` made, and all calls
    from `vipfs mount` to the end of the `ls -l` (the mount's own start-up ones too).

    .venv/bin/python scripts/bench_quota.py [--files 50] [--quota-files 10] [--big 10000]
        [--latency-ms 50]

A build without `--upload-retitle` (before issue 10) shows its baseline rows as n/a.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchkit import Emulator, emulator, mounted, write_key

NOT_API = frozenset({"upload", "download", "download_bytes", "faulted", "failed_after_store"})
DESIGNS = (("new", ()), ("baseline", ("--upload-retitle",)))


def api_calls(emu: Emulator) -> dict[str, int]:
    """The emulator's API calls by op since the last reset (node POSTs and downloads left out)."""
    calls: dict[str, int] = emu.control("GET", "/_emu/calls")
    return {op: n for op, n in calls.items() if op not in NOT_API and n}


def drained(mnt: Path) -> bool:
    report = json.loads((mnt / ".vipfs" / "status.json").read_text())
    queue = report.get("queue") or {}
    if queue.get("failed"):
        raise SystemExit(f"bench: uploads failed: {queue['failed'][:3]}")
    return not any(queue.get(k) for k in ("writing", "held", "queued", "uploading"))


def held(emu: Emulator, count: int) -> bool:
    """The host holds `count` live files under final titles (no upload token left)."""
    files = [f for f in emu.control("GET", "/_emu/files") if not f["deleted"]]
    return len(files) >= count and not any("vipfs-" in f["title"] for f in files)


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def small_files(src: Path, count: int) -> list[Path]:
    src.mkdir()
    paths = []
    for i in range(count):
        path = src / f"small clip {i:03d}.mp4"
        path.write_bytes(f"bench file {i}\n".encode() * (64 + i))
        paths.append(path)
    return paths


@dataclass
class Upload:
    files: int
    calls: dict[str, int]
    seconds: float

    @property
    def per_file(self) -> float:
        return sum(self.calls.values()) / self.files

    @property
    def per_minute(self) -> float:
        return self.files / self.seconds * 60


def upload_run(
    tmp: Path, label: str, count: int, options: tuple[str, ...], *emu_options: str
) -> Upload | None:
    """`mkdir` then `cp` of `count` files; None when this build lacks the design's options."""
    src = small_files(tmp / f"src-{label}", count)
    with emulator(*emu_options, key_file=write_key(tmp / f"key-{label}")) as emu:
        mnt = tmp / f"mnt-{label}"
        mnt.mkdir()
        try:
            mount = mounted(mnt, emu, tmp / f"cache-{label}", "--write-back", "0",
                            "--op-timeout", "90", *options)  # fmt: skip
            with mount:
                done = subprocess.run(["mkdir", str(mnt / "dst")], capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"bench: mkdir failed: {done.stderr.strip()}")
                emu.control("DELETE", "/_emu/calls")
                start = time.monotonic()
                done = subprocess.run(
                    ["cp", *map(str, src), str(mnt / "dst")], capture_output=True, text=True
                )
                if done.returncode != 0:
                    raise SystemExit(f"bench: cp failed: {done.stderr.strip()}")
                wait_until(
                    f"{count} uploads ({label})",
                    lambda: drained(mnt) and held(emu, count),
                    timeout=3600,
                )
                seconds = time.monotonic() - start
                return Upload(count, api_calls(emu), seconds)
        except SystemExit as failed:
            if options and "mount failed" in str(failed):
                return None  # e.g. a build before issue 10: no --upload-retitle
            raise


@dataclass
class Listing:
    during: dict[str, int]
    since_mount: dict[str, int]
    seconds: float
    entries: int


def cold_listing(tmp: Path, files: int, latency_ms: int) -> Listing:
    with emulator("--latency-ms", str(latency_ms), key_file=write_key(tmp / "key-ls")) as emu:
        made = emu.control("POST", "/_emu/seed", {"folders": [{"ref": "big", "name": "big"}]})
        emu.control("POST", "/_emu/faults", {
            "synthetic_files": files, "synthetic_fld_id": int(made["folders"]["big"]),
        })  # fmt: skip
        mnt = tmp / "mnt-ls"
        mnt.mkdir()
        emu.control("DELETE", "/_emu/calls")
        with mounted(mnt, emu, tmp / "cache-ls"):
            before = api_calls(emu)
            start = time.perf_counter()
            done = subprocess.run(["ls", "-l", str(mnt / "big")], capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"bench: ls -l failed: {done.stderr.strip()}")
            after = api_calls(emu)
    during = {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}
    entries = len(done.stdout.splitlines()) - 1  # the "total" line
    return Listing(during, after, seconds, entries)


def ops(calls: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(calls.items())) or "none"


def gain(better: float, worse: float | None) -> str:
    """How many times better the new design does (`better` / `worse`, both "higher is
    better"); n/a without a baseline."""
    return "n/a" if worse is None or worse == 0 else f"{better / worse:.1f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50, help="files uploaded for (a)")
    parser.add_argument("--quota-files", type=int, default=10, help="files for (b), 5 calls/min")
    parser.add_argument("--big", type=int, default=10_000, help="files in the folder of (c)")
    parser.add_argument("--latency-ms", type=int, default=50, help="API latency for (c)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vipfs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        free = {
            label: upload_run(tmp, f"free-{label}", args.files, options)
            for label, options in DESIGNS
        }
        quota = {
            label: upload_run(
                tmp, f"quota-{label}", args.quota_files, options, "--rate-limit-per-min", "5"
            )
            for label, options in DESIGNS
        }
        listing = cold_listing(tmp, args.big, args.latency_ms)
    new, old = free["new"], free["baseline"]
    qnew, qold = quota["new"], quota["baseline"]
    assert new is not None and qnew is not None
    print(f"{'':36} {'new':>8} {'baseline':>9} {'new gains':>10}")
    fewer = gain(old.per_file, new.per_file) if old and new.per_file else "n/a"
    print(
        f"{f'(a) API calls per file ({args.files} files)':36} {new.per_file:>8.2f} "
        f"{(f'{old.per_file:.2f}' if old else 'n/a'):>9} {fewer:>10}"
    )
    print(
        f"{f'(b) files/min at 5 calls/min ({args.quota_files})':36} {qnew.per_minute:>8.1f} "
        f"{(f'{qold.per_minute:.1f}' if qold else 'n/a'):>9} "
        f"{gain(qnew.per_minute, qold.per_minute if qold else None):>10}"
    )
    print(f"    (a) new: {ops(new.calls)}; baseline: {ops(old.calls) if old else 'n/a'}")
    print(f"    (b) new: {ops(qnew.calls)} in {qnew.seconds:.0f} s; baseline: "
          f"{f'{ops(qold.calls)} in {qold.seconds:.0f} s' if qold else 'n/a'}")  # fmt: skip
    if old is None or qold is None:
        print(
            "    baseline n/a: this build has no --upload-retitle (its default is today's design)"
        )
    print(
        f"(c) cold ls -l of {listing.entries:,} files right after the mount came up: "
        f"{sum(listing.during.values())} API call(s) ({ops(listing.during)}) in "
        f"{listing.seconds:.2f} s at {args.latency_ms} ms latency; "
        f"{sum(listing.since_mount.values())} since `vipfs mount` ({ops(listing.since_mount)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
