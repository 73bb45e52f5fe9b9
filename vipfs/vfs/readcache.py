"""The read path: file contents fetched through `file/direct_link` into sparse local cache files.

Owns: the read path: direct-link downloads into sparse cache files, readahead, the cache's cap and
eviction.
Imports: trio, `vipfs.api` backoff, errors, lowspeed, protocol, records, wire, and `vipfs.vfs`
errors, fdpool, features, localdirs.

XVS has no download endpoint of its own; where a host enables `file/direct_link`, each version of
a video has a signed, expiring, often speed-capped URL that accepts HTTP ranges. So a read is
served from a sparse cache file that fills chunk by chunk with ranged GETs:

* `open` only checks that reading is possible at all (the host feature); the first `read` picks
  the version and starts downloading, so `ls`, `stat` and a file manager's open/close cost nothing.
* The version is `o` (the original upload) while the host still has it, else the largest encode.
  An entry is keyed by code *and* that version's size, so a replaced file never serves old bytes.
* Each chunk is a task in the mount's nursery. It streams into the cache file and publishes its
  progress, so a read returns as soon as its own bytes are there, not when the chunk is complete.
  Reads that look sequential also start the next few chunks (readahead). All readers of a file
  share its entry, so its bytes are downloaded once.
* An expired link is fetched again and the download resumes where it stopped; transient failures
  are retried with backoff for a bounded time, after which the waiting read fails with EIO.
* A ranged GET that moves less than the low-speed floor (`--low-speed-limit` bytes/s over
  `--low-speed-time`) is aborted and its waiting read fails with EIO at once. Crawling links must
  not starve reads of other files either: one file's chunks hold all download slots but one, and
  a stream moving at a crawl gives its slot back after a few seconds (it runs on unslotted until
  it recovers or the floor aborts it).
* The cache is capped: least recently read entries go first, but never one with an open handle or
  a download still writing into it.
* Open descriptors are capped too (`FdPool`): a cache file's descriptor is opened on demand and
  closed when the file goes idle (no handle, no download) or the cap needs room, so any number of
  files read leaves the mount's descriptor count where it was.
* Thumbnailers open a video, read its head and close it. When the last handle of a big file
  closes after such a small read, its downloads are cancelled (partial chunks are kept).

All cache file I/O runs in worker threads; the trio loop only keeps the bookkeeping, which every
method changes in synchronous steps between awaits.
"""

from __future__ import annotations

import errno
import itertools
import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from vipfs.api.backoff import Backoff
from vipfs.api.errors import (
    ApiError,
    LinkExpiredError,
    NotFoundError,
    TooSlowError,
    TransientError,
    UnsupportedError,
)
from vipfs.api.lowspeed import Pace, SpeedFloor
from vipfs.api.protocol import XvsApi
from vipfs.api.records import DirectLink, LinkVersion
from vipfs.api.wire import to_code
from vipfs.vfs.errors import VfsError, from_api
from vipfs.vfs.fdpool import FdPool, close_fds
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.localdirs import DirError, is_regular, open_nofollow, private_dir

log = logging.getLogger(__name__)

MiB = 1024 * 1024
NO_DIRECT_LINK = "this host does not enable file/direct_link, so vipfs cannot read file contents"
ENCODED_ORDER = ("n", "h", "l", "x")  # tie-break when two encodes have the same size
SUFFIX = ".cache"
LEND_AFTER = 5.0  # a stream that crawls this long gives its download slot back
_CACHE_FILE = re.compile(r"^\w{12}-\d+\.cache$")  # what cache_name makes: code-serial.cache


@dataclass(frozen=True, slots=True)
class _Link:
    """The version chosen for a file, and a URL for it fetched at `fetched` (trio clock)."""

    version: str
    url: str
    size: int
    fetched: float


def choose_version(link: DirectLink) -> LinkVersion | None:
    """`o` when present, else the largest encode whose size is known; None if nothing fits."""
    sized = [v for v in link.versions if v.size is not None and v.size >= 0]
    for version in sized:
        if version.name == "o":
            return version
    encodes = [v for v in sized if v.name in ENCODED_ORDER]
    if not encodes:
        return None
    return max(encodes, key=lambda v: (v.size, -ENCODED_ORDER.index(v.name)))


