"""Lenient parsing: every example of the API page, and every quirk real hosts send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from vipfs.api.records import (
    AccountInfo,
    CloneResult,
    DirectLink,
    Encoding,
    FileEntry,
    FileInfo,
    FilePage,
    FolderListing,
    UploadedFile,
    UrlUpload,
)
from vipfs.api.wire import to_bool, to_date, to_dicts, to_int

from .fakehost import FakeHost, fixture


def serve(host: FakeHost, op: str, name: str) -> None:
    host.on(op, httpx.Response(200, json=fixture(name)))


async def test_api_page_examples_parse_through_the_client(tmp_path: Any) -> None:
    host = FakeHost()
    for op in (
        "account/info",
        "account/stats",
        "upload/server",
        "upload/url",
        "file/info",
        "file/edit",
        "file/list",
        "file/clone",
        "file/deleted",
        "file/dmca",
        "folder/list",
        "folder/create",
        "folder/edit",
        "file/encodings",
    ):
        serve(host, op, op.replace("/", "_"))
    async with host.client() as api:
        account = await api.account_info()
        assert account.login == "megauploader21"
        assert account.storage_left == 1288483337
        assert account.files_total == 31 and account.storage_used == 685101
        assert account.premium is True
        assert account.premium_expire == datetime(2022, 10, 15, 4, 46, 59)

        [day] = await api.account_stats()
        assert (day.day, day.views, day.downloads, day.profit_total) == (
            "2021-09-12",
            0,
            0,
            "0.00000",
        )
        assert day.raw["views_adb"] == "1"

        assert await api.upload_server() == "https://s1.myvideo.com/upload/01"
        assert await api.upload_url("http://example.invalid/a.mp4") == "fb5asfuj2snh"

        [info] = await api.file_info(["fb5asfuj2snh"])
        assert info.status == 200 and info.title == "big buck bunny"
        assert info.created is None  # the page's own sample date is "2021-08-102"
        assert info.fld_id == 25 and info.length == 60 and info.canplay and info.adult
        assert info.last_download == datetime(2021, 8, 12, 20, 56, 54)
        assert info.tags == "promo, high quality"

        await api.file_edit("fb5asfuj2snh", title="x")

        page = await api.file_list(page=1)
        assert page.results == 1 and page.results_total == 9 and page.pages == 9
        [entry] = page.files
        assert entry.code == "fb5asfuj2snh" and entry.title == "Test 123"
        assert entry.uploaded == datetime(2021, 7, 12, 20, 56, 54)
        assert entry.public is False and entry.canplay is True and entry.fld_id == 0

        clone = await api.file_clone("04nolnuszhph")
        assert clone == CloneResult(code="u405p6qz5xpi", url="http://xvs.tt/u405p6qz5xpi")

        [gone] = await api.file_deleted(24)
        assert gone.code == "38j4wvxw164d" and gone.deleted_ago_sec == 40
        assert gone.deleted_by == "me" and gone.title == "Video 109779195"

        [dmca] = await api.file_dmca(24)
        assert dmca.code == "x2q5h0uhfzdu" and dmca.del_in_sec == 42097

        listing = await api.folder_list(0)
        assert [(f.fld_id, f.name, f.code) for f in listing.folders] == [
            (16, "Breaking Bad", "4pwb4yvp7v"),
            (15, "Travis", "68dth39m76"),
        ]
        assert [f.length for f in listing.files] == [1560]

        assert await api.folder_create("New Videos") == 29
        await api.folder_edit(25, name="Movies 2021")

        encodings = await api.file_encodings()
        assert [(e.code, e.status, e.progress, e.quality) for e in encodings] == [
            ("fb5asfuj2snh", "ENCODING", 15, "h"),
            ("fb5asfuj2snh", "PENDING", 0, "l"),
        ]


def test_upload_example_parses() -> None:
    files = to_dicts(fixture("upload_file")["files"])
    parsed = [UploadedFile.from_wire(f) for f in files]
    assert [(u.code, u.filename, u.ok) for u in parsed] == [
        ("u9150wqzvhxj", "1.avi", True),
        ("gzky98gfg6hn", "2.avi", True),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("31", 31),
        (31, 31),
        (" 7 ", 7),
        ("60.0", 60),
        (None, None),
        ("", None),
        ("x", None),
        (True, 1),
        ([], None),
        (float("nan"), None),
    ],
)
def test_ints_arrive_in_every_shape(value: object, expected: int | None) -> None:
    assert to_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        (1, True),
        ("0", False),
        (0, False),
        (None, False),
        ("true", True),
        ("", False),
        ("junk", False),
    ],
)
def test_flags_arrive_in_every_shape(value: object, expected: bool) -> None:
    assert to_bool(value) is expected


@pytest.mark.parametrize(
    "value", ["2021-08-102 20:51:52", "0000-00-00 00:00:00", "", None, 12, "yesterday"]
)
def test_malformed_dates_become_none(value: object) -> None:
    assert to_date(value) is None


def test_account_quirks() -> None:
    old = AccountInfo.from_wire(
        {
            "login": "u",
            "storage_left": "unlimited",
            "premim_expire": "2030-01-02 03:04:05",
            "premium": "0",
            "files_total": None,
        }
    )
    assert old.storage_left is None and old.premium is False and old.files_total is None
    assert old.premium_expire == datetime(2030, 1, 2, 3, 4, 5)
    assert AccountInfo.from_wire({"storage_left": "inf"}).storage_left is None
    assert AccountInfo.from_wire({"storage_left": "1024"}).storage_left == 1024
    assert AccountInfo.from_wire({"premium_expire": "0000-00-00 00:00:00"}).premium_expire is None


def test_key_drift_and_shape_drift() -> None:
    assert FileInfo.from_wire({"filecode": "gi4t0tl4o01u", "status": "404"}) == FileInfo(
        code="gi4t0tl4o01u", status=404
    )
    assert FileEntry.from_wire({"filecode": "abc", "fld_id": None, "title": 5}).fld_id == 0
    assert FilePage.from_wire({"files": {}, "results": 0}).files == []
    assert FilePage.from_wire({"result": [{"file_code": "aaaaaaaaaaaa"}]}).results == 1
    assert FolderListing.from_wire({"folders": {}, "files": {}}) == FolderListing([], [])
    assert UploadedFile.from_wire({"file_code": "undef", "file_status": "OK"}).ok is False
    assert UploadedFile.from_wire({"filecode": "", "status": "file is too big"}).ok is False
    assert UrlUpload.from_wire(
        {
            "remote_url": "https://x/1.mp4",
            "progress": "0",
            "status": "pending",
            "file_code": "",
            "fld_id": "0",
        }
    ) == UrlUpload("https://x/1.mp4", None, "PENDING", 0, 0)
    assert Encoding.from_wire({"code": "c", "progress": None, "status": "STUCK"}).progress == 0


def test_direct_link_shapes() -> None:
    full = DirectLink.from_wire(
        {
            "versions": [
                {"url": "http://n/v.mp4", "name": "n", "size": "120755726"},
                {"url": "http://n/o.mp4", "name": "o", "size": 5},
            ],
            "file_length": "1560",
            "player_img": "http://img/x.jpg",
        }
    )
    assert [(v.name, v.size) for v in full.versions] == [("n", 120755726), ("o", 5)]
    assert full.length == 1560
    assert DirectLink.from_wire("http://n/v.mp4").versions[0].url == "http://n/v.mp4"
    assert DirectLink.from_wire("").versions == []
    assert DirectLink.from_wire({}).versions == []
    assert DirectLink.from_wire({"url": "http://x/f", "size": 3}).versions[0].size == 3


def test_a_folder_listing_finds_its_first_file_of_a_code() -> None:
    listing = FolderListing.from_wire(
        {
            "folders": [],
            "files": [
                {"file_code": "aaaaaaaaaaaa", "title": "first"},
                {"file_code": "bbbbbbbbbbbb", "title": "other"},
                {"file_code": "aaaaaaaaaaaa", "title": "again"},  # hosts repeat themselves
            ],
        }
    )
    found = listing.file("aaaaaaaaaaaa")
    assert found is not None and found.title == "first"
    assert listing.file("cccccccccccc") is None
    assert listing == FolderListing(listing.folders, listing.files)  # the index is no state
