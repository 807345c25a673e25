"""The console's HTTP side: its page and files, and the session endpoints (sign in, who am I, sign out).

Everything else the console does goes through the public GraphQL API with the session cookie and its CSRF
token (frontends/sessions.py), so integrators can do the same with an API key.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from otvet.core.accounts import AuthError
from otvet.frontends.sessions import (
    CSRF_HEADER,
    SESSION_COOKIE,
    clear_session,
    csrf_token,
    session_credential,
    set_session,
)
from otvet.frontends.untrusted import load_json

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: The page's policy: its own script and stylesheet, its own API, nothing inline, no framing.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
FILES = {"console.js": "text/javascript", "console.css": "text/css"}
_NO_STORE = {"Cache-Control": "no-store"}


@cache
def _read(name: str) -> bytes:
    return resources.files("otvet.frontends.console").joinpath("static", name).read_bytes()


async def page(request: Request) -> Response:
    headers = {"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"}
    return Response(_read("console.html"), media_type="text/html; charset=utf-8", headers=headers)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in FILES:
        return JSONResponse({"error": "not found"}, status_code=404)
    return Response(_read(name), media_type=FILES[name], headers={"Cache-Control": "no-cache"})


class Sessions:
    """``/admin/session``: POST signs in (a cookie and its CSRF token), GET says who is signed in, DELETE
    signs out. Sign-in attempts are limited per address and per account (by the accounts, with the same
    budgets as GraphQL's `login`: guesses cannot be spread over both)."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet

    async def endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.sign_in(request)
        if request.method == "DELETE":
            return await self.sign_out(request)
        return await self.whoami(request)

    async def sign_in(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            # A form another site posts is not JSON: refused before anything is checked.
            return _error(415, "send the username and password as JSON")
        try:
            body = load_json(await request.body())
        except ValueError as exc:
            return _error(400, str(exc))
        username, password = (
            body.get(k) if isinstance(body, dict) else None for k in ("username", "password")
        )
        if not isinstance(username, str) or not isinstance(password, str):
            return _error(400, "give a username and a password")
        client = request.client.host if request.client else "unknown"
        try:
            login = await self.otvet.accounts.login(username, password, client)
        except AuthError as exc:
            if exc.code != "rate_limited":
                return _error(401, exc.message)
            message = exc.message
            if exc.limited_by == "address" and exc.retry_after is not None:  # the console's word is sign in
                wait = math.ceil(exc.retry_after)
                message = f"too many sign-in attempts from this address: try again in {wait} s"
            return _error(429, message, exc.retry_after)
        response = JSONResponse(
            {
                "signed_in": True,
                "username": login.username,
                "csrf": csrf_token(self.otvet, login.token),
                "expires_at": login.expires_at.isoformat(),
            },
            headers=_NO_STORE,
        )
        set_session(response, request, login.token, self.otvet.settings.api.token_ttl_seconds)
        return response

    async def whoami(self, request: Request) -> Response:
        """Who the cookie signs in, and the CSRF token again (a reloaded page has lost it). Needs no CSRF
        token itself: another site cannot read the answer (no CORS for it), and it changes nothing."""
        token = request.cookies.get(SESSION_COOKIE)
        principal = None
        if token:
            try:
                principal = await self.otvet.accounts.authenticate(f"Bearer {token}")
            except AuthError:
                principal = None
        if token is None or principal is None or principal.kind != "admin":
            # Not an error for the page, which asks this on every load: it shows the sign-in form.
            response = JSONResponse({"signed_in": False}, headers=_NO_STORE)
            if token:
                clear_session(response, request)  # expired, or its password changed since
            return response
        body = {"signed_in": True, "username": principal.name, "csrf": csrf_token(self.otvet, token)}
        return JSONResponse(body, headers=_NO_STORE)

    async def sign_out(self, request: Request) -> Response:
        credential = session_credential(request)
        if credential is None:
            return _error(403, f"signing out needs the session's {CSRF_HEADER} header")
        # Refused by every replica from now on, not only forgotten by this browser.
        await self.otvet.accounts.logout(credential)
        response = Response(status_code=204, headers=_NO_STORE)
        clear_session(response, request)
        return response


def _error(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    headers = dict(_NO_STORE)
    if retry_after is not None:
        body["retry_after"] = round(retry_after, 3)
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(body, status_code=status, headers=headers)
