"""`vipfs url-upload URL --to DIR`: the host downloads URL into a folder (`upload/url`).

Owns: the `vipfs url-upload` command.
Imports: the standard library only (it talks to the mount through xattrs).

Like `vipfs clone`, the mount makes the call: setting DIR's `user.vipfs.url_upload` attribute
asks the mount to start the remote upload into that folder. The file shows up in DIR once the
host has fetched it (the mount refreshes the folder's listing).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

URL_UPLOAD = "user.vipfs.url_upload"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="an http(s) URL the host can reach")
    parser.add_argument("--to", required=True, metavar="DIR", help="a folder in a vipfs mount")


def run(args: argparse.Namespace) -> int:
    if urlsplit(args.url).scheme not in ("http", "https"):
        print(f"vipfs: {args.url!r} is not an http(s) URL", file=sys.stderr)
        return 1
    folder = Path(args.to)
    if not folder.is_dir():
        print(f"vipfs: {folder} is not a folder", file=sys.stderr)
        return 1
    try:
        os.setxattr(folder, URL_UPLOAD, args.url.encode())
    except OSError as exc:
        print(f"vipfs: {folder}: {exc.strerror} (see the mount's log)", file=sys.stderr)
        return 1
    print(f"the host is fetching {args.url} into {folder}; it shows up there once done")
    return 0
