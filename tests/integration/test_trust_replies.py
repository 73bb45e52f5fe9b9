"""Issue 8 items 8-10: a hostile reply fails one call, never the mount; codes never become paths.

Each test drives a real mount with the tools a user has (ls, stat, cat, df) against the emulator's
hostile switches: 100,000-deep JSON, absurd dates, bytes that are not JSON, codes that are paths,
and a reply far bigger than any listing should be.
"""

from __future__ import annotations

import errno
import glob
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Emulator, Mount, mount_command, sh, unmount, wait_for
from vipfs.emulator.virtual import HOSTILE_CODES, hostile_folder_name, hostile_title

pytestmark = pytest.mark.fuse

StartMount = Callable[..., Mount]
EIO = os.strerror(errno.EIO)
# Past 2106-02-07 an mtime no longer fits a 32-bit time_t (tar, old tools): a date nobody clamped
LATEST_SANE = 2**32 - 1
# 2024-05-01 10:00:00 at the emulator's default +03:00
SEEDED_DATE, SEEDED_EPOCH = "2024-05-01 10:00:00", 1714546800


@pytest.fixture(autouse=True)
def own_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every directory the mount may make (cache, state) lives under tmp_path, so a test can
    see everything it created; stale `/tmp/vipfs-pwned*` files of an older run are cleared."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    for old in glob.glob("/tmp/vipfs-pwned*"):
        os.unlink(old)
    yield
    for made in glob.glob("/tmp/vipfs-pwned*"):  # what today's code wrote there
        os.unlink(made)


def alive(mount: Mount) -> None:
    """The mount process runs and the kernel still routes the mountpoint to it."""
    assert mount.process.poll() is None, f"the mount exited {mount.process.returncode}"
    assert os.path.ismount(mount.path)
    assert sh("stat", mount.path, timeout=30).returncode == 0


def ls(path: Path) -> list[str]:
    out = sh("ls", "-A", path, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def df_avail(mount: Mount) -> int:
    out = sh("df", "-B1", "--output=avail", mount.path, timeout=30)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.splitlines()[1])


def mtime(path: Path) -> int:
    out = sh("stat", "-c", "%Y", path, timeout=30)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def read_size(path: Path) -> int:
    """How many bytes reading the whole file gives (not its stat size)."""
    out = sh("sh", "-c", 'cat -- "$1" | wc -c', "read", path, timeout=30)
    return int(out.stdout)


def served(emulator: Emulator, op: str, after: int) -> Callable[[], bool]:
    """True once the emulator has answered `op` more than `after` times (counters since reset)."""
    return lambda: emulator.calls().get(op, 0) > after


def seed_two_folders(emulator: Emulator) -> None:
    emulator.seed({
        "folders": [{"ref": "a", "name": "warm"}, {"ref": "b", "name": "cold"}],
        "files": [
            {"title": "w1", "folder_ref": "a", "uploaded": SEEDED_DATE, "size": 1000},
            {"title": "c1", "folder_ref": "b", "size": 1000},
        ],
    })  # fmt: skip


# -- item 8: replies that cannot be parsed -------------------------------------------------------
def test_deep_listing_serves_the_stale_one_and_heals(
    emulator: Emulator, start_mount: StartMount
) -> None:
    """Today: RecursionError is no ApiError, so the loader has no stale answer to give: EIO."""
    seed_two_folders(emulator)
    mount = start_mount(emulator, "--dir-cache-time", "1", "--op-timeout", "5")
    assert ls(mount.path / "warm") == ["w1.mp4"]
    emulator.switch(hostile_reply="deep", hostile_ops="folder/list")
    emulator.reset_calls()

    def listed_after_deep() -> bool:
        assert ls(mount.path / "warm") == ["w1.mp4"]  # fresh or stale, never an error
        return emulator.calls().get("folder/list", 0) > 0

    wait_for("a listing that got the deep reply", listed_after_deep, timeout=30)
    assert ls(mount.path / "warm") == ["w1.mp4"]
    alive(mount)
    emulator.switch(hostile_reply="")
    emulator.seed({"files": [{"title": "w2", "fld_id": emulator.folders()["warm"]}]})
    wait_for(
        "the healed listing", lambda: ls(mount.path / "warm") == ["w1.mp4", "w2.mp4"], timeout=30
    )
    assert "Traceback" not in mount.log()


