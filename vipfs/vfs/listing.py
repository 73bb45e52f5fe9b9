"""One folder's children, named: a `folder/list?files=1` answer turned into a name table.

Built once per fetched listing (one API call fills the whole folder: no per-file calls), so
lookups and readdir of the folder are dictionary reads until the listing expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.inodes import NodeKey
from vipfs.vfs.names import Entry, assign_names, file_order

VIRTUAL_DIR = ".vipfs"


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    key: NodeKey
    entry: FileEntry | Folder


class Listing:
    """The named children of one folder, in a stable order (folders first, then by name)."""

    def __init__(self, fld_id: int, raw: FolderListing) -> None:
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
        for file in raw.files:
            key = ("file", file.code)
            if key in by_key:
                continue
            by_key[key] = file
            entries.append(
                Entry(
                    key=key,
                    title=file.title,
                    is_dir=False,
                    suffix=file.code,
                    order=file_order(file.uploaded, file.code),
                )
            )
        reserved = (VIRTUAL_DIR,) if fld_id == 0 else ()
        names = assign_names(entries, reserved)
        children = [Child(names[key], key, entry) for key, entry in by_key.items()]
        children.sort(key=lambda c: (c.key[0] != "dir", c.name))
        self.children = children
        self._by_name = {c.name: c for c in children}

    def __len__(self) -> int:
        return len(self.children)

    def child(self, name: str) -> Child | None:
        return self._by_name.get(name)

    def file_codes(self) -> list[str]:
        return [file.code for file in self.raw.files]

