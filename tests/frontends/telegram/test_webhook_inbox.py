"""The webhook keeps every update it acknowledges: in process, over the ASGI app, with the real
python-telegram-bot client talking to the fake Bot API. (tests/integration/test_webhook_crash.py kills the
process itself.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from otvet.core.app import Otvet
from otvet.core.store import DatabaseUnavailable
from otvet.frontends.app import create_app
from tests.conftest import make_settings
from tests.support.fake_telegram import FakeBotAPI
from tests.support.telegram_updates import USER_ID
from tests.support.waiting import eventually

SECRET = "inbox-secret"


@pytest.fixture
async def webhook(tmp_path: Path) -> AsyncIterator[tuple[FakeBotAPI, Otvet, httpx.AsyncClient]]:
    async with FakeBotAPI() as api:
        settings = make_settings(
            tmp_path,
            load_demo=True,
            telegram={
                "token": api.token,
                "base_url": api.base_url,
                "base_file_url": api.base_file_url,
                "mode": "webhook",
                "secret_token": SECRET,
            },
            inbox={"poll_seconds": 0.05},
        )
        otvet = Otvet(settings, service="api")
        async with otvet:
            transport = httpx.ASGITransport(app=create_app(otvet))
            async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
                yield api, otvet, client


async def post(client: httpx.AsyncClient, update: dict[str, Any]) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    return await client.post("/telegram/webhook", json=update, headers=headers)


def answers(api: FakeBotAPI) -> list[str]:
    return [m["text"] for m in api.bot_messages(USER_ID)]


async def test_an_update_resent_by_telegram_is_answered_once(
    webhook: tuple[FakeBotAPI, Otvet, httpx.AsyncClient],
) -> None:
    api, _, client = webhook
    update = api.private_message("How do I connect Telegram?", language_code="en")
    assert (await post(client, update)).status_code == 200
    # Telegram did not get the 200 (a cut connection) and sends the same update again.
    assert (await post(client, update)).status_code == 200
    await eventually(lambda: len(answers(api)) == 1)
    await asyncio.sleep(0.5)
    assert len(answers(api)) == 1 and "BotFather" in answers(api)[0]


async def test_an_update_that_cannot_be_stored_is_not_acknowledged(
    webhook: tuple[FakeBotAPI, Otvet, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, otvet, client = webhook
    stored = otvet.store.add_to_inbox

    async def away(*args: Any, **kwargs: Any) -> bool:
        raise DatabaseUnavailable(retry_after=3.0)

    monkeypatch.setattr(otvet.store, "add_to_inbox", away)
    update = api.private_message("How do I connect Telegram?", language_code="en")
    refused = await post(client, update)
    # Not a 200: Telegram keeps the update and delivers it again later.
    assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
    monkeypatch.setattr(otvet.store, "add_to_inbox", stored)
    assert (await post(client, update)).status_code == 200
    await eventually(lambda: len(answers(api)) == 1)


async def test_the_database_going_away_mid_update_postpones_it_instead_of_telling_the_user(
    webhook: tuple[FakeBotAPI, Otvet, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, otvet, client = webhook
    real = otvet.store.get_or_create_user
    failures = [DatabaseUnavailable(retry_after=0.3)]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    monkeypatch.setattr(otvet.store, "get_or_create_user", flaky)
    update = api.private_message("How do I connect Telegram?", language_code="en")
    assert (await post(client, update)).status_code == 200
    await eventually(lambda: len(answers(api)) == 1)
    await asyncio.sleep(0.3)
    # One message: the answer, once the database was back; never "try again later".
    [answer] = answers(api)
    assert "BotFather" in answer
