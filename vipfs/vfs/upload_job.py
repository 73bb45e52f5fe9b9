"""The XVS upload protocol for one queue row: what the scheduler's job does on the wire.

Owns: `upload/server` and the node's multipart POST with the tokened title; the token look-up
after a lost answer or a crash (`proven_copy`, `AmbiguousTokenError`); the retitle edit that
sets the exact title and the current folder. It changes no queue state: the queue decides what
an outcome means. Imports: `api`, and of `vfs` `edits`, `metadata`, `metadb` (the row) and
`names` (the title rules).

A search result is evidence, not proof: some hosts ignore `file/list` filters and answer the
whole account. Only the one file whose title ends in the row's exact token counts as ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vipfs.api.errors import ApiError, AuthError, ProtocolError, TransientError, UploadRejectedError
from vipfs.api.protocol import XvsApi
from vipfs.api.records import FileEntry
from vipfs.vfs.edits import edit_keep_tags
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import Upload
from vipfs.vfs.names import file_title, title_token, tokened_title

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


class UploadJob:
    """Stores one row's spool file on the host and titles it; one instance per queue."""

    def __init__(self, api: XvsApi, metadata: Metadata) -> None:
        self._api = api
        self._metadata = metadata

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

    async def post(self, row: Upload, sent: Callable[[int], None]) -> str:
        """`upload/server`, then the POST under the tokened title; the new file's code."""
        server = await self._api.upload_server()
        result = await self._api.upload_file(
            server,
            row.spool,
            progress=sent,
            filename=row.name,
            title=tokened_title(row.name, row.token),
            descr=row.descr,
            fld_id=row.fld_id,
            tags=row.tags,
        )
        if not result.ok or result.code is None:
            raise UploadRejectedError(result.status or "upload refused", filename=row.name)
        return result.code

    async def retitle(self, code: str, live: Callable[[], Upload]) -> Upload:
        """Set the exact title and the current folder of `live()` (the row as it is now);
        again if a rename raced the edit. A refused edit does not fail the upload (the bytes
        are safe on the host and the db keeps the right name): it is logged, and the title
        keeps its token. Transient, protocol and auth errors propagate (the queue retries)."""
        while True:
            row = live()
            try:
                await edit_keep_tags(
                    self._api,
                    self._metadata,
                    code,
                    title=file_title(row.name),
                    fld_id=row.fld_id,
                    tags=row.tags or "",
                )
            except (TransientError, ProtocolError, AuthError):
                raise
            except ApiError as exc:
                log.warning(
                    "uploaded %s as %s, but the host refused its title: %s", row.name, code, exc
                )
                return live()
            now = live()
            if (now.name, now.fld_id) == (row.name, row.fld_id):
                return now
