"""The controls a folder takes through setxattr: `vipfs clone` and `vipfs url-upload`.

Owns: `file/clone` into a folder under a chosen name (with the metadata the source had), and
reading a URL-upload request (the queue is `urluploads.py`'s).  Imports: `vipfs.api` (errors,
records), `vipfs.vfs` errors, inodes, metadata, model, tree (synthetic entries), urluploads.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging

from vipfs.api.errors import UnsupportedError
from vipfs.api.records import CloneResult
from vipfs.vfs.errors import VfsError, title_for
from vipfs.vfs.inodes import Node
from vipfs.vfs.metadata import name_only
from vipfs.vfs.model import Model
from vipfs.vfs.tree import synthetic
from vipfs.vfs.urluploads import UrlError

log = logging.getLogger(__name__)


class Controls:
    def __init__(self, model: Model) -> None:
        self.m = model

    async def clone_into(self, node: Node, fld_id: int, request: str) -> str:
        """`vipfs clone`: file/clone of a code into this folder, under the asked name."""
        m = self.m
        w = m.remote.writer()
        try:
            asked = json.loads(request)
            code, name = str(asked["code"]), str(asked["name"])
        except (ValueError, KeyError, TypeError):
            raise VfsError(errno.EINVAL, 'clone wants {"code": ..., "name": ...}') from None
        if (await m.views.get(fld_id)).child(name) is not None:
            raise VfsError(errno.EEXIST, f"clone: {name} exists")

        title = title_for(m.options.titles.file_title, name)

        async def clone() -> CloneResult:
            try:
                return await m.remote.api.file_clone(code, title=title, fld_id=fld_id)
            except UnsupportedError:
                w.features.mark_unsupported("clone")
                raise

        result = await m.bounded(clone(), f"file/clone of {code}")
        source = w.metadata.meta(code)
        if source is not None:
            meta = dataclasses.replace(source, code=result.code, name=name, fld_id=fld_id)
        else:
            meta = name_only(result.code, name, fld_id)
        await w.metadata.put(meta)
        m.views.add(fld_id, synthetic(result.code, name, fld_id, m.views.titles))
        m.remote.infos.invalidate(fld_id)  # the folder's file/info answer lacks the clone
        log.info("cloned %s into %s as %s (%s)", code, node.name or "/", name, result.code)
        return name

    async def url_upload(self, node: Node, fld_id: int, request: str) -> str:
        """`vipfs url-upload`: one URL (plain, or `{"url": ..., "title": ...}`) joins the
        URL-upload queue for this folder; returns what became of it ("queued", …)."""
        urls = self.m.remote.writer().urls
        url, title = request.strip(), None
        if url.startswith("{"):
            try:
                asked = json.loads(url)
                url = str(asked["url"])
                title = None if asked.get("title") is None else str(asked["title"])
            except (ValueError, KeyError, TypeError, AttributeError):
                raise VfsError(
                    errno.EINVAL, 'url_upload wants {"url": ..., "title": ...}'
                ) from None
        try:
            answer = await urls.add(url, title, fld_id)
        except UrlError as exc:
            raise VfsError(errno.EINVAL, f"url_upload: {exc}") from None
        log.info("URL upload into %s: %s", node.name or "/", answer)
        return answer
