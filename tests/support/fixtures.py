"""Database fixtures: every test that asks for ``db_url`` runs once on SQLite and once on PostgreSQL.

Loaded by ``tests/conftest.py`` (``pytest_plugins = ["tests.support.fixtures"]``).

- ``db_url``: a database of the test's own, with Otvet's migrations applied and no rows. Migrating takes
  Tortoise ~0.2 s of CPU, so each session migrates one template per database kind and tests get copies: a
  file copy on SQLite; on PostgreSQL a ``CREATE DATABASE ... TEMPLATE`` (~0.2 s), which goes back to a pool
  after the test, emptied by TRUNCATE (~0.03 s), unless the test changed its schema.
- ``empty_db_url``: a fresh database with no tables at all, for tests of the migrations themselves.
- ``postgres_cluster``: the session's PostgreSQL server: ``OTVET_TEST_POSTGRES_URL`` (a superuser or CREATEDB
  role; databases are created next to the one it names) or else a throwaway cluster started from the local
  server binaries. Without either, PostgreSQL runs are skipped, unless ``OTVET_TEST_REQUIRE_POSTGRES=1``
  (set it in CI) turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otvet.config.settings import Settings
from tests.support.postgres import PostgresCluster, PostgresServer, find_bindir

POSTGRES_URL_ENV = "OTVET_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "OTVET_TEST_REQUIRE_POSTGRES"


@dataclass
class StoreHost:
    """What a store factory reads of :class:`~otvet.core.app.Otvet`, without the plugins (so no model apps
    beyond Otvet's own)."""

    settings: Settings
    pm: Any = None


def store_host(database_url: str, data_dir: Path | None = None) -> Any:
    """What ``TortoiseStore(...)`` needs, for tests that must not depend on the other default plugins."""
    values: dict[str, Any] = {"database_url": database_url, "plugins": []}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return StoreHost(Settings(_env_file=None, **values))  # type: ignore[call-arg]


# --- PostgreSQL ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server; without one, skips (fails if OTVET_TEST_REQUIRE_POSTGRES=1)."""
    external = os.environ.get(POSTGRES_URL_ENV)
    if external:
        yield PostgresServer(external)
        return
    if find_bindir() is None:
        message = "PostgreSQL server binaries not found (install postgresql or set OTVET_TEST_POSTGRES_URL)"
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    cluster = PostgresCluster()
    server = cluster.start()
    try:
        yield server
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``: database tests run once per kind (``-m "not postgres"``: SQLite only)."""
    return str(request.param)


@pytest.fixture
def _db_server(db_kind: str, request: pytest.FixtureRequest) -> PostgresServer | None:
    # Only PostgreSQL runs start (or skip on) the cluster; SQLite runs never touch it.
    return request.getfixturevalue("postgres_cluster") if db_kind == "postgres" else None


# --- fresh databases from per-session templates ------------------------------------------------------------


class TestDatabases:
    """Hands out fresh databases; builds each kind's migrated template on first use.

    On PostgreSQL a migrated database goes back to a pool after its test, emptied (TRUNCATE, ~30 ms) rather
    than dropped and created again (~200 ms), unless its schema no longer matches the template's.
    """

    __test__ = False  # not a test class, despite the name

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sqlite_template: Path | None = None
        self._templates: dict[tuple[str, bool], str] = {}
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._pool: dict[str, list[str]] = {}
        self._servers: dict[str, PostgresServer] = {}

    @contextlib.asynccontextmanager
    async def fresh(
        self, kind: str, server: PostgresServer | None, workdir: Path, *, migrated: bool
    ) -> AsyncIterator[str]:
        if kind == "sqlite":
            yield await self._fresh_sqlite(workdir, migrated)
            return
        assert server is not None
        template = await self._postgres_template(server, migrated)
        pool = self._pool.setdefault(server.url, []) if migrated else []
        name = pool.pop() if pool else f"otvet_test_{uuid.uuid4().hex[:12]}"
        if name not in self._servers:
            await server.create_database(name, template=template)
            self._servers[name] = server
        try:
            yield server.database_url(name)
        finally:
            if migrated and await server.schema_signature(name) == self._signatures[template]:
                await server.empty_tables(name)
                pool.append(name)
            else:
                await server.drop_database(name)
                del self._servers[name]

    async def _fresh_sqlite(self, workdir: Path, migrated: bool) -> str:
        path = workdir / "db" / "otvet.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        if migrated:
            if self._sqlite_template is None:
                template = self.root / "template.db"
                await _migrate(f"sqlite:///{template}")
                self._sqlite_template = template
            shutil.copyfile(self._sqlite_template, path)
        return f"sqlite:///{path}"

    async def _postgres_template(self, server: PostgresServer, migrated: bool) -> str:
        key = (server.url, migrated)
        if key not in self._templates:
            name = f"otvet_template_{'migrated' if migrated else 'empty'}_{uuid.uuid4().hex[:8]}"
            await server.create_database(name)
            self._servers[name] = server
            if migrated:
                await _migrate(server.database_url(name))
            self._signatures[name] = await server.schema_signature(name)
            self._templates[key] = name
        return self._templates[key]

    def drop_all(self) -> None:
        """Drop the templates and pooled databases (on an external server: a throwaway one goes anyway)."""
        for name, server in self._servers.items():
            with contextlib.suppress(Exception):
                asyncio.run(server.drop_database(name))


@pytest.fixture(scope="session")
def _test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabases]:
    databases = TestDatabases(tmp_path_factory.mktemp("db-templates"))
    try:
        yield databases
    finally:
        if os.environ.get(POSTGRES_URL_ENV):
            databases.drop_all()


@pytest.fixture
async def db_url(
    db_kind: str, _db_server: PostgresServer | None, _test_databases: TestDatabases, tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh database for this test alone, with Otvet's migrations applied; once per database kind."""
    async with _test_databases.fresh(db_kind, _db_server, tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
async def empty_db_url(
    db_kind: str, _db_server: PostgresServer | None, _test_databases: TestDatabases, tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh database with no tables (for migration tests); once per database kind."""
    async with _test_databases.fresh(db_kind, _db_server, tmp_path, migrated=False) as url:
        yield url


async def _migrate(url: str) -> None:
    from otvet.plugins.storage.store import TortoiseStore

    store = TortoiseStore(store_host(url))
    await store.connect()
    try:
        await store.migrate()
    finally:
        await store.close()
