"""A running bot: the real python-telegram-bot client polling a fake Bot API on loopback, over Otvet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otvet.core.app import Otvet
from otvet.core.llm import AnswerRequest, Provider, ProviderDone
from otvet.frontends.telegram.plugin import run_polling
from tests.conftest import make_settings
from tests.support.fake_telegram import FakeBotAPI


class EchoProvider(Provider):
    """Streams the question back in pieces, optionally slowly: lets tests control the answer exactly."""

    name = "echo"

    def __init__(self) -> None:
        self.delay = 0.0
        self.reply: Callable[[AnswerRequest], str] = lambda request: f"You asked: {request.question}"

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        text = self.reply(request)
        for start in range(0, len(text), 20):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield text[start : start + 20]
        yield ProviderDone(cited=tuple(range(min(1, len(request.passages)))))


@dataclass
class BotEnv:
    api: FakeBotAPI
    otvet: Otvet
    echo: EchoProvider

    def texts_sent(self, chat_id: int) -> list[str]:
        """What the chat shows now: the text of every message the bot sent there, in order."""
        return [m["text"] for m in self.api.bot_messages(chat_id)]


async def start_bot(
    tmp_path: Path, provider: str = "extractive", sections: dict[str, Any] | None = None, **telegram: Any
) -> AsyncIterator[BotEnv]:
    """The bot over a fake Bot API; ``sections`` adds other settings (``{"transcription": {...}}``)."""
    async with FakeBotAPI() as api:
        settings = make_settings(
            tmp_path,
            load_demo=True,
            provider=provider,
            telegram={
                "token": api.token,
                "base_url": api.base_url,
                "base_file_url": api.base_file_url,
                "private_edit_interval": 0.3,
                "group_edit_interval": 0.6,
                **telegram,
            },
            **(sections or {}),
        )
        otvet = Otvet(settings)
        echo = EchoProvider()
        otvet.providers.register("echo", lambda _otvet: echo, owner="tests")
        async with otvet:
            stop = asyncio.Event()
            polling = asyncio.create_task(run_polling(otvet, stop))
            await api.wait_for("getUpdates")
            try:
                yield BotEnv(api, otvet, echo)
            finally:
                stop.set()
                await asyncio.wait_for(polling, timeout=15)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotEnv]:
    """The bot answering with the extractive provider from the demo knowledge base."""
    async for env in start_bot(tmp_path):
        yield env


@pytest.fixture
async def echo_bot(tmp_path: Path) -> AsyncIterator[BotEnv]:
    """The bot answering with :class:`EchoProvider`."""
    async for env in start_bot(tmp_path, provider="echo"):
        yield env
