"""Hybrid retrieval as a user notices it: words and meaning both find passages, weighed into one relevance."""

from __future__ import annotations

import numpy as np
import pytest

from otvet.core.embeddings import pack, unpack, unpack_matrix
from otvet.core.hybrid import HybridIndex
from otvet.core.retrieval import IndexedChunk
from otvet.core.types import SourceRef
from otvet.plugins.retrieval_bm25.index import BM25Retriever


def chunk(chunk_id: int, text: str, **kwargs: object) -> IndexedChunk:
    source = SourceRef(title=f"Doc {chunk_id}", source_id=100 + chunk_id)
    return IndexedChunk(chunk_id=chunk_id, text=text, source=source, **kwargs)  # type: ignore[arg-type]


# Hand-made vectors on three axes: (price, time, parking).
KB = [
    (chunk(1, "Museum ticket prices are listed at the door."), [-1.0, 0.0, 0.0]),
    (chunk(2, "The museum shop sells postcards and ticket holders."), [0.5, 0.5, 0.0]),
    (chunk(3, "Admission costs five euros for adults."), [0.9, 0.1, 0.0]),
    (chunk(4, "Parking is behind the building."), [0.0, 0.0, 1.0]),
    (
        chunk(5, "Children under six go free.", kind="qa", question="Do kids pay?", language="en"),
        [0.8, 0.0, 0.6],
    ),
]
PRICE = [1.0, 0.0, 0.0]


def build(entries: list[tuple[IndexedChunk, list[float]]] = KB, **kwargs: float) -> HybridIndex:
    chunks = [c for c, _ in entries]
    matrix = np.asarray([v for _, v in entries], dtype=np.float32)
    return HybridIndex(BM25Retriever().build(chunks), chunks, matrix, **kwargs)


def ids(passages: list) -> list[int | None]:
    return [p.source.chunk_id for p in passages]


def relevance(coverage: float, similarity: float) -> float:
    return (coverage + similarity) / 2


def test_words_and_meaning_are_weighed_together() -> None:
    index = build()
    # Words: 1 (all three terms), 2 (two of them), 3 ("costs", a synonym of "prices"). Vectors: 3, 5, 2
    # (1 points away from "price").
    assert ids(index.lexical.search("museum ticket prices", 5)) == [1, 2, 3]
    passages = index.search("museum ticket prices", 5, query_vector=PRICE)
    # 2 holds two of the words and points halfway to "price"; 3 means the price and holds a synonym; both
    # beat 1 (every word, the opposite meaning); 5 means less of the price and shares no word.
    assert ids(passages) == [2, 3, 1, 5]


def test_a_paraphrase_with_no_shared_word_is_found_by_its_meaning() -> None:
    index = build()
    assert index.lexical.search("how much to get in", 5) == []
    best = index.search("how much to get in", 2, query_vector=[0.95, 0.05, 0.0])[0]
    assert best.text == "Admission costs five euros for adults."
    assert best.source == SourceRef(title="Doc 3", source_id=103, chunk_id=3)


def test_scores_are_the_mean_of_word_coverage_and_similarity() -> None:
    index = build()
    passages = {p.source.chunk_id: p for p in index.search("museum ticket prices", 5, query_vector=PRICE)}
    lexical = {p.source.chunk_id: p for p in index.lexical.search("museum ticket prices", 5)}
    # Every word, but pointing away from the question: half relevant (a negative cosine counts as 0).
    assert lexical[1].score == 1.0 and passages[1].score == pytest.approx(0.5)
    assert passages[2].score == pytest.approx(relevance(lexical[2].score, 0.5 / np.hypot(0.5, 0.5)))
    assert passages[3].score == pytest.approx(relevance(lexical[3].score, 0.9 / np.hypot(0.9, 0.1)))
    # Found by meaning only: the words' coverage is computed for it too (here none of them).
    assert passages[5].score == pytest.approx(relevance(0.0, 0.8))
    assert all(0.0 <= p.score <= 1.0 for p in passages.values())


def test_the_weight_of_meaning_is_a_setting() -> None:
    words_only = build(vector_weight=0).search("museum ticket prices", 5, query_vector=PRICE)
    assert ids(words_only)[:2] == [1, 2] and words_only[0].score == 1.0


def test_a_section_titled_with_the_question_ranks_first_among_equals() -> None:
    quoting = chunk(1, "Run the command with the question, for example: how do I connect Telegram?")
    section = chunk(2, "Create a bot with BotFather and copy its token.", title="Connect Telegram")
    index = build([(quoting, [1.0, 0.0, 0.0]), (section, [1.0, 0.0, 0.0])])
    assert ids(index.search("How do I connect Telegram?", 2, query_vector=PRICE)) == [2, 1]


def test_a_qa_pair_found_by_meaning_keeps_its_question() -> None:
    passage = build().search("are children charged", 1, query_vector=[0.8, 0.0, 0.6])[0]
    assert (passage.kind, passage.question, passage.text) == (
        "qa",
        "Do kids pay?",
        "Children under six go free.",
    )
    assert passage.language == "en" and passage.source.chunk_id == 5
    # "charged" and "free" are one group of synonyms ("no charge"): half the question's words, credited.
    assert passage.score == pytest.approx(
        relevance(build().lexical.relevance("are children charged", [4])[0], 1.0)
    )


def test_without_a_query_vector_the_search_is_the_lexical_one() -> None:
    index = build()
    for query in ("museum ticket prices", "parking", "nothing matches this"):
        assert index.search(query, 3) == index.lexical.search(query, 3)


def test_a_query_vector_of_another_length_falls_back_to_words() -> None:
    index = build()
    assert index.search("museum ticket prices", 3, query_vector=[1.0, 0.0]) == index.lexical.search(
        "museum ticket prices", 3
    )


def test_unrelated_and_missing_vectors_are_never_found_by_meaning() -> None:
    # Chunk 4 has a zero row (no vector); chunk 1 points away from the query.
    entries = [(KB[0][0], [-1.0, 0.0, 0.0]), (KB[3][0], [0.0, 0.0, 0.0]), (KB[2][0], [1.0, 0.0, 0.0])]
    assert ids(build(entries).search("how much to get in", 5, query_vector=PRICE)) == [3]


def test_k_and_the_candidate_depth_bound_the_results() -> None:
    query = "museum ticket prices"
    assert ids(build().search(query, 1, query_vector=PRICE)) == [2]  # the best of both
    # Pooling only each ranking's first: the words' 1 (half relevant) and the vectors' 3 (more).
    assert ids(build(candidates=1).search(query, 1, query_vector=PRICE)) == [3]
    assert build().search(query, 0, query_vector=PRICE) == []


def test_vectors_are_stored_as_little_endian_float32() -> None:
    data = pack([1.0, -2.5, 0.25])
    assert data == np.asarray([1.0, -2.5, 0.25], dtype="<f4").tobytes() and len(data) == 12
    assert unpack(data).tolist() == [1.0, -2.5, 0.25]
    assert unpack_matrix([data, pack([0, 0, 1])]).tolist() == [[1.0, -2.5, 0.25], [0.0, 0.0, 1.0]]
    with pytest.raises(ValueError, match="lengths"):
        unpack_matrix([data, pack([1.0])])
