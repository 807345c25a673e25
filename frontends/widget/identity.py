"""Who is on a widget socket: an anonymous visitor (visitor token) or an integrator's user (user token).

A missing, forged or expired visitor token simply makes a new visitor. A user token that does not check out
(forged, expired, or its API key revoked) is refused: the integrator vouched for someone, and it is not true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from otvet.core.accounts import Principal
from otvet.core.signing import (
    WIDGET_PURPOSE,
    deployment_secret,
    derive_key,
    issue_user_token,
    issue_visitor_token,
    read_user_token,
    read_visitor_token,
)

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: The channel widget users and conversations are recorded under.
CHANNEL = "widget"
#: The one conversation space of a widget user: ``reset`` closes it, the next question opens another.
CHAT_ID = "widget"
#: Longest user id an integrator may put into a user token (stored after the ``key:<id>/`` prefix).
MAX_USER_ID_CHARS = 200


class Unauthenticated(Exception):
    """A user token that is invalid, expired, or vouched for by a revoked API key."""


@dataclass(frozen=True, slots=True)
class Identity:
    #: The engine's user id in the ``widget`` channel.
    external_id: str
    #: The visitor token to hand back (renewed on every hello).
    visitor_token: str
    #: True when the visitor token was valid or a user token named the user: there may be history.
    known: bool
    display_name: str | None = None


def widget_key(otvet: Otvet) -> bytes:
    """The key signing widget tokens, derived from the deployment secret (read once per Otvet)."""
    key = otvet.state.get("widget_key")
    if not isinstance(key, bytes):
        key = derive_key(deployment_secret(otvet.settings), WIDGET_PURPOSE)
        otvet.state["widget_key"] = key
    return key


def mint_user_token(otvet: Otvet, principal: Principal, user_id: str, expires: int) -> str:
    """A user token for ``user_id``, an end user of the API key ``principal`` (GraphQL widgetUserToken)."""
    return issue_user_token(widget_key(otvet), principal.id, user_id, expires)


async def identify(otvet: Otvet, visitor_token: str | None, user_token: str | None) -> Identity:
    """The socket's identity from hello's tokens; :class:`Unauthenticated` for a bad user token."""
    key = widget_key(otvet)
    max_age = otvet.settings.widget.visitor_days * 86400
    visitor = read_visitor_token(key, visitor_token, max_age)
    renewed = issue_visitor_token(key, visitor)
    if not user_token:
        if visitor is None:
            return Identity(renewed.split(".")[1], renewed, known=False)
        return Identity(visitor, renewed, known=True)
    claim = read_user_token(key, user_token)
    if claim is None or len(claim.user_id) > MAX_USER_ID_CHARS:
        raise Unauthenticated("the user token is invalid or has expired")
    record = next((k for k in await otvet.accounts.list_api_keys() if k.id == claim.api_key_id), None)
    if record is None or record.revoked_at is not None:
        raise Unauthenticated("the user token's API key has been revoked")
    principal = Principal("api_key", record.id, record.name, frozenset(record.scopes))
    return Identity(principal.end_user_id(claim.user_id), renewed, known=True, display_name=claim.user_id)
