"""The storage contract the engine and the knowledge base rely on; plugins/storage implements it."""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from otvet.core.retrieval import IndexedChunk
from otvet.core.types import HistoryMessage, SourceRef, Usage

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.limits import SlotLimit


class NotFound(LookupError):
    """The record a call refers to (a message, a knowledge version) does not exist."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (stopped, restarting, frozen, unreachable): the request can be
    tried again in about ``retry_after`` seconds. Frontends answer it with their protocol's "unavailable"
    (HTTP 503, GraphQL ``UNAVAILABLE``) rather than an internal error."""

    def __init__(self, reason: str = "", *, retry_after: float = 5.0) -> None:
        super().__init__(f"the database is unavailable{': ' + reason if reason else ''}")
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    channel: str
    external_id: str
    #: The language the user chose explicitly (``/lang``), or None to follow what they write.
    language: str | None


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    user_id: int
    chat_id: str


@dataclass(frozen=True, slots=True)
class SourceRecord:
    id: int
    name: str
    type: str
    title: str
    checksum: str
    language: str | None
    #: The parsed content, as stored: ``{"sections": [...], "qa_pairs": [...]}``.
    content: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class VersionRecord:
    id: int
    #: ``ready`` (built, not yet promoted), ``active``, ``retired`` (was active), ``rejected`` (scored worse
    #: than the active version on the check set), ``building`` or ``failed``.
    status: Literal["building", "ready", "active", "retired", "rejected", "failed"]
    chunk_count: int
    source_count: int
    created_at: datetime
    activated_at: datetime | None
    note: str
    #: ``name:model`` of the embedder whose vectors the version's chunks carry; None when they have none.
    embedder: str | None = None
    #: Its evaluation on the check set (core/evaluation.py ``Evaluation.as_dict``), once evaluated.
    metrics: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NewCheck:
    """A check-set question: the source expected to answer it and/or words the answer should contain."""

    question: str
    expected_source: str | None = None
    expected_answer: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class CheckRecord:
    id: int
    question: str
    expected_source: str | None
    expected_answer: str | None
    language: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """Proposed training data: a question and answer awaiting (or past) an admin's review."""

    id: int
    question: str
    answer: str
    #: ``rating`` (a user liked the answer) or ``correction`` (an admin wrote a better answer).
    origin: str
    message_id: int | None
    language: str | None
    #: ``pending``, ``approved`` or ``rejected``.
    status: str
    created_by: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewChunk:
    """A chunk about to be stored in a new knowledge version."""

    source_id: int
    position: int
    text: str
    kind: Literal["text", "qa"] = "text"
    question: str | None = None
    title: str = ""
    language: str | None = None
    #: Little-endian float32 bytes from the version's embedder, or None.
    embedding: bytes | None = None


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A stored chunk of a knowledge version, as an admin previews it (no embedding)."""

    id: int
    version_id: int
    #: The source's name as the version recorded it: a removed source's chunks keep it.
    source_name: str
    #: Its place among its source's chunks (gaps where a duplicate passage was left out).
    position: int
    kind: Literal["text", "qa"]
    title: str
    #: The passage; for a Q&A chunk, the answer.
    text: str
    question: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: Literal["user", "assistant"]
    text: str
    language: str | None
    status: str
    sources: tuple[SourceRef, ...]
    latency_ms: int | None
    usage: Usage
    provider: str | None
    created_at: datetime
    #: The store's id of the user who asked (None for rows stored before it was recorded).
    user_id: int | None = None
    #: Seconds of the voice message or audio a question was transcribed from; 0 for typed ones.
    audio_seconds: int = 0


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One line of a usage report: what a user, a UTC day or a provider accounted for in a period."""

    #: The user's store id, the day (``YYYY-MM-DD``, UTC) or the provider's name, as text; ``""`` gathers
    #: the messages that have none (rows stored before the asker was recorded; questions, for providers).
    key: str
    #: What an admin reads: ``telegram:12345 (Anna)`` for a user; the key itself otherwise.
    label: str
    #: Questions asked (quota refusals not included), answers given, questions that failed, refusals.
    questions: int
    answers: int
    failed: int
    rejected: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


