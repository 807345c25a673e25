"""The knowledge base as an admin meets it: ingest, versions, the demo as a placeholder, recovery."""

from __future__ import annotations

from pathlib import Path

from otvet.core.app import Otvet
from otvet.core.ingest import ingest_paths
from otvet.core.knowledge import PLACEHOLDER_PREFIX
from otvet.core.types import Final, Turn
from tests.conftest import make_settings


def ask(otvet: Otvet, text: str) -> Final:
    return otvet.engine.ask(Turn(channel="test", user_id="u", text=text))  # type: ignore[return-value]


async def test_the_demo_answers_its_own_faq_questions_even_when_every_document_shares_the_words(
    sqlite_otvet: Otvet,
) -> None:
    result = await ask(sqlite_otvet, "What is Otvet?")
    assert result.text.startswith("Otvet is an open-source question-answering bot framework in Python.")
    assert [s.title for s in result.sources] == ["Otvet FAQ"]
    russian = await ask(sqlite_otvet, "Что такое Otvet?")
    assert russian.text.startswith("Otvet — фреймворк с открытым исходным кодом")


async def test_the_first_real_source_replaces_the_demo(sqlite_otvet: Otvet, tmp_path: Path) -> None:
    demo = await sqlite_otvet.store.list_sources()
    assert demo and all(s.name.startswith(PLACEHOLDER_PREFIX) for s in demo)
    (tmp_path / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")

    report = await ingest_paths(sqlite_otvet, [tmp_path / "hours.md"], base=tmp_path)

    assert report.added == ["hours.md"]
    assert sorted(report.removed) == sorted(s.name for s in demo)
    assert [s.name for s in await sqlite_otvet.store.list_sources()] == ["hours.md"]
    assert report.version is not None and report.version.source_count == 1
    assert (await ask(sqlite_otvet, "How do I connect Telegram?")).grounded is False
    assert (await ask(sqlite_otvet, "When does the museum open?")).text == "The museum opens at ten. [1]"


async def test_a_stored_question_with_extra_specifics_does_not_answer_a_general_one(
    sqlite_otvet: Otvet, tmp_path: Path
) -> None:
    (tmp_path / "faq.csv").write_text(
        "question,answer\nIs the office open on public holidays?,No: it is closed on public holidays.\n",
        encoding="utf-8",
    )
    (tmp_path / "office.md").write_text("# Office\n\nThe office opens at nine.\n", encoding="utf-8")
    await ingest_paths(sqlite_otvet, [tmp_path], base=tmp_path)
    assert (await ask(sqlite_otvet, "When does the office open?")).text == "The office opens at nine. [1]"
    holidays = await ask(sqlite_otvet, "is the office open on holidays")
    assert holidays.text == "No: it is closed on public holidays."


async def test_a_mixed_language_qa_file_is_labelled_pair_by_pair(sqlite_otvet: Otvet, tmp_path: Path) -> None:
    (tmp_path / "mixed.csv").write_text(
        "question,answer\nWhere is the coffee?,In the kitchen.\nГде кофе?,На кухне.\n", encoding="utf-8"
    )
    report = await ingest_paths(sqlite_otvet, [tmp_path / "mixed.csv"], base=tmp_path)
    assert report.version is not None
    chunks = [
        c for batch in [b async for b in sqlite_otvet.store.iter_chunks(report.version.id)] for c in batch
    ]
    assert {(c.question, c.language) for c in chunks} == {("Where is the coffee?", "en"), ("Где кофе?", "ru")}
    assert (await sqlite_otvet.store.list_sources())[0].language is None  # nothing was declared


async def test_sources_without_an_active_version_are_built_into_one_on_start(tmp_path: Path) -> None:
    """An ingest interrupted between storing its sources and building the version heals on the next start."""
    settings = make_settings(tmp_path)
    async with Otvet(settings) as otvet:
        await otvet.store.upsert_source(
            "kb.md", "markdown", "KB", "c1", "en", {"sections": [{"title": "KB", "text": "Tea is green."}]}
        )
        assert await otvet.store.active_version() is None
    async with Otvet(settings) as otvet:
        version = await otvet.store.active_version()
        assert version is not None and version.chunk_count == 1
        assert (await ask(otvet, "Which tea is green?")).text == "Tea is green. [1]"


async def test_an_empty_knowledge_base_loads_the_demo_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, load_demo=True)
    async with Otvet(settings) as otvet:
        first = await otvet.store.active_version()
    async with Otvet(settings) as otvet:
        assert await otvet.store.active_version() == first
        assert len(await otvet.store.list_versions()) == 1


