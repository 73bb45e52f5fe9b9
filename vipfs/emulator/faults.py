"""Fault injection: which fault (if any) hits a request, drawn from a seeded generator.

Owns: which fault hits a request (`FaultDice`) and the answers faults give.
Imports: the standard library and `vipfs.emulator` config only; never `vipfs.api` or `vipfs.vfs`.

One draw per request, kinds tried in a fixed order, so a given seed and request sequence always
gives the same faults. The answers the faults produce live here too, so every surface (API,
upload node) misbehaves the same way.
"""

from __future__ import annotations

import json
import random
import re
import threading
from typing import Any

from vipfs.emulator.config import FAULT_KINDS, UPLOAD_ONLY_FAULTS, EmulatorConfig


class FaultDice:
    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)

    def draw(self, config: EmulatorConfig, upload: bool) -> str | None:
        with self._lock:
            if config.seed != self._seed:
                self._seed = config.seed
                self._rng = random.Random(config.seed)
            for kind in FAULT_KINDS:
                if kind in UPLOAD_ONLY_FAULTS and not upload:
                    continue
                rate = config.fault_rate(kind)
                if rate > 0 and self._rng.random() < rate:
                    return kind
            return None

    def chance(self, rate: float) -> bool:
        """One draw for a switch given as a probability (1 always hits, without a draw)."""
        if rate >= 1.0:
            return True
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate


# (HTTP status, content type, extra headers, body) for the faults that replace the answer.
Page = tuple[int, str, dict[str, str], bytes]

HTML_500 = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>500 Internal Server Error</title>\n</head><body>\n<h1>Internal Server Error</h1>\n"
    b"<p>The server encountered an internal error or misconfiguration and was unable to "
    b"complete your request.</p>\n</body></html>\n"
)
HTML_404 = (
    b"<!DOCTYPE html><html><head><title>404 - Page not found</title></head><body>"
    b"<h1>Page not found</h1><p>The page you requested does not exist.</p></body></html>\n"
)
CLOUDFLARE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    b'<meta http-equiv="refresh" content="360"></head><body><div class="main-wrapper">'
    b"<noscript>Enable JavaScript and cookies to continue</noscript></div>"
    b"<script>(function(){window._cf_chl_opt={cType:'managed'};var a=document.createElement"
    b"('script');a.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1';}());"
    b"</script></body></html>\n"
)


def fault_page(kind: str) -> Page | None:
    """The whole answer for a fault that replaces the response (None for other kinds)."""
    html = "text/html; charset=UTF-8"
    if kind == "5xx":
        return 500, html, {}, HTML_500
    if kind == "html404":
        return 404, html, {}, HTML_404
    if kind == "cloudflare":
        return 403, html, {"cf-mitigated": "challenge", "Server": "cloudflare"}, CLOUDFLARE
    if kind == "520":
        return 520, "text/plain; charset=UTF-8", {"Server": "cloudflare"}, b"error code: 520"
    return None


def rate_limit_reply(config: EmulatorConfig) -> dict[str, Any]:
    limit = config.rate_limit_per_min or 5
    return {"status": 403, "msg": f"Requests limit reached: {limit} per min"}


def swap_keys(value: Any) -> Any:
    """filecode ↔ file_code everywhere in a decoded reply."""
    if isinstance(value, dict):
        swapped = {"filecode": "file_code", "file_code": "filecode"}
        return {swapped.get(k, k): swap_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [swap_keys(v) for v in value]
    return value


def stringify_status(value: Any) -> Any:
    """Every `status` as a string, as some forks send it."""
    if isinstance(value, dict):
        return {
            k: (str(v) if k == "status" and isinstance(v, int) else stringify_status(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [stringify_status(v) for v in value]
    return value


def disturb_text(kind: str, body: bytes) -> bytes:
    """Apply a body-changing fault to an already serialised JSON answer."""
    if kind == "truncated":
        return body[: len(body) // 2]
    if kind == "key-swap":
        return re.sub(
            rb'"(filecode|file_code)"',
            lambda m: b'"file_code"' if m.group(1) == b"filecode" else b'"filecode"',
            body,
        )
    if kind == "string-status":
        return re.sub(rb'"status":(\d+)', rb'"status":"\1"', body)
    if kind == "files-as-result":
        return body.replace(b'"files":', b'"result":', 1)
    return body


def disturb(kind: str, reply: dict[str, Any]) -> bytes:
    """Serialise a JSON reply, with a body-changing fault applied."""
    if kind == "key-swap":
        reply = swap_keys(reply)
    elif kind == "string-status":
        reply = stringify_status(reply)
    body = json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode()
    return disturb_text(kind, body) if kind in ("truncated", "files-as-result") else body


# What `msg_newlines` appends after a newline: a line shaped like vipfs's own log lines.
FORGED_LOG_LINE = "2000-01-01 00:00:00,000 WARNING vipfs.mount: forged by the host"


def hostile_message(config: EmulatorConfig, msg: str, key: str) -> str:
    """An error message as a careless or hostile host words it: `echo_key` appends the key the
    caller sent (as a Perl `die "... for key $key"` would), `msg_newlines` a newline and a
    forged log line."""
    if config.echo_key and key:
        msg = f"{msg} for key {key}"
    if config.msg_newlines:
        msg = f"{msg}\n{FORGED_LOG_LINE}"
    return msg
