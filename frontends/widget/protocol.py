"""The widget's wire format (docs/widget.md#protocol): client frames parsed into typed values, server frames
built as plain dicts. Nothing here touches the engine or the socket.

A frame that does not parse raises :class:`BadFrame` with an English detail for the developer; the socket
answers it with a ``bad_request`` error and stays open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from otvet.core.store import StoredMessage
from otvet.core.types import Final, SourceRef
from otvet.frontends.untrusted import load_json

#: Longest client-chosen question id.
MAX_ID_CHARS = 64


class BadFrame(ValueError):
    """A client frame that is not JSON, not an object, of an unknown type or with a wrong field."""


@dataclass(frozen=True, slots=True)
class Hello:
    language: str | None
    visitor: str | None
    user: str | None


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    language: str | None


@dataclass(frozen=True, slots=True)
class FeedbackFrame:
    message_id: int
    value: int


@dataclass(frozen=True, slots=True)
class Reset:
    pass


@dataclass(frozen=True, slots=True)
class LanguageFrame:
    language: str


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ClientFrame = Hello | Question | FeedbackFrame | Reset | LanguageFrame | Ping


def _optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadFrame(f'"{name}" must be a string or null')
    return value


def _required_str(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise BadFrame(f'"{data.get("type")}" needs "{name}" as a string')
    return value


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadFrame(f'"{data.get("type")}" needs "{name}" as an integer')
    return value


def question_id_of(text: str) -> str | None:
    """The ``id`` of a frame that may be a question, for errors about it; None when there is none."""
    try:
        data = load_json(text)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and len(value) <= MAX_ID_CHARS else None


def parse(text: str) -> ClientFrame:
    """One client frame; :class:`BadFrame` saying what is wrong otherwise."""
    try:
        data = load_json(text)
    except ValueError as exc:
        raise BadFrame(f"the frame is not valid JSON: {getattr(exc, 'msg', exc)}") from None
    if not isinstance(data, dict):
        raise BadFrame('a frame is a JSON object with a "type"')
    kind = data.get("type")
    if kind == "hello":
        return Hello(
            _optional_str(data, "language"), _optional_str(data, "visitor"), _optional_str(data, "user")
        )
    if kind == "question":
        question_id = _required_str(data, "id")
        if not question_id or len(question_id) > MAX_ID_CHARS:
            raise BadFrame(f'"id" must be 1 to {MAX_ID_CHARS} characters')
        return Question(question_id, _required_str(data, "text"), _optional_str(data, "language"))
    if kind == "feedback":
        value = _int(data, "value")
        if value not in (-1, 1):
            raise BadFrame('"value" is 1 or -1')
        return FeedbackFrame(_int(data, "message_id"), value)
    if kind == "reset":
        return Reset()
    if kind == "language":
        return LanguageFrame(_required_str(data, "language"))
    if kind == "ping":
        return Ping()
    if not isinstance(kind, str):
        raise BadFrame('a frame is a JSON object with a "type"')
    raise BadFrame(f"unknown frame type {kind[:40]!r}")


# --- server frames ------------------------------------------------------------------------------------------


def _web_url(value: str | None) -> str | None:
    """``value`` when it is an http(s) URL, which the widget may make a link of; None for anything else."""
    return value if value and value.lower().startswith(("http://", "https://")) else None


def source(n: int, ref: SourceRef) -> dict[str, Any]:
    """A source as the widget shows it. ``url`` is set only for an http(s) URL, so it is safe to make a link
    of: the source's own URL or else its name, since a page ingested from the web is named by its URL."""
    url = _web_url(ref.url) or _web_url(ref.name)
    return {"n": n, "title": ref.title, "section": ref.section, "url": url, "name": ref.name}


def sources(refs: Iterable[SourceRef]) -> list[dict[str, Any]]:
    return [source(n, ref) for n, ref in enumerate(refs, 1)]


def welcome(
    visitor: str,
    language: str,
    languages: Sequence[str],
    history: list[dict[str, Any]],
    max_question_chars: int,
) -> dict[str, Any]:
    return {
        "type": "welcome",
        "visitor": visitor,
        "language": language,
        "languages": list(languages),
        "history": history,
        "limits": {"max_question_chars": max_question_chars},
    }


def history_entry(message: StoredMessage, rating: int | None) -> dict[str, Any]:
    return {
        "role": message.role,
        "text": message.text,
        "message_id": message.id,
        "sources": sources(message.sources) if message.role == "assistant" else [],
        "rating": rating,
    }


def delta(question_id: str, text: str) -> dict[str, Any]:
    return {"type": "delta", "id": question_id, "text": text}


def answer(question_id: str, final: Final) -> dict[str, Any]:
    return {
        "type": "answer",
        "id": question_id,
        "message_id": final.message_id,
        "text": final.text,
        "language": final.language,
        "sources": sources(final.sources),
        "grounded": final.grounded,
        "fallback": final.fallback,
    }


def error(
    code: str, message: str, question_id: str | None = None, retry_after: float | None = None
) -> dict[str, Any]:
    return {"type": "error", "id": question_id, "code": code, "message": message, "retry_after": retry_after}


def feedback_saved(message_id: int, value: int) -> dict[str, Any]:
    return {"type": "feedback_saved", "message_id": message_id, "value": value}


def reset_done() -> dict[str, Any]:
    return {"type": "reset_done"}


def language_set(language: str) -> dict[str, Any]:
    return {"type": "language_set", "language": language}


def pong() -> dict[str, Any]:
    return {"type": "pong"}
