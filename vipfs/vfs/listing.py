"""One folder's children, named: a `folder/list?files=1` answer turned into a name table.

Built once per fetched listing (one API call fills the whole folder: no per-file calls) and
again when one of our own changes touches the folder, so lookups and readdir of the folder are
dictionary reads. Two local sources sit over the server's answer:
* `exact`: the filename vipfs wrote for a file code (the local database), which wins over the
  server's mangled, extension-less title;
* `pending`: files still in the upload queue. They show under their own name from the moment
  they are created; the server's copy of one (found by code, or by the upload token in its
  title while the answer is still on its way) stays hidden until the queue says it is done, so
  a listing that catches up mid-upload never shows the file twice.

Owns: naming one folder's children over local knowledge, and one-entry edits of that.
Imports: `vipfs.api.records`, `vipfs.vfs.inodes` (keys), `vipfs.vfs.names` (every naming rule).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import FileKey, FolderKey, NodeKey, QueuedKey
from vipfs.vfs.names import Entry, assign_names, file_order, title_token, unique_name

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


def folder_entry(folder: Folder) -> Entry:
    return Entry(
        key=FolderKey(folder.fld_id),
        title=folder.name,
        is_dir=True,
        suffix=folder.code or str(folder.fld_id),
        order=(0, None, folder.fld_id),
    )


def file_entry(file: FileEntry, exact: str = "") -> Entry:
    return Entry(
        key=FileKey(file.code),
        title=file.title,
        is_dir=False,
        suffix=file.code,
        order=file_order(file.uploaded, file.code),
        exact=exact,
    )


def pending_entry(item: Pending) -> Entry:
    return Entry(
        key=QueuedKey(item.upload_id),
        title=item.name,
        is_dir=False,
        suffix=f"queued {item.upload_id}",
        order=(-1, None, item.upload_id),  # in a full build, the name just written keeps it
        exact=item.name,
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
        exact: Mapping[str, str] | None = None,
        pending: Sequence[Pending] = (),
        hide: Collection[str] = (),
        tokens: Collection[str] = (),
    ) -> None:
        """`pending`: this folder's queued files; `hide` and `tokens`: codes and upload tokens
        of every queued file (one may stand for a server file in another folder)."""
        self.fld_id = fld_id
        self.raw = raw
        self._reserved = (VIRTUAL_DIR,) if fld_id == 0 else ()
        entries: list[Entry] = []
        by_key: dict[NodeKey, FileEntry | Folder | None] = {}
        for folder in raw.folders:
            key: NodeKey = FolderKey(folder.fld_id)
            if folder.fld_id in (fld_id, 0) or key in by_key:
                continue  # a folder cannot contain itself or the root; one entry per id
            by_key[key] = folder
            entries.append(folder_entry(folder))
        exact = exact or {}
        hidden = {c for p in pending for c in (p.code, p.replaces) if c} | set(hide)
        tokens = {p.token for p in pending if p.token} | set(tokens)
        for file in raw.files:
            key = FileKey(file.code)
            if key in by_key or file.code in hidden:
                continue
            if tokens and title_token(file.title) in tokens:
                continue
            by_key[key] = file
            entries.append(file_entry(file, exact.get(file.code, "")))
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
