"""A small streaming multipart/form-data parser: parts go to sinks as they arrive.

Owns: the streaming multipart/form-data parser.
Imports: the standard library only; never `vipfs.api` or `vipfs.vfs`.

Memory stays flat whatever the upload size: at most one read chunk plus one boundary is held.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol


class MultipartError(Exception):
    """The body is not valid multipart/form-data."""


class PartSink(Protocol):
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class Part:
    """One part's headers, as the opener sees them."""

    def __init__(self, name: str, filename: str | None, content_type: str) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type


def boundary_of(content_type: str) -> str | None:
    m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    return (m.group(1) or m.group(2)) if m else None


def _param(header: str, name: str) -> str | None:
    """A parameter of a Content-Disposition header: quoted (with \\-escapes) or bare."""
    m = re.search(rf'(?:^|;)\s*{name}="((?:[^"\\]|\\.)*)"', header, re.IGNORECASE)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1))
    m = re.search(rf"(?:^|;)\s*{name}=([^;\s]*)", header, re.IGNORECASE)
    return m.group(1) if m else None


def _parse_headers(raw: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    name = _param(disposition, "name")
    if name is None:
        raise MultipartError("part without a name")
    return Part(name, _param(disposition, "filename"), headers.get("content-type", ""))


def parse(
    read: Callable[[int], bytes],
    boundary: str,
    open_part: Callable[[Part], PartSink],
    chunk: int = 65536,
) -> None:
    """Feed every part of the body to the sink `open_part` returns for it, in order."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    buf = b"\r\n"  # so the first boundary looks like every other one
    state = "preamble"
    sink: PartSink | None = None
    eof = False
    while True:
        if state in ("preamble", "data"):
            at = buf.find(delimiter)
            if at < 0:
                keep = len(delimiter) - 1
                if state == "data" and len(buf) > keep:
                    assert sink is not None
                    sink.write(buf[: len(buf) - keep])
                    buf = buf[len(buf) - keep :]
                elif state == "preamble" and len(buf) > keep:
                    buf = buf[len(buf) - keep :]
            else:
                if state == "data":
                    assert sink is not None
                    sink.write(buf[:at])
                    sink.close()
                    sink = None
                buf = buf[at + len(delimiter) :]
                state = "after_boundary"
                continue
        elif state == "after_boundary":
            if len(buf) >= 2:
                if buf.startswith(b"--"):
                    return
                end = buf.find(b"\r\n")
                if end >= 0:
                    buf = buf[end + 2 :]
                    state = "headers"
                    continue
        elif state == "headers":
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                sink = open_part(_parse_headers(buf[:end]))
                buf = buf[end + 4 :]
                state = "data"
                continue
            if len(buf) > 65536:
                raise MultipartError("part headers too long")
        if eof:
            if sink is not None:
                sink.close()
            raise MultipartError("body ended before the closing boundary")
        data = read(chunk)
        if not data:
            eof = True
        buf += data
