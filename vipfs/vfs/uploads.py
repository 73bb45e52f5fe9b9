"""The persistent upload queue: spooled files go to the host in the background, exactly once.

Owns: the row state machine of `metadb.UploadState` (the diagram below), the in-memory rows
and the `uploads` table behind them, the folder index of the rows (what each folder shows),
and which (folder, title) pairs are in flight (`_admit`). It hands due rows to a generic
`Scheduler`, whose job is one `UploadJob` attempt; abandoned copies go to the `StrayCleaner`;
a finished upload is recorded through `Metadata`.
Imports: `api` (errors, Protocol, `Backoff`), and of `vfs` `adoption`, `dedupe`, `defaults`,
`errors`, `events`, `features`, `holdlist`, `metadata`, `metadb`, `names`, `progress`,
`scheduler`, `spool`, `strays`, `upload_job`, `upload_node`, `upload_status`.

Life of a queue row (`metadb.UploadState`):

    enqueue ─▶ writing ──touch (a close)──▶ queued ─(write_back s later)─▶ uploading ─▶ done
                  ▲  ◀──reopen for write──    │ ▲                             │ │
                  │                           ▼ │ rename to a normal name     │ └─▶ failed
                  └───────── reopen ───────  held (temp name: hold list)       └─▶ queued (retry)

* The upload is due `write_back` seconds after the LAST close, so rsync's close → utime → chmod
  → rename all land on the queued record, and the temp name never reaches the server.
* An upload (`upload_job`) is the multipart POST to the node (whose URL `upload/server` gave,
  reused: `upload_node`) under the file's own title (`Titles.file_title`) in its folder; a
  `file/edit` follows only when the row was renamed, moved or given other tags meanwhile. So a
  file costs no API call in steady state. What the POST sent (folder, title, start and end) is
  in the row before the POST starts and until its code is known.
* A retry after a lost answer, or after a crash mid-upload, first looks for the copy the POST
  may have stored, and adopts it only on proof (`adoption.posted_copy`: its folder, its exact
  title, a code vipfs does not know, stamped in the attempt's window, the only such file).
  Several → the row fails and every one of them is left alone; none → upload again. Never
  twice: one upload per (folder, title) is in flight at a time (`_admit`: a second row with
  the pair, or a stray of it not yet settled, waits).
* `retitle` (`--upload-retitle`, the benchmark's baseline) is the design before: a title with a
  unique token (`<title> vipfs-<12 hex>`), `upload/server` per file, the token look-up
  (`proven_copy`), and the retitle edit after every upload.
* A row whose size and sha256 are those of a file vipfs recorded on the host becomes one
  `file/clone` of it instead of the POST (`dedupe`, `--dedupe clone`), recorded in the row as
  a POST is; a refused clone falls back to the POST.
* Transient errors retry forever with jittered exponential backoff (`api.backoff.Backoff`,
  1 s → 5 min; a rate limit waits at least its `retry_after`). A refusal (bad format, too big,
  bad key) marks the row `failed`, keeps the spool data, and logs one WARNING with the server's
  reason.
* An empty held row whose idle spell ends with no handle open on it is dropped (row and spool):
  its writer is gone (rsync killed with -9), nothing will rename it, and it holds no data.
* A file closed with no bytes is `empty`: the hosts refuse 0-byte uploads, so none is spent on
  it; it stays local, shown, with `EMPTY_FILE` as its reason. Writing to it makes it normal.
* A new version with the size and sha256 of the file it takes the place of (O_TRUNC, or the
  target of the rename of a closed row: `repeats`) is not uploaded; that file stays, with the
  row's mtime and mode (`_repeat`, issue 11: `rsync -c` where files cannot be read back).
* Everything is in the metadata db before the network is touched, so a restart resumes.
* A row whose write failed (ENOSPC), or that was still open for writing when vipfs died, is
  `incomplete`: its spool may hold only a prefix, so it never uploads as it is. Its data is kept;
  rewriting it from offset 0 (O_TRUNC, truncate to 0) makes it a normal file again.
* Spool files no row names (a lost or unreadable db) go to lost+found, never away; only the
  spool of a row the host confirmed (`done`) is deleted.

The in-memory rows are the authority while the queue runs (changed synchronously, then
persisted in call order), so the scheduler never acts on a state a caller has already changed.
A row discarded while its upload's last step ran leaves nothing behind: its file record is
dropped again, and the facade hears nothing of it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import trio

from vipfs.api.backoff import Backoff
from vipfs.api.errors import (
    ApiError,
    NotSentError,
    ProtocolError,
    RateLimitedError,
    TransientError,
    UploadRejectedError,
)
from vipfs.api.protocol import XvsApi
from vipfs.vfs import defaults
from vipfs.vfs.adoption import AmbiguousCopyError
from vipfs.vfs.dedupe import Dedupe
from vipfs.vfs.errors import VfsError
from vipfs.vfs.events import Events
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import FileMeta, MetaDb, Upload, UploadState
from vipfs.vfs.names import Titles, new_token
from vipfs.vfs.progress import Progress, RateMeter
from vipfs.vfs.scheduler import Scheduler
from vipfs.vfs.spool import Spool
from vipfs.vfs.strays import StrayCleaner, stray_of
from vipfs.vfs.upload_job import AmbiguousTokenError, Sent, UploadJob, sent_by
from vipfs.vfs.upload_node import UploadNode
from vipfs.vfs.upload_status import QueueStatus, status_of

log = logging.getLogger(__name__)


class _Gone(Exception):
    """The row was discarded while an attempt was using it; the attempt just ends."""


class _Unsendable(Exception):
    """No title can carry the row's name (`names.UnsendableName`): it never uploads as is."""


