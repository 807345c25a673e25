"""``otvet api --workers N`` as an operator runs it: N processes answer on one port, SIGTERM drains them all
(answers in progress finish, nothing new is accepted, exit 0), and a worker that dies unasked takes the
service down with it rather than leaving it running at part strength unnoticed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.integration.test_services import ask_key, openai_env, scrape, slow_stream, words_of
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Service, service
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow
SLOW_WORDS = 12  # one word every 0.15 s: an answer takes about 2 s


def children(pid: int) -> list[int]:
    """The supervisor's worker processes (Linux: /proc/PID/task/PID/children)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def alive(pid: int) -> bool:
    """Whether the process exists (a reaped worker does not)."""
    return Path(f"/proc/{pid}").exists()


async def both_workers_serve(api: Service) -> None:
    """Wait until the supervisor has both workers and each has answered ``/metrics`` (told apart by their
    start times), each request on a new connection, which the kernel hands to some worker. The service
    reads ready as soon as the first worker serves: the second starts after it."""
    await eventually(lambda: len(children(api.process.pid)) == 2)
    seen: set[float] = set()

    async def two_seen() -> bool:
        seen.add((await scrape(api.base))[("process_start_time_seconds", ())])
        return len(seen) == 2

    await eventually(two_seen, every=0.01)


async def test_two_workers_share_the_port_and_all_drain_on_sigterm(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.default_deltas, fake.default_delay = ["word "] * SLOW_WORDS, 0.15
        env = openai_env(tmp_path, fake)
        key = await ask_key(env, tmp_path)
        async with service("api", env, tmp_path, args=("--workers", "2"), ready_path="/readyz") as api:
            await both_workers_serve(api)
            workers = children(api.process.pid)

            async with contextlib.AsyncExitStack() as stack:
                streams = [
                    await stack.enter_async_context(slow_stream(api.base, key, f"Question {n}?"))
                    for n in range(4)
                ]
                firsts = [await anext(lines) for lines in streams]
                api.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                with pytest.raises(httpx.ConnectError):  # every worker's copy of the listener is closed
                    async with httpx.AsyncClient() as client:
                        await client.get(f"{api.base}/healthz")
                for lines, first in zip(streams, firsts, strict=True):
                    rest = [line async for line in lines]
                    assert "data: [DONE]" in rest
                    assert words_of([first, *rest]).strip() == " ".join(["word"] * SLOW_WORDS)
            assert await api.stop() == 0
            assert not any(alive(pid) for pid in workers)
        log = await api.stderr()
        assert log.count("draining:") == 2 and "still in progress" not in log, log


async def test_a_worker_dying_unasked_stops_the_service_with_an_error(tmp_path: Path) -> None:
    env = openai_env(tmp_path, FakeOpenAI())  # never asked: no answer is wanted here
    async with service("api", env, tmp_path, args=("--workers", "2"), ready_path="/readyz") as api:
        await both_workers_serve(api)
        first, second = children(api.process.pid)
        os.kill(first, signal.SIGKILL)
        assert await asyncio.wait_for(api.process.wait(), timeout=30) not in (0, None)
        assert not alive(second)  # the other worker was stopped, not left serving
    assert "exited (-9) unasked" in await api.stderr()
