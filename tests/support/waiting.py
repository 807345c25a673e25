"""Waiting for something another task or process does, by polling: a slow machine only makes a test slower,
never wrong (no test asserts a duration)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], within: float = 30.0, every: float = 0.05
) -> None:
    """Wait until ``check()`` (plain or async) holds; fail the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        held = check()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if loop.time() > deadline:
            raise AssertionError(f"the condition never held within {within} s")
        await asyncio.sleep(every)