def cache_name(code: str, serial: int) -> str:
    """The cache file name of one entry: from a validated code and our own serial only, never
    from any other host string (a code `../../x` or a version `/x` would leave the folder)."""
    if to_code(code) is None:
        raise VfsError(errno.EIO, "refusing a file code that is not 12 word characters")
    return f"{code}-{serial}{SUFFIX}"


class _Entry:
    """One cache file holding one version of one file, filled chunk by chunk.

    Invariants: `filled[i]` bytes from the start of chunk i are on disk (a valid prefix);
    `stored` is their sum; `fetching` holds the cancel scope of each chunk being downloaded (at
    most one task per chunk). Its descriptor is the read cache's `FdPool`'s business.
    """

    def __init__(
        self, code: str, link: _Link, path: Path, chunk_size: int, max_streams: int
    ) -> None:
        self.code = code
        self.version = link.version
        self.size = link.size
        self.url = link.url
        self.link_gen = 0
        self.path = path
        self.chunk_size = chunk_size
        self.chunks = max(1, math.ceil(self.size / chunk_size))
        self.filled = [0] * self.chunks
        self.stored = 0
        self.fetching: dict[int, trio.CancelScope] = {}
        self.slots = trio.CapacityLimiter(max_streams)  # one file never holds every download slot
        self.failed: dict[int, str] = {}
        self.changed = trio.Event()
        self.handles = 0
        self.session_read = 0  # bytes read since the handle count last rose from 0
        self.last_access = trio.current_time()
        self.refresh_lock = trio.Lock()
        self.gone = False  # evicted, or the host no longer serves this version: bind anew
        self.gone_why = f"file {code} changed on the host"
        self.removed = False  # gone because its cache file was deleted under vipfs

    def span(self, i: int) -> tuple[int, int]:
        start = i * self.chunk_size
        return start, min(self.size, start + self.chunk_size)

    def complete(self, i: int) -> bool:
        start, end = self.span(i)
        return self.filled[i] >= end - start

    def has(self, start: int, end: int) -> bool:
        """Whether bytes [start, end) are all on disk."""
        for i in range(start // self.chunk_size, (end - 1) // self.chunk_size + 1):
            chunk_start, chunk_end = self.span(i)
            if self.filled[i] < min(end, chunk_end) - chunk_start:
                return False
        return True

    def progress(self, i: int, filled: int) -> None:
        self.stored += filled - self.filled[i]
        self.filled[i] = filled
        self.notify()

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


@dataclass(slots=True)
class _Handle:
    code: str
    entry: _Entry | None = None
    last_end: int | None = None


class ReadCache:
    """Serves reads of remote files from a capped, shared, sparse on-disk cache.

    `run` must be running (in the mount's nursery) for reads to download anything; `open`
    and `release` work without it.
    """

    def __init__(
        self,
        api: XvsApi,
        cache_dir: Path,
        *,
        max_bytes: int,
        features: HostFeatures,
        min_free_bytes: int = 0,
        chunk_size: int = 4 * MiB,
        readahead: int = 4,
        max_downloads: int = 4,
        max_open_files: int | None = None,
        low_speed: SpeedFloor | None = None,
        link_ttl: float = 600.0,
        read_timeout: float = 60.0,
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        small_read: int = 1 * MiB,
        big_file: int = 16 * MiB,
    ) -> None:
        self._api = api
        self._dir = cache_dir
        self._max_bytes = max_bytes
        self._min_free = min_free_bytes
        self._features = features
        self._chunk_size = chunk_size
        self._readahead = readahead
        self._limiter = trio.CapacityLimiter(max_downloads)
        self._per_file = max(1, max_downloads - 1)
        self._low_speed = low_speed or SpeedFloor()
        self._fds = FdPool(max_open_files)
        self._link_ttl = link_ttl
        self._read_timeout = read_timeout
        self._retry = Backoff(retry_initial, retry_max)
        self._small_read = small_read
        self._big_file = big_file
        self._links: dict[str, _Link] = {}
        self._entries: dict[Path, _Entry] = {}
        self._handles: dict[int, _Handle] = {}
        self._bind_locks: dict[str, trio.Lock] = {}
        self._next_handle = itertools.count(1)
        self._serial = itertools.count(1)
        self._nursery: trio.Nursery | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the download tasks until cancelled; then close every cache file."""
        await trio.to_thread.run_sync(self._prepare_dir)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            self._entries.clear()
            with trio.CancelScope(shield=True):  # we are being cancelled: close files anyway
                await trio.to_thread.run_sync(close_fds, self._fds.take_all())

    def _prepare_dir(self) -> None:
        """Create the cache directory private (0700), or check one that exists (never chmod
        it), and drop the cache files of earlier mounts: only files named as vipfs names them."""
        private_dir(self._dir)
        for leftover in self._dir.glob(f"*{SUFFIX}"):
            if _CACHE_FILE.match(leftover.name) and is_regular(leftover):
                leftover.unlink(missing_ok=True)

    # -- the interface the filesystem uses ------------------------------------------------------
    def known_size(self, code: str) -> int | None:
        """The size of the version reads would use, once a direct link was fetched for `code`."""
        link = self._links.get(code)
        return link.size if link else None

    def complete_copy(self, code: str) -> Path | None:
        """A cache file holding every byte of `code` (the version reads use), if one does:
        `vipfs mirror sync` links it into another host's spool rather than fetch it again."""
        for entry in self._entries.values():
            if entry.code == code and not entry.gone and entry.stored >= entry.size > 0:
                return entry.path
        return None

    @property
    def cached_bytes(self) -> int:
        """Bytes currently held in cache files (what `max_bytes` caps)."""
        return sum(entry.stored for entry in self._entries.values())

    async def open(self, code: str) -> int:
        """A handle for reading `code`; no download yet. EACCES when the host cannot serve reads."""
        if self._features.known("direct_link") is None:
            await self._features.probe(self._api, ["direct_link"])
        if self._features.known("direct_link") is False:
            raise VfsError(errno.EACCES, NO_DIRECT_LINK)
        handle = next(self._next_handle)
        self._handles[handle] = _Handle(code)
        return handle

    async def read(self, handle: int, offset: int, size: int) -> bytes:
        """Bytes [offset, offset+size) of the file, short at its end; waits only for those."""
        state = self._handles.get(handle)
        if state is None:
            raise VfsError(errno.EBADF, f"read on unknown read handle {handle}")
        if self._nursery is None:
            raise VfsError(errno.EIO, "the read cache is not running (ReadCache.run)")
        try:
            return await self._read(state, offset, size)
        except _Removed:  # a cache cleaner took the file: bind a fresh entry, once
            log.info("file %s: its read cache file was removed; downloading again", state.code)
            return await self._read(state, offset, size)

    async def _read(self, state: _Handle, offset: int, size: int) -> bytes:
        entry = state.entry
        if entry is None or entry.gone:
            entry = await self._bind(state)
        end = min(offset + size, entry.size)
        if offset < 0 or offset >= end:
            return b""
        entry.last_access = trio.current_time()
        sequential = (
            state.last_end is not None
            and state.last_end - self._chunk_size <= offset <= state.last_end + self._chunk_size
        )
        await self._wait_for(entry, offset, end, readahead=sequential)
        try:
            data = await self._fds.pread(entry.path, end - offset, offset)
        except FileNotFoundError:
            raise _removed(entry) from None
        except OSError as exc:
            raise VfsError(errno.EIO, f"file {entry.code}: read cache read failed: {exc}") from exc
        state.last_end = offset + len(data)
        entry.session_read += len(data)
        return data

    async def release(self, handle: int) -> None:
        """Forget a handle. The last close after a small head read of a big file stops its
        downloads (thumbnailers); otherwise readahead already under way may finish."""
        state = self._handles.pop(handle, None)
        if state is None or state.entry is None:
            return
        entry = state.entry
        entry.handles -= 1
        if entry.handles == 0:
            if (
                entry.fetching
                and entry.session_read < self._small_read
                and entry.size > self._big_file
            ):
                log.info(
                    "file %s: closed after a %d-byte head read; download cancelled",
                    entry.code,
                    entry.session_read,
                )
                for scope in entry.fetching.values():
                    scope.cancel()
            entry.session_read = 0
        await self._idle(entry)
        await self._evict()

    # -- binding a handle to a cache entry --------------------------------------------------------
    async def _bind(self, state: _Handle) -> _Entry:
        lock = self._bind_locks.setdefault(state.code, trio.Lock())
        async with lock:
            if state.entry is not None and not state.entry.gone:
                return state.entry
            link = self._links.get(state.code)
            stale = link is not None and (
                trio.current_time() - link.fetched > self._link_ttl
                or (state.entry is not None and state.entry.gone)
            )
            if link is None or stale:
                link = await self._fetch_link(state.code)
            entry = self._find(state.code, link)
            if entry is None:
                entry = await self._create_entry(state.code, link)
                self._entries[entry.path] = entry
            old, state.entry = state.entry, entry
            state.last_end = None
            entry.handles += 1
            if old is not None:
                old.handles -= 1
                await self._idle(old)
            return entry

    def _find(self, code: str, link: _Link) -> _Entry | None:
        """The live entry holding this version of this file at this size, if any."""
        for entry in self._entries.values():
            same = (entry.code, entry.version, entry.size) == (code, link.version, link.size)
            if same and not entry.gone:
                return entry
        return None

    async def _create_entry(self, code: str, link: _Link) -> _Entry:
        path = self._dir / cache_name(code, next(self._serial))

        def create() -> int:
            flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
            try:
                fd = open_nofollow(path, flags)
            except FileNotFoundError:  # a cache cleaner removed our directory: make it again
                private_dir(self._dir)
                fd = open_nofollow(path, flags)
            try:
                os.ftruncate(fd, link.size)  # sparse: no blocks until bytes arrive
            except OSError:
                os.close(fd)
                raise
            return fd

        try:
            fd = await trio.to_thread.run_sync(create)
        except (OSError, DirError) as exc:
            raise VfsError(errno.EIO, f"cannot create a read cache file: {exc}") from exc
        await self._fds.add(path, fd)
        return _Entry(code, link, path, self._chunk_size, self._per_file)

    async def _fetch_link(self, code: str) -> _Link:
        """Ask for a direct link (retrying transient failures) and choose the version to read."""
        deadline = trio.current_time() + self._read_timeout
        attempt = 0
        while True:
            try:
                answer = await self._api.file_direct_link(code)
                break
            except UnsupportedError as exc:
                self._features.mark_unsupported("direct_link")
                raise VfsError(errno.EACCES, NO_DIRECT_LINK) from exc
            except NotFoundError as exc:
                raise VfsError(errno.EIO, f"file {code} no longer exists on the host") from exc
            except TransientError as exc:
                attempt = await self._backoff(exc, attempt, deadline, f"direct link for {code}")
            except ApiError as exc:
                raise from_api(exc, f"direct link for {code}") from exc
        self._features.mark_supported("direct_link")
        version = choose_version(answer)
        if version is None:
            raise VfsError(
                errno.EIO,
                f"file {code} has no downloadable version yet (still uploading or encoding?)",
            )
        link = _Link(version.name, version.url, version.size or 0, trio.current_time())
        self._links[code] = link
        return link

    async def _backoff(self, exc: TransientError, attempt: int, deadline: float, what: str) -> int:
        """Sleep before retry number `attempt` (the one backoff, api.backoff), or raise EIO when
        that would pass the deadline; returns the next attempt's number."""
        wait = self._retry.after(attempt, exc)
        if trio.current_time() + wait > deadline:
            raise VfsError(errno.EIO, f"{what}: gave up after retries ({exc})") from exc
        log.debug("%s: %s; retrying in %.1fs", what, exc, wait)
        await trio.sleep(wait)
        return attempt + 1

    # -- waiting for bytes -------------------------------------------------------------------
    async def _wait_for(self, entry: _Entry, start: int, end: int, *, readahead: bool) -> None:
        first = start // entry.chunk_size
        last = (end - 1) // entry.chunk_size
        needed = range(first, last + 1)
        for i in needed:
            entry.failed.pop(i, None)  # a new read is a new chance
        self._start(entry, needed)  # first, so they queue for the limiter before readahead
        if readahead:
            self._start(entry, range(last + 1, min(entry.chunks, last + 1 + self._readahead)))
        await self._await_bytes(entry, start, end, needed)

    async def _await_bytes(self, entry: _Entry, start: int, end: int, needed: range) -> None:
        with trio.move_on_after(self._read_timeout):
            while True:
                if entry.has(start, end):
                    return
                if entry.gone:
                    raise (
                        _Removed(entry.gone_why)
                        if entry.removed
                        else VfsError(errno.EIO, entry.gone_why)
                    )
                for i in needed:
                    if i in entry.failed:
                        raise VfsError(errno.EIO, entry.failed[i])
                self._start(entry, needed)  # again: a cancelled chunk may need restarting
                changed = entry.changed
                await changed.wait()
        raise VfsError(errno.EIO, f"file {entry.code}: read timed out waiting for the download")

    def _start(self, entry: _Entry, chunks: range) -> None:
        if self._nursery is None:
            return
        for i in chunks:
            if entry.complete(i) or i in entry.fetching or i in entry.failed:
                continue
            scope = trio.CancelScope()
            entry.fetching[i] = scope
            self._nursery.start_soon(self._fetch_chunk, entry, i, scope)

    # -- downloading ------------------------------------------------------------------------
    async def _fetch_chunk(self, entry: _Entry, i: int, scope: trio.CancelScope) -> None:
        try:
            with scope:
                await self._download_chunk(entry, i)
        except VfsError as exc:
            entry.failed[i] = exc.why
            log.warning("file %s: chunk %d failed: %s", entry.code, i, exc.why)
        except FileNotFoundError as exc:  # descriptors are reopened on demand: a cleaner's rm
            entry.failed[i] = _removed(entry).why
            log.warning("file %s: chunk %d: %s", entry.code, i, exc)
        except OSError as exc:
            entry.failed[i] = f"read cache write failed: {exc}"
            log.warning("file %s: chunk %d: cache write failed: %s", entry.code, i, exc)
        except Exception as exc:  # a bug on some odd answer: fail this read, not the mount
            entry.failed[i] = f"internal error: {type(exc).__name__}"
            log.exception("file %s: chunk %d failed", entry.code, i)
        finally:
            entry.fetching.pop(i, None)
            entry.notify()
        await self._idle(entry)
        await self._evict()

    async def _download_chunk(self, entry: _Entry, i: int) -> None:
        chunk_start, chunk_end = entry.span(i)
        deadline = trio.current_time() + self._read_timeout
        attempt = 0
        while not entry.complete(i):
            if entry.gone:
                raise VfsError(errno.EIO, entry.gone_why)
            gen = entry.link_gen
            before = entry.filled[i]
            try:
                async with entry.slots, _Slot(self._limiter) as slot:
                    await self._stream(entry, i, chunk_start + entry.filled[i], chunk_end, slot)
            except TooSlowError as exc:  # no retry: the waiting read gets EIO now
                raise VfsError(errno.EIO, f"download of {entry.code}: {exc.msg}") from exc
            except LinkExpiredError as exc:
                if trio.current_time() > deadline:
                    raise VfsError(errno.EIO, f"file {entry.code}: link keeps expiring") from exc
                await self._refresh_link(entry, gen)
            except TransientError as exc:
                if entry.filled[i] > before:  # it was moving: start the backoff afresh
                    attempt = 0
                    deadline = trio.current_time() + self._read_timeout
                attempt = await self._backoff(exc, attempt, deadline, f"download of {entry.code}")
            except ApiError as exc:
                raise from_api(exc, f"download of {entry.code}") from exc

    async def _stream(self, entry: _Entry, i: int, start: int, end: int, slot: _Slot) -> None:
        """One ranged GET of [start, end) into the cache file, publishing progress as it lands.

        Each piece is written as it comes (the client yields pieces of tens of KiB), so a read
        waits for no more than its own bytes and a stalled stream holds back nothing it sent.
        """
        chunk_start = entry.span(i)[0]
        at = start
        pace = Pace(self._low_speed, trio.current_time(), size=end - start)
        lender = trio.CancelScope()
        if self._nursery is not None:
            self._nursery.start_soon(_lend_when_crawling, pace, slot, lender)
        with _cancelled_after(lender), trio.CancelScope(deadline=pace.deadline()) as floor:
            body = self._api.download(entry.url, start, end)
            try:
                async for piece in body:
                    pace.moved(len(piece), trio.current_time())
                    floor.deadline = pace.deadline()
                    data = piece[: end - at]
                    if data:
                        await self._fds.pwrite(entry.path, data, at)
                        at += len(data)
                        entry.progress(i, at - chunk_start)
                    if at >= end:
                        break
            finally:
                aclose = getattr(body, "aclose", None)
                if aclose is not None:
                    with trio.CancelScope(shield=True):
                        await aclose()
        if floor.cancelled_caught:
            raise pace.error("download")
        if at < end:
            raise TransientError(f"download ended at byte {at} of {end}", op="download")

    async def _refresh_link(self, entry: _Entry, gen: int) -> None:
        """Fetch a new URL for the entry's version, once for all chunks that saw it expire."""
        async with entry.refresh_lock:
            if entry.link_gen != gen:
                return
            link = await self._fetch_link(entry.code)
            if link.version != entry.version or link.size != entry.size:
                entry.gone = True
                entry.gone_why = (
                    f"file {entry.code}: version {entry.version} of {entry.size} bytes is no "
                    "longer served (replaced, or the original was dropped after encoding)"
                )
                raise VfsError(errno.EIO, entry.gone_why)
            entry.url = link.url
            entry.link_gen += 1

    # -- the caps -----------------------------------------------------------------------------
    async def _idle(self, entry: _Entry) -> None:
        """Close the descriptor of an entry nobody reads or fills (it reopens on demand)."""
        if entry.handles == 0 and not entry.fetching:
            await self._fds.close(entry.path)

    async def _evict(self) -> None:
        """Drop idle entries the host no longer serves, then the least recently read ones until
        the cache fits `max_bytes` and leaves `min_free_bytes` free on its file system.
        Entries with a handle or a running download stay."""
        cap = self._max_bytes
        if self._min_free:
            free = await trio.to_thread.run_sync(_free_bytes, self._dir)
            cap = min(cap, max(0, self.cached_bytes + free - self._min_free))
        idle = sorted(
            (e for e in self._entries.values() if e.handles == 0 and not e.fetching),
            key=lambda e: (not e.gone, e.last_access),
        )
        total = self.cached_bytes
        doomed: list[_Entry] = []
        for entry in idle:
            if total <= cap and not entry.gone:
                break
            del self._entries[entry.path]
            entry.gone = True
            total -= entry.stored
            doomed.append(entry)
        if doomed:
            fds = [fd for fd in (self._fds.take(e.path) for e in doomed) if fd is not None]
            await trio.to_thread.run_sync(_remove_files, fds, [e.path for e in doomed])
            log.debug("read cache: evicted %d files, %d bytes left", len(doomed), total)


class _Removed(VfsError):
    """The entry's cache file was deleted from under vipfs (descriptors are reopened on demand,
    so a cache cleaner's `rm` is seen): the read binds a fresh entry and downloads again."""

    def __init__(self, why: str) -> None:
        super().__init__(errno.EIO, why)


def _removed(entry: _Entry) -> _Removed:
    entry.gone = entry.removed = True
    entry.gone_why = f"file {entry.code}: its read cache file was removed"
    return _Removed(entry.gone_why)


class _Slot:
    """One stream's download slot, which it can give back before it ends (a crawling stream)."""

    def __init__(self, limiter: trio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._held = False

    async def __aenter__(self) -> _Slot:
        await self._limiter.acquire_on_behalf_of(self)
        self._held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.give_back()

    def give_back(self) -> None:
        if self._held:
            self._held = False
            self._limiter.release_on_behalf_of(self)


async def _lend_when_crawling(pace: Pace, slot: _Slot, scope: trio.CancelScope) -> None:
    """Free the slot of a stream that moves at a crawl (no faster than the floor over the
    last LEND_AFTER seconds), so many 1-byte/s links cannot make healthy reads wait; the stream
    itself goes on until it recovers or the floor aborts it."""
    grace = min(LEND_AFTER, pace.floor.window / 2)
    with scope:
        while True:
            when = pace.deadline() - pace.floor.window + grace
            if trio.current_time() >= when:
                slot.give_back()
                return
            await trio.sleep_until(when)


@contextmanager
def _cancelled_after(scope: trio.CancelScope) -> Iterator[None]:
    """Cancel `scope` (a helper task's) when the block ends, however it ends."""
    try:
        yield
    finally:
        scope.cancel()


def _free_bytes(path: Path) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _remove_files(fds: list[int], paths: list[Path]) -> None:
    close_fds(fds)
    for path in paths:
        path.unlink(missing_ok=True)
