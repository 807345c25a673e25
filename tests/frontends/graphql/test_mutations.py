"""Mutations: asking, rating and resetting; logging in; the knowledge base; API keys and admins."""

from __future__ import annotations

from typing import Any

import pytest

from otvet.core.jobs import Worker
from otvet.frontends.graphql import uploads
from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.conftest import ApiFactory
from tests.support.providers import MockProvider
from tests.support.web import Page, WebServer

ASK = """mutation($input: AskInput!) { ask(input: $input) {
  __typename
  ... on Answer { text language provider grounded fallback conversationId messageId latencyMs
                  usage { promptTokens completionTokens totalTokens } sources { title } }
  ... on AnswerFailure { code message language retryAfter conversationId }
} }"""
INGEST = "added updated unchanged removed version { id status sourceCount chunkCount }"


async def ask(api: Api, question: str, key: str = "ask", **fields: Any) -> dict[str, Any]:
    return (await api.data(ASK, {"input": {"question": question, **fields}}, key=key))["ask"]


async def test_ask_answers_with_language_usage_and_ids(sqlite_api: Api, mock_provider: MockProvider) -> None:
    mock_provider.then("Bonjour", " tout le monde")
    answer = await ask(sqlite_api, "How are you today?")
    assert answer["__typename"] == "Answer"
    assert answer["text"] == "Bonjour tout le monde" and answer["language"] == "en"
    assert answer["provider"] == "mock" and answer["fallback"] is False
    usage = answer["usage"]
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"] > 0
    assert answer["conversationId"] and answer["messageId"]
    assert mock_provider.requests[-1].question == "How are you today?"


async def test_ask_in_a_chosen_language_and_a_refused_unknown_one(sqlite_api: Api) -> None:
    assert (await ask(sqlite_api, "Hello there", language="ru"))["language"] == "ru"
    body = await sqlite_api.body(ASK, {"input": {"question": "Hi", "language": "xx"}}, key="ask")
    assert codes(body) == ["BAD_USER_INPUT"] and "xx" in body["errors"][0]["message"]


async def test_a_failed_turn_is_an_answer_failure_with_its_stable_code(sqlite_api: Api) -> None:
    failure = await ask(sqlite_api, "   ")
    assert failure["__typename"] == "AnswerFailure" and failure["code"] == "empty_question"
    assert failure["message"] and failure["retryAfter"] is None


async def test_a_quota_refusal_carries_retry_after(api_with: ApiFactory) -> None:
    async with api_with(quotas={"user_requests_per_minute": 1}) as api:
        assert (await ask(api, "first"))["__typename"] == "Answer"
        refused = await ask(api, "second")
        assert refused["__typename"] == "AnswerFailure" and refused["code"] == "user_rate_limited"
        assert refused["retryAfter"] > 0
        # The quota is per end user: another user of the same key may still ask.
        assert (await ask(api, "third", userId="someone-else"))["__typename"] == "Answer"


async def test_end_users_of_two_keys_never_share_a_conversation(sqlite_api: Api) -> None:
    mine = await ask(sqlite_api, "one", userId="42")
    again = await ask(sqlite_api, "two", userId="42")
    theirs = await ask(sqlite_api, "three", key="admin", userId="42")
    assert mine["conversationId"] == again["conversationId"] != theirs["conversationId"]
    body = await sqlite_api.body(ASK, {"input": {"question": "q", "userId": " "}}, key="ask")
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_feedback_only_on_answers_of_ones_own_conversations(sqlite_api: Api) -> None:
    answer = await ask(sqlite_api, "question", userId="u1")
    rate = 'mutation($m: ID!, $v: Int!) { sendFeedback(messageId: $m, value: $v, comment: "thanks") }'
    done = {"sendFeedback": True}
    assert await sqlite_api.data(rate, {"m": answer["messageId"], "v": 1}, key="ask") == done
    assert await sqlite_api.data(rate, {"m": answer["messageId"], "v": -1}, key="ask") == done
    (stored,) = await sqlite_api.otvet.store.list_feedback()
    assert (stored.value, stored.comment) == (-1, "thanks")  # the second rating replaced the first

    other_key, _ = await sqlite_api.otvet.accounts.create_api_key("other", ["ask"])
    sqlite_api.keys["other"] = other_key
    for message, value, code in [
        (answer["messageId"], 1, "NOT_FOUND"),  # someone else's answer looks like no answer
        ("999999", 1, "NOT_FOUND"),
    ]:
        body = await sqlite_api.body(rate, {"m": message, "v": value}, key="other")
        assert codes(body) == [code]
    two = await sqlite_api.body(rate, {"m": answer["messageId"], "v": 2}, key="ask")
    assert codes(two) == ["BAD_USER_INPUT"]
    question_id = str(int(answer["messageId"]) - 1)
    assert codes(await sqlite_api.body(rate, {"m": question_id, "v": 1}, key="ask")) == ["BAD_USER_INPUT"]
    # An admin may rate any answer.
    assert await sqlite_api.data(rate, {"m": answer["messageId"], "v": 1}, key="admin") == done


