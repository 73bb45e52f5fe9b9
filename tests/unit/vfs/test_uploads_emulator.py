"""The upload queue through the real client against the real emulator (127.0.0.1, port 0)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.unit.vfs.conftest import TITLES
from vipfs.api.backoff import Backoff
from vipfs.api.client import XvsClient
from vipfs.api.records import UploadedFile
from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.keys import generate_key
from vipfs.emulator.mangle import upload_title
from vipfs.emulator.server import Emulator
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import MetaDb, Upload
from vipfs.vfs.spool import Spool
from vipfs.vfs.uploads import UploadQueue

VIDEO = bytes(range(256)) * 512  # 128 KiB


class AnswerLostClient(XvsClient):
    """Truncates the node's answer to the first upload, after the node has stored the file."""

    emulator: Emulator

    async def upload_file(self, server_url: str, path: Path, **kw: Any) -> UploadedFile:
        first = not getattr(self, "_lost_one", False)
        self._lost_one = True
        if first:
            self.emulator.set_faults({"truncated": 1.0})
        try:
            return await super().upload_file(server_url, path, **kw)
        finally:
            self.emulator.set_faults({"truncated": 0.0})


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(encode_seconds=0.0)) as emu:
        yield emu


@pytest.fixture
def key(emulator: Emulator) -> str:
    user_id = 500 + len(emulator.store.accounts())
    key = generate_key(user_id)
    emulator.store.ensure_account(user_id, f"writes{user_id}", key)
    return key


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[MetaDb]:
    db = await MetaDb.open(tmp_path / "meta.db")
    yield db
    await db.close()


async def run_queue(
    client: XvsClient, db: MetaDb, spool: Spool, names: list[str], fld_id: int
) -> list[Upload]:
    done: list[Upload] = []
    metadata = Metadata(db)
    await metadata.load()
    queue = UploadQueue(
        client,
        db,
        spool,
        metadata=metadata,
        write_back=0,
        transfers=1,
        rng=random.Random(1),
        on_done=done.append,
        titles=TITLES,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(queue.run)
        for name in names:
            path = await spool.create()
            await spool.write(path, 0, VIDEO + name.encode())
            row = await queue.enqueue(Upload(spool=path, fld_id=fld_id, name=name))
            await queue.touch(row.id)
        with trio.fail_after(30):
            await queue.wait_idle()
        nursery.cancel_scope.cancel()
    return done


async def test_queue_uploads_through_client_and_emulator_exactly_once(
    emulator: Emulator, key: str, db: MetaDb, tmp_path: Path
) -> None:
    emulator.reset_calls()
    fast = Backoff(base=0.02, cap=0.2)
    async with AnswerLostClient(emulator.api_url, key, timeout=5, backoff=fast) as client:
        client.emulator = emulator
        folder = await client.folder_create("Uploads")
        names = ["My_clip.v2.mp4", "big_buck.bunny.mkv"]
        done = await run_queue(client, db, Spool(tmp_path / "spool"), names, folder)

        assert sorted(d.name for d in done) == sorted(names)
        listing = await client.folder_list(folder)
        titles = sorted(f.title for f in listing.files)
        # the name rides the POST (as the node keeps it), no token, no duplicate, no edit
        assert titles == sorted(upload_title(TITLES.file_title(n), n) for n in names)
        for row in done:
            assert row.code is not None
            meta = await db.get_file(row.code)
            assert meta is not None and meta.name == row.name and meta.fld_id == folder
            stored = next(f for f in emulator.files() if f["code"] == row.code)
            assert stored["sha256"] == hashlib.sha256(VIDEO + row.name.encode()).hexdigest()
        calls = emulator.calls()
        assert calls.get("faulted", 0) >= 1  # the first answer really was lost...
        assert calls["upload"] == 2  # ...yet each file was posted once
        assert calls["file/list"] >= 1  # because the retry found it by its title proof
        assert calls.get("file/edit", 0) == 0
        assert calls["upload/server"] == 2  # once, and again after the node's answer broke
