"""The emulator's switches: one mutable dataclass shared by the CLI, control endpoint and tests.

Owns: `EmulatorConfig`, every switch of the emulator, and the lists of fault kinds and feature
answers.
Imports: the standard library only; never `vipfs.api` or `vipfs.vfs`.

Every field can be changed at runtime through `POST /_emu/faults` (by its field name or the CLI
spelling with dashes), so a test can flip a host's behaviour without restarting it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

# Fault kinds, in the order they are drawn (the first hit wins, one fault per request).
FAULT_KINDS: tuple[str, ...] = (
    "reset",
    "5xx",
    "html404",
    "cloudflare",
    "520",
    "ratelimit",
    "truncated",
    "string-status",
    "key-swap",
    "files-as-result",
    "stall-upload",
)
# Faults that stop a request before it runs; the others change the answer of a request that ran.
PRE_FAULTS = frozenset({"reset", "5xx", "html404", "cloudflare", "520", "ratelimit"})
UPLOAD_ONLY_FAULTS = frozenset({"files-as-result", "stall-upload"})
# What `hostile_reply` can be ("" is off).
HOSTILE_REPLIES = ("", "deep", "huge", "garbage")

# Feature flags. The first three are "disabled" features (403 when off), the others are absent
# from vipstream's older build (400 Invalid operation when off).
FEATURES_403 = ("direct_link", "delete", "clone")
FEATURES_400 = ("folder_delete", "url_uploads")


def parse_tz(text: str) -> timezone:
    """`+03:00`, `-0530`, `UTC` → a fixed-offset timezone (real hosts use Perl localtime)."""
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})?", text.strip())
    if not m:
        raise ValueError(f"bad timezone offset {text!r} (want +HH:MM)")
    sign = -1 if m.group(1) == "-" else 1
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    return timezone(sign * delta)


@dataclass
class EmulatorConfig:
    """What the host allows and how it misbehaves. Defaults match vipstream.cc as far as known."""

    port: int = 0
    data_dir: Path | None = None
    key_files: list[Path] = field(default_factory=list)
    seed_demo: bool = False
    # features
    direct_link: bool = False
    delete: bool = False
    clone: bool = True
    folder_delete: bool = False
    url_uploads: bool = False
    # account-level refusals (§2.1)
    api_not_enabled: bool = False
    special_only: bool = False  # clone/direct_link/delete → "API special allowed for premium only"
    no_upload_servers: bool = False
    allow_anonymous_uploads: bool = False
    # quotas
    rate_limit_per_min: int = 0
    rate_limit_per_day: int = 0
    max_concurrent: int = 0  # API requests in flight before HTTP 520; 0 = no cap
    # shaping
    latency_ms: int = 0
    bandwidth_mbps: float = 0.0
    # faults: kind -> probability per request, drawn from a generator seeded with `seed`
    faults: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    down: bool = False
    stall_seconds: float = 3.0
    # slow hosts (issue 8 item 12): 0 = full speed
    node_bytes_per_sec: float = 0.0  # the upload node reads request bodies at this rate
    slow_upload_names: str = ""  # comma-separated parts of upload filenames it slows; "" = all
    link_bytes_per_sec: float = 0.0  # direct-link downloads are sent at this rate
    slow_link_codes: str = ""  # comma-separated file codes whose links are slow; "" = all
    # server behaviour
    server_tz: str = "+03:00"
    encode_seconds: float = 2.0
    upload_length: int = 60  # seconds of video the host lists for an uploaded file
    keep_orig: bool = False
    listing_delay: float = 0.0
    invalid_key_status: int = 400
    max_upload_mb: int = 2500
    storage_gb: float = 100.0
    link_expire_sec: int = 3600
    link_ip_bind: bool = False  # direct links only work from the caller's /16 prefix
    # hostile-host switches (issue 8, items 2, 3, 14)
    ignore_list_filters: bool = False  # file/list drops `title` and `fld_id`: every file listed
    edit_drops_markup: bool = False  # edits and folder names with `<`, `>` or `"` are ignored
    node_fail_after_store: float = 0.0  # chance an upload is stored, then answered by HTML 500
    upload_server_url: str = ""  # what upload/server answers ("" = this emulator's own node)
    echo_key: bool = False  # error messages end with "for key <the caller's key>"
    # file/url_uploads names no file_code until the fetch is done (the doc's own sample,
    # `"file_code":""`): a client must match its URLs by `remote_url`
    url_codes_blank: bool = False
    msg_newlines: bool = False  # error messages go on with a newline and a forged log line
    tls_cert: Path | None = None  # with tls_key: the API, node and links are served over https
    tls_key: Path | None = None
    stale_seconds: float = 0.0  # read answers cached this long, as with the memcached mod
    # hostile replies (issue 8 items 8-10): what a broken or malicious host sends
    hostile_reply: str = ""  # "deep", "huge" or "garbage" replaces the replies of hostile_ops
    hostile_ops: str = ""  # comma-separated ops such as "account/info,folder/list"; "" = all
    hostile_bytes: int = 256 << 20  # the size a "huge" reply is padded to (streamed)
    server_time_override: str = ""  # the envelope's server_time, verbatim ("" = the real time)
    file_date_override: str = ""  # every file date of listings and file/info, verbatim
    hostile_codes: bool = False  # listings carry extra entries with codes that are paths etc.
    synthetic_files: int = 0  # folder/list of synthetic_fld_id answers this many generated files
    synthetic_fld_id: int = 0
    verbose: bool = False

    def tz(self) -> timezone:
        return parse_tz(self.server_tz)

    def fault_rate(self, kind: str) -> float:
        return float(self.faults.get(kind, 0.0))

    def switches(self) -> dict[str, Any]:
        """The runtime-changeable switches, flat, as `/_emu/faults` shows them."""
        out: dict[str, Any] = {kind: self.fault_rate(kind) for kind in FAULT_KINDS}
        for f in dataclasses.fields(self):
            if f.name in _NOT_SWITCHES:
                continue
            out[f.name] = getattr(self, f.name)
        return out

    def apply(self, changes: dict[str, Any]) -> None:
        """Change switches by name; a bad name or value raises ValueError and changes nothing."""
        staged: list[tuple[str, Any]] = []
        types = {f.name: f.type for f in dataclasses.fields(self)}
        for raw_name, value in changes.items():
            name = raw_name.replace("-", "_")
            if raw_name in FAULT_KINDS:
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"fault rate for {raw_name} must be in 0..1")
                staged.append(("fault:" + raw_name, rate))
            elif name in types and name not in _NOT_SWITCHES:
                coerced = _coerce(types[name], value, name)
                if name == "hostile_reply" and coerced not in HOSTILE_REPLIES:
                    known = ", ".join(k for k in HOSTILE_REPLIES if k)
                    raise ValueError(f"hostile_reply {coerced!r} unknown; known: {known}")
                staged.append((name, coerced))
            else:
                raise ValueError(f"unknown switch {raw_name!r}")
        for name, value in staged:
            if name.startswith("fault:"):
                self.faults[name[6:]] = value
            else:
                setattr(self, name, value)
        parse_tz(self.server_tz)

    def hostile_for(self, op: str) -> str:
        """The hostile reply kind that hits `op` ("" when none does)."""
        if not self.hostile_reply:
            return ""
        ops = {o.strip() for o in self.hostile_ops.split(",") if o.strip()}
        return self.hostile_reply if not ops or op in ops else ""


_NOT_SWITCHES = frozenset(
    {"port", "data_dir", "key_files", "seed_demo", "faults", "tls_cert", "tls_key"}
)


def _coerce(type_name: object, value: Any, name: str) -> Any:
    text = str(type_name)
    if text == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | str) and str(value).lower() in ("0", "1", "true", "false"):
            return str(value).lower() in ("1", "true")
        raise ValueError(f"{name} wants a boolean")
    try:
        if text == "int":
            return int(value)
        if text == "float":
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} wants a number") from None
    if text == "str":
        return str(value)
    raise ValueError(f"{name} cannot be set at runtime")
