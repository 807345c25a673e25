"""Replies any provider gives without a model: to small talk (a greeting, thanks, a goodbye) and "I don't
know" when the knowledge base has nothing on a question. Localized, calm, and free: a question nothing in
the knowledge base answers costs no paid model call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from otvet.core.text import terms

if TYPE_CHECKING:
    from otvet.core.i18n import Translator
    from otvet.core.llm import AnswerRequest
    from otvet.core.types import Passage

# Messages made only of these (stemmed) words are small talk, not questions: searching the knowledge base
# for "Привет!" can only end in "I don't know", which is a poor reply to a greeting.
_GREETING = frozenset(
    {
        "hi",
        "hello",
        "hey",
        "good",
        "morn",
        "afternoon",
        "evening",
        "greet",
        "привет",
        "здравств",
        "добр",
        "ден",
        "утр",
        "вечер",
        "хай",
        "салют",
    }
)
_THANKS = frozenset({"thank", "thx", "much", "lot", "great", "спасиб", "больш", "благодар", "огромн"})
_GOODBYE = frozenset({"bye", "goodby", "see", "later", "пок", "свида", "встреч"})


def small_talk_kind(message: str) -> str | None:
    """``greeting``, ``thanks`` or ``goodbye`` for a message that is only that; None for anything that may be
    a question (a question mark, or any other word)."""
    said = set(terms(message))
    if not said or "?" in message:
        return None
    if said <= _GREETING and said - {"good", "добр"}:  # "good" alone is not a greeting
        return "greeting"
    if said <= _THANKS:
        return "thanks"
    if said <= _GOODBYE:
        return "goodbye"
    return None


def canned(t: Translator, kind: str | None) -> str:
    """The reply to small talk of ``kind``, or "I don't know" for None."""
    if kind == "greeting":
        return t.gettext("Hello! I answer questions from my knowledge base. What would you like to know?")
    if kind == "thanks":
        return t.gettext("You're welcome! Ask me anything else.")
    if kind == "goodbye":
        return t.gettext("Goodbye! Come back with more questions.")
    return t.gettext(
        "I don't know the answer to that yet: my knowledge base has nothing on it. "
        "Try rephrasing the question, or ask about another topic."
    )


def covered(passages: Sequence[Passage], min_relevance: float) -> bool:
    """Whether the knowledge base has something on the question: a passage reaching ``min_relevance``."""
    return any(passage.score >= min_relevance for passage in passages)


def threshold(setting: float | None, request: AnswerRequest) -> float:
    """A provider's relevance threshold: its setting, else the one the knowledge base's index is calibrated
    with (``request.min_relevance``)."""
    return request.min_relevance if setting is None else setting
