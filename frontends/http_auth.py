"""Authentication for every HTTP frontend: who sent a request, and the HTTP answer to a refused one.

Each frontend (GraphQL, the OpenAI-compatible endpoint, ...) calls :func:`request_principal` instead of
parsing ``Authorization`` itself, and turns an :class:`~otvet.core.accounts.AuthError` into a response with
:func:`auth_error_response` (or :func:`auth_status` / :func:`auth_headers` when it builds its own).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from otvet.core.accounts import AuthError, Principal
from otvet.frontends.sessions import session_credential

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: The HTTP status of each AuthError code.
STATUS = {"unauthenticated": 401, "forbidden": 403, "rate_limited": 429}


async def request_principal(request: HTTPConnection) -> Principal | None:
    """The caller of ``request`` (a request or a WebSocket): None when it sent no credential.

    Raises :class:`AuthError` for an invalid, expired or revoked credential and over the rate limit.
    """
    otvet: Otvet = request.app.state.otvet
    # An Authorization header wins; else the console's session cookie, only with its CSRF token.
    credential = request.headers.get("authorization") or session_credential(request)
    return await otvet.accounts.authenticate(credential)


def auth_status(exc: AuthError) -> int:
    """401 for a missing or bad credential, 403 for a missing scope, 429 over the rate limit."""
    return STATUS.get(exc.code, 401)


def retry_after(seconds: float | None) -> dict[str, str]:
    """The ``Retry-After`` header for a wait of ``seconds``: whole seconds, at least one."""
    return {"Retry-After": str(max(1, math.ceil(seconds or 1)))}


def auth_headers(exc: AuthError) -> dict[str, str]:
    """``WWW-Authenticate: Bearer`` on 401 (RFC 6750), ``Retry-After`` in whole seconds on 429."""
    if exc.code == "rate_limited":
        return retry_after(exc.retry_after)
    if auth_status(exc) == 401:
        return {"WWW-Authenticate": 'Bearer realm="otvet"'}
    return {}


def auth_error_body(exc: AuthError) -> dict[str, object]:
    """The generic body: ``{"error": {"code": ..., "message": ...}}``."""
    return {"error": {"code": exc.code, "message": exc.message}}


def auth_error_response(exc: AuthError, body: Callable[[AuthError], object] | None = None) -> JSONResponse:
    """The JSON response to a refused request; ``body`` builds the JSON when the protocol has its own
    error format (the OpenAI-compatible endpoint's ``{"error": {"message", "type", "code"}}``)."""
    content = body(exc) if body is not None else auth_error_body(exc)
    return JSONResponse(content, status_code=auth_status(exc), headers=auth_headers(exc))
