"""The hostile-host switches of issue 8 (items 2, 3, 14): filters ignored, a node that stores and
then answers 500, an upload/server URL of the test's choosing, https, and error messages that
echo the key or forge log lines."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.unit.emulator.conftest import Api, make_config
from vipfs.emulator.faults import FORGED_LOG_LINE
from vipfs.emulator.server import Emulator


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (what the integration tests make too)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "3650", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return cert, key


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def upload(emu: Emulator, http: httpx.Client, name: str = "f.mp4", **fields: str) -> httpx.Response:
    return http.post(
        f"{emu.base_url}/upload/01",
        data={"key": emu.key, **fields},
        files=[("file", (name, b"data" * 100))],
    )


def titles(reply: dict[str, object]) -> list[str]:
    result = reply["result"]
    assert isinstance(result, dict)
    return sorted(f["title"] for f in result["files"])


def test_ignore_list_filters_lists_every_file(api: Api, emu: Emulator) -> None:
    made = emu.seed(
        {
            "folders": [{"name": "Films", "ref": "f"}],
            "files": [
                {"title": "Movie (2021)"},
                {"title": "clip vipfs-0123456789ab", "folder_ref": "f"},
                {"title": "other"},
            ],
        }
    )
    films = made["folders"]["f"]
    assert titles(api("file/list", title="vipfs-0123456789ab")) == ["clip vipfs-0123456789ab"]
    assert titles(api("file/list", fld_id=films)) == ["clip vipfs-0123456789ab"]
    emu.set_faults({"ignore-list-filters": True})  # the CLI spelling works too
    everything = ["Movie (2021)", "clip vipfs-0123456789ab", "other"]
    assert titles(api("file/list", title="vipfs-0123456789ab")) == everything
    assert titles(api("file/list", fld_id=films, title="nothing like it")) == everything
    assert api("file/list", title="nothing")["result"]["results_total"] == 3
    emu.set_faults(ignore_list_filters=False)
    assert titles(api("file/list", title="nothing")) == []


def test_node_fail_after_store_stores_then_answers_500(
    api: Api, emu: Emulator, http: httpx.Client
) -> None:
    emu.set_faults(node_fail_after_store=1.0)
    response = upload(emu, http, "clip.mp4", file_title="clip vipfs-00aa11bb22cc")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Internal Server Error" in response.text
    stored = emu.files()  # the node did the work: the file is there, listed, titled
    assert [f["title"] for f in stored] == ["clip vipfs-00aa11bb22cc"]
    assert titles(api("file/list", title="vipfs-00aa11bb22cc")) == ["clip vipfs-00aa11bb22cc"]
    assert emu.calls()["failed_after_store"] == 1
    refused = upload(emu, http, "notes.txt")  # a refusal stores nothing, and still gets a 500
    assert refused.status_code == 500 and len(emu.files()) == 1
    emu.set_faults(node_fail_after_store=0.0)
    assert upload(emu, http).json()["files"][0]["status"] == "OK"
    assert len(emu.files()) == 2


def test_node_fail_after_store_as_a_rate(http: httpx.Client) -> None:
    with Emulator(make_config(node_fail_after_store=0.5, seed=3)) as emu:
        codes = [upload(emu, http).status_code for _ in range(16)]
        assert set(codes) == {200, 500}
        assert len(emu.files()) == 16  # every one was stored, whatever it was answered


def test_upload_server_url_of_the_tests_choice(api: Api, emu: Emulator) -> None:
    assert api.ok("upload/server") == f"{emu.base_url}/upload/01"
    emu.set_faults(upload_server_url="http://127.0.0.1:9/upload/01")
    assert api.ok("upload/server") == "http://127.0.0.1:9/upload/01"
    emu.set_faults(no_upload_servers=True)  # the refusal still wins
    assert api("upload/server")["msg"] == "No servers available for uploads"
    emu.set_faults(no_upload_servers=False, upload_server_url="")
    assert api.ok("upload/server") == f"{emu.base_url}/upload/01"


def test_echo_key_in_api_and_node_errors(api: Api, emu: Emulator, http: httpx.Client) -> None:
    wrong = "1zzzzzzzzzzzzzzzz"
    assert api("account/info", key=wrong)["msg"] == "Wrong auth"
    emu.set_faults(echo_key=True)
    assert api("account/info", key=wrong)["msg"] == f"Wrong auth for key {wrong}"
    assert api("file/delete", file_code="xxxxxxxxxxxx")["msg"] == f"No file for key {emu.key}"
    assert api("account/info")["msg"] == "OK"  # successes are left alone
    entry = upload(emu, http, "notes.txt").json()["files"][0]
    assert entry["status"] == f"Not video file (notes.txt) for key {emu.key}"


def test_msg_newlines_forge_a_log_line(api: Api, emu: Emulator, http: httpx.Client) -> None:
    emu.set_faults(msg_newlines=True, echo_key=True)
    msg = api("file/delete", file_code="xxxxxxxxxxxx")["msg"]
    assert msg == f"No file for key {emu.key}\n{FORGED_LOG_LINE}"
    response = upload(emu, http, "notes.txt")
    entry = json.loads(response.text)["files"][0]  # still valid JSON
    assert entry["status"] == f"Not video file (notes.txt) for key {emu.key}\n{FORGED_LOG_LINE}"
    assert FORGED_LOG_LINE.startswith("2000-01-01 00:00:00,000 WARNING vipfs")


def test_tls_serves_api_node_and_links(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    config = make_config(tls_cert=cert, tls_key=key, encode_seconds=0.0)
    with Emulator(config) as emu, httpx.Client(verify=trusting(cert), timeout=10) as client:
        assert emu.api_url.startswith("https://127.0.0.1:")
        reply = client.get(f"{emu.api_url}/account/info", params={"key": emu.key}).json()
        assert reply["status"] == 200
        server = client.get(f"{emu.api_url}/upload/server", params={"key": emu.key}).json()
        assert server["result"] == f"{emu.base_url}/upload/01"
        up = client.post(
            server["result"], data={"key": emu.key}, files=[("file", ("a.mp4", b"x" * 500))]
        ).json()
        code = up["files"][0]["filecode"]
        link = client.get(
            f"{emu.api_url}/file/direct_link", params={"key": emu.key, "file_code": code}
        ).json()["result"]["versions"][0]["url"]
        assert link.startswith("https://127.0.0.1:")
        assert client.get(link).content == b"x" * 500
        plain = emu.base_url.replace("https://", "http://")
        with pytest.raises(httpx.TransportError):  # plain http to the https port gets nowhere
            httpx.post(f"{plain}/upload/01", data={"key": emu.key}, timeout=5)
        assert client.get(f"{emu.base_url}/_emu/calls").status_code == 200  # still serving


def test_cli_tls_prints_an_https_url(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vipfs", "emulator", "--port", "0", "--tls-cert", str(cert),
         "--tls-key", str(key), "--ignore-list-filters", "--echo-key"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:") and url.endswith("/api")
        base = url.removesuffix("/api")
        switches = httpx.get(f"{base}/_emu/faults", verify=trusting(cert)).json()
        assert switches["ignore_list_filters"] is True and switches["echo_key"] is True
        assert "tls_cert" not in switches  # not a runtime switch
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_cli_tls_wants_both_halves(tmp_path: Path) -> None:
    cert, _ = make_cert(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "vipfs", "emulator", "--port", "0", "--tls-cert", str(cert)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 2
    assert "--tls-cert and --tls-key go together" in out.stderr
    assert "Traceback" not in out.stderr
