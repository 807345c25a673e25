"""Storage by role: which registered backend serves each role of :class:`~otvet.core.store.Store`, and one
object that hands every call to it.

A backend registers the roles it implements (``register_storage``); settings pick a backend per role
(``storage`` for all, ``storage_roles.<role>`` for one). When one backend serves every role, ``otvet.store``
is that backend itself, so the usual set-up pays nothing for the choice.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from otvet.core.registry import RegistryError
from otvet.core.store import ROLE_HOME, ROLES, Store, StoreLifecycle

if TYPE_CHECKING:
    from otvet.core.app import Otvet

_LIFECYCLE = frozenset(("connect", "close", "migrate", "ping"))


def role_methods(role: str) -> tuple[str, ...]:
    """The methods a backend must have to serve ``role`` (beyond connect, close, migrate and ping)."""
    protocol = ROLES[role]
    return tuple(
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(value) and name not in _LIFECYCLE
    )


def check_roles(roles: Iterable[str] | None) -> frozenset[str]:
    """The roles a backend registers for (None: every role); an unknown name is refused, listing the known."""
    if roles is None:
        return frozenset(ROLES)
    chosen = frozenset(roles)
    unknown = sorted(chosen - ROLES.keys())
    if unknown or not chosen:
        raise RegistryError(
            f"unknown storage role(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(ROLES)}"
        )
    return chosen


def choose_backends(default: str, overrides: Mapping[str, str | None]) -> dict[str, str]:
    """Each role's backend name: its own setting, else its home role's backend (usage and feedback read
    the conversations' records), else ``default``."""
    chosen = {role: name for role, name in overrides.items() if name}
    for role in ROLES:
        if role not in chosen:
            home = ROLE_HOME.get(role)
            chosen[role] = chosen.get(home, default) if home else default
    return chosen


def compose_store(otvet: Otvet) -> Store:
    """Build ``otvet.store`` from the backends the settings choose, each created once."""
    chosen = choose_backends(otvet.settings.storage, otvet.settings.storage_roles.model_dump())
    instances: dict[str, Any] = {}
    for role, name in chosen.items():
        factory = otvet.storages.get(name)  # an unknown name lists the registered backends
        if role not in otvet.storage_backend_roles[name]:
            serves = ", ".join(sorted(otvet.storage_backend_roles[name]))
            raise RegistryError(
                f"storage backend {name!r} does not serve the {role!r} role (it serves: {serves}); "
                f"set OTVET_STORAGE_ROLES__{role.upper()} to a backend that does"
            )
        if name not in instances:
            instances[name] = factory(otvet)
    by_role = {role: instances[name] for role, name in chosen.items()}
    for role, backend in by_role.items():
        missing = [m for m in (*_LIFECYCLE, *role_methods(role)) if not callable(getattr(backend, m, None))]
        if missing:
            raise RegistryError(
                f"storage backend {chosen[role]!r} registered for the {role!r} role lacks "
                f"{', '.join(sorted(missing))}"
            )
    if len(instances) == 1:
        return cast(Store, next(iter(instances.values())))
    return cast(Store, ComposedStore(by_role))


class ComposedStore:
    """Every role's methods, bound to the backend serving that role (bound once here: a call costs what a
    call to the backend costs). Connect, close, migrate and ping reach each backend once."""

    def __init__(self, by_role: Mapping[str, StoreLifecycle]) -> None:
        self.by_role = dict(by_role)
        self.backends: list[StoreLifecycle] = []
        for role, backend in self.by_role.items():
            if all(backend is not known for known in self.backends):
                self.backends.append(backend)
            for name in role_methods(role):
                setattr(self, name, getattr(backend, name))

    async def connect(self) -> None:
        connected: list[StoreLifecycle] = []
        try:
            for backend in self.backends:
                await backend.connect()
                connected.append(backend)
        except BaseException:
            for backend in reversed(connected):
                await backend.close()
            raise

    async def close(self) -> None:
        errors: list[BaseException] = []
        for backend in reversed(self.backends):
            try:
                await backend.close()
            except Exception as exc:  # close the others all the same, then report the first failure
                errors.append(exc)
        if errors:
            raise errors[0]

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        for backend in self.backends:
            applied.extend(await backend.migrate())
        return applied

    async def ping(self) -> bool:
        for backend in self.backends:
            if not await backend.ping():
                return False
        return True
