"""A visitor who leaves mid-answer: the engine's stream is closed and the question is marked cancelled."""

from __future__ import annotations

import asyncio

from tests.frontends.widget.client import widget_socket
from tests.frontends.widget.conftest import ServeFactory
from tests.support.providers import MockProvider


async def test_leaving_mid_answer_cancels_the_question(
    serve: ServeFactory, mock_provider: MockProvider
) -> None:
    mock_provider.then("Let me", " think", hang=True)
    async with serve(mock=True) as served:
        async with widget_socket(served.ws_url) as socket:
            await socket.hello()
            await socket.send({"type": "question", "id": "q", "text": "How do I connect Telegram?"})
            assert (await socket.receive())["type"] == "delta"
        store = served.otvet.store
        async with asyncio.timeout(10):
            while True:
                (conversation,) = await store.list_conversations(channel="widget")
                statuses = [(m.role, m.status) for m in await store.messages(conversation.id)]
                if statuses == [("user", "cancelled")]:
                    break
                await asyncio.sleep(0.02)
        assert mock_provider.closed_streams == 1, "the provider's stream was closed, not left hanging"
