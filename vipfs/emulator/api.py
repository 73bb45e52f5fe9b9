"""The `/api/<a>/<b>` operations of an XVS host, with the envelope, auth order and quirks of §1–§3.

Owns: the `/api/...` operations: auth order, envelopes and the host's quirks.
Imports: the standard library and `vipfs.emulator` config, faults, host, mangle, store, urlfetch,
virtual only; never `vipfs.api` or `vipfs.vfs`.

Each operation takes a `Call` and returns the reply without `server_time`/`requests_available`,
which `answer` adds. Database fields go out as strings and computed ones as numbers (§3).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vipfs.emulator import mangle, virtual
from vipfs.emulator.config import FEATURES_400, FEATURES_403
from vipfs.emulator.faults import hostile_message
from vipfs.emulator.host import Host
from vipfs.emulator.store import Account, FileRow, new_code
from vipfs.emulator.urlfetch import start_fetch

KEY_RE = re.compile(r"^(\d+)(\w{16})$")
CODE_RE = re.compile(r"^\w{12}$")
Reply = dict[str, Any]


@dataclass
class Call:
    host: Host
    account: Account
    params: dict[str, str]
    now: float
    uploads: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (filename, size)
    client_ip: str = "127.0.0.1"

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if value not in (None, "") else None

    def int_param(self, name: str, default: int = 0) -> int:
        value = self.get(name)
        try:
            return int(value) if value is not None else default
        except ValueError:
            return default


def ok(result: Any = None, msg: str = "OK") -> Reply:
    reply: Reply = {"msg": msg, "status": 200}
    if result is not None:
        reply["result"] = result
    return reply


def err(status: int, msg: str) -> Reply:
    return {"status": status, "msg": msg}


def answer(
    host: Host,
    op: str,
    params: dict[str, str],
    uploads: dict[str, tuple[str, int]] | None = None,
    client_ip: str = "127.0.0.1",
) -> Reply:
    """Run one API call through the host's checks, in XVS order (§2.1), and wrap the envelope."""
    now = host.now()
    reply, available = _checked(host, op, params, uploads or {}, now, client_ip)
    if reply.get("status") != 200 and isinstance(reply.get("msg"), str):
        key = params.get("key") or params.get("api_key") or ""
        reply["msg"] = hostile_message(host.config, reply["msg"], key)
    reply["server_time"] = host.config.server_time_override or host.fmt_time(now)
    if available is not None:
        reply["requests_available"] = available
    return reply


def _checked(
    host: Host,
    op: str,
    params: dict[str, str],
    uploads: dict[str, tuple[str, int]],
    now: float,
    client_ip: str,
) -> tuple[Reply, int | None]:
    config = host.config
    key = params.get("key") or params.get("api_key") or ""
    if not KEY_RE.match(key):
        return err(config.invalid_key_status, "Invalid key"), None
    account = host.store.account_by_key(key)
    if account is None:
        return err(403, "Wrong auth"), None
    if config.api_not_enabled:
        return err(403, "API not enabled for your account"), None
    if config.special_only and op in ("file/clone", "file/direct_link", "file/delete"):
        return err(403, "API special allowed for premium only"), None
    refusal, available = host.quota.spend(
        account.usr_id, now, config.tz(), config.rate_limit_per_min, config.rate_limit_per_day
    )
    if refusal:
        return err(403, refusal), available
    entry = OPERATIONS.get(op)
    if entry is None:
        return err(400, "Invalid operation"), available
    handler, feature = entry
    if feature in FEATURES_400 and not getattr(config, feature):
        return err(400, "Invalid operation"), available
    if feature in FEATURES_403 and not getattr(config, feature):
        return err(403, "This function not allowed in API"), available
    call = Call(host, account, params, now, uploads, client_ip)
    if op in CACHED_OPS and config.stale_seconds > 0:
        return _cached(call, op, handler), available
    return handler(call), available


# Read operations whose answers the memcached mod keeps: a re-read soon after a write is stale.
CACHED_OPS = frozenset({"account/info", "file/info", "file/list", "folder/list"})


