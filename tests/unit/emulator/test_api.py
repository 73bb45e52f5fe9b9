"""xvs-api.md §8 points 1–6 and 8, over a real socket: routing, auth, quotas, flags, quirks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.unit.emulator.conftest import Api, FakeClock
from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.keys import write_key_file
from vipfs.emulator.server import Emulator


def test_routing(api: Api, emu: Emulator, http: httpx.Client) -> None:
    slash = http.get(f"{emu.api_url}/file/list/", params={"key": emu.key})
    assert slash.status_code == 404 and slash.headers["content-type"].startswith("text/html")
    suffix = http.get(f"{emu.api_url}/file/list.json", params={"key": emu.key})
    assert suffix.status_code == 404
    assert api("File/List") == {**api("File/List"), "status": 400, "msg": "Invalid operation"}
    assert api("file/rename")["msg"] == "Invalid operation"  # a sibling API's op, not XVS's


def test_post_form_and_api_key_alias(emu: Emulator, http: httpx.Client) -> None:
    posted = http.post(f"{emu.api_url}/folder/create", data={"key": emu.key, "name": "Posted"})
    assert posted.json()["status"] == 200
    alias = http.get(f"{emu.api_url}/account/info", params={"api_key": emu.key}).json()
    assert alias["status"] == 200


@pytest.mark.parametrize("emu_config", [EmulatorConfig(server_tz="+05:30")])
def test_server_time_zone(api: Api, clock: FakeClock) -> None:
    clock.t = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    assert api("account/info")["server_time"] == "2023-11-15 03:43:20"


def test_auth_order(api: Api, emu: Emulator) -> None:
    assert api("account/info", key="")["status"] == 400
    assert api("account/info", key="nodigits")["msg"] == "Invalid key"
    wrong = api("account/info", key="1" + "x" * 16)
    assert (wrong["status"], wrong["msg"]) == (403, "Wrong auth")
    emu.set_faults(invalid_key_status=403, api_not_enabled=True)
    assert api("account/info", key="bad")["status"] == 403
    assert api("account/info")["msg"] == "API not enabled for your account"
    emu.set_faults(api_not_enabled=False, special_only=True)
    assert api("file/clone", file_code="x" * 12)["msg"] == "API special allowed for premium only"
    assert api("file/list")["status"] == 200


@pytest.mark.parametrize("emu_config", [EmulatorConfig(rate_limit_per_min=2)])
def test_minute_quota(api: Api, clock: FakeClock) -> None:
    assert api("account/info")["requests_available"] == 1
    assert api("file/list")["requests_available"] == 0
    refused = api("account/info")
    assert (refused["status"], refused["msg"]) == (403, "Requests limit reached: 2 per min")
    assert refused["requests_available"] == 0
    clock.advance(60)  # the next calendar minute
    assert api("account/info")["status"] == 200


@pytest.mark.parametrize("emu_config", [EmulatorConfig(rate_limit_per_min=1, rate_limit_per_day=3)])
def test_day_counter_counts_first(api: Api, clock: FakeClock) -> None:
    assert api("account/info")["status"] == 200
    for _ in range(2):  # refused for the minute, yet each spends daily quota
        assert api("account/info")["msg"].endswith("per min")
    clock.advance(60)
    assert api("account/info")["msg"] == "Requests limit reached: 3 per day"


def test_concurrency_cap(api: Api, emu: Emulator, http: httpx.Client) -> None:
    emu.set_faults(max_concurrent=1)
    emu.host.in_flight = 1  # one call already being served
    response = http.get(f"{emu.api_url}/account/info", params={"key": emu.key})
    assert (response.status_code, response.text) == (520, "error code: 520")
    emu.host.in_flight = 0
    assert api("account/info")["status"] == 200


@pytest.mark.parametrize("emu_config", [EmulatorConfig()])
def test_default_features_match_vipstream(api: Api, emu: Emulator) -> None:
    for op in ("file/direct_link", "file/delete"):
        reply = api(op, file_code="xxxxxxyyyyyy")
        assert (reply["status"], reply["msg"]) == (403, "This function not allowed in API")
    for op in ("folder/delete", "file/url_uploads", "file/url_actions", "upload/sub"):
        assert (api(op)["status"], api(op)["msg"]) == (400, "Invalid operation")
    assert api("file/clone", file_code="xxxxxxyyyyyy")["msg"] == "No file"  # clone is on
    emu.set_faults(clone=False)
    assert api("file/clone", file_code="xxxxxxyyyyyy")["status"] == 403


def test_probe_answers_when_enabled(api: Api) -> None:
    assert api("file/direct_link", file_code="xxxxxxyyyyyy")["msg"] == "no file"
    assert api("file/delete", file_code="xxxxxxyyyyyy")["msg"] == "No file"
    assert api("folder/delete", fld_id=0)["msg"] == "Folder id required"


def two_accounts(tmp_path: Path) -> EmulatorConfig:
    paths = []
    for n, key in enumerate(["7abcdefghijklmnop", "8bcdefghijklmnopq"]):
        path = tmp_path / f"k{n}"
        write_key_file(path, key, login=f"acct{n}")
        paths.append(path)
    return EmulatorConfig(key_files=paths, direct_link=True, delete=True)


def test_file_info_quirks(tmp_path: Path, http: httpx.Client) -> None:
    with Emulator(two_accounts(tmp_path)) as emu:
        api = Api(emu, http)
        theirs = emu.seed({"account": "acct1", "files": [{"title": "t", "size": 5}]})["files"]
        mine = emu.seed({"files": [{"title": f"f{i}", "size": 5} for i in range(55)]})["files"]
        dmca = emu.seed({"files": [{"title": "d", "size": 5, "dmca": True}]})["files"]
        assert api("file/info", file_code="bad,codes")["msg"] == "Invalid file codes"
        codes = ["short", theirs[0], "zzzzzzzzzzzz", dmca[0], *mine]
        result = api.ok("file/info", file_code=",".join(codes))
        assert len(result) == 50  # the invalid one vanished, extras past 50 dropped
        assert result[0]["file_code"] == theirs[0] and result[0]["status"] == 200  # not scoped
        assert result[1] == {"status": 404, "file_code": "zzzzzzzzzzzz"}
        assert result[2] == {"status": 451, "file_code": dmca[0]}
        assert [r["file_code"] for r in result[3:]] == mine[:47]
        # the other account's file cannot be edited or deleted, but edit still says "true"
        assert api.ok("file/edit", file_code=theirs[0], file_title="mine now") == "true"
        assert api("file/delete", file_code=theirs[0])["msg"] == "No file"
        assert api.ok("file/info", file_code=theirs[0])[0]["file_title"] == "t"


def test_file_list_paging(api: Api, emu: Emulator, clock: FakeClock) -> None:
    files = [
        {"title": f"v{i:04d}", "size": 1, "uploaded": emu.host.fmt_time(clock.t - i)}
        for i in range(1001)
    ]
    emu.seed({"files": files})
    first = api.ok("file/list")
    assert first["results"] == 100 and first["results_total"] == 1001
    assert first["files"][0]["title"] == "v0000"  # newest first
    assert api.ok("file/list", page=0)["files"] == first["files"]
    big = api.ok("file/list", per_page=5000)
    assert big["results"] == 1000 and big["pages"] == 1  # int(0.99 + 1001/1000): wrong
    last = api.ok("file/list", per_page=300, page=4)
    assert last["results"] == 101 and last["pages"] == 10  # int(0.99 + 1001/101): wrong
    assert api.ok("file/list", per_page=300, page=9) == {
        "files": [],
        "results_total": 1001,
        "pages": 0,
        "results": 0,
    }


def test_file_list_filters(api: Api, emu: Emulator, clock: FakeClock) -> None:
    refs = emu.seed({"folders": [{"name": "Fo", "parent_id": 0, "ref": "f"}]})["folders"]
    old = emu.host.fmt_time(clock.t - 3600)
    emu.seed(
        {
            "files": [
                {"title": "Iron man", "size": 1, "fld_id": refs["f"], "uploaded": old},
                {"title": "Iron_lady", "size": 1, "public": 1},
                {"title": "Ironxman", "size": 1},
            ]
        }
    )
    titles = lambda **p: sorted(f["title"] for f in api.ok("file/list", **p)["files"])  # noqa: E731
    assert titles(fld_id=refs["f"]) == ["Iron man"]
    assert titles(fld_id=0) == ["Iron_lady", "Ironxman"]
    assert len(titles(fld_id=99999)) == 3  # unknown folder: the filter is dropped
    assert titles(title="n_m") == ["Iron man", "Ironxman"]  # LIKE: `_` is a wildcard
    assert len(titles(title='Iron"')) == 3  # a quote disables the filter
    assert titles(created=30) == ["Iron_lady", "Ironxman"]  # minutes
    assert len(titles(created=emu.host.fmt_time(clock.t - 7200))) == 3
    assert titles(public=1) == ["Iron_lady"]


def test_folder_list(api: Api, emu: Emulator) -> None:
    emu.seed({"files": [{"title": f"f{i}", "size": 1} for i in range(150)]})
    assert len(api.ok("folder/list", files=1)["files"]) == 150  # no pagination
    assert "files" not in api.ok("folder/list")
    reply = api("folder/list", fld_id=424242)
    assert (reply["status"], reply["msg"]) == (403, "Folder not exist or not yours")


def test_folder_create(api: Api) -> None:
    a = api.ok("folder/create", name="Same")["fld_id"]
    b = api.ok("folder/create", name="Same")["fld_id"]
    assert a != b  # duplicates allowed
    assert api("folder/create", name="x")["msg"] == "Invalid folder name"
    assert (
        api("folder/create", name="Sub", parent_id=99999)["msg"]
        == "Parent folder not exist or not yours"
    )
    made = api.ok("folder/create", name="Movie (2021) <b> a..b", parent_id=a)["fld_id"]
    names = {f["fld_id"]: f["name"] for f in api.ok("folder/list", fld_id=a)["folders"]}
    assert names[made] == "Movie &#40;2021&#41; &lt;b&gt; a&#46;&#46;b"


def test_folder_edit(api: Api) -> None:
    assert api("folder/edit")["msg"] == "Folder id required"
    assert api("folder/edit", fld_id=99999, name="zz")["msg"] == "Folder not exist"
    a = api.ok("folder/create", name="Aa", descr="keep")["fld_id"]
    b = api.ok("folder/create", name="Bb", parent_id=a)["fld_id"]
    assert api("folder/edit", fld_id=a, parent_id=a)["msg"] == "Invalid parent folder id"
    assert api("folder/edit", fld_id=a, name="z")["msg"] == "Invalid folder name"
    assert api.ok("folder/edit", fld_id=a, parent_id=b) == "true"  # a cycle, accepted
    assert api.ok("folder/list", fld_id=b)["folders"][0]["fld_id"] == a
    assert api.ok("folder/edit", fld_id=b, name="Renamed") == "true"  # partial update
    assert api.ok("folder/list", fld_id=a)["folders"] == [
        {
            "name": "Renamed",
            "fld_id": b,
            "code": api.ok("folder/list", fld_id=a)["folders"][0]["code"],
        }
    ]


def test_folder_delete(api: Api, emu: Emulator) -> None:
    a = api.ok("folder/create", name="Aa")["fld_id"]
    b = api.ok("folder/create", name="Bb", parent_id=a)["fld_id"]
    assert api("folder/delete", fld_id=a)["msg"] == "Folder have sub-folders inside"
    emu.seed({"files": [{"title": "x", "size": 1, "fld_id": int(b)}]})
    assert api("folder/delete", fld_id=b)["msg"] == "Folder have files inside"
    assert api("folder/delete", fld_id=99999)["msg"] == "Folder not exist"
    code = api.ok("file/list", fld_id=b)["files"][0]["file_code"]
    assert "result" not in api("file/delete", file_code=code)
    reply = api("folder/delete", fld_id=b)
    assert reply["status"] == 200 and "result" not in reply
    assert api.ok("folder/list")["folders"][0]["fld_id"] == a


def test_file_edit_quirks(api: Api, emu: Emulator) -> None:
    code = emu.seed({"files": [{"title": "x", "size": 1, "tags": "keep, these"}]})["files"][0]
    assert api("file/edit", file_code=code, title="Oops")["msg"] == "Invalid file name"
    assert api("file/edit", file_code=code, cat_id="abc")["msg"] == "Invalid cat_id"
    assert (
        api.ok(
            "file/edit",
            file_code=f"{code},nosuchcode12",
            file_title="Movie (2021)",
            file_fld_id=777,
            file_public="yes",
            file_adult="0",
        )
        == "true"
    )
    info = api.ok("file/info", file_code=code)[0]
    assert info["file_title"] == "Movie &#40;2021&#41;"
    assert info["file_fld_id"] == "777"  # unvalidated: the file is orphaned
    assert (info["file_public"], info["file_adult"]) == ("1", "0")
    assert info["tags"] == ""  # wiped by an edit without `tags`
    api.ok("file/edit", file_code=code, tags="Promo!, HQ, high quality")
    assert api.ok("file/info", file_code=code)[0]["tags"] == "promo, high quality"
    api.ok("file/edit", file_code=code, file_title='say "hi"\x00')  # skipped silently
    assert api.ok("file/info", file_code=code)[0]["file_title"] == "Movie &#40;2021&#41;"


def test_edit_drops_markup_ignores_titles_and_names_with_markup(api: Api, emu: Emulator) -> None:
    """As real hosts: file/edit answers "true" and changes nothing; folder names are refused."""
    code = emu.seed({"files": [{"title": "video 04", "size": 1}]})["files"][0]
    fld = api.ok("folder/create", name="Shows")["fld_id"]
    emu.set_faults(edit_drops_markup=True)
    assert api.ok("file/edit", file_code=code, file_title='video <4> "one"') == "true"
    assert api.ok("file/info", file_code=code)[0]["file_title"] == "video 04"
    assert api("folder/create", name="a<b>")["msg"] == "Invalid folder name"
    assert api("folder/edit", fld_id=fld, name='say "x"')["msg"] == "Invalid folder name"
    assert api.ok("file/edit", file_code=code, file_title="video (4)") == "true"  # no markup
    assert api.ok("file/info", file_code=code)[0]["file_title"] == "video &#40;4&#41;"
    emu.set_faults(edit_drops_markup=False)
    api.ok("file/edit", file_code=code, file_title="video <4>")
    assert api.ok("file/info", file_code=code)[0]["file_title"] == "video &lt;4&gt;"


def test_file_delete_moves_to_deleted(api: Api, emu: Emulator, clock: FakeClock) -> None:
    code = emu.seed({"files": [{"title": "gone", "size": 1}]})["files"][0]
    reply = api("file/delete", file_code=code)
    assert reply["status"] == 200 and reply["msg"] == "OK" and "result" not in reply
    clock.advance(40)
    assert api.ok("file/deleted") == [
        {
            "file_code": code,
            "deleted_by": "me",
            "deleted_ago_sec": "40",
            "deleted": emu.host.fmt_time(clock.t - 40),
            "title": "gone",
        }
    ]
    assert api.ok("file/list")["files"] == []
    assert api("file/delete", file_code=code)["msg"] == "No file"


def test_file_clone(api: Api, emu: Emulator) -> None:
    code = emu.seed({"files": [{"title": "src", "size": 4096, "public": 1, "adult": 1}]})
    src = code["files"][0]
    plain = api.ok("file/clone", file_code=src)["filecode"]
    titled = api.ok("file/clone", file_code=src, file_title="Copy (2)", file_public=1)["filecode"]
    info = {i["file_code"]: i for i in api.ok("file/info", file_code=f"{plain},{titled}")}
    assert (info[plain]["file_public"], info[plain]["file_adult"]) == ("0", "0")
    assert info[plain]["file_title"] == "src"
    assert info[titled]["file_title"] == "Copy &#40;2&#41;" and info[titled]["file_public"] == "1"
    shas = {f["code"]: f["sha256"] for f in emu.files()}
    assert shas[plain] == shas[src] == shas[titled]  # storage shared


def test_no_upload_servers(api: Api, emu: Emulator) -> None:
    emu.set_faults(no_upload_servers=True)
    reply = api("upload/server")
    assert reply["status"] == 200 and reply["result"] == {}
    assert reply["msg"] == "No servers available for uploads"


def test_listing_delay(api: Api, emu: Emulator, clock: FakeClock) -> None:
    emu.set_faults(listing_delay=30)
    code = api.upload(("late.mp4", b"x" * 10)).json()["files"][0]["filecode"]
    assert api.ok("file/list")["files"] == []
    assert api.ok("folder/list", files=1)["files"] == []
    assert api.ok("file/info", file_code=code)[0]["status"] == 200  # info sees it at once
    clock.advance(31)
    assert [f["file_code"] for f in api.ok("file/list")["files"]] == [code]


def test_stale_read_window(api: Api, emu: Emulator, clock: FakeClock) -> None:
    emu.set_faults(stale_seconds=60)
    assert api.ok("folder/list")["folders"] == []
    api.ok("folder/create", name="Fresh")
    assert api.ok("folder/list")["folders"] == []  # the cached answer, stale
    assert len(api.ok("folder/list", files=1)["folders"]) == 1  # other parameters: fresh
    clock.advance(61)
    assert [f["name"] for f in api.ok("folder/list")["folders"]] == ["Fresh"]


def test_a_crash_is_an_html_500(
    emu: Emulator, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vipfs.emulator import api as api_module

    def boom(call: object) -> dict[str, object]:
        raise RuntimeError("bug")

    monkeypatch.setitem(api_module.OPERATIONS, "account/info", (boom, None))
    response = http.get(f"{emu.api_url}/account/info", params={"key": emu.key})
    assert response.status_code == 500 and "Internal Server Error" in response.text


def test_chunked_form_post(emu: Emulator, http: httpx.Client) -> None:
    def body() -> Iterator[bytes]:
        yield f"key={emu.key}".encode()
        yield b"&name=Chunked"

    reply = http.post(
        f"{emu.api_url}/folder/create",
        content=body(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()
    assert reply["status"] == 200
    assert Api(emu, http).ok("folder/list")["folders"][0]["name"] == "Chunked"