async def test_reset_starts_a_new_conversation(sqlite_api: Api) -> None:
    reset = "mutation($u: String) { resetConversation(userId: $u) }"
    first = await ask(sqlite_api, "one", userId="u")
    assert await sqlite_api.data(reset, {"u": "u"}, key="ask") == {"resetConversation": True}
    assert await sqlite_api.data(reset, {"u": "u"}, key="ask") == {"resetConversation": False}
    assert (await ask(sqlite_api, "two", userId="u"))["conversationId"] != first["conversationId"]


async def test_login_gives_a_token_that_acts_as_the_admin(sqlite_api: Api) -> None:
    await sqlite_api.otvet.accounts.create_admin("root", "correct horse battery")
    login = 'mutation($p: String!) { login(username: "root", password: $p) { token expiresAt } }'
    token = (await sqlite_api.data(login, {"p": "correct horse battery"}, key=None))["login"]["token"]
    me = await sqlite_api.data("{ me { kind name scopes } }", key=token)
    assert me == {"me": {"kind": "ADMIN", "name": "root", "scopes": ["ASK", "READ", "ADMIN"]}}
    wrong = await sqlite_api.body(login, {"p": "wrong password!!"}, key=None)
    assert wrong["data"] is None and codes(wrong) == ["UNAUTHENTICATED"]
    assert "wrong username or password" in wrong["errors"][0]["message"]


async def test_logout_signs_the_token_out_for_good_and_leaves_api_keys_alone(sqlite_api: Api) -> None:
    await sqlite_api.otvet.accounts.create_admin("root", "correct horse battery")
    login = 'mutation { login(username: "root", password: "correct horse battery") { token } }'
    token = (await sqlite_api.data(login, key=None))["login"]["token"]
    assert await sqlite_api.data("mutation { logout }", key=token) == {"logout": True}
    refused = await sqlite_api.post("{ me { name } }", key=token)
    assert refused.status_code == 401 and codes(refused.json()) == ["UNAUTHENTICATED"]
    assert "signed out" in refused.json()["errors"][0]["message"]
    assert await sqlite_api.data("mutation { logout }") == {"logout": False}  # an API key: revokeApiKey
    assert (await sqlite_api.data("{ me { kind } }"))["me"]["kind"] == "API_KEY"
    assert codes(await sqlite_api.body("mutation { logout }", key=None)) == ["UNAUTHENTICATED"]


async def test_login_attempts_from_one_address_are_rate_limited(sqlite_api: Api) -> None:
    login = 'mutation { login(username: "nobody", password: "guess guess guess") { token } }'
    for _ in range(10):
        assert codes(await sqlite_api.body(login, key=None)) == ["UNAUTHENTICATED"]
    refused = await sqlite_api.body(login, key=None)
    assert codes(refused) == ["RATE_LIMITED"] and refused["errors"][0]["extensions"]["retryAfter"] > 0


