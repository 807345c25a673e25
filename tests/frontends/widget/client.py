"""A small client of the widget's protocol on ``websockets``, as a browser's widget.js would speak it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


class WidgetSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, seconds: float = 20) -> dict[str, Any]:
        async with asyncio.timeout(seconds):
            return dict(json.loads(await self.connection.recv()))

    async def hello(
        self, visitor: str | None = None, user: str | None = None, language: str | None = None
    ) -> dict[str, Any]:
        await self.send({"type": "hello", "language": language, "visitor": visitor, "user": user})
        return await self.receive()

    async def ask(
        self, text: str, question_id: str = "q1", language: str | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Ask and collect the deltas up to the answer (or error) frame."""
        await self.send({"type": "question", "id": question_id, "text": text, "language": language})
        deltas = []
        while True:
            frame = await self.receive()
            if frame["type"] == "delta":
                assert frame["id"] == question_id
                deltas.append(frame)
                continue
            return deltas, frame

    async def closed_with(self, seconds: float = 20) -> int:
        """The close code, once the server has closed the socket (frames before it are skipped)."""
        async with asyncio.timeout(seconds):
            try:
                while True:
                    await self.connection.recv()
            except websockets.ConnectionClosed as closed:
                received = closed.rcvd
        assert received is not None, "the server closed without a close frame"
        return received.code


@asynccontextmanager
async def widget_socket(url: str, origin: str | None = None) -> AsyncIterator[WidgetSocket]:
    kwargs: dict[str, Any] = {} if origin is None else {"origin": origin}
    async with websockets.connect(url, open_timeout=20, **kwargs) as connection:
        yield WidgetSocket(connection)
