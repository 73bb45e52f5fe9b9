"""Test-control endpoints under `/_emu/` (no key, never faulted): counters, switches, seeding.

Owns: the `/_emu/` control endpoints and seeding.
Imports: the standard library and `vipfs.emulator` content, host, response, store only; never
`vipfs.api` or `vipfs.vfs`.

The contract here is relied on by other test suites; see the emulator brief.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from vipfs.emulator.content import generated_sha256
from vipfs.emulator.host import Host
from vipfs.emulator.response import Response
from vipfs.emulator.store import new_code


class SeedError(ValueError):
    pass


def handle(host: Host, method: str, path: str, body: bytes) -> Response:
    try:
        if path == "/_emu/calls" and method == "GET":
            return Response.json(host.calls())
        if path == "/_emu/calls" and method == "DELETE":
            host.reset_calls()
            return Response.json({})
        if path == "/_emu/traffic" and method == "GET":
            return Response.json(host.traffic())
        if path == "/_emu/traffic" and method == "DELETE":
            host.reset_traffic()
            return Response.json({})
        if path == "/_emu/faults" and method == "GET":
            return Response.json(host.config.switches())
        if path == "/_emu/faults" and method == "POST":
            host.config.apply(_object(body))
            return Response.json(host.config.switches())
        if path == "/_emu/seed" and method == "POST":
            return Response.json(seed(host, _object(body)))
        if path == "/_emu/files" and method == "GET":
            return Response.json(files(host))
        if path == "/_emu/folders" and method == "GET":
            return Response.json(folders(host))
        if path == "/_emu/folder" and method == "POST":
            return Response.json(edit_folder(host, _object(body)))
    except (ValueError, KeyError, TypeError) as exc:
        return Response.json({"error": str(exc)}, status=400)
    return Response.json({"error": f"no control endpoint {method} {path}"}, status=404)


def _object(body: bytes) -> dict[str, Any]:
    value = json.loads(body or b"{}")
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def files(host: Host) -> list[dict[str, Any]]:
    return [
        {
            "code": f.code,
            "title": f.title,
            "fld_id": f.fld_id,
            "size": f.size,
            "sha256": f.sha256,
            "login": login,
            "deleted": f.deleted_at is not None,
            "canplay": int(f.encoded(host.now())),
            "uploaded": host.fmt_time(f.created),
        }
        for f, login in host.store.all_files()
    ]


def folders(host: Host) -> list[dict[str, Any]]:
    """Every account's folders as stored (names escaped as the host keeps them)."""
    out: list[dict[str, Any]] = []
    for account in host.store.accounts():
        todo, seen = [0], {0}
        while todo:
            for f in host.store.child_folders(account.usr_id, todo.pop()):
                if f.fld_id not in seen:  # a looped tree is listed once
                    seen.add(f.fld_id)
                    todo.append(f.fld_id)
                    row = {"fld_id": f.fld_id, "name": f.name, "parent_id": f.parent_id}
                    out.append({**row, "login": account.login})
    return out


def edit_folder(host: Host, spec: dict[str, Any]) -> dict[str, Any]:
    """Write a folder's `parent_id` and/or `name` raw, with no check at all: the way to make a
    host whose tree loops (A under B under A), which no client may trust to be a tree."""
    fld_id = int(spec["fld_id"])
    if host.store.folder(fld_id) is None:
        raise ValueError(f"no folder {fld_id}")
    changes: dict[str, Any] = {}
    if "parent_id" in spec:
        changes["parent_id"] = int(spec["parent_id"])
    if "name" in spec:
        changes["name"] = str(spec["name"])
    host.store.update_folder(fld_id, changes)
    folder = host.store.folder(fld_id)
    assert folder is not None
    return {"fld_id": folder.fld_id, "parent_id": folder.parent_id, "name": folder.name}


def seed(host: Host, spec: dict[str, Any]) -> dict[str, Any]:
    """Insert folders and files directly; titles and names are stored exactly as given."""
    store = host.store
    accounts = store.accounts()
    wanted = spec.get("account")
    matches = [a for a in accounts if wanted in (None, a.login)]
    if not matches:
        raise SeedError(f"no account {wanted!r}")
    account = matches[0]
    refs: dict[str, int] = {}
    for folder in spec.get("folders", []):
        parent = (
            refs[folder["parent_ref"]]
            if "parent_ref" in folder
            else int(folder.get("parent_id", 0))
        )
        fld_id = store.create_folder(
            account.usr_id, parent, str(folder["name"]), str(folder.get("descr", ""))
        )
        if "ref" in folder:
            refs[str(folder["ref"])] = fld_id
    now = host.now()
    rows = []
    for item in spec.get("files", []):
        rows.append(_file_row(host, account.usr_id, item, refs, now))
    store.insert_files(rows)
    if "stats" in spec:
        store.put_stats(account.usr_id, spec["stats"])
    return {"folders": refs, "files": [r["code"] for r in rows]}


def _file_row(
    host: Host, usr_id: int, item: dict[str, Any], refs: dict[str, int], now: float
) -> dict[str, Any]:
    code = str(item.get("code") or new_code())
    if "content_b64" in item:
        data = base64.b64decode(item["content_b64"])
        sha = hashlib.sha256(data).hexdigest()
        tmp = host.store.tmp_dir / f"seed-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        blob, size = host.adopt_blob(tmp, sha), len(data)
    else:
        size = int(item.get("size", 0))
        blob, sha = f"gen:{code}", generated_sha256(code, size)
    fld_id = refs[item["folder_ref"]] if "folder_ref" in item else int(item.get("fld_id", 0))
    created = now
    if item.get("uploaded"):
        parsed = host.parse_time(str(item["uploaded"]))
        if parsed is None:
            raise SeedError(f"bad uploaded time {item['uploaded']!r}")
        created = parsed
    canplay = int(item.get("canplay", 1))
    enc_start = enc_end = created
    if not canplay:
        enc_start, enc_end = now, now + float(item.get("encode_seconds", 3600))
    deleted = item.get("deleted")
    return host.new_file(
        usr_id,
        fld_id,
        str(item["title"]),
        size,
        sha,
        blob,
        code=code,
        created=created,
        visible_at=0,
        enc_start=enc_start,
        enc_end=enc_end,
        enc_stuck=int(item.get("encoding") == "stuck"),
        public=int(item.get("public", 0)),
        adult=int(item.get("adult", 0)),
        tags=str(item.get("tags", "")),
        descr=str(item.get("descr", "")),
        length=int(item.get("length", 0)),
        views=int(item.get("views", 0)),
        deleted_at=(now - float(item.get("deleted_ago", 3600))) if deleted else None,
        deleted_by=(deleted if isinstance(deleted, str) else "me") if deleted else None,
        dmca_at=(now - float(item.get("dmca_ago", 3600))) if item.get("dmca") else None,
    )