async def test_text_and_qa_sources_build_a_version(sqlite_api: Api) -> None:
    add_text = f"""mutation {{ addTextSource(name: "guide.md", title: "Guide",
        text: "# Setup\\n\\nInstall it with pip.\\n\\n## Run\\n\\nRun otvet serve.") {{ {INGEST} }} }}"""
    added = (await sqlite_api.data(add_text))["addTextSource"]
    assert added["added"] == ["guide.md"] and added["version"]["status"] == "ACTIVE"
    again = (await sqlite_api.data(add_text))["addTextSource"]
    assert again["unchanged"] == ["guide.md"] and again["version"] is None

    add_pairs = f"""mutation($pairs: [QaPairInput!]!) {{
        addQaPairs(name: "faq", pairs: $pairs, language: "en") {{ {INGEST} }} }}"""
    pairs = [{"question": "What is Otvet?", "answer": "A question answering bot."}]
    qa = (await sqlite_api.data(add_pairs, {"pairs": pairs}))["addQaPairs"]
    assert qa["added"] == ["faq"] and qa["version"]["sourceCount"] == 2
    sources = (await sqlite_api.data("{ sources { name type title language sections qaPairs } }"))["sources"]
    assert sources == [
        {
            "name": "guide.md",
            "type": "markdown",
            "title": "Guide",
            "language": None,
            "sections": 2,
            "qaPairs": 0,
        },
        {"name": "faq", "type": "qa_json", "title": "Faq", "language": "en", "sections": 0, "qaPairs": 1},
    ]
    bad = await sqlite_api.body(add_pairs, {"pairs": [{"question": "Q?", "answer": " "}]})
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert "the answer is empty" in bad["errors"][0]["extensions"]["problems"][0]
    assert len(await sqlite_api.otvet.store.list_sources()) == 2  # nothing stored


async def test_a_title_over_300_characters_is_refused_not_cut(sqlite_api: Api) -> None:
    text = f"""mutation($title: String) {{
        addTextSource(name: "guide.md", title: $title, text: "Install it with pip.") {{ {INGEST} }} }}"""
    pairs = f"""mutation($title: String) {{ addQaPairs(name: "faq", title: $title,
        pairs: [{{question: "What is Otvet?", answer: "A bot."}}]) {{ {INGEST} }} }}"""
    for mutation in (text, pairs):
        refused = await sqlite_api.body(mutation, {"title": "x" * 301})
        assert codes(refused) == ["BAD_USER_INPUT"], refused
        assert refused["errors"][0]["message"].endswith("title is longer than 300 characters")
        assert await sqlite_api.otvet.store.list_sources() == []
    # Spaces and line breaks do not count: the title is kept on one line.
    added = await sqlite_api.data(text, {"title": "  My\n  guide  " + " " * 400})
    assert added["addTextSource"]["added"] == ["guide.md"]
    assert (await sqlite_api.data("{ sources { title } }"))["sources"] == [{"title": "My guide"}]
    # 300 is allowed, and kept whole.
    await sqlite_api.data(pairs, {"title": "y" * 300})
    titles = {
        source["name"]: source["title"]
        for source in (await sqlite_api.data("{ sources { name title } }"))["sources"]
    }
    assert titles == {"guide.md": "My guide", "faq": "y" * 300}


