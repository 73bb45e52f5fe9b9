"""A keyed cache of remote answers: TTL, one shared call in flight, stale data when the API fails.

Listings and `file/info` batches both follow the same rules, so they live here once:
- an answer younger than the TTL is served without a call;
- concurrent askers of the same missing key share ONE call;
- every call is bounded by a budget; when it fails or runs out, a stale answer is served if there
  is one, else the caller gets `VfsError(EIO)`; the next ask tries again (the mount heals itself);
- `invalidate` drops one key (our own changes), `forget_all` drops everything, `expire_all`
  makes everything old (SIGHUP: asked again, but still there to fall back on);
- once the loader has a `nursery` (the mount's background work), an expired answer is asked
  again THERE, in the BACKGROUND lane, and the asker waits for it at most `grace` (0.5 s): a
  quick host gives the new answer, a slow or rate-limited one the last answer at once, and the
  new one lands in the cache when it comes. So a folder that was listed once never waits on the
  host's quota again, not even after its TTL, and a refresh never takes an interactive turn.

Freshness is a `cachetools.TTLCache` on the loader's clock: it owns the "younger than the TTL"
rule. It cannot hold the answers themselves: TTLCache drops an entry once it expires, and an
expired answer is exactly what the stale-on-error rule and `peek` (views built without a call)
serve. So the last answer of every key stays in a plain dict beside it, unbounded as the
folders of the account are; a bound on the TTLCache would bound no memory, only add calls.

Owns: the cache of answers, the shared flights, the stale fallback and background refreshes.
Imports: cachetools, trio, vipfs.api (errors, lanes), vipfs.vfs (errors, guard).
"""

from __future__ import annotations

import errno
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import trio
from cachetools import TTLCache

from vipfs.api.errors import ApiError
from vipfs.api.lanes import Lane, lane
from vipfs.vfs.errors import VfsError, from_api, no_answer
from vipfs.vfs.guard import never_fatal

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

Clock = Callable[[], float]

GRACE = 0.5  # seconds an asker holding an expired answer waits for the new one


class _Flight(Generic[V]):
    """One call in progress; waiters read `value` or `error` once `done` is set."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.value: V | None = None
        self.error: VfsError | None = None


class Loader(Generic[K, V]):
    def __init__(
        self,
        fetch: Callable[[K], Awaitable[V]],
        *,
        ttl: float,
        budget: float = 30.0,
        clock: Clock = time.monotonic,
        what: str = "listing",
    ) -> None:
        self._fetch = fetch
        self.budget = budget
        self.grace = min(GRACE, budget)
        self.nursery: trio.Nursery | None = None  # where expired answers are asked again
        self._what = what
        # key → answer while it is fresh; `_last` keeps it after (see the module docstring)
        self._fresh: TTLCache[K, V] = TTLCache(maxsize=math.inf, ttl=ttl, timer=clock)
        self._last: dict[K, V] = {}
        self._flights: dict[K, _Flight[V]] = {}
        self._generation: dict[K, int] = {}

    def peek(self, key: K) -> V | None:
        """The cached answer, fresh or stale, without any call."""
        return self._last.get(key)

    def put(self, key: K, value: V) -> None:
        """Store an answer obtained elsewhere (e.g. our own change already applied)."""
        self._last[key] = self._fresh[key] = value

    def invalidate(self, key: K) -> None:
        self._fresh.pop(key, None)
        self._last.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1

    def expire(self, key: K) -> None:
        """One answer counts as expired: the next ask fetches it again (in the background,
        once the loader has a nursery), the last answer still there to fall back on."""
        self._fresh.pop(key, None)

    def forget_all(self) -> None:
        for key in list(self._last):
            self.invalidate(key)

    def expire_all(self) -> None:
        """SIGHUP: every answer counts as expired (the next ask fetches it again), and calls
        in flight are not taken as new; the last answers stay, for the stale fallback."""
        self._fresh.clear()
        for key in {*self._last, *self._flights}:
            self._generation[key] = self._generation.get(key, 0) + 1

    async def get(self, key: K) -> V:
        try:
            return self._fresh[key]  # one look at the clock: `in` then `[]` could disagree
        except KeyError:
            pass
        stale = key in self._last
        flight = self._flights.get(key)
        if flight is None:
            if not stale or self.nursery is None:
                return await self._lead(key)
            flight = self._flights[key] = _Flight()
            what = f"the refresh of the {self._what} {key}"
            self.nursery.start_soon(never_fatal, what, self._refresh, key, flight)
        with trio.move_on_after(self.grace if stale else self.budget):
            await flight.done.wait()
        if flight.value is not None:
            return flight.value
        if not flight.done.is_set() and key in self._last:
            return self._last[key]  # the new answer lands in the cache when it comes
        return self._fallback(key, flight.error)

    async def _lead(self, key: K) -> V:
        flight: _Flight[V] = _Flight()
        self._flights[key] = flight
        await self._fly(key, flight)
        if flight.value is not None:
            return flight.value
        return self._fallback(key, flight.error)

    async def _refresh(self, key: K, flight: _Flight[V]) -> None:
        """Ask again for an expired answer that is being served meanwhile; nobody waits."""
        with lane(Lane.BACKGROUND):
            await self._fly(key, flight)
        if flight.error is not None:
            log.info("could not refresh the %s for %s: %s", self._what, key, flight.error.why)

    async def _fly(self, key: K, flight: _Flight[V]) -> None:
        """One call within the budget; its answer (or failure) ends up in `flight`."""
        generation = self._generation.get(key, 0)
        try:
            with trio.move_on_after(self.budget):
                try:
                    value = await self._fetch(key)
                except VfsError as exc:
                    flight.error = exc
                except ApiError as exc:
                    flight.error = from_api(exc, f"{self._what} {key}")
                else:
                    flight.value = value
                    if self._generation.get(key, 0) == generation:
                        self.put(key, value)
                    return
            if flight.error is None:
                flight.error = no_answer(f"{self._what} {key}", self.budget)
        finally:
            del self._flights[key]
            flight.done.set()

    def _fallback(self, key: K, error: VfsError | None) -> V:
        if error is None:
            error = VfsError(errno.EIO, f"{self._what} {key}: no answer")
        if key in self._last and error.errno != errno.ENOENT:
            log.info("serving a stale %s for %s: %s", self._what, key, error.why)
            return self._last[key]
        raise error
