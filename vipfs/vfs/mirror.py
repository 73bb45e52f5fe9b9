"""A mirror: several hosts (members) behind one tree, as the facade fuse_ops drives.

Owns: `MirrorFs` (the union of the members' trees, reads from the first member that has a
file, writes to every member through `Owed` (mirror_replay, which also defines `Member`), the
spool fan-out of a file closed after writing, and the mirror's own `/.vipfs` files and xattr
controls).
Imports: trio, `vipfs.vfs` attrs, dto, errors, events, facade, filesystem (each member is one),
inodes, mirror_journal, mirror_ops, mirror_replay, mirror_tree, upload_status, virtual, writing.

Each member is a whole single-host `Filesystem` (own client and limiter, state dir, queue,
read cache, probes); this facade only routes. Names are matched by path as each member shows
them; attributes come from the first member (config order) that has the name. A write is
done on every member at once; a member that cannot be reached (EIO-like) gets it in the
mirror journal instead, and so does every later op for it, until its replayer (BACKGROUND
lane) has replayed them in order. A file written through the mount lands in one member's
spool; at its last close the same bytes are shared with every other member by hard links,
recorded in the journal first, so each member's queue uploads (and deletes) only its own
link and no member waits on another.
"""

from __future__ import annotations

import errno
import itertools
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from vipfs.vfs.attrs import Attr, Statfs
from vipfs.vfs.dto import AttrChanges, DirEntry, Opened, Options
from vipfs.vfs.errors import VfsError
from vipfs.vfs.events import jsonl, merged
from vipfs.vfs.facade import Facade
from vipfs.vfs.filesystem import Filesystem
from vipfs.vfs.inodes import Node
from vipfs.vfs.mirror_journal import MirrorJournal, Op
from vipfs.vfs.mirror_ops import link_or_copy, node_at
from vipfs.vfs.mirror_replay import UNREACHABLE, Member, Owed
from vipfs.vfs.mirror_tree import ROOT_INO, MirrorInodes, MNode, Parts
from vipfs.vfs.upload_status import QueueStatus
from vipfs.vfs.virtual import to_json
from vipfs.vfs.writing import SpoolHandle

__all__ = ["Member", "MirrorFs"]

PREFIX = "user.vipfs."
VIRTUAL = ".vipfs"
Control = Callable[[Parts, bytes], Awaitable[None]]  # a setxattr name the mirror answers itself
PER_MEMBER = ("code", "link", "status")


@dataclass(slots=True)
class _Handle:
    member: Member | None  # None: one of the mirror's own /.vipfs files
    fh: int
    ino: int  # the mirror's inode
    writable: bool = False
    content: bytes = b""
    dirty: bool = False  # bytes changed since the last share (the other members lag)


