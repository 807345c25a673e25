"""Fine-tuning an OpenAI model on the approved Q&A pairs, as the ``fine_tune`` background job.

The approved pairs are the ``qa_pairs`` of every stored source but the demo ones: the admins' Q&A sources and
``otvet-feedback:*``, where good-rated answers and corrections end up. Each pair becomes one chat example
(system instructions in the pair's language, the question, the answer). The job uploads them, starts an
OpenAI fine-tuning job and follows it until OpenAI is done; the result names the new model, which the admin
then sets as ``OTVET_OPENAI__MODEL``.

A fine-tune costs money, so a re-run (the worker died, the job was queued again) never starts a second one:
the OpenAI job carries this job's id in its metadata, and a re-run that finds it resumes following it.
``openai`` is imported only by the handler: exporting, and commands that queue the job, do without it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otvet.core.knowledge import PLACEHOLDER_PREFIX, parsed_of
from otvet.core.prompt import answer_in, persona
from otvet.core.store import JobRecord

if TYPE_CHECKING:
    import openai
    from openai.types.fine_tuning import FineTuningJob

    from otvet.core.app import Otvet
    from otvet.core.jobs import JobContext

log = logging.getLogger(__name__)

#: The job type the llm_openai plugin registers.
JOB_TYPE = "fine_tune"
#: OpenAI refuses a training file with fewer examples than this.
MIN_EXAMPLES = 10
#: The suffix OpenAI puts into the new model's name (``ft:BASE:ORG:otvet:ID``) unless one is given.
DEFAULT_SUFFIX = "otvet"
#: OpenAI's limit on a suffix's length.
MAX_SUFFIX_CHARS = 64
#: Metadata keys on the OpenAI job: which Otvet job started it, and how many examples it was given.
JOB_KEY, CREATED_KEY, EXAMPLES_KEY = "otvet_job", "otvet_job_created", "otvet_examples"
#: How far along each OpenAI state is, for the job's progress (OpenAI gives no fraction).
_PROGRESS = {"validating_files": 0.1, "queued": 0.15, "running": 0.5, "succeeded": 1.0}
#: Polls in a row that may fail on a passing problem (429, 5xx, network) before the job fails.
MAX_POLL_FAILURES = 20
#: Seconds allowed for the best-effort cancel of the OpenAI job when the Otvet job is cancelled.
CANCEL_SECONDS = 10.0


class FineTuneError(Exception):
    """Fine-tuning cannot start or did not succeed; the message says why, for the admin."""


@dataclass(frozen=True, slots=True)
class Examples:
    """The training file's lines, one chat example each."""

    lines: list[str]

    def __len__(self) -> int:
        return len(self.lines)

    def jsonl(self) -> bytes:
        return "".join(line + "\n" for line in self.lines).encode("utf-8")


async def export_examples(otvet: Otvet) -> Examples:
    """Every approved Q&A pair as a chat example, identical pairs once, in the order sources are listed."""
    seen: set[tuple[str, str]] = set()
    lines: list[str] = []
    for record in await otvet.store.list_sources():
        if record.name.startswith(PLACEHOLDER_PREFIX):
            continue  # the demo knowledge base is nobody's approved answer
        for pair in parsed_of(record).qa_pairs:
            question, answer = _clean(pair.question), _clean(pair.answer)
            if not question or not answer or (question, answer) in seen:
                continue
            seen.add((question, answer))
            language = record.language or otvet.detect_language(question) or otvet.i18n.default_language
            lines.append(
                json.dumps({"messages": _messages(otvet, language, question, answer)}, ensure_ascii=False)
            )
    return Examples(lines)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _messages(otvet: Otvet, language: str, question: str, answer: str) -> list[dict[str, str]]:
    # Who the assistant is, without the rules for numbered sources: the examples have no passages to cite,
    # and training on "cite [n]" with uncited answers would teach the model to ignore that rule.
    t = otvet.i18n.get(language)
    system = f"{persona(t, otvet.settings.prompt)}\n\n{answer_in(t, language)}"
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]


def check_enough(count: int) -> None:
    if count < MIN_EXAMPLES:
        raise FineTuneError(
            f"fine-tuning needs at least {MIN_EXAMPLES} distinct approved Q&A pairs and there are {count}: "
            "add Q&A sources (`otvet ingest`) or approve more answers first"
        )


async def start_fine_tune(otvet: Otvet, model: str | None = None, suffix: str | None = None) -> JobRecord:
    """Queue a ``fine_tune`` job, after checking what would make it fail at once (no OpenAI, few pairs)."""
    if JOB_TYPE not in otvet.job_handlers:
        raise FineTuneError(
            "the llm_openai plugin is not loaded, so no worker can fine-tune (see `otvet plugins`)"
        )
    if not otvet.settings.openai.configured:
        raise FineTuneError("fine-tuning needs OTVET_OPENAI__API_KEY (or OTVET_OPENAI__BASE_URL)")
    suffix = (suffix or "").strip()
    if len(suffix) > MAX_SUFFIX_CHARS:
        raise FineTuneError(f"the suffix is longer than {MAX_SUFFIX_CHARS} characters")
    check_enough(len(await export_examples(otvet)))
    payload = {
        "model": (model or "").strip() or otvet.settings.openai.fine_tune_model,
        "suffix": suffix or DEFAULT_SUFFIX,
    }
    return await otvet.store.enqueue_job(JOB_TYPE, payload)


