"""Browser-facing hardening of every HTTP response: security headers, and CORS for the APIs only when the
operator lists origins (docs/security.md#browsers).

* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on every response: a JSON answer
  carrying an attacker's text must never be sniffed into HTML or script, and URLs (which may carry a
  widget token or a GraphiQL query) must not leak to the sites an answer links to.
* ``Content-Security-Policy`` on every response that did not set its own: ``default-src 'none'`` with
  ``frame-ancestors 'none'``. A JSON or text response opened in a browser tab then runs nothing and cannot
  be framed for clickjacking. HTML pages set their own, stricter-where-they-can policy (the demo page,
  GraphiQL); the widget is embedded with a ``<script>`` tag, never in a frame, so no page allows framing.
* CORS on ``/graphql`` and ``/v1/...`` for ``api.cors_origins`` only, through Starlette's
  ``CORSMiddleware``. With no origins listed nothing is added at all: a browser then lets no other site read
  an API response, and a cross-site preflight of a JSON mutation fails. No credentials mode: Otvet has no
  cookies, credentials are ``Authorization`` headers a page must send on purpose.

Pure ASGI, like :mod:`otvet.frontends.middleware`, so streamed answers stay cancellable.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The policy of responses that are not pages: nothing may run, load or frame them.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", DEFAULT_CSP.encode()),
)
#: Routes a browser on another origin may call when CORS is configured: the two APIs, nothing else (the
#: widget's socket has its own Origin check, the pages and webhook need none).
CORS_PATHS = ("/graphql", "/v1/")
#: Request headers API clients send: credentials, bodies, GraphQL's preflight marker, request ids.
CORS_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "accept-language",
    "apollo-require-preflight",
    "x-request-id",
)
#: Response headers a cross-origin script may read: rate limits and ids are what a client acts on.
CORS_EXPOSED_HEADERS = ("retry-after", "x-request-id", "www-authenticate")


class SecurityHeaders:
    """Adds :data:`DEFAULT_HEADERS` a response does not set itself (a page's own CSP wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in DEFAULT_HEADERS if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_api_path(path: str) -> bool:
    return path == CORS_PATHS[0] or path.startswith(CORS_PATHS[1])


class ApiCors:
    """Starlette's ``CORSMiddleware`` for the API paths only; other paths pass untouched."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
