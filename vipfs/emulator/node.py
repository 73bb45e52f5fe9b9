"""The upload node (`/upload/01`) and the direct-link byte server (`/v/...`).

Owns: the upload node and the direct-link byte server.
Imports: the standard library and `vipfs.emulator` body, faults, host, mangle, multipart, response,
slow, store, virtual only; never `vipfs.api` or `vipfs.vfs`.

Uploads stream each `file` part to a temp file while hashing it, so memory stays flat; the per-file
verdicts follow §4 and the answer is built by string concatenation, as the real node does (a `"`
in a filename yields invalid JSON, faithfully).
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO

from vipfs.emulator import mangle, multipart, slow, virtual
from vipfs.emulator.body import Body
from vipfs.emulator.faults import HTML_500, disturb_text, hostile_message
from vipfs.emulator.host import Host
from vipfs.emulator.response import HTML_TYPE, Response
from vipfs.emulator.store import Account

FIELD_LIMIT = 1 << 20


class FileSink:
    """One uploaded part on its way to disk: hashed as it streams, capped at `limit` bytes."""

    def __init__(self, tmp_dir: Path, filename: str, limit: int) -> None:
        self.filename = filename
        self.path = tmp_dir / f"up-{uuid.uuid4().hex}"
        self._file: BinaryIO | None = self.path.open("wb")
        self._digest = hashlib.sha256()
        self._limit = limit
        self.size = 0
        self.too_big = False

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limit:
            self.too_big = True  # keep reading the body, stop storing it
            self.close()
            return
        if self._file is not None:
            self._file.write(data)
            self._digest.update(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class FieldSink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        if len(self.data) < FIELD_LIMIT:
            self.data += data[: FIELD_LIMIT - len(self.data)]

    def close(self) -> None:
        pass

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class Form:
    """A parsed multipart body: text fields (first value wins) and file parts in order."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.files: list[tuple[str, FileSink]] = []  # (field name, sink)

    def discard(self) -> None:
        for _, sink in self.files:
            sink.discard()


def read_form(host: Host, body: Body, content_type: str, limit: int, node: bool = False) -> Form:
    """Parse a multipart body; on the upload `node`, file parts are read at its set rate."""
    form = Form()
    boundary = multipart.boundary_of(content_type)
    if boundary is None:
        raise multipart.MultipartError("no boundary")
    pending: list[tuple[str, FieldSink]] = []

    def open_part(part: multipart.Part) -> multipart.PartSink:
        if part.filename is not None:
            if node:
                body.trickle = slow.node_trickle(host.config, part.filename)
            sink = FileSink(host.store.tmp_dir, part.filename, limit)
            form.files.append((part.name, sink))
            return sink
        field = FieldSink()
        pending.append((part.name, field))
        return field

    try:
        multipart.parse(body.read, boundary, open_part)
    except BaseException:
        form.discard()
        raise
    for name, field in pending:
        form.fields.setdefault(name, field.text())
    return form


def _folder_by_path(host: Host, account: Account, path: str) -> int:
    """The undocumented `fld_name="a/b"`: find or create nested folders by name."""
    parent = 0
    for name in [p for p in path.split("/") if p]:
        safe = mangle.secure_str(name)
        if safe is None or len(safe) < 2:
            break
        found = [d for d in host.store.child_folders(account.usr_id, parent) if d.name == safe]
        parent = (
            found[0].fld_id if found else host.store.create_folder(account.usr_id, parent, safe)
        )
    return parent


