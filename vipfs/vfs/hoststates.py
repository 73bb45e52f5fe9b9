"""What the host says about its files after the upload: encoding, ready, DMCA, deleted.

Owns: `HostStates`, the two background polls of one host and what they learned: the
encodings of vipfs's own recent uploads (`file/encodings`, then `file/info` for `canplay`)
and the takedowns of the account (`file/dmca`, `file/deleted`); `Seen`, that knowledge for one
code; and the `ready`, `dmca` and `deleted` events (source "host").
Imports: trio, `vipfs.api` errors, lanes, records, wire (`to_code`), and `vipfs.vfs` defaults,
events.

Cheap on a host allowing 5 calls a minute: the encodings poll runs only while some upload of
vipfs's is not ready yet (one `file/encodings` for the whole account, then one `file/info` per
50 codes that left it), and the takedown poll asks for the hours since its last answer (plus
one), so answers stay small. Nothing here is kept on disk: after a remount the states come back
as far as the host reports them again (uploads vipfs recorded that `file/encodings` still
lists; takedowns of the last `FIRST_LAST_HOURS`). Every reply is hostile: codes outside the
reference's pattern are dropped, counts are capped, and a failed poll is logged and retried at
the next interval, never fatal.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import trio

from vipfs.api.errors import ApiError
from vipfs.api.lanes import Lane, lane
from vipfs.api.records import DeletedFile, DmcaFile, Encoding, FileInfo
from vipfs.api.wire import to_code
from vipfs.vfs.defaults import ENCODING_POLL, TAKEDOWN_POLL
from vipfs.vfs.events import Events

log = logging.getLogger(__name__)

FIRST_LAST_HOURS = 24  # `last` of the first takedown poll of a mount
MAX_LAST_HOURS = 720  # the host's own default: never ask for more
MAX_ENTRIES = 10_000  # entries of one answer looked at; the rest are ignored
MAX_KEPT = 10_000  # codes kept per state (ready, dmca, deleted); the oldest go first
DMCA_KEEP = 24 * 3600.0  # seconds a DMCA entry is kept past its deadline (then forgotten)
SETTLE = 1.0  # seconds the first poll after an upload waits for more uploads to join it
WATCH_FOR = 24 * 3600.0  # seconds an upload is watched at most (a host that never encodes it)
OWNER = "me"  # `deleted_by` of a deletion the account made itself (through vipfs or not)
TAKERS = frozenset({"admin", "expired"})  # the others the reference names; any other: "host"


class HostApi(Protocol):
    """The calls the polls make (the client, or a test's fake)."""

    async def file_encodings(self, code: str | None = None) -> list[Encoding]: ...
    async def file_info(self, codes: Sequence[str]) -> list[FileInfo]: ...
    async def file_dmca(self, last_hours: int = 720) -> list[DmcaFile]: ...
    async def file_deleted(self, last_hours: int = 720) -> list[DeletedFile]: ...


@dataclass(frozen=True, slots=True)
class Where:
    """Where the mount shows a file: its folder, its name there, its watch link if known."""

    fld_id: int
    name: str
    link: str | None = None


Locate = Callable[[str], Where | None]  # code → where the mount shows it (None: not known)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the polls know of one code, for `user.vipfs.status` (xattrs.file_status words it)."""

    watched: bool = False  # vipfs uploaded it and waits for it to be ready
    answered: bool = False  # an encodings poll has answered since the upload
    progress: int | None = None  # file/encodings' percentage, while it lists the code
    ready: bool = False  # the host said canplay after encoding
    dmca_left: float | None = None  # seconds until the host deletes it (on file/dmca)
    dmca: bool = False
    deleted_by: str | None = None  # on file/deleted, by someone other than the account


NOTHING = Seen()


@dataclass(slots=True)
class _Watch:
    since: float
    answered: bool = False
    progress: int | None = None


K = TypeVar("K")
V = TypeVar("V")


def _keep(kept: dict[K, V], key: K, value: V) -> None:
    """Set `key`, as the newest entry; the oldest go past MAX_KEPT."""
    kept.pop(key, None)
    kept[key] = value
    while len(kept) > MAX_KEPT:
        del kept[next(iter(kept))]


def dmca_hours(seconds: float) -> int:
    """Hours left before a DMCA deletion, rounded up (contract: `dmca: deleted in 11h`)."""
    return max(0, math.ceil(seconds / 3600))


class HostStates:
    """`clock` measures intervals and DMCA deadlines; the waits run on trio's (tests give both
    as trio's mock clock). An interval of 0 turns that poll off."""

    def __init__(
        self,
        api: HostApi,
        events: Events,
        *,
        encoding_poll: float = ENCODING_POLL,
        takedown_poll: float = TAKEDOWN_POLL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._events = events
        self.encoding_poll = encoding_poll
        self.takedown_poll = takedown_poll
        self._clock = clock
        self.locate: Locate = lambda code: None  # set by the model (inode table, metadata)
        self._watch: dict[str, _Watch] = {}  # vipfs's uploads not seen ready yet
        self._ready: dict[str, None] = {}
        self._dmca: dict[str, float | None] = {}  # code → deadline on `clock` (None: unknown)
        self._deleted: dict[str, str] = {}  # code → deleted_by
        self._wake = trio.Event()
        self._last_takedowns: float | None = None  # `clock` time of the last answered poll
        self._failing: dict[str, str] = {}  # poll → the failure last logged

    # -- what the rest of the model asks and tells ----------------------------------------------
    def uploaded(self, code: str) -> None:
        """vipfs just put `code` on the host: watch it until the host says it can play."""
        if self.encoding_poll > 0 and code not in self._ready:
            self._watch[code] = _Watch(self._clock())
            self._wake.set()

    def seen(self, code: str) -> Seen:
        watch = self._watch.get(code)
        deadline = self._dmca.get(code)
        return Seen(
            watched=watch is not None,
            answered=watch is not None and watch.answered,
            progress=None if watch is None else watch.progress,
            ready=code in self._ready,
            dmca=code in self._dmca,
            dmca_left=None if deadline is None else deadline - self._clock(),
            deleted_by=self._deleted.get(code),
        )

    def to_json(self) -> dict[str, object]:
        """status.json's `host`: uploads still encoding (progress null until file/encodings
        lists it), files on file/dmca (hours left) and files the host deleted (by whom)."""
        now = self._clock()
        return {
            "encoding": [{"code": code, "progress": w.progress} for code, w in self._watch.items()],
            "dmca": [
                {"code": code, "hours_left": None if end is None else dmca_hours(end - now)}
                for code, end in self._dmca.items()
            ],
            "deleted": [{"code": code, "by": by} for code, by in self._deleted.items()],
        }

    # -- the polls -------------------------------------------------------------------------------
    async def run(self, recorded: Iterable[str] = ()) -> None:
        """Background task: both polls, in the BACKGROUND lane. `recorded`: codes the metadata
        says vipfs uploaded earlier; those the host still lists as encoding are watched."""
        with lane(Lane.BACKGROUND):
            async with trio.open_nursery() as nursery:
                if self.encoding_poll > 0:
                    nursery.start_soon(self._encodings_loop, list(recorded))
                if self.takedown_poll > 0:
                    nursery.start_soon(self._takedowns_loop)

    async def _encodings_loop(self, recorded: list[str]) -> None:
        """Sleeps while nothing is watched; the first poll of a burst of uploads waits
        `SETTLE` seconds, so it covers them all. The earlier uploads (`recorded`) are asked
        about with the first poll, at the latest one interval after the start: a mount that
        just came up makes no call of its own."""
        adopt = recorded
        while True:
            if not self._watch:
                with trio.move_on_after(self.encoding_poll if adopt else math.inf):
                    await self._wake.wait()
                await trio.sleep(min(self.encoding_poll, SETTLE))
            self._wake = trio.Event()
            if await self._guarded("file/encodings", self.poll_encodings, adopt):
                adopt = []  # asked: from now on only what this mount uploads
            await trio.sleep(self.encoding_poll)

    async def _takedowns_loop(self) -> None:
        """The first poll one interval after the start (a mount that just came up is quiet)."""
        while True:
            await trio.sleep(self.takedown_poll)
            await self._guarded("file/dmca and file/deleted", self.poll_takedowns)

    async def _guarded(
        self, what: str, poll: Callable[..., Awaitable[None]], *args: object
    ) -> bool:
        """One poll; False when it failed. A failure is logged once (until a poll works again),
        never raised: this runs in the mount's nursery, where an exception would end the mount."""
        try:
            with trio.fail_after(max(self.encoding_poll, self.takedown_poll, 60)):
                await poll(*args)
        except (ApiError, trio.TooSlowError) as exc:
            self._failed(what, f"could not poll {what}: {exc}", trace=False)
        except Exception as exc:  # a bug on some reply: keep what is known, keep going
            self._failed(what, f"could not poll {what}: {type(exc).__name__}", trace=True)
        else:
            if self._failing.pop(what, None) is not None:
                log.info("polling %s works again", what)
            return True
        return False

    def _failed(self, what: str, why: str, *, trace: bool) -> None:
        if why != self._failing.get(what):
            log.log(logging.WARNING if trace else logging.INFO, "%s", why, exc_info=trace)
        self._failing[what] = why

    async def _encodings(self) -> dict[str, int | None]:
        """code → progress of everything file/encodings lists now (None: no percentage: the
        host says ERROR or STUCK). Of several qualities, the least done one counts."""
        listed: dict[str, int | None] = {}
        for item in (await self._api.file_encodings())[:MAX_ENTRIES]:
            code = to_code(item.code)
            if code is None:
                continue
            progress = (
                max(0, min(100, item.progress)) if item.status in ("ENCODING", "PENDING") else None
            )
            if code in listed:
                before = listed[code]
                progress = None if before is None or progress is None else min(before, progress)
            listed[code] = progress
        return listed

    async def poll_encodings(self, adopt: Sequence[str] = ()) -> None:
        """One file/encodings; the watched codes it no longer lists are asked about with
        file/info (50 a call): `canplay` makes them ready. Of `adopt` (vipfs's uploads of
        earlier mounts), those it lists are watched from now on."""
        if not self._watch and not adopt:
            return
        listed = await self._encodings()
        now = self._clock()
        for code in adopt:
            if code in listed and code not in self._watch and code not in self._ready:
                self._watch[code] = _Watch(now)
        left = []
        for code, watch in list(self._watch.items()):
            if code in listed:
                watch.answered, watch.progress = True, listed[code]
            elif now - watch.since > WATCH_FOR:
                del self._watch[code]  # never encoded in a day: stop asking
            else:
                left.append(code)
        if not left:
            return
        for info in await self._api.file_info(left):
            asked = self._watch.get(info.code)
            if asked is None:
                continue
            asked.answered, asked.progress = True, None
            if info.status != 200:  # deleted (404) or taken down (451): the takedown poll says
                del self._watch[info.code]
            elif info.canplay:
                del self._watch[info.code]
                _keep(self._ready, info.code, None)
                self._emit("ready", info.code)

    async def poll_takedowns(self) -> None:
        """One file/dmca and one file/deleted, for the hours since the last answer (plus one)."""
        now = self._clock()
        last = self._last_takedowns
        hours = FIRST_LAST_HOURS if last is None else math.ceil((now - last) / 3600) + 1
        hours = max(1, min(MAX_LAST_HOURS, hours))
        dmca = await self._api.file_dmca(hours)
        deleted = await self._api.file_deleted(hours)
        self._last_takedowns = now
        for old, end in list(self._dmca.items()):  # long past its deadline: the host is done
            if end is not None and end < now - DMCA_KEEP:
                del self._dmca[old]
        for item in dmca[:MAX_ENTRIES]:
            code = to_code(item.code)
            if code is None or code in self._deleted:
                continue
            left = item.del_in_sec if item.del_in_sec is not None and item.del_in_sec >= 0 else None
            is_new = code not in self._dmca
            _keep(self._dmca, code, None if left is None else now + left)
            self._watch.pop(code, None)
            if is_new:
                detail = "dmca" if left is None else f"deleted in {dmca_hours(left)}h"
                self._emit("dmca", code, detail=detail)
        for gone in deleted[:MAX_ENTRIES]:
            code = to_code(gone.code)
            by = (gone.deleted_by or "").strip().lower()
            if code is None or by == OWNER or code in self._deleted:
                continue
            if not self._known(code):
                continue
            by = by if by in TAKERS else "host"  # never the host's own text: it is hostile
            self._watch.pop(code, None)
            self._dmca.pop(code, None)
            _keep(self._deleted, code, by)
            self._emit("deleted", code, detail=by)

    def _known(self, code: str) -> bool:
        """A file vipfs knows: the mount shows (or showed) it, or a poll saw it."""
        return code in self._dmca or code in self._ready or self.locate(code) is not None

    def _emit(self, kind: str, code: str, *, detail: str | None = None) -> None:
        where = self.locate(code)
        self._events.emit(
            kind,
            fld_id=None if where is None else where.fld_id,
            name=None if where is None else where.name,
            code=code,
            link=None if where is None else where.link,
            source="host",
            detail=detail,
        )
