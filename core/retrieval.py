"""The retriever contract: build an index from knowledge chunks, then search it for passages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal

from otvet.core.text import query_terms
from otvet.core.types import Passage, SourceRef

if TYPE_CHECKING:
    from otvet.core.app import Otvet


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    """One chunk of a knowledge version as a retriever indexes it."""

    chunk_id: int
    text: str
    source: SourceRef
    kind: Literal["text", "qa"] = "text"
    #: For Q&A chunks, the stored question (``text`` then holds the answer).
    question: str | None = None
    language: str | None = None
    #: The heading of the section the chunk comes from (indexed with the text).
    title: str = ""
    #: The chunk's embedding (little-endian float32 bytes) when its version was built with an embedder.
    embedding: bytes | None = None

    def passage(self, score: float) -> Passage:
        """This chunk as a search result with relevance ``score``."""
        return Passage(
            text=self.text,
            score=score,
            source=replace(self.source, chunk_id=self.chunk_id),
            kind=self.kind,
            question=self.question,
            language=self.language,
        )


@dataclass(frozen=True, slots=True)
class SoughtTerm:
    """One term of a question as an index understands it, for scoring passages and their sentences."""

    #: The question's own (stemmed) term.
    term: str
    #: The index's terms that count as finding it: the term itself when the index has it, and its spelling
    #: in the other alphabet or, for a word the index lacks, the nearest spelling (a typo). Empty when the
    #: index has nothing like it.
    forms: tuple[str, ...]
    #: How much finding it tells (the index's IDF): rare words weigh more than common ones.
    weight: float = 1.0
    #: The index's terms for words meaning the same (:mod:`otvet.core.synonyms`): finding one of these
    #: instead counts :data:`SYNONYM_CREDIT` of the weight, as a synonym may not mean quite the same here.
    synonyms: tuple[str, ...] = ()

    def credit(self, found: Container[str]) -> float:
        """The share of this term's weight that a text holding the terms ``found`` earns (0, 1 or less)."""
        if any(form in found for form in self.forms):
            return 1.0
        return SYNONYM_CREDIT if any(form in found for form in self.synonyms) else 0.0


#: The share of a question term's weight that a synonym of it earns.
SYNONYM_CREDIT = 0.6


#: The relevance from which a passage of an index that says nothing else covers a question.
DEFAULT_MIN_RELEVANCE = 0.4


class RetrieverIndex(ABC):
    """A built, immutable, thread-safe index over one knowledge version."""

    #: Below this relevance of its best passage a question is not covered by the knowledge base: the
    #: threshold providers use unless a setting names another. Calibrated per kind of index: its scores
    #: mean different things (docs/quality.md).
    min_relevance: float = DEFAULT_MIN_RELEVANCE

    @abstractmethod
    def search(self, query: str, k: int) -> list[Passage]:
        """Return up to ``k`` passages, best first; each with ``relevance`` in [0, 1] as its ``score``.

        ``score`` is the share of the query's (weighted) terms that the passage covers: 1.0 when every
        meaningful word of the question appears in it, 0.0 when none does. Providers compare it with
        thresholds, so it must not depend on the size of the corpus.
        """

    def ranked(self, query: str, k: int) -> list[tuple[int, float]] | None:
        """What :meth:`search` finds as (position in ``build``'s input, relevance) pairs, for hybrid search
        to pool without making passages it may not return; None (the default) when the index cannot say."""
        return None

    def relevance(self, query: str, positions: Sequence[int]) -> list[float]:
        """The relevance ``search`` would give the chunks at ``positions`` (their order in ``build``'s
        input), found or not; hybrid retrieval scores the chunks only vectors found with it. 0 by default."""
        return [0.0] * len(positions)

    def title_match(self, query: str, positions: Sequence[int]) -> list[float]:
        """How much of ``query`` (0..1) the section titles of the chunks at ``positions`` hold: hybrid
        retrieval ranks a section titled with the question's words a little higher. 0 by default."""
        return [0.0] * len(positions)

    def sought(self, query: str) -> tuple[SoughtTerm, ...]:
        """The terms of ``query`` as this index matches them; by default each term as it is, weight 1."""
        return tuple(SoughtTerm(term, (term,)) for term in query_terms(query))

    def __len__(self) -> int:
        return 0


class Retriever(ABC):
    """A retrieval method. ``build`` is CPU-bound: the engine runs it in a worker thread."""

    name: ClassVar[str] = ""

    @abstractmethod
    def build(self, chunks: Sequence[IndexedChunk]) -> RetrieverIndex:
        """Build an index over ``chunks`` (which may be empty)."""


RetrieverFactory = Callable[["Otvet"], Retriever]
