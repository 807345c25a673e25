"""Clients that time stamped tokens from the provider to the client's socket, for bench/bench_stream.py.

With ``OTVET_BENCH_STAMP=1`` the ``instant`` provider (bench/instant.py) starts every delta with
``time.monotonic_ns()`` taken as it yields it; bench/baseline_ws.py stamps its frames the same way as it
sends them. CLOCK_MONOTONIC is one clock for every process on Linux, so this process subtracts the stamp
from its own clock when a frame arrives: the time from the provider's token to the client's frame.

Two figures per answer: the first frame's latency (the setup between the provider's first token and the
socket: event, serialization, the send) and the time per token, from the first frame to the last divided by
the tokens between them. The provider waits for nothing, so the second is what the whole path costs per
token when the model is infinitely fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ASK_STREAM = """subscription($input: AskInput!) { askStream(input: $input) {
  __typename
  ... on AnswerDelta { text }
  ... on Answer { messageId }
  ... on AnswerFailure { code message }
} }"""


@dataclass
class Timings:
    first_ms: list[float] = field(default_factory=list)
    per_token_ms: list[float] = field(default_factory=list)
    #: Every token's own latency, from its stamp to its frame: queueing behind earlier frames shows here.
    every_ms: list[float] = field(default_factory=list)

    def add(self, arrivals: list[tuple[int, int]]) -> None:
        """One answer's (stamp, arrival) pairs in nanoseconds, in order."""
        if len(arrivals) < 2:
            raise RuntimeError(f"an answer had {len(arrivals)} stamped frames; the bench needs 2 or more")
        stamp, arrived = arrivals[0]
        self.first_ms.append((arrived - stamp) / 1e6)
        self.per_token_ms.append((arrivals[-1][1] - arrived) / (len(arrivals) - 1) / 1e6)
        self.every_ms.extend((arrival - sent) / 1e6 for sent, arrival in arrivals)


def stamp_of(text: str) -> int:
    """The provider's clock at the start of a delta's text (``"<ns> piece"``)."""
    return int(text.split(" ", 1)[0])


async def _collect(ws: ClientConnection, delta_text: Callable[[dict[str, Any]], str | None], done: Callable[
    [dict[str, Any]], bool]) -> list[tuple[int, int]]:  # fmt: skip
    arrivals: list[tuple[int, int]] = []
    while True:
        raw = await ws.recv()
        now = time.monotonic_ns()  # first: parsing is the client's time, not the server's
        message = json.loads(raw)
        text = delta_text(message)
        if text is not None:
            arrivals.append((stamp_of(text), now))
        elif done(message):
            return arrivals


@asynccontextmanager
async def widget(url: str) -> AsyncIterator[Callable[[int], Any]]:
    """A widget socket past hello; yields ``ask(number)``, which returns one answer's arrivals."""
    async with connect(url, max_size=2**24, ping_interval=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "hello", "language": "en", "visitor": None, "user": None}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"expected welcome, got {welcome}")

        async def ask(number: int) -> list[tuple[int, int]]:
            await ws.send(json.dumps({"type": "question", "id": f"q{number}", "text": "What is Otvet?"}))

            def delta(message: dict[str, Any]) -> str | None:
                return str(message["text"]) if message.get("type") == "delta" else None

            def done(message: dict[str, Any]) -> bool:
                if message.get("type") == "error":
                    raise RuntimeError(f"the server refused the question: {message}")
                return message.get("type") == "answer"

            return await _collect(ws, delta, done)

        yield ask


@asynccontextmanager
async def graphql(url: str, key: str) -> AsyncIterator[Callable[[int], Any]]:
    """A graphql-transport-ws connection past ``connection_ack``; yields ``ask(number)``: askStream."""
    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],
        max_size=2**24,
        ping_interval=None,
        compression=None,  # type: ignore[list-item]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"expected connection_ack, got {ack}")

        async def ask(number: int) -> list[tuple[int, int]]:
            variables = {"input": {"question": "What is Otvet?", "userId": f"stream-{number}"}}
            payload = {"query": ASK_STREAM, "variables": variables}
            await ws.send(json.dumps({"id": str(number), "type": "subscribe", "payload": payload}))

            def delta(message: dict[str, Any]) -> str | None:
                if message.get("type") != "next":
                    return None
                event = message["payload"]["data"]["askStream"]
                return str(event["text"]) if event["__typename"] == "AnswerDelta" else None

            def done(message: dict[str, Any]) -> bool:
                if message.get("type") == "error" or "errors" in message.get("payload", {}):
                    raise RuntimeError(f"askStream failed: {message}")
                return message.get("type") == "complete"

            return await _collect(ws, delta, done)

        yield ask
