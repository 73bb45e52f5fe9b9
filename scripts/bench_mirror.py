#!/usr/bin/env python3
"""Benchmark a 3-member mirror upload against three `curl -F` uploads run side by side.

Three emulators (three accounts, each at the same emulated bandwidth), a config file with a
mirror of the three, and `vipfs mount all MNT`. The baseline: three `curl -F` uploads of the
file, one to each emulator's upload node, started together; its wall time is the slowest.
Then `cp` of the same file into the mirror, timed until all three hosts hold it with its final
title. Also the bytes read from the spool: the mount process's /proc/PID/io around the copy
(`read_bytes`: from the disk; `rchar` minus the bytes cp wrote through FUSE, which the mount
reads from /dev/fuse: the spool reads whether the page cache served them or not), and the
bytes each upload node received (`/_emu/traffic`).

    .venv/bin/python scripts/bench_mirror.py [--size-mb 1024] [--bandwidth-mbps 800]

The keys are the emulators' own generated key files; curl reads each from a file
(`-F key=<file`), so no key is on a command line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchkit import MIB, Emulator, emulator, make_file, mounted_with, proc_io, read_key

MEMBERS = ("m1", "m2", "m3")


def api(emu: Emulator, op: str) -> Any:
    query = urllib.parse.urlencode({"key": read_key(emu.key_file)})
    with urllib.request.urlopen(f"{emu.url}/{op}?{query}", timeout=60) as reply:
        return json.loads(reply.read())["result"]


def confirmed(emu: Emulator, size: int) -> int:
    """Live files of `size` bytes whose title is final (no upload token left)."""
    return sum(
        1
        for f in emu.control("GET", "/_emu/files")
        if not f["deleted"] and f["size"] == size and "vipfs-" not in f["title"]
    )


def wait_until(what: str, check: Any, timeout: float = 7200) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


def curl_side_by_side(emus: list[Emulator], path: Path, tmp: Path) -> float:
    """Three `curl -F` uploads, one per emulator, started together: seconds until the last."""
    commands = []
    for i, emu in enumerate(emus):
        key_value = tmp / f"key{i}.value"  # curl's `<file` sends it as is: no newline
        key_value.write_text(read_key(emu.key_file))
        key_value.chmod(0o600)
        node = api(emu, "upload/server")
        commands.append(["curl", "-sS", "--fail", "-F", f"key=<{key_value}",
                         "-F", f"file=@{path}", node])  # fmt: skip
    start = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
    outs = [p.communicate()[0] for p in procs]
    took = time.perf_counter() - start
    for p, out in zip(procs, outs, strict=True):
        if p.returncode != 0 or '"status":"OK"' not in out:
            raise SystemExit(f"bench: a curl upload failed: {out[:200]}")
    return took


def write_config(path: Path, emus: list[Emulator]) -> None:
    lines = []
    for name, emu in zip(MEMBERS, emus, strict=True):
        lines += [f"[remotes.{name}]", f'api_url = "{emu.url}"', f'key_file = "{emu.key_file}"', ""]
    lines += ["[remotes.all]", f"mirror = {json.dumps(list(MEMBERS))}", ""]
    path.write_text("\n".join(lines))
    path.chmod(0o600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--bandwidth-mbps", type=float, default=800.0)
    parser.add_argument("--write-back", default="0", help="vipfs --write-back (default 0)")
    args = parser.parse_args()
    size = args.size_mb * MIB

    with tempfile.TemporaryDirectory(prefix="vipfs-bench-mirror-") as tmp_name, ExitStack() as st:
        tmp = Path(tmp_name)
        emus = [
            st.enter_context(
                emulator(
                    "--bandwidth-mbps", str(args.bandwidth_mbps),
                    "--max-upload-mb", str(args.size_mb + 16),
                    "--storage-gb", str(args.size_mb * 3 // 1024 + 4),
                )
            )
            for _ in MEMBERS
        ]  # fmt: skip
        big = tmp / "big.mp4"
        make_file(big, size)
        curl_s = curl_side_by_side(emus, big, tmp)

        config = tmp / "config.toml"
        write_config(config, emus)
        mnt = tmp / "mnt"
        mnt.mkdir()
        with mounted_with(
            mnt,
            "all",
            "--config",
            str(config),
            "--log-file",
            str(tmp / "mount.log"),
            "--write-back",
            args.write_back,
            env={"XDG_STATE_HOME": str(tmp / "state"), "XDG_CACHE_HOME": str(tmp / "cache")},
        ) as mount:  # fmt: skip  (each member's own state and cache dirs under these)
            folder = mnt / "bench"
            folder.mkdir()
            before = [confirmed(e, size) for e in emus]
            for e in emus:
                e.control("DELETE", "/_emu/traffic")
            io0 = proc_io(mount.pid)
            start = time.perf_counter()
            subprocess.run(["cp", str(big), str(folder / "big.mp4")], check=True)
            copied = time.perf_counter() - start
            done: dict[int, float] = {}

            def all_hold() -> bool:
                for i, e in enumerate(emus):
                    if i not in done and confirmed(e, size) > before[i]:
                        done[i] = time.perf_counter() - start
                return len(done) == len(emus)

            wait_until("every member's upload", all_hold)
            mirror_s = time.perf_counter() - start
            io1 = proc_io(mount.pid)
            received = [e.control("GET", "/_emu/traffic")["upload_bytes"] for e in emus]

    mb = size / 1e6
    spool_rchar = io1["rchar"] - io0["rchar"] - size  # less what cp wrote through /dev/fuse
    spool_disk = io1["read_bytes"] - io0["read_bytes"]
    print(f"file: {args.size_mb} MiB, 3 emulators at {args.bandwidth_mbps:g} Mbit/s each,"
          f" vipfs --write-back {args.write_back}")  # fmt: skip
    print(f"{'':34}{'wall s':>9}{'MB/s per host':>15}{'x curl':>8}")
    print(f"{'3 x curl -F, side by side':34}{curl_s:9.2f}{mb / curl_s:15.1f}{1:8.2f}")
    print(f"{'cp into the mirror, all 3 hold it':34}{mirror_s:9.2f}{mb / mirror_s:15.1f}"
          f"{mirror_s / curl_s:8.2f}")  # fmt: skip
    print(
        f"  cp itself: {copied:.2f} s; each host held it after: "
        + ", ".join(f"{MEMBERS[i]} {t:.2f} s" for i, t in sorted(done.items()))
    )
    print(f"spool bytes read by the mount: {spool_rchar / MIB:.0f} MiB (rchar - cp's bytes;"
          f" {spool_rchar / size:.2f} x the file), {spool_disk / MIB:.0f} MiB from disk"
          " (read_bytes)")  # fmt: skip
    print(
        "bytes received by the upload nodes: "
        + ", ".join(f"{m} {b / MIB:.0f} MiB" for m, b in zip(MEMBERS, received, strict=True))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
