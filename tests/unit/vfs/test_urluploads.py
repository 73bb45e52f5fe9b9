"""The URL-upload queue against a small fake host: its queue limit, a lost answer after a
restart, failures, retries, and an older build without file/url_uploads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from vipfs.api.errors import RequestRejectedError, TransientError, UnsupportedError
from vipfs.api.protocol import XvsApi
from vipfs.api.records import FileInfo, UrlUpload
from vipfs.vfs.events import Events
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.urluploads import UrlError, UrlUploads, host_url


class FakeHost:
    """upload/url and its queue as XVS keeps them: 5 URLs at a time, the URL rewritten."""

    def __init__(self, *, listed: bool = True, blank: bool = False) -> None:
        self.listed = listed
        self.blank = blank  # its queue names no code until the fetch is done
        self.queue: dict[str, dict[str, Any]] = {}  # code → entry
        self.files: dict[str, str] = {}  # code → title
        self.calls: list[str] = []
        self.lose_next = False
        self._n = 0

    def _code(self) -> str:
        self._n += 1
        return f"url{self._n:09d}"

    async def upload_url(self, url: str, *, fld_id: int = 0, public: bool | None = None) -> str:
        self.calls.append("upload_url")
        kept = host_url(url)
        if any(e["url"] == kept for e in self.queue.values()):
            raise RequestRejectedError("This URL already in upload queue", status=400)
        if len(self.queue) >= 5:
            raise RequestRejectedError("You have reached max URLs limit: 5", status=400)
        code = self._code()
        status = "ERROR" if "bad" in url else "PENDING"
        self.queue[code] = {"url": kept, "fld_id": fld_id, "status": status, "progress": 0}
        if self.lose_next:
            self.lose_next = False
            raise TransientError("connection reset by peer", op="upload/url")
        return code

    async def file_url_uploads(self, code: str | None = None) -> list[UrlUpload]:
        self.calls.append("file_url_uploads")
        if not self.listed:
            raise UnsupportedError("Invalid operation", status=400)
        return [
            UrlUpload(e["url"], None if self.blank else c, e["status"], e["progress"], e["fld_id"])
            for c, e in self.queue.items()
        ]

    async def file_url_actions(self, *, delete_codes: Sequence[str]) -> None:
        self.calls.append("file_url_actions")
        for code in delete_codes:
            self.queue.pop(code, None)

    async def file_info(self, codes: Sequence[str]) -> list[FileInfo]:
        self.calls.append("file_info")
        return [
            FileInfo(code=c, status=200, title=self.files[c])
            if c in self.files
            else FileInfo(code=c, status=404)
            for c in codes
        ]

    async def file_edit(self, codes: str | Sequence[str], *, title: str | None = None) -> None:
        self.calls.append("file_edit")
        assert isinstance(codes, str) and title is not None
        self.files[codes] = title

    def progress(self, code: str, percent: int) -> None:
        self.queue[code].update(status="WORKING", progress=percent)

    def finish(self, code: str) -> None:
        entry = self.queue.pop(code)
        self.files[code] = entry["url"].rsplit("/", 1)[-1]


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = await MetaDb.open(tmp_path / "meta.db")
    yield db
    await db.close()


def queue(host: FakeHost, db: MetaDb, events: Events | None = None) -> UrlUploads:
    return UrlUploads(cast(XvsApi, host), db, events or Events())


def states(urls: UrlUploads) -> list[tuple[str, str | None]]:
    return [(r["state"], r["code"]) for r in urls.status_json()]


async def test_sends_only_what_the_host_queue_holds_and_follows_to_the_file(db: MetaDb) -> None:
    host, events = FakeHost(), Events()
    urls = queue(host, db, events)
    await urls.load()
    for n in range(7):
        assert await urls.add(f"http://h/{n}.mp4", None, 3) == "queued"
    assert host.calls == []  # recorded only: the background round sends
    assert await urls.step()
    assert [s for s, _ in states(urls)] == ["submitted"] * 5 + ["queued"] * 2
    assert host.calls.count("upload_url") == 5  # never a sixth into a full host queue
    first = urls.status_json()[0]["code"]
    host.progress(first, 40)
    await urls.step()
    assert urls.status_json()[0]["state"] == "fetching"
    assert urls.status_json()[0]["progress"] == 40
    host.finish(first)
    await urls.step()
    assert urls.status_json()[0]["state"] == "uploaded"
    assert urls.status_json()[5]["state"] == "submitted"  # the freed slot went to the next
    assert [(e.event, e.code) for e in events.since() if e.event != "queued"] == [
        ("uploaded", first)
    ]
    assert await urls.add("http://h/0.mp4", None, 3) == f"already uploaded as {first}"
    assert await urls.add("http://h/1.mp4", None, 3) == "already queued"
    assert await urls.add("http://h/1.mp4", None, 4) == "queued"  # another folder


async def test_learns_a_smaller_limit_from_the_refusal(db: MetaDb) -> None:
    host = FakeHost()
    host.queue["other0000001"] = {"url": "http://x/a", "fld_id": 0, "status": "PENDING"}
    host.queue["other0000001"]["progress"] = 0  # another tool's URL holds a slot
    urls = queue(host, db)
    await urls.load()
    for n in range(6):
        await urls.add(f"http://h/{n}.mp4", None, 0)
    await urls.step()
    assert [s for s, _ in states(urls)] == ["submitted"] * 4 + ["queued"] * 2
    assert urls.limit == 5 and host.calls.count("upload_url") == 5  # the 5th was refused


async def test_a_lost_answer_is_adopted_from_the_host_queue_after_a_restart(db: MetaDb) -> None:
    host = FakeHost()
    urls = queue(host, db)
    await urls.load()
    await urls.add("http://h/%79outube-clip.mp4", "My clip", 0)  # the host rewrites it
    host.lose_next = True
    await urls.step()
    assert host.calls.count("upload_url") == 1
    (code,) = host.queue
    again = queue(host, db)  # a restart: the row is still "submitting", with no code
    await again.load()
    assert states(again) == [("queued", None)]
    await again.step()
    assert host.calls.count("upload_url") == 1  # never sent twice
    assert states(again) == [("submitted", code)]
    host.finish(code)
    await again.step()
    assert states(again) == [("uploaded", code)]
    assert host.files[code] == "My clip"  # the title asked for, set after the fetch


async def test_a_lost_answer_on_a_host_that_cannot_tell_fails_not_resends(db: MetaDb) -> None:
    host = FakeHost(listed=False)
    urls = queue(host, db)
    await urls.load()
    await urls.add("http://h/a.mp4", None, 0)
    host.lose_next = True
    await urls.step()
    await urls.step()
    assert host.calls.count("upload_url") == 1
    (row,) = urls.status_json()
    assert row["state"] == "failed" and "cannot tell" in row["error"]


async def test_old_build_follows_the_code_with_file_info(db: MetaDb) -> None:
    host = FakeHost(listed=False)
    urls = queue(host, db)
    await urls.load()
    await urls.add("http://h/a.mp4", None, 0)
    await urls.step()
    ((state, code),) = states(urls)
    assert state == "submitted" and code is not None
    await urls.step()
    assert states(urls) == [("submitted", code)]
    host.finish(code)
    await urls.step()
    assert states(urls) == [("uploaded", code)]
    assert "file_info" in host.calls and host.calls.count("file_url_uploads") == 1


async def test_a_failed_fetch_frees_the_host_slot_and_can_be_retried(db: MetaDb) -> None:
    host, events = FakeHost(), Events()
    urls = queue(host, db, events)
    await urls.load()
    await urls.add("http://h/bad.mp4", None, 0)
    await urls.step()
    await urls.step()
    (row,) = urls.status_json()
    assert row["state"] == "failed" and row["error"] == "the host could not fetch the URL"
    assert host.queue == {}  # dropped from the host's queue: its slot and URL are free
    failed = [e for e in events.since() if e.event == "failed"]
    assert [(e.source, e.detail) for e in failed] == [("url", row["error"])]
    assert await urls.add("http://h/bad.mp4", None, 0) == "retrying (was failed)"
    await urls.step()
    assert urls.status_json()[0]["state"] == "submitted"
    assert len(urls.status_json()) == 1  # the same row, not a second one
    assert host.calls.count("upload_url") == 2


async def test_bad_input_is_never_recorded(db: MetaDb) -> None:
    host = FakeHost()
    urls = queue(host, db)
    await urls.load()
    for bad in ("ftp://h/a.mp4", "http://h/a b.mp4", "not a url"):
        with pytest.raises(UrlError):
            await urls.add(bad, None, 0)
    with pytest.raises(UrlError):
        await urls.add("http://h/a.mp4", "bad\ntitle", 0)
    assert urls.status_json() == []


async def test_a_host_queue_without_codes_is_matched_by_url(db: MetaDb) -> None:
    host = FakeHost(blank=True)
    urls = queue(host, db)
    await urls.load()
    await urls.add("http://h/a.mp4", None, 0)
    await urls.step()
    ((_, code),) = states(urls)
    assert code is not None
    host.progress(code, 70)
    await urls.step()
    assert urls.status_json()[0]["state"] == "fetching"  # found by its URL, not dropped
    assert urls.status_json()[0]["progress"] == 70
    host.finish(code)
    await urls.step()
    assert states(urls) == [("uploaded", code)]
