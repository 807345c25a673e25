"""User tokens: an integrator's backend vouches for its user (GraphQL widgetUserToken), the widget obeys."""

from __future__ import annotations

import time
from typing import Any

from otvet.core.signing import b64encode, issue_user_token
from otvet.frontends.widget.identity import widget_key
from tests.frontends.widget.client import widget_socket
from tests.frontends.widget.conftest import Served, ServeFactory


async def gql(
    served: Served, key: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await served.http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key}"},
    )
    return dict(response.json())


MINT = "mutation($u: String!, $t: Int) { widgetUserToken(userId: $u, ttlSeconds: $t) }"


async def test_a_user_token_makes_the_widget_talk_as_the_integrators_user(served: Served) -> None:
    accounts = served.otvet.accounts
    ask_key, record = await accounts.create_api_key("shop", ["ask"])
    read_key, _ = await accounts.create_api_key("reports", ["read"])
    minted = await gql(served, ask_key, MINT, {"u": "alice", "t": 600})
    token = minted["data"]["widgetUserToken"]
    assert token.startswith(f"u1.{record.id}.")

    async with widget_socket(served.ws_url) as socket:
        welcome = await socket.hello(user=token)
        assert welcome["type"] == "welcome" and welcome["visitor"].startswith("v1.")
        _, answer = await socket.ask("How do I connect Telegram?")
        assert answer["type"] == "answer"

    found = await gql(
        served,
        read_key,
        'query($e: String) { conversations(filter: {channel: "widget", externalId: $e}) '
        "{ nodes { id messages { nodes { role text } } } } }",
        {"e": f"key:{record.id}/alice"},
    )
    (conversation,) = found["data"]["conversations"]["nodes"]
    assert [m["role"] for m in conversation["messages"]["nodes"]] == ["USER", "ASSISTANT"]

    # Another browser with the same user token sees the same conversation.
    async with widget_socket(served.ws_url) as socket:
        history = (await socket.hello(user=token))["history"]
        assert [m["message_id"] for m in history][-1] == answer["message_id"]


async def test_forged_expired_or_revoked_user_tokens_close_the_socket_with_4401(serve: ServeFactory) -> None:
    async with serve() as served:
        accounts = served.otvet.accounts
        _, record = await accounts.create_api_key("shop", ["ask"])
        key = widget_key(served.otvet)
        valid = issue_user_token(key, record.id, "bob", int(time.time()) + 600)
        expired = issue_user_token(key, record.id, "bob", int(time.time()) - 1)
        payload, _, signature = valid.rpartition(".")
        forged = [
            issue_user_token(b"another deployment" * 2, record.id, "bob", int(time.time()) + 600),
            f"{payload.replace(b64encode(b'bob'), b64encode(b'eve'))}.{signature}",
            f"{payload}.{signature[:-2]}AA",
            "u1.garbage",
        ]
        for token in [expired, *forged]:
            async with widget_socket(served.ws_url) as socket:
                refused = await socket.hello(user=token)
                assert refused["type"] == "error" and refused["code"] == "unauthenticated", token
                assert await socket.closed_with() == 4401
        async with widget_socket(served.ws_url) as socket:
            assert (await socket.hello(user=valid))["type"] == "welcome"
        await accounts.revoke_api_key(record.id)
        async with widget_socket(served.ws_url) as socket:
            assert (await socket.hello(user=valid))["code"] == "unauthenticated"
            assert await socket.closed_with() == 4401


async def test_minting_needs_an_api_key_with_ask_and_a_sane_ttl(serve: ServeFactory) -> None:
    async with serve() as served:
        accounts = served.otvet.accounts
        ask_key, _ = await accounts.create_api_key("shop", ["ask"])
        read_key, _ = await accounts.create_api_key("reports", ["read"])
        await accounts.create_admin("anna", "correct horse battery staple")
        admin_token = (await accounts.login("anna", "correct horse battery staple")).token
        refusals = [
            (read_key, {"u": "alice"}, "FORBIDDEN"),
            (admin_token, {"u": "alice"}, "BAD_USER_INPUT"),
            (ask_key, {"u": "alice", "t": 59}, "BAD_USER_INPUT"),
            (ask_key, {"u": "alice", "t": 86401}, "BAD_USER_INPUT"),
            (ask_key, {"u": "  "}, "BAD_USER_INPUT"),
        ]
        for key, variables, code in refusals:
            body = await gql(served, key, MINT, variables)
            assert body.get("data") is None or body["data"].get("widgetUserToken") is None
            assert body["errors"][0]["extensions"]["code"] == code, (variables, body)