async def test_a_url_source_is_fetched_parsed_and_cited_with_its_link(api_with: ApiFactory) -> None:
    async with WebServer() as web:
        web.pages["/returns.html"] = Page(
            b"<html><head><title>Returns</title></head><body><nav>Menu</nav><main><h1>Returns</h1>"
            b"<p>Parcels can be returned within 30 days of delivery.</p></main></body></html>",
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        url = web.url("/returns.html")
        async with api_with(fetch={"allow_hosts": [f"127.0.0.1:{web.port}"]}) as api:
            body = await api.body(f'mutation {{ addUrlSource(url: "{url}") {{ added version {{ id }} }} }}')
            assert body["data"]["addUrlSource"]["added"] == [url], body
            passages = await api.otvet.knowledge.search("How many days do I have to return a parcel?", 3)
    assert passages and passages[0].source.url == url and "30 days" in passages[0].text
    assert "Menu" not in passages[0].text  # the page's main text only


async def test_url_sources_refuse_private_addresses_and_other_schemes(sqlite_api: Api) -> None:
    for url in ("http://127.0.0.1:9/admin", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"):
        body = await sqlite_api.body(f'mutation {{ addUrlSource(url: "{url}") {{ added }} }}')
        assert codes(body) == ["BAD_USER_INPUT"], body
        assert "refused" in body["errors"][0]["message"]
    body = await sqlite_api.body('mutation { addUrlSource(url: "ftp://example.com") { added } }')
    assert codes(body) == ["BAD_USER_INPUT"]
    assert await sqlite_api.otvet.store.list_sources() == []


UPLOAD = f'mutation($files: [Upload!]!) {{ uploadSources(files: $files, note: "upload") {{ {INGEST} }} }}'


async def _upload(api: Api, files: list[tuple[str, bytes]], **kwargs: Any) -> Any:
    return await api.upload(
        UPLOAD,
        {str(i): file for i, file in enumerate(files)},
        {"files": [None] * len(files)},
        {str(i): [f"variables.files.{i}"] for i in range(len(files))},
        **kwargs,
    )


async def test_upload_files_with_the_multipart_request_spec(sqlite_api: Api) -> None:
    response = await _upload(
        sqlite_api,
        [
            ("guide.md", b"# Guide\n\nHow to install Otvet.\n"),
            ("faq.csv", b"question,answer\nWhat is it?,A bot.\n"),
        ],
    )
    assert response.status_code == 200, response.text
    result = response.json()["data"]["uploadSources"]
    assert sorted(result["added"]) == ["faq.csv", "guide.md"] and result["version"]["sourceCount"] == 2
    assert {s.name: s.type for s in await sqlite_api.otvet.store.list_sources()} == {
        "guide.md": "markdown",
        "faq.csv": "qa_csv",
    }


async def test_a_bad_upload_stores_nothing_and_lists_every_problem(sqlite_api: Api) -> None:
    response = await _upload(
        sqlite_api,
        [
            ("good.md", b"# Good\n\nFine text.\n"),
            ("bad.csv", b"question,answer\nWhat?,\n"),
            ("image.png", b"\x89PNG"),
        ],
    )
    body = response.json()
    assert codes(body) == ["BAD_USER_INPUT"]
    problems = body["errors"][0]["extensions"]["problems"]
    assert any(p.startswith("bad.csv:2: the answer is empty") for p in problems)
    assert any(p.startswith("image.png: unknown kind of file") for p in problems)
    assert len(problems) == 2
    assert await sqlite_api.otvet.store.list_sources() == []


async def test_uploads_need_a_preflight_header_and_respect_the_size_limit(api_with: ApiFactory) -> None:
    async with api_with(graphql={"max_upload_bytes": 4096}) as api:
        no_preflight = await _upload(api, [("a.md", b"# A\n\ntext\n")], preflight=False)
        assert no_preflight.status_code == 400 and codes(no_preflight.json()) == ["PREFLIGHT_REQUIRED"]
        too_big = await _upload(api, [("big.md", b"# Big\n\n" + b"word " * 2000)])
        assert too_big.status_code == 413 and codes(too_big.json()) == ["PAYLOAD_TOO_LARGE"]
        assert await api.otvet.store.list_sources() == []


async def test_remove_retrain_and_roll_back(sqlite_api: Api) -> None:
    for name in ("a", "b"):
        add = f'mutation {{ addTextSource(name: "{name}", text: "Text {name}.") {{ added }} }}'
        await sqlite_api.data(add)
    versions = (await sqlite_api.data("{ knowledgeVersions { id status } }"))["knowledgeVersions"]
    assert [v["status"] for v in versions] == ["ACTIVE", "RETIRED"]
    remove = 'mutation { removeSources(names: ["a", "nope"]) { removed version { id } } }'
    removed = await sqlite_api.data(remove)
    assert removed["removeSources"]["removed"] == 1
    retrain = 'mutation { retrain(note: "nightly") { id type status payload } }'
    queued = (await sqlite_api.data(retrain))["retrain"]
    assert (queued["type"], queued["status"], queued["payload"]) == ("retrain", "queued", {"note": "nightly"})
    done = await Worker(sqlite_api.otvet, "w").run_one()
    assert done is not None and done.status == "succeeded" and str(done.id) == queued["id"]
    job = await sqlite_api.data(
        "query($id: ID!) { job(id: $id) { status result message } }", {"id": queued["id"]}
    )
    assert job["job"]["result"]["promoted"] is True and "promoted" in job["job"]["message"]

    oldest = versions[-1]["id"]
    rollback = "mutation($id: ID) { rollbackVersion(id: $id) { id status } }"
    back = await sqlite_api.data(rollback, {"id": oldest})
    assert back == {"rollbackVersion": {"id": oldest, "status": "ACTIVE"}}
    assert (await sqlite_api.data("{ activeVersion { id } }"))["activeVersion"]["id"] == oldest
    assert sqlite_api.otvet.knowledge.version_id == int(oldest)
    missing = await sqlite_api.body('mutation { rollbackVersion(id: "999") { id } }')
    assert codes(missing) == ["NOT_FOUND"]
    missing = await sqlite_api.body('mutation { promoteVersion(id: "999") { id } }')
    assert codes(missing) == ["NOT_FOUND"]


async def test_the_check_set_gates_promotion_and_the_reason_is_readable(sqlite_api: Api) -> None:
    for name, text in (
        ("hours", "# Hours\n\nThe museum opens at ten."),
        ("parking", "# Parking\n\nStaff park below."),
    ):
        await sqlite_api.data(
            "mutation($n: String!, $t: String!) { addTextSource(name: $n, text: $t) { added } }",
            {"n": name, "t": text},
        )
    bad = await sqlite_api.body('mutation { addChecks(checks: [{question: "Why?"}, {question: ""}]) { id } }')
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert "check 1: name the expected source" in bad["errors"][0]["message"]
    assert "check 2: the question is empty" in bad["errors"][0]["message"]
    add = """mutation { addChecks(checks: [
        {question: "When does the museum open?", expectedSource: "hours", expectedAnswer: "opens at ten"},
        {question: "Where do staff park?", expectedSource: "Parking"}]) { id question expectedSource } }"""
    added = (await sqlite_api.data(add))["addChecks"]
    assert [c["expectedSource"] for c in added] == ["hours", "Parking"]

    removed = await sqlite_api.data(
        'mutation { removeSources(names: ["parking"]) '
        "{ version { id status evaluation { hitAt1 promoted decision } } } }"
    )
    version = removed["removeSources"]["version"]
    assert version["status"] == "REJECTED" and version["evaluation"]["hitAt1"] == 0.5
    assert "hit@1 0.50 < 1.00" in version["evaluation"]["decision"]
    forced = await sqlite_api.data(
        "mutation($id: ID!) { promoteVersion(id: $id, force: true) { status evaluation { decision } } }",
        {"id": version["id"]},
    )
    assert forced["promoteVersion"]["status"] == "ACTIVE"
    assert forced["promoteVersion"]["evaluation"]["decision"].startswith("forced:")
    # Running the checks on demand lists the one the active version fails, and what it found instead.
    run = (
        await sqlite_api.data("{ checkRun { checks k hitAt1 summary failures { question rank found } } }")
    )["checkRun"]
    assert (run["checks"], run["hitAt1"]) == (2, 0.5) and run["summary"].startswith("hit@1 0.50")
    assert [(f["question"], f["rank"]) for f in run["failures"]] == [("Where do staff park?", None)]
    assert "hours" in run["failures"][0]["found"]
    missing = await sqlite_api.body('{ checkRun(versionId: "999") { checks } }')
    assert codes(missing) == ["NOT_FOUND"]
    assert codes(await sqlite_api.body("{ checkRun { checks } }", key="read")) == ["FORBIDDEN"]
    checks = (await sqlite_api.data("{ checks { id } }"))["checks"]
    assert await sqlite_api.data(
        "mutation($ids: [ID!]!) { removeChecks(ids: $ids) }", {"ids": [c["id"] for c in checks] + ["77"]}
    ) == {"removeChecks": 2}


UPDATE_CHECK = """mutation($id: ID!, $check: CheckInput!) {
  updateCheck(id: $id, check: $check) { id question expectedSource expectedAnswer language } }"""


async def test_a_check_is_changed_in_place_or_not_at_all(api: Api) -> None:
    add = 'mutation { addChecks(checks: {question: "When?", expectedSource: "hours", language: "en"}) {id} }'
    (added,) = (await api.data(add))["addChecks"]
    changed = await api.data(
        UPDATE_CHECK,
        {"id": added["id"], "check": {"question": " When does it open? ", "expectedAnswer": "at ten"}},
    )
    # Every field is replaced: the source and the language left out are gone.
    expected = {
        "id": added["id"],
        "question": "When does it open?",
        "expectedSource": None,
        "expectedAnswer": "at ten",
        "language": None,
    }
    assert changed == {"updateCheck": expected}
    listed = f"{{ checks {{ {' '.join(expected)} }} }}"
    assert (await api.data(listed))["checks"] == [expected]

    bad = await api.body(UPDATE_CHECK, {"id": added["id"], "check": {"question": "", "language": "xx"}})
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["problems"] == [
        "the question is empty",
        "name the expected source, the expected answer, or both",
        "unknown language 'xx': choose from en, ru",
    ]
    missing = await api.body(UPDATE_CHECK, {"id": "999", "check": {"question": "Q", "expectedAnswer": "A"}})
    assert codes(missing) == ["NOT_FOUND"] and "999" in missing["errors"][0]["message"]
    not_an_id = await api.body(UPDATE_CHECK, {"id": "x", "check": {"question": "Q", "expectedAnswer": "A"}})
    assert codes(not_an_id) == ["BAD_USER_INPUT"]
    for key in ("read", "ask"):
        refused = await api.body(
            UPDATE_CHECK, {"id": added["id"], "check": {"question": "Q", "expectedAnswer": "A"}}, key=key
        )
        assert codes(refused) == ["FORBIDDEN"]
    assert (await api.data(listed))["checks"] == [expected]


IMPORT_CHECKS = """mutation($file: Upload!) {
  importChecks(file: $file) { id question expectedSource expectedAnswer language } }"""


async def _import_checks(api: Api, name: str, data: bytes, key: str = "admin") -> dict[str, Any]:
    response = await api.upload(
        IMPORT_CHECKS, {"0": (name, data)}, {"file": None}, {"0": ["variables.file"]}, key=key
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_check_files_are_imported_with_the_clis_parser(sqlite_api: Api) -> None:
    as_csv = "question;source;answer;language\nГде парковка?;parking.md;;ru\nWhen?;;opens at ten;\n"
    body = await _import_checks(sqlite_api, "checks.csv", as_csv.encode())
    assert "errors" not in body, body
    added = body["data"]["importChecks"]
    assert [(c["question"], c["expectedSource"], c["expectedAnswer"], c["language"]) for c in added] == [
        ("Где парковка?", "parking.md", None, "ru"),
        ("When?", None, "opens at ten", None),
    ]
    as_yaml = b"- question: yes\n  answer: 1.0\n"  # values stay text
    body = await _import_checks(sqlite_api, "more.yml", as_yaml)
    assert [(c["question"], c["expectedAnswer"]) for c in body["data"]["importChecks"]] == [("yes", "1.0")]
    # What the console exports (the API's names for the fields) comes back in as it went out.
    exported = b'[{"question": "Why?", "expectedSource": "faq", "expectedAnswer": null, "language": "en"}]'
    body = await _import_checks(sqlite_api, "otvet-checks.json", exported)
    assert [(c["expectedSource"], c["language"]) for c in body["data"]["importChecks"]] == [("faq", "en")]
    assert len(await sqlite_api.otvet.store.list_checks()) == 4


async def test_a_bad_check_file_adds_nothing_and_lists_every_row(sqlite_api: Api) -> None:
    as_csv = b"question,source,answer,language\nGood?,faq,,\n,faq,,\nNo source?,,,\nQ,faq,,de\n"
    body = await _import_checks(sqlite_api, "bad.csv", as_csv)
    assert codes(body) == ["BAD_USER_INPUT"] and body["data"] is None
    assert body["errors"][0]["message"].startswith("no check was added: bad.csv: check 3")
    assert body["errors"][0]["extensions"]["problems"] == [
        "bad.csv: check 3: the question is empty",
        "bad.csv: check 4: name the expected source, the expected answer, or both",
        "bad.csv: check 5: unknown language 'de': choose from en, ru",
    ]
    for name, data, problem in (
        ("checks.txt", b"question\nQ\n", "checks.txt: use a .json, .yaml, .yml, .csv or .tsv file"),
        ("checks.json", b"{", "checks.json: not valid JSON"),
        ("checks.csv", b"\xff\xfe", "checks.csv: not UTF-8 text"),
    ):
        body = await _import_checks(sqlite_api, name, data)
        assert codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["problems"][0].startswith(problem)
    assert await sqlite_api.otvet.store.list_checks() == []


async def test_importing_checks_needs_admin_and_a_file_within_the_limit(
    sqlite_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = b"question,answer\nWhen?,at ten\n"
    for key in ("read", "ask"):
        assert codes(await _import_checks(sqlite_api, "checks.csv", good, key=key)) == ["FORBIDDEN"]
    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", len(good) - 1)
    body = await _import_checks(sqlite_api, "checks.csv", good)
    assert codes(body) == ["BAD_USER_INPUT"] and "larger than the limit" in body["errors"][0]["message"]
    assert await sqlite_api.otvet.store.list_checks() == []


async def test_api_keys_are_shown_once_work_for_their_scope_and_can_be_revoked(sqlite_api: Api) -> None:
    created = await sqlite_api.data(
        'mutation { createApiKey(name: "crm", scopes: [READ, ASK]) { key apiKey { id name prefix scopes } } }'
    )
    key, record = created["createApiKey"]["key"], created["createApiKey"]["apiKey"]
    assert key.startswith(f"otv_{record['prefix']}_") and record["scopes"] == ["ASK", "READ"]
    assert (await sqlite_api.data("{ me { name } }", key=key)) == {"me": {"name": "crm"}}
    listed = (await sqlite_api.data("{ apiKeys { name } }"))["apiKeys"]
    assert key not in str(listed)
    revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }"
    assert (await sqlite_api.data(revoke, {"id": record["id"]}))["revokeApiKey"]["revokedAt"]
    assert (await sqlite_api.post("{ me { name } }", key=key)).status_code == 401
    assert codes(await sqlite_api.body('mutation { createApiKey(name: " ", scopes: [ASK]) { key } }')) == [
        "BAD_USER_INPUT"
    ]
    assert codes(await sqlite_api.body(revoke, {"id": "999"})) == ["NOT_FOUND"]


async def test_admin_accounts_are_managed(sqlite_api: Api) -> None:
    create = """mutation($u: String!, $p: String!) {
        createAdmin(username: $u, password: $p) { username disabled } }"""
    assert (await sqlite_api.data(create, {"u": "anna", "p": "a long enough password"}))["createAdmin"] == {
        "username": "anna",
        "disabled": False,
    }
    weak = await sqlite_api.body(create, {"u": "boris", "p": "short"})
    assert codes(weak) == ["BAD_USER_INPUT"] and "12 characters" in weak["errors"][0]["message"]
    taken = await sqlite_api.body(create, {"u": "anna", "p": "another long password"})
    assert codes(taken) == ["BAD_USER_INPUT"]

    disable = """mutation($u: String!, $d: Boolean!) {
        setAdminDisabled(username: $u, disabled: $d) { disabled } }"""
    last = await sqlite_api.body(disable, {"u": "anna", "d": True})
    assert codes(last) == ["BAD_USER_INPUT"] and "last enabled admin" in last["errors"][0]["message"]
    await sqlite_api.data(create, {"u": "boris", "p": "yet another password"})
    disabled = await sqlite_api.data(disable, {"u": "anna", "d": True})
    assert disabled["setAdminDisabled"] == {"disabled": True}
    assert codes(await sqlite_api.body(disable, {"u": "nobody", "d": True})) == ["NOT_FOUND"]

    token = (await sqlite_api.otvet.accounts.login("boris", "yet another password")).token
    passwd = 'mutation { setAdminPassword(username: "boris", password: "a brand new password") }'
    assert await sqlite_api.data(passwd) == {"setAdminPassword": True}
    assert (await sqlite_api.post("{ me { name } }", key=token)).status_code == 401  # old tokens stop working
