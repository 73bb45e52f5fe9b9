"""The persistent upload queue: spooled files go to the host in the background, exactly once.

Life of a queue row (`metadb.UploadState`):

    enqueue ─▶ writing ──touch (a close)──▶ queued ─(write_back s later)─▶ uploading ─▶ done
                  ▲  ◀──reopen for write──    │ ▲                             │ │
                  │                           ▼ │ rename to a normal name     │ └─▶ failed
                  └───────── reopen ───────  held (temp name: hold list)       └─▶ queued (retry)

* The upload is due `write_back` seconds after the LAST close, so rsync's close → utime → chmod
  → rename all land on the queued record, and the temp name never reaches the server.
* An upload is `upload/server`, the multipart POST, then one `file/edit` that sets the exact
  title (the node mangles titles: extension stripped, `_`/`.` to spaces) and the folder the file
  was moved to meanwhile. The title sent with the POST carries a unique token
  (`<title> vipfs-<12 hex>`) until that edit; a retry after a lost answer, or after a crash
  mid-upload, first looks the token up with `file/list` and adopts what it finds. Never twice.
* A search result is evidence, not proof: some hosts ignore `file/list` filters and answer
  the whole account. vipfs acts (adopts, retitles, deletes) only on a file whose title ends in
  the exact token, and only when exactly one file does (`proven_copy`). Several → the row
  fails and every one of them is left alone; none → upload again.
* Transient errors retry forever with jittered exponential backoff (1 s → 5 min; a rate limit
  waits its `retry_after`). A refusal (bad format, too big, bad key) marks the row `failed`,
  keeps the spool data, and logs one WARNING with the server's reason.
* Everything is in the metadata db before the network is touched, so a restart resumes.
* A row whose write failed (ENOSPC), or that was still open for writing when vipfs died, is
  `incomplete`: its spool may hold only a prefix, so it never uploads as it is. Its data is kept;
  rewriting it from offset 0 (O_TRUNC, truncate to 0) makes it a normal file again.
* Spool files no row names (a lost or unreadable db) go to lost+found, never away; only the
  spool of a row the host confirmed (`done`) is deleted.

The in-memory rows are the authority while the queue runs (changed synchronously, then
persisted in call order), so the scheduler never acts on a state a caller has already changed.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import logging
import math
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict, Unpack

import trio

from vipfs.api.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    TransientError,
    UploadRejectedError,
)
from vipfs.api.protocol import XvsApi
from vipfs.api.records import FileEntry
from vipfs.vfs import defaults
from vipfs.vfs.errors import VfsError
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.metadb import FileMeta, MetaDb, Stray, Upload, UploadState
from vipfs.vfs.names import file_title, new_token, title_token, tokened_title
from vipfs.vfs.spool import Spool

log = logging.getLogger(__name__)


class _Gone(Exception):
    """The row was discarded while an attempt was using it; the attempt just ends."""


BACKOFF_FIRST = 1.0
BACKOFF_CAP = 300.0
CUT_OFF = "the mount ended while it was open for writing"

_PENDING = (UploadState.QUEUED, UploadState.HELD)
_BUSY = (UploadState.QUEUED, UploadState.UPLOADING)


class AmbiguousTokenError(Exception):
    """Several host files carry one upload token: none of them is provably ours."""

    def __init__(self, token: str, codes: list[str]) -> None:
        super().__init__(
            f"several host files carry upload token {token} ({', '.join(codes)}): "
            "none adopted, retitled or deleted"
        )
        self.token = token
        self.codes = codes


def proven_copy(found: list[FileEntry], token: str) -> str | None:
    """The code of the one host file that carries `token`, from a `file/list` answer that may
    hold anything (a host that ignores the filter lists the whole account). None when no file
    carries it; `AmbiguousTokenError` when several do."""
    codes = sorted({e.code for e in found if title_token(e.title) == token})
    if len(codes) > 1:
        raise AmbiguousTokenError(token, codes)
    return codes[0] if codes else None


def backoff_delay(attempts: int, rng: random.Random) -> float:
    """Exponential from 1 s, capped at 5 min, with jitter in [50%, 100%] of the step."""
    step = min(BACKOFF_CAP, BACKOFF_FIRST * 2.0 ** max(0, attempts - 1))
    return step * rng.uniform(0.5, 1.0)


class FileEdit(TypedDict, total=False):
    """What one `file/edit` may change; every caller names its changes with these keys."""

    title: str | None
    descr: str | None
    fld_id: int | None
    tags: str | None
    public: bool | None
    adult: bool | None
    cat_id: int | None


async def edit_keep_tags(api: XvsApi, db: MetaDb, code: str, **edit: Unpack[FileEdit]) -> None:
    """`file/edit` that always resends the file's tags: the host wipes them on any edit without
    `tags`. Known tags come from the db; unknown ones are fetched once with `file/info`. Every
    `file/edit` vipfs sends goes through here. The db row (if any) follows the change."""
    tags = edit.get("tags")
    if tags is None:
        known = await db.get_file(code)
        tags = known.tags if known is not None else None
    if tags is None:
        (info,) = await api.file_info([code])
        tags = (info.tags or "") if info.status == 200 else ""
        await db.update_file(code, tags=tags)
    edit["tags"] = tags
    await api.file_edit(code, **edit)
    changes: dict[str, object] = {"tags": tags}
    for key in ("descr", "fld_id"):
        if edit.get(key) is not None:
            changes[key] = edit[key]
    await db.update_file(code, **changes)


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One queue row as `vipfs status` and `/.vipfs/status.json` show it."""

    id: int
    name: str
    fld_id: int
    size: int
    state: str
    attempts: int
    last_error: str | None
    next_try: float
    code: str | None
    sent: int = 0  # bytes of the running attempt handed to the network so far


