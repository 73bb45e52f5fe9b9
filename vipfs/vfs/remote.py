"""One host (one account) as the model holds it: every per-host part, built in one place.

Owns: composing the per-host parts: the API client (which owns its rate limiter), the folder
listing and file/info loaders, the journal of our own changes over those listings, quota, the
`/.vipfs` producers, the event stream, and, when the mount writes, the feature probes,
namespace, upload queue and its status, the URL-upload queue, the metadata (the `files`
table's one writer), the spool and the open writers' live sizes. A mount holds one `Remote`
today; none of it is a singleton, so a mount can hold several (mirrors) later.
Imports: `vipfs.api`, and the vfs parts it composes (dto, errors, events, features, journal,
loader, metadata, metadb, namespace, quota, spool, upload_status, uploads, urluploads, virtual,
writing).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from vipfs.api.protocol import XvsApi
from vipfs.api.records import FileInfo, FolderListing
from vipfs.vfs.dto import Options, WriteSetup
from vipfs.vfs.errors import VfsError
from vipfs.vfs.events import Events, jsonl
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.journal import Journal
from vipfs.vfs.loader import Clock, Loader
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import Upload, error_errno
from vipfs.vfs.namespace import Namespace
from vipfs.vfs.quota import Quota
from vipfs.vfs.spool import Spool
from vipfs.vfs.upload_status import FolderPath, QueueStatus
from vipfs.vfs.uploads import UploadQueue
from vipfs.vfs.urluploads import UrlUploads
from vipfs.vfs.virtual import Virtual
from vipfs.vfs.writing import Live

READ_ONLY = "the mount was started without a write engine"


@dataclass(slots=True)
class Writes:
    """The write engine of one host: the parts a change through the mount goes through."""

    spool: Spool
    features: HostFeatures
    names: Namespace
    queue: UploadQueue
    metadata: Metadata
    urls: UrlUploads  # `vipfs url-upload`: the URLs the host is asked to fetch
    rate_state: Callable[[], object] | None = None  # the client's limiter, for status.json
    live: dict[int, Live] = field(default_factory=dict)  # upload row → its open writers' size
    folder_path: FolderPath | None = None  # the model's inode table, for status.json's paths

    async def enqueue(
        self,
        name: str,
        fld_id: int,
        mode: int,
        *,
        replaces: str | None = None,
        tags: str | None = None,
        descr: str | None = None,
    ) -> Upload:
        """A new, empty spool file and the queue row that names it."""
        try:
            path = await self.spool.create()
        except OSError as exc:  # a full or broken spool disk: say so, not EIO
            raise VfsError(exc.errno or errno.EIO, f"creating a spool file: {exc}") from None
        row = Upload(
            spool=path,
            fld_id=fld_id,
            name=name,
            mtime_ns=time.time_ns(),
            mode=mode,
            replaces=replaces,
            tags=tags,
            descr=descr,
        )
        try:
            return await self.queue.enqueue(row)
        except sqlite3.Error as exc:  # no row names the (empty) spool file: it may go
            await self.spool.delete(path)
            raise VfsError(error_errno(exc), f"recording a new file in the queue: {exc}") from None

    async def adopt_spool(
        self,
        name: str,
        fld_id: int,
        mode: int,
        mtime_ns: int,
        source: Path,
        *,
        link_name: str,
        replaces: str | None = None,
    ) -> Upload:
        """A mirror's file, written once elsewhere, queued here from the same bytes: `source`
        hard-linked into this spool as `link_name` (a copy across file systems) and a closed
        queue row for it. This queue uploads, then deletes, only its own link."""
        for row in self.queue.in_folder(fld_id):
            if row.spool.name == link_name:  # already adopted (a replay after a crash)
                return row
        try:
            path = await self.spool.link_in(source, link_name)
        except OSError as exc:
            raise VfsError(exc.errno or errno.EIO, f"sharing a spool file: {exc}") from None
        row = Upload(
            spool=path, fld_id=fld_id, name=name, mtime_ns=mtime_ns, mode=mode, replaces=replaces
        )
        try:
            row = await self.queue.enqueue(row)
            return await self.queue.touch(row.id)
        except sqlite3.Error as exc:
            raise VfsError(
                error_errno(exc), f"recording a shared file in the queue: {exc}"
            ) from None

    async def status_json(self) -> dict[str, Any]:
        """`/.vipfs/status.json`: the queue, lost+found, the rate-limit budget, the probes."""
        lost = await trio.to_thread.run_sync(self.spool.lost_files)
        rate = self.rate_state
        return {
            "pid": os.getpid(),  # so `vipfs umount` finds the process whatever its environment
            "queue": self.queue.status().to_json(self.folder_path),
            "lost_found": {"dir": str(self.spool.lost_found), "files": lost},
            "rate_limit": rate() if rate is not None else None,
            "features": self.features.as_dict(),
            "trash_folder": self.names.trash_id,
            "url_uploads": self.urls.status_json(),
        }


class Remote:
    """The per-host parts. `writes` is None for a read-only mount."""

    def __init__(
        self,
        api: XvsApi,
        options: Options,
        *,
        clock: Clock = time.monotonic,
        writes: WriteSetup | None = None,
        on_uploaded: Callable[[Upload], None] | None = None,
        on_dropped: Callable[[Upload], None] | None = None,
    ) -> None:
        self.api = api
        self.listings: Loader[int, FolderListing] = Loader(
            self._fetch_listing,
            ttl=options.dir_cache_time,
            budget=options.budget,
            clock=clock,
            what="listing of folder",
        )
        self.infos: Loader[int, dict[str, FileInfo]] = Loader(
            self._fetch_infos,
            ttl=options.dir_cache_time,
            budget=options.budget,
            clock=clock,
            what="file/info of folder",
        )
        self.quota = Quota(api)
        self.virtual = Virtual(api)
        self.journal = Journal(clock=clock)  # our own changes, over this host's listings
        self.events = Events()  # what happened to this host's files (`vipfs events`)
        self.events.link_of = self._listed_link
        self.virtual.add("events.jsonl", self._events_jsonl)
        self.writes = (
            None if writes is None else self._writes(writes, options, on_uploaded, on_dropped)
        )
        if self.writes is not None:
            self.virtual.add("status.json", self.writes.status_json)

    def _writes(
        self,
        setup: WriteSetup,
        options: Options,
        on_uploaded: Callable[[Upload], None] | None,
        on_dropped: Callable[[Upload], None] | None,
    ) -> Writes:
        metadata = Metadata(setup.db)
        queue = UploadQueue(
            self.api,
            setup.db,
            setup.spool,
            metadata=metadata,
            write_back=setup.write_back,
            transfers=setup.transfers,
            hold=setup.hold,
            clock=setup.clock,
            on_done=on_uploaded,
            on_dropped=on_dropped,
            titles=options.titles,
            retitle=setup.retitle,
        )
        queue.events = self.events
        return Writes(
            spool=setup.spool,
            features=setup.features,
            names=Namespace(self.api, metadata, setup.features, trash=setup.trash),
            queue=queue,
            metadata=metadata,
            urls=self._url_uploads(setup),
            rate_state=setup.rate_state,
        )

    def _url_uploads(self, setup: WriteSetup) -> UrlUploads:
        urls = UrlUploads(self.api, setup.db, self.events)
        urls.on_arrived = lambda row: self.listings.invalidate(row.fld_id)
        return urls

    def writer(self) -> Writes:
        """The write engine, or EROFS on a mount started without one."""
        if self.writes is None:
            raise VfsError(errno.EROFS, READ_ONLY)
        return self.writes

    def queue_status(self) -> QueueStatus | None:
        return None if self.writes is None else self.writes.queue.status()

    def refresh_in(self, nursery: trio.Nursery) -> None:
        """Expired listings and file/info answers are asked again in `nursery` (the model's
        background work) while the last ones are served; see `Loader`."""
        self.listings.nursery = self.infos.nursery = nursery

    def forget_all(self) -> None:
        """SIGHUP: listings and file/info answers are asked again when next needed (the last
        ones serve while the host cannot answer: a spent quota is no EIO), and so is the
        quota (at the next df)."""
        self.listings.expire_all()
        self.infos.expire_all()
        self.quota.forget()

    def _listed_link(self, fld_id: int, code: str) -> str | None:
        listing = self.listings.peek(fld_id)
        entry = listing.file(code) if listing is not None else None
        return entry.link if entry is not None else None

    async def _events_jsonl(self) -> bytes:
        """`/.vipfs/events.jsonl`: the kept events, one JSON line each (`vipfs events`)."""
        return jsonl(self.events.since())

    async def _fetch_listing(self, fld_id: int) -> FolderListing:
        return await self.api.folder_list(fld_id, files=True)

    async def _fetch_infos(self, fld_id: int) -> dict[str, FileInfo]:
        """file/info for every file of the folder: the client sends 50 codes per call."""
        listing = self.listings.peek(fld_id)
        if listing is not None:
            listing = self.journal.apply(fld_id, listing)
        codes = [f.code for f in listing.files] if listing is not None else []
        if not codes:
            return {}
        return {info.code: info for info in await self.api.file_info(codes)}
