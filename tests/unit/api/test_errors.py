"""Every way an XVS host says no, mapped onto the error tree."""

from __future__ import annotations

import httpx
import pytest

from vipfs.api.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    NotSentError,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    TransientError,
    UnsupportedError,
)

from .fakehost import SERVER_TIME, FakeHost, err, ok, raw

CF_PAGE = "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (err(400, "Invalid key"), AuthError),
        (err(403, "Invalid key"), AuthError),
        (err(403, "Wrong auth"), AuthError),
        (err(403, "Wrong Auth"), AuthError),
        (err(403, "API not enabled for your account"), AuthError),
        (err(403, "This function not allowed in API"), UnsupportedError),
        (err(403, "API special allowed for premium only"), UnsupportedError),
        (err(403, "API special not enable for your account"), UnsupportedError),
        (err(400, "Invalid operation"), UnsupportedError),
        (err(403, "File Delete disabled by your account options"), UnsupportedError),
        (err(404, "No file"), NotFoundError),
        (err(404, "no file"), NotFoundError),
        (err("404", "no file"), NotFoundError),
        (err(403, "Folder not exist or not yours"), NotFoundError),
        (err(403, "Folder not exist"), NotFoundError),
        (err(403, "Parent folder not exist or not yours"), NotFoundError),
        (err(400, "Invalid folder name"), RequestRejectedError),
        (err(403, "Folder have files inside"), RequestRejectedError),
        (err(409, "Conflict"), RequestRejectedError),
        (err(451, "Unavailable For Legal Reasons"), RequestRejectedError),
        (err(403, "Requests limit reached: 5 per min"), RateLimitedError),
        (err(200, "No servers available for uploads", result={}), TransientError),
        (raw("<html><body>Internal Server Error</body></html>", 500), TransientError),
        (raw("<html>Not Found</html>", 404, **{"content-type": "text/html"}), TransientError),
        (raw(CF_PAGE, 403, **{"cf-mitigated": "challenge"}), TransientError),
        (raw(CF_PAGE, 503), TransientError),
        (raw("error code: 520", 520), TransientError),
        (raw(""), TransientError),
        (raw('{"msg":"OK","status":200,"result":{"fi'), TransientError),
        (raw("[1, 2]"), ProtocolError),
        (raw('{"msg": "OK"}'), ProtocolError),
        (raw("", 302, location="https://elsewhere.test/"), ProtocolError),
        (httpx.ConnectError("refused"), NotSentError),
        (httpx.ConnectTimeout("slow"), NotSentError),
        (httpx.ReadTimeout("slow"), TransientError),
        (httpx.RemoteProtocolError("peer closed"), TransientError),
    ],
)
async def test_mapping(
    reply: httpx.Response | Exception, kind: type[ApiError], autojump_clock: object
) -> None:
    host = FakeHost().on("upload/server", reply)
    async with host.client(retry_budget=0) as api:
        with pytest.raises(ApiError) as caught:
            await api.upload_server()
    assert type(caught.value) is kind
    assert caught.value.op == "upload/server"


async def test_error_carries_status_and_server_text() -> None:
    host = FakeHost().on("folder/create", err(400, "Invalid folder name"))
    async with host.client() as api:
        with pytest.raises(RequestRejectedError) as caught:
            await api.folder_create("x")
    assert caught.value.status == 400 and caught.value.msg == "Invalid folder name"


async def test_success_is_status_200_whatever_the_msg() -> None:
    host = FakeHost().on(
        "folder/list",
        httpx.Response(
            200,
            json={"status": "200", "msg": "Something else", "result": {"folders": [], "files": []}},
        ),
    )
    async with host.client() as api:
        assert (await api.folder_list()).folders == []


async def test_per_minute_limit_waits_for_the_next_server_minute() -> None:
    host = FakeHost().on("file/list", err(403, "Requests limit reached: 5 per min"))
    async with host.client(retry_budget=0) as api:
        with pytest.raises(RateLimitedError) as caught:
            await api.file_list()
    assert caught.value.scope == "min"
    assert SERVER_TIME.endswith(":30")
    assert caught.value.retry_after == pytest.approx(30.5)


async def test_per_day_limit_waits_for_server_midnight() -> None:
    host = FakeHost().on(
        "file/list",
        httpx.Response(
            200,
            json={
                "status": 403,
                "msg": "Requests limit reached: 1000 per day",
                "server_time": "2026-11-27 23:59:00",
            },
        ),
    )
    async with host.client(retry_budget=0) as api:
        with pytest.raises(RateLimitedError) as caught:
            await api.file_list()
    assert caught.value.scope == "day"
    assert caught.value.retry_after == pytest.approx(60.5)
    assert api.rate_state.scope == "day" and api.rate_state.blocked_until is not None


async def test_direct_link_still_uploading_is_transient(autojump_clock: object) -> None:
    host = FakeHost().on("file/direct_link", err(200, "uploading"))
    async with host.client(retry_budget=0) as api:
        with pytest.raises(TransientError, match="uploading"):
            await api.file_direct_link("fb5asfuj2snh")


async def test_unknown_path_html_404_is_transient(autojump_clock: object) -> None:
    async with FakeHost().client(retry_budget=0) as api:
        with pytest.raises(TransientError, match="HTML"):
            await api.account_info()


async def test_client_must_be_opened() -> None:
    api = FakeHost().on("account/info", ok({})).client()
    with pytest.raises(RuntimeError, match="async with"):
        await api.account_info()
