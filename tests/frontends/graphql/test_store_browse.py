"""The store's listings for the API, on SQLite and PostgreSQL: filters, keyset pages, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from otvet.core.app import Otvet
from otvet.core.knowledge import NewSource
from otvet.core.sources import ParsedSource, Section
from otvet.plugins.storage.models import Job


async def _conversation(otvet: Otvet, channel: str, external_id: str, texts: list[str]) -> int:
    store = otvet.store
    user = await store.get_or_create_user(channel, external_id, f"name of {external_id}")
    conversation = await store.current_conversation(user.id, "private")
    for text in texts:
        await store.add_message(conversation.id, "user", text, user_id=user.id)
    return conversation.id


async def test_conversations_are_listed_newest_first_by_keyset_pages_and_filters(otvet: Otvet) -> None:
    store = otvet.store
    ids = [await _conversation(otvet, "telegram" if i % 2 else "graphql", f"u{i}", ["q"]) for i in range(5)]
    listed = await store.list_conversations(limit=3)
    assert [c.id for c in listed] == ids[::-1][:3]
    rest = await store.list_conversations(before_id=listed[-1].id, limit=3)
    assert [c.id for c in rest] == ids[::-1][3:]
    assert {c.channel for c in await store.list_conversations(channel="telegram")} == {"telegram"}
    (one,) = await store.list_conversations(external_id="u3")
    assert (one.channel, one.external_id, one.display_name) == ("telegram", "u3", "name of u3")
    assert one.chat_id == "private"
    assert [c.id for c in await store.list_conversations(user_id=one.user_id)] == [one.id]
    assert await store.get_conversation(one.id) == one
    assert await store.get_conversation(999_999) is None
    now = datetime.now(UTC)
    assert len(await store.list_conversations(since=now - timedelta(hours=1))) == 5
    assert await store.list_conversations(since=now + timedelta(hours=1)) == []
    assert await store.list_conversations(until=now - timedelta(hours=1)) == []
    assert one.started_at.tzinfo is not None


async def test_messages_are_paged_oldest_first(otvet: Otvet) -> None:
    conversation_id = await _conversation(otvet, "graphql", "u", [f"m{i}" for i in range(5)])
    first = await otvet.store.message_page(conversation_id, limit=2)
    assert [m.text for m in first] == ["m0", "m1"]
    after = await otvet.store.message_page(conversation_id, after_id=first[-1].id, limit=10)
    assert [m.text for m in after] == ["m2", "m3", "m4"]
    assert await otvet.store.get_message(first[0].id) == first[0]
    assert await otvet.store.get_message(999_999) is None


async def test_feedback_is_listed_with_who_rated_and_where(otvet: Otvet) -> None:
    store = otvet.store
    conversation_id = await _conversation(otvet, "graphql", "asker", ["q"])
    answer = await store.add_message(conversation_id, "assistant", "a")
    other_conversation = await _conversation(otvet, "telegram", "other", ["q"])
    other_answer = await store.add_message(other_conversation, "assistant", "a")
    rater = await store.get_or_create_user("graphql", "rater")
    await store.add_feedback(answer, rater.id, 1, "good")
    await store.add_feedback(other_answer, rater.id, -1)
    listed = await store.list_feedback()
    assert [(f.message_id, f.value) for f in listed] == [(other_answer, -1), (answer, 1)]
    rated = listed[1]
    assert (rated.conversation_id, rated.external_id, rated.comment) == (conversation_id, "rater", "good")
    assert [f.message_id for f in await store.list_feedback(value=1)] == [answer]
    in_other = await store.list_feedback(conversation_id=other_conversation)
    assert [f.message_id for f in in_other] == [other_answer]
    assert [f.message_id for f in await store.list_feedback(before_id=listed[0].id)] == [answer]
    assert await store.list_feedback(since=datetime.now(UTC) + timedelta(minutes=5)) == []


async def test_jobs_are_listed_newest_first_and_read_one_by_one(otvet: Otvet) -> None:
    store = otvet.store
    with store.context:  # the worker issue adds the store methods that write jobs
        first = await Job.create(type="ingest", payload={"paths": ["a.md"]})
        second = await Job.create(type="train", status="running", progress=0.5)
    listed = await store.list_jobs()
    assert [j.id for j in listed] == [second.id, first.id]
    assert [j.id for j in await store.list_jobs(status="queued")] == [first.id]
    assert [j.id for j in await store.list_jobs(before_id=second.id)] == [first.id]
    job = await store.get_job(first.id)
    assert job is not None and (job.type, job.status, job.payload, job.progress) == (
        "ingest",
        "queued",
        {"paths": ["a.md"]},
        0.0,
    )
    assert await store.get_job(999_999) is None


async def test_deleting_sources_counts_sources_not_the_chunks_they_had(otvet: Otvet) -> None:
    parsed = ParsedSource("Guide", sections=[Section(f"Paragraph {i}. " * 50, f"Part {i}") for i in range(5)])
    await otvet.knowledge.add_sources([NewSource.from_bytes("guide.md", "markdown", parsed, b"guide")])
    assert (await otvet.store.active_version()).chunk_count > 1  # type: ignore[union-attr]
    assert await otvet.store.delete_sources(["guide.md", "missing.md"]) == 1
    assert await otvet.store.list_sources() == []
