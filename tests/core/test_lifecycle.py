"""The lifecycle a stopping service relies on: work in progress, draining, hurrying, readiness checks."""

from __future__ import annotations

import asyncio

from otvet.core.lifecycle import Lifecycle


async def test_wait_idle_returns_when_the_last_exchange_ends() -> None:
    lifecycle = Lifecycle("api")
    release = asyncio.Event()

    async def exchange() -> None:
        with lifecycle.busy():
            await release.wait()

    tasks = [asyncio.create_task(exchange()) for _ in range(3)]
    await asyncio.sleep(0)
    assert lifecycle.in_progress == 3
    waiting = asyncio.create_task(lifecycle.wait_idle(10))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # three answers are still being written
    release.set()
    assert await waiting is True
    assert lifecycle.in_progress == 0
    await asyncio.gather(*tasks)


async def test_wait_idle_gives_up_after_its_timeout_and_reports_it() -> None:
    lifecycle = Lifecycle("api")
    with lifecycle.busy():
        assert await lifecycle.wait_idle(0.05) is False
    assert await lifecycle.wait_idle(0.05) is True  # nothing in progress: at once


async def test_hurry_ends_the_wait_at_once() -> None:
    lifecycle = Lifecycle("worker")
    with lifecycle.busy():
        waiting = asyncio.create_task(lifecycle.wait_idle(60))
        await asyncio.sleep(0.01)
        lifecycle.hurry()  # a second SIGTERM
        assert await asyncio.wait_for(waiting, 1) is False


async def test_draining_is_sticky_and_wakes_waiters() -> None:
    lifecycle = Lifecycle("serve")
    woken = asyncio.create_task(lifecycle.drain_started.wait())
    assert not lifecycle.draining
    lifecycle.begin_drain()
    lifecycle.begin_drain()  # idempotent
    await asyncio.wait_for(woken, 1)
    assert lifecycle.draining


async def test_readiness_checks_report_problems_and_failures_without_raising() -> None:
    lifecycle = Lifecycle("telegram")

    async def fine() -> str | None:
        return None

    async def polling_stopped() -> str | None:
        return "not polling"

    async def broken() -> str | None:
        raise RuntimeError("boom")

    lifecycle.add_check("a", fine)
    lifecycle.add_check("b", polling_stopped)
    lifecycle.add_check("c", broken)
    assert await lifecycle.run_checks() == {"a": None, "b": "not polling", "c": "check failed: RuntimeError"}
    lifecycle.remove_check("b")
    assert set(await lifecycle.run_checks()) == {"a", "c"}