def test_deep_account_info_leaves_the_mount_answering(
    emulator: Emulator, start_mount: StartMount
) -> None:
    """Today: the background quota refresh dies of RecursionError and takes the mount with it.

    The refresher asks only when a df finds the numbers old (5 minutes); SIGHUP makes them old.
    """
    seed_two_folders(emulator)
    mount = start_mount(emulator, "--op-timeout", "5")
    before = df_avail(mount)
    assert before > 50 << 30  # the emulator's 100 GB
    emulator.switch(hostile_reply="deep", hostile_ops="account/info")
    emulator.reset_calls()
    account = sh("cat", mount.path / ".vipfs" / "account.json", timeout=30)
    assert account.returncode != 0 and EIO in account.stderr  # that one call fails
    alive(mount)
    emulator.reset_calls()
    mount.process.send_signal(signal.SIGHUP)  # the quota's age too: the next df asks

    def refreshed() -> bool:
        alive(mount)
        assert df_avail(mount) == before  # the last good numbers while the host talks nonsense
        return served(emulator, "account/info", 0)()

    wait_for("the quota refresh to meet the deep reply", refreshed, timeout=30)
    assert df_avail(mount) == before
    assert ls(mount.path / "warm") == ["w1.mp4"] and ls(mount.path / "cold") == ["c1.mp4"]
    alive(mount)
    emulator.switch(hostile_reply="", storage_gb=7.0)

    def healed() -> bool:
        mount.process.send_signal(signal.SIGHUP)  # a refresh as soon as the last one ended
        return df_avail(mount) < 8 << 30

    wait_for("df to heal", healed, timeout=30)
    assert sh("cat", mount.path / ".vipfs" / "account.json").returncode == 0
    alive(mount)
    assert "Traceback" not in mount.log()


def test_deep_reply_at_start_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    """Today: RecursionError escapes the start-up check; the log gets a traceback."""
    emulator.switch(hostile_reply="deep")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        done = sh(*mount_command(emulator, mnt, tmp_path, "-f", "--connect-timeout", "2"))
    finally:
        unmount(mnt)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("vipfs: "), lines
    assert "Traceback" not in (tmp_path / "mount.log").read_text()


PROBES = ("file/direct_link", "file/delete", "folder/delete")  # asked where first needed


def test_deep_feature_probes_leave_the_mount_up(
    emulator: Emulator, start_mount: StartMount
) -> None:
    """Today: the once-per-mount feature probe meets RecursionError and ends the mount.

    The probes run where an answer is first needed: the first read asks about direct links,
    the first rm about file/delete, the first rmdir about folder/delete."""
    seed_two_folders(emulator)
    emulator.switch(hostile_reply="deep", hostile_ops=",".join(PROBES))
    emulator.reset_calls()
    mount = start_mount(emulator)
    assert ls(mount.path / "warm") == ["w1.mp4"] and ls(mount.path / "cold") == ["c1.mp4"]
    assert not any(emulator.calls().get(op) for op in PROBES)  # nothing probed at mount time
    read = sh("cat", mount.path / "warm" / "w1.mp4", timeout=30)  # its direct link is deep too
    assert read.returncode != 0 and EIO in read.stderr
    (mount.path / "spare").mkdir()
    assert sh("rmdir", mount.path / "spare", timeout=30).returncode == 0  # into vipfs-trash
    assert sh("rm", mount.path / "warm" / "w1.mp4", timeout=30).returncode == 0
    assert all(emulator.calls().get(op) for op in PROBES)
    assert df_avail(mount) > 0
    alive(mount)
    emulator.switch(hostile_reply="")
    wait_for(
        "a read once direct links heal", lambda: read_size(mount.path / "cold" / "c1.mp4") == 1000
    )
    alive(mount)


