"""The inode table: kernel inode numbers ↔ server identities, kept alive by lookup counts.

An inode is keyed by what it stands for (`("dir", fld_id)`, `("file", code)`, `("virt", name)`,
`("up", upload_id)` for a file still in the upload queue), so the same folder or file keeps its
number across listings and renames; `rekey` moves an inode to its new identity when an upload
finishes (or an uploaded file starts being replaced), so the kernel's number never changes.
Inodes never expire with a TTL: the kernel holds references (lookup, readdirplus entries,
create) and gives them back with `forget`; an inode lives exactly as long as the kernel can
name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vipfs.api.records import FileEntry, Folder

ROOT_INO = 1

Kind = Literal["dir", "file", "virt", "up"]
NodeKey = tuple[Kind, int | str]

ROOT_KEY: NodeKey = ("dir", 0)


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
        return self.key[0] == "dir" or (self.key[0] == "virt" and self.key[1] == "")

    @property
    def fld_id(self) -> int:
        assert self.key[0] == "dir" and isinstance(self.key[1], int)
        return self.key[1]

    @property
    def upload_id(self) -> int:
        assert self.key[0] == "up" and isinstance(self.key[1], int)
        return self.key[1]

    @property
    def code(self) -> str:
        assert self.key[0] == "file" and isinstance(self.key[1], str)
        return self.key[1]


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
