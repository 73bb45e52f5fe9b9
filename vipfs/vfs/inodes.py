"""The node kinds and the inode table: kernel inode numbers ↔ what each stands for.

Owns: the node kinds (`FolderKey`, `FileKey`, `QueuedKey`, `VirtualKey`), `Node`, and the
inode table with its lookup counts.  Imports: `vipfs.api.records` only.

A node's kind lives in its key, a small frozen record of the identity it stands for (a folder
id, a file code, an upload row, a `/.vipfs` name), in the manner of rclone's vfs.Dir/vfs.File;
code branches on it with `match`. The kind is in the key rather than in a Node subclass because
an inode keeps ONE Node object while its identity changes: `rekey` moves it from a queued upload
to the file code the upload returned (or back, when an uploaded file starts being replaced), and
an operation holding the node (a rename during which an upload finishes) follows it.

Inodes never expire with a TTL: the kernel holds references (lookup, readdirplus entries,
create) and gives them back with `forget`; an inode lives exactly as long as the kernel can
name it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vipfs.api.records import FileEntry, Folder

ROOT_INO = 1


@dataclass(frozen=True, slots=True)
class FolderKey:
    """A host folder (the root is fld_id 0)."""

    fld_id: int


@dataclass(frozen=True, slots=True)
class FileKey:
    """A file on the host, by its code."""

    code: str


@dataclass(frozen=True, slots=True)
class QueuedKey:
    """A file still in the upload queue, by its row."""

    upload_id: int


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """A file of `/.vipfs`, by name; the empty name is the `/.vipfs` folder itself."""

    name: str


NodeKey = FolderKey | FileKey | QueuedKey | VirtualKey
EntryKey = FolderKey | FileKey  # what a host listing holds

ROOT_KEY = FolderKey(0)
VIRTUAL_DIR_KEY = VirtualKey("")


@dataclass(slots=True)
class Node:
    """What the model knows of one inode.

    `entry` is the last listing record seen for it (None for the root and virtual nodes);
    `name` and `parent` are where it was last seen, for logs and for `..`.
    """

    ino: int
    key: NodeKey
    name: str = ""
    parent: int = ROOT_INO
    entry: FileEntry | Folder | None = None
    lookups: int = 0

    @property
    def is_dir(self) -> bool:
        return isinstance(self.key, FolderKey) or self.key == VIRTUAL_DIR_KEY


class InodeTable:
    def __init__(self) -> None:
        root = Node(ROOT_INO, ROOT_KEY, lookups=1)
        self._by_ino: dict[int, Node] = {ROOT_INO: root}
        self._by_key: dict[NodeKey, Node] = {ROOT_KEY: root}
        self._next = ROOT_INO + 1

    def __len__(self) -> int:
        return len(self._by_ino)

    def get(self, ino: int) -> Node | None:
        return self._by_ino.get(ino)

    def by_key(self, key: NodeKey) -> Node | None:
        return self._by_key.get(key)

    def node(self, key: NodeKey, *, name: str = "", parent: int = ROOT_INO) -> Node:
        """The node for `key`, created (with no references yet) if the table lacks it."""
        node = self._by_key.get(key)
        if node is None:
            node = Node(self._next, key, name=name, parent=parent)
            self._next += 1
            self._by_ino[node.ino] = node
            self._by_key[key] = node
        elif name:
            node.name, node.parent = name, parent
        return node

    def folder_path(self, fld_id: int) -> str | None:
        """Where a folder was last seen, as "A/B" from the root ("" for the root itself), or
        None once the kernel forgot a node on the way: `vipfs status` names folders by it."""
        parts: list[str] = []
        node = self._by_key.get(FolderKey(fld_id))
        while node is not None and node.ino != ROOT_INO:
            if len(parts) > len(self._by_ino):  # a cycle cannot be a path
                return None
            parts.append(node.name)
            node = self._by_ino.get(node.parent)
        return None if node is None else "/".join(reversed(parts))

    def rekey(self, ino: int, key: NodeKey) -> None:
        """The inode now stands for `key` (an upload became a file code, or the reverse)."""
        node = self._by_ino[ino]
        if self._by_key.get(node.key) is node:
            del self._by_key[node.key]
        node.key = key
        self._by_key[key] = node

    def remember(self, ino: int, count: int = 1) -> None:
        """The kernel took `count` more references (lookup, readdirplus entry, create)."""
        self._by_ino[ino].lookups += count

    def forget(self, ino: int, count: int) -> None:
        """The kernel dropped `count` references; the node goes when none are left."""
        node = self._by_ino.get(ino)
        if node is None or ino == ROOT_INO:
            return
        node.lookups -= count
        if node.lookups <= 0:
            del self._by_ino[ino]
            if self._by_key.get(node.key) is node:
                del self._by_key[node.key]

    def drop_unreferenced(self, ino: int) -> None:
        """Remove a node the kernel never took (a readdirplus entry that did not fit)."""
        node = self._by_ino.get(ino)
        if node is not None and node.lookups == 0 and ino != ROOT_INO:
            self.forget(ino, 0)
