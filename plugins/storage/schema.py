"""Applying migrations on an open connection, and comparing the models with the migrations on disk.

Tortoise's ``tortoise.migrations.api.migrate()`` calls ``Tortoise.init`` itself, which re-initialises (and
closes the connections of) whatever context the calling task has, and connects anew — for
``sqlite://:memory:`` that is a different, empty database. So the store drives ``MigrationExecutor`` directly,
on the connection it already holds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from tortoise.apps import Apps
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor

log = logging.getLogger(__name__)

#: Key of the PostgreSQL advisory lock that keeps two processes from migrating the same database at once.
MIGRATION_LOCK_KEY = 0x6F7476_6D6967  # "otv" "mig"


async def apply_migrations(
    connection: BaseDBAsyncClient, apps_config: Mapping[str, dict[str, Any]]
) -> list[str]:
    """Apply every pending migration of the apps in ``apps_config``; return ``app.name`` of each, in order.

    Only forwards: a database that is ahead of the code (a rolled-back deploy) is left alone rather than
    migrated down, which would drop data.
    """
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")
            log.info("applied migration %s.%s", app_label, name)

    executor = MigrationExecutor(connection, dict(apps_config))
    async with _migration_lock(connection):
        await executor.migrate(direction="forward", progress=progress)
    return applied


async def unmigrated_changes(apps: Apps, apps_config: Mapping[str, dict[str, Any]]) -> list[str]:
    """Describe the model changes no migration covers yet (empty when models and migrations agree)."""
    detector = MigrationAutodetector(apps, {k: v for k, v in apps_config.items() if v.get("migrations")})
    return [
        f"{writer.app_label}: {operation.describe()}"
        for writer in await detector.changes()
        for operation in writer.operations
    ]


@contextlib.asynccontextmanager
async def _migration_lock(connection: BaseDBAsyncClient) -> AsyncIterator[None]:
    """Hold a PostgreSQL session lock while migrating, so replicas starting together migrate one at a time.

    SQLite needs nothing: it serves one machine, where ``otvet migrate`` or the first process to start wins.
    """
    async with advisory_lock(connection, MIGRATION_LOCK_KEY):
        yield


@contextlib.asynccontextmanager
async def advisory_lock(connection: BaseDBAsyncClient, key: int) -> AsyncIterator[None]:
    """Hold PostgreSQL's session-level advisory lock ``key`` for the block (nothing on other databases)."""
    if connection.capabilities.dialect != "postgres" or "asyncpg" not in type(connection).__module__:
        yield
        return
    # A dedicated pooled connection holds the lock; the block runs its queries on other ones.
    async with connection.acquire_connection() as raw:
        await raw.execute("SELECT pg_advisory_lock($1)", key)
        try:
            yield
        finally:
            try:
                await raw.execute("SELECT pg_advisory_unlock($1)", key)
            except BaseException:
                # Not unlocked (cancelled, a lost connection): the pool does not reset sessions
                # (config.keep_session), so end this one; the server then drops its locks.
                raw.terminate()
                raise


async def transaction_locks(connection: BaseDBAsyncClient, keys: Sequence[int]) -> None:
    """Take PostgreSQL's transaction-level advisory locks ``keys`` in ``connection``'s transaction: held until
    it commits or rolls back, whatever happens to the task (nothing on other databases)."""
    if connection.capabilities.dialect != "postgres" or "asyncpg" not in type(connection).__module__:
        return
    ordered = sorted(set(keys))  # one order everywhere: two blocks never wait on each other's second lock
    if ordered:
        locks = ", ".join(f"pg_advisory_xact_lock(${n})" for n in range(1, len(ordered) + 1))
        await connection.execute_query(f"SELECT {locks}", ordered)


def lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for ``name`` (PostgreSQL's keys are bigint)."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(f"otvet:{name}".encode(), digest_size=8).digest(), "big") >> 1
