"""Shared fixtures: isolated settings, a started Otvet on SQLite and PostgreSQL, a replaying provider."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from otvet.config.settings import Settings
from otvet.core.app import Otvet
from tests.support.logcapture import root_logger_restored
from tests.support.providers import MockProvider

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's OTVET_* variables, .env or otvet.toml."""
    for name in list(os.environ):
        if name.startswith("OTVET_") and not name.startswith("OTVET_TEST_"):
            monkeypatch.delenv(name)
    # An empty config file of the test's own (naming a missing one is an error the CLI reports).
    empty = tmp_path / "empty-otvet.toml"
    empty.write_bytes(b"")
    monkeypatch.setenv("OTVET_CONFIG_FILE", str(empty))


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A test that runs the CLI in process gets its ``configure_logging``: a handler on that test's
    captured stderr, which pytest closes after it. Every test leaves logging as it found it."""
    with root_logger_restored():
        yield


def make_settings(tmp_path: Path, database_url: str = "", **overrides: object) -> Settings:
    """Settings for a test: its own data dir, no entry-point plugins, no demo unless asked for."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "plugins": [],
        "load_demo": False,
        # Failures surface as failures unless a test asks for the extractive fallback.
        "fallback_provider": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def mock_provider() -> MockProvider:
    return MockProvider()


@pytest.fixture
async def otvet(tmp_path: Path, db_url: str, mock_provider: MockProvider) -> AsyncIterator[Otvet]:
    """A started Otvet on each database, answering with ``mock_provider`` (``OTVET_PROVIDER=mock``)."""
    instance = Otvet(make_settings(tmp_path, db_url, provider="mock"))
    instance.providers.register("mock", lambda _otvet: mock_provider, owner="tests")
    async with instance:
        yield instance


@pytest.fixture
async def sqlite_otvet(tmp_path: Path) -> AsyncIterator[Otvet]:
    """A started Otvet on SQLite with the real extractive provider and the demo knowledge base."""
    instance = Otvet(make_settings(tmp_path, load_demo=True))
    async with instance:
        yield instance
