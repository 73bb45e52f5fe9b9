"""The key never goes over plain http to another machine (issue 8, item 3)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from vipfs.api.client import XvsClient
from vipfs.api.errors import NotSentError, TransientError
from vipfs.api.plainhttp import InsecureUrlError, check_api_url, is_local, secure_node_url

from .fakehost import KEY, FakeHost, ok, raw

OK_REPLY = '{"msg":"OK","status":200,"files":[{"filecode":"u9150wqzvhxj","status":"OK"}]}'


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ("http://s1.host.example/upload/01", "https://s1.host.example/upload/01"),
        ("http://s1.host.example:8080/up?x=1", "https://s1.host.example:8080/up?x=1"),
        ("HTTP://10.0.0.7/upload/01", "https://10.0.0.7/upload/01"),
        ("http://[2001:db8::1]:81/u", "https://[2001:db8::1]:81/u"),
        ("https://s1.host.example/upload/01", "https://s1.host.example/upload/01"),
    ],
)
def test_an_http_node_of_an_https_api_is_upgraded_on_its_host_and_port(
    node: str, expected: str
) -> None:
    url, upgraded = secure_node_url("https://xvs.test/api", node)
    assert url == expected
    assert upgraded == node.lower().startswith("http:")


def test_a_local_http_api_keeps_its_local_nodes_as_given() -> None:
    node = "http://127.0.0.1:9000/upload/01"
    assert secure_node_url("http://127.0.0.1:9000/api", node) == (node, False)
    remote = "http://s1.host.example/upload/01"  # the key would leave the machine in clear
    assert secure_node_url("http://127.0.0.1:9000/api", remote) == (
        "https://s1.host.example/upload/01",
        True,
    )


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/api", "http://localhost/api", "http://[::1]:1/api"]
)
def test_plain_http_to_this_machine_is_allowed(url: str) -> None:
    check_api_url(url)


@pytest.mark.parametrize(
    "url", ["http://vipstream.cc/api", "http://192.168.1.5:8080/api", "HTTP://evil.localhost.com"]
)
def test_plain_http_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(InsecureUrlError, match="use https://") as caught:
        check_api_url(url)
    assert "\n" not in str(caught.value)
    with pytest.raises(InsecureUrlError):
        XvsClient(url, KEY)


def test_loopback_is_only_loopback() -> None:
    assert is_local("127.0.0.2") and is_local("LOCALHOST") and is_local("a.localhost")
    assert not is_local("10.0.0.1") and not is_local("localhost.evil.com") and not is_local("")


async def test_the_key_goes_to_an_http_node_only_over_https(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x" * 1000)
    host = FakeHost().on("upload/server", ok("http://node.test/upload/01"))
    host.on("upload/01", raw(OK_REPLY, **{"content-type": "application/json"}))
    async with host.client() as api:
        server = await api.upload_server()
        result = await api.upload_file(server, video, filename="clip.mp4")
    assert result.code == "u9150wqzvhxj"
    node_calls = [r for r in host.requests if r.url.host == "node.test"]
    assert [str(r.url) for r in node_calls] == ["https://node.test/upload/01"]
    assert all(r.url.scheme == "https" for r in host.requests)
    assert all(KEY.encode() not in r.content for r in host.requests if r.url.scheme != "https")


async def test_a_node_that_cannot_speak_https_fails_the_attempt_and_says_why(
    tmp_path: Path,
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x" * 1000)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")

    host = FakeHost().on("upload/01", refuse)
    async with host.client(retry_budget=0.0) as api:
        with pytest.raises(NotSentError) as caught:
            await api.upload_file("http://node.test/upload/01", video, filename="clip.mp4")
    assert isinstance(caught.value, TransientError)  # the queue retries it later
    assert "upload node node.test over https (it offered plain http)" in str(caught.value)
    assert [r.url.scheme for r in host.requests] == ["https"]
