"""Which optional operations this host offers, learned by harmless probes where first needed.

Owns: `HostFeatures`: which optional operations the host offers, and the harmless probes that learn
it.
Imports: trio, `vipfs.api` errors and protocol.

XVS hosts switch `file/direct_link`, `file/delete` and `folder/delete` on or off per site (and
older builds lack `folder/delete`), and nothing in the API says which. Each is probed with a call
that cannot change anything: a bogus file code, and folder 0 (which the server refuses to
delete). An answer about the bogus object means the operation exists; "not allowed in API" or
"Invalid operation" means it does not. A network failure proves nothing, so the feature stays
unknown and is probed again later rather than switched off for the whole mount.

`file/clone` has no harmless probe; it is assumed on until a real clone says otherwise.

Nothing probes at mount time: on a host allowing 5 calls a minute, three probes would take most
of the first minute from browsing. A probe runs when an answer is first needed (the first read
needs `direct_link`, the first removal `delete`), in the lane of whoever needs it: the user
waiting on that read or `rm` is interactive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

import trio

from vipfs.api.errors import (
    ApiError,
    NotFoundError,
    RequestRejectedError,
    TransientError,
    UnsupportedError,
)
from vipfs.api.protocol import XvsApi

log = logging.getLogger(__name__)

BOGUS_CODE = "xxxxxxxxxxxx"  # 12 word characters: a valid code that no host ever issues
FEATURES = ("direct_link", "delete", "folder_delete", "clone")
PROBED = ("direct_link", "delete", "folder_delete")


def _probe_call(api: XvsApi, name: str) -> Callable[[], Awaitable[object]]:
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "direct_link": lambda: api.file_direct_link(BOGUS_CODE),
        "delete": lambda: api.file_delete(BOGUS_CODE),
        "folder_delete": lambda: api.folder_delete(0),
    }
    return calls[name]


class HostFeatures:
    """Tri-state knowledge of the host's optional operations.

    Each feature is True (offered), False (refused by the host) or None (not yet known). The bool
    attributes read a not-yet-known feature as off, the safe choice for callers that must decide
    now; `known(name)` gives the tri-state, and `probe` only asks about what is still unknown.
    """

    def __init__(self, known: Mapping[str, bool | None] | None = None) -> None:
        self._state: dict[str, bool | None] = dict.fromkeys(PROBED, None)
        self._state["clone"] = True
        for name, value in (known or {}).items():
            if name in FEATURES:
                self._state[name] = value
        self._lock = trio.Lock()

    # -- what callers read ---------------------------------------------------------------------
    @property
    def direct_link(self) -> bool:
        return self._state["direct_link"] is True

    @property
    def delete(self) -> bool:
        return self._state["delete"] is True

    @property
    def folder_delete(self) -> bool:
        return self._state["folder_delete"] is True

    @property
    def clone(self) -> bool:
        return self._state["clone"] is True

    def known(self, name: str) -> bool | None:
        """True/False once the host has answered, None while it is unknown."""
        return self._state[name]

    @property
    def complete(self) -> bool:
        """Whether every probe-able feature has a definite answer."""
        return all(self._state[name] is not None for name in PROBED)

    def as_dict(self) -> dict[str, bool | None]:
        """What was learned, for the caller to persist; feed it back to the constructor."""
        return dict(self._state)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self._state[name]}" for name in FEATURES)
        return f"HostFeatures({shown})"

    # -- what changes it -----------------------------------------------------------------------
    def mark_supported(self, name: str) -> None:
        """A real call worked: the feature exists, whatever an earlier probe failed to learn."""
        self._check(name)
        self._state[name] = True

    def mark_unsupported(self, name: str) -> None:
        """A real call answered UnsupportedError: remember it for the rest of the mount."""
        self._check(name)
        if self._state[name] is not False:
            log.info("host feature %s: disabled on this host", name)
        self._state[name] = False

    @staticmethod
    def _check(name: str) -> None:
        if name not in FEATURES:
            raise ValueError(f"unknown host feature {name!r}")

    async def probe(self, api: XvsApi, names: Sequence[str] = PROBED) -> None:
        """Ask the host about each of `names` still unknown. Concurrent callers share one probe.

        Transient failures leave the feature unknown (and are logged), so a later call retries;
        other unexpected errors also leave it unknown rather than guess. Never raises ApiError.
        `names` lets a caller that needs one answer (reading needs direct_link) spend one call.
        """
        for name in names:
            if name not in PROBED:
                raise ValueError(f"host feature {name!r} cannot be probed")
        async with self._lock:
            for name in names:
                if self._state[name] is None:
                    self._state[name] = await self._probe_one(api, name)

    async def _probe_one(self, api: XvsApi, name: str) -> bool | None:
        try:
            await _probe_call(api, name)()
        except (NotFoundError, RequestRejectedError) as exc:
            log.info("host feature %s: enabled (probe answered %r)", name, exc.msg)
            return True
        except UnsupportedError as exc:
            log.info("host feature %s: disabled (%s)", name, exc.msg)
            return False
        except TransientError as exc:
            log.warning("host feature %s: unknown for now, will probe again (%s)", name, exc)
            return None
        except ApiError as exc:
            log.warning("host feature %s: unexpected probe answer, left unknown (%s)", name, exc)
            return None
        log.info("host feature %s: enabled (probe succeeded)", name)
        return True
