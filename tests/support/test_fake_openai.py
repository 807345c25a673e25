"""The fake OpenAI server, driven by the real ``openai`` client over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.fake_openai import FakeOpenAI, embed_text, loopback_http_client, speech_of
from tests.support.server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
QUESTION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How do I reset it?"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="k", max_retries=0, http_client=loopback_http_client()
    ) as api:
        yield api


async def stream_answer(
    client: openai.AsyncOpenAI, received: list[Any] | None = None, **options: Any
) -> list[Any]:
    """Every chunk of a streamed answer; ``received`` also collects them, for a stream that ends in error."""
    chunks = received if received is not None else []
    stream = await client.chat.completions.create(model="gpt-x", messages=QUESTION, stream=True, **options)
    async for chunk in stream:
        chunks.append(chunk)
    return chunks


def contents(chunks: list[Any]) -> list[str]:
    return [
        chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content
    ]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # the vectors are unit length


# Chat completions.


async def test_a_streamed_answer_arrives_delta_by_delta_with_finish_reason_and_usage(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.reply("Hello", ", ", "world.", usage=(12, 3))

    chunks = await stream_answer(client, stream_options={"include_usage": True})

    assert chunks[0].choices[0].delta.role == "assistant"
    assert contents(chunks) == ["Hello", ", ", "world."]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 3, 15)
    assert {chunk.id for chunk in chunks} == {chunks[0].id} and chunks[0].object == "chat.completion.chunk"
    assert fake.completed_streams == 1 and fake.disconnects == 0


async def test_the_request_is_recorded_as_the_client_sent_it(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    await stream_answer(client, temperature=0.2)

    (body,) = fake.chat_requests
    assert body["model"] == "gpt-x" and body["messages"] == QUESTION
    assert body["stream"] is True and body["temperature"] == 0.2
    (request,) = fake.requests
    assert (request.method, request.path, request.deployment) == ("POST", "/v1/chat/completions", None)
    assert request.headers["authorization"] == "Bearer k"


async def test_without_a_script_the_default_answer_streams_and_usage_only_when_asked(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    chunks = await stream_answer(client)

    assert "".join(contents(chunks)) == "Answer from the knowledge base [1]."
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)


async def test_a_non_streamed_completion_is_one_chat_completion_object(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.reply("Cut ", "short", finish_reason="length", usage=(7, 2))

    completion = await client.chat.completions.create(model="gpt-x", messages=QUESTION)

    assert completion.object == "chat.completion" and completion.model == "gpt-x"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Cut short"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.total_tokens == 9
    assert "stream" not in fake.chat_requests[0]


async def test_scripts_answer_requests_in_arrival_order_then_the_default_resumes(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.reply("first").reply("second", usage=None)

    answers = [
        (await client.chat.completions.create(model="gpt-x", messages=QUESTION)).choices[0].message.content
        for _ in range(3)
    ]

    assert answers == ["first", "second", "Answer from the knowledge base [1]."]


async def test_benchmark_knobs_make_long_answers(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.reply_many(40, text="w ")
    fake.default_deltas = ["x"] * 25

    assert contents(await stream_answer(client)) == ["w "] * 40
    assert contents(await stream_answer(client)) == ["x"] * 25


# Errors.


async def test_a_rate_limit_raises_rate_limit_error_with_retry_after_visible(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.fail(
        429, message="Slow down", code="rate_limit_exceeded", retry_after="2", retry_after_ms="1500", times=2
    )

    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            await stream_answer(client)
        assert caught.value.response.headers["retry-after"] == "2"
        assert caught.value.response.headers["retry-after-ms"] == "1500"
        assert caught.value.code == "rate_limit_exceeded"
        assert caught.value.message == "Error code: 429 - Slow down"
        assert caught.value.body == {
            "message": "Slow down",
            "type": "server_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    assert contents(await stream_answer(client))  # times=2: the third request is answered
    assert len(fake.chat_requests) == 3


async def test_a_server_error_raises_internal_server_error(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.fail(500)

    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="gpt-x", messages=QUESTION)
    assert caught.value.status_code == 500 and "retry-after" not in caught.value.response.headers


async def test_a_too_long_prompt_raises_bad_request_with_its_code(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.context_length_exceeded()

    with pytest.raises(openai.BadRequestError) as caught:
        await stream_answer(client)
    assert caught.value.code == "context_length_exceeded" and caught.value.type == "invalid_request_error"
    assert "maximum context length" in caught.value.message


async def test_a_request_without_messages_is_rejected_in_openai_error_shape(
    client: openai.AsyncOpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="gpt-x", messages=[])
    assert caught.value.param == "messages" and caught.value.type == "invalid_request_error"


async def test_an_unknown_path_answers_not_found_in_openai_error_shape(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await client.models.retrieve("gpt-x")
    assert caught.value.type == "invalid_request_error"
    assert fake.requests[-1].path == "/v1/models/gpt-x"


# Broken streams.


async def test_a_truncated_stream_delivers_its_deltas_then_raises_connection_error(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.truncate("Half ", "an answer")
    received: list[Any] = []

    with pytest.raises(openai.APIConnectionError) as caught:
        await stream_answer(client, received, stream_options={"include_usage": True})

    assert contents(received) == ["Half ", "an answer"]
    assert all(chunk.choices[0].finish_reason is None for chunk in received)
    assert "incomplete chunked read" in str(caught.value.__cause__)
    assert fake.completed_streams == 0
    assert contents(await stream_answer(client))  # the fake keeps serving


async def test_a_truncated_whole_answer_raises_connection_error(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.truncate("Half ", "an answer")

    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="gpt-x", messages=QUESTION)


async def test_an_invalid_chunk_raises_json_decode_error_after_the_deltas(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.invalid_chunk("Some ", "text")
    received: list[Any] = []

    with pytest.raises(json.JSONDecodeError):  # the openai client does not wrap it
        await stream_answer(client, received)
    assert contents(received) == ["Some ", "text"]


async def test_an_error_event_mid_stream_raises_api_error_with_its_message(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.error_event("Partial", message="The server is overloaded")
    received: list[Any] = []

    with pytest.raises(openai.APIError) as caught:
        await stream_answer(client, received)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.message == "The server is overloaded"
    assert contents(received) == ["Partial"]


async def test_a_hanging_server_makes_the_client_time_out(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.hang()

    with pytest.raises(openai.APITimeoutError):
        await stream_answer(client, timeout=0.5)
    await fake.wait_for_disconnects(1)  # it gave up on a streamed answer
    assert contents(await stream_answer(client))  # the hang applied to one request only


async def test_a_client_that_closes_the_stream_early_counts_as_a_disconnect(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.reply("one ", "two ", "three", delay=5)  # the fake notices at once: no need to wait out the delay

    stream = await client.chat.completions.create(model="gpt-x", messages=QUESTION, stream=True)
    first = await stream.__anext__()
    await stream.close()

    assert first.choices[0].delta.role == "assistant"
    await fake.wait_for_disconnects(1)
    assert fake.completed_streams == 0


# Embeddings.


async def test_embeddings_have_one_unit_vector_per_input_in_order(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    result = await client.embeddings.create(
        model="embed-x", input=["reset password", "opening hours"], encoding_format="float"
    )

    assert [item.index for item in result.data] == [0, 1] and result.model == "embed-x"
    assert all(len(item.embedding) == 64 for item in result.data)
    assert all(abs(cosine(item.embedding, item.embedding) - 1) < 1e-9 for item in result.data)
    assert result.data[0].embedding == embed_text("reset password")
    assert result.usage.prompt_tokens == result.usage.total_tokens == 4
    assert fake.embedding_requests == [
        {"model": "embed-x", "input": ["reset password", "opening hours"], "encoding_format": "float"}
    ]


async def test_embeddings_are_deterministic_and_texts_sharing_words_are_closer(
    client: openai.AsyncOpenAI,
) -> None:
    texts = ["How do I reset my password?", "Reset the password", "Library opening hours on Sunday"]

    first = await client.embeddings.create(model="embed-x", input=texts, encoding_format="float")
    again = await client.embeddings.create(model="embed-x", input=texts[0], encoding_format="float")

    question, similar, unrelated = (item.embedding for item in first.data)
    assert again.data[0].embedding == question
    assert cosine(question, similar) > 0.5
    assert cosine(question, unrelated) < 0.3
    assert embed_text("RESET, password!") == embed_text("reset password")  # lower-cased words, no punctuation


async def test_base64_and_float_embeddings_decode_to_the_same_vector(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    floats = await client.embeddings.create(model="e", input="reset password", encoding_format="float")
    raw = await client.embeddings.create(model="e", input="reset password", encoding_format="base64")
    default = await client.embeddings.create(model="e", input="reset password")

    encoded = raw.data[0].embedding
    assert isinstance(encoded, str)  # asked for explicitly, the client hands base64 over as it came
    decoded = struct.unpack("<64f", base64.b64decode(encoded))
    assert decoded == pytest.approx(floats.data[0].embedding, abs=1e-6)
    # Without encoding_format the client asks for base64 and decodes it into floats itself.
    assert fake.embedding_requests[-1]["encoding_format"] == "base64"
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


async def test_the_dimensions_parameter_sets_the_vector_length(client: openai.AsyncOpenAI) -> None:
    result = await client.embeddings.create(model="e", input=["a b c"], dimensions=16)

    assert len(result.data[0].embedding) == 16


async def test_failing_embeddings_raise_the_status_error_then_recover(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.fail_embeddings(429, retry_after="1").fail_embeddings(503)

    with pytest.raises(openai.RateLimitError) as caught:
        await client.embeddings.create(model="e", input="text")
    assert caught.value.response.headers["retry-after"] == "1"
    with pytest.raises(openai.InternalServerError):
        await client.embeddings.create(model="e", input="text")
    assert len((await client.embeddings.create(model="e", input="text")).data) == 1
    assert contents(await stream_answer(client))  # embedding faults leave chat alone


async def test_an_empty_input_is_rejected(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.embeddings.create(model="e", input=[])
    assert caught.value.param == "input"


# Transcriptions.


async def test_a_transcription_hears_the_uploaded_text_and_names_its_language(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    russian = await client.audio.transcriptions.create(
        model="whisper-1", file=("voice.ogg", "Как сбросить пароль?".encode(), "audio/ogg"),
        response_format="verbose_json",
    )  # fmt: skip
    assert (russian.text, russian.language) == ("Как сбросить пароль?", "russian")
    assert russian.duration and russian.segments and russian.segments[0].text == russian.text
    tagged = await client.audio.transcriptions.create(
        model="whisper-1", file=("a.mp3", b"lang:de|Guten Tag"), response_format="verbose_json"
    )
    assert (tagged.text, tagged.language) == ("Guten Tag", "german")
    plain = await client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("a.wav", b"Hi"))
    assert plain.text == "Hi" and not hasattr(plain, "language")
    forced = await client.audio.transcriptions.create(
        model="whisper-1", file=("a.ogg", b"Hello"), response_format="verbose_json", language="ru"
    )
    assert forced.language == "russian"  # the language the client named, as Whisper would take it
    assert speech_of(b"") == ("", "english")

    first = fake.transcriptions[0]
    assert (first.model, first.response_format, first.filename, first.content_type) == (
        "whisper-1",
        "verbose_json",
        "voice.ogg",
        "audio/ogg",
    )
    assert first.audio == "Как сбросить пароль?".encode() and fake.transcriptions[3].language == "ru"


async def test_a_transcription_is_refused_as_openai_refuses_it(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Invalid file format") as caught:
        await client.audio.transcriptions.create(model="whisper-1", file=("notes.txt", b"hello"))
    assert caught.value.param == "file"
    with pytest.raises(openai.BadRequestError, match="not compatible"):
        await client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("a.ogg", b"hi"), response_format="verbose_json"
        )


async def test_failing_and_hanging_transcriptions_then_recovery(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.fail_transcriptions(500).fail_transcriptions(429, code="insufficient_quota").hang_transcriptions(30)

    with pytest.raises(openai.InternalServerError):
        await client.audio.transcriptions.create(model="whisper-1", file=("a.ogg", b"hi"))
    with pytest.raises(openai.RateLimitError) as caught:
        await client.audio.transcriptions.create(model="whisper-1", file=("a.ogg", b"hi"))
    assert caught.value.code == "insufficient_quota"
    with pytest.raises(openai.APITimeoutError):
        await client.audio.transcriptions.create(model="whisper-1", file=("a.ogg", b"hi"), timeout=0.3)
    heard = await client.audio.transcriptions.create(model="whisper-1", file=("a.ogg", b"hi"))
    assert heard.text == "hi" and len(fake.transcriptions) == 4


# Azure.


async def test_the_azure_client_reaches_the_deployment_path_with_its_api_version(fake: FakeOpenAI) -> None:
    fake.reply("Azure ", "answer")
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=fake.url, api_version="2024-10-21", api_key="k", max_retries=0
    ) as azure:
        chunks = await stream_answer(azure)
        embeddings = await azure.embeddings.create(model="embedder", input="hello")

    assert contents(chunks) == ["Azure ", "answer"]
    assert len(embeddings.data[0].embedding) == 64
    chat, embed = fake.requests
    assert (chat.path, chat.deployment) == ("/openai/deployments/gpt-x/chat/completions", "gpt-x")
    assert chat.query == {"api-version": "2024-10-21"} and chat.headers["api-key"] == "k"
    assert (embed.path, embed.deployment) == ("/openai/deployments/embedder/embeddings", "embedder")
    assert fake.chat_requests[0]["messages"] == QUESTION


# Housekeeping.


async def test_reset_forgets_scripts_recordings_and_counters(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    await stream_answer(client)
    await client.audio.transcriptions.create(model="whisper-1", file=("a.ogg", b"hi"))
    fake.fail(500, times=3).fail_embeddings(500).fail_transcriptions(500)

    fake.reset()

    assert (fake.requests, fake.completed_streams, fake.disconnects) == ([], 0, 0)
    assert fake.transcriptions == []
    assert contents(await stream_answer(client))
    assert (await client.embeddings.create(model="e", input="x")).data
    assert (await client.audio.transcriptions.create(model="whisper-1", file=("a.ogg", b"hi"))).text == "hi"


async def test_standalone_server_serves_the_default_answer() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.support.fake_openai", "--port", str(port), "--deltas", "5"),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        async with openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0) as api:
            for _ in range(200):
                try:
                    chunks = await stream_answer(api)
                    break
                except openai.APIConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the standalone fake did not start")
    finally:
        process.terminate()
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    assert contents(chunks) == ["word "] * 5
    assert f"http://127.0.0.1:{port}/v1" in output.decode()
