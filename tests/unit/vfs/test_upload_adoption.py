"""The title proof of a lost upload's copy (issue 10, item 4): no token, nothing unproven.

`posted_copy` alone first: one fitting file is adopted, and each condition failing alone
adopts nothing. Then the queue: a lost answer is resolved by the proof, several candidates
fail the row and touch nothing, a stray is deleted only on the same proof.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import TITLES, Env, eventually
from tests.unit.vfs.fake_api import EPOCH_OFFSET
from vipfs.api.errors import NotSentError, TransientError
from vipfs.api.records import FileEntry, UploadedFile
from vipfs.vfs.adoption import CLOCK_SLACK, AmbiguousCopyError, Posted, posted_copy

POSTED = Posted(fld_id=7, title="clip＿one", since=10_000.0, until=10_050.0)


def _server(epoch: float) -> datetime:
    """Server-local naive time of `epoch`, on a host `EPOCH_OFFSET` ahead of UTC."""
    return datetime.fromtimestamp(epoch + EPOCH_OFFSET, UTC).replace(tzinfo=None)


def _to_epoch(when: datetime) -> float:
    return when.replace(tzinfo=UTC).timestamp() - EPOCH_OFFSET


def _entry(
    code: str = "ours00000001",
    title: str = POSTED.title,
    fld_id: int = POSTED.fld_id,
    at: float | None = 10_020.0,
) -> FileEntry:
    uploaded = None if at is None else _server(at)
    return FileEntry(code, title, fld_id, uploaded, None, 0, True, False, None, None)


def _proof(found: list[FileEntry], known: frozenset[str] = frozenset()) -> str | None:
    return posted_copy(found, POSTED, known=known, to_epoch=_to_epoch)


def test_the_one_fitting_file_is_adopted_among_others() -> None:
    others = [_entry("other0000001", "Movie"), _entry("other0000002", "clip＿one x")]
    assert _proof([*others, _entry()]) == "ours00000001"
    assert _proof([_entry(title="clip＿one".replace("＿", "&#65343;"))]) == "ours00000001"
    # the window is widened by the clock slack on both sides, and no further
    assert _proof([_entry(at=POSTED.since - CLOCK_SLACK)]) == "ours00000001"
    assert _proof([_entry(at=POSTED.until + CLOCK_SLACK)]) == "ours00000001"


@pytest.mark.parametrize(
    "entry",
    [
        _entry(fld_id=8),  # another folder
        _entry(title="clip＿one "),  # not exactly the title sent
        _entry(title="clip one"),  # the title as a mangling would leave it
        _entry(at=None),  # no upload time: cannot be placed in the window
        _entry(at=POSTED.since - CLOCK_SLACK - 1),  # before the attempt
        _entry(at=POSTED.until + CLOCK_SLACK + 1),  # after it
    ],
    ids=["folder", "title", "mangled", "no-time", "before", "after"],
)
def test_each_condition_failing_alone_adopts_nothing(entry: FileEntry) -> None:
    assert _proof([entry]) is None


def test_a_known_code_is_never_adopted() -> None:
    assert _proof([_entry()], known=frozenset({"ours00000001"})) is None


def test_two_fitting_files_prove_nothing() -> None:
    with pytest.raises(AmbiguousCopyError) as caught:
        _proof([_entry("b0000000000b"), _entry("a0000000000a")])
    assert caught.value.codes == ["a0000000000a", "b0000000000b"]
    assert "none adopted, retitled or deleted" in str(caught.value)
    assert _proof([_entry(), _entry()]) == "ours00000001"  # one file listed twice is one


def test_the_window_of_a_posted_attempt_covers_its_ends_only() -> None:
    assert POSTED.covers(POSTED.since) and POSTED.covers(POSTED.until)
    assert not POSTED.covers(POSTED.until + CLOCK_SLACK + 0.5)


async def test_a_lost_answer_adopts_the_proven_copy_without_an_edit(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.ignore_list_filters = True  # the look-up answers the whole account
    fld = env.api.add_folder("Videos")
    elsewhere = env.api.add_file(TITLES.file_title("clip_one.mp4"), fld_id=0)
    env.api.lose_upload_responses(1)
    queue = await env.start(write_back=0, titles=TITLES)
    row = await env.new_file(queue, "clip_one.mp4", b"ours", fld_id=fld)
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    (done,) = env.done
    assert done.code is not None and env.api.files[done.code].data == b"ours"
    assert env.api.count("upload_file") == 1 and env.api.count("file_edit") == 0
    ((_, look),) = [c for c in env.api.calls if c[0] == "file_list_all"]
    assert look == {"fld_id": fld, "title": TITLES.file_title("clip_one.mp4")}
    assert elsewhere in env.api.files and len(env.api.files) == 2


async def test_a_lost_answer_with_no_copy_posts_again(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail("upload_file", TransientError("reset"))  # nothing stored
    queue = await env.start(write_back=0, titles=TITLES)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    assert env.api.count("file_list_all") == 1 and env.api.count("upload_file") == 2
    assert len(env.api.files) == 1


async def test_a_refused_connection_needs_no_look_up(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail("upload_file", NotSentError("cannot connect", op="upload"))
    queue = await env.start(write_back=0, titles=TITLES)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    assert env.api.count("file_list_all") == 0 and env.api.count("upload_file") == 2


async def test_several_candidates_fail_the_row_and_touch_none(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.lose_upload_responses(1)
    env.api.fail("file_list_all", TransientError("reset"))  # the look-up waits a little
    queue = await env.start(write_back=0, titles=TITLES)
    row = await env.new_file(queue, "clip.mp4", b"ours")
    await queue.touch(row.id)
    await eventually(lambda: env.api.count("file_list_all") == 1)
    title = TITLES.file_title("clip.mp4")
    twin = env.api.add_file(title, uploaded=env.api.server_now())  # someone else, same moment
    await eventually(lambda: bool(queue.status().failed))
    (failed,) = queue.status().failed
    assert failed.last_error is not None and "several host files titled" in failed.last_error
    assert twin in env.api.files and len(env.api.files) == 2
    assert env.api.count("file_edit") == 0 and env.api.count("file_delete") == 0
    assert await env.spool.size(row.spool) == len(b"ours")  # data kept


async def test_a_crash_mid_post_is_resolved_by_the_proof_at_the_next_mount(
    env: Env, virtual_clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = env.api.upload_file

    async def stored_then_hung(*args: Any, **kw: Any) -> UploadedFile:
        await store(*args, **kw)  # the node stores the file...
        await trio.sleep_forever()  # ...and vipfs dies before it hears so
        raise AssertionError("unreachable")

    monkeypatch.setattr(env.api, "upload_file", stored_then_hung)
    queue = await env.start(write_back=0, titles=TITLES)
    row = await env.new_file(queue, "clip.mp4", b"ours")
    await queue.touch(row.id)
    await eventually(lambda: len(env.api.files) == 1)
    env.crash()
    await trio.sleep(1)
    cut = await env.db.get_upload(row.id)
    assert cut is not None and cut.posted_at is not None and cut.posted_end is None
    monkeypatch.setattr(env.api, "upload_file", store)
    await env.start(write_back=0, titles=TITLES)
    await eventually(lambda: bool(env.done))
    assert env.api.count("upload_file") == 1 and len(env.api.files) == 1
    assert env.done[0].code in env.api.files


async def test_a_stray_is_deleted_only_by_the_proof(env: Env, virtual_clock: MockClock) -> None:
    env.api.lose_upload_responses(1)
    env.api.fail("file_list_all", TransientError("reset"))
    queue = await env.start(write_back=0, titles=TITLES)
    row = await env.new_file(queue, "clip.mp4")
    title = TITLES.file_title("clip.mp4")
    older = env.api.add_file(title, uploaded=env.api.server_now())  # same title, long before
    await trio.sleep(CLOCK_SLACK * 3)
    await queue.touch(row.id)
    await eventually(lambda: env.api.count("file_list_all") == 1)
    await queue.discard(row.id)  # abandoned with its copy's code unknown
    with trio.fail_after(10_000):
        while await env.db.strays():  # noqa: ASYNC110 (the db is polled, not signalled)
            await trio.sleep(1)
    assert env.api.count("file_delete") == 1
    assert set(env.api.files) == {older}  # the copy went, the older namesake stayed
