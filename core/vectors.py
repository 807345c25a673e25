"""Vectors of a knowledge base's chunks: computed when a version is built, loaded with it, and the question's
own vector at search time. Used by :class:`~otvet.core.knowledge.KnowledgeBase` when an embedder is set.

Vectors are keyed by a digest of what was embedded (:func:`chunk_input`), so a new version reuses the active
version's vectors for every chunk whose text did not change: re-ingesting one file of a large knowledge base
embeds that file only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from otvet.core.embeddings import (
    Embedder,
    EmbeddingError,
    FloatMatrix,
    as_matrix,
    embed_input,
    input_digest,
    pack,
    unpack_matrix,
)
from otvet.core.hybrid import HybridIndex

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.chunking import Piece
    from otvet.core.retrieval import IndexedChunk, RetrieverIndex
    from otvet.core.store import NewChunk, VersionRecord

log = logging.getLogger(__name__)

#: Texts handed to the embedder per call while a version is built: progress is logged after each.
EMBED_GROUP = 2048
#: A question's embedding is abandoned this long after ``embed_timeout``, for embedders that ignore it.
_EMBED_GRACE = 0.25


def chunk_input(chunk: Piece | NewChunk | IndexedChunk) -> str:
    """What the embedder is given for a chunk (its title, its question for a Q&A pair, its text)."""
    return embed_input(chunk.text, question=chunk.question if chunk.kind == "qa" else None, title=chunk.title)


class ChunkVectors:
    """Embeds chunks for new versions and questions for searches, with the configured embedder."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet
        # True while questions cannot be embedded: the outage is logged once, not at every question.
        self._down = False

    @property
    def embedder(self) -> Embedder | None:
        return self.otvet.embedder

    # --- searching ------------------------------------------------------------------------------------------

    async def question(self, query: str) -> FloatMatrix | None:
        """The question's vector, or None (search by words alone) when the embedder fails or is too slow.

        A question waits about ``retrieval.embed_timeout`` for it at most: the answer from BM25 alone is
        better than no answer, and the embedder's circuit breaker soon stops even that wait.
        """
        embedder = self.embedder
        if embedder is None:
            return None
        try:
            await embedder.prepare()
        except Exception as exc:
            self._failed(exc)
            return None
        deadline = asyncio.get_running_loop().time() + self.otvet.settings.retrieval.embed_timeout
        try:
            async with asyncio.timeout_at(deadline + _EMBED_GRACE):
                vectors = await embedder.embed([query], deadline=deadline)
            vector: FloatMatrix = as_matrix(vectors, 1)[0]
        except Exception as exc:
            self._failed(exc)
            return None
        if self._down:
            log.info("questions are embedded again: hybrid search is back")
            self._down = False
        return vector

    def _failed(self, exc: BaseException) -> None:
        if not self._down:
            log.warning("cannot embed questions (%s): searching by words alone until it works again", exc)
        self._down = True

    # --- loading a version ----------------------------------------------------------------------------------

    def loader(self, version: VersionRecord) -> VersionVectors:
        """Collects ``version``'s vectors while its chunks are read (see :class:`VersionVectors`)."""
        return VersionVectors(self, version, self._usable(version))

    def _usable(self, version: VersionRecord) -> bool:
        """True when ``version``'s vectors come from the configured embedder; logs why when they do not."""
        embedder = self.embedder
        if embedder is not None and version.embedder == embedder.key:
            return True
        if embedder is not None:
            log.warning(
                "knowledge version %d has %s, not %s: searching by words alone until the next "
                "`otvet ingest` rebuilds it with the configured embedder",
                version.id,
                f"{version.embedder} vectors" if version.embedder else "no vectors",
                embedder.key,
            )
        elif version.embedder:
            log.warning(
                "knowledge version %d has %s vectors but no embedder is configured "
                "(OTVET_RETRIEVAL__EMBEDDER): searching by words alone",
                version.id,
                version.embedder,
            )
        return False

    # --- building a version ---------------------------------------------------------------------------------

    async def attach(
        self, chunks: list[NewChunk], known: dict[str, bytes] | None, *, fallback: bool
    ) -> tuple[list[NewChunk], str | None]:
        """``chunks`` with their vectors, and the embedder's key; unchanged and None without an embedder.

        ``known`` holds vectors already computed (by digest); the rest come from the active version or the
        embedder. When the embedder fails, :class:`EmbeddingError` is raised, or with ``fallback`` the
        chunks are returned without vectors (the version is then searched by BM25 alone).
        """
        embedder = self.embedder
        if embedder is None:
            return chunks, None
        inputs = [chunk_input(chunk) for chunk in chunks]
        try:
            if known is None:
                known = await self.known(embedder)
            await self.embed_missing(embedder, inputs, known)
        except EmbeddingError as exc:
            if not fallback:
                raise
            log.warning("building the knowledge version without vectors (BM25 alone): %s", exc)
            return chunks, None
        with_vectors = [
            replace(chunk, embedding=known[input_digest(text)])
            for chunk, text in zip(chunks, inputs, strict=True)
        ]
        return with_vectors, embedder.key

    async def known(self, embedder: Embedder) -> dict[str, bytes]:
        """The active version's vectors by chunk input, if ``embedder`` made them: reused, not paid again."""
        active = await self.otvet.store.active_version()
        known: dict[str, bytes] = {}
        if active is None or active.embedder != embedder.key:
            return known
        async for batch in self.otvet.store.iter_chunks(active.id):
            for chunk in batch:
                if chunk.embedding is not None:
                    known[input_digest(chunk_input(chunk))] = chunk.embedding
        return known

    async def embed_missing(self, embedder: Embedder, inputs: Sequence[str], known: dict[str, bytes]) -> int:
        """Embed the ``inputs`` that ``known`` has no vector for (each distinct text once); add them to it.

        Returns how many texts were embedded. Raises :class:`EmbeddingError` naming the embedder on failure.
        """
        digests = {input_digest(text): text for text in inputs}
        missing = [(digest, text) for digest, text in digests.items() if digest not in known]
        if not missing:
            log.info("all %d chunk texts already have vectors: nothing to embed", len(digests))
            return 0
        await embedder.prepare()
        width = len(next(iter(known.values()))) // 4 if known else None
        for start in range(0, len(missing), EMBED_GROUP):
            group = missing[start : start + EMBED_GROUP]
            try:
                matrix = as_matrix(await embedder.embed([text for _, text in group]), len(group))
            except Exception as exc:
                raise EmbeddingError(
                    f"embedding the knowledge base with {embedder.key} failed: {exc or type(exc).__name__}"
                ) from exc
            if width is not None and matrix.shape[1] != width:
                raise EmbeddingError(
                    f"{embedder.key} returned {matrix.shape[1]} dimensions; the stored vectors have {width}"
                )
            width = matrix.shape[1]
            for (digest, _), row in zip(group, matrix, strict=True):
                known[digest] = pack(row)
            log.info(
                "embedded %d of %d new chunk texts with %s (%d reused)",
                min(start + len(group), len(missing)),
                len(missing),
                embedder.key,
                len(digests) - len(missing),
            )
        return len(missing)


