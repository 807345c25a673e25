"""Admins train the bot from the chat, through the real python-telegram-bot client and the fake Bot API:
/add, /retrain, /versions, /rollback, /status, /fix and /link; everyone else gets nothing from them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from otvet.core.jobs import Worker
from otvet.frontends.telegram import admin
from tests.frontends.telegram.conftest import BotEnv, start_bot
from tests.frontends.telegram.test_bot import message_with
from tests.support.telegram_updates import USER_ID

ADMIN_ID = 42
REFUNDS = b"# Refunds\n\nRefunds of the Otvet Pro plan take five working days to reach your card.\n"


@pytest.fixture
async def admin_bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotEnv]:
    monkeypatch.setattr(admin, "FOLLOW_EVERY", 0.1)
    monkeypatch.setattr(admin, "EDIT_AT_MOST_EVERY", 0.2)
    async for env in start_bot(tmp_path, admin_user_ids=[ADMIN_ID]):
        yield env


async def shown(env: BotEnv, chat_id: int, needle: str) -> str:
    """The bot's message in ``chat_id`` that holds ``needle`` once it does (sent, or edited into it)."""
    for _ in range(200):
        found = [text for text in env.texts_sent(chat_id) if needle in text]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {needle!r}; the chat shows {env.texts_sent(chat_id)}")


def send(env: BotEnv, text: str, user_id: int = ADMIN_ID) -> None:
    env.api.queue_update(env.api.private_message(text, user_id=user_id, language_code="en"))


def send_file(
    env: BotEnv, name: str, content: bytes, caption: str | None = "/add", user_id: int = ADMIN_ID
) -> None:
    file_id = f"doc-{name}"
    env.api.add_file(file_id, content)
    update = env.api.document_message(
        file_id, name, file_size=len(content), caption=caption, user_id=user_id, language_code="en"
    )
    env.api.queue_update(update)


async def test_an_admin_adds_a_document_and_the_bot_answers_from_it(admin_bot: BotEnv) -> None:
    send_file(admin_bot, "refunds.md", REFUNDS)
    report = await shown(admin_bot, ADMIN_ID, "Added: refunds.md")
    assert "Version 2 is active." in report
    assert (await admin_bot.otvet.store.active_version()).id == 2  # type: ignore[union-attr]
    versions = await admin_bot.otvet.store.list_versions()
    assert "by telegram:42" in versions[0].note  # who did it, kept with what it changed
    send(admin_bot, "How long do refunds of the Pro plan take?", user_id=USER_ID)
    assert "five working days" in await shown(admin_bot, USER_ID, "five working days")


async def test_a_bad_or_too_big_file_adds_nothing_and_says_why(admin_bot: BotEnv) -> None:
    api = admin_bot.api
    send_file(admin_bot, "notes.exe", b"MZ\x90\x00")
    refused = await shown(admin_bot, ADMIN_ID, "Nothing was added:")
    assert "notes.exe: unknown kind of file" in refused
    big = api.document_message("big", "manual.pdf", file_size=30 * 2**20, caption="/add", user_id=ADMIN_ID)
    api.queue_update(big)
    assert "larger than 20 MB" in await shown(admin_bot, ADMIN_ID, "larger than")
    assert not [c for c in api.calls_to("getFile") if c.params.get("file_id") == "big"]  # never downloaded
    send(admin_bot, "/add http://127.0.0.1:9/secret")  # the same SSRF rules as everywhere
    assert "127.0.0.1" in await shown(admin_bot, ADMIN_ID, "Nothing was added:\n• http://127.0.0.1")
    assert (await admin_bot.otvet.store.active_version()).id == 1  # type: ignore[union-attr]


async def test_replying_add_to_a_document_adds_it(admin_bot: BotEnv) -> None:
    api = admin_bot.api
    api.add_file("doc-faq", b"question,answer\nDo you ship to Spain?,Yes: in three days.\n")
    sent = api.document_message("doc-faq", "faq.csv", file_size=60, caption=None, user_id=ADMIN_ID)
    api.queue_update(sent)  # a file alone: the bot says how to add it
    document = sent["message"]
    assert "reply /add to it" in await shown(admin_bot, ADMIN_ID, "To add this file to the knowledge base")
    api.queue_update(api.private_reply("/add", document, user_id=ADMIN_ID))
    assert "Version 2 is active." in await shown(admin_bot, ADMIN_ID, "Added: faq.csv")


async def test_retrain_keeps_one_status_message_up_to_date_until_the_verdict(admin_bot: BotEnv) -> None:
    send(admin_bot, "/retrain")
    await shown(admin_bot, ADMIN_ID, "Retraining (job 1)")
    await Worker(admin_bot.otvet, "w1").run_one()
    verdict = await shown(admin_bot, ADMIN_ID, "Retrained")
    assert "version 2" in verdict
    statuses = [t for t in admin_bot.texts_sent(ADMIN_ID) if "Retrain" in t]
    assert len(statuses) == 1  # one message, edited: not a message per step