#: What became of a question, as the activity overview counts it: answered from the knowledge base, answered
#: "I don't know" (no source found or cited), failed (an error, a timeout, an interruption) or refused (a
#: quota or a plugin's refusal).
TurnOutcome = Literal["answered", "unknown", "failed", "refused"]
TURN_OUTCOMES: tuple[TurnOutcome, ...] = ("answered", "unknown", "failed", "refused")

#: Upper bounds (ms) of the answer-time buckets the activity keeps: twelve a decade (the E12 series), from
#: 10 ms to 1,000 s, so a percentile read from them is within 10% of the true one. The last bucket holds
#: everything longer.
LATENCY_BUCKETS_MS: tuple[int, ...] = (
    *(
        round(step * 10**decade)
        for decade in range(1, 6)
        for step in (1, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
    ),
    1_000_000,
)


def latency_bucket(latency_ms: int) -> int:
    """The upper bound of the bucket ``latency_ms`` falls in."""
    return LATENCY_BUCKETS_MS[
        min(bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms), len(LATENCY_BUCKETS_MS) - 1)
    ]


@dataclass(frozen=True, slots=True)
class TurnActivity:
    """One finished turn, as the activity overview counts it (no text, no user: these counts outlive the
    conversations they came from). Work that is not a question of its own, such as transcribing a voice
    message, has no ``outcome``: it adds its counts (``audio_seconds``) and no question."""

    at: datetime
    channel: str
    outcome: TurnOutcome | None
    #: The provider and model that answered; empty for turns no provider answered.
    provider: str = ""
    model: str = ""
    #: From the question to the whole answer; None for turns that were not answered.
    latency_ms: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Seconds of audio transcribed (with the transcriber as ``provider`` and ``model``).
    audio_seconds: int = 0


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """The counts of one UTC day, channel, provider and model. Ratings are counted on the day and channel of
    the rating, with an empty provider and model."""

    day: str  # YYYY-MM-DD
    channel: str
    provider: str
    model: str
    answered: int = 0
    unknown: int = 0
    failed: int = 0
    refused: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Seconds of voice messages and audio transcribed, counted on the transcriber's provider and model.
    audio_seconds: int = 0

    @property
    def questions(self) -> int:
        return self.answered + self.unknown + self.failed + self.refused


@dataclass(frozen=True, slots=True)
class LatencyCount:
    """How many answers of one UTC day and channel took up to ``bucket_ms`` (and more than the bucket
    below)."""

    day: str
    channel: str
    bucket_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class ActivityReport:
    rows: list[ActivityRow]
    latency: list[LatencyCount]


@dataclass(frozen=True, slots=True)
class AdminRecord:
    """An admin account, without its password hash (see docs/security.md)."""

    id: int
    username: str
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as listed: never the key, never its hash."""

    id: int
    name: str
    #: The clear part of ``otv_<prefix>_<secret>``: it finds the row and tells keys apart in lists.
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """A conversation as the API lists it, with the user it belongs to (a user or a shared chat)."""

    id: int
    chat_id: str
    started_at: datetime
    closed_at: datetime | None
    #: The owner: the store's user id, their channel, their id in the channel and display name.
    user_id: int
    channel: str
    external_id: str
    display_name: str | None


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """A rating of an answer, with where it was given."""

    id: int
    message_id: int
    conversation_id: int
    #: Who rated: the store's user id, channel and id in the channel.
    user_id: int
    channel: str
    external_id: str
    value: int
    comment: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A background job (``otvet_job``): training work claimed by a worker."""

    id: int
    type: str
    #: ``queued``, ``running``, then ``succeeded``, ``failed`` or ``cancelled``.
    status: str
    payload: dict[str, Any]
    #: 0..1.
    progress: float
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: What the handler returned (``{"version_id": 7, ...}`` for a retrain), once it succeeded.
    result: dict[str, Any] | None = None
    #: The handler's last progress message.
    message: str | None = None
    #: The worker that claimed it last, and until when it owns the job (heartbeats extend the lease).
    locked_by: str | None = None
    lease_until: datetime | None = None
    #: A queued job waits until then (retry backoff).
    run_after: datetime | None = None
    #: Cancellation was asked for while it ran: its worker stops at the next heartbeat.
    cancel_requested: bool = False


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A webhook update claimed from the inbox (core/inbox.py): the channel's own id for it and its body."""

    id: int
    channel: str
    key: str
    payload: str
    #: This claim included: more than one means an earlier handler died or postponed it.
    attempts: int
    #: What the replica that received the update already made of ``payload`` (Telegram's ``Update``), so its
    #: handler does not parse it again; None for an update claimed from the table.
    decoded: Any = field(default=None, compare=False)


