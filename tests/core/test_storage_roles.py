"""Storage by role: settings choose a backend per role, ``otvet.store`` hands each call to it, and a
backend registered for fewer roles (or lacking a method) is refused by name at start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
import pytest

from otvet import hookimpl
from otvet.core.app import Otvet
from otvet.core.plugins import make_plugin_manager
from otvet.core.registry import RegistryError
from otvet.core.storage import ComposedStore, choose_backends, role_methods
from otvet.core.store import ROLES
from otvet.core.types import Turn
from tests.conftest import make_settings
from tests.plugins.test_storage_contract import load_memory_store


def test_roles_follow_their_own_setting_then_their_home_then_the_default() -> None:
    assert set(choose_backends("tortoise", {}).values()) == {"tortoise"}
    chosen = choose_backends("tortoise", {"conversations": "memory", "jobs": None})
    assert chosen == {
        "coordination": "tortoise",
        "conversations": "memory",
        "usage": "memory",  # reads the conversations' messages
        "feedback": "memory",  # rates them
        "jobs": "tortoise",
        "knowledge": "tortoise",
        "accounts": "tortoise",
    }
    # A role set on its own wins over its home.
    assert choose_backends("a", {"conversations": "b", "usage": "c"})["usage"] == "c"


def test_every_store_method_belongs_to_exactly_one_role() -> None:
    from otvet.core.store import Store

    lifecycle = {"connect", "close", "migrate", "ping"}
    declared = {
        name
        for protocol in Store.__mro__
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    } - lifecycle
    per_role = [name for role in ROLES for name in role_methods(role)]
    assert sorted(per_role) == sorted(declared)
    assert len(per_role) == len(set(per_role))


def with_memory_backend(pm: pluggy.PluginManager, roles: tuple[str, ...] | None = None) -> None:
    module = load_memory_store()

    class Plugin:
        @hookimpl
        def register_storage(self, register: Callable[..., None]) -> None:
            register("memory", module.MemoryStore, roles=roles or module.ROLES)

    pm.register(Plugin(), name="memory-store")


async def test_a_turn_is_stored_by_the_conversations_backend_and_the_rest_by_the_default(
    tmp_path: Path,
) -> None:
    pm = make_plugin_manager(load_entry_points=False)
    with_memory_backend(pm)
    settings = make_settings(tmp_path, storage_roles={"conversations": "memory"})
    async with Otvet(settings, pm) as otvet:
        store: Any = otvet.store
        assert isinstance(store, ComposedStore)
        memory = store.by_role["conversations"]
        assert store.by_role["usage"] is store.by_role["feedback"] is memory
        assert store.by_role["knowledge"] is store.by_role["jobs"] is not memory
        final = await otvet.engine.ask(Turn(channel="test", user_id="u", text="How do I connect Telegram?"))
        assert [m.role for m in memory.messages_by_id.values()] == ["user", "assistant"]
        assert final.message_id in memory.messages_by_id and final.conversation_id in memory.conversations
        assert await otvet.store.list_versions() == []  # knowledge on SQLite, where nothing was trained
        assert await otvet.store.count_questions(final_time(memory)) == 1
        assert await otvet.store.ping() is True
    assert memory.connected is False  # closed with the rest


def final_time(memory: Any) -> Any:
    return next(iter(memory.messages_by_id.values())).created_at


def test_a_role_the_backend_was_not_registered_for_is_refused(tmp_path: Path) -> None:
    pm = make_plugin_manager(load_entry_points=False)
    with_memory_backend(pm, roles=("conversations",))
    otvet = Otvet(make_settings(tmp_path, storage_roles={"conversations": "memory"}), pm)
    with pytest.raises(RegistryError, match=r"does not serve the 'usage' role .*OTVET_STORAGE_ROLES__USAGE"):
        otvet.store  # noqa: B018


def test_a_backend_lacking_a_method_of_its_role_is_refused_naming_it(tmp_path: Path) -> None:
    module = load_memory_store()

    class Partial(module.MemoryStore):  # type: ignore[name-defined,misc]
        usage_report = None

    pm = make_plugin_manager(load_entry_points=False)

    class Plugin:
        @hookimpl
        def register_storage(self, register: Callable[..., None]) -> None:
            register("partial", Partial, roles=("conversations", "usage", "feedback"))

    pm.register(Plugin(), name="partial-store")
    otvet = Otvet(make_settings(tmp_path, storage_roles={"conversations": "partial"}), pm)
    with pytest.raises(RegistryError, match="'partial' registered for the 'usage' role lacks usage_report"):
        otvet.store  # noqa: B018


def test_unknown_roles_are_refused_at_registration(tmp_path: Path) -> None:
    pm = make_plugin_manager(load_entry_points=False)
    with_memory_backend(pm, roles=("conversation",))
    with pytest.raises(RegistryError, match=r"unknown storage role.*conversation; known: coordination"):
        Otvet(make_settings(tmp_path), pm)


def test_a_misspelt_role_setting_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="conversation"):
        make_settings(tmp_path, storage_roles={"conversation": "memory"})
