"""Candidate training data for admins: liked answers and corrections, reviewed into the knowledge base.

The rules are core/feedback.py's; this module only translates them (docs/knowledge.md#feedback).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from otvet.core import feedback
from otvet.core.embeddings import EmbeddingError
from otvet.core.store import CandidateRecord, NotFound
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import NOT_FOUND, SERVICE_UNAVAILABLE, ApiError, bad_input
from otvet.frontends.graphql.pagination import PageInfo, decode_cursor, encode_cursor, page_size, parse_id
from otvet.frontends.graphql.permissions import scoped_field, scoped_mutation
from otvet.frontends.graphql.types import IngestResult

#: Most candidates one review may name.
MAX_REVIEW_IDS = 1000


@strawberry.enum(description="Where a review left a candidate.")
class CandidateStatus(Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@strawberry.enum(description="Why a candidate was proposed.")
class CandidateOrigin(Enum):
    RATING = "rating"
    CORRECTION = "correction"


@strawberry.type(
    description="Proposed training data: a question and an answer (liked by a user, or an admin's "
    "correction). Approved candidates form the `otvet-feedback:approved` source."
)
class Candidate:
    id: strawberry.ID
    question: str
    answer: str = strawberry.field(description="Without citation markers.")
    origin: CandidateOrigin
    message_id: strawberry.ID | None = strawberry.field(description="The answer it comes from.")
    language: str | None
    status: CandidateStatus
    created_by: str | None = strawberry.field(
        description="Who proposed it: the rater (`telegram:12345`) or the admin who corrected the answer."
    )
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime

    @classmethod
    def from_record(cls, record: CandidateRecord) -> Candidate:
        return cls(
            id=strawberry.ID(str(record.id)),
            question=record.question,
            answer=record.answer,
            origin=CandidateOrigin(record.origin),
            message_id=None if record.message_id is None else strawberry.ID(str(record.message_id)),
            language=record.language,
            status=CandidateStatus(record.status),
            created_by=record.created_by,
            reviewed_by=record.reviewed_by,
            reviewed_at=record.reviewed_at,
            created_at=record.created_at,
        )


@strawberry.type(description="A page of candidates, oldest first.")
class CandidateConnection:
    nodes: list[Candidate]
    page_info: PageInfo


@strawberry.type(description="What a review changed.")
class ReviewResult:
    candidates: list[Candidate] = strawberry.field(description="The named candidates, as they are now.")
    ingest: IngestResult = strawberry.field(
        description="The `otvet-feedback:approved` source: written (`added`, `updated`, `unchanged`) or "
        "`removed` once nothing is approved, and the version built."
    )


def _admin(info: Info) -> str:
    principal = context_of(info).principal
    assert principal is not None  # the scope check ran first
    return f"{'key' if principal.kind == 'api_key' else 'admin'}:{principal.name}"


def _ids(ids: list[strawberry.ID]) -> list[int]:
    if not ids:
        raise bad_input("name at least one candidate")
    if len(ids) > MAX_REVIEW_IDS:
        raise bad_input(f"review at most {MAX_REVIEW_IDS} candidates at once")
    return [parse_id(i, "ids") for i in ids]


@contextmanager
def _feedback_errors() -> Iterator[None]:
    """The feedback loop's expected failures, as API errors."""
    try:
        yield
    except NotFound as exc:
        raise ApiError(NOT_FOUND, str(exc)) from None
    except EmbeddingError as exc:
        raise ApiError(
            SERVICE_UNAVAILABLE,
            "the review is saved but the embeddings service failed, so the knowledge base was not updated; "
            f"repeat the review later to update it ({exc})",
        ) from None
    except ValueError as exc:
        raise bad_input(str(exc)) from None


def _review_result(review: feedback.Review) -> ReviewResult:
    return ReviewResult(
        candidates=[Candidate.from_record(c) for c in review.candidates],
        ingest=IngestResult.from_report(review.report),
    )


@strawberry.type
class CandidateQueries:
    @scoped_field(
        "admin",
        "Candidate training data, oldest first: pending ones by default, `status: null` for all. Reviewing "
        "moves candidates between statuses, so after a review start again from the first page.",
    )
    async def candidates(
        self,
        info: Info,
        status: CandidateStatus | None = CandidateStatus.PENDING,
        first: int = 20,
        after: str | None = None,
    ) -> CandidateConnection:
        limit = page_size(first)
        # The cursor is a position in the list (the store pages by offset).
        offset = decode_cursor("candidate", after) or 0
        rows = await context_of(info).otvet.store.list_candidates(
            None if status is None else status.value, limit=limit + 1, offset=offset
        )
        items = rows[:limit]
        end = encode_cursor("candidate", offset + len(items)) if items else None
        return CandidateConnection(
            nodes=[Candidate.from_record(c) for c in items],
            page_info=PageInfo(has_next_page=len(rows) > limit, end_cursor=end),
        )


@strawberry.type
class CandidateMutations:
    @scoped_mutation(
        "admin",
        "Propose a better answer to a stored answer (`messageId`, as in `sendFeedback`): a pending "
        "`CORRECTION` candidate for the question it answered. Correcting it again replaces the pending text.",
    )
    async def correct_answer(self, info: Info, message_id: strawberry.ID, answer: str) -> Candidate:
        otvet = context_of(info).otvet
        with _feedback_errors():
            record = await feedback.correct(otvet, parse_id(message_id, "messageId"), answer, _admin(info))
        return Candidate.from_record(record)

    @scoped_mutation(
        "admin",
        "Approve candidates: every approved one is a Q&A pair of the `otvet-feedback:approved` source, and "
        "a new knowledge version is built unless `rebuild: false`. An unknown id changes nothing "
        "(`NOT_FOUND`).",
    )
    async def approve_candidates(
        self, info: Info, ids: list[strawberry.ID], rebuild: bool = True
    ) -> ReviewResult:
        otvet = context_of(info).otvet
        with _feedback_errors():
            review = await feedback.approve(otvet, _ids(ids), _admin(info), rebuild)
        return _review_result(review)

    @scoped_mutation(
        "admin",
        "Reject candidates; an approved one leaves the `otvet-feedback:approved` source (a new version is "
        "built unless `rebuild: false`). An unknown id changes nothing (`NOT_FOUND`).",
    )
    async def reject_candidates(
        self, info: Info, ids: list[strawberry.ID], rebuild: bool = True
    ) -> ReviewResult:
        otvet = context_of(info).otvet
        with _feedback_errors():
            review = await feedback.reject(otvet, _ids(ids), _admin(info), rebuild)
        return _review_result(review)
