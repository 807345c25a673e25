"""A chat completion streamed with the ``openai`` client's transport, its chunks read as plain JSON.

``client.chat.completions.create(stream=True)`` costs more CPU than everything else on an answer's path:
it walks the request's parameters against their TypedDicts (``_async_transform_recursive``) and builds a
pydantic model of every chunk (``construct_type``), about 8 ms of a 20-chunk answer. The request here is
the same POST through ``client.post`` (the client's auth, headers, Azure deployment URLs, timeouts and
status errors all apply), with a body built once, and each server-sent event is parsed once with
``pydantic_core.from_json`` into the few fields an answer needs.

Errors keep the client's types, so :func:`~otvet.plugins.llm_openai.client.classify` sorts them as before:
a status error before the stream (``APIStatusError``), a broken or stalled stream (``APIConnectionError``,
``APITimeoutError``), an error event inside it (``APIError``), and a chunk that is not JSON (``ValueError``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pydantic_core

from otvet.core.types import Usage

#: What ``client.chat.completions.create`` sends for authentication: the API key as a bearer token.
OPTIONS: dict[str, Any] = {"security": {"bearer_auth": True}}


async def open_stream(client: openai.AsyncOpenAI, body: dict[str, Any]) -> httpx2.Response:
    """POST ``body`` to the chat completions endpoint; the response, its body not read yet."""
    return await client.post(
        "/chat/completions",
        body=body,
        cast_to=httpx2.Response,
        options=OPTIONS,  # type: ignore[arg-type]
        stream=True,
    )


async def events(response: httpx2.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects the server sends as events, up to ``[DONE]`` or the end of the body."""
    data: list[str] = []
    event = ""
    try:
        async for line in response.aiter_lines():
            if line:
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "data":
                    data.append(value)
                elif field == "event":
                    event = value
                continue  # comments (":…") and other fields are ignored, as the SSE standard says
            if not data:
                event = ""
                continue
            text, data = "\n".join(data), []
            if text.startswith("[DONE]"):
                return
            yield _checked(pydantic_core.from_json(text), event, response)
            event = ""
        if data and not (text := "\n".join(data)).startswith("[DONE]"):
            yield _checked(pydantic_core.from_json(text), event, response)
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except httpx2.TransportError as exc:
        raise openai.APIConnectionError(request=response.request) from exc


def _checked(data: Any, event: str, response: httpx2.Response) -> dict[str, Any]:
    """``data`` as a chunk, or the error it carries raised as the client would."""
    if not isinstance(data, dict):
        raise ValueError(f"a stream event that is not a JSON object: {str(data)[:100]}")
    if error := data.get("error"):
        message = error.get("message") if isinstance(error, dict) else None
        raise openai.APIError(
            message if isinstance(message, str) and message else "An error occurred during streaming",
            request=response.request,
            body=error,
        )
    if event == "error":
        raise openai.APIError("An error occurred during streaming", request=response.request, body=data)
    return data


class Chunks:
    """Reads the text, finish reason and usage out of ``chat.completion.chunk`` objects."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def take(self, chunk: dict[str, Any]) -> str:
        """Record usage and the finish reason; return the chunk's text (of the first choice)."""
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        text = ""
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            if reason := choice.get("finish_reason"):
                self.finish_reason = str(reason)
            delta = choice.get("delta")
            if choice.get("index", 0) == 0 and isinstance(delta, dict):
                content = delta.get("content")
                if isinstance(content, str):
                    text += content
        return text
