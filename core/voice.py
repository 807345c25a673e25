"""Voice questions, for every frontend that takes them: a voice message's length, size and the user's daily
allowance of audio are checked before anything is downloaded; then the transcriber turns it into text, and
the transcription is counted in the activity overview.

The frontend hands the heard text to the engine as a :class:`~otvet.core.types.Turn` with its
``audio_seconds`` and ``language``: the engine stores and answers it like a typed question, and the seconds
stored with it are what the daily allowance counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from otvet.core.store import DatabaseUnavailable, TurnActivity
from otvet.core.transcription import TranscriptionError

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.i18n import Translator

log = logging.getLogger(__name__)

#: Why a voice message was not turned into a question (stable, for logs and tests).
DECLINED_CODES = frozenset(
    {"voice_off", "voice_too_long", "voice_too_large", "voice_quota", "voice_failed", "voice_empty"}
)


@dataclass(frozen=True, slots=True)
class Heard:
    """A transcribed voice message: the words, their language (one Otvet answers in, else None) and the
    seconds of audio they came from."""

    text: str
    language: str | None
    seconds: int


class VoiceDeclined(Exception):
    """A voice message that is not answered: ``message`` is calm, localized and safe to show; ``code`` is
    one of :data:`DECLINED_CODES`."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class VoiceQuestions:
    """Checks and transcribes voice messages with ``otvet.transcriber`` under ``settings.transcription``."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet
        self.settings = otvet.settings.transcription

    async def check(
        self, channel: str, user_id: str, *, seconds: int, size: int | None, t: Translator
    ) -> None:
        """Raise :class:`VoiceDeclined` unless a voice message of ``seconds`` and ``size`` bytes (None:
        unknown yet) from the user may be transcribed: before it is downloaded."""
        limits = self.settings
        if self.otvet.transcriber is None:
            raise VoiceDeclined(declined_message(t, "voice_off"), "voice_off")
        if seconds > limits.max_seconds:
            raise VoiceDeclined(
                declined_message(t, "voice_too_long", limit=limits.max_seconds), "voice_too_long"
            )
        if size is not None and size > limits.max_bytes:
            raise VoiceDeclined(
                declined_message(t, "voice_too_large", limit=limits.max_bytes), "voice_too_large"
            )
        allowance = limits.seconds_per_user_per_day
        if not allowance:
            return
        store = self.otvet.store
        user = await store.get_or_create_user(channel, user_id)
        midnight = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
        used = await store.audio_seconds_used(midnight, user.id)
        if used + counted(seconds) > allowance:
            log.info("voice allowance reached by user %s (%d s used of %d)", user.id, used, allowance)
            raise VoiceDeclined(declined_message(t, "voice_quota", limit=allowance), "voice_quota")

    async def transcribe(
        self,
        channel: str,
        user_id: str,
        audio: bytes,
        *,
        seconds: int,
        filename: str,
        mime_type: str | None,
        t: Translator,
    ) -> Heard:
        """The words of a voice message :meth:`check` let through, or :class:`VoiceDeclined` when there are
        none or the transcriber failed (logged; the user is asked to try again or type)."""
        transcriber = self.otvet.transcriber
        if transcriber is None:
            raise VoiceDeclined(declined_message(t, "voice_off"), "voice_off")
        if len(audio) > self.settings.max_bytes:  # a file whose size was not told before it was downloaded
            limit = self.settings.max_bytes
            raise VoiceDeclined(declined_message(t, "voice_too_large", limit=limit), "voice_too_large")
        user = await self.otvet.store.get_or_create_user(channel, user_id)
        try:
            # The language the user chose (/lang), if any: it helps the service; otherwise it detects one.
            transcript = await transcriber.transcribe(
                audio, filename=filename, mime_type=mime_type, language_hint=user.language
            )
        except TranscriptionError as exc:
            log.warning("transcriber %s failed (%s): %s", transcriber.name, exc.code, exc)
            raise VoiceDeclined(declined_message(t, "voice_failed"), "voice_failed") from exc
        except Exception as exc:
            log.exception("transcriber %s failed", transcriber.name)
            raise VoiceDeclined(declined_message(t, "voice_failed"), "voice_failed") from exc
        seconds = counted(seconds)
        await self._count(channel, transcriber.name, transcriber.model, seconds)
        text = transcript.text.strip()
        if not text:
            raise VoiceDeclined(declined_message(t, "voice_empty"), "voice_empty")
        language = transcript.language if transcript.language in self.otvet.i18n.languages else None
        return Heard(text, language, seconds)

    async def _count(self, channel: str, provider: str, model: str, seconds: int) -> None:
        """Count the transcription in the activity overview: it costs whatever becomes of the question."""
        activity = TurnActivity(datetime.now(UTC), channel, None, provider, model, audio_seconds=seconds)
        try:
            await self.otvet.store.record_activity(activity)
        except DatabaseUnavailable as exc:
            log.debug("bookkeeping write skipped: %s", exc)  # the store logs the outage itself, once
        except Exception:
            log.exception("bookkeeping write failed")


def counted(seconds: int) -> int:
    """The seconds a voice message counts for: what its channel says, and at least one."""
    return max(1, seconds)


def duration(t: Translator, seconds: int) -> str:
    """``5 minutes`` or ``90 seconds``, as a limit is written in a message."""
    if seconds % 60 == 0:
        return t.ngettext("%(n)d minute", "%(n)d minutes", seconds // 60)
    return t.ngettext("%(n)d second", "%(n)d seconds", seconds)


def declined_message(t: Translator, code: str, *, limit: int = 0) -> str:
    """The calm, localized text a user sees for a declined voice message ``code``."""
    if code == "voice_off":
        return t.gettext("Voice messages are not set up here: please type your question.")
    if code == "voice_too_long":
        return t.gettext(
            "This recording is too long: I can listen to at most %(limit)s. Please send a shorter one or "
            "type your question.",
            limit=duration(t, limit),
        )
    if code == "voice_too_large":
        megabytes = format(limit / 1024 / 1024, ".3g")
        return t.gettext(
            "This file is too large: I can take at most %(limit)s MB. Please send a smaller one or type "
            "your question.",
            limit=megabytes,
        )
    if code == "voice_quota":
        return t.gettext(
            "You have used today's allowance of voice messages (at most %(limit)s a day). It renews at "
            "midnight UTC; until then, please type your question.",
            limit=duration(t, limit),
        )
    if code == "voice_empty":
        return t.gettext(
            "I could not hear any words in the voice message: please try again or type your question."
        )
    return t.gettext("I could not make out the voice message: please try again or type it.")
