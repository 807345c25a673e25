"""The OpenAI-compatible endpoint, driven by the official ``openai`` client.

Against a real ``otvet serve`` (the demo knowledge base, the extractive provider: no model needed) for what
an integrator sees, and in-process (``create_app`` over an ASGI transport, the scripted mock provider) for
the history, failure and limit cases.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest

from otvet import hookimpl
from otvet.core.app import Otvet
from otvet.core.llm import ProviderError
from otvet.core.types import Refusal, Usage
from otvet.frontends.app import create_app
from otvet.frontends.openai_api.conversation import CHANNEL, chat_id
from otvet.frontends.openai_api.schema import ChatCompletionRequest, read_dialogue
from tests.conftest import make_settings
from tests.support.cli import clean_env, run_otvet
from tests.support.loopback import LoopbackServer
from tests.support.providers import MockProvider
from tests.support.server import serving

FAQ_QUESTION = "Which languages does Otvet speak?"


# --- against `otvet serve` ---------------------------------------------------------------------------------


def create_key(env: dict[str, str], cwd: Path, *scopes: str) -> str:
    """``otvet key create`` as an operator runs it: the raw key alone on standard output."""
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    result = run_otvet("key", "create", f"key-{'-'.join(scopes)}", *args, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A running ``otvet serve`` with the demo knowledge base, and keys by scope (``ask``, ``read``)."""
    env = clean_env(tmp_path / "data")
    keys = {"ask": create_key(env, tmp_path, "ask"), "read": create_key(env, tmp_path, "read")}
    async with serving(env, tmp_path, ready_path="/readyz") as base:
        yield base, keys


def client(base: str, key: str) -> openai.AsyncOpenAI:
    # No retries: a refusal must reach the test as the SDK raises it, not after the SDK's backoff.
    return openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


