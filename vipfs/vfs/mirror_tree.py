"""A mirror's inodes: its own numbers, each standing for a path, and the member inodes behind it.

Owns: `MNode` and `MirrorInodes` (path ↔ mirror inode, lookup counts, and the references
held on each member's inode for it).  Imports: the standard library only.

Members are matched by path (names as each shows them, through the titles encoding), so a
mirror inode is a path; the member inode for it is looked up lazily and the reference that
lookup took is held here until the kernel forgets the mirror inode, then given back to the
member (`released`), so no member table leaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROOT_INO = 1
Parts = tuple[str, ...]


@dataclass(slots=True)
class MNode:
    ino: int
    parts: Parts
    is_dir: bool = False
    lookups: int = 0
    held: dict[str, int] = field(default_factory=dict)  # member -> its inode for this path
    refs: dict[str, int] = field(default_factory=dict)  # member -> references we hold on it


class MirrorInodes:
    def __init__(self) -> None:
        root = MNode(ROOT_INO, (), True, lookups=1)
        self._by_ino: dict[int, MNode] = {ROOT_INO: root}
        self._by_parts: dict[Parts, MNode] = {(): root}
        self._next = ROOT_INO + 1

    def __len__(self) -> int:
        return len(self._by_ino)

    def get(self, ino: int) -> MNode | None:
        return self._by_ino.get(ino)

    def at(self, parts: Parts) -> MNode | None:
        return self._by_parts.get(parts)

    def node(self, parts: Parts) -> MNode:
        """The node of `parts`, made (with no references) if none stands for it; its kind
        (`is_dir`) is what the first member holding it says, set by the caller."""
        node = self._by_parts.get(parts)
        if node is None:
            node = MNode(self._next, parts)
            self._next += 1
            self._by_ino[node.ino] = node
            self._by_parts[parts] = node
        return node

    def hold(self, node: MNode, member: str, ino: int) -> list[tuple[int, int]]:
        """One more reference on member inode `ino` for `node`; returns references to give
        back (an older inode of that member for the path)."""
        back: list[tuple[int, int]] = []
        old = node.held.get(member)
        if old is not None and old != ino:
            back.append((old, node.refs.pop(member, 0)))
        node.held[member] = ino
        node.refs[member] = node.refs.get(member, 0) + 1
        return back

    def unhold(self, node: MNode, member: str) -> list[tuple[int, int]]:
        """Give back the references on one member's inode (it was removed there)."""
        ino = node.held.pop(member, None)
        count = node.refs.pop(member, 0)
        return [] if ino is None or count <= 0 else [(ino, count)]

    def moved(self, old: Parts, new: Parts) -> None:
        """A rename: `old` and everything under it now lives at `new`; a node at `new` is
        unlinked (it keeps its inode until forgotten)."""
        self.unlinked(new)
        moving = [n for p, n in self._by_parts.items() if p[: len(old)] == old and p]
        for n in moving:
            del self._by_parts[n.parts]
        for n in moving:
            n.parts = new + n.parts[len(old) :]
            self._by_parts[n.parts] = n

    def unlinked(self, parts: Parts) -> None:
        """`parts` names nothing now (the inode lives on until the kernel forgets it)."""
        if parts:
            self._by_parts.pop(parts, None)

    def remember(self, ino: int, count: int = 1) -> None:
        self._by_ino[ino].lookups += count

    def forget(self, ino: int, count: int) -> dict[str, tuple[int, int]]:
        """Drop `count` references; when none are left the node goes and the member
        references it held are returned (member -> (inode, count)) to give back."""
        node = self._by_ino.get(ino)
        if node is None or ino == ROOT_INO:
            return {}
        node.lookups -= count
        if node.lookups > 0:
            return {}
        del self._by_ino[ino]
        if self._by_parts.get(node.parts) is node:
            del self._by_parts[node.parts]
        return {m: (i, node.refs.get(m, 0)) for m, i in node.held.items() if node.refs.get(m)}
