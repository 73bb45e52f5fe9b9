"""Issue 8, items 12 and 15: the slow node and links, and a folder tree that loops."""

from __future__ import annotations

import argparse
import base64
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.unit.emulator.conftest import Api
from vipfs.emulator.cli import config_from_args, configure
from vipfs.emulator.server import Emulator
from vipfs.emulator.slow import Trickle

BIG = 16 << 20  # more than loopback's socket buffers take from a node that does not read
ROOMY = httpx.Timeout(60.0)  # for transfers that must go through, even on a loaded machine


def handlers() -> int:
    """Request threads alive in this process (each emulator connection has one)."""
    return sum(1 for t in threading.enumerate() if "process_request" in t.name)


def ended(before: int) -> None:
    """Wait for the threads of transfers their clients gave up on: once the host is fast
    again they must end (and before the emulator goes, which deletes the blobs they read)."""
    deadline = time.monotonic() + 30
    while handlers() > before:
        assert time.monotonic() < deadline, "a slow transfer's thread outlived its client"
        time.sleep(0.05)


class FakeTime:
    """A clock that only moves when the trickle sleeps, and a switch the test flips."""

    def __init__(self, rate: float) -> None:
        self.now = 0.0
        self.rate = rate
        self.slept: list[float] = []
        self.turn_off_at: float | None = None

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.turn_off_at is not None and self.now >= self.turn_off_at:
            self.rate = 0.0

    def trickle(self) -> Trickle:
        return Trickle(lambda: self.rate, clock=lambda: self.now, sleep=self.sleep)


def test_trickle_paces_bytes_to_the_rate() -> None:
    fake = FakeTime(rate=1.0)
    trickle = fake.trickle()
    assert trickle.size(65536) == 1  # 1 byte/s moves one byte at a time
    for _ in range(5):
        trickle.spend(1)
    assert fake.now == pytest.approx(5.0)
    assert max(fake.slept) <= 0.1 + 1e-9  # short sleeps, so a switch is felt soon
    fake.rate = 10_000.0
    assert trickle.size(65536) == 1000


def test_trickle_at_full_speed_never_sleeps() -> None:
    fake = FakeTime(rate=0.0)
    trickle = fake.trickle()
    assert trickle.size(65536) == 65536
    trickle.spend(65536)
    assert fake.slept == []


def test_turning_the_switch_off_releases_a_waiting_transfer() -> None:
    fake = FakeTime(rate=0.001)  # one byte would take 1000 s
    fake.turn_off_at = 0.5
    trickle = fake.trickle()
    trickle.spend(1)
    assert fake.now == pytest.approx(0.5)
    trickle.spend(1_000_000)
    assert fake.now == pytest.approx(0.5)


def multipart(name: str, data: bytes, key: str) -> tuple[bytes, dict[str, str]]:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="key"\r\n\r\n'
        + key.encode()
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: video/mp4\r\n\r\n'
        + data
        + b"\r\n--XX--\r\n"
    )
    return body, {"Content-Type": "multipart/form-data; boundary=XX"}


def post(emu: Emulator, name: str, data: bytes, timeout: httpx.Timeout) -> httpx.Response:
    body, headers = multipart(name, data, emu.key)
    with httpx.Client(timeout=timeout) as client:  # its own connection, closed on failure
        return client.post(f"{emu.base_url}/upload/01", content=body, headers=headers)


def titles(emu: Emulator) -> list[str]:
    return sorted(str(f["title"]) for f in emu.files())


def test_slow_node_holds_the_named_upload_only(emu: Emulator) -> None:
    emu.set_faults(node_bytes_per_sec=1.0, slow_upload_names="slow")
    quick = httpx.Timeout(10.0, write=1.0)
    refused: list[BaseException] = []

    def stuck() -> None:
        try:
            post(emu, "slow one.mp4", bytes(BIG), quick)
        except httpx.HTTPError as exc:
            refused.append(exc)

    before = handlers()
    worker = threading.Thread(target=stuck, daemon=True)
    worker.start()
    other = post(emu, "other.mp4", b"o" * BIG, ROOMY)  # meanwhile, at full speed
    assert other.json()["files"][0]["status"] == "OK"
    worker.join(30)
    assert [type(e) for e in refused] == [httpx.WriteTimeout]  # the node took ~1 byte a second
    assert titles(emu) == ["other"]  # the abandoned upload stored nothing
    emu.set_faults(node_bytes_per_sec=0.0)
    again = post(emu, "slow one.mp4", b"s" * 100_000, ROOMY)
    assert again.json()["files"][0]["status"] == "OK"
    assert titles(emu) == ["other", "slow one"]
    ended(before)


