"""The queue's folder index (`in_folder`, `stand_ins`) and its one-writer hand-over to Metadata."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import Env, eventually
from vipfs.api.errors import TransientError
from vipfs.vfs.metadb import FileMeta, Upload
from vipfs.vfs.names import Titles


def _ids(env: Env, fld_id: int) -> list[int]:
    assert env.queue is not None
    return [row.id for row in env.queue.in_folder(fld_id)]


async def test_in_folder_follows_enqueue_move_discard_and_done(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=5)
    a = await env.new_file(queue, "a.mp4", fld_id=1)
    b = await env.new_file(queue, "b.mp4", fld_id=2)
    c = await env.new_file(queue, "c.mp4", fld_id=1)
    assert (_ids(env, 1), _ids(env, 2), _ids(env, 3)) == ([a.id, c.id], [b.id], [])

    await queue.rename(a.id, "a2.mp4", 2)  # moved: shows in its new folder only, id order
    assert (_ids(env, 1), _ids(env, 2)) == ([c.id], [a.id, b.id])
    assert [row.name for row in queue.in_folder(2)] == ["a2.mp4", "b.mp4"]
    await queue.rename(c.id, "c2.mp4", 1)  # renamed in place: stays
    assert _ids(env, 1) == [c.id]

    await queue.discard(b.id)
    assert _ids(env, 2) == [a.id]

    await queue.touch(a.id)
    await queue.upload_now(a.id)
    assert _ids(env, 2) == [] and _ids(env, 1) == [c.id]


async def test_in_folder_is_rebuilt_from_the_db_at_a_restart(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=600)
    a = await env.new_file(queue, "a.mp4", fld_id=4)
    b = await env.new_file(queue, "b.mp4", fld_id=4)
    await queue.touch(a.id)
    await queue.touch(b.id)
    env.crash()
    await trio.sleep(1)
    await env.start(write_back=600)
    assert _ids(env, 4) == [a.id, b.id]


async def test_stand_ins_are_the_codes_and_posted_titles_of_every_row(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=5)
    assert queue.stand_ins() == (set(), set())
    a = await env.new_file(queue, "a.mp4", fld_id=1)
    spool = await env.spool.create()
    b = await queue.enqueue(Upload(spool=spool, fld_id=2, name="b.mp4", replaces="oldcode00000"))
    assert queue.stand_ins() == ({"oldcode00000"}, set())  # nothing posted yet

    env.api.lose_upload_responses(1)  # stored, answer lost: a copy of unknown code
    env.api.fail("file_list_all", TransientError("502"))  # and the retry cannot look yet
    await queue.touch(a.id)
    await eventually(lambda: env.api.count("file_list_all") == 1)
    assert queue.stand_ins() == ({"oldcode00000"}, {(1, Titles().file_title("a.mp4"))})
    await eventually(lambda: bool(env.done))
    (stored,) = env.api.files
    assert env.done[0].code == stored and env.api.count("upload_file") == 1  # adopted
    assert queue.stand_ins() == ({"oldcode00000"}, set())  # done: stands for nothing
    assert b.id in {r.id for r in queue.in_folder(2)}


async def test_a_row_discarded_while_its_upload_is_recorded_leaves_nothing(
    env: Env, virtual_clock: MockClock
) -> None:
    """The last step of an upload records it (db and memory); a discard in that moment must
    not leave a file record behind, nor tell the facade of a file it no longer shows."""
    queue = await env.start(write_back=0)
    recording = trio.Event()
    release = trio.Event()
    real = env.metadata.record_upload

    async def slow_finish(upload_id: int, meta: FileMeta) -> None:
        await real(upload_id, meta)
        recording.set()
        with trio.CancelScope(shield=True):  # like the db's worker thread: not cancellable
            await release.wait()

    env.metadata.record_upload = slow_finish  # type: ignore[method-assign]
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await recording.wait()
    (code,) = env.api.files
    assert env.metadata.meta(code) is not None  # recorded...
    await queue.discard(row.id)
    release.set()
    # neither waits for a timer: a minute of virtual time is plenty
    await eventually(lambda: not env.api.files, limit=60)  # the stray cleaner removed it
    await eventually(lambda: env.metadata.meta(code) is None, limit=60)
    assert await env.db.get_file(code) is None  # ...and dropped again, in the db too
    assert env.done == []  # the facade heard of no upload
    assert await env.db.strays() == []
    assert queue.in_folder(0) == [] and queue.stand_ins() == (set(), set())
