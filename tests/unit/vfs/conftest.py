"""Fixtures for the write engine: a fake host, a db, a spool, and a queue on a virtual clock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tests.unit.vfs.clock import thread_aware_clock
from tests.unit.vfs.fake_api import FakeApi
from tests.unit.vfs.writable import CloningApi, Mount
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import MetaDb, Upload
from vipfs.vfs.names import Titles
from vipfs.vfs.spool import Spool
from vipfs.vfs.upload_status import QueueItem
from vipfs.vfs.uploads import UploadQueue

TITLES = Titles()  # the default encoding: the host keeps every title it sends exactly


class Env:
    """One mount's worth of write engine; `start()` may run several times (a restart)."""

    def __init__(self, tmp_path: Path, nursery: trio.Nursery, db: MetaDb) -> None:
        self.api = FakeApi()
        self.db = db
        self.spool = Spool(tmp_path / "spool")
        self.nursery = nursery
        self.metadata = Metadata(db)
        self.done: list[Upload] = []
        self.queue: UploadQueue | None = None
        self._scope: trio.CancelScope | None = None

    @property
    def failed(self) -> list[QueueItem]:
        """The failed rows of the running queue (the queue tells nobody of a failure: its
        status shows it)."""
        return self.queue.status().failed if self.queue is not None else []

    async def start(self, **kw: Any) -> UploadQueue:
        kw.setdefault("write_back", 5.0)
        self.metadata = Metadata(self.db)  # a new mount reads the db again
        await self.metadata.load()
        queue = UploadQueue(
            self.api,
            self.db,
            self.spool,
            metadata=self.metadata,
            clock=trio.current_time,
            rng=random.Random(7),
            on_done=self.done.append,
            **kw,
        )
        self.queue = queue

        async def serve(*, task_status: trio.TaskStatus[None]) -> None:
            with trio.CancelScope() as scope:
                self._scope = scope
                await queue.run(task_status=task_status)

        await self.nursery.start(serve)
        return queue

    def crash(self) -> None:
        """Stop the running queue abruptly, as kill -9 would (the db keeps what it had)."""
        assert self._scope is not None
        self._scope.cancel()

    async def new_file(
        self, queue: UploadQueue, name: str, data: bytes = b"video bytes", fld_id: int = 0
    ) -> Upload:
        path = await self.spool.create()
        await self.spool.write(path, 0, data)
        return await queue.enqueue(Upload(spool=path, fld_id=fld_id, name=name, size=len(data)))


@pytest.fixture
def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> trio.testing.MockClock:
    """Every test that uses `env` must also take this: pytest-trio picks the clock from the
    test's own arguments. Virtual time jumps after 5 ms of real idleness, and never while a
    worker thread (SQLite, spool) runs, so timers cannot fire early under a slow thread."""
    return thread_aware_clock(monkeypatch)


@pytest.fixture
async def env(
    tmp_path: Path, nursery: trio.Nursery, virtual_clock: trio.testing.MockClock
) -> AsyncIterator[Env]:
    db = await MetaDb.open(tmp_path / "meta.db")
    yield Env(tmp_path, nursery, db)
    await db.close()


async def eventually(
    predicate: Callable[[], bool], *, step: float = 0.05, limit: float = 100_000
) -> None:
    """Wait (in virtual time) until `predicate()` holds, checking every `step` seconds."""
    with trio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 (conditions span the queue and the fake)
            await trio.sleep(step)


@pytest.fixture
async def mount(
    tmp_path: Path, nursery: trio.Nursery, virtual_clock: trio.testing.MockClock
) -> AsyncIterator[Mount]:
    """A writable facade on the fake host (tests/unit/vfs/writable.py), stopped at the end."""
    db = await MetaDb.open(tmp_path / "meta.db")
    m = Mount(tmp_path, nursery, db, CloningApi())
    yield m
    if m.scope is not None:
        m.stop()
    await db.close()
