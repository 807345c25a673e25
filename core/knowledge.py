"""Knowledge versions: sources become chunks in a version; the active version's index answers searches.

The index is derived from the database only, so any process (another API replica, the worker) rebuilds the
same index from the same version, and notices a newly activated version within ``refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from otvet.core.chunking import chunk_source
from otvet.core.hybrid import HybridIndex
from otvet.core.retrieval import IndexedChunk, RetrieverIndex
from otvet.core.sources import ParsedSource, QAPair, Section
from otvet.core.store import NewChunk, SourceRecord, VersionRecord
from otvet.core.types import Passage
from otvet.core.vectors import ChunkVectors, chunk_input

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewSource:
    """A parsed file on its way into the knowledge base."""

    name: str
    type: str
    parsed: ParsedSource
    checksum: str

    @classmethod
    def from_bytes(cls, name: str, type: str, parsed: ParsedSource, data: bytes) -> NewSource:
        return cls(name, type, parsed, hashlib.sha256(data).hexdigest())


#: Sources named with this prefix (the demo knowledge base) are placeholders: the first real source added
#: replaces them, so a new deployment's own knowledge never mixes with the demo.
PLACEHOLDER_PREFIX = "otvet-demo:"


@dataclass(slots=True)
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Placeholder sources removed because real ones arrived.
    removed: list[str] = field(default_factory=list)
    version: VersionRecord | None = None


def content_of(parsed: ParsedSource) -> dict[str, Any]:
    """The JSON-able form a source's parsed content is stored in (so versions can be rebuilt from it)."""
    return {
        "sections": [{"title": s.title, "text": s.text} for s in parsed.sections],
        "qa_pairs": [{"question": p.question, "answer": p.answer} for p in parsed.qa_pairs],
    }


def parsed_of(record: SourceRecord) -> ParsedSource:
    content = record.content
    return ParsedSource(
        title=record.title,
        sections=[Section(text=s["text"], title=s.get("title", "")) for s in content.get("sections", [])],
        qa_pairs=[QAPair(p["question"], p["answer"]) for p in content.get("qa_pairs", [])],
        language=record.language,
    )


class _EmptyIndex(RetrieverIndex):
    def search(self, query: str, k: int) -> list[Passage]:
        return []


