"""Tidying every service does now and then, at start-up first: questions left unanswered by a process that
died are marked ``interrupted``, handled webhook updates past their keeping time are deleted, and so are
conversations past their retention (``privacy.conversation_retention_days``).

Both are conditional single statements, so replicas doing them at once do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from otvet.core.store import DatabaseUnavailable

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

#: Seconds between two rounds.
EVERY_SECONDS = 60.0
#: Beyond the longest an answer may take (the model's and then the fallback's ``answer_timeout``): a
#: question waiting longer lost the process answering it. Marking a slow one early would do little harm:
#: its answer, once stored, makes it ``ok`` again.
UNANSWERED_MARGIN_SECONDS = 60.0


def unanswered_after(otvet: Otvet) -> timedelta:
    """How long a question may wait for its answer before it is taken as interrupted."""
    return timedelta(seconds=2 * otvet.settings.answer_timeout + UNANSWERED_MARGIN_SECONDS)


async def tidy(otvet: Otvet) -> None:
    """One round."""
    store = otvet.store
    at = datetime.now(UTC)
    interrupted = await store.interrupt_unanswered(at - unanswered_after(otvet))
    if interrupted:
        log.warning(
            "%d question(s) never got their answer stored (the service answering them stopped): marked "
            "interrupted, and kept out of later prompts",
            interrupted,
        )
    await store.forget_inbox(at - timedelta(hours=otvet.settings.inbox.keep_hours))
    await store.forget_revoked_tokens(at)  # expired tokens are refused for their expiry alone
    days = otvet.settings.privacy.conversation_retention_days
    if days:
        forgotten = await store.forget_conversations(at - timedelta(days=days))
        if forgotten:
            log.info("deleted %d conversation(s) with no message in %d days (retention)", forgotten, days)


async def run(otvet: Otvet, every: float = EVERY_SECONDS) -> None:
    """Tidy at once, then every ``every`` seconds, until cancelled."""
    while True:
        try:
            await tidy(otvet)
        except DatabaseUnavailable:
            pass  # the store logs the outage once; the next round catches up
        except Exception:
            log.exception("housekeeping failed")
        await asyncio.sleep(every)
