"""The ``Query`` type: the caller, conversations and messages, feedback, usage, and (admin) the knowledge
base, jobs and accounts. Growing lists are paged (see pagination.py); small admin tables are plain lists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry
from strawberry.types import Info

from otvet.frontends.graphql.activity import ActivityQueries
from otvet.frontends.graphql.candidates import CandidateQueries
from otvet.frontends.graphql.checks import Check, CheckQueries
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import bad_input
from otvet.frontends.graphql.inputs import ConversationFilter, FeedbackFilter
from otvet.frontends.graphql.pagination import decode_cursor, page, page_size, parse_id
from otvet.frontends.graphql.permissions import scoped_field
from otvet.frontends.graphql.types import (
    Admin,
    ApiKey,
    Conversation,
    ConversationConnection,
    Feedback,
    FeedbackConnection,
    Job,
    JobConnection,
    KnowledgeVersion,
    Principal,
    Source,
    UsageGrouping,
    UsageRow,
)

#: The period ``usage`` reports when not told.
DEFAULT_USAGE_DAYS = 7


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=DEFAULT_USAGE_DAYS)
    if since.tzinfo is None or until.tzinfo is None:
        raise bad_input("give times with a timezone, e.g. 2025-01-31T00:00:00Z")
    if since >= until:
        raise bad_input("since must be before until")
    return since, until


@strawberry.type(description="Reading: conversations need `read`; the knowledge base and accounts, `admin`.")
class Query(ActivityQueries, CandidateQueries, CheckQueries):  # activity.py, candidates.py, checks.py
    @strawberry.field(description="Who is calling: null without a credential. Needs no scope.")
    def me(self, info: Info) -> Principal | None:
        principal = context_of(info).principal
        return None if principal is None else Principal.from_principal(principal)

    @scoped_field("read", "Conversations of every channel, newest first; `filter` narrows them.")
    async def conversations(
        self,
        info: Info,
        filter: ConversationFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> ConversationConnection:
        limit = page_size(first)
        where = filter or ConversationFilter()
        if where.since and where.until and where.since >= where.until:
            raise bad_input("since must be before until")
        if where.rating is not None and where.rating not in (-1, 1):
            raise bad_input(f"rating is 1 (👍) or -1 (👎), not {where.rating}")
        rows = await context_of(info).otvet.store.list_conversations(
            channel=where.channel,
            user_id=None if where.user_id is None else parse_id(where.user_id, "userId"),
            external_id=where.external_id,
            since=where.since,
            until=where.until,
            text=(where.text or "").strip() or None,
            rating=where.rating,
            before_id=decode_cursor("conversation", after),
            limit=limit + 1,
        )
        items, page_info = page(rows, limit, "conversation", lambda c: c.id)
        return ConversationConnection(nodes=[Conversation.from_record(c) for c in items], page_info=page_info)

    @scoped_field("read", "One conversation; null if there is none with this id.")
    async def conversation(self, info: Info, id: strawberry.ID) -> Conversation | None:
        found = await context_of(info).otvet.store.get_conversation(parse_id(id))
        return None if found is None else Conversation.from_record(found)

    @scoped_field("read", "Ratings of answers, newest first; `filter` narrows them.")
    async def feedback(
        self, info: Info, filter: FeedbackFilter | None = None, first: int = 20, after: str | None = None
    ) -> FeedbackConnection:
        limit = page_size(first)
        where = filter or FeedbackFilter()
        if where.value is not None and where.value not in (-1, 1):
            raise bad_input("value is 1 or -1")
        rows = await context_of(info).otvet.store.list_feedback(
            value=where.value,
            conversation_id=None
            if where.conversation_id is None
            else parse_id(where.conversation_id, "conversationId"),
            since=where.since,
            until=where.until,
            before_id=decode_cursor("feedback", after),
            limit=limit + 1,
        )
        items, page_info = page(rows, limit, "feedback", lambda f: f.id)
        return FeedbackConnection(nodes=[Feedback.from_record(f) for f in items], page_info=page_info)

    @scoped_field(
        "read",
        "Questions, answers and tokens in `[since, until)` (default: the last 7 days), one row per user, "
        "UTC day or provider.",
    )
    async def usage(
        self,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        by: UsageGrouping = UsageGrouping.USER,
    ) -> list[UsageRow]:
        start, end = _period(since, until)
        rows = await context_of(info).otvet.store.usage_report(start, end, by.value)
        return [UsageRow.from_record(row) for row in rows]

    @scoped_field("admin", "Every training source, oldest first.")
    async def sources(self, info: Info) -> list[Source]:
        return [Source.from_record(s) for s in await context_of(info).otvet.store.list_sources()]

    @scoped_field("admin", "One training source by name; null if there is none so called.")
    async def source(self, info: Info, name: str) -> Source | None:
        found = await context_of(info).otvet.store.get_source(name)
        return None if found is None else Source.from_record(found)

    @scoped_field("admin", "Every knowledge version, newest first.")
    async def knowledge_versions(self, info: Info) -> list[KnowledgeVersion]:
        versions = await context_of(info).otvet.store.list_versions()
        return [KnowledgeVersion.from_record(v) for v in versions]

    @scoped_field("admin", "The check set new knowledge versions are evaluated on, oldest first.")
    async def checks(self, info: Info) -> list[Check]:
        return [Check.from_record(c) for c in await context_of(info).otvet.store.list_checks()]

    @scoped_field("admin", "The version answering questions; null before the first one is built.")
    async def active_version(self, info: Info) -> KnowledgeVersion | None:
        return KnowledgeVersion.maybe(await context_of(info).otvet.store.active_version())

    @scoped_field("admin", "Background jobs, newest first.")
    async def jobs(
        self, info: Info, status: str | None = None, first: int = 20, after: str | None = None
    ) -> JobConnection:
        limit = page_size(first)
        rows = await context_of(info).otvet.store.list_jobs(
            status=status, before_id=decode_cursor("job", after), limit=limit + 1
        )
        items, page_info = page(rows, limit, "job", lambda j: j.id)
        return JobConnection(nodes=[Job.from_record(j) for j in items], page_info=page_info)

    @scoped_field("admin", "One job; null if there is none with this id.")
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        found = await context_of(info).otvet.store.get_job(parse_id(id))
        return None if found is None else Job.from_record(found)

    @scoped_field("admin", "Every API key, revoked ones included (never the keys themselves).")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        return [ApiKey.from_record(k) for k in await context_of(info).otvet.accounts.list_api_keys()]

    @scoped_field("admin", "Every admin account.")
    async def admins(self, info: Info) -> list[Admin]:
        return [Admin.from_record(a) for a in await context_of(info).otvet.accounts.list_admins()]
