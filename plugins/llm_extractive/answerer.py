"""Compose an extractive answer: a stored Q&A answer, the sentences that answer the question with
citations (quoting.py), or a localized "I don't know". Pure functions, tested without any event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from otvet.config.settings import ExtractiveSettings
from otvet.core.llm import AnswerRequest
from otvet.core.replies import canned, covered, small_talk_kind, threshold
from otvet.core.text import terms
from otvet.core.types import Passage
from otvet.plugins.llm_extractive.quoting import chosen, quotes

#: Passages scoring under this share of the best one's are not quoted from.
PASSAGE_RATIO = 0.8


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


def small_talk(request: AnswerRequest) -> Composed | None:
    """A short reply to a greeting, thanks or goodbye; None for anything that may be a question."""
    kind = small_talk_kind(request.question)
    return Composed(canned(request.translator, kind), (), grounded=False) if kind else None


def dont_know(request: AnswerRequest) -> Composed:
    return Composed(canned(request.translator, None), (), grounded=False)


def _prefer_language(candidates: list[tuple[int, Passage]], language: str) -> list[tuple[int, Passage]]:
    same = [(i, p) for i, p in candidates if p.language in (None, language)]
    return same or candidates


def compose(request: AnswerRequest, settings: ExtractiveSettings) -> Composed:
    """The extractive answer to ``request``."""
    chat = small_talk(request)
    if chat is not None:
        return chat
    min_relevance = threshold(settings.min_relevance, request)
    if not covered(request.passages, min_relevance):
        return dont_know(request)
    relevant = [(i, p) for i, p in enumerate(request.passages) if p.score >= min_relevance]
    relevant = _prefer_language(relevant, request.language)

    # 1. A stored Q&A pair whose question is the user's question (in other words) answers it outright.
    qa = [(question_match(request.question, p.question or ""), i, p) for i, p in relevant if p.kind == "qa"]
    if qa:
        match, index, passage = max(qa, key=lambda item: (item[0], item[2].score))
        if match >= settings.qa_min_relevance:
            return Composed(passage.text.strip(), (index,), grounded=True)

    # 2. Otherwise quote the sentences that answer it, the best one first.
    best = max(p.score for _, p in relevant)
    nearby = [(i, p) for i, p in relevant if p.score >= best * PASSAGE_RATIO]
    quoted = chosen(quotes(request.question, request.sought, nearby), settings.max_sentences)
    if not quoted:
        return dont_know(request)
    cited: list[int] = []
    lines: list[str] = []
    for quote in quoted:
        if quote.passage not in cited:
            cited.append(quote.passage)
        lines.append(f"{quote.text} [{cited.index(quote.passage) + 1}]")
    return Composed(" ".join(lines), tuple(cited), grounded=True)
