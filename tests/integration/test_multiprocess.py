"""The microservice deployment on one machine, as real processes on PostgreSQL: two ``otvet api`` replicas and
an ``otvet worker``. Answers succeed through both replicas; one replica is killed mid-stream and the other
keeps serving; a retrain queued on one replica runs on the worker; every /metrics shows the traffic."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from otvet.frontends.openai_api.conversation import CHANNEL
from tests.core.test_metrics import parse, value
from tests.integration.test_services import SLOW_WORDS, openai_env, slow_stream
from tests.support.cli import run_otvet_async
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Service, service
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def metrics_of(base: str) -> dict[Any, float]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/metrics")
    assert response.status_code == 200
    return parse(response.text)  # raises unless it is valid Prometheus exposition


async def read_until_killed(replica: Service, key: str) -> None:
    """Stream a slow answer from ``replica`` and SIGKILL it (no drain) once the first piece arrives."""
    async with slow_stream(replica.base, key, "Tell me about training") as lines:
        async for line in lines:
            if line.startswith("data: {"):
                replica.process.send_signal(signal.SIGKILL)


async def complete(base: str, key: str, question: str) -> str:
    async with openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(
            model="otvet", messages=[{"role": "user", "content": question}]
        )
    return completion.choices[0].message.content or ""


async def test_two_api_replicas_and_a_worker_share_only_the_database(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    url = await postgres_cluster.create_database()
    async with FakeOpenAI() as fake:
        fake.default_deltas = ["Connect ", "it ", "with ", "BotFather ", "[1]."]
        env = openai_env(
            tmp_path,
            fake,
            OTVET_DATABASE_URL=url,
            OTVET_AUTO_MIGRATE="false",  # as in production: one `otvet migrate` per deploy
            OTVET_WORKER__POLL_SECONDS="0.2",
            OTVET_RETRIEVAL__REFRESH_SECONDS="0.5",
            OTVET_API__SECRET_KEY="one-signing-key-for-every-replica",
        )
        for command in (
            ("migrate",),
            ("ingest", str(Path(__file__).parents[2] / "plugins/demo/knowledge/en")),
        ):
            code, _, err = await run_otvet_async(*command, env=env, cwd=tmp_path)
            assert code == 0, err
        code, key, err = await run_otvet_async(
            "key", "create", "mp", "--scope", "ask", "--scope", "admin", env=env, cwd=tmp_path
        )
        assert code == 0, err
        key = key.strip()

        async with (
            service("api", env, tmp_path, ready_path="/readyz") as first,
            service("api", env, tmp_path, ready_path="/readyz") as second,
            service("worker", env, tmp_path, ready_path="/readyz", port_option="--ops-port") as worker,
        ):
            for base in (first.base, second.base):
                assert "BotFather" in await complete(base, key, "How do I connect Telegram?")

            # A slow answer on the first replica, which dies (SIGKILL: no drain) in the middle of it.
            fake.default_deltas, fake.default_delay = ["word "] * SLOW_WORDS, 0.2
            with pytest.raises(httpx.HTTPError):
                await read_until_killed(first, key)
            assert await first.process.wait() == -signal.SIGKILL
            fake.default_delay = 0.0
            answers = await asyncio.gather(*(complete(second.base, key, f"Question {n}?") for n in range(5)))
            assert all(answer.startswith("word") for answer in answers)

            # A retrain queued through the surviving replica runs on the worker, not in an API process.
            async with httpx.AsyncClient(timeout=30) as client:
                queued = await client.post(
                    f"{second.base}/graphql",
                    json={"query": 'mutation { retrain(note: "multi-process") { id status } }'},
                    headers={"Authorization": f"Bearer {key}"},
                )
            assert queued.json()["data"]["retrain"]["status"] == "queued", queued.text
            job_id = queued.json()["data"]["retrain"]["id"]

            async def retrained() -> bool:
                runs = await metrics_of(worker.base)
                return value(runs, "otvet_job_runs_total", type="retrain", outcome="succeeded") == 1

            await eventually(retrained, within=60, every=0.2)
            served = await metrics_of(second.base)
            assert value(served, "otvet_answers_total", channel=CHANNEL, outcome="answered") == 6
            assert (
                value(served, "otvet_http_requests_total", frontend="openai_api", method="POST", status="200")
                == 6
            )
            assert (
                value(served, "otvet_http_requests_total", frontend="graphql", method="POST", status="200")
                == 1
            )
            assert value(served, "otvet_provider_duration_seconds_count", provider="openai") == 6
            assert value(served, "otvet_jobs", type="retrain", status="queued") == 0
            assert value(served, "otvet_database_up") == 1
            assert value(served, "otvet_build_info", version=_version(), service="api") == 1
            worked = await metrics_of(worker.base)
            assert (
                value(worked, "otvet_answers_total", channel=CHANNEL, outcome="answered") == 0
            )  # none there

            # The surviving replica answers from the version the worker promoted, without a restart.
            async with httpx.AsyncClient(timeout=30) as client:
                job = await client.post(
                    f"{second.base}/graphql",
                    json={
                        "query": "query($id: ID!) { job(id: $id) { result } }",
                        "variables": {"id": job_id},
                    },
                    headers={"Authorization": f"Bearer {key}"},
                )
            promoted = job.json()["data"]["job"]["result"]["version_id"]

            async def swapped() -> bool:
                await complete(
                    second.base, key, "Anything new?"
                )  # a process that answers watches for versions
                return value(await metrics_of(second.base), "otvet_knowledge_active_version") == promoted

            await eventually(swapped, within=30, every=0.5)
            assert await worker.stop() == 0
            assert await second.stop() == 0


def _version() -> str:
    from otvet import __version__

    return __version__
