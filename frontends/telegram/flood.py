"""Telegram's flood limits, spent on answers: python-telegram-bot's rate limiter slot for Otvet's own.

Telegram allows a bot about 30 messages a second in all, about one a second in a private chat (short bursts
pass) and 20 a minute in a group, and answers more with ``RetryAfter`` (429), which stalls the chat for
seconds. PTB's ``AIORateLimiter`` counts every request that names a chat against the 30 a second, a typing
action as much as an answer, and leaves private chats unlimited: a bot answering many people spends half
its budget on "typing…" and can still flood one chat with edits.

:class:`FloodLimiter` counts only what posts or changes a message, per bot and per chat, with exact sliding
windows (never more than ``limit`` in any ``seconds`` long stretch, as the limits are stated); typing
actions, callback answers and the rest go straight through. When Telegram still says ``RetryAfter``, the
chat it was for waits that long (every chat, for a request without one) and the request is tried again.
:meth:`FloodLimiter.available` lets the sender of a streamed answer skip an edit there is no room for now,
instead of queueing it behind the budget: the next edit carries the newer text anyway.

Replicas answering one bot's webhook share its budget: with ``shared`` (the store), every message first
takes a slot in the bot's and the chat's windows in the database (``Store.take_slot``, exact across
processes), and this process keeps its own windows only as a cheap "surely full" check. Messages of one
process queue for the bot's budget in turn; one whose chat is full waits outside the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from otvet.core.limits import SlotLimit
from otvet.core.store import DatabaseUnavailable

if TYPE_CHECKING:
    from otvet.core.store import Store

log = logging.getLogger(__name__)

#: The Bot API methods that post or change a message in a chat: what Telegram's limits count.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendInvoice",
        "sendGame",
        "sendPaidMedia",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    }
)

#: Chat windows kept at most: idle ones are dropped beyond this (a busy bot talks to many people once).
MAX_CHATS = 10_000

#: Seconds between two clean-ups of the shared windows' old slots (by each process), and the age beyond
#: which no window needs a slot (the longest window is a group's minute).
FORGET_EVERY = 60.0
FORGET_OLDER_THAN = 120.0


@dataclass(frozen=True)
class Limit:
    """At most ``count`` messages in any ``seconds`` long stretch."""

    count: int
    seconds: float


#: Telegram's documented limits: 30 a second per bot; one a second per private chat, with bursts of three;
#: 20 a minute per group, supergroup or channel. A message is counted a little before Telegram receives
#: it, and that delay varies (a busy event loop, the network): a chat's window is held 0.1 s longer, so a
#: first message that happened to travel slowly never makes its window look a fourth message too full.
#: The bot's "about 30 a second" is not enforced that sharply, and 0.1 s would cost it a tenth.
BOT_LIMIT = Limit(30, 1.0)
PRIVATE_LIMIT = Limit(3, 3.1)
GROUP_LIMIT = Limit(20, 60.1)


class Window:
    """The send times within one :class:`Limit`'s stretch, and the pause Telegram asked for."""

    __slots__ = ("full_until", "limit", "paused_until", "sent")

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.sent: deque[float] = deque()
        self.paused_until = 0.0
        #: Until when the shared window was last seen full (other replicas' messages are not in ``sent``).
        self.full_until = 0.0

    def wait(self, now: float) -> float:
        """Seconds until one more message fits; 0 when it does now."""
        sent = self.sent
        while sent and sent[0] <= now - self.limit.seconds:
            sent.popleft()
        full = sent[0] + self.limit.seconds - now if len(sent) >= self.limit.count else 0.0
        return max(full, self.paused_until - now, self.full_until - now, 0.0)

    def idle(self, now: float) -> bool:
        return self.wait(now) == 0.0 and not self.sent


def seconds(period: int | float | timedelta) -> float:
    """``RetryAfter.retry_after`` in seconds (an int or a timedelta, depending on PTB's settings)."""
    return period.total_seconds() if isinstance(period, timedelta) else float(period)


def is_group(chat_id: object) -> bool:
    """Groups, supergroups and channels have negative ids (or a ``@username``); private chats positive."""
    try:
        return int(chat_id) < 0  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return True