async def test_versions_and_a_confirmed_rollback(admin_bot: BotEnv) -> None:
    api = admin_bot.api
    send_file(admin_bot, "refunds.md", REFUNDS)
    await shown(admin_bot, ADMIN_ID, "Version 2 is active.")
    send(admin_bot, "/versions")
    listing = await shown(admin_bot, ADMIN_ID, "#2 active")
    assert "#1 retired" in listing
    send(admin_bot, "/rollback")
    question = await message_with(admin_bot, "Make version 1 active again?")
    buttons = question["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["rb:1", "rb:no"]
    asked = api.bot_messages(ADMIN_ID)[-1]["message_id"]
    api.queue_update(api.callback_query("rb:1", message_id=asked, chat_id=ADMIN_ID, user_id=USER_ID))
    await asyncio.sleep(0.3)
    assert (await admin_bot.otvet.store.active_version()).id == 2  # type: ignore[union-attr]  # not an admin
    api.queue_update(api.callback_query("rb:1", message_id=asked, chat_id=ADMIN_ID, user_id=ADMIN_ID))
    # In the language of whoever pressed the button (this Telegram user's is Russian).
    done = await shown(admin_bot, ADMIN_ID, "Версия 1 снова активна.")
    assert "refunds.md" in done  # no longer in the working set
    assert (await admin_bot.otvet.store.active_version()).id == 1  # type: ignore[union-attr]


async def test_fix_turns_a_reply_to_an_answer_into_an_approved_pair(admin_bot: BotEnv) -> None:
    api = admin_bot.api
    send(admin_bot, "How do I connect Telegram?")
    answer = await message_with(admin_bot, "BotFather")  # the answer, with its rating buttons
    for _ in range(100):  # the final form (with the buttons) may come as an edit
        answered = [m for m in api.bot_messages(ADMIN_ID) if "reply_markup" in m]
        if answered:
            break
        await asyncio.sleep(0.05)
    assert answer and answered
    api.queue_update(
        api.private_reply(
            "/fix Ask @BotFather for a token, then set OTVET_TELEGRAM__TOKEN.", answered[-1], user_id=ADMIN_ID
        )
    )
    saved = await shown(admin_bot, ADMIN_ID, "Saved: the next /retrain teaches me")
    assert "How do I connect Telegram?" in saved
    candidates = await admin_bot.otvet.store.list_candidates(status="approved")
    (fixed,) = candidates
    assert fixed.answer == "Ask @BotFather for a token, then set OTVET_TELEGRAM__TOKEN."
    assert fixed.reviewed_by == "telegram:42" and fixed.origin == "correction"
    api.queue_update(
        api.private_reply("/fix Something", api.bot_messages(ADMIN_ID)[-1], user_id=ADMIN_ID)
    )  # not an answer
    await shown(admin_bot, ADMIN_ID, "Reply to one of my answers with /fix")


async def test_other_users_get_nothing_from_admin_commands(admin_bot: BotEnv) -> None:
    api = admin_bot.api
    for command in ("/status", "/versions", "/retrain", "/rollback", "/add http://example.com", "/fix x"):
        send(admin_bot, command, user_id=USER_ID)
    send_file(admin_bot, "refunds.md", REFUNDS, user_id=USER_ID)
    send(admin_bot, "/help", user_id=USER_ID)
    help_text = await shown(admin_bot, USER_ID, "/reset - start a new conversation")
    assert "For admins" not in help_text and "/retrain" not in help_text
    await asyncio.sleep(0.5)
    assert admin_bot.texts_sent(USER_ID) == [help_text]  # not even "this is for admins"
    assert await admin_bot.otvet.store.get_job(1) is None and not api.calls_to("getFile")
    send(admin_bot, "/help")
    assert "/retrain - build a new knowledge version" in await shown(admin_bot, ADMIN_ID, "For admins")


async def test_a_link_code_makes_a_telegram_account_act_as_an_admin(admin_bot: BotEnv) -> None:
    accounts = admin_bot.otvet.accounts
    await accounts.create_admin("ann", "correct horse battery staple")
    code, _ = await accounts.create_link_code("ann")
    send(admin_bot, "/status", user_id=555)
    send(admin_bot, f"/link {code}", user_id=555)
    assert "you act as admin ann" in await shown(admin_bot, 555, "Done:")
    send(admin_bot, "/status", user_id=555)
    assert "Knowledge version 1 is active" in await shown(admin_bot, 555, "Knowledge version")
    send(admin_bot, f"/link {code}", user_id=556)  # used
    assert await shown(admin_bot, 556, "This code is wrong, used or expired.")
    send_file(admin_bot, "refunds.md", REFUNDS, user_id=555)
    await shown(admin_bot, 555, "Added: refunds.md")
    versions = await admin_bot.otvet.store.list_versions()
    assert "by ann (telegram:555)" in versions[0].note
