"""The webhook inbox on ``otvet_inbox``: storing acknowledged updates, claiming them with leases, finishing.

Claiming follows the job queue (jobs.py): on PostgreSQL the due rows are locked with ``FOR UPDATE SKIP
LOCKED`` inside the claiming transaction, so replicas claiming at once each take different updates; on SQLite
each candidate is claimed by a compare-and-set on its status and attempts. Every later change (renewing the
lease, finishing, postponing) is conditional on ``locked_by`` still being the claimer: a replica that stalled
past its lease, while another one took the update over, cannot mark the other's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.timezone import now

from otvet.core.store import InboxItem
from otvet.plugins.storage import turns
from otvet.plugins.storage.models import InboxEntry

#: Statuses of an update not handled yet: waiting, or claimed by a replica (perhaps a dead one).
OPEN = ("pending", "processing")


async def add(channel: str, key: str, payload: str, owner: str | None, lease_seconds: float) -> int | None:
    """Store an update, claimed by ``owner`` already when given; its id, or None when the channel sent it
    before (a resend after a lost acknowledgement). One INSERT: this runs for every update."""
    at = now()
    claimed = {"status": "processing", "locked_by": owner, "attempts": 1} if owner else {}
    try:
        return await turns.insert(
            InboxEntry,
            channel=channel,
            key=key,
            payload=payload,
            due_at=at + timedelta(seconds=lease_seconds) if owner else at,
            **claimed,
        )
    except IntegrityError:  # the unique (channel, key): a resend
        return None


async def claim(
    connection: BaseDBAsyncClient, channel: str, owner: str, limit: int, lease_seconds: float
) -> list[InboxItem]:
    """Claim up to ``limit`` due updates, oldest first, inside the caller's transaction on ``connection``."""
    at = now()
    query = (
        InboxEntry.filter(channel=channel, status__in=OPEN, due_at__lte=at)
        .order_by("id")
        .limit(limit)
        .using_db(connection)
    )
    postgres = connection.capabilities.dialect == "postgres"
    if postgres:
        query = query.select_for_update(skip_locked=True)
    lease_until = at + timedelta(seconds=lease_seconds)
    claimed: list[InboxItem] = []
    for candidate in await query:
        match = InboxEntry.filter(id=candidate.id)
        if not postgres:  # no row lock on SQLite: the row must still be as it was read
            match = match.filter(status=candidate.status, attempts=candidate.attempts)
        changed = await match.using_db(connection).update(
            status="processing", locked_by=owner, due_at=lease_until, attempts=F("attempts") + 1
        )
        if changed == 1:
            claimed.append(
                InboxItem(candidate.id, channel, candidate.key, candidate.payload, candidate.attempts + 1)
            )
    return claimed


def _owned(ids: Sequence[int], owner: str) -> Q:
    return Q(id__in=list(ids), locked_by=owner, status="processing")


async def renew(ids: Sequence[int], owner: str, lease_seconds: float) -> int:
    """Push the lease of ``owner``'s updates forward; the number still ``owner``'s."""
    if not ids:
        return 0
    return await InboxEntry.filter(_owned(ids, owner)).update(due_at=now() + timedelta(seconds=lease_seconds))


async def finish(entry_id: int, owner: str, error: str | None) -> bool:
    """Mark an update handled (``done``), or given up (``failed``) with ``error``."""
    changed = await InboxEntry.filter(_owned([entry_id], owner)).update(
        status="done" if error is None else "failed", locked_by=None, finished_at=now(), error=error
    )
    return changed == 1


async def postpone(entry_id: int, owner: str, until: datetime) -> bool:
    """Give an update back to be handled again at ``until`` (by any replica)."""
    changed = await InboxEntry.filter(_owned([entry_id], owner)).update(
        status="pending", locked_by=None, due_at=until
    )
    return changed == 1


async def forget(before: datetime) -> int:
    """Delete updates handled (or given up) before ``before``."""
    return await InboxEntry.filter(status__in=("done", "failed"), finished_at__lt=before).delete()


async def backlog(channel: str) -> int:
    """Updates not handled yet."""
    return await InboxEntry.filter(channel=channel, status__in=OPEN).count()
