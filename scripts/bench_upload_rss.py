#!/usr/bin/env python3
"""Upload a large file through XvsClient to the emulator and report peak memory and throughput.

The claim under test: an upload streams from disk, so the client's memory stays flat however big
the file. The emulator runs as a subprocess (its memory is measured apart); the client runs here.

    .venv/bin/python scripts/bench_upload_rss.py              # 2 GiB sparse file
    .venv/bin/python scripts/bench_upload_rss.py --size-mib 512 --random

Prints one line per figure; the key is read from the emulator's key file and never printed.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import trio
from benchkit import MIB, emulator, make_file, read_key, vm_hwm_kib, vm_rss_kib

from vipfs.api.client import XvsClient


async def upload(api_url: str, key: str, path: Path) -> tuple[str, float, int]:
    """(file code, seconds, progress callbacks) of one upload."""
    calls = 0

    def progress(sent: int) -> None:
        nonlocal calls
        calls += 1

    async with XvsClient(api_url, key, timeout=120) as api:
        server = await api.upload_server()
        started = time.perf_counter()
        uploaded = await api.upload_file(server, path, filename=path.name, progress=progress)
        elapsed = time.perf_counter() - started
    if not uploaded.code:
        raise SystemExit(f"upload refused: {uploaded.status}")
    return uploaded.code, elapsed, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--random", action="store_true", help="random bytes, not a sparse file")
    args = parser.parse_args()
    size = args.size_mib * MIB

    work = Path(tempfile.mkdtemp(prefix="vipfs-bench-"))
    try:
        source = work / "bench_video.mp4"
        make_file(source, size, args.random)
        max_mb = args.size_mib + 16
        with emulator(
            "--data", str(work / "emulator"),
            "--max-upload-mb", str(max_mb),
            "--storage-gb", str(max_mb // 512 + 4),
        ) as emu:  # fmt: skip
            baseline = vm_rss_kib()
            emu_before = vm_rss_kib(emu.proc.pid)
            code, elapsed, calls = trio.run(upload, emu.url, read_key(emu.key_file), source)
            client_peak = vm_hwm_kib()
            emu_peak = vm_hwm_kib(emu.proc.pid)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"file: {args.size_mib} MiB ({'random' if args.random else 'sparse'}), code {code}")
        print(f"upload: {elapsed:.1f} s, {size / MIB / elapsed:.0f} MiB/s, {calls} chunks")
        print(
            f"client: VmHWM {client_peak / 1024:.1f} MiB (RSS before upload "
            f"{baseline / 1024:.1f} MiB; ru_maxrss {maxrss / 1024:.1f} MiB)"
        )
        print(
            f"emulator: VmHWM {emu_peak / 1024:.1f} MiB (RSS before upload "
            f"{emu_before / 1024:.1f} MiB)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
