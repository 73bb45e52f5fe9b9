"""Our own changes, laid over folder listings until the server's answers show them.

Hosts can be eventually consistent: a new upload or folder may be missing from `folder/list`
for a while, and a cached (stale) answer may still show what was just moved or removed. A
listing fetched in that window must not make the user's own change flicker away (or come
back), so every change the facade makes is noted here per folder, and applied to each
listing answer for `hold` seconds: added entries win over what the answer says of them,
removed ones stay hidden. After that the server's word is final again.

Owns: the per-folder notes of our own changes and their hold time.
Imports: `vipfs.api.records`, `vipfs.vfs.inodes` (the entry keys).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import EntryKey, FileKey, FolderKey

HOLD = 600.0  # seconds: well past any host's listing delay or stale-read window


def key_of(entry: FileEntry | Folder) -> EntryKey:
    return FileKey(entry.code) if isinstance(entry, FileEntry) else FolderKey(entry.fld_id)


@dataclass(slots=True)
class _Note:
    entry: FileEntry | Folder | None  # None: removed from this folder
    until: float


class Journal:
    def __init__(self, *, hold: float = HOLD, clock: Callable[[], float] = time.monotonic):
        self.hold = hold
        self._clock = clock
        self._notes: dict[int, dict[EntryKey, _Note]] = {}

    def added(self, fld_id: int, entry: FileEntry | Folder) -> None:
        self._notes.setdefault(fld_id, {})[key_of(entry)] = _Note(entry, self._until())

    def removed(self, fld_id: int, key: EntryKey) -> None:
        self._notes.setdefault(fld_id, {})[key] = _Note(None, self._until())

    def now(self) -> float:
        """The journal's clock (the host's, for its parts)."""
        return self._clock()

    def forget(self, fld_id: int, key: EntryKey) -> None:
        """Drop the note on `key`: the server's word on it is final now."""
        notes = self._notes.get(fld_id)
        if notes is not None:
            notes.pop(key, None)

    def _until(self) -> float:
        return self._clock() + self.hold

    def apply(self, fld_id: int, raw: FolderListing) -> FolderListing:
        """`raw` with this folder's live notes applied (the same object when there are none)."""
        notes = self._notes.get(fld_id)
        if not notes:
            return raw
        now = self._clock()
        for key in [k for k, n in notes.items() if n.until <= now]:
            del notes[key]
        if not notes:
            del self._notes[fld_id]
            return raw
        folders = [f for f in raw.folders if FolderKey(f.fld_id) not in notes]
        files = [f for f in raw.files if FileKey(f.code) not in notes]
        for note in notes.values():
            if isinstance(note.entry, Folder):
                folders.append(note.entry)
            elif isinstance(note.entry, FileEntry):
                files.append(note.entry)
        return FolderListing(folders, files)
