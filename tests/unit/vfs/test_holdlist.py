"""The hold list: temp names that must not upload before their rename."""

from __future__ import annotations

import pytest

from vipfs.vfs.holdlist import DEFAULT_PATTERNS, HoldList


@pytest.mark.parametrize(
    "name",
    [
        ".clip.mp4.a1B2c3",  # rsync
        ".x.Zz9aQ0",
        "movie.mp4.part",
        "movie.mp4.crdownload",
        ".~lock.notes.odt#",
        ".clip.mp4.swp",
        "upload.tmp",
        ".nfs000000000123abcd00000001",
        ".goutputstream-6XQ1Q2",
    ],
)
def test_default_patterns_hold_temp_names(name: str) -> None:
    assert HoldList().holds(name)


@pytest.mark.parametrize(
    "name",
    ["clip.mp4", ".hidden.mp4", "movie.part.mp4", "a.tmp.mkv", ".clip.mp4.abc12", "part"],
)
def test_ordinary_names_are_not_held(name: str) -> None:
    assert not HoldList().holds(name)


def test_parse_replaces_or_extends_defaults() -> None:
    only = HoldList.parse("*.x, *.y", idle=10)
    assert only.holds("a.x") and only.holds("b.y")
    assert not only.holds("c.part")
    assert only.idle == 10

    more = HoldList.parse("+*.x")
    assert more.holds("a.x") and more.holds("c.part")
    assert more.patterns[: len(DEFAULT_PATTERNS)] == DEFAULT_PATTERNS


def test_empty_spec_holds_nothing() -> None:
    assert not HoldList.parse("").holds(".clip.mp4.a1B2c3")


def test_negative_idle_is_refused() -> None:
    with pytest.raises(ValueError):
        HoldList(idle=-1)
