"""Split parsed sources into retrieval chunks on paragraph and sentence boundaries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from otvet.core.sources import ParsedSource

#: Sentence ends: ., ! or ? (also …) followed by space and an upper-case letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'«(\[]?[A-ZА-ЯЁ0-9])")
_PARAGRAPH = re.compile(r"\n\s*\n")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (Russian and English punctuation); every line break also ends one.

    Parsers unwrap hard-wrapped prose, so a line break that survives separates list items or table rows.
    """
    out: list[str] = []
    for line in text.splitlines():
        flat = " ".join(line.split())
        out.extend(s for s in _SENTENCE_END.split(flat) if s)
    return out


def chunk_text(text: str, max_chars: int = 900) -> Iterator[str]:
    """Yield chunks of at most ``max_chars`` (unless one sentence is longer), never cutting a sentence."""
    buffer: list[str] = []
    size = 0
    for raw in _PARAGRAPH.split(text):
        paragraph = "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
        if not paragraph:
            continue
        # A paragraph that fits stays whole; a longer one is cut between sentences.
        units = [paragraph] if len(paragraph) <= max_chars else split_sentences(paragraph)
        for unit in units:
            if buffer and size + len(unit) + 2 > max_chars:
                yield "\n\n".join(buffer)
                buffer, size = [], 0
            buffer.append(unit)
            size += len(unit) + 2
    if buffer:
        yield "\n\n".join(buffer)


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk of a source before it is stored: ``question`` is set for Q&A pairs."""

    kind: Literal["text", "qa"]
    text: str
    title: str = ""
    question: str | None = None


def chunk_source(parsed: ParsedSource, max_chars: int = 900) -> Iterator[Piece]:
    """Yield every chunk of a parsed source: Q&A pairs whole, prose split under its section title."""
    for pair in parsed.qa_pairs:
        yield Piece("qa", pair.answer.strip(), question=pair.question.strip())
    for section in parsed.sections:
        for text in chunk_text(section.text, max_chars):
            yield Piece("text", text, title=section.title)
