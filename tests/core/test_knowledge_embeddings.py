"""Embeddings in the knowledge base as an admin and a user notice them: versions carry vectors, re-ingesting
one file pays only for that file, questions find paraphrases, and a broken embeddings service never breaks
an answer or a knowledge version.
"""

from __future__ import annotations

import asyncio
import logging
import re
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pluggy
import pytest

from otvet import hookimpl
from otvet.core.app import Otvet
from otvet.core.embeddings import Embedder, EmbeddingError, unpack
from otvet.core.hybrid import HybridIndex
from otvet.core.ingest import ingest_paths
from otvet.core.plugins import make_plugin_manager
from otvet.core.registry import RegistryError
from otvet.core.retrieval import IndexedChunk
from otvet.core.vectors import chunk_input
from tests.conftest import make_settings

#: Words that mean the same thing share an axis; any other word lands, weaker, on one of a few spare axes.
CONCEPTS = {
    "price": {"price", "prices", "cost", "costs", "admission", "ticket", "tickets", "euros", "much", "pay"},
    "time": {"open", "opens", "hours", "when", "ten", "close", "closes"},
    "parking": {"parking", "park", "car", "garage"},
}
AXES = list(CONCEPTS)
SPARE_AXES = 8


def concept_vector(text: str) -> list[float]:
    vector = [0.0] * (len(AXES) + SPARE_AXES)
    for word in re.findall(r"\w+", text.lower()):
        axis = next((i for i, name in enumerate(AXES) if word in CONCEPTS[name]), None)
        if axis is not None:
            vector[axis] += 1.0
        else:
            vector[len(AXES) + zlib.crc32(word.encode()) % SPARE_AXES] += 0.3
    return vector


class ConceptEmbedder(Embedder):
    """Maps words to concepts, records every text it is asked for, and fails or hangs when told to."""

    name = "concepts"

    def __init__(self, model: str = "v1") -> None:
        self.model = model
        self.inputs: list[str] = []
        self.calls = 0
        self.failing = False
        self.hanging = False
        self.closed = False

    async def embed(self, texts: Sequence[str], *, deadline: float | None = None) -> list[list[float]]:
        self.calls += 1
        if self.hanging:
            await asyncio.Event().wait()
        if self.failing:
            raise EmbeddingError("the concepts service is down")
        self.inputs.extend(texts)
        return [concept_vector(text) for text in texts]

    async def aclose(self) -> None:
        self.closed = True


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


MUSEUM = {
    "tickets.md": "# Tickets\n\nTickets cost five euros.\n",
    "hours.md": "# Hours\n\nThe museum opens at ten.\n",
    "parking.md": "# Parking\n\nParking is behind the building.\n",
    "faq.csv": "question,answer\nCan I bring a dog?,Dogs are welcome on Fridays.\n",
}