#: Job states that change no more.
FINISHED_JOB_STATES = frozenset({"succeeded", "failed", "cancelled"})


class StoreLifecycle(Protocol):
    """What every backend does, whatever roles it takes: connect, close, migrate its own schema and answer
    a health check."""

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def migrate(self) -> list[str]:
        """Apply pending schema migrations; return the names applied."""
        ...

    async def ping(self) -> bool: ...


class CoordinationStore(StoreLifecycle, Protocol):
    """Locks and rate windows shared by every replica on this database (core/limits.py, core/quotas.py); times
    are whole seconds since the epoch unless said otherwise."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Run the block in one process at a time across every replica on this database (a PostgreSQL
        advisory lock); on a one-machine database, a no-op."""
        ...

    def serialized(self, names: Sequence[str]) -> AbstractAsyncContextManager[None]:
        """Run the block as one transaction that holds the named locks, for every replica on this database:
        a check and the write it allows (count a user's questions, store the next one) become one step,
        so concurrent requests cannot all pass the same check. No names: no transaction, no cost."""
        ...

    async def count_hit(self, key: str, start: int, expires: int, allowed: int) -> int | None:
        """Count one hit of ``key`` in the window starting at ``start`` (kept until ``expires``) if it
        holds fewer than ``allowed``: its new count, or None when it is full and nothing was counted. The
        check and the count are one step for every process on this database."""
        ...

    async def window_hits(self, key: str, since: int) -> dict[int, int]:
        """The hits of ``key`` in each window starting at or after ``since``, by window start."""
        ...

    async def forget_windows(self, before: int) -> int:
        """Drop the windows that expired before ``before``; how many."""
        ...

    async def take_slot(self, limits: Sequence[SlotLimit]) -> list[float]:
        """Use one slot of every limit if each has one free now, by the database's clock: all zeros. Else
        nothing is used, and each limit's wait in seconds until it has a free slot (0.0 where it has one).
        The check and the use are one step for every process on this database."""
        ...

    async def forget_slots(self, older_than: float) -> int:
        """Drop the slots used more than ``older_than`` seconds ago; how many."""
        ...


