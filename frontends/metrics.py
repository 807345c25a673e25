"""The built-in ``http_metrics`` plugin: Prometheus metrics at ``/metrics`` (docs/operations.md#metrics)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet

PATH = "/metrics"


async def metrics(request: Request) -> Response:
    """This process's metrics in the Prometheus text format; with ``metrics.token``, for its bearer only."""
    otvet: Otvet = request.app.state.otvet
    token = otvet.settings.metrics.token.get_secret_value()
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return PlainTextResponse(
                "metrics need Authorization: Bearer <OTVET_METRICS__TOKEN>\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="otvet-metrics"'},
            )
    from otvet.core.metrics import CONTENT_TYPE

    await otvet.metrics.refresh(otvet)
    return Response(otvet.metrics.render(), media_type=CONTENT_TYPE)


@hookimpl
def register_routes(register: Callable[[BaseRoute], None], otvet: Otvet) -> None:
    if otvet.settings.metrics.enabled:
        register(Route(PATH, metrics, methods=["GET"]))
