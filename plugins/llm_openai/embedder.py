"""The OpenAI embedder: ``/v1/embeddings`` of OpenAI, Azure OpenAI or an OpenAI-compatible server.

Texts go out in batches (``embedding_batch_size``, a few requests at a time) through the same retry policy
and the same kind of circuit breaker as the chat provider, so that building a version rides out a rate
limit, and a question stops waiting for an embeddings service that keeps failing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from otvet.core.embeddings import Embedder, EmbeddingError
from otvet.core.resilience import CircuitBreaker, RetryPolicy, call_with_retries
from otvet.plugins.llm_openai.client import classify, describe, make_client

if TYPE_CHECKING:
    import httpx2

    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

#: OpenAI refuses an input over 8192 tokens. A chunk is at most 900 characters, but a Q&A answer may be
#: 20,000: its first 6,000 characters are embedded (under 8192 tokens even at one token per character),
#: which is plenty to place it.
MAX_INPUT_CHARS = 6000
#: OpenAI also refuses more than 300,000 tokens in one request: batches stay under this many characters.
MAX_REQUEST_CHARS = 250_000
#: Requests in flight at once while a version is built: faster than one by one, gentle on rate limits.
CONCURRENT_REQUESTS = 4


class OpenAIEmbedder(Embedder):
    """Embeds with ``settings.openai.embedding_model`` (Azure: the embedding deployment's name)."""

    name = "openai"

    def __init__(self, otvet: Otvet, *, http_client: httpx2.AsyncClient | None = None) -> None:
        settings = otvet.settings.openai
        if not settings.configured:
            raise ValueError(
                "OTVET_RETRIEVAL__EMBEDDER=openai needs OTVET_OPENAI__API_KEY "
                "(or OTVET_OPENAI__BASE_URL for a local server)"
            )
        self.model = settings.embedding_model
        self.dimensions = settings.embedding_dimensions
        self.batch_size = settings.embedding_batch_size
        # A client of its own: closing the chat provider must not close the embedder's connections.
        self.client = make_client(settings, http_client=http_client)
        self.policy = RetryPolicy(
            attempts=settings.max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            max_retry_after=settings.max_retry_after,
        )
        self.label = describe("OpenAI embeddings", self.model, self.client)
        self.breaker = CircuitBreaker(
            self.label,
            failures=settings.breaker_failures,
            reset_seconds=settings.breaker_reset_seconds,
        )

    @property
    def key(self) -> str:
        # Shortened vectors are not comparable with full-length ones of the same model.
        return f"{super().key}:{self.dimensions}" if self.dimensions else super().key

    async def embed(self, texts: Sequence[str], *, deadline: float | None = None) -> list[list[float]]:
        if not texts:
            return []
        batches = list(self._batches([_prepared(text) for text in texts]))
        if len(batches) == 1:
            return await self._embed_batch(batches[0], deadline)
        results: list[list[list[float]]] = [[] for _ in batches]
        slots = asyncio.Semaphore(CONCURRENT_REQUESTS)

        async def run(number: int, batch: list[str]) -> None:
            async with slots:
                results[number] = await self._embed_batch(batch, deadline)

        try:
            # A TaskGroup cancels the other requests as soon as one fails for good.
            async with asyncio.TaskGroup() as group:
                for number, batch in enumerate(batches):
                    group.create_task(run(number, batch))
        except BaseExceptionGroup as failed:
            raise _first(failed) from None
        return [vector for result in results for vector in result]

    def _batches(self, texts: list[str]) -> Iterator[list[str]]:
        batch: list[str] = []
        size = 0
        for text in texts:
            if batch and (len(batch) >= self.batch_size or size + len(text) > MAX_REQUEST_CHARS):
                yield batch
                batch, size = [], 0
            batch.append(text)
            size += len(text)
        if batch:
            yield batch

    async def _embed_batch(self, batch: list[str], deadline: float | None) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {}
        if self.dimensions:
            options["dimensions"] = self.dimensions

        async def call() -> Any:
            if deadline is not None:
                # The request's own timeout: a slow server then counts as a failure for the breaker
                # instead of a question's wait being cut short from outside.
                options["timeout"] = max(0.05, deadline - loop.time())
            try:
                return await self.client.embeddings.create(model=self.model, input=batch, **options)
            except Exception as exc:
                raise classify(exc) from exc

        try:
            response = await call_with_retries(
                call,
                policy=self.policy,
                breaker=self.breaker,
                deadline=deadline,
                what=self.label,
            )
        except Exception as exc:
            raise EmbeddingError(f"OpenAI embeddings ({self.model}): {exc}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(batch))):
            raise EmbeddingError(
                f"OpenAI embeddings ({self.model}): {len(data)} vectors for {len(batch)} texts"
            )
        return [item.embedding for item in data]

    async def aclose(self) -> None:
        await self.client.close()


def _prepared(text: str) -> str:
    # OpenAI refuses an empty input; a blank chunk or question still needs a vector (found by nothing).
    return text[:MAX_INPUT_CHARS] if text.strip() else " "


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first failure inside (possibly nested) exception groups."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
