"""Several Otvet instances on one PostgreSQL database, each with its own pool and in-process state: the
replicas of one deployment, in one test process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from otvet.core.app import Otvet
from tests.conftest import make_settings


@contextlib.asynccontextmanager
async def replicas(postgres_cluster: Any, tmp_path: Path, count: int) -> AsyncIterator[list[Otvet]]:
    """``count`` started instances on a new database of ``postgres_cluster``; stopped afterwards."""
    url = await postgres_cluster.create_database()
    started = [Otvet(make_settings(tmp_path / str(n), url)) for n in range(count)]
    for replica in started:
        await replica.start()
    try:
        yield started
    finally:
        await asyncio.gather(*(replica.stop() for replica in started))
