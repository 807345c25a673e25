"""The activity overview through GraphQL: what the admin console's overview page draws, for any period of
UTC days (core/activity.py; docs/admin.md#overview)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import strawberry
from strawberry.types import Info

from otvet.core import activity as summary
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import bad_input
from otvet.frontends.graphql.permissions import scoped_field


@strawberry.type(description="Questions by what became of them, ratings, tokens and transcribed audio.")
class ActivityCounts:
    questions: int
    answered: int = strawberry.field(description="Answered from the knowledge base, citing a source.")
    unknown: int = strawberry.field(description='Answered "I don\'t know": nothing relevant found or cited.')
    failed: int = strawberry.field(description="Not answered: an error, a timeout or an interruption.")
    refused: int = strawberry.field(description="Refused: a quota, a plugin, an empty or too long question.")
    thumbs_up: int
    thumbs_down: int
    prompt_tokens: int
    completion_tokens: int
    audio_seconds: int = strawberry.field(
        description="Seconds of voice messages and audio transcribed into questions."
    )

    @classmethod
    def of(cls, counts: summary.Counts) -> ActivityCounts:
        return cls(
            questions=counts.questions,
            answered=counts.answered,
            unknown=counts.unknown,
            failed=counts.failed,
            refused=counts.refused,
            thumbs_up=counts.thumbs_up,
            thumbs_down=counts.thumbs_down,
            prompt_tokens=counts.prompt_tokens,
            completion_tokens=counts.completion_tokens,
            audio_seconds=counts.audio_seconds,
        )


@strawberry.type(description="Questions asked on one channel.")
class ChannelQuestions:
    channel: str
    questions: int


@strawberry.type(description="One UTC day of the period.")
class ActivityDay:
    day: date
    by_channel: list[ChannelQuestions] = strawberry.field(description="Questions per channel, by name.")
    counts: ActivityCounts


@strawberry.type(
    description="Tokens one provider's model used in the period, or audio it transcribed, and their cost."
)
class ModelUsage:
    provider: str
    model: str = strawberry.field(description="Empty for answers counted before models were recorded.")
    answers: int
    prompt_tokens: int
    completion_tokens: int
    audio_seconds: int = strawberry.field(description="Seconds of audio transcribed (transcription models).")
    estimated_cost_usd: float | None = strawberry.field(
        description="At the configured or list price; null when the model's price is unknown (`[pricing]`)."
    )


@strawberry.type(description="How long answers took, from the question to the whole answer.")
class AnswerTimes:
    answers: int = strawberry.field(description="Answers timed.")
    p50_ms: int | None = strawberry.field(description="The median, within 10%; null without answers.")
    p95_ms: int | None = strawberry.field(
        description="The 95th percentile, within 10%; null without answers."
    )


@strawberry.type(description="The activity of a period of UTC days, both ends included.")
class Activity:
    since: date
    until: date
    channels: list[str] = strawberry.field(description="Channels questions came from, by name.")
    days: list[ActivityDay] = strawberry.field(description="Every day of the period, oldest first.")
    totals: ActivityCounts
    answer_times: AnswerTimes
    models: list[ModelUsage] = strawberry.field(description="Most tokens first, transcription models last.")
    estimated_cost_usd: float = strawberry.field(description="The models' summed cost, where it is known.")
    cost_complete: bool = strawberry.field(description="False when some model's price is unknown.")

    @classmethod
    def of(cls, overview: summary.Overview) -> Activity:
        return cls(
            since=overview.since,
            until=overview.until,
            channels=overview.channels,
            days=[
                ActivityDay(
                    day=day.day,
                    by_channel=[
                        ChannelQuestions(channel=c, questions=n) for c, n in sorted(day.questions.items())
                    ],
                    counts=ActivityCounts.of(day.counts),
                )
                for day in overview.days
            ],
            totals=ActivityCounts.of(overview.totals),
            answer_times=AnswerTimes(
                answers=overview.answers_timed, p50_ms=overview.p50_ms, p95_ms=overview.p95_ms
            ),
            models=[
                ModelUsage(
                    provider=use.provider,
                    model=use.model,
                    answers=use.counts.answered + use.counts.unknown,
                    prompt_tokens=use.counts.prompt_tokens,
                    completion_tokens=use.counts.completion_tokens,
                    audio_seconds=use.counts.audio_seconds,
                    estimated_cost_usd=use.cost,
                )
                for use in overview.models
            ],
            estimated_cost_usd=overview.cost,
            cost_complete=overview.cost_complete,
        )


@strawberry.type
class ActivityQueries:
    @scoped_field(
        "read",
        "Questions per day and channel, outcomes, ratings, answer times, tokens and estimated cost for the "
        f"UTC days `since` to `until` (default: the last 14 days; at most {summary.MAX_DAYS}), of one "
        "channel or all. Read from daily counts: as fast for a year as for a day.",
    )
    async def activity(
        self, info: Info, since: date | None = None, until: date | None = None, channel: str | None = None
    ) -> Activity:
        try:
            first, last = summary.period(since, until, datetime.now(UTC).date())
        except ValueError as exc:
            raise bad_input(str(exc)) from None
        otvet = context_of(info).otvet
        report = await otvet.store.activity(first, last)
        pricing = otvet.settings.pricing
        prices, per_minute = summary.prices(pricing), summary.minute_prices(pricing)
        return Activity.of(summary.summarize(report, first, last, prices, channel, per_minute))
