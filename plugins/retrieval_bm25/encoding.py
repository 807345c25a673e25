"""Count the terms of a whole corpus at once, exactly as :func:`otvet.core.text.terms` finds them.

Analysing word by word is what makes indexing slow: a regular expression, a stopword test and a stemmer call
cost about a microsecond per word in Python. Text repeats the same few thousand whitespace-separated tokens,
so each distinct token is analysed once with ``terms`` and every other occurrence costs a dictionary
lookup; the rest is numpy, a batch of documents at a time so that temporary arrays stay small. Splitting on
whitespace first changes nothing, because a word (``\\w+``) never spans whitespace.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt

from otvet.core.text import terms

Int32Array = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]

_DOC_BITS = 32  # a (term, document) pair packs into one int64 key: term << 32 | document
_NO_BLOCK = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))


@dataclass(frozen=True, slots=True)
class TermCounts:
    """How often each term occurs in each document: a sparse term × document matrix in CSC layout.

    Term ``t`` occurs in documents ``docs[indptr[t]:indptr[t + 1]]`` (ascending) ``counts[...]`` times.
    """

    indptr: Int64Array
    docs: Int32Array
    counts: Int32Array
    #: Terms per document, repeats included (what BM25 calls the document length).
    doc_lengths: Int64Array
    #: Term → id; ids are dense, from 0.
    vocabulary: dict[str, int]

    @property
    def doc_freqs(self) -> Int64Array:
        """How many documents contain each term."""
        return np.diff(self.indptr)

    def document(self, i: int) -> dict[str, int]:
        """Term → count for document ``i`` (for tests and debugging: it scans the whole matrix)."""
        names = {term_id: term for term, term_id in self.vocabulary.items()}
        (positions,) = np.nonzero(self.docs == i)
        term_ids = np.searchsorted(self.indptr, positions, side="right") - 1
        return {names[int(t)]: int(self.counts[p]) for t, p in zip(term_ids, positions, strict=True)}


class _Tokens(dict[str, int]):
    """Whitespace token → dense id, assigned on first sight (``__missing__`` keeps hits in C)."""

    def __init__(self) -> None:
        super().__init__()
        self.unseen: list[str] = []

    def __missing__(self, token: str) -> int:
        token_id = self[token] = len(self)
        self.unseen.append(token)
        return token_id


class _Analyser:
    """The terms of every token seen so far, as a ragged array: token → run of term ids."""

    def __init__(self) -> None:
        self.tokens = _Tokens()
        self.vocabulary: dict[str, int] = {}
        self._terms = array("i")  # every token's terms, one run after another, in token order
        self._counts = array("q")  # run length per token: 0 for a stopword, 2+ for "e-mail" or "что-то"

    def runs(self) -> tuple[Int32Array, Int64Array, Int64Array]:
        """Analyse the tokens met since the last call; return (flat terms, run starts, run lengths)."""
        vocabulary = self.vocabulary
        for token in self.tokens.unseen:
            ids = [vocabulary.setdefault(term, len(vocabulary)) for term in terms(token)]
            self._terms.extend(ids)
            self._counts.append(len(ids))
        self.tokens.unseen.clear()
        counts = np.frombuffer(self._counts, dtype=np.int64).copy()  # a copy, so the arrays may grow again
        return np.frombuffer(self._terms, dtype=np.int32).copy(), np.cumsum(counts) - counts, counts


def _batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(texts)
    while batch := list(islice(iterator, size)):
        yield batch


def count_terms(texts: Iterable[str], *, batch_size: int = 8192) -> TermCounts:
    """Count the terms of ``texts``: document ``i`` gets exactly ``terms(texts[i])``, repeats included."""
    analyser = _Analyser()
    lookup = analyser.tokens.__getitem__
    blocks: list[tuple[Int64Array, Int32Array]] = []
    lengths: list[Int64Array] = []
    first_doc = 0
    for batch in _batches(texts, batch_size):
        occurrences: list[int] = []  # token ids of the whole batch, one document after another
        tokens_per_doc = array("q", bytes(8 * len(batch)))
        for i, text in enumerate(batch):
            before = len(occurrences)
            occurrences.extend(map(lookup, text.split()))
            tokens_per_doc[i] = len(occurrences) - before
        term_ids, doc_ids = _expand(occurrences, np.frombuffer(tokens_per_doc, dtype=np.int64), analyser)
        lengths.append(np.bincount(doc_ids, minlength=len(batch)))
        blocks.append(_pair_counts(term_ids, doc_ids + first_doc))
        first_doc += len(batch)
    doc_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    return _assemble(blocks, doc_lengths, analyser.vocabulary)


def _expand(
    occurrences: list[int], tokens_per_doc: Int64Array, analyser: _Analyser
) -> tuple[Int32Array, Int64Array]:
    """Replace each token occurrence by its run of terms; return the terms and the document of each."""
    flat_terms, run_starts, run_lengths = analyser.runs()
    tokens = np.array(occurrences, dtype=np.int64)
    per_token = run_lengths[tokens]
    docs = np.repeat(np.arange(len(tokens_per_doc), dtype=np.int64), tokens_per_doc)
    # Term j of the batch is term (j - first term of its occurrence) of its token's run.
    occurrence_ends = np.cumsum(per_token)
    offsets = np.arange(int(occurrence_ends[-1]) if len(tokens) else 0, dtype=np.int64)
    offsets -= np.repeat(occurrence_ends - per_token, per_token)
    term_ids = flat_terms[np.repeat(run_starts[tokens], per_token) + offsets]
    return term_ids, np.repeat(docs, per_token)


def _pair_counts(term_ids: Int32Array, doc_ids: Int64Array) -> tuple[Int64Array, Int32Array]:
    """Distinct (term, document) keys of a batch, sorted by term then document, and their counts."""
    keys = (term_ids.astype(np.int64) << _DOC_BITS) | doc_ids
    keys.sort()
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int32)
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return keys[starts], np.diff(starts, append=len(keys)).astype(np.int32)


def _assemble(
    blocks: list[tuple[Int64Array, Int32Array]], doc_lengths: Int64Array, vocabulary: dict[str, int]
) -> TermCounts:
    """Merge the batches' sorted blocks into one CSC matrix by scattering (no global sort), freeing each."""
    n_terms = len(vocabulary)
    block_freqs = [np.bincount(keys >> _DOC_BITS, minlength=n_terms) for keys, _ in blocks]
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(sum(block_freqs, np.zeros(n_terms, dtype=np.int64)), out=indptr[1:])
    docs = np.empty(int(indptr[-1]), dtype=np.int32)
    counts = np.empty(int(indptr[-1]), dtype=np.int32)
    cursor = indptr[:-1].copy()  # where each term's next entries go; batches arrive in document order
    for i, freqs in enumerate(block_freqs):
        keys, block_counts = blocks[i]
        blocks[i] = _NO_BLOCK
        term_ids = keys >> _DOC_BITS
        positions = cursor[term_ids] + (np.arange(len(keys)) - (np.cumsum(freqs) - freqs)[term_ids])
        docs[positions] = keys & ((1 << _DOC_BITS) - 1)
        counts[positions] = block_counts
        cursor += freqs
    return TermCounts(indptr, docs, counts, doc_lengths, vocabulary)
