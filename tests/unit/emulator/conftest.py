"""Fixtures: an emulator on a real socket (port 0) with a fake clock, and a plain httpx client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.server import Emulator


class FakeClock:
    """A settable clock, so expiry, encoding and quota windows are tested without waiting."""

    def __init__(self) -> None:
        # Start mid-minute so a few calls never straddle a minute boundary by accident.
        self.t = float(int(time.time()) // 60 * 60 + 20)

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Api:
    """A thin test client: `api("file/list", fld_id=3)` → the decoded JSON envelope."""

    def __init__(self, emu: Emulator, http: httpx.Client) -> None:
        self.emu = emu
        self.http = http

    def __call__(self, op: str, key: str | None = None, **params: Any) -> Any:
        params.setdefault("key", self.emu.key if key is None else key)
        response = self.http.get(f"{self.emu.api_url}/{op}", params=params)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        return response.json()

    def ok(self, op: str, **params: Any) -> Any:
        reply = self(op, **params)
        assert reply["status"] == 200, reply
        return reply.get("result")

    def upload(self, *files: tuple[str, bytes], **fields: str) -> httpx.Response:
        data = {"key": self.emu.key, **fields}
        parts = [("file", (name, content)) for name, content in files]
        return self.http.post(f"{self.emu.base_url}/upload/01", data=data, files=parts)


def make_config(**overrides: Any) -> EmulatorConfig:
    base: dict[str, Any] = {
        "direct_link": True,
        "delete": True,
        "folder_delete": True,
        "url_uploads": True,
        "encode_seconds": 10.0,
    }
    base.update(overrides)
    return EmulatorConfig(**base)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu_config() -> EmulatorConfig:
    """Override in a test module to change the host's switches."""
    return make_config()


@pytest.fixture
def emu(emu_config: EmulatorConfig, clock: FakeClock) -> Iterator[Emulator]:
    with Emulator(emu_config) as emulator:
        emulator.host.clock = clock
        yield emulator


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One client for the session: building an httpx client (its TLS context) is the slow part."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def api(emu: Emulator, http: httpx.Client) -> Api:
    return Api(emu, http)
