"""The Starlette applications Otvet serves: the main one every HTTP frontend mounts into through the
``register_routes`` hook, and the ops one (health and metrics only) of services without a main port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from otvet.core.app import Otvet
from otvet.core.jobs import Worker
from otvet.frontends.middleware import ObservedApp
from otvet.frontends.untrusted import HeaderLimit
from otvet.frontends.web_security import ApiCors, SecurityHeaders

log = logging.getLogger(__name__)

#: The plugins whose routes an ops listener serves: probes and Prometheus, nothing a user could reach.
OPS_PLUGINS = ("http_health", "http_metrics")


def create_app(otvet: Otvet, *, worker: bool = False) -> Starlette:
    """An ASGI app serving ``otvet``'s routes; its lifespan starts and stops ``otvet``.

    With ``worker`` the process also runs background jobs (``otvet serve`` on one machine): a retrain queued
    through the API then needs no separate ``otvet worker``. Its handlers keep CPU work in threads. A job
    still running at shutdown had the drain's ``shutdown_seconds`` to finish; then it is queued again for
    the next start or another worker.
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

    routes = otvet.routes()
    # Outermost first: the request id and metrics see every answer, headers go on CORS refusals too.
    middleware = [Middleware(ObservedApp, otvet=otvet), Middleware(SecurityHeaders), Middleware(HeaderLimit)]
    if otvet.settings.api.cors_origins:
        middleware.append(Middleware(ApiCors, origins=otvet.settings.api.cors_origins))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.otvet = otvet
    return app


def create_ops_app(otvet: Otvet) -> Starlette:
    """``/healthz``, ``/readyz`` and ``/metrics`` of a started ``otvet`` (its command runs the lifecycle)."""
    middleware = [Middleware(ObservedApp, otvet=otvet), Middleware(SecurityHeaders), Middleware(HeaderLimit)]
    app = Starlette(routes=otvet.routes(OPS_PLUGINS), middleware=middleware)
    app.state.otvet = otvet
    return app
