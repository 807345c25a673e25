"""OpenAI's response objects (``chat.completion``, ``chat.completion.chunk``, ``model``) built from the
engine's events, plus Otvet's own ``otvet`` field: the sources, language and ids an OpenAI answer has no
place for. SDKs keep unknown fields (``completion.otvet`` in Python, ``completion.otvet`` in JS), so it
costs a client nothing to ignore it.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field

from otvet.core.types import Final, SourceRef, Usage


@dataclass(frozen=True, slots=True)
class Meta:
    """What every object of one response repeats: its id, creation time and model name."""

    model: str
    id: str = field(default_factory=lambda: "chatcmpl-" + secrets.token_hex(12))
    created: int = field(default_factory=lambda: int(time.time()))


def usage(value: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": value.prompt_tokens,
        "completion_tokens": value.completion_tokens,
        "total_tokens": value.total_tokens,
    }


def source(ref: SourceRef) -> dict[str, object]:
    return {**dataclasses.asdict(ref), "label": ref.label()}


def otvet_extension(final: Final) -> dict[str, object]:
    """The ``otvet`` field: where the answer comes from, and the ids to rate or look it up later."""
    return {
        "sources": [source(ref) for ref in final.sources],
        "language": final.language,
        "grounded": final.grounded,
        "fallback": final.fallback,
        "conversation_id": final.conversation_id,
        "message_id": final.message_id,
    }


def completion(meta: Meta, final: Final) -> dict[str, object]:
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": final.text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(final.usage),
        "system_fingerprint": None,
        "otvet": otvet_extension(final),
    }


def chunk(
    meta: Meta,
    delta: dict[str, object] | None,
    *,
    finish_reason: str | None = None,
    with_usage: bool = False,
    usage_value: Usage | None = None,
    **extra: object,
) -> dict[str, object]:
    """One ``chat.completion.chunk``; ``delta=None`` is the usage chunk, whose ``choices`` are empty.

    With ``stream_options.include_usage`` every chunk carries ``usage`` (null but on the last one), as
    OpenAI's do.
    """
    body: dict[str, object] = {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": None,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if with_usage:
        body["usage"] = None if usage_value is None else usage(usage_value)
    body.update(extra)
    return body


def model(name: str, created: int) -> dict[str, object]:
    return {"id": name, "object": "model", "created": created, "owned_by": "otvet"}