class ConversationStore(StoreLifecycle, Protocol):
    """Users, their conversations and the messages in them; browsing is newest first unless said otherwise,
    ``before_id``/``after_id`` page by id."""

    async def get_or_create_user(
        self, channel: str, external_id: str, display_name: str | None = None
    ) -> UserRecord: ...
    async def set_user_language(self, user_id: int, language: str | None) -> None: ...
    async def current_conversation(self, user_id: int, chat_id: str) -> ConversationRecord: ...
    async def reset_conversation(self, user_id: int, chat_id: str) -> bool: ...
    async def history(self, conversation_id: int, limit: int) -> list[HistoryMessage]:
        """The last ``limit`` answered messages (status ``ok``), oldest first."""
        ...

    async def add_message(
        self,
        conversation_id: int,
        role: Literal["user", "assistant"],
        text: str,
        *,
        language: str | None = None,
        status: str = "ok",
        sources: Sequence[SourceRef] = (),
        latency_ms: int | None = None,
        usage: Usage | None = None,
        provider: str | None = None,
        user_id: int | None = None,
        answers: int | None = None,
        audio_seconds: int = 0,
    ) -> int:
        """Store a message; ``user_id`` is who asked (on the question and on its answer).

        A question waiting for its answer is stored ``answering``; the answer names it in ``answers``, which
        marks it ``ok`` in the same step. ``audio_seconds``: the length of the voice message a question was
        transcribed from.
        """
        ...

    async def set_message_status(self, message_id: int, status: str) -> None: ...
    async def interrupt_unanswered(self, before: datetime) -> int:
        """Mark ``interrupted`` the questions still ``answering`` that were asked before ``before``: the
        process answering them stopped without storing an answer. Returns how many."""
        ...

    async def messages(self, conversation_id: int) -> list[StoredMessage]: ...
    async def forget_conversations(self, before: datetime) -> int:
        """Delete the conversations started before ``before`` with no message at or after it, with their
        messages and the ratings of those (personal data past its retention); how many."""
        ...

    async def list_conversations(
        self,
        *,
        channel: str | None = None,
        user_id: int | None = None,
        external_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        rating: int | None = None,
        before_id: int | None = None,
        limit: int = 20,
    ) -> list[ConversationSummary]:
        """Conversations started in ``[since, until)``, newest first, with ids below ``before_id``.

        ``text``: only those with a message containing it, whatever its case (``%`` and ``_`` are plain
        characters). ``rating`` (1 or -1, else ``ValueError``): only those with an answer someone rated so;
        it reads the ratings the feedback role stored, so that role must live on this backend.
        """
        ...

    async def get_conversation(self, conversation_id: int) -> ConversationSummary | None: ...
    async def message_page(
        self, conversation_id: int, *, after_id: int | None = None, limit: int = 50
    ) -> list[StoredMessage]:
        """The conversation's messages with ids above ``after_id``, oldest first."""
        ...

    async def get_message(self, message_id: int) -> StoredMessage | None: ...


class UsageStore(StoreLifecycle, Protocol):
    """Counts over the stored messages, for quotas and usage reports; times are timezone-aware (a naive one is
    taken as UTC). Reads what the conversations role stores, so by default it lives on the same backend."""

    async def count_questions(self, since: datetime, user_id: int | None = None) -> int:
        """Questions (user-role messages) stored at or after ``since``, by ``user_id`` or by everyone.

        Questions refused by a quota (status ``rejected``) do not count: a refusal must not eat the quota.
        """
        ...

    async def nth_question_time(self, since: datetime, n: int, user_id: int | None = None) -> datetime | None:
        """When the ``n``-th (0-based, oldest first) question :meth:`count_questions` counts was stored."""
        ...

    async def tokens_used(self, since: datetime, user_id: int | None = None) -> int:
        """Prompt plus completion tokens of the messages stored at or after ``since``."""
        ...

    async def audio_seconds_used(self, since: datetime, user_id: int) -> int:
        """Seconds of audio the user's questions stored at or after ``since`` were transcribed from, whatever
        became of them (a refused question was transcribed all the same)."""
        ...

    async def usage_report(
        self, since: datetime, until: datetime, group_by: Literal["user", "day", "provider"]
    ) -> list[UsageRow]:
        """Questions, answers and tokens of messages stored in ``[since, until)``, one row per group."""
        ...

    async def record_activity(self, turn: TurnActivity) -> None:
        """Count one finished turn in its UTC day's activity."""
        ...

    async def activity(self, since: date, until: date) -> ActivityReport:
        """The activity of the UTC days ``since`` to ``until`` (both included): questions by outcome, tokens,
        answer-time buckets and ratings (ratings are counted by whichever store keeps the feedback role:
        by default this one). Kept as daily counts, so reading a year costs the same as reading a day, and
        deleting old conversations leaves them."""
        ...


