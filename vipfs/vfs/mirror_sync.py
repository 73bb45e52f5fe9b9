"""`vipfs mirror sync`: every member of a mirror gets back the files it lacks or a host deleted.

Owns: the backfill: which (file, member) pairs lack a copy (missing at that path, or the code is
on that member's file/dmca or file/deleted), where each copy comes from (a local copy: a spool
file or a complete read-cache copy, queued through `share_file`; else `upload/url` on the
lacking member pointed at another member's direct link, through that member's URL-upload queue
so a restart never sends it twice; else a reason), and the report, one `Outcome` per pair. The
`user.vipfs.mirror_sync` control that runs it (`SyncControl`) and its report file.
Imports: trio, `vipfs.api` errors, lanes, `vipfs.vfs` attrs, errors, inodes, listing, model,
namespace, readcache, urluploads.

Everything runs in the BACKGROUND lane of each member: a backfill is nobody's interactive wait,
so browsing the mount keeps its place on every host. A host's record of a deleted or DMCA'd
file is never touched: the copy comes back as a new file beside it.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import trio

from vipfs.api.errors import ApiError, UnsupportedError
from vipfs.api.lanes import Lane, lane
from vipfs.vfs.attrs import Attr
from vipfs.vfs.errors import VfsError, title_for
from vipfs.vfs.inodes import FileKey, FolderKey, Node, QueuedKey
from vipfs.vfs.listing import VIRTUAL_DIR
from vipfs.vfs.model import Model
from vipfs.vfs.namespace import TRASH
from vipfs.vfs.readcache import ReadCache, choose_version
from vipfs.vfs.urluploads import UrlError

log = logging.getLogger(__name__)

CONTROL = "user.vipfs.mirror_sync"  # on a folder (or file): "" this folder, "-r" all under it
REPORT = "mirror-sync.json"  # in /.vipfs: the last sync's report, which the command prints
LAST_HOURS = 24 * 30  # how far back file/dmca and file/deleted are asked (the API's default)

PRESENT, QUEUED, LOCAL, URL, FAILED = "present", "queued", "local", "url", "failed"
DONE = frozenset({PRESENT, QUEUED, LOCAL, URL})  # exit 0; FAILED: exit 1
HIDDEN = (VIRTUAL_DIR, TRASH)  # root entries holding nothing to mirror


class _Coded(Protocol):
    @property
    def code(self) -> str: ...


class MemberFs(Protocol):
    """What the backfill uses of one member's `Filesystem` (the facade is not imported here)."""

    @property
    def model(self) -> Model: ...

    async def mkdir(self, parent_ino: int, name: str, mode: int | None = None) -> Attr: ...


class MemberLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def fs(self) -> MemberFs: ...


M = TypeVar("M", bound=MemberLike)


