"""What the rest of vipfs may ask of an XVS host: the client's public surface as a Protocol.

Owns: `XvsApi`, the host surface every layer above codes against.
Imports: `vipfs.api.records` only.

`vipfs.api.client.XvsClient` implements it over HTTP; unit tests of the layers above implement
it with in-memory fakes. Methods raise only `vipfs.api.errors.ApiError` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

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
    FolderListing,
    StatsDay,
    UploadedFile,
    UrlUpload,
)


class XvsApi(Protocol):
    # -- account ---------------------------------------------------------------------------
    async def account_info(self) -> AccountInfo: ...
    async def account_stats(self, last_days: int = 7) -> list[StatsDay]: ...

    # -- folders ---------------------------------------------------------------------------
    async def folder_list(self, fld_id: int = 0, *, files: bool = True) -> FolderListing: ...
    async def folder_create(
        self, name: str, parent_id: int = 0, *, descr: str | None = None
    ) -> int: ...
    async def folder_edit(
        self,
        fld_id: int,
        *,
        name: str | None = None,
        parent_id: int | None = None,
        descr: str | None = None,
    ) -> None: ...
    async def folder_delete(self, fld_id: int) -> None: ...

    # -- files -----------------------------------------------------------------------------
    async def file_info(self, codes: Sequence[str]) -> list[FileInfo]:
        """Any number of codes; batched by 50 (the server's silent cap), results in order."""
        ...

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
    ) -> None: ...
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
    ) -> FilePage: ...
    async def file_list_all(
        self, *, fld_id: int | None = None, title: str | None = None
    ) -> list[FileEntry]:
        """Every page, stopping at a short page (the server's `pages` is wrong)."""
        ...

    async def file_clone(
        self, code: str, *, title: str | None = None, fld_id: int | None = None
    ) -> CloneResult: ...
    async def file_delete(self, code: str) -> None: ...
    async def file_direct_link(self, code: str) -> DirectLink: ...
    async def file_deleted(self, last_hours: int = 720) -> list[DeletedFile]: ...
    async def file_dmca(self, last_hours: int = 720) -> list[DmcaFile]: ...
    async def file_encodings(self, code: str | None = None) -> list[Encoding]: ...
    async def file_url_uploads(self, code: str | None = None) -> list[UrlUpload]: ...
    async def file_url_actions(self, *, delete_codes: Sequence[str]) -> None: ...

    # -- uploads ---------------------------------------------------------------------------
    async def upload_server(self) -> str: ...
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
        """Stream `path` to the node; raises UploadRejectedError with the node's reason."""
        ...

    async def upload_url(self, url: str, *, fld_id: int = 0, public: bool | None = None) -> str: ...

    # -- bytes -----------------------------------------------------------------------------
    def download(self, url: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes [start, end) of a direct-link URL (HTTP Range); errors as ApiError.

        A caller that may stop before the end wraps it in `contextlib.aclosing(...)`, so the
        connection is released at once rather than by the garbage collector.
        """
        ...

    # -- state the layers above show to users ------------------------------------------------
    def server_to_epoch(self, when: datetime) -> float:
        """Server-local naive time → Unix epoch, using the offset learned from `server_time`."""
        ...

    @property
    def requests_available(self) -> int | None:
        """The last `requests_available` the host reported, if it reports one."""
        ...
