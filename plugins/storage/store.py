"""``TortoiseStore``: the :class:`~otvet.core.store.Store` contract on Tortoise ORM (SQLite, PostgreSQL).

The store owns one :class:`~tortoise.context.TortoiseContext`. Each method runs with that context made current
in the calling task, so the store answers correctly from any task (Starlette requests, Telegram handlers,
workers) and next to other Tortoise users in the process. The context is also offered as Tortoise's global
fallback, so plugin code may query the models directly from any task.

Tortoise keeps each model's base query on the model class, so a process can hold stores on two databases of
the same kind at once (two SQLite files), but not a SQLite and a PostgreSQL store at the same time: the store
connected last sets the SQL dialect. Connecting one after the other is fine (the tests do).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext, set_global_context
from tortoise.exceptions import ConfigurationError, IntegrityError
from tortoise.expressions import Subquery
from tortoise.timezone import now
from tortoise.transactions import in_transaction

from otvet.core.locks import NamedLocks
from otvet.core.retrieval import IndexedChunk
from otvet.core.store import (
    ActivityReport,
    AdminRecord,
    ApiKeyRecord,
    CandidateRecord,
    CheckRecord,
    ChunkRecord,
    ConversationRecord,
    ConversationSummary,
    DatabaseUnavailable,
    FeedbackRecord,
    InboxItem,
    JobRecord,
    NewCheck,
    NewChunk,
    NotFound,
    SourceRecord,
    StoredMessage,
    TurnActivity,
    UsageRow,
    UserRecord,
    VersionRecord,
)
from otvet.core.types import HistoryMessage, SourceRef, Usage
from otvet.plugins.storage import activity, browse, inbox, jobs, rates, schema, slots, training, turns, usage
from otvet.plugins.storage.availability import Availability, Checker, is_outage
from otvet.plugins.storage.chunks import fetch_chunks, insert_chunks
from otvet.plugins.storage.config import (
    collect_model_apps,
    connection_name,
    ensure_sqlite_dir,
    sqlite_path,
    tortoise_config,
)
from otvet.plugins.storage.models import (
    AdminAccount,
    ApiKey,
    ChannelAdmin,
    Chunk,
    Conversation,
    Feedback,
    KnowledgeVersion,
    LinkCode,
    Message,
    RevokedToken,
    Source,
    User,
)
from otvet.plugins.storage.preview import chunk_page, versions_by_source
from otvet.plugins.storage.records import source_record, stored_message, version_record

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.limits import SlotLimit

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Key of the PostgreSQL advisory lock that serialises activations (only one version may end up active).
ACTIVATION_LOCK_KEY = 0x6F7476_616374  # "otv" "act"


@contextlib.contextmanager
def _bind(context: TortoiseContext) -> Iterator[TortoiseContext]:
    """Make ``context`` current in this task until the block ends.

    TortoiseContext's own ``with`` keeps a single token on the instance, so concurrent tasks cannot enter it;
    a token per call can. The context variable is not public API, hence this one place that touches it.
    """
    from tortoise.context import _current_context

    token = _current_context.set(context)
    try:
        yield context
    finally:
        _current_context.reset(token)


def _in_context(
    method: Callable[Concatenate[TortoiseStore, P], Awaitable[R]],
) -> Callable[Concatenate[TortoiseStore, P], Coroutine[Any, Any, R]]:
    """Run a store method with the store's Tortoise context current in the calling task."""

    @functools.wraps(method)
    async def wrapper(self: TortoiseStore, *args: P.args, **kwargs: P.kwargs) -> R:
        self.availability.refuse_if_down()
        with self._current(), self._outages():
            result = await method(self, *args, **kwargs)
        self.availability.succeeded()
        return result

    return wrapper


