"""BM25 retrieval over stemmed Russian and English terms: BM25 ranks, an IDF-weighted coverage scores.

Ranking is Lucene's BM25 (k1 and b are settings), over a score matrix computed here (:func:`score_matrix`;
a test compares it with bm25s's own indexing). BM25 scores are unbounded and grow with the corpus,
so every passage carries a *relevance* instead, which providers compare with fixed thresholds:

    relevance = Σ credit(t) · weight(t) over the question's distinct terms t
                ─────────────────────────────────────────────────────────
                Σ weight(t) over the same terms

``weight(t)`` is the term's idf, ``ln(1 + (N − df + 0.5) / (df + 0.5))`` (``N`` chunks, ``df`` chunks
containing it), and ``credit(t)`` is 1 when the chunk holds the term, :data:`SYNONYM_CREDIT` when it holds
only a synonym of it, else 0. A question's terms are matched as :meth:`BM25Index.sought` says: a word the
index lacks may be a typo ("pasword") or the other alphabet ("телеграм" for "Telegram"), matched to the
index's nearest term. A word with nothing like it in the index still counts, with :data:`UNSEEN_WEIGHT` of
the largest idf there is: "quantum physics" asked of a knowledge base about bots scores low even when
"physics" occurs somewhere. Stopwords and chatter ("please", "подскажите") never count, so 1.0 means every
meaningful word of the question is in the chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from otvet.core.retrieval import SYNONYM_CREDIT, IndexedChunk, Retriever, RetrieverIndex, SoughtTerm
from otvet.core.spelling import Vocabulary
from otvet.core.synonyms import Synonyms
from otvet.core.synonyms import load as load_synonyms
from otvet.core.text import query_words, terms
from otvet.core.types import Passage
from otvet.plugins.retrieval_bm25.encoding import TermCounts, count_terms

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: A question word with nothing like it in the index weighs this share of the largest idf there is: the
#: most telling kind of word, since off-topic questions are made of them, but not more than a rare word the
#: index has (a question also holds everyday words its pages never use: "ago", "boss", "позавчера").
UNSEEN_WEIGHT = 0.75
#: Questions whose analysed terms an index keeps (a hybrid search looks them up several times).
SOUGHT_CACHE = 256
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
    """Lucene's idf, the one BM25 ranks with; always positive, largest (``ln(2N + 2)``) for ``df = 0``."""
    return np.log1p((n_docs - doc_freqs + 0.5) / (doc_freqs + 0.5))


