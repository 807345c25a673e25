"""Calling a flaky remote service: retries with backoff and jitter, and a circuit breaker.

Shared by every plugin that talks to a model over the network (chat completions, embeddings), so that they
all behave the same under a rate limit or an outage: a bounded number of quick retries, the server's
``Retry-After`` honoured when it fits the caller's deadline, and, once a service keeps failing, an open
circuit that fails the next calls at once instead of making every user wait for the same timeout.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class RetryableError(Exception):
    """A failure worth another attempt (429, 5xx, a dropped connection, a timeout).

    ``retry_after`` is the server's own advice in seconds (the ``Retry-After`` header), when it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, code: str = "unavailable") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code


class CircuitOpenError(Exception):
    """The circuit is open: the service failed repeatedly and is not being called until the cool-down ends."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"{name} is failing; not calling it for another {retry_in:.0f}s")
        self.retry_in = retry_in


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry. ``attempts`` counts the first call too."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: Retry-After values longer than this are not waited for: the call fails (and the caller falls back).
    max_retry_after: float = 20.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` is 1 after the first failure).

        The server's ``Retry-After`` wins when it gave one; otherwise exponential backoff with "full jitter"
        (a random wait between half and all of the backoff), so that many clients that failed together do
        not all come back in the same instant.
        """
        if retry_after is not None and retry_after >= 0:
            return retry_after
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return backoff * random.uniform(0.5, 1.0)


@dataclass
class CircuitBreaker:
    """Closed → open after ``failures`` consecutive failures → half-open after ``reset_seconds``.

    While open, :meth:`check` raises :class:`CircuitOpenError` at once. Once the cool-down has passed, one
    caller is let through as a probe (half-open); its success closes the circuit, its failure opens it again.
    A breaker lives as long as its client, so it is per process: every replica finds out for itself.
    """

    name: str
    failures: int = 5
    reset_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _consecutive: int = field(default=0, init=False)
    _opened_at: float | None = field(default=None, init=False)
    _probing: bool = field(default=False, init=False)

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._probing or self.clock() - self._opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def check(self) -> None:
        """Raise :class:`CircuitOpenError` unless a call may go out now."""
        if self._opened_at is None or self.failures <= 0:
            return
        waited = self.clock() - self._opened_at
        if waited < self.reset_seconds:
            raise CircuitOpenError(self.name, self.reset_seconds - waited)
        if self._probing:  # someone else is already finding out whether the service is back
            raise CircuitOpenError(self.name, 0)
        self._probing = True

    def success(self) -> None:
        if self._opened_at is not None:
            log.info("%s answers again: circuit closed", self.name)
        self._consecutive, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        self._consecutive += 1
        was_probing, self._probing = self._probing, False
        if self.failures > 0 and (was_probing or self._consecutive >= self.failures):
            if self._opened_at is None or was_probing:
                log.warning(
                    "%s failed %d times in a row: not calling it for %.0fs",
                    self.name,
                    self._consecutive,
                    self.reset_seconds,
                )
            self._opened_at = self.clock()

    def release(self) -> None:
        """A probe ended without a verdict (the caller left): let the next caller probe instead."""
        self._probing = False


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    breaker: CircuitBreaker | None = None,
    deadline: float | None = None,
    what: str = "call",
) -> T:
    """Run ``call`` until it succeeds, retrying on :class:`RetryableError` as ``policy`` allows.

    ``deadline`` (a ``loop.time()`` value) stops retrying when the next wait would end past it, so a caller
    with a time budget gets the failure while it can still do something else (answer from the knowledge base).
    Any other exception is not retried: a 400 or a 401 will not succeed the second time. The breaker is told
    about every outcome and is checked before every attempt.
    """
    attempt = 0
    loop = asyncio.get_running_loop()
    while True:
        attempt += 1
        if breaker is not None:
            breaker.check()
        try:
            result = await call()
        except RetryableError as exc:
            if breaker is not None:
                breaker.failure()
            if attempt >= policy.attempts:
                raise
            if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
                log.warning("%s: server asks to wait %.0fs, too long to retry", what, exc.retry_after)
                raise
            wait = policy.delay(attempt, exc.retry_after)
            if deadline is not None and loop.time() + wait >= deadline:
                raise
            log.warning("%s failed (%s); retry %d in %.2fs", what, exc, attempt, wait)
            await asyncio.sleep(wait)
        except BaseException:
            if breaker is not None:
                breaker.release()
            raise
        else:
            if breaker is not None:
                breaker.success()
            return result
