"""Subscriptions over graphql-transport-ws: askStream's deltas and final answer, job progress, auth."""

from __future__ import annotations

import asyncio

import pytest

from otvet.frontends.graphql import subscriptions
from otvet.plugins.storage.models import Job
from tests.frontends.graphql.client import Api
from tests.frontends.graphql.wsclient import graphql_socket, subscribe_once
from tests.support.providers import MockProvider

ASK_STREAM = """subscription($input: AskInput!) { askStream(input: $input) {
  __typename
  ... on AnswerDelta { text }
  ... on Answer { text messageId provider }
  ... on AnswerFailure { code message }
} }"""


def _events(messages: list[dict]) -> list[dict]:
    return [m["payload"]["data"]["askStream"] for m in messages if m["type"] == "next"]


async def test_ask_stream_sends_deltas_then_the_whole_answer(
    sqlite_api: Api, ws_url: str, mock_provider: MockProvider
) -> None:
    mock_provider.then("Install ", "it ", "with pip.")
    variables = {"input": {"question": "How to install?"}}
    credential = f"Bearer {sqlite_api.keys['ask']}"
    messages = await subscribe_once(ws_url, ASK_STREAM, variables, credential=credential)
    assert messages[-1]["type"] == "complete"
    events = _events(messages)
    assert [e["text"] for e in events if e["__typename"] == "AnswerDelta"] == ["Install ", "it ", "with pip."]
    final = events[-1]
    assert final["__typename"] == "Answer" and final["text"] == "Install it with pip."
    assert final["provider"] == "mock" and final["messageId"]


async def test_ask_stream_ends_with_a_failure_event(sqlite_api: Api, ws_url: str) -> None:
    messages = await subscribe_once(
        ws_url, ASK_STREAM, {"input": {"question": " "}}, credential=f"Bearer {sqlite_api.keys['admin']}"
    )
    (event,) = _events(messages)
    assert event["__typename"] == "AnswerFailure" and event["code"] == "empty_question"


async def test_a_credential_revoked_after_connecting_cannot_start_subscriptions(
    sqlite_api: Api, ws_url: str
) -> None:
    async with graphql_socket(ws_url, f"Bearer {sqlite_api.keys['ask']}") as socket:
        keys = await sqlite_api.otvet.accounts.list_api_keys()
        await sqlite_api.otvet.accounts.revoke_api_key(next(k.id for k in keys if k.name == "ask key"))
        await socket.subscribe("1", ASK_STREAM, {"input": {"question": "Still there?"}})
        messages = await socket.until_done()
    errors = [e for m in messages if m["type"] == "next" for e in m["payload"].get("errors", [])]
    assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]


async def test_job_progress_follows_a_job_until_it_ends(
    sqlite_api: Api, ws_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriptions, "JOB_POLL_SECONDS", 0.02)
    store = sqlite_api.otvet.store
    with store.context:
        job = await Job.create(type="train")
    query = "subscription($id: ID!) { jobProgress(id: $id) { status progress } }"
    async with graphql_socket(ws_url, f"Bearer {sqlite_api.keys['admin']}") as socket:
        await socket.subscribe("1", query, {"id": job.id})
        first = await socket.receive()
        assert first["payload"]["data"]["jobProgress"] == {"status": "queued", "progress": 0.0}
        with store.context:
            await Job.filter(id=job.id).update(status="running", progress=0.5)
        second = await socket.receive()
        assert second["payload"]["data"]["jobProgress"] == {"status": "running", "progress": 0.5}
        with store.context:
            await Job.filter(id=job.id).update(status="succeeded", progress=1.0)
        rest = await socket.until_done()
    statuses = [m["payload"]["data"]["jobProgress"]["status"] for m in rest if m["type"] == "next"]
    assert statuses == ["succeeded"]
    assert rest[-1]["type"] == "complete"


async def test_job_progress_of_an_unknown_job_is_not_found(sqlite_api: Api, ws_url: str) -> None:
    messages = await asyncio.wait_for(
        subscribe_once(
            ws_url,
            "subscription { jobProgress(id: 404) { status } }",
            credential=f"Bearer {sqlite_api.keys['admin']}",
        ),
        timeout=10,
    )
    errors = [e for m in messages if m["type"] == "next" for e in m["payload"].get("errors", [])]
    assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]
