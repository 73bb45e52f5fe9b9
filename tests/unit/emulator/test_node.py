"""§8.7 the upload node, §8.6 direct links and encoding, and URL uploads."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.unit.emulator.conftest import Api, FakeClock, make_config
from vipfs.emulator.server import Emulator


def by_code(emu: Emulator) -> dict[str, dict[str, object]]:
    return {str(f["code"]): f for f in emu.files()}


def test_multi_file_upload(api: Api, emu: Emulator) -> None:
    contents = [b"first" * 1000, b"second" * 2000, b"third"]
    names = ["big_buck_bunny.x264.mp4", "Holiday..2023_final.MKV", "warez clip.avi"]
    reply = api.upload(*zip(names, contents, strict=True), fld_id="0", tags="Promo!, HQ").json()
    assert [f["filename"] for f in reply["files"]] == names
    assert all(f["status"] == "OK" for f in reply["files"])
    stored = by_code(emu)
    for entry, content in zip(reply["files"], contents, strict=True):
        row = stored[entry["filecode"]]
        assert row["size"] == len(content)
        assert row["sha256"] == hashlib.sha256(content).hexdigest()
    titles = [stored[f["filecode"]]["title"] for f in reply["files"]]
    assert titles == ["big buck bunny", "Holiday 2023 final", "clip"]
    info = api.ok("file/info", file_code=reply["files"][0]["filecode"])[0]
    assert info["file_public"] == "0" and info["tags"] == "promo"  # default private
    assert info["canplay"] == 0


def test_given_title_is_mangled_too(api: Api, emu: Emulator) -> None:
    reply = api.upload(("1.avi", b"x"), file_title='Hola!_"quoted".mp4').json()
    assert by_code(emu)[reply["files"][0]["filecode"]]["title"] == "Hola!  quoted"


def test_per_file_errors(api: Api, emu: Emulator) -> None:
    emu.set_faults(max_upload_mb=1)
    reply = api.upload(
        ("notes.txt", b"text"),
        ("huge.mp4", b"x" * (1024 * 1024 + 1)),
        ("empty.mp4", b""),
        ("fine.mp4", b"ok"),
    ).json()
    assert reply["status"] == 200
    assert [(f["filecode"], f["status"]) for f in reply["files"][:3]] == [
        ("", "Not video file (notes.txt)"),
        ("", "file is too big"),
        ("", "null filesize or wrong file path"),
    ]
    assert reply["files"][3]["status"] == "OK"
    emu.set_faults(storage_gb=0.000001)  # about 1 KiB
    full = api.upload(("more.mp4", b"y" * 4096)).json()
    assert full["files"][0]["status"] == "not enough disk space on your account"
    assert len(emu.files()) == 1
    assert list((emu.data_dir / "tmp").iterdir()) == []  # refused parts are not kept


def test_html_answers_and_anonymous(emu: Emulator, http: httpx.Client) -> None:
    url = f"{emu.base_url}/upload/01"
    redirect = http.post(
        url, data={"key": emu.key, "html_redirect": "1"}, files=[("file", ("a.mp4", b"data"))]
    )
    assert redirect.headers["content-type"].startswith("text/html")
    assert "<textarea name='st'>OK</textarea>" in redirect.text
    code = redirect.text.split("<textarea name='fn'>")[1].split("<")[0]
    assert code in by_code(emu)
    anonymous = http.post(url, data={"api_key": emu.key}, files=[("file", ("b.mp4", b"data"))])
    assert "You are not allowed to upload files" in anonymous.text
    wrong = http.post(url, data={"key": "1" + "x" * 16}, files=[("file", ("c.mp4", b"data"))])
    assert wrong.json()["files"][0]["status"] == "You are not allowed to upload files"
    assert len(emu.files()) == 1
    emu.set_faults(allow_anonymous_uploads=True)
    kept = http.post(url, data={"key": "bogus"}, files=[("file", ("d.mp4", b"data"))])
    assert kept.json()["files"][0]["status"] == "OK"
    assert [f["login"] for f in emu.files()] == ["user1", ""]  # uploaded to no account


def test_quote_in_filename_breaks_the_json(emu: Emulator, http: httpx.Client) -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="key"\r\n\r\n'
        + emu.key.encode()
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="a\\"b.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\nDATA\r\n--XX--\r\n"
    )
    response = http.post(
        f"{emu.base_url}/upload/01",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=XX"},
    )
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert '"filename":"a"b.mp4"' in response.text


def test_chunked_streaming_upload(api: Api, emu: Emulator, http: httpx.Client) -> None:
    size = 5 * 1024 * 1024
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\n{emu.key}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.mp4"\r\n\r\n'
    ).encode()
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:
        yield head
        for i in range(size // 65536):
            chunk = bytes([i % 251]) * 65536
            digest.update(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    response = http.post(
        f"{emu.base_url}/upload/01",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    code = response.json()["files"][0]["filecode"]
    row = by_code(emu)[code]
    assert row["size"] == size and row["sha256"] == digest.hexdigest()


def test_encoding_lifecycle(api: Api, emu: Emulator, clock: FakeClock) -> None:
    code = api.upload(("v.mp4", b"v" * 1000)).json()["files"][0]["filecode"]
    assert api.ok("file/encodings")[0]["status"] == "PENDING"
    assert [v["name"] for v in api.ok("file/direct_link", file_code=code)["versions"]] == ["o"]
    clock.advance(5)  # half of encode_seconds=10
    enc = api.ok("file/encodings", file_code=code)
    assert (enc[0]["status"], enc[0]["progress"]) == ("ENCODING", 50)
    assert api.ok("file/info", file_code=code)[0]["canplay"] == 0
    clock.advance(6)
    assert api.ok("file/encodings") == []
    assert api.ok("file/info", file_code=code)[0]["canplay"] == 1
    versions = api.ok("file/direct_link", file_code=code)["versions"]
    assert [(v["name"], v["size"]) for v in versions] == [("n", "1000")]  # `o` is gone
    emu.set_faults(keep_orig=True)
    versions = api.ok("file/direct_link", file_code=code)["versions"]
    assert [v["name"] for v in versions] == ["n", "o"]


def test_stuck_encoding(api: Api, emu: Emulator) -> None:
    emu.seed({"files": [{"title": "s", "size": 1, "canplay": 0, "encoding": "stuck"}]})
    assert api.ok("file/encodings")[0]["status"] == "STUCK"


def test_direct_link_ranges(api: Api, emu: Emulator, http: httpx.Client, clock: FakeClock) -> None:
    content = bytes(range(256)) * 40
    code = api.upload(("r.mp4", content)).json()["files"][0]["filecode"]
    clock.advance(11)
    url = api.ok("file/direct_link", file_code=code, q="n")
    assert isinstance(url, str) and "&e=" in url and "t=" in url
    assert api.ok("file/direct_link", file_code=code, q="h") == ""
    emu.reset_calls()
    whole = http.get(url)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["accept-ranges"] == "bytes"
    part = http.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(content)}"
    assert http.get(url, headers={"Range": "bytes=-5"}).content == content[-5:]
    assert http.get(url, headers={"Range": "bytes=10000-"}).content == content[10000:]
    assert http.get(url, headers={"Range": "bytes=99999-"}).status_code == 416
    head = http.head(url)
    assert head.headers["content-length"] == str(len(content)) and head.content == b""
    calls = emu.calls()
    assert calls["download"] == 4  # the 416 and the HEAD move no bytes
    assert calls["download_bytes"] == len(content) + 10 + 5 + (len(content) - 10000)
    assert http.get(url.replace("t=", "t=0")).status_code == 403
    clock.advance(3601)
    assert http.get(url).status_code == 403  # expired


def test_url_upload_pending_and_error(api: Api) -> None:
    code = api.ok("upload/url", url="http://example.invalid/clip.mp4")["filecode"]
    assert api("file/direct_link", file_code=code) == {
        **api("file/direct_link", file_code=code),
        "status": 200,
        "msg": "uploading",
    }
    assert "result" not in api("file/direct_link", file_code=code)
    for _ in range(100):  # the worker marks it as failed in the background
        entries = api.ok("file/url_uploads")
        if entries[0]["status"] == "ERROR":
            break
        time.sleep(0.02)
    assert entries == [
        {
            "remote_url": "http://example.invalid/clip.mp4",
            "progress": 0,
            "status": "ERROR",
            "file_code": code,
            "fld_id": "0",
        }
    ]
    assert (
        api("upload/url", url="http://example.invalid/clip.mp4")["msg"]
        == "This URL already in upload queue"
    )
    api.ok("file/url_actions", delete_errors=1)
    assert api.ok("file/url_uploads") == []


def test_url_uploads_can_name_no_code(api: Api, emu: Emulator) -> None:
    emu.set_faults(url_codes_blank=True)
    api.ok("upload/url", url="http://example.invalid/clip.mp4")
    (entry,) = api.ok("file/url_uploads")
    assert entry["file_code"] == "" and entry["remote_url"] == "http://example.invalid/clip.mp4"


def test_url_upload_from_loopback(api: Api, emu: Emulator, clock: FakeClock) -> None:
    src = api.upload(("src.mp4", b"z" * 3000)).json()["files"][0]["filecode"]
    clock.advance(11)
    link = api.ok("file/direct_link", file_code=src, q="n")
    code = api.ok("upload/url", url=link)["filecode"]
    for _ in range(250):
        if api.ok("file/url_uploads") == []:
            break
        time.sleep(0.02)
    rows = by_code(emu)
    assert rows[code]["sha256"] == rows[src]["sha256"]
    assert api.ok("file/info", file_code=code)[0]["file_title"] == "video"


@pytest.mark.parametrize("emu_config", [make_config(bandwidth_mbps=800.0)])
def test_bandwidth_shaping_still_delivers(
    api: Api, emu: Emulator, http: httpx.Client, clock: FakeClock
) -> None:
    content = b"q" * 300_000
    code = api.upload(("s.mp4", content)).json()["files"][0]["filecode"]
    clock.advance(11)
    assert http.get(api.ok("file/direct_link", file_code=code, q="n")).content == content


@pytest.mark.parametrize("emu_config", [make_config(link_ip_bind=True)])
def test_direct_link_ip_binding(
    api: Api, emu: Emulator, http: httpx.Client, clock: FakeClock
) -> None:
    code = api.upload(("b.mp4", b"bound" * 10)).json()["files"][0]["filecode"]
    url = api.ok("file/direct_link", file_code=code, q="o")
    assert url.endswith("&i=127.0")
    assert http.get(url).content == b"bound" * 10
    assert http.get(url.replace("&i=127.0", "&i=127.1")).status_code == 403
    elsewhere = httpx.Client(transport=httpx.HTTPTransport(local_address="127.1.0.1"))
    with elsewhere:
        assert elsewhere.get(url).status_code == 403  # another /16 may not use it
