#!/usr/bin/env python3
"""Benchmark `ls -l` of a 10,000-file folder through vipfs against the emulator.

Cold (listing not cached) and warm (cached) runs, with the emulator adding 50 ms per request,
reported as ratios to `ls -l` of a local directory holding the same entries (measured in the
same run, so the numbers compare across machines), plus API calls per operation.

    .venv/bin/python scripts/bench_ls.py [--files 10000] [--latency-ms 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

KEY = "1benchbenchbench0"


def control(base: str, method: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=120) as reply:
        return json.loads(reply.read() or b"null")


def timed_ls(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["ls", "-l", str(path)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(base: str, folder: Path, calls: list[int]) -> float:
    """One `ls -l` of `folder`, counting only the API calls the listing itself makes."""
    time.sleep(1.1)  # past --attr-timeout: the kernel asks vipfs again, as a user's next ls would
    os.stat(folder)  # the lookup of the folder itself (the root listing) is not measured
    control(base, "DELETE", "/_emu/calls")
    took = timed_ls(folder)
    made = control(base, "GET", "/_emu/calls")
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
        key_file = tmp / "key"
        key_file.write_text(KEY + "\n")
        key_file.chmod(0o600)
        emulator = subprocess.Popen(
            [sys.executable, "-m", "vipfs", "emulator", "--port", "0", "--key-file",
             str(key_file), "--latency-ms", str(args.latency_ms)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        mnt = tmp / "mnt"
        mnt.mkdir()
        mount: subprocess.Popen[bytes] | None = None
        try:
            assert emulator.stdout is not None
            url = emulator.stdout.readline().strip()
            base = url.removesuffix("/api")
            titles = [f"clip {i:05d}" for i in range(args.files)]
            control(base, "POST", "/_emu/seed", {
                "folders": [{"ref": "big", "name": "big"}],
                "files": [{"title": t, "folder_ref": "big"} for t in titles],
            })  # fmt: skip
            local = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else tmp))
            for title in titles:
                (local / title).touch()
            mount = subprocess.Popen(
                [sys.executable, "-m", "vipfs", "mount", str(mnt), "--api-url", url,
                 "--key-file", str(key_file), "-f", "--cache-dir", str(tmp / "cache")]
            )  # fmt: skip
            while not os.path.ismount(mnt):
                if mount.poll() is not None:
                    print("bench: the mount failed", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            folder = mnt / "big"
            os.stat(folder)  # the root listing is not part of the measurement
            time.sleep(1.0)  # let the once-per-mount feature probe finish

            baseline = statistics.median(timed_ls(local) for _ in range(args.runs))
            colds: list[float] = []
            warms: list[float] = []
            cold_calls: list[int] = []
            warm_calls: list[int] = []
            for _ in range(args.runs):
                os.kill(mount.pid, 1)  # SIGHUP: forget the cached listings
                colds.append(measure(base, folder, cold_calls))
                warms.append(measure(base, folder, warm_calls))
            cold, warm = statistics.median(colds), statistics.median(warms)
            print(f"files: {args.files}, emulated latency: {args.latency_ms} ms, runs: {args.runs}")
            print(f"baseline ls -l (local dir): {baseline * 1000:8.1f} ms")
            print(
                f"cold ls -l through vipfs:   {cold * 1000:8.1f} ms  "
                f"= {cold / baseline:6.1f} x baseline, API calls {max(cold_calls)}"
            )
            print(
                f"warm ls -l through vipfs:   {warm * 1000:8.1f} ms  "
                f"= {warm / baseline:6.1f} x baseline, API calls {max(warm_calls)}"
            )
            subprocess.run(["rm", "-rf", str(local)], check=False)
        finally:
            if mount is not None:
                subprocess.run(["fusermount3", "-u", str(mnt)], check=False)
                mount.wait(30)
            emulator.terminate()
            emulator.wait(10)
            if emulator.stdout is not None:
                emulator.stdout.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
