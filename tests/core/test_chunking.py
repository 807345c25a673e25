"""Chunking keeps sentences whole and paragraphs together when they fit."""

from __future__ import annotations

import itertools
import random

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


# --- overlap ---------------------------------------------------------------------------------------------

LONG_PARAGRAPH = " ".join(f"Sentence number {n} is here." for n in range(60))


def test_without_overlap_no_sentence_repeats() -> None:
    chunks = list(chunk_text(LONG_PARAGRAPH, max_chars=200))
    sentences = [s for c in chunks for s in split_sentences(c)]
    assert sentences == split_sentences(LONG_PARAGRAPH)


def test_a_cut_paragraph_repeats_the_previous_chunks_last_sentences() -> None:
    chunks = list(chunk_text(LONG_PARAGRAPH, max_chars=200, overlap=60))
    assert len(chunks) > 2
    assert all(len(c) <= 200 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        # "Sentence number N is here." is 26-27 characters: two of them fit in 60, three do not.
        carried = split_sentences(before)[-2:]
        assert split_sentences(after)[:2] == carried
        assert len(" ".join(carried)) <= 60
    # The sentences of one paragraph stay joined as prose, not split into paragraphs.
    assert "\n" not in chunks[1]


def test_overlap_keeps_whole_sentences_and_may_be_empty() -> None:
    # Each sentence is 26+ characters, so an overlap of 20 cannot hold one: nothing is repeated.
    chunks = list(chunk_text(LONG_PARAGRAPH, max_chars=200, overlap=20))
    assert [s for c in chunks for s in split_sentences(c)] == split_sentences(LONG_PARAGRAPH)


def test_overlap_never_repeats_the_whole_previous_chunk() -> None:
    text = " ".join(f"Short {n}." for n in range(40))
    chunks = list(chunk_text(text, max_chars=30, overlap=1000))
    for before, after in itertools.pairwise(chunks):
        assert not after.startswith(before)
        assert len(after) <= 30
    rest = [split_sentences(c)[-1] for c in chunks]
    assert rest == split_sentences(text)[-len(rest) :]  # each chunk brings exactly one new sentence


def test_overlap_is_dropped_when_it_would_break_the_bound() -> None:
    long_one = "This sentence is long " + "and longer " * 12 + "at last."
    text = f"Tiny one. Tiny two. {long_one} Tiny three."
    chunks = list(chunk_text(text, max_chars=len(long_one) + 5, overlap=50))
    assert long_one in chunks
    assert all(len(c) <= len(long_one) + 5 for c in chunks)


def test_no_overlap_across_a_paragraph_break() -> None:
    paragraphs = [f"Paragraph {n} says one thing. It says a second thing too." for n in range(6)]
    chunks = list(chunk_text("\n\n".join(paragraphs), max_chars=120, overlap=100))
    sentences = [s for c in chunks for s in split_sentences(c)]
    assert sentences == split_sentences(" ".join(paragraphs))
    # A cut paragraph followed by another: the next paragraph's chunk starts clean.
    text = LONG_PARAGRAPH + "\n\nThe next paragraph begins here."
    chunks = list(chunk_text(text, max_chars=200, overlap=60))
    assert chunks[-1].startswith("The next paragraph") or chunks[-1].endswith(
        "\n\nThe next paragraph begins here."
    )
    assert sum(c.count("The next paragraph") for c in chunks) == 1


def test_overlap_with_russian_and_english_sentence_ends() -> None:
    text = (
        "Бот отвечает на вопросы клиентов. Он работает круглосуточно! Как его настроить? "
        "Откройте раздел «Настройки»… Then press Save. Is it done? Yes! «Готово» появится сразу."
    )
    chunks = list(chunk_text(text, max_chars=80, overlap=40))
    assert all(len(c) <= 80 for c in chunks)
    expected = split_sentences(text)
    for chunk in chunks:
        assert all(s in expected for s in split_sentences(chunk))  # whole sentences only
    assert split_sentences(chunks[1])[0] == split_sentences(chunks[0])[-1]
    assert {s for c in chunks for s in split_sentences(c)} == set(expected)


def test_chunking_is_deterministic() -> None:
    text = LONG_PARAGRAPH + "\n\nOne.\n\n" + LONG_PARAGRAPH.replace("here", "there")
    runs = {tuple(chunk_text(text, max_chars=150, overlap=70)) for _ in range(5)}
    assert len(runs) == 1


def test_chunk_source_passes_the_overlap_on() -> None:
    parsed = ParsedSource("T", sections=[Section(LONG_PARAGRAPH, "Intro")])
    plain = list(chunk_source(parsed, max_chars=200))
    overlapped = list(chunk_source(parsed, max_chars=200, overlap=60))
    assert len(overlapped) > len(plain) or overlapped != plain
    assert all(p.title == "Intro" and len(p.text) <= 200 for p in overlapped)


_WORDS = [
    *("бот", "ответ", "вопрос", "клиент", "база", "знаний", "настройка", "канал", "сообщение"),
    *("bot", "answer", "question", "customer", "knowledge", "setting", "channel", "message", "price"),
]


def _random_text(rng: random.Random, serial: itertools.count[int]) -> tuple[str, list[str]]:
    """A random text and its sentences in order; every sentence is unique (it carries a serial number)."""
    paragraphs: list[str] = []
    sentences: list[str] = []
    for _ in range(rng.randint(1, 8)):
        lines: list[str] = []
        for _ in range(rng.randint(1, 3) if rng.random() < 0.3 else 1):
            line: list[str] = []
            for _ in range(rng.randint(1, 12)):
                words = [rng.choice(_WORDS) for _ in range(rng.randint(0, 40 if rng.random() < 0.1 else 12))]
                first = rng.choice(_WORDS).capitalize()
                sentence = " ".join([first, *words, f"n{next(serial)}"]) + rng.choice(".!?…")
                line.append(sentence)
                sentences.append(sentence)
            lines.append(" ".join(line))
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs), sentences


def test_random_texts_keep_every_sentence_and_the_bound() -> None:
    rng = random.Random(20261125)
    serial = itertools.count()
    for _ in range(400):
        text, sentences = _random_text(rng, serial)
        max_chars = rng.randint(40, 400)
        overlap = rng.choice([0, rng.randint(1, max_chars)])
        chunks = list(chunk_text(text, max_chars, overlap))
        assert chunks == list(chunk_text(text, max_chars, overlap))
        split = [split_sentences(c) for c in chunks]
        for chunk, own in zip(chunks, split, strict=True):
            assert len(chunk) <= max_chars or len(own) == 1, (chunk, max_chars)
        # Dropping each chunk's repeated opening gives back the input's sentences, in order, exactly once.
        rebuilt: list[str] = []
        for before, own in zip([[], *split], split, strict=False):
            repeated = 0
            while repeated < len(own) and own[repeated] in before:
                repeated += 1
            assert repeated < len(own)  # every chunk brings something new
            assert len(" ".join(own[:repeated])) <= overlap
            rebuilt += own[repeated:]
        assert rebuilt == sentences