async def test_searches_keep_using_the_old_version_while_a_new_one_is_indexed(
    sqlite_otvet: Otvet, tmp_path: Path
) -> None:
    import asyncio
    import threading

    knowledge = sqlite_otvet.knowledge
    old_version = knowledge.version_id
    assert (await knowledge.search("connect Telegram", 3))[0].source.title == "Connecting Telegram"

    release = threading.Event()
    building = asyncio.Event()
    loop = asyncio.get_running_loop()
    real_build = sqlite_otvet.retriever.build

    def slow_build(chunks: object) -> object:
        loop.call_soon_threadsafe(building.set)
        release.wait(timeout=10)
        return real_build(chunks)  # type: ignore[arg-type]

    sqlite_otvet.retriever.build = slow_build  # type: ignore[method-assign]
    (tmp_path / "tea.md").write_text("# Tea\n\nGreen tea is steeped for two minutes.\n", encoding="utf-8")
    ingest = asyncio.create_task(ingest_paths(sqlite_otvet, [tmp_path / "tea.md"], base=tmp_path))
    await asyncio.wait_for(building.wait(), timeout=10)  # the new version is being indexed

    # Answered at once, from the version being replaced.
    during = await asyncio.wait_for(knowledge.search("connect Telegram", 3), timeout=2)
    assert during[0].source.title == "Connecting Telegram"
    assert knowledge.version_id == old_version

    release.set()
    await ingest
    assert knowledge.version_id != old_version
    assert (await knowledge.search("green tea", 3))[0].source.title == "Tea"


async def test_topics_list_the_sources_in_the_users_language(sqlite_otvet: Otvet) -> None:
    english = await sqlite_otvet.knowledge.topics("en", limit=10)
    russian = await sqlite_otvet.knowledge.topics("ru", limit=10)
    assert "About Otvet" in english and "Connecting Telegram" in english
    assert "Об Otvet" in russian and "About Otvet" not in russian
    assert await sqlite_otvet.knowledge.topics("en", limit=2) == english[:2]


async def test_building_a_version_of_thousands_of_sources_reports_progress_a_few_times_a_second(
    sqlite_otvet: Otvet,
) -> None:
    """One report per source (3,000 in a second) flooded the event loop's wake-up pipe, which signals share:
    a worker then missed its SIGTERM now and then. Reports come at most every PROGRESS_EVERY, and the last
    one always."""
    for n in range(3000):
        section = {"title": f"Topic {n}", "text": f"Fact number {n} is true."}
        await sqlite_otvet.store.upsert_source(
            f"s{n}.md", "markdown", f"S{n}", f"c{n}", "en", {"sections": [section]}
        )
    reports: list[tuple[int, int]] = []
    version = await sqlite_otvet.knowledge.build(progress=lambda done, total: reports.append((done, total)))
    assert version.source_count >= 3000
    assert reports[-1][0] == reports[-1][1]  # finished, and said so
    assert len(reports) < 3000 / 10  # not one per source


async def three_versions(otvet: Otvet, tmp_path: Path) -> list[int]:
    """Versions of a.md; a.md and b.md; a.md, b.md and c.md: one ingest each."""
    ids = []
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\nText about {name}.\n", encoding="utf-8")
        report = await ingest_paths(otvet, [tmp_path / f"{name}.md"], base=tmp_path)
        assert report.version is not None
        ids.append(report.version.id)
    return ids


async def stored(otvet: Otvet) -> list[str]:
    return sorted(source.name for source in await otvet.store.list_sources())


async def test_removing_sources_builds_a_version_without_them_and_names_the_unknown_ones(
    otvet: Otvet, tmp_path: Path
) -> None:
    await three_versions(otvet, tmp_path)
    result = await otvet.knowledge.remove_sources(["a.md", "nope.md", "a.md", "b.md"])
    assert (result.removed, result.unknown) == (["a.md", "b.md"], ["nope.md"])
    assert result.version is not None and result.version.status == "active"
    assert result.version.source_count == 1 and result.version.note == "removed a.md, b.md"
    assert await stored(otvet) == ["c.md"]
    assert otvet.knowledge.version_id == result.version.id

    nothing = await otvet.knowledge.remove_sources(["nope.md"])
    assert (nothing.removed, nothing.unknown, nothing.version) == ([], ["nope.md"], None)


async def test_removing_sources_all_or_nothing_or_without_a_rebuild(otvet: Otvet, tmp_path: Path) -> None:
    versions = await three_versions(otvet, tmp_path)
    refused = await otvet.knowledge.remove_sources(["a.md", "nope.md"], all_or_nothing=True)
    assert (refused.removed, refused.unknown, refused.version) == ([], ["nope.md"], None)
    assert await stored(otvet) == ["a.md", "b.md", "c.md"]

    quiet = await otvet.knowledge.remove_sources(["a.md"], rebuild=False, all_or_nothing=True)
    assert (quiet.removed, quiet.unknown, quiet.version) == (["a.md"], [], None)
    assert await stored(otvet) == ["b.md", "c.md"]
    active = await otvet.store.active_version()
    assert active is not None and active.id == versions[-1]  # until the next retrain


async def test_a_rollback_returns_the_sources_it_dropped_from_the_working_set(
    otvet: Otvet, tmp_path: Path
) -> None:
    first, _, third = await three_versions(otvet, tmp_path)
    back = await otvet.knowledge.rollback(first)
    assert back.version.id == first and back.version.status == "active"
    assert back.dropped == ["b.md", "c.md"]
    assert await stored(otvet) == ["a.md"]
    again = await otvet.knowledge.rollback(third)  # its sources were removed since: nothing left to drop
    assert again.version.id == third and again.dropped == []
