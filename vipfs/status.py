"""`vipfs status [MOUNTPOINT]`: what the upload queue of a mount is doing, readably.

Owns: the `vipfs status` command: finding vipfs mounts and printing their queues; and the
one-line queue summary `vipfs umount` and the mount print while draining (`progress_line`).
Imports: the standard library only (it reads the mount's `status.json`).

The mount publishes its state in `/.vipfs/status.json` (served from memory, never waiting on
the network), so this command needs no key and no API call: it reads that file. Without a
mountpoint it reports every vipfs mount listed in /proc/mounts.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path
from typing import Any

STATUS_FILE = Path(".vipfs") / "status.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mountpoint", nargs="?", help="a vipfs mount (default: every one)")
    parser.add_argument("--json", action="store_true", help="print the raw status.json")


def run(args: argparse.Namespace) -> int:
    mounts = [Path(args.mountpoint)] if args.mountpoint else vipfs_mounts()
    if not mounts:
        print("vipfs: no vipfs mount found", file=sys.stderr)
        return 1
    code = 0
    for mount in mounts:
        try:
            status = json.loads((mount / STATUS_FILE).read_text())
        except FileNotFoundError:
            print(f"vipfs: {mount} is not a vipfs mount (no {STATUS_FILE})", file=sys.stderr)
            code = 1
            continue
        except OSError as exc:
            if exc.errno == errno.ENOTCONN:
                print(
                    f"vipfs: {mount} no longer answers (its process ended); "
                    f"run fusermount3 -u {mount}",
                    file=sys.stderr,
                )
            else:
                print(f"vipfs: {mount}: no status ({exc.strerror})", file=sys.stderr)
            code = 1
            continue
        except ValueError as exc:
            print(f"vipfs: {mount}: no status ({exc})", file=sys.stderr)
            code = 1
            continue
        if args.json:
            print(json.dumps(status, indent=2, ensure_ascii=False))
        else:
            print(render(mount, status))
    return code


def vipfs_mounts() -> list[Path]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "fuse.vipfs":
            found.append(Path(fields[1].replace("\\040", " ")))
    return found


def _mb(count: object) -> str:
    return f"{int(str(count or 0)) / 1e6:.1f} MB"


def render(mount: Path, status: dict[str, Any]) -> str:
    queue: dict[str, list[dict[str, Any]]] = status.get("queue") or {}
    counts = ", ".join(
        f"{len(queue.get(k) or [])} {k}"
        for k in ("writing", "held", "queued", "uploading", "failed")
    )
    if queue.get("incomplete"):
        counts += f", {len(queue['incomplete'])} incomplete"
    if queue.get("empty"):
        counts += f", {len(queue['empty'])} empty"
    lines = [f"{mount}: {counts}"]
    for row in queue.get("uploading") or []:
        lines.append(f"  uploading  {row['name']}  {_mb(row.get('sent'))} of {_mb(row['size'])}")
    for row in queue.get("queued") or []:
        tries = row.get("attempts")
        extra = f"  (retrying: {row['error']}; {tries} attempt(s) failed)" if tries else ""
        lines.append(f"  queued     {row['name']}  {_mb(row['size'])}{extra}")
    for row in queue.get("held") or []:
        lines.append(f"  held       {row['name']}  (temp name: waits for a rename)")
    for row in queue.get("writing") or []:
        lines.append(f"  writing    {row['name']}")
    for row in queue.get("failed") or []:
        lines.append(f"  failed     {row['name']}: {row['error']}  (data kept)")
    for row in queue.get("incomplete") or []:
        lines.append(f"  incomplete {row['name']}: {row['error']}  (data kept; not uploaded)")
    for row in queue.get("empty") or []:
        lines.append(f"  empty      {row['name']}: {row['error']}")
    lost = status.get("lost_found")
    if isinstance(lost, dict) and lost.get("files"):
        lines.append(
            f"lost+found: {len(lost['files'])} file(s) in {lost.get('dir')} "
            "(spool data no queued upload names; kept, not uploaded)"
        )
    rate = status.get("rate_limit")
    if isinstance(rate, dict):
        left = rate.get("requests_available")
        line = "  rate limit: " + (
            "the host has not reported a budget" if left is None else f"{left} requests available"
        )
        if rate.get("blocked_until"):
            line += f"; blocked per {rate.get('scope')} until {rate['blocked_until']:.0f}"
        lines.append(line)
    return "\n".join(lines)


def progress_line(status: dict[str, object]) -> str:
    """One line about the queue: what an unmount waits for."""

    def rows(name: str) -> list[dict[str, object]]:
        value = status.get(name)
        return value if isinstance(value, list) else []

    queued, uploading = rows("queued"), rows("uploading")
    total = sum(int(str(r.get("size", 0))) for r in queued + uploading)
    sent = sum(int(str(r.get("sent", 0))) for r in uploading)
    failed = len(rows("failed"))
    parts = [f"{len(queued)} queued", f"{len(uploading)} uploading"]
    if total:
        parts.append(f"{sent / 1e6:.1f}/{total / 1e6:.1f} MB sent")
    if failed:
        parts.append(f"{failed} failed (kept; see vipfs status)")
    return "uploads: " + ", ".join(parts)
