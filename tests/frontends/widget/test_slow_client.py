"""A client that stops reading is disconnected after ``send_timeout_seconds``; its answer is cancelled."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from otvet.core.app import Otvet
from otvet.frontends.widget.socket import WidgetHub
from tests.conftest import make_settings
from tests.support.providers import MockProvider


class StuckClient:
    """A socket whose client sends hello and a question, then never reads another frame."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.client = SimpleNamespace(host="127.0.0.1")
        self.sent: list[dict[str, Any]] = []
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for frame in ({"type": "hello"}, {"type": "question", "id": "q", "text": "Telegram?"}):
            self.incoming.put_nowait({"type": "websocket.receive", "text": json.dumps(frame)})

    async def accept(self) -> None:
        pass

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_text(self, text: str) -> None:
        frame = json.loads(text)
        self.sent.append(frame)
        if frame["type"] == "delta":
            await asyncio.Event().wait()  # the client's buffers are full: this send never completes

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


async def test_a_client_that_stops_reading_is_dropped(tmp_path: Path, mock_provider: MockProvider) -> None:
    mock_provider.then(*["word "] * 50, hang=True)
    otvet = Otvet(make_settings(tmp_path, provider="mock", widget={"send_timeout_seconds": 0.2}))
    otvet.providers.register("mock", lambda _otvet: mock_provider, owner="tests")
    async with otvet:
        client = StuckClient()
        async with asyncio.timeout(10):
            await WidgetHub(otvet).endpoint(client)  # type: ignore[arg-type]
        assert [f["type"] for f in client.sent] == ["welcome", "delta"]
        (conversation,) = await otvet.store.list_conversations(channel="widget")
        assert [m.status for m in await otvet.store.messages(conversation.id)] == ["cancelled"]
