"""Reading a request body as a stream: Content-Length or chunked, optionally throttled or stalled.

Owns: reading a request body as a stream (`Body`, `Throttle`).
Imports: the standard library and `vipfs.emulator` slow only; never `vipfs.api` or `vipfs.vfs`.

Uploads can be many GiB, so nothing here buffers more than one chunk.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from vipfs.emulator.slow import Trickle


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...
    def readline(self, limit: int = -1, /) -> bytes: ...


class BodyError(Exception):
    """The body is malformed or the client went away mid-body."""


class Throttle:
    """Keeps a byte stream under `mbps` megabits per second by sleeping between chunks."""

    def __init__(self, mbps: float) -> None:
        self.bytes_per_sec = mbps * 1_000_000 / 8 if mbps > 0 else 0.0
        self._start = time.monotonic()
        self._sent = 0

    def spend(self, n: int) -> None:
        if not self.bytes_per_sec:
            return
        self._sent += n
        ahead = self._sent / self.bytes_per_sec - (time.monotonic() - self._start)
        if ahead > 0:
            time.sleep(ahead)


class Body:
    """A readable view of one request's body that never reads past its end."""

    def __init__(
        self,
        rfile: Readable,
        length: int | None,
        chunked: bool,
        throttle: Throttle | None = None,
        stall_at: int | None = None,
        stall_seconds: float = 0.0,
    ) -> None:
        self._rfile: Readable = rfile
        self._left = length if not chunked else None
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and not length
        self._throttle = throttle
        self._stall_at = stall_at
        self._stall_seconds = stall_seconds
        self.consumed = 0
        self.trickle: Trickle | None = None  # a slow node: set once a file part begins

    @property
    def done(self) -> bool:
        return self._done

    def read(self, n: int = 65536) -> bytes:
        if self._done:
            return b""
        if self.trickle is not None:
            n = self.trickle.size(n)
        data = self._read_chunked(n) if self._chunked else self._read_plain(n)
        self.consumed += len(data)
        if self.trickle is not None:
            self.trickle.spend(len(data))
        if self._throttle is not None:
            self._throttle.spend(len(data))
        if self._stall_at is not None and self.consumed >= self._stall_at:
            self._stall_at = None
            time.sleep(self._stall_seconds)
        return data

    def read_all(self, limit: int) -> bytes:
        """The whole body, up to `limit` bytes (check `done` to see whether it was all)."""
        parts: list[bytes] = []
        size = 0
        while size < limit and (data := self.read(min(65536, limit - size))):
            parts.append(data)
            size += len(data)
        return b"".join(parts)

    def drain(self) -> None:
        while self.read():
            pass

    def _read_plain(self, n: int) -> bytes:
        assert self._left is not None
        data = self._rfile.read(min(n, self._left)) if self._left else b""
        if not data and self._left:
            raise BodyError("client closed the connection mid-body")
        self._left -= len(data)
        if self._left == 0:
            self._done = True
        return data

    def _read_chunked(self, n: int) -> bytes:
        if self._chunk_left == 0:
            line = self._rfile.readline(1024)
            if not line:
                raise BodyError("client closed the connection mid-body")
            try:
                self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BodyError("bad chunk size") from None
            if self._chunk_left == 0:
                while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return b""
        data = self._rfile.read(min(n, self._chunk_left))
        if not data:
            raise BodyError("client closed the connection mid-chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(16)  # the CRLF after the chunk
        return data
