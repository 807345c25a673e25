"""Compose an extractive answer: a stored Q&A answer, the most relevant sentences with citations, or a
localized "I don't know". Pure functions, so they are tested without any event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from otvet.config.settings import ExtractiveSettings
from otvet.core.chunking import split_sentences
from otvet.core.llm import AnswerRequest
from otvet.core.text import terms
from otvet.core.types import Passage


@dataclass(frozen=True, slots=True)
class Composed:
    text: str
    #: Indexes into the request's passages, in the order their markers ([1], [2]...) are numbered.
    cited: tuple[int, ...]
    grounded: bool


def question_match(question: str, stored: str) -> float:
    """How well two questions match: the F1 of their shared stemmed terms (0..1)."""
    asked, known = set(terms(question)), set(terms(stored))
    if not asked or not known:
        return 0.0
    shared = len(asked & known)
    if not shared:
        return 0.0
    precision, recall = shared / len(known), shared / len(asked)
    return 2 * precision * recall / (precision + recall)


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


def small_talk(request: AnswerRequest) -> Composed | None:
    """A short reply to a greeting, thanks or goodbye; None for anything that may be a question."""
    said = set(terms(request.question))
    if not said or "?" in request.question:
        return None
    t = request.translator
    if said <= _GREETING and said - {"good", "добр"}:  # "good" alone is not a greeting
        text = t.gettext("Hello! I answer questions from my knowledge base. What would you like to know?")
    elif said <= _THANKS:
        text = t.gettext("You're welcome! Ask me anything else.")
    elif said <= _GOODBYE:
        text = t.gettext("Goodbye! Come back with more questions.")
    else:
        return None
    return Composed(text, (), grounded=False)


def dont_know(request: AnswerRequest) -> Composed:
    t = request.translator
    text = t.gettext(
        "I don't know the answer to that yet: my knowledge base has nothing on it. "
        "Try rephrasing the question, or ask about another topic."
    )
    return Composed(text, (), grounded=False)


def _prefer_language(candidates: list[tuple[int, Passage]], language: str) -> list[tuple[int, Passage]]:
    same = [(i, p) for i, p in candidates if p.language in (None, language)]
    return same or candidates


def _distinct(ranked: list[tuple[float, int, int, str]]) -> list[tuple[float, int, int, str]]:
    """Each sentence once, where it scored best: overlapping chunks repeat the sentences at their seam, and
    an answer that quotes one twice (with two citations) reads as a stutter.
    """
    seen: set[str] = set()
    out = []
    for item in ranked:
        key = " ".join(item[3].casefold().split())
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def compose(request: AnswerRequest, settings: ExtractiveSettings) -> Composed:
    """The extractive answer to ``request``."""
    chat = small_talk(request)
    if chat is not None:
        return chat
    passages = list(enumerate(request.passages))
    if not passages:
        return dont_know(request)

    # 1. A stored Q&A pair whose question is the user's question (in other words) answers it outright.
    qa = [
        (question_match(request.question, p.question or ""), i, p)
        for i, p in _prefer_language([(i, p) for i, p in passages if p.kind == "qa"], request.language)
    ]
    if qa:
        match, index, passage = max(qa, key=lambda item: (item[0], item[2].score))
        if match >= settings.qa_min_relevance:
            return Composed(passage.text.strip(), (index,), grounded=True)

    # 2. Otherwise quote the sentences that carry most of the question's terms.
    relevant = [(i, p) for i, p in passages if p.score >= settings.min_relevance]
    if not relevant:
        return dont_know(request)
    relevant = _prefer_language(relevant, request.language)
    best = max(p.score for _, p in relevant)
    relevant = [(i, p) for i, p in relevant if p.score >= best * 0.6]
    asked = set(terms(request.question))
    scored: list[tuple[float, int, int, str]] = []
    for rank, (index, passage) in enumerate(relevant):
        for position, sentence in enumerate(split_sentences(passage.text)):
            found = asked & set(terms(sentence))
            if not found:
                continue
            # More of the question's terms first; among equals, the better passage and the earlier sentence.
            score = len(found) / len(asked) + passage.score * 0.5 - rank * 0.01 - position * 0.001
            scored.append((score, index, position, sentence))
    if not scored:
        return dont_know(request)
    ranked = _distinct(sorted(scored, reverse=True))
    # A sentence far weaker than the best one is padding, not an answer.
    chosen = [item for item in ranked[: settings.max_sentences] if item[0] >= ranked[0][0] * 0.6]
    # The passage holding the best sentence leads; inside a passage, sentences keep their document order.
    lead = {}
    for score, index, _, _ in chosen:
        lead.setdefault(index, -score)
    chosen.sort(key=lambda item: (lead[item[1]], item[2]))
    cited: list[int] = []
    lines: list[str] = []
    for _, index, _, sentence in chosen:
        if index not in cited:
            cited.append(index)
        marker = cited.index(index) + 1
        lines.append(f"{sentence} [{marker}]")
    return Composed(" ".join(lines), tuple(cited), grounded=True)
