"""Question words are matched to the knowledge base's despite typos and the other alphabet."""

from __future__ import annotations

import pytest

from otvet.core.spelling import Vocabulary, allowed_edits, script, sound_key
from otvet.core.text import stem


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("telegram", "телеграм"),
        ("whatsapp", "вацап"),
        ("excel", "эксель"),
        ("zoom", "зум"),
        ("slack", "слак"),
        ("google", "гугл"),
        ("youtube", "ютуб"),
        ("netflix", "нетфликс"),
        ("python", "питон"),
        ("postgres", "постгрес"),
    ],
)
def test_a_brand_sounds_the_same_in_both_alphabets(latin: str, cyrillic: str) -> None:
    assert sound_key(latin) == sound_key(cyrillic)


def test_scripts_and_the_typos_a_word_may_hold() -> None:
    assert (script("telegram"), script("телеграм"), script("2024")) == ("latin", "cyrillic", "other")
    # Short words hold none: one edit makes another word ("cat", "car").
    assert [allowed_edits(w) for w in ("cat", "word", "password", "subscription")] == [0, 1, 1, 2]


def vocabulary(*words: str, frequency: int = 1) -> Vocabulary:
    return Vocabulary({stem(word): frequency for word in words})


def test_a_typo_finds_the_nearest_word_of_the_index() -> None:
    index = vocabulary("password", "invoice", "роутер", "подписка")
    assert index.matches(stem("pasword")) == (stem("password"),)
    assert index.matches(stem("invoce")) == (stem("invoice"),)
    assert index.matches(stem("раутер")) == (stem("роутер"),)


def test_the_other_alphabet_finds_the_brand() -> None:
    index = vocabulary("telegram", "whatsapp", "excel", "zoom")
    assert index.matches("телеграм") == ("telegram",)
    assert index.matches(stem("вотсап")) == (stem("whatsapp"),)  # one sound apart: "vot" / "vat"
    assert index.matches(stem("экселе")) == (stem("excel"),)
    assert index.matches("зум") == ("zoom",)


def test_nothing_near_enough_matches_nothing() -> None:
    index = vocabulary("password", "notification", "пояс")
    # Loose sound matches need long words: "pops" is not "пояс", whatever one edit says.
    assert index.matches("pops") == ()
    assert index.matches(stem("router")) == ()
    assert index.matches(stem("quantum")) == ()


def test_among_equally_near_words_the_commonest_wins() -> None:
    index = Vocabulary({"cart": 1, "card": 9})
    assert index.matches("carx") == ("card",)
