"""The queue acts only on a host file it can prove is its own (issue 8, item 2): the tokened
design, kept as `--upload-retitle` (issue 10); the title proof is in test_upload_adoption.py.

The fake host here ignores `file/list` filters, as some builds do, so every token search
answers the whole account; only the exact token, carried by exactly one file, counts.
"""

from __future__ import annotations

import logging

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import Env, eventually
from vipfs.api.errors import TransientError
from vipfs.api.records import FileEntry
from vipfs.vfs.names import title_token
from vipfs.vfs.upload_job import AmbiguousTokenError, proven_copy
from vipfs.vfs.upload_status import QueueStatus

TOKEN = "vipfs-0123456789ab"


def _entry(code: str, title: str) -> FileEntry:
    return FileEntry(code, title, 0, None, None, 0, True, True, None, None)


def _retrying(status: QueueStatus, attempts: int) -> bool:
    return bool(status.retrying) and status.retrying[0].attempts == attempts


async def _strays_settled(env: Env) -> None:
    """Wait until the background cleanup has dealt with every stray (deleted or left alone)."""
    with trio.fail_after(10_000):
        while await env.db.strays():  # noqa: ASYNC110 (the db is polled, not signalled)
            await trio.sleep(1)


def _seed_account(env: Env) -> dict[str, str]:
    """Three unrelated files of the user, one of them titled like a search would match."""
    codes = [
        env.api.add_file("Movie (2021)"),
        env.api.add_file("holiday"),
        env.api.add_file(f"notes about {TOKEN[:-1]}"),  # a near miss, not the token
    ]
    return {code: env.api.files[code].title for code in codes}


def test_only_the_exact_last_word_is_a_token() -> None:
    assert title_token(f"clip {TOKEN}") == TOKEN
    assert title_token(f"  clip   {TOKEN}  ") == TOKEN
    assert title_token("") == ""
    assert title_token("   ") == ""
    near = [
        _entry("a", f"clip {TOKEN}x"),
        _entry("b", f"clip x{TOKEN}"),
        _entry("c", f"{TOKEN} clip"),  # the token is where vipfs puts it, or it is not ours
        _entry("d", "Movie (2021)"),
    ]
    assert proven_copy(near, TOKEN) is None
    assert proven_copy([*near, _entry("e", f"clip {TOKEN}")], TOKEN) == "e"
    assert proven_copy([_entry("e", f"x {TOKEN}"), _entry("e", f"x {TOKEN}")], TOKEN) == "e"


def test_several_carriers_prove_nothing() -> None:
    with pytest.raises(AmbiguousTokenError) as caught:
        proven_copy([_entry("b", f"x {TOKEN}"), _entry("a", f"y {TOKEN}")], TOKEN)
    assert caught.value.codes == ["a", "b"]
    assert "several host files carry upload token" in str(caught.value)


async def test_retry_adopts_only_the_file_carrying_its_token(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.ignore_list_filters = True
    others = _seed_account(env)
    env.api.lose_upload_responses(1)  # stored, answer lost
    queue = await env.start(write_back=0, retitle=True)
    row = await env.new_file(queue, "clip.mp4", b"our bytes")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    assert env.api.count("upload_file") == 1  # adopted, not uploaded twice
    (adopted,) = env.done
    assert adopted.code not in others
    assert env.api.files[adopted.code].data == b"our bytes"
    assert env.api.files[adopted.code].title == "clip"
    assert {c: env.api.files[c].title for c in others} == others  # nothing else retitled
    edited = {c for op, args in env.api.calls if op == "file_edit" for c in [args["codes"]]}
    assert edited == {adopted.code}


async def test_retry_uploads_again_when_no_file_carries_its_token(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.ignore_list_filters = True
    others = _seed_account(env)
    env.api.fail("upload_file", TransientError("reset"), times=1)  # nothing stored
    queue = await env.start(write_back=0, retitle=True)
    row = await env.new_file(queue, "clip.mp4", b"our bytes")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.done))
    assert env.api.count("file_list_all") == 1
    assert env.api.count("upload_file") == 2
    assert env.api.files[env.done[0].code].data == b"our bytes"
    assert {c: env.api.files[c].title for c in others} == others
    assert len(env.api.files) == len(others) + 1


async def test_several_carriers_fail_the_row_and_touch_none(
    env: Env, virtual_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    env.api.ignore_list_filters = True
    others = _seed_account(env)
    env.api.fail("upload_file", TransientError("reset"), times=1)
    queue = await env.start(write_back=0, retitle=True)
    row = await env.new_file(queue, "clip.mp4", b"our bytes")
    copies = {env.api.add_file(f"clip {row.token}"), env.api.add_file(f"clip {row.token}")}
    await queue.touch(row.id)
    await eventually(lambda: bool(env.failed or env.done))
    (failed,) = queue.status().failed
    assert failed.last_error is not None
    assert "several host files carry upload token" in failed.last_error
    assert env.api.count("upload_file") == 1
    assert env.api.count("file_edit") == 0 and env.api.count("file_delete") == 0
    assert set(env.api.files) == set(others) | copies
    assert await env.spool.size(row.spool) == len(b"our bytes")  # data kept
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("several host files" in r.getMessage() for r in warnings) == 1


async def test_discard_deletes_at_most_its_own_stray(env: Env, virtual_clock: MockClock) -> None:
    env.api.ignore_list_filters = True
    others = _seed_account(env)
    env.api.lose_upload_responses(1)
    env.api.fail("file_list_all", TransientError("reset"), times=1)  # the retry cannot look yet
    queue = await env.start(write_back=0, retitle=True)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 2))
    assert len(env.api.files) == len(others) + 1
    await queue.discard(row.id)
    await _strays_settled(env)
    assert env.api.count("file_delete") == 1
    assert set(env.api.files) == set(others)


async def test_an_ambiguous_stray_is_left_alone(env: Env, virtual_clock: MockClock) -> None:
    env.api.ignore_list_filters = True
    others = _seed_account(env)
    env.api.fail("upload_file", TransientError("reset"), times=1)
    env.api.fail("file_list_all", TransientError("reset"), times=1)
    queue = await env.start(write_back=0, retitle=True)
    row = await env.new_file(queue, "clip.mp4")
    copies = {env.api.add_file(f"clip {row.token}"), env.api.add_file(f"clip {row.token}")}
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 2))
    await queue.discard(row.id)
    await _strays_settled(env)
    assert env.api.count("file_delete") == 0
    assert set(env.api.files) == set(others) | copies


async def test_a_stray_with_a_recorded_code_deletes_that_code_only(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.ignore_list_filters = True
    others = _seed_account(env)
    env.api.fail("file_edit", TransientError("reset"), times=1)  # uploaded, retitle pending
    queue = await env.start(write_back=0, retitle=True)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: _retrying(queue.status(), 1))
    code = queue.status().retrying[0].code
    assert code is not None
    await queue.discard(row.id)
    await eventually(lambda: code not in env.api.files)
    assert env.api.count("file_delete") == 1
    assert env.api.count("file_list_all") == 0  # the recorded code is proof enough
    assert set(env.api.files) == set(others)