def _cached(c: Call, op: str, handler: Callable[[Call], Reply]) -> Reply:
    host = c.host
    key = (
        c.account.usr_id,
        op,
        tuple(sorted((k, v) for k, v in c.params.items() if k not in ("key", "api_key"))),
    )
    with host.stale_lock:
        hit = host.stale.get(key)
        if hit is not None and c.now - hit[0] < host.config.stale_seconds:
            copy: Reply = json.loads(json.dumps(hit[1]))  # the envelope gets added to it
            return copy
    reply = handler(c)
    with host.stale_lock:
        window = host.config.stale_seconds
        for old in [k for k, (when, _) in host.stale.items() if c.now - when >= window]:
            del host.stale[old]
        host.stale[key] = (c.now, json.loads(json.dumps(reply)))
    return reply


# -- shapes ------------------------------------------------------------------------------------
def list_item(host: Host, f: FileRow, now: float) -> dict[str, Any]:
    return {
        "thumbnail": f"{host.site_url}/i/{f.code}_t.jpg",
        "link": f"{host.site_url}/{f.code}.html",
        "file_code": f.code,
        "canplay": int(f.encoded(now)),
        "length": str(f.length),
        "views": str(f.views),
        "uploaded": host.file_date(f.created),
        "public": str(f.public),
        "fld_id": str(f.fld_id),
        "title": f.title,
    }


def info_item(host: Host, f: FileRow, now: float) -> dict[str, Any]:
    return {
        "file_views_full": str(f.views_full),
        "cat_id": str(f.cat_id),
        "player_img": f"{host.site_url}/i/{f.code}.jpg",
        "status": 200,
        "file_code": f.code,
        "file_last_download": host.file_date(f.last_download or f.created),
        "canplay": int(f.encoded(now)),
        "file_public": str(f.public),
        "file_length": str(f.length),
        "file_title": f.title,
        "file_views": str(f.views),
        "file_created": host.file_date(f.created),
        "file_premium_only": str(f.premium_only),
        "file_adult": str(f.adult),
        "file_fld_id": str(f.fld_id),
        "tags": f.tags,
    }


def _own_folder(c: Call, fld_id: int) -> bool:
    folder = c.host.store.folder(fld_id)
    return folder is not None and folder.usr_id == c.account.usr_id


def _own_live_file(c: Call, code: str | None) -> FileRow | None:
    f = c.host.store.file(code) if code else None
    if f is None or f.usr_id != c.account.usr_id or f.deleted_at is not None:
        return None
    return f


