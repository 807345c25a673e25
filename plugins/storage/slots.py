"""Sliding-window limits every replica shares (``Store.take_slot``): one row per use, checked and used in
one transaction that holds each limit's advisory lock, so two replicas never both take a window's last slot.

Time is the database's own clock on PostgreSQL (replicas on different machines agree on it); SQLite serves
one machine, whose clock every process shares.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from otvet.plugins.storage import schema
from otvet.plugins.storage.models import SendSlot
from otvet.plugins.storage.turns import placeholders

if TYPE_CHECKING:
    from otvet.core.limits import SlotLimit

TABLE = f'"{SendSlot._meta.db_table}"'

#: PostgreSQL: every limit's wait, and the uses recorded when no limit has to wait, in one statement. A
#: window is full when it already holds ``count`` uses: its ``count``-th newest leaves the window at
#: ``at + seconds``.
PG_TAKE = f"""
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
windows AS (
    SELECT w.key, w.seconds, (
        SELECT s."at" FROM {TABLE} s WHERE s."key" = w.key AND s."at" > clock.now - w.seconds
        ORDER BY s."at" DESC OFFSET w.count - 1 LIMIT 1
    ) AS full_at, w.ord
    FROM unnest($1::varchar[], $2::int[], $3::float8[]) WITH ORDINALITY AS w(key, count, seconds, ord), clock
),
used AS (
    INSERT INTO {TABLE} ("key", "at")
    SELECT windows.key, clock.now FROM windows, clock
    WHERE NOT EXISTS (SELECT 1 FROM windows WHERE full_at IS NOT NULL)
)
SELECT coalesce(windows.full_at + windows.seconds - clock.now, 0.0) AS wait
FROM windows, clock ORDER BY windows.ord
"""

PG_FORGET = f"""DELETE FROM {TABLE} WHERE "at" < extract(epoch FROM clock_timestamp()) - $1"""


def _db() -> BaseDBAsyncClient:
    return SendSlot._meta.db  # type: ignore[no-any-return]


def _postgres(db: BaseDBAsyncClient) -> bool:
    return db.capabilities.dialect == "postgres"


async def take(connection_name: str, limits: Sequence[SlotLimit]) -> list[float]:
    """Use one slot of every limit if each has one free (``Store.take_slot``)."""
    if not limits:
        return []
    async with in_transaction(connection_name) as connection:
        await schema.transaction_locks(connection, [schema.lock_key(f"slot:{limit.key}") for limit in limits])
        if _postgres(connection):
            _, rows = await connection.execute_query(
                PG_TAKE,
                [
                    [limit.key for limit in limits],
                    [limit.count for limit in limits],
                    [float(limit.seconds) for limit in limits],
                ],
            )
            return [max(float(row[0]), 0.0) for row in rows]
        return await _take_sqlite(connection, limits)


async def _take_sqlite(connection: BaseDBAsyncClient, limits: Sequence[SlotLimit]) -> list[float]:
    # One writer at a time on SQLite, and this transaction holds the connection: the check and the use
    # cannot interleave with another's.
    p = placeholders(connection, SendSlot, 3)
    newest = (
        f'SELECT "at" FROM {TABLE} WHERE "key" = {p[0]} AND "at" > {p[1]}'
        f' ORDER BY "at" DESC LIMIT 1 OFFSET {p[2]}'
    )
    now = time.time()
    waits: list[float] = []
    for limit in limits:
        _, rows = await connection.execute_query(newest, [limit.key, now - limit.seconds, limit.count - 1])
        waits.append(max(float(rows[0][0]) + limit.seconds - now, 0.0) if rows else 0.0)
    if not any(waits):
        for limit in limits:
            await connection.execute_query(
                f'INSERT INTO {TABLE} ("key", "at") VALUES ({p[0]}, {p[1]})', [limit.key, now]
            )
    return waits


async def forget(older_than: float) -> int:
    """Drop the slots used more than ``older_than`` seconds ago; how many."""
    db = _db()
    if _postgres(db):
        count, _ = await db.execute_query(PG_FORGET, [older_than])
    else:
        p = placeholders(db, SendSlot, 1)
        before = time.time() - older_than
        count, _ = await db.execute_query(f'DELETE FROM {TABLE} WHERE "at" < {p[0]}', [before])
    return int(count)
