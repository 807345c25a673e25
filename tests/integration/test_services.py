"""The services as an operator runs them, as real processes: ``otvet api``, ``otvet worker`` and
``otvet telegram`` with their health and metrics, and what each does on SIGTERM: the answers and the job in
progress finish, nothing new is taken, and the process exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from otvet.core.app import Otvet
from tests.conftest import make_settings
from tests.core.test_metrics import parse, value
from tests.frontends.widget.client import WidgetSocket
from tests.support.cli import clean_env, migrated_with_key, run_otvet_async
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_telegram import FakeBotAPI
from tests.support.server import Service, free_port, service
from tests.support.slow_jobs import JOB_TYPE
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow
DEMO_EN = Path(__file__).parents[2] / "plugins/demo/knowledge/en"
SLOW_WORDS = 12  # the fake model streams one word every 0.15 s: an answer takes about 2 s
#: Rounds of the signal tests: a few in the suite, twenty in ``make soak`` (a shutdown that fails one time
#: in five shows in the suite; rarer ones are what the soak run is for).
SIGNAL_ROUNDS = int(os.environ.get("OTVET_TEST_SIGNAL_ROUNDS", "3"))


def openai_env(tmp_path: Path, fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return clean_env(
        tmp_path / "data",
        OTVET_OPENAI__BASE_URL=fake.base_url,
        OTVET_OPENAI__API_KEY="sk-test-key-for-the-fake",
        OTVET_OPENAI__MODEL="gpt-test",
        OTVET_OPENAI__MAX_ATTEMPTS="1",
        OTVET_FALLBACK_PROVIDER="",
        **extra,
    )


async def ask_key(env: dict[str, str], cwd: Path) -> str:
    code, out, err = await run_otvet_async("key", "create", "services", "--scope", "ask", env=env, cwd=cwd)
    assert code == 0, err
    return out.strip()


async def scrape(base: str) -> dict[Any, float]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/metrics")
    assert response.status_code == 200
    return parse(response.text)


@contextlib.asynccontextmanager
async def slow_stream(base: str, key: str, question: str) -> AsyncIterator[AsyncIterator[str]]:
    """A streamed chat completion from the OpenAI-compatible endpoint, as SSE lines."""
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream(
            "POST",
            f"{base}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "otvet", "stream": True, "messages": [{"role": "user", "content": question}]},
        ) as response,
    ):
        assert response.status_code == 200
        yield response.aiter_lines()


def words_of(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                text += choice.get("delta", {}).get("content") or ""
    return text


async def test_api_drains_on_sigterm_finishing_streams_and_widget_answers(tmp_path: Path) -> None:
    """A rolling deploy: SIGTERM mid-answer. Both answers finish; the widget is told to reconnect (1012);
    new connections are refused; readiness was 503 meanwhile; the process exits 0."""
    async with FakeOpenAI() as fake:
        fake.default_deltas, fake.default_delay = ["word "] * SLOW_WORDS, 0.15
        env = openai_env(tmp_path, fake)
        key = await ask_key(env, tmp_path)
        async with service("api", env, tmp_path, ready_path="/readyz") as api:
            ws_url = api.base.replace("http", "ws") + "/ws/chat"
            async with (
                websockets.connect(ws_url) as connection,
                slow_stream(api.base, key, "How do I connect Telegram?") as lines,
            ):
                widget = WidgetSocket(connection)
                assert (await widget.hello())["type"] == "welcome"
                await widget.send({"type": "question", "id": "w1", "text": "And the widget?"})
                first = await anext(lines)
                assert first.startswith("data: ")
                assert (await widget.receive())["type"] == "delta"

                api.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                with pytest.raises(httpx.ConnectError):  # the listener is closed: nothing new comes in
                    async with httpx.AsyncClient() as client:
                        await client.get(f"{api.base}/healthz")

                rest = [line async for line in lines]
                frames = []
                while (frame := await widget.receive())["type"] == "delta":
                    frames.append(frame)
                code = await widget.closed_with()
            assert "data: [DONE]" in rest
            assert words_of([first, *rest]).strip() == " ".join(["word"] * SLOW_WORDS)
            assert frame["type"] == "answer" and frame["text"].strip().startswith("word")
            assert code == 1012  # "service restart": widget.js reconnects
            assert await api.stop() == 0
        log = await api.stderr()
        assert "draining:" in log and "still in progress" not in log, log


async def test_draining_closes_keep_alive_connections_and_exits_once_the_answer_is_done(
    tmp_path: Path,
) -> None:
    """SIGTERM mid-answer: an idle keep-alive connection is closed and a new one refused, so nothing new is
    served (before: hundreds more answers on keep-alive connections until shutdown_seconds ran out); the
    answer in progress finishes, and the process exits as soon as it has, not after shutdown_seconds."""
    async with FakeOpenAI() as fake:
        fake.default_deltas, fake.default_delay = ["word "] * SLOW_WORDS, 0.15
        env = openai_env(tmp_path, fake, OTVET_SHUTDOWN_SECONDS="120")
        key = await ask_key(env, tmp_path)
        async with service("api", env, tmp_path, ready_path="/readyz") as api, httpx.AsyncClient() as idle:
            assert (await idle.get(f"{api.base}/readyz")).status_code == 200  # a keep-alive connection
            async with slow_stream(api.base, key, "How do I connect Telegram?") as lines:
                await anext(lines)
                api.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                with pytest.raises(httpx.TransportError):  # closed, and reconnecting is refused
                    await idle.get(f"{api.base}/readyz")
                assert "data: [DONE]" in [line async for line in lines]
            finished = time.monotonic()
            assert await asyncio.wait_for(api.process.wait(), timeout=60) == 0
            assert time.monotonic() - finished < 60  # not the 120 s of shutdown_seconds


async def test_sigterm_under_keep_alive_load_serves_nothing_new_and_exits(tmp_path: Path) -> None:
    """``SIGNAL_ROUNDS`` times: four clients asking in a loop on keep-alive connections, then SIGTERM. Once
    the process has taken the signal (a second is plenty) no request is served any more (before: hundreds,
    until shutdown_seconds ran out), and the process exits 0 well before shutdown_seconds."""
    async with FakeOpenAI() as fake:
        # Answers of about half a second from four clients overlap: some answer is always in progress, so a
        # drain that waited for "nothing in progress" while keep-alive requests kept coming never ended.
        fake.default_deltas, fake.default_delay = ["word "] * 6, 0.08
        env = openai_env(tmp_path, fake, OTVET_SHUTDOWN_SECONDS="120", OTVET_API__REQUESTS_PER_MINUTE="0")
        after_signal = await _sigterm_rounds(env, tmp_path, rounds=SIGNAL_ROUNDS)
    print("answers to requests sent after SIGTERM, per round:", after_signal)


async def _sigterm_rounds(env: dict[str, str], tmp_path: Path, rounds: int) -> list[int]:
    key = await migrated_with_key(env, tmp_path, DEMO_EN)
    body = {"model": "otvet", "messages": [{"role": "user", "content": "How do I connect Telegram?"}]}
    after_signal: list[int] = []
    for _ in range(rounds):
        async with service("api", env, tmp_path, ready_path="/readyz") as api:
            #: When each answered request was sent.
            sent: list[float] = []

            async def ask_in_a_loop(base: str = api.base, sent: list[float] = sent) -> None:
                headers = {"Authorization": f"Bearer {key}"}
                async with httpx.AsyncClient(timeout=30, headers=headers) as client:
                    while True:
                        started = time.monotonic()
                        try:
                            response = await client.post(f"{base}/v1/chat/completions", json=body)
                        except httpx.TransportError:
                            return  # closed by the drain, and no new connection is taken
                        assert response.status_code == 200, response.text
                        sent.append(started)

            clients = [asyncio.create_task(ask_in_a_loop()) for _ in range(4)]
            await asyncio.sleep(0.3)
            signalled = time.monotonic()
            api.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(api.process.wait(), timeout=60) == 0
            exited = time.monotonic() - signalled
            await asyncio.wait_for(asyncio.gather(*clients), timeout=30)
            assert not [t for t in sent if t > signalled + 1.0], "served after the drain began"
            assert exited < 60  # as soon as the answers in flight are done, not after shutdown_seconds
            after_signal.append(sum(t > signalled for t in sent))
    return after_signal


async def test_api_runs_no_jobs_and_a_worker_reports_health_and_metrics(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_WORKER__POLL_SECONDS="0.2")
    code, _, err = await run_otvet_async("migrate", env=env, cwd=tmp_path)
    assert code == 0, err
    async with service("api", env, tmp_path, ready_path="/readyz") as api:
        code, _, err = await run_otvet_async("retrain", "--no-wait", env=env, cwd=tmp_path)
        assert code == 0, err
        await asyncio.sleep(1.5)
        queued = await scrape(api.base)
        assert value(queued, "otvet_jobs", type="retrain", status="queued") == 1  # `otvet api` runs none
        async with service("worker", env, tmp_path, ready_path="/readyz", port_option="--ops-port") as worker:
            async with httpx.AsyncClient() as client:
                ready = (await client.get(f"{worker.base}/readyz")).json()
                assert ready["status"] == "ready" and ready["checks"]["service"] == "worker"
                assert ready["checks"]["worker"] == "ok" and "provider" not in ready["checks"]
                # Probes and Prometheus only: nothing a user could reach is on the ops port.
                assert (
                    await client.post(f"{worker.base}/graphql", json={"query": "{__typename}"})
                ).status_code == 404

            async def ran() -> bool:
                return (
                    value(
                        await scrape(worker.base), "otvet_job_runs_total", type="retrain", outcome="succeeded"
                    )
                    == 1
                )

            await eventually(ran, within=30, every=0.2)
            done = await scrape(worker.base)
            assert value(done, "otvet_job_duration_seconds_count", type="retrain") == 1
            assert value(done, "otvet_build_info", version=_version(), service="worker") == 1
            assert value(await scrape(api.base), "otvet_jobs", type="retrain", status="queued") == 0
            assert await worker.stop() == 0


def _version() -> str:
    from otvet import __version__

    return __version__


async def test_a_worker_stopped_during_a_retrain_of_3000_sources_always_exits(tmp_path: Path) -> None:
    """SIGTERM while a retrain of 3,000 sources runs (its progress reports once flooded the signal wakeup
    and the signal was lost): every time, the worker finishes the build and exits 0 right after."""
    sources = tmp_path / "sources"
    sources.mkdir()
    for n in range(3000):
        (sources / f"page{n:04d}.md").write_text(
            f"# Page {n}\n\nPlan {n} stores {n} GB and costs {n % 50} dollars a month.\n\n"
            + "Each team member gets their own login, and admins export usage reports. " * 24
        )
    env = clean_env(tmp_path / "data", OTVET_WORKER__POLL_SECONDS="0.1", OTVET_SHUTDOWN_SECONDS="30")
    for command in (("migrate",), ("ingest", str(sources))):
        code, _, err = await run_otvet_async(*command, env=env, cwd=tmp_path)
        assert code == 0, err
    exits: list[float] = []
    otvet = Otvet(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'data' / 'otvet.db'}"))
    async with otvet:
        for _ in range(SIGNAL_ROUNDS):
            worker_service = service("worker", env, tmp_path, ready_path="/readyz", port_option="--ops-port")
            async with worker_service as worker:
                job = await otvet.store.enqueue_job("retrain")

                async def running(job_id: int = job.id) -> bool:
                    found = await otvet.store.get_job(job_id)
                    return found is not None and found.status == "running"

                await eventually(running, within=30, every=0.02)
                signalled = time.monotonic()
                worker.process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(worker.process.wait(), timeout=30)
                exits.append(time.monotonic() - signalled)
                log = await worker.stderr()
            assert code == 0, log
            assert log.index("draining:") < log.index(f"job {job.id} succeeded"), log  # signalled mid-job
            done = await otvet.store.get_job(job.id)
            assert done is not None and done.status == "succeeded", log
    print("seconds from SIGTERM to exit, per round:", [round(e, 2) for e in exits])


@contextlib.asynccontextmanager
async def sleepy_worker(env: dict[str, str]) -> AsyncIterator[Service]:
    """``otvet worker`` knowing the ``test_sleep`` job type (tests/support/slow_jobs.py), on an ops port."""
    port = free_port()
    root = Path(__file__).resolve().parents[2]  # noqa: ASYNC240  (once, before the process starts)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.slow_jobs",
        "--log-level",
        "INFO",
        "worker",
        "--ops-port",
        str(port),
        env={**env, "PYTHONPATH": os.pathsep.join([str(root), env.get("PYTHONPATH", "")])},
        cwd=root,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Service(process, f"http://127.0.0.1:{port}", port)
    try:
        yield running
    finally:
        await running.stop(signal.SIGKILL)


@pytest.mark.parametrize(("seconds", "grace", "status"), [(2, 30, "succeeded"), (60, 1, "queued")])
async def test_a_worker_stopped_mid_job_finishes_it_within_the_grace_or_gives_it_back(
    tmp_path: Path, seconds: float, grace: float, status: str
) -> None:
    marker = tmp_path / "job-started"
    env = clean_env(
        tmp_path / "data",
        OTVET_WORKER__POLL_SECONDS="0.2",
        OTVET_SHUTDOWN_SECONDS=str(grace),
        OTVET_TEST_JOB_MARKER=str(marker),
    )
    otvet = Otvet(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'data' / 'otvet.db'}"))
    async with otvet:
        job = await otvet.store.enqueue_job(JOB_TYPE, {"seconds": seconds})
        second = await otvet.store.enqueue_job(JOB_TYPE, {"seconds": 0.1})
        async with sleepy_worker(env) as worker:
            await eventually(marker.exists, within=30, every=0.05)
            worker.process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(worker.process.wait(), 20)
            log = await worker.stderr()
        assert code == 0, log
        stopped = await otvet.store.get_job(job.id)
        untouched = await otvet.store.get_job(second.id)
    assert stopped is not None and stopped.status == status, log
    if status == "succeeded":
        assert stopped.result == {"slept": seconds}
    else:
        assert f"job {job.id} is queued again" in log
    # A stopping worker claims nothing new: the next job waits for another worker.
    assert untouched is not None and untouched.status == "queued"


async def test_the_telegram_service_finishes_its_answers_on_sigterm(tmp_path: Path) -> None:
    async with FakeBotAPI() as api, FakeOpenAI() as fake:
        fake.default_deltas, fake.default_delay = ["word "] * SLOW_WORDS, 0.15
        env = openai_env(
            tmp_path,
            fake,
            OTVET_TELEGRAM__TOKEN=api.token,
            OTVET_TELEGRAM__BASE_URL=api.base_url,
            OTVET_TELEGRAM__BASE_FILE_URL=api.base_file_url,
            OTVET_TELEGRAM__PRIVATE_EDIT_INTERVAL="0.3",
        )
        async with service("telegram", env, tmp_path, ready_path="/readyz", port_option="--ops-port") as bot:
            async with httpx.AsyncClient() as client:
                ready = (await client.get(f"{bot.base}/readyz")).json()
            assert ready["checks"]["telegram"] == "ok" and ready["checks"]["service"] == "telegram"
            update = api.private_message("How do I connect Telegram?")
            api.queue_update(update)
            await api.wait_for("sendMessage", timeout=20)  # the answer has started streaming
            bot.process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(bot.process.wait(), 30)
            assert code == 0, await bot.stderr()
        chat = update["message"]["chat"]["id"]
        final = api.bot_messages(chat)[-1]
        assert final["text"].startswith(" ".join(["word"] * SLOW_WORDS)), final["text"]
        assert "reply_markup" in final  # the 👍/👎 buttons come with the final text only


async def test_serve_runs_the_polling_bot_itself(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        env = clean_env(
            tmp_path / "data",
            OTVET_TELEGRAM__TOKEN=api.token,
            OTVET_TELEGRAM__BASE_URL=api.base_url,
            OTVET_TELEGRAM__BASE_FILE_URL=api.base_file_url,
        )
        async with service("serve", env, tmp_path, ready_path="/readyz") as serve:
            async with httpx.AsyncClient() as client:
                checks = (await client.get(f"{serve.base}/readyz")).json()["checks"]
            assert checks["telegram"] == "ok"
            update = api.queue_update(api.private_message("Как подключить Telegram?"))

            async def answered() -> bool:
                messages = api.bot_messages(update["message"]["chat"]["id"])
                return bool(messages) and "BotFather" in messages[-1]["text"]

            await eventually(answered, within=30, every=0.1)
            metrics = await scrape(serve.base)
            assert value(metrics, "otvet_telegram_updates_total", kind="message") == 1
            assert value(metrics, "otvet_answers_total", channel="telegram", outcome="answered") == 1
