"""The mutation an integrator's backend calls to let one of its signed-in users into the web widget, added
to the GraphQL API by the widget's ``register_graphql`` (so it exists only where the widget does).

The token it returns goes into the page as ``data-user-token``; the widget then talks as that user, in the
same end-user namespace the API uses (``key:<id>/<userId>``). Revoking the key invalidates its tokens.
"""

from __future__ import annotations

import time

import strawberry
from strawberry.types import Info

from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import bad_input
from otvet.frontends.graphql.permissions import scoped_mutation
from otvet.frontends.graphql.turns import end_user_id
from otvet.frontends.widget.identity import mint_user_token

MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 86400


@strawberry.type
class WidgetTokenMutations:
    @scoped_mutation(
        "ask",
        "A signed token that lets `userId`, one of your users, chat in the web widget as themselves "
        "(`data-user-token` on the widget's script tag; docs/widget.md#tokens). Their widget conversations "
        "are recorded under the same end-user id as `ask`'s `userId`. Valid for `ttlSeconds` (60 to 86400); "
        "revoking the API key invalidates it. Needs an API key, not an admin login.",
    )
    async def widget_user_token(self, info: Info, user_id: str, ttl_seconds: int = 3600) -> str:
        context = context_of(info)
        principal = context.principal
        assert principal is not None
        if principal.kind != "api_key":
            raise bad_input("widget user tokens are minted with an API key (scope ask), not an admin login")
        if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
            raise bad_input(f"ttlSeconds is from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS}")
        end_user_id(principal, user_id)  # the same checks as ask's userId: not empty, not too long
        expires = int(time.time()) + ttl_seconds
        return mint_user_token(context.otvet, principal, user_id.strip(), expires)
