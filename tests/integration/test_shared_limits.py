"""Limits hold for every replica together: two ``otvet api`` processes on one PostgreSQL database, and a burst
of questions by one user split between them, get exactly the limit answered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import clean_env, migrated_with_key
from tests.support.server import service

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEMO = Path(__file__).parents[2] / "plugins/demo/knowledge/en"


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
