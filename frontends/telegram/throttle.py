"""Pace the edits of a streamed answer so a chat stays under Telegram's flood limits.

Telegram allows about one message per second in a private chat and about 20 per minute in a group, and an
edit counts as a message; going faster earns ``RetryAfter`` errors that stall the whole answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def interval_for(chat_type: str, private_interval: float = 1.0, group_interval: float = 3.0) -> float:
    """Seconds between edits for a chat type (``private``, ``group``, ``supergroup``, ``channel``...).

    Anything but a private chat gets the group pace (3 s is 20 edits a minute), the safe choice for a chat
    type we do not know.
    """
    return private_interval if chat_type == "private" else group_interval


class EditThrottle:
    """When the message being streamed may be edited next: one throttle per streamed message.

    Use ``await throttle.wait()`` (or skip the edit when ``not throttle.ready()``), edit, then
    ``throttle.mark()``. The first edit is never delayed. It is not a lock: one task streams one message,
    so two coroutines waiting on the same throttle would both wake at the same time.
    """

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval must not be negative, got {interval}")
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None

    def remaining(self) -> float:
        """Seconds until the next edit is allowed; 0 when it is allowed now."""
        if self._last is None:
            return 0.0
        return max(0.0, self._last + self.interval - self._clock())

    def ready(self) -> bool:
        """Whether an edit is allowed now, without waiting."""
        return self.remaining() == 0.0

    async def wait(self) -> None:
        """Sleep until an edit is allowed; returns at once when it already is."""
        delay = self.remaining()
        if delay > 0:
            await self._sleep(delay)

    def mark(self) -> None:
        """Record that an edit was just sent; the next one waits ``interval`` from now."""
        self._last = self._clock()
