"""The client against the real emulator over a socket: every endpoint, every fault switch."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio

from vipfs.api.backoff import Backoff
from vipfs.api.client import XvsClient
from vipfs.api.errors import (
    AuthError,
    LinkExpiredError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    TransientError,
    UnsupportedError,
    UploadRejectedError,
)
from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.keys import generate_key
from vipfs.emulator.server import Emulator

FAST = Backoff(base=0.02, cap=0.2)
VIDEO = bytes(range(256)) * 4096  # 1 MiB


class Account:
    """One fresh account on the shared emulator, so tests never see each other's data."""

    _next = 100

    def __init__(self, emulator: Emulator) -> None:
        Account._next += 1
        self.emulator = emulator
        self.login = f"tester{Account._next}"
        self.key = generate_key(Account._next)
        emulator.store.ensure_account(Account._next, self.login, self.key)
        self.api_url = emulator.api_url

    def set_faults(self, changes: dict[str, Any] | None = None, **kw: Any) -> None:
        self.emulator.set_faults(changes, **kw)

    def calls(self) -> dict[str, int]:
        return self.emulator.calls()

    def seed(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.emulator.seed({"account": self.login, **spec})


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    config = EmulatorConfig(
        direct_link=True, delete=True, folder_delete=True, url_uploads=True, encode_seconds=0.0
    )
    with Emulator(config) as emulator:
        yield emulator


@pytest.fixture
def emu(server: Emulator) -> Iterator[Account]:
    switches = server.config.switches()
    server.reset_calls()
    yield Account(server)
    server.config.apply(switches)


@pytest.fixture
async def api(emu: Account) -> AsyncIterator[XvsClient]:
    async with XvsClient(emu.api_url, emu.key, timeout=5, retry_budget=10, backoff=FAST) as c:
        yield c


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "big_buck_bunny.mp4"
    path.write_bytes(VIDEO)
    return path


async def upload(api: XvsClient, path: Path, **kw: Any) -> str:
    server = await api.upload_server()
    uploaded = await api.upload_file(server, path, filename=path.name, **kw)
    assert uploaded.ok and uploaded.code
    return uploaded.code


async def test_folders(api: XvsClient) -> None:
    parent = await api.folder_create("Movies (2021)")
    child = await api.folder_create("Kids", parent, descr="for later")
    root = await api.folder_list(0)
    [movies] = [f for f in root.folders if f.fld_id == parent]
    assert movies.name == "Movies &#40;2021&#41;"  # the host escapes, the client keeps it
    await api.folder_edit(child, name="Children", parent_id=0)
    assert {f.name for f in (await api.folder_list(0)).folders} >= {"Children"}
    with pytest.raises(RequestRejectedError):
        await api.folder_create("x")
    with pytest.raises(NotFoundError):
        await api.folder_list(999_999)
    await api.folder_delete(parent)
    with pytest.raises(NotFoundError):
        await api.folder_delete(parent)


async def test_upload_list_info_edit_clone_delete(api: XvsClient, video: Path) -> None:
    folder = await api.folder_create("Uploads")
    seen: list[int] = []
    code = await upload(api, video, fld_id=folder, title="Bunny", progress=seen.append)
    assert seen[-1] == len(VIDEO)
    listing = await api.folder_list(folder)
    [entry] = listing.files
    assert entry.code == code and entry.fld_id == folder and entry.uploaded is not None
    # The server stamps its local time (+03:00); the learned offset brings it back to epoch
    # time (unconverted, it would be three hours off).
    assert api.clock.offset == timedelta(hours=3)
    assert abs(api.server_to_epoch(entry.uploaded) - time.time()) < 600

    await api.file_edit(code, title="Big Buck Bunny", public=True, tags="promo")
    [info, missing] = await api.file_info([code, "zzzzzzzzzzzz"])
    assert (info.title, info.public, info.fld_id) == ("Big Buck Bunny", True, folder)
    assert missing.status == 404

    everything = await api.file_list_all()
    assert [e.code for e in everything] == [code]
    page = await api.file_list(fld_id=folder, per_page=10)
    assert page.results == 1 and page.files[0].title == "Big Buck Bunny"

    clone = await api.file_clone(code, title="Copy")
    assert clone.code != code and clone.url
    await api.file_delete(clone.code)
    with pytest.raises(NotFoundError):
        await api.file_delete(clone.code)
    deleted = await api.file_deleted()
    assert [d.code for d in deleted] == [clone.code] and deleted[0].deleted_by == "me"
    assert await api.file_dmca() == []
    assert isinstance(await api.file_encodings(), list)


async def test_direct_link_and_ranged_download(api: XvsClient, video: Path) -> None:
    code = await upload(api, video)
    link = await api.file_direct_link(code)
    assert link.versions and all(v.size == len(VIDEO) for v in link.versions)
    url = link.versions[0].url
    whole = b"".join([c async for c in api.download(url)])
    assert whole == VIDEO
    part = b"".join([c async for c in api.download(url, 1000, 5000)])
    assert part == VIDEO[1000:5000]
    with pytest.raises((LinkExpiredError, NotFoundError)):
        async for _ in api.download(url.replace("/v/", "/v/x")):
            pass


async def test_account_and_stats(api: XvsClient, emu: Account) -> None:
    account = await api.account_info()
    assert account.login and account.premium and account.storage_left
    assert await api.account_stats() == []  # "Not enough reports data" with result {}
    today = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")  # a past day
    emu.seed(
        {
            "stats": [
                {
                    "day": today,
                    "views": 5,
                    "downloads": 2,
                    "views_prem": 0,
                    "views_adb": 1,
                    "sales": 0,
                    "refs": 0,
                    "profit_views": "0.10000",
                }
            ]
        }
    )
    [day] = await api.account_stats(30)
    assert (day.day, day.views, day.downloads) == (today, 5, 2)


async def test_url_upload(api: XvsClient) -> None:
    code = await api.upload_url("http://127.0.0.1:9/nothing.mp4")
    assert len(code) == 12
    queued = await api.file_url_uploads()
    assert [q.remote_url for q in queued] == ["http://127.0.0.1:9/nothing.mp4"]


async def test_node_refusals(api: XvsClient, emu: Account, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"not a video")
    with pytest.raises(UploadRejectedError, match=r"Not video file \(notes.txt\)"):
        await upload(api, notes)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(VIDEO)
    emu.set_faults(max_upload_mb=0)
    with pytest.raises(UploadRejectedError) as caught:
        await upload(api, clip)
    assert caught.value.reason == "file is too big"


async def test_quoted_filename_still_uploads(api: XvsClient, tmp_path: Path) -> None:
    path = tmp_path / 'say "hi"\\.mp4'
    path.write_bytes(VIDEO[:1000])
    code = await upload(api, path)
    [info] = await api.file_info([code])
    assert info.status == 200


@pytest.mark.parametrize(
    ("switch", "kind"),
    [
        ({"direct_link": False}, UnsupportedError),
        ({"folder_delete": False}, UnsupportedError),
        ({"special_only": True}, UnsupportedError),
        ({"api_not_enabled": True}, AuthError),
    ],
)
async def test_disabled_features(
    api: XvsClient, emu: Account, switch: dict[str, Any], kind: type[Exception]
) -> None:
    emu.set_faults(switch)
    with pytest.raises(kind):
        if "folder_delete" in switch:
            await api.folder_delete(1)
        else:
            await api.file_direct_link("abcdefabcdef")


async def test_bad_keys(emu: Account) -> None:
    for key in ("short", "99" + "x" * 16):
        async with XvsClient(emu.api_url, key, backoff=FAST) as api:
            with pytest.raises(AuthError):
                await api.account_info()


async def test_no_upload_servers_is_transient(api: XvsClient, emu: Account) -> None:
    emu.set_faults(no_upload_servers=True)
    async with XvsClient(emu.api_url, emu.key, retry_budget=0.3, backoff=FAST) as short:
        with pytest.raises(TransientError, match="No servers"):
            await short.upload_server()


@pytest.mark.parametrize("fault", ["reset", "5xx", "html404", "cloudflare", "520", "truncated"])
async def test_transient_faults_are_survived_by_retries(
    api: XvsClient, emu: Account, fault: str
) -> None:
    await api.folder_create("Stable")
    emu.set_faults({fault: 0.5, "seed": 7})
    for _ in range(6):
        listing = await api.folder_list(0)
        assert [f.name for f in listing.folders] == ["Stable"]
    assert emu.calls().get("faulted", 0) > 0


@pytest.mark.parametrize("fault", ["string-status", "key-swap", "files-as-result"])
async def test_reshaped_replies_parse(
    api: XvsClient, emu: Account, video: Path, fault: str
) -> None:
    emu.set_faults({fault: 1.0})
    code = await upload(api, video)
    [info] = await api.file_info([code])
    assert info.code == code and info.status == 200


async def test_stalled_upload_times_out_without_repeat(emu: Account, video: Path) -> None:
    emu.set_faults({"stall-upload": 1.0, "stall_seconds": 2.0})
    big = video.parent / "big.mp4"
    big.write_bytes(VIDEO * 16)
    async with XvsClient(emu.api_url, emu.key, timeout=0.5, backoff=FAST) as api:
        server = await api.upload_server()
        with pytest.raises(TransientError):
            await api.upload_file(server, big, filename="big.mp4")
    assert emu.calls().get("upload") == 1


async def test_rate_limit_fault_stops_calls_until_the_next_minute(
    api: XvsClient, emu: Account
) -> None:
    emu.set_faults({"ratelimit": 1.0})
    async with XvsClient(emu.api_url, emu.key, retry_budget=0.5, backoff=FAST) as short:
        with pytest.raises(RateLimitedError) as caught:
            await short.account_info()
        assert 0 < caught.value.retry_after <= 61
        with pytest.raises(RateLimitedError):
            await short.account_info()  # refused locally: the server minute has not ended
    assert emu.calls().get("account/info") == 1


async def test_per_minute_quota_is_learned(emu: Account) -> None:
    emu.set_faults(rate_limit_per_min=3)
    if datetime.now().second >= 55:  # keep the three calls inside one server minute
        await trio.sleep(61 - datetime.now().second)
    async with XvsClient(emu.api_url, emu.key, retry_budget=2, backoff=FAST) as api:
        for left in (2, 1, 0):
            await api.folder_list(0)
            assert api.requests_available == left
        with pytest.raises(RateLimitedError):
            await api.folder_list(0)
        assert api.rate_state.blocked_until is not None
    assert emu.calls().get("folder/list") == 3


async def test_concurrency_cap_520_is_retried(emu: Account) -> None:
    emu.set_faults(max_concurrent=1, latency_ms=20)
    async with XvsClient(emu.api_url, emu.key, max_in_flight=4, backoff=FAST) as api:
        results: list[int] = []

        async def one() -> None:
            results.append(len((await api.folder_list(0)).folders))

        async with trio.open_nursery() as nursery:
            for _ in range(6):
                nursery.start_soon(one)
    assert results == [0] * 6


async def test_no_key_in_real_transport_logs(
    emu: Account, video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with XvsClient(emu.api_url, emu.key, backoff=FAST) as api:
        await upload(api, video)
        with pytest.raises(NotFoundError):
            await api.file_delete("abcdefabcdef")
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert emu.key not in caplog.text


async def test_site_url_or_api_url_both_work(emu: Account) -> None:
    site = emu.api_url.removesuffix("/api")
    for url in (site, site + "/", emu.api_url, emu.api_url + "/"):
        async with XvsClient(url, emu.key, backoff=FAST) as api:
            assert (await api.account_info()).login == emu.login


async def test_host_down_is_transient_and_recovers(emu: Account) -> None:
    emu.set_faults(down=True)
    async with XvsClient(emu.api_url, emu.key, retry_budget=0.5, backoff=FAST) as api:
        with pytest.raises(TransientError):
            await api.folder_list(0)
        emu.set_faults(down=False)
        assert (await api.folder_list(0)).folders == []