@pytest.mark.parametrize("stamp", ["9999-12-31 23:59:59", "0000-00-00 00:00:00"])
def test_absurd_server_time_keeps_mtimes_sane(
    emulator: Emulator, start_mount: StartMount, stamp: str
) -> None:
    """Today (9999): the offset learned from server_time is ~8,000 years, so a listing's dates
    overflow into the mount's start time; and a daily rate limit stamped 9999-12-31 overflows
    computing the server's next midnight (OverflowError: EIO instead of the stale listing)."""
    seed_two_folders(emulator)
    mount = start_mount(emulator, "--dir-cache-time", "1", "--op-timeout", "5")
    w1 = mount.path / "warm" / "w1.mp4"
    assert mtime(w1) == SEEDED_EPOCH
    emulator.switch(server_time_override=stamp)
    emulator.reset_calls()

    def relisted() -> bool:
        assert ls(mount.path / "warm") == ["w1.mp4"]
        return emulator.calls().get("folder/list", 0) > 0

    wait_for("a listing under the absurd server_time", relisted, timeout=30)
    for path in (w1, mount.path / "cold" / "c1.mp4"):
        when = mtime(path)
        assert 0 <= when <= LATEST_SANE, f"{path.name}: mtime {when}"
    # a clock that says nonsense must not move a known date by more than a day
    assert abs(mtime(w1) - SEEDED_EPOCH) <= 86400, f"w1: mtime {mtime(w1)}"
    emulator.switch(rate_limit_per_day=1)  # every call now: "Requests limit reached: 1 per day"
    emulator.reset_calls()

    def refused() -> bool:
        assert ls(mount.path / "warm") == ["w1.mp4"]  # the stale listing
        return emulator.calls().get("folder/list", 0) > 0

    wait_for("a listing refused for the day", refused, timeout=30)
    assert ls(mount.path / "warm") == ["w1.mp4"]
    assert df_avail(mount) > 0
    alive(mount)
    assert "Traceback" not in mount.log()


@pytest.mark.parametrize(
    "stamp", ["9999-12-31 23:59:59", "0000-00-00 00:00:00", "0001-01-01 00:00:00"]
)
def test_absurd_file_dates_are_clamped(
    emulator: Emulator, start_mount: StartMount, stamp: str
) -> None:
    """Today: 9999-12-31 shows as the year 9999 (0000-00-00 and 0001-01-01 already fall back to
    the mount time: those two cases guard the clamp)."""
    seed_two_folders(emulator)
    emulator.switch(file_date_override=stamp)
    mount = start_mount(emulator)
    for path in (mount.path / "warm" / "w1.mp4", mount.path / "cold" / "c1.mp4"):
        when = mtime(path)
        assert 0 <= when <= LATEST_SANE, f"{path.name}: mtime {when} from {stamp!r}"
    assert ls(mount.path / "warm") == ["w1.mp4"]
    assert df_avail(mount) > 0
    alive(mount)
    assert "Traceback" not in mount.log()


def test_garbage_replies_fail_calls_not_the_mount(
    emulator: Emulator, start_mount: StartMount
) -> None:
    seed_two_folders(emulator)
    mount = start_mount(emulator, "--dir-cache-time", "1", "--op-timeout", "5")
    assert ls(mount.path / "warm") == ["w1.mp4"]
    before = df_avail(mount)
    emulator.switch(hostile_reply="garbage")  # every API op
    emulator.reset_calls()

    def asked_again() -> bool:
        assert ls(mount.path / "warm") == ["w1.mp4"]  # the stale listing
        return emulator.calls().get("folder/list", 0) > 0

    wait_for("a listing that got garbage", asked_again, timeout=30)
    cold = sh("ls", mount.path / "cold", timeout=30)
    assert cold.returncode != 0 and EIO in cold.stderr  # nothing cached: that folder fails
    account = sh("cat", mount.path / ".vipfs" / "account.json", timeout=30)
    assert account.returncode != 0 and EIO in account.stderr
    assert df_avail(mount) == before
    alive(mount)
    emulator.switch(hostile_reply="")
    wait_for(
        "the healed folder", lambda: sh("ls", mount.path / "cold").stdout.split() == ["c1.mp4"]
    )
    assert read_size(mount.path / "warm" / "w1.mp4") == 1000
    alive(mount)


