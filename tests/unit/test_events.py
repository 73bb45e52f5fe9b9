"""The event stream: paths resolved from folder and name, sequence numbers, the ring, and
listeners that fail without undoing the emit."""

from __future__ import annotations

import pytest

from vipfs.vfs.events import RING, Event, Events


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
