"""Every rule between a host's titles and the mount's filenames, both ways.

Owns: the one character table of the title encoding and the `Titles` that applies it (a
filename's title to send, a host title's filename), `assign_names` (unique names in a folder),
the legacy title old vipfs gave a file (`legacy_title`), the upload token carried in a title
(`tokened_title`, `title_token`), and the host's HTML escaping (`as_listed`, `host_text`). No
other module escapes, unescapes or builds a title. Imports: the standard library only.

Why an encoding: the host rewrites titles. An upload (xvs-api.md §4) strips a video extension,
turns `_` and runs of dots into spaces, deletes ` x264 `-style words and `warez`/`xvideo`,
blanks `<>#"` and trims; an edit (§6.9) doubles `\\`, escapes `<>"()` and `..` as HTML, and
real hosts silently drop a value holding `<`, `>` or `"`. So a name goes to the host with
every character one of those rules would damage replaced by a stand-in (`.`→`．`, `_`→`＿`,
`<`→`＜`, `>`→`＞`, `"`→`＂`, `#`→`＃`, `\\`→`⧵`, `&` before a letter, digit or `#`→`＆`, a
leading or trailing space→`␠`), a word the host deletes broken by the escape `＼` (`x＼264`),
and a literal stand-in or `＼` sent behind `＼`. Read back, `＼c` is `c` and every stand-in
is its character: the name comes back from the host's title alone, on any machine.

Files: a name ending in the default extension (`clip.mp4`) is sent without it (`clip`) and a
title with no video extension gets it back, so host files vipfs did not upload show as
`title.mp4`; a name with no video extension is sent with a trailing lone `＼` ("no extension").
Folders escape only what folder/create and folder/edit damage (`Season_1.x` stays readable)
and pad a name shorter than 2 characters with a trailing lone `＼` (the host wants 2).

Any host string still gives a valid filename: `/`→`／`, control characters→`␀…␟` (DEL→`␡`),
a whole name `.`/`..`→`．`/`．．`, the empty name→`＼`, a lone surrogate→U+FFFD.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import secrets
import unicodedata
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

# The one character table: what the host damages → the stand-in sent instead.
_STAND_INS = {
    ".": "．",
    "_": "＿",
    "<": "＜",
    ">": "＞",
    '"': "＂",
    "#": "＃",
    "\\": "⧵",
    "&": "＆",
    " ": "␠",
}
_FROM_STAND_IN = {v: k for k, v in _STAND_INS.items()}
_LITERAL = frozenset({_ESCAPE, *_FROM_STAND_IN})  # sent behind `＼` when in a name
# Per kind, the characters replaced wherever they occur. `&` (before a letter, digit or `#`,
# which HTML unescaping would eat) and a space at either end are replaced for both kinds.
_FILE_DAMAGED = frozenset('._<>"#\\')  # upload (§4) and edit (§6.9)
_FOLDER_DAMAGED = frozenset('<>"\\')  # folder/create and folder/edit (§6.9) only
# Words the upload deletes: these as a whole space-separated word, those anywhere.
_DELETED_WORDS = re.compile(r"x264|h264|divx|xvid", re.IGNORECASE)
_DELETED_ANYWHERE = re.compile(r"warez|xvideo", re.IGNORECASE)
FOLDER_MIN = 2  # characters the host wants in a folder name
# Fast paths (a folder may list 100,000 titles): what the decoders would change at all.
_ENCODED = re.compile("[" + re.escape(_ESCAPE + "".join(_FROM_STAND_IN)) + "]")
_UNFIT = re.compile("[/\x00-\x1f\x7f\ud800-\udfff]")

# Kept in step with the host's list of video extensions (the emulator's `mangle`, which vfs
# may not import): a title ending in one of these gets no default extension.
VIDEO_EXTENSIONS = frozenset(
    [
        "avi",
        "mkv",
        "mpg",
        "mpeg",
        "vob",
        "wmv",
        "flv",
        "mp4",
        "mov",
        "m2v",
        "divx",
        "xvid",
        "3gp",
        "webm",
        "ogv",
        "ogg",
        "mts",
        "m2ts",
        "ts",
        "rm",
        "rmvb",
        "m4v",
        "f4v",
        "asf",
    ]
)


class UnsendableName(ValueError):
    """A name no title can carry (control characters, undecodable bytes): callers say EINVAL."""


def has_video_extension(text: str) -> bool:
    """Whether `text` ends in `.` and a video extension, as the host reads extensions."""
    return "." in text and text.rsplit(".", 1)[1].lower() in VIDEO_EXTENSIONS


def _check_sendable(name: str) -> None:
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise UnsendableName(f"{name!r}: a title cannot carry control characters")


def _send(name: str, damaged: frozenset[str]) -> str:
    """`name` in title characters: stand-ins, escapes, and `／` back to `/`."""
    out: list[str] = []
    last = len(name) - 1
    for i, ch in enumerate(name):
        after = name[i + 1] if i < last else ""
        if ch in _LITERAL:
            out.append(_ESCAPE + ch)
        elif ch == _SLASH:
            out.append("/")
        elif ch in damaged:
            out.append(_STAND_INS[ch])
        elif ch == "&" and (after == "#" or (after.isascii() and after.isalnum())):
            out.append(_STAND_INS["&"])
        elif ch == " " and i in (0, last):
            out.append(_STAND_INS[" "])
        elif i == 0 and ch.isspace():  # the host trims: an escaped first character stays
            out.append(_ESCAPE + ch)
        else:
            out.append(ch)
    return "".join(out)


def _break_deleted_words(title: str) -> str:
    """Put `＼` after the first letter of every word the upload would delete."""
    words = [w[0] + _ESCAPE + w[1:] if _DELETED_WORDS.fullmatch(w) else w for w in title.split(" ")]
    return _DELETED_ANYWHERE.sub(lambda m: m[0][0] + _ESCAPE + m[0][1:], " ".join(words))


def _receive(title: str) -> tuple[str, bool]:
    """The text a host title (as listed) stands for, and whether it ends in a lone `＼`."""
    text = host_text(title)
    if not _ENCODED.search(text):
        return text, False
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == _ESCAPE:
            nxt = next(chars, None)
            if nxt is None:
                return "".join(out), True
            out.append(nxt)
        else:
            out.append(_FROM_STAND_IN.get(ch, ch))
    return "".join(out), False


def _as_filename(text: str, tail: str = "") -> str:
    """Any text (and then `tail`) as a valid filename before the length cut: see the module
    docstring. With a tail, only an empty text needs a stand-in (`..mp4` is a fine name)."""
    if text == "":
        return _ESCAPE + tail
    if text in (".", "..") and not tail:
        return _DOT * len(text)
    if not _UNFIT.search(text):
        return text + tail
    out: list[str] = []
    for ch in text:
        if ch == "/":
            out.append(_SLASH)
        elif ch in _CONTROL_PICTURES:
            out.append(_CONTROL_PICTURES[ch])
        elif "\ud800" <= ch <= "\udfff":  # a lone surrogate (JSON allows it) has no bytes
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out) + tail


def legacy_title(name: str) -> str:
    """The title old vipfs gave a file: its name minus the extension, with the old name
    encoding (`＼x` → x, `／` → /, `．` → .) undone. Only the LEGACY listing rule (files
    uploaded before the title encoding keep their names) and the upload token use it."""
    stem, _ = os.path.splitext(name)
    out: list[str] = []
    chars = iter(stem or name)
    for ch in chars:
        if ch == _ESCAPE:
            out.append(next(chars, _ESCAPE))
        elif ch == _SLASH:
            out.append("/")
        elif ch == _DOT:
            out.append(".")
        else:
            out.append(_FROM_PICTURE.get(ch, ch))
    return "".join(out)


TOKEN_PREFIX = "vipfs-"


def new_token() -> str:
    """A fresh upload token: `vipfs-` and 12 hex digits, unique enough to prove a file ours."""
    return f"{TOKEN_PREFIX}{secrets.token_hex(6)}"


def tokened_title(name: str, token: str) -> str:
    """The title sent with the upload: survives the node's mangling and finds the file again."""
    return f"{legacy_title(name)} {token}"


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

    def __post_init__(self) -> None:
        ext = self.default_extension
        if ext and not ext.startswith("."):
            object.__setattr__(self, "default_extension", "." + ext)

    def file_name(self, title: str) -> str:
        """The filename a host file's title (as listed) stands for, before length cut and dedupe."""
        text, no_extension = _receive(title)
        if no_extension or not self.default_extension or has_video_extension(text):
            return _as_filename(text)
        return _as_filename(text, self.default_extension)

    def listed_file_name(self, title: str, exact: str = "") -> str:
        """The name a listing shows for a host file: `file_name(title)`, except the LEGACY
        rule: `exact`, the name the local database holds, while the host's title is still
        exactly the one old vipfs gave it (files uploaded before this encoding keep their
        names until someone retitles them on the host)."""
        if exact and host_text(title) == legacy_title(exact):
            return exact
        return self.file_name(title)

    def folder_name(self, title: str) -> str:
        """The filename a host folder's name (as listed) stands for."""
        text, _padded = _receive(title)
        return _as_filename(text)

    def file_title(self, name: str) -> str:
        """The title to send (upload `file_title`, `file/edit`, clone) for a filename.

        Raises UnsendableName for a name with control characters."""
        _check_sendable(name)
        ext = self.default_extension
        if ext and name.endswith(ext) and len(name) > len(ext):
            stem = name[: -len(ext)]
            if not has_video_extension(stem):
                title = _break_deleted_words(_send(stem, _FILE_DAMAGED))
                if not title[-1].isspace():  # the host trims: then send the extension too
                    return title
        title = _break_deleted_words(_send(name, _FILE_DAMAGED))
        return title if has_video_extension(name) else title + _ESCAPE

    def folder_title(self, name: str) -> str:
        """The folder name to send (`folder/create`, `folder/edit`) for a filename.

        Raises UnsendableName for a name with control characters."""
        _check_sendable(name)
        title = _send(name, _FOLDER_DAMAGED)
        if len(title) < FOLDER_MIN or title[-1].isspace():
            title += _ESCAPE
        return title


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


EXTENSION_MAX = 16  # characters after a file name's last dot kept whole by the length cut


@dataclass(frozen=True, slots=True)
class Entry:
    """One child of a folder as far as naming cares.

    `key` identifies it (unique within the folder); `name` is its filename before the length
    cut (from `Titles`, or one vipfs itself wrote); `suffix` is what tells duplicates apart
    (the file code, or the folder's code or id); `order` sorts oldest first.
    """

    key: object
    name: str
    is_dir: bool
    suffix: str
    order: tuple[int, datetime | None, str | int]

    @property
    def plain(self) -> str:
        return fit(*self._split())

    def labelled(self, label: str) -> tuple[str, str]:
        """(base, tail) of the name with `label` before a file's extension."""
        base, ext = self._split()
        return base, label + ext

    def _split(self) -> tuple[str, str]:
        """A file's name as (stem, extension), a folder's as (name, ""): the cut and the
        duplicate label keep the extension, so a player still knows the file."""
        if self.is_dir:
            return self.name, ""
        stem, ext = os.path.splitext(self.name)
        return (stem, ext) if len(ext) <= EXTENSION_MAX else (self.name, "")


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
