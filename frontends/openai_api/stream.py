"""Streamed answers: the engine's events as server-sent ``chat.completion.chunk`` events, and an ASGI
response that stops the engine as soon as the client goes away.

Why not Starlette's ``StreamingResponse``: under uvicorn (ASGI spec 2.3) it notices a disconnect by
cancelling its sending task in an anyio cancel scope, which keeps cancelling every later ``await`` in that
task, including the engine's own cleanup (marking the question ``cancelled``); and when the disconnect
comes while a chunk is being sent, it never closes the body iterator at all. Here the body runs in a task
of its own that gets one plain cancellation, and the frames (with the engine's stream inside them) are
always closed with ``aclose()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing

from starlette.types import Receive, Scope, Send

from otvet.core.types import Delta, Event, Failure, Final
from otvet.frontends.openai_api import wire
from otvet.frontends.openai_api.errors import failure_error

log = logging.getLogger(__name__)

DONE = b"data: [DONE]\n\n"


def frame(data: object) -> bytes:
    """One server-sent event carrying ``data`` as JSON."""
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"


async def chunks(
    meta: wire.Meta, first: Event, events: AsyncGenerator[Event, None], *, include_usage: bool
) -> AsyncGenerator[bytes, None]:
    """The SSE body: a role chunk, a chunk per delta, a ``stop`` chunk with Otvet's ``otvet`` field, the
    usage chunk when asked for, then ``[DONE]``.

    ``first`` is the event already read from ``events`` (to answer an early failure with an HTTP status).
    A failure after part of the answer was sent can only be reported in the stream: an ``error`` event,
    which OpenAI SDKs raise as ``APIError``.
    """
    async with aclosing(events):
        yield frame(wire.chunk(meta, {"role": "assistant", "content": ""}, with_usage=include_usage))
        event: Event | None = first
        while event is not None:
            if isinstance(event, Delta):
                if event.text:
                    yield frame(wire.chunk(meta, {"content": event.text}, with_usage=include_usage))
            elif isinstance(event, Final):
                yield frame(
                    wire.chunk(
                        meta,
                        {},
                        finish_reason="stop",
                        with_usage=include_usage,
                        otvet=wire.otvet_extension(event),
                    )
                )
                if include_usage:
                    yield frame(wire.chunk(meta, None, with_usage=True, usage_value=event.usage))
                break
            elif isinstance(event, Failure):
                yield frame(failure_error(event).body())
                break
            event = await anext(events, None)
        yield DONE


class EventStreamResponse:
    """An ASGI ``text/event-stream`` response sending ``frames``, closing them when the client leaves."""

    def __init__(self, frames: AsyncGenerator[bytes, None], headers: Mapping[str, str] | None = None) -> None:
        self.frames = frames
        self.headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            # nginx and friends would otherwise buffer the stream and deliver it in one piece at the end.
            "x-accel-buffering": "no",
            **(headers or {}),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sending = asyncio.create_task(self._send(send))
        watching = asyncio.create_task(_disconnect(receive))
        try:
            await asyncio.wait({sending, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
            if not sending.done():
                log.info("the client closed a streamed answer early: stopping it")
                # One plain cancellation: the engine's cleanup after it can still write to the database.
                sending.cancel()
            await asyncio.wait({sending, watching})
        if not watching.cancelled():
            watching.exception()  # retrieved, so a failed receive() is not reported as never retrieved
        error = None if sending.cancelled() else sending.exception()
        if error is not None:
            raise error

    async def _send(self, send: Send) -> None:
        raw_headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()
        ]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
            async for data in self.frames:
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            # Closes the engine's stream too (``chunks`` holds it in ``aclosing``), cancelled or not.
            await self.frames.aclose()


async def _disconnect(receive: Receive) -> None:
    """Return when the client disconnects (the request body has already been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
