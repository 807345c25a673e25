"""Deliver one streamed engine answer to a Telegram chat: typing, throttled edits, final HTML with fallback.

Partial text is sent without a parse mode (nothing to escape, nothing Telegram can reject); the final answer
is Telegram HTML, split into parts that fit, and re-sent as plain text when Telegram rejects the entities.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError

from otvet.core.i18n import I18n
from otvet.core.inbox import postpone
from otvet.core.types import Delta, Event, Failure, Final
from otvet.frontends.telegram.flood import FloodLimiter
from otvet.frontends.telegram.formatting import (
    Rendered,
    escape,
    prefixed,
    render_answer,
    split_text,
    telegram_length,
)
from otvet.frontends.telegram.throttle import EditThrottle

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Pauses before retrying a request that failed on the network (a 5xx, a reset connection, a timeout).
NETWORK_RETRY_DELAYS = (0.5, 1.0, 2.0)

#: Streamed partial text is cut here: the final answer is split properly, a partial only needs to fit.
PARTIAL_LIMIT = 4000


def feedback_keyboard(message_id: int) -> InlineKeyboardMarkup:
    """👍/👎 under an answer; the callback data names the stored answer and the rating."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍", callback_data=f"fb:{message_id}:1"),
                InlineKeyboardButton("👎", callback_data=f"fb:{message_id}:-1"),
            ]
        ]
    )


def partial_text(text: str) -> str:
    """The streamed text so far, cut to fit one plain message (Telegram counts UTF-16 units)."""
    text = text.strip()
    if telegram_length(text) <= PARTIAL_LIMIT:
        return text
    return split_text(text, PARTIAL_LIMIT - 1)[0] + "…"


async def with_retries(call: Callable[[], Awaitable[T]], delays: Sequence[float] = NETWORK_RETRY_DELAYS) -> T:
    """Run a Bot API call, retrying network failures; Telegram's refusals (BadRequest) are not retried.

    A timed-out send may have reached Telegram, so a retry can show an answer twice: a duplicate is a
    smaller harm than an answer the user never gets.
    """
    for delay in delays:
        try:
            return await call()
        except BadRequest:
            raise
        except NetworkError as exc:
            log.warning("Telegram request failed (%s); retrying in %.1fs", exc.message, delay)
            await asyncio.sleep(delay)
    return await call()


def is_not_modified(exc: BadRequest) -> bool:
    return "message is not modified" in exc.message.lower()


def is_entity_error(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower() or "can't find end" in exc.message.lower()


@dataclass
class Delivery:
    """Streams one answer into a chat, replying to the user's message."""

    incoming: Message
    i18n: I18n
    throttle: EditThrottle
    thread_id: int | None = None
    placeholder: Message | None = None
    shown: str = ""
    #: Seconds before "typing…" is shown, if nothing was sent by then.
    typing_delay: float = 0.5
    #: Set once a message of the answer is on its way: "typing…" would then come after it.
    replying: bool = False
    #: Shown above the answer, or the failure, in its first message (a voice message's transcript).
    prefix: Rendered | None = None

    async def run(self, events: AsyncIterator[Event]) -> Final | Failure | None:
        # A partial message comes only once the answer has streamed for one edit interval, and an answer ready
        # sooner is sent once, as the final message (one Bot API call). "Typing…" is shown only to a user
        # who would otherwise wait: it is not a message, but it is still a call.
        typing = asyncio.create_task(self._typing_later())
        self.throttle.mark()
        text = ""
        try:
            async for event in events:
                if isinstance(event, Delta):
                    text += event.text
                    if self.throttle.ready():
                        await self._show_partial(text)
                elif isinstance(event, Final):
                    parts = render_answer(event.text, event.sources, self.i18n.get(event.language))
                    keyboard = feedback_keyboard(event.message_id) if event.message_id else None
                    await self._finish(self._prefixed(parts), keyboard)
                    return event
                else:
                    if (
                        event.code == "unavailable"
                        and self.placeholder is None
                        and postpone(event.retry_after)
                    ):
                        # The database is away before anything was said: the update is handled again once
                        # it is back, and the user gets the answer instead of "try again later".
                        return event
                    failure = Rendered(html=escape(event.message), plain=event.message)
                    await self._finish(self._prefixed([failure]), None)
                    return event
            return None
        finally:
            typing.cancel()
            await asyncio.gather(typing, return_exceptions=True)

    async def _typing_later(self) -> None:
        await asyncio.sleep(self.typing_delay)
        if self.replying:
            return
        try:
            await self.incoming.get_bot().send_chat_action(
                self.incoming.chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
            )
        except TelegramError as exc:  # a courtesy: never worth failing or delaying an answer for
            log.info("could not show typing (%s)", exc.message)

    def _room_now(self) -> bool:
        """Whether a message to this chat would go out now, within the flood limits."""
        limiter = getattr(self.incoming.get_bot(), "rate_limiter", None)
        return not isinstance(limiter, FloodLimiter) or limiter.available(self.incoming.chat_id)

    def _prefixed(self, parts: Sequence[Rendered]) -> Sequence[Rendered]:
        return parts if self.prefix is None else prefixed(self.prefix, parts)

    async def _show_partial(self, text: str) -> None:
        lead = f"{self.prefix.plain}\n\n" if self.prefix is not None else ""
        so_far = partial_text(lead + text)
        if not so_far or so_far == self.shown:
            return
        if not self._room_now():
            # Skipped rather than queued behind the chat's budget: the next edit carries the newer text, and
            # the final message is never held up by partial ones waiting their turn.
            return
        self.replying = True
        try:
            if self.placeholder is None:
                self.placeholder = await with_retries(
                    partial(self.incoming.reply_text, so_far, do_quote=False)
                )
            else:
                await with_retries(partial(self.placeholder.edit_text, so_far))
        except BadRequest as exc:
            if not is_not_modified(exc):
                raise
        self.shown = so_far
        self.throttle.mark()

    async def _finish(self, parts: Sequence[Rendered], keyboard: InlineKeyboardMarkup | None) -> None:
        self.replying = True
        try:
            await self._send([p.html for p in parts], keyboard, ParseMode.HTML)
        except BadRequest as exc:
            if not is_entity_error(exc):
                raise
            # Telegram refused our HTML: the same text, without the bold header and source links.
            log.warning("Telegram rejected the HTML of an answer (%s); sending plain text", exc.message)
            await self._send([p.plain for p in parts], keyboard, None)

    async def _send(
        self, texts: Sequence[str], keyboard: InlineKeyboardMarkup | None, mode: str | None
    ) -> None:
        for number, text in enumerate(texts):
            markup = keyboard if number == len(texts) - 1 else None
            if number == 0 and self.placeholder is not None:
                await self.throttle.wait()
                placeholder = self.placeholder
                try:
                    await with_retries(
                        partial(placeholder.edit_text, text, parse_mode=mode, reply_markup=markup)
                    )
                except BadRequest as exc:
                    if not is_not_modified(exc):
                        raise
            else:
                sent = await with_retries(
                    partial(
                        self.incoming.reply_text, text, parse_mode=mode, reply_markup=markup, do_quote=False
                    )
                )
                if number == 0:
                    self.placeholder = sent
            self.throttle.mark()
