"""What a host says is shown redacted and on one line: it may echo the key, or forge log
lines with line breaks (issue 8, item 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vipfs.api.errors import AuthError, TransientError, UploadRejectedError
from vipfs.api.redact import one_line, printable, protect

from .fakehost import KEY, FakeHost, err, raw

FORGED = "2099-01-01 00:00:00,000 WARNING vipfs.mount: forged"


def test_one_line_escapes_breaks_and_control_characters_only() -> None:
    assert one_line("a\nb\r\nc\x1b[2Jd\x00e\u2028f") == "a\\nb\\r\\nc\\x1b[2Jd\\x00e\\u2028f"
    assert one_line("tab\tand ünïcode stay") == "tab\tand ünïcode stay"


def test_every_api_error_message_is_printable() -> None:
    protect(KEY)
    for exc in (
        AuthError(f"Wrong auth for key {KEY}\n{FORGED}", status=403, op="account/info"),
        TransientError(f"node said {KEY}\r\n{FORGED}", op="upload"),
    ):
        assert KEY not in str(exc) and KEY not in exc.msg
        assert "\n" not in str(exc) and "\r" not in str(exc)
    rejected = UploadRejectedError(f"bad file for {KEY}\n{FORGED}", filename="a.mp4")
    assert rejected.reason == f"bad file for ***\\n{FORGED}"
    assert printable(f"key={KEY}") == "key=***"


async def test_a_host_echoing_the_key_is_redacted_in_the_error() -> None:
    host = FakeHost().on("account/info", err(403, f"Wrong auth for key {KEY}\n{FORGED}"))
    async with host.client() as api:
        with pytest.raises(AuthError) as caught:
            await api.account_info()
    assert KEY not in str(caught.value) and "\n" not in str(caught.value)
    assert "Wrong auth for key ***" in caught.value.msg


async def test_a_node_echoing_the_key_in_a_refusal_is_redacted(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x" * 100)
    files = [{"filecode": "", "status": f"bad key {KEY}\nx"}]
    body = json.dumps({"msg": "OK", "status": 200, "files": files})
    host = FakeHost().on("upload/01", raw(body, **{"content-type": "application/json"}))
    async with host.client() as api:
        with pytest.raises(UploadRejectedError) as caught:
            await api.upload_file("https://node.test/upload/01", video, filename="clip.mp4")
    assert caught.value.reason == "bad key ***\\nx"
