"""Candidate training data over GraphQL: a liked answer and a correction reviewed into the knowledge base."""

from __future__ import annotations

from typing import Any

from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.test_mutations import INGEST, ask
from tests.support.providers import MockProvider

CANDIDATE = "id question answer origin messageId language status createdBy reviewedBy reviewedAt createdAt"
LIST = f"""query($status: CandidateStatus, $first: Int!, $after: String) {{
  candidates(status: $status, first: $first, after: $after) {{
    nodes {{ {CANDIDATE} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
RATE = "mutation($m: ID!, $v: Int!) { sendFeedback(messageId: $m, value: $v) }"
CORRECT = f"mutation($m: ID!, $a: String!) {{ correctAnswer(messageId: $m, answer: $a) {{ {CANDIDATE} }} }}"
APPROVE = f"""mutation($ids: [ID!]!, $rebuild: Boolean!) {{ approveCandidates(ids: $ids, rebuild: $rebuild) {{
  candidates {{ id status reviewedBy }} ingest {{ {INGEST} }} }} }}"""
REJECT = f"""mutation($ids: [ID!]!) {{ rejectCandidates(ids: $ids) {{
  candidates {{ id status }} ingest {{ {INGEST} }} }} }}"""


async def candidates(
    api: Api, status: str | None = "PENDING", first: int = 20, after: str | None = None
) -> Any:
    variables = {"status": status, "first": first, "after": after}
    return (await api.data(LIST, variables))["candidates"]


async def _knowledge(api: Api) -> None:
    add = """mutation { addTextSource(name: "hours.md", text: "The office opens at nine.") { added } }"""
    await api.data(add)


async def test_a_liked_answer_is_listed_approved_and_then_rejected(
    api: Api, mock_provider: MockProvider
) -> None:
    await _knowledge(api)
    mock_provider.then("The office opens at nine [1].", cited=(0,))
    answer = await ask(api, "When does the office open?")
    assert answer["sources"], answer
    assert await api.data(RATE, {"m": answer["messageId"], "v": 1}, key="ask") == {"sendFeedback": True}

    page = await candidates(api)
    [candidate] = page["nodes"]
    assert candidate["question"] == "When does the office open?"
    assert candidate["answer"] == "The office opens at nine."
    assert (candidate["origin"], candidate["status"], candidate["messageId"]) == (
        "RATING",
        "PENDING",
        answer["messageId"],
    )
    assert candidate["createdBy"].startswith("graphql:key:")

    approved = (await api.data(APPROVE, {"ids": [candidate["id"]], "rebuild": True}))["approveCandidates"]
    assert approved["candidates"] == [
        {"id": candidate["id"], "status": "APPROVED", "reviewedBy": "key:admin key"}
    ]
    assert approved["ingest"]["added"] == ["otvet-feedback:approved"]
    assert approved["ingest"]["version"]["status"] == "ACTIVE"
    assert (await candidates(api))["nodes"] == []
    assert [c["id"] for c in (await candidates(api, "APPROVED"))["nodes"]] == [candidate["id"]]

    again = (await api.data(APPROVE, {"ids": [candidate["id"]], "rebuild": True}))["approveCandidates"]
    assert again["ingest"]["unchanged"] == ["otvet-feedback:approved"] and again["ingest"]["version"] is None

    rejected = (await api.data(REJECT, {"ids": [candidate["id"]]}))["rejectCandidates"]
    assert rejected["candidates"] == [{"id": candidate["id"], "status": "REJECTED"}]
    assert rejected["ingest"]["removed"] == ["otvet-feedback:approved"] and rejected["ingest"]["version"]


async def test_a_correction_and_paging_through_every_status(
    sqlite_api: Api, mock_provider: MockProvider
) -> None:
    await _knowledge(sqlite_api)
    ids = []
    for n in range(3):
        answer = await ask(sqlite_api, f"Question number {n}?")
        corrected = await sqlite_api.data(CORRECT, {"m": answer["messageId"], "a": f" Answer {n}. "})
        candidate = corrected["correctAnswer"]
        assert (candidate["origin"], candidate["answer"]) == ("CORRECTION", f"Answer {n}.")
        assert candidate["createdBy"] == "key:admin key"
        ids.append(candidate["id"])
    await sqlite_api.data(APPROVE, {"ids": [ids[0]], "rebuild": False})

    first = await candidates(sqlite_api, None, first=2)
    assert [c["id"] for c in first["nodes"]] == ids[:2] and first["pageInfo"]["hasNextPage"]
    rest = await candidates(sqlite_api, None, first=2, after=first["pageInfo"]["endCursor"])
    assert [c["id"] for c in rest["nodes"]] == ids[2:] and not rest["pageInfo"]["hasNextPage"]
    assert [c["id"] for c in (await candidates(sqlite_api))["nodes"]] == ids[1:]


async def test_unknown_ids_and_bad_input_are_refused(sqlite_api: Api) -> None:
    await _knowledge(sqlite_api)
    answer = await ask(sqlite_api, "Anything?")
    body = await sqlite_api.body(APPROVE, {"ids": ["4242"], "rebuild": True})
    assert codes(body) == ["NOT_FOUND"] and "4242" in body["errors"][0]["message"]
    body = await sqlite_api.body(CORRECT, {"m": "9999", "a": "An answer."})
    assert codes(body) == ["NOT_FOUND"]
    body = await sqlite_api.body(CORRECT, {"m": answer["messageId"], "a": "  "})
    assert codes(body) == ["BAD_USER_INPUT"]
    question_id = str(int(answer["messageId"]) - 1)
    body = await sqlite_api.body(CORRECT, {"m": question_id, "a": "An answer."})
    assert codes(body) == ["BAD_USER_INPUT"] and "question" in body["errors"][0]["message"]
    body = await sqlite_api.body(APPROVE, {"ids": [], "rebuild": True})
    assert codes(body) == ["BAD_USER_INPUT"]
    # Reviewing needs the admin scope.
    body = await sqlite_api.body(LIST, {"status": None, "first": 5}, key="read")
    assert codes(body) == ["FORBIDDEN"]
