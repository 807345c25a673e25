"""The job queue and the worker, as an operator meets them: jobs run once, survive dead workers, retry,
fail for good, and can be cancelled; ``otvet worker`` picks up what a killed worker left behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from otvet.core.app import Otvet
from otvet.core.ingest import ingest_paths
from otvet.core.jobs import JobContext, Worker
from otvet.core.store import JobRecord
from tests.conftest import make_settings
from tests.support.cli import clean_env, otvet_command, run_otvet
from tests.support.waiting import eventually


async def noop(otvet: Otvet, job: JobContext) -> dict[str, Any]:
    return {"echo": job.payload.get("n")}


async def status_of(otvet: Otvet, job_id: int) -> str:
    job = await otvet.store.get_job(job_id)
    assert job is not None
    return job.status


@pytest.fixture
async def second(otvet: Otvet, tmp_path: Path) -> AsyncIterator[Otvet]:
    """Another process's view of the same database: its own store and connections."""
    other = Otvet(make_settings(tmp_path / "second", otvet.settings.resolved_database_url, provider="mock"))
    await other.store.connect()
    try:
        yield other
    finally:
        await other.store.close()


async def test_a_retrain_job_builds_and_activates_a_version(otvet: Otvet, tmp_path: Path) -> None:
    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)
    before = await otvet.store.active_version()

    queued = await otvet.store.enqueue_job("retrain", {"note": "nightly"})
    assert (queued.status, queued.attempts, queued.progress) == ("queued", 0, 0.0)
    done = await Worker(otvet, "w1").run_one()

    assert done is not None and done.status == "succeeded"
    assert done.progress == 1.0 and done.attempts == 1 and done.locked_by == "w1"
    active = await otvet.store.active_version()
    assert active is not None and before is not None and active.id != before.id
    assert done.result is not None
    assert (done.result["version_id"], done.result["chunk_count"]) == (active.id, active.chunk_count)
    assert done.result["promoted"] is True and done.message == done.result["message"]
    assert active.note == f"nightly (job {done.id})"
    assert await Worker(otvet, "w1").run_one() is None  # nothing left to do


async def test_many_claimers_take_every_job_exactly_once(otvet: Otvet, second: Otvet) -> None:
    ids = [(await otvet.store.enqueue_job("noop", {"n": n})).id for n in range(30)]

    async def claimer(store_of: Otvet, name: str) -> list[int]:
        taken: list[int] = []
        while True:
            try:
                job = await store_of.store.claim_job(name, 60, ["noop"])
            except Exception:  # SQLite between two connections: "database is locked"; poll again
                await asyncio.sleep(0.01)
                continue
            if job is None:
                return taken
            taken.append(job.id)

    results = await asyncio.gather(
        *(claimer(otvet, f"a{n}") for n in range(3)), *(claimer(second, f"b{n}") for n in range(3))
    )
    claimed = [job_id for taken in results for job_id in taken]
    assert sorted(claimed) == ids
    jobs = [await otvet.store.get_job(job_id) for job_id in ids]
    assert all(job is not None and job.status == "running" and job.attempts == 1 for job in jobs)


async def test_an_expired_lease_is_taken_over_and_the_old_worker_is_refused(
    otvet: Otvet, second: Otvet
) -> None:
    job = await otvet.store.enqueue_job("noop")
    first = await otvet.store.claim_job("dead", 0.01, None)
    assert first is not None and first.id == job.id
    await asyncio.sleep(0.05)

    taken = await second.store.claim_job("alive", 60, None)

    assert taken is not None and (taken.id, taken.attempts, taken.locked_by) == (job.id, 2, "alive")
    assert not await otvet.store.heartbeat_job(job.id, "dead", 60, 0.5, "still here")
    assert not await otvet.store.finish_job(job.id, "dead", {"from": "dead"})
    assert not await otvet.store.fail_job(job.id, "dead", "late error", None)
    assert await second.store.heartbeat_job(job.id, "alive", 60, 0.5, "half way")
    assert await second.store.finish_job(job.id, "alive", {"from": "alive"})
    final = await otvet.store.get_job(job.id)
    assert final is not None
    assert (final.status, final.result, final.error, final.message) == (
        "succeeded",
        {"from": "alive"},
        None,
        "half way",
    )