class MirrorFs:
    def __init__(
        self,
        members: list[Member],
        state_dir: Path,
        options: Options | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if len(members) < 2:
            raise ValueError("a mirror needs at least 2 members")
        self.members = members
        self.state_dir = state_dir
        self.options = options or Options()
        self.name = name or state_dir.name.removeprefix("mirror-")
        self.inodes = MirrorInodes()
        self.owed = Owed(members, state_dir, self.options.budget)
        # a close that shares a file, and a rename or removal, never interleave: the share
        # names the path as it is after the rename, or the rename queues behind the share
        self._order = trio.Lock()
        self._files: dict[int, _Handle] = {}
        self._dirs: dict[int, list[DirEntry]] = {}
        self._dir_parts: dict[tuple[int, str], Parts] = {}  # (dir handle, name) -> path
        self._fhs = itertools.count(1)
        self.mount_time_ns = time.time_ns()
        # `/.vipfs/<name>` files of the mirror itself, over the members' of that name; and
        # xattr names set on a path that the mirror handles (`vipfs mirror sync` wires one)
        self.virtual: dict[str, Callable[[], Awaitable[bytes]]] = {
            "status.json": self._status_bytes,
            "events.jsonl": self.events_jsonl,
        }
        self.controls: dict[str, Control] = {}

    # -- background ----------------------------------------------------------------------------
    @property
    def journal(self) -> MirrorJournal:
        return self.owed.journal

    @property
    def down(self) -> set[str]:
        """The members that cannot be reached now."""
        return self.owed.down

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Every member's background work, then one replayer per member."""
        await self.owed.open()
        try:
            async with trio.open_nursery() as nursery:
                for m in self.members:
                    await nursery.start(m.fs.run)
                for m in self.members:
                    nursery.start_soon(self.owed.replayer, m)
                task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                await self.owed.close()

    async def list_root(self, within: float) -> bool:
        results: list[bool] = []

        async def one(m: Member) -> None:
            results.append(await m.fs.list_root(within))

        async with trio.open_nursery() as nursery:
            for m in self.members:
                nursery.start_soon(one, m)
        return any(results)

    def forget_all(self) -> None:
        for m in self.members:
            m.fs.forget_all()

    async def wait_uploads(self, progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Each reachable member's owed ops, then its queue; members wait side by side."""

        async def one(m: Member) -> None:
            while self.owed.counts()[m.name]:
                if m.name in self.down:
                    return  # it cannot catch up now: what is left resumes at the next mount
                await trio.sleep(0.1)
            report = None
            if progress is not None:
                report = lambda st, n=m.name: progress({**st, "member": n})  # noqa: E731
            await m.fs.wait_uploads(report)

        async with trio.open_nursery() as nursery:
            for m in self.members:
                nursery.start_soon(one, m)

    def queue_status(self) -> QueueStatus | None:
        found = [s for m in self.members if (s := m.fs.queue_status()) is not None]
        if not found:
            return None
        merged: dict[str, list[Any]] = {}
        for st in found:
            for key in QueueStatus.__dataclass_fields__:
                merged.setdefault(key, []).extend(getattr(st, key))
        return QueueStatus(**merged)

    async def status_json(self) -> dict[str, Any]:
        """`/.vipfs/status.json` of a mirror: each member's own object, the queues merged
        (each item naming its member), and each member's journal backlog."""
        members: dict[str, Any] = {}
        queue: dict[str, list[Any]] = {}
        for m in self.members:
            w = m.fs.remote.writes
            own = await w.status_json() if w is not None else {}
            members[m.name] = own
            for key, items in own.get("queue", {}).items():
                queue.setdefault(key, []).extend({**i, "member": m.name} for i in items)
        return {
            "pid": os.getpid(),
            "mirror": self.name,
            "members": members,
            "queue": queue,
            "journal": self.owed.counts(),
        }

    async def _status_bytes(self) -> bytes:
        return to_json(await self.status_json())  # records (the limiter's state) included

    def _own_virtual(self, parts: Parts) -> str | None:
        """The name of one of the mirror's own `/.vipfs` files at `parts`, else None."""
        if len(parts) == 2 and parts[0] == VIRTUAL and parts[1] in self.virtual:
            return parts[1]
        return None

    async def events_jsonl(self) -> bytes:
        """Every member's events (each names its member) as one history, in time order."""
        return jsonl(merged(m.fs.remote.events for m in self.members))

    # -- nodes ---------------------------------------------------------------------------------
    def _node(self, ino: int) -> MNode:
        node = self.inodes.get(ino)
        if node is None:
            raise VfsError(errno.ENOENT, f"inode {ino} is not known (forgotten)")
        return node

    async def _ino(self, m: Member, node: MNode) -> int | None:
        """The member's inode for `node` (None where it has no such path); the reference
        its lookup takes is held on the node until the kernel forgets it."""
        if node.ino == ROOT_INO:
            return ROOT_INO
        held = node.held.get(m.name)
        if held is not None and m.fs.inodes.get(held) is not None:
            return held
        parent = self.inodes.at(node.parts[:-1]) or self.inodes.node(node.parts[:-1])
        parent.is_dir = True
        parent_ino = await self._ino(m, parent)
        if parent_ino is None:
            return None
        try:
            attr = await m.fs.lookup(parent_ino, node.parts[-1])
        except VfsError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise
        m.fs.forget(self.inodes.hold(node, m.name, attr.ino))
        return attr.ino

    async def _holders(self, node: MNode) -> list[tuple[Member, int]]:
        """(member, its inode) of every readable member that has the node's path."""
        found: list[tuple[Member, int]] = []
        for m in self.owed.readable():
            try:
                ino = await self._ino(m, node)
            except VfsError as exc:
                if exc.errno in UNREACHABLE:
                    self.owed.away(m)
                    continue
                raise
            if ino is not None:
                found.append((m, ino))
        return found

    async def _first(self, node: MNode) -> tuple[Member, int]:
        holders = await self._holders(node)
        if not holders:
            raise VfsError(errno.ENOENT)
        return holders[0]

    async def _attr(self, node: MNode) -> Attr:
        """The first member's attributes for the path. ENOENT when every member that answered
        lacks it (one that cannot be reached hides nothing, and does not turn a miss into
        EIO); EIO only when none answered."""
        missing = False
        last = VfsError(errno.ENOENT)
        for m in self.owed.readable():
            if node.parts in self.owed.leaving(m):  # it still has it, but owes its removal
                missing = True
                continue
            try:
                ino = await self._ino(m, node)
                if ino is None:
                    missing = True
                    continue
                attr = await m.fs.getattr(ino)
            except VfsError as exc:
                if exc.errno in UNREACHABLE:
                    self.owed.away(m)
                    last = exc
                    continue
                if exc.errno == errno.ENOENT:
                    missing = True
                    continue
                raise
            node.is_dir = attr.is_dir
            return replace(attr, ino=node.ino)
        if self._own_virtual(node.parts) is not None:  # none of the members has one of that name
            owner = self.options.owner
            return owner.file_attr(node.ino, 0, self.mount_time_ns, writable=False)
        raise VfsError(errno.ENOENT) if missing else last

    def _give_back(self, back: dict[str, tuple[int, int]]) -> None:
        for m in self.members:
            if m.name in back:
                m.fs.forget([back[m.name]])

    # -- names ---------------------------------------------------------------------------------
    async def lookup(self, parent_ino: int, name: str) -> Attr:
        parent = self._node(parent_ino)
        if not parent.is_dir:
            raise VfsError(errno.ENOTDIR)
        parts = (*parent.parts, name)
        node = self.inodes.node(parts)
        try:
            attr = await self._attr(node)
        except VfsError:
            if node.lookups == 0:
                self.drop_unreferenced(node.ino)
            raise
        node = self.inodes.node(parts)  # the same one, unless dropped meanwhile
        node.is_dir = attr.is_dir
        node.lookups += 1
        return replace(attr, ino=node.ino)

    def forget(self, inodes: list[tuple[int, int]]) -> None:
        for ino, count in inodes:
            self._give_back(self.inodes.forget(ino, count))

    def remember(self, ino: int) -> None:
        if self.inodes.get(ino) is not None:
            self.inodes.remember(ino)

    def drop_unreferenced(self, ino: int) -> None:
        node = self.inodes.get(ino)
        if node is not None and node.lookups == 0 and ino != ROOT_INO:
            self._give_back(self.inodes.forget(ino, 0))

    async def getattr(self, ino: int) -> Attr:
        return await self._attr(self._node(ino))

    # -- directories ---------------------------------------------------------------------------
    async def _listing(self, node: MNode) -> tuple[dict[str, Attr], Attr | None]:
        """The union of the members' listings of this path (name -> the first member's
        attributes, member inode numbers), and the first member's own attributes."""
        union: dict[str, Attr] = {}
        here: Attr | None = None
        answered, last = False, VfsError(errno.ENOENT)
        for m in self.owed.readable():
            try:
                member_ino = await self._ino(m, node)
                if member_ino is None:
                    continue
                fh = await m.fs.opendir(member_ino)
            except VfsError as exc:
                if exc.errno in UNREACHABLE:
                    self.owed.away(m)
                last = exc
                continue
            answered = True
            leaving = self.owed.leaving(m)
            try:
                for item in m.fs.readdir(fh, 0):
                    if item.name == ".":
                        here = here or item.attr
                    elif item.name != "..":
                        if (*node.parts, item.name) not in leaving:
                            union.setdefault(item.name, item.attr)
                        m.fs.drop_unreferenced(item.attr.ino)
            finally:
                m.fs.releasedir(fh)
        if not answered:
            raise last
        return union, here

    async def opendir(self, ino: int) -> int:
        """The union of the members' listings of this path, first member first."""
        node = self._node(ino)
        union, here = await self._listing(node)
        if node.parts == (VIRTUAL,):
            for name in self.virtual:
                if name not in union:
                    at = self.inodes.node((VIRTUAL, name))
                    union[name] = await self._attr(at)
        entries = self._dots(node, here)
        fh = next(self._fhs)
        for name, attr in union.items():
            child = self.inodes.node((*node.parts, name))
            child.is_dir = attr.is_dir
            self._dir_parts[(fh, name)] = child.parts
            entries.append(DirEntry(name, replace(attr, ino=child.ino), len(entries) + 1))
        self._dirs[fh] = entries
        return fh

    def _dots(self, node: MNode, here: Attr | None) -> list[DirEntry]:
        if here is None:
            here = self.options.owner.dir_attr(node.ino, time.time_ns())
        parent = self.inodes.at(node.parts[:-1]) if node.parts else node
        up = parent.ino if parent is not None else ROOT_INO
        return [
            DirEntry(".", replace(here, ino=node.ino), 1),
            DirEntry("..", replace(here, ino=up), 2),
        ]

    def readdir(self, fh: int, start_id: int) -> Iterator[DirEntry]:
        entries = self._dirs.get(fh)
        if entries is None:
            raise VfsError(errno.EBADF)
        for entry in entries[start_id:]:
            node = self.inodes.get(entry.attr.ino)
            if node is None:  # dropped by another handle's releasedir: the path's node again
                dropped = self._dir_parts.get((fh, entry.name))
                if dropped is None:
                    continue
                node = self.inodes.node(dropped)
                entry = replace(entry, attr=replace(entry.attr, ino=node.ino))
            yield entry

    def releasedir(self, fh: int) -> None:
        for entry in self._dirs.pop(fh, [])[2:]:
            self._dir_parts.pop((fh, entry.name), None)
            self.drop_unreferenced(entry.attr.ino)

    async def mkdir(self, parent_ino: int, name: str, mode: int | None = None) -> Attr:
        parts = (*self._node(parent_ino).parts, name)
        done = await self.owed.everywhere({"op": "mkdir", "path": list(parts), "mode": mode})
        node = self.inodes.node(parts)
        node.is_dir = True
        node.lookups += 1
        first = next((a for a in done if isinstance(a, Attr)), None)
        if first is None:  # owed by every member: shown as made, as the journal will make it
            return self.options.owner.dir_attr(node.ino, time.time_ns(), mode=mode)
        return replace(first, ino=node.ino)

    async def rmdir(self, parent_ino: int, name: str) -> None:
        """Only an empty folder goes: empty in the union, not just on some member."""
        parts = (*self._node(parent_ino).parts, name)
        node = self.inodes.at(parts)  # the kernel looked it up first
        if node is not None and parts != (VIRTUAL,):
            try:
                children, _ = await self._listing(node)
            except VfsError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR, *UNREACHABLE):
                    raise
                children = {}
            if children:
                raise VfsError(errno.ENOTEMPTY)
        await self._remove("rmdir", parent_ino, name)

    async def unlink(self, parent_ino: int, name: str) -> None:
        await self._remove("unlink", parent_ino, name)

    async def _remove(self, kind: str, parent_ino: int, name: str) -> None:
        parts = (*self._node(parent_ino).parts, name)
        async with self._order:
            await self.owed.everywhere({"op": kind, "path": list(parts)})
            node = self.inodes.at(parts)
            if node is not None:
                for m in self.members:
                    m.fs.forget(self.inodes.unhold(node, m.name))
            self.inodes.unlinked(parts)

    async def rename(
        self, old_parent: int, old_name: str, new_parent: int, new_name: str, flags: int = 0
    ) -> None:
        old = (*self._node(old_parent).parts, old_name)
        new = (*self._node(new_parent).parts, new_name)
        op = {"op": "rename", "path": list(old), "to": list(new), "flags": flags}
        async with self._order:
            await self.owed.everywhere(op)
            replaced = self.inodes.at(new)
            if replaced is not None:
                for m in self.members:
                    m.fs.forget(self.inodes.unhold(replaced, m.name))
            self.inodes.moved(old, new)

    # -- attributes ----------------------------------------------------------------------------
    def _own(self, name: str) -> tuple[Member, str] | None:
        """`user.vipfs.<member>.<attr>`: that member and `user.vipfs.<attr>`."""
        if not name.startswith(PREFIX):
            return None
        rest = name[len(PREFIX) :]
        for m in self.members:
            if rest.startswith(m.name + ".") and len(rest) > len(m.name) + 1:
                return m, PREFIX + rest[len(m.name) + 1 :]
        return None

    async def getxattr(self, ino: int, name: str) -> bytes:
        node = self._node(ino)
        if ino == ROOT_INO and name == PREFIX + "members":
            return ",".join(m.name for m in self.members).encode()
        holders = await self._holders(node)
        own = self._own(name)
        if own is not None:
            member, plain = own
            mine = next((i for m, i in holders if m is member), None)
            if mine is not None:
                return await member.fs.getxattr(mine, plain)
            if plain == PREFIX + "status":
                return self._missing_status(member, node).encode()
            raise VfsError(errno.ENODATA)
        if not holders:
            raise VfsError(errno.ENOENT)
        first, first_ino = holders[0]
        value = await first.fs.getxattr(first_ino, name)
        if name != PREFIX + "status" or node.is_dir:
            return value
        notes = [value.decode()]
        by_member = dict((m.name, i) for m, i in holders)
        for m in self.members:
            if m is first:
                continue
            member_ino = by_member.get(m.name)
            if member_ino is None:
                state = self._missing_status(m, node)
                notes.append(f"{state} on {m.name}")
                continue
            try:
                theirs = (await m.fs.getxattr(member_ino, name)).decode()
            except VfsError:
                continue
            if not theirs.startswith(ON_HOST):  # held there: nothing to tell
                notes.append(_note(theirs, m.name))
        return "; ".join(notes).encode()

    def _missing_status(self, m: Member, node: MNode) -> str:
        """A member lacking the path: `queued` while it owes the file, else `missing`."""
        if self.owed.counts()[m.name]:
            for _, op in self.journal.pending(m.name):
                if op["op"] == "share" and tuple(op["path"]) == node.parts:
                    return "queued"
        return "missing"

    async def listxattr(self, ino: int) -> list[str]:
        node = self._node(ino)
        holders = await self._holders(node)
        if not holders:
            raise VfsError(errno.ENOENT)
        first, first_ino = holders[0]
        names = await first.fs.listxattr(first_ino)
        if ino == ROOT_INO:
            names.append(PREFIX + "members")
        held = {m.name for m, _ in holders}
        for m in self.members:
            for attr in PER_MEMBER:
                if PREFIX + attr in names and (m.name in held or attr == "status"):
                    names.append(f"{PREFIX}{m.name}.{attr}")
        return names

    async def setxattr(self, ino: int, name: str, value: bytes) -> str | None:
        node = self._node(ino)
        control = self.controls.get(name)
        if control is not None:
            await control(node.parts, value)
            return None
        own = self._own(name)
        members = [own[0]] if own is not None else None
        plain = own[1] if own is not None else name
        op = {"op": "setxattr", "path": list(node.parts), "name": plain, "value": value.hex()}
        done = await self.owed.everywhere(op, members)
        return next((d for d in done if isinstance(d, str)), None)

    async def removexattr(self, ino: int, name: str) -> None:
        node = self._node(ino)
        own = self._own(name)
        members = [own[0]] if own is not None else None
        plain = own[1] if own is not None else name
        await self.owed.everywhere(
            {"op": "removexattr", "path": list(node.parts), "name": plain}, members
        )

    def statfs(self) -> Statfs:
        """The member with the least room: every file goes to each of them (never a call)."""
        return min((m.fs.statfs() for m in self.owed.readable()), key=lambda st: st.bfree)

    async def setattr(self, ino: int, changes: AttrChanges, fh: int | None = None) -> Attr:
        node = self._node(ino)
        handle = self._files.get(fh) if fh is not None else None
        if handle is None or handle.member is None:
            op = {
                "op": "setattr",
                "path": list(node.parts),
                "size": changes.size,
                "mtime_ns": changes.mtime_ns,
                "mode": changes.mode,
            }
            await self.owed.everywhere(op)
            return await self._attr(node)
        m = handle.member  # through an open handle: that member (the others get it at close)
        member_ino = await self._ino(m, node)
        if member_ino is None:
            raise VfsError(errno.ENOENT)
        attr = await m.fs.setattr(member_ino, changes, handle.fh)
        if changes.size is not None:
            handle.dirty = True
        return replace(attr, ino=node.ino)

    # -- files ---------------------------------------------------------------------------------
    def _new(self, handle: _Handle) -> int:
        fh = next(self._fhs)
        self._files[fh] = handle
        return fh

    async def open(self, ino: int, flags: int, pid: int = 0) -> Opened:
        node = self._node(ino)
        own = self._own_virtual(node.parts)
        if own is not None:
            if flags & os.O_ACCMODE != os.O_RDONLY:
                raise VfsError(errno.EROFS, f"{VIRTUAL} is read-only")
            content = await self.virtual[own]()
            return Opened(self._new(_Handle(None, 0, ino, content=content)), direct_io=True)
        writing = flags & os.O_ACCMODE != os.O_RDONLY
        holders = await self._holders(node)
        if not holders:
            raise VfsError(errno.ENOENT)
        last: VfsError | None = None
        for m, member_ino in holders[:1] if writing else holders:
            try:
                opened = await m.fs.open(member_ino, flags, pid)
            except VfsError as exc:  # a member that cannot serve a read: the next one may
                last = exc
                continue
            dirty = writing and bool(flags & os.O_TRUNC)
            fh = self._new(_Handle(m, opened.fh, ino, writable=writing, dirty=dirty))
            return Opened(fh, direct_io=opened.direct_io)
        assert last is not None
        raise last

    async def create(
        self, parent_ino: int, name: str, mode: int, flags: int = os.O_WRONLY
    ) -> tuple[Opened, Attr]:
        """Written once, to the first member (not owing ops) whose folder exists."""
        parent = self._node(parent_ino)
        parts = (*parent.parts, name)
        last = VfsError(errno.ENOENT, f"{'/'.join(parts)}: no member has its folder")
        for m in self.members:
            if self.owed.behind(m):
                continue
            try:
                parent_member = await self._ino(m, parent)
                if parent_member is None:
                    continue
                opened, attr = await m.fs.create(parent_member, name, mode, flags)
            except VfsError as exc:
                if exc.errno not in UNREACHABLE:
                    raise
                self.owed.away(m)
                last = exc
                continue
            node = self.inodes.node(parts)
            node.is_dir = False
            m.fs.forget(self.inodes.hold(node, m.name, attr.ino))
            node.lookups += 1
            fh = self._new(_Handle(m, opened.fh, node.ino, writable=True, dirty=True))
            return Opened(fh, direct_io=opened.direct_io), replace(attr, ino=node.ino)
        raise last

    def _handle(self, fh: int) -> _Handle:
        handle = self._files.get(fh)
        if handle is None:
            raise VfsError(errno.EBADF)
        return handle

    async def read(self, fh: int, offset: int, size: int) -> bytes:
        handle = self._handle(fh)
        if handle.member is None:
            return handle.content[offset : offset + size]
        return await handle.member.fs.read(handle.fh, offset, size)

    async def write(self, fh: int, offset: int, data: bytes) -> int:
        handle = self._handle(fh)
        if handle.member is None:
            raise VfsError(errno.EBADF)
        written = await handle.member.fs.write(handle.fh, offset, data)
        handle.dirty = True
        return written

    def size_learned(self, fh: int) -> int | None:
        handle = self._files.get(fh)
        if handle is None or handle.member is None:
            return None
        return handle.ino if handle.member.fs.size_learned(handle.fh) is not None else None

    async def flush(self, fh: int) -> None:
        """With --sync-uploads the first member uploads now: the others get their share
        first, as its spool file goes once it is uploaded."""
        handle = self._handle(fh)
        if handle.member is not None:
            if handle.member.fs.options.sync_uploads:
                await self._share(handle)
            await handle.member.fs.flush(handle.fh)

    async def fsync(self, fh: int) -> None:
        """The member holding the handle uploads now and waits; the others get their share
        first and upload from their own queues (not waited for)."""
        handle = self._handle(fh)
        if handle.member is not None:
            await self._share(handle)
            await handle.member.fs.fsync(handle.fh)

    async def release(self, fh: int) -> None:
        handle = self._files.pop(fh, None)
        if handle is None or handle.member is None:
            return
        await self._share(handle)
        await handle.member.fs.release(handle.fh)

    async def _share(self, handle: _Handle) -> None:
        """Changed bytes of the last writer go to every other member: the ops are recorded
        first, so a kill -9 from here on is finished at the next mount."""
        if not handle.writable or not handle.dirty:
            return
        async with self._order:
            shares = self._shares_at_close(handle)
            if not shares:
                return
            await self.owed.owe(shares)
        op = shares[0][1]
        await trio.to_thread.run_sync(link_or_copy, Path(op["source"]), Path(op["stash"]))
        handle.dirty = False

    def _shares_at_close(self, handle: _Handle) -> list[tuple[Member, Op]]:
        """The last writer of a queued file closes: a share op for every other member."""
        assert handle.member is not None
        fs = handle.member.fs
        spooled = fs.handles.get(handle.fh)
        w = fs.remote.writes
        if not isinstance(spooled, SpoolHandle) or w is None:
            return []
        if spooled.upload_id is None or spooled.path is None:
            return []
        live = w.live.get(spooled.upload_id)
        row = w.queue.get(spooled.upload_id)
        node = self.inodes.get(handle.ino)
        if live is None or live.writers != 1 or row is None or node is None:
            return []
        op: Op = {
            "op": "share",
            "path": list(node.parts),
            "stash": str(self.journal.stash / f"{secrets.token_hex(8)}.spool"),
            "source": str(spooled.path),
            "mode": row.mode,
            "mtime_ns": live.mtime_ns,
            "fresh": row.replaces is None,
        }
        return [(m, op) for m in self.members if m is not handle.member]

    # -- for `vipfs mirror sync` ---------------------------------------------------------------
    async def member_node(self, member: Member, parts: Parts) -> Node | None:
        """That member's node for a path, looked up from its root (None: it lacks it)."""
        return await node_at(member.fs, parts)

    async def share_file(self, member: Member, parts: Parts, source: Path) -> None:
        """Queue `source` as an upload of `parts` on `member` (hard-linked, §6 of the issue),
        behind whatever the member owes already."""
        st = await trio.to_thread.run_sync(os.stat, source)
        op: Op = {
            "op": "share",
            "path": list(parts),
            "stash": str(self.journal.stash / f"{secrets.token_hex(8)}.spool"),
            "source": str(source),
            "mode": st.st_mode & 0o7777 or 0o644,
            "mtime_ns": st.st_mtime_ns,
            "fresh": True,
        }
        await self.owed.owe([(member, op)])
        await trio.to_thread.run_sync(link_or_copy, source, Path(op["stash"]))


if TYPE_CHECKING:  # both facades meet the protocol fuse_ops is typed with

    def _facades(mirror: MirrorFs, single: Filesystem) -> tuple[Facade, Facade]:
        return mirror, single


# a member whose status starts so holds the file on its host: the plain status says nothing
ON_HOST = ("uploaded", "encoding", "ready")


def _note(status: str, member: str) -> str:
    """One other member's state, as `user.vipfs.status` appends it."""
    if status.startswith("deleted by host"):
        return f"deleted by host on {member}"
    if status.startswith(("failed", "incomplete", "empty", "dmca")):
        state, _, why = status.partition(": ")
        return f"{state} on {member}: {why}" if why else f"{state} on {member}"
    word = status.split(" ", 1)[0]
    if word in ("writing", "held", "retrying:"):
        word = "queued"
    return f"{word} on {member}"
