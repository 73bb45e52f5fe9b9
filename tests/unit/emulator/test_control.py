"""The `/_emu/` control endpoints, over HTTP, exactly as other suites rely on them."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx

from tests.unit.emulator.conftest import Api
from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.content import read_generated
from vipfs.emulator.server import Emulator


def test_calls(api: Api, emu: Emulator, http: httpx.Client) -> None:
    api("account/info")
    api("account/info")
    api("folder/list")
    api("nope/nope")
    calls = http.get(f"{emu.base_url}/_emu/calls").json()
    assert calls == {"account/info": 2, "folder/list": 1, "nope/nope": 1}
    assert http.delete(f"{emu.base_url}/_emu/calls").status_code == 200
    assert http.get(f"{emu.base_url}/_emu/calls").json() == {}


def test_faults_endpoint(emu: Emulator, http: httpx.Client) -> None:
    url = f"{emu.base_url}/_emu/faults"
    before = http.get(url).json()
    assert before["5xx"] == 0.0 and before["down"] is False and before["clone"] is True
    after = http.post(
        url,
        json={"5xx": 0.1, "reset": 0.05, "down": True, "rate_limit_per_min": 5, "latency-ms": 50},
    ).json()
    assert (after["5xx"], after["reset"], after["down"]) == (0.1, 0.05, True)
    assert (after["rate_limit_per_min"], after["latency_ms"]) == (5, 50)
    bad = http.post(url, json={"no_such_switch": 1, "5xx": 0.9})
    assert bad.status_code == 400 and "no_such_switch" in bad.json()["error"]
    assert http.post(url, json={"5xx": 2}).status_code == 400
    assert http.get(url).json()["5xx"] == 0.1  # a refused change changes nothing


def test_folders_lists_every_folder_as_stored(emu: Emulator, http: httpx.Client) -> None:
    reply = http.post(
        f"{emu.base_url}/_emu/seed",
        json={
            "folders": [
                {"name": "A &lt;1&gt;", "parent_id": 0, "ref": "a"},
                {"name": "B", "parent_ref": "a", "ref": "b"},
            ]
        },
    ).json()
    rows = http.get(f"{emu.base_url}/_emu/folders").json()
    a, b = reply["folders"]["a"], reply["folders"]["b"]
    assert {(r["fld_id"], r["name"], r["parent_id"], r["login"]) for r in rows} == {
        (a, "A &lt;1&gt;", 0, "user1"),
        (b, "B", a, "user1"),
    }


def test_seed_and_files(emu: Emulator, http: httpx.Client) -> None:
    data = b"exact bytes"
    hostile = 'a/b\x01 <i>"..\\'
    reply = http.post(
        f"{emu.base_url}/_emu/seed",
        json={
            "folders": [
                {"name": "A", "parent_id": 0, "ref": "a"},
                {"name": "B", "parent_ref": "a", "ref": "b"},
            ],
            "files": [
                {
                    "title": hostile,
                    "folder_ref": "b",
                    "size": 100_000,
                    "uploaded": "2024-01-02 03:04:05",
                },
                {
                    "title": "b64",
                    "fld_id": 0,
                    "content_b64": base64.b64encode(data).decode(),
                    "canplay": 0,
                },
            ],
        },
    ).json()
    assert set(reply["folders"]) == {"a", "b"} and len(reply["files"]) == 2
    rows = {f["code"]: f for f in http.get(f"{emu.base_url}/_emu/files").json()}
    gen, b64 = rows[reply["files"][0]], rows[reply["files"][1]]
    assert gen["title"] == hostile and gen["fld_id"] == reply["folders"]["b"]
    assert gen["uploaded"] == "2024-01-02 03:04:05" and gen["login"] == "user1"
    expected = hashlib.sha256(read_generated(gen["code"], 100_000, 0, 100_000)).hexdigest()
    assert gen["sha256"] == expected and gen["size"] == 100_000
    assert b64["sha256"] == hashlib.sha256(data).hexdigest() and b64["canplay"] == 0
    assert b64["deleted"] is False
    api = Api(emu, http)
    assert (
        api.ok("folder/list", fld_id=reply["folders"]["b"], files=1)["files"][0]["title"] == hostile
    )


def test_seed_many_files(emu: Emulator, http: httpx.Client) -> None:
    files = [{"title": f"clip {i}", "size": 1000} for i in range(10_000)]
    reply = http.post(f"{emu.base_url}/_emu/seed", json={"files": files}, timeout=60)
    assert len(set(reply.json()["files"])) == 10_000
    assert Api(emu, http).ok("file/list", per_page=1)["results_total"] == 10_000


def test_seeded_bytes_served(api: Api, emu: Emulator, http: httpx.Client) -> None:
    code = emu.seed({"files": [{"title": "g", "size": 200_000}]})["files"][0]
    body = http.get(api.ok("file/direct_link", file_code=code, q="n")).content
    assert hashlib.sha256(body).hexdigest() == emu.files()[0]["sha256"]


def test_control_errors(emu: Emulator, http: httpx.Client) -> None:
    assert http.get(f"{emu.base_url}/_emu/nothing").status_code == 404
    assert http.post(f"{emu.base_url}/_emu/seed", json={"account": "ghost"}).status_code == 400
    emu.set_faults({"5xx": 1.0})
    assert http.get(f"{emu.base_url}/_emu/files").status_code == 200  # never faulted


def test_demo_content(tmp_path: Path, http: httpx.Client) -> None:
    config = EmulatorConfig(data_dir=tmp_path / "d", seed_demo=True, direct_link=True)
    for _ in range(2):  # a restart on the same data does not seed twice
        with Emulator(config) as emu:
            rows = emu.files()
            assert len(rows) == 27 and sum(bool(r["deleted"]) for r in rows) == 2
    with Emulator(config) as emu:
        api = Api(emu, http)
        root = api.ok("folder/list", files=1)
        folder_names = {f["name"] for f in root["folders"]}
        assert "Clips" in folder_names and "Clips" in {f["title"] for f in root["files"]}
        series = next(f for f in root["folders"] if f["name"] == "Series")["fld_id"]
        bb = api.ok("folder/list", fld_id=series)["folders"][0]
        seasons = api.ok("folder/list", fld_id=bb["fld_id"])["folders"]
        assert [s["name"] for s in seasons] == ["Season 1", "Season 2"]  # three levels deep
        titles = [f["title"] for f in api.ok("file/list", per_page=1000)["files"]]
        assert titles.count("IMG 0042") == 3 and "Movie &#40;2021&#41;" in titles
        assert "beach / sunset" in titles and any("🎬" in t for t in titles)
        assert [e["status"] for e in api.ok("file/encodings")] == ["PENDING"]
        assert len(api.ok("file/dmca")) == 2 and api.ok("account/stats", last=14)


def test_take_down_dmca_then_delete(api: Api, emu: Emulator, http: httpx.Client) -> None:
    """`/_emu/file` does what the host does behind the owner's back (contract §8)."""
    code, other = emu.seed({"files": [{"title": "x", "size": 10}, {"title": "y", "size": 10}]})[
        "files"
    ]
    url = f"{emu.base_url}/_emu/file"
    assert http.post(url, json={"code": code, "dmca": True}).status_code == 200
    [listed] = api.ok("file/dmca", last=1)
    assert listed["file_code"] == code and 0 < int(listed["del_in_sec"]) <= 12 * 3600
    assert api.ok("file/info", file_code=code)[0]["status"] == 451
    assert http.post(url, json={"code": other, "deleted": "admin"}).status_code == 200
    [gone] = api.ok("file/deleted", last=1)
    assert (gone["file_code"], gone["deleted_by"]) == (other, "admin")
    assert other not in {f["file_code"] for f in api.ok("file/list")["files"]}
    assert http.post(url, json={"code": other, "dmca": True}).status_code == 400  # gone already
    assert http.post(url, json={"code": code, "deleted": "me?"}).status_code == 400
    assert http.post(url, json={"code": code}).status_code == 400
    assert http.post(url, json={"code": "nosuchcode00", "dmca": True}).status_code == 400


def test_encoding_progress_and_end(api: Api, emu: Emulator, http: httpx.Client) -> None:
    code = emu.seed({"files": [{"title": "x", "size": 10, "canplay": 0}]})["files"][0]
    url = f"{emu.base_url}/_emu/file"
    assert http.post(url, json={"code": code, "progress": 40}).status_code == 200
    [listed] = api.ok("file/encodings")
    assert (listed["code"], listed["status"], listed["progress"]) == (code, "ENCODING", 40)
    assert http.post(url, json={"code": code, "encoded": True}).status_code == 200
    assert api.ok("file/encodings") == [] and api.ok("file/info", file_code=code)[0]["canplay"]
    assert http.post(url, json={"code": code, "progress": 10}).status_code == 400  # done
