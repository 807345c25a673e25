"""Transcribers: registered by plugins and chosen by a setting, like LLM providers; and the voice question's
checks and messages that every frontend shares (core/voice.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pluggy
import pytest

from otvet import hookimpl
from otvet.core.app import Otvet
from otvet.core.i18n import I18n
from otvet.core.plugins import make_plugin_manager
from otvet.core.registry import RegistryError
from otvet.core.transcription import Transcriber, Transcript, TranscriptionError
from otvet.core.voice import VoiceDeclined, VoiceQuestions, declined_message, duration
from otvet.plugins.locales import LOCALE_DIR
from tests.conftest import make_settings


class ScriptedTranscriber(Transcriber):
    """Hears what it is told to; raises when told to; remembers what it was given."""

    name = "scripted"
    model = "ears-1"

    def __init__(self) -> None:
        self.heard: list[tuple[bytes, str, str | None]] = []
        self.result: Transcript | Exception = Transcript("What is Otvet?", "en")
        self.closed = False

    async def transcribe(
        self, audio: bytes, *, filename: str, mime_type: str | None, language_hint: str | None
    ) -> Transcript:
        self.heard.append((audio, filename, language_hint))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def pm() -> pluggy.PluginManager:
    return make_plugin_manager(load_entry_points=False)


async def test_hook_register_transcribers(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    ears = ScriptedTranscriber()

    class Plugin:
        @hookimpl
        def register_transcribers(self, register: Callable[..., None]) -> None:
            register("scripted", lambda otvet: ears)

    pm.register(Plugin(), name="ears-plugin")
    try:
        otvet = Otvet(make_settings(tmp_path, transcription={"provider": "scripted"}), pm)
        assert otvet.transcribers.names() == ["openai", "scripted"]
        async with otvet:
            assert otvet.transcriber is ears
        assert ears.closed  # released when Otvet stops

        class Clash:
            @hookimpl
            def register_transcribers(self, register: Callable[..., None]) -> None:
                register("scripted", lambda otvet: ScriptedTranscriber())

        pm.register(Clash(), name="clash-plugin")
        with pytest.raises(RegistryError, match=r"transcriber 'scripted' is registered twice"):
            Otvet(make_settings(tmp_path), pm)
        pm.unregister(name="clash-plugin")
    finally:
        pm.unregister(name="ears-plugin")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, ""),  # nothing configured: voice messages are declined
        ({"openai": {"api_key": "sk-test"}}, "openai"),
        ({"openai": {"base_url": "http://127.0.0.1:11434/v1"}}, "openai"),
        ({"transcription": {"base_url": "http://127.0.0.1:9000/v1"}}, "openai"),
        ({"openai": {"api_key": "sk-test"}, "transcription": {"provider": ""}}, ""),  # turned off
    ],
)
def test_auto_is_openai_once_a_key_or_server_is_configured(
    tmp_path: Path, settings: dict[str, object], expected: str
) -> None:
    otvet = Otvet(make_settings(tmp_path, **settings))
    assert otvet.transcriber_name == expected
    assert (otvet.transcriber is None) == (not expected)


async def test_an_unknown_transcriber_fails_at_start_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"unknown transcriber 'ears9'; known: openai$"):
        await Otvet(make_settings(tmp_path, transcription={"provider": "ears9"})).start()


def test_limits_are_written_in_minutes_or_seconds_in_each_language() -> None:
    i18n = I18n([LOCALE_DIR], ("en", "ru"), "en")
    en, ru = i18n.get("en"), i18n.get("ru")
    assert (duration(en, 300), duration(en, 60), duration(en, 90)) == ("5 minutes", "1 minute", "90 seconds")
    assert (duration(ru, 300), duration(ru, 60), duration(ru, 120)) == ("5 минут", "1 минуты", "2 минут")
    assert duration(ru, 45) == "45 секунд" and duration(ru, 21) == "21 секунды"
    assert "20 MB" in declined_message(en, "voice_too_large", limit=20 * 1024 * 1024)
    assert "не больше 30 минут в день" in declined_message(ru, "voice_quota", limit=1800)


async def test_a_failing_or_deaf_transcriber_declines_calmly_and_only_a_hearing_counts(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    ears = ScriptedTranscriber()

    class Plugin:
        @hookimpl
        def register_transcribers(self, register: Callable[..., None]) -> None:
            register("scripted", lambda otvet: ears)

    pm.register(Plugin(), name="ears-plugin")
    try:
        settings = make_settings(tmp_path, transcription={"provider": "scripted"}, languages=["en", "ru"])
        async with Otvet(settings, pm) as otvet:
            voice, t = VoiceQuestions(otvet), otvet.i18n.get("en")
            await otvet.engine.set_language("web", "7", "ru")  # the user's choice is the service's hint
            ears.result = TranscriptionError("boom", "upstream")
            with pytest.raises(VoiceDeclined) as failed:
                await voice.transcribe("web", "7", b"...", seconds=5, filename="a.ogg", mime_type=None, t=t)
            assert failed.value.code == "voice_failed" and "try again" in failed.value.message
            ears.result = Transcript("  ", None)
            with pytest.raises(VoiceDeclined, match="could not hear any words"):
                await voice.transcribe("web", "7", b"...", seconds=0, filename="a.ogg", mime_type=None, t=t)
            ears.result = Transcript("Wie geht's?", "de")  # a language Otvet does not answer in
            heard = await voice.transcribe(
                "web", "7", b"...", seconds=3, filename="a.ogg", mime_type=None, t=t
            )
            assert (heard.text, heard.language, heard.seconds) == ("Wie geht's?", None, 3)
            assert [hint for _, _, hint in ears.heard] == ["ru", "ru", "ru"]
            today = datetime.now(UTC).date()
            report = await otvet.store.activity(today, today)
            rows = [(r.provider, r.model, r.audio_seconds, r.questions) for r in report.rows]
            assert rows == [("scripted", "ears-1", 4, 0)]  # the failure costs nothing; a silence one second
    finally:
        pm.unregister(name="ears-plugin")
