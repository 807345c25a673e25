"""Running Otvet's HTTP apps with uvicorn: TLS from the settings, trusted proxies, and draining on SIGTERM.

uvicorn's own shutdown closes every WebSocket with 1012 at once, cutting off answers being written. So the
first SIGTERM (or Ctrl-C) drains instead: the listening sockets close (no new connections), readiness turns
503, widget sockets close once their answer is written, and only when nothing is in progress, or after
``shutdown_seconds``, does uvicorn's shutdown run. A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    from otvet.config.settings import Settings
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


class TlsConfigError(ValueError):
    """A TLS setting names a file that cannot be used; the message names the setting."""


def check_tls(settings: Settings) -> None:
    """Refuse unusable TLS settings before listening, naming the setting (uvicorn would only trace back)."""
    tls = settings.tls
    if tls.key_file is not None and tls.cert_file is None:
        raise TlsConfigError("OTVET_TLS__KEY_FILE is set without OTVET_TLS__CERT_FILE")
    if tls.client_cert != "none" and tls.ca_file is None:
        raise TlsConfigError(f"OTVET_TLS__CLIENT_CERT={tls.client_cert} needs OTVET_TLS__CA_FILE")
    if not tls.enabled:
        return
    for name, path in (("CERT_FILE", tls.cert_file), ("KEY_FILE", tls.key_file), ("CA_FILE", tls.ca_file)):
        if path is not None and not Path(path).is_file():
            raise TlsConfigError(f"OTVET_TLS__{name}: no such file: {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        password = tls.key_password.get_secret_value() or None
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None, password)
        if tls.ca_file is not None:
            context.load_verify_locations(str(tls.ca_file))
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f"the TLS certificate or key (OTVET_TLS__*) cannot be used: {exc}") from None


def uvicorn_config(
    app: ASGIApp, settings: Settings, host: str, port: int, **overrides: Any
) -> uvicorn.Config:
    """uvicorn's configuration for one of Otvet's listeners, with TLS when a certificate is set."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level.lower(),
        # Uvicorn's lines go through Otvet's logging setup; the access line is Otvet's own (no query strings).
        "log_config": None,
        "access_log": False,
        # X-Forwarded-For and -Proto are believed from the configured proxies only; an empty list believes
        # no one (it used to fall back to 127.0.0.1, so a local client could pick its address).
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips),
        "timeout_graceful_shutdown": max(settings.shutdown_seconds, 1.0),
        "server_header": False,
        # No permessage-deflate on WebSockets: its zlib state is ~50 KB per socket (most of an idle widget
        # socket's memory, docs/performance.md) and a deflate per frame, to save a few bytes on the small
        # JSON frames the widget and GraphQL subscriptions send. Browsers connect either way.
        "ws_per_message_deflate": False,
        # uvicorn would otherwise buffer WebSocket messages up to 16 MiB before the app's own limits
        # (widget.max_message_bytes, graphql.max_body_bytes) see them. Four times the larger of those leaves
        # the apps to refuse with their own reasons; anything bigger is cut off (1009) while still arriving.
        "ws_max_size": 4 * max(settings.widget.max_message_bytes, settings.graphql.max_body_bytes),
    }
    tls = settings.tls
    if tls.enabled:
        options.update(
            ssl_certfile=str(tls.cert_file),
            ssl_keyfile=str(tls.key_file) if tls.key_file else None,
            ssl_keyfile_password=tls.key_password.get_secret_value() or None,
            ssl_ca_certs=str(tls.ca_file) if tls.ca_file else None,
            ssl_cert_reqs=_CERT_REQS[tls.client_cert],
        )
    options.update(overrides)
    return uvicorn.Config(app, **options)


#: uvicorn's HTTP/1.1 connections (a WebSocket, once upgraded, is another protocol object).
_HTTP_PROTOCOLS = (H11Protocol, HttpToolsProtocol)


class ServiceServer(uvicorn.Server):
    """uvicorn for a service's main port (``otvet serve``, ``otvet api``): drains before shutting down."""

    def __init__(
        self, config: uvicorn.Config, otvet: Otvet, on_started: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self.otvet = otvet
        #: Called once listening (``otvet api --workers``: the supervisor waits for the first worker).
        self.on_started = on_started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_asked = False
        self._drain_task: asyncio.Task[None] | None = None

    async def startup(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded in uvicorn's captured signals: a drained service exits 0, not by re-raising SIGTERM.
        if self.started and self._loop is not None and not self._drain_asked and not self.should_exit:
            self._drain_asked = True
            # A signal handler runs between two bytecodes of whatever the loop was doing: schedule, not run.
            self._loop.call_soon_threadsafe(self.begin_drain)
            return
        if self.should_exit:
            self.force_exit = True
        self.otvet.lifecycle.hurry()
        self.should_exit = True

    def begin_drain(self) -> None:
        """Close the listeners, let work in progress finish, then shut down (also callable directly)."""
        self._drain_asked = True
        self.otvet.lifecycle.begin_drain()
        for server in getattr(self, "servers", []):
            server.close()
        # Keep-alive HTTP connections would go on bringing requests (before: hundreds more answers after
        # SIGTERM, until shutdown_seconds ran out): an idle one closes now, a busy one after its response
        # (``Connection: close``). WebSockets are left to the drain, which closes each after its answer.
        for connection in list(getattr(self.server_state, "connections", ())):
            if isinstance(connection, _HTTP_PROTOCOLS):
                connection.shutdown()
        self._drain_task = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        await self.otvet.lifecycle.wait_idle(self.otvet.settings.shutdown_seconds)
        self.should_exit = True


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a command that handles signals itself (the ops listener of worker and telegram)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # SIGTERM belongs to the command, which drains first and stops this server last

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    @property
    def port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def ops_listener(
    otvet: Otvet, host: str | None = None, port: int | None = None
) -> AsyncIterator[int | None]:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics`` for a service without a main port; yields the port
    (None when ``ops.port`` is unset: no listener)."""
    settings = otvet.settings
    host = settings.ops.host if host is None else host
    port = settings.ops.port if port is None else port
    if port is None:
        yield None
        return
    from otvet.frontends.app import create_ops_app

    server = EmbeddedServer(uvicorn_config(create_ops_app(otvet), settings, host, port, lifespan="off"))
    task = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await task  # uvicorn stopped before listening: it has logged why
        raise OSError(f"the ops listener could not start on {host}:{port}")
    scheme = "https" if settings.tls.enabled else "http"
    log.info("health and metrics on %s://%s:%d (/healthz, /readyz, /metrics)", scheme, host, server.port)
    try:
        yield server.port
    finally:
        server.should_exit = True
        await task