Pair = tuple[int, str]  # (folder, title as sent): one upload of each in flight at a time
_NO_POST: dict[str, Any] = {
    "posted_title": None,
    "posted_fld": None,
    "posted_at": None,
    "posted_end": None,
}


class _Known:
    """The codes vipfs accounts for (the metadata's, and every row's own or replaced one):
    never the copy of a lost attempt."""

    def __init__(self, metadata: Metadata, rows: dict[int, Upload]) -> None:
        self._metadata = metadata
        self._codes = {c for row in rows.values() for c in (row.code, row.replaces) if c}

    def __contains__(self, code: object) -> bool:
        return code in self._codes or code in self._metadata


BACKOFF_FIRST = 1.0
BACKOFF_CAP = 300.0
CUT_OFF = "the mount ended while it was open for writing"

_PENDING = (UploadState.QUEUED, UploadState.HELD)
_CLOSED = (*_PENDING, UploadState.EMPTY)  # closed, no attempt yet: a rename may move it on
# The hosts refuse a 0-byte upload (`null filesize or wrong file path`): never spend one on it.
EMPTY_FILE = "hosts cannot store empty files; kept here, not uploaded"


class UploadQueue:
    """Background uploader over `MetaDb.uploads`; start `run()` in the mount's nursery."""

    def __init__(
        self,
        api: XvsApi,
        db: MetaDb,
        spool: Spool,
        *,
        metadata: Metadata,
        write_back: float = defaults.WRITE_BACK,
        transfers: int = defaults.TRANSFERS,
        hold: HoldList | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_done: Callable[[Upload], None] | None = None,
        on_dropped: Callable[[Upload], None] | None = None,
        titles: Titles | None = None,
        retitle: bool = False,
        features: HostFeatures | None = None,
        dedupe: bool = False,
    ) -> None:
        if transfers < 1:
            raise ValueError("transfers must be at least 1")
        self._db = db
        self._spool = spool
        self._metadata = metadata
        self.write_back = write_back
        self.hold = hold if hold is not None else HoldList()
        self._clock = clock
        self._rng = rng or random.Random()
        self._backoff = Backoff(BACKOFF_FIRST, BACKOFF_CAP, self._rng.random)
        self._retitle = retitle
        node = UploadNode(api, clock, reuse=not retitle)
        titles = titles if titles is not None else Titles()
        self._job = UploadJob(api, metadata, titles=titles, node=node, retitle=retitle)
        features = features if features is not None else HostFeatures()
        self.dedupe = Dedupe(api, metadata, features) if dedupe else None
        self._strays = StrayCleaner(api, db, self._backoff, known=self._known, settled=self._notify)
        self._on_done = on_done
        self._on_dropped = on_dropped
        self._rows: dict[int, Upload] = {}  # every row not yet done
        self._folders: dict[int, dict[int, None]] = {}  # folder → the rows it shows
        self._sent: dict[int, RateMeter] = {}  # id -> bytes sent by the running attempt
        self._flying: dict[int, set[Pair]] = {}  # running id -> the pairs it may post or adopt
        self._scheduler = Scheduler(
            self._attempt,
            current=self._is_due,
            claim=self._claim,
            ended=self._ended,
            slots=transfers,
            clock=clock,
            admit=self._admit,
        )
        self._changed = trio.Event()
        self._started = False
        self.events: Events | None = None  # the host's event stream (Remote sets it)
        self._announced: dict[int, str] = {}  # row → the token its `queued` event was for

    @property
    def transfers(self) -> int:
        return self._scheduler.slots

    # -- plumbing ----------------------------------------------------------------------------
    def _notify(self) -> None:
        """Wake the scheduler and every waiter; they re-check what they wait for."""
        self._scheduler.wake()
        self._changed.set()
        self._changed = trio.Event()

    def _row(self, upload_id: int) -> Upload:
        try:
            return self._rows[upload_id]
        except KeyError:
            raise KeyError(f"no pending upload {upload_id}") from None

    def _live(self, upload_id: int) -> Upload:
        """The row an attempt works on; `_Gone` if it was discarded under the attempt."""
        row = self._rows.get(upload_id)
        if row is None:
            raise _Gone(upload_id)
        return row

    def _keep(self, row: Upload) -> None:
        """Hold `row` in memory, and in the folder index under its folder."""
        old = self._rows.get(row.id)
        if old is not None and old.fld_id != row.fld_id:
            self._unindex(old)
        self._rows[row.id] = row
        self._folders.setdefault(row.fld_id, {})[row.id] = None

    def _forget(self, upload_id: int) -> Upload | None:
        self._announced.pop(upload_id, None)
        row = self._rows.pop(upload_id, None)
        if row is not None:
            self._unindex(row)
        return row

    def _unindex(self, row: Upload) -> None:
        ids = self._folders.get(row.fld_id)
        if ids is not None:
            ids.pop(row.id, None)
            if not ids:
                del self._folders[row.fld_id]

    async def _set(self, upload_id: int, **changes: Any) -> Upload:
        """Change a row in memory at once, then persist it (writes keep call order)."""
        old = self._live(upload_id)
        row = replace(old, **changes)
        self._keep(row)
        if row.state is UploadState.QUEUED and old.state in _CLOSING:
            self._queued(row)
        if row.state in _PENDING and ("state" in changes or "next_try" in changes):
            self._schedule(row)
        self._notify()
        try:
            await self._db.update_upload(upload_id, **changes)
        except sqlite3.Error as exc:
            if row.state is not UploadState.INCOMPLETE:
                raise
            # a full disk: the db row still says `writing` (or `incomplete`), and the next
            # mount marks a `writing` row incomplete, so nothing is uploaded by mistake
            log.info("%s: change not recorded in the db (%s)", row.name, exc)
        return row

    def _schedule(self, row: Upload) -> None:
        self._scheduler.at(row.id, row.next_try)

    def _closed_state(self, name: str, size: int, now: float) -> dict[str, Any]:
        """The changes that close a row of this name and size: held, empty, or queued."""
        if self.hold.holds(name):
            return {"state": UploadState.HELD, "next_try": now + self.hold.idle, "last_error": None}
        if size == 0:
            return {"state": UploadState.EMPTY, "last_error": EMPTY_FILE}
        return {"state": UploadState.QUEUED, "next_try": now + self.write_back, "last_error": None}

    # -- what the filesystem calls -----------------------------------------------------------
    def get(self, upload_id: int) -> Upload | None:
        """The pending row (None once done or forgotten)."""
        return self._rows.get(upload_id)

    def in_folder(self, fld_id: int) -> list[Upload]:
        """The rows that show in folder `fld_id` (every row not yet done), in id order."""
        return [self._rows[i] for i in sorted(self._folders.get(fld_id, ()))]

    def stand_ins(self) -> tuple[set[str], set[Pair]]:
        """The host files rows stand for, in any folder: a listing hides those and shows the
        row instead. Codes (a row's own copy, the file it replaces), and `posted`: (folder,
        title sent) of rows whose POST may have stored a copy whose code is not known."""
        codes: set[str] = set()
        posted: set[Pair] = set()
        for row in self._rows.values():
            codes.update(c for c in (row.code, row.replaces) if c)
            pair = _posted_pair(row)
            if pair is not None:
                posted.add(pair)
        return codes, posted

    async def enqueue(self, upload: Upload) -> Upload:
        """Record a new spooled file, open for write (no timer runs until `touch`)."""
        row = replace(
            upload,
            state=UploadState.WRITING,
            token=upload.token or new_token(),
            created=upload.created or self._clock(),
            attempts=0,
            code=None,
        )
        row = await self._db.add_upload(row)
        self._keep(row)
        self._notify()
        return row

    async def reopen(self, upload_id: int, *, trunc: bool = False) -> bool:
        """An open for write: stops the upload timer. False when an attempt is already running
        (the caller then treats the file as uploaded: wait with `upload_now`, then replace).
        An incomplete row stays incomplete unless the new writer starts over (`trunc`)."""
        row = self._row(upload_id)
        if self._scheduler.busy(upload_id):
            return False
        if row.state is UploadState.INCOMPLETE and not trunc:
            return True
        if row.state is not UploadState.WRITING:
            await self._set(upload_id, state=UploadState.WRITING, last_error=None)
        return True

    async def mark_incomplete(self, upload_id: int, reason: str, size: int | None = None) -> None:
        """A write into the spool failed, or its writer never closed it: the file is never
        uploaded as it is (data kept). On a full disk the db may refuse the change (`_set`
        allows that for incomplete rows): the next mount marks a `writing` row incomplete."""
        row = self._rows.get(upload_id)
        if row is None or row.state is UploadState.INCOMPLETE:
            return
        changes: dict[str, Any] = {"state": UploadState.INCOMPLETE, "last_error": reason}
        if size is not None:
            changes["size"] = size
        await self._set(upload_id, **changes)
        log.warning(
            "%s is incomplete (%s): kept, not uploaded; `vipfs status` lists it", row.name, reason
        )

    async def _after_writes(self, row: Upload, size: int, now: float) -> dict[str, Any]:
        """Changes that close a `writing` row. New bytes make any copy an earlier attempt may
        have stored stale, and its token too: that copy is removed, the row gets a new token.
        (The row is `writing`, so the scheduler leaves it alone across the await.)"""
        changes = {**self._closed_state(row.name, size, now), "attempts": 0}
        if row.attempts > 0 or row.code is not None:
            await self._strays.abandon(stray_of(row, now, tokened=self._retitle))
            changes.update(token=new_token(), code=None, **_NO_POST)
        return changes

    async def touch(self, upload_id: int) -> Upload:
        """The last writer closed: the upload is due `write_back` s from now (or held).
        A close of a row that is retrying, failed or uploading changes nothing."""
        size = await self._spool.size(self._row(upload_id).spool)
        row = self._row(upload_id)
        if self._scheduler.busy(upload_id):
            return row
        if row.state is UploadState.WRITING:
            changes = await self._after_writes(row, size, self._clock())
            return await self._set(upload_id, size=size, **changes)
        if row.state is UploadState.INCOMPLETE:
            return await self._set(upload_id, size=size) if size != row.size else row
        if row.state in _CLOSED and row.attempts == 0:
            closed = self._closed_state(row.name, size, self._clock())
            return await self._set(upload_id, size=size, **closed)
        return row

    async def rename(self, upload_id: int, new_name: str, new_fld_id: int) -> Upload:
        """A rename or move before the upload finished: only the record changes. Leaving the
        hold list makes the upload due `write_back` s from now (an empty file stays local)."""
        row = self._row(upload_id)
        changes: dict[str, Any] = {"name": new_name, "fld_id": new_fld_id}
        if row.state in _CLOSED and not self._scheduler.busy(upload_id):
            closed = self._closed_state(new_name, row.size, self._clock())
            if closed["state"] is not row.state:
                changes.update(closed)
        return await self._set(upload_id, **changes)

    async def set_times(self, upload_id: int, mtime_ns: int) -> Upload:
        return await self._set(upload_id, mtime_ns=mtime_ns)

    async def set_mode(self, upload_id: int, mode: int) -> Upload:
        return await self._set(upload_id, mode=mode)

    async def set_meta(
        self, upload_id: int, *, tags: str | None = None, descr: str | None = None
    ) -> Upload:
        """Tags/description set (xattrs) before the upload: sent with it."""
        changes: dict[str, Any] = {}
        if tags is not None:
            changes["tags"] = tags
        if descr is not None:
            changes["descr"] = descr
        return await self._set(upload_id, **changes)

    async def repeats(self, upload_id: int, code: str) -> Upload | None:
        """A closed row about to be renamed onto the uploaded file `code`: when its bytes only
        repeat that file's (`_repeat`), the row is dropped, spool and all, and returned: the
        caller keeps the known file, with the row's mtime and mode. None (nothing changed)
        otherwise, or once an attempt has started (a copy it may have stored is the queue's
        to settle). rsync's temp file, renamed onto the file it rewrites, ends here."""
        row = self._rows.get(upload_id)
        meta = self._metadata.meta(code)
        if row is None or meta is None or not self._untried(row):
            return None
        if row.replaces is not None:  # it overwrote another file, which goes when it arrives
            return None
        if meta.size != row.size or not meta.sha256:  # no hash is worth taking
            return None
        sha256 = await self._spool.sha256(row.spool)
        if self._rows.get(upload_id) is not row or not self._untried(row):
            return None  # written again, or uploading, meanwhile
        if self._repeat(row, code, sha256) is None:
            return None
        self._forget(upload_id)
        self._notify()
        log.info("%s: not uploading again: same content as %s", meta.name, code)
        await self._db.delete_upload(upload_id)
        await self._spool.delete(row.spool)
        return row

    def _repeat(self, row: Upload, code: str | None, sha256: str) -> str | None:
        """The rule of issue 11: a row whose size and sha256 are those of the file vipfs
        uploaded as `code`, the file it takes the place of (overwritten with O_TRUNC, or the
        target of its rename), is not uploaded: that file stays and stands for it. Nothing
        else is a repeat: the same bytes under another name, or beside a file of the same
        name, are another file the user asked for (no host call gives one file two names,
        and merging two entries would lose one). Not when another row stands for `code`."""
        meta = self._metadata.meta(code) if code else None
        if meta is None or (meta.size, meta.sha256) != (row.size, sha256):
            return None
        others = (o for o in self._rows.values() if o.id != row.id)
        if any(meta.code in (o.code, o.replaces) for o in others):
            return None
        return meta.code

    def _as_held(self, code: str, row: Upload) -> Sent | None:
        """What the host holds for the file a row repeats (None: not all of it known), so
        that the title edit follows only when the row was renamed or retagged meanwhile."""
        meta = self._metadata.meta(code)
        if meta is None or meta.tags is None:
            return None
        try:
            title = self._job.title_for(replace(row, name=meta.name))
            return Sent(title, meta.fld_id, (meta.tags, meta.descr))
        except ValueError:
            return None

    def _untried(self, row: Upload) -> bool:
        """Closed, and no attempt ever ran: the row's bytes exist only in its spool file."""
        return (
            row.state in _PENDING
            and row.attempts == 0
            and row.code is None
            and _posted_pair(row) is None
            and not self._scheduler.busy(row.id)
        )

    async def discard(self, upload_id: int) -> None:
        """The file was deleted before its upload finished: drop the row and the spool file.
        A running attempt is cancelled; whatever an attempt may have stored anyway is found
        by its token and deleted from the host in the background."""
        row = self._row(upload_id)
        running = self._scheduler.cancel(upload_id)
        self._forget(upload_id)
        self._notify()
        if running or row.code is not None or row.attempts > 0:
            await self._strays.abandon(stray_of(row, self._clock(), tokened=self._retitle))
        await self._db.delete_upload(upload_id)
        await self._spool.delete(row.spool)

    async def upload_now(self, upload_id: int) -> bool:
        """Upload at once and wait (fsync, --sync-uploads); True once the host has it, False
        for a row that stays local: a held temp name (vim's `.swp` fsyncs as it writes, and
        must never reach the host for it) or an empty file. Raises VfsError(EIO) when the
        attempt fails; a transient failure still retries in the background."""
        row = self._rows.get(upload_id)
        if row is None:
            stored = await self._db.get_upload(upload_id)
            if stored is not None and stored.state is UploadState.DONE:
                return True
            raise VfsError(errno.ENOENT, f"no upload {upload_id}")
        if row.state is UploadState.INCOMPLETE:
            raise VfsError(errno.EIO, f"{row.name} is incomplete ({row.last_error}); not uploaded")
        if self.hold.holds(row.name) and not self._scheduler.busy(upload_id):
            return False
        seen = self._scheduler.runs(upload_id)
        if not self._scheduler.busy(upload_id):
            size = await self._spool.size(row.spool)
            if size == 0:
                return False  # an empty file stays local (its close says why)
            row = self._row(upload_id)
            now = self._clock()
            changes: dict[str, Any] = {}
            if row.state is UploadState.WRITING:
                changes = await self._after_writes(row, size, now)
            elif row.state is UploadState.FAILED:
                changes = {"attempts": 0, "last_error": None}
            if not self._scheduler.busy(upload_id):
                changes.update(state=UploadState.QUEUED, next_try=now, size=size)
                await self._set(upload_id, **changes)
        while True:
            if upload_id not in self._rows:
                return True  # done (a discard also ends here: nothing left to make durable)
            if self._scheduler.runs(upload_id) > seen:
                row = self._rows[upload_id]
                raise VfsError(errno.EIO, f"upload of {row.name} failed: {row.last_error}")
            await self._changed.wait()

    async def wait_idle(self, progress: Callable[[QueueStatus], None] | None = None) -> None:
        """Upload everything queued now (skipping the write-back delay) and wait until nothing
        is queued or uploading. Held, still-open and failed rows do not count: they stay in the
        db for the next mount. `progress` gets a status after every change."""
        now = self._clock()
        for row in list(self._rows.values()):
            if row.state is UploadState.QUEUED and row.attempts == 0 and row.next_try > now:
                await self._set(row.id, next_try=now)
        while True:
            status = self.status()
            if progress is not None:
                progress(status)
            if not status.pending:
                return
            await self._changed.wait()
            await trio.sleep(0.2)  # status() scans every row: at most a few times a second

    def progress(self, upload_id: int) -> Progress | None:
        """How far the running attempt of a row is (None when none runs)."""
        row = self._rows.get(upload_id)
        if row is None or not self._scheduler.busy(upload_id):
            return None
        meter = self._sent.get(upload_id)
        return Progress(0, row.size) if meter is None else meter.progress(row.size)

    def status(self) -> QueueStatus:
        return status_of(self._rows.values(), self.progress)

    # -- the background part -----------------------------------------------------------------
    async def _resume(self) -> None:
        """Load the db. Rows left `uploading` by a dead vipfs become due again; rows left
        `writing` were cut off mid-write and become incomplete. Spool files no row names go
        to lost+found, except those of rows the host confirmed."""
        confirmed = {row.spool.name for row in await self._db.uploads([UploadState.DONE])}
        await self._db.prune_done()
        await self._strays.resume()
        for row in await self._db.uploads():
            row = await self._rebased(row)
            self._keep(row)
            if row.state in _PENDING:
                self._schedule(row)
            if not await trio.Path(row.spool).exists():
                if row.state is not UploadState.FAILED:
                    await self._set(
                        row.id, state=UploadState.FAILED, last_error="spool file missing"
                    )
                    log.warning("upload of %s cannot resume: its spool file is gone", row.name)
                continue
            if row.state is UploadState.WRITING:
                await self.mark_incomplete(row.id, CUT_OFF, await self._spool.size(row.spool))
            elif row.state is UploadState.UPLOADING:
                await self._set(row.id, state=UploadState.QUEUED, next_try=self._clock())
        wanted = {row.spool for row in self._rows.values()}
        for path in await trio.to_thread.run_sync(self._spool.paths):
            if path in wanted:
                continue
            if path.name in confirmed:  # uploaded just before a crash: the host has it
                log.info("removing spool file %s: uploaded", path.name)
                await self._spool.delete(path)
                continue
            kept = await self._spool.rescue(path)
            log.warning(
                "spool file %s belongs to no queued upload (was the metadata db lost?): "
                "moved to %s, not uploaded; `vipfs status` lists it",
                path.name,
                kept,
            )
        if self._rows:
            log.info("upload queue: resuming %d file(s)", len(self._rows))

    async def _rebased(self, row: Upload) -> Upload:
        """A row's spool file is known by its name in the spool directory: the directory moves
        (older versions kept it in the cache directory)."""
        here = self._spool.root / row.spool.name
        if row.spool == here:
            return row
        await self._db.update_upload(row.id, spool=here)
        return replace(row, spool=here)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Resume what the db holds, then upload rows as they fall due, `transfers` at a time."""
        if self._started:
            raise RuntimeError("UploadQueue.run() is already running")
        self._started = True
        await self._resume()
        async with trio.open_nursery() as nursery:
            self._strays.start(nursery)
            task_status.started()
            await self._scheduler.serve(nursery)

    # -- what the scheduler calls ------------------------------------------------------------
    def _is_due(self, upload_id: int, due: float) -> bool:
        """Is a heap entry still what the row wants? (It moved on when its state or due
        time changed since; a discarded or finished row wants nothing.)"""
        row = self._rows.get(upload_id)
        return row is not None and row.state in _PENDING and row.next_try == due

    def _known(self) -> _Known:
        return _Known(self._metadata, self._rows)

    def _pairs(self, row: Upload) -> set[Pair]:
        """The (folder, title) pairs an attempt of `row` may look up or post."""
        if self._retitle:
            return set()  # a tokened title is unique by itself
        pairs = {pair} if (pair := _posted_pair(row)) is not None else set()
        with contextlib.suppress(ValueError):  # unsendable: the attempt fails the row
            pairs.add((row.fld_id, self._job.title_for(row)))
        return pairs

    def _admit(self, upload_id: int) -> bool:
        """May the due row start now? Not while another attempt, or a stray not yet settled,
        holds one of its pairs: two copies of one pair with unknown codes prove nothing."""
        row = self._rows.get(upload_id)
        if row is None:
            return True  # `_is_due` already said no; nothing to hold back
        busy = set(self._strays.pairs())
        for other, pairs in self._flying.items():
            if other != upload_id:
                busy |= pairs
        return not (self._pairs(row) & busy)

    def _claim(self, upload_id: int) -> None:
        """A slot is the row's: it is uploading from now on, for every caller."""
        row = replace(self._rows[upload_id], state=UploadState.UPLOADING)
        self._rows[upload_id] = row
        self._flying[upload_id] = self._pairs(row)

    def _ended(self, upload_id: int) -> None:
        self._sent.pop(upload_id, None)
        self._flying.pop(upload_id, None)
        row = self._rows.get(upload_id)
        if row is not None and row.state in _PENDING:  # its entry was dropped while busy
            self._schedule(row)
        self._notify()

    async def _attempt(self, upload_id: int) -> None:
        try:
            if not await self._stays_local(upload_id):
                await self._attempt_once(upload_id)
        except _Gone:
            pass
        except Exception as exc:  # a bug here must not end the mount: log it, retry later
            log.exception("internal error uploading queue row %d", upload_id)
            if upload_id in self._rows:
                await self._retry_later(upload_id, exc)

    async def _stays_local(self, upload_id: int) -> bool:
        """A due row whose spool is empty is not sent. Under a temp name it was held idle
        for `hold.idle` s: its writer is gone (rsync killed with -9) and nothing will rename
        it, so it goes (no bytes are lost), unless a handle is still open on it. Otherwise
        (truncated while queued, or queued by an older vipfs) it becomes `empty`."""
        try:
            size = await self._spool.size(self._live(upload_id).spool)
        except OSError:
            return False  # the attempt meets it again, and fails the row with it
        row = self._live(upload_id)
        if size > 0:
            return False
        if not self.hold.holds(row.name):
            await self._set(upload_id, state=UploadState.EMPTY, size=0, last_error=EMPTY_FILE)
        elif self._spool.handles(row.spool):
            await self._set(
                upload_id, state=UploadState.HELD, next_try=self._clock() + self.hold.idle
            )
        else:
            await self._drop_idle(row)
        return True

    async def _drop_idle(self, row: Upload) -> None:
        self._forget(row.id)
        self._notify()
        if row.code is not None or row.attempts > 0:
            await self._strays.abandon(stray_of(row, self._clock(), tokened=self._retitle))
        await self._db.delete_upload(row.id)
        await self._spool.delete(row.spool)
        log.info("dropped %s: an empty temp file left idle %.0f s", row.name, self.hold.idle)
        if self._on_dropped is not None:
            try:
                self._on_dropped(row)
            except Exception:
                log.exception("drop callback failed for %s", row.name)

    async def _attempt_once(self, upload_id: int) -> None:
        row = self._live(upload_id)
        looked_before = row.attempts > 0 and row.code is None
        row = await self._set(upload_id, state=UploadState.UPLOADING, attempts=row.attempts + 1)

        def sent(count: int) -> None:
            self._sent.setdefault(upload_id, RateMeter()).record(count)

        repeat: str | None = None
        cloned: tuple[str, Sent] | None = None
        try:
            size = await self._spool.size(row.spool)
            sha256 = await self._spool.sha256(row.spool)
            code = row.code
            held = self._held(row)
            if code is None and row.attempts == 1 and _posted_pair(row) is None:
                code = repeat = self._repeat(replace(row, size=size), row.replaces, sha256)
                if code is not None:  # O_TRUNC and the same bytes again: nothing to send
                    held = self._as_held(code, row)
            if code is None:
                code = await self._find(upload_id, looked_before)
            if code is None:
                cloned = await self._clone(upload_id, size, sha256)
                code, held = cloned or await self._post(upload_id, sent)
            row = await self._set(upload_id, code=code, size=size)
            row = await self._job.retitle(code, lambda: self._live(upload_id), held)
        except (TransientError, ProtocolError) as exc:
            await self._retry_later(upload_id, exc)
            return
        except (ApiError, AmbiguousTokenError, AmbiguousCopyError, _Unsendable) as exc:
            await self._fail(upload_id, exc)
            return
        except OSError as exc:
            await self._fail(upload_id, exc)
            return
        meta = FileMeta(
            code=code,
            name=row.name,
            fld_id=row.fld_id,
            size=size,
            mtime_ns=row.mtime_ns,
            mode=row.mode,
            sha256=sha256,
            tags=row.tags or "",
            descr=row.descr,
        )
        await self._metadata.record_upload(upload_id, meta)
        if self._forget(upload_id) is None:
            # discarded while the db recorded it: the stray cleaner removes the host copy,
            # and the file record goes again (even though the discard cancelled this attempt)
            with trio.CancelScope(shield=True):
                await self._metadata.drop(code)
            return
        if repeat:
            log.info("%s: not uploading again: same content as %s", row.name, code)
        elif cloned:
            log.info(
                "%s: cloned as %s, not uploaded (same bytes as a file on the host)", row.name, code
            )
        else:
            log.info("uploaded %s as %s", row.name, code)
        self._done(replace(row, state=UploadState.DONE), source="clone" if cloned else "upload")
        await self._spool.delete(row.spool)

    def _held(self, row: Upload) -> Sent | None:
        """What the host holds for a row's copy, as far as the row says (None: unknown, so
        the attempt edits it: the tokened design, or a copy of no recorded POST)."""
        if self._retitle or row.posted_title is None or row.posted_fld is None:
            return None
        return Sent(row.posted_title, row.posted_fld)

    async def _find(self, upload_id: int, looked_before: bool) -> str | None:
        """The copy an earlier POST of the row stored, when one is proven; None → post.
        A look-up that proves none ends that POST's claim on its (folder, title)."""
        row = self._live(upload_id)
        if self._retitle:
            return await self._job.find_token(row) if looked_before else None
        if _posted_pair(row) is None:
            return None
        code = await self._job.find_copy(row, self._known(), self._clock())
        if code is None:
            await self._set(upload_id, **_NO_POST)
        return code

    async def _posting(self, upload_id: int) -> tuple[Upload, str]:
        """Record in the row what a POST or clone is about to send (folder, title, from when),
        so that a lost answer or a crash can be resolved; the row and its title."""
        row = self._live(upload_id)
        try:
            title = self._job.title_for(row)
        except ValueError as exc:
            raise _Unsendable(f"no host title can carry this name: {exc}") from None
        row = await self._set(
            upload_id,
            posted_title=title,
            posted_fld=row.fld_id,
            posted_at=self._clock(),
            posted_end=None,
        )
        self._flying.setdefault(upload_id, set()).add((row.fld_id, title))
        return row, title

    async def _clone(self, upload_id: int, size: int, sha256: str) -> tuple[str, Sent] | None:
        """A copy without bytes (`dedupe`) of a file vipfs recorded with these bytes; None:
        none to clone, or the host refused (nothing stored), so the POST follows."""
        source = self.dedupe.source(size, sha256) if self.dedupe is not None else None
        if self.dedupe is None or source is None:
            return None
        row, title = await self._posting(upload_id)
        try:
            code = await self.dedupe.clone(source, title, row.fld_id, self._known())
        except NotSentError:
            await self._set(upload_id, **_NO_POST)
            raise
        except ApiError:
            await self._set(upload_id, posted_end=self._clock())
            raise
        if code is None:
            await self._set(upload_id, **_NO_POST)
            return None
        return code, self.dedupe.held(title, row.fld_id)

    async def _post(self, upload_id: int, sent: Callable[[int], None]) -> tuple[str, Sent]:
        """The POST, recorded in the row first (`_posting`); what the host then holds."""
        row, title = await self._posting(upload_id)
        try:
            code = await self._job.post(row, title, sent)
        except (NotSentError, UploadRejectedError):
            await self._set(upload_id, **_NO_POST)  # the node stored nothing
            raise
        except ApiError:
            await self._set(upload_id, posted_end=self._clock())
            raise
        return code, sent_by(row, title)

    async def _retry_later(self, upload_id: int, exc: Exception) -> None:
        row = self._live(upload_id)
        delay = self._backoff.delay(max(0, row.attempts - 1))
        if isinstance(exc, RateLimitedError):
            delay = max(delay, exc.retry_after + self._rng.uniform(0, 1))
        log.info("upload of %s failed (%s); retry %d in %.0f s", row.name, exc, row.attempts, delay)
        await self._set(
            upload_id, state=UploadState.QUEUED, next_try=self._clock() + delay, last_error=str(exc)
        )

    async def _fail(self, upload_id: int, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, UploadRejectedError) else str(exc)
        row = await self._set(upload_id, state=UploadState.FAILED, last_error=str(reason))
        self._emit("failed", row, detail=str(reason))
        log.warning(
            "upload of %s refused: %s (data kept; `vipfs status` lists it)", row.name, reason
        )

    def _queued(self, row: Upload) -> None:
        """`queued`, once per version: a row closed after writes (or out of the hold list),
        not again for a retry or a second close of the same bytes (the same token)."""
        if self._announced.get(row.id) != row.token:
            self._announced[row.id] = row.token
            self._emit("queued", row)

    def _emit(
        self, kind: str, row: Upload, *, source: str = "upload", detail: str | None = None
    ) -> None:
        if self.events is not None:
            self.events.emit(
                kind, fld_id=row.fld_id, name=row.name, code=row.code, source=source, detail=detail
            )

    def _done(self, row: Upload, source: str = "upload") -> None:
        """`uploaded` (`source`: "upload", or "clone" for a copy without bytes), then tell
        the filesystem model; its bug must not stop the queue or undo the upload. The watch
        link comes from the folder's cached listing (`Events.link_of`): null for a new file,
        which only the folder's next listing shows."""
        self._emit("uploaded", row, source=source)
        if self._on_done is None:
            return
        try:
            self._on_done(row)
        except Exception:
            log.exception("upload callback failed for %s", row.name)


_CLOSING = frozenset({UploadState.WRITING, UploadState.HELD})  # a close queues a new version


def _posted_pair(row: Upload) -> Pair | None:
    """(folder, title) of the row's last POST while its copy's code is unknown."""
    if row.code is not None or row.posted_title is None or row.posted_fld is None:
        return None
    return row.posted_fld, row.posted_title
