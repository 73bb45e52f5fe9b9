"""Whatever JSON a host sends inside a record, parsing yields a record and never raises."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vipfs.api.records import (
    AccountInfo,
    CloneResult,
    DeletedFile,
    DirectLink,
    DmcaFile,
    Encoding,
    FileEntry,
    FileInfo,
    FilePage,
    Folder,
    FolderListing,
    LinkVersion,
    StatsDay,
    UploadedFile,
    UrlUpload,
)

KEYS = [
    "file_code",
    "filecode",
    "code",
    "title",
    "file_title",
    "name",
    "fld_id",
    "uploaded",
    "file_created",
    "length",
    "views",
    "canplay",
    "public",
    "status",
    "storage_left",
    "premium",
    "premium_expire",
    "premim_expire",
    "files",
    "folders",
    "result",
    "versions",
    "url",
    "size",
    "progress",
    "del_time",
    "deleted",
    "deleted_ago_sec",
    "results",
    "pages",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=25),
    st.sampled_from(
        [
            "2021-08-102 20:51:52",
            "0000-00-00 00:00:00",
            "2021-08-12 20:56:54",
            "unlimited",
            "inf",
            "OK",
            "1e400",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
RECORDS: list[Any] = [
    AccountInfo,
    CloneResult,
    DeletedFile,
    DmcaFile,
    Encoding,
    FileEntry,
    FileInfo,
    FilePage,
    Folder,
    FolderListing,
    LinkVersion,
    StatsDay,
    UploadedFile,
    UrlUpload,
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.__name__)
@settings(max_examples=25, deadline=None)
@given(raw=st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8))
def test_any_shape_parses(record: Any, raw: dict[str, Any]) -> None:
    assert isinstance(record.from_wire(raw), record)


@settings(max_examples=50, deadline=None)
@given(raw=JSON)
def test_direct_link_takes_any_result(raw: Any) -> None:
    assert isinstance(DirectLink.from_wire(raw), DirectLink)
