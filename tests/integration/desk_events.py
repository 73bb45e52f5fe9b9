"""Reading a mount's event stream (`/.vipfs/events.jsonl`) the way a user's script would.

The contract (issue 12): one JSON object per line with exactly the keys of `KEYS`; `path` is
relative to the mount root; `event` is one of `KINDS`, `source` one of `SOURCES`. Issue 13
added `member`: the mirror member it happened on, null on a single-host mount.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.integration.conftest import sh, wait_for

KEYS = {"seq", "time", "event", "path", "code", "link", "source", "detail", "member"}
KINDS = {"queued", "uploaded", "ready", "failed", "dmca", "deleted"}
SOURCES = {"upload", "url", "clone", "host"}
CODE = re.compile(r"\w{12}")
# ISO 8601 in UTC, as Event.time is written (seconds, `Z` or an explicit +00:00)
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Every line an event; each checked against the contract's shape as it is parsed."""
    events = []
    for line in text.splitlines():
        event = json.loads(line)
        assert isinstance(event, dict) and set(event) == KEYS, line
        assert event["event"] in KINDS and event["source"] in SOURCES, line
        assert event["member"] is None, line  # these tests mount one host
        assert isinstance(event["seq"], int) and UTC_TIME.fullmatch(event["time"]), line
        events.append(event)
    return events


def read_events(mount: Path) -> list[dict[str, Any]]:
    return parse_lines((mount / ".vipfs" / "events.jsonl").read_text())


def matching(mount: Path, kind: str, **fields: object) -> list[dict[str, Any]]:
    """The mount's events of `kind` whose fields equal `fields` (path=…, code=…)."""
    return [
        e
        for e in read_events(mount)
        if e["event"] == kind and all(e[k] == v for k, v in fields.items())
    ]


def wait_event(mount: Path, kind: str, timeout: float = 60, **fields: object) -> dict[str, Any]:
    """The first event of `kind` with `fields`, once the mount has emitted it."""
    found = wait_for(
        f"a {kind} event with {fields}", lambda: matching(mount, kind, **fields), timeout
    )
    first: dict[str, Any] = found[0]
    return first


def xattr(path: Path, name: str) -> str:
    out = sh("getfattr", "--only-values", "-n", f"user.vipfs.{name}", path)
    assert out.returncode == 0, out.stderr
    return out.stdout