class VersionVectors:
    """One version's vectors, collected batch by batch as its chunks load, then made into a hybrid index."""

    def __init__(self, vectors: ChunkVectors, version: VersionRecord, usable: bool) -> None:
        self.vectors = vectors
        self.version = version
        self.usable = usable
        self._pieces: list[FloatMatrix] = []

    def take(self, batch: list[IndexedChunk]) -> list[IndexedChunk]:
        """Keep the batch's vectors; return its chunks without them (the matrix holds the only copy)."""
        if not self.usable:
            return batch
        try:
            self._pieces.append(_vectors_of(batch))
        except ValueError as exc:
            log.warning(
                "knowledge version %d has unusable vectors (%s): searching by words alone",
                self.version.id,
                exc,
            )
            self.usable, self._pieces = False, []
        return [replace(chunk, embedding=None) for chunk in batch]

    def index(self, lexical: RetrieverIndex, chunks: list[IndexedChunk]) -> RetrieverIndex:
        """The hybrid index over ``lexical`` when the version's vectors are usable, else ``lexical``."""
        if not (self.usable and chunks):
            return lexical
        try:
            matrix = np.concatenate(self._pieces) if len(self._pieces) > 1 else self._pieces[0]
        except ValueError as exc:  # batches of different widths
            log.warning("the knowledge version's vectors have different lengths (%s): words alone", exc)
            return lexical
        settings = self.vectors.otvet.settings.retrieval
        return HybridIndex(
            lexical,
            chunks,
            matrix,
            vector_weight=settings.vector_weight,
            candidates=settings.vector_candidates,
            min_relevance=self.vectors.embedder.min_relevance if self.vectors.embedder else 0.3,
        )


def _vectors_of(batch: Sequence[IndexedChunk]) -> FloatMatrix:
    """The batch's vectors as a matrix; ValueError when a chunk has none or their lengths differ."""
    rows = [chunk.embedding for chunk in batch]
    if any(row is None for row in rows):
        raise ValueError("a chunk has no vector")
    return unpack_matrix(rows)  # type: ignore[arg-type]
