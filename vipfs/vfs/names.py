"""Every rule between a host's titles and the mount's filenames, both ways.

Owns: the filename of a title (`encode`, `assign_names`), the title of a filename (`decode`,
`file_title`, `folder_title`), the upload token carried in a title (`tokened_title`,
`title_token`), and the host's HTML escaping (`as_listed`, `host_text`). No other module escapes,
unescapes or builds a title. Imports: the standard library only.

The server's titles may hold anything: `/`, control characters, `.` alone, HTML escapes, and
they are not unique. A filename can hold none of that. `encode` maps a title onto a valid name
reversibly (`decode` is exact for every name that was not cut for length), and `assign_names`
makes the names of one folder unique without ever hiding an entry.

Encoding: `/` → `／`, control characters → `␀…␟` (DEL → `␡`), a whole name `.`/`..` → `．`/`．．`.
Those replacement characters, and the escape `＼` itself, are prefixed with `＼` when they occur
literally, so a decoder never has to guess. The empty title becomes a lone `＼`. A lone surrogate
(valid in JSON, not in UTF-8) becomes `\ufffd`: the only lossy step besides the length cut.
"""

from __future__ import annotations

import hashlib
import html
import os
import secrets
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

NAME_MAX = 255  # bytes, as Linux counts them

_ESCAPE = "＼"
_SLASH = "／"
_DOT = "．"
_DEL_PICTURE = "␡"
_CONTROL_PICTURES = {chr(c): chr(0x2400 + c) for c in range(0x20)} | {"\x7f": _DEL_PICTURE}
_FROM_PICTURE = {v: k for k, v in _CONTROL_PICTURES.items()}
_SPECIAL = {_ESCAPE, _SLASH, _DOT, *_FROM_PICTURE}


def encode(title: str) -> str:
    """The filename for a server title (HTML-unescaped), before any length cut."""
    text = host_text(title)
    if text == "":
        return _ESCAPE
    if text in (".", ".."):
        return _DOT * len(text)
    out: list[str] = []
    for ch in text:
        if ch in _SPECIAL:
            out.append(_ESCAPE + ch)
        elif ch == "/":
            out.append(_SLASH)
        elif ch in _CONTROL_PICTURES:
            out.append(_CONTROL_PICTURES[ch])
        elif "\ud800" <= ch <= "\udfff":  # a lone surrogate (JSON allows it) has no bytes
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def decode(name: str) -> str:
    """The title a filename stands for: the inverse of `encode` (without HTML escaping)."""
    if name == _ESCAPE:
        return ""
    out: list[str] = []
    chars = iter(name)
    for ch in chars:
        if ch == _ESCAPE:
            out.append(next(chars, _ESCAPE))
        elif ch == _SLASH:
            out.append("/")
        elif ch == _DOT:
            out.append(".")
        elif ch in _FROM_PICTURE:
            out.append(_FROM_PICTURE[ch])
        else:
            out.append(ch)
    return "".join(out)


def folder_title(name: str) -> str:
    """The name `mkdir` or a folder rename sends for a filename."""
    return decode(name)


def file_title(name: str) -> str:
    """The title vipfs gives a file: its name minus the extension (`My_clip.v2.mp4` →
    `My_clip.v2`), decoded like a folder name (`AC ／ DC.mp4` → `AC / DC`); the exact name
    stays in the local db, so the mount still shows it. Every file title vipfs sends comes
    from here."""
    stem, _ = os.path.splitext(name)
    return decode(stem or name)


TOKEN_PREFIX = "vipfs-"


def new_token() -> str:
    """A fresh upload token: `vipfs-` and 12 hex digits, unique enough to prove a file ours."""
    return f"{TOKEN_PREFIX}{secrets.token_hex(6)}"


def tokened_title(name: str, token: str) -> str:
    """The title sent with the upload: survives the node's mangling and finds the file again."""
    return f"{file_title(name)} {token}"


def title_token(title: str) -> str:
    """The word of a title where vipfs puts an upload token: its last ("" for a blank title)."""
    words = title.rsplit(None, 1)
    return words[-1] if words else ""


def as_listed(title: str) -> str:
    """A title vipfs sent, as the host's listings will show it (HTML-escaped, quotes kept)."""
    return html.escape(title, quote=False)


