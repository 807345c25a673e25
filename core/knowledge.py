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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from otvet.core.chunking import Piece, chunk_source
from otvet.core.evaluation import Decision, Evaluation, decide, evaluate
from otvet.core.hybrid import HybridIndex
from otvet.core.retrieval import IndexedChunk, RetrieverIndex, SoughtTerm
from otvet.core.sources import ParsedSource, QAPair, Section
from otvet.core.store import (
    CheckRecord,
    DatabaseUnavailable,
    NewChunk,
    NotFound,
    SourceRecord,
    VersionRecord,
)
from otvet.core.text import words
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


#: The shortest pause between two checks for a newer version, whatever ``refresh_seconds`` says.
MIN_REFRESH_SECONDS = 0.1
#: Seconds between two progress reports of a version being built (the last one is always sent).
PROGRESS_EVERY = 0.25
#: Indexes up to this many chunks are searched on the event loop itself (bench/bench_retrieval.py: p99
#: under 0.3 ms at 2,000 chunks); larger ones in a worker thread.
INLINE_SEARCH_CHUNKS = 2000

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


@dataclass(frozen=True, slots=True)
class RemovalResult:
    """What :meth:`KnowledgeBase.remove_sources` did: the sources removed, the names that named none, and
    the version built without the removed ones (None when nothing was removed or no rebuild was asked)."""

    removed: list[str]
    unknown: list[str]
    version: VersionRecord | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    """The version a rollback made active, and the stored sources it dropped from the working set."""

    version: VersionRecord
    dropped: list[str]


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


#: The store lock held while a starting process builds the first version (recovery, the demo): replicas
#: starting together on an empty database then build one version between them, not one each.
BOOTSTRAP_LOCK = "knowledge-bootstrap"


class _EmptyIndex(RetrieverIndex):
    def search(self, query: str, k: int) -> list[Passage]:
        return []


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A version's index, ready to answer from."""

    version_id: int
    index: RetrieverIndex
    titles: dict[str | None, list[str]]
    chunk_count: int = 0


