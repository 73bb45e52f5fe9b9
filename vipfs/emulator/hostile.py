"""Replies a broken or malicious host sends (`hostile_reply`): too deep, too big, or not JSON.

Owns: the hostile replies (deep, huge, garbage).
Imports: the standard library and `vipfs.emulator` response only; never `vipfs.api` or `vipfs.vfs`.

`deep` keeps the envelope and makes its result a 100,000-deep nested array (a recursive parser
overflows); `huge` keeps the whole real reply and pads it with one string to `hostile_bytes`
bytes, written while it is sent (never held in memory); `garbage` is bytes that are not JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vipfs.emulator.response import JSON_TYPE, Response

DEPTH = 100_000
GARBAGE = b'\x89PNG\r\n\x1a\n\x00\xff\xfe{"status":200,"msg":"OK","result":\x00]]}garbage\xc3('
_PAD_CHUNK = 1 << 20


def reply_for(kind: str, reply: dict[str, Any], size: int) -> Response:
    """The answer that replaces `reply` for a hostile kind ("deep", "huge" or "garbage")."""
    if kind == "deep":
        nested = [b"[" * DEPTH, b"]" * DEPTH]
        return Response.spliced({**reply, "result": Response.SPLICE}, nested, 2 * DEPTH)
    if kind == "huge":
        envelope = {"pad": Response.SPLICE, **reply}
        rest = Response.spliced(envelope, [], 0).length
        pad = max(0, size - rest - 2)
        return Response.spliced(envelope, _padding(pad), pad + 2)
    if kind == "garbage":
        return Response(200, JSON_TYPE, GARBAGE)
    raise ValueError(f"unknown hostile reply {kind!r}")


def _padding(size: int) -> Iterator[bytes]:
    """A JSON string of `size` spaces, quotes included, one chunk at a time."""
    yield b'"'
    block = b" " * _PAD_CHUNK
    left = size
    while left > 0:
        take = min(left, _PAD_CHUNK)
        yield block if take == _PAD_CHUNK else block[:take]
        left -= take
    yield b'"'
