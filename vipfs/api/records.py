"""Typed records of what XVS hosts send, with Pythonic names.

Owns: the typed records of host replies and their lenient `from_wire` parsers.
Imports: `vipfs.api.wire` only.

The field names here are the contract between the client and everything above it. Parsing is
lenient (real hosts send numbers as strings, drift key names, and send malformed dates), and
lives in the `from_wire` constructors so no caller ever touches raw JSON.

Times are naive `datetime`s in the *server's* local time, exactly as sent; converting them needs
the offset learned from `server_time` (see `ServerClock`). A malformed date becomes None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from vipfs.api.wire import Raw, pick, to_bool, to_code, to_date, to_dicts, to_id, to_int, to_str

log = logging.getLogger("vipfs.api")

_UNLIMITED = frozenset({"unlimited", "inf", "infinity", "-1"})
_CODE_KEYS = ("file_code", "filecode", "code")


def _code(raw: Raw) -> str:
    return to_str(pick(raw, *_CODE_KEYS)) or ""


def _is_file(raw: Raw) -> bool:
    """A listed file has a well-formed code and a valid (or absent) folder id."""
    return (
        to_code(pick(raw, *_CODE_KEYS)) is not None
        and to_id(pick(raw, "fld_id", "file_fld_id")) is not None
    )


def _is_folder(raw: Raw) -> bool:
    """A listed subfolder has a positive id (0 is the root, never anybody's child)."""
    fld_id = to_id(pick(raw, "fld_id", "id"))
    return fld_id is not None and fld_id > 0


_MAX_FILE_BYTES = 1 << 50  # 1 PiB: no video is bigger; a bigger "size" would become a file


def _byte_count(value: Any) -> int | None:
    """A file size the read cache may allocate: 0..1 PiB, else unknown (None)."""
    size = to_int(value)
    return size if size is not None and 0 <= size <= _MAX_FILE_BYTES else None


def _optional_id(value: Any) -> int | None:
    return None if value is None else to_id(value)


def has_code(raw: Raw) -> bool:
    return to_code(pick(raw, *_CODE_KEYS)) is not None


def valid_items(items: list[Raw], ok: Callable[[Raw], bool], what: str) -> list[Raw]:
    """The items a reply may hold; the others (hostile codes or ids) are dropped with one
    line naming how many, never their text (it may hold newlines, NULs or the key)."""
    kept = [item for item in items if ok(item)]
    if len(kept) < len(items):
        log.warning(
            "%s: ignored %d entr%s with an invalid file code or folder id",
            what,
            len(items) - len(kept),
            "y" if len(items) - len(kept) == 1 else "ies",
        )
    return kept


@dataclass(frozen=True, slots=True)
class AccountInfo:
    login: str
    email: str | None
    files_total: int | None
    storage_used: int | None
    storage_left: int | None  # None: unlimited or unknown
    premium: bool
    premium_expire: datetime | None
    balance: str | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        left = pick(raw, "storage_left")
        unlimited = isinstance(left, str) and left.strip().lower() in _UNLIMITED
        return cls(
            login=to_str(raw.get("login")) or "",
            email=to_str(raw.get("email")),
            files_total=to_int(raw.get("files_total")),
            storage_used=to_int(raw.get("storage_used")),
            storage_left=None if unlimited else to_int(left),
            premium=to_bool(raw.get("premium")),
            premium_expire=to_date(pick(raw, "premium_expire", "premim_expire")),
            balance=to_str(raw.get("balance")),
        )


@dataclass(frozen=True, slots=True)
class StatsDay:
    day: str
    views: int
    downloads: int
    profit_total: str
    raw: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            day=to_str(raw.get("day")) or "",
            views=to_int(raw.get("views")) or 0,
            downloads=to_int(raw.get("downloads")) or 0,
            profit_total=to_str(raw.get("profit_total")) or "0",
            raw={k: v for k, v in ((k, to_str(v)) for k, v in raw.items()) if v is not None},
        )


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder as `folder/list` shows it (no parent id, no date: the API has none)."""

    fld_id: int
    name: str  # as the server sends it: HTML-escaped by folder/create and folder/edit
    code: str | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            fld_id=to_id(pick(raw, "fld_id", "id")) or 0,
            name=to_str(pick(raw, "name", "fld_name", "title")) or "",
            code=_folder_code(raw.get("code")),
        )


def _folder_code(value: Any) -> str | None:
    """A folder's code tells same-named folders apart in their names: word characters only
    (a `/` or NUL in a name breaks the folder), else None and the id serves instead."""
    text = to_str(value)
    return text if text and len(text) <= 32 and text.isascii() and text.isalnum() else None


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file as `folder/list?files=1` and `file/list` show it."""

    code: str
    title: str  # as the server sends it: mangled at upload, HTML-escaped by file/edit
    fld_id: int
    uploaded: datetime | None  # server-local
    length: int | None  # seconds of video
    views: int | None
    canplay: bool
    public: bool
    thumbnail: str | None
    link: str | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            code=_code(raw),
            title=to_str(pick(raw, "title", "file_title", "name")) or "",
            fld_id=to_id(pick(raw, "fld_id", "file_fld_id")) or 0,
            uploaded=to_date(pick(raw, "uploaded", "file_created", "created")),
            length=to_int(pick(raw, "length", "file_length")),
            views=to_int(pick(raw, "views", "file_views")),
            canplay=to_bool(raw.get("canplay")),
            public=to_bool(pick(raw, "public", "file_public")),
            thumbnail=to_str(pick(raw, "thumbnail", "player_img")),
            link=to_str(raw.get("link")),
        )


