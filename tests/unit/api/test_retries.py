"""Retries within the budget, only where repeating is safe; calls shaped as XVS wants them."""

from __future__ import annotations

import httpx
import pytest
import trio

from vipfs.api.client import XvsClient
from vipfs.api.errors import AuthError, NotSentError, RateLimitedError, TransientError

from .fakehost import KEY, FakeHost, codes, err, form, items, ok, raw

HTML_500 = raw("<html>Internal Server Error</html>", 500)
FOLDERS = ok({"folders": [], "files": []})


async def test_reads_are_retried_until_they_succeed(autojump_clock: object) -> None:
    host = FakeHost().on("folder/list", HTML_500, httpx.ReadTimeout("slow"), FOLDERS)
    async with host.client() as api:
        await api.folder_list(3)
    assert len(host.calls("folder/list")) == 3


async def test_retries_stop_at_the_budget(autojump_clock: object) -> None:
    host = FakeHost().on("folder/list", HTML_500)
    async with host.client(retry_budget=20) as api:
        started = trio.current_time()
        with pytest.raises(TransientError):
            await api.folder_list()
        assert trio.current_time() - started <= 20
    assert 2 < len(host.calls("folder/list")) < 20  # backed off, not hammered


async def test_create_is_not_repeated_after_it_may_have_landed(autojump_clock: object) -> None:
    host = FakeHost().on("folder/create", httpx.ReadTimeout("slow"), ok({"fld_id": 7}))
    async with host.client() as api:
        with pytest.raises(TransientError):
            await api.folder_create("New")
    assert len(host.calls("folder/create")) == 1


async def test_create_is_repeated_when_it_surely_never_left(autojump_clock: object) -> None:
    host = FakeHost().on("folder/create", httpx.ConnectError("refused"), ok({"fld_id": 7}))
    async with host.client() as api:
        assert await api.folder_create("New") == 7
    assert len(host.calls("folder/create")) == 2


async def test_connect_failures_past_the_budget_raise_not_sent(autojump_clock: object) -> None:
    host = FakeHost().on("file/clone", httpx.ConnectError("refused"))
    async with host.client(retry_budget=5) as api:
        with pytest.raises(NotSentError):
            await api.file_clone("abcdefghijkl")


async def test_create_is_repeated_after_a_rate_limit_refusal(autojump_clock: object) -> None:
    host = FakeHost().on(
        "folder/create", err(403, "Requests limit reached: 5 per min"), ok({"fld_id": "8"})
    )
    async with host.client(retry_budget=60) as api:
        started = trio.current_time()
        assert await api.folder_create("New") == 8
        assert trio.current_time() - started >= 30  # waited for the next server minute
    assert len(host.calls("folder/create")) == 2


async def test_rate_limit_past_the_budget_raises_at_once(autojump_clock: object) -> None:
    host = FakeHost().on("file/list", err(403, "Requests limit reached: 5 per min"))
    async with host.client(retry_budget=10) as api:
        started = trio.current_time()
        with pytest.raises(RateLimitedError):
            await api.file_list()
        assert trio.current_time() - started < 1  # no sleeping for a wait it cannot afford
        with pytest.raises(RateLimitedError):  # and the next call does not even go out
            await api.file_list()
    assert len(host.calls("file/list")) == 1


async def test_auth_errors_are_never_retried(autojump_clock: object) -> None:
    host = FakeHost().on("account/info", err(403, "Wrong auth"))
    async with host.client() as api:
        with pytest.raises(AuthError):
            await api.account_info()
    assert len(host.calls("account/info")) == 1


async def test_delete_whose_reply_was_lost_counts_as_done(autojump_clock: object) -> None:
    host = FakeHost().on("file/delete", httpx.ReadTimeout("slow"), err(404, "No file"))
    async with host.client() as api:
        await api.file_delete("abcdefghijkl")
    assert len(host.calls("file/delete")) == 2


async def test_concurrency_is_capped(autojump_clock: object) -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await trio.sleep(1)
        in_flight -= 1
        return ok({"folders": [], "files": []})

    transport = httpx.MockTransport(slow)
    client = XvsClient("https://xvs.test/api", KEY, transport=transport, max_in_flight=2)
    async with client as api, trio.open_nursery() as nursery:
        for fld in range(7):
            nursery.start_soon(api.folder_list, fld)
    assert peak == 2


async def test_file_info_batches_by_fifty_and_keeps_order(autojump_clock: object) -> None:
    wanted = codes(120)

    def answer(request: httpx.Request) -> httpx.Response:
        asked = form(request)["file_code"].split(",")
        found = [c for c in asked if not c.endswith("7")]  # codes ending in 7 vanish silently
        result = [{"status": 404, "file_code": c} for c in found if c.endswith("3")]
        result += items(c for c in reversed(found) if not c.endswith("3"))
        return ok(result)

    host = FakeHost().on("file/info", answer)
    async with host.client() as api:
        infos = await api.file_info(wanted)
    assert [len(c["file_code"].split(",")) for c in host.calls("file/info")] == [50, 50, 20]
    assert [i.code for i in infos] == wanted
    assert {i.status for i in infos if i.code.endswith(("3", "7"))} == {404}
    assert all(i.status == 200 and i.title == i.code for i in infos if i.code[-1] not in "37")


async def test_file_info_with_no_valid_code_is_all_not_found(autojump_clock: object) -> None:
    host = FakeHost().on("file/info", err(400, "Invalid file codes"))
    async with host.client() as api:
        assert [i.status for i in await api.file_info(["bad", "worse"])] == [404, 404]


async def test_file_list_all_pages_until_a_short_page(autojump_clock: object) -> None:
    def page(n: int, count: int) -> httpx.Response:
        entries = [{"file_code": f"p{n}{i:010d}", "title": "t"} for i in range(count)]
        return ok({"files": entries, "results": count, "results_total": 2500, "pages": 1})

    host = FakeHost().on("file/list", page(1, 1000), page(2, 1000), page(3, 500))
    async with host.client() as api:
        everything = await api.file_list_all(fld_id=4)
    assert len(everything) == 2500
    calls = host.calls("file/list")
    assert [(c["page"], c["per_page"], c["fld_id"]) for c in calls] == [
        ("1", "1000", "4"),
        ("2", "1000", "4"),
        ("3", "1000", "4"),
    ]


async def test_file_edit_sends_file_title_never_title_and_flags_as_digits() -> None:
    host = FakeHost().on("file/edit", ok("true"))
    async with host.client() as api:
        await api.file_edit(
            ["aaaaaaaaaaaa", "bbbbbbbbbbbb"], title="New", public=True, adult=False, fld_id=0
        )
    [sent] = host.calls("file/edit")
    assert "title" not in sent
    assert sent == {
        "key": KEY,
        "file_code": "aaaaaaaaaaaa,bbbbbbbbbbbb",
        "file_title": "New",
        "file_public": "1",
        "file_adult": "0",
        "file_fld_id": "0",
    }


async def test_key_travels_in_the_body_not_the_url(autojump_clock: object) -> None:
    host = FakeHost().on("account/info", ok({"login": "me"}))
    async with host.client() as api:
        await api.account_info()
    [request] = host.requests
    assert KEY not in str(request.url)
    assert request.method == "POST" and form(request)["key"] == KEY
