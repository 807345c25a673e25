"""The overview's sums: percentiles from answer-time buckets, prices, periods, days without activity."""

from __future__ import annotations

import random
from datetime import date

import pytest

from otvet.config.settings import ModelPrice
from otvet.core.activity import (
    LIST_MINUTE_PRICES,
    LIST_PRICES,
    minute_prices,
    percentile,
    period,
    price_of,
    prices,
    summarize,
)
from otvet.core.store import ActivityReport, ActivityRow, LatencyCount, latency_bucket


def counted(times: list[int]) -> list[LatencyCount]:
    buckets: dict[int, int] = {}
    for ms in times:
        buckets[latency_bucket(ms)] = buckets.get(latency_bucket(ms), 0) + 1
    return [LatencyCount("2026-03-02", "web", bucket, n) for bucket, n in buckets.items()]


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_from_buckets_are_within_ten_percent_of_the_true_ones(seed: int) -> None:
    rng = random.Random(seed)
    times = sorted(int(rng.lognormvariate(7.0, 0.8)) + 1 for _ in range(5000))  # ~1.1 s median, long tail
    for q in (0.5, 0.95):
        true = times[int(q * len(times)) - 1]
        assert percentile(counted(times), q) == pytest.approx(true, rel=0.10)


def test_percentiles_of_nothing_and_of_one_answer() -> None:
    assert percentile([], 0.5) is None
    (only,) = counted([1234])
    assert 1200 <= percentile([only], 0.5) <= 1500  # type: ignore[operator]
    assert 820_000 < percentile(counted([5_000_000]), 0.95) <= 1_000_000  # type: ignore[operator]  # the last bucket


def test_a_dated_model_is_priced_as_its_family_and_configured_prices_win() -> None:
    assert price_of("gpt-4o-mini-2024-07-18", LIST_PRICES) == LIST_PRICES["gpt-4o-mini"]
    assert price_of("gpt-4o-2024-08-06", LIST_PRICES) == LIST_PRICES["gpt-4o"]
    assert price_of("llama3.1:8b", LIST_PRICES) is None
    mine = prices(
        {"gpt-4o-mini": ModelPrice(input=0.1, output=0.2), "llama3.1:8b": ModelPrice(input=0, output=0)}
    )
    assert mine["gpt-4o-mini"] == (0.1, 0.2) and mine["llama3.1:8b"] == (0.0, 0.0)
    assert mine["gpt-4o"] == LIST_PRICES["gpt-4o"]


def test_the_period_defaults_to_the_last_two_weeks_and_refuses_nonsense() -> None:
    assert period(None, None, date(2026, 3, 14)) == (date(2026, 3, 1), date(2026, 3, 14))
    assert period(date(2026, 3, 10), None, date(2026, 3, 14)) == (date(2026, 3, 10), date(2026, 3, 14))
    with pytest.raises(ValueError, match="before it starts"):
        period(date(2026, 3, 10), date(2026, 3, 9), date(2026, 3, 14))
    with pytest.raises(ValueError, match="at most 366 days"):
        period(date(2024, 1, 1), date(2026, 1, 1), date(2026, 3, 14))


def test_a_summary_fills_quiet_days_sums_channels_and_costs_models() -> None:
    rows = [
        ActivityRow(
            "2026-03-02",
            "telegram",
            "openai",
            "gpt-4o-mini",
            answered=3,
            unknown=1,
            prompt_tokens=2_000_000,
            completion_tokens=1_000_000,
        ),
        ActivityRow("2026-03-02", "web", "extractive", "", answered=2),
        ActivityRow("2026-03-04", "telegram", "", "", failed=1, refused=2),
        ActivityRow("2026-03-04", "telegram", "", "", thumbs_up=4, thumbs_down=1),
        ActivityRow("2026-03-04", "web", "ollama", "llama3.1:8b", answered=1, prompt_tokens=10),
    ]
    report = ActivityReport(rows, counted([100, 200, 300, 4000]))
    overview = summarize(report, date(2026, 3, 1), date(2026, 3, 4), LIST_PRICES)
    assert [(d.day.day, d.questions) for d in overview.days] == [
        (1, {}),
        (2, {"telegram": 4, "web": 2}),
        (3, {}),
        (4, {"telegram": 3, "web": 1}),
    ]
    assert overview.channels == ["telegram", "web"]
    totals = overview.totals
    assert (totals.questions, totals.answered, totals.unknown, totals.failed, totals.refused) == (
        10,
        6,
        1,
        1,
        2,
    )
    assert (totals.thumbs_up, totals.thumbs_down) == (4, 1)
    assert [(m.provider, m.model, m.cost) for m in overview.models] == [
        ("openai", "gpt-4o-mini", pytest.approx(2 * 0.15 + 1 * 0.60)),
        ("ollama", "llama3.1:8b", None),
        ("extractive", "", 0.0),
    ]
    assert overview.cost == pytest.approx(0.9) and overview.cost_complete is False
    assert overview.answers_timed == 4
    web = summarize(report, date(2026, 3, 1), date(2026, 3, 4), LIST_PRICES, channel="web")
    assert (web.totals.questions, web.channels, web.cost_complete) == (3, ["web"], False)


def test_transcription_is_priced_per_minute_and_needs_no_token_price() -> None:
    rows = [
        ActivityRow("2026-03-02", "telegram", "openai", "whisper-1", audio_seconds=150),
        ActivityRow("2026-03-02", "telegram", "openai", "gpt-4o-mini-transcribe", audio_seconds=60),
        ActivityRow("2026-03-02", "telegram", "openai", "gpt-4o-transcribe-2025-03-20", audio_seconds=30),
        ActivityRow("2026-03-02", "telegram", "local", "faster-whisper-small", audio_seconds=600),
        ActivityRow("2026-03-02", "telegram", "openai", "gpt-4o-mini", answered=2, prompt_tokens=10),
    ]
    day = date(2026, 3, 2)
    overview = summarize(ActivityReport(rows, []), day, day, LIST_PRICES)
    costs = {use.model: use.cost for use in overview.models}
    assert costs["whisper-1"] == pytest.approx(2.5 * 0.006)
    assert costs["gpt-4o-mini-transcribe"] == pytest.approx(0.003)  # not gpt-4o-mini's token price
    assert costs["gpt-4o-transcribe-2025-03-20"] == pytest.approx(0.003)  # a dated version, as its family
    assert costs["faster-whisper-small"] is None and overview.cost_complete is False
    assert (overview.totals.audio_seconds, overview.totals.questions) == (840, 2)
    # Tokens first, then transcription models, the most audio first.
    assert [use.model for use in overview.models][:2] == ["gpt-4o-mini", "faster-whisper-small"]

    configured = {
        "faster-whisper-small": ModelPrice(per_minute=0.0),
        "whisper-1": ModelPrice(per_minute=0.004),
    }
    per_minute = minute_prices(configured)
    assert (
        per_minute["whisper-1"] == 0.004
        and per_minute["gpt-4o-transcribe"] == LIST_MINUTE_PRICES["gpt-4o-transcribe"]
    )
    overview = summarize(ActivityReport(rows, []), day, day, prices(configured), per_minute=per_minute)
    assert overview.cost_complete is True
    assert {use.model: use.cost for use in overview.models}["whisper-1"] == pytest.approx(0.01)
