"""`vipfs url-upload URL --to DIR` and `--from FILE`: the host downloads URLs into a folder.

Owns: the `vipfs url-upload` command: reading a URL list, and saying what became of each URL.
Imports: the standard library only (it talks to the mount through xattrs and status.json).

Like `vipfs clone`, the mount makes the calls: setting DIR's `user.vipfs.url_upload` attribute
to `{"url": ..., "title": ...}` records the URL in the mount's persistent URL-upload queue,
which sends it to the host (`upload/url`) when the host's queue has room and follows it until
the file is there. What became of a URL asked before (uploaded, pending, failed) is read from
`/.vipfs/status.json` of the mount, so the command prints one line per URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

URL_UPLOAD = "user.vipfs.url_upload"
PENDING = ("queued", "submitted", "fetching")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", help="an http(s) URL the host can reach")
    parser.add_argument("--to", required=True, metavar="DIR", help="a folder in a vipfs mount")
    parser.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="URLs, one a line, each optionally followed by a title ('-': standard input)",
    )
    parser.add_argument("--title", help="the title of the file URL becomes")


def parse(lines: Iterable[str]) -> Iterator[tuple[int, str, str | None, str | None]]:
    """(line number, url, title, error) per line that is not blank or a `#` comment."""
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        url, *rest = text.split(None, 1)
        title = rest[0].strip() if rest else None
        yield number, url, title or None, _bad_url(url)


def _bad_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{url[:80]!r} is not an http(s) URL"
    return None


def mount_root(folder: Path) -> Path | None:
    """The vipfs mount a folder is in: its nearest mount point holding `.vipfs`."""
    for d in (folder, *folder.parents):
        if os.path.ismount(d):
            return d if (d / ".vipfs").is_dir() else None
    return None


def known(root: Path | None) -> list[dict[str, Any]]:
    """The mount's URL uploads as status.json lists them ([] where it cannot be read)."""
    if root is None:
        return []
    try:
        rows = json.loads((root / ".vipfs" / "status.json").read_text()).get("url_uploads")
    except (OSError, ValueError, AttributeError):
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def outcome(rows: list[dict[str, Any]], url: str, where: str) -> str:
    """What the mount does with the URL, from what it held before the request."""
    same = [r for r in rows if r.get("url") == url and r.get("dir") == where]
    if not same:
        return "queued"
    state = same[-1].get("state")
    if state == "uploaded":
        return f"already uploaded as {same[-1].get('code')}"
    if state in PENDING:
        return "already queued"
    return "retrying (was failed)"


def run(args: argparse.Namespace) -> int:
    if (args.url is None) == (args.from_file is None):
        print("vipfs: give one URL, or --from FILE", file=sys.stderr)
        return 2
    folder = Path(args.to)
    if not folder.is_dir():
        print(f"vipfs: {folder} is not a folder", file=sys.stderr)
        return 1
    if args.url is not None:
        entries = [(0, args.url.strip(), args.title, _bad_url(args.url.strip()))]
        return _send(folder, entries, "")
    try:
        if args.from_file == "-":
            return _send(folder, list(parse(sys.stdin)), "stdin")
        with open(args.from_file, encoding="utf-8", errors="replace") as f:
            return _send(folder, list(parse(f)), args.from_file)
    except OSError as exc:
        print(f"vipfs: {args.from_file}: {exc.strerror}", file=sys.stderr)
        return 1


def _send(folder: Path, entries: list[tuple[int, str, str | None, str | None]], source: str) -> int:
    root = mount_root(folder.resolve())
    where = folder.resolve().relative_to(root).as_posix() if root is not None else ""
    where = "" if where == "." else where
    rows = known(root)
    bad = 0
    for number, url, title, error in entries:
        at = f"{source}:{number}: " if source else ""
        if error is not None:
            _say(sys.stderr, f"vipfs: {at}{error}")
            bad += 1
            continue
        answer = outcome(rows, url, where)
        request = json.dumps({"url": url, "title": title})
        try:
            os.setxattr(folder, URL_UPLOAD, request.encode())
        except OSError as exc:
            _say(sys.stderr, f"vipfs: {at}{url}: {exc.strerror} (see the mount's log)")
            bad += 1
            continue
        _say(sys.stdout, f"{url}: {answer}")
        rows.append({"url": url, "dir": where, "state": "queued"})  # the same URL again
    return 1 if bad else 0


def _say(stream: TextIO, line: str) -> None:
    print(line, file=stream, flush=True)
