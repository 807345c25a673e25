"""The overview's ``activity`` query on both databases: what the console's charts are drawn from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from otvet.core.store import TurnActivity
from otvet.core.types import Turn
from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.conftest import ApiFactory

ACTIVITY = """
query($since: Date, $until: Date, $channel: String) {
  activity(since: $since, until: $until, channel: $channel) {
    since until channels
    days { day byChannel { channel questions } counts { questions answered failed } }
    totals { questions answered unknown failed refused thumbsUp thumbsDown promptTokens completionTokens }
    answerTimes { answers p50Ms p95Ms }
    models { provider model answers promptTokens completionTokens estimatedCostUsd }
    estimatedCostUsd costComplete
  }
}"""


async def test_the_activity_of_a_period_by_day_channel_and_model(api: Api) -> None:
    monday = datetime(2026, 3, 2, 12, tzinfo=UTC)
    store = api.otvet.store
    for latency in (900, 1000, 1100, 1200, 9000):
        await store.record_activity(
            TurnActivity(monday, "telegram", "answered", "openai", "gpt-4o-mini", latency, 400_000, 100_000)
        )
    await store.record_activity(TurnActivity(monday, "graphql", "unknown", "extractive", "", 20))
    await store.record_activity(TurnActivity(monday + timedelta(days=2), "telegram", "failed"))
    await store.record_activity(TurnActivity(monday + timedelta(days=9), "telegram", "refused"))  # outside

    data = (await api.data(ACTIVITY, {"since": "2026-03-01", "until": "2026-03-04"}, key="read"))["activity"]
    assert (data["since"], data["until"], data["channels"]) == (
        "2026-03-01",
        "2026-03-04",
        ["graphql", "telegram"],
    )
    assert [(d["day"], d["byChannel"], d["counts"]["questions"]) for d in data["days"]] == [
        ("2026-03-01", [], 0),
        ("2026-03-02", [{"channel": "graphql", "questions": 1}, {"channel": "telegram", "questions": 5}], 6),
        ("2026-03-03", [], 0),
        ("2026-03-04", [{"channel": "telegram", "questions": 1}], 1),
    ]
    assert data["totals"] == {
        "questions": 7,
        "answered": 5,
        "unknown": 1,
        "failed": 1,
        "refused": 0,
        "thumbsUp": 0,
        "thumbsDown": 0,
        "promptTokens": 2_000_000,
        "completionTokens": 500_000,
    }
    times = data["answerTimes"]
    assert times["answers"] == 6 and 900 <= times["p50Ms"] <= 1200 and 8200 <= times["p95Ms"] <= 10_000
    assert data["models"] == [
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "answers": 5,
            "promptTokens": 2_000_000,
            "completionTokens": 500_000,
            "estimatedCostUsd": 0.6,
        },  # 2M x $0.15 + 0.5M x $0.60
        {
            "provider": "extractive",
            "model": "",
            "answers": 1,
            "promptTokens": 0,
            "completionTokens": 0,
            "estimatedCostUsd": 0.0,
        },
    ]
    assert (data["estimatedCostUsd"], data["costComplete"]) == (0.6, True)

    telegram = await api.data(ACTIVITY, {"since": "2026-03-01", "until": "2026-03-04", "channel": "telegram"})
    assert telegram["activity"]["totals"]["questions"] == 6


async def test_answers_and_ratings_through_the_api_show_in_todays_activity(api: Api) -> None:
    answer = await api.data(
        'mutation { ask(input: {question: "What is Otvet?"}) { ... on Answer { messageId } } }', key="ask"
    )
    await api.otvet.engine.ask(Turn(channel="telegram", user_id="42", text="   "))
    await api.data(
        "mutation($id: ID!) { sendFeedback(messageId: $id, value: 1) }",
        {"id": answer["ask"]["messageId"]},
        key="ask",
    )
    data = (await api.data(ACTIVITY, key="read"))["activity"]
    today = datetime.now(UTC).date()
    assert data["until"] == today.isoformat() and len(data["days"]) == 14
    assert data["days"][-1]["byChannel"] == [
        {"channel": "graphql", "questions": 1},
        {"channel": "telegram", "questions": 1},
    ]
    totals = data["totals"]
    assert (totals["questions"], totals["refused"], totals["thumbsUp"]) == (2, 1, 1)
    assert data["answerTimes"]["answers"] == 1


async def test_a_wrong_period_is_a_clear_error_and_the_ask_scope_reads_nothing(api: Api) -> None:
    backwards = await api.body(ACTIVITY, {"since": "2026-03-04", "until": "2026-03-01"}, key="read")
    assert codes(backwards) == ["BAD_USER_INPUT"] and "before it starts" in backwards["errors"][0]["message"]
    too_long = await api.body(ACTIVITY, {"since": "2020-01-01", "until": "2026-03-01"}, key="read")
    assert codes(too_long) == ["BAD_USER_INPUT"] and "366 days" in too_long["errors"][0]["message"]
    not_a_day = await api.body(ACTIVITY, {"since": "yesterday"}, key="read")
    assert codes(not_a_day) == ["BAD_USER_INPUT"]
    assert codes(await api.body(ACTIVITY, key="ask")) == ["FORBIDDEN"]
    assert codes(await api.body(ACTIVITY, key=None)) == ["UNAUTHENTICATED"]


async def test_configured_prices_cost_models_the_list_does_not_know(api_with: ApiFactory) -> None:
    async with api_with(pricing={"llama3.1:8b": {"input": 0.2, "output": 0.4}}) as api:
        day = datetime(2026, 3, 2, 12, tzinfo=UTC)
        await api.otvet.store.record_activity(
            TurnActivity(day, "web", "answered", "ollama", "llama3.1:8b", 500, 1_000_000, 1_000_000)
        )
        data = (await api.data(ACTIVITY, {"since": "2026-03-02", "until": "2026-03-02"}))["activity"]
        assert data["models"][0]["estimatedCostUsd"] == 0.6 and data["costComplete"] is True


async def test_transcribed_audio_is_counted_and_costed_per_minute(api_with: ApiFactory) -> None:
    async with api_with(pricing={"faster-whisper-small": {"per_minute": 0}}) as api:
        day = datetime(2026, 3, 2, 12, tzinfo=UTC)
        store = api.otvet.store
        await store.record_activity(
            TurnActivity(day, "telegram", "answered", "openai", "gpt-4o-mini", 900, 0, 0)
        )
        for seconds in (60, 30):  # two voice questions' transcriptions: audio, and no question of their own
            await store.record_activity(
                TurnActivity(day, "telegram", None, "openai", "whisper-1", audio_seconds=seconds)
            )
        await store.record_activity(
            TurnActivity(day, "telegram", None, "openai", "faster-whisper-small", audio_seconds=45)
        )
        query = """query($day: Date) { activity(since: $day, until: $day) {
            totals { questions audioSeconds } days { counts { audioSeconds } }
            models { model answers audioSeconds estimatedCostUsd } costComplete } }"""
        data = (await api.data(query, {"day": "2026-03-02"}))["activity"]
        assert data["totals"] == {"questions": 1, "audioSeconds": 135}
        assert data["days"] == [{"counts": {"audioSeconds": 135}}]
        assert data["models"] == [
            {"model": "gpt-4o-mini", "answers": 1, "audioSeconds": 0, "estimatedCostUsd": 0.0},
            {
                "model": "whisper-1",
                "answers": 0,
                "audioSeconds": 90,
                "estimatedCostUsd": pytest.approx(0.009),
            },
            {"model": "faster-whisper-small", "answers": 0, "audioSeconds": 45, "estimatedCostUsd": 0.0},
        ]  # whisper-1 at its list price, $0.006 a minute; a local server's model as configured
        assert data["costComplete"] is True
