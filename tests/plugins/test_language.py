"""Language detection for short chat messages, Russian and English first."""

from __future__ import annotations

import sys

import pytest

from otvet.plugins.language import detect, dominant_script

RU_EN = ("en", "ru")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Как добавить обучающие данные?", "ru"),
        ("How do I connect Telegram?", "en"),
        ("ok", "en"),
        ("да", "ru"),
        ("Как подключить Telegram к боту?", "ru"),  # mixed: the Cyrillic majority decides
        ("Where is Москва?", "en"),
        ("спасибо!!!", "ru"),
        ("42", None),
        ("?!", None),
        ("", None),
        ("a", None),  # one letter is too little to go on
    ],
)
def test_detects_russian_and_english_from_short_messages(text: str, expected: str | None) -> None:
    assert detect(text, RU_EN) == expected


def test_a_script_no_offered_language_uses_gives_no_answer() -> None:
    assert detect("Γεια σου κόσμε", RU_EN) is None


def test_languages_sharing_a_script_are_told_apart_by_lingua() -> None:
    assert detect("Wie kann ich Trainingsdaten hinzufügen?", ("en", "de", "ru")) == "de"
    assert detect("How can I add training data?", ("en", "de", "ru")) == "en"
    assert detect("Як додати навчальні дані?", ("ru", "uk")) == "uk"


def test_dominant_script_counts_letters() -> None:
    assert dominant_script("ab где") == ("CYRILLIC", 3)
    assert dominant_script("123") == (None, 0)


def test_without_lingua_languages_sharing_a_script_go_by_the_users_hint(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otvet.plugins import language

    monkeypatch.setitem(sys.modules, "lingua", None)  # as if the "languages" extra were not installed
    monkeypatch.setattr(language, "_warned", False)
    language._lingua_detector.cache_clear()
    try:
        assert detect("Wie kann ich Trainingsdaten hinzufügen?", ("en", "de", "ru")) is None
        assert detect("How can I add training data?", ("en", "de", "ru")) is None
        assert detect("Как добавить данные?", ("en", "de", "ru")) == "ru"  # the script still settles it
    finally:
        language._lingua_detector.cache_clear()
    said = [r.getMessage() for r in caplog.records if "otvet[languages]" in r.getMessage()]
    assert len(said) == 1 and "en, de" in said[0], said
