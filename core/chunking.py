"""Split parsed sources into retrieval chunks on paragraph and sentence boundaries."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from otvet.core.sources import ParsedSource

#: Sentence ends: ., ! or ? (also …) followed by space and an upper-case letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'«(\[]?[A-ZА-ЯЁ0-9])")
#: A full stop that ends these is an abbreviation's, not a sentence's, even before a capital: an initial
#: ("Michael E. Smith", "А. С. Пушкин"), a title ("Dr. Watson"), "St. Johns", "e.g.", "т. е.", "ул. Ленина".
_ABBREVIATION = re.compile(
    r"(?:^|[\s(«\"'])(?:[A-ZА-ЯЁ]|Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Ft|Gen|Gov|Sen|Rep|Rev|Col|Capt|Lt|Sgt|No|Nos|"
    r"Vol|Fig|Ch|Sec|Art|pp|vs|approx|Inc|Ltd|Corp|Co|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|"
    r"e\.g|i\.e|a\.m|p\.m|U\.S|U\.K|т|т\.\s?е|т\.\s?д|т\.\s?п|т\.\s?к|т\.\s?н|им|ул|пр|д|др|проф|акад|"
    r"св|см|стр|рис|гл|тыс|млн|млрд|руб|коп|г|гг|в|вв|ок|напр)\.$"
)
_PARAGRAPH = re.compile(r"\n\s*\n")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (Russian and English punctuation); every line break also ends one.

    Parsers unwrap hard-wrapped prose, so a line break that survives separates list items or table rows.
    A full stop after an initial or a common abbreviation (:data:`_ABBREVIATION`) ends no sentence.
    """
    return [sentence for line in text.splitlines() for sentence in _line_sentences(" ".join(line.split()))]


def _line_sentences(line: str) -> list[str]:
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(line):
        if not piece:
            continue
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


@dataclass(frozen=True, slots=True)
class _Unit:
    """What chunks are built from: a whole paragraph, or one sentence of a paragraph too long to keep."""

    text: str
    paragraph: int  # which paragraph of the text it comes from
    cut: bool  # a sentence of a cut paragraph (only these are ever repeated as overlap)
    joiner: str  # what goes before it after the previous sentence of its paragraph: " " or a line break
    #: For a cut paragraph's sentences: how long each of its pieces should be, so that they come out even.
    share: int = 0


def _units(text: str, max_chars: int) -> Iterator[_Unit]:
    for number, raw in enumerate(_PARAGRAPH.split(text)):
        lines = [" ".join(line.split()) for line in raw.splitlines() if line.strip()]
        paragraph = "\n".join(lines)
        if not paragraph:
            continue
        # A paragraph that fits stays whole; a longer one is cut between sentences.
        if len(paragraph) <= max_chars:
            yield _Unit(paragraph, number, cut=False, joiner="")
            continue
        # Cut into equal pieces rather than filled greedily: a long chunk and a short tail would give the
        # tail, a sentence or two, a head start in BM25's length normalisation and a place of its own.
        share = math.ceil(len(paragraph) / math.ceil(len(paragraph) / max_chars))
        for line in lines:
            for index, sentence in enumerate(_line_sentences(line)):
                yield _Unit(sentence, number, cut=True, joiner=" " if index else "\n", share=share)


def _joiner(before: _Unit, unit: _Unit) -> str:
    # Sentences of one paragraph join as they stood in it; paragraphs stay apart by a blank line.
    return unit.joiner if unit.paragraph == before.paragraph else "\n\n"


def _render(units: list[_Unit]) -> str:
    parts = [units[0].text]
    for before, unit in itertools.pairwise(units):
        parts += [_joiner(before, unit), unit.text]
    return "".join(parts)


def _overlap(previous: list[_Unit], unit: _Unit, overlap: int, max_chars: int) -> list[_Unit]:
    """The trailing sentences of ``previous`` that ``unit``'s chunk repeats, so a thought cut in two keeps
    its context: only when the cut fell inside a paragraph, at most ``overlap`` characters, never the whole
    previous chunk, and only as much as still fits in ``max_chars`` with ``unit``.
    """
    last = previous[-1]
    if overlap <= 0 or not (last.cut and unit.cut and last.paragraph == unit.paragraph):
        return []  # a paragraph break is a natural break: the next chunk starts clean
    carried: list[_Unit] = []
    for candidate in reversed(previous[1:]):  # previous[0] stays out: never repeat the whole chunk
        if candidate.paragraph != unit.paragraph or len(_render([candidate, *carried])) > overlap:
            break
        carried.insert(0, candidate)
    # Overlap counts toward the bound: give up its oldest sentences until the new one fits.
    while carried and len(_render([*carried, unit])) > max_chars:
        carried.pop(0)
    return carried


def _has_share(chunk: list[_Unit], unit: _Unit) -> bool:
    """Whether ``chunk`` already holds its share of the cut paragraph ``unit`` continues."""
    if not unit.cut:
        return False
    own = [u for u in chunk if u.cut and u.paragraph == unit.paragraph]
    return bool(own) and len(_render(own)) >= unit.share


def chunk_text(text: str, max_chars: int = 900, overlap: int = 0) -> Iterator[str]:
    """Yield chunks of at most ``max_chars`` (unless one sentence is longer), never cutting a sentence.

    Where a paragraph had to be cut between sentences, the next chunk first repeats the previous chunk's
    last whole sentences, up to ``overlap`` characters, so neither half loses its context.
    """
    chunk: list[_Unit] = []
    carried = 0  # how many of the chunk's first units repeat the previous chunk's (the overlap)
    length = 0
    for unit in _units(text, max_chars):
        if chunk:
            grown = length + len(_joiner(chunk[-1], unit)) + len(unit.text)
            if grown <= max_chars and not _has_share(chunk[carried:], unit):
                chunk.append(unit)
                length = grown
                continue
            yield _render(chunk)
            chunk = _overlap(chunk, unit, overlap, max_chars)
            carried = len(chunk)
        chunk.append(unit)
        length = len(_render(chunk))
    if chunk:
        yield _render(chunk)


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk of a source before it is stored: ``question`` is set for Q&A pairs."""

    kind: Literal["text", "qa"]
    text: str
    title: str = ""
    question: str | None = None


def chunk_source(parsed: ParsedSource, max_chars: int = 900, overlap: int = 0) -> Iterator[Piece]:
    """Yield every chunk of a parsed source: Q&A pairs whole, prose split under its section title (with
    ``overlap`` characters repeated where a paragraph is cut, see :func:`chunk_text`).
    """
    for pair in parsed.qa_pairs:
        yield Piece("qa", pair.answer.strip(), question=pair.question.strip())
    for section in parsed.sections:
        for text in chunk_text(section.text, max_chars, overlap):
            yield Piece("text", text, title=section.title)
