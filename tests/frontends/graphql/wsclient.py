"""A minimal ``graphql-transport-ws`` client on ``websockets``, for the Python tests of subscriptions.

(The conformance test also drives the real ``graphql-ws`` npm client: tests/js/subscribe.mjs.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import websockets

PROTOCOL = "graphql-transport-ws"


class GraphQLSocket:
    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, seconds: float = 10) -> dict[str, Any]:
        """The next message that is not a ping (pings are answered), within ``seconds``."""
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await self.connection.recv())
                if message["type"] == "ping":
                    await self.send({"type": "pong"})
                    continue
                return message

    async def subscribe(
        self, operation_id: str, query: str, variables: Mapping[str, Any] | None = None
    ) -> None:
        payload = {"query": query, "variables": dict(variables or {})}
        await self.send({"id": operation_id, "type": "subscribe", "payload": payload})

    async def until_done(self, seconds: float = 20) -> list[dict[str, Any]]:
        """Messages up to and including ``complete`` or ``error``."""
        messages = []
        while True:
            message = await self.receive(seconds)
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages


@asynccontextmanager
async def graphql_socket(url: str, credential: str | None = None) -> AsyncIterator[GraphQLSocket]:
    """A connection past ``connection_ack``; a refused one raises ``websockets.ConnectionClosed``."""
    async with websockets.connect(url, subprotocols=[PROTOCOL]) as connection:  # type: ignore[list-item]
        socket = GraphQLSocket(connection)
        init: dict[str, Any] = {"type": "connection_init"}
        if credential is not None:
            init["payload"] = {"authorization": credential}
        await socket.send(init)
        ack = await socket.receive()
        assert ack["type"] == "connection_ack", ack
        yield socket


async def subscribe_once(
    url: str, query: str, variables: Mapping[str, Any] | None = None, *, credential: str | None = None
) -> list[dict[str, Any]]:
    """Subscribe on a new connection and return every message until the operation ends."""
    async with graphql_socket(url, credential) as socket:
        await socket.subscribe("1", query, variables)
        return await socket.until_done()
