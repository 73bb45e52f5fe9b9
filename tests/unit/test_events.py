"""The event stream: paths resolved from folder and name, sequence numbers, the ring, and
listeners that fail without undoing the emit."""

from __future__ import annotations

import pytest

from vipfs.vfs.events import RING, Event, Events, jsonl, merged


def _events() -> Events:
    events = Events(clock=lambda: 1_790_000_000.0)
    events.folder_path = {0: "", 7: "Clips/New"}.get
    return events


def test_path_is_resolved_from_folder_and_name() -> None:
    events = _events()
    assert events.emit("queued", fld_id=7, name="a.mp4").path == "Clips/New/a.mp4"
    assert events.emit("queued", fld_id=0, name="b.mp4").path == "b.mp4"
    assert events.emit("queued", fld_id=9, name="c.mp4").path is None  # folder not known
    assert events.emit("ready", path="given/d.mp4", fld_id=7, name="x").path == "given/d.mp4"


def test_seq_grows_and_time_is_utc_iso() -> None:
    events = _events()
    first = events.emit("uploaded", code="abcdefghijkl", link="https://h/abcdefghijkl.html")
    second = events.emit("ready", code="abcdefghijkl")
    assert (first.seq, second.seq) == (1, 2)
    assert first.time == "2026-09-21T14:13:20Z"
    assert [e.seq for e in events.since(1)] == [2]
    assert first.to_json()["event"] == "uploaded"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        _events().emit("exploded")


def test_ring_keeps_the_last_events() -> None:
    events = _events()
    for _ in range(RING + 5):
        events.emit("queued")
    kept = events.since()
    assert len(kept) == RING and kept[0].seq == 6


def test_a_failing_listener_does_not_stop_the_others() -> None:
    events = _events()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("bug")

    events.listen(broken)
    events.listen(seen.append)
    event = events.emit("failed", detail="file is too big")
    assert seen == [event]


def test_the_link_comes_from_the_listing_when_not_given() -> None:
    events = _events()
    listed_links = {(7, "abcdefghijkl"): "https://h/abcdefghijkl.html"}
    events.link_of = lambda fld_id, code: listed_links.get((fld_id, code))
    listed = events.emit("uploaded", fld_id=7, name="a.mp4", code="abcdefghijkl")
    assert listed.link == "https://h/abcdefghijkl.html"
    assert events.emit("uploaded", fld_id=7, name="b.mp4", code="notlisted123").link is None
    given = events.emit("ready", fld_id=7, code="abcdefghijkl", link="https://other/x")
    assert given.link == "https://other/x"


def test_a_member_names_itself_in_every_event_and_json_line() -> None:
    plain = _events().emit("queued", path="a.mp4")
    assert plain.member is None and plain.to_json()["member"] is None  # one host: null
    events = _events()
    events.member = "wish"
    event = events.emit("queued", path="a.mp4")
    assert event.member == "wish"
    assert Event.from_json(event.to_json()) == event


def test_a_log_line_from_before_mirrors_still_reads() -> None:
    old = _events().emit("ready", path="a.mp4").to_json()
    del old["member"]
    assert Event.from_json(old) is not None
    assert Event.from_json({**old, "member": 3}) is None  # a member is a name or nothing


def test_merged_streams_are_one_history_by_time() -> None:
    clock = iter([30.0, 10.0, 20.0, 10.0])
    vip = Events(clock=lambda: next(clock))
    wish = Events(clock=lambda: next(clock))
    vip.member, wish.member = "vip", "wish"
    vip.emit("queued", path="late")  # 30
    wish.emit("queued", path="early")  # 10
    wish.emit("uploaded", path="middle")  # 20
    vip.emit("queued", path="tie")  # 10, after wish's 10: the streams' order breaks the tie
    order = [(e.member, e.path) for e in merged([vip, wish])]
    assert order == [("vip", "tie"), ("wish", "early"), ("wish", "middle"), ("vip", "late")]
    lines = jsonl(merged([vip, wish])).decode().splitlines()
    assert len(lines) == 4 and '"member": "vip"' in lines[0]