class FeedbackStore(StoreLifecycle, Protocol):
    """Users' ratings of answers. Refers to stored messages, so by default it lives on the conversations
    role's backend."""

    async def add_feedback(self, message_id: int, user_id: int, value: int, comment: str = "") -> int:
        """Record the user's rating (-1 or +1) of a message, replacing their earlier rating of it.

        Raises :class:`NotFound` for an unknown message and ``ValueError`` for another value.
        """
        ...

    async def list_feedback(
        self,
        *,
        value: int | None = None,
        conversation_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 20,
    ) -> list[FeedbackRecord]:
        """Ratings given in ``[since, until)``, newest first, with ids below ``before_id``."""
        ...


class JobStore(StoreLifecycle, Protocol):
    """The job queue (core/jobs.py) and the webhook inbox (core/inbox.py). Every change a worker makes is
    conditional on it still owning the job or update, so one that lost its lease (it stalled, another took
    over) cannot overwrite the new owner's work."""

    async def list_jobs(
        self, *, status: str | None = None, before_id: int | None = None, limit: int = 20
    ) -> list[JobRecord]:
        """Jobs, newest first, with ids below ``before_id``."""
        ...

    async def get_job(self, job_id: int) -> JobRecord | None: ...
    async def enqueue_job(self, type: str, payload: dict[str, Any] | None = None) -> JobRecord: ...
    async def claim_job(
        self, worker_id: str, lease_seconds: float, types: Sequence[str] | None = None
    ) -> JobRecord | None:
        """Take the oldest job that is queued and due, or running with an expired lease (its worker died).

        At most one claimer gets a job: claiming counts an attempt and leases it to ``worker_id``.
        """
        ...

    async def heartbeat_job(
        self, job_id: int, worker_id: str, lease_seconds: float, progress: float, message: str | None = None
    ) -> bool:
        """Extend the lease and record progress; False when the job was cancelled or taken over."""
        ...

    async def finish_job(self, job_id: int, worker_id: str, result: dict[str, Any] | None = None) -> bool:
        """Mark the job ``succeeded``; False (and nothing changed) when ``worker_id`` no longer owns it."""
        ...

    async def fail_job(self, job_id: int, worker_id: str, error: str, retry_at: datetime | None) -> bool:
        """Queue the job again for ``retry_at``, or mark it ``failed`` when that is None; keeps ``error``."""
        ...

    async def release_job(self, job_id: int, worker_id: str, *, cancelled: bool = False) -> bool:
        """Give the job up: ``cancelled`` ends it, else it is queued again without counting the attempt."""
        ...

    async def cancel_job(self, job_id: int) -> JobRecord:
        """Cancel a queued job now, ask a running one's worker to stop; :class:`NotFound` if unknown."""
        ...

    async def count_jobs(self) -> dict[tuple[str, str], int]:
        """Unfinished jobs by (type, status), status ``queued`` or ``running``: the queue's depth."""
        ...

    async def add_to_inbox(
        self, channel: str, key: str, payload: str, *, owner: str | None = None, lease_seconds: float = 0.0
    ) -> int | None:
        """Keep an update until it is handled: its id, or None when the channel sent this ``key`` before.

        With ``owner``, the update is stored claimed by it (as :meth:`claim_inbox` would) for
        ``lease_seconds``: the replica that received it handles it without claiming it first.
        """
        ...

    async def claim_inbox(
        self, channel: str, owner: str, limit: int, lease_seconds: float
    ) -> list[InboxItem]:
        """Take up to ``limit`` of the oldest updates that are due: pending, or claimed by a replica whose
        lease ran out. At most one claimer gets each."""
        ...

    async def renew_inbox(self, ids: Sequence[int], owner: str, lease_seconds: float) -> int:
        """Extend the leases of ``owner``'s updates; how many are still its."""
        ...

    async def finish_inbox(self, entry_id: int, owner: str, error: str | None = None) -> bool:
        """Mark the update handled, or given up when ``error`` says why."""
        ...

    async def postpone_inbox(self, entry_id: int, owner: str, until: datetime) -> bool:
        """Give the update back, to be handled again from ``until`` on."""
        ...

    async def forget_inbox(self, before: datetime) -> int:
        """Delete updates handled before ``before``; a resend of one of them is then handled again."""
        ...

    async def inbox_backlog(self, channel: str) -> int:
        """Updates of ``channel`` acknowledged and not handled yet."""
        ...


