"""The Telegram bot: python-telegram-bot handlers that translate updates into engine calls.

Everything a handler does is protocol work: who is asking, in which conversation space, and how the
engine's events become Telegram messages. Answers, languages, history and feedback live in the engine.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from otvet.core.inbox import postpone
from otvet.core.store import DatabaseUnavailable, NotFound
from otvet.core.transport import warn_if_cleartext
from otvet.core.types import Turn
from otvet.frontends.telegram.admin import AdminCommands
from otvet.frontends.telegram.delivery import Delivery
from otvet.frontends.telegram.flood import FloodLimiter, Limit
from otvet.frontends.telegram.formatting import Rendered, escape
from otvet.frontends.telegram.request import BOT_API_CONNECTIONS, BOT_API_POOL_TIMEOUT, Httpx2Request
from otvet.frontends.telegram.throttle import EditThrottle, interval_for
from otvet.frontends.telegram.updates import TrackedUpdates

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.i18n import Translator

log = logging.getLogger(__name__)

CHANNEL = "telegram"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


def command(
    handler: Callable[[TelegramBot, Message, User, Translator], Awaitable[None]],
) -> Callable[[TelegramBot, Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """A handler for a message from a user who may use the bot, called with the user's translator."""

    @functools.wraps(handler)
    async def wrapper(self: TelegramBot, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not self.allowed(update):
            return
        await handler(self, message, user, await self.translator(update))

    return wrapper


class TelegramBot:
    """Holds the handlers' shared state: the Otvet instance and one lock per user and chat."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet
        self.settings = otvet.settings.telegram
        # One user's messages are answered in order; different users are served concurrently.
        self._locks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.admin = AdminCommands(self)

    # --- who, where, in which language --------------------------------------------------------------------

    @staticmethod
    def space(message: Message) -> str:
        """The engine's conversation space: one for private chats, one per group and per forum topic."""
        chat = message.chat
        if chat.type == ChatType.PRIVATE:
            return "private"
        if message.is_topic_message and message.message_thread_id:
            return f"tg:{chat.id}:topic:{message.message_thread_id}"
        return f"tg:{chat.id}"

    @staticmethod
    def shared(message: Message) -> bool:
        """Groups and forum topics keep one conversation for all members; private chats, one per user."""
        return message.chat.type != ChatType.PRIVATE

    def allowed(self, update: Update) -> bool:
        """Everyone when no allow-list is set; otherwise listed users and chats, and the admins."""
        users, chats = self.settings.allowed_user_ids, self.settings.allowed_chat_ids
        if not users and not chats:
            return True
        user, chat = update.effective_user, update.effective_chat
        if user is not None and (user.id in users or user.id in self.settings.admin_user_ids):
            return True
        return chat is not None and chat.id in chats

    async def translator(self, update: Update) -> Translator:
        """The user's language for replies that are not answers (commands, buttons)."""
        user = update.effective_user
        if user is None:
            return self.otvet.i18n.get(None)
        language = await self.otvet.engine.language_for(CHANNEL, str(user.id), user.language_code)
        return self.otvet.i18n.get(language)

    def addressed(self, message: Message, bot_id: int, bot_username: str) -> bool:
        """In a group, a message is for the bot when it mentions the bot (in its text or its caption) or
        replies to one of its messages."""
        if message.chat.type == ChatType.PRIVATE:
            return True
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
            return True
        mentions = [
            *message.parse_entities([MessageEntityType.MENTION]).values(),
            *message.parse_caption_entities([MessageEntityType.MENTION]).values(),
        ]
        if any(text.lstrip("@").lower() == bot_username.lower() for text in mentions):
            return True
        return any(
            e.user is not None and e.user.id == bot_id
            for e in (*message.entities, *message.caption_entities)
            if e.type == MessageEntityType.TEXT_MENTION
        )

    # --- handlers -----------------------------------------------------------------------------------------

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: answer it if it is for the bot."""
        message = update.effective_message
        question = message.text or message.caption if message is not None else None
        if message is None or not question or update.effective_user is None:
            return
        bot = context.bot
        if not self.addressed(message, bot.id, bot.username):
            return
        if not self.allowed(update):
            if message.chat.type == ChatType.PRIVATE:
                t = await self.translator(update)
                await message.reply_text(t.gettext("Sorry, this bot is private."))
            return
        await self.answer(message, self.strip_mention(question, bot.username))

    @staticmethod
    def strip_mention(text: str, username: str) -> str:
        return text.replace(f"@{username}", " ").strip() or text

    async def answer(
        self,
        message: Message,
        text: str,
        *,
        prefix: Rendered | None = None,
        language: str | None = None,
        audio_seconds: int = 0,
    ) -> None:
        """Answer ``text`` in the message's chat. A transcribed voice message comes with ``prefix`` (what was
        heard, shown above the answer), its ``language`` when known and its ``audio_seconds``."""
        user = message.from_user
        assert user is not None
        space = self.space(message)
        turn = Turn(
            channel=CHANNEL,
            user_id=str(user.id),
            text=text,
            chat_id=space,
            locale_hint=user.language_code,
            display_name=user.full_name,
            # A group (or forum topic) keeps one conversation for all its members, so anyone can follow up.
            shared=self.shared(message),
            language=language,
            audio_seconds=audio_seconds,
        )
        lock = self._locks.get((user.id, space))
        if lock is None:
            lock = self._locks[(user.id, space)] = asyncio.Lock()
        async with lock:
            interval = interval_for(
                message.chat.type,
                private_interval=self.settings.private_edit_interval,
                group_interval=self.settings.group_edit_interval,
            )
            thread = message.message_thread_id if message.is_topic_message else None
            delivery = Delivery(
                message,
                self.otvet.i18n,
                EditThrottle(interval),
                thread_id=thread,
                typing_delay=self.settings.typing_delay,
                prefix=prefix,
            )
            await delivery.run(self.otvet.engine.stream(turn))

    @command
    async def on_unsupported(self, message: Message, user: User, t: Translator) -> None:
        """Stickers, photos without a caption: say politely what the bot understands (private only)."""
        if message.chat.type != ChatType.PRIVATE:
            return
        if message.document is not None and await self.admin.acting(user) is not None:
            await message.reply_text(t.gettext("To add this file to the knowledge base, reply /add to it."))
            return
        await message.reply_text(t.gettext("I can only read text messages. Please write your question."))

    @command
    async def cmd_start(self, message: Message, user: User, t: Translator) -> None:
        """/start: a greeting that says what the bot knows about."""
        topics = await self.otvet.knowledge.topics(t.language, limit=6)
        text = t.gettext("Hello! I answer questions from my knowledge base.")
        if topics:
            listing = "\n".join(f"• {escape(topic)}" for topic in topics)
            text += "\n\n" + t.gettext("I know about:") + "\n" + listing
        text += "\n\n" + t.gettext("Just write your question. /help shows what else I can do.")
        await message.reply_text(text, parse_mode="HTML")

    @command
    async def cmd_help(self, message: Message, user: User, t: Translator) -> None:
        """/help: how to ask and the commands."""
        await message.reply_text(
            t.gettext(
                "Ask a question in plain words and I will answer from my knowledge base, with sources.\n\n"
                "/reset - start a new conversation\n"
                "/lang - choose the language\n"
                "/sources - the sources of my last answer\n\n"
                "In a group, mention me or reply to my message."
            )
            + await self.admin.help_text(user, t)
        )

    @command
    async def cmd_reset(self, message: Message, user: User, t: Translator) -> None:
        """/reset: forget this conversation's history."""
        await self.otvet.engine.reset(CHANNEL, str(user.id), self.space(message), shared=self.shared(message))
        await message.reply_text(t.gettext("Done: I have started a new conversation."))

    @command
    async def cmd_lang(self, message: Message, user: User, t: Translator) -> None:
        """/lang: choose the language with buttons."""
        buttons = [
            InlineKeyboardButton(LANGUAGE_NAMES.get(code, code), callback_data=f"lang:{code}")
            for code in self.otvet.i18n.languages
        ]
        await message.reply_text(
            t.gettext("Choose the language:"), reply_markup=InlineKeyboardMarkup([buttons])
        )

    @command
    async def cmd_sources(self, message: Message, user: User, t: Translator) -> None:
        """/sources: the sources of the last answer in this conversation."""
        last = await self.otvet.engine.last_answer(
            CHANNEL, str(user.id), self.space(message), shared=self.shared(message)
        )
        if last is None or not last.sources:
            await message.reply_text(t.gettext("My last answer had no sources."))
            return
        lines = [f"[{n}] {escape(source.label())}" for n, source in enumerate(last.sources, 1)]
        await message.reply_text(
            f"<b>{escape(t.gettext('Sources:'))}</b>\n" + "\n".join(lines), parse_mode="HTML"
        )

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Buttons: 👍/👎 feedback and the language choice. Every callback query is answered."""
        query = update.callback_query
        if query is None or query.from_user is None:
            return
        kind, _, rest = (query.data or "").partition(":")
        if kind == "rb":  # an admin's rollback confirmation: admins need not be on the allow-list
            await self.admin.on_rollback_button(update, rest)
            return
        if not self.allowed(update):
            return
        t = await self.translator(update)
        try:
            if kind == "fb":
                message_id, _, value = rest.partition(":")
                await self.otvet.engine.rate(CHANNEL, str(query.from_user.id), int(message_id), int(value))
                await query.answer(t.gettext("Thank you for the feedback!"))
            elif kind == "lang" and rest in self.otvet.i18n.languages:
                await self.otvet.engine.set_language(CHANNEL, str(query.from_user.id), rest)
                t = self.otvet.i18n.get(rest)
                await query.answer()
                await query.edit_message_text(
                    t.gettext("Language: %(language)s", language=LANGUAGE_NAMES.get(rest, rest))
                )
            else:
                await query.answer(t.gettext("This button is no longer valid."))
        except (NotFound, ValueError):
            await query.answer(t.gettext("This button is no longer valid."))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log what went wrong; the user never sees a stack trace."""
        if isinstance(context.error, DatabaseUnavailable) and postpone(context.error.retry_after):
            return  # handled again once the database is back (the store logged the outage)
        log.error(
            "Telegram handler failed for update %s", getattr(update, "update_id", "?"), exc_info=context.error
        )


