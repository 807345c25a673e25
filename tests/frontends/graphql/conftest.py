"""Fixtures for the GraphQL API: a started Otvet with its HTTP app in process and a key per scope."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from otvet.core.accounts import SCOPES
from otvet.core.app import Otvet
from otvet.frontends.app import create_app
from tests.conftest import make_settings
from tests.frontends.graphql.client import Api
from tests.support.loopback import LoopbackServer
from tests.support.providers import MockProvider

ApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


@contextlib.asynccontextmanager
async def serve_api(
    tmp_path: Path, provider: MockProvider, database_url: str = "", **overrides: Any
) -> AsyncIterator[Api]:
    """Otvet on ``database_url`` answering with ``provider``, its app behind an in-process httpx client.

    The per-key rate limit is off unless ``overrides`` set ``api``: tests send many requests quickly.
    """
    overrides.setdefault("api", {"requests_per_minute": 0})
    otvet = Otvet(make_settings(tmp_path, database_url, provider="mock", **overrides))
    otvet.providers.register("mock", lambda _otvet: provider, owner="tests")
    async with otvet:
        keys = {}
        for scope in SCOPES:
            keys[scope], _ = await otvet.accounts.create_api_key(f"{scope} key", [scope])
        app = create_app(otvet)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet.test") as client:
            yield Api(otvet, client, keys, app)


@pytest.fixture
async def api(tmp_path: Path, db_url: str, mock_provider: MockProvider) -> AsyncIterator[Api]:
    """The API on each database (SQLite and PostgreSQL)."""
    async with serve_api(tmp_path, mock_provider, db_url) as found:
        yield found


@pytest.fixture
async def sqlite_api(tmp_path: Path, mock_provider: MockProvider) -> AsyncIterator[Api]:
    """The API on SQLite only: for behaviour that does not depend on the database."""
    async with serve_api(tmp_path, mock_provider) as found:
        yield found


@pytest.fixture
def api_with(tmp_path: Path, mock_provider: MockProvider) -> ApiFactory:
    """``async with api_with(graphql={...}) as api:`` for an API with other settings (SQLite)."""

    def factory(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Api]:
        return serve_api(tmp_path, mock_provider, **overrides)

    return factory


@pytest.fixture
async def ws_url(sqlite_api: Api) -> AsyncIterator[str]:
    """``sqlite_api``'s app served on a loopback port (in this event loop), for WebSocket clients."""
    server = LoopbackServer(sqlite_api.app, "the GraphQL app")
    port = await server.start()
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        await server.stop()