@dataclass(frozen=True, slots=True)
class FolderListing:
    folders: list[Folder]
    files: list[FileEntry]
    _by_code: dict[str, FileEntry] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def file(self, code: str) -> FileEntry | None:
        """The first listed file with `code`. Indexed on first use: a folder may list 100,000
        files, and a file manager asks for the xattrs of each of them."""
        index = self._by_code
        if index is None:
            index = {f.code: f for f in reversed(self.files)}
            object.__setattr__(self, "_by_code", index)
        return index.get(code)

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            folders=[
                Folder.from_wire(item)
                for item in valid_items(to_dicts(raw.get("folders")), _is_folder, "folder/list")
            ],
            files=[
                FileEntry.from_wire(item)
                for item in valid_items(to_dicts(raw.get("files")), _is_file, "folder/list")
            ],
        )


@dataclass(frozen=True, slots=True)
class FilePage:
    """One page of `file/list`. `pages` is kept but is wrong on real hosts: do not trust it."""

    files: list[FileEntry]
    results: int
    results_total: int
    pages: int

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        items = valid_items(to_dicts(pick(raw, "files", "result")), _is_file, "file/list")
        files = [FileEntry.from_wire(item) for item in items]
        results = to_int(raw.get("results"))
        return cls(
            files=files,
            results=len(files) if results is None else results,
            results_total=to_int(raw.get("results_total")) or len(files),
            pages=to_int(raw.get("pages")) or 0,
        )


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One item of `file/info`. `status` is 200 (found), 404 (unknown) or 451 (DMCA)."""

    code: str
    status: int
    title: str | None = None
    fld_id: int | None = None
    created: datetime | None = None  # server-local
    length: int | None = None
    views: int | None = None
    views_full: int | None = None
    canplay: bool = False
    public: bool = False
    adult: bool = False
    premium_only: bool = False
    cat_id: int | None = None
    tags: str | None = None
    player_img: str | None = None
    last_download: datetime | None = None
    descr: str | None = None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            code=_code(raw),
            status=to_int(raw.get("status")) or 200,
            title=to_str(pick(raw, "file_title", "title", "name")),
            fld_id=_optional_id(pick(raw, "file_fld_id", "fld_id")),
            created=to_date(pick(raw, "file_created", "created", "uploaded")),
            length=to_int(pick(raw, "file_length", "length")),
            views=to_int(pick(raw, "file_views", "views")),
            views_full=to_int(raw.get("file_views_full")),
            canplay=to_bool(raw.get("canplay")),
            public=to_bool(pick(raw, "file_public", "public")),
            adult=to_bool(pick(raw, "file_adult", "adult")),
            premium_only=to_bool(pick(raw, "file_premium_only", "premium_only")),
            cat_id=to_int(raw.get("cat_id")),
            tags=to_str(raw.get("tags")),
            player_img=to_str(pick(raw, "player_img", "thumbnail")),
            last_download=to_date(raw.get("file_last_download")),
            descr=to_str(pick(raw, "file_descr", "descr")),
        )


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One per-file result of an upload node. `ok` is False when `status` is an error string."""

    code: str | None
    filename: str
    status: str

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        # XFS hosts answer "undef" for an upload they silently dropped: that is no code at all,
        # and neither is anything else outside the reference's pattern.
        code = to_code(pick(raw, "filecode", "file_code"))
        status = pick(raw, "status", "file_status")
        return cls(
            code=code,
            filename=to_str(pick(raw, "filename", "name")) or "",
            status=to_str(status) or "",
        )

    @property
    def ok(self) -> bool:
        return self.status.strip().upper() in {"OK", "200"} and bool(self.code)


