"""A mirror rig for the issue 13 tests: several emulators, a config with a remote per emulator
and a mirror remote `all`, and `vipfs mount all MNT` as a subprocess.

Each emulator is its own account (its own key) on its own port, with
a data directory of its own, so it can be stopped and started again on the same port with
the same files: a host that went away and came back. The host's truth is `/_emu/files` and
`/_emu/folders` (never faulted, no API call), so a host's tree can be read while the mount is
busy with it. A file's bytes are unique in every test, so its sha256 names it on every host.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Emulator, Mount, sh, unmount, wait_for

MIRROR = "all"  # the mirror remote's name in every rig's config


@dataclass
class Host:
    """One member's emulator; `emu` is None while it is stopped."""

    name: str
    key_file: Path
    data_dir: Path
    extra: tuple[str, ...]
    port: int = 0
    emu: Emulator | None = None

    @property
    def up(self) -> Emulator:
        assert self.emu is not None, f"{self.name} is stopped"
        return self.emu

    def start(self) -> Emulator:
        """Start (again): the same port once it had one, the same data directory."""
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vipfs",
                "emulator",
                "--port",
                str(self.port),
                "--key-file",
                str(self.key_file),
                "--data",
                str(self.data_dir),
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"emulator {self.name} said {url!r}"
        self.port = int(url.split(":")[2].split("/")[0])
        self.emu = Emulator(process, url, self.key_file)
        return self.emu

    def stop(self) -> None:
        if self.emu is None:
            return
        process = self.emu.process
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self.emu = None

    def traffic(self) -> dict[str, int]:
        """`GET /_emu/traffic` (contract §10): bytes the node received, bytes links sent."""
        return dict(self.up.control("GET", "/_emu/traffic"))

    def reset_traffic(self) -> None:
        self.up.control("DELETE", "/_emu/traffic")


def folder_paths(emu: Emulator) -> dict[int, str]:
    """fld_id → the folder's path of raw names as the host stores them (root: "")."""
    rows = {int(f["fld_id"]): f for f in emu.control("GET", "/_emu/folders")}
    paths: dict[int, str] = {0: ""}

    def path(fld_id: int) -> str:
        if fld_id not in paths:
            row = rows[fld_id]
            paths[fld_id] = f"{path(int(row['parent_id']))}/{row['name']}".lstrip("/")
        return paths[fld_id]

    for fld_id in rows:
        path(fld_id)
    return paths


def holdings(emu: Emulator) -> Counter[tuple[str, str, str]]:
    """The live files of a host as (folder path, title, sha256), counted: a file held twice
    counts 2, so "exactly once" is a count of 1."""
    paths = folder_paths(emu)
    return Counter(
        (paths.get(int(f["fld_id"]), f"?{f['fld_id']}"), str(f["title"]), str(f["sha256"]))
        for f in emu.live_files()
    )


def shas(held: Counter[tuple[str, str, str]]) -> Counter[str]:
    return Counter(sha for (_, _, sha), n in held.items() for _ in range(n))


