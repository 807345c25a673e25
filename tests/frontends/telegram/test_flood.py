"""Telegram's flood limits: the budget goes to answers, no chat and no second goes over Telegram's limits,
and Telegram's own "retry after" is waited out for the chat it was about."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from telegram.error import RetryAfter

from otvet.core.store import DatabaseUnavailable
from otvet.frontends.telegram.flood import FloodLimiter, Limit
from tests.frontends.telegram.conftest import BotEnv
from tests.support.fake_telegram import SLACK
from tests.support.replicas import replicas

if TYPE_CHECKING:
    from otvet.core.store import Store

pytestmark = pytest.mark.slow


class Recorder:
    """The Bot API as the limiter sees it: records when each call went out, can answer RetryAfter."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object, float]] = []
        self.flood: dict[object, int] = {}  # chat → RetryAfter answers still to give

    def call(self, endpoint: str, chat_id: object) -> Any:
        async def callback() -> bool:
            if self.flood.get(chat_id):
                self.flood[chat_id] -= 1
                raise RetryAfter(1)
            self.sent.append((endpoint, chat_id, time.monotonic()))
            return True

        return callback

    def times(self, chat_id: object) -> list[float]:
        return [at for endpoint, chat, at in self.sent if chat == chat_id and endpoint != "sendChatAction"]


async def send(limiter: FloodLimiter, api: Recorder, endpoint: str, chat_id: object) -> None:
    await limiter.process_request(api.call(endpoint, chat_id), (), {}, endpoint, {"chat_id": chat_id}, None)


def most_in_any(times: list[float], seconds: float) -> int:
    times = sorted(times)
    return max((sum(1 for t in times if start <= t < start + seconds) for start in times), default=0)


async def test_a_chat_gets_its_messages_at_its_own_pace_and_typing_never_waits() -> None:
    limiter = FloodLimiter(bot=Limit(100, 1.0), private=Limit(2, 0.5))
    api = Recorder()
    started = time.monotonic()
    await asyncio.gather(*(send(limiter, api, "sendMessage", 7) for _ in range(6)))
    # Six messages to one chat allowed two per half second: the last ones had to wait.
    assert most_in_any(api.times(7), 0.5) == 2
    assert time.monotonic() - started >= 1.0
    # The chat's budget is spent, yet "typing…" goes out at once: it is not a message.
    assert not limiter.available(7)
    before = time.monotonic()
    await send(limiter, api, "sendChatAction", 7)
    assert time.monotonic() - before < 0.2


async def test_every_chat_shares_the_bots_budget_and_groups_have_their_own_pace() -> None:
    limiter = FloodLimiter(bot=Limit(5, 0.5), private=Limit(10, 1.0), group=Limit(2, 1.0))
    api = Recorder()
    await asyncio.gather(
        *(send(limiter, api, "sendMessage", chat) for chat in range(1, 11)),
        *(send(limiter, api, "editMessageText", -100) for _ in range(3)),
    )
    everything = [at for _, _, at in api.sent]
    assert len(everything) == 13 and most_in_any(everything, 0.5) <= 5
    assert most_in_any(api.times(-100), 1.0) == 2


async def test_retry_after_pauses_the_chat_it_was_about_and_the_message_still_goes() -> None:
    limiter = FloodLimiter()
    api = Recorder()
    api.flood[1] = 1
    flooded = asyncio.create_task(send(limiter, api, "sendMessage", 1))
    await asyncio.sleep(0.1)
    await send(limiter, api, "sendMessage", 2)  # another chat is not held up
    assert [chat for _, chat, _ in api.sent] == [2]
    await flooded
    assert [chat for _, chat, _ in api.sent] == [2, 1]
    assert api.times(1)[0] - api.times(2)[0] >= 0.9  # waited out the second Telegram asked for


async def test_a_burst_across_ten_chats_is_answered_within_telegrams_limits(echo_bot: BotEnv) -> None:
    api = echo_bot.api
    chats = range(9001, 9011)
    for n in range(20):
        for chat in chats:
            api.queue_update(api.private_message(f"question {n}", user_id=chat, language_code="en"))

    def answered() -> int:
        return sum(len([m for m in api.bot_messages(chat) if "You asked" in m["text"]]) for chat in chats)

    for _ in range(600):
        if answered() == 200:
            break
        await asyncio.sleep(0.1)
    assert answered() == 200
    assert api.limit_violations() == []
    calls = Counter(call.method for call in api.calls if call.method != "getUpdates")
    # An answer ready at once is one message: no typing action, no placeholder and edit.
    assert calls["sendMessage"] == 200 and calls["sendChatAction"] < 20, calls


@pytest.mark.postgres
async def test_replicas_of_one_bot_share_its_budget(postgres_cluster: Any, tmp_path: Path) -> None:
    api = Recorder()
    async with replicas(postgres_cluster, tmp_path, 2) as started:
        limiters = [
            FloodLimiter(bot=Limit(10, 1.0), shared=lambda r=r: r.store, name="telegram:42") for r in started
        ]
        # 30 answers to 15 people, half through each replica; one person's two answers on different ones.
        await asyncio.gather(*(send(limiters[n % 2], api, "sendMessage", n // 2 + 1) for n in range(30)))
    everything = [at for _, _, at in api.sent]
    assert len(everything) == 30
    # Ten a second for the bot, both replicas together (each alone would have sent ten a second), give or
    # take the milliseconds between taking a slot and the request going out (as the fake Bot API allows).
    assert most_in_any(everything, 1.0 - SLACK) <= 10
    assert max(everything) - min(everything) >= 2.0
    assert all(most_in_any(api.times(chat), 3.0) <= 3 for chat in range(1, 16))


async def test_without_its_database_the_shared_budget_falls_back_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Away:
        async def take_slot(self, limits: object) -> list[float]:
            raise DatabaseUnavailable(retry_after=5.0)

    away = cast("Store", Away())
    limiter = FloodLimiter(bot=Limit(3, 1.0), shared=lambda: away, name="telegram:42")
    api = Recorder()
    await asyncio.gather(*(send(limiter, api, "sendMessage", chat) for chat in range(1, 7)))
    # Every message went out, three a second by this process's own count.
    everything = [at for _, _, at in api.sent]
    assert len(everything) == 6 and most_in_any(everything, 1.0 - SLACK) <= 3
    said = [r.getMessage() for r in caplog.records if "out of reach" in r.getMessage()]
    assert len(said) == 1, said  # once per outage, not once per message
