"""The upload queue against the fake host, on trio's virtual clock."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import logging
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import TITLES, Env, eventually
from vipfs.api.errors import AuthError, RateLimitedError, RequestRejectedError, TransientError
from vipfs.vfs.edits import edit_keep_tags
from vipfs.vfs.errors import VfsError
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.metadb import FileMeta, Upload, UploadState
from vipfs.vfs.names import Titles, legacy_title, tokened_title
from vipfs.vfs.spool import Spool
from vipfs.vfs.upload_status import QueueStatus
from vipfs.vfs.uploads import CUT_OFF, EMPTY_FILE


def test_titles_drop_only_the_extension() -> None:
    assert legacy_title("My_clip.v2.mp4") == "My_clip.v2"
    assert legacy_title(".hidden") == ".hidden"
    assert legacy_title("noext") == "noext"
    assert legacy_title("AC ／ DC.mp4") == "AC / DC"  # a name's encoding is undone, as for folders
    assert legacy_title("．．.mp4") == ".."
    assert tokened_title("a／b.mp4", "vipfs-0123456789ab") == "a/b vipfs-0123456789ab"
    assert tokened_title("a.mp4", "vipfs-0123456789ab") == "a vipfs-0123456789ab"


async def test_upload_is_due_write_back_after_the_last_close(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start()
    data = b"x" * 5000
    row = await env.new_file(queue, "My_clip.v2.mp4", data, fld_id=0)
    await queue.set_times(row.id, 1_600_000_000_000_000_001)
    await queue.touch(row.id)  # close #1 at t0
    await trio.sleep(4)
    assert await queue.reopen(row.id)  # reopened for write: the timer stops
    await trio.sleep(10)
    assert env.api.count("upload_file") == 0
    assert queue.status().writing[0].id == row.id
    await queue.touch(row.id)  # the last close
    await trio.sleep(4.9)
    assert env.api.count("upload_file") == 0
    await eventually(lambda: bool(env.done))

    (done,) = env.done
    assert done.code is not None and done.state is UploadState.DONE
    assert env.api.count("upload_file") == 1
    remote = env.api.files[done.code]
    assert remote.data == data
    ((_, args),) = [c for c in env.api.calls if c[0] == "upload_file"]
    assert args["title"] == Titles().file_title("My_clip.v2.mp4")  # the name rides the POST
    assert env.api.count("file_edit") == 0 and env.api.count("upload_server") == 1
    meta = await env.db.get_file(done.code)
    assert meta == FileMeta(
        code=done.code,
        name="My_clip.v2.mp4",
        fld_id=0,
        size=5000,
        mtime_ns=1_600_000_000_000_000_001,
        mode=0o644,
        sha256=hashlib.sha256(data).hexdigest(),
        tags="",
        descr=None,
    )
    assert not await trio.Path(row.spool).exists()
    assert queue.get(row.id) is None
    assert (await env.db.get_upload(row.id)).state is UploadState.DONE  # type: ignore[union-attr]


async def test_the_upload_title_carries_a_token_that_survives_mangling(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(retitle=True)  # the design before issue 10 (--upload-retitle)
    row = await env.new_file(queue, "big_buck.bunny.mp4")
    await queue.upload_now(row.id)
    ((_, args),) = [c for c in env.api.calls if c[0] == "upload_file"]
    assert args["title"] == f"big_buck.bunny {row.token}"
    assert args["filename"] == "big_buck.bunny.mp4"
    edits = [a for op, a in env.api.calls if op == "file_edit"]
    assert edits[-1]["title"] == Titles().file_title(row.name) and edits[-1]["tags"] == ""


async def test_rsync_temp_name_never_reaches_the_server(env: Env, virtual_clock: MockClock) -> None:
    queue = await env.start()
    row = await env.new_file(queue, ".clip.mp4.Ab12Cd")
    await queue.set_mode(row.id, 0o600)
    await queue.touch(row.id)  # rsync: close, then utime on the temp name, chmod, rename
    assert queue.status().held[0].id == row.id
    await trio.sleep(60)
    assert env.api.count("upload_file") == 0  # held, not just delayed
    await queue.set_times(row.id, 1_500_000_000_000_000_000)
    await queue.set_mode(row.id, 0o644)
    await queue.rename(row.id, "clip.mp4", 42)
    assert queue.status().queued[0].name == "clip.mp4"
    await eventually(lambda: bool(env.done))

    assert all(".clip.mp4.Ab12Cd" not in repr(args) for _, args in env.api.calls)
    (done,) = env.done
    assert done.code is not None
    assert env.api.files[done.code].fld_id == 42
    meta = await env.db.get_file(done.code)
    assert meta is not None
    assert (meta.name, meta.fld_id, meta.mtime_ns, meta.mode) == (
        "clip.mp4",
        42,
        1_500_000_000_000_000_000,
        0o644,
    )


async def test_held_file_uploads_after_idle_time(env: Env, virtual_clock: MockClock) -> None:
    queue = await env.start(hold=HoldList(["tmp-*"], idle=100))
    row = await env.new_file(queue, "tmp-clip.mp4")
    await queue.touch(row.id)
    await trio.sleep(99)
    assert env.api.count("upload_file") == 0
    await eventually(lambda: bool(env.done))
    assert env.done[0].name == "tmp-clip.mp4"


async def test_an_empty_temp_file_left_idle_is_dropped(env: Env, virtual_clock: MockClock) -> None:
    dropped: list[Upload] = []
    queue = await env.start(hold=HoldList(idle=100), on_dropped=dropped.append)
    killed = await env.new_file(queue, ".clip.mp4.Ab12Cd", b"")  # rsync got SIGKILL here
    await queue.touch(killed.id)
    looked_at = await env.new_file(queue, ".clip2.mp4.Xy34Ef", b"")
    await queue.touch(looked_at.id)
    await env.spool.open(looked_at.spool)  # a reader still has it open
    await trio.sleep(99)
    assert [i.id for i in queue.status().held] == [killed.id, looked_at.id]
    await eventually(lambda: bool(dropped))

    assert [r.id for r in dropped] == [killed.id]
    assert queue.get(killed.id) is None and await env.db.get_upload(killed.id) is None
    assert not killed.spool.exists()
    assert [i.id for i in queue.status().held] == [looked_at.id]  # held for another spell
    await env.spool.release(looked_at.spool)
    await eventually(lambda: len(dropped) == 2)
    assert not looked_at.spool.exists() and queue.status().held == []
    assert env.api.calls == []


async def test_rename_during_upload_is_applied_by_the_title_edit(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.upload_gate = trio.Event()
    queue = await env.start()
    row = await env.new_file(queue, "first.mp4")
    await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 1)
    assert queue.status().uploading[0].id == row.id
    assert not await queue.reopen(row.id)  # too late to write in place
    await queue.rename(row.id, "second.mkv", 9)
    env.api.upload_gate.set()
    await eventually(lambda: bool(env.done))
    code = env.done[0].code
    assert code is not None
    assert (env.api.files[code].title, env.api.files[code].fld_id) == (
        TITLES.file_title("second.mkv"),
        9,
    )
    meta = await env.db.get_file(code)
    assert meta is not None and meta.name == "second.mkv"


async def test_transient_errors_retry_with_growing_jittered_backoff(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.fail("upload_server", TransientError("502 Bad Gateway"), times=4)
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 1))
    item = queue.status().retrying[0]
    assert item.last_error is not None and "502" in item.last_error
    await eventually(lambda: bool(env.done))
    tries = env.api.times("upload_server")
    assert len(tries) == 5
    for attempt, (before, after) in enumerate(itertools.pairwise(tries), start=1):
        step = 2.0 ** (attempt - 1)
        assert 0.5 * step - 0.01 <= after - before <= step + 0.5
    assert len(env.api.files) == 1


def _retrying(status: QueueStatus, attempts: int) -> bool:
    return bool(status.retrying) and status.retrying[0].attempts == attempts


async def test_backoff_is_capped_at_five_minutes(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail("upload_server", TransientError("timeout"), times=12)
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done), step=10)
    tries = env.api.times("upload_server")
    assert len(tries) == 13
    assert 150 - 0.01 <= tries[-1] - tries[-2] <= 300 + 10


async def test_rate_limit_waits_its_retry_after(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail(
        "upload_server",
        RateLimitedError("Requests limit reached: 5 per min", retry_after=45, scope="min"),
    )
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done), step=1)
    first, second = env.api.times("upload_server")
    assert second - first >= 45


async def test_lost_response_is_found_by_token_not_uploaded_twice(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.lose_upload_responses(1)  # the node stores the file, the answer is lost
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4", b"payload")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    assert env.api.count("upload_file") == 1
    assert env.api.count("file_list_all") == 1
    (remote,) = env.api.files.values()
    assert (remote.code, remote.title, remote.data) == (env.done[0].code, "clip", b"payload")


async def test_permanent_refusal_keeps_data_and_warns_once(
    env: Env, caplog: pytest.LogCaptureFixture, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "notes.txt", b"not a video")
    with caplog.at_level(logging.WARNING, logger="vipfs"):
        await queue.touch(row.id)
        await eventually(lambda: bool(env.failed))
        await trio.sleep(3600)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "Not video file (notes.txt)" in warnings[0].getMessage()
    assert env.api.count("upload_file") == 1  # never retried by itself
    (failed,) = queue.status().failed
    assert failed.last_error == "Not video file (notes.txt)"
    shown = queue.status().to_json()["failed"]
    assert [(f["name"], f["error"]) for f in shown] == [("notes.txt", failed.last_error)]
    assert json.loads(json.dumps(queue.status().to_json())) == queue.status().to_json()
    assert env.failed[0].last_error == "Not video file (notes.txt)"
    assert await env.spool.read(row.spool, 0, 100) == b"not a video"
    stored = await env.db.get_upload(row.id)
    assert stored is not None and stored.state is UploadState.FAILED


async def test_auth_error_is_permanent(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail("upload_server", AuthError("Wrong auth", status=403))
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.failed))
    assert "Wrong auth" in (env.failed[0].last_error or "")


async def test_restart_resumes_an_interrupted_upload(env: Env, virtual_clock: MockClock) -> None:
    env.api.upload_gate = trio.Event()  # the node never answers: vipfs dies mid-upload
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4", b"data")
    await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 1)
    env.crash()
    await trio.sleep(1)
    stored = await env.db.get_upload(row.id)
    assert stored is not None and stored.state is UploadState.UPLOADING

    env.api.upload_gate.set()
    await env.start(write_back=0)
    await eventually(lambda: bool(env.done))
    assert env.api.count("file_list_all") == 1  # it looked for the token first
    assert len(env.api.files) == 1


async def test_restart_after_lost_response_adopts_the_stored_copy(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.lose_upload_responses(1)
    env.api.fail("file_list_all", TransientError("reset"), times=1)
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4", b"data")
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 2))
    env.crash()  # dies while backing off; the node has the file under the token
    await trio.sleep(1)
    await env.start(write_back=0)
    await eventually(lambda: bool(env.done))
    assert env.api.count("upload_file") == 1
    assert len(env.api.files) == 1


async def test_a_file_left_open_by_a_dead_mount_is_incomplete_and_kept(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=5)
    row = await env.new_file(queue, "clip.mp4", b"the first half")
    env.crash()
    await trio.sleep(1)
    queue = await env.start(write_back=5)
    (item,) = queue.status().incomplete
    assert item.id == row.id and item.last_error == CUT_OFF
    assert (await env.db.get_upload(row.id)).state is UploadState.INCOMPLETE  # type: ignore[union-attr]
    await queue.touch(row.id)  # a close changes nothing
    await trio.sleep(60)
    assert env.api.count("upload_file") == 0 and row.spool.read_bytes() == b"the first half"
    with pytest.raises(VfsError) as caught:  # fsync: never uploaded as it is
        await queue.upload_now(row.id)
    assert caught.value.errno == errno.EIO and "incomplete" in caught.value.why
    env.crash()
    queue = await env.start(write_back=5)  # and still not after another restart
    assert [i.id for i in queue.status().incomplete] == [row.id]
    await trio.sleep(60)
    assert env.api.count("upload_file") == 0


async def test_an_incomplete_file_uploads_once_rewritten_from_zero(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=5)
    row = await env.new_file(queue, "clip.mp4", b"cut")
    await queue.mark_incomplete(row.id, "a write failed: No space left on device")
    assert await queue.reopen(row.id)  # opened again without O_TRUNC: still incomplete
    await env.spool.write(row.spool, 3, b" more")
    await queue.touch(row.id)
    assert [i.id for i in queue.status().incomplete] == [row.id]
    await trio.sleep(60)
    assert not env.done
    assert await queue.reopen(row.id, trunc=True)  # O_TRUNC: a new file from byte 0
    await env.spool.truncate(row.spool, 0)
    await env.spool.write(row.spool, 0, b"all of it")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    assert env.api.files[env.done[0].code or ""].data == b"all of it"


async def test_a_discarded_incomplete_file_is_gone_with_its_spool(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=5)
    row = await env.new_file(queue, "clip.mp4")
    await queue.mark_incomplete(row.id, "a write failed: No space left on device")
    await queue.discard(row.id)
    assert not row.spool.exists() and await env.db.get_upload(row.id) is None


async def test_spool_files_of_a_lost_db_go_to_lost_found(
    env: Env, virtual_clock: MockClock, tmp_path: Path
) -> None:
    queue = await env.start(write_back=3600)
    kept = await env.new_file(queue, "kept.mp4", b"queued data")
    orphan = await env.spool.create()  # no row names it: the db that did was lost
    await env.spool.write(orphan, 0, b"nobody knows me")
    env.crash()
    queue = await env.start(write_back=3600)
    assert not orphan.exists() and kept.spool.exists()
    (found,) = env.spool.lost_found.iterdir()
    assert found.read_bytes() == b"nobody knows me"
    assert env.api.count("upload_file") == 0


async def test_the_spool_of_a_confirmed_upload_is_the_only_one_deleted(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start(write_back=1)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    env.crash()
    env.spool.root.mkdir(exist_ok=True)
    row.spool.write_bytes(b"left by a crash after the upload")  # as if the unlink never ran
    await env.start(write_back=1)
    assert not row.spool.exists()
    assert env.spool.lost_files() == []


async def test_rows_follow_their_spool_file_when_the_directory_moved(
    env: Env, virtual_clock: MockClock, tmp_path: Path
) -> None:
    queue = await env.start(write_back=3600)
    row = await env.new_file(queue, "clip.mp4", b"moved bytes")
    env.crash()
    moved = Spool(tmp_path / "state" / "spool")
    moved.root.parent.mkdir()
    env.spool.root.rename(moved.root)  # what the migration to the state directory does
    env.spool = moved
    queue = await env.start(write_back=1)
    assert queue.get(row.id) is not None
    assert (await env.db.get_upload(row.id)).spool == moved.root / row.spool.name  # type: ignore[union-attr]
    assert moved.lost_files() == []


async def test_upload_now_uploads_at_once_or_raises(env: Env, virtual_clock: MockClock) -> None:
    queue = await env.start(write_back=3600)
    good = await env.new_file(queue, "clip.mp4")
    await queue.upload_now(good.id)  # still open for write: fsync
    assert env.done and env.done[0].id == good.id
    await queue.upload_now(good.id)  # already done: nothing to do

    bad = await env.new_file(queue, "clip.doc")
    with pytest.raises(VfsError) as info:
        await queue.upload_now(bad.id)
    assert info.value.errno == errno.EIO and "Not video file" in str(info.value)

    env.api.fail("upload_file", TransientError("503"))  # the node URL is reused: its POST fails
    flaky = await env.new_file(queue, "flaky.mp4")
    with pytest.raises(VfsError):
        await queue.upload_now(flaky.id)
    await eventually(lambda: any(d.id == flaky.id for d in env.done))  # background retry


async def test_wait_idle_flushes_the_queue_with_progress(
    env: Env, virtual_clock: MockClock
) -> None:
    # held far longer than any jump of virtual time while worker threads are slow (under load
    # the default hour could pass during the flush, and the held file would upload)
    queue = await env.start(write_back=3600, transfers=2, hold=HoldList(idle=1e9))
    for i in range(5):
        row = await env.new_file(queue, f"clip{i}.mp4")
        await queue.touch(row.id)
    held = await env.new_file(queue, "x.part")
    await queue.touch(held.id)
    seen: list[int] = []
    await queue.wait_idle(lambda s: seen.append(s.pending))
    assert len(env.done) == 5
    # Progress only goes down and ends at zero. Its first value is not pinned: virtual time may
    # jump past the write-back delay while a worker thread is busy, starting uploads early.
    assert seen and seen[-1] == 0 and max(seen) <= 5
    assert seen == sorted(seen, reverse=True)
    assert queue.status().held[0].id == held.id  # held rows wait for the next mount


async def test_transfers_bound_concurrent_uploads(env: Env, virtual_clock: MockClock) -> None:
    env.api.upload_gate = trio.Event()
    queue = await env.start(write_back=0, transfers=2)
    for i in range(5):
        row = await env.new_file(queue, f"clip{i}.mp4")
        await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 2)
    await trio.sleep(30)
    assert env.api.count("upload_file") == 2
    assert len(queue.status().uploading) == 2
    assert [i.sent for i in queue.status().uploading] == [5, 5]  # half of b"video bytes"
    env.api.upload_gate.set()
    await eventually(lambda: len(env.done) == 5)


async def test_discard_before_upload_sends_nothing(env: Env, virtual_clock: MockClock) -> None:
    queue = await env.start()
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await queue.discard(row.id)
    await trio.sleep(60)
    assert env.api.count("upload_file") == 0
    assert not await trio.Path(row.spool).exists()
    assert await env.db.get_upload(row.id) is None


async def test_discard_mid_upload_cancels_it(env: Env, virtual_clock: MockClock) -> None:
    env.api.upload_gate = trio.Event()
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 1)
    await queue.discard(row.id)
    env.api.upload_gate.set()
    await trio.sleep(60)
    assert env.api.files == {}
    assert not env.done
    assert queue.status().uploading == []


async def test_rewrite_after_a_lost_response_replaces_the_stale_copy(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.lose_upload_responses(1)
    env.api.fail("file_list_all", TransientError("reset"), times=1)
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4", b"old")
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 2))
    assert await queue.reopen(row.id)
    await env.spool.write(row.spool, 0, b"new")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    await trio.sleep(10)
    (remote,) = env.api.files.values()
    assert remote.data == b"new"


async def test_edit_keep_tags_resends_known_or_fetched_tags(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start()
    row = await env.new_file(queue, "clip.mp4")
    await queue.set_meta(row.id, tags="promo, clip")
    await queue.upload_now(row.id)
    code = env.done[0].code
    assert code is not None
    assert env.api.files[code].tags == "promo, clip"
    await edit_keep_tags(env.api, env.metadata, code, title="renamed", fld_id=3)
    assert env.api.files[code].tags == "promo, clip"
    meta = await env.db.get_file(code)
    assert meta is not None and meta.fld_id == 3 and meta.tags == "promo, clip"

    env.api.files[code].tags = "set elsewhere"  # a file vipfs knows nothing about
    await env.metadata.update(code, tags=None)
    await edit_keep_tags(env.api, env.metadata, code, descr="hello")
    assert env.api.files[code].tags == "set elsewhere"
    assert env.api.count("file_info") == 1


async def test_an_internal_error_is_logged_and_retried(
    env: Env, caplog: pytest.LogCaptureFixture, virtual_clock: MockClock
) -> None:
    env.api.fail("upload_file", RuntimeError("bug in a lower layer"))
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    with caplog.at_level(logging.ERROR, logger="vipfs"):
        await queue.touch(row.id)
        await eventually(lambda: bool(env.done))
    assert [r.levelno for r in caplog.records if r.levelno >= logging.ERROR] == [logging.ERROR]
    assert len(env.api.files) == 1


async def test_a_failing_callback_does_not_stop_the_queue(
    env: Env, caplog: pytest.LogCaptureFixture, virtual_clock: MockClock
) -> None:
    def explode(row: object) -> None:
        raise RuntimeError("model bug")

    queue = await env.start(write_back=0)
    queue._on_done = explode
    with caplog.at_level(logging.ERROR, logger="vipfs"):
        for name in ("a.mp4", "b.mp4"):
            row = await env.new_file(queue, name)
            await queue.touch(row.id)
        await eventually(lambda: len(env.api.files) == 2 and not queue.status().uploading)
    assert len([r for r in caplog.records if "callback failed" in r.getMessage()]) == 2
    assert len(await env.db.files()) == 2


async def test_a_close_without_writes_keeps_backoff_and_failure(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.fail("upload_server", TransientError("502"), times=3)
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 2))
    token = queue.status().retrying[0]
    await queue.touch(row.id)  # e.g. a reader's close: not a new version
    again = queue.status().retrying[0]
    assert (again.attempts, again.next_try) == (token.attempts, token.next_try)
    assert queue.get(row.id).token == row.token  # type: ignore[union-attr]
    await eventually(lambda: bool(env.done))

    bad = await env.new_file(queue, "notes.txt")
    await queue.touch(bad.id)
    await eventually(lambda: bool(env.failed))
    await queue.touch(bad.id)
    await trio.sleep(600)
    assert env.api.count("upload_file") == 2  # the good one once, the refused one once


async def test_discard_after_a_lost_answer_removes_the_stored_copy(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.lose_upload_responses(1)
    env.api.fail("file_list_all", TransientError("reset"), times=1)
    queue = await env.start(write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 2))
    assert len(env.api.files) == 1  # stored under the token, the answer lost
    await queue.discard(row.id)
    await eventually(lambda: env.api.files == {})
    assert env.api.count("file_delete") == 1
    await eventually(lambda: env.api.count("file_delete") == 1)
    await trio.sleep(1)
    assert await env.db.strays() == []


async def test_an_empty_file_stays_local_and_costs_no_call(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start()
    row = await env.new_file(queue, "blank.mp4", b"")
    assert await queue.upload_now(row.id) is False  # fsync of an empty file: nothing to send
    await queue.touch(row.id)
    await trio.sleep(3600)
    (empty,) = queue.status().empty
    assert (empty.id, empty.last_error) == (row.id, EMPTY_FILE)
    assert queue.status().pending == 0 and env.api.calls == []
    await queue.rename(row.id, ".blank.mp4.Xy12Ab", 0)  # a temp name holds it, empty or not
    assert queue.status().held[0].id == row.id
    await queue.rename(row.id, "blank.mp4", 0)
    assert queue.status().empty[0].id == row.id
    assert await queue.reopen(row.id)  # written to: an ordinary file again
    await env.spool.write(row.spool, 0, b"now a video")
    await queue.touch(row.id)
    assert queue.status().queued[0].last_error is None
    await eventually(lambda: bool(env.done))
    assert env.api.count("upload_file") == 1


async def test_a_queued_file_emptied_before_its_turn_is_not_sent(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start()
    row = await env.new_file(queue, "gone.mp4")
    await queue.touch(row.id)
    await env.spool.truncate(row.spool, 0)
    await trio.sleep(10)
    assert [i.id for i in queue.status().empty] == [row.id]
    assert env.api.count("upload_file") == 0


async def test_upload_now_leaves_a_held_file_local(env: Env, virtual_clock: MockClock) -> None:
    queue = await env.start()
    swap = await env.new_file(queue, ".notes.txt.swp")
    assert await queue.upload_now(swap.id) is False  # vim fsyncs its swap file while open
    assert queue.status().writing[0].id == swap.id
    await queue.touch(swap.id)
    assert await queue.upload_now(swap.id) is False
    assert queue.status().held[0].id == swap.id
    await trio.sleep(60)
    assert env.api.count("upload_file") == 0 and env.api.count("upload_server") == 0


async def test_a_refused_title_edit_still_completes_the_upload(
    env: Env, caplog: pytest.LogCaptureFixture, virtual_clock: MockClock
) -> None:
    env.api.fail("file_edit", RequestRejectedError("Invalid file name", status=400))
    queue = await env.start(write_back=0, retitle=True)  # the tokened design edits every file
    row = await env.new_file(queue, "clip.mp4")
    with caplog.at_level(logging.WARNING, logger="vipfs"):
        await queue.upload_now(row.id)
    code = env.done[0].code
    assert code is not None
    assert row.token in env.api.files[code].title  # the token stays: the edit was refused
    meta = await env.db.get_file(code)
    assert meta is not None and meta.name == "clip.mp4"
    assert ["refused its title" in r.getMessage() for r in caplog.records] == [True]


async def test_restart_removes_spool_files_no_row_needs(env: Env, virtual_clock: MockClock) -> None:
    queue = await env.start()
    kept = await env.new_file(queue, "clip.mp4")
    orphan = await env.spool.create()  # created, then vipfs died before enqueue
    env.crash()
    await trio.sleep(1)
    await env.start()
    assert env.spool.paths() == [kept.spool]
    assert not await trio.Path(orphan).exists()
