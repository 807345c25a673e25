"""What a running service knows about its own life: which service it is, the work in progress, draining on
SIGTERM, and the readiness checks its parts add.

Every frontend wraps one exchange (an answer being written, a Telegram update being handled) in
:meth:`Lifecycle.busy`, so that a service told to stop can wait for the answers it has started before it
closes its sockets: a rolling deploy then cuts nobody off mid-answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Literal

log = logging.getLogger(__name__)

#: Which command this process is: the parts a service runs, and what its readiness means, depend on it.
Service = Literal["serve", "api", "telegram", "worker", "cli"]
#: A readiness check: returns None when fine, else a short reason (shown by ``/readyz``).
ReadinessCheck = Callable[[], Awaitable[str | None]]


class Lifecycle:
    """Work in progress and draining, for one process. ``otvet.lifecycle``."""

    def __init__(self, service: Service = "cli") -> None:
        self.service: Service = service
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        #: Set when draining begins; sockets wait on it to close once their answer is written.
        self.drain_started = asyncio.Event()
        self._hurry = asyncio.Event()
        self._on_drain: list[Callable[[], None]] = []
        self.checks: dict[str, ReadinessCheck] = {}

    # --- work in progress -----------------------------------------------------------------------------------

    @property
    def in_progress(self) -> int:
        """Exchanges (answers, updates, jobs) running now."""
        return self._busy

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Count one exchange as in progress for as long as the ``with`` block runs."""
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    # --- draining -------------------------------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        """True once the service was told to stop: readiness fails, sockets close after their answer."""
        return self.drain_started.is_set()

    def begin_drain(self) -> None:
        """Stop taking new work; what is in progress goes on. Idempotent."""
        if self.drain_started.is_set():
            return
        self.drain_started.set()
        log.info("draining: %d exchange(s) in progress", self._busy)
        for callback in self._on_drain:
            callback()

    def when_draining(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the event loop) when draining begins, or now if it has.

        For a part that holds many connections: one callback for all of them instead of a task per
        connection waiting on :attr:`drain_started` (a task and its frame cost kilobytes each).
        """
        if self.drain_started.is_set():
            callback()
        else:
            self._on_drain.append(callback)

    def hurry(self) -> None:
        """Stop waiting for the work in progress (a second SIGTERM or Ctrl-C)."""
        self._hurry.set()

    async def wait_idle(self, timeout: float) -> bool:  # noqa: ASYNC109  (a deadline, not a cancel)
        """Wait up to ``timeout`` seconds (less after :meth:`hurry`) for the work in progress to end; True
        when it did."""
        if self._busy == 0:
            return True
        await wait_for_any((self._idle, self._hurry), timeout)
        if self._busy:
            log.warning("stopping with %d exchange(s) still in progress", self._busy)
            return False
        return True

    # --- readiness ------------------------------------------------------------------------------------------

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        """Add a readiness check (``/readyz`` reports it by ``name``); a second one of a name replaces it."""
        self.checks[name] = check

    def remove_check(self, name: str) -> None:
        self.checks.pop(name, None)

    async def run_checks(self) -> dict[str, str | None]:
        """Every added check's result: None when fine, else its reason; a check that raises is a failure."""
        results: dict[str, str | None] = {}
        for name, check in list(self.checks.items()):
            try:
                results[name] = await asyncio.wait_for(check(), 5)
            except Exception as exc:  # readiness must report, never raise
                results[name] = f"check failed: {type(exc).__name__}"
        return results


async def wait_for_any(events: Iterable[asyncio.Event], timeout: float | None) -> None:  # noqa: ASYNC109
    """Return once one of ``events`` is set, or after ``timeout`` seconds, whichever comes first."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
