"""Every operation on the seed API page answers in that page's shapes: keys and JSON types."""

from __future__ import annotations

import re
from typing import Any

from tests.unit.emulator.conftest import Api, FakeClock
from vipfs.emulator.server import Emulator

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")

LIST_ITEM = {
    "thumbnail": str,
    "link": str,
    "file_code": str,
    "canplay": int,
    "length": str,
    "views": str,
    "uploaded": str,
    "public": str,
    "fld_id": str,
    "title": str,
}
INFO_ITEM = {
    "file_views_full": str,
    "cat_id": str,
    "player_img": str,
    "status": int,
    "file_code": str,
    "file_last_download": str,
    "canplay": int,
    "file_public": str,
    "file_length": str,
    "file_title": str,
    "file_views": str,
    "file_created": str,
    "file_premium_only": str,
    "file_adult": str,
    "file_fld_id": str,
    "tags": str,
}
STATS_DAY = {
    k: str
    for k in (
        "downloads",
        "profit_views",
        "views_adb",
        "sales",
        "profit_sales",
        "profit_refs",
        "profit_site",
        "views",
        "refs",
        "day",
        "profit_total",
        "views_prem",
    )
}


def assert_shape(value: Any, shape: dict[str, type]) -> None:
    assert isinstance(value, dict)
    assert set(value) == set(shape), set(value) ^ set(shape)
    for key, kind in shape.items():
        assert type(value[key]) is kind, (key, value[key])


def seed_one(emu: Emulator, **extra: Any) -> str:
    codes = emu.seed({"files": [{"title": "Test 123", "size": 1000, **extra}]})["files"]
    return str(codes[0])


def test_envelope(api: Api) -> None:
    reply = api("account/info")
    assert reply["status"] == 200 and reply["msg"] == "OK"
    assert TIME_RE.match(reply["server_time"])
    assert "requests_available" not in reply  # only when a limit is set


def test_account_info(api: Api, emu: Emulator) -> None:
    seed_one(emu)
    result = api.ok("account/info")
    assert_shape(
        result,
        {
            "files_total": str,
            "storage_left": int,
            "login": str,
            "email": str,
            "premium_expire": str,
            "balance": str,
            "premium": int,
            "storage_used": str,
        },
    )
    assert result["files_total"] == "1" and result["login"] == "user1"


def test_account_stats(api: Api, emu: Emulator, clock: FakeClock) -> None:
    empty = api("account/stats")
    assert empty["status"] == 200 and empty["result"] == {}
    assert empty["msg"] == "Not enough reports data"
    day = emu.host.fmt_time(clock.t - 86400)[:10]
    emu.seed(
        {
            "stats": [
                {
                    "day": day,
                    "views": 5,
                    "downloads": 1,
                    "views_prem": 0,
                    "views_adb": 1,
                    "sales": 0,
                    "refs": 0,
                    "profit_views": "0.00100",
                }
            ]
        }
    )
    result = api.ok("account/stats")
    assert len(result) == 1
    assert_shape(result[0], STATS_DAY)
    assert result[0]["day"] == day and result[0]["views"] == "5"


def test_upload_server(api: Api, emu: Emulator) -> None:
    assert api.ok("upload/server") == f"{emu.base_url}/upload/01"


def test_upload_url(api: Api) -> None:
    result = api.ok("upload/url", url="http://example.invalid/big_buck_bunny.mp4")
    assert_shape(result, {"filecode": str})
    assert re.fullmatch(r"\w{12}", result["filecode"])


def test_file_info(api: Api, emu: Emulator) -> None:
    code = seed_one(emu, tags="promo, high quality")
    result = api.ok("file/info", file_code=code)
    assert len(result) == 1
    assert_shape(result[0], INFO_ITEM)
    assert result[0]["file_title"] == "Test 123" and result[0]["tags"] == "promo, high quality"


def test_file_edit(api: Api, emu: Emulator) -> None:
    code = seed_one(emu)
    assert api.ok("file/edit", file_code=code, file_title="The 100 S01E02") == "true"


def test_file_list(api: Api, emu: Emulator) -> None:
    seed_one(emu)
    result = api.ok("file/list")
    assert_shape(result, {"files": list, "results_total": int, "pages": int, "results": int})
    assert_shape(result["files"][0], LIST_ITEM)
    assert TIME_RE.match(result["files"][0]["uploaded"])


def test_file_clone(api: Api, emu: Emulator) -> None:
    result = api.ok("file/clone", file_code=seed_one(emu))
    assert_shape(result, {"url": str, "filecode": str})
    assert result["url"] == f"{emu.base_url}/{result['filecode']}"


def test_file_deleted(api: Api, emu: Emulator) -> None:
    seed_one(emu, deleted="me", deleted_ago=40)
    result = api.ok("file/deleted", last=24)
    assert_shape(
        result[0],
        {"file_code": str, "deleted_by": str, "deleted_ago_sec": str, "deleted": str, "title": str},
    )
    assert result[0]["deleted_by"] == "me" and result[0]["deleted_ago_sec"] == "40"


def test_file_dmca(api: Api, emu: Emulator) -> None:
    seed_one(emu, dmca=True)
    result = api.ok("file/dmca", last=24)
    assert_shape(result[0], {"file_code": str, "del_in_sec": str, "del_time": str})


def test_folder_list(api: Api, emu: Emulator) -> None:
    refs = emu.seed(
        {
            "folders": [{"name": "Breaking Bad", "parent_id": 0, "ref": "b"}],
            "files": [{"title": "x", "size": 10}],
        }
    )
    result = api.ok("folder/list", fld_id=0, files=1)
    assert_shape(result["folders"][0], {"name": str, "fld_id": str, "code": str})
    assert result["folders"][0]["fld_id"] == str(refs["folders"]["b"])
    assert_shape(result["files"][0], LIST_ITEM)


def test_folder_create_and_edit(api: Api) -> None:
    result = api.ok("folder/create", name="New Videos", parent_id=0, descr="new stuff")
    assert_shape(result, {"fld_id": str})
    assert api.ok("folder/edit", fld_id=result["fld_id"], name="Movies 2021") == "true"


def test_file_encodings(api: Api, emu: Emulator, clock: FakeClock) -> None:
    code = seed_one(emu, canplay=0, encode_seconds=100)
    clock.advance(50)
    result = api.ok("file/encodings")
    assert_shape(
        result[0],
        {"link": str, "progress": int, "status": str, "name": str, "quality": str, "code": str},
    )
    assert result[0]["code"] == code and result[0]["status"] == "ENCODING"
    assert result[0]["progress"] == 50


def test_upload_response(api: Api) -> None:
    response = api.upload(("1.avi", b"a" * 100), ("2.avi", b"b" * 100))
    assert response.status_code == 200
    reply = response.json()
    assert set(reply) == {"msg", "status", "files"}  # no server_time on the node
    assert reply["status"] == 200
    for entry, name in zip(reply["files"], ["1.avi", "2.avi"], strict=True):
        assert_shape(entry, {"filecode": str, "filename": str, "status": str})
        assert entry["filename"] == name and entry["status"] == "OK"
