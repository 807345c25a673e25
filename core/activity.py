"""What the admin overview shows of a period: questions by day and channel, outcomes, ratings, answer times,
tokens and transcribed audio with their estimated cost, summed from the store's daily activity
(``Store.activity``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from otvet.core.store import LATENCY_BUCKETS_MS, ActivityReport, LatencyCount

#: OpenAI's list prices in US dollars per million tokens (input, output), as published in 2025. Estimates:
#: set ``[pricing]`` for the prices you pay, and for any other model.
LIST_PRICES: dict[str, tuple[float, float]] = {
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
}

#: OpenAI's list prices of transcription in US dollars per minute of audio, as published in 2025. Estimates
#: too: ``[pricing]`` entries with ``per_minute`` add others and replace these.
LIST_MINUTE_PRICES: dict[str, float] = {
    "whisper-1": 0.006,
    "gpt-4o-transcribe": 0.006,
    "gpt-4o-mini-transcribe": 0.003,
}

P = TypeVar("P")

#: Providers that run on this machine and cost nothing per token.
FREE_PROVIDERS = frozenset({"extractive"})

#: The longest period one overview sums, in days.
MAX_DAYS = 366


@dataclass(slots=True)
class Counts:
    answered: int = 0
    unknown: int = 0
    failed: int = 0
    refused: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    audio_seconds: int = 0

    @property
    def questions(self) -> int:
        return self.answered + self.unknown + self.failed + self.refused

    def add(self, other: object) -> None:
        """Add the same-named counts of ``other`` (another Counts or an ActivityRow)."""
        for counted in dataclasses.fields(self):
            setattr(self, counted.name, getattr(self, counted.name) + getattr(other, counted.name))


@dataclass(slots=True)
class ModelUse:
    provider: str
    model: str
    counts: Counts = field(default_factory=Counts)
    #: US dollars; None when the model's price is unknown.
    cost: float | None = None


@dataclass(slots=True)
class Day:
    day: date
    #: Questions asked on each channel that day.
    questions: dict[str, int] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)


@dataclass(slots=True)
class Overview:
    since: date
    until: date
    days: list[Day]
    channels: list[str]
    totals: Counts
    models: list[ModelUse]
    answers_timed: int
    p50_ms: int | None
    p95_ms: int | None
    #: The summed cost of the models with a known price, and whether some model's price was unknown.
    cost: float
    cost_complete: bool


def period(since: date | None, until: date | None, today: date, default_days: int = 14) -> tuple[date, date]:
    """The days an overview covers, both included: the last ``default_days`` up to today when not told.
    Raises ValueError for a period that ends before it starts or is longer than :data:`MAX_DAYS`."""
    until = until or today
    since = since or until - timedelta(days=default_days - 1)
    if since > until:
        raise ValueError(f"the period ends ({until}) before it starts ({since})")
    if (until - since).days + 1 > MAX_DAYS:
        raise ValueError(f"a period is at most {MAX_DAYS} days long")
    return since, until


def prices(pricing: Mapping[str, object]) -> dict[str, tuple[float, float]]:
    """The list prices with the configured ones (``Settings.pricing``: objects with ``input`` and
    ``output``) added and replacing them."""
    configured = {name: (float(p.input), float(p.output)) for name, p in pricing.items()}  # type: ignore[attr-defined]
    return LIST_PRICES | configured


def minute_prices(pricing: Mapping[str, object]) -> dict[str, float]:
    """The list prices per minute of audio with the configured ones (``Settings.pricing`` entries that have
    a ``per_minute``) added and replacing them."""
    configured = {
        name: float(p.per_minute)  # type: ignore[attr-defined]
        for name, p in pricing.items()
        if getattr(p, "per_minute", None) is not None
    }
    return LIST_MINUTE_PRICES | configured


def price_of(model: str, prices: Mapping[str, P]) -> P | None:
    """The price of ``model``: its own, or that of the longest name it starts with (a dated version)."""
    if model in prices:
        return prices[model]
    family = max((name for name in prices if model.startswith(name + "-")), key=len, default=None)
    return prices[family] if family else None


def percentile(latency: Sequence[LatencyCount], q: float) -> int | None:
    """The ``q``-th quantile (0..1) of the answer times counted in ``latency``, in ms; interpolated inside
    its bucket, so within the buckets' 10%. None when no answer was timed."""
    counts: dict[int, int] = {}
    for row in latency:
        counts[row.bucket_ms] = counts.get(row.bucket_ms, 0) + row.count
    total = sum(counts.values())
    if not total:
        return None
    rank, seen, lower = q * total, 0, 0
    for bound in LATENCY_BUCKETS_MS:
        count = counts.get(bound, 0)
        if count and seen + count >= rank:
            return round(lower + (bound - lower) * max(rank - seen, 0) / count)
        seen += count
        lower = bound
    return LATENCY_BUCKETS_MS[-1]


