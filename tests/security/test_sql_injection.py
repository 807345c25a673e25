"""SQL injection: classic payloads in every text field an API takes, on SQLite and PostgreSQL.

Each payload must come back exactly as sent (so nothing was cut at a quote or interpreted), the tables must
keep every row they had, and a payload where an id or cursor belongs is a calm ``BAD_INPUT``, never an
internal error. The last test reads the product code: no SQL may be built from values at all.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from otvet.core.app import Otvet
from otvet.core.engine import Turn
from otvet.core.store import SourceRecord
from otvet.frontends.graphql.turns import MAX_ID_CHARS
from tests.conftest import make_settings
from tests.frontends.graphql.client import Api, codes
from tests.frontends.telegram.conftest import BotEnv
from tests.frontends.telegram.test_bot import final_answers
from tests.frontends.widget.client import widget_socket
from tests.frontends.widget.conftest import Served
from tests.security.payloads import (
    SQL_PAYLOADS,
    VERY_LONG,
    display_names,
    printable,
    stored_texts,
    table_counts,
)
from tests.support.cli import clean_env, run_otvet
from tests.support.providers import MockProvider

ASK = """mutation($input: AskInput!) { ask(input: $input) {
  __typename ... on Answer { text conversationId messageId } ... on AnswerFailure { code message } } }"""
CONVERSATIONS = """query($filter: ConversationFilter) { conversations(filter: $filter, first: 5) {
  nodes { id chatId user { channel externalId } messages { nodes { role text } } } } }"""
PASSWORD = "a long enough password 1"


async def test_questions_and_user_ids_are_stored_and_found_verbatim(
    api: Api, mock_provider: MockProvider, payload: str
) -> None:
    before = await table_counts(api.otvet)
    mock_provider.then("answer to ", payload)
    user = payload[:MAX_ID_CHARS]
    ask = {"question": f"How? {payload}", "userId": user, "chatId": user}
    answer = (await api.data(ASK, {"input": ask}, key="ask"))["ask"]
    assert answer == {
        "__typename": "Answer",
        "text": f"answer to {payload}",
        "conversationId": answer["conversationId"],
        "messageId": answer["messageId"],
    }
    assert mock_provider.requests[-1].question == ask["question"]

    principal = await api.otvet.accounts.authenticate(api.keys["ask"])
    external = principal.end_user_id(user)
    found = await api.data(CONVERSATIONS, {"filter": {"externalId": external}}, key="read")
    [conversation] = found["conversations"]["nodes"]
    assert conversation["chatId"] == user and conversation["user"]["externalId"] == external
    texts = [(m["role"], m["text"]) for m in conversation["messages"]["nodes"]]
    assert texts == [("USER", ask["question"]), ("ASSISTANT", f"answer to {payload}")]
    # The same payload as a filter on another field matches nothing instead of everything.
    for field in ("channel", "externalId"):
        other = await api.data(CONVERSATIONS, {"filter": {field: user}}, key="read")
        assert other["conversations"]["nodes"] == []

    after = await table_counts(api.otvet)
    # The overview's counts grow by a row for the day's answers and one for its answer time.
    grown = {"otvet_user": 1, "otvet_conversation": 1, "otvet_message": 2}
    grown |= {"otvet_activity": 1, "otvet_answer_times": 1}
    assert after == {table: count + grown.get(table, 0) for table, count in before.items()}


async def test_feedback_comments_are_stored_verbatim(
    api: Api, mock_provider: MockProvider, payload: str
) -> None:
    mock_provider.then("An answer.")
    answer = (await api.data(ASK, {"input": {"question": "What is it?"}}, key="ask"))["ask"]
    before = await table_counts(api.otvet)
    rated = await api.data(
        "mutation($id: ID!, $c: String!) { sendFeedback(messageId: $id, value: -1, comment: $c) }",
        {"id": answer["messageId"], "c": payload},
        key="ask",
    )
    assert rated == {"sendFeedback": True}
    feedback = await api.data("{ feedback { nodes { value comment } } }", key="read")
    assert feedback["feedback"]["nodes"] == [{"value": -1, "comment": payload}]
    after = await table_counts(api.otvet)
    # The rating is counted in the overview's row for ratings (no provider) of the day.
    counted = {"otvet_activity": before["otvet_activity"] + 1}
    assert after == {**before, "otvet_feedback": before["otvet_feedback"] + 1, **counted}


TEXT_SOURCE = """mutation($name: String!, $text: String!, $title: String) {
  addTextSource(name: $name, text: $text, title: $title) { added version { status } } }"""
QA_SOURCE = """mutation($name: String!, $pairs: [QaPairInput!]!) {
  addQaPairs(name: $name, pairs: $pairs) { added } }"""


async def test_training_sources_keep_names_titles_and_texts_verbatim(
    api: Api, mock_provider: MockProvider, payload: str
) -> None:
    name, title = f"src {payload}", printable(f"Title {payload}")
    # Text with a NUL is refused as a binary file (below), so the content carries the rest of the payload.
    text = f"# Heading\n\nThe password reset works like this: {printable(payload)}\n"
    added = await api.data(TEXT_SOURCE, {"name": name, "text": text, "title": title})
    assert added["addTextSource"] == {"added": [name], "version": {"status": "ACTIVE"}}
    pairs = [{"question": f"Why {payload}?", "answer": f"Because {payload}."}]
    assert (await api.data(QA_SOURCE, {"name": f"qa {payload}", "pairs": pairs}))["addQaPairs"] == {
        "added": [f"qa {payload}"]
    }
    sources = (await api.data("{ sources { name title } }"))["sources"]
    assert {s["name"]: s["title"] for s in sources}[name] == title
    assert f"qa {payload}" in {s["name"] for s in sources}

    # The stored text reaches the provider unchanged, as the passage a question retrieves.
    mock_provider.then("ok")
    await api.data(ASK, {"input": {"question": "How does the password reset work?"}}, key="ask")
    passages = [p.text for p in mock_provider.requests[-1].passages]
    assert any(printable(payload).strip() in passage for passage in passages), passages

    binary = await api.body(TEXT_SOURCE, {"name": "nul", "text": "a\x00b", "title": None})
    assert codes(binary) == ["BAD_USER_INPUT"]
    removed = await api.data(
        "mutation($n: [String!]!) { removeSources(names: $n) { removed } }", {"n": [name, payload + "x"]}
    )
    assert removed["removeSources"]["removed"] == 1


CHECKS = """mutation($checks: [CheckInput!]!) {
  addChecks(checks: $checks) { question expectedSource expectedAnswer } }"""


async def test_check_questions_and_answers_are_stored_verbatim(api: Api, payload: str) -> None:
    check = {"question": f"Q {payload}", "expectedSource": f"s {payload}", "expectedAnswer": f"A {payload}"}
    assert (await api.data(CHECKS, {"checks": [check]}))["addChecks"] == [check]
    assert (await api.data("{ checks { question expectedSource expectedAnswer } }"))["checks"] == [check]


async def test_api_key_names_and_admin_usernames_are_stored_verbatim(api: Api, payload: str) -> None:
    before = await table_counts(api.otvet)
    key = await api.data(
        "mutation($n: String!) { createApiKey(name: $n, scopes: [READ]) { apiKey { name } } }", {"n": payload}
    )
    assert key["createApiKey"]["apiKey"]["name"] == payload
    assert payload in [k["name"] for k in (await api.data("{ apiKeys { name } }"))["apiKeys"]]

    # Usernames refuse spaces and control characters by design; every quote and keyword stays.
    username = "".join(printable(payload).split())[:64]
    created = await api.data(
        "mutation($u: String!, $p: String!) { createAdmin(username: $u, password: $p) { username } }",
        {"u": username, "p": PASSWORD},
    )
    assert created["createAdmin"] == {"username": username}
    login = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
    assert (await api.data(login, {"u": username, "p": PASSWORD}, key=None))["login"]["token"]
    # The payload as the username or the password of a login finds nobody: no "OR 1=1" way in.
    for user, password in ((payload, PASSWORD), (username, payload)):
        refused = await api.body(login, {"u": user, "p": password}, key=None)
        assert codes(refused) == ["UNAUTHENTICATED"], refused
    after = await table_counts(api.otvet)
    assert after == {
        **before,
        "otvet_api_key": before["otvet_api_key"] + 1,
        "otvet_admin_account": before["otvet_admin_account"] + 1,
    }


#: Lists whose ``after`` cursor and arguments are attacker strings: (query, the scope it needs).
PAGED = [
    ("query($a: String) { conversations(after: $a) { nodes { id } } }", "read"),
    ("query($a: String) { feedback(after: $a) { nodes { id } } }", "read"),
    ("query($a: String) { jobs(after: $a) { nodes { id } } }", "admin"),
    ("query($a: String) { candidates(after: $a) { nodes { id } } }", "admin"),
]
BY_ID = [
    "query($a: ID!) { conversation(id: $a) { id } }",
    "query($a: ID!) { job(id: $a) { id } }",
    "query($a: ID) { feedback(filter: {conversationId: $a}) { nodes { id } } }",
    "query($a: ID) { conversations(filter: {userId: $a}) { nodes { id } } }",
    "query($a: String) { conversations { nodes { messages(after: $a) { nodes { id } } } } }",
    'mutation($a: String) { ask(input: {question: "q", language: $a}) { __typename } }',
    "mutation($a: String!) { addUrlSource(url: $a) { added } }",
]


async def test_cursors_ids_and_filters_refuse_payloads_calmly(api: Api, payload: str) -> None:
    await api.otvet.engine.ask(Turn("test", "someone", "Is anything there?"))
    before = await table_counts(api.otvet)
    for query, scope in PAGED:
        body = await api.body(query, {"a": payload}, key=scope)
        assert codes(body) == ["BAD_USER_INPUT"], (query, body)
    for query in BY_ID:
        body = await api.body(query, {"a": payload}, key="admin")
        assert codes(body) == ["BAD_USER_INPUT"], (query, body)
    # A status is a word to compare, never SQL: it matches no job.
    jobs = await api.data("query($s: String) { jobs(status: $s) { nodes { id } } }", {"s": payload})
    assert jobs["jobs"]["nodes"] == []
    assert await table_counts(api.otvet) == before


async def test_corrections_and_conversation_resets_keep_payloads_verbatim(
    api: Api, mock_provider: MockProvider
) -> None:
    for payload in ALL:
        mock_provider.then("An answer.")
        user = payload[:MAX_ID_CHARS]
        answer = (await api.data(ASK, {"input": {"question": f"Q {payload}", "userId": user}}, key="ask"))[
            "ask"
        ]
        corrected = await api.data(
            "mutation($m: ID!, $a: String!) { correctAnswer(messageId: $m, answer: $a) { question answer } }",
            {"m": answer["messageId"], "a": f"Better: {payload}"},
        )
        assert corrected["correctAnswer"] == {"question": f"Q {payload}", "answer": f"Better: {payload}"}
        reset = "mutation($u: String) { resetConversation(userId: $u) }"
        assert (await api.data(reset, {"u": user}, key="ask")) == {"resetConversation": True}
        assert (await api.data(reset, {"u": user + "'"}, key="ask")) == {"resetConversation": False}
    candidates = await api.data("{ candidates(first: 50) { nodes { answer } } }")
    assert [c["answer"] for c in candidates["candidates"]["nodes"]] == [
        f"Better: {payload}" for payload in ALL
    ]


#: Every text argument with a length limit, each given :data:`VERY_LONG`: (document, variables, scope).
LIMITED = [
    (TEXT_SOURCE, {"name": VERY_LONG, "text": "x", "title": None}, "admin"),
    (CHECKS, {"checks": [{"question": VERY_LONG}]}, "admin"),
    (CHECKS, {"checks": [{"question": "q", "expectedSource": VERY_LONG}]}, "admin"),
    ("mutation($n: String!) { createApiKey(name: $n, scopes: [READ]) { key } }", {"n": VERY_LONG}, "admin"),
    ("mutation($u: String!) { createAdmin(username: $u, password: $u) { id } }", {"u": VERY_LONG}, "admin"),
    ("mutation($u: String!) { login(username: $u, password: $u) { token } }", {"u": VERY_LONG}, None),
    (ASK, {"input": {"question": "q", "userId": VERY_LONG}}, "ask"),
    (ASK, {"input": {"question": "q", "chatId": VERY_LONG}}, "ask"),
    ("mutation($c: String!) { sendFeedback(messageId: 1, value: 1, comment: $c) }", {"c": VERY_LONG}, "ask"),
]


async def test_over_long_values_are_refused_whole_and_change_nothing(api: Api) -> None:
    before = await table_counts(api.otvet)
    for query, variables, scope in LIMITED:
        body = await api.body(query, variables, key=scope)
        assert codes(body) in (["BAD_USER_INPUT"], ["UNAUTHENTICATED"]), (variables, body)
    # A question over the engine's limit is an answer failure, stored nowhere and never sent on: only the
    # overview counts a refused question (a number, no text).
    failed = (await api.data(ASK, {"input": {"question": VERY_LONG}}, key="ask"))["ask"]
    assert failed["__typename"] == "AnswerFailure"
    assert await table_counts(api.otvet) == before | {"otvet_activity": before["otvet_activity"] + 1}


#: NUL is not stored but refused by GraphQL (see the test below); every other payload goes everywhere.
@pytest.fixture(params=[param for param in SQL_PAYLOADS if param.id != "nul"])
def payload(request: pytest.FixtureRequest) -> str:
    value: Any = request.param
    return str(value)


#: Where a NUL can go in a request: a variable of each kind of field, and an escape in the document itself.
WITH_NUL = [
    (ASK, {"input": {"question": "a\x00b"}}, "ask"),
    (ASK, {"input": {"question": "q", "userId": "u\x00"}}, "ask"),
    (TEXT_SOURCE, {"name": "n\x00", "text": "x", "title": None}, "admin"),
    (CHECKS, {"checks": [{"question": "q", "expectedAnswer": "\x00"}]}, "admin"),
    ("mutation($n: String!) { createApiKey(name: $n, scopes: [READ]) { key } }", {"n": "k\x00"}, "admin"),
    ("mutation($c: String!) { sendFeedback(messageId: 1, value: 1, comment: $c) }", {"c": "\x00"}, "ask"),
    ("query($s: String) { jobs(status: $s) { nodes { id } } }", {"s": "\x00"}, "admin"),
    ('mutation { addTextSource(name: "n\\u0000", text: "x") { added } }', None, "admin"),
    ('mutation { addTextSource(name: "n", text: "x\\u{0}") { added } }', None, "admin"),  # braced escape
]


async def test_nul_characters_are_refused_before_anything_runs(api: Api, mock_provider: MockProvider) -> None:
    """PostgreSQL cannot store U+0000 (it was an internal error there); both databases now refuse it."""
    before = await table_counts(api.otvet)
    for query, variables, scope in WITH_NUL:
        body = await api.body(query, variables, key=scope)
        assert codes(body) == ["BAD_USER_INPUT"] and "NUL" in body["errors"][0]["message"], (query, body)
        assert "data" not in body, "nothing ran"
    assert mock_provider.requests == []
    assert await table_counts(api.otvet) == before
    # Other frontends hand the engine their turns: it drops the NUL and answers on both databases.
    mock_provider.then("fine")
    answer = await api.otvet.engine.ask(Turn("widget", "visitor\x00", "What\x00 now?", display_name="A\x00"))
    assert answer.text == "fine" and mock_provider.requests[-1].question == "What now?"


# --- the other frontends ----------------------------------------------------------------------------------

#: The payloads as one list, for the frontends that take several questions in one conversation.
ALL = [str(param.values[0]) for param in SQL_PAYLOADS if param.id != "nul"]


async def test_widget_questions_and_visitors_are_stored_verbatim(served: Served) -> None:
    before = await table_counts(served.otvet)
    async with widget_socket(served.ws_url, origin=served.origin) as socket:
        await socket.hello(language="en")
        for number, payload in enumerate(ALL):
            _, answer = await socket.ask(f"How? {payload}", question_id=f"q{number}")
            assert answer["type"] == "answer", answer
    assert await stored_texts(served.otvet) == [f"How? {payload}" for payload in ALL]
    after = await table_counts(served.otvet)
    unrelated = {"otvet_source", "otvet_chunk", "otvet_admin_account", "otvet_api_key", "otvet_check"}
    assert {table: after[table] for table in unrelated} == {table: before[table] for table in unrelated}
    assert after["otvet_message"] == before["otvet_message"] + 2 * len(ALL)


async def test_openai_endpoint_questions_earlier_turns_and_users_are_kept_verbatim(
    api: Api, mock_provider: MockProvider
) -> None:
    headers = api.headers("ask")
    for payload in ALL:
        mock_provider.then(f"Echo {payload}")
        body = {
            "model": "otvet",
            "user": payload[:200],
            "messages": [
                {"role": "user", "content": f"Earlier {payload}"},
                {"role": "assistant", "content": f"Said {payload}"},
                {"role": "user", "content": f"Now {payload}"},
            ],
        }
        response = await api.client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == f"Echo {payload}"
        assert mock_provider.requests[-1].question == f"Now {payload}"
    assert [text for text in await stored_texts(api.otvet) if text.startswith("Now ")] == [
        f"Now {payload}" for payload in ALL
    ]


async def test_the_longest_openai_user_ids_are_stored_and_kept_apart(
    api: Api, mock_provider: MockProvider
) -> None:
    """``user`` may have 256 characters; namespaced by the key (``key:1/``) it was too long for the store
    (an internal error). Two that differ only in their last character stay two users."""
    before = await table_counts(api.otvet)
    for last in "ab":
        mock_provider.then("ok")
        body = {"model": "otvet", "user": "'" * 255 + last, "messages": [{"role": "user", "content": "Hi?"}]}
        response = await api.client.post("/v1/chat/completions", json=body, headers=api.headers("ask"))
        assert response.status_code == 200, response.text
    after = await table_counts(api.otvet)
    assert after["otvet_user"] == before["otvet_user"] + 2


async def test_telegram_questions_and_names_are_stored_verbatim(echo_bot: BotEnv) -> None:
    before = await table_counts(echo_bot.otvet)
    for number, payload in enumerate(ALL[:5]):
        update = echo_bot.api.private_message(f"Q{number} {payload}", language_code="en")
        update["message"]["from"].update(first_name=payload[:64], last_name="' OR 1=1 --", username="o_r_1")
        echo_bot.api.queue_update(update)
        await final_answers(echo_bot, number + 1)
    assert await stored_texts(echo_bot.otvet) == [f"Q{n} {payload}" for n, payload in enumerate(ALL[:5])]
    # One user, renamed by each update: the last name given is the one kept.
    assert await display_names(echo_bot.otvet, "telegram") == [f"{ALL[4][:64]} ' OR 1=1 --"]
    after = await table_counts(echo_bot.otvet)
    assert after["otvet_source"] == before["otvet_source"] and after["otvet_chunk"] == before["otvet_chunk"]


def test_ingested_file_names_titles_and_texts_are_stored_verbatim(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    names = {}
    for number, payload in enumerate(ALL[:6]):
        # File names cannot hold "/" or NUL; every quote and keyword can.
        path = folder / f"{number} {payload.replace('/', ' ')[:80]}.md"
        path.write_text(f"# Title {payload}\n\nThe text {payload}\n", encoding="utf-8")
        names[number] = payload
    env = clean_env(tmp_path / "data", OTVET_DATABASE_URL=db_url)
    result = run_otvet("ingest", str(folder), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sources = asyncio.run(_sources(tmp_path, db_url))
    titles = sorted(source.title for source in sources)
    assert titles == sorted(f"Title {payload}" for payload in names.values())
    texts = json.dumps([source.content for source in sources], ensure_ascii=False)
    for payload in names.values():
        assert json.dumps(f"The text {payload}", ensure_ascii=False)[1:-1] in texts


async def _sources(tmp_path: Path, db_url: str) -> list[SourceRecord]:
    async with Otvet(make_settings(tmp_path / "reader", db_url)) as otvet:
        return await otvet.store.list_sources()


# --- no SQL built from values ----------------------------------------------------------------------------

PRODUCT = Path(__file__).resolve().parents[2]
#: Calls that run SQL text: their first argument must be a constant, or a variable assigned only constants.
SQL_CALLS = {
    "execute_query",
    "execute_query_dict",
    "execute_script",
    "execute_many",
    "execute",
    "executemany",
    "fetch",
    "fetchrow",
    "fetchval",
    "raw",
    "RawSQL",
}
#: Functions that build SQL from values proven constant: (file, function) and why each is safe.
ALLOWED = {
    ("plugins/storage/usage.py", "usage_report"): "the grouping key is one of three literals picked by an "
    "if/elif that raises otherwise; the table is the model's Meta; the bounds are the driver's placeholders",
    ("plugins/storage/chunks.py", "fetch_chunks"): "columns and table are module constants and the model's "
    "Meta, the values are the driver's placeholders, the limit goes through int()",
    ("plugins/storage/store.py", "_refresh_statistics"): "the table name is the Chunk model's Meta",
    ("plugins/storage/turns.py", "_queries"): "the tables are the models' Meta, the columns a module "
    "constant, the values the driver's placeholders; the texts are made once per dialect, before any input",
    ("plugins/storage/turns.py", "_mark_answered"): "the table is the Message model's Meta, the statuses "
    "module constants, the id the driver's placeholder",
    ("plugins/storage/rates.py", "_queries"): "the table is the RateWindow model's Meta, the columns are "
    "literals, the values the driver's placeholders; made once per dialect, before any input",
    ("plugins/storage/schema.py", "transaction_locks"): "one pg_advisory_xact_lock($n) per key: only the "
    "placeholders' numbers are in the text, the keys are parameters",
    ("plugins/storage/slots.py", "_take_sqlite"): "the table is the SendSlot model's Meta, the values the "
    "driver's placeholders",
    ("plugins/storage/slots.py", "forget"): "the table is the SendSlot model's Meta, the bound the "
    "driver's placeholder",
    ("plugins/storage/activity.py", "_upserts"): "the tables are the models' Meta, the columns module "
    "constants, the values the driver's placeholders",
    ("plugins/storage/activity.py", "backfill"): "the tables are the models' Meta, the day expression one of "
    "two literals by dialect, the bucket bounds the module constant LATENCY_BUCKETS_MS (ints); no values",
}


def _is_dynamic(node: ast.expr) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


#: Words that make a string SQL, in the capitals SQL is written in (prose and log messages use none).
SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT INTO|DELETE FROM|UPDATE \S+ SET|DROP|ANALYZE|TRUNCATE|ALTER TABLE"
    r"|CREATE (TABLE|INDEX))\b"
)


def _literal_text(node: ast.expr) -> str:
    """The constant parts of a string expression (f-string, ``"..." % x``, ``"...".format(x)``)."""
    if isinstance(node, ast.JoinedStr):
        return "".join(str(part.value) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant):
        return str(node.left.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        target = node.func.value
        return str(target.value) if isinstance(target, ast.Constant) else ""
    return ""


def built_sql(source: str) -> list[tuple[str, str]]:
    """(function, SQL expression) of each SQL text built from values: the text of an SQL-running call that
    is an f-string, ``%``, ``.format`` or ``+`` expression, directly or through a variable the same function
    assigns; and any such expression that reads as SQL, wherever it goes (a dict of queries, a helper's
    return value)."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        found += [
            (function.name, ast.get_source_segment(source, node) or "")
            for node in ast.walk(function)
            if isinstance(node, ast.expr) and _is_dynamic(node) and SQL_WORDS.search(_literal_text(node))
        ]
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assigned: dict[str, list[ast.expr]] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and node.args and _call_name(node) in SQL_CALLS:
                sql = node.args[0]
                values = assigned.get(sql.id, []) if isinstance(sql, ast.Name) else [sql]
                found += [
                    (function.name, ast.get_source_segment(source, value) or "")
                    for value in values
                    if _is_dynamic(value)
                ]
    return list(dict.fromkeys(found))


