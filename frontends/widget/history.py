"""The conversation a returning widget user sees again: the open one's last answered messages and ratings."""

from __future__ import annotations

from typing import Any

from otvet.core.store import Store
from otvet.frontends.widget import protocol
from otvet.frontends.widget.identity import CHAT_ID

#: Messages a welcome carries at most (the newest ones).
MAX_HISTORY = 50
#: Ratings read per conversation: more than MAX_HISTORY answers can have.
_RATINGS = 200


async def conversation_history(store: Store, user_id: int) -> list[dict[str, Any]]:
    """The user's open widget conversation, oldest first, without failed or cancelled turns.

    Read only: a visitor who reloads the page must not open conversations by doing so.
    """
    newest = await store.list_conversations(user_id=user_id, limit=1)
    if not newest or newest[0].closed_at is not None or newest[0].chat_id != CHAT_ID:
        return []
    conversation = newest[0]
    shown = [m for m in await store.messages(conversation.id) if m.status == "ok"][-MAX_HISTORY:]
    ratings = {
        f.message_id: f.value
        for f in await store.list_feedback(conversation_id=conversation.id, limit=_RATINGS)
        if f.user_id == user_id
    }
    return [protocol.history_entry(m, ratings.get(m.id)) for m in shown]
