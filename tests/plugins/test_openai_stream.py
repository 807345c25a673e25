"""Server-sent events of a streamed chat completion, read without the ``openai`` client's models: what the
server sends becomes the text, finish reason and usage of an answer, or the error the client would raise."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

from otvet.core.types import Usage
from otvet.plugins.llm_openai.stream import Chunks, events


def response(body: str) -> httpx2.Response:
    return httpx2.Response(200, content=body.encode(), request=httpx2.Request("POST", "http://model/v1"))


async def read(body: str) -> list[dict[str, Any]]:
    return [event async for event in events(response(body))]


def chunk(content: str | None = None, finish: str | None = None) -> str:
    delta = "{}" if content is None else f'{{"content": "{content}"}}'
    reason = "null" if finish is None else f'"{finish}"'
    return f'{{"choices": [{{"index": 0, "delta": {delta}, "finish_reason": {reason}}}]}}'


async def test_text_finish_reason_and_usage_come_out_of_the_chunks() -> None:
    body = (
        ": keep-alive comment\n\n"
        f"data: {chunk('')}\n\n"
        f"data: {chunk('Hello, ')}\n\n"
        f"data:{chunk('world')}\r\n\r\n"  # no space after the colon, CRLF line ends
        f"data: {chunk(finish='stop')}\n\n"
        'data: {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3}}\n\n'
        "data: [DONE]\n\n"
        f"data: {chunk('never read')}\n\n"
    )
    chunks = Chunks()
    text = "".join([chunks.take(event) for event in await read(body)])
    assert text == "Hello, world"
    assert chunks.finish_reason == "stop" and chunks.usage == Usage(12, 3)


async def test_an_event_over_several_data_lines_and_one_without_a_blank_line_after_it() -> None:
    body = (
        'data: {"choices": [{"index": 0,\ndata: "delta": {"content": "joined"}}]}\n\n'
        + f"data: {chunk('last')}"
    )
    chunks = Chunks()
    assert [chunks.take(event) for event in await read(body)] == ["joined", "last"]


async def test_other_choices_and_odd_shapes_add_no_text() -> None:
    chunks = Chunks()
    assert chunks.take({"choices": [{"index": 1, "delta": {"content": "second choice"}}]}) == ""
    assert chunks.take({"choices": ["not an object", {"index": 0, "delta": None}]}) == ""
    assert chunks.take({"choices": [{"index": 0, "delta": {"content": 5}}]}) == ""
    assert chunks.take({}) == "" and chunks.usage is None and chunks.finish_reason is None


async def test_an_error_sent_inside_the_stream_is_raised_as_the_client_would() -> None:
    body = (
        f"data: {chunk('Hi')}\n\n" + 'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    )
    with pytest.raises(openai.APIError, match="overloaded") as raised:
        await read(body)
    assert not isinstance(raised.value, openai.APIStatusError)


@pytest.mark.parametrize(
    ("data", "says"), [("{not json", "line 1 column 2"), ("[1, 2]", "not a JSON object")]
)
async def test_a_chunk_that_is_not_a_json_object_is_malformed_data(data: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        await read(f"data: {data}\n\n")
