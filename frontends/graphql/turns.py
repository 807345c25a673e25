"""Turning an API caller and an ``AskInput`` into the engine's ``Turn`` and user ids.

Every conversation an API credential starts belongs to that credential: its end users are named
``<credential>/<userId>`` (``key:3/u42``), so two integrators both sending ``userId: "42"`` never share a
conversation, a quota or a usage line, and one key cannot reset or rate another key's conversations.
"""

from __future__ import annotations

from otvet.core.accounts import Principal
from otvet.core.types import Turn
from otvet.frontends.graphql.context import CHANNEL, GraphQLContext
from otvet.frontends.graphql.errors import bad_input
from otvet.frontends.graphql.inputs import AskInput

#: Ids an integrator chooses are stored in columns of 255 characters, after the credential's own prefix.
MAX_ID_CHARS = 200


def _checked(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise bad_input(f"{what} is empty: leave it out instead")
    if len(value) > MAX_ID_CHARS:
        raise bad_input(f"{what} is longer than {MAX_ID_CHARS} characters")
    return value


def end_user_id(principal: Principal, user_id: str | None) -> str:
    """The engine's user id for ``user_id`` of this caller (the caller itself when None)."""
    return principal.end_user_id(_checked(user_id, "userId"))


def owns(principal: Principal, channel: str, external_id: str) -> bool:
    """Whether the conversation of ``channel``/``external_id`` was started by this caller."""
    return channel == CHANNEL and principal.owns(external_id)


def checked_chat_id(value: str | None) -> str | None:
    return _checked(value, "chatId")


def turn_for(context: GraphQLContext, ask: AskInput) -> Turn:
    principal = context.principal
    assert principal is not None, "ask fields need a scope, so a caller"
    languages = context.otvet.i18n.languages
    if ask.language is not None and ask.language not in languages:
        raise bad_input(f"unknown language {ask.language!r}: choose from {', '.join(languages)}")
    user_id = end_user_id(principal, ask.user_id)
    return Turn(
        channel=CHANNEL,
        user_id=user_id,
        text=ask.question,
        chat_id=checked_chat_id(ask.chat_id),
        locale_hint=context.locale_hint,
        # The credential's own conversations carry its name; an end user's, the id the integrator gave.
        display_name=principal.name if ask.user_id is None else ask.user_id.strip(),
        language=ask.language,
    )
