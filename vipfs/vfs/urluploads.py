"""Batch URL uploads: a persistent queue of URLs the host is asked to fetch (`upload/url`).

Owns: `UrlUploads`: the `url_uploads` rows and their states, the host's queue limit, the
resolution of a submission whose answer was lost, and the polling that follows each URL until
the host holds its file or gives up on it.
Imports: trio, `vipfs.api` errors, lanes, protocol, records, `vipfs.vfs` events, metadb, names.

A row's states:

* `queued`: recorded, not sent yet (or the host's queue was full: sent once it has room);
* `submitting`: recorded BEFORE `upload/url` is called. A row still here after the call (its
  answer was lost, or vipfs died) has no code; it is resolved through `file/url_uploads` (the
  host's queue, matched by the URL as the host rewrites it) and never sent again blindly:
  where the host cannot tell (an older build without `file/url_uploads`, or a URL no longer in
  its queue) the row fails with a reason and the user decides;
* `submitted`: the host answered the file code it will use; `fetching`: it reports progress;
* `uploaded`: the file is on the host (then titled, when a title was asked for);
* `failed`: the host could not fetch it, or refused it. Asking for it again retries it.

The host's queue holds a few URLs per account (the emulator 5, "You have reached max URLs
limit: 5"): rows are sent only while fewer than the limit are out, the limit learned from that
refusal. Polling runs in the BACKGROUND lane, only while rows are pending, from every second
after a change to every 2 minutes while nothing moves (on a host allowing 5 calls a
minute, a URL the host sits on costs about one call a minute at worst).
"""

from __future__ import annotations

import logging
import math
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import trio

from vipfs.api.errors import (
    ApiError,
    AuthError,
    NotSentError,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    TransientError,
    UnsupportedError,
)
from vipfs.api.lanes import Lane, lane
from vipfs.api.protocol import XvsApi
from vipfs.api.records import FileInfo, UrlUpload
from vipfs.vfs.events import Events
from vipfs.vfs.metadb import MetaDb, UrlRow

log = logging.getLogger(__name__)

QUEUED, SUBMITTING, SUBMITTED, FETCHING = "queued", "submitting", "submitted", "fetching"
UPLOADED, FAILED = "uploaded", "failed"
IN_FLIGHT = frozenset({SUBMITTING, SUBMITTED, FETCHING})
PENDING = IN_FLIGHT | {QUEUED}
LIMIT = 5  # URLs out at once until the host names its own limit
POLL_FIRST, POLL_MAX = 1.0, 120.0  # seconds between rounds: after a change, and at most
GIVE_UP = 24 * 3600.0  # a host without file/url_uploads: a code file/info never finds, failed
MAX_URL = 2048  # characters; a longer one is refused before it is recorded
MAX_TITLE = 255
SHOWN_UPLOADED = 200  # uploaded rows status.json lists (the newest); pending and failed: all
_LIMIT_MSG = re.compile(r"max urls limit:?\s*(\d{1,4})", re.IGNORECASE)
_BANNED = ("base64", "xvideos", "youtube")  # what the host strips from a URL (xvs-api §3.4)

Locate = Callable[[int, str], Awaitable[tuple[str | None, str | None]]]  # → (path, link)


class UrlError(ValueError):
    """A URL or title that is not sent (the message says why)."""


def host_url(url: str) -> str:
    """A URL as the host keeps it: unescaped, with `base64`, `xvideos`, `youtube` cut out."""
    text = urllib.parse.unquote(url)
    for banned in _BANNED:
        text = text.replace(banned, "")
    return text


def check(url: str, title: str | None) -> tuple[str, str | None]:
    """The URL and title as recorded (stripped), or UrlError."""
    url, title = url.strip(), (title or "").strip() or None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UrlError(f"{url[:80]!r} is not an http(s) URL")
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UrlError("a URL has no spaces or control characters and at most 2048 characters")
    if title is not None and (len(title) > MAX_TITLE or any(ord(ch) < 32 for ch in title)):
        raise UrlError("a title has no control characters and at most 255 characters")
    return url, title


