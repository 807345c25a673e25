"""Read-only listings for the API: conversations, messages, feedback and jobs, a page at a time.

Filtering, ordering and the page limit run in the database (one query per page, keyset pagination by id),
so listing stays as fast on page 1,000 as on page 1 and never loads a table into the process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet, ValuesQuery

from otvet.core.store import ConversationSummary, FeedbackRecord, JobRecord, StoredMessage
from otvet.plugins.storage.models import Conversation, Feedback, Job, Message, User
from otvet.plugins.storage.records import stored_message
from otvet.plugins.storage.usage import utc

_CONVERSATION_FIELDS = (
    "id",
    "chat_id",
    "started_at",
    "closed_at",
    "user_id",
    "user__channel",
    "user__external_id",
    "user__display_name",
)
_FEEDBACK_FIELDS = (
    "id",
    "message_id",
    "message__conversation_id",
    "user_id",
    "user__channel",
    "user__external_id",
    "value",
    "comment",
    "created_at",
)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def _conversation(row: dict[str, Any]) -> ConversationSummary:
    return ConversationSummary(
        id=row["id"],
        chat_id=row["chat_id"],
        started_at=utc(row["started_at"]),
        closed_at=_aware(row["closed_at"]),
        user_id=row["user_id"],
        channel=row["user__channel"],
        external_id=row["user__external_id"],
        display_name=row["user__display_name"],
    )


def _period(
    query: QuerySet[Any], field: str, since: datetime | None, until: datetime | None
) -> QuerySet[Any]:
    if since is not None:
        query = query.filter(**{f"{field}__gte": utc(since)})
    if until is not None:
        query = query.filter(**{f"{field}__lt": utc(until)})
    return query


def _matchable(model: type[Any], field: str, value: str | None) -> bool:
    """Whether a filter's text could match ``model.field`` at all. A longer value than the column holds
    matches nothing, and must say so rather than fail: the ORM refuses to compare it (a length error)."""
    limit = getattr(model._meta.fields_map[field], "max_length", None)
    return value is None or limit is None or len(value) <= limit


def _casings(text: str) -> list[str]:
    """``text`` as typed, in lower case, upper case and capitalized. ``icontains`` compares upper-cased
    text, and SQLite's UPPER (PostgreSQL's too under the C locale) changes ASCII letters only: these
    casings let a search in Cyrillic find the usual spellings all the same."""
    return sorted({text, text.lower(), text.upper(), text[:1].upper() + text[1:].lower()})


def _mentioning(text: str) -> ValuesQuery[Any]:
    """The ids of conversations with a message containing ``text`` (wildcards escaped by Tortoise)."""
    containing = Q(*(Q(text__icontains=casing) for casing in _casings(text)), join_type="OR")
    return Message.filter(containing).values("conversation_id")


def _rated(rating: int) -> ValuesQuery[Any]:
    """The ids of conversations holding an answer someone rated ``rating``."""
    if rating not in (-1, 1):
        raise ValueError(f"a rating is 1 or -1, not {rating!r}")
    return Message.filter(feedback__value=rating).values("conversation_id")


async def list_conversations(
    *,
    channel: str | None,
    user_id: int | None,
    external_id: str | None,
    since: datetime | None,
    until: datetime | None,
    text: str | None,
    rating: int | None,
    before_id: int | None,
    limit: int,
) -> list[ConversationSummary]:
    rated = None if rating is None else _rated(rating)  # a wrong rating fails, whatever else matches
    if not (_matchable(User, "channel", channel) and _matchable(User, "external_id", external_id)):
        return []
    query = _period(Conversation.all(), "started_at", since, until)
    if channel is not None:
        query = query.filter(user__channel=channel)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    if external_id is not None:
        query = query.filter(user__external_id=external_id)
    if text:
        query = query.filter(id__in=Subquery(_mentioning(text)))
    if rated is not None:
        query = query.filter(id__in=Subquery(rated))
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    rows = await query.order_by("-id").limit(limit).values(*_CONVERSATION_FIELDS)
    return [_conversation(row) for row in rows]


async def get_conversation(conversation_id: int) -> ConversationSummary | None:
    rows = await Conversation.filter(id=conversation_id).values(*_CONVERSATION_FIELDS)
    return _conversation(rows[0]) if rows else None


async def message_page(conversation_id: int, after_id: int | None, limit: int) -> list[StoredMessage]:
    query = Message.filter(conversation_id=conversation_id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return [stored_message(row) for row in await query.order_by("id").limit(limit)]


async def get_message(message_id: int) -> StoredMessage | None:
    row = await Message.get_or_none(id=message_id)
    return None if row is None else stored_message(row)


async def list_feedback(
    *,
    value: int | None,
    conversation_id: int | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[FeedbackRecord]:
    query = _period(Feedback.all(), "created_at", since, until)
    if value is not None:
        query = query.filter(value=value)
    if conversation_id is not None:
        query = query.filter(message__conversation_id=conversation_id)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    rows = await query.order_by("-id").limit(limit).values(*_FEEDBACK_FIELDS)
    return [
        FeedbackRecord(
            id=row["id"],
            message_id=row["message_id"],
            conversation_id=row["message__conversation_id"],
            user_id=row["user_id"],
            channel=row["user__channel"],
            external_id=row["user__external_id"],
            value=row["value"],
            comment=row["comment"],
            created_at=utc(row["created_at"]),
        )
        for row in rows
    ]


def job_record(job: Job) -> JobRecord:
    return JobRecord(
        id=job.id,
        type=job.type,
        status=job.status,
        payload=dict(job.payload or {}),
        progress=float(job.progress),
        error=job.error,
        attempts=job.attempts,
        created_at=utc(job.created_at),
        started_at=_aware(job.started_at),
        finished_at=_aware(job.finished_at),
        result=None if job.result is None else dict(job.result),
        message=job.message,
        locked_by=job.locked_by,
        lease_until=_aware(job.lease_until),
        run_after=_aware(job.run_after),
        cancel_requested=bool(job.cancel_requested),
    )


async def list_jobs(status: str | None, before_id: int | None, limit: int) -> list[JobRecord]:
    if not _matchable(Job, "status", status):
        return []
    query = Job.all()
    if status is not None:
        query = query.filter(status=status)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return [job_record(job) for job in await query.order_by("-id").limit(limit)]


async def get_job(job_id: int) -> JobRecord | None:
    job = await Job.get_or_none(id=job_id)
    return None if job is None else job_record(job)