class SyncMirror(Protocol[M]):
    """The parts of `MirrorFs` the backfill relies on (contract §8)."""

    @property
    def members(self) -> Sequence[M]: ...

    async def member_node(self, member: M, parts: tuple[str, ...]) -> Node | None: ...

    async def share_file(self, member: M, parts: tuple[str, ...], source: Path) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one file on one member."""

    path: str  # relative to the mount, "/"-joined
    member: str
    state: str  # PRESENT, QUEUED, LOCAL, URL or FAILED
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in DONE

    def line(self) -> str:
        return f"{self.path}: {self.member}: {self.detail or self.state}"

    def to_json(self) -> dict[str, str]:
        return {
            "path": self.path,
            "member": self.member,
            "state": self.state,
            "why": self.detail,
            "line": self.line(),  # what `vipfs mirror sync` prints: worded here only
        }


@dataclass(slots=True)
class _Gone:
    """The codes a member's host reports as DMCA'd or deleted (asked once per sync)."""

    dmca: frozenset[str]
    deleted: frozenset[str]

    def why(self, code: str) -> str | None:
        if code in self.deleted:
            return "deleted by the host"
        if code in self.dmca:
            return "DMCA'd on the host"
        return None


async def sync(
    mirror: SyncMirror[M],
    parts: tuple[str, ...],
    recursive: bool,
    shared: set[tuple[str, tuple[str, ...]]] | None = None,
) -> list[Outcome]:
    """Backfill every file at or under `parts` on every member that lacks it; one Outcome per
    (file, member), in path then member order. `shared`: the (member, path) pairs an earlier
    sync of this mount shared a local copy for, which a member may not show yet (its share
    waits in the mirror journal behind what it owes): never shared twice."""
    if parts and parts[0] in HIDDEN:
        raise VfsError(errno.EINVAL, f"mirror_sync: nothing in /{parts[0]} is mirrored")
    with lane(Lane.BACKGROUND):
        return await _Sync(mirror, set() if shared is None else shared).run(parts, recursive)


class _Sync(Generic[M]):
    def __init__(self, mirror: SyncMirror[M], shared: set[tuple[str, tuple[str, ...]]]) -> None:
        self.mirror = mirror
        self.shared = shared
        self.members: list[M] = list(mirror.members)
        self.gone: dict[str, _Gone] = {}
        self.out: list[Outcome] = []
        self.unreachable: dict[str, str] = {}  # member → why: its files are reported once

    async def run(self, parts: tuple[str, ...], recursive: bool) -> list[Outcome]:
        for m in self.members:
            self.gone[m.name] = await _gone(m.fs.model)
        files = await self._files(parts, recursive)
        for path in sorted(files):
            for m in self.members:
                if m.name in self.unreachable:
                    continue
                self.out.append(await self._one(m, path))
        for name, why in self.unreachable.items():
            self.out.append(Outcome("/".join(parts) or ".", name, FAILED, f"unreachable: {why}"))
        return self.out

    # -- what there is -------------------------------------------------------------------------
    async def _files(self, parts: tuple[str, ...], recursive: bool) -> set[tuple[str, ...]]:
        """Every file path at or under `parts` on any member (the mirror shows their union)."""
        found: set[tuple[str, ...]] = set()
        todo = [parts]
        while todo:
            here = todo.pop()
            for m in self.members:
                if m.name in self.unreachable:
                    continue
                try:
                    node = await self.mirror.member_node(m, here)
                    if node is None:
                        continue
                    if not isinstance(node.key, FolderKey):
                        found.add(here)
                        continue
                    listing = await m.fs.model.views.get(node.key.fld_id)
                except VfsError as exc:
                    self.unreachable[m.name] = exc.why
                    continue
                for child in listing.children:
                    if not here and child.name in HIDDEN:  # /.vipfs, the trash: no files
                        continue
                    sub = (*here, child.name)
                    if isinstance(child.key, FolderKey):
                        if recursive and sub not in todo:
                            todo.append(sub)
                    elif isinstance(child.key, QueuedKey) or (
                        # a deleted file the listing still shows (served while it refreshes)
                        # names no file of its own: it counts where another member has it
                        isinstance(child.key, FileKey)
                        and child.key.code not in self.gone[m.name].deleted
                    ):
                        found.add(sub)
        return found

    # -- one file on one member ----------------------------------------------------------------
    async def _one(self, m: M, path: tuple[str, ...]) -> Outcome:
        shown = "/".join(path)
        try:
            node = await self.mirror.member_node(m, path)
            lacks = self._lacks(m, node)
            if lacks is None:
                assert node is not None
                self.shared.discard((m.name, path))  # it shows now: the share is done
                state = QUEUED if isinstance(node.key, QueuedKey) else PRESENT
                return Outcome(shown, m.name, state, "queued here" if state == QUEUED else "")
            return await self._backfill(m, path, lacks)
        except VfsError as exc:
            return Outcome(shown, m.name, FAILED, f"not backfillable: {exc.why}")

    def _lacks(self, m: M, node: Node | None) -> str | None:
        """Why member `m` lacks the file at `node` (None: it holds it, or has it queued)."""
        if node is None:
            return "missing"
        if isinstance(node.key, FileKey):
            return self.gone[m.name].why(node.key.code)
        return None

    async def _holders(self, path: tuple[str, ...]) -> list[tuple[M, Node]]:
        """The members holding a usable copy of `path`, in config order."""
        out = []
        for m in self.members:
            if m.name in self.unreachable:
                continue
            try:
                node = await self.mirror.member_node(m, path)
            except VfsError:
                continue
            if node is not None and self._lacks(m, node) is None:
                out.append((m, node))
        return out

    async def _backfill(self, m: M, path: tuple[str, ...], lacks: str) -> Outcome:
        shown = "/".join(path)
        if await self._url_pending(m, path):  # a sync before asked the host: never twice
            return Outcome(shown, m.name, URL, f"{lacks}: upload/url: already queued")
        if (m.name, path) in self.shared:
            return Outcome(shown, m.name, LOCAL, f"{lacks}: already queued from a local copy")
        holders = [(h, n) for h, n in await self._holders(path) if h is not m]
        local = _local_copy(holders)
        if local is not None:
            source, holder = local
            await self._folder(m, path[:-1])
            await self.mirror.share_file(m, path, source)
            self.shared.add((m.name, path))
            log.info("mirror sync: %s queued on %s from %s's local copy", shown, m.name, holder)
            return Outcome(shown, m.name, LOCAL, f"{lacks}: queued from the local copy ({holder})")
        whys: list[str] = []
        for h, node in holders:
            if not isinstance(node.key, FileKey):
                continue
            url, why = await _direct_url(h, node.key.code)
            if url is None:
                whys.append(f"{h.name}: {why}")
                continue
            answer = await self._url_upload(m, path, url)
            log.info(
                "mirror sync: %s on %s by upload/url from %s: %s", shown, m.name, h.name, answer
            )
            return Outcome(shown, m.name, URL, f"{lacks}: upload/url from {h.name}: {answer}")
        if not holders:
            whys.append("no member holds a copy")
        return Outcome(shown, m.name, FAILED, f"{lacks}: not backfillable: {'; '.join(whys)}")

    async def _folder(self, m: M, parts: tuple[str, ...]) -> int:
        """The member's folder at `parts` (made where missing, as a mkdir on the mirror is)."""
        fld_id = 0
        for i in range(len(parts) + 1):
            node = await self.mirror.member_node(m, parts[:i])
            if node is None:
                parent = await self.mirror.member_node(m, parts[: i - 1])
                if parent is None:
                    raise VfsError(errno.ENOENT, f"{'/'.join(parts[:i])} vanished on {m.name}")
                await m.fs.mkdir(parent.ino, parts[i - 1])
                node = await self.mirror.member_node(m, parts[:i])
            if node is None or not isinstance(node.key, FolderKey):
                raise VfsError(errno.ENOTDIR, f"{'/'.join(parts[:i])} is no folder on {m.name}")
            fld_id = node.key.fld_id
        return fld_id

    async def _url_pending(self, m: M, path: tuple[str, ...]) -> bool:
        """Whether member `m`'s URL-upload queue already holds this file (a sync before)."""
        w = m.fs.model.remote.writes
        folder = await self.mirror.member_node(m, path[:-1])
        if w is None or folder is None or not isinstance(folder.key, FolderKey):
            return False
        title = title_for(m.fs.model.options.titles.file_title, path[-1])
        fld_id = folder.key.fld_id
        return any(r.fld_id == fld_id and r.title == title for r in w.urls.pending())

    async def _url_upload(self, m: M, path: tuple[str, ...], url: str) -> str:
        model = m.fs.model
        urls = model.remote.writer().urls
        fld_id = await self._folder(m, path[:-1])
        title = title_for(model.options.titles.file_title, path[-1])
        try:
            return await urls.add(url, title, fld_id)
        except UrlError as exc:
            raise VfsError(errno.EINVAL, str(exc)) from None


