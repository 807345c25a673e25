"""The extractive provider: streams the composed answer in small pieces, like a model would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from otvet.core.llm import AnswerRequest, Provider, ProviderDone
from otvet.core.tokens import estimate_tokens
from otvet.core.types import Usage
from otvet.plugins.llm_extractive.answerer import compose

if TYPE_CHECKING:
    from otvet.config.settings import ExtractiveSettings
    from otvet.core.app import Otvet


def pieces(text: str, size: int) -> list[str]:
    """Split ``text`` into pieces of about ``size`` characters, cutting only after spaces."""
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start, end)
            if space > start:
                end = space + 1
        out.append(text[start:end])
        start = end
    return out


class ExtractiveProvider(Provider):
    """Answers from the retrieved passages alone; needs no network and no model."""

    name = "extractive"

    def __init__(self, otvet: Otvet | None = None, settings: ExtractiveSettings | None = None) -> None:
        from otvet.config.settings import ExtractiveSettings

        self.settings = settings or (otvet.settings.extractive if otvet else ExtractiveSettings())

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        composed = compose(request, self.settings)
        for piece in pieces(composed.text, self.settings.chunk_chars):
            yield piece
            # Hand control back between pieces so frontends really receive a stream.
            await asyncio.sleep(0)
        usage = Usage(
            prompt_tokens=estimate_tokens(request.question)
            + sum(estimate_tokens(request.passages[i].text) for i in composed.cited),
            completion_tokens=estimate_tokens(composed.text),
        )
        yield ProviderDone(usage=usage, cited=composed.cited, grounded=composed.grounded)