class FloodLimiter(BaseRateLimiter[int]):
    """Telegram's per-bot and per-chat message limits; ``rate_limit_args`` is the number of retries."""

    def __init__(
        self,
        *,
        bot: Limit = BOT_LIMIT,
        private: Limit = PRIVATE_LIMIT,
        group: Limit = GROUP_LIMIT,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        shared: Callable[[], Store] | None = None,
        name: str = "telegram",
    ) -> None:
        self.bot = Window(bot)
        self.private = private
        self.group = group
        self.max_retries = max_retries
        self.clock = clock
        self.chats: dict[object, Window] = {}
        #: The store whose windows every replica of this bot shares (None: this process's windows only),
        #: and the bot's name in them (one per bot token).
        self.shared = shared
        self.name = name
        #: This process's messages take the bot's budget one at a time, in the order they came.
        self._queue = asyncio.Lock()
        self._forget_after = 0.0
        self._shared_down = False

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        self.chats.clear()

    def _chat(self, chat_id: object) -> Window:
        window = self.chats.get(chat_id)
        if window is None:
            if len(self.chats) >= MAX_CHATS:
                now = self.clock()
                self.chats = {key: w for key, w in self.chats.items() if not w.idle(now)}
            window = self.chats[chat_id] = Window(self.group if is_group(chat_id) else self.private)
        return window

    def available(self, chat_id: object) -> bool:
        """Whether a message to ``chat_id`` could go out now without waiting."""
        now = self.clock()
        return self.bot.wait(now) == 0.0 and self._chat(chat_id).wait(now) == 0.0

    async def _take(self, chat_id: object, chat: Window) -> None:
        """Wait until the message fits the bot's and the chat's windows, then count it in both."""
        while True:
            async with self._queue:
                while True:
                    bot_wait, chat_wait = await self._try(chat_id, chat)
                    if chat_wait > 0.0:
                        break  # waited for outside the queue: other chats' messages go meanwhile
                    if bot_wait <= 0.0:
                        return
                    await asyncio.sleep(bot_wait)
            await asyncio.sleep(chat_wait)

    async def _try(self, chat_id: object, chat: Window) -> tuple[float, float]:
        """Count the message if both windows have room now: (0, 0). Else the bot's and the chat's waits."""
        now = self.clock()
        bot_wait, chat_wait = self.bot.wait(now), chat.wait(now)
        if bot_wait > 0.0 or chat_wait > 0.0:
            return bot_wait, chat_wait  # full already by this process's count (or paused by Telegram)
        if self.shared is not None and not await self._take_shared(chat_id, chat):
            return self.bot.wait(now), chat.wait(now)
        self.bot.sent.append(now)
        chat.sent.append(now)
        return 0.0, 0.0

    async def _take_shared(self, chat_id: object, chat: Window) -> bool:
        """Take the message's slots in the windows every replica shares; False (and when each window has
        room again) when either is full."""
        assert self.shared is not None
        store = self.shared()
        limits = [
            SlotLimit(self.name, self.bot.limit.count, self.bot.limit.seconds),
            SlotLimit(f"{self.name}:{chat_id}", chat.limit.count, chat.limit.seconds),
        ]
        try:
            waits = await store.take_slot(limits)
        except Exception as exc:
            # A limiter must never cost a reply. Little can be answered without the database meanwhile;
            # what does go out (an apology) keeps to this process's windows rather than wait for it.
            if not self._shared_down:
                self._shared_down = True
                outage = isinstance(exc, DatabaseUnavailable)
                log.warning(
                    "the shared flood limits are out of reach (%s): counting this process's messages only",
                    exc,
                    exc_info=not outage,
                )
            return True
        if self._shared_down:
            self._shared_down = False
            log.info("the shared flood limits answer again")
        await self._forget(store)
        if not any(waits):
            return True
        now = self.clock()
        self.bot.full_until = max(self.bot.full_until, now + waits[0]) if waits[0] else self.bot.full_until
        chat.full_until = max(chat.full_until, now + waits[1]) if waits[1] else chat.full_until
        return False

    async def _forget(self, store: Store) -> None:
        now = self.clock()
        if now >= self._forget_after:
            self._forget_after = now + FORGET_EVERY
            try:
                await store.forget_slots(FORGET_OLDER_THAN)
            except Exception:  # tried again in a minute; old slots only cost space meanwhile
                log.warning("could not drop old flood-limit slots", exc_info=True)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        chat = self._chat(chat_id) if chat_id is not None else None
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            if chat is not None and endpoint in MESSAGE_METHODS:
                await self._take(chat_id, chat)
            else:
                # Not counted, but a pause Telegram asked for holds for everything sent to the chat.
                paused = max(self.bot.paused_until, chat.paused_until if chat else 0.0) - self.clock()
                if paused > 0:
                    await asyncio.sleep(paused)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                pause = seconds(exc.retry_after)
                window = chat if chat is not None else self.bot
                window.paused_until = max(window.paused_until, self.clock() + pause + 0.1)
                log.warning("Telegram asked to wait %.0f s (%s, chat %s): retrying", pause, endpoint, chat_id)
        raise AssertionError("unreachable: the last attempt returns or raises")
