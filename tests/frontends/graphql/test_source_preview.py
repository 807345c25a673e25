"""A source's chunks and the versions holding it, on both databases: by name (a removed source's chunks keep
it), page by page, in one store call for a whole list, and for admins only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from otvet.core.knowledge import NewSource
from otvet.core.sources import ParsedSource, QAPair, Section
from tests.frontends.graphql.client import Api, codes

SOURCE = """query($name: String!, $version: ID, $first: Int!, $after: String) { source(name: $name) {
  name versions
  chunks(versionId: $version, first: $first, after: $after) {
    nodes { id versionId position kind title text question language }
    pageInfo { hasNextPage endCursor } } } }"""


def _guide(*texts: str) -> NewSource:
    parsed = ParsedSource("Guide", sections=[Section(text, f"Part {i}") for i, text in enumerate(texts)])
    return NewSource.from_bytes("guide.md", "markdown", parsed, "|".join(texts).encode())


def _faq(pairs: Sequence[tuple[str, str]], name: str = "faq.json") -> NewSource:
    parsed = ParsedSource("FAQ", qa_pairs=[QAPair(q, a) for q, a in pairs])
    return NewSource.from_bytes(name, "qa_json", parsed, repr(pairs).encode())


async def _add(api: Api, *sources: NewSource) -> int:
    report = await api.otvet.knowledge.add_sources(list(sources))
    assert report.version is not None and report.version.status == "active"
    return report.version.id


async def _source(api: Api, name: str, **variables: Any) -> Any:
    found = await api.data(SOURCE, {"name": name, "first": 20, **variables})
    return found["source"]


async def test_a_source_shows_its_chunks_in_the_active_version_page_by_page(api: Api) -> None:
    texts = ["Refunds take five days.", "Guests park on level minus two.", "The office opens at nine."]
    version = await _add(api, _guide(*texts), _faq([("When is lunch?", "From one to two.")]))

    guide = await _source(api, "guide.md")
    assert guide is not None and guide["versions"] == [str(version)]
    chunks = guide["chunks"]["nodes"]
    assert [(c["position"], c["kind"], c["title"], c["text"]) for c in chunks] == [
        (i, "TEXT", f"Part {i}", text) for i, text in enumerate(texts)
    ]
    assert all(c["versionId"] == str(version) and c["question"] is None for c in chunks)
    assert guide["chunks"]["pageInfo"]["hasNextPage"] is False

    first = (await _source(api, "guide.md", first=2))["chunks"]
    assert [c["position"] for c in first["nodes"]] == [0, 1] and first["pageInfo"]["hasNextPage"]
    rest = (await _source(api, "guide.md", first=2, after=first["pageInfo"]["endCursor"]))["chunks"]
    assert [c["position"] for c in rest["nodes"]] == [2] and not rest["pageInfo"]["hasNextPage"]

    faq = await _source(api, "faq.json")
    (pair,) = faq["chunks"]["nodes"]
    assert (pair["kind"], pair["question"], pair["text"]) == ("QA", "When is lunch?", "From one to two.")
    assert await _source(api, "missing.md") is None


async def test_versions_hold_a_source_by_name_even_after_it_was_removed(api: Api) -> None:
    first = await _add(api, _guide("Refunds take five days."))
    second = await _add(api, _faq([("When is lunch?", "From one to two.")]))
    removal = await api.otvet.knowledge.remove_sources(["guide.md"])
    assert removal.version is not None
    third = removal.version.id
    listed = await api.data("{ sources { name versions } }")
    assert listed == {"sources": [{"name": "faq.json", "versions": [str(third), str(second)]}]}
    # The removed source's chunks keep its name: the versions built with it still hold it.
    assert await api.otvet.store.source_versions(["guide.md", "faq.json", "nothing"]) == {
        "guide.md": [second, first],
        "faq.json": [third, second],
        "nothing": [],
    }

    # Added again, it is the same source to an admin: every version holding its name is listed.
    fourth = await _add(api, _guide("Refunds take ten days now."))
    guide = await _source(api, "guide.md")
    assert guide is not None and guide["versions"] == [str(fourth), str(second), str(first)]
    assert [c["text"] for c in guide["chunks"]["nodes"]] == ["Refunds take ten days now."]
    old = await _source(api, "guide.md", version=str(first))
    assert [c["text"] for c in old["chunks"]["nodes"]] == ["Refunds take five days."]
    assert (await _source(api, "guide.md", version=str(third)))["chunks"]["nodes"] == []
    assert (await _source(api, "guide.md", version="999999"))["chunks"]["nodes"] == []


async def test_the_versions_of_every_listed_source_come_from_one_store_call(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _add(api, *(_faq([(f"Question {i}?", f"Answer {i}.")], f"faq{i}.json") for i in range(5)))
    store = api.otvet.store
    calls: list[list[str]] = []
    original = store.source_versions

    async def counted(names: Sequence[str]) -> dict[str, list[int]]:
        calls.append(sorted(names))
        return await original(names)

    monkeypatch.setattr(store, "source_versions", counted)
    listed = (await api.data("{ sources { name versions } }"))["sources"]
    assert len(listed) == 5 and all(len(s["versions"]) == 1 for s in listed)
    assert calls == [[f"faq{i}.json" for i in range(5)]]


async def test_without_an_active_version_a_source_has_no_chunks_to_show(api: Api) -> None:
    await api.otvet.knowledge.add_sources([_guide("Refunds take five days.")], rebuild=False)
    guide = await _source(api, "guide.md")
    assert guide is not None and guide["versions"] == [] and guide["chunks"]["nodes"] == []


async def test_chunks_are_for_admins_and_refuse_bad_arguments(api: Api) -> None:
    await _add(api, _guide("Refunds take five days."))
    for key in ("read", "ask"):
        for query in ('{ source(name: "guide.md") { name } }', "{ sources { versions } }"):
            assert codes(await api.body(query, key=key)) == ["FORBIDDEN"], (key, query)
    assert codes(await api.body('{ source(name: "guide.md") { name } }', key=None)) == ["UNAUTHENTICATED"]
    for variables in ({"version": "abc"}, {"first": 0}, {"first": 101}, {"after": "nonsense"}):
        body = await api.body(SOURCE, {"name": "guide.md", "first": 20, **variables})
        assert codes(body) == ["BAD_USER_INPUT"], variables
    conversation_cursor = "Y29udmVyc2F0aW9uOjE"  # a cursor of another list is refused, not misread
    body = await api.body(SOURCE, {"name": "guide.md", "first": 20, "after": conversation_cursor})
    assert codes(body) == ["BAD_USER_INPUT"]
