"""A folder's named children: the full build over local knowledge, then one-entry changes."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import FileKey, FolderKey, QueuedKey
from vipfs.vfs.listing import Listing, Pending, file_entry, folder_entry, pending_entry
from vipfs.vfs.names import Titles
from vipfs.vfs.views import Views

NO_EXT = Titles("")


def entry(code: str, title: str, day: int = 1) -> FileEntry:
    return FileEntry(code, title, 0, datetime(2024, 1, day), None, None, True, False, None, None)


def test_full_build_names_from_titles_and_hides_what_the_queue_stands_for() -> None:
    raw = FolderListing(
        [Folder(7, "clip.mp4", "fc7")],
        [
            entry("aaa", "clip"),
            entry("bbb", "old version"),
            entry("ccc", "new clip vipfs-0123456789ab"),  # an upload whose answer is on its way
            entry("ddd", "episode"),
        ],
    )
    pending = [
        Pending(1, "old version.mp4", replaces="bbb"),
        Pending(2, "new clip.mp4", token="vipfs-0123456789ab"),
    ]
    listing = Listing(0, raw, exact={"ddd": "episode.mkv"}, pending=pending)
    names = {c.name: c.key for c in listing.children}
    assert names == {
        "clip.mp4": FolderKey(7),
        "clip [aaa].mp4": FileKey("aaa"),  # a file beside a folder of its name takes the suffix
        "episode.mkv": FileKey("ddd"),  # the LEGACY rule: old vipfs's title, the db's name
        "old version.mp4": QueuedKey(1),
        "new clip.mp4": QueuedKey(2),
    }
    assert listing.children[0].name == "clip.mp4"  # folders first


def test_one_entry_changes_rename_nothing_else() -> None:
    listing = Listing(
        0, FolderListing([], [entry("aaa", "a"), entry("bbb", "a", 2)]), titles=NO_EXT
    )
    assert {c.name for c in listing.children} == {"a", "a [bbb]"}
    assert listing.add(pending_entry(Pending(5, "a")), None) == "a [queued 5]"
    listing.remove(FileKey("aaa"))
    assert listing.child("a") is None and listing.child("a [bbb]") is not None  # stable names
    assert listing.add(file_entry(entry("ccc", "a"), NO_EXT), None) == "a"
    reserved = folder_entry(Folder(9, ".vipfs", None), NO_EXT)
    assert listing.add(reserved, None) == ".vipfs [9]"
    listing.add(file_entry(entry("ccc", "renamed"), Titles()), None)  # same key: replaced
    assert listing.child("a") is None and listing.child("renamed.mp4") is not None
    assert len(listing) == 4


def test_a_folder_never_lists_itself_or_the_root() -> None:
    """Host data that loops: a folder named as its own child, or the root as anyone's child."""
    raw = FolderListing(
        [Folder(7, "Self", None), Folder(0, "Root", None), Folder(8, "Child", None)], []
    )
    assert [c.name for c in Listing(7, raw).children] == ["Child"]


def test_a_title_changed_on_the_host_wins_over_the_db() -> None:
    """The db's exact name shows only while the host still has old vipfs's title for it."""
    raw = FolderListing([], [entry("aaa", "My_clip.v2"), entry("bbb", "retitled＿on the site")])
    listing = Listing(0, raw, exact={"aaa": "My_clip.v2.mkv", "bbb": "My_clip.v3.mkv"})
    assert {c.name for c in listing.children} == {"My_clip.v2.mkv", "retitled_on the site.mp4"}


def test_a_posted_title_hides_an_unknown_copy_in_its_folder_only() -> None:
    """A queued row's POST may have stored a copy whose code vipfs does not know yet: a file
    of exactly the title sent, in that folder, with a code the metadata does not hold."""
    raw = FolderListing([], [entry("aaa", "clip"), entry("bbb", "clip"), entry("ccc", "other")])
    pending = [Pending(1, "clip.mp4")]
    listing = Listing(
        4, raw, exact={"bbb": "clip.mp4"}, pending=pending, posted={(4, "clip"), (9, "other")}
    )
    names = {c.name: c.key for c in listing.children}
    assert names == {
        "clip.mp4": QueuedKey(1),
        "clip [bbb].mp4": FileKey("bbb"),  # known to the metadata: not a stand-in
        "other.mp4": FileKey("ccc"),  # posted into another folder
    }


def test_views_take_the_queues_stand_ins_as_they_are() -> None:
    queue = SimpleNamespace(stand_ins=lambda: ({"aaa"}, {(4, "clip")}))
    views = Views(cast(Any, SimpleNamespace(writes=SimpleNamespace(queue=queue))))
    assert views._stand_ins() == ({"aaa"}, {(4, "clip")})
    assert Views(cast(Any, SimpleNamespace(writes=None)))._stand_ins() == (set(), set())
