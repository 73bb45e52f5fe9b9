"""The `user.vipfs.*` attributes of files and folders, as `getfattr` shows and sets them.

Owns: the attribute values of each node kind, which are writable, and what setting one sends
(`file/edit`, `folder/edit`, the queue's record; the clone and URL-upload controls are
`controls.py`'s).  Imports: `vipfs.api.records`, `vipfs.vfs` controls, errors, hoststates (what
the polls saw), inodes, listing, metadb (states), model, names, progress (the text of a running
upload).

Values are UTF-8 text. `file/info` (fetched lazily, per folder) wins over the listing where
both say something, since it is the fresher and fuller answer; of the listing, the host's own
record wins over vipfs's stand-in for a file it just changed.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import math
import time
from typing import Any

from vipfs.api.records import FileEntry, FileInfo, Folder
from vipfs.vfs.controls import Controls
from vipfs.vfs.errors import VfsError
from vipfs.vfs.hoststates import NOTHING, Seen, dmca_hours
from vipfs.vfs.inodes import FileKey, FolderKey, Node, QueuedKey, VirtualKey
from vipfs.vfs.listing import VIRTUAL_DIR
from vipfs.vfs.metadb import Upload, UploadState
from vipfs.vfs.model import Model
from vipfs.vfs.names import as_listed, host_text
from vipfs.vfs.progress import Progress, transfer_text

log = logging.getLogger(__name__)

PREFIX = "user.vipfs."
CLONE_XATTR = PREFIX + "clone"  # on a folder: {"code": ..., "name": ...} → file/clone into it
URL_XATTR = PREFIX + "url_upload"  # on a folder: a URL → upload/url into it
LINK_XATTR = PREFIX + "link"
LINK_RELIST = 10.0  # seconds between two relistings of a folder for a link not shown yet


def _flag(value: bool) -> str:
    return "1" if value else "0"


def file_status(entry: FileEntry, info: FileInfo | None, seen: Seen = NOTHING) -> str:
    """`user.vipfs.status` of a file on the host (a queued one's is `queued_status`): a
    takedown first, then what the polls saw of vipfs's own upload (`uploaded` until the host
    answers, `encoding 40%`, `ready`), else the host's `canplay`."""
    if seen.deleted_by is not None:
        return "deleted by host"
    if seen.dmca:
        left = seen.dmca_left
        return "dmca" if left is None else f"dmca: deleted in {dmca_hours(left)}h"
    if info is not None and info.status == 451:  # file/info knows before the DMCA poll does
        return "dmca"
    if seen.ready:
        return "ready"
    if seen.watched:
        if seen.progress is not None:
            return f"encoding {seen.progress}%"
        return "encoding" if seen.answered else "uploaded"
    canplay = info.canplay if info is not None and info.status == 200 else entry.canplay
    return "ready" if canplay else "encoding"


def embed_link(template: str, code: str) -> str | None:
    """The file's embed link by the mount's `--embed-url` template; None when none is set.
    `replace`, not `format`: a template's other braces stay as written."""
    return template.replace("{code}", code) if template else None


def file_xattrs(
    entry: FileEntry, info: FileInfo | None, status: str, *, embed_url: str = ""
) -> dict[str, bytes]:
    found = info if info is not None and info.status == 200 else None
    values: dict[str, str | None] = {
        "code": entry.code,
        "link": entry.link,
        "embed": embed_link(embed_url, entry.code),
        "views": _text(found.views if found and found.views is not None else entry.views),
        "length": _text(found.length if found and found.length is not None else entry.length),
        "canplay": _flag(found.canplay if found else entry.canplay),
        "thumbnail": (found.player_img if found and found.player_img else entry.thumbnail),
        "status": status,
    }
    if found is not None:  # the writable ones, as the host holds them now
        values |= {
            "title": host_text(found.title) if found.title is not None else None,
            "descr": host_text(found.descr) if found.descr is not None else None,
            "tags": found.tags,
            "public": _flag(found.public),
            "adult": _flag(found.adult),
            "cat_id": _text(found.cat_id),
        }
    return {PREFIX + k: v.encode() for k, v in values.items() if v is not None}


