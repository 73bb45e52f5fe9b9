"""Where a file's bytes come from: a blob file on disk, or deterministic bytes made from a seed.

Seeded files given only a size never touch the disk: their bytes are generated on demand from the
seed string, so 10,000 seeded files cost nothing and still hash and serve consistently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 65536


def generated_block(seed: str, index: int, length: int = BLOCK) -> bytes:
    """The first `length` bytes of block `index` (an XOF: shorter outputs are prefixes)."""
    return hashlib.shake_256(f"{seed}:{index}".encode()).digest(length)


def read_generated(seed: str, size: int, offset: int, length: int) -> bytes:
    """Bytes [offset, offset+length) of the generated content of `size` bytes."""
    end = min(size, offset + length)
    if offset >= end:
        return b""
    parts: list[bytes] = []
    pos = offset
    while pos < end:
        index, skip = divmod(pos, BLOCK)
        take = min(BLOCK - skip, end - pos)
        chunk = generated_block(seed, index, skip + take)[skip:]
        parts.append(chunk)
        pos += len(chunk)
    return b"".join(parts)


def generated_sha256(seed: str, size: int) -> str:
    digest = hashlib.sha256()
    for index in range((size + BLOCK - 1) // BLOCK):
        digest.update(generated_block(seed, index, min(BLOCK, size - index * BLOCK)))
    return digest.hexdigest()


class Content:
    """Random access to one stored file's bytes (`blob` is "gen:<seed>" or a blob file name)."""

    def __init__(self, blob_dir: Path, blob: str, size: int) -> None:
        self.size = size
        self._seed = blob[4:] if blob.startswith("gen:") else None
        self._path = None if self._seed is not None else blob_dir / blob

    def read(self, offset: int, length: int) -> bytes:
        if self._seed is not None:
            return read_generated(self._seed, self.size, offset, length)
        assert self._path is not None
        with self._path.open("rb") as f:
            f.seek(offset)
            return f.read(max(0, min(length, self.size - offset)))
