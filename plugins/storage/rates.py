"""Rate-limit counters every replica shares (core/limits.py decides; this counts): one row per key and
fixed window, counted up by one statement that checks and counts, so two processes never both take the
last allowed hit."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from otvet.plugins.storage.models import RateWindow
from otvet.plugins.storage.turns import placeholders

_QUERIES: dict[type[BaseDBAsyncClient], dict[str, str]] = {}


def _db() -> BaseDBAsyncClient:
    return RateWindow._meta.db  # type: ignore[no-any-return]


def _queries(db: BaseDBAsyncClient) -> dict[str, str]:
    found = _QUERIES.get(type(db))
    if found is not None:
        return found
    p = placeholders(db, RateWindow, 4)
    table = f'"{RateWindow._meta.db_table}"'
    found = _QUERIES[type(db)] = {
        # Counted only while the window holds fewer than the allowed hits: the row's lock (PostgreSQL) or
        # the one writer (SQLite) makes the check and the count one step.
        "hit": (
            f'INSERT INTO {table} ("key", "start", "expires", "hits") VALUES ({p[0]}, {p[1]}, {p[2]}, 1)'
            f' ON CONFLICT ("key", "start") DO UPDATE SET "hits" = {table}."hits" + 1'
            f' WHERE {table}."hits" < {p[3]} RETURNING "hits"'
        ),
        "windows": f'SELECT "start", "hits" FROM {table} WHERE "key" = {p[0]} AND "start" >= {p[1]}',
        "forget": f'DELETE FROM {table} WHERE "expires" < {p[0]}',
    }
    return found


async def count_hit(key: str, start: int, expires: int, allowed: int) -> int | None:
    """Count one hit of ``key`` in the window starting at ``start`` if the window holds fewer than
    ``allowed``; the window's new count, or None when it is full (nothing counted)."""
    if allowed <= 0:
        return None
    db = _db()
    # The dict variant fetches rows whatever the statement: the plain one only counts an INSERT's rows.
    rows = await db.execute_query_dict(_queries(db)["hit"], [key, start, expires, allowed])
    return int(rows[0]["hits"]) if rows else None


async def window_hits(key: str, since: int) -> dict[int, int]:
    """The hits of ``key`` in each window starting at or after ``since``, by window start."""
    db = _db()
    _, rows = await db.execute_query(_queries(db)["windows"], [key, since])
    return {int(row[0]): int(row[1]) for row in rows}


async def forget(before: int) -> int:
    """Drop the windows no limit needs any more (``expires`` before ``before``); how many."""
    db = _db()
    count, _ = await db.execute_query(_queries(db)["forget"], [before])
    return int(count)
