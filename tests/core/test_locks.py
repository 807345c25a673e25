"""Named in-process locks: one holder per name, none kept once nobody wants them, released on cancellation."""

from __future__ import annotations

import asyncio

from otvet.core.locks import NamedLocks


async def test_one_holder_per_name_and_other_names_run_alongside() -> None:
    locks = NamedLocks()
    inside: dict[str, int] = {"a": 0, "b": 0}
    peaks = {"a": 0, "b": 0}
    together = 0

    async def hold(name: str) -> None:
        nonlocal together
        async with locks.hold([name]):
            inside[name] += 1
            peaks[name] = max(peaks[name], inside[name])
            together = max(together, sum(inside.values()))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            inside[name] -= 1

    await asyncio.gather(*(hold(name) for name in "abab"))
    assert peaks == {"a": 1, "b": 1} and together == 2
    assert len(locks) == 0  # nothing kept for names nobody holds


async def test_two_names_taken_in_opposite_orders_do_not_deadlock() -> None:
    locks = NamedLocks()

    async def hold(names: list[str]) -> None:
        async with locks.hold(names):
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(hold(["x", "y"]), hold(["y", "x"])), timeout=5)
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_the_lock_usable() -> None:
    locks = NamedLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold(["k"]):
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await first
    assert waiter.cancelled() or waiter.done()
    async with locks.hold(["k"]):
        pass
    assert len(locks) == 0
