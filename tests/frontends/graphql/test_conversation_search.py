"""Finding conversations by the text of their messages and by the rating of their answers, on both
databases: any case, `%` and `_` as plain characters, and a rating other than ±1 refused."""

from __future__ import annotations

from typing import Any

from tests.frontends.graphql.client import Api, codes

SEARCH = """query($filter: ConversationFilter, $first: Int!, $after: String) {
  conversations(filter: $filter, first: $first, after: $after) {
    nodes { user { externalId } } pageInfo { hasNextPage endCursor } } }"""
RATE = "mutation($m: ID!, $v: Int!, $u: String) { sendFeedback(messageId: $m, value: $v, userId: $u) }"


async def _ask(api: Api, question: str, user_id: str) -> str:
    """Ask as ``user_id`` (the mock provider answers "Hello world"); the answer's message id."""
    query = "mutation($input: AskInput!) { ask(input: $input) { ... on Answer { messageId } } }"
    variables = {"input": {"question": question, "userId": user_id}}
    return (await api.data(query, variables, key="ask"))["ask"]["messageId"]


async def _users(api: Api, first: int = 20, after: str | None = None, **filter: Any) -> list[str]:
    found = await api.data(SEARCH, {"filter": filter, "first": first, "after": after}, key="read")
    return [node["user"]["externalId"].removeprefix("key:1/") for node in found["conversations"]["nodes"]]


async def test_conversations_are_found_by_text_in_any_case_with_wildcards_taken_literally(api: Api) -> None:
    await _ask(api, "How long do REFUNDS take for order_42?", "refunds")
    await _ask(api, "Where do guests park?", "parking")
    await _ask(api, "Есть ли скидка 100% для студентов?", "discount")

    assert await _users(api, text="refunds") == ["refunds"]
    assert await _users(api, text="Guests PARK") == ["parking"]
    assert await _users(api, text="СКИДКА") == ["discount"]
    assert await _users(api, text="hello WORLD") == ["discount", "parking", "refunds"]  # the answers
    assert await _users(api, text="0%") == ["discount"]
    assert await _users(api, text="100%для") == []  # `%` is no wildcard
    assert await _users(api, text="r_4") == ["refunds"]
    assert await _users(api, text="orde__42") == []  # nor is `_`
    assert await _users(api, text="nowhere") == []
    assert await _users(api, text="  ") == ["discount", "parking", "refunds"]  # blank: no filter
    assert await _users(api, text="do", channel="telegram") == []

    page = await api.data(SEARCH, {"filter": {"text": "do"}, "first": 1}, key="read")
    assert page["conversations"]["pageInfo"]["hasNextPage"] is True
    cursor = page["conversations"]["pageInfo"]["endCursor"]
    assert await _users(api, first=1, after=cursor, text="do") == ["refunds"]


async def test_conversations_are_found_by_the_rating_of_their_answers(api: Api) -> None:
    liked = await _ask(api, "Do refunds take five days?", "liked")
    disliked = await _ask(api, "Where do guests park?", "disliked")
    await _ask(api, "When is lunch?", "unrated")
    await api.data(RATE, {"m": liked, "v": 1, "u": "liked"}, key="ask")
    await api.data(RATE, {"m": disliked, "v": -1, "u": "disliked"}, key="ask")

    assert await _users(api, rating=1) == ["liked"]
    assert await _users(api, rating=-1) == ["disliked"]
    assert await _users(api, rating=-1, text="refunds") == []
    assert await _users(api, rating=1, text="REFUNDS") == ["liked"]
    for wrong in (0, 2, -5):
        body = await api.body(SEARCH, {"filter": {"rating": wrong}, "first": 20}, key="read")
        assert codes(body) == ["BAD_USER_INPUT"], wrong
        assert "1 (👍) or -1 (👎)" in body["errors"][0]["message"]
