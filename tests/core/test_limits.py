"""Rate limits shared by every replica: a sliding estimate over two fixed windows, counted in the database
by one statement that checks and counts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from otvet.core.app import Otvet
from otvet.core.limits import Counts, SharedRateLimiter, SlotLimit, allowed_now, wait
from tests.conftest import make_settings
from tests.support.replicas import replicas

T0 = 1_900_000_020.0  # 20 s into a 60-second window


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_previous_window_counts_by_how_much_of_it_is_still_in_view() -> None:
    # 20 s into the window, two thirds of the previous one are still within the last 60 s.
    assert allowed_now(Counts(previous=6, current=0, into=20.0), limit=10, window=60) == 6  # 10 - 4
    assert allowed_now(Counts(previous=0, current=0, into=0.0), limit=10, window=60) == 10
    assert allowed_now(Counts(previous=15, current=0, into=0.0), limit=10, window=60) <= 0


def test_the_wait_is_enough_and_not_much_more() -> None:
    counts = Counts(previous=0, current=10, into=20.0)
    later = wait(counts, 10, 60)
    # In the next window the 10 hits are carried at the weight that lets exactly one more in.
    after = Counts(previous=10, current=0, into=later - (60 - 20))
    assert allowed_now(after, 10, 60) == 1 and later == pytest.approx(40.0, abs=0.01)
    counts = Counts(previous=9, current=3, into=30.0)  # 4.5 carried + 3 = 7.5 of 8
    assert allowed_now(counts, 8, 60) == 4 and counts.current < 4  # allowed now: no wait needed
    full = Counts(previous=9, current=4, into=30.0)
    later = wait(full, 8, 60)
    assert allowed_now(Counts(9, 4, 30.0 + later), 8, 60) > 4


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_hits_over_the_limit_are_refused_not_counted_and_waiting_is_enough(
    otvet: Otvet, clock: Clock
) -> None:
    limiter = SharedRateLimiter(lambda: otvet.store, "test", 3, clock=clock)
    assert [await limiter.hit("a") for _ in range(3)] == [None, None, None]
    refused = await limiter.hit("a")
    assert refused is not None and 0 < refused <= 61
    assert await limiter.over("a") is not None  # asking does not count
    assert await limiter.hit("b") is None  # per key
    clock.now += refused
    assert await limiter.hit("a") is None
    assert await SharedRateLimiter(lambda: otvet.store, "off", 0, clock=clock).hit("a") is None


async def test_long_keys_are_stored_as_a_digest_and_stay_apart(otvet: Otvet, clock: Clock) -> None:
    limiter = SharedRateLimiter(lambda: otvet.store, "test", 1, clock=clock)
    assert await limiter.hit("x" * 1000 + "1") is None
    assert await limiter.hit("x" * 1000 + "2") is None
    assert await limiter.hit("x" * 1000 + "1") is not None


async def test_windows_no_limit_needs_are_forgotten(otvet: Otvet, clock: Clock) -> None:
    limiter = SharedRateLimiter(lambda: otvet.store, "test", 5, clock=clock)
    await limiter.hit("old")
    clock.now += 3 * 60
    await limiter.hit("new")
    start = int(clock.now // 60 * 60)
    assert await otvet.store.window_hits("test:old", 0) == {}
    assert await otvet.store.window_hits("test:new", 0) == {start: 1}


@pytest.mark.postgres
async def test_two_replicas_share_one_limit_exactly(postgres_cluster: Any, tmp_path: Path) -> None:
    url = await postgres_cluster.create_database()
    replicas = [Otvet(make_settings(tmp_path / str(n), url)) for n in range(2)]
    for replica in replicas:
        await replica.start()
    try:
        clock = Clock()
        limiters = [SharedRateLimiter(lambda r=r: r.store, "api", 5, clock=clock) for r in replicas]
        results = await asyncio.gather(*(limiters[n % 2].hit("key:1") for n in range(20)))
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))
    assert sum(result is None for result in results) == 5


async def test_a_slot_is_taken_in_every_window_or_in_none(otvet: Otvet) -> None:
    store = otvet.store
    bot, chat = SlotLimit("bot", 3, 1.0), SlotLimit("bot:7", 2, 10.0)
    assert await store.take_slot([bot, chat]) == [0.0, 0.0]
    assert await store.take_slot([bot, chat]) == [0.0, 0.0]
    # The chat's window is full: nothing is taken, and it says how long until it has room.
    bot_wait, chat_wait = await store.take_slot([bot, chat])
    assert bot_wait == 0.0 and 9.0 < chat_wait <= 10.0
    # So the bot's window still has its third slot, for another chat.
    assert await store.take_slot([bot, SlotLimit("bot:8", 2, 10.0)]) == [0.0, 0.0]
    (bot_wait,) = await store.take_slot([bot])
    assert 0.0 < bot_wait <= 1.0
    await asyncio.sleep(bot_wait)
    assert await store.take_slot([bot]) == [0.0]  # the oldest slot left the window exactly then
    assert await store.forget_slots(0.0) == 7
    assert await store.take_slot([chat]) == [0.0]


@pytest.mark.postgres
async def test_two_replicas_never_take_more_slots_than_a_window_holds(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    limit = SlotLimit("telegram:1", 5, 30.0)
    async with replicas(postgres_cluster, tmp_path, 2) as started:
        results = await asyncio.gather(
            *(
                started[n % 2].store.take_slot([limit, SlotLimit(f"telegram:1:{n % 3}", 9, 30.0)])
                for n in range(40)
            )
        )
    assert sum(waits == [0.0, 0.0] for waits in results) == 5
    assert all(0.0 < waits[0] <= 30.0 for waits in results if waits != [0.0, 0.0])