class TortoiseStore:
    """Persistence on Tortoise ORM. ``connect()`` first; every other method needs the connection."""

    def __init__(self, otvet: Otvet) -> None:
        self.url = otvet.settings.resolved_database_url
        # Ours, and the model apps plugins add through ``register_models``.
        self._model_apps = collect_model_apps(otvet)
        self._ssl = otvet.settings.database_ssl
        #: The Tortoise connection every model app uses (``in_transaction(store.connection_name)``).
        self.connection_name = connection_name(self.url)
        self._context: TortoiseContext | None = None
        self._local_locks = NamedLocks()
        self._timeouts = otvet.settings.database_timeouts
        #: Whether the database answers, as calls and the background check find out.
        self.availability = Availability(retry_after=max(5.0, 2 * self._timeouts.check_seconds))
        self._checker = Checker(
            self._select_one,
            self.availability,
            every=self._timeouts.check_seconds,
            deadline=self._timeouts.ready_seconds,
        )

    @functools.cached_property
    def config(self) -> dict[str, Any]:
        """The Tortoise config, built on first use (``connect()``) rather than with the store.

        Building it reads and checks the TLS files (docs/storage.md#tls): a missing CA file then fails
        ``connect()``, which callers report as a database problem, not the mere creation of the store.
        """
        return tortoise_config(self.url, self._model_apps, ssl=self._ssl, timeouts=self._timeouts)

    @property
    def context(self) -> TortoiseContext:
        """The connected Tortoise context (for plugins and tests that need Tortoise itself)."""
        if self._context is None:
            raise RuntimeError("the store is not connected: call connect() first")
        return self._context

    def _current(self) -> contextlib.AbstractContextManager[TortoiseContext]:
        return _bind(self.context)

    @contextlib.contextmanager
    def _outages(self) -> Iterator[None]:
        """An error of the database going away, as :class:`DatabaseUnavailable` (and marked down)."""
        try:
            yield
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            if is_outage(exc):
                raise self.availability.failed(exc) from exc
            raise

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._context is not None:
            return
        ensure_sqlite_dir(self.url)
        context = TortoiseContext()
        with _bind(context):  # initialising the models already needs the context current
            await context.init(config=self.config)
            try:
                # Fail at start, not at the first question, when the database is unreachable.
                await context.db(self.connection_name).execute_query("SELECT 1")
            except BaseException:
                await context.close_connections()
                raise
        try:
            set_global_context(context)
        except ConfigurationError:
            # Another context (a second Otvet in tests, an embedding app) holds the fallback: our methods
            # do not need it, since they bind our context themselves.
            log.warning("Tortoise's global context is taken: direct model queries may not reach this store")
        self._context = context
        if sqlite_path(self.url) is None:  # a local file has no outages to watch for
            self._checker.start()

    async def close(self) -> None:
        await self._checker.stop()
        if self._context is not None:
            context, self._context = self._context, None
            await context.close_connections()

    @_in_context
    async def migrate(self) -> list[str]:
        return await schema.apply_migrations(self.context.db(self.connection_name), self.config["apps"])

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        with self._current() as context:
            async with schema.advisory_lock(context.db(self.connection_name), schema.lock_key(name)):
                yield

    @contextlib.asynccontextmanager
    async def serialized(self, names: Sequence[str]) -> AsyncIterator[None]:
        if not names:
            yield
            return
        self.availability.refuse_if_down()
        # One task per name in this process waits for the database lock: waiting there holds a pooled
        # connection, and a burst of one user's questions must not take the whole pool.
        async with self._local_locks.hold(names):
            with self._current(), self._outages():
                async with in_transaction(self.connection_name) as connection:
                    await schema.transaction_locks(connection, [schema.lock_key(n) for n in names])
                    yield

    async def ping(self) -> bool:
        """Whether the database answers within ``database_timeouts.ready_seconds``: a frozen server makes
        this False in time, where a plain query would hang with it."""
        if self._context is None:
            return False
        return await self._checker.check()

    async def _select_one(self) -> bool:
        if self._context is None:
            return False
        try:
            with self._current() as context:
                await context.db(self.connection_name).execute_query("SELECT 1")
        except Exception as exc:
            if not is_outage(exc):
                log.warning("database ping failed", exc_info=True)
            return False
        return True

    # --- users and conversations ----------------------------------------------------------------------------

    @_in_context
    async def count_hit(self, key: str, start: int, expires: int, allowed: int) -> int | None:
        return await rates.count_hit(key, start, expires, allowed)

    @_in_context
    async def window_hits(self, key: str, since: int) -> dict[int, int]:
        return await rates.window_hits(key, since)

    @_in_context
    async def forget_windows(self, before: int) -> int:
        return await rates.forget(before)

    @_in_context
    async def take_slot(self, limits: Sequence[SlotLimit]) -> list[float]:
        return await slots.take(self.connection_name, limits)

    @_in_context
    async def forget_slots(self, older_than: float) -> int:
        return await slots.forget(older_than)

    @_in_context
    async def get_or_create_user(
        self, channel: str, external_id: str, display_name: str | None = None
    ) -> UserRecord:
        found = await turns.find_user(channel, external_id)  # every turn: plain SQL (turns.py)
        if found is not None:
            user_id, stored_name, language = found
            if display_name and stored_name != display_name:
                await User.filter(id=user_id).update(display_name=display_name)
            return UserRecord(user_id, channel, external_id, language)
        try:
            user_id = await turns.insert(
                User, channel=channel, external_id=external_id, display_name=display_name
            )
        except IntegrityError:  # the same user's first two messages, handled at once
            user = await User.get(channel=channel, external_id=external_id)
            return UserRecord(user.id, user.channel, user.external_id, user.language)
        return UserRecord(user_id, channel, external_id, None)

    @_in_context
    async def set_user_language(self, user_id: int, language: str | None) -> None:
        await User.filter(id=user_id).update(language=language)

    @_in_context
    async def current_conversation(self, user_id: int, chat_id: str) -> ConversationRecord:
        found = await turns.open_conversation(user_id, chat_id)  # every turn: plain SQL (turns.py)
        if found is not None:
            return ConversationRecord(found[0], user_id, found[1])
        # Two first turns at once (on any replica) must not open two conversations: creating one is a
        # serialized step, and whoever waited finds the one just made. Creating and then deleting a loser
        # instead was racy: a third turn could be handed the loser before it was deleted.
        async with self.serialized([f"conversation:{user_id}:{chat_id}"]):
            found = await turns.open_conversation(user_id, chat_id)
            if found is not None:
                return ConversationRecord(found[0], user_id, found[1])
            created = await turns.insert(Conversation, user_id=user_id, chat_id=chat_id)
        return ConversationRecord(created, user_id, chat_id)

    @_in_context
    async def reset_conversation(self, user_id: int, chat_id: str) -> bool:
        closed = await Conversation.filter(user_id=user_id, chat_id=chat_id, closed_at__isnull=True).update(
            closed_at=now()
        )
        return closed > 0

    @_in_context
    async def history(self, conversation_id: int, limit: int) -> list[HistoryMessage]:
        if limit <= 0:
            return []
        rows = await turns.history(conversation_id, limit)  # every turn: plain SQL (turns.py)
        return [HistoryMessage(role=role, text=text) for role, text in rows]

    @_in_context
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
        usage = usage or Usage()
        insert = (
            functools.partial(turns.insert, Message)
            if answers is None
            else functools.partial(turns.insert_answer, answers)
        )
        return await insert(
            conversation_id=conversation_id,
            user_id=user_id,
            role=role,
            text=text,
            language=language,
            status=status,
            sources=[dataclasses.asdict(source) for source in sources],
            latency_ms=latency_ms,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            provider=provider,
            audio_seconds=audio_seconds,
        )

    @_in_context
    async def set_message_status(self, message_id: int, status: str) -> None:
        await Message.filter(id=message_id).update(status=status)

    @_in_context
    async def interrupt_unanswered(self, before: datetime) -> int:
        return await Message.filter(role="user", status=turns.ANSWERING, created_at__lt=before).update(
            status=turns.INTERRUPTED
        )

    @_in_context
    async def forget_conversations(self, before: datetime) -> int:
        # Messages and their ratings go with their conversation (ON DELETE CASCADE). Selected first, then
        # deleted by id in batches: Tortoise's DELETE with a subquery lost the subquery's condition on SQLite.
        recent = Message.filter(created_at__gte=usage.utc(before)).values("conversation_id")
        old = Conversation.filter(started_at__lt=usage.utc(before)).exclude(id__in=Subquery(recent))
        ids = await old.values_list("id", flat=True)
        for start in range(0, len(ids), 500):  # far below SQLite's bound-parameter limit
            await Conversation.filter(id__in=ids[start : start + 500]).delete()
        return len(ids)

    @_in_context
    async def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = await Message.filter(conversation_id=conversation_id).order_by("id")
        return [stored_message(row) for row in rows]

    # --- usage ----------------------------------------------------------------------------------------------

    @_in_context
    async def count_questions(self, since: datetime, user_id: int | None = None) -> int:
        return await usage.count_questions(since, user_id)

    @_in_context
    async def nth_question_time(self, since: datetime, n: int, user_id: int | None = None) -> datetime | None:
        return await usage.nth_question_time(since, n, user_id)

    @_in_context
    async def tokens_used(self, since: datetime, user_id: int | None = None) -> int:
        return await usage.tokens_used(since, user_id)

    @_in_context
    async def audio_seconds_used(self, since: datetime, user_id: int) -> int:
        return await usage.audio_seconds_used(since, user_id)

    @_in_context
    async def usage_report(
        self, since: datetime, until: datetime, group_by: Literal["user", "day", "provider"]
    ) -> list[UsageRow]:
        return await usage.usage_report(self.context.db(self.connection_name), since, until, group_by)

    @_in_context
    async def record_activity(self, turn: TurnActivity) -> None:
        await activity.record(self.context.db(self.connection_name), turn)

    @_in_context
    async def activity(self, since: date, until: date) -> ActivityReport:
        return await activity.report(since, until)

    @_in_context
    async def add_feedback(self, message_id: int, user_id: int, value: int, comment: str = "") -> int:
        if value not in (-1, 1):
            raise ValueError(f"feedback is -1 or +1, not {value!r}")
        if not await Message.exists(id=message_id):
            raise NotFound(f"message {message_id} does not exist")
        # One rating per user and message: tapping 👎 after 👍 changes the rating, it does not add one. The
        # change is counted in the activity in the same transaction, so the counts match the ratings.
        async with in_transaction(self.connection_name) as connection:
            rating = Feedback.select_for_update().filter(message_id=message_id, user_id=user_id)
            feedback = await rating.first()
            if feedback is None:
                try:
                    async with in_transaction(self.connection_name):  # a savepoint: the outer one goes on
                        feedback = await Feedback.create(
                            message_id=message_id, user_id=user_id, value=value, comment=comment
                        )
                    await activity.record_rating(
                        connection, feedback.created_at, user_id, int(value > 0), int(value < 0)
                    )
                    return feedback.id
                except IntegrityError:  # two taps at once: the other one inserted first, so update that
                    feedback = await rating.get()
            before = feedback.value
            feedback.value, feedback.comment = value, comment
            await feedback.save(update_fields=["value", "comment"])
            await activity.record_rating(
                connection,
                feedback.created_at,
                user_id,
                int(value > 0) - int(before > 0),
                int(value < 0) - int(before < 0),
            )
            return feedback.id

    # --- browsing (the API) ---------------------------------------------------------------------------------

    @_in_context
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
        return await browse.list_conversations(
            channel=channel,
            user_id=user_id,
            external_id=external_id,
            since=since,
            until=until,
            text=text,
            rating=rating,
            before_id=before_id,
            limit=limit,
        )

    @_in_context
    async def get_conversation(self, conversation_id: int) -> ConversationSummary | None:
        return await browse.get_conversation(conversation_id)

    @_in_context
    async def message_page(
        self, conversation_id: int, *, after_id: int | None = None, limit: int = 50
    ) -> list[StoredMessage]:
        return await browse.message_page(conversation_id, after_id, limit)

    @_in_context
    async def get_message(self, message_id: int) -> StoredMessage | None:
        return await browse.get_message(message_id)

    @_in_context
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
        return await browse.list_feedback(
            value=value,
            conversation_id=conversation_id,
            since=since,
            until=until,
            before_id=before_id,
            limit=limit,
        )

    @_in_context
    async def list_jobs(
        self, *, status: str | None = None, before_id: int | None = None, limit: int = 20
    ) -> list[JobRecord]:
        return await browse.list_jobs(status, before_id, limit)

    @_in_context
    async def get_job(self, job_id: int) -> JobRecord | None:
        return await browse.get_job(job_id)

    # --- the job queue (plugins/storage/jobs.py explains why claiming is safe) ------------------------------

    @_in_context
    async def enqueue_job(self, type: str, payload: dict[str, Any] | None = None) -> JobRecord:
        return await jobs.enqueue(type, payload)

    @_in_context
    async def claim_job(
        self, worker_id: str, lease_seconds: float, types: Sequence[str] | None = None
    ) -> JobRecord | None:
        async with in_transaction(self.connection_name) as connection:
            return await jobs.claim(connection, worker_id, lease_seconds, types)

    # --- the webhook inbox ----------------------------------------------------------------------------------

    @_in_context
    async def add_to_inbox(
        self, channel: str, key: str, payload: str, *, owner: str | None = None, lease_seconds: float = 0.0
    ) -> int | None:
        return await inbox.add(channel, key, payload, owner, lease_seconds)

    @_in_context
    async def claim_inbox(
        self, channel: str, owner: str, limit: int, lease_seconds: float
    ) -> list[InboxItem]:
        async with in_transaction(self.connection_name) as connection:
            return await inbox.claim(connection, channel, owner, limit, lease_seconds)

    @_in_context
    async def renew_inbox(self, ids: Sequence[int], owner: str, lease_seconds: float) -> int:
        return await inbox.renew(ids, owner, lease_seconds)

    @_in_context
    async def finish_inbox(self, entry_id: int, owner: str, error: str | None = None) -> bool:
        return await inbox.finish(entry_id, owner, error)

    @_in_context
    async def postpone_inbox(self, entry_id: int, owner: str, until: datetime) -> bool:
        return await inbox.postpone(entry_id, owner, until)

    @_in_context
    async def forget_inbox(self, before: datetime) -> int:
        return await inbox.forget(before)

    @_in_context
    async def inbox_backlog(self, channel: str) -> int:
        return await inbox.backlog(channel)

    @_in_context
    async def heartbeat_job(
        self, job_id: int, worker_id: str, lease_seconds: float, progress: float, message: str | None = None
    ) -> bool:
        return await jobs.heartbeat(job_id, worker_id, lease_seconds, progress, message)

    @_in_context
    async def finish_job(self, job_id: int, worker_id: str, result: dict[str, Any] | None = None) -> bool:
        return await jobs.finish(job_id, worker_id, result)

    @_in_context
    async def fail_job(self, job_id: int, worker_id: str, error: str, retry_at: datetime | None) -> bool:
        return await jobs.fail(job_id, worker_id, error, retry_at)

    @_in_context
    async def release_job(self, job_id: int, worker_id: str, *, cancelled: bool = False) -> bool:
        return await jobs.release(job_id, worker_id, cancelled)

    @_in_context
    async def cancel_job(self, job_id: int) -> JobRecord:
        return await jobs.cancel(job_id)

    @_in_context
    async def count_jobs(self) -> dict[tuple[str, str], int]:
        return await jobs.count_unfinished()

    # --- knowledge ------------------------------------------------------------------------------------------

    @_in_context
    async def upsert_source(
        self,
        name: str,
        type: str,
        title: str,
        checksum: str,
        language: str | None,
        content: dict[str, Any],
    ) -> tuple[SourceRecord, Literal["added", "updated", "unchanged"]]:
        fields = {
            "type": type,
            "title": title,
            "checksum": checksum,
            "language": language,
            "content": content,
        }
        source = await Source.get_or_none(name=name)
        if source is None:
            try:
                source = await Source.create(name=name, **fields)
                return source_record(source), "added"
            except IntegrityError:  # added meanwhile by another process: update it like any existing one
                source = await Source.get(name=name)
        if source.checksum == checksum:
            return source_record(source), "unchanged"
        source.update_from_dict(fields)
        await source.save()
        return source_record(source), "updated"

    @_in_context
    async def list_sources(self) -> list[SourceRecord]:
        return [source_record(source) for source in await Source.all().order_by("id")]

    @_in_context
    async def get_source(self, name: str) -> SourceRecord | None:
        if len(name) > Source._meta.fields_map["name"].max_length:  # type: ignore[attr-defined]
            return None  # longer than any stored name (PostgreSQL would refuse to compare it)
        source = await Source.get_or_none(name=name)
        return None if source is None else source_record(source)

    @_in_context
    async def delete_sources(self, names: Sequence[str]) -> int:
        # Chunks of existing versions keep their copy of the source's name and title (rollback still works).
        # Counted first: SQLite's count of changed rows includes the chunks whose link was set to null.
        # A name longer than the column cannot be stored, so it names nothing; PostgreSQL would refuse to
        # compare it with the column at all.
        longest = Source._meta.fields_map["name"].max_length  # type: ignore[attr-defined]
        sources = Source.filter(name__in=[name for name in names if len(name) <= longest])
        found = await sources.count()
        await sources.delete()
        return found

    @_in_context
    async def create_version(
        self, chunks: Sequence[NewChunk], *, source_count: int, note: str = "", embedder: str | None = None
    ) -> VersionRecord:
        labels = await self._source_labels({chunk.source_id for chunk in chunks})
        # One transaction: other processes never see a half-stored version.
        async with in_transaction(self.connection_name) as connection:
            version = await KnowledgeVersion.create(
                status="ready",
                chunk_count=len(chunks),
                source_count=source_count,
                note=note,
                embedder=embedder,
                using_db=connection,
            )
            await insert_chunks(connection, version.id, chunks, labels)
        await _refresh_statistics(self.context.db(self.connection_name))
        return version_record(version)

    async def _source_labels(self, source_ids: set[int]) -> dict[int, tuple[str, str]]:
        """Name and title of each source, copied onto its chunks (a version must outlive source edits)."""
        labels: dict[int, tuple[str, str]] = {}
        ids = sorted(source_ids)
        for start in range(0, len(ids), 500):  # stay far below SQLite's bound-parameter limit
            rows = await Source.filter(id__in=ids[start : start + 500]).values_list("id", "name", "title")
            labels.update({row_id: (name, title) for row_id, name, title in rows})
        missing = source_ids - labels.keys()
        if missing:
            raise ValueError(f"chunks refer to unknown source ids: {sorted(missing)[:10]}")
        return labels

    @_in_context
    async def activate_version(self, version_id: int) -> VersionRecord:
        async with in_transaction(self.connection_name) as connection:
            await _serialise_activations(connection)
            version = await KnowledgeVersion.filter(id=version_id).using_db(connection).first()
            if version is None:
                raise NotFound(f"knowledge version {version_id} does not exist")
            if version.status in ("building", "failed"):
                raise ValueError(f"knowledge version {version_id} is {version.status}, not activatable")
            if version.status != "active":
                await KnowledgeVersion.filter(status="active").using_db(connection).update(status="retired")
                version.status = "active"
                version.activated_at = now()
                await version.save(using_db=connection, update_fields=["status", "activated_at"])
        return version_record(version)

    @_in_context
    async def active_version(self) -> VersionRecord | None:
        version = await KnowledgeVersion.filter(status="active").order_by("-activated_at", "-id").first()
        return None if version is None else version_record(version)

    @_in_context
    async def list_versions(self) -> list[VersionRecord]:
        return [version_record(version) for version in await KnowledgeVersion.all().order_by("-id")]

    @_in_context
    async def get_version(self, version_id: int) -> VersionRecord | None:
        return await training.get_version(version_id)

    @_in_context
    async def update_version(
        self, version_id: int, *, status: str | None = None, metrics: dict[str, Any] | None = None
    ) -> VersionRecord:
        return await training.update_version(version_id, status, metrics)

    @_in_context
    async def delete_versions(self, version_ids: Sequence[int]) -> int:
        return await training.delete_versions(version_ids)

    # --- the check set and candidate training data (plugins/storage/training.py) ----------------------------

    @_in_context
    async def add_checks(self, checks: Sequence[NewCheck]) -> list[CheckRecord]:
        return await training.add_checks(checks)

    @_in_context
    async def list_checks(self) -> list[CheckRecord]:
        return await training.list_checks()

    @_in_context
    async def update_check(self, check_id: int, check: NewCheck) -> CheckRecord | None:
        return await training.update_check(check_id, check)

    @_in_context
    async def delete_checks(self, check_ids: Sequence[int]) -> int:
        return await training.delete_checks(check_ids)

    @_in_context
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
        return await training.propose_candidate(question, answer, origin, message_id, language, created_by)

    @_in_context
    async def list_candidates(
        self, status: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[CandidateRecord]:
        return await training.list_candidates(status, limit, offset)

    @_in_context
    async def get_candidate(self, candidate_id: int) -> CandidateRecord | None:
        return await training.get_candidate(candidate_id)

    @_in_context
    async def review_candidates(
        self, candidate_ids: Sequence[int], status: str, reviewer: str
    ) -> list[CandidateRecord]:
        return await training.review_candidates(candidate_ids, status, reviewer)

    async def iter_chunks(self, version_id: int, batch_size: int = 5000) -> AsyncIterator[list[IndexedChunk]]:
        last_id = 0
        while True:
            # Bind per batch, never across a ``yield``: the consumer may resume us from another task.
            with self._current() as context:
                batch = await fetch_chunks(context.db(self.connection_name), version_id, last_id, batch_size)
            if not batch:
                return
            yield batch
            if len(batch) < batch_size:
                return
            last_id = batch[-1].chunk_id

    @_in_context
    async def source_versions(self, names: Sequence[str]) -> dict[str, list[int]]:
        return await versions_by_source(names)

    @_in_context
    async def source_chunks(
        self, name: str, version_id: int, *, after_position: int | None = None, limit: int = 20
    ) -> list[ChunkRecord]:
        return await chunk_page(name, version_id, after_position, limit)

    # --- admin accounts and API keys (hashing and checks live in core/accounts.py) --------------------------

    @_in_context
    async def create_admin(self, username: str, password_hash: str) -> AdminRecord:
        try:
            admin = await AdminAccount.create(username=username, password_hash=password_hash)
        except IntegrityError:
            raise ValueError(f"an admin called {username!r} already exists") from None
        return _admin_record(admin)

    @_in_context
    async def find_admin(self, username: str) -> tuple[AdminRecord, str] | None:
        if len(username) > AdminAccount._meta.fields_map["username"].max_length:  # type: ignore[attr-defined]
            return None  # longer than any stored name: no one (the ORM would refuse to compare it)
        admin = await AdminAccount.get_or_none(username=username)
        return None if admin is None else (_admin_record(admin), admin.password_hash)

    @_in_context
    async def get_admin(self, admin_id: int) -> tuple[AdminRecord, str] | None:
        admin = await AdminAccount.get_or_none(id=admin_id)
        return None if admin is None else (_admin_record(admin), admin.password_hash)

    @_in_context
    async def list_admins(self) -> list[AdminRecord]:
        return [_admin_record(admin) for admin in await AdminAccount.all().order_by("id")]

    @_in_context
    async def set_admin_password_hash(self, admin_id: int, password_hash: str) -> None:
        if not await AdminAccount.filter(id=admin_id).update(password_hash=password_hash):
            raise NotFound(f"admin {admin_id} does not exist")

    @_in_context
    async def set_admin_disabled(self, admin_id: int, disabled: bool) -> None:
        if not await AdminAccount.filter(id=admin_id).update(disabled=disabled):
            raise NotFound(f"admin {admin_id} does not exist")

    @_in_context
    async def create_api_key(
        self, name: str, prefix: str, key_hash: str, scopes: Sequence[str]
    ) -> ApiKeyRecord:
        try:
            key = await ApiKey.create(name=name, prefix=prefix, key_hash=key_hash, scopes=list(scopes))
        except IntegrityError:
            raise ValueError(f"an API key with prefix {prefix!r} already exists") from None
        return _api_key_record(key)

    @_in_context
    async def find_api_key(self, prefix: str) -> tuple[ApiKeyRecord, str] | None:
        row = await turns.find_api_key(prefix)  # every request: plain SQL (turns.py)
        if row is None:
            return None
        key_hash = row.pop("key_hash")
        return ApiKeyRecord(**{**row, "scopes": tuple(row["scopes"] or ())}), key_hash

    @_in_context
    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return [_api_key_record(key) for key in await ApiKey.all().order_by("id")]

    @_in_context
    async def revoke_api_key(self, key_id: int, at: datetime) -> ApiKeyRecord:
        # Only a live key gets a revocation time: revoking twice keeps the first one.
        await ApiKey.filter(id=key_id, revoked_at__isnull=True).update(revoked_at=at)
        key = await ApiKey.get_or_none(id=key_id)
        if key is None:
            raise NotFound(f"API key {key_id} does not exist")
        return _api_key_record(key)

    @_in_context
    async def touch_api_key(self, key_id: int, at: datetime) -> None:
        await ApiKey.filter(id=key_id).update(last_used_at=at)

    @_in_context
    async def revoke_token(self, digest: str, expires_at: datetime) -> None:
        with contextlib.suppress(IntegrityError):  # signed out twice (two tabs): already refused
            await RevokedToken.create(digest=digest, expires_at=expires_at)

    @_in_context
    async def is_token_revoked(self, digest: str) -> bool:
        return await RevokedToken.exists(digest=digest)

    @_in_context
    async def forget_revoked_tokens(self, before: datetime) -> int:
        return await RevokedToken.filter(expires_at__lt=before).delete()

    @_in_context
    async def add_link_code(self, admin_id: int, code_hash: str, expires_at: datetime) -> None:
        await LinkCode.create(admin_id=admin_id, code_hash=code_hash, expires_at=expires_at)

    @_in_context
    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        # One UPDATE marks it used only if it still is usable: of two uses at once, one changes the row.
        live = LinkCode.filter(code_hash=code_hash, used_at__isnull=True, expires_at__gt=now)
        if not await live.update(used_at=now):
            return None
        code = await LinkCode.get(code_hash=code_hash)
        return code.admin_id  # type: ignore[attr-defined,no-any-return]

    @_in_context
    async def link_channel_admin(self, admin_id: int, channel: str, external_id: str) -> None:
        async with in_transaction(self.connection_name):
            await ChannelAdmin.filter(channel=channel, external_id=external_id).delete()
            await ChannelAdmin.create(admin_id=admin_id, channel=channel, external_id=external_id)

    @_in_context
    async def channel_admin(self, channel: str, external_id: str) -> AdminRecord | None:
        link = (
            await ChannelAdmin.filter(channel=channel, external_id=external_id)
            .select_related("admin")
            .first()
        )
        return None if link is None else _admin_record(link.admin)


def _admin_record(admin: AdminAccount) -> AdminRecord:
    return AdminRecord(admin.id, admin.username, admin.created_at, admin.disabled)


def _api_key_record(key: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=tuple(key.scopes or ()),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


async def _serialise_activations(connection: BaseDBAsyncClient) -> None:
    """On PostgreSQL, make concurrent activations queue up, so exactly one version ends up active.

    SQLite needs nothing: Tortoise runs a process's SQLite transactions one at a time, and between processes
    SQLite lets one writer commit and makes the other fail with "database is locked".
    """
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [ACTIVATION_LOCK_KEY])


async def _refresh_statistics(connection: BaseDBAsyncClient) -> None:
    """On PostgreSQL, let the planner see the new chunks before the version is read back (right away).

    Without fresh statistics it expects a handful of rows per version, plans a bitmap scan and a sort of the
    whole version for every batch of ``iter_chunks``, and loading 100,000 chunks takes seconds, not one.
    """
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(f"ANALYZE {Chunk._meta.db_table}")
