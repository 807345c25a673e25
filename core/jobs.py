"""Background jobs: the handler registry and the :class:`Worker` that runs ``otvet worker``.

A worker claims a job (the store leases it for ``worker.lease_seconds``), runs its handler while a timer task
sends heartbeats that extend the lease and record progress, then finishes it, retries it later with backoff,
or fails it for good after ``worker.max_attempts`` runs. A worker that dies stops heartbeating; once its lease
has run out another worker claims the job and runs it again, so handlers must be safe to re-run (the
built-in ``retrain`` is: see :func:`retrain`). A heartbeat the store refuses (the job was cancelled, or taken
over after this worker stalled) cancels the handler; the stale worker then changes nothing.

Handlers run in the worker process, never in an API process: CPU-heavy parsing and indexing there cannot
block a request's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from otvet.core.lifecycle import wait_for_any
from otvet.core.logs import log_context
from otvet.core.resilience import RetryPolicy
from otvet.core.store import DatabaseUnavailable, JobRecord, VersionRecord

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)


class JobContext:
    """What a handler gets besides ``otvet``: the job, and a way to report progress."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record
        self.fraction = 0.0
        self.message: str | None = None
        self._changed = asyncio.Event()

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def payload(self) -> dict[str, Any]:
        return self.record.payload

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1) and an optional message; the next heartbeat stores them."""
        self.fraction = min(1.0, max(0.0, fraction))
        if message is not None:
            self.message = message
        self._changed.set()


JobHandler = Callable[["Otvet", JobContext], Coroutine[Any, Any, "dict[str, Any] | None"]]
"""``async def handler(otvet, job) -> result``: the result (JSON-able) is stored on the job."""


async def retrain(otvet: Otvet, job: JobContext) -> dict[str, Any]:
    """Build a knowledge version from every source, evaluate it, and promote it if it is not worse.

    Payload: ``note`` (optional), ``force`` (promote even if it scored worse). The result says whether the
    version was promoted and why (``promoted``, ``reason``, ``scores``).

    Safe to re-run: building writes a new version in one transaction and promotion is another, so a crash
    leaves nothing, a whole ``ready`` version, or a whole promoted one. A run finds what an earlier attempt
    of the same job (named in the version's note) left, and finishes it instead of building another.
    """
    note = f"{job.payload.get('note') or 'retrain'} (job {job.id})"
    force = bool(job.payload.get("force"))
    knowledge = otvet.knowledge
    earlier = [v for v in await otvet.store.list_versions() if v.note == note]
    if earlier:
        version = earlier[0]  # newest first
        log.info(
            "job %s: version %s was built by an earlier attempt (%s)", job.id, version.id, version.status
        )
        if version.status == "ready":
            job.progress(0.9, f"evaluating version {version.id}")
            version = await knowledge.publish(version, force=force)
    else:

        def progress(done: int, total: int) -> None:
            # Chunking is most of the work we can count; embedding and storing follow, then the evaluation.
            job.progress(0.8 * done / max(total, 1), f"chunked {done} of {total} sources")

        version = await knowledge.build(note=note, progress=progress)
        job.progress(0.9, f"evaluating version {version.id}")
        version = await knowledge.publish(version, force=force)
    return retrain_result(version)


def retrain_result(version: VersionRecord) -> dict[str, Any]:
    """What a retrain reports: the version, whether it now answers, and why (for CLI, API and logs)."""
    metrics = version.metrics or {}
    promoted = version.status == "active"
    reason = metrics.get("decision") or ("promoted" if promoted else f"the version is {version.status}")
    scores = {name: metrics[name] for name in ("checks", "hit1", "hitk", "answers", "k") if name in metrics}
    verb = "promoted" if promoted else "not promoted"
    return {
        "version_id": version.id,
        "chunk_count": version.chunk_count,
        "promoted": promoted,
        "reason": reason,
        "scores": scores,
        "message": f"version {version.id} {verb}: {reason}",
    }


#: The built-in job types. Plugins add theirs through the ``register_job_types`` hook.
BUILT_IN: dict[str, JobHandler] = {"retrain": retrain}


def default_worker_id() -> str:
    """``host:pid:random``: unique per process, readable in ``otvet jobs``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims and runs jobs until :meth:`stop` (``otvet worker``)."""

    def __init__(
        self,
        otvet: Otvet,
        worker_id: str | None = None,
        handlers: Mapping[str, JobHandler] | None = None,
    ) -> None:
        self.otvet = otvet
        self.id = worker_id or default_worker_id()
        self.handlers = dict(otvet.job_handlers if handlers is None else handlers)
        settings = otvet.settings.worker
        self.lease_seconds = settings.lease_seconds
        self.poll_seconds = settings.poll_seconds
        self.max_attempts = settings.max_attempts
        self.retry = RetryPolicy(
            attempts=settings.max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
        )
        self._stopping = asyncio.Event()
        #: Set when a running job must be given back now (the grace after :meth:`stop` has run out).
        self._abandon = asyncio.Event()
        self._grace: asyncio.TimerHandle | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set() or self.otvet.lifecycle.draining

    def stop(self, grace: float = 0.0) -> None:
        """Claim no more jobs; a job running now has ``grace`` seconds to finish, then it is released
        (queued again for another worker). A second call can only shorten the grace."""
        self._stopping.set()
        if grace <= 0:
            self._abandon.set()
        elif self._grace is None and not self._abandon.is_set():
            self._grace = asyncio.get_running_loop().call_later(grace, self._abandon.set)

    async def run(self, *, once: bool = False) -> int:
        """Run jobs until stopped (``once``: until no job is due); return how many were run."""
        ran = 0
        try:
            while not self.stopping:
                try:
                    job = await self.run_one()
                except DatabaseUnavailable:
                    job = None  # logged once per outage by the store; keep polling until it is back
                except Exception:
                    # The database went away for a moment: keep polling rather than dying.
                    log.exception("worker %s: claiming a job failed", self.id)
                    job = None
                if job is not None:
                    ran += 1
                    continue
                if once:
                    break
                await self._idle(self.poll_seconds)
        finally:
            if self._grace is not None:
                self._grace.cancel()
        return ran

    async def _idle(self, seconds: float) -> None:
        """Sleep between polls; wake at once when told to stop or the service starts draining."""
        await wait_for_any((self._stopping, self.otvet.lifecycle.drain_started), seconds)

    async def run_one(self) -> JobRecord | None:
        """Claim one due job and run it to its end; None when no job was due."""
        record = await self.otvet.store.claim_job(self.id, self.lease_seconds, list(self.handlers))
        if record is None:
            return None
        with self.otvet.lifecycle.busy(), log_context(job_id=record.id, job_type=record.type):
            log.info(
                "worker %s: claimed job %s (%s), attempt %s", self.id, record.id, record.type, record.attempts
            )
            started = time.monotonic()
            outcome = await self._execute(record)
            metrics = self.otvet.metrics
            metrics.job_runs.labels(record.type, outcome).inc()
            metrics.job_duration.labels(record.type).observe(time.monotonic() - started)
        return await self.otvet.store.get_job(record.id)

    async def _execute(self, record: JobRecord) -> str:
        """Run ``record``'s handler to its end; returns succeeded, retried, failed, released or cancelled."""
        store = self.otvet.store
        job = JobContext(record)
        handler = asyncio.create_task(self.handlers[record.type](self.otvet, job))
        beats = asyncio.create_task(self._heartbeats(job, handler))
        abandon = asyncio.create_task(self._abandon.wait())
        try:
            await asyncio.wait({handler, abandon}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            abandon.cancel()
            beats.cancel()
            await asyncio.gather(beats, abandon, return_exceptions=True)
        if not handler.done():  # stopping (SIGTERM) and out of grace: give the job back for another worker
            handler.cancel()
            await asyncio.gather(handler, return_exceptions=True)
            if await store.release_job(record.id, self.id):
                log.warning("worker %s: stopped; job %s is queued again", self.id, record.id)
            return "released"
        if handler.cancelled():
            return await self._lost(record)
        error = handler.exception()
        if error is None:
            if await store.finish_job(record.id, self.id, handler.result()):
                log.info("worker %s: job %s succeeded: %s", self.id, record.id, handler.result())
            else:
                log.warning("worker %s: job %s finished, but it was no longer ours", self.id, record.id)
            return "succeeded"
        message = f"{type(error).__name__}: {error}"
        if record.attempts < self.max_attempts:
            delay = self.retry.delay(record.attempts)
            retry_at = _utcnow() + timedelta(seconds=delay)
            log.warning(
                "worker %s: job %s failed (%s); retrying in %.0f s", self.id, record.id, message, delay
            )
        else:
            retry_at = None
            log.error(
                "worker %s: job %s failed for good after %s attempts: %s",
                *(self.id, record.id, record.attempts, message),
                exc_info=error,
            )
        await store.fail_job(record.id, self.id, message, retry_at)
        return "retried" if retry_at is not None else "failed"

    async def _lost(self, record: JobRecord) -> str:
        """The handler was stopped because a heartbeat was refused: cancelled, or taken over."""
        current = await self.otvet.store.get_job(record.id)
        if current is not None and current.cancel_requested and current.locked_by == self.id:
            await self.otvet.store.release_job(record.id, self.id, cancelled=True)
            log.info("worker %s: job %s cancelled", self.id, record.id)
            return "cancelled"
        log.warning("worker %s: job %s was taken over by another worker; stopped", self.id, record.id)
        return "released"

    async def _heartbeats(self, job: JobContext, handler: asyncio.Task[Any]) -> None:
        """Extend the lease every third of it, sooner on progress; stop the handler when refused."""
        interval = self.lease_seconds / 3
        while not handler.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job._changed.wait(), interval)
            job._changed.clear()
            try:
                kept = await self.otvet.store.heartbeat_job(
                    job.id, self.id, self.lease_seconds, job.fraction, job.message
                )
            except DatabaseUnavailable:
                continue  # the lease may lapse; another worker (or this one) runs the job again later
            except Exception:
                log.warning("worker %s: heartbeat of job %s failed", self.id, job.id, exc_info=True)
                continue
            if not kept:
                handler.cancel()
                return
            if job.message:
                log.info("worker %s: job %s at %.0f%%: %s", self.id, job.id, job.fraction * 100, job.message)
            # Progress may change often: at most a few writes a second.
            await asyncio.sleep(min(0.5, interval))


def _utcnow() -> datetime:
    return datetime.now(UTC)
