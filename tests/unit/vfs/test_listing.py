"""A folder's named children: the full build over local knowledge, then one-entry changes."""

from __future__ import annotations

from datetime import datetime

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import FileKey, FolderKey, QueuedKey
from vipfs.vfs.listing import Listing, Pending, file_entry, folder_entry, pending_entry


def entry(code: str, title: str, day: int = 1) -> FileEntry:
    return FileEntry(code, title, 0, datetime(2024, 1, day), None, None, True, False, None, None)


def test_full_build_uses_exact_names_and_hides_what_the_queue_stands_for() -> None:
    raw = FolderListing(
        [Folder(7, "clip", "fc7")],
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
        "clip": FolderKey(7),
        "clip [aaa]": FileKey("aaa"),  # a file beside a folder of its name takes the suffix
        "episode.mkv": FileKey("ddd"),
        "old version.mp4": QueuedKey(1),
        "new clip.mp4": QueuedKey(2),
    }
    assert listing.children[0].name == "clip"  # folders first


def test_one_entry_changes_rename_nothing_else() -> None:
    listing = Listing(0, FolderListing([], [entry("aaa", "a"), entry("bbb", "a", 2)]))
    assert {c.name for c in listing.children} == {"a", "a [bbb]"}
    assert listing.add(pending_entry(Pending(5, "a")), None) == "a [queued 5]"
    listing.remove(FileKey("aaa"))
    assert listing.child("a") is None and listing.child("a [bbb]") is not None  # stable names
    assert listing.add(file_entry(entry("ccc", "x"), "a"), None) == "a"
    assert listing.add(folder_entry(Folder(9, ".vipfs", None)), None) == ".vipfs [9]"  # reserved
    listing.add(file_entry(entry("ccc", "x"), "renamed.mp4"), None)  # same key: replaced
    assert listing.child("a") is None and listing.child("renamed.mp4") is not None
    assert len(listing) == 4


def test_a_folder_never_lists_itself_or_the_root() -> None:
    """Host data that loops: a folder named as its own child, or the root as anyone's child."""
    raw = FolderListing(
        [Folder(7, "Self", None), Folder(0, "Root", None), Folder(8, "Child", None)], []
    )
    assert [c.name for c in Listing(7, raw).children] == ["Child"]
