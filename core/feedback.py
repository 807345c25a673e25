"""The feedback loop: liked answers and admins' corrections become candidate training data; approved
candidates become one Q&A source of the knowledge base (docs/knowledge.md#feedback).

Every frontend rates answers through :func:`record_rating` and reviews candidates through :func:`approve`
and :func:`reject`, so the rules live here once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from otvet.core.citations import strip_markers
from otvet.core.knowledge import IngestReport, NewSource, content_of
from otvet.core.sources import ParsedSource, QAPair
from otvet.core.store import CandidateRecord, NotFound, StoredMessage

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.store import Store

log = logging.getLogger(__name__)

#: The one source that holds every approved candidate, rewritten whenever the approved set changes.
APPROVED_SOURCE = "otvet-feedback:approved"
APPROVED_TITLE = "Approved answers"
#: A correction longer than this is a document, not an answer: add it as a source instead.
MAX_ANSWER_CHARS = 20_000
#: Candidates read per query while gathering the approved set.
_PAGE = 500


class UnknownCandidates(NotFound):
    """Some of the candidate ids a review names do not exist (and nothing was changed)."""

    def __init__(self, ids: Sequence[int]) -> None:
        super().__init__(f"there is no candidate {', '.join(map(str, ids))}")
        self.ids = tuple(ids)


@dataclass(frozen=True, slots=True)
class Review:
    """What a review did: the named candidates as they are now, and what became of the approved source."""

    candidates: list[CandidateRecord]
    #: ``added``/``updated``/``unchanged`` name the approved source when it was written, ``removed`` when the
    #: last approved candidate left it; ``version`` is the version built (None without ``rebuild``).
    report: IngestReport


async def record_rating(
    otvet: Otvet, message_id: int, user_id: int, value: int, comment: str = "", *, rated_by: str
) -> int:
    """Store a user's rating (see ``Store.add_feedback``), then offer a liked answer as a candidate.

    Proposing the candidate is a side effect the user never waits on to fail: its errors are logged.
    """
    feedback_id = await otvet.store.add_feedback(message_id, user_id, value, comment)
    try:
        await on_rating(otvet, message_id, value, rated_by)
    except Exception:
        log.exception("proposing answer %s as training data failed (the rating is stored)", message_id)
    return feedback_id


async def on_rating(otvet: Otvet, message_id: int, value: int, rated_by: str) -> CandidateRecord | None:
    """A thumbs up on a grounded answer proposes it (``rating``); returns the candidate, or None.

    A thumbs down proposes nothing and leaves a candidate alone: the admin reviewing it sees the answer, and
    the ratings are one query away (``feedback``), so a disputed answer is simply not approved.
    """
    if value <= 0:
        return None
    store = otvet.store
    message = await store.get_message(message_id)
    if message is None or not _worth_proposing(message):
        return None
    answer = strip_markers(message.text)
    question = await question_of(store, message)
    if not answer or question is None:
        return None
    return await store.propose_candidate(
        question, answer, "rating", message_id=message.id, language=message.language, created_by=rated_by
    )


def _worth_proposing(message: StoredMessage) -> bool:
    # An answer that cites nothing is small talk, an "I don't know" or the model's own unchecked words
    # (providers mark those ungrounded, and the engine then stores no sources): not training material.
    return message.role == "assistant" and message.status == "ok" and bool(message.sources)


async def question_of(store: Store, answer: StoredMessage) -> str | None:
    """The user's question the stored ``answer`` answers: the last question before it in its conversation."""
    question = None
    for message in await store.messages(answer.conversation_id):
        if message.id >= answer.id:
            break
        if message.role == "user":
            question = message.text
    return question


async def correct(otvet: Otvet, message_id: int, answer: str, admin: str) -> CandidateRecord:
    """Propose an admin's better ``answer`` to a stored answer (``correction``), pending review.

    Raises :class:`NotFound` for an unknown answer and ``ValueError`` for a question or an empty answer.
    """
    answer = answer.strip()
    if not answer:
        raise ValueError("the corrected answer is empty")
    if len(answer) > MAX_ANSWER_CHARS:
        raise ValueError(f"the corrected answer is longer than {MAX_ANSWER_CHARS} characters")
    store = otvet.store
    message = await store.get_message(message_id)
    if message is None:
        raise NotFound(f"there is no message {message_id}")
    if message.role != "assistant":
        raise ValueError(f"message {message_id} is a question: correct the answer that follows it")
    question = await question_of(store, message)
    if question is None:
        raise ValueError(f"message {message_id} answers no stored question")
    return await store.propose_candidate(
        question, answer, "correction", message_id=message.id, language=message.language, created_by=admin
    )


async def approve(
    otvet: Otvet, ids: Sequence[int], admin: str, rebuild: bool = True, *, note: str = ""
) -> Review:
    """Approve candidates and rewrite the approved source (building a version when ``rebuild``)."""
    return await _review(otvet, ids, "approved", admin, rebuild, note)


async def reject(
    otvet: Otvet, ids: Sequence[int], admin: str, rebuild: bool = True, *, note: str = ""
) -> Review:
    """Reject candidates; an approved one leaves the approved source (and the next version)."""
    return await _review(otvet, ids, "rejected", admin, rebuild, note)


async def _review(
    otvet: Otvet, ids: Sequence[int], status: str, admin: str, rebuild: bool, note: str
) -> Review:
    store = otvet.store
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise ValueError("name at least one candidate")
    missing = [i for i in wanted if await store.get_candidate(i) is None]
    if missing:
        raise UnknownCandidates(missing)
    await store.review_candidates(wanted, status, admin)
    # Synced even when no status changed: an earlier review whose rebuild failed is completed this way,
    # and an unchanged approved set leaves the source (and the active version) as they are.
    report = await sync_approved(otvet, rebuild=rebuild, note=note or f"candidates {status} by {admin}")
    current = [await store.get_candidate(i) for i in wanted]
    return Review([c for c in current if c is not None], report)


async def approved_candidates(store: Store) -> list[CandidateRecord]:
    """Every approved candidate, oldest first."""
    found: list[CandidateRecord] = []
    while True:
        page = await store.list_candidates("approved", limit=_PAGE, offset=len(found))
        found.extend(page)
        if len(page) < _PAGE:
            return found


def approved_source(candidates: Sequence[CandidateRecord]) -> NewSource:
    """The Q&A source of ``candidates``; its checksum changes exactly when the pairs do."""
    parsed = ParsedSource(
        title=APPROVED_TITLE,
        qa_pairs=[QAPair(c.question, c.answer) for c in candidates],
        # No language: each pair's is detected, so Russian and English answers are labelled one by one.
        language=None,
    )
    data = json.dumps(
        {"title": parsed.title, **content_of(parsed)}, ensure_ascii=False, sort_keys=True
    ).encode("utf-8")
    return NewSource(APPROVED_SOURCE, "qa_json", parsed, hashlib.sha256(data).hexdigest())


async def sync_approved(otvet: Otvet, *, rebuild: bool = True, note: str = "") -> IngestReport:
    """Make the approved source hold exactly the approved candidates; none approved removes it."""
    candidates = await approved_candidates(otvet.store)
    if candidates:
        return await otvet.knowledge.add_sources([approved_source(candidates)], rebuild=rebuild, note=note)
    report = IngestReport()
    if await otvet.store.delete_sources([APPROVED_SOURCE]):
        report.removed.append(APPROVED_SOURCE)
        if rebuild:
            report.version = await otvet.knowledge.rebuild(note=note)
    return report
