"""Remembering parsed and validated documents (frontends/graphql/documents.py) never lets a refused
operation through: what a repeated document is checked against stays exactly what a new one would be."""

from __future__ import annotations

from otvet.frontends.graphql.documents import Lru
from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.conftest import ApiFactory

PAGED = "query($n: Int) { conversations(first: $n) { nodes { messages(first: $n) { nodes { text } } } } }"
NESTED = "{ conversations { nodes { messages { nodes { sources { title } } } } } }"  # 6 levels


async def test_a_document_that_passed_with_small_pages_is_refused_with_large_ones(sqlite_api: Api) -> None:
    for _ in range(2):  # the second time from the cache
        assert await sqlite_api.data(PAGED, {"n": 10}) == {"conversations": {"nodes": []}}
    assert codes(await sqlite_api.body(PAGED, {"n": 100})) == ["QUERY_TOO_COMPLEX"]
    # Without a number the page counts as the largest: refused too, whatever passed before.
    assert codes(await sqlite_api.body(PAGED, {})) == ["QUERY_TOO_COMPLEX"]
    assert codes(await sqlite_api.body(PAGED, {"n": True})) != []
    assert await sqlite_api.data(PAGED, {"n": 10}) == {"conversations": {"nodes": []}}


async def test_a_document_valid_under_one_server_s_limits_is_checked_again_under_stricter_ones(
    sqlite_api: Api, api_with: ApiFactory
) -> None:
    assert await sqlite_api.data(NESTED) == {"conversations": {"nodes": []}}
    async with api_with(graphql={"max_depth": 5}) as strict:
        assert codes(await strict.body(NESTED)) == ["QUERY_TOO_DEEP"]
    async with api_with(graphql={"introspection": False}) as closed:
        assert codes(await closed.body("{ __schema { queryType { name } } }")) == ["INTROSPECTION_DISABLED"]


async def test_an_invalid_document_is_refused_every_time_with_its_own_error(sqlite_api: Api) -> None:
    wrong = "{ conversations { nodes { nosuchfield } } }"
    first, second = await sqlite_api.body(wrong), await sqlite_api.body(wrong)
    assert codes(first) == codes(second) == ["GRAPHQL_VALIDATION_FAILED"]
    assert first["errors"] == second["errors"]
    assert "nosuchfield" in first["errors"][0]["message"]
    # A syntax error is not remembered as a document either.
    for _ in range(2):
        assert codes(await sqlite_api.body("{ conversations { ")) == ["GRAPHQL_PARSE_FAILED"]


def test_the_cache_holds_a_bounded_number_of_documents() -> None:
    # A client sending endless distinct documents must not grow the server's memory.
    lru: Lru[str, int] = Lru(3)
    for n in range(10):
        lru.put(f"doc {n}", n)
    assert len(lru) == 3
    assert lru.get("doc 0") is None and lru.get("doc 9") == 9
    lru.get("doc 7")  # used: kept over doc 8
    lru.put("doc 10", 10)
    assert lru.get("doc 7") == 7 and lru.get("doc 8") is None
