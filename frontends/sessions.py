"""Browser sessions for admins (the console at ``/admin``): the login token in an ``HttpOnly`` cookie, and a
CSRF token bound to it that every request made with the cookie must carry in a header.

A cookie is sent by the browser on any request to this server, including one a hostile site makes it send;
the CSRF token is not (that site cannot read it: it is returned only to the console's own script, in a
JSON body other origins cannot read). So a request with the cookie and without the matching header is
treated as anonymous, not refused with an error that would tell the other site anything. API keys and
``Authorization: Bearer`` tokens work as before, without either.
"""

from __future__ import annotations

import functools
import hmac
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection
from starlette.responses import Response

from otvet.core.signing import deployment_secret, derive_key, sign

if TYPE_CHECKING:
    from otvet.core.app import Otvet

SESSION_COOKIE = "otvet_session"
CSRF_HEADER = "x-csrf-token"


@functools.cache
def _csrf_key(secret: bytes) -> bytes:
    # Derived once per secret, not on every request that carries the cookie.
    return derive_key(secret, "otvet console csrf v1")


def csrf_token(otvet: Otvet, session: str) -> str:
    """The CSRF token of one session: a MAC of its login token under a key of its own purpose."""
    return sign(_csrf_key(deployment_secret(otvet.settings)), session)


def cookie_credential(otvet: Otvet, request: HTTPConnection, given: object) -> str | None:
    """``Bearer <login token>`` from the session cookie when ``given`` is its CSRF token, else None: the
    one check for every way a request may carry the token (a header, a WebSocket's ``connection_init``)."""
    session = request.cookies.get(SESSION_COOKIE)
    if not session or not isinstance(given, str) or not given:
        return None
    if not hmac.compare_digest(given, csrf_token(otvet, session)):
        return None
    return f"Bearer {session}"


def session_credential(request: HTTPConnection) -> str | None:
    """The session cookie's credential when the request carries its CSRF token in ``X-CSRF-Token``."""
    return cookie_credential(request.app.state.otvet, request, request.headers.get(CSRF_HEADER))


def set_session(response: Response, request: HTTPConnection, token: str, max_age: int) -> None:
    """The cookie: script cannot read it, same-site requests only, HTTPS-only when served over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def clear_session(response: Response, request: HTTPConnection) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=request.url.scheme == "https", samesite="strict"
    )
