"""The evaluation gate as an admin meets it: a version that answers the check set worse is not promoted and
says why; a forced promote and a rollback are explicit; old versions are pruned."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from otvet.core.app import Otvet
from otvet.core.evaluation import Evaluation, decide, evaluate
from otvet.core.ingest import ingest_paths
from otvet.core.jobs import Worker
from otvet.core.store import CheckRecord, NewCheck, NotFound
from otvet.core.types import Delta, Final, Passage, SourceRef, Turn
from tests.conftest import make_settings

HOURS = "# Hours\n\nThe museum opens at ten and closes at six.\n"
PARKING = "# Parking\n\nStaff park in the underground garage on level minus two.\n"
CHECKS = [
    NewCheck("When does the museum open?", expected_source="hours.md", expected_answer="opens at ten"),
    NewCheck("Where do staff park?", expected_source="Parking", expected_answer="underground garage"),
]


async def cited(otvet: Otvet, text: str) -> list[str]:
    """The sources an answer cites (the fixture's provider is a mock: what it is given is what matters)."""
    result = await otvet.engine.ask(Turn(channel="test", user_id="u", text=text))
    assert isinstance(result, Final)
    return [source.title for source in result.sources]


async def two_sources(otvet: Otvet, tmp_path: Path) -> int:
    (tmp_path / "hours.md").write_text(HOURS, encoding="utf-8")
    (tmp_path / "parking.md").write_text(PARKING, encoding="utf-8")
    report = await ingest_paths(otvet, [tmp_path / "hours.md", tmp_path / "parking.md"], base=tmp_path)
    assert report.version is not None and report.version.status == "active"
    await otvet.store.add_checks(CHECKS)
    return report.version.id


def check(id: int, question: str, source: str | None = None, answer: str | None = None) -> CheckRecord:
    return CheckRecord(id, question, source, answer, None, None)  # type: ignore[arg-type]


async def test_scores_count_the_expected_source_by_rank_and_the_answer_by_its_words() -> None:
    found = {
        "q1": [Passage("The museum opens at ten.", 1.0, SourceRef("Hours", name="hours.md"))],
        "q2": [
            Passage("Dogs are welcome.", 1.0, SourceRef("Pets", name="pets.md")),
            Passage("Staff park underground.", 0.5, SourceRef("Parking", name="parking.md")),
        ],
        "q3": [Passage("Nothing useful.", 1.0, SourceRef("Pets", name="pets.md"))],
    }

    async def search(question: str, k: int) -> list[Passage]:
        return found[question]

    checks = [
        check(1, "q1", "hours.md", "It opens at ten"),
        check(2, "q2", "parking", "staff parking is underground"),
        check(3, "q3", None, "the garage is on level two"),
    ]
    scores = await evaluate(7, checks, search, k=3, answer_recall=0.6)

    assert (scores.hit1, scores.hitk) == (0.5, 1.0)  # of the two checks that name a source
    assert scores.answers == pytest.approx(2 / 3)  # "park" and "underground" are found, the garage is not
    assert [(f.check_id, f.rank, f.answer_found) for f in scores.failures] == [(2, 2, True), (3, None, False)]


def test_a_candidate_worse_on_any_score_is_not_promoted_and_the_reason_names_it() -> None:
    active = Evaluation(1, 4, 3, hit1=0.75, hitk=1.0, answers=1.0)
    worse = Evaluation(2, 4, 3, hit1=0.5, hitk=1.0, answers=1.0)
    better = Evaluation(3, 4, 3, hit1=1.0, hitk=1.0, answers=1.0)

    refused = decide(worse, active, tolerance=0.0)
    assert not refused.promote and "hit@1 0.50 < 0.75" in refused.reason and "version 1" in refused.reason
    assert decide(worse, active, tolerance=0.25).promote
    assert decide(better, active, tolerance=0.0).promote
    assert decide(worse, None, tolerance=0.0).promote  # nothing active: anything beats nothing


async def test_a_retrain_that_scores_worse_is_not_promoted_and_the_job_says_why(
    otvet: Otvet, tmp_path: Path
) -> None:
    serving = await two_sources(otvet, tmp_path)
    await otvet.store.delete_sources(["parking.md"])  # the parking answer will be missing

    job = await otvet.store.enqueue_job("retrain", {"note": "nightly"})
    done = await Worker(otvet, "w1").run_one()

    assert done is not None and done.status == "succeeded" and done.result is not None
    assert done.result["promoted"] is False
    assert "hit@1 0.50 < 1.00" in done.result["reason"] and done.message is not None
    assert "not promoted" in done.message and "hit@1 0.50 < 1.00" in done.message
    active = await otvet.store.active_version()
    assert active is not None and active.id == serving
    rejected = await otvet.store.get_version(done.result["version_id"])
    assert rejected is not None and rejected.status == "rejected"
    assert rejected.metrics is not None and rejected.metrics["hit1"] == 0.5
    assert rejected.metrics["baseline"]["version_id"] == serving
    # The old version still answers the question the new one lost.
    assert "Parking" in await cited(otvet, "Where do staff park?")
    assert job.id == done.id


async def test_a_better_version_is_promoted_and_answers_at_once(otvet: Otvet, tmp_path: Path) -> None:
    (tmp_path / "hours.md").write_text(HOURS, encoding="utf-8")
    await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)
    await otvet.store.add_checks(CHECKS)
    (tmp_path / "parking.md").write_text(PARKING, encoding="utf-8")

    report = await ingest_paths(otvet, [tmp_path / "parking.md"], base=tmp_path)

    version = report.version
    assert version is not None and version.status == "active" and version.metrics is not None
    assert (version.metrics["hit1"], version.metrics["promoted"]) == (1.0, True)
    assert version.metrics["baseline"]["hit@1"] == 0.5
    assert "Parking" in await cited(otvet, "Where do staff park?")


