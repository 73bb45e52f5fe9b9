"""`vipfs links PATH... [-r]`: the watch links (and the rest a poster needs) of files in a mount.

Owns: the `vipfs links` command: finding the mount a PATH is in, reading each file's
`user.vipfs.*` attributes into a `Link`, and rendering links as txt, csv, json, bbcode, html,
md or a `--template`. Imports: the standard library only (it talks to the mount through
directory entries and xattrs, as `vipfs clone` does, so it needs no key and makes no API call).

A file still in the upload queue has no code and no link yet: it is listed as pending with its
status, never left out, so a list of links is never silently short. Every value came from the
host, so none is trusted: a link is written into markup only if it is a plain http(s) URL, and
markup escapes what it shows.

On a mirror (the root's `user.vipfs.members` names the members) each file is listed once per
member, grouped by file in the members' order, each with that member's `user.vipfs.<member>.*`
code, link and status: one host's takedown never hides the others' links.
"""

from __future__ import annotations

import argparse
import csv
import errno
import html
import io
import json
import os
import string
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

PREFIX = "user.vipfs."
ROOT_FLD_ID = b"0"  # the mount root is the account's root folder
MEMBERS = PREFIX + "members"  # a mirror's root: its members, a comma list
PER_MEMBER = ("code", "link", "status")  # what each member of a mirror has of its own
SKIPPED = (".vipfs", "vipfs-trash")  # at the root: vipfs's own views and the trash folder
FORMATS = ("txt", "csv", "json", "bbcode", "html", "md")


class LinksError(Exception):
    """One line saying why a PATH or a template cannot be used."""


@dataclass(frozen=True, slots=True)
class Link:
    """One file as `vipfs links` shows it; the field names are the template's names."""

    path: str  # relative to the mount root
    name: str
    title: str | None = None
    link: str | None = None
    embed: str | None = None
    thumbnail: str | None = None
    length: int | None = None
    views: int | None = None
    code: str | None = None
    status: str | None = None
    pending: bool = False  # no code yet: queued, uploading, held, failed
    member: str | None = None  # on a mirror: the member these code, link and status are of

    def as_dict(self) -> dict[str, str | int | bool | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def as_text(self) -> dict[str, str]:
        """The values as csv and templates show them: "" for none, true/false."""
        return {key: _text(value) for key, value in self.as_dict().items()}


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Link))


def _text(value: str | int | bool | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- reading the mount -------------------------------------------------------------------------


def mount_root(path: Path) -> Path:
    """The root of the vipfs mount `path` is in: the top of its filesystem, if that is one."""
    try:
        here = path.resolve(strict=True)
        device = here.stat().st_dev
        while here.parent != here and here.parent.stat().st_dev == device:
            here = here.parent
        fld_id = os.getxattr(here, PREFIX + "fld_id")
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP):
            raise LinksError(f"{path} is not in a vipfs mount") from None
        raise LinksError(f"{path}: {exc.strerror or exc}") from None
    if fld_id != ROOT_FLD_ID:
        raise LinksError(f"{path} is not in a vipfs mount")
    return here


def mirror_members(root: Path) -> list[str]:
    """The members of the mirror mounted at `root`; [] for a single-host mount."""
    try:
        names = os.getxattr(root, MEMBERS).decode(errors="replace")
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP):
            return []
        raise LinksError(f"{root}: {exc.strerror or exc}") from None
    return [name for name in names.split(",") if name]


def read_links(root: Path, path: Path, members: list[str]) -> list[Link]:
    """A file's `Link`s: one, or on a mirror one per member."""
    return links_from(path.relative_to(root).as_posix(), read_values(path), members)


def read_link(root: Path, path: Path) -> Link:
    """A file's `Link` from its `user.vipfs.*` attributes."""
    return link_from(path.relative_to(root).as_posix(), read_values(path))


