"""Registers the ``tortoise`` storage backend (every role) and adds the ``register_models`` hook, through
which plugins add tables of their own (plugins/storage/hookspecs.py)."""

from __future__ import annotations

from collections.abc import Callable

from otvet import hookimpl
from otvet.core.store import StoreFactory
from otvet.plugins.storage import hookspecs as otvet_hookspecs

__all__ = ["otvet_hookspecs", "register_storage"]


@hookimpl
def register_storage(register: Callable[[str, StoreFactory], None]) -> None:
    # Imported here so that listing plugins (``otvet plugins``) does not import Tortoise's models.
    from otvet.plugins.storage.store import TortoiseStore

    register("tortoise", TortoiseStore)
