"""Files that exist only in replies: entries with hostile codes, and synthetic big folders.

Owns: the files that exist only in replies: hostile codes and synthetic folders.
Imports: the standard library and `vipfs.emulator` host, response, store only; never `vipfs.api` or
`vipfs.vfs`.

Neither is stored. A hostile entry (`hostile_codes`) carries a code that is a path, too long, or
holds NUL or a newline, and a direct link that serves real bytes (under a clean 12-character alias,
since the link path must stay routable). A synthetic folder (`synthetic_files`) answers N
generated files, serialised from one template while the reply is sent, so a 1,000,000-entry
listing costs the emulator one chunk of memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vipfs.emulator.host import Host
from vipfs.emulator.response import Response
from vipfs.emulator.store import FileRow

# Codes no file may have: path escapes, separators, dots, too long or short, NUL, newline, empty.
HOSTILE_CODES: tuple[str, ...] = (
    "../../../../tmp/vipfs-pwned",
    "../" * 16 + "tmp/vipfs-pwned-deep",  # reaches / from any cache directory
    "../vipfs-pwned-sibling",
    "/tmp/vipfs-pwned-absolute",
    "a/b",
    "..",
    ".",
    "x" * 500,
    "abcdef\x00ghijk",
    "abcdef\nghijk",
    "short",
    "abcdefghijklm",
    "",
)
# Folder ids that are not non-negative integers (a lenient reader turns several into 0, the root).
HOSTILE_FOLDER_IDS: tuple[str, ...] = ("abc", "-7", "1.5", "", "0x1f", "../../1", "1e3")
HOSTILE_SIZE = 4096  # + the entry's index, so each serves different bytes
SYNTHETIC_SIZE = 4096
SYNTHETIC_RE = re.compile(r"syn(\d{9})")
ALIAS_RE = re.compile(r"hostile(\d{5})")
_SYNTHETIC_MAX = 10**9  # what nine digits of code can number


def hostile_title(index: int) -> str:
    return f"hostile file {index}"


def hostile_folder_name(index: int) -> str:
    return f"hostile folder {index}"


def _alias(index: int) -> str:
    return f"hostile{index:05d}"


def synthetic_code(index: int) -> str:
    return f"syn{index:09d}"


def synthetic_title(index: int) -> str:
    return f"synthetic {index:09d}"


def _row(code: str, usr_id: int, fld_id: int, title: str, size: int, created: float) -> FileRow:
    return FileRow(
        file_id=0, code=code, usr_id=usr_id, fld_id=fld_id, title=title, descr="", tags="",
        cat_id=0, public=0, adult=0, premium_only=0, size=size, sha256="", blob=f"gen:{code}",
        created=created, visible_at=0, length=0, views=0, views_full=0, last_download=None,
        enc_start=created, enc_end=created, enc_stuck=0, deleted_at=None, deleted_by=None,
        dmca_at=None,
    )  # fmt: skip


# A fixed date for virtual files (2024-01-02), so they look the same in every reply.
_CREATED = 1704196800.0


def hostile_rows(usr_id: int, fld_id: int) -> list[tuple[str, FileRow]]:
    """(code as the host sends it, the row behind it) for every hostile entry of a listing."""
    return [
        (code, _row(_alias(i), usr_id, fld_id, hostile_title(i), HOSTILE_SIZE + i, _CREATED))
        for i, code in enumerate(HOSTILE_CODES)
    ]


def hostile_folders() -> list[dict[str, str]]:
    return [
        {"name": hostile_folder_name(i), "fld_id": fld, "code": HOSTILE_CODES[i % 4]}
        for i, fld in enumerate(HOSTILE_FOLDER_IDS)
    ]


def find(host: Host, usr_id: int, code: str) -> FileRow | None:
    """The virtual file a code (as sent, or a link alias) names, when its switch is on."""
    config = host.config
    if config.hostile_codes:
        if code in HOSTILE_CODES:
            return hostile_rows(usr_id, 0)[HOSTILE_CODES.index(code)][1]
        m = ALIAS_RE.fullmatch(code)
        if m and int(m.group(1)) < len(HOSTILE_CODES):
            return hostile_rows(usr_id, 0)[int(m.group(1))][1]
    m = SYNTHETIC_RE.fullmatch(code)
    if m and int(m.group(1)) < config.synthetic_files:
        index = int(m.group(1))
        title = synthetic_title(index)
        return _row(code, usr_id, config.synthetic_fld_id, title, SYNTHETIC_SIZE, _CREATED)
    return None


# -- synthetic listings ------------------------------------------------------------------------
_CODE_MARK = "Q" * 12
_DIGITS_MARK = "Z" * 9
_BATCH = 2000


@dataclass(frozen=True)
class SyntheticFolder:
    """How to write entry i of a synthetic folder: one template with the code and number cut out."""

    parts: list[bytes]  # the serialised entry split at each occurrence of the code
    count: int

    @classmethod
    def make(
        cls, item: Callable[[FileRow], dict[str, Any]], fld_id: int, count: int
    ) -> SyntheticFolder:
        row = _row(_CODE_MARK, 0, fld_id, f"synthetic {_DIGITS_MARK}", SYNTHETIC_SIZE, _CREATED)
        text = json.dumps(item(row), ensure_ascii=False, separators=(",", ":"))
        assert text.count(_DIGITS_MARK) == 1
        return cls(text.encode().split(_CODE_MARK.encode()), min(count, _SYNTHETIC_MAX))

    def entry(self, index: int) -> bytes:
        digits = f"{index:09d}".encode()
        code = b"syn" + digits
        return code.join(self.parts).replace(_DIGITS_MARK.encode(), digits)

    @property
    def entry_length(self) -> int:
        return len(self.entry(0))

    def chunks(self) -> Iterator[bytes]:
        for start in range(0, self.count, _BATCH):
            stop = min(self.count, start + _BATCH)
            batch = b",".join(self.entry(i) for i in range(start, stop))
            yield batch if start == 0 else b"," + batch

    @property
    def length(self) -> int:
        return self.count * self.entry_length + max(0, self.count - 1)


def synthetic_listing(
    host: Host,
    reply: dict[str, Any],
    fld_id: str | None,
    item: Callable[[FileRow], dict[str, Any]],
) -> Response | None:
    """The streamed folder/list answer for the synthetic folder, or None for any other reply."""
    config = host.config
    result = reply.get("result")
    if (
        config.synthetic_files <= 0
        or (fld_id or "0").strip() != str(config.synthetic_fld_id)
        or reply.get("status") != 200
        or not isinstance(result, dict)
        or not isinstance(result.get("files"), list)
    ):
        return None
    real = [
        json.dumps(f, ensure_ascii=False, separators=(",", ":")).encode() for f in result["files"]
    ]
    folder = SyntheticFolder.make(item, config.synthetic_fld_id, config.synthetic_files)
    head = b"[" + b",".join(real) + (b"," if real and folder.count else b"")

    def middle() -> Iterator[bytes]:
        yield head
        yield from folder.chunks()
        yield b"]"

    envelope = {**reply, "result": {**result, "files": Response.SPLICE}}
    return Response.spliced(envelope, middle(), len(head) + folder.length + 1)