def folder_xattrs(folder: Folder) -> dict[str, bytes]:
    return {PREFIX + "code": folder.code.encode()} if folder.code else {}


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


EDITABLE = ("title", "descr", "tags", "public", "adult", "cat_id")


def parse_edit(key: str, text: str) -> dict[str, Any]:
    """An xattr value as the `file/edit` argument it sets."""
    if key in ("public", "adult"):
        value = text.strip().lower()
        if value not in ("0", "1", "true", "false", "yes", "no"):
            raise VfsError(errno.EINVAL, f"{PREFIX}{key} takes 0 or 1, not {text!r}")
        return {key: value in ("1", "true", "yes")}
    if key == "cat_id":
        try:
            return {key: int(text.strip())}
        except ValueError:
            raise VfsError(errno.EINVAL, f"{PREFIX}cat_id takes a number, not {text!r}") from None
    return {key: text}


def queued_status(row: Upload, running: Progress | None = None) -> str:
    """`user.vipfs.status` of a file still in the upload queue; `running` is how far its
    upload is (`uploading 37% 12.3/33.0 MB 2.1 MB/s ETA 10s`; no bytes yet: 0%)."""
    if row.state is UploadState.UPLOADING:
        now = running if running is not None else Progress(0, row.size)
        return f"uploading {transfer_text(now.sent, now.total, now.rate, now.eta)}"
    if row.state in (UploadState.FAILED, UploadState.INCOMPLETE, UploadState.EMPTY):
        return f"{row.state}: {row.last_error}"
    if row.state is UploadState.QUEUED and row.attempts:
        return f"retrying: {row.last_error} ({_attempts(row.attempts)} failed)"
    return str(row.state)


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("" if count == 1 else "s")