async def test_a_failing_job_is_retried_with_backoff_then_fails_keeping_the_error(otvet: Otvet) -> None:
    runs: list[int] = []

    async def flaky(otvet: Otvet, job: JobContext) -> None:
        runs.append(job.record.attempts)
        raise RuntimeError(f"disk full on attempt {job.record.attempts}")

    otvet.settings.worker.max_attempts = 3
    otvet.settings.worker.retry_base_delay = 3600
    job = await otvet.store.enqueue_job("flaky")
    waiting = await Worker(otvet, "w", {"flaky": flaky}).run_one()
    # Backing off: queued again, but not due for a while, so no worker takes it now.
    assert waiting is not None and waiting.status == "queued" and waiting.run_after is not None
    assert waiting.error == "RuntimeError: disk full on attempt 1"
    assert await Worker(otvet, "w", {"flaky": flaky}).run_one() is None

    otvet.settings.worker.retry_base_delay = 0
    await otvet.store.fail_job(job.id, "nobody", "ignored", None)  # not the owner: changes nothing
    await otvet.store.enqueue_job("other")  # a type this worker does not run stays queued
    await _end_backoff(otvet, job.id)
    ran = await Worker(otvet, "w", {"flaky": flaky}).run(once=True)

    assert ran == 2 and runs == [1, 2, 3]
    final = await otvet.store.get_job(job.id)
    assert final is not None
    assert (final.status, final.attempts) == ("failed", 3)
    assert final.error == "RuntimeError: disk full on attempt 3" and final.finished_at is not None
    assert [j.status for j in await otvet.store.list_jobs(status="queued")] == ["queued"]


async def test_cancelling_stops_a_running_handler_and_a_queued_job_never_runs(otvet: Otvet) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def endless(otvet: Otvet, job: JobContext) -> None:
        started.set()
        try:
            while True:
                job.progress(0.5, "working")
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            stopped.set()
            raise

    otvet.settings.worker.lease_seconds = 1
    running = await otvet.store.enqueue_job("endless")
    queued = await otvet.store.enqueue_job("endless")
    worker = Worker(otvet, "w", {"endless": endless})
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(started.wait(), 30)
        assert (await otvet.store.cancel_job(queued.id)).status == "cancelled"
        assert (await otvet.store.cancel_job(running.id)).cancel_requested

        await asyncio.wait_for(stopped.wait(), 30)
        await eventually(lambda: _is(otvet, running.id, "cancelled"))
    finally:
        worker.stop()
        assert await asyncio.wait_for(task, 30) == 1
    final = await otvet.store.get_job(queued.id)
    assert final is not None and (final.status, final.attempts) == ("cancelled", 0)


async def test_a_stopped_worker_gives_its_job_back_without_counting_the_attempt(otvet: Otvet) -> None:
    started = asyncio.Event()

    async def slow(otvet: Otvet, job: JobContext) -> None:
        started.set()
        await asyncio.sleep(3600)

    job = await otvet.store.enqueue_job("slow")
    worker = Worker(otvet, "w", {"slow": slow})
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 30)
    worker.stop()
    await asyncio.wait_for(task, 30)

    released = await otvet.store.get_job(job.id)
    assert released is not None
    assert (released.status, released.attempts, released.locked_by) == ("queued", 0, None)
    assert (await Worker(otvet, "next", {"slow": noop}).run_one()) is not None


async def _end_backoff(otvet: Otvet, job_id: int) -> None:
    """Make a job that waits for its retry due now, as if the backoff had passed."""
    store: Any = otvet.store
    connection = store.context.db(store.connection_name)
    await connection.execute_query(f"UPDATE otvet_job SET run_after = NULL WHERE id = {int(job_id)}")


async def _is(otvet: Otvet, job_id: int, status: str) -> bool:
    return await status_of(otvet, job_id) == status


# --- real processes: a killed worker's job is finished by the next one -------------------------------------


