"""A database outage as users and operators meet it: a real ``otvet api`` on a PostgreSQL server of the test's
own, which the test stops (``pg_ctl stop``) and freezes (SIGSTOP), then brings back.

While it is down every request gets its protocol's "unavailable" at once (``/v1``: 503 JSON with
``Retry-After``; GraphQL: HTTP 503, code ``UNAVAILABLE``), ``/readyz`` says 503, the log has one line when
the outage starts and one when it ends (no tracebacks), and the service recovers without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import clean_env, migrated_with_key
from tests.support.postgres import PostgresCluster, PostgresUnavailable
from tests.support.server import Service, service

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEMO = Path(__file__).parents[2] / "plugins/demo/knowledge/en"
ASK = 'mutation { ask(input: {question: "How do I connect Telegram?"}) { __typename } }'
#: No request may take longer than this during an outage: the point is that nothing hangs.
PATIENCE = 10.0


async def until(check: Callable[[], Awaitable[bool]], within: float) -> float:
    """Seconds until ``check`` holds, polling every 0.1 s; fails after ``within``."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within} s")


class Client:
    def __init__(self, api: Service, key: str, http: httpx.AsyncClient) -> None:
        self.api, self.key, self.http = api, key, http

    async def ready(self) -> int:
        return (await self.http.get(f"{self.api.base}/readyz")).status_code

    async def v1(self) -> httpx.Response:
        body = {"model": "otvet", "messages": [{"role": "user", "content": "How do I connect Telegram?"}]}
        headers = {"Authorization": f"Bearer {self.key}"}
        return await self.http.post(f"{self.api.base}/v1/chat/completions", json=body, headers=headers)

    async def graphql(self) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return await self.http.post(f"{self.api.base}/graphql", json={"query": ASK}, headers=headers)

    async def answers(self) -> bool:
        return (await self.v1()).status_code == 200 and await self.ready() == 200

    async def refused_as_unavailable(self) -> None:
        v1, graphql = await self.v1(), await self.graphql()
        assert v1.status_code == 503, v1.text
        assert v1.json()["error"]["code"] == "unavailable" and 1 <= int(v1.headers["retry-after"]) <= 60
        assert graphql.status_code == 503, graphql.text
        error = graphql.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAVAILABLE" and int(graphql.headers["retry-after"]) >= 1


@pytest.fixture
def cluster() -> Any:
    try:
        own = PostgresCluster()
        own.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield own
    finally:
        own.stop()


async def test_a_stopped_or_frozen_database_gets_unavailable_at_once_and_the_service_recovers(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = cluster.createdb("outage")
    env = clean_env(tmp_path / "data", OTVET_DATABASE_URL=url, OTVET_LOAD_DEMO="false")
    key = await migrated_with_key(env, tmp_path, DEMO)
    log = tmp_path / "api.log"
    figures: dict[str, float] = {}
    async with (
        service("api", env, tmp_path, ready_path="/readyz", stderr_file=log) as api,
        httpx.AsyncClient(timeout=PATIENCE) as http,
    ):
        client = Client(api, key, http)
        assert await client.answers()

        # Stopped, as an operator or a failover would.
        cluster.halt()
        figures["stopped: /readyz 503 after"] = await until(lambda: _is(client.ready(), 503), PATIENCE)
        # Under load: twenty at once, each answered "unavailable", none hanging, no traceback each.
        await asyncio.gather(*(client.refused_as_unavailable() for _ in range(10)))
        cluster.resume()
        figures["restarted: answering again after"] = await until(client.answers, 30)

        # Frozen: connections are accepted and nothing answers, which is what hangs a service with no
        # timeouts (before: every request and /readyz hung for as long as the freeze).
        frozen = cluster.freeze()
        try:
            figures["frozen: /readyz 503 after"] = await until(lambda: _is(client.ready(), 503), PATIENCE)
            await client.refused_as_unavailable()
        finally:
            cluster.thaw(frozen)
        figures["thawed: answering again after"] = await until(client.answers, 30)

    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert text.count("the database is unavailable") == 2, text[-3000:]  # one line per outage
    assert text.count("the database is available again") == 2, text[-3000:]
    print({name: round(seconds, 2) for name, seconds in figures.items()})  # for the operations docs


async def _is(status: Awaitable[int], expected: int) -> bool:
    try:
        return await status == expected
    except httpx.HTTPError:
        return False
