"""The daily activity the admin overview reads (``Store.record_activity``, ``Store.activity``).

Every finished turn adds to its UTC day's row for its channel, provider and model, and to one answer-time
bucket; every rating to its day's row for the rater's channel. An upsert (``INSERT ... ON CONFLICT DO
UPDATE``, which SQLite and PostgreSQL both speak) makes each addition one atomic statement, so replicas
counting the same day at once never lose a count. Reading any period then sums at most a few rows a day,
whatever the number of messages stored.

``backfill`` builds the same counts from the messages already stored, when the tables are created.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from otvet.core.store import (
    LATENCY_BUCKETS_MS,
    ActivityReport,
    ActivityRow,
    LatencyCount,
    TurnActivity,
    latency_bucket,
)
from otvet.plugins.storage.models import Activity, AnswerTimes, Conversation, Feedback, Message, User
from otvet.plugins.storage.turns import placeholders

ACTIVITY = f'"{Activity._meta.db_table}"'
TIMES = f'"{AnswerTimes._meta.db_table}"'
#: The counts migration 0009 created the table with, which ``backfill`` (run by that migration) writes.
BACKFILLED = (
    "answered",
    "unknown",
    "failed",
    "refused",
    "thumbs_up",
    "thumbs_down",
    "prompt_tokens",
    "completion_tokens",
)
#: Every count, in ActivityRow's order; ``audio_seconds`` came with migration 0010.
COUNTS = (*BACKFILLED, "audio_seconds")
KEY = ("day", "channel", "provider", "model")


def day_of(moment: datetime) -> str:
    """The UTC day of ``moment`` (a naive one is taken as UTC), as ``YYYY-MM-DD``."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.date().isoformat()


def _upserts(db: BaseDBAsyncClient, counts: tuple[str, ...]) -> tuple[str, str]:
    columns = KEY + counts
    p = placeholders(db, Activity, len(columns))
    # Identifiers are ours; every value is a parameter.
    activity = (
        f"INSERT INTO {ACTIVITY} ({', '.join(columns)}) VALUES ({', '.join(p)})"
        f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
        + ", ".join(f"{c} = {ACTIVITY}.{c} + excluded.{c}" for c in counts)
    )
    q = placeholders(db, AnswerTimes, 4)
    times = (
        f"INSERT INTO {TIMES} (day, channel, bucket_ms, count) VALUES ({', '.join(q)})"
        f" ON CONFLICT (day, channel, bucket_ms) DO UPDATE SET count = {TIMES}.count + excluded.count"
    )
    return activity, times


async def add(
    db: BaseDBAsyncClient,
    rows: Sequence[ActivityRow],
    times: Sequence[LatencyCount] = (),
    counts: tuple[str, ...] = COUNTS,
) -> None:
    """Add ``rows`` and ``times`` to the stored counts (rows with the same key add up); ``counts``: the
    columns written, all unless the table is still an older migration's."""
    activity_sql, times_sql = _upserts(db, counts)
    if rows:
        values = [[getattr(row, c) for c in KEY + counts] for row in rows]
        await db.execute_many(activity_sql, values)
    if times:
        await db.execute_many(times_sql, [[t.day, t.channel, t.bucket_ms, t.count] for t in times])


def turn_rows(turn: TurnActivity) -> tuple[ActivityRow, LatencyCount | None]:
    """What one finished turn adds."""
    day = day_of(turn.at)
    row = ActivityRow(
        day,
        turn.channel,
        turn.provider,
        turn.model,
        prompt_tokens=turn.prompt_tokens,
        completion_tokens=turn.completion_tokens,
        audio_seconds=turn.audio_seconds,
        **({turn.outcome: 1} if turn.outcome else {}),
    )
    if turn.latency_ms is None:
        return row, None
    return row, LatencyCount(day, turn.channel, latency_bucket(max(turn.latency_ms, 0)), 1)


async def record(db: BaseDBAsyncClient, turn: TurnActivity) -> None:
    row, time = turn_rows(turn)
    await add(db, [row], [time] if time else [])


