"""BM25 retrieval over stemmed Russian and English terms: bm25s ranks, an IDF-weighted coverage scores.

Ranking is Lucene BM25 (bm25s, k1=1.5, b=0.75). BM25 scores are unbounded and grow with the corpus, so
every passage carries a *relevance* instead, which providers compare with fixed thresholds:

    relevance = Σ idf(t) over the query's distinct terms t that the chunk contains
                ─────────────────────────────────────────────────────────────────
                Σ idf(t) over all of the query's distinct terms

with ``idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))`` (``N`` chunks, ``df`` chunks containing ``t``). A
query term that no chunk contains still counts in the denominator, with the largest idf there is
(``df = 0``): "quantum physics" asked of a knowledge base about bots scores low even when "physics" occurs
somewhere. Stopwords never count, so 1.0 means every meaningful word of the question is in the chunk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import bm25s
import numpy as np
import numpy.typing as npt

from otvet.core.retrieval import IndexedChunk, Retriever, RetrieverIndex
from otvet.core.text import terms
from otvet.core.types import Passage
from otvet.plugins.retrieval_bm25.encoding import TermCounts, count_terms

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: A stored question covering at least this share of the asked one puts its pair first in the results.
QUESTION_MATCH = 0.5
#: At most this many Q&A pairs are put first that way.
MAX_QUESTION_HITS = 2

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def index_text(chunk: IndexedChunk) -> str:
    """What is indexed for a chunk: its section title, its question (Q&A pairs are found by it) and text."""
    question = chunk.question if chunk.kind == "qa" and chunk.question else ""
    return f"{chunk.title}\n{question}\n{chunk.text}"


def idf(doc_freqs: npt.NDArray[np.int64] | int, n_docs: int) -> FloatArray | float:
    """Lucene's idf, the one bm25s ranks with; always positive, largest (``ln(2N + 2)``) for ``df = 0``."""
    return np.log1p((n_docs - doc_freqs + 0.5) / (doc_freqs + 0.5))


def bm25_model(counts: TermCounts, *, k1: float, b: float) -> bm25s.BM25:
    """A bm25s model (Lucene BM25) over ``counts``, ready for ``get_scores_from_ids``.

    ``bm25s.BM25.index`` loops over documents in Python (a ``Counter`` each) and needs seconds for 100k
    chunks; this computes the same score matrix in a few numpy passes (the tests compare the two) and hands
    it to bm25s in its own layout. Columns keep documents in ascending order, as ``BM25Index`` relies on.
    """
    n_terms = len(counts.vocabulary)
    idfs = np.asarray(idf(counts.doc_freqs, len(counts.doc_lengths)), dtype=np.float32)
    lengths = counts.doc_lengths.astype(np.float32)
    norms = k1 * ((1 - b) + b * lengths / max(float(lengths.mean()), 1e-9))
    # idf · tf / (tf + k1 · (1 − b + b · len / avg len)), in place: this array is the index's bulk.
    data = counts.counts.astype(np.float32)
    denominators = norms[counts.docs]
    denominators += data
    data /= denominators
    del denominators
    data *= np.repeat(idfs, counts.doc_freqs)

    model = bm25s.BM25(k1=k1, b=b, method="lucene")
    # The attributes bm25s.BM25.index sets; get_scores_from_ids needs only these and the constructor's.
    model.scores = {
        "data": data,
        "indices": counts.docs,
        "indptr": counts.indptr,
        "num_docs": len(counts.doc_lengths),
    }
    model.vocab_dict = counts.vocabulary
    model.unique_token_ids_set = set(range(n_terms))
    model.nonoccurrence_array = None
    return model


