"""The ASGI layer around every HTTP app Otvet serves: request ids, metrics per frontend, the access log, and
``Strict-Transport-Security`` over TLS.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``, which buffers nothing but runs the app in another
task and would break streamed answers' cancellation (a client leaving must close the engine's stream).
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otvet.core.logs import log_context

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from otvet.core.app import Otvet

access_log = logging.getLogger("otvet.access")

#: A client's X-Request-ID is kept only when it looks like an id: anything else could forge log lines.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Frontend label of paths no route claims (scanners' 404s): one label, so they cannot grow the series.
UNMATCHED = "other"


def frontend_label(plugin_name: str) -> str:
    """The ``frontend`` of a plugin's routes in metrics: ``http_health`` reads better as ``health``."""
    return plugin_name.removeprefix("http_")


class ObservedApp:
    """Wraps ``app``: each request gets an id (logged, echoed as X-Request-ID), metrics and an access line."""

    def __init__(self, app: ASGIApp, otvet: Otvet) -> None:
        self.app = app
        self.otvet = otvet
        self.metrics = otvet.metrics
        self.routes: list[tuple[BaseRoute, str]] = [
            (route, frontend_label(owner)) for route, owner in otvet.route_owners
        ]
        hsts = otvet.settings.tls.hsts_seconds
        self.hsts = f"max-age={hsts}; includeSubDomains".encode() if hsts else b""
        # A path's frontend never changes: match the routes once per distinct path, not once per request.
        self._label = functools.lru_cache(maxsize=1024)(self._match)

    def _match(self, kind: str, path: str) -> str:
        scope: Scope = {"type": kind, "path": path, "method": "GET", "root_path": ""}
        for route, label in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return label
        return UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        frontend = self._label(scope["type"], scope["path"])
        request_id = _request_id(scope)
        with log_context(request_id=request_id):
            if scope["type"] == "websocket":
                await self._websocket(frontend, scope, receive, send)
            else:
                await self._http(frontend, request_id, scope, receive, send)

    async def _websocket(self, frontend: str, scope: Scope, receive: Receive, send: Send) -> None:
        gauge = self.metrics.websockets.labels(frontend)
        gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            gauge.dec()

    async def _http(self, frontend: str, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # what the client gets when the app fails before answering
        extra = [(b"x-request-id", request_id.encode())]
        if self.hsts and scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", self.hsts))

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        in_progress = self.metrics.http_in_progress.labels(frontend)
        in_progress.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            in_progress.dec()
            method = scope.get("method", "")
            self.metrics.http_requests.labels(frontend, method, str(status)).inc()
            self.metrics.http_duration.labels(frontend).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                # The path without its query string: queries can carry tokens and question texts.
                access_log.info("%s %s %d %.1fms", method, scope["path"], status, elapsed * 1000)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex
