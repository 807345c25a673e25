"""CSRF and CORS: another site's page cannot change anything, nor read an API answer unless allowed.

A cross-site page can make a browser send GET requests, and POSTs whose body is a form or ``text/plain``
(the "simple requests" that need no preflight), with the site's cookies. So: no state change through GET
anywhere, no simple-request body runs a mutation, no API sets a cookie or reads one as a credential (the
admin console's session cookie counts only with its CSRF token: tests/frontends/console), and CORS
(``OTVET_API__CORS_ORIGINS``) answers only the listed origins, on the API paths only.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.conftest import ApiFactory
from tests.security.payloads import TOUR, table_counts

#: State-changing operations a cross-site page would want to run.
MUTATIONS = [
    'mutation { createApiKey(name: "csrf", scopes: [ADMIN]) { key } }',
    'mutation { createAdmin(username: "csrf", password: "a long enough password") { id } }',
    'mutation { addTextSource(name: "csrf", text: "planted") { added } }',
    'mutation { removeSources(names: ["a"]) { removed } }',
    'mutation { ask(input: {question: "spend tokens"}) { __typename } }',
]


@pytest.mark.parametrize("mutation", MUTATIONS)
async def test_mutations_over_get_are_refused_and_change_nothing(sqlite_api: Api, mutation: str) -> None:
    before = await table_counts(sqlite_api.otvet)
    response = await sqlite_api.client.get(
        "/graphql", params={"query": mutation}, headers=sqlite_api.headers("admin")
    )
    assert response.status_code == 405 and codes(response.json()) == ["METHOD_NOT_ALLOWED"]
    assert await table_counts(sqlite_api.otvet) == before


def _post_only_paths(api: Api) -> list[str]:
    paths = []
    for route, _owner in api.otvet.route_owners:
        if isinstance(route, Route) and route.methods and "GET" not in route.methods:
            paths.append(route.path)
    return paths


async def test_every_post_route_refuses_get(sqlite_api: Api) -> None:
    paths = _post_only_paths(sqlite_api)
    assert {"/v1/chat/completions", "/telegram/webhook"} <= set(paths), paths
    for path in paths:
        response = await sqlite_api.client.get(
            path, params={"model": "otvet"}, headers=sqlite_api.headers("admin")
        )
        assert response.status_code == 405, (path, response.text)
        assert "set-cookie" not in response.headers


MUTATION_BODY = json.dumps({"query": MUTATIONS[0]})


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("text/plain", MUTATION_BODY, id="text-plain-json"),
        pytest.param("text/plain;charset=UTF-8", MUTATION_BODY, id="text-plain-charset"),
        pytest.param("application/x-www-form-urlencoded", f"query={MUTATIONS[0]}", id="form"),
        pytest.param(
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{MUTATION_BODY}\r\n--x--\r\n',
            id="multipart-without-preflight",
        ),
    ],
)
async def test_simple_request_bodies_never_run_a_mutation(
    sqlite_api: Api, content_type: str, body: str
) -> None:
    """What an HTML form or a no-preflight fetch() can send; even with a credential (which they cannot
    add) nothing runs."""
    before = await table_counts(sqlite_api.otvet)
    headers = sqlite_api.headers("admin", {"content-type": content_type, "origin": "https://evil.example"})
    response = await sqlite_api.client.post("/graphql", content=body.encode(), headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert "data" not in response.json() or response.json()["data"] is None
    assert await table_counts(sqlite_api.otvet) == before


async def test_the_openai_endpoint_refuses_a_form_post_without_a_bearer_header(sqlite_api: Api) -> None:
    body = json.dumps({"model": "otvet", "messages": [{"role": "user", "content": "spend tokens"}]})
    key = sqlite_api.keys["ask"]
    before = await table_counts(sqlite_api.otvet)
    response = await sqlite_api.client.post(
        "/v1/chat/completions",
        content=body.encode(),
        headers={"content-type": "text/plain", "cookie": f"token={key}; authorization=Bearer {key}"},
    )
    assert response.status_code == 401
    assert await table_counts(sqlite_api.otvet) == before


# --- no cookies ------------------------------------------------------------------------------------------


#: A tour of every endpoint: (method, path, JSON body or None, credential scope or None).
async def test_no_response_sets_a_cookie(sqlite_api: Api) -> None:
    statuses = []
    for method, path, body, scope in TOUR:
        response = await sqlite_api.client.request(method, path, json=body, headers=sqlite_api.headers(scope))
        statuses.append(response.status_code)
        assert "set-cookie" not in response.headers, (method, path)
    # The tour reached real answers, refusals and a 404: not one kind of response only.
    assert {200, 401, 404} <= set(statuses), statuses


async def test_a_credential_in_a_cookie_is_anonymous(sqlite_api: Api) -> None:
    key = sqlite_api.keys["admin"]
    jar = f"token={key}; session={key}; authorization=Bearer%20{key}; otvet={key}; otvet_session={key}"
    cookie = {"cookie": jar}
    me = await sqlite_api.client.post("/graphql", json={"query": "{ me { name } }"}, headers=cookie)
    assert me.json() == {"data": {"me": None}}
    sources = await sqlite_api.client.post("/graphql", json={"query": "{ sources { name } }"}, headers=cookie)
    assert codes(sources.json()) == ["UNAUTHENTICATED"]
    models = await sqlite_api.client.get("/v1/models", headers=cookie)
    assert models.status_code == 401


# --- CORS ------------------------------------------------------------------------------------------------

ALLOWED = "https://app.example"
EVIL = "https://evil.example"


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type",
    }


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


@pytest.mark.parametrize("path", ["/graphql", "/v1/chat/completions", "/v1/models"])
async def test_without_configured_origins_there_are_no_cors_headers(sqlite_api: Api, path: str) -> None:
    for origin in (ALLOWED, EVIL, "null"):
        options = await sqlite_api.client.options(path, headers=preflight(origin))
        assert _cors_headers(options) == {} and options.status_code == 405
        answer = await sqlite_api.client.post(
            path, json={"query": "{ __typename }"}, headers={"origin": origin, **sqlite_api.headers("admin")}
        )
        assert _cors_headers(answer) == {}


@pytest.fixture
async def cors_api(api_with: ApiFactory) -> Any:
    async with api_with(api={"requests_per_minute": 0, "cors_origins": [ALLOWED + "/"]}) as api:
        yield api


async def test_a_configured_origin_may_call_the_apis(cors_api: Api) -> None:
    for path in ("/graphql", "/v1/chat/completions"):
        options = await cors_api.client.options(path, headers=preflight(ALLOWED))
        assert options.status_code == 200
        headers = _cors_headers(options)
        assert headers["access-control-allow-origin"] == ALLOWED
        assert {"authorization", "content-type"} <= set(headers["access-control-allow-headers"].split(", "))
        assert "access-control-allow-credentials" not in headers, "no cookies: no credentialed CORS"
    answer = await cors_api.post("{ me { name } }", headers={"origin": ALLOWED})
    assert answer.json() == {"data": {"me": {"name": "admin key"}}}
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "retry-after" in answer.headers["access-control-expose-headers"]


async def test_other_origins_get_no_cors_headers_and_their_mutation_preflight_fails(cors_api: Api) -> None:
    before = await table_counts(cors_api.otvet)
    for origin in (EVIL, "null", ALLOWED + ".evil.example", "http://app.example"):
        options = await cors_api.client.options("/graphql", headers=preflight(origin))
        assert "access-control-allow-origin" not in options.headers, origin
        assert options.status_code == 400
        answer = await cors_api.post(MUTATIONS[0], headers={"origin": origin})
        # The server answers (a request with a credential is not CSRF), but the browser shows nothing.
        assert "access-control-allow-origin" not in answer.headers, origin
    assert await table_counts(cors_api.otvet) == {
        **before,
        "otvet_api_key": before["otvet_api_key"] + 4,
    }


async def test_cors_covers_the_apis_only(cors_api: Api) -> None:
    for path in ("/", "/healthz", "/widget.js", "/metrics"):
        response = await cors_api.client.get(path, headers={"origin": ALLOWED})
        assert _cors_headers(response) == {}, path
        options = await cors_api.client.options(path, headers=preflight(ALLOWED, "GET"))
        assert _cors_headers(options) == {}, path
