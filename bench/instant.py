"""A pluggy plugin for the benchmarks: the LLM provider ``instant``, which answers at once.

The benchmarks measure Otvet, not a model, so this provider does no work and never waits. It streams
``Answer to: <question>`` as ``OTVET_BENCH_DELTAS`` deltas (default 1). With ``OTVET_BENCH_STAMP=1`` every
delta starts with ``time.monotonic_ns()`` taken as it is yielded, then a space: CLOCK_MONOTONIC is one clock
for every process on Linux, so a client in another process can tell how long a token took to reach it.

It cites the first passage it is given (a real model cites some), so answers carry sources as they would
in production. ``bench/otvet_bench.py`` runs the real ``otvet`` command with this plugin loaded.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable

from otvet import hookimpl
from otvet.core.llm import AnswerRequest, Provider, ProviderDone, ProviderFactory
from otvet.core.types import Usage

NAME = "instant"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return max(1, int(value)) if value else default


class InstantProvider(Provider):
    """Answers at once with a fixed text split into deltas (optionally stamped with the provider's clock)."""

    name = NAME

    def __init__(self, deltas: int | None = None, stamp: bool | None = None) -> None:
        # Read once: the environment does not change while a benchmark runs, and this is the hot path.
        self.deltas = _env_int("OTVET_BENCH_DELTAS", 1) if deltas is None else deltas
        self.stamp = os.environ.get("OTVET_BENCH_STAMP") == "1" if stamp is None else stamp

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        text = f"Answer to: {request.question}"
        for piece in _split(text, self.deltas):
            yield f"{time.monotonic_ns()} {piece}" if self.stamp else piece
        cited = (0,) if request.passages else ()
        usage = Usage(prompt_tokens=len(request.question) // 4 + 1, completion_tokens=self.deltas)
        yield ProviderDone(usage=usage, cited=cited, grounded=bool(request.passages))


def _split(text: str, parts: int) -> list[str]:
    """``text`` in ``parts`` non-empty pieces (padded with one-character pieces when it is shorter)."""
    if parts <= 1:
        return [text]
    if len(text) < parts:
        text = text.ljust(parts, ".")
    size, extra = divmod(len(text), parts)
    pieces, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


@hookimpl
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register(NAME, lambda _otvet: InstantProvider())
