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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import NodeKey
from vipfs.vfs.names import Entry, assign_names, file_order

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


class Listing:
    """The named children of one folder, in a stable order (folders first, then by name)."""

    def __init__(
        self,
        fld_id: int,
        raw: FolderListing,
        *,
        exact: Mapping[str, str] | None = None,
        pending: Sequence[Pending] = (),
    ) -> None:
        self.fld_id = fld_id
        self.raw = raw
        entries: list[Entry] = []
        by_key: dict[NodeKey, FileEntry | Folder] = {}
        for folder in raw.folders:
            key: NodeKey = ("dir", folder.fld_id)
            if folder.fld_id == fld_id or key in by_key:
                continue  # a folder cannot contain itself; one entry per id
            by_key[key] = folder
            entries.append(
                Entry(
                    key=key,
                    title=folder.name,
                    is_dir=True,
                    suffix=folder.code or str(folder.fld_id),
                    order=(0, None, folder.fld_id),
                )
            )
        exact = exact or {}
        hidden = {c for p in pending for c in (p.code, p.replaces) if c}
        tokens = {p.token for p in pending if p.token}
        for file in raw.files:
            key = ("file", file.code)
            if key in by_key or file.code in hidden:
                continue
            if tokens and file.title.rsplit(" ", 1)[-1] in tokens:
                continue
            by_key[key] = file
            entries.append(
                Entry(
                    key=key,
                    title=file.title,
                    is_dir=False,
                    suffix=file.code,
                    order=file_order(file.uploaded, file.code),
                    exact=exact.get(file.code, ""),
                )
            )
        queued: dict[NodeKey, None] = {}
        for item in pending:
            key = ("up", item.upload_id)
            queued[key] = None
            entries.append(
                Entry(
                    key=key,
                    title=item.name,
                    is_dir=False,
                    suffix=f"queued {item.upload_id}",
                    order=(-1, None, item.upload_id),  # the name just written keeps its name
                    exact=item.name,
                )
            )
        reserved = (VIRTUAL_DIR,) if fld_id == 0 else ()
        names = assign_names(entries, reserved)
        children = [Child(names[key], key, entry) for key, entry in by_key.items()]
        children += [Child(names[key], key, None) for key in queued]
        children.sort(key=lambda c: (c.key[0] != "dir", c.name))
        self.children = children
        self._by_name = {c.name: c for c in children}

    def __len__(self) -> int:
        return len(self.children)

    def child(self, name: str) -> Child | None:
        return self._by_name.get(name)

    def file_codes(self) -> list[str]:
        return [file.code for file in self.raw.files]

