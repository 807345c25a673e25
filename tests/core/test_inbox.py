"""The webhook inbox: an acknowledged update is kept until it is handled, handled once by one replica, handled
again when its replica dies or the database was away, and given up after its tries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from otvet.config.settings import InboxSettings
from otvet.core.app import Otvet
from otvet.core.inbox import Inbox, postpone
from otvet.core.store import DatabaseUnavailable, InboxItem
from otvet.plugins.storage.models import InboxEntry
from tests.support.replicas import replicas as replicas_of
from tests.support.waiting import eventually

CHANNEL = "test"


async def statuses(otvet: Otvet) -> dict[str, str]:
    with otvet.store._current():  # type: ignore[attr-defined]
        return {e.key: e.status for e in await InboxEntry.all()}


async def has_statuses(otvet: Otvet, expected: dict[str, str]) -> bool:
    return await statuses(otvet) == expected


class Handler:
    """Records what it handled; ``behaviour`` decides per try what else it does."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, int]] = []
        self.behaviour: dict[str, Any] = {}

    async def __call__(self, item: InboxItem) -> None:
        self.handled.append((item.key, item.attempts))
        action = self.behaviour.get(item.key)
        if callable(action):
            await action(item)


def inbox(otvet: Otvet, handler: Handler, **settings: Any) -> Inbox:
    otvet.settings.inbox = InboxSettings(**{"poll_seconds": 0.05, **settings})
    box = Inbox(otvet, CHANNEL, handler, concurrency=8)
    box.start()
    return box


async def test_an_update_is_kept_handled_once_and_a_resend_is_not_handled_again(otvet: Otvet) -> None:
    handler = Handler()
    box = inbox(otvet, handler)
    try:
        assert await box.receive("1", '{"update_id": 1}')
        await eventually(lambda: handler.handled == [("1", 1)])
        await eventually(lambda: has_statuses(otvet, {"1": "done"}))
        # Telegram resends an update whose acknowledgement it did not get: acknowledged, not handled again.
        assert not await box.receive("1", '{"update_id": 1}')
        await asyncio.sleep(0.2)
        assert handler.handled == [("1", 1)]
    finally:
        await box.stop()


async def test_the_update_of_a_replica_that_died_is_handled_by_another_after_its_lease(otvet: Otvet) -> None:
    # The dead replica claimed the update and never finished it.
    await otvet.store.add_to_inbox(CHANNEL, "7", "{}")
    [claimed] = await otvet.store.claim_inbox(CHANNEL, "dead-replica", 10, lease_seconds=1.0)
    handler = Handler()
    box = inbox(otvet, handler, lease_seconds=1.0)
    try:
        await asyncio.sleep(0.3)
        assert handler.handled == []  # its lease still runs: the replica may be alive and busy
        await eventually(lambda: handler.handled == [("7", 2)])
        # The dead replica, had it been only slow, can no longer mark the update as its own.
        assert not await otvet.store.finish_inbox(claimed.id, "dead-replica")
    finally:
        await box.stop()


async def test_a_long_answer_keeps_its_lease_and_is_handled_only_once(otvet: Otvet) -> None:
    release = asyncio.Event()
    handler = Handler()

    async def slow(item: InboxItem) -> None:
        await release.wait()

    handler.behaviour["9"] = slow
    first = inbox(otvet, handler, lease_seconds=1.0)
    other = Inbox(otvet, CHANNEL, handler, concurrency=8)  # a second replica on the same database
    other.start()
    try:
        await first.receive("9", "{}")
        await asyncio.sleep(2.5)  # more than two leases: renewed, so the other replica never takes it over
        release.set()
        await eventually(lambda: has_statuses(otvet, {"9": "done"}))
        assert handler.handled == [("9", 1)]
    finally:
        await first.stop()
        await other.stop()


async def test_an_update_postponed_while_the_database_is_away_is_handled_again(otvet: Otvet) -> None:
    handler = Handler()

    async def database_away_once(item: InboxItem) -> None:
        if item.attempts == 1:
            assert postpone(0.3)

    handler.behaviour["3"] = database_away_once
    box = inbox(otvet, handler)
    try:
        await box.receive("3", "{}")
        await eventually(lambda: handler.handled == [("3", 1), ("3", 2)])
        await eventually(lambda: has_statuses(otvet, {"3": "done"}))
    finally:
        await box.stop()


