"""Named registries: things plugins register by name (providers, retrievers...) and settings choose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(LookupError):
    """A name was registered twice or asked for but never registered."""


class Registry(Generic[T]):
    """A name → object mapping that refuses silent collisions and explains unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}

    def register(self, name: str, item: T, *, owner: str = "?") -> None:
        if not name or not name.strip():
            raise RegistryError(f"a {self.kind} needs a non-empty name (registered by {owner})")
        if name in self._items:
            raise RegistryError(
                f"{self.kind} {name!r} is registered twice: by {self._owners[name]} and by {owner}"
            )
        self._items[name] = item
        self._owners[name] = owner

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def owner(self, name: str) -> str:
        return self._owners[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)