def by_sha(held: Counter[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    return {sha: (folder, title) for folder, title, sha in held}


@dataclass
class Rig:
    tmp: Path
    hosts: dict[str, Host]
    config: Path
    mounts: list[Mount] = field(default_factory=list)

    def mount(self, *extra: str, mountpoint: Path | None = None) -> Mount:
        """`vipfs mount all MNT -f`; `mountpoint` again for a remount after a crash."""
        mnt = mountpoint or self.tmp / f"mnt{len(self.mounts)}"
        mnt.mkdir(exist_ok=True)
        log = self.tmp / "mount.log"
        command = [
            sys.executable, "-m", "vipfs", "mount", MIRROR, str(mnt), "--config",
            str(self.config), "-f", "--log-file", str(log), "-v", *extra,
        ]  # fmt: skip
        stderr_path = self.tmp / f"{mnt.name}-{len(self.mounts)}.stderr"
        with open(stderr_path, "w") as stderr:
            process = subprocess.Popen(command, stderr=stderr, text=True)
        mount = Mount(mnt, process, log, command)
        self.mounts.append(mount)
        deadline = time.monotonic() + 60
        while not os.path.ismount(mnt):
            if process.poll() is not None:
                said = stderr_path.read_text()
                raise AssertionError(f"mount exited {process.returncode}: {said}{mount.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not mounted after 60 s: {mount.log()}")
            time.sleep(0.05)
        return mount

    def status(self, mount: Mount) -> dict[str, Any]:
        return dict(json.loads((mount.path / ".vipfs" / "status.json").read_text()))

    def settled(self, mount: Mount, *, failed_ok: tuple[str, ...] = ()) -> bool:
        """Nothing left to send on any member and no journal backlog (contract §9); a failed
        row on a member not in `failed_ok` fails the test at once, its error shown."""
        report = self.status(mount)
        assert report.get("mirror") == MIRROR, report
        members = report["members"]
        assert set(members) == set(self.hosts), members.keys()
        busy = False
        for name, member in members.items():
            queue = member.get("queue") or {}
            if name not in failed_ok:
                assert not queue.get("failed"), (name, queue["failed"])
            busy |= any(queue.get(k) for k in ("writing", "held", "queued", "uploading"))
        journal = report.get("journal") or {}
        return not busy and not any(journal.values())


def write_tree(root: Path, files: dict[str, int]) -> dict[str, str]:
    """Write `files` (path → size) with unique bytes and a fixed mtime; path → sha256."""
    import hashlib

    out: dict[str, str] = {}
    for rel, size in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        line = f"{rel} of the mirror tree\n".encode()
        data = (line * (size // len(line) + 1))[:size]
        path.write_bytes(data)
        os.utime(path, ns=(1_500_000_000 * 10**9, 1_500_000_000 * 10**9))
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def names_under(root: Path) -> list[str]:
    """Every path under `root`, sorted, `.vipfs` left out (as `find -printf '%P\\n'`)."""
    out = sh("find", root, "-mindepth", "1", "-printf", r"%P\n", timeout=120)
    assert out.returncode == 0, out.stderr
    return sorted(p for p in out.stdout.splitlines() if p.split("/")[0] != ".vipfs")


def xattr(path: Path, name: str) -> str:
    out = sh("getfattr", "--only-values", "-n", name, path)
    assert out.returncode == 0, (name, out.stderr)
    return out.stdout


def assert_each_once(rig: Rig, expected: dict[str, str], members: tuple[str, ...]) -> None:
    """Every member in `members` holds every expected file exactly once and nothing else, and
    each file has the same folder and title on all of them (the titles encoding)."""
    seen: dict[str, dict[str, tuple[str, str]]] = {}
    for name in members:
        held = holdings(rig.hosts[name].up)
        assert shas(held) == Counter(expected.values()), (name, sorted(held))
        seen[name] = by_sha(held)
    first = seen[members[0]]
    for name in members[1:]:
        assert seen[name] == first, (members[0], first, name, seen[name])


def holds_all(rig: Rig, expected: dict[str, str], name: str) -> bool:
    return set(shas(holdings(rig.hosts[name].up))) >= set(expected.values())


@pytest.fixture
def mirror_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """`mirror_rig(vip=(emulator args...), wish=(...), ...)`: the hosts start in that order,
    which is the mirror's member order; `settings` go into the mirror's table."""
    rigs: list[Rig] = []

    def build(settings: dict[str, object] | None = None, **members: tuple[str, ...]) -> Rig:
        hosts: dict[str, Host] = {}
        lines = [f"[remotes.{MIRROR}]", f"mirror = {json.dumps(list(members))}"]
        for key, value in {"write_back": 0.2, **(settings or {})}.items():
            lines.append(f"{key} = {json.dumps(value)}")
        for i, (name, extra) in enumerate(members.items()):
            key_file = tmp_path / f"key-{name}"
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:  # each its own account: id i+2
                f.write(f"{i + 2}{name[0] * 4}abcdefghijkl\n")
            data = tmp_path / f"host-{name}"
            data.mkdir()
            host = Host(name, key_file, data, extra)
            host.start()
            hosts[name] = host
            lines += [
                "",
                f"[remotes.{name}]",
                f"api_url = {json.dumps(host.up.url)}",
                f"key_file = {json.dumps(str(key_file))}",
                f"cache_dir = {json.dumps(str(tmp_path / f'cache-{name}'))}",
            ]
        config = tmp_path / "config.toml"
        config.write_text("\n".join(lines) + "\n")
        os.chmod(config, 0o600)
        rig = Rig(tmp_path, hosts, config)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        for mount in rig.mounts:
            unmount(mount.path)
            if mount.process.poll() is None:
                try:
                    mount.process.wait(30)
                except subprocess.TimeoutExpired:
                    mount.process.send_signal(signal.SIGKILL)
                    mount.process.wait()
            unmount(mount.path)
        for host in rig.hosts.values():
            host.stop()


__all__ = ["Rig", "mirror_rig", "wait_for"]
