"""The mount's local directories: made or refused, locked, and the old layout moved in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vipfs import statedir
from vipfs.mount import MountConfig, StartupError, prepare_state
from vipfs.vfs.attrs import Owner
from vipfs.vfs.filesystem import Options

LOGIN = "someone"
API = "http://127.0.0.1:9/api"


def config(tmp_path: Path, **kw: object) -> MountConfig:
    values: dict[str, object] = dict(
        mountpoint=tmp_path / "mnt",
        api_url=API,
        key="1abcdefghijklmnop",
        foreground=True,
        options=Options(owner=Owner(0, 0, 0o022)),
        attr_timeout=1.0,
        cache_dir=None,
        cache_max_size=1 << 20,
        allow_other=False,
        connect_timeout=1.0,
        debug_fuse=False,
    )
    values.update(kw)
    return MountConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_defaults_are_made_private_under_state_and_cache_homes(home: Path, tmp_path: Path) -> None:
    state, cache, lock = prepare_state(config(tmp_path), LOGIN)
    try:
        digest = statedir.account_digest(API, LOGIN)
        assert state == home / ".local" / "state" / "vipfs" / digest
        assert cache == home / ".cache" / "vipfs" / digest
        for path in (state, cache):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        with pytest.raises(StartupError) as caught:  # a second mount of the same account
            prepare_state(config(tmp_path, mountpoint=tmp_path / "other"), LOGIN)
        assert caught.value.code == 1
        assert str(caught.value) == (
            f"state directory {state} is in use by the mount at {tmp_path / 'mnt'} "
            f"(pid {os.getpid()})"
        )
    finally:
        lock.release()


def test_a_default_dir_others_can_write_is_refused_with_exit_2(home: Path, tmp_path: Path) -> None:
    state = home / ".local" / "state" / "vipfs" / statedir.account_digest(API, LOGIN)
    state.mkdir(parents=True)
    state.chmod(0o777)
    with pytest.raises(StartupError) as caught:
        prepare_state(config(tmp_path), LOGIN)
    assert caught.value.code == 2
    assert str(caught.value).startswith(f"refusing the state directory {state}: writable by")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o777


def test_the_old_layout_moves_into_the_state_dir(home: Path, tmp_path: Path) -> None:
    old = statedir.legacy_dir(statedir.account_digest(API, LOGIN))
    (old / "spool").mkdir(parents=True)
    (old / "spool" / "a.spool").write_bytes(b"queued")
    (old / "meta.db").write_bytes(b"db")
    state, cache, lock = prepare_state(config(tmp_path), LOGIN)
    lock.release()
    assert (state / "spool" / "a.spool").read_bytes() == b"queued"
    assert (state / "meta.db").read_bytes() == b"db"
    assert cache == old and sorted(os.listdir(old)) == []  # the cache dir is now the old one


def test_a_state_dir_given_explicitly_is_used_and_keeps_its_mode(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)
    state, _, lock = prepare_state(config(tmp_path, state_dir=mine), LOGIN)
    lock.release()
    assert state == mine and stat.S_IMODE(os.stat(mine).st_mode) == 0o755
    assert (mine / "lock").read_text().startswith(f"{tmp_path / 'mnt'}\n")