@dataclass(frozen=True, slots=True)
class ScoreMatrix:
    """Every term's BM25 score in every chunk holding it, column by column (CSC): the chunks holding term
    ``t`` are ``indices[indptr[t]:indptr[t + 1]]`` in ascending order, their scores the same slice of
    ``data``. ``vocabulary`` maps a term to its column."""

    data: npt.NDArray[np.float32]
    indices: npt.NDArray[np.int32]
    indptr: IntArray
    vocabulary: dict[str, int]

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + self.indices.nbytes + self.indptr.nbytes)

    def column(self, term_id: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """The chunks holding term ``term_id`` and its score in each."""
        start, end = self.indptr[term_id], self.indptr[term_id + 1]
        return self.indices[start:end], self.data[start:end]


def score_matrix(counts: TermCounts, *, k1: float, b: float) -> ScoreMatrix:
    """Lucene BM25's score of every term in every chunk holding it, in a few numpy passes (bm25s's own
    indexing loops over documents in Python and needs seconds for 100k chunks; a test compares the two).
    """
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
    return ScoreMatrix(data, counts.docs, counts.indptr, counts.vocabulary)


class BM25Index(RetrieverIndex):
    """An immutable BM25 index; ``search`` only reads shared state, so threads may call it concurrently."""

    #: Words alone tell an off-topic question less surely than words and meaning: a higher threshold.
    min_relevance = 0.4

    def __init__(
        self,
        chunks: Sequence[IndexedChunk],
        matrix: ScoreMatrix | None = None,
        questions: tuple[BM25Index, tuple[int, ...]] | None = None,
        synonyms: Synonyms | None = None,
    ) -> None:
        self._chunks = tuple(chunks)
        self._synonyms = synonyms or Synonyms()
        self._matrix = matrix
        # Stored questions get an index of their own (and the chunk number each one answers): a question
        # asked in other words should find its stored twin even when every document mentions the same
        # words ("What is Otvet?" in a knowledge base about Otvet).
        self._questions = questions
        n_docs = len(self._chunks)
        self._vocabulary: dict[str, int] = matrix.vocabulary if matrix is not None else {}
        frequencies = np.diff(matrix.indptr) if matrix is not None else np.zeros(0, dtype=np.int64)
        self._idf = idf(frequencies, n_docs) if matrix is not None else np.zeros(0)
        self._unseen_idf = UNSEEN_WEIGHT * math.log1p((n_docs + 0.5) / 0.5)
        self._spelling = Vocabulary(_Frequencies(self._vocabulary, frequencies))
        self._titles: dict[str, frozenset[str]] = {}  # a section's title → its terms, as searches need them
        self._sought: dict[str, tuple[SoughtTerm, ...]] = {}  # recent questions' terms: a search asks thrice

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def nbytes(self) -> int:
        """Memory held by the score matrix (the chunks themselves are the caller's and not counted)."""
        return 0 if self._matrix is None else self._matrix.nbytes

    def sought(self, query: str) -> tuple[SoughtTerm, ...]:
        """The distinct terms of ``query`` with the index's terms that count as each (itself, its spelling
        in the other alphabet, or the nearest spelling of a word the index lacks) and its weight (IDF; a
        word with nothing like it in the index weighs the most there is)."""
        cached = self._sought.get(query)
        if cached is not None:
            return cached
        vocabulary = self._vocabulary
        expanded = self._synonyms.expand(query)
        out = []
        for term, word in query_words(query).items():
            if term in vocabulary:
                forms: tuple[str, ...] = (term,)
            else:  # a typo, or the other alphabet: by the stem, else by the word (stems cut brand names)
                forms = self._spelling.matches(term) or self._spelling.matches(word)
            synonyms = tuple(
                sorted(alt for alt in expanded.get(term, ()) if alt in vocabulary and alt not in forms)
            )
            # A word with nothing like it in the index weighs the most there is (an off-topic question's
            # telling words are missing); synonyms widen what counts as finding it, not what finding tells.
            weights = [self._idf[vocabulary[form]] for form in forms or synonyms]
            weight = float(max(weights)) if weights else self._unseen_idf
            out.append(SoughtTerm(term, forms, weight, synonyms))
        if len(self._sought) >= SOUGHT_CACHE:
            self._sought.clear()
        self._sought[query] = found = tuple(out)
        return found

    def relevance(self, query: str, positions: Sequence[int]) -> list[float]:
        return self._relevance_of(self.sought(query), list(positions))

    def title_match(self, query: str, positions: Sequence[int]) -> list[float]:
        asked = [term for term in self.sought(query) if term.forms or term.synonyms]
        total = sum(term.weight for term in asked)
        if not total:
            return [0.0] * len(positions)
        everything = {form for term in asked for form in (*term.forms, *term.synonyms)}
        out = []
        for position in positions:
            title = self._title_terms(self._chunks[position].title)
            if everything.isdisjoint(title):  # most titles: no need to weigh term by term
                out.append(0.0)
            else:
                out.append(sum(term.weight * term.credit(title) for term in asked) / total)
        return out

    def _title_terms(self, title: str) -> frozenset[str]:
        found = self._titles.get(title)
        if found is None:
            found = frozenset(terms(title))
            if len(self._titles) < 100_000:
                self._titles[title] = found
        return found

    def search(self, query: str, k: int) -> list[Passage]:
        """Up to ``k`` chunks sharing a term with ``query``, each scored by its relevance.

        Q&A pairs whose stored question matches well (relevance ≥ ``QUESTION_MATCH`` among the questions)
        come first, best match first, up to ``MAX_QUESTION_HITS``; then the best BM25 hits over all chunks.
        Every passage's ``score`` is its relevance over the whole chunk, question and answer alike.
        """
        return [self._passage(i, r) for i, r in self.ranked(query, k)]

    def ranked(self, query: str, k: int) -> list[tuple[int, float]]:
        """What :meth:`search` returns as (position, relevance) pairs, without making passages of them."""
        if k <= 0:
            return []
        sought = self.sought(query)
        hits = self._hits(sought, k)
        if self._questions is None:
            return hits
        question_index, owners = self._questions
        # BM25 order is not match order: look a little deeper, then keep the best matches.
        candidates = question_index._hits(question_index.sought(query), MAX_QUESTION_HITS * 4)
        # Best coverage first; among equals, BM25's order, which prefers the shorter (more exact) question.
        matches = sorted((-r, rank, i) for rank, (i, r) in enumerate(candidates) if r >= QUESTION_MATCH)
        first = [owners[i] for _, _, i in matches[:MAX_QUESTION_HITS]]
        merged = list(zip(first, self._relevance_of(sought, first), strict=True))
        merged += [(i, r) for i, r in hits if i not in set(first)]
        return merged[:k]

    def _hits(self, sought: tuple[SoughtTerm, ...], k: int) -> list[tuple[int, float]]:
        """(chunk number, relevance) of the ``k`` best BM25 hits with a positive relevance."""
        if self._matrix is None or not any(term.forms or term.synonyms for term in sought):
            return []
        hits = _top_k(self._bm25(sought), k)
        relevance = self._relevance(sought, hits)
        return [(int(i), float(r)) for i, r in zip(hits, relevance, strict=True) if r > 0]

    def _bm25(self, sought: tuple[SoughtTerm, ...]) -> npt.NDArray[np.float32]:
        """Every chunk's BM25 score for the question: the sum over its terms of the term's score, where a
        term found only as a synonym scores :data:`SYNONYM_CREDIT` of its best synonym's, never the sum of
        several synonyms (a chunk naming three words of a group is not three times as relevant)."""
        matrix = self._matrix
        assert matrix is not None
        scores = np.zeros(len(self._chunks), dtype=np.float32)

        def add(target: npt.NDArray[np.float32], form: str, *, best: bool = False) -> None:
            docs, values = matrix.column(self._vocabulary[form])
            if best:  # a column holds each chunk once: fancy indexing keeps the larger value per chunk
                target[docs] = np.maximum(target[docs], values)
            else:
                target[docs] += values

        for term in sought:
            if not term.synonyms:
                for form in term.forms:
                    add(scores, form)
                continue
            own = np.zeros_like(scores)
            for form in term.forms:
                add(own, form)
            alike = np.zeros_like(scores)
            for form in term.synonyms:
                add(alike, form, best=True)
            scores += np.maximum(own, SYNONYM_CREDIT * alike)
        return scores

    def _relevance_of(self, sought: tuple[SoughtTerm, ...], chunk_numbers: list[int]) -> list[float]:
        if not chunk_numbers or self._matrix is None:
            return []
        return [float(r) for r in self._relevance(sought, np.asarray(chunk_numbers, dtype=np.int64))]

    def _relevance(self, sought: tuple[SoughtTerm, ...], hits: IntArray) -> FloatArray:
        """The weighted share of the query's terms each hit contains (see the module docstring)."""
        assert self._matrix is not None
        indptr, indices = self._matrix.indptr, self._matrix.indices
        covered = np.zeros(len(hits), dtype=np.float64)
        total = 0.0
        for term in sought:
            # Same additions in the same order as ``covered``: a chunk with every term scores exactly 1.0.
            total += term.weight
            direct = self._holding(term.forms, hits, indptr, indices)
            credit = np.where(direct, 1.0, 0.0)
            if term.synonyms:
                credit = np.maximum(
                    credit, SYNONYM_CREDIT * self._holding(term.synonyms, hits, indptr, indices)
                )
            covered += credit * term.weight
        if not total:
            return covered
        return np.clip(covered / total, 0.0, 1.0)

    def _holding(
        self, forms: tuple[str, ...], hits: IntArray, indptr: IntArray, indices: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.bool_]:
        """Which hits hold any of ``forms``."""
        present = np.zeros(len(hits), dtype=bool)
        for form in forms:
            term_id = self._vocabulary[form]
            column = indices[indptr[term_id] : indptr[term_id + 1]]  # ascending chunk numbers
            found = np.searchsorted(column, hits)
            present |= column[np.minimum(found, len(column) - 1)] == hits
        return present

    def _passage(self, i: int, relevance: float) -> Passage:
        return self._chunks[i].passage(relevance)


class _Frequencies(Mapping[str, int]):
    """Term → how many chunks hold it, read from the index without a copy of the vocabulary."""

    def __init__(self, vocabulary: dict[str, int], frequencies: npt.NDArray[np.int64]) -> None:
        self._vocabulary = vocabulary
        self._frequencies = frequencies

    def __getitem__(self, term: str) -> int:
        return int(self._frequencies[self._vocabulary[term]])

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocabulary)

    def __len__(self) -> int:
        return len(self._vocabulary)


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

    def __init__(
        self,
        otvet: Otvet | None = None,
        *,
        k1: float | None = None,
        b: float | None = None,
        synonyms: Synonyms | None = None,
    ) -> None:
        self.otvet = otvet
        settings = otvet.settings.retrieval if otvet is not None else None
        self.k1 = k1 if k1 is not None else settings.bm25_k1 if settings else 1.5
        self.b = b if b is not None else settings.bm25_b if settings else 0.75
        if synonyms is None:
            synonyms = load_synonyms(settings.synonyms_file if settings else None)
        self.synonyms = synonyms

    def build(self, chunks: Sequence[IndexedChunk]) -> BM25Index:
        """Index ``chunks``: CPU-bound, about 4 s per 100k chunks of 80 words on one slow core."""
        chunks = tuple(chunks)
        counts = count_terms(index_text(chunk) for chunk in chunks)
        if not counts.vocabulary:  # no chunks, or nothing but stopwords: nothing can ever match
            return BM25Index(chunks, synonyms=self.synonyms)
        owners = tuple(i for i, chunk in enumerate(chunks) if chunk.kind == "qa" and chunk.question)
        questions = None
        if owners:
            asked = [replace(chunks[i], kind="text", text=chunks[i].question or "", title="") for i in owners]
            questions = (self.build(asked), owners)
        return BM25Index(chunks, score_matrix(counts, k1=self.k1, b=self.b), questions, self.synonyms)
