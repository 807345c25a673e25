"""Liveness and readiness endpoints: ``/healthz`` (the process is up) and ``/readyz`` (it can answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from otvet import hookimpl
from otvet.core.store import DatabaseUnavailable

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """Always 200 while the process serves requests: for liveness probes."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 when this service can do its work, else 503 with the reasons.

    Every service needs the database. Services that answer (serve, api, telegram) also need an active
    knowledge version; a worker does not (it builds them). A stopping service (SIGTERM) is not ready, so the
    load balancer sends nothing new while its answers in progress finish. Checks a part adds
    (``otvet.lifecycle.add_check``: the Telegram poller, the worker loop) must pass too.

    The provider's state is reported but does not make the process unready: while the model is down, the
    fallback still answers, and taking every replica out of the load balancer would answer nobody.
    """
    otvet: Otvet = request.app.state.otvet
    lifecycle = otvet.lifecycle
    checks: dict[str, object] = {"service": lifecycle.service}
    answers = lifecycle.service != "worker"
    if answers:
        checks["provider"] = {"name": otvet.provider.name, **otvet.provider.status()}
    ready = True
    try:
        # The ping answers within database_timeouts.ready_seconds even when the database is frozen.
        checks["database"] = "ok" if await otvet.store.ping() else "unreachable"
        version = await otvet.store.active_version() if checks["database"] == "ok" else None
        checks["knowledge_version"] = version.id if version else None
        ready = checks["database"] == "ok" and (version is not None or not answers)
    except DatabaseUnavailable:  # the store logs an outage once, not once per probe
        checks.update(database="unreachable", knowledge_version=None)
        ready = False
    except Exception as exc:  # readiness must report, never raise
        log.warning("readiness check failed: %s", exc)
        checks.update(database="unreachable", knowledge_version=None)
        ready = False
    for name, problem in (await lifecycle.run_checks()).items():
        checks[name] = problem or "ok"
        ready = ready and problem is None
    if lifecycle.draining:
        checks["draining"] = True
        ready = False
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@hookimpl
def register_routes(register: Callable[[BaseRoute], None]) -> None:
    register(Route("/healthz", healthz, methods=["GET", "HEAD"]))
    register(Route("/readyz", readyz, methods=["GET", "HEAD"]))
