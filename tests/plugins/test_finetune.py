"""Fine-tuning on the approved Q&A pairs: the training file, and the ``fine_tune`` job run by a real worker
against the fake OpenAI API (the ``openai`` client, multipart upload and polling all real).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from otvet.core.app import Otvet
from otvet.core.jobs import Worker
from otvet.core.knowledge import PLACEHOLDER_PREFIX
from otvet.core.store import JobRecord
from otvet.plugins.llm_openai.finetune import FineTuneError, export_examples, start_fine_tune
from tests.conftest import make_settings
from tests.support.fake_openai import FakeOpenAI
from tests.support.waiting import eventually

EN = [(f"How do I reset password number {n}?", f"Open settings, page {n}.") for n in range(8)]
RU = [("Когда открывается музей?", "В десять утра."), ("Где купить билет?", "В кассе у входа.")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        server.fine_tune_polls = 2
        yield server


@asynccontextmanager
async def tuning_otvet(
    tmp_path: Path, base_url: str, database_url: str = "", **overrides: Any
) -> AsyncIterator[Otvet]:
    """Otvet with OpenAI at ``base_url``, polling fast; its worker fails a job for good on the first error."""
    openai = {"api_key": "sk-test", "base_url": base_url, "fine_tune_poll_seconds": 0.01, "read_timeout": 5.0}
    settings = make_settings(
        tmp_path,
        database_url,
        openai={**openai, **overrides.pop("openai", {})},
        worker={"max_attempts": 1, "lease_seconds": 3.0, **overrides.pop("worker", {})},
        **overrides,
    )
    async with Otvet(settings) as otvet:
        yield otvet


async def add_pairs(otvet: Otvet, name: str, pairs: list[tuple[str, str]], language: str | None) -> None:
    content = {"sections": [], "qa_pairs": [{"question": q, "answer": a} for q, a in pairs]}
    await otvet.store.upsert_source(name, "qa_json", name, f"sum-{name}", language, content)


async def approved(otvet: Otvet) -> None:
    """Ten distinct pairs: eight English ones, twice (the feedback source repeats one), and two Russian."""
    await add_pairs(otvet, "faq.json", EN, "en")
    await add_pairs(otvet, "otvet-feedback:approved", [EN[0], *RU], "ru")
    await add_pairs(otvet, f"{PLACEHOLDER_PREFIX}demo", [("What is Otvet?", "A demo.")] * 3, "en")


async def run_job(otvet: Otvet, job: JobRecord) -> JobRecord:
    await Worker(otvet, "w1").run(once=True)
    done = await otvet.store.get_job(job.id)
    assert done is not None
    return done


async def test_the_training_file_has_one_chat_example_per_distinct_approved_pair(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with tuning_otvet(
        tmp_path, fake.base_url, prompt={"system": "You are the museum's helper."}
    ) as otvet:
        await approved(otvet)
        examples = [json.loads(line) for line in (await export_examples(otvet)).lines]
        en_system = "You are the museum's helper.\n\nAlways answer in English."
        ru_system = "You are the museum's helper.\n\nВсегда отвечай на языке: русский."

    assert len(examples) == 10  # the repeated pair once, the demo source not at all
    pairs = [(e["messages"][1]["content"], e["messages"][2]["content"]) for e in examples]
    assert sorted(pairs) == sorted([*EN, *RU])
    for example in examples:
        assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    by_question = {e["messages"][1]["content"]: e["messages"][0]["content"] for e in examples}
    # The deployment's own persona and the answer language of the pair's source; not the rules for citing
    # numbered passages, which the examples do not have.
    assert by_question[EN[1][0]] == en_system
    assert by_question[RU[0][0]] == ru_system


async def test_a_fine_tune_job_uploads_starts_follows_and_names_the_new_model(
    tmp_path: Path, db_url: str, fake: FakeOpenAI
) -> None:
    async with tuning_otvet(tmp_path, fake.base_url, db_url) as otvet:
        await approved(otvet)
        queued = await start_fine_tune(otvet, suffix="museum")
        done = await run_job(otvet, queued)

    assert done.status == "succeeded", done.error
    assert len(fake.uploads) == 1
    (create,) = fake.fine_tune_creates
    assert create["model"] == "gpt-4o-mini-2024-07-18" and create["suffix"] == "museum"
    assert create["metadata"]["otvet_job"] == str(queued.id)
    assert len(fake.examples(create["training_file"])) == 10
    model = fake.fine_tuning_jobs[done.result["openai_job"]]["fine_tuned_model"]  # type: ignore[index]
    assert model.startswith("ft:gpt-4o-mini-2024-07-18:")
    assert done.result == {
        "fine_tuned_model": model,
        "openai_job": done.result["openai_job"],  # type: ignore[index]
        "examples": 10,
        "setting": f"OTVET_OPENAI__MODEL={model}",
        "message": f"fine-tuned model {model} is ready: set OTVET_OPENAI__MODEL={model} to answer with it",
    }
    assert done.message == done.result["message"]  # type: ignore[index]


async def test_a_rerun_after_the_worker_died_resumes_the_same_openai_job(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.fine_tune_polls = 10_000  # runs until the first worker is gone
    async with tuning_otvet(tmp_path, fake.base_url, openai={"fine_tune_poll_seconds": 0.05}) as otvet:
        await approved(otvet)
        queued = await start_fine_tune(otvet)
        first = Worker(otvet, "w1")
        running = asyncio.create_task(first.run_one())
        await eventually(lambda: bool(fake.fine_tuning_jobs))
        first.stop()  # the worker goes away mid-job: the job is queued again, the OpenAI job keeps running
        await running
        (remote,) = fake.fine_tuning_jobs.values()
        assert remote["status"] in ("validating_files", "running")  # not cancelled

        fake.fine_tune_polls = 1  # it finishes at the next look
        done = await run_job(otvet, queued)

    assert done.status == "succeeded", done.error
    assert len(fake.uploads) == 1 and len(fake.fine_tune_creates) == 1  # paid for once
    assert done.result is not None and done.result["openai_job"] == remote["id"]
    assert done.result["examples"] == 10  # remembered by the OpenAI job's metadata


async def test_a_failed_openai_job_fails_ours_with_openais_reason(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.fail_fine_tune("Training file has 3 examples with harmful content.")
    async with tuning_otvet(tmp_path, fake.base_url) as otvet:
        await approved(otvet)
        done = await run_job(otvet, await start_fine_tune(otvet))
    assert done.status == "failed"
    assert done.error is not None and "Training file has 3 examples with harmful content." in done.error
    assert done.error.startswith("FineTuneError: OpenAI fine-tuning job ftjob-")


async def test_fewer_than_ten_examples_are_refused_before_anything_is_sent(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with tuning_otvet(tmp_path, fake.base_url) as otvet:
        await add_pairs(otvet, "faq.json", EN[:3] * 4, "en")  # twelve pairs, three distinct
        with pytest.raises(FineTuneError, match="at least 10 distinct approved Q&A pairs and there are 3"):
            await start_fine_tune(otvet)
        # A job queued some other way fails for the same reason, and sends nothing either.
        done = await run_job(otvet, await otvet.store.enqueue_job("fine_tune", {}))
    assert done.status == "failed" and done.error is not None and "there are 3" in done.error
    assert fake.uploads == [] and fake.fine_tune_creates == []


async def test_fine_tuning_without_openai_configured_is_refused(tmp_path: Path) -> None:
    async with Otvet(make_settings(tmp_path)) as otvet:
        await approved(otvet)
        with pytest.raises(FineTuneError, match="OTVET_OPENAI__API_KEY"):
            await start_fine_tune(otvet)


async def test_cancelling_the_job_cancels_the_openai_job(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.fine_tune_polls = 10_000
    async with tuning_otvet(tmp_path, fake.base_url, openai={"fine_tune_poll_seconds": 0.05}) as otvet:
        await approved(otvet)
        queued = await start_fine_tune(otvet)
        running = asyncio.create_task(Worker(otvet, "w1").run_one())
        await eventually(lambda: bool(fake.fine_tuning_jobs))
        await otvet.store.cancel_job(queued.id)
        done = await running

    assert done is not None and done.status == "cancelled"
    (remote,) = fake.fine_tuning_jobs.values()
    assert remote["status"] == "cancelled"
