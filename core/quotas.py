"""Quotas: how many questions a minute and how many tokens a day one user, and everyone together, may use.

The engine asks :meth:`Quotas.check` after it knows who is asking and before anything is answered; a
verdict refuses the turn with :func:`quota_message`. Every limit is off (0) by default, and then a check
costs nothing: no database query at all.

Windows: requests per minute count the questions of the last 60 seconds (a sliding window); tokens per day
count the prompt and completion tokens of messages stored since 00:00 UTC today. Questions refused by a
quota are stored with status ``rejected`` and never count, so waiting is always enough to get through.

Request limits are exact for every replica together. The engine checks them and stores the question it lets
through as one step (:meth:`Quotas.lock_names`, ``Store.serialized``): on PostgreSQL a transaction holding an
advisory lock per user, and one for everyone when a global request limit is set, so fifty questions sent at
once by one user through any number of replicas against a limit of 5 get exactly 5 answers. The price is
that admissions under a global request limit take turns, for a few milliseconds each.

Token limits are checked against the tokens already recorded: an answer's tokens are known only once it is
done, so answers in flight when an allowance runs out still finish. Everyone's token count is reused by each
process for ``quotas.global_cache_seconds`` (2 s by default) rather than summed on every turn: a guard
against runaway cost that holds within seconds, not to the token.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.i18n import Translator

log = logging.getLogger(__name__)

#: The sliding window of the requests-per-minute limits.
WINDOW = timedelta(seconds=60)

QuotaCode = Literal["user_rate_limited", "user_tokens_exhausted", "busy", "tokens_exhausted"]
#: The engine's failure codes that mean "a quota refused this turn" (frontends map them to HTTP 429).
QUOTA_CODES: frozenset[str] = frozenset(get_args(QuotaCode))


@dataclass(frozen=True, slots=True)
class QuotaVerdict:
    """A refused turn: which limit (``code``), its value, and seconds until asking again can succeed."""

    code: QuotaCode
    limit: int
    retry_after: float


@dataclass(slots=True)
class _Cached:
    """Everyone's tokens as last read, until ``expires`` (monotonic seconds), counted since ``moment``
    (a UTC midnight)."""

    value: int
    expires: float
    moment: datetime


class Quotas:
    """Checks the configured limits (``settings.quotas``) against what the store has recorded."""

    def __init__(self, otvet: Otvet, *, clock: Callable[[], datetime] | None = None) -> None:
        self.otvet = otvet
        self.settings = otvet.settings.quotas
        #: Now, as an aware UTC datetime; the store stamps messages with the same (system) clock.
        self.clock = clock or (lambda: datetime.now(UTC))
        self._tokens: _Cached | None = None

    @property
    def enabled(self) -> bool:
        s = self.settings
        return bool(
            s.user_requests_per_minute
            or s.user_tokens_per_day
            or s.global_requests_per_minute
            or s.global_tokens_per_day
        )

    def lock_names(self, user_id: int) -> tuple[str, ...]:
        """The locks a check and the question it admits must hold together (``Store.serialized``): the
        user's, and everyone's when a global request limit is set; none when no request limit is."""
        s = self.settings
        names = (f"quota:user:{user_id}",) if s.user_requests_per_minute else ()
        return names + (("quota:global",) if s.global_requests_per_minute else ())

    async def check(self, user_id: int) -> QuotaVerdict | None:
        """None when ``user_id`` may ask now; else the verdict of the limit that keeps them waiting longest.

        Every limit that is set is checked (a turn that passes needs them all anyway), so the user hears
        about the longest wait, not one short wait followed by another refusal.
        """
        if not self.enabled:
            return None
        s = self.settings
        now = self.clock()
        verdicts: list[QuotaVerdict] = []
        if s.user_requests_per_minute:
            verdicts += await self._user_requests(user_id, now, s.user_requests_per_minute)
        if s.user_tokens_per_day:
            used = await self.otvet.store.tokens_used(_midnight(now), user_id)
            if used >= s.user_tokens_per_day:
                verdicts.append(_until_midnight("user_tokens_exhausted", s.user_tokens_per_day, now))
        if s.global_requests_per_minute:
            verdicts += await self._global_requests(now, s.global_requests_per_minute)
        if s.global_tokens_per_day and await self._global_tokens(now) >= s.global_tokens_per_day:
            verdicts.append(_until_midnight("tokens_exhausted", s.global_tokens_per_day, now))
        if not verdicts:
            return None
        verdict = max(verdicts, key=lambda v: v.retry_after)
        # Debug only: the engine logs each refused turn.
        log.debug(
            "quota %s (limit %d) refused user=%s for %.0fs",
            verdict.code,
            verdict.limit,
            user_id,
            verdict.retry_after,
        )
        return verdict

    async def _user_requests(self, user_id: int, now: datetime, limit: int) -> list[QuotaVerdict]:
        store = self.otvet.store
        since = now - WINDOW
        count = await store.count_questions(since, user_id)
        if count < limit:
            return []
        # The window lets a question in again once enough of its oldest ones have left it.
        leaves = await store.nth_question_time(since, count - limit, user_id)
        return [QuotaVerdict("user_rate_limited", limit, _seconds_until(leaves, now))]

    async def _global_requests(self, now: datetime, limit: int) -> list[QuotaVerdict]:
        store = self.otvet.store
        since = now - WINDOW
        count = await store.count_questions(since)
        if count < limit:
            return []
        free_at = (await store.nth_question_time(since, count - limit) or now) + WINDOW
        return [QuotaVerdict("busy", limit, max(free_at - now, timedelta()).total_seconds())]

    async def _global_tokens(self, now: datetime) -> int:
        midnight = _midnight(now)
        cached = self._tokens
        if cached is None or time.monotonic() >= cached.expires or cached.moment != midnight:
            used = await self.otvet.store.tokens_used(midnight)
            cached = self._tokens = _Cached(used, self._expiry(), midnight)
        return cached.value

    def _expiry(self) -> float:
        return time.monotonic() + self.settings.global_cache_seconds


def _midnight(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s day: token allowances start there."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _until_midnight(code: QuotaCode, limit: int, now: datetime) -> QuotaVerdict:
    return QuotaVerdict(code, limit, (_midnight(now) + timedelta(days=1) - now).total_seconds())


def _seconds_until(entered: datetime | None, now: datetime) -> float:
    """Seconds until a question stored at ``entered`` leaves the window (a full window if unknown)."""
    leaves = (entered or now) + WINDOW
    return max(leaves - now, timedelta()).total_seconds()


def quota_message(t: Translator, verdict: QuotaVerdict) -> str:
    """The calm, localized text a user sees when ``verdict`` refuses their question."""
    seconds = max(1, math.ceil(verdict.retry_after))
    # Two sentences, two plurals: a language may inflect "questions" and "seconds" differently.
    if verdict.code == "user_rate_limited":
        fast = t.ngettext(
            "You are asking very fast: at most %(n)d question a minute.",
            "You are asking very fast: at most %(n)d questions a minute.",
            verdict.limit,
        )
        wait = t.ngettext("Please wait %(n)d second.", "Please wait %(n)d seconds.", seconds)
        return f"{fast} {wait}"
    if verdict.code == "user_tokens_exhausted":
        return t.gettext("You have used today's allowance of answers. It renews at midnight UTC.")
    if verdict.code == "busy":
        return t.ngettext(
            "Too many people are asking right now. Please try again in %(n)d second.",
            "Too many people are asking right now. Please try again in %(n)d seconds.",
            seconds,
        )
    return t.gettext(
        "I have answered as many questions as I can for today. Please come back after midnight UTC."
    )
