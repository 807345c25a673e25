"""Liveness and readiness endpoints: ``/healthz`` (the process is up) and ``/readyz`` (it can answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """Always 200 while the process serves requests: for liveness probes."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and a knowledge version is active, else 503 with the reasons.

    The provider's state is reported but does not make the process unready: while the model is down, the
    fallback still answers, and taking every replica out of the load balancer would answer nobody.
    """
    otvet: Otvet = request.app.state.otvet
    checks: dict[str, object] = {"provider": {"name": otvet.provider.name, **otvet.provider.status()}}
    ready = True
    try:
        checks["database"] = "ok" if await otvet.store.ping() else "unreachable"
        version = await otvet.store.active_version()
        checks["knowledge_version"] = version.id if version else None
        ready = checks["database"] == "ok" and version is not None
    except Exception as exc:  # readiness must report, never raise
        log.warning("readiness check failed: %s", exc)
        checks.update(database="unreachable", knowledge_version=None)
        ready = False
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@hookimpl
def register_routes(register: Callable[[BaseRoute], None]) -> None:
    register(Route("/healthz", healthz, methods=["GET", "HEAD"]))
    register(Route("/readyz", readyz, methods=["GET", "HEAD"]))
