"""The hook the Tortoise storage backend adds for other plugins: their own tables, in the same database and
migrated with Otvet's (``otvet migrate``). Tortoise's idea of a model app, so it lives with Tortoise and
not among the core hooks: another backend has no use for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from otvet.core.app import Otvet

hookspec = pluggy.HookspecMarker("otvet")


@hookspec
def register_models(register: Callable[[str, str, str | None], None], otvet: Otvet) -> None:
    """Register database models: ``register(app_label, models_module, migrations_module)``."""
