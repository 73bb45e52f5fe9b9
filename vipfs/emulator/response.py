"""What a handler hands back to the HTTP layer: status, headers and a body (bytes or a stream).

Owns: `Response`, what a handler hands the HTTP layer.
Imports: the standard library only; never `vipfs.api` or `vipfs.vfs`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=UTF-8"


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None  # when set, `length` bytes come from here instead
    length: int = 0
    reset: bool = False  # close the connection without answering

    # Stands in a reply for a part `spliced` streams (a JSON string no reply otherwise holds).
    SPLICE = "\ufdd0vipfs-emulator-splice\ufdd0"

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Response:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(status, JSON_TYPE, body)

    @classmethod
    def spliced(cls, value: Any, middle: Iterable[bytes], middle_length: int) -> Response:
        """`value` as JSON with its one `SPLICE` string replaced by `middle`, streamed as sent."""
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        head, tail = body.split(json.dumps(cls.SPLICE, ensure_ascii=False).encode())
        stream = itertools.chain([head], middle, [tail])
        return cls(200, JSON_TYPE, stream=stream, length=len(head) + middle_length + len(tail))

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, HTML_TYPE, text.encode())
