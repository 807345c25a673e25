"""Knowledge versions: sources become chunks in a version; the active version's index answers searches.

The index is derived from the database only, so any process (another API replica, the worker) rebuilds the
same index from the same version, and notices a newly activated version within ``refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from otvet.core.chunking import chunk_source
from otvet.core.retrieval import IndexedChunk, RetrieverIndex
from otvet.core.sources import ParsedSource, QAPair, Section
from otvet.core.store import NewChunk, SourceRecord, VersionRecord
from otvet.core.types import Passage

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

    @property
    def version_id(self) -> int | None:
        """The knowledge version this process is answering from."""
        return self._version_id

    async def search(self, query: str, k: int) -> list[Passage]:
        index = await self.index()
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
                chunks: list[IndexedChunk] = []
                async for batch in self.otvet.store.iter_chunks(active.id):
                    chunks.extend(batch)
                index = await asyncio.to_thread(self.otvet.retriever.build, chunks)
                titles: dict[str | None, dict[str, None]] = {}
                for chunk in chunks:
                    titles.setdefault(chunk.language, {}).setdefault(chunk.source.title, None)
                # Swap only once the new index is complete: searches meanwhile use the previous one.
                self._index, self._version_id = index, active.id
                self._titles = {lang: list(names) for lang, names in titles.items()}
                log.info(
                    "knowledge version %d loaded: %d chunks in %.2fs",
                    active.id,
                    len(chunks),
                    time.monotonic() - started,
                )
            self._checked_at = time.monotonic()
            return self._version_id

    async def add_sources(
        self, sources: Sequence[NewSource], *, rebuild: bool = True, note: str = ""
    ) -> IngestReport:
        """Store ``sources`` (skipping unchanged ones); if anything changed, build and activate a version."""
        report = IngestReport()
        store = self.otvet.store
        for source in sources:
            parsed = source.parsed
            # Only a declared language is the source's; otherwise each chunk's language is detected, so a
            # file mixing Russian and English pairs is labelled pair by pair.
            _, status = await store.upsert_source(
                source.name, source.type, parsed.title, source.checksum, parsed.language, content_of(parsed)
            )
            getattr(report, status).append(source.name)
        if any(not s.name.startswith(PLACEHOLDER_PREFIX) for s in sources):
            placeholders = [
                r.name for r in await store.list_sources() if r.name.startswith(PLACEHOLDER_PREFIX)
            ]
            if placeholders:
                await store.delete_sources(placeholders)
                report.removed = placeholders
        changed = report.added or report.updated or report.removed
        if rebuild and (changed or await store.active_version() is None):
            report.version = await self.rebuild(note=note)
        return report

    async def topics(self, language: str | None = None, limit: int = 6) -> list[str]:
        """Titles of the active version's sources in ``language`` (or of no declared language).

        Collected when a version is loaded, not read from the sources table on every call: each /start asks,
        and that table holds every source's whole parsed content.
        """
        await self.index()
        titles = dict.fromkeys([*self._titles.get(language, []), *self._titles.get(None, [])])
        return list(titles)[:limit]

    async def recover(self) -> VersionRecord | None:
        """Build a version when sources exist but none is active (an ingest interrupted before its build)."""
        store = self.otvet.store
        if await store.active_version() is not None or not await store.list_sources():
            return None
        log.warning("sources are stored but no knowledge version is active: building one now")
        return await self.rebuild(note="rebuilt on start: no version was active")

    async def rebuild(
        self, *, note: str = "", progress: Callable[[int, int], None] | None = None
    ) -> VersionRecord:
        """Chunk every source into a new version, activate it and load its index."""
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
        version = await store.create_version(chunks, source_count=len(records), note=note)
        version = await store.activate_version(version.id)
        await self.refresh(force=True)
        return version