async def record_rating(db: BaseDBAsyncClient, rated_at: datetime, user_id: int, up: int, down: int) -> None:
    """Count a change of rating (+1/-1 on each side) on the day it was first given, in the rater's channel."""
    if not up and not down:
        return
    channel = await User.filter(id=user_id).first().values_list("channel", flat=True)
    row = ActivityRow(day_of(rated_at), str(channel or ""), "", "", thumbs_up=up, thumbs_down=down)
    await add(db, [row])


async def report(since: date, until: date) -> ActivityReport:
    first, last = since.isoformat(), until.isoformat()
    rows = await Activity.filter(day__gte=first, day__lte=last).values_list(*KEY, *COUNTS)
    times = await AnswerTimes.filter(day__gte=first, day__lte=last).values_list(
        "day", "channel", "bucket_ms", "count"
    )
    return ActivityReport(
        rows=[ActivityRow(*row) for row in sorted(rows)],
        latency=[LatencyCount(*row) for row in sorted(times)],
    )


# --- building the counts from stored messages -----------------------------------------------------------


def _bucket_sql(column: str) -> str:
    whens = " ".join(f"WHEN {column} <= {bound} THEN {bound}" for bound in LATENCY_BUCKETS_MS[:-1])
    return f"CASE {whens} ELSE {LATENCY_BUCKETS_MS[-1]} END"


async def backfill(db: BaseDBAsyncClient) -> int:
    """Count every stored message and rating into the (empty) activity tables; how many rows it made.

    Answers count as answered when they cite a source, "I don't know" otherwise; failed and interrupted
    questions as failed, rejected ones as refused. The model is not stored with messages, so backfilled
    rows have none.
    """
    postgres = db.capabilities.dialect == "postgres"
    message, conversation, user = (m._meta.db_table for m in (Message, Conversation, User))

    def day(column: str) -> str:
        if postgres:
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return f"substr({column}, 1, 10)"  # SQLite keeps UTC ISO text

    cited = "jsonb_array_length(m.sources) > 0" if postgres else "json_array_length(m.sources) > 0"
    joined = (
        f"FROM {message} m JOIN {conversation} c ON c.id = m.conversation_id"
        f" JOIN {user} u ON u.id = c.user_id"
    )
    _, found = await db.execute_query(
        f"SELECT {day('m.created_at')} AS d, u.channel, coalesce(m.provider, '') AS p,"
        f" SUM(CASE WHEN m.role = 'assistant' AND m.status = 'ok' AND {cited} THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN m.role = 'assistant' AND m.status = 'ok' AND NOT ({cited}) THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN m.role = 'user' AND m.status IN ('failed', 'interrupted') THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN m.role = 'user' AND m.status = 'rejected' THEN 1 ELSE 0 END),"
        " SUM(m.prompt_tokens), SUM(m.completion_tokens)"
        f" {joined} GROUP BY d, u.channel, p"
    )
    rows = [
        ActivityRow(
            str(d),
            str(channel),
            str(p),
            "",
            *(int(v or 0) for v in counts[:4]),
            0,
            0,
            *(int(v or 0) for v in counts[4:]),
        )
        for d, channel, p, *counts in found
    ]
    _, ratings = await db.execute_query(
        f"SELECT {day('f.created_at')} AS d, u.channel, SUM(CASE WHEN f.value > 0 THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN f.value < 0 THEN 1 ELSE 0 END) FROM {Feedback._meta.db_table} f"
        f" JOIN {user} u ON u.id = f.user_id GROUP BY d, u.channel"
    )
    rows += [
        ActivityRow(str(d), str(ch), "", "", thumbs_up=int(up), thumbs_down=int(down))
        for d, ch, up, down in ratings
    ]
    _, buckets = await db.execute_query(
        f"SELECT {day('m.created_at')} AS d, u.channel, {_bucket_sql('m.latency_ms')} AS b, COUNT(*)"
        f" {joined} WHERE m.role = 'assistant' AND m.status = 'ok' AND m.latency_ms IS NOT NULL"
        " GROUP BY d, u.channel, b"
    )
    times = [LatencyCount(str(d), str(ch), int(b), int(n)) for d, ch, b, n in buckets]
    # The table as migration 0009 made it: no audio column yet (and no voice question stored before it).
    await add(db, rows, times, BACKFILLED)
    return len(rows) + len(times)