class KnowledgeStore(StoreLifecycle, Protocol):
    """Training sources, the knowledge versions built from them (with their chunks), the check set they
    are evaluated on and candidate training data (from ratings and corrections) awaiting review."""

    async def upsert_source(
        self,
        name: str,
        type: str,
        title: str,
        checksum: str,
        language: str | None,
        content: dict[str, Any],
    ) -> tuple[SourceRecord, Literal["added", "updated", "unchanged"]]:
        """Insert or update the source called ``name``; an equal checksum leaves it ``unchanged``."""
        ...

    async def list_sources(self) -> list[SourceRecord]: ...
    async def get_source(self, name: str) -> SourceRecord | None:
        """The source called ``name``, or None."""
        ...

    async def delete_sources(self, names: Sequence[str]) -> int:
        """Delete the sources called ``names`` and return how many; their versions keep their chunks."""
        ...

    async def create_version(
        self, chunks: Sequence[NewChunk], *, source_count: int, note: str = "", embedder: str | None = None
    ) -> VersionRecord: ...
    async def activate_version(self, version_id: int) -> VersionRecord: ...
    async def active_version(self) -> VersionRecord | None: ...
    async def list_versions(self) -> list[VersionRecord]: ...
    async def get_version(self, version_id: int) -> VersionRecord | None: ...
    async def update_version(
        self, version_id: int, *, status: str | None = None, metrics: dict[str, Any] | None = None
    ) -> VersionRecord:
        """Record a version's evaluation and/or mark it ``ready`` or ``rejected`` (never ``active``: that
        is :meth:`activate_version`); :class:`NotFound` if unknown, ``ValueError`` if it is active."""
        ...

    async def delete_versions(self, version_ids: Sequence[int]) -> int:
        """Delete versions (not the active one) and their chunks; return how many were deleted."""
        ...

    def iter_chunks(self, version_id: int, batch_size: int = 5000) -> AsyncIterator[list[IndexedChunk]]:
        """Yield the version's chunks in batches, in id order."""
        ...

    async def source_versions(self, names: Sequence[str]) -> dict[str, list[int]]:
        """For each of ``names``, the ids of the versions holding chunks of a source so called, newest
        first (empty when none does). By name: a removed source's chunks keep it. One call for a whole
        list of sources, not one per source."""
        ...

    async def source_chunks(
        self, name: str, version_id: int, *, after_position: int | None = None, limit: int = 20
    ) -> list[ChunkRecord]:
        """The chunks of the source called ``name`` in the version, by position, with positions above
        ``after_position``; empty for an unknown version or a source it does not hold."""
        ...

    async def add_checks(self, checks: Sequence[NewCheck]) -> list[CheckRecord]: ...
    async def list_checks(self) -> list[CheckRecord]: ...
    async def update_check(self, check_id: int, check: NewCheck) -> CheckRecord | None:
        """Give a check new fields (all of them, keeping its id and creation time); None for an unknown id."""
        ...

    async def delete_checks(self, check_ids: Sequence[int]) -> int:
        """Delete checks by id; unknown ids are ignored. Returns how many were deleted."""
        ...

    async def propose_candidate(
        self,
        question: str,
        answer: str,
        origin: str,
        *,
        message_id: int | None = None,
        language: str | None = None,
        created_by: str | None = None,
    ) -> CandidateRecord:
        """Store a pending candidate. One per answer (``message_id``) and origin: proposing it again updates
        a pending one's text and leaves a reviewed one as it is."""
        ...

    async def list_candidates(
        self, status: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[CandidateRecord]:
        """Candidates, oldest first, optionally only those in ``status``."""
        ...

    async def get_candidate(self, candidate_id: int) -> CandidateRecord | None: ...
    async def review_candidates(
        self, candidate_ids: Sequence[int], status: str, reviewer: str
    ) -> list[CandidateRecord]:
        """Mark candidates ``approved``, ``rejected`` or ``pending`` again; returns the changed ones."""
        ...


class AccountStore(StoreLifecycle, Protocol):
    """Admin accounts and API keys (core/accounts.py hashes and checks; the store only keeps rows)."""

    async def create_admin(self, username: str, password_hash: str) -> AdminRecord:
        """A new admin account; ``ValueError`` when the username is taken."""
        ...

    async def find_admin(self, username: str) -> tuple[AdminRecord, str] | None:
        """The admin called ``username`` and their password hash, or None."""
        ...

    async def get_admin(self, admin_id: int) -> tuple[AdminRecord, str] | None:
        """The admin with id ``admin_id`` and their password hash, or None."""
        ...

    async def list_admins(self) -> list[AdminRecord]: ...
    async def set_admin_password_hash(self, admin_id: int, password_hash: str) -> None:
        """Raises :class:`NotFound` for an unknown admin."""
        ...

    async def set_admin_disabled(self, admin_id: int, disabled: bool) -> None:
        """Raises :class:`NotFound` for an unknown admin."""
        ...

    async def create_api_key(
        self, name: str, prefix: str, key_hash: str, scopes: Sequence[str]
    ) -> ApiKeyRecord:
        """Store a key's hash; ``ValueError`` when ``prefix`` is taken."""
        ...

    async def find_api_key(self, prefix: str) -> tuple[ApiKeyRecord, str] | None:
        """The key with ``prefix`` and its stored hash (revoked keys too), or None."""
        ...

    async def list_api_keys(self) -> list[ApiKeyRecord]: ...
    async def revoke_api_key(self, key_id: int, at: datetime) -> ApiKeyRecord:
        """Mark the key revoked at ``at`` (kept if it already was); :class:`NotFound` if unknown."""
        ...

    async def touch_api_key(self, key_id: int, at: datetime) -> None:
        """Record that the key was used at ``at``."""
        ...

    async def revoke_token(self, digest: str, expires_at: datetime) -> None:
        """Refuse the login token whose SHA-256 is ``digest`` until ``expires_at`` (its own expiry)."""
        ...

    async def is_token_revoked(self, digest: str) -> bool: ...
    async def forget_revoked_tokens(self, before: datetime) -> int:
        """Drop revocations of tokens that expired before ``before`` (they are refused anyway); how many."""
        ...

    async def add_link_code(self, admin_id: int, code_hash: str, expires_at: datetime) -> None:
        """Store a one-time code (its SHA-256) that links a channel account to the admin."""
        ...

    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        """Mark the code used and return its admin's id, when it exists, is unused and unexpired at ``now``;
        else None. Two uses at once: one gets the admin, the other None."""
        ...

    async def link_channel_admin(self, admin_id: int, channel: str, external_id: str) -> None:
        """Make the channel's account act as the admin (replacing an earlier link of that account)."""
        ...

    async def channel_admin(self, channel: str, external_id: str) -> AdminRecord | None:
        """The admin the channel's account is linked to, or None."""
        ...


class Store(
    CoordinationStore,
    ConversationStore,
    UsageStore,
    FeedbackStore,
    JobStore,
    KnowledgeStore,
    AccountStore,
    Protocol,
):
    """Every role at once: what the engine, the services and the API see (``otvet.store``), whichever
    backends serve each role (core/storage.py composes them).

    Every method is a coroutine (``exclusive``, ``serialized`` and ``iter_chunks`` return async context
    managers and iterators) and safe to call from any task once :meth:`connect` has run.
    """


#: Each role's name (as settings and ``register_storage`` spell it) and its protocol.
ROLES: dict[str, type] = {
    "coordination": CoordinationStore,
    "conversations": ConversationStore,
    "usage": UsageStore,
    "feedback": FeedbackStore,
    "jobs": JobStore,
    "knowledge": KnowledgeStore,
    "accounts": AccountStore,
}

#: Roles that read another role's records and so follow its backend unless set on their own.
ROLE_HOME: dict[str, str] = {"usage": "conversations", "feedback": "conversations"}

#: ``factory(otvet)`` returns a backend implementing the roles it was registered for.
StoreFactory = Callable[["Otvet"], Any]
