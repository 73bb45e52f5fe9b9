#!/usr/bin/env python3
"""Benchmark uploading through vipfs against `curl -F` to the same emulator node.

`cp` of a large file into the mount, timed until the host holds it with its final title (the
upload confirmed), against `curl -F` of the same file straight to the emulator's upload node,
both at the same emulated bandwidth (default 800 Mbit/s = 100 MB/s). The ratio is what vipfs
costs over the bare upload. Then API calls per uploaded file, from `/_emu/calls`, for the big
file and for a batch of small ones, and the mount's peak RSS.

    .venv/bin/python scripts/bench_upload.py [--size-mib 1024] [--bandwidth-mbps 800]
        [--small-files 20] [--write-back 0] [--runs 1]

The API key is the emulator's test key; curl reads it from a file (`-F key=<file`), so it is
never on a command line.
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
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from benchkit import MIB, Emulator, emulator, make_file, mounted, vm_hwm_kib, write_key


class Host:
    """The emulator's API as the benches use it: one API call and the confirmed uploads."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.url = emu.url
        self.key_file = emu.key_file
        self.control = emu.control

    def api(self, op: str) -> Any:
        query = urllib.parse.urlencode({"key": self.key_file.read_text().strip()})
        with urllib.request.urlopen(f"{self.url}/{op}?{query}", timeout=60) as reply:
            return json.loads(reply.read())["result"]

    def confirmed(self, size: int) -> list[dict[str, Any]]:
        """Live files of `size` bytes whose title is final (no upload token left)."""
        return [
            f
            for f in self.control("GET", "/_emu/files")
            if not f["deleted"] and f["size"] == size and "vipfs-" not in f["title"]
        ]


def wait_until(what: str, check: Any, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.02)


def curl_upload(host: Host, path: Path, key_value: Path) -> float:
    node = host.api("upload/server")
    start = time.perf_counter()
    done = subprocess.run(
        ["curl", "-sS", "--fail", "-F", f"key=<{key_value}", "-F", f"file=@{path}", node],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode != 0 or '"status":"OK"' not in done.stdout:
        raise SystemExit(f"bench: curl upload failed: {done.stderr or done.stdout[:200]}")
    return took


def vipfs_upload(host: Host, path: Path, folder: Path) -> tuple[float, float, dict[str, int]]:
    """`cp` into the mount, then until the host holds the file: seconds until cp returned and
    until the upload was confirmed, and the calls made."""
    size = path.stat().st_size
    before = len(host.confirmed(size))
    host.control("DELETE", "/_emu/calls")
    start = time.perf_counter()
    subprocess.run(["cp", str(path), str(folder)], check=True)
    copied = time.perf_counter() - start
    wait_until("the upload", lambda: len(host.confirmed(size)) > before)
    took = time.perf_counter() - start
    return copied, took, dict(host.control("GET", "/_emu/calls"))


def small_batch(host: Host, tmp: Path, folder: Path, count: int) -> dict[str, int]:
    """`cp` of `count` small files; the API calls until all are confirmed."""
    src = tmp / "small"
    src.mkdir()
    size = 100_000 + 1  # a size no other file of the run has
    for i in range(count):
        (src / f"small clip {i:03d}.mp4").write_bytes(os.urandom(size))
    host.control("DELETE", "/_emu/calls")
    subprocess.run(["cp", "-a", *[str(p) for p in sorted(src.iterdir())], str(folder)],
                   check=True)  # fmt: skip
    wait_until("the small files", lambda: len(host.confirmed(size)) >= count)
    return dict(host.control("GET", "/_emu/calls"))


def per_file(calls: dict[str, int], files: int) -> str:
    useful = {op: n for op, n in calls.items() if op != "faulted"}
    detail = ", ".join(f"{op} {n / files:.2f}" for op, n in sorted(useful.items()))
    return f"{sum(useful.values()) / files:.2f} ({detail})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--bandwidth-mbps", type=float, default=800.0)
    parser.add_argument("--small-files", type=int, default=20)
    parser.add_argument("--write-back", default="0", help="vipfs --write-back (default 0)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    size = args.size_mib * MIB

    with tempfile.TemporaryDirectory(prefix="vipfs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        key_file = write_key(tmp / "key")
        key_value = write_key(tmp / "key.value", newline=False)  # curl's `<file` sends it as is
        mnt = tmp / "mnt"
        mnt.mkdir()
        with emulator(
            "--bandwidth-mbps", str(args.bandwidth_mbps),
            "--max-upload-mb", str(args.size_mib + 16),
            "--storage-gb", str(args.size_mib * (args.runs * 2 + 1) // 1024 + 4),
            key_file=key_file,
        ) as emu:  # fmt: skip
            host = Host(emu)
            big = tmp / "big.mp4"
            make_file(big, size)
            with mounted(
                mnt, emu, tmp / "cache",
                "--log-file", str(tmp / "mount.log"), "--write-back", args.write_back,
            ) as mount:  # fmt: skip
                folder = mnt / "bench"
                folder.mkdir()

                curls: list[float] = []
                vips: list[float] = []
                cps: list[float] = []
                big_calls: dict[str, int] = {}
                for _ in range(args.runs):
                    curls.append(curl_upload(host, big, key_value))
                    copied, took, big_calls = vipfs_upload(
                        host, big, folder / f"big {len(vips)}.mp4"
                    )
                    cps.append(copied)
                    vips.append(took)
                small_calls = small_batch(host, tmp, folder, args.small_files)
                peak_mib = vm_hwm_kib(mount.pid) / 1024
    curl_s, vip_s = statistics.median(curls), statistics.median(vips)
    mb = size / 1e6
    print(f"file: {args.size_mib} MiB, emulated bandwidth: {args.bandwidth_mbps:g} Mbit/s,"
          f" vipfs --write-back {args.write_back}, runs: {args.runs}")  # fmt: skip
    print(f"curl -F to the node:         {curl_s:7.2f} s  ({mb / curl_s:6.1f} MB/s)")
    print(f"cp into vipfs until on host: {vip_s:7.2f} s  ({mb / vip_s:6.1f} MB/s)"
          f"  = {vip_s / curl_s:5.2f} x curl")  # fmt: skip
    print(f"  of which cp itself:        {statistics.median(cps):7.2f} s"
          " (the upload starts at the last close plus --write-back)")  # fmt: skip
    print(f"API calls for the big file:  {per_file(big_calls, 1)}")
    print(f"API calls per small file:    {per_file(small_calls, args.small_files)}"
          f"  ({args.small_files} files of 100 kB, cp -a)")  # fmt: skip
    print(f"vipfs peak RSS (VmHWM):      {peak_mib:7.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
