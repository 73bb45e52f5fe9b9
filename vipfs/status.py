"""`vipfs status [MOUNTPOINT]`: what the upload queue of a mount is doing, readably.

Owns: the `vipfs status` command: finding this user's vipfs mounts and printing their queues
(`--watch` redraws: live rich bars on a terminal, the plain text elsewhere); the one-line queue
summary `vipfs umount` and the mount print while draining (`progress_line`), and what is left
of a drain (`drain_left`); and the human sizes they show (`human_size`).
Imports: the standard library, rich, and `vipfs.vfs.progress` (a pure formatter, so a running
upload reads here as in `user.vipfs.status`); it reads the mount's `status.json`.

A mirror's status.json holds each member's own status object under `members` (and their
queues merged, each row naming its `member`, and each member's journal backlog): `vipfs status
MNT` prints the whole queue's line, then a block per member.

The mount publishes its state in `/.vipfs/status.json` (served from memory, never waiting on
the network), so this command needs no key and no API call: it reads that file. Without a
mountpoint it prints one summary line for each vipfs mount of this user in /proc/mounts (the
kernel's `user_id=` option): another user's queue is neither ours to read nor to scroll past.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from vipfs.vfs.progress import transfer_text

STATUS_FILE = Path(".vipfs") / "status.json"
WATCH_EVERY = 1.0  # seconds between two redraws of `--watch`
CLEAR = "\033[H\033[J"  # cursor home, erase below: a redraw in place on a terminal


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "mountpoint", nargs="?", help="a vipfs mount (default: one line for each of yours)"
    )
    parser.add_argument("--json", action="store_true", help="print the raw status.json")
    parser.add_argument(
        "-w", "--watch", action="store_true", help=f"redraw every {WATCH_EVERY:g} s until Ctrl-C"
    )


def run(args: argparse.Namespace) -> int:
    if not args.watch:
        return show(args)
    if sys.stdout.isatty() and not args.json:
        return watch_live(args, Console())
    try:
        while True:
            if sys.stdout.isatty():
                print(CLEAR, end="")
            print(time.strftime("%H:%M:%S"), "(Ctrl-C ends)", flush=True)
            show(args)
            time.sleep(WATCH_EVERY)  # a refresh interval, not synchronisation
    except KeyboardInterrupt:
        return 0


def watch_live(args: argparse.Namespace, console: Console) -> int:
    """`--watch` on a terminal: one live bar per uploading file, redrawn in place; Ctrl-C
    ends it (exit 0, the last picture left on the screen)."""
    mounts = _mounts(args)
    if not mounts:
        print("vipfs: no vipfs mount of yours found", file=sys.stderr)
        return 1
    try:
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while True:
                views: list[RenderableType] = [Text(f"{time.strftime('%H:%M:%S')} (Ctrl-C ends)")]
                for mount in mounts:
                    status, error = read_status(mount)
                    views.append(Text(error) if status is None else watch_view(mount, status))
                live.update(Group(*views), refresh=True)
                time.sleep(WATCH_EVERY)  # a refresh interval, not synchronisation
    except KeyboardInterrupt:
        return 0


def watch_view(mount: Path, status: dict[str, Any]) -> RenderableType:
    """A mount's queue as `--watch` draws it: the summary, a bar per uploading file, then
    the other rows as `vipfs status` lists them."""
    queue = queue_of(status)
    bars = Table.grid(padding=(0, 1))
    bars.add_column(max_width=40, no_wrap=True, overflow="ellipsis")
    bars.add_column(width=30)
    bars.add_column(no_wrap=True)
    for row in queue.get("uploading") or []:
        sent, total = _count(row.get("sent")), _count(row.get("total", row.get("size")))
        bar = ProgressBar(total=max(total, 1), completed=min(sent, total), width=30)
        bars.add_row(_where(row), bar, _transfer(row))
    return Group(Text(summary(mount, status)), bars, *(Text(line) for line in details(status)))


def _mounts(args: argparse.Namespace) -> list[Path]:
    return [Path(args.mountpoint)] if args.mountpoint else vipfs_mounts()


def read_status(mount: Path) -> tuple[dict[str, Any] | None, str]:
    """A mount's status.json, or None and the one line that says why there is none."""
    try:
        status = json.loads((mount / STATUS_FILE).read_text())
    except FileNotFoundError:
        return None, f"vipfs: {mount} is not a vipfs mount (no {STATUS_FILE})"
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            return None, (
                f"vipfs: {mount} no longer answers (its process ended); run fusermount3 -u {mount}"
            )
        return None, f"vipfs: {mount}: no status ({exc.strerror})"
    except ValueError as exc:
        return None, f"vipfs: {mount}: no status ({exc})"
    if not isinstance(status, dict):
        return None, f"vipfs: {mount}: no status (not a JSON object)"
    return status, ""


