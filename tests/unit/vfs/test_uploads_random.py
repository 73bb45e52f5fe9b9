"""Random operation sequences (seeded) against the queue, checked against a tiny model:
whatever happened, each file ends on the host exactly once, with its last bytes, name and
folder; or it failed with its bytes kept; or it was deleted and left nothing behind. Crashes
(kill -9 style restarts) happen at random points, uploads included. No stale copy, no duplicate."""

from __future__ import annotations

import os
import random

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import TITLES, Env, eventually
from vipfs.api.errors import TransientError
from vipfs.vfs.metadb import UploadState
from vipfs.vfs.uploads import UploadQueue

SEEDS = int(os.environ.get("VIPFS_RANDOM_SEEDS", "16"))  # raise it for a deeper hunt
NAMES = ["a.mp4", "b_c.v2.mkv", ".a.mp4.Xy12Ab", "d.mp4.part", "notes.txt", "e f.avi"]


OPS = [
    "create",
    "rewrite",
    "rewrite",
    "rename",
    "utime",
    "sleep",
    "fault",
    "fault",
    "rm",
    "restart",
]


async def step(
    env: Env, queue: UploadQueue, rng: random.Random, model: dict[int, bytes | None]
) -> UploadQueue:
    """One random operation; returns the queue (a new one after a restart)."""
    live = [i for i in model if queue.get(i) is not None]
    op = rng.choice(OPS)
    if op == "restart":
        env.crash()  # like kill -9: whatever was in flight is cut off
        await trio.sleep(rng.choice([0, 0.1, 2]))
        return await env.start(write_back=5, transfers=2, titles=TITLES)
    if op == "create" or not live:
        data = rng.randbytes(rng.randint(1, 300))
        row = await env.new_file(queue, rng.choice(NAMES), data, fld_id=rng.randint(0, 2))
        model[row.id] = data
        await queue.touch(row.id)
        return queue
    target = rng.choice(live)
    if op == "rewrite" and await queue.reopen(target):
        data = rng.randbytes(rng.randint(1, 300))
        spool = queue.get(target).spool  # type: ignore[union-attr]
        await env.spool.truncate(spool, 0)
        await env.spool.write(spool, 0, data)
        model[target] = data
        await queue.touch(target)
    elif op == "rm":
        await queue.discard(target)
        model[target] = None
    elif op == "rename":
        await queue.rename(target, rng.choice(NAMES), rng.randint(0, 2))
    elif op == "utime":
        await queue.set_times(target, rng.randint(0, 2**62))
    elif op == "sleep":
        await trio.sleep(rng.choice([0.5, 1, 3, 6, 30]))
    elif op == "fault":
        rng.choice(
            [
                lambda: env.api.fail("upload_server", TransientError("502")),
                lambda: env.api.lose_upload_responses(1),
                lambda: env.api.fail("file_edit", TransientError("reset")),
                lambda: env.api.fail("file_list_all", TransientError("reset")),
            ]
        )()
    return queue


@pytest.mark.parametrize("seed", range(SEEDS))
async def test_random_sequences_end_exactly_once(
    env: Env, virtual_clock: MockClock, seed: int
) -> None:
    rng = random.Random(seed)
    queue = await env.start(write_back=5, transfers=2, titles=TITLES)
    model: dict[int, bytes | None] = {}  # None: deleted
    for _ in range(40):
        queue = await step(env, queue, rng, model)
    await trio.sleep(4000)  # held temp names go out after their idle hour
    await queue.wait_idle()
    await eventually(lambda: not queue.status().uploading)
    await trio.sleep(600)  # stale-copy cleanups run in the background
    assert await env.db.strays() == []

    rows = {r.id: r for r in env.done}  # done rows are pruned from the db at a restart
    rows.update((r.id, r) for r in await env.db.uploads())
    remote_codes = set(env.api.files)
    done_codes = set()
    for upload_id, data in model.items():
        if data is None:
            assert upload_id not in rows
            continue
        row = rows[upload_id]
        if row.state is UploadState.DONE:
            assert row.code is not None
            done_codes.add(row.code)
            remote = env.api.files[row.code]
            assert remote.data == data
            # as the POST left it, or a rename's edit
            assert (remote.title, remote.fld_id) == (TITLES.file_title(row.name), row.fld_id)
            meta = await env.db.get_file(row.code)
            assert meta is not None and (meta.name, meta.size) == (row.name, len(data))
        else:
            assert row.state is UploadState.FAILED, row
            assert await env.spool.read(row.spool, 0, 1000) == data
    assert remote_codes == done_codes  # nothing extra: no duplicate, no stale copy