class BM25Index(RetrieverIndex):
    """An immutable BM25 index; ``search`` only reads shared state, so threads may call it concurrently."""

    def __init__(
        self,
        chunks: Sequence[IndexedChunk],
        model: bm25s.BM25 | None = None,
        questions: tuple[BM25Index, tuple[int, ...]] | None = None,
    ) -> None:
        self._chunks = tuple(chunks)
        self._model = model
        # Stored questions get an index of their own (and the chunk number each one answers): a question
        # asked in other words should find its stored twin even when every document mentions the same
        # words ("What is Otvet?" in a knowledge base about Otvet).
        self._questions = questions
        n_docs = len(self._chunks)
        self._vocabulary: dict[str, int] = model.vocab_dict if model is not None else {}
        self._idf = idf(np.diff(model.scores["indptr"]), n_docs) if model is not None else np.zeros(0)
        self._unseen_idf = math.log1p((n_docs + 0.5) / 0.5)

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def nbytes(self) -> int:
        """Memory held by the score matrix (the chunks themselves are the caller's and not counted)."""
        if self._model is None:
            return 0
        return sum(array.nbytes for array in self._model.scores.values() if isinstance(array, np.ndarray))

    def search(self, query: str, k: int) -> list[Passage]:
        """Up to ``k`` chunks sharing a term with ``query``, each scored by its relevance.

        Q&A pairs whose stored question matches well (relevance ≥ ``QUESTION_MATCH`` among the questions)
        come first, best match first, up to ``MAX_QUESTION_HITS``; then the best BM25 hits over all chunks.
        Every passage's ``score`` is its relevance over the whole chunk, question and answer alike.
        """
        if k <= 0:
            return []
        query_terms = list(dict.fromkeys(terms(query)))  # distinct, in order
        hits = self._hits(query_terms, k)
        if self._questions is None:
            return [self._passage(i, r) for i, r in hits]
        question_index, owners = self._questions
        # BM25 order is not match order: look a little deeper, then keep the best matches.
        candidates = question_index._hits(query_terms, MAX_QUESTION_HITS * 4)
        # Best coverage first; among equals, BM25's order, which prefers the shorter (more exact) question.
        matches = sorted((-r, rank, i) for rank, (i, r) in enumerate(candidates) if r >= QUESTION_MATCH)
        first = [owners[i] for _, _, i in matches[:MAX_QUESTION_HITS]]
        merged = list(zip(first, self._relevance_of(query_terms, first), strict=True))
        merged += [(i, r) for i, r in hits if i not in set(first)]
        return [self._passage(i, r) for i, r in merged[:k]]

    def _term_ids(self, query_terms: list[str]) -> tuple[npt.NDArray[np.int32], int]:
        """The ids of the query terms this index knows, and how many it does not know."""
        known = [self._vocabulary[t] for t in query_terms if t in self._vocabulary]
        return np.asarray(known, dtype=np.int32), len(query_terms) - len(known)

    def _hits(self, query_terms: list[str], k: int) -> list[tuple[int, float]]:
        """(chunk number, relevance) of the ``k`` best BM25 hits with a positive relevance."""
        term_ids, unknown = self._term_ids(query_terms)
        if self._model is None or not len(term_ids):
            return []
        hits = _top_k(self._model.get_scores_from_ids(term_ids), k)
        relevance = self._relevance(term_ids, unknown, hits)
        return [(int(i), float(r)) for i, r in zip(hits, relevance, strict=True) if r > 0]

    def _relevance_of(self, query_terms: list[str], chunk_numbers: list[int]) -> list[float]:
        if not chunk_numbers:
            return []
        term_ids, unknown = self._term_ids(query_terms)
        return [
            float(r) for r in self._relevance(term_ids, unknown, np.asarray(chunk_numbers, dtype=np.int64))
        ]

    def _relevance(self, term_ids: npt.NDArray[np.int32], unknown: int, hits: IntArray) -> FloatArray:
        """The IDF-weighted share of the query's terms each hit contains (see the module docstring)."""
        scores = self._model.scores  # type: ignore[union-attr]
        indptr, indices = scores["indptr"], scores["indices"]
        covered = np.zeros(len(hits), dtype=np.float64)
        total = 0.0
        for term_id in term_ids.tolist():
            weight = float(self._idf[term_id])
            # Same additions in the same order as ``covered``: a chunk with every term scores exactly 1.0.
            total += weight
            column = indices[indptr[term_id] : indptr[term_id + 1]]  # ascending chunk numbers
            found = np.searchsorted(column, hits)
            present = column[np.minimum(found, len(column) - 1)] == hits
            covered += np.where(present, weight, 0.0)
        total += unknown * self._unseen_idf
        return np.clip(covered / total, 0.0, 1.0)

    def _passage(self, i: int, relevance: float) -> Passage:
        return self._chunks[i].passage(relevance)


def _top_k(scores: npt.NDArray[np.floating], k: int) -> IntArray:
    """The ``k`` best-scoring chunks with a positive score, best first; ties go to the earlier chunk.

    Breaking ties by position keeps results identical from run to run and thread to thread, which a plain
    ``argpartition`` does not promise.
    """
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        candidate_scores = scores[candidates]
        kth = np.partition(candidate_scores, len(candidates) - k)[len(candidates) - k]
        above = candidates[candidate_scores > kth]
        tied = candidates[candidate_scores == kth][: k - len(above)]
        candidates = np.concatenate((above, tied))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order].astype(np.int64)


class BM25Retriever(Retriever):
    """The built-in retriever: BM25 over ``otvet.core.text.terms``, so "подключить" finds "Подключение"."""

    name = "bm25"

    def __init__(self, otvet: Otvet | None = None, *, k1: float = 1.5, b: float = 0.75) -> None:
        self.otvet = otvet
        self.k1 = k1
        self.b = b

    def build(self, chunks: Sequence[IndexedChunk]) -> BM25Index:
        """Index ``chunks``: CPU-bound, about 4 s per 100k chunks of 80 words on one slow core."""
        chunks = tuple(chunks)
        counts = count_terms(index_text(chunk) for chunk in chunks)
        if not counts.vocabulary:  # no chunks, or nothing but stopwords: nothing can ever match
            return BM25Index(chunks)
        owners = tuple(i for i, chunk in enumerate(chunks) if chunk.kind == "qa" and chunk.question)
        questions = None
        if owners:
            asked = [replace(chunks[i], kind="text", text=chunks[i].question or "", title="") for i in owners]
            questions = (self.build(asked), owners)
        return BM25Index(chunks, bm25_model(counts, k1=self.k1, b=self.b), questions)