def _start_worker(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [*otvet_command(), "--log-level", "INFO", "worker"],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _slow_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``otvet worker`` whose retrain hangs before storing its version (tests/support/slow_worker.py)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.slow_worker", "--log-level", "INFO", "worker"],
            env={**env, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), env.get("PYTHONPATH", "")])},
            cwd=Path.cwd(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.postgres
async def test_a_killed_workers_retrain_is_finished_by_the_next_worker_exactly_once(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    url = await postgres_cluster.create_database()
    otvet = Otvet(make_settings(tmp_path, url))
    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    marker = tmp_path / "retrain-started"
    env = clean_env(
        tmp_path / "data",
        OTVET_DATABASE_URL=url,
        OTVET_LOAD_DEMO="false",
        OTVET_WORKER__LEASE_SECONDS="2",
        OTVET_WORKER__POLL_SECONDS="0.2",
        OTVET_TEST_SLOW_RETRAIN_MARKER=str(marker),
    )
    async with otvet:
        await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)
        serving = await otvet.store.active_version()
        assert serving is not None
        job = await otvet.store.enqueue_job("retrain", {"note": "after a crash"})

        doomed = _slow_worker(env, tmp_path / "doomed.log")
        try:
            await eventually(lambda: _exists(marker), within=60)
            doomed.send_signal(signal.SIGKILL)
        finally:
            doomed.wait(30)
        left: JobRecord | None = await otvet.store.get_job(job.id)
        assert left is not None and (left.status, left.attempts) == ("running", 1)
        assert (await otvet.store.active_version()) == serving  # the old version still serves
        assert len(await otvet.store.list_versions()) == 1

        rescuer = _start_worker(env, tmp_path, tmp_path / "rescuer.log")
        try:
            await eventually(lambda: _is(otvet, job.id, "succeeded"), within=90)
        finally:
            rescuer.send_signal(signal.SIGTERM)
            assert rescuer.wait(60) == 0, (tmp_path / "rescuer.log").read_text()

        done = await otvet.store.get_job(job.id)
        versions = await otvet.store.list_versions()
        assert done is not None and done.attempts == 2 and done.locked_by != left.locked_by
        assert [v.status for v in versions] == ["active", "retired"]
        assert done.result is not None and done.result["version_id"] == versions[0].id
        listed = run_otvet("jobs", env=env, cwd=tmp_path)
        assert listed.returncode == 0 and "succeeded" in listed.stdout


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


async def test_a_retried_retrain_reports_the_version_its_crashed_attempt_activated(
    otvet: Otvet, tmp_path: Path
) -> None:
    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)
    job = await otvet.store.enqueue_job("retrain")
    assert await otvet.store.claim_job("crashed", 0.01, None) is not None
    # The crashed attempt got as far as activating its version, but never marked the job done.
    built = await otvet.knowledge.rebuild(note=f"retrain (job {job.id})")
    versions = len(await otvet.store.list_versions())
    await asyncio.sleep(0.05)

    done = await Worker(otvet, "rescuer").run_one()

    assert done is not None and (done.id, done.status, done.attempts) == (job.id, "succeeded", 2)
    assert done.result is not None and done.result["version_id"] == built.id
    assert len(await otvet.store.list_versions()) == versions


def test_the_job_commands(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false", OTVET_WORKER__POLL_SECONDS="0.2")
    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    assert run_otvet("ingest", "hours.md", env=env, cwd=tmp_path).returncode == 0
    assert run_otvet("jobs", env=env, cwd=tmp_path).stdout.startswith("No jobs yet")

    first = run_otvet("retrain", "--no-wait", "--note", "first", env=env, cwd=tmp_path)
    assert (first.returncode, first.stdout) == (0, "1\n")
    cancelled = run_otvet("jobs", "cancel", "1", env=env, cwd=tmp_path)
    assert (cancelled.returncode, cancelled.stdout) == (0, "Job 1 cancelled.\n")
    assert run_otvet("jobs", "cancel", "99", env=env, cwd=tmp_path).returncode == 1
    assert run_otvet("retrain", "--no-wait", env=env, cwd=tmp_path).stdout == "2\n"
    once = run_otvet("worker", "--once", "--id", "cli-worker", env=env, cwd=tmp_path)
    assert once.returncode == 0 and "after 1 job(s)" in once.stderr

    listed = json.loads(run_otvet("jobs", "--json", env=env, cwd=tmp_path).stdout)
    assert [(j["id"], j["status"], j["locked_by"]) for j in listed] == [
        (2, "succeeded", "cli-worker"),
        (1, "cancelled", None),
    ]
    table = run_otvet("jobs", env=env, cwd=tmp_path).stdout
    assert table.splitlines()[0].split()[:3] == ["ID", "TYPE", "STATUS"] and "cli-worker" in table

    with (tmp_path / "worker.log").open("wb") as output:
        worker = subprocess.Popen(
            [*otvet_command(), "worker"], env=env, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        waited = run_otvet("retrain", "--note", "waited", env=env, cwd=tmp_path)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.startswith("Job 3 succeeded: knowledge version ")
    assert "Queued job 3 (retrain)." in waited.stderr
