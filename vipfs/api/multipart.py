"""A multipart/form-data body streamed from disk, with its length known up front.

Owns: the streamed multipart/form-data upload body (`MultipartFile`).
Imports: trio and the standard library only.

Uploads are video files of several GiB: the body is produced chunk by chunk from the file
(read in a worker thread by trio's async file), so memory stays flat, and Content-Length is
computed from the file size so nodes that refuse chunked bodies accept it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path

import trio

# Small enough that progress shows within a second even at a few dozen KiB/s: the low-speed
# floor (lowspeed.py) sees a transfer move only between chunks.
CHUNK = 64 * 1024


def safe_filename(name: str) -> str:
    """The filename as the node may see it: nodes build their JSON reply by string
    concatenation, so `"` and `\\` (and line breaks, which end a header) would corrupt it."""
    cleaned = "".join(" " if ch in "\r\n\t" else ch for ch in name if ch not in '"\\')
    return cleaned.strip() or "upload.mp4"


class MultipartFile:
    """Form fields, then one file part; iterate the body with `chunks()`."""

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        file_field: str,
        path: Path,
        filename: str,
        *,
        progress: Callable[[int], None] | None = None,
        chunk_size: int = CHUNK,
    ) -> None:
        self.boundary = "vipfs-" + secrets.token_hex(16)
        self.path = path
        self._progress = progress
        self._watch: Callable[[int], None] | None = None
        self._chunk_size = chunk_size
        head = b"".join(self._field(name, value) for name, value in fields)
        head += (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{file_field}"; '
            f'filename="{safe_filename(filename)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.file_size = path.stat().st_size
        self.length = len(self._head) + self.file_size + len(self._tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _field(self, name: str, value: str) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()

    def watch(self, moved: Callable[[int], None]) -> None:
        """Also report every chunk's hand-over as the body bytes sent in all (the transfer's
        pace, where `progress` counts file bytes for status displays)."""
        self._watch = moved

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The body; reports the bytes handed to the transport after each chunk."""
        yield self._head
        self._moved(len(self._head))
        sent = 0
        async with await trio.open_file(self.path, "rb") as handle:
            while sent < self.file_size:
                chunk = await handle.read(min(self._chunk_size, self.file_size - sent))
                if not chunk:
                    # The file shrank under us: the declared length can no longer be met.
                    raise OSError(f"{self.path.name} shrank during upload")
                sent += len(chunk)
                yield chunk
                self._moved(len(self._head) + sent)
                if self._progress is not None:
                    self._progress(sent)
        yield self._tail
        self._moved(self.length)

    def _moved(self, total: int) -> None:
        if self._watch is not None:
            self._watch(total)
