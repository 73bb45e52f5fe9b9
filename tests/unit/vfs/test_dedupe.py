"""Copies without bytes (issue 12, item 6): the queue clones a file vipfs uploaded instead of
posting the same bytes again; refusals fall back to the POST; a lost answer never duplicates."""

from __future__ import annotations

import hashlib

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import TITLES, Env, eventually
from tests.unit.vfs.writable import CloningApi
from vipfs.api.errors import RequestRejectedError, UnsupportedError
from vipfs.api.records import CloneResult
from vipfs.vfs.events import Events
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import FileMeta
from vipfs.vfs.uploads import UploadQueue

DATA = b"the same video bytes" * 50


@pytest.fixture
def api(env: Env) -> CloningApi:
    env.api = CloningApi()
    return env.api


async def _copy(env: Env, queue: UploadQueue, name: str, data: bytes = DATA, fld: int = 0) -> str:
    """A file copied in and uploaded (or cloned): its code on the host."""
    row = await env.new_file(queue, name, data, fld_id=fld)
    await queue.touch(row.id)
    await eventually(lambda: any(d.id == row.id for d in env.done))
    (done,) = (d for d in env.done if d.id == row.id)
    assert done.code is not None
    return done.code


async def test_the_second_copy_is_one_clone_not_an_upload(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    features = HostFeatures()
    queue = await env.start(dedupe=True, features=features)
    first = await _copy(env, queue, "a.mp4")
    fld = api.add_folder("Other")
    calls = len(api.calls)
    second = await _copy(env, queue, "b copy.mp4", fld=fld)

    ops = [op for op, _ in api.calls[calls:]]
    assert ops == ["file_clone"]  # one call: no upload, no edit, no look-up
    (clone,) = (args for op, args in api.calls if op == "file_clone")
    assert clone == {"code": first, "title": TITLES.file_title("b copy.mp4"), "fld_id": fld}
    assert api.files[second].data == DATA and api.files[second].fld_id == fld
    meta = env.metadata.meta(second)
    assert meta == FileMeta(
        code=second,
        name="b copy.mp4",
        fld_id=fld,
        size=len(DATA),
        mtime_ns=0,
        mode=0o644,
        sha256=hashlib.sha256(DATA).hexdigest(),
        tags="",
        descr=None,
    )
    assert env.metadata.same_content(len(DATA), meta.sha256 or "") == [first, second]


async def test_dedupe_off_uploads_every_copy(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start()  # the queue's default; the mount's is --dedupe clone
    await _copy(env, queue, "a.mp4")
    await _copy(env, queue, "b.mp4")
    assert api.count("upload_file") == 2 and api.count("file_clone") == 0


async def test_other_bytes_or_a_size_mismatch_upload(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    await _copy(env, queue, "a.mp4")
    await _copy(env, queue, "b.mp4", DATA + b"!")
    assert api.count("upload_file") == 2 and api.count("file_clone") == 0


async def test_only_a_file_vipfs_recorded_with_a_sha256_is_a_source(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    """A host file with the same bytes that vipfs did not upload (no sha256 recorded) is
    foreign: never cloned."""
    foreign = api.add_file("foreign")
    api.files[foreign].data = DATA
    await env.db.put_file(FileMeta(foreign, "foreign.mp4", 0, len(DATA), 0, 0o644))
    queue = await env.start(dedupe=True)
    await _copy(env, queue, "a.mp4")
    assert api.count("upload_file") == 1 and api.count("file_clone") == 0


async def test_clone_disabled_falls_back_to_the_upload_and_is_not_tried_again(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    features = HostFeatures()
    queue = await env.start(dedupe=True, features=features)
    await _copy(env, queue, "a.mp4")
    api.fail("file_clone", UnsupportedError("This function not allowed in API", status=403))
    second = await _copy(env, queue, "b.mp4")
    assert api.count("file_clone") == 1 and api.count("upload_file") == 2
    assert not features.clone
    assert api.files[second].title == TITLES.file_title("b.mp4")
    await _copy(env, queue, "c.mp4")
    assert api.count("file_clone") == 1 and api.count("upload_file") == 3


async def test_a_gone_source_falls_back_and_is_forgotten(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    first = await _copy(env, queue, "a.mp4")
    del api.files[first]  # deleted on the web site: the host answers 404 No file
    second = await _copy(env, queue, "b.mp4")
    assert api.count("upload_file") == 2
    meta = env.metadata.meta(first)
    assert meta is not None and meta.sha256 is None  # never offered again
    assert (await env.db.get_file(first)).sha256 is None  # type: ignore[union-attr]
    await _copy(env, queue, "c.mp4")  # the upload that replaced it is the source now
    clones = [args["code"] for op, args in api.calls if op == "file_clone"]
    assert clones == [first, second] and api.count("upload_file") == 2


async def test_another_refusal_falls_back_to_the_upload(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    first = await _copy(env, queue, "a.mp4")
    api.fail("file_clone", RequestRejectedError("Invalid file name", status=400))
    await _copy(env, queue, "b.mp4")
    assert api.count("upload_file") == 2
    assert env.metadata.meta(first).sha256  # type: ignore[union-attr]


async def test_a_blocked_source_is_never_cloned(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    first = await _copy(env, queue, "a.mp4")
    assert queue.dedupe is not None and not queue.dedupe.is_blocked(first)
    queue.dedupe.blocked = {first}.__contains__  # DMCA'd or deleted by the host
    second = await _copy(env, queue, "b.mp4")
    assert api.count("file_clone") == 0 and api.count("upload_file") == 2
    await _copy(env, queue, "c.mp4")
    assert [args["code"] for op, args in api.calls if op == "file_clone"] == [second]


async def test_a_lost_clone_answer_is_proven_on_retry_never_cloned_twice(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    first = await _copy(env, queue, "a.mp4")
    api.lost_clones = 1
    row = await env.new_file(queue, "b.mp4", DATA)
    await queue.touch(row.id)
    await eventually(lambda: api.count("file_clone") == 1)
    await eventually(lambda: any(d.id == row.id for d in env.done))
    (done,) = (d for d in env.done if d.id == row.id)
    titled = [c for c, f in api.files.items() if f.title == TITLES.file_title("b.mp4")]
    assert titled == [done.code] and done.code != first
    assert api.count("file_clone") == 1 and api.count("upload_file") == 1
    assert api.count("file_list_all") == 1  # the title proof of the posted_* record


async def test_a_crash_during_the_clone_is_settled_by_the_proof(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    await _copy(env, queue, "a.mp4")
    api.gate = trio.Event()  # the clone call hangs
    row = await env.new_file(queue, "b.mp4", DATA)
    await queue.touch(row.id)
    await eventually(lambda: api.count("file_clone") == 1)
    stored = await env.db.get_upload(row.id)
    assert stored is not None and stored.posted_title == TITLES.file_title("b.mp4")
    assert stored.posted_fld == 0 and stored.posted_at is not None
    env.crash()
    api.gate = None
    # the node had stored it before vipfs died
    await api.file_clone(api.calls[-1][1]["code"], title=stored.posted_title, fld_id=0)
    env.done.clear()
    await env.start(dedupe=True)
    await eventually(lambda: bool(env.done))
    titled = [c for c, f in api.files.items() if f.title == stored.posted_title]
    assert titled == [env.done[0].code]
    assert api.count("file_clone") == 2  # the hung one (stored by hand here) and no other
    assert api.count("upload_file") == 1


async def test_the_clone_gets_the_rows_tags_and_description(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    await _copy(env, queue, "a.mp4")
    row = await env.new_file(queue, "b.mp4", DATA)
    await queue.set_meta(row.id, tags="cats, dogs", descr="a clip")
    await queue.touch(row.id)
    await eventually(lambda: any(d.id == row.id for d in env.done))
    code = env.done[-1].code
    assert code is not None
    ((_, edit),) = [(op, a) for op, a in api.calls if op == "file_edit"]
    assert edit["codes"] == code and edit["tags"] == "cats, dogs" and edit["descr"] == "a clip"
    meta = env.metadata.meta(code)
    assert meta is not None and (meta.tags, meta.descr) == ("cats, dogs", "a clip")


async def test_the_sha256_index_follows_every_change(env: Env, virtual_clock: MockClock) -> None:
    metadata = Metadata(env.db)
    await metadata.put(FileMeta("code00000001", "a.mp4", 0, 5, 0, 0o644, sha256="s1"))
    await metadata.put(FileMeta("code00000002", "b.mp4", 0, 5, 0, 0o644, sha256="s1"))
    await metadata.put(FileMeta("code00000003", "c.mp4", 0, 6, 0, 0o644, sha256="s1"))
    assert metadata.same_content(5, "s1") == ["code00000001", "code00000002"]
    await metadata.update("code00000001", sha256="s2")
    assert metadata.same_content(5, "s1") == ["code00000002"]
    assert metadata.same_content(5, "s2") == ["code00000001"]
    await metadata.drop("code00000002")
    assert metadata.same_content(5, "s1") == []
    reloaded = Metadata(env.db)
    await reloaded.load()
    assert reloaded.same_content(5, "s2") == ["code00000001"]
    assert reloaded.same_content(6, "s1") == ["code00000003"]


async def test_a_clone_answer_naming_a_known_code_is_never_recorded(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    """A hostile answer naming the source's own code would put the copy in its place: it is a
    protocol error, the retry's proof finds the real clone, the source keeps its record."""
    queue = await env.start(dedupe=True)
    first = await _copy(env, queue, "a.mp4")
    real = api.file_clone

    async def lying(code: str, *, title: str | None = None, fld_id: int | None = None) -> object:
        api.file_clone = real  # type: ignore[method-assign]
        await real(code, title=title, fld_id=fld_id)  # stored, but the answer lies
        return CloneResult(first, None)

    api.file_clone = lying  # type: ignore[assignment]
    second = await _copy(env, queue, "b.mp4")
    assert second != first and api.files[second].title == TITLES.file_title("b.mp4")
    assert env.metadata.meta(first).name == "a.mp4"  # type: ignore[union-attr]
    assert api.count("file_clone") == 1 and api.count("upload_file") == 1


async def test_a_clone_is_announced_as_uploaded_from_clone(
    env: Env, api: CloningApi, virtual_clock: MockClock
) -> None:
    queue = await env.start(dedupe=True)
    events = Events(clock=lambda: 1_790_000_000.0)
    events.folder_path = {0: ""}.get
    queue.events = events
    first = await _copy(env, queue, "a.mp4")
    second = await _copy(env, queue, "b.mp4")
    uploaded = [(e.path, e.code, e.source) for e in events.since() if e.event == "uploaded"]
    assert uploaded == [("a.mp4", first, "upload"), ("b.mp4", second, "clone")]
