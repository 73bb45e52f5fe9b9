"""Typed records of what XVS hosts send, with Pythonic names.

The field names here are the contract between the client and everything above it. Parsing is
lenient (real hosts send numbers as strings, drift key names, and send malformed dates), and
lives in the `from_wire` constructors so no caller ever touches raw JSON.

Times are naive `datetime`s in the *server's* local time, exactly as sent; converting them needs
the offset learned from `server_time` (see `ServerClock`). A malformed date becomes None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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


@dataclass(frozen=True, slots=True)
class StatsDay:
    day: str
    views: int
    downloads: int
    profit_total: str
    raw: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder as `folder/list` shows it (no parent id, no date: the API has none)."""

    fld_id: int
    name: str  # as the server sends it: HTML-escaped by folder/create and folder/edit
    code: str | None


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


@dataclass(frozen=True, slots=True)
class FolderListing:
    folders: list[Folder]
    files: list[FileEntry]


@dataclass(frozen=True, slots=True)
class FilePage:
    """One page of `file/list`. `pages` is kept but is wrong on real hosts: do not trust it."""

    files: list[FileEntry]
    results: int
    results_total: int
    pages: int


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


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One per-file result of an upload node. `ok` is False when `status` is an error string."""

    code: str | None
    filename: str
    status: str

    @property
    def ok(self) -> bool:
        return self.status.upper() == "OK" and bool(self.code)


@dataclass(frozen=True, slots=True)
class CloneResult:
    code: str
    url: str | None


@dataclass(frozen=True, slots=True)
class LinkVersion:
    name: str  # quality letter: n, h, l, o, x
    url: str
    size: int | None


@dataclass(frozen=True, slots=True)
class DirectLink:
    versions: list[LinkVersion]
    length: int | None
    player_img: str | None


@dataclass(frozen=True, slots=True)
class DeletedFile:
    code: str
    title: str | None
    deleted_by: str | None
    deleted_ago_sec: int | None
    deleted: datetime | None


@dataclass(frozen=True, slots=True)
class DmcaFile:
    code: str
    del_in_sec: int | None
    del_time: datetime | None


@dataclass(frozen=True, slots=True)
class Encoding:
    code: str
    name: str | None
    quality: str | None
    status: str  # PENDING, ENCODING, ERROR, STUCK
    progress: int
    link: str | None


@dataclass(frozen=True, slots=True)
class UrlUpload:
    remote_url: str
    code: str | None
    status: str  # PENDING, WORKING, ERROR, STUCK
    progress: int
    fld_id: int | None