class KnowledgeBase:
    """Adds sources, builds and activates versions, and keeps the active version's index loaded."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet
        self._index: RetrieverIndex = _EmptyIndex()
        self._version_id: int | None = None
        self._titles: dict[str | None, list[str]] = {}
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self.vectors = ChunkVectors(otvet)

    @property
    def version_id(self) -> int | None:
        """The knowledge version this process is answering from."""
        return self._version_id

    async def search(self, query: str, k: int) -> list[Passage]:
        index = await self.index()
        if isinstance(index, HybridIndex):
            vector = await self.vectors.question(query)
            return await asyncio.to_thread(functools.partial(index.search, query, k, query_vector=vector))
        # Searching 100k chunks takes milliseconds of CPU: keep it off the event loop anyway.
        return await asyncio.to_thread(index.search, query, k)

    async def index(self) -> RetrieverIndex:
        """The active version's index, rebuilt when another process activated a newer version.

        While a new version's index is being built (seconds, for a large knowledge base), searches keep using
        the previous one instead of queueing behind the build; only the very first load is waited for.
        """
        if self._lock.locked():
            if self._checked_at == float("-inf"):
                async with self._lock:
                    pass
            return self._index
        if time.monotonic() - self._checked_at >= self.otvet.settings.retrieval.refresh_seconds:
            await self.refresh()
        return self._index

    async def refresh(self, *, force: bool = False) -> int | None:
        """Load the active version's index if it changed (or ``force``); return the version id."""
        async with self._lock:
            active = await self.otvet.store.active_version()
            if active is None:
                self._index, self._version_id, self._titles = _EmptyIndex(), None, {}
                self._checked_at = time.monotonic()
                return None
            if active.id != self._version_id or force:
                started = time.monotonic()
                vectors = self.vectors.loader(active)
                chunks: list[IndexedChunk] = []
                async for batch in self.otvet.store.iter_chunks(active.id):
                    chunks.extend(vectors.take(batch))
                index = await asyncio.to_thread(self.otvet.retriever.build, chunks)
                index = await asyncio.to_thread(vectors.index, index, chunks)
                titles: dict[str | None, dict[str, None]] = {}
                for chunk in chunks:
                    titles.setdefault(chunk.language, {}).setdefault(chunk.source.title, None)
                # Swap only once the new index is complete: searches meanwhile use the previous one.
                self._index, self._version_id = index, active.id
                self._titles = {lang: list(names) for lang, names in titles.items()}
                log.info(
                    "knowledge version %d loaded: %d chunks%s in %.2fs",
                    active.id,
                    len(chunks),
                    f" with {active.embedder} vectors" if isinstance(index, HybridIndex) else "",
                    time.monotonic() - started,
                )
            self._checked_at = time.monotonic()
            return self._version_id

    async def add_sources(
        self, sources: Sequence[NewSource], *, rebuild: bool = True, note: str = ""
    ) -> IngestReport:
        """Store ``sources`` (skipping unchanged ones); if anything changed, build and activate a version.

        With an embedder, the new version's vectors are computed *before* anything is stored: when the
        embedder fails, :class:`EmbeddingError` is raised and the knowledge base is as it was, so running the
        same ingest again later does the whole job (a stored source would otherwise look ``unchanged``).
        A version without the configured embedder's vectors is rebuilt even when nothing changed.
        """
        report = IngestReport()
        store = self.otvet.store
        # The demo is a placeholder: its vectors are not worth failing a start over, so it is built without
        # them when the embedder fails (and then they need not be computed ahead).
        placeholders_only = all(s.name.startswith(PLACEHOLDER_PREFIX) for s in sources)
        vectors = await self._embed_ahead(sources) if rebuild and not placeholders_only else None
        for source in sources:
            parsed = source.parsed
            # Only a declared language is the source's; otherwise each chunk's language is detected, so a
            # file mixing Russian and English pairs is labelled pair by pair.
            _, status = await store.upsert_source(
                source.name, source.type, parsed.title, source.checksum, parsed.language, content_of(parsed)
            )
            getattr(report, status).append(source.name)
        if not placeholders_only:
            placeholders = [
                r.name for r in await store.list_sources() if r.name.startswith(PLACEHOLDER_PREFIX)
            ]
            if placeholders:
                await store.delete_sources(placeholders)
                report.removed = placeholders
        changed = report.added or report.updated or report.removed
        if rebuild and (changed or await self._needs_build()):
            report.version = await self.rebuild(note=note, vectors=vectors, fallback=placeholders_only)
        return report

    async def _needs_build(self) -> bool:
        """No version is active, or the active one lacks the configured embedder's vectors."""
        active = await self.otvet.store.active_version()
        embedder = self.otvet.embedder
        return active is None or (embedder is not None and active.embedder != embedder.key)

    async def _embed_ahead(self, sources: Sequence[NewSource]) -> dict[str, bytes] | None:
        """Vectors for every chunk the version built from ``sources`` will hold, or None if none is needed.

        The version's sources are the stored ones with ``sources`` (real ones, not the demo's) replacing
        their namesakes and the demo's gone, chunked exactly as :meth:`rebuild` will chunk them.
        """
        embedder = self.otvet.embedder
        if embedder is None:
            return None
        records = await self.otvet.store.list_sources()
        stored = {record.name: record for record in records}
        incoming = {source.name: source for source in sources}
        changed = any(
            name not in stored or stored[name].checksum != source.checksum
            for name, source in incoming.items()
        )
        drops_demo = any(name.startswith(PLACEHOLDER_PREFIX) for name in stored)
        if not (changed or drops_demo or await self._needs_build()):
            return None  # nothing will be built
        contents = [source.parsed for source in incoming.values()]
        contents += [
            parsed_of(record)
            for record in records
            if record.name not in incoming and not record.name.startswith(PLACEHOLDER_PREFIX)
        ]
        inputs = [chunk_input(piece) for parsed in contents for piece in chunk_source(parsed)]
        known = await self.vectors.known(embedder)
        await self.vectors.embed_missing(embedder, inputs, known)
        return known

    async def topics(self, language: str | None = None, limit: int = 6) -> list[str]:
        """Titles of the active version's sources in ``language`` (or of no declared language).

        Collected when a version is loaded, not read from the sources table on every call: each /start asks,
        and that table holds every source's whole parsed content.
        """
        await self.index()
        titles = dict.fromkeys([*self._titles.get(language, []), *self._titles.get(None, [])])
        return list(titles)[:limit]

    async def recover(self) -> VersionRecord | None:
        """Build a version when sources exist but none is active (an ingest interrupted before its build).

        Without an embeddings service this builds a version without vectors: on start, answering from BM25
        beats not starting.
        """
        store = self.otvet.store
        if await store.active_version() is not None or not await store.list_sources():
            return None
        log.warning("sources are stored but no knowledge version is active: building one now")
        return await self.rebuild(note="rebuilt on start: no version was active", fallback=True)

    async def rebuild(
        self,
        *,
        note: str = "",
        progress: Callable[[int, int], None] | None = None,
        vectors: dict[str, bytes] | None = None,
        fallback: bool = False,
    ) -> VersionRecord:
        """Chunk every source into a new version, activate it and load its index.

        With an embedder every chunk gets a vector (:meth:`ChunkVectors.attach`): from ``vectors`` (embedded
        ahead), else from the active version when its chunk text is unchanged, else from the embedder. If
        the embedder fails, :class:`EmbeddingError` is raised and the active version stays; with
        ``fallback`` the version is built without vectors instead (searched by BM25 alone).
        """
        store = self.otvet.store
        records = await store.list_sources()
        chunks: list[NewChunk] = []
        for done, record in enumerate(records, 1):
            parsed = parsed_of(record)
            for position, piece in enumerate(chunk_source(parsed)):
                language = record.language or self.otvet.detect_language(
                    f"{piece.question}\n{piece.text}" if piece.question else piece.text
                )
                chunks.append(
                    NewChunk(
                        source_id=record.id,
                        position=position,
                        text=piece.text,
                        kind=piece.kind,
                        question=piece.question,
                        title=piece.title,
                        language=language,
                    )
                )
            if progress:
                progress(done, len(records))
        chunks, embedder_key = await self.vectors.attach(chunks, vectors, fallback=fallback)
        version = await store.create_version(
            chunks, source_count=len(records), note=note, embedder=embedder_key
        )
        version = await store.activate_version(version.id)
        await self.refresh(force=True)
        return version
