"""Training end to end, as real processes on PostgreSQL: two API replicas (``otvet serve`` without their own
worker) and one ``otvet worker``. An admin adds a source through GraphQL on one replica and retrains; the
worker builds the version, evaluates it on the check set and promotes it; both replicas then answer from it
without a restart."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import clean_env, otvet_command, run_otvet_async
from tests.support.server import serving
from tests.support.waiting import eventually

PARKING = "# Parking\n\nStaff park in the underground garage on level minus two."


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.base}/graphql",
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {self.key}"},
            )
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    async def answer(self, question: str) -> dict[str, Any]:
        query = (
            "mutation($q: String!) { ask(input: {question: $q}) "
            "{ __typename ... on Answer { text sources { title } } } }"
        )
        return (await self.data(query, {"q": question}))["ask"]


@pytest.mark.postgres
async def test_a_source_added_and_retrained_through_graphql_reaches_both_replicas(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    url = await postgres_cluster.create_database()
    env = clean_env(
        tmp_path / "data",
        OTVET_DATABASE_URL=url,
        OTVET_LOAD_DEMO="false",
        OTVET_WORKER__IN_PROCESS="false",
        OTVET_WORKER__POLL_SECONDS="0.2",
        OTVET_RETRIEVAL__REFRESH_SECONDS="0.5",
    )
    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    code, _, err = await run_otvet_async("ingest", "hours.md", env=env, cwd=tmp_path)
    assert code == 0, err
    code, key, err = await run_otvet_async("key", "create", "e2e", "--scope", "admin", env=env, cwd=tmp_path)
    assert code == 0, err
    key = key.strip()

    worker = await asyncio.create_subprocess_exec(
        *otvet_command(),
        "--log-level",
        "INFO",
        "worker",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with serving(env, tmp_path) as first, serving(env, tmp_path) as second:
            a, b = Client(first, key), Client(second, key)
            check = '{question: "When does the museum open?", expectedSource: "Hours"}'
            await a.data(f"mutation {{ addChecks(checks: [{check}]) {{ id }} }}")
            before = await b.answer("Where do staff park?")
            assert "garage" not in before["text"]

            add = 'mutation($t: String!) { addTextSource(name: "parking.md", text: $t, rebuild: false) '
            added = await a.data(add + "{ added } }", {"t": PARKING})
            assert added["addTextSource"]["added"] == ["parking.md"]
            job = (await a.data('mutation { retrain(note: "parking") { id status } }'))["retrain"]
            assert job["status"] == "queued"

            async def finished() -> bool:
                found = await b.data("query($id: ID!) { job(id: $id) { status } }", {"id": job["id"]})
                return found["job"]["status"] in ("succeeded", "failed", "cancelled")

            await eventually(finished, within=60, every=0.2)
            done = await b.data(
                "query($id: ID!) { job(id: $id) { status result message } }", {"id": job["id"]}
            )
            assert done["job"]["status"] == "succeeded" and done["job"]["result"]["promoted"] is True
            version_id = str(done["job"]["result"]["version_id"])
            versions = await a.data(
                "{ knowledgeVersions { id status evaluation { checks hitAt1 promoted } } }"
            )
            newest = versions["knowledgeVersions"][0]
            assert newest["id"] == version_id and newest["status"] == "ACTIVE"
            assert newest["evaluation"] == {"checks": 1, "hitAt1": 1.0, "promoted": True}

            # Neither replica restarts: each notices the promoted version within its refresh interval.
            for client in (a, b):

                async def knows_parking(client: Client = client) -> bool:
                    answer = await client.answer("Where do staff park?")
                    return "underground garage" in answer["text"]

                await eventually(knows_parking, within=30, every=0.2)
                answer = await client.answer("Where do staff park?")
                assert [s["title"] for s in answer["sources"]] == ["Parking"]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            _, log = await asyncio.wait_for(worker.communicate(), 30)
        except TimeoutError:
            worker.kill()
            _, log = await worker.communicate()
    # SIGTERM stops it cleanly, and it ran the job (its log names it).
    assert worker.returncode == 0, log.decode()
    assert f"job {job['id']} succeeded" in log.decode()


async def test_serve_runs_the_retrain_itself_on_one_machine(tmp_path: Path) -> None:
    """One machine, SQLite: `otvet serve` runs the queued job in its own process, no `otvet worker`."""
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false", OTVET_WORKER__POLL_SECONDS="0.2")
    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    assert (await run_otvet_async("ingest", "hours.md", env=env, cwd=tmp_path))[0] == 0
    code, key, err = await run_otvet_async("key", "create", "one", "--scope", "admin", env=env, cwd=tmp_path)
    assert code == 0, err
    async with serving(env, tmp_path) as base:
        client = Client(base, key.strip())
        add = 'mutation($t: String!) { addTextSource(name: "parking.md", text: $t, rebuild: false) '
        await client.data(add + "{ added } }", {"t": PARKING})
        job = (await client.data("mutation { retrain { id } }"))["retrain"]

        async def succeeded() -> bool:
            found = await client.data("query($id: ID!) { job(id: $id) { status } }", {"id": job["id"]})
            return found["job"]["status"] == "succeeded"

        await eventually(succeeded, within=60, every=0.2)
        assert "underground garage" in (await client.answer("Where do staff park?"))["text"]
