"""The retriever contract: build an index from knowledge chunks, then search it for passages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal

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


class RetrieverIndex(ABC):
    """A built, immutable, thread-safe index over one knowledge version."""

    @abstractmethod
    def search(self, query: str, k: int) -> list[Passage]:
        """Return up to ``k`` passages, best first; each with ``relevance`` in [0, 1] as its ``score``.

        ``score`` is the share of the query's (weighted) terms that the passage covers: 1.0 when every
        meaningful word of the question appears in it, 0.0 when none does. Providers compare it with
        thresholds, so it must not depend on the size of the corpus.
        """

    def __len__(self) -> int:
        return 0


class Retriever(ABC):
    """A retrieval method. ``build`` is CPU-bound: the engine runs it in a worker thread."""

    name: ClassVar[str] = ""

    @abstractmethod
    def build(self, chunks: Sequence[IndexedChunk]) -> RetrieverIndex:
        """Build an index over ``chunks`` (which may be empty)."""


RetrieverFactory = Callable[["Otvet"], Retriever]
