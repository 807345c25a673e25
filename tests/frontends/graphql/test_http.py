"""GraphQL over HTTP: media types and status codes, authentication, transport errors, masking, switches."""

from __future__ import annotations

import logging

import pytest

from otvet.frontends.graphql.errors import INTERNAL_MESSAGE
from otvet.frontends.graphql.media import negotiate
from tests.frontends.graphql.client import GRAPHQL_RESPONSE_JSON, Api, codes
from tests.frontends.graphql.conftest import ApiFactory


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", "application/json"),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, */*", "application/json"),
        ("text/html", "application/json"),
    ],
)
def test_the_response_media_type_follows_accept(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


async def test_graphql_response_json_when_asked_for_with_400_for_request_errors(sqlite_api: Api) -> None:
    accept = {"accept": GRAPHQL_RESPONSE_JSON}
    ok = await sqlite_api.post("{ __typename }", key=None, headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert ok.json() == {"data": {"__typename": "Query"}}

    for query, code in [("{", "GRAPHQL_PARSE_FAILED"), ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED")]:
        refused = await sqlite_api.post(query, key=None, headers=accept)
        assert refused.status_code == 400, refused.text
        assert "data" not in refused.json()  # a request error: nothing was executed
        assert codes(refused.json()) == [code]

    coercion = await sqlite_api.post(
        "query Q($id: ID!) { __typename }", {"id": None}, key=None, headers=accept
    )
    assert coercion.status_code == 400 and codes(coercion.json()) == ["BAD_USER_INPUT"]


async def test_several_operations_without_an_operation_name_run_none_of_them(sqlite_api: Api) -> None:
    # The spec's GetOperation: a request error. Strawberry alone would run the first (here, a mutation).
    document = (
        'mutation Make { createApiKey(name: "stray", scopes: [ASK]) { key } } query Look { __typename }'
    )
    accept = {"accept": GRAPHQL_RESPONSE_JSON}
    refused = await sqlite_api.post(document, headers=accept)
    assert refused.status_code == 400, refused.text
    assert "data" not in refused.json() and codes(refused.json()) == ["BAD_REQUEST"]
    assert "operationName" in refused.json()["errors"][0]["message"]
    assert [key.name for key in await sqlite_api.otvet.accounts.list_api_keys()].count("stray") == 0

    named = await sqlite_api.client.post(
        "/graphql",
        json={"query": document, "operationName": "Look"},
        headers=sqlite_api.headers("admin", accept),
    )
    assert named.json() == {"data": {"__typename": "Query"}}


async def test_application_json_keeps_status_200_for_graphql_errors(sqlite_api: Api) -> None:
    refused = await sqlite_api.post("{ noSuchField }", key=None, headers={"accept": "application/json"})
    assert refused.status_code == 200
    assert refused.headers["content-type"].startswith("application/json")
    assert "data" not in refused.json() and codes(refused.json()) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_field_error_keeps_the_data_and_status_200_under_either_media_type(sqlite_api: Api) -> None:
    for accept in ("application/json", GRAPHQL_RESPONSE_JSON):
        response = await sqlite_api.post(
            "{ me { name } sources { name } }", key="read", headers={"accept": accept}
        )
        assert response.status_code == 200
        body = response.json()
        # `sources` is non-null, so the refused field nulls the whole data, which is still present.
        assert body["data"] is None and codes(body) == ["FORBIDDEN"]
        assert body["errors"][0]["path"] == ["sources"]


async def test_transport_errors_are_json_with_stable_codes(sqlite_api: Api) -> None:
    client = sqlite_api.client
    json_type = {"content-type": "application/json"}
    bad_json = await client.post("/graphql", content=b'{"query": ', headers=json_type)
    assert bad_json.status_code == 400 and codes(bad_json.json()) == ["BAD_REQUEST"]

    no_type = await client.post("/graphql", content=b'{"query": "{ __typename }"}')
    assert no_type.status_code == 400 and codes(no_type.json()) == ["BAD_REQUEST"]

    not_a_name = await client.post("/graphql", json={"query": "{ __typename }", "operationName": 7})
    assert not_a_name.status_code == 400 and "operationName" in not_a_name.json()["errors"][0]["message"]

    get_query = await client.get("/graphql", params={"query": "{ __typename }"})
    assert get_query.status_code == 200 and get_query.json() == {"data": {"__typename": "Query"}}

    get_mutation = await client.get(
        "/graphql", params={"query": 'mutation { login(username: "a", password: "b") { token } }'}
    )
    assert get_mutation.status_code == 405
    assert get_mutation.headers["allow"] == "GET, POST"
    assert codes(get_mutation.json()) == ["METHOD_NOT_ALLOWED"]

    put = await client.put("/graphql", json={"query": "{ __typename }"})
    assert put.status_code == 405


async def test_a_bad_credential_is_401_before_anything_runs(sqlite_api: Api) -> None:
    for credential in ("Bearer otv_deadbeef_nope", "Bearer not-a-token", "Basic dXNlcjpwYXNz"):
        response = await sqlite_api.post("{ __typename }", key=credential)
        assert response.status_code == 401, credential
        assert response.headers["www-authenticate"] == 'Bearer realm="otvet"'
        assert "data" not in response.json() and codes(response.json()) == ["UNAUTHENTICATED"]


async def test_a_revoked_key_is_refused(sqlite_api: Api) -> None:
    assert (await sqlite_api.data("{ me { name } }", key="ask"))["me"]["name"] == "ask key"
    keys = await sqlite_api.otvet.accounts.list_api_keys()
    await sqlite_api.otvet.accounts.revoke_api_key(next(k.id for k in keys if k.name == "ask key"))
    response = await sqlite_api.post("{ me { name } }", key="ask")
    assert response.status_code == 401 and codes(response.json()) == ["UNAUTHENTICATED"]


async def test_over_the_per_key_rate_limit_is_429_with_retry_after(api_with: ApiFactory) -> None:
    async with api_with(api={"requests_per_minute": 2}) as api:
        for _ in range(2):
            assert (await api.post("{ __typename }", key="ask")).status_code == 200
        refused = await api.post("{ __typename }", key="ask")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["retryAfter"] > 0
        # Another key has its own allowance; anonymous requests are not counted.
        assert (await api.post("{ __typename }", key="read")).status_code == 200
        assert (await api.post("{ __typename }", key=None)).status_code == 200


async def test_unexpected_errors_are_masked_and_logged(
    sqlite_api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> list[object]:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(sqlite_api.otvet.store, "list_sources", broken)
    with caplog.at_level(logging.ERROR, logger="otvet.frontends.graphql"):
        response = await sqlite_api.post("{ sources { name } }")
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == INTERNAL_MESSAGE
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in response.text and "Traceback" not in response.text
    # The operator gets the details.
    assert any("hunter2" in record.getMessage() and record.exc_info for record in caplog.records)


async def test_graphiql_is_served_to_browsers_and_can_be_turned_off(
    sqlite_api: Api, api_with: ApiFactory
) -> None:
    page = await sqlite_api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    async with api_with(graphql={"graphiql": False}) as api:
        off = await api.client.get("/graphql", headers={"accept": "text/html"})
        assert off.status_code == 404
        assert "GraphiQL is turned off" in off.json()["errors"][0]["message"]
        assert (await api.data("{ __typename }", key=None)) == {"__typename": "Query"}
        assert (await api.client.get("/graphiql/react-18.2.0.production.min.js")).status_code == 404


async def test_graphiqls_assets_come_from_the_package_compressed_and_cached(sqlite_api: Api) -> None:
    bundle = await sqlite_api.client.get(
        "/graphiql/graphiql-3.8.3.min.js", headers={"accept-encoding": "gzip"}
    )
    assert bundle.status_code == 200 and bundle.headers["content-encoding"] == "gzip"
    assert bundle.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert b"GraphiQL" in bundle.content  # httpx decompressed it, as a browser does
    plain = await sqlite_api.client.get(
        "/graphiql/graphiql-3.8.3.min.css", headers={"accept-encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and plain.headers["content-type"].startswith("text/css")
    assert (await sqlite_api.client.get("/graphiql/../../pyproject.toml")).status_code == 404
    assert (await sqlite_api.client.get("/graphiql/index.html")).status_code == 404  # only the listed assets


async def test_introspection_can_be_turned_off_but_typename_still_works(api_with: ApiFactory) -> None:
    async with api_with(graphql={"introspection": False}) as api:
        body = await api.body("{ __schema { queryType { name } } }", key=None)
        assert "data" not in body and codes(body) == ["INTROSPECTION_DISABLED"]
        body = await api.body('{ __type(name: "Query") { name } }', key=None)
        assert codes(body) == ["INTROSPECTION_DISABLED"]
        assert await api.data("{ __typename }", key=None) == {"__typename": "Query"}
        # No "did you mean" hints either: they would reveal the schema.
        body = await api.body("{ source { name } }", key=None)
        assert "Did you mean" not in body["errors"][0]["message"]


async def test_me_is_null_without_a_credential_and_describes_the_caller(sqlite_api: Api) -> None:
    assert await sqlite_api.data("{ me { name } }", key=None) == {"me": None}
    me = (await sqlite_api.data("{ me { kind name scopes } }", key="read"))["me"]
    assert me == {"kind": "API_KEY", "name": "read key", "scopes": ["READ"]}