async def test_an_update_that_fails_or_outlives_its_tries_is_given_up(otvet: Otvet) -> None:
    handler = Handler()

    async def broken(item: InboxItem) -> None:
        raise ValueError("a handler bug")

    async def always_postponed(item: InboxItem) -> None:
        # The last try may not postpone: the handler then tells the user, as without an inbox.
        assert postpone(0.01) is (item.attempts < 3)

    handler.behaviour = {"bug": broken, "away": always_postponed}
    box = inbox(otvet, handler, max_attempts=3)
    try:
        await box.receive("bug", "{}")
        await box.receive("away", "{}")
        await eventually(lambda: has_statuses(otvet, {"bug": "failed", "away": "done"}))
        assert handler.handled.count(("bug", 1)) == 1 and len(handler.handled) == 4
    finally:
        await box.stop()
    with otvet.store._current():  # type: ignore[attr-defined]
        assert "ValueError: a handler bug" in (await InboxEntry.get(key="bug")).error


def test_postpone_outside_an_inbox_update_says_no() -> None:
    # Long polling: nothing to hand back, so the caller tells the user.
    assert postpone(1.0) is False


async def test_receive_raises_when_the_database_is_away_so_the_webhook_does_not_acknowledge(
    otvet: Otvet, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def away(*args: Any, **kwargs: Any) -> bool:
        raise DatabaseUnavailable(retry_after=2.0)

    monkeypatch.setattr(otvet.store, "add_to_inbox", away)
    box = Inbox(otvet, CHANNEL, Handler(), concurrency=1)
    with pytest.raises(DatabaseUnavailable):
        await box.receive("1", "{}")


async def test_handled_updates_are_forgotten_after_the_keeping_time(otvet: Otvet) -> None:
    await otvet.store.add_to_inbox(CHANNEL, "old", "{}")
    [item] = await otvet.store.claim_inbox(CHANNEL, "me", 1, 30)
    assert await otvet.store.finish_inbox(item.id, "me")
    await otvet.store.add_to_inbox(CHANNEL, "waiting", "{}")
    assert await otvet.store.forget_inbox(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert await otvet.store.forget_inbox(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert await statuses(otvet) == {"waiting": "pending"}  # never an update still to handle
    assert await otvet.store.inbox_backlog(CHANNEL) == 1


@pytest.mark.postgres
async def test_replicas_claiming_at_once_never_take_the_same_update(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    async with replicas_of(postgres_cluster, tmp_path, 3) as replicas:
        for n in range(60):
            await replicas[0].store.add_to_inbox(CHANNEL, str(n), "{}")

        async def claim(n: int) -> list[str]:
            got: list[str] = []
            while batch := await replicas[n % 3].store.claim_inbox(CHANNEL, f"r{n}", 4, 30):
                got += [item.key for item in batch]
            return got

        claims = await asyncio.gather(*(claim(n) for n in range(6)))
    every = [key for got in claims for key in got]
    assert sorted(every, key=int) == [str(n) for n in range(60)]  # each once, none left behind


async def test_the_backlog_is_reported_to_prometheus(otvet: Otvet) -> None:
    release = asyncio.Event()
    handler = Handler()

    async def held(item: InboxItem) -> None:
        await release.wait()

    handler.behaviour = {"a": held, "b": held}
    box = inbox(otvet, handler)
    gauge = otvet.metrics.inbox_backlog.labels(CHANNEL)
    try:
        await box.receive("a", "{}")
        await box.receive("b", "{}")
        await otvet.metrics.refresh(otvet)
        assert gauge._value.get() == 2  # acknowledged, not answered
        release.set()
        await eventually(lambda: has_statuses(otvet, {"a": "done", "b": "done"}))
        await otvet.metrics.refresh(otvet)
        assert gauge._value.get() == 0
    finally:
        await box.stop()


async def test_a_stopping_replica_gives_back_what_it_is_still_answering_and_finishes_the_rest(
    otvet: Otvet,
) -> None:
    release = asyncio.Event()
    handler = Handler()

    async def held(item: InboxItem) -> None:
        if item.attempts == 1:
            await release.wait()

    handler.behaviour = {"cut": held}
    stopping = inbox(otvet, handler)
    await stopping.receive("cut", "{}")
    await stopping.receive("done", "{}")
    await eventually(lambda: has_statuses(otvet, {"cut": "processing", "done": "done"}))
    await stopping.stop()  # the drain is over: what is still being answered would be cut off
    assert await statuses(otvet) == {"cut": "pending", "done": "done"}
    successor = inbox(otvet, handler)  # another replica takes it at once, not after a lease
    try:
        await eventually(lambda: has_statuses(otvet, {"cut": "done", "done": "done"}), within=5)
        assert ("cut", 2) in handler.handled and handler.handled.count(("done", 1)) == 1
    finally:
        await successor.stop()
