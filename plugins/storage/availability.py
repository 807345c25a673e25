"""Whether the database is reachable, as every store call and a background check find out, so that an outage
costs users a quick "unavailable" instead of a hang, and operators one log line when it starts and one when
it ends instead of a traceback per request.

A store call that fails because the database is down, stopped, restarting, frozen (a statement timed out) or
unreachable marks the database *down* and raises :class:`~otvet.core.store.DatabaseUnavailable`. While it is
down, calls fail at once without touching the pool (whose connections may all be stuck on a frozen server),
and a background check pings it every ``check_seconds``; the first ping that answers marks it *up* again, so
the service recovers by itself. The check also finds a frozen database that no request has touched yet:
its ping gets no answer within ``ready_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from otvet.core.store import DatabaseUnavailable

log = logging.getLogger("otvet.storage")

#: What a database going away raises, besides the classes below: the OS's connection errors and timeouts.
_OUTAGE_TYPES: tuple[type[BaseException], ...] = (OSError, TimeoutError, socket.gaierror)


def _driver_outage_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    try:
        import asyncpg
        from asyncpg import exceptions as pg

        found += [
            asyncpg.PostgresConnectionError,  # connection failures, "too many connections"...
            pg.ConnectionDoesNotExistError,
            pg.AdminShutdownError,  # "terminating connection due to administrator command"
            pg.CannotConnectNowError,  # "the database system is starting up / shutting down"
            pg.CrashShutdownError,
            pg.ConnectionFailureError,
        ]
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        pass
    from tortoise.exceptions import DBConnectionError

    found.append(DBConnectionError)
    return tuple(found)


_DRIVER_OUTAGES = _driver_outage_types()
#: asyncpg's InterfaceError is also a programming error; only these messages mean the connection is gone.
_GONE = ("connection is closed", "pool is closing", "pool is closed", "connection was closed")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) means the database cannot be reached, rather than a bad
    query or a constraint: the ORM wraps the driver's errors, so the whole chain is looked at."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _OUTAGE_TYPES + _DRIVER_OUTAGES):
            return True
        if type(current).__name__ == "InterfaceError" and any(text in str(current) for text in _GONE):
            return True
        current = current.__cause__ or current.__context__
    return False


class Availability:
    """The database's state as this process sees it: up, or down since a moment, with the reason."""

    def __init__(self, *, retry_after: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_after = retry_after
        self.clock = clock
        self.down_since: float | None = None
        self.reason = ""
        #: Calls fail fast while down only when a check runs to notice the end of the outage.
        self.checking = False

    @property
    def up(self) -> bool:
        return self.down_since is None

    def refuse_if_down(self) -> None:
        if self.down_since is not None and self.checking:
            raise DatabaseUnavailable(self.reason, retry_after=self.retry_after)

    def failed(self, exc: BaseException) -> DatabaseUnavailable:
        """Record an outage ``exc`` showed; the error to raise instead of it."""
        reason = _describe(exc)
        if self.down_since is None:
            self.down_since = self.clock()
            self.reason = reason
            log.error("the database is unavailable (%s): requests get 'unavailable' until it is back", reason)
        return DatabaseUnavailable(reason, retry_after=self.retry_after)

    def succeeded(self) -> None:
        if self.down_since is not None:
            lasted = self.clock() - self.down_since
            self.down_since = None
            log.warning("the database is available again after %.1f s", lasted)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer in time"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


class _PoolNoise(logging.Filter):
    """asyncpg's pool logs a traceback each time it fails to reopen its idle connections: during an outage
    that is the outage again, already logged once; otherwise one line is enough."""

    def __init__(self, availability: Availability) -> None:
        super().__init__()
        self.availability = availability

    def filter(self, record: logging.LogRecord) -> bool:
        if "connection floor" not in record.getMessage():
            return True
        record.exc_info = record.exc_text = None
        return self.availability.up


class Checker:
    """Pings the database every ``every`` seconds in the background (``ping`` must not raise), each ping
    given ``deadline`` seconds: no answer by then counts as down, and the ping is left to finish on its own
    rather than waited for (a frozen server makes cancelling a query wait too). One ping at a time."""

    def __init__(
        self,
        ping: Callable[[], Awaitable[bool]],
        availability: Availability,
        *,
        every: float,
        deadline: float,
    ) -> None:
        self._ping = ping
        self.availability = availability
        self.every = every
        self.deadline = deadline
        self._pending: asyncio.Task[bool] | None = None
        self._loop: asyncio.Task[None] | None = None
        self._noise = _PoolNoise(availability)

    async def check(self) -> bool:
        """One ping within the deadline: whether the database answered (the state is updated)."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self._ping())
        done, _ = await asyncio.wait({self._pending}, timeout=self.deadline)
        answered = bool(done) and not self._pending.cancelled() and self._pending.exception() is None
        ok = answered and self._pending.result()
        if ok:
            self.availability.succeeded()
        elif self.availability.up:
            self.availability.failed(TimeoutError() if not done else ConnectionError("the ping failed"))
        return ok

    def start(self) -> None:
        if self._loop is None and self.every > 0:
            self.availability.checking = True
            logging.getLogger("asyncpg.pool").addFilter(self._noise)
            self._loop = asyncio.get_running_loop().create_task(self._run(), name="otvet-database-check")

    async def stop(self) -> None:
        self.availability.checking = False
        logging.getLogger("asyncpg.pool").removeFilter(self._noise)
        for task in (self._loop, self._pending):
            if task is not None and not task.done():
                task.cancel()
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        self._loop = None

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the check must keep running whatever a ping does
                log.exception("the database check failed")
            await asyncio.sleep(self.every)
