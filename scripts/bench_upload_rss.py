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
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from vipfs.api.client import XvsClient

MIB = 1 << 20


def vm_hwm_kib(pid: int | str = "self") -> int:
    """Peak resident set size (VmHWM) of a process, in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc status")


def vm_rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc status")


def read_key(path: Path) -> str:
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    raise SystemExit(f"no key in {path}")


def make_file(path: Path, size: int, random_data: bool) -> None:
    """A sparse file (holes read as zeros) or one filled with random bytes, 8 MiB at a time."""
    with path.open("wb") as out:
        if not random_data:
            out.truncate(size)
            return
        left = size
        while left:
            step = min(left, 8 * MIB)
            out.write(os.urandom(step))
            left -= step


def start_emulator(data_dir: Path, max_mb: int) -> tuple[subprocess.Popen[str], str, str]:
    command = [
        sys.executable,
        "-m",
        "vipfs",
        "emulator",
        "--port",
        "0",
        "--data",
        str(data_dir),
        "--max-upload-mb",
        str(max_mb),
        "--storage-gb",
        str(max_mb // 512 + 4),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    api_url = proc.stdout.readline().strip()
    key_file = proc.stdout.readline().strip()
    if not api_url.startswith("http://127.0.0.1:") or not key_file:
        proc.terminate()
        raise SystemExit("the emulator did not start")
    return proc, api_url, read_key(Path(key_file))


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
    proc = None
    try:
        source = work / "bench_video.mp4"
        make_file(source, size, args.random)
        proc, api_url, key = start_emulator(work / "emulator", args.size_mib + 16)
        baseline = vm_rss_kib()
        emu_before = vm_rss_kib(proc.pid)
        code, elapsed, calls = trio.run(upload, api_url, key, source)
        client_peak = vm_hwm_kib()
        emu_peak = vm_hwm_kib(proc.pid)
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
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
