"""Voice messages, video notes and audio files as questions: the real PTB client against the fake Bot API,
the real OpenAI transcriber against the fake OpenAI server (which "hears" the uploaded bytes as text)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from otvet.core.activity import minute_prices, prices, summarize
from otvet.core.store import StoredMessage
from tests.frontends.telegram.conftest import BotEnv, start_bot
from tests.frontends.telegram.test_bot import final_answers, message_with
from tests.support.fake_openai import FakeOpenAI
from tests.support.telegram_updates import GROUP_ID, USER_ID

QUESTION_RU = "Как добавить обучающие данные?"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


def transcribing(fake: FakeOpenAI, **transcription: Any) -> dict[str, Any]:
    """Settings that transcribe with the fake server: two attempts, quick retries, a minute a day."""
    return {
        "transcription": {
            "base_url": fake.base_url,
            "max_retries": 1,
            "timeout_seconds": 5,
            "seconds_per_user_per_day": 60,
            **transcription,
        },
        "openai": {"retry_base_delay": 0.01, "retry_max_delay": 0.05},
    }


@pytest.fixture
async def voice_bot(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[BotEnv]:
    """The bot answering from the demo knowledge base (extractive), transcribing with the fake server."""
    async for env in start_bot(tmp_path, sections=transcribing(fake_openai)):
        yield env


def send_recording(env: BotEnv, file_id: str, speech: bytes | str, **kwargs: Any) -> dict[str, Any]:
    """A user sends a recording whose "sound" (what the fake server hears) is ``speech``."""
    audio = speech.encode() if isinstance(speech, str) else speech
    env.api.add_file(file_id, audio, f"voice/{file_id}.oga")
    kwargs.setdefault("file_size", len(audio))
    return env.api.queue_update(env.api.recording_message(file_id, **kwargs))


async def stored_questions(env: BotEnv) -> list[StoredMessage]:
    store = env.otvet.store
    found = []
    for conversation in await store.list_conversations(channel="telegram", limit=100):
        found += [m for m in await store.messages(conversation.id) if m.role == "user"]
    return found


async def test_a_russian_voice_note_gets_a_russian_answer_that_shows_what_was_heard_first(
    voice_bot: BotEnv, fake_openai: FakeOpenAI
) -> None:
    # The Telegram client is English; the speech is Russian, and so is the answer.
    send_recording(voice_bot, "voice-1", QUESTION_RU, duration=4, language_code="en")
    (final,) = await final_answers(voice_bot)

    assert final["parse_mode"] == "HTML"
    assert final["text"].startswith(f"🎤 <i>{QUESTION_RU}</i>\n\n")
    assert "otvet ingest" in final["text"] and "<b>Источники:</b>" in final["text"]
    assert voice_bot.texts_sent(USER_ID)[-1].startswith(f"🎤 {QUESTION_RU}\n\n")
    (request,) = fake_openai.transcriptions
    assert (request.model, request.response_format, request.filename) == (
        "whisper-1",
        "verbose_json",
        "voice.ogg",
    )
    assert request.audio == QUESTION_RU.encode() and request.language is None
    assert voice_bot.api.calls_to("sendChatAction")[0].params["action"] == "typing"
    (question,) = await stored_questions(voice_bot)
    assert (question.text, question.language, question.audio_seconds, question.status) == (
        QUESTION_RU,
        "ru",
        4,
        "ok",
    )


async def test_the_heard_text_is_escaped_and_video_notes_and_audio_files_are_heard_too(
    voice_bot: BotEnv, fake_openai: FakeOpenAI
) -> None:
    send_recording(voice_bot, "note-1", "lang:en|<b>What</b> & how?", kind="video_note", language_code="en")
    (first,) = await final_answers(voice_bot)
    assert first["text"].startswith("🎤 <i>&lt;b&gt;What&lt;/b&gt; &amp; how?</i>\n\n")
    send_recording(voice_bot, "audio-1", "How do I connect Telegram?", kind="audio", file_name="q.mp3")
    await final_answers(voice_bot, 2)
    assert [r.filename for r in fake_openai.transcriptions] == ["video_note.mp4", "q.mp3"]


async def test_in_a_group_only_addressed_recordings_are_transcribed(
    voice_bot: BotEnv, fake_openai: FakeOpenAI
) -> None:
    send_recording(voice_bot, "chat-1", "just chatting", chat_id=GROUP_ID)
    send_recording(
        voice_bot, "ask-1", "How do I add training data?", chat_id=GROUP_ID, caption="@otvet_test_bot"
    )
    (final,) = await final_answers(voice_bot)
    assert int(final["chat_id"]) == GROUP_ID and "How do I add training data?" in final["text"]
    assert [r.audio for r in fake_openai.transcriptions] == [b"How do I add training data?"]


async def test_an_overlong_voice_and_an_oversized_audio_are_refused_before_any_download(
    voice_bot: BotEnv, fake_openai: FakeOpenAI
) -> None:
    send_recording(voice_bot, "long-1", "a long speech", duration=301, language_code="en")
    refusal = await message_with(voice_bot, "too long")
    assert "at most 5 minutes" in refusal["text"]
    send_recording(
        voice_bot, "big-1", "a big file", kind="audio", file_size=21 * 1024 * 1024, language_code="en"
    )
    refusal = await message_with(voice_bot, "too large")
    assert "at most 20 MB" in refusal["text"]
    send_recording(voice_bot, "long-2", "долгая речь", duration=400, language_code="ru")
    assert "не больше 5 минут" in (await message_with(voice_bot, "слишком длинная"))["text"]

    assert voice_bot.api.calls_to("getFile") == [] and fake_openai.transcriptions == []
    assert await stored_questions(voice_bot) == []


async def test_a_transcriber_outage_gets_a_calm_message_and_stores_nothing(
    voice_bot: BotEnv, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_transcriptions(500, times=2)  # the first try and the one retry
    send_recording(voice_bot, "voice-1", "How do I add training data?", language_code="en")
    sorry = await message_with(voice_bot, "could not make out")
    assert sorry["text"] == "I could not make out the voice message: please try again or type it."
    assert len(fake_openai.transcriptions) == 2
    assert await stored_questions(voice_bot) == []
    today = datetime.now(UTC).date()
    assert (await voice_bot.otvet.store.activity(today, today)).rows == []

    # A server that does not answer in time is an outage too; the retry then gets through.
    fake_openai.hang_transcriptions(30)
    voice_bot.otvet.transcriber.timeout = 0.3  # type: ignore[union-attr]
    send_recording(voice_bot, "voice-2", "How do I add training data?", language_code="en")
    (final,) = await final_answers(voice_bot)
    assert final["text"].startswith("🎤 <i>How do I add training data?</i>")


async def test_a_silent_recording_gets_a_calm_message_and_stores_nothing(voice_bot: BotEnv) -> None:
    send_recording(voice_bot, "silence-1", b"   ", duration=2, language_code="ru")
    await message_with(voice_bot, "не слышно слов")
    assert await stored_questions(voice_bot) == []


async def test_without_a_transcriber_voice_messages_are_declined_calmly(tmp_path: Path) -> None:
    async for env in start_bot(tmp_path):
        assert env.otvet.transcriber is None  # no OpenAI key or server: auto means none
        send_recording(env, "voice-1", "Как дела?", language_code="ru")
        declined = await message_with(env, "не настроены")
        assert (
            declined["text"] == "Голосовые сообщения здесь не настроены: пожалуйста, напишите вопрос текстом."
        )
        assert env.api.calls_to("getFile") == []


async def test_the_daily_audio_allowance_refuses_once_used_up(
    voice_bot: BotEnv, fake_openai: FakeOpenAI
) -> None:
    send_recording(voice_bot, "voice-1", "How do I add training data?", duration=40, language_code="en")
    await final_answers(voice_bot)
    send_recording(voice_bot, "voice-2", "How do I connect Telegram?", duration=30, language_code="en")
    refusal = await message_with(voice_bot, "allowance")
    assert "at most 1 minute a day" in refusal["text"] and "midnight UTC" in refusal["text"]
    assert len(fake_openai.transcriptions) == 1 and len(voice_bot.api.calls_to("getFile")) == 1
    # A shorter one still fits in what is left today.
    send_recording(voice_bot, "voice-3", "How do I connect Telegram?", duration=20, language_code="en")
    await final_answers(voice_bot, 2)
    store = voice_bot.otvet.store
    user = await store.get_or_create_user("telegram", str(USER_ID))
    assert await store.audio_seconds_used(datetime.now(UTC) - timedelta(hours=1), user.id) == 60


async def test_transcribed_seconds_are_counted_in_the_activity_with_their_cost(
    voice_bot: BotEnv,
) -> None:
    send_recording(voice_bot, "voice-1", QUESTION_RU, duration=30)
    await final_answers(voice_bot)
    today = datetime.now(UTC).date()
    for _ in range(50):  # the answer's own activity is recorded just after it is sent
        report = await voice_bot.otvet.store.activity(today, today)
        if sum(row.questions for row in report.rows):
            break
        await asyncio.sleep(0.05)
    pricing = voice_bot.otvet.settings.pricing
    overview = summarize(report, today, today, prices(pricing), per_minute=minute_prices(pricing))
    assert (overview.totals.audio_seconds, overview.totals.questions) == (30, 1)
    whisper = next(use for use in overview.models if use.model == "whisper-1")
    assert (whisper.provider, whisper.counts.questions, whisper.counts.audio_seconds) == ("openai", 0, 30)
    assert whisper.cost == pytest.approx(0.003)  # half a minute at $0.006


async def test_a_slow_answer_streams_below_what_was_heard_and_so_does_a_failure(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async for env in start_bot(tmp_path, provider="echo", sections=transcribing(fake_openai)):
        env.echo.delay = 0.4
        env.echo.reply = lambda request: "Part of a slow answer. " * 6
        send_recording(env, "voice-1", "Tell me slowly", language_code="en")
        (final,) = await final_answers(env)
        partial = env.api.calls_to("sendMessage")[0].params  # plain text while the answer streams
        assert partial["text"].startswith("🎤 Tell me slowly\n\nPart of") and not partial.get("parse_mode")
        assert final["text"].startswith("🎤 <i>Tell me slowly</i>\n\nPart of a slow answer.")

        def broken(request: object) -> str:
            raise RuntimeError("the model is down")

        env.echo.delay, env.echo.reply = 0.0, broken
        send_recording(env, "voice-2", "Are you there?", duration=5, language_code="en")
        failure = await message_with(env, "could not answer")
        assert failure["text"].startswith("🎤 <i>Are you there?</i>\n\nSorry, I could not answer right now.")
        # The question was transcribed, so it is kept (failed) with its seconds, which the allowance counts.
        last = (await stored_questions(env))[-1]
        assert (last.text, last.status, last.audio_seconds) == ("Are you there?", "failed", 5)