def test_slow_node_without_names_slows_every_upload(emu: Emulator) -> None:
    emu.set_faults(node_bytes_per_sec=1.0)
    before = handlers()
    with pytest.raises(httpx.WriteTimeout):
        post(emu, "any.mp4", bytes(BIG), httpx.Timeout(10.0, write=1.0))
    emu.set_faults(node_bytes_per_sec=0.0)
    ended(before)
    assert titles(emu) == []


@pytest.fixture
def two_files(api: Api, emu: Emulator) -> Iterator[tuple[str, str, bytes]]:
    data = bytes(range(256)) * 40
    codes = emu.seed(
        {"files": [{"title": t, "content_b64": _b64(data)} for t in ("slow", "fast")]}
    )["files"]
    yield codes[0], codes[1], data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def link(api: Api, code: str) -> str:
    versions = api.ok("file/direct_link", file_code=code)["versions"]
    return str(versions[0]["url"])


def test_slow_link_trickles_its_code_only(
    api: Api, emu: Emulator, http: httpx.Client, two_files: tuple[str, str, bytes]
) -> None:
    slow, fast, data = two_files
    emu.set_faults(link_bytes_per_sec=1.0, slow_link_codes=slow)
    assert http.get(link(api, fast)).content == data  # the other file comes at full speed
    got = bytearray()
    first: int | None = None
    with http.stream("GET", link(api, slow)) as response:
        assert response.status_code == 200
        for piece in response.iter_raw():
            got += piece
            if first is None:
                first = len(got)
                emu.set_faults(link_bytes_per_sec=0.0)  # the rest of it comes at once
    assert first is not None and first <= 4  # a byte or so, where full speed sends it all
    assert bytes(got) == data


def test_slow_link_without_codes_slows_every_link(
    api: Api, emu: Emulator, http: httpx.Client, two_files: tuple[str, str, bytes]
) -> None:
    slow, fast, _ = two_files
    urls = [link(api, code) for code in (slow, fast)]
    emu.set_faults(link_bytes_per_sec=1.0)
    before = handlers()
    with httpx.Client(timeout=httpx.Timeout(10.0, read=0.5)) as own:
        for url in urls:
            with pytest.raises(httpx.ReadTimeout):
                own.get(url)
    emu.set_faults(link_bytes_per_sec=0.0)
    ended(before)


def test_slow_switches_over_http_and_cli(emu: Emulator, http: httpx.Client) -> None:
    url = f"{emu.base_url}/_emu/faults"
    shown = http.post(
        url, json={"node-bytes-per-sec": 1, "link_bytes_per_sec": "2.5", "slow-link-codes": "a,b"}
    ).json()
    assert (shown["node_bytes_per_sec"], shown["link_bytes_per_sec"]) == (1.0, 2.5)
    assert (shown["slow_link_codes"], shown["slow_upload_names"]) == ("a,b", "")
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(
        ["--node-bytes-per-sec", "1", "--slow-upload-names", "x", "--link-bytes-per-sec", "3"]
    )
    config = config_from_args(args)
    assert (config.node_bytes_per_sec, config.slow_upload_names) == (1.0, "x")
    assert (config.link_bytes_per_sec, config.slow_link_codes) == (3.0, "")


def test_folder_parent_written_raw_makes_a_loop(
    api: Api, emu: Emulator, http: httpx.Client
) -> None:
    refs = emu.seed(
        {"folders": [{"ref": "a", "name": "A"}, {"ref": "b", "name": "B", "parent_ref": "a"}]}
    )["folders"]
    a, b = refs["a"], refs["b"]
    # the API refuses only parent == self; the control endpoint writes whatever it is given
    assert api("folder/edit", fld_id=a, parent_id=a)["status"] == 400
    url = f"{emu.base_url}/_emu/folder"
    reply = http.post(url, json={"fld_id": a, "parent_id": b})
    assert reply.json() == {"fld_id": a, "parent_id": b, "name": "A"}
    assert api.ok("folder/list", fld_id=b)["folders"][0]["fld_id"] == str(a)
    assert api.ok("folder/list", fld_id=a)["folders"][0]["fld_id"] == str(b)
    assert api.ok("folder/list", fld_id=0)["folders"] == []  # the loop hangs off nothing
    selfish = http.post(url, json={"fld_id": b, "parent_id": b, "name": "Me"}).json()
    assert selfish == {"fld_id": b, "parent_id": b, "name": "Me"}
    children = api.ok("folder/list", fld_id=b)["folders"]
    assert {c["name"] for c in children} == {"A", "Me"}  # B is now its own child, beside A
    missing = http.post(url, json={"fld_id": 999_999, "parent_id": 0})
    assert missing.status_code == 400 and "999999" in missing.json()["error"]
    assert http.post(url, json={"parent_id": 0}).status_code == 400
