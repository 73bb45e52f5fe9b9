"""`vipfs events MNT [--follow]`: what happened to the account's files, as JSON lines.

Owns: the `vipfs events` command.
Imports: the standard library only (it reads the mount's `/.vipfs/events.jsonl`).

The mount keeps its last events (and those of earlier mounts, from its log in the state
directory) in `/.vipfs/events.jsonl`, one JSON object per line; this prints those lines as
they are. `--follow` then reads the file again every second and prints the lines whose `seq`
is new, until Ctrl-C (exit 0) or the mount goes away (one line, exit 1). No key is needed.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from pathlib import Path

EVENTS_FILE = ".vipfs/events.jsonl"
FOLLOW_EVERY = 1.0  # seconds between reads under --follow


class Gone(Exception):
    """The mount cannot be read; the message is the one line the user sees."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mountpoint", help="a vipfs mount")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="then print new events as they happen"
    )


def run(args: argparse.Namespace) -> int:
    mount = Path(args.mountpoint)
    try:
        last = show(mount, 0)
        if not args.follow:
            return 0
        while True:
            time.sleep(FOLLOW_EVERY)  # a polling interval, not synchronisation
            last = show(mount, last, followed=True)
    except Gone as exc:
        print(f"vipfs: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def show(mount: Path, after: int, *, followed: bool = False) -> int:
    """Print the kept events with seq above `after`; the highest seq seen."""
    for seq, line in read(mount, followed=followed):
        if seq > after:
            print(line, flush=True)
            after = seq
    return after


def read(mount: Path, *, followed: bool = False) -> list[tuple[int, str]]:
    """(seq, line) of each event the mount shows; lines that are not events are skipped.
    `followed`: the mount answered before, so a missing file means it was unmounted."""
    try:
        text = (mount / EVENTS_FILE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        if followed:
            raise Gone(f"{mount} is no longer mounted") from None
        raise Gone(f"{mount} is not a vipfs mount (no {EVENTS_FILE})") from None
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            raise Gone(
                f"{mount} no longer answers (its process ended); run fusermount3 -u {mount}"
            ) from None
        raise Gone(f"{mount}: no events ({exc.strerror})") from None
    found = []
    for line in text.splitlines():
        try:
            seq = json.loads(line).get("seq")
        except (ValueError, AttributeError):
            continue
        if isinstance(seq, int):
            found.append((seq, line))
    return found
