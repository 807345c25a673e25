"""The OpenAI provider through the engine, against a fake OpenAI-compatible server on loopback.

Everything below the HTTP boundary is real: the ``openai`` client, its SSE parsing, our retries, the engine,
the database. The assertions are on the exact request the model receives and on what the user gets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from otvet.core.app import Otvet
from otvet.core.llm import AnswerRequest, ProviderDone
from otvet.core.types import Delta, Event, Failure, Final, Passage, SourceRef, Turn
from otvet.frontends.app import create_app
from otvet.plugins.llm_openai.provider import OpenAIProvider
from tests.conftest import make_settings
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import free_port

QUESTION = "How do I connect Telegram?"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@asynccontextmanager
async def openai_otvet(
    tmp_path: Path, base_url: str, database_url: str = "", **overrides: Any
) -> AsyncIterator[Otvet]:
    """An Otvet answering with OpenAI at ``base_url``, retrying fast, with the demo knowledge base."""
    openai = {
        "api_key": "sk-test",
        "base_url": base_url,
        "model": "gpt-test",
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.05,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        **overrides.pop("openai", {}),
    }
    settings = make_settings(
        tmp_path, database_url, provider="auto", load_demo=True, openai=openai, **overrides
    )
    async with Otvet(settings) as otvet:
        yield otvet


async def collect(otvet: Otvet, text: str = QUESTION, **turn: Any) -> tuple[list[Event], Final | Failure]:
    events = [e async for e in otvet.engine.stream(Turn(channel="test", user_id="u1", text=text, **turn))]
    last = events[-1]
    assert isinstance(last, Final | Failure)
    return events, last


def system_prompt(body: dict[str, Any]) -> str:
    assert body["messages"][0]["role"] == "system"
    return str(body["messages"][0]["content"])


async def test_a_streamed_cited_answer_with_passages_and_history_in_the_request(
    tmp_path: Path, db_url: str, fake: FakeOpenAI
) -> None:
    fake.reply("Open ", "@BotFather [2] ", "and paste the token [1].", usage=(321, 12))
    fake.reply("Yes, ", "set OTVET_TELEGRAM__TOKEN [1].", delay=0.2)
    async with openai_otvet(tmp_path, fake.base_url, db_url) as otvet:
        assert otvet.provider.name == "openai"  # auto: a key is configured
        _, first = await collect(otvet)
        assert isinstance(first, Final)

        # Streaming end to end: the first delta reaches us while the server is still sending.
        stream = otvet.engine.stream(Turn(channel="test", user_id="u1", text="And where does the token go?"))
        deltas: list[str] = []
        async for event in stream:
            if isinstance(event, Delta):
                if not deltas:
                    assert fake.completed_streams == 1  # only the first answer's stream is complete
                deltas.append(event.text)
            else:
                second = event
        assert fake.completed_streams == 2

    # The first answer: markers renumbered in the order cited, the sources listed in the same order.
    assert first.text == "Open @BotFather [1] and paste the token [2]."
    assert first.provider == "openai" and first.grounded and not first.fallback
    assert [s.title for s in first.sources][:1] and len(first.sources) == 2
    assert all(s.name and s.chunk_id for s in first.sources)
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (321, 12)

    request = fake.chat_requests[0]
    assert request["model"] == "gpt-test" and request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    prompt = system_prompt(request)
    assert "[1] Connecting Telegram" in prompt and "BotFather" in prompt
    assert "Always answer in English." in prompt
    assert request["messages"][-1] == {"role": "user", "content": QUESTION}
    # Source [2] of the prompt is the first source the user sees.
    first_prompt_sources = [line for line in prompt.splitlines() if line.startswith("[")]
    assert first_prompt_sources[1].startswith(f"[2] {first.sources[0].label()}")

    # The follow-up carries the conversation so far.
    follow_up = fake.chat_requests[1]["messages"]
    assert follow_up[1:] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Open @BotFather [1] and paste the token [2]."},
        {"role": "user", "content": "And where does the token go?"},
    ]
    assert (
        isinstance(second, Final) and "".join(deltas) == second.text == "Yes, set OTVET_TELEGRAM__TOKEN [1]."
    )

    async with openai_otvet(tmp_path, fake.base_url, db_url) as otvet:
        stored = await otvet.store.messages(first.conversation_id or 0)
    assert [(m.role, m.status, m.provider) for m in stored] == [
        ("user", "ok", None),
        ("assistant", "ok", "openai"),
        ("user", "ok", None),
        ("assistant", "ok", "openai"),
    ]
    assert (stored[1].usage.prompt_tokens, stored[1].usage.completion_tokens) == (321, 12)
    assert len({m.user_id for m in stored}) == 1 and stored[0].user_id is not None
    assert stored[1].sources == first.sources


async def test_a_russian_question_gets_russian_instructions(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.reply("Откройте @BotFather [1].")
    async with openai_otvet(tmp_path, fake.base_url) as otvet:
        _, final = await collect(otvet, "Как подключить Telegram?")
    assert isinstance(final, Final) and final.language == "ru"
    prompt = system_prompt(fake.chat_requests[0])
    assert "Всегда отвечай на языке: русский." in prompt
    assert "Источники:" in prompt


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("What is the boiling point of tungsten?", "I don't know the answer to that yet"),
        ("Какая температура кипения вольфрама?", "Я пока не знаю ответа"),
        ("Hi!", "Hello! I answer questions from my knowledge base."),
        ("Спасибо!", "Пожалуйста! Спрашивайте"),
    ],
)
async def test_off_topic_questions_and_small_talk_cost_no_model_call(
    tmp_path: Path, fake: FakeOpenAI, question: str, reply: str
) -> None:
    async with openai_otvet(tmp_path, fake.base_url) as otvet:
        _, final = await collect(otvet, question)
    assert isinstance(final, Final) and final.text.startswith(reply)
    assert final.sources == () and not final.grounded and final.provider == "openai"
    assert fake.chat_requests == []  # nothing in the knowledge base is about it: the model is not paid


async def test_answer_off_topic_lets_the_model_answer_from_general_knowledge(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.reply("Tungsten boils at about 5,930 °C; my knowledge base does not cover it.")
    async with openai_otvet(tmp_path, fake.base_url, prompt={"answer_off_topic": True}) as otvet:
        _, final = await collect(otvet, "What is the boiling point of tungsten?")
    assert isinstance(final, Final)
    assert final.sources == () and not final.grounded
    prompt = system_prompt(fake.chat_requests[0])
    assert "The knowledge base has nothing on this question" in prompt and "Sources:" not in prompt


async def test_429_with_retry_after_is_waited_out_then_answered(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.fail(429, retry_after="1", code="rate_limit_exceeded", type="requests")
    fake.reply("Here you go [1].")
    async with openai_otvet(tmp_path, fake.base_url) as otvet:
        _, final = await collect(otvet)
    assert isinstance(final, Final) and final.text == "Here you go [1]."
    chat = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert len(chat) == 2
    assert chat[1].at - chat[0].at >= 0.95  # the server's Retry-After, not our 10 ms backoff


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retried(tmp_path: Path, fake: FakeOpenAI, status: int) -> None:
    fake.fail(status, times=2).reply("Recovered [1].")
    async with openai_otvet(tmp_path, fake.base_url) as otvet:
        _, final = await collect(otvet)
    assert isinstance(final, Final) and final.text == "Recovered [1]." and len(fake.chat_requests) == 3


async def test_an_unauthorized_key_is_not_retried_and_the_user_gets_the_fallback(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.fail(401, type="invalid_request_error", code="invalid_api_key")
    async with openai_otvet(tmp_path, fake.base_url, fallback_provider="extractive") as otvet:
        events, final = await collect(otvet)
    assert len(fake.chat_requests) == 1
    assert isinstance(final, Final) and final.fallback and final.provider == "extractive"
    assert final.text.startswith("The AI model is not available right now")
    assert "BotFather" in final.text and final.sources
    assert "".join(e.text for e in events if isinstance(e, Delta)) == final.text


async def test_when_retries_run_out_the_fallback_answers_and_is_stored_without_the_note(
    tmp_path: Path, db_url: str, fake: FakeOpenAI
) -> None:
    fake.fail(503, times=3)
    async with openai_otvet(tmp_path, fake.base_url, db_url, fallback_provider="extractive") as otvet:
        _, final = await collect(otvet)
        assert isinstance(final, Final) and final.fallback
        stored = await otvet.store.messages(final.conversation_id or 0)
    assert len(fake.chat_requests) == 3  # max_attempts
    assert [(m.role, m.status, m.provider) for m in stored] == [
        ("user", "ok", None),
        ("assistant", "ok", "extractive"),
    ]
    assert not stored[1].text.startswith("The AI model") and stored[1].text in final.text


async def test_without_a_fallback_the_user_gets_a_calm_message_and_the_question_is_kept(
    tmp_path: Path, db_url: str, fake: FakeOpenAI
) -> None:
    fake.fail(500, times=3)
    async with openai_otvet(tmp_path, fake.base_url, db_url) as otvet:
        _, failure = await collect(otvet)
        assert isinstance(failure, Failure) and failure.code == "provider_error"
        assert failure.message == "Sorry, I could not answer right now. Please try again in a minute."
        stored = await otvet.store.messages(failure.conversation_id or 0)
        # The next turn's history does not contain the failed question.
        fake.reply("Fine [1].")
        await collect(otvet, "Second question about Telegram?")
    assert [(m.role, m.text, m.status) for m in stored] == [("user", QUESTION, "failed")]
    assert fake.chat_requests[-1]["messages"][1:] == [
        {"role": "user", "content": "Second question about Telegram?"}
    ]


async def test_a_server_that_stops_answering_times_out_and_retries(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.hang().reply("After the hang [1].")
    async with openai_otvet(tmp_path, fake.base_url, openai={"read_timeout": 0.3}) as otvet:
        _, final = await collect(otvet)
    assert isinstance(final, Final) and final.text == "After the hang [1]."
    assert len(fake.chat_requests) == 2


async def test_the_answer_deadline_ends_a_hang_with_the_fallback(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.hang()
    overrides = {"openai": {"read_timeout": 30.0}, "answer_timeout": 0.5, "fallback_provider": "extractive"}
    async with openai_otvet(tmp_path, fake.base_url, **overrides) as otvet:
        _, final = await collect(otvet)
        await fake.wait_for_disconnects(1)
    assert isinstance(final, Final) and final.fallback
    # The deadline, not the 30 s read timeout, ended the wait: the one request was abandoned, not retried.
    assert len(fake.chat_requests) == 1 and fake.completed_streams == 0


async def test_connection_refused_ends_in_the_fallback(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    async with openai_otvet(tmp_path, dead, fallback_provider="extractive") as otvet:
        _, final = await collect(otvet)
    assert isinstance(final, Final) and final.fallback and "BotFather" in final.text


@pytest.mark.parametrize("fault", ["truncate", "invalid_chunk", "error_event"])
async def test_a_stream_broken_before_any_text_is_retried(
    tmp_path: Path, fake: FakeOpenAI, fault: str
) -> None:
    getattr(fake, fault)()
    fake.reply("Clean answer [1].")
    async with openai_otvet(tmp_path, fake.base_url) as otvet:
        _, final = await collect(otvet)
    assert isinstance(final, Final) and final.text == "Clean answer [1]."
    assert len(fake.chat_requests) == 2


@pytest.mark.parametrize("fault", ["truncate", "invalid_chunk", "error_event"])
async def test_a_stream_broken_mid_answer_ends_with_a_note_and_no_second_answer(
    tmp_path: Path, db_url: str, fake: FakeOpenAI, fault: str
) -> None:
    getattr(fake, fault)("Half of ", "an answer")
    async with openai_otvet(tmp_path, fake.base_url, db_url, fallback_provider="extractive") as otvet:
        events, final = await collect(otvet)
        stored = await otvet.store.messages(final.conversation_id or 0)
    # The user saw the beginning, then a note that it was cut short; no other answer is appended to half
    # of one, and what was said is kept (without the note) for the conversation's history.
    note = "\n\n(The answer was cut short: the AI model stopped responding. Please ask again.)"
    assert [e.text for e in events if isinstance(e, Delta)] == ["Half of ", "an answer", note]
    assert isinstance(final, Final) and final.text == "Half of an answer" + note and not final.fallback
    assert [(m.role, m.text, m.status) for m in stored][-1] == ("assistant", "Half of an answer", "ok")
    assert len(fake.chat_requests) == 1


async def test_a_context_length_error_is_retried_with_a_smaller_prompt(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.reply("First [1].")
    async with openai_otvet(tmp_path, fake.base_url) as otvet:
        await collect(otvet)
        fake.context_length_exceeded().reply("Shorter prompt worked [1].")
        _, final = await collect(otvet, "Where does the Telegram token go?")
    assert isinstance(final, Final) and final.text == "Shorter prompt worked [1]."
    too_long, shrunk = fake.chat_requests[1:]
    assert len(too_long["messages"]) == 4 and len(shrunk["messages"]) == 2  # history dropped
    assert len(system_prompt(shrunk)) <= len(system_prompt(too_long))


async def test_a_prompt_that_never_fits_gets_its_own_message(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.context_length_exceeded(times=3)
    async with openai_otvet(tmp_path, fake.base_url) as otvet:
        _, failure = await collect(otvet, language="ru")
    assert isinstance(failure, Failure) and failure.code == "context_too_long"
    assert "/reset" in failure.message and failure.language == "ru"
    assert len(fake.chat_requests) == 3


async def test_an_open_circuit_answers_at_once_without_calling_the_dead_server(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.fail(500, times=4)
    overrides = {"openai": {"max_attempts": 2, "breaker_failures": 4}, "fallback_provider": "extractive"}
    async with openai_otvet(tmp_path, fake.base_url, **overrides) as otvet:
        for _ in range(2):
            _, final = await collect(otvet)
            assert isinstance(final, Final) and final.fallback
        assert len(fake.chat_requests) == 4
        _, final = await collect(otvet)  # the circuit is open now
        assert isinstance(final, Final) and final.fallback
        assert len(fake.chat_requests) == 4


async def test_readyz_shows_the_open_circuit_and_stays_ready(tmp_path: Path, fake: FakeOpenAI) -> None:
    """While the model is down the fallback answers: replicas must stay in the load balancer."""
    fake.fail(500, times=2)
    overrides = {"openai": {"max_attempts": 2, "breaker_failures": 2}, "fallback_provider": "extractive"}
    async with openai_otvet(tmp_path, fake.base_url, **overrides) as otvet:
        transport = httpx.ASGITransport(app=create_app(otvet))  # otvet is started: no lifespan needed
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
            before = (await client.get("/readyz")).json()
            await collect(otvet)
            response = await client.get("/readyz")
    assert before["checks"]["provider"] == {"name": "openai", "model": "gpt-test", "circuit": "closed"}
    assert response.status_code == 200
    assert response.json()["checks"]["provider"] == {"name": "openai", "model": "gpt-test", "circuit": "open"}


async def test_a_user_leaving_mid_stream_stops_the_upstream_request(
    tmp_path: Path, db_url: str, fake: FakeOpenAI
) -> None:
    fake.reply("one ", "two ", "three ", "four", delay=0.3)
    async with openai_otvet(tmp_path, fake.base_url, db_url) as otvet:
        stream = otvet.engine.stream(Turn(channel="test", user_id="u1", text=QUESTION))
        async for event in stream:
            assert isinstance(event, Delta)
            break
        await stream.aclose()
        await fake.wait_for_disconnects(1)
        user = await otvet.store.get_or_create_user("test", "u1")
        conversation = await otvet.store.current_conversation(user.id, "private")
        stored = await otvet.store.messages(conversation.id)
    assert fake.completed_streams == 0
    assert [(m.role, m.status) for m in stored] == [("user", "cancelled")]


async def test_azure_openai_calls_the_deployment_with_the_api_version(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.reply("From Azure [1].")
    azure = {"azure_api_version": "2024-10-21", "model": "my-deployment"}
    async with openai_otvet(tmp_path, fake.url, openai=azure) as otvet:
        _, final = await collect(otvet)
    assert isinstance(final, Final) and final.text == "From Azure [1]."
    (request,) = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert request.path == "/openai/deployments/my-deployment/chat/completions"
    assert request.query["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == "sk-test"


async def test_without_a_key_otvet_keeps_the_extractive_default(tmp_path: Path) -> None:
    async with Otvet(make_settings(tmp_path, provider="auto")) as otvet:
        assert otvet.provider.name == "extractive"
        assert otvet.fallback_provider is None


async def test_choosing_openai_without_a_key_fails_at_start_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OTVET_OPENAI__API_KEY"):
        async with Otvet(make_settings(tmp_path, provider="openai")):
            pass


async def test_openai_itself_gets_max_completion_tokens_and_the_organization(tmp_path: Path) -> None:
    """api.openai.com (no base URL), answered by a mock transport: nothing leaves the machine."""
    import httpx2

    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": "Hi [1]."}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
        body = "".join(
            "data: "
            + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", **c})
            + "\n\n"
            for c in chunks
        )
        return httpx2.Response(
            200, text=body + "data: [DONE]\n\n", headers={"content-type": "text/event-stream"}
        )

    openai = {"api_key": "sk-real", "organization": "org-1", "project": "proj-1", "max_tokens": 300}
    otvet = Otvet(make_settings(tmp_path, openai=openai))
    provider = OpenAIProvider(otvet, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    passage = Passage("Text.", 0.9, SourceRef("Doc", chunk_id=1))
    request = AnswerRequest("Q?", "en", (passage,), (), otvet.i18n.get("en"))
    items = [item async for item in provider.stream(request)]
    await provider.aclose()
    assert items[0] == "Hi [1]." and isinstance(items[-1], ProviderDone) and items[-1].cited == (0,)
    (sent,) = seen
    assert str(sent.url) == "https://api.openai.com/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-real"
    assert sent.headers["openai-organization"] == "org-1" and sent.headers["openai-project"] == "proj-1"
    body = json.loads(sent.content)
    assert body["max_completion_tokens"] == 300 and "max_tokens" not in body
