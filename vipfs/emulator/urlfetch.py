"""URL uploads: a queued URL is fetched in a background thread and becomes a file with its
reserved code. Only loopback URLs are fetched (tests serve them); any other URL ends in ERROR,
as an unreachable source would on a real host.

Owns: fetching queued URL uploads in a background thread.
Imports: the standard library and `vipfs.emulator` host, mangle only; never `vipfs.api` or
`vipfs.vfs`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
import urllib.request
import uuid
from typing import TYPE_CHECKING

from vipfs.emulator import mangle

if TYPE_CHECKING:
    from vipfs.emulator.host import Host

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def start_fetch(host: Host, code: str) -> None:
    worker = threading.Thread(
        target=_fetch, args=(host, code), name=f"url-upload-{code}", daemon=True
    )
    host.workers[:] = [w for w in host.workers if w.is_alive()] + [worker]
    worker.start()


def _fetch(host: Host, code: str) -> None:
    store = host.store
    entry = store.url_entry(code)
    if entry is None:
        return
    url = str(entry["url"])
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or parsed.hostname not in LOOPBACK:
        store.update_url(code, "ERROR", 0)
        return
    store.update_url(code, "WORKING", 0)
    tmp = store.tmp_dir / f"url-{uuid.uuid4().hex}"
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=30) as response, tmp.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            while chunk := response.read(65536):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if total:
                    store.update_url(code, "WORKING", min(99, 100 * size // total))
    except (OSError, ValueError):
        tmp.unlink(missing_ok=True)
        store.update_url(code, "ERROR", 0)
        return
    if store.url_entry(code) is None or size == 0:  # deleted meanwhile, or nothing came
        tmp.unlink(missing_ok=True)
        if size == 0:
            store.update_url(code, "ERROR", 0)
        return
    sha = digest.hexdigest()
    blob = host.adopt_blob(tmp, sha)
    opts = json.loads(entry["opts"])
    name = urllib.parse.unquote(parsed.path.rsplit("/", 1)[-1]) or "video"
    row = host.new_file(
        int(entry["usr_id"]),
        int(entry["fld_id"]),
        mangle.upload_title(None, name),
        size,
        sha,
        blob,
        code=code,
        public=mangle.flag(opts.get("file_public")),
        adult=mangle.flag(opts.get("file_adult")),
        tags=", ".join(mangle.clean_tags(str(opts.get("tags", "")))),
    )
    store.insert_files([row])
    store.delete_urls(int(entry["usr_id"]), "code=?", (code,))
