"""The OpenAI chat provider: a grounded prompt in, cited deltas out, as the model streams them.

Retries happen only while nothing has reached the user: the request is opened and read up to its first piece
of text inside :func:`~otvet.core.resilience.call_with_retries`; a failure after that ends the answer (the
engine then reports it), because retrying would repeat text the user has already seen.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from otvet.core.citations import CitationRenumberer
from otvet.core.llm import AnswerRequest, Provider, ProviderDone, ProviderError
from otvet.core.prompt import Prompt, build_prompt
from otvet.core.replies import canned, covered, small_talk_kind, threshold
from otvet.core.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    RetryableError,
    RetryPolicy,
    call_with_retries,
)
from otvet.core.types import Usage
from otvet.plugins.llm_openai.client import classify, describe, make_client
from otvet.plugins.llm_openai.stream import Chunks, events, open_stream

if TYPE_CHECKING:
    import httpx2

    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

#: How many times a prompt is shrunk (no history, half the passages) after a context-length error.
MAX_SHRINK = 2


class _Opened:
    """A stream that has produced its first piece of text (or ended without any)."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self.events = events(response)
        self.chunks = Chunks()
        self.pieces: list[str] = []

    async def close(self) -> None:
        await self.events.aclose()
        await self.response.aclose()


class OpenAIProvider(Provider):
    """Answers with a chat model behind the OpenAI API (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp…)."""

    name = "openai"

    def __init__(self, otvet: Otvet, *, http_client: httpx2.AsyncClient | None = None) -> None:
        self.settings = otvet.settings.openai
        self.prompt_settings = otvet.settings.prompt
        self.client = make_client(self.settings, http_client=http_client)
        self.policy = RetryPolicy(
            attempts=self.settings.max_attempts,
            base_delay=self.settings.retry_base_delay,
            max_delay=self.settings.retry_max_delay,
            max_retry_after=self.settings.max_retry_after,
        )
        self.model = self.settings.model
        #: How warnings name this provider's calls: the model and the server (client.describe).
        self.label = describe("OpenAI chat", self.settings.model, self.client)
        self.breaker = CircuitBreaker(
            self.label,
            failures=self.settings.breaker_failures,
            reset_seconds=self.settings.breaker_reset_seconds,
        )

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        settings = self.prompt_settings
        on_topic = covered(request.passages, threshold(settings.min_relevance, request))
        if not (settings.answer_off_topic or on_topic):
            # Nothing in the knowledge base is about it: the model could only say so, and would be paid to.
            yield canned(request.translator, small_talk_kind(request.question))
            yield ProviderDone(grounded=False)
            return
        prompt, opened = await self._open_with_retries(request)
        renumberer = CitationRenumberer(prompt.shown)
        try:
            for piece in opened.pieces:
                if text := renumberer.feed(piece):
                    yield text
            while True:
                try:
                    chunk = await anext(opened.events)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    self.breaker.failure()
                    failure = classify(exc)
                    raise ProviderError(
                        f"the answer broke off: {failure}", code=getattr(failure, "code", "bad_response")
                    ) from exc
                if text := renumberer.feed(opened.chunks.take(chunk)):
                    yield text
        finally:
            await opened.close()  # also what stops the upstream request when the user leaves
        finish_reason = opened.chunks.finish_reason
        if finish_reason is None:
            self.breaker.failure()
            raise ProviderError("the stream ended before the answer was complete", code="truncated")
        if finish_reason == "length":
            log.warning("an answer reached max_tokens (%d) and was cut", self.settings.max_tokens)
        if tail := renumberer.flush():
            yield tail
        yield ProviderDone(
            usage=opened.chunks.usage or Usage(), cited=renumberer.cited, grounded=bool(renumberer.cited)
        )

    async def _open_with_retries(self, request: AnswerRequest) -> tuple[Prompt, _Opened]:
        """Send the request (retrying, shrinking an over-long prompt) and read up to the first text."""
        for shrink in range(MAX_SHRINK + 1):
            prompt = build_prompt(
                request,
                self.prompt_settings,
                context_tokens=self.settings.context_tokens,
                answer_tokens=self.settings.max_tokens,
                shrink=shrink,
            )
            try:
                opened = await call_with_retries(
                    lambda prompt=prompt: self._open(prompt),
                    policy=self.policy,
                    breaker=self.breaker,
                    deadline=request.deadline,
                    what=self.label,
                )
            except ProviderError as exc:
                if exc.code == "context_length" and shrink < MAX_SHRINK:
                    log.warning(
                        "the prompt (~%d tokens) was too long for the model: shrinking it",
                        prompt.estimated_tokens,
                    )
                    continue
                raise
            except RetryableError as exc:
                raise ProviderError(str(exc), code=exc.code) from exc
            except CircuitOpenError as exc:
                raise ProviderError(str(exc), code="circuit_open") from exc
            return prompt, opened
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _open(self, prompt: Prompt) -> _Opened:
        opened: _Opened | None = None
        try:
            opened = _Opened(await open_stream(self.client, self._arguments(prompt)))
            while not opened.pieces and opened.chunks.finish_reason is None:
                try:
                    chunk = await anext(opened.events)
                except StopAsyncIteration:
                    break
                if text := opened.chunks.take(chunk):
                    opened.pieces.append(text)
            if not opened.pieces and opened.chunks.finish_reason is None:
                raise RetryableError("the stream ended before any text", code="truncated")
            return opened
        except BaseException as exc:
            if opened is not None:
                await opened.close()
            if isinstance(exc, Exception) and not isinstance(exc, RetryableError | ProviderError):
                raise classify(exc) from exc
            raise

    def _arguments(self, prompt: Prompt) -> dict[str, Any]:
        # OpenAI itself has replaced ``max_tokens`` (which its reasoning models refuse) with
        # ``max_completion_tokens``; compatible servers and older Azure API versions know only the former.
        official = not self.settings.base_url
        return {
            "model": self.settings.model,
            "messages": prompt.messages,
            "stream": True,
            # The usage arrives in a last chunk of its own; servers that cannot do it simply omit it.
            "stream_options": {"include_usage": True},
            "temperature": self.settings.temperature,
            ("max_completion_tokens" if official else "max_tokens"): self.settings.max_tokens,
        }

    def status(self) -> dict[str, object]:
        return {"model": self.settings.model, "circuit": self.breaker.state}

    async def aclose(self) -> None:
        await self.client.close()