def flood_limiter(otvet: Otvet, token: str) -> FloodLimiter:
    """The bot's flood limiter: its budget shared through the database by every replica when they can
    share one (``OTVET_TELEGRAM__SHARED_LIMITS``; by default whenever the database is not SQLite)."""
    settings = otvet.settings.telegram
    shared = settings.shared_limits
    if shared is None:
        shared = not otvet.settings.resolved_database_url.startswith("sqlite")
    return FloodLimiter(
        bot=Limit(settings.messages_per_second, 1.0),
        shared=(lambda: otvet.store) if shared else None,
        # The bot's id (the token before its colon) names its windows: never the secret part.
        name=f"telegram:{token.split(':', 1)[0]}",
    )


def build_application(otvet: Otvet, *, webhook: bool = False) -> Application:  # type: ignore[type-arg]
    """The PTB application with every handler wired; ``webhook`` builds it without an updater."""
    settings = otvet.settings.telegram
    token = settings.token.get_secret_value()
    if not token:
        raise ValueError(
            "OTVET_TELEGRAM__TOKEN is not set: create a bot with @BotFather and put its token there"
        )
    warn_if_cleartext(settings.base_url, "OTVET_TELEGRAM__BASE_URL", "the bot token")
    bot = TelegramBot(otvet)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .concurrent_updates(TrackedUpdates(otvet))
        # Bot API calls over httpx2, in a small pool: a big one costs milliseconds per call (request.py).
        .request(Httpx2Request(BOT_API_CONNECTIONS, pool_timeout=BOT_API_POOL_TIMEOUT))
    )
    if settings.rate_limit:
        # Flood control: messages within Telegram's limits per bot and per chat, RetryAfter waited out.
        builder = builder.rate_limiter(flood_limiter(otvet, token))
    if webhook:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["otvet_bot"] = bot
    application.add_handler(CommandHandler("start", bot.cmd_start))
    application.add_handler(CommandHandler("help", bot.cmd_help))
    application.add_handler(CommandHandler("reset", bot.cmd_reset))
    application.add_handler(CommandHandler("lang", bot.cmd_lang))
    application.add_handler(CommandHandler("sources", bot.cmd_sources))
    admin = bot.admin
    application.add_handler(CommandHandler("link", admin.cmd_link))
    for name in ("add", "retrain", "versions", "rollback", "status", "fix"):
        application.add_handler(CommandHandler(name, getattr(admin, f"cmd_{name}")))
    # A document captioned /add (before the text handler, which would take the caption for a question).
    adding = filters.Document.ALL & filters.CaptionRegex(r"^/add(@\w+)?(\s|$)") & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(adding, admin.cmd_add))
    application.add_handler(CallbackQueryHandler(bot.on_callback))
    # Before the text handler, which would take a voice message's caption for the question. Imported here:
    # voice.py builds on this module.
    from otvet.frontends.telegram.voice import add_voice_handler

    add_voice_handler(application, bot)
    application.add_handler(
        MessageHandler(
            ((filters.TEXT & ~filters.COMMAND) | filters.CAPTION) & filters.UpdateType.MESSAGE, bot.on_text
        )
    )
    application.add_handler(
        MessageHandler(
            (filters.Sticker.ALL | filters.PHOTO | filters.VIDEO | filters.Document.ALL)
            & ~filters.CAPTION
            & filters.UpdateType.MESSAGE,
            bot.on_unsupported,
        )
    )
    application.add_error_handler(bot.on_error)
    return application
