"""Limits hold for every replica together: two ``otvet api`` processes on one PostgreSQL database get exactly
one user's quota answered from a burst split between them, and send one Telegram bot's messages within its
flood limit together."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import clean_env, migrated_with_key
from tests.support.fake_telegram import FakeBotAPI
from tests.support.server import service
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEMO = Path(__file__).parents[2] / "plugins/demo/knowledge/en"
SECRET = "limits-secret"


async def test_a_burst_over_two_replicas_gets_exactly_the_users_quota(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    url = await postgres_cluster.create_database()
    env = clean_env(
        tmp_path / "data",
        OTVET_DATABASE_URL=url,
        OTVET_LOAD_DEMO="false",
        OTVET_QUOTAS__USER_REQUESTS_PER_MINUTE="5",
        OTVET_API__REQUESTS_PER_MINUTE="0",  # the API key's own limit is not what this measures
    )
    key = await migrated_with_key(env, tmp_path, DEMO)

    async with (
        service("api", env, tmp_path, ready_path="/readyz") as first,
        service("api", env, tmp_path, ready_path="/readyz") as second,
        httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {key}"}) as client,
    ):

        async def ask(n: int) -> httpx.Response:
            base = (first, second)[n % 2].base
            body = {
                "model": "otvet",
                "user": "the-same-person",
                "messages": [{"role": "user", "content": f"How do I connect Telegram? ({n})"}],
            }
            return await client.post(f"{base}/v1/chat/completions", json=body)

        responses = await asyncio.gather(*(ask(n) for n in range(50)))

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5, statuses
    assert statuses.count(429) == 45, statuses
    refused = [r for r in responses if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in refused} == {"user_rate_limited"}
    assert all("at most 5 questions a minute" in r.json()["error"]["message"] for r in refused)
    assert all(0 < float(r.headers["Retry-After"]) <= 60 for r in refused)


async def test_two_replicas_taking_one_bots_webhook_send_within_its_budget_together(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    url = await postgres_cluster.create_database()
    # Ten messages a second for the bot, so that two replicas each sending its own ten would show at once.
    async with FakeBotAPI(limits={"bot": (10, 1.0)}) as api:
        env = clean_env(
            tmp_path / "data",
            OTVET_DATABASE_URL=url,
            OTVET_LOAD_DEMO="false",
            OTVET_TELEGRAM__TOKEN=api.token,
            OTVET_TELEGRAM__BASE_URL=api.base_url,
            OTVET_TELEGRAM__BASE_FILE_URL=api.base_file_url,
            OTVET_TELEGRAM__MODE="webhook",
            OTVET_TELEGRAM__SECRET_TOKEN=SECRET,
            OTVET_TELEGRAM__MESSAGES_PER_SECOND="10",
        )
        await migrated_with_key(env, tmp_path, DEMO)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        people = range(7001, 7031)
        async with (
            service("api", env, tmp_path, ready_path="/readyz") as first,
            service("api", env, tmp_path, ready_path="/readyz") as second,
            httpx.AsyncClient(timeout=30, headers=headers) as client,
        ):
            updates = [
                api.private_message("How do I connect Telegram?", user_id=p, language_code="en")
                for p in people
            ]
            responses = await asyncio.gather(
                *(
                    client.post(f"{(first, second)[n % 2].base}/telegram/webhook", json=update)
                    for n, update in enumerate(updates)
                )
            )
            assert [r.status_code for r in responses] == [200] * len(updates)
            await eventually(lambda: len(answered(api)) == len(updates), within=60)
    assert answered(api) == set(people)
    assert api.limit_violations() == []
    sent = sorted(c.at for c in api.calls if c.method == "sendMessage")
    assert sent[-1] - sent[0] >= 2.0  # thirty answers at ten a second: the two did not send twenty a second


def answered(api: FakeBotAPI) -> set[int]:
    return {
        int(c.params["chat_id"]) for c in api.calls if c.method == "sendMessage" and "fb:" in str(c.params)
    }
