"""Secrets never leak: not in logs (text and JSON, at DEBUG), HTTP error bodies, GraphQL errors, /metrics,
nor the ``otvet`` command's output, however things fail.

The services run as real processes with distinctive secrets, each with a quote or backslash or non-ASCII
letter in it where the setting allows, so a secret escaped inside a JSON log line or a ``repr()`` is caught
too: every written form of a secret (core/logs.py ``written_forms``) is searched for.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from otvet.core.logs import Redactor, configure_logging, settings_secrets
from otvet.core.types import Turn
from tests.conftest import make_settings
from tests.frontends.graphql.client import Api
from tests.support.cli import clean_env, run_otvet, run_otvet_async
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_telegram import FakeBotAPI
from tests.support.logcapture import root_logger_restored
from tests.support.providers import MockProvider
from tests.support.server import free_port, service

# Each secret carries a marker of letters and digits that no escaping changes: a secret that leaks in any
# form (plain, JSON-escaped, in a repr(), percent-encoded) still shows its marker.
OPENAI_KEY = 'sk-proj-"Q\\openaiMARK1x9"-5f1e9c7a2b'
BOT_TOKEN = "7301337420:AAEbotMARK2x9-leak_me_not"
DB_PASSWORD = "pg-Leak@dbMARK3x9:Not/Päss"
SIGNING_KEY = 'signing-"key"\\signMARK4x9-0c4e8f2a9d7b6a5e4f3c2d1e0f9a8b7c'
METRICS_TOKEN = "metrics-token-metricsMARK5x9-81f3"
WEBHOOK_SECRET = "webhook-secret-hookMARK6x9-55aa"
ADMIN_PASSWORD = "admin password: adminMARK7x9 leak me not"
SECRETS = [OPENAI_KEY, BOT_TOKEN, DB_PASSWORD, SIGNING_KEY, METRICS_TOKEN, WEBHOOK_SECRET, ADMIN_PASSWORD]
MARKER = re.compile(r"[a-z]+MARK\dx9")


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets whose marker (for a generated API key: its random part) appears in ``text``."""
    found = []
    for secret in secrets:
        marker = MARKER.search(secret)
        # An API key is otv_<prefix>_<random>: the prefix is shown on purpose, the random part never.
        if (marker.group() if marker else secret.split("_", 2)[-1]) in text:
            found.append(secret)
    return found


def with_password(db_url: str) -> str:
    """``db_url`` with :data:`DB_PASSWORD` (the test cluster trusts every password); SQLite has none."""
    if not db_url.startswith("postgres"):
        return db_url
    scheme, rest = db_url.split("://", 1)
    user, host = rest.split("@", 1) if "@" in rest else ("postgres", rest)
    return f"{scheme}://{user.split(':')[0]}:{quote(DB_PASSWORD, safe='')}@{host}"