def upload(host: Host, body: Body, content_type: str, fault: str | None) -> Response:
    config = host.config
    limit = config.max_upload_mb * 1024 * 1024
    try:
        form = read_form(host, body, content_type, limit, node=True)
    except multipart.MultipartError:
        return Response.html(500, "<html><body><h1>Internal Server Error</h1></body></html>")
    fields = form.fields
    key = fields.get("key", "")
    # Only `key` identifies the uploader; `api_key` alone makes the upload anonymous (§4).
    account = host.store.account_by_key(key) if key else None
    results: list[tuple[str, str, str]] = []  # (code, filename, status)
    used = host.store.usage(account.usr_id)[1] if account else 0
    quota = int(config.storage_gb * 1024**3)
    fld_id = _int(fields.get("fld_id"))
    if account is not None and fields.get("fld_name"):
        fld_id = _folder_by_path(host, account, fields["fld_name"])
    rows = []
    for name, sink in form.files:
        if name != "file":
            sink.discard()
            continue
        status = "OK"
        if account is None and not config.allow_anonymous_uploads:
            status = "You are not allowed to upload files"
        elif sink.size == 0:
            status = "null filesize or wrong file path"
        elif not mangle.is_video_name(sink.filename):
            status = f"Not video file ({sink.filename})"
        elif sink.too_big:
            status = "file is too big"
        elif used + sink.size > quota:
            status = "not enough disk space on your account"
        if status != "OK":
            sink.discard()
            results.append(("", sink.filename, hostile_message(config, status, key)))
            continue
        blob = host.adopt_blob(sink.path, sink.sha256)
        used += sink.size
        row = host.new_file(
            account.usr_id if account else 0,
            fld_id,
            mangle.upload_title(fields.get("file_title"), sink.filename),
            sink.size,
            sink.sha256,
            blob,
            descr=mangle.secure_str(fields.get("file_descr", "")) or "",
            cat_id=_int(fields.get("cat_id")),
            public=mangle.flag(fields.get("file_public")),
            adult=mangle.flag(fields.get("file_adult")),
            tags=", ".join(mangle.clean_tags(fields.get("tags", ""))),
        )
        rows.append(row)
        results.append((row["code"], sink.filename, "OK"))
    host.store.insert_files(rows)
    if host.dice.chance(config.node_fail_after_store):
        host.count("failed_after_store")  # stored, but the client cannot know it
        return Response(500, HTML_TYPE, HTML_500)
    if "key" not in fields or fields.get("html_redirect"):
        return Response(200, HTML_TYPE, _html_form(results).encode())
    entries = ",".join(
        '{"filecode":"'
        + code
        + '","filename":"'
        + filename
        + '","status":"'
        + status.replace("\n", "\\n")  # a forged newline still parses (msg_newlines)
        + '"}'
        for code, filename, status in results
    )
    text = ('{"msg":"OK","status":200,"files":[' + entries + "]}").encode()
    if fault is not None:
        text = disturb_text(fault, text)
    return Response(200, "application/json; charset=utf-8", text)


def _html_form(results: list[tuple[str, str, str]]) -> str:
    """The old-style answer: a form that posts the results on to the site."""
    fields = "".join(
        f"<textarea name='fn'>{html.escape(code)}</textarea>"
        f"<textarea name='st'>{html.escape(status)}</textarea>"
        for code, _, status in results
    )
    return (
        "<HTML><BODY><Form name='F1' action='/' method='POST'>"
        "<textarea name='op'>upload_result</textarea>"
        + fields
        + "</Form><Script>document.F1.submit();</Script></BODY></HTML>"
    )


def _int(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


# -- direct links ------------------------------------------------------------------------------
LINK_RE = re.compile(r"/v/01/(\w{12})_([a-z])/[^/]+")
RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")


def serve_link(
    host: Host,
    path: str,
    query: dict[str, str],
    range_header: str | None,
    head: bool,
    client_ip: str,
) -> Response:
    now = host.now()
    m = LINK_RE.fullmatch(path)
    if m is None:
        return Response.html(404, "<html><body><h1>404 Not Found</h1></body></html>")
    if not host.link_valid(path, query, now, client_ip):
        return Response.html(
            403, "<html><body><h1>403 Forbidden</h1><p>Link expired or invalid</p></body></html>"
        )
    f = host.store.file(m.group(1)) or virtual.find(host, 0, m.group(1))
    if f is None or f.deleted_at is not None or m.group(2) not in host.versions(f, now):
        return Response.html(404, "<html><body><h1>404 Not Found</h1></body></html>")
    size = f.size
    headers = {"Accept-Ranges": "bytes", "Last-Modified": formatdate(f.created, usegmt=True)}
    start, end, status = 0, size - 1, 200
    rng = RANGE_RE.match(range_header.strip()) if range_header else None
    if rng and (rng.group(1) or rng.group(2)):
        if rng.group(1):
            start = int(rng.group(1))
            end = min(int(rng.group(2)), size - 1) if rng.group(2) else size - 1
        else:
            start, end = max(0, size - int(rng.group(2))), size - 1
        if start >= size or end < start:
            return Response(416, "text/plain", b"", {"Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = max(0, end - start + 1)
    if not head:
        host.count("download")
        host.count("download_bytes", length)
    content = host.store.content(f)
    trickle = slow.link_trickle(host.config, f.code)

    def chunks() -> Iterator[bytes]:
        pos = start
        while pos <= end:
            data = content.read(pos, trickle.size(min(262144, end - pos + 1)))
            if not data:
                return
            pos += len(data)
            host.add_traffic("link_bytes", len(data))  # before: a cut-off send counts too
            yield data
            trickle.spend(len(data))

    return Response(status, "video/mp4", b"", headers, stream=chunks(), length=length)
