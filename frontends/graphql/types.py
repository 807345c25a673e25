"""The schema's object types and enums, each built from the core's records by a ``from_*`` constructor."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from otvet.core import accounts
from otvet.core import store as records
from otvet.core import types as core
from otvet.core.knowledge import IngestReport
from otvet.frontends.graphql import errors
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.pagination import PageInfo, decode_cursor, page, page_size
from otvet.frontends.graphql.source_preview import ChunkConnection, chunks_of, versions_of


def _id(value: int | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


# --- accounts -----------------------------------------------------------------------------------------------


@strawberry.enum(description="What a credential may do. `ADMIN` includes `READ` and `ASK`.")
class Scope(Enum):
    ASK = "ask"
    READ = "read"
    ADMIN = "admin"


@strawberry.enum(description="Who is calling: a logged-in admin or an API key.")
class PrincipalKind(Enum):
    ADMIN = "admin"
    API_KEY = "api_key"


def _scopes(names: frozenset[str] | tuple[str, ...]) -> list[Scope]:
    return [scope for scope in Scope if scope.value in names]


@strawberry.type(description="The caller of this request.")
class Principal:
    kind: PrincipalKind
    id: strawberry.ID
    name: str = strawberry.field(description="The admin's username or the API key's name.")
    scopes: list[Scope]

    @classmethod
    def from_principal(cls, principal: accounts.Principal) -> Principal:
        return cls(
            kind=PrincipalKind(principal.kind),
            id=strawberry.ID(str(principal.id)),
            name=principal.name,
            scopes=_scopes(principal.scopes),
        )


@strawberry.type(description="An API key as listed: never the key itself.")
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The clear part of `otv_<prefix>_<secret>`.")
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(description="Recorded at most once a minute.")
    revoked_at: datetime | None

    @classmethod
    def from_record(cls, record: records.ApiKeyRecord) -> ApiKey:
        return cls(
            id=strawberry.ID(str(record.id)),
            name=record.name,
            prefix=record.prefix,
            scopes=_scopes(record.scopes),
            created_at=record.created_at,
            last_used_at=record.last_used_at,
            revoked_at=record.revoked_at,
        )


@strawberry.type(description="A new API key. `key` is shown this once: only its hash is stored.")
class CreatedApiKey:
    key: str
    api_key: ApiKey


@strawberry.type(description="An admin account.")
class Admin:
    id: strawberry.ID
    username: str
    created_at: datetime
    disabled: bool

    @classmethod
    def from_record(cls, record: records.AdminRecord) -> Admin:
        return cls(
            id=strawberry.ID(str(record.id)),
            username=record.username,
            created_at=record.created_at,
            disabled=record.disabled,
        )


@strawberry.type(description="A short-lived login token: send it as `Authorization: Bearer <token>`.")
class LoginResult:
    token: str
    expires_at: datetime


# --- answers ------------------------------------------------------------------------------------------------


@strawberry.type(description="A passage an answer cites.")
class SourceRef:
    title: str
    section: str | None = strawberry.field(description="The heading inside the source, if any.")
    name: str | None = strawberry.field(description="The source's name in the knowledge base.")
    url: str | None
    source_id: strawberry.ID | None
    chunk_id: strawberry.ID | None

    @classmethod
    def from_ref(cls, ref: core.SourceRef) -> SourceRef:
        return cls(
            title=ref.title,
            section=ref.section,
            name=ref.name,
            url=ref.url,
            source_id=_id(ref.source_id),
            chunk_id=_id(ref.chunk_id),
        )


@strawberry.type(description="Tokens a provider used (estimated when it does not tell).")
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_usage(cls, usage: core.Usage) -> TokenUsage:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


@strawberry.type(description="An answer, complete, with the sources it cites.")
class Answer:
    text: str
    language: str
    sources: list[SourceRef]
    usage: TokenUsage
    provider: str = strawberry.field(description="The provider that answered (`extractive`, `openai`...).")
    grounded: bool = strawberry.field(description="False when the knowledge base did not cover the question.")
    fallback: bool = strawberry.field(
        description="True when the main provider failed and the knowledge base was quoted instead."
    )
    conversation_id: strawberry.ID | None
    message_id: strawberry.ID | None = strawberry.field(description="Rate it with `sendFeedback`.")
    latency_ms: int

    @classmethod
    def from_final(cls, final: core.Final) -> Answer:
        return cls(
            text=final.text,
            language=final.language,
            sources=[SourceRef.from_ref(ref) for ref in final.sources],
            usage=TokenUsage.from_usage(final.usage),
            provider=final.provider,
            grounded=final.grounded,
            fallback=final.fallback,
            conversation_id=_id(final.conversation_id),
            message_id=_id(final.message_id),
            latency_ms=final.latency_ms,
        )


@strawberry.type(description="A piece of an answer, streamed as the provider writes it.")
class AnswerDelta:
    text: str


@strawberry.type(
    description="The question could not be answered. `message` is localized and safe to show; `code` is "
    "stable: `empty_question`, `question_too_long`, `provider_timeout`, `provider_error`, "
    "`context_too_long`, `internal_error`, `refused` (a plugin's moderation), and the quotas' "
    "`user_rate_limited`, `user_tokens_exhausted`, "
    "`busy`, `tokens_exhausted` (with `retryAfter`)."
)
class AnswerFailure:
    code: str
    message: str
    language: str
    conversation_id: strawberry.ID | None
    retry_after: float | None = strawberry.field(description="Seconds until asking again can succeed.")

    @classmethod
    def from_failure(cls, failure: core.Failure) -> AnswerFailure:
        return cls(
            code=failure.code,
            message=failure.message,
            language=failure.language,
            conversation_id=_id(failure.conversation_id),
            retry_after=failure.retry_after,
        )


AskResult = Annotated[
    Answer | AnswerFailure, strawberry.union("AskResult", description="An answer, or why there is none.")
]
AskEvent = Annotated[
    AnswerDelta | Answer | AnswerFailure,
    strawberry.union(
        "AskEvent", description="`AnswerDelta`s as the answer is written, then an `Answer` or a failure."
    ),
]


def ask_result(event: core.Final | core.Failure) -> Answer | AnswerFailure:
    if isinstance(event, core.Failure) and event.code == "unavailable":
        # Not an answer that failed: the service is down for a moment, a request error like any other.
        raise errors.unavailable(records.DatabaseUnavailable(retry_after=event.retry_after or 5.0))
    return Answer.from_final(event) if isinstance(event, core.Final) else AnswerFailure.from_failure(event)


# --- conversations ------------------------------------------------------------------------------------------


@strawberry.enum
class MessageRole(Enum):
    USER = "user"
    ASSISTANT = "assistant"


@strawberry.type(description="A question or an answer.")
class Message:
    id: strawberry.ID
    conversation_id: strawberry.ID
    role: MessageRole
    text: str
    language: str | None
    status: str = strawberry.field(
        description="`ok`; `answering` for a question whose answer is being written; `failed`, `cancelled` "
        "or `interrupted` (the service stopped while answering) for a question that got no answer; "
        "`rejected` for a question a quota refused."
    )
    sources: list[SourceRef]
    usage: TokenUsage
    provider: str | None
    latency_ms: int | None
    created_at: datetime

    @classmethod
    def from_record(cls, message: records.StoredMessage) -> Message:
        return cls(
            id=strawberry.ID(str(message.id)),
            conversation_id=strawberry.ID(str(message.conversation_id)),
            role=MessageRole(message.role),
            text=message.text,
            language=message.language,
            status=message.status,
            sources=[SourceRef.from_ref(ref) for ref in message.sources],
            usage=TokenUsage.from_usage(message.usage),
            provider=message.provider,
            latency_ms=message.latency_ms,
            created_at=message.created_at,
        )


@strawberry.type(description="A page of messages, oldest first.")
class MessageConnection:
    nodes: list[Message]
    page_info: PageInfo


@strawberry.type(description="A person (or a shared chat) as one channel knows them.")
class ChatUser:
    id: strawberry.ID
    channel: str = strawberry.field(description="`telegram`, `graphql`, `cli`...")
    external_id: str = strawberry.field(description="The id inside the channel.")
    display_name: str | None


@strawberry.type(description="One history window of a user in a chat; resetting starts a new one.")
class Conversation:
    id: strawberry.ID
    chat_id: str
    started_at: datetime
    closed_at: datetime | None = strawberry.field(description="Null while the conversation is open.")
    user: ChatUser

    @classmethod
    def from_record(cls, record: records.ConversationSummary) -> Conversation:
        return cls(
            id=strawberry.ID(str(record.id)),
            chat_id=record.chat_id,
            started_at=record.started_at,
            closed_at=record.closed_at,
            user=ChatUser(
                id=strawberry.ID(str(record.user_id)),
                channel=record.channel,
                external_id=record.external_id,
                display_name=record.display_name,
            ),
        )

    @strawberry.field(description="The conversation's messages, oldest first (at most 100 a page).")
    async def messages(self, info: Info, first: int = 50, after: str | None = None) -> MessageConnection:
        limit = page_size(first)
        rows = await context_of(info).otvet.store.message_page(
            int(self.id), after_id=decode_cursor("message", after), limit=limit + 1
        )
        items, page_info = page(rows, limit, "message", lambda m: m.id)
        return MessageConnection(nodes=[Message.from_record(m) for m in items], page_info=page_info)


@strawberry.type(description="A page of conversations, newest first.")
class ConversationConnection:
    nodes: list[Conversation]
    page_info: PageInfo


@strawberry.type(description="A 👍 (+1) or 👎 (-1) on an answer.")
class Feedback:
    id: strawberry.ID
    message_id: strawberry.ID
    conversation_id: strawberry.ID
    user: ChatUser
    value: int
    comment: str
    created_at: datetime

    @classmethod
    def from_record(cls, record: records.FeedbackRecord) -> Feedback:
        return cls(
            id=strawberry.ID(str(record.id)),
            message_id=strawberry.ID(str(record.message_id)),
            conversation_id=strawberry.ID(str(record.conversation_id)),
            user=ChatUser(
                id=strawberry.ID(str(record.user_id)),
                channel=record.channel,
                external_id=record.external_id,
                display_name=None,
            ),
            value=record.value,
            comment=record.comment,
            created_at=record.created_at,
        )


@strawberry.type(description="A page of feedback, newest first.")
class FeedbackConnection:
    nodes: list[Feedback]
    page_info: PageInfo


# --- usage --------------------------------------------------------------------------------------------------


@strawberry.enum(description="How a usage report is grouped.")
class UsageGrouping(Enum):
    USER = "user"
    DAY = "day"
    PROVIDER = "provider"


@strawberry.type(description="What a user, a UTC day or a provider accounted for in a period.")
class UsageRow:
    key: str = strawberry.field(
        description="The user's id, the day (`YYYY-MM-DD`) or the provider; empty for messages without one."
    )
    label: str
    questions: int = strawberry.field(description="Questions asked (quota refusals not included).")
    answers: int
    failed: int
    rejected: int = strawberry.field(description="Questions a quota refused.")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_record(cls, row: records.UsageRow) -> UsageRow:
        return cls(
            key=row.key,
            label=row.label,
            questions=row.questions,
            answers=row.answers,
            failed=row.failed,
            rejected=row.rejected,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            total_tokens=row.total_tokens,
        )


# --- knowledge ----------------------------------------------------------------------------------------------


@strawberry.type(description="A training source: a parsed file, text or set of Q&A pairs.")
class Source:
    id: strawberry.ID
    name: str = strawberry.field(description="Unique: adding a source with the same name updates it.")
    type: str = strawberry.field(description="The parser: `markdown`, `text`, `qa_csv`, `qa_json`...")
    title: str
    language: str | None
    checksum: str
    updated_at: datetime
    sections: int = strawberry.field(description="Sections of text it holds.")
    qa_pairs: int = strawberry.field(description="Question/answer pairs it holds.")

    @classmethod
    def from_record(cls, record: records.SourceRecord) -> Source:
        return cls(
            id=strawberry.ID(str(record.id)),
            name=record.name,
            type=record.type,
            title=record.title,
            language=record.language,
            checksum=record.checksum,
            updated_at=record.updated_at,
            sections=len(record.content.get("sections", [])),
            qa_pairs=len(record.content.get("qa_pairs", [])),
        )

    @strawberry.field(
        description="Ids of the knowledge versions holding chunks of this source (by its name), newest first."
    )
    async def versions(self, info: Info) -> list[strawberry.ID]:
        return await versions_of(info, self.name)

    @strawberry.field(
        description="How the source was cut into chunks in a version (default: the active one), in position "
        "order; empty when that version does not hold it."
    )
    async def chunks(
        self, info: Info, version_id: strawberry.ID | None = None, first: int = 20, after: str | None = None
    ) -> ChunkConnection:
        return await chunks_of(info, self.name, version_id, first, after)


@strawberry.enum(description="A knowledge version's state; exactly one is `ACTIVE`.")
class VersionStatus(Enum):
    BUILDING = "building"
    READY = "ready"
    ACTIVE = "active"
    RETIRED = "retired"
    REJECTED = "rejected"
    FAILED = "failed"


@strawberry.type(
    description="A version's scores on the check set and the gate's decision (docs/knowledge.md). Scores are "
    "null when no check measures them."
)
class VersionEvaluation:
    checks: int = strawberry.field(description="Checks it was evaluated on; 0 when the check set was empty.")
    k: int | None = strawberry.field(description="Passages searched per check (`hitAtK`).")
    hit_at_1: float | None = strawberry.field(description="Share of checks whose expected source came first.")
    hit_at_k: float | None = strawberry.field(description="Share whose expected source was in the first k.")
    answers: float | None = strawberry.field(description="Share whose passages held the expected answer.")
    promoted: bool | None = strawberry.field(description="Whether the gate (or a forced promote) let it in.")
    decision: str | None = strawberry.field(description="Why it was promoted or not, in words.")

    @classmethod
    def maybe(cls, metrics: dict[str, Any] | None) -> VersionEvaluation | None:
        if not metrics:
            return None
        return cls(
            checks=metrics.get("checks", 0),
            k=metrics.get("k"),
            hit_at_1=metrics.get("hit1"),
            hit_at_k=metrics.get("hitk"),
            answers=metrics.get("answers"),
            promoted=metrics.get("promoted"),
            decision=metrics.get("decision"),
        )


@strawberry.type(description="A frozen set of chunks built from the sources; older ones stay for rollback.")
class KnowledgeVersion:
    id: strawberry.ID
    status: VersionStatus
    chunk_count: int
    source_count: int
    created_at: datetime
    activated_at: datetime | None
    note: str
    embedder: str | None = strawberry.field(description="`name:model` of its vectors; null for BM25 alone.")
    evaluation: VersionEvaluation | None = strawberry.field(
        description="Its scores on the check set when it was built or last promoted; null before that."
    )

    @classmethod
    def from_record(cls, record: records.VersionRecord) -> KnowledgeVersion:
        return cls(
            id=strawberry.ID(str(record.id)),
            status=VersionStatus(record.status),
            chunk_count=record.chunk_count,
            source_count=record.source_count,
            created_at=record.created_at,
            activated_at=record.activated_at,
            note=record.note,
            embedder=record.embedder,
            evaluation=VersionEvaluation.maybe(record.metrics),
        )

    @classmethod
    def maybe(cls, record: records.VersionRecord | None) -> KnowledgeVersion | None:
        return None if record is None else cls.from_record(record)


@strawberry.type(description="What adding or uploading sources changed (by source name).")
class IngestResult:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str] = strawberry.field(description="Demo sources replaced by the first real ones.")
    version: KnowledgeVersion | None = strawberry.field(
        description="The version built: `ACTIVE` when promoted, `REJECTED` when it scored worse than the "
        "active one on the check set (see `evaluation`); null when nothing changed or `rebuild` was false."
    )

    @classmethod
    def from_report(cls, report: IngestReport) -> IngestResult:
        return cls(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            removed=report.removed,
            version=KnowledgeVersion.maybe(report.version),
        )


@strawberry.type(description="What removing sources changed.")
class RemoveSourcesResult:
    removed: int = strawberry.field(description="How many of the named sources existed and were removed.")
    version: KnowledgeVersion | None = strawberry.field(
        description="The version built without them; null when none was removed or `rebuild` was false."
    )


@strawberry.type(description="A background job (training work run by a worker).")
class Job:
    id: strawberry.ID
    type: str
    status: str = strawberry.field(description="`queued`, `running`, `succeeded`, `failed` or `cancelled`.")
    payload: JSON
    progress: float = strawberry.field(description="0 to 1.")
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: JSON | None = strawberry.field(
        description="What the job produced once it succeeded (a retrain's `version_id`, a fine-tune's "
        "`fine_tuned_model`...).",
    )
    message: str | None = strawberry.field(description="The job's last progress message.")

    @classmethod
    def from_record(cls, record: records.JobRecord) -> Job:
        return cls(
            id=strawberry.ID(str(record.id)),
            type=record.type,
            status=record.status,
            payload=record.payload,
            progress=record.progress,
            error=record.error,
            attempts=record.attempts,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            result=record.result,
            message=record.message,
        )


@strawberry.type(description="A page of jobs, newest first.")
class JobConnection:
    nodes: list[Job]
    page_info: PageInfo