class Tour:
    """Every response the service gave, for one search at the end."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.seen: list[str] = []
        self.statuses: list[int] = []

    async def __call__(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = await self.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        self.seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        self.statuses.append(response.status_code)
        return response


async def drive_failures(tour: Tour, api_key: str, fake: FakeOpenAI) -> None:
    """Everything that goes wrong in a day: a refused provider, wrong logins, bad tokens, a forged webhook."""
    bearer = {"authorization": f"Bearer {api_key}"}
    ask = {"query": 'mutation { ask(input: {question: "How do I reset it?"}) { __typename } }'}
    # The provider refuses the key and echoes it back, as OpenAI's "Incorrect API key provided" does.
    fake.fail(401, message=f"Incorrect API key provided: {OPENAI_KEY}", code="invalid_api_key", times=3)
    await tour("POST", "/graphql", json=ask, headers=bearer)
    fake.fail(500, message=f"upstream at https://user:{OPENAI_KEY}@proxy failed", times=3)
    completion = {"model": "otvet", "messages": [{"role": "user", "content": "Hello?"}]}
    await tour("POST", "/v1/chat/completions", json=completion, headers=bearer)
    login = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
    for username, password in (("alice", "wrong password 123"), (ADMIN_PASSWORD, ADMIN_PASSWORD)):
        await tour("POST", "/graphql", json={"query": login, "variables": {"u": username, "p": password}})
    for credential in (api_key[:-3] + "xyz", f"{SIGNING_KEY}.{SIGNING_KEY}", ADMIN_PASSWORD, BOT_TOKEN):
        await tour(
            "POST",
            "/graphql",
            json={"query": "{ me { name } }"},
            headers={"authorization": f"Bearer {credential}"},
        )
        await tour("GET", "/v1/models", headers={"authorization": f"Bearer {credential}"})
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
    for secret in ("wrong", BOT_TOKEN):
        await tour(
            "POST", "/telegram/webhook", json=update, headers={"x-telegram-bot-api-secret-token": secret}
        )
    await tour("GET", "/metrics")
    metrics = await tour("GET", "/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert "otvet_http_requests_total" in metrics.text
    await tour("GET", f"/graphql?query={{me{{name}}}}&token={api_key}")


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_service_failing_every_way_leaks_no_secret(
    tmp_path: Path, db_url: str, log_format: str
) -> None:
    database_url = with_password(db_url)
    base_env = clean_env(
        tmp_path / "data",
        OTVET_DATABASE_URL=database_url,
        OTVET_API__SECRET_KEY=SIGNING_KEY,
        OTVET_LOG_LEVEL="DEBUG",
        OTVET_LOG_FORMAT=log_format,
    )
    created = run_otvet(
        "admin", "create", "alice", "--password-stdin", env=base_env, cwd=tmp_path, input=ADMIN_PASSWORD
    )
    assert created.returncode == 0, created.stderr
    made = run_otvet("key", "create", "crm", "--scope", "ask", "--scope", "read", env=base_env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    api_key = made.stdout.strip()
    secrets = [*SECRETS, api_key]
    # Creating them printed none of the secrets but the new key, once, on stdout as documented.
    assert leaks(created.stdout + created.stderr + made.stderr, secrets) == []

    async with FakeOpenAI() as fake, FakeBotAPI(BOT_TOKEN) as bot:
        env = {
            **base_env,
            "OTVET_PROVIDER": "openai",
            "OTVET_OPENAI__API_KEY": OPENAI_KEY,
            "OTVET_OPENAI__BASE_URL": fake.base_url,
            "OTVET_OPENAI__MAX_RETRIES": "0",
            "OTVET_TELEGRAM__TOKEN": BOT_TOKEN,
            "OTVET_TELEGRAM__BASE_URL": bot.base_url,
            "OTVET_TELEGRAM__BASE_FILE_URL": bot.base_file_url,
            "OTVET_TELEGRAM__MODE": "webhook",
            "OTVET_TELEGRAM__WEBHOOK_URL": "https://bot.example/telegram/webhook",
            "OTVET_TELEGRAM__SECRET_TOKEN": WEBHOOK_SECRET,
            "OTVET_METRICS__TOKEN": METRICS_TOKEN,
            "OTVET_LOAD_DEMO": "true",
        }
        log_file = tmp_path / "serve.log"
        async with service("serve", env, tmp_path, ready_path="/readyz", stderr_file=log_file) as running:
            async with httpx.AsyncClient(base_url=running.base, timeout=30) as client:
                tour = Tour(client)
                await drive_failures(tour, api_key, fake)
            await running.stop()
            log = await running.stderr()
        assert bot.calls_to("getMe"), "the bot started, so its token was in use"

    # The failures really happened, and the log is at DEBUG: the search below is not of an empty log.
    assert {200, 401, 403} <= set(tour.statuses), tour.statuses
    assert fake.chat_requests and "DEBUG" in log
    assert leaks(log, secrets) == [], log[-5000:]
    assert leaks("\n".join(tour.seen), secrets) == [], tour.seen
    if log_format == "json":
        assert all(json.loads(line) for line in log.splitlines() if line.startswith("{"))


def test_the_command_line_failing_leaks_no_secret(tmp_path: Path) -> None:
    """A database that is down and a provider that refuses: the errors and tracebacks of ``otvet``."""
    down = f"postgres://otvet:{quote(DB_PASSWORD, safe='')}@127.0.0.1:{free_port()}/otvet"
    env = clean_env(
        tmp_path / "data",
        OTVET_DATABASE_URL=down,
        OTVET_OPENAI__API_KEY=OPENAI_KEY,
        OTVET_API__SECRET_KEY=SIGNING_KEY,
        OTVET_TELEGRAM__TOKEN=BOT_TOKEN,
    )
    outputs = []
    for args in (
        ("ask", "Is anyone there?"),
        ("migrate",),
        ("--log-level", "DEBUG", "ask", "Hello?"),
        ("usage",),
    ):
        result = run_otvet(*args, env=env, cwd=tmp_path, timeout=60)
        assert result.returncode != 0, args
        outputs.append(result.stdout + result.stderr)
    assert leaks("\n".join(outputs), SECRETS) == [], outputs
    assert any("127.0.0.1" in output for output in outputs), "the errors say what failed"


async def test_the_command_line_with_a_refusing_provider_leaks_no_secret(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.fail(401, message=f"Incorrect API key provided: {OPENAI_KEY}", code="invalid_api_key", times=5)
        env = clean_env(
            tmp_path / "data",
            OTVET_PROVIDER="openai",
            OTVET_OPENAI__API_KEY=OPENAI_KEY,
            OTVET_OPENAI__BASE_URL=fake.base_url,
            OTVET_FALLBACK_PROVIDER="",
            OTVET_LOAD_DEMO="true",
        )
        _, stdout, stderr = await run_otvet_async(
            "--log-level", "DEBUG", "ask", "How do I connect Telegram?", env=env, cwd=tmp_path
        )
    assert fake.chat_requests, "the provider was called"
    assert leaks(stdout + stderr, SECRETS) == [], stdout + stderr


# --- in process: a plugin that crashes with a secret in its message ---------------------------------------


@pytest.fixture(params=["text", "json"])
def captured_log(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What configure_logging writes at DEBUG in each format; the root logger is restored after."""
    stream = io.StringIO()
    with root_logger_restored():
        configure_logging("DEBUG", fmt=request.param, secrets=SECRETS, service="api", stream=stream)
        yield stream


