"""Quotas and usage: what the store counts, which turns a limit refuses and what the user reads then.

Messages are stamped at fixed times around ``NOW`` and the quotas' clock is ``NOW``, so windows and
midnights are exact whatever the time the tests run at.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from otvet.config.settings import QuotaSettings
from otvet.core.app import Otvet
from otvet.core.quotas import Quotas, QuotaVerdict, quota_message
from otvet.core.store import UserRecord
from otvet.core.types import Failure, Final, Turn, Usage
from otvet.plugins.storage.models import Message
from otvet.plugins.storage.store import TortoiseStore
from tests.conftest import make_settings

NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 10, tzinfo=UTC)
SECONDS_TO_MIDNIGHT = 11 * 3600 + 59 * 60 + 30


async def stamp(otvet: Otvet, message_id: int, at: datetime) -> None:
    """Move a message to ``at``: the store stamps messages with the time they were stored."""
    with cast(TortoiseStore, otvet.store)._current():
        await Message.filter(id=message_id).update(created_at=at)


async def question(otvet: Otvet, user: UserRecord, at: datetime, status: str = "ok") -> int:
    conversation = await otvet.store.current_conversation(user.id, "private")
    message_id = await otvet.store.add_message(conversation.id, "user", "q?", status=status, user_id=user.id)
    await stamp(otvet, message_id, at)
    return message_id


async def answer(
    otvet: Otvet, user: UserRecord, at: datetime, prompt: int, completion: int, provider: str = "mock"
) -> int:
    conversation = await otvet.store.current_conversation(user.id, "private")
    message_id = await otvet.store.add_message(
        conversation.id,
        "assistant",
        "a.",
        usage=Usage(prompt, completion),
        provider=provider,
        user_id=user.id,
    )
    await stamp(otvet, message_id, at)
    return message_id


def quotas(otvet: Otvet, **limits: Any) -> Quotas:
    """Quotas with ``limits`` (the rest off) and the clock at ``NOW``."""
    otvet.settings.quotas = QuotaSettings(**limits)
    return Quotas(otvet, clock=lambda: NOW)


@pytest.fixture
async def people(otvet: Otvet) -> tuple[UserRecord, UserRecord]:
    alice = await otvet.store.get_or_create_user("telegram", "100", "Alice")
    bob = await otvet.store.get_or_create_user("cli", "bob")
    return alice, bob


# --- the store's counts -------------------------------------------------------------------------------------


async def test_questions_are_counted_in_the_window_per_user_and_for_everyone(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, bob = people
    window = NOW - timedelta(seconds=60)
    await question(otvet, alice, window - timedelta(seconds=1))  # just left the window
    await question(otvet, alice, window)  # at the window's start: counted
    await question(otvet, alice, NOW - timedelta(seconds=10))
    await question(otvet, alice, NOW - timedelta(seconds=5), status="rejected")  # refusals never count
    await question(otvet, alice, NOW - timedelta(seconds=3), status="failed")
    await question(otvet, bob, NOW - timedelta(seconds=1))
    await answer(otvet, alice, NOW - timedelta(seconds=9), 10, 5)  # answers are not questions
    store = otvet.store
    assert await store.count_questions(window, alice.id) == 3
    assert await store.count_questions(window, bob.id) == 1
    assert await store.count_questions(window) == 4
    # Oldest first, refusals skipped.
    assert await store.nth_question_time(window, 0, alice.id) == window
    assert await store.nth_question_time(window, 2, alice.id) == NOW - timedelta(seconds=3)
    assert await store.nth_question_time(window, 3, alice.id) is None
    assert await store.nth_question_time(window, 3) == NOW - timedelta(seconds=1)


async def test_tokens_are_summed_since_a_moment_per_user_and_for_everyone(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, bob = people
    await answer(otvet, alice, MIDNIGHT - timedelta(hours=1), 1000, 1000)  # yesterday
    await answer(otvet, alice, MIDNIGHT, 100, 20)
    await answer(otvet, alice, NOW - timedelta(hours=1), 20, 10)
    await answer(otvet, bob, NOW, 7, 3)
    await question(otvet, bob, NOW)
    assert await otvet.store.tokens_used(MIDNIGHT, alice.id) == 150
    assert await otvet.store.tokens_used(MIDNIGHT, bob.id) == 10
    assert await otvet.store.tokens_used(MIDNIGHT) == 160
    assert await otvet.store.tokens_used(NOW + timedelta(seconds=1)) == 0
    assert await otvet.store.tokens_used(MIDNIGHT - timedelta(days=1), alice.id) == 2150


async def report_data(otvet: Otvet, alice: UserRecord, bob: UserRecord) -> None:
    yesterday = MIDNIGHT - timedelta(hours=2)
    await question(otvet, alice, yesterday)
    await answer(otvet, alice, yesterday, 300, 100, provider="openai")
    await question(otvet, alice, NOW - timedelta(hours=1))
    await answer(otvet, alice, NOW - timedelta(hours=1), 50, 10, provider="extractive")
    await question(otvet, alice, NOW - timedelta(minutes=1), status="failed")
    await question(otvet, bob, NOW - timedelta(minutes=2))
    await answer(otvet, bob, NOW - timedelta(minutes=2), 20, 5, provider="openai")
    await question(otvet, bob, NOW - timedelta(seconds=30), status="rejected")
    await question(otvet, bob, NOW + timedelta(hours=1))  # after the report's end
    await question(otvet, bob, yesterday - timedelta(days=3))  # before its start


async def test_usage_report_by_user_day_and_provider(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, bob = people
    await report_data(otvet, alice, bob)
    since, until = MIDNIGHT - timedelta(days=1), NOW
    by_user = await otvet.store.usage_report(since, until, "user")
    assert [(r.key, r.label) for r in by_user] == [
        (str(alice.id), "telegram:100 (Alice)"),  # the most tokens first
        (str(bob.id), "cli:bob"),
    ]
    a, b = by_user
    assert (a.questions, a.answers, a.failed, a.rejected) == (3, 2, 1, 0)
    assert (a.prompt_tokens, a.completion_tokens, a.total_tokens) == (350, 110, 460)
    assert (b.questions, b.answers, b.failed, b.rejected, b.total_tokens) == (1, 1, 0, 1, 25)

    by_day = await otvet.store.usage_report(since, until, "day")
    assert [(r.key, r.questions, r.answers, r.total_tokens) for r in by_day] == [
        ("2026-03-09", 1, 1, 400),
        ("2026-03-10", 3, 2, 85),
    ]

    by_provider = await otvet.store.usage_report(since, until, "provider")
    assert [(r.label, r.questions, r.answers, r.failed, r.total_tokens) for r in by_provider] == [
        ("(no provider)", 4, 0, 1, 0),  # questions and failures belong to no provider
        ("extractive", 0, 1, 0, 60),
        ("openai", 0, 2, 0, 425),
    ]
    assert await otvet.store.usage_report(NOW + timedelta(days=1), NOW + timedelta(days=2), "user") == []


async def test_usage_report_keeps_messages_of_unknown_users(otvet: Otvet) -> None:
    user = await otvet.store.get_or_create_user("cli", "old")
    conversation = await otvet.store.current_conversation(user.id, "private")
    # Stored before the asker was recorded on messages.
    await stamp(otvet, await otvet.store.add_message(conversation.id, "user", "q"), NOW)
    rows = await otvet.store.usage_report(MIDNIGHT, NOW + timedelta(seconds=1), "user")
    assert [(r.key, r.label, r.questions) for r in rows] == [("", "(unknown user)", 1)]


# --- Quotas.check ----------------------------------------------------------------------------------------


async def test_per_user_requests_allow_the_limit_per_minute_and_refuse_one_more(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, bob = people
    limits = quotas(otvet, user_requests_per_minute=3)
    await question(otvet, alice, NOW - timedelta(seconds=61))  # outside the window
    await question(otvet, alice, NOW - timedelta(seconds=50))
    await question(otvet, alice, NOW - timedelta(seconds=20))
    await question(otvet, alice, NOW - timedelta(seconds=1), status="rejected")
    assert await limits.check(alice.id) is None  # two in the window: the third may come
    await question(otvet, alice, NOW - timedelta(seconds=10))
    # Three in the window: the fourth waits until the oldest leaves it (at NOW + 10 s).
    assert await limits.check(alice.id) == QuotaVerdict("user_rate_limited", 3, 10.0)
    assert await limits.check(bob.id) is None  # a per-user limit
    # Over the limit (concurrent turns both passed): wait until enough have left.
    await question(otvet, alice, NOW - timedelta(seconds=5))
    assert await limits.check(alice.id) == QuotaVerdict("user_rate_limited", 3, 40.0)


async def test_per_user_tokens_per_day_start_at_midnight_utc(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, bob = people
    limits = quotas(otvet, user_tokens_per_day=160)
    await answer(otvet, alice, MIDNIGHT - timedelta(seconds=1), 5000, 5000)  # yesterday's do not count
    await answer(otvet, alice, MIDNIGHT + timedelta(hours=1), 100, 59)
    assert await limits.check(alice.id) is None  # 159 of 160
    await answer(otvet, alice, NOW - timedelta(seconds=1), 1, 0)
    assert await limits.check(alice.id) == QuotaVerdict(
        "user_tokens_exhausted", 160, float(SECONDS_TO_MIDNIGHT)
    )
    assert await limits.check(bob.id) is None


async def test_global_requests_refuse_everyone_once_the_minute_is_full(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, bob = people
    limits = quotas(otvet, global_requests_per_minute=2, global_cache_seconds=0)
    await question(otvet, alice, NOW - timedelta(seconds=45))
    assert await limits.check(bob.id) is None
    await question(otvet, bob, NOW - timedelta(seconds=30))
    assert await limits.check(alice.id) == QuotaVerdict("busy", 2, 15.0)
    assert await limits.check(bob.id) == QuotaVerdict("busy", 2, 15.0)


async def test_global_tokens_refuse_everyone_until_midnight(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, bob = people
    limits = quotas(otvet, global_tokens_per_day=100, global_cache_seconds=0)
    await answer(otvet, alice, NOW - timedelta(hours=1), 60, 39)
    assert await limits.check(bob.id) is None
    await answer(otvet, bob, NOW - timedelta(minutes=1), 1, 0)
    assert await limits.check(bob.id) == QuotaVerdict("tokens_exhausted", 100, float(SECONDS_TO_MIDNIGHT))


async def test_the_refusal_names_the_longest_wait(
    otvet: Otvet, people: tuple[UserRecord, UserRecord]
) -> None:
    alice, _ = people
    limits = quotas(otvet, user_requests_per_minute=1, user_tokens_per_day=10)
    await question(otvet, alice, NOW - timedelta(seconds=30))
    await answer(otvet, alice, NOW - timedelta(seconds=29), 10, 0)
    verdict = await limits.check(alice.id)
    assert verdict is not None and verdict.code == "user_tokens_exhausted"


async def test_everyones_tokens_are_reused_for_the_cache_period_but_requests_are_counted_every_time(
    otvet: Otvet, people: tuple[UserRecord, UserRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = people
    store = otvet.store
    token_reads: list[int | None] = []
    request_reads: list[int | None] = []
    tokens_used, count_questions = store.tokens_used, store.count_questions

    async def summing(since: datetime, user_id: int | None = None) -> int:
        token_reads.append(user_id)
        return await tokens_used(since, user_id)

    async def counting(since: datetime, user_id: int | None = None) -> int:
        request_reads.append(user_id)
        return await count_questions(since, user_id)

    monkeypatch.setattr(store, "tokens_used", summing)
    monkeypatch.setattr(store, "count_questions", counting)
    limits = quotas(otvet, global_requests_per_minute=2, global_tokens_per_day=1000, global_cache_seconds=60)
    assert await limits.check(alice.id) is None
    await question(otvet, alice, NOW - timedelta(seconds=2))
    assert await limits.check(bob.id) is None
    await question(otvet, bob, NOW - timedelta(seconds=1))
    assert token_reads == [None]  # one read of everyone's tokens for both
    # Requests are exact: a third question is refused on the count of the two stored ones.
    assert await limits.check(alice.id) == QuotaVerdict("busy", 2, 58.0)
    assert request_reads == [None, None, None]


def test_request_limits_name_the_locks_their_check_holds(tmp_path: Path) -> None:
    host = cast(Otvet, SimpleNamespace(settings=make_settings(tmp_path)))
    host.settings.quotas = QuotaSettings(user_tokens_per_day=100, global_tokens_per_day=1000)
    assert Quotas(host).lock_names(7) == ()  # token limits are checked against what was recorded: no lock
    host.settings.quotas = QuotaSettings(user_requests_per_minute=5)
    assert Quotas(host).lock_names(7) == ("quota:user:7",)
    host.settings.quotas = QuotaSettings(user_requests_per_minute=5, global_requests_per_minute=50)
    assert Quotas(host).lock_names(7) == ("quota:user:7", "quota:global")


async def test_no_limit_set_means_no_query_at_all(tmp_path: Path) -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the store was used ({name}) with every limit off")

    host = SimpleNamespace(settings=make_settings(tmp_path), store=Untouchable())
    limits = Quotas(cast(Otvet, host))
    assert limits.enabled is False
    assert await limits.check(1) is None


def test_the_limits_default_to_off(tmp_path: Path) -> None:
    assert make_settings(tmp_path).quotas == QuotaSettings(
        user_requests_per_minute=0,
        user_tokens_per_day=0,
        global_requests_per_minute=0,
        global_tokens_per_day=0,
    )


# --- messages ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize(
    "verdict",
    [
        QuotaVerdict("user_rate_limited", 5, 41.2),
        QuotaVerdict("user_rate_limited", 1, 0.0),
        QuotaVerdict("user_tokens_exhausted", 20000, 3600.0),
        QuotaVerdict("busy", 300, 2.5),
        QuotaVerdict("tokens_exhausted", 1_000_000, 7200.0),
    ],
)
def test_every_refusal_has_a_calm_localized_message(
    tmp_path: Path, language: str, verdict: QuotaVerdict
) -> None:
    otvet = Otvet(make_settings(tmp_path))
    text = quota_message(otvet.i18n.get(language), verdict)
    assert text and "%" not in text and "{" not in text
    if verdict.code == "user_rate_limited":
        assert str(verdict.limit) in text
    if verdict.code in ("user_rate_limited", "busy"):
        # Whole seconds, rounded up, never "0 seconds".
        assert str(max(1, int(verdict.retry_after) + (verdict.retry_after % 1 > 0))) in text


def test_the_english_messages_read_naturally(tmp_path: Path) -> None:
    t = Otvet(make_settings(tmp_path)).i18n.get("en")
    assert quota_message(t, QuotaVerdict("user_rate_limited", 5, 41.2)) == (
        "You are asking very fast: at most 5 questions a minute. Please wait 42 seconds."
    )
    assert quota_message(t, QuotaVerdict("user_rate_limited", 1, 0.3)) == (
        "You are asking very fast: at most 1 question a minute. Please wait 1 second."
    )
    assert "midnight UTC" in quota_message(t, QuotaVerdict("user_tokens_exhausted", 10, 60.0))
    assert "midnight UTC" in quota_message(t, QuotaVerdict("tokens_exhausted", 10, 60.0))


# --- in the engine ------------------------------------------------------------------------------------------


async def test_the_engine_refuses_the_question_over_the_limit_and_stores_it_as_rejected(otvet: Otvet) -> None:
    otvet.settings.quotas = QuotaSettings(user_requests_per_minute=2)
    turn = Turn(channel="cli", user_id="eager", text="How do I connect Telegram?")
    results = [await otvet.engine.ask(turn) for _ in range(3)]
    assert [type(r).__name__ for r in results] == ["Final", "Final", "Failure"]
    refused = results[-1]
    assert isinstance(refused, Failure) and refused.code == "user_rate_limited"
    assert "at most 2 questions a minute" in refused.message
    assert refused.retry_after is not None and 0 < refused.retry_after <= 60
    # The limit is per user: someone else is answered.
    assert isinstance(await otvet.engine.ask(Turn(channel="cli", user_id="calm", text="Hello?")), Final)
    user = await otvet.store.get_or_create_user("cli", "eager")
    conversation = await otvet.store.current_conversation(user.id, "private")
    questions = [m for m in await otvet.store.messages(conversation.id) if m.role == "user"]
    assert [m.status for m in questions] == ["ok", "ok", "rejected"]
    assert {m.user_id for m in questions} == {user.id}


@pytest.mark.parametrize("limit", ["user", "global"])
async def test_concurrent_questions_get_exactly_the_limit_answered(otvet: Otvet, limit: str) -> None:
    # Twenty questions at once by one user: the check and the stored question are one step, so no two of
    # them pass the same check (before, 16 of 20 got through a limit of 5).
    if limit == "user":
        otvet.settings.quotas = QuotaSettings(user_requests_per_minute=5)
    else:
        otvet.settings.quotas = QuotaSettings(global_requests_per_minute=5)
    turn = Turn(channel="cli", user_id="burst", text="How do I connect Telegram?")
    results = await asyncio.gather(*(otvet.engine.ask(turn) for _ in range(20)))
    assert sum(isinstance(r, Final) for r in results) == 5
    refused = [r for r in results if isinstance(r, Failure)]
    assert len(refused) == 15
    assert {r.code for r in refused} == {"user_rate_limited" if limit == "user" else "busy"}
    user = await otvet.store.get_or_create_user("cli", "burst")
    conversation = await otvet.store.current_conversation(user.id, "private")
    statuses = [m.status for m in await otvet.store.messages(conversation.id) if m.role == "user"]
    assert sorted(statuses) == ["ok"] * 5 + ["rejected"] * 15
