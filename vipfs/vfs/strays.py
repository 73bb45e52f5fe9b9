"""Stray cleanup: host copies that an abandoned upload attempt may have stored.

Owns: the `strays` table's life (noted before anything else happens, so a restart still cleans
up; dropped once the copy is gone or provably not ours) and the background deletions.
Imports: `api` (errors, Protocol, `Backoff`), `metadb`, `upload_job` (`proven_copy`).

A stray is deleted only by the code the attempt recorded, else only when exactly one host file
carries its token; several, or a refusal, leave everything on the host (logged).
"""

from __future__ import annotations

import contextlib
import logging

import trio

from vipfs.api.backoff import Backoff
from vipfs.api.errors import (
    ApiError,
    NotFoundError,
    ProtocolError,
    TransientError,
)
from vipfs.api.protocol import XvsApi
from vipfs.vfs.metadb import MetaDb, Stray, Upload
from vipfs.vfs.upload_job import AmbiguousTokenError, proven_copy

log = logging.getLogger(__name__)


class StrayCleaner:
    """Removes the copies of abandoned attempts in the background; `start` it with a nursery."""

    def __init__(self, api: XvsApi, db: MetaDb, backoff: Backoff) -> None:
        self._api = api
        self._db = db
        self._backoff = backoff
        self._nursery: trio.Nursery | None = None
        self._waiting: list[Stray] = []  # noted before the nursery opened

    async def resume(self) -> None:
        """Take the strays a previous mount noted and did not finish."""
        self._waiting.extend(await self._db.strays())

    def start(self, nursery: trio.Nursery) -> None:
        """Clean what waits now, and later strays as they come, in `nursery`."""
        self._nursery = nursery
        for stray in self._waiting:
            nursery.start_soon(self.clean, stray)
        self._waiting.clear()

    async def abandon(self, row: Upload) -> None:
        """An attempt may have stored bytes nobody wants now: note that (persistently, so a
        restart still cleans up), and remove them in the background."""
        stray = Stray(row.token, row.code, row.name)
        await self._db.add_stray(stray)
        if self._nursery is not None:
            self._nursery.start_soon(self.clean, stray)
        else:
            self._waiting.append(stray)  # resuming: the nursery opens right after

    async def clean(self, stray: Stray) -> None:
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
                delay = self._backoff.after(attempts, exc)
                attempts += 1
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
