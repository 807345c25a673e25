"""The OpenAI transcriber against the fake OpenAI-compatible server on loopback: the real ``openai`` client,
our retries and timeouts, errors sorted into stable codes, and Whisper's language names made codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from otvet.core.transcription import Transcript, TranscriptionError
from otvet.plugins.transcribe_openai.languages import language_code
from otvet.plugins.transcribe_openai.transcriber import OpenAITranscriber, connection
from tests.conftest import make_settings
from tests.support.fake_openai import FakeOpenAI, loopback_http_client

RUSSIAN = "Как сбросить пароль?".encode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def make_transcriber(tmp_path: Path, fake: FakeOpenAI, **transcription: Any) -> OpenAITranscriber:
    settings = make_settings(
        tmp_path,
        openai={
            "api_key": "sk-test",
            "base_url": fake.base_url,
            "retry_base_delay": 0.01,
            "retry_max_delay": 0.05,
        },
        transcription=transcription,
    )
    host = SimpleNamespace(settings=settings)
    return OpenAITranscriber(host, http_client=loopback_http_client())  # type: ignore[arg-type]


async def transcribe(transcriber: OpenAITranscriber, audio: bytes, **kwargs: Any) -> Transcript:
    try:
        return await transcriber.transcribe(
            audio,
            filename=kwargs.pop("filename", "voice.ogg"),
            mime_type="audio/ogg",
            language_hint=None,
            **kwargs,
        )
    finally:
        await transcriber.aclose()


async def test_whisper_names_the_language_which_becomes_its_code(fake: FakeOpenAI, tmp_path: Path) -> None:
    heard = await transcribe(make_transcriber(tmp_path, fake), RUSSIAN)
    assert heard == Transcript("Как сбросить пароль?", "ru")
    (request,) = fake.transcriptions
    assert (request.model, request.response_format, request.language) == ("whisper-1", "verbose_json", None)
    assert (request.filename, request.content_type, request.audio) == ("voice.ogg", "audio/ogg", RUSSIAN)
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test"  # the openai section's key


async def test_a_gpt_4o_model_answers_json_without_a_language_unless_one_was_hinted(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    model = "gpt-4o-mini-transcribe"
    assert await transcribe(make_transcriber(tmp_path, fake, model=model), b"Hello") == Transcript("Hello")
    transcriber = make_transcriber(tmp_path, fake, model=model)
    try:
        heard = await transcriber.transcribe(b"Hi", filename="a.ogg", mime_type=None, language_hint="ru")
    finally:
        await transcriber.aclose()
    assert heard == Transcript("Hi", "ru")  # the speaker's chosen language, sent as the audio's language
    assert [(r.response_format, r.language) for r in fake.transcriptions] == [("json", None), ("json", "ru")]


async def test_server_errors_are_retried_then_succeed(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.fail_transcriptions(500, times=2)
    heard = await transcribe(make_transcriber(tmp_path, fake, max_retries=2), RUSSIAN)
    assert heard.text == "Как сбросить пароль?" and len(fake.transcriptions) == 3


async def test_an_outage_past_the_retries_is_an_upstream_error(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.fail_transcriptions(503, times=3)
    with pytest.raises(TranscriptionError) as failed:
        await transcribe(make_transcriber(tmp_path, fake, max_retries=1), RUSSIAN)
    assert failed.value.code == "upstream" and "503" in str(failed.value)
    assert len(fake.transcriptions) == 2


async def test_a_server_that_does_not_answer_in_time_is_a_timeout(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.hang_transcriptions(30, times=2)
    with pytest.raises(TranscriptionError) as failed:
        await transcribe(make_transcriber(tmp_path, fake, timeout_seconds=0.3, max_retries=1), RUSSIAN)
    assert failed.value.code == "timeout" and len(fake.transcriptions) == 2


@pytest.mark.parametrize(
    ("status", "code", "expected", "tries"),
    [
        (429, "insufficient_quota", "quota", 1),  # the account is out of credit: no retry
        (429, None, "rate_limited", 2),
        (401, None, "unauthorized", 1),
        (400, None, "rejected", 1),
    ],
)
async def test_errors_have_stable_codes(
    fake: FakeOpenAI, tmp_path: Path, status: int, code: str | None, expected: str, tries: int
) -> None:
    fake.fail_transcriptions(status, code=code, times=2)
    with pytest.raises(TranscriptionError) as failed:
        await transcribe(make_transcriber(tmp_path, fake, max_retries=1), RUSSIAN)
    assert failed.value.code == expected and len(fake.transcriptions) == tries


async def test_a_file_the_service_cannot_read_is_rejected(fake: FakeOpenAI, tmp_path: Path) -> None:
    with pytest.raises(TranscriptionError) as failed:
        await transcribe(make_transcriber(tmp_path, fake), b"hello", filename="notes.txt")
    assert failed.value.code == "rejected" and "Invalid file format" in str(failed.value)


async def test_its_own_server_gets_its_own_key_and_never_the_chat_key(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        openai={
            "api_key": "sk-chat",
            "base_url": "https://chat.example/v1",
            "azure_api_version": "2024-10-21",
        },
        transcription={"base_url": fake.base_url},
    )
    own = connection(settings.openai, settings.transcription)
    assert (own.base_url, own.api_key.get_secret_value(), own.azure_api_version) == (fake.base_url, "", "")
    reused = connection(settings.openai, make_settings(tmp_path).transcription)
    assert (reused.base_url, reused.api_key.get_secret_value()) == ("https://chat.example/v1", "sk-chat")
    transcriber = OpenAITranscriber(
        SimpleNamespace(settings=settings),  # type: ignore[arg-type]
        http_client=loopback_http_client(),
    )
    assert await transcribe(transcriber, b"Hi") == Transcript("Hi", "en")
    assert fake.requests[0].headers["authorization"] != "Bearer sk-chat"


def test_nothing_to_talk_to_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OTVET_TRANSCRIPTION__API_KEY"):
        OpenAITranscriber(SimpleNamespace(settings=make_settings(tmp_path)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("detected", "code"),
    [
        ("russian", "ru"),
        ("English", "en"),
        ("ukrainian", "uk"),
        ("castilian", "es"),
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("cantonese", "yue"),
        ("klingon", None),
        ("", None),
        (None, None),
    ],
)
def test_whisper_language_names_map_to_codes(detected: str | None, code: str | None) -> None:
    assert language_code(detected) == code
