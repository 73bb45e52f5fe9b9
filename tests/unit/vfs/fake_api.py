"""An in-memory XVS host implementing `XvsApi`, with the quirks and faults the layers above meet.

It models what matters to callers, not the wire: folders and files with codes, upload nodes,
the upload-time title mangling (extension stripped, `_`/`.` runs to spaces), HTML escaping by
`file/edit`, tags wiped by an edit without `tags`, `file/list` title filtering as a substring.

Seeding, for tests that start from an existing account: `add_folder` and `add_file` (listed
newest first, with the thumbnail and link a real listing has); `account` is what
`account_info` answers; `file_info` answers in batches of 50 codes, recorded in `info_batches`.
The host's clock runs `EPOCH_OFFSET` seconds ahead of UTC; uploads are stamped with the trio
clock's time in it (`server_now`), as the queue's clock in these tests is the trio clock.

Bytes, for the read cache: `FakeApi.serving({code: {version: bytes}})` builds a host whose
`file_direct_link` answers (otherwise it is refused, like most accounts) with `fake://` URLs that
carry the link generation; bumping `link_gen` expires every earlier URL, even mid-download.
`download` sends `piece` bytes at a time and records (code, start, end) in `downloads`;
`hold_at` parks downloads at that byte until `release` is set (only those of `hold_codes`, if
set); `download_failures` makes that many downloads fail transiently first; `active_downloads`
and `closed_early` count streams.

Fault injection (`fail`, uploads and rejections are consumed in call order):
* `fail(op, exc, times=1)`: the next calls of method `op` raise `exc` before doing anything;
* `failing[op]`: while set, every call of method `op` raises it;
* `fail_all`: while set, every call raises it (the host is down);
* `gate`: when set, every call waits for this event first (the host hangs);
* `lose_upload_responses(n)`: the next uploads store the file, then raise a TransientError,
  like a connection reset after the node saved it;
* `reject_upload(reason)`: the next upload is refused with UploadRejectedError(reason);
* non-video extensions are refused like real nodes do (`Not video file (<name>)`),
  and files over `max_upload_size` get `file is too big`;
* `upload_gate`: when set, uploads wait for this event, half sent (to observe the queue
  mid-upload).

Every call is recorded in `calls` as (method, arguments), and in `call_times` with the trio
clock's time, for assertions.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from vipfs.api.errors import (
    ApiError,
    LinkExpiredError,
    NotFoundError,
    RequestRejectedError,
    TransientError,
    UnsupportedError,
    UploadRejectedError,
)
from vipfs.api.records import (
    AccountInfo,
    CloneResult,
    DeletedFile,
    DirectLink,
    DmcaFile,
    Encoding,
    FileEntry,
    FileInfo,
    FilePage,
    Folder,
    FolderListing,
    LinkVersion,
    StatsDay,
    UploadedFile,
    UrlUpload,
)

EPOCH_OFFSET = 3600.0  # the fake server runs one hour ahead of UTC
VIDEO_EXTENSIONS = {"mp4", "mkv", "avi", "webm", "mov", "flv", "wmv", "m4v", "ts", "mpg", "3gp"}
_STRIP_EXT = re.compile(r"\.(mp4|mkv|avi|webm|mov|flv|wmv|m4v|ts|mpg|3gp|mp3|jpg|zip)$", re.I)


def mangle_upload_title(title: str) -> str:
    """What an XVS node does to a title at upload (xvs-api.md §4), minus the site regex."""
    title = _STRIP_EXT.sub("", title)
    title = title.replace("_", " ")
    title = re.sub(r"\.+", " ", title)
    title = re.sub(r"(?i)\b(x264|h264|divx|xvid)\b", " ", title)
    title = re.sub(r'[<>#"\0]', " ", title)
    return re.sub(r"\s+", " ", title).strip()


def escape_edit(value: str) -> str:
    """What `file/edit` does to titles and descriptions (xvs-api.md §6.9)."""
    return (
        html.escape(value, quote=True)
        .replace("&#x27;", "'")
        .replace("(", "&#40;")
        .replace(")", "&#41;")
    )


@dataclass
class FakeFile:
    code: str
    title: str
    fld_id: int
    data: bytes
    filename: str
    created: int
    tags: str = ""
    descr: str = ""
    uploaded: datetime | None = None  # server local time, as listings give it
    views: int = 0
    canplay: bool = True
    public: bool = False
    thumbnail: str | None = None
    link: str | None = None
    versions: dict[str, bytes] = field(default_factory=dict)  # what direct links serve


@dataclass
class FakeFolder:
    fld_id: int
    name: str
    parent_id: int
    code: str | None = None


def _default_account() -> AccountInfo:
    return AccountInfo(
        login="tester",
        email="t@example.org",
        files_total=0,
        storage_used=10 * 4096,
        storage_left=100 * 4096,
        premium=False,
        premium_expire=None,
        balance="0.00",
    )


@dataclass
class FakeApi:
    max_upload_size: int = 1 << 30
    files: dict[str, FakeFile] = field(default_factory=dict)
    folders: dict[int, FakeFolder] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    call_times: list[tuple[str, float]] = field(default_factory=list)  # trio clock
    upload_gate: trio.Event | None = None
    gate: trio.Event | None = None
    fail_all: ApiError | None = None
    account: AccountInfo = field(default_factory=_default_account)
    info_batches: list[int] = field(default_factory=list)
    failing: dict[str, Exception] = field(default_factory=dict)
    direct_links: bool = False
    ignore_list_filters: bool = False  # some builds answer file/list with the whole account
    link_gen: int = 0
    piece: int = 256
    downloads: list[tuple[str, int, int]] = field(default_factory=list)  # (code, start, end)
    download_failures: int = 0
    hold_at: int | None = None
    hold_codes: set[str] | None = None  # hold only these files' downloads (None: all)
    release: trio.Event = field(default_factory=trio.Event)
    active_downloads: int = 0
    closed_early: int = 0
    _faults: dict[str, list[Exception]] = field(default_factory=dict)
    _lost: int = 0
    _rejects: list[str] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _next_fld: int = 100
    _clock: datetime = datetime(2024, 1, 1, 12, 0, 0)

    # -- seeding -----------------------------------------------------------------------------
    @classmethod
    def serving(cls, files: dict[str, dict[str, bytes]], piece: int = 256) -> FakeApi:
        """A host with direct links on, serving these versions (shared dicts, not copies)."""
        api = cls(direct_links=True, piece=piece)
        for code, versions in files.items():
            api.add_file(code, code=code)
            api.files[code].versions = versions
        return api

    def add_folder(self, name: str, parent: int = 0, code: str | None = None) -> int:
        self._next_fld += 1
        while self._next_fld in self.folders:
            self._next_fld += 1
        fld_id = self._next_fld
        self.folders[fld_id] = FakeFolder(fld_id, name, parent, code or f"fc{fld_id}")
        return fld_id

    def add_file(
        self,
        title: str,
        fld_id: int = 0,
        *,
        code: str | None = None,
        uploaded: datetime | None = None,
        canplay: bool = True,
    ) -> str:
        code = code or f"code{len(self.files):08d}"
        if uploaded is None:
            self._clock += timedelta(minutes=1)
            uploaded = self._clock
        self.files[code] = FakeFile(
            code=code,
            title=title,
            fld_id=fld_id,
            data=b"",
            filename=f"{title}.mp4",
            created=next(self._seq),
            uploaded=uploaded,
            views=3,
            canplay=canplay,
            public=True,
            thumbnail=f"https://img.example/{code}.jpg",
            link=f"https://vip.example/{code}",
        )
        return code

    # -- fault injection ---------------------------------------------------------------------
    def fail(self, op: str, exc: Exception, times: int = 1) -> None:
        self._faults.setdefault(op, []).extend([exc] * times)

    def lose_upload_responses(self, n: int = 1) -> None:
        self._lost += n

    def reject_upload(self, reason: str) -> None:
        self._rejects.append(reason)

    async def _enter(self, op: str, **args: object) -> None:
        self.calls.append((op, args))
        self.call_times.append((op, trio.current_time()))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_all is not None:
            raise self.fail_all
        if op in self.failing:
            raise self.failing[op]
        queue = self._faults.get(op)
        if queue:
            raise queue.pop(0)

    def count(self, op: str) -> int:
        return sum(1 for name, _ in self.calls if name == op)

    def times(self, op: str) -> list[float]:
        return [at for name, at in self.call_times if name == op]

    def _new_code(self) -> str:
        return f"fake{next(self._seq):08d}"

    def _entry(self, f: FakeFile) -> FileEntry:
        return FileEntry(
            code=f.code,
            title=f.title,
            fld_id=f.fld_id,
            uploaded=f.uploaded,
            length=60,
            views=f.views,
            canplay=f.canplay,
            public=f.public,
            thumbnail=f.thumbnail,
            link=f.link,
        )

    # -- account -----------------------------------------------------------------------------
    async def account_info(self) -> AccountInfo:
        await self._enter("account_info")
        return self.account

    async def account_stats(self, last_days: int = 7) -> list[StatsDay]:
        await self._enter("account_stats", last_days=last_days)
        return [StatsDay("2024-01-01", 5, 1, "0.01")]

    # -- folders -----------------------------------------------------------------------------
    async def folder_list(self, fld_id: int = 0, *, files: bool = True) -> FolderListing:
        await self._enter("folder_list", fld_id=fld_id, files=files)
        if fld_id and fld_id not in self.folders:
            raise NotFoundError("Folder not exist or not yours", status=403, op="folder/list")
        subs = [
            Folder(f.fld_id, f.name, f.code) for f in self.folders.values() if f.parent_id == fld_id
        ]
        mine = [f for f in self.files.values() if f.fld_id == fld_id] if files else []
        mine.sort(key=lambda f: f.uploaded or datetime.min, reverse=True)  # newest first
        listed = [self._entry(f) for f in mine]
        return FolderListing(subs, listed)

    async def folder_create(
        self, name: str, parent_id: int = 0, *, descr: str | None = None
    ) -> int:
        await self._enter("folder_create", name=name, parent_id=parent_id)
        if len(name) < 2:
            raise RequestRejectedError("Invalid folder name", status=400, op="folder/create")
        fld_id = next(self._seq)
        while fld_id in self.folders:
            fld_id = next(self._seq)
        self.folders[fld_id] = FakeFolder(fld_id, escape_edit(name), parent_id)
        return fld_id

    async def folder_edit(
        self,
        fld_id: int,
        *,
        name: str | None = None,
        parent_id: int | None = None,
        descr: str | None = None,
    ) -> None:
        await self._enter("folder_edit", fld_id=fld_id, name=name, parent_id=parent_id)
        folder = self.folders[fld_id]
        if name is not None:
            folder.name = escape_edit(name)
        if parent_id is not None:
            folder.parent_id = parent_id

    async def folder_delete(self, fld_id: int) -> None:
        await self._enter("folder_delete", fld_id=fld_id)
        raise UnsupportedError("Invalid operation", status=400, op="folder/delete")

    # -- files -------------------------------------------------------------------------------
    async def file_info(self, codes: Sequence[str]) -> list[FileInfo]:
        out: list[FileInfo] = []
        for start in range(0, len(codes), 50):
            batch = list(codes[start : start + 50])
            await self._enter("file_info", codes=batch)
            self.info_batches.append(len(batch))
            out.extend(self._info(code) for code in batch)
        return out

    def _info(self, code: str) -> FileInfo:
        f = self.files.get(code)
        if f is None:
            return FileInfo(code=code, status=404)
        return FileInfo(
            code=code,
            status=200,
            title=f.title,
            fld_id=f.fld_id,
            tags=f.tags,
            descr=f.descr,
            length=60,
            views=f.views + 100,  # fresher than the listing
            canplay=f.canplay,
            player_img=f"https://img.example/big/{code}.jpg",
        )

    async def file_edit(
        self,
        codes: str | Sequence[str],
        *,
        title: str | None = None,
        descr: str | None = None,
        cat_id: int | None = None,
        fld_id: int | None = None,
        public: bool | None = None,
        adult: bool | None = None,
        tags: str | None = None,
    ) -> None:
        await self._enter(
            "file_edit", codes=codes, title=title, descr=descr, fld_id=fld_id, tags=tags
        )
        for code in [codes] if isinstance(codes, str) else codes:
            f = self.files.get(code)
            if f is None:
                continue  # the real host answers "true" regardless
            if title is not None:
                f.title = escape_edit(title)
            if descr is not None:
                f.descr = escape_edit(descr)
            if fld_id is not None:
                f.fld_id = fld_id
            f.tags = tags or ""  # wiped unless sent: the real host's bug

    async def file_list(
        self,
        *,
        fld_id: int | None = None,
        title: str | None = None,
        created: datetime | int | None = None,
        public: bool | None = None,
        adult: bool | None = None,
        per_page: int = 1000,
        page: int = 1,
    ) -> FilePage:
        await self._enter("file_list", fld_id=fld_id, title=title, page=page)
        found = self._matching(fld_id, title)
        chunk = found[(page - 1) * per_page : page * per_page]
        return FilePage(chunk, len(chunk), len(found), 1)

    def _matching(self, fld_id: int | None, title: str | None) -> list[FileEntry]:
        hits = sorted(self.files.values(), key=lambda f: -f.created)
        return [
            self._entry(f)
            for f in hits
            if self.ignore_list_filters
            or (
                (fld_id is None or f.fld_id == fld_id)
                and (title is None or title.lower() in f.title.lower())
            )
        ]

    async def file_list_all(
        self, *, fld_id: int | None = None, title: str | None = None
    ) -> list[FileEntry]:
        await self._enter("file_list_all", fld_id=fld_id, title=title)
        return self._matching(fld_id, title)

    async def file_clone(
        self, code: str, *, title: str | None = None, fld_id: int | None = None
    ) -> CloneResult:
        await self._enter("file_clone", code=code)
        raise UnsupportedError("This function not allowed in API", status=403, op="file/clone")

    async def file_delete(self, code: str) -> None:
        await self._enter("file_delete", code=code)
        if self.files.pop(code, None) is None:
            raise NotFoundError("No file", status=404, op="file/delete")

    async def file_direct_link(self, code: str) -> DirectLink:
        await self._enter("file_direct_link", code=code)
        await trio.lowlevel.checkpoint()
        if not self.direct_links:
            raise UnsupportedError("This function not allowed in API", status=403, op="direct_link")
        f = self.files.get(code)
        if f is None:
            raise NotFoundError("no file", status=404)
        versions = [
            LinkVersion(name, f"fake://{code}/{name}/{self.link_gen}", len(data))
            for name, data in f.versions.items()
        ]
        return DirectLink(versions=versions, length=60, player_img=None)

    async def file_deleted(self, last_hours: int = 720) -> list[DeletedFile]:
        await self._enter("file_deleted")
        return []

    async def file_dmca(self, last_hours: int = 720) -> list[DmcaFile]:
        await self._enter("file_dmca")
        return []

    async def file_encodings(self, code: str | None = None) -> list[Encoding]:
        await self._enter("file_encodings")
        return []

    async def file_url_uploads(self, code: str | None = None) -> list[UrlUpload]:
        await self._enter("file_url_uploads")
        return []

    async def file_url_actions(self, *, delete_codes: Sequence[str]) -> None:
        await self._enter("file_url_actions")

    # -- uploads -----------------------------------------------------------------------------
    async def upload_server(self) -> str:
        await self._enter("upload_server")
        return "http://node1.fake/upload/01"

    async def upload_file(
        self,
        server_url: str,
        path: Path,
        *,
        filename: str,
        title: str | None = None,
        descr: str | None = None,
        fld_id: int = 0,
        tags: str | None = None,
        public: bool | None = None,
        adult: bool | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> UploadedFile:
        await self._enter(
            "upload_file",
            server_url=server_url,
            path=path,
            filename=filename,
            title=title,
            fld_id=fld_id,
            tags=tags,
        )
        data = await trio.Path(path).read_bytes()
        if progress is not None:
            progress(len(data) // 2)  # half sent when the gate holds the rest
        if self.upload_gate is not None:
            await self.upload_gate.wait()
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if self._rejects:
            raise UploadRejectedError(self._rejects.pop(0), filename=filename)
        if ext not in VIDEO_EXTENSIONS:
            raise UploadRejectedError(f"Not video file ({filename})", filename=filename)
        if len(data) > self.max_upload_size:
            raise UploadRejectedError("file is too big", filename=filename)
        code = self._new_code()
        self.files[code] = FakeFile(
            code=code,
            title=mangle_upload_title(title or filename),
            fld_id=fld_id,
            data=data,
            filename=filename,
            created=next(self._seq),
            tags=tags or "",
            uploaded=self.server_now(),
        )
        if progress is not None:
            progress(len(data))
        if self._lost:
            self._lost -= 1
            raise TransientError("connection reset by peer", op="upload")
        return UploadedFile(code=code, filename=filename, status="OK")

    async def upload_url(self, url: str, *, fld_id: int = 0, public: bool | None = None) -> str:
        await self._enter("upload_url", url=url)
        raise UnsupportedError("Invalid operation", status=400, op="upload/url")

    # -- bytes -------------------------------------------------------------------------------
    async def download(
        self, url: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        code, name, gen = url.removeprefix("fake://").split("/")
        f = self.files.get(code)
        if int(gen) != self.link_gen or f is None or name not in f.versions:
            raise LinkExpiredError("403 from node", status=403, op="download")
        data = f.versions[name]
        stop = len(data) if end is None else end
        self.downloads.append((code, start, stop))
        if self.download_failures:
            self.download_failures -= 1
            raise TransientError("connection reset", op="download")
        self.active_downloads += 1
        finished = False
        try:
            for pos in range(start, stop, self.piece):
                held = self.hold_codes is None or code in self.hold_codes
                if self.hold_at is not None and pos >= self.hold_at and held:
                    await self.release.wait()
                await trio.lowlevel.checkpoint()
                if int(gen) != self.link_gen:
                    raise LinkExpiredError("403 from node", status=403, op="download")
                finished = pos + self.piece >= stop  # the consumer may stop after the last piece
                yield data[pos : min(pos + self.piece, stop)]
        finally:
            self.active_downloads -= 1
            if not finished:
                self.closed_early += 1

    def starts(self, code: str) -> list[int]:
        return [start for c, start, _ in self.downloads if c == code]

    def server_now(self) -> datetime:
        """The host's local time now, on the trio clock (as the queue's clock in tests)."""
        return datetime.fromtimestamp(trio.current_time() + EPOCH_OFFSET, UTC).replace(tzinfo=None)

    def server_to_epoch(self, when: datetime) -> float:
        return when.replace(tzinfo=UTC).timestamp() - EPOCH_OFFSET

    @property
    def requests_available(self) -> int | None:
        return None
