"""The storage contract as tests: what the engine, quotas, reports and the API rely on from a backend's
conversations, usage and feedback roles (core/store.py), checked through the roles' methods alone.

A backend's own test suite subclasses the classes for the roles it serves and gives them a ``store``
fixture yielding a connected backend with nothing stored (pytest, with pytest-asyncio's auto mode)::

    from otvet.testing.storage_contract import ConversationContract, UsageContract

    class TestMyStore(ConversationContract, UsageContract):
        @pytest.fixture
        async def store(self):
            backend = MyStore()
            await backend.connect()
            yield backend
            await backend.close()

Otvet runs the same classes against its own Tortoise backend on SQLite and PostgreSQL
(tests/plugins/test_storage_contract.py), so a difference between backends shows as a failing test on one
side.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from otvet.core.store import ActivityReport, NotFound, TurnActivity
from otvet.core.types import HistoryMessage, SourceRef, Usage

Store = Any  # a backend serving the role under test; its protocol is in otvet.core.store


def _hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def _in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


async def _turn(store: Store, external_id: str = "42", chat_id: str = "private") -> tuple[int, int]:
    user = await store.get_or_create_user("telegram", external_id)
    conversation = await store.current_conversation(user.id, chat_id)
    return user.id, conversation.id


async def _later_message(store: Store, conversation_id: int, after: datetime) -> None:
    """A message stored after ``after`` (a moment within a couple of seconds from now)."""
    await asyncio.sleep(max(0.0, (after - datetime.now(UTC)).total_seconds()) + 0.05)
    await store.add_message(conversation_id, "user", "a message after the cut-off")


class ConversationContract:
    """Users, conversations and messages (the ``conversations`` role)."""

    async def test_a_user_is_found_again_by_channel_and_id(self, store: Store) -> None:
        created = await store.get_or_create_user("telegram", "42", "Ann")
        again = await store.get_or_create_user("telegram", "42")
        renamed = await store.get_or_create_user("telegram", "42", "Anna")
        other_channel = await store.get_or_create_user("graphql", "42")
        assert created == again == renamed
        assert (created.channel, created.external_id, created.language) == ("telegram", "42", None)
        assert other_channel.id != created.id
        conversation = await store.current_conversation(created.id, "private")
        summary = await store.get_conversation(conversation.id)
        assert summary is not None and summary.display_name == "Anna"  # the newest name is kept

    async def test_first_messages_at_once_create_one_user(self, store: Store) -> None:
        users = await asyncio.gather(*(store.get_or_create_user("telegram", "7") for _ in range(8)))
        assert len({user.id for user in users}) == 1

    async def test_a_chosen_language_is_kept_and_can_be_cleared(self, store: Store) -> None:
        user = await store.get_or_create_user("telegram", "42")
        await store.set_user_language(user.id, "ru")
        assert (await store.get_or_create_user("telegram", "42")).language == "ru"
        await store.set_user_language(user.id, None)
        assert (await store.get_or_create_user("telegram", "42")).language is None

    async def test_a_chat_keeps_its_conversation_until_reset(self, store: Store) -> None:
        user = await store.get_or_create_user("telegram", "42")
        first = await store.current_conversation(user.id, "private")
        assert await store.current_conversation(user.id, "private") == first
        assert (first.user_id, first.chat_id) == (user.id, "private")
        group = await store.current_conversation(user.id, "group-1")
        assert group.id != first.id
        assert await store.reset_conversation(user.id, "private") is True
        assert await store.reset_conversation(user.id, "private") is False  # nothing open any more
        fresh = await store.current_conversation(user.id, "private")
        assert fresh.id not in (first.id, group.id)
        assert await store.current_conversation(user.id, "group-1") == group
        assert await store.reset_conversation(user.id, "never-used") is False

    async def test_first_turns_at_once_share_one_conversation(self, store: Store) -> None:
        user = await store.get_or_create_user("telegram", "42")
        opened = await asyncio.gather(*(store.current_conversation(user.id, "private") for _ in range(8)))
        assert len({conversation.id for conversation in opened}) == 1

    async def test_messages_keep_every_field_in_order(self, store: Store) -> None:
        user_id, conversation_id = await _turn(store)
        question = await store.add_message(
            conversation_id, "user", "Когда вы открыты?", language="ru", user_id=user_id, audio_seconds=4
        )
        sources = (SourceRef("FAQ", source_id=3, chunk_id=9, section="Часы работы"), SourceRef("Guide"))
        answer = await store.add_message(
            conversation_id,
            "assistant",
            "С 9 до 18.",
            language="ru",
            sources=sources,
            latency_ms=120,
            usage=Usage(prompt_tokens=50, completion_tokens=7),
            provider="extractive",
            user_id=user_id,
        )
        assert answer > question  # paging by id relies on ids growing
        asked, answered = await store.messages(conversation_id)
        assert (asked.id, answered.id) == (question, answer)
        assert (asked.role, asked.text, asked.language, asked.status) == (
            "user",
            "Когда вы открыты?",
            "ru",
            "ok",
        )
        assert (asked.sources, asked.usage, asked.latency_ms, asked.provider) == ((), Usage(), None, None)
        assert (asked.audio_seconds, answered.audio_seconds) == (4, 0)  # a voice question, a typed answer
        assert (answered.sources, answered.usage) == (sources, Usage(prompt_tokens=50, completion_tokens=7))
        assert (answered.latency_ms, answered.provider, answered.user_id) == (120, "extractive", user_id)
        assert answered.conversation_id == conversation_id
        assert answered.created_at.tzinfo is not None
        assert await store.get_message(answer) == answered
        assert await store.get_message(answer + 1000) is None
        await store.set_message_status(question, "cancelled")
        assert (await store.messages(conversation_id))[0].status == "cancelled"

    async def test_an_answer_marks_its_question_answered(self, store: Store) -> None:
        user_id, conversation_id = await _turn(store)
        question = await store.add_message(conversation_id, "user", "q", status="answering", user_id=user_id)
        assert await store.history(conversation_id, 10) == []  # an unanswered question enters no prompt
        await store.add_message(conversation_id, "assistant", "a", user_id=user_id, answers=question)
        assert [m.status for m in await store.messages(conversation_id)] == ["ok", "ok"]
        assert await store.history(conversation_id, 10) == [
            HistoryMessage("user", "q"),
            HistoryMessage("assistant", "a"),
        ]

    async def test_history_is_the_newest_answered_messages_oldest_first(self, store: Store) -> None:
        user = await store.get_or_create_user("telegram", "42")
        conversation = await store.current_conversation(user.id, "private")
        other = await store.current_conversation(user.id, "elsewhere")
        await store.add_message(other.id, "user", "not this conversation")
        ids = {}
        for role, text, status in [
            ("user", "q1", "ok"),
            ("assistant", "a1", "ok"),
            ("user", "q2", "failed"),
            ("user", "q3", "ok"),
            ("assistant", "a3", "ok"),
            ("user", "q4", "ok"),
        ]:
            ids[text] = await store.add_message(conversation.id, role, text, status=status)
        await store.set_message_status(ids["q4"], "cancelled")
        newest = [HistoryMessage("user", "q3"), HistoryMessage("assistant", "a3")]
        assert await store.history(conversation.id, 10) == [
            HistoryMessage("user", "q1"),
            HistoryMessage("assistant", "a1"),
            *newest,
        ]
        assert await store.history(conversation.id, 2) == newest
        assert await store.history(conversation.id, 0) == []

    async def test_a_reset_starts_an_empty_history(self, store: Store) -> None:
        user_id, old = await _turn(store)
        await store.add_message(old, "user", "hello")
        await store.reset_conversation(user_id, "private")
        new = (await store.current_conversation(user_id, "private")).id
        assert await store.history(new, 10) == []
        assert await store.history(old, 10) == [HistoryMessage("user", "hello")]

    async def test_questions_left_answering_are_interrupted(self, store: Store) -> None:
        _, conversation_id = await _turn(store)
        stale = await store.add_message(conversation_id, "user", "q", status="answering")
        done = await store.add_message(conversation_id, "user", "q2")
        assert await store.interrupt_unanswered(_hour_ago()) == 0  # asked after the cut-off
        assert await store.interrupt_unanswered(_in_an_hour()) == 1
        statuses = {m.id: m.status for m in await store.messages(conversation_id)}
        assert statuses == {stale: "interrupted", done: "ok"}
        # A late answer still counts.
        await store.add_message(conversation_id, "assistant", "a", answers=stale)
        assert (await store.get_message(stale)).status == "ok"

    async def test_conversations_are_listed_newest_first_with_their_owner(self, store: Store) -> None:
        ann = await store.get_or_create_user("telegram", "1", "Ann")
        bob = await store.get_or_create_user("graphql", "2")
        first = await store.current_conversation(ann.id, "private")
        second = await store.current_conversation(bob.id, "api")
        third = await store.current_conversation(ann.id, "group")

        listed = await store.list_conversations()
        assert [c.id for c in listed] == [third.id, second.id, first.id]
        summary = await store.get_conversation(first.id)
        assert summary == listed[-1]
        assert (summary.chat_id, summary.user_id, summary.channel) == ("private", ann.id, "telegram")
        assert (summary.external_id, summary.display_name, summary.closed_at) == ("1", "Ann", None)
        assert summary.started_at.tzinfo is not None
        assert await store.get_conversation(third.id + 1000) is None

        async def ids(**filters: Any) -> list[int]:
            return [c.id for c in await store.list_conversations(**filters)]

        assert await ids(channel="telegram") == [third.id, first.id]
        assert await ids(user_id=bob.id) == [second.id]
        assert await ids(external_id="1") == [third.id, first.id]
        assert await ids(before_id=third.id, limit=1) == [second.id]
        assert await ids(since=_hour_ago(), until=_in_an_hour()) == [third.id, second.id, first.id]
        assert await ids(since=_in_an_hour()) == []
        assert await ids(until=_hour_ago()) == []
        assert await ids(channel="nowhere") == []

        await store.reset_conversation(ann.id, "private")
        closed = await store.get_conversation(first.id)
        assert closed is not None and closed.closed_at is not None

    async def test_conversations_past_their_retention_are_forgotten(self, store: Store) -> None:
        user_id, quiet = await _turn(store, "1")
        question = await store.add_message(quiet, "user", "old question", user_id=user_id)
        _, busy = await _turn(store, "2")
        await store.add_message(busy, "user", "recent question")
        assert await store.forget_conversations(_hour_ago()) == 0  # both started within the hour
        cutoff = datetime.now(UTC) + timedelta(seconds=1)
        # Everything started before the cut-off; only the one with a message after it stays.
        await _later_message(store, busy, cutoff)
        assert await store.forget_conversations(cutoff) == 1
        assert await store.get_conversation(quiet) is None and await store.get_message(question) is None
        assert await store.get_conversation(busy) is not None
        fresh = await store.current_conversation(user_id, "private")  # the chat starts over
        assert fresh.id != quiet

    async def test_messages_are_paged_by_id(self, store: Store) -> None:
        _, conversation_id = await _turn(store)
        ids = [await store.add_message(conversation_id, "user", f"q{i}") for i in range(5)]
        page = await store.message_page(conversation_id, limit=2)
        assert [m.id for m in page] == ids[:2]
        rest = await store.message_page(conversation_id, after_id=page[-1].id)
        assert [m.id for m in rest] == ids[2:]
        assert await store.message_page(conversation_id, after_id=ids[-1]) == []

    async def test_conversations_are_found_by_the_text_of_their_messages(self, store: Store) -> None:
        _, refunds = await _turn(store, "1")
        _, parking = await _turn(store, "2")
        _, russian = await _turn(store, "3")
        await store.add_message(refunds, "user", "How long do REFUNDS take?")
        await store.add_message(refunds, "assistant", "Five days, 100% sure_ish.")
        await store.add_message(parking, "user", "Where do guests park?")
        await store.add_message(russian, "user", "Возврат денег занимает неделю?")

        async def found(text: str, **filters: Any) -> list[int]:
            return [c.id for c in await store.list_conversations(text=text, **filters)]

        assert await found("refunds") == [refunds]
        assert await found("GUESTS Park") == [parking]
        assert await found("do") == [parking, refunds]  # each once, however many messages match
        assert await found("do", limit=1) == [parking]
        assert await found("do", before_id=parking) == [refunds]
        assert await found("возврат") == [russian]
        assert await found("денег") == [russian]
        # `%` and `_` are characters like any other, not wildcards.
        assert await found("100%") == [refunds]
        assert await found("e_i") == [refunds]
        assert await found("five%days") == []
        assert await found("f_ve") == []
        assert await found("nowhere") == []
        assert await found("do", channel="graphql") == []


class UsageContract:
    """Counts for quotas and usage reports (the ``usage`` role), over what the conversations role stored."""

    async def test_questions_are_counted_per_user_without_refusals(self, store: Store) -> None:
        ann, conversation_id = await _turn(store, "1")
        bob, bobs = await _turn(store, "2")
        for status in ("ok", "answering", "failed", "rejected"):
            await store.add_message(conversation_id, "user", status, status=status, user_id=ann)
        await store.add_message(conversation_id, "assistant", "an answer", user_id=ann)
        await store.add_message(bobs, "user", "q", user_id=bob)

        assert await store.count_questions(_hour_ago(), ann) == 3  # a quota refusal does not count
        assert await store.count_questions(_hour_ago(), bob) == 1
        assert await store.count_questions(_hour_ago()) == 4
        assert await store.count_questions(_in_an_hour()) == 0

    async def test_the_nth_question_time(self, store: Store) -> None:
        user_id, conversation_id = await _turn(store)
        for i in range(3):
            await store.add_message(conversation_id, "user", f"q{i}", user_id=user_id)
        times = [m.created_at for m in await store.messages(conversation_id)]
        assert await store.nth_question_time(_hour_ago(), 0, user_id) == times[0]
        assert await store.nth_question_time(_hour_ago(), 2) == times[2]
        assert await store.nth_question_time(_hour_ago(), 3, user_id) is None
        with pytest.raises(ValueError, match="-1"):
            await store.nth_question_time(_hour_ago(), -1)

    async def test_tokens_are_summed_per_user(self, store: Store) -> None:
        ann, conversation_id = await _turn(store, "1")
        bob, bobs = await _turn(store, "2")
        await store.add_message(conversation_id, "user", "q", user_id=ann)
        await store.add_message(conversation_id, "assistant", "a", usage=Usage(30, 5), user_id=ann)
        await store.add_message(bobs, "assistant", "a", usage=Usage(7, 1), user_id=bob)
        assert await store.tokens_used(_hour_ago(), ann) == 35
        assert await store.tokens_used(_hour_ago()) == 43
        assert await store.tokens_used(_in_an_hour()) == 0

    async def test_audio_seconds_are_summed_per_user_whatever_became_of_the_question(
        self, store: Store
    ) -> None:
        ann, conversation_id = await _turn(store, "1")
        bob, bobs = await _turn(store, "2")
        for seconds, status in ((12, "ok"), (30, "rejected"), (5, "failed")):
            await store.add_message(
                conversation_id, "user", "q", status=status, user_id=ann, audio_seconds=seconds
            )
        await store.add_message(conversation_id, "user", "typed", user_id=ann)
        await store.add_message(conversation_id, "assistant", "a", usage=Usage(30, 5), user_id=ann)
        await store.add_message(bobs, "user", "q", user_id=bob, audio_seconds=7)
        assert await store.audio_seconds_used(_hour_ago(), ann) == 47  # transcribed, even when refused
        assert await store.audio_seconds_used(_hour_ago(), bob) == 7
        assert await store.audio_seconds_used(_in_an_hour(), ann) == 0
        nobody = await store.get_or_create_user("telegram", "3")
        assert await store.audio_seconds_used(_hour_ago(), nobody.id) == 0

    async def test_usage_reports_by_user_day_and_provider(self, store: Store) -> None:
        ann = await store.get_or_create_user("telegram", "1", "Ann")
        bob = await store.get_or_create_user("graphql", "2")
        annc = (await store.current_conversation(ann.id, "private")).id
        bobc = (await store.current_conversation(bob.id, "api")).id
        await store.add_message(annc, "user", "q", user_id=ann.id)
        await store.add_message(annc, "assistant", "a", usage=Usage(30, 5), provider="openai", user_id=ann.id)
        await store.add_message(annc, "user", "q2", status="failed", user_id=ann.id)
        await store.add_message(bobc, "user", "q", status="rejected", user_id=bob.id)
        await store.add_message(bobc, "user", "q2", user_id=bob.id)
        await store.add_message(
            bobc, "assistant", "a", usage=Usage(1, 1), provider="extractive", user_id=bob.id
        )

        by_user = await store.usage_report(_hour_ago(), _in_an_hour(), "user")
        assert [(r.key, r.label) for r in by_user] == [
            (str(ann.id), "telegram:1 (Ann)"),
            (str(bob.id), "graphql:2"),
        ]
        ann_row, bob_row = by_user
        assert (ann_row.questions, ann_row.answers, ann_row.failed, ann_row.rejected) == (2, 1, 1, 0)
        assert (ann_row.prompt_tokens, ann_row.completion_tokens, ann_row.total_tokens) == (30, 5, 35)
        assert (bob_row.questions, bob_row.answers, bob_row.failed, bob_row.rejected) == (1, 1, 0, 1)

        (day,) = await store.usage_report(_hour_ago(), _in_an_hour(), "day")
        today = (await store.messages(annc))[0].created_at.astimezone(UTC).date().isoformat()
        assert (day.key, day.label, day.questions, day.answers, day.total_tokens) == (today, today, 3, 2, 37)

        by_provider = await store.usage_report(_hour_ago(), _in_an_hour(), "provider")
        assert [(r.key, r.answers, r.total_tokens) for r in by_provider] == [
            ("", 0, 0),
            ("extractive", 1, 2),
            ("openai", 1, 35),
        ]
        assert await store.usage_report(_in_an_hour(), _in_an_hour() + timedelta(days=1), "user") == []

    async def test_activity_counts_turns_by_day_channel_and_model(self, store: Store) -> None:
        monday = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
        tuesday = monday + timedelta(hours=1)  # 00:30 UTC the next day
        turns = [
            TurnActivity(monday, "telegram", "answered", "openai", "gpt-4o-mini", 1200, 300, 40),
            TurnActivity(monday, "telegram", "answered", "openai", "gpt-4o-mini", 1300, 200, 60),
            TurnActivity(monday, "telegram", "unknown", "extractive", "", 15, 0, 0),
            TurnActivity(monday, "graphql", "failed"),
            TurnActivity(tuesday, "telegram", "refused"),
            # A voice message's transcription: seconds of audio on the transcriber's row, and no question.
            TurnActivity(monday, "telegram", None, "openai", "whisper-1", audio_seconds=42),
            TurnActivity(monday, "telegram", None, "openai", "whisper-1", audio_seconds=8),
            # In another time zone, but on Tuesday in UTC.
            TurnActivity(
                datetime(2026, 3, 2, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
                "graphql",
                "answered",
                "openai",
                "gpt-4o-mini",
                800,
                100,
                10,
            ),
        ]
        await asyncio.gather(*(store.record_activity(turn) for turn in turns))
        both = await store.activity(date(2026, 3, 2), date(2026, 3, 3))
        assert [(r.day, r.channel, r.provider, r.model, r.questions) for r in both.rows] == [
            ("2026-03-02", "graphql", "", "", 1),
            ("2026-03-02", "telegram", "extractive", "", 1),
            ("2026-03-02", "telegram", "openai", "gpt-4o-mini", 2),
            ("2026-03-02", "telegram", "openai", "whisper-1", 0),
            ("2026-03-03", "graphql", "openai", "gpt-4o-mini", 1),
            ("2026-03-03", "telegram", "", "", 1),
        ]
        graphql, extractive, openai, whisper, tuesdays_answer, refusal = both.rows
        assert (graphql.failed, extractive.unknown, openai.answered, refusal.refused) == (1, 1, 2, 1)
        assert (openai.prompt_tokens, openai.completion_tokens) == (500, 100)
        assert (whisper.audio_seconds, openai.audio_seconds, whisper.prompt_tokens) == (50, 0, 0)
        assert tuesdays_answer.answered == 1
        assert [(t.day, t.channel, t.bucket_ms, t.count) for t in both.latency] == [
            ("2026-03-02", "telegram", 15, 1),
            ("2026-03-02", "telegram", 1200, 1),
            ("2026-03-02", "telegram", 1500, 1),
            ("2026-03-03", "graphql", 820, 1),
        ]
        monday_only = await store.activity(date(2026, 3, 2), date(2026, 3, 2))
        assert sum(r.questions for r in monday_only.rows) == 4
        assert await store.activity(date(2026, 3, 4), date(2026, 3, 9)) == ActivityReport([], [])

    async def test_activity_loses_no_turn_counted_at_once(self, store: Store) -> None:
        now = datetime.now(UTC)
        turn = TurnActivity(now, "web", "answered", "openai", "m", 100, 1, 1)
        await asyncio.gather(*(store.record_activity(turn) for _ in range(40)))
        (row,) = (await store.activity(now.date(), now.date())).rows
        assert (row.answered, row.prompt_tokens) == (40, 40)
        assert sum(t.count for t in (await store.activity(now.date(), now.date())).latency) == 40


class FeedbackContract:
    """Users' ratings of answers (the ``feedback`` role)."""

    async def test_a_rating_replaces_the_same_users_earlier_one(self, store: Store) -> None:
        user_id, conversation_id = await _turn(store, "1")
        other, _ = await _turn(store, "2")
        message = await store.add_message(conversation_id, "assistant", "answer")
        first = await store.add_feedback(message, user_id, 1)
        assert await store.add_feedback(message, user_id, -1, "wrong hours") == first
        second = await store.add_feedback(message, other, 1)
        assert second != first
        ratings = await store.list_feedback()
        assert [(r.id, r.user_id, r.value, r.comment) for r in ratings] == [
            (second, other, 1, ""),
            (first, user_id, -1, "wrong hours"),
        ]
        assert (ratings[1].message_id, ratings[1].conversation_id) == (message, conversation_id)
        assert (ratings[1].channel, ratings[1].external_id) == ("telegram", "1")
        assert ratings[1].created_at.tzinfo is not None
        with pytest.raises(ValueError, match="-1 or"):
            await store.add_feedback(message, user_id, 5)
        with pytest.raises(NotFound, match="message"):
            await store.add_feedback(message + 1000, user_id, 1)

    async def test_ratings_are_filtered_and_paged(self, store: Store) -> None:
        user_id, conversation_id = await _turn(store, "1")
        _, elsewhere = await _turn(store, "1", "group")
        here = await store.add_message(conversation_id, "assistant", "a")
        there = await store.add_message(elsewhere, "assistant", "b")
        up = await store.add_feedback(here, user_id, 1)
        down = await store.add_feedback(there, user_id, -1)

        async def ids(**filters: Any) -> list[int]:
            return [r.id for r in await store.list_feedback(**filters)]

        assert await ids() == [down, up]
        assert await ids(value=1) == [up]
        assert await ids(conversation_id=elsewhere) == [down]
        assert await ids(before_id=down) == [up]
        assert await ids(limit=1) == [down]
        assert await ids(since=_in_an_hour()) == []
        assert await ids(since=_hour_ago(), until=_in_an_hour()) == [down, up]

    async def test_conversations_are_found_by_the_rating_of_their_answers(self, store: Store) -> None:
        """A filter of the conversations role that reads the ratings: a backend serving both offers it."""
        rater, liked = await _turn(store, "1")
        other, disliked = await _turn(store, "2")
        _, mixed = await _turn(store, "3")
        _, unrated = await _turn(store, "4")
        await store.add_message(unrated, "assistant", "nobody rated this")
        for conversation_id, value in ((liked, 1), (disliked, -1), (mixed, 1), (mixed, -1)):
            answer = await store.add_message(conversation_id, "assistant", "an answer")
            await store.add_feedback(answer, rater, value)
        changed = await store.add_message(unrated, "assistant", "liked, then disliked")
        await store.add_feedback(changed, other, 1)
        await store.add_feedback(changed, other, -1)

        async def ids(**filters: Any) -> list[int]:
            return [c.id for c in await store.list_conversations(**filters)]

        assert await ids(rating=1) == [mixed, liked]
        assert await ids(rating=-1) == [unrated, mixed, disliked]
        assert await ids(rating=-1, limit=2) == [unrated, mixed]
        assert await ids(rating=1, external_id="3") == [mixed]
        for wrong in (0, 2, -5):
            with pytest.raises(ValueError, match="1 or -1"):
                await store.list_conversations(rating=wrong)

    async def test_ratings_count_in_the_activity_as_they_change(self, store: Store) -> None:
        """Ratings show in the usage role's ``activity``: a backend serving both counts them there."""
        user_id, conversation_id = await _turn(store, "1")
        other, _ = await _turn(store, "2")
        first = await store.add_message(conversation_id, "assistant", "answer")
        second = await store.add_message(conversation_id, "assistant", "another answer")
        await store.add_feedback(first, user_id, 1)
        await store.add_feedback(first, user_id, -1)  # changed its mind: one 👎, no 👍
        await store.add_feedback(first, user_id, -1)  # the same again changes nothing
        await store.add_feedback(first, other, 1)
        await store.add_feedback(second, other, 1)
        today = datetime.now(UTC).date()
        rows = (await store.activity(today - timedelta(days=1), today)).rows
        assert [(r.channel, r.provider, r.thumbs_up, r.thumbs_down, r.questions) for r in rows] == [
            ("telegram", "", 2, 1, 0)
        ]
