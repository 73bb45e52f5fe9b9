"""How an XVS host rewrites text: upload titles (§4), SecureStr escaping (§6.9), tags (§6.10).

Owns: the host's text rewriting: titles, SecureStr escaping, tags.
Imports: the standard library only; never `vipfs.api` or `vipfs.vfs`.

Written from the behaviour described in xvs-api.md, not from the host's source.
"""

from __future__ import annotations

import re

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
AUDIO_EXTENSIONS = frozenset(["mp3", "wav", "aac", "m4a", "flac", "wma"])
_STRIP_EXTENSIONS = (
    VIDEO_EXTENSIONS
    | AUDIO_EXTENSIONS
    | frozenset(["jpg", "jpeg", "png", "gif", "bmp", "zip", "rar", "7z", "tar", "gz"])
)
# The site's `fnames_not_allowed` pattern, as on the one deployment we can read.
NAMES_NOT_ALLOWED = re.compile(r"(warez|xvideo)", re.IGNORECASE)


def extension(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def is_video_name(filename: str) -> bool:
    """The node refuses anything whose extension is not a video or audio one."""
    return extension(filename) in VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


def upload_title(given: str | None, filename: str) -> str:
    """The title a file gets at upload: from `file_title` or the filename, then rewritten."""
    title = given if given else filename.rsplit("/", 1)[-1]
    if "." in title and title.rsplit(".", 1)[-1].lower() in _STRIP_EXTENSIONS:
        title = title.rsplit(".", 1)[0]
    title = title.replace("_", " ")
    title = re.sub(r"\.+", " ", title)
    title = re.sub(r" (x264|h264|divx|xvid) ", " ", f" {title} ", flags=re.IGNORECASE)[1:-1]
    title = re.sub(r'[<>#"\x00]', " ", title)
    title = NAMES_NOT_ALLOWED.sub("", title)
    return title.strip()


_SECURE = (
    ("\\", "\\\\"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
    ("(", "&#40;"),
    (")", "&#41;"),
    ("..", "&#46;&#46;"),
)


def secure_str(value: str) -> str | None:
    """Escape as edits and folder creation do; None when the value would be silently skipped."""
    for raw, escaped in _SECURE:
        value = value.replace(raw, escaped)
    if re.search(r'[<>"\x00]', value):
        return None
    return value


def clean_tags(value: str) -> list[str]:
    """Tags are lowercased, stripped of non-word characters, and the short ones dropped."""
    out: list[str] = []
    for raw in value.split(","):
        tag = re.sub(r"[^\w ]", "", raw.lower()).strip()
        tag = re.sub(r"\s+", " ", tag)
        if len(tag) > 2 and tag not in out:
            out.append(tag)
    return out


def flag(value: str | None) -> int:
    """Perl truthiness, as the host coerces its 0/1 flags: "", "0" and missing are 0."""
    return 0 if value in (None, "", "0") else 1
