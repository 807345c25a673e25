"""The BM25 retriever as a user notices it: Russian and English word forms match, scores mean coverage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import bm25s
import numpy as np
import pytest

from otvet.core.retrieval import IndexedChunk, RetrieverFactory
from otvet.core.text import terms
from otvet.core.types import SourceRef
from otvet.plugins.retrieval_bm25 import plugin
from otvet.plugins.retrieval_bm25.encoding import count_terms
from otvet.plugins.retrieval_bm25.index import BM25Index, BM25Retriever, index_text, score_matrix

Build = Callable[..., BM25Index]


def chunk(chunk_id: int, text: str, **kwargs: object) -> IndexedChunk:
    source = SourceRef(title=f"Doc {chunk_id}", source_id=100 + chunk_id, url=f"https://kb/{chunk_id}")
    return IndexedChunk(chunk_id=chunk_id, text=text, source=source, **kwargs)  # type: ignore[arg-type]


KB = [
    chunk(1, "Подключение к группе выполняется через настройки администратора.", title="Подключение бота"),
    chunk(2, "Тарифы оплачиваются картой или по счету; счет приходит на почту.", title="Оплата"),
    chunk(3, "Connect the webhook to your server and keep the secret token private.", title="Webhooks"),
    chunk(4, "Чтобы настроить уведомления, откройте профиль и включите Telegram-уведомления.", language="ru"),
    chunk(5, "Ответ: 500 рублей в месяц.", kind="qa", question="Сколько стоит подписка?", language="ru"),
    chunk(6, "Боты отвечают на вопросы пользователей круглосуточно.", title="О сервисе"),
]


@pytest.fixture(scope="module")
def kb() -> BM25Index:
    return BM25Retriever().build(KB)


def ids(passages: list) -> list[int | None]:
    return [p.source.chunk_id for p in passages]


# --- word forms ---------------------------------------------------------------------------------------------


def test_russian_verb_finds_its_action_noun(kb: BM25Index) -> None:
    best = kb.search("Как подключить бота?", 3)[0]
    assert best.source.chunk_id == 1
    assert best.score == 1.0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("настройка уведомлений", 4),  # настроить / уведомления
        ("оплата тарифа", 2),  # оплачиваются / тарифы
        ("стоимость подписки", 5),  # the Q&A question
        ("боту вопрос", 6),  # боты / вопросы
    ],
)
def test_russian_inflections_match(kb: BM25Index, query: str, expected: int) -> None:
    assert ids(kb.search(query, 3))[0] == expected


def test_english_stemming(kb: BM25Index) -> None:
    passages = kb.search("connecting webhooks", 3)
    assert ids(passages) == [3]
    assert passages[0].score == 1.0


def test_mixed_language_query_and_text(kb: BM25Index) -> None:
    assert ids(kb.search("telegram уведомление", 3))[0] == 4
    assert ids(kb.search("secret токен webhook", 3))[0] == 3


def test_qa_pair_is_found_by_its_question_and_returns_the_answer(kb: BM25Index) -> None:
    best = kb.search("сколько стоит подписка", 3)[0]
    assert (best.kind, best.question, best.language) == ("qa", "Сколько стоит подписка?", "ru")
    assert best.text == "Ответ: 500 рублей в месяц."
    assert best.score == 1.0


def test_section_title_is_searchable(kb: BM25Index) -> None:
    assert ids(kb.search("сервис", 3)) == [6]


# --- relevance ----------------------------------------------------------------------------------------------


def test_relevance_is_coverage_in_unit_interval(kb: BM25Index) -> None:
    for query in ("подключить бота к группе", "оплата картой сервер", "бот webhook", "счет почта telegram"):
        for passage in kb.search(query, 10):
            assert 0.0 < passage.score <= 1.0
    partial = kb.search("оплата картой quantum", 1)[0]
    assert partial.source.chunk_id == 2
    assert 0.2 < partial.score < 0.8


def test_off_topic_question_scores_low_even_when_a_word_matches() -> None:
    index = BM25Retriever().build([*KB, chunk(7, "Бот не отвечает на вопросы по физике.")])
    passages = index.search("квантовая физика и теория струн", 5)
    assert ids(passages) == [7], "физика is in the corpus: the chunk is found, but must score low"
    assert passages[0].score < 0.4
    # "physics" sounds like "физика" (the other alphabet is matched by sound), "quantum" like nothing here.
    (english,) = index.search("quantum physics", 5)
    assert english.source.chunk_id == 7 and english.score < 0.5


def test_full_coverage_scores_one_whatever_the_corpus_size() -> None:
    small = BM25Retriever().build(KB)
    filler = [chunk(1000 + i, f"Раздел {i} про бота и оплату, без прочих подробностей.") for i in range(300)]
    large = BM25Retriever().build([*KB, *filler])
    for index in (small, large):
        best = index.search("подключение бота к группе", 1)[0]
        assert (best.source.chunk_id, best.score) == (1, 1.0)


def test_ranked_by_bm25_and_only_chunks_sharing_a_term() -> None:
    index = BM25Retriever().build(
        [
            chunk(1, "Бот умеет отвечать."),
            chunk(2, "Бот умеет отвечать на вопросы про оплату и доставку."),
            chunk(3, "Про погоду ничего не известно."),
            chunk(4, "Оплата доставки при получении."),
        ]
    )
    passages = index.search("оплата доставки ботом", 10)
    assert ids(passages) == [2, 4, 1]
    assert passages[0].score == 1.0
    assert passages[1].score > passages[2].score


# --- edge cases ---------------------------------------------------------------------------------------------


def test_empty_corpus() -> None:
    index = BM25Retriever().build([])
    assert len(index) == 0
    assert index.search("бот", 5) == []


def test_corpus_of_stopwords_only() -> None:
    index = BM25Retriever().build([chunk(1, "и в на"), chunk(2, "the of a")])
    assert len(index) == 2
    assert index.search("и the бот", 5) == []


@pytest.mark.parametrize("query", ["", "   ", "и в на the of", "zzzz qqqq", "?!"])
def test_query_without_known_terms_returns_nothing(kb: BM25Index, query: str) -> None:
    assert kb.search(query, 5) == []


def test_k_larger_than_corpus_and_k_zero(kb: BM25Index) -> None:
    assert len(kb) == len(KB)
    passages = kb.search("бот оплата webhook подписка уведомления", 1000)
    assert sorted(ids(passages)) == [1, 2, 3, 4, 5, 6]
    assert kb.search("бот", 0) == []


def test_duplicate_texts_are_both_returned_earlier_chunk_first() -> None:
    text = "Бот отвечает на вопросы про оплату."
    index = BM25Retriever().build([chunk(8, text), chunk(9, "Прочее."), chunk(3, text)])
    passages = index.search("оплата", 5)
    assert ids(passages) == [8, 3]
    assert passages[0].score == passages[1].score == 1.0


def test_source_carries_chunk_id_and_keeps_the_rest() -> None:
    source = SourceRef(title="Guide", source_id=7, url="https://x/guide", section="Setup")
    index = BM25Retriever().build([IndexedChunk(42, "Setup the bot.", source, language="en", title="Setup")])
    (passage,) = index.search("bot setup", 5)
    assert passage.source == SourceRef(
        "Guide", source_id=7, url="https://x/guide", chunk_id=42, section="Setup"
    )
    assert (passage.text, passage.kind, passage.question) == ("Setup the bot.", "text", None)
    assert passage.language == "en"


def test_concurrent_searches_match_sequential_ones(kb: BM25Index) -> None:
    queries = [
        "подключить бота",
        "оплата",
        "connect webhook",
        "уведомления telegram",
        "подписка",
        "вопрос",
    ] * 50
    expected = [kb.search(q, 3) for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda q: kb.search(q, 3), queries)) == expected


# --- building blocks ----------------------------------------------------------------------------------------

TRICKY = [
    "Подключение бота к Telegram-каналу: e-mail, что-то, v2.0, ёлка и Ёж.",
    "",
    "и в на the of",
    "CONNECTING connects connect\tconnected\nПОДКЛЮЧЕНИЕ",
    "ΟΔΟΣ οδός — naïve café, 2024-01-01",
]


@pytest.mark.parametrize("batch_size", [1, 2, 8192])
def test_count_terms_matches_terms_of_each_text(batch_size: int) -> None:
    counts = count_terms(TRICKY * 3, batch_size=batch_size)
    for i, text in enumerate(TRICKY * 3):
        assert counts.document(i) == dict(Counter(terms(text)))
        assert counts.doc_lengths[i] == len(terms(text))
    for t in range(len(counts.vocabulary)):  # CSC columns list documents in ascending order
        column = counts.docs[counts.indptr[t] : counts.indptr[t + 1]]
        assert np.all(np.diff(column) > 0)


def test_score_matrix_equals_bm25s_own_indexing() -> None:
    texts = [index_text(c) for c in KB] + TRICKY
    counts = count_terms(texts)
    ours = score_matrix(counts, k1=1.5, b=0.75)
    reference = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    corpus = [[counts.vocabulary[t] for t in terms(text)] for text in texts]
    reference.index(
        bm25s.tokenization.Tokenized(ids=corpus, vocab=counts.vocabulary),
        show_progress=False,
        create_empty_token=False,
    )
    np.testing.assert_array_equal(ours.indptr, reference.scores["indptr"])
    np.testing.assert_array_equal(ours.indices, reference.scores["indices"])
    np.testing.assert_allclose(ours.data, reference.scores["data"], rtol=1e-6)


@pytest.mark.parametrize(
    ("verb", "noun"),
    [
        ("подключить", "подключение"),
        ("создать", "создание"),
        ("настроить", "настройки"),
        ("установить", "установка"),
        ("удалить", "удаленных"),
        ("использовать", "использования"),
    ],
)
def test_russian_verb_and_action_noun_share_a_term(verb: str, noun: str) -> None:
    assert terms(verb) == terms(noun)


def test_nouns_ending_like_action_nouns_keep_their_forms() -> None:
    assert terms("сотрудник") == terms("сотрудника")
    assert terms("человек") == terms("человека")


def test_plugin_registers_bm25_factory_accepting_otvet() -> None:
    registered: dict[str, RetrieverFactory] = {}
    plugin.register_retrievers(lambda name, factory: registered.setdefault(name, factory))
    assert list(registered) == ["bm25"]
    retriever = registered["bm25"](None)  # type: ignore[arg-type]
    assert isinstance(retriever, BM25Retriever)
    assert retriever.name == "bm25"


def test_the_best_matching_stored_question_comes_first_with_its_chunk_relevance() -> None:
    questions = [
        "How do I reset my password on the website?",
        "How do I reset the router?",
        "Where do I reset my password for email?",
        "How do I change my password?",
        "How do I reset my password?",
    ]
    chunks = [
        IndexedChunk(n, f"Answer number {n}.", SourceRef(f"FAQ {n}", source_id=n), "qa", q)
        for n, q in enumerate(questions)
    ] + [IndexedChunk(99, "Passwords are reset from the account page.", SourceRef("Manual", source_id=99))]
    results = BM25Retriever().build(chunks).search("how to reset my password", 5)
    assert results[0].question == "How do I reset my password?"
    assert all(0 < p.score <= 1 for p in results)
    assert results[0].score == 1.0  # every meaningful word of the question is in the chunk
