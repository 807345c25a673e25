"""Domain types shared by the engine, plugins and frontends: turns in, events out, passages and sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Turn:
    """One user message as a frontend hands it to the engine.

    ``channel`` names the frontend (``telegram``, ``graphql``, ``cli``...), ``user_id`` is the user's id
    inside that channel and ``chat_id`` the conversation space (a Telegram group, a forum topic, a widget
    session); it defaults to the user's private space. ``locale_hint`` is what the client claims (a Telegram
    ``language_code``, an ``Accept-Language`` header); it is a hint, not an order.
    """

    channel: str
    user_id: str
    text: str
    chat_id: str | None = None
    locale_hint: str | None = None
    display_name: str | None = None
    #: An explicit language for this turn only (``otvet ask --lang ru``); beats everything else.
    language: str | None = None
    #: The chat's conversation belongs to everyone in it (a group), not to each user separately.
    shared: bool = False
    #: Seconds of the voice message or audio ``text`` was transcribed from; 0 for a typed question.
    audio_seconds: int = 0


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a passage came from, as shown to the user next to an answer."""

    title: str
    source_id: int | None = None
    url: str | None = None
    chunk_id: int | None = None
    #: The section heading inside the source, when there is one.
    section: str | None = None
    #: The source's name in the knowledge base (a file path, a URL, ``faq.json``...).
    name: str | None = None

    def label(self) -> str:
        """``Title › Section`` for compact display."""
        return f"{self.title} › {self.section}" if self.section and self.section != self.title else self.title


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved piece of knowledge with its score and source.

    ``kind`` is ``"qa"`` for a stored question/answer pair (``question`` then holds the question and ``text``
    the answer) and ``"text"`` for a chunk of a document.
    """

    text: str
    score: float
    source: SourceRef
    kind: Literal["text", "qa"] = "text"
    question: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """A previous message of the conversation, oldest first in a history window."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(slots=True)
class Usage:
    """Token usage reported by a provider (estimated when the provider cannot tell)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of answer text, emitted as soon as the provider produces it."""

    text: str
    type: Literal["delta"] = "delta"


@dataclass(frozen=True, slots=True)
class Final:
    """The complete answer: what a frontend shows last, with its sources."""

    text: str
    language: str
    sources: tuple[SourceRef, ...] = ()
    usage: Usage = field(default_factory=Usage)
    provider: str = ""
    #: The model that answered, when the provider names one.
    model: str = ""
    grounded: bool = True
    conversation_id: int | None = None
    message_id: int | None = None
    latency_ms: int = 0
    #: The main provider failed and the fallback (the extractive answerer) answered; ``text`` says so.
    fallback: bool = False
    type: Literal["final"] = "final"


@dataclass(frozen=True, slots=True)
class Failure:
    """The turn could not be answered; ``message`` is localized and safe to show, ``code`` is stable."""

    message: str
    code: str
    language: str
    conversation_id: int | None = None
    #: Seconds after which asking again can succeed (a quota), for an HTTP ``Retry-After``; None if unknown.
    retry_after: float | None = None
    type: Literal["failure"] = "failure"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A plugin's refusal to have a question answered (the ``review_question`` hook): ``message`` is shown
    to the user as it is, so the plugin writes it in the turn's language; ``code`` is the failure's stable
    code."""

    message: str
    code: str = "refused"


Event = Delta | Final | Failure
