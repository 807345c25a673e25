"""The schema's input types."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.input(description="A question for the engine.")
class AskInput:
    question: str
    user_id: str | None = strawberry.field(
        default=None,
        description="Your end user's id: each gets their own conversation, quotas and usage. Omitted: the "
        "conversation of the credential itself.",
    )
    chat_id: str | None = strawberry.field(
        default=None, description="A conversation space of the user (a widget session, a thread)."
    )
    language: str | None = strawberry.field(
        default=None,
        description="Answer in this language (`en`, `ru`...) instead of the question's. `Accept-Language` "
        "is a weaker hint.",
    )


@strawberry.input(description="Which conversations to list. Every field narrows the list.")
class ConversationFilter:
    channel: str | None = strawberry.field(default=None, description="`telegram`, `graphql`, `cli`...")
    user_id: strawberry.ID | None = strawberry.field(default=None, description="A `ChatUser.id`.")
    external_id: str | None = strawberry.field(
        default=None, description="The user's id inside the channel (`ChatUser.externalId`)."
    )
    since: datetime | None = strawberry.field(default=None, description="Started at or after this time.")
    until: datetime | None = strawberry.field(default=None, description="Started before this time.")
    text: str | None = strawberry.field(
        default=None,
        description="Holding a message (a question or an answer) that contains this text, whatever its case. "
        "`%` and `_` are plain characters; empty or blank: no text filter.",
    )
    rating: int | None = strawberry.field(
        default=None, description="Holding an answer someone rated so: 1 (👍) or -1 (👎)."
    )


@strawberry.input(description="Which feedback to list. Every field narrows the list.")
class FeedbackFilter:
    value: int | None = strawberry.field(default=None, description="1 (👍) or -1 (👎).")
    conversation_id: strawberry.ID | None = None
    since: datetime | None = strawberry.field(default=None, description="Given at or after this time.")
    until: datetime | None = strawberry.field(default=None, description="Given before this time.")


@strawberry.input(description="A question with its approved answer.")
class QaPairInput:
    question: str
    answer: str
