"""Usage queries over ``otvet_message``: the counts quotas check on every turn, and admins' usage reports.

Everything is aggregated in the database: a busy deployment stores millions of messages, and a quota check
runs before every answer. The per-user counts read the (user_id, created_at) index, everyone's counts the
(created_at) one.

Times are compared as the store writes them: Tortoise keeps UTC (``use_tz``, ``timezone="UTC"``), which
SQLite holds as ISO text, so every bound is turned into an aware UTC datetime first; text comparison of two
such values is then chronological.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum
from tortoise.queryset import QuerySet

from otvet.core.store import UsageRow
from otvet.plugins.storage.models import Message, User

GroupBy = Literal["user", "day", "provider"]

#: Label of the group of messages without a user (stored before the asker was recorded, or whose user was
#: deleted) or without a provider (questions, failures).
NO_USER = "(unknown user)"
NO_PROVIDER = "(no provider)"


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _questions(since: datetime, user_id: int | None) -> QuerySet[Message]:
    query = Message.filter(role="user", created_at__gte=utc(since)).exclude(status="rejected")
    return query if user_id is None else query.filter(user_id=user_id)


async def count_questions(since: datetime, user_id: int | None = None) -> int:
    return await _questions(since, user_id).count()


async def nth_question_time(since: datetime, n: int, user_id: int | None = None) -> datetime | None:
    if n < 0:
        raise ValueError(f"n counts from 0, not {n}")
    times = await _questions(since, user_id).order_by("created_at", "id").offset(n).limit(1)
    return utc(times[0].created_at) if times else None


async def tokens_used(since: datetime, user_id: int | None = None) -> int:
    query = Message.filter(created_at__gte=utc(since))
    if user_id is not None:
        query = query.filter(user_id=user_id)
    rows = await query.annotate(prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens")).values(
        "prompt", "completion"
    )
    if not rows:
        return 0
    return int(rows[0]["prompt"] or 0) + int(rows[0]["completion"] or 0)


async def audio_seconds_used(since: datetime, user_id: int) -> int:
    query = Message.filter(role="user", user_id=user_id, created_at__gte=utc(since), audio_seconds__gt=0)
    rows = await query.annotate(seconds=Sum("audio_seconds")).values("seconds")
    return int(rows[0]["seconds"] or 0) if rows else 0


async def usage_report(
    connection: BaseDBAsyncClient, since: datetime, until: datetime, group_by: GroupBy
) -> list[UsageRow]:
    """One row per user, UTC day or provider, for messages stored in ``[since, until)``.

    Users come first by tokens, then by questions; days in date order; providers by name.
    """
    postgres = connection.capabilities.dialect == "postgres"
    if group_by == "user":
        key = "user_id"
    elif group_by == "day":
        # SQLite keeps UTC ISO text, so the date is its first ten characters.
        key = "substr(created_at, 1, 10)"
        if postgres:
            key = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    elif group_by == "provider":
        key = "provider"
    else:
        raise ValueError(f"usage is grouped by user, day or provider, not {group_by!r}")
    executor = connection.executor_class(model=Message, db=connection)
    context = connection.query_class.SQL_CONTEXT
    start, end = (executor.parameter(i).get_sql(context) for i in range(2))
    # Identifiers and literals are ours; the two values are parameters.
    sql = (
        f"SELECT {key} AS grp,"
        " SUM(CASE WHEN role = 'user' AND status <> 'rejected' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN role = 'assistant' AND status = 'ok' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN role = 'user' AND status IN ('failed', 'interrupted') THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN role = 'user' AND status = 'rejected' THEN 1 ELSE 0 END),"
        " SUM(prompt_tokens), SUM(completion_tokens)"
        f" FROM {Message._meta.db_table}"
        f" WHERE created_at >= {start} AND created_at < {end}"
        " GROUP BY grp"
    )
    _, rows = await connection.execute_query(sql, [utc(since), utc(until)])
    counts = [(row[0], *(int(value or 0) for value in tuple(row)[1:])) for row in rows]
    if group_by == "user":
        labels = await _user_labels([row[0] for row in counts if row[0] is not None])
        report = [_row("" if g is None else str(g), labels.get(g, NO_USER), *rest) for g, *rest in counts]
        return sorted(report, key=lambda r: (-r.total_tokens, -r.questions, r.label))
    empty = NO_PROVIDER if group_by == "provider" else ""
    report = [_row(g or "", g or empty, *rest) for g, *rest in counts]
    return sorted(report, key=lambda r: r.key)


def _row(key: str, label: str, *counts: int) -> UsageRow:
    questions, answers, failed, rejected, prompt_tokens, completion_tokens = counts
    return UsageRow(key, label, questions, answers, failed, rejected, prompt_tokens, completion_tokens)


async def _user_labels(user_ids: list[int]) -> dict[int, str]:
    """``channel:external_id (display name)`` of each user, for reports."""
    labels: dict[int, str] = {}
    for start in range(0, len(user_ids), 500):  # far below SQLite's bound-parameter limit
        rows = await User.filter(id__in=user_ids[start : start + 500]).values_list(
            "id", "channel", "external_id", "display_name"
        )
        for user_id, channel, external_id, display_name in rows:
            label = f"{channel}:{external_id}"
            labels[user_id] = f"{label} ({display_name})" if display_name else label
    return labels
