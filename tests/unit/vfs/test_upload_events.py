"""The upload queue's events: `queued` once per version after a close, `uploaded` with the
code, `failed` with the reason; not for retries or a second close of the same bytes. And
`/.vipfs/events.jsonl`, the kept events as JSON lines."""

from __future__ import annotations

import json
import os

import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import Env, eventually
from tests.unit.vfs.fake_api import FakeApi
from tests.unit.vfs.test_filesystem import make
from vipfs.api.errors import AuthError, TransientError
from vipfs.vfs.events import Events
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.uploads import UploadQueue


async def _queue(env: Env, **kw: object) -> tuple[UploadQueue, Events]:
    queue = await env.start(**kw)
    events = Events(clock=lambda: 1_790_000_000.0)
    events.folder_path = {0: "", 7: "Clips"}.get
    queue.events = events
    return queue, events


def _kinds(events: Events) -> list[tuple[str, str | None]]:
    return [(e.event, e.path) for e in events.since()]


async def test_queued_then_uploaded_with_path_and_code(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail("upload_server", TransientError("502 Bad Gateway"), times=1)  # one retry
    queue, events = await _queue(env, write_back=0)
    row = await env.new_file(queue, "a.mp4", fld_id=7)
    assert events.since() == []  # open for write: nothing queued yet
    await queue.touch(row.id)
    await queue.touch(row.id)  # a second close of the same bytes queues nothing new
    await eventually(lambda: bool(env.done))
    assert _kinds(events) == [("queued", "Clips/a.mp4"), ("uploaded", "Clips/a.mp4")]
    uploaded = events.since()[-1]
    assert uploaded.code == env.done[0].code and uploaded.code is not None
    assert (uploaded.source, uploaded.link, uploaded.detail) == ("upload", None, None)


async def test_a_held_temp_name_is_queued_when_renamed(env: Env, virtual_clock: MockClock) -> None:
    queue, events = await _queue(env)
    row = await env.new_file(queue, ".a.mp4.Xy12Zz")
    await queue.touch(row.id)
    assert events.since() == []  # held: not queued
    await queue.rename(row.id, "a.mp4", 7)
    assert _kinds(events) == [("queued", "Clips/a.mp4")]


async def test_a_new_version_after_an_upload_is_queued_again(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.upload_gate = trio.Event()  # the first attempt hangs until let go
    queue, events = await _queue(env, write_back=0)
    row = await env.new_file(queue, "a.mp4")
    await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 1)
    env.api.upload_gate.set()
    await eventually(lambda: bool(env.done))
    second = await env.new_file(queue, "a.mp4", b"other bytes")
    await queue.touch(second.id)
    assert [e.event for e in events.since()] == ["queued", "uploaded", "queued"]


async def test_failed_says_why(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail("upload_server", AuthError("Wrong auth", status=403))
    queue, events = await _queue(env, write_back=0)
    row = await env.new_file(queue, "clip.mp4")
    await queue.touch(row.id)
    await eventually(lambda: bool(env.failed))
    failed = events.since()[-1]
    assert (failed.event, failed.path) == ("failed", "clip.mp4")
    assert failed.detail is not None and "Wrong auth" in failed.detail


async def test_events_jsonl_shows_the_kept_events_as_lines() -> None:
    fs = make(FakeApi())
    fs.remote.events.emit("queued", path="Clips/a.mp4")
    fs.remote.events.emit("failed", path="Clips/a.mp4", detail="Not video file")
    vdir = await fs.lookup(ROOT_INO, ".vipfs")
    attr = await fs.lookup(vdir.ino, "events.jsonl")
    opened = await fs.open(attr.ino, os.O_RDONLY)
    lines = (await fs.read(opened.fh, 0, 1 << 20)).decode().splitlines()
    await fs.release(opened.fh)
    assert [json.loads(line)["event"] for line in lines] == ["queued", "failed"]
    assert lines == [e.line() for e in fs.remote.events.since()]
