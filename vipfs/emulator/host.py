"""One emulated host: the state and the counters every surface (API, node, control) shares.

Owns: `Host`: its config, store, quotas, fault dice, call counters, link secret and clock.
Imports: the standard library and `vipfs.emulator` config, faults, quota, store only; never
`vipfs.api` or `vipfs.vfs`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.faults import FaultDice
from vipfs.emulator.quota import Quota
from vipfs.emulator.store import FileRow, Store, new_code

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TRAFFIC = ("upload_bytes", "link_bytes")


class Host:
    def __init__(self, config: EmulatorConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.quota = Quota()
        self.dice = FaultDice(config.seed)
        self.site_url = ""  # set once the server has a port
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._traffic: Counter[str] = Counter()  # `/_emu/traffic`: bytes, not calls
        self._secret = store.meta("link_secret", secrets.token_hex(16)).encode()
        self.clock: Callable[[], float] = time.time  # tests swap in a fake clock
        self.in_flight = 0
        self.stale: dict[tuple[object, ...], tuple[float, dict[str, Any]]] = {}
        self.stale_lock = threading.Lock()
        self.workers: list[threading.Thread] = []
        self.in_flight_lock = threading.Lock()

    # -- clock ------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def now_local(self) -> datetime:
        return datetime.fromtimestamp(self.now(), self.config.tz())

    def fmt_time(self, epoch: float) -> str:
        """A time as the host prints it: server-local, no zone."""
        return datetime.fromtimestamp(epoch, self.config.tz()).strftime(TIME_FORMAT)

    def file_date(self, epoch: float) -> str:
        """A file's date in a reply: `file_date_override` verbatim when set."""
        return self.config.file_date_override or self.fmt_time(epoch)

    def parse_time(self, text: str) -> float | None:
        try:
            local = datetime.strptime(text.strip(), TIME_FORMAT)
        except ValueError:
            return None
        return local.replace(tzinfo=self.config.tz()).timestamp()

    # -- counters ---------------------------------------------------------------------------
    def count(self, key: str, n: int = 1) -> None:
        with self._calls_lock:
            self._calls[key] += n

    def calls(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def add_traffic(self, kind: str, n: int) -> None:
        """`upload_bytes` (received by the upload node) or `link_bytes` (sent by direct
        links): counted as the bytes move, so a test can tell whose line carried a file."""
        with self._calls_lock:
            self._traffic[kind] += n

    def traffic(self) -> dict[str, int]:
        with self._calls_lock:
            return {k: self._traffic[k] for k in TRAFFIC}

    def reset_traffic(self) -> None:
        with self._calls_lock:
            self._traffic.clear()

    # -- files ------------------------------------------------------------------------------
    def adopt_blob(self, tmp: Path, sha256: str) -> str:
        """Move an uploaded temp file into the blob store, deduplicated by content hash."""
        target = self.store.blob_dir / sha256
        if target.exists():
            tmp.unlink()
        else:
            os.replace(tmp, target)
        return sha256

    def new_file(
        self,
        usr_id: int,
        fld_id: int,
        title: str,
        size: int,
        sha256: str,
        blob: str,
        **extra: Any,
    ) -> dict[str, Any]:
        """A fresh file row (for `Store.insert_files`) that starts 'encoding' now."""
        now = self.now()
        row: dict[str, Any] = {
            "code": new_code(),
            "usr_id": usr_id,
            "fld_id": fld_id,
            "title": title,
            "descr": "",
            "tags": "",
            "cat_id": 0,
            "public": 0,
            "adult": 0,
            "premium_only": 0,
            "size": size,
            "sha256": sha256,
            "blob": blob,
            "created": now,
            "visible_at": now + self.config.listing_delay,
            "length": self.config.upload_length,  # real hosts measure it; seeds set their own
            "views": 0,
            "views_full": 0,
            "last_download": None,
            "enc_start": now,
            "enc_end": now + self.config.encode_seconds,
            "enc_stuck": 0,
            "deleted_at": None,
            "deleted_by": None,
            "dmca_at": None,
        }
        row.update(extra)
        return row

    def versions(self, f: FileRow, now: float) -> list[str]:
        """Qualities that exist now: `o` until encoded (or kept), then `n` (same bytes)."""
        if not f.encoded(now):
            return ["o"]
        return ["n", "o"] if self.config.keep_orig else ["n"]

    # -- direct links -----------------------------------------------------------------------
    def _sign(self, path: str, start: int, expire: int, prefix: str) -> str:
        msg = f"{path}|{start}|{expire}|{prefix}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:24]

    @staticmethod
    def ip_prefix(ip: str) -> str:
        return ".".join(ip.split(".")[:2])

    def direct_url(self, f: FileRow, quality: str, now: float, client_ip: str) -> str:
        """A signed link: valid `link_expire_sec` from now, optionally bound to the caller's /16."""
        path = f"/v/01/{f.code}_{quality}/video.mp4"
        start, expire = int(now), int(self.config.link_expire_sec)
        prefix = self.ip_prefix(client_ip) if self.config.link_ip_bind else ""
        sig = self._sign(path, start, expire, prefix)
        bind = f"&i={prefix}" if prefix else ""
        return f"{self.site_url}{path}?t={sig}&s={start}&e={expire}&f={f.file_id}&sp=0{bind}"

    def link_valid(self, path: str, query: dict[str, str], now: float, client_ip: str) -> bool:
        try:
            start, expire = int(query["s"]), int(query["e"])
        except (KeyError, ValueError):
            return False
        prefix = query.get("i", "")
        if prefix and prefix != self.ip_prefix(client_ip):
            return False
        good = hmac.compare_digest(self._sign(path, start, expire, prefix), query.get("t", ""))
        return good and now <= start + expire