def _local_copy(holders: Sequence[tuple[M, Node]]) -> tuple[Path, str] | None:
    """A file on this machine holding the bytes: a queued upload's spool file, else a complete
    read-cache copy; with the name of the member it belongs to."""
    for h, node in holders:
        w = h.fs.model.remote.writes
        if isinstance(node.key, QueuedKey) and w is not None:
            row = w.queue.get(node.key.upload_id)
            if row is not None and row.spool.is_file():
                return row.spool, f"spool of {h.name}"
    for h, node in holders:
        reader = h.fs.model.reader
        if isinstance(node.key, FileKey) and isinstance(reader, ReadCache):
            path = reader.complete_copy(node.key.code)
            if path is not None:
                return path, f"read cache of {h.name}"
    return None


async def _direct_url(h: MemberLike, code: str) -> tuple[str | None, str]:
    """A direct link to `code` on member `h`, or why there is none."""
    model = h.fs.model
    api = model.remote.api
    w = model.remote.writes
    if w is not None and w.features.known("direct_link") is None:
        await w.features.probe(api, ["direct_link"])
    if w is not None and w.features.known("direct_link") is False:
        return None, "the host allows no direct_link"
    try:
        link = await model.bounded(api.file_direct_link(code), f"file/direct_link of {code}")
    except UnsupportedError:
        if w is not None:
            w.features.mark_unsupported("direct_link")
        return None, "the host allows no direct_link"
    except (ApiError, VfsError) as exc:
        return None, f"no direct link: {exc}"
    version = choose_version(link)
    if version is None or not version.url:
        return None, "no direct link (the file is not ready there)"
    return version.url, ""


