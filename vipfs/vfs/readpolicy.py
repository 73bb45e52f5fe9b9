"""Who may read file contents: `--deny-read-procs` refuses thumbnailers and indexers by name.

Owns: `--deny-read-procs`: which calling processes may read contents.
Imports: `vipfs.vfs.errors` only.

Reading a vipfs file downloads it through a slow, capped direct link, so a thumbnailer that
visits a folder would pull the whole account. The kernel tells FUSE the id of the calling
thread; `/proc/<id>/comm` holds the name of the executable it runs, cut to 15 bytes (a process
can change it only by calling prctl on itself; `exec -a` changes argv[0], not comm). Worker
threads often carry names of their own ("pool-0"), so the thread's comm and its process's comm
(the thread group leader, from `Tgid:` in /proc/<id>/status) are both checked.

Reading two small procfs files never waits on a disk, so it runs on the event loop.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from pathlib import Path

from vipfs.vfs.errors import VfsError

COMM_BYTES = 15  # TASK_COMM_LEN - 1: the kernel cuts longer executable names to this

# Real comm names (executable names cut to 15 bytes), checked against the distributions'
# package file lists; see docs/desktop.md.
DEFAULT_DENIED: tuple[str, ...] = (
    "totem-video-thu",  # totem-video-thumbnailer: GNOME's video thumbnailer up to GNOME 49
    "gst-video-thumb",  # gst-video-thumbnailer: GNOME's video thumbnailer from GNOME 50
    "ffmpegthumbnail",  # ffmpegthumbnailer: KDE-less desktops, pcmanfm, many .thumbnailer files
    "tumblerd",  # Thunar's thumbnail service; its video plugins run inside it
    "tracker-extract",  # tracker-extract-3: GNOME's content extractor (tracker 3)
    "tracker-miner-f",  # tracker-miner-fs-3: GNOME's indexer (tracker 3)
    "localsearch-ext",  # localsearch-extractor-3: the extractor's name from GNOME 47
    "localsearch-3",  # localsearch-3: the indexer's name from GNOME 47
    "baloo_file_extr",  # baloo_file_extractor: KDE's content extractor
)
DEFAULT_WORD = "default"  # in a LIST, stands for DEFAULT_DENIED


def comm_name(name: str) -> str:
    """`name` as /proc/PID/comm would show it: at most 15 bytes of UTF-8."""
    return name.encode()[:COMM_BYTES].decode(errors="ignore")


def parse_names(text: str | None) -> frozenset[str]:
    """A comma-separated LIST of process names; `default` (or no LIST) is the built-in list."""
    if text is None:
        return frozenset(DEFAULT_DENIED)
    names: set[str] = set()
    for word in (w.strip() for w in text.split(",")):
        if word == DEFAULT_WORD:
            names.update(DEFAULT_DENIED)
        elif word:
            if "/" in word:
                raise ValueError(f"{word!r} is a path; give process names such as tumblerd")
            names.add(comm_name(word))
    if not names:
        raise ValueError("the list of process names is empty")
    return frozenset(names)


class ReadPolicy:
    """Refuses opens for reading by processes whose name is listed (empty list: allow all)."""

    def __init__(self, denied: Iterable[str] = (), *, proc: Path = Path("/proc")) -> None:
        self.denied = frozenset(comm_name(n) for n in denied)
        self.proc = proc

    def __bool__(self) -> bool:
        return bool(self.denied)

    def check(self, pid: int) -> None:
        """EACCES when thread `pid` (0: the kernel did not say) belongs to a listed process."""
        if not self.denied or pid <= 0:
            return
        for name in self.names(pid):
            if name in self.denied:
                raise VfsError(
                    errno.EACCES,
                    f"reads by {name!r} are refused (--deny-read-procs): "
                    "thumbnailers and indexers would download the account",
                )

    def names(self, pid: int) -> list[str]:
        """The comm of thread `pid` and of its process; none when it has already exited."""
        names = []
        comm = self._read(pid, "comm")
        if comm is not None:
            names.append(comm.rstrip("\n"))
        leader = self._leader(pid)
        if leader is not None and leader != pid:
            comm = self._read(leader, "comm")
            if comm is not None:
                names.append(comm.rstrip("\n"))
        return names

    def _leader(self, pid: int) -> int | None:
        status = self._read(pid, "status")
        for line in (status or "").splitlines():
            if line.startswith("Tgid:"):
                try:
                    return int(line.split()[1])
                except (IndexError, ValueError):
                    return None
        return None

    def _read(self, pid: int, what: str) -> str | None:
        try:
            return (self.proc / str(pid) / what).read_text(errors="replace")
        except OSError:  # the caller exited, or /proc is not mounted
            return None
