"""A scripted XVS host on httpx.MockTransport: replies per operation, every request recorded."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from vipfs.api.client import XvsClient

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "45tzu7ub0wtftr6df"
API = "https://xvs.test"
SERVER_TIME = "2026-11-27 12:00:30"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | BaseException


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def ok(result: Any = None, **extra: Any) -> httpx.Response:
    """A success envelope as XVS sends it."""
    body: dict[str, Any] = {"msg": "OK", "server_time": SERVER_TIME, "status": 200}
    if result is not None:
        body["result"] = result
    body.update(extra)
    return httpx.Response(200, json=body)


def err(status: int | str, msg: str, **extra: Any) -> httpx.Response:
    """An API error: HTTP 200 with the error in the JSON."""
    body = {"msg": msg, "server_time": SERVER_TIME, "status": status, **extra}
    return httpx.Response(200, json=body)


def raw(body: str | bytes, status: int = 200, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers=headers)


class FakeHost:
    """Queues of replies per path (`file/list`, `upload/01`, ...); the last one repeats."""

    def __init__(self) -> None:
        self.replies: dict[str, deque[Reply]] = defaultdict(deque)
        self.requests: list[httpx.Request] = []

    def on(self, path: str, *replies: Reply) -> FakeHost:
        self.replies[path].extend(replies)
        return self

    def calls(self, path: str) -> list[dict[str, str]]:
        """The form fields of every call made to `path`, in order."""
        return [form(r) for r in self.requests if r.url.path.endswith("/" + path)]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/").strip("/")
        queue = self.replies.get(path)
        if not queue:
            return raw("<html>404 Not Found</html>", 404, **{"content-type": "text/html"})
        reply = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    def client(self, **kwargs: Any) -> XvsClient:
        kwargs.setdefault("rand", lambda: 0.0)
        return XvsClient(API, KEY, transport=httpx.MockTransport(self.handler), **kwargs)


def form(request: httpx.Request) -> dict[str, str]:
    """A urlencoded POST body (or query string) as a flat dict."""
    text = request.content.decode() if request.content else request.url.query.decode()
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def codes(n: int, prefix: str = "c") -> list[str]:
    return [f"{prefix}{i:011d}" for i in range(n)]


def items(entries: Iterable[str]) -> list[dict[str, Any]]:
    return [{"file_code": c, "status": 200, "file_title": c} for c in entries]
