"""Rate limits: :class:`SharedRateLimiter`, which every replica shares (requests per API key, login attempts
per address, failed logins per account), and :class:`RateLimiter`, a process's own (the widget's flood
guards, checked on every frame, where a database statement each would cost more than the flood). Two
replicas must not double a shared limit, so its counts live in the database (``Store.count_hit``).

Each key is counted in fixed windows of ``window`` seconds; a hit is allowed while the *sliding* estimate
(the previous window's hits weighted by how much of it still lies within the last ``window`` seconds,
plus the current window's) is under the limit. That is the usual approximation of a sliding window with two
counters: it never lets a burst at a window's edge through twice, and it costs one read (cached for the
window) and one statement per hit. A refused hit is not counted, so waiting the given time is enough.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otvet.core.store import Store

#: Keys longer than this are stored as a digest (a username or an address is far shorter).
MAX_KEY = 200


@dataclass(frozen=True, slots=True)
class SlotLimit:
    """At most ``count`` uses of ``key`` in any ``seconds`` long stretch: an exact sliding window, shared
    by every replica through the store (``Store.take_slot``), for limits that must never be exceeded (a
    Telegram bot's messages, which Telegram punishes with a pause)."""

    key: str
    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Counts:
    """The hits of the previous and the current window, and how far into the current one ``now`` is."""

    previous: int
    current: int
    into: float


def allowed_now(counts: Counts, limit: int, window: float) -> int:
    """How many hits the current window may already hold for one more to keep the estimate under ``limit``."""
    carried = counts.previous * (1 - counts.into / window)
    return math.ceil(limit - carried - 1e-9)


def wait(counts: Counts, limit: int, window: float) -> float:
    """Seconds until a hit would be allowed, if nothing else is counted meanwhile."""
    if counts.current >= limit:
        # Only the next window lets it in, once enough of this one's hits have slid out of view.
        return window - counts.into + window * max(0.0, 1 - limit / counts.current) + 0.001
    if counts.previous <= 0:
        return 0.001
    # The previous window's weight must fall until the estimate is under the limit.
    return max(window * (1 - (limit - counts.current) / counts.previous) - counts.into, 0.0) + 0.001


class SharedRateLimiter:
    """``limit`` hits per ``window`` seconds per key, for every process on the store's database.

    ``store`` is called for the store on each use (a frontend builds its limiter before the store
    connects). ``clock`` is wall-clock seconds: every replica must agree on the windows.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        name: str,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.name = name
        self.limit = limit
        self.window = window
        self.clock = clock
        #: Previous windows' counts by (key, start): closed, so read once.
        self._previous: dict[tuple[str, int], int] = {}
        self._forget_after = 0.0

    def _key(self, key: str) -> str:
        full = f"{self.name}:{key}"
        if len(full) <= MAX_KEY:
            return full
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        return f"{self.name}:#{digest}"

    def _start(self, now: float) -> int:
        return int(now // self.window * self.window)

    async def _counts(self, key: str, now: float, start: int) -> Counts:
        width = int(self.window)
        previous = self._previous.get((key, start - width))
        hits = await self.store().window_hits(key, start - width if previous is None else start)
        if previous is None:
            previous = hits.get(start - width, 0)
            if len(self._previous) > 10_000:
                self._previous.clear()
            self._previous[(key, start - width)] = previous
        return Counts(previous, hits.get(start, 0), now - start)

    async def hit(self, key: str) -> float | None:
        """Count a hit by ``key``: None when allowed, else seconds until one would be (not counted)."""
        if self.limit <= 0:
            return None
        now = self.clock()
        stored, start = self._key(key), self._start(now)
        width = int(self.window)
        previous = self._previous.get((stored, start - width))
        if previous is None:
            counts = await self._counts(stored, now, start)
        else:
            counts = Counts(previous, 0, now - start)
        store = self.store()
        counted = await store.count_hit(
            stored, start, start + 2 * width, allowed_now(counts, self.limit, self.window)
        )
        await self._forget(now)
        if counted is not None:
            return None
        return wait(await self._counts(stored, now, start), self.limit, self.window)

    async def over(self, key: str) -> float | None:
        """Whether ``key`` is over its limit now, without counting: seconds to wait, or None."""
        if self.limit <= 0:
            return None
        now = self.clock()
        stored, start = self._key(key), self._start(now)
        counts = await self._counts(stored, now, start)
        if counts.current < allowed_now(counts, self.limit, self.window):
            return None
        return wait(counts, self.limit, self.window)

    async def _forget(self, now: float) -> None:
        # Now and then, rows no window needs any more go: at most once a window per process.
        if now >= self._forget_after:
            self._forget_after = now + self.window
            await self.store().forget_windows(int(now))


class RateLimiter:
    """A sliding window of ``limit`` requests per ``window`` seconds per key, in this process only."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Count a request by ``key``; None when allowed, else seconds until one would be (not counted)."""
        if self.limit <= 0:
            return None
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            # The oldest request in the window leaves it at hits[0] + window; a refusal is not counted, so
            # waiting that long is always enough.
            return max(hits[0] + self.window - now, 0.001)
        hits.append(now)
        self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        # Keys whose window is empty are dropped now and then, so the map stays as small as the set of
        # recently active principals.
        if len(self._hits) > 1024:
            for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                del self._hits[key]
