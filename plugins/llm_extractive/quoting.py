"""Choose the sentences an extractive answer quotes: the one that answers first, then the few others that
are about the question too, never a sentence that shares nothing with it.

A sentence is scored by the weighted share of the question's terms it holds (rare words weigh more, a
typo or the other alphabet's spelling counts as the word: :class:`~otvet.core.retrieval.SoughtTerm`), plus
a little for what frames it (its section's title, the sentence before it), for holding the kind of answer
the question asks for (:mod:`.cues`), and for coming from a more relevant passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from otvet.core.chunking import split_sentences
from otvet.core.retrieval import SoughtTerm
from otvet.core.text import query_terms, terms
from otvet.core.types import Passage
from otvet.plugins.llm_extractive.cues import wanted

#: What each signal adds to a sentence's score beside the share of the question it holds (0..1): its
#: section's title holding the question, the sentence before it holding it, holding the kind of answer the
#: question asks for, and its passage's relevance relative to the best passage's.
TITLE_WEIGHT = 0.1
PREVIOUS_WEIGHT = 0.2
CUE_WEIGHT = 0.35
PASSAGE_WEIGHT = 0.6
#: A sentence scoring under this share of the best one's is not quoted beside it.
KEEP_RATIO = 0.55
#: Sentences of another passage than the best sentence's are quoted only if it is this relevant, relative.
OTHER_PASSAGE = 0.9


@dataclass(frozen=True, slots=True)
class Quote:
    score: float
    #: Index into the request's passages.
    passage: int
    #: The sentence's place in its passage.
    position: int
    text: str
    #: The weighted share of the question's terms the sentence itself holds.
    overlap: float
    #: Its passage's relevance, and how much of the question its passage's section title holds.
    relevance: float = 0.0
    title: float = 0.0


class _Question:
    """The question's terms with their weights, and a test for the kind of answer it wants."""

    def __init__(self, question: str, sought: Sequence[SoughtTerm]) -> None:
        if not sought:
            sought = [SoughtTerm(term, (term,)) for term in query_terms(question)]
        self.terms = [term for term in sought if term.forms or term.synonyms]
        self.total = sum(term.weight for term in self.terms) or 1.0
        self.wanted = wanted(question)

    def overlap(self, text: str) -> float:
        """The weighted share of the question's terms that ``text`` holds."""
        found = set(terms(text))
        return sum(term.weight * term.credit(found) for term in self.terms) / self.total


def quotes(
    question: str, sought: Sequence[SoughtTerm], passages: Sequence[tuple[int, Passage]]
) -> list[Quote]:
    """Every sentence of ``passages`` ((index, passage), best first) that is about the question, best first.

    A sentence is about the question when it holds one of its terms, or when it opens a passage whose
    section title does (a section titled "Password reset" is about resetting a password throughout).
    """
    asked = _Question(question, sought)
    best = max((p.score for _, p in passages), default=0.0) or 1.0
    found: list[Quote] = []
    for rank, (index, passage) in enumerate(passages):
        title = asked.overlap(passage.question or passage.source.section or "")
        previous = 0.0
        for position, sentence in enumerate(split_sentences(passage.text)):
            overlap = asked.overlap(sentence)
            if overlap > 0 or (title > 0 and position == 0):
                score = (
                    overlap
                    + TITLE_WEIGHT * title
                    + PREVIOUS_WEIGHT * previous
                    + (CUE_WEIGHT if asked.wanted is not None and asked.wanted(sentence) else 0.0)
                    + PASSAGE_WEIGHT * passage.score / best
                    - 0.01 * rank
                    - 0.002 * position
                )
                found.append(Quote(score, index, position, sentence, overlap, passage.score, title))
            previous = overlap
    found.sort(key=lambda quote: -quote.score)
    return _distinct(found)


def chosen(found: list[Quote], most: int) -> list[Quote]:
    """The quotes an answer gives: the best one first, then up to ``most - 1`` others that score near it
    and hold a term of the question themselves, in the order they stand in their passages."""
    if not found:
        return []
    lead = found[0]
    # Another passage is quoted only when it is about the question as much: as relevant, and titled with
    # as much of it. A page that mentions the question in passing ("for example: otvet ask 'How do I
    # connect Telegram?'") adds an unrelated sentence to an answer otherwise right.
    others = [
        q
        for q in found[1:]
        if q.overlap > 0
        and q.score >= lead.score * KEEP_RATIO
        and (
            q.passage == lead.passage
            or (q.relevance >= OTHER_PASSAGE * lead.relevance and q.title >= lead.title)
        )
    ][: most - 1]
    others.sort(key=lambda q: (q.passage != lead.passage, q.passage, q.position))
    return [lead, *others]


def _distinct(ranked: list[Quote]) -> list[Quote]:
    """Each sentence once, where it scored best: overlapping chunks repeat the sentences at their seam, and
    an answer that quotes one twice (with two citations) reads as a stutter.
    """
    seen: set[str] = set()
    out = []
    for quote in ranked:
        key = " ".join(quote.text.casefold().split())
        if key not in seen:
            seen.add(key)
            out.append(quote)
    return out
