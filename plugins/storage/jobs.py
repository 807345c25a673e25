"""The job queue on ``otvet_job``: claiming with leases, heartbeats and conditional updates.

Exactly-once claiming rests on two things:

- PostgreSQL: the candidate row is read with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the claiming
  transaction, so concurrent claimers each lock a different row instead of queueing behind one another.
- Both databases: the claim itself is a compare-and-set. The ``UPDATE`` repeats the state the candidate was
  read in (status, ``attempts``, which every claim increments) and only a claim that changed exactly one row
  counts. On SQLite, which has no row locks, this is what makes claiming safe: SQLite lets one writer at a
  time commit (Tortoise also runs one process's SQLite transactions one after another), so when two workers
  pick the same candidate, the second one's ``UPDATE`` no longer matches it, or fails with "database is
  locked" and the worker simply polls again.

Every later change a worker makes (heartbeat, finish, fail, release) is conditional on ``locked_by`` still
being that worker and the job still ``running``: a worker that stalled past its lease, while another one took
the job over, cannot overwrite the new owner's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.functions import Count
from tortoise.timezone import now

from otvet.core.store import JobRecord, NotFound
from otvet.plugins.storage.browse import job_record
from otvet.plugins.storage.models import Job

#: How many candidates one claim looks at when others keep winning them (SQLite, several processes).
CLAIM_CANDIDATES = 5


async def enqueue(type: str, payload: dict[str, Any] | None) -> JobRecord:
    job = await Job.create(type=type, payload=dict(payload or {}), status="queued")
    return job_record(await Job.get(id=job.id))


async def claim(
    connection: BaseDBAsyncClient, worker_id: str, lease_seconds: float, types: Sequence[str] | None
) -> JobRecord | None:
    """Claim one job inside the caller's transaction on ``connection`` (see the module's docstring)."""
    at = now()
    # A running job whose worker died after a cancellation was asked for ends here: nobody will run it.
    await (
        Job.filter(status="running", cancel_requested=True, lease_until__lt=at)
        .using_db(connection)
        .update(status="cancelled", finished_at=at, lease_until=None)
    )
    due = Q(status="queued") & (Q(run_after__isnull=True) | Q(run_after__lte=at))
    abandoned = Q(status="running") & Q(lease_until__lt=at)
    query = Job.filter(due | abandoned)
    if types is not None:
        query = query.filter(type__in=list(types))
    if connection.capabilities.dialect == "postgres":
        # The row we lock is ours to update: one candidate is enough, and others skip it.
        query = query.order_by("id").limit(1).select_for_update(skip_locked=True)
    else:
        query = query.order_by("id").limit(CLAIM_CANDIDATES)
    query = query.using_db(connection)
    for candidate in await query:
        claimed = await (
            Job.filter(id=candidate.id, status=candidate.status, attempts=candidate.attempts)
            .using_db(connection)
            .update(
                status="running",
                locked_by=worker_id,
                lease_until=at + timedelta(seconds=lease_seconds),
                started_at=at,
                run_after=None,
                attempts=F("attempts") + 1,
            )
        )
        if claimed == 1:
            return job_record(await Job.filter(id=candidate.id).using_db(connection).get())
    return None


def _owned(job_id: int, worker_id: str) -> Any:
    return Job.filter(id=job_id, locked_by=worker_id, status="running")


async def heartbeat(
    job_id: int, worker_id: str, lease_seconds: float, progress: float, message: str | None
) -> bool:
    changes: dict[str, Any] = {
        "lease_until": now() + timedelta(seconds=lease_seconds),
        "progress": min(1.0, max(0.0, progress)),
    }
    if message is not None:
        changes["message"] = message
    return await _owned(job_id, worker_id).filter(cancel_requested=False).update(**changes) == 1


async def finish(job_id: int, worker_id: str, result: dict[str, Any] | None) -> bool:
    changes: dict[str, Any] = {}
    if result and isinstance(result.get("message"), str):
        # The outcome in words ("version 7 promoted", "not promoted: ...") is the job's last message.
        changes["message"] = result["message"]
    changed = await _owned(job_id, worker_id).update(
        status="succeeded",
        progress=1.0,
        result=result,
        finished_at=now(),
        lease_until=None,
        error=None,
        **changes,
    )
    return changed == 1


async def fail(job_id: int, worker_id: str, error: str, retry_at: datetime | None) -> bool:
    if retry_at is None:
        changes: dict[str, Any] = {"status": "failed", "finished_at": now()}
    else:
        changes = {"status": "queued", "run_after": retry_at, "locked_by": None}
    return await _owned(job_id, worker_id).update(error=error, lease_until=None, **changes) == 1


async def release(job_id: int, worker_id: str, cancelled: bool) -> bool:
    if cancelled:
        changes: dict[str, Any] = {"status": "cancelled", "finished_at": now()}
    else:
        # Stopped, not failed: the run does not count against the job's attempts.
        changes = {"status": "queued", "locked_by": None, "attempts": F("attempts") - 1}
    return await _owned(job_id, worker_id).update(lease_until=None, **changes) == 1


async def cancel(job_id: int) -> JobRecord:
    at = now()
    await Job.filter(id=job_id, status="queued").update(status="cancelled", finished_at=at)
    # A running job stops at its worker's next heartbeat; a dead worker's job is cancelled at once.
    await Job.filter(id=job_id, status="running").update(cancel_requested=True)
    await Job.filter(id=job_id, status="running", lease_until__lt=at).update(
        status="cancelled", finished_at=at, lease_until=None
    )
    job = await Job.get_or_none(id=job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job_record(job)


async def count_unfinished() -> dict[tuple[str, str], int]:
    """Queued and running jobs by (type, status), in one grouped query: read at every metrics scrape."""
    rows = (
        await Job.filter(status__in=["queued", "running"])
        .annotate(n=Count("id"))
        .group_by("type", "status")
        .values("type", "status", "n")
    )
    return {(row["type"], row["status"]): int(row["n"]) for row in rows}
