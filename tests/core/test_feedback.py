"""The feedback loop: a liked answer or an admin's correction becomes a candidate; approving it teaches the
knowledge base (docs/knowledge.md#feedback). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from otvet.core import feedback
from otvet.core.app import Otvet
from otvet.core.citations import strip_markers
from otvet.core.knowledge import NewSource
from otvet.core.sources import ParsedSource, Section
from otvet.core.store import NotFound
from otvet.core.types import Final, Turn
from tests.conftest import make_settings
from tests.support.providers import MockProvider

CANTEEN = (
    "The canteen is on the ground floor. It serves lunch from noon to two o'clock on weekdays. "
    "Breakfast starts at eight."
)


@pytest.fixture
async def extractive(tmp_path: Path, db_url: str) -> AsyncIterator[Otvet]:
    """Otvet answering with the built-in extractive provider from a one-source knowledge base."""
    async with Otvet(make_settings(tmp_path, db_url, provider="extractive")) as otvet:
        parsed = ParsedSource(title="Canteen", sections=[Section(CANTEEN)], language="en")
        await otvet.knowledge.add_sources([NewSource("canteen.md", "markdown", parsed, "v1")])
        yield otvet


async def ask(otvet: Otvet, text: str, user: str = "u1") -> Final:
    result = await otvet.engine.ask(Turn(channel="test", user_id=user, text=text))
    assert isinstance(result, Final), result
    return result


async def test_a_liked_answer_becomes_one_pending_candidate_without_markers(extractive: Otvet) -> None:
    answer = await ask(extractive, "When does the canteen serve lunch?")
    assert answer.grounded and "[1]" in answer.text
    assert answer.message_id is not None

    await extractive.engine.rate("test", "u1", answer.message_id, 1)
    await extractive.engine.rate("test", "u2", answer.message_id, 1)  # a second user likes it too

    [candidate] = await extractive.store.list_candidates()
    assert candidate.status == "pending" and candidate.origin == "rating"
    assert candidate.question == "When does the canteen serve lunch?"
    assert "lunch from noon" in candidate.answer and "[" not in candidate.answer
    assert candidate.message_id == answer.message_id
    assert candidate.language == "en"
    assert candidate.created_by == "test:u1"


async def test_a_thumbs_down_proposes_nothing(extractive: Otvet) -> None:
    answer = await ask(extractive, "When does the canteen serve lunch?")
    assert answer.message_id is not None
    await extractive.engine.rate("test", "u1", answer.message_id, -1)
    assert await extractive.store.list_candidates() == []


async def test_an_answer_grounded_in_nothing_is_not_proposed(extractive: Otvet) -> None:
    dont_know = await ask(extractive, "How do I renew a passport?")
    assert not dont_know.grounded and dont_know.message_id is not None
    await extractive.engine.rate("test", "u1", dont_know.message_id, 1)
    assert await extractive.store.list_candidates() == []
    # The rating itself is stored all the same.
    [rating] = await extractive.store.list_feedback()
    assert rating.message_id == dont_know.message_id and rating.value == 1


async def test_approving_teaches_the_knowledge_base_and_rejecting_unteaches_it(extractive: Otvet) -> None:
    store = extractive.store
    liked = await ask(extractive, "When does the canteen serve lunch?")
    assert liked.message_id is not None
    await extractive.engine.rate("test", "u1", liked.message_id, 1)
    [candidate] = await store.list_candidates("pending")
    before = await store.active_version()
    assert before is not None

    review = await feedback.approve(extractive, [candidate.id], "admin:alice")

    assert [c.status for c in review.candidates] == ["approved"]
    assert review.candidates[0].reviewed_by == "admin:alice"
    assert review.report.added == [feedback.APPROVED_SOURCE]
    [source] = [s for s in await store.list_sources() if s.name == feedback.APPROVED_SOURCE]
    assert (source.type, source.title, source.language) == ("qa_json", "Approved answers", None)
    assert source.content["qa_pairs"] == [{"question": candidate.question, "answer": candidate.answer}]
    active = await store.active_version()
    assert active is not None and review.report.version is not None
    assert active.id == review.report.version.id != before.id

    # The approved pair now answers the same question asked in other words, word for word.
    again = await ask(extractive, "When does the canteen serve lunch on weekdays?", user="u3")
    assert again.text == candidate.answer
    assert [s.title for s in again.sources] == ["Approved answers"]

    # Approving again changes nothing: no new version.
    repeat = await feedback.approve(extractive, [candidate.id], "admin:alice")
    assert repeat.report.unchanged == [feedback.APPROVED_SOURCE] and repeat.report.version is None
    assert (await store.active_version()).id == active.id  # type: ignore[union-attr]

    # Rejecting it takes the pair out of the knowledge base.
    rejected = await feedback.reject(extractive, [candidate.id], "admin:bob")
    assert [c.status for c in rejected.candidates] == ["rejected"]
    assert rejected.report.removed == [feedback.APPROVED_SOURCE] and rejected.report.version is not None
    assert feedback.APPROVED_SOURCE not in [s.name for s in await store.list_sources()]
    after = await ask(extractive, "When does the canteen serve lunch on weekdays?", user="u4")
    assert after.text != candidate.answer and "Approved answers" not in [s.title for s in after.sources]
    # A later like of the same answer leaves the admin's rejection as it is.
    await extractive.engine.rate("test", "u5", liked.message_id, 1)
    assert [c.status for c in await store.list_candidates()] == ["rejected"]


async def test_an_admins_correction_is_a_candidate_that_answers_once_approved(extractive: Otvet) -> None:
    wrong = await ask(extractive, "Where is the canteen?")
    assert wrong.message_id is not None
    better = "The canteen is on the ground floor, next to the main entrance."

    candidate = await feedback.correct(extractive, wrong.message_id, f"  {better}\n", "admin:alice")
    assert (candidate.origin, candidate.status, candidate.created_by) == (
        "correction",
        "pending",
        "admin:alice",
    )
    assert (candidate.question, candidate.answer) == ("Where is the canteen?", better)
    # Correcting again replaces the pending text rather than adding another candidate.
    fixed = await feedback.correct(extractive, wrong.message_id, better + " Open 8-16.", "admin:alice")
    assert fixed.id == candidate.id and fixed.answer.endswith("Open 8-16.")

    review = await feedback.approve(extractive, [candidate.id], "admin:alice", rebuild=False)
    assert review.report.added == [feedback.APPROVED_SOURCE] and review.report.version is None
    await extractive.knowledge.rebuild(note="later")
    found = await ask(extractive, "where IS the canteen", user="u2")
    assert found.text == fixed.answer


async def test_corrections_and_reviews_refuse_what_does_not_exist(extractive: Otvet) -> None:
    question = await ask(extractive, "When does the canteen serve lunch?")
    assert question.message_id is not None
    with pytest.raises(NotFound, match="no message 9999"):
        await feedback.correct(extractive, 9999, "An answer.", "admin:alice")
    with pytest.raises(ValueError, match="is a question"):
        await feedback.correct(extractive, question.message_id - 1, "An answer.", "admin:alice")
    with pytest.raises(ValueError, match="empty"):
        await feedback.correct(extractive, question.message_id, "   ", "admin:alice")

    candidate = await feedback.correct(extractive, question.message_id, "Lunch: 12-14.", "admin:alice")
    with pytest.raises(feedback.UnknownCandidates, match="no candidate 4242"):
        await feedback.approve(extractive, [candidate.id, 4242], "admin:alice")
    # Nothing was approved: an unknown id stops the whole review.
    assert (await extractive.store.get_candidate(candidate.id)).status == "pending"  # type: ignore[union-attr]


async def test_a_failure_to_propose_never_fails_the_rating(
    otvet: Otvet,
    mock_provider: MockProvider,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = await otvet.engine.ask(Turn(channel="test", user_id="u1", text="Anything?"))
    assert isinstance(answer, Final) and answer.message_id is not None

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the candidates table is locked")

    monkeypatch.setattr(feedback, "on_rating", broken)
    with caplog.at_level(logging.ERROR, logger="otvet.core.feedback"):
        await otvet.engine.rate("test", "u1", answer.message_id, 1)
    [rating] = await otvet.store.list_feedback()
    assert rating.value == 1
    assert "the rating is stored" in caplog.text


async def test_failed_answers_are_not_proposed(otvet: Otvet, mock_provider: MockProvider) -> None:
    store = otvet.store
    user = await store.get_or_create_user("test", "u1")
    conversation = await store.current_conversation(user.id, "private")
    await store.add_message(conversation.id, "user", "What is it?", user_id=user.id)
    failed = await store.add_message(conversation.id, "assistant", "Partial [1]", status="failed")
    assert await feedback.on_rating(otvet, failed, 1, "test:u1") is None
    assert await feedback.on_rating(otvet, 9999, 1, "test:u1") is None


def test_citation_markers_are_stripped_with_the_space_before_them() -> None:
    assert (
        strip_markers("Lunch is at noon. [1] Dinner at seven [2][3].") == "Lunch is at noon. Dinner at seven."
    )
    assert strip_markers("[1] Opens at 9 [1, 2]") == "Opens at 9"
    assert strip_markers("See the [appendix] of [2024].") == "See the [appendix] of [2024]."