class KnowledgeBase:
    """Adds sources, builds, evaluates and promotes versions, and keeps the active version's index loaded."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet
        self._index: RetrieverIndex = _EmptyIndex()
        self._version_id: int | None = None
        self._titles: dict[str | None, list[str]] = {}
        self._chunk_count = 0
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self.vectors = ChunkVectors(otvet)

    @property
    def version_id(self) -> int | None:
        """The knowledge version this process is answering from."""
        return self._version_id

    @property
    def chunk_count(self) -> int:
        """How many chunks the version this process answers from has (0 before one is loaded)."""
        return self._chunk_count

    async def search(self, query: str, k: int) -> list[Passage]:
        return await self._search_in(await self.index(), query, k)

    async def sought(self, query: str) -> tuple[SoughtTerm, ...]:
        """The terms of ``query`` as the active version's index matches them (see ``RetrieverIndex``)."""
        return (await self.index()).sought(query)

    async def min_relevance(self) -> float:
        """The relevance below which the active version's index says a question is not covered."""
        return (await self.index()).min_relevance

    async def _search_in(self, index: RetrieverIndex, query: str, k: int) -> list[Passage]:
        if isinstance(index, HybridIndex):
            vector = await self.vectors.question(query)
            return await asyncio.to_thread(functools.partial(index.search, query, k, query_vector=vector))
        # Searching 100k chunks takes milliseconds of CPU: keep it off the event loop. A small index is
        # searched in tens of microseconds, less than handing the search to a thread and back costs.
        if 0 < len(index) <= INLINE_SEARCH_CHUNKS:
            return index.search(query, k)
        return await asyncio.to_thread(index.search, query, k)

    async def index(self) -> RetrieverIndex:
        """The active version's index. The first call loads it; from then on a background task checks every
        ``refresh_seconds`` for a newer version (another process promoted it) and swaps it in once loaded.

        Loading a large version takes seconds, and no question waits for it: searches meanwhile use the
        current index. Checking on a timer rather than on the next question means an idle process (a
        Telegram bot at night) answers its first question after a promotion from the new version already.
        """
        if self._checked_at == float("-inf"):
            async with self._lock:
                loaded = self._checked_at != float("-inf")  # another task finished the first load meanwhile
            if not loaded:
                await self.refresh()
        if self._watcher is None:  # this process answers questions: keep its index current from now on
            self._watcher = asyncio.create_task(self._watch())
        return self._index

    async def _watch(self) -> None:
        while True:
            interval = max(self.otvet.settings.retrieval.refresh_seconds, MIN_REFRESH_SECONDS)
            await asyncio.sleep(max(interval - (time.monotonic() - self._checked_at), MIN_REFRESH_SECONDS))
            try:
                await self.refresh()
            except DatabaseUnavailable:
                self._checked_at = time.monotonic()  # answering from the index we have; logged by the store
            except Exception:
                # The database went away for a moment: keep answering from the index we have, try again later.
                log.warning("checking for a newer knowledge version failed", exc_info=True)
                self._checked_at = time.monotonic()

    async def close(self) -> None:
        """Stop watching for new versions (on shutdown)."""
        task, self._watcher = self._watcher, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def refresh(self, *, force: bool = False) -> int | None:
        """Load the active version's index if it changed (or ``force``); return the version id."""
        async with self._lock:
            active = await self.otvet.store.active_version()
            if active is None:
                self._index, self._version_id, self._titles = _EmptyIndex(), None, {}
                self._chunk_count = 0
                self._checked_at = time.monotonic()
                return None
            if active.id != self._version_id or force:
                self._install(await self._load(active))
            self._checked_at = time.monotonic()
            return self._version_id

    async def _load(self, version: VersionRecord) -> _Loaded:
        """Build ``version``'s index from its stored chunks (it need not be the active one)."""
        started = time.monotonic()
        vectors = self.vectors.loader(version)
        chunks: list[IndexedChunk] = []
        async for batch in self.otvet.store.iter_chunks(version.id):
            chunks.extend(vectors.take(batch))
        index = await asyncio.to_thread(self.otvet.retriever.build, chunks)
        index = await asyncio.to_thread(vectors.index, index, chunks)
        titles: dict[str | None, dict[str, None]] = {}
        for chunk in chunks:
            titles.setdefault(chunk.language, {}).setdefault(chunk.source.title, None)
        log.info(
            "knowledge version %d loaded: %d chunks%s in %.2fs",
            version.id,
            len(chunks),
            f" with {version.embedder} vectors" if isinstance(index, HybridIndex) else "",
            time.monotonic() - started,
        )
        return _Loaded(version.id, index, {lang: list(names) for lang, names in titles.items()}, len(chunks))

    def _install(self, loaded: _Loaded) -> None:
        # Swap only once the new index is complete: searches meanwhile use the previous one, and a turn that
        # already searched the previous one answers from its passages.
        self._index, self._version_id, self._titles = loaded.index, loaded.version_id, loaded.titles
        self._chunk_count = loaded.chunk_count

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

    async def remove_sources(
        self, names: Sequence[str], *, rebuild: bool = True, all_or_nothing: bool = False
    ) -> RemovalResult:
        """Delete the stored sources named ``names``; if any went and ``rebuild``, build and :meth:`publish`
        a version without them (it may be rejected by the gate). Older versions keep their copies, so a
        rollback still answers with them.

        Names that name no source are ignored and listed in ``unknown``; with ``all_or_nothing`` any such
        name means nothing is removed. An embedder failure while rebuilding raises :class:`EmbeddingError`
        after the sources are gone: the next retrain builds without them.
        """
        store = self.otvet.store
        stored = {record.name for record in await store.list_sources()}
        wanted = list(dict.fromkeys(names))
        unknown = [name for name in wanted if name not in stored]
        removed = [name for name in wanted if name in stored]
        if not removed or (unknown and all_or_nothing):
            return RemovalResult([], unknown)
        await store.delete_sources(removed)
        version = await self.rebuild(note=f"removed {', '.join(removed)}") if rebuild else None
        return RemovalResult(removed, unknown, version)

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
        inputs = [chunk_input(piece) for parsed in contents for piece in self.chunks_of(parsed)]
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
        # Replicas starting together: one builds, the others find its version active and build nothing.
        async with store.exclusive(BOOTSTRAP_LOCK):
            if await store.active_version() is not None:
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
        force: bool = False,
    ) -> VersionRecord:
        """Chunk every source into a new version and :meth:`publish` it (evaluate, then promote or reject).

        With an embedder every chunk gets a vector (:meth:`ChunkVectors.attach`): from ``vectors`` (embedded
        ahead), else from the active version when its chunk text is unchanged, else from the embedder. If
        the embedder fails, :class:`EmbeddingError` is raised and the active version stays; with
        ``fallback`` the version is built without vectors instead (searched by BM25 alone).
        """
        version = await self.build(note=note, progress=progress, vectors=vectors, fallback=fallback)
        return await self.publish(version, force=force)

    async def build(
        self,
        *,
        note: str = "",
        progress: Callable[[int, int], None] | None = None,
        vectors: dict[str, bytes] | None = None,
        fallback: bool = False,
    ) -> VersionRecord:
        """Chunk every source into a new ``ready`` version (not answering yet) and return it.

        Chunking (and detecting each chunk's language) is CPU work, seconds for a large knowledge base: it
        runs in a thread, so a process that also answers questions (``otvet serve`` with its worker) keeps
        answering meanwhile.
        """
        store = self.otvet.store
        records = await store.list_sources()
        loop = asyncio.get_running_loop()

        last = [0.0]

        def report(done: int, total: int) -> None:
            # The callback belongs to the event loop's thread (it may set asyncio events). At most a few
            # reports a second: each call_soon_threadsafe writes to the loop's wake-up pipe, which signals
            # share, and one per source (3,000 in a second) filled it, so a SIGTERM was lost ("Exception
            # ignored ... signal wakeup fd: BlockingIOError").
            now = time.monotonic()
            if progress and (done == total or now - last[0] >= PROGRESS_EVERY):
                last[0] = now
                loop.call_soon_threadsafe(progress, done, total)

        chunks = await asyncio.to_thread(self._chunk_all, records, report)
        chunks, embedder_key = await self.vectors.attach(chunks, vectors, fallback=fallback)
        return await store.create_version(chunks, source_count=len(records), note=note, embedder=embedder_key)

    def _chunk_all(
        self, records: Sequence[SourceRecord], progress: Callable[[int, int], None]
    ) -> list[NewChunk]:
        chunks: list[NewChunk] = []
        seen: set[tuple[str, ...]] = set()
        for done, record in enumerate(records, 1):
            for position, piece in enumerate(self.chunks_of(parsed_of(record))):
                # The same passage twice (a disclaimer on every page, a pair in two FAQ files) would fill
                # the few passages an answer gets with copies: keep the first.
                key = (piece.kind, " ".join(words(piece.question or "")), " ".join(words(piece.text)))
                if key in seen:
                    continue
                seen.add(key)
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
            progress(done, len(records))
        return chunks

    def chunks_of(self, parsed: ParsedSource) -> Iterator[Piece]:
        """A source's chunks, cut as ``training`` settings say (the same for building and embedding ahead)."""
        settings = self.otvet.settings.training
        return chunk_source(parsed, settings.chunk_chars, settings.chunk_overlap)

    async def evaluate(self, version: VersionRecord, checks: Sequence[CheckRecord]) -> Evaluation:
        """Score ``version`` on ``checks`` (core/evaluation.py); it need not be active."""
        return await self._evaluate(await self._loaded(version), checks)

    async def _evaluate(self, loaded: _Loaded, checks: Sequence[CheckRecord]) -> Evaluation:
        settings = self.otvet.settings.training

        async def search(question: str, k: int) -> list[Passage]:
            return await self._search_in(loaded.index, question, k)

        return await evaluate(
            loaded.version_id, checks, search, k=settings.eval_k, answer_recall=settings.answer_recall
        )

    async def _loaded(self, version: VersionRecord) -> _Loaded:
        if version.id == self._version_id:
            return _Loaded(version.id, self._index, self._titles, self._chunk_count)
        return await self._load(version)

    async def publish(self, version: VersionRecord, *, force: bool = False) -> VersionRecord:
        """Evaluate a built version against the active one; promote it if it is not worse (or ``force``).

        A version that scored worse is marked ``rejected``, its evaluation and the reason stored in its
        ``metrics`` (``metrics["decision"]``): the active version keeps answering.
        """
        store = self.otvet.store
        checks = await store.list_checks()
        active = await store.active_version()
        candidate = await self._loaded(version)
        metrics: dict[str, Any] = {"checks": 0}
        decision = Decision(True, "the check set is empty: promoted without evaluation")
        if checks:
            mine = await self._evaluate(candidate, checks)
            theirs = None
            if active is not None and active.id != version.id:
                theirs = await self.evaluate(active, checks)
            decision = decide(mine, theirs, tolerance=self.otvet.settings.training.tolerance)
            metrics = mine.as_dict()
            if theirs is not None:
                metrics["baseline"] = {"version_id": theirs.version_id, **theirs.scores()}
        promote = decision.promote or force
        reason = decision.reason if decision.promote or not force else f"forced: {decision.reason}"
        metrics.update(decision=reason, promoted=promote)
        version = await store.update_version(version.id, metrics=metrics)
        if not promote:
            log.warning("knowledge version %d not promoted: %s", version.id, reason)
            return await store.update_version(version.id, status="rejected")
        version = await store.activate_version(version.id)
        async with self._lock:
            self._install(candidate)
            self._checked_at = time.monotonic()
        log.info("knowledge version %d promoted: %s", version.id, reason)
        await self.prune()
        return version

    async def promote(self, version_id: int, *, force: bool = False) -> VersionRecord:
        """Promote a kept version through the gate (re-evaluated on today's check set), or ``force`` it."""
        version = await self._version(version_id)
        if version.status == "active":
            return version
        if version.status in ("building", "failed"):
            raise ValueError(f"knowledge version {version_id} is {version.status}: it cannot be promoted")
        return await self.publish(version, force=force)

    async def rollback(self, version_id: int | None = None) -> Rollback:
        """Make an earlier version active again: ``version_id``, or the one active before the current one.
        Its sources become the working set: the result names the stored sources it dropped.

        Rolling back is the admin's explicit decision (the version answered before), so it skips the gate.
        """
        store = self.otvet.store
        if version_id is None:
            active = await store.active_version()
            earlier = [
                v
                for v in await store.list_versions()
                if v.status == "retired"
                and v.activated_at is not None
                and (active is None or v.id != active.id)
            ]
            if not earlier:
                raise NotFound("no earlier version was ever active: there is nothing to roll back to")
            version_id = max(earlier, key=lambda v: (v.activated_at, v.id)).id
        version = await self._version(version_id)
        if version.status in ("building", "failed"):
            raise ValueError(f"knowledge version {version_id} is {version.status}: it cannot be activated")
        version = await store.activate_version(version.id)
        dropped = await self._keep_only_sources_of(version)
        await self.refresh(force=True)
        log.info(
            "rolled back to knowledge version %d%s",
            version.id,
            f"; sources it did not have left the working set: {', '.join(dropped)}" if dropped else "",
        )
        return Rollback(version, dropped)

    async def _keep_only_sources_of(self, version: VersionRecord) -> list[str]:
        """Make ``version``'s sources the working set: a version is a set of sources, and rolling back to it
        means the next build starts from that set, not from everything stored since. Returns the names of
        the stored sources removed (newer versions keep their copies). A source the version had that was
        removed since cannot come back: its text lives only in the version's chunks."""
        store = self.otvet.store
        kept: set[int] = set()
        async for batch in store.iter_chunks(version.id):
            kept.update(c.source.source_id for c in batch if c.source.source_id is not None)
        dropped = [s.name for s in await store.list_sources() if s.id not in kept]
        if dropped:
            await store.delete_sources(dropped)
        return sorted(dropped)

    async def _version(self, version_id: int) -> VersionRecord:
        version = await self.otvet.store.get_version(version_id)
        if version is None:
            raise NotFound(f"there is no knowledge version {version_id}")
        return version

    async def prune(self) -> int:
        """Delete versions beyond ``training.keep_versions`` (oldest first; never the active one)."""
        keep = self.otvet.settings.training.keep_versions
        versions = [v for v in await self.otvet.store.list_versions() if v.status != "active"]
        old = [v.id for v in sorted(versions, key=lambda v: v.id, reverse=True)[keep:]]
        if not old:
            return 0
        deleted = await self.otvet.store.delete_versions(old)
        log.info("deleted %d old knowledge versions (keeping %d for rollback)", deleted, keep)
        return deleted
