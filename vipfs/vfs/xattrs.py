"""The `user.vipfs.*` attributes of files and folders, as `getfattr` shows them.

Values are UTF-8 text. `file/info` (fetched lazily, per folder, by the facade) wins over the
listing where both say something, since it is the fresher and fuller answer.
"""

from __future__ import annotations

from vipfs.api.records import FileEntry, FileInfo, Folder
from vipfs.vfs.names import host_text

PREFIX = "user.vipfs."


def _flag(value: bool) -> str:
    return "1" if value else "0"


def file_status(entry: FileEntry, info: FileInfo | None) -> str:
    """ready or encoding; the write engine layers queued/uploading/failed on top."""
    canplay = info.canplay if info is not None and info.status == 200 else entry.canplay
    return "ready" if canplay else "encoding"


def file_xattrs(entry: FileEntry, info: FileInfo | None, status: str) -> dict[str, bytes]:
    found = info if info is not None and info.status == 200 else None
    values: dict[str, str | None] = {
        "code": entry.code,
        "link": entry.link,
        "views": _text(found.views if found and found.views is not None else entry.views),
        "length": _text(found.length if found and found.length is not None else entry.length),
        "canplay": _flag(found.canplay if found else entry.canplay),
        "thumbnail": (found.player_img if found and found.player_img else entry.thumbnail),
        "status": status,
    }
    if found is not None:  # the writable ones, as the host holds them now
        values |= {
            "title": host_text(found.title) if found.title is not None else None,
            "descr": host_text(found.descr) if found.descr is not None else None,
            "tags": found.tags,
            "public": _flag(found.public),
            "adult": _flag(found.adult),
            "cat_id": _text(found.cat_id),
        }
    return {PREFIX + k: v.encode() for k, v in values.items() if v is not None}


def folder_xattrs(folder: Folder) -> dict[str, bytes]:
    return {PREFIX + "code": folder.code.encode()} if folder.code else {}


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
