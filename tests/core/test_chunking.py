"""Chunking keeps sentences whole and paragraphs together when they fit."""

from __future__ import annotations

from otvet.core.chunking import chunk_source, chunk_text, split_sentences
from otvet.core.sources import ParsedSource, QAPair, Section


def test_sentences_split_on_russian_and_english_punctuation() -> None:
    assert split_sentences("Первое предложение. Второе! Third one? 4th.\nA list item") == [
        "Первое предложение.",
        "Второе!",
        "Third one?",
        "4th.",
        "A list item",
    ]
    # A full stop before a lower-case word (an abbreviation) does not end the sentence.
    assert split_sentences("Version 1.2 is out. e.g. this") == ["Version 1.2 is out. e.g. this"]


def test_chunks_respect_the_size_and_never_cut_a_sentence() -> None:
    paragraph = " ".join(f"Sentence number {n} is here." for n in range(60))
    chunks = list(chunk_text(paragraph + "\n\nShort tail.", max_chars=200))
    assert all(len(c) <= 200 for c in chunks)
    rejoined = " ".join(" ".join(c.split()) for c in chunks)
    assert rejoined == paragraph + " Short tail."


def test_small_paragraphs_share_a_chunk() -> None:
    assert list(chunk_text("One.\n\nTwo.\n\nThree.", max_chars=100)) == ["One.\n\nTwo.\n\nThree."]


def test_qa_pairs_stay_whole_and_sections_keep_their_titles() -> None:
    parsed = ParsedSource("T", sections=[Section("Body text.", "Intro")], qa_pairs=[QAPair(" Q? ", " A. ")])
    pieces = list(chunk_source(parsed))
    assert [(p.kind, p.text, p.question, p.title) for p in pieces] == [
        ("qa", "A.", "Q?", ""),
        ("text", "Body text.", None, "Intro"),
    ]
