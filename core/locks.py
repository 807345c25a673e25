"""Locks by name inside one process, for keys too many to keep a lock each forever (one per user)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable


class NamedLocks:
    """``asyncio.Lock`` s by name, made when first wanted and dropped when no task holds or awaits them."""

    def __init__(self) -> None:
        #: name → (lock, tasks holding or waiting for it)
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, names: Iterable[str]) -> AsyncIterator[None]:
        """Hold every lock in ``names`` for the block, taken in sorted order so that two blocks wanting the
        same names never wait on each other."""
        entries = []
        for name in sorted(set(names)):
            entry = self._locks.setdefault(name, (asyncio.Lock(), [0]))
            entry[1][0] += 1
            entries.append((name, entry))
        try:
            async with contextlib.AsyncExitStack() as stack:
                for _, (lock, _users) in entries:
                    await stack.enter_async_context(lock)
                yield
        finally:
            for name, (_lock, users) in entries:
                users[0] -= 1
                if not users[0]:
                    del self._locks[name]

    def __len__(self) -> int:
        return len(self._locks)