# -- item 9: codes that are paths ---------------------------------------------------------------
def test_hostile_codes_never_become_paths(
    emulator: Emulator, start_mount: StartMount, tmp_path: Path
) -> None:
    """Today: the entries are listed, and reading `/tmp/vipfs-pwned-absolute` writes the read
    cache file at that absolute path (and `../vipfs-pwned-sibling` next to the cache)."""
    emulator.seed({
        "folders": [{"ref": "h", "name": "hostile"}],
        "files": [{"title": "real", "folder_ref": "h", "size": 5000}],
    })  # fmt: skip
    emulator.switch(hostile_codes=True)
    before = set(os.listdir(tmp_path))
    mount = start_mount(emulator)
    names = ls(mount.path / "hostile")
    root = ls(mount.path)
    for name in names:  # read every file of the listing, as a backup tool would
        sh("sha256sum", mount.path / "hostile" / name, timeout=30)
    for name in root:
        if not name.startswith("."):
            sh("ls", mount.path / name, timeout=30)
    assert glob.glob("/tmp/vipfs-pwned*") == []
    new = set(os.listdir(tmp_path)) - before - {mount.path.name, f"{mount.path.name}.stderr"}
    assert new <= {"cache", "mount.log", "xdg-cache", "xdg-state"}, f"created {sorted(new)}"
    made = local_names(tmp_path, skip=mount.path)
    leaked = [n for n in made if any(part in n for part in CODE_PARTS)]
    assert leaked == [], f"files named after host codes: {leaked}"
    assert names == ["real.mp4"], f"listed: {names}"
    bad_titles = {hostile_title(i) + ext for i in range(len(HOSTILE_CODES)) for ext in ("", ".mp4")}
    bad_folders = {hostile_folder_name(i) for i in range(10)}
    assert not (set(root) & (bad_titles | bad_folders)), f"root lists {sorted(root)}"
    assert read_size(mount.path / "hostile" / "real.mp4") == 5000
    real_code = next(f["code"] for f in emulator.files() if f["title"] == "real")
    code = sh(
        "getfattr", "--only-values", "-n", "user.vipfs.code", mount.path / "hostile" / "real.mp4"
    )
    assert code.stdout == real_code  # file/info answers hostile entries too: they change nothing
    alive(mount)
    assert "Traceback" not in mount.log()


# Pieces of the hostile codes no local name may hold (no legitimate name has them either).
CODE_PARTS = ("pwned", "short", "abcdefghijk", "x" * 12)


def local_names(top: Path, skip: Path) -> list[str]:
    """Every file and directory name under `top`, not descending into the mountpoint `skip`."""
    names: list[str] = []
    for where, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if Path(where, d) != skip]
        names += dirs + files
    return names


# -- item 10: replies bigger than any listing should be ----------------------------------------
def vm_hwm(pid: int) -> int:
    """Peak resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_oversized_listing_fails_that_folder_only(
    emulator: Emulator, start_mount: StartMount
) -> None:
    """Today: the 1 GiB reply is read whole (several GiB of RSS) and the folder lists fine."""
    seed_two_folders(emulator)
    mount = start_mount(emulator)
    assert ls(mount.path / "warm") == ["w1.mp4"]  # cached for the default 300 s
    huge = 1 << 30
    emulator.switch(hostile_reply="huge", hostile_ops="folder/list", hostile_bytes=huge)
    cold = sh("ls", mount.path / "cold", timeout=60)
    assert cold.returncode != 0 and EIO in cold.stderr, cold.stdout[:200]
    assert ls(mount.path / "warm") == ["w1.mp4"]
    assert mtime(mount.path / "warm" / "w1.mp4") == SEEDED_EPOCH
    assert df_avail(mount) > 0
    alive(mount)
    peak = vm_hwm(mount.pid)
    assert peak < huge // 2, f"the mount peaked at {peak >> 20} MiB for a {huge >> 20} MiB reply"
    emulator.switch(hostile_reply="")
    assert wait_for("the healed folder", lambda: sh("ls", mount.path / "cold").stdout.split())
    assert ls(mount.path / "cold") == ["c1.mp4"]


def test_big_synthetic_folder_lists_while_others_answer(
    emulator: Emulator, start_mount: StartMount
) -> None:
    """A 100,000-entry folder is no oversized reply: it lists whole, and the cached folder and
    df answer while it loads (how fast is scripts/bench_big_listing.py's business)."""
    seed_two_folders(emulator)
    fld_id = int(emulator.seed({"folders": [{"ref": "s", "name": "big"}]})["folders"]["s"])
    emulator.switch(synthetic_files=100_000, synthetic_fld_id=fld_id)
    mount = start_mount(emulator)
    assert ls(mount.path / "warm") == ["w1.mp4"]
    count = subprocess.Popen(
        ["sh", "-c", 'ls -f -- "$1" | wc -l', "count", str(mount.path / "big")],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    try:
        while count.poll() is None:  # stat a cached file again and again while it lists
            assert mtime(mount.path / "warm" / "w1.mp4") == SEEDED_EPOCH
            assert df_avail(mount) > 0
            assert time.monotonic() < deadline, "a 100,000-entry listing took over 120 s"
        out, _ = count.communicate(timeout=30)
    finally:
        count.kill()
        count.wait()
    assert int(out) == 100_000 + 2  # and `.` and `..`
    assert mtime(mount.path / "big" / "synthetic 000099999.mp4") > 0
    alive(mount)
