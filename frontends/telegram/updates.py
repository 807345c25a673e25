"""How the bot's updates are processed: concurrently, each one counted in the metrics, tagged in the logs
and held as work in progress, so a stopping bot finishes the answers it has started."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter
from telegram import Update
from telegram.ext import SimpleUpdateProcessor

from otvet.core.logs import log_context

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: Updates handled at once. Each user's own messages are still answered in order (TelegramBot's locks).
MAX_CONCURRENT_UPDATES = 256


def update_kind(update: object) -> str:
    """A low-cardinality name for the metrics: command, message, callback or other."""
    if not isinstance(update, Update):
        return "other"
    if update.callback_query is not None:
        return "callback"
    message = update.message
    if message is not None:
        text = message.text or ""
        return "command" if text.startswith("/") else "message"
    return "other"


def updates_counter(registry: CollectorRegistry) -> Counter:
    return Counter("otvet_telegram_updates", "Telegram updates handled, by kind", ["kind"], registry=registry)


class TrackedUpdates(SimpleUpdateProcessor):
    """python-telegram-bot's concurrent processor, with each update counted and held as work in progress."""

    def __init__(self, otvet: Otvet, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self.otvet = otvet

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        self.otvet.metrics.define("otvet_telegram_updates", updates_counter).labels(update_kind(update)).inc()
        update_id = getattr(update, "update_id", None)
        with self.otvet.lifecycle.busy(), log_context(update_id=update_id):
            await coroutine
