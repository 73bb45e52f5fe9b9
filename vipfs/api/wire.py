"""Lenient readers for raw XVS JSON values.

Owns: the lenient readers of raw JSON values (numbers, codes, ids, dates, lists).
Imports: the standard library only.

Real hosts send numbers as strings or numbers or null, drift key names between builds, put `{}`
where a list belongs, and emit dates such as `2021-08-102`. Every record parser goes through
these few functions so that each quirk is handled once and never fails a whole listing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

Raw = Mapping[str, Any]

# reference/xvs-api.md: a file code is `^\w{12}$` (ASCII word characters in XVS's Perl).
_CODE = re.compile(r"[A-Za-z0-9_]{12}")
_DIGITS = re.compile(r"[0-9]{1,18}")  # a folder id SQLite's 64-bit integers can hold

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
_TRUE_WORDS = frozenset({"true", "yes", "on"})


def pick(raw: Raw, *keys: str) -> Any:
    """The value of the first key present with a non-null value (hosts rename keys)."""
    for key in keys:
        value = raw.get(key)
        if value is not None:
            return value
    return None


def to_int(value: Any) -> int | None:
    """An int from an int, float, or numeric string; None for null, "" or garbage."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return int(float(text))
            except (ValueError, OverflowError):
                return None
    return None


def to_code(value: Any) -> str | None:
    """A file code as the reference defines it, or None: only these ever name local things."""
    text = to_str(value)
    return text if text is not None and _CODE.fullmatch(text) else None


def to_id(value: Any) -> int | None:
    """A folder id: a non-negative integer (or its decimal text); null reads as 0 (root),
    anything else (negative, fractional, garbage, absurdly long) as None, i.e. invalid."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**18 else None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return None


def to_bool(value: Any) -> bool:
    """0/1 flags arrive as ints, strings or booleans; anything unreadable is False."""
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS:
        return True
    return bool(to_int(value))


def to_str(value: Any) -> str | None:
    """A string, or None for null; numbers become their decimal text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return None


def to_date(value: Any) -> datetime | None:
    """A naive server-local datetime, or None for anything malformed (`0000-00-00 ...` too)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def to_dicts(value: Any) -> list[Raw]:
    """The objects of a list; `{}` or anything else where a list belongs reads as empty."""
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def to_dict(value: Any) -> Raw:
    """An object, or an empty one when the host sent something else."""
    return value if isinstance(value, Mapping) else {}
