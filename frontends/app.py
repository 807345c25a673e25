"""The Starlette application every HTTP frontend mounts into, through the ``register_routes`` hook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from otvet.core.app import Otvet
from otvet.core.jobs import Worker

log = logging.getLogger(__name__)


def create_app(otvet: Otvet, *, worker: bool = False) -> Starlette:
    """An ASGI app serving ``otvet``'s routes; its lifespan starts and stops ``otvet``.

    With ``worker`` the process also runs background jobs (``otvet serve`` on one machine): a retrain queued
    through the API then needs no separate ``otvet worker``. Its handlers keep CPU work in threads, and on
    shutdown a job still running is queued again for the next start or another worker.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with otvet:
            runner = Worker(otvet) if worker else None
            task = asyncio.create_task(runner.run()) if runner else None
            if runner:
                log.info("running background jobs in this process as worker %s", runner.id)
            try:
                yield
            finally:
                if runner and task:
                    runner.stop()
                    await task

    app = Starlette(routes=otvet.routes(), lifespan=lifespan)
    app.state.otvet = otvet
    return app
