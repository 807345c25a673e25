"""Mutations of integrators (scope ``ask``): ask, rate an answer, reset a conversation; and ``login``."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from otvet.core.feedback import record_rating
from otvet.core.store import NotFound
from otvet.frontends.graphql.context import CHANNEL, context_of
from otvet.frontends.graphql.errors import NOT_FOUND, ApiError, bad_input
from otvet.frontends.graphql.inputs import AskInput
from otvet.frontends.graphql.pagination import parse_id
from otvet.frontends.graphql.permissions import scoped_mutation
from otvet.frontends.graphql.turns import checked_chat_id, end_user_id, owns, turn_for
from otvet.frontends.graphql.types import AskResult, LoginResult, ask_result

MAX_COMMENT_CHARS = 2000


@strawberry.type
class ConversingMutations:
    @scoped_mutation(
        "ask",
        "Ask a question and get the whole answer (use the `askStream` subscription to see it being "
        "written). A question that cannot be answered gives an `AnswerFailure`, not an error.",
    )
    async def ask(self, info: Info, input: AskInput) -> AskResult:
        context = context_of(info)
        return ask_result(await context.otvet.engine.ask(turn_for(context, input)))

    @scoped_mutation(
        "ask",
        "Rate an answer 1 (👍) or -1 (👎) on behalf of `userId` (as in `ask`); rating again replaces the "
        "rating. Only answers of the caller's own conversations can be rated (an admin may rate any).",
    )
    async def send_feedback(
        self,
        info: Info,
        message_id: strawberry.ID,
        value: int,
        user_id: str | None = None,
        comment: str = "",
    ) -> bool:
        context = context_of(info)
        principal = context.principal
        assert principal is not None
        if value not in (-1, 1):
            raise bad_input("value is 1 (👍) or -1 (👎)")
        if len(comment) > MAX_COMMENT_CHARS:
            raise bad_input(f"comment is longer than {MAX_COMMENT_CHARS} characters")
        store = context.otvet.store
        message = await store.get_message(parse_id(message_id, "messageId"))
        conversation = None if message is None else await store.get_conversation(message.conversation_id)
        # Someone else's message is reported exactly like a missing one: ids must not be probeable.
        mine = conversation is not None and (
            principal.allows("admin") or owns(principal, conversation.channel, conversation.external_id)
        )
        if message is None or not mine:
            raise ApiError(NOT_FOUND, f"there is no answer {message_id} in your conversations")
        if message.role != "assistant":
            raise bad_input("only answers can be rated, not questions")
        rater = end_user_id(principal, user_id)
        user = await store.get_or_create_user(CHANNEL, rater)
        try:
            await record_rating(
                context.otvet, message.id, user.id, value, comment.strip(), rated_by=f"{CHANNEL}:{rater}"
            )
        except NotFound:  # deleted meanwhile
            raise ApiError(NOT_FOUND, f"there is no answer {message_id}") from None
        return True

    @scoped_mutation(
        "ask",
        "Start a fresh conversation for `userId` in `chatId` (as in `ask`): the next question has no "
        "history. False when there was no open conversation.",
    )
    async def reset_conversation(
        self, info: Info, user_id: str | None = None, chat_id: str | None = None
    ) -> bool:
        context = context_of(info)
        assert context.principal is not None
        return await context.otvet.engine.reset(
            CHANNEL, end_user_id(context.principal, user_id), checked_chat_id(chat_id)
        )

    @strawberry.mutation(
        description="Log in as an admin: a short-lived token for `Authorization: Bearer <token>`. Needs no "
        "scope; a wrong username or password is `UNAUTHENTICATED`; more than 10 attempts a minute from one "
        "address, or more than 10 failed logins for one username in 15 minutes (from any address, even "
        "with the right password), `RATE_LIMITED` with `retryAfter`."
    )
    async def login(self, info: Info, username: str, password: str) -> LoginResult:
        context = context_of(info)
        login = await context.otvet.accounts.login(username, password, context.client_address)
        return LoginResult(token=login.token, expires_at=login.expires_at)

    @scoped_mutation(
        "admin",
        "Sign out the login token this request carries: every replica refuses it from now on, though it has "
        "not expired. True when a login token was signed out; false for an API key (revoke one with "
        "`revokeApiKey`).",
    )
    async def logout(self, info: Info) -> bool:
        context = context_of(info)
        return await context.otvet.accounts.logout(context.request_credential() or "")
