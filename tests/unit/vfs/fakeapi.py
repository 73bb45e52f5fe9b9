"""An in-memory XVS account for the model's unit tests: counts calls, fails on request.

Only what the read side asks is implemented; anything else raises, so a test notices a call
it did not expect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import trio

from vipfs.api.errors import ApiError, NotFoundError
from vipfs.api.records import (
    AccountInfo,
    DeletedFile,
    DmcaFile,
    Encoding,
    FileEntry,
    FileInfo,
    Folder,
    FolderListing,
    StatsDay,
)

EPOCH_OFFSET = 3600.0  # the fake server runs one hour ahead of UTC


class FakeApi:
    def __init__(self) -> None:
        self.folders: dict[int, tuple[int, Folder]] = {}  # fld_id -> (parent, folder)
        self.files: dict[str, FileEntry] = {}
        self.calls: Counter[str] = Counter()
        self.info_batches: list[int] = []
        self.fail: ApiError | None = None  # raised by every call while set
        self.delay = 0.0  # seconds every call sleeps first
        self.gate: trio.Event | None = None  # when set, calls wait for it
        self.account = AccountInfo(
            login="tester",
            email="t@example.org",
            files_total=0,
            storage_used=10 * 4096,
            storage_left=100 * 4096,
            premium=False,
            premium_expire=None,
            balance="0.00",
        )
        self._next_fld = 100
        self._clock = datetime(2024, 1, 1, 12, 0, 0)

    # -- building the account -------------------------------------------------------------
    def add_folder(self, name: str, parent: int = 0, code: str | None = None) -> int:
        self._next_fld += 1
        fld_id = self._next_fld
        self.folders[fld_id] = (parent, Folder(fld_id, name, code or f"fc{fld_id}"))
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
        self.files[code] = FileEntry(
            code=code,
            title=title,
            fld_id=fld_id,
            uploaded=uploaded,
            length=60,
            views=3,
            canplay=canplay,
            public=True,
            thumbnail=f"https://img.example/{code}.jpg",
            link=f"https://vip.example/{code}",
        )
        return code

    async def _call(self, op: str) -> None:
        self.calls[op] += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await trio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail

    # -- XvsApi (the read side) ---------------------------------------------------------------
    async def account_info(self) -> AccountInfo:
        await self._call("account/info")
        return self.account

    async def account_stats(self, last_days: int = 7) -> list[StatsDay]:
        await self._call("account/stats")
        return [StatsDay("2024-01-01", 5, 1, "0.01")]

    async def folder_list(self, fld_id: int = 0, *, files: bool = True) -> FolderListing:
        await self._call("folder/list")
        if fld_id != 0 and fld_id not in self.folders:
            raise NotFoundError("Folder not exist or not yours", status=403, op="folder/list")
        folders = [f for parent, f in self.folders.values() if parent == fld_id]
        entries = [f for f in self.files.values() if f.fld_id == fld_id] if files else []
        entries.sort(key=lambda f: f.uploaded or datetime.min, reverse=True)  # newest first
        return FolderListing(folders, entries)

    async def file_info(self, codes: Sequence[str]) -> list[FileInfo]:
        out: list[FileInfo] = []
        for start in range(0, len(codes), 50):
            batch = codes[start : start + 50]
            await self._call("file/info")
            self.info_batches.append(len(batch))
            for code in batch:
                entry = self.files.get(code)
                if entry is None:
                    out.append(FileInfo(code=code, status=404))
                else:
                    out.append(
                        FileInfo(
                            code=code,
                            status=200,
                            title=entry.title,
                            fld_id=entry.fld_id,
                            length=entry.length,
                            views=(entry.views or 0) + 100,  # fresher than the listing
                            canplay=entry.canplay,
                            player_img=f"https://img.example/big/{code}.jpg",
                        )
                    )
        return out

    async def file_encodings(self, code: str | None = None) -> list[Encoding]:
        await self._call("file/encodings")
        return []

    async def file_deleted(self, last_hours: int = 720) -> list[DeletedFile]:
        await self._call("file/deleted")
        return []

    async def file_dmca(self, last_hours: int = 720) -> list[DmcaFile]:
        await self._call("file/dmca")
        return []

    def download(self, url: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        raise AssertionError("download is not expected in these tests")

    def server_to_epoch(self, when: datetime) -> float:
        from datetime import UTC

        return when.replace(tzinfo=UTC).timestamp() - EPOCH_OFFSET

    @property
    def requests_available(self) -> int | None:
        return None

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"FakeApi has no {name}: the read side should not call it")
