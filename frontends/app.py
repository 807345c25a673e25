"""The Starlette application every HTTP frontend mounts into, through the ``register_routes`` hook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from otvet.core.app import Otvet


def create_app(otvet: Otvet) -> Starlette:
    """An ASGI app serving ``otvet``'s routes; its lifespan starts and stops ``otvet``."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with otvet:
            yield

    app = Starlette(routes=otvet.routes(), lifespan=lifespan)
    app.state.otvet = otvet
    return app
