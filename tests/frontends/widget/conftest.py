"""Fixtures for the widget: a started Otvet with its app on a loopback port, in the test's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from otvet.core.app import Otvet
from otvet.frontends.app import create_app
from otvet.frontends.widget.socket import WidgetHub
from tests.conftest import make_settings
from tests.support.loopback import LoopbackServer
from tests.support.providers import MockProvider


@dataclass
class Served:
    otvet: Otvet
    base: str
    http: httpx.AsyncClient

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws/chat"

    @property
    def origin(self) -> str:
        return self.base

    @property
    def hub(self) -> WidgetHub:
        hub = self.otvet.state["widget"]
        assert isinstance(hub, WidgetHub)
        return hub


ServeFactory = Callable[..., contextlib.AbstractAsyncContextManager[Served]]


@contextlib.asynccontextmanager
async def serve_widget(
    tmp_path: Path, database_url: str = "", provider: MockProvider | None = None, **overrides: Any
) -> AsyncIterator[Served]:
    """Otvet on ``database_url``: the demo knowledge base and the extractive answerer unless ``provider``."""
    overrides.setdefault("api", {"requests_per_minute": 0})
    if provider is None:
        overrides.setdefault("load_demo", True)
        overrides.setdefault("provider", "extractive")
    else:
        overrides["provider"] = "mock"
    otvet = Otvet(make_settings(tmp_path, database_url, **overrides))
    if provider is not None:
        otvet.providers.register("mock", lambda _otvet: provider, owner="tests")
    async with otvet:
        server = LoopbackServer(create_app(otvet), "the widget app")
        port = await server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as http:
                yield Served(otvet, base, http)
        finally:
            await server.stop()


@pytest.fixture
async def served(tmp_path: Path, db_url: str) -> AsyncIterator[Served]:
    """The widget on each database (SQLite and PostgreSQL), answering from the demo knowledge base."""
    async with serve_widget(tmp_path, db_url) as found:
        yield found


@pytest.fixture
def serve(tmp_path: Path, mock_provider: MockProvider) -> ServeFactory:
    """``async with serve(widget={...}) as s:`` on SQLite; ``mock=True`` answers with ``mock_provider``."""

    def factory(*, mock: bool = False, **overrides: Any) -> contextlib.AbstractAsyncContextManager[Served]:
        return serve_widget(tmp_path, "", mock_provider if mock else None, **overrides)

    return factory
