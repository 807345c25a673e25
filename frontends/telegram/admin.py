"""Admins train the bot from the chat: ``/add`` a document or a web page, ``/retrain`` with its progress in
one status message, ``/versions``, ``/rollback``, ``/status``, and ``/fix`` a wrong answer.

An admin is a Telegram user listed in ``telegram.admin_user_ids``, or one linked to an Otvet admin account
by sending ``/link CODE`` (a one-time code from ``otvet admin link-telegram``). Everyone else gets nothing
from these commands, not even an answer saying they exist. Every action goes through the same code as the
CLI and GraphQL (parsers, limits, SSRF rules, the evaluation gate), is logged with who did it, and carries
its author into what it stores (the version's note, the correction's reviewer).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from otvet.core import feedback
from otvet.core.accounts import AuthError
from otvet.core.embeddings import EmbeddingError
from otvet.core.ingest import MAX_FILE_BYTES, IngestProblems, fetch_source, is_url, parse_named_files
from otvet.core.knowledge import IngestReport
from otvet.core.sources import SourceError
from otvet.core.store import NotFound, VersionRecord

if TYPE_CHECKING:
    from otvet.core.i18n import Translator
    from otvet.core.store import JobRecord
    from otvet.frontends.telegram.bot import TelegramBot

log = logging.getLogger(__name__)

CHANNEL = "telegram"
#: How often a retrain's status message is brought up to date (Telegram limits edits too).
FOLLOW_EVERY = 2.0
EDIT_AT_MOST_EVERY = 4.0
#: A retrain followed longer than this is left to ``/status`` and ``/versions``.
FOLLOW_FOR = 3600.0
FINISHED = frozenset({"succeeded", "failed", "cancelled"})

AdminHandler = Callable[["AdminCommands", Message, User, "Translator", str, list[str]], Awaitable[None]]


def admin_only(
    handler: AdminHandler,
) -> Callable[[AdminCommands, Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """A command only admins get anything from; called with who acts (for logs and stored records)."""

    @functools.wraps(handler)
    async def wrapper(self: AdminCommands, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        who = await self.acting(user)
        if who is None:
            return  # silence: to anyone else, these commands do not exist
        t = await self.bot.translator(update)
        await handler(self, message, user, t, who, list(context.args or ()))

    return wrapper


class AdminCommands:
    """The admin commands of one bot; retrains being followed run as tasks of their own."""

    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.otvet = bot.otvet
        self._following: set[asyncio.Task[None]] = set()

    async def acting(self, user: User) -> str | None:
        """Who ``user`` acts as: ``telegram:<id>`` for a listed admin, the admin's username (and the
        Telegram id) for a linked one; None for everyone else."""
        if user.id in self.bot.settings.admin_user_ids:
            return f"telegram:{user.id}"
        admin = await self.otvet.accounts.channel_admin(CHANNEL, str(user.id))
        return None if admin is None else f"{admin.username} (telegram:{user.id})"

    # --- linking ------------------------------------------------------------------------------------------

    async def cmd_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/link CODE (private chats): act as the admin whose one-time code this is."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.chat.type != ChatType.PRIVATE:
            return
        t = await self.bot.translator(update)
        code = "".join(context.args or ())
        if not code:
            await message.reply_text(
                t.gettext("Send /link followed by the code from `otvet admin link-telegram`.")
            )
            return
        try:
            admin = await self.otvet.accounts.link_channel(CHANNEL, str(user.id), code)
        except AuthError as exc:
            if exc.code == "rate_limited":
                await message.reply_text(t.gettext("Too many wrong codes: try again later."))
            else:
                await message.reply_text(t.gettext("This code is wrong, used or expired."))
            return
        await message.reply_text(
            t.gettext(
                "Done: you act as admin %(name)s here. /help lists what you can do.", name=admin.username
            )
        )

    async def help_text(self, user: User, t: Translator) -> str:
        """The admin part of /help, for admins only (empty for everyone else)."""
        if await self.acting(user) is None:
            return ""
        return "\n\n" + t.gettext(
            "For admins:\n"
            "/add - send a document with /add as its caption, reply /add to one, or /add a web page's URL\n"
            "/retrain - build a new knowledge version and evaluate it\n"
            "/versions - the knowledge versions\n"
            "/rollback - make an earlier version active again\n"
            "/status - the active version\n"
            "/fix - reply to one of my answers with /fix and the correct answer"
        )

    # --- adding sources -----------------------------------------------------------------------------------

    @admin_only
    async def cmd_add(self, message: Message, user: User, t: Translator, who: str, args: list[str]) -> None:
        """/add URL, a document captioned /add, or /add in reply to a document: ingest it and retrain."""
        urls = [arg for arg in args if is_url(arg)]
        replied = message.reply_to_message
        document = message.document or (replied.document if replied is not None else None)
        if not urls and document is None:
            await message.reply_text(
                t.gettext(
                    "Send a document with /add as its caption, reply /add to a document, or /add a URL."
                )
            )
            return
        if document is not None and (document.file_size or 0) > MAX_FILE_BYTES:
            await message.reply_text(
                t.gettext(
                    "%(name)s is larger than %(limit)d MB, the most a bot can download: nothing was added.",
                    name=document.file_name or "?",
                    limit=MAX_FILE_BYTES // 2**20,
                )
            )
            return
        status = await message.reply_text(t.gettext("Reading and training…"))
        note = f"/add in Telegram by {who}"
        try:
            if document is not None:
                name = document.file_name or f"telegram-{document.file_unique_id}"

                async def downloaded() -> AsyncIterator[tuple[str, bytes]]:
                    file = await document.get_file()
                    yield name, bytes(await file.download_as_bytearray())

                sources = await parse_named_files(self.otvet, downloaded())
            else:
                types = [self.otvet.source_types.get(n) for n in self.otvet.source_types]
                sources = [await fetch_source(self.otvet, url, types) for url in urls]
            report = await self.otvet.knowledge.add_sources(sources, rebuild=True, note=note)
        except IngestProblems as exc:
            await _edit(status, _nothing_added(t, exc.problems))
            return
        except SourceError as exc:
            await _edit(status, _nothing_added(t, [str(exc)]))
            return
        except EmbeddingError as exc:
            log.warning("/add by %s: the embedder failed: %s", who, exc)
            await _edit(
                status, t.gettext("The embedding model failed, so nothing was added: try again later.")
            )
            return
        log.info("/add by %s: added %s, updated %s", who, report.added or "-", report.updated or "-")
        await _edit(status, _report_text(t, report))

    # --- versions -----------------------------------------------------------------------------------------

    @admin_only
    async def cmd_retrain(
        self, message: Message, user: User, t: Translator, who: str, args: list[str]
    ) -> None:
        """/retrain: queue a retrain, then keep one status message up to date until it is decided."""
        job = await self.otvet.store.enqueue_job("retrain", {"note": f"/retrain in Telegram by {who}"})
        log.info("/retrain by %s: job %d queued", who, job.id)
        status = await message.reply_text(_job_text(t, job))
        task = asyncio.create_task(self._follow(status, job.id, t))
        self._following.add(task)
        task.add_done_callback(self._following.discard)

    async def _follow(self, status: Message, job_id: int, t: Translator) -> None:
        shown, last_edit, started = "", 0.0, time.monotonic()
        try:
            while time.monotonic() - started < FOLLOW_FOR:
                await asyncio.sleep(FOLLOW_EVERY)
                job = await self.otvet.store.get_job(job_id)
                if job is None:
                    return
                text = _job_text(t, job)
                done = job.status in FINISHED
                if text != shown and (done or time.monotonic() - last_edit >= EDIT_AT_MOST_EVERY):
                    await _edit(status, text)
                    shown, last_edit = text, time.monotonic()
                if done:
                    return
        except Exception:  # the job goes on; only its status message stops
            log.warning("following retrain job %d in Telegram stopped", job_id, exc_info=True)

    @admin_only
    async def cmd_versions(
        self, message: Message, user: User, t: Translator, who: str, args: list[str]
    ) -> None:
        """/versions: the newest knowledge versions, with their status and scores."""
        versions = (await self.otvet.store.list_versions())[:10]
        if not versions:
            await message.reply_text(t.gettext("There is no knowledge version yet: /add a source first."))
            return
        await message.reply_text("\n".join(_version_line(t, v) for v in versions))

    @admin_only
    async def cmd_rollback(
        self, message: Message, user: User, t: Translator, who: str, args: list[str]
    ) -> None:
        """/rollback [ID]: ask to confirm going back to version ID (default: the one active before)."""
        target = await self._rollback_target(args)
        if target is None:
            await message.reply_text(t.gettext("There is no earlier version to roll back to."))
            return
        buttons = [
            InlineKeyboardButton(
                t.gettext("Roll back to %(id)d", id=target.id), callback_data=f"rb:{target.id}"
            ),
            InlineKeyboardButton(t.gettext("Cancel"), callback_data="rb:no"),
        ]
        await message.reply_text(
            t.gettext("Make version %(id)d active again? Its sources become the working set.", id=target.id)
            + "\n"
            + _version_line(t, target),
            reply_markup=InlineKeyboardMarkup([buttons]),
        )

    async def _rollback_target(self, args: list[str]) -> VersionRecord | None:
        versions = await self.otvet.store.list_versions()
        if args:
            wanted = args[0].lstrip("#")
            return next((v for v in versions if str(v.id) == wanted and v.status != "active"), None)
        active = next((v for v in versions if v.status == "active"), None)
        earlier = [v for v in versions if v.status == "retired" and (active is None or v.id < active.id)]
        return max(earlier, key=lambda v: v.id, default=None)

    async def on_rollback_button(self, update: Update, rest: str) -> None:
        """The confirmation's buttons (``rb:<id>``, ``rb:no``), for admins only."""
        query = update.callback_query
        if query is None or query.from_user is None:
            return
        who = await self.acting(query.from_user)
        t = await self.bot.translator(update)
        if who is None:
            await query.answer()
            return
        if rest == "no":
            await query.answer()
            await query.edit_message_text(t.gettext("Nothing changed."))
            return
        try:
            done = await self.otvet.knowledge.rollback(int(rest))
        except (NotFound, ValueError) as exc:
            await query.answer(str(exc)[:190], show_alert=True)
            return
        log.info("/rollback by %s: version %d active, dropped %s", who, done.version.id, done.dropped or "-")
        await query.answer()
        text = t.gettext("Version %(id)d is active again.", id=done.version.id)
        if done.dropped:
            text += "\n" + t.gettext("No longer in the working set: %(names)s", names=", ".join(done.dropped))
        await query.edit_message_text(text)

    @admin_only
    async def cmd_status(
        self, message: Message, user: User, t: Translator, who: str, args: list[str]
    ) -> None:
        """/status: which knowledge version answers, and how big it is."""
        version = await self.otvet.store.active_version()
        if version is None:
            await message.reply_text(
                t.gettext("No knowledge version is active: the knowledge base is empty.")
            )
            return
        await message.reply_text(
            t.gettext(
                "Knowledge version %(id)d is active: %(chunks)d chunks from %(sources)d sources.",
                id=version.id,
                chunks=version.chunk_count,
                sources=version.source_count,
            )
        )

    # --- corrections --------------------------------------------------------------------------------------

    @admin_only
    async def cmd_fix(self, message: Message, user: User, t: Translator, who: str, args: list[str]) -> None:
        """/fix ANSWER in reply to one of the bot's answers: the correct answer, approved for the next
        retrain (the same path as an approved correction in the console)."""
        answer_id = _answer_id(message.reply_to_message)
        text = (message.text or "").partition(" ")[2].strip()
        if answer_id is None or not text:
            await message.reply_text(
                t.gettext("Reply to one of my answers with /fix and the correct answer.")
            )
            return
        try:
            candidate = await feedback.correct(self.otvet, answer_id, text, admin=who)
            await feedback.approve(self.otvet, [candidate.id], who, rebuild=False)
        except (NotFound, ValueError) as exc:
            await message.reply_text(t.gettext("That cannot be saved: %(why)s", why=str(exc)))
            return
        log.info("/fix by %s: answer %d corrected (candidate %d approved)", who, answer_id, candidate.id)
        await message.reply_text(
            t.gettext(
                "Saved: the next /retrain teaches me this answer to “%(question)s”.",
                question=candidate.question,
            )
        )


