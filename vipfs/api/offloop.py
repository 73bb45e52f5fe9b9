"""Work on a big reply, done off the trio loop without stalling it.

Owns: parsing and building big replies in a worker thread without holding the loop (`loads`,
`run_sync`).
Imports: trio and the standard library only.

A worker thread alone is not enough under the GIL: two things still hold the loop for a third
of a second on a 100,000-entry folder. `json.loads` is one C call that keeps the GIL; `loads`
here decodes the outer levels itself and leaves only each inner value to the C decoder, so the
GIL changes hands between entries. And the cyclic garbage collector, woken by the millions of
objects such a build allocates, walks the whole heap with the GIL held; `run_sync` pauses it
during the build and then freezes what survived (they are long-lived: a cached listing), so
later collections skip them. Reference counting still frees them when they are dropped.
"""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
WALKED_LEVELS = 3  # envelope → result → files: the list whose items are decoded one by one

_gc_lock = threading.Lock()
_gc_holders = 0


async def run_sync(fn: Callable[..., T], *args: Any, limiter: trio.CapacityLimiter) -> T:
    """`fn(*args)` in a worker thread, with the cyclic collector paused while it runs."""

    def work() -> T:
        _pause_gc()
        try:
            return fn(*args)
        finally:
            _resume_gc()

    return await trio.to_thread.run_sync(work, limiter=limiter)


def _pause_gc() -> None:
    global _gc_holders
    with _gc_lock:
        _gc_holders += 1
        gc.disable()


def _resume_gc() -> None:
    global _gc_holders
    with _gc_lock:
        _gc_holders -= 1
        if _gc_holders == 0:
            gc.freeze()  # what the build made is long-lived: later collections skip it
            gc.enable()


def loads(text: str) -> Any:
    """`json.loads(text)`, decoding the outer `WALKED_LEVELS` of objects and arrays here and
    each value below them with one short call of the C decoder. Raises ValueError (bad JSON)
    or RecursionError (absurd nesting), as json.loads does."""
    value, end = _value(text, _skip(text, 0), WALKED_LEVELS, {})
    if _skip(text, end) != len(text):
        raise ValueError("extra data after the JSON value")
    return value


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _value(text: str, at: int, levels: int, keys: dict[str, str]) -> tuple[Any, int]:
    """One value; `keys` makes every object key one shared string, as json.loads does within
    its one call (separate calls would give each of a million entries its own ten keys)."""
    if levels > 0 and text.startswith("{", at):
        return _object(text, _skip(text, at + 1), levels - 1, keys)
    if levels > 0 and text.startswith("[", at):
        return _array(text, _skip(text, at + 1), levels - 1, keys)
    value, end = _DECODER.raw_decode(text, at)
    if isinstance(value, dict):
        value = {keys.setdefault(k, k): v for k, v in value.items()}
    return value, end


def _object(text: str, at: int, levels: int, keys: dict[str, str]) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    if text.startswith("}", at):
        return out, at + 1
    while True:
        if not text.startswith('"', at):
            raise ValueError(f"expected a key at {at}")
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if not text.startswith(":", at):
            raise ValueError(f"expected ':' at {at}")
        out[key], at = _value(text, _skip(text, at + 1), levels, keys)
        at = _skip(text, at)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
        elif text.startswith("}", at):
            return out, at + 1
        else:
            raise ValueError(f"expected ',' or '}}' at {at}")


def _array(text: str, at: int, levels: int, keys: dict[str, str]) -> tuple[list[Any], int]:
    out: list[Any] = []
    if text.startswith("]", at):
        return out, at + 1
    while True:
        item, at = _value(text, at, levels, keys)
        out.append(item)
        at = _skip(text, at)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
        elif text.startswith("]", at):
            return out, at + 1
        else:
            raise ValueError(f"expected ',' or ']' at {at}")
