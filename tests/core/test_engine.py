"""The engine as a frontend sees it: events out, both turns persisted, failures calm and localized."""

from __future__ import annotations

import asyncio
import logging

import pytest

from otvet.core.app import Otvet
from otvet.core.llm import ProviderError
from otvet.core.types import Delta, Failure, Final, Turn, Usage
from tests.support.providers import MockProvider, Script


def turn(text: str, user: str = "u1", **kwargs: object) -> Turn:
    return Turn(channel="test", user_id=user, text=text, **kwargs)  # type: ignore[arg-type]


async def collect(otvet: Otvet, t: Turn) -> list[object]:
    return [event async for event in otvet.engine.stream(t)]


async def messages_of(otvet: Otvet, conversation_id: int) -> list[tuple[str, str, str]]:
    return [(m.role, m.text, m.status) for m in await otvet.store.messages(conversation_id)]


async def test_stream_yields_deltas_then_final_and_persists_both_turns(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    mock_provider.then("Otvet ", "answers.", usage=Usage(prompt_tokens=7, completion_tokens=2))
    events = await collect(otvet, turn("What does Otvet do?"))

    assert [type(e) for e in events] == [Delta, Delta, Final]
    assert [e.text for e in events[:2]] == ["Otvet ", "answers."]  # type: ignore[attr-defined]
    final = events[-1]
    assert isinstance(final, Final)
    assert final.text == "Otvet answers."
    assert final.language == "en"
    assert final.usage.total_tokens == 9
    assert final.provider == "mock"
    stored = await otvet.store.messages(final.conversation_id)  # type: ignore[arg-type]
    assert [(m.role, m.text, m.status) for m in stored] == [
        ("user", "What does Otvet do?", "ok"),
        ("assistant", "Otvet answers.", "ok"),
    ]
    assert stored[1].id == final.message_id
    assert stored[1].latency_ms is not None and stored[1].latency_ms >= 0
    assert stored[1].usage.prompt_tokens == 7


async def test_ask_returns_the_final_event(otvet: Otvet, mock_provider: MockProvider) -> None:
    mock_provider.then("Yes.")
    result = await otvet.engine.ask(turn("Is this a question?"))
    assert isinstance(result, Final) and result.text == "Yes."


async def test_provider_failure_is_a_calm_localized_message_and_the_question_is_kept(
    otvet: Otvet, mock_provider: MockProvider, caplog: pytest.LogCaptureFixture
) -> None:
    mock_provider.fail(ProviderError("upstream exploded: Traceback secret", code="upstream"))
    with caplog.at_level(logging.ERROR):
        events = await collect(otvet, turn("Как добавить обучающие данные?"))
    failure = events[-1]
    assert isinstance(failure, Failure)
    assert failure.language == "ru"
    assert failure.code == "provider_error"
    assert "Traceback" not in failure.message and "upstream" not in failure.message
    assert failure.message == "Извините, сейчас я не могу ответить. Попробуйте ещё раз через минуту."
    assert "upstream exploded" in caplog.text  # the details go to the log
    assert await messages_of(otvet, failure.conversation_id) == [  # type: ignore[arg-type]
        ("user", "Как добавить обучающие данные?", "failed")
    ]


async def test_provider_timeout_ends_in_a_failure_not_a_hang(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    otvet.settings.answer_timeout = 0.2
    mock_provider.queue.append(Script(["..."], hang=True))
    result = await asyncio.wait_for(otvet.engine.ask(turn("Will you hang?")), timeout=5)
    assert isinstance(result, Failure) and result.code == "provider_timeout"
    assert mock_provider.closed_streams == 1  # the upstream stream was closed, not leaked


async def test_a_consumer_leaving_mid_stream_closes_the_provider_and_marks_the_question(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    mock_provider.then("one ", "two ", "three")
    stream = otvet.engine.stream(turn("Tell me a long story"))
    first = await anext(stream)
    assert isinstance(first, Delta)
    await stream.aclose()
    assert mock_provider.closed_streams == 1
    user = await otvet.store.get_or_create_user("test", "u1")
    conversation = await otvet.store.current_conversation(user.id, "private")
    assert await messages_of(otvet, conversation.id) == [("user", "Tell me a long story", "cancelled")]


@pytest.mark.parametrize(
    ("text", "code"),
    [("   ", "empty_question"), ("x" * 4001, "question_too_long")],
)
async def test_bad_questions_are_refused_clearly_without_calling_the_provider(
    otvet: Otvet, mock_provider: MockProvider, text: str, code: str
) -> None:
    result = await otvet.engine.ask(turn(text))
    assert isinstance(result, Failure) and result.code == code
    assert result.message
    assert mock_provider.requests == []


async def test_text_no_database_can_store_is_made_storable_and_answered(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    """A NUL (PostgreSQL refuses it) is dropped and a lone surrogate (UTF-8 cannot encode it: a terminal that
    is not UTF-8 hands its bytes over so) is shown as U+FFFD, in the text and the ids alike, on both
    databases. Before, the turn failed as an internal error when it was first stored."""
    mock_provider.then("Answered.")
    odd = turn("Caf\udce9 \x00open?", user="u\x00\udcff", display_name="Ren\udce9e", chat_id="c\ud800")
    final = await otvet.engine.ask(odd)
    assert isinstance(final, Final) and final.text == "Answered."
    assert mock_provider.requests[0].question == "Caf\ufffd open?"
    assert await messages_of(otvet, final.conversation_id) == [
        ("user", "Caf\ufffd open?", "ok"),
        ("assistant", "Answered.", "ok"),
    ]
    summary = await otvet.store.get_conversation(final.conversation_id)  # type: ignore[arg-type]
    assert summary is not None
    assert (summary.external_id, summary.display_name, summary.chat_id) == (
        "u\ufffd",
        "Ren\ufffde",
        "c\ufffd",
    )


async def test_a_too_long_question_is_refused_in_its_own_language(otvet: Otvet) -> None:
    result = await otvet.engine.ask(turn("Очень длинный вопрос. " * 300))
    assert isinstance(result, Failure) and result.language == "ru"
    assert result.message.startswith("Сообщение слишком длинное (больше 4000 символов)")


async def test_a_too_long_message_with_no_language_of_its_own_is_refused_in_the_users(otvet: Otvet) -> None:
    """4,096 times "x" says nothing reliable about its language; the client's (Telegram's language_code)
    does."""
    result = await otvet.engine.ask(turn("x" * 4096, locale_hint="ru"))
    assert isinstance(result, Failure) and result.code == "question_too_long" and result.language == "ru"
    assert result.message.startswith("Сообщение слишком длинное")


async def test_the_provider_gets_the_question_as_the_index_matched_it(
    otvet: Otvet, mock_provider: MockProvider, tmp_path
) -> None:
    """Retrieval reads a question without the markup pasted with it, corrects its typos and matches the
    other alphabet's spelling; the provider gets those terms and the index's own relevance threshold."""
    from otvet.core.ingest import ingest_paths

    doc = tmp_path / "bots.md"
    doc.write_text("# Telegram\n\nA bot token comes from BotFather in Telegram.\n", encoding="utf-8")
    await ingest_paths(otvet, [doc], base=tmp_path)
    mock_provider.then("From BotFather [1].", cited=(0,))
    await otvet.engine.ask(turn("<b>where is the bot tokken for телеграм</b>"))
    request = mock_provider.requests[-1]
    assert request.passages and "BotFather" in request.passages[0].text
    sought = {term.term: term.forms for term in request.sought}
    assert sought["tokken"] == ("token",) and sought["телегр"] == ("telegram",)  # stemmed: "телегр"
    assert "b" not in sought and request.min_relevance == (await otvet.knowledge.index()).min_relevance


async def test_language_follows_the_message_then_the_explicit_choice(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    await otvet.engine.ask(turn("Привет, как дела?", locale_hint="en-US"))
    await otvet.engine.ask(turn("Hello there", locale_hint="ru"))
    assert [r.language for r in mock_provider.requests] == ["ru", "en"]

    await otvet.engine.set_language("test", "u1", "ru")
    await otvet.engine.ask(turn("Hello there"))
    assert mock_provider.requests[-1].language == "ru"
    assert mock_provider.requests[-1].translator.language == "ru"

    # With no letters to go on, the client's hint decides.
    await otvet.engine.set_language("test", "u1", None)
    await otvet.engine.ask(turn("42?", locale_hint="ru-RU,ru;q=0.9,en;q=0.8"))
    assert mock_provider.requests[-1].language == "ru"


async def test_unknown_language_choice_is_refused(otvet: Otvet) -> None:
    with pytest.raises(ValueError, match="available: en, ru"):
        await otvet.engine.set_language("test", "u1", "xx")


async def test_history_window_is_bounded_and_excludes_failed_turns(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    otvet.settings.history.max_messages = 4
    for n in range(4):
        mock_provider.then(f"answer {n}")
        await otvet.engine.ask(turn(f"question {n}"))
    mock_provider.fail()
    await otvet.engine.ask(turn("question that fails"))
    mock_provider.then("last")
    await otvet.engine.ask(turn("question 5"))

    history = mock_provider.requests[-1].history
    assert [(m.role, m.text) for m in history] == [
        ("user", "question 2"),
        ("assistant", "answer 2"),
        ("user", "question 3"),
        ("assistant", "answer 3"),
    ]

    # A tight token budget keeps only the newest messages that fit.
    otvet.settings.history.max_tokens = 3
    await otvet.engine.ask(turn("question 6"))
    assert [m.text for m in mock_provider.requests[-1].history] == ["last"]


async def test_reset_starts_a_new_conversation_without_history(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    first = await otvet.engine.ask(turn("remember me"))
    assert await otvet.engine.reset("test", "u1") is True
    second = await otvet.engine.ask(turn("do you remember?"))
    assert isinstance(first, Final) and isinstance(second, Final)
    assert first.conversation_id != second.conversation_id
    assert mock_provider.requests[-1].history == ()


async def test_conversations_are_separate_per_user_and_per_chat(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    await otvet.engine.ask(turn("private question", user="alice"))
    await otvet.engine.ask(turn("group question", user="alice", chat_id="group-1"))
    await otvet.engine.ask(turn("bob's question", user="bob", chat_id="group-1"))
    assert [m.text for m in mock_provider.requests[1].history] == []
    assert [m.text for m in mock_provider.requests[2].history] == []


async def test_passages_from_the_active_version_reach_the_provider_and_cited_sources_come_back(
    otvet: Otvet, mock_provider: MockProvider, tmp_path
) -> None:
    from otvet.core.ingest import ingest_paths

    doc = tmp_path / "bots.md"
    doc.write_text("# Bots\n\nA bot token comes from BotFather in Telegram.\n", encoding="utf-8")
    other = tmp_path / "cats.md"
    other.write_text("# Cats\n\nCats sleep most of the day.\n", encoding="utf-8")
    await ingest_paths(otvet, [doc, other], base=tmp_path)

    mock_provider.then("From BotFather [1].", cited=(0,))
    result = await otvet.engine.ask(turn("Where does the bot token come from?"))
    request = mock_provider.requests[-1]
    assert request.passages and "BotFather" in request.passages[0].text
    assert isinstance(result, Final)
    assert [s.title for s in result.sources] == ["Bots"]
    stored = await otvet.store.messages(result.conversation_id)  # type: ignore[arg-type]
    assert [s.title for s in stored[-1].sources] == ["Bots"]


async def test_ungrounded_answers_carry_no_sources(otvet: Otvet, mock_provider: MockProvider) -> None:
    mock_provider.then("I don't know.", grounded=False)
    result = await otvet.engine.ask(turn("What is the meaning of life?"))
    assert isinstance(result, Final) and result.sources == () and result.grounded is False


async def test_a_provider_that_says_nothing_is_a_failure(otvet: Otvet, mock_provider: MockProvider) -> None:
    mock_provider.then("  ")
    result = await otvet.engine.ask(turn("Anything?"))
    assert isinstance(result, Failure) and result.code == "provider_error"


async def test_a_retrieval_failure_is_an_internal_error_with_the_question_kept(
    otvet: Otvet, mock_provider: MockProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_search(query: str, k: int) -> list[object]:
        raise RuntimeError("index file is corrupt")

    monkeypatch.setattr(otvet.knowledge, "search", broken_search)
    result = await otvet.engine.ask(turn("Where is my index?"))
    assert isinstance(result, Failure) and result.code == "internal_error"
    assert result.message == "Sorry, I could not answer right now. Please try again in a minute."
    assert mock_provider.requests == []
    assert await messages_of(otvet, result.conversation_id) == [  # type: ignore[arg-type]
        ("user", "Where is my index?", "failed")
    ]


async def test_language_for_replies_follows_the_choice_then_the_hint(otvet: Otvet) -> None:
    assert await otvet.engine.language_for("test", "u9", "ru-RU") == "ru"
    assert await otvet.engine.language_for("test", "u9", None) == "en"
    await otvet.engine.set_language("test", "u9", "ru")
    assert await otvet.engine.language_for("test", "u9", "en") == "ru"


# --- a stalled or broken model ----------------------------------------------------------------------------


async def test_a_model_silent_before_its_first_word_gets_the_fallback_after_seconds_not_the_deadline(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    otvet.settings.fallback_provider = "extractive"
    otvet.settings.first_token_timeout = 0.1
    mock_provider.queue.append(Script([], hang=True))
    # The whole answer may take a minute; a model that says nothing is given up long before.
    result = await asyncio.wait_for(otvet.engine.ask(turn("Will you hang?")), timeout=10)
    assert isinstance(result, Final) and result.fallback and result.provider == "extractive"
    assert mock_provider.closed_streams == 1


async def test_a_model_stalling_half_way_is_replaced_by_the_fallback_when_nobody_saw_the_half(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    otvet.settings.fallback_provider = "extractive"
    otvet.settings.between_tokens_timeout = 0.1
    mock_provider.queue.append(Script(["The first half "], hang=True))
    result = await asyncio.wait_for(otvet.engine.ask(turn("Half an answer?")), timeout=10)
    assert isinstance(result, Final) and result.fallback and "The first half" not in result.text
    # The same with an error half way: GraphQL's ask and a non-streaming /v1 never showed the half.
    mock_provider.fail(ProviderError("stream dropped", code="upstream"), "The first half ")
    result = await otvet.engine.ask(turn("Half an answer?"))
    assert isinstance(result, Final) and result.fallback


@pytest.mark.parametrize("stall", [True, False])
async def test_a_streamed_answer_cut_short_ends_with_a_note_and_is_kept(
    otvet: Otvet, mock_provider: MockProvider, stall: bool
) -> None:
    otvet.settings.fallback_provider = "extractive"
    otvet.settings.between_tokens_timeout = 0.1
    if stall:
        mock_provider.queue.append(Script(["Connect it ", "with BotFather"], hang=True))
    else:
        mock_provider.fail(ProviderError("stream dropped", code="upstream"), "Connect it ", "with BotFather")
    events = await asyncio.wait_for(collect(otvet, turn("Как подключить Telegram?")), timeout=10)
    final = events[-1]
    assert isinstance(final, Final) and not final.fallback
    note = "(Ответ оборвался: ИИ-модель перестала отвечать. Пожалуйста, спросите ещё раз.)"
    assert final.text == f"Connect it with BotFather\n\n{note}"
    assert "".join(e.text for e in events if isinstance(e, Delta)) == final.text  # the user saw it all
    # Stored without the note: the next prompt's history holds what the model said.
    stored = await messages_of(otvet, final.conversation_id)  # type: ignore[arg-type]
    assert stored[-1] == ("assistant", "Connect it with BotFather", "ok")


async def test_every_finished_turn_is_counted_in_the_days_activity(
    otvet: Otvet, mock_provider: MockProvider, tmp_path
) -> None:
    from datetime import UTC, datetime

    from otvet.core.ingest import ingest_paths

    doc = tmp_path / "bots.md"
    doc.write_text("# Bots\n\nA bot token comes from BotFather in Telegram.\n", encoding="utf-8")
    await ingest_paths(otvet, [doc], base=tmp_path)
    mock_provider.model = "mock-1"
    mock_provider.then("From BotFather [1].", cited=(0,), usage=Usage(prompt_tokens=50, completion_tokens=5))
    mock_provider.then("I don't know.", grounded=False)
    mock_provider.fail()
    await otvet.engine.ask(turn("Where does the bot token come from?"))
    await otvet.engine.ask(turn("What is the meaning of life?"))
    await otvet.engine.ask(turn("And now?"))
    await otvet.engine.ask(turn("   "))  # refused before any provider: not a question at all

    today = datetime.now(UTC).date()
    report = await otvet.store.activity(today, today)
    counts = [
        (r.channel, r.provider, r.model, r.answered, r.unknown, r.failed, r.refused) for r in report.rows
    ]
    assert counts == [("test", "", "", 0, 0, 1, 1), ("test", "mock", "mock-1", 1, 1, 0, 0)]
    assert report.rows[1].prompt_tokens > 50  # 50 reported, plus the estimate for the answer without usage
    assert sum(t.count for t in report.latency) == 2  # the two answers; failures have no answer time