@dataclass(frozen=True, slots=True)
class QueueStatus:
    writing: list[QueueItem]
    held: list[QueueItem]
    queued: list[QueueItem]
    uploading: list[QueueItem]
    retrying: list[QueueItem]  # queued after a failed attempt (also listed in `queued`)
    failed: list[QueueItem]
    incomplete: list[QueueItem] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Rows an unmount waits for."""
        return len(self.queued) + len(self.uploading)

    def to_json(self) -> dict[str, Any]:
        def items(rows: list[QueueItem]) -> list[dict[str, Any]]:
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "fld_id": r.fld_id,
                    "size": r.size,
                    "state": r.state,
                    "attempts": r.attempts,
                    "error": r.last_error,
                    "next_try": r.next_try,
                    "code": r.code,
                    "sent": r.sent,
                }
                for r in rows
            ]

        return {
            "writing": items(self.writing),
            "held": items(self.held),
            "queued": items(self.queued),
            "uploading": items(self.uploading),
            "retrying": items(self.retrying),
            "failed": items(self.failed),
            "incomplete": items(self.incomplete),
        }


class UploadQueue:
    """Background uploader over `MetaDb.uploads`; start `run()` in the mount's nursery."""

    def __init__(
        self,
        api: XvsApi,
        db: MetaDb,
        spool: Spool,
        *,
        write_back: float = defaults.WRITE_BACK,
        transfers: int = defaults.TRANSFERS,
        hold: HoldList | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_done: Callable[[Upload], None] | None = None,
        on_failed: Callable[[Upload], None] | None = None,
    ) -> None:
        if transfers < 1:
            raise ValueError("transfers must be at least 1")
        self._api = api
        self._db = db
        self._spool = spool
        self.write_back = write_back
        self.transfers = transfers
        self.hold = hold if hold is not None else HoldList()
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_done = on_done
        self._on_failed = on_failed
        self._rows: dict[int, Upload] = {}  # every row not yet done
        self._inflight: dict[int, trio.CancelScope] = {}
        self._finished: dict[int, int] = {}  # id -> attempts ended in this process
        self._sent: dict[int, int] = {}  # id -> bytes sent by the running attempt
        self._due: list[tuple[float, int]] = []  # heap of (next_try, id); stale entries skipped
        self._wake = trio.Event()
        self._changed = trio.Event()
        self._started = False
        self._nursery: trio.Nursery | None = None
        self._strays: list[Stray] = []

    # -- plumbing ----------------------------------------------------------------------------
    def _notify(self) -> None:
        """Wake the scheduler and every waiter; they re-check what they wait for."""
        self._wake.set()
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

    async def _set(self, upload_id: int, **changes: Any) -> Upload:
        """Change a row in memory at once, then persist it (writes keep call order)."""
        row = replace(self._live(upload_id), **changes)
        self._rows[upload_id] = row
        if row.state in _PENDING and ("state" in changes or "next_try" in changes):
            heapq.heappush(self._due, (row.next_try, upload_id))
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

    def _closed_state(self, name: str, now: float) -> tuple[UploadState, float]:
        if self.hold.holds(name):
            return UploadState.HELD, now + self.hold.idle
        return UploadState.QUEUED, now + self.write_back

    # -- what the filesystem calls -----------------------------------------------------------
    def get(self, upload_id: int) -> Upload | None:
        """The pending row (None once done or forgotten)."""
        return self._rows.get(upload_id)

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
        self._rows[row.id] = row
        self._notify()
        return row

    async def reopen(self, upload_id: int, *, trunc: bool = False) -> bool:
        """An open for write: stops the upload timer. False when an attempt is already running
        (the caller then treats the file as uploaded: wait with `upload_now`, then replace).
        An incomplete row stays incomplete unless the new writer starts over (`trunc`)."""
        row = self._row(upload_id)
        if upload_id in self._inflight:
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

    async def _after_writes(self, row: Upload, now: float) -> dict[str, Any]:
        """Changes that close a `writing` row. New bytes make any copy an earlier attempt may
        have stored stale, and its token too: that copy is removed, the row gets a new token.
        (The row is `writing`, so the scheduler leaves it alone across the await.)"""
        state, due = self._closed_state(row.name, now)
        changes: dict[str, Any] = {"state": state, "next_try": due, "attempts": 0}
        changes["last_error"] = None
        if row.attempts > 0 or row.code is not None:
            await self._abandon(row)
            changes.update(token=new_token(), code=None)
        return changes

    async def touch(self, upload_id: int) -> Upload:
        """The last writer closed: the upload is due `write_back` s from now (or held).
        A close of a row that is retrying, failed or uploading changes nothing."""
        size = await self._spool.size(self._row(upload_id).spool)
        row = self._row(upload_id)
        if upload_id in self._inflight:
            return row
        if row.state is UploadState.WRITING:
            changes = await self._after_writes(row, self._clock())
            return await self._set(upload_id, size=size, **changes)
        if row.state is UploadState.INCOMPLETE:
            return await self._set(upload_id, size=size) if size != row.size else row
        if row.state in _PENDING and row.attempts == 0:
            state, due = self._closed_state(row.name, self._clock())
            return await self._set(upload_id, state=state, next_try=due)
        return row

    async def rename(self, upload_id: int, new_name: str, new_fld_id: int) -> Upload:
        """A rename or move before the upload finished: only the record changes. Leaving the
        hold list makes the upload due `write_back` s from now."""
        row = self._row(upload_id)
        changes: dict[str, Any] = {"name": new_name, "fld_id": new_fld_id}
        if row.state in _PENDING and upload_id not in self._inflight:
            held = self.hold.holds(new_name)
            if held != (row.state is UploadState.HELD):
                changes["state"], changes["next_try"] = self._closed_state(new_name, self._clock())
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

    async def discard(self, upload_id: int) -> None:
        """The file was deleted before its upload finished: drop the row and the spool file.
        A running attempt is cancelled; whatever an attempt may have stored anyway is found
        by its token and deleted from the host in the background."""
        row = self._row(upload_id)
        scope = self._inflight.get(upload_id)
        if scope is not None:
            scope.cancel()
        del self._rows[upload_id]
        self._notify()
        if scope is not None or row.code is not None or row.attempts > 0:
            await self._abandon(row)
        await self._db.delete_upload(upload_id)
        await self._spool.delete(row.spool)

    async def _abandon(self, row: Upload) -> None:
        """An attempt may have stored bytes nobody wants now: note that (persistently, so a
        restart still cleans up), and remove them in the background."""
        stray = Stray(row.token, row.code, row.name)
        await self._db.add_stray(stray)
        if self._nursery is not None:
            self._nursery.start_soon(self._clean_stray, stray)
        else:
            self._strays.append(stray)  # resuming: the nursery opens right after

    async def _clean_stray(self, stray: Stray) -> None:
        """Delete the copy an abandoned attempt stored: the code the attempt recorded, else the
        one file whose title carries its token. Never more than that one file; transient errors
        retry forever."""
        attempts = 0
        while True:
            try:
                code = stray.code
                if code is None:
                    found = await self._api.file_list_all(title=stray.token)
                    code = proven_copy(found, stray.token)
                if code is not None:
                    with contextlib.suppress(NotFoundError):
                        await self._api.file_delete(code)
                    log.info("deleted %s: an abandoned upload of %s", code, stray.name)
                break
            except (TransientError, ProtocolError) as exc:
                attempts += 1
                delay = backoff_delay(attempts, self._rng)
                if isinstance(exc, RateLimitedError):
                    delay = max(delay, exc.retry_after)
                await trio.sleep(delay)
            except (ApiError, AmbiguousTokenError) as exc:
                log.warning(
                    "an abandoned upload of %s stays on the host (its title contains %s): %s",
                    stray.name,
                    stray.token,
                    exc,
                )
                break
        await self._db.delete_stray(stray.token)

    async def upload_now(self, upload_id: int) -> None:
        """Upload at once and wait (fsync, --sync-uploads). Raises VfsError(EIO) when the
        attempt fails; a transient failure still retries in the background."""
        row = self._rows.get(upload_id)
        if row is None:
            stored = await self._db.get_upload(upload_id)
            if stored is not None and stored.state is UploadState.DONE:
                return
            raise VfsError(errno.ENOENT, f"no upload {upload_id}")
        if row.state is UploadState.INCOMPLETE:
            raise VfsError(errno.EIO, f"{row.name} is incomplete ({row.last_error}); not uploaded")
        seen = self._finished.get(upload_id, 0)
        if upload_id not in self._inflight:
            size = await self._spool.size(row.spool)
            row = self._row(upload_id)
            now = self._clock()
            changes: dict[str, Any] = {}
            if row.state is UploadState.WRITING:
                changes = await self._after_writes(row, now)
            elif row.state is UploadState.FAILED:
                changes = {"attempts": 0, "last_error": None}
            if upload_id not in self._inflight:
                changes.update(state=UploadState.QUEUED, next_try=now, size=size)
                await self._set(upload_id, **changes)
        while True:
            if upload_id not in self._rows:
                return  # done (a discard also ends here: nothing left to make durable)
            if self._finished.get(upload_id, 0) > seen:
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

    def status(self) -> QueueStatus:
        def item(r: Upload) -> QueueItem:
            return QueueItem(
                r.id,
                r.name,
                r.fld_id,
                r.size,
                str(r.state),
                r.attempts,
                r.last_error,
                r.next_try,
                r.code,
                self._sent.get(r.id, 0) if r.id in self._inflight else 0,
            )

        rows = sorted(self._rows.values(), key=lambda r: r.id)
        by = {s: [item(r) for r in rows if r.state is s] for s in UploadState}
        return QueueStatus(
            writing=by[UploadState.WRITING],
            held=by[UploadState.HELD],
            queued=by[UploadState.QUEUED],
            uploading=by[UploadState.UPLOADING],
            retrying=[i for i in by[UploadState.QUEUED] if i.attempts > 0],
            failed=by[UploadState.FAILED],
            incomplete=by[UploadState.INCOMPLETE],
        )

    async def retry_failed(self) -> int:
        """Queue every failed row again, due now; returns how many."""
        failed = [r for r in self._rows.values() if r.state is UploadState.FAILED]
        for row in failed:
            await self._set(
                row.id,
                state=UploadState.QUEUED,
                next_try=self._clock(),
                attempts=0,
                last_error=None,
            )
        return len(failed)

    async def forget_failed(self, upload_id: int) -> Upload:
        """Drop a failed row and its spool data (the user gave up on it)."""
        row = self._row(upload_id)
        if row.state is not UploadState.FAILED:
            raise ValueError(f"upload {upload_id} is {row.state}, not failed")
        del self._rows[upload_id]
        self._notify()
        await self._db.delete_upload(upload_id)
        await self._spool.delete(row.spool)
        return row

    # -- the background part -----------------------------------------------------------------
    async def _resume(self) -> None:
        """Load the db. Rows left `uploading` by a dead vipfs become due again; rows left
        `writing` were cut off mid-write and become incomplete. Spool files no row names go
        to lost+found, except those of rows the host confirmed."""
        confirmed = {row.spool.name for row in await self._db.uploads([UploadState.DONE])}
        await self._db.prune_done()
        self._strays.extend(await self._db.strays())
        for row in await self._db.uploads():
            row = await self._rebased(row)
            self._rows[row.id] = row
            if row.state in _PENDING:
                heapq.heappush(self._due, (row.next_try, row.id))
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
            self._nursery = nursery
            for stray in self._strays:
                nursery.start_soon(self._clean_stray, stray)
            self._strays.clear()
            task_status.started()
            while True:
                self._wake = trio.Event()
                with trio.move_on_after(self._start_due(nursery)):
                    await self._wake.wait()

    def _start_due(self, nursery: trio.Nursery) -> float:
        """Start the due rows that free slots allow; returns how long until the next is due
        (inf when none, or when every slot is busy: a finishing attempt wakes the loop)."""
        now = self._clock()
        while self._due:
            due, upload_id = self._due[0]
            row = self._rows.get(upload_id)
            if (
                row is None
                or row.state not in _PENDING
                or row.next_try != due
                or upload_id in self._inflight
            ):
                heapq.heappop(self._due)  # stale: the row moved on since this entry
                continue
            if due > now:
                return due - now
            if len(self._inflight) >= self.transfers:
                return math.inf
            heapq.heappop(self._due)
            scope = trio.CancelScope()
            self._inflight[upload_id] = scope
            self._rows[upload_id] = replace(row, state=UploadState.UPLOADING)
            nursery.start_soon(self._attempt, upload_id, scope)
        return math.inf

    async def _attempt(self, upload_id: int, scope: trio.CancelScope) -> None:
        try:
            with scope:
                await self._attempt_once(upload_id)
        except _Gone:
            pass
        except Exception as exc:  # a bug here must not end the mount: log it, retry later
            log.exception("internal error uploading queue row %d", upload_id)
            if upload_id in self._rows:
                await self._retry_later(upload_id, exc)
        finally:
            self._inflight.pop(upload_id, None)
            self._sent.pop(upload_id, None)
            row = self._rows.get(upload_id)
            if row is not None and row.state in _PENDING:  # its entry was dropped while busy
                heapq.heappush(self._due, (row.next_try, upload_id))
            self._finished[upload_id] = self._finished.get(upload_id, 0) + 1
            self._notify()

    async def _attempt_once(self, upload_id: int) -> None:
        row = self._live(upload_id)
        looked_before = row.attempts > 0 and row.code is None
        row = await self._set(upload_id, state=UploadState.UPLOADING, attempts=row.attempts + 1)
        try:
            size = await self._spool.size(row.spool)
            sha256 = await self._spool.sha256(row.spool)
            code = row.code
            if code is None and looked_before:
                code = await self._find_token(row)
            if code is None:
                code = await self._post(row)
            row = await self._set(upload_id, code=code, size=size)
            row = await self._retitle(upload_id, code)
        except (TransientError, ProtocolError) as exc:
            await self._retry_later(upload_id, exc)
            return
        except (ApiError, AmbiguousTokenError) as exc:
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
        await self._db.finish_upload(upload_id, meta)
        done = replace(row, state=UploadState.DONE)
        self._rows.pop(upload_id, None)
        log.info("uploaded %s as %s", row.name, code)
        self._callback(self._on_done, done)
        await self._spool.delete(row.spool)

    async def _find_token(self, row: Upload) -> str | None:
        """After a lost answer or a crash: did the node store the file anyway? Only the one
        file carrying the row's exact token counts (`proven_copy`)."""
        found = await self._api.file_list_all(title=row.token)
        code = proven_copy(found, row.token)
        if code is not None:
            log.info(
                "%s was stored by an earlier attempt as %s; not uploading again", row.name, code
            )
        return code

    async def _post(self, row: Upload) -> str:
        server = await self._api.upload_server()

        def sent(count: int) -> None:
            self._sent[row.id] = count

        result = await self._api.upload_file(
            server,
            row.spool,
            progress=sent,
            filename=row.name,
            title=tokened_title(row.name, row.token),
            descr=row.descr,
            fld_id=row.fld_id,
            tags=row.tags,
        )
        if not result.ok or result.code is None:
            raise UploadRejectedError(result.status or "upload refused", filename=row.name)
        return result.code

    async def _retitle(self, upload_id: int, code: str) -> Upload:
        """Set the exact title and the current folder; again if a rename raced the edit.
        A refused edit does not fail the upload (the bytes are safe on the host and the db
        keeps the right name): it is logged, and the title keeps its token."""
        while True:
            row = self._live(upload_id)
            try:
                await edit_keep_tags(
                    self._api,
                    self._db,
                    code,
                    title=file_title(row.name),
                    fld_id=row.fld_id,
                    tags=row.tags or "",
                )
            except (TransientError, ProtocolError, AuthError):
                raise
            except ApiError as exc:
                log.warning(
                    "uploaded %s as %s, but the host refused its title: %s", row.name, code, exc
                )
                return self._live(upload_id)
            now = self._live(upload_id)
            if (now.name, now.fld_id) == (row.name, row.fld_id):
                return now

    async def _retry_later(self, upload_id: int, exc: Exception) -> None:
        row = self._live(upload_id)
        delay = backoff_delay(row.attempts, self._rng)
        if isinstance(exc, RateLimitedError):
            delay = max(delay, exc.retry_after + self._rng.uniform(0, 1))
        log.info("upload of %s failed (%s); retry %d in %.0f s", row.name, exc, row.attempts, delay)
        await self._set(
            upload_id, state=UploadState.QUEUED, next_try=self._clock() + delay, last_error=str(exc)
        )

    async def _fail(self, upload_id: int, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, UploadRejectedError) else str(exc)
        row = await self._set(upload_id, state=UploadState.FAILED, last_error=str(reason))
        log.warning(
            "upload of %s refused: %s (data kept; `vipfs status` lists it)", row.name, reason
        )
        self._callback(self._on_failed, row)

    @staticmethod
    def _callback(fn: Callable[[Upload], None] | None, row: Upload) -> None:
        """Tell the filesystem model; its bug must not stop the queue or undo the upload."""
        if fn is None:
            return
        try:
            fn(row)
        except Exception:
            log.exception("upload callback failed for %s", row.name)