def product_sql() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for folder in ("core", "plugins", "frontends"):
        for path in sorted((PRODUCT / folder).rglob("*.py")):
            relative = path.relative_to(PRODUCT).as_posix()
            if "/migrations/" in relative:
                continue  # generated by the ORM from the models, never from input
            for function, sql in built_sql(path.read_text()):
                found.setdefault((relative, function), []).append(sql)
    return found


def test_no_product_code_builds_sql_from_values() -> None:
    found = product_sql()
    problems = {place: sql for place, sql in found.items() if place not in ALLOWED}
    assert problems == {}, "pass values as query parameters, never in the SQL text (or prove it constant)"
    # An allowance for code that no longer builds SQL would silently cover the next function of that name.
    assert set(ALLOWED) <= set(found), "remove allowances that match nothing"


def test_the_static_check_catches_sql_built_from_input() -> None:
    sample = (
        "async def f(connection, x, y):\n"
        '    await connection.execute_query(f"SELECT * FROM t WHERE a = {x}")\n'
        '    await connection.execute_script("DELETE FROM t WHERE a = %s" % x)\n'
        '    await connection.execute("SELECT {}".format(y))\n'
        '    await connection.execute_query_dict("SELECT " + y)\n'
        "    sql = f\"DELETE FROM t WHERE a = '{x}'\"\n"
        "    await connection.execute_query(sql)\n"
        '    await connection.execute_query("SELECT * FROM t WHERE a = $1", [x])\n'
        '    await connection.execute_query(f"SELECT 1")\n'
        "def queries(name):\n"
        '    return {"user": f"SELECT id FROM users WHERE name = \'{name}\'"}\n'
        'def message(x):\n    return f"Select a file, {x}"\n'
    )
    assert sorted(sql for _, sql in built_sql(sample)) == sorted(
        [
            'f"SELECT * FROM t WHERE a = {x}"',
            '"DELETE FROM t WHERE a = %s" % x',
            '"SELECT {}".format(y)',
            '"SELECT " + y',
            "f\"DELETE FROM t WHERE a = '{x}'\"",
            "f\"SELECT id FROM users WHERE name = '{name}'\"",
        ]
    )