class UrlUploads:
    """The URL-upload queue of one host; start `run()` in the mount's nursery."""

    def __init__(
        self,
        api: XvsApi,
        db: MetaDb,
        events: Events,
        *,
        clock: Callable[[], float] = time.time,
        give_up: float = GIVE_UP,
    ) -> None:
        self._api = api
        self._db = db
        self._events = events
        self._clock = clock
        self._give_up = give_up
        self._rows: dict[int, UrlRow] = {}
        self._lock = trio.Lock()  # one `add` at a time: the same URL twice makes one row
        self._wake = trio.Event()
        self.limit = LIMIT
        self.listed: bool | None = None  # whether the host answers file/url_uploads
        self.on_arrived: Callable[[UrlRow], None] | None = None  # the folder's listing is old
        self.locate: Locate | None = None  # the file's path and link in the mount, by code
        self.folder_path: Callable[[int], str | None] | None = None
        self._failing: str | None = None

    # -- what the mount asks -------------------------------------------------------------------
    async def load(self) -> None:
        self._rows = {r.id: r for r in await self._db.urls()}

    def pending(self) -> list[UrlRow]:
        return [r for r in self._rows.values() if r.state in PENDING]

    async def add(self, url: str, title: str | None, fld_id: int) -> str:
        """Record one URL for the folder; returns what became of it, as the command prints
        it. The same URL into the same folder again is skipped unless it failed."""
        url, title = check(url, title)
        async with self._lock:
            same = [r for r in self._rows.values() if r.url == url and r.fld_id == fld_id]
            last = same[-1] if same else None
            if last is not None and last.state == UPLOADED:
                return f"already uploaded as {last.code}"
            if last is not None and last.state in PENDING:
                return "already queued"
            now = self._clock()
            if last is not None:  # failed: again, from the start
                row = replace(last, state=QUEUED, code=None, progress=0, error=None, created=now)
                row = replace(row, title=title or last.title)
                answer = "retrying (was failed)"
            else:
                row = UrlRow(url=url, fld_id=fld_id, state=QUEUED, title=title, created=now)
                answer = "queued"
            row = await self._save(row)
        self._events.emit("queued", path=self._dir(fld_id), source="url", detail=url)
        log.info("URL upload %d %s: %s", row.id, answer, url)
        self._wake.set()
        return answer

    def status_json(self) -> list[dict[str, Any]]:
        """status.json's `url_uploads`: every pending and failed row, the newest uploaded."""
        done = [r for r in self._rows.values() if r.state == UPLOADED][-SHOWN_UPLOADED:]
        shown = sorted(
            [r for r in self._rows.values() if r.state != UPLOADED] + done, key=lambda r: r.id
        )
        return [
            {
                "id": r.id,
                "url": r.url,
                "title": r.title,
                "dir": self._dir(r.fld_id),
                "state": QUEUED if r.state == SUBMITTING else r.state,  # not known to the host
                "progress": r.progress,
                "code": r.code,
                "error": r.error,
            }
            for r in shown
        ]

    def _dir(self, fld_id: int) -> str | None:
        return None if self.folder_path is None else self.folder_path(fld_id)

    # -- the background task -------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load the rows, then poll while any is pending; an `add` wakes it at once."""
        with lane(Lane.BACKGROUND):
            await self.load()
            task_status.started()
            delay = POLL_FIRST
            while True:
                self._wake = trio.Event()
                if not self.pending():
                    await self._wake.wait()
                    delay = POLL_FIRST
                    continue
                changed = await self._safe_step()
                delay = POLL_FIRST if changed else min(delay * 2, POLL_MAX)
                with trio.move_on_after(delay):
                    await self._wake.wait()
                if self._wake.is_set():
                    delay = POLL_FIRST

    async def _safe_step(self) -> bool:
        try:
            changed = await self.step()
        except (ApiError, trio.TooSlowError) as exc:
            self._failed(f"URL uploads: the host did not answer ({exc}); trying again later")
            return False
        except Exception as exc:  # a bug on some reply: log it, keep the mount
            log.exception("URL uploads: %s", type(exc).__name__)
            return False
        if self._failing is not None:
            log.info("URL uploads: the host answers again")
        self._failing = None
        return changed

    def _failed(self, why: str) -> None:
        if why != self._failing:
            log.info("%s", why)
        self._failing = why

    async def step(self) -> bool:
        """One round: resolve lost answers, follow what the host holds, send what fits.
        True when some row changed. ApiError: the host is in trouble; the next round retries."""
        before = dict(self._rows)
        out = [r for r in self.pending() if r.state in IN_FLIGHT]
        queue = await self._host_queue() if out else None
        for row in out:
            if row.state == SUBMITTING:
                await self._resolve_lost(row, queue)
        following = [r for r in self.pending() if r.state in (SUBMITTED, FETCHING)]
        if following:
            await self._follow(following, queue)
        await self._submit()
        return self._rows != before

    async def _host_queue(self) -> list[UrlUpload] | None:
        """The host's URL queue; None where the host has no file/url_uploads."""
        if self.listed is False:
            return None
        try:
            answer = await self._api.file_url_uploads()
        except UnsupportedError:
            log.info("this host has no file/url_uploads: URL uploads are followed by file/info")
            self.listed = False
            return None
        self.listed = True
        return answer

    async def _resolve_lost(self, row: UrlRow, queue: list[UrlUpload] | None) -> None:
        """A row sent with no answer: adopt the host's entry for its URL, or fail it."""
        if queue is None:
            await self._fail(
                row,
                "the host's answer to upload/url was lost, and this host cannot tell whether "
                "it took the URL; look in the folder, then ask again to retry",
            )
            return
        mine = host_url(row.url)
        found = [
            e
            for e in queue
            if host_url(e.remote_url) == mine
            and e.fld_id in (row.fld_id, 0, None)  # a folder the host did not take: root
        ]
        if len(found) == 1 and found[0].code is None:
            return  # the host names no code until the fetch ends: ask again next round
        if len(found) != 1 or found[0].code is None:  # none, or several: no proof which
            await self._fail(
                row,
                "the host's answer to upload/url was lost, and its queue does not hold the "
                "URL (it may have fetched it already); look in the folder, then ask again "
                "to retry",
            )
            return
        code = found[0].code
        log.info("URL upload %d: the host took it as %s (answer was lost)", row.id, code)
        await self._save(replace(row, state=SUBMITTED, code=code))

    async def _follow(self, rows: Sequence[UrlRow], queue: list[UrlUpload] | None) -> None:
        """Progress from the host's queue; what left it (or every row, on a host without
        file/url_uploads) is looked up by its code with file/info."""
        ask: list[UrlRow] = []
        if queue is None:
            ask = list(rows)
        else:
            by_code = {e.code: e for e in queue if e.code}
            by_url = {host_url(e.remote_url): e for e in queue if not e.code}  # codes left out
            for row in rows:
                entry = by_code.get(row.code or "") or by_url.get(host_url(row.url))
                if entry is None:
                    ask.append(row)
                elif entry.status == "ERROR":
                    await self._fail(row, "the host could not fetch the URL")
                    await self._drop_on_host(row)
                elif entry.status in ("WORKING", "STUCK"):
                    progress = max(0, min(100, entry.progress))
                    await self._save(replace(row, state=FETCHING, progress=progress))
        if not ask:
            return
        infos = {i.code: i for i in await self._api.file_info([r.code or "" for r in ask])}
        for row in ask:
            info = infos.get(row.code or "")
            if info is not None and info.status == 200:
                await self._arrived(row, info)
            elif queue is not None:
                await self._fail(row, "the host dropped the URL from its queue, with no file")
            elif self._clock() - row.created > self._give_up:
                hours = math.ceil(self._give_up / 3600)
                await self._fail(row, f"the host has not delivered it in {hours}h")

    async def _arrived(self, row: UrlRow, info: FileInfo) -> None:
        error = None
        if row.title is not None and row.code is not None:
            try:
                await self._api.file_edit(row.code, title=row.title)
            except TransientError:
                raise  # the next round titles it
            except ApiError as exc:
                error = f"uploaded, but the title was refused: {exc.msg}"
        row = await self._save(replace(row, state=UPLOADED, progress=100, error=error))
        log.info("URL upload %d: on the host as %s (%s)", row.id, row.code, row.url)
        if self.on_arrived is not None:
            self.on_arrived(row)
        path = link = None
        if self.locate is not None and row.code is not None:
            try:
                path, link = await self.locate(row.fld_id, row.code)
            except Exception as exc:  # the event still goes out, without a path
                log.debug("URL upload %d: no path yet (%s)", row.id, exc)
        self._events.emit(
            "uploaded", path=path, code=row.code, link=link, source="url", detail=row.url
        )

    async def _submit(self) -> None:
        """Send queued rows while the host's queue has room."""
        for row in [r for r in self._rows.values() if r.state == QUEUED]:
            if sum(r.state in IN_FLIGHT for r in self._rows.values()) >= self.limit:
                return
            row = await self._save(replace(row, state=SUBMITTING))  # before the call
            try:
                code = await self._api.upload_url(row.url, fld_id=row.fld_id)
            except (RateLimitedError, NotSentError, AuthError) as exc:
                await self._save(replace(row, state=QUEUED))  # it never ran: send it later
                self._failed(f"URL uploads: waiting ({exc})")
                return
            except RequestRejectedError as exc:
                if (limit := _LIMIT_MSG.search(exc.msg)) is not None:
                    self.limit = max(1, int(limit.group(1)))
                    await self._save(replace(row, state=QUEUED))
                    return
                if "already in upload queue" in exc.msg.lower():
                    continue  # submitting: the next round finds its entry in the host's queue
                await self._fail(row, exc.msg)
            except UnsupportedError as exc:
                await self._fail(row, f"this host takes no URL uploads ({exc.msg})")
            except (TransientError, ProtocolError) as exc:
                log.info("URL upload %d: answer lost (%s); the next round asks", row.id, exc)
                return  # submitting: resolved through the host's queue
            else:
                await self._save(replace(row, state=SUBMITTED, code=code))

    async def _drop_on_host(self, row: UrlRow) -> None:
        """A failed URL holds a slot of the host's queue (and its URL) until dropped."""
        if row.code is None or self.listed is not True:
            return
        try:
            await self._api.file_url_actions(delete_codes=[row.code])
        except ApiError as exc:
            log.info("URL upload %d: could not drop it from the host's queue: %s", row.id, exc)

    async def _fail(self, row: UrlRow, why: str) -> None:
        row = await self._save(replace(row, state=FAILED, error=why))
        log.warning("URL upload %d failed: %s (%s)", row.id, why, row.url)
        self._events.emit(
            "failed", path=self._dir(row.fld_id), code=row.code, source="url", detail=why
        )

    async def _save(self, row: UrlRow) -> UrlRow:
        if row.id and replace(self._rows[row.id], updated=row.updated) == row:
            return row  # nothing moved: no write, and the round counts no change
        stored = await self._db.put_url(replace(row, updated=self._clock()))
        self._rows[stored.id] = stored
        return stored
