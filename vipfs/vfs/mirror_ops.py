"""How one journaled op is done on one member: paths resolved from that member's root.

Owns: `apply` (an op of the mirror journal, done on one member's `Filesystem`), the walk
from a member's root to a path, and the spool-sharing step (`share`) with its replay rules.
Imports: trio, `vipfs.vfs` dto, errors, filesystem, inodes, mirror_journal (the op type).

An op names paths, not inodes, so the same code serves the first try and a replay after the
member was away (or after a restart). A share is idempotent: the member's queue row made
from this share (its spool link's name) counts as done, a host file there counts as done
for a file that replaced nothing (an earlier replay uploaded it), and any other file there
is replaced.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from vipfs.vfs.dto import AttrChanges
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import Filesystem
from vipfs.vfs.inodes import ROOT_INO, FileKey, FolderKey, Node, QueuedKey
from vipfs.vfs.mirror_journal import Op

Parts = tuple[str, ...]


def share_link_name(stash: str) -> str:
    """The name a shared file's link gets in each member's spool (unique per share)."""
    return f"m-{Path(stash).name}"


@asynccontextmanager
async def walked(fs: Filesystem, parts: Parts) -> AsyncIterator[int]:
    """The member's inode for `parts` (ENOENT when it lacks one); the references the walk
    took are given back when the block ends."""
    taken: list[tuple[int, int]] = []
    ino = ROOT_INO
    try:
        for name in parts:
            attr = await fs.lookup(ino, name)
            taken.append((attr.ino, 1))
            ino = attr.ino
        yield ino
    finally:
        fs.forget(taken)


async def node_at(fs: Filesystem, parts: Parts) -> Node | None:
    """The member's node for `parts` (a snapshot: its key names the file), None if absent."""
    try:
        async with walked(fs, parts) as ino:
            return fs.inodes.get(ino)
    except VfsError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


async def apply(fs: Filesystem, op: Op) -> object:
    """Do `op` on one member; its VfsError says why not (EIO-like: not reachable)."""
    kind = op["op"]
    parts: Parts = tuple(op["path"])
    if not parts:
        return await _on_target(fs, ROOT_INO, op)
    async with walked(fs, parts[:-1]) as parent:
        name = parts[-1]
        match kind:
            case "mkdir":
                attr = await fs.mkdir(parent, name, op.get("mode"))
                fs.forget([(attr.ino, 1)])
                return attr
            case "rmdir":
                await fs.rmdir(parent, name)
                return None
            case "unlink":
                await fs.unlink(parent, name)
                return None
            case "rename":
                to: Parts = tuple(op["to"])
                async with walked(fs, to[:-1]) as new_parent:
                    await fs.rename(parent, name, new_parent, to[-1], op.get("flags", 0))
                return None
            case "share":
                await share(fs, parent, name, op)
                return None
        attr = await fs.lookup(parent, name)
        try:
            return await _on_target(fs, attr.ino, op)
        finally:
            fs.forget([(attr.ino, 1)])


async def _on_target(fs: Filesystem, ino: int, op: Op) -> object:
    match op["op"]:
        case "setxattr":
            return await fs.setxattr(ino, op["name"], bytes.fromhex(op["value"]))
        case "removexattr":
            await fs.removexattr(ino, op["name"])
            return None
        case "setattr":
            changes = AttrChanges(op.get("size"), op.get("mtime_ns"), op.get("mode"))
            return await fs.setattr(ino, changes)
    raise VfsError(errno.EINVAL, f"unknown mirror op {op['op']!r}")


async def share(fs: Filesystem, parent: int, name: str, op: Op) -> None:
    """Queue the stashed spool file as `name` in folder `parent` of this member."""
    stash, source = Path(op["stash"]), Path(op["source"])
    link_name = share_link_name(op["stash"])
    if not await trio.to_thread.run_sync(os.path.lexists, stash):
        if not await trio.to_thread.run_sync(os.path.lexists, source):
            raise VfsError(errno.ENOENT, f"{name}: the shared spool copy is gone")
        await trio.to_thread.run_sync(link_or_copy, source, stash)
    replaces = None
    node: Node | None = None
    try:
        attr = await fs.lookup(parent, name)
    except VfsError as exc:
        if exc.errno != errno.ENOENT:
            raise
    else:
        node = fs.inodes.get(attr.ino)
        fs.forget([(attr.ino, 1)])
    if node is not None:
        match node.key:
            case QueuedKey(upload_id):
                row = fs.remote.writer().queue.get(upload_id)
                if row is not None and row.spool.name == link_name:
                    return  # this share was done before (a replay)
                await fs.unlink(parent, name)  # an older queued copy: the new bytes win
            case FileKey(code):
                if op.get("fresh"):
                    return  # a new file already on the host: an earlier replay uploaded it
                replaces = code
            case FolderKey():
                raise VfsError(errno.EISDIR, f"{name} is a folder on this member")
    await fs.adopt_spool(
        parent,
        name,
        op.get("mode") or 0o644,
        op.get("mtime_ns") or 0,
        stash,
        link_name=link_name,
        replaces=replaces,
    )


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link (no byte copied); a copy across file systems (worker thread)."""
    if os.path.lexists(target):
        return  # linked already (the replayer and the close may both get here)
    try:
        os.link(source, target)
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copyfile(source, target)
        os.chmod(target, 0o600)
