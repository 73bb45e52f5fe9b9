"""Which names are temporary, so their uploads wait for a rename (or a long idle spell).

Owns: the temp-name patterns whose uploads wait (`HoldList`).
Imports: `vipfs.vfs.defaults` only.

Uploading a half-written temp file to a video host is expensive and cannot be undone, and tools
that write through temp names (rsync, browsers, editors, LibreOffice) always rename them at the
end. So a file whose name matches a pattern here is held: uploaded only once renamed to a name
that does not match, or after `idle` seconds without a close (the writer died or meant it); an
empty one is dropped then instead (the upload queue does both).

Patterns are shell globs matched case-sensitively against the bare filename.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from vipfs.vfs import defaults

DEFAULT_PATTERNS: tuple[str, ...] = (
    ".*.??????",  # rsync's receiver: .name.XXXXXX
    "*.part",  # Firefox, wget, curl -O with .part
    "*.crdownload",  # Chromium
    ".~lock.*#",  # LibreOffice lock files
    "*.swp",  # vim
    "*.tmp",
    ".nfs*",  # NFS silly-renames, copied along by tools
    ".goutputstream-*",  # GLib's atomic save
)

DEFAULT_IDLE = defaults.HOLD_IDLE


class HoldList:
    """Temp-name patterns plus how long a held file may sit idle before it uploads anyway."""

    def __init__(
        self, patterns: Iterable[str] = DEFAULT_PATTERNS, *, idle: float = DEFAULT_IDLE
    ) -> None:
        self.patterns: tuple[str, ...] = tuple(p for p in patterns if p)
        if idle < 0:
            raise ValueError("hold idle time must not be negative")
        self.idle = idle

    @classmethod
    def parse(cls, spec: str, *, idle: float = DEFAULT_IDLE) -> HoldList:
        """Build from a `--hold` option: comma-separated globs; a leading `+` adds to defaults."""
        spec = spec.strip()
        if spec.startswith("+"):
            extra = [p.strip() for p in spec[1:].split(",")]
            return cls((*DEFAULT_PATTERNS, *extra), idle=idle)
        return cls((p.strip() for p in spec.split(",")), idle=idle)

    def holds(self, name: str) -> bool:
        """True when `name` looks like a temp file that will be renamed or deleted."""
        return any(fnmatchcase(name, pattern) for pattern in self.patterns)

    def __repr__(self) -> str:
        return f"HoldList({list(self.patterns)!r}, idle={self.idle})"