def host_text(value: str) -> str:
    """A host string (title, description) as the user reads it: HTML escapes undone."""
    return html.unescape(value)


@dataclass(frozen=True, slots=True)
class Titles:
    """The naming settings of one mount, and the four directions between names and titles.

    Every title vipfs sends and every name it shows from a host title goes through one of these
    methods, so the encoding lives in one place. `default_extension` is added to the names of
    host files whose title carries no video extension (`--default-extension`, "" for none).
    """

    default_extension: str = ".mp4"

    def file_name(self, title: str) -> str:
        """The filename a host file's title (as listed) stands for, before length cut and dedupe."""
        return encode(title)

    def folder_name(self, title: str) -> str:
        """The filename a host folder's name (as listed) stands for."""
        return encode(title)

    def file_title(self, name: str) -> str:
        """The title to send (upload `file_title`, `file/edit`, clone) for a filename."""
        return file_title(name)

    def folder_title(self, name: str) -> str:
        """The folder name to send (`folder/create`, `folder/edit`) for a filename."""
        return folder_title(name)


def fit(base: str, tail: str = "") -> str:
    """`base + tail` cut to NAME_MAX bytes: the base loses its end and gains a short hash."""
    if len((base + tail).encode()) <= NAME_MAX:
        return base + tail
    mark = "~" + hashlib.sha256(base.encode()).hexdigest()[:8]
    room = NAME_MAX - len((mark + tail).encode())
    cut = base.encode()[:room].decode(errors="ignore")
    if cut.endswith(_ESCAPE):  # never leave half an escape pair
        cut = cut[:-1]
    return cut + mark + tail


@dataclass(frozen=True, slots=True)
class Entry:
    """One child of a folder as far as naming cares.

    `key` identifies it (unique within the folder); `suffix` is what tells duplicates apart
    (the file code, or the folder's code or id); `order` sorts oldest first; `exact` is a
    filename vipfs itself wrote (the local database's), used as it is instead of the title.
    """

    key: object
    title: str
    is_dir: bool
    suffix: str
    order: tuple[int, datetime | None, str | int]
    exact: str = ""

    @property
    def plain(self) -> str:
        return self.exact or fit(encode(self.title))

    def labelled(self, label: str) -> tuple[str, str]:
        """(base, tail) of the name with `label` before the extension."""
        if self.exact:
            stem, ext = os.path.splitext(self.exact)
            return stem, label + ext
        return encode(self.title), label


def file_order(uploaded: datetime | None, code: str) -> tuple[int, datetime | None, str]:
    """Oldest first; files with no upload time come after all dated ones."""
    return (1, None, code) if uploaded is None else (0, uploaded, code)


def assign_names(entries: Sequence[Entry], reserved: Iterable[str] = ()) -> dict[object, str]:
    """A unique, valid filename per entry key, stable for the same listing.

    Among entries sharing a name, folders come before files (a file beside a folder of the same
    name takes the suffix), then the oldest keeps the plain name and the others get
    ` [suffix]` before the extension. `reserved` names (e.g. `.vipfs` at the root) are taken by
    nobody from the listing.
    """
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.plain, []).append(entry)
    taken = set(reserved)
    names: dict[object, str] = {}
    losers: list[tuple[Entry, str]] = []
    for plain, group in groups.items():
        group.sort(key=lambda e: (not e.is_dir, e.order))
        first, *rest = group
        if plain in taken:
            rest = group
        else:
            names[first.key] = plain
            taken.add(plain)
        losers.extend((entry, plain) for entry in rest)
    for entry, _plain in losers:
        name = unique_name(entry, taken)
        names[entry.key] = name
        taken.add(name)
    return names


def unique_name(entry: Entry, taken: Container[str]) -> str:
    """The name of one entry joining names already `taken`: its plain name when free, else
    ` [suffix]` before the extension (the entries already there keep their names)."""
    if entry.plain not in taken:
        return entry.plain
    label = f" [{entry.suffix}]"
    base, tail = entry.labelled(label)
    name = fit(base, tail)
    while name in taken:  # a literal title may already read "x [code]": add the label again
        tail = label + tail
        name = fit(base, tail)
    return name


def is_valid(name: str) -> bool:
    """What Linux accepts as one path component."""
    return (
        name not in ("", ".", "..")
        and "/" not in name
        and "\0" not in name
        and len(name.encode()) <= NAME_MAX
    )