def museum(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in MUSEUM.items():
        write(folder, name, text)
    return folder


async def all_chunks(otvet: Otvet, version_id: int) -> list[IndexedChunk]:
    return [chunk async for batch in otvet.store.iter_chunks(version_id) for chunk in batch]


@pytest.fixture
def embedder() -> ConceptEmbedder:
    return ConceptEmbedder()


@pytest.fixture
def start(tmp_path: Path, db_url: str) -> Callable[..., Otvet]:
    """Otvet instances on one database (SQLite and PostgreSQL), with the given embedder registered."""

    def make(embedder: Embedder | None = None, **retrieval: object) -> Otvet:
        settings = make_settings(
            tmp_path, db_url, retrieval={"embedder": embedder.name if embedder else "", **retrieval}
        )
        instance = Otvet(settings)
        if embedder is not None:
            instance.embedders.register(embedder.name, lambda _otvet: embedder, owner="tests")
        return instance

    return make


@pytest.fixture
async def otvet(start: Callable[..., Otvet], embedder: ConceptEmbedder) -> AsyncIterator[Otvet]:
    async with start(embedder) as instance:
        yield instance


# --- the hook -----------------------------------------------------------------------------------------------


async def test_hook_register_embedders(tmp_path: Path) -> None:
    embedder = ConceptEmbedder()

    class Plugin:
        @hookimpl
        def register_embedders(self, register: Callable[..., None]) -> None:
            register("concepts", lambda otvet: embedder)

    pm: pluggy.PluginManager = make_plugin_manager(load_entry_points=False)
    pm.register(Plugin(), name="concepts-plugin")
    settings = make_settings(tmp_path, retrieval={"embedder": "concepts"})
    async with Otvet(settings, pm) as otvet:
        assert otvet.embedder is embedder
        report = await ingest_paths(otvet, [museum(tmp_path / "kb")], base=tmp_path)
        assert report.version is not None and report.version.embedder == "concepts:v1"
        best = (await otvet.knowledge.search("How much is admission?", 3))[0]
        assert best.text == "Tickets cost five euros."
    assert embedder.closed  # stopping Otvet closes the embedder

    # A name nobody registered fails on start, listing the known ones.
    with pytest.raises(RegistryError, match=r"unknown embedder 'nope'; known: concepts, openai, use$"):
        await Otvet(make_settings(tmp_path, retrieval={"embedder": "nope"}), pm).start()
    # By default the local one; an empty name makes none (BM25 alone).
    assert Otvet(make_settings(tmp_path), pm).embedder.key == "use:multilingual-v3"  # type: ignore[union-attr]
    assert Otvet(make_settings(tmp_path, retrieval={"embedder": ""}), pm).embedder is None


# --- building versions --------------------------------------------------------------------------------------


async def test_a_version_is_built_with_a_vector_per_chunk(otvet: Otvet, tmp_path: Path) -> None:
    report = await ingest_paths(otvet, [museum(tmp_path / "kb")], base=tmp_path)
    assert report.version is not None and report.version.embedder == "concepts:v1"
    chunks = await all_chunks(otvet, report.version.id)
    assert len(chunks) == 4
    for chunk in chunks:
        assert chunk.embedding is not None
        assert unpack(chunk.embedding).tolist() == pytest.approx(concept_vector(chunk_input(chunk)))
    pair = next(c for c in chunks if c.kind == "qa")
    assert chunk_input(pair) == "Can I bring a dog?\nDogs are welcome on Fridays."  # question and answer
    assert isinstance(await otvet.knowledge.index(), HybridIndex)


async def test_reingesting_one_changed_file_embeds_only_its_chunks(
    otvet: Otvet, embedder: ConceptEmbedder, tmp_path: Path
) -> None:
    kb = museum(tmp_path / "kb")
    first = await ingest_paths(otvet, [kb], base=tmp_path)
    assert first.version is not None
    assert len(embedder.inputs) == 4
    before = {c.text: c.embedding for c in await all_chunks(otvet, first.version.id)}

    embedder.inputs.clear()
    write(kb, "hours.md", "# Hours\n\nThe museum opens at ten and closes at six.\n")
    second = await ingest_paths(otvet, [kb], base=tmp_path)
    assert second.updated == ["kb/hours.md"] and second.version is not None
    assert embedder.inputs == ["Hours\nThe museum opens at ten and closes at six."]
    after = {c.text: c.embedding for c in await all_chunks(otvet, second.version.id)}
    assert all(after[text] == before[text] for text in before if text in after)  # reused byte for byte

    embedder.inputs.clear()
    unchanged = await ingest_paths(otvet, [kb], base=tmp_path)
    assert unchanged.version is None and embedder.calls == 2 and embedder.inputs == []


async def test_an_embedder_failing_during_ingest_changes_nothing_and_the_same_ingest_works_later(
    otvet: Otvet, embedder: ConceptEmbedder, tmp_path: Path
) -> None:
    kb = museum(tmp_path / "kb")
    first = await ingest_paths(otvet, [kb], base=tmp_path)
    sources_before = await otvet.store.list_sources()
    write(kb, "shop.md", "# Shop\n\nThe shop sells postcards.\n")

    embedder.failing = True
    with pytest.raises(EmbeddingError, match=r"concepts:v1 failed: the concepts service is down"):
        await ingest_paths(otvet, [kb], base=tmp_path)
    assert await otvet.store.active_version() == first.version
    assert await otvet.store.list_sources() == sources_before  # nothing stored: the file is not "unchanged"

    embedder.failing = False
    again = await ingest_paths(otvet, [kb], base=tmp_path)
    assert again.added == ["kb/shop.md"] and again.version is not None
    assert again.version.embedder == "concepts:v1"
    assert (await otvet.knowledge.search("postcards", 1))[0].text == "The shop sells postcards."


async def test_without_an_embeddings_service_the_demo_still_loads_on_start(
    tmp_path: Path, embedder: ConceptEmbedder
) -> None:
    embedder.failing = True
    otvet = Otvet(make_settings(tmp_path, load_demo=True, retrieval={"embedder": "concepts"}))
    otvet.embedders.register("concepts", lambda _otvet: embedder, owner="tests")
    async with otvet:
        version = await otvet.store.active_version()
        assert version is not None and version.embedder is None  # BM25 alone, for now
        assert (await otvet.knowledge.search("connect Telegram", 1))[0].source.title == "Connecting Telegram"
        # The first real ingest (the service is back) builds a version with vectors.
        embedder.failing = False
        report = await ingest_paths(otvet, [museum(tmp_path / "kb")], base=tmp_path)
        assert report.version is not None and report.version.embedder == "concepts:v1"


async def test_an_interrupted_ingest_is_recovered_on_start_even_without_the_service(
    start: Callable[..., Otvet], embedder: ConceptEmbedder
) -> None:
    async with start() as otvet:
        await otvet.store.upsert_source(
            "kb.md", "markdown", "KB", "c1", "en", {"sections": [{"title": "KB", "text": "Tea is green."}]}
        )
    embedder.failing = True
    async with start(embedder) as otvet:
        version = await otvet.store.active_version()
        assert version is not None and version.chunk_count == 1 and version.embedder is None


# --- searching ----------------------------------------------------------------------------------------------


async def test_a_question_sharing_no_word_with_its_answer_finds_it_by_meaning(
    otvet: Otvet, tmp_path: Path
) -> None:
    await ingest_paths(otvet, [museum(tmp_path / "kb")], base=tmp_path)
    index = await otvet.knowledge.index()
    assert isinstance(index, HybridIndex)
    assert index.lexical.search("How much is admission?", 3) == []  # BM25 alone finds nothing
    best = (await otvet.knowledge.search("How much is admission?", 3))[0]
    assert best.text == "Tickets cost five euros." and best.source.title == "Tickets"
    # Its relevance weighs the words it holds (none) with its similarity: enough to answer from.
    assert index.min_relevance < best.score <= 1.0
    # Questions that share words still find their passage first.
    assert (await otvet.knowledge.search("Where is parking?", 3))[0].text == "Parking is behind the building."


async def test_a_failing_embedder_at_question_time_falls_back_to_words(
    otvet: Otvet, embedder: ConceptEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await ingest_paths(otvet, [museum(tmp_path / "kb")], base=tmp_path)
    index = await otvet.knowledge.index()
    embedder.failing = True
    with caplog.at_level(logging.WARNING, logger="otvet.core.knowledge"):
        for _ in range(3):
            passages = await otvet.knowledge.search("When does the museum open?", 3)
            assert passages == index.search("When does the museum open?", 3)  # BM25's own answer
            assert passages[0].text == "The museum opens at ten."
    warnings = [r for r in caplog.records if "cannot embed questions" in r.getMessage()]
    assert len(warnings) == 1  # an outage is logged once, not at every question

    embedder.failing = False
    assert (await otvet.knowledge.search("How much is admission?", 1))[0].text == "Tickets cost five euros."


async def test_a_hanging_embedder_does_not_hold_the_question(
    start: Callable[..., Otvet], embedder: ConceptEmbedder, tmp_path: Path
) -> None:
    async with start(embedder, embed_timeout=0.2) as otvet:
        await ingest_paths(otvet, [museum(tmp_path / "kb")], base=tmp_path)
        embedder.hanging = True
        passages = await asyncio.wait_for(otvet.knowledge.search("When does the museum open?", 3), 10)
        assert passages[0].text == "The museum opens at ten."


async def test_vectors_of_another_embedder_are_ignored_until_the_next_ingest_rebuilds(
    start: Callable[..., Otvet], embedder: ConceptEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kb = museum(tmp_path / "kb")
    async with start(embedder) as otvet:
        await ingest_paths(otvet, [kb], base=tmp_path)

    # No embedder any more: the stored vectors are not used, and nothing needs rebuilding.
    with caplog.at_level(logging.WARNING, logger="otvet.core.knowledge"):
        async with start() as otvet:
            assert not isinstance(await otvet.knowledge.index(), HybridIndex)
            assert await otvet.knowledge.search("How much is admission?", 3) == []
            assert (await ingest_paths(otvet, [kb], base=tmp_path)).version is None
    assert any("no embedder is configured" in r.getMessage() for r in caplog.records)

    # Another model: its vectors are not comparable with the stored ones.
    other = ConceptEmbedder(model="v2")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="otvet.core.knowledge"):
        async with start(other) as otvet:
            assert not isinstance(await otvet.knowledge.index(), HybridIndex)
            passages = await otvet.knowledge.search("When does the museum open?", 3)
            assert passages[0].text == "The museum opens at ten."
            assert other.calls == 0  # no question is embedded for a version without comparable vectors
            assert any("has concepts:v1 vectors, not concepts:v2" in r.getMessage() for r in caplog.records)

            # Ingesting the unchanged files again builds a version with the new embedder's vectors.
            report = await ingest_paths(otvet, [kb], base=tmp_path)
            assert report.version is not None and report.version.embedder == "concepts:v2"
            assert len(other.inputs) == 4
            best = (await otvet.knowledge.search("How much is admission?", 1))[0]
            assert best.text == "Tickets cost five euros."