class Xattrs:
    """getxattr/listxattr/setxattr/removexattr of every node kind."""

    def __init__(self, model: Model, controls: Controls) -> None:
        self.m = model
        self.controls = controls
        self._relisted: dict[int, float] = {}  # fld_id → when a missing link last relisted it

    async def get(self, ino: int, name: str) -> bytes:
        if not name.startswith("user."):
            raise VfsError(errno.ENOTSUP)
        values = await self._linked_values(self.m.node(ino))
        try:
            return values[name]
        except KeyError:
            raise VfsError(errno.ENODATA) from None

    async def _linked_values(self, node: Node) -> dict[str, bytes]:
        """The node's values, after one relisting of its folder if it is a file on the host
        whose link no listing has shown yet (`_relist_for_link`)."""
        values = await self._values(node)
        if LINK_XATTR not in values and await self._relist_for_link(node):
            values = await self._values(node)
        return values

    async def _relist_for_link(self, node: Node) -> bool:
        """A file on the host whose link no listing has shown yet (vipfs just uploaded it: the
        upload's answer names only the code) has its attributes read (`vipfs links`,
        `getfattr -d`): list its folder again, once per LINK_RELIST seconds a folder, so the
        link shows now rather than after the listing's TTL. Files nobody looks at cost
        nothing; a folder of fresh uploads costs one call, not one a file."""
        entry = node.entry
        if not isinstance(node.key, FileKey) or not isinstance(entry, FileEntry):
            return False
        now = time.monotonic()
        if now - self._relisted.get(entry.fld_id, -math.inf) < LINK_RELIST:
            return False
        self._relisted[entry.fld_id] = now
        listings = self.m.remote.listings
        listings.expire(entry.fld_id)
        try:
            await listings.get(entry.fld_id)  # a quick host answers within the loader's grace
        except VfsError as exc:
            log.info("no link yet for %r: %s", node.name, exc.why)
            return False
        return True

    async def list(self, ino: int) -> list[str]:
        return sorted(await self._linked_values(self.m.node(ino)))

    async def set(self, ino: int, name: str, value: bytes) -> str | None:
        """Set a `user.vipfs.*` attribute; returns the name of an entry it created in the
        folder `ino` (a clone), whose earlier misses the kernel may still remember."""
        if not name.startswith(PREFIX):
            raise VfsError(errno.ENOTSUP)
        m = self.m
        node = m.node(ino)
        if isinstance(node.key, VirtualKey):
            raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
        w = m.remote.writer()
        key = name[len(PREFIX) :]
        text = value.decode(errors="replace")
        match node.key:
            case FolderKey(fld_id):
                if name == CLONE_XATTR:
                    return await self.controls.clone_into(node, fld_id, text)
                if name == URL_XATTR:
                    await self.controls.url_upload(node, fld_id, text)
                elif key == "descr":
                    await m.bounded(w.names.edit_folder(fld_id, descr=text), "folder descr")
                else:
                    raise VfsError(errno.EPERM, f"{name}: folders take only {PREFIX}descr")
                return None
            case _ if key not in EDITABLE:
                raise VfsError(errno.EPERM, f"{name} is read-only; writable: {', '.join(EDITABLE)}")
            case QueuedKey(upload_id):
                if key not in ("tags", "descr"):
                    raise VfsError(errno.EBUSY, f"{name}: {node.name} is not uploaded yet")
                await w.queue.set_meta(upload_id, **{key: text})
            case FileKey(code):
                await self._edit_file(node, code, name, key, text)
        return None

    async def remove(self, ino: int, name: str) -> None:
        if not name.startswith("user."):
            raise VfsError(errno.ENOTSUP)
        raise VfsError(errno.EPERM, "user.vipfs.* attributes can be set, not removed")

    async def _edit_file(self, node: Node, code: str, name: str, key: str, text: str) -> None:
        m = self.m
        w = m.remote.writer()
        changes = parse_edit(key, text)
        await m.bounded(
            w.names.edit_file(code, f"setting {name} of {node.name}", **changes),
            f"file/edit of {node.name}",
        )
        entry = node.entry
        if isinstance(entry, FileEntry):
            m.remote.infos.invalidate(entry.fld_id)
            if key == "title":
                retitled = dataclasses.replace(entry, title=as_listed(text))
                node.entry = retitled
                m.views.add(entry.fld_id, retitled)

    async def _values(self, node: Node) -> dict[str, bytes]:
        m = self.m
        entry = node.entry
        match node.key:
            case QueuedKey(upload_id):
                queue = m.remote.writer().queue
                row = queue.get(upload_id)
                if row is None:
                    return {}
                return {PREFIX + "status": queued_status(row, queue.progress(upload_id)).encode()}
            case FolderKey(fld_id):
                values = folder_xattrs(entry) if isinstance(entry, Folder) else {}
                values[PREFIX + "fld_id"] = str(fld_id).encode()
                return values
        if not isinstance(entry, FileEntry):
            return {}
        try:
            info = (await m.remote.infos.get(entry.fld_id)).get(entry.code)
        except VfsError as exc:  # the listing still says most of it
            log.info("xattrs of %r without file/info: %s", node.name, exc.why)
            info = None
        host = self._listed(entry)
        status = file_status(host, info, m.remote.hosts.seen(entry.code))
        return file_xattrs(host, info, status, embed_url=m.options.embed_url)

    def _listed(self, entry: FileEntry) -> FileEntry:
        """The host's own record of the file, from its folder's last answer when that shows
        it (read for the values only the host knows: code, link, views, length, canplay,
        thumbnail). What vipfs shows for a file it just uploaded, renamed or moved is its own
        stand-in, with no link, length or thumbnail, and the listing keeps showing it for a
        while (`Journal`): the values the host alone knows come from the host's record as
        soon as an answer has one (issue 11)."""
        answer = self.m.remote.listings.peek(entry.fld_id)
        listed = answer.file(entry.code) if answer is not None else None
        return listed or entry
