"""The fake Bot API, driven by the real python-telegram-bot client over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.support.fake_telegram import FakeBotAPI

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Helpful", callback_data="rate:1")]])


@pytest.fixture(autouse=True)
def _timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without this, PTB 22 warns (PTBDeprecationWarning) whenever RetryAfter.retry_after is read, even inside
    # its own constructor, and warnings are errors here: a 429 would surface as that warning instead.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token="123:ABC") as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


async def test_get_me_describes_the_bot_from_its_token(api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.is_bot, me.first_name, me.username) == (123, True, "Otvet Test", "otvet_test_bot")
    assert (me.can_join_groups, me.can_read_all_group_messages, me.supports_inline_queries) == (
        True,
        False,
        False,
    )
    assert api.base_url.startswith("http://127.0.0.1:") and api.base_url.endswith("/bot")
    assert [call.method for call in api.calls] == ["getMe", "getMe"]  # the first one is Bot.initialize()


async def test_send_message_records_decoded_params_and_returns_the_parsed_message(
    api: FakeBotAPI, bot: Bot
) -> None:
    message = await bot.send_message(
        42, "<b>Ответ</b> &amp; <i>ещё</i>", parse_mode="HTML", reply_markup=KEYBOARD
    )

    (call,) = api.calls_to("sendMessage")
    assert call.params == {
        "chat_id": 42,
        "text": "<b>Ответ</b> &amp; <i>ещё</i>",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "Helpful", "callback_data": "rate:1"}]]},
    }
    assert message.text == "Ответ & ещё"
    assert message.entities == (
        MessageEntity(MessageEntity.BOLD, 0, 5),
        MessageEntity(MessageEntity.ITALIC, 8, 3),
    )
    assert message.reply_markup == KEYBOARD
    assert message.from_user is not None and message.from_user.username == "otvet_test_bot"
    assert api.message_text(42, message.message_id) == "Ответ & ещё"


async def test_message_ids_grow_per_chat_and_the_chat_type_follows_the_id(bot: Bot) -> None:
    first, second = await bot.send_message(7, "a"), await bot.send_message(7, "b")
    group = await bot.send_message(-1001, "c")

    assert (first.message_id, second.message_id, group.message_id) == (1, 2, 1)
    assert (first.chat.type, group.chat.type) == ("private", "supergroup")


async def test_editing_to_the_same_content_is_not_modified(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(42, "<b>x</b>", parse_mode="HTML", reply_markup=KEYBOARD)

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<b>x</b>", 42, sent.message_id, parse_mode="HTML", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("<b>x</b>", 42, sent.message_id, parse_mode="HTML")

    assert (
        isinstance(edited, type(sent)) and edited.reply_markup is None
    )  # no markup given: the keyboard goes
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("y", 42, 999)
    user_update = api.private_message("hi", user_id=42)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("y", 42, user_update["message"]["message_id"])


async def test_flood_control_raises_retry_after_then_the_call_goes_through(api: FakeBotAPI, bot: Bot) -> None:
    api.fail_next("sendMessage")

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(42, "hello")
    await bot.send_message(42, "hello")

    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert len(api.calls_to("sendMessage")) == 2


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<b>x</b>", "x"),
        ('<a href="https://example.com/?a=1&amp;b=2">link</a>', "link"),
        ("&lt;tag&gt; &quot;q&quot;", '<tag> "q"'),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ('<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>', "sq"),
    ],
)
async def test_valid_html_is_accepted(bot: Bot, html: str, text: str) -> None:
    assert (await bot.send_message(42, html, parse_mode="HTML")).text == text


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<foo>x</foo>", 'unsupported start tag "foo" at byte offset 0'),
        ("a < b", 'unsupported start tag "" at byte offset 2'),
        ("<b>x", 'can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "unexpected end tag at byte offset 1"),
        ("Tom & Jerry", 'unescaped "&" at byte offset 4'),
        ("<span>x</span>", 'tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_invalid_html_is_rejected_like_telegram(bot: Bot, html: str, error: str) -> None:
    # PTB strips "Bad Request: " and capitalizes the rest, which lowercases everything after the first letter.
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(42, html, parse_mode="HTML")

    assert caught.value.message.startswith("Can't parse entities: ")
    assert error.lower() in caught.value.message


async def test_a_lenient_fake_keeps_a_bare_ampersand_as_telegram_does() -> None:
    async with (
        FakeBotAPI(strict_ampersand=False) as api,
        Bot(api.token, base_url=api.base_url) as bot,
    ):
        assert (
            await bot.send_message(42, "Tom & Jerry &nbsp;", parse_mode="HTML")
        ).text == "Tom & Jerry &nbsp;"


async def test_length_is_counted_after_parsing_and_empty_text_is_refused(bot: Bot) -> None:
    await bot.send_message(42, "я" * 4096)
    await bot.send_message(42, "<b>" + "&lt;" * 4096 + "</b>", parse_mode="HTML")

    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(42, "я" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(42, "&amp;" * 4097, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(42, "<b> </b>", parse_mode="HTML")


async def test_reject_html_fails_the_next_html_call_only(api: FakeBotAPI, bot: Bot) -> None:
    api.reject_html()

    with pytest.raises(BadRequest, match='unsupported start tag "foo"'):
        await bot.send_message(42, "<b>fine</b>", parse_mode="HTML")
    await bot.send_message(42, "<b>fine</b>", parse_mode="HTML")


async def test_get_updates_delivers_queued_updates_and_an_offset_confirms_them(
    api: FakeBotAPI, bot: Bot
) -> None:
    queued = api.queue_update(api.private_message("/start now", user_id=555, first_name="Anna"))

    (update,) = await bot.get_updates(offset=0, timeout=1)
    again = await bot.get_updates(offset=update.update_id + 1, timeout=0)

    assert update.update_id == queued["update_id"] and again == ()
    assert update.effective_user is not None and update.effective_user.first_name == "Anna"
    assert update.message is not None and update.message.parse_entities([MessageEntity.BOT_COMMAND]) == {
        MessageEntity(MessageEntity.BOT_COMMAND, 0, 6): "/start"
    }


async def test_an_application_polls_handles_and_replies(api: FakeBotAPI) -> None:
    async def shout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text.upper())

    application = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    application.add_handler(MessageHandler(filters.TEXT, shout))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=10)
        api.queue_update(api.private_message("привет", user_id=77))
        (call,) = await api.wait_for("sendMessage")
        await application.updater.stop()
        await application.stop()

    assert call.params == {"chat_id": 77, "text": "ПРИВЕТ"}
    assert [call.method for call in api.calls][:3] == ["getMe", "deleteWebhook", "getUpdates"]


async def test_a_long_poll_returns_as_soon_as_an_update_is_queued(api: FakeBotAPI, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await api.wait_for("getUpdates")

    api.queue_update(api.private_message("hello"))

    async with asyncio.timeout(5):
        (update,) = await poll
    assert update.message is not None and update.message.text == "hello"


async def test_wait_for_fails_with_the_calls_seen(api: FakeBotAPI) -> None:
    with pytest.raises(AssertionError, match=r"sendMessage within 0.05s; calls so far: \[\]"):
        await api.wait_for("sendMessage", timeout=0.05)


async def test_a_wrong_token_is_an_invalid_token(api: FakeBotAPI) -> None:
    # Telegram answers 401 Unauthorized; PTB maps 401 and 404 to InvalidToken, reworded by initialize().
    with pytest.raises(InvalidToken, match="rejected by the server") as caught:
        async with Bot("999:WRONG", base_url=api.base_url):
            pass

    cause = caught.value.__cause__
    assert isinstance(cause, InvalidToken) and cause.message == "Unauthorized"
    assert api.calls == []  # calls with another bot's token are not this bot's calls


async def test_server_errors_and_dropped_connections_are_network_errors(api: FakeBotAPI, bot: Bot) -> None:
    api.server_error_next("sendMessage")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(42, "first")

    api.drop_connection_next("sendMessage", after_processing=True)
    with pytest.raises(NetworkError, match="RemoteProtocolError"):
        await bot.send_message(42, "second")

    assert [m["text"] for m in api.bot_messages(42)] == ["second"]  # the reply was lost, not the message


async def test_webhook_state_conflicts_with_polling_and_delivery_carries_the_secret(
    api: FakeBotAPI, bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def webhook(request: Request) -> Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return Response()

    app = Starlette(routes=[Route("/telegram", webhook, methods=["POST"])])
    await bot.set_webhook("http://otvet.test/telegram", secret_token="s3cr3t", allowed_updates=["message"])
    info = await bot.get_webhook_info()

    assert (info.url, info.allowed_updates) == ("http://otvet.test/telegram", ("message",))
    with pytest.raises(Conflict, match="while webhook is active"):
        await bot.get_updates()
    update = api.group_message("@otvet_test_bot what is Otvet?")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        assert (await api.deliver_webhook(update, client=client)).status_code == 200
    assert received == [("s3cr3t", update)]
    parsed = Update.de_json(received[0][1], bot)  # type: ignore[arg-type]
    assert parsed.message is not None and parsed.message.parse_entities([MessageEntity.MENTION]) == {
        MessageEntity(MessageEntity.MENTION, 0, 15): "@otvet_test_bot"
    }

    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""


async def test_commands_are_kept_per_scope_and_language(api: FakeBotAPI, bot: Bot) -> None:
    group_scope = BotCommandScopeAllGroupChats()
    await bot.set_my_commands([BotCommand("ask", "Задать вопрос")], language_code="ru")
    await bot.set_my_commands([("help", "Help")], scope=group_scope)

    assert await bot.get_my_commands(language_code="ru") == (BotCommand("ask", "Задать вопрос"),)
    assert await bot.get_my_commands() == ()
    assert api.command_list({"type": "all_group_chats"}) == [{"command": "help", "description": "Help"}]
    assert await bot.delete_my_commands(scope=group_scope)
    assert api.command_list({"type": "all_group_chats"}) == []
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Ask", "Upper case is not allowed")])


async def test_callback_queries_are_answered_once(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(42, "Was this helpful?", reply_markup=KEYBOARD)
    update = Update.de_json(api.callback_query("rate:1", message_id=sent.message_id, chat_id=42), bot)

    assert update.callback_query is not None and update.callback_query.message == sent
    assert await update.callback_query.answer("Thanks!")
    with pytest.raises(BadRequest, match="Query is too old"):
        await update.callback_query.answer()


async def test_chat_actions_replies_and_shutdown_calls(api: FakeBotAPI, bot: Bot) -> None:
    question = api.private_message("Где документация?", user_id=42)["message"]

    assert await bot.send_chat_action(42, "typing")
    reply = await bot.send_message(42, "Здесь", reply_to_message_id=question["message_id"])
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "Где документация?"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(42, "?", reply_to_message_id=999)
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(42, "dancing")
    assert await bot.close() and await bot.log_out()


async def test_files_download_and_uploads_arrive_as_multipart(api: FakeBotAPI, bot: Bot) -> None:
    api.add_file("DOC1", b"knowledge", "documents/faq.txt")
    api.respond(
        "sendDocument",
        lambda p: {"message_id": 5, "date": 0, "chat": {"id": p["chat_id"], "type": "private"}},
    )

    file = await bot.get_file("DOC1")
    sent = await bot.send_document(42, io.BytesIO(b"report"), filename="report.txt", caption="42")

    assert await file.download_as_bytearray() == b"knowledge"
    assert sent.message_id == 5
    assert api.calls_to("sendDocument")[0].params == {
        "chat_id": 42,
        "caption": "42",  # a text parameter stays a string even when it looks like JSON
        "document": {"filename": "report.txt", "content": b"report"},
    }


async def test_every_update_builder_parses_with_ptb(api: FakeBotAPI, bot: Bot) -> None:
    topic = Update.de_json(api.group_message("q", message_thread_id=7, is_topic_message=True), bot)
    answer = await bot.send_message(-1001234567890, "a", message_thread_id=7)
    reply = Update.de_json(api.group_message("thanks", reply_to_bot=True, message_thread_id=7), bot)
    sticker = Update.de_json(api.sticker_message(emoji="🔥"), bot)
    edited = Update.de_json(api.edited_message("edited"), bot)
    post = Update.de_json(api.channel_post("news"), bot)
    blocked = Update.de_json(api.my_chat_member(chat_id=1001, old_status="member", new_status="kicked"), bot)

    assert topic.message is not None and topic.message.reply_to_message is not None
    assert topic.message.reply_to_message.forum_topic_created is not None  # a topic's "reply", not a real one
    assert reply.message is not None and reply.message.reply_to_message == answer
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.emoji == "🔥" and sticker.message.text is None
    assert edited.edited_message is not None and edited.edited_message.text == "edited"
    assert post.channel_post is not None and post.channel_post.sender_chat is not None
    assert blocked.my_chat_member is not None and blocked.my_chat_member.new_chat_member.status == "kicked"
    assert len({update.update_id for update in (topic, reply, sticker, edited, post, blocked)}) == 6
