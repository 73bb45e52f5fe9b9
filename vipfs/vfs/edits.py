"""The `file/edit` policy: what one edit may change, and the tags it must always resend.

Owns: `FileEdit` and `edit_keep_tags`, the one way vipfs sends `file/edit` (the upload job's
retitle, and the namespace's renames, moves and metadata changes).
Imports: `api` (the Protocol), `metadata` (where known tags are read and learned ones recorded).
It knows nothing of the upload queue.
"""

from __future__ import annotations

from typing import TypedDict, Unpack

from vipfs.api.protocol import XvsApi
from vipfs.vfs.metadata import Metadata


class FileEdit(TypedDict, total=False):
    """What one `file/edit` may change; every caller names its changes with these keys."""

    title: str | None
    descr: str | None
    fld_id: int | None
    tags: str | None
    public: bool | None
    adult: bool | None
    cat_id: int | None


async def edit_keep_tags(
    api: XvsApi, metadata: Metadata, code: str, **edit: Unpack[FileEdit]
) -> None:
    """`file/edit` that always resends the file's tags: the host wipes them on any edit without
    `tags`. Known tags come from the metadata; unknown ones are fetched once with `file/info`.
    The metadata row (if any) follows the change: the tags, and the description and folder."""
    tags = edit.get("tags")
    if tags is None:
        known = metadata.meta(code)
        tags = known.tags if known is not None else None
    if tags is None:
        (info,) = await api.file_info([code])
        tags = (info.tags or "") if info.status == 200 else ""
        await metadata.update(code, tags=tags)
    edit["tags"] = tags
    await api.file_edit(code, **edit)
    changes: dict[str, object] = {"tags": tags}
    for key in ("descr", "fld_id"):
        if edit.get(key) is not None:
            changes[key] = edit[key]
    await metadata.update(code, **changes)
