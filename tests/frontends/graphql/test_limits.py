"""Abuse limits refuse abusive documents before anything runs, each with a clear message and a stable code."""

from __future__ import annotations

from tests.frontends.graphql.client import GRAPHQL_RESPONSE_JSON, Api, codes
from tests.frontends.graphql.conftest import ApiFactory

NESTED = "{ conversations { nodes { messages { nodes { sources { title } } } } } }"  # 6 levels


async def test_a_query_deeper_than_the_limit_is_refused(api_with: ApiFactory) -> None:
    async with api_with(graphql={"max_depth": 5}) as api:
        body = await api.body(NESTED)
        assert "data" not in body and codes(body) == ["QUERY_TOO_DEEP"]
        error = body["errors"][0]
        assert error["message"] == "The operation is 6 levels deep; the limit is 5."
        assert error["extensions"] == {"code": "QUERY_TOO_DEEP", "depth": 6, "maxDepth": 5}
        # Fragments count where they are spread, and introspection is not counted.
        hidden = (
            "{ conversations { ...C } } "
            "fragment C on ConversationConnection { nodes { messages { nodes { sources { title } } } } }"
        )
        assert codes(await api.body(hidden)) == ["QUERY_TOO_DEEP"]
        introspection = "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }"
        assert (await api.body(introspection))["data"]


async def test_the_default_depth_admits_every_query_the_schema_allows(sqlite_api: Api) -> None:
    assert await sqlite_api.data(NESTED) == {"conversations": {"nodes": []}}


async def test_too_many_aliases_are_refused(sqlite_api: Api) -> None:
    fifteen = " ".join(f"a{i}: __typename" for i in range(15))
    assert len(await sqlite_api.data(f"{{ {fifteen} }}", key=None)) == 15
    body = await sqlite_api.body(f"{{ {fifteen} extra: me {{ name }} }}", key=None)
    assert codes(body) == ["TOO_MANY_ALIASES"]
    assert body["errors"][0]["message"] == "The document uses 16 aliases; the limit is 15."


async def test_a_costly_query_is_refused_with_its_cost(sqlite_api: Api) -> None:
    costly = "{ conversations(first: 100) { nodes { messages(first: 100) { nodes { text } } } } }"
    body = await sqlite_api.body(costly)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 20201, "maxCost": 20000}
    assert "smaller pages" in body["errors"][0]["message"]
    # A page size in a variable counts as its value.
    by_variable = (
        "query($n: Int!) { conversations(first: $n) { nodes { messages(first: $n) { nodes { text } } } } }"
    )
    assert codes(await sqlite_api.body(by_variable, {"n": 100})) == ["QUERY_TOO_COMPLEX"]
    assert await sqlite_api.data(by_variable, {"n": 10}) == {"conversations": {"nodes": []}}


async def test_aliases_and_fragments_cannot_multiply_work_unnoticed(sqlite_api: Api) -> None:
    # Each fragment spreads the next one twice: 2^40 fields if expanded. Refused, and quickly (the check
    # computes each fragment once; a naive one would not finish before the test's timeout).
    fragments = (
        "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(40))
        + "fragment F40 on Query { conversations(first: 100) { nodes { id } } }"
    )
    body = await sqlite_api.body(f"{{ ...F0 }}\n{fragments}")
    assert "QUERY_TOO_COMPLEX" in codes(body)


async def test_a_document_with_too_many_tokens_is_refused_by_the_parser(sqlite_api: Api) -> None:
    huge = "{ " + " ".join("__typename" for _ in range(2100)) + " }"
    body = await sqlite_api.body(huge, key=None)
    assert codes(body) == ["QUERY_TOO_LARGE"] and "tokens" in body["errors"][0]["message"]


async def test_a_huge_body_is_refused_with_413_before_it_is_parsed(sqlite_api: Api) -> None:
    client = sqlite_api.client
    garbage = b"{" + b"x" * 200_000  # not even JSON: refused for its size, unread
    declared = await client.post("/graphql", content=garbage, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and codes(declared.json()) == ["PAYLOAD_TOO_LARGE"]
    assert "131072 bytes" in declared.json()["errors"][0]["message"]

    async def chunks():  # no Content-Length: counted while it arrives
        for _ in range(100):
            yield b"x" * 2000

    streamed = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


async def test_a_query_string_longer_than_the_body_limit_is_414(api_with: ApiFactory) -> None:
    async with api_with(graphql={"max_body_bytes": 1024}) as api:
        assert (await api.client.get("/graphql", params={"query": "{ __typename }"})).status_code == 200
        long_url = await api.client.get("/graphql", params={"query": "{ __typename }", "x": "y" * 2000})
        assert long_url.status_code == 414 and codes(long_url.json()) == ["PAYLOAD_TOO_LARGE"]


async def test_limit_errors_are_400_under_graphql_response_json(sqlite_api: Api) -> None:
    costly = "{ conversations(first: 100) { nodes { messages(first: 100) { nodes { text } } } } }"
    response = await sqlite_api.post(costly, headers={"accept": GRAPHQL_RESPONSE_JSON})
    assert response.status_code == 400 and "data" not in response.json()
    assert codes(response.json()) == ["QUERY_TOO_COMPLEX"]


async def test_limits_are_settings(api_with: ApiFactory) -> None:
    async with api_with(graphql={"max_aliases": 1, "max_cost": 5, "max_tokens": 100}) as api:
        assert codes(await api.body("{ a: me { name } b: me { name } }")) == ["TOO_MANY_ALIASES"]
        assert codes(await api.body("{ sources { name title } }")) == ["QUERY_TOO_COMPLEX"]
        assert codes(await api.body("{ " + "__typename " * 120 + "}")) == ["QUERY_TOO_LARGE"]
        assert await api.data("{ me { name } }") == {"me": {"name": "admin key"}}