def _answer_id(replied: Message | None) -> int | None:
    """The stored answer a bot message shows: its rating buttons carry its id (``fb:<id>:<value>``)."""
    markup = replied.reply_markup if replied is not None else None
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            kind, _, rest = str(button.callback_data or "").partition(":")
            if kind == "fb" and rest.partition(":")[0].isdigit():
                return int(rest.partition(":")[0])
    return None


async def _edit(status: Message, text: str) -> None:
    try:
        await status.edit_text(text)
    except TelegramError as exc:  # "message is not modified", or it was deleted: nothing to do
        log.debug("status message not edited: %s", exc)


def _nothing_added(t: Translator, problems: list[str]) -> str:
    return t.gettext("Nothing was added:") + "\n" + "\n".join(f"• {p}" for p in problems)


def _report_text(t: Translator, report: IngestReport) -> str:
    lines = []
    for names, label in (
        (report.added, t.gettext("Added:")),
        (report.updated, t.gettext("Updated:")),
        (report.unchanged, t.gettext("Unchanged:")),
    ):
        if names:
            lines.append(f"{label} {', '.join(names)}")
    version = report.version
    if version is None:
        lines.append(t.gettext("Nothing changed, so no new version was built."))
    elif version.status == "active":
        lines.append(t.gettext("Version %(id)d is active.", id=version.id))
    else:
        reason = (version.metrics or {}).get("decision") or version.status
        lines.append(
            t.gettext("Version %(id)d was built but not promoted: %(why)s", id=version.id, why=reason)
        )
    return "\n".join(lines)


