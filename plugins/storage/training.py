"""The check set, candidate training data and version bookkeeping (evaluation scores, pruning)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.timezone import now

from otvet.core.store import CandidateRecord, CheckRecord, NewCheck, NotFound, VersionRecord
from otvet.plugins.storage.models import Candidate, Check, KnowledgeVersion
from otvet.plugins.storage.records import candidate_record, check_record, version_record

#: Statuses an admin (or the evaluation gate) may give a version by hand; ``active`` goes through activation.
SETTABLE_VERSION_STATUSES = frozenset({"ready", "rejected"})
CANDIDATE_STATUSES = frozenset({"pending", "approved", "rejected"})


async def get_version(version_id: int) -> VersionRecord | None:
    version = await KnowledgeVersion.filter(id=version_id).first()
    return None if version is None else version_record(version)


async def update_version(
    version_id: int, status: str | None, metrics: dict[str, Any] | None
) -> VersionRecord:
    version = await KnowledgeVersion.filter(id=version_id).first()
    if version is None:
        raise NotFound(f"knowledge version {version_id} does not exist")
    fields: list[str] = []
    if status is not None:
        if status not in SETTABLE_VERSION_STATUSES:
            raise ValueError(f"a version cannot be set to {status!r}")
        if version.status == "active":
            raise ValueError(f"knowledge version {version_id} is active: promote another one first")
        version.status = status
        fields.append("status")
    if metrics is not None:
        version.metrics = metrics
        fields.append("metrics")
    if fields:
        await version.save(update_fields=fields)
    return version_record(version)


async def delete_versions(version_ids: Sequence[int]) -> int:
    # The active version is never deleted, whatever the caller asked: it is answering questions.
    versions = KnowledgeVersion.filter(id__in=list(version_ids)).exclude(status="active")
    found = await versions.count()
    await versions.delete()  # its chunks go with it (ON DELETE CASCADE)
    return found


async def add_checks(checks: Sequence[NewCheck]) -> list[CheckRecord]:
    created = [
        await Check.create(
            question=check.question,
            expected_source=check.expected_source,
            expected_answer=check.expected_answer,
            language=check.language,
        )
        for check in checks
    ]
    return [check_record(check) for check in created]


async def list_checks() -> list[CheckRecord]:
    return [check_record(check) for check in await Check.all().order_by("id")]


async def update_check(check_id: int, check: NewCheck) -> CheckRecord | None:
    changed = await Check.filter(id=check_id).update(
        question=check.question,
        expected_source=check.expected_source,
        expected_answer=check.expected_answer,
        language=check.language,
    )
    # Read back rather than trust the update: a check removed meanwhile is unknown, not half there.
    found = await Check.filter(id=check_id).first() if changed else None
    return None if found is None else check_record(found)


async def delete_checks(check_ids: Sequence[int]) -> int:
    checks = Check.filter(id__in=list(check_ids))
    found = await checks.count()
    await checks.delete()
    return found


async def propose_candidate(
    question: str,
    answer: str,
    origin: str,
    message_id: int | None,
    language: str | None,
    created_by: str | None,
) -> CandidateRecord:
    if message_id is not None:
        existing = await Candidate.filter(message_id=message_id, origin=origin).first()
        if existing is not None:
            return await _update_pending(existing, question, answer, language, created_by)
    try:
        candidate = await Candidate.create(
            question=question,
            answer=answer,
            origin=origin,
            message_id=message_id,
            language=language,
            created_by=created_by,
        )
    except IntegrityError:
        # Another process proposed the same answer a moment ago (two users liking it at once).
        existing = await Candidate.get(message_id=message_id, origin=origin)
        return await _update_pending(existing, question, answer, language, created_by)
    return candidate_record(candidate)


async def _update_pending(
    candidate: Candidate, question: str, answer: str, language: str | None, created_by: str | None
) -> CandidateRecord:
    # A reviewed candidate stays as the admin left it: a later rating must not undo a rejection.
    if candidate.status == "pending" and (candidate.question, candidate.answer) != (question, answer):
        candidate.question, candidate.answer = question, answer
        candidate.language = language or candidate.language
        candidate.created_by = created_by or candidate.created_by
        await candidate.save(update_fields=["question", "answer", "language", "created_by"])
    return candidate_record(candidate)


async def list_candidates(status: str | None, limit: int, offset: int) -> list[CandidateRecord]:
    query = Candidate.all() if status is None else Candidate.filter(status=status)
    rows = await query.order_by("id").offset(offset).limit(limit)
    return [candidate_record(row) for row in rows]


async def get_candidate(candidate_id: int) -> CandidateRecord | None:
    candidate = await Candidate.filter(id=candidate_id).first()
    return None if candidate is None else candidate_record(candidate)


async def review_candidates(
    candidate_ids: Sequence[int], status: str, reviewer: str
) -> list[CandidateRecord]:
    if status not in CANDIDATE_STATUSES:
        raise ValueError(
            f"a candidate cannot be {status!r}: choose from {', '.join(sorted(CANDIDATE_STATUSES))}"
        )
    ids = list(candidate_ids)
    changed = Candidate.filter(id__in=ids).exclude(status=status)
    reviewed_at = None if status == "pending" else now()
    reviewed_by = None if status == "pending" else reviewer
    to_change = await changed.values_list("id", flat=True)
    if to_change:
        await Candidate.filter(id__in=list(to_change)).update(
            status=status, reviewed_at=reviewed_at, reviewed_by=reviewed_by
        )
    rows = await Candidate.filter(id__in=list(to_change)).order_by("id")
    return [candidate_record(row) for row in rows]
