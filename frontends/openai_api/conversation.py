"""Which of the engine's conversations a stateless OpenAI request continues.

An OpenAI client sends the whole history with every request; the engine keeps its own history per
conversation and shows the model that. The two are reconciled here so that the answer depends on the
messages sent and on nothing else:

* A chat is identified by the caller (the API key), the request's ``user`` and ``metadata.conversation_id``
  and its first question: requests of one chat share a conversation, so an admin reads it as one.
* The conversation is continued only when what the engine stored is exactly what the client sent before
  the question (its answers as Otvet gave them). Anything else (a new chat opening with the same question,
  an edited or regenerated turn, a history the client wrote itself) starts a fresh conversation: the
  engine then answers from the question alone rather than from a history the client did not send.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from otvet.frontends.openai_api.schema import ChatCompletionRequest, Dialogue

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: The engine's channel for every turn asked through this endpoint.
CHANNEL = "openai"


def chat_id(request: ChatCompletionRequest, dialogue: Dialogue) -> str:
    """``openai:<digest>``: the same for every request of one chat, different for other chats."""
    first = dialogue.earlier[0][1] if dialogue.earlier else dialogue.question
    conversation = (request.metadata or {}).get("conversation_id", "")
    key = json.dumps([request.user or "", conversation, first.strip()], ensure_ascii=False)
    return "openai:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


async def prepare(otvet: Otvet, user_id: str, chat: str, dialogue: Dialogue, display_name: str) -> None:
    """Close the chat's current conversation unless its stored messages are the client's ``earlier`` ones."""
    store = otvet.store
    user = await store.get_or_create_user(CHANNEL, user_id, display_name)
    conversation = await store.current_conversation(user.id, chat)
    stored = [(m.role, m.text) for m in await store.messages(conversation.id) if m.status == "ok"]
    if stored and not _same(stored, dialogue.earlier):
        await store.reset_conversation(user.id, chat)


def _same(stored: list[tuple[str, str]], sent: tuple[tuple[str, str], ...]) -> bool:
    if len(stored) != len(sent):
        return False
    for (stored_role, stored_text), (sent_role, sent_text) in zip(stored, sent, strict=True):
        if stored_role != sent_role:
            return False
        mine, theirs = stored_text.strip(), sent_text.strip()
        # An answer the fallback gave reached the client after a note that is not stored with it.
        if mine != theirs and not (stored_role == "assistant" and mine and theirs.endswith(mine)):
            return False
    return True