# -- account -----------------------------------------------------------------------------------
def account_info(c: Call) -> Reply:
    files, used = c.host.store.usage(c.account.usr_id)
    total = int(c.host.config.storage_gb * 1024**3)
    return ok(
        {
            "files_total": str(files),
            # Faithful unit mix-up (§3.1): bytes of quota minus kilobytes used.
            "storage_left": total - used // 1024,
            "login": c.account.login,
            "email": c.account.email,
            "premium_expire": c.host.fmt_time(c.now + 365 * 86400),
            "balance": "0.00000",
            "premium": 1,
            "storage_used": str(used // 1024),
        }
    )


def account_stats(c: Call) -> Reply:
    today = c.host.fmt_time(c.now)[:10]
    first = c.host.fmt_time(c.now - 86400 * max(0, c.int_param("last", 7)))[:10]
    date1, date2 = c.get("date1"), c.get("date2")
    if date1 and re.fullmatch(r"\d{4}-\d\d-\d\d", date1):
        first = date1
    if date2 and re.fullmatch(r"\d{4}-\d\d-\d\d", date2):
        today = date2
    days = c.host.store.stats(c.account.usr_id, first, today)
    if not days:
        return ok({}, msg="Not enough reports data")
    return ok(
        [
            {
                "downloads": str(d["downloads"]),
                "profit_views": d["profit_views"],
                "views_adb": str(d["views_adb"]),
                "sales": str(d["sales"]),
                "profit_sales": "0.00000",
                "profit_refs": "0.00000",
                "profit_site": "0.00000",
                "views": str(d["views"]),
                "refs": str(d["refs"]),
                "day": d["day"],
                "profit_total": d["profit_views"],
                "views_prem": str(d["views_prem"]),
            }
            for d in days
        ]
    )


# -- upload ------------------------------------------------------------------------------------
def upload_server(c: Call) -> Reply:
    if c.host.config.no_upload_servers:
        return ok({}, msg="No servers available for uploads")
    if c.host.config.upload_server_url:
        return ok(c.host.config.upload_server_url)  # whatever URL the test chose, http:// too
    return ok(f"{c.host.site_url}/upload/01")


def upload_url(c: Call) -> Reply:
    url = urllib.parse.unquote(c.get("url") or "")
    for banned in ("base64", "xvideos", "youtube"):
        url = url.replace(banned, "")
    if not url:
        return err(400, "Invalid URL")
    store = c.host.store
    queued = store.url_entries(c.account.usr_id)
    if any(e["url"] == url for e in queued):
        return err(400, "This URL already in upload queue")
    limit = 5
    if len(queued) >= limit:
        return err(400, f"You have reached max URLs limit: {limit}")
    fld_id = c.int_param("fld_id")
    if fld_id and not _own_folder(c, fld_id):
        fld_id = 0
    code = new_code()
    opts = {
        k: c.params[k] for k in ("cat_id", "file_public", "file_adult", "tags") if k in c.params
    }
    store.queue_url(code, c.account.usr_id, url, fld_id, json.dumps(opts), c.now)
    start_fetch(c.host, code)
    return ok({"filecode": code})


def upload_sub(c: Call) -> Reply:
    if not re.fullmatch(r"[a-z]{2,3}", c.get("sub_lang") or ""):
        return err(400, "Invalid lang")
    f = c.host.store.file(c.get("file_code") or "")
    if f is None or f.deleted_at is not None:
        return err(400, "No file")
    if f.usr_id != c.account.usr_id:
        return err(403, "Not your file")
    sub = c.uploads.get("sub_file")
    if sub is None and not c.get("sub_url"):
        return err(400, "Subtitle data not found required")
    if sub is not None:
        filename, size = sub
        if size > 300 * 1024:
            return err(400, "Max subtitle size is 300KB")
        if mangle.extension(filename) not in ("srt", "vtt"):
            return err(400, "Invalid file format")
    return ok()


# -- files -------------------------------------------------------------------------------------
def file_info(c: Call) -> Reply:
    codes = [code.strip() for code in (c.get("file_code") or "").split(",")]
    codes = [code for code in codes if CODE_RE.match(code)][:50]
    if not codes:
        return err(400, "Invalid file codes")
    found = c.host.store.files_by_codes(codes)
    out: list[dict[str, Any]] = []
    for code in codes:
        f = found.get(code)  # any account's file: lookups are not scoped (§3.5)
        if f is None or f.deleted_at is not None:
            out.append({"status": 404, "file_code": code})
        elif f.dmca_at is not None:
            out.append({"status": 451, "file_code": code})
        else:
            out.append(info_item(c.host, f, c.now))
    if c.host.config.hostile_codes:
        out += [
            {**info_item(c.host, row, c.now), "file_code": code}
            for code, row in virtual.hostile_rows(c.account.usr_id, 0)
        ]
    return ok(out)


def _secure_name(c: Call, value: str) -> str | None:
    """A title or folder name as the host stores it; None when it is skipped: with
    `edit_drops_markup`, as real hosts do, any value holding `<`, `>` or `"` (§6.9)."""
    if c.host.config.edit_drops_markup and any(ch in value for ch in '<>"'):
        return None
    return mangle.secure_str(value)


def file_edit(c: Call) -> Reply:
    if len(c.params.get("title", "")) >= 2:
        return err(400, "Invalid file name")  # the faithful bug: `title` is not `file_title`
    cat = c.get("cat_id")
    if cat is not None and not cat.isdigit():
        return err(400, "Invalid cat_id")
    changes: dict[str, Any] = {}
    if "file_title" in c.params:
        title = _secure_name(c, c.params["file_title"])
        if title is not None:
            changes["title"] = title
    if "file_descr" in c.params:
        descr = mangle.secure_str(c.params["file_descr"])
        if descr is not None:
            changes["descr"] = descr
    if cat is not None:
        changes["cat_id"] = int(cat)
    if c.get("file_fld_id") is not None:
        changes["fld_id"] = c.int_param("file_fld_id")  # not validated: may orphan the file
    for param, column in (
        ("file_public", "public"),
        ("file_adult", "adult"),
        ("file_premium_only", "premium_only"),
    ):
        if param in c.params:
            changes[column] = mangle.flag(c.params[param])
    # Tags are wiped and re-added on every edit, even without a `tags` parameter (§6.10).
    changes["tags"] = ", ".join(mangle.clean_tags(c.params.get("tags", "")))
    for code in (c.get("file_code") or "").split(","):
        if _own_live_file(c, code.strip()) is not None:
            c.host.store.update_file(code.strip(), changes)
    return ok("true")


def file_list(c: Call) -> Reply:
    per_page = c.int_param("per_page", 100)
    per_page = 100 if per_page <= 0 else min(per_page, 1000)
    page = max(1, c.int_param("page", 1))
    fld: int | None = None
    ignore = c.host.config.ignore_list_filters  # some builds drop filters they do not know
    if c.get("fld_id") is not None and not ignore:
        wanted = c.int_param("fld_id", -1)
        if wanted == 0 or (wanted > 0 and _own_folder(c, wanted)):
            fld = wanted  # an unknown or foreign folder drops the filter (§3.7)
    title = None if ignore else c.get("title")
    if title is not None and re.search(r'["\x00\r\n]', title):
        title = None
    created: float | None = None
    raw_created = c.get("created")
    if raw_created is not None:
        if raw_created.isdigit():
            created = c.now - int(raw_created) * 60
        else:
            created = c.host.parse_time(raw_created)
    flags = {
        column: mangle.flag(c.get(param))
        for param, column in (
            ("public", "public"),
            ("adult", "adult"),
            ("premium_only", "premium_only"),
        )
        if c.get(param) is not None
    }
    rows, total = c.host.store.list_files(
        c.account.usr_id,
        fld_id=fld,
        title_like=title,
        created_after=created,
        flags=flags,
        visible_at=c.now,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    results = len(rows)
    pages = int(0.99 + total / results) if results else 0  # the host's own arithmetic
    items = [list_item(c.host, f, c.now) for f in rows]
    if c.host.config.hostile_codes and page == 1:
        items += _hostile_items(c, fld or 0)
    return ok(
        {
            "files": items,
            "results_total": total,
            "pages": pages,
            "results": results,
        }
    )


def file_clone(c: Call) -> Reply:
    src = c.host.store.file(c.get("file_code") or "")
    if src is None or src.deleted_at is not None:
        return err(404, "No file")
    title = mangle.secure_str(c.params["file_title"]) if c.get("file_title") else None
    row = c.host.new_file(
        c.account.usr_id,
        c.int_param("fld_id"),
        title or src.title,
        src.size,
        src.sha256,
        src.blob,
        public=mangle.flag(c.get("file_public")),
        adult=mangle.flag(c.get("file_adult")),
        cat_id=c.int_param("cat_id", src.cat_id),
        length=src.length,
        visible_at=c.now,
        enc_start=src.enc_start,
        enc_end=src.enc_end,
        enc_stuck=src.enc_stuck,
    )
    c.host.store.insert_files([row])
    return ok({"url": f"{c.host.site_url}/{row['code']}", "filecode": row["code"]})


def file_direct_link(c: Call) -> Reply:
    code = c.params.get("file_code") or ""
    entry = c.host.store.url_entry(code)
    if entry is not None and entry["usr_id"] == c.account.usr_id:
        return {"status": 200, "msg": "uploading"}
    f = _own_live_file(c, code) or virtual.find(c.host, c.account.usr_id, code)
    if f is None:
        return err(404, "no file")
    versions = c.host.versions(f, c.now)
    quality = c.get("q")
    if quality is not None:
        url = c.host.direct_url(f, quality, c.now, c.client_ip) if quality in versions else ""
        return ok(url)
    return ok(
        {
            "versions": [
                {"url": c.host.direct_url(f, q, c.now, c.client_ip), "name": q, "size": str(f.size)}
                for q in versions
            ],
            "file_length": str(f.length),
            "player_img": f"{c.host.site_url}/i/{f.code}.jpg",
        }
    )


def file_delete(c: Call) -> Reply:
    f = _own_live_file(c, c.get("file_code"))
    if f is None:
        return err(404, "No file")
    c.host.store.update_file(f.code, {"deleted_at": c.now, "deleted_by": "me"})
    return ok()


def file_deleted(c: Call) -> Reply:
    since = c.now - 3600 * c.int_param("last", 720)
    return ok(
        [
            {
                "file_code": f.code,
                "deleted_by": f.deleted_by or "me",
                "deleted_ago_sec": str(int(c.now - (f.deleted_at or c.now))),
                "deleted": c.host.fmt_time(f.deleted_at or c.now),
                "title": f.title,
            }
            for f in c.host.store.deleted_files(c.account.usr_id, since)
        ]
    )


DMCA_GRACE = 12 * 3600


def file_dmca(c: Call) -> Reply:
    since = c.now - 3600 * c.int_param("last", 720)
    out = []
    for f in c.host.store.dmca_files(c.account.usr_id, since):
        when = (f.dmca_at or c.now) + DMCA_GRACE
        out.append(
            {
                "file_code": f.code,
                "del_in_sec": str(max(0, int(when - c.now))),
                "del_time": c.host.fmt_time(when),
            }
        )
    return ok(out)


def file_encodings(c: Call) -> Reply:
    wanted = c.get("file_code") or c.get("code")
    out = []
    for f in c.host.store.encoding_files(c.account.usr_id, c.now):
        if wanted and f.code != wanted:
            continue
        progress = f.encode_progress(c.now)
        if f.enc_stuck:
            status = "STUCK"
        elif progress < 10:
            status, progress = "PENDING", 0
        else:
            status = "ENCODING"
        out.append(
            {
                "link": f"{c.host.site_url}/{f.code}.html",
                "progress": progress,
                "status": status,
                "name": f.title,
                "quality": "n",
                "code": f.code,
            }
        )
    return ok(out)


def file_url_uploads(c: Call) -> Reply:
    wanted = c.get("file_code")
    blank = c.host.config.url_codes_blank
    return ok(
        [
            {
                "remote_url": e["url"],
                "progress": int(e["progress"]),
                "status": e["status"],
                "file_code": "" if blank else e["code"],
                "fld_id": str(e["fld_id"]),
            }
            for e in c.host.store.url_entries(c.account.usr_id)
            if not wanted or e["code"] == wanted
        ]
    )


def file_url_actions(c: Call) -> Reply:
    store, usr = c.host.store, c.account.usr_id
    if mangle.flag(c.get("restart_errors")):
        for e in store.url_entries(usr):
            if e["status"] == "ERROR":
                store.update_url(e["code"], "PENDING", 0)
                start_fetch(c.host, e["code"])
    if mangle.flag(c.get("delete_errors")):
        store.delete_urls(usr, "status='ERROR'")
    if mangle.flag(c.get("delete_all")):
        store.delete_urls(usr)
    for code in (c.get("delete_code") or "").split(","):
        if code.strip():
            store.delete_urls(usr, "code=?", (code.strip(),))
    return ok()


# -- folders -----------------------------------------------------------------------------------
def folder_list(c: Call) -> Reply:
    fld_id = c.int_param("fld_id")
    if fld_id != 0 and not _own_folder(c, fld_id):
        return err(403, "Folder not exist or not yours")
    result: dict[str, Any] = {
        "folders": [
            {"name": d.name, "fld_id": str(d.fld_id), "code": d.code}
            for d in c.host.store.child_folders(c.account.usr_id, fld_id)
        ]
    }
    if mangle.flag(c.get("files")):
        rows, _ = c.host.store.list_files(c.account.usr_id, fld_id=fld_id, visible_at=c.now)
        result["files"] = [list_item(c.host, f, c.now) for f in rows]
    if c.host.config.hostile_codes:
        result["folders"] += virtual.hostile_folders()
        if "files" in result:
            result["files"] += _hostile_items(c, fld_id)
    return ok(result)


def _hostile_items(c: Call, fld_id: int) -> list[dict[str, Any]]:
    return [
        {**list_item(c.host, row, c.now), "file_code": code}
        for code, row in virtual.hostile_rows(c.account.usr_id, fld_id)
    ]


def folder_create(c: Call) -> Reply:
    store = c.host.store
    if store.folder_count(c.account.usr_id) >= 10000:
        return err(400, "You have can't have more than 10000 folders")
    parent = c.int_param("parent_id")
    if parent != 0 and not _own_folder(c, parent):
        return err(403, "Parent folder not exist or not yours")
    name = _secure_name(c, c.params.get("name", ""))
    if name is None or len(name) < 2:
        return err(400, "Invalid folder name")
    descr = mangle.secure_str(c.params.get("descr", "")) or ""
    return ok({"fld_id": str(store.create_folder(c.account.usr_id, parent, name, descr))})


def folder_edit(c: Call) -> Reply:
    fld_id = c.int_param("fld_id")
    if not fld_id:
        return err(400, "Folder id required")
    if not _own_folder(c, fld_id):
        return err(403, "Folder not exist")
    changes: dict[str, Any] = {}
    if "name" in c.params:
        name = _secure_name(c, c.params["name"])
        if name is None or len(name) < 2:
            return err(400, "Invalid folder name")
        changes["name"] = name
    if c.get("parent_id") is not None:
        parent = c.int_param("parent_id", -1)
        # The only cycle check is parent ≠ self (§3.17): a move under a descendant is accepted.
        if parent == fld_id or parent < 0 or (parent != 0 and not _own_folder(c, parent)):
            return err(400, "Invalid parent folder id")
        changes["parent_id"] = parent
    if "descr" in c.params:
        changes["descr"] = mangle.secure_str(c.params["descr"]) or ""
    c.host.store.update_folder(fld_id, changes)
    return ok("true")


def folder_delete(c: Call) -> Reply:
    fld_id = c.int_param("fld_id")
    if not fld_id:
        return err(400, "Folder id required")
    if not _own_folder(c, fld_id):
        return err(403, "Folder not exist")
    if c.host.store.folder_has_files(fld_id):
        return err(403, "Folder have files inside")
    if c.host.store.folder_has_children(fld_id):
        return err(403, "Folder have sub-folders inside")
    c.host.store.delete_folder(fld_id)
    return ok()


# op -> (handler, feature flag gating it or None)
OPERATIONS: dict[str, tuple[Callable[[Call], Reply], str | None]] = {
    "account/info": (account_info, None),
    "account/stats": (account_stats, None),
    "upload/server": (upload_server, None),
    "upload/url": (upload_url, None),
    "upload/sub": (upload_sub, "url_uploads"),
    "file/info": (file_info, None),
    "file/edit": (file_edit, None),
    "file/list": (file_list, None),
    "file/clone": (file_clone, "clone"),
    "file/direct_link": (file_direct_link, "direct_link"),
    "file/delete": (file_delete, "delete"),
    "file/deleted": (file_deleted, None),
    "file/dmca": (file_dmca, None),
    "file/encodings": (file_encodings, None),
    "file/url_uploads": (file_url_uploads, "url_uploads"),
    "file/url_actions": (file_url_actions, "url_uploads"),
    "folder/list": (folder_list, None),
    "folder/create": (folder_create, None),
    "folder/edit": (folder_edit, None),
    "folder/delete": (folder_delete, "folder_delete"),
}