def _job_text(t: Translator, job: JobRecord) -> str:
    if job.status == "succeeded":
        result: dict[str, Any] = job.result or {}
        if result.get("promoted"):
            return "✅ " + t.gettext(
                "Retrained: version %(id)s is active (%(why)s).",
                id=result.get("version_id"),
                why=result.get("reason"),
            )
        return "⚠️ " + t.gettext(
            "Retrained, but version %(id)s was not promoted: %(why)s",
            id=result.get("version_id"),
            why=result.get("reason"),
        )
    if job.status == "failed":
        return "❌ " + t.gettext("Retraining failed: %(why)s", why=job.error or "?")
    if job.status == "cancelled":
        return t.gettext("Retraining was cancelled.")
    if job.status == "queued":
        return "⏳ " + t.gettext("Retraining (job %(id)d): waiting for a worker…", id=job.id)
    detail = f" — {job.message}" if job.message else ""
    return (
        "⏳ "
        + t.gettext("Retraining (job %(id)d): %(percent)d%%", id=job.id, percent=round(job.progress * 100))
        + detail
    )


def _version_line(t: Translator, version: VersionRecord) -> str:
    metrics = version.metrics or {}
    score = f" · hit@1 {metrics['hit1']:.2f}" if isinstance(metrics.get("hit1"), int | float) else ""
    return (
        f"#{version.id} {_status(t, version.status)} · "
        + t.gettext(
            "chunks: %(chunks)d, sources: %(sources)d",
            chunks=version.chunk_count,
            sources=version.source_count,
        )
        + score
        + f" · {version.created_at:%Y-%m-%d %H:%M}"
    )


def _status(t: Translator, status: str) -> str:
    names = {
        "active": t.gettext("active"),
        "ready": t.gettext("ready"),
        "retired": t.gettext("retired"),
        "rejected": t.gettext("rejected"),
        "building": t.gettext("building"),
        "failed": t.gettext("failed"),
    }
    return names.get(status, status)
