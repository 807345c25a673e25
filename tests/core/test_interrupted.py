"""A question whose answer was never stored (its process was killed mid-answer) is not taken as answered: it
stays out of the next prompt and of the widget's history, and housekeeping marks it ``interrupted``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from otvet.core import housekeeping
from otvet.core.app import Otvet
from otvet.core.types import Delta, Final
from tests.core.test_engine import messages_of, turn
from tests.support.providers import MockProvider


async def test_a_question_is_answering_until_its_answer_is_stored_then_ok(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    mock_provider.then("Plans ", "start at $9.")
    stream = otvet.engine.stream(turn("How much is it?"))
    assert isinstance(await anext(stream), Delta)
    user = await otvet.store.get_or_create_user("test", "u1")
    conversation = await otvet.store.current_conversation(user.id, "private")
    assert await messages_of(otvet, conversation.id) == [("user", "How much is it?", "answering")]
    rest = [event async for event in stream]
    assert isinstance(rest[-1], Final)
    assert await messages_of(otvet, conversation.id) == [
        ("user", "How much is it?", "ok"),
        ("assistant", "Plans start at $9.", "ok"),
    ]


async def died_mid_answer(otvet: Otvet, text: str, user: str = "u1") -> tuple[int, int]:
    """What a process killed mid-answer leaves: the question stored, no answer. (conversation, question)"""
    record = await otvet.store.get_or_create_user("test", user)
    conversation = await otvet.store.current_conversation(record.id, "private")
    question = await otvet.store.add_message(
        conversation.id, "user", text, status="answering", user_id=record.id
    )
    return conversation.id, question


async def test_a_question_whose_answer_never_came_stays_out_of_the_next_prompt(
    otvet: Otvet, mock_provider: MockProvider
) -> None:
    await otvet.engine.ask(turn("What is Otvet?"))
    # An answer stopped dead mid-stream, as by a killed process: no cleanup runs, nothing more is stored.
    mock_provider.then("Da, ", "on govorit...", hang=True)
    dead = otvet.engine.stream(turn("Does it speak Russian?"))
    assert isinstance(await anext(dead), Delta)
    await otvet.engine.ask(turn("How do I install it?"))
    history = mock_provider.requests[-1].history
    # Question, answer, and nothing of the question that never got one: no two user turns in a row.
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[0].text == "What is Otvet?"
    await dead.aclose()


async def test_housekeeping_marks_long_unanswered_questions_interrupted_and_a_late_answer_heals_them(
    otvet: Otvet, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation, question = await died_mid_answer(otvet, "Does it speak Russian?")
    await housekeeping.tidy(otvet)
    assert (await messages_of(otvet, conversation))[0][2] == "answering"  # it may still be in progress
    monkeypatch.setattr(housekeeping, "unanswered_after", lambda _otvet: timedelta(seconds=-1))
    await housekeeping.tidy(otvet)
    assert await messages_of(otvet, conversation) == [("user", "Does it speak Russian?", "interrupted")]
    # Only a slow answer could still come: storing it makes the question answered after all.
    await otvet.store.add_message(conversation, "assistant", "Yes.", answers=question)
    assert [m[2] for m in await messages_of(otvet, conversation)] == ["ok", "ok"]


async def test_housekeeping_deletes_conversations_past_their_retention(
    otvet: Otvet, mock_provider: MockProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    await otvet.engine.ask(turn("What is Otvet?"))
    (conversation,) = await otvet.store.list_conversations()
    await housekeeping.tidy(otvet)  # retention off (0): kept for ever
    assert await otvet.store.get_conversation(conversation.id) is not None
    otvet.settings.privacy.conversation_retention_days = 30
    await housekeeping.tidy(otvet)  # a fresh conversation is kept
    assert await otvet.store.get_conversation(conversation.id) is not None
    # Thirty-one days later.
    real = housekeeping.datetime

    class Later(real):  # type: ignore[misc,valid-type]
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real.now(tz) + timedelta(days=31)

    monkeypatch.setattr(housekeeping, "datetime", Later)
    await housekeeping.tidy(otvet)
    assert await otvet.store.get_conversation(conversation.id) is None
    assert await otvet.store.list_conversations() == []
