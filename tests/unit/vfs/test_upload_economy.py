"""Uploads that cost almost no API calls (issue 10, item 4), and the baseline flag.

The node URL is reused until it fails or ages; the name rides the POST, so no `file/edit`
follows unless the row changed while it uploaded; one upload per (folder, title) in flight;
`retitle=True` is the design before, call for call.
"""

from __future__ import annotations

import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import TITLES, Env, eventually
from tests.unit.vfs.fake_api import FakeApi
from vipfs.api.errors import NotSentError, ProtocolError, TransientError
from vipfs.vfs.upload_node import MAX_AGE, UploadNode


async def _upload_all(env: Env, names: list[str], **kw: object) -> None:
    queue = await env.start(write_back=0, titles=TITLES, **kw)
    for name in names:
        row = await env.new_file(queue, name)
        await queue.touch(row.id)
    await queue.wait_idle()


async def test_steady_state_uploads_cost_one_api_call_in_all(
    env: Env, virtual_clock: MockClock
) -> None:
    names = [f"clip_{i}.v2.mp4" for i in range(20)]
    await _upload_all(env, names, transfers=3)
    assert env.api.count("upload_file") == 20
    assert env.api.count("upload_server") == 1
    assert env.api.count("file_edit") == 0 and env.api.count("file_list_all") == 0
    titles = sorted(f.title for f in env.api.files.values())
    assert titles == sorted(TITLES.file_title(n) for n in names)  # the host took them as sent


async def test_the_baseline_asks_for_a_node_and_edits_every_file(
    env: Env, virtual_clock: MockClock
) -> None:
    await _upload_all(env, [f"clip{i}.mp4" for i in range(5)], retitle=True)
    assert env.api.count("upload_server") == 5 and env.api.count("file_edit") == 5
    sent = [args["title"] for op, args in env.api.calls if op == "upload_file"]
    assert all(str(title).split()[-1].startswith("vipfs-") for title in sent)


async def test_a_node_failure_fetches_the_url_again(env: Env, virtual_clock: MockClock) -> None:
    env.api.fail("upload_file", TransientError("HTTP 502 from the node", op="upload"))
    await _upload_all(env, ["a.mp4"])
    await _upload_all(env, ["b.mp4"])  # a new queue: asks once more
    assert env.api.count("upload_server") == 3  # first, after the failure, the new queue's
    servers = [op for op, _ in env.api.calls if op in ("upload_server", "upload_file")]
    assert servers[:4] == ["upload_server", "upload_file", "upload_server", "upload_file"]


async def test_a_refused_file_keeps_the_url(env: Env, virtual_clock: MockClock) -> None:
    queue = await env.start(write_back=0, titles=TITLES)
    bad = await env.new_file(queue, "notes.txt")
    await queue.touch(bad.id)
    await eventually(lambda: bool(queue.status().failed))
    good = await env.new_file(queue, "clip.mp4")
    await queue.touch(good.id)
    await eventually(lambda: bool(env.done))
    assert env.api.count("upload_server") == 1


class _Nodes(FakeApi):
    """A host handing out a new node URL per `upload/server`."""

    async def upload_server(self) -> str:
        await self._enter("upload_server")
        return f"http://node{self.count('upload_server')}.fake/upload"


async def test_upload_node_reuses_until_max_age_or_a_failure() -> None:
    now = [1000.0]
    api = _Nodes()
    node = UploadNode(api, lambda: now[0])
    first = await node.url()
    now[0] += MAX_AGE - 1
    assert await node.url() == first
    node.forget("http://somewhere.else/upload")  # a failure of an older URL changes nothing
    assert await node.url() == first and api.count("upload_server") == 1
    now[0] += 1
    second = await node.url()  # aged out
    assert second != first
    node.forget(second)
    third = await node.url()
    assert third not in (first, second) and api.count("upload_server") == 3
    baseline = UploadNode(api, lambda: now[0], reuse=False)
    assert await baseline.url() != await baseline.url()


async def test_slots_share_one_fetch(virtual_clock: MockClock) -> None:
    api = _Nodes()
    api.gate = trio.Event()
    node = UploadNode(api, trio.current_time)
    urls: list[str] = []

    async def get() -> None:
        urls.append(await node.url())

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(get)
        await trio.sleep(1)
        api.gate.set()
    assert urls == ["http://node1.fake/upload"] * 3


async def test_errors_that_may_mean_a_stale_node_all_refetch(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.fail("upload_file", NotSentError("connection refused", op="upload"))
    env.api.fail("upload_file", ProtocolError("node answered HTML (404)", op="upload"))
    await _upload_all(env, ["a.mp4"])
    assert env.api.count("upload_file") == 3 and env.api.count("upload_server") == 3


async def test_only_a_change_during_the_upload_costs_an_edit(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.upload_gate = trio.Event()
    queue = await env.start(write_back=0, titles=TITLES, transfers=2)
    moved = await env.new_file(queue, "first.mp4")
    tagged = await env.new_file(queue, "second.mp4")
    still = await env.new_file(queue, "third.mp4")
    for row in (moved, tagged, still):
        await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 2)  # two slots: the third waits
    await queue.rename(moved.id, "renamed.mp4", 9)
    await queue.set_meta(tagged.id, tags="cats")
    env.api.upload_gate.set()
    await queue.wait_idle()
    edits = [args for op, args in env.api.calls if op == "file_edit"]
    assert len(edits) == 2
    by_code = {d.name: d.code for d in env.done}
    renamed = env.api.files[by_code["renamed.mp4"] or ""]
    assert (renamed.title, renamed.fld_id) == (TITLES.file_title("renamed.mp4"), 9)
    assert env.api.files[by_code["second.mp4"] or ""].tags == "cats"
    assert by_code["third.mp4"] not in {e["codes"] for e in edits}


async def test_one_upload_per_folder_and_title_in_flight(
    env: Env, virtual_clock: MockClock
) -> None:
    env.api.upload_gate = trio.Event()
    queue = await env.start(write_back=0, titles=TITLES, transfers=3)
    same = [await env.new_file(queue, "clip.mp4", fld_id=4) for _ in range(2)]
    other = await env.new_file(queue, "clip.mp4", fld_id=5)  # another folder: no conflict
    for row in [*same, other]:
        await queue.touch(row.id)
    await eventually(lambda: env.api.count("upload_file") == 2)
    await trio.sleep(60)
    posted = [args["fld_id"] for op, args in env.api.calls if op == "upload_file"]
    assert sorted(posted) == [4, 5]  # the second (4, clip) waits for the first to end
    assert len(queue.status().uploading) == 2
    env.api.upload_gate.set()
    await queue.wait_idle()
    assert env.api.count("upload_file") == 3 and len(env.done) == 3
