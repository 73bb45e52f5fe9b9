"""Each fault switch (§8.9, the brief's list), `down`, and that control endpoints stay clean."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.emulator.conftest import Api, make_config
from vipfs.emulator.server import Emulator


def upload(emu: Emulator, http: httpx.Client) -> httpx.Response:
    return http.post(
        f"{emu.base_url}/upload/01",
        data={"key": emu.key},
        files=[("file", ("f.mp4", b"data" * 100))],
    )


@pytest.mark.parametrize(
    ("kind", "status", "marker"),
    [
        ("5xx", 500, "Internal Server Error"),
        ("html404", 404, "Page not found"),
        ("cloudflare", 403, "Just a moment..."),
        ("520", 520, "error code: 520"),
    ],
)
def test_page_faults(
    emu: Emulator, http: httpx.Client, kind: str, status: int, marker: str
) -> None:
    emu.set_faults({kind: 1.0})
    for response in (
        http.get(f"{emu.api_url}/folder/create", params={"key": emu.key, "name": "Never"}),
        upload(emu, http),
    ):
        assert response.status_code == status and marker in response.text
        if kind == "cloudflare":
            assert response.headers["cf-mitigated"] == "challenge"
    emu.set_faults({kind: 0.0})
    assert emu.files() == []  # nothing ran
    assert Api(emu, http).ok("folder/list")["folders"] == []
    calls = emu.calls()
    assert (calls["folder/create"], calls["upload"], calls["faulted"]) == (1, 1, 2)


def test_reset_and_down(emu: Emulator, http: httpx.Client) -> None:
    emu.set_faults({"reset": 1.0})
    with pytest.raises(httpx.TransportError):
        http.get(f"{emu.api_url}/account/info", params={"key": emu.key})
    emu.set_faults({"reset": 0.0, "down": True})
    with pytest.raises(httpx.TransportError):
        http.get(f"{emu.api_url}/account/info", params={"key": emu.key})
    with pytest.raises(httpx.TransportError):
        upload(emu, http)
    assert http.get(f"{emu.base_url}/_emu/calls").status_code == 200  # control still answers
    emu.set_faults(down=False)
    assert Api(emu, http).ok("account/info")["login"] == "user1"


def test_ratelimit_fault(api: Api, emu: Emulator) -> None:
    emu.set_faults({"ratelimit": 1.0})
    reply = api("account/info")
    assert (reply["status"], reply["msg"]) == (403, "Requests limit reached: 5 per min")


def test_truncated_runs_the_call(emu: Emulator, http: httpx.Client) -> None:
    emu.set_faults({"truncated": 1.0})
    response = http.get(f"{emu.api_url}/folder/create", params={"key": emu.key, "name": "Made"})
    with pytest.raises(ValueError):
        response.json()
    up = upload(emu, http)
    with pytest.raises(ValueError):
        up.json()
    emu.set_faults({"truncated": 0.0})
    assert [f["name"] for f in Api(emu, http).ok("folder/list")["folders"]] == ["Made"]
    assert len(emu.files()) == 1  # the upload happened; only its answer was lost


def test_string_status_and_key_swap(api: Api, emu: Emulator, http: httpx.Client) -> None:
    emu.set_faults({"string-status": 1.0})
    assert api("account/info")["status"] == "200"
    assert upload(emu, http).json()["status"] == "200"
    emu.set_faults({"string-status": 0.0, "key-swap": 1.0})
    entry = upload(emu, http).json()["files"][0]
    assert "file_code" in entry and "filecode" not in entry
    clone = api("file/clone", file_code=entry["file_code"])["result"]
    assert set(clone) == {"url", "file_code"}
    info = api("file/info", file_code=entry["file_code"])["result"][0]
    assert "filecode" in info and "file_code" not in info


def test_upload_only_faults(api: Api, emu: Emulator, http: httpx.Client) -> None:
    emu.set_faults({"files-as-result": 1.0, "stall-upload": 0.0, "stall_seconds": 0.1})
    reply = upload(emu, http).json()
    assert "files" not in reply and reply["result"][0]["status"] == "OK"
    assert api("account/info")["status"] == 200  # API calls never get upload-only faults
    emu.set_faults({"files-as-result": 0.0, "stall-upload": 1.0})
    assert upload(emu, http).json()["files"][0]["status"] == "OK"  # late, but complete


def test_seeded_draws_repeat(http: httpx.Client) -> None:
    outcomes = []
    for _ in range(2):
        with Emulator(make_config(faults={"5xx": 0.5}, seed=7)) as emu:
            outcomes.append(
                [
                    http.get(f"{emu.api_url}/account/info", params={"key": emu.key}).status_code
                    for _ in range(12)
                ]
            )
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_latency_switch(api: Api, emu: Emulator) -> None:
    emu.set_faults(latency_ms=5)
    assert api("account/info")["status"] == 200
