"""The host-state polls: what they ask, how often, what they say and which events they emit."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import pytest
import trio

from vipfs.api import lanes
from vipfs.api.errors import TransientError
from vipfs.api.lanes import Lane
from vipfs.api.records import DeletedFile, DmcaFile, Encoding, FileEntry, FileInfo
from vipfs.vfs.events import Event, Events
from vipfs.vfs.hoststates import FIRST_LAST_HOURS, SETTLE, HostStates, Seen, Where
from vipfs.vfs.xattrs import file_status

A, B, C = "aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"


class Host:
    """The four calls, answering what a test sets, recording (call, argument, lane, time)."""

    def __init__(self) -> None:
        self.encoding: dict[str, int] = {}  # code → progress, as file/encodings lists it
        self.playable: set[str] = set()
        self.dmca: list[DmcaFile] = []
        self.deleted: list[DeletedFile] = []
        self.calls: list[tuple[str, object, Lane, float]] = []
        self.fail = False

    def _log(self, op: str, arg: object) -> None:
        self.calls.append((op, arg, lanes.current(), trio.current_time()))
        if self.fail:
            raise TransientError("host down")

    def count(self, op: str) -> int:
        return sum(1 for call in self.calls if call[0] == op)

    async def file_encodings(self, code: str | None = None) -> list[Encoding]:
        self._log("encodings", code)
        return [
            Encoding(code, None, "n", "ENCODING", progress, None)
            for code, progress in self.encoding.items()
        ] + [Encoding("../etc/passwd", None, "n", "ENCODING", 5, None)]  # hostile: dropped

    async def file_info(self, codes: Sequence[str]) -> list[FileInfo]:
        self._log("info", list(codes))
        return [FileInfo(code, 200, canplay=code in self.playable) for code in codes]

    async def file_dmca(self, last_hours: int = 720) -> list[DmcaFile]:
        self._log("dmca", last_hours)
        return self.dmca

    async def file_deleted(self, last_hours: int = 720) -> list[DeletedFile]:
        self._log("deleted", last_hours)
        return self.deleted


def states(host: Host, events: Events, **kw: float) -> HostStates:
    kw.setdefault("encoding_poll", 30)
    kw.setdefault("takedown_poll", 300)
    hosts = HostStates(host, events, clock=trio.current_time, **kw)
    hosts.locate = lambda code: Where(7, f"{code}.mp4", f"https://h/{code}.html")
    return hosts


def entry(code: str, canplay: bool = False) -> FileEntry:
    return FileEntry(code, "t", 7, None, None, None, canplay, False, None, None)


def status(hosts: HostStates, code: str) -> str:
    return file_status(entry(code), None, hosts.seen(code))


async def test_upload_goes_uploaded_encoding_ready(autojump_clock: object) -> None:
    host, events = Host(), Events()
    got: list[Event] = []
    events.listen(got.append)
    hosts = states(host, events, takedown_poll=0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hosts.run)
        await trio.sleep(100)
        assert host.calls == []  # nothing uploaded: no poll at all
        hosts.uploaded(A)
        assert status(hosts, A) == "uploaded"
        host.encoding[A] = 40
        await trio.sleep(SETTLE / 2)
        assert status(hosts, A) == "uploaded" and host.calls == []  # waits for more uploads
        await trio.sleep(SETTLE)
        assert status(hosts, A) == "encoding 40%"
        assert hosts.to_json()["encoding"] == [{"code": A, "progress": 40}]
        del host.encoding[A]  # left the list, not playable yet: asked with file/info
        await trio.sleep(31)
        assert host.count("info") == 1 and status(hosts, A) == "encoding"
        host.playable.add(A)
        await trio.sleep(30)
        assert status(hosts, A) == "ready"
        assert [(e.event, e.code, e.source, e.path) for e in got] == [
            ("ready", A, "host", None)  # no inode table here: the path is not known
        ]
        calls = len(host.calls)
        await trio.sleep(3600)
        assert len(host.calls) == calls  # nothing left to watch: the poll sleeps
        nursery.cancel_scope.cancel()
    assert {call[2] for call in host.calls} == {Lane.BACKGROUND}


async def test_one_encodings_call_per_interval_however_many_uploads(
    autojump_clock: object,
) -> None:
    host = Host()
    hosts = states(host, Events(), takedown_poll=0)
    codes = [f"{i:012d}" for i in range(120)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hosts.run)
        start = trio.current_time()
        for code in codes:
            hosts.uploaded(code)
            await trio.sleep(1)
        host.playable.update(codes)
        await trio.sleep(300)
        nursery.cancel_scope.cancel()
    times = [t for op, _, _, t in host.calls if op == "encodings"]
    assert all(b - a >= 30 for a, b in itertools.pairwise(times))
    assert len(times) <= (times[-1] - start) // 30 + 1
    assert host.count("info") <= len(times)  # one file/info per poll (the client sends 50 a call)
    assert all(hosts.seen(code).ready for code in codes)


async def test_takedowns_ask_since_last_poll_and_emit_once(autojump_clock: object) -> None:
    host, events = Host(), Events()
    got: list[Event] = []
    events.listen(got.append)
    hosts = states(host, events, encoding_poll=0)
    host.dmca = [DmcaFile(A, 11 * 3600 - 60, None), DmcaFile("bad code!", 1, None)]
    host.deleted = [
        DeletedFile(B, "t", "admin", 40, None),
        DeletedFile(C, "t", "me", 40, None),  # the owner's own deletion: no event
    ]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hosts.run)
        await trio.sleep(299)
        assert host.calls == []  # a mount that just came up is quiet
        await trio.sleep(2)
        assert status(hosts, A) == "dmca: deleted in 11h"
        assert status(hosts, B) == "deleted by host"
        assert status(hosts, C) == "encoding"  # only what the listing says
        await trio.sleep(3 * 300)
        nursery.cancel_scope.cancel()
    asked = [arg for op, arg, _, _ in host.calls if op == "dmca"]
    assert asked == [FIRST_LAST_HOURS, 2, 2, 2]  # hours since the last answer, plus one
    assert [arg for op, arg, _, _ in host.calls if op == "deleted"] == asked
    assert [(e.event, e.code, e.detail, e.path) for e in got] == [
        ("dmca", A, "deleted in 11h", None),
        ("deleted", B, "admin", None),
    ]
    assert hosts.to_json()["deleted"] == [{"code": B, "by": "admin"}]
    assert hosts.to_json()["dmca"] == [{"code": A, "hours_left": 11}]
    host.dmca = []
    await trio.sleep(36 * 3600)  # a day past its deadline, and no longer reported
    await hosts.poll_takedowns()
    assert hosts.to_json()["dmca"] == [] and len(got) == 2


async def test_deleted_only_for_files_vipfs_knows(autojump_clock: object) -> None:
    host = Host()
    hosts = states(host, Events(), encoding_poll=0)
    hosts.locate = lambda code: Where(0, "mine.mp4") if code == A else None
    host.deleted = [
        DeletedFile(A, "t", "expired", 1, None),
        DeletedFile(B, "t", "admin\nVIPFS_KEY=x", 1, None),  # not known here: ignored
    ]
    await hosts.poll_takedowns()
    assert hosts.seen(A).deleted_by == "expired"
    assert hosts.seen(B) == Seen()


async def test_a_failing_host_is_retried_at_the_next_interval(
    autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "vipfs.vfs.hoststates")
    host = Host()
    host.fail = True
    hosts = states(host, Events(), encoding_poll=0, takedown_poll=60)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hosts.run)
        await trio.sleep(125)
        host.fail = False
        host.dmca = [DmcaFile(A, 3600, None)]
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    assert host.count("dmca") == 3 and hosts.seen(A).dmca
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "could not poll file/dmca and file/deleted: host down",
        "polling file/dmca and file/deleted works again",
    ]
    # the first answer came after three failures: it still asks for the first window
    assert [arg for op, arg, _, _ in host.calls if op == "dmca"][-1] == FIRST_LAST_HOURS


async def test_remount_watches_only_what_the_host_still_encodes(autojump_clock: object) -> None:
    host, events = Host(), Events()
    got: list[Event] = []
    events.listen(got.append)
    hosts = states(host, events, takedown_poll=0)
    host.encoding[A] = 70
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hosts.run, [A, B])  # both recorded; B finished while unmounted
        await trio.sleep(30)
        assert host.calls == []  # a mount that just came up is quiet
        await trio.sleep(2)
        assert status(hosts, A) == "encoding 70%" and not hosts.seen(B).watched
        del host.encoding[A]
        host.playable.add(A)
        await trio.sleep(31)
        nursery.cancel_scope.cancel()
    assert [(e.event, e.code) for e in got] == [("ready", A)]
    assert [arg for op, arg, _, _ in host.calls if op == "info"] == [[A]]


async def test_polls_off() -> None:
    hosts = states(Host(), Events(), encoding_poll=0, takedown_poll=0)
    hosts.uploaded(A)
    assert not hosts.seen(A).watched  # nothing would ever answer: the listing's canplay says
    with trio.fail_after(1):
        await hosts.run([A])  # returns at once: nothing to run


def test_status_words_in_order_of_weight() -> None:
    """A takedown outweighs everything; a watched upload's poll answer outweighs the listing."""
    playable = entry(A, canplay=True)
    assert file_status(playable, None, Seen(deleted_by="admin", dmca=True)) == "deleted by host"
    assert file_status(playable, None, Seen(dmca=True, dmca_left=3601)) == "dmca: deleted in 2h"
    assert file_status(playable, None, Seen(dmca=True, dmca_left=-5)) == "dmca: deleted in 0h"
    assert file_status(playable, None, Seen(dmca=True)) == "dmca"
    assert file_status(playable, FileInfo(A, 451), Seen()) == "dmca"  # file/info knew first
    assert file_status(entry(A), None, Seen(ready=True)) == "ready"
    assert file_status(playable, None, Seen(watched=True)) == "uploaded"
    assert file_status(playable, None, Seen(watched=True, answered=True, progress=7)) == (
        "encoding 7%"
    )
    assert file_status(entry(A), None, Seen(watched=True, answered=True)) == "encoding"
    assert file_status(playable, None, Seen()) == "ready"
    assert file_status(entry(A), FileInfo(A, 200, canplay=True), Seen()) == "ready"
