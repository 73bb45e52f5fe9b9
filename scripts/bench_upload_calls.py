#!/usr/bin/env python3
"""API calls per uploaded file: the upload design of issue 10 against `--upload-retitle`.

For each design, one emulator and one mount: `cp` of N small files into a folder, then wait
until the host holds all of them under a final title (no upload token left), and read the
calls the emulator recorded from the `cp` on (`/_emu/calls`; node POSTs are not API calls).

    .venv/bin/python scripts/bench_upload_calls.py [--files 50] [--write-back 0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchkit import emulator, mounted, write_key

SIZE = 50_001  # bytes per file: a size nothing else in the run has


def _settled(emu_files: list[dict[str, object]], count: int) -> bool:
    done = [
        f
        for f in emu_files
        if not f["deleted"] and f["size"] == SIZE and "vipfs-" not in str(f["title"])
    ]
    return len(done) >= count


def run(design: str, files: int, write_back: str, tmp: Path) -> dict[str, int]:
    """One design's API calls for `files` uploads (the mount's start-up calls excluded)."""
    work = tmp / design
    work.mkdir()
    src = work / "src"
    src.mkdir()
    for i in range(files):
        (src / f"clip_{i:03d}.v2.mp4").write_bytes(os.urandom(SIZE))
    mnt = work / "mnt"
    mnt.mkdir()
    extra = ["--upload-retitle"] if design == "retitle" else []
    with (
        emulator(key_file=write_key(work / "key")) as emu,
        mounted(mnt, emu, work / "cache", "--write-back", write_back, *extra),
    ):
        (mnt / "bench").mkdir()
        emu.control("DELETE", "/_emu/calls")
        subprocess.run(["cp", *[str(p) for p in sorted(src.iterdir())], str(mnt / "bench")],
                       check=True)  # fmt: skip
        deadline = time.monotonic() + 600
        while not _settled(emu.control("GET", "/_emu/files"), files):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {design}: the uploads did not settle")
            time.sleep(0.05)
        time.sleep(1)  # a last edit in flight lands in the count
        calls: dict[str, int] = emu.control("GET", "/_emu/calls")
    return {op: n for op, n in calls.items() if op not in ("faulted", "upload")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--write-back", default="0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vipfs-bench-") as tmp_name:
        for design in ("new", "retitle"):
            calls = run(design, args.files, args.write_back, Path(tmp_name))
            total = sum(calls.values())
            detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
            print(
                f"{design:8} {args.files} files: {total} API calls, "
                f"{total / args.files:.2f} per file ({detail})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