async def test_the_openai_client_gets_answers_from_the_knowledge_base(
    served: tuple[str, dict[str, str]],
) -> None:
    base, keys = served
    async with client(base, keys["ask"]) as sdk:
        models = await sdk.models.list()
        assert [m.id for m in models.data] == ["otvet"]
        assert (await sdk.models.retrieve("otvet")).owned_by == "otvet"

        completion = await sdk.chat.completions.create(
            model="otvet",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": FAQ_QUESTION},
            ],
            temperature=0.3,  # parameters Otvet does not use are accepted and ignored
            max_tokens=200,
        )
        answer = completion.choices[0].message.content
        assert answer is not None and "Russian and English" in answer
        assert completion.choices[0].finish_reason == "stop"
        assert completion.model == "otvet" and completion.object == "chat.completion"
        assert completion.usage is not None and completion.usage.completion_tokens > 0
        assert (
            completion.usage.total_tokens
            == completion.usage.prompt_tokens + completion.usage.completion_tokens
        )
        # Otvet's own field survives the SDK's parsing, as an attribute and in model_extra.
        extra = completion.model_extra or {}
        otvet_field: dict[str, Any] = completion.otvet  # type: ignore[attr-defined]
        assert extra["otvet"] == otvet_field
        assert otvet_field["language"] == "en" and otvet_field["fallback"] is False
        assert otvet_field["message_id"] and otvet_field["conversation_id"]
        assert any(source["title"] == "Otvet FAQ" for source in otvet_field["sources"])

        # The same question streamed: the deltas join to the same answer, usage comes last.
        stream = await sdk.chat.completions.create(
            model="otvet",
            messages=[{"role": "user", "content": FAQ_QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answer
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # really streamed
    (stop,) = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert any(source["title"] == "Otvet FAQ" for source in stop.otvet["sources"])  # type: ignore[attr-defined]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None and usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


async def test_the_raw_stream_is_server_sent_events_ending_with_done(
    served: tuple[str, dict[str, str]],
) -> None:
    base, keys = served
    async with (
        client(base, keys["ask"]) as sdk,
        sdk.chat.completions.with_streaming_response.create(
            model="otvet", messages=[{"role": "user", "content": FAQ_QUESTION}], stream=True
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert {event["object"] for event in events} == {"chat.completion.chunk"}
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in events[-1]  # not asked for


async def test_refusals_raise_the_sdks_exceptions(served: tuple[str, dict[str, str]]) -> None:
    base, keys = served
    question = [{"role": "user", "content": FAQ_QUESTION}]
    async with client(base, "otv_deadbeef_not-a-real-key") as sdk:
        with pytest.raises(openai.AuthenticationError) as wrong_key:
            await sdk.chat.completions.create(model="otvet", messages=question)  # type: ignore[arg-type]
    assert wrong_key.value.code == "invalid_api_key"
    async with client(base, keys["read"]) as sdk:
        with pytest.raises(openai.PermissionDeniedError, match="'ask' scope"):
            await sdk.chat.completions.create(model="otvet", messages=question)  # type: ignore[arg-type]
        with pytest.raises(openai.PermissionDeniedError):
            await sdk.models.list()
    async with client(base, keys["ask"]) as sdk:
        with pytest.raises(openai.NotFoundError) as unknown_model:
            await sdk.chat.completions.create(model="gpt-4o", messages=question)  # type: ignore[arg-type]
        assert unknown_model.value.code == "model_not_found"
        with pytest.raises(openai.BadRequestError, match="image_url") as image:
            await sdk.chat.completions.create(
                model="otvet",
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is on this picture?"},
                            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                        ],
                    }
                ],
            )
        assert image.value.param == "messages[0].content[1].type"
        with pytest.raises(openai.BadRequestError, match="last message"):
            await sdk.chat.completions.create(
                model="otvet", messages=[{"role": "system", "content": "Be brief."}]
            )
    # No key at all: an SDK refuses to send that, a plain HTTP client gets OpenAI's 401.
    async with httpx.AsyncClient() as plain:
        response = await plain.post(
            f"{base}/v1/chat/completions", json={"model": "otvet", "messages": question}
        )
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and "API key" in error["message"]


# --- in-process: the mock provider, the engine's conversations, failures and limits -----------------------


async def key_for(otvet: Otvet, *scopes: str) -> str:
    raw, _ = await otvet.accounts.create_api_key("test", scopes or ("ask",))
    return raw


def asgi_client(otvet: Otvet, key: str, **kwargs: Any) -> openai.AsyncOpenAI:
    """The official client talking to ``create_app(otvet)`` in process (``otvet`` is started already)."""
    transport = httpx2.ASGITransport(app=create_app(otvet))
    return openai.AsyncOpenAI(
        base_url="http://otvet.test/v1",
        api_key=key,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
        **kwargs,
    )


async def started(tmp_path: Path, db_url: str, provider: MockProvider, **overrides: object) -> Otvet:
    instance = Otvet(make_settings(tmp_path, db_url, provider="mock", **overrides))
    instance.providers.register("mock", lambda _otvet: provider, owner="tests")
    await instance.start()
    return instance


async def test_a_chat_continues_the_engines_conversation_only_with_the_history_sent(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    mock_provider.then("Paris.").then("About 2 million.").then("Fresh.").then("Fresh again.")
    first = {"role": "user", "content": "What is the capital of France?"}
    async with asgi_client(otvet, await key_for(otvet)) as sdk:
        one = await sdk.chat.completions.create(model="otvet", messages=[first])  # type: ignore[list-item]
        assert one.choices[0].message.content == "Paris."
        follow_up = [
            first,
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": "How big?"},
        ]
        two = await sdk.chat.completions.create(model="otvet", messages=follow_up)  # type: ignore[arg-type]
        # A history the engine did not produce (an edited answer) is not continued: a fresh conversation.
        edited = [first, {"role": "assistant", "content": "Lyon."}, {"role": "user", "content": "How big?"}]
        three = await sdk.chat.completions.create(model="otvet", messages=edited)  # type: ignore[arg-type]
        # A new chat opening with the same question does not inherit the first chat's turns either.
        four = await sdk.chat.completions.create(model="otvet", messages=[first])  # type: ignore[list-item]
    histories = [[(m.role, m.text) for m in request.history] for request in mock_provider.requests]
    assert histories == [
        [],
        [("user", "What is the capital of France?"), ("assistant", "Paris.")],
        [],
        [],
    ]
    ids = [c.otvet["conversation_id"] for c in (one, two, three, four)]  # type: ignore[attr-defined]
    assert ids[0] == ids[1] and len({ids[1], ids[2], ids[3]}) == 3


async def test_quota_refusals_are_429_with_retry_after(tmp_path: Path, db_url: str) -> None:
    provider = MockProvider()
    otvet = await started(tmp_path, db_url, provider, quotas={"user_requests_per_minute": 1})
    try:
        async with asgi_client(otvet, await key_for(otvet)) as sdk:
            await sdk.chat.completions.create(model="otvet", messages=[{"role": "user", "content": "One?"}])
            for stream in (False, True):
                with pytest.raises(openai.RateLimitError) as refused:
                    await sdk.chat.completions.create(
                        model="otvet", messages=[{"role": "user", "content": "Two?"}], stream=stream
                    )
                assert refused.value.code == "user_rate_limited"
                assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
                assert "minute" in refused.value.message
    finally:
        await otvet.stop()


async def test_a_question_a_moderation_plugin_refuses_is_a_content_policy_violation(
    tmp_path: Path, db_url: str
) -> None:
    class Moderation:
        @hookimpl
        def review_question(self, question: str) -> Refusal | None:
            return Refusal("I don't answer that.") if "casino" in question else None

    provider = MockProvider()
    otvet = await started(tmp_path, db_url, provider)
    otvet.pm.register(Moderation(), name="moderation")
    try:
        async with asgi_client(otvet, await key_for(otvet)) as sdk:
            for stream in (False, True):
                with pytest.raises(openai.BadRequestError) as refused:
                    await sdk.chat.completions.create(
                        model="otvet", messages=[{"role": "user", "content": "casino?"}], stream=stream
                    )
                assert refused.value.code == "content_policy_violation"
                assert refused.value.message.endswith("I don't answer that.")
        assert provider.requests == []  # the model never saw it
    finally:
        await otvet.stop()


async def test_the_user_field_names_the_end_user_for_quotas_and_usage(tmp_path: Path, db_url: str) -> None:
    """One integrator, two of its users: a per-user limit holds each of them, not the whole key."""
    otvet = await started(tmp_path, db_url, MockProvider(), quotas={"user_requests_per_minute": 1})
    try:
        key = await key_for(otvet)
        async with asgi_client(otvet, key) as sdk:
            question = [{"role": "user", "content": "One?"}]
            for user in ("alice", "bob"):
                await sdk.chat.completions.create(model="otvet", messages=question, user=user)  # type: ignore[arg-type]
            with pytest.raises(openai.RateLimitError):
                await sdk.chat.completions.create(model="otvet", messages=question, user="alice")  # type: ignore[arg-type]
        (record,) = await otvet.accounts.list_api_keys()
        rows = await otvet.store.usage_report(
            datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC), "user"
        )
    finally:
        await otvet.stop()
    users = sorted(row.label for row in rows if row.questions)
    assert any(f"key:{record.id}/alice" in label for label in users), users
    assert any(f"key:{record.id}/bob" in label for label in users), users


async def test_a_daily_token_quota_tells_the_sdk_not_to_retry(tmp_path: Path, db_url: str) -> None:
    otvet = await started(tmp_path, db_url, MockProvider(), quotas={"user_tokens_per_day": 1})
    try:
        async with asgi_client(otvet, await key_for(otvet)) as sdk:
            await sdk.chat.completions.create(model="otvet", messages=[{"role": "user", "content": "One?"}])
            two = [{"role": "user", "content": "Two?"}]
            with pytest.raises(openai.RateLimitError) as refused:
                await sdk.chat.completions.create(model="otvet", messages=two)  # type: ignore[arg-type]
        assert refused.value.code == "user_tokens_exhausted"
        headers = refused.value.response.headers
        assert int(headers["retry-after"]) > 120 and headers["x-should-retry"] == "false"
    finally:
        await otvet.stop()


async def test_a_failed_model_is_503_before_the_answer_and_a_note_after(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    mock_provider.fail(ProviderError("down", code="upstream")).fail(
        ProviderError("cut", code="upstream"), "Half"
    )
    async with asgi_client(otvet, await key_for(otvet)) as sdk:
        with pytest.raises(openai.InternalServerError) as before:
            await sdk.chat.completions.create(model="otvet", messages=[{"role": "user", "content": "Hi?"}])
        assert before.value.status_code == 503 and before.value.code == "provider_error"
        assert "try again" in before.value.message and "Traceback" not in before.value.response.text
        stream = await sdk.chat.completions.create(
            model="otvet", messages=[{"role": "user", "content": "Hi again?"}], stream=True
        )
        received: list[str] = []
        await _collect(stream, received)  # ends normally: the text seen so far, and why it stops there
    assert (
        "".join(received)
        == "Half\n\n(The answer was cut short: the AI model stopped responding. Please ask again.)"
    )


async def _collect(stream: openai.AsyncStream[Any], into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk.choices[0].delta.content or "")


async def test_usage_comes_from_the_provider(otvet: Otvet, mock_provider: MockProvider) -> None:
    mock_provider.then("Counted.", usage=Usage(prompt_tokens=120, completion_tokens=3))
    async with asgi_client(otvet, await key_for(otvet)) as sdk:
        completion = await sdk.chat.completions.create(
            model="otvet", messages=[{"role": "user", "content": "Count?"}]
        )
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (120, 3)


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"model": "otvet"}, "messages", "Field required"),
        ({"model": "otvet", "messages": []}, "messages", "at least 1 item"),
        ({"model": "otvet", "messages": "hi"}, "messages", "valid list"),
        ({"messages": [{"role": "user", "content": "Hi"}]}, "model", "Field required"),
        ({"model": "otvet", "messages": [{"role": "user", "content": "  "}]}, "messages[0].content", "empty"),
        ({"model": "otvet", "messages": [{"role": "user", "content": 7}]}, "messages[0].content", "string"),
        ({"model": "otvet", "messages": [{"content": "Hi"}]}, "messages[0].role", "Field required"),
        (
            {"model": "otvet", "messages": [{"role": "tool", "content": "42", "tool_call_id": "x"}]},
            "messages[0].role",
            "role 'tool' are not supported",
        ),
        (
            {"model": "otvet", "messages": [{"role": "user", "content": "Hi"}], "n": 2},
            "n",
            "'n' must be 1",
        ),
        (
            {
                "model": "otvet",
                "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
            },
            "messages",
            "last message must be the user's question",
        ),
    ],
)
async def test_invalid_requests_are_400_naming_the_field(
    otvet: Otvet, body: dict[str, Any], param: str, message: str
) -> None:
    key = await key_for(otvet)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(otvet))) as plain:
        response = await plain.post(
            "http://otvet.test/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert message in error["message"]


async def test_unparseable_and_oversized_bodies_are_refused(otvet: Otvet) -> None:
    headers = {"Authorization": f"Bearer {await key_for(otvet)}", "Content-Type": "application/json"}
    url = "http://otvet.test/v1/chat/completions"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(otvet))) as plain:
        broken = await plain.post(url, content=b'{"model": "otvet", "messages": [', headers=headers)
        array = await plain.post(url, content=b"[1, 2]", headers=headers)
        huge = await plain.post(
            url,
            json={"model": "otvet", "messages": [{"role": "user", "content": "x" * (1 << 20)}]},
            headers=headers,
        )
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]["message"]
    assert array.status_code == 400 and "JSON object" in array.json()["error"]["message"]
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"


