"""Registers Otvet's tables (the ``otvet`` model app) and the ``tortoise`` storage backend."""

from __future__ import annotations

from collections.abc import Callable

from otvet import hookimpl
from otvet.core.store import StoreFactory
from otvet.plugins.storage.config import APP_LABEL, MIGRATIONS_MODULE, MODELS_MODULE


@hookimpl
def register_models(register: Callable[[str, str, str | None], None]) -> None:
    register(APP_LABEL, MODELS_MODULE, MIGRATIONS_MODULE)


@hookimpl
def register_storage(register: Callable[[str, StoreFactory], None]) -> None:
    # Imported here so that listing plugins (``otvet plugins``) does not import Tortoise's models.
    from otvet.plugins.storage.store import TortoiseStore

    register("tortoise", TortoiseStore)
