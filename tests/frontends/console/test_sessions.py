"""The console's browser sessions: the cookie's flags, CSRF bound to the session, sign-in backoff, sign-out,
and API keys working as before. In process, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.frontends.graphql.client import Api
from tests.frontends.graphql.conftest import serve_api
from tests.support.providers import MockProvider

PASSWORD = "Str0ng-passw0rd!"
ME = "{ me { kind name } }"


@pytest.fixture
async def console(tmp_path: Path, db_url: str, mock_provider: MockProvider) -> AsyncIterator[Api]:
    async with serve_api(tmp_path, mock_provider, db_url) as api:
        await api.otvet.accounts.create_admin("ann", PASSWORD)
        yield api


async def sign_in(
    api: Api, password: str = PASSWORD, client: httpx.AsyncClient | None = None
) -> httpx.Response:
    return await (client or api.client).post("/admin/session", json={"username": "ann", "password": password})


async def as_session(api: Api, query: str, csrf: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"x-csrf-token": csrf} if csrf else {}
    response = await api.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.json()


async def test_signing_in_sets_a_strict_http_only_cookie_and_returns_the_csrf_token(console: Api) -> None:
    response = await sign_in(console)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["signed_in"] and body["username"] == "ann" and len(body["csrf"]) >= 40
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("otvet_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie and "Max-Age=3600" in cookie and "Secure" not in cookie  # plain HTTP here
    https = httpx.AsyncClient(transport=console.client._transport, base_url="https://otvet.test")
    async with https:
        assert "Secure" in (await sign_in(console, client=https)).headers["set-cookie"]
    whoami = (await console.client.get("/admin/session")).json()
    assert whoami == {"signed_in": True, "username": "ann", "csrf": body["csrf"]}


async def test_the_cookie_counts_only_with_its_csrf_token(console: Api) -> None:
    csrf = (await sign_in(console)).json()["csrf"]
    assert (await as_session(console, ME, csrf))["data"]["me"] == {"kind": "ADMIN", "name": "ann"}
    # The cookie alone (a request another site makes the browser send) is anonymous: it reads and changes
    # nothing an admin could.
    assert (await as_session(console, ME, None))["data"]["me"] is None
    assert (await as_session(console, ME, csrf[:-2] + "xx"))["data"]["me"] is None
    made = await as_session(console, 'mutation { createApiKey(name: "x", scopes: [ASK]) { key } }', None)
    assert made["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert [k.name for k in await console.otvet.accounts.list_api_keys()] == [
        "ask key",
        "read key",
        "admin key",
    ]
    # A form posted by another site carries no JSON: refused before anything is looked at.
    form = await console.client.post("/admin/session", data={"username": "ann", "password": PASSWORD})
    assert form.status_code == 415
    # API keys work as before, cookie or not.
    assert (await console.data(ME, key="read"))["me"]["kind"] == "API_KEY"


async def test_wrong_passwords_fail_alike_and_slow_down_after_a_few(console: Api) -> None:
    console.client.cookies.clear()
    statuses = [(await sign_in(console, "wrong")).status_code for _ in range(12)]
    assert statuses[0] == 401 and "set-cookie" not in (await sign_in(console, "wrong")).headers
    assert 429 in statuses
    locked = await sign_in(console)  # even the right password, while the account is locked
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "try again in" in locked.json()["error"]


async def test_signing_out_needs_the_csrf_token_and_ends_the_session(console: Api) -> None:
    csrf = (await sign_in(console)).json()["csrf"]
    cookie = console.client.cookies["otvet_session"]
    assert (
        await console.client.delete("/admin/session")
    ).status_code == 403  # another site cannot sign you out
    out = await console.client.delete("/admin/session", headers={"x-csrf-token": csrf})
    assert out.status_code == 204 and 'otvet_session=""' in out.headers["set-cookie"]
    assert (await console.client.get("/admin/session")).json() == {"signed_in": False}
    assert (await as_session(console, ME, csrf))["data"]["me"] is None
    # A copy of the cookie kept from before (another tab, a stolen one) is refused by the server too.
    console.client.cookies.set("otvet_session", cookie)
    again = await as_session(console, ME, csrf)
    assert again["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "signed out" in again["errors"][0]["message"]
    assert (await console.client.get("/admin/session")).json() == {"signed_in": False}


async def test_an_expired_or_outdated_session_is_signed_out(console: Api) -> None:
    csrf = (await sign_in(console)).json()["csrf"]
    await console.otvet.accounts.set_admin_password("ann", "An0ther-passw0rd!")
    assert (await as_session(console, ME, csrf))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    whoami = await console.client.get("/admin/session")
    assert whoami.json() == {"signed_in": False} and "otvet_session=" in whoami.headers["set-cookie"]


async def test_the_page_has_a_strict_policy_and_can_be_turned_off(
    console: Api, tmp_path: Path, mock_provider: MockProvider
) -> None:
    page = await console.client.get("/admin")
    assert page.status_code == 200 and '<script src="/admin/assets/console.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy
    assert (
        (await console.client.get("/admin/assets/console.js"))
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert (await console.client.get("/admin/assets/../console.html")).status_code == 404
    async with serve_api(tmp_path / "off", mock_provider, console={"enabled": False}) as off:
        assert (await off.client.get("/admin")).status_code == 404
        assert (await off.client.post("/admin/session", json={})).status_code == 404