async def test_the_per_key_rate_limit_is_429(tmp_path: Path, db_url: str) -> None:
    otvet = await started(tmp_path, db_url, MockProvider(), api={"requests_per_minute": 1})
    try:
        async with asgi_client(otvet, await key_for(otvet)) as sdk:
            await sdk.models.list()
            with pytest.raises(openai.RateLimitError) as limited:
                await sdk.models.list()
        assert limited.value.code == "rate_limit_exceeded"
        assert int(limited.value.response.headers["retry-after"]) >= 1
    finally:
        await otvet.stop()


async def test_a_client_leaving_mid_stream_stops_the_engine(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    mock_provider.then("Partial", hang=True)
    raw, record = await otvet.accounts.create_api_key("streamer", ["ask"])
    body = {"model": "otvet", "messages": [{"role": "user", "content": "Long?"}], "stream": True}
    server = LoopbackServer(create_app(otvet), "otvet")
    port = await server.start()
    try:
        async with (
            httpx.AsyncClient() as plain,
            plain.stream(
                "POST",
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {raw}"},
            ) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if "Partial" in line:
                    break  # the model is still "writing": leave now
        # The provider's stream is closed, and the question kept, marked as cancelled.
        request = ChatCompletionRequest.model_validate(body)
        chat = chat_id(request, read_dialogue(request))
        user = await otvet.store.get_or_create_user(CHANNEL, f"key:{record.id}")
        conversation = await otvet.store.current_conversation(user.id, chat)
        statuses: list[tuple[str, str]] = []
        for _ in range(500):  # the server notices the closed socket on its own time
            statuses = [(m.role, m.status) for m in await otvet.store.messages(conversation.id)]
            if mock_provider.closed_streams and statuses == [("user", "cancelled")]:
                break
            await asyncio.sleep(0.02)
        assert mock_provider.closed_streams == 1
        assert statuses == [("user", "cancelled")]
    finally:
        await server.stop()