def show(args: argparse.Namespace) -> int:
    """Print once: the whole queue of the mount named, or one summary line per own mount."""
    mounts = _mounts(args)
    if not mounts:
        print("vipfs: no vipfs mount of yours found", file=sys.stderr)
        return 1
    code = 0
    for mount in mounts:
        status, error = read_status(mount)
        if status is None:
            print(error, file=sys.stderr)
            code = 1
            continue
        if args.json:
            print(json.dumps(status, indent=2, ensure_ascii=False))
        elif args.mountpoint:
            print(render(mount, status))
        else:
            print(summary(mount, status))
    return code


def vipfs_mounts(table: str | None = None, uid: int | None = None) -> list[Path]:
    """The vipfs mounts of user `uid` (default: ours) in `table` (default: /proc/mounts)."""
    if table is None:
        try:
            table = Path("/proc/mounts").read_text()
        except OSError:
            return []
    owner = f"user_id={os.getuid() if uid is None else uid}"
    found = []
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "fuse.vipfs" and owner in fields[3].split(","):
            found.append(Path(_unescape(fields[1])))
    return found


def _unescape(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def human_size(count: object) -> str:
    """Bytes as people read them: `512 B`, `2.3 KB`, `4.0 MB`, `1.2 GB` (powers of 1000)."""
    size = float(int(str(count or 0)))
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def _where(row: dict[str, Any]) -> str:
    """A row's path in the mount; a folder the mount no longer knows is named by its id."""
    folder = row.get("dir")
    on = f" on {row['member']}" if isinstance(row.get("member"), str) else ""  # a mirror's
    if folder is None and row.get("fld_id"):
        return f"{row['name']} (in folder {row['fld_id']}){on}"
    return (f"{folder}/{row['name']}" if folder else str(row["name"])) + on


def _count(value: object) -> int:
    """A byte count from status.json; anything else reads as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _number(value: object) -> float | None:
    """A rate or ETA from status.json; null (not known yet) or anything odd reads as None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _transfer(row: dict[str, Any]) -> str:
    """A running upload's `37% 12.3/33.0 MB 2.1 MB/s ETA 10s`, as its xattr says it."""
    total = _count(row.get("total", row.get("size")))
    return transfer_text(
        _count(row.get("sent")), total, _number(row.get("rate")), _number(row.get("eta"))
    )


QUEUE_STATES = ("writing", "held", "queued", "uploading", "failed", "incomplete", "empty")


def members_of(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A mirror's members' own status objects, in the mirror's order; {} for one host."""
    members = status.get("members")
    if not isinstance(members, dict):
        return {}
    return {str(name): each for name, each in members.items() if isinstance(each, dict)}


def queue_of(status: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The mount's whole queue: its `queue`, or on a mirror without one every member's queue
    merged (each row naming its `member`), so a drain counts every member."""
    queue = status.get("queue")
    if isinstance(queue, dict):
        return queue
    merged: dict[str, list[dict[str, Any]]] = {}
    for name, member in members_of(status).items():
        own = member.get("queue")
        if not isinstance(own, dict):
            continue
        for state, rows in own.items():
            if isinstance(rows, list):
                tagged = [{**row, "member": name} for row in rows if isinstance(row, dict)]
                merged.setdefault(state, []).extend(tagged)
    return merged


def render(mount: Path, status: dict[str, Any]) -> str:
    members = members_of(status)
    if members:
        return render_mirror(mount, status, members)
    queue = queue_of(status)
    uploading = [
        f"  uploading  {_where(row)}  {_transfer(row)}" for row in queue.get("uploading") or []
    ]
    return "\n".join([summary(mount, status), *uploading, *details(status)])


def render_mirror(mount: Path, status: dict[str, Any], members: dict[str, dict[str, Any]]) -> str:
    """A mirror: the whole queue's line, then per member its counts, journal backlog, rows and
    rate-limit budget (each member is its own account with its own queue)."""
    journal = status.get("journal")
    backlog = journal if isinstance(journal, dict) else {}
    lines = [summary(mount, status), f"mirror {status.get('mirror')}: {', '.join(members)}"]
    for name, member in members.items():
        queue = queue_of(member)
        counts = ", ".join(f"{len(queue.get(k) or [])} {k}" for k in QUEUE_STATES[1:5])
        pending = _count(backlog.get(name))
        lines.append(f"member {name}: {counts}, journal {pending} op(s) waiting to replay")
        lines += [
            f"  uploading  {_where(row)}  {_transfer(row)}" for row in queue.get("uploading") or []
        ]
        lines += details(member)
    return "\n".join(lines)


def summary(mount: Path, status: dict[str, Any]) -> str:
    """The first line: how many rows are in each state."""
    queue = queue_of(status)
    counts = ", ".join(
        f"{len(queue.get(k) or [])} {k}"
        for k in ("writing", "held", "queued", "uploading", "failed")
    )
    if queue.get("incomplete"):
        counts += f", {len(queue['incomplete'])} incomplete"
    if queue.get("empty"):
        counts += f", {len(queue['empty'])} empty"
    members = members_of(status)
    if members:
        counts += f" (mirror of {len(members)}: {', '.join(members)})"
    return f"{mount}: {counts}"


def details(status: dict[str, Any]) -> list[str]:
    """The lines after the uploading rows: every other row, lost+found, the rate limit."""
    queue = queue_of(status)
    lines: list[str] = []
    for row in queue.get("queued") or []:
        tries = row.get("attempts")
        extra = f"  (retrying: {row['error']}; {tries} attempt(s) failed)" if tries else ""
        lines.append(f"  queued     {_where(row)}  {human_size(row['size'])}{extra}")
    for row in queue.get("held") or []:
        lines.append(f"  held       {_where(row)}  (temp name: waits for a rename)")
    for row in queue.get("writing") or []:
        lines.append(f"  writing    {_where(row)}")
    for row in queue.get("failed") or []:
        lines.append(f"  failed     {_where(row)}: {row['error']}  (data kept)")
    for row in queue.get("incomplete") or []:
        lines.append(f"  incomplete {_where(row)}: {row['error']}  (data kept; not uploaded)")
    for row in queue.get("empty") or []:
        lines.append(f"  empty      {_where(row)}: {row['error']}")
    lines.extend(url_lines(status.get("url_uploads")))
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
    return lines


def url_lines(rows: object) -> list[str]:
    """`vipfs url-upload`'s URLs: a count per state, then each one not uploaded yet."""
    if not isinstance(rows, list) or not rows:
        return []
    rows = [r for r in rows if isinstance(r, dict)]
    order = ("queued", "submitted", "fetching", "uploaded", "failed")
    counts = ", ".join(
        f"{n} {state}" for state in order if (n := sum(r.get("state") == state for r in rows))
    )
    lines = [f"  URL uploads: {counts}"]
    for r in rows:
        state, where = r.get("state"), r.get("dir") or "/"
        if state == "failed":
            lines.append(f"  url {state:<9} {where}  {r.get('url')}: {r.get('error')}")
        elif state == "fetching":
            lines.append(f"  url {state:<9} {where}  {r.get('url')}  {r.get('progress')}%")
        elif state != "uploaded":
            lines.append(f"  url {state:<9} {where}  {r.get('url')}")
    return lines


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
        parts.append(f"{human_size(sent)} of {human_size(total)} sent")
    if failed:
        parts.append(f"{failed} failed (kept; see vipfs status)")
    return "uploads: " + ", ".join(parts)


class DrainLeft(NamedTuple):
    left: int  # bytes not sent yet: queued rows whole, uploading rows what they have not sent
    sent: int  # bytes the running uploads have sent
    rate: float | None  # the running uploads' bytes/s in all; None while none is known
    files: int  # rows queued or uploading


def drain_left(status: dict[str, object]) -> DrainLeft:
    """What an unmount still waits for, from status.json's queue."""

    def rows(name: str) -> list[dict[str, object]]:
        value = status.get(name)
        return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []

    queued, uploading = rows("queued"), rows("uploading")
    sent = [min(_count(r.get("sent")), _count(r.get("size"))) for r in uploading]
    left = sum(_count(r.get("size")) for r in queued + uploading) - sum(sent)
    rates = [rate for r in uploading if (rate := _number(r.get("rate"))) is not None]
    return DrainLeft(left, sum(sent), sum(rates) if rates else None, len(queued) + len(uploading))
