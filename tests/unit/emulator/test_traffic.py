"""`/_emu/traffic`: the bytes the upload node took in and direct links sent out, so a test can
tell whose line a file crossed (a backfill by `upload/url` moves no byte through the mount)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.unit.emulator.conftest import Api, FakeClock, make_config
from vipfs.emulator.server import Emulator


@pytest.fixture
def other() -> Iterator[Emulator]:
    with Emulator(make_config()) as emulator:
        yield emulator


def traffic(emu: Emulator, http: httpx.Client) -> dict[str, int]:
    reply = http.get(f"{emu.base_url}/_emu/traffic")
    assert reply.status_code == 200
    value = reply.json()
    assert isinstance(value, dict)
    return value


def test_counts_upload_and_link_bytes(
    api: Api, emu: Emulator, http: httpx.Client, clock: FakeClock
) -> None:
    assert traffic(emu, http) == {"upload_bytes": 0, "link_bytes": 0}
    content = b"t" * 5000
    code = api.upload(("t.mp4", content)).json()["files"][0]["filecode"]
    after_upload = traffic(emu, http)
    assert after_upload["upload_bytes"] > len(content)  # the whole multipart body
    assert after_upload["link_bytes"] == 0
    api.ok("account/info")  # an API call is no upload
    assert traffic(emu, http)["upload_bytes"] == after_upload["upload_bytes"]
    clock.advance(11)
    link = api.ok("file/direct_link", file_code=code, q="n")
    assert http.get(link).content == content
    assert http.get(link, headers={"Range": "bytes=0-99"}).status_code == 206
    http.head(link)
    assert traffic(emu, http)["link_bytes"] == len(content) + 100
    assert http.delete(f"{emu.base_url}/_emu/traffic").status_code == 200
    assert traffic(emu, http) == {"upload_bytes": 0, "link_bytes": 0}
    assert emu.traffic() == {"upload_bytes": 0, "link_bytes": 0}


def test_url_upload_from_another_hosts_link_moves_no_upload_bytes(
    api: Api, emu: Emulator, other: Emulator, http: httpx.Client, clock: FakeClock
) -> None:
    """The backfill path of `vipfs mirror sync`: host B fetches host A's direct link itself."""
    content = bytes(range(256)) * 30
    src = api.upload(("m.mp4", content)).json()["files"][0]["filecode"]
    clock.advance(11)
    link = api.ok("file/direct_link", file_code=src, q="n")
    http.delete(f"{emu.base_url}/_emu/traffic")
    reply = http.get(f"{other.api_url}/upload/url", params={"key": other.key, "url": link}).json()
    assert reply["status"] == 200, reply
    code = reply["result"]["filecode"]
    for _ in range(500):
        if any(f["code"] == code for f in other.files()):
            break
        time.sleep(0.02)
    (row,) = [f for f in other.files() if f["code"] == code]
    assert row["size"] == len(content) and row["sha256"] == emu.files()[0]["sha256"]
    assert traffic(other, http) == {"upload_bytes": 0, "link_bytes": 0}
    assert traffic(emu, http) == {"upload_bytes": 0, "link_bytes": len(content)}
