"""Stray cleanup: host copies that an abandoned upload attempt may have stored.

Owns: the `strays` table's life (noted before anything else happens, so a restart still cleans
up; dropped once the copy is gone or provably not ours), the background deletions, and the
(folder, title) pairs of strays not yet settled (the queue holds back an upload of the same
pair meanwhile, so a stray's proof never meets a copy still in flight).
Imports: `api` (errors, Protocol, `Backoff`), and of `vfs` `adoption` (the title proof),
`metadb`, `upload_job` (`proven_copy`, for tokened strays).

A stray is deleted only by the code the attempt recorded; else only when exactly one host file
proves to be its copy (`adoption.posted_copy`: its folder, its exact title, an unknown code,
stamped in the attempt's window), or, for a tokened attempt (`--upload-retitle`, or a db of an
older vipfs), when exactly one host file carries its token. Several, none, or a refusal leave
everything on the host (logged).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Container

import trio

from vipfs.api.backoff import Backoff
from vipfs.api.errors import (
    ApiError,
    NotFoundError,
    ProtocolError,
    TransientError,
)
from vipfs.api.protocol import XvsApi
from vipfs.vfs.adoption import AmbiguousCopyError, Posted, posted_copy
from vipfs.vfs.metadb import MetaDb, Stray, Upload
from vipfs.vfs.upload_job import AmbiguousTokenError, proven_copy

log = logging.getLogger(__name__)


def stray_of(row: Upload, now: float, *, tokened: bool) -> Stray | None:
    """The stray an abandoned `row` may leave (None: no attempt of it can have stored one).
    `now` closes the window of a POST still running or cut off by a crash."""
    if row.code is not None:
        return Stray(row.token, row.code, row.name)
    if tokened or row.posted_title is None:
        return Stray(row.token, None, row.name) if tokened and row.attempts > 0 else None
    until = row.posted_end if row.posted_end is not None else now
    return Stray(row.token, None, row.name, row.posted_fld, row.posted_title, row.posted_at, until)


class StrayCleaner:
    """Removes the copies of abandoned attempts in the background; `start` it with a nursery."""

    def __init__(
        self,
        api: XvsApi,
        db: MetaDb,
        backoff: Backoff,
        *,
        known: Callable[[], Container[str]] = frozenset,
        settled: Callable[[], None] = lambda: None,
    ) -> None:
        self._api = api
        self._db = db
        self._backoff = backoff
        self._known = known  # codes vipfs accounts for: never a stray's copy
        self._settled = settled  # a stray's pair is free again
        self._nursery: trio.Nursery | None = None
        self._waiting: list[Stray] = []  # noted before the nursery opened
        self._open: dict[str, Stray] = {}  # token -> stray not yet settled

    def pairs(self) -> set[tuple[int, str]]:
        """(folder, title) of every stray not yet settled that is found by its title."""
        return {
            (s.fld_id, s.title)
            for s in self._open.values()
            if s.code is None and s.fld_id is not None and s.title is not None
        }

    async def resume(self) -> None:
        """Take the strays a previous mount noted and did not finish."""
        for stray in await self._db.strays():
            self._open[stray.token] = stray
            self._waiting.append(stray)

    def start(self, nursery: trio.Nursery) -> None:
        """Clean what waits now, and later strays as they come, in `nursery`."""
        self._nursery = nursery
        for stray in self._waiting:
            nursery.start_soon(self.clean, stray)
        self._waiting.clear()

    async def abandon(self, stray: Stray | None) -> None:
        """An attempt may have stored bytes nobody wants now: note that (persistently, so a
        restart still cleans up), and remove them in the background."""
        if stray is None:
            return
        self._open[stray.token] = stray
        await self._db.add_stray(stray)
        if self._nursery is not None:
            self._nursery.start_soon(self.clean, stray)
        else:
            self._waiting.append(stray)  # resuming: the nursery opens right after

    async def _find(self, stray: Stray) -> str | None:
        if stray.code is not None:
            return stray.code
        if stray.title is not None and stray.fld_id is not None and stray.since is not None:
            posted = Posted(stray.fld_id, stray.title, stray.since, stray.until or stray.since)
            found = await self._api.file_list_all(fld_id=stray.fld_id, title=stray.title)
            return posted_copy(
                found, posted, known=self._known(), to_epoch=self._api.server_to_epoch
            )
        found = await self._api.file_list_all(title=stray.token)
        return proven_copy(found, stray.token)

    async def clean(self, stray: Stray) -> None:
        """Delete the copy an abandoned attempt stored (`_find`). Never more than that one
        file; transient errors retry forever."""
        attempts = 0
        while True:
            try:
                code = await self._find(stray)
                if code is not None:
                    with contextlib.suppress(NotFoundError):
                        await self._api.file_delete(code)
                    log.info("deleted %s: an abandoned upload of %s", code, stray.name)
                break
            except (TransientError, ProtocolError) as exc:
                delay = self._backoff.after(attempts, exc)
                attempts += 1
                await trio.sleep(delay)
            except (ApiError, AmbiguousTokenError, AmbiguousCopyError) as exc:
                log.warning(
                    "an abandoned upload of %s stays on the host (%s): %s",
                    stray.name,
                    f"titled {stray.title!r}" if stray.title else f"its title has {stray.token}",
                    exc,
                )
                break
        await self._db.delete_stray(stray.token)
        self._open.pop(stray.token, None)
        self._settled()