@dataclass(frozen=True, slots=True)
class CloneResult:
    code: str
    url: str | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(code=to_code(pick(raw, *_CODE_KEYS)) or "", url=to_str(raw.get("url")))


@dataclass(frozen=True, slots=True)
class LinkVersion:
    name: str  # quality letter: n, h, l, o, x
    url: str
    size: int | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            name=to_str(pick(raw, "name", "q")) or "",
            url=to_str(raw.get("url")) or "",
            size=_byte_count(raw.get("size")),
        )


@dataclass(frozen=True, slots=True)
class DirectLink:
    versions: list[LinkVersion]
    length: int | None
    player_img: str | None

    @classmethod
    def from_wire(cls, raw: Any) -> Self:
        """`result` of file/direct_link: an object with `versions`, or a bare URL string."""
        if isinstance(raw, str):
            versions = [LinkVersion(name="", url=raw, size=None)] if raw else []
            return cls(versions=versions, length=None, player_img=None)
        if not isinstance(raw, Mapping):
            return cls(versions=[], length=None, player_img=None)
        if "versions" not in raw and raw.get("url"):  # XFS shape: one {"url", "size"}
            versions = [LinkVersion.from_wire(raw)]
        else:
            versions = [LinkVersion.from_wire(v) for v in to_dicts(raw.get("versions"))]
        return cls(
            versions=[v for v in versions if v.url],
            length=to_int(pick(raw, "file_length", "length")),
            player_img=to_str(raw.get("player_img")),
        )


@dataclass(frozen=True, slots=True)
class DeletedFile:
    code: str
    title: str | None
    deleted_by: str | None
    deleted_ago_sec: int | None
    deleted: datetime | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            code=_code(raw),
            title=to_str(pick(raw, "title", "name", "file_title")),
            deleted_by=to_str(raw.get("deleted_by")),
            deleted_ago_sec=to_int(raw.get("deleted_ago_sec")),
            deleted=to_date(raw.get("deleted")),
        )


@dataclass(frozen=True, slots=True)
class DmcaFile:
    code: str
    del_in_sec: int | None
    del_time: datetime | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            code=_code(raw),
            del_in_sec=to_int(raw.get("del_in_sec")),
            del_time=to_date(raw.get("del_time")),
        )


@dataclass(frozen=True, slots=True)
class Encoding:
    code: str
    name: str | None
    quality: str | None
    status: str  # PENDING, ENCODING, ERROR, STUCK
    progress: int
    link: str | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            code=_code(raw),
            name=to_str(pick(raw, "name", "title", "file_title")),
            quality=to_str(raw.get("quality")),
            status=(to_str(raw.get("status")) or "").upper(),
            progress=to_int(raw.get("progress")) or 0,
            link=to_str(raw.get("link")),
        )


@dataclass(frozen=True, slots=True)
class UrlUpload:
    remote_url: str
    code: str | None
    status: str  # PENDING, WORKING, ERROR, STUCK
    progress: int
    fld_id: int | None

    @classmethod
    def from_wire(cls, raw: Raw) -> Self:
        return cls(
            remote_url=to_str(pick(raw, "remote_url", "url")) or "",
            code=to_code(pick(raw, "file_code", "filecode", "code")),
            status=(to_str(raw.get("status")) or "").upper(),
            progress=to_int(raw.get("progress")) or 0,
            fld_id=to_int(raw.get("fld_id")),
        )
