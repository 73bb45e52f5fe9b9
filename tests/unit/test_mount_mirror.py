"""A mirror's composition: one full single-host stack per member, joined by a `MirrorFs`.

No FUSE here: `_serve` is replaced by a recorder and `MirrorFs` by a stand-in that keeps what
it is given, so what is checked is what `vipfs mount MIRROR` builds before it mounts:
each member's own client, state directory and lock, event stream; a member that does not
answer at mount time; a refused key."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from vipfs import config as settings
from vipfs import mount, statedir
from vipfs.emulator.config import EmulatorConfig
from vipfs.emulator.server import Emulator


@dataclass
class StandInMember:
    name: str
    fs: Any


class StandInMirrorFs:
    """Only what the composition hands over: the members, the state dir, the options."""

    def __init__(
        self, members: list[StandInMember], state_dir: Path, options: Any, *, name: str
    ) -> None:
        self.members, self.state_dir, self.options, self.name = members, state_dir, options, name
        self.down: set[str] = set()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mount, "MirrorFs", StandInMirrorFs)
    monkeypatch.setattr(mount, "Member", StandInMember)
    return tmp_path


@pytest.fixture
def hosts() -> Iterator[tuple[Emulator, Emulator]]:
    with Emulator(EmulatorConfig()) as vip, Emulator(EmulatorConfig()) as wish:
        yield vip, wish


def member_config(tmp_path: Path, api_url: str, key: str) -> mount.MountConfig:
    parser = argparse.ArgumentParser()
    mount.configure(parser)
    argv = ["x", str(tmp_path / "mnt"), "--api-url", api_url, "--connect-timeout", "0.5"]
    args = parser.parse_args(argv)
    settings.apply(args, settings.Remote("x", {}))
    return mount.mount_config(args, key)


def mirror(tmp_path: Path, *members: tuple[str, str, str]) -> mount.MirrorConfig:
    configs = tuple((name, member_config(tmp_path, url, key)) for name, url, key in members)
    top = member_config(tmp_path, "http://unused.invalid/api", "")
    return mount.MirrorConfig("all", top, configs, statedir.mirror_state_dir("all"))


def state_of(member: mount.MemberStack) -> Path:
    return statedir.default_state_dir(statedir.account_digest(member.config.api_url, member.login))


def locked(state: Path) -> bool:
    """Whether a mount holds `state` (taking its lock is refused)."""
    try:
        statedir.StateLock.take(state, state / "probe").release()
    except statedir.InUseError:
        return True
    return False


class Recorder:
    def __init__(self) -> None:
        self.served: list[tuple[Any, list[mount.MemberStack], str]] = []
        self.locked: list[bool] = []

    async def __call__(
        self, config: Any, report: Any, facade: Any, members: Any, label: str, hosts: str
    ) -> None:
        self.served.append((facade, members, label))
        for member in members:  # each member's state is locked while the mount runs
            self.locked.append(locked(state_of(member)))


async def test_each_member_is_its_own_stack(
    tmp_path: Path, hosts: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    vip, wish = hosts
    served = Recorder()
    monkeypatch.setattr(mount, "_serve", served)
    plan = mirror(tmp_path, ("vip", vip.api_url, vip.key), ("wish", wish.api_url, wish.key))
    await mount._main_mirror(plan, lambda ok, line: None)
    ((facade, members, label),) = served.served
    assert facade.name == "all" and facade.options is plan.config.options
    assert label == "mirror-all" and facade.state_dir == tmp_path / "state" / "vipfs/mirror-all"
    assert [m.name for m in facade.members] == ["vip", "wish"]
    vip_fs, wish_fs = (m.fs for m in facade.members)
    assert vip_fs is not wish_fs and vip_fs.remote.api is not wish_fs.remote.api
    assert vip_fs.remote.writes.spool.root != wish_fs.remote.writes.spool.root
    assert (vip_fs.remote.events.member, wish_fs.remote.events.member) == ("vip", "wish")
    assert served.locked == [True, True]
    known = statedir.known_logins(facade.state_dir)
    assert known["vip"][0] == vip.api_url and known["wish"][0] == wish.api_url
    assert not any(locked(state_of(m)) for m in members)  # after the mount: given back


async def test_an_unreachable_member_does_not_stop_the_mount(
    tmp_path: Path,
    hosts: tuple[Emulator, Emulator],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    vip, wish = hosts
    served = Recorder()
    monkeypatch.setattr(mount, "_serve", served)
    plan = mirror(tmp_path, ("vip", vip.api_url, vip.key), ("wish", wish.api_url, wish.key))
    await mount._main_mirror(plan, lambda ok, line: None)  # both known from now on
    wish.stop()
    await mount._main_mirror(plan, lambda ok, line: None)
    facade = served.served[-1][0]
    assert [m.name for m in facade.members] == ["vip", "wish"]  # wish: its state, no answer
    assert facade.down == {"wish"}  # its ops are journaled from the start
    assert "mirror member wish: cannot reach" in caplog.text
    assert "its changes wait in the mirror's journal" in caplog.text

    never = mirror(
        tmp_path,
        ("vip", vip.api_url, vip.key),
        ("wish", wish.api_url, wish.key),
        ("lulu", wish.api_url, wish.key),
    )
    await mount._main_mirror(never, lambda ok, line: None)
    assert [m.name for m in served.served[-1][0].members] == ["vip", "wish"]
    assert "mirror member lulu: cannot reach" in caplog.text and "never mounted" in caplog.text

    alone = mirror(tmp_path, ("vip", vip.api_url, vip.key), ("lulu", wish.api_url, wish.key))
    with pytest.raises(mount.StartupError, match="a mirror needs 2 members that can serve"):
        await mount._main_mirror(alone, lambda ok, line: None)


async def test_a_refused_key_stops_the_mount_in_one_line(
    tmp_path: Path, hosts: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    vip, wish = hosts
    served = Recorder()
    monkeypatch.setattr(mount, "_serve", served)
    plan = mirror(
        tmp_path, ("vip", vip.api_url, vip.key), ("wish", wish.api_url, "9zzzzzzzzzzzzzzzz")
    )
    with pytest.raises(mount.StartupError) as caught:
        await mount._main_mirror(plan, lambda ok, line: None)
    assert str(caught.value).startswith("mirror member wish: the API key was refused by ")
    assert "\n" not in str(caught.value) and not served.served


async def test_the_same_account_twice_is_refused(
    tmp_path: Path, hosts: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    vip, _ = hosts
    monkeypatch.setattr(mount, "_serve", Recorder())
    plan = mirror(tmp_path, ("vip", vip.api_url, vip.key), ("again", vip.api_url, vip.key))
    with pytest.raises(mount.StartupError, match="are the same account"):
        await mount._main_mirror(plan, lambda ok, line: None)


def test_members_sharing_a_state_or_cache_dir_are_refused(tmp_path: Path) -> None:
    shared = tmp_path / "one"
    plan = mirror(
        tmp_path, ("vip", "http://127.0.0.1:9/a", "k"), ("wish", "http://127.0.0.1:9/b", "k")
    )
    members = tuple((name, replace(c, state_dir=shared)) for name, c in plan.members)
    with pytest.raises(mount.StartupError, match="the same --state-dir") as caught:
        mount.check_own_dirs(replace(plan, members=members))
    assert caught.value.code == 2
    members = tuple((name, replace(c, cache_dir=shared)) for name, c in plan.members)
    with pytest.raises(mount.StartupError, match="the same --cache-dir"):
        mount.check_own_dirs(replace(plan, members=members))
    mount.check_own_dirs(plan)  # the defaults: each account's own