def links_from(path: str, values: dict[str, str], members: list[str]) -> list[Link]:
    """The links of one file from its attribute values (`code`, `vip.link`, ...): on a mirror
    each member's own code, link and status over the shared title, length, ..."""
    if not members:
        return [link_from(path, values)]
    found = []
    for member in members:
        own = {key: values.get(f"{member}.{key}", "") for key in PER_MEMBER}
        found.append(link_from(path, {**values, **own}, member))
    return found


def read_values(path: Path) -> dict[str, str]:
    """The file's `user.vipfs.*` attributes, without the prefix."""
    values: dict[str, str] = {}
    for name in os.listxattr(path):
        if not name.startswith(PREFIX):
            continue
        try:
            values[name[len(PREFIX) :]] = os.getxattr(path, name).decode(errors="replace")
        except OSError as exc:
            if exc.errno != errno.ENODATA:  # gone between list and get: simply absent
                raise
    return values


def link_from(path: str, values: dict[str, str], member: str | None = None) -> Link:
    code = values.get("code") or None
    return Link(
        path=path,
        name=path.rsplit("/", 1)[-1],
        title=values.get("title"),
        link=values.get("link") or None,
        embed=values.get("embed") or None,
        thumbnail=values.get("thumbnail") or None,
        length=_number(values.get("length")),
        views=_number(values.get("views")),
        code=code,
        status=values.get("status") or None,
        pending=code is None,
        member=member,
    )


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _files(root: Path, folder: Path, recursive: bool) -> Iterator[Path]:
    with os.scandir(folder) as entries:
        listed = sorted(entries, key=lambda entry: entry.name)
    for entry in listed:
        if folder == root and entry.name in SKIPPED:
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            if recursive:
                yield from _files(root, path, recursive)
        elif entry.is_file(follow_symlinks=False):
            yield path


def collect(paths: Iterable[Path], recursive: bool) -> list[Link]:
    """The links of every file PATHs name: a file itself, a folder's files (with `recursive`,
    its subtree's), each folder's in path order; a file named twice is listed once."""
    found: list[Link] = []
    seen: set[tuple[Path, str, str | None]] = set()
    for path in paths:
        root = mount_root(path)
        members = mirror_members(root)
        where = path.resolve()
        if where.relative_to(root).parts[:1] == (".vipfs",):
            raise LinksError(f"{path}: {SKIPPED[0]} holds vipfs's own views, not videos")
        try:
            files = list(_files(root, where, recursive)) if where.is_dir() else [where]
            links = [link for file in files for link in _read_if_there(root, file, members)]
        except OSError as exc:
            raise LinksError(f"{exc.filename or path}: {exc.strerror or exc}") from None
        # a stable sort: a file's members stay together, in the mirror's order
        part = sorted(links, key=lambda link: link.path.split("/"))
        for link in part:
            if (root, link.path, link.member) not in seen:
                seen.add((root, link.path, link.member))
                found.append(link)
    return found


def _read_if_there(root: Path, file: Path, members: list[str]) -> list[Link]:
    """Nothing for a file removed since its folder was read (a finished rename, say)."""
    try:
        return read_links(root, file, members)
    except FileNotFoundError:
        return []


# -- rendering ---------------------------------------------------------------------------------


def web_url(url: str | None) -> str | None:
    """`url` if it is a plain http(s) URL (what markup may link to), else None: a host's reply
    is not trusted to be one (`javascript:`, a quote, a newline)."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    if any(c.isspace() or not c.isprintable() or c in "\"'<>\\`" for c in url):
        return None
    return url


def no_link(link: Link) -> str:
    """What stands for the watch link of a file that has none yet."""
    status = link.status or "unknown"
    return f"pending ({status})" if link.pending else f"no link yet ({status})"


def label(link: Link) -> str:
    """The file's name as a list shows it; on a mirror with the member: `a.mp4 (wish)`."""
    return link.name if link.member is None else f"{link.name} ({link.member})"


