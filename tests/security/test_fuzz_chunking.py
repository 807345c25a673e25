"""Property-based tests of the chunker (core/chunking.py), on prose and on hostile Unicode.

For any text, ``max_chars`` and ``overlap``: every chunk has text; a chunk is at most ``max_chars`` unless it
is one sentence that is longer by itself (the documented exception); the chunks cover the input, every
word in order, and with an overlap each chunk only repeats the end of the previous one, at most
``overlap`` characters of it; the same input always gives the same chunks.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from otvet.core.chunking import chunk_source, chunk_text, split_sentences
from otvet.core.sources import ParsedSource, QAPair, Section
from tests.security.fuzzing import FUZZ_TIMEOUT, hostile_text, prose

pytestmark = FUZZ_TIMEOUT

long_word = st.integers(30, 400).map(lambda n: "слово" * (n // 5))
texts = st.one_of(
    prose(),
    hostile_text(600),
    st.lists(st.one_of(prose(3), long_word, hostile_text(40)), max_size=5).map("\n\n".join),
)
max_chars = st.integers(20, 400)
overlaps = st.integers(0, 200)


def _words(text: str) -> list[str]:
    return text.split()


def _repeated(chunk: list[str], seen: list[str], expected: list[str], overlap: int) -> int | None:
    """How many leading words of ``chunk`` repeat the end of ``seen`` (at most ``overlap`` characters, never
    the whole chunk) such that the rest continues ``expected``, the input's words; None when no count does.
    The fewest is taken: with a sentence repeated in the input itself, either reading may be the true one.
    """
    for size in range(min(len(chunk) - 1, len(seen)) + 1):
        if size and (chunk[:size] != seen[len(seen) - size :] or len(" ".join(chunk[:size])) > overlap):
            continue
        rest = chunk[size:]
        if expected[len(seen) : len(seen) + len(rest)] == rest:
            return size
    return None


@given(text=texts, limit=max_chars, overlap=overlaps)
@example(text="A" * 50 + ". Short one.", limit=20, overlap=0)  # a sentence longer than the limit
@example(text="First one. Second one. Third one. Fourth one.", limit=25, overlap=12)
@example(text="x\u2028y\x85z\x1c w", limit=20, overlap=5)  # Unicode line breaks split lines
def test_chunks_have_text_fit_the_limit_and_cover_the_input(text: str, limit: int, overlap: int) -> None:
    chunks = list(chunk_text(text, limit, overlap))
    assert all(chunk.strip() for chunk in chunks)
    for chunk in chunks:
        # Longer than the limit only when it is a single sentence that could not be cut.
        assert len(chunk) <= limit or len(split_sentences(chunk)) == 1, chunk
    # Coverage: reading the chunks and skipping what each repeats of the one before gives back every word
    # of the input, in order; nothing is lost and nothing appears that was not there.
    expected, seen = _words(text), []
    for chunk in chunks:
        words = _words(chunk)
        repeated = _repeated(words, seen, expected, overlap)
        assert repeated is not None, f"{chunk!r} does not continue the input after {seen[-5:]}"
        seen += words[repeated:]
    assert seen == expected


@given(text=texts, limit=max_chars)
def test_without_overlap_no_word_is_repeated(text: str, limit: int) -> None:
    chunks = list(chunk_text(text, limit, 0))
    assert [word for chunk in chunks for word in chunk.split()] == text.split()


@given(text=texts, limit=max_chars, overlap=overlaps)
def test_chunking_is_deterministic(text: str, limit: int, overlap: int) -> None:
    assert list(chunk_text(text, limit, overlap)) == list(chunk_text(text, limit, overlap))


@given(
    pairs=st.lists(st.tuples(hostile_text(50), hostile_text(300)), max_size=4),
    sections=st.lists(st.tuples(hostile_text(20), texts), max_size=3),
    limit=max_chars,
)
def test_qa_pairs_stay_whole_and_sections_keep_their_titles(
    pairs: list[tuple[str, str]], sections: list[tuple[str, str]], limit: int
) -> None:
    parsed = ParsedSource(
        "T", [Section(text, title) for title, text in sections], [QAPair(q, a) for q, a in pairs]
    )
    pieces = list(chunk_source(parsed, limit, 0))
    qa = [(p.question, p.text) for p in pieces if p.kind == "qa"]
    assert qa == [(q.strip(), a.strip()) for q, a in pairs]
    prose_pieces = [(p.title, p.text) for p in pieces if p.kind == "text"]
    assert prose_pieces == [(title, chunk) for title, text in sections for chunk in chunk_text(text, limit)]
