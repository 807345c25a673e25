"""Property-based tests of language detection (plugins/language.py): the script first, lingua within one.

On any Unicode (lone surrogates, combining marks, right-to-left text, emoji, control characters) detection
never raises, always answers one of the offered languages or None (the documented fallback: the caller then
uses the client's hint or the default language), and answers the same every time. Russian sentences are
``ru`` and English ones ``en``, also with a few words of the other script mixed in.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from otvet.core.app import Otvet
from otvet.plugins.language import MIN_LETTERS, detect, detect_language
from tests.conftest import make_settings
from tests.security.fuzzing import FUZZ_TIMEOUT, WORDS, hostile_text, sentences

pytestmark = FUZZ_TIMEOUT

offered = st.sampled_from([("en", "ru"), ("ru",), ("en", "de", "ru"), ("en", "uk", "ru"), ("he", "ar", "zh")])


def _letters(text: str, first: str, last: str) -> int:
    return sum(first <= char <= last for char in text.lower().replace("ё", "е"))


@pytest.fixture(scope="module")
def otvet(tmp_path_factory: pytest.TempPathFactory) -> Otvet:
    return Otvet(make_settings(tmp_path_factory.mktemp("language")))


@given(text=hostile_text(300), languages=offered)
@example(text="\ud800\udfff", languages=("en", "ru"))
@example(text="\u0301\u0301ab", languages=("en", "de", "ru"))
@example(text="\u202eпривет\u202c hello", languages=("en", "uk", "ru"))
def test_detection_never_raises_and_answers_an_offered_language(
    text: str, languages: tuple[str, ...]
) -> None:
    found = detect(text, languages)
    assert found is None or found in languages
    assert detect(text, languages) == found


@given(
    text=hostile_text(200), hint=st.none() | st.sampled_from(["ru", "en-US", "de", "", "\x00", "ru;q=nan"])
)
def test_the_hook_falls_back_to_the_hint_then_none(otvet: Otvet, text: str, hint: str | None) -> None:
    found = detect_language(text, hint, otvet.i18n.languages, otvet)
    assert found is None or found in otvet.i18n.languages


# "С." alone is too few letters to go on: the hint decides then, as documented.
@given(
    text=sentences("ru").filter(lambda t: sum(c.isalpha() for c in t) >= MIN_LETTERS),
    english=st.lists(st.sampled_from(WORDS["en"]), max_size=2),
)
def test_russian_sentences_are_russian(text: str, english: list[str]) -> None:
    mixed = " ".join([text, *english])  # "Как подключить telegram?": a few Latin words do not change it
    assume(_letters(mixed, "а", "я") > _letters(mixed, "a", "z"))
    assert detect(mixed, ("en", "ru")) == "ru"


@given(
    text=sentences("en").filter(lambda t: sum(c.isalpha() for c in t) >= MIN_LETTERS),
    russian=st.lists(st.sampled_from(WORDS["ru"]), max_size=1),
)
def test_english_sentences_are_english(text: str, russian: list[str]) -> None:
    mixed = " ".join([text, *russian])
    assume(_letters(mixed, "a", "z") > _letters(mixed, "а", "я"))
    assert detect(mixed, ("en", "ru")) == "en"
