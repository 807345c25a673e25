"""Attacks on authentication: forged and misused credentials, scope escalation, login guessing, webhook and
metrics secrets. Each attack must fail with the documented refusal and leave the service's data unchanged.

Unit tests of the same rules live in tests/core/test_accounts.py and tests/core/test_signing.py, the
per-field permission sweep in tests/frontends/graphql/test_permissions.py; these go through the HTTP apps an
attacker reaches, with the forgeries an attacker would try.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from graphql import GraphQLSchema

from otvet.core.signing import WIDGET_PURPOSE, b64encode, derive_key, issue_visitor_token, sign
from otvet.frontends.app import create_app
from otvet.frontends.graphql.permissions import required_scope
from otvet.frontends.graphql.schema import build_schema
from otvet.frontends.widget.identity import widget_key
from otvet.plugins.storage.store import TortoiseStore
from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.conftest import serve_api
from tests.frontends.graphql.test_permissions import operation, root_fields
from tests.frontends.widget.client import widget_socket
from tests.frontends.widget.conftest import serve_widget
from tests.security.hostile import UPDATE, snapshot, stub_webhook
from tests.support.providers import MockProvider

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
ME = "{ me { kind name } }"
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
CHAT = {"model": "otvet", "messages": [{"role": "user", "content": "hello"}]}


@dataclass
class Admin:
    api: Api
    token: str


@pytest.fixture
async def admin(tmp_path: Path, mock_provider: MockProvider) -> AsyncIterator[Admin]:
    """The GraphQL API with an admin ``root`` logged in (SQLite: the rules do not depend on the database)."""
    async with serve_api(tmp_path, mock_provider) as api:
        await api.otvet.accounts.create_admin("root", PASSWORD)
        yield Admin(api, await login(api, "root", PASSWORD))


async def login(api: Api, username: str, password: str) -> str:
    token = (await api.data(LOGIN, {"u": username, "p": password}, key=None))["login"]["token"]
    assert isinstance(token, str)
    return token


async def assert_unauthenticated(api: Api, credential: str) -> None:
    """``credential`` is refused by GraphQL and by ``/v1`` alike: 401, ``unauthenticated``, nothing run."""
    header = {"authorization": credential.encode("utf-8")}  # bytes: a forgery may not be ASCII
    refused = await api.client.post("/graphql", json={"query": ME}, headers=header)
    assert refused.status_code == 401, refused.text
    assert codes(refused.json()) == ["UNAUTHENTICATED"] and refused.json().get("data") is None
    assert refused.headers["www-authenticate"] == 'Bearer realm="otvet"'
    chat = await api.client.post("/v1/chat/completions", json=CHAT, headers=header)
    assert chat.status_code == 401, chat.text
    assert chat.json()["error"]["code"] == "invalid_api_key"  # the OpenAI API's code for it


# --- forged login tokens ------------------------------------------------------------------------------------


def _jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    head = b64encode(json.dumps(header).encode())
    body = b64encode(json.dumps(claims).encode())
    signature = "" if key is None else b64encode(hmac.new(key, f"{head}.{body}".encode(), "sha256").digest())
    return f"{head}.{body}.{signature}"


def _resigned(token: str, key: bytes) -> str:
    payload = token.partition(".")[0]
    return f"{payload}.{b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


CLAIMS = {"sub": "1", "admin": True, "scopes": ["admin"], "exp": 4102444800}
#: name → a forgery made from a valid login token (what an attacker holding one could try).
FORGERIES: dict[str, Callable[[str], str]] = {
    "garbage": lambda _t: "Bearer not-a-token",
    "empty bearer": lambda _t: "Bearer ",
    "payload tampered": lambda t: "Bearer " + _flip(t, 2),
    "signature tampered": lambda t: "Bearer " + _flip(t, len(t) - 3),
    "signature truncated": lambda t: "Bearer " + t[:-4],
    "signature dropped": lambda t: "Bearer " + t.partition(".")[0] + ".",
    "payload only": lambda t: "Bearer " + t.partition(".")[0],
    "extra field": lambda t: f"Bearer {t}.AAAA",
    "signed with another secret": lambda t: (
        "Bearer " + _resigned(t, derive_key(b"another deployment's secret key!", "otvet login token v1"))
    ),
    "signed with the widget key": lambda t: "Bearer " + _resigned(t, derive_key(b"x" * 32, WIDGET_PURPOSE)),
    "signed with an empty key": lambda t: "Bearer " + _resigned(t, b""),
    "jwt alg none": lambda _t: "Bearer " + _jwt({"alg": "none", "typ": "JWT"}, CLAIMS, None),
    "jwt alg none, literal": lambda _t: "Bearer eyJhbGciOiJub25lIn0." + b64encode(b'{"sub":"1"}') + ".",
    "jwt HS256 empty key": lambda _t: "Bearer " + _jwt({"alg": "HS256", "typ": "JWT"}, CLAIMS, b""),
    "non-ascii": lambda t: "Bearer " + t[:-1] + "é",
    "huge": lambda t: "Bearer " + t * 100,  # ~10 KB; past 32 KB of headers it is a 431 (protocol tests)
    "basic scheme": lambda t: "Basic " + base64.b64encode(f"root:{PASSWORD}".encode()).decode(),
    "forged api key": lambda _t: "Bearer otv_00000000_" + "A" * 43,
    "api key prefix only": lambda _t: "Bearer otv_",
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_or_altered_login_token_is_unauthenticated(admin: Admin, forgery: str) -> None:
    before = await snapshot(admin.api.otvet)
    await assert_unauthenticated(admin.api, FORGERIES[forgery](admin.token))
    # The real token still works: the refusal was the forgery's, not a broken service.
    me = await admin.api.data(ME, key=admin.token)
    assert me == {"me": {"kind": "ADMIN", "name": "root"}}
    assert await snapshot(admin.api.otvet) == before


async def test_an_expired_token_is_unauthenticated(admin: Admin) -> None:
    accounts = admin.api.otvet.accounts
    accounts.clock = lambda: time.time() + accounts.token_ttl + 1
    await assert_unauthenticated(admin.api, f"Bearer {admin.token}")


async def test_a_disabled_admin_is_locked_out_at_once_with_the_answer_of_a_wrong_password(
    admin: Admin,
) -> None:
    api = admin.api
    await api.otvet.accounts.create_admin("mallory", PASSWORD)
    mallory = await login(api, "mallory", PASSWORD)
    disable = 'mutation { setAdminDisabled(username: "mallory", disabled: true) { username } }'
    await api.data(disable, key=admin.token)
    await assert_unauthenticated(api, f"Bearer {mallory}")
    refused = await api.post(LOGIN, {"u": "mallory", "p": PASSWORD}, key=None)
    wrong = await api.post(LOGIN, {"u": "root", "p": "not the password"}, key=None)
    assert refused.json() == wrong.json() and codes(refused.json()) == ["UNAUTHENTICATED"]


async def test_a_password_change_ends_every_session_of_that_admin_only(admin: Admin) -> None:
    api = admin.api
    await api.otvet.accounts.create_admin("anna", PASSWORD)
    sessions = [await login(api, "anna", PASSWORD) for _ in range(2)]
    change = 'mutation($p: String!) { setAdminPassword(username: "anna", password: $p) }'
    await api.data(change, {"p": "a brand new passphrase"}, key=admin.token)
    for token in sessions:
        await assert_unauthenticated(api, f"Bearer {token}")
    assert (await api.data(ME, key=admin.token))["me"]["name"] == "root"  # others keep theirs
    assert (await api.data(ME, key=await login(api, "anna", "a brand new passphrase")))["me"][
        "name"
    ] == "anna"


async def test_stored_password_hashes_are_argon2id_in_the_database_row(
    tmp_path: Path, db_url: str, mock_provider: MockProvider
) -> None:
    async with serve_api(tmp_path, mock_provider, db_url) as api:
        await api.otvet.accounts.create_admin("root", PASSWORD)
        admin = Admin(api, await login(api, "root", PASSWORD))
        await _assert_argon2id_rows(admin)


async def _assert_argon2id_rows(admin: Admin) -> None:
    change = 'mutation($p: String!) { setAdminPassword(username: "root", password: $p) }'
    await admin.api.data(change, {"p": "another long passphrase"}, key=admin.token)
    await admin.api.otvet.accounts.create_admin("second", PASSWORD)
    store = cast(TortoiseStore, admin.api.otvet.store)
    _, rows = await store.context.db(store.connection_name).execute_query(
        "SELECT username, password_hash FROM otvet_admin_account"
    )
    assert {row["username"] for row in rows} == {"root", "second"}
    for row in rows:
        hashed = row["password_hash"]
        assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), hashed
        assert PASSWORD not in hashed and "passphrase" not in hashed


# --- API keys -----------------------------------------------------------------------------------------------


async def test_a_revoked_key_is_refused_at_once_everywhere(admin: Admin) -> None:
    api = admin.api
    records = {k.name: k for k in await api.otvet.accounts.list_api_keys()}
    victim = api.keys["ask"]
    assert (await api.client.post("/v1/chat/completions", json=CHAT, headers=api.headers("ask"))).is_success
    revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }"
    await api.data(revoke, {"id": str(records["ask key"].id)}, key=admin.token)
    await assert_unauthenticated(api, f"Bearer {victim}")
    await assert_unauthenticated(api, victim)  # the bare value, without the scheme


def _mixed(kind: str, name: str, document: str) -> str:
    """``document`` (one root field) with an allowed field before it and the forbidden one aliased."""
    allowed = "me { name }" if kind == "Query" else 'widgetUserToken(userId: "u", ttlSeconds: 60)'
    return document.replace("{ ", f"{{ {allowed} x: ", 1)


@pytest.mark.parametrize("kind", ["Query", "Mutation"])
async def test_an_ask_key_cannot_reach_any_read_or_admin_field_even_mixed_with_allowed_ones(
    admin: Admin, kind: str
) -> None:
    """Every read/admin root field, from the live schema, aliased next to a field the key may use."""
    api = admin.api
    await api.data('mutation { addTextSource(name: "kept.md", text: "# Kept\\n\\nKept text.") { added } }')
    before = await snapshot(api.otvet)
    schema = build_schema()
    live: GraphQLSchema = schema._schema
    tried = []
    for root, name, field in root_fields(live):
        if root != kind or required_scope(schema, root, name) in (None, "ask"):
            continue
        document, uploads = operation(kind, name, field)
        mixed = _mixed(kind, name, document)
        if uploads:
            files = {u: (f"{u}.md", b"# Title\n\nSome text.\n") for u in uploads}
            file_map = {u: [f"variables.{u}"] for u in uploads}
            response = await api.upload(mixed, files, dict.fromkeys(uploads), file_map, key="ask")
        else:
            response = await api.post(mixed, key="ask")
        body = response.json()
        assert codes(body) == ["FORBIDDEN"], f"{mixed}: {body}"
        assert body["errors"][0]["path"] == ["x"]
        # A non-null field's refusal nulls the whole result; a nullable one's is null on its own.
        assert body["data"] is None or body["data"]["x"] is None, mixed
        tried.append(name)
    assert len(tried) >= (13 if kind == "Query" else 19), tried
    assert await snapshot(api.otvet) == before


# --- login guessing -----------------------------------------------------------------------------------------


async def test_login_guessing_is_throttled_per_address_even_for_the_right_password_and_recovers(
    admin: Admin,
) -> None:
    api = admin.api
    limiter = api.otvet.accounts.attempts
    now = [1000.0]
    limiter.clock = lambda: now[0]  # the fixture's own login counted on the real clock, in another window
    api.otvet.accounts.failures.limit = 0  # this test is about addresses (the account's limit: below)
    for attempt in range(api.otvet.settings.api.login_attempts_per_minute):
        wrong = await api.body(LOGIN, {"u": "root", "p": f"guess number {attempt:04}"}, key=None)
        assert codes(wrong) == ["UNAUTHENTICATED"]
    for password in ("another guess!!", PASSWORD):
        throttled = await api.body(LOGIN, {"u": "root", "p": password}, key=None)
        assert codes(throttled) == ["RATE_LIMITED"] and throttled["data"] is None, password
        assert 0 < throttled["errors"][0]["extensions"]["retryAfter"] <= 60
    # Another address is not held back by this one's guesses.
    transport = httpx.ASGITransport(app=api.app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://otvet.test") as elsewhere:
        other = Api(api.otvet, elsewhere, api.keys, api.app)
        assert await login(other, "root", PASSWORD)
    now[0] += 60.5
    assert await login(api, "root", PASSWORD)


async def test_guesses_spread_over_many_addresses_lock_the_account_for_a_while(admin: Admin) -> None:
    """40 addresses (as forged X-Forwarded-For headers would give) each under its own limit: after 10 failed
    logins the account refuses even the right password, from any address, until the window slides on; and
    a username that names no account is refused the same way, so the refusal tells nothing."""
    api = admin.api
    failures = api.otvet.accounts.failures
    now = [2_000_000_000.0]
    failures.clock = lambda: now[0]

    async def attempt(address: str, username: str, password: str) -> dict[str, Any]:
        transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet.test") as client:
            return await Api(api.otvet, client, api.keys, api.app).body(
                LOGIN, {"u": username, "p": password}, key=None
            )

    answers = [
        codes(await attempt(f"198.51.100.{n}", username, f"guess number {n:04}"))
        for n in range(40)
        for username in ("root", "nobody-here")
    ]
    assert answers[:20] == [["UNAUTHENTICATED"]] * 20  # 10 failures each
    assert set(map(tuple, answers[20:])) == {("RATE_LIMITED",)}
    locked = await attempt("203.0.113.9", "root", PASSWORD)
    assert codes(locked) == ["RATE_LIMITED"] and "this account" in locked["errors"][0]["message"]
    retry_after = locked["errors"][0]["extensions"]["retryAfter"]
    assert 0 < retry_after <= 2 * api.otvet.settings.api.login_failure_window_seconds
    now[0] += retry_after
    welcome = await attempt("203.0.113.9", "root", PASSWORD)
    assert "errors" not in welcome and welcome["data"]["login"]["token"]
    assert codes(await attempt("203.0.113.9", "nobody-here", "guess")) == ["UNAUTHENTICATED"]


async def test_unknown_users_wrong_passwords_and_odd_inputs_get_one_identical_answer(admin: Admin) -> None:
    api = admin.api
    api.otvet.accounts.attempts.limit = 0  # many attempts on purpose
    attempts = [
        ("root", "wrong password here"),
        ("nobody", "wrong password here"),
        ("nobody", PASSWORD),
        ("ROOT", PASSWORD),
        ("", ""),
        ("root", "x" * 5000),  # over the longest password: refused before hashing, looks the same
        ("root'; DROP TABLE otvet_admin_account; --", PASSWORD),
    ]
    answers = []
    for username, password in attempts:
        response = await api.post(LOGIN, {"u": username, "p": password}, key=None)
        answers.append((response.status_code, response.json()))
    assert all(answer == answers[0] for answer in answers), answers
    assert codes(answers[0][1]) == ["UNAUTHENTICATED"]
    assert "wrong username or password" in answers[0][1]["errors"][0]["message"]
    assert [a.username for a in await api.otvet.accounts.list_admins()] == ["root"]


# --- widget tokens: forged, expired, or of another purpose -------------------------------------------------


async def test_tokens_of_one_purpose_are_refused_as_another(
    tmp_path: Path, mock_provider: MockProvider
) -> None:
    async with serve_widget(tmp_path, provider=mock_provider) as served:
        otvet = served.otvet
        await otvet.accounts.create_admin("root", PASSWORD)
        ask_key, _ = await otvet.accounts.create_api_key("shop", ["ask"])
        auth = {"authorization": f"Bearer {ask_key}"}
        minted = await served.http.post(
            "/graphql",
            json={"query": 'mutation { widgetUserToken(userId: "bob", ttlSeconds: 600) }'},
            headers=auth,
        )
        user_token = minted.json()["data"]["widgetUserToken"]
        logged_in = await served.http.post(
            "/graphql", json={"query": LOGIN, "variables": {"u": "root", "p": PASSWORD}}
        )
        login_token = logged_in.json()["data"]["login"]["token"]
        visitor = issue_visitor_token(widget_key(otvet))
        key = widget_key(otvet)
        widget_signed_login = f"{login_token.partition('.')[0]}.{sign(key, login_token.partition('.')[0])}"
        # Widget tokens are not API credentials.
        for credential in (user_token, visitor, widget_signed_login):
            refused = await served.http.post(
                "/graphql", json={"query": ME}, headers={"authorization": credential}
            )
            assert refused.status_code == 401 and codes(refused.json()) == ["UNAUTHENTICATED"], credential
        # API credentials and visitor tokens are not user tokens: the socket closes with 4401.
        for credential in (login_token, ask_key, visitor, f"u1.{visitor.partition('.')[2]}"):
            async with widget_socket(served.ws_url) as socket:
                hello = await socket.hello(user=credential)
                assert hello["type"] == "error" and hello["code"] == "unauthenticated", credential
                assert await socket.closed_with() == 4401
        # A forged or expired visitor token is not an identity: the socket gets a fresh, unknown visitor.
        expired = issue_visitor_token(
            key, "victim", now=time.time() - otvet.settings.widget.visitor_days * 86400
        )
        foreign = issue_visitor_token(derive_key(b"another deployment" * 2, WIDGET_PURPOSE), "victim")
        for token in (expired, foreign, "v1.victim.1700000000.AAAA"):
            async with widget_socket(served.ws_url) as socket:
                welcome = await socket.hello(visitor=token)
                assert welcome["type"] == "welcome" and welcome["history"] == []
                assert welcome["visitor"].split(".")[1] != "victim"


# --- the Telegram webhook secret and the metrics token -----------------------------------------------------

WEBHOOK_SECRET = "webhook-secret-0123456789"


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "wrong",
        WEBHOOK_SECRET[:-1],
        WEBHOOK_SECRET + "x",
        WEBHOOK_SECRET.upper(),
        " " + WEBHOOK_SECRET,
    ],
    ids=["missing", "empty", "wrong", "prefix", "longer", "other-case", "padded"],
)
async def test_a_webhook_post_without_the_exact_secret_is_refused_and_processes_nothing(
    tmp_path: Path, given: str | None
) -> None:
    from otvet.core.app import Otvet
    from tests.conftest import make_settings

    async with Otvet(make_settings(tmp_path, telegram={"secret_token": WEBHOOK_SECRET})) as otvet:
        queue = stub_webhook(otvet)
        transport = httpx.ASGITransport(app=create_app(otvet))
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
            headers = {} if given is None else {"X-Telegram-Bot-Api-Secret-Token": given}
            refused = await client.post("/telegram/webhook", json=UPDATE, headers=headers)
            assert refused.status_code == 403 and queue.updates == []
            right = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
            accepted = await client.post("/telegram/webhook", json=UPDATE, headers=right)
        assert accepted.status_code == 200 and [u.update_id for u in queue.updates] == [1]


METRICS_TOKEN = "metrics-scrape-token-0123"


@pytest.mark.parametrize(
    "authorization",
    [
        f"Basic {base64.b64encode(METRICS_TOKEN.encode()).decode()}",
        METRICS_TOKEN,
        f"Bearer {METRICS_TOKEN[:-1]}",
        f"Bearer {METRICS_TOKEN}0",
        f"Bearer {METRICS_TOKEN.upper()}",
        "Bearer ",
        "Bearer otv_00000000_" + "A" * 43,
    ],
    ids=["basic", "no-scheme", "prefix", "longer", "other-case", "empty", "api-key"],
)
async def test_metrics_refuse_anything_but_the_exact_bearer_token(tmp_path: Path, authorization: str) -> None:
    from otvet.core.app import Otvet
    from tests.conftest import make_settings

    async with Otvet(make_settings(tmp_path, metrics={"token": METRICS_TOKEN})) as otvet:
        transport = httpx.ASGITransport(app=create_app(otvet))
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
            refused = await client.get("/metrics", headers={"Authorization": authorization})
            allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert refused.status_code == 401 and "otvet_" not in refused.text
    assert allowed.status_code == 200 and "otvet_" in allowed.text


# --- constant-time comparisons (static) ---------------------------------------------------------------------

#: Modules that compare secrets: tokens, signatures, key hashes, the webhook secret, the metrics token.
SECRET_MODULES = [
    "core/signing.py",
    "core/accounts.py",
    "frontends/http_auth.py",
    "frontends/telegram/plugin.py",
    "frontends/metrics.py",
]
#: Comparisons that are not of a secret against a guess, each with why it is fine.
HARMLESS = {
    # Refusing a password equal to the username when it is set: no attacker sees the outcome's timing.
    "password.strip().casefold() == username.strip().casefold()",
}
SECRET_WORDS = ("token", "signature", "sig", "hash", "digest", "fingerprint", "secret", "password", "key")


def _names(node: ast.AST) -> set[str]:
    """The lower-cased variable, attribute and called-function names inside an expression."""
    found = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            found.add(inner.id.lower())
        elif isinstance(inner, ast.Attribute):
            found.add(inner.attr.lower())
    return found


def secret_comparisons(source: str) -> list[str]:
    """``==``/``!=`` comparisons with a secret-looking operand: they leak by timing how much matched."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare) or not any(isinstance(o, ast.Eq | ast.NotEq) for o in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(isinstance(o, ast.Constant) and o.value in (None, "", 0) for o in operands):
            continue  # an emptiness check reveals nothing about the secret's content
        if ast.unparse(node) in HARMLESS:
            continue
        if any(word in name for o in operands for name in _names(o) for word in SECRET_WORDS):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_detector_flags_plain_comparisons_of_secrets() -> None:
    assert secret_comparisons("ok = given_token == expected\nif sign(k, p) != signature: pass") == [
        "line 1: given_token == expected",
        "line 2: sign(k, p) != signature",
    ]
    assert secret_comparisons("ok = hmac.compare_digest(a_token, b)\nif token == '': pass") == []


@pytest.mark.parametrize("module", SECRET_MODULES)
def test_secrets_are_compared_only_in_constant_time(module: str) -> None:
    source = (ROOT / module).read_text(encoding="utf-8")
    assert secret_comparisons(source) == [], f"{module}: use hmac.compare_digest"
    if module != "frontends/http_auth.py":  # it delegates to core/accounts.py and compares nothing itself
        assert "hmac.compare_digest(" in source
