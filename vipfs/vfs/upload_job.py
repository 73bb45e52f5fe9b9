"""The XVS upload protocol for one queue row: what the scheduler's job does on the wire.

Owns: the title a row is posted under (`title_for`), the node's multipart POST (through the
queue's `UploadNode`), the look-up of a copy a lost answer or a crash may have left
(`find_copy`: the title proof of `adoption`; `find_token` and `proven_copy` for tokened
uploads), and the one `file/edit` that follows only when the row changed while it uploaded.
It changes no queue state: the queue decides what an outcome means. Imports: `api`, and of
`vfs` `adoption`, `edits`, `metadata`, `metadb` (the row), `names` (the title rules) and
`upload_node`.

Two designs, chosen per queue (`WriteSetup.retitle`):
* the default: the POST carries `Titles.file_title(name)` itself, so nothing follows it unless
  the row was renamed, moved or given other tags or description meanwhile; a lost answer is
  resolved by `adoption.posted_copy`; the node URL is reused (`UploadNode`).
* `retitle` (today's design before issue 10, the benchmark's baseline): `upload/server` before
  every file, a title carrying the row's token (`<title> vipfs-<12 hex>`), the token look-up,
  and the retitle edit after every upload.

A search result is evidence, not proof: some hosts ignore `file/list` filters and answer the
whole account. Only the one file whose title ends in the row's exact token counts as ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container
from dataclasses import dataclass

from vipfs.api.errors import ApiError, AuthError, ProtocolError, TransientError, UploadRejectedError
from vipfs.api.protocol import XvsApi
from vipfs.api.records import FileEntry
from vipfs.vfs.adoption import Posted, posted_copy
from vipfs.vfs.edits import FileEdit, edit_keep_tags
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import Upload
from vipfs.vfs.names import Titles, title_token, tokened_title
from vipfs.vfs.upload_node import UploadNode

log = logging.getLogger(__name__)


class AmbiguousTokenError(Exception):
    """Several host files carry one upload token: none of them is provably ours."""

    def __init__(self, token: str, codes: list[str]) -> None:
        super().__init__(
            f"several host files carry upload token {token} ({', '.join(codes)}): "
            "none adopted, retitled or deleted"
        )
        self.token = token
        self.codes = codes


def proven_copy(found: list[FileEntry], token: str) -> str | None:
    """The code of the one host file that carries `token`, from a `file/list` answer that may
    hold anything (a host that ignores the filter lists the whole account). None when no file
    carries it; `AmbiguousTokenError` when several do."""
    codes = sorted({e.code for e in found if title_token(e.title) == token})
    if len(codes) > 1:
        raise AmbiguousTokenError(token, codes)
    return codes[0] if codes else None


@dataclass(frozen=True, slots=True)
class Sent:
    """What the host holds for an uploaded row: the title and folder it was posted (or last
    edited) with; `tags`/`descr` when known (None in `meta`: not known, not compared)."""

    title: str
    fld_id: int
    meta: tuple[str, str | None] | None = None


def sent_by(row: Upload, title: str) -> Sent:
    """What a POST of `row` under `title` gives the host."""
    return Sent(title, row.fld_id, (row.tags or "", row.descr))


class UploadJob:
    """Stores one row's spool file on the host and titles it; one instance per queue."""

    def __init__(
        self,
        api: XvsApi,
        metadata: Metadata,
        *,
        titles: Titles,
        node: UploadNode,
        retitle: bool = False,
    ) -> None:
        self._api = api
        self._metadata = metadata
        self._titles = titles
        self._node = node
        self.retitle_all = retitle

    def title_for(self, row: Upload) -> str:
        """The title a POST of `row` carries; ValueError (`names.UnsendableName`) when no
        title can carry its name."""
        if self.retitle_all:
            return tokened_title(row.name, row.token)
        return self._titles.file_title(row.name)

    async def find_token(self, row: Upload) -> str | None:
        """After a lost answer or a crash: did the node store the file anyway? Only the one
        file carrying the row's exact token counts (`proven_copy`)."""
        found = await self._api.file_list_all(title=row.token)
        code = proven_copy(found, row.token)
        if code is not None:
            log.info(
                "%s was stored by an earlier attempt as %s; not uploading again", row.name, code
            )
        return code

    async def find_copy(self, row: Upload, known: Container[str], now: float) -> str | None:
        """After a lost answer or a crash: the copy the row's last POST stored, proven by
        `adoption.posted_copy` (its window ends when the POST did, or, after a crash, now)."""
        if row.posted_title is None or row.posted_fld is None or row.posted_at is None:
            return None
        until = row.posted_end if row.posted_end is not None else now
        posted = Posted(row.posted_fld, row.posted_title, row.posted_at, until)
        found = await self._api.file_list_all(fld_id=posted.fld_id, title=posted.title)
        code = posted_copy(found, posted, known=known, to_epoch=self._api.server_to_epoch)
        if code is not None:
            log.info(
                "%s was stored by an earlier attempt as %s; not uploading again", row.name, code
            )
        return code

    async def post(self, row: Upload, title: str, sent: Callable[[int], None]) -> str:
        """The multipart POST of `row` under `title` to the node; the new file's code. A
        failure other than a refusal of the file makes the node URL be asked for again."""
        server = await self._node.url()
        try:
            result = await self._api.upload_file(
                server,
                row.spool,
                progress=sent,
                filename=row.name,
                title=title,
                descr=row.descr,
                fld_id=row.fld_id,
                tags=row.tags,
            )
        except UploadRejectedError:
            raise
        except Exception:
            self._node.forget(server)
            raise
        if not result.ok or result.code is None:
            raise UploadRejectedError(result.status or "upload refused", filename=row.name)
        return result.code

    async def retitle(
        self, code: str, live: Callable[[], Upload], held: Sent | None = None
    ) -> Upload:
        """Bring the host file in line with `live()` (the row as it is now): its title and
        folder, and the tags and description when `held` says the host has others. `held`
        is what the host holds (None: unknown, edit anyway, as the tokened design does);
        nothing is sent when it matches. Again if a rename raced the edit. A refused edit
        does not fail the upload (the bytes are safe on the host and the db keeps the right
        name): it is logged. Transient, protocol and auth errors propagate (the queue
        retries)."""
        while True:
            row = live()
            title = self._titles.file_title(row.name)
            edit = self._changes(row, title, held)
            if edit is None:
                return row
            try:
                await edit_keep_tags(self._api, self._metadata, code, **edit)
            except (TransientError, ProtocolError, AuthError):
                raise
            except ApiError as exc:
                log.warning(
                    "uploaded %s as %s, but the host refused its title: %s", row.name, code, exc
                )
                return live()
            held = sent_by(row, title)  # and once more, if the row changed under the edit

    @staticmethod
    def _changes(row: Upload, title: str, held: Sent | None) -> FileEdit | None:
        """The `file/edit` that makes the host hold `row` (None: it does already)."""
        edit = FileEdit(title=title, fld_id=row.fld_id, tags=row.tags or "")
        if held is None:
            return edit
        tags, descr = held.meta if held.meta is not None else (row.tags or "", row.descr)
        if descr != row.descr:
            edit["descr"] = row.descr
        if (held.title, held.fld_id, tags) == (title, row.fld_id, row.tags or "") and (
            "descr" not in edit
        ):
            return None
        return edit
