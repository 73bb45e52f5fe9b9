"""`vipfs config check`: what a mount would use, the key masked, the server's verdict."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vipfs import config
from vipfs.cli import main
from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.server import Emulator


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VIPFS_KEY", "VIPFS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "etc" / "config.toml")


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig()) as emulator:
        yield emulator


def remote_file(tmp_path: Path, url: str, key: str, mode: int = 0o600) -> Path:
    key_file = tmp_path / "key"
    key_file.write_text(f"# vipfs\n{key}\n")
    key_file.chmod(mode)
    path = tmp_path / "xdg" / "vipfs" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        f'[remotes.work]\napi_url = "{url}"\nkey_file = "{key_file}"\ndir_cache_time = 60\n'
    )
    return path


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["config", "check", *argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_reports_files_remote_and_masked_key(
    tmp_path: Path, server: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    path = remote_file(tmp_path, server.api_url, server.key)
    code, out = check(capsys, "work", "--online")
    assert code == 0, out
    assert f"  {path} (read)" in out and f"  {config.SYSTEM_CONFIG} (not found)" in out
    assert "remotes: work" in out
    assert f"api_url: {server.api_url}  (from {path})" in out
    assert f"key: {config.mask(server.key)} from key_file in {path}" in out
    assert f"key file: {tmp_path / 'key'} (mode 0600" in out
    assert "dir_cache_time = 60.0" in out
    assert "online: the server accepts the key (login " in out
    assert server.key not in out


def test_refused_key_and_missing_remote(
    tmp_path: Path, server: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "9zzzzzzzzzzzzzzzz"
    remote_file(tmp_path, server.api_url, wrong)
    code, out = check(capsys, "work", "--online")
    assert code == 1 and "online: the server refused the key" in out and wrong not in out
    code, out = check(capsys, "other")
    assert code == 1 and "error: no remote named 'other'" in out


def test_no_config_no_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys)
    assert code == 1
    assert "remotes: (none)" in out and "error: no API key" in out


def test_a_loose_key_file_or_a_plain_http_api_is_reported(
    tmp_path: Path, server: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    remote_file(tmp_path, server.api_url, server.key, mode=0o644)
    code, out = check(capsys, "work", "--online")
    assert code == 1
    assert f"error: the key file {tmp_path / 'key'} is readable by others" in out
    assert f"chmod 600 {tmp_path / 'key'}" in out
    (tmp_path / "key").chmod(0o600)
    config = tmp_path / "xdg" / "vipfs" / "config.toml"
    config.write_text(config.read_text().replace(server.api_url, "http://xvs.example/api"))
    code, out = check(capsys, "work", "--online")
    assert code == 1
    assert "online: refusing to send the API key in clear to xvs.example" in out
    assert server.key not in out


def test_api_url_on_the_command_line_wins(
    tmp_path: Path, server: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `vipfs mount --api-url URL` would use, checked before mounting."""
    remote_file(tmp_path, "https://xvs.invalid/api", server.key)
    code, out = check(capsys, "work", "--api-url", server.api_url, "--online")
    assert code == 0, out
    assert f"api_url: {server.api_url}  (--api-url)" in out
    assert "online: the server accepts the key" in out


def test_a_mirror_lists_its_members_with_masked_keys(
    tmp_path: Path, server: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    vip_key = tmp_path / "vip.key"
    vip_key.write_text(server.key + "\n")
    vip_key.chmod(0o600)
    wrong = tmp_path / "wish.key"
    wrong.write_text("9zzzzzzzzzzzzzzzz\n")
    wrong.chmod(0o600)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[remotes.vip]\napi_url = "{server.api_url}"\nkey_file = "{vip_key}"\n'
        f'[remotes.wish]\napi_url = "{server.api_url}"\nkey_file = "{wrong}"\n'
        "transfers = 3\n"
        '[remotes.all]\nmirror = ["vip", "wish"]\nallow_other = true\n'
    )
    code, out = check(capsys, "all", "--config", str(path), "--online")
    assert code == 1, out  # wish's key is refused
    assert "mirror 'all': members vip, wish" in out
    assert f"  allow_other = True  (from {path})" in out
    assert "member 'vip':" in out and "member 'wish':" in out
    assert f"key: {config.mask(server.key)} from key_file in {path}" in out
    assert "  transfers = 3  (from " in out
    assert "online: the server accepts the key" in out
    assert "online: the server refused the key" in out
    assert server.key not in out and "9zzzzzzzzzzzzzzzz" not in out
