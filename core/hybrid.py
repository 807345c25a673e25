"""Hybrid retrieval: the retriever's lexical ranking fused with vector similarity.

BM25 finds the words of a question; vectors find its meaning ("how much is it?" near "Prices start at..."),
and each misses what the other finds. Both rankings are cut to their best ``candidates`` and merged with
reciprocal rank fusion (Cormack et al., 2009):

    fused(chunk) = Σ over the rankings that hold the chunk of 1 / (fusion_k + rank)      (rank from 1)

RRF uses ranks only, so BM25's unbounded scores and the model's cosine scale need no calibration against
each other, and ``fusion_k`` (60, the paper's value) keeps one ranking's first place from drowning the other.

Every passage still carries a *relevance* in [0, 1] as its ``score``, which providers compare with fixed
thresholds (see :class:`otvet.core.retrieval.RetrieverIndex`): the larger of the lexical relevance (0 when
BM25 did not find the chunk) and the cosine similarity clipped to [0, 1]. Taking the larger one means a chunk
that both rankings found never scores below one that vectors alone found.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from otvet.core.embeddings import FloatMatrix, normalise
from otvet.core.retrieval import IndexedChunk, RetrieverIndex
from otvet.core.types import Passage

log = logging.getLogger(__name__)


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
        fusion_k: int = 60,
        candidates: int = 50,
    ) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != len(chunks):
            raise ValueError(f"{matrix.shape[0]} vectors for {len(chunks)} chunks")
        self.lexical = lexical
        self._chunks = tuple(chunks)
        self._matrix = normalise(np.asarray(matrix, dtype=np.float32))
        self._rows = {chunk.chunk_id: row for row, chunk in enumerate(self._chunks)}
        self.fusion_k = fusion_k
        self.candidates = candidates

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def dimensions(self) -> int:
        return int(self._matrix.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors."""
        return int(self._matrix.nbytes)

    def search(
        self, query: str, k: int, *, query_vector: Sequence[float] | npt.ArrayLike | None = None
    ) -> list[Passage]:
        """Up to ``k`` passages by fused rank; the lexical index's own when ``query_vector`` is None."""
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
        similarities = self._matrix @ normalise(vector)
        fused: dict[Hashable, float] = {}
        found: dict[Hashable, Passage] = {}
        for rank, passage in enumerate(self.lexical.search(query, depth), 1):
            row = self._rows.get(passage.source.chunk_id) if passage.source.chunk_id is not None else None
            key: Hashable = row if row is not None else ("lexical", rank)
            fused[key] = 1.0 / (self.fusion_k + rank)
            found[key] = passage
        for rank, row in enumerate(_nearest(similarities, depth), 1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (self.fusion_k + rank)
        # sorted() is stable and ``fused`` lists lexical hits first: on a tie, the words win.
        best = sorted(fused, key=lambda key: -fused[key])[:k]
        return [self._passage(key, found.get(key), similarities) for key in best]

    def _passage(
        self, key: Hashable, lexical: Passage | None, similarities: npt.NDArray[np.float32]
    ) -> Passage:
        similarity = float(np.clip(similarities[key], 0.0, 1.0)) if isinstance(key, int) else 0.0
        if lexical is not None:
            return replace(lexical, score=max(lexical.score, similarity))
        return self._chunks[key].passage(similarity)  # type: ignore[index]


def _nearest(similarities: npt.NDArray[np.float32], n: int) -> list[int]:
    """The ``n`` rows most similar to the query (positive similarity only), best first.

    ``argpartition`` finds them in linear time; only those ``n`` are sorted (equal ones by row, so that
    results do not change from run to run).
    """
    candidates = np.flatnonzero(similarities > 0)
    if len(candidates) > n:
        part = np.argpartition(-similarities[candidates], n - 1)[:n]
        candidates = candidates[part]
    order = np.lexsort((candidates, -similarities[candidates]))
    return [int(row) for row in candidates[order]]
