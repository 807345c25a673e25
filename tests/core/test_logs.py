"""Logs as an operator's collector receives them: one JSON object a line with the ids of what it belongs to,
no secrets at any level, no question or answer text at INFO."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from otvet.core import logs
from otvet.core.app import Otvet
from otvet.core.logs import Redactor, log_context, settings_secrets
from otvet.core.types import Turn
from otvet.frontends.app import create_app
from tests.conftest import make_settings
from tests.support.logcapture import root_logger_restored
from tests.support.providers import MockProvider


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What configure_logging writes (to this stream instead of stderr); the root logger is restored after."""
    stream = io.StringIO()
    real = logs.configure_logging
    monkeypatch.setattr(logs, "configure_logging", lambda *a, **k: real(*a, **k, stream=stream))
    with root_logger_restored():
        yield stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_the_context_ids_and_the_exception(captured: io.StringIO) -> None:
    logs.configure_logging("INFO", fmt="json", service="api")
    log = logging.getLogger("otvet.test")
    with log_context(request_id="r-1"), log_context(conversation_id=7):
        log.info("answered %s", "ok")
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("failed")
    first, second = lines(captured)
    assert first["message"] == "answered ok" and first["level"] == "INFO" and first["logger"] == "otvet.test"
    assert first["request_id"] == "r-1" and first["conversation_id"] == 7 and first["service"] == "api"
    assert "request_id" not in second  # the context ended with its block
    assert "ValueError: bad" in str(second["exception"])


def test_text_lines_show_the_ids_after_the_message(captured: io.StringIO) -> None:
    logs.configure_logging("INFO", fmt="text")
    with log_context(job_id=3):
        logging.getLogger("otvet.test").warning("slow")
    assert captured.getvalue().rstrip().endswith("otvet.test: slow [job_id=3]")


def test_configured_secrets_url_passwords_and_bearer_tokens_are_masked(
    captured: io.StringIO, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        database_url="postgres://otvet:pg-Pa55word@db.internal:5432/otvet",
        openai={"api_key": "sk-live-0123456789"},
        telegram={"token": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"},
        api={"secret_key": "signing-key-of-the-replicas"},
    )
    logs.configure_logging("DEBUG", fmt="json", secrets=settings_secrets(settings))
    log = logging.getLogger("httpx")  # what a library might print at DEBUG
    log.debug("POST https://api.telegram.org/bot123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789/getUpdates")
    log.debug("connecting to postgres://otvet:pg-Pa55word@db.internal:5432/otvet")
    log.debug("headers {'authorization': 'Bearer sk-live-0123456789'}")
    log.debug("signing with %s", "signing-key-of-the-replicas")
    log.debug("other url https://user:hunter22@example.com/x and Bearer eyJhbGciOi.abc.def")
    text = captured.getvalue()
    for secret in (
        "pg-Pa55word",
        "sk-live-0123456789",
        "ABCdefGHIjkl",
        "signing-key-of",
        "hunter22",
        "eyJhbGciOi",
    ):
        assert secret not in text, secret
    assert "bot***/getUpdates" in text and "otvet:***@db.internal" in text


def test_short_values_are_not_masked_everywhere() -> None:
    assert Redactor(["1", "abc"])("value 1 abc") == "value 1 abc"


async def test_no_question_or_answer_text_reaches_the_log_at_info(
    captured: io.StringIO, otvet: Otvet, mock_provider: MockProvider
) -> None:
    logs.configure_logging("INFO", fmt="json", secrets=settings_secrets(otvet.settings))
    mock_provider.then("The secret recipe is cardamom.")
    async for _ in otvet.engine.stream(Turn(channel="test", user_id="u9", text="What is in grandma's pie?")):
        pass
    mock_provider.fail()
    async for _ in otvet.engine.stream(Turn(channel="test", user_id="u9", text="Tell me more about the pie")):
        pass
    entries = lines(captured)
    text = captured.getvalue()
    assert "grandma" not in text and "cardamom" not in text and "about the pie" not in text
    answered = [e for e in entries if str(e["message"]).startswith("answered")]
    assert answered and answered[0]["conversation_id"]  # the line says which conversation, not what was said


async def test_the_access_line_has_no_query_string_and_the_request_id(
    captured: io.StringIO, otvet: Otvet
) -> None:
    logs.configure_logging("INFO", fmt="json")
    transport = httpx.ASGITransport(app=create_app(otvet))
    async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
        await client.get("/healthz?token=visitor-token-xyz", headers={"X-Request-ID": "abc.1"})
    access = [e for e in lines(captured) if e["logger"] == "otvet.access"]
    assert len(access) == 1 and access[0]["request_id"] == "abc.1"
    assert str(access[0]["message"]).startswith("GET /healthz 200 ")
    assert "visitor-token-xyz" not in captured.getvalue()


def test_settings_secrets_finds_every_secret_field(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        metrics={"token": "metrics-token-1"},
        tls={"key_password": "tls-key-pass"},
        database_ssl={"key_password": "db-key-pass"},
        telegram={"secret_token": "webhook-secret"},
    )
    assert {"metrics-token-1", "tls-key-pass", "db-key-pass", "webhook-secret"} <= set(
        settings_secrets(settings)
    )
    assert logs.MASK == "***"