async def _gone(model: Model) -> _Gone:
    """The member's DMCA'd and deleted codes; a host without these calls (or not answering
    them) has none known: a missing file is still found by its path."""
    api = model.remote.api
    dmca = await _codes(model, api.file_dmca(last_hours=LAST_HOURS), "file/dmca")
    deleted = await _codes(model, api.file_deleted(last_hours=LAST_HOURS), "file/deleted")
    return _Gone(dmca=dmca, deleted=deleted)


async def _codes(model: Model, call: Awaitable[Sequence[_Coded]], what: str) -> frozenset[str]:
    try:
        rows = await model.bounded(call, what)
    except (ApiError, VfsError) as exc:
        log.info("mirror sync: %s: %s", what, exc)
        return frozenset()
    return frozenset(r.code for r in rows)


class SyncControl:
    """The `user.vipfs.mirror_sync` control of a mirror facade: `set` runs one sync (one at a
    time) and keeps its report, which `/.vipfs/mirror-sync.json` serves (`report_json`, added
    to every member's `/.vipfs`). The facade wires it in two lines: build it with itself, and
    in `setxattr`, `if name == CONTROL: await control.set(node.parts, value)`."""

    def __init__(self, mirror: SyncMirror[Any]) -> None:
        self._mirror = mirror
        for m in mirror.members:  # the mirror's /.vipfs passes its members' files through
            m.fs.model.remote.virtual.add(REPORT, self.report_json)
        self._shared: set[tuple[str, tuple[str, ...]]] = set()
        self._lock = trio.Lock()
        self._report: dict[str, object] = {"seq": 0, "path": None, "files": []}

    async def set(self, parts: tuple[str, ...], value: bytes) -> None:
        text = value.decode("utf-8", "replace").strip()
        if text not in ("", "-r"):
            raise VfsError(errno.EINVAL, 'mirror_sync wants "" (this folder) or "-r" (all under)')
        async with self._lock:
            outcomes = await sync(self._mirror, parts, text == "-r", self._shared)
            seq = int(str(self._report["seq"])) + 1
            self._report = {
                "seq": seq,
                "path": "/".join(parts),
                "files": [o.to_json() for o in outcomes],
            }

    async def report_json(self) -> bytes:
        return (json.dumps(self._report, ensure_ascii=False) + "\n").encode()
