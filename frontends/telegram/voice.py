"""Voice messages, round video notes and audio files as questions: the same addressing and allow-list as
text, limits checked before the file is downloaded from the Bot API, the transcription (core/voice.py),
then the answer through :meth:`TelegramBot.answer`, with what was heard shown above it."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import Audio, Message, Update, VideoNote, Voice
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from otvet.core.voice import VoiceDeclined, VoiceQuestions, declined_message
from otvet.frontends.telegram.bot import CHANNEL, TelegramBot
from otvet.frontends.telegram.formatting import heard

if TYPE_CHECKING:
    from otvet.core.i18n import Translator

log = logging.getLogger(__name__)

#: Updates this module answers: a new message with a voice message, a video note or an audio file.
RECORDINGS = (filters.VOICE | filters.VIDEO_NOTE | filters.AUDIO) & filters.UpdateType.MESSAGE


@dataclass(frozen=True, slots=True)
class Recording:
    """A message's recording as the transcriber gets it: the file, its length and size (None when Telegram
    did not say), and a file name whose extension names its format."""

    media: Voice | VideoNote | Audio
    seconds: int
    size: int | None
    filename: str
    mime_type: str | None


def recording(message: Message) -> Recording | None:
    """The voice message, video note or audio file of ``message``, or None."""
    if message.voice is not None:
        voice = message.voice
        return Recording(
            voice, seconds_of(voice), voice.file_size, "voice.ogg", voice.mime_type or "audio/ogg"
        )
    if message.video_note is not None:
        note = message.video_note
        return Recording(note, seconds_of(note), note.file_size, "video_note.mp4", "video/mp4")
    if message.audio is not None:
        audio = message.audio
        name = audio.file_name or "audio." + (audio.mime_type or "audio/mpeg").rpartition("/")[2]
        return Recording(audio, seconds_of(audio), audio.file_size, name, audio.mime_type)
    return None


def seconds_of(media: Voice | VideoNote | Audio) -> int:
    """The recording's length in whole seconds, rounded up. Read through ``to_dict``: the ``duration``
    attribute warns that it is to become a ``timedelta`` (python-telegram-bot 22.2), and its type depends on
    the ``PTB_TIMEDELTA`` environment variable."""
    value = media.to_dict().get("duration") or 0
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return math.ceil(float(value))


class VoiceHandler:
    """Takes recordings for a :class:`TelegramBot`: checks, downloads, transcribes, then has it answer."""

    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.voice = VoiceQuestions(bot.otvet)

    async def on_recording(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A voice message, video note or audio file: transcribe and answer it if it is for the bot."""
        message, user = update.effective_message, update.effective_user
        found = recording(message) if message is not None else None
        if message is None or user is None or found is None:
            return
        if not self.bot.addressed(message, context.bot.id, context.bot.username):
            return
        if not self.bot.allowed(update):
            if message.chat.type == ChatType.PRIVATE:
                t = await self.bot.translator(update)
                await message.reply_text(t.gettext("Sorry, this bot is private."))
            return
        t = await self.bot.translator(update)
        try:
            await self.voice.check(CHANNEL, str(user.id), seconds=found.seconds, size=found.size, t=t)
            await self._show_listening(message)
            audio = await self._download(found, t)
            words = await self.voice.transcribe(
                CHANNEL,
                str(user.id),
                audio,
                seconds=found.seconds,
                filename=found.filename,
                mime_type=found.mime_type,
                t=t,
            )
        except VoiceDeclined as declined:
            log.info("voice message from user %s not taken (%s)", user.id, declined.code)
            await message.reply_text(declined.message)
            return
        await self.bot.answer(
            message,
            words.text,
            prefix=heard(words.text),
            language=words.language,
            audio_seconds=words.seconds,
        )

    async def _download(self, found: Recording, t: Translator) -> bytes:
        """The recording's bytes from the Bot API (which serves bots files of up to 20 MB)."""
        try:
            file = await found.media.get_file()
        except BadRequest as exc:
            if "too big" not in exc.message.lower():
                raise
            limit = self.voice.settings.max_bytes
            raise VoiceDeclined(
                declined_message(t, "voice_too_large", limit=limit), "voice_too_large"
            ) from exc
        return bytes(await file.download_as_bytearray())

    async def _show_listening(self, message: Message) -> None:
        """ "Typing…" while the recording is downloaded and transcribed: one call, and a courtesy only."""
        thread = message.message_thread_id if message.is_topic_message else None
        try:
            await message.get_bot().send_chat_action(
                message.chat_id, ChatAction.TYPING, message_thread_id=thread
            )
        except TelegramError as exc:
            log.info("could not show typing (%s)", exc.message)


def add_voice_handler(application: Application, bot: TelegramBot) -> None:  # type: ignore[type-arg]
    """Wire recordings to ``bot``: add before the text handler, which takes captions for questions."""
    application.add_handler(MessageHandler(RECORDINGS, VoiceHandler(bot).on_recording))
