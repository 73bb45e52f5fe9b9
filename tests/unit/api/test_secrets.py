"""The API key never reaches a log record, an exception's text, or a repr."""

from __future__ import annotations

import logging

import httpx
import pytest

from vipfs.api.errors import ApiError
from vipfs.api.redact import Secret, redact

from .fakehost import KEY, FakeHost, err, ok


async def test_key_absent_from_logs_errors_and_reprs(
    caplog: pytest.LogCaptureFixture, autojump_clock: object
) -> None:
    caplog.set_level(logging.DEBUG)
    host = (
        FakeHost()
        .on("account/info", ok({"login": "me"}))
        .on("file/list", err(403, "Wrong auth"))
        .on("folder/list", httpx.ConnectError(f"cannot reach https://x/?key={KEY}"))
        .on("v.mp4", httpx.Response(403))
    )
    errors: list[ApiError] = []
    async with host.client(retry_budget=2) as api:
        await api.account_info()
        for call in (api.file_list, api.folder_list):
            with pytest.raises(ApiError) as caught:
                await call()
            errors.append(caught.value)
        # A URL with the key in it, logged by httpx itself at INFO.
        with pytest.raises(ApiError) as caught:
            async for _ in api.download(f"https://xvs.test/v.mp4?key={KEY}&x=1"):
                pass
        errors.append(caught.value)
        texts = [repr(api), str(vars(api)), repr(api._key)]
    logging.getLogger("some.library").warning("GET %s", f"https://h/api?api_key={KEY}")
    assert caplog.records, "the calls above must have logged something"
    assert any("account/info" in r.getMessage() for r in caplog.records)
    assert any(r.name == "httpx" for r in caplog.records)
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    for text in texts:
        assert KEY not in text


def test_redact() -> None:
    assert redact("https://h/api/x?key=abc123&y=1") == "https://h/api/x?key=***&y=1"
    assert redact("api_key=zzz") == "api_key=***"
    assert repr(Secret("s3cret")) == "Secret(***)" and "s3cret" not in str(Secret("s3cret"))
