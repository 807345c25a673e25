"""Model rows → the record dataclasses of the Store contract, so no Tortoise object leaves the plugin."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from otvet.core.store import CandidateRecord, CheckRecord, SourceRecord, StoredMessage, VersionRecord
from otvet.core.types import SourceRef, Usage
from otvet.plugins.storage.models import Candidate, Check, KnowledgeVersion, Message, Source

_SOURCE_REF_FIELDS = frozenset(f.name for f in dataclasses.fields(SourceRef))


def source_record(source: Source) -> SourceRecord:
    return SourceRecord(
        id=source.id,
        name=source.name,
        type=source.type,
        title=source.title,
        checksum=source.checksum,
        language=source.language,
        content=source.content,
        updated_at=source.updated_at,
    )


def version_record(version: KnowledgeVersion) -> VersionRecord:
    return VersionRecord(
        id=version.id,
        status=cast(Any, version.status),
        chunk_count=version.chunk_count,
        source_count=version.source_count,
        created_at=version.created_at,
        activated_at=version.activated_at,
        note=version.note,
        embedder=version.embedder,
        metrics=version.metrics,
    )


def check_record(check: Check) -> CheckRecord:
    return CheckRecord(
        id=check.id,
        question=check.question,
        expected_source=check.expected_source,
        expected_answer=check.expected_answer,
        language=check.language,
        created_at=check.created_at,
    )


def candidate_record(candidate: Candidate) -> CandidateRecord:
    return CandidateRecord(
        id=candidate.id,
        question=candidate.question,
        answer=candidate.answer,
        origin=candidate.origin,
        message_id=cast(Any, candidate).message_id,
        language=candidate.language,
        status=candidate.status,
        created_by=candidate.created_by,
        reviewed_by=candidate.reviewed_by,
        reviewed_at=candidate.reviewed_at,
        created_at=candidate.created_at,
    )


def stored_message(message: Message) -> StoredMessage:
    return StoredMessage(
        id=message.id,
        conversation_id=cast(Any, message).conversation_id,
        role=cast(Any, message.role),
        text=message.text,
        language=message.language,
        status=message.status,
        # Only the fields SourceRef still has: rows written by an older release must stay readable.
        sources=tuple(
            SourceRef(**{k: v for k, v in ref.items() if k in _SOURCE_REF_FIELDS}) for ref in message.sources
        ),
        latency_ms=message.latency_ms,
        usage=Usage(prompt_tokens=message.prompt_tokens, completion_tokens=message.completion_tokens),
        provider=message.provider,
        created_at=message.created_at,
        user_id=cast(Any, message).user_id,
        audio_seconds=message.audio_seconds,
    )
