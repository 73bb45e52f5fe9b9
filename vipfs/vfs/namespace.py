"""Remote changes to the tree: folders made, renamed, moved; files moved; things removed.

Network only: the facade calls these first and changes its model once they succeeded. Removal
follows the host: `file/delete` and `folder/delete` where it offers them, else the entry moves
into a server folder `vipfs-trash` at the root (created on demand, and left visible so nothing
vipfs does is hidden from the user), so nothing is ever lost. With trash off and no delete on
the host, removal is refused with EPERM; so is removal inside the trash where the host cannot
delete (moving an entry into the folder it is in would change nothing, at the price of a call).

Owns: the remote tree changes (folder/create with its lost-answer search, folder/edit, removal
and the trash folder). Imports: `api`, and of `vfs` only `errors`, `features`, `names`, `edits`
and `metadata` (never the upload queue).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Unpack

from vipfs.api.errors import (
    ApiError,
    NotFoundError,
    NotSentError,
    TransientError,
    UnsupportedError,
)
from vipfs.api.protocol import XvsApi
from vipfs.vfs.edits import FileEdit, edit_keep_tags
from vipfs.vfs.errors import VfsError, from_api
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.names import host_text

log = logging.getLogger(__name__)

TRASH = "vipfs-trash"
NO_DELETE = "this host offers no {op} and trash is off (--no-trash)"
# one wording whatever the entry, so the log says it once (fuse_ops logs each reason once)
IN_TRASH = f"nothing in {TRASH} can be removed: this host offers no {{op}}; empty it on the website"


@dataclass(frozen=True, slots=True)
class Removed:
    """How an entry left: deleted, or moved into the trash folder (and whether it was new)."""

    trash: int | None = None
    trash_created: bool = False


class Namespace:
    def __init__(
        self, api: XvsApi, metadata: Metadata, features: HostFeatures, *, trash: bool = True
    ) -> None:
        self.api = api
        self.metadata = metadata
        self.features = features
        self.trash = trash
        self._trash_id: int | None = None

    # -- folders -------------------------------------------------------------------------------
    async def create_folder(
        self, name: str, parent: int, known: Collection[int] = (), attempts: int = 4
    ) -> int:
        """`folder/create`, which is not idempotent: after a lost answer the folder may exist
        all the same, so before trying again the parent is searched for a new folder of that
        name (one not in `known`, the ids the parent already showed) and that one is adopted."""
        if len(name) < 2:
            raise VfsError(errno.EINVAL, f"folder names need 2 characters or more: {name!r}")
        for attempt in range(1, attempts + 1):
            try:
                return await self.api.folder_create(name, parent)
            except NotSentError:
                if attempt == attempts:
                    raise from_api(NotSentError("no connection"), f"mkdir {name!r}") from None
            except TransientError as exc:
                try:
                    found = await self._find_new_folder(name, parent, known)
                except ApiError:
                    found = None
                if found is not None:
                    log.info("mkdir %r: the lost answer had created folder %d", name, found)
                    return found
                if attempt == attempts:
                    raise from_api(exc, f"mkdir {name!r}") from None
            except ApiError as exc:
                raise from_api(exc, f"mkdir {name!r}") from None
        raise AssertionError("unreachable")

    async def _find_new_folder(self, name: str, parent: int, known: Collection[int]) -> int | None:
        listing = await self.api.folder_list(parent, files=False)
        ids = [
            f.fld_id for f in listing.folders if host_text(f.name) == name and f.fld_id not in known
        ]
        return max(ids) if ids else None

    async def edit_folder(
        self,
        fld_id: int,
        *,
        name: str | None = None,
        parent: int | None = None,
        descr: str | None = None,
    ) -> None:
        if name is not None and len(name) < 2:
            raise VfsError(errno.EINVAL, f"folder names need 2 characters or more: {name!r}")
        try:
            await self.api.folder_edit(fld_id, name=name, parent_id=parent, descr=descr)
        except ApiError as exc:
            raise from_api(exc, f"folder/edit of folder {fld_id}") from None

    # -- files ---------------------------------------------------------------------------------
    async def edit_file(self, code: str, what: str, **edit: Unpack[FileEdit]) -> None:
        """One `file/edit` (title, folder, metadata) that keeps the file's tags."""
        try:
            await edit_keep_tags(self.api, self.metadata, code, **edit)
        except ApiError as exc:
            raise from_api(exc, what) from None

    # -- removal -------------------------------------------------------------------------------
    async def remove_file(self, code: str, name: str, *, in_trash: bool = False) -> Removed:
        """`in_trash`: the file lies in the trash folder, so only a delete can remove it."""
        if await self._offered("delete"):
            try:
                await self.api.file_delete(code)
                log.info("deleted %s (%s)", name, code)
                return Removed()
            except NotFoundError:
                return Removed()  # already gone is what was asked
            except UnsupportedError:
                self.features.mark_unsupported("delete")
            except ApiError as exc:
                raise from_api(exc, f"deleting {name!r}") from None
        if in_trash:
            raise VfsError(errno.EPERM, IN_TRASH.format(op="file/delete"))
        trash, created = await self._trash("file/delete")
        await self.edit_file(code, f"moving {name!r} to {TRASH}", fld_id=trash)
        log.info("moved %s (%s) into %s: this host offers no file/delete", name, code, TRASH)
        return Removed(trash, created)

    async def remove_folder(self, fld_id: int, name: str, *, in_trash: bool = False) -> Removed:
        """`in_trash`: the folder is the trash folder or lies in it: only a delete removes it."""
        if await self._offered("folder_delete"):
            try:
                await self.api.folder_delete(fld_id)
                log.info("deleted folder %s (%d)", name, fld_id)
                return Removed()
            except NotFoundError:
                return Removed()
            except UnsupportedError:
                self.features.mark_unsupported("folder_delete")
            except ApiError as exc:
                raise from_api(exc, f"deleting folder {name!r}") from None
        if in_trash or fld_id == self._trash_id:
            raise VfsError(errno.EPERM, IN_TRASH.format(op="folder/delete"))
        trash, created = await self._trash("folder/delete")
        if fld_id == trash:  # found only now, by name: it cannot go into itself
            raise VfsError(errno.EPERM, IN_TRASH.format(op="folder/delete"))
        await self.edit_folder(fld_id, parent=trash)
        log.info("moved folder %s into %s: this host offers no folder/delete", name, TRASH)
        return Removed(trash, created)

    async def check_removable(self, folder: bool) -> None:
        """Refuse (EPERM) before anything changes when a removal could not happen."""
        feature = "folder_delete" if folder else "delete"
        if not self.trash and not await self._offered(feature):
            op = "folder/delete" if folder else "file/delete"
            raise VfsError(errno.EPERM, NO_DELETE.format(op=op))

    async def _offered(self, feature: str) -> bool:
        if self.features.known(feature) is None:
            await self.features.probe(self.api, [feature])
        return self.features.known(feature) is True

    async def _trash(self, op: str) -> tuple[int, bool]:
        """The trash folder's id, found at the root or created; refused when trash is off."""
        if not self.trash:
            raise VfsError(errno.EPERM, NO_DELETE.format(op=op))
        if self._trash_id is not None:
            return self._trash_id, False
        try:
            root = await self.api.folder_list(0, files=False)
            for folder in root.folders:
                if host_text(folder.name) == TRASH:
                    self._trash_id = folder.fld_id
                    return folder.fld_id, False
            self._trash_id = await self.api.folder_create(TRASH, 0)
        except ApiError as exc:
            raise from_api(exc, f"finding or creating {TRASH}") from None
        log.info("created folder %s (%d) for removed entries", TRASH, self._trash_id)
        return self._trash_id, True

    @property
    def trash_id(self) -> int | None:
        return self._trash_id
