"""Users' words for documentation's words: a question holding one word of a group finds the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from otvet.core.synonyms import Synonyms, load, parse
from otvet.core.text import stem


def test_groups_are_read_one_a_line_with_comments() -> None:
    assert parse("# accounts\nlog in, sign in  # as users say it\n\n инет , интернет\n") == [
        ["log in", "sign in"],
        ["инет", "интернет"],
    ]


def test_a_word_stands_for_the_others_of_its_group() -> None:
    synonyms = Synonyms([["инет", "интернет", "сеть"]])
    assert synonyms.expand("инет не работает") == {stem("инет"): {stem("интернет"), stem("сеть")}}


def test_phrases_keep_their_little_words() -> None:
    synonyms = Synonyms([["log in", "sign in"], ["sign up", "register"]])
    # "sign in" is not "sign up": the phrase is matched word for word, stopwords included.
    assert synonyms.expand("I cannot log in") == {"log": {"sign"}}
    assert synonyms.expand("how do I sign up") == {"sign": {stem("register")}}
    assert synonyms.expand("what is a log") == {}


def test_a_phrase_of_two_meaningful_words_is_never_a_target() -> None:
    synonyms = Synonyms([["аккаунт", "учётная запись"]])
    # "запись" alone means a recording: a question about an account must not look for it.
    assert synonyms.expand("удалить аккаунт") == {}
    # ...but the phrase in a question does stand for "аккаунт".
    assert synonyms.expand("учётная запись заблокирована") == {
        stem("учётная".replace("ё", "е")): {stem("аккаунт")},
        stem("запись"): {stem("аккаунт")},
    }


def test_the_built_in_groups_cover_colloquial_russian_and_brands() -> None:
    synonyms = load()
    assert stem("интернет") in synonyms.expand("инет пропал")[stem("инет")]
    assert "telegram" in synonyms.expand("где взять токен для телеги")[stem("телеги")]
    assert stem("аккаунт") in synonyms.expand("как удалить акк")[stem("акк")]


def test_a_deployments_file_adds_groups(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.txt"
    path.write_text("тикет, заявка, обращение\n", encoding="utf-8")
    assert stem("заявка") in load(path).expand("где мой тикет")[stem("тикет")]


def test_an_unreadable_file_is_named_with_its_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"OTVET_RETRIEVAL__SYNONYMS_FILE .*missing\.txt"):
        load(tmp_path / "missing.txt")
