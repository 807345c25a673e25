"""The bot as Telegram users meet it, asserted on the exact Bot API calls the real PTB client makes."""

from __future__ import annotations

import asyncio
import itertools

from tests.frontends.telegram.conftest import BotEnv
from tests.support.telegram_updates import GROUP_ID, USER_ID


async def ask_private(env: BotEnv, text: str, **kwargs: object) -> None:
    env.api.queue_update(env.api.private_message(text, **kwargs))  # type: ignore[arg-type]


async def final_answers(env: BotEnv, count: int = 1) -> list[dict]:
    """Wait for ``count`` answers carrying the feedback keyboard (the last part of each answer)."""

    def with_keyboard() -> list[dict]:
        return [
            c.params
            for c in env.api.calls
            if c.method in ("sendMessage", "editMessageText")
            and "reply_markup" in c.params
            and "fb:" in str(c.params["reply_markup"])
        ]

    for _ in range(200):
        if len(with_keyboard()) >= count:
            return with_keyboard()
        await asyncio.sleep(0.05)
    raise AssertionError(f"no final answer; calls: {[c.method for c in env.api.calls]}")


async def message_with(env: BotEnv, needle: str) -> dict:
    """Wait for a message the bot sends whose text holds ``needle`` (the chat's flood limit may delay it)."""
    for _ in range(200):
        found = [c.params for c in env.api.calls_to("sendMessage") if needle in c.params.get("text", "")]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {needle!r}; calls: {[c.method for c in env.api.calls]}")