async def test_a_forced_promote_and_a_rollback_are_the_admins_explicit_choice(
    otvet: Otvet, tmp_path: Path
) -> None:
    serving = await two_sources(otvet, tmp_path)
    await otvet.store.delete_sources(["parking.md"])
    rejected = await otvet.knowledge.rebuild(note="without parking")
    assert rejected.status == "rejected"

    again = await otvet.knowledge.promote(rejected.id)  # re-evaluated: still worse
    assert again.status == "rejected"
    forced = await otvet.knowledge.promote(rejected.id, force=True)
    assert forced.status == "active" and forced.metrics is not None
    assert forced.metrics["decision"].startswith("forced: scored worse")
    assert "Parking" not in await cited(otvet, "Where do staff park?")

    back = await otvet.knowledge.rollback()
    assert back.version.id == serving and back.version.status == "active"
    assert back.dropped == []  # hours.md, the one stored source left, is one of its sources
    assert "Parking" in await cited(otvet, "Where do staff park?")
    with pytest.raises(NotFound):
        await otvet.knowledge.rollback(10_000)


async def test_only_the_configured_number_of_versions_is_kept(otvet: Otvet, tmp_path: Path) -> None:
    otvet.settings.training.keep_versions = 2
    for n in range(5):
        (tmp_path / "hours.md").write_text(f"# Hours\n\nThe museum opens at {n + 7}.\n", encoding="utf-8")
        await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)

    versions = await otvet.store.list_versions()
    assert [v.status for v in versions] == ["active", "retired", "retired"]
    chunks = [c async for batch in otvet.store.iter_chunks(versions[0].id) for c in batch]
    assert "opens at 11" in chunks[0].text


async def test_a_retrain_crashed_before_promotion_promotes_the_version_it_built(
    otvet: Otvet, tmp_path: Path
) -> None:
    await two_sources(otvet, tmp_path)
    job = await otvet.store.enqueue_job("retrain")
    assert await otvet.store.claim_job("crashed", 0.01, None) is not None
    built = await otvet.knowledge.build(note=f"retrain (job {job.id})")  # then the worker died
    versions = len(await otvet.store.list_versions())
    await asyncio.sleep(0.05)  # the crashed worker's lease runs out

    done = await Worker(otvet, "rescuer").run_one()

    assert done is not None and done.status == "succeeded" and done.result is not None
    assert (done.result["version_id"], done.result["promoted"]) == (built.id, True)
    assert len(await otvet.store.list_versions()) == versions
    active = await otvet.store.active_version()
    assert active is not None and active.id == built.id


async def test_an_answer_in_flight_finishes_on_the_version_it_started_with(
    otvet: Otvet, tmp_path: Path
) -> None:
    (tmp_path / "hours.md").write_text(HOURS, encoding="utf-8")
    first = (await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)).version
    assert first is not None
    old_chunks = {c.chunk_id async for batch in otvet.store.iter_chunks(first.id) for c in batch}

    events = otvet.engine.stream(Turn(channel="test", user_id="u", text="When does the museum open?"))
    assert isinstance(await anext(events), Delta)  # the provider is answering from the passages found
    (tmp_path / "hours.md").write_text(HOURS.replace("ten", "eleven"), encoding="utf-8")
    second = (await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)).version
    assert second is not None and second.status == "active"
    rest = [event async for event in events]

    final = rest[-1]
    assert isinstance(final, Final) and final.sources
    assert {source.chunk_id for source in final.sources} <= old_chunks
    after = await otvet.engine.ask(Turn(channel="test", user_id="u", text="When does the museum open?"))
    assert isinstance(after, Final) and after.sources
    assert not {source.chunk_id for source in after.sources} & old_chunks


async def test_another_process_switches_to_a_promoted_version_without_being_asked(
    otvet: Otvet, tmp_path: Path
) -> None:
    (tmp_path / "hours.md").write_text(HOURS, encoding="utf-8")
    await ingest_paths(otvet, [tmp_path / "hours.md"], base=tmp_path)
    settings = make_settings(
        tmp_path / "replica", otvet.settings.resolved_database_url, retrieval={"refresh_seconds": 0.1}
    )
    async with Otvet(settings) as replica:
        await replica.knowledge.search("museum", 3)  # answering: it has loaded the active version
        (tmp_path / "parking.md").write_text(PARKING, encoding="utf-8")
        promoted = (await ingest_paths(otvet, [tmp_path / "parking.md"], base=tmp_path)).version
        assert promoted is not None and replica.knowledge.version_id != promoted.id

        # No question is asked meanwhile: an idle replica is up to date by the time one comes.
        for _ in range(300):
            if replica.knowledge.version_id == promoted.id:
                break
            await asyncio.sleep(0.05)
        assert replica.knowledge.version_id == promoted.id
        assert "Parking" in [
            p.source.title for p in await replica.knowledge.search("Where do staff park?", 3)
        ]
