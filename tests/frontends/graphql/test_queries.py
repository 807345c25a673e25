"""Queries on both databases: paged conversations and messages, feedback, usage, the admin lists."""

from __future__ import annotations

from typing import Any

from otvet.core.types import Turn
from otvet.plugins.storage.models import Job
from tests.frontends.graphql.client import Api, codes

CONVERSATIONS = """
query List($first: Int!, $after: String, $filter: ConversationFilter) {
  conversations(first: $first, after: $after, filter: $filter) {
    nodes { id chatId user { channel externalId displayName } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _ask(api: Api, question: str, user_id: str | None = None, key: str = "ask") -> dict[str, Any]:
    variables = {"input": {"question": question, "userId": user_id}}
    query = (
        "mutation($input: AskInput!) { ask(input: $input) { ... on Answer { conversationId messageId } } }"
    )
    return (await api.data(query, variables, key=key))["ask"]


async def test_conversations_page_by_cursor_newest_first(api: Api) -> None:
    for user in ("u1", "u2", "u3"):
        await _ask(api, f"question of {user}", user)
    first = (await api.data(CONVERSATIONS, {"first": 2}, key="read"))["conversations"]
    assert [n["user"]["externalId"] for n in first["nodes"]] == ["key:1/u3", "key:1/u2"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await api.data(CONVERSATIONS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, key="read"))[
        "conversations"
    ]
    assert [n["user"]["externalId"] for n in rest["nodes"]] == ["key:1/u1"]
    assert rest["pageInfo"]["hasNextPage"] is False
    node = rest["nodes"][0]
    assert node["user"]["channel"] == "graphql" and node["user"]["displayName"] == "u1"


async def test_conversations_are_filtered_by_channel_user_and_date(api: Api) -> None:
    await _ask(api, "from the API", "u1")
    await api.otvet.engine.ask(Turn(channel="telegram", user_id="42", text="from Telegram"))
    by_channel = await api.data(CONVERSATIONS, {"first": 10, "filter": {"channel": "telegram"}}, key="read")
    (telegram,) = by_channel["conversations"]["nodes"]
    assert telegram["user"] == {"channel": "telegram", "externalId": "42", "displayName": None}
    by_user = await api.data(
        "query($id: ID!) { conversations(filter: {userId: $id}) { nodes { user { externalId } } } }",
        {"id": (await api.otvet.store.get_or_create_user("telegram", "42")).id},
        key="read",
    )
    assert [n["user"]["externalId"] for n in by_user["conversations"]["nodes"]] == ["42"]
    future = await api.data(
        CONVERSATIONS, {"first": 10, "filter": {"since": "2999-01-01T00:00:00Z"}}, key="read"
    )
    assert future["conversations"]["nodes"] == []
    past = await api.data(
        CONVERSATIONS, {"first": 10, "filter": {"until": "2000-01-01T00:00:00Z"}}, key="read"
    )
    assert past["conversations"]["nodes"] == []


async def test_a_conversation_with_its_messages_oldest_first(api: Api) -> None:
    answer = await _ask(api, "first question")
    await _ask(api, "second question")
    query = """query($id: ID!, $after: String) { conversation(id: $id) {
        id closedAt messages(first: 3, after: $after) {
          nodes { id role text language status provider latencyMs createdAt
                  usage { totalTokens } sources { title } }
          pageInfo { hasNextPage endCursor } } } }"""
    first = (await api.data(query, {"id": answer["conversationId"]}, key="read"))["conversation"]
    assert first["id"] == answer["conversationId"] and first["closedAt"] is None
    messages = first["messages"]
    assert [(m["role"], m["text"]) for m in messages["nodes"]] == [
        ("USER", "first question"),
        ("ASSISTANT", "Hello world"),
        ("USER", "second question"),
    ]
    reply = messages["nodes"][1]
    assert reply["id"] == answer["messageId"] and reply["provider"] == "mock" and reply["status"] == "ok"
    assert reply["usage"]["totalTokens"] > 0 and reply["latencyMs"] >= 0
    after = messages["pageInfo"]["endCursor"]
    rest = (await api.data(query, {"id": answer["conversationId"], "after": after}, key="read"))[
        "conversation"
    ]
    assert [m["role"] for m in rest["messages"]["nodes"]] == ["ASSISTANT"]
    missing = await api.data("{ conversation(id: 999999) { id } }", key="read")
    assert missing == {"conversation": None}


async def test_bad_pages_and_cursors_are_bad_user_input(api: Api) -> None:
    for query in (
        "{ conversations(first: 101) { nodes { id } } }",
        "{ conversations(first: 0) { nodes { id } } }",
        '{ conversations(after: "nonsense") { nodes { id } } }',
        '{ jobs(after: "Y29udmVyc2F0aW9uOjE") { nodes { id } } }',  # a conversation cursor, not a job's
    ):
        body = await api.body(query)
        assert codes(body) == ["BAD_USER_INPUT"], query
        assert body["errors"][0]["message"]


async def test_feedback_is_listed_and_filtered(api: Api) -> None:
    good = await _ask(api, "one", "u1")
    bad = await _ask(api, "two", "u2")
    rate = "mutation($m: ID!, $v: Int!, $u: String) { sendFeedback(messageId: $m, value: $v, userId: $u) }"
    assert await api.data(rate, {"m": good["messageId"], "v": 1, "u": "u1"}, key="ask") == {
        "sendFeedback": True
    }
    await api.data(rate, {"m": bad["messageId"], "v": -1, "u": "u2"}, key="ask")
    query = """query($f: FeedbackFilter) { feedback(filter: $f) {
        nodes { messageId conversationId value user { externalId } } pageInfo { hasNextPage } } }"""
    everything = (await api.data(query, key="read"))["feedback"]["nodes"]
    assert [(f["messageId"], f["value"]) for f in everything] == [
        (bad["messageId"], -1),
        (good["messageId"], 1),
    ]
    assert everything[1]["user"]["externalId"] == "key:1/u1"
    assert everything[1]["conversationId"] == good["conversationId"]
    negative = (await api.data(query, {"f": {"value": -1}}, key="read"))["feedback"]["nodes"]
    assert [f["messageId"] for f in negative] == [bad["messageId"]]
    in_one = (await api.data(query, {"f": {"conversationId": good["conversationId"]}}, key="read"))[
        "feedback"
    ]
    assert [f["messageId"] for f in in_one["nodes"]] == [good["messageId"]]


async def test_usage_is_reported_by_user_day_and_provider(api: Api) -> None:
    await _ask(api, "one", "u1")
    await _ask(api, "two", "u1")
    await _ask(api, "three", "u2")
    query = "query($by: UsageGrouping!) { usage(by: $by) { key label questions answers totalTokens } }"
    users = (await api.data(query, {"by": "USER"}, key="read"))["usage"]
    assert sorted((u["label"], u["questions"], u["answers"]) for u in users) == [
        ("graphql:key:1/u1 (u1)", 2, 2),
        ("graphql:key:1/u2 (u2)", 1, 1),
    ]
    (day,) = (await api.data(query, {"by": "DAY"}, key="read"))["usage"]
    assert day["questions"] == 3 and day["totalTokens"] > 0
    providers = (await api.data(query, {"by": "PROVIDER"}, key="read"))["usage"]
    assert {p["key"]: p["answers"] for p in providers} == {"": 0, "mock": 3}
    empty = await api.data('{ usage(since: "2000-01-01T00:00:00Z", until: "2000-01-02T00:00:00Z") { key } }')
    assert empty == {"usage": []}
    body = await api.body('{ usage(since: "2001-01-01T00:00:00Z", until: "2000-01-01T00:00:00Z") { key } }')
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_admins_read_sources_versions_keys_admins_and_jobs(api: Api) -> None:
    empty = await api.data(
        "{ sources { name } knowledgeVersions { id } activeVersion { id } admins { username } }"
    )
    assert empty == {"sources": [], "knowledgeVersions": [], "activeVersion": None, "admins": []}
    await api.otvet.accounts.create_admin("root", "a long enough password")
    keys = await api.data("{ apiKeys { name prefix scopes revokedAt } admins { username disabled } }")
    assert [(k["name"], k["scopes"]) for k in keys["apiKeys"]] == [
        ("ask key", ["ASK"]),
        ("read key", ["READ"]),
        ("admin key", ["ADMIN"]),
    ]
    assert all("otv_" not in k["prefix"] and k["revokedAt"] is None for k in keys["apiKeys"])
    assert keys["admins"] == [{"username": "root", "disabled": False}]
    with api.otvet.store.context:
        job = await Job.create(type="train", status="running", progress=0.25, payload={"note": "x"})
    jobs = await api.data("{ jobs { nodes { id type status progress payload } } }")
    assert jobs["jobs"]["nodes"] == [
        {"id": str(job.id), "type": "train", "status": "running", "progress": 0.25, "payload": {"note": "x"}}
    ]
    one = await api.data("query($id: ID!) { job(id: $id) { status } }", {"id": job.id})
    assert one == {"job": {"status": "running"}}
