"""Text analysis: stemmed terms, what a search looks for in a question, and questions pasted with markup."""

from __future__ import annotations

import pytest

from otvet.core.text import plain, query_terms, terms


def test_question_words_are_not_searched_for() -> None:
    # "кем", "какова", "сколько" are in nearly every question and no document is about them.
    assert query_terms("Кем и какова была численность армии?") == terms("численность армии")
    assert query_terms("How many people would attend?") == terms("people attend")


def test_chatter_is_not_searched_for_but_still_counts_as_words() -> None:
    assert query_terms("hi, could you please tell me how to export notes") == terms("export notes")
    assert query_terms("Привет, подскажите пожалуйста, как выгрузить заметки") == terms("выгрузить заметки")
    assert "hi" in terms("hi")  # a greeting is still a greeting (llm_extractive's small talk)


@pytest.mark.parametrize(
    ("pasted", "read"),
    [
        ("<b>what is Otvet?</b>", "what is Otvet?"),
        ("**pricing** &amp; _plans_", "pricing plans"),
        ('<a href="https://example.com">link</a> text', "link text"),
        ("a < b and c > d", "a < b and c > d"),
        ("set OTVET_TELEGRAM__TOKEN", "set OTVET_TELEGRAM__TOKEN"),
        ("plain question", "plain question"),
    ],
)
def test_markup_is_read_as_the_text_it_marks(pasted: str, read: str) -> None:
    assert plain(pasted) == read
