"""EditThrottle and interval_for: paced edits measured on a fake clock, so nothing really sleeps."""

from __future__ import annotations

import time

import pytest
from telegram.constants import ChatType

from otvet.frontends.telegram.throttle import EditThrottle, interval_for


class FakeClock:
    """A clock that only moves when told to, or when the throttle sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_the_first_edit_is_never_delayed(clock: FakeClock) -> None:
    throttle = EditThrottle(1.0, clock=clock, sleep=clock.sleep)
    assert throttle.ready() and throttle.remaining() == 0.0
    await throttle.wait()
    assert clock.sleeps == []


async def test_wait_sleeps_out_the_rest_of_the_interval_since_the_last_edit(clock: FakeClock) -> None:
    throttle = EditThrottle(3.0, clock=clock, sleep=clock.sleep)
    throttle.mark()
    assert not throttle.ready()
    clock.now += 1.0
    assert throttle.remaining() == pytest.approx(2.0)
    await throttle.wait()
    assert clock.sleeps == [pytest.approx(2.0)]
    assert throttle.ready()


async def test_no_wait_once_the_interval_has_passed(clock: FakeClock) -> None:
    throttle = EditThrottle(1.0, clock=clock, sleep=clock.sleep)
    throttle.mark()
    clock.now += 1.0
    assert throttle.ready()
    clock.now += 5.0
    await throttle.wait()
    assert clock.sleeps == []


async def test_each_mark_starts_a_new_interval(clock: FakeClock) -> None:
    throttle = EditThrottle(1.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await throttle.wait()
        throttle.mark()
    # Three edits in a row: the first at once, then one interval apart.
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]
    assert clock.now == pytest.approx(102.0)


async def test_wait_does_not_record_an_edit(clock: FakeClock) -> None:
    throttle = EditThrottle(1.0, clock=clock, sleep=clock.sleep)
    await throttle.wait()
    await throttle.wait()
    assert throttle.ready() and clock.sleeps == []


async def test_a_zero_interval_never_waits(clock: FakeClock) -> None:
    throttle = EditThrottle(0.0, clock=clock, sleep=clock.sleep)
    throttle.mark()
    assert throttle.ready()
    await throttle.wait()
    assert clock.sleeps == []


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        EditThrottle(-1.0)


async def test_defaults_use_the_real_clock_and_asyncio_sleep() -> None:
    throttle = EditThrottle(0.005)
    throttle.mark()
    started = time.monotonic()
    await throttle.wait()
    # asyncio may wake up to one clock resolution early; Telegram's limits are not that precise.
    assert time.monotonic() - started >= 0.004


@pytest.mark.parametrize(
    ("chat_type", "expected"),
    [
        ("private", 1.0),
        (ChatType.PRIVATE, 1.0),
        ("group", 3.0),
        (ChatType.SUPERGROUP, 3.0),
        ("channel", 3.0),
        ("something-new", 3.0),
    ],
)
def test_interval_for_paces_groups_slower_than_private_chats(chat_type: str, expected: float) -> None:
    assert interval_for(chat_type) == expected


def test_interval_for_takes_configured_intervals() -> None:
    assert interval_for("private", private_interval=0.5, group_interval=4.0) == 0.5
    assert interval_for("supergroup", private_interval=0.5, group_interval=4.0) == 4.0