def render_txt(links: list[Link]) -> str:
    return "".join(f"{web_url(link.link) or no_link(link)} {label(link)}\n" for link in links)


def render_csv(links: list[Link]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for link in links:
        writer.writerow(link.as_text().values())
    return out.getvalue()


def render_json(links: list[Link]) -> str:
    return json.dumps([link.as_dict() for link in links], ensure_ascii=False, indent=2) + "\n"


def _bracket_safe(url: str) -> str:
    return url.replace("[", "%5B").replace("]", "%5D")


def render_bbcode(links: list[Link]) -> str:
    lines = []
    for link in links:
        url = web_url(link.link)
        thumbnail = web_url(link.thumbnail)
        if url is None:
            lines.append(f"{label(link)} ({no_link(link)})")
        elif thumbnail is not None and link.member is None:
            lines.append(f"[url={_bracket_safe(url)}][img]{_bracket_safe(thumbnail)}[/img][/url]")
        else:
            lines.append(f"[url={_bracket_safe(url)}]{label(link)}[/url]")
    return "".join(line + "\n" for line in lines)


def render_html(links: list[Link]) -> str:
    items = []
    for link in links:
        name = html.escape(label(link))
        url = web_url(link.link)
        thumbnail = web_url(link.thumbnail)
        if url is None:
            items.append(f"<li>{name} ({html.escape(no_link(link))})</li>")
            continue
        image = f'<img src="{html.escape(thumbnail)}" alt=""> ' if thumbnail else ""
        items.append(f'<li><a href="{html.escape(url)}">{image}{name}</a></li>')
    body = "\n".join(items)
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>Links</title>\n'
        f"</head>\n<body>\n<ul>\n{body}\n</ul>\n</body>\n</html>\n"
    )


def _md_text(text: str) -> str:
    return "".join("\\" + c if c in "\\[]()*_`<>#!|~" else c for c in text)


def render_md(links: list[Link]) -> str:
    lines = []
    for link in links:
        url = web_url(link.link)
        if url is None:
            lines.append(f"- {_md_text(label(link))} ({_md_text(no_link(link))})")
        else:
            target = url.replace("(", "%28").replace(")", "%29")
            lines.append(f"- [{_md_text(label(link))}]({target})")
    return "".join(line + "\n" for line in lines)


RENDER: dict[str, Callable[[list[Link]], str]] = {
    "txt": render_txt,
    "csv": render_csv,
    "json": render_json,
    "bbcode": render_bbcode,
    "html": render_html,
    "md": render_md,
}


def check_template(template: str) -> None:
    """Refuse, in one line, a template that names anything but the fields."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise LinksError(f"--template {template!r}: {exc}") from None
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if field not in FIELDS:
            shown = "{" + field + "}"
            raise LinksError(f"--template: unknown field {shown}; fields: {', '.join(FIELDS)}")
        if spec and "{" in spec:
            raise LinksError(f"--template: no fields inside {{{field}:{spec}}}")


def render_template(links: list[Link], template: str) -> str:
    check_template(template)
    try:
        return "".join(template.format_map(link.as_text()) + "\n" for link in links)
    except ValueError as exc:  # a format spec a text value cannot take, like {views:d}
        raise LinksError(f"--template {template!r}: {exc}") from None


# -- the command -------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders in a mount")
    parser.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="a folder's whole subtree, not only its files",
    )
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--format", choices=FORMATS, default="txt", help="output form (default txt)")
    how.add_argument(
        "--template",
        metavar="T",
        help=f"one line per file, such as '{{name}}: {{link}}'; fields: {', '.join(FIELDS)}",
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.template is not None:
            check_template(args.template)  # before the walk: a typo costs no xattr reads
        links = collect((Path(path) for path in args.paths), args.recursive)
        if args.template is not None:
            out = render_template(links, args.template)
        else:
            out = RENDER[args.format](links)
    except LinksError as exc:
        print(f"vipfs: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(out)
    return 0