async def test_a_crashing_plugin_leaks_no_secret(
    sqlite_api: Api, mock_provider: MockProvider, captured_log: io.StringIO
) -> None:
    crash = RuntimeError(
        f"cannot reach https://otvet:{DB_PASSWORD}@db/otvet with {OPENAI_KEY!r} and {BOT_TOKEN}"
    )
    mock_provider.fail(crash)
    ask = 'mutation { ask(input: {question: "Will it crash?"}) { ... on AnswerFailure { message } } }'
    body = await sqlite_api.body(ask, key="ask")

    def explode(*_: object) -> None:
        raise ValueError({"password": ADMIN_PASSWORD, "key": SIGNING_KEY, "token": BOT_TOKEN})

    mock_provider.fail(crash)
    failed = await sqlite_api.otvet.engine.ask(Turn("test", "u1", "Again?"))
    logging.getLogger("otvet.plugins.crashy").exception("plugin failed", exc_info=_raised(explode))
    written = captured_log.getvalue()
    assert "RuntimeError" in written and "plugin failed" in written, (
        "the crash was logged, with its traceback"
    )
    assert leaks(written, SECRETS) == [], written
    assert leaks(json.dumps(body) + failed.message, SECRETS) == [], body


def _raised(function: object) -> BaseException:
    try:
        function()  # type: ignore[operator]
    except ValueError as exc:
        return exc
    raise AssertionError("did not raise")


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: s, id="plain"),
        pytest.param(lambda s: json.dumps(s), id="json"),
        pytest.param(lambda s: json.dumps(s, ensure_ascii=False), id="json-unicode"),
        pytest.param(repr, id="repr"),
        pytest.param(lambda s: json.dumps(repr(s)), id="repr-in-json"),
        pytest.param(lambda s: json.dumps({"args": [s]}), id="nested-json"),
        pytest.param(lambda s: quote(s, safe=""), id="url-encoded"),
    ],
)
def test_the_log_mask_finds_every_secret_however_it_was_written(
    tmp_path: Path, write: Callable[[str], str]
) -> None:
    settings = make_settings(
        tmp_path,
        f"postgres://otvet:{quote(DB_PASSWORD, safe='')}@db.example/otvet",
        openai={"api_key": OPENAI_KEY},
        api={"secret_key": SIGNING_KEY},
        telegram={"token": BOT_TOKEN, "secret_token": WEBHOOK_SECRET},
        metrics={"token": METRICS_TOKEN},
    )
    redact = Redactor(settings_secrets(settings))
    for secret in SECRETS[:-1]:  # the admin password is no setting: it is never logged at all
        line = f"failed: {write(secret)} (attempt 2)"
        assert leaks(redact(line), SECRETS) == [], redact(line)
        assert redact(line).startswith("failed: ") and redact(line).endswith(" (attempt 2)")
