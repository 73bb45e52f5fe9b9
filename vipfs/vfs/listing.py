"""One folder's children, named: a `folder/list?files=1` answer turned into a name table.

Built once per fetched listing (one API call fills the whole folder: no per-file calls) and
again when one of our own changes touches the folder, so lookups and readdir of the folder are
dictionary reads. Names come from the host's titles through `Titles` (the same on any machine),
with two local sources over the server's answer:
* `exact`: the filename vipfs wrote for a file code (the local database). It wins only under
  the LEGACY rule (`Titles.listed_file_name`): files uploaded before the title encoding, whose
  title is still the one old vipfs gave them, keep the name they were written under;
* `pending`: files still in the upload queue. They show under their own name from the moment
  they are created; the server's copy of one (found by code, by the upload token in its title,
  or by the exact title a row's POST sent into this folder, for a code the metadata does not
  know yet) stays hidden until the queue says it is done, so a listing that catches up
  mid-upload never shows the file twice.

Owns: naming one folder's children over local knowledge, and one-entry edits of that.
Imports: `vipfs.api.records`, `vipfs.vfs.inodes` (keys), `vipfs.vfs.names` (every naming rule).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import FileKey, FolderKey, NodeKey, QueuedKey
from vipfs.vfs.names import (
    Entry,
    Titles,
    assign_names,
    file_order,
    host_text,
    title_token,
    unique_name,
)

VIRTUAL_DIR = ".vipfs"


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    key: NodeKey
    entry: FileEntry | Folder | None


@dataclass(frozen=True, slots=True)
class Pending:
    """A queued file of this folder: its name, and what on the server it stands for."""

    upload_id: int
    name: str
    token: str = ""
    code: str | None = None  # the server's copy, once the upload returned it
    replaces: str | None = None  # the uploaded file this one overwrites


def folder_entry(folder: Folder, titles: Titles) -> Entry:
    return Entry(
        key=FolderKey(folder.fld_id),
        name=titles.folder_name(folder.name),
        is_dir=True,
        suffix=folder.code or str(folder.fld_id),
        order=(0, None, folder.fld_id),
    )


def file_entry(file: FileEntry, titles: Titles, exact: str = "") -> Entry:
    """`exact`: the name the local database holds for the file ("" when none)."""
    return Entry(
        key=FileKey(file.code),
        name=titles.listed_file_name(file.title, exact),
        is_dir=False,
        suffix=file.code,
        order=file_order(file.uploaded, file.code),
    )


def pending_entry(item: Pending) -> Entry:
    return Entry(
        key=QueuedKey(item.upload_id),
        name=item.name,
        is_dir=False,
        suffix=f"queued {item.upload_id}",
        order=(-1, None, item.upload_id),  # in a full build, the name just written keeps it
    )


class Listing:
    """The named children of one folder. Built whole from a server answer; then changed one
    entry at a time by our own changes (`add`, `remove`), without renaming anything else, so
    a write into a folder of 10,000 files costs no more than one into an empty one."""

    def __init__(
        self,
        fld_id: int,
        raw: FolderListing,
        *,
        titles: Titles | None = None,
        exact: Mapping[str, str] | None = None,
        pending: Sequence[Pending] = (),
        hide: Collection[str] = (),
        posted: Collection[tuple[int, str]] = (),
    ) -> None:
        """`pending`: this folder's queued files; `hide`: codes of every queued file's copies
        (one may stand for a host file in another folder); `posted`: (fld_id, title sent) of
        rows whose POST may have stored a copy of unknown code."""
        self.fld_id = fld_id
        self.raw = raw
        self.titles = titles = titles or Titles()
        self._reserved = (VIRTUAL_DIR,) if fld_id == 0 else ()
        entries: list[Entry] = []
        by_key: dict[NodeKey, FileEntry | Folder | None] = {}
        for folder in raw.folders:
            key: NodeKey = FolderKey(folder.fld_id)
            if folder.fld_id in (fld_id, 0) or key in by_key:
                continue  # a folder cannot contain itself or the root; one entry per id
            by_key[key] = folder
            entries.append(folder_entry(folder, titles))
        exact = exact or {}
        hidden = {c for p in pending for c in (p.code, p.replaces) if c} | set(hide)
        tokens = {p.token for p in pending if p.token}  # the --upload-retitle titles carry one
        sent = {title for fld, title in posted if fld == fld_id}
        for file in raw.files:
            key = FileKey(file.code)
            if key in by_key or file.code in hidden:
                continue
            if tokens and title_token(file.title) in tokens:
                continue
            if sent and file.code not in exact and host_text(file.title) in sent:
                continue  # maybe a queued row's own copy, not confirmed yet: the row shows
            by_key[key] = file
            entries.append(file_entry(file, titles, exact.get(file.code, "")))
        for item in pending:
            by_key[QueuedKey(item.upload_id)] = None
            entries.append(pending_entry(item))
        names = assign_names(entries, self._reserved)
        self._by_key = {key: Child(names[key], key, entry) for key, entry in by_key.items()}
        self._by_name = {c.name: c for c in self._by_key.values()}
        self._sorted: list[Child] | None = None

    @property
    def children(self) -> list[Child]:
        """Folders first, then by name (sorted once per change, when asked)."""
        if self._sorted is None:
            self._sorted = sorted(
                self._by_key.values(), key=lambda c: (not isinstance(c.key, FolderKey), c.name)
            )
        return self._sorted

    def __len__(self) -> int:
        return len(self._by_key)

    def child(self, name: str) -> Child | None:
        return self._by_name.get(name)

    # -- our own changes, one entry at a time ----------------------------------------------------
    def add(self, entry: Entry, record: FileEntry | Folder | None) -> str:
        """Show one more entry (replacing any of the same key); returns its name."""
        self.remove(entry.key)  # type: ignore[arg-type]
        taken = _Taken(self._by_name, self._reserved)
        name = unique_name(entry, taken)
        child = Child(name, entry.key, record)  # type: ignore[arg-type]
        self._by_key[child.key] = child
        self._by_name[name] = child
        self._sorted = None
        return name

    def remove(self, key: NodeKey) -> None:
        child = self._by_key.pop(key, None)
        if child is not None:
            del self._by_name[child.name]
            self._sorted = None


class _Taken:
    """The names in use, as `unique_name` asks: the listing's plus the reserved ones."""

    def __init__(self, names: Mapping[str, object], reserved: Sequence[str]) -> None:
        self._names = names
        self._reserved = reserved

    def __contains__(self, name: object) -> bool:
        return name in self._names or name in self._reserved