def cost_of(
    use: ModelUse, prices: Mapping[str, tuple[float, float]], per_minute: Mapping[str, float]
) -> float | None:
    """What a model's use cost: its tokens, and its minutes of audio for a transcription model; None when a
    price it needs is unknown. A transcription model's row has no tokens, so it needs no token price."""
    if use.provider in FREE_PROVIDERS:
        return 0.0
    counts, cost = use.counts, 0.0
    if counts.prompt_tokens or counts.completion_tokens or not counts.audio_seconds:
        price = price_of(use.model, prices)
        if price is None:
            return None
        cost += (counts.prompt_tokens * price[0] + counts.completion_tokens * price[1]) / 1e6
    if counts.audio_seconds:
        minute = price_of(use.model, per_minute)
        if minute is None:
            return None
        cost += counts.audio_seconds / 60 * minute
    return cost


def summarize(
    report: ActivityReport,
    since: date,
    until: date,
    prices: Mapping[str, tuple[float, float]],
    channel: str | None = None,
    per_minute: Mapping[str, float] = LIST_MINUTE_PRICES,
) -> Overview:
    """The overview of the days ``since``..``until`` (every day present, zero when nothing happened), of
    one channel or all. ``prices`` price tokens, ``per_minute`` transcribed audio."""
    rows = [r for r in report.rows if channel is None or r.channel == channel]
    latency = [t for t in report.latency if channel is None or t.channel == channel]
    days = {
        since + timedelta(days=i): Day(since + timedelta(days=i)) for i in range((until - since).days + 1)
    }
    totals, models = Counts(), dict[tuple[str, str], ModelUse]()
    for row in rows:
        day = days.get(date.fromisoformat(row.day))
        if day is None:
            continue
        day.counts.add(row)
        totals.add(row)
        if row.questions:
            day.questions[row.channel] = day.questions.get(row.channel, 0) + row.questions
        if row.provider:
            use = models.setdefault((row.provider, row.model), ModelUse(row.provider, row.model))
            use.counts.add(row)
    cost, complete = 0.0, True
    for use in models.values():
        use.cost = cost_of(use, prices, per_minute)
        if use.cost is None:
            complete = False
            continue
        cost += use.cost
    # Most tokens first; transcription models (audio and no tokens) last, most audio first.
    ordered = sorted(
        models.values(),
        key=lambda u: (
            -(u.counts.prompt_tokens + u.counts.completion_tokens),
            u.counts.audio_seconds > 0,
            -u.counts.audio_seconds,
            u.provider,
            u.model,
        ),
    )
    asked = {name for day in days.values() for name in day.questions}
    return Overview(
        since=since,
        until=until,
        days=list(days.values()),
        channels=sorted(asked),
        totals=totals,
        models=ordered,
        answers_timed=sum(t.count for t in latency),
        p50_ms=percentile(latency, 0.5),
        p95_ms=percentile(latency, 0.95),
        cost=cost,
        cost_complete=complete,
    )
