"""A provider for tests: replays queued answers, or fails, or hangs, exactly as told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from otvet.core.llm import AnswerRequest, Provider, ProviderDone, ProviderError
from otvet.core.types import Usage


@dataclass
class Script:
    """One scripted answer: deltas to stream, then an optional failure or hang."""

    deltas: list[str] = field(default_factory=lambda: ["Hello", " world"])
    raise_after: Exception | None = None
    hang: bool = False
    cited: tuple[int, ...] | None = None
    grounded: bool = True
    usage: Usage | None = None


class MockProvider(Provider):
    """Answers with queued scripts (a default one when the queue is empty) and records every request."""

    name = "mock"

    def __init__(self) -> None:
        self.queue: list[Script] = []
        self.requests: list[AnswerRequest] = []
        self.closed_streams = 0

    def then(self, *deltas: str, **kwargs: object) -> MockProvider:
        self.queue.append(Script(list(deltas), **kwargs))  # type: ignore[arg-type]
        return self

    def fail(self, exc: Exception | None = None, *deltas: str) -> MockProvider:
        self.queue.append(Script(list(deltas), raise_after=exc or ProviderError("boom", code="upstream")))
        return self

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        self.requests.append(request)
        script = self.queue.pop(0) if self.queue else Script()
        try:
            for delta in script.deltas:
                await asyncio.sleep(0)
                yield delta
            if script.raise_after is not None:
                raise script.raise_after
            if script.hang:
                await asyncio.Event().wait()
            yield ProviderDone(usage=script.usage or Usage(), cited=script.cited, grounded=script.grounded)
        finally:
            self.closed_streams += 1