async def test_a_russian_question_gets_a_russian_answer_with_sources_and_feedback_buttons(
    bot: BotEnv,
) -> None:
    await ask_private(bot, "Как добавить обучающие данные?")
    (final,) = await final_answers(bot)
    assert final["parse_mode"] == "HTML"
    assert "otvet ingest" in final["text"]
    assert "<b>Источники:</b>" in final["text"]
    buttons = final["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["👍", "👎"]


async def test_typing_is_shown_while_a_slow_answer_is_written_and_never_after_it(echo_bot: BotEnv) -> None:
    echo_bot.echo.delay = 0.7  # the first words come after more than the typing delay (0.5 s)
    echo_bot.echo.reply = lambda request: "Slow but sure."
    await ask_private(echo_bot, "Take your time")
    await final_answers(echo_bot)
    await asyncio.sleep(0.6)
    skipped = ("getUpdates", "getMe", "deleteWebhook")
    methods = [c.method for c in echo_bot.api.calls if c.method not in skipped]
    assert methods == ["sendChatAction", "sendMessage", "editMessageText"]  # typing, the words, the end
    assert echo_bot.api.calls_to("sendChatAction")[0].params["action"] == "typing"


async def test_streamed_edits_respect_the_throttle(echo_bot: BotEnv) -> None:
    echo_bot.echo.delay = 0.05
    echo_bot.echo.reply = lambda request: "A fairly long answer that arrives piece by piece. " * 6
    await ask_private(echo_bot, "Tell me slowly")
    await final_answers(echo_bot)
    writes = [c for c in echo_bot.api.calls if c.method in ("sendMessage", "editMessageText")]
    assert len(writes) >= 3  # a placeholder, at least one edit while streaming, the final edit
    gaps = [b.at - a.at for a, b in itertools.pairwise(writes)]
    assert min(gaps) >= 0.3 - 0.02  # private_edit_interval, with clock granularity


async def test_a_quick_answer_is_sent_once_not_as_a_placeholder_and_an_edit(echo_bot: BotEnv) -> None:
    await ask_private(echo_bot, "Quick one")
    (final,) = await final_answers(echo_bot)
    assert "You asked: Quick one" in final["text"]
    await asyncio.sleep(0.6)  # longer than the edit interval and the typing delay: nothing else follows
    # One Bot API call: no "typing…" for an answer that was there at once, no placeholder and edit.
    assert [c.method for c in echo_bot.api.calls if c.method != "getUpdates"][-1] == "sendMessage"
    assert not echo_bot.api.calls_to("sendChatAction")
    assert not echo_bot.api.calls_to("editMessageText")
    assert echo_bot.texts_sent(USER_ID) == [final["text"].replace("<b>", "").replace("</b>", "")]


async def test_a_10000_character_answer_arrives_as_correctly_split_messages(echo_bot: BotEnv) -> None:
    paragraph = "Это предложение про базу знаний и ответы. This sentence is about answers. " * 8
    answer = "\n\n".join([paragraph.strip()] * 17)
    assert len(answer) > 10_000
    echo_bot.echo.reply = lambda request: answer
    await ask_private(echo_bot, "Give me everything")
    await final_answers(echo_bot)
    shown = echo_bot.texts_sent(USER_ID)
    assert len(shown) >= 3
    assert all(len(text.encode("utf-16-le")) // 2 <= 4096 for text in shown)
    # Nothing lost or repeated: the parts, rejoined, are the answer (plus the sources block at the end).
    body = "".join(shown).split("Sources:")[0].split("Источники:")[0]
    assert "".join(body.split()) == "".join(answer.split())
    # Every cut falls between sentences.
    assert all(part.rstrip().endswith(".") for part in shown[:-1] if "Sources:" not in part)


async def test_flood_control_retry_after_delays_then_delivers(echo_bot: BotEnv) -> None:
    echo_bot.api.fail_next("sendMessage", times=1, retry_after=1)
    await ask_private(echo_bot, "Are you there?")
    # A quick answer is one sendMessage (no placeholder): the refused attempt, then the retry that lands.
    refused, delivered = await echo_bot.api.wait_for("sendMessage", 2, timeout=10)
    assert "You asked: Are you there?" in delivered.params["text"]
    assert delivered.at - refused.at >= 0.9


async def test_user_text_that_looks_like_html_is_shown_literally(echo_bot: BotEnv) -> None:
    await ask_private(echo_bot, "<b>bold</b> & co")
    (final,) = await final_answers(echo_bot)
    assert "You asked: &lt;b&gt;bold&lt;/b&gt; &amp; co" in final["text"]
    assert echo_bot.texts_sent(USER_ID)[-1].startswith("You asked: <b>bold</b> & co")


async def test_rejected_html_falls_back_to_plain_text(echo_bot: BotEnv) -> None:
    echo_bot.api.reject_html(times=1)
    await ask_private(echo_bot, "Plain please")
    rejected, final = await final_answers(echo_bot, 2)
    assert rejected["parse_mode"] == "HTML"
    assert "parse_mode" not in final or final["parse_mode"] is None
    assert echo_bot.texts_sent(USER_ID)[-1].startswith("You asked: Plain please")


async def test_in_a_group_only_addressed_messages_are_answered(echo_bot: BotEnv) -> None:
    api = echo_bot.api
    api.queue_update(api.group_message("just chatting among ourselves"))
    api.queue_update(api.group_message("a topic message", message_thread_id=7, is_topic_message=True))
    api.queue_update(api.group_message("@otvet_test_bot what is Otvet?"))
    (final,) = await final_answers(echo_bot)
    assert final["chat_id"] == str(GROUP_ID) or int(final["chat_id"]) == GROUP_ID
    assert "You asked: what is Otvet?" in final["text"]
    api.queue_update(api.group_message("and a follow-up", reply_to_bot=True))
    finals = await final_answers(echo_bot, 2)
    assert "You asked: and a follow-up" in finals[1]["text"]
    await asyncio.sleep(0.6)
    sent = [c for c in api.calls if c.method in ("sendMessage", "sendChatAction")]
    assert len(sent) == 2  # the two answers, nothing for the other two messages


async def test_private_history_does_not_reach_the_group(echo_bot: BotEnv) -> None:
    seen: list[tuple[str, ...]] = []

    def remember(request: object) -> str:
        seen.append(tuple(m.text for m in request.history))  # type: ignore[attr-defined]
        return "ok"

    echo_bot.echo.reply = remember
    await ask_private(echo_bot, "my private secret")
    await final_answers(echo_bot)
    echo_bot.api.queue_update(echo_bot.api.group_message("@otvet_test_bot hello group"))
    await final_answers(echo_bot, 2)
    assert seen[1] == ()


async def test_commands_start_help_reset_sources(bot: BotEnv) -> None:
    api = bot.api
    api.queue_update(api.private_message("/start", language_code="en"))
    (start,) = await api.wait_for("sendMessage")
    assert "I answer questions from my knowledge base" in start.params["text"]
    assert "About Otvet" in start.params["text"]

    await ask_private(bot, "How do I connect Telegram?", language_code="en")
    await final_answers(bot)
    api.queue_update(api.private_message("/sources", language_code="en"))
    assert "Connecting Telegram" in (await message_with(bot, "<b>Sources:</b>"))["text"]

    api.queue_update(api.private_message("/reset", language_code="en"))
    api.queue_update(api.private_message("/help", language_code="en"))
    await message_with(bot, "started a new conversation")
    await message_with(bot, "/reset - start a new conversation")


async def test_lang_buttons_store_the_choice(echo_bot: BotEnv) -> None:
    api = echo_bot.api
    api.queue_update(api.private_message("/lang", language_code="en"))
    (choice,) = await api.wait_for("sendMessage")
    buttons = choice.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["lang:en", "lang:ru"]
    message_id = api.bot_messages(USER_ID)[-1]["message_id"]
    api.queue_update(api.callback_query("lang:ru", message_id=message_id, chat_id=USER_ID))
    (edit,) = await api.wait_for("editMessageText")
    assert edit.params["text"] == "Язык: Русский"
    assert api.calls_to("answerCallbackQuery")
    seen: list[str] = []
    echo_bot.echo.reply = lambda request: seen.append(request.language) or "ok"  # type: ignore[func-returns-value]
    await ask_private(echo_bot, "Hello in English", language_code="en")
    await final_answers(echo_bot)
    assert seen == ["ru"]


async def test_feedback_buttons_store_the_rating_and_answer_the_query(echo_bot: BotEnv) -> None:
    api = echo_bot.api
    await ask_private(echo_bot, "Rate me")
    (final,) = await final_answers(echo_bot)
    data = final["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    stored_id = int(data.split(":")[1])
    bot_message = api.bot_messages(USER_ID)[-1]["message_id"]
    api.queue_update(api.callback_query(data, message_id=bot_message, chat_id=USER_ID))
    (answered,) = await api.wait_for("answerCallbackQuery")
    assert answered.params.get("text") == "Спасибо за отзыв!"
    from otvet.plugins.storage.models import Feedback

    rows = await Feedback.filter(message_id=stored_id).values_list("value", flat=True)
    assert list(rows) == [-1]


async def test_unsupported_updates_are_handled_politely_or_ignored(echo_bot: BotEnv) -> None:
    api = echo_bot.api
    api.private_message("an earlier message")  # built, not sent: something for the user to edit
    api.queue_update(api.edited_message("edited text"))
    api.queue_update(api.channel_post("a channel post"))
    api.queue_update(api.my_chat_member())
    api.queue_update(api.sticker_message())
    (reply,) = await api.wait_for("sendMessage")
    assert (
        reply.params["text"] == "Я понимаю только текстовые сообщения. Пожалуйста, напишите вопрос текстом."
    )
    await asyncio.sleep(0.3)
    assert len(api.calls_to("sendMessage")) == 1


async def test_one_users_messages_are_answered_in_order(echo_bot: BotEnv) -> None:
    echo_bot.echo.delay = 0.02
    for n in range(3):
        await ask_private(echo_bot, f"question {n}")
    finals = await final_answers(echo_bot, 3)
    assert [f["text"].split("\n")[0] for f in finals] == [f"You asked: question {n}" for n in range(3)]


async def test_a_command_addressed_to_the_bot_in_a_group_is_answered(echo_bot: BotEnv) -> None:
    api = echo_bot.api
    api.queue_update(api.group_message("/reset@otvet_test_bot", language_code="en"))
    (reply,) = await api.wait_for("sendMessage")
    assert int(reply.params["chat_id"]) == GROUP_ID
    assert "started a new conversation" in reply.params["text"]


async def test_the_allow_list_keeps_strangers_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.frontends.telegram.conftest import start_bot

    async for env in start_bot(tmp_path, provider="echo", allowed_user_ids=[42], admin_user_ids=[7]):
        env.api.queue_update(env.api.private_message("let me in", user_id=USER_ID))
        (reply,) = await env.api.wait_for("sendMessage")
        assert reply.params["text"] == "Извините, это закрытый бот."
        env.api.queue_update(env.api.private_message("/help", user_id=USER_ID))
        env.api.queue_update(env.api.private_message("hello", user_id=42, language_code="en"))
        (final,) = await final_answers(env)
        assert final["text"].startswith("You asked: hello")
        env.api.queue_update(env.api.private_message("an admin", user_id=7, language_code="en"))
        await final_answers(env, 2)  # admins may always use the bot
        texts = [c.params["text"] for c in env.api.calls_to("sendMessage")]
        assert not any("/reset" in text for text in texts)  # the stranger's /help was ignored


async def test_network_errors_are_retried_and_the_answer_still_arrives(echo_bot: BotEnv) -> None:
    echo_bot.api.server_error_next("sendMessage", times=2)
    echo_bot.api.server_error_next("editMessageText", times=1)
    await ask_private(echo_bot, "Through a flaky network")
    # Two failures, then the delivery (a quick answer is one sendMessage: no placeholder to edit).
    *_, delivered = await echo_bot.api.wait_for("sendMessage", 3, timeout=10)
    assert "You asked: Through a flaky network" in delivered.params["text"]


async def test_a_group_keeps_one_conversation_per_group_and_per_topic(echo_bot: BotEnv) -> None:
    seen: list[tuple[str, ...]] = []

    def remember(request: object) -> str:
        seen.append(tuple(m.text for m in request.history))  # type: ignore[attr-defined]
        return f"answer {len(seen)}"

    echo_bot.echo.reply = remember
    api = echo_bot.api
    api.queue_update(api.group_message("@otvet_test_bot first question", user_id=1))
    await final_answers(echo_bot)
    api.queue_update(api.group_message("@otvet_test_bot a follow-up from someone else", user_id=2))
    await final_answers(echo_bot, 2)
    api.queue_update(
        api.group_message("@otvet_test_bot in a topic", user_id=2, message_thread_id=5, is_topic_message=True)
    )
    await final_answers(echo_bot, 3)
    assert seen[1] == ("first question", "answer 1")  # the second member sees the group's conversation
    assert seen[2] == ()  # a forum topic is a conversation of its own


async def test_status_is_for_admins_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.frontends.telegram.conftest import start_bot

    async for env in start_bot(tmp_path, provider="echo", admin_user_ids=[42]):
        env.api.queue_update(env.api.private_message("/status", user_id=USER_ID, language_code="en"))
        env.api.queue_update(env.api.private_message("/status", user_id=42, language_code="en"))
        (status,) = await env.api.wait_for("sendMessage")  # the other user got nothing at all
        assert status.params["text"].startswith("Knowledge version 1 is active:")
        assert "from 10 sources" in status.params["text"]