async def fine_tune(otvet: Otvet, job: JobContext) -> dict[str, Any]:
    """The ``fine_tune`` job: upload the examples, start the OpenAI job (or find the one already started),
    follow it to its end.
    """
    import openai

    from otvet.plugins.llm_openai.client import classify, make_client

    settings = otvet.settings.openai
    client = make_client(settings)
    remote: FineTuningJob | None = None
    try:
        try:
            remote = await _started_by(client, job)
            if remote is None:
                examples = await export_examples(otvet)
                check_enough(len(examples))
                remote = await _create(client, job, examples, settings.fine_tune_model)
            else:
                log.info("job %s: resuming OpenAI fine-tuning job %s", job.id, remote.id)
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        done = await _follow(client, job, remote, settings.fine_tune_poll_seconds)
    except asyncio.CancelledError:
        await _cancel_if_asked(otvet, client, job, remote)
        raise
    finally:
        await client.close()
    model = str(done.fine_tuned_model)
    examples_count = int((done.metadata or {}).get(EXAMPLES_KEY) or 0)
    setting = f"OTVET_OPENAI__MODEL={model}"
    message = f"fine-tuned model {model} is ready: set {setting} to answer with it"
    job.progress(1.0, message)
    # "message" becomes the finished job's message (the store keeps it; the last heartbeat may not).
    return {
        "fine_tuned_model": model,
        "openai_job": done.id,
        "examples": examples_count,
        "setting": setting,
        "message": message,
    }


def _metadata_key(job: JobContext) -> dict[str, str]:
    # The id alone repeats across databases (each has a job 1), so the job's creation time goes with it.
    return {JOB_KEY: str(job.id), CREATED_KEY: str(int(job.record.created_at.timestamp()))}


async def _started_by(client: openai.AsyncOpenAI, job: JobContext) -> FineTuningJob | None:
    """The OpenAI job an earlier run of this job started, if any."""
    key = _metadata_key(job)
    async for remote in client.fine_tuning.jobs.list(metadata={JOB_KEY: key[JOB_KEY]}, limit=100):
        # Checked here too: an OpenAI-compatible server may ignore the filter.
        metadata = remote.metadata or {}
        if all(metadata.get(name) == value for name, value in key.items()):
            return remote
    return None


async def _create(
    client: openai.AsyncOpenAI, job: JobContext, examples: Examples, base_model: str
) -> FineTuningJob:
    job.progress(0.02, f"uploading {len(examples)} examples")
    upload = await client.files.create(
        file=(f"otvet-job-{job.id}.jsonl", examples.jsonl(), "application/jsonl"), purpose="fine-tune"
    )
    model = str(job.payload.get("model") or base_model)
    remote = await client.fine_tuning.jobs.create(
        model=model,
        training_file=upload.id,
        suffix=str(job.payload.get("suffix") or DEFAULT_SUFFIX),
        metadata={**_metadata_key(job), EXAMPLES_KEY: str(len(examples))},
    )
    log.info(
        "job %s: started OpenAI fine-tuning job %s on %s with %s examples",
        job.id,
        remote.id,
        model,
        len(examples),
    )
    return remote


async def _follow(
    client: openai.AsyncOpenAI, job: JobContext, remote: FineTuningJob, poll_seconds: float
) -> FineTuningJob:
    """Poll the OpenAI job until it ends; its last state when it succeeded."""
    from otvet.core.resilience import RetryableError
    from otvet.plugins.llm_openai.client import classify

    failures = 0
    while True:
        _report(job, remote)
        if remote.status == "succeeded":
            if not remote.fine_tuned_model:
                raise FineTuneError(f"OpenAI job {remote.id} succeeded but named no model")
            return remote
        if remote.status in ("failed", "cancelled"):
            reason = remote.error.message if remote.error and remote.error.message else "no reason given"
            raise FineTuneError(f"OpenAI fine-tuning job {remote.id} {remote.status}: {reason}")
        await asyncio.sleep(poll_seconds)
        try:
            remote = await client.fine_tuning.jobs.retrieve(remote.id)
            failures = 0
        except Exception as exc:
            error = classify(exc)
            failures += 1
            if not isinstance(error, RetryableError) or failures >= MAX_POLL_FAILURES:
                raise error from exc
            log.warning(
                "job %s: looking at OpenAI job %s failed (%s); trying again", job.id, remote.id, error
            )


def _report(job: JobContext, remote: FineTuningJob) -> None:
    parts = [f"OpenAI job {remote.id}: {remote.status}"]
    if remote.trained_tokens:
        parts.append(f"{remote.trained_tokens} tokens trained")
    job.progress(_PROGRESS.get(remote.status, job.fraction), ", ".join(parts))


async def _cancel_if_asked(
    otvet: Otvet, client: openai.AsyncOpenAI, job: JobContext, remote: FineTuningJob | None
) -> None:
    """Cancel the OpenAI job when an admin cancelled ours; not when the worker stops or lost the job, since
    another worker then resumes following it. Best effort: a failure is logged, the cancellation goes on.
    """
    try:
        async with asyncio.timeout(CANCEL_SECONDS):
            current = await otvet.store.get_job(job.id)
            if current is None or not (current.cancel_requested or current.status == "cancelled"):
                return
            # Cancelled while starting it: the request may have reached OpenAI without its answer reaching us.
            remote = remote or await _started_by(client, job)
            if remote is None:
                return
            await client.fine_tuning.jobs.cancel(remote.id)
        log.info("job %s: cancelled OpenAI fine-tuning job %s", job.id, remote.id)
    except Exception:
        log.warning("job %s: could not cancel its OpenAI fine-tuning job", job.id, exc_info=True)
