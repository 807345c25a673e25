"""``otvet finetune export|start`` as real processes, with ``otvet worker`` running the job against the fake
OpenAI API on loopback.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from otvet.core.app import Otvet
from tests.conftest import make_settings
from tests.support.cli import PROCESS_SECONDS, clean_env, otvet_command, run_otvet_async
from tests.support.fake_openai import FakeOpenAI

PAIRS = [
    {"question": f"What does ticket type {n} include?", "answer": f"Entry to hall {n}."} for n in range(12)
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def environment(tmp_path: Path, fake: FakeOpenAI) -> dict[str, str]:
    return clean_env(
        tmp_path / "data",
        OTVET_OPENAI__BASE_URL=fake.base_url,
        OTVET_OPENAI__API_KEY="sk-test",
        OTVET_OPENAI__FINE_TUNE_POLL_SECONDS="0.05",
        OTVET_PROVIDER="extractive",
        OTVET_WORKER__MAX_ATTEMPTS="1",
        OTVET_WORKER__POLL_SECONDS="0.2",
    )


#: Retrieves a fake fine-tuning job survives: for as long as a test needs it running.
HELD = 10**9


def _only(fake: FakeOpenAI) -> str:
    (job_id,) = fake.fine_tuning_jobs
    return job_id


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    """Lines of ``stream`` up to and including the first holding ``marker``."""
    seen = ""
    while marker not in seen:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"the stream ended before {marker!r}: {seen!r}")
        seen += line.decode()
    return seen


async def with_pairs(tmp_path: Path) -> None:
    """Store the pairs in the database the commands use (in this process: quicker than `otvet ingest`)."""
    async with Otvet(make_settings(tmp_path)) as otvet:
        content = {"sections": [], "qa_pairs": PAIRS}
        await otvet.store.upsert_source("tickets.json", "qa_json", "Tickets", "sum", "en", content)


async def test_export_writes_one_chat_example_per_pair_and_start_refuses_too_few(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    env = environment(tmp_path, fake)
    code, _, err = await run_otvet_async("finetune", "start", env=env, cwd=tmp_path)
    assert code == 1
    assert "at least 10 distinct approved Q&A pairs and there are 0" in err and "Traceback" not in err

    await with_pairs(tmp_path)
    code, out, err = await run_otvet_async("finetune", "export", "-", env=env, cwd=tmp_path)
    assert code == 0, err
    examples = [json.loads(line) for line in out.splitlines()]
    assert "12 example(s)." in err
    assert len(examples) == 12 and examples[0]["messages"][1:] == [
        {"role": "user", "content": PAIRS[0]["question"]},
        {"role": "assistant", "content": PAIRS[0]["answer"]},
    ]
    code, _, err = await run_otvet_async("finetune", "export", "train.jsonl", env=env, cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "train.jsonl").read_text(encoding="utf-8") == out


async def test_start_then_a_worker_run_puts_the_model_in_the_jobs_result(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    env = environment(tmp_path, fake)
    await with_pairs(tmp_path)

    code, out, err = await run_otvet_async("finetune", "start", "--suffix", "tickets", env=env, cwd=tmp_path)
    assert code == 0, err
    job_id = int(out.strip())
    code, _, err = await run_otvet_async("worker", "--once", env=env, cwd=tmp_path)
    assert code == 0, err
    code, out, err = await run_otvet_async("jobs", "--json", env=env, cwd=tmp_path)
    assert code == 0, err
    (job,) = [j for j in json.loads(out) if j["id"] == job_id]
    assert job["type"] == "fine_tune" and job["status"] == "succeeded"
    (remote,) = fake.fine_tuning_jobs.values()
    assert job["result"]["fine_tuned_model"] == remote["fine_tuned_model"]
    assert job["result"]["examples"] == 12 and fake.fine_tune_creates[0]["suffix"] == "tickets"


async def test_start_wait_follows_the_job_and_prints_the_setting_or_the_failure(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    env = environment(tmp_path, fake)
    await with_pairs(tmp_path)
    worker = await asyncio.create_subprocess_exec(
        *otvet_command(), "worker", env=env, cwd=tmp_path, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        # The remote job stays running until the command has shown that: a fixed number of polls raced the
        # command's own half-second poll, and on a busy machine the job could finish between two of them.
        fake.fine_tune_polls = HELD
        waiting = await asyncio.create_subprocess_exec(
            *otvet_command(),
            "finetune",
            "start",
            "--wait",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert waiting.stdout is not None and waiting.stderr is not None
        shown = await asyncio.wait_for(_read_until(waiting.stderr, "  running"), PROCESS_SECONDS)
        assert "Waiting for a worker" in shown and "succeeded" not in shown
        fake.fine_tune_polls = 0  # the next retrieve finishes the job
        out_bytes, err_bytes = await asyncio.wait_for(waiting.communicate(), PROCESS_SECONDS)
        out, err = out_bytes.decode(), shown + err_bytes.decode()
        assert waiting.returncode == 0, err
        model = fake.fine_tuning_jobs[_only(fake)]["fine_tuned_model"]
        assert f"fine-tuned model {model}" in out
        assert f"OTVET_OPENAI__MODEL={model}" in out
        assert "succeeded 100%" in err

        fake.fail_fine_tune("The training file is too small.")
        code, out, err = await run_otvet_async("finetune", "start", "--wait", env=env, cwd=tmp_path)
        assert code == 1
        assert "failed" in err and "The training file is too small." in err and "Traceback" not in err
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), PROCESS_SECONDS)
