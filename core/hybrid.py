"""Hybrid retrieval: the retriever's words and the embedder's meaning, weighed together.

BM25 finds the words of a question; vectors find its meaning ("how much is it?" near "Prices start at..."),
and each misses what the other finds. The best ``candidates`` of each are pooled, and every pooled chunk is
scored by one *relevance* in [0, 1], the weighted mean of what each signal says about it:

    relevance = (coverage + vector_weight · similarity) / (1 + vector_weight)

``coverage`` is the lexical index's relevance (the weighted share of the question's terms the chunk holds,
computed for chunks that only the vectors found too) and ``similarity`` the cosine of the two vectors,
clipped to [0, 1]. Chunks are ranked by it, and it is the ``score`` providers compare with their thresholds
(:class:`otvet.core.retrieval.RetrieverIndex`), so what ranks a passage first is also what says whether
the knowledge base answers the question at all. A question that shares words with the knowledge base but
means something else scores low on similarity; one asked in other words scores low on coverage but high on
similarity. Measured on XQuAD and user-phrased help-centre questions (docs/quality.md), this ranks better
than either signal, or reciprocal rank fusion of the two, and separates off-topic questions better.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from otvet.core.embeddings import FloatMatrix, normalise
from otvet.core.retrieval import IndexedChunk, RetrieverIndex, SoughtTerm
from otvet.core.types import Passage

log = logging.getLogger(__name__)

#: What a section title holding the whole question adds to a chunk's rank (not to its relevance): help
#: centres title sections with what users ask ("Password reset"), and a passage that merely quotes the
#: question ("for example: otvet ask 'How do I connect Telegram?'") should not outrank the section on it.
TITLE_BONUS = 0.1


class HybridIndex(RetrieverIndex):
    """A lexical index plus one unit vector per chunk; immutable, so threads may search it concurrently.

    ``matrix`` holds one row per chunk of ``chunks``, in the same order (a zero row for a chunk without a
    vector: vectors never find it). Without a query vector, ``search`` is the lexical index's own.
    """

    def __init__(
        self,
        lexical: RetrieverIndex,
        chunks: Sequence[IndexedChunk],
        matrix: FloatMatrix,
        *,
        vector_weight: float = 1.0,
        candidates: int = 50,
        min_relevance: float = 0.3,
    ) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != len(chunks):
            raise ValueError(f"{matrix.shape[0]} vectors for {len(chunks)} chunks")
        self.lexical = lexical
        self._chunks = tuple(chunks)
        self._matrix = normalise(np.asarray(matrix, dtype=np.float32))
        self._rows = {chunk.chunk_id: row for row, chunk in enumerate(self._chunks)}
        self.vector_weight = vector_weight
        self.candidates = candidates
        self.min_relevance = min_relevance

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def dimensions(self) -> int:
        return int(self._matrix.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors."""
        return int(self._matrix.nbytes)

    def sought(self, query: str) -> tuple[SoughtTerm, ...]:
        return self.lexical.sought(query)

    def relevance(self, query: str, positions: Sequence[int]) -> list[float]:
        return self.lexical.relevance(query, positions)

    def search(
        self, query: str, k: int, *, query_vector: Sequence[float] | npt.ArrayLike | None = None
    ) -> list[Passage]:
        """Up to ``k`` passages by relevance; the lexical index's own when ``query_vector`` is None."""
        if query_vector is None or k <= 0:
            return self.lexical.search(query, k)
        vector = np.asarray(query_vector, dtype=np.float32).ravel()
        if vector.shape[0] != self.dimensions:
            log.warning(
                "the query vector has %d dimensions, the knowledge version's %d: searching by words only",
                vector.shape[0],
                self.dimensions,
            )
            return self.lexical.search(query, k)
        depth = max(k, self.candidates)
        similarities = self._matrix @ normalise(vector)  # clipped to [0, 1] where used, not all 100k
        # row → (coverage, the lexical passage); in the lexical ranking's order, so that ties keep it.
        pooled: dict[int, tuple[float, Passage | None]] = {}
        ranked = self.lexical.ranked(query, depth)
        if ranked is not None:  # rows are the lexical index's positions: both were built from ``chunks``
            pooled.update((row, (relevance, None)) for row, relevance in ranked)
        else:
            for passage in self.lexical.search(query, depth):
                chunk_id = passage.source.chunk_id
                row = self._rows.get(chunk_id) if chunk_id is not None else None
                if row is not None:
                    pooled[row] = (passage.score, passage)
        only_vectors = [row for row in _nearest(similarities, depth) if row not in pooled]
        for row, coverage in zip(only_vectors, self.lexical.relevance(query, only_vectors), strict=True):
            pooled[row] = (coverage, None)
        weight = self.vector_weight
        rows = list(pooled)
        titles = self.lexical.title_match(query, rows)
        scored = [
            (
                (coverage + weight * min(max(float(similarities[row]), 0.0), 1.0)) / (1 + weight),
                title,
                row,
                passage,
            )
            for (row, (coverage, passage)), title in zip(pooled.items(), titles, strict=True)
        ]
        # sorted() is stable: among equal scores the words' order stands.
        scored.sort(key=lambda item: -(item[0] + TITLE_BONUS * item[1]))
        return [
            replace(passage, score=score) if passage is not None else self._chunks[row].passage(score)
            for score, _, row, passage in scored[:k]
        ]


def _nearest(similarities: npt.NDArray[np.float32], n: int) -> list[int]:
    """The ``n`` rows most similar to the query (positive similarity only), best first.

    ``argpartition`` finds them in linear time; only those ``n`` are sorted (equal ones by row, so that
    results do not change from run to run).
    """
    candidates = np.arange(len(similarities))
    if len(candidates) > n:
        candidates = np.argpartition(-similarities, n - 1)[:n]
    candidates = candidates[similarities[candidates] > 0]
    order = np.lexsort((candidates, -similarities[candidates]))
    return [int(row) for row in candidates[order]]
