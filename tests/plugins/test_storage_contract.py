"""The storage contract suite (otvet.testing.storage_contract) against every backend Otvet knows: its own
Tortoise backend on SQLite and PostgreSQL, and the third-party in-memory backend of tests/fixtures, loaded
from its file as its installed plugin would be."""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from otvet.core.storage import role_methods
from otvet.plugins.storage.store import TortoiseStore
from otvet.testing.storage_contract import ConversationContract, FeedbackContract, UsageContract
from tests.support.fixtures import store_host
from tests.support.plugins import FIXTURES

MEMORY_STORE = FIXTURES / "otvet-memory-store" / "otvet_memory_store.py"


@functools.cache
def load_memory_store() -> ModuleType:
    spec = importlib.util.spec_from_file_location("otvet_memory_store", MEMORY_STORE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


class TestTortoise(ConversationContract, UsageContract, FeedbackContract):
    @pytest.fixture
    async def store(self, db_url: str) -> AsyncIterator[TortoiseStore]:
        backend = TortoiseStore(store_host(db_url))
        await backend.connect()
        try:
            yield backend
        finally:
            await backend.close()


class TestMemory(ConversationContract, UsageContract, FeedbackContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Any]:
        backend = load_memory_store().MemoryStore()
        await backend.connect()
        try:
            yield backend
        finally:
            await backend.close()


@pytest.mark.parametrize(
    ("contract", "role"),
    [(ConversationContract, "conversations"), (UsageContract, "usage"), (FeedbackContract, "feedback")],
)
def test_each_contract_calls_every_method_of_its_role(contract: type, role: str) -> None:
    """A method added to a role's protocol without a contract test would let backends differ unseen."""
    source = Path(__import__(contract.__module__, fromlist=["_"]).__file__ or "").read_text()
    body = source.split(f"class {contract.__name__}")[1].split("\nclass ")[0]
    untested = [name for name in role_methods(role) if f"store.{name}(" not in body]
    assert untested == []
