"""The LLM provider contract: what the engine hands a provider and what a provider streams back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from otvet.core.retrieval import DEFAULT_MIN_RELEVANCE
from otvet.core.types import HistoryMessage, Passage, Usage

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.i18n import Translator
    from otvet.core.retrieval import SoughtTerm


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """Everything a provider needs to answer one question."""

    question: str
    language: str
    passages: tuple[Passage, ...]
    history: tuple[HistoryMessage, ...]
    #: Translations in the user's language, for anything the provider itself says.
    translator: Translator
    #: When the engine stops waiting (an ``asyncio`` loop time), so that a provider does not start a retry
    #: it cannot finish; None means no deadline.
    deadline: float | None = None
    #: The relevance below which the knowledge base's index says a question is not covered (for providers
    #: whose own threshold setting is empty).
    min_relevance: float = DEFAULT_MIN_RELEVANCE
    #: The question's terms as the knowledge base's index matched them (typos corrected, the other
    #: alphabet's spelling, each term's weight), for a provider that weighs words itself; empty when unknown.
    sought: tuple[SoughtTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderDone:
    """The last item a provider yields: usage, which passages it used, and whether it found an answer."""

    usage: Usage = field(default_factory=Usage)
    #: Indexes into ``AnswerRequest.passages`` that the answer rests on; None means all of them.
    cited: tuple[int, ...] | None = None
    #: False when the provider answered "I don't know": the answer then carries no sources.
    grounded: bool = True


class ProviderError(Exception):
    """A provider could not answer; ``code`` is a stable reason for machines (``timeout``, ``upstream``)."""

    def __init__(self, message: str, *, code: str = "provider_error") -> None:
        super().__init__(message)
        self.code = code


class Provider(ABC):
    """An LLM provider. ``stream`` yields text deltas (``str``) and finally one :class:`ProviderDone`."""

    #: Shown in ``otvet plugins`` and stored with every answer.
    name: ClassVar[str] = ""
    #: The model answering, for usage reports and cost estimates; empty when the provider has none.
    model: str = ""

    @abstractmethod
    def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        """Answer ``request``; raise :class:`ProviderError` (or let any exception escape) on failure."""

    def status(self) -> dict[str, object]:
        """What an operator should see in ``/readyz`` (a circuit breaker's state); empty by default."""
        return {}

    async def aclose(self) -> None:
        """Release connections; called when Otvet stops."""


ProviderFactory = Callable[["Otvet"], Provider]
