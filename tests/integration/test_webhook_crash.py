"""``otvet api`` taking Telegram's webhook is killed (SIGKILL) in the middle of a burst of updates it has
acknowledged; restarted, it answers every one of them exactly once, and the questions the dead process left
unanswered do not reach the model's prompts as a second question.

Real processes throughout: PostgreSQL, ``otvet api``, the fake Bot API and a slow fake OpenAI model."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import migrated_with_key
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_telegram import FakeBotAPI
from tests.support.server import service
from tests.support.waiting import eventually

from .test_services import DEMO_EN, openai_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SECRET = "crash-secret"
USERS = range(5001, 5011)  # ten people, one question each
QUESTION = "How do I connect Telegram?"


def finals(api: FakeBotAPI) -> Counter[int]:
    """Final answers (the message that carries the rating buttons) per chat."""
    sent = [c for c in api.calls if c.method in ("sendMessage", "editMessageText")]
    rated = [c for c in sent if "fb:" in json.dumps(c.params.get("reply_markup"))]
    return Counter(int(c.params["chat_id"]) for c in rated)


async def test_acknowledged_updates_are_answered_exactly_once_after_a_kill(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    url = await postgres_cluster.create_database()
    async with FakeOpenAI() as fake, FakeBotAPI() as api:
        fake.default_deltas, fake.default_delay = ["word "] * 12, 0.15  # about 2 s an answer
        env = openai_env(
            tmp_path,
            fake,
            OTVET_DATABASE_URL=url,
            OTVET_TELEGRAM__TOKEN=api.token,
            OTVET_TELEGRAM__BASE_URL=api.base_url,
            OTVET_TELEGRAM__BASE_FILE_URL=api.base_file_url,
            OTVET_TELEGRAM__MODE="webhook",
            OTVET_TELEGRAM__SECRET_TOKEN=SECRET,
            OTVET_TELEGRAM__PRIVATE_EDIT_INTERVAL="10",  # one message per answer: simpler to count
            OTVET_INBOX__LEASE_SECONDS="2",
            OTVET_INBOX__POLL_SECONDS="0.2",
        )
        await migrated_with_key(env, tmp_path, DEMO_EN)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        acknowledged = 0
        async with service("api", env, tmp_path, ready_path="/readyz") as api_process:
            async with httpx.AsyncClient() as client:
                for user in USERS:
                    update = api.private_message(QUESTION, user_id=user, language_code="en")
                    response = await client.post(
                        f"{api_process.base}/telegram/webhook", json=update, headers=headers
                    )
                    acknowledged += response.status_code == 200
                    await asyncio.sleep(0.3)
                    if sum(finals(api).values()) >= 3:
                        break
            answered_before = sum(finals(api).values())
            api_process.process.kill()  # SIGKILL: no drain, no cleanup
            await api_process.process.wait()
        assert acknowledged >= 4 and 0 < answered_before < acknowledged

        async with service("api", env, tmp_path, ready_path="/readyz"):
            await eventually(lambda: len(finals(api)) == acknowledged, within=60)
            await asyncio.sleep(3)  # more than a lease: nothing else comes in late
        per_chat = finals(api)
        assert len(per_chat) == acknowledged and set(per_chat.values()) == {1}, per_chat
        # Every prompt has one question: a retried update's earlier, unanswered try is not in its history.
        for body in fake.chat_requests:
            asked = [m for m in body["messages"] if m["role"] == "user"]
            assert len(asked) == 1, body["messages"]
